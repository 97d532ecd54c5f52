/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-control-request: the control socket's request parser on arbitrary
 * bytes.  It must never read outside the input, and what it accepts must be
 * a known verb with arguments in range.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ctl_request req;
        /* exactly the input, no terminator: overreads are caught */
        char *buf = malloc(size ? size : 1);
        int r;

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        r = ctl_parse_request(buf, size, &req);
        if (r == 0) {
                assert(req.verb <= CTL_RETRY);
                assert(size > 0 && size < CTL_REQUEST_MAX);
                if (req.verb == CTL_WORKERS)
                        assert(req.num >= 1 && req.num <= 64);
                for (size_t i = 0; i < size; i++)
                        assert(data[i] >= 0x20 && data[i] < 0x7f);
        }
        free(buf);
        return 0;
}
