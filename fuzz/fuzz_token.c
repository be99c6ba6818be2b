/*
 * fuzz_token.c: libFuzzer target for the token answer checks (client.c accept_token): any
 * bytes as the body of a 200 from the token endpoint. Either the token is taken (then it is
 * a non-empty string without control characters and the expiry is in the future) or the
 * result is an "auth"/"decode" error with a one-line message; nothing else, no crash, no leak.
 * client.c is included so that its static functions can be called; `make fuzz` builds it.
 */
#include "../csrc/client.c"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    podero_client c;
    podero_result res;
    int rc;
    memset(&c, 0, sizeof c);
    memset(&res, 0, sizeof res);
    res.retry_after = -1;
    c.client_secret = dupstr("fuzz-secret");
    if (buf_add(&c.x.body, (const char *)data, size) != 0) {
        client_free(&c);
        return 0;
    }
    rc = accept_token(&c, &res);
    if (rc == 0) {
        assert(c.access_token && c.access_token[0]);
        assert(!strchr(c.access_token, '\r') && !strchr(c.access_token, '\n'));
        assert(c.token_expires > podero_monotonic() - 1);
        assert(c.have_token);
    } else {
        assert(res.kind && (!strcmp(res.kind, "auth") || !strcmp(res.kind, "decode") ||
                            !strcmp(res.kind, "network")));
        assert(!strchr(res.message, '\n'));
        assert(!strstr(res.message, "fuzz-secret"));
    }
    client_free(&c);
    return 0;
}
