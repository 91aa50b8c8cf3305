/* struct_size says the descriptor ends before `init`. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) { return fx_register_head(reg, "fx_short", err); }

VT_PLUGIN_EXPORT const vt_plugin_descriptor visft_plugin_descriptor = {
    VT_PLUGIN_ABI_MAJOR, VT_PLUGIN_ABI_MINOR, 16, "bad_short", "1.0", NULL, NULL, init};
