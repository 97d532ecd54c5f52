/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirrorfs: mount SOURCE at MOUNTPOINT through FUSE, journal every change.
 *
 * Start-up is all or nothing: the source is opened before the mount (so
 * SOURCE may equal MOUNTPOINT: the daemon serves the tree beneath its own
 * mount), the journal is opened and recovered, the file system is mounted,
 * the kernel's INIT is answered, and only then is the daemon ready: the
 * command returns 0 (without -f the daemon forks first and the parent
 * waits on a pipe for "ready" or for the error, which it prints), and
 * systemd hears READY=1 (Type=notify).  A failed start never leaves a
 * half-working mount behind, and threads are never lost to a fork after
 * they started.
 *
 * Messages go to stderr in the foreground (with journald's level prefixes
 * under systemd), to syslog once detached; never to a job's terminal.
 *
 * What it does not do: the file system (ops-*.c), the replicator
 * (replicator/), the status socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <grp.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "fs.h"
#include "log.h"

#define ERRLEN 1024

static bool inside(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        if (strcmp(dir, "/") == 0)
                return true;
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* realpath() of an existing directory, or a one-line error. */
static char *existing_dir(const char *what, const char *path, char *err)
{
        struct stat st;
        char *real;

        real = realpath(path, NULL);
        if (!real) {
                snprintf(err, ERRLEN, "cannot use %s '%s': %s", what, path, strerror(errno));
                return NULL;
        }
        if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
                snprintf(err, ERRLEN, "cannot use %s '%s': not a directory", what, path);
                free(real);
                return NULL;
        }
        return real;
}

/* The absolute path @path will have: the directory may not exist yet, its
 * parent must. */
static char *future_dir(const char *what, const char *path, char *err)
{
        char *copy, *parent, *real, *out;
        const char *base;
        struct stat st;

        if (stat(path, &st) == 0)
                return existing_dir(what, path, err);
        copy = strdup(path);
        if (!copy)
                return NULL;
        /* trailing slashes do not name another directory */
        for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
                copy[n - 1] = 0;
        base = strrchr(copy, '/');
        parent = base ? (base == copy ? "/" : copy) : ".";
        if (base) {
                copy[base - copy] = base == copy ? copy[0] : 0;
                base++;
        } else {
                base = copy;
        }
        real = realpath(parent, NULL);
        if (!real || !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
                snprintf(err, ERRLEN, "cannot use %s '%s': %s", what, path,
                         real ? "not a directory name" : strerror(errno));
                free(real);
                free(copy);
                return NULL;
        }
        if (asprintf(&out, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base) < 0)
                out = NULL;
        free(real);
        free(copy);
        return out;
}

static void paths_free(struct fs_paths *p)
{
        free(p->source);
        free(p->mountpoint);
        free(p->target);
        free(p->journal);
}

/* Resolve and check every directory before anything is started. */
static int check_paths(const struct fs_options *o, struct fs_paths *p, char *err)
{
        if (!(p->source = existing_dir("source", o->source, err)))
                return -1;
        if (!(p->mountpoint = existing_dir("mount point", o->mountpoint, err)))
                return -1;
        if (!(p->journal = future_dir("journal directory", o->journal, err)))
                return -1;
        if (o->target && !(p->target = existing_dir("target", o->target, err)))
                return -1;
        if (access(p->source, R_OK | X_OK) < 0) {
                snprintf(err, ERRLEN, "cannot read source '%s': %s", o->source, strerror(errno));
                return -1;
        }
        if (inside(p->journal, p->source)) {
                snprintf(err, ERRLEN, "the journal '%s' is inside the source '%s': its writes would be journaled",
                         o->journal, o->source);
                return -1;
        }
        if (p->target && (inside(p->target, p->source) || inside(p->source, p->target))) {
                snprintf(err, ERRLEN, "the target '%s' and the source '%s' overlap: the mirror would copy itself",
                         o->target, o->source);
                return -1;
        }
        if (p->target && inside(p->journal, p->target)) {
                snprintf(err, ERRLEN, "the journal '%s' is inside the target '%s'", o->journal, o->target);
                return -1;
        }
        /* Made only now that its place is known to be right. */
        if (mkdir(p->journal, 0750) < 0 && errno != EEXIST) {
                snprintf(err, ERRLEN, "cannot create journal directory '%s': %s", o->journal, strerror(errno));
                return -1;
        }
        return 0;
}

static void journal_problem(void *userdata, const struct journal_problem *p)
{
        log_msg(LOG_WARNING, "journal %s offset %llu: %s", p->segment,
                 (unsigned long long)p->offset, p->detail);
}

static void replicator_event(void *userdata, const struct replicator_event *ev)
{
        int level = ev->kind == REPLICATOR_EVENT_RETRY || ev->kind == REPLICATOR_EVENT_STALLED ? LOG_WARNING : LOG_ERR;

        (void)userdata;
        log_msg(level, "replicator %s: %s '%s'%s%s (seq %llu)", replicator_event_name(ev->kind), ev->what, ev->path,
                 ev->error ? ": " : "", ev->error ? strerror(-ev->error) : "", (unsigned long long)ev->seq);
}

/* The journal holds records it could not write yet (a full disk): the
 * replicator's check waits for them. */
static bool journal_behind(void *userdata)
{
        struct fs *fs = userdata;
        struct journal_stats js;

        journal_get_stats(fs->journal, &js);
        return js.held > 0;
}

static int start(struct fs *fs, struct fuse_args *args, const struct fs_paths *p, char *err)
{
        struct journal_options jo = {
                .durability = fs->opt.durability,
                .commit_interval_us = (uint32_t)(fs->opt.commit_interval_ms * 1000),
                .segment_size = fs->opt.segment_size,
        };
        struct journal_record mount = { .type = JOURNAL_MOUNT, .aux = (uint32_t)getpid(),
                                        .name = "mirrorfs " MIRRORFS_VERSION };
        int r;

        fs->source_fd = open(p->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fs->source_fd < 0) {
                snprintf(err, ERRLEN, "cannot open source '%s': %s", fs->opt.source, strerror(errno));
                return -1;
        }
        fs->journal_fd = open(p->journal, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fs->journal_fd < 0) {
                snprintf(err, ERRLEN, "cannot open journal directory '%s': %s", fs->opt.journal, strerror(errno));
                return -1;
        }
        /* A daemon just unmounted may still be closing the journal: give
         * it a few seconds before calling the journal taken. */
        for (int tries = 0; tries < 100; tries++) {
                r = journal_open(fs->journal_fd, &jo, journal_problem, fs, &fs->journal);
                if (r != -EBUSY)
                        break;
                usleep(50000);
        }
        if (r < 0) {
                snprintf(err, ERRLEN, "cannot open journal '%s': %s%s", fs->opt.journal, strerror(-r),
                         r == -EBUSY ? " (another mirrorfs or writer is using it)" : "");
                return -1;
        }
        r = fs_inodes_init(fs);
        if (r < 0) {
                snprintf(err, ERRLEN, "cannot use source '%s': %s%s", fs->opt.source, strerror(-r),
                         r == -EOPNOTSUPP ? " (its file system has no file handles)" : "");
                return -1;
        }
        /* A slot for every change the threads can make at once: the
         * workers, the io_uring queues' (one per CPU) and the syncs'. */
        r = journal_inflight_open(fs->journal, 2 * (unsigned)fs->opt.threads + (unsigned)get_nprocs_conf() + 16,
                                  &fs->inflight);
        if (r == 0)
                r = fs_recover(fs);
        if (r < 0) {
                snprintf(err, ERRLEN, "cannot recover the changes of the previous daemon from '%s/inflight': %s",
                         fs->opt.journal, strerror(-r));
                return -1;
        }
        fs->se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), fs);
        if (!fs->se) {
                snprintf(err, ERRLEN, "cannot start FUSE session (bad FUSE option?)");
                return -1;
        }
        r = fs_slow_start(fs->se, (unsigned)fs->opt.threads, &fs->slow);
        if (r < 0) {
                snprintf(err, ERRLEN, "cannot start: %s", strerror(-r));
                return -1;
        }
        if (fuse_set_signal_handlers(fs->se) < 0) {
                snprintf(err, ERRLEN, "cannot set signal handlers");
                return -1;
        }
        if (fuse_session_mount(fs->se, p->mountpoint) < 0) {
                snprintf(err, ERRLEN, "cannot mount at '%s' (is /dev/fuse there, and are you allowed?)",
                         fs->opt.mountpoint);
                fuse_remove_signal_handlers(fs->se);
                fuse_session_destroy(fs->se);
                fs->se = NULL;
                return -1;
        }
        if (fs->opt.replicate) {
                struct replicator_options ro = {
                        .source_fd = fs->source_fd,
                        .journal_fd = fs->journal_fd,
                        .workers = (unsigned)fs->opt.workers,
                        .retention_s = fs->opt.retention_s,
                        .no_check = !fs->opt.check,
                        .on_event = replicator_event,
                        .journal_behind = journal_behind,
                        .userdata = fs,
                };

                fs->target_fd = open(p->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fs->target_fd < 0) {
                        snprintf(err, ERRLEN, "cannot open target '%s': %s", fs->opt.target, strerror(errno));
                        return -1;
                }
                ro.target_fd = fs->target_fd;
                ro.target_path = p->target;
                r = replicator_start(&ro, &fs->replicator);
                if (r < 0) {
                        snprintf(err, ERRLEN, "cannot start the replicator: %s%s", strerror(-r),
                                 r == -EXDEV ? " (its cursor belongs to another journal)" :
                                 r == -EBUSY ? " (a mirrorfs-replicator uses cursor 'replicator' of this journal;"
                                               " mount with replicate=off, or stop it)" : "");
                        return -1;
                }
        }
        if (fs_status_start(fs, err, ERRLEN) < 0)
                return -1;
        mount.path = p->source;
        mount.path2 = p->mountpoint;
        r = journal_append(fs->journal, &mount, NULL);
        if (r == 0)
                r = journal_commit(fs->journal, 0);
        if (r < 0)
                log_msg(LOG_ERR, "cannot write the mount record: %s", strerror(-r));
        return 0;
}

/*
 * Fork; the parent waits for the child's verdict and exits with it.
 * Returns (in the child) the descriptor to report on.
 */
static int daemon_fork(void)
{
        char msg[ERRLEN];
        ssize_t n, got = 0;
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0) {
                fprintf(stderr, "mirrorfs: cannot create a pipe: %s\n", strerror(errno));
                exit(1);
        }
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "mirrorfs: cannot fork: %s\n", strerror(errno));
                exit(1);
        }
        if (pid > 0) {
                close(p[1]);
                while ((n = read(p[0], msg + got, sizeof(msg) - 1 - (size_t)got)) > 0)
                        got += n;
                if (got == 1 && msg[0] == 0)
                        exit(0);
                msg[got] = 0;
                fprintf(stderr, "mirrorfs: %s\n", got ? msg : "the daemon exited while starting");
                exit(1);
        }
        close(p[0]);
        if (setsid() < 0)
                _exit(1);
        return p[1];
}

static void report(int fd, const char *err)
{
        if (fd < 0) {
                fprintf(stderr, "mirrorfs: %s\n", err);
                return;
        }
        (void)!write(fd, err, strlen(err));
        close(fd);
}

static void detach(struct fs *fs, int fd)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* Never a word on the jobs' terminals: syslog from now on. */
        log_setup("mirrorfs", LOG_TARGET_SYSLOG, fs->opt.log_level);
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                if (null > 2)
                        close(null);
        }
        (void)!chdir("/");
        (void)!write(fd, "", 1);
        close(fd);
}

void fs_ready(struct fs *fs, const char *error)
{
        if (error) {
                snprintf(fs->start_error, sizeof(fs->start_error), "%s", error);
                fuse_session_exit(fs->se);
                return;
        }
        if (fs->ready_fd >= 0) {
                detach(fs, fs->ready_fd);
                fs->ready_fd = -1;
        }
        log_msg(LOG_INFO, "serving '%s' at '%s', journal '%s'%s%s%s%s", fs->paths.source, fs->paths.mountpoint,
                fs->paths.journal, fs->passthrough ? ", kernel passthrough" : ", reads and writes through the daemon",
                fs->io_uring ? ", requests over io_uring" : "",
                fs->replicator ? ", mirroring to " : ", replicate=off", fs->replicator ? fs->paths.target : "");
        (void)sd_notifyf(0, "READY=1\nMAINPID=%lu\nSTATUS=serving %s at %s", (unsigned long)getpid(),
                         fs->paths.source, fs->paths.mountpoint);
}

__attribute__((format(printf, 2, 0)))
static void log_bridge(enum fuse_log_level level, const char *fmt, va_list ap)
{
        log_vmsg((int)level, fmt, ap);
}

static int serve(struct fs *fs)
{
        struct fuse_loop_config *cfg;
        int r;

        if (fs->opt.singlethread)
                return fuse_session_loop(fs->se);
        cfg = fuse_loop_cfg_create();
        if (!cfg)
                return -ENOMEM;
        fuse_loop_cfg_set_clone_fd(cfg, fs->opt.clone_fd);
        fuse_loop_cfg_set_max_threads(cfg, (unsigned)fs->opt.threads);
        r = fuse_session_loop_mt(fs->se, cfg);
        fuse_loop_cfg_destroy(cfg);
        return r;
}

static void stop(struct fs *fs)
{
        if (fs->se) {
                struct journal_record unmount = { .type = JOURNAL_UNMOUNT };

                /* Tell systemd how long the drain may take (on top of its
                 * own stop timeout). */
                (void)sd_notifyf(0, "STOPPING=1\nSTATUS=unmounting, then draining for at most %llus"
                                 "\nEXTEND_TIMEOUT_USEC=%llu",
                                 (unsigned long long)(fs->replicator ? fs->opt.drain_timeout : 0),
                                 (unsigned long long)((fs->replicator ? fs->opt.drain_timeout : 0) + 30) * 1000000ull);
                /* The syncs still running end (unanswered: the session has
                 * ended) before it goes. */
                fs_slow_quiesce(fs->slow);
                fuse_session_unmount(fs->se);
                fuse_remove_signal_handlers(fs->se);
                fuse_session_destroy(fs->se);
                fs->se = NULL;
                /* Every release has been answered: the journal is complete. */
                if (fs->journal && journal_append(fs->journal, &unmount, NULL) < 0)
                        log_msg(LOG_ERR, "cannot write the unmount record");
        }
        /* Finish what is journaled, within the bound (the status socket
         * shows the drain); the rest waits in the journal for the next
         * start. */
        if (fs->replicator && fs->opt.drain_timeout)
                (void)replicator_sync(fs->replicator, 0, (int)(fs->opt.drain_timeout * 1000));
        replicator_shutdown(fs->replicator);    /* syncs still waiting are answered */
        fs_status_stop(fs);
        fs->replicator = replicator_stop(fs->replicator, 0);
        fs->slow = fs_slow_stop(fs->slow);
        fs->inflight = journal_inflight_close(fs->inflight);
        fs->journal = journal_close(fs->journal);
        fs_inodes_free(fs);
        if (fs->target_fd > 0)
                close(fs->target_fd);
        if (fs->journal_fd > 0)
                close(fs->journal_fd);
        if (fs->source_fd > 0)
                close(fs->source_fd);
}

int main(int argc, char **argv)
{
        struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
        char err[ERRLEN];
        struct fs *fs;
        int ready = -1, ret = 1, r;
        bool served;

        fs = calloc(1, sizeof(*fs));
        if (!fs) {
                fprintf(stderr, "mirrorfs: out of memory\n");
                return 1;
        }
        fs->source_fd = fs->journal_fd = fs->target_fd = fs->ready_fd = -1;
        fuse_set_log_func(log_bridge);
        {
                /* a directory rename must not wait behind a stream of
                 * other changes */
                pthread_rwlockattr_t ra;

                pthread_rwlockattr_init(&ra);
                pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
                pthread_rwlock_init(&fs->nslock, &ra);
                pthread_rwlockattr_destroy(&ra);
        }
        pthread_mutex_init(&fs->lock, NULL);
        if (fs_options_parse(&args, &fs->opt, err, sizeof(err)) < 0) {
                fprintf(stderr, "mirrorfs: %s\n", err);
                goto out;
        }
        if (fs->opt.show_help || fs->opt.show_version) {
                if (fs->opt.show_help)
                        fs_options_usage();
                else
                        printf("mirrorfs %s (libfuse %s)\n", MIRRORFS_VERSION, fuse_pkgversion());
                ret = 0;
                goto out;
        }
        log_setup("mirrorfs", LOG_TARGET_STDERR, fs->opt.log_level);
        if (check_paths(&fs->opt, &fs->paths, err) < 0) {
                fprintf(stderr, "mirrorfs: %s\n", err);
                goto out;
        }
        /* Every file open through the mount is a descriptor here: take
         * all the descriptors allowed (mount.fuse3 and .mount units start
         * us with a soft limit of 1024). */
        {
                struct rlimit rl;

                if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                        rl.rlim_cur = rl.rlim_max;
                        (void)setrlimit(RLIMIT_NOFILE, &rl);
                }
        }
        /* Modes arrive from the kernel with the caller's umask applied. */
        umask(0);
        fs->self_uid = geteuid();
        fs->self_gid = getegid();
        /* Creates switch the thread's groups (creds.c) and switch back to
         * none: start with none, before any thread exists. */
        if (fs->self_uid == 0 && setgroups(0, NULL) < 0) {
                fprintf(stderr, "mirrorfs: cannot drop supplementary groups: %s\n", strerror(errno));
                goto out;
        }
        if (!fs->opt.foreground)
                ready = daemon_fork();
        if (start(fs, &args, &fs->paths, err) < 0) {
                report(ready, err);
                stop(fs);
                goto out;
        }
        /* Ready once the kernel's INIT is answered (fs_ready()). */
        fs->ready_fd = ready;
        r = serve(fs);
        served = fs->ready_fd < 0 && !fs->start_error[0];
        if (!served) {
                /* the session ended before it served */
                snprintf(err, sizeof(err), "%s", fs->start_error[0] ? fs->start_error
                         : "the kernel never sent INIT (the mount went away while starting)");
                if (fs->ready_fd < 0)
                        log_msg(LOG_ERR, "%s", err);
                report(fs->ready_fd, err);
                fs->ready_fd = -1;
                r = -EIO;
        }
        stop(fs);
        if (served)     /* a failed start said why, once */
                log_msg(LOG_INFO, "stopped serving '%s' at '%s'", fs->paths.source, fs->paths.mountpoint);
        /* A loop ended by a signal (SIGTERM, SIGINT, SIGHUP) returns the
         * signal number: a clean stop as much as an unmount. */
        ret = r < 0 ? 1 : 0;
out:
        paths_free(&fs->paths);
        fs_options_free(&fs->opt);
        fuse_opt_free_args(&args);
        pthread_mutex_destroy(&fs->lock);
        pthread_rwlock_destroy(&fs->nslock);
        free(fs);
        return ret;
}
