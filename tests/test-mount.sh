#!/usr/bin/env bash
# The mount: command line and start-up errors, every kind of change and the
# record it leaves, long names and paths, a daemon killed after an answered
# write, a mount over the source itself, mount(8) through mount.fuse3.
# TAP.  Needs root and /dev/fuse (skips, exit 77, without them).
#
#   tests/test-mount.sh BUILDDIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: test-mount.sh BUILDDIR}"
trap mfs_cleanup EXIT

T=$MFS_TMP
mkdir -p "$T/src" "$T/mnt" "$T/tgt"
J=$T/journal

# ---- the command line ----
fails_with() {
        local pattern=$1 out rc
        shift
        out=$("$MFS_BIN" "$@" 2>&1)
        rc=$?
        if [ $rc -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s' "$out" | grep -q -- "$pattern"; then
                return 0
        fi
        echo "exit $rc, said: $out"
        return 1
}
check "--help" bash -c "'$MFS_BIN' --help | grep -q 'journal=DIR'"
check "--version" bash -c "'$MFS_BIN' --version | grep -q '^mirrorfs '"
check "no arguments" fails_with "give SOURCE and MOUNTPOINT"
check "no journal" fails_with "no journal directory" "$T/src" "$T/mnt" -o target="$T/tgt"
check "no target" fails_with "no target directory" "$T/src" "$T/mnt" -o journal="$J"
check "bad durability" fails_with "durability=maybe.*strict, batch or none" "$T/src" "$T/mnt" -o journal="$J",durability=maybe
check "bad number" fails_with "threads=0" "$T/src" "$T/mnt" -o journal="$J",target="$T/tgt",threads=0
check "bad size" fails_with "segment_size=12Q" "$T/src" "$T/mnt" -o journal="$J",segment_size=12Q
check "missing source" fails_with "cannot use source.*No such file" "$T/nope" "$T/mnt" -o journal="$J",target="$T/tgt"
check "source not a directory" fails_with "not a directory" /etc/hostname "$T/mnt" -o journal="$J",target="$T/tgt"
check "missing target" fails_with "cannot use target" "$T/src" "$T/mnt" -o journal="$J",target="$T/none"
mkdir -p "$T/src/inner"
check "target inside the source" fails_with "overlap" "$T/src" "$T/mnt" -o journal="$J",target="$T/src/inner"
check "journal inside the source" fails_with "journal.*inside the source" "$T/src" "$T/mnt" -o journal="$T/src/inner/j",target="$T/tgt"
check "extra argument" fails_with "unexpected argument" "$T/src" "$T/mnt" "$T/x" -o journal="$J",target="$T/tgt"
check "bad log level" fails_with "log_level=loud.*err, warning, notice, info or debug" "$T/src" "$T/mnt" -o journal="$J",log_level=loud
check "bad io_uring" fails_with "io_uring=maybe.*auto, on or off" "$T/src" "$T/mnt" -o journal="$J",replicate=off,io_uring=maybe
check "io_uring=on with -s" fails_with "io_uring=on and -s" "$T/src" "$T/mnt" -s -o journal="$J",replicate=off,io_uring=on
check "bad retention" fails_with "retention=forever" "$T/src" "$T/mnt" -o journal="$J",replicate=off,retention=forever
rmdir "$T/src/inner"
check "nothing was mounted by the failures" bash -c "! mountpoint -q '$T/mnt'"

# ---- start and stop ----
L=$T/life
mkdir -p "$L/src" "$L/mnt"
echo here >"$L/src/here"
: >"$MFS_TMP/daemon.log"
if mfs_mount "$L/src" "$L/mnt" "journal=$L/j,replicate=off"; then
        check "the start-up message tells how reads and writes go, after INIT" \
                grep -Eq "serving .*(kernel passthrough|through the daemon)" "$MFS_TMP/daemon.log"
        kill -TERM "$MFS_PID"
        rc=0
        wait "$MFS_PID" || rc=$?
        check "SIGTERM: a clean stop, exit 0" test "$rc" -eq 0
        check "SIGTERM: unmounted" bash -c "! mountpoint -q '$L/mnt'"
        check "SIGTERM: the journal ends with the unmount marker" bash -c \
                "'$MFS_JOURNAL_TOOL' dump '$L/j' | tail -n 1 | grep -q ' unmount'"
fi
: >"$MFS_TMP/daemon.log"
if mfs_mount "$L/src" "$L/mnt" "journal=$L/j,replicate=off,log_level=warning"; then
        check "log_level=warning: no informational messages" bash -c "! grep -q serving '$MFS_TMP/daemon.log'"
        mfs_umount "$L/mnt"
fi
# timeout=0 is for a source that also changes beside the mount: no stale
# page may be served from an earlier open.
echo "first version" >"$L/src/beside"
if mfs_mount "$L/src" "$L/mnt" "journal=$L/j,replicate=off,timeout=0,passthrough=off"; then
        cat "$L/mnt/beside" >/dev/null
        echo "other version" >"$L/src/beside"
        check "timeout=0: a change beside the mount is seen at the next open" grep -qx "other version" "$L/mnt/beside"
        mfs_umount "$L/mnt"
fi
# retention=: applied segments are archived, not deleted
mkdir -p "$L/tgt"
if mfs_mount "$L/src" "$L/mnt" "journal=$L/jr,target=$L/tgt,retention=1d,segment_size=1M"; then
        python3 -c 'import os, sys
for i in range(15000):
    os.close(os.open("%s/r%05d-%s" % (sys.argv[1], i, "x" * 40), os.O_CREAT | os.O_WRONLY, 0o644))' "$L/mnt"
        "$MFS_BUILD/tools/mirrorfsctl" --mount "$L/mnt" sync --timeout 60 >/dev/null
        mfs_umount "$L/mnt"
        check "retention=: applied segments are kept, compressed" bash -c "'$MFS_JOURNAL_TOOL' ls '$L/jr' | grep -q archived"
fi
# Without -f: the command returns once the mount serves, and the daemon
# has left the terminal.
if "$MFS_BIN" "$L/src" "$L/mnt" -o "journal=$L/j,replicate=off" >"$L/out" 2>&1; then
        MFS_MOUNTS+=("$L/mnt")
        check "daemon: serves as soon as the command returned" grep -qx here "$L/mnt/here"
        check "daemon: said nothing on the terminal" test ! -s "$L/out"
        dpid=$(pgrep -f "^$MFS_BIN $L/src $L/mnt" | head -n 1)
        [ -n "$dpid" ] && MFS_PIDS+=("$dpid")
        check "daemon: in its own session, stdio on /dev/null" bash -c \
                "[ \"\$(ps -o sid= -p $dpid | tr -d ' ')\" = $dpid ] && [ \"\$(readlink /proc/$dpid/fd/2)\" = /dev/null ]"
        mfs_umount "$L/mnt" "$dpid"
else
        not_ok "daemon start: $(cat "$L/out")"
fi

# ---- the kernel's requests over io_uring (io_uring=) ----
# The kernel offers FUSE over io_uring only while the fuse module's
# enable_uring is set: the test sets it both ways, and puts it back.
P=/sys/module/fuse/parameters/enable_uring
U=$T/uring
mkdir -p "$U/src" "$U/mnt"
uring_of() {
        "$MFS_BUILD/tools/mirrorfsctl" --socket "$U/sock" status --json |
                python3 -c 'import json, sys; print("on" if json.load(sys.stdin)["io_uring"] else "off")'
}
# uring_mount OPTS: mount, say how the requests come, unmount
uring_mount() {
        local how
        mfs_mount "$U/src" "$U/mnt" "journal=$U/j,replicate=off,socket=$U/sock${1:+,$1}" || return 1
        how=$(uring_of)
        echo "x" >"$U/mnt/f" && [ "$(cat "$U/mnt/f")" = x ] || how="$how, but a write failed"
        mfs_umount "$U/mnt"
        echo "$how"
}
if [ -w "$P" ]; then
        uring_was=$(cat "$P")
        trap 'echo "$uring_was" >"$P"; mfs_cleanup' EXIT
        echo Y >"$P"
        check "io_uring: taken when the kernel offers it" test "$(uring_mount)" = on
        check "io_uring=off: requests through /dev/fuse" test "$(uring_mount io_uring=off)" = off
        check "io_uring=auto: not with durability=strict" test "$(uring_mount durability=strict)" = off
        check "io_uring=on: with durability=strict" test "$(uring_mount durability=strict,io_uring=on)" = on
        echo N >"$P"
        check "io_uring: /dev/fuse when the kernel does not offer it" test "$(uring_mount)" = off
        check "io_uring=on: the start fails when the kernel does not offer it" fails_with \
                "io_uring=on, but the kernel does not offer FUSE over io_uring" "$U/src" "$U/mnt" \
                -o "journal=$U/j,replicate=off,io_uring=on"
        check "io_uring=on: nothing left mounted by the failure" bash -c "! mountpoint -q '$U/mnt'"
        echo "$uring_was" >"$P"
else
        ok "io_uring # SKIP this kernel has no FUSE over io_uring ($P)"
fi

# ---- requests read from /dev/fuse without a pipe each ----
# libfuse reads a request by splice only into a pipe that holds its whole
# buffer (1 MiB + 4 KiB here); past fs.pipe-max-size that takes
# CAP_SYS_RESOURCE, which a root without it (a container, mirrorfs@.service)
# lacks.  libfuse then made a pipe, failed to grow it and closed it again
# for every request it read (eight system calls each): the daemon asks for
# no splice of requests where a pipe cannot hold one.
if command -v strace >/dev/null; then
        W=$T/pipes
        mkdir -p "$W/src" "$W/mnt"
        for i in $(seq 200); do : >"$W/src/f$i"; done
        if mfs_mount "$W/src" "$W/mnt" "journal=$W/j,replicate=off,io_uring=off"; then
                strace -f -qq -e trace=pipe2,pipe -o "$W/strace" -p "$MFS_PID" &
                tracer=$!
                sleep 1
                for i in $(seq 200); do stat "$W/mnt/f$i" >/dev/null; done
                kill -INT "$tracer"
                wait "$tracer"
                pipes=$(grep -c 'pipe' "$W/strace")
                check "requests read without making a pipe each (200 lookups: $pipes pipes made)" \
                        test "$pipes" -lt 10
                mfs_umount "$W/mnt"
        else
                not_ok "mount (requests read without a pipe each)"
        fi
else
        ok "requests read without making a pipe each # SKIP no strace"
fi

# ---- every change leaves its record ----
if mfs_mount "$T/src" "$T/mnt" "journal=$J,target=$T/tgt,allow_other"; then
        ok "mounted"
else
        not_ok "mounted"
        tap_done
        exit 1
fi
M=$T/mnt
long=$(printf 'n%.0s' $(seq 255))             # a 255-byte name
deep=$M
for i in 1 2 3 4 5 6; do deep=$deep/$(printf "d$i%.0s" $(seq 100)); done   # > 1,000 bytes
(
        set -e
        mkdir "$M/d"
        echo data >"$M/d/f"
        echo more >>"$M/d/f"
        mv "$M/d/f" "$M/d/g"
        ln "$M/d/g" "$M/d/h1"
        ln "$M/d/g" "$M/d/h2"
        ln -s ../d/g "$M/d/s"
        mkfifo "$M/d/p"
        chmod 640 "$M/d/g"
        chown 65534:65534 "$M/d/g"
        touch -m -d @1234567890.987654321 "$M/d/g"
        truncate -s 2 "$M/d/h1"
        setfattr -n user.k -v v "$M/d/g"
        setfattr -x user.k "$M/d/g"
        rm "$M/d/h2"
        mkdir "$M/d/sub"
        echo x >"$M/d/sub/x"
        mv "$M/d/sub" "$M/d/moved"
        echo y >"$M/d/moved/y"
        mv -T "$M/d/moved/y" "$M/d/moved/x"
        python3 -c 'import os; os.rename(os.path.join("'"$M"'", "d/g"), os.path.join("'"$M"'", "d/s"))'
        mkdir "$M/e"
        python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, b"'"$M"'/d", -100, b"'"$M"'/e", 2)   # RENAME_EXCHANGE
if r != 0: raise OSError(ctypes.get_errno(), "renameat2")'
        rm -r "$M/d"
        echo long >"$M/$long"
        mkdir -p "$deep"
        echo deep >"$deep/leaf"
        rm "$M/e/p"
        rmdir "$M/e/moved" 2>/dev/null || true
) 2>&1 | sed 's/^/# /'
check "the operations through the mount succeeded" test -f "$deep/leaf"
mfs_records "$J" >"$T/records"
expect() {
        if ! grep -qxF -- "$1" "$T/records"; then
                echo "missing: $1"
                echo "journal:"
                cat "$T/records"
                return 1
        fi
}
check "mount marker" grep -q "^mount $T/src -> $T/mnt" "$T/records"
check "mkdir" expect "mkdir d"
check "create" expect "create d/f"
check "close-write" expect "close-write d/f"
check "write-intent (append)" expect "write-intent d/f"
check "rename" expect "rename d/f -> d/g"
check "link" expect "link d/h1 -> d/g"
check "symlink" expect "symlink d/s -> ../d/g"
check "mknod (fifo)" expect "mknod d/p"
check "setattr (chmod, chown, utimens, truncate)" bash -c "[ \$(grep -c '^setattr d/' '$T/records') -ge 4 ]"
# g, h1 and h2 are one inode: a record names the one it was last reached by
check "setxattr" grep -Eqx "setxattr d/(g|h1|h2)" "$T/records"
check "removexattr" grep -Eqx "removexattr d/(g|h1|h2)" "$T/records"
check "unlink of a hard link" expect "unlink d/h2"
check "directory rename" expect "rename d/sub -> d/moved"
check "a write beneath a renamed directory has the new path" expect "create d/moved/y"
check "rename over an existing file" expect "rename d/moved/y -> d/moved/x"
check "rename of a file over a symlink" expect "rename d/g -> d/s"
check "RENAME_EXCHANGE" expect "rename d -> e"
check "after the exchange, names follow" expect "unlink e/p"
check "rmdir" grep -q '^rmdir d' "$T/records"
check "255-byte name" expect "create $long"
check "path over 1,000 bytes" expect "create ${deep#$M/}/leaf"
check "journal is clean" "$MFS_JOURNAL_TOOL" check "$J"
check "reads append nothing" bash -c "
        n=\$('$MFS_JOURNAL_TOOL' dump '$J' | wc -l)
        cat '$M/$long' >/dev/null; ls -lR '$M' >/dev/null; getfattr -d '$M/$long' >/dev/null
        [ \$('$MFS_JOURNAL_TOOL' dump '$J' | wc -l) -eq \$n ]"

# ---- a daemon killed after an answered write ----
exec 7>"$M/open-while-killed"
echo "answered" >&7
kill -9 "$MFS_PID"
wait "$MFS_PID" 2>/dev/null
sleep 0.2
exec 7>&-
check "the write intent survived kill -9" bash -c "'$MFS_JOURNAL_TOOL' dump '$J' | grep -q 'create open-while-killed'"
check "the data is on the source" grep -q answered "$T/src/open-while-killed"
mfs_umount "$M" >/dev/null

# a restart on the same journal carries on numbering
last=$("$MFS_JOURNAL_TOOL" dump "$J" | tail -n 1 | cut -d' ' -f1)
if mfs_mount "$T/src" "$T/mnt" "journal=$J,target=$T/tgt"; then
        echo again >"$M/after-restart"
        mfs_umount "$M"
        check "a restart continues the journal" bash -c "'$MFS_JOURNAL_TOOL' dump '$J' --from $((last + 1)) | grep -q 'create after-restart'"
        check "a clean unmount leaves an unmount marker" bash -c "'$MFS_JOURNAL_TOOL' dump '$J' | tail -n 1 | grep -q ' unmount'"
        check "journal clean after the crash and restart" "$MFS_JOURNAL_TOOL" check "$J"
else
        not_ok "remount after kill -9"
fi

# ---- a daemon killed between announcing a create and recording it ----
# The file is made, its record never appended: the restart records it, with
# the inode the name holds now.  Without that inode the replicator took the
# one an older record of the name gave (a removed file), found another
# under the name, and never copied the new file.
rdir=$T/recover
mkdir -p "$rdir/src" "$rdir/mnt" "$rdir/tgt"
if mfs_mount "$rdir/src" "$rdir/mnt" "journal=$rdir/j,replicate=off"; then
        echo old >"$rdir/mnt/x"
        rm "$rdir/mnt/x"
        mfs_umount "$rdir/mnt"
        echo new >"$rdir/src/x"                 # made by the daemon that died
        "$MFS_BUILD/tests/journal-forge" --announce "$rdir/j" create x
        if mfs_mount "$rdir/src" "$rdir/mnt" "journal=$rdir/j,target=$rdir/tgt,socket=$rdir/sock"; then
                check "recovery records the create with the inode the name holds" bash -c \
                        "'$MFS_JOURNAL_TOOL' dump '$rdir/j' | grep -q 'create x ino=$(stat -c %i "$rdir/src/x") '"
                check "the recovered file reaches the target" bash -c \
                        "'$MFS_BUILD/tools/mirrorfsctl' --socket '$rdir/sock' sync --timeout 60 >/dev/null && grep -qx new '$rdir/tgt/x'"
                mfs_umount "$rdir/mnt"
        else
                not_ok "mount after a create was announced and not recorded"
        fi
else
        not_ok "journal-only mount"
fi

# ---- over the source itself ----
mkdir -p "$T/self"
echo before >"$T/self/old"
if mfs_mount "$T/self" "$T/self" "journal=$T/j2,target=$T/tgt"; then
        check "over itself: the old file is seen" grep -q before "$T/self/old"
        echo new >"$T/self/new"
        mv "$T/self/old" "$T/self/renamed"
        mfs_umount "$T/self"
        check "over itself: changes land in the tree beneath" bash -c "grep -q new '$T/self/new' && [ -f '$T/self/renamed' ] && [ ! -e '$T/self/old' ]"
        check "over itself: journaled" bash -c "'$MFS_JOURNAL_TOOL' dump '$T/j2' | grep -q 'rename old -> renamed'"
else
        not_ok "mount over itself"
fi

# ---- a file system mounted inside the source ----
# (its files' handles open relative to a descriptor on it: an O_PATH one
# made every request beneath it fail with EBADF)
N=$T/nest
mkdir -p "$N/src/sub" "$N/mnt" "$N/tgt"
mount -t tmpfs -o size=64m tmpfs "$N/src/sub" && MFS_MOUNTS+=("$N/src/sub")
echo old >"$N/src/sub/old"
if mfs_mount "$N/src" "$N/mnt" "journal=$N/j,target=$N/tgt"; then
        check "a file system inside the source: its files are read" grep -qx old "$N/mnt/sub/old"
        check "a file system inside the source: mkdir, write, rename, remove" bash -c "
                mkdir '$N/mnt/sub/d' && echo new >'$N/mnt/sub/d/f' && mv '$N/mnt/sub/d/f' '$N/mnt/sub/d/g' &&
                rm '$N/mnt/sub/old' && [ \"\$(cat '$N/mnt/sub/d/g')\" = new ] && [ ! -e '$N/src/sub/old' ]"
        check "a file system inside the source: mirrored" bash -c "
                '$MFS_BUILD/tools/mirrorfsctl' --mount '$N/mnt' sync --timeout 60 >/dev/null &&
                python3 '$here/treecmp.py' '$N/src' '$N/tgt'"
        mfs_umount "$N/mnt"
        check "a file system inside the source: journaled" bash -c \
                "'$MFS_JOURNAL_TOOL' dump '$N/j' | grep -q 'rename sub/d/f -> sub/d/g'"
else
        not_ok "mount (a file system inside the source)"
fi

# ---- a file deleted through the mount gives its space back ----
# (the kernel's passthrough backing file must be released with the last
# open of the file)
F=$T/free
mkdir -p "$F/src" "$F/mnt"
mount -t tmpfs -o size=256m tmpfs "$F/src" && MFS_MOUNTS+=("$F/src")
if mfs_mount "$F/src" "$F/mnt" "journal=$T/free-j,replicate=off"; then
        before=$(df --output=used -k "$F/src" | tail -n 1)
        for i in 1 2 3; do
                dd if=/dev/zero of="$F/mnt/big" bs=1M count=64 status=none conv=fsync
                rm "$F/mnt/big"
        done
        sleep 0.5
        after=$(df --output=used -k "$F/src" | tail -n 1)
        check "deleted files give their space back (used $before KiB before, $after KiB after 3 x 64 MiB)" \
                test $((after - before)) -lt 8192
        mfs_umount "$F/mnt"
else
        not_ok "mount (free)"
fi

# ---- permissions as natively: POSIX ACLs, umask under a default ACL ----
# The same steps in a native directory and through the mount; the results
# must be the same (source and native are on the same file system).
A=$T/acl
mkdir -p "$A/src" "$A/mnt" "$A/native"
chmod 711 "$T"          # user 65534 must reach the probes (mktemp -d makes 0700)
acl_steps() {   # DIR: set up, then print what each probe saw
        local d=$1
        mkdir "$d/dflt" && setfacl -d -m u::rwx,g::rwx,o::rwx "$d/dflt"
        (umask 077 && touch "$d/dflt/f" && mkdir "$d/dflt/sub")
        echo secret >"$d/granted" && chmod 600 "$d/granted" && setfacl -m u:65534:r "$d/granted"
        echo public >"$d/denied" && chmod 644 "$d/denied" && setfacl -m u:65534:- "$d/denied"
        (umask 027 && touch "$d/plain")
        stat -c '%n %a' "$d/dflt/f" "$d/dflt/sub" "$d/plain" | sed "s|^$d/||"
        echo "granted: $(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$d/granted" 2>/dev/null || echo refused)"
        echo "denied: $(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$d/denied" 2>/dev/null || echo refused)"
}
touch "$A/probe"
if ! setfacl -m u:65534:r "$A/probe" 2>/dev/null; then
        ok "# SKIP ACLs: the file system of $A has no POSIX ACLs"
elif mfs_mount "$A/src" "$A/mnt" "journal=$A/j,replicate=off,allow_other"; then
        native=$(acl_steps "$A/native")
        mounted=$(acl_steps "$A/mnt")
        check "ACLs and umask: the mount behaves as the native tree" test "$native" = "$mounted"
        [ "$native" = "$mounted" ] || diff <(echo "$native") <(echo "$mounted") | sed 's/^/# /'
        mfs_umount "$A/mnt"
else
        not_ok "mount (acl)"
fi

# ---- mount(8) through mount.fuse3 ----
# mount(8) runs helpers with a fixed PATH, so the uninstalled program is
# named with the "-t fuse PROGRAM#SOURCE" form (installed: -t fuse.mirrorfs).
mkdir -p "$T/m8"
if mount -t fuse "$MFS_BIN#$T/src" "$T/m8" -o "journal=$T/j3,target=$T/tgt" 2>"$T/mount.err"; then
        MFS_MOUNTS+=("$T/m8")
        check "mount -t fuse (mount.fuse3)" bash -c "grep -q ' $T/m8 fuse.mirrorfs ' /proc/mounts && [ -f '$T/m8/after-restart' ]"
        echo via-mount8 >"$T/m8/via-mount8"
        umount "$T/m8"
        for _ in $(seq 100); do pgrep -f "mirrorfs $T/src $T/m8" >/dev/null || break; sleep 0.05; done
        check "mount -t: journaled" bash -c "'$MFS_JOURNAL_TOOL' dump '$T/j3' | grep -q 'create via-mount8'"
else
        not_ok "mount -t fuse: $(cat "$T/mount.err")"
fi


# ---- O_APPEND beside other opens of the same file ----
# The kernel wants every open of an inode on one data path: with kernel
# passthrough, an O_APPEND open (through the daemon) and any other open
# (passthrough) of the same file failed with EIO, whichever came second
# ("tail -f log" while something appends).  So did a setuid file written
# by a user while open elsewhere.  The same steps run in a native directory
# and through the mount, with each data path, and must see the same.
append_steps() {        # DIR: print what each step saw
        local d=$1
        echo first >"$d/log"
        (exec 3<"$d/log"; echo second >>"$d/log") 2>&1
        (exec 3>>"$d/log"; cat "$d/log"; echo third >&3; cat "$d/log") 2>&1
        python3 - "$d" <<'EOF'
import fcntl, mmap, os, sys
os.chdir(sys.argv[1])
def at(tag, fd):
    print(tag, os.fstat(fd).st_size, os.lseek(fd, 0, os.SEEK_CUR))
with open("f", "wb") as f:
    f.write(b"0123456789")
# Opened with O_APPEND while open for reading; then fcntl() clears and
# sets it: every write at the end only while it is set, pwrite() too.
r = os.open("f", os.O_RDONLY)
a = os.open("f", os.O_RDWR | os.O_APPEND)
os.lseek(a, 0, os.SEEK_SET); os.write(a, b"A"); at("append", a)
os.pwrite(a, b"B", 1); at("pwrite, append", a)
fcntl.fcntl(a, fcntl.F_SETFL, 0)
os.lseek(a, 1, os.SEEK_SET); os.write(a, b"C"); at("cleared", a)
os.pwrite(a, b"D", 3); at("pwrite, cleared", a)
fcntl.fcntl(a, fcntl.F_SETFL, os.O_APPEND)
os.lseek(a, 0, os.SEEK_SET); os.write(a, b"E"); at("set again", a)
print("flags", oct(fcntl.fcntl(a, fcntl.F_GETFL) & (os.O_APPEND | os.O_ACCMODE)))
print("read beside", os.pread(r, 100, 0))
m = mmap.mmap(a, 4)
m[0:1] = b"M"
m.close()
os.close(a); os.close(r)
# Opened without O_APPEND, set and cleared by fcntl(), beside an O_APPEND open.
w = os.open("f", os.O_WRONLY)
a = os.open("f", os.O_WRONLY | os.O_APPEND)
fcntl.fcntl(w, fcntl.F_SETFL, os.O_APPEND)
os.lseek(w, 0, os.SEEK_SET); os.write(w, b"F"); at("set by fcntl", w)
os.write(a, b"G"); at("append beside", a)
fcntl.fcntl(w, fcntl.F_SETFL, 0)
os.lseek(w, 2, os.SEEK_SET); os.write(w, b"H"); at("cleared by fcntl", w)
os.close(w); os.close(a)
print("content", open("f", "rb").read())
# Appenders at once, through O_APPEND opens and through O_APPEND set by
# fcntl(), beside a reader: every record whole, none lost.
open("race", "wb").close()
r = os.open("race", os.O_RDONLY)
kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        fd = os.open("race", os.O_WRONLY | (os.O_APPEND if i % 2 else 0))
        fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND)
        for _ in range(1000):
            os.write(fd, b"%d" % i * 15 + b"\n")
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
lines = open("race", "rb").read().split(b"\n")
print("race", len(lines) - 1, all(len(set(l)) == 1 and len(l) == 15 for l in lines[:-1]), lines[-1])
os.close(r)
EOF
        # A user without CAP_FSETID writes a setuid file open elsewhere:
        # the write goes through and drops the bit.
        echo data >"$d/suid" && chmod 4777 "$d/suid"
        (exec 3<"$d/suid"; setpriv --reuid=65534 --regid=65534 --clear-groups \
                sh -c 'echo more >>"$1"' sh "$d/suid") 2>&1
        stat -c 'suid %a %s' "$d/suid"
}
P=$T/append
mkdir -p "$P/native" "$P/src" "$P/mnt"
chmod o+x "$T" "$P"                             # for the test user
chmod 777 "$P/native" "$P/src"
native=$(append_steps "$P/native")
for variant in "passthrough=auto" "passthrough=off"; do
        if mfs_mount "$P/src" "$P/mnt" "journal=$P/j,replicate=off,allow_other,$variant"; then
                mounted=$(append_steps "$P/mnt")
                check "O_APPEND beside other opens, fcntl(F_SETFL), racing appenders: as natively ($variant)" \
                        test "$native" = "$mounted"
                [ "$native" = "$mounted" ] || diff <(echo "$native") <(echo "$mounted") | sed 's/^/# /'
                mfs_umount "$P/mnt"
                rm -rf "${P:?}/src/"*
        else
                not_ok "mount ($variant)"
        fi
done

# ---- attribute changes through a descriptor of a removed inode ----
# A removed directory cannot be opened by handle any more, nor a removed
# file nothing holds open on the source: the kernel's O_PATH descriptors,
# working directories and open directories of them got ESTALE from
# chmod, chown, utime and xattrs.  Natively these work.
removed_steps() {       # DIR: print what each step saw
        python3 - "$1" <<'EOF'
import os, sys
os.chdir(sys.argv[1])
def attempt(tag, fn):
    try:
        r = fn()
        print(tag, "ok" if r is None else r)
    except OSError as e:
        print(tag, e.strerror)
def battery(kind, fd):
    p = "/proc/self/fd/%d" % fd
    attempt(kind + ": utime", lambda: os.utime(p, (1000, 2000)))
    attempt(kind + ": chmod", lambda: os.chmod(p, 0o701))
    attempt(kind + ": chown", lambda: os.chown(p, 65534, 65534))
    attempt(kind + ": setxattr", lambda: os.setxattr(p, "user.k", b"v"))
    attempt(kind + ": getxattr", lambda: os.getxattr(p, "user.k"))
    attempt(kind + ": removexattr", lambda: os.removexattr(p, "user.k"))
    attempt(kind + ": stat", lambda: (lambda s: "%o %d %d %d" % (s.st_mode, s.st_uid, s.st_nlink, s.st_mtime))(os.stat(p)))
    os.close(fd)
os.mkdir("d")
fd = os.open("d", os.O_PATH | os.O_DIRECTORY)
os.rmdir("d")
attempt("directory: list", lambda: os.listdir("/proc/self/fd/%d" % fd))
battery("directory", fd)
os.mkdir("od")
fd = os.open("od", os.O_RDONLY | os.O_DIRECTORY)
os.rmdir("od")
attempt("open directory: fchmod", lambda: os.fchmod(fd, 0o711))
attempt("open directory: fstat", lambda: "%o" % os.fstat(fd).st_mode)
os.close(fd)
with open("f", "w") as f:
    f.write("data")
fd = os.open("f", os.O_PATH)
os.unlink("f")
attempt("file: read", lambda: open("/proc/self/fd/%d" % fd).read())
attempt("file: truncate", lambda: os.truncate("/proc/self/fd/%d" % fd, 2))
battery("file", fd)
with open("g", "w") as f:
    f.write("old")
with open("g2", "w") as f:
    f.write("new")
fd = os.open("g", os.O_PATH)
os.rename("g2", "g")
battery("file renamed over", fd)
os.mkdir("e"); os.mkdir("e2")
fd = os.open("e", os.O_PATH)
os.rename("e2", "e")
battery("directory renamed over", fd)
pid = os.fork()
if pid == 0:
    os.mkdir("cwd")
    os.chdir("cwd")
    os.rmdir("../cwd")
    attempt("working directory: chmod", lambda: os.chmod(".", 0o700))
    attempt("working directory: utime", lambda: os.utime(".", (5, 6)))
    sys.stdout.flush()
    os._exit(0)
os.waitpid(pid, 0)
EOF
}
R=$T/removed
mkdir -p "$R/native" "$R/src" "$R/mnt"
native=$(removed_steps "$R/native")
for variant in "passthrough=auto" "passthrough=off"; do
        if mfs_mount "$R/src" "$R/mnt" "journal=$R/j,replicate=off,$variant"; then
                mounted=$(removed_steps "$R/mnt")
                check "attribute changes of removed inodes: as natively ($variant)" test "$native" = "$mounted"
                [ "$native" = "$mounted" ] || diff <(echo "$native") <(echo "$mounted") | sed 's/^/# /'
                # Once the kernel forgets them, the daemon lets them go.
                check "no descriptor of a removed inode left in the daemon ($variant)" bash -c "
                        for _ in \$(seq 50); do
                                ls -l /proc/$MFS_PID/fd | grep -q '(deleted)' || exit 0
                                sleep 0.1
                        done
                        ls -l /proc/$MFS_PID/fd | grep '(deleted)'; exit 1"
                mfs_umount "$R/mnt"
                check "changes to removed inodes: no events-lost record ($variant)" bash -c \
                        "! '$MFS_JOURNAL_TOOL' dump '$R/j' | grep -q events-lost"
                rm -rf "${R:?}/src/"*
        else
                not_ok "mount ($variant)"
        fi
done
# The descriptors kept for removed inodes are bounded (an eighth of the
# daemon's limit): beyond, ESTALE as before, and the mount keeps serving.
real_bin=$MFS_BIN
MFS_BIN=$(mfs_wrapper "$R" "ulimit -n 256 &&")
if mfs_mount "$R/src" "$R/mnt" "journal=$R/j2,replicate=off,dircache=16"; then
        out=$(python3 - "$R/mnt" <<'EOF' 2>&1
import os, sys
os.chdir(sys.argv[1])
fds, ok = [], 0
for i in range(100):
    os.mkdir("d%d" % i)
    fds.append(os.open("d%d" % i, os.O_PATH | os.O_DIRECTORY))
    os.rmdir("d%d" % i)
for fd in fds:
    try:
        os.chmod("/proc/self/fd/%d" % fd, 0o700)
        ok += 1
    except OSError:
        pass
with open("after", "w") as f:
    f.write("still serving")
print(ok, open("after").read())
EOF
)
        check "a bounded number of removed inodes is kept: $out" bash -c "
                set -- $out
                [ \"\$1\" -ge 16 ] && [ \"\$1\" -le 32 ] && [ \"\$2 \$3\" = 'still serving' ]"
        mfs_umount "$R/mnt"
else
        not_ok "mount with 256 descriptors"
fi
MFS_BIN=$real_bin

tap_done
