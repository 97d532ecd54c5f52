/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * record.c: the mount's side of the journal: turn a change the file system
 * makes into a record with paths relative to the source root, announced in
 * the in-flight table before the change is made (so a crash in between
 * loses nothing, recover.c), and appended before the operation is
 * answered.
 *
 * Mirroring must never hurt the jobs: nothing here fails an operation.  A
 * record that cannot be appended is counted and logged (at most once every
 * ten seconds), and the journal itself writes an events-lost record as soon
 * as it can, so the gap is visible.
 *
 * Caveat: a change to an inode whose every name was removed while it was
 * open has no path; it is dropped when the file is gone for good (no links
 * left), otherwise reported as lost (the mirror needs an audit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void append(struct fs *fs, struct journal_record *rec, uint64_t *ret_seq)
{
        int64_t now, last;
        int r;

        r = journal_append(fs->journal, rec, ret_seq);
        if (r == 0 || r == -EINPROGRESS) {
                /* -EINPROGRESS: held in memory by the journal until its
                 * file system takes writes again (the status shows it) */
                atomic_fetch_add(&fs->stats.records, 1);
                return;
        }
        *ret_seq = 0;
        atomic_fetch_add(&fs->stats.record_errors, 1);
        now = now_ns();
        last = atomic_load(&fs->last_error_log_ns);
        if (now - last > 10 * 1000000000LL && atomic_compare_exchange_strong(&fs->last_error_log_ns, &last, now))
                log_msg(LOG_ERR, "cannot append journal record for '%s': %s "
                         "(%llu records lost so far; the mount keeps serving)\n",
                         rec->path ? rec->path : "", strerror(-r),
                         (unsigned long long)atomic_load(&fs->stats.record_errors));
}

/* No name is known for @in: it was unlinked while open, or lost its name. */
static void unknown_path(struct fs *fs, struct fs_inode *in)
{
        struct journal_record lost = { .type = JOURNAL_EVENTS_LOST, .aux = ENOENT, .size = 1 };
        char reason[128];
        struct stat st;
        uint64_t seq;
        int fd;

        fd = fs_inode_open(fs, in, O_PATH);
        if (fd >= 0) {
                int r = fstat(fd, &st);

                close(fd);
                if (r == 0 && st.st_nlink == 0)
                        return;         /* gone for good: nothing to mirror */
        } else if (fd == -ESTALE) {
                return;
        }
        atomic_fetch_add(&fs->stats.unknown_paths, 1);
        snprintf(reason, sizeof(reason), "path of changed inode %llu unknown (its names were removed)",
                 (unsigned long long)in->ino);
        lost.path = reason;
        append(fs, &lost, &seq);
}

uint64_t fs_record(struct fs *fs, struct journal_record *rec, struct fs_inode *parent,
                   const char *name, struct fs_inode *in)
{
        uint64_t seq = 0;
        char *path;
        int r;

        pthread_rwlock_rdlock(&fs->nslock);
        r = parent ? fs_inode_path(fs, parent, name, &path) : fs_inode_path(fs, in, name, &path);
        if (r == -ENOENT) {
                unknown_path(fs, parent ? parent : in);
        } else if (r < 0) {
                atomic_fetch_add(&fs->stats.record_errors, 1);
        } else {
                rec->path = path;
                rec->path_len = 0;
                append(fs, rec, &seq);
                free(path);
        }
        pthread_rwlock_unlock(&fs->nslock);
        return seq;
}

void fs_change_begin(struct fs *fs, struct fs_change *c, struct fs_inode *dir, const char *name,
                     struct fs_inode *dir2, const char *name2, bool exclusive)
{
        int r;

        c->slot = -1;
        c->path = c->path2 = NULL;
        c->where = dir;
        c->exclusive = exclusive;
        if (exclusive)
                pthread_rwlock_wrlock(&fs->nslock);
        else
                pthread_rwlock_rdlock(&fs->nslock);
        c->path_err = fs_inode_path(fs, dir, name, &c->path);
        if (c->path_err < 0)
                c->path = NULL;
        if (dir2) {
                /* An unknown second path (a link to an unnamed file) stays
                 * empty: the replicator then copies instead of linking. */
                if (fs_inode_path(fs, dir2, name2, &c->path2) < 0)
                        c->path2 = NULL;
                c->rec.path2 = c->path2;
                c->rec.path2_len = 0;
        }
        if (!c->path || !fs->inflight)
                return;
        c->rec.path = c->path;
        c->rec.path_len = 0;
        r = journal_announce(fs->inflight, &c->rec, &c->slot);
        if (r < 0) {
                c->slot = -1;   /* the change goes on, unguarded */
                atomic_fetch_add(&fs->stats.unannounced, 1);
        }
}

uint64_t fs_change_end(struct fs *fs, struct fs_change *c, bool made)
{
        uint64_t seq = 0;

        if (made) {
                if (c->path) {
                        c->rec.path = c->path;
                        c->rec.path_len = 0;
                        if (c->path2) {
                                c->rec.path2 = c->path2;
                                c->rec.path2_len = 0;
                        }
                        append(fs, &c->rec, &seq);
                } else if (c->path_err == -ENOENT) {
                        unknown_path(fs, c->where);
                } else {
                        atomic_fetch_add(&fs->stats.record_errors, 1);
                }
        }
        if (c->slot >= 0)
                journal_withdraw(fs->inflight, c->slot);
        pthread_rwlock_unlock(&fs->nslock);
        free(c->path);
        free(c->path2);
        c->path = c->path2 = NULL;
        c->slot = -1;
        return seq;
}

void fs_record_commit(struct fs *fs)
{
        int r = journal_commit(fs->journal, 0);

        if (r < 0)
                atomic_fetch_add(&fs->stats.record_errors, 1);
}

void fs_record_from_stat(struct journal_record *rec, const struct stat *st)
{
        rec->mode = st->st_mode;
        rec->uid = st->st_uid;
        rec->gid = st->st_gid;
        rec->ino = st->st_ino;
        rec->size = (uint64_t)st->st_size;
        rec->rdev = st->st_rdev;
        rec->atime = st->st_atim;
        rec->mtime = st->st_mtim;
        if (S_ISDIR(st->st_mode))
                rec->flags |= JOURNAL_F_DIR;
}
