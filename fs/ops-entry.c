/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops-entry.c: names and attributes: lookup, forget, getattr, setattr,
 * readlink, mknod, mkdir, symlink, link, unlink, rmdir, rename.
 *
 * Creates run with the caller's file-system identity (creds.c) so the
 * source decides ownership as it would natively; everything else runs as
 * the daemon after the kernel has checked permissions (the mount always
 * uses default_permissions).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ops.h"

void fs_proc_fd_path(int fd, char buf[FS_PROC_FD_MAX])
{
        snprintf(buf, FS_PROC_FD_MAX, "/proc/self/fd/%d", fd);
}

static bool caller_in_group(fuse_req_t req, gid_t gid)
{
        gid_t groups[256];
        int n, i;

        if (fuse_req_ctx(req)->gid == gid)
                return true;
        n = fuse_req_getgroups(req, 256, groups);
        for (i = 0; i < n && i < 256; i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

mode_t fs_privs_to_drop(fuse_req_t req, const struct stat *st)
{
        mode_t kill = 0;

        if (!S_ISREG(st->st_mode))
                return 0;
        if (st->st_mode & S_ISUID)
                kill |= S_ISUID;
        if ((st->st_mode & S_ISGID) && ((st->st_mode & S_IXGRP) || !caller_in_group(req, st->st_gid)))
                kill |= S_ISGID;
        return kill;
}

int fs_kill_privs(fuse_req_t req, int fd)
{
        char proc[FS_PROC_FD_MAX];
        struct stat st;
        mode_t kill;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        fs_proc_fd_path(fd, proc);
        kill = fs_privs_to_drop(req, &st);
        if (kill && chmod(proc, st.st_mode & ~kill & 07777) < 0)
                return -errno;
        if (removexattr(proc, "security.capability") < 0 && errno != ENODATA && errno != EOPNOTSUPP)
                return -errno;
        return 0;
}

void fs_reply_entry(fuse_req_t req, struct fs *fs, struct fs_inode *in, const struct stat *st)
{
        struct fuse_entry_param e = {
                .ino = in == fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in,
                .generation = in->generation,
                .attr = *st,
                .attr_timeout = fs->opt.timeout,
                .entry_timeout = fs->opt.timeout,
        };

        /* The kernel did not take the reference (interrupted): drop it. */
        if (fuse_reply_entry(req, &e) < 0)
                fs_inode_forget(fs, in, 1);
}

void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *in;
        struct stat st;
        int r;

        r = fs_inode_lookup(fs, fs_inode_get(fs, parent), name, &st, &in);
        if (r == -ENOENT) {
                /* A negative entry the kernel may cache: every change goes
                 * through this mount, so it stays true until we say. */
                struct fuse_entry_param e = { .ino = 0, .entry_timeout = fs->opt.timeout };

                fuse_reply_entry(req, &e);
                return;
        }
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fs_reply_entry(req, fs, in, &st);
}

void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
        struct fs *fs = fs_of(req);

        fs_inode_forget(fs, fs_inode_get(fs, ino), nlookup);
        fuse_reply_none(req);
}

void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
        struct fs *fs = fs_of(req);
        size_t i;

        for (i = 0; i < count; i++)
                fs_inode_forget(fs, fs_inode_get(fs, forgets[i].ino), forgets[i].nlookup);
        fuse_reply_none(req);
}

static int stat_inode(struct fs *fs, struct fs_inode *in, struct stat *st)
{
        struct fs_fdref ref;
        int r;

        r = fs_fd_get(fs, in, &ref);
        if (r < 0)
                return r;
        r = fstatat(ref.fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        fs_fd_put(fs, &ref);
        return r;
}

void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct fs *fs = fs_of(req);
        struct stat st;
        int r;

        if (fi)
                r = fstat(fs_file_of(fi)->fd, &st) < 0 ? -errno : 0;
        else
                r = stat_inode(fs, fs_inode_get(fs, ino), &st);
        fs_handle_answered(fi);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_attr(req, &st, fs->opt.timeout);
}

#if FS_HAVE_STATX
/*
 * statx: the kernel asks when a caller wants more than the basic fields
 * (the birth time), and keeps the answer with the attributes.  Answered
 * from the source's own statx, so that a job sees the birth time it sees
 * natively.
 */
void fs_statx(fuse_req_t req, fuse_ino_t ino, int flags, int mask, struct fuse_file_info *fi)
{
        struct fs *fs = fs_of(req);
        unsigned int want = (unsigned int)mask | STATX_BASIC_STATS | STATX_BTIME;
        int sync = flags & AT_STATX_SYNC_TYPE;
        struct statx stx;
        int r;

        if (fi) {
                r = statx(fs_file_of(fi)->fd, "", AT_EMPTY_PATH | sync, want, &stx) < 0 ? -errno : 0;
        } else {
                struct fs_fdref ref;

                r = fs_fd_get(fs, fs_inode_get(fs, ino), &ref);
                if (r == 0) {
                        r = statx(ref.fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | sync, want, &stx) < 0
                            ? -errno : 0;
                        fs_fd_put(fs, &ref);
                }
        }
        fs_handle_answered(fi);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_statx(req, 0, &stx, fs->opt.timeout);
}
#endif

/* Set times on a symlink itself: only through its name. */
static int utimens_symlink(struct fs *fs, struct fs_inode *in, const struct timespec ts[2])
{
        struct fs_inode *parent;
        struct fs_fdref pref;
        char *name;
        int r;

        r = fs_inode_a_name(fs, in, &parent, &name);
        if (r < 0)
                return r;
        r = fs_fd_get(fs, parent, &pref);
        if (r == 0) {
                r = utimensat(pref.fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
                fs_fd_put(fs, &pref);
        }
        free(name);
        fs_inode_unref(fs, parent);
        return r;
}

void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *in = fs_inode_get(fs, ino);
        struct fs_change c = { .rec = {
                .type = JOURNAL_SETATTR, .ino = in->ino, .flags = S_ISDIR(in->type) ? JOURNAL_F_DIR : 0,
                /* announced: everything that may change */
                .aux = JOURNAL_SET_MODE | JOURNAL_SET_UID | JOURNAL_SET_GID | JOURNAL_SET_SIZE |
                       JOURNAL_SET_ATIME | JOURNAL_SET_MTIME,
        } };
        char proc[FS_PROC_FD_MAX];
        struct fs_fdref ref = { .fd = -1 };
        struct stat st;
        int fd, r = 0;

        fs_change_begin(fs, &c, in, NULL, NULL, NULL, false);
        c.rec.aux = 0;          /* from now on: what did change */
        if (fi) {
                fd = fs_file_of(fi)->fd;
        } else {
                r = fs_fd_get(fs, in, &ref);
                if (r < 0)
                        goto out;
                fd = ref.fd;
        }
        fs_proc_fd_path(fd, proc);

        if (to_set & FUSE_SET_ATTR_MODE) {
                r = (fi ? fchmod(fd, attr->st_mode) : chmod(proc, attr->st_mode)) < 0 ? -errno : 0;
                if (r < 0)
                        goto out;
                c.rec.aux |= JOURNAL_SET_MODE;
        }
        if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
                uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
                gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

                if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        goto out;
                }
                c.rec.aux |= (to_set & FUSE_SET_ATTR_UID ? JOURNAL_SET_UID : 0) |
                           (to_set & FUSE_SET_ATTR_GID ? JOURNAL_SET_GID : 0);
        }
        if (to_set & FUSE_SET_ATTR_SIZE) {
                if (fi) {
                        r = ftruncate(fd, attr->st_size) < 0 ? -errno : 0;
                } else {
                        int wfd = fs_inode_open(fs, in, O_WRONLY);

                        r = wfd < 0 ? wfd : ftruncate(wfd, attr->st_size) < 0 ? -errno : 0;
                        if (wfd >= 0)
                                close(wfd);
                }
                if (r < 0)
                        goto out;
                c.rec.aux |= JOURNAL_SET_SIZE;
        }
        if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
                struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

                if (to_set & FUSE_SET_ATTR_ATIME_NOW)
                        ts[0].tv_nsec = UTIME_NOW;
                else if (to_set & FUSE_SET_ATTR_ATIME)
                        ts[0] = attr->st_atim;
                if (to_set & FUSE_SET_ATTR_MTIME_NOW)
                        ts[1].tv_nsec = UTIME_NOW;
                else if (to_set & FUSE_SET_ATTR_MTIME)
                        ts[1] = attr->st_mtim;
                if (fi)
                        r = futimens(fd, ts) < 0 ? -errno : 0;
                else if (S_ISLNK(in->type))
                        r = utimens_symlink(fs, in, ts);
                else
                        r = utimensat(AT_FDCWD, proc, ts, 0) < 0 ? -errno : 0;
                if (r < 0)
                        goto out;
                c.rec.aux |= (to_set & FUSE_SET_ATTR_ATIME ? JOURNAL_SET_ATIME : 0) |
                           (to_set & FUSE_SET_ATTR_MTIME ? JOURNAL_SET_MTIME : 0);
        }
        if (!(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE |
                        FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
                /* Nothing to set: chown(f, -1, -1), which still updates the
                 * ctime and drops setuid/setgid, as the source's chown does. */
                if (fchownat(fd, "", (uid_t)-1, (gid_t)-1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        goto out;
                }
                c.rec.aux |= JOURNAL_SET_UID | JOURNAL_SET_GID;
        }
        /* A truncate by a caller without CAP_FSETID drops setuid/setgid
         * (libfuse does not pass the kernel's flag for it: root is taken
         * as the one caller that has the capability). */
        if ((to_set & FUSE_SET_ATTR_SIZE) && fuse_req_ctx(req)->uid != 0) {
                r = fs_kill_privs(req, fd);
                if (r < 0)
                        goto out;
                c.rec.aux |= JOURNAL_SET_MODE;
        }
        r = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
out:
        if (c.rec.aux) {
                /* Something changed, even if a later step failed. */
                if (r == 0)
                        fs_record_from_stat(&c.rec, &st);
                else
                        c.rec.flags |= S_ISDIR(in->type) ? JOURNAL_F_DIR : 0;
                if (to_set & FUSE_SET_ATTR_ATIME_NOW)
                        c.rec.atime.tv_nsec = UTIME_NOW;
                if (to_set & FUSE_SET_ATTR_MTIME_NOW)
                        c.rec.mtime.tv_nsec = UTIME_NOW;
        }
        fs_change_end(fs, &c, c.rec.aux != 0);
        fs_fd_put(fs, &ref);
        fs_handle_answered(fi);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_attr(req, &st, fs->opt.timeout);
}

void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
        struct fs *fs = fs_of(req);
        char buf[PATH_MAX + 1];
        struct fs_fdref ref;
        ssize_t n;
        int r;

        r = fs_fd_get(fs, fs_inode_get(fs, ino), &ref);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        n = readlinkat(ref.fd, "", buf, sizeof(buf));
        r = n < 0 ? -errno : 0;
        fs_fd_put(fs, &ref);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        if ((size_t)n >= sizeof(buf)) {
                fuse_reply_err(req, ENAMETOOLONG);
                return;
        }
        buf[n] = 0;
        fuse_reply_readlink(req, buf);
}

/* ---- creating ---- */

enum make_kind { MAKE_NODE, MAKE_DIR, MAKE_SYMLINK };

struct make {
        enum make_kind kind;
        int dirfd;
        const char *name;
        mode_t mode;
        dev_t rdev;
        const char *link;
};

static int make_once(const struct make *m)
{
        int r;

        switch (m->kind) {
        case MAKE_NODE:
                r = mknodat(m->dirfd, m->name, m->mode, m->rdev);
                break;
        case MAKE_DIR:
                r = mkdirat(m->dirfd, m->name, m->mode);
                break;
        default:
                r = symlinkat(m->link, m->dirfd, m->name);
                break;
        }
        return r < 0 ? -errno : 0;
}

/* Run @m as the caller; with supplementary groups if that is what it takes. */
static int make_as_caller(fuse_req_t req, struct fs *fs, const struct make *m)
{
        struct fs_creds c;
        int r;

        r = fs_creds_become(fs, req, &c, false);
        if (r < 0)
                return r;
        r = make_once(m);
        fs_creds_restore(fs, &c);
        if ((r == -EACCES || r == -EPERM) && (c.uid != fs->self_uid || c.gid != fs->self_gid)) {
                r = fs_creds_become(fs, req, &c, true);
                if (r < 0)
                        return r;
                r = make_once(m);
                fs_creds_restore(fs, &c);
        }
        return r;
}

static void do_make(fuse_req_t req, fuse_ino_t parent_ino, struct make *m, uint16_t type)
{
        struct fs_change c = { .rec = { .type = type, .mode = m->mode,
                                        .path2 = m->kind == MAKE_SYMLINK ? m->link : NULL } };
        struct fs *fs = fs_of(req);
        struct fs_inode *parent = fs_inode_get(fs, parent_ino), *in;
        struct fs_fdref pref;
        struct stat st;
        int r;

        r = fs_fd_get(fs, parent, &pref);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        m->dirfd = pref.fd;
        fs_change_begin(fs, &c, parent, m->name, NULL, NULL, false);
        r = make_as_caller(req, fs, m);
        fs_fd_put(fs, &pref);
        if (r < 0) {
                fs_change_end(fs, &c, false);
                fuse_reply_err(req, -r);
                return;
        }
        r = fs_inode_lookup(fs, parent, m->name, &st, &in);
        /* The change is made: record it even if the lookup failed. */
        if (r == 0)
                fs_record_from_stat(&c.rec, &st);
        fs_change_end(fs, &c, true);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fs_reply_entry(req, fs, in, &st);
}

void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
        struct make m = { .kind = MAKE_NODE, .name = name, .mode = mode, .rdev = rdev };

        do_make(req, parent, &m, JOURNAL_MKNOD);
}

void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
        struct make m = { .kind = MAKE_DIR, .name = name, .mode = mode };

        do_make(req, parent, &m, JOURNAL_MKDIR);
}

void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
        struct make m = { .kind = MAKE_SYMLINK, .name = name, .link = link };

        do_make(req, parent, &m, JOURNAL_SYMLINK);
}

void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent_ino, const char *newname)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *in = fs_inode_get(fs, ino), *newparent = fs_inode_get(fs, newparent_ino), *got;
        struct fs_change c = { .rec = { .type = JOURNAL_LINK, .ino = in->ino } };
        struct fs_fdref ref, pref;
        struct stat st;
        int r;

        r = fs_fd_get(fs, in, &ref);
        if (r < 0)
                goto fail;
        r = fs_fd_get(fs, newparent, &pref);
        if (r < 0) {
                fs_fd_put(fs, &ref);
                goto fail;
        }
        /* path2: the existing name, taken before the inode learns its new
         * one (empty when unknown: the replicator copies instead). */
        fs_change_begin(fs, &c, newparent, newname, in, NULL, false);
        r = linkat(ref.fd, "", pref.fd, newname, AT_EMPTY_PATH) < 0 ? -errno : 0;
        fs_fd_put(fs, &pref);
        fs_fd_put(fs, &ref);
        if (r < 0) {
                fs_change_end(fs, &c, false);
                goto fail;
        }
        r = fs_inode_lookup(fs, newparent, newname, &st, &got);
        if (r == 0)
                fs_record_from_stat(&c.rec, &st);
        fs_change_end(fs, &c, true);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fs_reply_entry(req, fs, got, &st);
        return;
fail:
        fuse_reply_err(req, -r);
}

/* ---- removing and renaming ---- */

static void do_remove(fuse_req_t req, fuse_ino_t parent_ino, const char *name, bool dir)
{
        struct fs_change c = { .rec = { .type = dir ? JOURNAL_RMDIR : JOURNAL_UNLINK,
                                        .flags = dir ? JOURNAL_F_DIR : 0 } };
        struct fs *fs = fs_of(req);
        struct fs_inode *parent = fs_inode_get(fs, parent_ino);
        struct fs_fdref pref;
        struct stat st;
        int r, keep = -1;
        bool known;

        r = fs_fd_get(fs, parent, &pref);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        /* Which inode goes, to forget its name afterwards, and to keep it
         * reachable while the kernel still uses it. */
        known = fstatat(pref.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (known)
                keep = fs_inode_keep_open(fs, pref.fd, name, &st);
        fs_change_begin(fs, &c, parent, name, NULL, NULL, false);
        r = unlinkat(pref.fd, name, dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
        fs_fd_put(fs, &pref);
        if (r < 0) {
                fs_change_end(fs, &c, false);
                if (keep >= 0)
                        close(keep);
                fuse_reply_err(req, -r);
                return;
        }
        if (known) {
                fs_inode_unlinked(fs, st.st_dev, st.st_ino, parent, name, keep);
                fs_record_from_stat(&c.rec, &st);
        }
        fs_change_end(fs, &c, true);
        fuse_reply_err(req, 0);
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        do_remove(req, parent, name, false);
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        do_remove(req, parent, name, true);
}

void fs_rename(fuse_req_t req, fuse_ino_t parent_ino, const char *name, fuse_ino_t newparent_ino,
               const char *newname, unsigned int flags)
{
        struct fs_change c = { .rec = { .type = JOURNAL_RENAME, .aux = flags } };
        struct fs *fs = fs_of(req);
        struct fs_inode *parent = fs_inode_get(fs, parent_ino), *newparent = fs_inode_get(fs, newparent_ino);
        struct fs_fdref pref, npref;
        struct stat st, nst;
        bool known, nknown;
        int r, keep = -1;

        r = fs_fd_get(fs, parent, &pref);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        r = fs_fd_get(fs, newparent, &npref);
        if (r < 0) {
                fs_fd_put(fs, &pref);
                fuse_reply_err(req, -r);
                return;
        }
        known = fstatat(pref.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        nknown = fstatat(npref.fd, newname, &nst, AT_SYMLINK_NOFOLLOW) == 0;
        /* The inode that goes to the new name: how recovery tells an
         * exchange was made. */
        c.rec.ino = known ? st.st_ino : 0;
        /* A replaced inode loses that name (fs_inode_keep_open()). */
        if (nknown && !(flags & (RENAME_EXCHANGE | RENAME_NOREPLACE)) &&
            !(known && nst.st_ino == st.st_ino && nst.st_dev == st.st_dev))
                keep = fs_inode_keep_open(fs, npref.fd, newname, &nst);
        fs_change_begin(fs, &c, parent, name, newparent, newname,
                        (known && S_ISDIR(st.st_mode)) || (nknown && S_ISDIR(nst.st_mode)));
        r = renameat2(pref.fd, name, npref.fd, newname, flags) < 0 ? -errno : 0;
        fs_fd_put(fs, &npref);
        fs_fd_put(fs, &pref);
        if (r < 0) {
                fs_change_end(fs, &c, false);
                if (keep >= 0)
                        close(keep);
                fuse_reply_err(req, -r);
                return;
        }
        if (flags & RENAME_EXCHANGE) {
                if (known)
                        fs_inode_moved(fs, st.st_dev, st.st_ino, parent, name, newparent, newname);
                if (nknown)
                        fs_inode_moved(fs, nst.st_dev, nst.st_ino, newparent, newname, parent, name);
        } else if (nknown && known && nst.st_ino == st.st_ino && nst.st_dev == st.st_dev) {
                /* two names of one inode: rename does nothing */
        } else {
                if (nknown)
                        fs_inode_unlinked(fs, nst.st_dev, nst.st_ino, newparent, newname, keep);
                keep = -1;
                if (known)
                        fs_inode_moved(fs, st.st_dev, st.st_ino, parent, name, newparent, newname);
        }
        if (keep >= 0)
                close(keep);
        if (known)
                fs_record_from_stat(&c.rec, &st);
        fs_change_end(fs, &c, true);
        fuse_reply_err(req, 0);
}
