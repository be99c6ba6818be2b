/*
 * util.c: the clock, sleeping, wiping secrets, strings and the jitter generator.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#if defined(__SSE2__) && !defined(PD_NO_SIMD) && (defined(__GNUC__) || defined(__clang__))
#define PD_SSE2 1
#include <emmintrin.h>
#endif

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

/* ---- UUIDs: checked and lowered on every call that names a resource ---------------------- */

int podero_simd(void) {
#ifdef PD_SSE2
    return 1;
#else
    return 0;
#endif
}

#ifdef PD_SSE2
/* The bytes of v that are hex digits (a mask), and v with its letters lowered. */
static inline unsigned hex16(__m128i v, __m128i *lowered) {
    __m128i lo = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i dig = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i af = _mm_and_si128(_mm_cmpgt_epi8(lo, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(lo, _mm_set1_epi8('f' + 1)));
    *lowered = _mm_or_si128(v, _mm_and_si128(af, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(dig, af));
}
#else
/* hex digit -> itself in lower case; anything else -> 0 */
static char hex_lower(unsigned char c) {
    if (c >= '0' && c <= '9') return (char)c;
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? (char)c : 0;
}
#endif

int podero_uuid_lower(const char *s, size_t len, char out[37]) {
    if (len != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return -1;
#ifdef PD_SSE2
    {
        /* three loads cover the 36 bytes: 0..15, 16..31 and 20..35 */
        __m128i a, b, c;
        unsigned ma = hex16(_mm_loadu_si128((const __m128i *)(const void *)s), &a);
        unsigned mb = hex16(_mm_loadu_si128((const __m128i *)(const void *)(s + 16)), &b);
        unsigned mc = hex16(_mm_loadu_si128((const __m128i *)(const void *)(s + 20)), &c);
        if ((ma | 1u << 8 | 1u << 13) != 0xFFFF || (mb | 1u << 2 | 1u << 7) != 0xFFFF || (mc & 0xF000) != 0xF000)
            return -1;
        _mm_storeu_si128((__m128i *)(void *)out, a);
        _mm_storeu_si128((__m128i *)(void *)(out + 16), b);
        _mm_storeu_si128((__m128i *)(void *)(out + 20), c);
    }
#else
    {
        size_t i;
        for (i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                continue;
            if (!(out[i] = hex_lower((unsigned char)s[i])))
                return -1;
        }
    }
#endif
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = 0;
    return 0;
}
