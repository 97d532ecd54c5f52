/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cursor.c: readers' durable positions, one small file per reader, replaced
 * atomically (temp file, fdatasync, rename, fsync of the directory) so a
 * crash at any step leaves the old or the new position, never a mix.
 *
 * Caveat: a store costs two syncs; a reader stores after a batch of work,
 * not after every record.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal-internal.h"

#define CURSOR_PREFIX "cursor."

bool journal_cursor_name_valid(const char *name)
{
        size_t i, n = strlen(name);

        if (n == 0 || n > 64 || name[0] == '.')
                return false;
        for (i = 0; i < n; i++) {
                char c = name[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        /* "NAME.tmp" is the temporary file of cursor NAME. */
        return !(n >= 4 && strcmp(name + n - 4, ".tmp") == 0);
}

static int read_cursor_file(int dirfd, const char *file, uint8_t id[JOURNAL_ID_SIZE], uint64_t *ret_seq)
{
        uint8_t buf[CUR_SIZE + 1];
        int64_t n;
        int fd;

        fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = pread_full(fd, buf, sizeof(buf), 0);
        close(fd);
        if (n < 0)
                return (int)n;
        return cursor_decode(buf, (size_t)n, id, ret_seq);
}

int journal_cursor_load(int dirfd, const char *name, uint64_t *ret_seq)
{
        uint8_t id[JOURNAL_ID_SIZE], dir_id[JOURNAL_ID_SIZE];
        char file[128];
        uint64_t seq;
        int r;

        if (!journal_cursor_name_valid(name))
                return -EINVAL;
        snprintf(file, sizeof(file), CURSOR_PREFIX "%s", name);
        r = read_cursor_file(dirfd, file, id, &seq);
        if (r < 0)
                return r;
        r = journal_dir_id(dirfd, dir_id);
        if (r == 0 && memcmp(id, dir_id, JOURNAL_ID_SIZE) != 0)
                return -EXDEV;
        *ret_seq = seq;
        return 0;
}

/* Rewrite an existing cursor file where it lies; -ENOSPC when there is none. */
static int overwrite_in_place(int dirfd, const char *file, const uint8_t buf[CUR_SIZE])
{
        struct stat st;
        int fd, r;

        fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? -ENOSPC : -errno;
        if (fstat(fd, &st) < 0 || st.st_size != CUR_SIZE) {
                close(fd);
                return -ENOSPC;
        }
        r = pwrite_all(fd, buf, CUR_SIZE, 0);
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int journal_cursor_store(int dirfd, const char *name, uint64_t seq)
{
        uint8_t buf[CUR_SIZE], id[JOURNAL_ID_SIZE];
        char file[128], tmp[136];
        uint64_t old;
        int fd, r;

        if (!journal_cursor_name_valid(name))
                return -EINVAL;
        snprintf(file, sizeof(file), CURSOR_PREFIX "%s", name);
        snprintf(tmp, sizeof(tmp), "%s.tmp", file);
        /* The journal id: from the cursor itself when it exists (cheap),
         * else from the segments. */
        if (read_cursor_file(dirfd, file, id, &old) < 0) {
                r = journal_dir_id(dirfd, id);
                if (r < 0)
                        return r;
        }
        cursor_encode(id, seq, buf);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;
        r = pwrite_all(fd, buf, sizeof(buf), 0);
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, file) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dirfd, tmp, 0);
                /* A full file system has no block for the new file, but
                 * the cursor's own block can be overwritten: without this
                 * the cursor could not move, so nothing could be trimmed
                 * to make room.  The 32 bytes lie in one sector, written
                 * whole or not at all. */
                if (r == -ENOSPC || r == -EDQUOT)
                        return overwrite_in_place(dirfd, file, buf);
                return r;
        }
        return fsync_dir(dirfd);
}

int journal_cursor_remove(int dirfd, const char *name)
{
        char file[128];

        if (!journal_cursor_name_valid(name))
                return -EINVAL;
        snprintf(file, sizeof(file), CURSOR_PREFIX "%s", name);
        if (unlinkat(dirfd, file, 0) < 0)
                return -errno;
        return fsync_dir(dirfd);
}

static int cmp_cursor(const void *a, const void *b)
{
        return strcmp(((const struct journal_cursor_info *)a)->name,
                      ((const struct journal_cursor_info *)b)->name);
}

int journal_list_cursors(int dirfd, struct journal_cursor_info **ret, size_t *ret_count)
{
        struct journal_cursor_info *v = NULL;
        uint8_t dir_id[JOURNAL_ID_SIZE];
        bool have_dir_id;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        have_dir_id = journal_dir_id(dirfd, dir_id) == 0;
        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                const char *name = de->d_name + strlen(CURSOR_PREFIX);
                struct journal_cursor_info info = { 0 };
                uint8_t id[JOURNAL_ID_SIZE];

                if (strncmp(de->d_name, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0 ||
                    !journal_cursor_name_valid(name))
                        continue;
                snprintf(info.name, sizeof(info.name), "%s", name);
                info.error = read_cursor_file(dirfd, de->d_name, id, &info.seq);
                if (info.error == 0 && have_dir_id && memcmp(id, dir_id, JOURNAL_ID_SIZE) != 0)
                        info.error = -EXDEV;
                if (n == cap) {
                        struct journal_cursor_info *nv;

                        cap = cap ? cap * 2 : 8;
                        nv = realloc(v, cap * sizeof(*v));
                        if (!nv) {
                                r = -ENOMEM;
                                goto out;
                        }
                        v = nv;
                }
                v[n++] = info;
        }
        if (errno) {
                r = -errno;
                goto out;
        }
        if (n)
                qsort(v, n, sizeof(*v), cmp_cursor);
        *ret = v;
        *ret_count = n;
        v = NULL;
out:
        free(v);
        closedir(d);
        return r;
}
