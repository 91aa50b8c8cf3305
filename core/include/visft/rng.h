/* Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
 * as 1, 2, 3", SC'11).
 *
 * A stream is fixed by a 64-bit seed (the Philox key). Its "block" b is Philox(counter = {b lo, b hi, 0, 0},
 * key = {seed lo, seed hi}): four 32-bit words. Element i of an op that reserved blocks starting at b0 (with
 * vt_ctx_rng_reserve) draws from block b0 + i/4, word i%4, so every element's value depends only on
 * (seed, b0, i) — never on the thread count or on how the work is split. */
#ifndef VISFT_RNG_H
#define VISFT_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VT_PHILOX_M0 0xD2511F53u
#define VT_PHILOX_M1 0xCD9E8D57u
#define VT_PHILOX_W0 0x9E3779B9u
#define VT_PHILOX_W1 0xBB67AE85u

/* Philox4x32 with 10 rounds. Inline so that kernels looping over blocks vectorise it. */
static inline void vt_philox4x32_10_inline(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                           uint32_t k1, uint32_t out[4]) {
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += VT_PHILOX_W0;
            k1 += VT_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)VT_PHILOX_M0 * c0, p1 = (uint64_t)VT_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Philox4x32-10 of a raw 128-bit counter and 64-bit key (Random123's word order). */
void vt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The four words of block `block` of the stream `seed`. */
void vt_rng_block(uint64_t seed, uint64_t block, uint32_t out[4]);
/* Word i of the stream that starts at block b0: word i%4 of block b0 + i/4. */
uint32_t vt_rng_u32(uint64_t seed, uint64_t b0, uint64_t i);

/* Uniform float in [0, 1) from the top 24 bits (every value exactly representable). */
static inline float vt_rng_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }
/* Uniform double in (0, 1] from all 32 bits (safe for log). */
static inline double vt_rng_unit_open(uint32_t u) { return ((double)u + 1.0) * (1.0 / 4294967296.0); }

/* Four standard normals from one block by Box–Muller: words (0, 1) give r·cos θ and r·sin θ, words (2, 3)
 * the next pair. Computed in double, so tails are accurate to about 6.6 sigma (u1 >= 2^-32). */
void vt_rng_normal4(const uint32_t w[4], float out[4]);

/* Blocks an op over n elements reserves (4 elements per block). */
static inline uint64_t vt_rng_blocks(uint64_t n) { return (n + 3) / 4; }

#ifdef __cplusplus
}
#endif
#endif
