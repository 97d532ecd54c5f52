/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * render.c: the status figures as JSON and as Prometheus text, the dead
 * letters as JSON (docs/control-protocol.md).  Pure formatting.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "journal.h"
#include "strutil.h"

const char *ctl_errno_name(int err)
{
        const char *n = err ? strerrorname_np(err < 0 ? -err : err) : NULL;

        return n ? n : "";
}

const char *ctl_state(const struct ctl_status *st)
{
        if (st->events_lost)
                return "events-lost";
        if (st->journal_held)
                return "degraded";      /* the journal cannot be written */
        if (!st->replicating)
                return "journal-only";
        if (st->paused)
                return "paused";
        if (st->target_lost || st->waiting_retry || st->journal_held || st->target_sync_ms >= CTL_SLOW_SYNC_MS ||
            st->check_unrepaired)
                return "degraded";
        return "mirroring";
}

static void jstr(FILE *f, const char *key, const char *v)
{
        if (!v)
                return;
        fprintf(f, ",\"%s\":", key);
        print_json_string(f, v, strlen(v));
}

static void ju(FILE *f, const char *key, uint64_t v)
{
        fprintf(f, ",\"%s\":%" PRIu64, key, v);
}

static void jd(FILE *f, const char *key, double v)
{
        fprintf(f, ",\"%s\":%.3f", key, v);
}

static void jb(FILE *f, const char *key, bool v)
{
        fprintf(f, ",\"%s\":%s", key, v ? "true" : "false");
}

static double lag_seconds(const struct ctl_status *st)
{
        struct timespec now;

        if (!st->oldest_pending_ns)
                return 0;
        clock_gettime(CLOCK_REALTIME, &now);
        return (double)now.tv_sec + (double)now.tv_nsec / 1e9 - (double)st->oldest_pending_ns / 1e9;
}

void ctl_render_status_json(FILE *f, const struct ctl_status *st)
{
        fprintf(f, "{\"state\":\"%s\"", ctl_state(st));
        jstr(f, "role", st->role);
        jstr(f, "source", st->source);
        jstr(f, "mountpoint", st->mountpoint);
        jstr(f, "target", st->target);
        jstr(f, "journal_dir", st->journal);
        ju(f, "uptime_s", st->uptime_s);
        fprintf(f, ",\"journal\":{\"head_seq\":%" PRIu64 ",\"synced_seq\":%" PRIu64 ",\"bytes\":%" PRIu64
                   ",\"segments\":%" PRIu64 ",\"record_errors\":%" PRIu64 ",\"commit_p99_us\":%" PRIu64
                   ",\"held\":%" PRIu64 ",\"error\":\"%s\"}",
                st->head_seq, st->synced_seq, st->journal_bytes, st->journal_segments, st->record_errors,
                st->commit_p99_us, st->journal_held, ctl_errno_name(st->journal_error));
        if (!strcmp(st->role ? st->role : "", "mount")) {
                ju(f, "inodes", st->inodes);
                jb(f, "passthrough", st->passthrough);
                jb(f, "io_uring", st->io_uring);
        }
        if (st->replicating) {
                ju(f, "applied_seq", st->applied_seq);
                ju(f, "lag_records", st->head_seq > st->applied_seq ? st->head_seq - st->applied_seq : 0);
                jd(f, "lag_seconds", lag_seconds(st));
                ju(f, "queued", st->queued);
                ju(f, "queued_held", st->queued_held);
                ju(f, "queued_barriers", st->queued_barriers);
                ju(f, "queued_parked", st->queued_parked);
                ju(f, "read_seq", st->read_seq);
                ju(f, "in_flight", st->in_flight);
                ju(f, "workers", st->workers);
                ju(f, "files_copied", st->files_copied);
                ju(f, "bytes_copied", st->bytes_copied);
                jd(f, "files_per_s_10s", st->files_per_s_10s);
                jd(f, "mb_per_s_10s", st->mb_per_s_10s);
                jd(f, "files_per_s_5m", st->files_per_s_5m);
                jd(f, "mb_per_s_5m", st->mb_per_s_5m);
                ju(f, "renames", st->renames);
                ju(f, "links", st->links);
                ju(f, "retries", st->retries);
                ju(f, "waiting_retry", st->waiting_retry);
                ju(f, "dead_letters", st->dead_letters);
                ju(f, "events_lost", st->events_lost);
                ju(f, "check_dirs", st->check_dirs);
                ju(f, "check_repairs", st->check_repairs);
                ju(f, "check_unrepaired", st->check_unrepaired);
                ju(f, "check_skipped", st->check_skipped);
                jd(f, "target_sync_s", (double)st->target_sync_ms / 1000);
                jd(f, "stalled_s", (double)st->stalled_ms / 1000);
                jstr(f, "oldest_path", st->oldest_path ? st->oldest_path : "");
                jstr(f, "oldest_state", st->oldest_state ? st->oldest_state : "");
                ju(f, "oldest_runs", st->oldest_runs);
                fprintf(f, ",\"last_error\":\"%s\"", ctl_errno_name(st->last_error));
                jstr(f, "last_error_path", st->last_error_path ? st->last_error_path : "");
                jb(f, "target_lost", st->target_lost);
                jb(f, "paused", st->paused);
        }
        fputs("}\n", f);
}

static void metric(FILE *f, const char *name, const char *type, const char *help, double v)
{
        fprintf(f, "# HELP mirrorfs_%s %s\n# TYPE mirrorfs_%s %s\nmirrorfs_%s %.17g\n", name, help, name, type, name, v);
}

void ctl_render_metrics(FILE *f, const struct ctl_status *st)
{
        metric(f, "up", "gauge", "1 while the daemon answers.", 1);
        metric(f, "uptime_seconds", "gauge", "Seconds since the daemon started.", (double)st->uptime_s);
        metric(f, "journal_head_seq", "gauge", "Sequence number of the last journal record.", (double)st->head_seq);
        metric(f, "journal_synced_seq", "gauge", "Last journal record made durable.", (double)st->synced_seq);
        metric(f, "journal_bytes", "gauge", "Bytes of journal segments on disk.", (double)st->journal_bytes);
        metric(f, "journal_segments", "gauge", "Journal segments on disk.", (double)st->journal_segments);
        metric(f, "journal_record_errors_total", "counter", "Changes the mount could not journal.",
               (double)st->record_errors);
        metric(f, "journal_held_records", "gauge",
               "Records held in memory because the journal's file system refuses writes.", (double)st->journal_held);
        metric(f, "journal_commit_p99_seconds", "gauge", "Append-to-durable latency of journal records, p99.",
               (double)st->commit_p99_us / 1e6);
        metric(f, "events_lost_total", "counter", "Events-lost records and gaps seen (an audit is needed).",
               (double)st->events_lost);
        if (!st->replicating)
                return;
        metric(f, "applied_seq", "gauge", "Every record up to here is durable on the target.", (double)st->applied_seq);
        metric(f, "lag_records", "gauge", "Records journaled but not yet applied.",
               (double)(st->head_seq > st->applied_seq ? st->head_seq - st->applied_seq : 0));
        metric(f, "lag_seconds", "gauge", "Age of the oldest record not yet applied.", lag_seconds(st));
        metric(f, "queued", "gauge", "Paths waiting to be replicated.", (double)st->queued);
        metric(f, "in_flight", "gauge", "Replication jobs running.", (double)st->in_flight);
        metric(f, "workers", "gauge", "Replicator worker threads.", (double)st->workers);
        metric(f, "files_copied_total", "counter", "Files copied to the target.", (double)st->files_copied);
        metric(f, "bytes_copied_total", "counter", "Bytes copied to the target.", (double)st->bytes_copied);
        metric(f, "renames_total", "counter", "Renames applied as renames on the target.", (double)st->renames);
        metric(f, "links_total", "counter", "Hard links applied as links on the target.", (double)st->links);
        metric(f, "retries_total", "counter", "Failed attempts, retried.", (double)st->retries);
        metric(f, "waiting_retry", "gauge", "Paths waiting for their next attempt.", (double)st->waiting_retry);
        metric(f, "dead_letters", "gauge", "Changes set aside for good.", (double)st->dead_letters);
        metric(f, "check_dirs_total", "counter", "Touched directories compared with the source after their records were applied.",
               (double)st->check_dirs);
        metric(f, "check_repairs_total", "counter", "Entries the check found different and repaired (a bug: report it).",
               (double)st->check_repairs);
        metric(f, "check_unrepaired_total", "counter", "Entries still different after repeated repairs, left.",
               (double)st->check_unrepaired);
        metric(f, "check_skipped_total", "counter", "Touched directories not checked (too many at once).",
               (double)st->check_skipped);
        metric(f, "paused", "gauge", "1 while replication is paused.", st->paused);
        metric(f, "target_lost", "gauge", "1 while the target is unmounted or replaced.", st->target_lost);
        metric(f, "target_sync_seconds", "gauge",
               "How long the running sync of the target has taken so far (0: none running).",
               (double)st->target_sync_ms / 1000);
}

struct dl_ctx {
        FILE *f;
        bool first;
};

static int dl_one(void *userdata, const struct journal_dead_letter *d)
{
        struct dl_ctx *c = userdata;

        fprintf(c->f, "%s{\"time_ns\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"errno\":\"%s\",\"what\":", c->first ? "" : ",",
                d->time_ns, d->seq, ctl_errno_name(d->error));
        print_json_string(c->f, d->what, strlen(d->what));
        fputs(",\"path\":", c->f);
        print_json_string(c->f, d->path, strlen(d->path));
        fputs(",\"path2\":", c->f);
        print_json_string(c->f, d->path2, strlen(d->path2));
        fputc('}', c->f);
        c->first = false;
        return 0;
}

int ctl_render_dead_letters(FILE *f, int dirfd, const char *cursor)
{
        struct dl_ctx c = { f, true };
        int r;

        fputs("{\"dead_letters\":[", f);
        r = journal_dead_letters_read(dirfd, cursor, dl_one, &c);
        fputs("]}\n", f);
        return r;
}
