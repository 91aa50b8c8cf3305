#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) { return VT_OK; }

VISFT_PLUGIN_DEFINE("bad_null_version", NULL, NULL, NULL, init);
