/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reader.c: reading the journal in sequence order, across segments and
 * archives, while the writer appends.
 *
 * The reader holds a window of the current segment in memory and decodes
 * records from it.  Damaged bytes never stop it: a record that does not
 * check out is reported, the reader scans forward (8-byte steps) for the
 * next valid record, and if there is none it has reached the end.  At the
 * end of the newest segment it tells a live end (a writer holds the lock:
 * more will come) from a torn tail (no writer: the bytes are debris).
 *
 * What it does not do: decide what records mean, or write anything.
 * Caveat: a reader follows one journal directory; it learns of new segments
 * by listing the directory when it reaches the end of the current one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal-internal.h"
#include "reader-internal.h"

#define WINDOW (4 * JOURNAL_RECORD_MAX)

enum {
        READER_NO_WRITER = 1 << 0,      /* treat the newest segment as closed */
        READER_ONE_SEGMENT = 1 << 1,    /* stop at the end of the first segment */
};

struct journal_reader {
        int dirfd;
        int inotify_fd;                 /* -1 until needed */
        unsigned flags;
        journal_problem_fn on_problem;
        void *userdata;

        uint64_t want_seq;              /* deliver records with seq >= this */
        uint64_t expect_seq;            /* next seq in order (0: none seen yet) */
        uint8_t id[JOURNAL_ID_SIZE];
        bool have_id;

        /* the current segment */
        struct journal_segment_info seg;
        bool in_seg;
        bool seg_skip;                  /* foreign or unreadable: skip it */
        struct seg_file *f;
        uint8_t *buf;                   /* window: segment bytes [buf_off, buf_off + len) */
        size_t len, pos, cap;           /* pos: next unread byte in buf */
        uint64_t buf_off;
        uint64_t damage_from;           /* start of damaged bytes not yet reported (0: none) */
        uint64_t tail_reported;         /* 1 + offset of a torn tail already reported */

        uint64_t unknown_types[1024 / 64]; /* types reported once (bitmap of type % 1024) */

        /* for reader_scan_tail() */
        uint64_t last_seq, last_time_ns;
        uint64_t end_off;
};

static void problem(struct journal_reader *r, enum journal_problem_kind kind, uint64_t off,
                    uint64_t length, int error, const char *detail)
{
        struct journal_problem p = {
                .kind = kind, .segment = r->seg.name, .offset = off, .length = length,
                .error = error, .detail = detail,
        };

        if (r->on_problem)
                r->on_problem(r->userdata, &p);
}

static void problem_gap(struct journal_reader *r, uint64_t off, uint64_t from, uint64_t to)
{
        struct journal_problem p = {
                .kind = JOURNAL_PROBLEM_GAP, .segment = r->seg.name, .offset = off,
                .seq_from = from, .seq_to = to, .detail = "sequence numbers missing",
        };

        if (r->on_problem)
                r->on_problem(r->userdata, &p);
}

static void seg_leave(struct journal_reader *r)
{
        r->f = seg_file_close(r->f);
        r->in_seg = false;
        r->len = r->pos = 0;
}

/*
 * Read more of the segment into the window, first dropping the bytes before
 * r->pos.  Returns the bytes added (0 at the end of the file) or -errno.
 */
static int64_t fill(struct journal_reader *r)
{
        size_t want;
        int64_t n;

        if (r->pos > 0) {
                memmove(r->buf, r->buf + r->pos, r->len - r->pos);
                r->buf_off += r->pos;
                r->len -= r->pos;
                r->pos = 0;
        }
        want = r->cap - r->len;
        if (want == 0)
                return -ENOBUFS;        /* cannot happen: a record fits four times */
        if (!r->seg.archived)
                (void)seg_file_seek(r->f, r->buf_off + r->len);
        n = seg_file_read(r->f, r->buf + r->len, want);
        if (n < 0)
                return n;
        r->len += (size_t)n;
        return n;
}

static int seg_enter(struct journal_reader *r, const struct journal_segment_info *s)
{
        struct seg_header h;
        int64_t n;
        int ret;

        r->seg = *s;
        r->in_seg = true;
        r->seg_skip = false;
        r->len = r->pos = 0;
        r->buf_off = 0;
        r->damage_from = 0;
        r->tail_reported = 0;
        ret = seg_file_open(r->dirfd, s->name, s->archived, &r->f);
        if (ret < 0) {
                if (ret == -ENOENT)
                        return ret;     /* trimmed meanwhile: list again */
                problem(r, JOURNAL_PROBLEM_BAD_SEGMENT, 0, 0, ret, "cannot open segment");
                r->seg_skip = true;
                return 0;
        }
        while (r->len < SEG_HEADER_SIZE) {
                n = fill(r);
                if (n < 0) {
                        problem(r, JOURNAL_PROBLEM_BAD_SEGMENT, 0, 0, (int)n, "cannot read segment");
                        r->seg_skip = true;
                        return 0;
                }
                if (n == 0)
                        break;
        }
        if (r->len < SEG_HEADER_SIZE) {
                /* A segment is created with its header in one write and
                 * synced before use: a short one is debris. */
                problem(r, JOURNAL_PROBLEM_BAD_SEGMENT, 0, r->len, 0, "segment shorter than its header");
                r->seg_skip = true;
                return 0;
        }
        ret = seg_header_decode(r->buf, r->len, &h);
        if (ret == -EPROTONOSUPPORT) {
                problem(r, JOURNAL_PROBLEM_BAD_SEGMENT, 0, SEG_HEADER_SIZE, ret,
                        "segment of a newer format version");
                r->seg_skip = true;
                return 0;
        }
        if (ret < 0) {
                problem(r, JOURNAL_PROBLEM_BAD_SEGMENT, 0, SEG_HEADER_SIZE, ret,
                        "bad segment header; reading its records anyway");
        } else if (r->have_id && memcmp(h.id, r->id, JOURNAL_ID_SIZE) != 0) {
                problem(r, JOURNAL_PROBLEM_FOREIGN, 0, 0, 0, "segment of another journal");
                r->seg_skip = true;
                return 0;
        } else if (!r->have_id) {
                memcpy(r->id, h.id, JOURNAL_ID_SIZE);
                r->have_id = true;
        }
        r->pos = SEG_HEADER_SIZE;
        r->end_off = SEG_HEADER_SIZE;
        return 0;
}

/*
 * Enter the segment to read next: the one after the current, or, at the
 * start, the last one beginning at or before the wanted seq (else the
 * first).  Returns 1 when entered, 0 when there is none.
 */
static int seg_next(struct journal_reader *r)
{
        struct journal_segment_info *segs;
        uint64_t target = r->expect_seq ? r->expect_seq : r->want_seq;
        size_t n, i, pick = SIZE_MAX;
        int ret;

        ret = journal_list_segments(r->dirfd, &segs, &n);
        if (ret < 0)
                return ret;
        for (i = 0; i < n; i++) {
                if (r->in_seg) {
                        if (segs[i].first_seq > r->seg.first_seq) {
                                pick = i;
                                break;
                        }
                } else if (pick == SIZE_MAX || segs[i].first_seq <= target) {
                        pick = i;
                }
        }
        if (pick == SIZE_MAX) {
                free(segs);
                return 0;
        }
        if (r->in_seg)
                seg_leave(r);
        ret = seg_enter(r, &segs[pick]);
        free(segs);
        if (ret == -ENOENT)
                return seg_next(r);     /* archived or trimmed just now */
        return ret < 0 ? ret : 1;
}

/* Is there a segment newer than the current one? */
static int newer_segment_exists(struct journal_reader *r)
{
        struct journal_segment_info *segs;
        size_t n;
        int ret;

        ret = journal_list_segments(r->dirfd, &segs, &n);
        if (ret < 0)
                return ret;
        ret = n > 0 && segs[n - 1].first_seq > r->seg.first_seq;
        free(segs);
        return ret;
}

/*
 * The bytes at r->pos are not a valid record.  Move r->pos to the next
 * 8-byte-aligned offset where a valid record starts: 1 when found.  0 when
 * the file ends first; r->pos is then at a candidate that is still
 * incomplete (a record being written), or at the end.
 */
static int resync(struct journal_reader *r)
{
        uint64_t cand = r->buf_off + r->pos + REC_ALIGN;

        for (;;) {
                int64_t n;

                while (cand + 4 <= r->buf_off + r->len) {
                        size_t c = (size_t)(cand - r->buf_off);

                        if (get32(r->buf + c) == REC_MAGIC) {
                                struct journal_record rec;
                                int64_t d = record_decode(r->buf + c, r->len - c, &rec, NULL);

                                if (d > 0) {
                                        r->pos = c;
                                        return 1;
                                }
                                if (d == -EAGAIN)
                                        break;  /* judge it with more bytes */
                        }
                        cand += REC_ALIGN;
                }
                r->pos = cand <= r->buf_off + r->len ? (size_t)(cand - r->buf_off) : r->len;
                n = fill(r);
                if (n <= 0)
                        return (int)n;
        }
}

/*
 * Does a valid record start after r->pos in the window?  Used at the end of
 * the file only: there the window holds every remaining byte (they are
 * fewer than a record's length, or the record would have been complete).
 */
static bool valid_record_after(struct journal_reader *r)
{
        size_t c;

        for (c = r->pos + REC_ALIGN; c + 4 <= r->len; c += REC_ALIGN) {
                struct journal_record rec;

                if (get32(r->buf + c) == REC_MAGIC && record_decode(r->buf + c, r->len - c, &rec, NULL) > 0)
                        return true;
        }
        return false;
}

/*
 * At the end of what the file holds now.  Returns 0 to tell the caller "the
 * current end of the journal", 1 to go on with the next segment, 2 to try
 * this one again (it grew), or -errno.
 */
static int seg_at_end(struct journal_reader *r)
{
        uint64_t file_end;
        int newer = 0;

        if (!(r->flags & READER_NO_WRITER)) {
                newer = newer_segment_exists(r);
                if (newer < 0)
                        return newer;
                if (!newer && journal_writer_alive(r->dirfd))
                        return 0;       /* the live end: more will come */
                if (newer) {
                        /* Whatever this segment got before the next one was
                         * started is there now. */
                        int64_t n = fill(r);

                        if (n < 0)
                                return (int)n;
                        if (n > 0)
                                return 2;
                }
        }
        file_end = r->buf_off + r->len;
        if (file_end > r->end_off && r->tail_reported != r->end_off + 1) {
                r->tail_reported = r->end_off + 1;
                r->damage_from = 0;
                problem(r, JOURNAL_PROBLEM_TORN_TAIL, r->end_off, file_end - r->end_off, 0,
                        newer ? "bytes after the last record of a finished segment"
                              : "torn tail: bytes after the last complete record");
        }
        if (!newer || (r->flags & READER_ONE_SEGMENT))
                return 0;
        return 1;
}

int journal_reader_next(struct journal_reader *r, struct journal_record *rec)
{
        for (;;) {
                uint64_t off;
                int64_t d;
                int ret;

                if (!r->in_seg) {
                        if (r->flags & READER_ONE_SEGMENT)
                                return 0;
                        ret = seg_next(r);
                        if (ret <= 0)
                                return ret;
                        continue;
                }
                if (r->seg_skip) {
                        if (r->flags & READER_ONE_SEGMENT)
                                return 0;
                        ret = seg_next(r);
                        if (ret <= 0)
                                return ret;
                        continue;
                }

                off = r->buf_off + r->pos;
                d = r->pos < r->len ? record_decode(r->buf + r->pos, r->len - r->pos, rec, NULL) : -EAGAIN;
                if (d == -EAGAIN) {
                        int64_t n = fill(r);

                        if (n > 0)
                                continue;
                        if (n < 0) {
                                problem(r, JOURNAL_PROBLEM_BAD_SEGMENT, off, 0, (int)n,
                                        "read error; rest of segment skipped");
                                r->seg_skip = true;
                                continue;
                        }
                        /* Incomplete at the end of the file: a record being
                         * written, unless a valid one follows it (then its
                         * length field is damaged). */
                        if (valid_record_after(r))
                                d = -EBADMSG;
                }
                if (d == -EAGAIN) {
                        ret = seg_at_end(r);
                        if (ret == 1)
                                r->seg_skip = true;     /* go on with the next */
                        if (ret <= 0)
                                return ret;
                        continue;
                }
                if (d < 0) {
                        if (!r->damage_from)
                                r->damage_from = off;
                        ret = resync(r);
                        if (ret < 0) {
                                problem(r, JOURNAL_PROBLEM_BAD_SEGMENT, off, 0, ret,
                                        "read error; rest of segment skipped");
                                r->seg_skip = true;
                        }
                        continue;       /* decode at the new r->pos */
                }

                r->pos += (size_t)d;
                if (r->damage_from) {
                        problem(r, JOURNAL_PROBLEM_CORRUPT, r->damage_from, off - r->damage_from, 0,
                                "damaged bytes skipped");
                        r->damage_from = 0;
                }
                r->end_off = off + (uint64_t)d;
                if (r->expect_seq && rec->seq < r->expect_seq) {
                        problem(r, JOURNAL_PROBLEM_CORRUPT, off, (uint64_t)d, 0,
                                "sequence number out of order; record skipped");
                        continue;
                }
                if (r->expect_seq && rec->seq > r->expect_seq)
                        problem_gap(r, off, r->expect_seq, rec->seq - 1);
                else if (!r->expect_seq && r->want_seq > 1 && rec->seq > r->want_seq)
                        problem_gap(r, off, r->want_seq, rec->seq - 1);
                r->expect_seq = rec->seq + 1;
                r->last_seq = rec->seq;
                r->last_time_ns = rec->time_ns;
                if (rec->seq < r->want_seq)
                        continue;
                if (!journal_type_name(rec->type)) {
                        uint64_t *w = &r->unknown_types[(rec->type % 1024) / 64];
                        uint64_t bit = (uint64_t)1 << (rec->type % 64);

                        if (!(*w & bit)) {
                                *w |= bit;
                                problem(r, JOURNAL_PROBLEM_UNKNOWN_TYPE, off, (uint64_t)d, 0,
                                        "record type unknown to this version");
                        }
                }
                return 1;
        }
}

static int reader_new(int dirfd, uint64_t from_seq, unsigned flags, journal_problem_fn on_problem,
                      void *userdata, struct journal_reader **ret)
{
        struct journal_reader *r;
        int e;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->inotify_fd = -1;
        r->flags = flags;
        r->on_problem = on_problem;
        r->userdata = userdata;
        r->want_seq = from_seq ? from_seq : 1;
        r->cap = WINDOW;
        r->buf = malloc(r->cap);
        r->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (!r->buf || r->dirfd < 0) {
                e = r->buf ? -errno : -ENOMEM;
                journal_reader_free(r);
                return e;
        }
        *ret = r;
        return 0;
}

int journal_reader_open(int dirfd, uint64_t from_seq, journal_problem_fn on_problem, void *userdata,
                        struct journal_reader **ret)
{
        struct journal_reader *r;
        char path[64];
        int e;

        e = reader_new(dirfd, from_seq, 0, on_problem, userdata, &r);
        if (e < 0)
                return e;
        /* Watch before the first read: a change after it is never missed. */
        r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r->inotify_fd < 0) {
                e = -errno;
                goto fail;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", r->dirfd);
        if (inotify_add_watch(r->inotify_fd, path,
                              IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
                e = -errno;
                goto fail;
        }
        *ret = r;
        return 0;
fail:
        journal_reader_free(r);
        return e;
}

int journal_reader_wait(struct journal_reader *r, int timeout_ms)
{
        struct pollfd p = { .fd = r->inotify_fd, .events = POLLIN };
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int n, got = 0;

        if (r->inotify_fd < 0)
                return -EBADF;
        n = poll(&p, 1, timeout_ms);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        if (n == 0)
                return 0;
        while (read(r->inotify_fd, buf, sizeof(buf)) > 0)
                got = 1;
        return got;
}

int journal_reader_fd(struct journal_reader *r)
{
        return r->inotify_fd;
}

struct journal_reader *journal_reader_free(struct journal_reader *r)
{
        if (!r)
                return NULL;
        seg_file_close(r->f);
        if (r->inotify_fd >= 0)
                close(r->inotify_fd);
        if (r->dirfd >= 0)
                close(r->dirfd);
        free(r->buf);
        free(r);
        return NULL;
}

int reader_scan_tail(int dirfd, const struct journal_segment_info *seg,
                     journal_problem_fn on_problem, void *userdata, struct reader_tail *ret)
{
        struct journal_reader *r;
        struct journal_record rec;
        struct stat st;
        int e;

        e = reader_new(dirfd, 1, READER_NO_WRITER | READER_ONE_SEGMENT, on_problem, userdata, &r);
        if (e < 0)
                return e;
        e = seg_enter(r, seg);
        if (e < 0)
                goto out;
        while ((e = journal_reader_next(r, &rec)) > 0)
                ;
        if (e < 0)
                goto out;
        *ret = (struct reader_tail) {
                .have_id = r->have_id,
                .last_seq = r->last_seq,
                .last_time_ns = r->last_time_ns,
                .end = r->end_off,
                .file_bytes = r->buf_off + r->len,
        };
        memcpy(ret->id, r->id, JOURNAL_ID_SIZE);
        if (!seg->archived && fstatat(dirfd, seg->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                ret->file_bytes = (uint64_t)st.st_size;
out:
        journal_reader_free(r);
        return e;
}
