/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * slow.c: requests that may take long, answered on threads of their own
 * when the kernel's requests come over io_uring.
 *
 * Over io_uring the kernel has a queue per CPU and libfuse one thread per
 * queue, which answers the requests of that CPU in turn.  An fsync of a
 * file with a gigabyte of dirty pages takes seconds: answered there, it
 * would hold every request of every process on that CPU for as long.  So
 * the syncs (fsync, fsyncdir) are handed to this pool and answered from it
 * (libfuse takes replies from any thread).  Its threads are started as the
 * work comes, up to a limit, and stay until the mount ends.  Requests that
 * come over /dev/fuse are answered where they are: each worker thread there
 * may block without holding up the others.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"

struct slow_call {
        struct slow_call *next;
        fs_sync_fn *fn;
        fuse_req_t req;
        int datasync;
        struct fuse_file_info fi;       /* a copy: libfuse's lives on its stack */
};

struct fs_slow {
        struct fuse_session *se;
        pthread_mutex_t lock;
        pthread_cond_t work;
        struct slow_call *head, **tail;
        unsigned queued, idle, nthreads, max_threads;
        bool stopping;
        pthread_t threads[];
};

static void *slow_thread(void *arg)
{
        struct fs_slow *s = arg;
        struct slow_call *c;
        int e;

        pthread_setname_np(pthread_self(), "mirrorfs-sync");
        pthread_mutex_lock(&s->lock);
        for (;;) {
                while (!s->head && !s->stopping) {
                        s->idle++;
                        pthread_cond_wait(&s->work, &s->lock);
                        s->idle--;
                }
                if (!s->head)
                        break;
                c = s->head;
                s->head = c->next;
                s->queued--;
                if (!s->head)
                        s->tail = &s->head;
                pthread_mutex_unlock(&s->lock);
                e = c->fn(c->req, c->datasync, &c->fi);
                /* A session that has ended may have freed its io_uring
                 * queues, where the request lives: the kernel has given
                 * up on it anyway.  (What is left is the instant between
                 * this look and the answer: an end then may crash the
                 * exiting daemon, as a kill -9 would, which loses
                 * nothing: the journal has every answered change.) */
                if (!fuse_session_exited(s->se))
                        fuse_reply_err(c->req, e);
                free(c);
                pthread_mutex_lock(&s->lock);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int fs_slow_start(struct fuse_session *se, unsigned max_threads, struct fs_slow **ret)
{
        struct fs_slow *s;

        if (!max_threads)
                return -EINVAL;
        s = calloc(1, sizeof(*s) + max_threads * sizeof(s->threads[0]));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->work, NULL);
        s->se = se;
        s->tail = &s->head;
        s->max_threads = max_threads;
        *ret = s;
        return 0;
}

/* Queue @c, with a thread more when too few are idle and the limit
 * allows.  False when no thread can run it. */
static bool slow_queue(struct fs_slow *s, struct slow_call *c)
{
        pthread_mutex_lock(&s->lock);
        if (!s->stopping && s->idle <= s->queued && s->nthreads < s->max_threads) {
                int r = pthread_create(&s->threads[s->nthreads], NULL, slow_thread, s);

                if (r == 0)
                        s->nthreads++;
                else
                        log_msg(LOG_WARNING, "cannot start a thread for slow requests: %s", strerror(r));
        }
        if (s->stopping || !s->nthreads) {
                pthread_mutex_unlock(&s->lock);
                return false;
        }
        c->next = NULL;
        *s->tail = c;
        s->tail = &c->next;
        s->queued++;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->lock);
        return true;
}

void fs_slow_sync(struct fs *fs, fs_sync_fn *fn, fuse_req_t req, int datasync, struct fuse_file_info *fi)
{
#ifdef FS_HAVE_URING
        struct slow_call *c;

        if (fs->slow && fuse_req_is_uring(req) && (c = malloc(sizeof(*c)))) {
                *c = (struct slow_call) { .fn = fn, .req = req, .datasync = datasync, .fi = *fi };
                if (slow_queue(fs->slow, c))
                        return;
                free(c);
        }
#endif
        fuse_reply_err(req, fn(req, datasync, fi));
}

void fs_slow_quiesce(struct fs_slow *s)
{
        unsigned n;

        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->work);
        n = s->nthreads;
        pthread_mutex_unlock(&s->lock);
        for (unsigned i = 0; i < n; i++)
                pthread_join(s->threads[i], NULL);
        pthread_mutex_lock(&s->lock);
        s->nthreads = 0;
        pthread_mutex_unlock(&s->lock);
}

struct fs_slow *fs_slow_stop(struct fs_slow *s)
{
        if (!s)
                return NULL;
        fs_slow_quiesce(s);
        pthread_cond_destroy(&s->work);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}
