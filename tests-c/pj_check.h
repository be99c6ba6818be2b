/*
 * pj_check.h: structural invariant checker for a parsed pj_doc, shared by the standalone
 * tests (tests-c/json_test.c) and the libFuzzer target (fuzz/fuzz_json.c).
 * Header-only; include after json.h. Aborts (via PJ_CHECK) on the first violation.
 */
#ifndef PJ_CHECK_H
#define PJ_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

#define PJ_CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF) */
static int pjc_utf8_ok(const unsigned char *s, size_t len) {
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

/* Checks the subtree rooted at node i; returns the index just past it. Tracks kid usage. */
static uint32_t pjc_node(const pj_doc *d, uint32_t i, unsigned char *kid_used, int depth) {
    PJ_CHECK(i < d->n_nodes);
    PJ_CHECK(depth <= PJ_MAX_DEPTH);
    const pj_node *n = &d->nodes[i];
    PJ_CHECK(n->type <= PJ_OBJ);
    PJ_CHECK(n->reserved == 0);
    switch (n->type) {
    case PJ_NULL: case PJ_FALSE: case PJ_TRUE: case PJ_INT:
        PJ_CHECK(n->count == 0);
        PJ_CHECK(n->flags == 0);
        return i + 1;
    case PJ_DBL:
        PJ_CHECK(n->count == 0);
        PJ_CHECK(n->flags == 0);
        PJ_CHECK(!isnan(n->u.d));
        return i + 1;
    case PJ_STR: {
        size_t len;
        const char *s;
        PJ_CHECK(n->count == 0);
        PJ_CHECK((n->flags & ~(PJ_F_ESCAPED | PJ_F_NUMLIT)) == 0);
        if (n->flags & PJ_F_ESCAPED) {
            PJ_CHECK(d->strbuf != NULL);
            PJ_CHECK((size_t)n->u.s.off + n->u.s.len <= d->strbuf_len);
        } else {
            size_t k;
            PJ_CHECK((size_t)n->u.s.off + n->u.s.len < d->len);
            PJ_CHECK(n->u.s.off >= 1);
            PJ_CHECK(d->text[n->u.s.off - 1] == '"');
            PJ_CHECK(d->text[n->u.s.off + n->u.s.len] == '"');
            for (k = 0; k < n->u.s.len; k++) {
                unsigned char c = (unsigned char)d->text[n->u.s.off + k];
                PJ_CHECK(c >= 0x20 && c != '"' && c != '\\');
            }
        }
        s = pj_str(d, n, &len);
        PJ_CHECK(len == n->u.s.len);
        PJ_CHECK(pjc_utf8_ok((const unsigned char *)s, len));
        PJ_CHECK(!!(n->flags & PJ_F_NUMLIT) == !!pj_is_number_literal(s, len));
        return i + 1;
    }
    case PJ_ARR: {
        uint32_t k, next = i + 1;
        PJ_CHECK(n->flags == 0);
        PJ_CHECK((size_t)n->u.c.kids + n->count <= d->n_kids);
        for (k = 0; k < n->count; k++) {
            uint32_t e = d->kids[n->u.c.kids + k];
            PJ_CHECK(!kid_used[n->u.c.kids + k]);
            kid_used[n->u.c.kids + k] = 1;
            PJ_CHECK(e == next);
            PJ_CHECK(pj_arr_get(d, i, k) == e);
            next = pjc_node(d, e, kid_used, depth + 1);
        }
        PJ_CHECK(pj_arr_get(d, i, n->count) == PJ_NONE);
        PJ_CHECK(pj_arr_get(d, i, UINT32_MAX) == PJ_NONE);
        return next;
    }
    case PJ_OBJ: {
        uint32_t k, next = i + 1;
        PJ_CHECK(n->flags == 0);
        PJ_CHECK((size_t)n->u.c.kids + n->count <= d->n_kids);
        for (k = 0; k < n->count; k++) {
            uint32_t key = d->kids[n->u.c.kids + k], j, want;
            size_t kl, kl2;
            const char *ks;
            PJ_CHECK(!kid_used[n->u.c.kids + k]);
            kid_used[n->u.c.kids + k] = 1;
            PJ_CHECK(key == next);
            PJ_CHECK(key + 1 < d->n_nodes);
            PJ_CHECK(d->nodes[key].type == PJ_STR);
            pjc_node(d, key, kid_used, depth + 1);
            next = pjc_node(d, key + 1, kid_used, depth + 1);
            /* pj_obj_get returns the value of the LAST key with these bytes (checked for
             * every key of small objects, for a sample of keys of big ones: it is O(n^2)) */
            if (n->count > 2000 && k % (n->count / 200) != 0) continue;
            ks = pj_str(d, &d->nodes[key], &kl);
            want = key + 1;
            for (j = k + 1; j < n->count; j++) {
                uint32_t k2 = d->kids[n->u.c.kids + j];
                const char *s2 = pj_str(d, &d->nodes[k2], &kl2);
                if (kl2 == kl && memcmp(s2, ks, kl) == 0) want = k2 + 1;
            }
            PJ_CHECK(pj_obj_get(d, i, ks, kl) == want);
        }
        return next;
    }
    }
    PJ_CHECK(0);
    return 0;
}

/* Checks a whole successfully parsed document. */
static void pj_check_doc(const pj_doc *d) {
    PJ_CHECK(d->text != NULL);
    PJ_CHECK(d->text[d->len] == '\0');
    PJ_CHECK(d->n_nodes >= 1);
    PJ_CHECK(d->nodes != NULL);
    PJ_CHECK(d->n_kids < d->n_nodes);
    unsigned char *used = (unsigned char *)calloc((size_t)d->n_kids + 1, 1);
    PJ_CHECK(used != NULL);
    PJ_CHECK(pjc_node(d, 0, used, 0) == d->n_nodes);
    for (uint32_t k = 0; k < d->n_kids; k++) PJ_CHECK(used[k]);   /* kid slices tile kids[] */
    free(used);
    /* lookups on non-objects / missing keys */
    if (d->nodes[0].type != PJ_OBJ) PJ_CHECK(pj_obj_get(d, 0, "a", 1) == PJ_NONE);
    PJ_CHECK(pj_obj_get(d, 0, "\xff\xff no such key", 14) == PJ_NONE);
}

/*
 * pj_span of every array and object: it starts at its bracket, ends at the matching one, and
 * parsed on its own gives a root of the same type and count (so it is that value's bytes, no
 * more, no less). The root spans the whole text. Parses: not for allocation-counting tests.
 */
static void pj_check_spans(const pj_doc *d) {
    size_t st, len;
    pj_span(d, 0, &st, &len);
    PJ_CHECK(st == 0 && len == d->len);
    for (uint32_t i = 1; i < d->n_nodes; i++) {
        const pj_node *n = &d->nodes[i];
        pj_doc sub;
        char err[128];
        pj_span(d, i, &st, &len);
        if (n->type != PJ_ARR && n->type != PJ_OBJ) {
            PJ_CHECK(len == 0);
            continue;
        }
        PJ_CHECK(len >= 2 && st + len <= d->len);
        PJ_CHECK(d->text[st] == (n->type == PJ_ARR ? '[' : '{'));
        PJ_CHECK(d->text[st + len - 1] == (n->type == PJ_ARR ? ']' : '}'));
        PJ_CHECK(pj_parse(&sub, d->text + st, len, err, sizeof err) == 0);
        PJ_CHECK(sub.nodes[0].type == n->type && sub.nodes[0].count == n->count);
        pj_free(&sub);
    }
}

#endif
