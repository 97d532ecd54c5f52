/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops-dir.c: directories: opendir, readdir, readdirplus, releasedir,
 * fsyncdir; and statfs.
 *
 * readdirplus looks every entry up, so a walk of a large tree ("find",
 * "ls -l", rsync) costs one round trip per directory block instead of one
 * per file.  Reading a directory changes nothing: no record.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ops.h"

struct fs_dir {
        DIR *dp;
        off_t offset;                   /* of the next entry to read */
        struct dirent *entry;           /* read but not yet returned */
};

static struct fs_dir *dir_of(struct fuse_file_info *fi)
{
        fs_handle_reached(fi);
        return (struct fs_dir *)(uintptr_t)fi->fh;
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct fs *fs = fs_of(req);
        struct fs_dir *d;
        int fd;

        fd = fs_inode_open(fs, fs_inode_get(fs, ino), O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        d = calloc(1, sizeof(*d));
        if (!d || !(d->dp = fdopendir(fd))) {
                free(d);
                close(fd);
                fuse_reply_err(req, ENOMEM);
                return;
        }
        fi->fh = (uint64_t)(uintptr_t)d;
        if (fs->opt.timeout > 0) {
                /* The kernel drops its cached listing when a change in the
                 * directory goes through it: all do. */
                fi->cache_readdir = 1;
                fi->keep_cache = 1;
        }
        fs_handle_answered(fi);
        if (fuse_reply_open(req, fi) < 0) {
                closedir(d->dp);
                free(d);
        }
}

static bool dot_or_dotdot(const char *name)
{
        return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, struct fuse_file_info *fi,
                       bool plus)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *dir = fs_inode_get(fs, ino);
        struct fs_dir *d = dir_of(fi);
        char *buf, *p;
        size_t rem = size;
        int err = 0;

        buf = malloc(size);
        if (!buf) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        if (offset != d->offset) {
                seekdir(d->dp, offset);
                d->entry = NULL;
                d->offset = offset;
        }
        p = buf;
        for (;;) {
                const char *name;
                size_t len;
                off_t next;

                if (!d->entry) {
                        errno = 0;
                        d->entry = readdir(d->dp);
                        if (!d->entry) {
                                err = errno;
                                break;
                        }
                }
                name = d->entry->d_name;
                next = d->entry->d_off;
                if (plus && !dot_or_dotdot(name)) {
                        struct fuse_entry_param e = {
                                .attr_timeout = fs->opt.timeout,
                                .entry_timeout = fs->opt.timeout,
                        };
                        struct fs_inode *in;
                        int r = fs_inode_lookup(fs, dir, name, &e.attr, &in);

                        if (r == -ENOENT) {
                                d->entry = NULL;        /* gone meanwhile */
                                d->offset = next;
                                continue;
                        }
                        if (r < 0) {
                                err = -r;
                                break;
                        }
                        e.ino = in == fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
                        e.generation = in->generation;
                        len = fuse_add_direntry_plus(req, p, rem, name, &e, next);
                        if (len > rem) {
                                fs_inode_forget(fs, in, 1);     /* not sent: not the kernel's */
                                break;
                        }
                } else if (plus) {
                        struct fuse_entry_param e = { .ino = 0 };

                        e.attr.st_ino = d->entry->d_ino;
                        e.attr.st_mode = (mode_t)d->entry->d_type << 12;
                        len = fuse_add_direntry_plus(req, p, rem, name, &e, next);
                        if (len > rem)
                                break;
                } else {
                        struct stat st = {
                                .st_ino = d->entry->d_ino,
                                .st_mode = (mode_t)d->entry->d_type << 12,
                        };

                        len = fuse_add_direntry(req, p, rem, name, &st, next);
                        if (len > rem)
                                break;
                }
                p += len;
                rem -= len;
                d->entry = NULL;
                d->offset = next;
        }
        /* An error after some entries: return those, the error comes on
         * the next call. */
        fs_handle_answered(fi);
        if (err && rem == size)
                fuse_reply_err(req, err);
        else
                fuse_reply_buf(req, buf, size - rem);
        free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        do_readdir(req, ino, size, off, fi, false);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        do_readdir(req, ino, size, off, fi, true);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct fs_dir *d = dir_of(fi);

        fs_handle_released(fi);
        closedir(d->dp);
        free(d);
        fuse_reply_err(req, 0);
}

static int fsyncdir_answer(fuse_req_t req, int datasync, struct fuse_file_info *fi)
{
        int fd = dirfd(dir_of(fi)->dp);
        int r = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? errno : 0;

        /* The names in it are durable: so are their records. */
        if (r == 0)
                fs_record_commit(fs_of(req));
        fs_handle_answered(fi);
        return r;
}

void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
        fs_slow_sync(fs_of(req), fsyncdir_answer, req, datasync, fi);
}

void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
        struct fs *fs = fs_of(req);
        struct statvfs sv;

        if (fstatvfs(fs->source_fd, &sv) < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_statfs(req, &sv);
}
