/*
 * http1_test.c: standalone tests for csrc/http1.c (not part of the product build). From the
 * repository root (`make ctest` runs the same):
 *
 *   gcc -std=gnu11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
 *       -fno-sanitize-recover=all -Icsrc tests-c/http1_test.c csrc/http1.c -lm \
 *       -o build/ctest/http1_test && build/ctest/http1_test
 *
 * Every response is fed whole, split in two at every offset, and in pieces of 1, 2, 3, 7
 * and 64 bytes; each way must give the same result. Optional allocation-failure injection
 * (every allocation of every response made to fail in turn):
 *   add -DH1_TEST_WRAP -Wl,--wrap=malloc,--wrap=realloc to the line above.
 * Ends with "N checks, M failures"; exit status 1 on any failure.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

static int failures = 0, checks = 0;

#define CHECK(cond) CHECKF(cond, "%s", "")
#define CHECKF(cond, ...) do { checks++; if (!(cond)) { failures++; if (failures <= 60) { \
    fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } } while (0)

/* ------------------------------------------------------------------ allocation failures */
#ifdef H1_TEST_WRAP
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
static long alloc_countdown = -1;   /* -1: never fail; else fail when it reaches 0 */
static int alloc_fail_now(void) { return alloc_countdown >= 0 && alloc_countdown-- == 0; }
void *__wrap_malloc(size_t n) { return alloc_fail_now() ? NULL : __real_malloc(n); }
void *__wrap_realloc(void *p, size_t n) { return alloc_fail_now() ? NULL : __real_realloc(p, n); }
#endif

/* ------------------------------------------------------------------ the feeding harness */

typedef struct expect {
    int rc;                  /* H1_DONE or H1_ERROR, after feed_eof when eof */
    int eof;                 /* the peer closes after the bytes */
    int status, keepalive;   /* at DONE */
    const char *body;        /* at DONE */
    int errkind;             /* at ERROR */
    const char *errmsg;      /* at ERROR: a substring of the message */
    const char *retry_after; /* NULL: "" */
    size_t max_body, max_head;
    int head_request;
} expect;

typedef struct outcome {
    int rc, status, keepalive, errkind;
    char errmsg[160];
    char *body;
    size_t body_len;
    char retry_after[128];
} outcome;

static void setup(h1_parser *p, const expect *e) {
    h1_init(p, e->max_body ? e->max_body : 1 << 20);
    if (e->max_head) p->max_head = e->max_head;
    p->head_request = e->head_request;
}

/* Feeds r[0..len) in pieces: the first of size first (0: none), the rest of size step. */
static outcome feed(const char *r, size_t len, const expect *e, size_t first, size_t step) {
    h1_parser p;
    outcome o;
    memset(&o, 0, sizeof o);
    setup(&p, e);
    int rc = H1_MORE;
    size_t off = 0;
    while (rc == H1_MORE && off < len) {
        size_t n = off == 0 && first ? first : step;
        if (n > len - off) n = len - off;
        rc = h1_feed(&p, r + off, n);
        off += n;
    }
    if (rc == H1_MORE && e->eof) rc = h1_feed_eof(&p);
    /* the state is stable once decided */
    if (rc != H1_MORE) {
        CHECK(h1_feed(&p, "HTTP/1.1 200 OK\r\n\r\n", 19) == rc);
        CHECK(h1_feed_eof(&p) == rc);
    }
    CHECK(strchr(p.errmsg, '\r') == NULL && strchr(p.errmsg, '\n') == NULL);
    o.rc = rc;
    o.status = p.status;
    o.keepalive = p.keepalive;
    o.errkind = p.errkind;
    memcpy(o.errmsg, p.errmsg, sizeof o.errmsg);
    memcpy(o.retry_after, p.retry_after, sizeof o.retry_after);
    if (rc == H1_DONE) {
        CHECK(p.body != NULL && p.body[p.body_len] == '\0');
        CHECK(p.body_len <= p.max_body);
        o.body = h1_take_body(&p, &o.body_len);
        CHECK(p.body == NULL && p.body_len == 0);
    }
    h1_free(&p);
    h1_free(&p);          /* safe twice */
    return o;
}

static void check_outcome(const char *name, const outcome *o, const expect *e, size_t first, size_t step) {
    const char *ra = e->retry_after ? e->retry_after : "";
    CHECKF(o->rc == e->rc, "%s (%zu/%zu): rc %d, want %d (%s)", name, first, step, o->rc, e->rc, o->errmsg);
    if (o->rc != e->rc) return;
    if (e->rc == H1_DONE) {
        size_t bl = strlen(e->body);
        CHECKF(o->status == e->status, "%s (%zu/%zu): status %d", name, first, step, o->status);
        CHECKF(o->keepalive == e->keepalive, "%s (%zu/%zu): keepalive %d", name, first, step, o->keepalive);
        CHECKF(o->body_len == bl && memcmp(o->body, e->body, bl) == 0, "%s (%zu/%zu): body [%.*s]", name,
               first, step, (int)o->body_len, o->body);
        CHECKF(strcmp(o->retry_after, ra) == 0, "%s: retry_after [%s]", name, o->retry_after);
    } else {
        CHECKF(o->errkind == e->errkind, "%s (%zu/%zu): errkind %d (%s)", name, first, step, o->errkind,
               o->errmsg);
        CHECKF(strstr(o->errmsg, e->errmsg) != NULL, "%s (%zu/%zu): errmsg [%s]", name, first, step,
               o->errmsg);
    }
}

#ifdef H1_TEST_WRAP
/* Every allocation made to fail in turn: an error of kind MEMORY or the normal result. */
static void alloc_failures(const char *r, size_t len, const expect *e) {
    for (long k = 0; k < 64; k++) {
        alloc_countdown = k;
        outcome o = feed(r, len, e, 0, 1);
        long left = alloc_countdown;
        alloc_countdown = -1;
        free(o.body);
        if (o.rc == H1_ERROR && o.errkind == H1_E_MEMORY) continue;
        CHECKF(o.rc == e->rc, "alloc fail %ld: rc %d", k, o.rc);
        if (left >= 0) break;     /* the failure was never reached: every allocation covered */
    }
}
#endif

/* The response whole, split in two at every offset, and in small pieces. */
static void run(const char *name, const char *r, size_t len, expect e) {
    static const size_t steps[] = {1, 2, 3, 7, 64};
    outcome whole = feed(r, len, &e, 0, len ? len : 1);
    check_outcome(name, &whole, &e, 0, len);
    for (size_t k = 1; k < len; k++) {
        outcome o = feed(r, len, &e, k, len);
        check_outcome(name, &o, &e, k, len);
        if (o.rc == H1_ERROR)
            CHECKF(strcmp(o.errmsg, whole.errmsg) == 0, "%s split %zu: [%s] vs [%s]", name, k, o.errmsg,
                   whole.errmsg);
        free(o.body);
    }
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        outcome o = feed(r, len, &e, 0, steps[i]);
        check_outcome(name, &o, &e, 0, steps[i]);
        free(o.body);
    }
    free(whole.body);
#ifdef H1_TEST_WRAP
    alloc_failures(r, len, &e);
#endif
}

#define RUN(name, lit, ...) run(name, lit, sizeof(lit) - 1, (expect){__VA_ARGS__})
#define OK(st, ka, b) .rc = H1_DONE, .status = (st), .keepalive = (ka), .body = (b)
#define ERR(kind, msg) .rc = H1_ERROR, .errkind = (kind), .errmsg = (msg)

/* ------------------------------------------------------------------ framing */

static void test_content_length(void) {
    RUN("CL", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":\"hello\"}",
        OK(200, 1, "{\"a\":\"hello\"}"));
    RUN("CL bare LF", "HTTP/1.1 201 Created\nContent-Length: 3\n\nabc", OK(201, 1, "abc"));
    RUN("CL mixed line ends", "HTTP/1.1 200 OK\r\ncontent-length: 3\n\r\nabc", OK(200, 1, "abc"));
    RUN("CL 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", OK(200, 1, ""));
    RUN("no reason", "HTTP/1.1 404\r\nContent-Length: 2\r\n\r\nno", OK(404, 1, "no"));
    RUN("empty reason", "HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n", OK(503, 1, ""));
    RUN("obs-text reason", "HTTP/1.1 200 \xc3\xa9t\xc3\xa9\tok\r\nContent-Length: 0\r\n\r\n", OK(200, 1, ""));
    RUN("HTTP/1.2", "HTTP/1.2 200 OK\r\nContent-Length: 1\r\n\r\nx", OK(200, 1, "x"));
    RUN("CL list agreeing", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nCONTENT-LENGTH:3\r\n\r\nabc",
        OK(200, 1, "abc"));
    RUN("CL OWS", "HTTP/1.1 200 OK\r\nContent-Length: \t 3 \t\r\n\r\nabc", OK(200, 1, "abc"));
    RUN("CL leading zeros", "HTTP/1.1 200 OK\r\nContent-Length: 003\r\n\r\nabc", OK(200, 1, "abc"));
    RUN("retry-after", "HTTP/1.1 429 Too Many\r\nRetry-After:  120 \r\nContent-Length: 0\r\n\r\n",
        OK(429, 1, ""), .retry_after = "120");
    RUN("retry-after first wins", "HTTP/1.1 503 x\r\nretry-after: 5\r\nRetry-After: 6\r\nContent-Length: 0\r\n\r\n",
        OK(503, 1, ""), .retry_after = "5");
    RUN("retry-after too long", "HTTP/1.1 503 x\r\nRetry-After: "
        "0123456789012345678901234567890123456789012345678901234567890123456789"
        "0123456789012345678901234567890123456789012345678901234567890123456789\r\nContent-Length: 0\r\n\r\n",
        OK(503, 1, ""));
    RUN("other CTLs in values kept", "HTTP/1.1 200 OK\r\nX: a\x01" "b\r\nContent-Length: 0\r\n\r\n", OK(200, 1, ""));
}

static void test_content_length_errors(void) {
    RUN("CL conflict", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        ERR(H1_E_PROTOCOL, "conflicting Content-Length"));
    RUN("CL list conflict", "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
        ERR(H1_E_PROTOCOL, "conflicting Content-Length"));
    RUN("CL plus", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", ERR(H1_E_PROTOCOL, "Content-Length"));
    RUN("CL minus", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ERR(H1_E_PROTOCOL, "Content-Length"));
    RUN("CL hex", "HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\nabc", ERR(H1_E_PROTOCOL, "Content-Length"));
    RUN("CL empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", ERR(H1_E_PROTOCOL, "Content-Length"));
    RUN("CL empty element", "HTTP/1.1 200 OK\r\nContent-Length: 3,\r\n\r\nabc", ERR(H1_E_PROTOCOL, "Content-Length"));
    RUN("CL overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ERR(H1_E_PROTOCOL, "out of range"));
    RUN("CL on 204 still checked", "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n",
        ERR(H1_E_PROTOCOL, "Content-Length"));
}

static void test_chunked(void) {
    RUN("chunked ext trailers",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;foo=bar\r\nhello\r\n6 ; x=\"y\"\r\n world\r\n0;last\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
        OK(200, 1, "hello world"));
    RUN("chunked bare LF", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", OK(200, 1, "abc"));
    RUN("chunked hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n00A\r\n0123456789\r\na\r\n"
        "abcdefghij\r\n0\r\n\r\n", OK(200, 1, "0123456789abcdefghij"));
    RUN("chunked empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", OK(200, 1, ""));
    RUN("chunked empty TE line", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\nTransfer-Encoding: , chunked\r\n\r\n"
        "0\r\n\r\n", OK(200, 1, ""));
    RUN("TE + CL", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        OK(200, 0, "ok"));
    RUN("HTTP/1.0 chunked", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nok\r\n0\r\n\r\n", OK(200, 0, "ok"));
    RUN("chunked trailer CRLF only after LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1\r\nx\r\n0\r\nA: b\n\r\n", OK(200, 1, "x"));
}

static void test_chunked_errors(void) {
    RUN("TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ERR(H1_E_PROTOCOL, "Transfer-Encoding"));
    RUN("TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        ERR(H1_E_PROTOCOL, "Transfer-Encoding"));
    RUN("TE chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ERR(H1_E_PROTOCOL, "Transfer-Encoding"));
    RUN("TE identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", ERR(H1_E_PROTOCOL, "Transfer-Encoding"));
    RUN("TE empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", ERR(H1_E_PROTOCOL, "Transfer-Encoding"));
    RUN("chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        ERR(H1_E_PROTOCOL, "out of range"));
    RUN("chunk size none", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", ERR(H1_E_PROTOCOL, "chunk"));
    RUN("chunk size empty line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", ERR(H1_E_PROTOCOL, "chunk"));
    RUN("chunk size junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n",
        ERR(H1_E_PROTOCOL, "chunk"));
    RUN("chunk size 0x", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n",
        ERR(H1_E_PROTOCOL, "chunk"));
    RUN("chunk size bare CR", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n",
        ERR(H1_E_PROTOCOL, "chunk"));
    RUN("chunk no CRLF after data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
        ERR(H1_E_PROTOCOL, "no CRLF"));
    RUN("chunk CR without LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX",
        ERR(H1_E_PROTOCOL, "no CRLF"));
    RUN("chunk ext NUL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\0b\r\nhello\r\n",
        ERR(H1_E_PROTOCOL, "chunk"));
    RUN("trailer bare CR", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\rc\r\n\r\n",
        ERR(H1_E_PROTOCOL, "trailer"));
    RUN("chunk line over max_head", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nhello\r\n",
        ERR(H1_E_TOO_LARGE, "chunk size line is longer than 64 bytes"), .max_head = 64);
    RUN("trailers over max_head", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        "A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nB: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n",
        ERR(H1_E_TOO_LARGE, "trailer block is larger than 64 bytes"), .max_head = 64);
}

static void test_interim_and_no_body(void) {
    RUN("100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        OK(200, 1, "ok"));
    RUN("100 + 103 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n"
        "Retry-After: 9\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nok\r\n0\r\n\r\n", OK(200, 1, "ok"));
    RUN("101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", ERR(H1_E_PROTOCOL, "101"));
    RUN("204 with CL", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", OK(204, 1, ""));
    RUN("304 with TE", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", OK(304, 1, ""));
    RUN("HEAD with CL", "HTTP/1.1 200 OK\r\nContent-Length: 3300\r\n\r\n", OK(200, 1, ""), .head_request = 1);
    RUN("HEAD without framing", "HTTP/1.1 200 OK\r\n\r\n", OK(200, 1, ""), .head_request = 1);
    RUN("HEAD CL over max_body", "HTTP/1.1 200 OK\r\nContent-Length: 3300\r\n\r\n", OK(200, 1, ""),
        .head_request = 1, .max_body = 10);
    RUN("read to close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabcdef", OK(200, 0, "abcdef"),
        .eof = 1);
    RUN("read to close empty", "HTTP/1.1 500 Oops\r\n\r\n", OK(500, 0, ""), .eof = 1);
    RUN("read to close 1.0", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc", OK(200, 0, "abc"), .eof = 1);
}

static void test_truncation_and_limits(void) {
    RUN("truncated CL", "HTTP/1.1 200 OK\r\nContent-Length: 3300\r\n\r\n0123456789",
        ERR(H1_E_TRUNCATED, "the answer ended before its body was complete (got 10 of 3300 bytes)"), .eof = 1);
    RUN("truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n wo",
        ERR(H1_E_TRUNCATED, "chunked body was complete (got 8 bytes)"), .eof = 1);
    RUN("truncated trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n",
        ERR(H1_E_TRUNCATED, "chunked body"), .eof = 1);
    RUN("truncated head", "HTTP/1.1 200 OK\r\nContent-Le",
        ERR(H1_E_TRUNCATED, "header block was complete (got 27 bytes)"), .eof = 1);
    RUN("truncated after 100", "HTTP/1.1 100 Continue\r\n\r\n", ERR(H1_E_TRUNCATED, "header block"), .eof = 1);
    RUN("nothing", "", ERR(H1_E_TRUNCATED, "closed before any answer"), .eof = 1);
    RUN("CL over max_body", "HTTP/1.1 200 OK\r\nContent-Length: 3300\r\n\r\n",
        ERR(H1_E_TOO_LARGE, "the answer is larger than 100 bytes"), .max_body = 100);
    RUN("CL at max_body", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", OK(200, 1, "abcd"), .max_body = 4);
    RUN("chunked over max_body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\n",
        ERR(H1_E_TOO_LARGE, "the answer is larger than 8 bytes"), .max_body = 8);
    RUN("chunked at max_body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n"
        "0\r\n\r\n", OK(200, 1, "helloabc"), .max_body = 8);
    RUN("close over max_body", "HTTP/1.1 200 OK\r\n\r\n0123456789",
        ERR(H1_E_TOO_LARGE, "the answer is larger than 9 bytes"), .max_body = 9);
    RUN("close at max_body", "HTTP/1.1 200 OK\r\n\r\n0123456789", OK(200, 0, "0123456789"), .max_body = 10,
        .eof = 1);

    /* the head limit: exactly max_head bytes pass, one more fails (each 1xx head on its own) */
    static const char h[] = "HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaa\r\nContent-Length: 2\r\n\r\nok";
    size_t hl = sizeof h - 1 - 2;
    run("head at max_head", h, sizeof h - 1, (expect){OK(200, 1, "ok"), .max_head = hl});
    run("head over max_head", h, sizeof h - 1, (expect){ERR(H1_E_TOO_LARGE, "header block is larger than"),
        .max_head = hl - 1});
    RUN("head over default max_head (no end)", "HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ERR(H1_E_TOO_LARGE, "the answer's header block is larger than 32 bytes"), .max_head = 32);
    RUN("1xx heads counted apart", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\n\r\n", OK(200, 0, ""), .max_head = 26, .eof = 1);
}

static void test_head_errors(void) {
    static const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 600 High\r\n\r\n", "ICY 200 OK\r\n\r\n", "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n", "HTTP/1.x 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 200 O\x01K\r\n\r\n",
        "HTTP/1.1 200 OK\rX\r\n\r\n", "\n\n", "HTTP/1.1\r\n\r\n", "<html>\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        run(bad[i], bad[i], strlen(bad[i]), (expect){ERR(H1_E_PROTOCOL, "the answer is not HTTP/1.x (bad status line)")});
    RUN("status line NUL", "HTTP/1.1 200 O\0K\r\n\r\n", ERR(H1_E_PROTOCOL, "bad status line"));
    RUN("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", ERR(H1_E_PROTOCOL, "obs-fold"));
    RUN("obs-fold tab", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n", ERR(H1_E_PROTOCOL, "obs-fold"));
    RUN("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", ERR(H1_E_PROTOCOL, "malformed header"));
    RUN("no colon", "HTTP/1.1 200 OK\r\nContent-Length\r\n\r\n", ERR(H1_E_PROTOCOL, "malformed header"));
    RUN("empty name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", ERR(H1_E_PROTOCOL, "malformed header"));
    RUN("bad name", "HTTP/1.1 200 OK\r\nA(b): x\r\n\r\n", ERR(H1_E_PROTOCOL, "malformed header"));
    RUN("NUL in value", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", ERR(H1_E_PROTOCOL, "malformed header"));
    RUN("bare CR in value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", ERR(H1_E_PROTOCOL, "malformed header"));
}

static void test_keepalive(void) {
    RUN("1.0 plain", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", OK(200, 0, "ok"));
    RUN("1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", OK(200, 1, "ok"));
    RUN("1.0 keep-alive, close", "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok",
        OK(200, 0, "ok"));
    RUN("1.1 close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", OK(200, 0, "ok"));
    RUN("1.1 list CLOSE", "HTTP/1.1 200 OK\r\nConnection: foo ,CLOSE\r\nContent-Length: 2\r\n\r\nok", OK(200, 0, "ok"));
    RUN("1.1 closed (not close)", "HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 2\r\n\r\nok",
        OK(200, 1, "ok"));
    RUN("1.1 keep-alive", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", OK(200, 1, "ok"));
    RUN("1.0 204", "HTTP/1.0 204 No Content\r\n\r\n", OK(204, 0, ""));
}

/* Bytes after the answer: in the same feed they clear keepalive; never an error. */
static void test_extra_bytes(void) {
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
    static const char c[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nX";
    static const char n[] = "HTTP/1.1 204 No Content\r\n\r\nX";
    const char *rs[] = {r, c, n};
    size_t lens[] = {sizeof r - 1, sizeof c - 1, sizeof n - 1};
    size_t ends[] = {sizeof r - 1 - 17, sizeof c - 2, sizeof n - 2};
    for (int t = 0; t < 3; t++) {
        for (size_t k = 0; k <= lens[t]; k++) {     /* k: first piece; rest in the second */
            h1_parser p;
            h1_init(&p, 1000);
            int rc = k ? h1_feed(&p, rs[t], k) : H1_MORE;
            if (rc == H1_MORE) rc = h1_feed(&p, rs[t] + k, lens[t] - k);
            CHECKF(rc == H1_DONE, "extra %d/%zu: %d", t, k, rc);
            CHECKF(p.keepalive == (k == ends[t]), "extra %d/%zu: keepalive %d", t, k, p.keepalive);
            CHECK(strcmp(p.body, t == 2 ? "" : "ok") == 0);
            h1_free(&p);
        }
    }
}

/* One parser, several answers on one connection, with h1_reset between them. */
static void test_reset(void) {
    static const char a[] = "HTTP/1.1 200 OK\r\nRetry-After: 3\r\nContent-Length: 5\r\n\r\nfirst";
    static const char b[] = "HTTP/1.1 201 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n";
    static const char c[] = "HTTP/1.1 200 OK\r\nContent-Length: 3300\r\n\r\n";
    h1_parser p;
    h1_init(&p, 10);
    p.max_head = 4096;
    CHECK(h1_feed(&p, a, sizeof a - 1) == H1_DONE && p.keepalive == 1);
    CHECK(strcmp(p.body, "first") == 0 && strcmp(p.retry_after, "3") == 0);
    char *kept = p.body;
    h1_reset(&p);
    CHECK(p.max_body == 10 && p.max_head == 4096 && p.status == 0 && p.retry_after[0] == '\0');
    CHECK(p.body == kept && p.body_len == 0);       /* the buffer's memory is kept */
    for (size_t i = 0; i < sizeof b - 1; i++) {       /* second answer, byte by byte */
        int rc = h1_feed(&p, b + i, 1);
        CHECK(rc == (i + 2 == sizeof b ? H1_DONE : H1_MORE));
    }
    CHECK(p.status == 201 && p.keepalive == 1 && strcmp(p.body, "second") == 0);
    size_t len;
    kept = p.body;
    char *body = h1_take_body(&p, &len);
    CHECK(body == kept && len == 6 && p.body == NULL);
    free(body);
    h1_reset(&p);
    CHECK(h1_feed(&p, c, sizeof c - 1) == H1_ERROR && p.errkind == H1_E_TOO_LARGE);
    h1_reset(&p);
    CHECK(p.errkind == H1_E_NONE && p.errmsg[0] == '\0');
    p.head_request = 1;
    CHECK(h1_feed(&p, c, sizeof c - 1) == H1_DONE && p.body_len == 0);
    h1_reset(&p);
    CHECK(p.head_request == 0);
    CHECK(h1_feed(&p, a, 20) == H1_MORE);           /* a partial head is dropped by the reset */
    h1_reset(&p);
    CHECK(h1_feed(&p, a, sizeof a - 1) == H1_DONE && strcmp(p.body, "first") == 0);
    body = h1_take_body(&p, &len);
    CHECK(body != NULL && len == 5 && p.body == NULL);
    free(body);
    CHECK(h1_feed(&p, "x", 1) == H1_DONE);          /* still DONE after the take */
    h1_free(&p);

    h1_parser z;
    memset(&z, 0, sizeof z);
    h1_free(&z);                                    /* zeroed struct */
    CHECK(h1_take_body(&z, &len) == NULL && len == 0);
    h1_init(&z, 10);
    CHECK(h1_feed(&z, NULL, 0) == H1_MORE && h1_feed(&z, "", 0) == H1_MORE && z.received == 0);
    CHECK(h1_feed_eof(&z) == H1_ERROR && z.errkind == H1_E_TRUNCATED);
    CHECK(h1_feed(&z, a, sizeof a - 1) == H1_ERROR);
    h1_free(&z);
}

/* ------------------------------------------------------------------ Retry-After */

static void ra(const char *v, double now, double want, int line) {
    double got = h1_retry_after(v, strlen(v), now);
    checks++;
    if (!(got == want)) {
        failures++;
        fprintf(stderr, "FAIL %s:%d: h1_retry_after(\"%s\") = %.17g, want %.17g\n", __FILE__, line, v, got, want);
    }
}
#define RA(v, now, want) ra(v, now, want, __LINE__)

static void test_retry_after(void) {
    const double t94 = 784111777;   /* Sun, 06 Nov 1994 08:49:37 GMT */
    const double t24 = 1704067200;  /* Mon, 01 Jan 2024 00:00:00 GMT */
    RA("120", 0, 120);
    RA(" \t120 ", 0, 120);
    RA("0", 0, 0);
    RA("999999999", 0, 999999999);
    RA("1234567890", 0, 1e9);
    RA("99999999999999999999999999999", 0, 1e9);
    RA("0000000000005", 0, 5);
    RA("", 0, -1);
    RA("  ", 0, -1);
    RA("-1", 0, -1);
    RA("+1", 0, -1);
    RA("1.5", 0, -1);
    RA("12 s", 0, -1);
    RA("soon", 0, -1);
    RA("Sun, 06 Nov 1994 08:49:47 GMT", t94, 10);
    RA("Sun, 06 Nov 1994 08:49:37 GMT", t94, 0);
    RA("Sunday, 06-Nov-94 08:49:47 GMT", t94, 10);
    RA("Sun Nov  6 08:49:47 1994", t94, 10);
    RA("Sun Nov 06 08:49:47 1994", t94, 10);
    RA("sun, 06 nov 1994 08:49:47 gmt", t94, 10);
    RA(" Sun, 06 Nov 1994 08:49:47 GMT ", t94, 10);
    RA("Sat, 05 Nov 1994 08:49:37 GMT", t94, 0);            /* past */
    RA("Thu, 01 Jan 1970 00:00:00 GMT", t24, 0);
    RA("Mon, 01 Jan 2024 01:00:00 GMT", t24, 3600);
    RA("Tue, 29 Feb 2000 00:00:00 GMT", 951782400 - 60, 60);
    RA("Thu, 29 Feb 2001 00:00:00 GMT", 0, -1);             /* no such day */
    RA("Sun, 31 Apr 1994 00:00:00 GMT", 0, -1);
    RA("Sun, 00 Nov 1994 08:49:37 GMT", 0, -1);
    RA("Sun, 06 Nov 1994 24:00:00 GMT", 0, -1);
    RA("Sun, 06 Nov 1994 08:60:00 GMT", 0, -1);
    RA("Sun, 06 Nov 1994 08:49:37 UTC", 0, -1);
    RA("Sun, 06 Nov 1994 08:49:37 GMT x", 0, -1);
    RA("Sun, 6 Nov 1994 08:49:37 GMT", 0, -1);
    RA("Sun, 06 Nov 94 08:49:37 GMT", 0, -1);
    RA("Sunday, 06-Nov-1994 08:49:37 GMT", 0, -1);
    RA("Sun Nov 6 08:49:47 1994", 0, -1);
    RA("Foo, 06 Nov 1994 08:49:37 GMT", 0, -1);
    RA("Sun, 06 Foo 1994 08:49:37 GMT", 0, -1);
    RA("Fri, 31 Dec 9999 23:59:59 GMT", t24, 1e9);          /* far future: capped */
    /* RFC 850 two-digit years: at most 50 years ahead of now (2024) */
    RA("Wednesday, 01-Jan-25 00:00:00 GMT", t24, 366 * 86400.0);
    RA("Sunday, 01-Jan-74 00:00:00 GMT", t24, 1e9);         /* 2074: 50 years ahead, capped */
    RA("Tuesday, 01-Jan-75 00:00:00 GMT", t24, 0);          /* 1975 */
    RA("Monday, 01-Jan-24 00:00:10 GMT", t24, 10);
    CHECK(h1_retry_after(NULL, 0, 0) == -1);
    CHECK(h1_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", 29, NAN) == -1);
    CHECK(h1_retry_after("12", 1, 0) == 1);                  /* only n bytes are read */
}

/* ------------------------------------------------------------------ URLs */

static void test_split_url(void) {
    h1_url u;
    CHECK(h1_split_url("http://example.com", &u) == 0 && u.tls == 0 && u.port == 80);
    CHECK(strcmp(u.host, "example.com") == 0 && strcmp(u.hostport, "example.com") == 0 && u.path[0] == '\0');
    CHECK(h1_split_url("https://api.podero.com/api/", &u) == 0 && u.tls == 1 && u.port == 443);
    CHECK(strcmp(u.hostport, "api.podero.com") == 0 && strcmp(u.path, "/api/") == 0);
    CHECK(h1_split_url("HTTPS://Api.Example.com:443/v1", &u) == 0 && u.tls && u.port == 443);
    CHECK(strcmp(u.hostport, "Api.Example.com") == 0 && strcmp(u.path, "/v1") == 0);
    CHECK(h1_split_url("http://127.0.0.1:8080/base/path", &u) == 0 && u.port == 8080);
    CHECK(strcmp(u.host, "127.0.0.1") == 0 && strcmp(u.hostport, "127.0.0.1:8080") == 0);
    CHECK(strcmp(u.path, "/base/path") == 0);
    CHECK(h1_split_url("http://[::1]:8080/x", &u) == 0 && u.port == 8080);
    CHECK(strcmp(u.host, "::1") == 0 && strcmp(u.hostport, "[::1]:8080") == 0 && strcmp(u.path, "/x") == 0);
    CHECK(h1_split_url("https://[2001:db8::ffff:1.2.3.4]", &u) == 0 && u.port == 443);
    CHECK(strcmp(u.host, "2001:db8::ffff:1.2.3.4") == 0 && strcmp(u.hostport, "[2001:db8::ffff:1.2.3.4]") == 0);
    CHECK(h1_split_url("http://h:443/", &u) == 0 && strcmp(u.hostport, "h:443") == 0);
    CHECK(h1_split_url("https://h:80", &u) == 0 && strcmp(u.hostport, "h:80") == 0);
    CHECK(h1_split_url("http://h:00080", &u) == 0 && u.port == 80 && strcmp(u.hostport, "h") == 0);
    CHECK(h1_split_url("http://h:65535", &u) == 0 && u.port == 65535);
    static const char *bad[] = {
        "", "example.com", "ftp://example.com", "http:/example.com", "http://", "http:///path",
        "http://user@example.com", "http://user:pw@example.com/", "http://example.com:", "http://example.com:0",
        "http://example.com:65536", "http://example.com:123456", "http://example.com:8x", "http://example.com/a?b=1",
        "http://example.com/#frag", "http://example.com?x", "http://exa mple.com", "http://example.com/a b",
        "http://example.com/a\r\nX: y", "http://[::1", "http://[]:80", "http://[::g]", "http://[1.2.3.4]",
        "http://[::1]x", "http://ex%41mple.com", "http://example.com\t/", "httpx://h", "https:h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = h1_split_url(bad[i], &u);
        CHECKF(rc == -1 && u.host[0] == '\0' && u.port == 0, "split_url(\"%s\") = %d", bad[i], rc);
    }
    char big[2048];
    memset(big, 'a', sizeof big);
    memcpy(big, "http://", 7);
    big[7 + 256] = '\0';
    CHECK(h1_split_url(big, &u) == -1);                 /* host of 256 bytes */
    big[7 + 255] = '\0';
    CHECK(h1_split_url(big, &u) == 0 && strlen(u.host) == 255);
    memset(big, 'a', sizeof big);
    memcpy(big, "http://h/", 9);
    big[8 + 1024] = '\0';
    CHECK(h1_split_url(big, &u) == -1);                 /* path of 1024 bytes */
    big[8 + 1023] = '\0';
    CHECK(h1_split_url(big, &u) == 0 && strlen(u.path) == 1023);
    CHECK(h1_split_url(NULL, &u) == -1);
}

/* ------------------------------------------------------------------ requests */

static void test_request(void) {
    char *out;
    size_t len;
    static const char get[] = "GET /api/heat-pumps?page=2 HTTP/1.1\r\nHost: api.example.com\r\n"
                              "Authorization: Bearer t\r\nAccept: application/json\r\n\r\n";
    CHECK(h1_request(&out, &len, "GET", "api.example.com", "/api/heat-pumps?page=2",
                     "Authorization: Bearer t\r\nAccept: application/json\r\n", NULL, 0) == 0);
    CHECK(len == sizeof get - 1 && memcmp(out, get, len) == 0 && out[len] == '\0');
    free(out);
    static const char put[] = "PUT /x HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Type: application/json\r\n"
                              "Content-Length: 9\r\n\r\n{\"a\":\"b\"}";
    CHECK(h1_request(&out, &len, "PUT", "[::1]:8080", "/x", "Content-Type: application/json\r\n",
                     "{\"a\":\"b\"}", 9) == 0);
    CHECK(len == sizeof put - 1 && memcmp(out, put, len) == 0);
    free(out);
    static const char post[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
    CHECK(h1_request(&out, &len, "POST", "h", "/", NULL, "", 0) == 0);
    CHECK(len == sizeof post - 1 && memcmp(out, post, len) == 0);
    free(out);
    static const char bin[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\na\0b";
    CHECK(h1_request(&out, &len, "POST", "h", "/", "", "a\0b", 3) == 0);
    CHECK(len == sizeof bin - 1 && memcmp(out, bin, len) == 0);
    free(out);

    CHECK(h1_request(&out, &len, "GET", "h", "/a\r\nX: y", NULL, NULL, 0) == -2 && out == NULL);
    CHECK(h1_request(&out, &len, "GET", "h", "/a\nb", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GET", "h", "/a b", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GET", "h", "", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GET", "h\r\nX: y", "/", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GET", "h\n", "/", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GE T", "h", "/", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GET\r\n", "h", "/", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "", "h", "/", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, NULL, "h", "/", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GET", NULL, "/", NULL, NULL, 0) == -2);
    CHECK(h1_request(&out, &len, "GET", "h", NULL, NULL, NULL, 0) == -2 && out == NULL && len == 0);
}

int main(void) {
    test_content_length();
    test_content_length_errors();
    test_chunked();
    test_chunked_errors();
    test_interim_and_no_body();
    test_truncation_and_limits();
    test_head_errors();
    test_keepalive();
    test_extra_bytes();
    test_reset();
    test_retry_after();
    test_split_url();
    test_request();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
