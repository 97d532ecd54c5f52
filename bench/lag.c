/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lag: write files at a steady rate through a mount and time, from the
 * outside, how long each takes to appear complete in the mirror.
 *
 *   lag MOUNT_DIR TARGET_DIR RATE SECONDS
 *
 * A writer thread creates files of 4 KiB to 1 MiB (log-uniform sizes) at
 * RATE files/s under MOUNT_DIR/lag/d0..d7, noting when each close returns.
 * An inotify watcher on the same directories in TARGET_DIR notes when each
 * file appears there (the replicator publishes a file complete, by link or
 * rename, so its appearance is the moment it is mirrored).  Prints the
 * count, median, p99 and max of close-to-mirrored, and files never seen.
 * Exit 0; 1 on setup errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

#define DIRS 8

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct run {
        const char *mnt, *tgt;
        double rate;
        unsigned n;
        uint64_t *closed, *seen;
        volatile int writer_done;
        int inotify;
        int wd[DIRS];
};

static void *writer(void *arg)
{
        struct run *r = arg;
        static char buf[1 << 20];
        uint64_t start = now_ns();
        unsigned i;

        memset(buf, 'x', sizeof(buf));
        srand(42);
        for (i = 0; i < r->n; i++) {
                uint64_t due = start + (uint64_t)((double)i * 1e9 / r->rate), t;
                char path[4096];
                size_t size;
                int fd;

                while ((t = now_ns()) < due) {
                        uint64_t wait = due - t;
                        struct timespec ts = { (time_t)(wait / 1000000000u), (long)(wait % 1000000000u) };

                        nanosleep(&ts, NULL);
                }
                /* log-uniform between 4 KiB and 1 MiB */
                size = (size_t)(4096.0 * pow(256.0, (double)rand() / RAND_MAX));
                snprintf(path, sizeof(path), "%s/lag/d%u/f%07u", r->mnt, i % DIRS, i);
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
                        perror(path);
                        exit(1);
                }
                close(fd);
                r->closed[i] = now_ns();
        }
        r->writer_done = 1;
        return NULL;
}

static int cmp(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
        struct run r = { 0 };
        pthread_t t;
        unsigned i, seen = 0, missing = 0;
        double *lat;
        uint64_t deadline = 0;

        if (argc != 5) {
                fprintf(stderr, "usage: lag MOUNT_DIR TARGET_DIR RATE SECONDS\n");
                return 1;
        }
        r.mnt = argv[1];
        r.tgt = argv[2];
        r.rate = atof(argv[3]);
        r.n = (unsigned)(r.rate * atof(argv[4]));
        r.closed = calloc(r.n, sizeof(*r.closed));
        r.seen = calloc(r.n, sizeof(*r.seen));
        lat = calloc(r.n, sizeof(*lat));
        r.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (!r.closed || !r.seen || !lat || r.inotify < 0 || r.rate <= 0) {
                fprintf(stderr, "lag: setup failed\n");
                return 1;
        }
        /* the directories, made through the mount, watched in the mirror */
        for (i = 0; i < DIRS; i++) {
                char path[4096];
                int k;

                snprintf(path, sizeof(path), "%s/lag", r.mnt);
                mkdir(path, 0755);
                snprintf(path, sizeof(path), "%s/lag/d%u", r.mnt, i);
                mkdir(path, 0755);
                snprintf(path, sizeof(path), "%s/lag/d%u", r.tgt, i);
                for (k = 0; k < 300 && access(path, F_OK) != 0; k++)
                        usleep(100000);
                r.wd[i] = inotify_add_watch(r.inotify, path, IN_CREATE | IN_MOVED_TO);
                if (r.wd[i] < 0) {
                        fprintf(stderr, "lag: cannot watch %s: %s\n", path, strerror(errno));
                        return 1;
                }
        }
        pthread_create(&t, NULL, writer, &r);
        for (;;) {
                char ev[65536] __attribute__((aligned(8)));
                struct pollfd pf = { r.inotify, POLLIN, 0 };
                ssize_t n;

                if (r.writer_done && !deadline)
                        deadline = now_ns() + 60ull * 1000000000u;      /* stragglers */
                if (deadline && (seen == r.n || now_ns() > deadline))
                        break;
                if (poll(&pf, 1, 100) <= 0)
                        continue;
                while ((n = read(r.inotify, ev, sizeof(ev))) > 0) {
                        uint64_t when = now_ns();

                        for (char *p = ev; p < ev + n;) {
                                struct inotify_event *e = (struct inotify_event *)p;
                                unsigned idx;

                                if (e->len && sscanf(e->name, "f%7u", &idx) == 1 && strlen(e->name) == 8 &&
                                    idx < r.n && !r.seen[idx]) {
                                        r.seen[idx] = when;
                                        seen++;
                                }
                                p += sizeof(*e) + e->len;
                        }
                }
        }
        pthread_join(t, NULL);
        for (i = 0, seen = 0; i < r.n; i++) {
                if (!r.seen[i] || !r.closed[i]) {
                        missing++;
                        continue;
                }
                lat[seen++] = r.seen[i] > r.closed[i] ? (double)(r.seen[i] - r.closed[i]) / 1e9 : 0;
        }
        if (getenv("LAG_TRACE")) {      /* each file: close and mirrored times, for plots */
                FILE *f = fopen(getenv("LAG_TRACE"), "w");

                if (!f)
                        fprintf(stderr, "lag: cannot write LAG_TRACE '%s': %s\n", getenv("LAG_TRACE"), strerror(errno));
                for (i = 0; f && i < r.n; i++)
                        fprintf(f, "%u %.6f %.6f\n", i, r.closed[i] / 1e9, r.seen[i] / 1e9);
                if (f && fclose(f) != 0)
                        fprintf(stderr, "lag: cannot write LAG_TRACE '%s': %s\n", getenv("LAG_TRACE"), strerror(errno));
        }
        qsort(lat, seen, sizeof(*lat), cmp);
        printf("rate %.0f files/s, %u files: median %.3f s, p99 %.3f s, max %.3f s, never seen %u\n", r.rate, r.n,
               seen ? lat[(seen - 1) / 2] : 0, seen ? lat[seen - 1 - seen / 100] : 0, seen ? lat[seen - 1] : 0,
               missing);
        return 0;
}
