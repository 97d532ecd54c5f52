/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-bench.c: `mirrorfs-journal bench`, append throughput and latency
 * of the journal with T threads appending N records in all, the way the
 * mount's worker threads do.  Leaves a valid journal in the directory.
 *
 * Latencies are exact (every append is timed and the samples sorted).
 * "commit latency" is append-to-durable: the append latency itself in
 * strict mode, the journal's own measure (batch written to sync done) in
 * batch mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strutil.h"
#include "journal-tool.h"
#include "journal.h"

struct bench_thread {
        pthread_t tid;
        struct journal *j;
        unsigned index;
        uint64_t records;
        uint64_t *lat_ns;               /* one per record */
        uint64_t errors;
        int first_error;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *bench_main(void *arg)
{
        struct bench_thread *t = arg;
        char path[64];
        uint64_t i;

        for (i = 0; i < t->records; i++) {
                struct journal_record rec = {
                        .type = JOURNAL_CREATE,
                        .mode = 0100644, .uid = 1000, .gid = 1000, .ino = i,
                        .path = path,
                        .aux = 0101,
                };
                uint64_t t0;
                int r;

                snprintf(path, sizeof(path), "bench/t%02u/d%04" PRIu64 "/file-%08" PRIu64, t->index, i / 1000, i);
                t0 = now_ns();
                r = journal_append(t->j, &rec, NULL);
                t->lat_ns[i] = now_ns() - t0;
                if (r < 0) {
                        if (!t->errors)
                                t->first_error = r;
                        t->errors++;
                }
        }
        return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static int parse_durability(const char *s, enum journal_durability *ret)
{
        if (strcmp(s, "batch") == 0)
                *ret = JOURNAL_BATCH;
        else if (strcmp(s, "strict") == 0)
                *ret = JOURNAL_STRICT;
        else if (strcmp(s, "none") == 0)
                *ret = JOURNAL_NONE;
        else
                return -EINVAL;
        return 0;
}

enum { OPT_DIR = 300, OPT_RECORDS, OPT_THREADS, OPT_DURABILITY, OPT_INTERVAL, OPT_SEGMENT };

int cmd_bench(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "dir", required_argument, NULL, OPT_DIR },
                { "records", required_argument, NULL, OPT_RECORDS },
                { "threads", required_argument, NULL, OPT_THREADS },
                { "durability", required_argument, NULL, OPT_DURABILITY },
                { "commit-interval-us", required_argument, NULL, OPT_INTERVAL },
                { "segment-size", required_argument, NULL, OPT_SEGMENT },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        static const char *const mode_names[] = { "batch", "strict", "none" };
        struct journal_options opt = { .durability = JOURNAL_BATCH };
        uint64_t records = 100000, threads = 1, interval = 0, segsize = 0, t0, elapsed, total = 0, errors = 0;
        struct bench_thread *th = NULL;
        struct journal_stats st;
        struct journal *j = NULL;
        const char *dir = NULL;
        uint64_t *all = NULL;
        int c, dirfd = -1, r, ret = 1, first_error = 0;
        uint64_t i;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_DIR:
                        dir = optarg;
                        break;
                case OPT_RECORDS:
                        if (parse_u64_range(optarg, 1, 1000000000, &records) < 0)
                                goto usage;
                        break;
                case OPT_THREADS:
                        if (parse_u64_range(optarg, 1, 1024, &threads) < 0)
                                goto usage;
                        break;
                case OPT_DURABILITY:
                        if (parse_durability(optarg, &opt.durability) < 0)
                                goto usage;
                        break;
                case OPT_INTERVAL:
                        if (parse_u64_range(optarg, 1, 10000000, &interval) < 0)
                                goto usage;
                        opt.commit_interval_us = (uint32_t)interval;
                        break;
                case OPT_SEGMENT:
                        if (parse_u64_range(optarg, 4096, UINT64_MAX, &segsize) < 0)
                                goto usage;
                        opt.segment_size = segsize;
                        break;
                default:
                        goto usage;
                }
        }
        if (!dir || optind != argc)
                goto usage;
        if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
                fprintf(stderr, PROG ": bench: cannot create '%s': %s\n", dir, strerror(errno));
                return 1;
        }
        dirfd = open_journal_dir(dir);
        if (dirfd < 0)
                return 1;
        r = journal_open(dirfd, &opt, NULL, NULL, &j);
        if (r < 0) {
                fprintf(stderr, PROG ": bench: cannot open journal '%s': %s\n", dir, strerror(-r));
                goto out;
        }
        th = calloc(threads, sizeof(*th));
        all = malloc(records * sizeof(*all));
        if (!th || !all) {
                fprintf(stderr, PROG ": bench: out of memory\n");
                goto out;
        }
        for (i = 0; i < threads; i++) {
                th[i].j = j;
                th[i].index = (unsigned)i;
                th[i].records = records / threads + (i < records % threads);
                th[i].lat_ns = all + total;
                total += th[i].records;
        }
        t0 = now_ns();
        for (i = 0; i < threads; i++) {
                r = pthread_create(&th[i].tid, NULL, bench_main, &th[i]);
                if (r) {
                        fprintf(stderr, PROG ": bench: cannot start thread: %s\n", strerror(r));
                        exit(1);
                }
        }
        for (i = 0; i < threads; i++) {
                pthread_join(th[i].tid, NULL);
                errors += th[i].errors;
                if (th[i].errors && !first_error)
                        first_error = th[i].first_error;
        }
        elapsed = now_ns() - t0;
        journal_get_stats(j, &st);
        j = journal_close(j);

        qsort(all, records, sizeof(*all), cmp_u64);
        printf("bench: %" PRIu64 " records, %" PRIu64 " threads, durability %s, dir %s\n", records, threads,
               mode_names[opt.durability], dir);
        printf("elapsed %.3f s\n", (double)elapsed / 1e9);
        printf("%.0f records/s\n", (double)records * 1e9 / (double)elapsed);
        printf("append latency: p50 %" PRIu64 " us, p99 %" PRIu64 " us, max %" PRIu64 " us\n",
               all[records / 2] / 1000, all[records - 1 - records / 100] / 1000, all[records - 1] / 1000);
        if (opt.durability == JOURNAL_STRICT)
                printf("commit latency p99: %" PRIu64 " us (append returns durable)\n",
                       all[records - 1 - records / 100] / 1000);
        else if (opt.durability == JOURNAL_BATCH)
                printf("commit latency p99: %" PRIu64 " us (append to durable, group commit every %u us)\n",
                       st.commit_p99_us, opt.commit_interval_us ? opt.commit_interval_us : 10000);
        else
                printf("commit latency p99: n/a (durability none)\n");
        printf("writes %" PRIu64 " (%.1f records each), syncs %" PRIu64 ", errors %" PRIu64 "\n", st.writes,
               st.writes ? (double)st.records / (double)st.writes : 0.0, st.syncs, errors);
        if (errors)
                fprintf(stderr, PROG ": bench: %" PRIu64 " appends failed, first: %s\n", errors,
                        strerror(-first_error));
        ret = errors ? 1 : 0;
out:
        journal_close(j);
        free(th);
        free(all);
        if (dirfd >= 0)
                close(dirfd);
        return ret;
usage:
        fprintf(stderr, "usage: " PROG " bench --dir DIR [--records N] [--threads T]\n"
                        "       [--durability strict|batch|none] [--commit-interval-us US] [--segment-size BYTES]\n");
        return 2;
}
