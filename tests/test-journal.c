/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test-journal.c: the journal library against docs/journal-format.md:
 * encoding, concurrent appends, recovery from a cut at every byte offset,
 * damaged bytes, cursors across crashes, rotation, trimming and the archive,
 * following a growing journal, and injected I/O faults.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal-internal.h"
#include "journal.h"
#include "testutil.h"

/* ---- helpers ---- */

struct problems {
        unsigned kind[8];
        unsigned total;
        uint64_t first_offset[8];
        uint64_t gap_from, gap_to;
};

static void count_problem(void *userdata, const struct journal_problem *p)
{
        struct problems *pr = userdata;

        if (!pr)
                return;
        if (!pr->kind[p->kind])
                pr->first_offset[p->kind] = p->offset;
        pr->kind[p->kind]++;
        pr->total++;
        if (p->kind == JOURNAL_PROBLEM_GAP) {
                pr->gap_from = p->seq_from;
                pr->gap_to = p->seq_to;
        }
}

struct readback {
        uint64_t n;
        uint64_t *seq;
        uint16_t *type;
        char **path;
        struct problems pr;
};

static void readback_free(struct readback *rb)
{
        uint64_t i;

        for (i = 0; i < rb->n; i++)
                free(rb->path[i]);
        free(rb->seq);
        free(rb->type);
        free(rb->path);
        memset(rb, 0, sizeof(*rb));
}

/* Read every record from @from on, until the current end. */
static void read_all(int dirfd, uint64_t from, struct readback *rb)
{
        struct journal_reader *r;
        struct journal_record rec;
        uint64_t cap = 0;
        int e;

        memset(rb, 0, sizeof(*rb));
        ck_assert_int_eq(journal_reader_open(dirfd, from, count_problem, &rb->pr, &r), 0);
        while ((e = journal_reader_next(r, &rec)) > 0) {
                if (rb->n == cap) {
                        cap = cap ? cap * 2 : 256;
                        rb->seq = realloc(rb->seq, cap * sizeof(*rb->seq));
                        rb->type = realloc(rb->type, cap * sizeof(*rb->type));
                        rb->path = realloc(rb->path, cap * sizeof(*rb->path));
                        ck_assert(rb->seq && rb->type && rb->path);
                }
                rb->seq[rb->n] = rec.seq;
                rb->type[rb->n] = rec.type;
                rb->path[rb->n] = strdup(rec.path);
                ck_assert_uint_eq(strlen(rec.path), rec.path_len);
                rb->n++;
        }
        ck_assert_int_eq(e, 0);
        journal_reader_free(r);
}

static struct journal *open_writer(int dirfd, enum journal_durability d, uint64_t segsize)
{
        struct journal_options o = { .durability = d, .segment_size = segsize };
        struct journal *j;

        ck_assert_int_eq(journal_open(dirfd, &o, NULL, NULL, &j), 0);
        return j;
}

static uint64_t append_path(struct journal *j, uint16_t type, const char *path)
{
        struct journal_record rec = { .type = type, .path = path, .mode = 0100644 };
        uint64_t seq = 0;

        ck_assert_int_eq(journal_append(j, &rec, &seq), 0);
        return seq;
}

/* The newest segment's file name. */
static void newest_segment(int dirfd, char *name, size_t size)
{
        struct journal_segment_info *segs;
        size_t n;

        ck_assert_int_eq(journal_list_segments(dirfd, &segs, &n), 0);
        ck_assert_uint_gt(n, 0);
        snprintf(name, size, "%s", segs[n - 1].name);
        free(segs);
}

/* ---- encoding ---- */

static void check_roundtrip(const struct journal_record *in)
{
        static uint8_t buf[JOURNAL_RECORD_MAX + 8];
        struct journal_record out;
        int64_t len = record_encoded_length(in);
        size_t padded;

        ck_assert_int_gt(len, 0);
        padded = record_encode(in, 77, 123456789, (uint32_t)len, buf);
        ck_assert_uint_eq(padded % 8, 0);
        ck_assert_int_eq(record_decode(buf, padded, &out, NULL), (int64_t)padded);
        ck_assert_uint_eq(out.seq, 77);
        ck_assert_uint_eq(out.time_ns, 123456789);
        ck_assert_uint_eq(out.type, in->type);
        ck_assert_uint_eq(out.flags, in->flags);
        ck_assert_uint_eq(out.aux, in->aux);
        ck_assert_uint_eq(out.mode, in->mode);
        ck_assert_uint_eq(out.uid, in->uid);
        ck_assert_uint_eq(out.gid, in->gid);
        ck_assert_uint_eq(out.ino, in->ino);
        ck_assert_uint_eq(out.size, in->size);
        ck_assert_uint_eq(out.rdev, in->rdev);
        ck_assert_int_eq(out.atime.tv_sec, in->atime.tv_sec);
        ck_assert_int_eq(out.atime.tv_nsec, in->atime.tv_nsec);
        ck_assert_int_eq(out.mtime.tv_sec, in->mtime.tv_sec);
        ck_assert_int_eq(out.mtime.tv_nsec, in->mtime.tv_nsec);
        ck_assert_str_eq(out.path, in->path ? in->path : "");
        ck_assert_str_eq(out.path2, in->path2 ? in->path2 : "");
        ck_assert_str_eq(out.name, in->name ? in->name : "");
        /* Every prefix is "need more", never a record. */
        ck_assert_int_eq(record_decode(buf, padded - 1, &out, NULL), -EAGAIN);
}

START_TEST(test_roundtrip_every_type)
{
        static const uint16_t types[] = {
                JOURNAL_MOUNT, JOURNAL_UNMOUNT, JOURNAL_EVENTS_LOST, JOURNAL_WRITE_INTENT,
                JOURNAL_CLOSE_WRITE, JOURNAL_CREATE, JOURNAL_MKDIR, JOURNAL_MKNOD, JOURNAL_SYMLINK,
                JOURNAL_LINK, JOURNAL_RENAME, JOURNAL_UNLINK, JOURNAL_RMDIR, JOURNAL_SETATTR,
                JOURNAL_SETXATTR, JOURNAL_REMOVEXATTR, JOURNAL_SYNC, 700, 65535,
        };
        size_t i;

        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
                struct journal_record rec = {
                        .type = types[i], .flags = JOURNAL_F_DIR, .aux = 0xdeadbeef,
                        .mode = 040755, .uid = 1000, .gid = 4294967294u, .ino = UINT64_MAX - i,
                        .size = (uint64_t)1 << 40, .rdev = 0x0801,
                        .atime = { .tv_sec = -5, .tv_nsec = 999999999 },
                        .mtime = { .tv_sec = 1795305821, .tv_nsec = 0x3FFFFFFF },
                        .path = "dir/sub/file name \xff\xfe", .path2 = i % 2 ? "other/\xc3\xa9" : NULL,
                        .name = types[i] == JOURNAL_SETXATTR ? "user.test" : NULL,
                };

                ck_assert_ptr_nonnull(types[i] < 1024 && types[i] != 700 ? journal_type_name(types[i]) : "x");
                check_roundtrip(&rec);
        }
}
END_TEST

START_TEST(test_encode_limits)
{
        struct journal_record rec = { .type = JOURNAL_CREATE };
        size_t biggest = JOURNAL_RECORD_MAX - REC_MIN - 3;
        char *big = malloc(biggest + 2);

        ck_assert_ptr_nonnull(big);
        memset(big, 'a', biggest + 1);
        big[biggest] = 0;
        rec.path = big;
        check_roundtrip(&rec);                          /* exactly 64 KiB */
        big[biggest] = 'a';
        big[biggest + 1] = 0;
        ck_assert_int_eq(record_encoded_length(&rec), -E2BIG);
        rec.path = "with\0nul";
        rec.path_len = 8;
        ck_assert_int_eq(record_encoded_length(&rec), -EINVAL);
        rec.path = "ok";
        rec.path_len = 0;
        rec.type = 0;
        ck_assert_int_eq(record_encoded_length(&rec), -EINVAL);
        free(big);
}
END_TEST

START_TEST(test_decode_rejects_every_flipped_byte)
{
        struct journal_record rec = { .type = JOURNAL_RENAME, .path = "a/b", .path2 = "a/c", .ino = 42 };
        uint8_t buf[256], copy[256];
        struct journal_record out;
        int64_t len = record_encoded_length(&rec);
        size_t padded, i;
        int bit;

        padded = record_encode(&rec, 5, 6, (uint32_t)len, buf);
        for (i = 0; i < (size_t)len; i++) {
                for (bit = 0; bit < 8; bit++) {
                        int64_t d;

                        memcpy(copy, buf, padded);
                        copy[i] ^= (uint8_t)(1 << bit);
                        d = record_decode(copy, padded, &out, NULL);
                        /* a longer length field asks for more bytes */
                        ck_assert_msg(d == -EBADMSG || d == -EAGAIN, "byte %zu bit %d accepted", i, bit);
                }
        }
}
END_TEST

START_TEST(test_segment_header)
{
        struct seg_header h = { .first_seq = 99, .created_ns = 5 }, out;
        uint8_t buf[SEG_HEADER_SIZE];
        size_t i;

        memset(h.id, 0xab, sizeof(h.id));
        seg_header_encode(&h, buf);
        ck_assert_int_eq(seg_header_decode(buf, sizeof(buf), &out), 0);
        ck_assert_uint_eq(out.first_seq, 99);
        ck_assert_int_eq(memcmp(out.id, h.id, sizeof(h.id)), 0);
        /* The byte-order mark reads 0x04030201 when swapped. */
        ck_assert_uint_eq(buf[8], 0x04);
        for (i = 0; i < sizeof(buf); i++) {
                uint8_t copy[SEG_HEADER_SIZE];

                memcpy(copy, buf, sizeof(copy));
                copy[i] ^= 0x10;
                ck_assert_int_lt(seg_header_decode(copy, sizeof(copy), &out), 0);
        }
}
END_TEST

/* ---- appending and reading ---- */

START_TEST(test_append_read_back)
{
        char dir[256], path[64];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        uint64_t i;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        for (i = 1; i <= 1000; i++) {
                snprintf(path, sizeof(path), "d%" PRIu64 "/f%" PRIu64, i % 7, i);
                ck_assert_uint_eq(append_path(j, (uint16_t)(JOURNAL_WRITE_INTENT + i % 13), path), i);
        }
        /* Readers see records as soon as append returns. */
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 1000);
        ck_assert_uint_eq(rb.pr.total, 0);
        readback_free(&rb);
        journal_close(j);

        read_all(dirfd, 500, &rb);
        ck_assert_uint_eq(rb.n, 501);
        ck_assert_uint_eq(rb.seq[0], 500);
        ck_assert_str_eq(rb.path[0], "d3/f500");
        ck_assert_uint_eq(rb.pr.total, 0);
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

struct appender {
        struct journal *j;
        unsigned id;
        unsigned n;
};

static void *appender_main(void *arg)
{
        struct appender *a = arg;
        char path[64];
        unsigned i;

        for (i = 0; i < a->n; i++) {
                snprintf(path, sizeof(path), "t%u/%u", a->id, i);
                append_path(a->j, JOURNAL_CREATE, path);
        }
        return NULL;
}

static void concurrent(enum journal_durability d, unsigned threads, unsigned per_thread)
{
        struct appender a[16];
        pthread_t tid[16];
        char dir[256];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        unsigned *next = calloc(threads, sizeof(*next));
        uint64_t i;

        /* small segments: rotation under concurrency too */
        j = open_writer(dirfd, d, 256 * 1024);
        for (i = 0; i < threads; i++) {
                a[i] = (struct appender) { j, (unsigned)i, per_thread };
                ck_assert_int_eq(pthread_create(&tid[i], NULL, appender_main, &a[i]), 0);
        }
        for (i = 0; i < threads; i++)
                pthread_join(tid[i], NULL);
        journal_close(j);

        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, (uint64_t)threads * per_thread);
        ck_assert_uint_eq(rb.pr.total, 0);
        for (i = 0; i < rb.n; i++) {
                unsigned t, k;

                ck_assert_uint_eq(rb.seq[i], i + 1);
                ck_assert_int_eq(sscanf(rb.path[i], "t%u/%u", &t, &k), 2);
                ck_assert_uint_lt(t, threads);
                /* each thread's records once each, in its own order */
                ck_assert_uint_eq(k, next[t]);
                next[t]++;
        }
        readback_free(&rb);
        free(next);
        close(dirfd);
        tu_rmtree(dir);
}

START_TEST(test_concurrent_batch) { concurrent(JOURNAL_BATCH, 8, 20000); }
END_TEST
START_TEST(test_concurrent_none) { concurrent(JOURNAL_NONE, 8, 20000); }
END_TEST
START_TEST(test_concurrent_strict) { concurrent(JOURNAL_STRICT, 8, 300); }
END_TEST

START_TEST(test_strict_marks_durable)
{
        struct journal_reader *r;
        struct journal_record rec;
        struct journal_stats st;
        char dir[256];
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        uint64_t seq;

        j = open_writer(dirfd, JOURNAL_STRICT, 0);
        seq = append_path(j, JOURNAL_MKDIR, "x");
        journal_get_stats(j, &st);
        ck_assert_uint_ge(st.synced_seq, seq);
        journal_close(j);
        ck_assert_int_eq(journal_reader_open(dirfd, 1, NULL, NULL, &r), 0);
        ck_assert_int_eq(journal_reader_next(r, &rec), 1);
        ck_assert(rec.flags & JOURNAL_F_DURABLE);
        journal_reader_free(r);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_commit_explicit)
{
        struct journal_options o = { .durability = JOURNAL_BATCH, .commit_interval_us = 10000000 };
        struct journal_stats st;
        char dir[256];
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        uint64_t a, b;

        ck_assert_int_eq(journal_open(dirfd, &o, NULL, NULL, &j), 0);
        a = append_path(j, JOURNAL_CREATE, "a");
        /* the committer syncs the first at once, then rests 10 s */
        usleep(100000);
        b = append_path(j, JOURNAL_CREATE, "b");
        journal_get_stats(j, &st);
        ck_assert_uint_ge(st.synced_seq, a);
        ck_assert_uint_lt(st.synced_seq, b);
        ck_assert_int_eq(journal_commit(j, b), 0);
        journal_get_stats(j, &st);
        ck_assert_uint_ge(st.synced_seq, b);
        journal_close(j);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_writer_lock_and_reopen)
{
        char dir[256];
        struct readback rb;
        struct journal *j, *j2;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        append_path(j, JOURNAL_CREATE, "a");
        ck_assert(journal_writer_alive(dirfd));
        ck_assert_int_eq(journal_open(dirfd, NULL, NULL, NULL, &j2), -EBUSY);
        journal_close(j);
        ck_assert(!journal_writer_alive(dirfd));
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_uint_eq(append_path(j, JOURNAL_CREATE, "b"), 2);
        journal_close(j);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 2);
        ck_assert_uint_eq(rb.pr.total, 0);
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_unknown_type_skipped_once)
{
        char dir[256];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));

        j = open_writer(dirfd, JOURNAL_NONE, 0);
        append_path(j, 700, "future");
        append_path(j, 700, "future2");
        append_path(j, JOURNAL_UNLINK, "now");
        journal_close(j);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 3);
        ck_assert_uint_eq(rb.type[0], 700);
        ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_UNKNOWN_TYPE], 1);
        ck_assert_uint_eq(rb.pr.total, 1);
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

/* ---- recovery ---- */

/*
 * A journal of 40 records; cut its segment at every byte offset from the
 * 30th record on.  A reader must see exactly the complete records (and call
 * the rest a torn tail); a writer must cut the tail on open and go on
 * numbering from the last complete record.
 */
START_TEST(test_cut_at_every_offset)
{
        char dir[256], seg[64], path[512], work[300];
        uint64_t bounds[41], size, cut;
        struct readback rb;
        struct journal *j;
        struct stat st;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        unsigned i;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        for (i = 0; i < 40; i++) {
                char p[64];

                /* varied lengths, so cuts land everywhere in records */
                snprintf(p, sizeof(p), "%.*s/%u", (int)(i * 7 % 23 + 1), "abcdefghijklmnopqrstuvwxyz", i);
                append_path(j, JOURNAL_CREATE, p);
        }
        journal_close(j);
        newest_segment(dirfd, seg, sizeof(seg));
        snprintf(path, sizeof(path), "%s/%s", dir, seg);
        ck_assert_int_eq(stat(path, &st), 0);
        size = (uint64_t)st.st_size;

        /* record boundaries: header, then each record's padded end */
        {
                int fd = open(path, O_RDONLY);
                uint8_t *buf = malloc(size);
                uint64_t off = SEG_HEADER_SIZE;

                ck_assert_int_eq(pread(fd, buf, size, 0), (ssize_t)size);
                close(fd);
                bounds[0] = off;
                for (i = 0; i < 40; i++) {
                        off += rec_padded(get32(buf + off + 8));
                        bounds[i + 1] = off;
                }
                ck_assert_uint_eq(off, size);
                free(buf);
        }

        for (cut = bounds[30]; cut <= size; cut++) {
                unsigned complete = 0;
                bool boundary = false;
                int wfd, fd;

                for (i = 0; i <= 40; i++) {
                        if (bounds[i] <= cut)
                                complete = i;
                        if (bounds[i] == cut)
                                boundary = true;
                }
                snprintf(work, sizeof(work), "%s.cut", dir);
                tu_copydir(dir, work);
                snprintf(path, sizeof(path), "%s/%s", work, seg);
                ck_assert_int_eq(truncate(path, (off_t)cut), 0);
                wfd = open(work, O_RDONLY | O_DIRECTORY);

                read_all(wfd, 1, &rb);
                ck_assert_msg(rb.n == complete, "cut %" PRIu64 ": %" PRIu64 " records, want %u", cut, rb.n, complete);
                ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_TORN_TAIL], boundary ? 0 : 1);
                ck_assert_uint_eq(rb.pr.total, boundary ? 0 : 1);
                readback_free(&rb);

                j = open_writer(wfd, JOURNAL_BATCH, 0);
                ck_assert_uint_eq(append_path(j, JOURNAL_UNLINK, "after"), complete + 1);
                journal_close(j);
                fd = open(path, O_RDONLY);
                ck_assert_int_eq(fstat(fd, &st), 0);
                close(fd);
                ck_assert_uint_eq((uint64_t)st.st_size, bounds[complete]);
                read_all(wfd, 1, &rb);
                ck_assert_uint_eq(rb.n, complete + 1);
                ck_assert_uint_eq(rb.pr.total, 0);
                ck_assert_str_eq(rb.path[complete], "after");
                readback_free(&rb);
                close(wfd);
                tu_rmtree(work);
        }
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_cut_inside_header)
{
        char dir[256], seg[64], path[512];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        off_t cut;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        append_path(j, JOURNAL_CREATE, "a");
        journal_close(j);
        /* a second, newer segment cut inside its header: debris of a crash
         * while the segment was being made */
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        journal_close(j);
        newest_segment(dirfd, seg, sizeof(seg));
        snprintf(path, sizeof(path), "%s/%s", dir, seg);
        for (cut = 0; cut < SEG_HEADER_SIZE; cut += 7) {
                ck_assert_int_eq(truncate(path, cut), 0);
                j = open_writer(dirfd, JOURNAL_BATCH, 0);
                journal_close(j);
        }
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_uint_eq(append_path(j, JOURNAL_CREATE, "b"), 2);
        journal_close(j);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 2);
        ck_assert_uint_eq(rb.pr.total, 0);
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

/* Flip one byte at every offset of one record in the middle. */
START_TEST(test_flipped_bytes_detected)
{
        char dir[256], seg[64], path[512], work[300];
        uint64_t rec_off = 0, rec_len = 0, off;
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        unsigned i;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        for (i = 0; i < 50; i++)
                append_path(j, JOURNAL_CREATE, i == 25 ? "the/victim" : "other/file");
        journal_close(j);
        newest_segment(dirfd, seg, sizeof(seg));
        snprintf(path, sizeof(path), "%s/%s", dir, seg);
        {
                uint8_t hdr[12];
                int fd = open(path, O_RDONLY);

                off = SEG_HEADER_SIZE;
                for (i = 0; i <= 25; i++) {
                        ck_assert_int_eq(pread(fd, hdr, 12, (off_t)off), 12);
                        rec_off = off;
                        rec_len = get32(hdr + 8);
                        off += rec_padded((uint32_t)rec_len);
                }
                close(fd);
        }
        snprintf(work, sizeof(work), "%s.flip", dir);
        for (off = rec_off; off < rec_off + rec_len; off++) {
                uint8_t b;
                int fd, wfd;

                tu_copydir(dir, work);
                snprintf(path, sizeof(path), "%s/%s", work, seg);
                fd = open(path, O_RDWR);
                ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
                b ^= 0x5a;
                ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
                close(fd);
                wfd = open(work, O_RDONLY | O_DIRECTORY);
                read_all(wfd, 1, &rb);
                /* the victim is gone, reported; every other record is there */
                ck_assert_uint_eq(rb.n, 49);
                ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_CORRUPT], 1);
                ck_assert_uint_eq(rb.pr.first_offset[JOURNAL_PROBLEM_CORRUPT], rec_off);
                ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_GAP], 1);
                ck_assert_uint_eq(rb.pr.gap_from, 26);
                for (i = 0; i < rb.n; i++)
                        ck_assert_str_eq(rb.path[i], "other/file");
                readback_free(&rb);
                close(wfd);
                tu_rmtree(work);
        }
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_overwritten_range_and_bad_header)
{
        char dir[256], seg[64], path[512];
        uint8_t junk[300];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), fd;
        unsigned i;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        for (i = 0; i < 100; i++)
                append_path(j, JOURNAL_CREATE, "some/path/of/a/file");
        journal_close(j);
        newest_segment(dirfd, seg, sizeof(seg));
        snprintf(path, sizeof(path), "%s/%s", dir, seg);
        srandom(7);
        for (i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t)random();
        fd = open(path, O_RDWR);
        ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), 4000), (ssize_t)sizeof(junk));
        ck_assert_int_eq(pwrite(fd, junk, 4, 20), 4);   /* the header's CRC no longer matches */
        close(fd);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_BAD_SEGMENT], 1);
        ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_CORRUPT], 1);
        ck_assert_uint_lt(rb.n, 100);
        ck_assert_uint_gt(rb.n, 90);
        ck_assert_uint_eq(rb.seq[rb.n - 1], 100);
        readback_free(&rb);
        /* the writer recovers past it and numbers on */
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_uint_eq(append_path(j, JOURNAL_CREATE, "x"), 101);
        journal_close(j);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

/* ---- cursors ---- */

START_TEST(test_cursor_crash_between_steps)
{
        char dir[256], path[512];
        uint8_t id[JOURNAL_ID_SIZE], buf[CUR_SIZE];
        struct journal *j;
        uint64_t seq;
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), fd;

        ck_assert_int_eq(journal_cursor_store(dirfd, "r", 1), -ENOENT);    /* no journal yet */
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        append_path(j, JOURNAL_CREATE, "a");
        ck_assert_int_eq(journal_cursor_load(dirfd, "r", &seq), -ENOENT);
        ck_assert_int_eq(journal_cursor_store(dirfd, "r", 10), 0);
        ck_assert_int_eq(journal_cursor_load(dirfd, "r", &seq), 0);
        ck_assert_uint_eq(seq, 10);
        ck_assert_int_eq(journal_dir_id(dirfd, id), 0);

        /* crash after the temp file was written, before the rename */
        cursor_encode(id, 20, buf);
        snprintf(path, sizeof(path), "%s/cursor.r.tmp", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_eq(write(fd, buf, 17), 17);       /* and half written */
        close(fd);
        ck_assert_int_eq(journal_cursor_load(dirfd, "r", &seq), 0);
        ck_assert_uint_eq(seq, 10);
        /* the next store replaces the debris */
        ck_assert_int_eq(journal_cursor_store(dirfd, "r", 30), 0);
        ck_assert_int_eq(journal_cursor_load(dirfd, "r", &seq), 0);
        ck_assert_uint_eq(seq, 30);
        ck_assert_int_eq(access(path, F_OK), -1);

        /* a damaged cursor is refused, not misread */
        snprintf(path, sizeof(path), "%s/cursor.r", dir);
        fd = open(path, O_WRONLY);
        ck_assert_int_eq(pwrite(fd, "x", 1, 33), 1);
        close(fd);
        ck_assert_int_eq(journal_cursor_load(dirfd, "r", &seq), -EBADMSG);

        /* a cursor of another journal is refused */
        id[0] ^= 1;
        cursor_encode(id, 5, buf);
        fd = open(path, O_WRONLY | O_TRUNC);
        ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
        close(fd);
        ck_assert_int_eq(journal_cursor_load(dirfd, "r", &seq), -EXDEV);

        ck_assert_int_eq(journal_cursor_store(dirfd, "../evil", 1), -EINVAL);
        ck_assert_int_eq(journal_cursor_store(dirfd, "", 1), -EINVAL);
        ck_assert_int_eq(journal_cursor_store(dirfd, ".hidden", 1), -EINVAL);
        ck_assert_int_eq(journal_cursor_store(dirfd, "x.tmp", 1), -EINVAL);
        ck_assert(journal_cursor_name_valid("replicator-1.b_2"));
        journal_close(j);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

/* ---- rotation, trimming, archive ---- */

START_TEST(test_rotation_trim_archive)
{
        struct journal_segment_info *segs;
        struct journal_trim_stats ts;
        char dir[256], path[512];
        struct readback rb, rb2;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        size_t n, n2, i, archived = 0;
        uint64_t k;

        j = open_writer(dirfd, JOURNAL_BATCH, 4096);
        for (k = 1; k <= 2000; k++) {
                snprintf(path, sizeof(path), "dir/file-%" PRIu64, k);
                append_path(j, JOURNAL_CLOSE_WRITE, path);
        }
        ck_assert_int_eq(journal_list_segments(dirfd, &segs, &n), 0);
        ck_assert_uint_gt(n, 20);
        free(segs);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 2000);
        ck_assert_uint_eq(rb.pr.total, 0);

        /* no cursor: nothing goes */
        ck_assert_int_eq(journal_trim(dirfd, 0, &ts), 0);
        ck_assert_uint_eq(ts.deleted + ts.archived, 0);

        /* archive what two cursors have both passed */
        ck_assert_int_eq(journal_cursor_store(dirfd, "a", 1500), 0);
        ck_assert_int_eq(journal_cursor_store(dirfd, "b", 1000), 0);
        ck_assert_int_eq(journal_trim(dirfd, 3600, &ts), 0);
        ck_assert_uint_gt(ts.archived, 5);
        ck_assert_uint_eq(ts.deleted, 0);
        ck_assert_int_eq(journal_list_segments(dirfd, &segs, &n), 0);
        for (i = 0; i < n; i++) {
                if (segs[i].archived) {
                        archived++;
                        ck_assert_uint_le(segs[i + 1].first_seq - 1, 1000);
                }
        }
        ck_assert_uint_eq(archived, ts.archived);
        free(segs);
        /* readers read through the archive: the very same records */
        read_all(dirfd, 1, &rb2);
        ck_assert_uint_eq(rb2.n, 2000);
        ck_assert_uint_eq(rb2.pr.total, 0);
        for (k = 0; k < 2000; k++) {
                ck_assert_uint_eq(rb2.seq[k], rb.seq[k]);
                ck_assert_str_eq(rb2.path[k], rb.path[k]);
        }
        readback_free(&rb2);
        /* from the middle of an archive */
        read_all(dirfd, 777, &rb2);
        ck_assert_uint_eq(rb2.n, 2000 - 776);
        ck_assert_uint_eq(rb2.pr.total, 0);
        readback_free(&rb2);

        /* archives older than the retention period expire */
        ck_assert_int_eq(journal_list_segments(dirfd, &segs, &n), 0);
        for (i = 0; i < n; i++) {
                if (segs[i].archived) {
                        struct timespec old[2] = { { 0, UTIME_OMIT }, { time(NULL) - 7200, 0 } };

                        ck_assert_int_eq(utimensat(dirfd, segs[i].name, old, 0), 0);
                }
        }
        free(segs);
        ck_assert_int_eq(journal_trim(dirfd, 3600, &ts), 0);
        ck_assert_uint_eq(ts.expired, archived);

        /* without retention: deleted; the newest segment always stays */
        ck_assert_int_eq(journal_cursor_store(dirfd, "b", 2000), 0);
        ck_assert_int_eq(journal_trim(dirfd, 0, &ts), 0);
        ck_assert_uint_gt(ts.deleted, 0);
        ck_assert_int_eq(journal_list_segments(dirfd, &segs, &n2), 0);
        ck_assert_uint_ge(n2, 1);
        free(segs);
        read_all(dirfd, 1501, &rb2);
        ck_assert_uint_eq(rb2.n, 500);
        readback_free(&rb2);
        readback_free(&rb);
        journal_close(j);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

/* ---- following ---- */

struct slow_writer {
        struct journal *j;
        unsigned n;
};

static void *slow_writer_main(void *arg)
{
        struct slow_writer *w = arg;
        char path[32];
        unsigned i;

        for (i = 0; i < w->n; i++) {
                if (i % 50 == 0)
                        usleep(20000);
                snprintf(path, sizeof(path), "f%u", i);
                append_path(w->j, JOURNAL_CREATE, path);
        }
        return NULL;
}

START_TEST(test_follow_growth_and_rotation)
{
        struct journal_reader *r;
        struct journal_record rec;
        struct problems pr = { 0 };
        struct slow_writer w;
        char dir[256], want[32];
        pthread_t tid;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));
        unsigned got = 0, waits = 0;

        j = open_writer(dirfd, JOURNAL_BATCH, 2048);
        ck_assert_int_eq(journal_reader_open(dirfd, 1, count_problem, &pr, &r), 0);
        ck_assert_int_eq(journal_reader_next(r, &rec), 0);
        w = (struct slow_writer) { j, 1000 };
        ck_assert_int_eq(pthread_create(&tid, NULL, slow_writer_main, &w), 0);
        while (got < 1000) {
                int e = journal_reader_next(r, &rec);

                ck_assert_int_ge(e, 0);
                if (e == 0) {
                        /* no polling: the wait returns because of a change */
                        ck_assert_int_eq(journal_reader_wait(r, 10000), 1);
                        waits++;
                        continue;
                }
                snprintf(want, sizeof(want), "f%u", got);
                ck_assert_str_eq(rec.path, want);
                ck_assert_uint_eq(rec.seq, got + 1);
                got++;
        }
        pthread_join(tid, NULL);
        ck_assert_uint_eq(pr.total, 0);
        ck_assert_uint_gt(waits, 5);
        (void)journal_reader_wait(r, 0);                        /* drain */
        ck_assert_int_eq(journal_reader_wait(r, 50), 0);        /* quiet now */
        journal_reader_free(r);
        journal_close(j);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

/* ---- injected faults ---- */

/* Set by the test, read by the journal's committer thread: atomic. */
static _Atomic int fail_writes;         /* fail the next N writes */
static _Atomic int fail_mode;           /* 0: -ENOSPC, 1: half then -EIO */
static _Atomic int fail_syncs;

static int faulty_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
        if (fail_writes > 0) {
                fail_writes--;
                if (fail_mode == 1) {
                        (void)pwrite_all(fd, buf, len / 2, off);
                        return -EIO;
                }
                return -ENOSPC;
        }
        return pwrite_all(fd, buf, len, off);
}

static int faulty_fdatasync(int fd)
{
        if (fail_syncs > 0) {
                fail_syncs--;
                return -EIO;
        }
        return fdatasync(fd) < 0 ? -errno : 0;
}

static const struct journal_io faulty_io = { faulty_pwrite, faulty_fdatasync };

/* Sum up the events-lost records; returns how many there are. */
static int find_events_lost(int dirfd, uint64_t *first, uint64_t *last, uint64_t *count)
{
        struct journal_reader *r;
        struct journal_record rec;
        int found = 0;

        *first = *last = *count = 0;
        ck_assert_int_eq(journal_reader_open(dirfd, 1, NULL, NULL, &r), 0);
        while (journal_reader_next(r, &rec) > 0) {
                if (rec.type == JOURNAL_EVENTS_LOST) {
                        if (rec.ino && (!*first || rec.ino < *first))
                                *first = rec.ino;
                        if (rec.rdev > *last)
                                *last = rec.rdev;
                        *count += rec.size;
                        found++;
                }
        }
        journal_reader_free(r);
        return found;
}

START_TEST(test_enospc_held_then_written)
{
        struct journal_stats st;
        struct journal_record rec = { .type = JOURNAL_CREATE, .path = "held" };
        char dir[256];
        struct readback rb;
        struct journal *j;
        uint64_t seq;
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), i;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        append_path(j, JOURNAL_CREATE, "ok1");
        journal_set_io(j, &faulty_io);
        fail_mode = 0;
        fail_writes = 1000000;                  /* the file system is full */
        for (i = 0; i < 5; i++) {
                seq = 0;
                ck_assert_int_eq(journal_append(j, &rec, &seq), -EINPROGRESS);
                ck_assert_uint_eq(seq, (uint64_t)i + 2);        /* numbered all the same */
        }
        journal_get_stats(j, &st);
        ck_assert_uint_eq(st.held, 5);
        ck_assert_uint_eq(st.lost, 0);
        ck_assert_int_eq(st.last_error, -ENOSPC);
        ck_assert_int_eq(journal_commit(j, 0), -ENOSPC);        /* the journal is in trouble */
        /* the disk has room again: the held records go first, in order */
        fail_writes = 0;
        append_path(j, JOURNAL_CREATE, "ok2");
        ck_assert_int_eq(journal_commit(j, 0), 0);
        journal_get_stats(j, &st);
        ck_assert_uint_eq(st.held, 0);
        journal_close(j);

        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 7);                     /* ok1, five held, ok2: nothing lost */
        for (i = 0; i < 7; i++)
                ck_assert_uint_eq(rb.seq[i], (uint64_t)i + 1);
        ck_assert_str_eq(rb.path[1], "held");
        ck_assert_str_eq(rb.path[6], "ok2");
        ck_assert_uint_eq(rb.pr.total, 0);
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_held_written_by_the_committer)
{
        struct journal_record rec = { .type = JOURNAL_CREATE, .path = "held" };
        struct journal_stats st;
        char dir[256];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), i;

        j = open_writer(dirfd, JOURNAL_STRICT, 0);
        journal_set_io(j, &faulty_io);
        fail_mode = 0;
        fail_writes = 1000000;
        ck_assert_int_eq(journal_append(j, &rec, NULL), -EINPROGRESS);
        fail_writes = 0;
        /* nobody appends: the committer writes them within its retry period */
        for (i = 0; i < 300; i++) {
                journal_get_stats(j, &st);
                if (!st.held)
                        break;
                usleep(10000);
        }
        ck_assert_uint_eq(st.held, 0);
        journal_close(j);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 1);
        ck_assert_str_eq(rb.path[0], "held");
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_held_overflow_then_events_lost)
{
        struct journal_options o = { .durability = JOURNAL_BATCH, .max_pending = 4096 };
        struct journal_record rec = { .type = JOURNAL_CREATE, .path = "some/path/of/a/file" };
        uint64_t first, last, count, held = 0, lost = 0;
        struct journal_stats st;
        char dir[256];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), i, r;

        ck_assert_int_eq(journal_open(dirfd, &o, NULL, NULL, &j), 0);
        journal_set_io(j, &faulty_io);
        fail_mode = 0;
        fail_writes = 1000000;
        for (i = 0; i < 100; i++) {
                r = journal_append(j, &rec, NULL);
                if (r == -EINPROGRESS)
                        held++;
                else {
                        ck_assert_int_eq(r, -ENOSPC);
                        lost++;
                }
        }
        ck_assert_uint_gt(held, 10);            /* as many as 4 KiB hold */
        ck_assert_uint_gt(lost, 0);
        journal_get_stats(j, &st);
        ck_assert_uint_eq(st.held, held);
        fail_writes = 0;
        append_path(j, JOURNAL_CREATE, "after");
        journal_close(j);

        ck_assert_int_eq(find_events_lost(dirfd, &first, &last, &count), 1);
        ck_assert_uint_eq(count, lost);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, held + 2);              /* the held, events-lost, after */
        ck_assert_str_eq(rb.path[rb.n - 1], "after");
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_short_write_leaves_no_debris)
{
        struct journal_record rec = { .type = JOURNAL_CREATE, .path = "a/long/enough/path/to/split" };
        char dir[256];
        struct readback rb;
        struct journal *j;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));

        j = open_writer(dirfd, JOURNAL_NONE, 0);
        append_path(j, JOURNAL_CREATE, "before");
        journal_set_io(j, &faulty_io);
        fail_mode = 1;
        fail_writes = 1;
        ck_assert_int_eq(journal_append(j, &rec, NULL), -EINPROGRESS);
        append_path(j, JOURNAL_CREATE, "after");
        journal_close(j);
        read_all(dirfd, 1, &rb);
        ck_assert_uint_eq(rb.n, 3);                     /* before, the held one rewritten whole, after */
        ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_CORRUPT], 0);
        ck_assert_uint_eq(rb.pr.kind[JOURNAL_PROBLEM_TORN_TAIL], 0);
        ck_assert_str_eq(rb.path[1], "a/long/enough/path/to/split");
        ck_assert_str_eq(rb.path[2], "after");
        readback_free(&rb);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_fdatasync_eio_reported)
{
        struct journal_record rec = { .type = JOURNAL_CREATE, .path = "x" };
        char dir[256];
        struct journal *j;
        uint64_t first, last, count;
        int dirfd = tu_mkdtemp(dir, sizeof(dir));

        j = open_writer(dirfd, JOURNAL_STRICT, 0);
        journal_set_io(j, &faulty_io);
        fail_syncs = 1;
        ck_assert_int_eq(journal_append(j, &rec, NULL), -EIO);
        append_path(j, JOURNAL_CREATE, "y");
        journal_close(j);
        /* the record may be gone with the dropped pages: said so */
        ck_assert_int_eq(find_events_lost(dirfd, &first, &last, &count), 1);
        ck_assert_uint_eq(first, 1);
        ck_assert_uint_eq(count, 1);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

static int blocking_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
        usleep(300000);
        return pwrite_all(fd, buf, len, off);
}

static const struct journal_io blocking_io = { blocking_pwrite, faulty_fdatasync };

struct stalled_append {
        pthread_t tid;
        struct journal *j;
        int result;
};

static void *stalled_append_main(void *arg)
{
        struct stalled_append *a = arg;
        struct journal_record rec = { .type = JOURNAL_CREATE, .path = "waiting/for/a/slow/disk" };

        a->result = journal_append(a->j, &rec, NULL);
        return NULL;
}

/* The disk stalls: the journal refuses appends beyond max_pending instead
 * of blocking the file system, and says so afterwards. */
START_TEST(test_refused_when_disk_stalls)
{
        struct journal_options o = { .durability = JOURNAL_NONE, .max_pending = 4096 };
        struct stalled_append a[80];
        struct journal_stats st;
        char dir[256];
        struct journal *j;
        uint64_t first, last, count;
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), refused = 0;
        unsigned i;

        ck_assert_int_eq(journal_open(dirfd, &o, NULL, NULL, &j), 0);
        journal_set_io(j, &blocking_io);
        for (i = 0; i < 80; i++) {
                a[i].j = j;
                ck_assert_int_eq(pthread_create(&a[i].tid, NULL, stalled_append_main, &a[i]), 0);
        }
        for (i = 0; i < 80; i++) {
                pthread_join(a[i].tid, NULL);
                if (a[i].result == -ENOBUFS)
                        refused++;
                else
                        ck_assert_int_eq(a[i].result, 0);
        }
        ck_assert_int_gt(refused, 0);
        journal_get_stats(j, &st);
        ck_assert_uint_eq(st.refused, (uint64_t)refused);
        journal_set_io(j, NULL);
        append_path(j, JOURNAL_CREATE, "later");
        journal_close(j);
        ck_assert_int_ge(find_events_lost(dirfd, &first, &last, &count), 1);
        ck_assert_uint_eq(first, 0);                    /* refusals only: no number lost */
        ck_assert_uint_eq(count, (uint64_t)refused);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

/* ---- the in-flight table ---- */

struct leftovers {
        unsigned n;
        char path[4][64], path2[4][64];
        uint16_t type[4];
        uint64_t ino[4], from[4];
        int fail_at;                    /* return -EIO at this call (1-based; 0: never) */
};

static int take_leftover(void *userdata, const struct journal_record *rec, uint64_t from_seq)
{
        struct leftovers *l = userdata;

        if (l->fail_at && l->n + 1 == (unsigned)l->fail_at)
                return -EIO;
        ck_assert_uint_lt(l->n, 4);
        snprintf(l->path[l->n], sizeof(l->path[0]), "%s", rec->path);
        snprintf(l->path2[l->n], sizeof(l->path2[0]), "%s", rec->path2);
        l->type[l->n] = rec->type;
        l->ino[l->n] = rec->ino;
        l->from[l->n] = from_seq;
        l->n++;
        return 0;
}

START_TEST(test_inflight_survives_a_dead_writer)
{
        struct journal_record ren = { .type = JOURNAL_RENAME, .path = "old", .path2 = "new", .ino = 77 };
        struct journal_record mk = { .type = JOURNAL_MKDIR, .path = "d" };
        struct journal_record gone = { .type = JOURNAL_UNLINK, .path = "withdrawn" };
        struct journal_inflight *t;
        struct leftovers l = { 0 };
        struct journal *j;
        char dir[256], big[9000];
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), a, b, c;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_int_eq(journal_inflight_open(j, 4, &t), 0);
        append_path(j, JOURNAL_CREATE, "x");
        append_path(j, JOURNAL_CREATE, "y");
        ck_assert_int_eq(journal_announce(t, &gone, &c), 0);
        ck_assert_int_eq(journal_announce(t, &ren, &a), 0);
        journal_withdraw(t, c);
        append_path(j, JOURNAL_CREATE, "z");
        ck_assert_int_eq(journal_announce(t, &mk, &b), 0);
        /* a record that cannot fit a slot is refused, not truncated */
        memset(big, 'p', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        {
                struct journal_record huge = { .type = JOURNAL_RENAME, .path = big, .path2 = big };
                int d;

                ck_assert_int_eq(journal_announce(t, &huge, &d), -E2BIG);
        }
        /* the writer dies here: nothing withdrawn, nothing taken */
        journal_inflight_close(t);
        journal_close(j);

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_int_eq(journal_inflight_open(j, 2, &t), 0);   /* fewer slots: the file keeps its 4 */
        l.fail_at = 2;
        ck_assert_int_eq(journal_inflight_take(t, take_leftover, &l), -EIO);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.path[0], "d");
        ck_assert_uint_eq(l.type[0], JOURNAL_MKDIR);
        ck_assert_uint_eq(l.from[0], 4);        /* announced after three appends */
        journal_inflight_close(t);
        journal_close(j);

        /* what a failed take left is there for the next writer */
        memset(&l, 0, sizeof(l));
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_int_eq(journal_inflight_open(j, 2, &t), 0);
        ck_assert_int_eq(journal_inflight_take(t, take_leftover, &l), 1);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.path[0], "old");
        ck_assert_str_eq(l.path2[0], "new");
        ck_assert_uint_eq(l.type[0], JOURNAL_RENAME);
        ck_assert_uint_eq(l.ino[0], 77);
        ck_assert_uint_eq(l.from[0], 3);
        /* taken means gone */
        memset(&l, 0, sizeof(l));
        ck_assert_int_eq(journal_inflight_take(t, take_leftover, &l), 0);
        /* four slots in use wait for nothing; all of them are free again */
        ck_assert_int_eq(journal_announce(t, &mk, &a), 0);
        ck_assert_int_eq(journal_announce(t, &mk, &b), 0);
        ck_assert_int_eq(journal_announce(t, &mk, &c), 0);
        journal_withdraw(t, a);
        journal_withdraw(t, b);
        journal_withdraw(t, c);
        journal_inflight_close(t);
        journal_close(j);

        /* nothing is left over after a clean run */
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_int_eq(journal_inflight_open(j, 4, &t), 0);
        ck_assert_int_eq(journal_inflight_take(t, take_leftover, &l), 0);
        journal_inflight_close(t);
        journal_close(j);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

START_TEST(test_inflight_ignores_torn_slots)
{
        struct journal_record mk = { .type = JOURNAL_MKDIR, .path = "dir" };
        struct journal_inflight *t;
        struct leftovers l = { 0 };
        struct journal *j;
        char dir[256];
        int dirfd = tu_mkdtemp(dir, sizeof(dir)), a, fd;
        uint8_t byte;

        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_int_eq(journal_inflight_open(j, 2, &t), 0);
        ck_assert_int_eq(journal_announce(t, &mk, &a), 0);
        ck_assert_int_eq(journal_announce(t, &mk, &a), 0);
        journal_inflight_close(t);
        journal_close(j);
        /* damage the record in slot 1 (its CRC no longer matches) */
        fd = openat(dirfd, "inflight", O_RDWR);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, &byte, 1, 12288 + 16 + 40), 1);
        byte ^= 0x20;
        ck_assert_int_eq(pwrite(fd, &byte, 1, 12288 + 16 + 40), 1);
        close(fd);
        j = open_writer(dirfd, JOURNAL_BATCH, 0);
        ck_assert_int_eq(journal_inflight_open(j, 2, &t), 0);
        ck_assert_int_eq(journal_inflight_take(t, take_leftover, &l), 1);
        ck_assert_str_eq(l.path[0], "dir");
        journal_inflight_close(t);
        journal_close(j);
        close(dirfd);
        tu_rmtree(dir);
}
END_TEST

static Suite *journal_suite(void)
{
        Suite *s = suite_create("journal");
        TCase *t;

        t = tcase_create("format");
        tcase_add_test(t, test_roundtrip_every_type);
        tcase_add_test(t, test_encode_limits);
        tcase_add_test(t, test_decode_rejects_every_flipped_byte);
        tcase_add_test(t, test_segment_header);
        suite_add_tcase(s, t);

        t = tcase_create("append");
        tcase_set_timeout(t, 120);
        tcase_add_test(t, test_append_read_back);
        tcase_add_test(t, test_concurrent_batch);
        tcase_add_test(t, test_concurrent_none);
        tcase_add_test(t, test_concurrent_strict);
        tcase_add_test(t, test_strict_marks_durable);
        tcase_add_test(t, test_commit_explicit);
        tcase_add_test(t, test_writer_lock_and_reopen);
        tcase_add_test(t, test_inflight_survives_a_dead_writer);
        tcase_add_test(t, test_inflight_ignores_torn_slots);
        tcase_add_test(t, test_unknown_type_skipped_once);
        suite_add_tcase(s, t);

        t = tcase_create("recovery");
        tcase_set_timeout(t, 300);
        tcase_add_test(t, test_cut_at_every_offset);
        tcase_add_test(t, test_cut_inside_header);
        tcase_add_test(t, test_flipped_bytes_detected);
        tcase_add_test(t, test_overwritten_range_and_bad_header);
        suite_add_tcase(s, t);

        t = tcase_create("cursors");
        tcase_add_test(t, test_cursor_crash_between_steps);
        suite_add_tcase(s, t);

        t = tcase_create("segments");
        tcase_set_timeout(t, 60);
        tcase_add_test(t, test_rotation_trim_archive);
        tcase_add_test(t, test_follow_growth_and_rotation);
        suite_add_tcase(s, t);

        t = tcase_create("faults");
        tcase_set_timeout(t, 30);
        tcase_add_test(t, test_enospc_held_then_written);
        tcase_add_test(t, test_held_written_by_the_committer);
        tcase_add_test(t, test_held_overflow_then_events_lost);
        tcase_add_test(t, test_short_write_leaves_no_debris);
        tcase_add_test(t, test_fdatasync_eio_reported);
        tcase_add_test(t, test_refused_when_disk_stalls);
        suite_add_tcase(s, t);
        return s;
}

int main(void)
{
        return tu_run(journal_suite());
}
