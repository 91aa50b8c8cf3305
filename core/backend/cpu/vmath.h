/* Vectorisable single-precision math for the CPU kernels.
 *
 * glibc's expf/erff/tanhf are scalar calls that stop GCC from vectorising a loop; these are branch-free
 * polynomial forms (Cephes expf and tanhf, Abramowitz–Stegun 7.1.26 erf) that compile to AVX2/FMA inside
 * `#pragma omp simd` loops. Accuracy: exp ~1 ulp, tanh ~2 ulp, erf 1.5e-7 absolute — well inside the
 * tolerances of the PyTorch parity tests. NaN inputs stay NaN so the trainer can detect them. */
#ifndef VISFT_CPU_VMATH_H
#define VISFT_CPU_VMATH_H

#include <stdint.h>
#include <string.h>

static inline float vt_bits_to_f32(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline float vt_expf(float x) {
    float xc = x > 88.3762626647949f ? 88.3762626647949f : x;
    xc = xc < -87.3365447505531f ? -87.3365447505531f : xc;
    xc = x != x ? 0.0f : xc; /* keep the integer conversion below defined for NaN (fixed up at the end) */
    /* round to nearest with the 1.5·2^23 trick: floorf would not vectorise without -fno-trapping-math */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float y = 1.9875691500E-4f;
    y = y * r + 1.3981999507E-3f;
    y = y * r + 8.3334519073E-3f;
    y = y * r + 4.1665795894E-2f;
    y = y * r + 1.6666665459E-1f;
    y = y * r + 5.0000001201E-1f;
    y = y * r * r + r + 1.0f;
    float res = y * vt_bits_to_f32((int32_t)((uint32_t)((int32_t)n + 127) << 23));
    res = x > 88.7228391116729996f ? __builtin_inff() : res;
    res = x < -103.972077083991796f ? 0.0f : res;
    return x != x ? x : res;
}

static inline float vt_tanhf(float x) {
    float ax = x < 0 ? -x : x;
    float z = x * x;
    float small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z + 1.33314422036E-1f) * z -
                   3.33332819422E-1f) * z * x + x;
    float e = vt_expf(2.0f * (ax > 9.0f ? 9.0f : ax));
    float big = 1.0f - 2.0f / (e + 1.0f);
    big = x < 0 ? -big : big;
    return ax < 0.625f ? small : big;
}

static inline float vt_sigmoidf(float x) { return 1.0f / (1.0f + vt_expf(-x)); }

static inline float vt_erff(float x) {
    float ax = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float r = 1.0f - p * vt_expf(-ax * ax);
    return x < 0 ? -r : r;
}

#endif
