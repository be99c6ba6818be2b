/*
 * schema.c: what the contract says about the fields of a heat pump (HeatPumpDetailOutput and
 * its partial update), of an electric vehicle (and its partial update) and of an inverter,
 * written once. doc.c reads the Decimal rule of each view kind from here (podero_kind_*); the
 * Lua side (lua/podero/steering.lua, lua/podero/partner.lua, podero.DECIMAL_FIELDS,
 * podero.WRITABLE_HEAT_PUMP_FIELDS, podero.WRITABLE_ELECTRIC_VEHICLE_FIELDS) reads the tables
 * through core.heat_pump_fields, core.electric_vehicle_fields and core.inverter_fields.
 * spec/85-steering_spec.lua compares the heat pump's field by field with the sandbox's own,
 * independent table.
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

/* An electric vehicle: the device fields a partial update may set, and the Decimal fields
 * (numbers that may arrive as strings). The charge targets are system-managed (charge_target_max:
 * the maker's cap); the charge policy is minimum_charge_limit, charge_deadline_at and
 * is_charge_policy_enabled. */
const podero_field podero_electric_vehicle_fields[] = {
    {"price_zone", 0, PODERO_W_ENUM, 0, 0, PRICE_ZONES, "a price zone (AT, DE_LU, SE_3, ...)"},
    {"external_device_id", 0, PODERO_W_STRING, 1, 255, NULL, NULL},
    {"is_smart_optimization_active", 0, PODERO_W_BOOLEAN, 0, 0, NULL, NULL},
    {"minimum_charge_limit", 1, PODERO_W_NUMBER, 1, 0, NULL, NULL},
    {"charge_deadline_at", 0, PODERO_W_CLOCK, 1, 0, NULL, NULL},
    {"is_charge_policy_enabled", 0, PODERO_W_BOOLEAN, 0, 0, NULL, NULL},
    /* read-only Decimals */
    {"battery_level", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"charge_rate_w", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"charge_target_min", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"charge_target_max", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL}
};

/* An inverter: read only; every numeric field may arrive as a Decimal string (the battery ones
 * are null without a battery). */
const podero_field podero_inverter_fields[] = {
    {"solar_power_rating_kw", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"battery_capacity_kwh", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"battery_charge_level_percent", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"battery_charge_discharge_power_w", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"current_solar_production_w", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"household_consumption_w", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"current_power_to_grid_w", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {"solar_surplus_w", 1, PODERO_W_NONE, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL}
};

const podero_field *podero_kind_fields(int kind) {
    switch (kind) {
    case PODERO_KIND_HEAT_PUMP: return podero_heat_pump_fields;
    case PODERO_KIND_ELECTRIC_VEHICLE: return podero_electric_vehicle_fields;
    case PODERO_KIND_INVERTER: return podero_inverter_fields;
    default: return NULL;
    }
}

/* The Decimal fields of every kind in a small open-addressing table, made once: the rule is
 * looked up on every read of a string field of a heat pump, vehicle or inverter. */
#define DEC_SLOTS 128
static const char *dec_name[DEC_SLOTS];
static size_t dec_len[DEC_SLOTS];
static int dec_kind[DEC_SLOTS];
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static unsigned dec_hash(int kind, const char *k, size_t klen) {
    return ((unsigned)klen * 7u + (unsigned char)k[0] + (unsigned char)k[klen - 1] * 3u + (unsigned)kind * 37u) &
           (DEC_SLOTS - 1);
}

static void dec_init(void) {
    static const int kinds[] = {PODERO_KIND_HEAT_PUMP, PODERO_KIND_ELECTRIC_VEHICLE, PODERO_KIND_INVERTER};
    size_t i;
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const podero_field *f;
        for (f = podero_kind_fields(kinds[i]); f->name; f++) {
            size_t l = strlen(f->name);
            unsigned h;
            if (!f->decimal)
                continue;
            for (h = dec_hash(kinds[i], f->name, l); dec_name[h]; h = (h + 1) & (DEC_SLOTS - 1)) {}
            dec_name[h] = f->name;
            dec_len[h] = l;
            dec_kind[h] = kinds[i];
        }
    }
}

int podero_kind_decimal(int kind, const char *k, size_t klen) {
    unsigned h;
    if (klen == 0 || (kind != PODERO_KIND_HEAT_PUMP && kind != PODERO_KIND_ELECTRIC_VEHICLE &&
                      kind != PODERO_KIND_INVERTER))
        return 0;
    pthread_once(&dec_once, dec_init);
    for (h = dec_hash(kind, k, klen); dec_name[h]; h = (h + 1) & (DEC_SLOTS - 1))
        if (dec_kind[h] == kind && dec_len[h] == klen && memcmp(dec_name[h], k, klen) == 0)
            return 1;
    return 0;
}

int podero_is_decimal_field(const char *k, size_t klen) {
    return podero_kind_decimal(PODERO_KIND_HEAT_PUMP, k, klen);
}

int podero_kind_element(int kind) {
    switch (kind) {
    case PODERO_KIND_HEAT_PUMP_LIST: return PODERO_KIND_HEAT_PUMP;
    case PODERO_KIND_ELECTRIC_VEHICLE_LIST: return PODERO_KIND_ELECTRIC_VEHICLE;
    case PODERO_KIND_INVERTER_LIST: return PODERO_KIND_INVERTER;
    default: return PODERO_KIND_PLAIN;
    }
}

const char *podero_kind_name(int kind) {
    switch (kind) {
    case PODERO_KIND_HEAT_PUMP: return "heat_pump";
    case PODERO_KIND_ELECTRIC_VEHICLE: return "electric_vehicle";
    case PODERO_KIND_INVERTER: return "inverter";
    case PODERO_KIND_PLAIN: return "object";
    default: return "list";
    }
}

int podero_result_view_kind(int result_kind) {
    switch (result_kind) {
    case PD_RESULT_HEAT_PUMP: return PODERO_KIND_HEAT_PUMP;
    case PD_RESULT_HEAT_PUMP_LIST: return PODERO_KIND_HEAT_PUMP_LIST;
    case PD_RESULT_ELECTRIC_VEHICLE: return PODERO_KIND_ELECTRIC_VEHICLE;
    case PD_RESULT_ELECTRIC_VEHICLE_LIST: return PODERO_KIND_ELECTRIC_VEHICLE_LIST;
    case PD_RESULT_INVERTER_LIST: return PODERO_KIND_INVERTER_LIST;
    default: return PODERO_KIND_PLAIN;
    }
}

int podero_result_checks_id(int result_kind) {
    return result_kind == PD_RESULT_HEAT_PUMP || result_kind == PD_RESULT_ELECTRIC_VEHICLE;
}

static int result_is_array(int result_kind) {
    return result_kind == PD_RESULT_ARRAY || result_kind == PD_RESULT_HEAT_PUMP_LIST ||
           result_kind == PD_RESULT_ELECTRIC_VEHICLE_LIST || result_kind == PD_RESULT_INVERTER_LIST;
}

/* What a JSON value is, by pj_type, for messages: "the answer is a JSON string, not an object". */
static const char *const type_names[] = {"JSON null", "JSON false", "JSON true", "a JSON number",
                                         "a JSON number", "a JSON string", "a JSON array",
                                         "a JSON object"};

/* The fields HeatPumpDetailOutput marks required (besides id, which may be absent or null), with
 * where the contract's order puts them among the members (a hint only: any order is accepted). */
#define RF(name, at) {name, sizeof name - 1, at}
static const struct { const char *name; uint8_t len, at; } required_fields[] = {
    RF("connection_status", 0), RF("monitoring_status", 1), RF("steering_status", 2),
    RF("device_model", 3), RF("owner", 4), RF("created_at", 7), RF("updated_at", 8),
};
#undef RF

/* The answer's id is absent, null or want_id (case-insensitively; want_id NULL: not checked).
 * noun: how messages name the device ("heat pump", "electric vehicle"). */
static int check_answer_id(const pj_doc *doc, const char *want_id, const char *noun, long status,
                           podero_result *res) {
    pj_val n = pj_obj_get(doc, doc->root, "id", 2);
    if (n != PJ_NONE && pj_type(doc, n) != PJ_NULL) {
        size_t len;
        const char *s;
        char *heap;
        if (pj_type(doc, n) != PJ_STR) {
            res->kind = "decode";
            res->status = status;
            snprintf(res->message, sizeof res->message, "the answer's %s id is not a string", noun);
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
                     "the answer is about %s %s%s, not the %s asked for", noun, shown,
                     len > 40 ? "..." : "", want_id);
            free(heap);
            return -1;
        }
        free(heap);
    }
    return 0;
}

int podero_heat_pump_check(const pj_doc *doc, const char *want_id, long status, podero_result *res) {
    int root_type = pj_type(doc, doc->root);
    size_t i;
    if (root_type != PJ_OBJ) {
        res->kind = "decode";
        res->status = status;
        snprintf(res->message, sizeof res->message, "the answer is %s, not an object",
                 type_names[root_type]);
        return -1;
    }
    if (check_answer_id(doc, want_id, "heat pump", status, res) != 0)
        return -1;
    for (i = 0; i < sizeof required_fields / sizeof required_fields[0]; i++) {
        if (!pj_has_plain_key_hint(doc, doc->root, required_fields[i].name, required_fields[i].len,
                                   required_fields[i].at)) {
            res->kind = "decode";
            res->status = status;
            snprintf(res->message, sizeof res->message,
                     "the answer is not a heat pump: it lacks the required field %s", required_fields[i].name);
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
    want_array = result_is_array(result_kind);
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
    if (result_kind == PD_RESULT_ELECTRIC_VEHICLE && want_id &&
        check_answer_id(doc, want_id[0] ? want_id : NULL, "electric vehicle", status, res) != 0) {
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

int podero_parse_answer_block(pj_doc *doc, char *block, size_t len, size_t cap, int result_kind,
                              const char *want_id, long status, podero_result *res) {
    char err[200];
    int rc = pj_parse_block(doc, block, PD_DOC_HEADER, len, cap, err, sizeof err);
    return check_answer(doc, rc, err, result_kind, want_id, status, res);
}

int podero_parse_answer_owned(pj_doc *doc, char *body, size_t len, int result_kind,
                              const char *want_id, long status, podero_result *res) {
    char err[200];
    int rc = pj_parse_owned(doc, body, len, err, sizeof err);
    return check_answer(doc, rc, err, result_kind, want_id, status, res);
}
