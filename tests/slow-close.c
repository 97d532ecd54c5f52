/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * slow-close.c: an LD_PRELOAD shim for tests: close() of a descriptor of a
 * removed regular file (no names left) first sleeps MFS_SLOW_CLOSE_MS
 * milliseconds, as the close that frees a large file on a busy disk can.
 * Other descriptors close at once.  tests/test-faults.sh preloads it into
 * the daemon.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int close(int fd)
{
        static int (*real_close)(int);
        const char *ms = getenv("MFS_SLOW_CLOSE_MS");
        struct stat st;

        if (!real_close)
                real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
        if (ms && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0) {
                long n = atol(ms);
                struct timespec ts = { .tv_sec = n / 1000, .tv_nsec = (n % 1000) * 1000000 };

                nanosleep(&ts, NULL);
        }
        return real_close(fd);
}
