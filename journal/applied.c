/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * applied.c: the applied log (docs/journal-format.md): a replicator's
 * durable record of when each change reached the target.  Fixed 32-byte
 * entries with a CRC each, appended in batches; a torn entry is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal-internal.h"

#define ENTRY 32
#define BATCH 4096                      /* entries buffered before a write */
#define ROTATE (64ull << 20)

struct journal_applied_log {
        int dirfd, fd;
        char name[96], old[100];
        pthread_mutex_t lock;
        uint8_t buf[BATCH * ENTRY];
        size_t len;
        uint64_t size;                  /* of the file */
        int error;                      /* sticky: the last failed write */
};

static void encode(const struct journal_applied *a, uint8_t *out)
{
        put64(out, a->seq);
        put64(out + 8, a->record_ns);
        put64(out + 16, a->applied_ns);
        put32(out + 24, a->flags);
        put32(out + 28, journal_crc32c(out, 28));
}

int journal_applied_open(int dirfd, const char *cursor, struct journal_applied_log **ret)
{
        struct journal_applied_log *l;
        struct stat st;
        int r;

        if (!journal_cursor_name_valid(cursor))
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        snprintf(l->name, sizeof(l->name), "applied.%s", cursor);
        snprintf(l->old, sizeof(l->old), "applied.%s.old", cursor);
        l->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        l->fd = l->dirfd < 0 ? -1 : openat(dirfd, l->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (l->fd < 0 || fstat(l->fd, &st) < 0) {
                r = -errno;
                journal_applied_close(l);
                return r;
        }
        /* A torn last entry stays, and is skipped; new ones start aligned. */
        l->size = (uint64_t)st.st_size;
        if (l->size % ENTRY && ftruncate(l->fd, (off_t)(l->size - l->size % ENTRY)) == 0)
                l->size -= l->size % ENTRY;
        pthread_mutex_init(&l->lock, NULL);
        *ret = l;
        return 0;
}

/* Lock held. */
static int write_out(struct journal_applied_log *l)
{
        size_t done = 0;

        while (done < l->len) {
                ssize_t n = write(l->fd, l->buf + done, l->len - done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)n;
        }
        l->size += l->len;
        l->len = 0;
        if (l->size >= ROTATE) {
                int fd;

                if (fdatasync(l->fd) < 0 || renameat(l->dirfd, l->name, l->dirfd, l->old) < 0)
                        return -errno;
                fd = openat(l->dirfd, l->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
                if (fd < 0)
                        return -errno;
                close(l->fd);
                l->fd = fd;
                l->size = 0;
        }
        return 0;
}

int journal_applied_add(struct journal_applied_log *l, const struct journal_applied *a)
{
        int r = 0;

        pthread_mutex_lock(&l->lock);
        if (l->len == sizeof(l->buf))
                r = write_out(l);
        if (r == 0) {
                encode(a, l->buf + l->len);
                l->len += ENTRY;
        } else {
                l->len = 0;     /* the report loses them; the mirror does not */
                l->error = r;
        }
        pthread_mutex_unlock(&l->lock);
        return r;
}

int journal_applied_flush(struct journal_applied_log *l)
{
        int r;

        pthread_mutex_lock(&l->lock);
        r = write_out(l);
        if (r == 0 && fdatasync(l->fd) < 0)
                r = -errno;
        if (r < 0)
                l->len = 0;
        pthread_mutex_unlock(&l->lock);
        return r;
}

struct journal_applied_log *journal_applied_close(struct journal_applied_log *l)
{
        if (!l)
                return NULL;
        if (l->fd >= 0) {
                (void)journal_applied_flush(l);
                close(l->fd);
                pthread_mutex_destroy(&l->lock);
        }
        if (l->dirfd >= 0)
                close(l->dirfd);
        free(l);
        return NULL;
}

static int read_file(int dirfd, const char *name, int (*fn)(void *, const struct journal_applied *), void *ud)
{
        uint8_t buf[BATCH * ENTRY];
        uint64_t off = 0;
        int fd, r = 0;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        for (;;) {
                int64_t n = pread_full(fd, buf, sizeof(buf), off);

                if (n < 0) {
                        r = (int)n;
                        break;
                }
                for (int64_t i = 0; i + ENTRY <= n; i += ENTRY) {
                        const uint8_t *e = buf + i;
                        struct journal_applied a;

                        if (get32(e + 28) != journal_crc32c(e, 28))
                                continue;       /* torn or damaged: skipped */
                        a = (struct journal_applied) { get64(e), get64(e + 8), get64(e + 16), get32(e + 24) };
                        r = fn(ud, &a);
                        if (r < 0)
                                goto out;
                }
                if ((size_t)n < sizeof(buf))
                        break;
                off += (uint64_t)n;
        }
out:
        close(fd);
        return r;
}

int journal_applied_read(int dirfd, const char *cursor, int (*fn)(void *, const struct journal_applied *), void *ud)
{
        char name[96], old[100];
        int r;

        if (!journal_cursor_name_valid(cursor))
                return -EINVAL;
        snprintf(name, sizeof(name), "applied.%s", cursor);
        snprintf(old, sizeof(old), "applied.%s.old", cursor);
        r = read_file(dirfd, old, fn, ud);
        return r < 0 ? r : read_file(dirfd, name, fn, ud);
}
