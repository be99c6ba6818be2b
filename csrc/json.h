/*
 * json.h: a strict RFC 8259 JSON validator whose document is the text itself.
 *
 * Design (see DESIGN.md, "Compact documents"): the body is validated once, completely and
 * without recursion, at parse time; what is kept is the body (for raw(), byte for byte), PJ_PAD
 * zero bytes, and the index of the root container (one uint32 per member or element), all in
 * ONE allocation. A value is named by the offset of its first byte in the text (pj_val); its
 * type is its first byte. Nothing else is stored: a nested container is indexed when it is
 * read (pj_index), a string is unescaped when it is read (pj_str, pj_unescape), a number is
 * converted when it is read (pj_num: an integer literal that fits int64 is PJ_INT, everything
 * else a double exactly as a "C"-locale strtod gives it).
 *
 * Readers trust the text: they are only ever called on a document pj_parse accepted.
 */
#ifndef PODERO_JSON_H
#define PODERO_JSON_H

#include <stddef.h>
#include <stdint.h>

#define PJ_MAX_DEPTH 512          /* deeper nesting is a parse error ("nested too deeply") */
#define PJ_NONE UINT32_MAX        /* "no such value" */
#define PJ_PAD 32                 /* zero bytes after text[len-1] (includes the NUL) that the
                                     scanners rely on */
#define PJ_KEY_ESC 0x80000000u    /* in an object's index: this key has escapes (\...) */

enum pj_type {
    PJ_NULL = 0, PJ_FALSE, PJ_TRUE, PJ_INT, PJ_DBL, PJ_STR, PJ_ARR, PJ_OBJ
};

typedef uint32_t pj_val;          /* a value: the offset of its first byte in doc->text */

typedef struct pj_doc {
    char     *text;      /* owned: the body, PJ_PAD zero bytes, then the root index */
    size_t    len;       /* bytes of the body */
    pj_val    root;      /* the root value (after leading whitespace) */
    uint32_t  n_root;    /* members (object) or elements (array) of the root; 0 for a scalar */
    uint32_t *root_idx;  /* the root container's index (see pj_index), inside text's block */
    uint8_t  *root_tags; /* object root: a byte per member (pj_key_tag of its key), so that a
                            lookup compares 16 keys at a time; inside text's block */
    int       root_esc;  /* object root: some key has escapes (lookups take the slow path) */
    size_t    hdr;       /* bytes before text in its block, the caller's (pj_parse_hdr) */
} pj_doc;

/* The tag of a key (its length and two of its bytes, mixed into a byte): equal keys have equal
 * tags, so a lookup compares bytes only where the tags agree. */
static inline uint8_t pj_key_tag(const char *k, size_t klen) {
    return klen ? (uint8_t)(klen * 8u + (uint8_t)k[0] + (uint8_t)k[klen - 1] * 3u) : 0;
}

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

/* pj_parse_hdr: as pj_parse, with hdr bytes (a multiple of 16) at the start of the block, before
 * the text, for the caller's own header (doc->text - hdr); so a document and its owner's
 * bookkeeping are one allocation. */
int pj_parse_hdr(pj_doc *doc, const char *text, size_t len, size_t hdr, char *errbuf, size_t errlen);

/* pj_parse_block: as pj_parse_hdr, but takes over block, a malloc'd block of cap bytes that holds
 * hdr bytes for the caller, then the len bytes of the text, then at least PJ_PAD more (cap >=
 * hdr + len + PJ_PAD); it is freed on failure too. */
int pj_parse_block(pj_doc *doc, char *block, size_t hdr, size_t len, size_t cap, char *errbuf, size_t errlen);

/*
 * pj_parse_owned: as pj_parse, but takes text over instead of copying it: text is malloc'd
 * with at least PJ_PAD writable bytes after len (the parser zeroes them); the document owns it
 * from here (it may be realloc'd to hold the root index), and it is freed on failure too.
 * text NULL: fails as out of memory (-2).
 */
int pj_parse_owned(pj_doc *doc, char *text, size_t len, char *errbuf, size_t errlen);

void pj_free(pj_doc *doc);     /* frees what pj_parse allocated; safe on a zeroed or freed doc */

/* The type of value v. Non-numbers are read off the first byte; a number is scanned. */
int pj_type(const pj_doc *doc, pj_val v);

/* The number at v: returns PJ_INT (*i set) or PJ_DBL (*d set); -1 if v is not a number or the
 * "C" locale could not be made. */
int pj_num(const pj_doc *doc, pj_val v, int64_t *i, double *d);

/* The number literal at s (validated: pj_is_number_literal, and followed by a byte that cannot
 * extend it, such as a quote or a NUL), read as pj_num reads one. */
int pj_num_text(const char *s, int64_t *i, double *d);

/*
 * The string at v, as stored: *raw points at the byte after the opening quote, *rawlen counts
 * the bytes up to the closing quote; returns 1 if they hold escapes (then decode them with
 * pj_unescape), 0 if they are the string itself.
 */
int pj_str_raw(const pj_doc *doc, pj_val v, const char **raw, size_t *rawlen);

/* Decodes the validated string bytes raw[0..rawlen) (escapes as in pj_parse's rules) into out,
 * which has room for rawlen bytes (decoding never grows a string); returns the length. */
size_t pj_unescape(const char *raw, size_t rawlen, char *out);

/*
 * The string at v, decoded: without escapes a pointer into the text (*heap left NULL); with
 * escapes a malloc'd, NUL-terminated copy that *heap also points to (the caller frees *heap).
 * Returns NULL (with *heap NULL) when that allocation fails or v is not a string.
 */
const char *pj_str(const pj_doc *doc, pj_val v, size_t *len, char **heap);

/* Members of object v, or elements of array v (0 otherwise). The root's count is stored;
 * any other container is counted by a scan. */
uint32_t pj_count(const pj_doc *doc, pj_val v);

/*
 * The index of container v: out[k] for k < pj_count(doc, v) is, for an array, element k; for
 * an object, the offset of member k's KEY (its opening quote), with PJ_KEY_ESC set when the
 * key holds escapes. Returns the count written. The root's index is doc->root_idx already.
 */
uint32_t pj_index(const pj_doc *doc, pj_val v, uint32_t *out);

/* As pj_index, but writes at most cap entries; returns the whole count (so a caller can index
 * into a small buffer first, and allocate only when the count is more than cap). */
uint32_t pj_index_some(const pj_doc *doc, pj_val v, uint32_t *out, uint32_t cap);

/* The value of the member whose key (an index entry, flag included) is k. */
pj_val pj_member_value(const pj_doc *doc, uint32_t k);

/* The value of member `key` (the LAST one if repeated) among the n index entries idx of an
 * object, or PJ_NONE. */
pj_val pj_index_find(const pj_doc *doc, const uint32_t *idx, uint32_t n, const char *key, size_t klen);

/* Value of member `key` in object obj (the last one if repeated), or PJ_NONE (also when obj
 * is not an object). Uses the root index for the root; scans any other object. */
pj_val pj_obj_get(const pj_doc *doc, pj_val obj, const char *key, size_t klen);

/* 1 when object obj has a member named key, which holds no quote and no backslash (a field
 * name of the contract: checked faster than pj_obj_get, which also finds the value). */
int pj_has_plain_key(const pj_doc *doc, pj_val obj, const char *key, size_t klen);
/* The same, looking first at member hint of the root (where a schema puts the key): the answer
 * does not depend on hint, only the time it takes. */
int pj_has_plain_key_hint(const pj_doc *doc, pj_val obj, const char *key, size_t klen, uint32_t hint);

/* Element i (0-based) of array arr, or PJ_NONE when out of range or arr is not an array. */
pj_val pj_arr_get(const pj_doc *doc, pj_val arr, uint32_t i);

/* Walking a container in order without an index: pj_first gives element 0 (array) or the key
 * of member 0 (object), pj_next the one after cur; PJ_NONE at the end. Keys carry no flag. */
pj_val pj_first(const pj_doc *doc, pj_val container);
pj_val pj_next(const pj_doc *doc, pj_val cur, int in_object);

/* The offset just past value v (for a key: just past its closing quote). */
pj_val pj_end(const pj_doc *doc, pj_val v);

/*
 * The bytes of value v as received, as an offset and a length into doc->text: the root, the
 * whole body, whitespace included; an array or object, from its bracket to the matching one,
 * byte for byte as sent; any other value, length 0 (scalars are never views).
 */
void pj_span(const pj_doc *doc, pj_val v, size_t *start, size_t *len);

/* 1 if the bytes s[0..len) are exactly one JSON number literal (RFC 8259 grammar), else 0. */
int pj_is_number_literal(const char *s, size_t len);

int pj_format_double(double d, char out[32]);   /* shortest round-trip text; -1: not finite */
int pj_strtod_c(const char *s, double *out);     /* strtod in the "C" locale; -1: no locale */

/* 1 when the string scanners use SSE2 (x86-64), 0 for the portable scalar build
 * (-DPJ_NO_SIMD); the tests run both. */
int pj_simd(void);

#endif
