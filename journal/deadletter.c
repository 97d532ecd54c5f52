/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * deadletter.c: the dead letters file of a cursor, deadletters.CURSOR in the
 * journal directory: one line per change set aside, tab-separated fields
 * "time_ns seq errno what path [path2]", each text field escaped so that
 * tabs, newlines and any byte survive (\t, \n, \\, \xNN for bytes below
 * 0x20 and 0x7f).  Appended and fdatasynced one at a time: dead letters are
 * rare and must not be lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal-internal.h"

static int file_name(const char *cursor, char *buf, size_t size)
{
        if (!journal_cursor_name_valid(cursor))
                return -EINVAL;
        snprintf(buf, size, "deadletters.%s", cursor);
        return 0;
}

static void escape(FILE *f, const char *s)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (c == '\\')
                        fputs("\\\\", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
}

/* In place; false when malformed. */
static bool unescape(char *s)
{
        char *o = s;

        while (*s) {
                if (*s != '\\') {
                        *o++ = *s++;
                        continue;
                }
                s++;
                if (*s == '\\' || *s == 't' || *s == 'n') {
                        *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : '\\';
                        s++;
                } else if (*s == 'x' && s[1] && s[2]) {
                        char hex[3] = { s[1], s[2], 0 }, *end;
                        long v = strtol(hex, &end, 16);

                        if (*end || v <= 0)
                                return false;
                        *o++ = (char)v;
                        s += 3;
                } else {
                        return false;
                }
        }
        *o = 0;
        return true;
}

int journal_dead_letter_append(int dirfd, const char *cursor, const struct journal_dead_letter *d)
{
        char name[96], *line = NULL;
        size_t len = 0;
        FILE *f;
        int fd, r = 0;

        r = file_name(cursor, name, sizeof(name));
        if (r < 0)
                return r;
        f = open_memstream(&line, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%" PRIu64 "\t%" PRIu64 "\t%d\t", d->time_ns, d->seq, -d->error);
        escape(f, d->what ? d->what : "");
        fputc('\t', f);
        escape(f, d->path ? d->path : "");
        if (d->path2 && *d->path2) {
                fputc('\t', f);
                escape(f, d->path2);
        }
        fputc('\n', f);
        if (fclose(f) != 0) {
                free(line);
                return -ENOMEM;
        }
        fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                r = -errno;
        else if (write(fd, line, len) != (ssize_t)len || fdatasync(fd) < 0)
                r = errno ? -errno : -EIO;
        if (fd >= 0)
                close(fd);
        free(line);
        return r;
}

static int read_named(int dirfd, const char *name, int (*fn)(void *, const struct journal_dead_letter *), void *ud,
                      uint64_t *ret_count)
{
        char *line = NULL;
        size_t cap = 0;
        uint64_t count = 0;
        FILE *f;
        int fd, r = 0;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        f = fdopen(fd, "r");
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        while (getline(&line, &cap, f) > 0) {
                char *field[6] = { 0 }, *save = NULL, *p;
                struct journal_dead_letter d;
                unsigned n = 0;

                line[strcspn(line, "\n")] = 0;
                for (p = strtok_r(line, "\t", &save); p && n < 6; p = strtok_r(NULL, "\t", &save))
                        field[n++] = p;
                if (n < 5 || !unescape(field[3]) || !unescape(field[4]) || (field[5] && !unescape(field[5])))
                        continue;       /* not a line we wrote: skipped */
                d = (struct journal_dead_letter) {
                        .time_ns = strtoull(field[0], NULL, 10), .seq = strtoull(field[1], NULL, 10),
                        .error = -atoi(field[2]), .what = field[3], .path = field[4], .path2 = field[5] ? field[5] : "",
                };
                count++;
                r = fn(ud, &d);
                if (r < 0)
                        break;
        }
        free(line);
        fclose(f);
        if (ret_count)
                *ret_count = count;
        return r;
}

int journal_dead_letters_read(int dirfd, const char *cursor, int (*fn)(void *, const struct journal_dead_letter *),
                              void *ud)
{
        char name[96];
        int r = file_name(cursor, name, sizeof(name));

        return r < 0 ? r : read_named(dirfd, name, fn, ud, NULL);
}

int journal_dead_letters_take(int dirfd, const char *cursor, int (*fn)(void *, const struct journal_dead_letter *),
                              void *ud, uint64_t *ret_count)
{
        char name[96], taken[112];
        int r = file_name(cursor, name, sizeof(name));

        if (r < 0)
                return r;
        snprintf(taken, sizeof(taken), "%s.retried", name);
        /* Set aside first: a dead letter arriving meanwhile starts a new file. */
        if (renameat(dirfd, name, dirfd, taken) < 0)
                return errno == ENOENT ? (*ret_count = 0, 0) : -errno;
        r = read_named(dirfd, taken, fn, ud, ret_count);
        if (r == 0)
                (void)fsync_dir(dirfd);
        return r;
}
