/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-tool.h: the subcommands of mirrorfs-journal.  Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the exit
 * status: 0 success, 1 problems found (check) or failure, 2 bad usage.
 */
#pragma once

#include <stdio.h>

struct journal_record;

int cmd_ls(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_trim(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_dead_letters(int argc, char **argv);

/* Open the journal directory @path (O_DIRECTORY); prints the error. */
int open_journal_dir(const char *path);

/* One record as a line of text or JSON. */
void print_record(FILE *f, const struct journal_record *rec, int json);

#define PROG "mirrorfs-journal"
