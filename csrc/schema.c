/*
 * schema.c: what the contract says about the fields of a heat pump (HeatPumpDetailOutput and
 * its partial update), written once. doc.c reads the Decimal rule from here; the Lua side
 * (lua/podero/steering.lua, podero.DECIMAL_FIELDS, podero.WRITABLE_HEAT_PUMP_FIELDS) reads the
 * table through core.heat_pump_fields. spec/85-steering_spec.lua compares it field by field
 * with the sandbox's own, independent table.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

#define PRICE_ZONES "AT AT_HOURLY BE CH EE DE_LU HU IT_CNOR IT_CSUD IT_NORD IT_PUN IT_SARD " \
                    "IT_SICI IT_SUD PT RO SE_1 SE_2 SE_3 SE_4 UK"
#define LEVELS "Low Mid Max"

/* name, decimal (number | string | null: numeric strings read as numbers), writable type,
 * nullable (when written), max length (strings), values (enums, space-separated), hint */
const podero_field podero_heat_pump_fields[] = {
    {"price_zone", 0, PODERO_W_ENUM, 0, 0, PRICE_ZONES, "a price zone (AT, DE_LU, SE_3, ...)"},
    {"pause_power_until", 0, PODERO_W_TIME, 1, 0, NULL, NULL},
    {"is_pause_power_active", 0, PODERO_W_BOOLEAN, 0, 0, NULL, NULL},
    {"external_device_id", 0, PODERO_W_STRING, 1, 255, NULL, NULL},
    {"is_smart_optimization_active", 0, PODERO_W_BOOLEAN, 0, 0, NULL, NULL},
    {"comment", 0, PODERO_W_STRING, 1, 300, NULL, NULL},
    {"is_inverter_forced_mode_enabled", 0, PODERO_W_BOOLEAN, 0, 0, NULL, NULL},
    {"is_trading_enabled", 0, PODERO_W_BOOLEAN, 0, 0, NULL, NULL},
    {"indoor_target_temperature_offset", 1, PODERO_W_NUMBER, 1, 0, NULL, NULL},
    {"dhw_standard_temperature", 1, PODERO_W_NUMBER, 1, 0, NULL, NULL},
    {"is_hot_water_heating_enabled", 0, PODERO_W_BOOLEAN, 1, 0, NULL, NULL},
    {"is_space_heating_enabled", 0, PODERO_W_BOOLEAN, 1, 0, NULL, NULL},
    {"is_pool_heating_enabled", 0, PODERO_W_BOOLEAN, 1, 0, NULL, NULL},
    {"is_space_cooling_enabled", 0, PODERO_W_BOOLEAN, 1, 0, NULL, NULL},
    {"heating_policy_name", 0, PODERO_W_STRING, 1, 100, NULL, NULL},
    {"maximum_temperature_limit", 1, PODERO_W_NUMBER, 1, 0, NULL, NULL},
    {"minimum_temperature_limit", 1, PODERO_W_NUMBER, 1, 0, NULL, NULL},
    {"minimum_dhw_temperature_limit", 1, PODERO_W_NUMBER, 1, 0, NULL, NULL},
    {"is_heating_policy_enabled", 0, PODERO_W_BOOLEAN, 1, 0, NULL, NULL},
    {"away_mode_start", 0, PODERO_W_TIME, 1, 0, NULL, NULL},
    {"away_mode_end", 0, PODERO_W_TIME, 1, 0, NULL, NULL},
    {"is_away_mode_enabled", 0, PODERO_W_BOOLEAN, 1, 0, NULL, NULL},
    {"away_mode_minimum_temperature_limit", 1, PODERO_W_NUMBER, 1, 0, NULL, NULL},
    {"min_solar_power_w", 0, PODERO_W_INTEGER, 0, 0, NULL, NULL},
    {"operational_mode", 0, PODERO_W_STRING, 1, 100, NULL, NULL},
    {"optimization_level", 0, PODERO_W_ENUM, 1, 0, LEVELS, "\"Low\", \"Mid\" or \"Max\""},
    {"temperature_delta_override_for_slight_change", 0, PODERO_W_INTEGER, 1, 0, NULL, NULL},
    {"temperature_delta_override_for_significant_change", 0, PODERO_W_INTEGER, 1, 0, NULL, NULL},
    /* read-only Decimals */
    {"consumption_last_day_kwh", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"consumption_last_month_kwh", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"consumption_last_week_kwh", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"dhw_temperature", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"indoor_actual_temperature", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"indoor_target_temperature", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"inlet_temperature", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"outdoor_temperature", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"outlet_temperature", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL}
};

/* The Decimal fields in a small open-addressing table, made once: the rule is looked up on
 * every read of a heat pump's string field. */
#define DEC_SLOTS 64
static const char *dec_name[DEC_SLOTS];
static size_t dec_len[DEC_SLOTS];
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static unsigned dec_hash(const char *k, size_t klen) {
    return ((unsigned)klen * 7u + (unsigned char)k[0] + (unsigned char)k[klen - 1] * 3u) & (DEC_SLOTS - 1);
}

static void dec_init(void) {
    const podero_field *f;
    for (f = podero_heat_pump_fields; f->name; f++) {
        size_t l = strlen(f->name);
        unsigned h;
        if (!f->decimal)
            continue;
        for (h = dec_hash(f->name, l); dec_name[h]; h = (h + 1) & (DEC_SLOTS - 1)) {}
        dec_name[h] = f->name;
        dec_len[h] = l;
    }
}

int podero_is_decimal_field(const char *k, size_t klen) {
    unsigned h;
    if (klen == 0)
        return 0;
    pthread_once(&dec_once, dec_init);
    for (h = dec_hash(k, klen); dec_name[h]; h = (h + 1) & (DEC_SLOTS - 1))
        if (dec_len[h] == klen && memcmp(dec_name[h], k, klen) == 0)
            return 1;
    return 0;
}

/* What a JSON value is, by pj_type, for messages: "the answer is a JSON string, not an object". */
static const char *const type_names[] = {"JSON null", "JSON false", "JSON true", "a JSON number",
                                         "a JSON number", "a JSON string", "a JSON array",
                                         "a JSON object"};

/* The fields HeatPumpDetailOutput marks required (besides id, which may be absent or null). */
static const char *const required_fields[] = {
    "connection_status", "monitoring_status", "steering_status", "device_model", "owner",
    "created_at", "updated_at",
};

int podero_heat_pump_check(const pj_doc *doc, const char *want_id, long status, podero_result *res) {
    int root_type = pj_type(doc, doc->root);
    pj_val n;
    size_t i;
    if (root_type != PJ_OBJ) {
        res->kind = "decode";
        res->status = status;
        snprintf(res->message, sizeof res->message, "the answer is %s, not an object",
                 type_names[root_type]);
        return -1;
    }
    n = pj_obj_get(doc, doc->root, "id", 2);
    if (n != PJ_NONE && pj_type(doc, n) != PJ_NULL) {
        size_t len;
        const char *s;
        char *heap;
        if (pj_type(doc, n) != PJ_STR) {
            res->kind = "decode";
            res->status = status;
            snprintf(res->message, sizeof res->message, "the answer's heat pump id is not a string");
            return -1;
        }
        s = pj_str(doc, n, &len, &heap);
        if (!s) {
            podero_set_result(res, "memory", status, "out of memory");
            return -1;
        }
        if (want_id && (len != strlen(want_id) || strncasecmp(s, want_id, len) != 0)) {
            char shown[41];
            size_t k, m = len < 40 ? len : 40;
            for (k = 0; k < m; k++)  /* printable ASCII only: the id is the server's text */
                shown[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
            shown[m] = 0;
            res->kind = "decode";
            res->status = status;
            snprintf(res->message, sizeof res->message,
                     "the answer is about heat pump %s%s, not the %s asked for", shown,
                     len > 40 ? "..." : "", want_id);
            free(heap);
            return -1;
        }
        free(heap);
    }
    for (i = 0; i < sizeof required_fields / sizeof required_fields[0]; i++) {
        if (!pj_has_plain_key(doc, doc->root, required_fields[i], strlen(required_fields[i]))) {
            res->kind = "decode";
            res->status = status;
            snprintf(res->message, sizeof res->message,
                     "the answer is not a heat pump: it lacks the required field %s", required_fields[i]);
            return -1;
        }
    }
    return 0;
}

/* The rest of podero_parse_answer*, after pj_parse* returned rc (err: its message). */
static int check_answer(pj_doc *doc, int rc, const char *err, int result_kind, const char *want_id,
                        long status, podero_result *res) {
    int want_array;
    int root_type;
    if (rc == -2) {
        podero_set_result(res, "memory", status, "out of memory");
        return -1;
    }
    if (rc != 0) {
        podero_set_result(res, "decode", status, "the answer is not valid JSON: %s", err);
        return -1;
    }
    want_array = result_kind == PD_RESULT_ARRAY || result_kind == PD_RESULT_HEAT_PUMP_LIST;
    root_type = pj_type(doc, doc->root);
    if (root_type != (want_array ? PJ_ARR : PJ_OBJ)) {
        pj_free(doc);
        podero_set_result(res, "decode", status, "the answer is %s, not %s", type_names[root_type],
                          want_array ? "an array" : "an object");
        return -1;
    }
    /* want_id NULL: no check at all (core.parse); "": the check without the id */
    if (result_kind == PD_RESULT_HEAT_PUMP && want_id &&
        podero_heat_pump_check(doc, want_id[0] ? want_id : NULL, status, res) != 0) {
        pj_free(doc);
        return -1;
    }
    return 0;
}

int podero_parse_answer(pj_doc *doc, const char *body, size_t len, int result_kind,
                        const char *want_id, long status, podero_result *res) {
    char err[200];
    int rc = pj_parse_hdr(doc, body ? body : "", len, PD_DOC_HEADER, err, sizeof err);
    return check_answer(doc, rc, err, result_kind, want_id, status, res);
}

int podero_parse_answer_owned(pj_doc *doc, char *body, size_t len, int result_kind,
                              const char *want_id, long status, podero_result *res) {
    char err[200];
    int rc = pj_parse_owned(doc, body, len, err, sizeof err);
    return check_answer(doc, rc, err, result_kind, want_id, status, res);
}
