/* Every public header compiles together (no clashing names) and alone in C11. */
#include "visft/visft.h"
#include "vt_test.h"

START_TEST(umbrella_header_compiles_and_links) {
    vt_ctx *c = vt_ctx_create(NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(VT_PLUGIN_ABI_MAJOR, 1);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("public_headers", umbrella_header_compiles_and_links)
