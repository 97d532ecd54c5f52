#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mirrorfs-config against the programs of this build: good files give the
# expected command line, every kind of mistake gives exit 78 and one line
# naming the file and the line.  TAP.  Needs neither root nor FUSE: nothing
# is started (--check and --print).
#
#   test-mirrorfs-config.sh WRAPPER MIRRORFS MIRRORFS-REPLICATOR
set -uo pipefail

wrapper=$1
export MIRRORFS_BIN=$2 MIRRORFS_REPLICATOR_BIN=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MIRRORFS_CONFDIR=$tmp/etc
mkdir -p "$MIRRORFS_CONFDIR"

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# conf NAME: the file's text from stdin
conf() { cat >"$MIRRORFS_CONFDIR/$1"; }

# q ARG...: the arguments as --print writes them
q() { printf '%q ' "$@" | sed 's/ $//'; }

# expect_print WHAT ROLE NAME EXPECTED: --print gives EXPECTED
expect_print() {
        local what=$1 out
        if out=$("$wrapper" --print "$2" "$3" 2>&1) && [ "$out" = "$4" ]; then
                ok "$what"
        else
                not_ok "$what"
                printf '# got:    %s\n# wanted: %s\n' "$out" "$4"
        fi
}

# expect_error WHAT ROLE NAME PATTERN: exit 78, a message matching PATTERN
expect_error() {
        local what=$1 out rc
        out=$("$wrapper" --check "$2" "$3" 2>&1)
        rc=$?
        if [ $rc -eq 78 ] && [[ $out =~ $4 ]]; then
                ok "$what"
        else
                not_ok "$what"
                printf '# exit %s, got: %s\n# wanted: %s\n' "$rc" "$out" "$4" | head -n 8
        fi
}

M=$MIRRORFS_BIN
R=$MIRRORFS_REPLICATOR_BIN
F=$MIRRORFS_CONFDIR

conf good.conf <<'EOF'
# a comment
source = /srv/my work
	mountpoint	=	/srv/my work	
journal = /var/lib/mirrorfs/a,b\c

target = "/mirror/ quoted "
  # an indented comment
threads = 32
drain_timeout = 5m
durability = strict
mount_options = allow_other,noatime
EOF
expect_print "mount: blanks, tabs, quotes, commas and backslashes in values" mount good \
        "$(q "$M" "/srv/my work" "/srv/my work" -f -o 'journal=/var/lib/mirrorfs/a\,b\\c' -o "target=/mirror/ quoted " \
             -o threads=32 -o drain_timeout=5m -o durability=strict -o allow_other,noatime)"

printf 'source = /s\r\nmountpoint = /m\r\njournal = /j\r\nreplicate = off' >"$F/crlf.conf"
expect_print "mount: CRLF lines, no final newline, replicate = off needs no target" mount crlf \
        "$M /s /m -f -o journal=/j -o replicate=off"

expect_print "mount: a path instead of a name" mount "$F/crlf.conf" "$M /s /m -f -o journal=/j -o replicate=off"

conf replicator-good.conf <<'EOF'
journal = /var/lib/mirrorfs/x
source = /srv/work
target = /nonexistent/mirror dir
workers = 8
drain-timeout = 2m
retention = 7d
quiet = yes
no-check = yes
EOF
expect_print "replicator: options, --quiet, --no-check, the default socket from the target" replicator good \
        "$(q "$R" --journal /var/lib/mirrorfs/x --source /srv/work --target "/nonexistent/mirror dir" --workers 8 \
             --drain-timeout 2m --retention 7d --quiet --no-check --socket "/run/mirrorfs/nonexistent-mirror dir.sock")"

conf replicator-sock.conf <<'EOF'
journal = /j
source = /s
target = /t
socket = /run/mirrorfs/r.sock
quiet = off
no-check = off
EOF
expect_print "replicator: socket given, quiet = off" replicator sock "$R --journal /j --source /s --target /t --socket /run/mirrorfs/r.sock"

# ---- mistakes ----

base='source = /s
mountpoint = /m
journal = /j
target = /t'
bad() { printf '%s\n%s\n' "$base" "$1" >"$F/bad.conf"; }

bad 'thraeds = 4'
expect_error "unknown key, with a suggestion" mount bad "bad.conf:5: unknown key 'thraeds' \\(did you mean 'threads'\\?\\)"
bad 'drain-timeout = 4'
expect_error "the replicator's spelling in a mount file" mount bad "bad.conf:5: unknown key 'drain-timeout' \\(did you mean 'drain_timeout'\\?\\)"
bad 'allow_other = yes'
expect_error "a FUSE option as a key" mount bad ":5: unknown key 'allow_other' \\(a FUSE or kernel option: add it to mount_options\\)"
bad 'cursor = x'
expect_error "a replicator key in a mount file" mount bad ":5: unknown key 'cursor' \\(a mirrorfs-replicator option"
bad 'threads 4'
expect_error "a line without =" mount bad ":5: expected 'key = value', got 'threads 4'"
bad '= 4'
expect_error "no key" mount bad ":5: no key before '='"
bad 'Threads = 4'
expect_error "a key that is not a name" mount bad ":5: 'Threads' is not a key"
bad 'threads ='
expect_error "an empty value" mount bad ":5: 'threads' has an empty value"
bad 'threads = ""'
expect_error "an empty quoted value" mount bad ":5: 'threads' has an empty value"
bad 'threads = 0'
expect_error "a value out of range, in the program's words" mount bad ":5: bad option 'threads=0': expected 1 to 1024"
bad 'threads = 4 # four'
expect_error "no inline comments" mount bad ":5: bad option 'threads=4 # four'"
bad 'durability = fast'
expect_error "a bad enumeration" mount bad ":5: bad option 'durability=fast': expected strict, batch or none"
bad 'drain_timeout = 2d'
expect_error "a duration over its bound" mount bad ":5: bad option 'drain_timeout=2d'"
bad 'segment_size = 64MB'
expect_error "a bad size" mount bad ":5: bad option 'segment_size=64MB'"
bad 'target = /t2'
expect_error "a key given twice" mount bad ":5: 'target' given again \\(first on line 4\\)"
bad 'socket = run/x.sock'
expect_error "a relative path" mount bad ":5: socket: 'run/x.sock' is not an absolute path"
bad 'mount_options = allow_other,threads=4'
expect_error "a mirrorfs option inside mount_options" mount bad ":5: mount_options: 'threads' is a mirrorfs option"
bad 'mount_options = allow_other,,ro'
expect_error "an empty item in mount_options" mount bad ":5: mount_options: an empty option"
bad $'threads = 4\001'
expect_error "a control character" mount bad ":5: control character"
printf 'mountpoint = /m\njournal = /j\n' >"$F/bad.conf"
expect_error "a missing required key" mount bad "bad.conf: no 'source = \\.\\.\\.' line"
printf 'source = /s\nmountpoint = /m\njournal = /j\n' >"$F/bad.conf"
expect_error "no target with replication on" mount bad "no 'target = \\.\\.\\.' line \\(or 'replicate = off'"
printf 'source = /s\nmountpoint = /m\njournal = /j\nthreads = 0\nbogus = 1\n' >"$F/bad.conf"
out=$("$wrapper" --check mount bad 2>&1)
want="mirrorfs-config: $F/bad.conf:4: bad option 'threads=0': expected 1 to 1024
mirrorfs-config: $F/bad.conf:5: unknown key 'bogus'
mirrorfs-config: $F/bad.conf: no 'target = ...' line (or 'replicate = off' to only journal)
mirrorfs-config: $F/bad.conf: 3 error(s); nothing started"
if [ "$out" = "$want" ]; then
        ok "every error is reported, in the order of the lines"
else
        not_ok "every error is reported, in the order of the lines"
        printf '# %s\n' "$out"
fi

rbase='journal = /j
source = /s
target = /t'
rbad() { printf '%s\n%s\n' "$rbase" "$1" >"$F/replicator-bad.conf"; }
rbad 'drain_timeout = 5'
expect_error "replicator: the mount's spelling" replicator bad "replicator-bad.conf:4: unknown key 'drain_timeout' \\(did you mean 'drain-timeout'\\?\\)"
rbad 'workers = 65'
expect_error "replicator: a value out of range, in the program's words" replicator bad ":4: --workers: '65' is not 1..64"
rbad 'backend = fast'
expect_error "replicator: a bad backend" replicator bad ":4: --backend: 'fast' is not uring or plain"
rbad 'quiet = maybe'
expect_error "replicator: a bad boolean" replicator bad ":4: quiet: 'maybe' is not on or off"
rbad 'cursor = a/b'
expect_error "replicator: a bad cursor name" replicator bad ":4: --cursor: 'a/b' is not 1 to 64 of"
rbad 'once = yes'
expect_error "replicator: once" replicator bad ":4: unknown key 'once' \\(a service follows the journal"
rbad 'mountpoint = /m'
expect_error "replicator: a mount key" replicator bad ":4: unknown key 'mountpoint' \\(a mirrorfs option"

expect_error "a missing file" mount nosuch "cannot read $F/nosuch.conf: no such file"
out=$("$wrapper" --check mount '../etc/passwd' 2>&1); rc=$?
if [ $rc -eq 78 ] && [[ $out == *"cannot read ../etc/passwd"* ]]; then ok "a name with a slash is a path"; else not_ok "a name with a slash is a path"; echo "# $rc $out"; fi
out=$("$wrapper" --check mount '-x' 2>&1); rc=$?
if [ $rc -eq 2 ] && [[ $out == *"is not a mirror name"* ]]; then ok "a bad name"; else not_ok "a bad name"; echo "# $rc $out"; fi
out=$("$wrapper" --check umount x 2>&1); rc=$?
if [ $rc -eq 2 ]; then ok "a bad role"; else not_ok "a bad role"; echo "# $rc $out"; fi

# ---- the wrapper knows every option of the programs ----

# mirrorfs --help lists its -o options as "  NAME=..."; mirrorfs-replicator
# --help its long options as "--NAME".  Options a service file has no use
# for are left out on purpose.
if [ -z "$("$M" --help)" ] || [ -z "$("$R" --help)" ]; then
        not_ok "the programs print their options with --help"
fi
missing=$(comm -23 <("$M" --help | sed -n 's/^  \([a-z_]*\)=.*/\1/p' | sort -u) \
                   <("$wrapper" --keys mount))
if [ -z "$missing" ]; then ok "every mirrorfs -o option is a key"; else not_ok "mirrorfs -o options the wrapper does not know: $missing"; fi
missing=$(comm -23 <("$R" --help | grep -o -- '--[a-z][a-z-]*' | sed 's/^--//' | grep -vxE 'help|version|once' | sort -u) \
                   <("$wrapper" --keys replicator))
if [ -z "$missing" ]; then ok "every mirrorfs-replicator option is a key"; else not_ok "mirrorfs-replicator options the wrapper does not know: $missing"; fi

echo "1..$n"
[ $failed -eq 0 ]
