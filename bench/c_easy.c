/*
 * c_easy.c: the limit for a libcurl client. One reused easy handle (keep-alive), the same
 * options podero sets on the hot path (CURLOPT_NOSIGNAL, TCP_NODELAY, a Bearer header),
 * the body collected into a growing buffer, nothing parsed.
 *
 *   BENCH_URL=http://127.0.0.1:PORT BENCH_TOKEN=... c_easy REFS_FILE N
 *
 * Built with -DC_CURLU it is c_curlu: the same loop handing libcurl each URL parsed into a CURLU
 * handle (CURLOPT_CURLU), as podero's libcurl client does, so that libcurl does not parse,
 * normalise and print back a URL string on every transfer: the limit for a libcurl client.
 *
 * REFS_FILE has one "org_id user_id heat_pump_id" per line; the N requests cycle over it.
 * One warm-up request (connection set up) is made before the timed loop. Prints one line
 *   RESULT name=c_easy n=N wall=S cpu=S user=S sys=S ok=-1 temps=-1 email_bytes=-1 bytes=B
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common.h"

typedef struct { char *p; size_t len, cap; } buf_t;

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
    buf_t *b = (buf_t *)ud;
    size_t n = size * nmemb;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        while (cap < b->len + n) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return n;
}

#ifdef C_CURLU
#define NAME "c_curlu"
#else
#define NAME "c_easy"
#endif

static void get(CURL *h, buf_t *b, const char *url) {
    long code = 0;
    CURLcode rc;
    b->len = 0;
#ifdef C_CURLU
    {
        static CURLU *u;
        if (!u && !(u = curl_url())) { fprintf(stderr, NAME ": out of memory\n"); exit(1); }
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) { fprintf(stderr, NAME ": %s: bad URL\n", url); exit(1); }
        curl_easy_setopt(h, CURLOPT_CURLU, u);
    }
#else
    curl_easy_setopt(h, CURLOPT_URL, url);
#endif
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) { fprintf(stderr, NAME ": %s: %s\n", url, curl_easy_strerror(rc)); exit(1); }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) { fprintf(stderr, NAME ": %s: HTTP %ld\n", url, code); exit(1); }
}

int main(int argc, char **argv) {
    bench_env env;
    buf_t b = {0};
    long i, n;
    size_t total = 0;
    char url[512];
    struct curl_slist *hdrs = NULL;
    CURL *h;
    double w0, c0, u0, s0, w1, c1, u1, s1;

    if (argc != 3) { fprintf(stderr, "usage: " NAME " REFS_FILE N\n"); return 2; }
    bench_load(&env, argv[1]);
    n = atol(argv[2]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = curl_easy_init();
    hdrs = curl_slist_append(hdrs, env.auth_header);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);

    bench_url(&env, 0, url, sizeof url);
    get(h, &b, url);   /* warm-up: the connection */

    bench_clock(&w0, &c0, &u0, &s0);
    for (i = 0; i < n; i++) {
        bench_url(&env, i, url, sizeof url);
        get(h, &b, url);
        total += b.len;
    }
    bench_clock(&w1, &c1, &u1, &s1);
    printf("RESULT name=" NAME " n=%ld wall=%.6f cpu=%.6f user=%.6f sys=%.6f ok=-1 temps=-1 email_bytes=-1 bytes=%zu\n",
           n, w1 - w0, c1 - c0, u1 - u0, s1 - s0, total);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    free(b.p);
    return 0;
}
