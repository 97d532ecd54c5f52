/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * copy-plain.c: file contents with plain system calls: the data ranges of
 * the source (SEEK_DATA/SEEK_HOLE, so holes stay holes), each with
 * copy_file_range() (in-kernel, a reflink where the file system can) or,
 * across file systems, pread()/pwrite() through a 1 MiB buffer.  Short
 * transfers are continued.  The backend for tests and for kernels without
 * io_uring; copy-uring.c uses it for what io_uring cannot do better.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "copy.h"

#define BUF (1u << 20)

struct copier {
        uint8_t *buf;
        bool no_cfr;                    /* copy_file_range() refused once: stop trying */
};

static int plain_new(struct copier **ret)
{
        struct copier *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->buf = malloc(BUF);
        if (!c->buf) {
                free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

static void plain_free(struct copier *c)
{
        if (c) {
                free(c->buf);
                free(c);
        }
}

/* Copy [off, end) with pread/pwrite. */
int64_t copy_range_rw(uint8_t *buf, size_t cap, int in, int out, uint64_t off, uint64_t end)
{
        uint64_t done = 0;

        while (off < end) {
                size_t want = end - off < cap ? (size_t)(end - off) : cap;
                ssize_t n = pread(in, buf, want, (off_t)off), w, put = 0;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;          /* the source shrank: the caller sees it changed */
                while (put < n) {
                        w = pwrite(out, buf + put, (size_t)(n - put), (off_t)(off + (uint64_t)put));
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        put += w;
                }
                off += (uint64_t)n;
                done += (uint64_t)n;
        }
        return (int64_t)done;
}

static int64_t copy_range(struct copier *c, int in, int out, uint64_t off, uint64_t end)
{
        uint64_t done = 0;

        while (!c->no_cfr && off < end) {
                loff_t oi = (loff_t)off, oo = (loff_t)off;
                ssize_t n = copy_file_range(in, &oi, out, &oo, end - off, 0);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS) {
                                c->no_cfr = true;       /* across file systems */
                                break;
                        }
                        return -errno;
                }
                if (n == 0)
                        return (int64_t)done;
                off += (uint64_t)n;
                done += (uint64_t)n;
        }
        if (off < end) {
                int64_t n = copy_range_rw(c->buf, BUF, in, out, off, end);

                if (n < 0)
                        return n;
                done += (uint64_t)n;
        }
        return (int64_t)done;
}

int copy_extents(int in, uint64_t size, int (*range)(void *arg, uint64_t off, uint64_t end), void *arg)
{
        uint64_t pos = 0;

        while (pos < size) {
                off_t data = lseek(in, (off_t)pos, SEEK_DATA), hole;
                int r;

                if (data < 0) {
                        if (errno == ENXIO)
                                break;          /* a hole to the end */
                        if (errno != EINVAL && errno != EOPNOTSUPP)
                                return -errno;
                        data = (off_t)pos;      /* no SEEK_DATA here: all data */
                        hole = (off_t)size;
                } else {
                        hole = lseek(in, data, SEEK_HOLE);
                        if (hole < 0)
                                hole = (off_t)size;
                }
                if ((uint64_t)data >= size)
                        break;
                if ((uint64_t)hole > size)
                        hole = (off_t)size;
                r = range(arg, (uint64_t)data, (uint64_t)hole);
                if (r < 0)
                        return r;
                pos = (uint64_t)hole;
        }
        return 0;
}

struct plain_arg {
        struct copier *c;
        int in, out;
        uint64_t total;
};

static int plain_range(void *arg, uint64_t off, uint64_t end)
{
        struct plain_arg *a = arg;
        int64_t n = copy_range(a->c, a->in, a->out, off, end);

        if (n < 0)
                return (int)n;
        a->total += (uint64_t)n;
        return 0;
}

static int64_t plain_copy(struct copier *c, int in, int out, uint64_t size)
{
        struct plain_arg a = { c, in, out, 0 };
        int r = copy_extents(in, size, plain_range, &a);

        return r < 0 ? r : (int64_t)a.total;
}

const struct copier_ops copier_plain = {
        .name = "plain",
        .new = plain_new,
        .copy = plain_copy,
        .free = plain_free,
};
