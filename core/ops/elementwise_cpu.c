/* CPU kernels of the elementwise family: OpenMP over chunks, `omp simd` inner loops using vmath.h so the
 * transcendental ops vectorise too. */
#include <math.h>

#include "backend/cpu/vmath.h"
#include "ops/elementwise_kernels.h"

#define PAR_THRESHOLD 32768 /* below this, threading costs more than it saves */

static inline float unary_f(vt_unary_op op, float x, float p0, float p1) {
    switch (op) {
    case VT_UN_NEG: return -x;
    case VT_UN_EXP: return vt_expf(x);
    case VT_UN_LOG: return logf(x);
    case VT_UN_SQRT: return sqrtf(x);
    case VT_UN_RSQRT: return 1.0f / sqrtf(x);
    case VT_UN_ABS: return fabsf(x);
    case VT_UN_CLAMP: return x < p0 ? p0 : (x > p1 ? p1 : x);
    case VT_UN_TANH: return vt_tanhf(x);
    case VT_UN_SIGMOID: return vt_sigmoidf(x);
    case VT_UN_RELU: return x > 0 ? x : 0.0f;
    case VT_UN_GELU: return 0.5f * x * (1.0f + vt_erff(x * 0.70710678118654752f));
    case VT_UN_GELU_TANH: {
        float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.0f + vt_tanhf(inner));
    }
    case VT_UN_QUICK_GELU: return x * vt_sigmoidf(1.702f * x);
    case VT_UN_SILU: return x * vt_sigmoidf(x);
    case VT_UN_ADD_S: return x + p0;
    case VT_UN_MUL_S: return x * p0;
    case VT_UN_RSUB_S: return p0 - x;
    case VT_UN_RDIV_S: return p0 / x;
    case VT_UN_POW_S: return powf(x, p0);
    default: return 0.0f;
    }
}

/* d f(x) / dx, given x and y = f(x). */
static inline float unary_df(vt_unary_op op, float x, float y, float p0, float p1) {
    switch (op) {
    case VT_UN_NEG: return -1.0f;
    case VT_UN_EXP: return y;
    case VT_UN_LOG: return 1.0f / x;
    case VT_UN_SQRT: return 0.5f / y;
    case VT_UN_RSQRT: return -0.5f * y * y * y;
    case VT_UN_ABS: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case VT_UN_CLAMP: return (x >= p0 && x <= p1) ? 1.0f : 0.0f;
    case VT_UN_TANH: return 1.0f - y * y;
    case VT_UN_SIGMOID: return y * (1.0f - y);
    case VT_UN_RELU: return x > 0 ? 1.0f : 0.0f;
    case VT_UN_GELU: {
        /* Φ(x) + x·φ(x); erf(x/√2) in the A&S form needs exp(-x²/2), the same exponential as φ */
        float z = x * 0.70710678118654752f, az = z < 0 ? -z : z;
        float t = 1.0f / (1.0f + 0.3275911f * az);
        float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
        float e = vt_expf(-0.5f * x * x);
        float erf_abs = 1.0f - p * e;
        float cdf = 0.5f * (1.0f + (z < 0 ? -erf_abs : erf_abs));
        return cdf + x * 0.39894228040143268f * e;
    }
    case VT_UN_GELU_TANH: {
        float x2 = x * x;
        float inner = 0.79788456080286536f * (x + 0.044715f * x2 * x);
        float t = vt_tanhf(inner);
        float dinner = 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x2);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner;
    }
    case VT_UN_QUICK_GELU: {
        float s = vt_sigmoidf(1.702f * x);
        return s + 1.702f * x * s * (1.0f - s);
    }
    case VT_UN_SILU: {
        float s = vt_sigmoidf(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case VT_UN_ADD_S: return 1.0f;
    case VT_UN_MUL_S: return p0;
    case VT_UN_RSUB_S: return -1.0f;
    case VT_UN_RDIV_S: return -p0 / (x * x);
    case VT_UN_POW_S: return p0 == 0.0f ? 0.0f : p0 * powf(x, p0 - 1.0f);
    default: return 0.0f;
    }
}

/* One instantiation per op so the switch folds away and each loop vectorises on its own. */
#define UNARY_CASE(OP)                                                                  \
    case OP:                                                                            \
        _Pragma("omp parallel for simd num_threads(nt) if (n > PAR_THRESHOLD)") \
        for (int64_t i = 0; i < n; i++) y[i] = unary_f(OP, x[i], a, b);                 \
        break;

static void cpu_unary(vt_ctx *c, vt_unary_op op, const float *x, float *y, int64_t n, double p0, double p1) {
    const float a = (float)p0, b = (float)p1;
    const int nt = vt_ctx_threads(c);
    switch (op) {
        UNARY_CASE(VT_UN_NEG) UNARY_CASE(VT_UN_EXP) UNARY_CASE(VT_UN_LOG) UNARY_CASE(VT_UN_SQRT)
        UNARY_CASE(VT_UN_RSQRT) UNARY_CASE(VT_UN_ABS) UNARY_CASE(VT_UN_CLAMP) UNARY_CASE(VT_UN_TANH)
        UNARY_CASE(VT_UN_SIGMOID) UNARY_CASE(VT_UN_RELU) UNARY_CASE(VT_UN_GELU) UNARY_CASE(VT_UN_GELU_TANH)
        UNARY_CASE(VT_UN_QUICK_GELU) UNARY_CASE(VT_UN_SILU) UNARY_CASE(VT_UN_ADD_S) UNARY_CASE(VT_UN_MUL_S)
        UNARY_CASE(VT_UN_RSUB_S) UNARY_CASE(VT_UN_RDIV_S) UNARY_CASE(VT_UN_POW_S)
    default: break;
    }
}

#define UNARY_BWD_CASE(OP)                                                                          \
    case OP:                                                                                        \
        _Pragma("omp parallel for simd num_threads(nt) if (n > PAR_THRESHOLD)")             \
        for (int64_t i = 0; i < n; i++) gx[i] = gy[i] * unary_df(OP, xs[i], ys[i], a, b);             \
        break;

static void cpu_unary_backward(vt_ctx *c, vt_unary_op op, const float *x, const float *y, const float *gy, float *gx,
                               int64_t n, double p0, double p1) {
    const float a = (float)p0, b = (float)p1;
    /* ops that need only one of x, y get gy in the other's place: a per-element NULL test stops vectorisation */
    const float *xs = x ? x : gy, *ys = y ? y : gy;
    const int nt = vt_ctx_threads(c);
    switch (op) {
        UNARY_BWD_CASE(VT_UN_NEG) UNARY_BWD_CASE(VT_UN_EXP) UNARY_BWD_CASE(VT_UN_LOG) UNARY_BWD_CASE(VT_UN_SQRT)
        UNARY_BWD_CASE(VT_UN_RSQRT) UNARY_BWD_CASE(VT_UN_ABS) UNARY_BWD_CASE(VT_UN_CLAMP)
        UNARY_BWD_CASE(VT_UN_TANH) UNARY_BWD_CASE(VT_UN_SIGMOID) UNARY_BWD_CASE(VT_UN_RELU)
        UNARY_BWD_CASE(VT_UN_GELU) UNARY_BWD_CASE(VT_UN_GELU_TANH) UNARY_BWD_CASE(VT_UN_QUICK_GELU)
        UNARY_BWD_CASE(VT_UN_SILU) UNARY_BWD_CASE(VT_UN_ADD_S) UNARY_BWD_CASE(VT_UN_MUL_S)
        UNARY_BWD_CASE(VT_UN_RSUB_S) UNARY_BWD_CASE(VT_UN_RDIV_S) UNARY_BWD_CASE(VT_UN_POW_S)
    default: break;
    }
}

static inline float binary_f(vt_binary_op op, float a, float b) {
    switch (op) {
    case VT_BIN_ADD: return a + b;
    case VT_BIN_SUB: return a - b;
    case VT_BIN_MUL: return a * b;
    case VT_BIN_DIV: return a / b;
    }
    return 0.0f;
}

/* Inner row: out[j] = a[j*sa] ∘ b[j*sb], with the common stride patterns specialised for vectorisation. */
static inline void binary_row(vt_binary_op op, const float *a, int64_t sa, const float *b, int64_t sb, float *o,
                              int64_t n) {
    if (sa == 1 && sb == 1) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) o[j] = binary_f(op, a[j], b[j]);
    } else if (sa == 1 && sb == 0) {
        const float bv = b[0];
#pragma omp simd
        for (int64_t j = 0; j < n; j++) o[j] = binary_f(op, a[j], bv);
    } else if (sa == 0 && sb == 1) {
        const float av = a[0];
#pragma omp simd
        for (int64_t j = 0; j < n; j++) o[j] = binary_f(op, av, b[j]);
    } else {
        for (int64_t j = 0; j < n; j++) o[j] = binary_f(op, a[j * sa], b[j * sb]);
    }
}

static void cpu_binary(vt_ctx *c, vt_binary_op op, const vt_tensor *a, const vt_tensor *b, vt_tensor *out) {
    const int nd = out->ndim;
    const float *pa = (const float *)a->data, *pb = (const float *)b->data;
    float *po = (float *)out->data;
    const int64_t total = vt_numel(out);
    if (nd == 0 || total == 0) {
        if (total) po[0] = binary_f(op, pa[0], pb[0]);
        return;
    }
    const int64_t inner = out->shape[nd - 1];
    const int64_t rows = total / inner;
    const int64_t sa = a->stride[nd - 1], sb = b->stride[nd - 1];
#pragma omp parallel for num_threads(vt_ctx_threads(c)) if (total > PAR_THRESHOLD)
    for (int64_t r = 0; r < rows; r++) {
        int64_t oa = 0, ob = 0, rem = r;
        for (int k = nd - 2; k >= 0; k--) {
            int64_t idx = rem % out->shape[k];
            rem /= out->shape[k];
            oa += idx * a->stride[k];
            ob += idx * b->stride[k];
        }
        binary_row(op, pa + oa, sa, pb + ob, sb, po + r * inner, inner);
    }
}

const vt_elementwise_kernels vt_cpu_elementwise_kernels = {
    .size = sizeof(vt_elementwise_kernels),
    .unary = cpu_unary,
    .unary_backward = cpu_unary_backward,
    .binary = cpu_binary,
};
