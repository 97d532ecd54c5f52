/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * trim.c: freeing what every reader has passed.  A finished segment whose
 * records are all at or below every cursor is deleted, or compressed into
 * the archive when a retention period is set; archives older than the
 * retention period are deleted.
 *
 * Safe to run from any process while the writer and readers work: the
 * newest segment is never touched, an archive is published by rename before
 * its segment is unlinked (a reader sees one or the other, identical), and
 * concurrent trims are serialized by a lock file.
 *
 * Caveat: with no cursor at all nothing is trimmed; a journal nobody reads
 * grows until someone does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "journal-internal.h"
#include "reader-internal.h"

#define ZBUF (1u << 20)

static int compress_fd(int in, int out, uint64_t size)
{
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        uint8_t *ibuf = malloc(ZBUF), *obuf = malloc(ZBUF);
        uint64_t off = 0, woff = 0;
        int r = 0;

        if (!cc || !ibuf || !obuf) {
                r = -ENOMEM;
                goto out;
        }
        if (ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)) ||
            ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, size))) {
                r = -EINVAL;
                goto out;
        }
        for (;;) {
                int64_t n = pread_full(in, ibuf, ZBUF, off);
                ZSTD_inBuffer ib;
                bool last;
                size_t left;

                if (n < 0) {
                        r = (int)n;
                        goto out;
                }
                off += (uint64_t)n;
                last = off >= size || n == 0;
                if (last && off != size) {
                        r = -EIO;       /* the segment changed size under us */
                        goto out;
                }
                ib = (ZSTD_inBuffer) { ibuf, (size_t)n, 0 };
                do {
                        ZSTD_outBuffer ob = { obuf, ZBUF, 0 };

                        left = ZSTD_compressStream2(cc, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
                        if (ZSTD_isError(left)) {
                                r = -EIO;
                                goto out;
                        }
                        r = pwrite_all(out, obuf, ob.pos, woff);
                        if (r < 0)
                                goto out;
                        woff += ob.pos;
                } while (last ? left != 0 : ib.pos < ib.size);
                if (last)
                        break;
        }
out:
        ZSTD_freeCCtx(cc);
        free(ibuf);
        free(obuf);
        return r;
}

static int archive_segment(int dirfd, const struct journal_segment_info *seg, uint64_t *ret_freed)
{
        char zname[SEG_NAME_MAX], tmp[SEG_NAME_MAX + 8];
        struct reader_tail tail;
        struct timespec times[2];
        struct stat st;
        int in, out, r;

        r = reader_scan_tail(dirfd, seg, NULL, NULL, &tail);
        if (r < 0)
                return r;
        seg_name(seg->first_seq, true, zname);
        snprintf(tmp, sizeof(tmp), "%s.tmp", zname);
        in = openat(dirfd, seg->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return -errno;
        if (fstat(in, &st) < 0) {
                r = -errno;
                close(in);
                return r;
        }
        out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        r = compress_fd(in, out, (uint64_t)st.st_size);
        close(in);
        /* mtime = time of the last record: the retention clock. */
        times[0].tv_nsec = UTIME_OMIT;
        times[1].tv_sec = (time_t)(tail.last_time_ns / 1000000000u);
        times[1].tv_nsec = (long)(tail.last_time_ns % 1000000000u);
        if (r == 0 && tail.last_time_ns && futimens(out, times) < 0)
                r = -errno;
        if (r == 0 && fdatasync(out) < 0)
                r = -errno;
        if (close(out) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, zname) < 0)
                r = -errno;
        if (r == 0)
                r = fsync_dir(dirfd);
        if (r < 0) {
                (void)unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (unlinkat(dirfd, seg->name, 0) < 0)
                return -errno;
        *ret_freed = (uint64_t)st.st_size;
        return 0;
}

int journal_trim(int dirfd, uint64_t retention_s, struct journal_trim_stats *ret)
{
        struct journal_trim_stats stats = { 0 };
        struct journal_segment_info *segs = NULL;
        struct journal_cursor_info *curs = NULL;
        uint64_t min_seq = UINT64_MAX, now = journal_now_ns() / 1000000000u;
        size_t nseg, ncur, i;
        int lockfd, r;

        lockfd = openat(dirfd, "trim.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (lockfd < 0)
                return -errno;
        if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? 0 : -errno;  /* another trim is at it */
                close(lockfd);
                if (r == 0 && ret)
                        *ret = stats;
                return r;
        }
        r = journal_list_cursors(dirfd, &curs, &ncur);
        if (r < 0)
                goto out;
        for (i = 0; i < ncur; i++) {
                if (curs[i].error) {
                        /* A cursor we cannot read may be behind everyone:
                         * delete nothing on its account. */
                        min_seq = 0;
                        break;
                }
                if (curs[i].seq < min_seq)
                        min_seq = curs[i].seq;
        }
        if (ncur == 0)
                min_seq = 0;
        r = journal_list_segments(dirfd, &segs, &nseg);
        if (r < 0)
                goto out;
        for (i = 0; i + 1 < nseg; i++) {
                uint64_t last_seq = segs[i + 1].first_seq - 1;
                uint64_t freed = 0;

                if (segs[i].archived) {
                        struct stat st;

                        if (retention_s && fstatat(dirfd, segs[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            (uint64_t)st.st_mtim.tv_sec + retention_s < now) {
                                if (unlinkat(dirfd, segs[i].name, 0) == 0) {
                                        stats.expired++;
                                        stats.bytes_freed += (uint64_t)st.st_size;
                                }
                        }
                        continue;
                }
                if (last_seq > min_seq)
                        break;          /* this one and all later are needed */
                if (retention_s) {
                        r = archive_segment(dirfd, &segs[i], &freed);
                        if (r < 0)
                                goto out;
                        stats.archived++;
                        stats.bytes_freed += freed;
                } else {
                        if (unlinkat(dirfd, segs[i].name, 0) < 0) {
                                r = -errno;
                                goto out;
                        }
                        stats.deleted++;
                        stats.bytes_freed += segs[i].file_bytes;
                }
        }
        if (stats.deleted || stats.expired)
                r = fsync_dir(dirfd);
out:
        free(segs);
        free(curs);
        close(lockfd);
        if (r == 0 && ret)
                *ret = stats;
        return r;
}
