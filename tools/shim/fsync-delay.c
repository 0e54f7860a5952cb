/*
 * fsync-delay: an LD_PRELOAD shim that makes a disk slow to sync. Every fsync() and
 * fdatasync() of the process sleeps FSYNC_DELAY_MS milliseconds (default 10) before doing
 * the real call. It serves zkbench's slow-disk dimension for both servers: zkserver's
 * File::sync_data/sync_all and Java's FileChannel.force() both end in these libc calls.
 * The first call of each kind writes one line to stderr (the server's log), so a run can
 * show that the delay was hit.
 *
 *   gcc -shared -fPIC -O2 -o fsync-delay.so fsync-delay.c -ldl
 *   FSYNC_DELAY_MS=10 LD_PRELOAD=./fsync-delay.so zkserver zoo.cfg
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long delay_ms(void)
{
    const char *s = getenv("FSYNC_DELAY_MS");
    return s ? atol(s) : 10;
}

static void slow_down(const char *what, atomic_int *seen)
{
    long ms = delay_ms();
    if (atomic_exchange(seen, 1) == 0) {
        char line[96];
        int n = snprintf(line, sizeof line, "fsync-delay: first %s, sleeping %ld ms per call\n", what, ms);
        if (n > 0)
            (void)!write(2, line, (size_t)n);
    }
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) != 0)
        ;
}

int fsync(int fd)
{
    static atomic_int seen;
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow_down("fsync", &seen);
    return real(fd);
}

int fdatasync(int fd)
{
    static atomic_int seen;
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow_down("fdatasync", &seen);
    return real(fd);
}
