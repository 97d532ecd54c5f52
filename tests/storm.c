/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * storm.c: a seeded, reproducible storm of random namespace and data
 * operations by several processes on a small shared set of names.
 *
 * `storm [-s SEED] [-p PROCS] [-n OPS] [-d DIR] [-u UID]... [-k KINDS] [-v]` forks
 * PROCS processes that each do OPS random operations beneath DIR: create,
 * write at a random offset (sometimes far out, leaving a hole), append,
 * truncate up and down, rename of files and of directories (plain,
 * RENAME_NOREPLACE, RENAME_EXCHANGE), hard links (of the name, or of what
 * it leads to), symlinks (relative, dangling, looping, escaping), chmod,
 * chown and lchown (to uid and gid 0 and every -u UID), setxattr and
 * removexattr of user.* (following and not following a symlink), utimensat
 * with nanosecond times (following and not), unlink, rmdir, mkdir,
 * fsync/fdatasync and mmap writes.  All of them pick among the same 44
 * names (directories a, b, a/c, b/d, and n0..n7 in each of them and in DIR
 * itself), so the processes keep colliding: renaming what another just
 * removed, writing what another turned into a directory.
 *
 * A failure with an errno that such races make legitimate for that kind of
 * operation (ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, ELOOP, EINVAL for
 * a directory renamed into itself, EXDEV for a symlink leading out of DIR,
 * ...: the table legit[] below) is counted; any other (EIO, ENOSPC,
 * EFAULT, EPERM where none can happen, ...) is reported on stderr with the
 * process, the operation number and the seed, and makes storm exit 1.  One
 * line of summary goes to stdout at the end: operations by kind, failures
 * by errno.  Exit 0: no unexpected error; 1: some; 2: bad usage.
 *
 * Same seed, same operations: every random draw of an operation is made
 * before it runs and none depends on what an earlier one did, so process
 * i draws the same sequence for the same seed, whatever the outcomes.
 * -v prints every operation and its result ("p1 #17 rename ... = ENOENT").
 * -k draws only the kinds named (a comma-separated list of the summary's
 * names, e.g. "create,link,symlink,exchange,unlink"), in their usual
 * proportions: a storm aimed at one class of races, to make it more frequent.
 * With -p 1 the results repeat too (on a fresh DIR); with more processes
 * the interleaving, and so the outcomes, are up to the scheduler.
 *
 * Safety: storm runs as root and follows symlinks it made at random, so
 * every path is resolved with openat2(RESOLVE_BENEATH) from DIR; the last
 * component is then used with *at() calls that do not follow it, or
 * through an O_PATH descriptor (/proc/self/fd/N) that openat2 resolved.
 * Nothing outside DIR is ever touched.
 *
 * What it does not do: check any contents (that is what the tree
 * comparison after a mirror is for, and fsx for one file), mknod, fifos,
 * fallocate, O_DIRECT, or act as other users (only files change owner).
 *
 * Main caveat: a legitimate errno can hide a wrong one.  An ENOENT where
 * the name did exist is counted as a race, and so is a SIGBUS that a full
 * file system caused; storm only catches errnos no race can explain.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS       64
#define MAX_UIDS        16
#define MAX_WRITE       (64 << 10)      /* bytes per write, append, mmap write */
#define NR_XATTRS       5               /* user.x0 .. user.x4 */
#define MAX_XATTR_VALUE 64
#define ERRNO_SLOTS     256             /* Linux errnos stop at 133 */
#define ERR_SIGBUS      (ERRNO_SLOTS - 1)       /* pseudo errno: a mapping lost its page */
#define BENEATH_RETRIES 16              /* openat2 EAGAIN: a rename raced with ".." */

enum {
        EXIT_PASS       = 0,
        EXIT_UNEXPECTED = 1,            /* an errno no race explains, or a process died */
        EXIT_USAGE      = 2,
};

enum op_kind {
        OP_CREATE,
        OP_WRITE,
        OP_APPEND,
        OP_TRUNCATE,
        OP_RENAME,
        OP_RENAME_NOREPLACE,
        OP_EXCHANGE,
        OP_RENAME_DIR,
        OP_LINK,
        OP_LINK_FOLLOW,
        OP_SYMLINK,
        OP_CHMOD,
        OP_CHOWN,
        OP_LCHOWN,
        OP_SETXATTR,
        OP_LSETXATTR,
        OP_REMOVEXATTR,
        OP_LREMOVEXATTR,
        OP_UTIMENS,
        OP_LUTIMENS,
        OP_UNLINK,
        OP_RMDIR,
        OP_MKDIR,
        OP_FSYNC,
        OP_MMAP,
        NR_OPS,
};

/*
 * Errnos every operation may meet because another process changed the
 * names meanwhile: a name or a directory on the way is gone or is now a
 * file (ENOENT, ENOTDIR), a symlink on the way loops (ELOOP) or leads out
 * of DIR (EXDEV, from RESOLVE_BENEATH), or a rename raced with a ".." too
 * often (EAGAIN, after BENEATH_RETRIES tries).
 */
#define PATH_ERRNOS ENOENT, ENOTDIR, ELOOP, EXDEV, EAGAIN

/*
 * Names in the summary, weights of the random draw, and the errnos that
 * are legitimate for each kind on top of PATH_ERRNOS (0-terminated).
 */
static const struct {
        const char *name;
        unsigned weight;
        int legit[8];
} ops[NR_OPS] = {
        [OP_CREATE]             = { "create",           12, { EEXIST, EISDIR } },
        [OP_WRITE]              = { "write",            10, { EISDIR } },
        [OP_APPEND]             = { "append",           5, { EISDIR } },
        [OP_TRUNCATE]           = { "truncate",         4, { EISDIR } },
        /* over a non-empty directory, a file over a directory and back,
           a directory into itself or over its own ancestor */
        [OP_RENAME]             = { "rename",           6, { EEXIST, ENOTEMPTY, EISDIR, EINVAL } },
        [OP_RENAME_NOREPLACE]   = { "rename-noreplace", 3, { EEXIST, ENOTEMPTY, EISDIR, EINVAL } },
        [OP_EXCHANGE]           = { "exchange",         3, { EINVAL } },
        [OP_RENAME_DIR]         = { "rename-dir",       4, { EEXIST, ENOTEMPTY, EISDIR, EINVAL } },
        /* EPERM: a directory cannot be hard-linked */
        [OP_LINK]               = { "link",             4, { EEXIST, EPERM } },
        [OP_LINK_FOLLOW]        = { "link-follow",      2, { EEXIST, EPERM } },
        [OP_SYMLINK]            = { "symlink",          3, { EEXIST } },
        [OP_CHMOD]              = { "chmod",            3, { 0 } },
        [OP_CHOWN]              = { "chown",            2, { 0 } },
        [OP_LCHOWN]             = { "lchown",           2, { 0 } },
        /* XATTR_CREATE of an existing one, XATTR_REPLACE of a missing one */
        [OP_SETXATTR]           = { "setxattr",         4, { EEXIST, ENODATA } },
        /* EPERM: user.* attributes are not allowed on a symlink */
        [OP_LSETXATTR]          = { "lsetxattr",        2, { EEXIST, ENODATA, EPERM } },
        [OP_REMOVEXATTR]        = { "removexattr",      2, { ENODATA } },
        [OP_LREMOVEXATTR]       = { "lremovexattr",     1, { ENODATA, EPERM } },
        [OP_UTIMENS]            = { "utimens",          3, { 0 } },
        [OP_LUTIMENS]           = { "lutimens",         2, { 0 } },
        [OP_UNLINK]             = { "unlink",           7, { EISDIR } },
        [OP_RMDIR]              = { "rmdir",            3, { ENOTEMPTY } },
        [OP_MKDIR]              = { "mkdir",            3, { EEXIST } },
        [OP_FSYNC]              = { "fsync",            2, { 0 } },
        /* SIGBUS: another process truncated the file under the mapping */
        [OP_MMAP]               = { "mmap",             3, { EISDIR, ERR_SIGBUS } },
};

/* The directories made at the start; any name may become one later. */
static const char *const dir_slots[] = { "a", "b", "a/c", "b/d" };
#define NR_SLOTS        (sizeof(dir_slots) / sizeof(dir_slots[0]))
#define NAMES_PER_DIR   8
#define NR_NAMES        (NR_SLOTS + (NR_SLOTS + 1) * NAMES_PER_DIR)

static const mode_t file_modes[] = {
        0644, 0600, 0755, 0700, 0444, 0640, 0000, 04755, 02755, 06711, 01777, 02644,
};
static const mode_t dir_modes[] = { 0755, 0700, 0775, 02775, 01777, 0555 };

/* One name of the namespace: the whole path, and it split for *at(). */
struct name {
        char path[16];          /* "a/c/n7" at most */
        char dir[8];            /* "" for DIR itself */
        char base[4];
};

/* Counts of one process, in a shared mapping the parent sums. */
struct stats {
        uint64_t ops[NR_OPS];
        uint64_t failed[NR_OPS];        /* legitimately */
        uint64_t by_errno[ERRNO_SLOTS];
        uint64_t skipped;               /* mmap of an empty file */
        uint64_t unexpected;
};

struct storm {
        /* options */
        uint64_t seed;
        unsigned procs;
        uint64_t nops;
        const char *dir;
        uid_t ids[MAX_UIDS + 1];        /* chown to these uids and gids; [0] is 0 */
        unsigned nids;
        bool verbose;

        int rootfd;                     /* O_PATH of DIR */
        struct name names[NR_NAMES];    /* the dir slots first */
        unsigned weight[NR_OPS];        /* ops[].weight, or 0 for a kind -k leaves out */
        unsigned total_weight;
        struct stats *stats;            /* procs of them, MAP_SHARED */
};

/* One process of the storm. */
struct worker {
        const struct storm *s;
        unsigned id;
        uint64_t rng;                   /* splitmix64 state */
        uint64_t opnum;                 /* from 1 */
        struct stats *st;
        uint8_t *buf;                   /* MAX_WRITE bytes */
        char desc[256];                 /* the current operation, for -v and reports */
        const char *step;               /* the system call that failed */
};

/*
 * A SIGBUS while writing through a mapping means another process cut the
 * file short: a legitimate outcome, not a crash.  A signal handler can
 * only reach this through globals.
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

/* memcpy() into a mapping; -ERR_SIGBUS if that raised SIGBUS. */
static int map_copy(void *dst, const void *src, size_t len)
{
        if (sigsetjmp(map_fault_jmp, 1)) {
                map_fault_armed = 0;
                return -ERR_SIGBUS;
        }
        map_fault_armed = 1;
        memcpy(dst, src, len);
        map_fault_armed = 0;
        return 0;
}

/* ---- random numbers ---- */

/* splitmix64: any seed is fine and the sequence is the same with every libc. */
static uint64_t splitmix(uint64_t *state)
{
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static uint64_t rnd64(struct worker *w)
{
        return splitmix(&w->rng);
}

static uint64_t rnd_below(struct worker *w, uint64_t n)
{
        return n ? rnd64(w) % n : 0;
}

/*
 * Fill @len bytes of the buffer from its own stream seeded by one draw, so
 * that the main stream advances by the same amount whatever the length.
 */
static void fill(struct worker *w, size_t len)
{
        uint64_t state = rnd64(w), v;
        size_t i;

        for (i = 0; i < len; i += 8) {
                v = splitmix(&state);
                memcpy(w->buf + i, &v, len - i < 8 ? len - i : 8);
        }
}

static const struct name *pick_name(struct worker *w)
{
        return &w->s->names[rnd_below(w, NR_NAMES)];
}

/*
 * One of the names that are not directory slots: what creates files and
 * symlinks picks, so that the slots stay directories most of the time
 * (renames, unlinks and mkdir still turn them into anything).
 */
static const struct name *pick_leaf(struct worker *w)
{
        return &w->s->names[NR_SLOTS + rnd_below(w, NR_NAMES - NR_SLOTS)];
}

/* One of the directory slots @in_4 times out of 4, otherwise any name. */
static const struct name *pick_dir(struct worker *w, unsigned in_4)
{
        if (rnd_below(w, 4) < in_4)
                return &w->s->names[rnd_below(w, NR_SLOTS)];
        return pick_name(w);
}

/* uid or gid: one of 0 and the -u ids, or -1 (leave it) now and then. */
static uid_t pick_id(struct worker *w)
{
        uint64_t i = rnd_below(w, w->s->nids + 1);

        return i == w->s->nids ? (uid_t)-1 : w->s->ids[i];
}

static void pick_times(struct worker *w, struct timespec ts[2])
{
        unsigned i;

        for (i = 0; i < 2; i++) {
                switch (rnd_below(w, 8)) {
                case 0:
                        ts[i] = (struct timespec) { .tv_nsec = UTIME_NOW };
                        break;
                case 1:
                        ts[i] = (struct timespec) { .tv_nsec = UTIME_OMIT };
                        break;
                default:
                        /* up to 2096, nanoseconds included */
                        ts[i].tv_sec = (time_t)rnd_below(w, 4000000000ULL);
                        ts[i].tv_nsec = (long)rnd_below(w, 1000000000);
                        break;
                }
        }
}

/* ---- resolving names beneath DIR ---- */

/* openat2(RESOLVE_BENEATH) from DIR: a descriptor or -errno. */
static int open_beneath(const struct worker *w, const char *path, uint64_t flags, uint64_t mode)
{
        struct open_how how = {
                .flags = flags | O_CLOEXEC,
                .mode = (flags & O_CREAT) ? mode : 0,   /* openat2 wants 0 otherwise */
                .resolve = RESOLVE_BENEATH,
        };
        unsigned i;
        long fd;

        for (i = 0; i < BENEATH_RETRIES; i++) {
                fd = syscall(SYS_openat2, w->s->rootfd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int)fd;
                if (errno != EAGAIN)
                        break;
        }
        return -errno;
}

/* The directory holding @n (resolved beneath DIR), for *at() calls. */
static int open_parent(struct worker *w, const struct name *n)
{
        w->step = "openat2 parent";
        return open_beneath(w, n->dir[0] ? n->dir : ".", O_PATH | O_DIRECTORY, 0);
}

/* What @n leads to (following a final symlink, beneath DIR), as O_PATH. */
static int open_target(struct worker *w, const struct name *n)
{
        w->step = "openat2 O_PATH";
        return open_beneath(w, n->path, O_PATH, 0);
}

static void proc_fd_path(char *buf, size_t size, int fd, const char *base)
{
        if (base)
                snprintf(buf, size, "/proc/self/fd/%d/%s", fd, base);
        else
                snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static void close_fd(int fd)
{
        if (fd >= 0)
                (void)close(fd);        /* nothing was written through it */
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
        ssize_t n;

        while (len) {
                n = pwrite(fd, buf, len, off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                buf += n;
                len -= n;
                off += n;
        }
        return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
        ssize_t n;

        while (len) {
                n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                buf += n;
                len -= n;
        }
        return 0;
}

/* close() of a descriptor written through: its error is the operation's. */
static int close_written(struct worker *w, int fd, int r)
{
        if (close(fd) < 0 && r == 0) {
                w->step = "close";
                r = -errno;
        }
        return r;
}

/* ---- the operations: each draws everything first, then acts; 0 or -errno ---- */

#define describe(w, ...) snprintf((w)->desc, sizeof((w)->desc), __VA_ARGS__)

static int op_create(struct worker *w)
{
        const struct name *n = pick_leaf(w);
        bool excl = rnd_below(w, 4) == 0, trunc = rnd_below(w, 3) == 0;
        mode_t mode = file_modes[rnd_below(w, sizeof(file_modes) / sizeof(file_modes[0]))];
        size_t len = rnd_below(w, 4096);
        int fd, r;

        fill(w, len);
        describe(w, "create %s %04o%s%s +%zu", n->path, mode, excl ? " excl" : "",
                 trunc ? " trunc" : "", len);
        w->step = "openat2 O_CREAT";
        fd = open_beneath(w, n->path, O_WRONLY | O_CREAT | (excl ? O_EXCL : 0) | (trunc ? O_TRUNC : 0), mode);
        if (fd < 0)
                return fd;
        w->step = "write";
        r = write_all(fd, w->buf, len);
        return close_written(w, fd, r);
}

static int op_write(struct worker *w)
{
        const struct name *n = pick_leaf(w);
        /* now and then far out, leaving a hole */
        off_t off = (off_t)(rnd_below(w, 5) ? rnd_below(w, 256 << 10) : rnd_below(w, 8 << 20));
        size_t len = 1 + rnd_below(w, MAX_WRITE);
        bool creat = rnd_below(w, 3) == 0;
        int fd, r;

        fill(w, len);
        describe(w, "write %s @%jd +%zu%s", n->path, (intmax_t)off, len, creat ? " creat" : "");
        w->step = "openat2 O_WRONLY";
        fd = open_beneath(w, n->path, O_WRONLY | (creat ? O_CREAT : 0), 0644);
        if (fd < 0)
                return fd;
        w->step = "pwrite";
        r = pwrite_all(fd, w->buf, len, off);
        return close_written(w, fd, r);
}

static int op_append(struct worker *w)
{
        const struct name *n = pick_leaf(w);
        size_t len = 1 + rnd_below(w, 8192);
        int fd, r;

        fill(w, len);
        describe(w, "append %s +%zu", n->path, len);
        w->step = "openat2 O_APPEND";
        fd = open_beneath(w, n->path, O_WRONLY | O_APPEND, 0);
        if (fd < 0)
                return fd;
        w->step = "write";
        r = write_all(fd, w->buf, len);
        return close_written(w, fd, r);
}

static int op_truncate(struct worker *w)
{
        const struct name *n = pick_leaf(w);
        /* mostly small (down), sometimes large (up, a hole at the end) */
        off_t size = (off_t)(rnd_below(w, 3) ? rnd_below(w, 64 << 10) : rnd_below(w, 2 << 20));
        int fd, r = 0;

        describe(w, "truncate %s %jd", n->path, (intmax_t)size);
        w->step = "openat2 O_WRONLY";
        fd = open_beneath(w, n->path, O_WRONLY, 0);
        if (fd < 0)
                return fd;
        w->step = "ftruncate";
        if (ftruncate(fd, size) < 0)
                r = -errno;
        return close_written(w, fd, r);
}

static int op_rename(struct worker *w, enum op_kind kind)
{
        const struct name *from = kind == OP_RENAME_DIR ? pick_dir(w, 3) : pick_name(w);
        const struct name *to = kind == OP_RENAME_DIR || kind == OP_EXCHANGE ? pick_dir(w, 2) : pick_name(w);
        unsigned flags = kind == OP_RENAME_NOREPLACE ? RENAME_NOREPLACE :
                         kind == OP_EXCHANGE ? RENAME_EXCHANGE : 0;
        int pf, pt, r = 0;

        describe(w, "%s %s -> %s", ops[kind].name, from->path, to->path);
        pf = open_parent(w, from);
        if (pf < 0)
                return pf;
        pt = open_parent(w, to);
        if (pt < 0) {
                close_fd(pf);
                return pt;
        }
        w->step = "renameat2";
        if (renameat2(pf, from->base, pt, to->base, flags) < 0)
                r = -errno;
        close_fd(pf);
        close_fd(pt);
        return r;
}

static int op_link(struct worker *w, bool follow)
{
        const struct name *from = pick_name(w), *to = pick_leaf(w);
        int pf = -1, pt, r = 0;

        describe(w, "%s %s -> %s", follow ? "link-follow" : "link", from->path, to->path);
        /* following: link what the name leads to, through its descriptor */
        pf = follow ? open_target(w, from) : open_parent(w, from);
        if (pf < 0)
                return pf;
        pt = open_parent(w, to);
        if (pt < 0) {
                close_fd(pf);
                return pt;
        }
        w->step = "linkat";
        if (linkat(pf, follow ? "" : from->base, pt, to->base, follow ? AT_EMPTY_PATH : 0) < 0)
                r = -errno;
        close_fd(pf);
        close_fd(pt);
        return r;
}

static int op_symlink(struct worker *w)
{
        const struct name *n = pick_leaf(w);
        unsigned k = (unsigned)rnd_below(w, NAMES_PER_DIR);
        const char *slot = dir_slots[rnd_below(w, NR_SLOTS)];
        char target[32];
        int p, r = 0;

        switch (rnd_below(w, 8)) {
        case 0:
                snprintf(target, sizeof(target), "n%u", k);     /* a sibling */
                break;
        case 1:
                snprintf(target, sizeof(target), "../n%u", k);
                break;
        case 2:
                snprintf(target, sizeof(target), "%s/n%u", k % 2 ? "c" : "d", k);
                break;
        case 3:
                snprintf(target, sizeof(target), "../%s/n%u", slot, k);
                break;
        case 4:
                snprintf(target, sizeof(target), "nowhere%u", k);       /* dangling */
                break;
        case 5:
                snprintf(target, sizeof(target), "../../../../escape"); /* out of DIR: EXDEV */
                break;
        case 6:
                snprintf(target, sizeof(target), "%s", n->base);        /* a loop */
                break;
        default:
                snprintf(target, sizeof(target), k % 2 ? "." : "..");
                break;
        }
        describe(w, "symlink %s -> '%s'", n->path, target);
        p = open_parent(w, n);
        if (p < 0)
                return p;
        w->step = "symlinkat";
        if (symlinkat(target, p, n->base) < 0)
                r = -errno;
        close_fd(p);
        return r;
}

static int op_chmod(struct worker *w)
{
        const struct name *n = pick_name(w);
        mode_t mode = file_modes[rnd_below(w, sizeof(file_modes) / sizeof(file_modes[0]))];
        char path[64];
        int fd, r = 0;

        describe(w, "chmod %s %04o", n->path, mode);
        fd = open_target(w, n);
        if (fd < 0)
                return fd;
        proc_fd_path(path, sizeof(path), fd, NULL);
        w->step = "chmod";
        if (chmod(path, mode) < 0)
                r = -errno;
        close_fd(fd);
        return r;
}

static int op_chown(struct worker *w, bool follow)
{
        const struct name *n = pick_name(w);
        uid_t uid = pick_id(w);
        gid_t gid = pick_id(w);
        char path[64];
        int fd, r = 0;

        describe(w, "%s %s %d:%d", follow ? "chown" : "lchown", n->path, (int)uid, (int)gid);
        fd = follow ? open_target(w, n) : open_parent(w, n);
        if (fd < 0)
                return fd;
        if (follow) {
                proc_fd_path(path, sizeof(path), fd, NULL);
                w->step = "chown";
                if (chown(path, uid, gid) < 0)
                        r = -errno;
        } else {
                w->step = "fchownat nofollow";
                if (fchownat(fd, n->base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
        }
        close_fd(fd);
        return r;
}

static int op_xattr(struct worker *w, enum op_kind kind)
{
        const struct name *n = pick_name(w);
        bool follow = kind == OP_SETXATTR || kind == OP_REMOVEXATTR;
        bool set = kind == OP_SETXATTR || kind == OP_LSETXATTR;
        unsigned which = (unsigned)rnd_below(w, NR_XATTRS);
        size_t len = rnd_below(w, MAX_XATTR_VALUE + 1);
        int how = (int)rnd_below(w, 4);         /* 0, 1: plain; 2: create; 3: replace */
        int flags = how == 2 ? XATTR_CREATE : how == 3 ? XATTR_REPLACE : 0;
        char path[96], attr[16];
        int fd, r = 0;

        fill(w, len);
        snprintf(attr, sizeof(attr), "user.x%u", which);
        if (set)
                describe(w, "%s %s %s +%zu%s", ops[kind].name, n->path, attr, len,
                         how == 2 ? " create" : how == 3 ? " replace" : "");
        else
                describe(w, "%s %s %s", ops[kind].name, n->path, attr);
        fd = follow ? open_target(w, n) : open_parent(w, n);
        if (fd < 0)
                return fd;
        proc_fd_path(path, sizeof(path), fd, follow ? NULL : n->base);
        w->step = ops[kind].name;
        if (set)
                r = follow ? setxattr(path, attr, w->buf, len, flags) :
                             lsetxattr(path, attr, w->buf, len, flags);
        else
                r = follow ? removexattr(path, attr) : lremovexattr(path, attr);
        if (r < 0)
                r = -errno;
        close_fd(fd);
        return r;
}

static int op_utimens(struct worker *w, bool follow)
{
        const struct name *n = pick_name(w);
        struct timespec ts[2];
        char path[64];
        int fd, r = 0;

        pick_times(w, ts);
        describe(w, "%s %s %jd.%09ld %jd.%09ld", follow ? "utimens" : "lutimens", n->path,
                 (intmax_t)ts[0].tv_sec, ts[0].tv_nsec, (intmax_t)ts[1].tv_sec, ts[1].tv_nsec);
        fd = follow ? open_target(w, n) : open_parent(w, n);
        if (fd < 0)
                return fd;
        if (follow) {
                proc_fd_path(path, sizeof(path), fd, NULL);
                w->step = "utimensat";
                r = utimensat(AT_FDCWD, path, ts, 0);
        } else {
                w->step = "utimensat nofollow";
                r = utimensat(fd, n->base, ts, AT_SYMLINK_NOFOLLOW);
        }
        if (r < 0)
                r = -errno;
        close_fd(fd);
        return r;
}

static int op_remove(struct worker *w, bool dir)
{
        const struct name *n = dir ? pick_dir(w, 1) : pick_name(w);
        int p, r = 0;

        describe(w, "%s %s", dir ? "rmdir" : "unlink", n->path);
        p = open_parent(w, n);
        if (p < 0)
                return p;
        w->step = dir ? "unlinkat AT_REMOVEDIR" : "unlinkat";
        if (unlinkat(p, n->base, dir ? AT_REMOVEDIR : 0) < 0)
                r = -errno;
        close_fd(p);
        return r;
}

static int op_mkdir(struct worker *w)
{
        const struct name *n = pick_dir(w, 3);
        mode_t mode = dir_modes[rnd_below(w, sizeof(dir_modes) / sizeof(dir_modes[0]))];
        int p, r = 0;

        describe(w, "mkdir %s %04o", n->path, mode);
        p = open_parent(w, n);
        if (p < 0)
                return p;
        w->step = "mkdirat";
        if (mkdirat(p, n->base, mode) < 0)
                r = -errno;
        close_fd(p);
        return r;
}

static int op_fsync(struct worker *w)
{
        const struct name *n = pick_name(w);
        bool data = rnd_below(w, 2);
        int fd, r = 0;

        describe(w, "%s %s", data ? "fdatasync" : "fsync", n->path);
        w->step = "openat2 O_RDONLY";
        fd = open_beneath(w, n->path, O_RDONLY | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        w->step = data ? "fdatasync" : "fsync";
        if ((data ? fdatasync(fd) : fsync(fd)) < 0)
                r = -errno;
        close_fd(fd);
        return r;
}

/*
 * Write through a shared mapping, at a place drawn as a fraction of the
 * size the file has when the write happens.  1: the file was empty (a
 * skip, not a failure).
 */
static int op_mmap(struct worker *w)
{
        const struct name *n = pick_leaf(w);
        uint64_t where = rnd_below(w, 1000);    /* per mille of the size */
        size_t want = 1 + rnd_below(w, MAX_WRITE);
        bool sync = rnd_below(w, 2);
        long page = sysconf(_SC_PAGESIZE);
        size_t len, skew;
        struct stat st;
        off_t off, start;
        void *map;
        int fd, r;

        fill(w, want);
        describe(w, "mmap %s @%" PRIu64 "/1000 +%zu%s", n->path, where, want, sync ? " msync" : "");
        w->step = "openat2 O_RDWR";
        fd = open_beneath(w, n->path, O_RDWR, 0);
        if (fd < 0)
                return fd;
        w->step = "fstat";
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (st.st_size == 0) {
                r = 1;
                goto out;
        }
        off = (off_t)((uint64_t)st.st_size * where / 1000);
        len = (size_t)(st.st_size - off) < want ? (size_t)(st.st_size - off) : want;
        start = off - off % page;
        skew = (size_t)(off - start);
        w->step = "mmap";
        map = mmap(NULL, len + skew, PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
        if (map == MAP_FAILED) {
                r = -errno;
                goto out;
        }
        w->step = "store to the mapping";
        r = map_copy((uint8_t *)map + skew, w->buf, len);
        if (r == 0 && sync) {
                w->step = "msync";
                if (msync(map, len + skew, MS_SYNC) < 0)
                        r = -errno;
        }
        if (munmap(map, len + skew) < 0 && r == 0) {
                w->step = "munmap";
                r = -errno;
        }
out:
        return close_written(w, fd, r);
}

/* ---- one process ---- */

static bool legit(enum op_kind kind, int err)
{
        static const int path_errnos[] = { PATH_ERRNOS };
        unsigned i;

        for (i = 0; i < sizeof(path_errnos) / sizeof(path_errnos[0]); i++)
                if (err == path_errnos[i])
                        return true;
        for (i = 0; i < sizeof(ops[kind].legit) / sizeof(ops[kind].legit[0]) && ops[kind].legit[i]; i++)
                if (err == ops[kind].legit[i])
                        return true;
        return false;
}

static const char *errno_name(int err)
{
        const char *s;

        if (err == ERR_SIGBUS)
                return "SIGBUS";
        s = strerrorname_np(err);
        return s ? s : "E?";
}

static enum op_kind pick_kind(struct worker *w)
{
        uint64_t x = rnd_below(w, w->s->total_weight);
        unsigned k;

        for (k = 0; k < NR_OPS - 1; k++) {
                if (x < w->s->weight[k])
                        break;
                x -= w->s->weight[k];
        }
        return (enum op_kind)k;
}

static int do_op(struct worker *w, enum op_kind kind)
{
        switch (kind) {
        case OP_CREATE:
                return op_create(w);
        case OP_WRITE:
                return op_write(w);
        case OP_APPEND:
                return op_append(w);
        case OP_TRUNCATE:
                return op_truncate(w);
        case OP_RENAME:
        case OP_RENAME_NOREPLACE:
        case OP_EXCHANGE:
        case OP_RENAME_DIR:
                return op_rename(w, kind);
        case OP_LINK:
        case OP_LINK_FOLLOW:
                return op_link(w, kind == OP_LINK_FOLLOW);
        case OP_SYMLINK:
                return op_symlink(w);
        case OP_CHMOD:
                return op_chmod(w);
        case OP_CHOWN:
        case OP_LCHOWN:
                return op_chown(w, kind == OP_CHOWN);
        case OP_SETXATTR:
        case OP_LSETXATTR:
        case OP_REMOVEXATTR:
        case OP_LREMOVEXATTR:
                return op_xattr(w, kind);
        case OP_UTIMENS:
        case OP_LUTIMENS:
                return op_utimens(w, kind == OP_UTIMENS);
        case OP_UNLINK:
        case OP_RMDIR:
                return op_remove(w, kind == OP_RMDIR);
        case OP_MKDIR:
                return op_mkdir(w);
        case OP_FSYNC:
                return op_fsync(w);
        case OP_MMAP:
        case NR_OPS:
                break;
        }
        return op_mmap(w);
}

/* One line to stdout in one write(), so that processes do not mix lines. */
static void print_op(const struct worker *w, int r)
{
        char line[384];
        int k;

        k = snprintf(line, sizeof(line), "p%u #%" PRIu64 " %s = %s\n", w->id, w->opnum, w->desc,
                     r == 0 ? "ok" : r > 0 ? "skip" : errno_name(-r));
        if (k > 0)
                (void)write_all(STDOUT_FILENO, (const uint8_t *)line,
                                (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
}

static int worker_run(struct worker *w)
{
        enum op_kind kind;
        int r;

        w->buf = malloc(MAX_WRITE);
        if (!w->buf) {
                fprintf(stderr, "storm: process %u: out of memory\n", w->id);
                return EXIT_UNEXPECTED;
        }
        signal(SIGBUS, on_sigbus);
        for (w->opnum = 1; w->opnum <= w->s->nops; w->opnum++) {
                kind = pick_kind(w);
                w->step = "";
                r = do_op(w, kind);
                w->st->ops[kind]++;
                if (w->s->verbose)
                        print_op(w, r);
                if (r > 0) {
                        w->st->skipped++;
                } else if (r < 0 && legit(kind, -r)) {
                        w->st->failed[kind]++;
                        w->st->by_errno[-r]++;
                } else if (r < 0) {
                        w->st->unexpected++;
                        fprintf(stderr, "storm: seed %" PRIu64 ", process %u, op #%" PRIu64 ": %s: %s: %s (%s)\n",
                                w->s->seed, w->id, w->opnum, w->desc, w->step,
                                -r == ERR_SIGBUS ? "SIGBUS" : strerror(-r), errno_name(-r));
                }
        }
        free(w->buf);
        return w->st->unexpected ? EXIT_UNEXPECTED : EXIT_PASS;
}

/* ---- the parent ---- */

/* Split @path into the directory holding it ("" for DIR) and its last name. */
static void set_name(struct name *n, const char *path)
{
        const char *slash = strrchr(path, '/');

        snprintf(n->path, sizeof(n->path), "%s", path);
        snprintf(n->dir, sizeof(n->dir), "%.*s", slash ? (int)(slash - path) : 0, path);
        snprintf(n->base, sizeof(n->base), "%s", slash ? slash + 1 : path);
}

static void build_names(struct storm *s)
{
        unsigned i = 0, d, k;
        char path[16];

        for (d = 0; d < NR_SLOTS; d++)
                set_name(&s->names[i++], dir_slots[d]);
        for (d = 0; d <= NR_SLOTS; d++) {
                for (k = 0; k < NAMES_PER_DIR; k++) {
                        snprintf(path, sizeof(path), "%s%sn%u", d ? dir_slots[d - 1] : "", d ? "/" : "", k);
                        set_name(&s->names[i++], path);
                }
        }
        s->total_weight = 0;
        for (k = 0; k < NR_OPS; k++)
                s->total_weight += s->weight[k];
}

/* -k KINDS: keep the weights of the kinds named, drop the others. */
static int only_kinds(struct storm *s, const char *list)
{
        char *copy = strdup(list), *save = NULL, *tok;
        bool keep[NR_OPS] = { false };
        unsigned k;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                for (k = 0; k < NR_OPS && strcmp(ops[k].name, tok) != 0; k++)
                        ;
                if (k == NR_OPS) {
                        fprintf(stderr, "storm: -k: no operation kind '%s'\n", tok);
                        r = -EINVAL;
                        break;
                }
                keep[k] = true;
        }
        free(copy);
        if (r < 0)
                return r;
        for (k = 0; k < NR_OPS && !keep[k]; k++)
                ;
        if (k == NR_OPS) {
                fprintf(stderr, "storm: -k: no operation kind named\n");
                return -EINVAL;
        }
        for (k = 0; k < NR_OPS; k++)
                if (!keep[k])
                        s->weight[k] = 0;
        return 0;
}

/* The directory slots, where they can be made (a rerun may find anything). */
static int make_slots(const struct storm *s)
{
        unsigned d;

        for (d = 0; d < NR_SLOTS; d++) {
                if (mkdirat(s->rootfd, dir_slots[d], 0755) < 0 &&
                    errno != EEXIST && errno != ENOENT && errno != ENOTDIR && errno != ELOOP) {
                        fprintf(stderr, "storm: cannot make '%s/%s': %m\n", s->dir, dir_slots[d]);
                        return -errno;
                }
        }
        return 0;
}

static void print_summary(const struct storm *s, double seconds)
{
        struct stats sum = { 0 };
        uint64_t total = 0, failed = 0;
        unsigned p, k;

        for (p = 0; p < s->procs; p++) {
                for (k = 0; k < NR_OPS; k++) {
                        sum.ops[k] += s->stats[p].ops[k];
                        sum.failed[k] += s->stats[p].failed[k];
                }
                for (k = 0; k < ERRNO_SLOTS; k++)
                        sum.by_errno[k] += s->stats[p].by_errno[k];
                sum.skipped += s->stats[p].skipped;
                sum.unexpected += s->stats[p].unexpected;
        }
        for (k = 0; k < NR_OPS; k++) {
                total += sum.ops[k];
                failed += sum.failed[k];
        }
        printf("storm: seed %" PRIu64 ", %u x %" PRIu64 " ops in %.1f s:", s->seed, s->procs, s->nops, seconds);
        for (k = 0; k < NR_OPS; k++)
                printf(" %s %" PRIu64, ops[k].name, sum.ops[k]);
        printf("; ok %" PRIu64 ", skipped %" PRIu64 ", failed %" PRIu64 ":",
               total - failed - sum.skipped - sum.unexpected, sum.skipped, failed);
        for (k = 0; k < ERRNO_SLOTS; k++)
                if (sum.by_errno[k])
                        printf(" %s %" PRIu64, errno_name((int)k), sum.by_errno[k]);
        printf("; unexpected %" PRIu64 "\n", sum.unexpected);
}

static void usage(FILE *out)
{
        fprintf(out,
                "usage: storm [-s SEED] [-p PROCS] [-n OPS] [-d DIR] [-u UID]... [-k KINDS] [-v]\n"
                "\n"
                "PROCS processes (default 4, at most %d) each do OPS (default 1000) random\n"
                "operations on a small set of names beneath DIR (default .); chown goes to\n"
                "uid and gid 0 and each -u UID (at most %d).  Same SEED (default 1), same\n"
                "operations.  -k draws only the kinds named (comma-separated, as the summary\n"
                "names them).  -v prints every operation and its result.  Exit 0, or 1 when\n"
                "an operation failed in a way no race explains.\n",
                MAX_PROCS, MAX_UIDS);
}

static int parse_u64(const char *arg, uint64_t max, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv)
{
        struct storm s = { .seed = 1, .procs = 4, .nops = 1000, .dir = ".", .nids = 1 };
        struct timespec t0, t1;
        pid_t pids[MAX_PROCS];
        int opt, status, rc = EXIT_PASS;
        unsigned p, k;
        uint64_t v;

        for (k = 0; k < NR_OPS; k++)
                s.weight[k] = ops[k].weight;
        while ((opt = getopt(argc, argv, "s:p:n:d:u:k:vh")) != -1) {
                switch (opt) {
                case 's':
                        if (parse_u64(optarg, UINT64_MAX, &s.seed) < 0)
                                goto bad;
                        break;
                case 'p':
                        if (parse_u64(optarg, MAX_PROCS, &v) < 0 || v == 0)
                                goto bad;
                        s.procs = (unsigned)v;
                        break;
                case 'n':
                        if (parse_u64(optarg, UINT32_MAX, &s.nops) < 0)
                                goto bad;
                        break;
                case 'd':
                        s.dir = optarg;
                        break;
                case 'u':
                        if (s.nids > MAX_UIDS || parse_u64(optarg, 0xfffffffeU, &v) < 0)
                                goto bad;
                        s.ids[s.nids++] = (uid_t)v;
                        break;
                case 'k':
                        if (only_kinds(&s, optarg) < 0)
                                goto bad;
                        break;
                case 'v':
                        s.verbose = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_PASS;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind != argc) {
                usage(stderr);
                return EXIT_USAGE;
        }

        umask(0);               /* the modes drawn are the modes made */
        s.rootfd = open(s.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s.rootfd < 0) {
                fprintf(stderr, "storm: cannot open '%s': %m\n", s.dir);
                return EXIT_USAGE;
        }
        build_names(&s);
        if (make_slots(&s) < 0)
                return EXIT_UNEXPECTED;
        s.stats = mmap(NULL, sizeof(*s.stats) * s.procs, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s.stats == MAP_FAILED) {
                fprintf(stderr, "storm: cannot map the counters: %m\n");
                return EXIT_UNEXPECTED;
        }

        clock_gettime(CLOCK_MONOTONIC, &t0);
        fflush(stdout);
        for (p = 0; p < s.procs; p++) {
                pids[p] = fork();
                if (pids[p] < 0) {
                        fprintf(stderr, "storm: cannot fork: %m\n");
                        s.procs = p;    /* wait for those started */
                        rc = EXIT_UNEXPECTED;
                        break;
                }
                if (pids[p] == 0) {
                        struct worker w = {
                                .s = &s,
                                .id = p,
                                .rng = s.seed ^ ((uint64_t)(p + 1) * 0xd1b54a32d192ed03ULL),
                                .st = &s.stats[p],
                        };

                        _exit(worker_run(&w));
                }
        }
        for (p = 0; p < s.procs; p++) {
                if (waitpid(pids[p], &status, 0) < 0) {
                        fprintf(stderr, "storm: cannot wait for process %u: %m\n", p);
                        rc = EXIT_UNEXPECTED;
                } else if (WIFSIGNALED(status)) {
                        fprintf(stderr, "storm: seed %" PRIu64 ", process %u killed by signal %d (%s)\n",
                                s.seed, p, WTERMSIG(status), strsignal(WTERMSIG(status)));
                        rc = EXIT_UNEXPECTED;
                } else if (WEXITSTATUS(status) != EXIT_PASS) {
                        rc = EXIT_UNEXPECTED;
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_summary(&s, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        return rc;

bad:
        fprintf(stderr, "storm: -%c: bad value '%s'\n", opt, optarg);
        return EXIT_USAGE;
}
