/* A correct plugin without description, license or parameters. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) {
    return vt_register_head(reg, "fx_head_b", NULL, NULL, 0, &fx_head_vtable, err);
}

VISFT_PLUGIN_DEFINE("good_b", "0.0.1", NULL, NULL, init);
