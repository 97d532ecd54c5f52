# Shared helpers for the benchmarks (sourced).  A fresh loop-mounted ext4
# per run: the machine's root file system has no journal and slows down on
# repeated create/delete cycles, so numbers from it mislead.

# bench_loopfs VAR NAME SIZE [MKFS OPTION...]: make and mount a fresh ext4
# on a loop device; its mount point goes into variable VAR (not printed: a
# command substitution would run in a subshell and bench_cleanup would not
# know of the mount).  bench_cleanup unmounts everything made.
BENCH_MOUNTS=()
BENCH_IMAGES=()
bench_loopfs() {
        local var=$1 name=$2 size=$3 img mnt
        shift 3
        img=$(mktemp "${BENCH_IMAGE_DIR:-/var/tmp}/mirrorfs-bench-$name-XXXXXX.img")
        mnt=$(mktemp -d "/tmp/mirrorfs-bench-$name-XXXXXX")
        truncate -s "$size" "$img"
        mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$@" "$img"
        mount -o loop "$img" "$mnt"
        BENCH_MOUNTS+=("$mnt")
        BENCH_IMAGES+=("$img")
        printf -v "$var" '%s' "$mnt"
}
# bench_tmpfs VAR SIZE
bench_tmpfs() {
        local var=$1 mnt
        mnt=$(mktemp -d "/tmp/mirrorfs-bench-tmpfs-XXXXXX")
        mount -t tmpfs -o size="$2" tmpfs "$mnt"
        BENCH_MOUNTS+=("$mnt")
        printf -v "$var" '%s' "$mnt"
}

# bench_fuse_mount MNT LOG COMMAND...: start a FUSE daemon that stays in the
# foreground (mirrorfs -f, passthrough_hp --foreground) as a background job,
# its output appended to LOG, and wait until MNT is a FUSE mount.  Its pid
# goes into BENCH_PID.  The daemon ignores SIGINT (a background job of a
# script), so a Ctrl-C reaches the script's trap, which unmounts first.
BENCH_FUSE_MNTS=()
BENCH_FUSE_PIDS=()
bench_fuse_mount() {
        local mnt=$1 log=$2 i
        shift 2
        "$@" >>"$log" 2>&1 &
        BENCH_PID=$!
        BENCH_FUSE_MNTS+=("$mnt")
        BENCH_FUSE_PIDS+=("$BENCH_PID")
        for ((i = 0; i < 200; i++)); do
                case $(findmnt -rn -o FSTYPE --mountpoint "$mnt" 2>/dev/null) in
                fuse*) return 0 ;;
                esac
                if ! kill -0 "$BENCH_PID" 2>/dev/null; then
                        echo "bench: '$1' exited before mounting $mnt:" >&2
                        tail -n 5 "$log" >&2
                        return 1
                fi
                sleep 0.05
        done
        echo "bench: '$1' did not mount $mnt within 10 s" >&2
        return 1
}
# bench_fuse_umount MNT PID: unmount and wait (up to 30 s) for the daemon to
# exit, as the mount's state is only final then (mirrorfs: the journal).
bench_fuse_umount() {
        local mnt=$1 pid=$2 i
        umount "$mnt" || return 1
        for ((i = 0; i < 600; i++)); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.05
        done
        echo "bench: daemon $pid still running 30 s after unmounting $mnt" >&2
        return 1
}
# Ends only daemons this script started: by pid, and only while the pid
# still runs the program started (not a pid reused since).
bench_kill_daemon() {
        local pid=$1 exe=$2 i
        for ((i = 0; i < 100; i++)); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.05
        done
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 0
        kill "$pid" 2>/dev/null
        sleep 1
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] && kill -9 "$pid" 2>/dev/null
        return 0
}
# bench_mirrorfs VAR BUILDDIR DIR: copy BUILDDIR's mirrorfs into DIR and put
# the copy's path into VAR, so a rebuild while the benchmark runs cannot
# mix two versions in one run; prints which build it is.
bench_mirrorfs() {
        local var=$1 build=$2 dir=$3 top
        top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
        if [ ! -x "$build/fs/mirrorfs" ]; then
                echo "bench: no $build/fs/mirrorfs: build first (ninja -C $build)" >&2
                exit 1
        fi
        cp "$build/fs/mirrorfs" "$dir/mirrorfs"
        if [ -x "$build/tools/mirrorfsctl" ]; then
                cp "$build/tools/mirrorfsctl" "$dir/mirrorfsctl"      # its status client
        fi
        echo "mirrorfs: $build/fs/mirrorfs built $(date -r "$build/fs/mirrorfs" '+%F %T')," \
                "sha256 $(sha256sum "$dir/mirrorfs" | cut -c1-12), git $(git -C "$top" log -1 --format=%h 2>/dev/null)" \
                "with $(git -C "$top" status --porcelain 2>/dev/null | wc -l) paths changed; run from a copy"
        printf -v "$var" '%s' "$dir/mirrorfs"
}
bench_need_fuse() {
        if [ ! -c /dev/fuse ]; then
                echo "bench: needs /dev/fuse" >&2
                exit 77
        fi
}

# ---- FUSE requests counted by the kernel ----
# The fuse module's tracepoints (fuse_request_send, in recent kernels)
# through tracefs.  bench_fuse_trace_ok: true when they can be used (root, tracefs
# mounted, the events there and not enabled by someone else).
BENCH_TRACE=/sys/kernel/tracing
BENCH_TRACE_KB=
bench_fuse_trace_ok() {
        local ev=$BENCH_TRACE/events/fuse/fuse_request_send
        [ -w "$ev/enable" ] && [ "$(cat "$ev/enable")" = 0 ] && [ -w "$BENCH_TRACE/buffer_size_kb" ]
}
# bench_fuse_count MNT OUT CMD...: run CMD with the requests of MNT's
# connection traced; OUT gets one "OPCODE COUNT" line per kind of request
# (FUSE_LOOKUP 10000), and "LOST N" when the trace buffer overflowed.
bench_fuse_count() {
        local mnt=$1 out=$2 ev=$BENCH_TRACE/events/fuse/fuse_request_send minor r=0
        shift 2
        minor=$(mountpoint -d "$mnt" | cut -d: -f2)
        if [ -z "$BENCH_TRACE_KB" ]; then
                BENCH_TRACE_KB=$(cat "$BENCH_TRACE/buffer_size_kb")
                echo 32768 >"$BENCH_TRACE/buffer_size_kb"    # per CPU: a tar extraction is about 100,000 events
        fi
        echo "connection == $minor" >"$ev/filter"
        : >"$BENCH_TRACE/trace"
        echo 1 >"$ev/enable"
        "$@" || r=$?
        echo 0 >"$ev/enable"
        echo 0 >"$ev/filter"
        grep -o 'opcode [0-9]* ([A-Z_0-9]*)' "$BENCH_TRACE/trace" | tr -d '()' | awk '{ print $3 }' |
                sort | uniq -c | awk '{ print $2, $1 }' >"$out"
        cat "$BENCH_TRACE"/per_cpu/cpu*/stats | awk '/^overrun:/ { n += $2 } END { if (n) print "LOST", n }' >>"$out"
        : >"$BENCH_TRACE/trace"
        return $r
}
bench_fuse_trace_restore() {
        if [ -n "$BENCH_TRACE_KB" ]; then
                echo 0 >"$BENCH_TRACE/events/fuse/fuse_request_send/enable"
                echo 0 >"$BENCH_TRACE/events/fuse/fuse_request_send/filter"
                echo "$BENCH_TRACE_KB" >"$BENCH_TRACE/buffer_size_kb"
                BENCH_TRACE_KB=
        fi
}

# Unmounts FUSE mounts first (their daemons hold the file systems below),
# then everything else, newest first.  Safe to run twice.
bench_cleanup() {
        local - m i exe
        set +e
        bench_fuse_trace_restore 2>/dev/null
        for ((i = ${#BENCH_FUSE_MNTS[@]} - 1; i >= 0; i--)); do
                m=${BENCH_FUSE_MNTS[$i]}
                exe=$(readlink "/proc/${BENCH_FUSE_PIDS[$i]}/exe" 2>/dev/null)
                if findmnt -rn --mountpoint "$m" >/dev/null 2>&1; then
                        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
                fi
                [ -n "$exe" ] && bench_kill_daemon "${BENCH_FUSE_PIDS[$i]}" "$exe"
        done
        BENCH_FUSE_MNTS=()
        BENCH_FUSE_PIDS=()
        for ((i = ${#BENCH_MOUNTS[@]} - 1; i >= 0; i--)); do
                m=${BENCH_MOUNTS[$i]}
                umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
                rmdir "$m" 2>/dev/null
        done
        for i in "${BENCH_IMAGES[@]}"; do rm -f "$i"; done
        BENCH_MOUNTS=()
        BENCH_IMAGES=()
        for i in "${BENCH_TMPDIRS[@]}"; do rm -rf --one-file-system "$i"; done
        BENCH_TMPDIRS=()
}
# bench_tmpdir VAR: a temporary directory (on the root fs) removed by bench_cleanup.
BENCH_TMPDIRS=()
bench_tmpdir() {
        local d
        d=$(mktemp -d /tmp/mirrorfs-bench-XXXXXX)
        BENCH_TMPDIRS+=("$d")
        printf -v "$1" '%s' "$d"
}
bench_need_root() {
        if [ "$(id -u)" -ne 0 ]; then
                echo "bench: needs root (loop mounts)" >&2
                exit 77
        fi
}
