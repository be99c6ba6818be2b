/*
 * json.h: a strict RFC 8259 JSON parser that turns a body into a flat, immutable
 * document ("tape") which the lazy Lua objects read from.
 *
 * Design (see DESIGN.md): the body is parsed once, non-recursively (explicit stack), into
 * an array of 16-byte nodes in document order. Containers know their children through a
 * contiguous slice of doc->kids, so element k of an array or member k of an object is O(1).
 * Strings without escapes point into the owned copy of the body; strings with escapes
 * are decoded once into doc->strbuf. Numbers are converted at parse time: a literal with
 * no fraction and no exponent that fits int64 is PJ_INT, everything else is PJ_DBL via a
 * locale-independent strtod (so the double is exactly strtod's).
 */
#ifndef PODERO_JSON_H
#define PODERO_JSON_H

#include <stddef.h>
#include <stdint.h>

#define PJ_MAX_DEPTH 512          /* deeper nesting is a parse error ("nested too deeply") */
#define PJ_NONE UINT32_MAX        /* "no such node" */

enum pj_type {
    PJ_NULL = 0, PJ_FALSE, PJ_TRUE, PJ_INT, PJ_DBL, PJ_STR, PJ_ARR, PJ_OBJ
};

/* node flags */
#define PJ_F_ESCAPED 0x01  /* string bytes live in doc->strbuf (escapes decoded), else in doc->text */
#define PJ_F_NUMLIT  0x02  /* string (after unescaping) is exactly a JSON number literal, e.g. "21.50", "-3", "1E-8" */

typedef struct pj_node {
    uint8_t  type;          /* enum pj_type */
    uint8_t  flags;         /* PJ_F_* */
    uint16_t reserved;
    uint32_t count;         /* PJ_ARR: elements; PJ_OBJ: members (key/value pairs); else 0 */
    union {
        int64_t i;                                  /* PJ_INT */
        double  d;                                  /* PJ_DBL */
        struct { uint32_t off, len; } s;            /* PJ_STR: bytes at (flags&ESCAPED ? strbuf : text) + off */
        struct { uint32_t kids, start; } c;         /* PJ_ARR/PJ_OBJ: first index into doc->kids;
                                                       offset of its '[' or '{' in text */
    } u;
} pj_node;

/*
 * doc->kids[c.kids .. c.kids+count-1]:
 *   for PJ_ARR, the node index of each element, in order;
 *   for PJ_OBJ, the node index of each member's KEY (a PJ_STR node); the member's
 *   value is ALWAYS the node right after its key (key index + 1) -- nodes are laid out in
 *   document order: OBJ, key1, value1 (and value1's descendants), key2, value2, ...
 * The root value is node 0.
 */
typedef struct pj_doc {
    char     *text;      /* owned copy of the body, NUL-terminated (text[len] == 0) */
    size_t    len;
    char     *strbuf;    /* decoded strings (only those with escapes) */
    size_t    strbuf_len;
    pj_node  *nodes;
    uint32_t  n_nodes;
    uint32_t *kids;
    uint32_t  n_kids;
} pj_doc;

/*
 * Parse len bytes at text (need not be NUL-terminated; the doc keeps its own copy).
 * On success returns 0 and fills *doc (free with pj_free).
 * On failure returns -1, leaves *doc empty (nothing to free, pj_free is still harmless),
 * and writes a one-line message such as "unexpected character 'x' at byte 17",
 * "unterminated string at byte 3", "nested too deeply at byte 513", "trailing data at
 * byte 42", "invalid UTF-8 at byte 9", "empty body" into errbuf (always NUL-terminated).
 * Returns -2 (with "out of memory" in errbuf) when an allocation fails.
 *
 * Rules (documented in the README; the parser must follow them exactly):
 *  - RFC 8259 strict: no comments, no trailing commas, no single quotes, no NaN/Infinity,
 *    no leading '+' or zeros, no hex, no control characters (< 0x20) inside strings,
 *    only the escapes \" \\ \/ \b \f \n \r \t \uXXXX. Whitespace is space, \t, \n, \r only.
 *  - Any JSON value is accepted at the root (the caller decides what it wants).
 *  - A UTF-8 byte order mark at the start is an error.
 *  - The input must be valid UTF-8 (no overlong forms, no surrogates U+D800..DFFF encoded
 *    directly, nothing above U+10FFFF); otherwise an error.
 *  - \u escapes: a valid surrogate pair becomes the 4-byte UTF-8 sequence; a lone or
 *    mismatched surrogate escape becomes U+FFFD (EF BF BD). \u0000 is kept as a NUL byte.
 *  - Numbers: "-0" is PJ_INT 0; integers beyond int64 are PJ_DBL (strtod);
 *    a literal whose magnitude overflows a double (1e400) is PJ_DBL +/-HUGE_VAL (inf);
 *    underflow gives strtod's result (0 or subnormal).
 *  - Duplicate keys are kept in the document as they appear (the lookup takes the LAST).
 *  - Nesting deeper than PJ_MAX_DEPTH is an error, without recursion (no stack overflow
 *    for 100000 '[').
 *  - Sizes: a body over 2^31 bytes is refused.
 */
int pj_parse(pj_doc *doc, const char *text, size_t len, char *errbuf, size_t errlen);

/* zero bytes after text[len-1] (includes the NUL) that the scanners rely on */
#define PJ_PAD 32

/*
 * pj_parse_owned: as pj_parse, but takes text over instead of copying it: text is malloc'd
 * with at least PJ_PAD writable bytes after len (the parser zeroes them); the document owns it
 * from here, and it is freed on failure too. text NULL: fails as out of memory (-2).
 */
int pj_parse_owned(pj_doc *doc, char *text, size_t len, char *errbuf, size_t errlen);

int pj_format_double(double d, char out[32]);   /* shortest round-trip text; -1: not finite */
int pj_strtod_c(const char *s, double *out);     /* strtod in the "C" locale; -1: no locale */
void pj_free(pj_doc *doc);     /* frees what pj_parse allocated; safe on a zeroed or freed doc */

/* String bytes of a PJ_STR node (not NUL-terminated in general; may contain NUL). */
static inline const char *pj_str(const pj_doc *doc, const pj_node *n, size_t *len) {
    *len = n->u.s.len;
    return ((n->flags & PJ_F_ESCAPED) ? doc->strbuf : doc->text) + n->u.s.off;
}

/* Value node index of member `key` in object node `obj` (the last one if repeated), or PJ_NONE. */
uint32_t pj_obj_get(const pj_doc *doc, uint32_t obj, const char *key, size_t klen);

/* Node index of element i (0-based) of array `arr`, or PJ_NONE when out of range. */
static inline uint32_t pj_arr_get(const pj_doc *doc, uint32_t arr, uint32_t i) {
    const pj_node *n = &doc->nodes[arr];
    return i < n->count ? doc->kids[n->u.c.kids + i] : PJ_NONE;
}

/*
 * The bytes of node n as received, as an offset and a length into doc->text: node 0 (the
 * root), the whole body, whitespace included; an array or object, from its bracket to the
 * matching one, byte for byte as sent; any other node, length 0 (scalars record no offset).
 */
void pj_span(const pj_doc *doc, uint32_t n, size_t *start, size_t *len);

/* 1 if the bytes s[0..len) are exactly one JSON number literal (RFC 8259 grammar), else 0. */
int pj_is_number_literal(const char *s, size_t len);

#endif
