#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# sandbox.sh: run the systemd units for real on a machine (or container)
# where systemd is not PID 1: boots a private systemd as PID 1 of new PID,
# mount, cgroup, UTS and IPC namespaces, with only the units it needs
# (targets, journald, mirrorfs's units), so that Type=notify, the stop and
# drain, restart on failure, the journal and the hardening can be tried.
# A developer's tool, not a test meson runs: it needs root, unshare(1) and
# a writable cgroup2 hierarchy.
#
#   systemd/sandbox.sh start ROOT   boot; ROOT is a "meson install --destdir"
#                                   tree of prefix /usr/local, bind-mounted
#                                   over /usr/local (its units, programs and
#                                   ROOT/usr/local/etc/mirrorfs/*.conf)
#   systemd/sandbox.sh start -      boot with the installed package's units
#   systemd/sandbox.sh run CMD...   run CMD inside (systemctl, journalctl,
#                                   mirrorfsctl, a shell)
#   systemd/sandbox.sh stop         kill it: every process and mount in it
#
# Example:
#   meson install -C build --destdir /tmp/mfs-root --skip-subprojects
#   (write /tmp/mfs-root/usr/local/etc/mirrorfs/t1.conf)
#   systemd/sandbox.sh start /tmp/mfs-root
#   systemd/sandbox.sh run systemctl start mirrorfs@t1
#   systemd/sandbox.sh run journalctl -u mirrorfs@t1
#   systemd/sandbox.sh stop
#
# What it shares with the machine: the file systems (so the trees to mirror
# can be anywhere but /run), the kernel, /dev/fuse.  What it does not: /run
# (a tmpfs), /etc/systemd/system (empty), the unit and generator directories
# (only the units named below; no SysV scripts, only the fstab generator,
# reading the empty WORK/fstab), the mounts it makes.
set -euo pipefail

WORK=${SANDBOX_DIR:-/tmp/mirrorfs-sandbox}

die() { printf 'sandbox: %s\n' "$*" >&2; exit 1; }
# every process of the sandbox: systemd moves itself to init.scope
procs() { find "$CG" -name cgroup.procs -exec cat {} + 2>/dev/null || true; }
# the sandbox's PID 1, as a PID here
pid1() {
        local p
        for p in $(procs); do
                if [ "$(cat /proc/$p/comm 2>/dev/null)" = systemd ] && \
                   grep -q '^NSpid:.*[[:space:]]1$' /proc/$p/status 2>/dev/null; then
                        echo "$p"
                        return
                fi
        done
}

# the cgroup2 hierarchy and our cgroup in it
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        CG=/sys/fs/cgroup/mirrorfs-sandbox
elif [ -d /sys/fs/cgroup/unified ]; then
        CG=/sys/fs/cgroup/unified/mirrorfs-sandbox
else
        die "no cgroup2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified)"
fi

start() {
        local root=$1
        [ "$(id -u)" -eq 0 ] || die "needs root"
        [ -z "$(pid1)" ] || die "already running (systemd/sandbox.sh stop)"
        [ "$root" = - ] || [ -d "$root/usr/local" ] || die "'$root' has no usr/local"
        mkdir -p "$WORK" "$CG"
        rm -rf "${WORK:?}/units" "$WORK/gen" "$WORK/etc-units"
        mkdir -p "$WORK/units/sockets.target.wants" "$WORK/units/sysinit.target.wants" "$WORK/gen" "$WORK/etc-units"
        : >"$WORK/fstab"
        local u
        for u in basic sysinit local-fs local-fs-pre remote-fs remote-fs-pre sockets timers paths slices \
                 shutdown umount final multi-user network network-pre network-online exit poweroff halt; do
                cp /lib/systemd/system/$u.target "$WORK/units/"
        done
        cp /lib/systemd/system/systemd-journald.service /lib/systemd/system/systemd-journald.socket \
           /lib/systemd/system/systemd-journald-dev-log.socket "$WORK/units/"
        ln -s ../systemd-journald.socket ../systemd-journald-dev-log.socket "$WORK/units/sockets.target.wants/"
        ln -s ../systemd-journald.service "$WORK/units/sysinit.target.wants/"
        ln -s multi-user.target "$WORK/units/default.target"
        cp /lib/systemd/system/mirrorfs*@.service "$WORK/units/" 2>/dev/null || true
        cp /lib/systemd/system-generators/systemd-fstab-generator "$WORK/gen/"
        # in a subshell: only the new namespaces' PID 1 joins the cgroup
        (
                echo $BASHPID >"$CG/cgroup.procs"
                exec setsid unshare --pid --fork --mount --cgroup --uts --ipc --propagation private --mount-proc \
                        env -i container=mirrorfs-sandbox PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                        ROOT="$root" WORK="$WORK" bash -c '
                set -e
                mount -t tmpfs -o mode=755 tmpfs /run
                mount -t tmpfs tmpfs /sys/fs/cgroup
                mount -t cgroup2 cgroup2 /sys/fs/cgroup
                mount --bind "$WORK/units" /lib/systemd/system
                mount --bind "$WORK/gen" /lib/systemd/system-generators
                mount --bind "$WORK/etc-units" /etc/systemd/system
                mount --bind "$WORK/fstab" /etc/fstab
                if [ "$ROOT" != - ]; then mount --bind "$ROOT/usr/local" /usr/local; fi
                exec /lib/systemd/systemd --system --log-target=console --show-status=no
                ' >"$WORK/systemd.log" 2>&1 </dev/null &
        )
        local i
        for i in $(seq 50); do
                local p
                p=$(pid1)
                if [ -n "$p" ] && nsenter -t "$p" -a systemctl is-system-running --wait >/dev/null 2>&1; then
                        echo "sandbox: systemd running (PID $p here); log in $WORK/systemd.log"
                        return 0
                fi
                sleep 0.2
        done
        nsenter -t "$(pid1)" -a systemctl --failed --no-pager 2>/dev/null || true
        echo "sandbox: systemd up, but not every unit started (see above)"
}

run() {
        local p
        p=$(pid1)
        [ -n "$p" ] || die "not running (systemd/sandbox.sh start ROOT)"
        exec nsenter -t "$p" -a "$@"
}

stop() {
        local p
        p=$(pid1)
        [ -n "$p" ] || echo "sandbox: not running"
        # PID 1 of a PID namespace: killing it kills every process in it,
        # and the last process gone takes the mount namespace and its
        # mounts with it.
        [ -z "$p" ] || kill -9 "$p"
        for _ in $(seq 50); do
                [ -n "$(procs)" ] || break
                sleep 0.1
        done
        find "$CG" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
        rmdir "$CG" 2>/dev/null || true
}

case ${1:-} in
start) [ $# -eq 2 ] || die "usage: sandbox.sh start ROOT|-"; start "$2" ;;
run) shift; [ $# -gt 0 ] || die "usage: sandbox.sh run CMD..."; run "$@" ;;
stop) stop ;;
*) sed -n '12,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
