/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * copy-uring.c: file contents through io_uring.
 *
 * One ring per worker, with registered buffers.  A small range (up to
 * PLAIN_MAX) is read and written with plain system calls: a buffered write
 * to ext4 cannot complete inline in io_uring, it is handed to an io-wq
 * thread, and waking it costs more than copying 4 KiB (20,000 files of
 * 4 KiB: 1.15 s through the ring, 0.90 s plain, bench/drain's setup).  A
 * range that fits in one buffer is one linked read -> write pair,
 * submitted and reaped with a single system call.  A larger one keeps
 * several chunks in flight: each completed read submits its write of
 * exactly the bytes read (a short read is normal: the write never writes
 * more than was read), each completed write frees its buffer for the next
 * read, so reading and writing overlap.  Holes are skipped
 * (SEEK_DATA/SEEK_HOLE, copy.h), and a range on the same file system goes
 * to copy_file_range() first (in-kernel or reflink), as in copy-plain.c.
 *
 * Caveat: in the linked pair, a short read (the file shrank during the
 * copy) lets the write store stale buffer bytes; the caller notices the
 * change of size (it compares the source before and after) and copies
 * again, so such a copy is never published.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "copy.h"

#define NBUF 4
#define BUFSZ (1u << 20)
#define PLAIN_MAX (64u << 10)

struct copier {
        struct io_uring ring;
        uint8_t *mem;                   /* NBUF buffers of BUFSZ */
        bool fixed;                     /* registered with the ring */
        bool no_cfr;
};

static int uring_new(struct copier **ret)
{
        struct copier *c = calloc(1, sizeof(*c));
        struct iovec iov[NBUF];
        int e, i;

        if (!c)
                return -ENOMEM;
        e = io_uring_queue_init(2 * NBUF, &c->ring, 0);
        if (e < 0) {
                free(c);
                return e == -EPERM || e == -ENOSYS ? -ENOSYS : e;
        }
        if (posix_memalign((void **)&c->mem, 4096, (size_t)NBUF * BUFSZ)) {
                io_uring_queue_exit(&c->ring);
                free(c);
                return -ENOMEM;
        }
        for (i = 0; i < NBUF; i++)
                iov[i] = (struct iovec) { c->mem + (size_t)i * BUFSZ, BUFSZ };
        /* Registered buffers spare the kernel pinning pages per I/O; where
         * the memory lock limit forbids it, plain buffers do. */
        c->fixed = io_uring_register_buffers(&c->ring, iov, NBUF) == 0;
        *ret = c;
        return 0;
}

static void uring_free(struct copier *c)
{
        if (!c)
                return;
        io_uring_queue_exit(&c->ring);
        free(c->mem);
        free(c);
}

static uint8_t *buf_of(struct copier *c, int i)
{
        return c->mem + (size_t)i * BUFSZ;
}

static void prep_read(struct copier *c, struct io_uring_sqe *sqe, int fd, int i, unsigned len, uint64_t off)
{
        if (c->fixed)
                io_uring_prep_read_fixed(sqe, fd, buf_of(c, i), len, off, i);
        else
                io_uring_prep_read(sqe, fd, buf_of(c, i), len, off);
}

static void prep_write(struct copier *c, struct io_uring_sqe *sqe, int fd, int i, unsigned len, uint64_t off)
{
        if (c->fixed)
                io_uring_prep_write_fixed(sqe, fd, buf_of(c, i), len, off, i);
        else
                io_uring_prep_write(sqe, fd, buf_of(c, i), len, off);
}

/* user_data: buffer index, and whether the CQE is the write */
#define UD(i, w) ((uint64_t)(i) << 1 | (w))

/* A range that fits one buffer: a linked read and write, one system call. */
static int64_t copy_small(struct copier *c, int in, int out, uint64_t off, unsigned len)
{
        struct io_uring_sqe *r = io_uring_get_sqe(&c->ring), *w;
        struct io_uring_cqe *cqe;
        int64_t got = -EIO;
        int e, seen;

        w = io_uring_get_sqe(&c->ring);
        if (!r || !w)
                return -EBUSY;
        prep_read(c, r, in, 0, len, off);
        r->flags |= IOSQE_IO_LINK;
        r->user_data = UD(0, 0);
        prep_write(c, w, out, 0, len, off);
        w->user_data = UD(0, 1);
        e = io_uring_submit_and_wait(&c->ring, 2);
        if (e < 0)
                return e;
        for (seen = 0; seen < 2; seen++) {
                e = io_uring_wait_cqe(&c->ring, &cqe);
                if (e < 0)
                        return e;
                if (!(cqe->user_data & 1)) {
                        got = cqe->res;         /* the read */
                } else if (cqe->res < 0 && got >= 0) {
                        got = cqe->res == -ECANCELED ? -EIO : cqe->res;
                } else if (cqe->res >= 0 && cqe->res < (int)len && got == (int64_t)len) {
                        /* a short write: the rest the plain way */
                        int64_t n = copy_range_rw(buf_of(c, 0), BUFSZ, in, out, off + (uint64_t)cqe->res, off + len);

                        if (n < 0)
                                got = n;
                }
                io_uring_cqe_seen(&c->ring, cqe);
        }
        return got;
}

/* Larger ranges: up to NBUF chunks in flight, reads and writes overlapping. */
static int64_t copy_pipelined(struct copier *c, int in, int out, uint64_t off, uint64_t end)
{
        uint64_t next = off, done = 0, chunk_off[NBUF];
        unsigned chunk_len[NBUF];
        int inflight = 0, free_list[NBUF], nfree = NBUF, err = 0;

        for (int i = 0; i < NBUF; i++)
                free_list[i] = i;
        while ((next < end && !err) || inflight) {
                struct io_uring_cqe *cqe;
                int e;

                /* fill the pipeline with reads */
                while (next < end && nfree && !err) {
                        struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
                        int i;

                        if (!sqe)
                                break;
                        i = free_list[--nfree];
                        chunk_off[i] = next;
                        chunk_len[i] = end - next < BUFSZ ? (unsigned)(end - next) : BUFSZ;
                        prep_read(c, sqe, in, i, chunk_len[i], next);
                        sqe->user_data = UD(i, 0);
                        next += chunk_len[i];
                        inflight++;
                }
                e = io_uring_submit_and_wait(&c->ring, 1);
                if (e < 0)
                        return e;
                e = io_uring_wait_cqe(&c->ring, &cqe);
                if (e < 0)
                        return e;
                {
                        int i = (int)(cqe->user_data >> 1);
                        bool is_write = cqe->user_data & 1;
                        int res = cqe->res;

                        io_uring_cqe_seen(&c->ring, cqe);
                        inflight--;
                        if (res < 0) {
                                if (!err)
                                        err = res;
                                free_list[nfree++] = i;
                        } else if (!is_write && res > 0 && !err) {
                                /* write what was read, no more */
                                struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

                                if (!sqe) {
                                        err = -EBUSY;
                                        free_list[nfree++] = i;
                                        continue;
                                }
                                chunk_len[i] = (unsigned)res;
                                prep_write(c, sqe, out, i, (unsigned)res, chunk_off[i]);
                                sqe->user_data = UD(i, 1);
                                inflight++;
                        } else if (!is_write) {
                                free_list[nfree++] = i;         /* end of file: the source shrank */
                                if (res == 0)
                                        next = end;
                        } else {
                                if ((unsigned)res < chunk_len[i] && !err) {
                                        int64_t n = copy_range_rw(buf_of(c, i), BUFSZ, in, out,
                                                                  chunk_off[i] + (uint64_t)res,
                                                                  chunk_off[i] + chunk_len[i]);

                                        if (n < 0)
                                                err = (int)n;
                                }
                                done += chunk_len[i];
                                free_list[nfree++] = i;
                        }
                }
        }
        return err ? err : (int64_t)done;
}

struct uring_arg {
        struct copier *c;
        int in, out;
        uint64_t total;
};

static int uring_range(void *arg, uint64_t off, uint64_t end)
{
        struct uring_arg *a = arg;
        struct copier *c = a->c;
        int64_t n;

        /* Same file system: the kernel copies, or shares the blocks. */
        while (!c->no_cfr && off < end) {
                loff_t oi = (loff_t)off, oo = (loff_t)off;
                ssize_t k = copy_file_range(a->in, &oi, a->out, &oo, end - off, 0);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
                        c->no_cfr = true;
                        break;
                }
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 0;       /* the source shrank */
                off += (uint64_t)k;
                a->total += (uint64_t)k;
        }
        if (off >= end)
                return 0;
        if (end - off <= PLAIN_MAX)
                n = copy_range_rw(buf_of(c, 0), BUFSZ, a->in, a->out, off, end);
        else if (end - off <= BUFSZ)
                n = copy_small(c, a->in, a->out, off, (unsigned)(end - off));
        else
                n = copy_pipelined(c, a->in, a->out, off, end);
        if (n < 0)
                return (int)n;
        a->total += (uint64_t)n;
        return 0;
}

static int64_t uring_copy(struct copier *c, int in, int out, uint64_t size)
{
        struct uring_arg a = { c, in, out, 0 };
        int r = copy_extents(in, size, uring_range, &a);

        return r < 0 ? r : (int64_t)a.total;
}

const struct copier_ops copier_uring = {
        .name = "io_uring",
        .new = uring_new,
        .copy = uring_copy,
        .free = uring_free,
};
