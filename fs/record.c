/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * record.c: the mount's side of the journal: turn a change the file system
 * just made into a record with paths relative to the source root, and
 * append it before the operation is answered.
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
        if (r == 0) {
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
        uint64_t seq;
        char *path;
        int r;

        r = parent ? fs_inode_path(fs, parent, name, &path) : fs_inode_path(fs, in, name, &path);
        if (r == -ENOENT) {
                unknown_path(fs, parent ? parent : in);
                return 0;
        }
        if (r < 0) {
                atomic_fetch_add(&fs->stats.record_errors, 1);
                return 0;
        }
        rec->path = path;
        rec->path_len = 0;
        append(fs, rec, &seq);
        free(path);
        return seq;
}

uint64_t fs_record2(struct fs *fs, struct journal_record *rec, struct fs_inode *parent,
                    const char *name, struct fs_inode *parent2, const char *name2)
{
        char *path2 = NULL;
        uint64_t seq;
        int r;

        r = parent2 ? fs_inode_path(fs, parent2, name2, &path2) : 0;
        if (r < 0 && r != -ENOENT) {
                atomic_fetch_add(&fs->stats.record_errors, 1);
                return 0;
        }
        /* An unknown second path (a link to an unnamed file) stays empty:
         * the replicator then copies the first path instead of linking. */
        rec->path2 = path2;
        rec->path2_len = 0;
        seq = fs_record(fs, rec, parent, name, NULL);
        free(path2);
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
