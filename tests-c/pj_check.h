/*
 * pj_check.h: differential checker for csrc/json.c, shared by the standalone tests
 * (tests-c/json_test.c) and the libFuzzer target (fuzz/fuzz_json.c). Header-only; include
 * after json.h and link tests-c/json_ref.c (the pre-a94e543 tape parser, renamed rj_: the
 * reference). Aborts (via PJ_CHECK) on the first violation; pjc_checks counts the checks.
 *
 * pj_check_input(bytes): parses with pj_parse and rj_parse; they must agree on rc and on the
 * exact message; on failure the doc must be zeroed; on success both documents are walked
 * together (old node tree against new pj_val, recursion bounded by PJ_MAX_DEPTH):
 *  - the doc itself: text is the input, NUL-terminated, PJ_PAD zero bytes after len; root is
 *    the offset after leading whitespace; root_idx sits right after the padding (4-aligned)
 *    in the same allocation when n_root > 0 (NULL otherwise); n_root is the root's count;
 *  - every value: pj_type == node type; pj_num gives the same int64 / the same double bits;
 *    strings (values and keys): pj_str and pj_str_raw + pj_unescape decode to the node's
 *    bytes, pj_str_raw's escape flag == RJ_F_ESCAPED, pj_is_number_literal(decoded) ==
 *    RJ_F_NUMLIT, unescaped strings sit at the node's offset; pj_end is just past the value;
 *  - containers: pj_count == count, pj_index entries == kids (object: key offsets, PJ_KEY_ESC
 *    iff the key node is ESCAPED, pj_member_value == the node after the key), pj_first /
 *    pj_next give the index in order, pj_arr_get of every index (sampled above 2000) and out
 *    of range, pj_obj_get and pj_index_find of every key (sampled above 2000) and of missing
 *    keys, keys with '"' or '\\', truncated/extended keys: the same member as rj_obj_get;
 *    pj_span == rj_span (the root: the whole text).
 *  - the functions 945b545 added: pj_index_some (a prefix of pj_index, the whole count),
 *    pj_num_text of every Decimal string (as the reference parses the literal), pj_parse_hdr
 *    (same outcome and document after the caller's header), the root's key tags.
 * pj_check_doc(d): the same walk for a document already parsed (the reference parses d->text).
 */
#ifndef PJ_CHECK_H
#define PJ_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "json.h"
#include "json_ref.h"

#if defined(__GNUC__) || defined(__clang__)
#define PJC_FN static __attribute__((unused))
#else
#define PJC_FN static
#endif

static unsigned long long pjc_checks;

#define PJ_CHECK(cond) do { pjc_checks++; if (!(cond)) { \
    fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

#define PJC_SAMPLE(n, k) ((n) <= 2000 || (k) % ((n) / 200) == 0)

/* Full checks by default. A caller that checks thousands of near-identical documents may set
 * pjc_light: lookups are probed for every 8th key only, and the pj_parse_hdr parse and the
 * pj_num_text reads of Decimal strings are skipped (every value is still compared). */
static int pjc_light = 0;

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF) */
PJC_FN int pjc_utf8_ok(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], cp, n, k;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return 0;
        if (i + n >= len) return 0;                       /* truncated */
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return 0;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += n + 1;
    }
    return 1;
}

PJC_FN int pjc_is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* every field zero (whatever fields pj_doc has: pj_parse zeroes the whole struct) */
PJC_FN int pjc_doc_zero(const pj_doc *d) {
    static const pj_doc zero;
    return !d->text && !d->len && !d->root && !d->n_root && !d->root_idx &&
           memcmp(d, &zero, sizeof zero) == 0;
}

PJC_FN int pjc_rdoc_zero(const rj_doc *r) {
    return !r->text && !r->len && !r->strbuf && !r->strbuf_len && !r->nodes && !r->n_nodes &&
           !r->kids && !r->n_kids;
}

/* the string (value or key) at v against the reference's string node rn */
PJC_FN void pjc_str(const pj_doc *d, pj_val v, const rj_doc *r, uint32_t rn) {
    const rj_node *n = &r->nodes[rn];
    const char *raw, *want, *s;
    size_t rawlen, wl, l, ul;
    char *heap = (char *)1, *buf;
    int esc;
    PJ_CHECK(n->type == RJ_STR);
    PJ_CHECK(d->text[v] == '"');
    PJ_CHECK(pj_type(d, v) == PJ_STR);
    PJ_CHECK(pj_num(d, v, NULL, NULL) == -1);
    want = rj_str(r, n, &wl);
    esc = pj_str_raw(d, v, &raw, &rawlen);
    PJ_CHECK(esc == !!(n->flags & RJ_F_ESCAPED));
    PJ_CHECK(raw == d->text + v + 1);
    PJ_CHECK((size_t)v + 1 + rawlen < d->len && raw[rawlen] == '"');
    PJ_CHECK(pj_end(d, v) == v + rawlen + 2);
    if (!esc) PJ_CHECK(n->u.s.off == v + 1 && n->u.s.len == rawlen);
    buf = (char *)malloc(rawlen ? rawlen : 1);         /* exactly rawlen: ASan sees overruns */
    PJ_CHECK(buf != NULL);
    ul = pj_unescape(raw, rawlen, buf);
    PJ_CHECK(ul <= rawlen);
    PJ_CHECK(ul == wl && (wl == 0 || memcmp(buf, want, wl) == 0));
    free(buf);
    s = pj_str(d, v, &l, &heap);
    PJ_CHECK(s != NULL);
    PJ_CHECK(l == wl && (wl == 0 || memcmp(s, want, wl) == 0));
    if (esc) PJ_CHECK(heap != NULL && s == heap && heap[l] == '\0');
    else PJ_CHECK(heap == NULL && s == raw);
    PJ_CHECK(pjc_utf8_ok((const unsigned char *)s, l));
    PJ_CHECK(!!pj_is_number_literal(s, l) == !!(n->flags & RJ_F_NUMLIT));
    if ((n->flags & RJ_F_NUMLIT) && !pjc_light) {
        /* a Decimal string: pj_num_text reads it (followed by its closing quote, or by the NUL
         * of pj_str's copy) exactly as the reference parses the same literal as a number */
        rj_doc nd;
        char err[128];
        int64_t i = 0;
        double x = 0;
        int t = pj_num_text(s, &i, &x);
        PJ_CHECK(rj_parse(&nd, s, l, err, sizeof err) == 0);
        PJ_CHECK(t == nd.nodes[0].type);
        if (t == PJ_INT) PJ_CHECK(i == nd.nodes[0].u.i);
        else PJ_CHECK(t == PJ_DBL && memcmp(&x, &nd.nodes[0].u.d, sizeof x) == 0);
        rj_free(&nd);
    }
    free(heap);
}

/* One key lookup in object obj (new) / rn (reference): both must find the same member. */
PJC_FN void pjc_probe(const pj_doc *d, pj_val obj, const uint32_t *idx, uint32_t cnt,
                      const rj_doc *r, uint32_t rn, const char *key, size_t klen) {
    uint32_t got_r = rj_obj_get(r, rn, key, klen), j;
    pj_val want = PJ_NONE;
    if (got_r != RJ_NONE) {
        const uint32_t *kids = r->kids + r->nodes[rn].u.c.kids;
        for (j = 0; j < cnt && kids[j] + 1 != got_r; j++) {}
        PJ_CHECK(j < cnt);
        want = pj_member_value(d, idx[j]);
    }
    PJ_CHECK(pj_obj_get(d, obj, key, klen) == want);
    PJ_CHECK(pj_index_find(d, idx, cnt, key, klen) == want);
}

PJC_FN void pjc_probe_variants(const pj_doc *d, pj_val obj, const uint32_t *idx, uint32_t cnt,
                               const rj_doc *r, uint32_t rn, const char *key, size_t klen) {
    char *b = (char *)malloc(klen + 2);
    PJ_CHECK(b != NULL);
    if (klen) memcpy(b, key, klen);
    b[klen] = '"';
    pjc_probe(d, obj, idx, cnt, r, rn, b, klen + 1);           /* key" */
    b[klen] = '\\';
    pjc_probe(d, obj, idx, cnt, r, rn, b, klen + 1);           /* key\ */
    b[klen] = 'x';
    pjc_probe(d, obj, idx, cnt, r, rn, b, klen + 1);           /* keyx */
    b[0] = '\\';
    if (klen) memcpy(b + 1, key, klen);
    pjc_probe(d, obj, idx, cnt, r, rn, b, klen + 1);           /* \key */
    if (klen) pjc_probe(d, obj, idx, cnt, r, rn, key, klen - 1);    /* truncated */
    free(b);
}

/* The value v (new) against node rn (reference); depth <= PJ_MAX_DEPTH bounds the recursion. */
PJC_FN void pjc_val(const pj_doc *d, pj_val v, const rj_doc *r, uint32_t rn, int depth, int is_root) {
    const rj_node *n;
    size_t st, sl, rst, rsl;
    pj_val end;
    int t;
    PJ_CHECK(depth <= PJ_MAX_DEPTH);
    PJ_CHECK(rn < r->n_nodes);
    PJ_CHECK(v < d->len);
    n = &r->nodes[rn];
    t = pj_type(d, v);
    PJ_CHECK(t == n->type);
    pj_span(d, v, &st, &sl);
    rj_span(r, rn, &rst, &rsl);
    PJ_CHECK(st == rst && sl == rsl);
    if (is_root) PJ_CHECK(st == 0 && sl == d->len);
    end = pj_end(d, v);
    PJ_CHECK(end > v && end <= d->len);
    switch (t) {
    case PJ_NULL:  PJ_CHECK(end == v + 4 && memcmp(d->text + v, "null", 4) == 0); break;
    case PJ_TRUE:  PJ_CHECK(end == v + 4 && memcmp(d->text + v, "true", 4) == 0); break;
    case PJ_FALSE: PJ_CHECK(end == v + 5 && memcmp(d->text + v, "false", 5) == 0); break;
    case PJ_INT: {
        int64_t i = 0;
        double x = 0;
        PJ_CHECK(pj_num(d, v, &i, &x) == PJ_INT && i == n->u.i);
        PJ_CHECK(pj_num(d, v, NULL, NULL) == PJ_INT);
        PJ_CHECK(pj_is_number_literal(d->text + v, end - v));
        break;
    }
    case PJ_DBL: {
        int64_t i = 0;
        double x = 0;
        PJ_CHECK(pj_num(d, v, &i, &x) == PJ_DBL && memcmp(&x, &n->u.d, sizeof x) == 0);
        PJ_CHECK(!isnan(x));
        PJ_CHECK(pj_num(d, v, NULL, NULL) == PJ_DBL);
        PJ_CHECK(pj_is_number_literal(d->text + v, end - v));
        break;
    }
    case PJ_STR:
        pjc_str(d, v, r, rn);
        break;
    case PJ_ARR: case PJ_OBJ: break;
    default: PJ_CHECK(0);
    }
    if (t != PJ_STR && t != PJ_INT && t != PJ_DBL) PJ_CHECK(pj_num(d, v, NULL, NULL) == -1);
    if (t != PJ_ARR && t != PJ_OBJ) {
        uint32_t dummy[1];
        PJ_CHECK(pj_count(d, v) == 0 && pj_index(d, v, dummy) == 0);
        PJ_CHECK(pj_first(d, v) == PJ_NONE);
        PJ_CHECK(pj_arr_get(d, v, 0) == PJ_NONE);
        PJ_CHECK(pj_obj_get(d, v, "a", 1) == PJ_NONE);
        if (!is_root) PJ_CHECK(sl == 0);
        return;
    }
    {
        int obj = (t == PJ_OBJ);
        const uint32_t *kids = r->kids + n->u.c.kids;
        uint32_t cnt = pj_count(d, v), k, *idx;
        pj_val w, prev = v;
        PJ_CHECK(d->text[v] == (obj ? '{' : '['));
        PJ_CHECK(d->text[end - 1] == (obj ? '}' : ']'));
        if (!is_root) PJ_CHECK(st == v && sl == (size_t)(end - v));
        PJ_CHECK(cnt == n->count);
        PJ_CHECK((size_t)n->u.c.kids + cnt <= r->n_kids);
        if (is_root) PJ_CHECK(cnt == d->n_root);
        idx = (uint32_t *)malloc((cnt ? cnt : 1) * sizeof *idx);
        PJ_CHECK(idx != NULL);
        PJ_CHECK(pj_index(d, v, idx) == cnt);
        if (is_root && cnt) PJ_CHECK(memcmp(idx, d->root_idx, cnt * sizeof *idx) == 0);
        {   /* pj_index_some: the first cap entries, nothing past them, the whole count */
            uint32_t some[5], caps[3] = { 0, 1, 3 }, c, m;
            for (c = 0; c < 3; c++) {
                memset(some, 0xA5, sizeof some);
                PJ_CHECK(pj_index_some(d, v, some, caps[c]) == cnt);
                m = cnt < caps[c] ? cnt : caps[c];
                PJ_CHECK(m == 0 || memcmp(some, idx, m * sizeof *idx) == 0);
                for (; m < 5; m++) PJ_CHECK(some[m] == 0xA5A5A5A5u);
            }
        }
        /* in order, inside the container; first/next walk the same offsets */
        w = pj_first(d, v);
        for (k = 0; k < cnt; k++) {
            uint32_t off = idx[k] & ~PJ_KEY_ESC;
            PJ_CHECK(off > prev && off < end);
            PJ_CHECK(obj || !(idx[k] & PJ_KEY_ESC));
            PJ_CHECK(w == off);
            w = pj_next(d, w, obj);
            prev = off;
        }
        PJ_CHECK(w == PJ_NONE);
        if (!obj) {
            for (k = 0; k < cnt; k++) {
                pjc_val(d, idx[k], r, kids[k], depth + 1, 0);
                if (PJC_SAMPLE(cnt, k)) PJ_CHECK(pj_arr_get(d, v, k) == idx[k]);
            }
            PJ_CHECK(pj_arr_get(d, v, cnt) == PJ_NONE);
            PJ_CHECK(pj_arr_get(d, v, UINT32_MAX) == PJ_NONE);
            PJ_CHECK(pj_obj_get(d, v, "a", 1) == PJ_NONE);
        } else {
            const uint32_t *fidx = is_root ? d->root_idx : idx;   /* what doc.c uses */
            static const struct { const char *s; size_t n; } miss[] = {
                {"", 0}, {"\"", 1}, {"\\", 1}, {"a\"b", 3}, {"\\u0041", 6}, {"a\0", 2},
                {"\xff\xff no such key", 14},
            };
            for (k = 0; k < cnt; k++) {
                uint32_t key = idx[k] & ~PJ_KEY_ESC, rk = kids[k];
                pj_val mv = pj_member_value(d, idx[k]);
                PJ_CHECK(rk + 1 < r->n_nodes);
                PJ_CHECK(!!(idx[k] & PJ_KEY_ESC) == !!(r->nodes[rk].flags & RJ_F_ESCAPED));
                pjc_str(d, key, r, rk);
                PJ_CHECK(mv == pj_member_value(d, key));
                PJ_CHECK(mv > pj_end(d, key) && mv < end);
                pjc_val(d, mv, r, rk + 1, depth + 1, 0);
                if (PJC_SAMPLE(cnt, k) && (!pjc_light || k % 8 == 0)) {
                    size_t kl;
                    char *heap;
                    const char *ks = pj_str(d, key, &kl, &heap);
                    PJ_CHECK(ks != NULL);
                    pjc_probe(d, v, fidx, cnt, r, rn, ks, kl);
                    if ((k < 16 || cnt <= 64) && !pjc_light) pjc_probe_variants(d, v, fidx, cnt, r, rn, ks, kl);
                    free(heap);
                }
            }
            for (k = 0; k < sizeof miss / sizeof miss[0]; k++)
                pjc_probe(d, v, fidx, cnt, r, rn, miss[k].s, miss[k].n);
            PJ_CHECK(pj_arr_get(d, v, 0) == PJ_NONE);
        }
        free(idx);
    }
}

/* d is the successful pj_parse of data[0..size), r the successful rj_parse of the same bytes */
PJC_FN void pjc_pair(const pj_doc *d, const rj_doc *r, const char *data, size_t size) {
    size_t k, p = 0;
    PJ_CHECK(d->text != NULL && d->len == size && size > 0);
    PJ_CHECK(memcmp(d->text, data, size) == 0);
    for (k = 0; k < PJ_PAD; k++) PJ_CHECK(d->text[size + k] == '\0');
    while (p < size && pjc_is_ws((unsigned char)data[p])) p++;
    PJ_CHECK(p < size && d->root == p);
    PJ_CHECK(r->n_nodes >= 1 && r->len == size);
    PJ_CHECK(d->hdr % 16 == 0);
    if (d->n_root) {
        size_t off = (size + PJ_PAD + 3) & ~(size_t)3, need = off + (size_t)d->n_root * sizeof(uint32_t);
        PJ_CHECK((const char *)d->root_idx == d->text + off);
        if (r->nodes[0].type == RJ_OBJ) {
            /* the tags follow the index, one per key, zero up to a multiple of 16 */
            uint32_t k, ntags = (d->n_root + 15) & ~15u;
            int esc = 0;
            PJ_CHECK(d->root_tags == (const uint8_t *)(d->root_idx + d->n_root));
            for (k = 0; k < d->n_root; k++) {
                const char *raw;
                size_t rawlen;
                esc |= pj_str_raw(d, d->root_idx[k] & ~PJ_KEY_ESC, &raw, &rawlen);
                PJ_CHECK(d->root_tags[k] == pj_key_tag(raw, rawlen));
            }
            for (; k < ntags; k++) PJ_CHECK(d->root_tags[k] == 0);
            PJ_CHECK(d->root_esc == esc);
            need += ntags;
        } else {
            PJ_CHECK(d->root_tags == NULL && d->root_esc == 0);
        }
#ifdef __GLIBC__
        PJ_CHECK(malloc_usable_size(d->text - d->hdr) >= d->hdr + need);
#endif
    } else {
        PJ_CHECK(d->root_idx == NULL && d->root_tags == NULL && d->root_esc == 0);
    }
    if (r->nodes[0].type != RJ_ARR && r->nodes[0].type != RJ_OBJ) PJ_CHECK(d->n_root == 0);
    pjc_val(d, d->root, r, 0, 0, 1);
}

/* Checks a document pj_parse accepted against the reference's parse of the same text. */
PJC_FN void pj_check_doc(const pj_doc *d) {
    rj_doc r;
    char err[128];
    PJ_CHECK(d->text != NULL);
    PJ_CHECK(rj_parse(&r, d->text, d->len, err, sizeof err) == 0);
    pjc_pair(d, &r, d->text, d->len);
    rj_free(&r);
}

/* Parses data[0..size) with both parsers and checks everything above; returns pj_parse's rc. */
PJC_FN int pj_check_input(const void *data, size_t size) {
    pj_doc d;
    rj_doc r;
    char e1[160], e2[160];
    int rc, rrc;
    memset(e1, 'Z', sizeof e1);
    memset(e2, 'Y', sizeof e2);
    rc = pj_parse(&d, (const char *)data, size, e1, sizeof e1);
    rrc = rj_parse(&r, (const char *)data, size, e2, sizeof e2);
    if (rc != rrc || strcmp(e1, e2) != 0)
        fprintf(stderr, "differential: pj_parse rc=%d '%s', reference rc=%d '%s' (%zu bytes)\n",
                rc, rc ? e1 : "", rrc, rrc ? e2 : "", size);
    PJ_CHECK(rc == rrc);
    PJ_CHECK(strcmp(e1, e2) == 0);
    if (!pjc_light) {   /* pj_parse_hdr: the same outcome, the same document after the header */
        pj_doc h;
        char e3[160];
        int hrc = pj_parse_hdr(&h, (const char *)data, size, 48, e3, sizeof e3);
        PJ_CHECK(hrc == rc && strcmp(e1, e3) == 0);
        if (hrc == 0) {
            PJ_CHECK(h.hdr == 48 && h.len == d.len && h.root == d.root && h.n_root == d.n_root);
            PJ_CHECK(memcmp(h.text, d.text, d.len + PJ_PAD) == 0);
            PJ_CHECK(h.n_root == 0 || memcmp(h.root_idx, d.root_idx, h.n_root * sizeof(uint32_t)) == 0);
            PJ_CHECK(h.root_esc == d.root_esc && !h.root_tags == !d.root_tags);
            PJ_CHECK(!h.root_tags || memcmp(h.root_tags, d.root_tags, h.n_root) == 0);
            memset(h.text - 48, 0x5A, 48);               /* the header is the caller's */
            pj_free(&h);
        }
        PJ_CHECK(pjc_doc_zero(&h));
    }
    if (rc == 0) {
        PJ_CHECK(e1[0] == '\0');
        pjc_pair(&d, &r, (const char *)data, size);
        pj_free(&d);
        PJ_CHECK(pjc_doc_zero(&d));
        pj_free(&d);                                   /* idempotent */
        PJ_CHECK(pjc_doc_zero(&d));
    } else {
        PJ_CHECK(rc == -1 || rc == -2);
        PJ_CHECK(e1[0] != '\0');
        PJ_CHECK(pjc_doc_zero(&d) && pjc_rdoc_zero(&r));
        pj_free(&d);
    }
    rj_free(&r);
    return rc;
}

#endif
