#!/usr/bin/env python3
"""treecmp: compare two trees on everything mirrorfs promises to carry.

    treecmp.py [--no-atime] [--ignore NAME]... SOURCE TARGET

For every path under SOURCE and TARGET: the same entries; the same type;
regular files with the same bytes (and holes kept: a sparse source file
must not be dense on the target); symlinks with the same target; devices
with the same number; the same permission bits, owner and group;
nanosecond modification times of everything but symlinks' (and of
directories); extended attributes (names and values); and hard links:
names that share an inode in SOURCE share one in TARGET, and only those.

Exit 0 when equal; 1 listing every difference (at most 50 lines); 2 on
bad usage.
"""
import os
import stat
import sys


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in names:
        if n.startswith("trusted.mirrorfs."):
            continue    # the replicator's own marks on a mirror
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            pass
    return out


def walk(root, ignore):
    """path (relative) -> lstat result"""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if d not in ignore]
        for name in dirnames + filenames:
            if name in ignore:
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            out[rel] = os.lstat(os.path.join(root, rel))
    out["."] = os.lstat(root)
    return out


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x = fa.read(1 << 20)
            y = fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def data_ranges(path, block=4096):
    """The file's data as (start, end) ranges (SEEK_DATA/SEEK_HOLE), each
    widened to whole blocks; None where the file system cannot tell."""
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        pos = 0
        while pos < end:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == 6:        # ENXIO: no data past pos
                    break
                return None
            stop = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start // block * block, -(-stop // block) * block))
            pos = stop
    finally:
        os.close(fd)
    return out


def hole_bytes_filled(src_path, dst_path):
    """Bytes that are a hole in the source and data in the target."""
    a, b = data_ranges(src_path), data_ranges(dst_path)
    if a is None or b is None:
        return 0
    filled = 0
    for (s, e) in b:
        covered = sum(max(0, min(e, ae) - max(s, as_)) for (as_, ae) in a)
        filled += (e - s) - covered
    return filled


def main(argv):
    check_atime = True
    ignore = set()
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--no-atime":
            check_atime = False
        elif argv[i] == "--ignore" and i + 1 < len(argv):
            ignore.add(argv[i + 1])
            i += 1
        else:
            args.append(argv[i])
        i += 1
    del check_atime     # atimes are not compared: reading changes them
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = args
    a = walk(src, ignore)
    b = walk(dst, ignore)
    diffs = []

    def diff(path, what):
        diffs.append(f"{path}: {what}")

    for p in sorted(set(a) | set(b)):
        if p not in b:
            diff(p, "missing in target")
            continue
        if p not in a:
            diff(p, "only in target")
            continue
        sa, sb = a[p], b[p]
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            diff(p, f"type {stat.filemode(sa.st_mode)[0]} != {stat.filemode(sb.st_mode)[0]}")
            continue
        if not stat.S_ISLNK(sa.st_mode) and stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
            diff(p, f"mode {oct(stat.S_IMODE(sa.st_mode))} != {oct(stat.S_IMODE(sb.st_mode))}")
        if (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            diff(p, f"owner {sa.st_uid}:{sa.st_gid} != {sb.st_uid}:{sb.st_gid}")
        if not stat.S_ISLNK(sa.st_mode) and sa.st_mtime_ns != sb.st_mtime_ns:
            diff(p, f"mtime {sa.st_mtime_ns} != {sb.st_mtime_ns}")
        pa, pb = os.path.join(src, p), os.path.join(dst, p)
        if stat.S_ISREG(sa.st_mode):
            if sa.st_size != sb.st_size:
                diff(p, f"size {sa.st_size} != {sb.st_size}")
            elif not same_bytes(pa, pb):
                diff(p, "contents differ")
            # a sparse source stays sparse: no hole of the source is data
            # on the target (compared by SEEK_DATA/SEEK_HOLE, not by block
            # counts, which differ with the file systems' own metadata: an
            # extent tree block for a more fragmented copy)
            if sa.st_blocks * 512 < sa.st_size:
                filled = hole_bytes_filled(pa, pb)
                if filled:
                    diff(p, f"holes lost: {filled} bytes of the source's holes are data on the target "
                            f"({sa.st_blocks} blocks on source, {sb.st_blocks} on target)")
        elif stat.S_ISLNK(sa.st_mode):
            if os.readlink(pa) != os.readlink(pb):
                diff(p, f"symlink {os.readlink(pa)!r} != {os.readlink(pb)!r}")
        elif stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
            if sa.st_rdev != sb.st_rdev:
                diff(p, f"device {sa.st_rdev} != {sb.st_rdev}")
        if xattrs(pa) != xattrs(pb):
            diff(p, f"xattrs {sorted(xattrs(pa))} != {sorted(xattrs(pb))}")

    # hard-link groups: the partition of names by inode must be the same
    def groups(tree):
        by_ino = {}
        for p, s in tree.items():
            if not stat.S_ISDIR(s.st_mode) and s.st_nlink > 1:
                by_ino.setdefault((s.st_dev, s.st_ino), set()).add(p)
        return {p: frozenset(g) for g in by_ino.values() for p in g}
    ga, gb = groups(a), groups(b)
    for p in sorted(set(ga) | set(gb)):
        if p in a and p in b and ga.get(p, frozenset([p])) != gb.get(p, frozenset([p])):
            diff(p, f"hard links {sorted(ga.get(p, [p]))} != {sorted(gb.get(p, [p]))}")

    for d in diffs[:50]:
        print(d)
    if len(diffs) > 50:
        print(f"... and {len(diffs) - 50} more")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
