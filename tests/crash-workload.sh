#!/usr/bin/env bash
# The crash matrix's everyday workload (tests/test-crash.sh, CRASH_WORKLOAD=
# files): what jobs do to a tree, in a loop until killed, in DIR: trees
# extracted with tar and extracted again over themselves, appends to a log,
# files saved by write-and-rename, directories renamed and removed whole,
# hard links and symlinks made, modes and times changed.  Seeded: the same
# SEED gives the same operations.
#
#   tests/crash-workload.sh DIR SEED
set -u
cd "${1:?usage: crash-workload.sh DIR SEED}" || exit 1
RANDOM=${2:?usage: crash-workload.sh DIR SEED}
src=/usr/include/linux

for ((i = 0; ; i++)); do
        d=w$((RANDOM % 6))
        case $((RANDOM % 10)) in
        0 | 1)  # a tree extracted (over what is there, if anything)
                mkdir -p "$d"
                tar -C "$src" -cf - netfilter 2>/dev/null | tar -C "$d" -xf - 2>/dev/null
                ;;
        2)      # appends
                mkdir -p "$d"
                for ((k = 0; k < 20; k++)); do
                        echo "line $i.$k $RANDOM" >>"$d/log"
                done
                ;;
        3)      # saved by write and rename
                mkdir -p "$d"
                head -c $((RANDOM * 4)) /dev/urandom >"$d/.cfg.tmp" && mv -f "$d/.cfg.tmp" "$d/cfg"
                ;;
        4)      # a directory renamed, and renamed back under another name
                [ -d "$d" ] && mv -T "$d" "$d.r" 2>/dev/null && mv -T "$d.r" "w$((RANDOM % 6))x" 2>/dev/null
                ;;
        5)      # a whole subtree removed
                rm -rf "$d"
                ;;
        6)      # hard links and symlinks
                if [ -f "$d/cfg" ]; then
                        ln -f "$d/cfg" "$d/cfg.link" 2>/dev/null
                        ln -sfn cfg "$d/cfg.sym" 2>/dev/null
                fi
                ;;
        7)      # modes and times
                [ -d "$d" ] && chmod -R u+rwX,go-w "$d" 2>/dev/null
                [ -e "$d/log" ] && touch -d "@$((1600000000 + RANDOM))" "$d/log" 2>/dev/null
                ;;
        8)      # a file rewritten in place, then truncated
                mkdir -p "$d"
                head -c $((RANDOM * 2)) /dev/urandom >"$d/data"
                truncate -s $((RANDOM % 4096)) "$d/data"
                ;;
        9)      # directories made and files moved between them
                mkdir -p "$d/sub$((RANDOM % 3))"
                [ -f "$d/cfg" ] && cp -p "$d/cfg" "$d/sub$((RANDOM % 3))/cfg.copy"
                ;;
        esac
done
