/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.c: see log.h.  The one piece of process-wide state in the programs,
 * as openlog()'s own is: set before threads start, read-only afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static struct {
        const char *ident;
        enum log_target target;
        int level;
        bool prefix_levels;     /* stderr is the journal's stream */
} log_cfg = { "mirrorfs", LOG_TARGET_STDERR, LOG_INFO, false };

static const char *const level_names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };

/* $JOURNAL_STREAM is "DEV:INO" of the stream systemd connected; it counts
 * only while stderr is still that stream (not redirected since). */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(const char *ident, enum log_target target, int level)
{
        log_cfg.ident = ident;
        log_cfg.target = target;
        log_cfg.level = level < LOG_ERR ? LOG_ERR : level > LOG_DEBUG ? LOG_DEBUG : level;
        log_cfg.prefix_levels = target == LOG_TARGET_STDERR && stderr_is_journal();
        if (target == LOG_TARGET_SYSLOG)
                openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_get_level(void)
{
        return log_cfg.level;
}

int log_level_parse(const char *s)
{
        for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
                if (!strcmp(s, level_names[i]) || (s[0] == '0' + i && !s[1]))
                        return i;
        if (!strcmp(s, "error"))
                return LOG_ERR;
        if (!strcmp(s, "warn"))
                return LOG_WARNING;
        return -EINVAL;
}

const char *log_level_name(int level)
{
        return level >= 0 && level <= LOG_DEBUG ? level_names[level] : "?";
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
        char buf[2048];
        const char *msg = buf;
        size_t n, id;

        if (level > log_cfg.level)
                return;
        vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n && buf[n - 1] == '\n')
                buf[--n] = 0;
        /* Callers (and libfuse) may name the program themselves. */
        id = strlen(log_cfg.ident);
        if (!strncmp(msg, log_cfg.ident, id) && msg[id] == ':' && msg[id + 1] == ' ')
                msg += id + 2;
        if (log_cfg.target == LOG_TARGET_SYSLOG)
                syslog(level, "%s", msg);
        else if (log_cfg.prefix_levels)
                fprintf(stderr, "<%d>%s\n", level, msg);     /* journald names the program */
        else
                fprintf(stderr, "%s: %s\n", log_cfg.ident, msg);
}

void log_msg(int level, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg(level, fmt, ap);
        va_end(ap);
}
