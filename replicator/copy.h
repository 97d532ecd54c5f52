/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * copy.h: moving a file's contents, behind one small interface with two
 * backends: io_uring (copy-uring.c) and plain system calls (copy-plain.c).
 * A copier belongs to one worker thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct copier;

struct copier_ops {
        const char *name;
        /* -errno; -ENOSYS when the backend cannot run here */
        int (*new)(struct copier **ret);
        /*
         * Copy the first @size bytes of @in to @out (same offsets): only
         * the data ranges (SEEK_DATA/SEEK_HOLE), so holes stay holes and
         * @out is not extended past the last data (the caller sets its
         * size).  Short reads and writes are continued.  Bytes copied, or
         * -errno.
         */
        int64_t (*copy)(struct copier *c, int in, int out, uint64_t size);
        void (*free)(struct copier *c);
};

extern const struct copier_ops copier_plain;
extern const struct copier_ops copier_uring;

/* Call @range for each data range [off, end) of @in below @size (once for
 * all of it where the file system cannot tell holes).  Every file is
 * asked: more blocks than bytes does not mean no holes (blocks kept past
 * the end by fallocate, delayed allocation). */
int copy_extents(int in, uint64_t size, int (*range)(void *arg, uint64_t off, uint64_t end), void *arg);
/* [off, end) by pread/pwrite through @buf: bytes copied or -errno. */
int64_t copy_range_rw(uint8_t *buf, size_t cap, int in, int out, uint64_t off, uint64_t end);
