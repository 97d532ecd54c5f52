/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check.c: the check of touched directories (docs/replicator.md, "The
 * check of touched directories").  The directories the records touched are
 * noted; once their records are applied, each is listed on both sides and
 * its entries compared by type, mode, owner, size, mtime, link count,
 * symlink target, device number and extended attributes.  What differs is
 * reported to the caller, which queues its repair.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "replicator-internal.h"

#define TMP_PREFIX ".mirrorfs.tmp."
#define RECENT 8        /* the last paths noted, not noted twice */
#define CHECK_POLL_EVERY 256    /* entries compared between looks at check_limits.stop_fd */

struct check_set {
        char **dirs;
        size_t count, max;
        uint64_t skipped;
        char *last_skipped;             /* counted once while noted again and again */
        bool unsorted;                  /* noted since the last compact(): may hold a path twice */
};

int check_set_new(size_t max, struct check_set **ret)
{
        struct check_set *s = calloc(1, sizeof(*s));

        if (!s || !(s->dirs = calloc(max ? max : 1, sizeof(*s->dirs)))) {
                free(s);
                return -ENOMEM;
        }
        s->max = max ? max : 1;
        *ret = s;
        return 0;
}

static void clear(struct check_set *s)
{
        for (size_t i = 0; i < s->count; i++)
                free(s->dirs[i]);
        s->count = 0;
}

struct check_set *check_set_free(struct check_set *s)
{
        if (s) {
                clear(s);
                free(s->dirs);
                free(s->last_skipped);
                free(s);
        }
        return NULL;
}

static int str_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop the paths noted twice. */
static void compact(struct check_set *s)
{
        size_t n = 0;

        qsort(s->dirs, s->count, sizeof(*s->dirs), str_cmp);
        for (size_t i = 0; i < s->count; i++) {
                if (n && !strcmp(s->dirs[n - 1], s->dirs[i]))
                        free(s->dirs[i]);
                else
                        s->dirs[n++] = s->dirs[i];
        }
        s->count = n;
        s->unsorted = false;
}

static void add_n(struct check_set *s, const char *dir, size_t len)
{
        char *d;

        for (size_t i = s->count, k = 0; i > 0 && k < RECENT; i--, k++)
                if (!strncmp(s->dirs[i - 1], dir, len) && !s->dirs[i - 1][len])
                        return;
        if (s->count == s->max)
                compact(s);
        if (s->count == s->max || !(d = strndup(dir, len))) {
                if (!s->last_skipped || strncmp(s->last_skipped, dir, len) || s->last_skipped[len]) {
                        s->skipped++;
                        free(s->last_skipped);
                        s->last_skipped = strndup(dir, len);
                }
                return;
        }
        s->dirs[s->count++] = d;
        s->unsorted = true;
}

void check_set_add(struct check_set *s, const char *dir)
{
        add_n(s, dir, strlen(dir));
}

/* The directory @path is in ("" for the root's entries and the root). */
static void add_parent(struct check_set *s, const char *path)
{
        const char *slash = strrchr(path, '/');

        add_n(s, path, slash ? (size_t)(slash - path) : 0);
}

static bool beneath(const char *p, const char *dir, size_t n)
{
        return n == 0 || (strncmp(p, dir, n) == 0 && (p[n] == 0 || p[n] == '/'));
}

/* Noted paths at or beneath @from are now beneath @to (and the other way
 * round for an exchange). */
static void moved(struct check_set *s, const char *from, const char *to, bool exchange)
{
        size_t nf = strlen(from), nt = strlen(to);

        if (!nf || !nt)
                return;         /* the root is never renamed */
        for (size_t i = 0; i < s->count; i++) {
                const char *p = s->dirs[i], *old, *new;
                size_t no, nn;
                char *q;

                if (beneath(p, from, nf)) {
                        old = from, no = nf, new = to, nn = nt;
                } else if (exchange && beneath(p, to, nt)) {
                        old = to, no = nt, new = from, nn = nf;
                } else {
                        continue;
                }
                (void)old;
                if (asprintf(&q, "%.*s%s", (int)nn, new, p + no) < 0)
                        continue;       /* kept under its old name: checked there */
                free(s->dirs[i]);
                s->dirs[i] = q;
                s->unsorted = true;     /* it may now equal another */
        }
}

void check_set_note(struct check_set *s, const struct journal_record *rec)
{
        bool exchange = (rec->aux & 2 /* RENAME_EXCHANGE */) != 0;

        /* (an exchange of a file with a directory may name the file first) */
        if (rec->type == JOURNAL_RENAME && ((rec->flags & JOURNAL_F_DIR) || exchange))
                moved(s, rec->path, rec->path2, exchange);
        add_parent(s, rec->path);       /* (the root's: the root) */
        if (rec->path2_len)
                add_parent(s, rec->path2);
}

size_t check_set_count(const struct check_set *s)
{
        return s->count;
}

uint64_t check_set_skipped(const struct check_set *s)
{
        return s->skipped;
}

char *check_set_take(struct check_set *s)
{
        /* A directory noted again after others (a file in it closed every
         * second among other changes) is taken once: compared once a round. */
        if (s->unsorted)
                compact(s);
        return s->count ? s->dirs[--s->count] : NULL;
}

/* ---- comparing one directory ---- */

static int open_beneath(int root, const char *path)
{
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));

        return fd < 0 ? -errno : fd;
}

static void free_names(char **names, size_t n)
{
        while (n)
                free(names[--n]);
        free(names);
}

/* Is @fd readable (someone wants the caller back)?  Never when -1. */
static bool stop_asked(int fd)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* The names in @fd, sorted (temporary names left out); -EINTR as soon as
 * @stop_fd (-1: none) is readable. */
static int list(int fd, int stop_fd, char ***ret, size_t *ret_n)
{
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        int dup_fd = dup(fd);
        DIR *d;
        int r = 0;

        if (dup_fd < 0)
                return -errno;
        if (!(d = fdopendir(dup_fd))) {
                close(dup_fd);
                return -errno;
        }
        rewinddir(d);
        while ((errno = 0, de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                    !strncmp(de->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1))
                        continue;
                if (n % (CHECK_POLL_EVERY * 4) == CHECK_POLL_EVERY * 4 - 1 && stop_asked(stop_fd)) {
                        r = -EINTR;
                        break;
                }
                if (n == cap) {
                        char **m = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));

                        if (!m) {
                                r = -ENOMEM;
                                break;
                        }
                        names = m;
                }
                if (!(names[n] = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r == 0 && errno)
                r = -errno;
        closedir(d);
        if (r < 0) {
                free_names(names, n);
                return r;
        }
        if (n)
                qsort(names, n, sizeof(*names), str_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* listxattrat(2), getxattrat(2) (Linux 6.13): no path through /proc. */
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif

struct xattr_at_args {
        uint64_t value;
        uint32_t size;
        uint32_t flags;
};

/* An entry's extended attributes, by @dirfd and @name (NULL: @dirfd itself),
 * with the *at system calls where the kernel has them, else through
 * @proc (/proc/self/fd/N/NAME). */
static ssize_t list_at(int dirfd, const char *name, const char *proc, char *buf, size_t size)
{
        ssize_t n = syscall(__NR_listxattrat, dirfd, name ? name : "",
                            AT_SYMLINK_NOFOLLOW | (name ? 0 : AT_EMPTY_PATH), buf, size);

        return n < 0 && errno == ENOSYS ? llistxattr(proc, buf, size) : n;
}

static ssize_t get_at(int dirfd, const char *name, const char *proc, const char *attr, void *buf, size_t size)
{
        struct xattr_at_args a = { .value = (uint64_t)(uintptr_t)buf, .size = (uint32_t)size };
        ssize_t n = syscall(__NR_getxattrat, dirfd, name ? name : "",
                            AT_SYMLINK_NOFOLLOW | (name ? 0 : AT_EMPTY_PATH), attr, &a, sizeof(a));

        return n < 0 && errno == ENOSYS ? lgetxattr(proc, attr, buf, size) : n;
}

/*
 * The extended attributes of @name in @dirfd (the directory itself when
 * @name is NULL) but the replicator's own, as one sorted string of
 * "name=value;" (values in hex).  NULL with 0 when there are none or the
 * file system has none.
 */
static int xattrs(int dirfd, const char *name, char **ret)
{
        char path[64 + NAME_MAX], *names = NULL, **list_ = NULL, *out = NULL;
        size_t cnt = 0, len = 0, cap = 0;
        ssize_t n;
        int r = 0;

        *ret = NULL;
        snprintf(path, sizeof(path), "/proc/self/fd/%d%s%s", dirfd, name ? "/" : "", name ? name : "");
        n = list_at(dirfd, name, path, NULL, 0);
        if (n <= 0)
                return n < 0 && errno != ENOTSUP && errno != EOPNOTSUPP ? -errno : 0;
        if (!(names = malloc((size_t)n + 1)))
                return -ENOMEM;
        n = list_at(dirfd, name, path, names, (size_t)n);
        if (n < 0) {
                r = errno == ERANGE ? -EAGAIN : -errno;
                goto out;
        }
        for (char *p = names; p < names + n; p += strlen(p) + 1)
                cnt += strncmp(p, APPLY_OWN_XATTRS, sizeof(APPLY_OWN_XATTRS) - 1) != 0;
        if (!cnt)
                goto out;
        if (!(list_ = calloc(cnt, sizeof(*list_)))) {
                r = -ENOMEM;
                goto out;
        }
        cnt = 0;
        for (char *p = names; p < names + n; p += strlen(p) + 1)
                if (strncmp(p, APPLY_OWN_XATTRS, sizeof(APPLY_OWN_XATTRS) - 1))
                        list_[cnt++] = p;
        qsort(list_, cnt, sizeof(*list_), str_cmp);
        for (size_t i = 0; i < cnt && r == 0; i++) {
                unsigned char val[65536];
                ssize_t v = get_at(dirfd, name, path, list_[i], val, sizeof(val));
                size_t need;

                if (v < 0) {
                        r = errno == ENODATA ? -EAGAIN : -errno;
                        break;
                }
                need = len + strlen(list_[i]) + 2 * (size_t)v + 3;
                if (need > cap) {
                        char *m = realloc(out, cap = 2 * need);

                        if (!m) {
                                r = -ENOMEM;
                                break;
                        }
                        out = m;
                }
                len += (size_t)sprintf(out + len, "%s=", list_[i]);
                for (ssize_t k = 0; k < v; k++)
                        len += (size_t)sprintf(out + len, "%02x", val[k]);
                out[len++] = ';';
                out[len] = 0;
        }
out:
        free(list_);
        free(names);
        if (r < 0) {
                free(out);
                return r;
        }
        *ret = out;
        return 0;
}

static bool same_ts(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * How target entry @t (name @name in @tfd) differs from source entry @s
 * (in @sfd); NULL when it does not.  @name NULL: the directories themselves.
 */
static const char *differs(int sfd, int tfd, const char *name, const struct stat *s, const struct stat *t,
                           char *buf, size_t size)
{
        char *sx = NULL, *tx = NULL;
        const char *what = NULL;

        if ((s->st_mode & S_IFMT) != (t->st_mode & S_IFMT))
                return "type";
        if ((s->st_mode & 07777) != (t->st_mode & 07777)) {
                snprintf(buf, size, "mode %04o, the source's %04o", (unsigned)(t->st_mode & 07777),
                         (unsigned)(s->st_mode & 07777));
                return buf;
        }
        if (s->st_uid != t->st_uid || s->st_gid != t->st_gid)
                return "owner";
        if (S_ISREG(s->st_mode) && s->st_size != t->st_size) {
                snprintf(buf, size, "size %lld, the source's %lld", (long long)t->st_size, (long long)s->st_size);
                return buf;
        }
        if (S_ISREG(s->st_mode) && s->st_nlink != t->st_nlink) {
                snprintf(buf, size, "%lu links, the source's %lu", (unsigned long)t->st_nlink,
                         (unsigned long)s->st_nlink);
                return buf;
        }
        if ((S_ISCHR(s->st_mode) || S_ISBLK(s->st_mode)) && s->st_rdev != t->st_rdev)
                return "device number";
        if (!S_ISLNK(s->st_mode) && !same_ts(&s->st_mtim, &t->st_mtim)) {
                snprintf(buf, size, "mtime %lld.%09ld, the source's %lld.%09ld", (long long)t->st_mtim.tv_sec,
                         t->st_mtim.tv_nsec, (long long)s->st_mtim.tv_sec, s->st_mtim.tv_nsec);
                return buf;
        }
        if (S_ISLNK(s->st_mode)) {
                char a[PATH_MAX], b[PATH_MAX];
                ssize_t na = readlinkat(sfd, name, a, sizeof(a)), nb = readlinkat(tfd, name, b, sizeof(b));

                if (na >= 0 && (na != nb || memcmp(a, b, (size_t)na)))
                        return "symlink target";
                return NULL;
        }
        if ((S_ISREG(s->st_mode) || S_ISDIR(s->st_mode)) && xattrs(sfd, name, &sx) == 0 &&
            xattrs(tfd, name, &tx) == 0 && (!sx != !tx || (sx && strcmp(sx, tx))))
                what = "extended attributes";
        free(sx);
        free(tx);
        return what;
}

static int join(const char *dir, const char *name, char **ret)
{
        if (!name)
                return (*ret = strdup(dir)) ? 0 : -ENOMEM;
        return asprintf(ret, "%s%s%s", dir, *dir ? "/" : "", name) < 0 ? -ENOMEM : 0;
}

/*
 * Compare entry @name (NULL: the directories themselves) of @sfd and @tfd.
 * An entry the source changed meanwhile (its ctime moved, or it came or
 * went) is not reported.  1 when reported and counted (@fn said so), 0 when
 * not, -errno.
 */
static int compare(int sfd, int tfd, const char *dir, const char *name, check_differs_fn fn, void *arg)
{
        const char *at = name ? name : "";
        int flags = AT_SYMLINK_NOFOLLOW | (name ? 0 : AT_EMPTY_PATH);
        struct stat s1, s2, t;
        bool has_s, has_t;
        const char *what;
        char buf[128], *path;
        int r;

        has_s = fstatat(sfd, at, &s1, flags) == 0;
        if (!has_s && errno != ENOENT)
                return -errno;
        has_t = fstatat(tfd, at, &t, flags) == 0;
        if (!has_t && errno != ENOENT)
                return -errno;
        if (!has_s && !has_t)
                return 0;
        if (!has_s)
                what = "not on the source";
        else if (!has_t)
                what = "missing";
        else if (!(what = differs(sfd, tfd, name, &s1, &t, buf, sizeof(buf))))
                return 0;
        /* the source as it was before the target was looked at? */
        if (has_s != (fstatat(sfd, at, &s2, flags) == 0) ||
            (has_s && (s1.st_ino != s2.st_ino || !same_ts(&s1.st_ctim, &s2.st_ctim))))
                return 0;
        r = join(dir, name, &path);
        if (r < 0)
                return r;
        /* a directory on both sides: its attributes only (a walk of it
         * would compare the whole subtree beneath) */
        r = fn(arg, path, what,
               !has_s || !has_t || (s1.st_mode & S_IFMT) != (t.st_mode & S_IFMT) || !S_ISDIR(s1.st_mode),
               has_s ? &s1 : NULL, has_t ? &t : NULL);
        free(path);
        return r;
}

/*
 * The target is often a file system of its own: its root then has the
 * lost+found that e2fsck needs, which the source (a directory) may lack.
 * That one is the file system's, not the mirror's: never reported, never
 * removed.  Only at the root, only where the target's root is a mount's.
 */
static bool fs_own_entry(int tfd, const char *dir, const char *name)
{
        struct statx x;

        if (*dir || strcmp(name, "lost+found") != 0)
                return false;
        if (statx(tfd, "", AT_EMPTY_PATH, 0, &x) < 0 || !(x.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
                return false;
        return x.stx_attributes & STATX_ATTR_MOUNT_ROOT;
}

int check_dir(int source_fd, int target_fd, const char *dir, const struct check_limits *lim, check_differs_fn fn,
              void *arg, bool *moving)
{
        off_t max_size = lim ? lim->max_size : 0;
        int stop_fd = lim ? lim->stop_fd : -1;
        char **sn = NULL, **tn = NULL;
        size_t ns = 0, nt = 0, i = 0, k = 0, n = 0;
        struct stat before, after;
        int sfd, tfd = -1, r, found = 0;

        *moving = false;
        sfd = open_beneath(source_fd, dir);
        if (sfd < 0)
                return sfd == -ENOENT || sfd == -ENOTDIR || sfd == -ELOOP || sfd == -EXDEV ? 0 : sfd;
        if (fstat(sfd, &before) < 0) {
                r = -errno;
                goto out;
        }
        if (max_size && before.st_size > max_size) {
                r = -EFBIG;     /* too long to compare now: not listed */
                goto out;
        }
        tfd = open_beneath(target_fd, dir);
        if (tfd < 0) {
                /* The directory not on the target (or not one there): its
                 * parent's check says so when the parent was touched; say
                 * it here for when it was not. */
                r = tfd == -ENOENT || tfd == -ENOTDIR || tfd == -ELOOP ? 0 : tfd;
                if (r == 0 && fstat(sfd, &after) == 0 && same_ts(&before.st_ctim, &after.st_ctim) && *dir)
                        found = fn(arg, dir, tfd == -ENOENT ? "missing" : "type", true, &before, NULL);
                goto out;
        }
        r = list(sfd, stop_fd, &sn, &ns);
        if (r == 0 && stop_asked(stop_fd))
                r = -EINTR;
        if (r == 0)
                r = list(tfd, stop_fd, &tn, &nt);
        while (r >= 0 && (i < ns || k < nt)) {
                int c = i == ns ? 1 : k == nt ? -1 : strcmp(sn[i], tn[k]);
                const char *name = c <= 0 ? sn[i] : tn[k];

                if (++n % CHECK_POLL_EVERY == 0 && stop_asked(stop_fd)) {
                        r = -EINTR;     /* what was reported stands, the rest is not compared */
                        break;
                }
                r = c > 0 && fs_own_entry(tfd, dir, name) ? 0 : compare(sfd, tfd, dir, name, fn, arg);
                found += r > 0;
                i += c <= 0;
                k += c >= 0;
        }
        /* the directory's own attributes, last: its entries' repairs set them again */
        if (r >= 0 && !found) {
                r = compare(sfd, tfd, dir, NULL, fn, arg);
                found += r > 0;
        }
        *moving = r >= 0 && (fstat(sfd, &after) < 0 || !same_ts(&before.st_ctim, &after.st_ctim));
out:
        free_names(sn, ns);
        free_names(tn, nt);
        if (tfd >= 0)
                close(tfd);
        close(sfd);
        return r < 0 ? r : found;
}

/* Does @name (@len bytes, not NUL-terminated) explain @path? */
static bool names(const char *name, size_t len, const char *path, size_t plen)
{
        const char *slash;

        /* the path itself, or a directory above it (renamed, removed) */
        if (len <= plen && memcmp(name, path, len) == 0 && (len == plen || (len && path[len] == '/')))
                return true;
        /* an entry of @path (a directory): its own attributes change (the
         * directory compared itself, or a directory among its entries) */
        slash = memrchr(name, '/', len);
        if (!slash)
                return plen == 0 && len > 0;
        return (size_t)(slash - name) == plen && memcmp(name, path, plen) == 0;
}

bool check_explains(const struct journal_record *rec, const char *path, uint64_t ino, bool linked)
{
        size_t plen = strlen(path);

        if (rec->type == JOURNAL_EVENTS_LOST || rec->type == JOURNAL_MOUNT)
                return true;
        if (ino && rec->ino == ino)
                return true;
        if (linked && (rec->type == JOURNAL_LINK || rec->type == JOURNAL_UNLINK || rec->type == JOURNAL_RENAME))
                return true;
        return names(rec->path, rec->path_len, path, plen) ||
               (rec->path2_len && names(rec->path2, rec->path2_len, path, plen));
}
