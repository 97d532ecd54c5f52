/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * plan.c: from journal records to jobs on the target.
 *
 * Each record means "make the target match the source for these paths".
 * Records for one path are coalesced into one sync job (a file closed 500
 * times in a second is copied once), which waits a short settle time after
 * its last record, and, for a file still open for writing, until it is
 * closed.  Renames, exchanges and links become barrier jobs, carried out in
 * journal order: work queued under a renamed name is moved to the new name
 * (it must land there), and nothing under either name runs until the
 * rename is done on the target.  Jobs on paths where one is beneath the
 * other never run at the same time; unrelated paths run in parallel.  Work
 * a finished job leaves (a directory's times, a copy where a rename or
 * link could not be made) goes where the renames still pending take its
 * name.
 *
 * The source is ahead of the journal: a job that finds its name gone (or
 * another inode there) is parked until a record says where it went (see
 * JOB_PARKED, plan_caught_up()).
 *
 * The low-water mark is the oldest record some job still stands for: every
 * record below it has been applied.  The caller makes that durable and
 * stores it as the cursor.
 *
 * What it does not do: any I/O, any locking (one thread owns a plan).
 * Caveat: a rename of a directory scans every pending job once.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replicator-internal.h"

#define SCAN_MAX 512                    /* queued jobs looked at per plan_next() */
/* A change is made on the source a moment before its record is appended:
 * a parked job waits for the reader to reach the journal's end this long
 * after it looked, so that the record of what it saw has been read. */
#define PARK_MARGIN_NS 250000000ull

struct job_list {
        struct job *head, *tail;
        uint64_t count;
};

struct open_count {
        uint64_t ino;
        uint32_t n;
        struct open_count *next;
};

#define OPEN_BUCKETS 1024
#define LOST_SLOTS 4096

/* An inode whose name went with its changes pending (see lost_note()). */
struct lost_changes {
        uint64_t ino;
        uint32_t flags;
};

struct plan {
        struct plan_config cfg;
        struct job **hash;              /* sync jobs by path, in any state */
        size_t hash_size, hash_count;
        struct job_list queued, held, running, retry, barriers, parked;
        struct open_count *opens[OPEN_BUCKETS];
        struct lost_changes lost[LOST_SLOTS];   /* by inode, the newest kept on a collision */
        bool final;                     /* no record will come any more: none are parked */
};

/* ---- lists ---- */

static void list_add(struct job_list *l, struct job *j)
{
        j->next = NULL;
        j->prev = l->tail;
        if (l->tail)
                l->tail->next = j;
        else
                l->head = j;
        l->tail = j;
        l->count++;
}

static void list_del(struct job_list *l, struct job *j)
{
        if (j->prev)
                j->prev->next = j->next;
        else
                l->head = j->next;
        if (j->next)
                j->next->prev = j->prev;
        else
                l->tail = j->prev;
        j->prev = j->next = NULL;
        l->count--;
}

static struct job_list *list_of(struct plan *p, enum job_state s)
{
        switch (s) {
        case JOB_QUEUED: return &p->queued;
        case JOB_HELD: return &p->held;
        case JOB_RUNNING: return &p->running;
        case JOB_RETRY: return &p->retry;
        case JOB_BARRIER: return &p->barriers;
        case JOB_PARKED: return &p->parked;
        }
        return NULL;
}

static void set_state(struct plan *p, struct job *j, enum job_state s)
{
        list_del(list_of(p, j->state), j);
        j->state = s;
        list_add(list_of(p, s), j);
}

/* ---- paths ---- */

/* @p is @dir or beneath it; "" is the root, above everything. */
static bool under(const char *p, const char *dir)
{
        size_t n = strlen(dir);

        if (n == 0)
                return true;
        return strncmp(p, dir, n) == 0 && (p[n] == 0 || p[n] == '/');
}

static bool related(const char *a, const char *b)
{
        return under(a, b) || under(b, a);
}

static bool attr_only(const struct job *j)
{
        return j->kind == JOB_SYNC && !(j->flags & ~(JOB_ATTR | JOB_TIMES | JOB_NOW));
}

/* Jobs that may not run at the same time. */
static bool conflict(const struct job *a, const struct job *b)
{
        /* A directory's attributes beside work on its children; never
         * beside a rename or link (above it, it would make the old path
         * anew on the target before the rename moves the real one there),
         * nor beside a walk above it, which sets what it meets to what it
         * saw, maybe before this job's change (storm seed 28809: a chmod
         * undone by the walk of the parent, done after it). */
        if ((attr_only(a) || attr_only(b)) && a->kind == JOB_SYNC && b->kind == JOB_SYNC) {
                const struct job *attrs = attr_only(a) ? a : b, *other = attrs == a ? b : a;

                return strcmp(a->path, b->path) == 0 ||
                       ((other->flags & (JOB_SUBTREE | JOB_FILL)) && under(attrs->path, other->path));
        }
        if (related(a->path, b->path))
                return true;
        if (a->path2 && related(a->path2, b->path))
                return true;
        if (b->path2 && related(a->path, b->path2))
                return true;
        return a->path2 && b->path2 && related(a->path2, b->path2);
}

static size_t hash_str(const char *s, size_t size)
{
        uint64_t h = 1469598103934665603ull;

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ull;
        return (size_t)(h ^ (h >> 29)) & (size - 1);
}

static struct job *hash_find(struct plan *p, const char *path)
{
        struct job *j = p->hash[hash_str(path, p->hash_size)];

        while (j && strcmp(j->path, path) != 0)
                j = j->hnext;
        return j;
}

static void hash_insert(struct plan *p, struct job *j)
{
        size_t b;

        if (p->hash_count >= p->hash_size) {
                size_t size = p->hash_size * 2, i;
                struct job **h = calloc(size, sizeof(*h));

                if (h) {
                        for (i = 0; i < p->hash_size; i++) {
                                struct job *x = p->hash[i], *next;

                                for (; x; x = next) {
                                        next = x->hnext;
                                        b = hash_str(x->path, size);
                                        x->hnext = h[b];
                                        h[b] = x;
                                }
                        }
                        free(p->hash);
                        p->hash = h;
                        p->hash_size = size;
                }
        }
        b = hash_str(j->path, p->hash_size);
        j->hnext = p->hash[b];
        p->hash[b] = j;
        p->hash_count++;
}

static void hash_remove(struct plan *p, struct job *j)
{
        struct job **pp = &p->hash[hash_str(j->path, p->hash_size)];

        while (*pp && *pp != j)
                pp = &(*pp)->hnext;
        if (*pp) {
                *pp = j->hnext;
                p->hash_count--;
        }
        j->hnext = NULL;
}

/* ---- open files ---- */

static struct open_count **open_slot(struct plan *p, uint64_t ino)
{
        struct open_count **pp = &p->opens[ino % OPEN_BUCKETS];

        while (*pp && (*pp)->ino != ino)
                pp = &(*pp)->next;
        return pp;
}

static uint32_t open_get(struct plan *p, uint64_t ino)
{
        struct open_count *o = ino ? *open_slot(p, ino) : NULL;

        return o ? o->n : 0;
}

static void open_add(struct plan *p, uint64_t ino, int delta)
{
        struct open_count **pp, *o;

        if (!ino)
                return;
        pp = open_slot(p, ino);
        o = *pp;
        if (!o) {
                if (delta < 0)
                        return;         /* its open came before our cursor */
                o = calloc(1, sizeof(*o));
                if (!o)
                        return;         /* then it is not held: copied early, not lost */
                o->ino = ino;
                *pp = o;
        }
        if (delta < 0 && o->n > 0)
                o->n--;
        else if (delta > 0)
                o->n++;
        if (o->n == 0) {
                *pp = o->next;
                free(o);
        }
}

static void opens_clear(struct plan *p)
{
        for (size_t i = 0; i < OPEN_BUCKETS; i++) {
                while (p->opens[i]) {
                        struct open_count *o = p->opens[i];

                        p->opens[i] = o->next;
                        free(o);
                }
        }
}

/* Held jobs whose file is no longer open (or all, after a remount) may go. */
static void release_held(struct plan *p, uint64_t ino, bool all)
{
        struct job *j, *next;

        for (j = p->held.head; j; j = next) {
                next = j->next;
                if (all || j->ino == ino)
                        set_state(p, j, JOB_QUEUED);
        }
}

/* ---- jobs ---- */

struct job *plan_job_free(struct job *j)
{
        if (j) {
                free(j->path);
                free(j->path2);
                free(j);
        }
        return NULL;
}

static struct job *job_new(enum job_kind kind, const char *path, const char *path2)
{
        struct job *j = calloc(1, sizeof(*j));

        if (!j)
                return NULL;
        j->kind = kind;
        j->path = strdup(path);
        j->path2 = path2 ? strdup(path2) : NULL;
        if (!j->path || (path2 && !j->path2))
                return plan_job_free(j);
        return j;
}

static uint64_t ready_at(struct plan *p, const struct job *j, uint64_t now)
{
        uint64_t t = (j->flags & JOB_NOW) ? now : now + p->cfg.settle_ns;
        uint64_t limit = j->created_ns + p->cfg.max_hold_ns;

        return t < limit ? t : limit > now ? limit : now;
}

/* The job must wait for its file to be closed. */
static bool must_hold(struct plan *p, const struct job *j, uint64_t now)
{
        return (j->flags & JOB_DATA) && !(j->flags & JOB_NOW) && open_get(p, j->ino) > 0 &&
               now < j->created_ns + p->cfg.open_hold_ns;
}

/* Remember inode @ino among a job's orphans (the oldest forgotten when full). */
static void orphan_add(uint64_t orphans[JOB_ORPHANS], uint64_t ino)
{
        unsigned i;

        if (!ino)
                return;
        for (i = 0; i < JOB_ORPHANS && orphans[i]; i++)
                if (orphans[i] == ino)
                        return;
        if (i == JOB_ORPHANS) {
                memmove(orphans, orphans + 1, (JOB_ORPHANS - 1) * sizeof(*orphans));
                i = JOB_ORPHANS - 1;
        }
        orphans[i] = ino;
}

/*
 * Changes to inode @ino were pending under a name that went (removed, or
 * renamed over).  The job there sends them to another name the target
 * has for the inode, when links.c knows one; and the next record about the
 * inode, under whatever name, takes them on (a file written under one
 * name, that name removed, its other name's attributes changed: the data
 * were once lost, the attributes alone synced).
 */
static void lost_note(struct plan *p, uint64_t ino, uint32_t flags)
{
        struct lost_changes *l = &p->lost[ino % LOST_SLOTS];

        flags &= JOB_DATA | JOB_ATTR;
        if (!ino || !flags)
                return;
        if (l->ino != ino)
                *l = (struct lost_changes) { .ino = ino };
        l->flags |= flags;
}

/* The changes lost_note() kept for @ino, taken. */
static uint32_t lost_take(struct plan *p, uint64_t ino)
{
        struct lost_changes *l = &p->lost[ino % LOST_SLOTS];
        uint32_t flags = 0;

        if (ino && l->ino == ino) {
                flags = l->flags;
                *l = (struct lost_changes) { 0 };
        }
        return flags;
}

/* A job's name holds another inode than @ino, to which it had changes
 * (@flags) pending: they may live on under another name (an orphan). */
static void forgotten(struct plan *p, uint64_t orphans[JOB_ORPHANS], uint64_t ino, uint32_t flags)
{
        orphan_add(orphans, ino);
        lost_note(p, ino, flags);
}

/*
 * A record about inode @ino comes for a job's name, where the job had
 * @old with @flags pending: changes go to the orphans (forgotten()), and
 * so does a removal of @old, whose copy the job still removes
 * (apply_job(): a rename above would carry it where the source never had
 * it).
 */
static void inode_replaced(struct plan *p, uint64_t orphans[JOB_ORPHANS], uint64_t old, uint64_t ino,
                           uint32_t flags)
{
        if (!ino || !old || ino == old)
                return;
        if (flags & (JOB_DATA | JOB_ATTR))
                forgotten(p, orphans, old, flags);
        else if (flags & JOB_UNLINKED)
                orphan_add(orphans, old);
}

/*
 * JOB_NOW when a job's orphans fill its list: one more would forget the
 * oldest, and its changes with it (storm seed 10223: a name made and removed
 * as eleven files while its job waited for the name to settle lost a
 * chown of a file that lived on under other names).  Run now, the job
 * sends them on to those names before more come.
 */
static uint32_t orphans_full(const uint64_t orphans[JOB_ORPHANS])
{
        return orphans[JOB_ORPHANS - 1] ? JOB_NOW : 0;
}

/* Add every orphan of @from to @to. */
static void orphans_merge(uint64_t to[JOB_ORPHANS], const uint64_t from[JOB_ORPHANS])
{
        for (unsigned i = 0; i < JOB_ORPHANS; i++)
                orphan_add(to, from[i]);
}

/*
 * Make sure a sync job exists for @path with @flags, standing for a record
 * of @seq (wall time @time_ns).  -ENOMEM.
 */
static int sync_path(struct plan *p, const char *path, uint32_t flags, uint64_t seq, uint64_t time_ns,
                     uint64_t ino, uint64_t ino_seq, uint64_t moved_seq, uint64_t now)
{
        struct job *j = hash_find(p, path);

        if (j && j->state == JOB_RUNNING) {
                /* It may have read the source before this change: again
                 * after, and after every barrier older than the change. */
                if (!j->again_flags || seq < j->again_first_seq)
                        j->again_first_seq = seq;
                inode_replaced(p, j->again_orphan_ino, j->again_ino, ino, j->again_flags);
                j->again_flags |= flags | orphans_full(j->again_orphan_ino);
                if (ino) {
                        j->again_ino = ino;
                        j->again_ino_seq = ino_seq;
                        j->again_moved_seq = moved_seq;
                }
                if (seq > j->gate)
                        j->gate = seq;
                return 0;
        }
        if (j && j->state == JOB_PARKED)
                set_state(p, j, JOB_QUEUED);    /* a record about it: look again */
        if (j) {
                inode_replaced(p, j->orphan_ino, j->ino, ino, j->flags);
                j->flags |= flags | orphans_full(j->orphan_ino);
                if (seq < j->first_seq) {
                        j->first_seq = seq;
                        j->oldest_ns = time_ns;
                }
                if (seq > j->gate)
                        j->gate = seq;
                if (ino) {
                        j->ino = ino;
                        j->ino_seq = ino_seq;
                        j->moved_seq = moved_seq;
                }
                if (j->state != JOB_RETRY)
                        j->ready_ns = ready_at(p, j, now);
        } else {
                j = job_new(JOB_SYNC, path, NULL);
                if (!j)
                        return -ENOMEM;
                j->flags = flags;
                j->first_seq = seq;
                j->gate = seq;
                j->oldest_ns = time_ns;
                j->created_ns = now;
                j->ino = ino;
                j->ino_seq = ino_seq;
                j->moved_seq = moved_seq;
                j->ready_ns = ready_at(p, j, now);
                j->state = JOB_QUEUED;
                list_add(&p->queued, j);
                hash_insert(p, j);
        }
        if (j->state == JOB_QUEUED && must_hold(p, j, now))
                set_state(p, j, JOB_HELD);
        else if (j->state == JOB_HELD && !must_hold(p, j, now))
                set_state(p, j, JOB_QUEUED);
        return 0;
}

/*
 * A record about @path came (in journal order): JOB_UNLINKED follows it.
 * A removal explains a source found gone (the job is not parked for it);
 * a record of the name made or changed again means it was there after.
 */
static void note_removal(struct plan *p, const char *path, bool removed)
{
        struct job *j = hash_find(p, path);
        uint32_t *f = j && j->state == JOB_RUNNING ? &j->again_flags : j ? &j->flags : NULL;

        if (!f)
                return;
        if (removed && (*f & (JOB_DATA | JOB_ATTR))) {
                /* Changes to the inode under that name were waiting: the
                 * inode may live on under another name. */
                if (j->state == JOB_RUNNING)
                        forgotten(p, j->again_orphan_ino, j->again_ino ? j->again_ino : j->ino, *f);
                else
                        forgotten(p, j->orphan_ino, j->ino, *f);
        }
        if (removed)
                *f |= JOB_UNLINKED;
        else
                *f &= ~JOB_UNLINKED;
        if (removed && j->state == JOB_PARKED)
                set_state(p, j, JOB_QUEUED);    /* explained */
}

static uint64_t max_seq(uint64_t a, uint64_t b)
{
        return a > b ? a : b;
}

/*
 * Work for @path that stands for records from @first_seq (wall time
 * @oldest_ns) on and must run after every barrier older than @gate: joined
 * to the job queued there, or to the next run of the one running there.
 * @ino: the inode the work is about, as of record @ino_seq, carried to
 * @path by the rename of record @moved_seq (0: none).
 */
static int add_work(struct plan *p, const char *path, uint32_t flags, uint64_t first_seq, uint64_t oldest_ns,
                    uint64_t gate, uint64_t ino, uint64_t ino_seq, uint64_t moved_seq, uint64_t now)
{
        struct job *n = hash_find(p, path);
        bool newer = !n || n->gate <= first_seq;
        bool running = n && n->state == JOB_RUNNING && n->again_ino;
        int r;

        /* Which knows better what the name holds: the job there, or this
         * work?  Each is dated by the rename that carried its inode to the
         * name, or else by its record: a removal at the name, then a link
         * that could not be made moved there by a later rename of the
         * directory above, says the link's inode.  When one rename carried
         * both (a directory moved with the name's jobs in it), it tells
         * nothing between them: their records do. */
        if (n && (running || n->ino)) {
                uint64_t n_seq = running ? n->again_ino_seq : n->ino_seq;
                uint64_t n_moved = running ? n->again_moved_seq : n->moved_seq;
                bool theirs = n_moved == moved_seq ? n_seq > ino_seq :
                              max_seq(n_seq, n_moved) > max_seq(ino_seq, moved_seq);

                if (theirs)
                        ino = 0;
        }
        r = sync_path(p, path, flags, gate, oldest_ns, ino, ino_seq, moved_seq, now);
        if (r == 0 && n && newer && (flags & (JOB_DATA | JOB_ATTR)))
                note_removal(p, path, false);   /* made again since */
        n = r == 0 ? hash_find(p, path) : NULL;
        if (n && n->state == JOB_RUNNING) {
                if (first_seq < n->again_first_seq)
                        n->again_first_seq = first_seq;
        } else if (n && first_seq < n->first_seq) {
                n->first_seq = first_seq;
                n->oldest_ns = oldest_ns;
        }
        return r;
}

/*
 * A running job under a renamed name: it finishes under the old name; what
 * it stands for must also happen under the new one, after the barrier of
 * @seq.
 */
static int move_job(struct plan *p, struct job *j, const char *newpath, uint64_t seq, uint64_t now)
{
        uint64_t first = j->again_flags && j->again_first_seq < j->first_seq ? j->again_first_seq : j->first_seq;
        int r;

        r = add_work(p, newpath, j->flags | j->again_flags, first, j->oldest_ns, seq + 1,
                     j->again_ino ? j->again_ino : j->ino, j->again_ino ? j->again_ino_seq : j->ino_seq, seq, now);
        j->again_flags = 0;
        j->again_ino = 0;
        j->moved = true;        /* a source gone when it looked went to the new name */
        return r;
}

/* "@old_prefix/rest" -> "@new_prefix/rest" */
static char *rebase(const char *path, const char *old_prefix, const char *new_prefix)
{
        size_t o = strlen(old_prefix), n = strlen(new_prefix), rest = strlen(path) - o;
        char *s;

        if (o == 0)
                rest++;         /* root: the rest has no leading '/' */
        s = malloc(n + rest + 2);
        if (!s)
                return NULL;
        memcpy(s, new_prefix, n);
        if (o == 0 && n) {
                s[n] = '/';
                memcpy(s + n + 1, path, rest);
        } else if (o == 0) {
                memcpy(s, path, rest);
        } else if (n == 0) {
                memcpy(s, path + o + 1, rest);  /* drop the '/' */
        } else {
                memcpy(s + n, path + o, rest + 1);
        }
        return s;
}

/*
 * Jobs under @from now stand for paths under @to.  With @swap, jobs under
 * @to go to @from at the same time.
 */
static int rewrite(struct plan *p, const char *from, const char *to, bool swap, bool dir, uint64_t seq,
                   uint64_t now)
{
        struct job **moved = NULL;
        char **dest = NULL;
        size_t n = 0, cap = 0, i;
        int r = 0;

        for (i = 0; i < p->hash_size; i++) {
                struct job *j;

                if (!dir && !swap) {
                        /* a file: only the one name can match */
                        j = hash_find(p, from);
                        i = p->hash_size;
                } else {
                        j = p->hash[i];
                }
                for (; j; j = (!dir && !swap) ? NULL : j->hnext) {
                        const char *prefix_from, *prefix_to;

                        if (under(j->path, from) && (dir || !strcmp(j->path, from))) {
                                prefix_from = from;
                                prefix_to = to;
                        } else if (swap && under(j->path, to) && (dir || !strcmp(j->path, to))) {
                                prefix_from = to;
                                prefix_to = from;
                        } else {
                                continue;
                        }
                        if (n == cap) {
                                size_t c = cap ? cap * 2 : 16;
                                struct job **m = realloc(moved, c * sizeof(*m));
                                char **d = m ? realloc(dest, c * sizeof(*d)) : NULL;

                                if (!m || !d) {
                                        moved = m ? m : moved;
                                        r = -ENOMEM;
                                        goto out;
                                }
                                moved = m;
                                dest = d;
                                cap = c;
                        }
                        dest[n] = rebase(j->path, prefix_from, prefix_to);
                        if (!dest[n]) {
                                r = -ENOMEM;
                                goto out;
                        }
                        moved[n++] = j;
                }
        }
        /*
         * Re-keyed in steps: the queued ones leave their old names first
         * (nothing may join a job that is about to move, and a swap must not
         * merge A into B and back); the running ones hand their work to the
         * new names; then the queued ones take theirs.
         */
        for (i = 0; i < n; i++)
                if (moved[i]->state != JOB_RUNNING)
                        hash_remove(p, moved[i]);
        for (i = 0; i < n; i++) {
                if (moved[i]->state == JOB_RUNNING) {
                        int e = move_job(p, moved[i], dest[i], seq, now);

                        if (e < 0)
                                r = e;
                }
        }
        for (i = 0; i < n; i++) {
                struct job *j = moved[i], *other;

                if (j->state == JOB_RUNNING)
                        continue;
                if (j->state == JOB_PARKED) {
                        /* what it did not find is at the new name */
                        set_state(p, j, JOB_QUEUED);
                        j->ready_ns = ready_at(p, j, now);
                }
                other = hash_find(p, dest[i]);
                if (other && other->state == JOB_RUNNING) {
                        /* it may have looked before the rename: again after it */
                        if (!swap && other->again_ino && j->ino && other->again_ino != j->ino &&
                            (other->again_flags & (JOB_DATA | JOB_ATTR)))
                                forgotten(p, other->again_orphan_ino, other->again_ino, other->again_flags);
                        if (!other->again_flags || j->first_seq < other->again_first_seq)
                                other->again_first_seq = j->first_seq;
                        other->again_flags |= j->flags;
                        if (j->ino) {
                                other->again_ino = j->ino;
                                other->again_ino_seq = j->ino_seq;
                                other->again_moved_seq = seq;
                        }
                        orphans_merge(other->again_orphan_ino, j->orphan_ino);
                        if (other->gate <= seq)
                                other->gate = seq + 1;
                        list_del(list_of(p, j->state), j);
                        plan_job_free(j);
                } else if (other) {
                        if (other->state == JOB_PARKED) {
                                set_state(p, other, JOB_QUEUED);
                                other->ready_ns = ready_at(p, other, now);
                        }
                        if (!swap && other->ino && j->ino && other->ino != j->ino &&
                            (other->flags & (JOB_DATA | JOB_ATTR))) {
                                /* The inode it was about lost the name to
                                 * the rename: its changes may live on under
                                 * another name it has (links.c). */
                                forgotten(p, other->orphan_ino, other->ino, other->flags);
                        }
                        orphans_merge(other->orphan_ino, j->orphan_ino);        /* and those of the one moved */
                        other->flags = (other->flags & ~JOB_UNLINKED) | j->flags;
                        if (j->ino) {
                                other->ino = j->ino;    /* what the name holds after the rename */
                                other->ino_seq = j->ino_seq;
                                other->moved_seq = seq;
                        }
                        if (other->gate <= seq)
                                other->gate = seq + 1;
                        if (j->first_seq < other->first_seq) {
                                other->first_seq = j->first_seq;
                                other->oldest_ns = j->oldest_ns;
                        }
                        list_del(list_of(p, j->state), j);
                        plan_job_free(j);
                } else {
                        free(j->path);
                        j->path = dest[i];
                        dest[i] = NULL;
                        if (j->ino)
                                j->moved_seq = seq;     /* its inode came here with the rename */
                        if (j->gate <= seq)
                                j->gate = seq + 1;      /* after the barrier */
                        hash_insert(p, j);
                }
        }
out:
        for (i = 0; i < n; i++)
                free(dest[i]);
        free(dest);
        free(moved);
        return r;
}

static int barrier(struct plan *p, enum job_kind kind, const struct journal_record *rec, uint64_t now)
{
        bool dir = (rec->flags & JOURNAL_F_DIR) != 0;
        struct job *b, *moved;
        uint32_t lost;
        int r;

        if (replicator_path_valid(rec->path, rec->path_len) < 0 ||
            replicator_path_valid(rec->path2, rec->path2_len) < 0 || rec->path_len == 0 || rec->path2_len == 0)
                return -EINVAL;
        if (kind == JOB_LINK && strcmp(rec->path, rec->path2) == 0)
                return -EINVAL;
        b = job_new(kind, rec->path, rec->path2);
        if (!b)
                return -ENOMEM;
        b->first_seq = b->gate = rec->seq;
        b->oldest_ns = rec->time_ns;
        b->created_ns = now;
        b->dir = dir;
        b->ino = rec->ino;
        if (kind == JOB_RENAME || kind == JOB_EXCHANGE) {
                if (strcmp(rec->path, rec->path2) == 0) {
                        plan_job_free(b);       /* a rename onto itself changes nothing */
                        return 0;
                }
                /* Only a directory has jobs beneath it to move.  The
                 * record's DIR flag describes its first path only: either
                 * side of an exchange may be the directory. */
                r = rewrite(p, rec->path, rec->path2, kind == JOB_EXCHANGE, dir || kind == JOB_EXCHANGE,
                            rec->seq, now);
                if (r < 0) {
                        plan_job_free(b);
                        return r;
                }
        }
        /* The name the rename or link makes exist, and its job. */
        moved = hash_find(p, kind == JOB_LINK ? rec->path : rec->path2);
        if (moved && rec->ino && moved->state == JOB_RUNNING) {
                if (kind != JOB_EXCHANGE && moved->again_ino && moved->again_ino != rec->ino &&
                    (moved->again_flags & (JOB_DATA | JOB_ATTR))) {
                        /* replaced with changes that came while it ran
                         * (storm seed 1202: a file written, then renamed
                         * over, its other name left with the old bytes) */
                        forgotten(p, moved->again_orphan_ino, moved->again_ino, moved->again_flags);
                }
                moved->again_ino = rec->ino;
                moved->again_ino_seq = rec->seq;
                moved->again_moved_seq = 0;
        } else if (moved && rec->ino) {
                if (kind != JOB_EXCHANGE && moved->ino && moved->ino != rec->ino &&
                    (moved->flags & (JOB_DATA | JOB_ATTR))) {
                        /* replaced: see rewrite() */
                        forgotten(p, moved->orphan_ino, moved->ino, moved->flags);
                }
                moved->ino = rec->ino;  /* what the new name holds now */
                moved->ino_seq = rec->seq;
                moved->moved_seq = 0;
        }
        if (moved) {
                /* A removal the job had for the name (its record, or a
                 * rename away, older than this; the rename replaces
                 * whatever the target has there): the name is the renamed
                 * or linked entry's now, and a job that finds it gone on
                 * the source waits for the record of where it went rather
                 * than remove it.  (A running one finishes the removal
                 * first: this waits for it.) */
                if (moved->state == JOB_RUNNING) {
                        if (moved->again_flags & JOB_UNLINKED)
                                moved->again_flags = (moved->again_flags & ~JOB_UNLINKED) | JOB_ATTR;
                } else if ((moved->flags & JOB_UNLINKED) || !(moved->flags & (JOB_DATA | JOB_ATTR))) {
                        moved->flags = (moved->flags & ~JOB_UNLINKED) | JOB_ATTR;
                }
        }
        b->state = JOB_BARRIER;
        list_add(&p->barriers, b);
        lost = lost_take(p, rec->ino);
        if (lost) {
                /* changes its inode had under a name gone (lost_note()):
                 * after the barrier, under the name that has it then */
                r = sync_path(p, kind == JOB_LINK ? rec->path : rec->path2, lost, rec->seq + 1, rec->time_ns,
                              rec->ino, rec->seq, 0, now);
                if (r < 0)
                        return r;
        }
        if (kind == JOB_RENAME) {
                /* After it: the old name must match the source (gone,
                 * usually; made anew, its records say so). */
                r = sync_path(p, rec->path, JOB_REMOVED, rec->seq + 1, rec->time_ns, 0, 0, 0, now);
                if (r < 0)
                        return r;
                if (hash_find(p, rec->path) && hash_find(p, rec->path)->first_seq > rec->seq)
                        hash_find(p, rec->path)->first_seq = rec->seq;
        }
        return 0;
}

int plan_add(struct plan *p, const struct journal_record *rec, uint64_t now)
{
        uint32_t flags;
        int r;

        switch (rec->type) {
        case JOURNAL_MOUNT:
        case JOURNAL_UNMOUNT:
                /* A (re)start of the mount: every file it had open was
                 * closed, clean or not.  Intents without a close are now
                 * plain "sync this path". */
                opens_clear(p);
                release_held(p, 0, true);
                return 0;
        case JOURNAL_EVENTS_LOST:
                return 0;       /* the caller counts it */
        case JOURNAL_RENAME:
                return barrier(p, (rec->aux & 2 /* RENAME_EXCHANGE */) ? JOB_EXCHANGE : JOB_RENAME, rec, now);
        case JOURNAL_LINK:
                if (rec->path2_len)
                        return barrier(p, JOB_LINK, rec, now);
                flags = JOB_DATA | JOB_ATTR;    /* a link to an unnamed file: copy */
                break;
        case JOURNAL_WRITE_INTENT:
                open_add(p, rec->ino, +1);
                flags = JOB_DATA | JOB_ATTR;
                break;
        case JOURNAL_CREATE:
                if ((rec->aux & 3) != 0)        /* O_WRONLY or O_RDWR: open until its close */
                        open_add(p, rec->ino, +1);
                flags = JOB_DATA | JOB_ATTR;
                break;
        case JOURNAL_CLOSE_WRITE:
                open_add(p, rec->ino, -1);
                if (open_get(p, rec->ino) == 0)
                        release_held(p, rec->ino, false);
                flags = JOB_DATA | JOB_ATTR;
                break;
        case JOURNAL_SYNC:
                flags = JOB_DATA | JOB_ATTR | JOB_NOW;
                break;
        case JOURNAL_MKDIR:
        case JOURNAL_MKNOD:
        case JOURNAL_SYMLINK:
                flags = JOB_DATA | JOB_ATTR;
                break;
        case JOURNAL_SETATTR:
                flags = JOB_ATTR | ((rec->aux & JOURNAL_SET_SIZE) ? JOB_DATA : 0) |
                        ((rec->aux & JOURNAL_SET_MTIME) ? JOB_TIMES : 0);
                break;
        case JOURNAL_SETXATTR:
        case JOURNAL_REMOVEXATTR:
                flags = JOB_ATTR;
                break;
        case JOURNAL_UNLINK:
        case JOURNAL_RMDIR:
                flags = JOB_REMOVED | JOB_UNLINKED;
                break;
        default:
                if (rec->type < JOURNAL_WRITE_INTENT)
                        return 0;       /* a marker this version does not know */
                /* A change this version does not know: the path may have
                 * changed in any way. */
                flags = JOB_DATA | JOB_ATTR | JOB_REMOVED;
                break;
        }
        if (replicator_path_valid(rec->path, rec->path_len) < 0)
                return -EINVAL;
        if (flags & (JOB_DATA | JOB_ATTR))
                flags |= lost_take(p, rec->ino);
        r = sync_path(p, rec->path, flags, rec->seq, rec->time_ns, rec->ino, rec->seq, 0, now);
        if (r == 0 && (flags & (JOB_UNLINKED | JOB_DATA | JOB_ATTR)))
                note_removal(p, rec->path, flags & JOB_UNLINKED);
        return r;
}

int plan_repair(struct plan *p, const char *path, bool whole, uint64_t seq, uint64_t time_ns, uint64_t now)
{
        uint32_t flags = JOB_ATTR | JOB_ANY_INODE | JOB_NOW;

        if (whole)
                flags |= JOB_DATA | JOB_REMOVED | JOB_UNLINKED | JOB_SUBTREE;
        return sync_path(p, path, flags, seq, time_ns, 0, seq, 0, now);
}

static bool blocked(const struct plan *p, const struct job *j)
{
        const struct job *x;

        for (x = p->running.head; x; x = x->next)
                if (conflict(j, x))
                        return true;
        /* A barrier waits for nothing older, and nothing newer passes it. */
        for (x = p->barriers.head; x; x = x->next)
                if (x->gate < j->gate && conflict(j, x))
                        return true;
        return false;
}

/*
 * A link needs its existing name on the target: older work on it first.
 * The job it waits for, or NULL.
 */
static struct job *link_waits(struct plan *p, const struct job *b)
{
        struct job *j;

        if (b->kind != JOB_LINK)
                return NULL;
        j = hash_find(p, b->path2);
        if (!j || j->gate > b->gate || j->state == JOB_PARKED)
                return NULL;    /* a parked one found it gone: the link cannot be made */
        if (j->state == JOB_HELD) {
                /* Still open for writing: make it exist now (it is copied
                 * again at its close) rather than stall every later rename
                 * behind this link. */
                j->flags |= JOB_NOW;
                j->ready_ns = 0;
                set_state(p, j, JOB_QUEUED);
        }
        return j;
}

/* Hand @j to a worker. */
static struct job *dispatch(struct plan *p, struct job *j)
{
        /* Changes its inode had under a name gone since it was queued
         * (lost_note()): this name has the inode too. */
        if (j->kind == JOB_SYNC && (j->flags & (JOB_DATA | JOB_ATTR)))
                j->flags |= lost_take(p, j->ino);
        j->runs++;
        set_state(p, j, JOB_RUNNING);
        return j;
}

struct job *plan_next(struct plan *p, uint64_t now, uint64_t *ret_wake)
{
        uint64_t wake = UINT64_MAX;
        struct job *j, *next;
        unsigned scanned = 0;

        /* Renames and links, in journal order, once nothing they touch runs. */
        j = p->barriers.head;
        if (j && j->ready_ns > now) {
                wake = j->ready_ns;     /* retrying */
        } else if (j) {
                const struct job *x;
                bool busy = false;

                for (x = p->running.head; x && !busy; x = x->next)
                        busy = conflict(j, x);
                if (!busy) {
                        struct job *w = link_waits(p, j);

                        /* What the first barrier waits for goes first: it
                         * may be queued behind more jobs than one call
                         * looks at, all waiting for barriers. */
                        if (w && w->state == JOB_QUEUED && w->ready_ns <= now && !blocked(p, w))
                                j = w;
                        if (!w || j == w) {
                                *ret_wake = now;
                                return dispatch(p, j);
                        }
                }
        }
        for (j = p->held.head; j; j = next) {
                next = j->next;
                if (!must_hold(p, j, now))
                        set_state(p, j, JOB_QUEUED);
                else if (j->created_ns + p->cfg.open_hold_ns < wake)
                        wake = j->created_ns + p->cfg.open_hold_ns;
        }
        for (j = p->retry.head; j; j = next) {
                next = j->next;
                if (j->ready_ns <= now)
                        set_state(p, j, JOB_QUEUED);
                else if (j->ready_ns < wake)
                        wake = j->ready_ns;
        }
        for (j = p->queued.head; j && scanned < SCAN_MAX; j = j->next, scanned++) {
                if (j->ready_ns > now) {
                        if (j->ready_ns < wake)
                                wake = j->ready_ns;
                        continue;
                }
                if (blocked(p, j))
                        continue;       /* woken when a job finishes */
                *ret_wake = now;
                return dispatch(p, j);
        }
        if (j)
                wake = now;             /* more to scan */
        *ret_wake = wake;
        return NULL;
}

/* "a/b/c" -> "a/b"; "c" -> "" */
static char *parent_of(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash ? strndup(path, (size_t)(slash - path)) : strdup("");
}

/* Changes to inode @ino, which name @path no longer holds: an orphan of
 * the job there, its changes sent to another name the inode has. */
static void orphan_work(struct plan *p, const char *path, uint32_t flags, uint64_t first_seq, uint64_t oldest_ns,
                        uint64_t gate, uint64_t ino, uint64_t now)
{
        struct job *n;

        if (sync_path(p, path, flags & (JOB_DATA | JOB_ATTR), gate, oldest_ns, 0, 0, 0, now) < 0 ||
            !(n = hash_find(p, path)))
                return;
        orphan_add(n->state == JOB_RUNNING ? n->again_orphan_ino : n->orphan_ino, ino);
        if (n->state == JOB_RUNNING) {
                if (first_seq < n->again_first_seq)
                        n->again_first_seq = first_seq;
        } else if (first_seq < n->first_seq) {
                n->first_seq = first_seq;
                n->oldest_ns = oldest_ns;
        }
}

/*
 * @path, named as when a job that finished ran, as it is called once the
 * barriers still pending have run: a rename among them takes the name (or
 * a directory above it) elsewhere on the target, and the source is there
 * already.  *gate is raised past each of them.  *over (when not NULL) is set
 * when what the name held (inode @ino, when known) is not what they carry:
 * one of them renames another entry over the name, or moves the name
 * holding another inode (the name removed and made again before it); the
 * renames after carry the newcomer.  NULL: no memory.
 */
static char *forward(struct plan *p, const char *path, uint64_t *gate, bool *over, uint64_t ino)
{
        char *s = strdup(path);
        const struct job *b;

        for (b = p->barriers.head; b && s; b = b->next) {
                char *n;

                if (b->kind == JOB_LINK)
                        continue;
                if (under(s, b->path)) {
                        if (over && ino && b->ino && b->ino != ino && strcmp(s, b->path) == 0)
                                *over = true;
                        n = rebase(s, b->path, b->path2);
                } else if (b->kind == JOB_EXCHANGE && under(s, b->path2))
                        n = rebase(s, b->path2, b->path);
                else if (over && b->kind == JOB_RENAME && under(s, b->path2)) {
                        *over = true;
                        continue;
                } else
                        continue;
                free(s);
                s = n;
                if (b->gate >= *gate)
                        *gate = b->gate + 1;
        }
        return s;
}

/*
 * Work a finished job @j leaves for @path: where the pending renames take
 * it, after them.  @ino is what @path held as of @j's record, carried by
 * the last of those renames (or of those a link made again follows) to
 * the name they take it to (add_work() dates it so).
 */
static void follow(struct plan *p, const struct job *j, const char *path, uint32_t flags, uint64_t ino, uint64_t now)
{
        uint64_t at = j->kind == JOB_SYNC ? j->first_seq : j->gate, gate = at;
        /* a link made again after renames: the last of those that moved its
         * new name carried it there (link_again()) */
        uint64_t moved = j->kind == JOB_LINK ? j->moved_seq : 0;
        bool over = false;
        char *s = forward(p, path, &gate, &over, ino);

        if (s && over && ino) {
                /* Another entry took the name since (renamed over it, or
                 * made there before a rename moved the name): the renames
                 * after carry that one, and so does the job there.  The
                 * inode's changes go to another name it has, if any, as
                 * for any inode renamed over (storm seed 28428: dated by
                 * the last rename, a link's inode won the name over the
                 * newcomer's, whose changes were lost). */
                orphan_work(p, s, flags, j->first_seq, j->oldest_ns, gate, ino, now);
        } else if (s) {
                (void)add_work(p, s, flags, j->first_seq, j->oldest_ns, gate, ino, j->first_seq,
                               gate > at ? gate - 1 : moved, now);
        }
        free(s);
}

/* Into the line of barriers, after every one whose place is not later. */
static void insert_barrier(struct plan *p, struct job *b)
{
        struct job *x = p->barriers.tail;

        while (x && x->gate > b->gate)
                x = x->prev;
        b->prev = x;
        b->next = x ? x->next : p->barriers.head;
        if (b->next)
                b->next->prev = b;
        else
                p->barriers.tail = b;
        if (x)
                x->next = b;
        else
                p->barriers.head = b;
        p->barriers.count++;
}

/*
 * Changes to inode @ino, whose name @j's was, for its other name @path on
 * the target: the work there is about that inode (links.c verified that
 * the target has its copy there), whatever an older job there said.
 */
static void redirect(struct plan *p, const struct job *j, const char *path, uint64_t ino, uint64_t now)
{
        uint64_t gate = j->first_seq;
        char *s = forward(p, path, &gate, NULL, 0);
        struct job *n;

        if (!s)
                return;
        if (add_work(p, s, JOB_DATA | JOB_ATTR, j->first_seq, j->oldest_ns, gate, ino, j->first_seq,
                     gate > j->first_seq ? gate - 1 : 0, now) == 0 &&
            (n = hash_find(p, s)) && ino) {
                bool running = n->state == JOB_RUNNING;
                uint64_t has = running && n->again_ino ? n->again_ino : n->ino;

                if (has && has != ino) {
                        /* Records about another inode under that name (a
                         * newcomer, or older ones): either may be there. */
                        *(running ? &n->again_flags : &n->flags) |= JOB_ANY_INODE;
                        orphan_add(running ? n->again_orphan_ino : n->orphan_ino, ino);
                } else if (running) {
                        n->again_ino = ino;
                } else {
                        n->ino = ino;
                }
                /* No record of the name: a removal of it read since stays
                 * (add_work() drops one older than the changes). */
        }
        free(s);
}

/*
 * A link that could not be made because its names have moved on the source
 * since: made again under the names the pending renames give them, after
 * those.  False when they move neither name (or no memory).
 */
static bool link_again(struct plan *p, const struct job *j, uint64_t now)
{
        uint64_t gate = 0, moved;
        bool over = false;
        char *n = forward(p, j->path, &gate, &over, j->ino), *e;
        struct job *b;

        /* The last rename that moved the new name (not the other: storm
         * seed 28167, a rename of the name linked to dated the link's
         * inode newer than a symlink made since at the new name, and the
         * job there, about the link's inode, left the symlink missing). */
        moved = gate ? gate - 1 : j->moved_seq;
        e = n ? forward(p, j->path2, &gate, NULL, 0) : NULL;

        /* Not when another entry is renamed over the new name, or the
         * name moved holds another inode: the link is history there (made
         * again, it would replace the newcomer). */
        if (!e || !gate || over || !strcmp(n, e)) {
                free(n);
                free(e);
                return false;
        }
        b = calloc(1, sizeof(*b));
        if (!b) {
                free(n);
                free(e);
                return false;
        }
        /* Its record stays unapplied (first_seq, for the cursor); its
         * place in line is right after the last rename it follows, so
         * that nothing waits on it that those before must wait for. */
        *b = (struct job) {
                .kind = JOB_LINK, .state = JOB_BARRIER, .path = n, .path2 = e, .first_seq = j->first_seq,
                .gate = gate - 1, .oldest_ns = j->oldest_ns, .created_ns = now, .ino = j->ino,
                .moved_seq = moved, .made_again = true,
        };
        insert_barrier(p, b);
        return true;
}

/*
 * No record says where @j's entry went or what came instead: the target
 * gets what the source has under the name now, whichever inode (or
 * nothing: the name is removed).  Off every list on entry; queued.
 */
static void unexplained(struct plan *p, struct job *j, uint64_t now)
{
        j->flags = (j->flags & JOB_SUBTREE) | JOB_DATA | JOB_ATTR | JOB_REMOVED | JOB_UNLINKED | JOB_ANY_INODE |
                   JOB_NOW;
        j->ready_ns = now;
        j->state = JOB_QUEUED;
        list_add(&p->queued, j);
}

void plan_done(struct plan *p, struct job *j, const struct job_result *res, uint64_t now)
{
        bool handed_off = res->redirect[0].path != NULL;

        assert(j->state == JOB_RUNNING);
        /* The work it leaves is added while it still counts as running: work
         * that the pending renames bring back to its own name is then its
         * next run. */
        for (int k = 0; k < 1 + JOB_ORPHANS; k++) {
                /* Its name had gone, its inode lives on under another: the
                 * changes go there. */
                if (res->redirect[k].path)
                        redirect(p, j, res->redirect[k].path, res->redirect[k].ino, now);
                free(res->redirect[k].path);
        }

        if ((res->changed_parent || res->created_dir) && j->kind == JOB_SYNC && j->path[0]) {
                /* The parent's entries changed on the target: put its times
                 * back, after whatever else changes it.  When parents had
                 * to be made, every ancestor may have changed. */
                char *parent = parent_of(j->path);

                while (parent) {
                        char *up;

                        follow(p, j, parent, JOB_ATTR, 0, now);
                        if (!res->created_dir || !*parent)
                                break;
                        up = parent_of(parent);
                        free(parent);
                        parent = up;
                }
                free(parent);
        }
        list_del(&p->running, j);
        j->state = JOB_QUEUED;          /* off every list; fixed below */
        if (j->kind != JOB_SYNC) {
                if (res->changed_parent) {
                        char *a = parent_of(j->path), *b = parent_of(j->path2);

                        if (a)
                                follow(p, j, a, JOB_ATTR, 0, now);
                        if (b && (!a || strcmp(a, b) != 0))
                                follow(p, j, b, JOB_ATTR, 0, now);
                        free(a);
                        free(b);
                }
                /* Directories the target made on demand, moved: what
                 * they lack is copied under their new names. */
                if (res->fill & FILL_PATH2)
                        follow(p, j, j->path2, JOB_FILL | JOB_NOW, 0, now);
                if (res->fill & FILL_PATH)
                        follow(p, j, j->path, JOB_FILL | JOB_NOW, 0, now);
                if (res->half) {
                        /* An exchange the target carried out as a rename
                         * (one side missing there): the name left empty
                         * gets what the source has, as in a fallback. */
                        uint32_t f = JOB_DATA | JOB_ATTR | JOB_SUBTREE | JOB_NOW;

                        if (res->half == FILL_PATH2)
                                follow(p, j, j->path2, f, j->ino, now);
                        else
                                follow(p, j, j->path, f, 0, now);
                }
                if (j->kind == JOB_LINK && j->made_again && !res->fallback) {
                        /* Made again after renames: what the records said of
                         * the inode under the new name before this place in
                         * line went to a copy of its own there, which the link
                         * has just replaced.  The inode the names now share
                         * gets the source's contents and attributes (storm -s
                         * 5035 -p 1 -n 5000: a chown under the new name lost,
                         * the other name's copy kept the old owner). */
                        follow(p, j, j->path, JOB_DATA | JOB_ATTR | JOB_NOW, j->ino, now);
                }
                if (res->fallback) {
                        /* The target was not as the journal says (a failure
                         * earlier, or a change outside): copy instead. */
                        uint32_t f = JOB_DATA | JOB_ATTR | (j->dir || j->kind == JOB_EXCHANGE ? JOB_SUBTREE : 0);

                        if (j->kind == JOB_LINK) {
                                if (!link_again(p, j, now)) {
                                        follow(p, j, j->path, JOB_DATA | JOB_ATTR, j->ino, now);
                                        /* and the name it linked to: changes made under the
                                         * new name, which may be gone already with no other
                                         * name of the file known to links.c, are copied there,
                                         * contents too (left to the mtime, written_unseen(),
                                         * they were not when records of that name had set the
                                         * times: storm seed 31674, the old bytes kept under
                                         * the source's mtime).  Whatever the name holds by
                                         * then: with the file's inode, the job would refuse
                                         * another entry there, and so would the directory
                                         * times that later jobs add to it. */
                                        follow(p, j, j->path2, JOB_DATA | JOB_ATTR, 0, now);
                                }
                        } else {
                                follow(p, j, j->path2, f | JOB_NOW, j->ino, now);
                                /* An exchange's first name: whatever the source
                                 * has there now, any inode.  Joined to a job
                                 * there about an inode the name held before
                                 * (a link's, removed since), the copy found
                                 * "another inode", counted it as removed and
                                 * copied nothing: a directory exchanged there
                                 * lost the entries copied into it before
                                 * (storm -s 21412 -p 1: n4/n0, n4/n5). */
                                follow(p, j, j->path,
                                       (j->kind == JOB_EXCHANGE ? f | JOB_ANY_INODE : JOB_REMOVED) | JOB_NOW, 0, now);
                        }
                }
                plan_job_free(j);
                return;
        }
        if (j->again_flags) {
                if (res->deferred)
                        j->again_flags |= JOB_SUBTREE;  /* walk again (see below) */
                j->flags = j->again_flags;
                j->first_seq = j->again_first_seq;
                j->again_flags = 0;
                if (j->again_ino) {
                        j->ino = j->again_ino;
                        j->ino_seq = j->again_ino_seq;
                        j->moved_seq = j->again_moved_seq;
                }
                j->again_ino = 0;
                memcpy(j->orphan_ino, j->again_orphan_ino, sizeof(j->orphan_ino));
                memset(j->again_orphan_ino, 0, sizeof(j->again_orphan_ino));
                j->moved = false;
                j->attempts = 0;
                j->created_ns = now;
                j->ready_ns = ready_at(p, j, now);
                j->state = must_hold(p, j, now) ? JOB_HELD : JOB_QUEUED;
                list_add(list_of(p, j->state), j);
                return;
        }
        if (res->deferred && !j->moved) {
                /* Its walk left a directory copy of another inode for a
                 * record not read yet to move: parked like a job that
                 * found its source gone, it walks again taking any inode
                 * when none did (plan_caught_up()); at once when no
                 * record will come. */
                j->flags |= JOB_SUBTREE;
                if (p->final) {
                        j->flags |= JOB_ANY_INODE | JOB_NOW;
                        j->ready_ns = now;
                        j->state = JOB_QUEUED;
                } else {
                        j->parked_ns = now;
                        j->state = JOB_PARKED;
                }
                list_add(list_of(p, j->state), j);
                return;
        }
        if (res->gone && (j->flags & (JOB_DATA | JOB_ATTR)) && !(j->flags & JOB_UNLINKED) && !j->moved &&
            !handed_off) {
                /* The source moved on before we looked: a record not read
                 * yet says where to (see JOB_PARKED).  Not when a removal
                 * explains it, nor when its inode's changes went to another
                 * name it has (redirect[0]; waiting for it there, a job on
                 * that name in it brought it back, again and again).  With
                 * no record to come, what plan_caught_up() would do, now. */
                if (p->final) {
                        unexplained(p, j, now);
                        return;
                }
                j->parked_ns = now;
                j->state = JOB_PARKED;
                list_add(&p->parked, j);
                return;
        }
        hash_remove(p, j);
        plan_job_free(j);
}

void plan_retry(struct plan *p, struct job *j, int error, uint64_t when)
{
        assert(j->state == JOB_RUNNING);
        j->attempts++;
        j->last_error = error;
        if (j->kind != JOB_SYNC) {
                /* A barrier retries in place: it stays first in line. */
                list_del(&p->running, j);
                j->state = JOB_BARRIER;
                j->next = p->barriers.head;
                j->prev = NULL;
                if (p->barriers.head)
                        p->barriers.head->prev = j;
                else
                        p->barriers.tail = j;
                p->barriers.head = j;
                p->barriers.count++;
                j->ready_ns = when;
                return;
        }
        /* Records that came meanwhile join the retry. */
        j->flags |= j->again_flags;
        if (j->again_ino) {
                j->ino = j->again_ino;
                j->ino_seq = j->again_ino_seq;
                j->moved_seq = j->again_moved_seq;
        }
        j->again_ino = 0;
        orphans_merge(j->orphan_ino, j->again_orphan_ino);
        memset(j->again_orphan_ino, 0, sizeof(j->again_orphan_ino));
        if (j->again_flags && j->again_first_seq < j->first_seq)
                j->first_seq = j->again_first_seq;
        j->again_flags = 0;
        j->ready_ns = when;
        set_state(p, j, JOB_RETRY);
}

/* The oldest record a job of @l stands for, if older than *m: *m lowered, *which set. */
static void min_seq(const struct job_list *l, uint64_t *m, const struct job **which)
{
        const struct job *j;

        for (j = l->head; j; j = j->next) {
                uint64_t s = j->again_flags && j->again_first_seq < j->first_seq ? j->again_first_seq : j->first_seq;

                if (s < *m) {
                        *m = s;
                        *which = j;
                }
        }
}

/* Every list's oldest: the seq (or @m) and its job (NULL when none is older than @m). */
static uint64_t oldest_seq(const struct plan *p, uint64_t m, const struct job **which)
{
        const struct job_list *lists[] = { &p->queued, &p->held, &p->running, &p->retry, &p->barriers, &p->parked };

        *which = NULL;
        for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++)
                min_seq(lists[i], &m, which);
        return m;
}

uint64_t plan_low_water(const struct plan *p, uint64_t read_seq)
{
        const struct job *j;

        return oldest_seq(p, read_seq + 1, &j);
}

const struct job *plan_oldest(const struct plan *p)
{
        const struct job *j;

        (void)oldest_seq(p, UINT64_MAX, &j);
        return j;
}

const char *plan_state_name(enum job_state s)
{
        switch (s) {
        case JOB_QUEUED: return "queued";
        case JOB_HELD: return "held";
        case JOB_RUNNING: return "running";
        case JOB_RETRY: return "retrying";
        case JOB_BARRIER: return "in line";
        case JOB_PARKED: return "parked";
        }
        return "?";
}

static uint64_t min_time(const struct job_list *l, uint64_t m)
{
        const struct job *j;

        for (j = l->head; j; j = j->next)
                if (j->oldest_ns && j->oldest_ns < m)
                        m = j->oldest_ns;
        return m;
}

uint64_t plan_oldest_ns(const struct plan *p)
{
        uint64_t m = UINT64_MAX;

        m = min_time(&p->queued, m);
        m = min_time(&p->held, m);
        m = min_time(&p->running, m);
        m = min_time(&p->retry, m);
        m = min_time(&p->barriers, m);
        m = min_time(&p->parked, m);
        return m == UINT64_MAX ? 0 : m;
}

void plan_counts(const struct plan *p, uint64_t *queued, uint64_t *running, uint64_t *retrying)
{
        *queued = p->queued.count + p->held.count + p->barriers.count + p->parked.count;
        *running = p->running.count;
        *retrying = p->retry.count;
}

void plan_waiting(const struct plan *p, uint64_t *held, uint64_t *barriers, uint64_t *parked)
{
        *held = p->held.count;
        *barriers = p->barriers.count;
        *parked = p->parked.count;
}

/* Is @name, given as an exchange knows it, called @path once the barriers
 * from @from on have run (the source's naming now, as far as they tell)? */
static bool named_after(const struct job *from, const char *name, const char *path)
{
        char *s = strdup(name);
        bool same;

        for (const struct job *b = from; b && s; b = b->next) {
                char *n;

                if (b->kind == JOB_LINK)
                        continue;
                if (under(s, b->path))
                        n = rebase(s, b->path, b->path2);
                else if (b->kind == JOB_EXCHANGE && under(s, b->path2))
                        n = rebase(s, b->path2, b->path);
                else
                        continue;
                free(s);
                s = n;
        }
        same = s && strcmp(s, path) == 0;
        free(s);
        return same;
}

bool plan_swapping(const struct plan *p, const char *path)
{
        /* The walk sees the source as it is now: the exchange's names as
         * the renames after it leave them (a directory above renamed
         * since: storm seed 11883). */
        for (const struct job *b = p->barriers.head; b; b = b->next)
                if (b->kind == JOB_EXCHANGE &&
                    (named_after(b->next, b->path, path) || named_after(b->next, b->path2, path)))
                        return true;
        return false;
}

bool plan_empty(const struct plan *p)
{
        return !p->queued.count && !p->held.count && !p->running.count && !p->retry.count && !p->barriers.count &&
               !p->parked.count;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

int plan_open_inodes(const struct plan *p, uint64_t **ret, size_t *ret_n)
{
        uint64_t *v = NULL;
        size_t n = 0, cap = 0;

        for (size_t i = 0; i < OPEN_BUCKETS; i++) {
                for (const struct open_count *o = p->opens[i]; o; o = o->next) {
                        if (n == cap) {
                                uint64_t *w = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

                                if (!w) {
                                        free(v);
                                        return -ENOMEM;
                                }
                                v = w;
                        }
                        v[n++] = o->ino;
                }
        }
        if (n)
                qsort(v, n, sizeof(*v), cmp_u64);
        *ret = v;
        *ret_n = n;
        return 0;
}

bool plan_inodes_have(const uint64_t *v, size_t n, uint64_t ino)
{
        return n && bsearch(&ino, v, n, sizeof(*v), cmp_u64);
}

bool plan_caught_up(struct plan *p, uint64_t now, bool final)
{
        struct job *j, *next;
        bool queued = false;

        p->final |= final;
        for (j = p->parked.head; j; j = next) {
                next = j->next;
                if (!p->final && j->parked_ns + PARK_MARGIN_NS > now)
                        continue;
                list_del(&p->parked, j);
                unexplained(p, j, now);
                queued = true;
        }
        return queued;
}

void plan_hurry(struct plan *p)
{
        struct job *j;

        release_held(p, 0, true);
        for (j = p->queued.head; j; j = j->next)
                j->ready_ns = 0;
        for (j = p->retry.head; j; j = j->next)
                j->ready_ns = 0;
}

int plan_new(const struct plan_config *cfg, struct plan **ret)
{
        struct plan *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->cfg = *cfg;
        p->hash_size = 1024;
        p->hash = calloc(p->hash_size, sizeof(*p->hash));
        if (!p->hash) {
                free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

static void free_list(struct job_list *l)
{
        while (l->head) {
                struct job *j = l->head;

                l->head = j->next;
                plan_job_free(j);
        }
        l->tail = NULL;
        l->count = 0;
}

struct plan *plan_free(struct plan *p)
{
        if (!p)
                return NULL;
        free_list(&p->queued);
        free_list(&p->held);
        free_list(&p->running);
        free_list(&p->retry);
        free_list(&p->barriers);
        free_list(&p->parked);
        opens_clear(p);
        free(p->hash);
        free(p);
        return NULL;
}
