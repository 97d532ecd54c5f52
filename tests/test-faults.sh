#!/usr/bin/env bash
# Faults and hostile input for the replicator: a journal with crafted paths
# and symlinks planted in the target (nothing may be written, removed or
# changed outside the target), a target that fills up and is freed, a
# target that turns read-only and back, a target unmounted and back, a
# target whose disk stalls and recovers, a sync that hangs on the source (it
# holds up no other request), a removed file slow to free (the same), a
# journal whose disk fills up.
# Jobs writing through the mount never see an error; the mirror converges
# once the fault is gone.  TAP.
#
#   tests/test-faults.sh BUILDDIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: test-faults.sh BUILDDIR}"
trap mfs_cleanup EXIT
T=$MFS_TMP
REPL=$MFS_BUILD/tools/mirrorfs-replicator
FORGE=$MFS_BUILD/tests/journal-forge

wait_applied() {
        local j=$1 limit=${2:-600} i head cur
        for i in $(seq "$limit"); do
                head=$("$MFS_JOURNAL_TOOL" ls "$j" | sed -n 's/.*head seq \([0-9]*\).*/\1/p')
                cur=$("$MFS_JOURNAL_TOOL" ls "$j" | awk '$1 == "replicator" { print $2 }')
                [ -n "$cur" ] && [ "$cur" = "$head" ] && return 0
                sleep 0.1
        done
        echo "cursor ${cur:-none} never reached head $head"
        return 1
}
cursor_of() { "$MFS_JOURNAL_TOOL" ls "$1" | awk '$1 == "replicator" { print $2 }'; }
head_of() { "$MFS_JOURNAL_TOOL" ls "$1" | sed -n 's/.*head seq \([0-9]*\).*/\1/p'; }
listing() { (cd "$1" && find . -printf '%p %y %s %m\n' | sort); }

# ---- a journal with hostile paths ----
H=$T/hostile
mkdir -p "$H/src/planted" "$H/src/d/link" "$H/tgt/d" "$H/outside" "$H/j"
echo canary >"$H/outside/canary"
echo x >"$H/src/planted/x"
echo y >"$H/src/d/link/y"
echo ok >"$H/src/fine"
ln -s "$H/outside" "$H/tgt/planted"     # where the source has a directory
ln -s "$H/outside" "$H/tgt/d/link"
before=$(listing "$H/outside")
long=$(printf 'n%.0s' $(seq 256))
"$FORGE" "$H/j" \
        create '../escape' create '/etc/abs' create 'a/../../b' create 'a//b' create './a' create 'a/.' \
        create "$long" create 'trailing/' create '' \
        rename fine '../out' rename '../../etc/passwd' fine link new '../../etc/passwd' \
        symlink sl '/etc/shadow' unlink '../outside/canary' rmdir '..' \
        create planted/x create d/link/y create fine
rc=0
"$REPL" --journal "$H/j" --source "$H/src" --target "$H/tgt" --once -q 2>"$T/hostile.err" || rc=$?
check "hostile journal: --once exits 1 (dead letters), does not crash" test "$rc" -eq 1
check "hostile journal: nothing outside the target changed" test "$before" = "$(listing "$H/outside")"
check "hostile journal: the canary is intact" grep -qx canary "$H/outside/canary"
check "hostile journal: /etc untouched" bash -c "[ ! -e /etc/abs ] && [ ! -e /etc/out ] && [ ! -e '$T/escape' ]"
check "hostile journal: planted symlinks replaced by real directories" bash -c \
        "[ -d '$H/tgt/planted' ] && [ ! -L '$H/tgt/planted' ] && grep -qx x '$H/tgt/planted/x' && \
         [ -d '$H/tgt/d/link' ] && [ ! -L '$H/tgt/d/link' ] && grep -qx y '$H/tgt/d/link/y'"
check "hostile journal: the honest record was applied" grep -qx ok "$H/tgt/fine"
# 15 hostile records, 13 invalid: "" is the root and a symlink's target is not a path
check "hostile journal: invalid paths are dead letters, with their reason" bash -c \
        "grep -c 'invalid path' '$H/j/deadletters.replicator' | grep -qx 13"
check "hostile journal: a second run has nothing left to do" "$REPL" --journal "$H/j" --source "$H/src" --target "$H/tgt" --once -q

# ---- a symlink planted in the target while mirroring ----
P=$T/planted
mkdir -p "$P/src" "$P/mnt" "$P/tgt" "$P/outside"
if mfs_mount "$P/src" "$P/mnt" "journal=$P/j,target=$P/tgt"; then
        ln -s "$P/outside" "$P/tgt/dir"
        mkdir "$P/mnt/dir" && echo inside >"$P/mnt/dir/f" && mkdir "$P/mnt/dir/sub" && echo deep >"$P/mnt/dir/sub/g"
        check "planted: converges" wait_applied "$P/j"
        check "planted: nothing written through the planted symlink" test -z "$(ls -A "$P/outside")"
        check "planted: the target has a real directory" bash -c "[ ! -L '$P/tgt/dir' ] && grep -qx inside '$P/tgt/dir/f'"
        check "planted: target equals source" python3 "$here/treecmp.py" "$P/src" "$P/tgt"
        mfs_umount "$P/mnt"
else
        not_ok "mount (planted)"
fi

# ---- a target that fills up, then gets room ----
F=$T/full
mkdir -p "$F/src" "$F/mnt" "$F/tgt"
mount -t tmpfs -o size=2m tmpfs "$F/tgt" && MFS_MOUNTS+=("$F/tgt")
if mfs_mount "$F/src" "$F/mnt" "journal=$F/j,target=$F/tgt"; then
        errors=0
        for i in $(seq 8); do
                dd if=/dev/urandom of="$F/mnt/f$i" bs=1M count=1 status=none 2>/dev/null || errors=$((errors + 1))
        done
        check "full target: jobs writing through the mount see no error" test "$errors" -eq 0
        sleep 2
        check "full target: the cursor waits (the work stays in the journal)" \
                test "$(cursor_of "$F/j")" != "$(head_of "$F/j")"
        check "full target: the mount keeps serving" bash -c "echo still >'$F/mnt/still' && grep -qx still '$F/mnt/still'"
        mount -o remount,size=64m "$F/tgt"
        check "full target: converges by itself once there is room" wait_applied "$F/j" 900
        check "full target: target equals source" python3 "$here/treecmp.py" "$F/src" "$F/tgt"
        # ---- the same target turned read-only, then writable again ----
        mount -o remount,ro "$F/tgt"
        for i in $(seq 5); do echo "ro $i" >"$F/mnt/ro$i"; done
        mkdir "$F/mnt/rodir" && echo deep >"$F/mnt/rodir/x"
        sleep 1.5
        check "read-only target: the cursor waits" test "$(cursor_of "$F/j")" != "$(head_of "$F/j")"
        mount -o remount,rw "$F/tgt"
        check "read-only target: converges by itself when writable again" wait_applied "$F/j" 900
        check "read-only target: target equals source" python3 "$here/treecmp.py" "$F/src" "$F/tgt"
        mfs_umount "$F/mnt"
else
        not_ok "mount (full)"
fi

# ---- a target unmounted and mounted again ----
U=$T/unmount
mkdir -p "$U/src" "$U/mnt" "$U/real" "$U/tgt"
mount --bind "$U/real" "$U/tgt" && MFS_MOUNTS+=("$U/tgt")
if mfs_mount "$U/src" "$U/mnt" "journal=$U/j,target=$U/tgt"; then
        echo first >"$U/mnt/first"
        check "unmounted target: converges first" wait_applied "$U/j"
        umount -l "$U/tgt"
        for i in $(seq 20); do echo "while away $i" >"$U/mnt/away$i"; done
        sleep 1.5
        check "unmounted target: nothing written into the bare mount point" test -z "$(ls -A "$U/tgt")"
        check "unmounted target: the cursor waits" test "$(cursor_of "$U/j")" != "$(head_of "$U/j")"
        check "unmounted target: the mount keeps serving" grep -qx "while away 20" "$U/mnt/away20"
        mount --bind "$U/real" "$U/tgt"
        check "unmounted target: resumes by itself when it is back" wait_applied "$U/j" 900
        check "unmounted target: target equals source" python3 "$here/treecmp.py" "$U/src" "$U/tgt"
        mfs_umount "$U/mnt"
else
        not_ok "mount (unmount)"
fi

# ---- the target's disk stalls (its syncs hang), then recovers ----
# The target is an ext4 on a loop device whose image lies on another
# mirrorfs mount (passthrough off: every write to the image goes through
# that daemon); stopping that daemon (SIGSTOP) stalls the disk as a virtual
# disk or a SAN path can: copies still land in the page cache, syncfs()
# waits.  The status must say so, and nothing may be lost.
S=$T/stall
stall_pid=
mkdir -p "$S/back" "$S/bmnt" "$S/src" "$S/mnt" "$S/tgt"
stall_pids=()
stall_mounts=()         # mounted over a stopped daemon: unmounted first, in this order
stall_cleanup() {       # before mfs_cleanup: the stopped daemons first
        local p m
        for p in $stall_pid "${stall_pids[@]}"; do kill -CONT "$p" 2>/dev/null; done
        for m in "$S/mnt" "$S/tgt" "${stall_mounts[@]}"; do
                if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m"; fi
        done
        return 0
}
trap 'stall_cleanup; mfs_cleanup' EXIT
stall_status() { "$MFS_BUILD/tools/mirrorfsctl" --socket "$S/sock" status "$@"; }
# wait_sync_s N: until the running sync of the target has taken N s (60 s at most)
wait_sync_s() {
        local i
        for i in $(seq 600); do
                stall_status --json | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["target_sync_s"] >= float(sys.argv[1]) else 1)' "$1" && return 0
                sleep 0.1
        done
        stall_status
        return 1
}
if mfs_mount "$S/back" "$S/bmnt" "journal=$S/bj,replicate=off,passthrough=off" && stall_pid=$MFS_PID &&
    truncate -s 256M "$S/bmnt/disk" && mkfs.ext4 -q -F "$S/bmnt/disk" && mount -o loop "$S/bmnt/disk" "$S/tgt" &&
    rmdir "$S/tgt/lost+found" && mfs_mount "$S/src" "$S/mnt" "journal=$S/j,target=$S/tgt,socket=$S/sock"; then
        echo first >"$S/mnt/first"
        check "stalled target disk: converges first" \
                "$MFS_BUILD/tools/mirrorfsctl" --socket "$S/sock" sync --timeout 60
        kill -STOP "$stall_pid"
        errors=0
        for i in $(seq 50); do echo "while stalled $i" >"$S/mnt/s$i" || errors=$((errors + 1)); done
        check "stalled target disk: jobs writing through the mount see no error" test "$errors" -eq 0
        check "stalled target disk: the status shows the sync running 5 s" wait_sync_s 5
        check "stalled target disk: the text status says so (TARGET line)" bash -c \
                "'$MFS_BUILD/tools/mirrorfsctl' --socket '$S/sock' status | grep -q '^  TARGET .*sync has taken'"
        check "stalled target disk: the cursor waits" test "$(cursor_of "$S/j")" != "$(head_of "$S/j")"
        check "stalled target disk: degraded once the sync has run 30 s" bash -c \
                "$(declare -f wait_sync_s stall_status); MFS_BUILD='$MFS_BUILD' S='$S'; wait_sync_s 30 &&
                 stall_status --json | grep -q '\"state\":\"degraded\"'"
        kill -CONT "$stall_pid"
        check "stalled target disk: converges once the disk is back" \
                "$MFS_BUILD/tools/mirrorfsctl" --socket "$S/sock" sync --timeout 120
        check "stalled target disk: mirroring again" bash -c \
                "'$MFS_BUILD/tools/mirrorfsctl' --socket '$S/sock' status --json | grep -q '\"state\":\"mirroring\"'"
        check "stalled target disk: target equals source" python3 "$here/treecmp.py" "$S/src" "$S/tgt"
        mfs_umount "$S/mnt"
        umount "$S/tgt"
else
        not_ok "mount (stalled target disk)"
fi

# ---- a sync that hangs holds up no other request ----
# Over io_uring each CPU's requests are answered in turn by one thread: a
# sync answered there would hold every request of that CPU.  A file and a
# directory on an ext4 whose loop image lies on a stopped mirrorfs (as
# above) are synced through the mount, so the syncs hang; other processes
# on the same CPU must still be answered.  (Over /dev/fuse other worker
# threads answer them: the test holds for both.)
Q=$T/slowsync
mkdir -p "$Q/back" "$Q/bmnt" "$Q/src/slow" "$Q/src/fast" "$Q/mnt"
if mfs_mount "$Q/back" "$Q/bmnt" "journal=$Q/bj,replicate=off,passthrough=off" && stall_pids+=("$MFS_PID") &&
    truncate -s 64M "$Q/bmnt/disk" && mkfs.ext4 -q -F "$Q/bmnt/disk" && mount -o loop "$Q/bmnt/disk" "$Q/src/slow" &&
    stall_mounts+=("$Q/mnt" "$Q/src/slow") &&
    mfs_mount "$Q/src" "$Q/mnt" "journal=$Q/j,replicate=off,passthrough=off,socket=$Q/sock"; then
        transport=$("$MFS_BUILD/tools/mirrorfsctl" --socket "$Q/sock" status --json |
                python3 -c 'import json, sys; print("io_uring" if json.load(sys.stdin)["io_uring"] else "/dev/fuse")')
        mkdir "$Q/mnt/slow/d"
        head -c 4M /dev/urandom >"$Q/mnt/slow/d/f"
        kill -STOP "${stall_pids[-1]}"
        # pinned to CPU 0, as what follows: the same io_uring queue
        taskset -c 0 python3 -c 'import os, sys
f = os.open(sys.argv[1] + "/f", os.O_WRONLY)
os.write(f, b"x" * 65536)
os.fsync(f)
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.fsync(d)' "$Q/mnt/slow/d" &
        syncer=$!
        sleep 1
        check "a hung sync: still hung (its disk is stopped)" kill -0 "$syncer"
        # (a request taken into a queue cannot be interrupted: wait
        # here, and let the disk go before judging, so that a failure
        # ends)
        taskset -c 0 python3 -c 'import os, sys
for i in range(20):
    p = "%s/n%d" % (sys.argv[1], i)
    with open(p, "w") as f:
        f.write("while a sync hangs")
    os.stat(p)
    os.rename(p, p + ".done")' "$Q/mnt/fast" &
        other=$!
        for i in $(seq 200); do
                kill -0 "$other" 2>/dev/null || break
                sleep 0.1
        done
        held=no
        kill -0 "$other" 2>/dev/null && held="yes, for 20 s"
        kill -CONT "${stall_pids[-1]}"
        rc=0
        wait "$other" || rc=$?
        check "a hung sync holds up no other request on its CPU (requests over $transport; held: $held)" \
                test "$held" = no -a "$rc" -eq 0
        rc=0
        wait "$syncer" || rc=$?
        check "a hung sync: returns once its disk is back" test "$rc" -eq 0
        mfs_umount "$Q/mnt"
        umount "$Q/src/slow"
else
        not_ok "mount (a hung sync)"
fi

# ---- freeing a removed file holds up no other request ----
# The daemon keeps a descriptor of a removed file the kernel still holds
# (an O_PATH descriptor here) and closes it when the kernel forgets the
# file; that close frees the file, which on a busy disk takes long (made
# 6 s by a shim, tests/slow-close.c).  It ran under the inode table's
# lock, so every lookup and create waited for it.
F=$T/slowfree
mkdir -p "$F/src" "$F/mnt"
real_bin=$MFS_BIN
MFS_BIN=$(mfs_wrapper "$F" "LD_PRELOAD=$MFS_BUILD/tests/slow-close.so MFS_SLOW_CLOSE_MS=6000")
if mfs_mount "$F/src" "$F/mnt" "journal=$F/j,replicate=off"; then
        out=$(python3 - "$F/mnt" <<'EOF' 2>&1
import os, sys, time
os.chdir(sys.argv[1])
with open("gone", "w") as f:
    f.write("freed slowly")
fd = os.open("gone", os.O_PATH)
os.unlink("gone")               # the daemon keeps a descriptor of it
os.close(fd)                    # the kernel forgets it: the daemon closes it
time.sleep(0.5)
t0 = time.monotonic()
for i in range(20):
    with open("n%d" % i, "w") as f:
        f.write("while a removed file is freed")
    os.stat("n%d" % i)
print("held %.1f s" % (time.monotonic() - t0))
EOF
)
        secs=$(echo "$out" | sed -n 's/^held \([0-9.]*\) s$/\1/p')
        check "freeing a removed file holds up no other request ($out)" \
                awk -v s="${secs:-99}" 'BEGIN { exit !(s < 3) }'
        mfs_umount "$F/mnt"
else
        not_ok "mount (a removed file freed slowly)"
fi
MFS_BIN=$real_bin

# ---- the journal's file system fills up, then gets room ----
JF=$T/jfull
mkdir -p "$JF/src" "$JF/mnt" "$JF/tgt" "$JF/jfs"
mount -t tmpfs -o size=1200k tmpfs "$JF/jfs" && MFS_MOUNTS+=("$JF/jfs")
if mfs_mount "$JF/src" "$JF/mnt" "journal=$JF/jfs/j,target=$JF/tgt,segment_size=1M,socket=$JF/sock"; then
        check "journal full: jobs writing through the mount see no error" python3 -c '
import os, sys
d = sys.argv[1]
for i in range(6000):
    with open(os.path.join(d, "file-%05d-with-a-longish-name" % i), "w") as f:
        f.write("x")' "$JF/mnt"
        check "journal full: the file system is full" bash -c "[ \$(df --output=avail -k '$JF/jfs' | tail -n 1) -lt 64 ]"
        jstate=$("$MFS_BUILD/tools/mirrorfsctl" --socket "$JF/sock" status --json)
        check "journal full: status says degraded, changes held in memory, ENOSPC" python3 -c '
import json, sys
st = json.loads(sys.argv[1])
assert st["state"] == "degraded", st["state"]
assert st["journal"]["held"] > 0, st["journal"]
assert st["journal"]["error"] == "ENOSPC", st["journal"]' "$jstate"
        mount -o remount,size=64m "$JF/jfs"
        check "journal full: once there is room, everything converges" \
                "$MFS_BUILD/tools/mirrorfsctl" --socket "$JF/sock" sync --timeout 120
        check "journal full: target equals source" python3 "$here/treecmp.py" "$JF/src" "$JF/tgt"
        check "journal full: the check repaired nothing" mfs_check_clean "$JF/sock"
        check "journal full: nothing was lost (no events-lost, nothing held)" python3 -c '
import json, subprocess, sys
st = json.loads(subprocess.check_output([sys.argv[1], "--socket", sys.argv[2], "status", "--json"]))
assert st["events_lost"] == 0 and st["journal"]["held"] == 0 and st["state"] == "mirroring", st' \
                "$MFS_BUILD/tools/mirrorfsctl" "$JF/sock"
        mfs_umount "$JF/mnt"
        check "journal full: the journal checks clean" "$MFS_JOURNAL_TOOL" check "$JF/jfs/j"
else
        not_ok "mount (journal full)"
fi

# ---- the journal fills up while the replicator is paused: once resumed,
# trimming what it applied makes the room (no operator needed) ----
JP=$T/jpause
mkdir -p "$JP/src" "$JP/mnt" "$JP/tgt" "$JP/jfs"
mount -t tmpfs -o size=2400k tmpfs "$JP/jfs" && MFS_MOUNTS+=("$JP/jfs")
if mfs_mount "$JP/src" "$JP/mnt" "journal=$JP/jfs/j,target=$JP/tgt,segment_size=1M,socket=$JP/sock"; then
        "$MFS_BUILD/tools/mirrorfsctl" --socket "$JP/sock" pause >/dev/null
        check "journal full while paused: jobs see no error" python3 -c '
import os, sys
d = sys.argv[1]
for i in range(12000):
    with open(os.path.join(d, "file-%05d-with-a-longish-name" % i), "w") as f:
        f.write("x")' "$JP/mnt"
        check "journal full while paused: changes are held" bash -c \
                "'$MFS_BUILD/tools/mirrorfsctl' --socket '$JP/sock' status --json | grep -q '\"held\":[1-9]'"
        "$MFS_BUILD/tools/mirrorfsctl" --socket "$JP/sock" resume >/dev/null
        check "journal full while paused: resumed, it converges by itself" \
                "$MFS_BUILD/tools/mirrorfsctl" --socket "$JP/sock" sync --timeout 120
        check "journal full while paused: target equals source" python3 "$here/treecmp.py" "$JP/src" "$JP/tgt"
        # the files whose records the mount held in memory are no bug of the
        # replicator: its check waits for them (it took 6,539 of them for
        # repairs, and once ran out the sync's 120 s)
        check "journal full while paused: the check repaired nothing" mfs_check_clean "$JP/sock"
        mfs_umount "$JP/mnt"
else
        not_ok "mount (journal full while paused)"
fi

# ---- one replicator per journal and cursor ----
C=$T/cursor
mkdir -p "$C/src" "$C/mnt" "$C/tgt" "$C/tgt2"
if mfs_mount "$C/src" "$C/mnt" "journal=$C/j,target=$C/tgt"; then
        rc=0
        "$REPL" --journal "$C/j" --source "$C/src" --target "$C/tgt2" --once -q 2>"$C/err" || rc=$?
        check "cursor lock: a standalone replicator on the mount's cursor is refused" bash -c \
                "[ $rc -eq 1 ] && grep -q 'another replicator uses cursor' '$C/err'"
        check "...and copied nothing" test -z "$(ls -A "$C/tgt2")"
        check "cursor lock: another cursor is fine" "$REPL" --journal "$C/j" --source "$C/src" \
                --target "$C/tgt2" --cursor second --once -q
        mfs_umount "$C/mnt"
else
        not_ok "mount (cursor)"
fi
rc=0
"$REPL" --journal "$C/j" --source "$C/src" --target "$C/tgt2" --cursor 'a b' --once 2>"$C/err" || rc=$?
check "cursor name: a bad one is a usage error (exit 2) naming the rule" bash -c \
        "[ $rc -eq 2 ] && grep -q 'is not 1 to 64' '$C/err'"
check "...and leaves no lock file behind" bash -c "! ls '$C/j' | grep -q 'a b'"
rc=0
"$REPL" --journal "$C/j" --source "$C/src" --target "$C/tgt2" --cursor x/y --once 2>/dev/null || rc=$?
check "cursor name: a slash is a usage error" test "$rc" -eq 2
tap_done
