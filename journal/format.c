/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * format.c: encoding and decoding of the journal's bytes, exactly as
 * docs/journal-format.md lays them out.  Pure functions over buffers: no
 * I/O, no allocation, so the decoder can be fuzzed on its own.  The decoder
 * trusts nothing: every length is checked against what is present before it
 * is used, and the CRC is checked before any field is believed.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <isa-l/crc.h>

#include "journal-internal.h"

uint32_t journal_crc32c(const void *buf, size_t len)
{
        /* ISA-L's crc32_iscsi() leaves out the final inversion; the length
         * is an int there, and every buffer checksummed here is a record
         * (<= 64 KiB) or a header. */
        assert(len <= INT32_MAX);
        return ~crc32_iscsi((unsigned char *)buf, (int)len, 0xFFFFFFFFu);
}

static const char *const type_names[] = {
        [JOURNAL_MOUNT] = "mount",
        [JOURNAL_UNMOUNT] = "unmount",
        [JOURNAL_EVENTS_LOST] = "events-lost",
        [JOURNAL_WRITE_INTENT] = "write-intent",
        [JOURNAL_CLOSE_WRITE] = "close-write",
        [JOURNAL_CREATE] = "create",
        [JOURNAL_MKDIR] = "mkdir",
        [JOURNAL_MKNOD] = "mknod",
        [JOURNAL_SYMLINK] = "symlink",
        [JOURNAL_LINK] = "link",
        [JOURNAL_RENAME] = "rename",
        [JOURNAL_UNLINK] = "unlink",
        [JOURNAL_RMDIR] = "rmdir",
        [JOURNAL_SETATTR] = "setattr",
        [JOURNAL_SETXATTR] = "setxattr",
        [JOURNAL_REMOVEXATTR] = "removexattr",
        [JOURNAL_SYNC] = "sync",
};

const char *journal_type_name(unsigned type)
{
        if (type >= sizeof(type_names) / sizeof(type_names[0]))
                return NULL;
        return type_names[type];
}

void seg_header_encode(const struct seg_header *h, uint8_t out[SEG_HEADER_SIZE])
{
        memset(out, 0, SEG_HEADER_SIZE);
        memcpy(out, SEG_MAGIC, 8);
        put32(out + 8, SEG_BOM);
        put16(out + 12, SEG_VERSION);
        put16(out + 14, SEG_HEADER_SIZE);
        put64(out + 16, h->first_seq);
        put64(out + 24, h->created_ns);
        memcpy(out + 32, h->id, JOURNAL_ID_SIZE);
        put32(out + 60, journal_crc32c(out, 60));
}

int seg_header_decode(const uint8_t *buf, size_t len, struct seg_header *ret)
{
        if (len < SEG_HEADER_SIZE || memcmp(buf, SEG_MAGIC, 8) != 0)
                return -EBADMSG;
        if (get32(buf + 8) != SEG_BOM)
                return -EBADMSG;
        if (get32(buf + 60) != journal_crc32c(buf, 60))
                return -EBADMSG;
        if (get16(buf + 12) > SEG_VERSION)
                return -EPROTONOSUPPORT;
        if (get16(buf + 12) != SEG_VERSION || get16(buf + 14) != SEG_HEADER_SIZE)
                return -EBADMSG;
        if (get64(buf + 16) == 0)
                return -EBADMSG;
        ret->first_seq = get64(buf + 16);
        ret->created_ns = get64(buf + 24);
        memcpy(ret->id, buf + 32, JOURNAL_ID_SIZE);
        return 0;
}

static size_t str_len(const char *s, uint16_t len)
{
        /* A NULL string is empty; a zero length means "use strlen()". */
        if (!s)
                return 0;
        return len ? len : strlen(s);
}

int64_t record_encoded_length(const struct journal_record *rec)
{
        size_t a = str_len(rec->path, rec->path_len);
        size_t b = str_len(rec->path2, rec->path2_len);
        size_t c = str_len(rec->name, rec->name_len);
        uint64_t total;

        if (rec->type == 0)
                return -EINVAL;
        if (a > JOURNAL_STRING_MAX || b > JOURNAL_STRING_MAX || c > JOURNAL_STRING_MAX)
                return -E2BIG;
        /* A string may not hold a NUL: it would be cut on reading. */
        if ((rec->path && memchr(rec->path, 0, a)) || (rec->path2 && memchr(rec->path2, 0, b)) ||
            (rec->name && memchr(rec->name, 0, c)))
                return -EINVAL;
        total = (uint64_t)REC_MIN + a + b + c + 3;
        if (total > JOURNAL_RECORD_MAX)
                return -E2BIG;
        return (int64_t)total;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t len)
{
        if (len)
                memcpy(p, s, len);
        p[len] = 0;
        return p + len + 1;
}

size_t record_encode(const struct journal_record *rec, uint64_t seq, uint64_t time_ns,
                     uint32_t length, uint8_t *out)
{
        size_t a = str_len(rec->path, rec->path_len);
        size_t b = str_len(rec->path2, rec->path2_len);
        size_t c = str_len(rec->name, rec->name_len);
        size_t padded = rec_padded(length);
        uint8_t *pl = out + REC_HEADER_SIZE;
        uint8_t *p;

        put32(out, REC_MAGIC);
        put32(out + 8, length);
        put16(out + 12, rec->type);
        put16(out + 14, rec->flags);
        put64(out + 16, seq);
        put64(out + 24, time_ns);

        put32(pl + 0, rec->aux);
        put32(pl + 4, rec->mode);
        put32(pl + 8, rec->uid);
        put32(pl + 12, rec->gid);
        put64(pl + 16, rec->ino);
        put64(pl + 24, rec->size);
        put64(pl + 32, rec->rdev);
        put64(pl + 40, (uint64_t)rec->atime.tv_sec);
        put64(pl + 48, (uint64_t)rec->mtime.tv_sec);
        put32(pl + 56, (uint32_t)rec->atime.tv_nsec);
        put32(pl + 60, (uint32_t)rec->mtime.tv_nsec);
        put16(pl + 64, (uint16_t)a);
        put16(pl + 66, (uint16_t)b);
        put16(pl + 68, (uint16_t)c);
        put16(pl + 70, 0);
        p = pl + REC_FIXED_SIZE;
        p = put_str(p, rec->path, a);
        p = put_str(p, rec->path2, b);
        p = put_str(p, rec->name, c);
        assert((size_t)(p - out) == length);
        memset(p, 0, padded - length);
        put32(out + 4, journal_crc32c(out + 8, length - 8));
        return padded;
}

/* A string of @len bytes at @p followed by its NUL, with no NUL inside. */
static bool str_ok(const uint8_t *p, size_t len)
{
        return p[len] == 0 && !memchr(p, 0, len);
}

int64_t record_decode(const uint8_t *buf, size_t avail, struct journal_record *ret,
                      size_t *ret_need)
{
        const uint8_t *pl = buf + REC_HEADER_SIZE;
        uint32_t length;
        size_t a, b, c;

        if (avail < 12) {
                /* Not even the length: cannot tell yet, unless what is
                 * there already contradicts the magic. */
                uint8_t magic[4];

                put32(magic, REC_MAGIC);
                if (memcmp(buf, magic, avail < 4 ? avail : 4) != 0)
                        return -EBADMSG;
                if (ret_need)
                        *ret_need = 0;
                return -EAGAIN;
        }
        if (get32(buf) != REC_MAGIC)
                return -EBADMSG;
        length = get32(buf + 8);
        if (length < REC_MIN || length > JOURNAL_RECORD_MAX)
                return -EBADMSG;
        /* The padding too: a record is complete with it (it is written
         * in the same write), and the reader never steps past its data. */
        if (avail < rec_padded(length)) {
                if (ret_need)
                        *ret_need = rec_padded(length);
                return -EAGAIN;
        }
        if (get32(buf + 4) != journal_crc32c(buf + 8, length - 8))
                return -EBADMSG;
        if (get64(buf + 16) == 0 || get16(buf + 12) == 0)
                return -EBADMSG;
        a = get16(pl + 64);
        b = get16(pl + 66);
        c = get16(pl + 68);
        if ((uint64_t)REC_MIN + a + b + c + 3 != length)
                return -EBADMSG;
        if (!str_ok(pl + REC_FIXED_SIZE, a) || !str_ok(pl + REC_FIXED_SIZE + a + 1, b) ||
            !str_ok(pl + REC_FIXED_SIZE + a + b + 2, c))
                return -EBADMSG;

        *ret = (struct journal_record) {
                .seq = get64(buf + 16),
                .time_ns = get64(buf + 24),
                .type = get16(buf + 12),
                .flags = get16(buf + 14),
                .aux = get32(pl + 0),
                .mode = get32(pl + 4),
                .uid = get32(pl + 8),
                .gid = get32(pl + 12),
                .ino = get64(pl + 16),
                .size = get64(pl + 24),
                .rdev = get64(pl + 32),
                .atime = { .tv_sec = (time_t)get64(pl + 40), .tv_nsec = get32(pl + 56) },
                .mtime = { .tv_sec = (time_t)get64(pl + 48), .tv_nsec = get32(pl + 60) },
                .path = (const char *)pl + REC_FIXED_SIZE,
                .path2 = (const char *)pl + REC_FIXED_SIZE + a + 1,
                .name = (const char *)pl + REC_FIXED_SIZE + a + b + 2,
                .path_len = (uint16_t)a,
                .path2_len = (uint16_t)b,
                .name_len = (uint16_t)c,
        };
        return (int64_t)rec_padded(length);
}

void cursor_encode(const uint8_t id[JOURNAL_ID_SIZE], uint64_t seq, uint8_t out[CUR_SIZE])
{
        memset(out, 0, CUR_SIZE);
        memcpy(out, CUR_MAGIC, 8);
        put32(out + 8, 1);
        memcpy(out + 16, id, JOURNAL_ID_SIZE);
        put64(out + 32, seq);
        put32(out + 44, journal_crc32c(out, 44));
}

int cursor_decode(const uint8_t *buf, size_t len, uint8_t ret_id[JOURNAL_ID_SIZE], uint64_t *ret_seq)
{
        if (len != CUR_SIZE || memcmp(buf, CUR_MAGIC, 8) != 0 || get32(buf + 8) != 1)
                return -EBADMSG;
        if (get32(buf + 44) != journal_crc32c(buf, 44))
                return -EBADMSG;
        memcpy(ret_id, buf + 16, JOURNAL_ID_SIZE);
        *ret_seq = get64(buf + 32);
        return 0;
}

void seg_name(uint64_t first_seq, bool archived, char out[SEG_NAME_MAX])
{
        snprintf(out, SEG_NAME_MAX, "%016" PRIx64 ".seg%s", first_seq, archived ? ".zst" : "");
}

int seg_name_parse(const char *name, uint64_t *ret_first_seq, bool *ret_archived)
{
        uint64_t v = 0;
        int i;

        for (i = 0; i < 16; i++) {
                char ch = name[i];

                if (ch >= '0' && ch <= '9')
                        v = v << 4 | (uint64_t)(ch - '0');
                else if (ch >= 'a' && ch <= 'f')
                        v = v << 4 | (uint64_t)(ch - 'a' + 10);
                else
                        return -EINVAL;
        }
        if (v == 0)
                return -EINVAL;
        if (strcmp(name + 16, ".seg") == 0)
                *ret_archived = false;
        else if (strcmp(name + 16, ".seg.zst") == 0)
                *ret_archived = true;
        else
                return -EINVAL;
        *ret_first_seq = v;
        return 0;
}
