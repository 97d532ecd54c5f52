/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsx.c: a data-integrity exerciser in the spirit of fsx from xfstests.
 *
 * `fsx [options] FILE` runs a seeded, reproducible random sequence of
 * pread, pwrite, mmap reads and writes, ftruncate, fallocate (allocate,
 * keep-size, punch-hole, zero-range), copy_file_range from a second scratch
 * file (FILE.fsxsrc), SEEK_DATA/SEEK_HOLE, fsync/fdatasync and close/reopen
 * on FILE, and checks every byte it reads, and the file size, against an
 * in-memory model.  The whole file is verified every -i operations and at
 * the end.  On the first disagreement it prints the operation, the first
 * differing byte and the last LOG_DEPTH operations, writes the model to
 * FILE.fsxgood and exits 1.  Exit 0 means every check passed (FILE is left
 * in place, FILE.fsxsrc removed), 2 bad usage.  --inject-bug is the
 * self-test: it damages FILE behind the model's back, so fsx must exit 1;
 * 3 means it did not notice.
 *
 * What it does not do: O_DIRECT, several processes or threads on the file,
 * crash consistency (nothing checks what survives a power cut), or
 * FALLOC_FL_COLLAPSE_RANGE/INSERT_RANGE.  It is not a benchmark.
 *
 * Main caveat: the model only knows bytes and the size, not how the file
 * system lays them out, so SEEK_DATA/SEEK_HOLE are checked only for what
 * Linux guarantees (a file system may report any hole as data, never data
 * as a hole).  The sequence of operations depends on the seed, the options
 * and on which fallocate modes the file system refuses: a mode that fails
 * with EOPNOTSUPP is dropped for the rest of the run, which changes the
 * random draws that follow.  Replaying a seed reproduces a failure on the
 * same kind of file system, not necessarily on another.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_DEPTH       20              /* operations shown on a failure */
#define MAX_FILE_LEN    (256ULL << 20)  /* the model costs ~6 bytes per file byte */

enum {
        EXIT_PASS       = 0,
        EXIT_MISMATCH   = 1,            /* a check failed, or a syscall did */
        EXIT_USAGE      = 2,
        EXIT_SELFTEST   = 3,            /* --inject-bug went unnoticed */
};

enum op_kind {
        OP_READ,
        OP_WRITE,
        OP_MAPREAD,
        OP_MAPWRITE,
        OP_TRUNCATE,
        OP_FALLOC,
        OP_COPY,
        OP_SEEK,
        OP_FSYNC,
        OP_REOPEN,
        NR_RANDOM_OPS,
        /* Not drawn at random, but logged and counted like the others. */
        OP_SRCWRITE = NR_RANDOM_OPS,
        OP_VERIFY,
        OP_INJECT,
        OP_SKIP,
        NR_OPS,
};

/*
 * Weights of the random draw.  Reads and writes dominate, as in the
 * original fsx; fsync and reopen are rare because on a real disk (or a
 * FUSE mount) they cost far more than everything else together.
 */
static const struct {
        const char *name;
        unsigned weight;
} ops[NR_OPS] = {
        [OP_READ]       = { "read",             20 },
        [OP_WRITE]      = { "write",            20 },
        [OP_MAPREAD]    = { "mapread",          8 },
        [OP_MAPWRITE]   = { "mapwrite",         8 },
        [OP_TRUNCATE]   = { "truncate",         6 },
        [OP_FALLOC]     = { "fallocate",        12 },
        [OP_COPY]       = { "copy_file_range",  8 },
        [OP_SEEK]       = { "seek",             8 },
        [OP_FSYNC]      = { "fsync",            1 },
        [OP_REOPEN]     = { "reopen",           1 },
        [OP_SRCWRITE]   = { "srcwrite",         0 },
        [OP_VERIFY]     = { "verify",           0 },
        [OP_INJECT]     = { "inject-bug",       0 },
        [OP_SKIP]       = { "skip",             0 },
};

enum falloc_mode {
        FA_ALLOC,                       /* mode 0: may extend the size */
        FA_KEEP_SIZE,
        FA_PUNCH_HOLE,                  /* always with KEEP_SIZE, as Linux requires */
        FA_ZERO_RANGE,                  /* with or without KEEP_SIZE */
        NR_FALLOC_MODES,
};

static const char *const falloc_names[NR_FALLOC_MODES] = {
        [FA_ALLOC]      = "alloc",
        [FA_KEEP_SIZE]  = "keep-size",
        [FA_PUNCH_HOLE] = "punch-hole",
        [FA_ZERO_RANGE] = "zero-range",
};

/* One line of the ring log; what off/len/aux mean depends on kind. */
struct log_entry {
        uint64_t opnum;
        enum op_kind kind;
        int mode;               /* fallocate: enum falloc_mode (+ 0x100 for KEEP_SIZE on
                                   zero-range); fsync: 1 for fdatasync; mapwrite: 1 for
                                   MS_SYNC; seek: 1 if data/hole are valid; skip: the
                                   op skipped */
        uint64_t off, len;      /* truncate: old and new size; seek: start and hole */
        uint64_t aux;           /* copy: source offset; seek: data offset */
        uint64_t size;          /* model size when the op began */
        const char *why;        /* skip: a static string */
};

struct fsx {
        /* options */
        const char *path;
        uint64_t nops;
        uint64_t seed;
        uint64_t maxlen;        /* bytes; never more than MAX_FILE_LEN */
        uint64_t maxoplen;      /* bytes; <= maxlen */
        uint64_t interval;      /* full verification every so many ops, 0: at the end */
        uint64_t inject_at;     /* 0: no --inject-bug */
        bool quiet, verbose;
        unsigned disabled;      /* 1 << enum op_kind, by option or by the file system */
        unsigned fa_disabled;   /* 1 << enum falloc_mode */

        char *src_path, *good_path;
        int fd, srcfd;
        uint64_t pagesize;
        uint64_t rng;           /* splitmix64 state */

        /*
         * The model: maxlen bytes, and always zero at and beyond size, so
         * that extending the file needs no bookkeeping.  owner[i] is the
         * op that last set byte i (0: none), only to make reports useful.
         */
        uint8_t *model;
        uint32_t *owner;
        uint64_t size;
        uint8_t *src_model;     /* FILE.fsxsrc, which only fsx writes */
        uint32_t *src_owner;
        uint64_t src_size;

        uint8_t *buf;           /* data to write or data read; buflen + pagesize */
        uint64_t buflen;

        uint64_t opnum;         /* current op, from 1 */
        uint64_t count[NR_OPS];
        uint64_t fa_count[NR_FALLOC_MODES];
        struct log_entry log[LOG_DEPTH];
        uint64_t log_total;     /* entries ever logged; the next goes to log_total % LOG_DEPTH */
        struct timespec start;
};

/*
 * A SIGBUS while touching a mapping means the file is shorter than the
 * model says: report it like any other mismatch instead of dying.  A
 * signal handler can only reach this through globals.
 */
static sigjmp_buf map_fault_jmp;
static volatile sig_atomic_t map_fault_armed;

static void on_sigbus(int sig)
{
        if (map_fault_armed)
                siglongjmp(map_fault_jmp, 1);
        signal(sig, SIG_DFL);
        raise(sig);
}

/* memcpy() to or from a mapping; -EFAULT if that raised SIGBUS. */
static int map_copy(void *dst, const void *src, size_t len)
{
        if (sigsetjmp(map_fault_jmp, 1)) {
                map_fault_armed = 0;
                return -EFAULT;
        }
        map_fault_armed = 1;
        memcpy(dst, src, len);
        map_fault_armed = 0;
        return 0;
}

/* ---- random numbers ---- */

/*
 * splitmix64: tiny, any seed (0 included) is fine, and the sequence is the
 * same with every libc, which random() does not promise.
 */
static uint64_t rnd64(struct fsx *f)
{
        uint64_t z = (f->rng += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* Uniform enough in [0, n): n is far below 2^64, so the modulo bias is nil. */
static uint64_t rnd_below(struct fsx *f, uint64_t n)
{
        return n ? rnd64(f) % n : 0;
}

static void rnd_fill(struct fsx *f, uint8_t *p, uint64_t len)
{
        uint64_t v;

        while (len >= 8) {
                v = rnd64(f);
                memcpy(p, &v, 8);
                p += 8;
                len -= 8;
        }
        if (len) {
                v = rnd64(f);
                memcpy(p, &v, len);
        }
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
        return a > b ? a : b;
}

static double elapsed_s(const struct fsx *f)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - f->start.tv_sec) +
               (double)(now.tv_nsec - f->start.tv_nsec) / 1e9;
}

/* ---- the log and failure reports ---- */

static void format_entry(const struct log_entry *e, char *s, size_t n)
{
        const char *name = ops[e->kind].name;
        int k;

        switch (e->kind) {
        case OP_READ:
        case OP_WRITE:
        case OP_MAPREAD:
        case OP_MAPWRITE:
        case OP_SRCWRITE:
        case OP_VERIFY:
                if (e->len)
                        k = snprintf(s, n, "%s 0x%" PRIx64 " thru 0x%" PRIx64 " (0x%" PRIx64 " bytes)%s",
                                     name, e->off, e->off + e->len - 1, e->len,
                                     e->kind == OP_MAPWRITE ? (e->mode ? ", MS_SYNC" : ", MS_ASYNC") : "");
                else
                        k = snprintf(s, n, "%s of an empty file", name);
                break;
        case OP_TRUNCATE:
                k = snprintf(s, n, "truncate %s from 0x%" PRIx64 " to 0x%" PRIx64,
                             e->len >= e->off ? "up" : "down", e->off, e->len);
                break;
        case OP_FALLOC:
                k = snprintf(s, n, "fallocate %s%s 0x%" PRIx64 " thru 0x%" PRIx64 " (0x%" PRIx64 " bytes)",
                             falloc_names[e->mode & 0xff],
                             e->mode & 0x100 ? "+keep-size" : "",
                             e->off, e->off + e->len - 1, e->len);
                break;
        case OP_COPY:
                k = snprintf(s, n, "copy_file_range 0x%" PRIx64 " thru 0x%" PRIx64 " (0x%" PRIx64 " bytes) from source 0x%" PRIx64,
                             e->off, e->off + e->len - 1, e->len, e->aux);
                break;
        case OP_SEEK:
                if (e->mode)
                        k = snprintf(s, n, "seek from 0x%" PRIx64 ": data at 0x%" PRIx64 ", hole at 0x%" PRIx64,
                                     e->off, e->aux, e->len);
                else
                        k = snprintf(s, n, "seek from 0x%" PRIx64, e->off);
                break;
        case OP_FSYNC:
                k = snprintf(s, n, "%s", e->mode ? "fdatasync" : "fsync");
                break;
        case OP_REOPEN:
                k = snprintf(s, n, "close and reopen");
                break;
        case OP_INJECT:
                k = snprintf(s, n, "inject-bug: corrupt the byte at 0x%" PRIx64 " behind the model's back", e->off);
                break;
        case OP_SKIP:
                if (e->mode == OP_SKIP)
                        k = snprintf(s, n, "skip: %s", e->why);
                else
                        k = snprintf(s, n, "skip %s: %s", ops[e->mode].name, e->why);
                break;
        default:
                k = snprintf(s, n, "%s", name);
                break;
        }
        if (k >= 0 && (size_t)k < n)
                snprintf(s + k, n - k, " [size 0x%" PRIx64 "]", e->size);
}

static struct log_entry *log_op(struct fsx *f, enum op_kind kind, int mode,
                                uint64_t off, uint64_t len)
{
        struct log_entry *e = &f->log[f->log_total++ % LOG_DEPTH];

        *e = (struct log_entry) {
                .opnum = f->opnum, .kind = kind, .mode = mode,
                .off = off, .len = len, .size = f->size,
        };
        f->count[kind]++;
        return e;
}

/*
 * The op of @e did not happen after all (the file system refused it, or
 * the file is empty): count it and log it as a skip.
 */
static void log_skip(struct fsx *f, struct log_entry *e, const char *why)
{
        f->count[e->kind]--;
        f->count[OP_SKIP]++;
        e->mode = e->kind;
        e->kind = OP_SKIP;
        e->why = why;
}

static void print_entry(FILE *out, const struct log_entry *e)
{
        char line[256];

        format_entry(e, line, sizeof(line));
        fprintf(out, "%8" PRIu64 " %s\n", e->opnum, line);
}

/* Write the model to FILE.fsxgood, so that it can be compared with FILE. */
static int save_good(const struct fsx *f)
{
        uint64_t done = 0;
        ssize_t n;
        int fd, r = 0;

        fd = open(f->good_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        while (done < f->size) {
                n = write(fd, f->model + done, f->size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        break;
                }
                done += n;
        }
        if (close(fd) < 0 && r == 0)
                r = -errno;
        return r;
}

/*
 * Report a failure of the current op and exit 1.  @fmt may hold several
 * lines; the first says what went wrong.
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
fsx_fail(struct fsx *f, const char *fmt, ...)
{
        uint64_t i, first;
        va_list ap;
        int r;

        fflush(stdout);
        if (f->opnum)
                fprintf(stderr, "fsx: '%s': seed %" PRIu64 ": op #%" PRIu64 " failed: ",
                        f->path, f->seed, f->opnum);
        else
                fprintf(stderr, "fsx: '%s': seed %" PRIu64 ": setup failed: ", f->path, f->seed);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);

        first = f->log_total > LOG_DEPTH ? f->log_total - LOG_DEPTH : 0;
        fprintf(stderr, "last %" PRIu64 " operations, oldest first:\n", f->log_total - first);
        for (i = first; i < f->log_total; i++)
                print_entry(stderr, &f->log[i % LOG_DEPTH]);

        r = save_good(f);
        if (r < 0)
                fprintf(stderr, "fsx: cannot save the expected contents to '%s': %s\n",
                        f->good_path, strerror(-r));
        else
                fprintf(stderr, "expected contents (0x%" PRIx64 " bytes) saved to '%s'\n",
                        f->size, f->good_path);
        exit(EXIT_MISMATCH);
}

/* A system call failed where the model says it cannot. */
static void __attribute__((noreturn))
fail_errno(struct fsx *f, const char *call, int err)
{
        fsx_fail(f, "%s: %s", call, strerror(err));
}

static void notice(const struct fsx *f, const char *what, const char *why)
{
        if (!f->quiet)
                fprintf(stderr, "fsx: '%s': %s: %s, disabled for the rest of the run\n",
                        f->path, what, why);
}

/*
 * Compare @len bytes read at @off with @model; on a difference report the
 * first differing byte, who wrote it, and a few bytes of context.
 */
static void check_bytes(struct fsx *f, const char *which, const uint8_t *model,
                        const uint32_t *owner, uint64_t off,
                        const uint8_t *actual, uint64_t len)
{
        const uint8_t *good = model + off;
        uint64_t i, first, last = 0, ndiff = 0;
        char exp[3 * 16 + 1], got[3 * 16 + 1];

        if (memcmp(good, actual, len) == 0)
                return;
        for (first = 0; good[first] == actual[first]; first++)
                ;
        for (i = first; i < len; i++) {
                if (good[i] != actual[i]) {
                        ndiff++;
                        last = i;
                }
        }
        for (i = 0; i < 16 && first + i < len; i++) {
                snprintf(exp + 3 * i, 4, " %02x", good[first + i]);
                snprintf(got + 3 * i, 4, " %02x", actual[first + i]);
        }
        exp[3 * i] = got[3 * i] = 0;
        fsx_fail(f, "%sdata mismatch at offset 0x%" PRIx64 ": expected 0x%02x (set by op #%" PRIu32 "), got 0x%02x\n"
                 "0x%" PRIu64 " bytes differ between 0x%" PRIx64 " and 0x%" PRIx64 "\n"
                 "expected at 0x%" PRIx64 ":%s\n"
                 "actual   at 0x%" PRIx64 ":%s",
                 which, off + first, good[first], owner[off + first], actual[first],
                 ndiff, off + first, off + last,
                 off + first, exp, off + first, got);
}

/* ---- the model ---- */

static void mark(struct fsx *f, uint32_t *owner, uint64_t off, uint64_t len)
{
        uint32_t op = (uint32_t)f->opnum;
        uint64_t i;

        for (i = 0; i < len; i++)
                owner[off + i] = op;
}

/* Bytes [off, off + len) now hold @data; the file grows if they reach past EOF. */
static void model_write(struct fsx *f, uint64_t off, const uint8_t *data, uint64_t len)
{
        memcpy(f->model + off, data, len);
        mark(f, f->owner, off, len);
        f->size = max_u64(f->size, off + len);
}

static void model_zero(struct fsx *f, uint64_t off, uint64_t len)
{
        memset(f->model + off, 0, len);
        mark(f, f->owner, off, len);
}

static void model_truncate(struct fsx *f, uint64_t size)
{
        /* Keep the model zero beyond EOF: a later extension must read zeros. */
        if (size < f->size)
                model_zero(f, size, f->size - size);
        f->size = size;
}

/* Offset of the first nonzero model byte in [from, to), or @to. */
static uint64_t model_first_nonzero(const struct fsx *f, uint64_t from, uint64_t to)
{
        uint64_t w;

        while (from < to && (from & 7))
                if (f->model[from++])
                        return from - 1;
        for (; from + 8 <= to; from += 8) {
                memcpy(&w, f->model + from, 8);
                if (w)
                        break;
        }
        for (; from < to; from++)
                if (f->model[from])
                        return from;
        return to;
}

/* ---- system call helpers: a count or -errno, short transfers retried ---- */

static int64_t pread_full(int fd, uint8_t *buf, uint64_t len, uint64_t off)
{
        uint64_t done = 0;
        ssize_t n;

        while (done < len) {
                n = pread(fd, buf + done, len - done, off + done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;          /* EOF: the caller compares the count */
                done += n;
        }
        return done;
}

static int pwrite_full(int fd, const uint8_t *buf, uint64_t len, uint64_t off)
{
        uint64_t done = 0;
        ssize_t n;

        while (done < len) {
                n = pwrite(fd, buf + done, len - done, off + done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;    /* no progress: would loop forever */
                done += n;
        }
        return 0;
}

static int64_t seek(int fd, uint64_t off, int whence)
{
        off_t r = lseek(fd, off, whence);

        return r < 0 ? -errno : r;
}

static void check_size(struct fsx *f)
{
        struct stat st;

        if (fstat(f->fd, &st) < 0)
                fail_errno(f, "fstat", errno);
        if ((uint64_t)st.st_size != f->size)
                fsx_fail(f, "file size is 0x%" PRIx64 ", expected 0x%" PRIx64,
                         (uint64_t)st.st_size, f->size);
}

/* ---- picking ranges ---- */

/*
 * A random range with *ret_off < off_limit (0 if off_limit is 0) and
 * *ret_off + *ret_len <= end_limit, 1 <= *ret_len <= maxoplen.  A quarter
 * of the ranges are page aligned and an eighth start within half a page of
 * @eof: block and page boundaries and EOF are where partial-block zeroing
 * in truncate, punch and zero-range goes wrong.
 */
static void pick_range(struct fsx *f, uint64_t eof, uint64_t off_limit,
                       uint64_t end_limit, uint64_t *ret_off, uint64_t *ret_len)
{
        uint64_t off, len, ps = f->pagesize;

        off = rnd_below(f, off_limit);
        len = 1 + rnd_below(f, f->maxoplen);
        switch (rnd_below(f, 8)) {
        case 0:
        case 1:
                off &= ~(ps - 1);
                len = (len + ps - 1) & ~(ps - 1);
                break;
        case 2:
                off = eof - min_u64(eof, ps / 2) + rnd_below(f, ps);
                if (off >= off_limit)
                        off = off_limit ? off_limit - 1 : 0;
                break;
        default:
                break;
        }
        len = min_u64(len, f->maxoplen);
        if (off + len > end_limit)
                len = end_limit - off;
        *ret_off = off;
        *ret_len = len;
}

/* ---- operations ---- */

static void op_read(struct fsx *f)
{
        uint64_t off, len, expect;
        int64_t n;

        /* Mostly within the file, sometimes past EOF, which must read nothing. */
        if (f->size == 0 || rnd_below(f, 8) == 0)
                pick_range(f, f->size, f->maxlen, f->maxlen, &off, &len);
        else
                pick_range(f, f->size, f->size, f->maxlen, &off, &len);
        log_op(f, OP_READ, 0, off, len);

        n = pread_full(f->fd, f->buf, len, off);
        if (n < 0)
                fail_errno(f, "pread", -n);
        expect = off < f->size ? min_u64(len, f->size - off) : 0;
        if ((uint64_t)n != expect)
                fsx_fail(f, "pread returned 0x%" PRIx64 " bytes, expected 0x%" PRIx64
                         " (file size 0x%" PRIx64 ")", (uint64_t)n, expect, f->size);
        check_bytes(f, "", f->model, f->owner, off, f->buf, n);
}

static void op_write(struct fsx *f)
{
        uint64_t off, len;
        int r;

        pick_range(f, f->size, f->maxlen, f->maxlen, &off, &len);
        log_op(f, OP_WRITE, 0, off, len);
        rnd_fill(f, f->buf, len);
        r = pwrite_full(f->fd, f->buf, len, off);
        if (r < 0)
                fail_errno(f, "pwrite", -r);
        model_write(f, off, f->buf, len);
        check_size(f);
}

/*
 * Map [map_off, map_off + map_len) of FILE for the op logged in @e.
 * mmap() failing with ENODEV means the file system does not do shared
 * mappings (a FUSE mount with direct_io, say): a skip, not a failure.
 */
static uint8_t *map_range(struct fsx *f, struct log_entry *e, int prot,
                          uint64_t map_off, uint64_t map_len)
{
        void *p = mmap(NULL, map_len, prot, MAP_SHARED, f->fd, map_off);

        if (p != MAP_FAILED)
                return p;
        if (errno != ENODEV)
                fail_errno(f, "mmap", errno);
        f->disabled |= 1u << OP_MAPREAD | 1u << OP_MAPWRITE;
        notice(f, "mmap", strerror(errno));
        log_skip(f, e, "not supported");
        return NULL;
}

/* A mapping must not reach past EOF: nothing to map in an empty file. */
static bool skip_if_empty(struct fsx *f, enum op_kind kind)
{
        if (f->size)
                return false;
        log_skip(f, log_op(f, kind, 0, 0, 0), "the file is empty");
        return true;
}

static void op_mapread(struct fsx *f)
{
        uint64_t off, len, map_off, map_len, tail = 0, i;
        struct log_entry *e;
        uint8_t *p;

        if (skip_if_empty(f, OP_MAPREAD))
                return;
        pick_range(f, f->size, f->size, f->size, &off, &len);
        e = log_op(f, OP_MAPREAD, 0, off, len);
        map_off = off & ~(f->pagesize - 1);
        map_len = off + len - map_off;
        /*
         * When the range reaches EOF, also read the rest of the last page:
         * mmap(2) promises zeros there, and stale bytes left beyond EOF by
         * a truncate down would show up here before anywhere else.
         */
        if (off + len == f->size)
                tail = ((map_len + f->pagesize - 1) & ~(f->pagesize - 1)) - map_len;
        p = map_range(f, e, PROT_READ, map_off, map_len + tail);
        if (!p)
                return;
        if (map_copy(f->buf, p + (off - map_off), len + tail) < 0)
                fsx_fail(f, "SIGBUS reading the mapping at 0x%" PRIx64 " thru 0x%" PRIx64
                         ": the file is shorter than the 0x%" PRIx64 " bytes expected",
                         off, off + len + tail - 1, f->size);
        if (munmap(p, map_len + tail) < 0)
                fail_errno(f, "munmap", errno);
        check_bytes(f, "", f->model, f->owner, off, f->buf, len);
        for (i = 0; i < tail; i++)
                if (f->buf[len + i])
                        fsx_fail(f, "byte 0x%" PRIx64 " of the last page is 0x%02x, beyond EOF at 0x%"
                                 PRIx64 ", where a mapping must read zeros",
                                 f->size + i, f->buf[len + i], f->size);
}

static void op_mapwrite(struct fsx *f)
{
        uint64_t off, len, map_off, map_len;
        struct log_entry *e;
        uint8_t *p;

        if (skip_if_empty(f, OP_MAPWRITE))
                return;
        pick_range(f, f->size, f->size, f->size, &off, &len);
        e = log_op(f, OP_MAPWRITE, rnd_below(f, 2), off, len);
        map_off = off & ~(f->pagesize - 1);
        map_len = off + len - map_off;
        p = map_range(f, e, PROT_READ | PROT_WRITE, map_off, map_len);
        if (!p)
                return;
        rnd_fill(f, f->buf, len);
        if (map_copy(p + (off - map_off), f->buf, len) < 0)
                fsx_fail(f, "SIGBUS writing the mapping at 0x%" PRIx64 " thru 0x%" PRIx64
                         ": the file is shorter than the 0x%" PRIx64 " bytes expected",
                         off, off + len - 1, f->size);
        /*
         * MS_SYNC pushes the pages through the file system's writeback now;
         * with MS_ASYNC (a no-op on Linux) they stay dirty and get written
         * back later, in between the truncates and punches that follow,
         * which tests something else.  Half and half: MS_SYNC on a disk
         * costs more than all the other operations together.
         */
        if (msync(p, map_len, e->mode ? MS_SYNC : MS_ASYNC) < 0)
                fail_errno(f, "msync", errno);
        if (munmap(p, map_len) < 0)
                fail_errno(f, "munmap", errno);
        model_write(f, off, f->buf, len);
}

static void op_truncate(struct fsx *f)
{
        uint64_t size = rnd_below(f, f->maxlen + 1);

        if (rnd_below(f, 4) == 0)
                size &= ~(f->pagesize - 1);
        log_op(f, OP_TRUNCATE, 0, f->size, size);
        if (ftruncate(f->fd, size) < 0)
                fail_errno(f, "ftruncate", errno);
        model_truncate(f, size);
        check_size(f);
}

static void op_falloc(struct fsx *f)
{
        static const int flags[NR_FALLOC_MODES] = {
                [FA_ALLOC]      = 0,
                [FA_KEEP_SIZE]  = FALLOC_FL_KEEP_SIZE,
                [FA_PUNCH_HOLE] = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                [FA_ZERO_RANGE] = FALLOC_FL_ZERO_RANGE,
        };
        struct log_entry *e;
        uint64_t off, len, end;
        enum falloc_mode mode;
        char what[64];
        bool keep;
        int fl;

        /* pick_op() only picks this op while some mode is left. */
        do
                mode = rnd_below(f, NR_FALLOC_MODES);
        while (f->fa_disabled & 1u << mode);
        fl = flags[mode];
        keep = fl & FALLOC_FL_KEEP_SIZE;
        if (mode == FA_ZERO_RANGE && rnd_below(f, 2)) {
                fl |= FALLOC_FL_KEEP_SIZE;
                keep = true;
        }
        pick_range(f, f->size, f->maxlen, f->maxlen, &off, &len);
        end = off + len;
        e = log_op(f, OP_FALLOC, mode | (mode == FA_ZERO_RANGE && keep ? 0x100 : 0), off, len);

        if (fallocate(f->fd, fl, off, len) < 0) {
                int err = errno;

                if (err != EOPNOTSUPP && err != ENOSYS)
                        fail_errno(f, "fallocate", err);
                /* Not a failure: the file system is allowed to refuse a mode. */
                f->fa_disabled |= 1u << mode;
                if (f->fa_disabled == (1u << NR_FALLOC_MODES) - 1)
                        f->disabled |= 1u << OP_FALLOC;
                snprintf(what, sizeof(what), "fallocate %s", falloc_names[mode]);
                notice(f, what, strerror(err));
                log_skip(f, e, "not supported");
                return;
        }
        f->fa_count[mode]++;
        switch (mode) {
        case FA_ALLOC:
                /* Allocated blocks past the old EOF read as zeros, as the model does. */
                f->size = max_u64(f->size, end);
                break;
        case FA_KEEP_SIZE:
                break;
        case FA_PUNCH_HOLE:
                if (off < f->size)
                        model_zero(f, off, min_u64(end, f->size) - off);
                break;
        case FA_ZERO_RANGE:
                if (!keep) {
                        model_zero(f, off, len);
                        f->size = max_u64(f->size, end);
                } else if (off < f->size) {
                        model_zero(f, off, min_u64(end, f->size) - off);
                }
                break;
        default:
                break;
        }
        check_size(f);
}

/* Overwrite part of FILE.fsxsrc, so that copies do not always see the same bytes. */
static void src_write(struct fsx *f)
{
        uint64_t off, len;
        int r;

        pick_range(f, f->src_size, f->maxlen, f->maxlen, &off, &len);
        log_op(f, OP_SRCWRITE, 0, off, len);
        rnd_fill(f, f->buf, len);
        r = pwrite_full(f->srcfd, f->buf, len, off);
        if (r < 0)
                fail_errno(f, "pwrite to the copy source", -r);
        memcpy(f->src_model + off, f->buf, len);
        mark(f, f->src_owner, off, len);
        f->src_size = max_u64(f->src_size, off + len);
}

static void op_copy(struct fsx *f)
{
        uint64_t src_off, off, len, unused, done = 0;
        struct log_entry *e;
        loff_t in, out;
        ssize_t n;

        if (rnd_below(f, 4) == 0)
                src_write(f);
        pick_range(f, f->src_size, f->src_size, f->src_size, &src_off, &len);
        pick_range(f, f->size, f->maxlen, f->maxlen, &off, &unused);
        len = min_u64(len, f->maxlen - off);
        e = log_op(f, OP_COPY, 0, off, len);
        e->aux = src_off;

        in = src_off;
        out = off;
        while (done < len) {
                n = copy_file_range(f->srcfd, &in, f->fd, &out, len - done, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && done == 0 &&
                    (errno == EOPNOTSUPP || errno == ENOSYS || errno == EXDEV)) {
                        f->disabled |= 1u << OP_COPY;
                        notice(f, "copy_file_range", strerror(errno));
                        log_skip(f, e, "not supported");
                        return;
                }
                if (n < 0)
                        fail_errno(f, "copy_file_range", errno);
                if (n == 0)
                        fsx_fail(f, "copy_file_range returned 0 with 0x%" PRIx64
                                 " bytes left: the source is shorter than 0x%" PRIx64,
                                 len - done, f->src_size);
                done += n;
        }
        memcpy(f->model + off, f->src_model + src_off, len);
        mark(f, f->owner, off, len);
        f->size = max_u64(f->size, off + len);
        check_size(f);
}

/*
 * SEEK_DATA and SEEK_HOLE.  A file system may report any hole as data:
 * the generic code calls the whole file data, tmpfs a page that was only
 * partly punched, and ext4 its unwritten (fallocated) extents at times,
 * for instance all of them once the file has been written through a
 * mapping.  So the only checks are the ones Linux promises:
 *   - from at or past EOF, both fail with ENXIO;
 *   - SEEK_DATA returns d with pos <= d < size, and [pos, d) is all zeros;
 *     ENXIO only if [pos, size) is all zeros;
 *   - SEEK_HOLE returns h with pos <= h <= size, and if h < size the
 *     byte at h and [h, SEEK_DATA(h)) are all zeros (up to size if
 *     SEEK_DATA(h) fails with ENXIO).
 */
static void op_seek(struct fsx *f)
{
        uint64_t pos, nz, end;
        int64_t data, hole, next;
        struct log_entry *e;

        if (f->size == 0 || rnd_below(f, 16) == 0)
                pos = f->size + rnd_below(f, f->pagesize);
        else
                pos = rnd_below(f, f->size);
        e = log_op(f, OP_SEEK, 0, pos, 0);

        data = seek(f->fd, pos, SEEK_DATA);
        if (data == -EINVAL && f->count[OP_SEEK] == 1) {
                /* The first seek tells whether the file system knows SEEK_DATA at all. */
                f->disabled |= 1u << OP_SEEK;
                notice(f, "SEEK_DATA", strerror(EINVAL));
                log_skip(f, e, "not supported");
                return;
        }
        hole = seek(f->fd, pos, SEEK_HOLE);
        if (pos >= f->size) {
                if (data != -ENXIO || hole != -ENXIO)
                        fsx_fail(f, "SEEK_DATA and SEEK_HOLE from 0x%" PRIx64 ", at or past EOF at 0x%"
                                 PRIx64 ", returned %" PRId64 " and %" PRId64 ", expected ENXIO (%d)",
                                 pos, f->size, data, hole, -ENXIO);
                return;
        }
        if (data < 0 && data != -ENXIO)
                fail_errno(f, "lseek SEEK_DATA", -data);
        if (hole < 0)
                fail_errno(f, "lseek SEEK_HOLE", -hole);
        e->mode = 1;
        e->aux = data < 0 ? f->size : (uint64_t)data;
        e->len = hole;

        if (data == -ENXIO) {
                nz = model_first_nonzero(f, pos, f->size);
                if (nz < f->size)
                        fsx_fail(f, "SEEK_DATA from 0x%" PRIx64 " found no data, but the byte at 0x%"
                                 PRIx64 " is 0x%02x (set by op #%" PRIu32 ")",
                                 pos, nz, f->model[nz], f->owner[nz]);
        } else {
                if ((uint64_t)data < pos || (uint64_t)data >= f->size)
                        fsx_fail(f, "SEEK_DATA from 0x%" PRIx64 " returned 0x%" PRIx64
                                 ", outside [0x%" PRIx64 ", EOF at 0x%" PRIx64 ")",
                                 pos, data, pos, f->size);
                nz = model_first_nonzero(f, pos, data);
                if (nz < (uint64_t)data)
                        fsx_fail(f, "SEEK_DATA from 0x%" PRIx64 " returned 0x%" PRIx64
                                 ", skipping the byte at 0x%" PRIx64 ", which is 0x%02x (set by op #%" PRIu32 ")",
                                 pos, data, nz, f->model[nz], f->owner[nz]);
        }

        if ((uint64_t)hole < pos || (uint64_t)hole > f->size)
                fsx_fail(f, "SEEK_HOLE from 0x%" PRIx64 " returned 0x%" PRIx64
                         ", outside [0x%" PRIx64 ", EOF at 0x%" PRIx64 "]",
                         pos, hole, pos, f->size);
        if ((uint64_t)hole == f->size)
                return;
        next = seek(f->fd, hole, SEEK_DATA);
        if (next < 0 && next != -ENXIO)
                fail_errno(f, "lseek SEEK_DATA", -next);
        end = next < 0 ? f->size : (uint64_t)next;
        if (end > f->size)
                fsx_fail(f, "SEEK_DATA from 0x%" PRIx64 " returned 0x%" PRIx64
                         ", past EOF at 0x%" PRIx64, (uint64_t)hole, end, f->size);
        /*
         * A hole reads as zeros, so the byte at the hole is zero even if
         * SEEK_DATA from there (inconsistently) says data starts at once.
         */
        end = max_u64(end, hole + 1);
        nz = model_first_nonzero(f, hole, end);
        if (nz < end)
                fsx_fail(f, "SEEK_HOLE from 0x%" PRIx64 " returned 0x%" PRIx64 " and SEEK_DATA from there %s0x%"
                         PRIx64 ", but the byte at 0x%" PRIx64 " in that hole is 0x%02x (set by op #%" PRIu32 ")",
                         pos, hole, next < 0 ? "ENXIO, EOF at " : "", next < 0 ? f->size : (uint64_t)next,
                         nz, f->model[nz], f->owner[nz]);
}

static void op_fsync(struct fsx *f)
{
        int datasync = rnd_below(f, 2);

        log_op(f, OP_FSYNC, datasync, 0, 0);
        if ((datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
                fail_errno(f, datasync ? "fdatasync" : "fsync", errno);
}

static int open_file(const char *path, int flags)
{
        int fd = open(path, O_RDWR | O_CLOEXEC | flags, 0644);

        return fd < 0 ? -errno : fd;
}

static void op_reopen(struct fsx *f)
{
        int fd;

        log_op(f, OP_REOPEN, 0, 0, 0);
        /* close() is where some file systems report write-back errors. */
        if (close(f->fd) < 0) {
                f->fd = -1;
                fail_errno(f, "close", errno);
        }
        fd = open_file(f->path, 0);
        if (fd < 0)
                fail_errno(f, "open", -fd);
        f->fd = fd;
        check_size(f);
}

/* Read the whole of @fd back in buflen pieces and compare with the model. */
static void verify_file(struct fsx *f, int fd, const char *which, const uint8_t *model,
                        const uint32_t *owner, uint64_t size)
{
        uint64_t off, len;
        struct stat st;
        int64_t n;

        if (fstat(fd, &st) < 0)
                fail_errno(f, "fstat", errno);
        if ((uint64_t)st.st_size != size)
                fsx_fail(f, "%sfile size is 0x%" PRIx64 ", expected 0x%" PRIx64,
                         which, (uint64_t)st.st_size, size);
        for (off = 0; off < size; off += len) {
                len = min_u64(f->buflen, size - off);
                n = pread_full(fd, f->buf, len, off);
                if (n < 0)
                        fail_errno(f, "pread", -n);
                if ((uint64_t)n != len)
                        fsx_fail(f, "%sshort read: 0x%" PRIx64 " bytes at 0x%" PRIx64
                                 ", expected 0x%" PRIx64 " (file size 0x%" PRIx64 ")",
                                 which, (uint64_t)n, off, len, size);
                check_bytes(f, which, model, owner, off, f->buf, len);
        }
        n = pread_full(fd, f->buf, 1, size);
        if (n != 0)
                fsx_fail(f, "%sread at EOF (0x%" PRIx64 ") returned %" PRId64 ", expected 0",
                         which, size, n);
}

static void verify_all(struct fsx *f)
{
        log_op(f, OP_VERIFY, 0, 0, f->size);
        verify_file(f, f->fd, "", f->model, f->owner, f->size);
        verify_file(f, f->srcfd, "copy source: ", f->src_model, f->src_owner, f->src_size);
}

/*
 * --inject-bug: flip one byte of FILE through a descriptor of its own,
 * made durable so that it is on disk, not just in the page cache, and
 * leave the model alone.  An empty file gets one byte appended instead, so
 * that there is always something to find.  The caller verifies at once so
 * that no later write can paper over the damage.
 */
static void inject_bug(struct fsx *f)
{
        uint64_t off = f->size ? rnd_below(f, f->size) : 0;
        uint8_t b = 0;
        int fd, r;

        log_op(f, OP_INJECT, 0, off, 1);
        fd = open_file(f->path, 0);
        if (fd < 0)
                fail_errno(f, "open for --inject-bug", -fd);
        if (f->size && pread_full(fd, &b, 1, off) != 1)
                fail_errno(f, "pread for --inject-bug", EIO);
        b ^= 0xa5;
        r = pwrite_full(fd, &b, 1, off);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0)
                fail_errno(f, "pwrite for --inject-bug", -r);
        if (close(fd) < 0)
                fail_errno(f, "close for --inject-bug", errno);
}

static enum op_kind pick_op(struct fsx *f)
{
        unsigned total = 0, k;
        uint64_t x;

        for (k = 0; k < NR_RANDOM_OPS; k++)
                if (!(f->disabled & 1u << k))
                        total += ops[k].weight;
        if (!total)
                return OP_SKIP;         /* the file system refused everything left */
        x = rnd_below(f, total);
        for (k = 0; k < NR_RANDOM_OPS; k++) {
                if (f->disabled & 1u << k)
                        continue;
                if (x < ops[k].weight)
                        break;
                x -= ops[k].weight;
        }
        return k;
}

static void run_op(struct fsx *f, enum op_kind kind)
{
        switch (kind) {
        case OP_READ:           op_read(f); break;
        case OP_WRITE:          op_write(f); break;
        case OP_MAPREAD:        op_mapread(f); break;
        case OP_MAPWRITE:       op_mapwrite(f); break;
        case OP_TRUNCATE:       op_truncate(f); break;
        case OP_FALLOC:         op_falloc(f); break;
        case OP_COPY:           op_copy(f); break;
        case OP_SEEK:           op_seek(f); break;
        case OP_FSYNC:          op_fsync(f); break;
        case OP_REOPEN:         op_reopen(f); break;
        default:
                log_skip(f, log_op(f, OP_SKIP, 0, 0, 0), "every operation left is disabled");
                break;
        }
}

/* ---- setup ---- */

/*
 * FILE starts empty.  FILE.fsxsrc gets maxlen bytes, about half of them
 * random data in a few extents and the rest holes, so that copies move
 * both data and zeros.
 */
static int setup_files(struct fsx *f)
{
        int fd, i;

        fd = open_file(f->path, O_CREAT | O_TRUNC);
        if (fd < 0) {
                fprintf(stderr, "fsx: cannot create '%s': %s\n", f->path, strerror(-fd));
                return fd;
        }
        f->fd = fd;
        fd = open_file(f->src_path, O_CREAT | O_TRUNC);
        if (fd < 0) {
                fprintf(stderr, "fsx: cannot create '%s': %s\n", f->src_path, strerror(-fd));
                return fd;
        }
        f->srcfd = fd;
        /* From here on a failure is the file system's: report it in full. */
        if (ftruncate(f->srcfd, f->maxlen) < 0)
                fail_errno(f, "ftruncate the copy source", errno);
        f->src_size = f->maxlen;
        for (i = 0; i < 8; i++)
                src_write(f);
        /* The setup writes are not operations of the run. */
        f->count[OP_SRCWRITE] = 0;
        return 0;
}

static void print_summary(struct fsx *f)
{
        char line[1024];
        size_t n = 0;
        unsigned k;

        for (k = 0; k < NR_OPS; k++) {
                if (k == OP_SRCWRITE || (!f->count[k] && (k == OP_SKIP || k == OP_INJECT)))
                        continue;
                n += snprintf(line + n, sizeof(line) - n, "%s%s %" PRIu64,
                              n ? ", " : "", ops[k].name, f->count[k]);
                if (k == OP_FALLOC && f->count[k]) {
                        unsigned m;

                        n += snprintf(line + n, sizeof(line) - n, " (");
                        for (m = 0; m < NR_FALLOC_MODES; m++)
                                n += snprintf(line + n, sizeof(line) - n, "%s%s %" PRIu64,
                                              m ? ", " : "", falloc_names[m], f->fa_count[m]);
                        n += snprintf(line + n, sizeof(line) - n, ")");
                }
                if (n >= sizeof(line))
                        break;
        }
        printf("fsx: '%s': seed %" PRIu64 ": %" PRIu64 " ops passed in %.2f s: %s\n",
               f->path, f->seed, f->nops, elapsed_s(f), line);
}

/* ---- command line ---- */

static void usage(FILE *out)
{
        fprintf(out,
"usage: fsx [options] FILE\n"
"Run a seeded random sequence of operations on FILE and check every read,\n"
"and the size, against a model of its contents.  FILE is truncated first;\n"
"FILE.fsxsrc is the copy_file_range source, removed after a passing run.\n"
"On a mismatch the expected contents are saved to FILE.fsxgood.\n"
"\n"
"  -N, --ops=N             operations to run (default 10000)\n"
"  -S, --seed=N            random seed (default 1)\n"
"  -l, --max-len=SIZE      maximum file size (default 256K, at most 256M)\n"
"  -o, --max-op-len=SIZE   maximum length of one operation (default 64K)\n"
"  -i, --verify-every=N    verify the whole file every N operations\n"
"                          (default 100; 0: only at the end)\n"
"  -q, --quiet             no summary and no notices\n"
"  -v, --verbose           log every operation on stdout\n"
"  -h, --help              show this help\n"
"Operations, all on by default:\n"
"  -R, --no-mapread        no mmap reads\n"
"  -W, --no-mapwrite       no mmap writes\n"
"  -F, --no-fallocate      no fallocate at all\n"
"  -C, --no-copy           no copy_file_range\n"
"  -H, --no-seek           no SEEK_DATA/SEEK_HOLE checks\n"
"  -T, --no-truncate       no ftruncate\n"
"      --no-read, --no-write, --no-fsync, --no-reopen\n"
"      --no-alloc, --no-keep-size, --no-punch-hole, --no-zero-range\n"
"                          single fallocate modes\n"
"Self-test:\n"
"      --inject-bug[=N]    at op N (default: half way) corrupt one byte of FILE\n"
"                          behind the model's back; fsx must report it, exit 1\n"
"\n"
"SIZE takes a K, M or G suffix (powers of 1024).  A fallocate mode, mmap or\n"
"copy_file_range that the file system does not support is disabled with a\n"
"notice.  Exit status: 0 all checks passed, 1 a check or a system call\n"
"failed, 2 bad usage, 3 --inject-bug was not detected.\n");
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("fsx: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see fsx -h)\n", stderr);
        exit(EXIT_USAGE);
}

/*
 * A decimal number, with a K/M/G suffix if @units, in [min, max].
 * strtoull() accepts leading blanks, '+' and even '-' (negating): refuse
 * anything but a digit first, and anything left over but the suffix.
 */
static int parse_number(const char *s, bool units, uint64_t min, uint64_t max, uint64_t *ret)
{
        unsigned long long v;
        uint64_t mult = 1;
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -errno;
        if (units && *end && !end[1]) {
                switch (*end) {
                case 'k': case 'K': mult = 1ULL << 10; end++; break;
                case 'm': case 'M': mult = 1ULL << 20; end++; break;
                case 'g': case 'G': mult = 1ULL << 30; end++; break;
                default: break;
                }
        }
        if (*end)
                return -EINVAL;
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        v *= mult;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static uint64_t option_number(const char *opt, const char *arg, bool units,
                              uint64_t min, uint64_t max)
{
        uint64_t v = 0;

        if (parse_number(arg, units, min, max, &v) < 0)
                usage_error("invalid value '%s' for %s: expected %s from %" PRIu64 " to %" PRIu64,
                            arg, opt, units ? "a size (K, M or G suffix allowed)" : "a decimal number",
                            min, max);
        return v;
}

enum {
        OPT_NO_READ = 0x100,
        OPT_NO_WRITE,
        OPT_NO_FSYNC,
        OPT_NO_REOPEN,
        OPT_NO_ALLOC,
        OPT_NO_KEEP_SIZE,
        OPT_NO_PUNCH_HOLE,
        OPT_NO_ZERO_RANGE,
        OPT_INJECT_BUG,
};

static void parse_options(struct fsx *f, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "ops",                required_argument, NULL, 'N' },
                { "seed",               required_argument, NULL, 'S' },
                { "max-len",            required_argument, NULL, 'l' },
                { "max-op-len",         required_argument, NULL, 'o' },
                { "verify-every",       required_argument, NULL, 'i' },
                { "quiet",              no_argument,       NULL, 'q' },
                { "verbose",            no_argument,       NULL, 'v' },
                { "help",               no_argument,       NULL, 'h' },
                { "no-mapread",         no_argument,       NULL, 'R' },
                { "no-mapwrite",        no_argument,       NULL, 'W' },
                { "no-fallocate",       no_argument,       NULL, 'F' },
                { "no-copy",            no_argument,       NULL, 'C' },
                { "no-seek",            no_argument,       NULL, 'H' },
                { "no-truncate",        no_argument,       NULL, 'T' },
                { "no-read",            no_argument,       NULL, OPT_NO_READ },
                { "no-write",           no_argument,       NULL, OPT_NO_WRITE },
                { "no-fsync",           no_argument,       NULL, OPT_NO_FSYNC },
                { "no-reopen",          no_argument,       NULL, OPT_NO_REOPEN },
                { "no-alloc",           no_argument,       NULL, OPT_NO_ALLOC },
                { "no-keep-size",       no_argument,       NULL, OPT_NO_KEEP_SIZE },
                { "no-punch-hole",      no_argument,       NULL, OPT_NO_PUNCH_HOLE },
                { "no-zero-range",      no_argument,       NULL, OPT_NO_ZERO_RANGE },
                { "inject-bug",         optional_argument, NULL, OPT_INJECT_BUG },
                { NULL, 0, NULL, 0 },
        };
        bool inject = false, oplen_set = false;
        const char *inject_arg = NULL;
        unsigned k;
        int c;

        opterr = 0;             /* one line of our own instead of getopt's */
        while ((c = getopt_long(argc, argv, ":N:S:l:o:i:qvhRWFCHT", longopts, NULL)) != -1) {
                switch (c) {
                case 'N':
                        f->nops = option_number("-N", optarg, false, 0, UINT32_MAX - 1);
                        break;
                case 'S':
                        f->seed = option_number("-S", optarg, false, 0, UINT64_MAX);
                        break;
                case 'l':
                        f->maxlen = option_number("-l", optarg, true, 1, MAX_FILE_LEN);
                        break;
                case 'o':
                        f->maxoplen = option_number("-o", optarg, true, 1, MAX_FILE_LEN);
                        oplen_set = true;
                        break;
                case 'i':
                        f->interval = option_number("-i", optarg, false, 0, UINT64_MAX);
                        break;
                case 'q': f->quiet = true; break;
                case 'v': f->verbose = true; break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_PASS);
                case 'R': f->disabled |= 1u << OP_MAPREAD; break;
                case 'W': f->disabled |= 1u << OP_MAPWRITE; break;
                case 'F': f->disabled |= 1u << OP_FALLOC; break;
                case 'C': f->disabled |= 1u << OP_COPY; break;
                case 'H': f->disabled |= 1u << OP_SEEK; break;
                case 'T': f->disabled |= 1u << OP_TRUNCATE; break;
                case OPT_NO_READ: f->disabled |= 1u << OP_READ; break;
                case OPT_NO_WRITE: f->disabled |= 1u << OP_WRITE; break;
                case OPT_NO_FSYNC: f->disabled |= 1u << OP_FSYNC; break;
                case OPT_NO_REOPEN: f->disabled |= 1u << OP_REOPEN; break;
                case OPT_NO_ALLOC: f->fa_disabled |= 1u << FA_ALLOC; break;
                case OPT_NO_KEEP_SIZE: f->fa_disabled |= 1u << FA_KEEP_SIZE; break;
                case OPT_NO_PUNCH_HOLE: f->fa_disabled |= 1u << FA_PUNCH_HOLE; break;
                case OPT_NO_ZERO_RANGE: f->fa_disabled |= 1u << FA_ZERO_RANGE; break;
                case OPT_INJECT_BUG:
                        inject = true;
                        inject_arg = optarg;
                        break;
                case ':':
                        usage_error("option '%s' needs a value", argv[optind - 1]);
                case '?':
                default:
                        /* optopt names a short option; a long one is only in argv. */
                        if (strncmp(argv[optind - 1], "--", 2) == 0)
                                usage_error("unknown option, or a value it does not take: '%s'",
                                            argv[optind - 1]);
                        usage_error("unknown option '-%c'", optopt);
                }
        }
        if (optind >= argc)
                usage_error("no FILE given");
        if (optind + 1 < argc)
                usage_error("one FILE only, got '%s' too", argv[optind + 1]);
        f->path = argv[optind];
        if (!*f->path)
                usage_error("FILE is empty");

        if (f->maxoplen > f->maxlen) {
                if (oplen_set)
                        usage_error("-o %" PRIu64 " is larger than -l %" PRIu64, f->maxoplen, f->maxlen);
                f->maxoplen = f->maxlen;        /* only the default: follow -l */
        }
        if (f->fa_disabled == (1u << NR_FALLOC_MODES) - 1)
                f->disabled |= 1u << OP_FALLOC;
        for (k = 0; k < NR_RANDOM_OPS; k++)
                if (!(f->disabled & 1u << k))
                        break;
        if (k == NR_RANDOM_OPS)
                usage_error("every operation is disabled");
        if (inject) {
                if (!f->nops)
                        usage_error("--inject-bug needs at least one operation (-N)");
                f->inject_at = inject_arg ?
                        option_number("--inject-bug", inject_arg, false, 1, f->nops) :
                        f->nops / 2 + 1;
        }
}

static char *path_with_suffix(const char *path, const char *suffix)
{
        size_t n = strlen(path), m = strlen(suffix);
        char *s = malloc(n + m + 1);

        if (s) {
                memcpy(s, path, n);
                memcpy(s + n, suffix, m + 1);
        }
        return s;
}

int main(int argc, char **argv)
{
        struct fsx fsx = {
                .nops = 10000,
                .seed = 1,
                .maxlen = 256 << 10,
                .maxoplen = 64 << 10,
                .interval = 100,
                .fd = -1,
                .srcfd = -1,
        };
        struct fsx *f = &fsx;
        struct sigaction sa = { .sa_handler = on_sigbus };
        long ps;

        parse_options(f, argc, argv);
        ps = sysconf(_SC_PAGESIZE);
        f->pagesize = ps > 0 ? (uint64_t)ps : 4096;
        f->rng = f->seed;
        /* A full verification reads in pieces of at least 64K, for speed. */
        f->buflen = min_u64(f->maxlen, max_u64(f->maxoplen, 64 << 10));

        f->src_path = path_with_suffix(f->path, ".fsxsrc");
        f->good_path = path_with_suffix(f->path, ".fsxgood");
        f->model = calloc(f->maxlen, 1);
        f->owner = calloc(f->maxlen, sizeof(*f->owner));
        f->src_model = calloc(f->maxlen, 1);
        f->src_owner = calloc(f->maxlen, sizeof(*f->src_owner));
        f->buf = malloc(f->buflen + f->pagesize);      /* + the EOF page of a mapread */
        if (!f->src_path || !f->good_path || !f->model || !f->owner ||
            !f->src_model || !f->src_owner || !f->buf) {
                fprintf(stderr, "fsx: out of memory for a model of %" PRIu64 " bytes\n", f->maxlen);
                return EXIT_MISMATCH;
        }
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, NULL) < 0) {
                fprintf(stderr, "fsx: sigaction: %s\n", strerror(errno));
                return EXIT_MISMATCH;
        }
        clock_gettime(CLOCK_MONOTONIC, &f->start);

        if (setup_files(f) < 0)
                return EXIT_MISMATCH;
        for (f->opnum = 1; f->opnum <= f->nops; f->opnum++) {
                uint64_t first = f->log_total, i;

                if (f->opnum == f->inject_at) {
                        inject_bug(f);
                        verify_all(f);
                        fprintf(stderr, "fsx: '%s': seed %" PRIu64 ": self-test failed: the byte corrupted at op #%"
                                PRIu64 " went unnoticed\n", f->path, f->seed, f->opnum);
                        return EXIT_SELFTEST;
                }
                run_op(f, pick_op(f));
                if (f->interval && f->opnum % f->interval == 0)
                        verify_all(f);
                if (f->verbose)
                        for (i = first; i < f->log_total; i++)
                                print_entry(stdout, &f->log[i % LOG_DEPTH]);
        }
        f->opnum = f->nops;
        if (!f->interval || f->nops % f->interval) {
                uint64_t first = f->log_total;

                verify_all(f);
                if (f->verbose)
                        print_entry(stdout, &f->log[first % LOG_DEPTH]);
        }

        if (close(f->fd) < 0)
                fail_errno(f, "close", errno);
        if (close(f->srcfd) < 0)
                fail_errno(f, "close the copy source", errno);
        /* FILE stays, as with the original fsx; the helpers are ours to remove. */
        if (unlink(f->src_path) < 0)
                fail_errno(f, "unlink the copy source", errno);
        if (unlink(f->good_path) < 0 && errno != ENOENT)
                fail_errno(f, "unlink a stale .fsxgood", errno);
        if (!f->quiet)
                print_summary(f);
        free(f->src_path);
        free(f->good_path);
        free(f->model);
        free(f->owner);
        free(f->src_model);
        free(f->src_owner);
        free(f->buf);
        return EXIT_PASS;
}
