#!/usr/bin/env bash
# mirrorfs-journal against clean and damaged journals: exact results on a
# clean one; on damaged ones (bytes flipped, segments cut, deleted, filled
# with garbage: seeded, reproducible) check and dump must end with exit 0
# or 1, never crash (>= 128), never hang (timeout), never print a usage
# error.  TAP output.
set -u

tool=${1:?usage: test-journal-tool.sh MIRRORFS_JOURNAL}
work=$(mktemp -d "${TMPDIR:-/tmp}/mirrorfs-tool-test-XXXXXX")
tailpid=
cleanup() {
        [ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi; }

j=$work/journal
"$tool" bench --dir "$j" --records 5000 --threads 4 --durability none --segment-size 16384 >/dev/null
check "bench leaves a valid journal" "$tool" check "$j"
check "check says clean" bash -c "'$tool' check '$j' | tail -n 1 | grep -q '^5000 records, head seq 5000, 0 problems'"
check "dump prints one line per record" bash -c "[ \$('$tool' dump '$j' | wc -l) -eq 5000 ]"
check "dump --from --to" bash -c "[ \$('$tool' dump '$j' --from 10 --to 19 | wc -l) -eq 10 ]"
check "dump --json is one object per line" bash -c "'$tool' dump '$j' --json --from 4990 | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' && [ \$('$tool' dump '$j' --json --from 4990 | wc -l) -eq 11 ]"
check "ls lists segments and the head" bash -c "'$tool' ls '$j' | grep -q 'head seq 5000, writer not running'"
check "stat counts by type" bash -c "'$tool' stat '$j' | grep -Eq '^create +5000$'"
check "tail -n 3" bash -c "[ \$('$tool' tail -n 3 '$j' | wc -l) -eq 3 ]"
check "usage error exits 2" bash -c "'$tool' dump '$j' --from x >/dev/null 2>&1; [ \$? -eq 2 ]"
check "unknown command exits 2" bash -c "'$tool' frobnicate >/dev/null 2>&1; [ \$? -eq 2 ]"
check "missing directory exits 1 with a message" bash -c "'$tool' ls '$work/nope' 2>&1 >/dev/null | grep -q 'cannot open journal directory'"

# tail -f follows a writer
"$tool" tail -f -n 0 "$j" >"$work/tail.out" 2>/dev/null &
tailpid=$!
sleep 0.3
"$tool" bench --dir "$j" --records 300 --threads 2 --durability batch >/dev/null
for _ in $(seq 50); do [ "$(wc -l <"$work/tail.out")" -ge 300 ] && break; sleep 0.1; done
check "tail -f follows new records" [ "$(wc -l <"$work/tail.out")" -eq 300 ]
kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null; tailpid=

check "trim without a cursor keeps everything" bash -c "'$tool' trim '$j' | grep -q '^deleted 0, archived 0'"

# damaged journals
RANDOM=4242
damage() {
        local d=$1 segs seg size off
        segs=("$d"/*.seg)
        seg=${segs[$((RANDOM % ${#segs[@]}))]}
        size=$(stat -c %s "$seg")
        [ "$size" -gt 0 ] || return 0
        off=$(( (RANDOM * 32768 + RANDOM) % size ))
        case $((RANDOM % 5)) in
        0) printf "\\x$(printf %02x $((RANDOM % 256)))" | dd of="$seg" bs=1 seek="$off" conv=notrunc status=none ;;
        1) truncate -s "$off" "$seg" ;;
        2) head -c $((RANDOM % 2000 + 1)) /dev/urandom | dd of="$seg" bs=1 seek="$off" conv=notrunc status=none ;;
        3) rm -f "$seg" ;;
        4) dd if=/dev/zero of="$seg" bs=1 seek="$off" count=$((RANDOM % 300 + 1)) conv=notrunc status=none ;;
        esac
}
bad=0
for i in $(seq 60); do
        d=$work/damaged-$i
        cp -r "$j" "$d"
        for _ in $(seq $((RANDOM % 3 + 1))); do damage "$d"; done
        for cmd in check dump "dump --json" ls stat; do
                # shellcheck disable=SC2086
                timeout 20 "$tool" $cmd "$d" >"$work/out" 2>"$work/err"
                rc=$?
                if [ $rc -gt 1 ]; then
                        echo "# damaged-$i: '$cmd' exit $rc: $(head -c 300 "$work/err")"
                        bad=$((bad + 1))
                fi
        done
        rm -rf "$d"
done
check "check/dump/ls/stat never crash or hang on 60 damaged journals" [ "$bad" -eq 0 ]

echo "1..$n"
[ "$fails" -eq 0 ]
