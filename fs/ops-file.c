/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops-file.c: open files: open, create, tmpfile, read, write, flush,
 * release, fsync, fallocate, lseek, copy_file_range.
 *
 * With kernel passthrough (FOPEN_PASSTHROUGH) reads and writes never reach
 * the daemon (but those of O_APPEND opens, see data_path()); it sees the
 * open and the release.  So a file opened for
 * writing gets a write-intent record before the open is answered (a crash
 * of the daemon after that cannot hide the file from the mirror), and a
 * close-write record at release.  An fsync on the file makes the journal
 * durable too; an O_SYNC/O_DSYNC open makes its intent durable at once.
 *
 * Without passthrough (older kernels, option passthrough=off) the daemon
 * moves the data itself, by splice where it can.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "ops.h"

#ifndef FUSE_DEV_IOC_BACKING_CLOSE
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)     /* <linux/fuse.h>, Linux 6.9 */
#endif

static bool opens_for_write(int flags)
{
        return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Done by ioctl on the session: the request may already be answered. */
static void passthrough_close(struct fs *fs, int id)
{
        uint32_t backing = (uint32_t)id;

        if (ioctl(fuse_session_fd(fs->se), FUSE_DEV_IOC_BACKING_CLOSE, &backing) < 0)
                log_msg(LOG_ERR, "cannot close passthrough backing file %d: %s", id,
                         strerror(errno));
}

/*
 * Share one kernel backing file per inode, as the kernel wants every
 * passthrough open of an inode to use the same one.  Returns false when
 * passthrough cannot be used for this file (it then goes through the
 * daemon).
 */
static bool passthrough_open(fuse_req_t req, struct fs *fs, struct fs_inode *in, int fd,
                             struct fuse_file_info *fi)
{
        int id, extra = 0;

        pthread_mutex_lock(&fs->lock);
        if (in->backing_id) {
                in->nopen++;
                fi->backing_id = in->backing_id;
                pthread_mutex_unlock(&fs->lock);
                return true;
        }
        pthread_mutex_unlock(&fs->lock);
        id = fuse_passthrough_open(req, fd);
        if (id <= 0)
                return false;
        pthread_mutex_lock(&fs->lock);
        if (in->backing_id) {
                extra = id;             /* another open registered one first */
        } else {
                in->backing_id = id;
        }
        in->nopen++;
        fi->backing_id = in->backing_id;
        pthread_mutex_unlock(&fs->lock);
        if (extra)
                passthrough_close(fs, extra);
        return true;
}

static void passthrough_release(struct fs *fs, struct fs_inode *in)
{
        int id = 0;

        pthread_mutex_lock(&fs->lock);
        if (in->nopen && --in->nopen == 0) {
                id = in->backing_id;
                in->backing_id = 0;
        }
        pthread_mutex_unlock(&fs->lock);
        if (id)
                passthrough_close(fs, id);
}

/*
 * Flags for the source descriptor.  O_APPEND never: every write request
 * carries its offset (the kernel puts appends at the end), and a source
 * descriptor in append mode would ignore it after the application cleared
 * O_APPEND with fcntl().  Writeback caching needs a readable descriptor.
 */
static int source_flags(struct fs *fs, int flags)
{
        flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_APPEND);
        if (!fs->passthrough && fs->opt.writeback && (flags & O_ACCMODE) == O_WRONLY)
                flags = (flags & ~O_ACCMODE) | O_RDWR;
        return flags;
}

/*
 * How the data of an open file goes.  The kernel wants every open of an
 * inode in one mode: once one open uses passthrough, an open without it
 * fails with EIO (and the other way round), so a file that must go
 * through the daemon while passthrough is on still gets the inode's
 * backing file, with FOPEN_DIRECT_IO: its reads and writes then come to
 * the daemon (each write at the offset the kernel chose), while its mmap
 * uses the backing file like the other opens.
 *
 * Two cases go through the daemon.  O_APPEND: the kernel opens the backing
 * file with the flags of the open, and a backing file in append mode would
 * go on appending after the application cleared O_APPEND with fcntl();
 * through the daemon, the kernel decides at every write from the flags the
 * file has then (and holds the inode lock, so concurrent appends, ours and
 * passthrough writes alike, each land at the end).  An open without
 * O_APPEND keeps passthrough even when fcntl() sets O_APPEND later: the
 * kernel passes IOCB_APPEND to the backing file's write.  And a writer
 * without privileges of a setuid/setgid file: passthrough writes run with
 * the daemon's privileges and would keep the bits, the daemon drops them
 * at the first write.
 */
enum data_path { DATA_DAEMON, DATA_PASSTHROUGH, DATA_DIRECT };

static enum data_path data_path(struct fs *fs, const struct fs_file *f, int flags)
{
        if (!fs->passthrough)
                return DATA_DAEMON;
        if ((flags & O_APPEND) || f->kill_privs)
                return DATA_DIRECT;
        return DATA_PASSTHROUGH;
}

/* The reply flags of an open, create or tmpfile that gets @f, which is
 * ready: the reply follows. */
static void open_flags(fuse_req_t req, struct fs *fs, struct fs_inode *in, struct fs_file *f,
                       struct fuse_file_info *fi)
{
        enum data_path path = data_path(fs, f, fi->flags);

        fi->fh = (uint64_t)(uintptr_t)f;
        fi->noflush = fs->opt.noflush;
        fi->parallel_direct_writes = 1;
        fi->direct_io = 0;
        fi->keep_cache = 0;
        if (path != DATA_DAEMON && passthrough_open(req, fs, in, f->fd, fi)) {
                fi->direct_io = path == DATA_DIRECT;
                f->passthrough = true;
        } else {
                fi->backing_id = 0;
                /* Every change goes through this mount: cached pages stay
                 * valid from one open to the next. */
                fi->keep_cache = 1;
        }
        fs_handle_answered(fi);
}

static void file_free(struct fs *fs, struct fs_file *f)
{
        close(f->fd);
        fs_inode_unref(fs, f->inode);
        free(f);
}

/* The reply to an open or create did not reach the kernel: no release
 * will come, so undo here. */
static void open_undo(struct fs *fs, struct fuse_file_info *fi)
{
        struct fs_file *f = fs_file_of(fi);

        if (f->passthrough)
                passthrough_release(fs, f->inode);
        file_free(fs, f);
}

/* Finish an open: the reply flags, the reply. */
static void open_reply(fuse_req_t req, struct fs *fs, struct fs_inode *in, struct fs_file *f,
                       struct fuse_file_info *fi)
{
        /* Every write of an O_SYNC file is durable when it returns: so
         * must be the record saying it may change. */
        if (f->write && (fi->flags & (O_SYNC | O_DSYNC)))
                fs_record_commit(fs);
        open_flags(req, fs, in, f, fi);
        if (fuse_reply_open(req, fi) < 0)
                open_undo(fs, fi);
}

/*
 * A writer without CAP_FSETID: an O_TRUNC open drops the file's privileges
 * at once; a setuid/setgid file opened for writing is kept out of kernel
 * passthrough (whose writes run with the daemon's privileges and would
 * keep the bits), so the daemon drops them at the first write.
 */
static int open_privs(fuse_req_t req, struct fs_file *f, struct fuse_file_info *fi)
{
        struct stat st;

        if (!f->write)
                return 0;
        if (fi->kill_suidgid && (fi->flags & O_TRUNC))
                return fs_kill_privs(req, f->fd);
        /* The kernel flags only truncating opens; a caller other than root
         * lacks CAP_FSETID in practice. */
        if (fuse_req_ctx(req)->uid != 0 && fstat(f->fd, &st) == 0 && fs_privs_to_drop(req, &st))
                f->kill_privs = true;
        return 0;
}

static struct fs_file *file_new(struct fs *fs, struct fs_inode *in, int fd, int flags)
{
        struct fs_file *f = calloc(1, sizeof(*f));

        if (!f)
                return NULL;
        f->fd = fd;
        f->flags = flags;
        f->write = opens_for_write(flags);
        f->inode = in;
        fs_inode_ref(fs, in);
        return f;
}

/*
 * An open for writing is a change: its intent record ("may change until
 * its close-write") is announced before the source's open (which may
 * truncate) and appended before the reply.
 */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *in = fs_inode_get(fs, ino);
        struct fs_change c = { .rec = { .type = JOURNAL_WRITE_INTENT, .aux = (uint32_t)fi->flags,
                                        .ino = in->ino } };
        bool write = opens_for_write(fi->flags);
        struct fs_file *f;
        struct stat st;
        int fd, r;

        if (write)
                fs_change_begin(fs, &c, in, NULL, NULL, NULL, false);
        fd = fs_inode_open(fs, in, source_flags(fs, fi->flags));
        if (fd < 0) {
                if (write)
                        fs_change_end(fs, &c, false);
                fuse_reply_err(req, -fd);
                return;
        }
        f = file_new(fs, in, fd, fi->flags);
        r = f ? open_privs(req, f, fi) : -ENOMEM;
        if (write) {
                if (fstat(fd, &st) == 0)
                        fs_record_from_stat(&c.rec, &st);
                if (fi->flags & (O_SYNC | O_DSYNC))
                        c.rec.flags |= JOURNAL_F_DURABLE;
                fs_change_end(fs, &c, true);
        }
        if (r < 0) {
                if (f)
                        file_free(fs, f);
                else
                        close(fd);
                fuse_reply_err(req, -r);
                return;
        }
        open_reply(req, fs, in, f, fi);
}

/* openat() as the caller (creds.c), with supplementary groups if needed. */
static int open_as_caller(fuse_req_t req, struct fs *fs, int dirfd, const char *name, int flags, mode_t mode)
{
        struct fs_creds c;
        int fd, r;

        for (int pass = 0; pass < 2; pass++) {
                r = fs_creds_become(fs, req, &c, pass == 1);
                if (r < 0)
                        return r;
                fd = openat(dirfd, name, flags | O_CLOEXEC, mode);
                r = fd < 0 ? -errno : fd;
                fs_creds_restore(fs, &c);
                if (!((r == -EACCES || r == -EPERM) && (c.uid != fs->self_uid || c.gid != fs->self_gid)))
                        break;
        }
        return r;
}

void fs_create(fuse_req_t req, fuse_ino_t parent_ino, const char *name, mode_t mode, struct fuse_file_info *fi)
{
        struct fs_change c = { .rec = { .type = JOURNAL_CREATE, .aux = (uint32_t)fi->flags, .mode = mode } };
        struct fs *fs = fs_of(req);
        struct fs_inode *parent = fs_inode_get(fs, parent_ino), *in;
        struct fs_fdref pref;
        struct fs_file *f;
        struct stat st;
        int fd, r;

        r = fs_fd_get(fs, parent, &pref);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fs_change_begin(fs, &c, parent, name, NULL, NULL, false);
        fd = open_as_caller(req, fs, pref.fd, name, source_flags(fs, fi->flags) | O_CREAT, mode);
        fs_fd_put(fs, &pref);
        if (fd < 0) {
                fs_change_end(fs, &c, false);
                fuse_reply_err(req, -fd);
                return;
        }
        r = fs_inode_lookup(fs, parent, name, &st, &in);
        if (r == 0)
                fs_record_from_stat(&c.rec, &st);
        /* Created (or opened, without O_EXCL, when it existed): the create
         * record also says "may be written until its close-write". */
        fs_change_end(fs, &c, true);
        if (r < 0) {
                close(fd);
                fuse_reply_err(req, -r);
                return;
        }
        f = file_new(fs, in, fd, fi->flags);
        if (!f) {
                close(fd);
                fs_inode_forget(fs, in, 1);
                fuse_reply_err(req, ENOMEM);
                return;
        }
        f->write = true;
        r = open_privs(req, f, fi);          /* O_TRUNC of an existing file */
        if (r < 0) {
                file_free(fs, f);
                fs_inode_forget(fs, in, 1);
                fuse_reply_err(req, -r);
                return;
        }
        if (fi->flags & (O_SYNC | O_DSYNC))
                fs_record_commit(fs);
        open_flags(req, fs, in, f, fi);
        {
                struct fuse_entry_param e = {
                        .ino = (fuse_ino_t)(uintptr_t)in,
                        .generation = in->generation,
                        .attr = st,
                        .attr_timeout = fs->opt.timeout,
                        .entry_timeout = fs->opt.timeout,
                };

                if (fuse_reply_create(req, &e, fi) < 0) {
                        open_undo(fs, fi);
                        fs_inode_forget(fs, in, 1);
                }
        }
}

void fs_tmpfile(fuse_req_t req, fuse_ino_t parent_ino, mode_t mode, struct fuse_file_info *fi)
{
        struct fs *fs = fs_of(req);
        struct fs_inode *parent = fs_inode_get(fs, parent_ino), *in = NULL;
        struct fs_fdref pref;
        struct fs_file *f;
        struct stat st;
        char proc[FS_PROC_FD_MAX];
        int fd, r;

        r = fs_fd_get(fs, parent, &pref);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        /* O_PATH parents cannot make a tmpfile: reopen "." of it. */
        fs_proc_fd_path(pref.fd, proc);
        fd = open_as_caller(req, fs, AT_FDCWD, proc, (source_flags(fs, fi->flags) & ~O_DIRECTORY) | O_TMPFILE, mode);
        fs_fd_put(fs, &pref);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        /* An unnamed inode, listed so that a later link of it names the
         * same node (and records a link). */
        r = fs_inode_from_fd(fs, parent, fd, &st, &in);
        if (r < 0) {
                close(fd);
                fuse_reply_err(req, -r);
                return;
        }
        f = file_new(fs, in, fd, fi->flags);
        if (!f) {
                close(fd);
                fs_inode_forget(fs, in, 1);
                fuse_reply_err(req, ENOMEM);
                return;
        }
        f->write = true;
        open_flags(req, fs, in, f, fi);
        {
                struct fuse_entry_param e = {
                        .ino = (fuse_ino_t)(uintptr_t)in,
                        .generation = in->generation,
                        .attr = st,
                        .attr_timeout = fs->opt.timeout,
                        .entry_timeout = fs->opt.timeout,
                };

                if (fuse_reply_create(req, &e, fi) < 0) {
                        open_undo(fs, fi);
                        fs_inode_forget(fs, in, 1);
                }
        }
}

/* Reads up to this size are copied, larger ones spliced (libfuse copies
 * below two pages too). */
#define FS_READ_COPY_MAX 8192

/* Copy a read here, not in the reply: the handle's last use comes before
 * the reply (fs_handle_answered()). */
static void read_copied(fuse_req_t req, int fd, size_t size, off_t off, struct fuse_file_info *fi)
{
        char small[FS_READ_COPY_MAX];
        char *data = size <= sizeof(small) ? small : malloc(size);
        ssize_t n = -1;
        int err = ENOMEM;

        if (data) {
                n = pread(fd, data, size, off);
                err = errno;
        }
        fs_handle_answered(fi);
        if (n < 0)
                fuse_reply_err(req, err);
        else
                fuse_reply_buf(req, data, (size_t)n);
        if (data != small)
                free(data);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
        int fd = fs_file_of(fi)->fd;

        /* Under ThreadSanitizer every read is copied: libfuse falls back
         * from splicing to a read of the file inside the reply (after the
         * handle was answered) whenever its pipe is too small. */
        if (size <= FS_READ_COPY_MAX || FS_TSAN) {
                read_copied(req, fd, size, off, fi);
                return;
        }
        buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        buf.buf[0].fd = fd;
        buf.buf[0].pos = off;
        fs_handle_answered(fi);
        fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off, struct fuse_file_info *fi)
{
        struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
        struct fs_file *f = fs_file_of(fi);
        ssize_t n;

        if (fi->kill_suidgid) {
                int r = fs_kill_privs(req, f->fd);

                if (r < 0) {
                        fuse_reply_err(req, -r);
                        return;
                }
        }

        out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        out.buf[0].fd = f->fd;
        out.buf[0].pos = off;
        n = fuse_buf_copy(&out, in, 0);
        fs_handle_answered(fi);
        if (n < 0)
                fuse_reply_err(req, (int)-n);
        else
                fuse_reply_write(req, (size_t)n);
}

void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        /* Locks are the kernel's (no lock operations here), and the data
         * is in the source's page cache: nothing to do. */
        fuse_reply_err(req, 0);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct fs_file *f = fs_file_of(fi);
        struct fs *fs = fs_of(req);

        if (f->write) {
                struct journal_record rec = { .type = JOURNAL_CLOSE_WRITE };
                struct stat st;

                if (fstat(f->fd, &st) == 0) {
                        fs_record_from_stat(&rec, &st);
                        /* Still linked: name it as it is called now. */
                        if (st.st_nlink > 0)
                                fs_record(fs, &rec, NULL, NULL, f->inode);
                }
        }
        /* fi->backing_id is not filled in a release: what the open did is
         * in f */
        fs_handle_released(fi);
        if (f->passthrough)
                passthrough_release(fs, f->inode);
        file_free(fs, f);
        fuse_reply_err(req, 0);
}

static int fsync_answer(fuse_req_t req, int datasync, struct fuse_file_info *fi)
{
        struct journal_record rec = { .type = JOURNAL_SYNC, .flags = JOURNAL_F_DURABLE };
        struct fs *fs = fs_of(req);
        struct fs_file *f = fs_file_of(fi);
        struct stat st;
        int r;

        r = (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0 ? -errno : 0;
        if (r == 0) {
                /* What the application made durable, the journal makes
                 * durable too, with a record that says so: the replicator
                 * copies files that are synced but never closed (logs,
                 * databases). */
                if (fstat(f->fd, &st) == 0)
                        fs_record_from_stat(&rec, &st);
                fs_record(fs, &rec, NULL, NULL, f->inode);
                fs_record_commit(fs);
        }
        fs_handle_answered(fi);
        return -r;
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
        fs_slow_sync(fs_of(req), fsync_answer, req, datasync, fi);
}

void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                  struct fuse_file_info *fi)
{
        /* Only on a file open for writing: its close-write covers it. */
        int r = fallocate(fs_file_of(fi)->fd, mode, offset, length) < 0 ? errno : 0;

        fs_handle_answered(fi);
        fuse_reply_err(req, r);
}

void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
        off_t r = lseek(fs_file_of(fi)->fd, off, whence);

        fs_handle_answered(fi);
        if (r < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_lseek(req, r);
}

void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
                        fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
                        int flags)
{
        ssize_t n = copy_file_range(fs_file_of(fi_in)->fd, &off_in, fs_file_of(fi_out)->fd, &off_out, len,
                                    (unsigned)flags);

        fs_handle_answered(fi_in);
        fs_handle_answered(fi_out);
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_write(req, (size_t)n);
}
