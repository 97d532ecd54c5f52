/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.c: the table of FUSE operations and the negotiation with the kernel
 * (init): which speed-ups the mount gets.
 *
 * Kernel passthrough (reads and writes never reach the daemon) is taken
 * when offered and not switched off; then the writeback cache cannot be
 * used.  Without passthrough the data goes through the daemon by splice,
 * with the writeback cache when asked for.  Locks are left to the kernel
 * (no lock operations): they work between the processes of this node.
 * POSIX ACLs are checked by the kernel, as on the source.  The kernel's
 * requests come over io_uring (a queue per CPU) when it offers that and
 * io_uring= allows it (slow.c says what that changes).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/* libfuse's header before each request it reads (FUSE_BUFFER_HEADER_SIZE,
 * private to libfuse): its read buffer is max_write plus this. */
#define FS_REQUEST_HEADER 4096

/*
 * Can a pipe of this process hold @bytes?  libfuse reads a request by
 * splice only into a pipe that holds its whole read buffer; growing one
 * past fs.pipe-max-size takes CAP_SYS_RESOURCE (which mirrorfs@.service
 * does not grant).  When it cannot, libfuse 3.18 makes a pipe, fails to
 * grow it and closes it again for every request it reads from /dev/fuse
 * (eight system calls each, a third of an unlink's time here) before
 * reading it by copy anyway: then ask for no splice of requests at all.
 */
static bool pipe_holds(size_t bytes)
{
        int p[2];
        bool ok;

        if (pipe2(p, O_CLOEXEC) < 0)
                return false;
        ok = fcntl(p[0], F_SETPIPE_SZ, (int)bytes) >= (int)bytes;
        close(p[0]);
        close(p[1]);
        return ok;
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
        struct fs *fs = userdata;

        fs->passthrough = false;
        if (fs->opt.passthrough != FS_PT_OFF && fuse_set_feature_flag(conn, FUSE_CAP_PASSTHROUGH))
                fs->passthrough = true;
        if (fs->opt.passthrough == FS_PT_ON && !fs->passthrough) {
                fs_ready(fs, "passthrough=on, but the kernel does not offer passthrough (needs Linux 6.9+ "
                         "and a daemon with CAP_SYS_ADMIN); use passthrough=auto to go on without it");
                return;
        }
#ifdef FS_HAVE_URING
        /* libfuse wants io_uring whenever the kernel offers it, and takes
         * it when -o io_uring was given (fs_options_parse() adds it as
         * fs_options_want_uring() says): say it as we mean it. */
        fs->io_uring = false;
        if (fs_options_want_uring(&fs->opt) && (conn->capable_ext & FUSE_CAP_OVER_IO_URING))
                fs->io_uring = fuse_set_feature_flag(conn, FUSE_CAP_OVER_IO_URING);
        else
                fuse_unset_feature_flag(conn, FUSE_CAP_OVER_IO_URING);
#endif
        if (fs->opt.io_uring == FS_URING_ON && !fs->io_uring) {
                fs_ready(fs, "io_uring=on, but the kernel does not offer FUSE over io_uring (needs Linux 6.14+ "
                         "with /sys/module/fuse/parameters/enable_uring set to Y, and libfuse 3.18+); "
                         "use io_uring=auto to go on without it");
                return;
        }
        if (!fs->passthrough && fs->opt.writeback)
                fuse_set_feature_flag(conn, FUSE_CAP_WRITEBACK_CACHE);

        conn->max_write = 1u << 20;
        if (!pipe_holds(conn->max_write + FS_REQUEST_HEADER) || !fuse_set_feature_flag(conn, FUSE_CAP_SPLICE_READ))
                fuse_unset_feature_flag(conn, FUSE_CAP_SPLICE_READ);
        fuse_set_feature_flag(conn, FUSE_CAP_SPLICE_WRITE);
        fuse_set_feature_flag(conn, FUSE_CAP_SPLICE_MOVE);
        fuse_set_feature_flag(conn, FUSE_CAP_ATOMIC_O_TRUNC);
        /* The daemon drops setuid/setgid bits when asked: the kernel then
         * need not ask for security.capability before every write. */
        fuse_set_feature_flag(conn, FUSE_CAP_HANDLE_KILLPRIV_V2);
        fuse_set_feature_flag(conn, FUSE_CAP_PARALLEL_DIROPS);
        /* Permissions as natively: the kernel checks POSIX ACLs (read from
         * the source through getxattr) along with the mode, and leaves the
         * umask to the source, which knows the default ACLs (creds.c). */
        fuse_set_feature_flag(conn, FUSE_CAP_POSIX_ACL);
        fuse_set_feature_flag(conn, FUSE_CAP_DONT_MASK);
        fuse_set_feature_flag(conn, FUSE_CAP_CACHE_SYMLINKS);
        fuse_set_feature_flag(conn, FUSE_CAP_DIRECT_IO_ALLOW_MMAP);
        /* The handles the kernel would hand out are the daemon's node ids,
         * not stable across restarts: no NFS export. */
        fuse_set_feature_flag(conn, FUSE_CAP_NO_EXPORT_SUPPORT);
        if (fs->opt.readdirplus) {
                fuse_set_feature_flag(conn, FUSE_CAP_READDIRPLUS);
                fuse_unset_feature_flag(conn, FUSE_CAP_READDIRPLUS_AUTO);
        } else {
                fuse_unset_feature_flag(conn, FUSE_CAP_READDIRPLUS);
        }
        /* Requests are short; an interrupted one just finishes. */
        conn->no_interrupt = 1;
        conn->max_readahead = 1u << 20;
        fs_ready(fs, NULL);
}

static void fs_destroy(void *userdata)
{
        (void)userdata;
}

const struct fuse_lowlevel_ops fs_ops = {
        .init = fs_init,
        .destroy = fs_destroy,
        .lookup = fs_lookup,
        .forget = fs_forget,
        .forget_multi = fs_forget_multi,
        .getattr = fs_getattr,
        .setattr = fs_setattr,
        .readlink = fs_readlink,
        .mknod = fs_mknod,
        .mkdir = fs_mkdir,
        .symlink = fs_symlink,
        .link = fs_link,
        .unlink = fs_unlink,
        .rmdir = fs_rmdir,
        .rename = fs_rename,
        .open = fs_open,
        .create = fs_create,
        .tmpfile = fs_tmpfile,
        .read = fs_read,
        .write_buf = fs_write_buf,
        .flush = fs_flush,
        .release = fs_release,
        .fsync = fs_fsync,
        .fallocate = fs_fallocate,
        .lseek = fs_lseek,
        .copy_file_range = fs_copy_file_range,
        .opendir = fs_opendir,
        .readdir = fs_readdir,
        .readdirplus = fs_readdirplus,
        .releasedir = fs_releasedir,
        .fsyncdir = fs_fsyncdir,
        .statfs = fs_statfs,
        .setxattr = fs_setxattr,
        .getxattr = fs_getxattr,
        .listxattr = fs_listxattr,
        .removexattr = fs_removexattr,
#if FS_HAVE_STATX
        .statx = fs_statx,
#endif
};
