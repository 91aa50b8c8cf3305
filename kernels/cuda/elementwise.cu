/* CUDA kernels of the elementwise family (the CPU twin is core/ops/elementwise_cpu.c, the specification).
 *
 * unary / unary_backward: one grid-stride kernel per op (a template parameter, so the switch folds away),
 * with the CPU's formulas; the CPU's polynomial expf/tanhf/erff (vmath.h) become CUDA's expf/tanhf/erff,
 * which are at least as accurate. binary: the broadcast views are first simplified on the host (size-1 dims
 * dropped, dims that are contiguous in a and b alike merged), so the common cases (same shape, bias add,
 * scalar) reach the kernel as one or two dims; fully contiguous operands get a flat kernel. */
#include <stdint.h>

#include "cuda_state.h"
#include "ops/elementwise_kernels.h"

#define EW_THREADS 256

/* ---- unary ---- */

static __device__ __forceinline__ float sigmoid_f(float x) {
    return 1.0f / (1.0f + expf(-x));
}

template <vt_unary_op OP> static __device__ __forceinline__ float unary_f(float x, float p0, float p1) {
    switch (OP) {
    case VT_UN_NEG: return -x;
    case VT_UN_EXP: return expf(x);
    case VT_UN_LOG: return logf(x);
    case VT_UN_SQRT: return sqrtf(x);
    case VT_UN_RSQRT: return 1.0f / sqrtf(x); /* not rsqrtf: that one is approximate */
    case VT_UN_ABS: return fabsf(x);
    case VT_UN_CLAMP: return x < p0 ? p0 : (x > p1 ? p1 : x); /* NaN passes through, as on the CPU */
    case VT_UN_TANH: return tanhf(x);
    case VT_UN_SIGMOID: return sigmoid_f(x);
    case VT_UN_RELU: return x > 0 ? x : 0.0f;
    case VT_UN_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case VT_UN_GELU_TANH: {
        float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1.0f + tanhf(inner));
    }
    case VT_UN_QUICK_GELU: return x * sigmoid_f(1.702f * x);
    case VT_UN_SILU: return x * sigmoid_f(x);
    case VT_UN_ADD_S: return x + p0;
    case VT_UN_MUL_S: return x * p0;
    case VT_UN_RSUB_S: return p0 - x;
    case VT_UN_RDIV_S: return p0 / x;
    case VT_UN_POW_S: return powf(x, p0);
    default: return 0.0f;
    }
}

/* d f(x) / dx, given x and y = f(x). */
template <vt_unary_op OP> static __device__ __forceinline__ float unary_df(float x, float y, float p0, float p1) {
    switch (OP) {
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
        /* Φ(x) + x·φ(x); the CPU evaluates erf by A&S 7.1.26, here erff itself */
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        return cdf + x * 0.39894228040143268f * expf(-0.5f * x * x);
    }
    case VT_UN_GELU_TANH: {
        float x2 = x * x;
        float inner = 0.79788456080286536f * (x + 0.044715f * x2 * x);
        float t = tanhf(inner);
        float dinner = 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x2);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner;
    }
    case VT_UN_QUICK_GELU: {
        float s = sigmoid_f(1.702f * x);
        return s + 1.702f * x * s * (1.0f - s);
    }
    case VT_UN_SILU: {
        float s = sigmoid_f(x);
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

/* x and y may be the same buffer (in-place ops such as the gradient clip's rescale). */
template <vt_unary_op OP>
static __global__ void unary_kernel(const float *x, float *y, int64_t n, float p0, float p1) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) y[i] = unary_f<OP>(x[i], p0, p1);
}

template <vt_unary_op OP>
static __global__ void unary_backward_kernel(const float *x, const float *y, const float *gy, float *gx, int64_t n,
                                             float p0, float p1) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
        gx[i] = gy[i] * unary_df<OP>(x[i], y[i], p0, p1);
}

template <vt_unary_op OP>
static void launch_unary(vt_ctx *c, cudaStream_t st, const float *x, float *y, int64_t n, float a, float b) {
    unary_kernel<OP><<<vt_cuda_blocks(n, EW_THREADS), EW_THREADS, 0, st>>>(x, y, n, a, b);
    vt_cuda_launched(c, "elementwise unary");
}

template <vt_unary_op OP>
static void launch_unary_backward(vt_ctx *c, cudaStream_t st, const float *x, const float *y, const float *gy,
                                  float *gx, int64_t n, float a, float b) {
    unary_backward_kernel<OP><<<vt_cuda_blocks(n, EW_THREADS), EW_THREADS, 0, st>>>(x, y, gy, gx, n, a, b);
    vt_cuda_launched(c, "elementwise unary_backward");
}

#define UNARY_CASE(OP) \
    case OP: launch_unary<OP>(c, s->stream, x, y, n, a, b); break;

static void cuda_unary(vt_ctx *c, vt_unary_op op, const float *x, float *y, int64_t n, double p0, double p1) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    const float a = (float)p0, b = (float)p1; /* the CPU rounds the scalars to float too */
    switch (op) {
        UNARY_CASE(VT_UN_NEG) UNARY_CASE(VT_UN_EXP) UNARY_CASE(VT_UN_LOG) UNARY_CASE(VT_UN_SQRT)
        UNARY_CASE(VT_UN_RSQRT) UNARY_CASE(VT_UN_ABS) UNARY_CASE(VT_UN_CLAMP) UNARY_CASE(VT_UN_TANH)
        UNARY_CASE(VT_UN_SIGMOID) UNARY_CASE(VT_UN_RELU) UNARY_CASE(VT_UN_GELU) UNARY_CASE(VT_UN_GELU_TANH)
        UNARY_CASE(VT_UN_QUICK_GELU) UNARY_CASE(VT_UN_SILU) UNARY_CASE(VT_UN_ADD_S) UNARY_CASE(VT_UN_MUL_S)
        UNARY_CASE(VT_UN_RSUB_S) UNARY_CASE(VT_UN_RDIV_S) UNARY_CASE(VT_UN_POW_S)
    default: break;
    }
}

#define UNARY_BWD_CASE(OP) \
    case OP: launch_unary_backward<OP>(c, s->stream, xs, ys, gy, gx, n, a, b); break;

static void cuda_unary_backward(vt_ctx *c, vt_unary_op op, const float *x, const float *y, const float *gy,
                                float *gx, int64_t n, double p0, double p1) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s || n <= 0) return;
    const float a = (float)p0, b = (float)p1;
    /* ops that need only one of x, y get gy in the other's place (never read), as on the CPU */
    const float *xs = x ? x : gy, *ys = y ? y : gy;
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

/* ---- binary ---- */

#define EW_MAX_DIMS 8

/* Shapes and strides of a broadcast pair, passed to the kernel by value. out is contiguous in `shape`. */
typedef struct bin_geom {
    int ndim;
    int64_t shape[EW_MAX_DIMS];
    int64_t sa[EW_MAX_DIMS], sb[EW_MAX_DIMS];
} bin_geom;

template <vt_binary_op OP> static __device__ __forceinline__ float binary_f(float a, float b) {
    switch (OP) {
    case VT_BIN_ADD: return a + b;
    case VT_BIN_SUB: return a - b;
    case VT_BIN_MUL: return a * b;
    case VT_BIN_DIV: return a / b;
    }
    return 0.0f;
}

/* a, b and out all contiguous with the same number of elements. */
template <vt_binary_op OP>
static __global__ void binary_flat_kernel(const float *a, const float *b, float *out, int64_t n) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
        out[i] = binary_f<OP>(a[i], b[i]);
}

/* General strided case: the output index is unravelled over g.shape (innermost last). */
template <vt_binary_op OP>
static __global__ void binary_strided_kernel(const float *a, const float *b, float *out, int64_t n, bin_geom g) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        int64_t rem = i, oa = 0, ob = 0;
        for (int k = g.ndim - 1; k >= 0; k--) {
            const int64_t idx = rem % g.shape[k];
            rem /= g.shape[k];
            oa += idx * g.sa[k];
            ob += idx * g.sb[k];
        }
        out[i] = binary_f<OP>(a[oa], b[ob]);
    }
}

/* Drops size-1 dims and merges a dim into the one outside it when both operands step through the pair as
 * through one dim (stride_outer == stride_inner · shape_inner for a and for b; this covers broadcast dims,
 * whose strides are 0 in both). The output is contiguous, so it always merges. */
static void simplify_geom(const vt_tensor *a, const vt_tensor *b, const vt_tensor *out, bin_geom *g) {
    g->ndim = 0;
    for (int k = 0; k < out->ndim; k++) {
        const int64_t sz = out->shape[k];
        if (sz == 1) continue;
        const int64_t sa = a->stride[k], sb = b->stride[k];
        const int d = g->ndim;
        if (d > 0 && g->sa[d - 1] == sa * sz && g->sb[d - 1] == sb * sz) {
            g->shape[d - 1] *= sz;
            g->sa[d - 1] = sa;
            g->sb[d - 1] = sb;
            continue;
        }
        g->shape[d] = sz;
        g->sa[d] = sa;
        g->sb[d] = sb;
        g->ndim = d + 1;
    }
}

template <vt_binary_op OP>
static void launch_binary(vt_ctx *c, cudaStream_t st, const float *a, const float *b, float *o, int64_t n,
                          const bin_geom *g) {
    const unsigned blocks = vt_cuda_blocks(n, EW_THREADS);
    const bool flat = g->ndim == 0 || (g->ndim == 1 && g->sa[0] == 1 && g->sb[0] == 1);
    if (flat)
        binary_flat_kernel<OP><<<blocks, EW_THREADS, 0, st>>>(a, b, o, n);
    else
        binary_strided_kernel<OP><<<blocks, EW_THREADS, 0, st>>>(a, b, o, n, *g);
    vt_cuda_launched(c, "elementwise binary");
}

static void cuda_binary(vt_ctx *c, vt_binary_op op, const vt_tensor *a, const vt_tensor *b, vt_tensor *out) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s) return;
    int64_t n = 1;
    for (int k = 0; k < out->ndim; k++) n *= out->shape[k];
    if (n <= 0) return;
    bin_geom g;
    simplify_geom(a, b, out, &g);
    const float *pa = (const float *)a->data, *pb = (const float *)b->data;
    float *po = (float *)out->data;
    switch (op) {
    case VT_BIN_ADD: launch_binary<VT_BIN_ADD>(c, s->stream, pa, pb, po, n, &g); break;
    case VT_BIN_SUB: launch_binary<VT_BIN_SUB>(c, s->stream, pa, pb, po, n, &g); break;
    case VT_BIN_MUL: launch_binary<VT_BIN_MUL>(c, s->stream, pa, pb, po, n, &g); break;
    case VT_BIN_DIV: launch_binary<VT_BIN_DIV>(c, s->stream, pa, pb, po, n, &g); break;
    }
}

extern "C" const vt_elementwise_kernels vt_cuda_elementwise_kernels = {
    sizeof(vt_elementwise_kernels),
    cuda_unary,
    cuda_unary_backward,
    cuda_binary,
};
