/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-journal-segment: a whole journal directory from arbitrary bytes.  The
 * input becomes the one segment of a journal (first bytes 0..7 choose
 * whether it is stored plain or as a zstd archive is not attempted: plain
 * only), then a reader reads it to the end, and a writer opens the journal
 * (recovery: cutting the tail), appends one record and a reader reads again.
 * Nothing may crash, hang or leak; the second read must end with the
 * appended record.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal-internal.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int dirfd_once(void)
{
        static int fd = -1;
        static char path[] = "/tmp/fuzz-journal-XXXXXX";

        if (fd < 0) {
                if (!mkdtemp(path))
                        abort();
                fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        abort();
        }
        return fd;
}

static void clear(int dirfd)
{
        static const char *const names[] = {
                "0000000000000001.seg", "0000000000000001.seg.corrupt", "writer.lock",
        };
        struct journal_segment_info *segs;
        size_t n, i;

        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                (void)unlinkat(dirfd, names[i], 0);
        if (journal_list_segments(dirfd, &segs, &n) == 0) {
                for (i = 0; i < n; i++)
                        (void)unlinkat(dirfd, segs[i].name, 0);
                free(segs);
        }
}

static void ignore(void *userdata, const struct journal_problem *p)
{
        (void)userdata;
        assert(p->segment && p->detail);
}

static uint64_t read_to_end(int dirfd, char *last_path, size_t size)
{
        struct journal_reader *r;
        struct journal_record rec;
        uint64_t n = 0;
        int e;

        if (journal_reader_open(dirfd, 1, ignore, NULL, &r) < 0)
                abort();
        while ((e = journal_reader_next(r, &rec)) > 0) {
                snprintf(last_path, size, "%s", rec.path);
                n++;
        }
        assert(e == 0);
        journal_reader_free(r);
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct journal_record rec = { .type = JOURNAL_UNLINK, .path = "fuzz/appended" };
        char last[256] = "";
        struct journal *j;
        int dirfd = dirfd_once(), fd;

        clear(dirfd);
        fd = openat(dirfd, "0000000000000001.seg", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || pwrite_all(fd, data, size, 0) < 0)
                abort();
        close(fd);
        (void)read_to_end(dirfd, last, sizeof(last));
        if (journal_open(dirfd, NULL, ignore, NULL, &j) == 0) {
                if (journal_append(j, &rec, NULL) < 0)
                        abort();
                journal_close(j);
                (void)read_to_end(dirfd, last, sizeof(last));
                assert(strcmp(last, "fuzz/appended") == 0);
        }
        return 0;
}
