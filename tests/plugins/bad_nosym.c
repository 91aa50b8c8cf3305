/* A shared object without the descriptor symbol. */
#include "fixture.h"

VT_PLUGIN_EXPORT int not_a_visft_plugin(void) { return 42; }
