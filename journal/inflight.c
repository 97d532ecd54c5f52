/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inflight.c: the writer's in-flight table (docs/journal-format.md, "The
 * in-flight table"): changes announced before they are made, withdrawn
 * once recorded, so a writer killed in between leaves them for the next.
 *
 * The file is mapped shared: a store into a slot is in the page cache at
 * once and survives the process.  Free slots are a stack under a mutex;
 * when every slot is in use, an announcement waits for a withdrawal (the
 * table is sized for the writer's concurrency, so that is a safety net).
 * Leftover slots stay announced, and unavailable, until taken.  The file
 * is written through (no holes) before it is used, so a store into the
 * mapping never allocates.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal-internal.h"

#define SLOT_SIZE 12288u
#define SLOT_HEADER 16u
#define SLOT_ANNOUNCED 0x46494d4du
#define MAX_SLOTS 65536u

struct journal_inflight {
        struct journal *j;
        uint8_t *map;
        size_t nslots;
        pthread_mutex_t lock;
        pthread_cond_t freed;
        unsigned *free_stack;
        size_t nfree;
        bool *leftover;                 /* per slot: announced by a dead writer, not yet taken */
};

static uint32_t *slot_state(struct journal_inflight *t, size_t i)
{
        return (uint32_t *)(t->map + i * SLOT_SIZE);
}

/* The record of an announced slot, decoded (strings point into the map). */
static int slot_decode(struct journal_inflight *t, size_t i, struct journal_record *rec, uint64_t *from_seq)
{
        const uint8_t *s = t->map + i * SLOT_SIZE;
        uint32_t len;

        if (__atomic_load_n(slot_state(t, i), __ATOMIC_ACQUIRE) != SLOT_ANNOUNCED)
                return -ENOENT;
        memcpy(&len, s + 4, 4);
        memcpy(from_seq, s + 8, 8);
        if (len < 32 || len > SLOT_SIZE - SLOT_HEADER)
                return -EBADMSG;
        return record_decode(s + SLOT_HEADER, SLOT_SIZE - SLOT_HEADER, rec, NULL) > 0 ? 0 : -EBADMSG;
}

int journal_inflight_open(struct journal *j, unsigned slots, struct journal_inflight **ret)
{
        struct journal_inflight *t;
        struct stat st;
        int fd, r;

        if (!slots || slots > MAX_SLOTS)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->j = j;
        fd = openat(journal_dirfd(j), "inflight", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0) {
                r = -errno;
                free(t);
                return r;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        /* Never shrink: a dead writer may have used more slots. */
        t->nslots = (size_t)st.st_size / SLOT_SIZE;
        if (t->nslots > MAX_SLOTS)
                t->nslots = MAX_SLOTS;
        if (t->nslots < slots)
                t->nslots = slots;
        if (ftruncate(fd, (off_t)(t->nslots * SLOT_SIZE)) < 0) {
                r = -errno;
                goto fail;
        }
        t->map = mmap(NULL, t->nslots * SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (t->map == MAP_FAILED) {
                r = -errno;
                t->map = NULL;
                goto fail;
        }
        t->free_stack = calloc(t->nslots, sizeof(*t->free_stack));
        t->leftover = calloc(t->nslots, sizeof(*t->leftover));
        if (!t->free_stack || !t->leftover) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = t->nslots; i-- > 0;) {
                struct journal_record rec;
                uint64_t from;

                if (slot_decode(t, i, &rec, &from) == 0)
                        t->leftover[i] = true;
                else
                        t->free_stack[t->nfree++] = (unsigned)i;
        }
        /* Every free slot is written now, with zeros: a store into the
         * mapping must never need a block (a full journal file system
         * would answer it with SIGBUS).  Leftovers are kept as they are. */
        {
                static const uint8_t zeros[SLOT_SIZE];

                for (size_t n = 0; n < t->nfree; n++) {
                        off_t off = (off_t)t->free_stack[n] * SLOT_SIZE;

                        if (pwrite(fd, zeros, SLOT_SIZE, off) != (ssize_t)SLOT_SIZE) {
                                r = errno ? -errno : -ENOSPC;
                                goto fail;
                        }
                }
                if (fdatasync(fd) < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        close(fd);
        fd = -1;
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->freed, NULL);
        *ret = t;
        return 0;
fail:
        if (fd >= 0)
                close(fd);
        if (t->map)
                munmap(t->map, t->nslots * SLOT_SIZE);
        free(t->free_stack);
        free(t->leftover);
        free(t);
        return r;
}

int journal_inflight_take(struct journal_inflight *t, journal_leftover_fn fn, void *userdata)
{
        size_t n = 0;

        for (size_t i = 0; i < t->nslots; i++) {
                struct journal_record rec;
                uint64_t from;
                int r;

                if (!t->leftover[i])
                        continue;
                if (slot_decode(t, i, &rec, &from) == 0) {
                        r = fn(userdata, &rec, from);
                        if (r < 0)
                                return r;       /* kept: the next writer tries again */
                }
                __atomic_store_n(slot_state(t, i), 0, __ATOMIC_RELEASE);
                pthread_mutex_lock(&t->lock);
                t->leftover[i] = false;
                t->free_stack[t->nfree++] = (unsigned)i;
                pthread_cond_signal(&t->freed);
                pthread_mutex_unlock(&t->lock);
                n++;
        }
        return (int)n;
}

int journal_announce(struct journal_inflight *t, const struct journal_record *rec, int *ret_slot)
{
        int64_t len = record_encoded_length(rec);
        uint32_t len32;
        uint64_t from;
        uint8_t *s;
        unsigned i;

        if (len < 0)
                return (int)len;
        if ((uint64_t)rec_padded((uint32_t)len) > SLOT_SIZE - SLOT_HEADER)
                return -E2BIG;
        pthread_mutex_lock(&t->lock);
        while (!t->nfree)
                pthread_cond_wait(&t->freed, &t->lock);
        i = t->free_stack[--t->nfree];
        pthread_mutex_unlock(&t->lock);

        s = t->map + (size_t)i * SLOT_SIZE;
        len32 = (uint32_t)len;
        from = journal_next_seq(t->j);
        memcpy(s + 4, &len32, 4);
        memcpy(s + 8, &from, 8);
        record_encode(rec, from, rec->time_ns ? rec->time_ns : journal_now_ns(), len32, s + SLOT_HEADER);
        __atomic_store_n(slot_state(t, i), SLOT_ANNOUNCED, __ATOMIC_RELEASE);
        *ret_slot = (int)i;
        return 0;
}

void journal_withdraw(struct journal_inflight *t, int slot)
{
        if (slot < 0 || (size_t)slot >= t->nslots)
                return;
        __atomic_store_n(slot_state(t, (size_t)slot), 0, __ATOMIC_RELEASE);
        pthread_mutex_lock(&t->lock);
        t->free_stack[t->nfree++] = (unsigned)slot;
        pthread_cond_signal(&t->freed);
        pthread_mutex_unlock(&t->lock);
}

struct journal_inflight *journal_inflight_close(struct journal_inflight *t)
{
        if (!t)
                return NULL;
        munmap(t->map, t->nslots * SLOT_SIZE);
        pthread_cond_destroy(&t->freed);
        pthread_mutex_destroy(&t->lock);
        free(t->free_stack);
        free(t->leftover);
        free(t);
        return NULL;
}
