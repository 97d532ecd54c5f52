/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * writer.c: appending to the journal from many threads, with group writes
 * and group commit.
 *
 * Appenders encode their record into the open batch buffer under the lock,
 * then wait until the batch has been written.  Whoever finds no write in
 * progress becomes the writer: it swaps the buffers (so appends continue
 * into the other one), writes the whole batch with one pwrite() outside the
 * lock, and wakes everyone.  Under load one write() carries many records;
 * alone, an append costs one write().  Syncing works the same way: one
 * fdatasync() for everything written so far, by whichever thread needs it
 * first (strict mode, journal_commit()) or by the committer thread every
 * commit interval (batch mode).
 *
 * What it does not do: read records (reader.c), trim (trim.c).
 *
 * Caveat: a record counts as written once pwrite() returned; that makes it
 * survive a crash of this process (it is in the page cache), not a power
 * loss.  Only a sync makes it durable.  A failed write (a full or failing
 * file system) does not lose the batch: it is held in memory, numbered, and
 * written in order before the next batch, or by the committer within a
 * second when nobody appends; its appenders get -EINPROGRESS.  Only what
 * would pass max_pending held bytes is lost: counted, its appenders get the
 * error, and an events-lost record goes out with the next batch.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "journal-internal.h"
#include "reader-internal.h"

#define PENDING_SYNC 1024               /* written batches awaiting a sync, for latency */
#define HIST_BUCKETS 96                 /* commit latency: bucket i holds < 2^(i/4) us */

/* An appender waiting for its batch, on its own stack. */
struct waiter {
        struct waiter *next;
        int result;
        bool done;
};

struct buffer {
        struct waiter *waiters;         /* to tell when the batch is written */
        uint8_t *data;
        size_t len, cap;
        uint64_t first_seq, last_seq;   /* of the records in it (0: none) */
        uint32_t count;
        uint64_t oldest_ns;             /* monotonic time of its first append */
};

struct lost {
        uint64_t first_seq, last_seq;   /* numbered records lost (0: none) */
        uint64_t count;                 /* numbered records lost */
        uint64_t refused;               /* appends refused before numbering */
        int error;
};

struct pending_sync {
        uint64_t last_seq;
        uint64_t oldest_ns;
        uint32_t count;
};

struct journal {
        int dirfd, lockfd;
        struct journal_options opt;
        /* The syscalls; tests inject faults here (journal_set_io()) while
         * the writer and the committer call them without the lock. */
        int (*_Atomic io_pwrite)(int fd, const void *buf, size_t len, uint64_t off);
        int (*_Atomic io_fdatasync)(int fd);
        uint8_t id[JOURNAL_ID_SIZE];

        pthread_mutex_t lock;
        pthread_cond_t progress;        /* a batch was written or a sync finished */
        pthread_cond_t wake_committer;

        /* Everything below is guarded by lock, except where noted. */
        struct buffer buf[2];           /* batch g lives in buf[g & 1] */
        uint64_t open_gen;              /* the batch appends go into */
        bool writing;                   /* a thread holds the writer role */
        bool syncing;                   /* a thread holds the sync role */
        bool closing;
        bool committer_idle;            /* waiting for something to sync */
        unsigned delaying;              /* strict: threads in a commit delay */
        uint32_t group_size;            /* strict: records the last sync carried */
        uint64_t group_wait_ns;         /* strict: commit delay, a quarter of the last sync */
        uint64_t next_seq;
        uint64_t written_seq;           /* highest seq of a finished batch */
        uint64_t synced_seq;            /* every written record up to here is durable */
        int sticky_error;               /* last write/sync error, cleared by a good sync */

        struct lost lost;               /* waiting for an events-lost record */
        struct lost marker;             /* what the queued events-lost record reports */
        uint64_t marker_gen;            /* batch holding it (0: none queued) */

        struct pending_sync pend[PENDING_SYNC];
        unsigned pend_head, pend_len;
        uint64_t pend_seal_seq;         /* target of the last sync started */
        uint64_t hist[HIST_BUCKETS];
        uint64_t hist_total;

        /* The segment: changed by the writer only, while it also holds the
         * sync role, so a syncer never sees a closed descriptor. */
        int seg_fd;
        uint64_t seg_first_seq;
        uint64_t seg_off;               /* end of the last good record */
        uint64_t seg_alloc;             /* blocks reserved (KEEP_SIZE) up to here */
        bool seg_dirty_tail;            /* bytes past seg_off from a failed write */
        bool reserve_ok;                /* the reserve file is in place */

        struct journal_stats stats;     /* counters only; the rest is filled on read */

        /* Batches whose write failed (a full or failing journal file
         * system), kept in seq order until a write succeeds, up to
         * max_pending bytes.  Touched only by the thread in the writer role. */
        struct buffer held;
        uint64_t held_retry_ns;         /* the committer's next attempt */

        pthread_t committer;
        bool committer_started;
};

static int real_fdatasync(int fd)
{
        return fdatasync(fd) < 0 ? -errno : 0;
}

static const struct journal_io real_io = {
        .pwrite = pwrite_all,
        .fdatasync = real_fdatasync,
};

void journal_set_io(struct journal *j, const struct journal_io *io)
{
        if (!io)
                io = &real_io;
        atomic_store(&j->io_pwrite, io->pwrite);
        atomic_store(&j->io_fdatasync, io->fdatasync);
}

static uint64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lost_merge(struct lost *into, const struct lost *l)
{
        if (l->count) {
                if (!into->count || l->first_seq < into->first_seq)
                        into->first_seq = l->first_seq;
                if (l->last_seq > into->last_seq)
                        into->last_seq = l->last_seq;
                into->count += l->count;
        }
        into->refused += l->refused;
        if (l->error)
                into->error = l->error;
}

static bool lost_any(const struct lost *l)
{
        return l->count || l->refused;
}

/* ---- the segment ---- */

static int segment_create(struct journal *j, uint64_t first_seq, int *ret_fd)
{
        uint8_t hdr[SEG_HEADER_SIZE];
        char name[SEG_NAME_MAX], tmp[SEG_NAME_MAX + 4];
        struct seg_header h = { .first_seq = first_seq, .created_ns = journal_now_ns() };
        int fd, r;

        memcpy(h.id, j->id, JOURNAL_ID_SIZE);
        seg_header_encode(&h, hdr);
        seg_name(first_seq, false, name);
        snprintf(tmp, sizeof(tmp), "%s.tmp", name);
        /* Published by rename with its header in place: a reader never
         * sees a segment shorter than its header. */
        fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;
        r = j->io_pwrite(fd, hdr, sizeof(hdr), 0);
        /* The header and the directory entry must be durable before any
         * record of this segment can be: a later fdatasync() of the file
         * does not persist its name. */
        if (r == 0)
                r = j->io_fdatasync(fd);
        if (r == 0 && renameat(j->dirfd, tmp, j->dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                close(fd);
                (void)unlinkat(j->dirfd, tmp, 0);
                return r;
        }
        r = fsync_dir(j->dirfd);
        if (r < 0) {
                close(fd);
                (void)unlinkat(j->dirfd, name, 0);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

#define RESERVE_NAME "reserve"
#define RESERVE_BYTES (256u << 10)
#define PREALLOC_STEP (1u << 20)

/*
 * The reserve: a file of written blocks kept in the journal directory, so
 * that on a full file system one segment switch can still be made (by
 * deleting it): the segment that filled the file system can then be
 * finished, applied and trimmed, which makes room.  Made again when there
 * is room.  0 or -errno, nothing left behind on failure.
 */
static int reserve_make(int dirfd)
{
        static const uint8_t zeros[65536];
        int fd, r = 0;

        fd = openat(dirfd, RESERVE_NAME ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < RESERVE_BYTES && r == 0; off += sizeof(zeros))
                r = pwrite_all(fd, zeros, sizeof(zeros), (off_t)off);
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        close(fd);
        if (r == 0 && renameat(dirfd, RESERVE_NAME ".tmp", dirfd, RESERVE_NAME) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(dirfd, RESERVE_NAME ".tmp", 0);
        return r;
}

/*
 * Called by the writer, lock not held.  Starts a new segment when the current
 * one is full.  Takes the sync role for the switch so no fdatasync() runs on
 * the descriptor being closed.  A failure keeps the old segment: it is still
 * valid, only longer than the limit.
 */
static void segment_maybe_rotate(struct journal *j, uint64_t next_first_seq)
{
        bool used_reserve = false;
        uint64_t written;
        int fd, r;

        if (j->seg_off < j->opt.segment_size || j->seg_off == SEG_HEADER_SIZE)
                return;
        pthread_mutex_lock(&j->lock);
        while (j->syncing)
                pthread_cond_wait(&j->progress, &j->lock);
        j->syncing = true;
        written = j->written_seq;
        pthread_mutex_unlock(&j->lock);

        /* Older segments are complete and durable: recovery and readers
         * rely on it (a torn tail can only be in the newest one). */
        r = 0;
        if (j->seg_dirty_tail && ftruncate(j->seg_fd, (off_t)j->seg_off) < 0)
                r = -errno;
        if (r == 0)
                r = j->io_fdatasync(j->seg_fd);
        if (r == 0) {
                r = segment_create(j, next_first_seq, &fd);
                if ((r == -ENOSPC || r == -EDQUOT) && unlinkat(j->dirfd, RESERVE_NAME, 0) == 0) {
                        used_reserve = true;
                        r = segment_create(j, next_first_seq, &fd);
                }
        }
        if (r == 0 && j->seg_alloc > j->seg_off)
                /* give back what was reserved and not used */
                (void)fallocate(j->seg_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)j->seg_off,
                                (off_t)(j->seg_alloc - j->seg_off));

        pthread_mutex_lock(&j->lock);
        if (used_reserve)
                j->reserve_ok = false;
        if (r == 0) {
                close(j->seg_fd);
                j->seg_fd = fd;
                j->seg_first_seq = next_first_seq;
                j->seg_off = SEG_HEADER_SIZE;
                j->seg_alloc = 0;
                j->stats.segment_bytes = SEG_HEADER_SIZE;
                j->seg_dirty_tail = false;
                if (written > j->synced_seq)
                        j->synced_seq = written;
                j->stats.syncs++;
        } else {
                j->stats.last_error = r;
        }
        j->syncing = false;
        pthread_cond_broadcast(&j->progress);
        pthread_mutex_unlock(&j->lock);
}

/* Called by the writer, lock not held. */
static int segment_write(struct journal *j, const struct buffer *b)
{
        int r;

        segment_maybe_rotate(j, b->first_seq);
        if (j->seg_dirty_tail && ftruncate(j->seg_fd, (off_t)j->seg_off) == 0)
                j->seg_dirty_tail = false;
        /* Blocks first (without changing the size): a full file system
         * then refuses the batch before any byte of it is written, so no
         * reader ever sees records the writer will write again. */
        if (j->seg_off + b->len > j->seg_alloc) {
                uint64_t want = j->seg_off + b->len + PREALLOC_STEP;

                r = fallocate(j->seg_fd, FALLOC_FL_KEEP_SIZE, (off_t)j->seg_off, (off_t)(want - j->seg_off)) < 0
                    ? -errno : 0;
                if (r == -ENOSPC || r == -EDQUOT) {
                        /* just what this batch needs */
                        want = j->seg_off + b->len;
                        r = fallocate(j->seg_fd, FALLOC_FL_KEEP_SIZE, (off_t)j->seg_off, (off_t)b->len) < 0
                            ? -errno : 0;
                }
                if (r == -ENOSPC || r == -EDQUOT)
                        return r;
                j->seg_alloc = r == 0 ? want : 0;       /* EOPNOTSUPP: plain writes */
        }
        r = j->io_pwrite(j->seg_fd, b->data, b->len, j->seg_off);
        if (r < 0) {
                j->seg_dirty_tail = true;       /* part of it may be there */
                return r;
        }
        j->seg_off += b->len;
        return 0;
}

/* ---- batches ---- */

static int buffer_reserve(struct buffer *b, size_t more, size_t max)
{
        size_t cap;
        uint8_t *p;

        if (b->len + more > max)
                return -ENOBUFS;
        if (b->len + more <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 65536;
        while (cap < b->len + more)
                cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

static void hist_add(struct journal *j, uint64_t ns, uint64_t weight)
{
        uint64_t us = ns / 1000;
        unsigned i = 0;

        /* bucket i: latency < 2^(i/4) us, about 19% wide */
        while (i < HIST_BUCKETS - 1) {
                unsigned e = i / 4, f = i % 4;
                /* 2^(e + f/4) ~ (1 << e) * {1, 1.19, 1.41, 1.68} */
                static const unsigned frac[4] = { 100, 119, 141, 168 };
                uint64_t bound = ((uint64_t)1 << e) * frac[f] / 100;

                if (us < bound)
                        break;
                i++;
        }
        j->hist[i] += weight;
        j->hist_total += weight;
}

static uint64_t hist_p99_us(const struct journal *j)
{
        static const unsigned frac[4] = { 100, 119, 141, 168 };
        uint64_t want, seen = 0;
        unsigned i;

        if (!j->hist_total)
                return 0;
        want = j->hist_total - j->hist_total / 100;
        for (i = 0; i < HIST_BUCKETS; i++) {
                seen += j->hist[i];
                if (seen >= want)
                        break;
        }
        if (i >= HIST_BUCKETS)
                i = HIST_BUCKETS - 1;
        return ((uint64_t)1 << (i / 4)) * frac[i % 4] / 100;
}

/*
 * Lock held.  A batch was written: remember it until a sync covers it.
 * Batches within 100 us of each other share an entry, except across the
 * start of a sync (pend_seal_seq): a sync must be able to pop exactly what
 * it covers, or its records would be counted a whole interval late.
 */
static void pending_sync_push(struct journal *j, const struct buffer *b)
{
        struct pending_sync *p = NULL;

        if (j->pend_len)
                p = &j->pend[(j->pend_head + j->pend_len - 1) % PENDING_SYNC];
        if (p && ((p->last_seq > j->pend_seal_seq && b->oldest_ns - p->oldest_ns < 100000) ||
                  j->pend_len == PENDING_SYNC)) {
                p->last_seq = b->last_seq;
                p->count += b->count;
                return;
        }
        p = &j->pend[(j->pend_head + j->pend_len) % PENDING_SYNC];
        *p = (struct pending_sync) { b->last_seq, b->oldest_ns, b->count };
        j->pend_len++;
}

/* Lock held.  Everything up to @seq is durable. */
static void pending_sync_pop(struct journal *j, uint64_t seq)
{
        uint64_t now = mono_ns();

        while (j->pend_len) {
                struct pending_sync *p = &j->pend[j->pend_head];

                if (p->last_seq > seq)
                        break;
                hist_add(j, now - p->oldest_ns, p->count);
                j->pend_head = (j->pend_head + 1) % PENDING_SYNC;
                j->pend_len--;
        }
}

#define HELD_CHUNK (256u << 10)

/*
 * Lock held, writer role.  Write what failed before, first: records reach
 * the journal in seq order.  In chunks of whole records, so that a file
 * system with a little room takes what fits (the replicator then trims, and
 * makes more).  0 when nothing is held any more.
 */
static int flush_held(struct journal *j)
{
        struct buffer *h = &j->held;
        size_t off = 0;
        int r = 0;

        while (off < h->len) {
                struct buffer chunk = { .data = h->data + off, .first_seq = get64(h->data + off + 16),
                                        .oldest_ns = h->oldest_ns };
                size_t end = off;

                while (end < h->len && (end == off || end - off < HELD_CHUNK)) {
                        chunk.last_seq = get64(h->data + end + 16);
                        chunk.count++;
                        end += rec_padded(get32(h->data + end + 8));
                }
                chunk.len = end - off;
                pthread_mutex_unlock(&j->lock);
                r = segment_write(j, &chunk);
                pthread_mutex_lock(&j->lock);
                if (r < 0)
                        break;
                j->written_seq = chunk.last_seq;
                j->stats.writes++;
                j->stats.bytes += chunk.len;
                j->stats.segment_bytes = j->seg_off;
                j->stats.held -= chunk.count;
                h->count -= chunk.count;
                pending_sync_push(j, &chunk);
                off = end;
        }
        if (off) {
                memmove(h->data, h->data + off, h->len - off);
                h->len -= off;
                h->first_seq = h->len ? get64(h->data + 16) : 0;
                if (!h->len)
                        h->last_seq = 0;
        }
        if (r < 0) {
                j->stats.last_error = r;
                j->sticky_error = r;
        }
        return r;
}

/* Lock held, writer role.  Keep a batch whose write failed, if it fits. */
static bool hold(struct journal *j, const struct buffer *b)
{
        struct buffer *h = &j->held;

        if (buffer_reserve(h, b->len, j->opt.max_pending) < 0)
                return false;
        memcpy(h->data + h->len, b->data, b->len);
        h->len += b->len;
        if (!h->count) {
                h->first_seq = b->first_seq;
                h->oldest_ns = b->oldest_ns;
        }
        h->last_seq = b->last_seq;
        h->count += b->count;
        j->stats.held += b->count;
        pthread_cond_signal(&j->wake_committer);        /* it retries them */
        return true;
}

/*
 * Lock held on entry and exit.  Write the open batch, then any batch filled
 * meanwhile, until @w is done.  The caller holds the writer role.  A batch
 * that cannot be written is held in memory and written, in order, before
 * the next one; only when the held bytes would pass max_pending are
 * records lost.
 */
static void write_batches(struct journal *j, struct waiter *w)
{
        while (!w->done) {
                uint64_t g = j->open_gen;
                struct buffer *b = &j->buf[g & 1];
                struct waiter *x;
                int r;

                j->open_gen++;          /* appends now fill the other buffer */
                /* What is held goes first (a full file system answers
                 * at once: trying with every batch costs little). */
                r = flush_held(j);
                if (b->len && r == 0) {
                        pthread_mutex_unlock(&j->lock);
                        r = segment_write(j, b);
                        pthread_mutex_lock(&j->lock);
                }
                if (b->count) {
                        if (r == 0) {
                                j->written_seq = b->last_seq;
                                j->stats.writes++;
                                j->stats.bytes += b->len;
                                j->stats.segment_bytes = j->seg_off;
                                pending_sync_push(j, b);
                        } else if (hold(j, b)) {
                                /* written later, in order */
                                j->stats.last_error = r;
                                j->sticky_error = r;
                                r = -EINPROGRESS;
                        } else {
                                /* Count changes, not the events-lost
                                 * record that went down with them. */
                                struct lost l = {
                                        .first_seq = b->first_seq, .last_seq = b->last_seq,
                                        .count = b->count - (g == j->marker_gen), .error = r,
                                };

                                if (g == j->marker_gen)
                                        lost_merge(&j->lost, &j->marker);
                                lost_merge(&j->lost, &l);
                                j->stats.lost += l.count;
                                j->stats.last_error = r;
                                j->sticky_error = r;
                                /* Records in the sync window are gone:
                                 * nothing to wait for. */
                                pending_sync_pop(j, 0);
                        }
                }
                if (g == j->marker_gen)
                        j->marker_gen = 0;
                for (x = b->waiters; x; x = x->next) {
                        x->result = r;
                        x->done = true;
                }
                b->waiters = NULL;
                b->len = 0;
                b->count = 0;
                b->first_seq = b->last_seq = 0;
                pthread_cond_broadcast(&j->progress);
        }
        if (j->committer_idle && j->synced_seq < j->written_seq)
                pthread_cond_signal(&j->wake_committer);
}

/*
 * Lock held.  @w lives on the caller's stack; the caller stays in
 * wait_batch() until the writer has marked it done and unlinked it.
 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
static void waiter_add(struct buffer *b, struct waiter *w)
{
        w->next = b->waiters;
        b->waiters = w;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

/* Lock held.  Wait until @w's batch is written, writing it if nobody is. */
static int wait_batch(struct journal *j, struct waiter *w)
{
        bool strict = j->opt.durability == JOURNAL_STRICT;
        bool delayed = false;

        while (!w->done) {
                /* Strict mode: do not write under a running sync (a write
                 * to pages being written back can stall behind it); let
                 * the batch grow and go out whole when the sync ends. */
                if (j->writing || (strict && j->syncing)) {
                        pthread_cond_wait(&j->progress, &j->lock);
                        continue;
                }
                /* Strict mode, commit delay: the appenders the last sync
                 * released are likely coming back right now.  Waiting a
                 * fraction of a sync for them makes one sync serve them
                 * all, instead of the threads settling into two groups
                 * that take turns.  Adapts: group_size is what the last
                 * sync carried; not worth it when syncs are nearly free
                 * (tmpfs). */
                if (strict && !delayed && j->group_wait_ns >= 20000 &&
                    j->buf[j->open_gen & 1].count < j->group_size) {
                        uint64_t t = mono_ns() + j->group_wait_ns;
                        struct timespec until = {
                                .tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u),
                        };

                        delayed = true;
                        j->delaying++;
                        (void)pthread_cond_timedwait(&j->progress, &j->lock, &until);
                        j->delaying--;
                        continue;
                }
                j->writing = true;
                write_batches(j, w);
                j->writing = false;
                /* Batches appended meanwhile need a writer too. */
                pthread_cond_broadcast(&j->progress);
        }
        return w->result;
}

/*
 * Lock held on entry and exit.  Make every record up to @seq durable, or
 * as much as has been written when @seq is beyond that.
 */
static int sync_upto(struct journal *j, uint64_t seq)
{
        bool waited = false;

        while (j->synced_seq < seq && j->synced_seq < j->written_seq) {
                uint64_t target, t0;
                int r, fd;

                /* Group commit: a write in progress ends in microseconds, a
                 * sync takes a millisecond; let the sync cover it (once, so
                 * a stream of writes cannot starve the sync). */
                if (j->syncing || (j->writing && !waited)) {
                        waited = !j->syncing;
                        pthread_cond_wait(&j->progress, &j->lock);
                        continue;
                }
                j->syncing = true;
                target = j->written_seq;
                j->pend_seal_seq = target;
                fd = j->seg_fd;
                pthread_mutex_unlock(&j->lock);
                t0 = mono_ns();
                r = j->io_fdatasync(fd);
                pthread_mutex_lock(&j->lock);
                j->syncing = false;
                j->stats.syncs++;
                if (r == 0) {
                        uint64_t took = mono_ns() - t0;

                        j->group_size = target - j->synced_seq > 64 ? 64 : (uint32_t)(target - j->synced_seq);
                        j->group_wait_ns = took / 4 < 1000000 ? took / 4 : 1000000;
                        if (target > j->synced_seq)
                                j->synced_seq = target;
                        pending_sync_pop(j, target);
                        if (!lost_any(&j->lost) && !j->marker_gen && !j->held.count)
                                j->sticky_error = 0;
                } else {
                        /* After a failed fdatasync() the kernel may have
                         * dropped the dirty pages: the records since the
                         * last good sync may be lost.  Say so. */
                        struct lost l = {
                                .first_seq = j->synced_seq + 1, .last_seq = target,
                                .count = target - j->synced_seq, .error = r,
                        };

                        lost_merge(&j->lost, &l);
                        j->synced_seq = target;
                        pending_sync_pop(j, target);
                        j->stats.last_error = r;
                        j->sticky_error = r;
                }
                pthread_cond_broadcast(&j->progress);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Lock held.  Queue the events-lost record in the open batch. */
static void queue_lost_marker(struct journal *j)
{
        char reason[160];
        struct journal_record m = { .type = JOURNAL_EVENTS_LOST };
        struct buffer *b = &j->buf[j->open_gen & 1];
        int64_t len;

        snprintf(reason, sizeof(reason), "journal write failed: %s; %llu records lost, %llu appends refused",
                 strerror(-j->lost.error ? -j->lost.error : ENOBUFS),
                 (unsigned long long)j->lost.count, (unsigned long long)j->lost.refused);
        m.path = reason;
        m.aux = (uint32_t)-j->lost.error;
        m.ino = j->lost.first_seq;
        m.rdev = j->lost.last_seq;
        m.size = j->lost.count + j->lost.refused;
        len = record_encoded_length(&m);
        assert(len > 0);
        /* The marker may exceed max_pending: it must not be refused. */
        if (buffer_reserve(b, rec_padded((uint32_t)len), SIZE_MAX) < 0)
                return;         /* no memory: try again with the next append */
        if (!b->count) {
                b->first_seq = j->next_seq;
                b->oldest_ns = mono_ns();
        }
        b->len += record_encode(&m, j->next_seq, journal_now_ns(), (uint32_t)len, b->data + b->len);
        b->last_seq = j->next_seq;
        __atomic_store_n(&j->next_seq, j->next_seq + 1, __ATOMIC_RELAXED);
        b->count++;
        j->marker = j->lost;
        j->marker_gen = j->open_gen;
        j->lost = (struct lost) { 0 };
}

int journal_append(struct journal *j, const struct journal_record *rec, uint64_t *ret_seq)
{
        struct waiter w = { 0 };
        struct buffer *b;
        uint64_t seq, time_ns = rec->time_ns;
        int64_t len;
        int r;

        len = record_encoded_length(rec);
        if (len < 0)
                return (int)len;
        if (!time_ns)
                time_ns = journal_now_ns();

        pthread_mutex_lock(&j->lock);
        if (j->closing) {
                r = -ESHUTDOWN;
                goto refused;
        }
        if (lost_any(&j->lost) && !j->marker_gen)
                queue_lost_marker(j);
        b = &j->buf[j->open_gen & 1];
        r = buffer_reserve(b, rec_padded((uint32_t)len), j->opt.max_pending);
        if (r < 0)
                goto refused;
        seq = j->next_seq;
        __atomic_store_n(&j->next_seq, seq + 1, __ATOMIC_RELAXED);
        if (!b->count) {
                b->first_seq = seq;
                b->oldest_ns = mono_ns();
        }
        if (j->opt.durability == JOURNAL_STRICT && !(rec->flags & JOURNAL_F_DURABLE)) {
                struct journal_record copy = *rec;

                copy.flags |= JOURNAL_F_DURABLE;
                b->len += record_encode(&copy, seq, time_ns, (uint32_t)len, b->data + b->len);
        } else {
                b->len += record_encode(rec, seq, time_ns, (uint32_t)len, b->data + b->len);
        }
        b->last_seq = seq;
        b->count++;
        waiter_add(b, &w);
        j->stats.records++;
        if (j->delaying && b->count >= j->group_size)
                pthread_cond_broadcast(&j->progress);   /* the group is complete */

        r = wait_batch(j, &w);
        if (r == 0 && j->opt.durability == JOURNAL_STRICT)
                r = sync_upto(j, seq);
        pthread_mutex_unlock(&j->lock);
        if ((r == 0 || r == -EINPROGRESS) && ret_seq)
                *ret_seq = seq;
        return r;

refused:
        j->lost.refused++;
        j->lost.error = r == -ESHUTDOWN ? j->lost.error : r;
        j->stats.refused++;
        pthread_mutex_unlock(&j->lock);
        return r;
}

/* Lock held.  Write out the open batch, if it holds anything. */
static void flush_open(struct journal *j)
{
        struct buffer *b = &j->buf[j->open_gen & 1];
        struct waiter w = { 0 };

        if (!b->count)
                return;
        waiter_add(b, &w);
        (void)wait_batch(j, &w);        /* a failure is counted and reported by the batch */
}

int journal_commit(struct journal *j, uint64_t seq)
{
        int r;

        pthread_mutex_lock(&j->lock);
        if (seq == 0 || seq >= j->next_seq)
                seq = j->next_seq - 1;
        /* Records still in the open batch must be written first. */
        if (seq > j->written_seq)
                flush_open(j);
        r = sync_upto(j, seq);
        if (r == 0)
                r = j->sticky_error;
        if (r == 0 && j->held.count && seq >= j->held.first_seq)
                r = -EIO;       /* held in memory: not durable */
        pthread_mutex_unlock(&j->lock);
        return r;
}

/* Lock held.  The committer writes held records when nobody appends, and
 * makes the reserve again once it was used; once a second while the
 * journal's file system keeps refusing. */
static void retry_held(struct journal *j)
{
        uint64_t now = mono_ns();

        if ((!j->held.count && j->reserve_ok) || j->writing || now < j->held_retry_ns)
                return;
        j->writing = true;
        (void)flush_held(j);
        if (!j->held.count && !j->reserve_ok) {
                bool ok;

                pthread_mutex_unlock(&j->lock);
                ok = reserve_make(j->dirfd) == 0;
                pthread_mutex_lock(&j->lock);
                j->reserve_ok = ok;
        }
        j->writing = false;
        j->held_retry_ns = now + 1000000000u;
        pthread_cond_broadcast(&j->progress);
}

static struct timespec abs_ns(uint64_t t)
{
        return (struct timespec) { .tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u) };
}

/* In batch mode it syncs; in every mode it retries held records. */
static void *committer_main(void *arg)
{
        struct journal *j = arg;
        uint64_t interval = (uint64_t)j->opt.commit_interval_us * 1000;
        bool batch = j->opt.durability == JOURNAL_BATCH;

        pthread_mutex_lock(&j->lock);
        while (!j->closing) {
                struct timespec until;
                uint64_t t;

                retry_held(j);
                if (!batch || j->synced_seq >= j->written_seq) {
                        j->committer_idle = true;
                        if (j->held.count || !j->reserve_ok) {
                                until = abs_ns(j->held_retry_ns);
                                (void)pthread_cond_timedwait(&j->wake_committer, &j->lock, &until);
                        } else {
                                pthread_cond_wait(&j->wake_committer, &j->lock);
                        }
                        j->committer_idle = false;
                        continue;
                }
                /* Sync at once, then rest for one interval: a record is
                 * durable within one interval plus the time of a sync,
                 * and a busy journal is synced once per interval. */
                (void)sync_upto(j, j->written_seq);
                t = mono_ns() + interval;
                until.tv_sec = (time_t)(t / 1000000000u);
                until.tv_nsec = (long)(t % 1000000000u);
                while (!j->closing && pthread_cond_timedwait(&j->wake_committer, &j->lock, &until) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&j->lock);
        return NULL;
}

void journal_get_stats(struct journal *j, struct journal_stats *ret)
{
        pthread_mutex_lock(&j->lock);
        *ret = j->stats;
        ret->next_seq = j->next_seq;
        ret->written_seq = j->written_seq;
        ret->synced_seq = j->synced_seq;
        ret->segment_first_seq = j->seg_first_seq;
        /* segment_bytes: as of the last write (seg_off belongs to the
         * writer, which updates it without the lock) */
        ret->commit_p99_us = hist_p99_us(j);
        pthread_mutex_unlock(&j->lock);
}

/* ---- open and close ---- */

static int lock_writer(int dirfd, int *ret_fd)
{
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        int fd;

        fd = openat(dirfd, "writer.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;
        if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
                int r = (errno == EAGAIN || errno == EACCES) ? -EBUSY : -errno;

                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

static void remove_tmp_files(int dirfd)
{
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);

                if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)
                        (void)unlinkat(dirfd, de->d_name, 0);
        }
        closedir(d);
}

/*
 * Find where the journal ends: the newest segment is read to its last valid
 * record and any bytes after that are cut.  Sets next_seq and the id.
 */
static int recover(struct journal *j, journal_problem_fn on_problem, void *userdata)
{
        struct journal_segment_info *segs, *last;
        struct reader_tail tail;
        size_t n;
        int r;

        r = journal_list_segments(j->dirfd, &segs, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                free(segs);
                if (getrandom(j->id, sizeof(j->id), 0) != sizeof(j->id))
                        return -errno;
                __atomic_store_n(&j->next_seq, 1, __ATOMIC_RELAXED);
                return 0;
        }
        last = &segs[n - 1];
        r = reader_scan_tail(j->dirfd, last, on_problem, userdata, &tail);
        if (r < 0)
                goto out;
        if (!tail.have_id) {
                /* The newest header is unreadable: take the id from any
                 * other segment, or start a new identity. */
                if (journal_dir_id(j->dirfd, tail.id) < 0 &&
                    getrandom(tail.id, sizeof(tail.id), 0) != sizeof(tail.id)) {
                        r = -errno;
                        goto out;
                }
        }
        memcpy(j->id, tail.id, JOURNAL_ID_SIZE);
        /* Never reuse a number: the name says where the segment began
         * even when nothing in it can be read. */
        __atomic_store_n(&j->next_seq, tail.last_seq >= last->first_seq ? tail.last_seq + 1 : last->first_seq,
                         __ATOMIC_RELAXED);
        if (last->archived)
                goto out;
        if (tail.last_seq == 0) {
                /* No record in the newest segment: its name is the one the
                 * new segment needs.  An empty one (a header, or debris of
                 * a crash while it was being made) goes; anything else is
                 * kept aside for inspection. */
                if (tail.file_bytes <= SEG_HEADER_SIZE || (tail.have_id && tail.file_bytes == tail.end)) {
                        if (unlinkat(j->dirfd, last->name, 0) < 0)
                                r = -errno;
                } else {
                        char aside[sizeof(last->name) + 16];

                        snprintf(aside, sizeof(aside), "%s.corrupt", last->name);
                        if (renameat(j->dirfd, last->name, j->dirfd, aside) < 0)
                                r = -errno;
                }
                if (r == 0)
                        r = fsync_dir(j->dirfd);
                goto out;
        }
        if (tail.file_bytes > tail.end) {
                int fd = openat(j->dirfd, last->name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

                if (fd < 0) {
                        r = -errno;
                        goto out;
                }
                /* Cut the torn tail: a reader must not mistake it for
                 * records still being written. */
                if (ftruncate(fd, (off_t)tail.end) < 0 || fsync(fd) < 0)
                        r = -errno;
                close(fd);
        }
out:
        free(segs);
        return r;
}

int journal_open(int dirfd, const struct journal_options *opt,
                 journal_problem_fn on_problem, void *userdata, struct journal **ret)
{
        pthread_condattr_t ca;
        struct journal *j;
        int r;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->dirfd = j->lockfd = j->seg_fd = -1;
        atomic_init(&j->io_pwrite, real_io.pwrite);
        atomic_init(&j->io_fdatasync, real_io.fdatasync);
        pthread_mutex_init(&j->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&j->progress, &ca);
        pthread_cond_init(&j->wake_committer, &ca);
        pthread_condattr_destroy(&ca);
        if (opt)
                j->opt = *opt;
        if (!j->opt.commit_interval_us)
                j->opt.commit_interval_us = 10000;
        if (!j->opt.segment_size)
                j->opt.segment_size = 64u << 20;
        if (!j->opt.max_pending)
                j->opt.max_pending = 64u << 20;
        if (j->opt.durability > JOURNAL_NONE) {
                r = -EINVAL;
                goto fail;
        }

        j->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (j->dirfd < 0) {
                r = -errno;
                goto fail;
        }
        r = lock_writer(j->dirfd, &j->lockfd);
        if (r < 0)
                goto fail;
        remove_tmp_files(j->dirfd);
        j->reserve_ok = faccessat(j->dirfd, RESERVE_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
                        reserve_make(j->dirfd) == 0;
        r = recover(j, on_problem, userdata);
        if (r < 0)
                goto fail;
        r = segment_create(j, j->next_seq, &j->seg_fd);
        if (r < 0)
                goto fail;
        j->seg_first_seq = j->next_seq;
        j->seg_off = SEG_HEADER_SIZE;
        j->stats.segment_bytes = SEG_HEADER_SIZE;
        j->written_seq = j->synced_seq = j->next_seq - 1;

        {
                r = -pthread_create(&j->committer, NULL, committer_main, j);
                if (r < 0)
                        goto fail;
                j->committer_started = true;
        }
        *ret = j;
        return 0;
fail:
        journal_close(j);
        return r;
}

uint64_t journal_next_seq(struct journal *j)
{
        return __atomic_load_n(&j->next_seq, __ATOMIC_RELAXED);
}

int journal_dirfd(struct journal *j)
{
        return j->dirfd;
}

struct journal *journal_close(struct journal *j)
{
        if (!j)
                return NULL;
        if (j->seg_fd >= 0) {
                pthread_mutex_lock(&j->lock);
                flush_open(j);
                /* A last try for what a failing file system refused. */
                while (j->writing)
                        pthread_cond_wait(&j->progress, &j->lock);
                j->writing = true;
                if (flush_held(j) < 0)
                        j->stats.lost += j->held.count;
                j->writing = false;
                j->closing = true;
                /* Every mode syncs at a clean close: the unmount marker
                 * should survive a power loss right after it. */
                (void)sync_upto(j, j->written_seq);
                pthread_cond_broadcast(&j->wake_committer);
                pthread_mutex_unlock(&j->lock);
        }
        if (j->committer_started)
                pthread_join(j->committer, NULL);
        if (j->seg_fd >= 0)
                close(j->seg_fd);
        if (j->lockfd >= 0)
                close(j->lockfd);       /* releases the writer lock */
        if (j->dirfd >= 0)
                close(j->dirfd);
        free(j->buf[0].data);
        free(j->buf[1].data);
        free(j->held.data);
        pthread_cond_destroy(&j->wake_committer);
        pthread_cond_destroy(&j->progress);
        pthread_mutex_destroy(&j->lock);
        free(j);
        return NULL;
}
