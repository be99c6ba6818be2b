/*
 * json_ref.c: TEST-ONLY reference implementation of the JSON parser (see json_ref.h).
 *
 * This is csrc/json.c as it was before commit a94e543 (git show a94e543~1:csrc/json.c) with
 * every identifier renamed (pj_ -> rj_, PJ_ -> RJ_) and nothing else changed, so that the
 * differential checks in tests-c/pj_check.h can compare the current parser with the old,
 * well-tested tape parser. Never linked into the product.
 */
/*
 * json.c: strict RFC 8259 JSON parser producing the flat document described in json.h.
 *
 * Implementation notes:
 *  - One pass, no recursion: an explicit stack of open container node indices (at most
 *    RJ_MAX_DEPTH) plus a temporary stack of child indices. When a container closes, its
 *    children's indices are copied into doc->kids as one contiguous slice.
 *  - The body is copied into doc->text followed by RJ_PAD zero bytes, so the scanners may
 *    read a few bytes past the end without bounds checks (the NUL at text[len] stops every
 *    scanner: it is neither whitespace, a digit, a literal letter nor a plain string byte).
 *  - Strings are scanned 16 bytes at a time with SSE2 (or 8 at a time with SWAR elsewhere).
 *  - Numbers: int64 integers are converted by hand; doubles use the exact Clinger fast path
 *    when it is exact (<= 19 significant digits, mantissa <= 2^53, |exp10| <= 22), else
 *    strtod_l with a "C" locale, so the result is always exactly strtod's.
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1          /* newlocale / strtod_l */
#endif

#include "json_ref.h"

#include <errno.h>
#include <float.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__APPLE__) || defined(__FreeBSD__)
#include <xlocale.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RJ_ALWAYS_INLINE static inline __attribute__((always_inline))
#define RJ_NOINLINE static __attribute__((noinline))
#else
#define RJ_ALWAYS_INLINE static inline
#define RJ_NOINLINE static
#endif

#define RJ_TMP_LOCAL 256                /* child-index stack entries kept on the C stack */

/* ---------------------------------------------------------------------------------- */
/* "C" locale for strtod_l, created once                                               */

static pthread_once_t rj_locale_once = PTHREAD_ONCE_INIT;
static locale_t rj_c_locale;

static void rj_locale_init(void) {
    rj_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* ---------------------------------------------------------------------------------- */
/* errors                                                                              */

enum {
    E_OK = 0, E_CHAR, E_EOF, E_UNTERM, E_ESCAPE, E_UTF8, E_CTRL, E_NUMBER, E_DEPTH,
    E_TRAILING, E_EMPTY, E_TOOLARGE, E_NOMEM
};

static void rj_format_error(char *errbuf, size_t errlen, int err, size_t pos, unsigned ch) {
    if (!errbuf || errlen == 0) return;
    switch (err) {
    case E_CHAR:
        if (ch >= 0x20 && ch < 0x7f)
            snprintf(errbuf, errlen, "unexpected character '%c' at byte %zu", (int)ch, pos);
        else
            snprintf(errbuf, errlen, "unexpected character '\\x%02X' at byte %zu", ch, pos);
        break;
    case E_EOF:      snprintf(errbuf, errlen, "unexpected end of input at byte %zu", pos); break;
    case E_UNTERM:   snprintf(errbuf, errlen, "unterminated string at byte %zu", pos); break;
    case E_ESCAPE:   snprintf(errbuf, errlen, "invalid escape at byte %zu", pos); break;
    case E_UTF8:     snprintf(errbuf, errlen, "invalid UTF-8 at byte %zu", pos); break;
    case E_CTRL:     snprintf(errbuf, errlen, "control character in string at byte %zu", pos); break;
    case E_NUMBER:   snprintf(errbuf, errlen, "invalid number at byte %zu", pos); break;
    case E_DEPTH:    snprintf(errbuf, errlen, "nested too deeply at byte %zu", pos); break;
    case E_TRAILING: snprintf(errbuf, errlen, "trailing data at byte %zu", pos); break;
    case E_EMPTY:    snprintf(errbuf, errlen, "empty body"); break;
    case E_TOOLARGE: snprintf(errbuf, errlen, "body too large"); break;
    default:         snprintf(errbuf, errlen, "out of memory"); break;
    }
}

/* ---------------------------------------------------------------------------------- */
/* scanners                                                                            */

/* First byte at or after p that is '"', '\\', < 0x20 or >= 0x80. Relies on the padding. */
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
static inline const uint8_t *scan_plain(const uint8_t *p) {
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
    for (;;) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compare: bytes >= 0x80 are negative, hence also "< 0x20" */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmplt_epi8(v, sp));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
}
#else
static inline const uint8_t *scan_plain(const uint8_t *p) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    for (;;) {
        uint64_t v;
        memcpy(&v, p, 8);
        uint64_t lt = (v - ones * 0x20) & ~v;             /* bytes < 0x20 (exact "any") */
        uint64_t xq = v ^ (ones * '"'), xb = v ^ (ones * '\\');
        uint64_t q = (xq - ones) & ~xq, b = (xb - ones) & ~xb;
        if ((v | lt | q | b) & highs) break;
        p += 8;
    }
    for (;;) {
        uint8_t c = *p;
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return p;
        p++;
    }
}
#endif

/* Validates one UTF-8 sequence whose lead byte (>= 0x80) is at p; returns the byte after it
 * or NULL. Bytes past the end of the input are zero, so truncation is caught. */
static inline const uint8_t *utf8_seq(const uint8_t *p) {
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    if (c < 0xC2) return NULL;                          /* stray continuation, C0/C1 overlong */
    if (c < 0xE0) return ((p[1] & 0xC0) == 0x80) ? p + 2 : NULL;
    if (c < 0xF0) {
        if (c == 0xE0) lo = 0xA0;                       /* overlong */
        else if (c == 0xED) hi = 0x9F;                  /* UTF-16 surrogates */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return NULL;
        return p + 3;
    }
    if (c < 0xF5) {
        if (c == 0xF0) lo = 0x90;                       /* overlong */
        else if (c == 0xF4) hi = 0x8F;                  /* > U+10FFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return NULL;
        return p + 4;
    }
    return NULL;
}

static inline int hexval(uint8_t c) {
    if ((unsigned)(c - '0') < 10u) return c - '0';
    c |= 0x20;
    if ((unsigned)(c - 'a') < 6u) return c - 'a' + 10;
    return -1;
}

/* 4 hex digits at p -> 0..0xFFFF, or -1 */
static inline int hex4(const uint8_t *p) {
    int a = hexval(p[0]), b, c, d;
    if (a < 0) return -1;
    if ((b = hexval(p[1])) < 0) return -1;
    if ((c = hexval(p[2])) < 0) return -1;
    if ((d = hexval(p[3])) < 0) return -1;
    return (a << 12) | (b << 8) | (c << 4) | d;
}

static inline int is_digit(uint8_t c) { return (unsigned)(c - '0') < 10u; }

int rj_is_number_literal(const char *str, size_t len) {
    const uint8_t *p = (const uint8_t *)str, *e = p + len;
    if (len == 0) return 0;
    if (*p == '-') p++;
    if (p >= e) return 0;
    if (*p == '0') p++;
    else if ((unsigned)(*p - '1') < 9u) { do p++; while (p < e && is_digit(*p)); }
    else return 0;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p)) return 0;
        do p++; while (p < e && is_digit(*p));
    }
    if (p < e && (*p | 0x20) == 'e') {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || !is_digit(*p)) return 0;
        do p++; while (p < e && is_digit(*p));
    }
    return p == e;
}

static inline uint8_t numlit_flag(const uint8_t *s, size_t len) {
    if (len == 0 || !(is_digit(s[0]) || s[0] == '-')) return 0;
    return rj_is_number_literal((const char *)s, len) ? RJ_F_NUMLIT : 0;
}

/* ---------------------------------------------------------------------------------- */
/* strings                                                                             */

typedef struct rj_state {
    const uint8_t *base, *end;    /* doc->text, doc->text + len */
    char   *sb;                   /* doc->strbuf */
    size_t  sb_len, sb_cap;
    int     err;
    size_t  errpos;
} rj_state;

static inline uint8_t *put_utf8(uint8_t *o, unsigned cp) {
    if (cp < 0x80) { *o++ = (uint8_t)cp; }
    else if (cp < 0x800) {
        *o++ = (uint8_t)(0xC0 | (cp >> 6));
        *o++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (uint8_t)(0xE0 | (cp >> 12));
        *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (uint8_t)(0xF0 | (cp >> 18));
        *o++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (uint8_t)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Slow path of parse_str: the string starting at q0 (the opening quote) has an escape at p.
 * Decodes the whole string into the string buffer. */
RJ_NOINLINE const uint8_t *parse_str_escaped(rj_state *st, const uint8_t *q0, const uint8_t *p,
                                        rj_node *n) {
    const uint8_t *s = q0 + 1;
    if (!st->sb) {
        /* decoding never grows a string, so the rest of the body bounds every decoded
         * string from here on: no growth is ever needed */
        size_t cap = (size_t)(st->end - q0);
        st->sb = (char *)malloc(cap);
        if (!st->sb) { st->err = E_NOMEM; return NULL; }
        st->sb_cap = cap;
    }
    uint8_t *o0 = (uint8_t *)st->sb + st->sb_len, *o = o0;
    memcpy(o, s, (size_t)(p - s));
    o += p - s;
    for (;;) {
        uint8_t c = *p;
        if (c == '"') break;
        if (c == '\\') {
            switch (p[1]) {
            case '"':  *o++ = '"';  p += 2; break;
            case '\\': *o++ = '\\'; p += 2; break;
            case '/':  *o++ = '/';  p += 2; break;
            case 'b':  *o++ = '\b'; p += 2; break;
            case 'f':  *o++ = '\f'; p += 2; break;
            case 'n':  *o++ = '\n'; p += 2; break;
            case 'r':  *o++ = '\r'; p += 2; break;
            case 't':  *o++ = '\t'; p += 2; break;
            case 'u': {
                int u = hex4(p + 2);
                if (u < 0) {
                    int i;
                    for (i = 2; i < 6 && hexval(p[i]) >= 0; i++) {}
                    st->err = (p + i >= st->end) ? E_UNTERM : E_ESCAPE;
                    st->errpos = (size_t)((st->err == E_UNTERM ? q0 : p) - st->base);
                    return NULL;
                }
                p += 6;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (p[0] == '\\' && p[1] == 'u') {
                        int l = hex4(p + 2);
                        if (l >= 0xDC00 && l <= 0xDFFF) {
                            o = put_utf8(o, 0x10000u + (((unsigned)u - 0xD800u) << 10)
                                               + ((unsigned)l - 0xDC00u));
                            p += 6;
                            break;
                        }
                    }
                    o = put_utf8(o, 0xFFFD);            /* lone high surrogate */
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    o = put_utf8(o, 0xFFFD);            /* lone low surrogate */
                } else {
                    o = put_utf8(o, (unsigned)u);
                }
                break;
            }
            default:
                if (p + 1 >= st->end) { st->err = E_UNTERM; st->errpos = (size_t)(q0 - st->base); }
                else { st->err = E_ESCAPE; st->errpos = (size_t)(p - st->base); }
                return NULL;
            }
        } else if (c >= 0x80) {
            const uint8_t *r = utf8_seq(p);
            if (!r) { st->err = E_UTF8; st->errpos = (size_t)(p - st->base); return NULL; }
            while (p < r) *o++ = *p++;
        } else {                                         /* < 0x20 */
            if (p >= st->end) { st->err = E_UNTERM; st->errpos = (size_t)(q0 - st->base); }
            else { st->err = E_CTRL; st->errpos = (size_t)(p - st->base); }
            return NULL;
        }
        const uint8_t *r = scan_plain(p);
        memcpy(o, p, (size_t)(r - p));
        o += r - p;
        p = r;
    }
    size_t len = (size_t)(o - o0);
    n->type = RJ_STR;
    n->flags = (uint8_t)(RJ_F_ESCAPED | numlit_flag(o0, len));
    n->reserved = 0;
    n->count = 0;
    n->u.s.off = (uint32_t)st->sb_len;
    n->u.s.len = (uint32_t)len;
    st->sb_len += len;
    return p + 1;
}

/* p at the opening quote; fills *n, returns the byte after the closing quote or NULL. */
RJ_ALWAYS_INLINE const uint8_t *parse_str(rj_state *st, const uint8_t *p, rj_node *n) {
    const uint8_t *q0 = p, *s = p + 1;
    p = s;
    for (;;) {
        p = scan_plain(p);
        uint8_t c = *p;
        if (c == '"') break;
        if (c >= 0x80) {
            const uint8_t *r = utf8_seq(p);
            if (!r) { st->err = E_UTF8; st->errpos = (size_t)(p - st->base); return NULL; }
            p = r;
            continue;
        }
        if (c == '\\') return parse_str_escaped(st, q0, p, n);
        if (p >= st->end) { st->err = E_UNTERM; st->errpos = (size_t)(q0 - st->base); }
        else { st->err = E_CTRL; st->errpos = (size_t)(p - st->base); }
        return NULL;
    }
    size_t len = (size_t)(p - s);
    n->type = RJ_STR;
    n->flags = numlit_flag(s, len);
    n->reserved = 0;
    n->count = 0;
    n->u.s.off = (uint32_t)(s - st->base);
    n->u.s.len = (uint32_t)len;
    return p + 1;
}

/* ---------------------------------------------------------------------------------- */
/* numbers                                                                             */

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define RJ_FAST_DOUBLE 1
static const double rj_pow10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};
#endif

/* strtod in the "C" locale for a NUL-terminated number text: 0, or -1 without a locale. */
int rj_strtod_c(const char *s, double *out) {
    pthread_once(&rj_locale_once, rj_locale_init);
    if (rj_c_locale == (locale_t)0) return -1;
    *out = strtod_l(s, NULL, rj_c_locale);
    return 0;
}

/* The shortest text of a finite double that reads back as the same double, as a JSON number
 * ("%.15g", "%.16g" or "%.17g" in the "C" locale, whatever the process's locale). Writes at
 * most 32 bytes with the NUL; returns the length, or -1 for NaN/infinity or no locale. */
int rj_format_double(double d, char out[32]) {
    locale_t old;
    int p, n = -1;
    if (d != d || d > DBL_MAX || d < -DBL_MAX) return -1;
    pthread_once(&rj_locale_once, rj_locale_init);
    if (rj_c_locale == (locale_t)0) return -1;
    old = uselocale(rj_c_locale);
    for (p = 15; p <= 17; p++) {
        n = snprintf(out, 32, "%.*g", p, d);
        if (strtod(out, NULL) == d) break;
    }
    uselocale(old);
    return n;
}

/* strtod in the "C" locale; start is a validated JSON number followed by a byte that cannot
 * extend it. Returns 0, or -1 if the locale object could not be created. */
static int rj_strtod(const uint8_t *start, double *out) {
    pthread_once(&rj_locale_once, rj_locale_init);
    if (rj_c_locale == (locale_t)0) return -1;
    int saved = errno;
    *out = strtod_l((const char *)start, NULL, rj_c_locale);
    errno = saved;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* growth helpers                                                                      */

static int grow(void **ptr, size_t *cap, size_t elsz, size_t need) {
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc < need) nc = need;
    if (nc > SIZE_MAX / elsz) return -1;
    void *np = realloc(*ptr, nc * elsz);
    if (!np) return -1;
    *ptr = np;
    *cap = nc;
    return 0;
}

/* the child-index stack starts in a local array and moves to the heap when it fills up */
static int grow_tmp(uint32_t **tmp, uint32_t *local, size_t *cap) {
    size_t nc = *cap * 2;
    uint32_t *np;
    if (nc > SIZE_MAX / sizeof *np) return -1;
    if (*tmp == local) {
        np = (uint32_t *)malloc(nc * sizeof *np);
        if (!np) return -1;
        memcpy(np, local, *cap * sizeof *np);
    } else {
        np = (uint32_t *)realloc(*tmp, nc * sizeof *np);
        if (!np) return -1;
    }
    *tmp = np;
    *cap = nc;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* the parser                                                                          */

#define SKIP_WS(p) \
    while (*(p) <= ' ' && (*(p) == ' ' || *(p) == '\n' || *(p) == '\r' || *(p) == '\t')) (p)++

int rj_parse(rj_doc *doc, const char *text, size_t len, char *errbuf, size_t errlen) {
    char *t;
    if (len > (size_t)INT32_MAX || !(t = (char *)malloc(len + RJ_PAD)))
        return rj_parse_owned(doc, NULL, len, errbuf, errlen);
    if (len) memcpy(t, text, len);
    return rj_parse_owned(doc, t, len, errbuf, errlen);
}

int rj_parse_owned(rj_doc *doc, char *text, size_t len, char *errbuf, size_t errlen) {
    rj_state st;
    rj_node *nodes = NULL;
    uint32_t *kids = NULL;
    uint32_t tmp_local[RJ_TMP_LOCAL];
    uint32_t *tmp = tmp_local;
    size_t ncap, kcap, tcap = RJ_TMP_LOCAL;
    uint32_t nn = 0, nk = 0, nt = 0;                 /* nodes, kids, tmp entries used */
    uint32_t stk[RJ_MAX_DEPTH];
    int depth = 0, cur_obj = 0;
    uint32_t cur = 0;
    const uint8_t *p;
    unsigned errch = 0;
    int rc;

    memset(doc, 0, sizeof *doc);
    if (errbuf && errlen) errbuf[0] = '\0';
    st.sb = NULL; st.sb_len = 0; st.sb_cap = 0; st.err = E_OK; st.errpos = 0;

    if (len > (size_t)INT32_MAX) { free(text); st.err = E_TOOLARGE; goto fail; }
    if (!text) { st.err = E_NOMEM; goto fail; }
    memset(text + len, 0, RJ_PAD);
    doc->text = text;
    doc->len = len;
    st.base = (const uint8_t *)text;
    st.end = st.base + len;
    p = st.base;
    SKIP_WS(p);
    if (p == st.end) { st.err = E_EMPTY; goto fail; }

    /* every node takes at least 2 bytes of input, bar the last: n_nodes <= len/2 + 1 */
    ncap = len / 8 + 16;
    if (ncap > len / 2 + 2) ncap = len / 2 + 2;
    kcap = ncap;
    nodes = (rj_node *)malloc(ncap * sizeof *nodes);
    if (!nodes) { st.err = E_NOMEM; goto fail; }
    kids = (uint32_t *)malloc(kcap * sizeof *kids);
    if (!kids) { st.err = E_NOMEM; goto fail; }

#define ENSURE_NODE() \
    do { if (nn == ncap && grow((void **)&nodes, &ncap, sizeof *nodes, (size_t)nn + 1)) \
             { st.err = E_NOMEM; goto fail; } } while (0)
#define PUSH_KID(idx) \
    do { if (nt == tcap && grow_tmp(&tmp, tmp_local, &tcap)) { st.err = E_NOMEM; goto fail; } \
         tmp[nt++] = (idx); } while (0)

value:                                   /* p at the first byte of a value (not whitespace) */
    ENSURE_NODE();
    {
        rj_node *n = &nodes[nn];
        switch (*p) {
        case '{':
        case '[':
            if (depth == RJ_MAX_DEPTH) { st.err = E_DEPTH; st.errpos = (size_t)(p - st.base); goto fail; }
            cur_obj = (*p == '{');
            n->type = cur_obj ? RJ_OBJ : RJ_ARR;
            n->flags = 0;
            n->reserved = 0;
            n->count = 0;
            n->u.c.kids = nt;                    /* while open: base of its children in tmp */
            n->u.c.start = (uint32_t)(p - st.base);   /* its first byte, for rj_span */
            cur = nn++;
            stk[depth++] = cur;
            p++;
            SKIP_WS(p);
            if (*p == (cur_obj ? '}' : ']')) { p++; goto close; }
            if (cur_obj) {
                if (*p != '"') goto bad_char;
                goto key;
            }
            PUSH_KID(nn);
            goto value;
        case '"':
            p = parse_str(&st, p, n);
            if (!p) goto fail;
            nn++;
            goto after_value;
        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9': {
            const uint8_t *start = p;
            int neg = 0, isint = 1;
            uint64_t m = 0;
            unsigned nd = 0;                     /* significant digits seen (saturating use) */
            int64_t nfrac = 0, ex = 0;
            if (*p == '-') { neg = 1; p++; }
            if (*p == '0') { p++; nd = 1; }
            else if ((unsigned)(*p - '1') < 9u) {
                do { m = m * 10 + (unsigned)(*p - '0'); nd++; p++; } while (is_digit(*p));
            } else goto bad_number;
            if (*p == '.') {
                isint = 0;
                p++;
                if (!is_digit(*p)) goto bad_number;
                do { m = m * 10 + (unsigned)(*p - '0'); nd++; nfrac++; p++; } while (is_digit(*p));
            }
            if ((*p | 0x20) == 'e') {
                int eneg = 0;
                isint = 0;
                p++;
                if (*p == '+' || *p == '-') { eneg = (*p == '-'); p++; }
                if (!is_digit(*p)) goto bad_number;
                do { if (ex < 100000000) ex = ex * 10 + (*p - '0'); p++; } while (is_digit(*p));
                if (eneg) ex = -ex;
            }
            {
                uint8_t c = *p;
                if (is_digit(c) || c == '.' || (c | 0x20) == 'e' || c == '+' || c == '-')
                    goto bad_number;
            }
            n->flags = 0;
            n->reserved = 0;
            n->count = 0;
            if (isint && (nd <= 18 || (nd == 19 && m <= (uint64_t)INT64_MAX + (uint64_t)neg))) {
                n->type = RJ_INT;
                if (!neg) n->u.i = (int64_t)m;
                else if (m == (uint64_t)INT64_MAX + 1u) n->u.i = INT64_MIN;
                else n->u.i = -(int64_t)m;
            } else {
                double d;
                n->type = RJ_DBL;
#ifdef RJ_FAST_DOUBLE
                int64_t e10 = ex - nfrac;
                if (nd <= 19 && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
                    d = (double)m;
                    if (e10 >= 0) d *= rj_pow10[e10];
                    else d /= rj_pow10[-e10];
                    if (neg) d = -d;
                } else
#endif
                if (rj_strtod(start, &d)) { st.err = E_NOMEM; goto fail; }
                n->u.d = d;
            }
            nn++;
            goto after_value;
        bad_number:
            st.err = E_NUMBER;
            st.errpos = (size_t)(start - st.base);
            goto fail;
        }
        case 't':
            if (memcmp(p, "true", 4)) goto bad_literal;
            n->type = RJ_TRUE; p += 4; goto scalar;
        case 'f':
            if (memcmp(p, "false", 5)) goto bad_literal;
            n->type = RJ_FALSE; p += 5; goto scalar;
        case 'n':
            if (memcmp(p, "null", 4)) goto bad_literal;
            n->type = RJ_NULL; p += 4; goto scalar;
        default:
            goto bad_char;
        }
    scalar:
        n->flags = 0;
        n->reserved = 0;
        n->count = 0;
        n->u.i = 0;
        nn++;
        goto after_value;
    }

key:                                     /* p at the opening quote of a member key */
    ENSURE_NODE();
    PUSH_KID(nn);
    p = parse_str(&st, p, &nodes[nn]);
    if (!p) goto fail;
    nn++;
    SKIP_WS(p);
    if (*p != ':') goto bad_char;
    p++;
    SKIP_WS(p);
    goto value;

after_value:
    if (depth == 0) goto done;
    SKIP_WS(p);
    if (*p == ',') {
        p++;
        SKIP_WS(p);
        if (cur_obj) {
            if (*p != '"') goto bad_char;
            goto key;
        }
        PUSH_KID(nn);
        goto value;
    }
    if (*p != (cur_obj ? '}' : ']')) goto bad_char;
    p++;

close:                                   /* close container `cur` (p already past it) */
    {
        rj_node *c = &nodes[cur];
        uint32_t base = c->u.c.kids, cnt = nt - base;
        if ((size_t)nk + cnt > kcap) {
            if (grow((void **)&kids, &kcap, sizeof *kids, (size_t)nk + cnt)) {
                st.err = E_NOMEM; goto fail;
            }
        }
        if (cnt) memcpy(kids + nk, tmp + base, (size_t)cnt * sizeof *kids);
        c->count = cnt;
        c->u.c.kids = nk;
        nk += cnt;
        nt = base;
        depth--;
        if (depth) {
            cur = stk[depth - 1];
            cur_obj = (nodes[cur].type == RJ_OBJ);
        }
        goto after_value;
    }

done:
    SKIP_WS(p);
    if (p != st.end) { st.err = E_TRAILING; st.errpos = (size_t)(p - st.base); goto fail; }
    if (tmp != tmp_local) free(tmp);
    /* a document may be held for long (thousands of heat pumps): give back what the
     * estimates over-allocated; shrinking in place is cheap */
    if (st.sb && st.sb_cap > st.sb_len + 64) {
        char *nb = (char *)realloc(st.sb, st.sb_len ? st.sb_len : 1);
        if (nb) st.sb = nb;
    }
    if (ncap > (size_t)nn + nn / 8 + 8) {
        rj_node *nb = (rj_node *)realloc(nodes, (nn ? nn : 1) * sizeof *nodes);
        if (nb) nodes = nb;
    }
    if (kcap > (size_t)nk + nk / 8 + 8) {
        uint32_t *kb = (uint32_t *)realloc(kids, (nk ? nk : 1) * sizeof *kids);
        if (kb) kids = kb;
    }
    doc->strbuf = st.sb;
    doc->strbuf_len = st.sb_len;
    doc->nodes = nodes;
    doc->n_nodes = nn;
    doc->kids = kids;
    doc->n_kids = nk;
    return 0;

bad_literal:
    {
        const char *lit = (*p == 't') ? "true" : (*p == 'f') ? "false" : "null";
        const uint8_t *q = p;
        while (*q == (uint8_t)lit[q - p]) q++;
        p = q;
    }
    /* fall through */
bad_char:
    if (p >= st.end) { st.err = E_EOF; st.errpos = len; }
    else { st.err = E_CHAR; st.errpos = (size_t)(p - st.base); errch = *p; }
    /* fall through */
fail:
    rc = (st.err == E_NOMEM) ? -2 : -1;
    rj_format_error(errbuf, errlen, st.err, st.errpos, errch);
    if (tmp != tmp_local) free(tmp);
    free(nodes);
    free(kids);
    free(st.sb);
    free(doc->text);
    memset(doc, 0, sizeof *doc);
    return rc;
#undef ENSURE_NODE
#undef PUSH_KID
}

/* ---------------------------------------------------------------------------------- */
/* accessors                                                                           */

uint32_t rj_obj_get(const rj_doc *doc, uint32_t obj, const char *key, size_t klen) {
    const rj_node *o, *nodes;
    const uint32_t *k;
    uint32_t i;
    if (obj >= doc->n_nodes) return RJ_NONE;
    nodes = doc->nodes;
    o = &nodes[obj];
    if (o->type != RJ_OBJ || klen > UINT32_MAX) return RJ_NONE;
    k = doc->kids + o->u.c.kids;
    for (i = o->count; i-- > 0;) {                 /* backwards: the last duplicate wins */
        const rj_node *kn = &nodes[k[i]];
        if (kn->u.s.len == (uint32_t)klen) {
            const char *s = ((kn->flags & RJ_F_ESCAPED) ? doc->strbuf : doc->text) + kn->u.s.off;
            if (klen == 0 || memcmp(s, key, klen) == 0) return k[i] + 1;
        }
    }
    return RJ_NONE;
}

void rj_free(rj_doc *doc) {
    if (!doc) return;
    free(doc->text);
    free(doc->strbuf);
    free(doc->nodes);
    free(doc->kids);
    memset(doc, 0, sizeof *doc);
}

/* The end (one past the last byte) of the array or object whose bracket is text[i]: a scan
 * that counts brackets outside strings. Only called on a document rj_parse accepted. */
static size_t container_end(const char *text, size_t len, size_t i) {
    int depth = 0;
    for (; i < len; i++) {
        char ch = text[i];
        if (ch == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;        /* an escaped byte, a quote among them */
        } else if (ch == '[' || ch == '{') {
            depth++;
        } else if ((ch == ']' || ch == '}') && --depth == 0) {
            return i + 1;
        }
    }
    return len;
}

void rj_span(const rj_doc *doc, uint32_t n, size_t *start, size_t *len) {
    const rj_node *nd = &doc->nodes[n];
    if (n == 0) {
        *start = 0;
        *len = doc->len;
    } else if (nd->type == RJ_ARR || nd->type == RJ_OBJ) {
        *start = nd->u.c.start;
        *len = container_end(doc->text, doc->len, nd->u.c.start) - nd->u.c.start;
    } else {
        *start = 0;     /* scalars are never views: no span is recorded for them */
        *len = 0;
    }
}
