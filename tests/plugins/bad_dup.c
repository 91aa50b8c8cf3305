/* Registers a dataset of its own and a head whose name good_a already uses: refused as a whole. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) {
    vt_status st = vt_register_dataset(reg, "fx_dup_only", NULL, fx_specs, sizeof(fx_params), &fx_ds_vtable, err);
    if (st == VT_OK) st = fx_register_head(reg, "fx_head", err);
    return st;
}

VISFT_PLUGIN_DEFINE("bad_dup", "1.0", NULL, NULL, init);
