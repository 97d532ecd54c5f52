/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-internal.h: the byte layout of docs/journal-format.md and the
 * helpers the journal's files share.  Not for use outside journal/ (the
 * fuzz harness and the unit tests excepted).
 */
#pragma once

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "journal.h"

#define SEG_MAGIC "\x89MFJNL\r\n"
#define SEG_BOM 0x01020304u
#define SEG_VERSION 1
#define SEG_HEADER_SIZE 64
#define REC_MAGIC 0x0152464Du
#define REC_HEADER_SIZE 32
#define REC_FIXED_SIZE 72               /* attribute block of the payload */
#define REC_MIN (REC_HEADER_SIZE + REC_FIXED_SIZE)
#define REC_ALIGN 8
#define CUR_MAGIC "\x89MFCUR\r\n"
#define CUR_SIZE 48
#define JOURNAL_ID_SIZE 16

_Static_assert(REC_MIN == 104, "see docs/journal-format.md");
_Static_assert(JOURNAL_RECORD_MAX == 65536, "see docs/journal-format.md");

static inline uint64_t rec_padded(uint32_t length)
{
        return ((uint64_t)length + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1);
}

/* Little-endian loads and stores at any alignment. */
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }
static inline void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

/* CRC-32C (Castagnoli), init and final XOR 0xFFFFFFFF. */
uint32_t journal_crc32c(const void *buf, size_t len);

struct seg_header {
        uint64_t first_seq;
        uint64_t created_ns;
        uint8_t id[JOURNAL_ID_SIZE];
};

void seg_header_encode(const struct seg_header *h, uint8_t out[SEG_HEADER_SIZE]);
/* 0, -EBADMSG (not a segment header), -EPROTONOSUPPORT (newer version). */
int seg_header_decode(const uint8_t *buf, size_t len, struct seg_header *ret);

/*
 * Encoded length of @rec without padding, or -EINVAL/-E2BIG.  Validates the
 * type and string lengths.
 */
int64_t record_encoded_length(const struct journal_record *rec);

/*
 * Encode @rec with @seq and @time_ns into @out, which has room for
 * rec_padded(length) bytes; padding is zeroed.  Returns the padded size.
 */
size_t record_encode(const struct journal_record *rec, uint64_t seq, uint64_t time_ns,
                     uint32_t length, uint8_t *out);

/*
 * Decode the record at @buf, of which @avail bytes are present.
 * Returns the record's padded size (> 0) with *ret filled (strings point into
 * @buf), -EAGAIN when @avail is too short to tell (a complete record needs
 * more bytes), or -EBADMSG when the bytes are not a valid record.  With
 * -EAGAIN, *ret_need (may be NULL) gets the bytes needed, when known.
 */
int64_t record_decode(const uint8_t *buf, size_t avail, struct journal_record *ret,
                      size_t *ret_need);

/* Cursor file bytes. */
void cursor_encode(const uint8_t id[JOURNAL_ID_SIZE], uint64_t seq, uint8_t out[CUR_SIZE]);
int cursor_decode(const uint8_t *buf, size_t len, uint8_t ret_id[JOURNAL_ID_SIZE], uint64_t *ret_seq);

/* Segment file names: "%016llx.seg" and "%016llx.seg.zst". */
#define SEG_NAME_MAX 32
void seg_name(uint64_t first_seq, bool archived, char out[SEG_NAME_MAX]);
/* 0 and fields for a segment name, -EINVAL for any other name. */
int seg_name_parse(const char *name, uint64_t *ret_first_seq, bool *ret_archived);

/*
 * The journal id of the directory: read from the newest readable segment
 * header.  -ENOENT when there is no segment.
 */
int journal_dir_id(int dirfd, uint8_t ret[JOURNAL_ID_SIZE]);

/* Write all of @len bytes at @off, retrying short writes and EINTR. */
int pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Read up to @len bytes at @off, retrying EINTR and short reads until EOF. */
int64_t pread_full(int fd, void *buf, size_t len, uint64_t off);
/* fsync the directory @dirfd. */
int fsync_dir(int dirfd);

/*
 * A segment opened for sequential reading: plain files are read with
 * pread(), archives are decompressed as a stream.  Reads are forward only.
 */
struct seg_file;
int seg_file_open(int dirfd, const char *name, bool archived, struct seg_file **ret);
/* Read up to @len bytes at the current position.  0 at the end. */
int64_t seg_file_read(struct seg_file *f, void *buf, size_t len);
/* For plain files: re-read from @off (the file may have grown).  -ESPIPE for archives. */
int seg_file_seek(struct seg_file *f, uint64_t off);
struct seg_file *seg_file_close(struct seg_file *f);

uint64_t journal_now_ns(void);

/* The writer's directory descriptor (inflight.c). */
int journal_dirfd(struct journal *j);

/*
 * The writer's syscalls, replaceable for fault injection (ENOSPC, EIO, short
 * writes, a crash at byte N).  Both return 0 or -errno.  Tests only.
 */
struct journal_io {
        int (*pwrite)(int fd, const void *buf, size_t len, uint64_t off);
        int (*fdatasync)(int fd);
};
void journal_set_io(struct journal *j, const struct journal_io *io);
