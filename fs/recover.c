/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * recover.c: after a crash, append what the changes the dead daemon was
 * making really did (docs/journal-format.md, "The in-flight table").
 *
 * Each leftover announcement is a change that was about to be made, or
 * made, or made and recorded.  The rules:
 *
 *   recorded already (an equal record at or after its from seq): nothing;
 *   a rename: made when the old name is gone (an exchange: when the new
 *   name holds the inode the announcement carries): recorded if made;
 *   a link: made when the new name holds that inode: recorded if made;
 *   anything else: recorded as announced (a name made: with the inode it
 *   holds now).  Records mean "make the target match the source for this
 *   path", so one for a change that was not made changes nothing.
 *
 * Runs at start, after the journal is opened and before the mount serves:
 * nothing else changes the source through the mount meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"

/* lstat() of @path beneath the source root, never through a symlink:
 * 0, or -errno (-ENOENT when there is no such entry). */
static int source_lstat(struct fs *fs, const char *path, struct stat *st)
{
        struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        int fd = (int)syscall(SYS_openat2, fs->source_fd, path, &how, sizeof(how));
        int r;

        if (fd < 0)
                return errno == ELOOP || errno == ENOTDIR ? -ENOENT : -errno;
        r = fstat(fd, st) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static bool same_str(const char *a, uint16_t alen, const char *b, uint16_t blen)
{
        return alen == blen && memcmp(a, b, alen) == 0;
}

/* Is there a record like @want at or after @from in the journal? */
static bool already_recorded(struct fs *fs, const struct journal_record *want, uint64_t from)
{
        struct journal_reader *rd;
        struct journal_record rec;
        bool found = false;
        int r;

        if (journal_reader_open(fs->journal_fd, from, NULL, NULL, &rd) < 0)
                return false;
        while (!found && (r = journal_reader_next(rd, &rec)) > 0)
                found = rec.type == want->type && same_str(rec.path, rec.path_len, want->path, want->path_len) &&
                        same_str(rec.path2, rec.path2_len, want->path2, want->path2_len);
        journal_reader_free(rd);
        return found;
}

static bool was_made(struct fs *fs, const struct journal_record *rec)
{
        struct stat st;

        switch (rec->type) {
        case JOURNAL_RENAME:
                if (rec->aux & RENAME_EXCHANGE)
                        return rec->ino && source_lstat(fs, rec->path2, &st) == 0 && st.st_ino == rec->ino;
                return source_lstat(fs, rec->path, &st) == -ENOENT;
        case JOURNAL_LINK:
                return source_lstat(fs, rec->path, &st) == 0 && st.st_ino == rec->ino;
        default:
                return true;
        }
}

struct recovery {
        struct fs *fs;
        unsigned appended, skipped;
};

static int recover_one(void *userdata, const struct journal_record *announced, uint64_t from_seq)
{
        struct recovery *rc = userdata;
        struct journal_record rec = *announced;
        int r;

        if (already_recorded(rc->fs, announced, from_seq) || !was_made(rc->fs, announced)) {
                rc->skipped++;
                return 0;
        }
        if (!rec.ino && (rec.type == JOURNAL_CREATE || rec.type == JOURNAL_MKDIR || rec.type == JOURNAL_MKNOD ||
                         rec.type == JOURNAL_SYMLINK)) {
                /* Announced before the entry existed: the record says which
                 * inode the name holds now.  Without it the replicator took
                 * the inode an older record of the name gave, found another
                 * under the name, and left the old entry on the target. */
                struct stat st;

                if (source_lstat(rc->fs, rec.path, &st) == 0)
                        rec.ino = st.st_ino;
        }
        rec.seq = 0;
        rec.time_ns = 0;        /* now: when the mirror learns of it */
        r = journal_append(rc->fs->journal, &rec, NULL);
        if (r < 0)
                return r;       /* left in the table for the next start */
        rc->appended++;
        return 0;
}

int fs_recover(struct fs *fs)
{
        struct recovery rc = { .fs = fs };
        int r;

        r = journal_inflight_take(fs->inflight, recover_one, &rc);
        if (r < 0)
                return r;
        if (r > 0)
                log_msg(LOG_NOTICE, "recovered %d changes the previous daemon was making when it died: "
                        "%u recorded now, %u already recorded or not made", r, rc.appended, rc.skipped);
        return r;
}
