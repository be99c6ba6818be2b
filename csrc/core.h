/*
 * core.h: the parts of podero.core that touch neither Lua nor libcurl.
 *
 *   util.c    clock, sleep, wiping, strings, the jitter generator
 *   buf.c     growable buffers and the encoders (JSON string, form, base64)
 *   result.c  podero_result, the closed list of error kinds, messages, redaction
 *   schema.c  the fields of heat pumps, electric vehicles and inverters as the contract
 *             describes them (the Decimal rule per kind), and the answer checks
 *   token.c   the token: grant requests, token answers, renewal times
 *   policy.c  the sans-I/O request policy: what to send, and what happens after an answer
 *   http1.c   HTTP/1.1 framing for the nginx cosocket transport (http1.h)
 *   json.c    the strict JSON parser (json.h)
 *
 * csrc/README.md draws the layers; `make layers` checks that no file here includes lua.h or
 * curl/curl.h.
 */
#ifndef PODERO_CORE_H
#define PODERO_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define PODERO_VERSION "0.1.0"

/* ---- util.c ---------------------------------------------------------------------------- */
double podero_monotonic(void);
void podero_sleep(double seconds);
void podero_wipe(void *p, size_t n);    /* a wipe the compiler may not drop */
void podero_strfree(char **s);          /* wipes and frees a heap string, sets it to NULL */
char *podero_strdup(const char *s);     /* NULL for NULL or out of memory */
double podero_rand_unit(uint64_t *state);   /* [0, 1): jitter only, never for secrets */
uint64_t podero_rand64(uint64_t *state);
/* s[0..len) is a UUID (8-4-4-4-12 hex digits, either case): 0 and out = it in lower case,
 * NUL-terminated; else -1 (out undefined). SSE2 on x86-64, scalar with -DPD_NO_SIMD. */
int podero_uuid_lower(const char *s, size_t len, char out[37]);
int podero_simd(void);                     /* 1: the SSE2 build of podero_uuid_lower */    /* request ids: unique enough, not secret */

/* ---- buf.c ----------------------------------------------------------------------------- */
typedef struct buffer {
    char *p;
    size_t len, cap;
} buffer;
int buf_reserve(buffer *b, size_t extra);
int buf_add(buffer *b, const char *s, size_t n);      /* 0, or -1 out of memory */
int buf_adds(buffer *b, const char *s);
void buf_wipe_free(buffer *b);
int buf_add_json_string(buffer *b, const char *s);    /* a JSON string literal, quotes included */
int buf_add_json_stringn(buffer *b, const char *s, size_t n);   /* the same, n bytes (NUL as \u0000) */
int buf_add_form(buffer *b, const char *s);           /* application/x-www-form-urlencoded */
int buf_add_base64(buffer *b, const unsigned char *s, size_t n);

/* ---- result.c -------------------------------------------------------------------------- */

/* The outcome of a request, filled without touching Lua. */
typedef struct podero_result {     /* podero_result_init resets each field: add new ones there */
    const char *kind;       /* NULL on success, else one of podero_error_kinds */
    long status;            /* HTTP status of the last answer, 0 when none */
    double retry_after;     /* seconds from Retry-After, < 0 when absent */
    int attempts;           /* requests made to the endpoint that failed or answered */
    char message[512];      /* one line, secrets removed */
    /* what was being done (set by the policy for every failed call) */
    const char *method;     /* "GET", "PUT", "POST"; NULL when no request was made */
    const char *endpoint;   /* "api" or "token" */
    char path[256];         /* the path of the URL, without its query (which may hold a secret) */
    char request_id[64];    /* the X-Request-Id of the last attempt, or the one the server sent */
} podero_result;

extern const char *const podero_error_kinds[];  /* the closed list of err.kind, NULL-terminated */
void podero_result_init(podero_result *res);
void podero_set_result(podero_result *res, const char *kind, long status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define PODERO_OLD_SECRETS 8
/* Every secret a client holds or held: no message may contain any of them. */
typedef struct podero_secrets {
    char *client_secret, *password, *access_token, *refresh_token;
    char *old[PODERO_OLD_SECRETS];  /* tokens held before, kept (until close) only to redact */
    int next_old;
} podero_secrets;
void podero_redact(const podero_secrets *s, char *text, size_t cap);
void podero_retire(podero_secrets *s, char **slot);     /* moves *slot into the history */
void podero_secrets_free(podero_secrets *s);
/* "the API answered HTTP 404 Not Found: <the server's one line>", redirects named as such */
void podero_http_error(const podero_secrets *s, podero_result *res, long status, const char *what,
                       const char *body, size_t len);
/* one line from a server's error body (detail / error_description / error / 422 lists) */
void podero_server_message(const podero_secrets *s, const char *body, size_t len, char *out, size_t cap);

/* ---- schema.c -------------------------------------------------------------------------- */
enum podero_wtype { PODERO_W_NONE = 0, PODERO_W_BOOLEAN, PODERO_W_NUMBER, PODERO_W_INTEGER,
                    PODERO_W_STRING, PODERO_W_TIME, PODERO_W_ENUM,
                    PODERO_W_CLOCK /* a time of day "HH:MM" */ };
typedef struct podero_field {
    const char *name;
    unsigned char decimal;      /* number | string | null: a numeric string reads as a number */
    unsigned char wtype;        /* enum podero_wtype: how a partial update may set it */
    unsigned char nullable;     /* an update may set it to null */
    unsigned short max_length;  /* strings: characters */
    const char *values;         /* enums: the values, space-separated */
    const char *hint;           /* enums: how a message names the values */
} podero_field;
extern const podero_field podero_heat_pump_fields[];   /* ends with a NULL name */
extern const podero_field podero_electric_vehicle_fields[];
extern const podero_field podero_inverter_fields[];
int podero_is_decimal_field(const char *k, size_t klen);   /* of a heat pump */

/* What a parsed document's root is, so that views know which field rules apply (a view's kind;
 * the binding's doc.c keeps it per view). */
enum podero_kind {
    PODERO_KIND_PLAIN = 0,      /* any JSON object/array: values read as they are */
    PODERO_KIND_HEAT_PUMP = 1,  /* a HeatPumpDetailOutput: decimal strings read as numbers */
    PODERO_KIND_HEAT_PUMP_LIST = 2,         /* an array of heat pumps */
    PODERO_KIND_ELECTRIC_VEHICLE = 3,       /* an electric vehicle: its Decimal fields */
    PODERO_KIND_ELECTRIC_VEHICLE_LIST = 4,  /* an array of them */
    PODERO_KIND_INVERTER = 5,               /* an inverter: its Decimal fields */
    PODERO_KIND_INVERTER_LIST = 6           /* an array of them */
};
/* The per-kind rules, written once here for every reader (lazy views, to_table, to_json): */
int podero_kind_decimal(int kind, const char *k, size_t klen);  /* k is a Decimal field of kind */
int podero_kind_element(int kind);      /* a list kind: its elements' kind; else PODERO_KIND_PLAIN */
const char *podero_kind_name(int kind); /* "heat_pump", "electric_vehicle", "inverter", "object" */
const podero_field *podero_kind_fields(int kind);   /* the field table of kind, or NULL */
/*
 * The rule of a heat pump detail answer (HeatPumpDetailOutput): the root is an object, its id is
 * absent, null or want_id (case-insensitively; want_id NULL: not checked), and it has every
 * field the contract marks required. Returns 0, or -1 with res filled as a "decode" error.
 */
int podero_heat_pump_check(const pj_doc *doc, const char *want_id, long status, podero_result *res);
/* Parses body[0..len) as the answer of the given result kind (enum pd_result_kind) into *doc.
 * Returns 0, or -1 with res filled ("decode" or "memory"; *doc is then empty). */
/* podero_parse_answer leaves this many bytes before the text of the document (pj_parse_hdr) for
 * the bookkeeping of its owner (doc.c's shared document). */
#define PD_DOC_HEADER 112
int podero_parse_answer(pj_doc *doc, const char *body, size_t len, int result_kind,
                        const char *want_id, long status, podero_result *res);
/* The same, taking over block (cap bytes: PD_DOC_HEADER bytes of room, the len bytes of the body,
 * then at least PJ_PAD more; freed on failure). */
int podero_parse_answer_block(pj_doc *doc, char *block, size_t len, size_t cap, int result_kind,
                              const char *want_id, long status, podero_result *res);
/* The same, taking body over (malloc'd, PJ_PAD writable bytes after len; freed on failure). */
int podero_parse_answer_owned(pj_doc *doc, char *body, size_t len, int result_kind,
                              const char *want_id, long status, podero_result *res);

/* What an answer must be, so that views know which field rules apply. */
enum pd_result_kind {
    PD_RESULT_OBJECT = 0,       /* any JSON object */
    PD_RESULT_HEAT_PUMP,        /* a HeatPumpDetailOutput (podero_heat_pump_check) */
    PD_RESULT_ARRAY,            /* any JSON array */
    PD_RESULT_HEAT_PUMP_LIST,   /* an array of heat pumps */
    PD_RESULT_NONE,             /* any 2xx: the answer is true */
    PD_RESULT_ELECTRIC_VEHICLE, /* an electric vehicle (its id checked as a heat pump's) */
    PD_RESULT_ELECTRIC_VEHICLE_LIST,
    PD_RESULT_INVERTER_LIST
};
int podero_result_view_kind(int result_kind);   /* the enum podero_kind of its root view */
int podero_result_checks_id(int result_kind);   /* its answer must be about the id asked for */

/* ---- policy.c and token.c: the sans-I/O core ----------------------------------------- */

enum pd_grant { PD_GRANT_CLIENT_CREDENTIALS = 0, PD_GRANT_PASSWORD, PD_GRANT_STATIC };

/* What a request may be repeated for. */
enum pd_retry {
    PD_RETRY_IDEMPOTENT = 0,    /* GET, PUT, grants: transport failures, 429, 502, 503, 504 */
    PD_RETRY_UNSENT_ONLY        /* POST: only when the request certainly never left */
};

/* How a transport failed, in the policy's terms (each transport maps its own errors here). */
enum pd_failure {
    PD_F_NETWORK = 0,       /* a transient network failure (reset, refused, closed early) */
    PD_F_NETWORK_FATAL,     /* a network failure not worth repeating (bad URL, protocol) */
    PD_F_UNSENT,            /* certainly never sent (connection refused, DNS): always retryable */
    PD_F_TIMEOUT,
    PD_F_TLS,
    PD_F_TOO_LARGE,
    PD_F_MEMORY
};

typedef struct pd_config {
    char *base_url;             /* without a trailing slash */
    char *token_url;            /* absolute */
    char *client_id, *username;
    char *user_agent;           /* the whole header line "User-Agent: ...", or NULL */
    char *ca_file;
    int grant;                  /* enum pd_grant */
    int token_form;             /* 1: the grant as application/x-www-form-urlencoded */
    int client_auth_body;       /* 1: client_id/client_secret as body fields, else Basic */
    int verify_tls;
    int proxy_mode;             /* 0: libcurl's environment (https_proxy, no_proxy), 1: proxy, 2: none */
    char *proxy;                /* the proxy URL (mode 1; may hold user info: a secret) */
    int max_retries;
    double timeout, connect_timeout;    /* seconds per attempt */
    double max_retry_wait, retry_base_delay;
    double deadline;            /* seconds for a whole call, retries and waits included; 0: none */
    size_t max_response_bytes;
} pd_config;

/* The state one client keeps between calls. The secrets live in sec. */
typedef struct pd_client {
    pd_config cfg;
    podero_secrets sec;
    double token_expires;       /* monotonic seconds; renewal is due at this time */
    int have_token;
    unsigned token_gen;         /* counts tokens taken, so a wave of 401s renews once */
    char *api_headers;          /* header lines with the current token, built per token */
    char *api_json_headers;     /* the same and Content-Type: application/json */
    uint64_t rng;
    long token_requests, api_requests;
} pd_client;

/* What pd_next asks of its transport. */
enum pd_action {
    PD_SEND = 1,    /* send *out (then pd_answer or pd_failed) */
    PD_WAIT,        /* wait out->wait seconds, then pd_next */
    PD_TOKEN,       /* get a valid token (pd_token_begin ... or a shared cache), then pd_next */
    PD_DONE,        /* a 2xx answer: call->status, the body the transport holds */
    PD_FAIL         /* call->res is the error (redacted) */
};

/* A request, as pd_next describes it. Valid until the next pd_* call on the same call. */
typedef struct pd_send {
    const char *method;         /* "GET", "PUT", "POST" */
    const char *url;            /* absolute */
    const char *headers;        /* complete "Name: value\r\n" lines (the token among them) */
    const char *body;           /* NULL: no body */
    size_t body_len;
    size_t limit;               /* answer bytes allowed */
    double timeout;             /* seconds for this attempt (clamped to the deadline) */
    double connect_timeout;
    unsigned token_gen;         /* the token this request carries */
    const char *request_id;     /* a new UUID per attempt: send it as X-Request-Id */
} pd_send;

enum pd_call_kind { PD_CALL_API = 0, PD_CALL_TOKEN };

/* One call in progress: an API request with its retries and token renewal, or a grant. */
typedef struct pd_call {           /* policy.c's call_reset resets each field: add new ones there */
    int kind;                   /* enum pd_call_kind */
    int state;                  /* internal */
    const char *method;
    char url[1280];
    const char *body;           /* not owned (API calls); the token calls' body is tbody */
    size_t body_len;
    int has_body;
    int retry;                  /* enum pd_retry */
    int attempts;               /* requests made */
    int max_attempts;
    int renewed;                /* a 401 renewed the token once already */
    int use_refresh;            /* token calls: the refresh_token grant */
    unsigned gen;               /* the token generation the last request carried */
    double deadline_at;         /* monotonic; 0: none */
    double wait;                /* PD_WAIT */
    long status;                /* PD_DONE: the status */
    podero_result res;          /* PD_FAIL: the error */
    buffer tbody, theaders;     /* token calls: the grant's body and header lines */
    char request_id[37];        /* the X-Request-Id of the last attempt */
    char server_request_id[64]; /* the X-Request-Id of the last answer, "" when none */
    long last_status;           /* the last attempt: its answer's status (0: none) ... */
    const char *last_kind;      /* ... or how it failed (an error kind; NULL when answered) */
} pd_call;

/* What one attempt was, for the on_request hook (no secret in it). */
typedef struct pd_attempt {
    const char *method, *endpoint, *kind;   /* kind: NULL for a 2xx */
    char path[256];
    const char *request_id;
    long status;
    int attempt;
} pd_attempt;
void pd_call_attempt(const pd_client *c, const pd_call *call, pd_attempt *out);

int pd_client_init(pd_client *c);       /* after cfg and sec are set; 0 or -1 out of memory */
void pd_client_free(pd_client *c);      /* wipes and frees everything, cfg and secrets too */
int pd_token_valid(const pd_client *c, double now);
void pd_drop_token(pd_client *c);
/* Takes a token obtained elsewhere (nginx: the shared token cache). ttl: seconds until renewal
 * is due (<= 0: now + 1 s). 0, or -1 out of memory (the client has no token then). */
int pd_set_token(pd_client *c, const char *token, size_t len, double ttl, double now);

/* An API call: method, path (below base_url, query included), an optional body (kept by the
 * caller until the call ends), the retry class. The deadline starts now. */
void pd_api_begin(pd_client *c, pd_call *call, const char *method, const char *path,
                  const char *body, size_t body_len, int has_body, int retry, double now);
/* A grant (token request): the refresh_token grant when the client holds one, else the
 * configured grant; deadline_at: the deadline of the call that needs it (0: none). */
int pd_token_begin(pd_client *c, pd_call *call, double deadline_at);
int pd_next(pd_client *c, pd_call *call, double now, pd_send *out);
/* The answer to the request pd_next described: status, the Retry-After and X-Request-Id values
 * (NULL: none) and the body. Token calls take the token from a 2xx here. */
void pd_answer(pd_client *c, pd_call *call, long status, const char *retry_after,
               const char *request_id, const char *body, size_t len, double now);
/* The request failed in transport; status: of an answer cut short (0: none); message: the
 * transport's own words (may be NULL). */
void pd_failed(pd_client *c, pd_call *call, int failure, long status, const char *message, double now);
/* An API call whose PD_TOKEN could not be met fails with the token's error. */
void pd_token_failed(pd_client *c, pd_call *call, const podero_result *token_res);
void pd_call_free(pd_call *call);
/* Fills what the call was doing into res (method, endpoint, path, request_id, attempts) and
 * redacts it: for an error found after PD_DONE (the answer does not parse). */
void pd_call_context(const pd_client *c, const pd_call *call, podero_result *res);
int pd_call_done(const pd_call *call);     /* it ended with PD_DONE */
int pd_call_failed(const pd_call *call);   /* it ended with PD_FAIL */

/* Retry-After: delay-seconds or an HTTP-date, relative to the wall clock now (http1.c). */
double h1_retry_after(const char *v, size_t n, double now);

/* token.c (used by policy.c) */
int pd_token_build(pd_client *c, pd_call *call);    /* the grant request of call->use_refresh */
int pd_token_accept(pd_client *c, const char *body, size_t len, double now, podero_result *res);
int pd_build_api_headers(pd_client *c);
size_t pd_token_limit(const pd_client *c);    /* answer bytes a grant may return */

#endif
