/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-inspect.c: the reading subcommands of mirrorfs-journal (ls, dump,
 * tail, stat, check) and trim.  They only use the public journal API, so
 * what they show is what any reader sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strutil.h"
#include "journal-tool.h"
#include "journal.h"

/* ---- printing records ---- */

enum field {
        F_MODE = 1 << 0, F_UID = 1 << 1, F_GID = 1 << 2, F_INO = 1 << 3, F_SIZE = 1 << 4,
        F_RDEV = 1 << 5, F_ATIME = 1 << 6, F_MTIME = 1 << 7,
};

/* The fields each type carries (docs/journal-format.md, "Types"). */
static unsigned type_fields(const struct journal_record *rec)
{
        switch (rec->type) {
        case JOURNAL_WRITE_INTENT: return F_INO | F_MODE | F_SIZE;
        case JOURNAL_CLOSE_WRITE: return F_INO | F_MODE | F_SIZE | F_MTIME;
        case JOURNAL_CREATE:
        case JOURNAL_MKDIR: return F_INO | F_MODE | F_UID | F_GID;
        case JOURNAL_MKNOD: return F_INO | F_MODE | F_UID | F_GID | F_RDEV;
        case JOURNAL_SYMLINK: return F_INO | F_UID | F_GID;
        case JOURNAL_LINK:
        case JOURNAL_RENAME:
        case JOURNAL_UNLINK:
        case JOURNAL_RMDIR:
        case JOURNAL_SETXATTR:
        case JOURNAL_REMOVEXATTR:
        case JOURNAL_SYNC: return F_INO;
        case JOURNAL_SETATTR: {
                unsigned f = F_INO;

                if (rec->aux & JOURNAL_SET_MODE) f |= F_MODE;
                if (rec->aux & JOURNAL_SET_UID) f |= F_UID;
                if (rec->aux & JOURNAL_SET_GID) f |= F_GID;
                if (rec->aux & JOURNAL_SET_SIZE) f |= F_SIZE;
                if (rec->aux & JOURNAL_SET_ATIME) f |= F_ATIME;
                if (rec->aux & JOURNAL_SET_MTIME) f |= F_MTIME;
                return f;
        }
        default: return 0;
        }
}

static void print_ts(FILE *f, const char *key, const struct timespec *ts)
{
        if (ts->tv_nsec == 0x3FFFFFFF)
                fprintf(f, " %s=now", key);
        else
                fprintf(f, " %s=%lld.%09ld", key, (long long)ts->tv_sec, ts->tv_nsec);
}

static void print_text(FILE *f, const struct journal_record *rec)
{
        const char *tn = journal_type_name(rec->type);
        unsigned fields = type_fields(rec);
        char when[48];

        format_time_ns(rec->time_ns, when, sizeof(when));
        fprintf(f, "%" PRIu64 " %s ", rec->seq, when);
        if (tn)
                fputs(tn, f);
        else
                fprintf(f, "type-%u", rec->type);
        if (rec->flags & JOURNAL_F_DIR)
                fputs(" dir", f);
        if (rec->path_len || rec->type >= JOURNAL_WRITE_INTENT) {
                fputc(' ', f);
                if (rec->path_len)
                        print_quoted(f, rec->path, rec->path_len);
                else
                        fputs("/", f);  /* the root */
        }
        if (rec->path2_len || rec->type == JOURNAL_RENAME || rec->type == JOURNAL_LINK) {
                fputs(rec->type == JOURNAL_SYMLINK ? " -> target " : " -> ", f);
                print_quoted(f, rec->path2, rec->path2_len);
        }
        if (rec->name_len) {
                fputs(" name=", f);
                print_quoted(f, rec->name, rec->name_len);
        }
        if (fields & F_INO)
                fprintf(f, " ino=%" PRIu64, rec->ino);
        if (fields & F_MODE)
                fprintf(f, " mode=0%o", rec->mode);
        if (fields & F_UID)
                fprintf(f, " uid=%u", rec->uid);
        if (fields & F_GID)
                fprintf(f, " gid=%u", rec->gid);
        if (fields & F_SIZE)
                fprintf(f, " size=%" PRIu64, rec->size);
        if (fields & F_RDEV)
                fprintf(f, " rdev=%" PRIu64, rec->rdev);
        if (fields & F_ATIME)
                print_ts(f, "atime", &rec->atime);
        if (fields & F_MTIME)
                print_ts(f, "mtime", &rec->mtime);
        switch (rec->type) {
        case JOURNAL_RENAME:
                if (rec->aux & 1) fputs(" noreplace", f);
                if (rec->aux & 2) fputs(" exchange", f);
                if (rec->aux & 4) fputs(" whiteout", f);
                break;
        case JOURNAL_WRITE_INTENT:
        case JOURNAL_CREATE:
                fprintf(f, " oflags=0%o", rec->aux);
                break;
        case JOURNAL_SETATTR:
                fprintf(f, " mask=0x%x", rec->aux);
                break;
        case JOURNAL_SETXATTR:
                fprintf(f, " xflags=%u", rec->aux);
                break;
        case JOURNAL_MOUNT:
                fprintf(f, " pid=%u", rec->aux);
                break;
        case JOURNAL_EVENTS_LOST:
                fprintf(f, " lost=%" PRIu64 " seqs=%" PRIu64 "..%" PRIu64 " errno=%u",
                        rec->size, rec->ino, rec->rdev, rec->aux);
                break;
        default:
                break;
        }
        if (rec->flags & JOURNAL_F_DURABLE)
                fputs(" durable", f);
        fputc('\n', f);
}

static void print_json(FILE *f, const struct journal_record *rec)
{
        const char *tn = journal_type_name(rec->type);
        char when[48];

        format_time_ns(rec->time_ns, when, sizeof(when));
        fprintf(f, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%" PRIu64 ",\"type\":", rec->seq, when,
                rec->time_ns);
        if (tn)
                fprintf(f, "\"%s\"", tn);
        else
                fprintf(f, "%u", rec->type);
        fprintf(f, ",\"flags\":%u,\"aux\":%u,\"mode\":%u,\"uid\":%u,\"gid\":%u,\"ino\":%" PRIu64
                   ",\"size\":%" PRIu64 ",\"rdev\":%" PRIu64 ",\"atime\":[%lld,%ld],\"mtime\":[%lld,%ld]",
                rec->flags, rec->aux, rec->mode, rec->uid, rec->gid, rec->ino, rec->size, rec->rdev,
                (long long)rec->atime.tv_sec, rec->atime.tv_nsec, (long long)rec->mtime.tv_sec,
                rec->mtime.tv_nsec);
        fputs(",\"path\":", f);
        print_json_string(f, rec->path, rec->path_len);
        fputs(",\"path2\":", f);
        print_json_string(f, rec->path2, rec->path2_len);
        fputs(",\"name\":", f);
        print_json_string(f, rec->name, rec->name_len);
        fputs("}\n", f);
}

void print_record(FILE *f, const struct journal_record *rec, int json)
{
        if (json)
                print_json(f, rec);
        else
                print_text(f, rec);
}

/* ---- problems ---- */

static const char *problem_kind_name(enum journal_problem_kind k)
{
        switch (k) {
        case JOURNAL_PROBLEM_CORRUPT: return "corrupt";
        case JOURNAL_PROBLEM_TORN_TAIL: return "torn-tail";
        case JOURNAL_PROBLEM_BAD_SEGMENT: return "bad-segment";
        case JOURNAL_PROBLEM_GAP: return "gap";
        case JOURNAL_PROBLEM_UNKNOWN_TYPE: return "unknown-type";
        case JOURNAL_PROBLEM_FOREIGN: return "foreign-segment";
        }
        return "problem";
}

static void print_problem(FILE *f, const struct journal_problem *p)
{
        fprintf(f, "%s: %s: offset %" PRIu64 ": %s", p->segment, problem_kind_name(p->kind), p->offset,
                p->detail);
        if (p->kind == JOURNAL_PROBLEM_GAP)
                fprintf(f, " (seq %" PRIu64 "..%" PRIu64 ")", p->seq_from, p->seq_to);
        else if (p->length)
                fprintf(f, " (%" PRIu64 " bytes)", p->length);
        if (p->error)
                fprintf(f, ": %s", strerror(-p->error));
        fputc('\n', f);
}

static void warn_problem(void *userdata, const struct journal_problem *p)
{
        fputs(PROG ": warning: ", stderr);
        print_problem(stderr, p);
}

/* ---- shared option parsing ---- */

struct read_opts {
        const char *dir;
        uint64_t from, to;
        int json;
        int follow;
        uint64_t lines;
};

enum { OPT_JSON = 256, OPT_FROM, OPT_TO, OPT_RETENTION };

static int parse_read_opts(int argc, char **argv, const char *shortopts, struct read_opts *o)
{
        static const struct option longopts[] = {
                { "json", no_argument, NULL, OPT_JSON },
                { "from", required_argument, NULL, OPT_FROM },
                { "to", required_argument, NULL, OPT_TO },
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        *o = (struct read_opts) { .from = 1, .to = UINT64_MAX, .lines = 10 };
        optind = 1;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
                switch (c) {
                case OPT_JSON:
                        o->json = 1;
                        break;
                case OPT_FROM:
                case OPT_TO:
                        if (parse_u64_range(optarg, 1, UINT64_MAX, c == OPT_FROM ? &o->from : &o->to) < 0) {
                                fprintf(stderr, PROG ": %s: '%s' is not a sequence number\n", argv[0], optarg);
                                return -1;
                        }
                        break;
                case 'f':
                        o->follow = 1;
                        break;
                case 'n':
                        if (parse_u64(optarg, &o->lines) < 0) {
                                fprintf(stderr, PROG ": %s: '%s' is not a number of records\n", argv[0], optarg);
                                return -1;
                        }
                        break;
                case 'h':
                default:
                        return -1;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, PROG ": %s: expected one journal directory\n", argv[0]);
                return -1;
        }
        o->dir = argv[optind];
        return 0;
}

static int usage_of(const char *cmd, const char *args)
{
        fprintf(stderr, "usage: " PROG " %s %s\n", cmd, args);
        return 2;
}

static int read_error(const char *dir, int r)
{
        fprintf(stderr, PROG ": cannot read journal '%s': %s\n", dir, strerror(-r));
        return 1;
}

/* The seq of the last record present, 0 when none. */
static int last_seq(int dirfd, uint64_t *ret)
{
        struct journal_segment_info *segs;
        struct journal_reader *r;
        struct journal_record rec;
        size_t n;
        int e;

        e = journal_list_segments(dirfd, &segs, &n);
        if (e < 0)
                return e;
        *ret = n ? segs[n - 1].first_seq - 1 : 0;
        if (n == 0) {
                free(segs);
                return 0;
        }
        e = journal_reader_open(dirfd, segs[n - 1].first_seq, NULL, NULL, &r);
        free(segs);
        if (e < 0)
                return e;
        while ((e = journal_reader_next(r, &rec)) > 0)
                *ret = rec.seq;
        journal_reader_free(r);
        return e;
}

/* ---- ls ---- */

int cmd_ls(int argc, char **argv)
{
        struct journal_segment_info *segs = NULL;
        struct journal_cursor_info *curs = NULL;
        struct read_opts o;
        uint64_t head = 0, total = 0;
        size_t nseg, ncur, i;
        int dirfd, r, ret = 1;

        if (parse_read_opts(argc, argv, "h", &o) < 0)
                return usage_of("ls", "DIR");
        dirfd = open_journal_dir(o.dir);
        if (dirfd < 0)
                return 1;
        r = journal_list_segments(dirfd, &segs, &nseg);
        if (r == 0)
                r = last_seq(dirfd, &head);
        if (r == 0)
                r = journal_list_cursors(dirfd, &curs, &ncur);
        if (r < 0) {
                read_error(o.dir, r);
                goto out;
        }
        printf("%-26s %20s %20s %12s  %s\n", "SEGMENT", "FIRST", "LAST", "BYTES", "STATE");
        for (i = 0; i < nseg; i++) {
                uint64_t last = i + 1 < nseg ? segs[i + 1].first_seq - 1 : head;
                const char *state = segs[i].archived ? "archived" : i + 1 < nseg ? "finished" : "live";

                if (last < segs[i].first_seq)
                        printf("%-26s %20" PRIu64 " %20s %12" PRIu64 "  %s\n", segs[i].name, segs[i].first_seq,
                               "-", segs[i].file_bytes, state);
                else
                        printf("%-26s %20" PRIu64 " %20" PRIu64 " %12" PRIu64 "  %s\n", segs[i].name,
                               segs[i].first_seq, last, segs[i].file_bytes, state);
                total += segs[i].file_bytes;
        }
        printf("%zu segments, %" PRIu64 " bytes, head seq %" PRIu64 ", writer %s\n", nseg, total, head,
               journal_writer_alive(dirfd) ? "running" : "not running");
        if (ncur)
                printf("\n%-24s %20s %12s\n", "CURSOR", "SEQ", "LAG");
        for (i = 0; i < ncur; i++) {
                if (curs[i].error)
                        printf("%-24s %20s %12s  (%s)\n", curs[i].name, "-", "-", strerror(-curs[i].error));
                else
                        printf("%-24s %20" PRIu64 " %12" PRIu64 "\n", curs[i].name, curs[i].seq,
                               head > curs[i].seq ? head - curs[i].seq : 0);
        }
        ret = 0;
out:
        free(segs);
        free(curs);
        close(dirfd);
        return ret;
}

/* ---- dump and tail ---- */

static int dump_range(int dirfd, const struct read_opts *o)
{
        struct journal_reader *r;
        struct journal_record rec;
        int e;

        e = journal_reader_open(dirfd, o->from, warn_problem, NULL, &r);
        if (e < 0)
                return e;
        for (;;) {
                e = journal_reader_next(r, &rec);
                if (e < 0)
                        break;
                if (e == 0) {
                        if (!o->follow)
                                break;
                        fflush(stdout);
                        e = journal_reader_wait(r, -1);
                        if (e < 0)
                                break;
                        continue;
                }
                if (rec.seq > o->to)
                        break;
                print_record(stdout, &rec, o->json);
        }
        journal_reader_free(r);
        return e < 0 ? e : 0;
}

int cmd_dump(int argc, char **argv)
{
        struct read_opts o;
        int dirfd, r;

        if (parse_read_opts(argc, argv, "h", &o) < 0)
                return usage_of("dump", "DIR [--json] [--from SEQ] [--to SEQ]");
        dirfd = open_journal_dir(o.dir);
        if (dirfd < 0)
                return 1;
        o.follow = 0;
        r = dump_range(dirfd, &o);
        close(dirfd);
        if (fflush(stdout) != 0)
                r = -errno;
        return r < 0 ? read_error(o.dir, r) : 0;
}

int cmd_tail(int argc, char **argv)
{
        struct read_opts o;
        uint64_t head;
        int dirfd, r;

        if (parse_read_opts(argc, argv, "fn:h", &o) < 0)
                return usage_of("tail", "[-f] [-n N] [--json] DIR");
        dirfd = open_journal_dir(o.dir);
        if (dirfd < 0)
                return 1;
        r = last_seq(dirfd, &head);
        if (r == 0) {
                o.from = head >= o.lines ? head - o.lines + 1 : 1;
                if (o.lines == 0)
                        o.from = head + 1;
                r = dump_range(dirfd, &o);
        }
        close(dirfd);
        return r < 0 ? read_error(o.dir, r) : 0;
}

/* ---- stat ---- */

struct cursor_lag {
        struct journal_cursor_info info;
        uint64_t next_time_ns;          /* time of the first record after the cursor */
};

int cmd_stat(int argc, char **argv)
{
        uint64_t counts[1024] = { 0 }, other = 0, records = 0, first_ns = 0, last_ns = 0, head = 0;
        struct journal_cursor_info *curs = NULL;
        struct cursor_lag *lags = NULL;
        struct journal_reader *rd = NULL;
        struct journal_record rec;
        struct read_opts o;
        size_t ncur = 0, i;
        int dirfd, r, ret = 1;

        if (parse_read_opts(argc, argv, "h", &o) < 0)
                return usage_of("stat", "DIR");
        dirfd = open_journal_dir(o.dir);
        if (dirfd < 0)
                return 1;
        r = journal_list_cursors(dirfd, &curs, &ncur);
        if (r == 0 && ncur) {
                lags = calloc(ncur, sizeof(*lags));
                if (!lags)
                        r = -ENOMEM;
                for (i = 0; lags && i < ncur; i++)
                        lags[i].info = curs[i];
        }
        if (r == 0)
                r = journal_reader_open(dirfd, 1, NULL, NULL, &rd);
        while (r == 0 && (r = journal_reader_next(rd, &rec)) > 0) {
                r = 0;
                if (rec.type < 1024)
                        counts[rec.type]++;
                else
                        other++;
                if (!records)
                        first_ns = rec.time_ns;
                last_ns = rec.time_ns;
                head = rec.seq;
                records++;
                for (i = 0; i < ncur; i++)
                        if (!lags[i].info.error && rec.seq == lags[i].info.seq + 1)
                                lags[i].next_time_ns = rec.time_ns;
        }
        if (r < 0) {
                read_error(o.dir, r);
                goto out;
        }
        printf("records: %" PRIu64 "\n", records);
        if (records) {
                char a[48], b[48];
                double span = (double)(last_ns - first_ns) / 1e9;

                format_time_ns(first_ns, a, sizeof(a));
                format_time_ns(last_ns, b, sizeof(b));
                printf("first: %s\nlast:  %s\nspan:  %.3f s\n", a, b, span);
                if (span > 0)
                        printf("rate:  %.1f records/s\n", (double)records / span);
                printf("head seq: %" PRIu64 "\n\n%-16s %12s\n", head, "TYPE", "RECORDS");
                for (i = 0; i < 1024; i++) {
                        const char *tn = journal_type_name((unsigned)i);

                        if (!counts[i])
                                continue;
                        if (tn)
                                printf("%-16s %12" PRIu64 "\n", tn, counts[i]);
                        else
                                printf("type-%-11zu %12" PRIu64 "\n", i, counts[i]);
                }
                if (other)
                        printf("%-16s %12" PRIu64 "\n", "(types >= 1024)", other);
        }
        if (ncur)
                printf("\n%-24s %20s %12s %12s\n", "CURSOR", "SEQ", "LAG", "AGE_S");
        for (i = 0; i < ncur; i++) {
                const struct cursor_lag *l = &lags[i];

                if (l->info.error) {
                        printf("%-24s %20s %12s %12s  (%s)\n", l->info.name, "-", "-", "-",
                               strerror(-l->info.error));
                        continue;
                }
                printf("%-24s %20" PRIu64 " %12" PRIu64, l->info.name, l->info.seq,
                       head > l->info.seq ? head - l->info.seq : 0);
                if (l->next_time_ns) {
                        struct timespec now;

                        clock_gettime(CLOCK_REALTIME, &now);
                        printf(" %12.3f\n", (double)now.tv_sec - (double)l->next_time_ns / 1e9 +
                                                    (double)now.tv_nsec / 1e9);
                } else {
                        printf(" %12s\n", "0");
                }
        }
        ret = 0;
out:
        journal_reader_free(rd);
        free(curs);
        free(lags);
        close(dirfd);
        return ret;
}

/* ---- check ---- */

struct gap {
        uint64_t from, to;
        char segment[64];
        uint64_t offset;
};

struct check_state {
        struct gap *gaps;
        size_t ngaps, cap;
        unsigned problems;
        unsigned notes;
};

static void check_problem(void *userdata, const struct journal_problem *p)
{
        struct check_state *s = userdata;

        if (p->kind == JOURNAL_PROBLEM_GAP) {
                /* Judged at the end: an events-lost record may explain it. */
                if (s->ngaps == s->cap) {
                        size_t cap = s->cap ? s->cap * 2 : 16;
                        struct gap *g = realloc(s->gaps, cap * sizeof(*g));

                        if (!g) {
                                s->problems++;
                                printf("out of memory recording a gap\n");
                                return;
                        }
                        s->gaps = g;
                        s->cap = cap;
                }
                s->gaps[s->ngaps] = (struct gap) { .from = p->seq_from, .to = p->seq_to, .offset = p->offset };
                snprintf(s->gaps[s->ngaps].segment, sizeof(s->gaps[0].segment), "%s", p->segment);
                s->ngaps++;
                return;
        }
        if (p->kind == JOURNAL_PROBLEM_UNKNOWN_TYPE) {
                s->notes++;
                fputs("note: ", stdout);
        } else {
                s->problems++;
        }
        print_problem(stdout, p);
}

int cmd_check(int argc, char **argv)
{
        struct check_state s = { 0 };
        struct journal_cursor_info *curs = NULL;
        struct journal_reader *rd = NULL;
        struct journal_record rec;
        struct read_opts o;
        uint64_t records = 0, head = 0;
        size_t ncur = 0, i, j;
        int dirfd, r;

        if (parse_read_opts(argc, argv, "h", &o) < 0)
                return usage_of("check", "DIR");
        dirfd = open_journal_dir(o.dir);
        if (dirfd < 0)
                return 1;
        r = journal_reader_open(dirfd, 1, check_problem, &s, &rd);
        while (r == 0 && (r = journal_reader_next(rd, &rec)) > 0) {
                r = 0;
                records++;
                head = rec.seq;
                if (rec.type == JOURNAL_EVENTS_LOST && rec.ino && rec.rdev >= rec.ino) {
                        /* Gaps inside the range it names are explained. */
                        for (i = 0; i < s.ngaps; i++) {
                                if (s.gaps[i].from >= rec.ino && s.gaps[i].to <= rec.rdev) {
                                        printf("note: seq %" PRIu64 "..%" PRIu64
                                               " missing, explained by events-lost record %" PRIu64 "\n",
                                               s.gaps[i].from, s.gaps[i].to, rec.seq);
                                        s.notes++;
                                        s.gaps[i].from = 0;
                                }
                        }
                }
        }
        if (r < 0) {
                printf("%s: cannot read: %s\n", o.dir, strerror(-r));
                s.problems++;
        }
        for (i = 0; i < s.ngaps; i++) {
                if (!s.gaps[i].from)
                        continue;
                printf("%s: gap: offset %" PRIu64 ": seq %" PRIu64 "..%" PRIu64
                       " missing and not explained by an events-lost record\n",
                       s.gaps[i].segment, s.gaps[i].offset, s.gaps[i].from, s.gaps[i].to);
                s.problems++;
        }
        if (journal_list_cursors(dirfd, &curs, &ncur) == 0) {
                for (j = 0; j < ncur; j++) {
                        if (curs[j].error) {
                                printf("cursor.%s: %s\n", curs[j].name,
                                       curs[j].error == -EXDEV ? "belongs to another journal"
                                                               : strerror(-curs[j].error));
                                s.problems++;
                        } else if (curs[j].seq > head) {
                                printf("cursor.%s: at seq %" PRIu64 ", beyond the last record %" PRIu64 "\n",
                                       curs[j].name, curs[j].seq, head);
                                s.problems++;
                        }
                }
        }
        printf("%" PRIu64 " records, head seq %" PRIu64 ", %u problem%s, %u note%s\n", records, head, s.problems,
               s.problems == 1 ? "" : "s", s.notes, s.notes == 1 ? "" : "s");
        journal_reader_free(rd);
        free(s.gaps);
        free(curs);
        close(dirfd);
        return s.problems ? 1 : 0;
}

/* ---- trim ---- */

int cmd_trim(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "retention", required_argument, NULL, OPT_RETENTION },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct journal_trim_stats st;
        uint64_t retention = 0;
        int c, dirfd, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                if (c != OPT_RETENTION || parse_duration_s(optarg, &retention) < 0)
                        return usage_of("trim", "DIR [--retention DURATION (30d, 12h, 3600)]");
        }
        if (optind != argc - 1)
                return usage_of("trim", "DIR [--retention DURATION]");
        dirfd = open_journal_dir(argv[optind]);
        if (dirfd < 0)
                return 1;
        r = journal_trim(dirfd, retention, &st);
        close(dirfd);
        if (r < 0) {
                fprintf(stderr, PROG ": cannot trim '%s': %s\n", argv[optind], strerror(-r));
                return 1;
        }
        printf("deleted %u, archived %u, expired %u segments; %" PRIu64 " bytes freed\n", st.deleted,
               st.archived, st.expired, st.bytes_freed);
        return 0;
}
