/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-journal-record: the record decoder on arbitrary bytes.  Walks the
 * input the way a reader walks a segment (decode, step by the padded
 * length, resync 8 bytes on at garbage) and checks what the decoder
 * promises: a record it accepts lies inside the input, its strings are
 * NUL-terminated where it says, and re-encoding it gives the same bytes.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t again[JOURNAL_RECORD_MAX + 8];
        size_t off = 0;

        while (off < size) {
                struct journal_record rec;
                int64_t d = record_decode(data + off, size - off, &rec, NULL);

                if (d == -EAGAIN)
                        break;
                if (d < 0) {
                        off += 8;
                        continue;
                }
                assert(d > 0 && (size_t)d <= size - off && d % 8 == 0);
                assert(strlen(rec.path) == rec.path_len);
                assert(strlen(rec.path2) == rec.path2_len);
                assert(strlen(rec.name) == rec.name_len);
                {
                        int64_t len = record_encoded_length(&rec);
                        size_t padded;

                        assert(len > 0);
                        padded = record_encode(&rec, rec.seq, rec.time_ns, (uint32_t)len, again);
                        assert(padded == (size_t)d);
                        /* identical but for the padding and the reserved
                         * field, which readers ignore (and so the CRC) */
                        assert(memcmp(again, data + off, 4) == 0);
                        assert(memcmp(again + 8, data + off + 8, REC_HEADER_SIZE + 70 - 8) == 0);
                        assert(memcmp(again + REC_MIN, data + off + REC_MIN, (size_t)len - REC_MIN) == 0);
                }
                off += (size_t)d;
        }
        return 0;
}
