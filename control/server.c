/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * server.c: the control socket (docs/control-protocol.md).
 *
 * One thread polls the listening socket and every client: a client has 5
 * seconds and 1024 bytes to send its one-line request; one that stays
 * silent or sends too much is answered with an error and dropped, without
 * holding anyone else up.  Answers are built in memory and sent with a
 * bounded send timeout.  A sync waits in a thread of its own (at most 16 at
 * a time).  Once a second the thread samples the counters, for the
 * throughput over 10 seconds and 5 minutes.
 *
 * Rights: SO_PEERCRED and SO_PEERGROUPS; control verbs need uid 0 or the
 * socket's group.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"

#define MAX_CLIENTS 64
#define MAX_SYNCS 16
#define REQUEST_TIMEOUT_NS (5ull * 1000000000u)
#define SAMPLES 301                     /* one a second: 5 minutes and one */

struct client {
        int fd;
        size_t len;
        uint64_t deadline_ns;
        char buf[CTL_REQUEST_MAX];
};

struct sample {
        uint64_t t_ns, files, bytes;
};

struct ctl_server {
        struct ctl_server_options opt;
        char *path, *cursor;
        int listen_fd, stop_fd;
        pthread_t thread;
        bool started;
        uint64_t start_ns;
        struct client clients[MAX_CLIENTS];
        struct sample samples[SAMPLES];
        unsigned nsamples, next_sample;
        atomic_int syncs;
};

static uint64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ctl_default_path(const char *dir, char *buf, size_t size)
{
        size_t n = 0;
        const char *p = dir;
        int w;

        while (*p == '/')
                p++;
        w = snprintf(buf, size, "/run/mirrorfs/%s", *p ? p : "root");
        if (w < 0 || (size_t)w + 5 >= size || (size_t)w + 5 > sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
                return -ENAMETOOLONG;
        for (n = strlen("/run/mirrorfs/"); buf[n]; n++)
                if (buf[n] == '/')
                        buf[n] = '-';
        strcat(buf, ".sock");
        return 0;
}

/* ---- answers ---- */

static void send_all(int fd, const char *p, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;         /* the client went away or is too slow */
                p += n;
                len -= (size_t)n;
        }
}

static void answer_ok(int fd, const char *body, size_t len)
{
        char head[48];
        int n = snprintf(head, sizeof(head), "OK %zu\n", len);

        send_all(fd, head, (size_t)n);
        send_all(fd, body, len);
}

static void answer_err(int fd, int err, const char *msg)
{
        char line[256];
        int n = snprintf(line, sizeof(line), "ERR %s %s\n", ctl_errno_name(err), msg);

        send_all(fd, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
}

/*
 * The answer is out: end the connection.  Unread input (a request that was
 * too long) would make close() reset the connection before the client read
 * the answer, so it is drained first, a little.
 */
static void finish(int fd)
{
        char sink[4096];

        (void)shutdown(fd, SHUT_WR);
        for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
                ;
        close(fd);
}

static void prepare_send(int fd)
{
        struct timeval tv = { .tv_sec = 2 };
        int flags = fcntl(fd, F_GETFL);

        if (flags >= 0)
                (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- rights ---- */

static bool may_control(struct ctl_server *s, int fd)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);
        gid_t groups[256];

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return false;
        if (cred.uid == 0)
                return true;
        if (s->opt.group == (gid_t)-1)
                return false;
        if (cred.gid == s->opt.group)
                return true;
        len = sizeof(groups);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return false;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == s->opt.group)
                        return true;
        return false;
}

/* ---- throughput ---- */

static void sample_now(struct ctl_server *s)
{
        struct ctl_status st = { 0 };

        s->opt.ops->status(s->opt.userdata, &st);
        s->samples[s->next_sample] = (struct sample) { mono_ns(), st.files_copied, st.bytes_copied };
        s->next_sample = (s->next_sample + 1) % SAMPLES;
        if (s->nsamples < SAMPLES)
                s->nsamples++;
}

/* files/s and MB/s between now and the sample @back seconds ago (or the oldest). */
static void rate(struct ctl_server *s, const struct ctl_status *st, unsigned back, double *files, double *mb)
{
        unsigned k = back < s->nsamples ? back : s->nsamples - 1;
        const struct sample *old;
        double dt;

        *files = *mb = 0;
        if (s->nsamples == 0)
                return;
        old = &s->samples[(s->next_sample + SAMPLES - 1 - k) % SAMPLES];
        dt = (double)(mono_ns() - old->t_ns) / 1e9;
        if (dt <= 0.5)
                return;
        *files = (double)(st->files_copied - old->files) / dt;
        *mb = (double)(st->bytes_copied - old->bytes) / dt / 1e6;
}

static void status_now(struct ctl_server *s, struct ctl_status *st)
{
        *st = (struct ctl_status) { 0 };
        s->opt.ops->status(s->opt.userdata, st);
        st->uptime_s = (mono_ns() - s->start_ns) / 1000000000u;
        rate(s, st, 10, &st->files_per_s_10s, &st->mb_per_s_10s);
        rate(s, st, 300, &st->files_per_s_5m, &st->mb_per_s_5m);
}

/* ---- verbs ---- */

struct sync_job {
        struct ctl_server *s;
        int fd;
        int timeout_ms;
};

static void *sync_main(void *arg)
{
        struct sync_job *j = arg;
        uint64_t seq = 0;
        char body[64];
        int r;

        r = j->s->opt.ops->sync(j->s->opt.userdata, j->timeout_ms, &seq);
        prepare_send(j->fd);
        if (r < 0) {
                answer_err(j->fd, r, r == -ETIMEDOUT ? "not everything was applied in time"
                                   : r == -EIO ? "applied, but some changes are dead letters"
                                   : "cannot sync");
        } else {
                int n = snprintf(body, sizeof(body), "{\"applied_seq\":%llu}\n", (unsigned long long)seq);

                answer_ok(j->fd, body, (size_t)n);
        }
        finish(j->fd);
        atomic_fetch_sub(&j->s->syncs, 1);
        free(j);
        return NULL;
}

/* Answer @req on @fd; returns true when @fd was handed to a thread. */
static bool handle(struct ctl_server *s, int fd, const struct ctl_request *req)
{
        char *body = NULL;
        size_t len = 0;
        FILE *f;
        int r = 0;

        if (req->control && !may_control(s, fd)) {
                answer_err(fd, -EPERM, "this needs root or the socket's group");
                return false;
        }
        if (req->verb == CTL_SYNC) {
                struct sync_job *j;
                pthread_t t;

                if (atomic_fetch_add(&s->syncs, 1) >= MAX_SYNCS) {
                        atomic_fetch_sub(&s->syncs, 1);
                        answer_err(fd, -EBUSY, "too many syncs waiting");
                        return false;
                }
                j = malloc(sizeof(*j));
                if (j) {
                        *j = (struct sync_job) { s, fd, req->num ? (int)req->num : -1 };
                        if (pthread_create(&t, NULL, sync_main, j) == 0) {
                                pthread_detach(t);
                                return true;
                        }
                        free(j);
                }
                atomic_fetch_sub(&s->syncs, 1);
                answer_err(fd, -ENOMEM, "cannot start a sync");
                return false;
        }
        f = open_memstream(&body, &len);
        if (!f) {
                answer_err(fd, -ENOMEM, "out of memory");
                return false;
        }
        switch (req->verb) {
        case CTL_VERSION: {
                struct ctl_status st = { 0 };

                s->opt.ops->status(s->opt.userdata, &st);
                fprintf(f, "{\"protocol\":%d,\"version\":\"%s\",\"role\":\"%s\"}\n", CTL_PROTOCOL, MIRRORFS_VERSION,
                        st.role ? st.role : "");
                break;
        }
        case CTL_STATUS:
        case CTL_METRICS: {
                struct ctl_status st;

                status_now(s, &st);
                if (req->verb == CTL_STATUS)
                        ctl_render_status_json(f, &st);
                else
                        ctl_render_metrics(f, &st);
                break;
        }
        case CTL_DEAD_LETTERS:
                r = ctl_render_dead_letters(f, s->opt.journal_fd, s->cursor);
                break;
        case CTL_REPORT: {
                struct ctl_report_row *rows = NULL;
                struct timespec now;
                uint64_t since;
                size_t n;

                clock_gettime(CLOCK_REALTIME, &now);
                since = (uint64_t)now.tv_sec > req->num ? ((uint64_t)now.tv_sec - req->num) * 1000000000u : 0;
                r = ctl_report(s->opt.journal_fd, s->cursor, since, req->by_hour, &rows, &n);
                if (r == 0)
                        ctl_render_report_json(f, since, rows, n);
                free(rows);
                break;
        }
        case CTL_PAUSE:
        case CTL_RESUME:
                r = s->opt.ops->pause(s->opt.userdata, req->verb == CTL_PAUSE);
                fprintf(f, "{\"paused\":%s}\n", req->verb == CTL_PAUSE ? "true" : "false");
                break;
        case CTL_WORKERS:
                r = s->opt.ops->workers(s->opt.userdata, (unsigned)req->num);
                fprintf(f, "{\"workers\":%llu}\n", (unsigned long long)req->num);
                break;
        case CTL_RETRY: {
                uint64_t n = 0;

                r = s->opt.ops->retry(s->opt.userdata, &n);
                fprintf(f, "{\"requeued\":%llu}\n", (unsigned long long)n);
                break;
        }
        default:
                r = -ENOSYS;
                break;
        }
        if (fclose(f) != 0 && r == 0)
                r = -ENOMEM;
        if (r < 0)
                answer_err(fd, r, r == -ENOTSUP ? "no replicator in this daemon (replicate=off)" : strerror(-r));
        else
                answer_ok(fd, body, len);
        free(body);
        return false;
}

/* A client's bytes arrived. */
static void on_client(struct ctl_server *s, struct client *c)
{
        struct ctl_request req;
        ssize_t n;
        char *nl;
        int r;

        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                close(c->fd);
                c->fd = -1;
                return;
        }
        c->len += (size_t)n;
        nl = memchr(c->buf, '\n', c->len);
        if (!nl && c->len < sizeof(c->buf))
                return;                 /* more to come */
        prepare_send(c->fd);
        if (!nl) {
                answer_err(c->fd, -EINVAL, "request too long");
        } else {
                r = ctl_parse_request(c->buf, (size_t)(nl - c->buf), &req);
                if (r == -ENOSYS)
                        answer_err(c->fd, r, "unknown verb");
                else if (r < 0)
                        answer_err(c->fd, r, "malformed request");
                else if (handle(s, c->fd, &req)) {
                        c->fd = -1;     /* a sync thread owns it now */
                        return;
                }
        }
        finish(c->fd);
        c->fd = -1;
}

static void *server_main(void *arg)
{
        struct ctl_server *s = arg;
        uint64_t next_sample = 0;

        for (;;) {
                struct pollfd pf[2 + MAX_CLIENTS];
                struct client *who[2 + MAX_CLIENTS];
                uint64_t now = mono_ns();
                int n = 0, i;

                if (now >= next_sample) {
                        sample_now(s);
                        next_sample = now + 1000000000u;
                }
                pf[n++] = (struct pollfd) { .fd = s->stop_fd, .events = POLLIN };
                pf[n++] = (struct pollfd) { .fd = s->listen_fd, .events = POLLIN };
                for (i = 0; i < MAX_CLIENTS; i++) {
                        struct client *c = &s->clients[i];

                        if (c->fd < 0)
                                continue;
                        if (now >= c->deadline_ns) {
                                prepare_send(c->fd);
                                answer_err(c->fd, -ETIMEDOUT, "no request within 5 seconds");
                                finish(c->fd);
                                c->fd = -1;
                                continue;
                        }
                        who[n] = c;
                        pf[n++] = (struct pollfd) { .fd = c->fd, .events = POLLIN };
                }
                if (poll(pf, (nfds_t)n, 250) < 0 && errno != EINTR)
                        break;
                if (pf[0].revents)
                        break;          /* stop */
                for (i = 2; i < n; i++)
                        if (pf[i].revents && who[i]->fd >= 0)
                                on_client(s, who[i]);
                if (pf[1].revents & POLLIN) {
                        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                        if (fd >= 0) {
                                for (i = 0; i < MAX_CLIENTS && s->clients[i].fd >= 0; i++)
                                        ;
                                if (i == MAX_CLIENTS) {
                                        prepare_send(fd);
                                        answer_err(fd, -EBUSY, "too many clients");
                                        close(fd);
                                } else {
                                        s->clients[i] = (struct client) {
                                                .fd = fd, .deadline_ns = mono_ns() + REQUEST_TIMEOUT_NS,
                                        };
                                }
                        }
                }
        }
        return NULL;
}

/* Make the socket: a stale one (nobody answers) is replaced, a live one is not. */
static int make_socket(struct ctl_server *s)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char *dir, *slash;
        int fd, r;

        if (strlen(s->path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, s->path);
        dir = strdup(s->path);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                        r = -errno;
                        free(dir);
                        return r;
                }
        }
        free(dir);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                close(fd);
                return -EADDRINUSE;
        }
        close(fd);
        (void)unlink(s->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            chown(s->path, (uid_t)-1, s->opt.group) < 0 || chmod(s->path, 0660) < 0 || listen(fd, 64) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        s->listen_fd = fd;
        return 0;
}

int ctl_server_start(const struct ctl_server_options *opt, struct ctl_server **ret)
{
        struct ctl_server *s = calloc(1, sizeof(*s));
        int r, i;

        if (!s)
                return -ENOMEM;
        s->opt = *opt;
        s->listen_fd = s->stop_fd = -1;
        for (i = 0; i < MAX_CLIENTS; i++)
                s->clients[i].fd = -1;
        s->path = strdup(opt->path);
        s->cursor = strdup(opt->cursor ? opt->cursor : "replicator");
        s->start_ns = mono_ns();
        if (!s->path || !s->cursor) {
                r = -ENOMEM;
                goto fail;
        }
        r = make_socket(s);
        if (r < 0)
                goto fail;
        s->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (s->stop_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = -pthread_create(&s->thread, NULL, server_main, s);
        if (r < 0)
                goto fail;
        s->started = true;
        *ret = s;
        return 0;
fail:
        ctl_server_stop(s);
        return r;
}

struct ctl_server *ctl_server_stop(struct ctl_server *s)
{
        uint64_t one = 1;
        int i;

        if (!s)
                return NULL;
        if (s->started) {
                (void)!write(s->stop_fd, &one, sizeof(one));
                pthread_join(s->thread, NULL);
        }
        /* Syncs in flight answer on their own; wait for them (they finish
         * when the daemon's sync returns). */
        while (atomic_load(&s->syncs) > 0)
                usleep(10000);
        for (i = 0; i < MAX_CLIENTS; i++)
                if (s->clients[i].fd >= 0)
                        close(s->clients[i].fd);
        if (s->listen_fd >= 0) {
                close(s->listen_fd);
                (void)unlink(s->path);
        }
        if (s->stop_fd >= 0)
                close(s->stop_fd);
        free(s->path);
        free(s->cursor);
        free(s);
        return NULL;
}
