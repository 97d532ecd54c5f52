#!/usr/bin/env bash
# Storms until one leaves a difference: each run mounts a fresh tree,
# runs tests/storm.c through it, waits for `mirrorfsctl sync` and compares
# the whole target with the source (tests/treecmp.py).  Prints one line per
# failing seed and a count, and one per seed whose differences the
# replicator's check of touched directories found and repaired (each a
# planning bug the check covered, with what differed); not a test (CI runs the fixed seed in
# tests/test-e2e.sh), a tool to find and replay divergences.
#
#   tests/storm-converge.sh BUILDDIR RUNS [STORM ARGS...]
#   tests/storm-converge.sh build 20 -p 4          (4 racing processes)
#   tests/storm-converge.sh build 100 -p 4 -k create,link,symlink,exchange,unlink
#                                                  (only those kinds: storm -k)
#   SEED=29681 tests/storm-converge.sh build 1 -p 1 -v >ops.txt   (replay one, every operation)
#
# MFS_KEEP=1 keeps the trees and journals of every run, MFS_KEEP=failed
# those of the runs that left a difference.  MOUNT_OPTS=check=off (more -o
# options) measures the planning without the check.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: storm-converge.sh BUILDDIR RUNS [STORM ARGS...]}"
runs=${2:?usage: storm-converge.sh BUILDDIR RUNS [STORM ARGS...]}
shift 2
trap mfs_cleanup EXIT
failed=0
repaired=0
for i in $(seq 1 "$runs"); do
        d=$MFS_TMP/r$i
        seed=${SEED:-$RANDOM}
        mkdir -p "$d/src" "$d/mnt" "$d/tgt"
        if ! mfs_mount "$d/src" "$d/mnt" "journal=$d/j,target=$d/tgt,socket=$d/sock,allow_other${MOUNT_OPTS:+,$MOUNT_OPTS}"; then
                echo "run $i: mount failed"
                failed=$((failed + 1))
                continue
        fi
        log_lines=$(wc -l <"$MFS_TMP/daemon.log")
        (cd "$d/mnt" && "$MFS_BUILD/tests/storm" -s "$seed" -n 2000 -d . -u 1000 -u 4242 -u 65534 "$@")
        if ! "$MFS_BUILD/tools/mirrorfsctl" --socket "$d/sock" sync --timeout 120 >/dev/null 2>&1; then
                echo "seed $seed: sync timed out"
                failed=$((failed + 1))
        elif ! out=$(python3 "$here/treecmp.py" "$d/src" "$d/tgt" 2>&1); then
                echo "seed $seed: $(echo "$out" | head -n 3 | tr '\n' ' ')"
                failed=$((failed + 1))
        fi
        n=$(mfs_status_field "$d/sock" check_repairs 2>/dev/null)
        if [ "${n:-0}" != 0 ]; then
                echo "seed $seed: the check repaired $n entries:"
                tail -n +"$((log_lines + 1))" "$MFS_TMP/daemon.log" | grep 'replicator check' | head -n 5 | sed 's/^/  /'
                repaired=$((repaired + 1))
        fi
        ok=$([ "$failed" -eq "${failed_before:-0}" ] && [ "${n:-0}" = 0 ] && echo yes)
        failed_before=$failed
        mfs_umount "$d/mnt" >/dev/null
        case ${MFS_KEEP:-} in
        "") rm -rf "$d" ;;
        failed) [ -z "$ok" ] && echo "  kept: $d" || rm -rf "$d" ;;
        esac
done
echo "$failed of $runs runs left a difference; in $repaired the check repaired differences"
[ "$failed" -eq 0 ]
