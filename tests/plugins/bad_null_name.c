#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) { return VT_OK; }

VISFT_PLUGIN_DEFINE(NULL, "1.0", NULL, NULL, init);
