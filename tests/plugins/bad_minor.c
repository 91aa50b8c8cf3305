/* Built for a newer minor than this host: it may rely on slots the host lacks. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) { return fx_register_head(reg, "fx_minor", err); }

VT_PLUGIN_EXPORT const vt_plugin_descriptor visft_plugin_descriptor = {
    VT_PLUGIN_ABI_MAJOR, VT_PLUGIN_ABI_MINOR + 1, sizeof(vt_plugin_descriptor), "bad_minor", "1.0", NULL, NULL, init};
