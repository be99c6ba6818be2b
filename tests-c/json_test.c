/*
 * json_test.c: standalone tests and microbenchmark for csrc/json.c (not part of the product
 * build). From the repository root:
 *
 * Build (sanitizers; --wrap enables the allocation-failure injection test, which is skipped
 * without -DPJ_TEST_WRAP):
 *   cc -std=c11 -g -O1 -Wall -Wextra -fsanitize=address,undefined -fno-omit-frame-pointer \
 *      -fno-sanitize-recover=all -DPJ_TEST_WRAP -Wl,--wrap=malloc,--wrap=realloc \
 *      -Icsrc tests-c/json_test.c csrc/json.c -lm -o /tmp/json_test
 * Run:
 *   /tmp/json_test /work/shared/data/JSONTestSuite/test_parsing tests-c/heat_pump.json
 *   (prints the i_ outcomes; exit status 0 only if everything passed)
 * Valgrind: build the same line without -fsanitize=..., then
 *   valgrind --leak-check=full --error-exitcode=1 /tmp/json_test <same args>
 * Benchmark (optimised build, no sanitizers, no wrap):
 *   cc -std=c11 -O2 -Icsrc tests-c/json_test.c csrc/json.c -lm -o /tmp/json_bench
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

static int parse_s(pj_doc *d, const char *s, char *err, size_t errlen) {
    return pj_parse(d, s, strlen(s), err, errlen);
}

static int doc_is_zero(const pj_doc *d) {
    return !d->text && !d->len && !d->strbuf && !d->strbuf_len && !d->nodes && !d->n_nodes &&
           !d->kids && !d->n_kids;
}

/* FNV-1a over a canonical dump of the document (used to check i_ determinism) */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    while (n--) { h ^= *s++; h *= 1099511628211ULL; }
    return h;
}
static uint64_t doc_hash(const pj_doc *d) {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t i = 0; i < d->n_nodes; i++) {
        const pj_node *n = &d->nodes[i];
        h = fnv(h, &n->type, 1);
        h = fnv(h, &n->flags, 1);
        h = fnv(h, &n->count, 4);
        if (n->type == PJ_STR) { size_t l; const char *s = pj_str(d, n, &l); h = fnv(h, s, l); }
        else if (n->type == PJ_INT) h = fnv(h, &n->u.i, 8);
        else if (n->type == PJ_DBL) h = fnv(h, &n->u.d, 8);
        else if (n->type >= PJ_ARR) h = fnv(h, &n->u.c.kids, 4);
    }
    return fnv(h, d->kids, (size_t)d->n_kids * 4);
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
    int y_ok = 0, y_bad = 0, n_ok = 0, n_bad = 0, i_acc = 0, i_rej = 0, i_nondet = 0;
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
        pj_doc d;
        int rc = pj_parse(&d, buf, len, err, sizeof err);
        CHECKF(rc == 0 || rc == -1, "%s rc=%d", names[k], rc);
        if (rc == 0) pj_check_doc(&d);
        else CHECKF(doc_is_zero(&d) && err[0], "%s", names[k]);
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
                if (d.nodes[0].type == PJ_ARR && d.nodes[0].count >= 1) {
                    const pj_node *e = &d.nodes[pj_arr_get(&d, 0, 0)];
                    if (e->type == PJ_INT) printf(" (int %lld)", (long long)e->u.i);
                    else if (e->type == PJ_DBL) printf(" (double %.17g)", e->u.d);
                    else if (e->type == PJ_STR) {
                        size_t l; const unsigned char *s = (const unsigned char *)pj_str(&d, e, &l);
                        printf(" (string %zu bytes:", l);
                        for (size_t j = 0; j < l && j < 12; j++) printf(" %02X", s[j]);
                        printf(")");
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
           "%d nondeterministic ---\n", y_ok, y_ok + y_bad, n_ok, n_ok + n_bad, i_acc, i_rej, i_nondet);
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
        CHECKF(d.nodes[0].type == PJ_INT && d.nodes[0].u.i == ints[k].i, "%s", ints[k].in);
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
        double want = strtod(dbls[k], NULL);
        CHECKF(d.nodes[0].type == PJ_DBL, "%s type %d", dbls[k], d.nodes[0].type);
        CHECKF(memcmp(&d.nodes[0].u.d, &want, 8) == 0, "%s: got %.17g want %.17g", dbls[k],
               d.nodes[0].u.d, want);
        pj_free(&d);
    }
    /* specific expectations */
    {
        pj_doc d; char err[128];
        CHECK(parse_s(&d, "[1e400,-1e400,0.1,-0.0,9223372036854775808]", err, sizeof err) == 0);
        CHECK(isinf(d.nodes[1].u.d) && d.nodes[1].u.d > 0);
        CHECK(isinf(d.nodes[2].u.d) && d.nodes[2].u.d < 0);
        CHECK(d.nodes[3].u.d == 0.1);
        CHECK(d.nodes[4].u.d == 0.0 && signbit(d.nodes[4].u.d));
        CHECK(d.nodes[5].type == PJ_DBL && d.nodes[5].u.d == 9223372036854775808.0);
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
            if (parse_s(&d, buf, err, sizeof err) != 0) { mismatches++; fprintf(stderr, "rand %s: %s\n", buf, err); continue; }
            double want = strtod(buf, NULL);
            if (d.nodes[0].type != PJ_DBL || memcmp(&d.nodes[0].u.d, &want, 8) != 0) {
                if (mismatches++ < 5) fprintf(stderr, "rand mismatch %s: %.17g vs %.17g\n", buf, d.nodes[0].u.d, want);
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
    size_t l;
    const char *s = pj_str(&d, &d.nodes[0], &l);
    CHECKF(d.nodes[0].type == PJ_STR && l == wantlen && memcmp(s, want, l) == 0, "%s", json);
    CHECKF(!!(d.nodes[0].flags & PJ_F_ESCAPED) == escaped, "%s", json);
    if (!escaped) CHECK(s > d.text && s < d.text + d.len);
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
    check_str("\"long prefix without escapes ......... then \\t tab\"",
              "long prefix without escapes ......... then \t tab", 48, 1);
    /* several escaped and plain strings in one doc: offsets into strbuf stay right */
    {
        pj_doc d; char err[128];
        const char *j = "[\"x\\ny\",\"plain\",\"\\u00fc\",{\"k\\\"\":\"v\"}]";
        CHECK(parse_s(&d, j, err, sizeof err) == 0);
        size_t l; const char *s;
        s = pj_str(&d, &d.nodes[1], &l); CHECK(l == 3 && !memcmp(s, "x\ny", 3));
        s = pj_str(&d, &d.nodes[2], &l); CHECK(l == 5 && !memcmp(s, "plain", 5));
        s = pj_str(&d, &d.nodes[3], &l); CHECK(l == 2 && !memcmp(s, "\xc3\xbc", 2));
        CHECK(pj_obj_get(&d, 4, "k\"", 2) == 6);
        CHECK(d.strbuf_len == 3 + 2 + 2);
        pj_check_doc(&d);
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
        CHECKF(!!(d.nodes[0].flags & PJ_F_NUMLIT) == lit[k].yes, "flag for \"%s\"", lit[k].s);
        pj_free(&d);
    }
    /* decided on the decoded content */
    pj_doc d; char err[128];
    CHECK(parse_s(&d, "[\"\\u0032\\u0031.5\", \"2\\n\", {\"7\": \"x\"}]", err, sizeof err) == 0);
    CHECK(d.nodes[1].flags == (PJ_F_NUMLIT | PJ_F_ESCAPED));
    CHECK(d.nodes[2].flags == PJ_F_ESCAPED);
    CHECK(d.nodes[4].flags == PJ_F_NUMLIT);      /* keys are string nodes too */
    CHECK(d.nodes[5].flags == 0);
    pj_free(&d);
}

static void test_layout(void) {
    pj_doc d; char err[128];
    /* 0:[ 1:1 2:[ 3:2 4:3 ] 5:{ 6:"a" 7:[ 8:4 ] 9:"b" 10:{} 11:"a" 12:5 } 13:6 ] */
    const char *j = " [1,[2,3],{\"a\":[4],\"b\":{},\"a\":5},6] ";
    CHECK(parse_s(&d, j, err, sizeof err) == 0);
    CHECK(d.n_nodes == 14);
    CHECK(d.nodes[0].type == PJ_ARR && d.nodes[0].count == 4);
    CHECK(pj_arr_get(&d, 0, 0) == 1 && pj_arr_get(&d, 0, 1) == 2 && pj_arr_get(&d, 0, 2) == 5 &&
          pj_arr_get(&d, 0, 3) == 13 && pj_arr_get(&d, 0, 4) == PJ_NONE);
    CHECK(d.nodes[2].type == PJ_ARR && d.nodes[2].count == 2);
    CHECK(pj_arr_get(&d, 2, 0) == 3 && pj_arr_get(&d, 2, 1) == 4);
    CHECK(d.nodes[5].type == PJ_OBJ && d.nodes[5].count == 3);
    CHECK(d.kids[d.nodes[5].u.c.kids] == 6 && d.kids[d.nodes[5].u.c.kids + 1] == 9 &&
          d.kids[d.nodes[5].u.c.kids + 2] == 11);
    CHECK(pj_obj_get(&d, 5, "a", 1) == 12);        /* duplicate: last wins */
    CHECK(d.nodes[12].type == PJ_INT && d.nodes[12].u.i == 5);
    CHECK(pj_obj_get(&d, 5, "b", 1) == 10);
    CHECK(d.nodes[10].type == PJ_OBJ && d.nodes[10].count == 0);
    CHECK(pj_obj_get(&d, 5, "c", 1) == PJ_NONE);
    CHECK(pj_obj_get(&d, 5, "", 0) == PJ_NONE);
    CHECK(pj_obj_get(&d, 0, "a", 1) == PJ_NONE);   /* not an object */
    CHECK(pj_obj_get(&d, 7, "a", 1) == PJ_NONE);
    CHECK(pj_arr_get(&d, 7, 0) == 8 && d.nodes[8].u.i == 4);
    CHECK(pj_arr_get(&d, 1, 0) == PJ_NONE);        /* scalar: count 0 */
    CHECK(d.n_kids == 4 + 2 + 3 + 1);
    pj_check_doc(&d);
    pj_free(&d);
    CHECK(doc_is_zero(&d));
    pj_free(&d);                                   /* idempotent */
    CHECK(doc_is_zero(&d));

    CHECK(parse_s(&d, "{\"a\":1,\"a\":2,\"\":3,\"a\\u0000\":4}", err, sizeof err) == 0);
    CHECK(d.nodes[0].count == 4);
    CHECK(pj_obj_get(&d, 0, "a", 1) == 4 && d.nodes[4].u.i == 2);
    CHECK(pj_obj_get(&d, 0, "", 0) == 6);
    CHECK(pj_obj_get(&d, 0, "a\0", 2) == 8);
    pj_check_doc(&d);
    pj_free(&d);

    /* root scalars */
    CHECK(parse_s(&d, "null", err, sizeof err) == 0 && d.n_nodes == 1 && d.nodes[0].type == PJ_NULL);
    pj_free(&d);
    CHECK(parse_s(&d, "\ttrue\r\n", err, sizeof err) == 0 && d.nodes[0].type == PJ_TRUE);
    pj_free(&d);
    CHECK(parse_s(&d, "false", err, sizeof err) == 0 && d.nodes[0].type == PJ_FALSE);
    pj_free(&d);

    /* 512 deep is fine, 513 is not */
    {
        char *buf = malloc(2 * 600 + 1);
        memset(buf, '[', 512);
        memset(buf + 512, ']', 512);
        CHECK(pj_parse(&d, buf, 1024, err, sizeof err) == 0 && d.n_nodes == 512);
        pj_check_doc(&d);
        pj_free(&d);
        memset(buf, '[', 513);
        memset(buf + 513, ']', 513);
        CHECK(pj_parse(&d, buf, 1026, err, sizeof err) == -1);
        CHECK(strcmp(err, "nested too deeply at byte 512") == 0);
        free(buf);
    }
    /* wide containers: exercise growth of the node, kid and child-index arrays */
    {
        size_t n = 100000, pos = 0;
        char *buf = malloc(n * 24 + 16);
        buf[pos++] = '[';
        for (size_t k = 0; k < n; k++) pos += (size_t)sprintf(buf + pos, "%s[%zu,{}]", k ? "," : "", k);
        buf[pos++] = ']';
        CHECK(pj_parse(&d, buf, pos, err, sizeof err) == 0);
        CHECK(d.n_nodes == 1 + 3 * n && d.nodes[0].count == n);
        CHECK(d.nodes[pj_arr_get(&d, pj_arr_get(&d, 0, 77777), 0)].u.i == 77777);
        pj_check_doc(&d);
        pj_free(&d);
        pos = 0;
        buf[pos++] = '{';
        for (size_t k = 0; k < n; k++) pos += (size_t)sprintf(buf + pos, "%s\"k%zu\":%zu", k ? "," : "", k, k);
        buf[pos++] = '}';
        CHECK(pj_parse(&d, buf, pos, err, sizeof err) == 0);
        CHECK(d.nodes[0].count == n);
        CHECK(d.nodes[pj_obj_get(&d, 0, "k99999", 6)].u.i == 99999);
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
        /* and an open array/object mix */
        for (size_t k = 0; k < n; k++) buf[k] = (k % 6 < 5) ? "[{\"\":"[k % 6 < 5 ? k % 6 : 0] : ' ';
        rc = pj_parse(&d, buf, n, err, sizeof err);
        CHECK(rc == -1 && strstr(err, "nested too deeply at byte "));
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
        CHECK(d.nodes[0].type == PJ_OBJ && d.nodes[0].count == 66);
        uint32_t v = pj_obj_get(&d, 0, "indoor_actual_temperature", 25);
        CHECK(v != PJ_NONE && d.nodes[v].type == PJ_STR && (d.nodes[v].flags & PJ_F_NUMLIT));
        v = pj_obj_get(&d, 0, "actions", 7);
        CHECK(v != PJ_NONE && d.nodes[v].type == PJ_ARR && d.nodes[v].count == 2);
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
        free(copy);
    }
    CHECKF(nerr == len, "%zu of %zu prefixes rejected", nerr, len);
    /* corrupt each byte in a few ways: must never crash; successes must be consistent */
    static const unsigned char repl[] = { 0x00, '"', '\\', '{', ']', 0x80, 0xff, ',', '1', ' ' };
    size_t accepted = 0, total = 0;
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t r = 0; r < sizeof repl; r++) {
            char save = buf[pos];
            buf[pos] = (char)repl[r];
            rc = pj_parse(&d, buf, len, err, sizeof err);
            total++;
            if (rc == 0) { accepted++; pj_check_doc(&d); pj_free(&d); }
            else CHECK(rc == -1 && doc_is_zero(&d));
            buf[pos] = save;
        }
    }
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
    /* a body that needs every array to grow */
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
        long fails = 0;
        for (long c = 0;; c++) {
            pj_doc d; char err[128];
            alloc_countdown = c;
            int rc = pj_parse(&d, docs[k], lens[k], err, sizeof err);
            alloc_countdown = -1;
            if (rc == 0) { pj_check_doc(&d); pj_free(&d); break; }
            CHECKF(rc == -2 && !strcmp(err, "out of memory") && doc_is_zero(&d), "doc %d, fail #%ld: rc=%d %s", k, c, rc, err);
            fails++;
            if (c > 1000) { CHECK(0); break; }
        }
        printf("oom: doc %d: %ld injected allocation failures handled\n", k, fails);
    }
    free(wide);
    free(hp);
}
#endif

/* pj_span: each container's exact bytes, whitespace and tricky strings included */
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
        pj_check_spans(&d);
        pj_free(&d);
    }
    {
        pj_doc d;
        char err[128];
        size_t st;
        CHECK(parse_s(&d, " [ 1 , { \"a\" : [ ] } ] ", err, sizeof err) == 0);
        pj_span(&d, pj_arr_get(&d, 0, 1), &st, &len);
        CHECK(len == 13 && memcmp(d.text + st, "{ \"a\" : [ ] }", 13) == 0);
        pj_free(&d);
    }
    {
        char *body = read_file(path, &len);
        pj_doc d;
        char err[128];
        CHECK(body != NULL);
        if (body) {
            CHECK(pj_parse(&d, body, len, err, sizeof err) == 0);
            pj_check_spans(&d);
            pj_free(&d);
            free(body);
        }
    }
    printf("spans: checked\n");
}

static void test_locale(void) {
    /* the double must not depend on LC_NUMERIC */
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
    setlocale(LC_NUMERIC, "C");
    CHECK(d.nodes[1].u.d == strtod("1.25e300", NULL));
    CHECK(d.nodes[2].u.d == strtod("3.141592653589793238462643383279", NULL));
    CHECK(d.nodes[3].u.d == 0.1);
    printf("locale test ran with LC_NUMERIC=%s (decimal point '%s')\n", name, point);
    pj_free(&d);
}

/* ------------------------------------------------------------------ benchmark */
static int bench(const char *path, long iters) {
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) { fprintf(stderr, "cannot read %s\n", path); return 1; }
    pj_doc d; char err[128];
    uint64_t sum = 0;
    struct timespec t0, t1;
    for (long k = 0; k < iters / 10 + 1; k++) {   /* warm-up */
        if (pj_parse(&d, buf, len, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
        sum += d.n_nodes;
        pj_free(&d);
    }
    /* 10 batches: the mean is what was asked for, the best batch shows the noise floor */
    double s = 0, best = 1e30;
    long batch = iters / 10 > 0 ? iters / 10 : 1;
    for (int b = 0; b < 10; b++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long k = 0; k < batch; k++) {
            pj_parse(&d, buf, len, err, sizeof err);
            sum += d.n_nodes;
            pj_free(&d);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double bs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        s += bs;
        if (bs < best) best = bs;
    }
    iters = batch * 10;
    printf("%s: %zu bytes, %ld parses: %.3f us/parse mean (best batch %.3f), %.0f MB/s (checksum %llu)\n",
           path, len, iters, s / (double)iters * 1e6, best / (double)batch * 1e6,
           (double)len * (double)iters / s / 1e6, (unsigned long long)sum);
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
    test_locale();
    test_spans(hp);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
