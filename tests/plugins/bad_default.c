/* An int parameter whose default is not an int. */
#include "fixture.h"

typedef struct p {
    int64_t depth;
} p;

static const vt_param_spec specs[] = {
    {.name = "depth", .type = VT_PARAM_INT, .offset = offsetof(p, depth), .default_value = "deep", .min = 1, .max = 0},
    VT_PARAM_END,
};

static vt_status init(vt_registrar *reg, vt_err *err) {
    return vt_register_head(reg, "fx_bad_default", NULL, specs, sizeof(p), &fx_head_vtable, err);
}

VISFT_PLUGIN_DEFINE("bad_default", "1.0", NULL, NULL, init);
