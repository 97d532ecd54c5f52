/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * report.c: the latency report: for files mirrored in a window, how long
 * from the change (a close, create or fsync record) to the file being
 * complete on the target, from the replicator's applied log.  The daemon's
 * `report` verb and `mirrorfs-journal report` both call this, so they agree.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "journal.h"

#define HOUR_NS (3600ull * 1000000000u)

struct sample {
        uint64_t hour_ns;
        double latency_s;
};

struct collect {
        uint64_t since_ns;
        struct sample *v;
        size_t n, cap;
};

static int take(void *userdata, const struct journal_applied *a)
{
        struct collect *c = userdata;

        if (a->applied_ns < c->since_ns || a->applied_ns < a->record_ns || !a->record_ns)
                return 0;
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 4096;
                struct sample *v = realloc(c->v, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                c->v = v;
                c->cap = cap;
        }
        c->v[c->n++] = (struct sample) {
                .hour_ns = a->record_ns - a->record_ns % HOUR_NS,
                .latency_s = (double)(a->applied_ns - a->record_ns) / 1e9,
        };
        return 0;
}

static int by_latency(const void *a, const void *b)
{
        double x = ((const struct sample *)a)->latency_s, y = ((const struct sample *)b)->latency_s;

        return x < y ? -1 : x > y;
}

static int by_hour_then_latency(const void *a, const void *b)
{
        const struct sample *x = a, *y = b;

        if (x->hour_ns != y->hour_ns)
                return x->hour_ns < y->hour_ns ? -1 : 1;
        return by_latency(a, b);
}

/* Figures of @n samples sorted by latency. */
static struct ctl_report_row row_of(const struct sample *v, size_t n, uint64_t hour_ns)
{
        struct ctl_report_row r = { .hour_ns = hour_ns, .count = n };
        double sum = 0;

        for (size_t i = 0; i < n; i++) {
                sum += v[i].latency_s;
                r.over_300s += v[i].latency_s > 300;
                r.over_600s += v[i].latency_s > 600;
        }
        if (n) {
                r.mean_s = sum / (double)n;
                r.median_s = v[(n - 1) / 2].latency_s;
                r.p99_s = v[n - 1 - n / 100].latency_s;
                r.max_s = v[n - 1].latency_s;
        }
        return r;
}

int ctl_report(int dirfd, const char *cursor, uint64_t since_ns, bool by_hour, struct ctl_report_row **rows,
               size_t *nrows)
{
        struct collect c = { .since_ns = since_ns };
        struct ctl_report_row *out;
        size_t hours = 0, i, start;
        int r;

        r = journal_applied_read(dirfd, cursor, take, &c);
        if (r < 0) {
                free(c.v);
                return r;
        }
        if (c.n)
                qsort(c.v, c.n, sizeof(*c.v), by_latency);
        if (by_hour && c.n) {
                qsort(c.v, c.n, sizeof(*c.v), by_hour_then_latency);
                hours = 1;
                for (i = 1; i < c.n; i++)
                        hours += c.v[i].hour_ns != c.v[i - 1].hour_ns;
        }
        out = calloc(1 + hours, sizeof(*out));
        if (!out) {
                free(c.v);
                return -ENOMEM;
        }
        if (by_hour && c.n) {
                size_t k = 1;

                for (start = 0, i = 1; i <= c.n; i++) {
                        if (i == c.n || c.v[i].hour_ns != c.v[start].hour_ns) {
                                out[k++] = row_of(c.v + start, i - start, c.v[start].hour_ns);
                                start = i;
                        }
                }
                qsort(c.v, c.n, sizeof(*c.v), by_latency);
        }
        out[0] = row_of(c.v, c.n, 0);
        free(c.v);
        *rows = out;
        *nrows = 1 + hours;
        return 0;
}

static void row_json(FILE *f, const struct ctl_report_row *r)
{
        fprintf(f, "\"count\":%" PRIu64 ",\"mean_s\":%.3f,\"median_s\":%.3f,\"p99_s\":%.3f,\"max_s\":%.3f,"
                   "\"over_300s\":%" PRIu64 ",\"over_600s\":%" PRIu64,
                r->count, r->mean_s, r->median_s, r->p99_s, r->max_s, r->over_300s, r->over_600s);
}

void ctl_render_report_json(FILE *f, uint64_t since_ns, const struct ctl_report_row *rows, size_t n)
{
        fprintf(f, "{\"since_ns\":%" PRIu64 ",", since_ns);
        row_json(f, &rows[0]);
        if (n > 1) {
                fputs(",\"by_hour\":[", f);
                for (size_t i = 1; i < n; i++) {
                        time_t t = (time_t)(rows[i].hour_ns / 1000000000u);
                        struct tm tm;
                        char hour[32];

                        gmtime_r(&t, &tm);
                        strftime(hour, sizeof(hour), "%Y-%m-%dT%H:00:00Z", &tm);
                        fprintf(f, "%s{\"hour\":\"%s\",", i > 1 ? "," : "", hour);
                        row_json(f, &rows[i]);
                        fputc('}', f);
                }
                fputc(']', f);
        }
        fputs("}\n", f);
}
