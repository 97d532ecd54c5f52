/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tree.c: paths beneath a root, safely.
 *
 * Journal paths come from a file; the replicator must never be led to write
 * outside its target.  So a path is first checked (replicator_path_valid:
 * relative, no "." or "..", no empty component, within PATH_MAX and
 * NAME_MAX), then resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): a symlink anywhere in the
 * parent path is refused by the kernel, and the last component is only ever
 * used with *at() calls that do not follow it.  Where the target has a
 * symlink or a file where the source has a directory, it is replaced, so
 * the mirror heals instead of being led astray.  The source is read the
 * same way: a directory swapped for a symlink cannot make the replicator
 * copy something from outside the source.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "replicator-internal.h"

int replicator_path_valid(const char *path, size_t len)
{
        size_t i, start = 0;

        if (len != strlen(path))
                return -EINVAL;         /* a NUL inside */
        if (len == 0)
                return 0;               /* the root */
        if (len >= PATH_MAX || path[0] == '/' || path[len - 1] == '/')
                return -EINVAL;
        for (i = 0; i <= len; i++) {
                if (i < len && path[i] != '/')
                        continue;
                if (i == start || i - start > NAME_MAX)
                        return -EINVAL; /* empty or too long */
                if (path[start] == '.' && (i - start == 1 || (i - start == 2 && path[start + 1] == '.')))
                        return -EINVAL; /* "." or ".." */
                start = i + 1;
        }
        return 0;
}

static int open_beneath(int root, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));

        return fd < 0 ? -errno : (int)fd;
}

const char *tree_basename(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

void tree_proc_path(int dirfd, const char *name, char *buf, size_t size)
{
        snprintf(buf, size, "/proc/self/fd/%d/%s", dirfd, name);
}

int tree_mark_ino(int dirfd, const char *name, uint64_t ino)
{
        char p[TREE_PROC_PATH_MAX], buf[24];
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, ino);

        tree_proc_path(dirfd, name, p, sizeof(p));
        return lsetxattr(p, APPLY_INO_XATTR, buf, (size_t)n, 0) < 0 ? -errno : 0;
}

int tree_mark_ino_fd(int fd, uint64_t ino)
{
        char buf[24];
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, ino);

        return fsetxattr(fd, APPLY_INO_XATTR, buf, (size_t)n, 0) < 0 ? -errno : 0;
}

int tree_marked_ino(int dirfd, const char *name, uint64_t *ret)
{
        char p[TREE_PROC_PATH_MAX], buf[24], *end;
        ssize_t n;

        tree_proc_path(dirfd, name, p, sizeof(p));
        n = lgetxattr(p, APPLY_INO_XATTR, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        errno = 0;
        *ret = strtoull(buf, &end, 10);
        return errno || end == buf || *end ? -EINVAL : 0;
}

/* Make directory @name in @dirfd like the source directory @src_path. */
static int make_dir(int dirfd, const char *name, int src_root, const char *src_path)
{
        struct stat st = { .st_mode = S_IFDIR | 0755, .st_uid = (uid_t)-1, .st_gid = (gid_t)-1 };
        int sfd;

        if (src_root >= 0) {
                sfd = open_beneath(src_root, src_path, O_PATH | O_DIRECTORY);
                if (sfd >= 0) {
                        if (fstat(sfd, &st) < 0)
                                st.st_mode = S_IFDIR | 0755;
                        close(sfd);
                }
        }
        if (mkdirat(dirfd, name, 0700) < 0)
                return -errno;
        if (src_root >= 0) {
                /* made on demand: it may lack entries (APPLY_PARTIAL_XATTR) */
                int dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (dfd >= 0) {
                        (void)fsetxattr(dfd, APPLY_PARTIAL_XATTR, "1", 1, 0);
                        close(dfd);
                }
        }
        if (st.st_ino)
                (void)tree_mark_ino(dirfd, name, st.st_ino);
        /* owner before mode: chown drops setgid */
        (void)fchownat(dirfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
        (void)fchmodat(dirfd, name, st.st_mode & 07777, 0);
        return 0;
}

int tree_open_parent(int root, const char *path, bool create, int src_root,
                     const char **ret_name, int *ret_fd, bool *ret_created)
{
        const char *name = tree_basename(path);
        char *parent, *p, *end;
        int fd, r;

        *ret_created = false;
        if (name == path) {
                /* in the root itself */
                fd = fcntl(root, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return -errno;
                *ret_name = name;
                *ret_fd = fd;
                return 0;
        }
        parent = strndup(path, (size_t)(name - path - 1));
        if (!parent)
                return -ENOMEM;
        fd = open_beneath(root, parent, O_PATH | O_DIRECTORY);
        if (fd >= 0 || !create || (fd != -ENOENT && fd != -ENOTDIR && fd != -ELOOP)) {
                free(parent);
                if (fd < 0)
                        return fd;
                *ret_name = name;
                *ret_fd = fd;
                return 0;
        }
        /* Component by component, making what is missing and replacing
         * what is not a directory. */
        fd = fcntl(root, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        for (p = parent; ; p = end + 1) {
                int next;

                end = strchr(p, '/');
                if (end)
                        *end = 0;
                next = open_beneath(fd, p, O_PATH | O_DIRECTORY);
                if (next == -ENOTDIR || next == -ELOOP) {
                        /* a file or symlink where a directory belongs */
                        if (unlinkat(fd, p, 0) < 0) {
                                r = -errno;
                                close(fd);
                                goto out;
                        }
                        next = -ENOENT;
                }
                if (next == -ENOENT) {
                        r = make_dir(fd, p, src_root, parent);
                        if (r < 0 && r != -EEXIST) {
                                close(fd);
                                goto out;
                        }
                        *ret_created = true;
                        next = open_beneath(fd, p, O_PATH | O_DIRECTORY);
                }
                close(fd);
                if (next < 0) {
                        r = next;
                        goto out;
                }
                fd = next;
                if (!end)
                        break;
                *end = '/';
        }
        *ret_name = name;
        *ret_fd = fd;
        r = 0;
out:
        free(parent);
        return r;
}

int tree_remove(int dfd, const char *name)
{
        struct stat st;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                r = tree_remove(dirfd(d), de->d_name);
                if (r < 0)
                        break;
        }
        if (r == 0 && errno)
                r = -errno;
        closedir(d);
        if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}
