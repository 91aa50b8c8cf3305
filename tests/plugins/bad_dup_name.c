/* A different file claiming good_a's plugin name. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) { return fx_register_head(reg, "fx_dup_name", err); }

VISFT_PLUGIN_DEFINE("good_a", "9.9", NULL, NULL, init);
