/*
 * uuid_test.c: podero_uuid_lower (csrc/util.c) against a plain reference, for the SSE2 build and
 * the scalar one (-DPD_NO_SIMD); `make ctest` builds and runs both. Every byte value at every
 * position of a valid UUID, every length from 0 to 40, and random mixed-case UUIDs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int failures = 0, checks = 0;

/* the reference: 0 and out in lower case, or -1 */
static int ref_uuid(const char *s, size_t len, char out[37]) {
    size_t i;
    if (len != 36) return -1;
    for (i = 0; i < 36; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return -1;
            out[i] = '-';
        } else if (c >= '0' && c <= '9') {
            out[i] = (char)c;
        } else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
            out[i] = (char)(c | 0x20);
        } else {
            return -1;
        }
    }
    out[36] = 0;
    return 0;
}

static void check(const char *s, size_t len) {
    char got[64], want[37];
    /* the input sits in a bigger buffer, as a Lua string does, so that the loads stay inside */
    int rg = podero_uuid_lower(s, len, got), rw = ref_uuid(s, len, want);
    checks++;
    if (rg != rw || (rg == 0 && memcmp(got, want, 37) != 0)) {
        failures++;
        if (failures < 10) fprintf(stderr, "FAIL len %zu: got %d, want %d\n", len, rg, rw);
    }
}

int main(void) {
    static const char hex[] = "0123456789abcdefABCDEF";
    char buf[64];
    const char *valid = "9B2f0c1e-4d5a-4E6F-8a7b-5C4d3e2F1a0b";
    unsigned seed = 12345;
    size_t len, pos;
    int c, k;
    memset(buf, 0, sizeof buf);
    for (pos = 0; pos < 36; pos++)
        for (c = 0; c < 256; c++) {
            memcpy(buf, valid, 36);
            buf[pos] = (char)c;
            check(buf, 36);
        }
    for (len = 0; len <= 40; len++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, valid, len < 36 ? len : 36);
        if (len > 36) memset(buf + 36, 'a', len - 36);
        check(buf, len);
    }
    for (k = 0; k < 100000; k++) {
        for (pos = 0; pos < 36; pos++) {
            seed = seed * 1103515245u + 12345u;
            buf[pos] = hex[(seed >> 16) % (sizeof hex - 1)];
        }
        buf[8] = buf[13] = buf[18] = buf[23] = '-';
        check(buf, 36);
    }
    printf("uuid_test (%s): %d checks, %d failures\n", podero_simd() ? "SSE2" : "scalar", checks, failures);
    return failures != 0;
}
