/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

int tu_mkdtemp(char *buf, size_t size)
{
        const char *tmp = getenv("TMPDIR");
        int fd;

        snprintf(buf, size, "%s/mirrorfs-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(buf));
        fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

void tu_rmtree(const char *path)
{
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_copydir(const char *from, const char *to)
{
        struct dirent *de;
        DIR *d;

        ck_assert_int_eq(mkdir(to, 0700), 0);
        d = opendir(from);
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                char src[4096], dst[4096], buf[65536];
                struct stat st;
                ssize_t n;
                int in, out;

                snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
                snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
                if (lstat(src, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                in = open(src, O_RDONLY | O_CLOEXEC);
                out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                ck_assert(in >= 0 && out >= 0);
                while ((n = read(in, buf, sizeof(buf))) > 0)
                        ck_assert_int_eq(write(out, buf, (size_t)n), n);
                close(in);
                close(out);
        }
        closedir(d);
}

int tu_run(Suite *s)
{
        SRunner *sr = srunner_create(s);
        int failed;

        /* TAP on stdout for meson; nothing else there. */
        srunner_set_tap(sr, "-");
        srunner_run_all(sr, CK_SILENT);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
