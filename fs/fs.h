/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fs.h: the mount daemon's context and the pieces of fs/ that share it.
 *
 * The mount is a passthrough by inode: the kernel's node ids are pointers to
 * struct fs_inode, each of which knows its source inode by file handle
 * (name_to_handle_at), never by a held descriptor, so the number of inodes
 * the kernel may keep is not bounded by the process's open-file limit.
 * Directories in use get a cached O_PATH descriptor (an LRU of bounded
 * size); everything else is opened by handle when needed.  An inode that
 * loses its last name through the mount while the kernel still holds it
 * keeps a descriptor until it is forgotten (a handle no longer opens it).
 *
 * Each inode remembers the name it was last reached by (parent + name), so
 * the journal can say which path changed when the kernel only gives an
 * inode (release, setattr, xattrs).
 *
 * Locking: one mutex (fs->lock) guards the inode table, lookup counts,
 * parent/name links and the descriptor cache.  Hold it briefly; never
 * across a system call that can block on the disk.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FUSE_USE_VERSION 317
#include <fuse_lowlevel.h>

/* The statx request (the birth time): libfuse 3.18 and newer. */
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 18)
#define FS_HAVE_STATX 1
#else
#define FS_HAVE_STATX 0
#endif

#include "journal.h"
#include "replicator.h"

struct fs_options {
        char *source, *mountpoint;      /* as given */
        char *target;                   /* target=DIR */
        char *journal;                  /* journal=DIR */
        char *socket;                   /* socket=PATH */
        char *socket_group;             /* socket_group=GROUP */
        bool replicate;                 /* replicate=on|off */
        bool check;                     /* check=on|off: the replicator checks touched directories */
        enum journal_durability durability;
        uint64_t commit_interval_ms;
        uint64_t segment_size;
        enum { FS_PT_AUTO, FS_PT_ON, FS_PT_OFF } passthrough;
        enum { FS_URING_AUTO, FS_URING_ON, FS_URING_OFF } io_uring;
        double timeout;                 /* entry and attribute cache, seconds */
        uint64_t dircache;              /* cached directory descriptors */
        uint64_t threads;               /* max worker threads */
        bool clone_fd;
        bool noflush;                   /* FOPEN_NOFLUSH */
        bool writeback;                 /* writeback cache when passthrough is off */
        bool readdirplus;
        uint64_t drain_timeout;         /* seconds to finish replicating at unmount */
        uint64_t workers;               /* replicator threads */
        uint64_t retention_s;           /* archive applied segments for this long; 0: delete */
        int log_level;                  /* LOG_ERR..LOG_DEBUG */
        bool foreground, debug, singlethread;
        bool show_help, show_version;
};

/*
 * Parse the command line: mirrorfs SOURCE MOUNTPOINT [-o OPTS] [-f] [-d]...
 * Our -o options are taken out of @args; the rest stays for libfuse.
 * Returns 0, or -EINVAL with a one-line message in @err.
 */
struct fuse_args;
int fs_options_parse(struct fuse_args *args, struct fs_options *ret, char *err, size_t errlen);
void fs_options_free(struct fs_options *o);
/* Whether the kernel's requests are to come over io_uring (io_uring=). */
bool fs_options_want_uring(const struct fs_options *o);
void fs_options_usage(void);

/* A name an inode is known by: the kernel has (or had) a dentry for it. */
struct fs_name {
        struct fs_name *next;
        struct fs_inode *parent;        /* holds a ref on it */
        char name[];
};

struct fs_inode {
        struct fs_inode *hnext;         /* hash chain */
        struct fs_name *names;          /* most recently used first; NULL: none known */
        struct fs_inode *lru_prev, *lru_next;   /* while fd >= 0 */
        dev_t dev;
        ino_t ino;
        mode_t type;                    /* S_IFMT bits */
        uint64_t nlookup;               /* the kernel's references */
        uint32_t refs;                  /* children naming it as parent, open files */
        uint32_t fd_pins;               /* operations using fd */
        int fd;                         /* cached O_PATH descriptor (directories), -1 */
        bool fd_kept;                   /* fd keeps a removed inode reachable: not in the LRU */
        int mount;                      /* index into fs->mounts */
        int backing_id;                 /* kernel passthrough backing file, 0: none */
        uint32_t nopen;                 /* open files sharing backing_id */
        uint64_t generation;
        uint32_t handle_bytes;
        int handle_type;
        unsigned char handle[];         /* file handle, handle_bytes long */
};

/* A descriptor to work on an inode: cached (pinned) or opened (closed on put). */
struct fs_fdref {
        int fd;
        struct fs_inode *pinned;
};

struct fs_file {
        int fd;
        int flags;                      /* open flags */
        bool write;                     /* opened for writing: close-write at release */
        bool kill_privs;                /* setuid/setgid to drop at the first write: no passthrough */
        bool passthrough;               /* holds a share of the inode's backing file */
        struct fs_inode *inode;
};

#define FS_MAX_MOUNTS 64

struct fs_stats {
        atomic_uint_fast64_t records;           /* appended */
        atomic_uint_fast64_t record_errors;     /* appends that failed */
        atomic_uint_fast64_t unannounced;       /* changes made without an in-flight slot */
        atomic_uint_fast64_t unknown_paths;     /* changes whose path could not be told */
        atomic_uint_fast64_t inodes;            /* alive */
        atomic_uint_fast64_t handle_opens;      /* open_by_handle_at calls */
        atomic_uint_fast64_t fd_cache_hits;
};

/* The directories, resolved (absolute) before anything starts. */
struct fs_paths {
        char *source, *mountpoint, *target, *journal;
};

struct ctl_server;

/* Kept descriptors dropped under fs->lock, closed once it is released
 * (inode.c): their close frees the removed inode, which can take long. */
#define FS_CLOSE_LATER 16

struct fs {
        struct fs_options opt;
        struct fs_paths paths;
        struct ctl_server *ctl;         /* the status and control socket */
        char socket_path[108];
        char last_error_path[256];      /* status: written by the socket's thread only */
        char oldest_path[256];          /* the same */
        int source_fd;                  /* the source root, opened before mounting */
        char *source_real;              /* its absolute path */
        int journal_fd;
        int target_fd;
        struct journal *journal;
        struct journal_inflight *inflight;      /* changes being made (record.c) */
        pthread_rwlock_t nslock;                /* the namespace lock (record.c) */
        struct replicator *replicator;  /* NULL with replicate=off */
        struct fuse_session *se;

        pthread_mutex_t lock;
        struct fs_inode **hash;         /* table of inodes by (dev, ino) */
        size_t hash_size, hash_count;
        struct fs_inode *lru_head, *lru_tail;   /* cached descriptors, newest first */
        size_t fd_cached;
        size_t fd_kept, fd_kept_max;    /* descriptors of removed inodes (inode.c) */
        int close_later[FS_CLOSE_LATER];        /* kept ones dropped, closed after the lock */
        unsigned nclose_later;
        uint64_t next_generation;
        struct { int mount_id; int fd; } mounts[FS_MAX_MOUNTS];
        int nmounts;
        struct fs_inode *root;

        _Atomic bool passthrough;       /* negotiated with the kernel (INIT, in a worker thread) */
        _Atomic bool io_uring;          /* the kernel's requests come over io_uring (the same) */
        struct fs_slow *slow;           /* threads for the syncs, over io_uring (slow.c) */
        int ready_fd;                   /* to the waiting parent (no -f), until ready; -1 */
        char start_error[256];          /* why the kernel's INIT was refused, "" */
        uid_t self_uid;
        gid_t self_gid;
        _Atomic int64_t last_error_log_ns;      /* rate limit for journal errors */
        struct fs_stats stats;
};

/* ---- mirrorfs.c ---- */

/* Called once the kernel's INIT is answered: the mount serves.  With
 * @error (a one-line reason), the start has failed and the session ends. */
void fs_ready(struct fs *fs, const char *error);

/* ---- slow.c ---- */

/* FUSE over io_uring: libfuse 3.18 and newer. */
#ifdef FUSE_CAP_OVER_IO_URING
#define FS_HAVE_URING 1
#endif

struct fs_slow;
int fs_slow_start(struct fuse_session *se, unsigned max_threads, struct fs_slow **ret);
/* Runs what is queued and ends the threads; what comes later runs in the
 * caller (the session's last requests).  NULL-safe. */
void fs_slow_quiesce(struct fs_slow *s);
/* Quiesces and frees, once no request can come.  NULL-safe; NULL. */
struct fs_slow *fs_slow_stop(struct fs_slow *s);
/* A request that may take long (a sync): @fn(@req, @datasync, @fi) does
 * it and returns the errno to answer (0: done).  A request that came over
 * io_uring is run on a thread of the pool, so that it does not hold the
 * other requests of its CPU; any other (or when no thread can be had)
 * right here. */
typedef int fs_sync_fn(fuse_req_t req, int datasync, struct fuse_file_info *fi);
void fs_slow_sync(struct fs *fs, fs_sync_fn *fn, fuse_req_t req, int datasync, struct fuse_file_info *fi);

/* ---- inode.c ---- */

int fs_inodes_init(struct fs *fs);
void fs_inodes_free(struct fs *fs);
struct fs_inode *fs_inode_get(struct fs *fs, fuse_ino_t ino);
/*
 * Look up @name in @parent on the source: fills *st and returns the inode,
 * with its lookup count raised by one (the reply to the kernel owns it).
 * Records @parent/@name as its name.  -errno on failure.
 */
int fs_inode_lookup(struct fs *fs, struct fs_inode *parent, const char *name,
                    struct stat *st, struct fs_inode **ret);
/* The inode of an open, unnamed file (O_TMPFILE) in @parent's file system. */
int fs_inode_from_fd(struct fs *fs, struct fs_inode *parent, int fd, struct stat *st, struct fs_inode **ret);
/* Drop @n lookups; frees the inode when nothing refers to it. */
void fs_inode_forget(struct fs *fs, struct fs_inode *in, uint64_t n);
/* A descriptor on @in (O_PATH): 0 and *ref, or -errno.  fs_fd_put() after. */
int fs_fd_get(struct fs *fs, struct fs_inode *in, struct fs_fdref *ref);
void fs_fd_put(struct fs *fs, struct fs_fdref *ref);
/* Open @in with @flags by handle (a kept one: through its descriptor). */
int fs_inode_open(struct fs *fs, struct fs_inode *in, int flags);
/* Path of @in (+ "/" + @name when not NULL), relative to the source root,
 * into a malloc'ed string.  -ENOENT when the inode's name is not known. */
int fs_inode_path(struct fs *fs, struct fs_inode *in, const char *name, char **ret);
/* After a rename/unlink on the source: keep names current. */
void fs_inode_moved(struct fs *fs, dev_t dev, ino_t ino, struct fs_inode *parent, const char *name,
                    struct fs_inode *newparent, const char *newname);
/*
 * Removing a name, in three steps:
 *
 *   keep = fs_inode_keep_open(fs, dirfd, name, &st);   (st: fstatat of it)
 *   ...unlinkat() or renameat2() over it...
 *   made ? fs_inode_unlinked(fs, st.st_dev, st.st_ino, parent, name, keep) : close(keep);
 *
 * A removed directory, and a removed file nothing else holds open, can no
 * longer be opened by handle, though the kernel may still reach it (an
 * O_PATH descriptor, a working directory, an open file) and change its
 * attributes.  So when @name is the last name of an inode the kernel
 * holds, keep_open returns an O_PATH descriptor of it (else -1), which
 * unlinked keeps with the inode until the kernel forgets it (taking it
 * over in every case: closed when not needed).  At most fs->fd_kept_max
 * are kept; beyond, a removed inode answers ESTALE as before.
 */
int fs_inode_keep_open(struct fs *fs, int dirfd, const char *name, const struct stat *st);
void fs_inode_unlinked(struct fs *fs, dev_t dev, ino_t ino, struct fs_inode *parent, const char *name,
                       int keep);
/* A name of @in: its parent (with a ref: fs_inode_unref() it) and a copy
 * of the name to free().  -ENOENT when none is known. */
int fs_inode_a_name(struct fs *fs, struct fs_inode *in, struct fs_inode **ret_parent, char **ret_name);
void fs_inode_ref(struct fs *fs, struct fs_inode *in);
void fs_inode_unref(struct fs *fs, struct fs_inode *in);

/* ---- record.c ---- */

/*
 * Append a record for a change at @parent/@name (or at @in when @parent is
 * NULL; @name may then be NULL).  Never fails the operation: an error is
 * counted, logged (rate-limited) and later shown as an events-lost record.
 * Returns the seq, 0 when nothing was appended.
 */
uint64_t fs_record(struct fs *fs, struct journal_record *rec, struct fs_inode *parent,
                   const char *name, struct fs_inode *in);
/*
 * A change to the source, from before it is made to its record:
 *
 *   struct fs_change c = { .rec = { .type = ..., known fields } };
 *   fs_change_begin(fs, &c, dir, name, dir2, name2, exclusive);
 *   ...make the change on the source...
 *   fill c.rec (fs_record_from_stat), fs_change_end(fs, &c, made);
 *
 * begin computes the path (@dir/@name, or @dir's own with @name NULL) and
 * path2 (@dir2/@name2 likewise; with @dir2 NULL, c.rec.path2 is kept: a
 * symlink's target), and announces the record in the in-flight table, so a
 * crash before end leaves it for recovery (recover.c).  end appends it
 * when the change was @made and withdraws the announcement.
 *
 * Between begin and end the thread holds the namespace lock: shared, or
 * @exclusive for the rename of a directory, which changes the paths of
 * everything beneath it.  So the journal's order of a directory rename and
 * of a change beneath it is the order in which the source saw them, and
 * each record's paths are those of its moment.  fs_record() takes it
 * shared too.
 */
struct fs_change {
        struct journal_record rec;
        char *path, *path2;
        struct fs_inode *where;         /* whose path was asked (for an unknown one) */
        int path_err;
        int slot;                       /* in-flight slot, -1: not announced */
        bool exclusive;
};
void fs_change_begin(struct fs *fs, struct fs_change *c, struct fs_inode *dir, const char *name,
                     struct fs_inode *dir2, const char *name2, bool exclusive);
uint64_t fs_change_end(struct fs *fs, struct fs_change *c, bool made);

/* Make every record so far durable (an application asked for durability). */
void fs_record_commit(struct fs *fs);
void fs_record_from_stat(struct journal_record *rec, const struct stat *st);

/* ---- recover.c ---- */

/* Append what the changes a crashed daemon left in the in-flight table
 * really did; at start, before the mount serves.  Returns how many. */
int fs_recover(struct fs *fs);

/* ---- status.c ---- */

/* Open the status and control socket (-o socket=, default under /run/mirrorfs). */
int fs_status_start(struct fs *fs, char *err, size_t errlen);
void fs_status_stop(struct fs *fs);

/* ---- creds.c ---- */

/*
 * Switch this thread's file-system identity to the caller of @req (uid,
 * gid) for an operation that creates something, so the source gives it the
 * owner and group (setgid directories included) a native call would.
 * fs_creds_restore() switches back.  Supplementary groups: see creds.c.
 */
struct fs_creds {
        bool switched;
        bool groups_set;
        uid_t uid;
        gid_t gid;
};
int fs_creds_become(struct fs *fs, fuse_req_t req, struct fs_creds *c, bool with_groups);
void fs_creds_restore(struct fs *fs, struct fs_creds *c);

/* ---- ops ---- */

extern const struct fuse_lowlevel_ops fs_ops;

/*
 * ThreadSanitizer cannot see the orderings the kernel makes between
 * requests: a request comes after the replies its caller saw (an inode is
 * known by its node id, its address, only from the reply that gave it;
 * its FORGET comes after every request that used it), and an open file's
 * or directory's handle (fi->fh) is used by the requests on it and freed
 * at its RELEASE, which comes after every one of them was answered.  Over
 * /dev/fuse TSan happened to see them in the writes and reads of the one
 * descriptor; over io_uring (shared memory) it sees none.  So, in TSan
 * builds only: every reply releases and every request acquires, as the
 * descriptor did (fuse_reply_*() below, fs_request_begins() in fs_of()
 * and fs_inode_get()); and for handles, fs_handle_answered() after a
 * request's last use of the handle, before its reply, fs_handle_reached()
 * where a request takes it, fs_handle_released() before the free (a NULL
 * @fi: a request without a handle).  Nothing in other builds.
 */
#if defined(__SANITIZE_THREAD__)
#define FS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FS_TSAN 1
#endif
#endif
#ifndef FS_TSAN
#define FS_TSAN 0
#endif
#if FS_TSAN
#include <sanitizer/tsan_interface.h>
static inline void fs_request_begins(struct fs *fs)
{
        __tsan_acquire(fs);
}
static inline void fs_replying(fuse_req_t req)
{
        __tsan_release(fuse_req_userdata(req));
}
#define fuse_reply_attr(req, ...) (fs_replying(req), fuse_reply_attr(req, __VA_ARGS__))
#define fuse_reply_buf(req, ...) (fs_replying(req), fuse_reply_buf(req, __VA_ARGS__))
#define fuse_reply_create(req, ...) (fs_replying(req), fuse_reply_create(req, __VA_ARGS__))
#define fuse_reply_data(req, ...) (fs_replying(req), fuse_reply_data(req, __VA_ARGS__))
#define fuse_reply_entry(req, ...) (fs_replying(req), fuse_reply_entry(req, __VA_ARGS__))
#define fuse_reply_err(req, ...) (fs_replying(req), fuse_reply_err(req, __VA_ARGS__))
#define fuse_reply_lseek(req, ...) (fs_replying(req), fuse_reply_lseek(req, __VA_ARGS__))
#define fuse_reply_none(req) (fs_replying(req), fuse_reply_none(req))
#define fuse_reply_open(req, ...) (fs_replying(req), fuse_reply_open(req, __VA_ARGS__))
#define fuse_reply_readlink(req, ...) (fs_replying(req), fuse_reply_readlink(req, __VA_ARGS__))
#define fuse_reply_statfs(req, ...) (fs_replying(req), fuse_reply_statfs(req, __VA_ARGS__))
#define fuse_reply_write(req, ...) (fs_replying(req), fuse_reply_write(req, __VA_ARGS__))
#define fuse_reply_xattr(req, ...) (fs_replying(req), fuse_reply_xattr(req, __VA_ARGS__))
#if FS_HAVE_STATX
#define fuse_reply_statx(req, ...) (fs_replying(req), fuse_reply_statx(req, __VA_ARGS__))
#endif
static inline void fs_handle_answered(struct fuse_file_info *fi)
{
        if (fi)
                __tsan_release((void *)(uintptr_t)fi->fh);
}
static inline void fs_handle_released(struct fuse_file_info *fi)
{
        __tsan_acquire((void *)(uintptr_t)fi->fh);
}
static inline void fs_handle_reached(struct fuse_file_info *fi)
{
        __tsan_acquire((void *)(uintptr_t)fi->fh);
}
#else
static inline void fs_request_begins(struct fs *fs)
{
        (void)fs;
}
static inline void fs_handle_answered(struct fuse_file_info *fi)
{
        (void)fi;
}
static inline void fs_handle_released(struct fuse_file_info *fi)
{
        (void)fi;
}
static inline void fs_handle_reached(struct fuse_file_info *fi)
{
        (void)fi;
}
#endif

static inline struct fs *fs_of(fuse_req_t req)
{
        struct fs *fs = fuse_req_userdata(req);

        fs_request_begins(fs);
        return fs;
}

static inline struct fs_file *fs_file_of(struct fuse_file_info *fi)
{
        fs_handle_reached(fi);
        return (struct fs_file *)(uintptr_t)fi->fh;
}
