/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * creds.c: doing a create as the caller.
 *
 * A file, directory, node or symlink made through the mount must get the
 * owner and group a native call would give it: the caller's uid, and the
 * caller's gid or, in a setgid directory, the directory's (with the setgid
 * bit passed on to subdirectories).  The surest way to get every rule of
 * the source file system right is to let it apply them: the worker thread
 * takes the caller's file-system uid and gid for the call.  setfsuid(),
 * setfsgid() and the raw setgroups() system call act on the calling thread
 * only (glibc's setgroups() would change every thread).
 *
 * Supplementary groups matter when the caller may create only thanks to
 * one of them.  Reading them costs a read of /proc, so they are set only
 * when the call first fails with EACCES or EPERM (fs_creds_become() with
 * @with_groups), then the call is retried.
 *
 * The umask: the kernel passes the caller's (FUSE_CAP_DONT_MASK) rather
 * than applying it, because under a directory with a default ACL POSIX
 * says the umask does not apply, and only the source file system knows
 * the ACLs.  So the worker thread takes the caller's umask too, and the
 * source applies it or the default ACL, as natively.  The umask is
 * per-process state; each worker thread gets a private copy by
 * unshare(CLONE_FS) on its first create (its working directory and root
 * are never used: every call is relative to a descriptor).
 *
 * Caveat: a thread with a non-zero fsuid has lost CAP_DAC_READ_SEARCH, so
 * descriptors (open_by_handle_at) are taken before switching.
 */
#include <errno.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"

#define MAX_GROUPS 256

static int thread_setgroups(size_t n, const gid_t *list)
{
        return syscall(SYS_setgroups, n, list) < 0 ? -errno : 0;
}

/* Give this thread the caller's umask (0 when the kernel applied it). */
static int thread_umask(mode_t mask)
{
        /* per worker thread: whether its fs_struct is its own yet */
        static __thread bool unshared;

        if (!unshared) {
                if (unshare(CLONE_FS) < 0)
                        return -errno;
                unshared = true;
        }
        umask(mask & 0777);
        return 0;
}

int fs_creds_become(struct fs *fs, fuse_req_t req, struct fs_creds *c, bool with_groups)
{
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        int r;

        *c = (struct fs_creds) { .uid = ctx->uid, .gid = ctx->gid };
        r = thread_umask(ctx->umask);
        if (r < 0)
                return r;
        if (ctx->uid == fs->self_uid && ctx->gid == fs->self_gid)
                return 0;       /* the daemon's own identity: nothing to do */
        if (with_groups) {
                gid_t groups[MAX_GROUPS];
                int n = fuse_req_getgroups(req, MAX_GROUPS, groups);

                if (n < 0)
                        return n;
                r = thread_setgroups((size_t)(n > MAX_GROUPS ? MAX_GROUPS : n), groups);
                if (r < 0)
                        return r;
                c->groups_set = true;
        }
        /* gid first: changing the fsuid away from 0 drops the capability
         * a later setfsgid() might need. */
        (void)setfsgid(ctx->gid);
        (void)setfsuid(ctx->uid);
        if ((uid_t)setfsuid((uid_t)-1) != ctx->uid || (gid_t)setfsgid((gid_t)-1) != ctx->gid) {
                fs_creds_restore(fs, c);
                return -EPERM;
        }
        c->switched = true;
        return 0;
}

void fs_creds_restore(struct fs *fs, struct fs_creds *c)
{
        if (c->switched || c->groups_set) {
                (void)setfsuid(fs->self_uid);
                (void)setfsgid(fs->self_gid);
        }
        if (c->groups_set)
                (void)thread_setgroups(0, NULL);
        c->switched = c->groups_set = false;
}
