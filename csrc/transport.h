/*
 * transport.h: the libcurl transports (http_curl.c), as the Lua binding sees them. This header
 * includes neither lua.h nor curl/curl.h: the handles are opaque.
 */
#ifndef PODERO_TRANSPORT_H
#define PODERO_TRANSPORT_H

#include "core.h"

typedef struct pd_curl pd_curl;

int pd_curl_global_init(void);                  /* once per process: 0, or -1 */
const char *pd_curl_version(int *http2);        /* libcurl's version, and whether it speaks HTTP/2 */

/* A transport for one client: a reused easy handle (connections and TLS sessions stay alive
 * between calls) and, made on first use, a multi handle with a pool of easy handles.
 * NULL with err filled when libcurl refuses. */
pd_curl *pd_curl_new(const pd_config *cfg, char *err, size_t errlen);
void pd_curl_free(pd_curl *t);

/* A function the transport calls after each attempt (token requests too), with no libcurl
 * call on the stack: the call as it stands and the attempt's seconds. NULL: none. */
typedef void (*pd_hook)(void *ud, const pd_call *call, double elapsed);
void pd_curl_set_hook(pd_curl *t, pd_hook hook, void *ud);

/* Runs an API call begun with pd_api_begin to its end, token included. Returns PD_DONE (the 2xx
 * body is then t's to hand over: pd_curl_take_body), or PD_FAIL (call->res). */
int pd_curl_run(pd_curl *t, pd_client *c, pd_call *call);
/* After pd_curl_run answered PD_DONE: takes its body over (ud: the pd_curl). Returns a malloc'd
 * block of *cap bytes: PD_DOC_HEADER bytes of room, then the *len bytes of the body, then at least
 * PJ_PAD more (for podero_parse_answer_block); NULL when there was no body. */
char *pd_curl_take_body(void *ud, size_t *len, size_t *cap);

/* A valid token (force: renew even if the cached one looks valid). 0, or -1 with res filled. */
int pd_curl_token(pd_curl *t, pd_client *c, int force, podero_result *res);

/* A batch: many requests at once on the multi interface (fetch_heat_pumps, client:_batch). */
typedef struct pd_fetch_item {
    /* the request (set by the caller) */
    const char *method;     /* "GET", "PUT", "POST" */
    char path[1024];        /* below base_url, query included */
    const char *body;       /* NULL: none; kept alive by the caller for the whole batch */
    size_t body_len;
    int result;             /* enum pd_result_kind */
    int retry;              /* enum pd_retry */
    char org[37], user[37], hp[37];     /* the context of the answer; hp: the id it must be about */
    /* the outcome */
    int ok;                 /* done with a 2xx (and, but for PD_RESULT_NONE, a checked doc) */
    int has_doc;
    pj_doc doc;
    podero_result res;      /* done without ok: the error */
    /* internal */
    pd_call call;
    int state;
    double not_before;
} pd_fetch_item;

/* progress: called after each item is done, with no libcurl call on the stack; returning
 * non-zero aborts the batch. Returns the number of items that failed, -1 when aborted (items
 * may then be half done: the caller frees their documents), -2 out of memory. */
int pd_curl_fetch(pd_curl *t, pd_client *c, pd_fetch_item *items, int n, int concurrency,
                  int (*progress)(void *ud, int done, int total), void *ud);

#endif
