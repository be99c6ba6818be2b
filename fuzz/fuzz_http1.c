/*
 * fuzz_http1.c: libFuzzer target for csrc/http1.c. From the repository root (`make fuzz`
 * runs the same):
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -Icsrc fuzz/fuzz_http1.c csrc/http1.c -lm -o build/fuzz/fuzz_http1
 *   mkdir -p build/fuzz/http1
 *   build/fuzz/fuzz_http1 -max_total_time=60 -max_len=8192 build/fuzz/http1 fuzz/corpus/http1
 *
 * The first byte sets the feeding: bits 0-4 the piece size (0: the rest in one piece),
 * bit 5 a HEAD request, bit 6 a small max_body (100), bit 7 a small max_head (128). The rest
 * is fed in pieces, then EOF if the parser still wants more. Checked:
 *  - DONE: status 200..599, body non-NULL, NUL-terminated, body_len <= max_body;
 *  - ERROR: an error kind, a non-empty one-line message;
 *  - the result is stable: feeding again or EOF changes nothing;
 *  - differential: the same bytes fed in one piece give the same result, status, error
 *    kind and body (keepalive may only be lost by the one-piece feed, which also sees the
 *    bytes after the answer);
 * and the input as a string goes through h1_retry_after, h1_split_url and h1_request.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "CHECK failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

typedef struct run { int rc, status, keepalive, errkind; size_t body_len; char *body; } run;

static void setup(h1_parser *p, uint8_t mode) {
    h1_init(p, (mode & 0x40) ? 100 : 1 << 20);
    if (mode & 0x80) p->max_head = 128;
    p->head_request = (mode & 0x20) != 0;
}

static void check_final(h1_parser *p, int rc) {
    if (rc == H1_DONE) {
        CHECK(p->status >= 200 && p->status <= 599);
        CHECK(p->body != NULL && p->body[p->body_len] == '\0');
        CHECK(p->body_len <= p->max_body);
        CHECK(p->keepalive == 0 || p->keepalive == 1);
    } else {
        CHECK(rc == H1_ERROR);
        CHECK(p->errkind > H1_E_NONE && p->errkind <= H1_E_MEMORY);
        CHECK(p->errmsg[0] != '\0' && strlen(p->errmsg) < sizeof p->errmsg);
        CHECK(strchr(p->errmsg, '\r') == NULL && strchr(p->errmsg, '\n') == NULL);
        CHECK(p->keepalive == 0);
    }
    /* stable: nothing more is read */
    int st = p->status, ka = p->keepalive, ek = p->errkind;
    size_t bl = p->body_len;
    char msg[sizeof p->errmsg];
    memcpy(msg, p->errmsg, sizeof msg);
    CHECK(h1_feed(p, "HTTP/1.1 200 OK\r\n\r\n", 19) == rc);
    CHECK(h1_feed_eof(p) == rc);
    CHECK(p->status == st && p->keepalive == ka && p->errkind == ek && p->body_len == bl);
    CHECK(memcmp(msg, p->errmsg, sizeof msg) == 0);
}

static run feed(const uint8_t *d, size_t n, uint8_t mode, size_t piece) {
    h1_parser p;
    run r;
    setup(&p, mode);
    int rc = H1_MORE;
    for (size_t off = 0; rc == H1_MORE && off < n; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        rc = h1_feed(&p, (const char *)d + off, k);
        CHECK(rc == H1_MORE || rc == H1_DONE || rc == H1_ERROR);
        CHECK(p.received <= n);
    }
    if (rc == H1_MORE) rc = h1_feed_eof(&p);
    check_final(&p, rc);
    r.rc = rc;
    r.status = p.status;
    r.keepalive = p.keepalive;
    r.errkind = p.errkind;
    r.body = rc == H1_DONE ? h1_take_body(&p, &r.body_len) : NULL;
    if (!r.body) r.body_len = 0;
    h1_free(&p);
    h1_free(&p);
    return r;
}

static void strings(const uint8_t *d, size_t n) {
    double ra = h1_retry_after((const char *)d, n, 1704067200.0);
    CHECK(ra == -1 || (ra >= 0 && ra <= 1e9));

    char *s = malloc(n + 1);
    if (!s) return;
    memcpy(s, d, n);
    s[n] = '\0';
    h1_url u;
    if (h1_split_url(s, &u) == 0) {
        CHECK(u.port >= 1 && u.port <= 65535 && u.host[0] != '\0');
        CHECK(strlen(u.host) < sizeof u.host && strlen(u.path) < sizeof u.path);
        CHECK(u.path[0] == '\0' || u.path[0] == '/');
        CHECK(!strpbrk(u.path, "?# \r\n") && !strpbrk(u.hostport, " \r\n"));
    } else {
        CHECK(u.host[0] == '\0' && u.port == 0);
    }
    char *out;
    size_t len;
    int rc = h1_request(&out, &len, "GET", "h", s, NULL, s, n);
    if (rc == 0) {
        CHECK(out[len] == '\0' && len >= n && memcmp(out + len - n, d, n) == 0);
        CHECK(memchr(out, '\n', len - n) != NULL);
        free(out);
    } else {
        CHECK(rc == -2 && out == NULL);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    size_t piece = mode & 0x1f;
    data++;
    size--;
    run whole = feed(data, size, mode, size ? size : 1);
    if (piece) {
        run split = feed(data, size, mode, piece);
        CHECK(split.rc == whole.rc && split.status == whole.status && split.errkind == whole.errkind);
        CHECK(split.body_len == whole.body_len);
        CHECK(split.body_len == 0 || memcmp(split.body, whole.body, split.body_len) == 0);
        CHECK(!whole.keepalive || split.keepalive);
        free(split.body);
    }
    free(whole.body);
    strings(data, size);
    return 0;
}
