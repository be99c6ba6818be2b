/*
 * fuzz_policy.c: libFuzzer target for the sans-I/O policy (policy.c, token.c, result.c) behind
 * the HTTP/1.1 framing (http1.c), as the nginx transport drives them. The input is what a
 * server sends back, fed in pieces whose size the first byte picks; every answer of a call is
 * this same response. For an API call and a token call, each way through pd_next / pd_answer /
 * pd_failed must end (bounded attempts) in DONE or FAIL, with waits within max_retry_wait, a
 * one-line message without a secret, and a known error kind. No crash, no leak.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "http1.h"

static void run(pd_client *c, pd_call *call, const uint8_t *data, size_t size, size_t piece) {
    int steps = 0;
    double now = 1000;
    for (;;) {
        pd_send r;
        int act = pd_next(c, call, now, &r);
        steps++;
        assert(steps < 100);
        if (act == PD_DONE || act == PD_FAIL) {
            if (act == PD_FAIL) {
                int k, known = 0;
                for (k = 0; podero_error_kinds[k]; k++)
                    known |= strcmp(call->res.kind, podero_error_kinds[k]) == 0;
                assert(known);
                assert(!strchr(call->res.message, '\n') && !strchr(call->res.message, '\r'));
                assert(!strstr(call->res.message, "fuzz-secret") && !strstr(call->res.message, "fuzz-token"));
                assert(call->res.attempts <= c->cfg.max_retries + 2);
            }
            return;
        }
        if (act == PD_WAIT) {
            assert(call->wait >= 0 && call->wait <= c->cfg.max_retry_wait);
            now += call->wait;
            continue;
        }
        if (act == PD_TOKEN) {
            assert(pd_set_token(c, "fuzz-token-2", 12, 60, now) == 0);
            continue;
        }
        assert(act == PD_SEND && r.url && r.headers && r.timeout > 0);
        {
            h1_parser h;
            size_t i = 0;
            int rc = H1_MORE;
            h1_init(&h, r.limit);
            while (i < size && rc == H1_MORE) {
                size_t n = size - i < piece ? size - i : piece;
                rc = h1_feed(&h, (const char *)data + i, n);
                i += n;
            }
            if (rc == H1_MORE)
                rc = h1_feed_eof(&h);
            if (rc == H1_DONE)
                pd_answer(c, call, h.status, h.retry_after[0] ? h.retry_after : NULL,
                          h.request_id[0] ? h.request_id : NULL, h.body, h.body_len, now);
            else
                pd_failed(c, call, h.errkind == H1_E_TOO_LARGE ? PD_F_TOO_LARGE : PD_F_NETWORK, h.status,
                          h.errmsg, now);
            h1_free(&h);
        }
        now += 0.01;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pd_client c;
    pd_call call;
    size_t piece;
    if (size < 1)
        return 0;
    piece = 1 + data[0] * 37u;
    data++;
    size--;
    memset(&c, 0, sizeof c);
    c.cfg.base_url = podero_strdup("http://127.0.0.1:1");
    c.cfg.token_url = podero_strdup("http://127.0.0.1:1/token");
    c.cfg.client_id = podero_strdup("fuzz-client");
    c.sec.client_secret = podero_strdup("fuzz-secret");
    c.cfg.grant = PD_GRANT_CLIENT_CREDENTIALS;
    c.cfg.max_retries = 2;
    c.cfg.max_retry_wait = 10;
    c.cfg.retry_base_delay = 0.5;
    c.cfg.timeout = 5;
    c.cfg.connect_timeout = 5;
    c.cfg.deadline = 60;
    c.cfg.max_response_bytes = 1 << 16;
    assert(pd_client_init(&c) == 0);
    assert(pd_set_token(&c, "fuzz-token", 10, 60, 1000) == 0);

    memset(&call, 0, sizeof call);
    pd_api_begin(&c, &call, "GET", "/api/partners/v2.0/org/x/users", NULL, 0, 0, PD_RETRY_IDEMPOTENT, 1000);
    run(&c, &call, data, size, piece);
    pd_call_free(&call);

    memset(&call, 0, sizeof call);
    pd_token_begin(&c, &call, 0);
    run(&c, &call, data, size, piece);
    pd_call_free(&call);

    pd_client_free(&c);
    return 0;
}
