/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * replicator.c: the replicator's threads and its promises.
 *
 * One reader thread takes records from the journal (woken by inotify, no
 * polling) and feeds the plan.  A syncer thread makes progress durable:
 * every durable_ms (at once when someone waits in replicator_sync) it
 * syncs the target file system and stores the cursor at the plan's
 * low-water mark, so the cursor never passes a record whose effect could
 * still be lost.  Worker threads take jobs from the plan and carry them out
 * (apply.c).
 * One mutex guards the plan and the counters; it is never held across I/O.
 *
 * Failures: a job that fails for a reason the target may recover from
 * (full, read-only, unmounted, permissions) is retried with exponential
 * backoff, forever, its records kept in the journal; any other failure is
 * retried a few times, then set aside as a dead letter (kept in the
 * journal directory, shown in the status), never dropped silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "replicator-internal.h"

#define MAX_WORKERS 64
#define READ_BATCH 4096                 /* records taken per lock */
#define PERMANENT_ATTEMPTS 5            /* before a non-transient failure is a dead letter */
#define TRIM_INTERVAL_NS (10ull * 1000000000u)
#define STALL_NS (60ull * 1000000000u)         /* no progress this long with work pending: say what holds it */

struct worker {
        pthread_t tid;
        struct replicator *r;
        struct apply_ctx ctx;
        unsigned index;
        bool started;
        bool exited;                    /* guarded by the replicator's lock */
};

/* What a round of the check found (see check_differs()). */
struct check_finding {
        char *path, *what;
        bool whole;                     /* to be made again (check_differs_fn) */
        bool self;                      /* the directory compared, itself */
        bool linked;                    /* a regular file with other names (check_explains()) */
        uint64_t ino;                   /* on the source, 0: not there */
};

struct check_found {
        struct check_finding *v;
        size_t n, cap;
        int error;
        const char *dir;                /* being compared */
        uint64_t *open;                 /* source inodes open for writing, sorted */
        size_t nopen;
        uint64_t seq;                   /* a busy round: the records read when it began */
        uint64_t due_ns;                /* ... and when its findings are due (monotonic) */
};

struct replicator {
        struct replicator_options opt;
        char cursor[72];
        int lock_fd;                    /* replicator.CURSOR.lock, flock()ed */
        int wake_fd;                    /* eventfd: wakes the reader thread */

        pthread_mutex_t lock;
        pthread_cond_t work;            /* workers: a job may be ready */
        pthread_cond_t progress;        /* replicator_sync(): the cursor moved, the end was reached */
        pthread_cond_t syncer;          /* wakes the syncer thread */

        /* guarded by lock */
        struct plan *plan;
        bool stopping, paused, reading_done;
        bool durable_wanted;            /* someone waits: sync the target now */
        unsigned nworkers;              /* wanted */
        unsigned active;                /* worker threads alive */
        unsigned sync_waiters;
        uint64_t read_seq;              /* last record given to the plan */
        uint64_t applied_seq;           /* durable, stored in the cursor */
        uint64_t eof_gen, eof_seq;      /* the reader reached the end eof_gen times; last at eof_seq */
        uint64_t dead_seq_max;          /* highest seq set aside as a dead letter */
        uint64_t syncing_since_ns;      /* the target's syncfs() running since (0: none) */
        uint64_t moved_ns;              /* the applied seq last moved, or nothing was pending */
        uint64_t next_stall_log_ns;
        struct check_set *checks;       /* directories touched, to check (see run_check()) */
        uint64_t checked_seq;           /* records up to here applied, their directories checked */
        uint64_t last_read_ns;          /* monotonic: the last record read */
        uint64_t last_check_ns;         /* monotonic: the last round of the check that compared ended */
        uint64_t busy_last_ns;          /* ... the last busy round ended (it may have compared nothing) */
        unsigned check_round;           /* rounds in a row that queued repairs */
        struct check_found pending;     /* a busy round's findings, waiting (run_busy_check()) */
        unsigned busy_round;            /* busy rounds in a row that queued repairs */
        uint64_t busy_took_ns;          /* the last busy round took this long */
        struct replicator_stats stats;

        pthread_t reader, syncer_thread;
        bool reader_started, syncer_started;
        struct worker workers[MAX_WORKERS];
        const struct copier_ops *copy_ops;
        struct journal_applied_log *applied;    /* when changes reached the target */

        _Atomic uint64_t ns_gen;        /* see apply_ctx */
        struct link_map *links;         /* see apply_ctx */
        uint64_t renamed_upto;          /* see apply_ctx */

        /* the target's identity, to notice it unmounted (or replaced) */
        dev_t target_dev;
        ino_t target_ino;
        bool target_lost;               /* guarded by lock: workers hold off */
};

static uint64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec abs_mono(uint64_t ns)
{
        return (struct timespec) { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
}

static void event(struct replicator *r, enum replicator_event_kind kind, const char *path, int error,
                  const char *what, uint64_t seq)
{
        struct replicator_event ev = { kind, path ? path : "", error, what ? what : "", seq };

        if (r->opt.on_event)
                r->opt.on_event(r->opt.userdata, &ev);
}

/* Lock held.  The syncer should make progress durable now. */
static void wake_syncer(struct replicator *r)
{
        r->durable_wanted = true;
        pthread_cond_signal(&r->syncer);
}

static void wake_reader(struct replicator *r)
{
        uint64_t one = 1;

        (void)!write(r->wake_fd, &one, sizeof(one));
}

/* ---- dead letters ---- */

/* Set a record aside for good (deadletters.CURSOR).  Lock not held. */
static void dead_letter(struct replicator *r, const char *path, const char *path2, int error, const char *what,
                        uint64_t seq)
{
        struct journal_dead_letter d = {
                .time_ns = wall_ns(), .seq = seq, .error = error, .what = what, .path = path, .path2 = path2,
        };
        int e = journal_dead_letter_append(r->opt.journal_fd, r->cursor, &d);

        /* Not recorded on disk: say so loudly, it must not vanish. */
        if (e < 0)
                event(r, REPLICATOR_EVENT_ERROR, path, e, "cannot record dead letter", seq);
}

/* ---- workers ---- */

static uint64_t backoff_ns(unsigned attempts)
{
        uint64_t ms = 250ull << (attempts < 7 ? attempts : 7);

        return (ms > 30000 ? 30000 : ms) * 1000000u;
}

/* Lock held.  A job came back from apply_job(). */
static void job_finished(struct replicator *r, struct job *j, struct job_result *res)
{
        uint64_t now = mono_ns();
        bool permanent;

        if (res->error == 0) {
                if (res->copied) {
                        r->stats.files_copied++;
                        r->stats.bytes_copied += res->bytes;
                }
                if (r->applied && j->kind == JOB_SYNC && (j->flags & JOB_DATA) && !res->nothing) {
                        struct journal_applied a = {
                                .seq = j->first_seq, .record_ns = j->oldest_ns, .applied_ns = wall_ns(),
                                .flags = res->copied ? JOURNAL_APPLIED_COPIED : 0,
                        };

                        (void)journal_applied_add(r->applied, &a);      /* the report only */
                }
                if (j->kind == JOB_RENAME || j->kind == JOB_EXCHANGE)
                        r->stats.renames += !res->fallback;
                else if (j->kind == JOB_LINK)
                        r->stats.links += !res->fallback;
                else if (!res->copied && !res->nothing)
                        r->stats.attr_updates++;
                plan_done(r->plan, j, res, now);
                return;
        }
        r->stats.last_error = res->error;
        snprintf(r->stats.last_error_path, sizeof(r->stats.last_error_path), "%s", j->path);
        permanent = !apply_error_transient(res->error);
        if (permanent && j->attempts + 1 >= PERMANENT_ATTEMPTS) {
                char *path = strdup(j->path), *path2 = j->path2 ? strdup(j->path2) : NULL;
                uint64_t seq = j->first_seq;
                struct job_result done = { 0 };
                int err = res->error;
                const char *what = res->what;

                r->stats.dead_letters++;
                r->stats.dead_letters_stored++;
                if (seq > r->dead_seq_max)
                        r->dead_seq_max = seq;
                plan_done(r->plan, j, &done, now);      /* set aside: the cursor may pass */
                pthread_mutex_unlock(&r->lock);
                dead_letter(r, path ? path : "?", path2, err, what, seq);
                event(r, REPLICATOR_EVENT_DEAD_LETTER, path, err, what, seq);
                free(path);
                free(path2);
                pthread_mutex_lock(&r->lock);
                return;
        }
        r->stats.retries++;
        event(r, REPLICATOR_EVENT_RETRY, j->path, res->error, res->what, j->first_seq);
        plan_retry(r->plan, j, res->error, now + backoff_ns(j->attempts));
}

/* apply_ctx.swapping: asked by a worker, without the lock. */
static bool worker_swapping(void *arg, const char *path)
{
        struct replicator *r = arg;
        bool swapping;

        pthread_mutex_lock(&r->lock);
        swapping = plan_swapping(r->plan, path);
        pthread_mutex_unlock(&r->lock);
        return swapping;
}

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        struct replicator *r = w->r;

        pthread_mutex_lock(&r->lock);
        while (!r->stopping && w->index < r->nworkers) {
                struct job_result res;
                uint64_t wake, now = mono_ns();
                bool hold = r->paused || r->target_lost;
                struct job *j = hold ? NULL : plan_next(r->plan, now, &wake);

                if (!j) {
                        if (hold || wake == UINT64_MAX) {
                                pthread_cond_wait(&r->work, &r->lock);
                        } else {
                                struct timespec until = abs_mono(wake);

                                (void)pthread_cond_timedwait(&r->work, &r->lock, &until);
                        }
                        continue;
                }
                r->stats.running++;
                pthread_mutex_unlock(&r->lock);
                apply_job(&w->ctx, j, &res);
                pthread_mutex_lock(&r->lock);
                r->stats.running--;
                job_finished(r, j, &res);
                /* It may unblock others, and it may be what a sync (or the
                 * end of a --once run) waits for. */
                pthread_cond_broadcast(&r->work);
                if (r->sync_waiters || (r->reading_done && plan_empty(r->plan)))
                        wake_syncer(r);
                if (r->checks && check_set_count(r->checks) && plan_empty(r->plan))
                        wake_reader(r);         /* the check may run */
        }
        r->active--;
        w->exited = true;
        pthread_cond_broadcast(&r->progress);
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

/* Lock held. */
static int worker_spawn(struct replicator *r, unsigned i)
{
        struct worker *w = &r->workers[i];
        int e;

        if (w->started) {
                pthread_mutex_unlock(&r->lock);
                pthread_join(w->tid, NULL);
                pthread_mutex_lock(&r->lock);
                w->started = false;
        }
        if (!w->ctx.copier) {
                w->r = r;
                w->index = i;
                w->ctx = (struct apply_ctx) {
                        .source_fd = r->opt.source_fd, .target_fd = r->opt.target_fd,
                        .copy_ops = r->copy_ops, .worker = i, .ns_gen = &r->ns_gen,
                        .links = r->links, .renamed_upto = r->renamed_upto,
                        .swapping = worker_swapping, .swapping_arg = r,
                };
                e = r->copy_ops->new(&w->ctx.copier);
                if (e < 0)
                        return e;
        }
        w->exited = false;
        e = -pthread_create(&w->tid, NULL, worker_main, w);
        if (e == 0) {
                w->started = true;
                r->active++;
        }
        return e;
}

/*
 * Work pending and the applied seq unmoved since STALL_NS: say which work
 * holds it back, and again every half of that while it lasts (a job that
 * copies for minutes, or work going round that never lets the oldest
 * finish).  Lock held.
 */
static void check_stalled(struct replicator *r, uint64_t now)
{
        const struct job *j;
        char path[256], what[96];
        uint64_t seq;

        if (plan_empty(r->plan) || r->paused || r->target_lost) {
                r->moved_ns = now;
                return;
        }
        if (now - r->moved_ns < STALL_NS || now < r->next_stall_log_ns || !(j = plan_oldest(r->plan)))
                return;
        r->next_stall_log_ns = now + STALL_NS / 2;
        snprintf(path, sizeof(path), "%s", j->path);
        snprintf(what, sizeof(what), "no progress for %llu s: the oldest work, %s, run %u times, is on",
                 (unsigned long long)((now - r->moved_ns) / 1000000000u), plan_state_name(j->state), j->runs);
        seq = j->first_seq;
        pthread_mutex_unlock(&r->lock);
        event(r, REPLICATOR_EVENT_STALLED, path, 0, what, seq);
        pthread_mutex_lock(&r->lock);
}

/* ---- the check (check.c, docs/replicator.md) ---- */

#define CHECK_QUIET_NS (2000ull * 1000000u)     /* the journal quiet this long: check */
#define CHECK_ROUNDS 5                          /* rounds with repairs in a row, at most */
#define CHECK_SET_MAX 16384
#define CHECK_BUSY_NS (1000ull * 1000000u)      /* a busy round at most this often, */
#define CHECK_BUSY_SHARE 20                     /* nor more than 1/20 of the time, */
#define CHECK_BUSY_BUDGET_NS (100ull * 1000000u) /* each this long at most (then one directory more) */
#define CHECK_GRACE_NS (1000ull * 1000000u)     /* records that may explain a busy round's findings */
/* A directory bigger than this (the source's st_size: 1 MiB is some 20,000
 * to 50,000 entries, 0.1-0.3 s to compare) is left to a quiet round or a
 * sync: a busy round holds up the reading of the journal while it compares. */
#define CHECK_BUSY_DIR_SIZE (1024 * 1024)

/* Changes made that the journal does not hold yet? */
static bool journal_behind(const struct replicator *r)
{
        return r->opt.journal_behind && r->opt.journal_behind(r->opt.userdata);
}

static bool check_differs(void *arg, const char *path, const char *what, bool whole, const struct stat *src,
                          const struct stat *tgt)
{
        struct check_found *f = arg;
        uint64_t ino = src ? (uint64_t)src->st_ino : 0;
        struct check_finding *v;

        /* Open for writing: it changes with no record until its close,
         * whose close-write has it copied as it is then (a job's log,
         * written all day, differs from its last copy, rightly). */
        if (ino && plan_inodes_have(f->open, f->nopen, ino))
                return false;
        if (f->n == f->cap) {
                size_t cap = f->cap ? 2 * f->cap : 16;

                v = realloc(f->v, cap * sizeof(*v));
                if (!v) {
                        f->error = -ENOMEM;
                        return true;
                }
                f->v = v;
                f->cap = cap;
        }
        v = &f->v[f->n];
        *v = (struct check_finding) {
                .path = strdup(path), .what = strdup(what), .whole = whole, .ino = ino,
                .self = f->dir && strcmp(path, f->dir) == 0,
                .linked = (src && S_ISREG(src->st_mode) && src->st_nlink > 1) ||
                          (tgt && S_ISREG(tgt->st_mode) && tgt->st_nlink > 1),
        };
        if (!v->path || !v->what) {
                free(v->path);
                free(v->what);
                f->error = -ENOMEM;
                return true;
        }
        f->n++;
        return true;
}

/* Forget findings from @from on. */
static void found_trim(struct check_found *f, size_t from)
{
        while (f->n > from) {
                f->n--;
                free(f->v[f->n].path);
                free(f->v[f->n].what);
        }
}

static void found_free(struct check_found *f)
{
        found_trim(f, 0);
        free(f->v);
        free(f->open);
        *f = (struct check_found) { 0 };
}

/* The directory a finding is about: compared again after a repair. */
static void note_again(struct check_set *s, const struct check_finding *v)
{
        const char *slash = strrchr(v->path, '/');

        if (v->self)
                check_set_add(s, v->path);
        else if (!slash)
                check_set_add(s, "");
        else {
                char *dir = strndup(v->path, (size_t)(slash - v->path));

                if (dir)
                        check_set_add(s, dir);
                free(dir);
        }
}

/*
 * Lock held.  Everything read is applied: the directories the records
 * touched can be checked, at once when the last round's repairs are to be
 * checked or records not checked yet are waited for (a sync, the end of
 * --once), else once the journal has been quiet for CHECK_QUIET_NS (and as
 * long since the last round: directories that changed while they were
 * compared are noted again).  With no directory to check, the records read
 * are checked already.  Not while a busy round's findings wait for the
 * records that may explain them.
 */
static bool check_due(struct replicator *r)
{
        uint64_t now;

        if (!r->checks || r->paused || r->target_lost || r->eof_seq != r->read_seq || !plan_empty(r->plan) ||
            r->pending.n)
                return false;
        if (!check_set_count(r->checks)) {
                if (r->checked_seq != r->read_seq) {
                        r->checked_seq = r->read_seq;
                        pthread_cond_broadcast(&r->progress);
                        if (r->reading_done)
                                wake_syncer(r);         /* --once may be done */
                }
                return false;
        }
        if (journal_behind(r))
                return false;
        if (r->check_round || ((r->sync_waiters || r->reading_done) && r->checked_seq < r->read_seq))
                return true;
        now = mono_ns();
        return now - r->last_read_ns >= CHECK_QUIET_NS && now - r->last_check_ns >= CHECK_QUIET_NS;
}

/* Has the journal grown since the reader last drained @jfd (inotify)? */
static bool journal_grew(int jfd)
{
        struct pollfd pf = { .fd = jfd, .events = POLLIN };

        return jfd >= 0 && poll(&pf, 1, 0) > 0;
}

/* Log what a round found, repaired or @left (lock not held). */
static void check_report(struct replicator *r, const struct check_found *f, bool left, uint64_t seq)
{
        for (size_t i = 0; i < f->n; i++) {
                char what[192];

                snprintf(what, sizeof(what), "%s the source after its records were applied (%s)%s",
                         left ? "still differs from" : "differed from", f->v[i].what, left ? ", left" : ", repaired");
                event(r, REPLICATOR_EVENT_CHECK, f->v[i].path, left ? -EIO : 0, what, seq);
        }
}

/*
 * Lock held (dropped while comparing).  One round: every noted directory
 * compared; what differs is reported and queued for repair, and its
 * directory noted again, to be checked once the repair is done.  After
 * CHECK_ROUNDS rounds in a row with repairs, what still differs is left.
 * Records appended meanwhile (@jfd readable; -1: not followed) may explain
 * what differs: nothing is reported then, the directories are checked again
 * once they are applied.
 */
static void run_check(struct replicator *r, int jfd)
{
        struct check_set *todo = r->checks, *again = NULL;
        uint64_t seq = r->read_seq, dirs = 0, repairs = 0, left = 0, skipped = check_set_skipped(todo);
        /* A round nobody waits for gives way to the records appended
         * meanwhile (a directory of a million entries takes seconds): what
         * it did not compare stays noted.  A sync's round goes to the end. */
        struct check_limits lim = { .stop_fd = r->sync_waiters || r->check_round ? -1 : jfd };
        struct check_found f = { 0 };
        bool deferred, stopped = false;
        char *dir;
        int e;

        e = check_set_new(CHECK_SET_MAX, &r->checks);
        if (e == 0) {
                /* as of now: an open or a close during the round is a
                 * record, and then nothing found is reported (below) */
                e = plan_open_inodes(r->plan, &f.open, &f.nopen);
                if (e < 0)
                        r->checks = check_set_free(r->checks);
        }
        if (e < 0) {
                r->checks = todo;
                r->stats.last_error = e;
                return;
        }
        pthread_mutex_unlock(&r->lock);
        e = check_set_new(CHECK_SET_MAX, &again);
        while (e == 0 && (dir = check_set_take(todo))) {
                size_t before = f.n;
                bool moving;
                int n;

                f.dir = dir;
                n = check_dir(r->opt.source_fd, r->opt.target_fd, dir, &lim, check_differs, &f, &moving);
                f.dir = NULL;
                if (n == -EINTR) {
                        check_set_add(again, dir);      /* its findings go with the deferral below */
                        free(dir);
                        stopped = true;
                        break;
                }
                dirs++;
                if (n < 0) {
                        event(r, REPLICATOR_EVENT_ERROR, dir, n, "cannot check", seq);
                } else if (moving) {
                        /* changing now: its records say what, and note it again */
                        found_trim(&f, before);
                        check_set_add(again, dir);
                } else if (n > 0) {
                        check_set_add(again, dir);
                }
                free(dir);
        }
        pthread_mutex_lock(&r->lock);
        if (e < 0 || f.error < 0) {
                /* out of memory: the directories not compared are not checked */
                r->stats.last_error = e < 0 ? e : f.error;
        }
        while (stopped && (dir = check_set_take(todo))) {
                check_set_add(r->checks, dir);  /* not compared: next round */
                free(dir);
        }
        /* (stopped: deferred, so nothing is left and `again` is noted below) */
        deferred = stopped || (f.n && (journal_grew(jfd) || journal_behind(r)));
        if (deferred) {
                found_trim(&f, 0);      /* not reported; checked again (below) */
        } else if (f.n && r->check_round + 1 >= CHECK_ROUNDS) {
                left = f.n;
                r->check_round = 0;
        } else if (f.n) {
                r->check_round++;
                for (size_t i = 0; i < f.n; i++)
                        repairs += plan_repair(r->plan, f.v[i].path, f.v[i].whole, seq, wall_ns(), mono_ns()) == 0;
                pthread_cond_broadcast(&r->work);
        } else {
                r->check_round = 0;
        }
        while (again && (dir = check_set_take(again))) {
                if (!left)
                        check_set_add(r->checks, dir);
                free(dir);
        }
        r->stats.check_dirs += dirs;
        r->stats.check_repairs += repairs;
        r->stats.check_unrepaired += left;
        r->stats.check_skipped += skipped;
        r->last_check_ns = mono_ns();
        /* said before a sync waiting for the check returns */
        pthread_mutex_unlock(&r->lock);
        check_report(r, &f, left, seq);
        pthread_mutex_lock(&r->lock);
        if (!deferred && !repairs) {
                /* what was read up to @seq is checked, but for directories
                 * changing now (noted again); not after a round stopped */
                r->checked_seq = seq;
                pthread_cond_broadcast(&r->progress);
                if (r->reading_done)
                        wake_syncer(r);
        }
        found_free(&f);
        check_set_free(todo);
        check_set_free(again);
}

/*
 * Lock held.  The journal is never quiet for long, yet everything read is
 * applied at this moment: a busy round may compare a few directories.  At
 * most every CHECK_BUSY_NS and 1/CHECK_BUSY_SHARE of the time, so that the
 * check takes a small share of the reader's time whatever the load.
 */
static bool busy_check_due(struct replicator *r)
{
        uint64_t now, rest;

        if (!r->checks || r->paused || r->target_lost || r->reading_done || r->eof_seq != r->read_seq ||
            !plan_empty(r->plan) || r->pending.n || !check_set_count(r->checks) || journal_behind(r))
                return false;
        now = mono_ns();
        if (now - r->last_read_ns >= CHECK_QUIET_NS)
                return false;   /* quiet now: a quiet round compares them all */
        rest = r->busy_took_ns * (CHECK_BUSY_SHARE - 1);
        if (rest < CHECK_BUSY_NS)
                rest = CHECK_BUSY_NS;
        return now - r->last_check_ns >= rest && now - r->busy_last_ns >= rest;
}

/*
 * Lock held (dropped while comparing).  A busy round: noted directories
 * compared for CHECK_BUSY_BUDGET_NS at most, while records keep being
 * appended (read after the round).  What differs is not reported yet: it
 * waits as r->pending for the records appended meanwhile (see
 * check_pending_note()), which may explain it, until CHECK_GRACE_NS after
 * the round (check_pending_due()).  A directory found alike is done.
 */
static void run_busy_check(struct replicator *r)
{
        const struct check_limits lim = { .max_size = CHECK_BUSY_DIR_SIZE, .stop_fd = -1 };
        struct check_found *f = &r->pending;
        uint64_t start = mono_ns(), dirs = 0;
        char *dir, **big = NULL;
        size_t nbig = 0;
        int e;

        e = plan_open_inodes(r->plan, &f->open, &f->nopen);
        if (e < 0) {
                r->stats.last_error = e;
                r->last_check_ns = mono_ns();
                return;
        }
        f->seq = r->read_seq;
        while ((dir = check_set_take(r->checks))) {
                bool moving;
                int n;

                pthread_mutex_unlock(&r->lock);
                f->dir = dir;
                /* a directory changing now is compared all the same: each
                 * entry the records name is taken out of the findings */
                n = check_dir(r->opt.source_fd, r->opt.target_fd, dir, &lim, check_differs, f, &moving);
                f->dir = NULL;
                if (n < 0 && n != -EFBIG)
                        event(r, REPLICATOR_EVENT_ERROR, dir, n, "cannot check", f->seq);
                pthread_mutex_lock(&r->lock);
                if (n == -EFBIG) {
                        /* for a quiet round or a sync, noted again after
                         * this round (not to be taken again in it) */
                        char **v = realloc(big, (nbig + 1) * sizeof(*big));

                        if (v) {
                                big = v;
                                big[nbig++] = dir;
                                dir = NULL;
                        }
                } else {
                        dirs++;
                }
                free(dir);
                if (mono_ns() - start >= CHECK_BUSY_BUDGET_NS)
                        break;
        }
        for (size_t i = 0; i < nbig; i++) {
                check_set_add(r->checks, big[i]);
                free(big[i]);
        }
        free(big);
        if (f->error < 0) {
                r->stats.last_error = f->error;
                f->error = 0;
        }
        free(f->open);
        f->open = NULL;
        f->nopen = 0;
        if (!f->n)
                r->busy_round = 0;
        r->stats.check_dirs += dirs;
        /* A round that only met big directories compared nothing: the
         * quiet round, which compares them, still comes 2 s after the last. */
        r->busy_last_ns = mono_ns();
        if (dirs)
                r->last_check_ns = r->busy_last_ns;
        r->busy_took_ns = r->busy_last_ns - start;
        f->due_ns = r->busy_last_ns + CHECK_GRACE_NS;
}

/* Lock held.  A record read: the busy round's findings it may explain are
 * dropped, their directories noted again. */
static void check_pending_note(struct replicator *r, const struct journal_record *rec)
{
        struct check_found *f = &r->pending;

        for (size_t i = 0; i < f->n;) {
                if (!check_explains(rec, f->v[i].path, f->v[i].ino, f->v[i].linked)) {
                        i++;
                        continue;
                }
                note_again(r->checks, &f->v[i]);
                free(f->v[i].path);
                free(f->v[i].what);
                f->v[i] = f->v[--f->n];
        }
}

/* Lock held.  The records appended during the busy round are read (at the
 * end of the journal, CHECK_GRACE_NS after it): what no record explains
 * differs from the source, and is repaired (and its directory compared
 * again), or left after CHECK_ROUNDS busy rounds in a row with repairs.
 * True when done. */
static bool check_pending_due(struct replicator *r)
{
        struct check_found *f = &r->pending;
        uint64_t repairs = 0;
        bool left;

        if (!f->n || r->eof_seq != r->read_seq || mono_ns() < f->due_ns)
                return false;
        if (journal_behind(r)) {
                /* records to come may explain any of it: compared again later */
                for (size_t i = 0; i < f->n; i++)
                        note_again(r->checks, &f->v[i]);
                found_trim(f, 0);
                return true;
        }
        /* as run_check(): after CHECK_ROUNDS rounds in a row, left */
        left = ++r->busy_round >= CHECK_ROUNDS;
        if (left) {
                r->busy_round = 0;
                r->stats.check_unrepaired += f->n;
        }
        for (size_t i = 0; i < f->n && !left; i++) {
                repairs += plan_repair(r->plan, f->v[i].path, f->v[i].whole, f->seq, wall_ns(), mono_ns()) == 0;
                note_again(r->checks, &f->v[i]);
        }
        r->stats.check_repairs += repairs;
        pthread_cond_broadcast(&r->work);
        pthread_mutex_unlock(&r->lock);
        check_report(r, f, left, f->seq);
        pthread_mutex_lock(&r->lock);
        found_trim(f, 0);
        return true;
}

/* ---- the reader ---- */

/* Called by the reader with the lock not held. */
static void on_problem(void *userdata, const struct journal_problem *p)
{
        struct replicator *r = userdata;

        if (p->kind == JOURNAL_PROBLEM_GAP || p->kind == JOURNAL_PROBLEM_CORRUPT ||
            p->kind == JOURNAL_PROBLEM_BAD_SEGMENT) {
                /* Changes may be missing: the mirror needs an audit. */
                pthread_mutex_lock(&r->lock);
                r->stats.events_lost++;
                pthread_mutex_unlock(&r->lock);
                event(r, REPLICATOR_EVENT_EVENTS_LOST, p->segment, p->error, p->detail, p->seq_from);
        } else if (p->kind != JOURNAL_PROBLEM_UNKNOWN_TYPE && p->kind != JOURNAL_PROBLEM_TORN_TAIL) {
                event(r, REPLICATOR_EVENT_ERROR, p->segment, p->error, p->detail, 0);
        }
}

/*
 * Does the target path still lead to the directory we write to?  An
 * unmounted target (or another file system mounted there) must not get
 * writes meant for the mirror, and progress made on a detached file system
 * must not be counted: workers hold off and the cursor stays until the
 * same target is back.  Lock held.
 */
static bool target_present(struct replicator *r)
{
        struct stat st;
        bool present;

        if (!r->opt.target_path)
                return true;
        present = stat(r->opt.target_path, &st) == 0 && st.st_dev == r->target_dev && st.st_ino == r->target_ino;
        if (present != !r->target_lost) {
                r->target_lost = !present;
                r->stats.target_lost = !present;
                if (present)
                        pthread_cond_broadcast(&r->work);
                pthread_mutex_unlock(&r->lock);
                event(r, REPLICATOR_EVENT_ERROR, r->opt.target_path, present ? 0 : -ENODEV,
                      present ? "target back: resuming" : "target unmounted or replaced: waiting for it", 0);
                pthread_mutex_lock(&r->lock);
        }
        return present;
}

/* Sync the target and store the cursor at the low-water mark.  Lock held on entry and exit. */
static void make_durable(struct replicator *r)
{
        uint64_t applied = plan_low_water(r->plan, r->read_seq) - 1;
        int e;

        if (!target_present(r))
                return;
        if (applied <= r->applied_seq)
                return;
        r->syncing_since_ns = mono_ns();
        pthread_mutex_unlock(&r->lock);
        /* One sync for everything applied since the last: the data of the
         * copied files, the renames, the directories.  (A stalled disk
         * holds it for minutes: the status shows how long.) */
        e = syncfs(r->opt.target_fd) < 0 ? -errno : 0;
        if (e == 0 && r->applied)
                (void)journal_applied_flush(r->applied);        /* the report's record; not the mirror's */
        if (e == 0)
                e = journal_cursor_store(r->opt.journal_fd, r->cursor, applied);
        pthread_mutex_lock(&r->lock);
        r->syncing_since_ns = 0;
        if (e < 0) {
                r->stats.last_error = e;
                snprintf(r->stats.last_error_path, sizeof(r->stats.last_error_path), "%s", "(cursor)");
                pthread_mutex_unlock(&r->lock);
                event(r, REPLICATOR_EVENT_ERROR, "", e, "cannot make progress durable", applied);
                pthread_mutex_lock(&r->lock);
                return;
        }
        r->applied_seq = applied;
        r->stats.applied_seq = applied;
        r->moved_ns = mono_ns();
        pthread_cond_broadcast(&r->progress);
}

static void *reader_main(void *arg)
{
        struct replicator *r = arg;
        struct journal_reader *rd = NULL;
        int e;

        pthread_mutex_lock(&r->lock);
        e = journal_reader_open(r->opt.journal_fd, r->applied_seq + 1, on_problem, r, &rd);
        if (e < 0) {
                r->stats.last_error = e;
                r->reading_done = true;
                pthread_mutex_unlock(&r->lock);
                event(r, REPLICATOR_EVENT_ERROR, "", e, "cannot read the journal", 0);
                return NULL;
        }
        while (!r->stopping) {
                struct journal_record rec;
                uint64_t asked_ns = 0;
                unsigned n = 0;

                /* Records, a batch per lock. */
                while (!r->reading_done && n < READ_BATCH) {
                        pthread_mutex_unlock(&r->lock);
                        asked_ns = mono_ns();   /* what was appended by now is read */
                        e = journal_reader_next(rd, &rec);
                        pthread_mutex_lock(&r->lock);
                        if (e <= 0)
                                break;
                        n++;
                        r->read_seq = rec.seq;
                        r->stats.read_seq = rec.seq;
                        if (rec.type == JOURNAL_EVENTS_LOST) {
                                r->stats.events_lost++;
                                pthread_mutex_unlock(&r->lock);
                                event(r, REPLICATOR_EVENT_EVENTS_LOST, rec.path, -(int)rec.aux, "events lost", rec.seq);
                                pthread_mutex_lock(&r->lock);
                        }
                        r->last_read_ns = mono_ns();
                        e = plan_add(r->plan, &rec, r->last_read_ns);
                        if (e == 0 && r->checks)
                                check_set_note(r->checks, &rec);
                        if (e == 0 && r->pending.n)
                                check_pending_note(r, &rec);
                        if (e == -EINVAL) {
                                /* A path no mirror may use: never applied. */
                                char *p = strndup(rec.path, 4096), *p2 = rec.path2_len ? strndup(rec.path2, 4096) : NULL;

                                r->stats.dead_letters++;
                                r->stats.dead_letters_stored++;
                                if (rec.seq > r->dead_seq_max)
                                        r->dead_seq_max = rec.seq;
                                pthread_mutex_unlock(&r->lock);
                                dead_letter(r, p ? p : "?", p2, -EINVAL, "invalid path", rec.seq);
                                event(r, REPLICATOR_EVENT_DEAD_LETTER, p, -EINVAL, "invalid path", rec.seq);
                                free(p);
                                free(p2);
                                pthread_mutex_lock(&r->lock);
                        } else if (e < 0) {
                                r->stats.last_error = e;
                        }
                }
                if (e < 0 && e != -EINVAL) {
                        r->stats.last_error = e;
                        pthread_mutex_unlock(&r->lock);
                        event(r, REPLICATOR_EVENT_ERROR, "", e, "cannot read the journal", r->read_seq);
                        pthread_mutex_lock(&r->lock);
                }
                if (n)
                        pthread_cond_broadcast(&r->work);
                if (e == 0 && n < READ_BATCH) {
                        /* At the end of the journal, as it is now. */
                        r->eof_gen++;
                        r->eof_seq = r->read_seq;
                        if (r->opt.once)
                                r->reading_done = true;
                        if (asked_ns && plan_caught_up(r->plan, asked_ns, r->opt.once))
                                pthread_cond_broadcast(&r->work);
                        pthread_cond_broadcast(&r->progress);
                }
                if (r->reading_done || (e == 0 && r->sync_waiters))
                        wake_syncer(r);
                if (n == READ_BATCH)
                        continue;       /* more to read */
                if (check_pending_due(r))
                        continue;
                if (check_due(r)) {
                        int jfd = r->reading_done ? -1 : journal_reader_fd(rd);

                        if (journal_grew(jfd))
                                (void)journal_reader_wait(rd, 0);       /* read first */
                        else
                                run_check(r, jfd);
                        continue;
                }
                if (busy_check_due(r)) {
                        run_busy_check(r);
                        continue;
                }
                {
                        struct pollfd pf[2] = {
                                { .fd = journal_reader_fd(rd), .events = POLLIN },
                                { .fd = r->wake_fd, .events = POLLIN },
                        };
                        uint64_t drain, now = mono_ns();
                        int ms = 1000;

                        if (r->pending.n)       /* its findings fall due */
                                ms = r->pending.due_ns <= now ? 0 : (int)((r->pending.due_ns - now) / 1000000u) + 1;
                        if (ms > 1000)
                                ms = 1000;

                        if (r->reading_done)
                                pf[0].fd = -1;
                        pthread_mutex_unlock(&r->lock);
                        if (poll(pf, 2, ms) > 0) {
                                if (pf[0].revents)
                                        (void)journal_reader_wait(rd, 0);
                                if (pf[1].revents)
                                        (void)!read(r->wake_fd, &drain, sizeof(drain));
                        }
                        pthread_mutex_lock(&r->lock);
                }
        }
        pthread_mutex_unlock(&r->lock);
        journal_reader_free(rd);
        return NULL;
}

/*
 * The syncer: makes progress durable every durable_ms, and at once when
 * someone waits for it; notices a target that went away; trims the
 * journal.  Its own thread, so that a long syncfs() holds up neither the
 * reading of the journal nor the copying.
 */
static void *syncer_main(void *arg)
{
        struct replicator *r = arg;
        uint64_t next = mono_ns(), next_trim = 0;

        pthread_mutex_lock(&r->lock);
        while (!r->stopping) {
                uint64_t now = mono_ns();
                struct timespec until;

                if (r->target_lost && now >= next)
                        (void)target_present(r);
                check_stalled(r, now);
                if (now >= next || r->durable_wanted || r->sync_waiters) {
                        r->durable_wanted = false;
                        make_durable(r);
                        next = mono_ns() + (uint64_t)r->opt.durable_ms * 1000000u;
                }
                if (r->opt.once && r->reading_done && r->applied_seq >= r->eof_seq && plan_empty(r->plan) &&
                    (!r->checks || r->checked_seq >= r->eof_seq)) {
                        r->stats.done = true;
                        pthread_cond_broadcast(&r->progress);
                }
                if (now >= next_trim && r->applied_seq) {
                        pthread_mutex_unlock(&r->lock);
                        (void)journal_trim(r->opt.journal_fd, r->opt.retention_s, NULL);
                        pthread_mutex_lock(&r->lock);
                        next_trim = now + TRIM_INTERVAL_NS;
                }
                if (r->durable_wanted || r->stopping)
                        continue;
                until = abs_mono(next);
                (void)pthread_cond_timedwait(&r->syncer, &r->lock, &until);
        }
        make_durable(r);
        pthread_mutex_unlock(&r->lock);
        /* and what the last stretch finished goes now, not at the next start */
        if (r->applied_seq)
                (void)journal_trim(r->opt.journal_fd, r->opt.retention_s, NULL);
        return NULL;
}

/* ---- the API ---- */

const char *replicator_event_name(enum replicator_event_kind kind)
{
        static const char *const names[] = {
                [REPLICATOR_EVENT_RETRY] = "retry", [REPLICATOR_EVENT_DEAD_LETTER] = "dead letter",
                [REPLICATOR_EVENT_EVENTS_LOST] = "events lost", [REPLICATOR_EVENT_ERROR] = "error",
                [REPLICATOR_EVENT_STALLED] = "stalled", [REPLICATOR_EVENT_CHECK] = "check",
        };

        return (unsigned)kind < sizeof(names) / sizeof(*names) && names[kind] ? names[kind] : "";
}

static int count_dead_letter(void *userdata, const struct journal_dead_letter *d)
{
        (void)d;
        ++*(uint64_t *)userdata;
        return 0;
}

int replicator_start(const struct replicator_options *opt, struct replicator **ret)
{
        struct plan_config pc;
        struct replicator *r;
        uint64_t cursor = 0;
        unsigned i;
        int e;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->opt = *opt;
        r->wake_fd = -1;
        r->lock_fd = -1;
        if (opt->cursor && (strlen(opt->cursor) >= sizeof(r->cursor) || !journal_cursor_name_valid(opt->cursor))) {
                free(r);
                return -EINVAL;
        }
        snprintf(r->cursor, sizeof(r->cursor), "%s", opt->cursor ? opt->cursor : "replicator");
        /* One replicator per journal and cursor, embedded or standalone:
         * the lock dies with the process. */
        {
                char name[96];

                snprintf(name, sizeof(name), "replicator.%s.lock", r->cursor);
                r->lock_fd = openat(opt->journal_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
                if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                        e = errno == EWOULDBLOCK ? -EBUSY : -errno;
                        if (r->lock_fd >= 0)
                                close(r->lock_fd);
                        free(r);
                        return e;
                }
        }
        if (!r->opt.workers)
                r->opt.workers = 2;
        if (r->opt.workers > MAX_WORKERS)
                r->opt.workers = MAX_WORKERS;
        if (!r->opt.settle_ms)
                r->opt.settle_ms = 20;
        if (!r->opt.max_hold_ms)
                r->opt.max_hold_ms = 1000;
        if (!r->opt.open_hold_ms)
                r->opt.open_hold_ms = 30000;
        if (!r->opt.durable_ms)
                r->opt.durable_ms = 500;
        pthread_mutex_init(&r->lock, NULL);
        {
                pthread_condattr_t ca;

                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&r->work, &ca);
                pthread_cond_init(&r->progress, &ca);
                pthread_cond_init(&r->syncer, &ca);
                pthread_condattr_destroy(&ca);
        }
        r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->wake_fd < 0) {
                e = -errno;
                goto fail;
        }
        e = journal_cursor_load(opt->journal_fd, r->cursor, &cursor);
        if (e < 0 && e != -ENOENT)
                goto fail;
        /* A cursor file from the start: on a journal file system that
         * fills up, storing the cursor falls back to overwriting its block
         * (journal_cursor_store()), and without one the cursor could never
         * move, nothing be trimmed, and the journal stay full.  (Full
         * already: the stores retry.) */
        if (e == -ENOENT)
                (void)journal_cursor_store(opt->journal_fd, r->cursor, cursor);
        r->applied_seq = cursor;
        r->moved_ns = mono_ns();
        r->stats.applied_seq = cursor;
        /* dead letters of earlier runs still waiting for a retry */
        (void)journal_dead_letters_read(opt->journal_fd, r->cursor, count_dead_letter, &r->stats.dead_letters_stored);
        pc = (struct plan_config) {
                .settle_ns = (uint64_t)r->opt.settle_ms * 1000000u,
                .max_hold_ns = (uint64_t)r->opt.max_hold_ms * 1000000u,
                .open_hold_ns = (uint64_t)r->opt.open_hold_ms * 1000000u,
        };
        e = plan_new(&pc, &r->plan);
        if (e < 0)
                goto fail;
        e = link_map_new(&r->links);
        if (e == 0 && !opt->no_check)
                e = check_set_new(CHECK_SET_MAX, &r->checks);
        if (e < 0)
                goto fail;
        r->renamed_upto = apply_renamed_load(r->opt.target_fd);
        if (journal_applied_open(opt->journal_fd, r->cursor, &r->applied) < 0)
                r->applied = NULL;      /* no latency report, the mirror goes on */
        r->copy_ops = opt->backend == REPLICATOR_PLAIN ? &copier_plain : &copier_uring;
        {
                struct copier *probe;

                if (r->copy_ops->new(&probe) < 0)
                        r->copy_ops = &copier_plain;    /* no io_uring here */
                else
                        r->copy_ops->free(probe);
        }
        r->stats.backend = r->copy_ops == &copier_plain ? REPLICATOR_PLAIN : REPLICATOR_URING;
        if (r->opt.target_path) {
                struct stat st;

                if (fstat(r->opt.target_fd, &st) < 0) {
                        e = -errno;
                        goto fail;
                }
                r->target_dev = st.st_dev;
                r->target_ino = st.st_ino;
        }
        r->nworkers = r->opt.workers;
        r->stats.workers = r->nworkers;
        pthread_mutex_lock(&r->lock);
        for (i = 0; i < r->nworkers && e == 0; i++)
                e = worker_spawn(r, i);
        pthread_mutex_unlock(&r->lock);
        if (e < 0)
                goto fail;
        e = -pthread_create(&r->reader, NULL, reader_main, r);
        if (e < 0)
                goto fail;
        r->reader_started = true;
        e = -pthread_create(&r->syncer_thread, NULL, syncer_main, r);
        if (e < 0)
                goto fail;
        r->syncer_started = true;
        *ret = r;
        return 0;
fail:
        replicator_stop(r, 0);
        return e;
}

/*
 * Lock held.  Does a sync up to @seq wait for the check of the directories
 * those records touched?  Only while nothing newer is read: the check runs
 * once everything read is applied, which a steady stream of changes may
 * never let happen (the sync then returns with its records applied).
 */
static bool check_awaited(const struct replicator *r, uint64_t seq)
{
        return r->checks && r->checked_seq < seq && (r->read_seq <= seq || plan_empty(r->plan));
}

int replicator_sync(struct replicator *r, uint64_t seq, int timeout_ms)
{
        uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : mono_ns() + (uint64_t)timeout_ms * 1000000u;
        uint64_t gen;
        int e = 0;

        pthread_mutex_lock(&r->lock);
        r->sync_waiters++;
        if (!seq) {
                /* "everything journaled so far": read to the end first */
                gen = r->eof_gen;
                wake_reader(r);
                while (r->eof_gen <= gen + (r->opt.once ? 0 : 1) && !r->stopping && !r->reading_done) {
                        struct timespec until = abs_mono(deadline);

                        if (deadline != UINT64_MAX && mono_ns() >= deadline) {
                                e = -ETIMEDOUT;
                                break;
                        }
                        if (deadline == UINT64_MAX)
                                pthread_cond_wait(&r->progress, &r->lock);
                        else
                                (void)pthread_cond_timedwait(&r->progress, &r->lock, &until);
                }
                seq = r->eof_seq;
        }
        plan_hurry(r->plan);            /* no settle time for what is waited for */
        pthread_cond_broadcast(&r->work);
        while (e == 0 && (r->applied_seq < seq || check_awaited(r, seq))) {
                struct timespec until = abs_mono(deadline);

                if (r->stopping) {
                        e = -ESHUTDOWN;
                        break;
                }
                if (deadline != UINT64_MAX && mono_ns() >= deadline) {
                        e = -ETIMEDOUT;
                        break;
                }
                wake_reader(r);
                wake_syncer(r);
                (void)pthread_cond_timedwait(&r->progress, &r->lock, &until);
                plan_hurry(r->plan);
        }
        if (e == 0 && r->dead_seq_max && r->dead_seq_max <= seq && r->stats.dead_letters)
                e = -EIO;       /* applied, but some records only as dead letters */
        r->sync_waiters--;
        pthread_mutex_unlock(&r->lock);
        return e;
}

int replicator_wait(struct replicator *r, int timeout_ms)
{
        uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : mono_ns() + (uint64_t)timeout_ms * 1000000u;
        int e = 0;

        pthread_mutex_lock(&r->lock);
        while (!r->stats.done) {
                struct timespec until = abs_mono(deadline);

                if (deadline != UINT64_MAX && mono_ns() >= deadline) {
                        e = -ETIMEDOUT;
                        break;
                }
                plan_hurry(r->plan);
                pthread_cond_broadcast(&r->work);
                wake_syncer(r);
                (void)pthread_cond_timedwait(&r->progress, &r->lock, &until);
        }
        if (e == 0 && (r->stats.dead_letters || r->stats.check_unrepaired))
                e = -EIO;
        pthread_mutex_unlock(&r->lock);
        return e;
}

void replicator_pause(struct replicator *r)
{
        pthread_mutex_lock(&r->lock);
        r->paused = r->stats.paused = true;
        pthread_mutex_unlock(&r->lock);
}

void replicator_resume(struct replicator *r)
{
        pthread_mutex_lock(&r->lock);
        r->paused = r->stats.paused = false;
        pthread_cond_broadcast(&r->work);
        pthread_mutex_unlock(&r->lock);
}

int replicator_set_workers(struct replicator *r, unsigned n)
{
        int e = 0;

        if (n < 1 || n > MAX_WORKERS)
                return -EINVAL;
        pthread_mutex_lock(&r->lock);
        /* Workers numbered n and above leave after their job; missing
         * ones start. */
        r->nworkers = n;
        r->stats.workers = n;
        pthread_cond_broadcast(&r->work);
        for (unsigned i = 0; i < n && e == 0; i++)
                if (!r->workers[i].started || r->workers[i].exited)
                        e = worker_spawn(r, i);
        pthread_mutex_unlock(&r->lock);
        return e;
}

struct retry_ctx {
        struct replicator *r;
        uint64_t seq;
        int error;
};

/* Lock held: plan a dead letter again, as "this path may have changed in any way". */
static int requeue(void *userdata, const struct journal_dead_letter *d)
{
        struct retry_ctx *c = userdata;
        struct journal_record rec = {
                .type = JOURNAL_CLOSE_WRITE, .seq = c->seq, .time_ns = d->time_ns,
                .path = d->path, .path_len = (uint16_t)strlen(d->path),
        };

        if (replicator_path_valid(d->path, strlen(d->path)) < 0)
                return 0;       /* invalid for good: it stays a dead letter only in history */
        rec.type = JOURNAL_UNLINK;      /* removal too, if the source has none now */
        if (plan_add(c->r->plan, &rec, mono_ns()) < 0)
                c->error = -ENOMEM;
        rec.type = JOURNAL_CLOSE_WRITE;
        if (plan_add(c->r->plan, &rec, mono_ns()) < 0)
                c->error = -ENOMEM;
        if (d->path2 && *d->path2 && replicator_path_valid(d->path2, strlen(d->path2)) == 0) {
                rec.path = d->path2;
                rec.path_len = (uint16_t)strlen(d->path2);
                (void)plan_add(c->r->plan, &rec, mono_ns());
        }
        return 0;
}

int replicator_retry(struct replicator *r, uint64_t *ret_count)
{
        struct retry_ctx c = { .r = r };
        uint64_t n = 0;
        int e;

        pthread_mutex_lock(&r->lock);
        /* They stand for records the cursor passed: hold it at the journal's
         * head until they are done. */
        c.seq = r->read_seq;
        e = journal_dead_letters_take(r->opt.journal_fd, r->cursor, requeue, &c, &n);
        if (e == 0 && n) {
                r->stats.dead_letters = n > r->stats.dead_letters ? 0 : r->stats.dead_letters - n;
                r->stats.dead_letters_stored = 0;       /* the file was taken whole */
                r->dead_seq_max = 0;
                pthread_cond_broadcast(&r->work);
        }
        pthread_mutex_unlock(&r->lock);
        if (e == 0 && ret_count)
                *ret_count = n;
        return e < 0 ? e : c.error;
}

void replicator_get_stats(struct replicator *r, struct replicator_stats *ret)
{
        pthread_mutex_lock(&r->lock);
        plan_counts(r->plan, &r->stats.queued, &r->stats.running, &r->stats.waiting_retry);
        plan_waiting(r->plan, &r->stats.held, &r->stats.barriers, &r->stats.parked);
        r->stats.oldest_pending_ns = plan_oldest_ns(r->plan);
        r->stats.head_seq = r->eof_seq > r->read_seq ? r->eof_seq : r->read_seq;
        r->stats.target_sync_ms = r->syncing_since_ns ? (mono_ns() - r->syncing_since_ns) / 1000000u : 0;
        {
                const struct job *j = plan_oldest(r->plan);
                uint64_t now = mono_ns();

                r->stats.stalled_ms = j && !r->paused && !r->target_lost && now > r->moved_ns ?
                                              (now - r->moved_ns) / 1000000u : 0;
                snprintf(r->stats.oldest_path, sizeof(r->stats.oldest_path), "%s", j ? j->path : "");
                r->stats.oldest_state = j ? plan_state_name(j->state) : NULL;
                r->stats.oldest_runs = j ? j->runs : 0;
        }
        *ret = r->stats;
        /* and those not noted since the last round that took the set: a
         * never-quiet journal has only busy rounds, which leave it */
        if (r->checks)
                ret->check_skipped += check_set_skipped(r->checks);
        pthread_mutex_unlock(&r->lock);
}

void replicator_shutdown(struct replicator *r)
{
        if (!r)
                return;
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        pthread_cond_broadcast(&r->work);
        pthread_cond_broadcast(&r->progress);
        pthread_cond_broadcast(&r->syncer);
        pthread_mutex_unlock(&r->lock);
        if (r->wake_fd >= 0)
                wake_reader(r);
}

struct replicator *replicator_stop(struct replicator *r, int drain_ms)
{
        unsigned i;

        if (!r)
                return NULL;
        if (drain_ms > 0 && r->reader_started)
                (void)replicator_sync(r, 0, drain_ms);
        replicator_shutdown(r);
        if (r->reader_started)
                pthread_join(r->reader, NULL);
        if (r->syncer_started)
                pthread_join(r->syncer_thread, NULL);
        for (i = 0; i < MAX_WORKERS; i++) {
                if (r->workers[i].started)
                        pthread_join(r->workers[i].tid, NULL);
                if (r->workers[i].ctx.copier)
                        r->copy_ops->free(r->workers[i].ctx.copier);
                apply_ctx_release(&r->workers[i].ctx);
        }
        plan_free(r->plan);
        link_map_free(r->links);
        check_set_free(r->checks);
        found_free(&r->pending);
        journal_applied_close(r->applied);
        if (r->wake_fd >= 0)
                close(r->wake_fd);
        if (r->lock_fd >= 0)
                close(r->lock_fd);
        pthread_cond_destroy(&r->work);
        pthread_cond_destroy(&r->progress);
        pthread_cond_destroy(&r->syncer);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}
