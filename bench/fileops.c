/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fileops: the small-file workloads of bench/overhead and bench/scale, one
 * process, one system call per step, so the loop costs the same natively
 * and through any FUSE mount.  Built by the bench scripts with the
 * machine's cc into the build directory; not part of the meson build.
 *
 *   fileops create DIR N SIZE     create, write SIZE bytes to and close f0000000..
 *   fileops stat   DIR N          lstat each f...
 *   fileops rename DIR N          rename each f... to g... (same directory)
 *   fileops unlink DIR N          unlink each g...
 *   fileops tree   DIR NDIRS N    NDIRS directories d000000.. of N empty files each
 *
 * It does no timing (the scripts time the whole command, wall clock) and
 * no fsync.  Exits 1 at the first failure, naming the file and the error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
        fprintf(stderr, "fileops: cannot %s '%s': %s\n", what, path, strerror(errno));
        return 1;
}

static long number(const char *s)
{
        char *end;
        long n;

        errno = 0;
        n = strtol(s, &end, 10);
        if (errno || end == s || *end || n < 0) {
                fprintf(stderr, "fileops: not a count: '%s'\n", s);
                exit(2);
        }
        return n;
}

static int create_files(int dirfd, const char *dir, long n, size_t size)
{
        char name[32], *buf;
        long i;
        int fd;

        buf = malloc(size ? size : 1);
        if (!buf)
                return fail("allocate a buffer for", dir);
        memset(buf, 'x', size);
        for (i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "f%07ld", i);
                fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0)
                        return fail("create", name);
                if (size && write(fd, buf, size) != (ssize_t)size)
                        return fail("write", name);     /* a short write to a fresh file is an error here */
                if (close(fd) < 0)
                        return fail("close", name);
        }
        free(buf);
        return 0;
}

int main(int argc, char **argv)
{
        char name[32], name2[32];
        const char *op, *dir;
        struct stat st;
        long i, n;
        int dirfd;

        if (argc < 4) {
                fprintf(stderr, "usage: fileops create|stat|rename|unlink DIR N [SIZE] | tree DIR NDIRS N\n");
                return 2;
        }
        op = argv[1];
        dir = argv[2];
        n = number(argv[3]);
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return fail("open directory", dir);

        if (strcmp(op, "create") == 0 && argc == 5)
                return create_files(dirfd, dir, n, (size_t)number(argv[4]));
        if (strcmp(op, "tree") == 0 && argc == 5) {
                long files = number(argv[4]);

                for (i = 0; i < n; i++) {
                        int sub;

                        snprintf(name, sizeof(name), "d%06ld", i);
                        if (mkdirat(dirfd, name, 0755) < 0)
                                return fail("make directory", name);
                        sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (sub < 0)
                                return fail("open directory", name);
                        if (create_files(sub, name, files, 0))
                                return 1;
                        close(sub);
                }
                return 0;
        }
        if (argc != 4) {
                fprintf(stderr, "fileops: wrong arguments for '%s'\n", op);
                return 2;
        }
        for (i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "f%07ld", i);
                snprintf(name2, sizeof(name2), "g%07ld", i);
                if (strcmp(op, "stat") == 0) {
                        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                return fail("stat", name);
                } else if (strcmp(op, "rename") == 0) {
                        if (renameat(dirfd, name, dirfd, name2) < 0)
                                return fail("rename", name);
                } else if (strcmp(op, "unlink") == 0) {
                        if (unlinkat(dirfd, name2, 0) < 0)
                                return fail("unlink", name2);
                } else {
                        fprintf(stderr, "fileops: unknown operation '%s'\n", op);
                        return 2;
                }
        }
        return 0;
}
