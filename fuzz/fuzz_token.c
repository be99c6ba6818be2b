/*
 * fuzz_token.c: libFuzzer target for the token answer checks (token.c, pd_token_accept): any
 * bytes as the body of a 2xx from the token endpoint. Either the token is taken (a non-empty
 * string without control characters, renewal in the future, API header lines built) or the
 * result is an "auth"/"decode"/"memory" error with a one-line message; no crash, no leak.
 * Links the units it tests (make fuzz).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pd_client c;
    podero_result res;
    int rc;
    memset(&c, 0, sizeof c);
    podero_result_init(&res);
    c.cfg.grant = PD_GRANT_CLIENT_CREDENTIALS;
    c.sec.client_secret = podero_strdup("fuzz-secret");
    rc = pd_token_accept(&c, (const char *)data, size, 100.0, &res);
    if (rc == 0) {
        assert(c.sec.access_token && c.sec.access_token[0]);
        assert(!strchr(c.sec.access_token, '\r') && !strchr(c.sec.access_token, '\n'));
        assert(c.token_expires > 100.0);
        assert(c.have_token && pd_token_valid(&c, 100.0));
        assert(c.api_headers && strncmp(c.api_headers, "Authorization: Bearer ", 22) == 0);
    } else {
        assert(res.kind && (strcmp(res.kind, "auth") == 0 || strcmp(res.kind, "decode") == 0 ||
                            strcmp(res.kind, "memory") == 0));
        assert(!strchr(res.message, '\n'));
        assert(!strstr(res.message, "fuzz-secret"));
        assert(!c.have_token);
    }
    pd_client_free(&c);
    return 0;
}
