/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirrorfs-replicator: the replicator on its own, for a data-mover process
 * or another node that mounts both trees.  Follows the journal as it grows
 * (until SIGINT/SIGTERM, then finishes what is journaled within
 * --drain-timeout), or with --once drains to the journal's current end and
 * exits: 0 when everything was applied, 1 with the reason otherwise.
 *
 * Only one replicator may run per cursor; the journal's writer may be
 * running (the mount) or not.  Under systemd (Type=notify) it reports
 * READY=1 once it follows the journal, and STOPPING=1 with the drain bound.
 * Messages go to stderr, with journald's level prefixes under systemd.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "control.h"
#include "journal.h"
#include "log.h"
#include "replicator.h"
#include "strutil.h"

#define PROG "mirrorfs-replicator"

static void usage(FILE *f)
{
        fprintf(f, "usage: " PROG " --journal DIR --source DIR --target DIR [OPTIONS]\n"
                   "\n"
                   "  --journal DIR        the journal directory (written by mirrorfs)\n"
                   "  --source DIR         the source tree (read)\n"
                   "  --target DIR         the mirror (written beneath it only)\n"
                   "  --once               drain to the journal's current end, then exit\n"
                   "  --workers N          copy threads, 1..64 (default 2)\n"
                   "  --cursor NAME        cursor name (default replicator)\n"
                   "  --backend uring|plain  how contents are copied (default uring)\n"
                   "  --drain-timeout DURATION  on SIGTERM, finish journaled work for this long (default 60s)\n"
                   "  --retention DURATION keep trimmed journal segments compressed this long (default: delete)\n"
                   "  --socket PATH        status and control socket (mirrorfsctl)\n"
                   "  --sync-interval MS   sync the target and store the cursor this often (default 500)\n"
                   "  --settle MS          wait this long after a file's last change before copying (default 20)\n"
                   "  --no-check           do not compare the directories changes touched with the source\n"
                   "                       once the changes are applied (see mirrorfs-replicator(8))\n"
                   "  --log-level LEVEL    err, warning, notice, info or debug (default info)\n"
                   "  -q, --quiet          no messages but errors (--log-level err), no --once summary\n"
                   "  -h, --help, --version\n");
}

static void on_event(void *userdata, const struct replicator_event *ev)
{

        (void)userdata;
        log_msg(ev->kind == REPLICATOR_EVENT_RETRY || ev->kind == REPLICATOR_EVENT_STALLED ? LOG_WARNING : LOG_ERR, "%s: %s '%s'%s%s (seq %llu)",
                replicator_event_name(ev->kind), ev->what, ev->path, ev->error ? ": " : "", ev->error ? strerror(-ev->error) : "",
                (unsigned long long)ev->seq);
}

struct daemon {
        struct replicator *r;
        int journal_fd;
        const char *source, *target, *journal;
        char last_error_path[256];
        char oldest_path[256];
};

static void status(void *userdata, struct ctl_status *st)
{
        struct daemon *d = userdata;
        struct journal_segment_info *segs;
        struct replicator_stats rs;
        size_t n;

        replicator_get_stats(d->r, &rs);
        st->role = "replicator";
        st->source = d->source;
        st->target = d->target;
        st->journal = d->journal;
        st->replicating = true;
        st->head_seq = rs.head_seq;
        st->synced_seq = rs.head_seq;   /* as far as a reader can tell */
        if (journal_list_segments(d->journal_fd, &segs, &n) == 0) {
                st->journal_segments = n;
                for (size_t i = 0; i < n; i++)
                        st->journal_bytes += segs[i].file_bytes;
                free(segs);
        }
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
        st->paused = rs.paused;
        st->target_lost = rs.target_lost;
        snprintf(d->last_error_path, sizeof(d->last_error_path), "%s", rs.last_error_path);
        st->last_error_path = d->last_error_path;
        st->stalled_ms = rs.stalled_ms;
        snprintf(d->oldest_path, sizeof(d->oldest_path), "%s", rs.oldest_path);
        st->oldest_path = rs.oldest_state ? d->oldest_path : NULL;
        st->oldest_state = rs.oldest_state;
        st->oldest_runs = rs.oldest_runs;
}

static int sync_op(void *userdata, int timeout_ms, uint64_t *ret_seq)
{
        struct daemon *d = userdata;
        struct replicator_stats rs;
        int r = replicator_sync(d->r, 0, timeout_ms);

        replicator_get_stats(d->r, &rs);
        *ret_seq = rs.applied_seq;
        return r;
}

static int pause_op(void *userdata, bool pause)
{
        struct daemon *d = userdata;

        if (pause)
                replicator_pause(d->r);
        else
                replicator_resume(d->r);
        return 0;
}

static int workers_op(void *userdata, unsigned n)
{
        return replicator_set_workers(((struct daemon *)userdata)->r, n);
}

static int retry_op(void *userdata, uint64_t *ret_count)
{
        return replicator_retry(((struct daemon *)userdata)->r, ret_count);
}

static const struct ctl_ops ctl_ops = {
        .status = status, .sync = sync_op, .pause = pause_op, .workers = workers_op, .retry = retry_op,
};

static int open_dir(const char *what, const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                fprintf(stderr, PROG ": cannot open %s '%s': %s\n", what, path, strerror(errno));
        return fd;
}

enum { OPT_JOURNAL = 256, OPT_SOURCE, OPT_TARGET, OPT_ONCE, OPT_WORKERS, OPT_CURSOR, OPT_BACKEND, OPT_DRAIN,
       OPT_RETENTION, OPT_SOCKET, OPT_VERSION, OPT_SYNC_INTERVAL, OPT_SETTLE, OPT_LOG_LEVEL,
       OPT_NO_CHECK };

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "source", required_argument, NULL, OPT_SOURCE },
                { "target", required_argument, NULL, OPT_TARGET },
                { "once", no_argument, NULL, OPT_ONCE },
                { "workers", required_argument, NULL, OPT_WORKERS },
                { "cursor", required_argument, NULL, OPT_CURSOR },
                { "backend", required_argument, NULL, OPT_BACKEND },
                { "drain-timeout", required_argument, NULL, OPT_DRAIN },
                { "retention", required_argument, NULL, OPT_RETENTION },
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "sync-interval", required_argument, NULL, OPT_SYNC_INTERVAL },
                { "settle", required_argument, NULL, OPT_SETTLE },
                { "no-check", no_argument, NULL, OPT_NO_CHECK },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        struct replicator_options o = { .source_fd = -1, .target_fd = -1, .journal_fd = -1 };
        const char *journal = NULL, *source = NULL, *target = NULL, *socket_path = NULL;
        struct ctl_server *ctl = NULL;
        struct daemon d = { 0 };
        char rs[PATH_MAX], rt[PATH_MAX], rj[PATH_MAX];
        uint64_t n, drain = 60;
        int level = LOG_INFO;
        struct replicator *r = NULL;
        struct replicator_stats st;
        bool quiet = false;
        sigset_t sigs;
        int c, e, sig, ret = 1;

        while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_SOURCE: source = optarg; break;
                case OPT_TARGET: target = optarg; break;
                case OPT_ONCE: o.once = true; break;
                case OPT_NO_CHECK: o.no_check = true; break;
                case OPT_WORKERS:
                        if (parse_u64_range(optarg, 1, 64, &n) < 0) {
                                fprintf(stderr, PROG ": --workers: '%s' is not 1..64\n", optarg);
                                return 2;
                        }
                        o.workers = (unsigned)n;
                        break;
                case OPT_CURSOR:
                        if (!journal_cursor_name_valid(optarg)) {
                                fprintf(stderr, PROG ": --cursor: '%s' is not 1 to 64 of A-Z a-z 0-9 . _ - "
                                        "(not starting with '.', not ending in '.tmp')\n", optarg);
                                return 2;
                        }
                        o.cursor = optarg;
                        break;
                case OPT_BACKEND:
                        if (!strcmp(optarg, "uring"))
                                o.backend = REPLICATOR_URING;
                        else if (!strcmp(optarg, "plain"))
                                o.backend = REPLICATOR_PLAIN;
                        else {
                                fprintf(stderr, PROG ": --backend: '%s' is not uring or plain\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_DRAIN:
                        if (parse_duration_s(optarg, &drain) < 0 || drain > 86400) {
                                fprintf(stderr, PROG ": --drain-timeout: '%s' is not a duration\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_RETENTION:
                        if (parse_duration_s(optarg, &o.retention_s) < 0) {
                                fprintf(stderr, PROG ": --retention: '%s' is not a duration\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_SOCKET:
                        socket_path = optarg;
                        break;
                case OPT_SYNC_INTERVAL:
                        if (parse_u64_range(optarg, 1, 3600000, &n) < 0) {
                                fprintf(stderr, PROG ": --sync-interval: '%s' is not 1..3600000 ms\n", optarg);
                                return 2;
                        }
                        o.durable_ms = (uint32_t)n;
                        break;
                case OPT_SETTLE:
                        if (parse_u64_range(optarg, 1, 1000, &n) < 0) {
                                fprintf(stderr, PROG ": --settle: '%s' is not 1..1000 ms\n", optarg);
                                return 2;
                        }
                        o.settle_ms = (uint32_t)n;
                        break;
                case OPT_LOG_LEVEL:
                        if ((level = log_level_parse(optarg)) < 0) {
                                fprintf(stderr, PROG ": --log-level: '%s' is not err, warning, notice, info or debug\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'q':
                        quiet = true;
                        level = LOG_ERR;
                        break;
                case 'h': usage(stdout); return 0;
                case OPT_VERSION: printf(PROG " %s\n", MIRRORFS_VERSION); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc || !journal || !source || !target) {
                usage(stderr);
                return 2;
        }
        o.journal_fd = open_dir("journal", journal);
        o.source_fd = open_dir("source", source);
        o.target_fd = open_dir("target", target);
        if (o.journal_fd < 0 || o.source_fd < 0 || o.target_fd < 0)
                goto out;
        o.target_path = target;
        /* Modes come from the source as they are. */
        umask(0);
        {
                /* copies in flight and the directory cache are descriptors */
                struct rlimit rl;

                if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                        rl.rlim_cur = rl.rlim_max;
                        (void)setrlimit(RLIMIT_NOFILE, &rl);
                }
        }
        o.on_event = on_event;
        o.userdata = NULL;
        log_setup(PROG, LOG_TARGET_STDERR, level);
        /* Signals are taken by sigwait() below, not by handlers. */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        e = replicator_start(&o, &r);
        if (e == -EBUSY) {
                fprintf(stderr, PROG ": another replicator uses cursor '%s' of '%s'\n",
                        o.cursor ? o.cursor : "replicator", journal);
                goto out;
        }
        if (e < 0) {
                fprintf(stderr, PROG ": cannot start: %s%s\n", strerror(-e),
                        e == -EXDEV ? " (the cursor belongs to another journal)" : "");
                goto out;
        }
        d = (struct daemon) { .r = r, .journal_fd = o.journal_fd, .source = source, .target = target,
                              .journal = journal };
        {
                /* absolute paths in the status; as given when they cannot be resolved */
                if (realpath(source, rs))
                        d.source = rs;
                if (realpath(target, rt))
                        d.target = rt;
                if (realpath(journal, rj))
                        d.journal = rj;
        }
        if (socket_path) {
                struct ctl_server_options co = {
                        .path = socket_path, .group = (gid_t)-1, .journal_fd = o.journal_fd,
                        .cursor = o.cursor ? o.cursor : "replicator", .ops = &ctl_ops, .userdata = &d,
                };

                e = ctl_server_start(&co, &ctl);
                if (e < 0) {
                        fprintf(stderr, PROG ": cannot listen on '%s': %s\n", socket_path, strerror(-e));
                        r = replicator_stop(r, 0);
                        goto out;
                }
        }
        log_msg(LOG_INFO, "replicating '%s' to '%s' from journal '%s'%s", d.source, d.target, d.journal,
                o.once ? " (once)" : "");
        (void)sd_notifyf(0, "READY=1\nSTATUS=replicating %s to %s", d.source, d.target);
        if (o.once) {
                e = replicator_wait(r, -1);
                replicator_get_stats(r, &st);
                if (!quiet)
                        printf(PROG ": applied up to seq %llu: %llu files copied (%llu bytes), %llu renames, "
                               "%llu links, %llu dead letters; checked %llu directories, %llu entries repaired\n",
                               (unsigned long long)st.applied_seq,
                               (unsigned long long)st.files_copied, (unsigned long long)st.bytes_copied,
                               (unsigned long long)st.renames, (unsigned long long)st.links,
                               (unsigned long long)st.dead_letters, (unsigned long long)st.check_dirs,
                               (unsigned long long)st.check_repairs);
                if (e < 0 && st.check_unrepaired)
                        fprintf(stderr, PROG ": %llu entries of the target still differ from the source after "
                                "repairs (see the log)\n", (unsigned long long)st.check_unrepaired);
                if (e < 0 && (st.dead_letters || !st.check_unrepaired))
                        fprintf(stderr, PROG ": not everything was applied: %llu dead letters (see %s/deadletters.%s)\n",
                                (unsigned long long)st.dead_letters, journal, o.cursor ? o.cursor : "replicator");
                ret = e < 0 ? 1 : 0;
        } else {
                sigwait(&sigs, &sig);
                ret = 0;
        }
        (void)sd_notifyf(0, "STOPPING=1\nSTATUS=draining for at most %llus\nEXTEND_TIMEOUT_USEC=%llu",
                         (unsigned long long)drain, (unsigned long long)(drain + 30) * 1000000ull);
        if (!o.once && drain) {
                log_msg(LOG_INFO, "stopping: finishing what is journaled, for at most %llus",
                        (unsigned long long)drain);
                (void)replicator_sync(r, 0, (int)(drain * 1000));
        }
        replicator_shutdown(r);         /* syncs still waiting are answered */
        ctl = ctl_server_stop(ctl);
        r = replicator_stop(r, 0);
out:
        if (o.journal_fd >= 0)
                close(o.journal_fd);
        if (o.source_fd >= 0)
                close(o.source_fd);
        if (o.target_fd >= 0)
                close(o.target_fd);
        return ret;
}
