/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apply.c: carry out one job against the trees.
 *
 * A sync job makes the target's entry equal to the source's as it is now:
 * same type; same contents (a regular file is copied to an unnamed file in
 * the destination directory, given its owner, mode, extended attributes
 * and times, and only then linked and renamed into place, so a reader of
 * the mirror never sees it half-written); same symlink target, device
 * number, owner, mode, xattrs, nanosecond times.  A source entry that is
 * gone is removed from the target only when the job says a name may have
 * gone (unlink, rmdir, the old name of a rename): otherwise a later record
 * says where it went.  Directories are not walked, except by a repair job
 * (JOB_SUBTREE) after a rename the target could not follow.
 *
 * Renames and exchanges are renames on the target (no data copied); links
 * are links, so files hard-linked on the source stay one inode.  When the
 * target is not as the journal implies (the source of a rename missing),
 * the job asks for a copy instead (fallback).
 *
 * Caveat: a hard-linked file (more than one name on both sides) is updated
 * in place, to keep its names one inode: a reader may see it change.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "replicator-internal.h"

#define XATTR_LIST_MAX_BYTES 65536

/* One path on one tree: its parent directory and last component ("." for the root). */
struct side {
        int pfd;
        const char *name;
        bool root;
        bool borrowed;                  /* pfd belongs to the caller (a walk's directory) */
        struct dircache_entry *cached;  /* pfd belongs to this (pinned) cache entry */
};

static void dircache_unpin(struct dircache_entry *e);

static int side_open(int root, const char *path, bool create, int src_root, struct side *s, bool *created)
{
        bool made = false;
        int r;

        s->pfd = -1;
        s->cached = NULL;
        s->root = !*path;
        if (s->root) {
                s->pfd = fcntl(root, F_DUPFD_CLOEXEC, 3);
                s->name = ".";
                return s->pfd < 0 ? -errno : 0;
        }
        r = tree_open_parent(root, path, create, src_root, &s->name, &s->pfd, &made);
        if (created)
                *created = made;
        return r;
}

static void side_close(struct side *s)
{
        if (s->cached)
                dircache_unpin(s->cached);
        else if (s->pfd >= 0 && !s->borrowed)
                close(s->pfd);
        s->pfd = -1;
        s->cached = NULL;
}

/* ---- the target directory cache ---- */

/*
 * Jobs in one directory (a tar extraction, a drain) would each walk the
 * path to it.  A worker keeps the directories it opened lately, for at most
 * a second and only while nothing was renamed or removed on the target
 * (ns_gen): the planner never runs a job beside a rename of its parents, so
 * an entry is never used across one.
 *
 * Ownership: a descriptor handed out by target_open() stays open until the
 * side holding it is closed (side_close), whatever happens to the cache
 * meanwhile.  A repair walk opens sides while outer levels still hold
 * theirs, and may expire, invalidate (it removes entries: ns_gen) or evict
 * cache entries on the way; those entries are pinned, so dropping one only
 * hides it from lookups and the last unpin closes it.  Eviction takes an
 * unpinned slot; when all are pinned the new descriptor is not cached.
 */
#define DIRCACHE_TTL_NS 1000000000ull

static uint64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void namespace_changed(struct apply_ctx *ctx)
{
        if (ctx->ns_gen)
                atomic_fetch_add(ctx->ns_gen, 1);
}

/* No lookup finds @e any more; its descriptor goes with the last pin. */
static void dircache_drop(struct dircache_entry *e)
{
        if (!e->path)
                return;
        free(e->path);
        e->path = NULL;
        if (!e->pins)
                close(e->fd);
}

static void dircache_unpin(struct dircache_entry *e)
{
        assert(e->pins > 0);
        if (--e->pins == 0 && !e->path)
                close(e->fd);           /* dropped while in use */
}

/* A slot for a new entry: the next unpinned one, emptied; NULL if none. */
static struct dircache_entry *dircache_slot(struct apply_ctx *ctx)
{
        for (unsigned i = 0; i < DIRCACHE_SIZE; i++) {
                struct dircache_entry *e = &ctx->dircache[ctx->dircache_next++ % DIRCACHE_SIZE];

                if (!e->pins) {
                        dircache_drop(e);
                        return e;
                }
        }
        return NULL;
}

void apply_ctx_release(struct apply_ctx *ctx)
{
        for (unsigned i = 0; i < DIRCACHE_SIZE; i++) {
                assert(ctx->dircache[i].pins == 0);
                dircache_drop(&ctx->dircache[i]);
        }
}

/* side_open() on the target, through the cache; side_close() when done. */
static int target_open(struct apply_ctx *ctx, const char *path, bool create, struct side *s, bool *created)
{
        const char *name = tree_basename(path);
        size_t plen = name > path ? (size_t)(name - path - 1) : 0;
        uint64_t gen = ctx->ns_gen ? atomic_load(ctx->ns_gen) : 0, now;
        struct dircache_entry *e;
        bool made = false;
        int r, fd;

        if (created)
                *created = false;
        if (!*path || name == path || !ctx->ns_gen)
                return side_open(ctx->target_fd, path, create, ctx->source_fd, s, created);
        now = mono_ns();
        for (unsigned i = 0; i < DIRCACHE_SIZE; i++) {
                e = &ctx->dircache[i];
                if (!e->path)
                        continue;
                if (e->gen != gen || now - e->born_ns > DIRCACHE_TTL_NS) {
                        dircache_drop(e);
                        continue;
                }
                if (strlen(e->path) == plen && memcmp(e->path, path, plen) == 0) {
                        e->pins++;
                        *s = (struct side) { .pfd = e->fd, .name = name, .cached = e };
                        return 0;
                }
        }
        r = tree_open_parent(ctx->target_fd, path, create, ctx->source_fd, &s->name, &fd, &made);
        if (r < 0)
                return r;
        if (made) {
                namespace_changed(ctx);         /* it may have replaced something */
                gen = atomic_load(ctx->ns_gen);
        }
        if (created)
                *created = made;
        *s = (struct side) { .pfd = fd, .name = name };
        e = dircache_slot(ctx);
        if (!e)
                return 0;                       /* not kept: closed after use */
        e->path = strndup(path, plen);
        if (!e->path)
                return 0;
        e->fd = fd;
        e->pins = 1;
        e->gen = gen;
        e->born_ns = now;
        s->cached = e;
        return 0;
}

/* "/proc/self/fd/PARENT/NAME": a path the l*xattr() calls take without following NAME. */
static void proc_path(const struct side *s, char *buf, size_t size)
{
        tree_proc_path(s->pfd, s->name, buf, size);
}

static bool missing(int err)
{
        return err == -ENOENT || err == -ENOTDIR || err == -ELOOP;
}

/* ---- extended attributes ---- */

/* The names list of @path (l*) or of @fd, malloc'ed; length in *ret_len. */
static int xattr_names(const char *path, int fd, char **ret, ssize_t *ret_len)
{
        ssize_t n = path ? llistxattr(path, NULL, 0) : flistxattr(fd, NULL, 0);
        char *buf;

        if (n < 0) {
                if (errno == ENOTSUP || errno == EOPNOTSUPP) {
                        *ret = NULL;
                        *ret_len = 0;
                        return 0;
                }
                return -errno;
        }
        if (n == 0) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        buf = malloc((size_t)n + 1);
        if (!buf)
                return -ENOMEM;
        n = path ? llistxattr(path, buf, (size_t)n) : flistxattr(fd, buf, (size_t)n);
        if (n < 0) {
                int r = -errno;

                free(buf);
                return r == -ERANGE ? -EAGAIN : r;      /* changed meanwhile: again */
        }
        *ret = buf;
        *ret_len = n;
        return 0;
}

static ssize_t xattr_get(const char *path, int fd, const char *name, char *buf, size_t size)
{
        ssize_t n = path ? lgetxattr(path, name, buf, size) : fgetxattr(fd, name, buf, size);

        return n < 0 ? -errno : n;
}

/*
 * Make the extended attributes of the target (@dpath, or @dfd) those of
 * the source (@spath, or @sfd).  @fresh: the target has none yet.
 */
static int sync_xattrs(const char *spath, int sfd, const char *dpath, int dfd, bool fresh)
{
        char *snames = NULL, *dnames = NULL, *sval = NULL, *dval = NULL;
        ssize_t slen = 0, dlen = 0;
        int r;

        r = xattr_names(spath, sfd, &snames, &slen);
        if (r == 0 && !fresh)
                r = xattr_names(dpath, dfd, &dnames, &dlen);
        if (r < 0 || (slen == 0 && dlen == 0))
                goto out;       /* none on either side: the common case */
        sval = malloc(XATTR_LIST_MAX_BYTES);
        dval = malloc(XATTR_LIST_MAX_BYTES);
        if (!sval || !dval) {
                r = -ENOMEM;
                goto out;
        }
        for (ssize_t i = 0; i < slen; i += (ssize_t)strlen(snames + i) + 1) {
                const char *name = snames + i;
                ssize_t sn = xattr_get(spath, sfd, name, sval, XATTR_LIST_MAX_BYTES), dn;

                if (sn == -ENODATA || strncmp(name, APPLY_OWN_XATTRS, strlen(APPLY_OWN_XATTRS)) == 0)
                        continue;       /* removed meanwhile; a mirror's own, not ours to copy */
                if (sn < 0) {
                        r = (int)sn;
                        goto out;
                }
                dn = fresh ? -ENODATA : xattr_get(dpath, dfd, name, dval, XATTR_LIST_MAX_BYTES);
                if (dn == sn && memcmp(sval, dval, (size_t)sn) == 0)
                        continue;
                if ((dpath ? lsetxattr(dpath, name, sval, (size_t)sn, 0) : fsetxattr(dfd, name, sval, (size_t)sn, 0)) < 0) {
                        r = -errno;
                        goto out;
                }
        }
        for (ssize_t i = 0; i < dlen; i += (ssize_t)strlen(dnames + i) + 1) {
                const char *name = dnames + i;
                bool keep = false;

                for (ssize_t k = 0; k < slen && !keep; k += (ssize_t)strlen(snames + k) + 1)
                        keep = strcmp(snames + k, name) == 0;
                keep = keep || strncmp(name, APPLY_OWN_XATTRS, strlen(APPLY_OWN_XATTRS)) == 0;
                if (!keep && (dpath ? lremovexattr(dpath, name) : fremovexattr(dfd, name)) < 0 && errno != ENODATA) {
                        r = -errno;
                        goto out;
                }
        }
        r = 0;
out:
        free(snames);
        free(dnames);
        free(sval);
        free(dval);
        return r;
}

/* ---- attributes ---- */

static bool same_time(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Attributes of an existing target entry, changed only where they differ. */
static int sync_attrs(const struct side *s, const struct side *t, const struct stat *sst,
                      const struct stat *tst, struct job_result *res)
{
        char spath[TREE_PROC_PATH_MAX], tpath[TREE_PROC_PATH_MAX];
        bool chowned = false;
        int r;

        if (tst->st_uid != sst->st_uid || tst->st_gid != sst->st_gid) {
                if (fchownat(t->pfd, t->name, sst->st_uid, sst->st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
                        res->what = "chown";
                        return -errno;
                }
                chowned = true;
        }
        /* chown may have dropped setuid/setgid: set the mode after it */
        if (!S_ISLNK(sst->st_mode) && (chowned || (tst->st_mode & 07777) != (sst->st_mode & 07777))) {
                if (fchmodat(t->pfd, t->name, sst->st_mode & 07777, 0) < 0) {
                        res->what = "chmod";
                        return -errno;
                }
        }
        proc_path(s, spath, sizeof(spath));
        proc_path(t, tpath, sizeof(tpath));
        r = sync_xattrs(spath, -1, tpath, -1, false);
        if (r < 0) {
                res->what = "xattr";
                return r;
        }
        if (!same_time(&tst->st_mtim, &sst->st_mtim) || !same_time(&tst->st_atim, &sst->st_atim)) {
                struct timespec ts[2] = { sst->st_atim, sst->st_mtim };

                if (utimensat(t->pfd, t->name, ts, AT_SYMLINK_NOFOLLOW) < 0) {
                        res->what = "utimens";
                        return -errno;
                }
        }
        return 0;
}

/*
 * Attributes of a file being written (open descriptor @fd), all of them.
 * Owner and mode are compared with what the file has (fstat), never with
 * what it was made with: a new file takes the group of a setgid directory,
 * a default ACL changes its mode, and a file updated in place keeps
 * whatever it had.  @fresh: a new file, it has no extended attributes yet.
 */
static int set_attrs_fd(int fd, int sfd, const struct stat *sst, bool fresh, struct job_result *res)
{
        struct timespec ts[2] = { sst->st_atim, sst->st_mtim };
        bool chowned = false;
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0) {
                res->what = "stat target";
                return -errno;
        }
        if (st.st_uid != sst->st_uid || st.st_gid != sst->st_gid) {
                if (fchown(fd, sst->st_uid, sst->st_gid) < 0) {
                        res->what = "chown";
                        return -errno;
                }
                chowned = true;
        }
        /* after chown, which drops setuid and setgid */
        if ((chowned || (st.st_mode & 07777) != (sst->st_mode & 07777)) && fchmod(fd, sst->st_mode & 07777) < 0) {
                res->what = "chmod";
                return -errno;
        }
        r = sync_xattrs(NULL, sfd, NULL, fd, fresh);
        if (r < 0) {
                res->what = "xattr";
                return r;
        }
        if (futimens(fd, ts) < 0) {
                res->what = "utimens";
                return -errno;
        }
        return 0;
}

/*
 * The temporary name beside @name while it is made: the same every time
 * (".mirrorfs.tmp." and a 64-bit FNV-1a hash of @name, in hex), so that a
 * replicator killed between making it and renaming it into place finds it
 * again when the job is replayed, and a removal of @name takes it too.
 * Only one job at a time works on a name.
 */
void apply_tmp_name(const char *name, char *buf, size_t size)
{
        uint64_t h = 0xcbf29ce484222325ull;

        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
                h = (h ^ *c) * 0x100000001b3ull;
        snprintf(buf, size, ".mirrorfs.tmp.%016llx", (unsigned long long)h);
}

static void tmp_name(const struct side *t, char *buf, size_t size)
{
        apply_tmp_name(t->name, buf, size);
}

/* A leftover of a job killed half way (see apply_tmp_name()) is in the way: gone. */
static bool clear_leftover(int dfd, const char *tmp, int err)
{
        return err == EEXIST && unlinkat(dfd, tmp, 0) == 0;
}

/* ---- contents ---- */

/* An unnamed file in the target directory, or a named temporary one. */
static int open_temp(struct apply_ctx *ctx, const struct side *t, mode_t mode, char *tmp, size_t size, bool *named)
{
        int fd = openat(t->pfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);

        *named = false;
        if (fd >= 0)
                return fd;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
                return -errno;
        tmp_name(t, tmp, size);
        fd = openat(t->pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0 && clear_leftover(t->pfd, tmp, errno))
                fd = openat(t->pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        *named = true;
        return fd;
}

/* Give the finished temporary file its name. */
static int publish(struct apply_ctx *ctx, const struct side *t, int fd, char *tmp, size_t size, bool named,
                   bool exists)
{
        char proc[64];

        if (!named) {
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                /* A new name: linking the finished file there is atomic
                 * already (and fails if the name was taken meanwhile). */
                if (!exists && linkat(AT_FDCWD, proc, t->pfd, t->name, AT_SYMLINK_FOLLOW) == 0)
                        return 0;
                tmp_name(t, tmp, size);
                if (linkat(AT_FDCWD, proc, t->pfd, tmp, AT_SYMLINK_FOLLOW) < 0 &&
                    (!clear_leftover(t->pfd, tmp, errno) ||
                     linkat(AT_FDCWD, proc, t->pfd, tmp, AT_SYMLINK_FOLLOW) < 0))
                        return -errno;
        }
        if (renameat(t->pfd, tmp, t->pfd, t->name) < 0) {
                int r = -errno;

                (void)unlinkat(t->pfd, tmp, 0);
                return r;
        }
        return 0;
}

static bool unchanged(const struct stat *a, const struct stat *b)
{
        return a->st_size == b->st_size && same_time(&a->st_mtim, &b->st_mtim) &&
               same_time(&a->st_ctim, &b->st_ctim);
}

/* Is target entry @t marked as the copy of another source inode than @ino
 * (APPLY_INO_XATTR)?  Unmarked (made by an older version) is not. */
static bool marked_other(const struct side *t, uint64_t ino)
{
        uint64_t marked;

        return tree_marked_ino(t->pfd, t->name, &marked) == 0 && marked != ino;
}

/*
 * What copy_file() and sync_subtree() return when the source entry they open
 * is not the one sync_entry() looked at: renamed over or exchanged in
 * between, by a record not read yet (see sync_entry()).
 */
#define SOURCE_MOVED_ON 1

/* Is the entry open as @fd still @sst's inode? */
static bool same_inode(int fd, const struct stat *sst)
{
        struct stat st;

        return fstat(fd, &st) == 0 && st.st_ino == sst->st_ino && st.st_dev == sst->st_dev;
}

static int copy_file(struct apply_ctx *ctx, const char *path, const struct side *s, const struct side *t,
                     const struct stat *sst, const struct stat *tst, bool texists, struct job_result *res)
{
        char tmp[NAME_MAX + 1];
        struct stat a, b;
        int in, out = -1, r = -EAGAIN;

        if (ctx->before_open)
                ctx->before_open(path);
        in = openat(s->pfd, s->name, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_NONBLOCK | O_CLOEXEC);
        if (in < 0 && errno == EPERM)
                in = openat(s->pfd, s->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (in < 0) {
                res->what = "open source";
                return missing(-errno) ? (res->nothing = res->gone = true, 0) : -errno;
        }
        /* A file that changes while it is copied is copied again. */
        for (int attempt = 0; attempt < 3; attempt++) {
                bool named = false, inplace;
                int64_t n;

                if (fstat(in, &a) < 0) {
                        r = -errno;
                        break;
                }
                if (a.st_ino != sst->st_ino || a.st_dev != sst->st_dev) {
                        r = SOURCE_MOVED_ON;    /* opened as another than looked at */
                        break;
                }
                if (!S_ISREG(a.st_mode)) {
                        r = -EAGAIN;    /* replaced by something else: the job runs again */
                        break;
                }
                /* Hard-linked on both sides: written in place, so that the
                 * other names see it, unless the target inode is another
                 * source inode's copy (the name was that inode's before:
                 * its other names keep their bytes). */
                inplace = texists && S_ISREG(tst->st_mode) && tst->st_nlink > 1 && a.st_nlink > 1 &&
                          !links_other_copy(ctx, path, &a, tst) && !marked_other(t, a.st_ino);
                if (inplace) {
                        out = openat(t->pfd, t->name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (out < 0 || ftruncate(out, 0) < 0) {
                                r = -errno;
                                res->what = "open target";
                                break;
                        }
                } else {
                        out = open_temp(ctx, t, a.st_mode & 0777, tmp, sizeof(tmp), &named);
                        if (out < 0) {
                                r = out;
                                out = -1;
                                res->what = "create temporary file";
                                break;
                        }
                        (void)tree_mark_ino_fd(out, a.st_ino);
                }
                n = ctx->copy_ops->copy(ctx->copier, in, out, (uint64_t)a.st_size);
                if (n < 0) {
                        r = (int)n;
                        res->what = "copy";
                } else if (n != a.st_size && ftruncate(out, a.st_size) < 0) {
                        r = -errno;
                        res->what = "truncate";
                } else if (fstat(in, &b) < 0) {
                        r = -errno;
                } else if (!unchanged(&a, &b)) {
                        r = -EAGAIN;
                        res->what = "copy (source kept changing)";
                } else {
                        r = set_attrs_fd(out, in, &a, !inplace, res);
                        if (r == 0 && !inplace) {
                                r = publish(ctx, t, out, tmp, sizeof(tmp), named, texists);
                                if (r < 0)
                                        res->what = "rename into place";
                                else
                                        res->changed_parent = true;
                        }
                        if (r == 0) {
                                res->bytes += (uint64_t)n;
                                res->copied = true;
                        }
                }
                if (r < 0 && named && !inplace)
                        (void)unlinkat(t->pfd, tmp, 0);
                close(out);
                out = -1;
                if (r != -EAGAIN || n < 0)
                        break;
        }
        close(in);
        return r;
}

/* A symlink, fifo, socket or device: made under a temporary name, attributes
 * set, renamed into place. */
static int make_special(struct apply_ctx *ctx, const struct side *s, const struct side *t, const struct stat *sst,
                        const char *link, struct job_result *res)
{
        struct timespec ts[2] = { sst->st_atim, sst->st_mtim };
        struct side tmp_side = *t;
        char tmp[NAME_MAX + 1], spath[TREE_PROC_PATH_MAX], tpath[TREE_PROC_PATH_MAX];
        int r;

        tmp_name(t, tmp, sizeof(tmp));
        for (int again = 1; ; again--) {
                if (link)
                        r = symlinkat(link, t->pfd, tmp);
                else
                        r = mknodat(t->pfd, tmp, sst->st_mode, sst->st_rdev);
                if (r == 0 || !again || !clear_leftover(t->pfd, tmp, errno))
                        break;
        }
        if (r < 0) {
                res->what = link ? "symlink" : "mknod";
                return -errno;
        }
        /* which source inode it copies, as for files and directories
         * (ignored where the target takes no trusted attributes) */
        (void)tree_mark_ino(t->pfd, tmp, sst->st_ino);
        tmp_side.name = tmp;
        proc_path(s, spath, sizeof(spath));
        proc_path(&tmp_side, tpath, sizeof(tpath));
        if (fchownat(t->pfd, tmp, sst->st_uid, sst->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            (!link && fchmodat(t->pfd, tmp, sst->st_mode & 07777, 0) < 0)) {
                r = -errno;
                res->what = "chown";
        } else if ((r = sync_xattrs(spath, -1, tpath, -1, true)) < 0) {
                res->what = "xattr";
        } else if (utimensat(t->pfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
                res->what = "utimens";
        } else if (renameat(t->pfd, tmp, t->pfd, t->name) < 0) {
                r = -errno;
                res->what = "rename into place";
        } else {
                res->changed_parent = true;
                return 0;
        }
        (void)unlinkat(t->pfd, tmp, 0);
        return r;
}

static int read_link(const struct side *s, char *buf, size_t size)
{
        ssize_t n = readlinkat(s->pfd, s->name, buf, size);

        if (n < 0)
                return -errno;
        if ((size_t)n >= size)
                return -ENAMETOOLONG;
        buf[n] = 0;
        return 0;
}

/* ---- sync ---- */

static int sync_entry(struct apply_ctx *ctx, const char *path, int sdir, uint32_t flags, uint64_t ino,
                      struct job_result *res);

/* Is target entry @s a directory made on demand (APPLY_PARTIAL_XATTR)? */
static bool partial(const struct side *s)
{
        char p[TREE_PROC_PATH_MAX];

        proc_path(s, p, sizeof(p));
        return lgetxattr(p, APPLY_PARTIAL_XATTR, NULL, 0) >= 0;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is the source directory @sd that was walked still entry @s (in its
 * parent), and, for the job's own entry (@top), still at @path? */
static bool walked_still_there(struct apply_ctx *ctx, const char *path, bool top, const struct side *s, DIR *sd)
{
        struct stat a, b;

        if (fstat(dirfd(sd), &a) < 0)
                return false;
        if (top)
                return fstatat(ctx->source_fd, path, &b, AT_SYMLINK_NOFOLLOW | (*path ? 0 : AT_EMPTY_PATH)) == 0 &&
                       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
        return fstatat(s->pfd, s->name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
               a.st_dev == b.st_dev;
}

/*
 * Repair: everything beneath @path as in the source, extra target entries
 * removed.  With @fill (a directory the target made on demand, moved by a
 * rename), entries the target has already are left to the records about
 * them, but for subdirectories made on demand too, which are filled the
 * same way.
 *
 * The source directory is the one sync_entry() looked at (@look, entry @s;
 * opened as another, renamed over or exchanged since, the walk does
 * nothing and returns SOURCE_MOVED_ON): what is beneath it is looked up in
 * it, not by name from the root, so that a rename on the source of it (or
 * of one above) while it is walked cannot bring another directory's
 * entries into this one's copy.  The target's directory is marked partial
 * while it is walked, and stays so when the source directory is no longer under @path
 * at the end (@top: the job's own entry; else no longer in its parent):
 * res->gone, as for any job whose entry went (parked until the rename is
 * read; the rename carried out on the target fills it,
 * APPLY_PARTIAL_XATTR).  Otherwise the mark is removed.
 */
static int sync_subtree(struct apply_ctx *ctx, const char *path, const struct side *s, const struct stat *look,
                        bool top, bool fill, uint32_t any, struct job_result *res)
{
        struct dirent *de;
        struct side t = { .pfd = -1 };
        DIR *sd = NULL, *td = NULL;
        char **seen = NULL;
        size_t nseen = 0, cap = 0;
        int fd, r = 0;

        if (ctx->before_open)
                ctx->before_open(path);
        fd = openat(s->pfd, s->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && !same_inode(fd, look)) {
                close(fd);
                return SOURCE_MOVED_ON;
        }
        sd = fd >= 0 ? fdopendir(fd) : NULL;
        if (!sd) {
                r = missing(-errno) || errno == ENOTDIR ? 0 : -errno;
                if (fd >= 0)
                        close(fd);
        }
        /* The source directory gone since it was looked at: nothing to
         * compare the target's with (it once had every entry removed). */
        if (sd && side_open(ctx->target_fd, path, false, -1, &t, NULL) == 0) {
                fd = openat(t.pfd, t.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                td = fd >= 0 ? fdopendir(fd) : NULL;
        }
        if (sd && td)
                (void)fsetxattr(dirfd(td), APPLY_PARTIAL_XATTR, "1", 1, 0);
        while (r == 0 && sd && (errno = 0, de = readdir(sd))) {
                struct stat sst, tst;
                uint32_t flags;
                char *child;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (nseen == cap) {
                        char **n = realloc(seen, (cap = cap ? 2 * cap : 64) * sizeof(*seen));

                        if (!n) {
                                r = -ENOMEM;
                                break;
                        }
                        seen = n;
                }
                if (!(seen[nseen] = strdup(de->d_name)) ||
                    asprintf(&child, "%s%s%s", path, *path ? "/" : "", de->d_name) < 0) {
                        free(seen[nseen]);
                        r = -ENOMEM;
                        break;
                }
                nseen++;
                flags = JOB_DATA | JOB_ATTR | JOB_REMOVED | JOB_SUBTREE;
                if (fill && td && fstatat(dirfd(sd), de->d_name, &sst, AT_SYMLINK_NOFOLLOW) == 0 &&
                    fstatat(dirfd(td), de->d_name, &tst, AT_SYMLINK_NOFOLLOW) == 0 &&
                    (tst.st_mode & S_IFMT) == (sst.st_mode & S_IFMT))
                        flags = S_ISDIR(tst.st_mode) ? JOB_FILL : 0;    /* (if made on demand too) */
                if (flags)
                        r = sync_entry(ctx, child, dirfd(sd), flags | any, 0, res);
                res->gone = false;      /* the job's own entry is there */
                free(child);
        }
        if (seen)
                qsort(seen, nseen, sizeof(*seen), name_cmp);
        /* target entries the source does not have */
        if (r == 0 && td) {
                while (r == 0 && (de = readdir(td))) {
                        const char *name = de->d_name;
                        const struct side extra = { .pfd = dirfd(td), .name = name };
                        struct stat st;
                        char *child;

                        if (!strcmp(name, ".") || !strcmp(name, ".."))
                                continue;
                        if (nseen && bsearch(&name, seen, nseen, sizeof(*seen), name_cmp))
                                continue;       /* synced above */
                        if (sd && fstatat(dirfd(sd), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                                /* made on the source since it was listed:
                                 * synced too (the target's may be another) */
                                if (asprintf(&child, "%s%s%s", path, *path ? "/" : "", name) < 0) {
                                        r = -ENOMEM;
                                        break;
                                }
                                r = sync_entry(ctx, child, dirfd(sd),
                                               JOB_DATA | JOB_ATTR | JOB_REMOVED | JOB_SUBTREE | any, 0, res);
                                res->gone = false;
                                free(child);
                                continue;
                        }
                        if (!any && fstatat(dirfd(td), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            S_ISDIR(st.st_mode) && marked_other(&extra, 0)) {
                                /* a directory copy a record not read yet may
                                 * move: see sync_entry() */
                                res->deferred = true;
                                continue;
                        }
                        namespace_changed(ctx);
                        r = tree_remove(dirfd(td), name);
                }
        }
        if (r == 0 && (!sd || !walked_still_there(ctx, path, top, s, sd)))
                res->nothing = res->gone = true;        /* it went on the source meanwhile */
        else if (r == 0 && sd && td)
                (void)fremovexattr(dirfd(td), APPLY_PARTIAL_XATTR);
        for (size_t i = 0; i < nseen; i++)
                free(seen[i]);
        free(seen);
        if (sd)
                closedir(sd);
        if (td)
                closedir(td);
        side_close(&t);
        return r;
}

/*
 * A job for attributes only finds the source file's mtime other than its
 * copy's: unless its records set the times, the file was written, and the
 * record of that write was about a name the job never saw (one removed
 * or renamed over before it was carried out, with no other name known).
 * Setting the source's times over the old bytes would make the copy look
 * current: the contents are copied too.
 */
static bool written_unseen(uint32_t flags, const struct stat *sst, const struct stat *tst)
{
        return !(flags & JOB_TIMES) && !same_time(&sst->st_mtim, &tst->st_mtim);
}

/* Remove target entry @t (everything beneath, for a directory): the source's went. */
static int remove_entry(struct apply_ctx *ctx, const struct side *t, struct job_result *res)
{
        int r;

        namespace_changed(ctx);
        r = tree_remove(t->pfd, t->name);
        if (r < 0)
                res->what = "remove";
        else
                res->changed_parent = true;
        res->nothing = false;
        return r;
}

/*
 * Make target @path what the source has there.  @sdir: the source
 * directory the entry is in (a walk's), or -1 to look @path up from the
 * source root (the job's own entry).  @ino: the source inode the job's
 * records were about (0: unknown).
 */
static int sync_entry(struct apply_ctx *ctx, const char *path, int sdir, uint32_t flags, uint64_t ino,
                      struct job_result *res)
{
        struct side s = { .pfd = -1 }, t = { .pfd = -1 };
        struct stat sst, tst;
        bool texists, created = false, joined = false, shared;
        char link[PATH_MAX + 1];
        int r = 0;

        if (sdir >= 0)
                s = (struct side) { .pfd = sdir, .name = tree_basename(path), .borrowed = true };
        else
                r = side_open(ctx->source_fd, path, false, -1, &s, NULL);
        if (r == 0 && fstatat(s.pfd, s.name, &sst, AT_SYMLINK_NOFOLLOW) < 0)
                r = -errno;
        if ((r == 0 && ino && sst.st_ino != ino) || (missing(r) && (flags & JOB_UNLINKED))) {
                /* The inode the records were about has gone from the name
                 * (renamed over, or removed; the records of a newcomer
                 * follow).  If it lives on under a name the target has
                 * (links.c), its changes go there.  Not for a name gone
                 * with no removal read: a rename not read yet takes the job
                 * to the inode's new name (the name links.c knows may hold
                 * an older copy of it). */
                if (ino && (flags & (JOB_DATA | JOB_ATTR))) {
                        res->redirect[0].path = links_other_name(ctx, ino, path);
                        res->redirect[0].ino = ino;
                }
        }
        if (r == 0)
                res->source_ino = sst.st_ino;
        if (r == 0 && ino && sst.st_ino != ino && !(flags & JOB_ANY_INODE)) {
                /* The target's entry may be either; a removal of the
                 * inode takes its copy (APPLY_INO_XATTR says which it is):
                 * the records of the newcomer make theirs. */
                uint64_t marked;

                res->nothing = res->gone = true;
                if ((flags & JOB_UNLINKED) && target_open(ctx, path, false, &t, NULL) == 0 &&
                    tree_marked_ino(t.pfd, t.name, &marked) == 0 && marked == ino)
                        r = remove_entry(ctx, &t, res);
                goto out;
        }
        if (r < 0 && !missing(r)) {
                res->what = "source";
                goto out;
        }
        if (r < 0) {
                /* The source has no such entry now.  Removed, the records
                 * say, unless they say it was made again since: then it
                 * went somewhere a later record tells (see JOB_PARKED). */
                res->nothing = res->gone = true;
                r = 0;
                if (!(flags & JOB_REMOVED) || ((flags & (JOB_DATA | JOB_ATTR)) && !(flags & JOB_UNLINKED)) ||
                    !*path)
                        goto out;
                if (target_open(ctx, path, false, &t, NULL) < 0)
                        goto out;       /* no parent: nothing to remove */
                if (flags & JOB_UNLINKED) {
                        /* what a job on the name killed half way left */
                        char tmp[NAME_MAX + 1];

                        tmp_name(&t, tmp, sizeof(tmp));
                        (void)unlinkat(t.pfd, tmp, 0);
                }
                if (fstatat(t.pfd, t.name, &tst, AT_SYMLINK_NOFOLLOW) == 0)
                        r = remove_entry(ctx, &t, res);
                goto out;
        }
        if (S_ISLNK(sst.st_mode)) {
                r = read_link(&s, link, sizeof(link));
                if (r < 0) {
                        res->what = "readlink";
                        if (missing(r)) {
                                res->nothing = res->gone = true;
                                r = 0;
                        }
                        goto out;
                }
        }
        if (!(flags & (JOB_DATA | JOB_ATTR | JOB_SUBTREE | JOB_FILL))) {
                /* Only a removal to check, and the source has the name
                 * again: what came there has records of its own, which
                 * make its copy when the target lacks one.  Made here, it
                 * could be a second copy of a directory that a rename not
                 * read yet moved there, the first one beside it. */
                r = target_open(ctx, path, false, &t, NULL);
                if (r < 0 || fstatat(t.pfd, t.name, &tst, AT_SYMLINK_NOFOLLOW) < 0) {
                        res->nothing = true;
                        r = 0;
                        goto out;
                }
                side_close(&t);
                t = (struct side) { .pfd = -1 };
        }
        r = target_open(ctx, path, true, &t, &created);
        if (r < 0) {
                res->what = "target directory";
                goto out;
        }
        if (created)
                res->created_dir = true;
        texists = fstatat(t.pfd, t.name, &tst, AT_SYMLINK_NOFOLLOW) == 0;
        if (sdir >= 0 && ctx->swapping && ctx->swapping(ctx->swapping_arg, path) &&
            (!texists || marked_other(&t, sst.st_ino))) {
                /* A walk meets a name where an exchange read but not
                 * carried out yet will bring an entry (the source has
                 * carried it out: what the walk sees there is what the
                 * exchange brings).  Made now, it would be swapped away to
                 * the other name, a second copy beside the one that
                 * belongs there, and what the target has there now, which
                 * the exchange takes to the other name, would be lost
                 * (storm seed 11883: a symlink's copy replaced by the file
                 * exchanged with it).  Left to the exchange (and to the
                 * name it leaves, synced when the target lacks one). */
                goto out;
        }
        if (sdir >= 0 && texists && !(flags & JOB_ANY_INODE) && S_ISDIR(tst.st_mode) &&
            marked_other(&t, sst.st_ino)) {
                /* A walk meets the copy of another directory than the
                 * source has under the name: the source has moved on, and
                 * a record not read yet (a rename, an exchange) will move
                 * that copy where it belongs.  Replaced now, it would be
                 * lost with everything in it.  Left; the job walks again,
                 * taking any inode, when no record has explained it. */
                res->deferred = true;
                goto out;
        }
        if (texists && (tst.st_mode & S_IFMT) != (sst.st_mode & S_IFMT)) {
                if (!(flags & (JOB_DATA | JOB_REMOVED | JOB_SUBTREE))) {
                        /* Only attributes changed, the journal says: the
                         * source was replaced since, and the records of that
                         * (and of where the old entry went) follow. */
                        res->nothing = res->gone = true;
                        goto out;
                }
                namespace_changed(ctx);
                r = tree_remove(t.pfd, t.name);
                if (r < 0) {
                        res->what = "remove";
                        goto out;
                }
                texists = false;
                res->changed_parent = true;
        }
        /* An entry with several names on the source: this name joins the
         * target inode another has (links.c), unless it is one already. */
        r = links_join(ctx, path, t.pfd, t.name, &sst, texists ? &tst : NULL);
        if (r > 0) {
                joined = res->changed_parent = true;
                texists = fstatat(t.pfd, t.name, &tst, AT_SYMLINK_NOFOLLOW) == 0;
                r = 0;
        } else if (r < 0) {
                res->what = "link";
                goto out;
        }
        /* The name shares its target inode with other names, and that
         * inode is another source inode's copy (APPLY_INO_XATTR): the
         * source replaced this name's hard link by an entry of its own.
         * It gets its own copy, made anew and renamed over the name; set
         * in place, its attributes or bytes would land on the other names,
         * and it would stay one of them. */
        shared = texists && !S_ISDIR(tst.st_mode) && tst.st_nlink > 1 && marked_other(&t, sst.st_ino);
        switch (sst.st_mode & S_IFMT) {
        case S_IFREG:
                /* Joined or not, the contents are copied when the records
                 * say they changed: the inode joined may have the source's
                 * times (a job on another name set them) and old bytes. */
                if (!texists || shared || tst.st_size != sst.st_size || (flags & (JOB_DATA | JOB_SUBTREE)) ||
                    written_unseen(flags, &sst, &tst))
                        r = copy_file(ctx, path, &s, &t, &sst, &tst, texists, res);
                else if ((flags & JOB_ATTR) || joined)
                        r = sync_attrs(&s, &t, &sst, &tst, res);
                break;
        case S_IFDIR: {
                uint64_t marked;
                int m = texists ? tree_marked_ino(t.pfd, t.name, &marked) : -ENODATA;
                bool other = m == 0 && marked != sst.st_ino;

                if (other) {
                        /* The target has another directory's copy under the
                         * name (APPLY_INO_XATTR): the source went on, and a
                         * record not read yet says how.  With none left to
                         * come, or in a walk, it is walked into the source's. */
                        if (!(flags & (JOB_ANY_INODE | JOB_SUBTREE | JOB_FILL))) {
                                res->nothing = res->gone = true;
                                break;
                        }
                        flags |= JOB_SUBTREE;
                }
                if (!texists) {
                        if (mkdirat(t.pfd, t.name, 0700) < 0) {
                                r = -errno;
                                res->what = "mkdir";
                                break;
                        }
                        res->changed_parent = true;
                        res->created_dir = true;
                        tst = (struct stat) { .st_mode = S_IFDIR | 0700, .st_uid = (uid_t)-1, .st_gid = (gid_t)-1 };
                }
                /* the mark: on a new one, or where the records say it is
                 * this inode (a target made before marks); after the walk
                 * on another's copy */
                if (!texists || (m == -ENODATA && ino == sst.st_ino))
                        (void)tree_mark_ino(t.pfd, t.name, sst.st_ino);
                /* a fill only where the target made the directory on demand */
                if ((flags & JOB_SUBTREE) || ((flags & JOB_FILL) && (!texists || partial(&t)))) {
                        r = sync_subtree(ctx, path, &s, &sst, sdir < 0, !(flags & JOB_SUBTREE),
                                         flags & JOB_ANY_INODE, res);
                        if (r != 0 || res->gone)
                                break;
                        if (other)
                                (void)tree_mark_ino(t.pfd, t.name, sst.st_ino);
                        /* the walk changed the directory's times */
                        if (fstatat(t.pfd, t.name, &tst, AT_SYMLINK_NOFOLLOW) < 0) {
                                r = -errno;
                                res->what = "stat target";
                                break;
                        }
                }
                r = sync_attrs(&s, &t, &sst, &tst, res);
                break;
        }
        case S_IFLNK: {
                char tlink[PATH_MAX + 1];

                if (!texists || shared || read_link(&t, tlink, sizeof(tlink)) < 0 || strcmp(link, tlink) != 0)
                        r = make_special(ctx, &s, &t, &sst, link, res);
                else if ((flags & JOB_ATTR) || joined)
                        r = sync_attrs(&s, &t, &sst, &tst, res);
                break;
        }
        default:
                if (!texists || shared || tst.st_rdev != sst.st_rdev)
                        r = make_special(ctx, &s, &t, &sst, NULL, res);
                else if ((flags & JOB_ATTR) || joined)
                        r = sync_attrs(&s, &t, &sst, &tst, res);
                break;
        }
        if (r == SOURCE_MOVED_ON) {
                /* The source's entry was replaced between the look above
                 * and the open (a rename or an exchange, its record not
                 * read yet): copied, it would go where that record moves
                 * this name's entry, another inode's copy (storm seed
                 * 30623: a directory exchanged as it was walked went with
                 * the other's entries).  The job's own entry: as if the
                 * look had found the other inode (parked until a record
                 * explains it); in a walk: the walk goes again once the
                 * reader has caught up. */
                if (sdir < 0)
                        res->nothing = res->gone = true;
                else
                        res->deferred = true;
                r = 0;
                goto out;
        }
        if (r == 0) {
                /* the other names join this one's inode (or it theirs) */
                r = links_note(ctx, path, t.pfd, t.name, &sst);
                if (r > 0)
                        res->changed_parent = true;
                else if (r < 0)
                        res->what = "link";
                r = r > 0 ? 0 : r;
        }
out:
        side_close(&s);
        side_close(&t);
        return r;
}

/* ---- renames and links ---- */

/*
 * Renames are not idempotent: replayed after a crash, a rename the target
 * had already carried out would move what has the old name now (a later
 * directory of that name) over the new one.  So the sequence number of the
 * last one carried out is kept on the target's root, in the target's own
 * file system (a journaling one commits it after the rename it follows),
 * and a replayed one is not carried out again: both its names are synced
 * from the source instead (a fallback, whole subtrees).  Without the
 * attribute (a file system without trusted xattrs), renames replay as
 * before.
 */
uint64_t apply_renamed_load(int target_fd)
{
        char buf[32];
        ssize_t n = fgetxattr(target_fd, APPLY_RENAMED_XATTR, buf, sizeof(buf) - 1);

        if (n <= 0)
                return 0;
        buf[n] = 0;
        return strtoull(buf, NULL, 10);
}

static void renamed_store(struct apply_ctx *ctx, uint64_t seq)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)seq);

        (void)fsetxattr(ctx->target_fd, APPLY_RENAMED_XATTR, buf, (size_t)n, 0);
}

static void apply_rename(struct apply_ctx *ctx, const struct job *j, struct job_result *res)
{
        unsigned flags = j->kind == JOB_EXCHANGE ? RENAME_EXCHANGE : 0;
        struct side a = { .pfd = -1 }, b = { .pfd = -1 };
        struct stat st, bst;
        unsigned fill = 0;
        bool created;
        int r;

        if (j->first_seq && j->first_seq <= ctx->renamed_upto) {
                res->fallback = true;   /* carried out before a restart, maybe */
                return;
        }
        namespace_changed(ctx);
        r = side_open(ctx->target_fd, j->path, false, -1, &a, NULL);
        if (r == 0 && fstatat(a.pfd, a.name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                r = -errno;
        if (flags && missing(r)) {
                /* An exchange, the first name missing on the target:
                 * the second moves to it (the half of it the target can
                 * carry out), and the name it leaves is synced. */
                side_close(&a);
                r = side_open(ctx->target_fd, j->path2, false, -1, &a, NULL);
                if (r == 0 && fstatat(a.pfd, a.name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                if (r == 0)
                        r = side_open(ctx->target_fd, j->path, true, ctx->source_fd, &b, &created);
                if (r == 0 && S_ISDIR(st.st_mode) && partial(&a))
                        fill |= FILL_PATH;
                if (r == 0 && renameat2(a.pfd, a.name, b.pfd, b.name, RENAME_NOREPLACE) < 0)
                        r = -errno;
                if (r == 0) {
                        res->changed_parent = true;
                        res->fill = fill;
                        res->half = FILL_PATH2;
                        link_map_renamed(ctx->links, j->path2, j->path, false);
                }
                goto done;
        }
        if (r == 0 && j->ino && marked_other(&a, j->ino) && !partial(&a)) {
                /* The target's entry under the old name is the copy of
                 * another inode than the record moved: a walk or a job on
                 * the name gave it the source's later state already.
                 * Carried out, the rename would take that copy to the new
                 * name, the exchange swap back what is right: the names
                 * are synced instead.  Not a directory made on demand: its
                 * mark is the source's guess of the moment, and what the
                 * journal put in it is the renamed directory's. */
                res->fallback = true;
                goto done;
        }
        if (r == 0)
                r = side_open(ctx->target_fd, j->path2, true, ctx->source_fd, &b, &created);
        /* directories made on demand: what they lack is copied after */
        if (r == 0 && S_ISDIR(st.st_mode) && partial(&a))
                fill |= FILL_PATH2;
        if (r == 0 && flags && fstatat(b.pfd, b.name, &bst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(bst.st_mode) &&
            partial(&b))
                fill |= FILL_PATH;
        if (r == 0 && renameat2(a.pfd, a.name, b.pfd, b.name, flags) < 0) {
                r = -errno;
                /* The destination on the target is not what the source's
                 * was (a directory with stale entries, another type): the
                 * source replaced it, so may we. */
                if (!flags && (r == -ENOTEMPTY || r == -EEXIST || r == -EISDIR || r == -ENOTDIR) &&
                    tree_remove(b.pfd, b.name) == 0)
                        r = renameat2(a.pfd, a.name, b.pfd, b.name, 0) < 0 ? -errno : 0;
                if (flags && missing(r) && renameat2(a.pfd, a.name, b.pfd, b.name, RENAME_NOREPLACE) == 0) {
                        /* an exchange, the second name missing: the first
                         * moves there, the name it leaves is synced */
                        r = 0;
                        flags = 0;
                        fill &= ~FILL_PATH;
                        res->half = FILL_PATH;
                }
        }
        if (r == 0) {
                res->changed_parent = true;
                res->fill = fill;
                link_map_renamed(ctx->links, j->path, j->path2, flags != 0);
        }
done:
        if (missing(r) || r == -EXDEV || r == -ENOTEMPTY || r == -EEXIST || r == -EISDIR) {
                res->fallback = true;   /* copy the destination instead */
                r = 0;
        } else if (r < 0) {
                res->what = j->kind == JOB_EXCHANGE ? "exchange" : "rename";
        }
        res->error = r;
        if (r == 0 && j->first_seq)
                renamed_store(ctx, j->first_seq);
        side_close(&a);
        side_close(&b);
}

/* Both names of a link made are noted (links.c): either may be renamed
 * over or removed while the other lives on. */
static void note_both(struct apply_ctx *ctx, const struct job *j, const struct side *te, const struct stat *s2,
                      const struct side *tn, const struct stat *s1)
{
        (void)links_note(ctx, j->path2, te->pfd, te->name, s2);
        (void)links_note(ctx, j->path, tn->pfd, tn->name, s1);
}

static void apply_link(struct apply_ctx *ctx, const struct job *j, struct job_result *res)
{
        struct side sn = { .pfd = -1 }, se = { .pfd = -1 }, tn = { .pfd = -1 }, te = { .pfd = -1 };
        struct stat s1, s2, t1, t2;
        char tmp[NAME_MAX + 1];
        bool created;
        int r;

        /* The existing name, on both sides: a link to what the target has
         * there only if it is of the source's type (otherwise not yet what
         * the source has there). */
        if (side_open(ctx->source_fd, j->path2, false, -1, &se, NULL) < 0 ||
            fstatat(se.pfd, se.name, &s2, AT_SYMLINK_NOFOLLOW) < 0 ||
            side_open(ctx->target_fd, j->path2, false, -1, &te, NULL) < 0 ||
            fstatat(te.pfd, te.name, &t2, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(t2.st_mode) ||
            (t2.st_mode & S_IFMT) != (s2.st_mode & S_IFMT)) {
                res->fallback = true;
                goto out;
        }
        /* The target's existing name may hold the copy of another file:
         * a rename over it on the source not carried out yet on the target
         * (the names it had still hold that copy; links.c knows it, or its
         * mark says so).  Not the inode to link. */
        if (links_other_copy(ctx, j->path2, &s2, &t2) || marked_other(&te, s2.st_ino)) {
                res->fallback = true;
                goto out;
        }
        /* Still one inode on the source?  Otherwise the link is history:
         * copy what the new name is now. */
        if (side_open(ctx->source_fd, j->path, false, -1, &sn, NULL) < 0 ||
            fstatat(sn.pfd, sn.name, &s1, AT_SYMLINK_NOFOLLOW) < 0 || s1.st_ino != s2.st_ino ||
            s1.st_dev != s2.st_dev) {
                /* The new name went on (a link to a temporary name renamed
                 * over another: `ln -f`, or a directory above it renamed),
                 * and its copy will look for the target inode of the group
                 * it joined: the existing name's, when that is the very
                 * inode linked (its own job may have run when it had one
                 * name only).  Its copy may be older (written to under the
                 * new name since): the group then joins the fresher copy
                 * (links_note()).  Not knowing the inode, only a current
                 * copy is taken for it. */
                if (j->ino ? s2.st_ino == j->ino : links_current(&t2, &s2))
                        (void)links_note(ctx, j->path2, te.pfd, te.name, &s2);
                res->fallback = true;
                goto out;
        }
        r = side_open(ctx->target_fd, j->path, true, ctx->source_fd, &tn, &created);
        if (r < 0) {
                res->error = r;
                res->what = "target directory";
                goto out;
        }
        if (fstatat(tn.pfd, tn.name, &t1, AT_SYMLINK_NOFOLLOW) == 0) {
                if (t1.st_ino == t2.st_ino && t1.st_dev == t2.st_dev) {
                        /* already (a replay): the parent's times still follow */
                        res->changed_parent = true;
                        note_both(ctx, j, &te, &s2, &tn, &s1);
                        goto out;
                }
                /* replace atomically: link to a temporary name, rename over */
                apply_tmp_name(tn.name, tmp, sizeof(tmp));
                r = linkat(te.pfd, te.name, tn.pfd, tmp, 0) < 0 ? -errno : 0;
                if (r < 0 && clear_leftover(tn.pfd, tmp, -r))
                        r = linkat(te.pfd, te.name, tn.pfd, tmp, 0) < 0 ? -errno : 0;
                if (r == 0 && renameat(tn.pfd, tmp, tn.pfd, tn.name) < 0) {
                        r = -errno;
                        (void)unlinkat(tn.pfd, tmp, 0);
                }
        } else {
                r = linkat(te.pfd, te.name, tn.pfd, tn.name, 0) < 0 ? -errno : 0;
        }
        if (r == 0) {
                res->changed_parent = true;
                note_both(ctx, j, &te, &s2, &tn, &s1);
        } else if (r == -EXDEV || r == -EMLINK || r == -EPERM || r == -EISDIR || r == -ENOTEMPTY || missing(r)) {
                /* No link possible there, or the target is not as the
                 * journal says (a directory where the name goes: a rename
                 * the target could not follow): a copy will do. */
                res->fallback = true;
        } else {
                res->error = r;
                res->what = "link";
        }
out:
        side_close(&sn);
        side_close(&se);
        side_close(&tn);
        side_close(&te);
}

/*
 * The name's last record removed it, and the source has it as another
 * inode (with no name there, sync_entry() removed the target's entry): a
 * copy the target still has there of an inode removed before under the
 * name (an orphan; the job's own inode is sync_entry()'s) goes too, or a
 * rename of the directory above would carry it where the source never had
 * it.
 */
static int remove_orphan_copy(struct apply_ctx *ctx, const struct job *j, struct job_result *res)
{
        struct side t = { .pfd = -1 };
        uint64_t marked;
        int r = 0;

        if (target_open(ctx, j->path, false, &t, NULL) < 0)
                return 0;
        if (tree_marked_ino(t.pfd, t.name, &marked) == 0 && marked != res->source_ino) {
                for (int k = 0; k < JOB_ORPHANS; k++) {
                        if (j->orphan_ino[k] == marked) {
                                r = remove_entry(ctx, &t, res);
                                break;
                        }
                }
        }
        side_close(&t);
        return r;
}

void apply_job(struct apply_ctx *ctx, const struct job *j, struct job_result *res)
{
        *res = (struct job_result) { 0 };
        switch (j->kind) {
        case JOB_SYNC:
                res->error = sync_entry(ctx, j->path, -1, j->flags, j->ino, res);
                if (res->error == 0 && (j->flags & JOB_UNLINKED) && res->gone && res->source_ino && *j->path)
                        res->error = remove_orphan_copy(ctx, j, res);
                for (int k = 0; k < JOB_ORPHANS && res->error == 0; k++) {
                        /* changes to an inode whose name here went since */
                        if (j->orphan_ino[k] && j->orphan_ino[k] != res->redirect[0].ino &&
                            j->orphan_ino[k] != res->source_ino) {
                                res->redirect[k + 1].path = links_other_name(ctx, j->orphan_ino[k], j->path);
                                res->redirect[k + 1].ino = j->orphan_ino[k];
                        }
                }
                for (int k = 0; k < 1 + JOB_ORPHANS && res->error < 0; k++) {
                        free(res->redirect[k].path);    /* the job is tried again */
                        res->redirect[k].path = NULL;
                }
                /* A record that may have made or removed the name changed
                 * the source's parent (its mtime) even when the target's
                 * entry needs nothing: a name made and removed before the
                 * job ran, a directory or symlink removed and made again,
                 * a record replayed after a crash.  The parent's attributes
                 * are synced after it all the same.  Without JOB_REMOVED,
                 * a source gone is for a later record to explain. */
                if (res->error == 0 && *j->path &&
                    ((j->flags & JOB_REMOVED) || ((j->flags & JOB_DATA) && !res->nothing)))
                        res->changed_parent = true;
                break;
        case JOB_RENAME:
        case JOB_EXCHANGE:
                apply_rename(ctx, j, res);
                break;
        case JOB_LINK:
                apply_link(ctx, j, res);
                break;
        }
}

bool apply_error_transient(int err)
{
        switch (-err) {
        case ENOSPC: case EDQUOT: case EIO: case EROFS: case ENOTCONN: case ESTALE: case EACCES:
        case EPERM: case ENODEV: case ENXIO: case EBUSY: case ETIMEDOUT: case ENOMEM: case EAGAIN:
        case EINTR: case EMFILE: case ENFILE: case EHOSTDOWN: case ENETDOWN: case ECONNABORTED:
        case ESHUTDOWN: case ENOLCK: case ETXTBSY:
                return true;
        default:
                return false;
        }
}
