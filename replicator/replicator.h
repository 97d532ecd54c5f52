/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * replicator.h: make a target tree equal to a source tree by following the
 * journal of changes made to the source (docs/replicator.md).
 *
 * A record means "these paths may have changed: make the target match the
 * source as it is now".  The replicator reads records from its cursor,
 * coalesces them per path, applies renames and links as renames and links
 * on the target (no data copied again), copies contents to a temporary
 * file set up completely before it is renamed into place, and advances its
 * cursor only past records whose effects are durable on the target.
 *
 * Calling sequence: replicator_start() -> [replicator_sync() ...,
 * replicator_pause()/resume(), replicator_get_stats()] -> replicator_stop().
 * All calls are thread-safe.  The replicator runs its own threads: a
 * reader (reads the journal and plans), N workers (copy, with io_uring or
 * plain system calls), a syncer (makes the target durable, stores the
 * cursor, trims the journal).
 *
 * Safety: nothing is written outside the target root: journal paths are
 * validated and every target path is resolved beneath the root without
 * following symlinks.  Errors are returned as -errno; nothing is logged,
 * events go to the on_event callback.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum replicator_backend {
        REPLICATOR_URING = 0,   /* io_uring data copies, falls back to plain when unavailable */
        REPLICATOR_PLAIN,       /* pread/pwrite, copy_file_range */
};

enum replicator_event_kind {
        REPLICATOR_EVENT_RETRY = 1,     /* a change failed and will be retried */
        REPLICATOR_EVENT_DEAD_LETTER,   /* a change failed for good: set aside, see dead letters */
        REPLICATOR_EVENT_EVENTS_LOST,   /* the journal lost changes: the mirror needs an audit */
        REPLICATOR_EVENT_ERROR,         /* journal or cursor trouble */
        REPLICATOR_EVENT_STALLED,       /* work pending and the applied seq unmoved for a minute:
                                         * @path is the oldest work, @what its state */
        REPLICATOR_EVENT_CHECK,         /* the check found @path other than the source's after its
                                         * records were applied (@what: how): repaired (error 0),
                                         * or left after repeated repairs (-EIO).  A bug: report it */
};

struct replicator_event {
        enum replicator_event_kind kind;
        const char *path;               /* the path concerned, or "" */
        int error;                      /* -errno */
        const char *what;               /* "copy", "rename", ... */
        uint64_t seq;
};

typedef void (*replicator_event_fn)(void *userdata, const struct replicator_event *ev);

/* "retry", "dead letter", "events lost", "error", "stalled", "check"; "" when unknown. */
const char *replicator_event_name(enum replicator_event_kind kind);

struct replicator_options {
        int source_fd;                  /* source root directory (read only) */
        int target_fd;                  /* target root directory */
        const char *target_path;        /* its path, to notice it being unmounted (NULL: do not check) */
        int journal_fd;                 /* journal directory */
        const char *cursor;             /* cursor name; NULL: "replicator" */
        unsigned workers;               /* worker threads; 0: 2 */
        enum replicator_backend backend;
        uint32_t settle_ms;             /* wait this long after a change before copying; 0: 20 */
        uint32_t max_hold_ms;           /* ...but never longer than this; 0: 1000 */
        uint32_t open_hold_ms;          /* a file open for writing is copied at its close,
                                         * or after this long; 0: 30000 */
        uint32_t durable_ms;            /* sync the target and store the cursor this often; 0: 500 */
        uint64_t retention_s;           /* journal archive retention for trimming (0: delete) */
        bool once;                      /* stop at the end of the journal as it was at start */
        bool no_check;                  /* do not check the directories the records touched */
        /* True while changes were made that the journal does not hold yet
         * (its writer holds records it could not write: a full disk): the
         * check waits, as what it would find is theirs.  NULL: never. */
        bool (*journal_behind)(void *userdata);
        replicator_event_fn on_event;
        void *userdata;
};

struct replicator_stats {
        uint64_t read_seq;              /* last record read from the journal */
        uint64_t applied_seq;           /* the cursor: every record up to here is durable on the target */
        uint64_t head_seq;              /* last record in the journal (as last seen) */
        uint64_t oldest_pending_ns;     /* time of the oldest record not yet applied (0: none) */
        uint64_t queued, running;       /* paths waiting / being worked on */
        uint64_t held, barriers, parked;        /* of the queued: files open for writing, renames and links
                                                 * in line, jobs whose source moved (waiting for the
                                                 * journal to say where) */
        uint64_t files_copied, bytes_copied;
        uint64_t renames, links, removals, attr_updates;
        uint64_t coalesced;             /* records merged into pending work */
        uint64_t retries;               /* attempts that failed and were rescheduled */
        uint64_t waiting_retry;         /* paths now waiting for a retry */
        uint64_t dead_letters;          /* set aside for good by this run (see dead letters) */
        uint64_t dead_letters_stored;   /* in the dead letters file, earlier runs' too */
        uint64_t events_lost;           /* events-lost records and gaps seen */
        uint64_t check_dirs;            /* directories the check compared */
        uint64_t check_repairs;         /* entries it found different, and repaired */
        uint64_t check_unrepaired;      /* entries still different after repeated repairs: left */
        uint64_t check_skipped;         /* touched directories not checked (too many at once) */
        uint64_t target_sync_ms;        /* how long the running sync of the target (and cursor) has
                                         * taken so far; 0: none running */
        uint64_t stalled_ms;            /* work pending and the applied seq unmoved this long (0: it
                                         * moves, or nothing is pending) */
        char oldest_path[256];          /* the work holding the applied seq back ("": none) */
        const char *oldest_state;       /* its state: "queued", "running", "parked"...; NULL: none */
        unsigned oldest_runs;           /* how often it was handed to a worker */
        int last_error;                 /* -errno of the last failure, 0 if none */
        char last_error_path[256];
        bool paused;
        bool target_lost;               /* the target path no longer leads to the target: waiting */
        bool done;                      /* once: finished */
        unsigned workers;
        enum replicator_backend backend;        /* in use */
};

struct replicator;

/* Start from the cursor (the start of the journal when there is none). */
int replicator_start(const struct replicator_options *opt, struct replicator **ret);

/*
 * Wait until every record up to @seq (0: the journal's head now) is applied
 * and durable on the target, and the directories those records touched are
 * checked (unless no_check).  -ETIMEDOUT after @timeout_ms (-1: no limit),
 * -EIO if a record up to @seq went to the dead letters.
 */
int replicator_sync(struct replicator *r, uint64_t seq, int timeout_ms);

/* once mode: wait for the end; 0 when everything was applied. */
int replicator_wait(struct replicator *r, int timeout_ms);

void replicator_pause(struct replicator *r);
void replicator_resume(struct replicator *r);
int replicator_set_workers(struct replicator *r, unsigned workers);
void replicator_get_stats(struct replicator *r, struct replicator_stats *ret);
/* Put the dead letters back in the queue; *ret_count: how many. */
int replicator_retry(struct replicator *r, uint64_t *ret_count);

/* Begin stopping: every thread winds down and replicator_sync() calls
 * waiting now or later return -ESHUTDOWN at once; the replicator can still
 * be asked for its stats until replicator_stop().  NULL-safe, idempotent. */
void replicator_shutdown(struct replicator *r);

/* Stop, after finishing what is journaled for at most @drain_ms (0: at
 * once).  What is not applied stays in the journal.  NULL-safe. */
struct replicator *replicator_stop(struct replicator *r, int drain_ms);

/* ---- path rules (also for tests and tools) ---- */

/* 0 when @path is a valid journal path: relative, no "." or ".." or empty
 * components, no NUL, within PATH_MAX and NAME_MAX.  "" is the root. */
int replicator_path_valid(const char *path, size_t len);
