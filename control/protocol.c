/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * protocol.c: parsing a control request, strictly (docs/control-protocol.md):
 * printable ASCII words separated by single spaces, a known verb, exactly
 * the arguments it takes, numbers in range.  Anything else is refused; no
 * byte of a request is trusted before it is checked.
 */
#include <errno.h>
#include <string.h>

#include "control.h"

#define WORD_MAX 64

static const struct {
        const char *name;
        enum ctl_verb verb;
        bool control;
        unsigned min_args, max_args;
} verbs[] = {
        { "version", CTL_VERSION, false, 0, 0 },
        { "status", CTL_STATUS, false, 0, 0 },
        { "metrics", CTL_METRICS, false, 0, 0 },
        { "dead-letters", CTL_DEAD_LETTERS, false, 0, 0 },
        { "report", CTL_REPORT, false, 0, 2 },
        { "sync", CTL_SYNC, true, 0, 1 },
        { "pause", CTL_PAUSE, true, 0, 0 },
        { "resume", CTL_RESUME, true, 0, 0 },
        { "workers", CTL_WORKERS, true, 1, 1 },
        { "retry", CTL_RETRY, true, 0, 0 },
};

/* A decimal number of at most 19 digits, no sign, no leading zero. */
static int number(const char *w, size_t n, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i;

        if (n == 0 || n > 19 || (n > 1 && w[0] == '0'))
                return -EINVAL;
        for (i = 0; i < n; i++) {
                if (w[i] < '0' || w[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(w[i] - '0');
        }
        if (v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int ctl_parse_request(const char *buf, size_t len, struct ctl_request *ret)
{
        const char *word[1 + CTL_ARGS_MAX];
        size_t wlen[1 + CTL_ARGS_MAX], i, start = 0;
        unsigned nwords = 0, v;
        struct ctl_request req = { 0 };

        if (len == 0 || len >= CTL_REQUEST_MAX)
                return -EINVAL;
        for (i = 0; i <= len; i++) {
                if (i < len) {
                        unsigned char c = (unsigned char)buf[i];

                        if (c != ' ' && (c < 0x21 || c > 0x7e))
                                return -EINVAL;
                        if (c != ' ')
                                continue;
                }
                /* a word ends at i */
                if (i == start || i - start > WORD_MAX || nwords == 1 + CTL_ARGS_MAX)
                        return -EINVAL;         /* empty (double or edge space), too long, too many */
                word[nwords] = buf + start;
                wlen[nwords++] = i - start;
                start = i + 1;
        }
        for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
                if (strlen(verbs[v].name) == wlen[0] && memcmp(verbs[v].name, word[0], wlen[0]) == 0)
                        break;
        if (v == sizeof(verbs) / sizeof(verbs[0]))
                return -ENOSYS;
        if (nwords - 1 < verbs[v].min_args || nwords - 1 > verbs[v].max_args)
                return -EINVAL;
        req.verb = verbs[v].verb;
        req.control = verbs[v].control;
        switch (req.verb) {
        case CTL_SYNC:
                if (nwords == 2 && number(word[1], wlen[1], 86400000, &req.num) < 0)
                        return -EINVAL;
                break;
        case CTL_WORKERS:
                if (number(word[1], wlen[1], 64, &req.num) < 0 || req.num == 0)
                        return -EINVAL;
                break;
        case CTL_REPORT:
                req.num = 86400;
                for (i = 1; i < nwords; i++) {
                        if (wlen[i] == 4 && memcmp(word[i], "hour", 4) == 0 && !req.by_hour)
                                req.by_hour = true;
                        else if (i == 1 && number(word[i], wlen[i], 100ull * 365 * 86400, &req.num) == 0)
                                continue;
                        else
                                return -EINVAL;
                }
                break;
        default:
                break;
        }
        *ret = req;
        return 0;
}
