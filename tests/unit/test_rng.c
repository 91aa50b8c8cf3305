/* Philox4x32-10: Random123's known-answer vectors, visft's stream layout against an independent Python
 * implementation (tests/ref/gen_index.py), and the float conversions and Box–Muller statistics. */
#include <math.h>

#include "golden.h"
#include "visft/rng.h"
#include "vt_test.h"

START_TEST(philox_matches_random123_known_answers) {
    /* Random123 tests/kat_vectors, "philox4x32 10": counter, key, expected */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        vt_philox4x32_10(kat[t], kat[t] + 4, out);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(out[i] == kat[t][6 + i], "vector %d word %d: %08x, want %08x", t, i, out[i], kat[t][6 + i]);
    }
}
END_TEST

START_TEST(stream_matches_python_reference) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("index.safetensors");
    vt_tensor *seeds = vt_golden_get(c, g, "philox.seeds"), *blocks = vt_golden_get(c, g, "philox.blocks");
    vt_tensor *words = vt_golden_get(c, g, "philox.words");
    ck_assert(seeds && blocks && words);
    const int64_t ns = vt_numel(seeds), nb = vt_numel(blocks);
    ck_assert_int_eq(vt_numel(words), ns * nb * 4);
    for (int64_t s = 0; s < ns; s++) {
        for (int64_t b = 0; b < nb; b++) {
            uint32_t w[4];
            uint64_t seed = (uint64_t)vt_i64(seeds)[s], blk = (uint64_t)vt_i64(blocks)[b];
            vt_rng_block(seed, blk, w);
            for (int i = 0; i < 4; i++) {
                ck_assert_uint_eq(w[i], (uint32_t)vt_i64(words)[(s * nb + b) * 4 + i]);
                /* word i of a stream starting at block blk - 1 is word i % 4 of block blk + i / 4 - 1 */
                if (blk > 0) ck_assert_uint_eq(vt_rng_u32(seed, blk - 1, 4 + (uint64_t)i), w[i]);
            }
        }
    }
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(unit_conversions_stay_in_range) {
    ck_assert_float_eq(vt_rng_unit(0), 0.0f);
    ck_assert(vt_rng_unit(UINT32_MAX) < 1.0f);
    ck_assert_float_eq(vt_rng_unit(UINT32_MAX), 1.0f - 1.0f / 16777216.0f);
    ck_assert(vt_rng_unit_open(0) > 0.0);
    ck_assert(vt_rng_unit_open(UINT32_MAX) == 1.0);
    ck_assert_uint_eq(vt_rng_blocks(0), 0);
    ck_assert_uint_eq(vt_rng_blocks(5), 2);
}
END_TEST

/* Moments of 4·50000 Box–Muller normals and the balance of every uniform bit, within ~5 standard errors. */
START_TEST(normals_and_bits_have_the_right_statistics) {
    enum { NB = 50000 };
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    int64_t ones[32] = {0};
    for (uint64_t b = 0; b < NB; b++) {
        uint32_t w[4];
        float z[4];
        vt_rng_block(42, b, w);
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 32; k++) ones[k] += (w[i] >> k) & 1;
        vt_rng_normal4(w, z);
        for (int i = 0; i < 4; i++) {
            double v = z[i];
            ck_assert(isfinite(v));
            s1 += v;
            s2 += v * v;
            s3 += v * v * v;
            s4 += v * v * v * v;
        }
    }
    const double n = 4.0 * NB;
    ck_assert_msg(fabs(s1 / n) < 5.0 / sqrt(n), "mean %g", s1 / n);
    ck_assert_msg(fabs(s2 / n - 1.0) < 5.0 * sqrt(2.0 / n), "variance %g", s2 / n);
    ck_assert_msg(fabs(s3 / n) < 5.0 * sqrt(15.0 / n), "third moment %g", s3 / n);
    ck_assert_msg(fabs(s4 / n - 3.0) < 5.0 * sqrt(96.0 / n), "fourth moment %g", s4 / n);
    for (int k = 0; k < 32; k++) ck_assert_msg(fabs(ones[k] / n - 0.5) < 5.0 * 0.5 / sqrt(n), "bit %d: %g", k, ones[k] / n);
}
END_TEST

VT_TEST_MAIN("rng", philox_matches_random123_known_answers, stream_matches_python_reference,
             unit_conversions_stay_in_range, normals_and_bits_have_the_right_statistics)
