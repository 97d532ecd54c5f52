/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirrorfsctl: status and control of a running mirrorfs (or
 * mirrorfs-replicator) over its socket (docs/control-protocol.md).
 *
 * Exit status: 0 done; 1 the daemon answered with an error (a sync that
 * timed out, a refused control verb); 2 bad usage; 3 no daemon to talk to.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "control.h"
#include "strutil.h"

#define PROG "mirrorfsctl"

static void usage(FILE *f)
{
        fprintf(f, "usage: " PROG " [--socket PATH | --mount DIR] COMMAND [ARGS]\n"
                   "\n"
                   "  status [--json]              state, lag, throughput, problems (mirrorfsctl(8))\n"
                   "  sync [--timeout DURATION]    wait until everything journaled so far is on the target\n"
                   "  pause | resume               stop / restart copying (the mount keeps serving)\n"
                   "  workers N                    replicator threads, 1..64\n"
                   "  metrics                      Prometheus text format\n"
                   "  report [--since DURATION] [--by hour] [--json]\n"
                   "                               close-to-mirrored latency: count, mean, median, p99, max\n"
                   "  dead-letters [--json]        changes set aside for good, with their errors\n"
                   "  retry                        put the dead letters back in the queue\n"
                   "  version\n"
                   "\n"
                   "The socket: --socket PATH, or the default one of mount point --mount DIR, or\n"
                   "the only one in /run/mirrorfs.\n");
}

/* ---- talking to the daemon ---- */

static int find_socket(const char *mount, char *buf, size_t size)
{
        glob_t g;
        int r;

        if (mount) {
                char *real = realpath(mount, NULL);

                r = ctl_default_path(real ? real : mount, buf, size);
                if (r < 0)
                        fprintf(stderr, PROG ": the mount point '%s' is too long for a default socket path: "
                                "give --socket (the mount's socket= option)\n", mount);
                free(real);
                return r;
        }
        if (glob("/run/mirrorfs/*.sock", 0, NULL, &g) != 0) {
                fprintf(stderr, PROG ": no mirrorfs socket in /run/mirrorfs (is mirrorfs running? else --socket)\n");
                return -ENOENT;
        }
        if (g.gl_pathc > 1) {
                fprintf(stderr, PROG ": several mirrorfs sockets in /run/mirrorfs: give --socket or --mount:\n");
                for (size_t i = 0; i < g.gl_pathc; i++)
                        fprintf(stderr, "  %s\n", g.gl_pathv[i]);
                globfree(&g);
                return -EEXIST;
        }
        snprintf(buf, size, "%s", g.gl_pathv[0]);
        globfree(&g);
        return 0;
}

/*
 * Send @request, read the answer.  Returns 0 with the body in *ret (malloc'ed),
 * 1 with the daemon's error printed, 3 when there is no daemon.
 */
static int call(const char *path, const char *request, char **ret, size_t *ret_len)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char head[256], *body = NULL;
        size_t hlen = 0, len, got = 0;
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, PROG ": socket path too long: %s\n", path);
                return 3;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, PROG ": cannot connect to '%s': %s\n", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return 3;
        }
        if (send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request) ||
            send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
                fprintf(stderr, PROG ": cannot send to '%s': %s\n", path, strerror(errno));
                close(fd);
                return 3;
        }
        /* the header line, a byte at a time: it is short */
        while (hlen < sizeof(head) - 1) {
                ssize_t n = recv(fd, head + hlen, 1, 0);

                if (n <= 0)
                        break;
                if (head[hlen++] == '\n')
                        break;
        }
        head[hlen] = 0;
        if (strncmp(head, "ERR ", 4) == 0) {
                head[strcspn(head, "\n")] = 0;
                fprintf(stderr, PROG ": %s\n", head + 4);
                close(fd);
                return 1;
        }
        if (strncmp(head, "OK ", 3) != 0 || sscanf(head + 3, "%zu", &len) != 1 || len > (16u << 20)) {
                fprintf(stderr, PROG ": unexpected answer from '%s'\n", path);
                close(fd);
                return 1;
        }
        body = malloc(len + 1);
        while (body && got < len) {
                ssize_t n = recv(fd, body + got, len - got, 0);

                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        close(fd);
        if (!body || got != len) {
                fprintf(stderr, PROG ": the answer from '%s' was cut short\n", path);
                free(body);
                return 1;
        }
        body[len] = 0;
        *ret = body;
        *ret_len = len;
        return 0;
}

/* ---- printing ---- */

static int64_t num(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static double dbl(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static const char *str(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static void human_bytes(double b, char *buf, size_t size)
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        int u = 0;

        while (b >= 1024 && u < 5) {
                b /= 1024;
                u++;
        }
        snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static int print_status(json_object *st)
{
        json_object *j = NULL;
        const char *state = str(st, "state"), *err;
        char jb[32], cb[32];

        json_object_object_get_ex(st, "journal", &j);
        printf("%s %s", str(st, "role") ? str(st, "role") : "mirrorfs", str(st, "source") ? str(st, "source") : "");
        if (str(st, "mountpoint"))
                printf(" at %s", str(st, "mountpoint"));
        if (str(st, "target"))
                printf(" -> %s", str(st, "target"));
        printf(": %s\n", state ? state : "?");
        human_bytes((double)num(j, "bytes"), jb, sizeof(jb));
        printf("  journal     %s: head %" PRId64 ", durable %" PRId64 ", %s in %" PRId64 " segments, "
               "commit p99 %.1f ms, %" PRId64 " changes not journaled\n",
               str(st, "journal_dir") ? str(st, "journal_dir") : "", num(j, "head_seq"), num(j, "synced_seq"), jb,
               num(j, "segments"), (double)num(j, "commit_p99_us") / 1000, num(j, "record_errors"));
        if (num(j, "held"))
                printf("  JOURNAL     cannot write (%s): %" PRId64 " changes held in memory, written as soon as it can\n",
                       str(j, "error") ? str(j, "error") : "?", num(j, "held"));
        if (json_object_object_get_ex(st, "inodes", NULL))
                printf("  mount       %" PRId64 " inodes held, kernel passthrough %s, requests over %s, up %" PRId64
                       " s\n", num(st, "inodes"),
                       json_object_get_boolean(json_object_object_get(st, "passthrough")) ? "on" : "off",
                       json_object_get_boolean(json_object_object_get(st, "io_uring")) ? "io_uring" : "/dev/fuse",
                       num(st, "uptime_s"));
        if (!json_object_object_get_ex(st, "applied_seq", NULL)) {
                printf("  replicator  none in this daemon (replicate=off)\n");
                return 0;
        }
        printf("  applied     seq %" PRId64 "; lag %" PRId64 " records, %.1f s\n", num(st, "applied_seq"),
               num(st, "lag_records"), dbl(st, "lag_seconds"));
        printf("  work        %" PRId64 " queued, %" PRId64 " in flight, %" PRId64 " workers%s%s\n", num(st, "queued"),
               num(st, "in_flight"), num(st, "workers"),
               json_object_get_boolean(json_object_object_get(st, "paused")) ? ", PAUSED" : "",
               json_object_get_boolean(json_object_object_get(st, "target_lost")) ? ", TARGET MISSING" : "");
        if (num(st, "queued_held") || num(st, "queued_barriers") || num(st, "queued_parked"))
                printf("              of them: %" PRId64 " files open for writing, %" PRId64 " renames and links in line, "
                       "%" PRId64 " moved on the source (waiting for the journal)\n",
                       num(st, "queued_held"), num(st, "queued_barriers"), num(st, "queued_parked"));
        printf("  throughput  %.0f files/s, %.1f MB/s (10 s); %.0f files/s, %.1f MB/s (5 min)\n",
               dbl(st, "files_per_s_10s"), dbl(st, "mb_per_s_10s"), dbl(st, "files_per_s_5m"), dbl(st, "mb_per_s_5m"));
        human_bytes((double)num(st, "bytes_copied"), cb, sizeof(cb));
        printf("  done        %" PRId64 " files copied (%s), %" PRId64 " renames, %" PRId64 " links\n",
               num(st, "files_copied"), cb, num(st, "renames"), num(st, "links"));
        printf("  problems    %" PRId64 " retries (%" PRId64 " paths waiting), %" PRId64 " dead letters, "
               "%" PRId64 " events lost\n", num(st, "retries"), num(st, "waiting_retry"), num(st, "dead_letters"),
               num(st, "events_lost"));
        printf("  check       %" PRId64 " touched directories compared, %" PRId64 " entries repaired, "
               "%" PRId64 " left different, %" PRId64 " not checked\n", num(st, "check_dirs"), num(st, "check_repairs"),
               num(st, "check_unrepaired"), num(st, "check_skipped"));
        if (num(st, "check_unrepaired"))
                printf("  CHECK       entries of the target still differ from the source after repairs: see the log\n");
        if (dbl(st, "stalled_s") >= 60)
                printf("  STALLED     no progress for %.0f s: the oldest work, %s, run %" PRId64 " times, is on '%s'\n",
                       dbl(st, "stalled_s"), str(st, "oldest_state") ? str(st, "oldest_state") : "?",
                       num(st, "oldest_runs"), str(st, "oldest_path") ? str(st, "oldest_path") : "");
        if (dbl(st, "target_sync_s") >= 5)
                printf("  TARGET      its sync has taken %.0f s so far: the target's disk is slow or stalled; "
                       "the cursor waits for it\n", dbl(st, "target_sync_s"));
        err = str(st, "last_error");
        if (err && *err)
                printf("  last error  %s on '%s'\n", err, str(st, "last_error_path") ? str(st, "last_error_path") : "");
        return 0;
}

static void print_row(const char *label, json_object *r)
{
        printf("%-22s %9" PRId64 " %9.3f %9.3f %9.3f %9.3f %9" PRId64 " %9" PRId64 "\n", label, num(r, "count"),
               dbl(r, "mean_s"), dbl(r, "median_s"), dbl(r, "p99_s"), dbl(r, "max_s"), num(r, "over_300s"),
               num(r, "over_600s"));
}

static int print_report(json_object *rep)
{
        json_object *hours;

        printf("%-22s %9s %9s %9s %9s %9s %9s %9s\n", "", "files", "mean s", "median s", "p99 s", "max s",
               ">300 s", ">600 s");
        print_row("all", rep);
        if (json_object_object_get_ex(rep, "by_hour", &hours))
                for (size_t i = 0; i < json_object_array_length(hours); i++) {
                        json_object *h = json_object_array_get_idx(hours, i);

                        print_row(str(h, "hour") ? str(h, "hour") : "?", h);
                }
        return 0;
}

static int print_dead_letters(json_object *o)
{
        json_object *list;
        size_t n;

        if (!json_object_object_get_ex(o, "dead_letters", &list))
                return 1;
        n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(list, i);
                const char *p2 = str(d, "path2");

                printf("seq %-10" PRId64 " %-8s %-24s %s%s%s\n", num(d, "seq"), str(d, "errno") ? str(d, "errno") : "",
                       str(d, "what") ? str(d, "what") : "", str(d, "path") ? str(d, "path") : "(not UTF-8)",
                       p2 && *p2 ? " -> " : "", p2 && *p2 ? p2 : "");
        }
        printf("%zu dead letter%s\n", n, n == 1 ? "" : "s");
        return 0;
}

/* ---- main ---- */

enum { OPT_SOCKET = 256, OPT_MOUNT, OPT_JSON, OPT_TIMEOUT, OPT_SINCE, OPT_BY, OPT_VERSION };

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "mount", required_argument, NULL, OPT_MOUNT },
                { "json", no_argument, NULL, OPT_JSON },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "since", required_argument, NULL, OPT_SINCE },
                { "by", required_argument, NULL, OPT_BY },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        const char *socket_arg = NULL, *mount = NULL, *verb;
        uint64_t timeout = 0, since = 86400, n;
        bool json = false, by_hour = false;
        char path[256], request[CTL_REQUEST_MAX], *body = NULL;
        json_object *o = NULL;
        size_t len;
        int c, r;

        while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_SOCKET: socket_arg = optarg; break;
                case OPT_MOUNT: mount = optarg; break;
                case OPT_JSON: json = true; break;
                case 'h': usage(stdout); return 0;
                case OPT_VERSION: printf(PROG " %s\n", MIRRORFS_VERSION); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        verb = argv[optind++];
        /* options after the verb */
        while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_SOCKET: socket_arg = optarg; break;
                case OPT_MOUNT: mount = optarg; break;
                case OPT_JSON: json = true; break;
                case OPT_TIMEOUT:
                        if (parse_duration_s(optarg, &timeout) < 0 || timeout > 86400) {
                                fprintf(stderr, PROG ": --timeout: '%s' is not a duration up to 1d\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_SINCE:
                        if (parse_duration_s(optarg, &since) < 0 || since > 100ull * 365 * 86400) {
                                fprintf(stderr, PROG ": --since: '%s' is not a duration up to 100 years "
                                        "(7d, 12h, 3600)\n", optarg);
                                return 2;
                        }
                        break;
                case OPT_BY:
                        if (strcmp(optarg, "hour") != 0) {
                                fprintf(stderr, PROG ": --by: only 'hour'\n");
                                return 2;
                        }
                        by_hour = true;
                        break;
                default: usage(stderr); return 2;
                }
        }
        if (!strcmp(verb, "workers")) {
                if (optind != argc - 1 || parse_u64_range(argv[optind], 1, 64, &n) < 0) {
                        fprintf(stderr, PROG ": workers: give a number from 1 to 64\n");
                        return 2;
                }
                snprintf(request, sizeof(request), "workers %" PRIu64, n);
        } else if (optind != argc) {
                fprintf(stderr, PROG ": %s: unexpected argument '%s'\n", verb, argv[optind]);
                return 2;
        } else if (!strcmp(verb, "sync")) {
                if (timeout)
                        snprintf(request, sizeof(request), "sync %" PRIu64, timeout * 1000);
                else
                        snprintf(request, sizeof(request), "sync");
        } else if (!strcmp(verb, "report")) {
                snprintf(request, sizeof(request), "report %" PRIu64 "%s", since, by_hour ? " hour" : "");
        } else if (!strcmp(verb, "status") || !strcmp(verb, "pause") || !strcmp(verb, "resume") ||
                   !strcmp(verb, "metrics") || !strcmp(verb, "dead-letters") || !strcmp(verb, "retry") ||
                   !strcmp(verb, "version")) {
                snprintf(request, sizeof(request), "%s", verb);
        } else {
                fprintf(stderr, PROG ": unknown command '%s'\n", verb);
                usage(stderr);
                return 2;
        }
        if (socket_arg)
                snprintf(path, sizeof(path), "%s", socket_arg);
        else if (find_socket(mount, path, sizeof(path)) < 0)
                return 3;
        r = call(path, request, &body, &len);
        if (r)
                return r;
        if (!strcmp(verb, "metrics") || json || (strcmp(verb, "status") && strcmp(verb, "report") &&
                                                 strcmp(verb, "dead-letters"))) {
                if (strcmp(verb, "metrics") && !json && (!strcmp(verb, "pause") || !strcmp(verb, "resume") ||
                                                         !strcmp(verb, "workers") || !strcmp(verb, "sync") ||
                                                         !strcmp(verb, "retry"))) {
                        /* terse for the actions: say what is so now */
                        o = json_tokener_parse(body);
                        if (!strcmp(verb, "sync"))
                                printf("synced: everything up to seq %" PRId64 " is on the target\n", num(o, "applied_seq"));
                        else if (!strcmp(verb, "retry"))
                                printf("%" PRId64 " dead letters back in the queue\n", num(o, "requeued"));
                        else if (!strcmp(verb, "workers"))
                                printf("%" PRId64 " workers\n", num(o, "workers"));
                        else
                                printf("%s\n", !strcmp(verb, "pause") ? "paused" : "resumed");
                } else {
                        fwrite(body, 1, len, stdout);
                }
                goto out;
        }
        o = json_tokener_parse(body);
        if (!o) {
                fprintf(stderr, PROG ": the daemon's answer is not JSON\n");
                r = 1;
                goto out;
        }
        if (!strcmp(verb, "status"))
                r = print_status(o);
        else if (!strcmp(verb, "report"))
                r = print_report(o);
        else
                r = print_dead_letters(o);
out:
        json_object_put(o);
        free(body);
        return r;
}
