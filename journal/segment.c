/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * segment.c: the journal directory's files: listing segments, reading one
 * sequentially whether it is plain or a zstd archive, the writer-lock probe,
 * and the small I/O helpers the rest of journal/ shares.  It knows file
 * names and bytes, not records.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "journal-internal.h"

uint64_t journal_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, (off_t)off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

int64_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
        uint8_t *p = buf;
        size_t done = 0;

        while (done < len) {
                ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        return (int64_t)done;
}

int fsync_dir(int dirfd)
{
        return fsync(dirfd) < 0 ? -errno : 0;
}

bool journal_writer_alive(int dirfd)
{
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        int fd = openat(dirfd, "writer.lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        bool alive;

        if (fd < 0)
                return false;
        /* F_OFD_GETLK reports a conflicting lock without taking one. */
        alive = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
        close(fd);
        return alive;
}

static int cmp_seg(const void *a, const void *b)
{
        const struct journal_segment_info *x = a, *y = b;

        if (x->first_seq != y->first_seq)
                return x->first_seq < y->first_seq ? -1 : 1;
        /* The live file first: it wins over an archive of the same segment. */
        return (int)x->archived - (int)y->archived;
}

int journal_list_segments(int dirfd, struct journal_segment_info **ret, size_t *ret_count)
{
        struct journal_segment_info *v = NULL;
        size_t n = 0, cap = 0, i, out;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                struct journal_segment_info info = { 0 };
                struct stat st;

                if (seg_name_parse(de->d_name, &info.first_seq, &info.archived) < 0)
                        continue;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;       /* vanished (trimmed) or not a file */
                info.file_bytes = (uint64_t)st.st_size;
                memcpy(info.name, de->d_name, strlen(de->d_name) + 1);  /* parsed: <= 24 bytes */
                if (n == cap) {
                        struct journal_segment_info *nv;

                        cap = cap ? cap * 2 : 16;
                        nv = realloc(v, cap * sizeof(*v));
                        if (!nv) {
                                r = -ENOMEM;
                                goto out;
                        }
                        v = nv;
                }
                v[n++] = info;
        }
        if (errno) {
                r = -errno;
                goto out;
        }
        if (n)
                qsort(v, n, sizeof(*v), cmp_seg);
        /* Drop an archive whose live segment still exists. */
        for (i = 0, out = 0; i < n; i++) {
                if (out > 0 && v[out - 1].first_seq == v[i].first_seq)
                        continue;
                v[out++] = v[i];
        }
        *ret = v;
        *ret_count = out;
        v = NULL;
out:
        free(v);
        closedir(d);
        return r;
}

/* ---- sequential segment reading ---- */

struct seg_file {
        int fd;
        bool archived;
        uint64_t pos;                   /* uncompressed position */
        ZSTD_DStream *zs;
        uint8_t *zbuf;                  /* compressed input */
        size_t zcap;
        ZSTD_inBuffer in;
        bool zeof;                      /* compressed input exhausted */
        bool zdone;                     /* frame complete */
};

int seg_file_open(int dirfd, const char *name, bool archived, struct seg_file **ret)
{
        struct seg_file *f;
        int r;

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (f->fd < 0) {
                r = -errno;
                free(f);
                return r;
        }
        f->archived = archived;
        if (archived) {
                f->zcap = ZSTD_DStreamInSize();
                f->zbuf = malloc(f->zcap);
                f->zs = ZSTD_createDStream();
                if (!f->zbuf || !f->zs) {
                        seg_file_close(f);
                        return -ENOMEM;
                }
                f->in = (ZSTD_inBuffer) { .src = f->zbuf, .size = 0, .pos = 0 };
        }
        *ret = f;
        return 0;
}

static int64_t zst_read(struct seg_file *f, void *buf, size_t len)
{
        ZSTD_outBuffer out = { .dst = buf, .size = len, .pos = 0 };

        while (out.pos < out.size && !f->zdone) {
                size_t z;

                if (f->in.pos == f->in.size && !f->zeof) {
                        ssize_t n = read(f->fd, f->zbuf, f->zcap);

                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        if (n == 0)
                                f->zeof = true;
                        f->in.size = (size_t)n;
                        f->in.pos = 0;
                }
                z = ZSTD_decompressStream(f->zs, &out, &f->in);
                if (ZSTD_isError(z))
                        return -EBADMSG;
                if (z == 0)
                        f->zdone = true;        /* one frame per archive */
                else if (f->zeof && f->in.pos == f->in.size && out.pos < out.size)
                        return -EBADMSG;        /* truncated archive */
        }
        return (int64_t)out.pos;
}

int64_t seg_file_read(struct seg_file *f, void *buf, size_t len)
{
        int64_t n;

        if (f->archived)
                n = zst_read(f, buf, len);
        else
                n = pread_full(f->fd, buf, len, f->pos);
        if (n > 0)
                f->pos += (uint64_t)n;
        return n;
}

int seg_file_seek(struct seg_file *f, uint64_t off)
{
        if (f->archived)
                return -ESPIPE;
        f->pos = off;
        return 0;
}

struct seg_file *seg_file_close(struct seg_file *f)
{
        if (!f)
                return NULL;
        if (f->fd >= 0)
                close(f->fd);
        ZSTD_freeDStream(f->zs);
        free(f->zbuf);
        free(f);
        return NULL;
}

int journal_dir_id(int dirfd, uint8_t ret[JOURNAL_ID_SIZE])
{
        struct journal_segment_info *segs;
        size_t n, i;
        int r;

        r = journal_list_segments(dirfd, &segs, &n);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (i = n; i-- > 0;) {
                uint8_t buf[SEG_HEADER_SIZE];
                struct seg_header h;
                struct seg_file *f;
                int64_t got;

                if (seg_file_open(dirfd, segs[i].name, segs[i].archived, &f) < 0)
                        continue;
                got = seg_file_read(f, buf, sizeof(buf));
                seg_file_close(f);
                if (got == SEG_HEADER_SIZE && seg_header_decode(buf, sizeof(buf), &h) == 0) {
                        memcpy(ret, h.id, JOURNAL_ID_SIZE);
                        r = 0;
                        break;
                }
        }
        free(segs);
        return r;
}
