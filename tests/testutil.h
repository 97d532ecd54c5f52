/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * testutil.h: helpers shared by the libcheck suites: scratch directories
 * that are removed afterwards, and the TAP runner.
 */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); path in @buf. Returns an O_DIRECTORY fd. */
int tu_mkdtemp(char *buf, size_t size);
/* rm -rf @path (no symlinks followed). */
void tu_rmtree(const char *path);
/* Copy every regular file of directory @from into the new directory @to. */
void tu_copydir(const char *from, const char *to);
/* Run @s with TAP output on stdout; returns the exit status for main(). */
int tu_run(Suite *s);
