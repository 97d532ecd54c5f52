/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops-xattr.c: extended attributes: setxattr, getxattr, listxattr,
 * removexattr.
 *
 * Inodes are held as O_PATH descriptors, which the f*xattr() calls (and
 * the *xattrat() calls of Linux 6.13 with AT_EMPTY_PATH) refuse.  So the
 * path calls are used on /proc/self/fd/N, which lands on the inode itself;
 * for a symlink's own attributes, on /proc/self/fd/PARENT/NAME with the l*
 * calls, which do not follow the last component.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ops.h"

enum xop { X_SET, X_GET, X_LIST, X_REMOVE };

/* Returns the size (get, list) or 0, or -errno. */
static ssize_t xattr_path(const char *path, bool symlink, enum xop op, const char *name, void *value,
                          size_t size, int flags)
{
        ssize_t r = -1;

        switch (op) {
        case X_SET:
                r = symlink ? lsetxattr(path, name, value, size, flags) : setxattr(path, name, value, size, flags);
                break;
        case X_GET:
                r = symlink ? lgetxattr(path, name, value, size) : getxattr(path, name, value, size);
                break;
        case X_LIST:
                r = symlink ? llistxattr(path, value, size) : listxattr(path, value, size);
                break;
        case X_REMOVE:
                r = symlink ? lremovexattr(path, name) : removexattr(path, name);
                break;
        }
        return r < 0 ? -errno : r;
}

static ssize_t xattr_inode(struct fs *fs, fuse_ino_t ino, enum xop op, const char *name, void *value,
                           size_t size, int flags)
{
        struct fs_inode *in = fs_inode_get(fs, ino), *parent;
        char path[FS_PROC_FD_MAX + NAME_MAX + 2];
        struct fs_fdref ref;
        char *lname;
        ssize_t r;

        if (!S_ISLNK(in->type)) {
                r = fs_fd_get(fs, in, &ref);
                if (r < 0)
                        return r;
                fs_proc_fd_path(ref.fd, path);
                r = xattr_path(path, false, op, name, value, size, flags);
                fs_fd_put(fs, &ref);
                return r;
        }
        r = fs_inode_a_name(fs, in, &parent, &lname);
        if (r < 0)
                return r;
        r = fs_fd_get(fs, parent, &ref);
        if (r == 0) {
                snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", ref.fd, lname);
                r = xattr_path(path, true, op, name, value, size, flags);
                fs_fd_put(fs, &ref);
        }
        free(lname);
        fs_inode_unref(fs, parent);
        return r;
}

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *in = fs_inode_get(fs, ino);
        struct fs_change c = { .rec = { .type = JOURNAL_SETXATTR, .aux = (uint32_t)flags, .name = name,
                                        .ino = in->ino, .flags = S_ISDIR(in->type) ? JOURNAL_F_DIR : 0 } };
        ssize_t r;

        fs_change_begin(fs, &c, in, NULL, NULL, NULL, false);
        r = xattr_inode(fs, ino, X_SET, name, (void *)value, size, flags);
        fs_change_end(fs, &c, r == 0);
        fuse_reply_err(req, r < 0 ? (int)-r : 0);
}

/* getxattr and listxattr: size 0 asks for the size only. */
static void reply_sized(fuse_req_t req, struct fs *fs, fuse_ino_t ino, enum xop op, const char *name, size_t size)
{
        char *buf = NULL;
        ssize_t r;

        if (size) {
                buf = malloc(size);
                if (!buf) {
                        fuse_reply_err(req, ENOMEM);
                        return;
                }
        }
        r = xattr_inode(fs, ino, op, name, buf, size, 0);
        if (r < 0)
                fuse_reply_err(req, (int)-r);
        else if (size)
                fuse_reply_buf(req, buf, (size_t)r);
        else
                fuse_reply_xattr(req, (size_t)r);
        free(buf);
}

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
        reply_sized(req, fs_of(req), ino, X_GET, name, size);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
        reply_sized(req, fs_of(req), ino, X_LIST, NULL, size);
}

void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *in = fs_inode_get(fs, ino);
        struct fs_change c = { .rec = { .type = JOURNAL_REMOVEXATTR, .name = name, .ino = in->ino,
                                        .flags = S_ISDIR(in->type) ? JOURNAL_F_DIR : 0 } };
        ssize_t r;

        fs_change_begin(fs, &c, in, NULL, NULL, NULL, false);
        r = xattr_inode(fs, ino, X_REMOVE, name, NULL, 0, 0);
        fs_change_end(fs, &c, r == 0);
        fuse_reply_err(req, r < 0 ? (int)-r : 0);
}
