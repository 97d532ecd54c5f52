/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * options.c: the mount's command line, strictly parsed.
 *
 *   mirrorfs SOURCE MOUNTPOINT -o target=DIR,journal=DIR[,...] [-f] [-d] [-s]
 *
 * This is also what mount.fuse3 runs for /etc/fstab and for
 * "mount -t fuse.mirrorfs SOURCE MOUNTPOINT -o ...".  Our options are taken
 * out of the argument list; every other option is left for libfuse (and so
 * checked by it: allow_other, ro, noatime...).  A bad value is a one-line
 * error naming the option, the value and what is allowed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "strutil.h"

enum {
        KEY_TARGET, KEY_JOURNAL, KEY_SOCKET, KEY_REPLICATE, KEY_CHECK, KEY_DURABILITY, KEY_COMMIT_INTERVAL,
        KEY_SEGMENT_SIZE, KEY_PASSTHROUGH, KEY_IO_URING, KEY_TIMEOUT, KEY_DIRCACHE, KEY_THREADS, KEY_CLONE_FD,
        KEY_NOFLUSH, KEY_WRITEBACK, KEY_READDIRPLUS, KEY_HELP, KEY_VERSION, KEY_FOREGROUND,
        KEY_DEBUG, KEY_SINGLE, KEY_DRAIN, KEY_WORKERS, KEY_SOCKET_GROUP, KEY_LOG_LEVEL, KEY_RETENTION,
};

static const struct fuse_opt opt_spec[] = {
        FUSE_OPT_KEY("target=", KEY_TARGET),
        FUSE_OPT_KEY("journal=", KEY_JOURNAL),
        FUSE_OPT_KEY("socket=", KEY_SOCKET),
        FUSE_OPT_KEY("socket_group=", KEY_SOCKET_GROUP),
        FUSE_OPT_KEY("replicate=", KEY_REPLICATE),
        FUSE_OPT_KEY("check=", KEY_CHECK),
        FUSE_OPT_KEY("durability=", KEY_DURABILITY),
        FUSE_OPT_KEY("commit_interval_ms=", KEY_COMMIT_INTERVAL),
        FUSE_OPT_KEY("segment_size=", KEY_SEGMENT_SIZE),
        FUSE_OPT_KEY("passthrough=", KEY_PASSTHROUGH),
        FUSE_OPT_KEY("io_uring=", KEY_IO_URING),
        FUSE_OPT_KEY("timeout=", KEY_TIMEOUT),
        FUSE_OPT_KEY("dircache=", KEY_DIRCACHE),
        FUSE_OPT_KEY("threads=", KEY_THREADS),
        FUSE_OPT_KEY("clone_fd=", KEY_CLONE_FD),
        FUSE_OPT_KEY("noflush=", KEY_NOFLUSH),
        FUSE_OPT_KEY("writeback=", KEY_WRITEBACK),
        FUSE_OPT_KEY("readdirplus=", KEY_READDIRPLUS),
        FUSE_OPT_KEY("drain_timeout=", KEY_DRAIN),
        FUSE_OPT_KEY("workers=", KEY_WORKERS),
        FUSE_OPT_KEY("log_level=", KEY_LOG_LEVEL),
        FUSE_OPT_KEY("retention=", KEY_RETENTION),
        FUSE_OPT_KEY("-h", KEY_HELP),
        FUSE_OPT_KEY("--help", KEY_HELP),
        FUSE_OPT_KEY("-V", KEY_VERSION),
        FUSE_OPT_KEY("--version", KEY_VERSION),
        FUSE_OPT_KEY("-f", KEY_FOREGROUND),
        FUSE_OPT_KEY("-d", KEY_DEBUG),
        FUSE_OPT_KEY("debug", KEY_DEBUG),
        FUSE_OPT_KEY("-s", KEY_SINGLE),
        FUSE_OPT_END,
};

struct parse_state {
        struct fs_options *o;
        char *err;
        size_t errlen;
        int nonopts;
};

static int bad(struct parse_state *s, const char *arg, const char *allowed)
{
        snprintf(s->err, s->errlen, "bad option '%s': expected %s", arg, allowed);
        return -1;
}

static int parse_bool(const char *v, bool *ret)
{
        if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
                *ret = true;
        else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

static int set_string(char **field, const char *v)
{
        char *s = strdup(v);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int parse_seconds(const char *v, double *ret)
{
        char *end;
        double d;

        if (!*v || *v < '0' || *v > '9')
                return -EINVAL;
        errno = 0;
        d = strtod(v, &end);
        if (errno || *end || d < 0 || d > 1e9)
                return -EINVAL;
        *ret = d;
        return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
        struct parse_state *s = data;
        struct fs_options *o = s->o;
        const char *v = strchr(arg, '=');
        uint64_t n;
        int mode;

        v = v ? v + 1 : "";
        switch (key) {
        case FUSE_OPT_KEY_NONOPT:
                if (s->nonopts == 0) {
                        s->nonopts++;
                        return set_string(&o->source, arg) < 0 ? -1 : 0;
                }
                if (s->nonopts == 1) {
                        s->nonopts++;
                        return set_string(&o->mountpoint, arg) < 0 ? -1 : 0;
                }
                snprintf(s->err, s->errlen, "unexpected argument '%s' (give SOURCE and MOUNTPOINT only)", arg);
                return -1;
        case KEY_TARGET:
                return *v && set_string(&o->target, v) == 0 ? 0 : bad(s, arg, "a directory");
        case KEY_JOURNAL:
                return *v && set_string(&o->journal, v) == 0 ? 0 : bad(s, arg, "a directory");
        case KEY_SOCKET:
                return *v && strlen(v) < 108 && set_string(&o->socket, v) == 0
                       ? 0 : bad(s, arg, "a socket path of at most 107 bytes");
        case KEY_SOCKET_GROUP:
                return *v && set_string(&o->socket_group, v) == 0 ? 0 : bad(s, arg, "a group name or number");
        case KEY_REPLICATE:
                return parse_bool(v, &o->replicate) == 0 ? 0 : bad(s, arg, "on or off");
        case KEY_CHECK:
                return parse_bool(v, &o->check) == 0 ? 0 : bad(s, arg, "on or off");
        case KEY_DURABILITY:
                if (!strcmp(v, "batch"))
                        o->durability = JOURNAL_BATCH;
                else if (!strcmp(v, "strict"))
                        o->durability = JOURNAL_STRICT;
                else if (!strcmp(v, "none"))
                        o->durability = JOURNAL_NONE;
                else
                        return bad(s, arg, "strict, batch or none");
                return 0;
        case KEY_COMMIT_INTERVAL:
                return parse_u64_range(v, 1, 60000, &o->commit_interval_ms) == 0
                       ? 0 : bad(s, arg, "milliseconds, 1 to 60000");
        case KEY_SEGMENT_SIZE:
                if (parse_size(v, &n) < 0 || n < (1u << 20) || n > (4ull << 30))
                        return bad(s, arg, "a size from 1M to 4G");
                o->segment_size = n;
                return 0;
        case KEY_PASSTHROUGH:
        case KEY_IO_URING:
                if (!strcmp(v, "auto"))
                        mode = 0;
                else if (!strcmp(v, "on"))
                        mode = 1;
                else if (!strcmp(v, "off"))
                        mode = 2;
                else
                        return bad(s, arg, "auto, on or off");
                if (key == KEY_PASSTHROUGH)
                        o->passthrough = mode == 0 ? FS_PT_AUTO : mode == 1 ? FS_PT_ON : FS_PT_OFF;
                else
                        o->io_uring = mode == 0 ? FS_URING_AUTO : mode == 1 ? FS_URING_ON : FS_URING_OFF;
                return 0;
        case KEY_TIMEOUT:
                return parse_seconds(v, &o->timeout) == 0 ? 0 : bad(s, arg, "seconds (0 or more, may be fractional)");
        case KEY_DIRCACHE:
                return parse_u64_range(v, 0, 16384, &o->dircache) == 0
                       ? 0 : bad(s, arg, "a number of directories, 0 to 16384");
        case KEY_THREADS:
                return parse_u64_range(v, 1, 1024, &o->threads) == 0 ? 0 : bad(s, arg, "1 to 1024");
        case KEY_CLONE_FD:
                return parse_bool(v, &o->clone_fd) == 0 ? 0 : bad(s, arg, "on or off");
        case KEY_NOFLUSH:
                return parse_bool(v, &o->noflush) == 0 ? 0 : bad(s, arg, "on or off");
        case KEY_WRITEBACK:
                return parse_bool(v, &o->writeback) == 0 ? 0 : bad(s, arg, "on or off");
        case KEY_READDIRPLUS:
                return parse_bool(v, &o->readdirplus) == 0 ? 0 : bad(s, arg, "on or off");
        case KEY_DRAIN:
                return parse_duration_s(v, &o->drain_timeout) == 0 && o->drain_timeout <= 86400
                       ? 0 : bad(s, arg, "a duration up to 1d (30, 5m)");
        case KEY_WORKERS:
                return parse_u64_range(v, 1, 64, &o->workers) == 0 ? 0 : bad(s, arg, "1 to 64");
        case KEY_LOG_LEVEL:
                if ((o->log_level = log_level_parse(v)) < 0)
                        return bad(s, arg, "err, warning, notice, info or debug");
                return 0;
        case KEY_RETENTION:
                return parse_duration_s(v, &o->retention_s) == 0 && o->retention_s <= 3650ull * 86400
                       ? 0 : bad(s, arg, "a duration up to 3650d (0: delete applied segments; 7d, 12h)");
        case KEY_HELP:
                o->show_help = true;
                return 0;
        case KEY_VERSION:
                o->show_version = true;
                return 0;
        case KEY_FOREGROUND:
                o->foreground = true;
                return 0;
        case KEY_DEBUG:
                o->debug = o->foreground = true;
                o->log_level = LOG_DEBUG;
                return 1;       /* libfuse prints the requests */
        case KEY_SINGLE:
                o->singlethread = true;
                return 0;
        default:
                return 1;       /* for libfuse */
        }
}

/* fuse_opt splits -o values at commas: escape them in a value we add. */
static int add_opt(struct fuse_args *args, const char *key, const char *value)
{
        size_t n = strlen(key) + 2 * strlen(value) + 3;
        char *s = malloc(n), *p;
        int r;

        if (!s)
                return -ENOMEM;
        p = s + sprintf(s, "-o%s", key);
        for (; *value; value++) {
                if (*value == ',' || *value == '\\')
                        *p++ = '\\';
                *p++ = *value;
        }
        *p = 0;
        r = fuse_opt_add_arg(args, s);
        free(s);
        return r < 0 ? -ENOMEM : 0;
}

int fs_options_parse(struct fuse_args *args, struct fs_options *o, char *err, size_t errlen)
{
        struct parse_state s = { .o = o, .err = err, .errlen = errlen };

        *o = (struct fs_options) {
                .replicate = true,
                .check = true,
                .durability = JOURNAL_BATCH,
                .commit_interval_ms = 10,
                .segment_size = 64u << 20,
                .passthrough = FS_PT_AUTO,
                .io_uring = FS_URING_AUTO,
                .timeout = 86400,
                .dircache = 4096,
                .threads = 16,
                .noflush = true,
                .writeback = false,
                .readdirplus = true,
                .drain_timeout = 60,
                .workers = 2,
                .log_level = LOG_INFO,
        };
        err[0] = 0;
        if (fuse_opt_parse(args, &s, opt_spec, opt_proc) < 0) {
                if (!err[0])
                        snprintf(err, errlen, "cannot parse the options (out of memory?)");
                return -EINVAL;
        }
        if (o->show_help || o->show_version)
                return 0;
        if (!o->source || !o->mountpoint) {
                snprintf(err, errlen, "give SOURCE and MOUNTPOINT (see mirrorfs --help)");
                return -EINVAL;
        }
        if (!o->journal) {
                snprintf(err, errlen, "no journal directory: add -o journal=DIR");
                return -EINVAL;
        }
        if (o->replicate && !o->target) {
                snprintf(err, errlen, "no target directory: add -o target=DIR (or replicate=off to only journal)");
                return -EINVAL;
        }
        if (o->singlethread && o->io_uring == FS_URING_ON) {
                snprintf(err, errlen, "io_uring=on and -s do not go together: the io_uring queues have a thread each");
                return -EINVAL;
        }
        /* The kernel checks permissions against the source's modes: a user
         * cannot do through the mount what the tree would refuse. */
        /* The tree's setuid programs and device nodes work as they do
         * natively, unless the mount options say otherwise (they come
         * later, so they win). */
        if ((geteuid() == 0 && fuse_opt_insert_arg(args, 1, "-osuid,dev") < 0) ||
            fuse_opt_add_arg(args, "-odefault_permissions") < 0 || add_opt(args, "subtype=", "mirrorfs") < 0 ||
            add_opt(args, "fsname=", o->source) < 0 ||
            (fs_options_want_uring(o) && fuse_opt_add_arg(args, "-oio_uring") < 0)) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        return 0;
}

bool fs_options_want_uring(const struct fs_options *o)
{
        /* Strict durability waits for the journal's sync in the request:
         * one request at a time per CPU would leave no group to commit. */
        if (o->singlethread || o->io_uring == FS_URING_OFF)
                return false;
        return o->io_uring == FS_URING_ON || o->durability != JOURNAL_STRICT;
}

void fs_options_free(struct fs_options *o)
{
        free(o->source);
        free(o->mountpoint);
        free(o->target);
        free(o->journal);
        free(o->socket);
        free(o->socket_group);
        memset(o, 0, sizeof(*o));
}

void fs_options_usage(void)
{
        printf("usage: mirrorfs SOURCE MOUNTPOINT -o journal=DIR,target=DIR[,OPTION...] [-f] [-d] [-s]\n"
               "\n"
               "Mount SOURCE at MOUNTPOINT (they may be the same directory), journal every change\n"
               "and mirror it to the target.\n"
               "\n"
               "mirrorfs options (-o):\n"
               "  journal=DIR             the journal directory (required; not inside SOURCE)\n"
               "  target=DIR              the mirror (required with replicate=on; not inside SOURCE)\n"
               "  replicate=on|off        run the replicator in the daemon (default on)\n"
               "  check=on|off            once their changes are applied, compare the directories\n"
               "                          they touched with the source and repair (default on)\n"
               "  socket=PATH             the status and control socket (mirrorfsctl);\n"
               "                          default /run/mirrorfs/MOUNTPOINT.sock\n"
               "  socket_group=GROUP      may connect to the socket and pause, resume, sync, set\n"
               "                          workers and retry (default: root only)\n"
               "  durability=strict|batch|none\n"
               "                          when journal records are made durable (default batch)\n"
               "  commit_interval_ms=N    batch: group commit interval, 1..60000 (default 10)\n"
               "  segment_size=SIZE       journal segment size, 1M..4G (default 64M)\n"
               "  passthrough=auto|on|off kernel passthrough of reads and writes (default auto)\n"
               "  io_uring=auto|on|off    the kernel's requests over io_uring, a queue per CPU\n"
               "                          (default auto: when the kernel offers it and durability\n"
               "                          is not strict)\n"
               "  timeout=SECONDS         kernel cache of names and attributes (default 86400;\n"
               "                          use 0 when the source also changes outside the mount)\n"
               "  dircache=N              directory descriptors kept open, 0..16384 (default 4096)\n"
               "  threads=N               worker threads, 1..1024 (default 16)\n"
               "  clone_fd=on|off         a /dev/fuse descriptor per thread (default off)\n"
               "  noflush=on|off          no FLUSH request on close (default on)\n"
               "  writeback=on|off        writeback cache when passthrough is off (default off:\n"
               "                          faster small writes, kernel-kept times)\n"
               "  readdirplus=on|off      attributes with directory listings (default on)\n"
               "  workers=N               replicator threads, 1..64 (default 2)\n"
               "  drain_timeout=DURATION  at unmount, finish replicating for this long (default 60s);\n"
               "                          the rest stays in the journal for the next start\n"
               "  retention=DURATION      keep applied journal segments, compressed, this long as an\n"
               "                          audit trail (default 0: delete them)\n"
               "  log_level=LEVEL         err, warning, notice, info or debug (default info)\n"
               "\n"
               "  -f                      stay in the foreground\n"
               "  -d                      debug: print every request (implies -f)\n"
               "  -s                      single-threaded\n"
               "  -h, --help              this text\n"
               "  -V, --version           the version\n"
               "\n"
               "Any other -o option goes to FUSE and the kernel (allow_other, ro, noatime, ...).\n"
               "default_permissions is always on. See mirrorfs(8).\n");
}
