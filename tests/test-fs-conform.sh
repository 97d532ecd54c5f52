#!/usr/bin/env bash
# POSIX conformance through the mount: the conform battery (as root and as
# test users) gives the same transcript through mirrorfs as in a directory of
# the same file system, with each data path of the mount (kernel
# passthrough; through the daemon) and each way requests come (io_uring,
# /dev/fuse), except the steps FUSE itself cannot do
# (tests/conform/known-fuse.txt).  Then fsx-style random I/O against its
# model through the mount.  TAP.
#
#   tests/test-fs-conform.sh BUILDDIR FSX_OPS
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: test-fs-conform.sh BUILDDIR [FSX_OPS]}"
ops=${2:-100000}
trap mfs_cleanup EXIT
T=$MFS_TMP
mkdir -p "$T/native" "$T/src" "$T/mnt" "$T/tgt"

# The kernel's requests over io_uring where it offers them (io_uring=auto),
# and through /dev/fuse.
for variant in "passthrough=auto" "passthrough=off,writeback=off" "passthrough=auto,io_uring=off"; do
        if ! mfs_mount "$T/src" "$T/mnt" "journal=$T/j,target=$T/tgt,allow_other,$variant"; then
                not_ok "mount with $variant"
                continue
        fi
        if CONFORM="$MFS_BUILD/tests/conform" bash "$here/conform/run-conform.sh" \
                -x "$here/conform/known-fuse.txt" "$T/native" "$T/mnt" >"$T/conform.out" 2>&1; then
                ok "conform: same results as the native file system ($variant)"
                sed 's/^/# /' "$T/conform.out" | tail -n 5
        else
                not_ok "conform: same results as the native file system ($variant)"
                sed 's/^/# /' "$T/conform.out" | head -n 60
        fi
        seed=$((RANDOM + 1))
        if "$MFS_BUILD/tests/fsx" -q -N "$ops" -S "$seed" "$T/mnt/fsx.data" >"$T/fsx.out" 2>&1; then
                ok "fsx: $ops operations through the mount, seed $seed ($variant)"
        else
                not_ok "fsx: $ops operations through the mount, seed $seed ($variant)"
                sed 's/^/# /' "$T/fsx.out" | tail -n 40
        fi
        rm -f "$T/mnt/fsx.data" "$T/mnt/fsx.data.fsxsrc"
        mfs_umount "$T/mnt" || not_ok "unmount"
        check "journal clean ($variant)" "$MFS_JOURNAL_TOOL" check "$T/j"
done
tap_done
