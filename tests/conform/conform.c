/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conform.c: a file-system conformance battery whose transcript depends only
 * on file-system semantics, so that a directory on a local file system and
 * the same kind of directory seen through the mirrorfs passthrough can be
 * compared with diff(1).  run-conform.sh does that.
 *
 *      conform [-l] [-c CASE]... DIR
 *
 * Each case runs in a forked process, inside a fresh subdirectory DIR/CASE
 * that is its working directory, with umask 022.  Every step prints one line:
 *
 *      <case>.<nnn> <call as written in this file> = <result>
 *
 * where the result is the return value or the errno name (ENOENT), plus
 * observations: file type, permission bits, link count, size, uid, gid,
 * rdev, symlink targets, xattr values, sorted directory listings, file
 * contents (escaped, or a length and FNV-1a hash when long), and, for times,
 * relations ("mtime changed", "ctime unchanged") or the exact values the
 * test itself set with utimensat().
 *
 * What it does not print: inode and device numbers (only "same inode" and
 * "d_ino matches st_ino" relations), absolute times the test did not set,
 * directory sizes, block counts (only "blocks increased"), file descriptor
 * numbers, statfs numbers (only sanity relations).  Those differ between two
 * directories without a semantic difference.
 *
 * As root, some cases fork a child that switches to the test user 4242
 * (groups 4242 and 4244) to try files root gave to 4243: permissions, the
 * sticky bit, setgid directories, ownership rules, setuid clearing.  Not as
 * root, those cases and the device steps print SKIP lines instead,
 * identically on both sides.
 *
 * Caveat: the transcript still depends on the kernel, the mount options
 * (nodev, noexec, nosuid, noatime) and sysctls such as
 * fs.protected_hardlinks; compare two directories on the same machine, in
 * one run, mounted alike.  Exit status: 0 when every case ran (whatever the
 * results), 2 on a usage or setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CASE_TIMEOUT_S  120             /* a hung step (FUSE deadlock) kills its case */
#define SHOW_MAX        40              /* longer data is shown as length and hash */

/* Counters shared (MAP_SHARED) with the processes a case forks, so that a
 * child's steps are numbered in sequence with its parent's. */
struct counters {
        unsigned step;                  /* steps of the current case */
        unsigned total;                 /* steps of the whole run */
        unsigned skipped;               /* SKIP lines of the whole run */
};

struct conform {
        const char *name;               /* the case being run */
        bool root;                      /* started with euid 0 */
        struct counters *cnt;
};

/* The test users.  Numeric, so that no passwd entry is needed. */
struct cred {
        uid_t uid;
        gid_t gid;
        size_t ngroups;
        gid_t groups[4];
};

static const struct cred user_me = { 4242, 4242, 2, { 4242, 4244 } };

enum {
        TM_A = 1 << 0,                  /* atime */
        TM_M = 1 << 1,                  /* mtime */
        TM_C = 1 << 2,                  /* ctime */
};

static void emit(struct conform *t, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void emit(struct conform *t, const char *fmt, ...)
{
        va_list ap;

        t->cnt->total++;
        printf("%s.%03u ", t->name, ++t->cnt->step);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

static void skip(struct conform *t, const char *why)
{
        t->cnt->skipped++;
        emit(t, "SKIP %s", why);
}

static void fmt_result(char *buf, size_t size, long r)
{
        const char *name;

        if (r >= 0) {
                snprintf(buf, size, "%ld", r);
                return;
        }
        name = strerrorname_np((int)-r);
        if (name)
                snprintf(buf, size, "%s", name);
        else
                snprintf(buf, size, "errno%ld", -r);
}

static uint64_t fnv1a(const void *data, size_t len)
{
        const unsigned char *p = data;
        uint64_t h = 0xcbf29ce484222325ull;
        size_t i;

        for (i = 0; i < len; i++) {
                h ^= p[i];
                h *= 0x100000001b3ull;
        }
        return h;
}

/* Bytes as a C-like quoted string; long data as its length and hash. */
static void fmt_data(char *out, size_t size, const void *data, size_t len)
{
        const unsigned char *p = data;
        size_t i, o = 0;

        if (len > SHOW_MAX) {
                snprintf(out, size, "<%zu bytes fnv=%016llx>", len,
                         (unsigned long long)fnv1a(data, len));
                return;
        }
        out[o++] = '"';
        for (i = 0; i < len && o + 6 < size; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
                        out[o++] = (char)p[i];
                else
                        o += (size_t)snprintf(out + o, size - o, "\\x%02x", p[i]);
        }
        out[o++] = '"';
        out[o] = 0;
}

/* A name for the transcript: escaped, and abbreviated when long. */
static void fmt_name(char *out, size_t size, const char *name)
{
        size_t len = strlen(name), i, o = 0, shown = len > 48 ? 16 : len;

        for (i = 0; i < shown && o + 6 < size; i++) {
                unsigned char c = (unsigned char)name[i];

                if (c > 0x20 && c < 0x7f && c != '\\' && c != ':')
                        out[o++] = (char)c;
                else
                        o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
        }
        out[o] = 0;
        if (shown < len)
                snprintf(out + o, size - o, "...[%zu bytes fnv=%08llx]", len,
                         (unsigned long long)(fnv1a(name, len) & 0xffffffffu));
}

/*
 * Steps.  SYS() turns a libc call's -1/errno into -errno; T() prints the call
 * as written in the source and its result.  TFD() prints "fd" instead of a
 * descriptor number; TR() also prints the first r bytes of the local `buf`;
 * R() is for this file's helpers, which return -errno themselves.
 */
#define SYS(expr) ({ long sys_r_ = (long)(expr); sys_r_ < 0 ? -(long)errno : sys_r_; })
#define T(expr) step(t, SYS(expr), #expr)
#define TFD(expr) ((int)step_fd(t, SYS(expr), #expr))
#define TR(expr) step_data(t, SYS(expr), buf, #expr)
#define R(expr) step(t, (expr), #expr)

static long step(struct conform *t, long r, const char *call)
{
        char res[64];

        fmt_result(res, sizeof(res), r);
        emit(t, "%s = %s", call, res);
        return r;
}

static long step_fd(struct conform *t, long r, const char *call)
{
        char res[64];

        if (r >= 0)
                snprintf(res, sizeof(res), "fd");
        else
                fmt_result(res, sizeof(res), r);
        emit(t, "%s = %s", call, res);
        return r;
}

static long step_data(struct conform *t, long r, const void *buf, const char *call)
{
        char res[64], data[256];

        fmt_result(res, sizeof(res), r);
        if (r > 0) {
                fmt_data(data, sizeof(data), buf, (size_t)r);
                emit(t, "%s = %s %s", call, res, data);
        } else {
                emit(t, "%s = %s", call, res);
        }
        return r;
}

/* Observations: each prints one step line about the state of a file. */

static const char *ftype(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFREG: return "reg";
        case S_IFDIR: return "dir";
        case S_IFLNK: return "lnk";
        case S_IFIFO: return "fifo";
        case S_IFSOCK: return "sock";
        case S_IFCHR: return "chr";
        case S_IFBLK: return "blk";
        default: return "?";
        }
}

/*
 * The attributes two directories must agree on.  Directory sizes are left
 * out: they are the file system's business (ext4: blocks, tmpfs: entries).
 */
static void fmt_stat(char *out, size_t size, const struct stat *st)
{
        int n;

        n = snprintf(out, size, "%s %04o nlink=%lu", ftype(st->st_mode),
                     (unsigned)(st->st_mode & 07777), (unsigned long)st->st_nlink);
        if (!S_ISDIR(st->st_mode))
                n += snprintf(out + n, size - (size_t)n, " size=%lld", (long long)st->st_size);
        n += snprintf(out + n, size - (size_t)n, " uid=%u gid=%u",
                      (unsigned)st->st_uid, (unsigned)st->st_gid);
        if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
                snprintf(out + n, size - (size_t)n, " rdev=%u:%u",
                         major(st->st_rdev), minor(st->st_rdev));
}

static void show_stat(struct conform *t, const char *call, const char *label, int r,
                      const struct stat *st)
{
        char res[64], attr[160];

        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "%s(%s) = %s", call, label, res);
                return;
        }
        fmt_stat(attr, sizeof(attr), st);
        emit(t, "%s(%s) = 0 %s", call, label, attr);
}

/* lstat(path) */
static void st(struct conform *t, const char *path)
{
        char label[128];
        struct stat sb;

        fmt_name(label, sizeof(label), path);
        show_stat(t, "lstat", label, (int)SYS(lstat(path, &sb)), &sb);
}

/* stat(path), following symlinks */
static void stf(struct conform *t, const char *path)
{
        char label[128];
        struct stat sb;

        fmt_name(label, sizeof(label), path);
        show_stat(t, "stat", label, (int)SYS(stat(path, &sb)), &sb);
}

static void fst(struct conform *t, int fd, const char *label)
{
        struct stat sb;

        show_stat(t, "fstat", label, (int)SYS(fstat(fd, &sb)), &sb);
}

/* The whole content of a regular file. */
static void data(struct conform *t, const char *path)
{
        char label[128], res[64], shown[256];
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        long r = 0;
        int fd;

        fmt_name(label, sizeof(label), path);
        fd = (int)SYS(open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
        if (fd < 0 || !buf) {
                fmt_result(res, sizeof(res), fd < 0 ? fd : -ENOMEM);
                emit(t, "data(%s) = %s", label, res);
                free(buf);
                if (fd >= 0)
                        close(fd);
                return;
        }
        for (;;) {
                if (len == cap) {
                        char *nb = realloc(buf, cap * 2);

                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
                r = SYS(read(fd, buf + len, cap - len));
                if (r <= 0)
                        break;
                len += (size_t)r;
        }
        close(fd);
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "data(%s) = %s", label, res);
        } else {
                fmt_data(shown, sizeof(shown), buf, len);
                emit(t, "data(%s) = %zu %s", label, len, shown);
        }
        free(buf);
}

static void link_target(struct conform *t, const char *path)
{
        char label[128], res[64], shown[256], buf[PATH_MAX + 1];
        long r;

        fmt_name(label, sizeof(label), path);
        r = SYS(readlink(path, buf, sizeof(buf)));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "readlink(%s) = %s", label, res);
                return;
        }
        fmt_data(shown, sizeof(shown), buf, (size_t)r);
        emit(t, "readlink(%s) = %ld %s", label, r, shown);
}

/* Whether two names are the same file: (st_dev, st_ino) of lstat(). */
static void same(struct conform *t, const char *a, const char *b)
{
        char la[128], lb[128], res[64];
        struct stat sa, sb;
        long r;

        fmt_name(la, sizeof(la), a);
        fmt_name(lb, sizeof(lb), b);
        r = SYS(lstat(a, &sa));
        if (r == 0)
                r = SYS(lstat(b, &sb));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "same-inode(%s, %s) = %s", la, lb, res);
                return;
        }
        emit(t, "same-inode(%s, %s) = %s", la, lb,
             sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino ? "yes" : "no");
}

static void fsame(struct conform *t, int fd, const char *label, const char *path)
{
        char lp[128], res[64];
        struct stat sa, sb;
        long r;

        fmt_name(lp, sizeof(lp), path);
        r = SYS(fstat(fd, &sa));
        if (r == 0)
                r = SYS(lstat(path, &sb));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "same-inode(%s, %s) = %s", label, lp, res);
                return;
        }
        emit(t, "same-inode(%s, %s) = %s", label, lp,
             sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino ? "yes" : "no");
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static char dtype_char(unsigned char d)
{
        switch (d) {
        case DT_REG: return 'r';
        case DT_DIR: return 'd';
        case DT_LNK: return 'l';
        case DT_FIFO: return 'p';
        case DT_SOCK: return 's';
        case DT_CHR: return 'c';
        case DT_BLK: return 'b';
        default: return '?';
        }
}

/*
 * A directory listing, sorted, with d_type letters, and whether every d_ino
 * matches the st_ino of lstat() on the entry (ls -i and find rely on it).
 * Big listings are shown as a count and a hash.
 */
static void ls(struct conform *t, const char *path)
{
        char label[128], res[64], **names = NULL, *line = NULL;
        size_t n = 0, cap = 0, i, len = 0;
        const char *ino = "ok";
        struct dirent *de;
        bool dups = false;
        DIR *d;
        int dfd;

        fmt_name(label, sizeof(label), path);
        dfd = (int)SYS(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (dfd < 0) {
                fmt_result(res, sizeof(res), dfd);
                emit(t, "ls(%s) = %s", label, res);
                return;
        }
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                emit(t, "ls(%s) = ENOMEM", label);
                return;
        }
        for (errno = 0; (de = readdir(d)); errno = 0) {
                char name[600];
                struct stat sb;

                if (n == cap) {
                        char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));

                        if (!nn)
                                break;
                        names = nn;
                }
                fmt_name(name, sizeof(name), de->d_name);
                if (asprintf(&names[n], "%s:%c", name, dtype_char(de->d_type)) < 0)
                        break;
                len += strlen(names[n]) + 1;
                n++;
                if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
                        ino = strerrorname_np(errno) ?: "error";
                else if (sb.st_ino != de->d_ino && strcmp(ino, "ok") == 0)
                        ino = "mismatch";
        }
        if (errno) {
                fmt_result(res, sizeof(res), -errno);
                emit(t, "ls(%s) = %s", label, res);
                goto out;
        }
        qsort(names, n, sizeof(*names), cmp_str);
        line = calloc(1, len + 1);
        for (i = 0; line && i < n; i++) {
                if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
                        dups = true;
                strcat(line, names[i]);
                if (i + 1 < n)
                        strcat(line, " ");
        }
        if (!line)
                emit(t, "ls(%s) = ENOMEM", label);
        else if (n > 24)
                emit(t, "ls(%s) = %zu <fnv=%016llx> dups=%s d_ino=%s", label, n,
                     (unsigned long long)fnv1a(line, strlen(line)), dups ? "yes" : "no", ino);
        else
                emit(t, "ls(%s) = %zu %s d_ino=%s", label, n, line, ino);
out:
        for (i = 0; i < n; i++)
                free(names[i]);
        free(names);
        free(line);
        closedir(d);
}

/* The user.* extended attribute names, sorted; others (security.*) are the
 * system's business. */
static void xl(struct conform *t, const char *path)
{
        char label[128], res[64], list[8192], out[2048], *names[256], *p;
        size_t n = 0, o = 0, i;
        long r;

        fmt_name(label, sizeof(label), path);
        r = SYS(llistxattr(path, list, sizeof(list)));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "listxattr(%s) = %s", label, res);
                return;
        }
        for (p = list; p < list + r && n < 256; p += strlen(p) + 1)
                if (strncmp(p, "user.", 5) == 0)
                        names[n++] = p;
        qsort(names, n, sizeof(*names), cmp_str);
        out[0] = 0;
        for (i = 0; i < n && o + 80 < sizeof(out); i++) {
                char name[128];

                fmt_name(name, sizeof(name), names[i]);
                o += (size_t)snprintf(out + o, sizeof(out) - o, " %s", name);
        }
        emit(t, "listxattr(%s) = %zu user.*:%s", label, n, out);
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
        if (a->tv_sec != b->tv_sec)
                return a->tv_sec < b->tv_sec ? -1 : 1;
        if (a->tv_nsec != b->tv_nsec)
                return a->tv_nsec < b->tv_nsec ? -1 : 1;
        return 0;
}

static void tsnap(const char *path, struct stat *sb)
{
        if (lstat(path, sb) < 0)
                memset(sb, 0, sizeof(*sb));
}

/*
 * Wait until any timestamp the kernel takes from now on is later than any
 * it took before: file times come from the coarse clock (or, with
 * multigrain timestamps, a fine one floored at it), so wait until the
 * coarse clock passes the fine clock's present.  Costs one tick at most.
 */
static void settle(void)
{
        struct timespec now, c, ms = { 0, 1000000 };

        clock_gettime(CLOCK_REALTIME, &now);
        do {
                nanosleep(&ms, NULL);
                clock_gettime(CLOCK_REALTIME_COARSE, &c);
        } while (ts_cmp(&c, &now) <= 0);
}

/* Which of the times in @mask changed since @before (taken before settle()). */
static void tdiff(struct conform *t, const char *path, const struct stat *before, unsigned mask)
{
        static const char *const what[] = { "atime", "mtime", "ctime" };
        char label[128], res[64], out[128];
        struct timespec b[3], a[3];
        struct stat sb;
        size_t o = 0;
        long r;
        int i;

        fmt_name(label, sizeof(label), path);
        r = SYS(lstat(path, &sb));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "times(%s) = %s", label, res);
                return;
        }
        b[0] = before->st_atim, b[1] = before->st_mtim, b[2] = before->st_ctim;
        a[0] = sb.st_atim, a[1] = sb.st_mtim, a[2] = sb.st_ctim;
        out[0] = 0;
        for (i = 0; i < 3; i++)
                if (mask & (1u << i))
                        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s %s",
                                              o ? ", " : "", what[i],
                                              ts_cmp(&a[i], &b[i]) ? "changed" : "unchanged");
        emit(t, "times(%s) = %s", label, out);
}

/* Exact atime and mtime: only for values the test set itself. */
static void tm(struct conform *t, const char *path)
{
        char label[128], res[64];
        struct stat sb;
        long r;

        fmt_name(label, sizeof(label), path);
        r = SYS(lstat(path, &sb));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "times(%s) = %s", label, res);
                return;
        }
        emit(t, "times(%s) = atime=%lld.%09ld mtime=%lld.%09ld", label,
             (long long)sb.st_atim.tv_sec, sb.st_atim.tv_nsec,
             (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
}

/* Exact mtime, and whether atime is recent: after atime = UTIME_NOW. */
static void tm_m(struct conform *t, const char *path)
{
        char label[128], res[64];
        struct timespec now;
        struct stat sb;
        long long d;
        long r;

        fmt_name(label, sizeof(label), path);
        r = SYS(lstat(path, &sb));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "times(%s) = %s", label, res);
                return;
        }
        clock_gettime(CLOCK_REALTIME, &now);
        d = (long long)now.tv_sec - (long long)sb.st_atim.tv_sec;
        emit(t, "times(%s) = atime recent %s, mtime=%lld.%09ld", label,
             d >= -2 && d <= 60 ? "yes" : "no",
             (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
}

/* Relations of times set to "now": equal, recent, ctime not older. */
static void trel(struct conform *t, const char *path)
{
        char label[128], res[64];
        struct timespec now;
        struct stat sb;
        long long d;
        long r;

        fmt_name(label, sizeof(label), path);
        r = SYS(lstat(path, &sb));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "times(%s) = %s", label, res);
                return;
        }
        clock_gettime(CLOCK_REALTIME, &now);
        d = (long long)now.tv_sec - (long long)sb.st_mtim.tv_sec;
        emit(t, "times(%s) = atime==mtime %s, mtime recent %s, ctime>=mtime %s", label,
             ts_cmp(&sb.st_atim, &sb.st_mtim) == 0 ? "yes" : "no",
             d >= -2 && d <= 60 ? "yes" : "no",
             ts_cmp(&sb.st_ctim, &sb.st_mtim) >= 0 ? "yes" : "no");
}

static void blocks(struct conform *t, int fd, blkcnt_t *prev)
{
        struct stat sb;
        char res[64];
        long r;

        r = SYS(fstat(fd, &sb));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "blocks(fd) = %s", res);
                return;
        }
        emit(t, "blocks(fd) = size=%lld blocks %s, allocated>=size %s", (long long)sb.st_size,
             sb.st_blocks > *prev ? "increased" : sb.st_blocks < *prev ? "decreased" : "unchanged",
             (long long)sb.st_blocks * 512 >= (long long)sb.st_size ? "yes" : "no");
        *prev = sb.st_blocks;
}

/* Helpers that act; they return a count or -errno and are called via R(). */

static long write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        size_t done = 0;

        while (done < len) {
                ssize_t n = write(fd, p + done, len - done);

                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                done += (size_t)n;
        }
        return (long)done;
}

/* Create or truncate @path (mode 0644 when new) and write @s. */
static long put(const char *path, const char *s)
{
        long r;
        int fd;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = write_all(fd, s, strlen(s));
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        return r;
}

/* Write @s at the end of an existing file. */
static long append(const char *path, const char *s)
{
        long r;
        int fd;

        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, s, strlen(s));
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        return r;
}

/* Root's setup: a file with content, owner and mode (chmod last: chown
 * clears setuid). */
static long mkown(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
        long r = put(path, "#!/bin/sh\nexit 7\n");

        if (r < 0)
                return r;
        if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0)
                return -errno;
        return 0;
}

static long mkdirown(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
        if (mkdir(path, 0700) < 0 || chown(path, uid, gid) < 0 || chmod(path, mode) < 0)
                return -errno;
        return 0;
}

static long utimes_set(const char *path, long long asec, long ansec, long long msec,
                       long mnsec, int flags)
{
        struct timespec ts[2] = { { asec, ansec }, { msec, mnsec } };

        return utimensat(AT_FDCWD, path, ts, flags) < 0 ? -errno : 0;
}

static long futimens_set(int fd, long long asec, long ansec, long long msec, long mnsec)
{
        struct timespec ts[2] = { { asec, ansec }, { msec, mnsec } };

        return futimens(fd, ts) < 0 ? -errno : 0;
}

/* @len bytes of a position-dependent pattern at @off. */
static long pattern(int fd, off_t off, size_t len)
{
        char buf[4096];
        size_t done = 0, i;

        while (done < len) {
                size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
                ssize_t w;

                for (i = 0; i < n; i++)
                        buf[i] = (char)('a' + (off + (off_t)(done + i)) % 23);
                w = pwrite(fd, buf, n, off + (off_t)done);
                if (w < 0)
                        return -errno;
                if (w == 0)
                        return -EIO;
                done += (size_t)w;
        }
        return (long)done;
}

/* A block of @len bytes of @c at @off. */
static long fill(int fd, char c, off_t off, size_t len)
{
        char buf[4096];
        size_t done = 0;

        memset(buf, c, sizeof(buf));
        while (done < len) {
                size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
                ssize_t w = pwrite(fd, buf, n, off + (off_t)done);

                if (w < 0)
                        return -errno;
                done += (size_t)w;
        }
        return (long)done;
}

/* Read @len bytes at @off in one call and compare them with @expect:
 * the count read, or -EBADMSG when the bytes differ. */
static long read_cmp(int fd, const void *expect, size_t len, off_t off)
{
        char *buf = malloc(len);
        ssize_t n;
        long r;

        if (!buf)
                return -ENOMEM;
        n = pread(fd, buf, len, off);
        if (n < 0)
                r = -errno;
        else
                r = memcmp(buf, expect, (size_t)n) == 0 ? (long)n : -EBADMSG;
        free(buf);
        return r;
}

/*
 * Two processes append 1000 16-byte records each, at the same time, through
 * their own O_APPEND descriptions of @path: every record must land whole.
 * Returns the number of intact records found afterwards.
 */
static long append_race(const char *path)
{
        enum { NREC = 1000, RECLEN = 16 };
        char rec[RECLEN + 8], *buf;     /* room for what %05d could print */
        long r = 0, intact = 0;
        struct stat sb;
        int fd, i, status;
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return -errno;
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        for (i = 0; fd >= 0 && i < NREC && r >= 0; i++) {
                snprintf(rec, sizeof(rec), "%c%05d---------\n", pid ? 'A' : 'B', i);
                r = write_all(fd, rec, RECLEN);
        }
        if (fd < 0)
                r = -errno;
        else
                close(fd);
        if (pid == 0)
                _exit(r < 0 ? 1 : 0);
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status))
                return -EIO;
        if (lstat(path, &sb) < 0)
                return -errno;
        buf = malloc((size_t)sb.st_size + 1);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (!buf || fd < 0 || pread(fd, buf, (size_t)sb.st_size, 0) != sb.st_size) {
                r = buf ? -EIO : -ENOMEM;
                goto out;
        }
        for (i = 0; (i + 1) * RECLEN <= sb.st_size; i++) {
                const char *p = buf + (size_t)i * RECLEN;

                intact += (p[0] == 'A' || p[0] == 'B') &&
                          memcmp(p + 6, "---------\n", 10) == 0;
        }
        r = intact;
out:
        if (fd >= 0)
                close(fd);
        free(buf);
        return r;
}

/* Store @s through a shared mapping of the first page and msync() it. */
static long map_write(int fd, const char *s)
{
        size_t len = strlen(s);
        long r = 0;
        char *p;

        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        memcpy(p, s, len);
        if (msync(p, 4096, MS_SYNC) < 0)
                r = -errno;
        munmap(p, 4096);
        return r < 0 ? r : (long)len;
}

/* Compare the first @len bytes seen through a shared mapping with @s. */
static long map_read(int fd, const char *s)
{
        size_t len = strlen(s);
        char *p;
        long r;

        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        r = memcmp(p, s, len) == 0 ? (long)len : -EBADMSG;
        munmap(p, 4096);
        return r;
}

/* Nested directories: @depth components of @len times @c; the path is left
 * in @path.  Returns its length. */
static long nest(char *path, size_t size, char c, size_t len, int depth)
{
        size_t o = 0;
        int i;

        if ((size_t)depth * (len + 1) >= size)
                return -ENAMETOOLONG;
        for (i = 0; i < depth; i++) {
                if (i)
                        path[o++] = '/';
                memset(path + o, c, len);
                o += len;
                path[o] = 0;
                if (mkdir(path, 0755) < 0)
                        return -errno;
        }
        return (long)o;
}

/* Symlinks @prefix00 -> @prefix01 -> ... -> @prefix<n-1> -> @last. */
static long chain(const char *prefix, int n, const char *last)
{
        char name[32], to[32];
        int i;

        for (i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "%s%02d", prefix, i);
                if (i + 1 == n)
                        snprintf(to, sizeof(to), "%s", last);
                else
                        snprintf(to, sizeof(to), "%s%02d", prefix, i + 1);
                if (symlink(to, name) < 0)
                        return -errno;
        }
        return n;
}

/* @n empty files with 200-byte names in @dir: a listing of many pages. */
static long wide_entries(const char *dir, int n)
{
        char name[PATH_MAX], pad[201];
        int i;

        memset(pad, 'L', 200);
        pad[200] = 0;
        for (i = 0; i < n; i++) {
                long r;

                snprintf(name, sizeof(name), "%s/%s-%03d", dir, pad, i);
                r = put(name, "");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Create (with @remove: unlink) the empty files @dir/entry-NNN for every
 * @stride-th NNN below @n. */
static long entries(const char *dir, int n, int stride, bool remove)
{
        char name[PATH_MAX];
        int i;

        for (i = 0; i < n; i += stride) {
                long r;

                snprintf(name, sizeof(name), "%s/entry-%03d", dir, i);
                r = remove ? SYS(unlink(name)) : put(name, "");
                if (r < 0)
                        return r;
        }
        return 0;
}

static long sock_path(struct sockaddr_un *sa, const char *path)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        strcpy(sa->sun_path, path);
        return 0;
}

/* bind() a unix socket to @path, relative to the case directory. */
static long bind_unix(const char *path)
{
        struct sockaddr_un sa;
        long r = sock_path(&sa, path);
        int fd;

        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        if (r == 0 && listen(fd, 4) < 0)
                r = -errno;
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;              /* left open: connect_unix() needs a listener */
}

static long connect_unix(const char *path)
{
        struct sockaddr_un sa;
        long r = sock_path(&sa, path);
        int fd;

        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/*
 * Start @path in a child, with the single argument @arg.  Returns 0 once
 * the exec succeeded (the close-on-exec pipe closed; the pid in @ret), or
 * -errno of the failed execve().
 */
static long spawn(const char *path, const char *arg, pid_t *ret)
{
        char *argv[] = { (char *)path, (char *)arg, NULL };
        char *envp[] = { "PATH=/usr/bin:/bin", NULL };
        int p[2], err = 0;
        ssize_t n;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                err = errno;
                close(p[0]);
                close(p[1]);
                return -err;
        }
        if (pid == 0) {
                close(p[0]);
                execve(path, argv, envp);
                err = errno;
                (void)!write(p[1], &err, sizeof(err));
                _exit(127);
        }
        close(p[1]);
        n = read(p[0], &err, sizeof(err));
        close(p[0]);
        if (n == (ssize_t)sizeof(err)) {
                waitpid(pid, NULL, 0);
                return -err;
        }
        *ret = pid;
        return 0;
}

/* Run @path to completion: its exit status, or -errno from execve(). */
static long run_exec(const char *path)
{
        pid_t pid = 0;
        int status;
        long r;

        r = spawn(path, NULL, &pid);
        if (r < 0)
                return r;
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Kill a spawned child; its terminating signal. */
static long stop(pid_t pid)
{
        int status;

        if (pid <= 0)
                return -ESRCH;
        kill(pid, SIGKILL);
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static long copy_file(const char *from, const char *to, mode_t mode)
{
        char buf[65536];
        int in, out;
        long r = 0;
        ssize_t n;

        in = open(from, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        while ((n = read(in, buf, sizeof(buf))) > 0) {
                r = write_all(out, buf, (size_t)n);
                if (r < 0)
                        break;
        }
        if (n < 0)
                r = -errno;
        close(in);
        if (close(out) < 0 && r >= 0)
                r = -errno;
        return r < 0 ? r : 0;
}

/*
 * Run @fn in a child process, as @c when not NULL (supplementary groups,
 * then gid, then uid: the order in which root can still do each).  The
 * child's steps number on from the parent's.
 */
static void in_child(struct conform *t, const struct cred *c, void (*fn)(struct conform *t))
{
        int status;
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                step(t, -errno, "fork()");
                return;
        }
        if (pid == 0) {
                char res[64];
                long r = 0;

                if (c) {
                        r = SYS(setgroups(c->ngroups, c->groups));
                        if (r == 0)
                                r = SYS(setresgid(c->gid, c->gid, c->gid));
                        if (r == 0)
                                r = SYS(setresuid(c->uid, c->uid, c->uid));
                        fmt_result(res, sizeof(res), r);
                        emit(t, "become(uid=%u gid=%u groups=%zu) = %s", (unsigned)c->uid,
                             (unsigned)c->gid, c->ngroups, res);
                }
                if (r == 0)
                        fn(t);
                fflush(stdout);
                _exit(0);
        }
        if (waitpid(pid, &status, 0) < 0)
                step(t, -errno, "waitpid()");
        else if (!WIFEXITED(status) || WEXITSTATUS(status))
                emit(t, "child = died (status %#x)", (unsigned)status);
}

/* open(2) and creat(2) flags. */
static void case_open(struct conform *t)
{
        struct stat sb, sd;
        char buf[64];
        int fd, fd2;

        T(open("f", O_RDONLY));
        fd = TFD(open("f", O_WRONLY | O_CREAT, 0644));
        T(close(fd));
        st(t, "f");
        T(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
        fd = TFD(open("f", O_RDWR | O_CREAT, 0600));
        T(close(fd));
        st(t, "f");
        fd = TFD(creat("g", 0777));
        T(close(fd));
        st(t, "g");
        fd = TFD(open("h", O_RDWR | O_CREAT | O_EXCL, 0));
        T(write(fd, "x", 1));
        T(close(fd));
        st(t, "h");
        fd = TFD(open("h", O_RDWR));
        T(close(fd));
        fd = TFD(open("m", O_WRONLY | O_CREAT | O_EXCL, 07777));
        T(close(fd));
        st(t, "m");

        /* O_CREAT through a dangling symlink creates its target. */
        T(symlink("target1", "dangling"));
        T(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644));
        fd = TFD(open("dangling", O_WRONLY | O_CREAT, 0640));
        T(close(fd));
        st(t, "target1");
        T(symlink("f", "lf"));
        T(open("lf", O_WRONLY | O_CREAT | O_EXCL, 0644));

        /* O_TRUNC, and the times it marks even on an empty file. */
        R(put("t", "0123456789"));
        tsnap("t", &sb);
        settle();
        fd = TFD(open("t", O_WRONLY | O_TRUNC));
        tdiff(t, "t", &sb, TM_M | TM_C);
        T(close(fd));
        st(t, "t");
        tsnap("t", &sb);
        settle();
        fd = TFD(open("t", O_WRONLY | O_TRUNC));
        tdiff(t, "t", &sb, TM_M | TM_C);
        T(close(fd));
        R(put("t", "abc"));
        fd = TFD(open("t", O_RDONLY | O_TRUNC));
        T(close(fd));
        st(t, "t");
        R(put("t", "abc"));
        tsnap("t", &sb);
        settle();
        fd = TFD(open("t", O_RDONLY));
        tdiff(t, "t", &sb, TM_M | TM_C);
        T(close(fd));
        T(open(".", O_RDONLY | O_TRUNC));

        /* O_APPEND: every write goes to the end, pwrite() too on Linux. */
        R(put("a", "abc"));
        fd = TFD(open("a", O_WRONLY | O_APPEND));
        T(lseek(fd, 0, SEEK_SET));
        T(write(fd, "de", 2));
        T(lseek(fd, 0, SEEK_CUR));
        T(pwrite(fd, "XY", 2, 0));
        T(close(fd));
        data(t, "a");
        fd = TFD(open("a", O_RDWR | O_APPEND));
        TR(read(fd, buf, 3));
        T(write(fd, "Z", 1));
        T(lseek(fd, 0, SEEK_CUR));
        T(fcntl(fd, F_SETFL, 0));
        T(pwrite(fd, "_", 1, 0));
        T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND));
        T(close(fd));
        data(t, "a");
        fd = TFD(open("a", O_WRONLY));
        T(fcntl(fd, F_SETFL, O_APPEND));
        T(write(fd, "!", 1));
        T(close(fd));
        data(t, "a");

        /* O_DIRECTORY, and what a directory refuses. */
        T(mkdir("d", 0755));
        R(put("d/inner", "in"));
        T(open("f", O_RDONLY | O_DIRECTORY));
        fd = TFD(open("d", O_RDONLY | O_DIRECTORY));
        T(close(fd));
        T(symlink("d", "ld"));
        fd = TFD(open("ld", O_RDONLY | O_DIRECTORY));
        T(close(fd));
        T(open("ld", O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
        T(open("newdir", O_RDONLY | O_DIRECTORY | O_CREAT, 0755));
        st(t, "newdir");
        T(open("d", O_WRONLY));
        T(open("d", O_RDWR));
        T(open("d", O_RDONLY | O_CREAT, 0644));
        T(open("d", O_WRONLY | O_CREAT | O_EXCL, 0644));
        fd = TFD(open("d/", O_RDONLY));
        T(close(fd));
        T(open("f/", O_RDONLY));
        T(open("f/x", O_RDONLY));
        T(open("nodir/x", O_WRONLY | O_CREAT, 0644));
        T(open("f/x", O_WRONLY | O_CREAT, 0644));
        T(open("", O_RDONLY));
        T(open("new/", O_WRONLY | O_CREAT, 0644));
        st(t, "new");

        /* O_NOFOLLOW refuses a symlink in the last component only. */
        T(open("lf", O_RDONLY | O_NOFOLLOW));
        T(open("lf", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644));
        fd = TFD(open("f", O_RDONLY | O_NOFOLLOW));
        T(close(fd));
        fd = TFD(open("ld/inner", O_RDONLY | O_NOFOLLOW));
        T(close(fd));

        /* O_PATH: a handle without I/O. */
        fd = TFD(open("f", O_PATH));
        T(read(fd, buf, 1));
        T(write(fd, "x", 1));
        fst(t, fd, "opath");
        T(fchmod(fd, 0600));
        T(fstatat(fd, "", &sd, AT_EMPTY_PATH));
        T(fgetxattr(fd, "user.none", buf, sizeof(buf)));
        T(close(fd));
        fd = TFD(open("lf", O_PATH | O_NOFOLLOW));
        fst(t, fd, "opath-lnk");
        TR(readlinkat(fd, "", buf, sizeof(buf)));
        T(close(fd));
        fd = TFD(open("d", O_PATH | O_DIRECTORY));
        fd2 = TFD(openat(fd, "inner", O_RDONLY));
        TR(read(fd2, buf, sizeof(buf)));
        T(close(fd2));
        T(close(fd));
        fd = TFD(open("h", O_PATH));
        T(close(fd));

        /* Descriptor flags and an unlinked file that stays open. */
        fd = TFD(open("f", O_RDONLY | O_CLOEXEC));
        T(fcntl(fd, F_GETFD));
        T(close(fd));
        fd = TFD(open("g", O_RDWR));
        T(unlink("g"));
        T(write(fd, "still", 5));
        fst(t, fd, "unlinked");
        TR(pread(fd, buf, sizeof(buf), 0));
        T(close(fd));
        st(t, "g");
        ls(t, ".");
}

/* Name and path length limits, and odd bytes in names. */
static void case_names(struct conform *t)
{
        static const char *const odd[] = {
                "a b", "tab\tx", "nl\nx", "\001ctrl", "\xff\xfe", "-dash", "*?[",
                "back\\slash", ".hidden", "...", "colon:x", "\xc3\xa9t\xc3\xa9",
        };
        char n255[256], n256[257], u254[255], u256[257], deep[4096], deepf[4200];
        char p4095[4096], p4096[4097], tooldeep[8200];
        size_t i;
        int fd;

        memset(n255, 'n', 255);
        n255[255] = 0;
        memset(n256, 'n', 256);
        n256[256] = 0;
        for (i = 0; i < 254; i += 2)
                memcpy(u254 + i, "\xc3\xa9", 2);
        u254[254] = 0;
        for (i = 0; i < 256; i += 2)
                memcpy(u256 + i, "\xc3\xa9", 2);
        u256[256] = 0;

        fd = TFD(open(n255, O_WRONLY | O_CREAT | O_EXCL, 0644));
        T(close(fd));
        st(t, n255);
        T(open(n256, O_WRONLY | O_CREAT, 0644));
        st(t, n256);
        T(mkdir(n256, 0755));
        T(symlink("f", n256));
        T(link(n255, n256));
        T(rename(n255, n256));
        T(unlink(n256));
        T(rename(n255, "short"));
        T(rename("short", n255));
        T(symlink(n255, "lname"));
        link_target(t, "lname");
        stf(t, "lname");
        T(unlink(n255));
        T(mkdir(n255, 0755));
        st(t, n255);
        T(rmdir(n255));
        fd = TFD(open(u254, O_WRONLY | O_CREAT | O_EXCL, 0644));
        T(close(fd));
        T(open(u256, O_WRONLY | O_CREAT | O_EXCL, 0644));

        T(mkdir("odd", 0755));
        for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
                char path[64];

                snprintf(path, sizeof(path), "odd/%s", odd[i]);
                R(put(path, odd[i]));
                data(t, path);
        }
        ls(t, "odd");

        /* More than 1,000 bytes of path through nested directories. */
        R(nest(deep, sizeof(deep), 'p', 200, 15));
        snprintf(deepf, sizeof(deepf), "%s/f", deep);
        R((long)strlen(deepf));
        fd = TFD(open(deepf, O_WRONLY | O_CREAT | O_EXCL, 0644));
        T(write(fd, "deep", 4));
        T(close(fd));
        st(t, deepf);
        data(t, deepf);
        T(rename(deepf, "fromdeep"));
        data(t, "fromdeep");
        T(link("fromdeep", deepf));
        st(t, deepf);
        snprintf(tooldeep, sizeof(tooldeep), "%s/%s/f", deep, deep);
        R((long)strlen(tooldeep));
        T(open(tooldeep, O_RDONLY));
        T(mkdir(tooldeep, 0755));

        /* PATH_MAX counts the terminating NUL: 4095 bytes work, 4096 don't. */
        for (i = 0; i + 1 < 4095; i += 2)
                memcpy(p4095 + i, "./", 2);
        strcpy(p4095 + 4094, "f");
        memcpy(p4096, p4095, 4094);
        strcpy(p4096 + 4094, "/f");
        R(put("f", "pathmax"));
        R((long)strlen(p4095));
        data(t, p4095);
        R((long)strlen(p4096));
        data(t, p4096);
}

/* read, write, pread, pwrite, lseek, mmap. */
static void case_rw(struct conform *t)
{
        struct iovec iov[2] = { { "ab", 2 }, { "cde", 3 } };
        char buf[128], *mb;
        int fd, fd2, i;

        fd = TFD(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
        T(write(fd, "hello", 5));
        fst(t, fd, "fd");
        T(lseek(fd, 0, SEEK_CUR));
        T(lseek(fd, 0, SEEK_SET));
        TR(read(fd, buf, sizeof(buf)));
        TR(read(fd, buf, sizeof(buf)));
        T(pwrite(fd, "X", 1, 10));
        fst(t, fd, "fd");
        TR(pread(fd, buf, sizeof(buf), 0));
        TR(pread(fd, buf, 4, 3));
        TR(pread(fd, buf, 10, 11));
        TR(pread(fd, buf, 10, 1000));
        T(pread(fd, buf, 1, -1));
        T(lseek(fd, 0, SEEK_CUR));
        T(lseek(fd, -1, SEEK_SET));
        T(lseek(fd, 0, SEEK_END));
        T(lseek(fd, 100, SEEK_END));
        T(write(fd, "Y", 1));
        fst(t, fd, "fd");
        T(pwritev(fd, iov, 2, 2));
        TR(pread(fd, buf, 8, 0));
        T(write(fd, "", 0));
        T(close(fd));
        data(t, "f");

        /* A megabyte, and a short file read with a big buffer. */
        fd = TFD(open("big", O_RDWR | O_CREAT | O_EXCL, 0644));
        R(pattern(fd, 0, 1 << 20));
        R(pattern(fd, 4000, 10000));
        fst(t, fd, "big");
        TR(pread(fd, buf, 8, 1048570));
        T(close(fd));
        data(t, "big");

        /* One big call each way: a passthrough splits it into requests. */
        mb = malloc(1 << 20);
        if (!mb) {
                step(t, -ENOMEM, "malloc(1 << 20)");
                return;
        }
        for (i = 0; i < 1 << 20; i++)
                mb[i] = (char)(i % 251);
        fd = TFD(open("one", O_RDWR | O_CREAT | O_EXCL, 0644));
        T(write(fd, mb, 1 << 20));
        R(read_cmp(fd, mb, 1 << 20, 0));
        R(read_cmp(fd, mb + 4095, (1 << 20) - 4095, 4095));
        T(pwrite(fd, mb, 300000, 77777));
        R(read_cmp(fd, mb, 300000, 77777));
        fst(t, fd, "one");
        T(close(fd));
        free(mb);

        /* Offsets past 4 GiB. */
        fd = TFD(open("far", O_RDWR | O_CREAT | O_EXCL, 0644));
        T(pwrite(fd, "far", 3, 5LL << 30));
        fst(t, fd, "far");
        TR(pread(fd, buf, 8, (5LL << 30) - 2));
        T(lseek(fd, 0, SEEK_END));
        T(lseek(fd, 0, SEEK_DATA));
        T(close(fd));

        /* Appenders racing through separate open files. */
        R(append_race("race"));
        st(t, "race");

        /* Descriptors without the access mode. */
        fd = TFD(open("f", O_RDONLY));
        T(write(fd, "x", 1));
        T(pwrite(fd, "x", 1, 0));
        T(close(fd));
        fd = TFD(open("f", O_WRONLY));
        T(read(fd, buf, 1));
        T(close(fd));
        T(mkdir("d", 0755));
        fd = TFD(open("d", O_RDONLY));
        T(read(fd, buf, 1));
        T(close(fd));

        /* Shared mappings and read()/write() see one another. */
        fd = TFD(open("m", O_RDWR | O_CREAT | O_EXCL, 0644));
        T(ftruncate(fd, 4096));
        R(map_write(fd, "mapped"));
        TR(pread(fd, buf, 8, 0));
        T(pwrite(fd, "written", 7, 0));
        R(map_read(fd, "written"));
        fst(t, fd, "m");
        T(close(fd));
        fd = TFD(open("m", O_RDONLY));
        R(map_write(fd, "x"));
        R(map_read(fd, "written"));
        T(close(fd));

        /* Holes: SEEK_DATA/SEEK_HOLE, zeros where nothing was written. */
        fd = TFD(open("sparse", O_RDWR | O_CREAT | O_EXCL, 0644));
        T(pwrite(fd, "x", 1, 1 << 20));
        T(lseek(fd, 0, SEEK_DATA));
        T(lseek(fd, 0, SEEK_HOLE));
        T(lseek(fd, (1 << 20) + 1, SEEK_DATA));
        T(lseek(fd, (1 << 20) + 1, SEEK_HOLE));
        T(lseek(fd, 2 << 20, SEEK_DATA));
        TR(pread(fd, buf, 4, 4096));
        T(close(fd));
        data(t, "sparse");
        fd = TFD(open("f", O_RDONLY));
        T(lseek(fd, 0, SEEK_DATA));
        T(lseek(fd, 0, SEEK_HOLE));
        T(close(fd));

        /* Two descriptors of one file: each has its own offset. */
        fd = TFD(open("two", O_RDWR | O_CREAT | O_EXCL, 0644));
        fd2 = TFD(open("two", O_RDWR));
        T(write(fd, "11111", 5));
        T(write(fd2, "22", 2));
        TR(pread(fd, buf, sizeof(buf), 0));
        T(close(fd2));
        T(close(fd));

        /* copy_file_range() within the directory. */
        fd = TFD(open("f", O_RDONLY));
        fd2 = TFD(open("copy", O_WRONLY | O_CREAT | O_EXCL, 0644));
        T(copy_file_range(fd, NULL, fd2, NULL, 1 << 20, 0));
        T(close(fd2));
        T(close(fd));
        data(t, "copy");
}

/* truncate(2) and ftruncate(2). */
static void case_truncate(struct conform *t)
{
        struct stat sb;
        char buf[64];
        int fd;

        R(put("f", "0123456789"));
        T(mkdir("d", 0755));
        T(symlink("f", "lf"));
        tsnap("f", &sb);
        settle();
        T(truncate("f", 100));
        tdiff(t, "f", &sb, TM_M | TM_C);
        st(t, "f");
        data(t, "f");
        T(truncate("f", 3));
        data(t, "f");
        tsnap("f", &sb);
        settle();
        T(truncate("f", 3));
        tdiff(t, "f", &sb, TM_M | TM_C);
        T(truncate("f", -1));
        T(truncate("d", 0));
        T(truncate("nofile", 0));
        T(truncate("f/x", 0));
        T(truncate("lf", 1));
        data(t, "f");

        fd = TFD(open("f", O_RDONLY));
        T(ftruncate(fd, 0));
        T(close(fd));
        fd = TFD(open("f", O_RDWR));
        T(ftruncate(fd, 1 << 30));
        fst(t, fd, "fd");
        TR(pread(fd, buf, 4, (1 << 30) - 4));
        T(ftruncate(fd, 5));
        fst(t, fd, "fd");

        /* Data cut off must not come back when the file grows again. */
        T(pwrite(fd, "abcdefgh", 8, 0));
        T(ftruncate(fd, 2));
        T(ftruncate(fd, 8));
        TR(pread(fd, buf, sizeof(buf), 0));
        tsnap("f", &sb);
        settle();
        T(ftruncate(fd, 8));
        tdiff(t, "f", &sb, TM_M | TM_C);
        T(ftruncate(fd, -1));
        T(ftruncate(fd, LLONG_MAX));
        fst(t, fd, "fd");
        T(close(fd));

        /* O_APPEND after a truncation writes at the new end. */
        fd = TFD(open("f", O_WRONLY | O_APPEND));
        T(ftruncate(fd, 1));
        T(write(fd, "Z", 1));
        T(close(fd));
        data(t, "f");
}

/* mkdir(2) and rmdir(2). */
static void case_dirs(struct conform *t)
{
        struct stat sb;

        T(mkdir("d", 0755));
        st(t, "d");
        T(mkdir("d", 0755));
        T(mkdir("d777", 0777));
        st(t, "d777");
        T(mkdir("d1777", 01777));
        st(t, "d1777");
        T(mkdir("d2755", 02755));
        st(t, "d2755");
        T(mkdir("d4755", 04755));
        st(t, "d4755");
        T(mkdir("d000", 0));
        st(t, "d000");
        st(t, ".");
        tsnap(".", &sb);
        settle();
        T(mkdir("d/sub", 0755));
        st(t, "d");
        tdiff(t, "d", &sb, TM_M | TM_C);
        tsnap("d", &sb);
        settle();
        T(mkdir("d/sub2", 0755));
        tdiff(t, "d", &sb, TM_M | TM_C);
        same(t, "d/sub/..", "d");
        same(t, "d/.", "d");
        R(put("d/file", "x"));
        T(rmdir("d"));
        T(rmdir("d/file"));
        T(rmdir("."));
        T(rmdir("d/."));
        T(rmdir(".."));
        T(rmdir("d/sub/.."));
        T(rmdir("nodir"));
        T(rmdir("d/file/x"));
        T(mkdir("nodir/x", 0755));
        T(mkdir("d/file/x", 0755));
        T(mkdir("", 0755));
        T(symlink("nowhere", "dangling"));
        T(mkdir("dangling", 0755));
        T(symlink("d", "ld"));
        T(rmdir("ld"));
        T(rmdir("ld/"));
        T(mkdir("ld/viasym", 0755));
        st(t, "d/viasym");
        T(mkdir("e/", 0755));
        st(t, "e");
        T(rmdir("e/"));
        T(mkdir("e/.", 0755));
        tsnap("d", &sb);
        settle();
        T(rmdir("d/sub"));
        tdiff(t, "d", &sb, TM_M | TM_C);
        T(rmdir("d/sub2"));
        T(rmdir("d/viasym"));
        st(t, "d");
        T(unlink("d/file"));
        ls(t, "d");
        T(rmdir("d"));
        st(t, "d");
        st(t, ".");
        ls(t, ".");
}

/* unlink(2) and unlinkat(2). */
static void case_unlink(struct conform *t)
{
        struct stat sb, sd;
        char buf[64];
        int fd;

        R(put("f", "data"));
        T(mkdir("d", 0755));
        tsnap(".", &sd);
        settle();
        T(unlink("f"));
        tdiff(t, ".", &sd, TM_M | TM_C);
        st(t, "f");
        T(unlink("f"));
        T(unlink("d"));
        T(unlink("d/"));
        T(unlink("nodir/x"));
        T(unlink(""));
        R(put("g", "gg"));
        T(unlink("g/"));
        T(unlink("g/x"));
        T(symlink("g", "lg"));
        T(unlink("lg"));
        st(t, "lg");
        st(t, "g");
        T(symlink("d", "ld"));
        T(unlink("ld/"));
        T(unlink("ld"));
        st(t, "d");
        T(unlinkat(AT_FDCWD, "g", AT_REMOVEDIR));
        T(unlinkat(AT_FDCWD, "d", AT_REMOVEDIR));
        T(unlinkat(AT_FDCWD, "g", 0x1));

        /* An open file outlives its last name. */
        fd = TFD(open("g", O_RDWR));
        T(link("g", "g2"));
        st(t, "g");
        tsnap("g2", &sb);
        settle();
        T(unlink("g"));
        tdiff(t, "g2", &sb, TM_M | TM_C);
        st(t, "g2");
        T(unlink("g2"));
        fst(t, fd, "fd");
        T(pwrite(fd, "after", 5, 0));
        TR(pread(fd, buf, sizeof(buf), 0));
        T(fchmod(fd, 0600));
        fst(t, fd, "fd");
        T(close(fd));
        T(mkfifo("p", 0644));
        T(unlink("p"));
        ls(t, ".");
}

/* link(2) and linkat(2). */
static void case_link(struct conform *t)
{
        struct stat sb;
        int fd;

        R(put("f", "one"));
        T(mkdir("d", 0755));
        tsnap("f", &sb);
        settle();
        T(link("f", "g"));
        tdiff(t, "f", &sb, TM_M | TM_C);
        st(t, "f");
        st(t, "g");
        same(t, "f", "g");
        T(link("f", "g"));
        T(link("f", "d"));
        T(link("d", "d2"));
        T(link("nofile", "x"));
        T(link("f", "nodir/x"));
        T(link("f", "f/x"));
        T(link("f", "d/f"));
        st(t, "f");
        R(append("d/f", "+two"));
        data(t, "g");
        fd = TFD(open("g", O_RDONLY));
        fst(t, fd, "fd");
        T(unlink("f"));
        fst(t, fd, "fd");
        T(close(fd));
        st(t, "g");

        /* linkat() links a symlink itself unless told to follow. */
        T(symlink("g", "lg"));
        T(linkat(AT_FDCWD, "lg", AT_FDCWD, "lg2", 0));
        st(t, "lg2");
        link_target(t, "lg2");
        T(linkat(AT_FDCWD, "lg", AT_FDCWD, "lg3", AT_SYMLINK_FOLLOW));
        st(t, "lg3");
        same(t, "lg3", "g");
        T(link("lg", "lg4"));
        st(t, "lg4");
        T(symlink("nowhere", "dangling"));
        T(linkat(AT_FDCWD, "dangling", AT_FDCWD, "x", AT_SYMLINK_FOLLOW));
        T(linkat(AT_FDCWD, "g", AT_FDCWD, "x", 0x4000));

        /* Special files have link counts too. */
        T(mkfifo("p", 0644));
        T(link("p", "p2"));
        st(t, "p");
        ls(t, ".");
}

/* symlink(2) and readlink(2). */
static void case_symlink(struct conform *t)
{
        char buf[8192], target[4097];
        int fd;

        R(put("f", "file"));
        T(mkdir("d", 0755));
        R(put("d/in", "inside"));
        T(symlink("f", "lf"));
        st(t, "lf");
        stf(t, "lf");
        link_target(t, "lf");
        data(t, "lf");
        T(symlink("/conform-nonexistent/abs", "labs"));
        st(t, "labs");
        link_target(t, "labs");
        stf(t, "labs");
        T(symlink("target", "dangling"));
        stf(t, "dangling");
        T(symlink("d", "ld"));
        data(t, "ld/in");
        st(t, "ld/");
        st(t, "ld/.");
        T(symlink("../f", "d/up"));
        data(t, "d/up");
        data(t, "ld/up");
        T(symlink("f", "lf"));
        T(symlink("f", "f"));
        T(symlink("f", "d"));
        T(symlink("x", "nodir/l"));
        T(symlink("", "empty"));
        TR(readlink("f", buf, sizeof(buf)));
        TR(readlink("d", buf, sizeof(buf)));
        TR(readlink("nofile", buf, sizeof(buf)));
        TR(readlink("lf", buf, 0));
        TR(readlink("labs", buf, 4));
        TR(readlink("ld/", buf, sizeof(buf)));

        /* Loops. */
        T(symlink("loop2", "loop1"));
        T(symlink("loop1", "loop2"));
        T(symlink("self", "self"));
        stf(t, "loop1");
        st(t, "loop1");
        stf(t, "self");
        T(open("loop1", O_RDONLY));
        T(open("loop1", O_WRONLY | O_CREAT, 0644));
        T(open("self/x", O_RDONLY));
        T(mkdir("self/x", 0755));
        T(chmod("self", 0644));

        /* Forty links are followed, the forty-first is a loop. */
        R(chain("c", 41, "f"));
        stf(t, "c01");
        stf(t, "c00");

        /* Long targets: ext4 keeps short ones in the inode. */
        memset(target, 't', sizeof(target));
        target[60] = 0;
        T(symlink(target, "t60"));
        st(t, "t60");
        memset(target, 't', sizeof(target));
        target[1000] = 0;
        T(symlink(target, "t1000"));
        st(t, "t1000");
        link_target(t, "t1000");
        memset(target, 't', sizeof(target));
        target[4095] = 0;
        T(symlink(target, "t4095"));
        st(t, "t4095");
        TR(readlink("t4095", buf, sizeof(buf)));
        memset(target, 't', sizeof(target));
        target[4096] = 0;
        T(symlink(target, "t4096"));

        /* A symlink's own attributes. */
        fd = TFD(open("lf", O_RDONLY | O_NOFOLLOW | O_PATH));
        fst(t, fd, "lf");
        T(close(fd));
        T(unlink("f"));
        stf(t, "lf");
        R(put("lf", "recreated"));
        data(t, "f");
        ls(t, ".");
}

/* rename(2): every kind of source and target. */
static void case_rename(struct conform *t)
{
        struct stat s1, s2, s3;
        char buf[64];
        int fd;

        R(put("a", "A"));
        R(put("b", "B"));
        T(rename("a", "c"));
        st(t, "a");
        data(t, "c");
        fd = TFD(open("b", O_RDONLY));
        tsnap("c", &s1);
        tsnap(".", &s2);
        settle();
        T(rename("c", "b"));
        tdiff(t, "b", &s1, TM_M | TM_C);
        tdiff(t, ".", &s2, TM_M | TM_C);
        data(t, "b");
        fst(t, fd, "old-b");
        TR(pread(fd, buf, sizeof(buf), 0));
        T(close(fd));
        T(rename("b", "b"));
        st(t, "b");
        T(link("b", "b2"));
        T(rename("b", "b2"));
        st(t, "b");
        st(t, "b2");
        T(unlink("b2"));

        /* Directories. */
        T(mkdir("d1", 0755));
        T(mkdir("d2", 0755));
        T(mkdir("d3", 0755));
        R(put("d3/f", "in d3"));
        T(rename("d1", "d2"));
        st(t, "d1");
        st(t, "d2");
        T(rename("d2", "d3"));
        T(rename("b", "d3"));
        T(rename("d3", "b"));
        T(rename("d3", "d3/sub"));
        T(mkdir("d3/sub", 0755));
        T(rename("d3", "d3/sub/x"));
        T(rename("d3", "d3/sub"));
        T(rename("d3/sub", "d3"));
        T(rename("d3", "d3"));
        T(rename("d3", "d3/"));
        T(rename(".", "x"));
        T(rename("d3/.", "x"));
        T(rename("d3/..", "x"));
        T(rename("b", "."));
        T(rename("b", "d3/.."));
        T(rename("nofile", "x"));
        T(rename("b", "nodir/x"));
        T(rename("b", "b/x"));
        T(rename("b/", "x"));
        T(rename("b", "x/"));
        T(rename("d3/", "d4/"));
        ls(t, "d4");
        T(rename("", "x"));
        T(rename("b", ""));

        /* Across directories: link counts of both parents, "..", times. */
        T(mkdir("src", 0755));
        T(mkdir("dst", 0755));
        T(mkdir("src/m", 0755));
        R(put("src/m/f", "moved"));
        st(t, "src");
        st(t, "dst");
        tsnap("src", &s1);
        tsnap("dst", &s2);
        tsnap("src/m", &s3);
        settle();
        T(rename("src/m", "dst/m"));
        tdiff(t, "src", &s1, TM_M | TM_C);
        tdiff(t, "dst", &s2, TM_M | TM_C);
        tdiff(t, "dst/m", &s3, TM_M | TM_C);
        st(t, "src");
        st(t, "dst");
        same(t, "dst/m/..", "dst");
        data(t, "dst/m/f");
        T(rename("dst/m/f", "src/f"));
        data(t, "src/f");
        T(mkdir("dst/e", 0755));
        T(rename("dst/m", "dst/e"));
        st(t, "dst");

        /* Symlinks move as themselves. */
        T(symlink("b", "lb"));
        T(rename("lb", "lb2"));
        link_target(t, "lb2");
        st(t, "b");
        R(put("over", "o"));
        T(rename("over", "lb2"));
        st(t, "lb2");
        data(t, "b");
        T(symlink("x", "lx"));
        R(put("x", "X"));
        T(rename("lx", "x"));
        link_target(t, "x");
        stf(t, "x");
        T(symlink("dst", "ldst"));
        T(rename("ldst", "src"));
        T(rename("src", "ldst"));

        /* A directory open while renamed stays usable. */
        fd = TFD(open("dst", O_RDONLY | O_DIRECTORY));
        T(rename("dst", "dst2"));
        fsame(t, fd, "fd", "dst2");
        T(mkdirat(fd, "new", 0755));
        st(t, "dst2/new");
        T(close(fd));

        /* Special files. */
        T(mkfifo("p", 0644));
        T(rename("p", "p2"));
        st(t, "p2");
        T(rename("p2", "b"));
        st(t, "b");
        ls(t, ".");
}

/* renameat2(2): RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT. */
static void case_rename2(struct conform *t)
{
        struct stat s1, s2;

        R(put("a", "A"));
        R(put("b", "B"));
        T(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE));
        data(t, "b");
        T(renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
        st(t, "a");
        T(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE));
        data(t, "c");
        data(t, "b");
        T(renameat2(AT_FDCWD, "c", AT_FDCWD, "c", RENAME_EXCHANGE));
        T(renameat2(AT_FDCWD, "c", AT_FDCWD, "c", RENAME_NOREPLACE));
        T(renameat2(AT_FDCWD, "c", AT_FDCWD, "nofile", RENAME_EXCHANGE));
        T(renameat2(AT_FDCWD, "nofile", AT_FDCWD, "c", RENAME_EXCHANGE));
        T(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE | RENAME_NOREPLACE));
        T(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", 1u << 5));
        T(symlink("nowhere", "dangling"));
        T(renameat2(AT_FDCWD, "c", AT_FDCWD, "dangling", RENAME_NOREPLACE));

        /* Directories swap whole subtrees. */
        T(mkdir("x", 0755));
        T(mkdir("y", 0755));
        R(put("x/in", "X"));
        T(mkdir("y/sub", 0755));
        T(renameat2(AT_FDCWD, "x", AT_FDCWD, "y", RENAME_EXCHANGE));
        ls(t, "x");
        ls(t, "y");
        T(renameat2(AT_FDCWD, "x", AT_FDCWD, "x/sub", RENAME_EXCHANGE));
        T(renameat2(AT_FDCWD, "x/sub", AT_FDCWD, "x", RENAME_EXCHANGE));
        T(renameat2(AT_FDCWD, "x", AT_FDCWD, "z", RENAME_NOREPLACE));
        T(renameat2(AT_FDCWD, "z", AT_FDCWD, "y", RENAME_NOREPLACE));

        /* A file with a directory, and across parents. */
        T(renameat2(AT_FDCWD, "b", AT_FDCWD, "y", RENAME_EXCHANGE));
        st(t, "b");
        st(t, "y");
        data(t, "y");
        T(mkdir("p1", 0755));
        T(mkdir("p2", 0755));
        T(mkdir("p1/d", 0755));
        R(put("p2/f", "F"));
        tsnap("p1", &s1);
        tsnap("p2", &s2);
        settle();
        T(renameat2(AT_FDCWD, "p1/d", AT_FDCWD, "p2/f", RENAME_EXCHANGE));
        tdiff(t, "p1", &s1, TM_M | TM_C);
        tdiff(t, "p2", &s2, TM_M | TM_C);
        st(t, "p1");
        st(t, "p2");
        st(t, "p1/d");
        st(t, "p2/f");
        same(t, "p2/f/..", "p2");
        T(renameat2(AT_FDCWD, "p1", AT_FDCWD, "p2/f", RENAME_EXCHANGE));
        T(symlink("p1", "lp"));
        T(renameat2(AT_FDCWD, "lp", AT_FDCWD, "p2", RENAME_EXCHANGE));
        st(t, "lp");
        st(t, "p2");
        link_target(t, "p2");

        /* RENAME_WHITEOUT leaves a 0:0 character device (root only). */
        if (!t->root) {
                skip(t, "RENAME_WHITEOUT needs root");
        } else {
                T(renameat2(AT_FDCWD, "c", AT_FDCWD, "w", RENAME_WHITEOUT));
                st(t, "c");
                data(t, "w");
        }
        ls(t, ".");
}

/* mknod(2), mkfifo(3), unix sockets; devices as root. */
static void case_mknod(struct conform *t)
{
        char buf[64];
        long sfd;
        int r, w;

        T(mkfifo("p", 0644));
        st(t, "p");
        T(mkfifo("p", 0644));
        T(mknod("p2", S_IFIFO | 0666, 0));
        st(t, "p2");
        r = TFD(open("p", O_RDONLY | O_NONBLOCK));
        w = TFD(open("p", O_WRONLY | O_NONBLOCK));
        T(write(w, "fifo", 4));
        TR(read(r, buf, sizeof(buf)));
        T(lseek(r, 0, SEEK_SET));
        T(close(w));
        T(close(r));
        T(open("p", O_WRONLY | O_NONBLOCK));
        T(truncate("p", 0));
        st(t, "p");

        sfd = R(bind_unix("s"));
        st(t, "s");
        R(connect_unix("s"));
        R(bind_unix("s"));
        T(open("s", O_RDONLY));
        if (sfd >= 0)
                T(close((int)sfd));
        T(unlink("s"));
        R(connect_unix("s"));
        T(mknod("s2", S_IFSOCK | 0644, 0));
        st(t, "s2");
        R(connect_unix("s2"));

        T(mknod("r", S_IFREG | 0600, 0));
        st(t, "r");
        T(mknod("r0", 0600, 0));
        st(t, "r0");
        T(mknod("dd", S_IFDIR | 0755, 0));
        T(mknod("bad", 0170000 | 0644, 0));
        T(mknod("r", S_IFIFO | 0644, 0));
        T(mknod("nodir/p", S_IFIFO | 0644, 0));

        if (!t->root) {
                skip(t, "character and block devices need root");
                T(mknod("c", S_IFCHR | 0644, makedev(1, 3)));
        } else {
                T(mknod("c", S_IFCHR | 0644, makedev(1, 3)));
                st(t, "c");
                w = TFD(open("c", O_WRONLY));
                T(write(w, "x", 1));
                T(close(w));
                T(mknod("b", S_IFBLK | 0600, makedev(7, 200)));
                st(t, "b");
                T(mknod("big", S_IFCHR | 0600, makedev(300, 70000)));
                st(t, "big");
                T(mknod("c0", S_IFCHR | 0600, 0));
                st(t, "c0");
                T(chmod("c", 0600));
                st(t, "c");
                T(link("c", "c2"));
                st(t, "c2");
                T(rename("c2", "c3"));
                st(t, "c3");
        }
        ls(t, ".");
}

/* chmod(2), fchmod(2), fchmodat(2); what a write or chown does to setuid. */
static void case_chmod(struct conform *t)
{
        static const mode_t modes[] = { 0600, 0, 0777, 07777, 04755, 02755, 02745, 01644, 0100644 };
        struct stat sb;
        size_t i;
        int fd;

        R(put("f", "x"));
        for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                char call[64];

                snprintf(call, sizeof(call), "chmod(\"f\", 0%o)", (unsigned)modes[i]);
                step(t, SYS(chmod("f", modes[i])), call);
                st(t, "f");
        }
        fd = TFD(open("f", O_RDONLY));
        T(fchmod(fd, 0640));
        fst(t, fd, "fd");
        T(close(fd));
        T(symlink("f", "l"));
        T(chmod("l", 0604));
        st(t, "f");
        st(t, "l");
        T(fchmodat(AT_FDCWD, "l", 0600, AT_SYMLINK_NOFOLLOW));
        T(fchmodat(AT_FDCWD, "f", 0600, AT_SYMLINK_NOFOLLOW));
        st(t, "f");
        T(chmod("nofile", 0644));
        T(chmod("f/x", 0644));
        tsnap("f", &sb);
        settle();
        T(chmod("f", 0644));
        tdiff(t, "f", &sb, TM_M | TM_C);

        T(mkdir("d", 0755));
        T(chmod("d", 02755));
        st(t, "d");
        T(chmod("d", 01777));
        st(t, "d");
        T(chmod("d", 0));
        st(t, "d");
        T(chmod("d", 0755));

        /* Set-id bits against writes and chown: a privileged writer keeps
         * them (CAP_FSETID), chown clears them on a regular file. */
        T(chmod("f", 06755));
        R(append("f", "w"));
        st(t, "f");
        T(truncate("f", 0));
        st(t, "f");
        T(chown("f", getuid(), getgid()));
        st(t, "f");
        T(chmod("f", 06755));
        T(chown("f", -1, -1));
        st(t, "f");
        T(chmod("f", 02745));
        T(chown("f", getuid(), -1));
        st(t, "f");
        T(chmod("d", 06755));
        T(chown("d", getuid(), getgid()));
        st(t, "d");
        T(mkfifo("p", 0644));
        T(chmod("p", 0600));
        st(t, "p");
}

/* chown(2), lchown(2), fchown(2), fchownat(2) as root. */
static void case_chown(struct conform *t)
{
        struct stat sb;
        int fd;

        R(put("f", "x"));
        T(mkdir("d", 0755));
        T(symlink("f", "l"));
        T(chown("f", getuid(), getgid()));
        st(t, "f");
        T(chown("nofile", 0, 0));
        if (!t->root) {
                skip(t, "chown to other users needs root");
                T(chown("f", 4242, 4243));
                T(lchown("l", 4242, 4243));
                st(t, "f");
                return;
        }
        T(chown("f", 4242, 4243));
        st(t, "f");
        T(chown("f", -1, 4244));
        st(t, "f");
        T(chown("f", 4245, -1));
        st(t, "f");
        fd = TFD(open("f", O_RDONLY));
        T(fchown(fd, 0, 0));
        fst(t, fd, "fd");
        T(close(fd));
        T(chown("l", 4242, 4242));
        st(t, "f");
        st(t, "l");
        T(lchown("l", 4243, 4243));
        st(t, "f");
        st(t, "l");
        T(fchownat(AT_FDCWD, "l", 4244, 4244, AT_SYMLINK_NOFOLLOW));
        st(t, "l");
        T(fchownat(AT_FDCWD, "l", 0, 0, 0));
        st(t, "f");
        T(chown("d", 4242, 4242));
        st(t, "d");
        T(chown("f", 2000000000, 2000000000));
        st(t, "f");
        T(chown("f", 65534, 65534));
        st(t, "f");
        tsnap("f", &sb);
        settle();
        T(chown("f", -1, -1));
        tdiff(t, "f", &sb, TM_M | TM_C);
        tsnap("f", &sb);
        settle();
        T(chown("f", 65534, 65534));
        tdiff(t, "f", &sb, TM_M | TM_C);
        T(mkfifo("p", 0644));
        T(chown("p", 4242, 4242));
        st(t, "p");
        T(mknod("c", S_IFCHR | 0644, makedev(1, 3)));
        T(chown("c", 4243, 4243));
        st(t, "c");
}

/* utimensat(2) and futimens(3): explicit times, UTIME_NOW, UTIME_OMIT. */
static void case_utimens(struct conform *t)
{
        struct stat sb;
        int fd;

        R(put("f", "x"));
        T(mkdir("d", 0755));
        T(symlink("f", "l"));
        R(utimes_set("f", 1000000000, 111111111, 1200000000, 222222222, 0));
        tm(t, "f");
        trel(t, "f");
        R(utimes_set("f", 0, UTIME_NOW, 0, UTIME_NOW, 0));
        trel(t, "f");
        R(utimes_set("f", 1000000000, 1, 1000000000, 2, 0));
        R(utimes_set("f", 0, UTIME_OMIT, 1300000000, 3, 0));
        tm(t, "f");
        R(utimes_set("f", 1100000000, 4, 0, UTIME_OMIT, 0));
        tm(t, "f");
        tsnap("f", &sb);
        settle();
        R(utimes_set("f", 0, UTIME_OMIT, 0, UTIME_OMIT, 0));
        tdiff(t, "f", &sb, TM_A | TM_M | TM_C);
        tsnap("f", &sb);
        settle();
        R(utimes_set("f", 1100000000, 4, 1300000000, 3, 0));
        tdiff(t, "f", &sb, TM_A | TM_M | TM_C);
        tsnap("f", &sb);
        settle();
        T(utimensat(AT_FDCWD, "f", NULL, 0));
        tdiff(t, "f", &sb, TM_A | TM_M | TM_C);
        trel(t, "f");
        R(utimes_set("f", 0, UTIME_NOW, 1500000000, 0, 0));
        tm_m(t, "f");
        R(utimes_set("f", 0, 0, 0, 0, 0));
        tm(t, "f");
        R(utimes_set("f", -1000, 500000000, -1, 999999999, 0));
        tm(t, "f");
        R(utimes_set("f", 4102444800, 1, 4102444800, 999999999, 0));
        tm(t, "f");
        R(utimes_set("f", 1, 0, 100000000000, 0, 0));
        tm(t, "f");
        R(utimes_set("f", 0, 1000000000, 0, 0, 0));
        R(utimes_set("f", 0, 0, 0, -1, 0));
        R(utimes_set("f", 0, UTIME_NOW, 0, UTIME_NOW, 0x8));
        T(utimensat(AT_FDCWD, "nofile", NULL, 0));

        /* Symlinks: their own times only with AT_SYMLINK_NOFOLLOW. */
        R(utimes_set("f", 1000000000, 0, 1000000000, 0, 0));
        R(utimes_set("l", 1100000000, 5, 1100000000, 6, AT_SYMLINK_NOFOLLOW));
        tm(t, "l");
        tm(t, "f");
        R(utimes_set("l", 1400000000, 7, 1400000000, 8, 0));
        tm(t, "f");
        R(utimes_set("nolink", 1, 0, 1, 0, AT_SYMLINK_NOFOLLOW));

        fd = TFD(open("f", O_RDONLY));
        R(futimens_set(fd, 1600000000, 9, 1600000000, 10));
        tm(t, "f");
        T(futimens(fd, NULL));
        trel(t, "f");
        T(close(fd));
        fd = TFD(open("f", O_PATH));
        R(futimens_set(fd, 1, 0, 1, 0));
        T(close(fd));

        R(utimes_set("d", 1700000000, 11, 1700000000, 12, 0));
        tm(t, "d");
        T(mkfifo("p", 0644));
        R(utimes_set("p", 1700000000, 13, 1700000000, 14, 0));
        tm(t, "p");
        R(utimes_set("f", 1000000000, 0, 1000000000, 0, 0));
        trel(t, "f");
}

/* Which operations mark which times, of the file and of its directory. */
static void case_times(struct conform *t)
{
        struct stat sf, sd, s2;
        char buf[16];
        int fd;

        T(mkdir("d", 0755));
        T(mkdir("d2", 0755));
        R(put("d/f", "0123456789"));
        fd = TFD(open("d/f", O_RDWR));

#define BEFORE() (tsnap("d/f", &sf), tsnap("d", &sd), settle())
#define AFTER(m) (tdiff(t, "d/f", &sf, (m)), tdiff(t, "d", &sd, TM_M | TM_C))

        BEFORE();
        T(write(fd, "w", 1));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(pwrite(fd, "p", 1, 5));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(write(fd, "", 0));
        AFTER(TM_M | TM_C);
        R(utimes_set("d/f", 1000000000, 0, 1000000000, 0, 0));
        BEFORE();
        TR(pread(fd, buf, 4, 0));
        AFTER(TM_A | TM_M | TM_C);
        BEFORE();
        TR(pread(fd, buf, 4, 0));
        AFTER(TM_A);
        BEFORE();
        T(ftruncate(fd, 20));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(ftruncate(fd, 20));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(truncate("d/f", 2));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(fchmod(fd, 0640));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(fchown(fd, -1, -1));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(fsetxattr(fd, "user.t", "1", 1, 0));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(fremovexattr(fd, "user.t"));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(link("d/f", "d/g"));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(unlink("d/g"));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(rename("d/f", "d/f2"));
        T(rename("d/f2", "d/f"));
        AFTER(TM_M | TM_C);
        BEFORE();
        tsnap("d2", &s2);
        T(rename("d/f", "d2/f"));
        T(rename("d2/f", "d/f"));
        AFTER(TM_M | TM_C);
        tdiff(t, "d2", &s2, TM_M | TM_C);
        BEFORE();
        R(map_write(fd, "mm"));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(fsync(fd));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(utimensat(AT_FDCWD, "d/f", NULL, 0));
        AFTER(TM_A | TM_M | TM_C);
        BEFORE();
        T(close(fd));
        AFTER(TM_M | TM_C);
        BEFORE();
        fd = TFD(open("d/f", O_WRONLY));
        T(close(fd));
        AFTER(TM_A | TM_M | TM_C);
        BEFORE();
        fd = TFD(open("d/f", O_WRONLY | O_CREAT, 0644));
        T(close(fd));
        AFTER(TM_M | TM_C);
        BEFORE();
        fd = TFD(open("d/new", O_WRONLY | O_CREAT, 0644));
        T(close(fd));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(mkdir("d/sub", 0755));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(rmdir("d/sub"));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(symlink("f", "d/l"));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(mkfifo("d/p", 0644));
        AFTER(TM_M | TM_C);
        BEFORE();
        T(lstat("d/f", &s2));
        T(access("d/f", R_OK));
        AFTER(TM_A | TM_M | TM_C);

        /* Reading a directory marks its atime (relatime: when older). */
        R(utimes_set("d", 1000000000, 0, 1000000000, 0, 0));
        tsnap("d", &sd);
        settle();
        ls(t, "d");
        tdiff(t, "d", &sd, TM_A | TM_M | TM_C);
#undef BEFORE
#undef AFTER
}

/*
 * One statx() observation: the basic fields there, and the birth time
 * (STATX_BTIME) with its relations, as yes/no (the times themselves differ
 * from run to run).  @prev: the same inode's earlier observation, to say
 * whether its birth time stayed.
 */
static void sx(struct conform *t, int dirfd, const char *path, int flags, const char *label,
               struct statx *ret, const struct statx *prev)
{
        struct timespec now;
        struct statx x;
        char res[64];
        long long age;
        bool born;
        long r;

        memset(&x, 0, sizeof(x));
        r = SYS(statx(dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, &x));
        if (r < 0) {
                fmt_result(res, sizeof(res), r);
                emit(t, "statx(%s) = %s", label, res);
                return;
        }
        clock_gettime(CLOCK_REALTIME, &now);
        born = x.stx_mask & STATX_BTIME;
        age = (long long)now.tv_sec - x.stx_btime.tv_sec;
        emit(t, "statx(%s) = basic %s, btime %s, btime<=ctime %s, btime recent %s, btime kept %s", label,
             (x.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS ? "yes" : "no", born ? "yes" : "no",
             !born ? "-" : x.stx_btime.tv_sec < x.stx_ctime.tv_sec ||
                     (x.stx_btime.tv_sec == x.stx_ctime.tv_sec && x.stx_btime.tv_nsec <= x.stx_ctime.tv_nsec)
                     ? "yes" : "no",
             !born ? "-" : age >= -2 && age <= 300 ? "yes" : "no",
             !born || !prev ? "-" : x.stx_btime.tv_sec == prev->stx_btime.tv_sec &&
                     x.stx_btime.tv_nsec == prev->stx_btime.tv_nsec ? "yes" : "no");
        if (ret)
                *ret = x;
}

/* statx(): the birth time of every kind of inode, kept through changes. */
static void case_statx(struct conform *t)
{
        struct statx f, d;
        int fd;

        R(put("f", "0123456789"));
        sx(t, AT_FDCWD, "f", AT_SYMLINK_NOFOLLOW, "f", &f, NULL);
        T(mkdir("d", 0755));
        sx(t, AT_FDCWD, "d", AT_SYMLINK_NOFOLLOW, "d", &d, NULL);
        T(symlink("f", "l"));
        sx(t, AT_FDCWD, "l", AT_SYMLINK_NOFOLLOW, "l", NULL, NULL);
        sx(t, AT_FDCWD, "l", 0, "l, followed", NULL, &f);
        T(mkfifo("p", 0644));
        sx(t, AT_FDCWD, "p", AT_SYMLINK_NOFOLLOW, "p", NULL, NULL);
        settle();
        fd = TFD(open("f", O_RDWR));
        T(write(fd, "w", 1));
        sx(t, fd, "", AT_EMPTY_PATH, "fd of f, written", NULL, &f);
        T(fchmod(fd, 0600));
        T(ftruncate(fd, 3));
        T(close(fd));
        sx(t, AT_FDCWD, "f", AT_SYMLINK_NOFOLLOW, "f, changed", NULL, &f);
        sx(t, AT_FDCWD, "f", AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC, "f, force sync", NULL, &f);
        sx(t, AT_FDCWD, "f", AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, "f, don't sync", NULL, &f);
        T(rename("f", "d/g"));
        T(link("d/g", "h"));
        sx(t, AT_FDCWD, "d/g", AT_SYMLINK_NOFOLLOW, "f renamed", NULL, &f);
        sx(t, AT_FDCWD, "h", AT_SYMLINK_NOFOLLOW, "f linked", NULL, &f);
        R(put("d/n", "new"));
        sx(t, AT_FDCWD, "d", AT_SYMLINK_NOFOLLOW, "d, an entry added", NULL, &d);
}

/* Extended attributes in the user. namespace (and trusted. as root). */
static void case_xattr(struct conform *t)
{
        static char big[65540];
        char buf[65540], name255[256], name256[257];
        struct stat sb;
        int fd;

        memset(big, 'v', sizeof(big));
        memcpy(name255, "user.", 5);
        memset(name255 + 5, 'x', 250);
        name255[255] = 0;
        memcpy(name256, "user.", 5);
        memset(name256 + 5, 'x', 251);
        name256[256] = 0;

        R(put("f", "x"));
        T(mkdir("d", 0755));
        T(symlink("f", "l"));
        T(mkfifo("p", 0644));
        xl(t, "f");
        TR(getxattr("f", "user.a", buf, sizeof(buf)));
        T(setxattr("f", "user.a", "v1", 2, 0));
        TR(getxattr("f", "user.a", buf, sizeof(buf)));
        T(getxattr("f", "user.a", NULL, 0));
        TR(getxattr("f", "user.a", buf, 1));
        T(setxattr("f", "user.a", "v2", 2, XATTR_CREATE));
        TR(getxattr("f", "user.a", buf, sizeof(buf)));
        T(setxattr("f", "user.a", "v3", 2, XATTR_REPLACE));
        TR(getxattr("f", "user.a", buf, sizeof(buf)));
        T(setxattr("f", "user.b", "v", 1, XATTR_REPLACE));
        T(setxattr("f", "user.b", "v", 1, XATTR_CREATE));
        T(setxattr("f", "user.b", "v", 1, XATTR_CREATE | XATTR_REPLACE));
        T(setxattr("f", "user.b", "v", 1, 0x10));
        T(setxattr("f", "user.a", "a longer value", 14, 0));
        TR(getxattr("f", "user.a", buf, sizeof(buf)));
        T(setxattr("f", "user.a", "s", 1, 0));
        TR(getxattr("f", "user.a", buf, sizeof(buf)));
        T(setxattr("f", "user.empty", "", 0, 0));
        TR(getxattr("f", "user.empty", buf, sizeof(buf)));
        T(setxattr("f", "user.bin", "\0\1\2\377", 4, 0));
        TR(getxattr("f", "user.bin", buf, sizeof(buf)));
        T(setxattr("f", "user.\xc3\xa9 sp", "u", 1, 0));
        xl(t, "f");
        T(listxattr("f", buf, 0) >= 0);
        T(listxattr("f", buf, 1));
        T(removexattr("f", "user.b"));
        T(removexattr("f", "user.b"));
        TR(getxattr("f", "user.b", buf, sizeof(buf)));
        xl(t, "f");

        /* Sizes: empty and long names, big values. */
        T(setxattr("f", "user.", "v", 1, 0));
        T(setxattr("f", "", "v", 1, 0));
        T(setxattr("f", name255, "v", 1, 0));
        T(setxattr("f", name256, "v", 1, 0));
        T(getxattr("f", name256, buf, sizeof(buf)));
        T(removexattr("f", name255));
        T(setxattr("f", "user.v1000", big, 1000, 0));
        TR(getxattr("f", "user.v1000", buf, sizeof(buf)));
        T(removexattr("f", "user.v1000"));
        T(setxattr("f", "user.v3000", big, 3000, 0));
        TR(getxattr("f", "user.v3000", buf, sizeof(buf)));
        T(removexattr("f", "user.v3000"));
        T(setxattr("f", "user.v4000", big, 4000, 0));
        T(removexattr("f", "user.v4000"));
        T(setxattr("f", "user.v65536", big, 65536, 0));
        T(removexattr("f", "user.v65536"));
        T(setxattr("f", "user.v65537", big, 65537, 0));
        xl(t, "f");

        /* Namespaces and file types. */
        T(setxattr("f", "foo.bar", "v", 1, 0));
        T(getxattr("f", "foo.bar", buf, sizeof(buf)));
        T(setxattr("f", "user", "v", 1, 0));
        T(setxattr("d", "user.dir", "dv", 2, 0));
        TR(getxattr("d", "user.dir", buf, sizeof(buf)));
        xl(t, "d");
        TR(getxattr("l", "user.a", buf, sizeof(buf)));
        TR(lgetxattr("l", "user.a", buf, sizeof(buf)));
        T(lsetxattr("l", "user.a", "v", 1, 0));
        T(setxattr("p", "user.a", "v", 1, 0));
        TR(getxattr("p", "user.a", buf, sizeof(buf)));
        T(removexattr("nofile", "user.a"));
        T(getxattr("nofile", "user.a", buf, sizeof(buf)));

        /* Through descriptors, a rename, a hard link; times. */
        fd = TFD(open("f", O_RDONLY));
        T(fsetxattr(fd, "user.fd", "viafd", 5, 0));
        TR(fgetxattr(fd, "user.fd", buf, sizeof(buf)));
        T(flistxattr(fd, buf, sizeof(buf)) > 0);
        T(fremovexattr(fd, "user.fd"));
        T(close(fd));
        T(rename("f", "g"));
        T(link("g", "h"));
        xl(t, "h");
        TR(getxattr("h", "user.a", buf, sizeof(buf)));
        tsnap("g", &sb);
        settle();
        T(setxattr("g", "user.t", "1", 1, 0));
        tdiff(t, "g", &sb, TM_M | TM_C);
        tsnap("g", &sb);
        settle();
        T(setxattr("g", "user.t", "1", 1, XATTR_CREATE));
        tdiff(t, "g", &sb, TM_M | TM_C);

        if (!t->root) {
                skip(t, "trusted.* xattrs need root");
        } else {
                T(setxattr("g", "trusted.conform", "tv", 2, 0));
                TR(getxattr("g", "trusted.conform", buf, sizeof(buf)));
                T(lsetxattr("l", "trusted.conform", "lv", 2, 0));
                TR(lgetxattr("l", "trusted.conform", buf, sizeof(buf)));
                T(removexattr("g", "trusted.conform"));
        }
}

/* statfs(2) and statvfs(3): relations only, the numbers are the system's. */
static void case_statfs(struct conform *t)
{
        struct statfs sf, sf2;
        struct statvfs sv;
        int fd;
        long r;

        R(put("f", "x"));
        r = SYS(statfs(".", &sf));
        emit(t, "statfs(\".\") = %ld bsize>0 %s, blocks>=bfree %s, bfree>=bavail %s, "
             "files>=ffree %s, namelen=%ld", r, sf.f_bsize > 0 ? "yes" : "no",
             sf.f_blocks >= sf.f_bfree ? "yes" : "no", sf.f_bfree >= sf.f_bavail ? "yes" : "no",
             sf.f_files >= sf.f_ffree ? "yes" : "no", (long)sf.f_namelen);
        fd = TFD(open("f", O_RDONLY));
        r = SYS(fstatfs(fd, &sf2));
        emit(t, "fstatfs(fd) = %ld f_type same %s, bsize same %s", r,
             sf.f_type == sf2.f_type ? "yes" : "no", sf.f_bsize == sf2.f_bsize ? "yes" : "no");
        T(close(fd));
        r = SYS(statvfs("f", &sv));
        emit(t, "statvfs(\"f\") = %ld frsize>0 %s, namemax=%lu, rdonly %s", r,
             sv.f_frsize > 0 ? "yes" : "no", (unsigned long)sv.f_namemax,
             sv.f_flag & ST_RDONLY ? "yes" : "no");
        T(statfs("nofile", &sf));
        T(statfs("f/x", &sf));
        T(mkdir("d", 0755));
        r = SYS(statfs("d", &sf2));
        emit(t, "statfs(\"d\") = %ld f_type same %s", r, sf.f_type == sf2.f_type ? "yes" : "no");
}

/* fallocate(2): allocation, keep-size, punching holes. */
static void case_fallocate(struct conform *t)
{
        blkcnt_t b = 0;
        char buf[64];
        int fd;

        fd = TFD(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
        blocks(t, fd, &b);
        T(fallocate(fd, 0, 0, 8192));
        blocks(t, fd, &b);
        TR(pread(fd, buf, 8, 4096));
        T(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 1 << 20));
        blocks(t, fd, &b);
        T(fallocate(fd, 0, 0, 100));
        blocks(t, fd, &b);
        R(fill(fd, 'q', 0, 16384));
        blocks(t, fd, &b);
        T(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096));
        blocks(t, fd, &b);
        TR(pread(fd, buf, 4, 4094));
        T(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
        T(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 10));
        TR(pread(fd, buf, 4, 98));
        T(fallocate(fd, 0, 0, 0));
        T(fallocate(fd, 0, -1, 10));
        T(fallocate(fd, 0x100, 0, 10));
        T(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 10));
        TR(pread(fd, buf, 12, 0));
        R(fill(fd, 'a', 0, 4096));
        R(fill(fd, 'b', 4096, 4096));
        R(fill(fd, 'c', 8192, 4096));
        R(fill(fd, 'd', 12288, 4096));
        T(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 4096, 4096));
        fst(t, fd, "fd");
        TR(pread(fd, buf, 1, 4096));
        T(close(fd));
        fd = TFD(open("f", O_RDONLY));
        T(fallocate(fd, 0, 0, 10));
        T(close(fd));
        T(mkdir("d", 0755));
        fd = TFD(open("d", O_RDONLY));
        T(fallocate(fd, 0, 0, 10));
        T(close(fd));
        T(mkfifo("p", 0644));
        fd = TFD(open("p", O_RDWR));
        T(fallocate(fd, 0, 0, 10));
        T(close(fd));
}

/* Directory listings after creates, renames and unlinks; telldir. */
static void case_readdir(struct conform *t)
{
        char buf[4096];
        long tell;
        DIR *d;
        int fd, i;

        T(mkdir("d", 0755));
        ls(t, "d");
        R(put("d/a", "a"));
        R(put("d/b", "b"));
        T(mkdir("d/sub", 0755));
        T(symlink("a", "d/la"));
        T(mkfifo("d/p", 0644));
        ls(t, "d");
        T(rename("d/a", "d/z"));
        T(unlink("d/b"));
        T(rename("d/sub", "d/sub2"));
        ls(t, "d");
        T(link("d/z", "d/z2"));
        T(rmdir("d/sub2"));
        ls(t, "d");

        /* Three hundred entries, every other one removed; long names. */
        T(mkdir("many", 0755));
        R(entries("many", 300, 1, false));
        ls(t, "many");
        R(entries("many", 300, 2, true));
        ls(t, "many");
        T(mkdir("long", 0755));
        R(wide_entries("long", 120));
        ls(t, "long");

        /* telldir()/seekdir() come back to the same entry. */
        d = opendir("many");
        for (i = 0; d && i < 100; i++)
                (void)readdir(d);
        tell = d ? telldir(d) : -1;
        if (d) {
                struct dirent *de = readdir(d);
                char first[300];

                snprintf(first, sizeof(first), "%s", de ? de->d_name : "");
                seekdir(d, tell);
                de = readdir(d);
                emit(t, "seekdir(telldir()) = %s", de && strcmp(de->d_name, first) == 0 ?
                     "same entry" : "different entry");
                rewinddir(d);
                de = readdir(d);
                R(put("many/after-rewind", ""));
                rewinddir(d);
                for (i = 0; (de = readdir(d)); )
                        i += strcmp(de->d_name, "after-rewind") == 0;
                emit(t, "rewinddir() sees a new entry = %d", i);
                closedir(d);
        } else {
                step(t, -errno, "opendir(\"many\")");
        }

        /* getdents on a non-directory, and on a removed directory. */
        fd = TFD(open("d/z", O_RDONLY));
        T(syscall(SYS_getdents64, fd, buf, sizeof(buf)));
        T(close(fd));
        T(mkdir("gone", 0755));
        fd = TFD(open("gone", O_RDONLY | O_DIRECTORY));
        T(rmdir("gone"));
        fst(t, fd, "gone");
        T(syscall(SYS_getdents64, fd, buf, sizeof(buf)));
        T(openat(fd, "x", O_WRONLY | O_CREAT, 0644));
        T(close(fd));
        ls(t, ".");
}

/* O_TMPFILE: an unnamed file that linkat() can name. */
static void case_tmpfile(struct conform *t)
{
        char proc[64], buf[64];
        int fd;

        fd = TFD(open(".", O_TMPFILE | O_RDWR, 0600));
        T(write(fd, "tmp", 3));
        fst(t, fd, "tmp");
        ls(t, ".");
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        T(linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
        st(t, "named");
        data(t, "named");
        fst(t, fd, "tmp");
        fsame(t, fd, "tmp", "named");
        T(close(fd));

        fd = TFD(open(".", O_TMPFILE | O_WRONLY | O_EXCL, 0640));
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        T(linkat(AT_FDCWD, proc, AT_FDCWD, "excl", AT_SYMLINK_FOLLOW));
        T(close(fd));

        fd = TFD(open(".", O_TMPFILE | O_RDWR, 0644));
        T(pwrite(fd, "empty-path", 10, 0));
        if (t->root) {
                T(linkat(fd, "", AT_FDCWD, "viaempty", AT_EMPTY_PATH));
                data(t, "viaempty");
        } else {
                skip(t, "linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH");
        }
        T(close(fd));

        T(open("named", O_TMPFILE | O_RDWR, 0600));
        T(open(".", O_TMPFILE | O_RDONLY, 0600));
        T(mkdir("d", 0755));
        fd = TFD(open("d", O_TMPFILE | O_RDWR, 0600));
        fst(t, fd, "tmp-in-d");
        T(close(fd));

        /* An unlinked ordinary file cannot be linked back. */
        fd = TFD(open("named", O_RDONLY));
        T(unlink("named"));
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        T(linkat(AT_FDCWD, proc, AT_FDCWD, "back", AT_SYMLINK_FOLLOW));
        TR(pread(fd, buf, sizeof(buf), 0));
        T(close(fd));
        ls(t, ".");
}

/* Another process: the parent holds a POSIX lock on bytes 0-9 and an flock(). */
static void locks_child(struct conform *t)
{
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        int fd = TFD(open("f", O_RDWR));

        T(fcntl(fd, F_SETLK, &fl));
        fl.l_start = 10;
        T(fcntl(fd, F_SETLK, &fl));
        fl.l_start = 5;
        fl.l_len = 1;
        T(fcntl(fd, F_GETLK, &fl));
        emit(t, "F_GETLK = type %s start=%lld len=%lld pid %s",
             fl.l_type == F_WRLCK ? "F_WRLCK" : fl.l_type == F_UNLCK ? "F_UNLCK" : "other",
             (long long)fl.l_start, (long long)fl.l_len,
             fl.l_pid == getppid() ? "parent" : "other");
        T(flock(fd, LOCK_EX | LOCK_NB));
        T(flock(fd, LOCK_SH | LOCK_NB));
        T(close(fd));
}

/* POSIX record locks, OFD locks and flock() between processes. */
static void case_locks(struct conform *t)
{
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        int fd, fd2;

        R(put("f", "0123456789abcdef"));
        fd = TFD(open("f", O_RDWR));
        T(fcntl(fd, F_SETLK, &fl));
        T(flock(fd, LOCK_EX));
        in_child(t, NULL, locks_child);
        fd2 = TFD(open("f", O_RDWR));
        T(fcntl(fd2, F_SETLK, &fl));
        T(flock(fd2, LOCK_EX | LOCK_NB));
        fl.l_pid = 0;
        T(fcntl(fd2, F_OFD_SETLK, &fl));
        T(fcntl(fd, F_OFD_SETLK, &fl));
        fl.l_type = F_UNLCK;
        T(fcntl(fd, F_SETLK, &fl));
        T(flock(fd, LOCK_UN));
        T(flock(fd2, LOCK_EX | LOCK_NB));
        T(close(fd2));
        fd2 = TFD(open("f", O_RDONLY));
        fl.l_type = F_WRLCK;
        T(fcntl(fd2, F_SETLK, &fl));
        T(close(fd2));
        T(close(fd));
}

/* fsync and friends only have to succeed (or fail the same way). */
static void case_fsync(struct conform *t)
{
        int fd;

        R(put("f", "sync me"));
        fd = TFD(open("f", O_RDWR));
        T(fsync(fd));
        T(fdatasync(fd));
        T(syncfs(fd));
        T(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                          SYNC_FILE_RANGE_WAIT_AFTER));
        T(close(fd));
        fd = TFD(open("f", O_RDONLY));
        T(fsync(fd));
        T(close(fd));
        fd = TFD(open(".", O_RDONLY | O_DIRECTORY));
        T(fsync(fd));
        T(close(fd));
        fd = TFD(open("f", O_PATH));
        T(fsync(fd));
        T(close(fd));
        T(mkfifo("p", 0644));
        fd = TFD(open("p", O_RDWR));
        T(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
        T(close(fd));
        fd = TFD(open("f", O_RDWR | O_DIRECT));
        T(close(fd));
        fd = TFD(open("f", O_RDWR | O_SYNC));
        T(write(fd, "synced", 6));
        T(close(fd));
        data(t, "f");
}

/* execve(2) of files in the directory; a running program is busy. */
static void case_exec(struct conform *t)
{
        pid_t pid = 0;
        int fd;

        R(put("script", "#!/bin/sh\nexit 7\n"));
        T(chmod("script", 0755));
        R(run_exec("./script"));
        T(access("script", X_OK));
        T(chmod("script", 0644));
        R(run_exec("./script"));
        T(access("script", X_OK));
        T(chmod("script", 0744));
        R(run_exec("./script"));
        T(access("script", X_OK));
        T(chmod("script", 0));
        T(access("script", R_OK));
        T(access("script", X_OK));
        T(mkdir("d", 0755));
        R(run_exec("./d"));
        R(run_exec("./nofile"));
        R(put("empty", ""));
        T(chmod("empty", 0755));
        R(run_exec("./empty"));

        if (access("/bin/sleep", X_OK) < 0) {
                skip(t, "no /bin/sleep to copy");
                return;
        }
        R(copy_file("/bin/sleep", "prog", 0755));
        R(spawn("./prog", "60", &pid));
        T(open("prog", O_WRONLY));
        fd = TFD(open("prog", O_RDONLY));
        T(close(fd));
        T(rename("prog", "prog2"));
        T(unlink("prog2"));
        R(stop(pid));
}

/* Run as user 4242: read, write, execute and search permission. */
static void perm_user(struct conform *t)
{
        char buf[64];
        int fd;

        T(open("r600", O_RDONLY));
        fd = TFD(open("r604", O_RDONLY));
        T(close(fd));
        T(open("r604", O_WRONLY));
        fd = TFD(open("r640g", O_RDONLY));
        T(close(fd));
        T(open("r604g", O_RDONLY));
        T(open("own066", O_RDONLY));
        fd = TFD(open("w646", O_WRONLY));
        T(write(fd, "w", 1));
        T(close(fd));
        T(truncate("w646", 0));
        T(truncate("r604", 0));
        T(access("r600", R_OK));
        T(access("r604", R_OK));
        T(access("r604", W_OK));
        T(access("x755", X_OK));
        T(access("x644", X_OK));
        T(faccessat(AT_FDCWD, "r640g", R_OK, AT_EACCESS));
        R(run_exec("./x644"));
        R(run_exec("./x755"));
        R(run_exec("./x705"));
        R(run_exec("./x750"));

        /* Search (x) and read (r) on directories are separate rights. */
        st(t, "noexec/f");
        T(open("noexec/f", O_RDONLY));
        ls(t, "noexec");
        T(open("noread", O_RDONLY | O_DIRECTORY));
        data(t, "noread/inside");
        st(t, "noread/inside");

        /* Changing a directory needs write and search on it. */
        T(open("ro/new", O_WRONLY | O_CREAT, 0644));
        T(unlink("ro/victim"));
        T(rename("ro/victim", "moved"));
        T(link("ro/victim", "linked"));
        T(mkdir("ro/sub", 0755));
        T(rmdir("ro/empty"));
        T(symlink("x", "ro/l"));
        T(mkfifo("ro/p", 0644));
        fd = TFD(open("ro/victim", O_WRONLY));
        T(write(fd, "v", 1));
        T(close(fd));
        fd = TFD(open("wx/new", O_WRONLY | O_CREAT, 0644));
        T(close(fd));
        ls(t, "wx");
        st(t, "wx/new");

        /* Moving a directory to another parent rewrites its "..". */
        T(rename("dirmove/dd", "dirmove/sub/dd"));
        T(rename("dirmove/dd", "dirmove/dd2"));
        T(rename("dirmove/dd2", "dirmove/dd"));

        T(open("theirs", O_RDONLY | O_NOATIME));
        fd = TFD(open("mine", O_RDONLY | O_NOATIME));
        TR(read(fd, buf, 4));
        T(close(fd));
        T(link("hl_target", "hl"));
        T(link("mine", "mine2"));
        T(mknod("chr", S_IFCHR | 0644, makedev(1, 3)));
        T(mkfifo("fifo", 0644));

        /* What the user creates is the user's, with its primary group. */
        fd = TFD(open("created", O_WRONLY | O_CREAT | O_EXCL, 0666));
        T(close(fd));
        st(t, "created");
        T(mkdir("createddir", 0777));
        st(t, "createddir");
        T(symlink("created", "createdlink"));
        st(t, "createdlink");
        st(t, "fifo");
}

/*
 * Access checks as a non-root user.  Root sets up files and directories of
 * 4243, of root and of 4242 itself, with modes that make the owner, group
 * and other classes matter (a matching class without the bit denies even
 * when "other" would allow).
 */
static void case_perm(struct conform *t)
{
        if (!t->root) {
                skip(t, "switching to test users needs root");
                return;
        }
        T(chmod(".", 0777));
        R(mkown("r600", 0600, 4243, 4243));
        R(mkown("r604", 0604, 4243, 4243));
        R(mkown("r640g", 0640, 4243, 4244));
        R(mkown("r604g", 0604, 4243, 4242));
        R(mkown("own066", 0066, 4242, 4243));
        R(mkown("w646", 0646, 4243, 4243));
        R(mkown("x644", 0644, 4242, 4242));
        R(mkown("x755", 0755, 4243, 4243));
        R(mkown("x705", 0705, 4243, 4242));
        R(mkown("x750", 0750, 4243, 4244));
        R(mkown("theirs", 0644, 4243, 4243));
        R(mkown("mine", 0644, 4242, 4242));
        R(mkown("hl_target", 0600, 4243, 4243));
        R(mkdirown("noexec", 0755, 4243, 4243));
        R(put("noexec/f", "f"));
        T(chmod("noexec", 0644));
        R(mkdirown("noread", 0711, 4243, 4243));
        R(put("noread/inside", "inside"));
        R(mkdirown("ro", 0755, 0, 0));
        R(mkown("ro/victim", 0666, 0, 0));
        T(mkdir("ro/empty", 0777));
        R(mkdirown("wx", 0733, 0, 0));
        R(mkdirown("dirmove", 0777, 0, 0));
        R(mkdirown("dirmove/sub", 0777, 0, 0));
        R(mkdirown("dirmove/dd", 0755, 0, 0));
        in_child(t, &user_me, perm_user);
        ls(t, ".");
        st(t, "ro/victim");
}

/* The sticky bit: others' files in a world-writable directory. */
static void sticky_user(struct conform *t)
{
        int fd;

        T(unlink("tmp/theirs"));
        T(rename("tmp/theirs", "tmp/x"));
        T(rename("tmp/theirs", "x"));
        T(rename("tmp/mine", "tmp/theirs"));
        T(rmdir("tmp/theirdir"));
        T(rename("tmp/theirdir", "tmp/mydir"));
        fd = TFD(open("tmp/theirs_rw", O_WRONLY));
        T(write(fd, "ok", 2));
        T(close(fd));
        T(unlink("tmp/theirs_rw"));
        T(setxattr("tmp", "user.x", "1", 1, 0));
        T(setxattr("tmp/theirs_rw", "user.x", "1", 1, 0));
        T(rename("tmp/mine", "tmp/mine2"));
        T(unlink("tmp/mine2"));
        fd = TFD(open("tmp/new", O_WRONLY | O_CREAT | O_EXCL, 0644));
        T(close(fd));
        st(t, "tmp/new");
        T(mkdir("tmp/newdir", 0755));
        T(rmdir("tmp/newdir"));
        T(unlink("mytmp/theirs"));
        T(rename("plain/theirs", "plain/moved"));
        T(unlink("plain/moved"));
}

/* Root sets up a sticky /tmp-like directory for sticky_user(); root itself
 * may remove anything. */
static void case_sticky(struct conform *t)
{
        if (!t->root) {
                skip(t, "switching to test users needs root");
                return;
        }
        T(chmod(".", 0755));
        T(mkdir("tmp", 01777));
        st(t, "tmp");
        T(chmod("tmp", 01777));
        st(t, "tmp");
        R(mkown("tmp/theirs", 0644, 4243, 4243));
        R(mkown("tmp/theirs_rw", 0666, 4243, 4243));
        R(mkown("tmp/mine", 0644, 4242, 4242));
        R(mkdirown("tmp/theirdir", 0777, 4243, 4243));
        R(mkdirown("mytmp", 01777, 4242, 4242));
        R(mkown("mytmp/theirs", 0644, 4243, 4243));
        R(mkdirown("plain", 0777, 0, 0));
        R(mkown("plain/theirs", 0644, 4243, 4243));
        in_child(t, &user_me, sticky_user);
        T(unlink("tmp/theirs"));
        ls(t, "tmp");
        ls(t, "mytmp");
}

/* setgid directories: group inheritance. */
static void setgid_user(struct conform *t)
{
        int fd;

        fd = TFD(open("sg/f", O_WRONLY | O_CREAT | O_EXCL, 0644));
        T(close(fd));
        st(t, "sg/f");
        T(mkdir("sg/sub", 0755));
        st(t, "sg/sub");
        T(mkdir("sg/sub/deeper", 0700));
        st(t, "sg/sub/deeper");
        fd = TFD(open("sg/sgidfile", O_WRONLY | O_CREAT | O_EXCL, 02755));
        T(close(fd));
        st(t, "sg/sgidfile");
        T(mkfifo("sg/p", 0644));
        st(t, "sg/p");
        T(symlink("f", "sg/l"));
        st(t, "sg/l");
        T(chmod("sg/f", 02644));
        st(t, "sg/f");
        T(chown("sg/f", -1, 4244));
        T(chmod("sg/f", 02644));
        st(t, "sg/f");
        T(chmod("sg/sub", 0755));
        st(t, "sg/sub");
        T(chmod("sg/sub", 02755));
        st(t, "sg/sub");
        T(mkdir("sg/sub/after", 0755));
        st(t, "sg/sub/after");
        fd = TFD(open("plain/f", O_WRONLY | O_CREAT | O_EXCL, 0644));
        T(close(fd));
        st(t, "plain/f");
        T(mkdir("plain/d", 02755));
        st(t, "plain/d");
        T(rename("plain/f", "sg/moved"));
        st(t, "sg/moved");
}

/* Root makes a setgid directory of group 4245, which 4242 is not in. */
static void case_setgid(struct conform *t)
{
        int fd;

        if (!t->root) {
                skip(t, "switching to test users needs root");
                return;
        }
        R(mkdirown("sg", 02777, 0, 4245));
        st(t, "sg");
        R(mkdirown("plain", 0777, 0, 0));
        in_child(t, &user_me, setgid_user);
        fd = TFD(open("sg/rootfile", O_WRONLY | O_CREAT | O_EXCL, 02755));
        T(close(fd));
        st(t, "sg/rootfile");
        T(mkdir("sg/rootdir", 0755));
        st(t, "sg/rootdir");
        T(rename("sg/rootdir", "rootdir"));
        st(t, "rootdir");
}

/* Who may change a file's mode, owner and times, and set-id clearing. */
static void owner_user(struct conform *t)
{
        T(chmod("mine", 0600));
        st(t, "mine");
        T(chmod("mine", 04755));
        st(t, "mine");
        T(chmod("mine", 01644));
        st(t, "mine");
        T(chmod("theirs", 0600));
        T(chmod("theirs_rw", 0600));
        T(chown("mine", 4243, -1));
        T(chown("mine", -1, 4244));
        st(t, "mine");
        T(chown("mine", -1, 4245));
        T(chown("mine", 4242, 4242));
        st(t, "mine");
        T(chown("mine", -1, -1));
        T(chown("theirs", -1, 4244));
        T(chown("theirs", -1, -1));
        T(chown("theirs", 4243, 4243));

        R(utimes_set("mine", 1000000000, 1, 1000000000, 2, 0));
        tm(t, "mine");
        R(utimes_set("theirs_rw", 1000000000, 1, 1000000000, 2, 0));
        R(utimes_set("theirs_rw", 0, UTIME_NOW, 0, UTIME_NOW, 0));
        trel(t, "theirs_rw");
        T(utimensat(AT_FDCWD, "theirs_rw", NULL, 0));
        R(utimes_set("theirs_rw", 0, UTIME_OMIT, 0, UTIME_NOW, 0));
        R(utimes_set("theirs_rw", 0, UTIME_OMIT, 0, UTIME_OMIT, 0));
        R(utimes_set("theirs", 0, UTIME_NOW, 0, UTIME_NOW, 0));
        T(utimensat(AT_FDCWD, "theirs", NULL, 0));

        T(setxattr("theirs", "user.x", "1", 1, 0));
        T(setxattr("theirs_rw", "user.x", "1", 1, 0));
        T(setxattr("mine", "user.x", "1", 1, 0));
        T(truncate("theirs", 0));
        T(truncate("theirs_rw", 1));

        /* A write, or a truncation, by anyone without CAP_FSETID clears
         * setuid, and setgid where group execute is set. */
        R(append("suid_rw", "w"));
        st(t, "suid_rw");
        R(append("suid_nogx", "w"));
        st(t, "suid_nogx");
        R(append("sgid_gx", "w"));
        st(t, "sgid_gx");
        R(append("suid_mine", "w"));
        st(t, "suid_mine");
        T(truncate("suid_trunc", 1));
        st(t, "suid_trunc");
        T(chmod("mine", 02755));
        st(t, "mine");
        T(chmod("mine_g4244", 02755));
        st(t, "mine_g4244");
}

/* Root sets up files of 4242 and 4243, some set-id, for owner_user(). */
static void case_owner(struct conform *t)
{
        if (!t->root) {
                skip(t, "switching to test users needs root");
                return;
        }
        T(chmod(".", 0777));
        R(mkown("mine", 0644, 4242, 4242));
        R(mkown("mine_g4244", 0644, 4242, 4244));
        R(mkown("theirs", 0644, 4243, 4243));
        R(mkown("theirs_rw", 0666, 4243, 4243));
        R(mkown("suid_rw", 06777, 4243, 4243));
        R(mkown("suid_nogx", 06767, 4243, 4243));
        R(mkown("sgid_gx", 02777, 4243, 4243));
        R(mkown("suid_mine", 06755, 4242, 4242));
        R(mkown("suid_trunc", 06777, 4243, 4243));
        st(t, "suid_rw");
        in_child(t, &user_me, owner_user);
        st(t, "theirs_rw");
        st(t, "mine");
}

static const struct conform_case {
        const char *name;
        void (*run)(struct conform *t);
} cases[] = {
        { "open", case_open },
        { "names", case_names },
        { "rw", case_rw },
        { "truncate", case_truncate },
        { "dirs", case_dirs },
        { "unlink", case_unlink },
        { "link", case_link },
        { "symlink", case_symlink },
        { "rename", case_rename },
        { "rename2", case_rename2 },
        { "mknod", case_mknod },
        { "chmod", case_chmod },
        { "chown", case_chown },
        { "utimens", case_utimens },
        { "times", case_times },
        { "statx", case_statx },
        { "xattr", case_xattr },
        { "statfs", case_statfs },
        { "fallocate", case_fallocate },
        { "readdir", case_readdir },
        { "tmpfile", case_tmpfile },
        { "locks", case_locks },
        { "fsync", case_fsync },
        { "exec", case_exec },
        { "perm", case_perm },
        { "sticky", case_sticky },
        { "setgid", case_setgid },
        { "owner", case_owner },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/*
 * Make DIR/NAME a neutral place to run in: mode 0755 exactly (no setgid
 * inherited from above), our group, no ACLs that would override the umask.
 * Returns an O_DIRECTORY descriptor or -errno.
 */
static int case_dir(int top, const char *name)
{
        int fd, r;

        if (mkdirat(top, name, 0755) < 0)
                return -errno;
        fd = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchown(fd, (uid_t)-1, getegid()) < 0 || fchmod(fd, 0755) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        (void)fremovexattr(fd, "system.posix_acl_default");
        (void)fremovexattr(fd, "system.posix_acl_access");
        return fd;
}

/* Run one case in its own process: a crash or a hang is reported, and the
 * next case starts clean (no leaked descriptors, locks or credentials). */
static int run_case(int top, const struct conform_case *c, struct counters *cnt, bool root)
{
        struct conform t = { .name = c->name, .root = root, .cnt = cnt };
        int fd, status;
        pid_t pid;

        fd = case_dir(top, c->name);
        if (fd < 0) {
                fprintf(stderr, "conform: cannot create case directory '%s': %s\n",
                        c->name, strerror(-fd));
                return fd;
        }
        cnt->step = 0;
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "conform: cannot fork for case '%s': %m\n", c->name);
                close(fd);
                return -1;
        }
        if (pid == 0) {
                if (fchdir(fd) < 0) {
                        fprintf(stderr, "conform: cannot enter case '%s': %m\n", c->name);
                        _exit(2);
                }
                close(fd);
                alarm(CASE_TIMEOUT_S);
                c->run(&t);
                fflush(stdout);
                _exit(0);
        }
        close(fd);
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (WIFSIGNALED(status))
                emit(&t, "CRASH killed by signal %s", sigabbrev_np(WTERMSIG(status)) ?: "?");
        else if (WEXITSTATUS(status))
                return -EIO;
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: conform [-l] [-c CASE]... DIR\n"
                "Run the file-system conformance cases in fresh subdirectories of DIR\n"
                "and print a transcript that depends only on file-system semantics.\n"
                "  -l       list the cases\n"
                "  -c CASE  run only CASE (repeatable)\n");
}

int main(int argc, char **argv)
{
        const char *only[NCASES];
        struct counters *cnt;
        size_t nonly = 0, i, j;
        bool root;
        int opt, top;

        while ((opt = getopt(argc, argv, "lc:h")) != -1) {
                switch (opt) {
                case 'l':
                        for (i = 0; i < NCASES; i++)
                                puts(cases[i].name);
                        return 0;
                case 'c':
                        for (i = 0; i < NCASES && strcmp(cases[i].name, optarg); i++)
                                ;
                        if (i == NCASES || nonly == NCASES) {
                                fprintf(stderr, "conform: unknown case '%s' (see -l)\n", optarg);
                                return 2;
                        }
                        only[nonly++] = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return 2;
        }

        umask(022);
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);
        top = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0) {
                fprintf(stderr, "conform: cannot open '%s': %m\n", argv[optind]);
                return 2;
        }
        cnt = mmap(NULL, sizeof(*cnt), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (cnt == MAP_FAILED) {
                fprintf(stderr, "conform: cannot map counters: %m\n");
                return 2;
        }
        root = geteuid() == 0;
        printf("conform root=%s\n", root ? "yes" : "no");
        for (i = 0; i < NCASES; i++) {
                for (j = 0; j < nonly && strcmp(only[j], cases[i].name); j++)
                        ;
                if (nonly && j == nonly)
                        continue;
                if (run_case(top, &cases[i], cnt, root) < 0)
                        return 2;
        }
        printf("conform end: %u steps, %u skipped\n", cnt->total, cnt->skipped);
        close(top);
        return 0;
}
