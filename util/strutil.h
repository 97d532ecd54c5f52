/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strutil.h: what the programs share (mount, replicator, tools): strict parsing
 * of numbers, sizes and durations, quoting of paths for terminals and JSON,
 * and time formatting.  No state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A whole decimal number, nothing before or after it: 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *ret);
/* Like parse_u64, between @min and @max. */
int parse_u64_range(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* "30", "30s", "5m", "2h", "7d" -> seconds. */
int parse_duration_s(const char *s, uint64_t *ret);
/* "4096", "64K", "64M", "2G", "1T" (powers of 1024) -> bytes. */
int parse_size(const char *s, uint64_t *ret);

/* Print @s (@len bytes) for a terminal: as is when it is plain, else in
 * double quotes with C escapes (\n, \t, \", \\, \xNN for bytes that are not
 * valid UTF-8 or not printable). */
void print_quoted(FILE *f, const char *s, size_t len);

/* Print @s as a JSON value: a string when it is valid UTF-8, otherwise an
 * array of its byte values (JSON strings cannot carry arbitrary bytes). */
void print_json_string(FILE *f, const char *s, size_t len);

/* "2026-11-21T23:52:45.123456789Z" */
void format_time_ns(uint64_t ns, char *buf, size_t size);

/* Length of the valid UTF-8 sequence at @s (1..4), 0 when invalid. */
size_t utf8_char_len(const unsigned char *s, size_t avail);
