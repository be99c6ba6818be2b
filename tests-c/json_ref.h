/*
 * json_ref.h: TEST-ONLY reference implementation of the JSON parser (tests-c/json_ref.c).
 *
 * This is csrc/json.h as it was before commit a94e543 (git show a94e543~1:csrc/json.h), the
 * "tape" parser: a document of 16-byte nodes in document order, kids slices, strings decoded
 * at parse time into strbuf, numbers converted at parse time. Every identifier is renamed
 * (pj_ -> rj_, PJ_ -> RJ_) so that it links next to the current csrc/json.c. It exists only
 * so that tests-c/pj_check.h (used by tests-c/json_test.c and fuzz/fuzz_json.c) can check the
 * current parser against it differentially: same acceptance, same error messages, same
 * values. It is never linked into the product; do not fix bugs here (it is the old
 * behaviour, by definition), and delete it once the new parser has earned trust on its own.
 */
/*
 * json.h: a strict RFC 8259 JSON parser that turns a body into a flat, immutable
 * document ("tape") which the lazy Lua objects read from.
 *
 * Design (see DESIGN.md): the body is parsed once, non-recursively (explicit stack), into
 * an array of 16-byte nodes in document order. Containers know their children through a
 * contiguous slice of doc->kids, so element k of an array or member k of an object is O(1).
 * Strings without escapes point into the owned copy of the body; strings with escapes
 * are decoded once into doc->strbuf. Numbers are converted at parse time: a literal with
 * no fraction and no exponent that fits int64 is RJ_INT, everything else is RJ_DBL via a
 * locale-independent strtod (so the double is exactly strtod's).
 */
#ifndef PODERO_JSON_REF_H
#define PODERO_JSON_REF_H

#include <stddef.h>
#include <stdint.h>

#define RJ_MAX_DEPTH 512          /* deeper nesting is a parse error ("nested too deeply") */
#define RJ_NONE UINT32_MAX        /* "no such node" */

enum rj_type {
    RJ_NULL = 0, RJ_FALSE, RJ_TRUE, RJ_INT, RJ_DBL, RJ_STR, RJ_ARR, RJ_OBJ
};

/* node flags */
#define RJ_F_ESCAPED 0x01  /* string bytes live in doc->strbuf (escapes decoded), else in doc->text */
#define RJ_F_NUMLIT  0x02  /* string (after unescaping) is exactly a JSON number literal, e.g. "21.50", "-3", "1E-8" */

typedef struct rj_node {
    uint8_t  type;          /* enum rj_type */
    uint8_t  flags;         /* RJ_F_* */
    uint16_t reserved;
    uint32_t count;         /* RJ_ARR: elements; RJ_OBJ: members (key/value pairs); else 0 */
    union {
        int64_t i;                                  /* RJ_INT */
        double  d;                                  /* RJ_DBL */
        struct { uint32_t off, len; } s;            /* RJ_STR: bytes at (flags&ESCAPED ? strbuf : text) + off */
        struct { uint32_t kids, start; } c;         /* RJ_ARR/RJ_OBJ: first index into doc->kids;
                                                       offset of its '[' or '{' in text */
    } u;
} rj_node;

/*
 * doc->kids[c.kids .. c.kids+count-1]:
 *   for RJ_ARR, the node index of each element, in order;
 *   for RJ_OBJ, the node index of each member's KEY (a RJ_STR node); the member's
 *   value is ALWAYS the node right after its key (key index + 1) -- nodes are laid out in
 *   document order: OBJ, key1, value1 (and value1's descendants), key2, value2, ...
 * The root value is node 0.
 */
typedef struct rj_doc {
    char     *text;      /* owned copy of the body, NUL-terminated (text[len] == 0) */
    size_t    len;
    char     *strbuf;    /* decoded strings (only those with escapes) */
    size_t    strbuf_len;
    rj_node  *nodes;
    uint32_t  n_nodes;
    uint32_t *kids;
    uint32_t  n_kids;
} rj_doc;

/*
 * Parse len bytes at text (need not be NUL-terminated; the doc keeps its own copy).
 * On success returns 0 and fills *doc (free with rj_free).
 * On failure returns -1, leaves *doc empty (nothing to free, rj_free is still harmless),
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
 *  - Numbers: "-0" is RJ_INT 0; integers beyond int64 are RJ_DBL (strtod);
 *    a literal whose magnitude overflows a double (1e400) is RJ_DBL +/-HUGE_VAL (inf);
 *    underflow gives strtod's result (0 or subnormal).
 *  - Duplicate keys are kept in the document as they appear (the lookup takes the LAST).
 *  - Nesting deeper than RJ_MAX_DEPTH is an error, without recursion (no stack overflow
 *    for 100000 '[').
 *  - Sizes: a body over 2^31 bytes is refused.
 */
int rj_parse(rj_doc *doc, const char *text, size_t len, char *errbuf, size_t errlen);

/* zero bytes after text[len-1] (includes the NUL) that the scanners rely on */
#define RJ_PAD 32

/*
 * rj_parse_owned: as rj_parse, but takes text over instead of copying it: text is malloc'd
 * with at least RJ_PAD writable bytes after len (the parser zeroes them); the document owns it
 * from here, and it is freed on failure too. text NULL: fails as out of memory (-2).
 */
int rj_parse_owned(rj_doc *doc, char *text, size_t len, char *errbuf, size_t errlen);

int rj_format_double(double d, char out[32]);   /* shortest round-trip text; -1: not finite */
int rj_strtod_c(const char *s, double *out);     /* strtod in the "C" locale; -1: no locale */
void rj_free(rj_doc *doc);     /* frees what rj_parse allocated; safe on a zeroed or freed doc */

/* String bytes of a RJ_STR node (not NUL-terminated in general; may contain NUL). */
static inline const char *rj_str(const rj_doc *doc, const rj_node *n, size_t *len) {
    *len = n->u.s.len;
    return ((n->flags & RJ_F_ESCAPED) ? doc->strbuf : doc->text) + n->u.s.off;
}

/* Value node index of member `key` in object node `obj` (the last one if repeated), or RJ_NONE. */
uint32_t rj_obj_get(const rj_doc *doc, uint32_t obj, const char *key, size_t klen);

/* Node index of element i (0-based) of array `arr`, or RJ_NONE when out of range. */
static inline uint32_t rj_arr_get(const rj_doc *doc, uint32_t arr, uint32_t i) {
    const rj_node *n = &doc->nodes[arr];
    return i < n->count ? doc->kids[n->u.c.kids + i] : RJ_NONE;
}

/*
 * The bytes of node n as received, as an offset and a length into doc->text: node 0 (the
 * root), the whole body, whitespace included; an array or object, from its bracket to the
 * matching one, byte for byte as sent; any other node, length 0 (scalars record no offset).
 */
void rj_span(const rj_doc *doc, uint32_t n, size_t *start, size_t *len);

/* 1 if the bytes s[0..len) are exactly one JSON number literal (RFC 8259 grammar), else 0. */
int rj_is_number_literal(const char *s, size_t len);

#endif
