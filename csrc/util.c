/*
 * util.c: the clock, sleeping, wiping secrets, strings and the jitter generator.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

double podero_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void podero_sleep(double s) {
    struct timespec ts, rem;
    if (!(s > 0))
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
        ts = rem;
}

void podero_wipe(void *p, size_t n) {
    explicit_bzero(p, n);   /* glibc: a memset the compiler may not drop as a dead store */
}

void podero_strfree(char **s) {
    if (*s) {
        podero_wipe(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

char *podero_strdup(const char *s) {
    size_t n;
    char *d;
    if (!s)
        return NULL;
    n = strlen(s);
    d = (char *)malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* xorshift64*: jitter and request ids only */
uint64_t podero_rand64(uint64_t *state) {
    uint64_t x = *state ? *state : 88172645463325252ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

double podero_rand_unit(uint64_t *state) {
    return (double)(podero_rand64(state) >> 11) / 9007199254740992.0;
}
