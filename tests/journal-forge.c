/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-forge: append hand-made records to a journal, for tests of what
 * readers do with records no honest mount would write (hostile paths).
 *
 *   journal-forge [--announce] DIR TYPE PATH [PATH2] [TYPE PATH [PATH2]]...
 *
 * --announce: the records are announced in the in-flight table and left
 * there, as by a daemon killed before it could append them.
 *
 * TYPE is a record type name (create, rename, unlink, ...); PATH2 is taken
 * for rename, link and symlink.  Paths are used as given (after C escapes
 * \n and \xNN are decoded), valid or not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

static char *unescape(const char *s)
{
        char *out = malloc(strlen(s) + 1), *p = out;

        while (out && *s) {
                if (s[0] == '\\' && s[1] == 'x' && s[2] && s[3]) {
                        char hex[3] = { s[2], s[3], 0 };

                        *p++ = (char)strtol(hex, NULL, 16);
                        s += 4;
                } else if (s[0] == '\\' && s[1] == 'n') {
                        *p++ = '\n';
                        s += 2;
                } else {
                        *p++ = *s++;
                }
        }
        if (p)
                *p = 0;
        return out;
}

int main(int argc, char **argv)
{
        struct journal_inflight *table = NULL;
        bool announce = argc > 1 && !strcmp(argv[1], "--announce");
        struct journal *j;
        int dirfd, i, r;

        if (announce) {
                argv++;
                argc--;
        }
        if (argc < 4) {
                fprintf(stderr, "usage: journal-forge [--announce] DIR TYPE PATH [PATH2]...\n");
                return 2;
        }
        dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                perror(argv[1]);
                return 1;
        }
        r = journal_open(dirfd, NULL, NULL, NULL, &j);
        if (r == 0 && announce)
                r = journal_inflight_open(j, 4, &table);
        if (r < 0) {
                fprintf(stderr, "journal-forge: %s\n", strerror(-r));
                return 1;
        }
        for (i = 2; i + 1 < argc;) {
                struct journal_record rec = { .mode = 0100644, .ino = 0 };
                unsigned t;
                bool two;

                for (t = 1; t < 1024; t++)
                        if (journal_type_name(t) && !strcmp(journal_type_name(t), argv[i]))
                                break;
                if (t == 1024) {
                        fprintf(stderr, "journal-forge: unknown type '%s'\n", argv[i]);
                        return 2;
                }
                rec.type = (uint16_t)t;
                two = t == JOURNAL_RENAME || t == JOURNAL_LINK || t == JOURNAL_SYMLINK;
                rec.path = unescape(argv[i + 1]);
                if (two && i + 2 < argc)
                        rec.path2 = unescape(argv[i + 2]);
                if (announce) {
                        int slot;

                        r = journal_announce(table, &rec, &slot);     /* and never withdrawn */
                } else {
                        r = journal_append(j, &rec, NULL);
                }
                if (r < 0) {
                        fprintf(stderr, "journal-forge: cannot append %s '%s': %s\n", argv[i], argv[i + 1],
                                strerror(-r));
                        return 1;
                }
                i += two ? 3 : 2;
        }
        if (table)
                journal_inflight_close(table);
        journal_close(j);
        return 0;
}
