/*
 * schema.c: what the contract says about the fields of a heat pump (HeatPumpDetailOutput and
 * its partial update), written once. doc.c reads the Decimal rule from here; the Lua side
 * (lua/podero/steering.lua, podero.DECIMAL_FIELDS, podero.WRITABLE_HEAT_PUMP_FIELDS) reads the
 * table through core.heat_pump_fields. spec/85-steering_spec.lua compares it field by field
 * with the sandbox's own, independent table.
 */
#include <string.h>

#include "podero.h"

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

int podero_is_decimal_field(const char *k, size_t klen) {
    const podero_field *f;
    for (f = podero_heat_pump_fields; f->name; f++)
        if (f->decimal && f->name[0] == k[0] && strlen(f->name) == klen && memcmp(f->name, k, klen) == 0)
            return 1;
    return 0;
}

/* core.heat_pump_fields: { { name =, decimal =, type =, nullable =, max_length =, values =,
 * hint = }, ... } in the order above (type nil for a read-only field). */
void podero_schema_push(lua_State *L) {
    static const char *const types[] = {NULL, "boolean", "number", "integer", "string", "time", "enum"};
    const podero_field *f;
    int i = 0;
    lua_newtable(L);
    for (f = podero_heat_pump_fields; f->name; f++) {
        lua_createtable(L, 0, 7);
        lua_pushstring(L, f->name);
        lua_setfield(L, -2, "name");
        lua_pushboolean(L, f->decimal);
        lua_setfield(L, -2, "decimal");
        if (f->wtype != PODERO_W_NONE) {
            lua_pushstring(L, types[f->wtype]);
            lua_setfield(L, -2, "type");
            lua_pushboolean(L, f->nullable);
            lua_setfield(L, -2, "nullable");
        }
        if (f->max_length) {
            lua_pushinteger(L, f->max_length);
            lua_setfield(L, -2, "max_length");
        }
        if (f->values) {
            const char *p = f->values;
            int k = 0;
            lua_newtable(L);
            while (*p) {
                size_t n = strcspn(p, " ");
                lua_pushlstring(L, p, n);
                lua_rawseti(L, -2, ++k);
                p += n;
                while (*p == ' ')
                    p++;
            }
            lua_setfield(L, -2, "values");
        }
        if (f->hint) {
            lua_pushstring(L, f->hint);
            lua_setfield(L, -2, "hint");
        }
        lua_rawseti(L, -2, ++i);
    }
}
