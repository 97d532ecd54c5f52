/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * links.c: the target inode that holds the copy of a source inode with
 * several names, so that every name of it joins that one inode.
 *
 * (Any entry but a directory: files, symlinks, nodes.)  A link record names
 * the new name and an existing one; the link job makes it on the target
 * from the existing name.  When those names have moved
 * on the source before the job ran (a rename right after the link, a
 * directory renamed with the names in it), the job cannot link and the
 * new name is copied instead, as a separate file.  So every job that makes
 * or updates an entry with more than one name on the source notes here
 * which target inode now holds that source inode's copy, and a name that is
 * missing on the target, or is another inode there, is linked to that
 * inode rather than copied.
 *
 * An entry: source (dev, ino) -> target (dev, ino) and up to NAMES_KEPT
 * target paths it was noted under (a name may be renamed over or removed
 * while another lives on).  The paths follow the renames carried out on
 * the target since noted (a log of the last RENAMES_KEPT of them); a path
 * is only used when the target has there the very inode that was noted, or,
 * when none of them does, another copy of the same source inode (marked as
 * its copy, APPLY_INO_XATTR: another job's, made meanwhile).  The copy's
 * file handle is kept too: when no noted name holds it any more (moved in a
 * way the log did not follow), it is opened by handle (open_by_handle_at(),
 * CAP_DAC_READ_SEARCH; without it, as if the entry were stale) and a name
 * joins it, or changes go to the name the kernel gives it.  A stale entry
 * (the file removed or replaced, renames beyond the log, no handle that
 * opens a copy with a name) is dropped: the name is copied.
 *
 * Thread-safe: the workers share one map (a mutex; no I/O under it).
 * Caveat: at most MAX_ENTRIES source inodes are remembered, the oldest
 * noted are forgotten first; a name whose records moved and whose group's
 * entry was forgotten is copied as a separate file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replicator-internal.h"

#define BUCKETS 4096
#define MAX_ENTRIES (1u << 18)
#define RENAMES_KEPT 1024
#define NAMES_KEPT 4
#define HANDLE_KEPT 40                  /* bytes of a file handle kept (ext4: 8, xfs: 8-24) */

/* The target inode's file handle (name_to_handle_at()): it opens the copy
 * when no noted name holds it any more.  len 0: none. */
struct link_handle {
        int type;
        unsigned char len;
        unsigned char f[HANDLE_KEPT];
};

struct link_entry {
        dev_t sdev, tdev;
        ino_t sino, tino;
        struct link_handle handle;      /* of (tdev, tino) */
        uint64_t noted;                 /* when last noted (link_map.notes then) */
        uint64_t gen;                   /* renames applied to paths up to this one */
        char *paths[NAMES_KEPT];        /* the newest last */
        unsigned npaths;
        struct link_entry *hnext;       /* bucket chain, by source inode */
        struct link_entry *tnext;       /* bucket chain, by target inode */
        struct link_entry *older, *newer;       /* noted order, for eviction */
};

struct renamed {
        uint64_t gen;
        char *from, *to;
        bool exchange;
};

struct link_map {
        pthread_mutex_t lock;
        struct link_entry *buckets[BUCKETS];
        struct link_entry *tbuckets[BUCKETS];   /* the same entries by target inode */
        struct link_entry *oldest, *newest;
        size_t count;
        uint64_t gen;                   /* renames logged so far */
        uint64_t notes;                 /* note_if()s so far */
        struct renamed log[RENAMES_KEPT];       /* the last ones, by gen % RENAMES_KEPT */
};

int link_map_new(struct link_map **ret)
{
        struct link_map *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        r = -pthread_mutex_init(&m->lock, NULL);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

struct link_map *link_map_free(struct link_map *m)
{
        if (!m)
                return NULL;
        while (m->oldest) {
                struct link_entry *e = m->oldest;

                m->oldest = e->newer;
                for (unsigned i = 0; i < e->npaths; i++)
                        free(e->paths[i]);
                free(e);
        }
        for (size_t i = 0; i < RENAMES_KEPT; i++) {
                free(m->log[i].from);
                free(m->log[i].to);
        }
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

/* ---- the map (lock held) ---- */

static struct link_entry **slot(struct link_map *m, dev_t dev, ino_t ino)
{
        struct link_entry **pp = &m->buckets[(ino ^ (ino >> 17) ^ dev) % BUCKETS];

        while (*pp && ((*pp)->sino != ino || (*pp)->sdev != dev))
                pp = &(*pp)->hnext;
        return pp;
}

static struct link_entry **tslot_of(struct link_map *m, const struct link_entry *e)
{
        struct link_entry **pp = &m->tbuckets[(e->tino ^ (e->tino >> 17) ^ e->tdev) % BUCKETS];

        while (*pp && *pp != e)
                pp = &(*pp)->tnext;
        return pp;
}

/* The entry whose copy is target inode (@dev, @ino), if any. */
static struct link_entry *by_target(struct link_map *m, dev_t dev, ino_t ino)
{
        struct link_entry *e = m->tbuckets[(ino ^ (ino >> 17) ^ dev) % BUCKETS];

        while (e && (e->tino != ino || e->tdev != dev))
                e = e->tnext;
        return e;
}

static void tchain_del(struct link_map *m, struct link_entry *e)
{
        struct link_entry **pp = tslot_of(m, e);

        if (*pp == e)
                *pp = e->tnext;
        e->tnext = NULL;
}

static void tchain_add(struct link_map *m, struct link_entry *e)
{
        struct link_entry **head = &m->tbuckets[(e->tino ^ (e->tino >> 17) ^ e->tdev) % BUCKETS];

        e->tnext = *head;
        *head = e;
}

static void unlink_entry(struct link_map *m, struct link_entry *e)
{
        struct link_entry **pp = slot(m, e->sdev, e->sino);

        if (*pp == e)
                *pp = e->hnext;
        tchain_del(m, e);
        if (e->older)
                e->older->newer = e->newer;
        else
                m->oldest = e->newer;
        if (e->newer)
                e->newer->older = e->older;
        else
                m->newest = e->older;
        m->count--;
        for (unsigned i = 0; i < e->npaths; i++)
                free(e->paths[i]);
        free(e);
}

static bool under(const char *p, const char *dir)
{
        size_t n = strlen(dir);

        return strncmp(p, dir, n) == 0 && (p[n] == 0 || p[n] == '/');
}

/* "@from/rest" -> "@to/rest", malloc'ed */
static char *rebase(const char *path, const char *from, const char *to)
{
        char *s;

        return asprintf(&s, "%s%s", to, path + strlen(from)) < 0 ? NULL : s;
}

/*
 * The entry's path after the renames logged since it was noted.  False when
 * some of them are no longer in the log (or no memory): the path may be
 * wrong, and is only as good as what the target has there.
 */
static bool follow_renames(struct link_map *m, struct link_entry *e)
{
        if (m->gen - e->gen > RENAMES_KEPT) {
                e->gen = m->gen;
                return false;
        }
        for (uint64_t g = e->gen + 1; g <= m->gen; g++) {
                const struct renamed *rn = &m->log[g % RENAMES_KEPT];

                for (unsigned i = 0; i < e->npaths; i++) {
                        char *n = NULL;

                        if (under(e->paths[i], rn->from))
                                n = rebase(e->paths[i], rn->from, rn->to);
                        else if (rn->exchange && under(e->paths[i], rn->to))
                                n = rebase(e->paths[i], rn->to, rn->from);
                        else
                                continue;
                        if (!n)
                                return false;
                        free(e->paths[i]);
                        e->paths[i] = n;
                }
        }
        e->gen = m->gen;
        return true;
}

/* What is known of a source inode: a copy of its entry. */
struct noted {
        char *paths[NAMES_KEPT];
        unsigned n;
        dev_t tdev;
        ino_t tino;
        struct link_handle handle;
        uint64_t noted;
};

static void noted_free(struct noted *n)
{
        for (unsigned i = 0; i < n->n; i++)
                free(n->paths[i]);
        n->n = 0;
}

/* A copy of @sst's entry.  -ENOENT: none. */
static int lookup(struct link_map *m, const struct stat *sst, struct noted *ret)
{
        struct link_entry *e;
        int r = -ENOENT;

        *ret = (struct noted) { .n = 0 };
        pthread_mutex_lock(&m->lock);
        e = *slot(m, sst->st_dev, sst->st_ino);
        if (e) {
                (void)follow_renames(m, e);
                r = 0;
                for (unsigned i = 0; i < e->npaths && r == 0; i++) {
                        ret->paths[ret->n] = strdup(e->paths[i]);
                        r = ret->paths[ret->n] ? 0 : -ENOMEM;
                        if (r == 0)
                                ret->n++;
                }
                ret->tdev = e->tdev;
                ret->tino = e->tino;
                ret->handle = e->handle;
                ret->noted = e->noted;
        }
        pthread_mutex_unlock(&m->lock);
        if (r < 0)
                noted_free(ret);
        return r;
}

/* Drop @sst's entry if it still says target inode @tino. */
static void forget(struct link_map *m, const struct stat *sst, dev_t tdev, ino_t tino)
{
        struct link_entry *e;

        pthread_mutex_lock(&m->lock);
        e = *slot(m, sst->st_dev, sst->st_ino);
        if (e && e->tino == tino && e->tdev == tdev)
                unlink_entry(m, e);
        pthread_mutex_unlock(&m->lock);
}

/* Drop @path from @e's noted paths, if it is one (lock held). */
static void drop_path(struct link_entry *e, const char *path)
{
        for (unsigned i = 0; i < e->npaths; i++) {
                if (strcmp(e->paths[i], path) == 0) {
                        free(e->paths[i]);
                        memmove(&e->paths[i], &e->paths[i + 1], (e->npaths - i - 1) * sizeof(char *));
                        e->npaths--;
                        return;
                }
        }
}

/*
 * Note @path as a name of target inode @tst (file handle @handle, when
 * known), the copy of @sst's inode.  With @seen (what lookup() said before
 * this job looked at the names: tino 0 for no entry), not when the entry
 * says another copy than @tst and was noted since, or made anew (another
 * job noted its own copy or name meanwhile, which this one has not
 * considered joining): false, for the caller to look again.
 */
static bool note_if(struct link_map *m, const struct stat *sst, const char *path, const struct stat *tst,
                    const struct link_handle *handle, const struct noted *seen)
{
        struct link_entry **pp, *e;
        char *copy = strdup(path);

        if (!copy)
                return true;    /* not remembered: a later name is copied */
        pthread_mutex_lock(&m->lock);
        pp = slot(m, sst->st_dev, sst->st_ino);
        e = *pp;
        if (seen && e && e->npaths && (!seen->tino || e->noted != seen->noted) &&
            !(e->tino == tst->st_ino && e->tdev == tst->st_dev)) {
                pthread_mutex_unlock(&m->lock);
                free(copy);
                return false;
        }
        if (!e) {
                if (m->count >= MAX_ENTRIES)
                        unlink_entry(m, m->oldest);
                e = calloc(1, sizeof(*e));
                if (!e) {
                        pthread_mutex_unlock(&m->lock);
                        free(copy);
                        return true;
                }
                e->sdev = sst->st_dev;
                e->sino = sst->st_ino;
                *slot(m, sst->st_dev, sst->st_ino) = e;
                m->count++;
        } else {
                tchain_del(m, e);
                /* now the newest */
                if (e->older)
                        e->older->newer = e->newer;
                else
                        m->oldest = e->newer;
                if (e->newer)
                        e->newer->older = e->older;
                else
                        m->newest = e->older;
                (void)follow_renames(m, e);
        }
        if (e->tino != tst->st_ino || e->tdev != tst->st_dev) {
                /* another target inode: the names noted were of the old one */
                for (unsigned i = 0; i < e->npaths; i++)
                        free(e->paths[i]);
                e->npaths = 0;
                e->handle.len = 0;
        }
        if (handle && handle->len)
                e->handle = *handle;
        e->noted = ++m->notes;
        drop_path(e, copy);     /* known: it becomes the newest */
        if (e->npaths == NAMES_KEPT) {
                free(e->paths[0]);
                memmove(&e->paths[0], &e->paths[1], (NAMES_KEPT - 1) * sizeof(char *));
                e->npaths--;
        }
        e->paths[e->npaths++] = copy;
        e->tdev = tst->st_dev;
        e->tino = tst->st_ino;
        tchain_add(m, e);
        e->gen = m->gen;
        e->newer = NULL;
        e->older = m->newest;
        if (m->newest)
                m->newest->newer = e;
        else
                m->oldest = e;
        m->newest = e;
        pthread_mutex_unlock(&m->lock);
        return true;
}

static void note(struct link_map *m, const struct stat *sst, const char *path, const struct stat *tst)
{
        (void)note_if(m, sst, path, tst, NULL, NULL);
}

/* Target entry @name in @dfd's file handle, in *h (len 0 when it has none
 * that fits). */
static void handle_of(int dfd, const char *name, struct link_handle *h)
{
        union {
                struct file_handle fh;
                char buf[sizeof(struct file_handle) + HANDLE_KEPT];
        } u;
        int mount_id;

        h->len = 0;
        u.fh.handle_bytes = HANDLE_KEPT;
        if (name_to_handle_at(dfd, name, &u.fh, &mount_id, 0) < 0 || u.fh.handle_bytes > HANDLE_KEPT)
                return;
        h->type = u.fh.handle_type;
        h->len = (unsigned char)u.fh.handle_bytes;
        memcpy(h->f, u.fh.f_handle, u.fh.handle_bytes);
}

/*
 * The noted copy @n opened by its file handle (O_PATH), when it is still
 * that inode, of @sst's type, with a name: no noted name holds it any more
 * (a directory above copied anew rather than renamed, renames beyond the
 * log), yet it may still have names.  -ESTALE otherwise.
 */
static int open_by_handle(struct apply_ctx *ctx, const struct noted *n, const struct stat *sst)   /* sst: or NULL */
{
        union {
                struct file_handle fh;
                char buf[sizeof(struct file_handle) + HANDLE_KEPT];
        } u;
        struct stat st;
        int fd;

        if (!n->handle.len)
                return -ESTALE;
        u.fh.handle_bytes = n->handle.len;
        u.fh.handle_type = n->handle.type;
        memcpy(u.fh.f_handle, n->handle.f, n->handle.len);
        fd = open_by_handle_at(ctx->target_fd, &u.fh, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return -ESTALE;
        if (fstat(fd, &st) < 0 || st.st_ino != n->tino || st.st_dev != n->tdev || st.st_nlink == 0 ||
            S_ISDIR(st.st_mode) || (sst && (st.st_mode & S_IFMT) != (sst->st_mode & S_IFMT))) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

/* Drop noted path @path from @sst's entry, if it still says target inode
 * (@tdev, @tino). */
static void unnote(struct link_map *m, const struct stat *sst, dev_t tdev, ino_t tino, const char *path)
{
        struct link_entry *e;

        pthread_mutex_lock(&m->lock);
        e = *slot(m, sst->st_dev, sst->st_ino);
        if (e && e->tino == tino && e->tdev == tdev) {
                (void)follow_renames(m, e);
                drop_path(e, path);
        }
        pthread_mutex_unlock(&m->lock);
}

void link_map_renamed(struct link_map *m, const char *from, const char *to, bool exchange)
{
        struct renamed *rn;
        char *f, *t;

        if (!m)
                return;
        f = strdup(from);
        t = strdup(to);
        pthread_mutex_lock(&m->lock);
        if (!f || !t) {
                /* Not logged: every entry noted so far may be wrong now. */
                m->gen += RENAMES_KEPT + 1;
        } else if (m->count) {
                rn = &m->log[++m->gen % RENAMES_KEPT];
                free(rn->from);
                free(rn->to);
                *rn = (struct renamed) { .gen = m->gen, .from = f, .to = t, .exchange = exchange };
                f = t = NULL;
        }
        pthread_mutex_unlock(&m->lock);
        free(f);
        free(t);
}

/* ---- on the target ---- */

/* The target entry at @path, if it is still the inode (@tdev, @tino) and
 * not a directory: an O_PATH descriptor, and its type in *ret_mode. */
static int open_noted_mode(struct apply_ctx *ctx, const char *path, dev_t tdev, ino_t tino, mode_t *ret_mode)
{
        const char *name;
        struct stat st;
        bool created;
        int pfd, fd, r;

        r = tree_open_parent(ctx->target_fd, path, false, -1, &name, &pfd, &created);
        if (r < 0)
                return r;
        fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        r = fd < 0 ? -errno : 0;
        close(pfd);
        if (r == 0 && (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode) || st.st_ino != tino || st.st_dev != tdev ||
                       st.st_nlink == 0))
                r = -ESTALE;
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return r;
        }
        *ret_mode = st.st_mode;
        return fd;
}

static int open_any(struct apply_ctx *ctx, const char *path, dev_t tdev, ino_t tino)
{
        mode_t mode;

        return open_noted_mode(ctx, path, tdev, tino, &mode);
}

/* The same, of @sst's type. */
static int open_noted(struct apply_ctx *ctx, const char *path, const struct stat *sst, dev_t tdev, ino_t tino)
{
        mode_t mode;
        int fd = open_noted_mode(ctx, path, tdev, tino, &mode);

        if (fd >= 0 && (mode & S_IFMT) != (sst->st_mode & S_IFMT)) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

/*
 * The first of @n's names but @except that still holds its inode (of
 * @sst's type when @sst): a descriptor, and which name in *ret_which.
 * -ESTALE when none does.
 */
static int open_noted_any(struct apply_ctx *ctx, const struct noted *n, const char *except, const struct stat *sst,
                          unsigned *ret_which)
{
        for (unsigned i = n->n; i-- > 0;) {     /* the newest first */
                int fd;

                if (strcmp(n->paths[i], except) == 0)
                        continue;
                fd = sst ? open_noted(ctx, n->paths[i], sst, n->tdev, n->tino) :
                           open_any(ctx, n->paths[i], n->tdev, n->tino);
                if (fd >= 0) {
                        *ret_which = i;
                        return fd;
                }
        }
        return -ESTALE;
}

/*
 * The first of @n's names but @except that holds another copy of @sst's
 * inode than the noted one and @not's: an entry of @sst's type marked as
 * that source inode's copy (APPLY_INO_XATTR).  Another job made it after
 * the noted copy lost its names (a link made again over one name, a copy
 * published over another, at once): the group is that copy's now.  A
 * descriptor, its attributes in *ret; -ESTALE when none.
 */
static int open_marked_any(struct apply_ctx *ctx, const struct noted *n, const char *except, const struct stat *sst,
                           const struct stat *not, struct stat *ret)
{
        for (unsigned i = n->n; i-- > 0;) {     /* the newest first */
                const char *name;
                struct stat st;
                uint64_t marked;
                bool created;
                int pfd, fd;

                if (strcmp(n->paths[i], except) == 0 ||
                    tree_open_parent(ctx->target_fd, n->paths[i], false, -1, &name, &pfd, &created) < 0)
                        continue;
                fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode) && st.st_nlink > 0 &&
                    (st.st_mode & S_IFMT) == (sst->st_mode & S_IFMT) &&
                    !(st.st_ino == n->tino && st.st_dev == n->tdev) &&
                    !(st.st_ino == not->st_ino && st.st_dev == not->st_dev) &&
                    tree_marked_ino(pfd, name, &marked) == 0 && marked == sst->st_ino &&
                    fstatat(pfd, name, ret, AT_SYMLINK_NOFOLLOW) == 0 && ret->st_ino == st.st_ino &&
                    ret->st_dev == st.st_dev) {
                        close(pfd);
                        return fd;
                }
                if (fd >= 0)
                        close(fd);
                close(pfd);
        }
        return -ESTALE;
}

/* A link to @fd's inode at @dfd's temporary name for @name (*tmp), replacing a stale one. */
static int link_tmp(int fd, int dfd, const char *name, char tmp[NAME_MAX + 1])
{
        char proc[64];

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        apply_tmp_name(name, tmp, NAME_MAX + 1);
        if (linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) < 0 &&
            (errno != EEXIST || unlinkat(dfd, tmp, 0) < 0 ||
             linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) < 0))
                return -errno;
        return 0;
}

/* Make @name in @dfd a link to @fd's inode, replacing what is there. */
static int link_over(struct apply_ctx *ctx, int fd, int dfd, const char *name, bool exists)
{
        char proc[64], tmp[NAME_MAX + 1];
        int r;

        if (!exists) {
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                return linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
        }
        if ((r = link_tmp(fd, dfd, name, tmp)) < 0)
                return r;
        if (renameat(dfd, tmp, dfd, name) < 0) {
                r = -errno;
                (void)unlinkat(dfd, tmp, 0);
        }
        return r;
}

/* Errors after which a copy will do: no link can be made there. */
static bool copy_instead(int r)
{
        return r == -EXDEV || r == -EMLINK || r == -EPERM || r == -ENOENT || r == -ENOTDIR || r == -ELOOP ||
               r == -ESTALE;
}

int links_join(struct apply_ctx *ctx, const char *path, int dfd, const char *name, const struct stat *sst,
               const struct stat *tst)
{
        struct noted n;
        unsigned which;
        int fd, r;

        if (!ctx->links || S_ISDIR(sst->st_mode) || sst->st_nlink < 2)
                return 0;
        if (lookup(ctx->links, sst, &n) < 0)
                return 0;
        if (tst && tst->st_ino == n.tino && tst->st_dev == n.tdev) {
                noted_free(&n);
                return 0;       /* one of them already */
        }
        fd = open_noted_any(ctx, &n, path, sst, &which);
        if (fd < 0)
                fd = open_by_handle(ctx, &n, sst);
        if (fd < 0) {
                forget(ctx->links, sst, n.tdev, n.tino);
                noted_free(&n);
                return 0;
        }
        noted_free(&n);
        r = link_over(ctx, fd, dfd, name, tst != NULL);
        close(fd);
        if (r == 0)
                return 1;
        return copy_instead(r) ? 0 : r;
}

bool links_current(const struct stat *t, const struct stat *s)
{
        return t->st_size == s->st_size && t->st_mtim.tv_sec == s->st_mtim.tv_sec &&
               t->st_mtim.tv_nsec == s->st_mtim.tv_nsec;
}

/*
 * link_over() of an existing @name, but only while @name is target inode
 * (@tdev, @tino): another job may be publishing its own copy there (a
 * name of another file by now; the planner orders jobs by their own paths,
 * not by the other names links.c reaches).  The link is exchanged with
 * the entry, which is then checked: another inode is put back.  -ESTALE
 * when @name was not (or no longer) that inode.
 */
static int link_over_if(struct apply_ctx *ctx, int fd, int dfd, const char *name, dev_t tdev, ino_t tino)
{
        char tmp[NAME_MAX + 1];
        struct stat st;
        int r;

        if ((r = link_tmp(fd, dfd, name, tmp)) < 0)
                return r;
        if (ctx->before_relink)
                ctx->before_relink(name);
        if (renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) < 0) {
                r = errno == ENOENT ? -ESTALE : -errno;
        } else if (fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != tino || st.st_dev != tdev) {
                /* not the copy it was: another job's, back in place */
                r = renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) < 0 ? -errno : -ESTALE;
        }
        (void)unlinkat(dfd, tmp, 0);    /* the entry replaced, or the link not made */
        return r;
}

/* The noted name @noted (still inode @tdev, @tino) made a link to @dfd/@name instead. */
static int relink_noted(struct apply_ctx *ctx, const char *noted, dev_t tdev, ino_t tino, int dfd, const char *name)
{
        const char *nname;
        struct stat st, dir;
        bool created;
        int npfd, fd, r;

        r = tree_open_parent(ctx->target_fd, noted, false, -1, &nname, &npfd, &created);
        if (r < 0)
                return r;
        fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                r = -errno;
        else if (fstat(npfd, &dir) < 0)
                r = -errno;
        else if (fstatat(npfd, nname, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != tino || st.st_dev != tdev)
                r = -ESTALE;
        else {
                char proc[64];

                r = link_over_if(ctx, fd, npfd, nname, tdev, tino);
                /* The directory has the same names as before: its times
                 * stay the source's (no job of it follows this one; storm
                 * seed 22755: its mtime left at the relink's).  (@npfd is
                 * an O_PATH descriptor: by its /proc name.) */
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", npfd);
                (void)utimensat(AT_FDCWD, proc, (struct timespec[2]) { dir.st_atim, dir.st_mtim }, 0);
        }
        if (fd >= 0)
                close(fd);
        close(npfd);
        return r;
}

int links_note(struct apply_ctx *ctx, const char *path, int dfd, const char *name, const struct stat *sst)
{
        struct stat tst, nst;
        struct noted n, seen;
        struct link_handle handle;
        unsigned which, attempts = 0;
        int fd, r;

        if (!ctx->links || S_ISDIR(sst->st_mode) || sst->st_nlink < 2)
                return 0;
        if (fstatat(dfd, name, &tst, AT_SYMLINK_NOFOLLOW) < 0 || (tst.st_mode & S_IFMT) != (sst->st_mode & S_IFMT))
                return 0;
again:
        seen = (struct noted) { .n = 0 };
        if (lookup(ctx->links, sst, &n) == 0) {
                seen.tdev = n.tdev;
                seen.tino = n.tino;
                seen.noted = n.noted;
        }
        if (seen.tino && (n.tino != tst.st_ino || n.tdev != tst.st_dev)) {
                /* Another name was made meanwhile, as its own copy (another
                 * worker, or before the names were known to be one): the
                 * two become one inode, the one that holds what the source
                 * has now.  Joining an older copy would undo this job. */
                fd = open_noted_any(ctx, &n, path, sst, &which);
                if (fd < 0 && (fd = open_marked_any(ctx, &n, path, sst, &tst, &nst)) >= 0) {
                        /* None of the names holds the noted copy any more,
                         * one holds another copy of the file (storm seed
                         * 28905: noted alone, this name would have left the
                         * group that one is in) */
                        n.tdev = nst.st_dev;
                        n.tino = nst.st_ino;
                }
                if (fd >= 0 && fstat(fd, &nst) == 0 && (links_current(&nst, sst) || !links_current(&tst, sst))) {
                        noted_free(&n);
                        r = link_over(ctx, fd, dfd, name, true);
                        close(fd);
                        if (r == 0) {
                                /* a name of that copy now (storm seed 29596:
                                 * not noted, it was not found when the
                                 * name noted went, and the file's changes
                                 * made there never reached it) */
                                note(ctx->links, sst, path, &nst);
                                return 1;
                        }
                        if (!copy_instead(r))
                                return r;
                } else if (fd >= 0) {
                        /* every noted name of the old copy joins this one */
                        close(fd);
                        for (unsigned i = 0; i < n.n; i++) {
                                if (strcmp(n.paths[i], path) == 0)
                                        continue;
                                r = relink_noted(ctx, n.paths[i], n.tdev, n.tino, dfd, name);
                                if (r == 0)
                                        note(ctx->links, sst, n.paths[i], &tst);
                                else if (!copy_instead(r)) {
                                        noted_free(&n);
                                        return r;
                                }
                        }
                }
        }
        if (n.n == NAMES_KEPT && n.tino == tst.st_ino && n.tdev == tst.st_dev) {
                /* Before the oldest is forgotten for this one: the names
                 * that no longer hold the copy (a directory copied anew
                 * rather than renamed leaves its old paths noted).  Kept
                 * instead, they pushed out the one name left holding it
                 * (storm seed 10000): the others, copied anew when none
                 * of those noted held it, left it alone on the old copy. */
                for (unsigned i = 0; i < n.n; i++) {
                        if (strcmp(n.paths[i], path) == 0)
                                continue;
                        fd = open_noted(ctx, n.paths[i], sst, n.tdev, n.tino);
                        if (fd >= 0)
                                close(fd);
                        else
                                unnote(ctx->links, sst, n.tdev, n.tino, n.paths[i]);
                }
        }
        /* the handle, unless the entry has this copy's already */
        if (n.tino == tst.st_ino && n.tdev == tst.st_dev && n.handle.len)
                handle.len = 0;
        else
                handle_of(dfd, name, &handle);
        noted_free(&n);
        if (ctx->before_note)
                ctx->before_note(path);
        /* Another job noted its copy meanwhile (storm seed 13480: the
         * names of one file copied at once by two jobs, each noting its
         * own over the other's, the two names left apart): looked at again,
         * one joins the other (twice at most; then noted as it is). */
        if (!note_if(ctx->links, sst, path, &tst, &handle, ++attempts < 3 ? &seen : NULL))
                goto again;
        return 0;
}

bool links_other_copy(struct apply_ctx *ctx, const char *path, const struct stat *sst, const struct stat *tst)
{
        struct link_entry *e;
        struct noted n = { .n = 0 };
        unsigned which;
        bool other = false;
        int fd;

        if (!ctx->links)
                return false;
        pthread_mutex_lock(&ctx->links->lock);
        e = by_target(ctx->links, tst->st_dev, tst->st_ino);
        if (e && (e->sino != sst->st_ino || e->sdev != sst->st_dev)) {
                (void)follow_renames(ctx->links, e);
                for (unsigned i = 0; i < e->npaths; i++)
                        if ((n.paths[n.n] = strdup(e->paths[i])))
                                n.n++;
                n.tdev = e->tdev;
                n.tino = e->tino;
        }
        pthread_mutex_unlock(&ctx->links->lock);
        /* Only if another of its names still holds it (target inode
         * numbers are used again once freed). */
        fd = n.n ? open_noted_any(ctx, &n, path, NULL, &which) : -1;
        if (fd >= 0) {
                other = true;
                close(fd);
        }
        noted_free(&n);
        return other;
}

/*
 * A name of the noted copy @n on the target but @except, found from its file
 * handle (the kernel's name for the open inode, checked: it holds that
 * inode), when no noted name holds it any more.  malloc'ed; NULL: none.
 */
static char *name_by_handle(struct apply_ctx *ctx, const struct noted *n, const char *except)
{
        char proc[64], root[PATH_MAX], abs[PATH_MAX], *rel = NULL;
        ssize_t rl, al;
        int fd = open_by_handle(ctx, n, NULL), check;

        if (fd < 0)
                return NULL;
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ctx->target_fd);
        rl = readlink(proc, root, sizeof(root) - 1);
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        al = readlink(proc, abs, sizeof(abs) - 1);
        close(fd);
        if (rl <= 0 || al <= 0)
                return NULL;
        root[rl] = abs[al] = 0;
        if (strncmp(abs, root, (size_t)rl) != 0 || abs[rl] != '/' || !abs[rl + 1] ||
            strcmp(abs + rl + 1, except) == 0 || replicator_path_valid(abs + rl + 1, strlen(abs + rl + 1)) < 0)
                return NULL;    /* elsewhere, disconnected, or removed (" (deleted)" fails the check) */
        check = open_any(ctx, abs + rl + 1, n->tdev, n->tino);
        if (check >= 0) {
                close(check);
                rel = strdup(abs + rl + 1);
        }
        return rel;
}

char *links_other_name(struct apply_ctx *ctx, uint64_t ino, const char *path)
{
        struct stat root, sst;
        struct noted n;
        unsigned which;
        char *other;
        int fd;

        if (!ctx->links || !ino || fstat(ctx->source_fd, &root) < 0)
                return NULL;
        sst = (struct stat) { .st_dev = root.st_dev, .st_ino = (ino_t)ino };
        if (lookup(ctx->links, &sst, &n) < 0)
                return NULL;
        fd = open_noted_any(ctx, &n, path, NULL, &which);
        other = fd >= 0 ? n.paths[which] : name_by_handle(ctx, &n, path);
        if (fd >= 0) {
                n.paths[which] = n.paths[--n.n];        /* kept */
                close(fd);
        }
        noted_free(&n);
        return other;
}
