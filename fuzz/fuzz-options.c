/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-options: the mount's command line parser (fs/options.c) on arbitrary
 * argument vectors: the input is split at NUL bytes into arguments.  It
 * must never crash or leak, whatever the options and values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *copy = malloc(size + 1), *argv[64], err[512];
        struct fs_options o;
        struct fuse_args args;
        int argc = 1;
        size_t start = 0;

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = 0;
        argv[0] = (char *)"mirrorfs";
        for (size_t i = 0; i <= size && argc < 63; i++) {
                if (i == size || copy[i] == 0) {
                        argv[argc++] = copy + start;
                        start = i + 1;
                }
        }
        argv[argc] = NULL;
        args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
        (void)fs_options_parse(&args, &o, err, sizeof(err));
        fs_options_free(&o);
        fuse_opt_free_args(&args);
        free(copy);
        return 0;
}
