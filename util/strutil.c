/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strutil.c: parsing and printing helpers for the programs.  See strutil.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strutil.h"

int parse_u64(const char *s, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        /* strtoull() accepts leading blanks and a minus sign: refuse both. */
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -errno;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_u64_range(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
        uint64_t v;
        int r = parse_u64(s, &v);

        if (r < 0)
                return r;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_duration_s(const char *s, uint64_t *ret)
{
        static const struct { char suffix; uint64_t mult; } units[] = {
                { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
        };
        char num[32];
        size_t n = s ? strlen(s) : 0, i;
        uint64_t mult = 1, v;
        int r;

        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        memcpy(num, s, n + 1);
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (num[n - 1] == units[i].suffix) {
                        mult = units[i].mult;
                        num[--n] = 0;
                        break;
                }
        }
        r = parse_u64(num, &v);
        if (r < 0)
                return r;
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        static const char units[] = "KMGT";
        char num[32];
        size_t n = s ? strlen(s) : 0;
        unsigned shift = 0;
        const char *u;
        uint64_t v;
        int r;

        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        memcpy(num, s, n + 1);
        u = strchr(units, num[n - 1]);
        if (u && *u) {
                shift = 10 * (unsigned)(u - units + 1);
                num[--n] = 0;
        }
        r = parse_u64(num, &v);
        if (r < 0)
                return r;
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

size_t utf8_char_len(const unsigned char *s, size_t avail)
{
        unsigned char c = s[0];
        size_t n, i;
        uint32_t cp;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF) {
                n = 2;
                cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
                n = 3;
                cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                n = 4;
                cp = c & 0x07;
        } else {
                return 0;
        }
        if (avail < n)
                return 0;
        for (i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3F);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        return n;
}

static bool plain(const char *s, size_t len)
{
        size_t i;

        if (len == 0)
                return false;
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c <= ' ' || c == '"' || c == '\\' || c == 0x7F || c >= 0x80)
                        return false;
        }
        return true;
}

void print_quoted(FILE *f, const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;

        if (plain(s, len)) {
                fwrite(s, 1, len, f);
                return;
        }
        fputc('"', f);
        while (i < len) {
                unsigned char c = p[i];
                size_t n;

                switch (c) {
                case '\n': fputs("\\n", f); i++; continue;
                case '\t': fputs("\\t", f); i++; continue;
                case '\r': fputs("\\r", f); i++; continue;
                case '"': fputs("\\\"", f); i++; continue;
                case '\\': fputs("\\\\", f); i++; continue;
                default: break;
                }
                if (c >= 0x80 && (n = utf8_char_len(p + i, len - i)) > 1) {
                        fwrite(p + i, 1, n, f);
                        i += n;
                        continue;
                }
                if (c < ' ' || c >= 0x7F)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
                i++;
        }
        fputc('"', f);
}

void print_json_string(FILE *f, const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i, n;

        for (i = 0; i < len; i += n) {
                n = utf8_char_len(p + i, len - i);
                if (n == 0)
                        break;
        }
        if (i < len) {
                fputc('[', f);
                for (i = 0; i < len; i++)
                        fprintf(f, "%s%u", i ? "," : "", p[i]);
                fputc(']', f);
                return;
        }
        fputc('"', f);
        for (i = 0; i < len; i++) {
                unsigned char c = p[i];

                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c < 0x20 || c == 0x7F)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

void format_time_ns(uint64_t ns, char *buf, size_t size)
{
        time_t sec = (time_t)(ns / 1000000000u);
        struct tm tm;
        char day[32];

        if (!gmtime_r(&sec, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
                snprintf(buf, size, "@%llu", (unsigned long long)ns);
                return;
        }
        snprintf(buf, size, "%s.%09lluZ", day, (unsigned long long)(ns % 1000000000u));
}
