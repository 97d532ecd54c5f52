#!/usr/bin/env bash
# pjdfstest (https://github.com/pjd/pjdfstest, not part of this repository:
# build it yourself) in a native directory and through the mount, with the
# replicator embedded, then the target compared with the source.  Not run
# by CI (the suite is not here); for operators and developers.  TAP.
#
#   tests/pjdfstest.sh BUILDDIR PJDFSTEST_DIR
#
# PJDFSTEST_DIR: a built checkout (its pjdfstest binary and tests/).  The
# suite picks its expectations by the file system type `df -T` gives
# (rename/22.t, "rename changes ctime", runs only on ext4, UFS and ZFS):
# through the mount a `df` first in PATH names the source's type instead
# of fuse.mirrorfs, so both runs hold the mount to the same expectations,
# and must plan the same tests.  The directories are on $TMPDIR's file
# system (use an ext4 one).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mount-lib.sh"
mfs_init "${1:?usage: pjdfstest.sh BUILDDIR PJDFSTEST_DIR}"
pjd=$(cd "${2:?usage: pjdfstest.sh BUILDDIR PJDFSTEST_DIR}" && pwd)
trap mfs_cleanup EXIT
T=$MFS_TMP
if [ ! -x "$pjd/pjdfstest" ] || [ ! -d "$pjd/tests" ] || ! command -v prove >/dev/null; then
        echo "1..0 # SKIP needs a built pjdfstest in $pjd and prove (perl)"
        exit 77
fi
mkdir -p "$T/native" "$T/src" "$T/mnt" "$T/tgt"

# run DIR NAME [PATH]: the suite in DIR; NAME.txt its output, NAME.plans "file planned"
run() {
        (cd "$1" && PATH=${3:-$PATH} prove -rv "$pjd/tests") >"$T/$2.txt" 2>&1
        awk '/^\/.*\.t \.\./ { t = $1 } /^1\.\.[0-9]+$/ { sub(/^1\.\./, ""); print t, $0 }' "$T/$2.txt" |
                sed "s|^$pjd/tests/||" | sort >"$T/$2.plans"
}

run "$T/native" native
check "native: $(tail -n 1 "$T/native.txt")" grep -q '^Result: PASS' "$T/native.txt"
srcfs=$(df -PT "$T/src" | awk 'NR == 2 { print $2 }')
mkdir "$T/bin"
printf '#!/bin/sh\n%s "$@" | sed "s/fuse\\.mirrorfs/%s/"\n' "$(command -v df)" "$srcfs" >"$T/bin/df"
chmod +x "$T/bin/df"
if mfs_mount "$T/src" "$T/mnt" "journal=$T/j,target=$T/tgt,socket=$T/sock,allow_other"; then
        run "$T/mnt" mount "$T/bin:$PATH"
        if grep -q '^Result: PASS' "$T/mount.txt"; then
                ok "through the mount: $(grep '^Files=' "$T/mount.txt")"
        else
                not_ok "through the mount"
                grep -E '^not ok|Failed' "$T/mount.txt" | head -n 40 | sed 's/^/# /'
        fi
        check "the same tests planned natively and through the mount ($(wc -l <"$T/native.plans") files)" \
                diff "$T/native.plans" "$T/mount.plans"
        check "mirrorfsctl sync" "$MFS_BUILD/tools/mirrorfsctl" --socket "$T/sock" sync --timeout 120
        check "the target equals the source" python3 "$here/treecmp.py" "$T/src" "$T/tgt"
        check "the check repaired nothing" mfs_check_clean "$T/sock"
        mfs_umount "$T/mnt" || not_ok "unmount"
else
        not_ok "mount"
fi
tap_done
