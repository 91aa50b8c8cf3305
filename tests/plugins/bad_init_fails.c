/* init registers a head, then fails: the head must not stay registered and the message must reach the user. */
#include "fixture.h"

static vt_status init(vt_registrar *reg, vt_err *err) {
    vt_status st = fx_register_head(reg, "fx_init_fails", err);
    if (st != VT_OK) return st;
    return vt_err_set(err, VT_EIO, "fixture: cannot open /nonexistent/weights.bin");
}

VISFT_PLUGIN_DEFINE("bad_init_fails", "1.0", NULL, NULL, init);
