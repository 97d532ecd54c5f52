/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * replicator-internal.h: the parts of replicator/ and how they meet.
 *
 *   plan.c     records -> jobs: coalescing per path, renames as barriers,
 *              the low-water mark for the cursor.  Single-threaded state,
 *              no I/O: unit-tested on its own.
 *   apply.c    one job against the trees: compare, copy, rename, link,
 *              remove, attributes.  Thread-safe, blocking system calls.
 *   tree.c     resolving paths beneath a root without following symlinks,
 *              making parent directories, removing subtrees.
 *   links.c    which target inode holds the copy of a source inode with
 *              several names: names the journal could not link join it.
 *   copy-*.c   moving file contents: io_uring or plain system calls.
 *   replicator.c  threads, the journal, the cursor, durability, stats.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "copy.h"
#include "journal.h"
#include "replicator.h"

/* ---- jobs ---- */

/* What a sync job must check for its path. */
enum job_flags {
        JOB_DATA = 1 << 0,              /* contents may have changed */
        JOB_ATTR = 1 << 1,              /* mode, owner, times, xattrs may have changed */
        JOB_REMOVED = 1 << 2,           /* the name may be gone: remove it from the target if so */
        JOB_SUBTREE = 1 << 3,           /* everything beneath may differ: walk it (repair) */
        JOB_NOW = 1 << 4,               /* do not wait for the settle time (fsync, barrier) */
        JOB_UNLINKED = 1 << 5,          /* its latest record removed the name: that explains a
                                         * source gone (its changes may live on under other names) */
        JOB_ANY_INODE = 1 << 6,         /* changes to another inode were sent here (a redirect)
                                         * than the one its records are about: the name may hold
                                         * either, whichever it holds is copied (the other's
                                         * changes go on to its other names, as an orphan's) */
        JOB_FILL = 1 << 7,              /* a directory the target made on demand, then renamed:
                                         * what it lacks copied, what the source has not removed,
                                         * the rest left to its records (APPLY_PARTIAL_XATTR) */
        JOB_TIMES = 1 << 8,             /* its records set the times (utimens): a file whose source
                                         * mtime differs from the target's need not have been
                                         * written (see written_unseen() in apply.c) */
};

enum job_kind {
        JOB_SYNC,                       /* make target path equal source path */
        JOB_RENAME,                     /* rename target path -> path2 */
        JOB_EXCHANGE,                   /* exchange target path and path2 */
        JOB_LINK,                       /* hard link: new name path, existing path2 */
};

/*
 * JOB_PARKED: a sync job that found its source gone (or another inode under
 * the name), with no record saying the entry went.  The source has moved on;
 * a record not yet read says where (a rename moves the job to the new name)
 * or that it went (the job runs again).  It holds the cursor until then, or
 * until the reader has read the whole journal well after the job looked
 * (plan_caught_up()).
 */
enum job_state { JOB_QUEUED, JOB_HELD, JOB_RUNNING, JOB_RETRY, JOB_BARRIER, JOB_PARKED };

/* Inodes a job keeps that lost its name with changes pending (a name
 * reused by several files before its job runs: the oldest are forgotten
 * beyond this). */
#define JOB_ORPHANS 8

struct job {
        enum job_kind kind;
        enum job_state state;
        char *path;
        char *path2;                    /* rename destination, link source */
        uint32_t flags;                 /* enum job_flags */
        uint32_t again_flags;           /* records that came while it ran */
        uint64_t first_seq;             /* oldest record not yet applied that it stands for */
        uint64_t gate;                  /* a sync job: runs after every related barrier older than
                                         * this; a barrier: its place in line (its record's seq, or for
                                         * a link made again, that of the last rename it follows) */
        uint64_t again_first_seq;
        uint64_t oldest_ns;             /* wall time of that record */
        uint64_t ready_ns;              /* monotonic: not before */
        uint64_t created_ns;            /* monotonic: when queued (max hold) */
        uint64_t ino;                   /* source inode of the latest record */
        uint64_t again_ino;             /* that of a record that came while it ran */
        uint64_t ino_seq, again_ino_seq;        /* the record that said so (a rename moving the
                                                 * job keeps it: it says nothing of the inode) */
        uint64_t moved_seq, again_moved_seq;    /* the rename that last carried that inode's work
                                                 * to this name (0: its own records said so); see
                                                 * add_work().  A link made again: the last rename
                                                 * that moved its new name */
        uint64_t orphan_ino[JOB_ORPHANS];       /* inodes changed under the name, then the name
                                                 * removed or renamed over: their changes go to
                                                 * another name each has, if any (links.c); 0: none */
        uint64_t again_orphan_ino[JOB_ORPHANS];
        unsigned attempts;
        unsigned runs;                  /* handed to a worker so far (the status, when stuck) */
        int last_error;
        bool dir;                       /* the path is a directory (rename of a directory) */
        bool moved;                     /* renamed while it ran: its work went to the new name */
        bool made_again;                /* a link made again after renames (plan.c link_again()) */
        uint64_t parked_ns;             /* monotonic: when it was parked */
        /* plan.c's bookkeeping */
        struct job *hnext;              /* path hash chain (sync jobs) */
        struct job *prev, *next;        /* the list of its state */
};

/* What apply.c reports back to the planner. */
struct job_result {
        int error;                      /* 0 or -errno */
        const char *what;               /* the step that failed */
        bool changed_parent;            /* the parent's entries changed (on the source, the target or
                                         * both): its attributes are synced after */
        bool created_dir;               /* a directory was made: its parent changed too */
        bool nothing;                   /* the source had gone: nothing done */
        bool gone;                      /* the job's source entry was gone, or another inode */
        bool fallback;                  /* rename/link impossible: sync the destination instead */
        bool deferred;                  /* a walk left a directory copy of another inode than the
                                         * source has under its name (a rename not read yet moves
                                         * it): the job walks again, taking any inode, once the
                                         * reader has caught up (see JOB_PARKED) */
        struct {
                char *path;             /* the job's name gone, its inode has this one on the target:
                                         * its changes go there (malloc'ed, plan_done() frees it) */
                uint64_t ino;           /* that inode */
        } redirect[1 + JOB_ORPHANS];    /* the job's own inode, then its orphans */
        uint64_t source_ino;            /* the inode the source has under the name, 0: none */
        unsigned fill;                  /* a rename moved directories the target made on demand:
                                         * FILL_PATH2 (its new name), FILL_PATH (an exchange's other) */
        unsigned half;                  /* an exchange with one side missing on the target, carried
                                         * out as a rename of the other: the name left empty
                                         * (FILL_PATH or FILL_PATH2) is synced from the source */
        uint64_t bytes;
        bool copied;
};

/* ---- plan.c ---- */

struct plan_config {
        uint64_t settle_ns, max_hold_ns, open_hold_ns;
};

struct plan;

int plan_new(const struct plan_config *cfg, struct plan **ret);
struct plan *plan_free(struct plan *p);
/* Take the next record, in journal order.  -EINVAL: its path is not valid
 * (the caller sets it aside as a dead letter); it is then done. */
int plan_add(struct plan *p, const struct journal_record *rec, uint64_t now_ns);
/* The check found @path different from the source though its records
 * (up to @seq) are applied: a job makes it equal, whatever inode the
 * source has there: @whole, as made anew (a directory walked); else the
 * attributes of the directory there. */
int plan_repair(struct plan *p, const char *path, bool whole, uint64_t seq, uint64_t time_ns, uint64_t now_ns);
/* The next job to run, or NULL; *ret_wake_ns: when to ask again at the latest. */
struct job *plan_next(struct plan *p, uint64_t now_ns, uint64_t *ret_wake_ns);
/*
 * A job handed out by plan_next() finished.  retry_ns: when to try again
 * (0: never, the job is finished); the planner keeps the job until then.
 * Returns true when the job was freed.
 */
void plan_done(struct plan *p, struct job *j, const struct job_result *res, uint64_t now_ns);
void plan_retry(struct plan *p, struct job *j, int error, uint64_t when_ns);
/* Every record below the returned seq is applied (not yet necessarily durable). */
uint64_t plan_low_water(const struct plan *p, uint64_t read_seq);
/* Wall time of the oldest record not yet applied, 0 when none. */
uint64_t plan_oldest_ns(const struct plan *p);
/* The job that holds the low-water mark (the oldest record), NULL when none. */
const struct job *plan_oldest(const struct plan *p);
/* "queued", "held", "running", "retrying", "in line" (a barrier), "parked" */
const char *plan_state_name(enum job_state s);
/* Jobs waiting, running, waiting for a retry. */
void plan_counts(const struct plan *p, uint64_t *queued, uint64_t *running, uint64_t *retrying);
/* Of the waiting: held for a close, renames and links in line, parked. */
void plan_waiting(const struct plan *p, uint64_t *held, uint64_t *barriers, uint64_t *parked);
/*
 * The reader has planned every record the journal held at @now_ns.  Parked
 * jobs that looked at the source well before that run once more: no record
 * explains what they saw, so there is nothing to follow, and the name gets
 * what the source has there now, whichever inode (or is removed).  @final:
 * no record will ever come (--once read to its end): none are parked any
 * more.
 * Returns true when jobs were queued (workers to wake).
 */
bool plan_caught_up(struct plan *p, uint64_t now_ns, bool final);
/* Everything pending may go now (drain, stop): settle and holds end. */
void plan_hurry(struct plan *p);
/* Nothing pending at all (O(1)). */
bool plan_empty(const struct plan *p);
/* The source inodes open for writing as far as the records tell (a
 * write-intent or a create for writing without its close-write yet), sorted
 * (malloc'ed in *ret, NULL when none), their number in *ret_n.  -ENOMEM. */
int plan_open_inodes(const struct plan *p, uint64_t **ret, size_t *ret_n);
/* Is @ino among the @n sorted inodes @v (as plan_open_inodes() gives)? */
bool plan_inodes_have(const uint64_t *v, size_t n, uint64_t ino);
/* Will an exchange read but not yet carried out swap @path itself on the
 * target (@path as the source names it now: the exchange's names after the
 * renames read after it)?  (A walk must neither make what it will bring
 * nor replace what it will take.  What is beneath an exchanged directory
 * moves with it: a walk there meets the marks.) */
bool plan_swapping(const struct plan *p, const char *path);
struct job *plan_job_free(struct job *j);

/* ---- check.c ---- */

/* The directories the records touched, to check once they are applied
 * (at most @max between checks: beyond that, counted as skipped). */
struct check_set;

int check_set_new(size_t max, struct check_set **ret);
struct check_set *check_set_free(struct check_set *s);     /* NULL-safe, returns NULL */
void check_set_add(struct check_set *s, const char *dir);
/* Note the directories @rec touched; a directory renamed moves what is
 * noted beneath it. */
void check_set_note(struct check_set *s, const struct journal_record *rec);
size_t check_set_count(const struct check_set *s);
uint64_t check_set_skipped(const struct check_set *s);
/* One noted directory (malloc'ed), NULL when none is left; each path
 * once, however often it was noted. */
char *check_set_take(struct check_set *s);

/* @whole: the entry is to be made again (missing, another type, not a
 * directory); else a directory whose attributes only differ.  @src, @tgt:
 * the entry on each side (NULL: not there).  False when the caller knows
 * why it differs (not counted as found). */
typedef bool (*check_differs_fn)(void *arg, const char *path, const char *what, bool whole, const struct stat *src,
                                 const struct stat *tgt);
/* How far check_dir() goes (NULL: all the way). */
struct check_limits {
        off_t max_size;         /* a source directory bigger (st_size) is not compared: -EFBIG; 0: any */
        int stop_fd;            /* readable (the journal grew): -EINTR, the rest not compared; -1: none */
};
/*
 * Compare directory @dir of the source (root @source_fd) and the target
 * (@target_fd): @fn for every entry that differs, and for the directory
 * itself when its entries do not.  *moving: the source directory changed
 * while it was compared (what was reported may be its changes, which
 * records not yet read explain).  The number reported, or -errno; -EFBIG
 * and -EINTR as @lim says (what @fn was told before -EINTR stands: the
 * caller drops it or not).
 */
int check_dir(int source_fd, int target_fd, const char *dir, const struct check_limits *lim, check_differs_fn fn,
              void *arg, bool *moving);
/*
 * Could record @rec, appended while @path was compared, explain that it
 * differed?  @ino: its inode on the source (0: not there); @linked: a
 * regular file with other names on either side.  True when the record
 * names @path, a directory above it, an entry of it (a directory's mtime
 * changes with its entries) or the inode, for any link, unlink or rename
 * when @linked (a rename over another name of it changes its link count
 * and names neither), and for any events-lost or mount record.
 */
bool check_explains(const struct journal_record *rec, const char *path, uint64_t ino, bool linked);

/* ---- tree.c ---- */

/*
 * Open the parent directory of @path beneath @root (O_PATH, no symlink
 * followed) and point *ret_name into @path at the last component.  With
 * @create, missing parents are made (copying mode and owner from the same
 * directories under @src_root when given) and a non-directory in the way
 * is removed.  -ENOENT when a parent is missing (without @create).
 */
int tree_open_parent(int root, const char *path, bool create, int src_root,
                     const char **ret_name, int *ret_fd, bool *ret_created);
/* Remove @name in @dirfd, and everything beneath when it is a directory. */
int tree_remove(int dfd, const char *name);
/* "/proc/self/fd/DIRFD/NAME": a path the l*xattr() calls take without
 * following NAME (a buffer of TREE_PROC_PATH_MAX). */
#define TREE_PROC_PATH_MAX (64 + NAME_MAX)
void tree_proc_path(int dirfd, const char *name, char *buf, size_t size);
/* Mark target entry @name in @dirfd (or open file @fd) as the copy of
 * source inode @ino (APPLY_INO_XATTR); the mark read back: -ENODATA when
 * there is none. */
int tree_mark_ino(int dirfd, const char *name, uint64_t ino);
int tree_mark_ino_fd(int fd, uint64_t ino);
int tree_marked_ino(int dirfd, const char *name, uint64_t *ret);
/* The path of an entry, for messages: "a/b" */
const char *tree_basename(const char *path);

/* ---- apply.c ---- */

/*
 * Target directories a worker opened lately (see apply.c).  An entry is
 * pinned while a side of a running job holds its descriptor; a repair walk
 * nests jobs' sides, so several may be pinned at once.  Dropping a pinned
 * entry (expired, stale, evicted) only hides it from lookups: its
 * descriptor is closed by the last unpin.
 */
#define DIRCACHE_SIZE 32

struct dircache_entry {
        char *path;                     /* NULL: free, or dropped while still pinned */
        int fd;                         /* open while path is set or pins > 0 */
        unsigned pins;                  /* sides holding fd */
        uint64_t gen;                   /* the namespace generation it is valid for */
        uint64_t born_ns;
};

struct apply_ctx {
        int source_fd, target_fd;
        const struct copier_ops *copy_ops;
        struct copier *copier;
        unsigned worker;
        /* Bumped by every job that renames or removes on the target (shared
         * by the workers): cached directories from before are dropped. */
        _Atomic uint64_t *ns_gen;
        struct link_map *links;         /* shared by the workers; NULL: names copied, not joined */
        uint64_t renamed_upto;          /* renames up to this seq may have been carried out before
                                         * this start: not again (apply_renamed_load()) */
        struct dircache_entry dircache[DIRCACHE_SIZE];
        unsigned dircache_next;
        /* plan_swapping() under the replicator's lock (NULL: never asked):
         * a walk neither makes nor replaces on the target an entry where an
         * exchange not carried out yet will bring another (sync_entry()). */
        bool (*swapping)(void *arg, const char *path);
        void *swapping_arg;
        /* Tests only (NULL otherwise): called as a job is about to open
         * source entry @path (a walk, a copy), to change the source at that
         * moment. */
        void (*before_open)(const char *path);
        /* Tests only (NULL otherwise): called as links.c is about to make
         * the target's @path, another name of the file a job copied, join
         * that copy, to change the target at that moment. */
        void (*before_relink)(const char *path);
        /* Tests only (NULL otherwise): called as links.c is about to note
         * @path as a name of the copy it holds, to note another meanwhile. */
        void (*before_note)(const char *path);
};

/* Close the cached directories; no job may be running on @ctx. */
void apply_ctx_release(struct apply_ctx *ctx);

/* Carry out @j against the trees; fills *res. */
void apply_job(struct apply_ctx *ctx, const struct job *j, struct job_result *res);

/* The replicator's own extended attributes on the target (never synced
 * from the source, never removed): the last rename carried out, on the root. */
#define APPLY_OWN_XATTRS "trusted.mirrorfs."
#define APPLY_RENAMED_XATTR APPLY_OWN_XATTRS "renamed"
/* On a directory the target made on demand (the parent of an entry copied
 * before the directory's own record was applied, or where a rename the
 * target could not follow left none): it may lack entries whose jobs ran
 * under other names.  A rename that moves it has its missing entries
 * copied (JOB_FILL); a walk of it removes the mark. */
#define APPLY_PARTIAL_XATTR APPLY_OWN_XATTRS "partial"
/* On every directory and regular file the target makes: the source inode
 * it is the copy of (decimal).  A job that finds the source directory under
 * the name to be another inode waits for the record that explains it (a
 * rename not read yet); when none does, it walks the directory into the
 * source's.  A file's copy marked as another inode's is never linked to
 * (a link record) nor written in place (a hard-linked file's data): the
 * target has there another file's copy, kept by a rename not carried out
 * yet, and its other names keep it. */
#define APPLY_INO_XATTR APPLY_OWN_XATTRS "ino"
#define FILL_PATH2 1u
#define FILL_PATH 2u
/* The sequence number of the last rename or exchange carried out on the
 * target whose root is @target_fd (0: none, or not known). */
uint64_t apply_renamed_load(int target_fd);

/* The temporary name (NAME_MAX + 1 bytes) beside @name while it is made. */
void apply_tmp_name(const char *name, char *buf, size_t size);

/* Is @err one a target may recover from (full, read-only, gone, ...)? */
bool apply_error_transient(int err);

/* ---- links.c ---- */

struct link_map;

int link_map_new(struct link_map **ret);
struct link_map *link_map_free(struct link_map *m);        /* NULL-safe, returns NULL */
/* A rename (or exchange) was made on the target: noted paths follow it. */
void link_map_renamed(struct link_map *m, const char *from, const char *to, bool exchange);
/*
 * Before a sync job on @path, not a directory (its target parent @dfd and
 * last component @name; @tst: what the target has there, NULL when nothing)
 * with source attributes @sst: when the source entry has several names and
 * the target inode of another is known, make @name a link to it.  1: linked
 * (the target entry changed), 0: nothing done (copy as usual), -errno.
 */
int links_join(struct apply_ctx *ctx, const char *path, int dfd, const char *name, const struct stat *sst,
               const struct stat *tst);
/*
 * After a job made or updated @path (not a directory): note its target
 * inode as the copy of @sst's inode (when that has several names).  If another
 * name got its own copy meanwhile (another worker), @name joins that one:
 * 1.  0 otherwise, -errno.
 */
int links_note(struct apply_ctx *ctx, const char *path, int dfd, const char *name, const struct stat *sst);
/* Does target entry @t hold what source entry @s does, as far as size and mtime tell? */
bool links_current(const struct stat *t, const struct stat *s);
/* Is target inode @tst (at @path) known as the copy of another source inode
 * than @sst's, which another of its names still holds? */
bool links_other_copy(struct apply_ctx *ctx, const char *path, const struct stat *sst, const struct stat *tst);
/* Another target name (malloc'ed) of the copy of source inode @ino, which the
 * target still has there; NULL when none is known but @path. */
char *links_other_name(struct apply_ctx *ctx, uint64_t ino, const char *path);
