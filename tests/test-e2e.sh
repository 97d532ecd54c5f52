#!/usr/bin/env bash
# End to end: real programs through the mount, each in its own directory,
# each followed by `mirrorfsctl sync` and a comparison of the whole source
# with the whole target (tests/treecmp.py: bytes, types, modes, owners, ns
# mtimes, symlinks, hard-link groups, xattrs, holes).  The workloads: tar
# extracting real trees; git (commits, branches, checkouts, git mv of files
# and directories, deletes, gc, clones with and without hard links); a C
# project built with make -j2, cleaned and built again; rsync -a of a real
# tree and again after changes; SQLite in WAL mode (the target's copy must
# pass PRAGMA integrity_check); and the random operation storm of
# tests/storm.c with a fixed seed.  Then some of them again with a
# journal-only mount and `mirrorfs-replicator --once`.  TAP.
#
#   tests/test-e2e.sh BUILDDIR
#   E2E_LONG=1 tests/test-e2e.sh BUILDDIR     (long mode)
#
# A workload whose program is missing is skipped (TAP SKIP), not failed.
# The storm runs in STORM_PROCS processes (default 1; the long mode: 4,
# and a second storm with a seed from $RANDOM, or STORM_SEED=N); the
# default mode runs the fixed seed in one process, then in four racing.
# Known limit: with 4 racing processes the planning alone leaves the mirror
# different from the source in about one run in 100-200
# (tests/storm-converge.sh with MOUNT_OPTS=check=off: 2 of 400 at 5f5eb4d);
# the replicator's check of touched directories finds and repairs those
# before a sync returns (5 of 600 runs needed repairs, 0 left different).
# A racing storm's repairs are therefore reported, not failed; every other
# workload must need none.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: test-e2e.sh BUILDDIR}"
trap mfs_cleanup EXIT
T=$MFS_TMP
CTL=$MFS_BUILD/tools/mirrorfsctl
REPL=$MFS_BUILD/tools/mirrorfs-replicator
STORM=$MFS_BUILD/tests/storm
SOCK=$T/ctl.sock
STORM_FIXED_SEED=20240611
LONG=${E2E_LONG:-0}
[ -n "${STORM_SEED:-}" ] && LONG=1
STORM_SEED=${STORM_SEED:-$RANDOM}
STORM_PROCS=${STORM_PROCS:-$([ "$LONG" = 1 ] && echo 4 || echo 1)}

skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# Programs run as in a fresh account: no user or system git configuration.
mkdir -p "$T/home" "$T/tmp"
export HOME=$T/home GIT_CONFIG_NOSYSTEM=1 LC_ALL=C TZ=UTC
cat >"$HOME/.gitconfig" <<'EOF'
[user]
        name = mirrorfs e2e
        email = e2e@mirrorfs.invalid
[init]
        defaultBranch = main
[gc]
        auto = 0
[advice]
        detachedHead = false
EOF

# ---- the workloads; each runs in its own directory (the cwd), under set -e ----

wl_tar() {
        tar -C /usr/share -cf - doc | tar -xf -
        tar -C /usr/include -cf - linux asm-generic | tar -xf -
        # again over the same files: tar replaces each one (unlink, create)
        tar -C /usr/include -cf - linux | tar -xf -
}

wl_git() {
        local i f
        git init -q repo
        cd repo
        mkdir src doc
        cp /usr/include/linux/[a-f]*.h src/
        printf '# e2e\n' >README
        printf 'how to\n' >doc/howto.txt
        git add -A
        git commit -q -m initial
        for i in 1 2 3 4 5 6; do
                f=$(ls src | sed -n "${i}p")
                sed -i "1i /* revision $i */" "src/$f"
                echo "revision $i" >>README
                git commit -q -a -m "revision $i"
        done
        git checkout -q -b feature
        cp /usr/include/linux/[g-k]*.h src/
        mkdir -p lib/sub && echo 'int x;' >lib/sub/x.c && echo 'int y;' >lib/y.c
        git add -A
        git commit -q -m "feature: more headers, a lib"
        git mv src/a*.h lib/
        git mv lib moved-lib
        git mv doc documentation
        git rm -q src/b*.h
        chmod +x moved-lib/y.c
        git commit -q -a -m "feature: moves, deletes, a mode"
        git checkout -q main                    # hundreds of files change back
        git checkout -q -b other
        echo other >other.txt
        git add other.txt
        git commit -q -m other
        git checkout -q feature
        git merge -q --no-edit other
        git checkout -q main
        git merge -q feature                    # fast-forward
        git tag v1
        git branch -q -D other
        git checkout -q feature~1
        git checkout -q main
        git reflog expire --expire=now --all
        git gc -q --prune=now                   # packs: new files, renames, deletes
        git fsck --no-progress
        cd ..
        git clone -q --no-hardlinks repo clone-copy
        git clone -q repo clone-linked          # objects hard-linked to repo's
        git -C clone-linked checkout -q -b local
        echo "in the clone" >>clone-linked/README
        git -C clone-linked commit -q -a -m "in the clone"
        git -C clone-copy gc -q --prune=now
}

wl_cc() {
        mkdir -p proj/src proj/include tmp
        cd proj
        cat >Makefile <<'EOF'
.RECIPEPREFIX = >
CFLAGS = -O1 -g -Wall -Iinclude -MMD -MP
LIBOBJS = build/add.o build/mul.o build/fmt.o build/table.o
OBJS = build/main.o $(LIBOBJS)

all: bin/calc

bin/calc: build/main.o build/libcalc.a | bin
> $(CC) -o $@ $^

build/libcalc.a: $(LIBOBJS)
> rm -f $@
> $(AR) rcs $@ $^

build/%.o: src/%.c | build
> $(CC) $(CFLAGS) -c -o $@ $<

src/table.c: gen-table.sh
> sh $< >$@.tmp
> mv $@.tmp $@

build bin:
> mkdir -p $@

clean:
> rm -rf build bin src/table.c

-include $(OBJS:.o=.d)
.PHONY: all clean
EOF
        cat >include/calc.h <<'EOF'
#ifndef CALC_H
#define CALC_H
long calc_add(long a, long b);
long calc_mul(long a, long b);
void calc_fmt(char *buf, unsigned long size, const char *what, long v);
extern const long calc_table[64];
#endif
EOF
        cat >src/add.c <<'EOF'
#include "calc.h"
long calc_add(long a, long b) { return a + b; }
EOF
        cat >src/mul.c <<'EOF'
#include "calc.h"
long calc_mul(long a, long b) { return a * b; }
EOF
        cat >src/fmt.c <<'EOF'
#include <stdio.h>
#include "calc.h"
void calc_fmt(char *buf, unsigned long size, const char *what, long v)
{
        snprintf(buf, size, "%s = %ld", what, v);
}
EOF
        cat >src/main.c <<'EOF'
#include <stdio.h>
#include "calc.h"
int main(void)
{
        char line[64];
        long sum = 0;
        int i;

        for (i = 0; i < 64; i++)
                sum = calc_add(sum, calc_mul(calc_table[i], 2));
        calc_fmt(line, sizeof(line), "sum", sum);
        puts(line);
        return 0;
}
EOF
        cat >gen-table.sh <<'EOF'
echo '#include "calc.h"'
echo 'const long calc_table[64] = {'
i=0
while [ $i -lt 64 ]; do echo "        $((i * i)),"; i=$((i + 1)); done
echo '};'
EOF
        export TMPDIR=$PWD/../tmp               # the compiler's temporary files too
        make -s -j2
        [ "$(bin/calc)" = "sum = 170688" ]
        make -s clean
        make -s -j2
        touch include/calc.h                    # everything again
        make -s -j2
        [ "$(bin/calc)" = "sum = 170688" ]
        make -s clean
        make -s -j2 bin/calc
}

wl_rsync() {
        local from=$T/rsync-from
        rm -rf "$from"
        cp -a /usr/share/man "$from"
        rm -rf "$from/man1"                     # 18,000 names: the rest is enough
        rsync -a "$from/" man/
        # change a few things on the side rsync reads, then again
        touch -d '2020-02-02 02:02:02.123456789' "$from/man3/$(ls "$from/man3" | sed -n 10p)"
        echo appended >>"$from/man5/$(ls "$from/man5" | sed -n 3p)"
        chmod 600 "$from/man7/$(ls "$from/man7" | sed -n 5p)"
        rm -f "$from/man8/$(ls "$from/man8" | sed -n 7p)"
        rm -rf "$from/$(ls "$from" | grep -v '^man' | sed -n 1p)"
        mkdir "$from/new" && echo new >"$from/new/page.1" && ln -s page.1 "$from/new/link.1"
        rsync -a --delete "$from/" man/
        # nothing left to do
        [ -z "$(rsync -a --delete --dry-run --itemize-changes "$from/" man/)" ]
}

wl_sqlite() {
        local i
        {
                echo "PRAGMA journal_mode=WAL;"
                echo "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
                echo "CREATE INDEX tk ON t(k);"
                for i in $(seq 400); do
                        echo "BEGIN; INSERT INTO t(k, v) VALUES ('k$i', randomblob($((100 + i * 7 % 3000))));"
                        echo "INSERT INTO t(k, v) VALUES ('j$i', zeroblob($i));"
                        echo "UPDATE t SET v = randomblob(64) WHERE id % 13 = $((i % 13)); COMMIT;"
                done
                echo "PRAGMA wal_checkpoint(TRUNCATE);"
                for i in $(seq 300); do
                        echo "BEGIN; INSERT INTO t(k, v) VALUES ('m$i', randomblob(2000));"
                        echo "DELETE FROM t WHERE id = $((i * 2)); COMMIT;"
                done
        } | sqlite3 db.sqlite >/dev/null
        # more writes in a second session, with the checkpointer off
        printf '%s\n' "PRAGMA wal_autocheckpoint=0;" \
                "CREATE TABLE u AS SELECT id, k FROM t WHERE id % 3 = 0;" \
                "UPDATE t SET k = k || '+' WHERE id % 5 = 0;" | sqlite3 db.sqlite
        sqlite3 db.sqlite "SELECT count(*), sum(length(v)) FROM t;" >"$T/sqlite.expected"
}

# sqlite_target_ok DIR: the target's copy of DIR/db.sqlite (and its WAL),
# opened elsewhere (opening it in place would change the target): intact,
# and the same rows as the source had ($T/DIR.expected).
sqlite_target_ok() {
        local d=$1 c=$T/sqlite-check
        rm -rf "$c" && mkdir "$c"
        cp "$T/tgt/$d/db.sqlite" "$c/"
        if [ -e "$T/tgt/$d/db.sqlite-wal" ]; then cp "$T/tgt/$d/db.sqlite-wal" "$c/"; fi
        [ "$(sqlite3 "$c/db.sqlite" 'PRAGMA integrity_check;')" = ok ] || { echo "integrity_check failed"; return 1; }
        sqlite3 "$c/db.sqlite" "SELECT count(*), sum(length(v)) FROM t;" >"$c/got"
        diff "$T/$d.expected" "$c/got"
}

# SQLite with the database held open: the WAL and its -shm stay open (the
# -shm written through a shared mapping only) while the target is compared.
# Statements go to one sqlite3 process through a FIFO; wait_sql waits for
# the marker it prints after them.
sql_start() {
        mkfifo "$T/sql.fifo"
        sqlite3 "$M/sqlite-open/db.sqlite" <"$T/sql.fifo" >"$T/sql.out" 2>&1 &
        SQL_PID=$!
        MFS_PIDS+=("$SQL_PID")          # mfs_cleanup stops it if we fail
        exec 7>"$T/sql.fifo"
}
sql() { printf '%s\n' "$@" >&7; }
wait_sql() {
        local i
        sql ".print marker $1"
        for i in $(seq 300); do
                grep -qx "marker $1" "$T/sql.out" && return 0
                sleep 0.1
        done
        echo "sqlite3 did not get to marker $1:"
        cat "$T/sql.out"
        return 1
}
sql_batch() {   # sql_batch FROM TO: one transaction per row
        local i
        for i in $(seq "$1" "$2"); do
                sql "BEGIN; INSERT INTO t(k, v) VALUES ('o$i', randomblob($((200 + i % 4000))));" \
                    "UPDATE t SET v = randomblob(300) WHERE id = $((i / 2 + 1)); COMMIT;"
        done
}

wl_storm_fixed() {
        "$STORM" -s "$STORM_FIXED_SEED" -p "$STORM_PROCS" -n 2000 -d . -u 1000 -u 4242 -u 65534 >"$T/storm.out"
}

wl_storm_racing() {
        "$STORM" -s "$STORM_FIXED_SEED" -p 4 -n 2000 -d . -u 1000 -u 4242 -u 65534 >"$T/storm.out"
}

wl_storm_random() {
        "$STORM" -s "$STORM_SEED" -p "$STORM_PROCS" -n 2000 -d . -u 1000 -u 4242 -u 65534 >"$T/storm.out"
}

# ---- running them ----

# needs WHAT PROGRAM...: true when every program is here, else a TAP skip.
needs() {
        local what=$1 p
        shift
        for p in "$@"; do
                if ! have "$p"; then
                        skip "$what: no $p here"
                        return 1
                fi
        done
}

# run MOUNT NAME DESCRIPTION FUNCTION: FUNCTION in MOUNT/NAME, under set -e
# (never call this from a condition: bash would ignore set -e inside).
run() {
        local m=$1 name=$2 what=$3 fn=$4 rc
        mkdir -p "$m/$name"
        (
                set -eo pipefail
                cd "$m/$name"
                "$fn"
        ) >"$T/$name.log" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
                ok "$what: ran through the mount"
        else
                not_ok "$what: ran through the mount (exit $rc)"
                tail -n 20 "$T/$name.log" | sed 's/^/# /'
        fi
}

# converged WHAT [DIR [racing]]: everything journaled is on the target, and
# the whole target equals the whole source (and DIR alone, to tell which
# workload a difference comes from).  The replicator's check of the
# directories the records touched repaired nothing (a repair is a bug of
# the planning that the check hid); after racing processes the count is
# reported, not asserted (see the known limit above).
converged() {
        check "$1: mirrorfsctl sync" "$CTL" --socket "$SOCK" sync --timeout 300
        if [ "${3:-}" = racing ]; then
                echo "# $1: the check of touched directories repaired $(mfs_status_field "$SOCK" check_repairs) entries so far"
        else
                check "$1: the check of touched directories repaired nothing" mfs_check_clean "$SOCK"
        fi
        if [ -n "${2:-}" ]; then
                check "$1: target equals source in $2/" python3 "$here/treecmp.py" "$T/src/$2" "$T/tgt/$2"
        fi
        check "$1: the whole target equals the whole source" python3 "$here/treecmp.py" "$T/src" "$T/tgt"
}

start=$(date +%s)
mkdir -p "$T/src" "$T/mnt" "$T/tgt"
if ! mfs_mount "$T/src" "$T/mnt" "journal=$T/j,target=$T/tgt,socket=$SOCK,allow_other"; then
        not_ok "mount"
        tap_done
        exit 1
fi
M=$T/mnt

what="tar extraction (/usr/share/doc, /usr/include/linux twice)"
if needs "$what" tar; then
        run "$M" tar "$what" wl_tar
        converged "tar" tar
fi

what="git: commits, branches, checkouts, mv, rm, gc, clones"
if needs "$what" git; then
        run "$M" git "$what" wl_git
        converged "git" git
        check "git: the target's repository passes git fsck" \
                git --git-dir="$T/tgt/git/repo/.git" fsck --full --no-progress
        check "git: the target's branches point where the source's do" bash -c \
                "[ \"\$(git --git-dir='$T/src/git/repo/.git' show-ref)\" = \"\$(git --git-dir='$T/tgt/git/repo/.git' show-ref)\" ]"
        check "git: the local clone's hard links are hard links on the target" bash -c \
                "f=\$(ls '$T/src/git/clone-linked/.git/objects/pack/'*.pack | head -n 1) &&
                 [ \$(stat -c %h \"\$f\") -ge 2 ] &&
                 [ \$(stat -c %h '$T/tgt/git/clone-linked/.git/objects/pack/'\"\${f##*/}\") -ge 2 ]"
fi

what="C project: make -j2, make clean, make again"
if needs "$what" make cc ar; then
        run "$M" cc "$what" wl_cc
        converged "cc" cc
fi

what="rsync -a of /usr/share/man, changes, rsync -a --delete"
if needs "$what" rsync; then
        run "$M" rsync "$what" wl_rsync
        converged "rsync" rsync
fi

what="SQLite in WAL mode: transactions, checkpoint, more writes"
if needs "$what" sqlite3; then
        run "$M" sqlite "$what" wl_sqlite
        converged "sqlite" sqlite
        check "sqlite: the target's copy passes integrity_check, same rows" sqlite_target_ok sqlite

        mkdir "$M/sqlite-open"
        sql_start
        sql "PRAGMA journal_mode=WAL;" "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
        sql_batch 1 500
        sql "PRAGMA wal_checkpoint(PASSIVE);"
        sql_batch 501 800
        sql "SELECT 'rows', count(*), sum(length(v)) FROM t;"
        check "sqlite held open: 800 transactions" wait_sql 1
        sed -n 's/^rows|//p' "$T/sql.out" >"$T/sqlite-open.expected"
        converged "sqlite held open (WAL and -shm open)" sqlite-open
        check "sqlite held open: the target's copy passes integrity_check, same rows" sqlite_target_ok sqlite-open
        sql ".quit"
        exec 7>&-
        wait "$SQL_PID"
        converged "sqlite closed (checkpointed, WAL removed)" sqlite-open
fi

run "$M" storm1 "storm -s $STORM_FIXED_SEED -p $STORM_PROCS (fixed seed)" wl_storm_fixed
sed 's/^/# /' "$T/storm.out"
converged "storm seed $STORM_FIXED_SEED" storm1 "$([ "$STORM_PROCS" -gt 1 ] && echo racing)"
if [ "$STORM_PROCS" = 1 ]; then
        # and racing: the target must equal the source (the check of
        # touched directories repairs what the planning missed, counted)
        run "$M" storm3 "storm -s $STORM_FIXED_SEED -p 4 (racing)" wl_storm_racing
        sed 's/^/# /' "$T/storm.out"
        converged "racing storm seed $STORM_FIXED_SEED" storm3 racing
fi

if [ "$LONG" = 1 ]; then
        run "$M" storm2 "storm -s $STORM_SEED -p $STORM_PROCS (seed from \$RANDOM; replay with STORM_SEED=$STORM_SEED)" \
                wl_storm_random
        sed 's/^/# /' "$T/storm.out"
        converged "storm seed $STORM_SEED" storm2 racing
fi

check "the control socket reports no dead letters" bash -c \
        "'$CTL' --socket '$SOCK' status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[\"dead_letters\"] == 0 and s[\"events_lost\"] == 0, s'"
check "unmount" mfs_umount "$M"
check "after unmount (drained), target equals source" python3 "$here/treecmp.py" "$T/src" "$T/tgt"
check "journal clean" "$MFS_JOURNAL_TOOL" check "$T/j"
echo "# embedded replicator: $(( $(date +%s) - start )) s"

# ---- journal only, then mirrorfs-replicator --once ----
mkdir -p "$T/src2" "$T/mnt2" "$T/tgt2"
if mfs_mount "$T/src2" "$T/mnt2" "journal=$T/j2,replicate=off,allow_other"; then
        if needs "journal-only: git" git; then
                run "$T/mnt2" git "journal-only: git" wl_git
        fi
        run "$T/mnt2" storm1 "journal-only: storm -s $STORM_FIXED_SEED -p $STORM_PROCS" wl_storm_fixed
        sed 's/^/# /' "$T/storm.out"
        check "journal-only: unmount" mfs_umount "$T/mnt2"
        check "--once exits 0 when everything was applied, and its check repaired nothing" bash -c \
                "'$REPL' --journal '$T/j2' --source '$T/src2' --target '$T/tgt2' --once --log-level err |
                 grep -E 'checked [1-9][0-9]* directories, 0 entries repaired'"
        check "--once: target equals source" python3 "$here/treecmp.py" "$T/src2" "$T/tgt2"
else
        not_ok "mount (journal only)"
fi
echo "# total: $(( $(date +%s) - start )) s"
tap_done
