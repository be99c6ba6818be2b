/*
 * fuzz_json.c: libFuzzer target for csrc/json.c. From the repository root:
 *
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -Icsrc -Itests-c fuzz/fuzz_json.c csrc/json.c -lm -o /tmp/fuzz_json
 *   mkdir -p /tmp/fuzz_json_corpus
 *   /tmp/fuzz_json -max_total_time=60 -max_len=4096 /tmp/fuzz_json_corpus fuzz/corpus/json
 *
 * (the first corpus directory receives new inputs; fuzz/corpus/json holds the seeds:
 *  JSONTestSuite test_parsing files plus tests-c/heat_pump.json.)
 *
 * On success the whole document is walked (tests-c/pj_check.h): every node, pj_obj_get on
 * every key (the last duplicate must win), pj_arr_get on every index, pj_str on every
 * string, kids slices in range and tiling doc->kids, values right after their keys, nodes
 * in document order. On failure the doc must be zeroed and the message must carry a byte
 * offset within the input. Differential checks: pj_is_number_literal(input) must agree
 * with "input parses to a bare number", and a parsed double must equal strtod's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pj_check.h"

static int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pj_doc d;
    char err[128];
    int rc = pj_parse(&d, (const char *)data, size, err, sizeof err);
    int lit = pj_is_number_literal((const char *)data, size);

    if (rc != 0) {
        PJ_CHECK(rc == -1);
        PJ_CHECK(!d.text && !d.nodes && !d.kids && !d.strbuf && !d.n_nodes && !d.n_kids && !d.len);
        PJ_CHECK(!lit);
        if (strcmp(err, "empty body") != 0) {
            const char *at = strstr(err, " at byte ");
            PJ_CHECK(at != NULL);
            unsigned long long off = strtoull(at + 9, NULL, 10);
            PJ_CHECK(off <= size);
        }
        pj_free(&d);
        return 0;
    }

    pj_check_doc(&d);
    pj_check_spans(&d);
    PJ_CHECK(d.len == size && memcmp(d.text, data, size) == 0);

    /* bare number differential */
    {
        uint8_t t = d.nodes[0].type;
        int bare = (t == PJ_INT || t == PJ_DBL) && size > 0 && !is_ws(data[0]) && !is_ws(data[size - 1]);
        PJ_CHECK(bare == lit);
        if (t == PJ_DBL && bare && size < 512) {
            char buf[512];
            memcpy(buf, data, size);
            buf[size] = 0;
            double want = strtod(buf, NULL);
            PJ_CHECK(memcmp(&want, &d.nodes[0].u.d, sizeof want) == 0);
        }
        if (t == PJ_INT && bare && size < 64) {
            char buf[64];
            memcpy(buf, data, size);
            buf[size] = 0;
            PJ_CHECK(strtoll(buf, NULL, 10) == d.nodes[0].u.i);
        }
    }

    /* idempotent free */
    pj_free(&d);
    pj_free(&d);
    PJ_CHECK(!d.text && !d.nodes && !d.kids && !d.strbuf);
    return 0;
}
