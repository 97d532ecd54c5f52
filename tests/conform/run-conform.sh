#!/usr/bin/env bash
# run-conform.sh: run the file-system conformance battery (conform.c) in two
# directories and compare the transcripts.  Meant for DIR_A on a local file
# system and DIR_B the same kind of directory seen through the mirrorfs
# passthrough; any line that differs is a semantic difference.
#
#   tests/conform/run-conform.sh [-k] [-c CASE]... [-x KNOWN] DIR_A DIR_B
#
#   -k       keep the run directories and transcripts (paths are printed)
#   -c CASE  run only CASE (repeatable; `conform -l` lists them)
#   -x KNOWN a file of known differences: lines "STEP reason"; those steps
#            are left out of the comparison and listed with their reason
#
# Each side runs in a fresh subdirectory DIR/conform.XXXXXX, removed
# afterwards.  The program is $CONFORM when set, else it is compiled from
# conform.c next to this script with ${CC:-cc}.  Run as root for the full
# battery (test users, devices); otherwise those steps print SKIP on both
# sides.
#
# Exit status: 0 when the transcripts are identical, 1 when they differ (the
# unified diff is printed), 2 on a usage or setup error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
keep=0
cases=()
known=

usage() {
        sed -n '7,12p' "$0" | sed 's/^# \{0,1\}//'
}

while getopts "kc:x:h" opt; do
        case $opt in
        k) keep=1 ;;
        c) cases+=(-c "$OPTARG") ;;
        x) known=$OPTARG ;;
        h) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
        esac
done
shift $((OPTIND - 1))
if [ $# -ne 2 ]; then
        usage >&2
        exit 2
fi
dir_a=$1
dir_b=$2
for d in "$dir_a" "$dir_b"; do
        if [ ! -d "$d" ]; then
                echo "run-conform: '$d' is not a directory" >&2
                exit 2
        fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/run-conform.XXXXXX")
run_a=
run_b=

# Undo what the cases leave behind that rm -rf cannot pass as a non-root
# user (directories without search or write permission).
remove_run() {
        [ -n "$1" ] && [ -d "$1" ] || return 0
        chmod -R u+rwX "$1" 2>/dev/null || true
        rm -rf "$1"
}

cleanup() {
        if [ $keep -eq 1 ]; then
                echo "run-conform: kept $work ${run_a:-} ${run_b:-}" >&2
                return
        fi
        remove_run "$run_a"
        remove_run "$run_b"
        rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${CONFORM:-}" ]; then
        prog=$CONFORM
else
        prog=$work/conform
        if ! "${CC:-cc}" -O2 -std=gnu11 -D_GNU_SOURCE -Wall -o "$prog" "$here/conform.c"; then
                echo "run-conform: cannot compile $here/conform.c" >&2
                exit 2
        fi
fi

# One side: the transcript in $work/$2.txt.  A non-zero exit of conform is
# a setup failure (it reports failed steps in the transcript, not in its
# status).
run_side() {
        local dir=$1 side=$2 run

        run=$(mktemp -d "$dir/conform.XXXXXX")
        if [ "$side" = a ]; then run_a=$run; else run_b=$run; fi
        if ! "$prog" "${cases[@]}" "$run" >"$work/$side.txt" 2>"$work/$side.err"; then
                echo "run-conform: conform failed in '$dir':" >&2
                cat "$work/$side.err" >&2
                exit 2
        fi
        if [ -s "$work/$side.err" ]; then
                echo "run-conform: conform in '$dir' said:" >&2
                cat "$work/$side.err" >&2
        fi
}

run_side "$dir_a" a
run_side "$dir_b" b

summary=$(tail -n 1 "$work/a.txt")
if [ -n "$known" ]; then
        # Drop the known steps from both sides, and say so.
        grep -v '^#' "$known" | awk 'NF { print "^" $1 " " }' >"$work/known.re"
        while read -r step reason; do
                case $step in ''|'#'*) continue ;; esac
                echo "run-conform: known difference, not compared: $step ($reason)"
        done <"$known"
        for side in a b; do
                grep -v -f "$work/known.re" "$work/$side.txt" >"$work/$side.cmp" || true
                mv "$work/$side.cmp" "$work/$side.txt"
        done
fi
if diff -u --label "A: $dir_a" --label "B: $dir_b" "$work/a.txt" "$work/b.txt"; then
        echo "run-conform: identical (${summary#conform end: })"
        exit 0
fi
echo "run-conform: transcripts differ; A has ${summary#conform end: }" >&2
if command -v findmnt >/dev/null; then
        # Mount options explain some differences (nodev, noexec, noatime).
        # The last line is the mount on top when mounts are stacked.
        echo "run-conform: A is on $(findmnt -n -o FSTYPE,OPTIONS -T "$dir_a" | tail -n 1)" >&2
        echo "run-conform: B is on $(findmnt -n -o FSTYPE,OPTIONS -T "$dir_b" | tail -n 1)" >&2
fi
exit 1
