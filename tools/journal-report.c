/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-report.c: `mirrorfs-journal report` and `dead-letters`: what a
 * replicator recorded in the journal directory, read offline.  The report
 * is computed by the same code as the daemon's (control/report.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "journal-tool.h"
#include "journal.h"
#include "strutil.h"

enum { OPT_CURSOR = 400, OPT_SINCE, OPT_BY, OPT_JSON };

static const struct option longopts[] = {
        { "cursor", required_argument, NULL, OPT_CURSOR },
        { "since", required_argument, NULL, OPT_SINCE },
        { "by", required_argument, NULL, OPT_BY },
        { "json", no_argument, NULL, OPT_JSON },
        { "help", no_argument, NULL, 'h' },
        {},
};

static void row(const char *label, const struct ctl_report_row *r)
{
        printf("%-22s %9" PRIu64 " %9.3f %9.3f %9.3f %9.3f %9" PRIu64 " %9" PRIu64 "\n", label, r->count, r->mean_s,
               r->median_s, r->p99_s, r->max_s, r->over_300s, r->over_600s);
}

int cmd_report(int argc, char **argv)
{
        const char *cursor = "replicator";
        struct ctl_report_row *rows = NULL;
        uint64_t since = 86400, since_ns;
        bool by_hour = false, json = false;
        struct timespec now;
        size_t n;
        int c, dirfd, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_CURSOR: cursor = optarg; break;
                case OPT_SINCE:
                        if (parse_duration_s(optarg, &since) < 0)
                                goto usage;
                        break;
                case OPT_BY:
                        if (strcmp(optarg, "hour") != 0)
                                goto usage;
                        by_hour = true;
                        break;
                case OPT_JSON: json = true; break;
                default: goto usage;
                }
        }
        if (optind != argc - 1 || !journal_cursor_name_valid(cursor))
                goto usage;
        dirfd = open_journal_dir(argv[optind]);
        if (dirfd < 0)
                return 1;
        clock_gettime(CLOCK_REALTIME, &now);
        since_ns = (uint64_t)now.tv_sec > since ? ((uint64_t)now.tv_sec - since) * 1000000000u : 0;
        r = ctl_report(dirfd, cursor, since_ns, by_hour, &rows, &n);
        close(dirfd);
        if (r < 0) {
                fprintf(stderr, PROG ": report: %s\n", strerror(-r));
                return 1;
        }
        if (json) {
                ctl_render_report_json(stdout, since_ns, rows, n);
        } else {
                printf("%-22s %9s %9s %9s %9s %9s %9s %9s\n", "", "files", "mean s", "median s", "p99 s", "max s",
                       ">300 s", ">600 s");
                row("all", &rows[0]);
                for (size_t i = 1; i < n; i++) {
                        time_t t = (time_t)(rows[i].hour_ns / 1000000000u);
                        struct tm tm;
                        char hour[32];

                        gmtime_r(&t, &tm);
                        strftime(hour, sizeof(hour), "%Y-%m-%dT%H:00:00Z", &tm);
                        row(hour, &rows[i]);
                }
        }
        free(rows);
        return 0;
usage:
        fprintf(stderr, "usage: " PROG " report DIR [--cursor NAME] [--since DURATION] [--by hour] [--json]\n");
        return 2;
}

int cmd_dead_letters(int argc, char **argv)
{
        const char *cursor = "replicator";
        int c, dirfd, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                if (c != OPT_CURSOR)
                        goto usage;
                cursor = optarg;
        }
        if (optind != argc - 1 || !journal_cursor_name_valid(cursor))
                goto usage;
        dirfd = open_journal_dir(argv[optind]);
        if (dirfd < 0)
                return 1;
        r = ctl_render_dead_letters(stdout, dirfd, cursor);
        close(dirfd);
        return r < 0 ? 1 : 0;
usage:
        fprintf(stderr, "usage: " PROG " dead-letters DIR [--cursor NAME]\n");
        return 2;
}
