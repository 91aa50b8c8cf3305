#include "fixture.h"

VISFT_PLUGIN_DEFINE("bad_null_init", "1.0", NULL, NULL, NULL);
