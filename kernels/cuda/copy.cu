// Device-side copies and fills over strided tensors of any dtype: what vt_copy_ and vt_fill_ need when the
// data lives on a GPU. Conversions go through double like the CPU's load_elem/store_elem (core/tensor/
// tensor.c); a same-dtype copy moves the bits, so i64 values beyond 2^53 survive.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "copy.h"

namespace {

struct geom {
    int ndim;
    long long shape[VT_MAX_DIMS];
    long long stride[VT_MAX_DIMS];
};

geom make_geom(const vt_tensor *t) {
    geom g;
    g.ndim = t->ndim;
    for (int i = 0; i < VT_MAX_DIMS; i++) {
        g.shape[i] = i < t->ndim ? t->shape[i] : 1;
        g.stride[i] = i < t->ndim ? t->stride[i] : 0;
    }
    return g;
}

// Element offset of row-major index i.
__device__ long long offset_of(const geom &g, long long i) {
    long long off = 0;
    for (int d = g.ndim - 1; d >= 0; d--) {
        long long idx = i % g.shape[d];
        i /= g.shape[d];
        off += idx * g.stride[d];
    }
    return off;
}

__device__ double load(const void *base, int dt, long long i) {
    switch (dt) {
    case VT_F32: return ((const float *)base)[i];
    case VT_BF16: return __bfloat162float(((const __nv_bfloat16 *)base)[i]);
    case VT_F16: return __half2float(((const __half *)base)[i]);
    case VT_I32: return ((const int *)base)[i];
    case VT_I64: return (double)((const long long *)base)[i];
    case VT_U8: return ((const unsigned char *)base)[i];
    case VT_BOOL: return ((const unsigned char *)base)[i] != 0;
    default: return 0;
    }
}

__device__ void store(void *base, int dt, long long i, double v) {
    switch (dt) {
    case VT_F32: ((float *)base)[i] = (float)v; break;
    case VT_BF16: ((__nv_bfloat16 *)base)[i] = __float2bfloat16_rn((float)v); break;
    case VT_F16: ((__half *)base)[i] = __float2half_rn((float)v); break;
    case VT_I32: ((int *)base)[i] = (int)v; break;
    case VT_I64: ((long long *)base)[i] = (long long)v; break;
    case VT_U8: ((unsigned char *)base)[i] = (unsigned char)v; break;
    case VT_BOOL: ((unsigned char *)base)[i] = v != 0; break;
    default: break;
    }
}

// Same dtype: copy elem-byte items without conversion.
template <typename T>
__global__ void copy_same(T *dst, geom gd, const T *src, geom gs, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[offset_of(gd, i)] = src[offset_of(gs, i)];
}

__global__ void copy_convert(void *dst, int ddt, geom gd, const void *src, int sdt, geom gs, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        store(dst, ddt, offset_of(gd, i), load(src, sdt, offset_of(gs, i)));
}

__global__ void fill_kernel(void *dst, int dt, geom g, double v, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        store(dst, dt, offset_of(g, i), v);
}

long long numel(const vt_tensor *t) {
    long long n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

}  // namespace

extern "C" vt_status vt_cuda_copy_on_device(vt_ctx *c, vt_tensor *dst, const vt_tensor *src) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s) return vt_ctx_error(c)->code;
    long long n = numel(dst);
    if (n == 0) return VT_OK;
    geom gd = make_geom(dst), gs = make_geom(src);
    unsigned threads = 256, blocks = vt_cuda_blocks(n, threads);
    if (dst->dtype == src->dtype) {
        switch (vt_dtype_size(dst->dtype)) {
        case 1: copy_same<unsigned char><<<blocks, threads, 0, s->stream>>>((unsigned char *)dst->data, gd,
                                                                           (const unsigned char *)src->data, gs, n); break;
        case 2: copy_same<unsigned short><<<blocks, threads, 0, s->stream>>>((unsigned short *)dst->data, gd,
                                                                            (const unsigned short *)src->data, gs, n); break;
        case 4: copy_same<unsigned int><<<blocks, threads, 0, s->stream>>>((unsigned int *)dst->data, gd,
                                                                          (const unsigned int *)src->data, gs, n); break;
        default: copy_same<unsigned long long><<<blocks, threads, 0, s->stream>>>(
                     (unsigned long long *)dst->data, gd, (const unsigned long long *)src->data, gs, n); break;
        }
    } else {
        copy_convert<<<blocks, threads, 0, s->stream>>>(dst->data, (int)dst->dtype, gd, src->data, (int)src->dtype, gs, n);
    }
    return vt_cuda_launched(c, "copy_") ? VT_OK : vt_ctx_error(c)->code;
}

extern "C" vt_status vt_cuda_fill_on_device(vt_ctx *c, vt_tensor *t, double value) {
    vt_cuda_state *s = vt_cuda_current(c);
    if (!s) return vt_ctx_error(c)->code;
    long long n = numel(t);
    if (n == 0) return VT_OK;
    if (value == 0.0 && !signbit(value) && vt_is_contiguous(t)) {
        // all-zero bits are +0 in every dtype (-0.0 must keep its sign bit in the float dtypes, as on the CPU)
        return vt_cuda_ok(c, cudaMemsetAsync(t->data, 0, (size_t)n * vt_dtype_size(t->dtype), s->stream), "fill_")
                   ? VT_OK : vt_ctx_error(c)->code;
    }
    unsigned threads = 256;
    fill_kernel<<<vt_cuda_blocks(n, threads), threads, 0, s->stream>>>(t->data, (int)t->dtype, make_geom(t), value, n);
    return vt_cuda_launched(c, "fill_") ? VT_OK : vt_ctx_error(c)->code;
}
