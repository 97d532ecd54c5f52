/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * status.c: what the mount daemon tells mirrorfsctl, and what it lets it
 * do: the figures of the journal, the file system and the replicator for
 * the control socket (control/), and the actions behind its control verbs.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fs.h"
#include "strutil.h"

static void status(void *userdata, struct ctl_status *st)
{
        struct fs *fs = userdata;
        struct journal_segment_info *segs;
        struct journal_stats js;
        size_t n;

        st->role = "mount";
        st->source = fs->paths.source;
        st->mountpoint = fs->paths.mountpoint;
        st->target = fs->paths.target;
        st->journal = fs->paths.journal;
        st->passthrough = fs->passthrough;
        st->io_uring = fs->io_uring;
        st->inodes = atomic_load(&fs->stats.inodes);
        journal_get_stats(fs->journal, &js);
        st->head_seq = js.next_seq - 1;
        st->synced_seq = js.synced_seq;
        st->commit_p99_us = js.commit_p99_us;
        st->journal_held = js.held;
        st->journal_error = js.held || js.lost ? js.last_error : 0;
        st->record_errors = atomic_load(&fs->stats.record_errors) + atomic_load(&fs->stats.unknown_paths);
        if (journal_list_segments(fs->journal_fd, &segs, &n) == 0) {
                st->journal_segments = n;
                for (size_t i = 0; i < n; i++)
                        st->journal_bytes += segs[i].file_bytes;
                free(segs);
        }
        if (fs->replicator) {
                struct replicator_stats rs;

                replicator_get_stats(fs->replicator, &rs);
                st->replicating = true;
                st->applied_seq = rs.applied_seq;
                st->oldest_pending_ns = rs.oldest_pending_ns;
                st->queued = rs.queued;
                st->queued_held = rs.held;
                st->queued_barriers = rs.barriers;
                st->queued_parked = rs.parked;
                st->read_seq = rs.read_seq;
                st->in_flight = rs.running;
                st->workers = rs.workers;
                st->files_copied = rs.files_copied;
                st->bytes_copied = rs.bytes_copied;
                st->renames = rs.renames;
                st->links = rs.links;
                st->retries = rs.retries;
                st->waiting_retry = rs.waiting_retry;
                st->dead_letters = rs.dead_letters_stored;
                st->events_lost = rs.events_lost;
                st->check_dirs = rs.check_dirs;
                st->check_repairs = rs.check_repairs;
                st->check_unrepaired = rs.check_unrepaired;
                st->check_skipped = rs.check_skipped;
                st->target_sync_ms = rs.target_sync_ms;
                st->last_error = rs.last_error;
                st->last_error_path = NULL;     /* rs is a copy on the stack: see below */
                st->paused = rs.paused;
                st->target_lost = rs.target_lost;
                snprintf(fs->last_error_path, sizeof(fs->last_error_path), "%s", rs.last_error_path);
                st->last_error_path = fs->last_error_path;
                st->stalled_ms = rs.stalled_ms;
                snprintf(fs->oldest_path, sizeof(fs->oldest_path), "%s", rs.oldest_path);
                st->oldest_path = rs.oldest_state ? fs->oldest_path : NULL;
                st->oldest_state = rs.oldest_state;
                st->oldest_runs = rs.oldest_runs;
        }
}

static int sync_op(void *userdata, int timeout_ms, uint64_t *ret_seq)
{
        struct fs *fs = userdata;
        struct journal_stats js;
        struct replicator_stats rs;
        int r;

        if (!fs->replicator)
                return -ENOTSUP;
        /* Everything journaled before this call: the journal's head now. */
        journal_get_stats(fs->journal, &js);
        r = replicator_sync(fs->replicator, js.next_seq - 1, timeout_ms);
        replicator_get_stats(fs->replicator, &rs);
        *ret_seq = rs.applied_seq;
        return r;
}

static int pause_op(void *userdata, bool pause)
{
        struct fs *fs = userdata;

        if (!fs->replicator)
                return -ENOTSUP;
        if (pause)
                replicator_pause(fs->replicator);
        else
                replicator_resume(fs->replicator);
        return 0;
}

static int workers_op(void *userdata, unsigned n)
{
        struct fs *fs = userdata;

        return fs->replicator ? replicator_set_workers(fs->replicator, n) : -ENOTSUP;
}

static int retry_op(void *userdata, uint64_t *ret_count)
{
        struct fs *fs = userdata;

        return fs->replicator ? replicator_retry(fs->replicator, ret_count) : -ENOTSUP;
}

static const struct ctl_ops ops = {
        .status = status,
        .sync = sync_op,
        .pause = pause_op,
        .workers = workers_op,
        .retry = retry_op,
};

/* "wheel" or "10" -> gid */
static int group_id(const char *name, gid_t *ret)
{
        struct group gr, *res = NULL;
        char buf[4096];
        uint64_t v;

        if (parse_u64_range(name, 0, UINT32_MAX - 1, &v) == 0) {
                *ret = (gid_t)v;
                return 0;
        }
        if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
                return -ENOENT;
        *ret = res->gr_gid;
        return 0;
}

int fs_status_start(struct fs *fs, char *err, size_t errlen)
{
        struct ctl_server_options o = {
                .group = (gid_t)-1,
                .journal_fd = fs->journal_fd,
                .cursor = "replicator",
                .ops = &ops,
                .userdata = fs,
        };
        int r;

        if (fs->opt.socket)
                snprintf(fs->socket_path, sizeof(fs->socket_path), "%s", fs->opt.socket);
        else if (ctl_default_path(fs->paths.mountpoint, fs->socket_path, sizeof(fs->socket_path)) < 0) {
                snprintf(err, errlen, "the default socket path for '%s' is too long: give -o socket=PATH",
                         fs->opt.mountpoint);
                return -ENAMETOOLONG;
        }
        if (fs->opt.socket_group && group_id(fs->opt.socket_group, &o.group) < 0) {
                snprintf(err, errlen, "no such group '%s' (socket_group=)", fs->opt.socket_group);
                return -ENOENT;
        }
        o.path = fs->socket_path;
        r = ctl_server_start(&o, &fs->ctl);
        if (r < 0)
                snprintf(err, errlen, "cannot listen on '%s': %s%s", fs->socket_path, strerror(-r),
                         r == -EADDRINUSE ? " (another daemon answers there)" : "");
        return r;
}

void fs_status_stop(struct fs *fs)
{
        fs->ctl = ctl_server_stop(fs->ctl);
}
