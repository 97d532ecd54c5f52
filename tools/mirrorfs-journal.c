/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mirrorfs-journal: the offline inspector of a mirrorfs journal directory.
 * Works without any daemon; safe to run while the writer appends (it only
 * reads, except 'trim').  The subcommands live in journal-inspect.c and
 * journal-bench.c; this file dispatches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "journal-tool.h"

static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *usage;
} commands[] = {
        { "ls", cmd_ls, "ls DIR                      segments, sequence ranges, sizes, cursors" },
        { "dump", cmd_dump, "dump DIR [--json] [--from SEQ] [--to SEQ]   one line per record" },
        { "tail", cmd_tail, "tail [-f] [-n N] [--json] DIR   the last records; -f follows new ones" },
        { "stat", cmd_stat, "stat DIR                    counts by type, time span, rate, cursor lag" },
        { "check", cmd_check, "check DIR                   verify every byte; exit 1 listing each problem" },
        { "trim", cmd_trim, "trim DIR [--retention DURATION]   delete or archive what all cursors passed" },
        { "report", cmd_report, "report DIR [--cursor NAME] [--since DURATION] [--by hour] [--json]   latency" },
        { "dead-letters", cmd_dead_letters, "dead-letters DIR [--cursor NAME]   changes a replicator set aside" },
        { "bench", cmd_bench, "bench --dir DIR --records N --threads T --durability strict|batch|none" },
};

static void usage(FILE *f)
{
        size_t i;

        fprintf(f, "usage: " PROG " COMMAND [ARGS]\n\n");
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  " PROG " %s\n", commands[i].usage);
        fprintf(f, "\n  " PROG " --help | --version\n"
                   "\nSee mirrorfs-journal(1) and docs/journal-format.md.\n");
}

int open_journal_dir(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                fprintf(stderr, PROG ": cannot open journal directory '%s': %s\n", path, strerror(errno));
        return fd;
}

int main(int argc, char **argv)
{
        size_t i;

        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf(PROG " %s\n", MIRRORFS_VERSION);
                return 0;
        }
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].fn(argc - 1, argv + 1);
        fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
}
