/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirrorfs: mount SOURCE at MOUNTPOINT through FUSE, journal every change.
 *
 * Start-up is all or nothing: the source is opened before the mount (so
 * SOURCE may equal MOUNTPOINT: the daemon serves the tree beneath its own
 * mount), the journal is opened and recovered, the file system is mounted,
 * and only then does the command return 0.  Without -f the daemon forks
 * first and the parent waits on a pipe for "ready" or for the error, which
 * it prints: a failed start never leaves a half-working mount behind, and
 * threads are never lost to a fork after they started.
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
#include <sys/stat.h>
#include <grp.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "fs.h"

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
        fuse_log(FUSE_LOG_WARNING, "mirrorfs: journal %s offset %llu: %s\n", p->segment,
                 (unsigned long long)p->offset, p->detail);
}

static void replicator_event(void *userdata, const struct replicator_event *ev)
{
        static const char *const kinds[] = { "", "retry", "dead letter", "events lost", "error" };
        int level = ev->kind == REPLICATOR_EVENT_RETRY ? FUSE_LOG_WARNING : FUSE_LOG_ERR;

        (void)userdata;
        fuse_log(level, "mirrorfs: replicator %s: %s '%s'%s%s (seq %llu)\n", kinds[ev->kind], ev->what, ev->path,
                 ev->error ? ": " : "", ev->error ? strerror(-ev->error) : "", (unsigned long long)ev->seq);
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
        fs->se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), fs);
        if (!fs->se) {
                snprintf(err, ERRLEN, "cannot start FUSE session (bad FUSE option?)");
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
                        .on_event = replicator_event,
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
                                 r == -EXDEV ? " (its cursor belongs to another journal)" : "");
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
                fuse_log(FUSE_LOG_ERR, "mirrorfs: cannot write the mount record: %s\n", strerror(-r));
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

static void detach(int fd)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                if (null > 2)
                        close(null);
        }
        /* Never a word on the jobs' terminals: syslog from now on. */
        fuse_log_enable_syslog("mirrorfs", LOG_PID, LOG_DAEMON);
        (void)!write(fd, "", 1);
        close(fd);
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

                fuse_session_unmount(fs->se);
                fuse_remove_signal_handlers(fs->se);
                fuse_session_destroy(fs->se);
                fs->se = NULL;
                /* Every release has been answered: the journal is complete. */
                if (fs->journal && journal_append(fs->journal, &unmount, NULL) < 0)
                        fuse_log(FUSE_LOG_ERR, "mirrorfs: cannot write the unmount record\n");
        }
        /* Finish what is journaled, within the bound (the status socket
         * shows the drain); the rest waits in the journal for the next
         * start. */
        if (fs->replicator && fs->opt.drain_timeout)
                (void)replicator_sync(fs->replicator, 0, (int)(fs->opt.drain_timeout * 1000));
        replicator_shutdown(fs->replicator);    /* syncs still waiting are answered */
        fs_status_stop(fs);
        fs->replicator = replicator_stop(fs->replicator, 0);
        fs->journal = journal_close(fs->journal);
        fs_inodes_free(fs);
        if (fs->target_fd > 0)
                close(fs->target_fd);
        if (fs->journal_fd > 0)
                close(fs->journal_fd);
        if (fs->source_fd > 0)
                close(fs->source_fd);
        pthread_mutex_destroy(&fs->lock);
}

int main(int argc, char **argv)
{
        struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
        char err[ERRLEN];
        struct fs *fs;
        int ready = -1, r;

        fs = calloc(1, sizeof(*fs));
        if (!fs) {
                fprintf(stderr, "mirrorfs: out of memory\n");
                return 1;
        }
        fs->source_fd = fs->journal_fd = fs->target_fd = -1;
        pthread_mutex_init(&fs->lock, NULL);
        if (fs_options_parse(&args, &fs->opt, err, sizeof(err)) < 0) {
                fprintf(stderr, "mirrorfs: %s\n", err);
                return 1;
        }
        if (fs->opt.show_help) {
                fs_options_usage();
                return 0;
        }
        if (fs->opt.show_version) {
                printf("mirrorfs %s (libfuse %s)\n", MIRRORFS_VERSION, fuse_pkgversion());
                return 0;
        }
        if (check_paths(&fs->opt, &fs->paths, err) < 0) {
                fprintf(stderr, "mirrorfs: %s\n", err);
                paths_free(&fs->paths);
                return 1;
        }
        /* Modes arrive from the kernel with the caller's umask applied. */
        umask(0);
        fs->self_uid = geteuid();
        fs->self_gid = getegid();
        /* Creates switch the thread's groups (creds.c) and switch back to
         * none: start with none, before any thread exists. */
        if (fs->self_uid == 0 && setgroups(0, NULL) < 0) {
                fprintf(stderr, "mirrorfs: cannot drop supplementary groups: %s\n", strerror(errno));
                return 1;
        }
        if (!fs->opt.foreground)
                ready = daemon_fork();
        if (start(fs, &args, &fs->paths, err) < 0) {
                report(ready, err);
                stop(fs);
                return 1;
        }
        if (ready >= 0) {
                (void)!chdir("/");
                detach(ready);
        }
        fuse_log(FUSE_LOG_INFO, "mirrorfs: serving '%s' at '%s', journal '%s'%s\n", fs->paths.source,
                 fs->paths.mountpoint, fs->paths.journal, fs->passthrough ? ", kernel passthrough" : "");
        r = serve(fs);
        stop(fs);
        paths_free(&fs->paths);
        fs_options_free(&fs->opt);
        fuse_opt_free_args(&args);
        free(fs);
        return r ? 1 : 0;
}
