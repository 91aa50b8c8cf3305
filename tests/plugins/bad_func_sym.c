/* Exports the entry name as a function: reading it as a descriptor would read code. */
#include "fixture.h"

VT_PLUGIN_EXPORT int visft_plugin_descriptor(void) { return 1; }
