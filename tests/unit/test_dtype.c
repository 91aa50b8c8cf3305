/* dtype table and the f16/bf16 conversions: exact bit patterns at the awkward values (rounding ties,
 * subnormals, overflow, NaN), and dtype-converting copies between tensors. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "vt_test.h"

START_TEST(bf16_rounds_to_nearest_even) {
    ck_assert_uint_eq(vt_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(vt_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0) */
    ck_assert_uint_eq(vt_f32_to_bf16(1.00390625f), 0x3f80);
    /* 1 + 3·2^-8 is halfway between 1.0078125 (odd) and 1.015625 (even): rounds up */
    ck_assert_uint_eq(vt_f32_to_bf16(1.01171875f), 0x3f82);
    ck_assert_uint_eq(vt_f32_to_bf16(INFINITY), 0x7f80);
    ck_assert(isnan(vt_bf16_to_f32(vt_f32_to_bf16(NAN))));
    ck_assert_float_eq(vt_bf16_to_f32(0x3fc0), 1.5f);
}
END_TEST

START_TEST(f16_handles_subnormals_overflow_and_ties) {
    ck_assert_uint_eq(vt_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(vt_f32_to_f16(65504.0f), 0x7bff);     /* largest finite */
    ck_assert_uint_eq(vt_f32_to_f16(65520.0f), 0x7c00);     /* rounds to inf */
    ck_assert_uint_eq(vt_f32_to_f16(-1e9f), 0xfc00);
    ck_assert_uint_eq(vt_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal 2^-24 */
    ck_assert_uint_eq(vt_f32_to_f16(2.9802322e-8f), 0x0000); /* 2^-25: tie, rounds to even (0) */
    ck_assert_uint_eq(vt_f32_to_f16(1.0009765625f), 0x3c01); /* exact */
    ck_assert_uint_eq(vt_f32_to_f16(1.00048828125f), 0x3c00);/* tie between 0x3c00 and 0x3c01 -> even */
    ck_assert(isnan(vt_f16_to_f32(vt_f32_to_f16(NAN))));
    ck_assert_float_eq(vt_f16_to_f32(0x0001), 5.9604645e-8f);
    ck_assert_float_eq(vt_f16_to_f32(0xc000), -2.0f);
    /* every finite f16 converts to f32 and back unchanged */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        ck_assert_uint_eq(vt_f32_to_f16(vt_f16_to_f32((uint16_t)h)), h);
    }
}
END_TEST

START_TEST(dtype_names_parse_both_spellings) {
    vt_dtype d;
    ck_assert_int_eq(vt_dtype_parse("BF16", &d), 0);
    ck_assert_int_eq(d, VT_BF16);
    ck_assert_int_eq(vt_dtype_parse("i64", &d), 0);
    ck_assert_int_eq(d, VT_I64);
    ck_assert_int_eq(vt_dtype_parse("F64", &d), -1);
    ck_assert_uint_eq(vt_dtype_size(VT_BOOL), 1);
    ck_assert_str_eq(vt_dtype_name(VT_F16), "f16");
}
END_TEST

START_TEST(copy_converts_between_dtypes) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_from_f32(c, VT_SHAPE(2, 3), (float[]){1.5f, -2.0f, 0.0f, 3.25f, 100.0f, -0.5f});
    vt_dtype kinds[] = {VT_BF16, VT_F16, VT_I32, VT_I64};
    for (int k = 0; k < 4; k++) {
        vt_tensor *y = vt_to_dtype(c, x, kinds[k]);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(y->dtype, kinds[k]);
        vt_tensor *back = vt_to_dtype(c, y, VT_F32);
        for (int i = 0; i < 6; i++) {
            float want = vt_f32(x)[i];
            if (kinds[k] == VT_I32 || kinds[k] == VT_I64) want = truncf(want);
            ck_assert_float_eq(vt_f32(back)[i], want);
        }
    }
    /* strided source (a transpose) converts element by element in logical order */
    vt_tensor *t = vt_to_dtype(c, vt_transpose(c, x, 0, 1), VT_F16);
    ck_assert_float_eq(vt_f16_to_f32(((uint16_t *)t->data)[1]), 3.25f);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("dtype", bf16_rounds_to_nearest_even, f16_handles_subnormals_overflow_and_ties,
             dtype_names_parse_both_spellings, copy_converts_between_dtypes)
