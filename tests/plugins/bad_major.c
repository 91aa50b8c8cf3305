/* Built for the next ABI major: must be refused before anything past the header is read. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) { return fx_register_head(reg, "fx_major", err); }

VT_PLUGIN_EXPORT const vt_plugin_descriptor visft_plugin_descriptor = {
    VT_PLUGIN_ABI_MAJOR + 1, 0, sizeof(vt_plugin_descriptor), "bad_major", "1.0", NULL, NULL, init};
