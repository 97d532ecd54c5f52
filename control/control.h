/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control.h: the status and control socket (docs/control-protocol.md):
 * the server the daemons run, the request parser, the renderings of the
 * status (JSON, Prometheus text), and the latency report that both the
 * server and mirrorfs-journal compute from the journal directory.
 *
 * The server runs one thread; a verb that waits (sync) gets a thread of its
 * own, so no client can block another.  The daemon supplies the figures
 * and the actions through struct ctl_ops; nothing here knows of FUSE or of
 * the replicator's insides.  Functions return 0 or -errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CTL_PROTOCOL 1
#define CTL_REQUEST_MAX 1024            /* bytes, with the final newline */
#define CTL_ARGS_MAX 4
#define CTL_SLOW_SYNC_MS 30000          /* a sync of the target this long: its disk is stalled */

enum ctl_verb {
        CTL_VERSION, CTL_STATUS, CTL_METRICS, CTL_DEAD_LETTERS, CTL_REPORT,
        CTL_SYNC, CTL_PAUSE, CTL_RESUME, CTL_WORKERS, CTL_RETRY,
};

struct ctl_request {
        enum ctl_verb verb;
        bool control;                   /* needs root or the socket's group */
        uint64_t num;                   /* sync: timeout ms (0: none); workers: N; report: since s */
        bool by_hour;                   /* report */
};

/*
 * Parse one request line (without its newline; @len bytes, which need not
 * be NUL-terminated).  0 and *ret, -EINVAL malformed, -ENOSYS unknown verb.
 */
int ctl_parse_request(const char *buf, size_t len, struct ctl_request *ret);

/* Everything status, metrics and the report need; 0/NULL where unknown. */
struct ctl_status {
        const char *role;               /* "mount", "replicator" */
        const char *source, *mountpoint, *target, *journal;
        uint64_t uptime_s;
        bool replicating;               /* false: journal only */
        bool paused, target_lost, passthrough, io_uring;
        uint64_t head_seq, synced_seq, journal_bytes, journal_segments, record_errors, commit_p99_us;
        uint64_t journal_held;          /* records held in memory: the journal's file system refuses writes */
        int journal_error;              /* the journal's last write or sync error (-errno), 0 */
        uint64_t applied_seq, read_seq, oldest_pending_ns, queued, in_flight, workers;
        uint64_t queued_held, queued_barriers, queued_parked;   /* of the queued (struct replicator_stats) */
        uint64_t files_copied, bytes_copied, renames, links, retries, waiting_retry, dead_letters, events_lost;
        uint64_t check_dirs, check_repairs, check_unrepaired, check_skipped;    /* the check of touched
                                                                                 * directories (replicator.h) */
        uint64_t target_sync_ms;        /* the running sync of the target so far (0: none);
                                         * from CTL_SLOW_SYNC_MS on, the state is "degraded" */
        uint64_t stalled_ms;            /* work pending, the applied seq unmoved this long */
        const char *oldest_path, *oldest_state; /* the work holding it back; NULL: none */
        uint64_t oldest_runs;
        int last_error;
        const char *last_error_path;
        uint64_t inodes;                /* mount: inodes held */
        /* filled by the server from its samples */
        double files_per_s_10s, mb_per_s_10s, files_per_s_5m, mb_per_s_5m;
};

struct ctl_ops {
        /* Fill *st (the server adds the rates). */
        void (*status)(void *userdata, struct ctl_status *st);
        /* Wait until every record journaled before the call is applied and
         * durable; *ret_seq: the applied seq.  -ETIMEDOUT, -EIO, -ENOTSUP. */
        int (*sync)(void *userdata, int timeout_ms, uint64_t *ret_seq);
        int (*pause)(void *userdata, bool pause);               /* -ENOTSUP */
        int (*workers)(void *userdata, unsigned n);             /* -EINVAL, -ENOTSUP */
        int (*retry)(void *userdata, uint64_t *ret_count);      /* -ENOTSUP */
};

struct ctl_server_options {
        const char *path;               /* the socket */
        gid_t group;                    /* may use control verbs; (gid_t)-1: root only */
        int journal_fd;                 /* for dead letters and the report */
        const char *cursor;             /* the replicator's cursor name */
        const struct ctl_ops *ops;
        void *userdata;
};

struct ctl_server;

int ctl_server_start(const struct ctl_server_options *opt, struct ctl_server **ret);
struct ctl_server *ctl_server_stop(struct ctl_server *s);      /* NULL-safe */

/* The default socket path for a mount point or target: /run/mirrorfs/NAME.sock */
int ctl_default_path(const char *dir, char *buf, size_t size);

/* ---- renderings (also used by mirrorfsctl and the tests) ---- */

/* The status object as one line of JSON. */
void ctl_render_status_json(FILE *f, const struct ctl_status *st);
/* The figures as Prometheus text exposition format 0.0.4. */
void ctl_render_metrics(FILE *f, const struct ctl_status *st);
/* "mirroring", "paused", ... */
const char *ctl_state(const struct ctl_status *st);

/* ---- the applied log and the latency report ---- */

struct ctl_report_row {
        uint64_t hour_ns;               /* start of the hour (by_hour rows), 0 for the total */
        uint64_t count, over_300s, over_600s;
        double mean_s, median_s, p99_s, max_s;
};

/*
 * The latency report over the applied log of @cursor in the journal
 * directory @dirfd, for files applied since @since_ns (wall clock).  *rows:
 * the total first, then one row per hour when @by_hour.  Malloc'ed.
 */
int ctl_report(int dirfd, const char *cursor, uint64_t since_ns, bool by_hour,
               struct ctl_report_row **rows, size_t *nrows);
void ctl_render_report_json(FILE *f, uint64_t since_ns, const struct ctl_report_row *rows, size_t n);

/* The dead letters of @cursor as JSON: {"dead_letters":[...]} */
int ctl_render_dead_letters(FILE *f, int dirfd, const char *cursor);

/* "ENOSPC" for -ENOSPC; "E123" when unknown. */
const char *ctl_errno_name(int err);
