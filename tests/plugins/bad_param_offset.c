/* A spec whose offset lies past the params struct; init ignores the registrar's answer and returns OK,
 * which must not get the plugin in. */
#include "fixture.h"

typedef struct small_params {
    int64_t a;
} small_params;

static const vt_param_spec specs[] = {
    {.name = "a", .type = VT_PARAM_INT, .offset = offsetof(small_params, a), .default_value = "1", .min = 1, .max = 0},
    {.name = "b", .type = VT_PARAM_FLOAT, .offset = 64, .default_value = "1", .min = 1, .max = 0},
    VT_PARAM_END,
};

static vt_status init(vt_registrar *reg, vt_err *err) {
    vt_register_head(reg, "fx_param_offset", NULL, specs, sizeof(small_params), &fx_head_vtable, err);
    return VT_OK;
}

VISFT_PLUGIN_DEFINE("bad_param_offset", "1.0", NULL, NULL, init);
