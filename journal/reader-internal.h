/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reader-internal.h: what the writer needs from the reader to recover.
 */
#pragma once

#include "journal-internal.h"

struct reader_tail {
        bool have_id;                   /* the segment header was valid */
        uint8_t id[JOURNAL_ID_SIZE];
        uint64_t last_seq;              /* of the last valid record, 0 when none */
        uint64_t last_time_ns;          /* its time */
        uint64_t end;                   /* offset after the last valid record (>= 64) */
        uint64_t file_bytes;            /* bytes in the (uncompressed) segment */
};

/*
 * Read segment @seg to its end as if no writer were running: corruption in
 * the middle and a torn tail are reported to @on_problem.
 */
int reader_scan_tail(int dirfd, const struct journal_segment_info *seg,
                     journal_problem_fn on_problem, void *userdata, struct reader_tail *ret);
