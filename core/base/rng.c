/* Philox4x32-10 (see visft/rng.h): the raw generator, the stream layout and Box–Muller. */
#include "visft/rng.h"

#include <math.h>

void vt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    vt_philox4x32_10_inline(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
}

void vt_rng_block(uint64_t seed, uint64_t block, uint32_t out[4]) {
    vt_philox4x32_10_inline((uint32_t)block, (uint32_t)(block >> 32), 0, 0, (uint32_t)seed, (uint32_t)(seed >> 32),
                            out);
}

uint32_t vt_rng_u32(uint64_t seed, uint64_t b0, uint64_t i) {
    uint32_t w[4];
    vt_rng_block(seed, b0 + i / 4, w);
    return w[i % 4];
}

void vt_rng_normal4(const uint32_t w[4], float out[4]) {
    for (int j = 0; j < 4; j += 2) {
        double r = sqrt(-2.0 * log(vt_rng_unit_open(w[j])));
        double t = 6.283185307179586 * vt_rng_unit_open(w[j + 1]);
        out[j] = (float)(r * cos(t));
        out[j + 1] = (float)(r * sin(t));
    }
}
