/* A head vtable whose struct_size stops before `loss`. */
#include "fixture.h"

static const vt_head_vtable short_vtable = {
    offsetof(vt_head_vtable, loss), fx_head_create, fx_head_destroy, fx_head_parameters, NULL, NULL,
};

static vt_status init(vt_registrar *reg, vt_err *err) {
    return vt_register_head(reg, "fx_short_vtable", NULL, NULL, 0, &short_vtable, err);
}

VISFT_PLUGIN_DEFINE("bad_short_vtable", "1.0", NULL, NULL, init);
