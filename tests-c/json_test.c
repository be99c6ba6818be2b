/*
 * json_test.c: standalone tests and microbenchmark for csrc/json.c (not part of the product
 * build). Every document is also checked differentially (tests-c/pj_check.h) against the
 * reference parser tests-c/json_ref.c (the tape parser json.c was before a94e543, renamed
 * rj_; test-only). From the repository root:
 *
 * Build (sanitizers; --wrap enables the allocation-failure injection test, which is skipped
 * without -DPJ_TEST_WRAP; add -DPJ_NO_SIMD for the portable scalar scanners, as `make ctest`
 * does for its second build):
 *   cc -std=c11 -g -O1 -Wall -Wextra -fsanitize=address,undefined -fno-omit-frame-pointer \
 *      -fno-sanitize-recover=all -DPJ_TEST_WRAP -Wl,--wrap=malloc,--wrap=realloc \
 *      -Icsrc -Itests-c tests-c/json_test.c csrc/json.c tests-c/json_ref.c -lm -o /tmp/json_test
 * Run:
 *   /tmp/json_test /work/shared/data/JSONTestSuite/test_parsing tests-c/heat_pump.json
 *   (prints the i_ outcomes; exit status 0 only if everything passed)
 * Valgrind: build the same line without -fsanitize=..., then
 *   valgrind --leak-check=full --error-exitcode=1 /tmp/json_test <same args>
 * Benchmark (optimised build, no sanitizers, no wrap): pj_parse plus 3 reads per body, and
 * the reference parser's rj_parse of the same body for comparison:
 *   cc -std=c11 -O2 -Icsrc -Itests-c tests-c/json_test.c csrc/json.c tests-c/json_ref.c -lm -o /tmp/json_bench
 *   /tmp/json_bench --bench tests-c/heat_pump.json 200000
 * (add -DPJ_BENCH_CJSON ... -lcjson, with Debian's libcjson-dev, to time cJSON_ParseWithLength
 *  on the same body for comparison)
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "pj_check.h"
#ifdef PJ_BENCH_CJSON
#include <cjson/cJSON.h>
#endif

static int failures = 0, checks = 0;

#define CHECK(cond) do { checks++; if (!(cond)) { failures++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { checks++; if (!(cond)) { failures++; \
    fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* ------------------------------------------------------------------ allocation failures */
#ifdef PJ_TEST_WRAP
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
static long alloc_countdown = -1;   /* -1: never fail; else fail when it reaches 0 */
static long alloc_calls = 0;
static int alloc_fail_now(void) {
    alloc_calls++;
    if (alloc_countdown < 0) return 0;
    return alloc_countdown-- == 0;
}
void *__wrap_malloc(size_t n) { return alloc_fail_now() ? NULL : __real_malloc(n); }
void *__wrap_realloc(void *p, size_t n) { return alloc_fail_now() ? NULL : __real_realloc(p, n); }
#endif

/* ------------------------------------------------------------------ helpers */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    if (!f) return NULL;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap ? cap * 2 : 4096);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
            cap = cap ? cap * 2 : 4096;
        }
        r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* pj_parse of a C string; a success is checked against the reference right away */
static int parse_s(pj_doc *d, const char *s, char *err, size_t errlen) {
    int rc = pj_parse(d, s, strlen(s), err, errlen);
    if (rc == 0) pj_check_doc(d);
    return rc;
}

static int doc_is_zero(const pj_doc *d) { return pjc_doc_zero(d); }

/*
 * The values of a document in document order, keys included: a container, then for each
 * member its key and its value's subtree (for an array, each element's subtree). This is
 * the numbering of the old tape's nodes, so "node k" of the old tests is vals[k].
 */
typedef struct { pj_val *v; uint32_t n, cap; } vlist;

static void vl_push(vlist *l, pj_val v) {
    if (l->n == l->cap) {
        uint32_t nc = l->cap ? l->cap * 2 : 64;
        pj_val *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) { fprintf(stderr, "out of memory\n"); exit(2); }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = v;
}

static void vl_walk(const pj_doc *d, pj_val v, vlist *l, int depth) {   /* depth <= 512 */
    char c = d->text[v];
    int obj = (c == '{');
    vl_push(l, v);
    if (c != '[' && c != '{') return;
    for (pj_val w = pj_first(d, v); w != PJ_NONE; w = pj_next(d, w, obj)) {
        if (obj) {
            vl_push(l, w);
            vl_walk(d, pj_member_value(d, w), l, depth + 1);
        } else {
            vl_walk(d, w, l, depth + 1);
        }
    }
}

static vlist doc_values(const pj_doc *d) {
    vlist l = { NULL, 0, 0 };
    vl_walk(d, d->root, &l, 0);
    return l;
}

static int64_t ival(const pj_doc *d, pj_val v) {
    int64_t i = 0;
    double x;
    return pj_num(d, v, &i, &x) == PJ_INT ? i : INT64_MIN + 1;
}

static double dval(const pj_doc *d, pj_val v) {
    int64_t i;
    double x = NAN;
    return pj_num(d, v, &i, &x) == PJ_DBL ? x : NAN;
}

/* 1 if the string at v decodes to want[0..wl) */
static int str_is(const pj_doc *d, pj_val v, const char *want, size_t wl) {
    size_t l;
    char *heap;
    const char *s = pj_type(d, v) == PJ_STR ? pj_str(d, v, &l, &heap) : NULL;
    int eq = s && l == wl && (wl == 0 || memcmp(s, want, wl) == 0);
    if (s) free(heap);
    return eq;
}

/* pj_str_raw's escape flag (the old PJ_F_ESCAPED) */
static int str_esc(const pj_doc *d, pj_val v) {
    const char *raw;
    size_t rl;
    return pj_str_raw(d, v, &raw, &rl);
}

/* the old PJ_F_NUMLIT: the decoded string is exactly a number literal */
static int str_numlit(const pj_doc *d, pj_val v) {
    size_t l;
    char *heap;
    const char *s = pj_str(d, v, &l, &heap);
    int yes = s && pj_is_number_literal(s, l);
    free(heap);
    return yes;
}

/* FNV-1a over a canonical dump of the document (used to check i_ determinism) */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    while (n--) { h ^= *s++; h *= 1099511628211ULL; }
    return h;
}
static uint64_t doc_hash(const pj_doc *d) {
    uint64_t h = 1469598103934665603ULL;
    vlist l = doc_values(d);
    for (uint32_t k = 0; k < l.n; k++) {
        pj_val v = l.v[k];
        unsigned char t = (unsigned char)pj_type(d, v);
        uint32_t c = pj_count(d, v);
        h = fnv(h, &t, 1);
        h = fnv(h, &c, 4);
        h = fnv(h, &v, 4);
        if (t == PJ_STR) {
            size_t sl; char *heap; const char *s = pj_str(d, v, &sl, &heap);
            unsigned char e = (unsigned char)str_esc(d, v);
            h = fnv(h, &e, 1);
            if (s) h = fnv(h, s, sl);
            free(heap);
        } else if (t == PJ_INT) { int64_t i = ival(d, v); h = fnv(h, &i, 8); }
        else if (t == PJ_DBL) { double x = dval(d, v); h = fnv(h, &x, 8); }
    }
    free(l.v);
    return h;
}

/* ------------------------------------------------------------------ JSONTestSuite */
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_suite(const char *dir) {
    DIR *dp = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    int y_ok = 0, y_bad = 0, n_ok = 0, n_bad = 0, i_acc = 0, i_rej = 0, i_nondet = 0, diffed = 0;
    if (!dp) { fprintf(stderr, "cannot open %s\n", dir); failures++; return; }
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        if (nnames == cap) {
            char **nn;
            cap = cap ? cap * 2 : 512;
            nn = realloc(names, cap * sizeof *names);
            if (!nn) { fprintf(stderr, "out of memory\n"); failures++; break; }
            names = nn;
        }
        names[nnames++] = strdup(de->d_name);
    }
    closedir(dp);
    qsort(names, nnames, sizeof *names, cmp_str);
    printf("--- i_ files (implementation-defined) ---\n");
    for (size_t k = 0; k < nnames; k++) {
        char path[4096], err[256], err2[256];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        char *buf = read_file(path, &len);
        if (!buf) { fprintf(stderr, "cannot read %s\n", path); failures++; continue; }
        /* differential: same outcome and message as the reference, same values */
        int crc = pj_check_input(buf, len);
        diffed++;
        pj_doc d;
        int rc = pj_parse(&d, buf, len, err, sizeof err);
        CHECKF(rc == crc, "%s rc=%d vs %d", names[k], rc, crc);
        CHECKF(rc == 0 || rc == -1, "%s rc=%d", names[k], rc);
        if (rc != 0) CHECKF(doc_is_zero(&d) && err[0], "%s", names[k]);
        switch (names[k][0]) {
        case 'y':
            if (rc == 0) y_ok++; else { y_bad++; fprintf(stderr, "FAIL y: %s: %s\n", names[k], err); }
            break;
        case 'n':
            if (rc != 0) n_ok++; else { n_bad++; fprintf(stderr, "FAIL n accepted: %s\n", names[k]); }
            break;
        case 'i': {
            /* determinism: parse again and compare outcome and content */
            pj_doc d2;
            int rc2 = pj_parse(&d2, buf, len, err2, sizeof err2);
            int same = rc2 == rc && (rc ? strcmp(err, err2) == 0 : doc_hash(&d) == doc_hash(&d2));
            if (!same) i_nondet++;
            pj_free(&d2);
            if (rc == 0) {
                i_acc++;
                printf("%-45s accepted", names[k]);
                if (pj_type(&d, d.root) == PJ_ARR && d.n_root >= 1) {
                    pj_val e = pj_arr_get(&d, d.root, 0);
                    int t = pj_type(&d, e);
                    if (t == PJ_INT) printf(" (int %lld)", (long long)ival(&d, e));
                    else if (t == PJ_DBL) printf(" (double %.17g)", dval(&d, e));
                    else if (t == PJ_STR) {
                        size_t l; char *heap;
                        const unsigned char *s = (const unsigned char *)pj_str(&d, e, &l, &heap);
                        printf(" (string %zu bytes:", l);
                        for (size_t j = 0; s && j < l && j < 12; j++) printf(" %02X", s[j]);
                        printf(")");
                        free(heap);
                    }
                }
                printf("\n");
            } else {
                i_rej++;
                printf("%-45s rejected: %s\n", names[k], err);
            }
            break;
        }
        default:
            break;
        }
        pj_free(&d);
        free(buf);
        free(names[k]);
    }
    free(names);
    printf("--- JSONTestSuite: y_ %d/%d parsed; n_ %d/%d rejected; i_ %d accepted, %d rejected, "
           "%d nondeterministic; %d files checked against the reference ---\n",
           y_ok, y_ok + y_bad, n_ok, n_ok + n_bad, i_acc, i_rej, i_nondet, diffed);
    CHECK(y_bad == 0);
    CHECK(n_bad == 0);
    CHECK(i_nondet == 0);
    CHECK(y_ok > 90 && n_ok > 150);
}

/* ------------------------------------------------------------------ unit tests */
static void test_numbers(void) {
    static const struct { const char *in; int type; long long i; } ints[] = {
        {"0", PJ_INT, 0}, {"-0", PJ_INT, 0}, {"123", PJ_INT, 123}, {"-123", PJ_INT, -123},
        {"9223372036854775807", PJ_INT, INT64_MAX}, {"-9223372036854775807", PJ_INT, -INT64_MAX},
        {"-9223372036854775808", PJ_INT, INT64_MIN}, {"999999999999999999", PJ_INT, 999999999999999999LL},
        {"1000000000000000000", PJ_INT, 1000000000000000000LL},
        {" 42 ", PJ_INT, 42},
    };
    for (size_t k = 0; k < sizeof ints / sizeof *ints; k++) {
        pj_doc d; char err[128];
        int rc = parse_s(&d, ints[k].in, err, sizeof err);
        CHECKF(rc == 0, "%s: %s", ints[k].in, err);
        if (rc) continue;
        int64_t i = 0;
        CHECKF(pj_type(&d, d.root) == PJ_INT && pj_num(&d, d.root, &i, NULL) == PJ_INT && i == ints[k].i,
               "%s", ints[k].in);
        CHECK(d.n_root == 0 && d.root_idx == NULL);
        pj_free(&d);
    }
    static const char *dbls[] = {
        "1.0", "1e2", "1E2", "1e+2", "1e-2", "-0.0", "0.1", "21.50", "9223372036854775808",
        "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890",
        "1e400", "-1e400", "1e-400", "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308",
        "0.30000000000000004", "3.141592653589793238462643383279", "9007199254740993e0",
        "9007199254740993.0", "1.00000000000000011102230246251565404236316680908203125",
        "123.456e-7", "0e0", "-0e-0", "0.000000000000000000001", "1e22", "1e23", "8.589973e9",
        "12345678901234567890e-5", "100000000000000000000000e-22",
    };
    for (size_t k = 0; k < sizeof dbls / sizeof *dbls; k++) {
        pj_doc d; char err[128];
        int rc = parse_s(&d, dbls[k], err, sizeof err);
        CHECKF(rc == 0, "%s: %s", dbls[k], err);
        if (rc) continue;
        double want = strtod(dbls[k], NULL), got = dval(&d, d.root);
        CHECKF(pj_type(&d, d.root) == PJ_DBL, "%s type %d", dbls[k], pj_type(&d, d.root));
        CHECKF(memcmp(&got, &want, 8) == 0, "%s: got %.17g want %.17g", dbls[k], got, want);
        pj_free(&d);
    }
    /* specific expectations */
    {
        pj_doc d; char err[128];
        CHECK(parse_s(&d, "[1e400,-1e400,0.1,-0.0,9223372036854775808]", err, sizeof err) == 0);
        double x1 = dval(&d, pj_arr_get(&d, d.root, 0)), x2 = dval(&d, pj_arr_get(&d, d.root, 1));
        double x3 = dval(&d, pj_arr_get(&d, d.root, 2)), x4 = dval(&d, pj_arr_get(&d, d.root, 3));
        double x5 = dval(&d, pj_arr_get(&d, d.root, 4));
        CHECK(isinf(x1) && x1 > 0);
        CHECK(isinf(x2) && x2 < 0);
        CHECK(x3 == 0.1);
        CHECK(x4 == 0.0 && signbit(x4));
        CHECK(pj_type(&d, pj_arr_get(&d, d.root, 4)) == PJ_DBL && x5 == 9223372036854775808.0);
        CHECK(pj_num(&d, d.root, NULL, NULL) == -1);               /* not a number */
        CHECK(pj_num(&d, pj_arr_get(&d, d.root, 0), NULL, NULL) == PJ_DBL);
        pj_free(&d);
    }
    /* random decimal literals: the fast path must agree bit for bit with strtod */
    {
        uint64_t x = 88172645463325252ULL;
        char buf[64];
        int mismatches = 0;
        for (int k = 0; k < 300000; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            int pos = 0, nd = 1 + (int)(x % 19), dot = (int)((x >> 8) % (unsigned)(nd + 1));
            if ((x >> 20) & 1) buf[pos++] = '-';
            uint64_t y = x * 6364136223846793005ULL + 1442695040888963407ULL;
            for (int j = 0; j < nd; j++) {
                if (j == dot && j > 0) buf[pos++] = '.';
                y = y * 6364136223846793005ULL + 1442695040888963407ULL;
                int dig = (int)((y >> 33) % 10);
                if (j == 0 && dig == 0) dig = 1 + (int)((y >> 40) % 9);
                buf[pos++] = (char)('0' + dig);
            }
            if ((x >> 24) & 1) pos += sprintf(buf + pos, "e%d", (int)((x >> 30) % 61) - 30);
            else if (dot == 0 || dot == nd) { buf[pos++] = '.'; buf[pos++] = '5'; }
            buf[pos] = 0;
            pj_doc d; char err[128];
            /* every 16th also against the reference parser (all of them would be slow) */
            if ((k & 15) == 0) pj_check_input(buf, (size_t)pos);
            if (pj_parse(&d, buf, (size_t)pos, err, sizeof err) != 0) { mismatches++; fprintf(stderr, "rand %s: %s\n", buf, err); continue; }
            double want = strtod(buf, NULL), got = dval(&d, d.root);
            if (pj_type(&d, d.root) != PJ_DBL || memcmp(&got, &want, 8) != 0) {
                if (mismatches++ < 5) fprintf(stderr, "rand mismatch %s: %.17g vs %.17g\n", buf, got, want);
            }
            pj_free(&d);
        }
        CHECK(mismatches == 0);
    }
}

static void check_str(const char *json, const char *want, size_t wantlen, int escaped) {
    pj_doc d; char err[128];
    int rc = parse_s(&d, json, err, sizeof err);
    CHECKF(rc == 0, "%s: %s", json, err);
    if (rc) return;
    size_t l, rl, ul;
    char *heap;
    const char *raw;
    const char *s = pj_str(&d, d.root, &l, &heap);
    CHECKF(pj_type(&d, d.root) == PJ_STR && s && l == wantlen && memcmp(s, want, l) == 0, "%s", json);
    CHECKF(pj_str_raw(&d, d.root, &raw, &rl) == escaped, "%s", json);
    if (!escaped) CHECK(s > d.text && s < d.text + d.len && heap == NULL);
    else CHECK(heap != NULL && s == heap && heap[l] == 0);
    {
        char *out = malloc(rl ? rl : 1);                /* pj_unescape: rawlen bytes suffice */
        ul = pj_unescape(raw, rl, out);
        CHECKF(ul == wantlen && memcmp(out, want, ul) == 0, "%s", json);
        free(out);
    }
    free(heap);
    pj_free(&d);
}

static void test_strings(void) {
    check_str("\"\"", "", 0, 0);
    check_str("\"abc\"", "abc", 3, 0);
    check_str("\"h\xc3\xbc" "ber \xe2\x82\xac \xf0\x9f\x98\x80\"", "h\xc3\xbc" "ber \xe2\x82\xac \xf0\x9f\x98\x80", 15, 0);
    check_str("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", 12, 1);
    check_str("\"\\u00e9\\u20AC\\u0041\"", "\xc3\xa9\xe2\x82\xac" "A", 6, 1);
    check_str("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4, 1);
    check_str("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4, 1);
    check_str("\"\\uD800\"", "\xef\xbf\xbd", 3, 1);
    check_str("\"\\uDC00\"", "\xef\xbf\xbd", 3, 1);
    check_str("\"\\uD800\\u0041\"", "\xef\xbf\xbd" "A", 4, 1);
    check_str("\"\\uD800\\uD800\\uDC00\"", "\xef\xbf\xbd\xf0\x90\x80\x80", 7, 1);
    check_str("\"\\uDC00\\uD800\"", "\xef\xbf\xbd\xef\xbf\xbd", 6, 1);
    check_str("\"\\uD800x\"", "\xef\xbf\xbdx", 4, 1);
    check_str("\"\\uD800\\n\"", "\xef\xbf\xbd\n", 4, 1);
    check_str("\"a\\u0000b\"", "a\0b", 3, 1);
    check_str("\"\\u0000\"", "\0", 1, 1);
    check_str("\"\\uD800\\\\uDC00\"", "\xef\xbf\xbd\\uDC00", 9, 1);   /* escaped backslash: no pair */
    check_str("\"long prefix without escapes ......... then \\t tab\"",
              "long prefix without escapes ......... then \t tab", 48, 1);
    /* several escaped and plain strings in one doc (the old strbuf held 3 + 2 + 2 bytes) */
    {
        pj_doc d; char err[128];
        const char *j = "[\"x\\ny\",\"plain\",\"\\u00fc\",{\"k\\\"\":\"v\"}]";
        CHECK(parse_s(&d, j, err, sizeof err) == 0);
        vlist l = doc_values(&d);
        CHECK(l.n == 7);
        CHECK(str_is(&d, l.v[1], "x\ny", 3) && str_esc(&d, l.v[1]));
        CHECK(str_is(&d, l.v[2], "plain", 5) && !str_esc(&d, l.v[2]));
        CHECK(str_is(&d, l.v[3], "\xc3\xbc", 2) && str_esc(&d, l.v[3]));
        CHECK(pj_obj_get(&d, l.v[4], "k\"", 2) == l.v[6]);
        CHECK(str_is(&d, l.v[5], "k\"", 2) && str_esc(&d, l.v[5]) && !str_esc(&d, l.v[6]));
        {
            uint32_t idx[1];
            CHECK(pj_index(&d, l.v[4], idx) == 1 && idx[0] == (l.v[5] | PJ_KEY_ESC));
            CHECK(pj_member_value(&d, idx[0]) == l.v[6]);
        }
        size_t esc_bytes = 0;
        for (uint32_t k = 0; k < l.n; k++) {
            size_t sl; char *heap;
            if (pj_type(&d, l.v[k]) != PJ_STR || !str_esc(&d, l.v[k])) continue;
            if (pj_str(&d, l.v[k], &sl, &heap)) esc_bytes += sl;
            free(heap);
        }
        CHECK(esc_bytes == 3 + 2 + 2);
        free(l.v);
        pj_free(&d);
    }
    /* invalid UTF-8 inside strings */
    static const char *bad[] = {
        "\"\x80\"", "\"\xbf\"", "\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"", "\"\xe0\x9f\xbf\"",
        "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"", "\"\xf0\x80\x80\xaf\"", "\"\xf0\x8f\xbf\xbf\"",
        "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xff\"", "\"\xc3\"", "\"\xe2\x82\"",
        "\"\xf0\x9f\x98\"", "\"\xc3\x28\"", "\"\\n\xc3\"", "\"\\n\xed\xa0\x80\"",
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        pj_doc d; char err[128];
        int rc = parse_s(&d, bad[k], err, sizeof err);
        CHECKF(rc == -1 && strstr(err, "invalid UTF-8 at byte "), "bad utf8 #%zu: %s", k, err);
        CHECK(pj_check_input(bad[k], strlen(bad[k])) == -1);
    }
}

static void test_numlit(void) {
    static const struct { const char *s; int yes; } lit[] = {
        {"21.50", 1}, {"-3", 1}, {"0", 1}, {"-0", 1}, {"1E-8", 1}, {"1e+8", 1}, {"0.5e3", 1},
        {"123", 1}, {"-0.0", 1},
        {"021", 0}, {" 1", 0}, {"1 ", 0}, {"", 0}, {"1.", 0}, {"-", 0}, {".5", 0}, {"+1", 0},
        {"1e", 0}, {"1e+", 0}, {"0x10", 0}, {"NaN", 0}, {"Infinity", 0}, {"1.5.3", 0},
        {"--1", 0}, {"-01", 0}, {"abc", 0}, {"1,5", 0},
    };
    for (size_t k = 0; k < sizeof lit / sizeof *lit; k++) {
        CHECKF(pj_is_number_literal(lit[k].s, strlen(lit[k].s)) == lit[k].yes, "\"%s\"", lit[k].s);
        char json[64];
        snprintf(json, sizeof json, "\"%s\"", lit[k].s);
        pj_doc d; char err[128];
        CHECK(parse_s(&d, json, err, sizeof err) == 0);
        CHECKF(str_numlit(&d, d.root) == lit[k].yes, "flag for \"%s\"", lit[k].s);
        pj_free(&d);
    }
    /* decided on the decoded content */
    pj_doc d; char err[128];
    CHECK(parse_s(&d, "[\"\\u0032\\u0031.5\", \"2\\n\", {\"7\": \"x\"}]", err, sizeof err) == 0);
    vlist l = doc_values(&d);
    CHECK(l.n == 6);
    CHECK(str_numlit(&d, l.v[1]) && str_esc(&d, l.v[1]));         /* was NUMLIT | ESCAPED */
    CHECK(!str_numlit(&d, l.v[2]) && str_esc(&d, l.v[2]));        /* was ESCAPED */
    CHECK(str_numlit(&d, l.v[4]) && !str_esc(&d, l.v[4]));        /* keys are strings too */
    CHECK(!str_numlit(&d, l.v[5]) && !str_esc(&d, l.v[5]));
    free(l.v);
    pj_free(&d);
}

/* sum of pj_count over the containers of d (the old n_kids) */
static uint32_t total_kids(const pj_doc *d, const vlist *l) {
    uint32_t s = 0;
    for (uint32_t k = 0; k < l->n; k++) s += pj_count(d, l->v[k]);
    return s;
}

static void test_layout(void) {
    pj_doc d; char err[128];
    /* 0:[ 1:1 2:[ 3:2 4:3 ] 5:{ 6:"a" 7:[ 8:4 ] 9:"b" 10:{} 11:"a" 12:5 } 13:6 ] */
    const char *j = " [1,[2,3],{\"a\":[4],\"b\":{},\"a\":5},6] ";
    CHECK(parse_s(&d, j, err, sizeof err) == 0);
    vlist l = doc_values(&d);
    const pj_val *n = l.v;
    CHECK(l.n == 14);
    CHECK(d.root == 1 && n[0] == 1);
    CHECK(pj_type(&d, n[0]) == PJ_ARR && pj_count(&d, n[0]) == 4 && d.n_root == 4);
    CHECK(pj_arr_get(&d, n[0], 0) == n[1] && pj_arr_get(&d, n[0], 1) == n[2] &&
          pj_arr_get(&d, n[0], 2) == n[5] && pj_arr_get(&d, n[0], 3) == n[13] &&
          pj_arr_get(&d, n[0], 4) == PJ_NONE);
    CHECK(d.root_idx[0] == n[1] && d.root_idx[1] == n[2] && d.root_idx[2] == n[5] && d.root_idx[3] == n[13]);
    CHECK(pj_type(&d, n[2]) == PJ_ARR && pj_count(&d, n[2]) == 2);
    CHECK(pj_arr_get(&d, n[2], 0) == n[3] && pj_arr_get(&d, n[2], 1) == n[4]);
    CHECK(pj_type(&d, n[5]) == PJ_OBJ && pj_count(&d, n[5]) == 3);
    {
        uint32_t idx[3];
        CHECK(pj_index(&d, n[5], idx) == 3 && idx[0] == n[6] && idx[1] == n[9] && idx[2] == n[11]);
        CHECK(pj_member_value(&d, idx[0]) == n[7] && pj_member_value(&d, idx[2]) == n[12]);
        CHECK(pj_index_find(&d, idx, 3, "a", 1) == n[12]);       /* duplicate: last wins */
        CHECK(pj_index_find(&d, idx, 2, "a", 1) == n[7]);        /* ... among the entries given */
        CHECK(pj_index_find(&d, idx, 3, "c", 1) == PJ_NONE);
    }
    CHECK(pj_obj_get(&d, n[5], "a", 1) == n[12]);       /* duplicate: last wins */
    CHECK(pj_type(&d, n[12]) == PJ_INT && ival(&d, n[12]) == 5);
    CHECK(pj_obj_get(&d, n[5], "b", 1) == n[10]);
    CHECK(pj_type(&d, n[10]) == PJ_OBJ && pj_count(&d, n[10]) == 0);
    CHECK(pj_obj_get(&d, n[5], "c", 1) == PJ_NONE);
    CHECK(pj_obj_get(&d, n[5], "", 0) == PJ_NONE);
    CHECK(pj_obj_get(&d, n[0], "a", 1) == PJ_NONE);   /* not an object */
    CHECK(pj_obj_get(&d, n[7], "a", 1) == PJ_NONE);
    CHECK(pj_arr_get(&d, n[7], 0) == n[8] && ival(&d, n[8]) == 4);
    CHECK(pj_arr_get(&d, n[1], 0) == PJ_NONE);        /* scalar: count 0 */
    CHECK(pj_first(&d, n[5]) == n[6] && pj_next(&d, n[6], 1) == n[9] && pj_next(&d, n[11], 1) == PJ_NONE);
    CHECK(pj_end(&d, n[6]) == n[6] + 3 && pj_end(&d, n[0]) == d.len - 1);
    CHECK(total_kids(&d, &l) == 4 + 2 + 3 + 1);
    free(l.v);
    pj_free(&d);
    CHECK(doc_is_zero(&d));
    pj_free(&d);                                   /* idempotent */
    CHECK(doc_is_zero(&d));

    CHECK(parse_s(&d, "{\"a\":1,\"a\":2,\"\":3,\"a\\u0000\":4}", err, sizeof err) == 0);
    l = doc_values(&d);
    n = l.v;
    CHECK(pj_count(&d, d.root) == 4 && d.n_root == 4);
    CHECK(pj_obj_get(&d, d.root, "a", 1) == n[4] && ival(&d, n[4]) == 2);
    CHECK(pj_obj_get(&d, d.root, "", 0) == n[6]);
    CHECK(pj_obj_get(&d, d.root, "a\0", 2) == n[8]);
    CHECK(pj_index_find(&d, d.root_idx, d.n_root, "a\0", 2) == n[8]);
    CHECK(d.root_idx[3] == (n[7] | PJ_KEY_ESC) && d.root_idx[0] == n[1]);
    free(l.v);
    pj_free(&d);

    /* root scalars */
    CHECK(parse_s(&d, "null", err, sizeof err) == 0 && pj_type(&d, d.root) == PJ_NULL && d.n_root == 0);
    l = doc_values(&d);
    CHECK(l.n == 1);
    free(l.v);
    pj_free(&d);
    CHECK(parse_s(&d, "\ttrue\r\n", err, sizeof err) == 0 && pj_type(&d, d.root) == PJ_TRUE && d.root == 1);
    pj_free(&d);
    CHECK(parse_s(&d, "false", err, sizeof err) == 0 && pj_type(&d, d.root) == PJ_FALSE);
    pj_free(&d);
    /* empty root containers: no index */
    CHECK(parse_s(&d, " [ ] ", err, sizeof err) == 0 && d.n_root == 0 && d.root_idx == NULL &&
          pj_first(&d, d.root) == PJ_NONE);
    pj_free(&d);

    /* 512 deep is fine, 513 is not */
    {
        char *buf = malloc(2 * 600 + 1);
        memset(buf, '[', 512);
        memset(buf + 512, ']', 512);
        CHECK(pj_parse(&d, buf, 1024, err, sizeof err) == 0);
        l = doc_values(&d);
        CHECK(l.n == 512 && d.n_root == 1);
        free(l.v);
        pj_check_doc(&d);
        pj_free(&d);
        memset(buf, '[', 513);
        memset(buf + 513, ']', 513);
        CHECK(pj_parse(&d, buf, 1026, err, sizeof err) == -1);
        CHECK(strcmp(err, "nested too deeply at byte 512") == 0);
        CHECK(pj_check_input(buf, 1026) == -1);
        free(buf);
    }
    /* wide containers: a root index that outgrows the stack buffer */
    {
        size_t n = 100000, pos = 0;
        char *buf = malloc(n * 24 + 16);
        buf[pos++] = '[';
        for (size_t k = 0; k < n; k++) pos += (size_t)sprintf(buf + pos, "%s[%zu,{}]", k ? "," : "", k);
        buf[pos++] = ']';
        CHECK(pj_parse(&d, buf, pos, err, sizeof err) == 0);
        l = doc_values(&d);
        CHECK(l.n == 1 + 3 * n && pj_count(&d, d.root) == n && d.n_root == n);
        free(l.v);
        CHECK(ival(&d, pj_arr_get(&d, pj_arr_get(&d, d.root, 77777), 0)) == 77777);
        pj_check_doc(&d);
        pj_free(&d);
        pos = 0;
        buf[pos++] = '{';
        for (size_t k = 0; k < n; k++) pos += (size_t)sprintf(buf + pos, "%s\"k%zu\":%zu", k ? "," : "", k, k);
        buf[pos++] = '}';
        CHECK(pj_parse(&d, buf, pos, err, sizeof err) == 0);
        CHECK(pj_count(&d, d.root) == n);
        CHECK(ival(&d, pj_obj_get(&d, d.root, "k99999", 6)) == 99999);
        CHECK(ival(&d, pj_obj_get(&d, d.root, "k0", 2)) == 0);
        CHECK(pj_obj_get(&d, d.root, "k100000", 7) == PJ_NONE);
        pj_check_doc(&d);
        pj_free(&d);
        /* the same object one level down: pj_obj_get scans, pj_index indexes on demand */
        memmove(buf + 5, buf, pos);
        memcpy(buf, "{\"o\":", 5);
        buf[pos + 5] = '}';
        pos += 6;
        CHECK(pj_parse(&d, buf, pos, err, sizeof err) == 0);
        pj_val o = pj_obj_get(&d, d.root, "o", 1);
        CHECK(pj_count(&d, o) == n);
        CHECK(ival(&d, pj_obj_get(&d, o, "k99999", 6)) == 99999);
        CHECK(ival(&d, pj_obj_get(&d, o, "k12345", 6)) == 12345);
        pj_check_doc(&d);
        pj_free(&d);
        free(buf);
    }
}
static void test_errors(void) {
    static const struct { const char *in; size_t len; const char *msg; } cases[] = {
        {"", 0, "empty body"},
        {" \n\t\r ", 5, "empty body"},
        {"[1,]", 4, "unexpected character ']' at byte 3"},
        {"[1", 2, "unexpected end of input at byte 2"},
        {"[1,", 3, "unexpected end of input at byte 3"},
        {"{\"a\":", 5, "unexpected end of input at byte 5"},
        {"{", 1, "unexpected end of input at byte 1"},
        {"{\"a\" 1}", 7, "unexpected character '1' at byte 5"},
        {"{1:2}", 5, "unexpected character '1' at byte 1"},
        {"{\"a\":1,}", 8, "unexpected character '}' at byte 7"},
        {"[1 2]", 5, "unexpected character '2' at byte 3"},
        {"\"abc", 4, "unterminated string at byte 0"},
        {"[\"abc\\", 6, "unterminated string at byte 1"},
        {"[\"a\\u12", 7, "unterminated string at byte 1"},
        {"[\"a\\x\"]", 7, "invalid escape at byte 3"},
        {"[\"a\\u12x4\"]", 11, "invalid escape at byte 3"},
        {"[\"a\\U0041\"]", 11, "invalid escape at byte 3"},
        {"\"\xff\"", 3, "invalid UTF-8 at byte 1"},
        {"\"ab\xed\xa0\x80\"", 7, "invalid UTF-8 at byte 3"},
        {"\"a\nb\"", 5, "control character in string at byte 2"},
        {"\"a\0b\"", 5, "control character in string at byte 2"},
        {"\"a\\n\tb\"", 7, "control character in string at byte 4"},
        {"[01]", 4, "invalid number at byte 1"},
        {"[1.]", 4, "invalid number at byte 1"},
        {"[-]", 3, "invalid number at byte 1"},
        {"[1e]", 4, "invalid number at byte 1"},
        {"[1e+]", 5, "invalid number at byte 1"},
        {"[1.5.3]", 7, "invalid number at byte 1"},
        {"[-01]", 5, "invalid number at byte 1"},
        {" -", 2, "invalid number at byte 1"},
        {"[+1]", 4, "unexpected character '+' at byte 1"},
        {"[.5]", 4, "unexpected character '.' at byte 1"},
        {"[NaN]", 5, "unexpected character 'N' at byte 1"},
        {"1 2", 3, "trailing data at byte 2"},
        {"{} x", 4, "trailing data at byte 3"},
        {"truex", 5, "trailing data at byte 4"},
        {"[1]\0", 4, "trailing data at byte 3"},
        {"\xEF\xBB\xBF{}", 5, "unexpected character '\\xEF' at byte 0"},
        {"[tru]", 5, "unexpected character ']' at byte 4"},
        {"tru", 3, "unexpected end of input at byte 3"},
        {"nul", 3, "unexpected end of input at byte 3"},
        {"[fals e]", 8, "unexpected character ' ' at byte 5"},
        {"\x01", 1, "unexpected character '\\x01' at byte 0"},
        {"[\x7f]", 3, "unexpected character '\\x7F' at byte 1"},
        {"[\xc3\xa9]", 4, "unexpected character '\\xC3' at byte 1"},
        {"'a'", 3, "unexpected character ''' at byte 0"},
        {"[1]/*c*/", 8, "trailing data at byte 3"},
        {"\f1", 2, "unexpected character '\\x0C' at byte 0"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        pj_doc d; char err[128];
        memset(err, 'Z', sizeof err);
        int rc = pj_parse(&d, cases[k].in, cases[k].len, err, sizeof err);
        CHECKF(rc == -1 && strcmp(err, cases[k].msg) == 0, "case %zu: got rc=%d '%s', want '%s'",
               k, rc, err, cases[k].msg);
        CHECK(doc_is_zero(&d));
        pj_free(&d);
        CHECK(pj_check_input(cases[k].in, cases[k].len) == -1);    /* same message as the reference */
    }
    /* NULL text with len 0, NULL errbuf, tiny errbuf */
    {
        pj_doc d; char err[8];
        CHECK(pj_parse(&d, NULL, 0, NULL, 0) == -1);
        CHECK(pj_parse(&d, "[1,]", 4, err, sizeof err) == -1 && strlen(err) == 7);
        CHECK(pj_parse(&d, "[1,]", 4, err, 1) == -1 && err[0] == 0);
        /* too large: refused before the bytes are looked at */
        CHECK(pj_parse(&d, "x", (size_t)INT32_MAX + 1, err, sizeof err) == -1);
        char big[64];
        CHECK(pj_parse(&d, "x", (size_t)INT32_MAX + 1, big, sizeof big) == -1 && !strcmp(big, "body too large"));
        CHECK(doc_is_zero(&d));
        CHECK(pj_check_input(NULL, 0) == -1);
    }
    /* 100000 '[' fails cleanly and fast */
    {
        size_t n = 100000;
        char *buf = malloc(n);
        memset(buf, '[', n);
        pj_doc d; char err[128];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = pj_parse(&d, buf, n, err, sizeof err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        CHECK(rc == -1 && !strcmp(err, "nested too deeply at byte 512"));
        CHECKF(ms < 50, "%.3f ms", ms);
        CHECK(pj_check_input(buf, n) == -1);
        /* and an open array/object mix */
        for (size_t k = 0; k < n; k++) buf[k] = (k % 6 < 5) ? "[{\"\":"[k % 6 < 5 ? k % 6 : 0] : ' ';
        rc = pj_parse(&d, buf, n, err, sizeof err);
        CHECK(rc == -1 && strstr(err, "nested too deeply at byte "));
        CHECK(pj_check_input(buf, n) == -1);
        free(buf);
    }
}

/* every strict prefix of a valid object is an error; every single-byte corruption is handled */
static void test_truncation(const char *path) {
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) { fprintf(stderr, "cannot read %s\n", path); failures++; return; }
    pj_doc d; char err[128];
    int rc = pj_parse(&d, buf, len, err, sizeof err);
    CHECKF(rc == 0, "%s: %s", path, err);
    if (rc == 0) {
        CHECK(pj_type(&d, d.root) == PJ_OBJ && pj_count(&d, d.root) == 66 && d.n_root == 66);
        pj_val v = pj_obj_get(&d, d.root, "indoor_actual_temperature", 25);
        CHECK(v != PJ_NONE && pj_type(&d, v) == PJ_STR && str_numlit(&d, v));   /* a Decimal string */
        v = pj_obj_get(&d, d.root, "actions", 7);
        CHECK(v != PJ_NONE && pj_type(&d, v) == PJ_ARR && pj_count(&d, v) == 2);
        uint32_t numlits = 0;
        for (uint32_t k = 0; k < d.n_root; k++) {
            pj_val mv = pj_member_value(&d, d.root_idx[k]);
            if (pj_type(&d, mv) == PJ_STR && str_numlit(&d, mv)) numlits++;
        }
        CHECK(numlits > 0);
        printf("heat pump: %u members at the root, %u of them Decimal strings\n", d.n_root, numlits);
        pj_check_doc(&d);
        pj_free(&d);
    }
    size_t nerr = 0;
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1);          /* exact size: ASan catches over-reads */
        memcpy(copy, buf, cut);
        rc = pj_parse(&d, copy, cut, err, sizeof err);
        if (rc == -1 && err[0] && doc_is_zero(&d)) nerr++;
        else fprintf(stderr, "prefix %zu: rc=%d\n", cut, rc);
        CHECK(pj_check_input(copy, cut) == -1);
        free(copy);
    }
    CHECKF(nerr == len, "%zu of %zu prefixes rejected", nerr, len);
    /* corrupt each byte in a few ways: must never crash; the outcome (message, values) must be
     * the reference's (pjc_light: 34000 near-identical bodies, every value still compared) */
    static const unsigned char repl[] = { 0x00, '"', '\\', '{', ']', 0x80, 0xff, ',', '1', ' ' };
    size_t accepted = 0, total = 0;
    pjc_light = 1;
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t r = 0; r < sizeof repl; r++) {
            char save = buf[pos];
            buf[pos] = (char)repl[r];
            rc = pj_check_input(buf, len);
            total++;
            if (rc == 0) accepted++;
            else CHECK(rc == -1);
            buf[pos] = save;
        }
    }
    pjc_light = 0;
    printf("truncation: %zu/%zu prefixes rejected; corruption: %zu variants, %zu still valid\n",
           nerr, len, total, accepted);
    free(buf);
}

#ifdef PJ_TEST_WRAP
static void test_oom(const char *path) {
    size_t len;
    char *hp = read_file(path, &len);
    const char *docs[] = {
        "[\"a\\nb\", {\"k\": [1, 2.5, \"\\u00e9\"]}, 1e400]",
        "\"\\u0041\"",
        "{\"a\":[[[[[[]]]]]]}",
        NULL, NULL,
    };
    size_t lens[5] = {0};
    /* a root index that outgrows the stack buffer and is grown on the heap */
    size_t n = 3000, pos = 0;
    char *wide = malloc(n * 20);
    wide[pos++] = '[';
    for (size_t k = 0; k < n; k++) pos += (size_t)sprintf(wide + pos, "%s{\"x\\t%zu\":[%zu]}", k ? "," : "", k, k);
    wide[pos++] = ']';
    docs[3] = wide; lens[3] = pos;
    docs[4] = hp; lens[4] = hp ? len : 0;
    for (int k = 0; k < 3; k++) lens[k] = strlen(docs[k]);
    for (int k = 0; k < 5; k++) {
        if (!docs[k]) continue;
        long fails = 0, calls = 0;
        pj_doc d; char err[128];
        for (long c = 0;; c++) {
            alloc_countdown = c;
            alloc_calls = 0;
            int rc = pj_parse(&d, docs[k], lens[k], err, sizeof err);
            calls = alloc_calls;
            alloc_countdown = -1;
            if (rc == 0) break;
            CHECKF(rc == -2 && !strcmp(err, "out of memory") && doc_is_zero(&d), "doc %d, fail #%ld: rc=%d %s", k, c, rc, err);
            fails++;
            if (c > 1000) { CHECK(0); break; }
        }
        /* at most: the copy, the realloc that appends the root index (when there is one),
         * and the heap copies of the root index when it outgrows the 256 entries kept on the
         * stack; each of them failing was one failure above */
        uint32_t nr = d.n_root, cap = 256, grow = 0;
        while (cap < nr) { cap *= 2; grow++; }
        long want = 1 + (nr > 0) + grow;
        CHECKF(calls >= 1 && calls <= want && fails == calls, "doc %d: %ld allocations, %ld failures, at most %ld",
               k, calls, fails, want);
        pj_check_doc(&d);
        /* pj_str of an escaped string allocates: its failure is NULL, *heap NULL */
        vlist l = doc_values(&d);
        for (uint32_t j = 0; j < l.n; j++) {
            size_t sl = 99;
            char *heap = (char *)1;
            if (pj_type(&d, l.v[j]) != PJ_STR || !str_esc(&d, l.v[j])) continue;
            alloc_countdown = 0;
            const char *s = pj_str(&d, l.v[j], &sl, &heap);
            alloc_countdown = -1;
            CHECK(s == NULL && heap == NULL);
            break;
        }
        free(l.v);
        pj_free(&d);
        printf("oom: doc %d: %ld allocation(s) per parse (n_root %u), each failure handled\n", k, calls, nr);
    }
    /* pj_parse_owned: the text is freed on failure too (the leak checker sees it) */
    for (long c = 0;; c++) {
        pj_doc d; char err[128];
        char *t = __real_malloc(lens[3] + PJ_PAD);
        memcpy(t, docs[3], lens[3]);
        alloc_countdown = c;
        int rc = pj_parse_owned(&d, t, lens[3], err, sizeof err);
        alloc_countdown = -1;
        if (rc == 0) { CHECK(c <= 5); pj_check_doc(&d); pj_free(&d); break; }
        CHECK(rc == -2 && doc_is_zero(&d));
        if (c > 100) { CHECK(0); break; }
    }
    free(wide);
    free(hp);
}
#endif

/* lookups by key: root objects around the 16-tag blocks and the 256 keys kept on the stack
 * while parsing, with duplicates, prefixes, empty and escaped keys; the same object nested
 * (where pj_obj_get scans); pj_check_doc probes every key, its variants and missing ones */
static void test_lookups(void) {
    static const int sizes[] = { 1, 2, 3, 15, 16, 17, 31, 32, 33, 255, 256, 257, 300, 1000 };
    char *buf = malloc(64 * 1024);
    long docs = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (int variant = 0; variant < 4; variant++) {
            int n = sizes[si];
            for (int nested = 0; nested < 2; nested++) {
                size_t pos = 0;
                pj_doc d; char err[128];
                if (nested) pos += (size_t)sprintf(buf + pos, "{\"o\":");
                buf[pos++] = '{';
                for (int j = 0; j < n; j++) {
                    int id = (variant & 1) ? j % (n / 2 + 1) : j;            /* duplicates */
                    if (j) buf[pos++] = ',';
                    if ((variant & 2) && j == n / 2)
                        pos += (size_t)sprintf(buf + pos, "\"\\u006b%d\\\"\":%d", id, j);  /* escaped */
                    else if (j % 7 == 3)
                        pos += (size_t)sprintf(buf + pos, "\"\":%d", j);               /* empty */
                    else
                        pos += (size_t)sprintf(buf + pos, "\"%.*s%d\" : %d", 1 + j % 3, "kkk", id, j);
                }
                buf[pos++] = '}';
                if (nested) buf[pos++] = '}';
                CHECK(pj_parse(&d, buf, pos, err, sizeof err) == 0);
                pj_check_doc(&d);
                pj_val o = nested ? pj_obj_get(&d, d.root, "o", 1) : d.root;
                CHECK(pj_count(&d, o) == (uint32_t)n);
                /* a hint changes nothing but the time: every key (present or not) at every hint */
                if (!nested && n <= 33) {
                    for (int q = 0; q < n + 2; q++) {
                        char k[32];
                        int kl = q % 5 == 4 ? 0 : sprintf(k, "%.*s%d", 1 + q % 3, "kkk", q);
                        for (int h = 0; h < n + 2; h++)
                            CHECKF(pj_has_plain_key_hint(&d, d.root, k, (size_t)kl, (uint32_t)h) ==
                                       pj_has_plain_key(&d, d.root, k, (size_t)kl),
                                   "n %d variant %d key %.*s hint %d", n, variant, kl, k, h);
                    }
                }
                if (variant & 2) {
                    char k[32];
                    int id = (variant & 1) ? (n / 2) % (n / 2 + 1) : n / 2;
                    int kl = sprintf(k, "k%d\"", id);
                    CHECKF(ival(&d, pj_obj_get(&d, o, k, (size_t)kl)) == n / 2, "n %d variant %d", n, variant);
                    if (!nested) CHECK(d.root_esc == 1);
                } else if (!nested) {
                    CHECK(d.root_esc == 0);
                }
                pj_free(&d);
                docs++;
            }
        }
    }
    free(buf);
    printf("lookups: %ld objects checked against the reference\n", docs);
}

/* pj_parse_owned takes the text over; NULL is out of memory */
static void test_owned(void) {
    const char *j = " {\"a\": [1, \"x\\ty\"], \"b\": null} ";
    size_t len = strlen(j);
    pj_doc d; char err[128];
    char *t = malloc(len + PJ_PAD);
    memcpy(t, j, len);
    memset(t + len, 'X', PJ_PAD);                  /* the parser zeroes the padding itself */
    CHECK(pj_parse_owned(&d, t, len, err, sizeof err) == 0);
    pj_check_doc(&d);
    CHECK(d.n_root == 2 && pj_type(&d, pj_obj_get(&d, d.root, "b", 1)) == PJ_NULL);
    pj_free(&d);
    t = malloc(4 + PJ_PAD);
    memcpy(t, "[1,]", 4);
    CHECK(pj_parse_owned(&d, t, 4, err, sizeof err) == -1 && doc_is_zero(&d));   /* freed */
    CHECK(!strcmp(err, "unexpected character ']' at byte 3"));
    CHECK(pj_parse_owned(&d, NULL, 4, err, sizeof err) == -2 && !strcmp(err, "out of memory"));
    CHECK(doc_is_zero(&d));
}

/* pj_span: each container's exact bytes, whitespace and tricky strings included; each span
 * parsed on its own gives a root of the same type and count */
static void check_spans_reparse(const pj_doc *d) {
    vlist l = doc_values(d);
    size_t st, len;
    pj_span(d, d->root, &st, &len);
    CHECK(st == 0 && len == d->len);
    for (uint32_t k = 1; k < l.n; k++) {
        pj_val v = l.v[k];
        int t = pj_type(d, v);
        pj_doc sub;
        char err[128];
        pj_span(d, v, &st, &len);
        if (t != PJ_ARR && t != PJ_OBJ) { CHECK(len == 0); continue; }
        CHECK(st == v && len >= 2 && st + len <= d->len);
        CHECK(d->text[st + len - 1] == (t == PJ_ARR ? ']' : '}'));
        CHECK(pj_parse(&sub, d->text + st, len, err, sizeof err) == 0);
        CHECK(pj_type(&sub, sub.root) == t && sub.n_root == pj_count(d, v) && sub.root == 0);
        pj_free(&sub);
    }
    free(l.v);
}

static void test_spans(const char *path) {
    static const char *const docs[] = {
        " [ 1 , { \"a\" : [ ] , \"b\":\"]}\\\"\" } , [ [ ] ] ] ",
        "{\"k\":{\"\\u005d\":\"}\"},\"l\":[\"[\",\"\\\\\"]}",
        "[[[[[]]]],{},{\"x\":{\"y\":{}}}]",
    };
    size_t i, len;
    for (i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        pj_doc d;
        char err[128];
        CHECK(parse_s(&d, docs[i], err, sizeof err) == 0);
        check_spans_reparse(&d);
        pj_free(&d);
    }
    {
        pj_doc d;
        char err[128];
        size_t st;
        CHECK(parse_s(&d, " [ 1 , { \"a\" : [ ] } ] ", err, sizeof err) == 0);
        pj_span(&d, pj_arr_get(&d, d.root, 1), &st, &len);
        CHECK(len == 13 && memcmp(d.text + st, "{ \"a\" : [ ] }", 13) == 0);
        pj_span(&d, pj_arr_get(&d, d.root, 0), &st, &len);
        CHECK(len == 0);                                   /* scalars are never views */
        pj_free(&d);
    }
    {
        char *body = read_file(path, &len);
        pj_doc d;
        char err[128];
        CHECK(body != NULL);
        if (body) {
            CHECK(pj_parse(&d, body, len, err, sizeof err) == 0);
            check_spans_reparse(&d);
            pj_free(&d);
            free(body);
        }
    }
    printf("spans: checked\n");
}

static void test_locale(void) {
    /* the double must not depend on LC_NUMERIC: numbers are converted when read, so read them
     * while the locale is set */
    const char *locs[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8", NULL };
    const char *got = NULL;
    char name[64] = "(none available, C)";
    for (int k = 0; locs[k]; k++) if ((got = setlocale(LC_NUMERIC, locs[k]))) break;
    char point[8] = ".";
    if (got) {
        snprintf(name, sizeof name, "%s", got);
        snprintf(point, sizeof point, "%s", localeconv()->decimal_point);
    }
    pj_doc d; char err[128];
    CHECK(parse_s(&d, "[1.25e300, 3.141592653589793238462643383279, 0.1]", err, sizeof err) == 0);
    double x0 = dval(&d, pj_arr_get(&d, d.root, 0)), x1 = dval(&d, pj_arr_get(&d, d.root, 1));
    double x2 = dval(&d, pj_arr_get(&d, d.root, 2));
    setlocale(LC_NUMERIC, "C");
    CHECK(x0 == strtod("1.25e300", NULL));
    CHECK(x1 == strtod("3.141592653589793238462643383279", NULL));
    CHECK(x2 == 0.1);
    printf("locale test ran with LC_NUMERIC=%s (decimal point '%s')\n", name, point);
    pj_free(&d);
}

/* the string scanners (SSE2 or the portable scalar ones): strings of every length up to 80
 * with an escape, a quote, a control byte or a multi-byte character at every position, at
 * the end of the body (the scanners read into the padding) and inside an array */
static void test_scanners(void) {
#if defined(PJ_NO_SIMD) || !defined(__SSE2__)
    int want = 0;
#else
    int want = 1;
#endif
    CHECKF(pj_simd() == want, "pj_simd() = %d, this build wants %d", pj_simd(), want);
    static const char *const ins[] = { "\\n", "\\u00e9", "\\\"", "\xc3\xa9", "\xe2\x82\xac", "\x01", "\"", "\\", "\xff" };
    char buf[128];
    long n = 0, ok = 0;
    for (int len = 0; len <= 80; len++) {
        for (int at = -1; at < len; at++) {
            for (size_t w = 0; w < sizeof ins / sizeof ins[0]; w++) {
                for (int arr = 0; arr < 2; arr++) {
                    size_t pos = 0, il = strlen(ins[w]);
                    if (at < 0 && w > 0) continue;
                    if (arr) buf[pos++] = '[';
                    buf[pos++] = '"';
                    for (int c = 0; c < len; c++) {
                        if (c == at) { memcpy(buf + pos, ins[w], il); pos += il; }
                        else buf[pos++] = (char)('a' + c % 26);
                    }
                    buf[pos++] = '"';
                    if (arr) buf[pos++] = ']';
                    char *exact = malloc(pos);           /* exact size: ASan catches over-reads */
                    memcpy(exact, buf, pos);
                    if (pj_check_input(exact, pos) == 0) ok++;
                    n++;
                    free(exact);
                }
            }
        }
    }
    printf("scanners: %s (pj_simd() = %d); %ld strings checked against the reference, %ld valid\n",
           pj_simd() ? "SSE2" : "portable scalar (PJ_NO_SIMD)", pj_simd(), n, ok);
}

/* ------------------------------------------------------------------ benchmark */
/* one read of value v, as the Lua side does it: a string decoded, a number converted, a
 * container counted */
static uint64_t read_value(const pj_doc *d, pj_val v) {
    switch (pj_type(d, v)) {
    case PJ_STR: {
        size_t l; char *heap;
        const char *s = pj_str(d, v, &l, &heap);
        uint64_t r = s ? l + (l ? (unsigned char)s[0] : 0) : 0;
        free(heap);
        return r;
    }
    case PJ_INT: case PJ_DBL: {
        int64_t i = 0; double x = 0;
        return pj_num(d, v, &i, &x) == PJ_INT ? (uint64_t)i : (uint64_t)(x != 0);
    }
    case PJ_ARR: case PJ_OBJ: return pj_count(d, v);
    default: return (uint64_t)pj_type(d, v);
    }
}

static int bench(const char *path, long iters) {
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) { fprintf(stderr, "cannot read %s\n", path); return 1; }
    pj_doc d; char err[128];
    uint64_t sum = 0;
    struct timespec t0, t1;
    /* the 3 reads: for a root object, 3 members by key (at 1/4, 1/2 and 3/4 of the root);
     * for a root array, 3 elements; for a scalar, the value 3 times */
    char keys[3][128];
    size_t klen[3] = {0, 0, 0};
    int obj;
    if (pj_parse(&d, buf, len, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    obj = pj_type(&d, d.root) == PJ_OBJ && d.n_root > 0;
    for (int r = 0; obj && r < 3; r++) {
        size_t l; char *heap;
        const char *s = pj_str(&d, d.root_idx[d.n_root * (uint32_t)(r + 1) / 4] & ~PJ_KEY_ESC, &l, &heap);
        if (!s || l >= sizeof keys[r]) { fprintf(stderr, "key too long\n"); return 1; }
        memcpy(keys[r], s, l);
        klen[r] = l;
        free(heap);
    }
    pj_free(&d);
    for (long k = 0; k < iters / 10 + 1; k++) {   /* warm-up */
        if (pj_parse(&d, buf, len, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
        sum += d.n_root;
        pj_free(&d);
    }
    /* 10 batches: the mean is what was asked for, the best batch shows the noise floor */
    double s = 0, best = 1e30;
    long batch = iters / 10 > 0 ? iters / 10 : 1;
    for (int b = 0; b < 10; b++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long k = 0; k < batch; k++) {
            pj_parse(&d, buf, len, err, sizeof err);
            for (uint32_t r = 0; r < 3; r++) {
                pj_val v;
                if (obj) v = pj_obj_get(&d, d.root, keys[r], klen[r]);
                else if (d.n_root) v = pj_arr_get(&d, d.root, d.n_root * r / 3);
                else v = d.root;
                sum += read_value(&d, v);
            }
            pj_free(&d);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double bs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        s += bs;
        if (bs < best) best = bs;
    }
    iters = batch * 10;
    printf("%s: %zu bytes, %ld parses + 3 reads (%s scanners): %.3f us/body mean (best batch %.3f), "
           "%.0f MB/s (checksum %llu)\n",
           path, len, iters, pj_simd() ? "SSE2" : "scalar", s / (double)iters * 1e6,
           best / (double)batch * 1e6, (double)len * (double)iters / s / 1e6, (unsigned long long)sum);
    /* the reference (the old tape parser) on the same body, for comparison */
    {
        rj_doc r;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long k = 0; k < iters; k++) {
            rj_parse(&r, buf, len, err, sizeof err);
            sum += r.n_nodes;
            rj_free(&r);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("  reference rj_parse (old tape): %.3f us/parse, %.0f MB/s\n", s / (double)iters * 1e6,
               (double)len * (double)iters / s / 1e6);
    }
#ifdef PJ_BENCH_CJSON
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long k = 0; k < iters; k++) {
        cJSON *j = cJSON_ParseWithLength(buf, len);
        sum += j != NULL;
        cJSON_Delete(j);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("  cJSON %s: %.3f us/parse, %.0f MB/s\n", cJSON_Version(), s / (double)iters * 1e6,
           (double)len * (double)iters / s / 1e6);
#endif
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "--bench"))
        return bench(argv[2], argc >= 4 ? atol(argv[3]) : 200000);
    if (argc < 2) {
        fprintf(stderr, "usage: %s JSONTestSuite/test_parsing [heat_pump.json]\n"
                        "       %s --bench FILE [N]\n", argv[0], argv[0]);
        return 2;
    }
    const char *hp = argc >= 3 ? argv[2] : "tests-c/heat_pump.json";
    run_suite(argv[1]);
    test_numbers();
    test_strings();
    test_numlit();
    test_layout();
    test_errors();
    test_truncation(hp);
#ifdef PJ_TEST_WRAP
    test_oom(hp);
#else
    printf("oom: skipped (build with -DPJ_TEST_WRAP -Wl,--wrap=malloc,--wrap=realloc)\n");
#endif
    test_owned();
    test_lookups();
    test_locale();
    test_spans(hp);
    test_scanners();
    printf("%s scanners (pj_simd() = %d): %d checks, %d failures; %llu differential checks against the reference\n",
           pj_simd() ? "SSE2" : "portable scalar", pj_simd(), checks, failures, pjc_checks);
    return failures ? 1 : 0;
}
