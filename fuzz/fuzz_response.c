/*
 * fuzz_response.c: libFuzzer target for the response classifier: status, header lines and a
 * body, as a transfer would leave them, through the header callback (Retry-After), the retry
 * rule (after_attempt), the error message (http_error_x / server_message, with redaction)
 * and the JSON document of a 2xx. Input layout: 2 bytes of status (mapped into 100..599),
 * then header lines up to an empty line, then the body.
 * client.c is included so that its static functions can be called; `make fuzz` builds it.
 */
#include "../csrc/client.c"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    podero_client c;
    podero_result res;
    long status;
    size_t i, start;
    double wait = 0;
    int decision;
    if (size < 2)
        return 0;
    memset(&c, 0, sizeof c);
    memset(&res, 0, sizeof res);
    res.retry_after = -1;
    c.max_retry_wait = 10;
    c.retry_base_delay = 0.5;
    c.rng = 1;
    c.client_secret = dupstr("fuzz-secret");
    c.access_token = dupstr("fuzz-token");
    c.x.retry_after = -1;
    c.x.limit = 1 << 20;
    status = 100 + (long)((data[0] << 8 | data[1]) % 500);
    /* header lines, each through the header callback as libcurl would call it */
    on_header((char *)"HTTP/1.1 200 OK\r\n", 1, 17, &c.x);
    for (i = 2, start = 2; i < size; i++) {
        if (data[i] == '\n') {
            if (i == start)
                break;          /* empty line: the body follows */
            on_header((char *)data + start, 1, i - start + 1, &c.x);
            start = i + 1;
        }
    }
    if (i < size)
        i++;
    if (on_body((char *)data + i, 1, size - i, &c.x) != size - i)
        assert(c.x.too_large);
    decision = after_attempt(&c, &c.x, status, 0, RETRY_IDEMPOTENT, 1, 3, "the API", &res, &wait);
    assert(decision >= -1 && decision <= 1);
    if (decision == 1)
        assert(wait >= 0 && wait <= c.max_retry_wait);
    if (decision == 0 && (status < 200 || status >= 300))
        http_error(&c, &res, status, "the API");
    if (res.kind) {
        assert(!strchr(res.message, '\n') && !strchr(res.message, '\r'));
        assert(!strstr(res.message, "fuzz-secret") && !strstr(res.message, "fuzz-token"));
    }
    if (decision == 0 && status >= 200 && status < 300) {
        pj_doc d;
        char err[200];
        if (pj_parse(&d, c.x.body.p ? c.x.body.p : "", c.x.body.len, err, sizeof err) == 0)
            pj_free(&d);
    }
    client_free(&c);
    return 0;
}
