/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal.h: the mirrorfs journal, a durable, checksummed, append-only log of
 * changes to a source tree.  It is the only contract between the writer (the
 * mount daemon) and the readers (the replicator and the tools).  The bytes on
 * disk are specified in docs/journal-format.md.
 *
 * Writer:   journal_open() -> journal_append()... [journal_commit()] -> journal_close()
 *           One writer per journal directory, enforced by a lock file;
 *           journal_append() and journal_commit() may be called from any
 *           number of threads at once.
 * Reader:   journal_reader_open() -> journal_reader_next()... ->
 *           journal_reader_wait() at the end -> journal_reader_free().
 *           A reader belongs to one thread.  Any number of readers, in any
 *           process, may read while the writer appends.
 * Cursors:  journal_cursor_load()/journal_cursor_store(): a reader's durable
 *           position.  journal_trim() deletes or archives what every cursor
 *           has passed.
 *
 * Every function returns 0 (or a count) on success and -errno on failure,
 * and writes its out-parameters only on success.  Nothing here logs: problems
 * found in the bytes are handed to a callback, errors are returned.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Record types; see docs/journal-format.md for which fields each uses. */
enum journal_type {
        JOURNAL_MOUNT = 1,
        JOURNAL_UNMOUNT = 2,
        JOURNAL_EVENTS_LOST = 3,
        JOURNAL_WRITE_INTENT = 16,
        JOURNAL_CLOSE_WRITE = 17,
        JOURNAL_CREATE = 18,
        JOURNAL_MKDIR = 19,
        JOURNAL_MKNOD = 20,
        JOURNAL_SYMLINK = 21,
        JOURNAL_LINK = 22,
        JOURNAL_RENAME = 23,
        JOURNAL_UNLINK = 24,
        JOURNAL_RMDIR = 25,
        JOURNAL_SETATTR = 26,
        JOURNAL_SETXATTR = 27,
        JOURNAL_REMOVEXATTR = 28,
        JOURNAL_SYNC = 29,
};

/* Record flags. */
enum journal_flags {
        JOURNAL_F_DIR = 1 << 0,         /* path names a directory */
        JOURNAL_F_DURABLE = 1 << 1,     /* made durable before the operation was answered */
};

/* The setattr mask, in aux of JOURNAL_SETATTR. */
enum journal_setattr {
        JOURNAL_SET_MODE = 1 << 0,
        JOURNAL_SET_UID = 1 << 1,
        JOURNAL_SET_GID = 1 << 2,
        JOURNAL_SET_SIZE = 1 << 3,
        JOURNAL_SET_ATIME = 1 << 4,
        JOURNAL_SET_MTIME = 1 << 5,
};

#define JOURNAL_RECORD_MAX 65536u       /* bytes, header and payload */
#define JOURNAL_STRING_MAX 65535u       /* bytes of one string, without its NUL */

/*
 * One record.  On append, seq is ignored (assigned), time_ns 0 means now,
 * and a NULL string is the empty string.  On read, the strings are
 * NUL-terminated and point into the reader's buffer: valid until the next
 * call on that reader.
 */
struct journal_record {
        uint64_t seq;
        uint64_t time_ns;               /* CLOCK_REALTIME, ns since the epoch */
        uint16_t type;                  /* enum journal_type */
        uint16_t flags;                 /* enum journal_flags */
        uint32_t aux;                   /* type-specific, see the format */
        uint32_t mode, uid, gid;
        uint64_t ino, size, rdev;
        struct timespec atime, mtime;
        const char *path, *path2, *name;
        uint16_t path_len, path2_len, name_len;
};

/* Name of a record type ("rename"), or NULL when unknown. */
const char *journal_type_name(unsigned type);

/* ---- writer ---- */

enum journal_durability {
        JOURNAL_BATCH = 0,      /* durable within the commit interval (group commit) */
        JOURNAL_STRICT,         /* journal_append() returns once the record is durable */
        JOURNAL_NONE,           /* never synced by the journal (page cache only) */
};

struct journal_options {
        enum journal_durability durability;
        uint32_t commit_interval_us;    /* batch: 0 means 10,000 */
        uint64_t segment_size;          /* bytes; rotate when reached; 0 means 64 MiB */
        uint64_t max_pending;           /* bytes buffered while a write is in progress
                                         * before appends are refused; 0 means 64 MiB */
};

struct journal_stats {
        uint64_t next_seq;              /* seq the next record will get */
        uint64_t written_seq;           /* every record up to here reached the kernel */
        uint64_t synced_seq;            /* every record up to here is durable */
        uint64_t records;               /* appended by this writer */
        uint64_t bytes;                 /* written by this writer, padding included */
        uint64_t writes;                /* write batches (records per write = records / writes) */
        uint64_t syncs;                 /* fdatasync calls */
        uint64_t lost;                  /* records numbered but not written (a write failed) */
        uint64_t refused;               /* appends refused without a number (buffer full, closed) */
        uint64_t held;                  /* records whose write failed, held in memory to be written */
        int last_error;                 /* last write or sync error (-errno), 0 when none */
        uint64_t segment_first_seq;     /* the segment being written */
        uint64_t segment_bytes;
        uint64_t commit_p99_us;         /* append to durable, recent records (0: none yet) */
};

struct journal;

/*
 * Open (creating it when missing) the journal in directory @dirfd for
 * writing.  Takes the writer lock (-EBUSY if another process holds it), cuts
 * a torn tail of the newest segment, removes stale *.tmp files and starts a
 * new segment.  @opt may be NULL for the defaults.  @on_problem, when not
 * NULL, is told about corruption found while recovering.
 */
struct journal_problem;
typedef void (*journal_problem_fn)(void *userdata, const struct journal_problem *p);
int journal_open(int dirfd, const struct journal_options *opt,
                 journal_problem_fn on_problem, void *userdata, struct journal **ret);

/*
 * Append @rec; on success the record has reached the kernel (it survives a
 * crash of this process) and, in strict mode, the disk.  *ret_seq (may be
 * NULL) gets its sequence number.
 * -EINPROGRESS: the journal's file system refused the write (full,
 * failing); the record is held in memory, numbered, and written in order
 * as soon as a write succeeds (the committer retries every second): it
 * does not survive a crash of this process meanwhile.
 * Errors: -EINVAL (bad type, string too long), -E2BIG (record over
 * JOURNAL_RECORD_MAX), -ENOBUFS (too much pending: the disk does not keep up,
 * or max_pending bytes are held already), -ESHUTDOWN (closing), or the
 * -errno of the failed write or sync when nothing more can be held.  Every
 * failure is counted and later explained by an events-lost record.
 */
int journal_append(struct journal *j, const struct journal_record *rec, uint64_t *ret_seq);

/* Make every record up to @seq durable (0: everything appended so far). */
int journal_commit(struct journal *j, uint64_t seq);

/* A consistent snapshot of the counters. */
void journal_get_stats(struct journal *j, struct journal_stats *ret);

/* Flush, sync and release.  NULL-safe; returns NULL. */
struct journal *journal_close(struct journal *j);

/* The sequence number the next record will get (a lock-free read: it may
 * be passed by the time the caller looks at it). */
uint64_t journal_next_seq(struct journal *j);

/* ---- the in-flight table (docs/journal-format.md) ---- */

/*
 * A change is announced before it is made and withdrawn once its record
 * is appended or it failed; a writer killed in between leaves the
 * announcement to the next writer, which takes it (with the journal's
 * sequence number at the time: the record, if it was appended, has one at
 * least as high) and decides what the change did.  Opened after
 * journal_open() on the same journal, for @slots changes at once; closed
 * before journal_close().
 */
struct journal_inflight;
int journal_inflight_open(struct journal *j, unsigned slots, struct journal_inflight **ret);
/* A free slot is waited for when all are taken.  -E2BIG: the record does
 * not fit a slot (its change goes unannounced). */
int journal_announce(struct journal_inflight *t, const struct journal_record *rec, int *ret_slot);
void journal_withdraw(struct journal_inflight *t, int slot);
/* Each leftover of a dead writer to @fn, then freed; @fn returning -errno
 * stops and keeps the rest.  Returns how many were taken. */
typedef int (*journal_leftover_fn)(void *userdata, const struct journal_record *rec, uint64_t from_seq);
int journal_inflight_take(struct journal_inflight *t, journal_leftover_fn fn, void *userdata);
struct journal_inflight *journal_inflight_close(struct journal_inflight *t);

/* ---- reader ---- */

enum journal_problem_kind {
        JOURNAL_PROBLEM_CORRUPT = 1,    /* damaged bytes in the middle, skipped */
        JOURNAL_PROBLEM_TORN_TAIL,      /* bytes after the last valid record, no writer */
        JOURNAL_PROBLEM_BAD_SEGMENT,    /* unreadable segment or header, skipped */
        JOURNAL_PROBLEM_GAP,            /* sequence numbers missing */
        JOURNAL_PROBLEM_UNKNOWN_TYPE,   /* a valid record of a type this build does not know */
        JOURNAL_PROBLEM_FOREIGN,        /* a segment of another journal (id differs) */
};

struct journal_problem {
        enum journal_problem_kind kind;
        const char *segment;            /* file name within the journal directory */
        uint64_t offset;                /* byte offset in the (uncompressed) segment */
        uint64_t length;                /* bytes affected (0 when not applicable) */
        uint64_t seq_from, seq_to;      /* GAP: the missing range; otherwise 0 */
        int error;                      /* -errno for BAD_SEGMENT, else 0 */
        const char *detail;             /* short human text: "bad crc" */
};

struct journal_reader;

/*
 * Read the journal in @dirfd from the first record with seq >= @from_seq
 * (1: everything still present).  The reader keeps its own descriptor of the
 * directory.  @on_problem may be NULL.
 */
int journal_reader_open(int dirfd, uint64_t from_seq,
                        journal_problem_fn on_problem, void *userdata,
                        struct journal_reader **ret);

/*
 * Next record: 1 and *rec filled, 0 at the current end of the journal,
 * -errno on a fatal error (damaged bytes are reported and skipped, not
 * fatal).  After 0, call again later (or after journal_reader_wait()) to
 * see records appended since.
 */
int journal_reader_next(struct journal_reader *r, struct journal_record *rec);

/*
 * Block until the journal may have grown, or @timeout_ms passed (-1: no
 * limit).  Returns 1 (something changed), 0 (timeout), -errno.  Uses inotify:
 * no polling.  journal_reader_fd() gives the descriptor to poll() for
 * readability instead; call journal_reader_wait(r, 0) to drain it.
 */
int journal_reader_wait(struct journal_reader *r, int timeout_ms);
int journal_reader_fd(struct journal_reader *r);

struct journal_reader *journal_reader_free(struct journal_reader *r);

/* True when a process holds the writer lock of the journal in @dirfd. */
bool journal_writer_alive(int dirfd);

/* ---- segments (for tools) ---- */

struct journal_segment_info {
        char name[64];                  /* file name */
        uint64_t first_seq;             /* from the name */
        uint64_t file_bytes;            /* size of the file (compressed, for archives) */
        bool archived;
};

/* List the segments in @dirfd, sorted by first seq; *ret is malloc'ed. */
int journal_list_segments(int dirfd, struct journal_segment_info **ret, size_t *ret_count);

/* ---- cursors ---- */

/* 0 and *ret_seq, -ENOENT when none, -EINVAL for a bad name, -EBADMSG corrupt, -EXDEV other journal. */
int journal_cursor_load(int dirfd, const char *name, uint64_t *ret_seq);
int journal_cursor_store(int dirfd, const char *name, uint64_t seq);
int journal_cursor_remove(int dirfd, const char *name);
bool journal_cursor_name_valid(const char *name);

struct journal_cursor_info {
        char name[72];
        uint64_t seq;
        int error;                      /* 0, or why it could not be read */
};
int journal_list_cursors(int dirfd, struct journal_cursor_info **ret, size_t *ret_count);

/* ---- trimming ---- */

struct journal_trim_stats {
        unsigned deleted;               /* segments deleted */
        unsigned archived;              /* segments compressed into the archive */
        unsigned expired;               /* archives deleted for age */
        uint64_t bytes_freed;
};

/*
 * Delete the finished segments every cursor has passed, or archive them when
 * @retention_s > 0, and delete archives older than @retention_s.  Safe to
 * call from any process while the writer and readers run.
 */
int journal_trim(int dirfd, uint64_t retention_s, struct journal_trim_stats *ret);

/* ---- the applied log (docs/journal-format.md, "The applied log") ---- */

/*
 * A replicator's record of when changes reached the target: one entry per
 * job that stood for new contents or a new entry.  The latency report is
 * computed from it.  One writer per cursor name.
 */
struct journal_applied {
        uint64_t seq;                   /* the oldest record the job stood for */
        uint64_t record_ns;             /* that record's time */
        uint64_t applied_ns;            /* when the target had it (wall clock) */
        uint32_t flags;                 /* JOURNAL_APPLIED_* */
};

enum { JOURNAL_APPLIED_COPIED = 1 << 0 };

struct journal_applied_log;

int journal_applied_open(int dirfd, const char *cursor, struct journal_applied_log **ret);
/* Buffered; thread-safe. */
int journal_applied_add(struct journal_applied_log *l, const struct journal_applied *a);
/* Write what is buffered and fdatasync it. */
int journal_applied_flush(struct journal_applied_log *l);
struct journal_applied_log *journal_applied_close(struct journal_applied_log *l);
/* Every valid entry of @cursor's log (the old file first), to @fn; stops at a
 * negative return of @fn. */
int journal_applied_read(int dirfd, const char *cursor,
                         int (*fn)(void *userdata, const struct journal_applied *a), void *userdata);

/* ---- dead letters (docs/replicator.md) ---- */

/* A change a replicator set aside for good. */
struct journal_dead_letter {
        uint64_t time_ns;               /* when */
        uint64_t seq;                   /* the record */
        int error;                      /* -errno */
        const char *what;               /* the step that failed */
        const char *path, *path2;       /* path2 may be "" */
};

/* Append one to deadletters.CURSOR, durably. */
int journal_dead_letter_append(int dirfd, const char *cursor, const struct journal_dead_letter *d);
/* Each dead letter of @cursor to @fn (strings valid during the call). */
int journal_dead_letters_read(int dirfd, const char *cursor,
                              int (*fn)(void *userdata, const struct journal_dead_letter *d), void *userdata);
/* Like journal_dead_letters_read(), then set the file aside
 * (deadletters.CURSOR.retried): for a retry.  The count in *ret_count. */
int journal_dead_letters_take(int dirfd, const char *cursor,
                              int (*fn)(void *userdata, const struct journal_dead_letter *d), void *userdata,
                              uint64_t *ret_count);
