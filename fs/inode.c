/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inode.c: the daemon's table of source inodes the kernel knows about.
 *
 * An inode is identified by (st_dev, st_ino) and reached by its file handle,
 * so the table costs memory, not descriptors: about 100 bytes plus the name
 * per inode (docs/mount.md).  Directories in use keep an O_PATH descriptor
 * in an LRU of bounded size (option dircache): a job creating files in one
 * directory then costs no open_by_handle_at() per create.  The kernel's
 * forgets free what it no longer needs; a child keeps its parent alive
 * (refs) so names can always be walked up to the root.
 *
 * A handle opens only what the source can still find: not a removed
 * directory, not a removed file once its last user is gone.  The kernel
 * may keep using such an inode (fchmod through an O_PATH descriptor, a
 * working directory, futimens), so an inode that loses its last name
 * through the mount while the kernel holds it keeps a descriptor (fd_kept)
 * until the kernel forgets it.  Those are few (removed yet still in use),
 * and bounded by fd_kept_max, a share of the descriptor limit.
 *
 * What it does not do: the FUSE replies (ops-*.c), the journal (record.c).
 * Caveat: an inode number reused by the source while the kernel still holds
 * the old node is told apart by its handle (generation included).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fs.h"
#include "ops.h"

#define HASH_INITIAL (1u << 14)

struct handle_buf {
        struct file_handle fh;
        unsigned char bytes[MAX_HANDLE_SZ];
};

static size_t hash_of(dev_t dev, ino_t ino, size_t size)
{
        uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;

        return (size_t)(h >> 17) & (size - 1);
}

static int hash_grow(struct fs *fs)
{
        size_t size = fs->hash_size * 2, i;
        struct fs_inode **h = calloc(size, sizeof(*h));

        if (!h)
                return -ENOMEM;
        for (i = 0; i < fs->hash_size; i++) {
                struct fs_inode *in = fs->hash[i], *next;

                for (; in; in = next) {
                        size_t b = hash_of(in->dev, in->ino, size);

                        next = in->hnext;
                        in->hnext = h[b];
                        h[b] = in;
                }
        }
        free(fs->hash);
        fs->hash = h;
        fs->hash_size = size;
        return 0;
}

static struct fs_inode *hash_find(struct fs *fs, dev_t dev, ino_t ino)
{
        struct fs_inode *in = fs->hash[hash_of(dev, ino, fs->hash_size)];

        while (in && (in->ino != ino || in->dev != dev))
                in = in->hnext;
        return in;
}

static void hash_remove(struct fs *fs, struct fs_inode *in)
{
        struct fs_inode **p = &fs->hash[hash_of(in->dev, in->ino, fs->hash_size)];

        while (*p && *p != in)
                p = &(*p)->hnext;
        if (*p) {
                *p = in->hnext;
                fs->hash_count--;
        }
        in->hnext = NULL;
}

/* ---- descriptor LRU ---- */

static void lru_unlink(struct fs *fs, struct fs_inode *in)
{
        if (in->lru_prev)
                in->lru_prev->lru_next = in->lru_next;
        else
                fs->lru_head = in->lru_next;
        if (in->lru_next)
                in->lru_next->lru_prev = in->lru_prev;
        else
                fs->lru_tail = in->lru_prev;
        in->lru_prev = in->lru_next = NULL;
}

static void lru_push(struct fs *fs, struct fs_inode *in)
{
        in->lru_prev = NULL;
        in->lru_next = fs->lru_head;
        if (fs->lru_head)
                fs->lru_head->lru_prev = in;
        fs->lru_head = in;
        if (!fs->lru_tail)
                fs->lru_tail = in;
}

/*
 * Release fs->lock, then close the kept descriptors dropped under it: the
 * close of the last reference to a removed inode frees it (a large file's
 * blocks on ext4, an orphan list update), which must not hold up every
 * other request waiting for the lock.
 */
static void unlock(struct fs *fs)
{
        int fds[FS_CLOSE_LATER];
        unsigned n = fs->nclose_later;

        memcpy(fds, fs->close_later, n * sizeof(fds[0]));
        fs->nclose_later = 0;
        pthread_mutex_unlock(&fs->lock);
        while (n)
                close(fds[--n]);
}

/* Lock held.  Drop the cached or kept descriptor of @in (not the root's). */
static void fd_uncache(struct fs *fs, struct fs_inode *in)
{
        if (in->fd < 0 || in == fs->root)
                return;
        if (in->fd_kept) {
                in->fd_kept = false;
                fs->fd_kept--;
                if (fs->nclose_later < FS_CLOSE_LATER) {
                        fs->close_later[fs->nclose_later++] = in->fd;
                        in->fd = -1;
                        return;
                }
        } else {
                lru_unlink(fs, in);
                fs->fd_cached--;
        }
        close(in->fd);          /* cached, of a live inode: no I/O (kept: only when 16 wait already) */
        in->fd = -1;
}

/* Lock held.  Make room for one more cached descriptor; false when all are pinned. */
static bool fd_make_room(struct fs *fs)
{
        struct fs_inode *in;

        if (fs->fd_cached < fs->opt.dircache)
                return true;
        for (in = fs->lru_tail; in; in = in->lru_prev) {
                if (!in->fd_pins && in != fs->root) {
                        fd_uncache(fs, in);
                        return true;
                }
        }
        return false;
}

/* ---- life cycle ---- */

/* Lock held.  Free @in if nothing holds it, and in turn parents nothing else holds. */
static void maybe_free(struct fs *fs, struct fs_inode *in)
{
        struct fs_name *n, *next;

        if (!in || in == fs->root || in->nlookup || in->refs)
                return;
        hash_remove(fs, in);
        fd_uncache(fs, in);
        n = in->names;
        free(in);
        atomic_fetch_sub(&fs->stats.inodes, 1);
        for (; n; n = next) {
                struct fs_inode *parent = n->parent;

                next = n->next;
                free(n);
                parent->refs--;
                maybe_free(fs, parent);         /* ancestors: a short chain */
        }
}

void fs_inode_ref(struct fs *fs, struct fs_inode *in)
{
        pthread_mutex_lock(&fs->lock);
        in->refs++;
        unlock(fs);
}

void fs_inode_unref(struct fs *fs, struct fs_inode *in)
{
        pthread_mutex_lock(&fs->lock);
        in->refs--;
        maybe_free(fs, in);
        unlock(fs);
}

void fs_inode_forget(struct fs *fs, struct fs_inode *in, uint64_t n)
{
        pthread_mutex_lock(&fs->lock);
        in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
        maybe_free(fs, in);
        unlock(fs);
}

/* Lock held.  Drop name @n (unlinked from @in's list). */
static void name_drop(struct fs *fs, struct fs_name *n)
{
        struct fs_inode *parent = n->parent;

        free(n);
        parent->refs--;
        maybe_free(fs, parent);
}

/*
 * Lock held.  @in was reached by @parent/@name: put that name first.  A
 * directory has one name only.
 */
static int add_name(struct fs *fs, struct fs_inode *in, struct fs_inode *parent, const char *name)
{
        struct fs_name **pp, *n;
        size_t len;

        for (pp = &in->names; *pp; pp = &(*pp)->next) {
                if ((*pp)->parent == parent && strcmp((*pp)->name, name) == 0) {
                        n = *pp;
                        *pp = n->next;
                        n->next = in->names;
                        in->names = n;
                        return 0;
                }
        }
        len = strlen(name);
        n = malloc(sizeof(*n) + len + 1);
        if (!n)
                return -ENOMEM;
        memcpy(n->name, name, len + 1);
        n->parent = parent;
        parent->refs++;
        if (S_ISDIR(in->type)) {
                /* renamed where the mount did not see it: the old name is stale */
                while (in->names) {
                        struct fs_name *old = in->names;

                        in->names = old->next;
                        name_drop(fs, old);
                }
        }
        n->next = in->names;
        in->names = n;
        return 0;
}

/* Lock held.  @parent/@name is no longer a name of @in.  Whether it was one. */
static bool remove_name(struct fs *fs, struct fs_inode *in, struct fs_inode *parent, const char *name)
{
        struct fs_name **pp, *n;

        for (pp = &in->names; *pp; pp = &(*pp)->next) {
                if ((*pp)->parent == parent && strcmp((*pp)->name, name) == 0) {
                        n = *pp;
                        *pp = n->next;
                        name_drop(fs, n);
                        return true;
                }
        }
        return false;
}

static int mount_index(struct fs *fs, int mount_id, int dirfd, const char *name)
{
        int i, fd;

        pthread_mutex_lock(&fs->lock);
        for (i = 0; i < fs->nmounts; i++) {
                if (fs->mounts[i].mount_id == mount_id) {
                        unlock(fs);
                        return i;
                }
        }
        unlock(fs);

        /* A file system mounted inside the source: handles of it open
         * relative to a descriptor on it, which open_by_handle_at() wants
         * opened for real, not O_PATH (EBADF).  A mount point is a
         * directory but for a bind-mounted file, which no handle of it
         * can name but its own. */
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOTDIR)
                fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        pthread_mutex_lock(&fs->lock);
        for (i = 0; i < fs->nmounts; i++)
                if (fs->mounts[i].mount_id == mount_id)
                        break;
        if (i == fs->nmounts) {
                if (fs->nmounts == FS_MAX_MOUNTS) {
                        unlock(fs);
                        close(fd);
                        return -EMFILE;
                }
                fs->mounts[i].mount_id = mount_id;
                fs->mounts[i].fd = fd;
                fs->nmounts++;
                fd = -1;
        }
        unlock(fs);
        if (fd >= 0)
                close(fd);
        return i;
}

static struct fs_inode *inode_new(struct fs *fs, const struct stat *st, const struct handle_buf *h, int mount)
{
        struct fs_inode *in = calloc(1, sizeof(*in) + h->fh.handle_bytes);

        if (!in)
                return NULL;
        in->dev = st->st_dev;
        in->ino = st->st_ino;
        in->type = st->st_mode & S_IFMT;
        in->fd = -1;
        in->mount = mount;
        in->handle_bytes = h->fh.handle_bytes;
        in->handle_type = h->fh.handle_type;
        memcpy(in->handle, h->fh.f_handle, h->fh.handle_bytes);
        return in;
}

/*
 * Find the inode of @st with handle @h, or add it; raise its lookup count
 * and, when @parent is given, record @parent/@name as its name.
 */
static int insert_or_find(struct fs *fs, const struct stat *st, const struct handle_buf *h, int mount,
                          struct fs_inode *parent, const char *name, struct fs_inode **ret)
{
        struct fs_inode *in, *fresh = NULL;
        int r = 0;

        pthread_mutex_lock(&fs->lock);
        in = hash_find(fs, st->st_dev, st->st_ino);
        if (in && (in->handle_bytes != h->fh.handle_bytes || in->handle_type != h->fh.handle_type ||
                   memcmp(in->handle, h->fh.f_handle, h->fh.handle_bytes) != 0)) {
                /* The number was reused: the old node lives on, unlisted,
                 * until the kernel forgets it. */
                hash_remove(fs, in);
                in = NULL;
        }
        if (!in) {
                unlock(fs);
                fresh = inode_new(fs, st, h, mount);
                if (!fresh)
                        return -ENOMEM;
                pthread_mutex_lock(&fs->lock);
                /* Another thread may have added it meanwhile. */
                in = hash_find(fs, st->st_dev, st->st_ino);
                if (!in) {
                        if (fs->hash_count >= fs->hash_size)
                                (void)hash_grow(fs);    /* a longer chain if out of memory */
                        in = fresh;
                        fresh = NULL;
                        in->generation = ++fs->next_generation;
                        in->hnext = fs->hash[hash_of(in->dev, in->ino, fs->hash_size)];
                        fs->hash[hash_of(in->dev, in->ino, fs->hash_size)] = in;
                        fs->hash_count++;
                        atomic_fetch_add(&fs->stats.inodes, 1);
                }
        }
        if (parent && in != fs->root)
                r = add_name(fs, in, parent, name);
        if (r == 0) {
                in->nlookup++;
                *ret = in;
        } else {
                maybe_free(fs, in);     /* a new one nothing holds yet goes */
        }
        unlock(fs);
        free(fresh);
        return r;
}

int fs_inode_lookup(struct fs *fs, struct fs_inode *parent, const char *name,
                    struct stat *st, struct fs_inode **ret)
{
        struct handle_buf h;
        struct fs_fdref pref;
        int mount_id, r;

        r = fs_fd_get(fs, parent, &pref);
        if (r < 0)
                return r;
        /* The kernel holds the parent directory's lock across a lookup and
         * the operations that create or remove names in it, so the stat and
         * the handle below are of the same inode. */
        if (fstatat(pref.fd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
                goto out;
        }
        h.fh.handle_bytes = MAX_HANDLE_SZ;
        if (name_to_handle_at(pref.fd, name, &h.fh, &mount_id, 0) < 0) {
                r = -errno;
                goto out;
        }
        r = mount_index(fs, mount_id, pref.fd, name);
        if (r >= 0)
                r = insert_or_find(fs, st, &h, r, parent, name, ret);
out:
        fs_fd_put(fs, &pref);
        return r;
}

int fs_inode_from_fd(struct fs *fs, struct fs_inode *parent, int fd, struct stat *st, struct fs_inode **ret)
{
        struct handle_buf h;
        int mount_id;

        if (fstat(fd, st) < 0)
                return -errno;
        h.fh.handle_bytes = MAX_HANDLE_SZ;
        if (name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0)
                return -errno;
        return insert_or_find(fs, st, &h, parent->mount, NULL, NULL, ret);
}

struct fs_inode *fs_inode_get(struct fs *fs, fuse_ino_t ino)
{
        if (ino == FUSE_ROOT_ID)
                return fs->root;
        fs_request_begins(fs);
        return (struct fs_inode *)(uintptr_t)ino;
}

static int open_handle(struct fs *fs, struct fs_inode *in, int flags)
{
        struct handle_buf h;
        int fd;

        /* handle, type and mount never change after creation */
        h.fh.handle_bytes = in->handle_bytes;
        h.fh.handle_type = in->handle_type;
        memcpy(h.fh.f_handle, in->handle, in->handle_bytes);
        atomic_fetch_add(&fs->stats.handle_opens, 1);
        fd = open_by_handle_at(fs->mounts[in->mount].fd, &h.fh, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/*
 * Open @in again through its kept descriptor (fs_inode_keep_open()), or
 * -ENOENT when it has none.  The kernel holds @in while it asks, so the
 * descriptor stays open meanwhile (only the inode's free closes it).
 */
static int open_kept(struct fs *fs, struct fs_inode *in, int flags)
{
        char proc[FS_PROC_FD_MAX];
        int fd = -1;

        pthread_mutex_lock(&fs->lock);
        if (in->fd_kept)
                fd = in->fd;
        unlock(fs);
        if (fd < 0)
                return -ENOENT;
        if (flags & O_PATH) {
                fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        } else {
                /* The magic link lands on the inode itself, named or not. */
                fs_proc_fd_path(fd, proc);
                fd = open(proc, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
        }
        return fd < 0 ? -errno : fd;
}

int fs_inode_open(struct fs *fs, struct fs_inode *in, int flags)
{
        int fd;

        if (in == fs->root) {
                fd = openat(fs->source_fd, ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC);
                return fd < 0 ? -errno : fd;
        }
        fd = open_kept(fs, in, flags);
        if (fd != -ENOENT)
                return fd;
        return open_handle(fs, in, flags);
}

int fs_fd_get(struct fs *fs, struct fs_inode *in, struct fs_fdref *ref)
{
        int fd;

        pthread_mutex_lock(&fs->lock);
        if (in->fd >= 0) {
                in->fd_pins++;
                if (in != fs->root && !in->fd_kept && in != fs->lru_head) {
                        lru_unlink(fs, in);
                        lru_push(fs, in);
                }
                ref->fd = in->fd;
                ref->pinned = in;
                unlock(fs);
                atomic_fetch_add(&fs->stats.fd_cache_hits, 1);
                return 0;
        }
        unlock(fs);

        fd = open_handle(fs, in, O_PATH);
        if (fd < 0)
                return fd;
        if (S_ISDIR(in->type) && fs->opt.dircache > 0) {
                pthread_mutex_lock(&fs->lock);
                if (in->fd < 0 && fd_make_room(fs)) {
                        in->fd = fd;
                        fs->fd_cached++;
                        lru_push(fs, in);
                        fd = -1;
                }
                if (in->fd >= 0) {
                        in->fd_pins++;
                        ref->fd = in->fd;
                        ref->pinned = in;
                        unlock(fs);
                        if (fd >= 0)
                                close(fd);      /* another thread cached one first */
                        return 0;
                }
                unlock(fs);
        }
        ref->fd = fd;
        ref->pinned = NULL;
        return 0;
}

void fs_fd_put(struct fs *fs, struct fs_fdref *ref)
{
        if (ref->pinned) {
                pthread_mutex_lock(&fs->lock);
                ref->pinned->fd_pins--;
                unlock(fs);
        } else if (ref->fd >= 0) {
                close(ref->fd);
        }
        ref->fd = -1;
        ref->pinned = NULL;
}

int fs_inode_path(struct fs *fs, struct fs_inode *in, const char *name, char **ret)
{
        size_t len = name ? strlen(name) : 0, pos;
        struct fs_inode *p;
        char *s;

        pthread_mutex_lock(&fs->lock);
        for (p = in; p != fs->root; p = p->names->parent) {
                if (!p->names) {
                        unlock(fs);
                        return -ENOENT;         /* unlinked, or never named */
                }
                len += strlen(p->names->name) + 1;
        }
        if (!name && len > 0)
                len--;                          /* no trailing '/' */
        s = malloc(len + 1);
        if (!s) {
                unlock(fs);
                return -ENOMEM;
        }
        pos = len;
        s[pos] = 0;
        if (name) {
                size_t n = strlen(name);

                pos -= n;
                memcpy(s + pos, name, n);
                if (pos > 0)
                        s[--pos] = '/';
        }
        for (p = in; p != fs->root; p = p->names->parent) {
                size_t n = strlen(p->names->name);

                pos -= n;
                memcpy(s + pos, p->names->name, n);
                if (pos > 0)
                        s[--pos] = '/';
        }
        unlock(fs);
        *ret = s;
        return 0;
}

int fs_inode_a_name(struct fs *fs, struct fs_inode *in, struct fs_inode **ret_parent, char **ret_name)
{
        char *name;

        pthread_mutex_lock(&fs->lock);
        if (!in->names) {
                unlock(fs);
                return -ENOENT;
        }
        name = strdup(in->names->name);
        if (!name) {
                unlock(fs);
                return -ENOMEM;
        }
        *ret_parent = in->names->parent;
        in->names->parent->refs++;
        unlock(fs);
        *ret_name = name;
        return 0;
}

void fs_inode_moved(struct fs *fs, dev_t dev, ino_t ino, struct fs_inode *parent, const char *name,
                    struct fs_inode *newparent, const char *newname)
{
        struct fs_inode *in;

        pthread_mutex_lock(&fs->lock);
        in = hash_find(fs, dev, ino);
        if (in && in != fs->root) {
                in->refs++;             /* not freed while its names change */
                remove_name(fs, in, parent, name);
                (void)add_name(fs, in, newparent, newname);     /* out of memory: unknown, not wrong */
                in->refs--;
                maybe_free(fs, in);
        }
        unlock(fs);
}

/* Lock held.  Would a removal of @in's last name need a kept descriptor? */
static bool wants_kept(struct fs *fs, const struct fs_inode *in)
{
        return in && in != fs->root && in->nlookup > 0 && !in->fd_kept;
}

int fs_inode_keep_open(struct fs *fs, int dirfd, const char *name, const struct stat *st)
{
        struct stat kst;
        bool want;
        int fd;

        /* A file with other names stays reachable by handle. */
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1)
                return -1;
        pthread_mutex_lock(&fs->lock);
        want = wants_kept(fs, hash_find(fs, st->st_dev, st->st_ino)) && fs->fd_kept < fs->fd_kept_max;
        unlock(fs);
        if (!want)
                return -1;
        fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -1;
        /* The name may have changed beside the mount since the stat. */
        if (fstat(fd, &kst) < 0 || kst.st_dev != st->st_dev || kst.st_ino != st->st_ino) {
                close(fd);
                return -1;
        }
        return fd;
}

void fs_inode_unlinked(struct fs *fs, dev_t dev, ino_t ino, struct fs_inode *parent, const char *name,
                       int keep)
{
        struct fs_inode *in;

        pthread_mutex_lock(&fs->lock);
        in = hash_find(fs, dev, ino);
        if (in && in != fs->root) {
                in->refs++;
                /* Keep only for the inode the kernel knew by this name: a
                 * number the source reused names another. */
                if (remove_name(fs, in, parent, name) && keep >= 0 && wants_kept(fs, in) &&
                    fs->fd_kept < fs->fd_kept_max) {
                        if (in->fd >= 0) {
                                /* a cached directory descriptor: keep that one */
                                lru_unlink(fs, in);
                                fs->fd_cached--;
                        } else {
                                in->fd = keep;
                                keep = -1;
                        }
                        in->fd_kept = true;
                        fs->fd_kept++;
                }
                in->refs--;
                maybe_free(fs, in);
        }
        unlock(fs);
        if (keep >= 0)
                close(keep);
}

int fs_inodes_init(struct fs *fs)
{
        struct handle_buf h;
        struct rlimit rl;
        struct stat st;
        int mount_id;

        /* Most descriptors are for files open through the mount and
         * cached directories: kept ones get an eighth of the limit. */
        fs->fd_kept_max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                          ? (size_t)rl.rlim_cur / 8 : 4096;
        if (fs->fd_kept_max < 16)
                fs->fd_kept_max = 16;
        fs->hash_size = HASH_INITIAL;
        fs->hash = calloc(fs->hash_size, sizeof(*fs->hash));
        if (!fs->hash)
                return -ENOMEM;
        if (fstat(fs->source_fd, &st) < 0)
                return -errno;
        h.fh.handle_bytes = MAX_HANDLE_SZ;
        if (name_to_handle_at(fs->source_fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0)
                return -errno;
        fs->mounts[0].mount_id = mount_id;
        fs->mounts[0].fd = fs->source_fd;
        fs->nmounts = 1;
        fs->root = inode_new(fs, &st, &h, 0);
        if (!fs->root)
                return -ENOMEM;
        fs->root->fd = fs->source_fd;   /* never evicted: not in the LRU */
        fs->root->nlookup = 1;
        fs->root->generation = ++fs->next_generation;
        fs->root->hnext = fs->hash[hash_of(st.st_dev, st.st_ino, fs->hash_size)];
        fs->hash[hash_of(st.st_dev, st.st_ino, fs->hash_size)] = fs->root;
        fs->hash_count = 1;
        atomic_store(&fs->stats.inodes, 1);
        return 0;
}

void fs_inodes_free(struct fs *fs)
{
        size_t i;
        int m;

        for (i = 0; fs->hash && i < fs->hash_size; i++) {
                struct fs_inode *in = fs->hash[i], *next;

                for (; in; in = next) {
                        next = in->hnext;
                        if (in == fs->root)
                                continue;
                        if (in->fd >= 0)
                                close(in->fd);
                        while (in->names) {
                                struct fs_name *n = in->names;

                                in->names = n->next;
                                free(n);
                        }
                        free(in);
                }
        }
        free(fs->hash);
        fs->hash = NULL;
        free(fs->root);
        fs->root = NULL;
        for (m = 1; m < fs->nmounts; m++)
                close(fs->mounts[m].fd);
}
