/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h: the daemons' messages, with syslog levels, to where an operator
 * looks and never to a job's terminal.
 *
 *   stderr    in the foreground: plain lines, or, when stderr is the
 *             journal's stream (systemd sets $JOURNAL_STREAM), lines with a
 *             "<N>" level prefix, which journald turns into priorities;
 *   syslog    once a daemon has detached (LOG_DAEMON facility, with PID).
 *
 * Messages above the level set are dropped before they are formatted.  The
 * destination and level are process-wide (like openlog()), set once before
 * threads start; log_msg() is thread-safe.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

enum log_target {
        LOG_TARGET_STDERR,
        LOG_TARGET_SYSLOG,
};

/* @ident: the program's name.  @level: LOG_ERR..LOG_DEBUG. */
void log_setup(const char *ident, enum log_target target, int level);
int log_get_level(void);

/* "err", "warning", "notice", "info", "debug" (or 3..7) -> LOG_*; -EINVAL. */
int log_level_parse(const char *s);
const char *log_level_name(int level);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
