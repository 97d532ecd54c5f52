#!/usr/bin/env bash
# The crash matrix: kill -9 at seeded random points while a workload runs
# through the mount, restart on the same journal, drain: the target must
# equal the source as it stands (tests/treecmp.py: contents, types, modes,
# owners, ns times, symlinks, hard links, xattrs, directory times).  Point k
# kills, in turn:
#
#   mount     the mount daemon (replicator embedded)
#   replica   a standalone mirrorfs-replicator, the mount journal-only
#   both      the mount daemon and the standalone replicator at once; the
#             recovery is also drained by `mirrorfs-replicator --once` on
#             copies of the target and journal
#   cut       the mount daemon, then the journal's last N bytes are cut
#             (a power loss): the journal recovers, the mirror takes the
#             changes that follow; what the cut lost is reported, not
#             compared
#
# The workload (CRASH_WORKLOAD):
#
#   files     tests/crash-workload.sh: what jobs do (tar over tar, appends,
#             save by rename, directories renamed and removed, hard links,
#             symlinks, modes, times); the default
#   storm     tests/storm.c by 3 processes: every operation at random, races
#             between them included
#
# Every point starts from fresh trees; the workload runs until the kill and
# is then killed itself (its processes see ENOTCONN from the dead mount).
# TAP.
#
#   tests/test-crash.sh BUILDDIR [POINTS] [SEED]
#   CRASH_POINTS=200 CRASH_SEED=$RANDOM tests/test-crash.sh build   (long mode)
#   CRASH_WORKLOAD=storm tests/test-crash.sh build
#
# A failing point prints its seed and kind: rerun it alone with
# CRASH_ONLY=K (MFS_KEEP=1 keeps the trees and the journal; CRASH_OPTS
# adds mount options, e.g. retention=1d to keep the journal's history).
#
# The files workload runs in CI (meson suite 'e2e').  Known limit, why the storm
# workload is in meson's suite 'long', not in the default run: about one
# point in fifty differs (seeds 1-3: 71/72, then 70/72, 72/72, 70/72; the
# storm races itself, tests/test-e2e.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: test-crash.sh BUILDDIR [POINTS] [SEED]}"
points=${2:-${CRASH_POINTS:-24}}
seed=${3:-${CRASH_SEED:-1}}
trap 'crash_cleanup; mfs_cleanup' EXIT
T=$MFS_TMP
REPL=$MFS_BUILD/tools/mirrorfs-replicator
CTL=$MFS_BUILD/tools/mirrorfsctl
STORM=$MFS_BUILD/tests/storm
REPL_PIDS=()
STORM_PGID=

workload=${CRASH_WORKLOAD:-files}
case $workload in
files | storm) ;;
*) echo "test-crash.sh: CRASH_WORKLOAD is files or storm, not '$workload'" >&2; exit 2 ;;
esac
echo "# crash matrix: $points points, $workload workload, seed $seed (CRASH_POINTS, CRASH_WORKLOAD, CRASH_SEED; one point: CRASH_ONLY=K)"
RANDOM=$seed

crash_cleanup() {
        local p
        [ -n "$STORM_PGID" ] && kill -9 -- "-$STORM_PGID" 2>/dev/null
        for p in "${REPL_PIDS[@]}"; do
                kill -9 "$p" 2>/dev/null
        done
        return 0
}

# The workload through MNT/work in its own process group, in the background.
storm_start() {     # MNT SEED
        mkdir -p "$1/work" 2>/dev/null
        if [ "$workload" = storm ]; then
                setsid "$STORM" -s "$2" -p 3 -n 1000000 -d "$1/work" -u 1000 -u 4242 >/dev/null 2>&1 &
        else
                setsid "$here/crash-workload.sh" "$1/work" "$2" >/dev/null 2>&1 &
        fi
        STORM_PGID=$!
}
storm_kill() {
        [ -n "$STORM_PGID" ] && kill -9 -- "-$STORM_PGID" 2>/dev/null
        wait "$STORM_PGID" 2>/dev/null
        STORM_PGID=
}

# A dead FUSE mount (daemon killed) must be detached before a new mount.
dead_umount() {
        umount "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
}

repl_start() {      # SRC TGT JOURNAL SOCKET
        rm -f "$4"      # a killed one's (the new one would replace it anyway)
        "$REPL" --journal "$3" --source "$1" --target "$2" --socket "$4" -q >>"$T/repl.log" 2>&1 &
        REPL_PID=$!
        REPL_PIDS+=("$REPL_PID")
        for _ in $(seq 100); do
                [ -S "$4" ] && return 0
                sleep 0.05
        done
        echo "# replicator did not listen on $4"
        return 1
}

# Milliseconds to let the workload run before the kill: 150..2150.
delay() {
        local ms=$((150 + RANDOM % 2000))
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# After the restart: everything journaled is applied (sync through the
# socket), then the drained trees are compared.
settle_and_compare() {     # WHAT SRC TGT SOCKET
        local what=$1 out
        if ! out=$("$CTL" --socket "$4" sync --timeout 120 2>&1); then
                not_ok "$what: sync after the restart: $out"
                # what the daemons said (a crash after the restart shows here)
                kill -0 "$MFS_PID" 2>/dev/null || echo "# the mount daemon (pid $MFS_PID) is not running"
                tail -n 5 "$T/daemon.log" 2>/dev/null | sed 's/^/# daemon.log: /'
                tail -n 5 "$T/repl.log" 2>/dev/null | sed 's/^/# repl.log: /'
                "$CTL" --socket "$4" dead-letters 2>&1 | head -n 10 | sed 's/^/# /'
                "$CTL" --socket "$4" status 2>&1 | sed 's/^/# /'
                "$CTL" --socket "$4" status --json 2>&1 | sed 's/^/# /'
                return 1
        fi
        check "$what: the target equals the source" python3 "$here/treecmp.py" "$2" "$3"
}

# A `mirrorfs-replicator --once` on copies of DIR/tgt and DIR/j converges to DIR/src.
once_drain() {      # WHAT DIR
        local what=$1 d=$2 rc=0
        cp -a "$d/tgt" "$d/tgt.once" && cp -a "$d/j" "$d/j.once" && rm -f "$d/j.once"/*.lock || {
                not_ok "$what: copies for --once"
                return
        }
        timeout 120 "$REPL" --journal "$d/j.once" --source "$d/src" --target "$d/tgt.once" --once -q \
                >>"$T/repl.log" 2>&1 || rc=$?
        check "$what: a --once drain of the same converges too (exit $rc)" \
                bash -c "[ $rc -eq 0 ] && python3 '$here/treecmp.py' '$d/src' '$d/tgt.once'"
        rm -rf "$d/tgt.once" "$d/j.once"
}

point_mount() {     # K
        local k=$1 d=$T/p$1 s=$((seed * 1000 + k))
        mkdir -p "$d/src" "$d/mnt" "$d/tgt"
        if ! mfs_mount "$d/src" "$d/mnt" "journal=$d/j,target=$d/tgt,socket=$d/sock${CRASH_OPTS:+,$CRASH_OPTS}"; then
                not_ok "point $k (mount, seed $s): mount"
                return
        fi
        storm_start "$d/mnt" "$s"
        delay
        kill -9 "$MFS_PID"
        storm_kill
        wait "$MFS_PID" 2>/dev/null
        dead_umount "$d/mnt"
        if ! mfs_mount "$d/src" "$d/mnt" "journal=$d/j,target=$d/tgt,socket=$d/sock${CRASH_OPTS:+,$CRASH_OPTS}"; then
                not_ok "point $k (mount, seed $s): restart on the same journal"
                return
        fi
        settle_and_compare "point $k (mount killed, seed $s)" "$d/src" "$d/tgt" "$d/sock"
        mfs_umount "$d/mnt"
        [ -n "${MFS_KEEP:-}" ] || rm -rf "$d"
}

point_replica() {   # K BOTH
        local k=$1 both=$2 d=$T/p$1 s=$((seed * 1000 + k)) kind=replica
        [ "$both" = yes ] && kind=both
        mkdir -p "$d/src" "$d/mnt" "$d/tgt"
        if ! mfs_mount "$d/src" "$d/mnt" "journal=$d/j,replicate=off,socket=$d/msock"; then
                not_ok "point $k ($kind, seed $s): mount"
                return
        fi
        repl_start "$d/src" "$d/tgt" "$d/j" "$d/rsock" || { not_ok "point $k: replicator start"; return; }
        storm_start "$d/mnt" "$s"
        delay
        kill -9 "$REPL_PID"
        [ "$both" = yes ] && kill -9 "$MFS_PID"
        if [ "$both" = yes ]; then
                storm_kill
                wait "$MFS_PID" 2>/dev/null
                dead_umount "$d/mnt"
                if ! mfs_mount "$d/src" "$d/mnt" "journal=$d/j,replicate=off,socket=$d/msock"; then
                        not_ok "point $k ($kind, seed $s): restart the mount"
                        return
                fi
        fi
        wait "$REPL_PID" 2>/dev/null
        if [ "$both" = yes ]; then
                # The source is still now: the same recovery by a --once drain,
                # on copies of the target and journal as the kill left them.
                once_drain "point $k (both killed, seed $s)" "$d"
        fi
        repl_start "$d/src" "$d/tgt" "$d/j" "$d/rsock" || { not_ok "point $k: replicator restart"; return; }
        if [ "$both" != yes ]; then
                # the storm goes on against the restarted replicator a while
                delay
                storm_kill
        fi
        settle_and_compare "point $k ($kind killed, seed $s)" "$d/src" "$d/tgt" "$d/rsock"
        mfs_umount "$d/mnt"
        kill "$REPL_PID" 2>/dev/null
        wait "$REPL_PID" 2>/dev/null
        [ -n "${MFS_KEEP:-}" ] || rm -rf "$d"
}

point_cut() {       # K
        local k=$1 d=$T/p$1 s=$((seed * 1000 + k)) seg size cut
        mkdir -p "$d/src" "$d/mnt" "$d/tgt"
        if ! mfs_mount "$d/src" "$d/mnt" "journal=$d/j,target=$d/tgt,socket=$d/sock${CRASH_OPTS:+,$CRASH_OPTS}"; then
                not_ok "point $k (cut, seed $s): mount"
                return
        fi
        storm_start "$d/mnt" "$s"
        delay
        kill -9 "$MFS_PID"
        storm_kill
        wait "$MFS_PID" 2>/dev/null
        dead_umount "$d/mnt"
        seg=$(ls "$d/j"/*.seg | tail -n 1)
        size=$(stat -c %s "$seg")
        cut=$((1 + RANDOM % 4096))
        [ "$cut" -gt $((size - 64)) ] && cut=$((size - 64))
        truncate -s $((size - cut)) "$seg"
        if ! mfs_mount "$d/src" "$d/mnt" "journal=$d/j,target=$d/tgt,socket=$d/sock${CRASH_OPTS:+,$CRASH_OPTS}"; then
                not_ok "point $k (cut $cut bytes, seed $s): restart after the cut"
                return
        fi
        # what follows the cut is mirrored as usual
        mkdir -p "$d/mnt/after"
        echo "after the cut" >"$d/mnt/after/f"
        if "$CTL" --socket "$d/sock" sync --timeout 120 >/dev/null 2>&1; then
                check "point $k (cut $cut bytes, seed $s): changes after the cut are mirrored" \
                        cmp "$d/src/after/f" "$d/tgt/after/f"
        else
                not_ok "point $k (cut $cut bytes, seed $s): sync after the restart"
        fi
        mfs_umount "$d/mnt"
        check "point $k (cut $cut bytes): the journal checks clean after recovery" "$MFS_JOURNAL_TOOL" check "$d/j"
        [ -n "${MFS_KEEP:-}" ] || rm -rf "$d"
}

kinds=(mount replica both cut)
for k in $(seq 0 $((points - 1))); do
        kind=${kinds[$((k % 4))]}
        if [ -n "${CRASH_ONLY:-}" ] && [ "$CRASH_ONLY" != "$k" ]; then
                # keep the random draws of the other points
                RANDOM=$((seed + k + 1))
                continue
        fi
        case $kind in
        mount) point_mount "$k" ;;
        replica) point_replica "$k" no ;;
        both) point_replica "$k" yes ;;
        cut) point_cut "$k" ;;
        esac
        RANDOM=$((seed + k + 1))
done
tap_done
