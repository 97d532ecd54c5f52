#!/usr/bin/env bash
# Every man page renders without a warning: man(1) runs groff with its
# warnings on, and anything groff says (on standard error) fails the page.
# TAP output; skips (exit 77) where man or groff is missing.
#
#   tests/test-man.sh PAGE...         (the built pages, e.g. build/docs/man/mirrorfs.8)
set -u

if ! command -v man >/dev/null 2>&1 || ! command -v groff >/dev/null 2>&1; then
        echo "1..0 # SKIP needs man and groff (Debian: man-db, groff-base)"
        exit 77
fi
if [ $# -eq 0 ]; then
        echo "usage: test-man.sh PAGE..." >&2
        exit 2
fi

echo "1..$#"
n=0
fails=0
for page in "$@"; do
        n=$((n + 1))
        # -Z: stop after troff (no grotty), which is where the warnings
        # come from; MANWIDTH: the same line length on every machine.
        err=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
        rc=$?
        if [ "$rc" -eq 0 ] && [ -z "$err" ]; then
                echo "ok $n - $(basename "$page") renders without warnings"
        else
                fails=$((fails + 1))
                echo "not ok $n - $(basename "$page") renders without warnings (man exit $rc)"
                printf '%s\n' "$err" | sed 's/^/# /'
        fi
done
[ "$fails" -eq 0 ]
