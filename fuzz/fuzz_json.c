/*
 * fuzz_json.c: libFuzzer target for csrc/json.c, differential against the reference parser
 * tests-c/json_ref.c (the tape parser json.c was before a94e543, renamed rj_; test-only).
 * From the repository root (the `make fuzz` rule does the same):
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -Icsrc -Itests-c fuzz/fuzz_json.c csrc/json.c tests-c/json_ref.c -lm -o /tmp/fuzz_json
 *   mkdir -p /tmp/fuzz_json_corpus
 *   /tmp/fuzz_json -max_total_time=60 -max_len=4096 /tmp/fuzz_json_corpus fuzz/corpus/json
 *
 * (the first corpus directory receives new inputs; fuzz/corpus/json holds the seeds:
 *  JSONTestSuite test_parsing files plus tests-c/heat_pump.json.) Add -DPJ_NO_SIMD to both
 *  compile lines to fuzz the portable scalar scanners instead of SSE2.
 *
 * Every input goes through pj_check_input (tests-c/pj_check.h): pj_parse and rj_parse must
 * agree on the outcome and the exact error message; on failure the doc must be zeroed and the
 * message must carry a byte offset within the input; on success the two documents are walked
 * together: every value's type, int64, double bits, decoded string (pj_str, pj_str_raw +
 * pj_unescape) and flags, every container's count, index, first/next walk, pj_arr_get,
 * pj_obj_get / pj_index_find (the last duplicate must win; missing keys, keys with '"' or
 * '\\'), pj_member_value, pj_end and pj_span, and the document's layout (padding, root index
 * right after it). Differential checks besides: pj_is_number_literal(input) must agree with
 * "input parses to a bare number", and a parsed number must equal strtod's / strtoll's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pj_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pj_doc d;
    char err[128];
    int checked = pj_check_input(data, size);
    int lit = pj_is_number_literal((const char *)data, size);
    int rc = pj_parse(&d, (const char *)data, size, err, sizeof err);

    PJ_CHECK(rc == checked);
    if (rc != 0) {
        PJ_CHECK(rc == -1);
        PJ_CHECK(pjc_doc_zero(&d));
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

    /* bare number differential */
    {
        int t = pj_type(&d, d.root);
        int bare = (t == PJ_INT || t == PJ_DBL) && !pjc_is_ws(data[0]) && !pjc_is_ws(data[size - 1]);
        int64_t i = 0;
        double x = 0;
        PJ_CHECK(bare == lit);
        if (t == PJ_INT || t == PJ_DBL) PJ_CHECK(pj_num(&d, d.root, &i, &x) == t);
        if (t == PJ_DBL && bare && size < 512) {
            char buf[512];
            memcpy(buf, data, size);
            buf[size] = 0;
            double want = strtod(buf, NULL);
            PJ_CHECK(memcmp(&want, &x, sizeof want) == 0);
        }
        if (t == PJ_INT && bare && size < 64) {
            char buf[64];
            memcpy(buf, data, size);
            buf[size] = 0;
            PJ_CHECK(strtoll(buf, NULL, 10) == i);
        }
    }

    pj_free(&d);
    pj_free(&d);
    PJ_CHECK(pjc_doc_zero(&d));
    return 0;
}
