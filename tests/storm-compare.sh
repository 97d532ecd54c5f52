#!/usr/bin/env bash
# Two builds side by side under the racing storm: ROUNDS times, RUNS storms
# (tests/storm-converge.sh) with build A, then RUNS with build B, so that
# both see the same load, hour and neighbours (the rate on this machine
# varies by several points from one hour to the next: compare only runs
# interleaved like this).  Prints each batch, the differences seen, and the
# totals.  Not a test; run two at once for a loaded machine.
#
#   tests/storm-compare.sh BUILD_A BUILD_B [ROUNDS] [RUNS] [STORM ARGS...]
#   tests/storm-compare.sh /tmp/base/build build 5 10 -p 4
#
# Build A at another commit: git worktree add /tmp/base REV, then
# meson setup /tmp/base/build and ninja there.
set -u
here=$(cd "$(dirname "$0")" && pwd)
a=${1:?usage: storm-compare.sh BUILD_A BUILD_B [ROUNDS] [RUNS] [STORM ARGS...]}
b=${2:?usage: storm-compare.sh BUILD_A BUILD_B [ROUNDS] [RUNS] [STORM ARGS...]}
rounds=${3:-5}
runs=${4:-10}
shift $(($# < 4 ? $# : 4))
[ $# -gt 0 ] || set -- -p 4
declare -A ok=([A]=0 [B]=0) n=([A]=0 [B]=0)
for _ in $(seq "$rounds"); do
        for side in A B; do
                build=$a
                [ "$side" = B ] && build=$b
                out=$("$here/storm-converge.sh" "$build" "$runs" "$@" 2>&1 | grep -v '^storm:')
                bad=$(printf '%s\n' "$out" | grep -c '^seed')
                ok[$side]=$((ok[$side] + runs - bad))
                n[$side]=$((n[$side] + runs))
                echo "$side $((runs - bad))/$runs"
                printf '%s\n' "$out" | grep '^seed' | sed "s/^/  $side: /" | cut -c1-200
        done
done
echo "total: A ($a) ${ok[A]}/${n[A]}, B ($b) ${ok[B]}/${n[B]}"
