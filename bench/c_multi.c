/*
 * c_multi.c: the multi-interface twin of c_easy.c. CONC easy handles (each reused, so each
 * keeps its connection) run on one multi handle; a handle that finishes takes the next URL.
 * Nothing is parsed.
 *
 *   BENCH_URL=... BENCH_TOKEN=... c_multi REFS_FILE N CONC
 *
 * No warm-up: connections are opened inside the timed region, as for podero's
 * fetch_heat_pumps (which opens its pool on first use). Prints one RESULT line like c_easy.
 */
#include <curl/curl.h>

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

int main(int argc, char **argv) {
    bench_env env;
    long n, conc, next = 0, done = 0, i;
    size_t total = 0;
    char url[512];
    struct curl_slist *hdrs = NULL;
    CURLM *m;
    CURL **hs;
    buf_t *bufs;
    double w0, c0, u0, s0, w1, c1, u1, s1;

    if (argc != 4) { fprintf(stderr, "usage: c_multi REFS_FILE N CONC\n"); return 2; }
    bench_load(&env, argv[1]);
    n = atol(argv[2]);
    conc = atol(argv[3]);
    if (conc < 1) conc = 1;
    if (conc > n) conc = n;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    hdrs = curl_slist_append(hdrs, env.auth_header);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conc);
    hs = calloc(conc, sizeof *hs);
    bufs = calloc(conc, sizeof *bufs);

    bench_clock(&w0, &c0, &u0, &s0);
    for (i = 0; i < conc; i++) {
        CURL *h = curl_easy_init();
        hs[i] = h;
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &bufs[i]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)(intptr_t)i);
        bench_url(&env, next++, url, sizeof url);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_multi_add_handle(m, h);
    }
    while (done < n) {
        int running = 0, left = 0;
        CURLMsg *msg;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left))) {
            CURL *h;
            long code = 0;
            intptr_t k;
            if (msg->msg != CURLMSG_DONE) continue;
            h = msg->easy_handle;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&k);
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result != CURLE_OK || code != 200) {
                fprintf(stderr, "c_multi: %s, HTTP %ld\n", curl_easy_strerror(msg->data.result), code);
                return 1;
            }
            total += bufs[k].len;
            bufs[k].len = 0;
            done++;
            curl_multi_remove_handle(m, h);
            if (next < n) {
                bench_url(&env, next++, url, sizeof url);
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_multi_add_handle(m, h);
            }
        }
        if (done < n) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    bench_clock(&w1, &c1, &u1, &s1);
    printf("RESULT name=c_multi n=%ld wall=%.6f cpu=%.6f user=%.6f sys=%.6f ok=-1 temps=-1 email_bytes=-1 bytes=%zu\n",
           n, w1 - w0, c1 - c0, u1 - u0, s1 - s0, total);
    for (i = 0; i < conc; i++) { curl_easy_cleanup(hs[i]); free(bufs[i].p); }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    return 0;
}
