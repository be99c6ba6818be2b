/*
 * json.c: strict RFC 8259 JSON validator and the readers of the compact document (json.h).
 *
 * Implementation notes:
 *  - pj_parse validates in one pass, with no recursion (a byte per open container records
 *    whether it is an object) and no output but the root container's index, which goes
 *    after the body and its padding in the same allocation.
 *  - The body is followed by PJ_PAD zero bytes, so the scanners may read a few bytes past
 *    the end without bounds checks (the NUL at text[len] stops every scanner: it is neither
 *    whitespace, a digit, a literal letter nor a plain string byte).
 *  - Strings are scanned 16 bytes at a time with SSE2 on x86-64 (or 8 at a time with SWAR
 *    elsewhere, and with -DPJ_NO_SIMD, which the tests build too).
 *  - Numbers are converted when read: int64 integers by hand; doubles by the exact Clinger
 *    fast path when it is exact (<= 19 significant digits, mantissa <= 2^53, |exp10| <= 22),
 *    else strtod_l with a "C" locale, so the result is always exactly strtod's.
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1          /* newlocale / strtod_l */
#endif

#include "json.h"

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
#if defined(__SSE2__) && !defined(PJ_NO_SIMD)
#define PJ_SSE2 1
#include <emmintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PJ_ALWAYS_INLINE static inline __attribute__((always_inline))
#define PJ_NOINLINE static __attribute__((noinline))
#else
#define PJ_ALWAYS_INLINE static inline
#define PJ_NOINLINE static
#endif

#define PJ_TMP_LOCAL 256                /* root-index entries kept on the C stack while parsing */

/* ---------------------------------------------------------------------------------- */
/* "C" locale for strtod_l, created once                                               */

static pthread_once_t pj_locale_once = PTHREAD_ONCE_INIT;
static locale_t pj_c_locale;

static void pj_locale_init(void) {
    pj_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* ---------------------------------------------------------------------------------- */
/* errors                                                                              */

enum {
    E_OK = 0, E_CHAR, E_EOF, E_UNTERM, E_ESCAPE, E_UTF8, E_CTRL, E_NUMBER, E_DEPTH,
    E_TRAILING, E_EMPTY, E_TOOLARGE, E_NOMEM
};

static void pj_format_error(char *errbuf, size_t errlen, int err, size_t pos, unsigned ch) {
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
#if defined(PJ_SSE2) && (defined(__GNUC__) || defined(__clang__))
static inline const uint8_t *scan_plain(const uint8_t *p) {
    const __m128i two = _mm_set1_epi8(0x02), bs = _mm_set1_epi8('\\'), lim = _mm_set1_epi8(0x21);
    for (;;) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* v ^ 0x02 < 0x21 (signed) in one compare: '"' (0x22) becomes 0x20, bytes < 0x20 stay
         * below it, bytes >= 0x80 stay negative, and no other byte lands below 0x21 (0x20 and
         * 0x23 swap to 0x22 and 0x21) */
        __m128i m = _mm_or_si128(_mm_cmplt_epi8(_mm_xor_si128(v, two), lim), _mm_cmpeq_epi8(v, bs));
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

int pj_is_number_literal(const char *str, size_t len) {
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

/* ---------------------------------------------------------------------------------- */
/* scanners of validated text                                                          */

/* First '"' or '\\' at or after p. Relies on the padding (a validated string always ends). */
#if defined(PJ_SSE2) && (defined(__GNUC__) || defined(__clang__))
static inline const uint8_t *scan_qb(const uint8_t *p) {
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    for (;;) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, q),
                                                                 _mm_cmpeq_epi8(v, bs)));
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
}
#else
static inline const uint8_t *scan_qb(const uint8_t *p) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    for (;;) {
        uint64_t v;
        memcpy(&v, p, 8);
        uint64_t xq = v ^ (ones * '"'), xb = v ^ (ones * '\\');
        if ((((xq - ones) & ~xq) | ((xb - ones) & ~xb)) & highs) break;
        p += 8;
    }
    while (*p != '"' && *p != '\\') p++;
    return p;
}
#endif

int pj_simd(void) {
#if defined(PJ_SSE2) && (defined(__GNUC__) || defined(__clang__))
    return 1;
#else
    return 0;
#endif
}

#define SKIP_WS(p) \
    while (*(p) <= ' ' && (*(p) == ' ' || *(p) == '\n' || *(p) == '\r' || *(p) == '\t')) (p)++

/* p at the opening quote of a validated string: the byte after its closing quote; *esc is set
 * to 1 when the string holds an escape. */
static inline const uint8_t *skip_str(const uint8_t *p, int *esc) {
    p++;
    for (;;) {
        p = scan_qb(p);
        if (*p == '"') return p + 1;
        *esc = 1;
        p += 2;                               /* the backslash and the byte it escapes */
    }
}

/* bytes that can continue a number literal */
static const uint8_t num_byte[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['-'] = 1, ['+'] = 1, ['.'] = 1, ['e'] = 1, ['E'] = 1,
};

/* p at the first byte of a validated value: the byte after it. */
static const uint8_t *skip_value(const uint8_t *p) {
    int esc = 0;
    switch (*p) {
    case '"': return skip_str(p, &esc);
    case '{': case '[': {
        unsigned depth = 0;
        for (;;) {
            uint8_t c = *p;
            if (c == '"') { p = skip_str(p, &esc); continue; }
            if (c == '{' || c == '[') depth++;
            else if ((c == '}' || c == ']') && --depth == 0) return p + 1;
            p++;
        }
    }
    case 't': case 'n': return p + 4;
    case 'f': return p + 5;
    default:
        while (num_byte[*p]) p++;
        return p;
    }
}

/* ---------------------------------------------------------------------------------- */
/* the validator                                                                       */

typedef struct pj_state {
    const uint8_t *base, *end;    /* doc->text, doc->text + len */
    int     err;
    size_t  errpos;
    unsigned errch;               /* the unexpected byte, for E_CHAR */
} pj_state;

/* p at a backslash inside the string whose opening quote is q0: the byte after the escape,
 * or NULL (st->err set). */
PJ_NOINLINE const uint8_t *check_escape(pj_state *st, const uint8_t *q0, const uint8_t *p) {
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u':
        if (hex4(p + 2) < 0) {
            int i;
            for (i = 2; i < 6 && hexval(p[i]) >= 0; i++) {}
            st->err = (p + i >= st->end) ? E_UNTERM : E_ESCAPE;
            st->errpos = (size_t)((st->err == E_UNTERM ? q0 : p) - st->base);
            return NULL;
        }
        return p + 6;
    default:
        if (p + 1 >= st->end) { st->err = E_UNTERM; st->errpos = (size_t)(q0 - st->base); }
        else { st->err = E_ESCAPE; st->errpos = (size_t)(p - st->base); }
        return NULL;
    }
}

/* p at the opening quote: the byte after the closing quote, or NULL (st->err set); *esc set
 * to 1 when the string holds an escape. */
PJ_ALWAYS_INLINE const uint8_t *check_str(pj_state *st, const uint8_t *p, int *esc) {
    const uint8_t *q0 = p;
    p++;
    for (;;) {
        p = scan_plain(p);
        uint8_t c = *p;
        if (c == '"') return p + 1;
        if (c >= 0x80) {
            const uint8_t *r = utf8_seq(p);
            if (!r) { st->err = E_UTF8; st->errpos = (size_t)(p - st->base); return NULL; }
            p = r;
            continue;
        }
        if (c == '\\') {
            *esc = 1;
            p = check_escape(st, q0, p);
            if (!p) return NULL;
            continue;
        }
        if (p >= st->end) { st->err = E_UNTERM; st->errpos = (size_t)(q0 - st->base); }
        else { st->err = E_CTRL; st->errpos = (size_t)(p - st->base); }
        return NULL;
    }
}

/* the root-index stack starts in a local array and moves to the heap when it fills up */
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

static int parse_block(pj_doc *doc, char *block, size_t hdr, size_t len, size_t cap, char *errbuf,
                       size_t errlen);

/* room for the root index that a copy reserves, so that the block seldom moves: enough for a
 * heat pump (66 members in 3.3 KB take 5 bytes each, 346 with the padding of the tags) */
#define PJ_RESERVE(len) ((len) / 10 + 32)

int pj_parse(pj_doc *doc, const char *text, size_t len, char *errbuf, size_t errlen) {
    return pj_parse_hdr(doc, text, len, 0, errbuf, errlen);
}

int pj_parse_hdr(pj_doc *doc, const char *text, size_t len, size_t hdr, char *errbuf, size_t errlen) {
    char *b;
    size_t cap = hdr + len + PJ_PAD + PJ_RESERVE(len);
    if (len > (size_t)INT32_MAX || !(b = (char *)malloc(cap)))
        return pj_parse_owned(doc, NULL, len, errbuf, errlen);
    if (len) memcpy(b + hdr, text, len);
    return parse_block(doc, b, hdr, len, cap, errbuf, errlen);
}

int pj_parse_owned(pj_doc *doc, char *text, size_t len, char *errbuf, size_t errlen) {
    return parse_block(doc, text, 0, len, len + PJ_PAD, errbuf, errlen);
}

int pj_parse_block(pj_doc *doc, char *block, size_t hdr, size_t len, size_t cap, char *errbuf, size_t errlen) {
    if (block && cap < hdr + len + PJ_PAD) {        /* not what the caller promised: refuse */
        free(block);
        block = NULL;
    }
    return parse_block(doc, block, hdr, len, cap, errbuf, errlen);
}

/* what scan_text finds of the root container: its index and, for an object, its keys' tags */
typedef struct pj_rec {
    uint32_t *rec;                  /* rec_local, or a heap array when it outgrows it */
    size_t rcap;
    uint32_t nr;
    int root_esc;                   /* some root key has escapes */
    uint32_t rec_local[PJ_TMP_LOCAL];
    uint8_t tags[PJ_TMP_LOCAL];     /* tags of the first PJ_TMP_LOCAL root keys */
} pj_rec;

/* Validates the text from p (the root value's first byte) to the end. Returns 0, or -1 with
 * st->err, st->errpos and st->errch set. Kept apart from the bookkeeping around it so that the
 * compiler keeps the loop's state in registers. */
PJ_NOINLINE int scan_text(pj_state *st, const uint8_t *p, pj_rec *r) {
    uint8_t stk[PJ_MAX_DEPTH];              /* 1: an object is open at this depth */
    int depth = 0, cur_obj = 0;
    uint32_t nr = 0;

#define RECORD(x) \
    do { if (nr == r->rcap && grow_tmp(&r->rec, r->rec_local, &r->rcap)) { st->err = E_NOMEM; goto fail; } \
         r->rec[nr++] = (x); } while (0)

value:                                   /* p at the first byte of a value, or whitespace */
    if (*p == '"') {                      /* most values are strings: no dispatch for them */
        int esc = 0;
        p = check_str(st, p, &esc);
        if (!p) goto fail;
        goto after_value;
    }
    switch (*p) {
    case ' ': case '\t': case '\n': case '\r':
        p++;
        SKIP_WS(p);
        goto value;                       /* at a non-blank now */
    case '{':
    case '[':
        if (depth == PJ_MAX_DEPTH) { st->err = E_DEPTH; st->errpos = (size_t)(p - st->base); goto fail; }
        cur_obj = (*p == '{');
        stk[depth++] = (uint8_t)cur_obj;
        p++;
        SKIP_WS(p);
        if (*p == (cur_obj ? '}' : ']')) { p++; goto close; }
        if (cur_obj) {
            if (*p != '"') goto bad_char;
            goto key;
        }
        if (depth == 1) RECORD((uint32_t)(p - st->base));
        goto value;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        const uint8_t *start = p;
        if (*p == '-') p++;
        if (*p == '0') p++;
        else if ((unsigned)(*p - '1') < 9u) { do p++; while (is_digit(*p)); }
        else goto bad_number;
        if (*p == '.') {
            p++;
            if (!is_digit(*p)) goto bad_number;
            do p++; while (is_digit(*p));
        }
        if ((*p | 0x20) == 'e') {
            p++;
            if (*p == '+' || *p == '-') p++;
            if (!is_digit(*p)) goto bad_number;
            do p++; while (is_digit(*p));
        }
        if (num_byte[*p]) goto bad_number;
        goto after_value;
    bad_number:
        st->err = E_NUMBER;
        st->errpos = (size_t)(start - st->base);
        goto fail;
    }
    case 't':
        if (memcmp(p, "true", 4)) goto bad_literal;
        p += 4; goto after_value;
    case 'f':
        if (memcmp(p, "false", 5)) goto bad_literal;
        p += 5; goto after_value;
    case 'n':
        if (memcmp(p, "null", 4)) goto bad_literal;
        p += 4; goto after_value;
    default:
        goto bad_char;
    }

key:                                     /* p at the opening quote of a member key */
    {
        const uint8_t *k = p;
        int esc = 0;
        p = check_str(st, p, &esc);
        if (!p) goto fail;
        if (depth == 1) {
            if (nr < PJ_TMP_LOCAL) r->tags[nr] = pj_key_tag((const char *)k + 1, (size_t)(p - k) - 2);
            r->root_esc |= esc;
            RECORD((uint32_t)(k - st->base) | (esc ? PJ_KEY_ESC : 0));
        }
    }
    if (*p != ':') {                      /* compact text first: no blank before the colon */
        SKIP_WS(p);
        if (*p != ':') goto bad_char;
    }
    p++;
    goto value;                           /* a blank after the colon is the value's first case */

after_value:
    if (depth == 0) goto done;
    if (*p != ',') SKIP_WS(p);
    if (*p == ',') {
        p++;
        if (cur_obj) {
            if (*p == '"') goto key;
            SKIP_WS(p);
            if (*p != '"') goto bad_char;
            goto key;
        }
        SKIP_WS(p);
        if (depth == 1) RECORD((uint32_t)(p - st->base));
        goto value;
    }
    if (*p != (cur_obj ? '}' : ']')) goto bad_char;
    p++;

close:                                   /* a container closed (p already past it) */
    depth--;
    if (depth) cur_obj = stk[depth - 1];
    goto after_value;

done:
    SKIP_WS(p);
    if (p != st->end) { st->err = E_TRAILING; st->errpos = (size_t)(p - st->base); goto fail; }
    r->nr = nr;
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
    if (p >= st->end) { st->err = E_EOF; st->errpos = (size_t)(st->end - st->base); }
    else { st->err = E_CHAR; st->errpos = (size_t)(p - st->base); st->errch = *p; }
    /* fall through */
fail:
    r->nr = nr;
    return -1;
#undef RECORD
}

/* block: a malloc'd block of cap bytes holding hdr bytes for the caller, then the body */
static int parse_block(pj_doc *doc, char *block, size_t hdr, size_t len, size_t cap, char *errbuf,
                       size_t errlen) {
    char *text = block ? block + hdr : NULL;
    pj_state st;
    pj_rec r;
    const uint8_t *p;
    uint32_t nr;
    int rc;

    memset(doc, 0, sizeof *doc);
    if (errbuf && errlen) errbuf[0] = '\0';
    st.err = E_OK; st.errpos = 0; st.errch = 0;
    r.rec = r.rec_local;
    r.rcap = PJ_TMP_LOCAL;
    r.nr = 0;
    r.root_esc = 0;

    if (len > (size_t)INT32_MAX) { free(block); st.err = E_TOOLARGE; goto fail; }
    if (!text) { st.err = E_NOMEM; goto fail; }
    memset(text + len, 0, PJ_PAD);
    doc->text = text;
    doc->hdr = hdr;
    doc->len = len;
    st.base = (const uint8_t *)text;
    st.end = st.base + len;
    p = st.base;
    SKIP_WS(p);
    if (p == st.end) { st.err = E_EMPTY; goto fail; }
    doc->root = (pj_val)(p - st.base);
    if (scan_text(&st, p, &r) != 0) goto fail;

    nr = r.nr;
    if (nr) {
        /* the root index (and for an object its tags, padded for 16-byte loads) goes after the
         * body and its padding, in the same block: a reserve the copy made, given back, or more */
        size_t off = (len + PJ_PAD + 3) & ~(size_t)3;
        int is_obj = st.base[doc->root] == '{';
        size_t ntags = is_obj ? (((size_t)nr + 15) & ~(size_t)15) : 0;
        size_t need = hdr + off + (size_t)nr * sizeof *r.rec + ntags;
        if (need > cap || cap - need > 256) {           /* a big reserve is given back */
            char *nb = (char *)realloc(block, need);
            if (!nb) { st.err = E_NOMEM; goto fail; }
            doc->text = nb + hdr;
        }
        doc->root_idx = (uint32_t *)(void *)(doc->text + off);
        memcpy(doc->root_idx, r.rec, (size_t)nr * sizeof *r.rec);
        doc->n_root = nr;
        if (is_obj) {
            uint32_t i;
            doc->root_tags = (uint8_t *)(doc->root_idx + nr);
            memcpy(doc->root_tags, r.tags, nr < PJ_TMP_LOCAL ? nr : PJ_TMP_LOCAL);
            for (i = PJ_TMP_LOCAL; i < nr; i++) {           /* keys past the local array */
                const char *raw;
                size_t rawlen;
                pj_str_raw(doc, r.rec[i] & ~PJ_KEY_ESC, &raw, &rawlen);
                doc->root_tags[i] = pj_key_tag(raw, rawlen);
            }
            memset(doc->root_tags + nr, 0, ntags - nr);
            doc->root_esc = r.root_esc;
        }
    }
    if (r.rec != r.rec_local) free(r.rec);
    return 0;

fail:
    rc = (st.err == E_NOMEM) ? -2 : -1;
    pj_format_error(errbuf, errlen, st.err, st.errpos, st.errch);
    if (r.rec != r.rec_local) free(r.rec);
    if (doc->text) free(doc->text - doc->hdr);
    memset(doc, 0, sizeof *doc);
    return rc;
}

void pj_free(pj_doc *doc) {
    if (!doc) return;
    if (doc->text) free(doc->text - doc->hdr);
    memset(doc, 0, sizeof *doc);
}

/* ---------------------------------------------------------------------------------- */
/* numbers                                                                             */

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define PJ_FAST_DOUBLE 1
static const double pj_pow10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};
#endif

/* strtod in the "C" locale for a NUL-terminated number text: 0, or -1 without a locale. */
int pj_strtod_c(const char *s, double *out) {
    pthread_once(&pj_locale_once, pj_locale_init);
    if (pj_c_locale == (locale_t)0) return -1;
    *out = strtod_l(s, NULL, pj_c_locale);
    return 0;
}

/* The shortest text of a finite double that reads back as the same double, as a JSON number
 * ("%.15g", "%.16g" or "%.17g" in the "C" locale, whatever the process's locale). Writes at
 * most 32 bytes with the NUL; returns the length, or -1 for NaN/infinity or no locale. */
int pj_format_double(double d, char out[32]) {
    locale_t old;
    int p, n = -1;
    if (d != d || d > DBL_MAX || d < -DBL_MAX) return -1;
    pthread_once(&pj_locale_once, pj_locale_init);
    if (pj_c_locale == (locale_t)0) return -1;
    old = uselocale(pj_c_locale);
    for (p = 15; p <= 17; p++) {
        n = snprintf(out, 32, "%.*g", p, d);
        if (strtod(out, NULL) == d) break;
    }
    uselocale(old);
    return n;
}

/* Scans the validated number literal at p: PJ_INT with *i, or PJ_DBL with *d unless d is NULL
 * (then only the type is found); -1 if no "C" locale could be made. */
static int read_number(const uint8_t *p, int64_t *i, double *d) {
    const uint8_t *start = p;
    int neg = 0, isint = 1;
    uint64_t m = 0;
    unsigned nd = 0;                     /* significant digits seen (saturating use) */
    int64_t nfrac = 0, ex = 0;
    if (*p == '-') { neg = 1; p++; }
    if (*p == '0') { p++; nd = 1; }
    else { do { m = m * 10 + (unsigned)(*p - '0'); nd++; p++; } while (is_digit(*p)); }
    if (*p == '.') {
        isint = 0;
        p++;
        do { m = m * 10 + (unsigned)(*p - '0'); nd++; nfrac++; p++; } while (is_digit(*p));
    }
    if ((*p | 0x20) == 'e') {
        int eneg = 0;
        isint = 0;
        p++;
        if (*p == '+' || *p == '-') { eneg = (*p == '-'); p++; }
        do { if (ex < 100000000) ex = ex * 10 + (*p - '0'); p++; } while (is_digit(*p));
        if (eneg) ex = -ex;
    }
    if (isint && (nd <= 18 || (nd == 19 && m <= (uint64_t)INT64_MAX + (uint64_t)neg))) {
        if (!neg) *i = (int64_t)m;
        else if (m == (uint64_t)INT64_MAX + 1u) *i = INT64_MIN;
        else *i = -(int64_t)m;
        return PJ_INT;
    }
    if (!d) return PJ_DBL;
#ifdef PJ_FAST_DOUBLE
    {
        int64_t e10 = ex - nfrac;
        if (nd <= 19 && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
            double x = (double)m;
            if (e10 >= 0) x *= pj_pow10[e10];
            else x /= pj_pow10[-e10];
            *d = neg ? -x : x;
            return PJ_DBL;
        }
    }
#endif
    {
        /* strtod_l stops at the byte after the literal, which cannot extend it */
        int saved = errno;
        pthread_once(&pj_locale_once, pj_locale_init);
        if (pj_c_locale == (locale_t)0) return -1;
        *d = strtod_l((const char *)start, NULL, pj_c_locale);
        errno = saved;
    }
    return PJ_DBL;
}

int pj_num_text(const char *s, int64_t *i, double *d) {
    return read_number((const uint8_t *)s, i, d);
}

int pj_num(const pj_doc *doc, pj_val v, int64_t *i, double *d) {
    uint8_t c = (uint8_t)doc->text[v];
    int64_t dummy;
    if (c != '-' && !is_digit(c)) return -1;
    return read_number((const uint8_t *)doc->text + v, i ? i : &dummy, d);
}

int pj_type(const pj_doc *doc, pj_val v) {
    int64_t i;
    switch (doc->text[v]) {
    case 'n': return PJ_NULL;
    case 'f': return PJ_FALSE;
    case 't': return PJ_TRUE;
    case '"': return PJ_STR;
    case '[': return PJ_ARR;
    case '{': return PJ_OBJ;
    default: return read_number((const uint8_t *)doc->text + v, &i, NULL);
    }
}

/* ---------------------------------------------------------------------------------- */
/* strings                                                                             */

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

size_t pj_unescape(const char *raw, size_t rawlen, char *out) {
    const uint8_t *p = (const uint8_t *)raw, *e = p + rawlen;
    uint8_t *o = (uint8_t *)out;
    while (p < e) {
        const uint8_t *bs = (const uint8_t *)memchr(p, '\\', (size_t)(e - p));
        size_t n = (size_t)((bs ? bs : e) - p);
        memcpy(o, p, n);
        o += n;
        p += n;
        if (!bs) break;
        switch (p[1]) {
        case 'b': *o++ = '\b'; p += 2; break;
        case 'f': *o++ = '\f'; p += 2; break;
        case 'n': *o++ = '\n'; p += 2; break;
        case 'r': *o++ = '\r'; p += 2; break;
        case 't': *o++ = '\t'; p += 2; break;
        case 'u': {
            int u = hex4(p + 2);
            p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (p + 6 <= e && p[0] == '\\' && p[1] == 'u') {
                    int l = hex4(p + 2);
                    if (l >= 0xDC00 && l <= 0xDFFF) {
                        o = put_utf8(o, 0x10000u + (((unsigned)u - 0xD800u) << 10) + ((unsigned)l - 0xDC00u));
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
        default: *o++ = p[1]; p += 2; break;        /* " \ / */
        }
    }
    return (size_t)(o - (uint8_t *)out);
}

int pj_str_raw(const pj_doc *doc, pj_val v, const char **raw, size_t *rawlen) {
    const uint8_t *s = (const uint8_t *)doc->text + v + 1, *p = s;
    int esc = 0;
    for (;;) {
        p = scan_qb(p);
        if (*p == '"') break;
        esc = 1;
        p += 2;
    }
    *raw = (const char *)s;
    *rawlen = (size_t)(p - s);
    return esc;
}

const char *pj_str(const pj_doc *doc, pj_val v, size_t *len, char **heap) {
    const char *raw;
    size_t rawlen;
    *heap = NULL;
    *len = 0;
    if (doc->text[v] != '"') return NULL;
    if (!pj_str_raw(doc, v, &raw, &rawlen)) {
        *len = rawlen;
        return raw;
    }
    if (!(*heap = (char *)malloc(rawlen + 1))) return NULL;
    *len = pj_unescape(raw, rawlen, *heap);
    (*heap)[*len] = 0;
    return *heap;
}

/* ---------------------------------------------------------------------------------- */
/* containers                                                                          */

pj_val pj_end(const pj_doc *doc, pj_val v) {
    return (pj_val)(skip_value((const uint8_t *)doc->text + v) - (const uint8_t *)doc->text);
}

pj_val pj_member_value(const pj_doc *doc, uint32_t k) {
    int esc = 0;
    const uint8_t *p = skip_str((const uint8_t *)doc->text + (k & ~PJ_KEY_ESC), &esc);
    SKIP_WS(p);
    p++;                                            /* ':' */
    SKIP_WS(p);
    return (pj_val)(p - (const uint8_t *)doc->text);
}

/* Walks container v, writing the first cap entries of its index (see pj_index) to out.
 * Returns the count (which may be more than cap). */
static uint32_t walk(const pj_doc *doc, pj_val v, uint32_t *out, uint32_t cap) {
    const uint8_t *t = (const uint8_t *)doc->text, *p = t + v;
    int in_obj = (*p == '{');
    uint32_t n = 0;
    if (!in_obj && *p != '[') return 0;
    p++;
    SKIP_WS(p);
    if (*p == '}' || *p == ']') return 0;
    for (;;) {
        if (in_obj) {
            const uint8_t *k = p;
            int esc = 0;
            p = skip_str(p, &esc);
            if (n < cap) out[n] = (uint32_t)(k - t) | (esc ? PJ_KEY_ESC : 0);
            SKIP_WS(p);
            p++;
            SKIP_WS(p);
        } else if (n < cap) {
            out[n] = (uint32_t)(p - t);
        }
        n++;
        p = skip_value(p);
        SKIP_WS(p);
        if (*p != ',') return n;
        p++;
        SKIP_WS(p);
    }
}

uint32_t pj_count(const pj_doc *doc, pj_val v) {
    char c = doc->text[v];
    if (c != '{' && c != '[') return 0;
    return v == doc->root ? doc->n_root : walk(doc, v, NULL, 0);
}

uint32_t pj_index(const pj_doc *doc, pj_val v, uint32_t *out) {
    return pj_index_some(doc, v, out, UINT32_MAX);
}

uint32_t pj_index_some(const pj_doc *doc, pj_val v, uint32_t *out, uint32_t cap) {
    char c = doc->text[v];
    if (c != '{' && c != '[') return 0;
    if (v == doc->root) {
        uint32_t n = doc->n_root < cap ? doc->n_root : cap;
        if (n) memcpy(out, doc->root_idx, (size_t)n * sizeof *out);
        return doc->n_root;
    }
    return walk(doc, v, out, cap);
}

pj_val pj_first(const pj_doc *doc, pj_val c) {
    const uint8_t *t = (const uint8_t *)doc->text, *p = t + c;
    if (*p != '{' && *p != '[') return PJ_NONE;
    p++;
    SKIP_WS(p);
    if (*p == '}' || *p == ']') return PJ_NONE;
    return (pj_val)(p - t);
}

pj_val pj_next(const pj_doc *doc, pj_val cur, int in_object) {
    const uint8_t *t = (const uint8_t *)doc->text, *p = t + cur;
    if (in_object) {
        int esc = 0;
        p = skip_str(p, &esc);
        SKIP_WS(p);
        p++;
        SKIP_WS(p);
    }
    p = skip_value(p);
    SKIP_WS(p);
    if (*p != ',') return PJ_NONE;
    p++;
    SKIP_WS(p);
    return (pj_val)(p - t);
}

/* 1 if the escaped key at k (its opening quote) decodes to key[0..klen) */
PJ_NOINLINE int esc_key_equals(const pj_doc *doc, uint32_t k, const char *key, size_t klen) {
    const char *raw;
    size_t rawlen, n;
    char local[256], *buf = local;
    int eq;
    pj_str_raw(doc, k, &raw, &rawlen);
    if (klen > rawlen) return 0;                    /* decoding never grows a string */
    if (rawlen > sizeof local && !(buf = (char *)malloc(rawlen))) return 0;
    n = pj_unescape(raw, rawlen, buf);
    eq = n == klen && memcmp(buf, key, klen) == 0;
    if (buf != local) free(buf);
    return eq;
}

/* 1 when key[0..klen) can be a key written without escapes (no quote, no backslash) */
static inline int plain_key(const char *key, size_t klen) {
    return !memchr(key, '"', klen) && !memchr(key, '\\', klen);
}

static inline int key_equals(const pj_doc *doc, uint32_t e, const char *key, size_t klen, int plain) {
    if (e & PJ_KEY_ESC) return esc_key_equals(doc, e & ~PJ_KEY_ESC, key, klen);
    if (plain) {
        size_t o = (size_t)e + 1;
        return o + klen < doc->len && doc->text[o + klen] == '"' &&
               (klen == 0 || memcmp(doc->text + o, key, klen) == 0);
    }
    return 0;
}

/* The root of an object without escaped keys: the LAST entry whose key is the bytes key[0..klen)
 * (0 < klen < len), looking only where the tags agree, 16 tags at a time; -1 when none. With
 * first, any such entry, searched from the start (enough to know that there is one). */
static long root_find(const pj_doc *doc, const char *key, size_t klen, int first) {
    const char *t = doc->text;
    const uint32_t *idx = doc->root_idx;
    uint32_t n = doc->n_root, nblk = (n + 15) / 16, b;
    size_t lim = doc->len - klen;
    uint8_t tag = pj_key_tag(key, klen);
    for (b = 0; b < nblk; b++) {
        uint32_t blk = first ? b : nblk - 1 - b;
        const uint8_t *tg = doc->root_tags + (size_t)blk * 16;
        unsigned mask = 0;
#if defined(PJ_SSE2) && (defined(__GNUC__) || defined(__clang__))
        mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
            _mm_loadu_si128((const __m128i *)(const void *)tg), _mm_set1_epi8((char)tag)));
#else
        {
            unsigned i;
            for (i = 0; i < 16; i++) mask |= (unsigned)(tg[i] == tag) << i;
        }
#endif
        if (blk * 16 + 16 > n) mask &= (1u << (n - blk * 16)) - 1;   /* the padding */
        while (mask) {
            unsigned bit = 31u - (unsigned)__builtin_clz(mask);
            size_t o = (size_t)idx[blk * 16 + bit] + 1;
            if (o < lim && t[o + klen] == '"' && memcmp(t + o, key, klen) == 0)
                return (long)(blk * 16 + bit);
            mask &= ~(1u << bit);
        }
    }
    return -1;
}

pj_val pj_index_find(const pj_doc *doc, const uint32_t *idx, uint32_t n, const char *key, size_t klen) {
    const char *t = doc->text;
    size_t lim;
    uint32_t i;
    char k0;
    if (klen == 0 || klen >= doc->len)
        goto slow;
    if (idx == doc->root_idx && doc->root_tags && !doc->root_esc) {
        long at = root_find(doc, key, klen, 0);
        /* the same bytes are the key itself, unless key holds a quote or a backslash (then it
         * can only be written with escapes, and no key of this object has any) */
        return at >= 0 && plain_key(key, klen) ? pj_member_value(doc, idx[at]) : PJ_NONE;
    }
    if (!plain_key(key, klen))
        goto slow;
    /* a key without quote or backslash is the same bytes in the text, followed by the closing
     * quote */
    lim = doc->len - klen;
    k0 = key[0];
    for (i = n; i-- > 0;) {
        uint32_t e = idx[i];
        size_t o = (size_t)e + 1;
        if (e & PJ_KEY_ESC) {
            if (esc_key_equals(doc, e & ~PJ_KEY_ESC, key, klen)) return pj_member_value(doc, e);
        } else if (o < lim && t[o] == k0 && t[o + klen] == '"' &&
                   memcmp(t + o + 1, key + 1, klen - 1) == 0) {
            return pj_member_value(doc, e);
        }
    }
    return PJ_NONE;
slow:
    {
        int plain = plain_key(key, klen);
        for (i = n; i-- > 0;)                      /* backwards: the last duplicate wins */
            if (key_equals(doc, idx[i], key, klen, plain)) return pj_member_value(doc, idx[i]);
        return PJ_NONE;
    }
}

int pj_has_plain_key(const pj_doc *doc, pj_val obj, const char *key, size_t klen) {
    if (obj == doc->root && doc->root_tags && !doc->root_esc && klen > 0 && klen < doc->len)
        return root_find(doc, key, klen, 1) >= 0;
    return pj_obj_get(doc, obj, key, klen) != PJ_NONE;
}

int pj_has_plain_key_hint(const pj_doc *doc, pj_val obj, const char *key, size_t klen, uint32_t hint) {
    if (obj == doc->root && hint < doc->n_root && doc->root_tags && !doc->root_esc && klen > 0 &&
        doc->text[obj] == '{') {
        size_t o = (size_t)doc->root_idx[hint] + 1;     /* the key's first byte */
        if (o + klen < doc->len && doc->text[o + klen] == '"' && memcmp(doc->text + o, key, klen) == 0)
            return 1;
    }
    return pj_has_plain_key(doc, obj, key, klen);
}

pj_val pj_obj_get(const pj_doc *doc, pj_val obj, const char *key, size_t klen) {
    const uint8_t *t = (const uint8_t *)doc->text, *p;
    pj_val found = PJ_NONE;
    int plain;
    if (doc->text[obj] != '{') return PJ_NONE;
    if (obj == doc->root) return pj_index_find(doc, doc->root_idx, doc->n_root, key, klen);
    plain = plain_key(key, klen);
    p = t + obj + 1;
    SKIP_WS(p);
    if (*p == '}') return PJ_NONE;
    for (;;) {
        const uint8_t *k = p;
        int esc = 0;
        p = skip_str(p, &esc);
        SKIP_WS(p);
        p++;
        SKIP_WS(p);
        if (key_equals(doc, (uint32_t)(k - t) | (esc ? PJ_KEY_ESC : 0), key, klen, plain))
            found = (pj_val)(p - t);
        p = skip_value(p);
        SKIP_WS(p);
        if (*p != ',') return found;
        p++;
        SKIP_WS(p);
    }
}

pj_val pj_arr_get(const pj_doc *doc, pj_val arr, uint32_t i) {
    pj_val e;
    if (doc->text[arr] != '[') return PJ_NONE;
    if (arr == doc->root) return i < doc->n_root ? doc->root_idx[i] : PJ_NONE;
    for (e = pj_first(doc, arr); e != PJ_NONE && i > 0; i--)
        e = pj_next(doc, e, 0);
    return e;
}

void pj_span(const pj_doc *doc, pj_val v, size_t *start, size_t *len) {
    char c = doc->text[v];
    if (v == doc->root) {
        *start = 0;
        *len = doc->len;
    } else if (c == '[' || c == '{') {
        *start = v;
        *len = pj_end(doc, v) - v;
    } else {
        *start = 0;     /* scalars are never views: no span for them */
        *len = 0;
    }
}
