/* A correct plugin with one component of each kind. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) {
    vt_status st = fx_register_head(reg, "fx_head", err);
    if (st == VT_OK)
        st = vt_register_dataset(reg, "fx_data", "fixture dataset", fx_specs, sizeof(fx_params), &fx_ds_vtable, err);
    if (st == VT_OK)
        st = vt_register_benchmark(reg, "fx_bench", NULL, NULL, 0, &fx_bench_vtable, err);
    return st;
}

VISFT_PLUGIN_DEFINE("good_a", "1.2.3", "fixture: one component of each kind", "MIT", init);
