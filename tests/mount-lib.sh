# Shared by the shell tests that mount mirrorfs (sourced).  Everything a
# test mounts or starts is recorded and undone by mfs_cleanup, which the
# caller runs from an EXIT trap: a failing test never leaves a mount or a
# daemon behind, and only processes this test started are killed.
#
#   . tests/mount-lib.sh
#   mfs_init BUILDDIR          # skips (exit 77) without root or /dev/fuse
#   trap mfs_cleanup EXIT
#   mfs_mount SRC MNT OPTS     # mirrorfs -f in the background; $MFS_PID
#   mfs_umount MNT
#
# TAP helpers: ok, not_ok, check DESCRIPTION COMMAND..., tap_done.

MFS_MOUNTS=()
MFS_PIDS=()
MFS_TMP=
tap_n=0
tap_fail=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $*"; }
# check DESCRIPTION COMMAND...: quiet unless it fails
check() {
        local what=$1 out
        shift
        if out=$("$@" 2>&1); then
                ok "$what"
        else
                not_ok "$what"
                printf '%s\n' "$out" | head -n 30 | sed 's/^/# /'
        fi
}
tap_done() {
        echo "1..$tap_n"
        [ "$tap_fail" -eq 0 ]
}

mfs_init() {
        MFS_BUILD=$(cd "$1" && pwd)
        MFS_BIN=$MFS_BUILD/fs/mirrorfs
        MFS_JOURNAL_TOOL=$MFS_BUILD/tools/mirrorfs-journal
        if [ "$(id -u)" -ne 0 ]; then
                echo "1..0 # SKIP needs root (mounts with allow_other, test users)"
                exit 77
        fi
        if [ ! -c /dev/fuse ]; then
                echo "1..0 # SKIP no /dev/fuse on this machine"
                exit 77
        fi
        MFS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mirrorfs-test-XXXXXX")
}

# mfs_mount SRC MNT OPTS [EXTRA ARGS]: start mirrorfs in the foreground
# (background job), wait until the mount is there.  Sets MFS_PID.
mfs_mount() {
        local src=$1 mnt=$2 opts=$3 i real dev
        shift 3
        "$MFS_BIN" "$src" "$mnt" -f -o "$opts" "$@" >>"$MFS_TMP/daemon.log" 2>&1 &
        MFS_PID=$!
        MFS_PIDS+=("$MFS_PID")
        MFS_MOUNTS+=("$mnt")
        real=$(realpath "$mnt")
        for i in $(seq 200); do
                # Listed, and then a stat that reaches the new mount: the
                # kernel holds it until the daemon has answered INIT, and
                # the daemon serves only once it is all up (control socket
                # included).  `mountpoint -q` alone is not enough: its stat
                # may come before the mount, its look at mountinfo after.
                if grep -q " $real fuse.mirrorfs " /proc/mounts && dev=$(stat -c %d "$real" 2>/dev/null) &&
                    [ "$dev" != "$(stat -c %d "$(dirname "$real")")" ]; then
                        return 0
                fi
                if ! kill -0 "$MFS_PID" 2>/dev/null; then
                        echo "# mirrorfs exited while mounting:"
                        tail -n 5 "$MFS_TMP/daemon.log" | sed 's/^/# /'
                        return 1
                fi
                sleep 0.05
        done
        echo "# mirrorfs did not mount $mnt within 10 s"
        return 1
}

# mfs_wrapper DIR PREFIX: a script DIR/mirrorfs that runs the daemon after
# the shell words PREFIX (an environment, a ulimit); prints its path, for
# MFS_BIN.
mfs_wrapper() {
        printf '#!/bin/sh\n%s exec "%s" "$@"\n' "$2" "$MFS_BIN" >"$1/mirrorfs"
        chmod 755 "$1/mirrorfs"
        echo "$1/mirrorfs"
}

# mfs_umount MNT: unmount and wait for the daemon to finish.
mfs_umount() {
        local mnt=$1 pid=${2:-$MFS_PID} i
        umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
        for i in $(seq 200); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.05
        done
        echo "# mirrorfs (pid $pid) still running 10 s after unmount"
        return 1
}

mfs_cleanup() {
        local m p
        for m in "${MFS_MOUNTS[@]}"; do
                if mountpoint -q "$m" 2>/dev/null; then
                        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
                fi
        done
        for p in "${MFS_PIDS[@]}"; do
                kill "$p" 2>/dev/null || true
        done
        sleep 0.2
        for p in "${MFS_PIDS[@]}"; do
                kill -9 "$p" 2>/dev/null || true
        done
        if [ -n "$MFS_TMP" ] && [ -n "${MFS_KEEP:-}" ]; then
                echo "# kept (MFS_KEEP): $MFS_TMP"
        elif [ -n "$MFS_TMP" ]; then
                # Test users may have left directories without write permission.
                chmod -R u+rwX "$MFS_TMP" 2>/dev/null || true
                rm -rf "$MFS_TMP"
        fi
}

# mfs_status_field SOCKET KEY: a field of the daemon's status (JSON).
mfs_status_field() {
        "$MFS_BUILD/tools/mirrorfsctl" --socket "$1" status --json |
                python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

# mfs_check_clean SOCKET: the replicator's check of touched directories ran
# and found nothing to repair (any repair is a bug of the planning: the
# workloads' own tests must not pass on the check's repairs).
mfs_check_clean() {
        local dirs repairs
        dirs=$(mfs_status_field "$1" check_dirs) && repairs=$(mfs_status_field "$1" check_repairs) || return 1
        [ "$repairs" = 0 ] && [ "$dirs" -gt 0 ] && return 0
        echo "# the check compared $dirs directories and repaired $repairs entries"
        return 1
}

# mfs_records JOURNAL: the journal as "TYPE PATH [-> PATH2]" lines.
mfs_records() {
        "$MFS_JOURNAL_TOOL" dump "$1" --json | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    p = r["path"] if isinstance(r["path"], str) else bytes(r["path"]).decode("latin-1")
    q = r["path2"] if isinstance(r["path2"], str) else bytes(r["path2"]).decode("latin-1")
    print(r["type"], p + (" -> " + q if q else ""))
'
}
