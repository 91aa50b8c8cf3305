/* Tensor and storage lifetimes, creation helpers and simple queries. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "backend/backend.h"
#include "tensor/internal.h"

/* ---- storage ---- */

vt_storage *vt_storage_new(vt_ctx *c, size_t nbytes, vt_device dev) {
    const vt_mem_ops *mem = NULL;
    if (dev.kind != VT_DEVICE_CPU) {
        const vt_backend *b = vt_backend_of(dev.kind);
        vt_err e;
        if ((!b || !b->mem) && vt_device_check(dev, &e) != VT_OK) {
            vt_ctx_fail(c, e.code, "%s", e.msg);
            return NULL;
        }
        mem = b->mem; /* it reports a missing device or index out of range itself */
    }
    vt_storage *s = c->storage_pool;
    if (s)
        c->storage_pool = s->next_free;
    else if (!(s = malloc(sizeof *s))) {
        vt_ctx_fail(c, VT_ENOMEM, "out of memory allocating a storage header");
        return NULL;
    }
    memset(s, 0, sizeof *s);
    if (mem)
        s->base = mem->alloc(c, dev.index, nbytes ? nbytes : 1, &s->capacity);
    else
        s->base = vt_alloc_get(&c->alloc, nbytes ? nbytes : 1, &s->capacity);
    if (!s->base) {
        s->next_free = c->storage_pool;
        c->storage_pool = s;
        if (!mem) vt_ctx_fail(c, VT_ENOMEM, "out of memory allocating %zu bytes of tensor storage", nbytes);
        return NULL;
    }
    s->nbytes = nbytes;
    s->refcount = 1;
    s->device = dev;
    s->ctx = c;
    return s;
}

void vt_storage_retain(vt_storage *s) {
    if (s) s->refcount++;
}

void vt_storage_release(vt_storage *s) {
    if (!s || --s->refcount > 0) return;
    vt_ctx *c = s->ctx;
    if (s->device.kind == VT_DEVICE_CPU)
        vt_alloc_put(&c->alloc, s->base, s->capacity);
    else
        vt_backend_of(s->device.kind)->mem->free(c, s->device.index, s->base, s->capacity);
    s->base = NULL;
    s->next_free = c->storage_pool;
    c->storage_pool = s;
}

/* ---- geometry helpers ---- */

void vt_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t st = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = st;
        st *= shape[i];
    }
}

int64_t vt_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

bool vt_check_shape(vt_ctx *c, const char *op, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > VT_MAX_DIMS) {
        vt_ctx_fail(c, VT_ESHAPE, "%s: %d dimensions (supported: 0..%d)", op, ndim, VT_MAX_DIMS);
        return false;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            vt_ctx_fail(c, VT_ESHAPE, "%s: negative size %" PRId64 " in dimension %d", op, shape[i], i);
            return false;
        }
        if (shape[i] > 0 && n > (INT64_MAX / 16) / shape[i]) {
            vt_ctx_fail(c, VT_ESHAPE, "%s: shape has too many elements (overflow at dimension %d)", op, i);
            return false;
        }
        n *= shape[i];
    }
    return true;
}

/* ---- tensor structs ---- */

vt_tensor *vt_tensor_view_raw(vt_ctx *c, vt_storage *s, vt_dtype dt, int ndim, const int64_t *shape,
                              const int64_t *stride, int64_t offset) {
    vt_tensor *t = c->tensor_pool;
    if (t)
        c->tensor_pool = (vt_tensor *)t->grad;
    else if (!(t = malloc(sizeof *t))) {
        vt_ctx_fail(c, VT_ENOMEM, "out of memory allocating a tensor");
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->stride[i] = stride[i];
    }
    t->offset = offset;
    t->device = s->device;
    t->storage = s;
    vt_storage_retain(s);
    t->data = (char *)s->base + offset * (int64_t)vt_dtype_size(dt);
    t->refcount = 1;
    t->ctx = c;
    return t;
}

static vt_tensor *tensor_new_owned(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape) {
    if (!vt_ctx_ok(c)) return NULL;
    if ((unsigned)dt >= VT_DTYPE_COUNT) {
        vt_ctx_fail(c, VT_EDTYPE, "tensor: invalid dtype %d", (int)dt);
        return NULL;
    }
    if (!vt_check_shape(c, "tensor", ndim, shape)) return NULL;
    int64_t stride[VT_MAX_DIMS];
    vt_contiguous_strides(ndim, shape, stride);
    size_t nbytes = (size_t)vt_shape_numel(ndim, shape) * vt_dtype_size(dt);
    vt_storage *s = vt_storage_new(c, nbytes, dev);
    if (!s) return NULL;
    vt_tensor *t = vt_tensor_view_raw(c, s, dt, ndim, shape, stride, 0);
    vt_storage_release(s);
    return t;
}

/* Zero-fills a fresh contiguous tensor on any device. */
static vt_tensor *zero_fill(vt_ctx *c, vt_tensor *t) {
    if (!t) return NULL;
    if (t->device.kind == VT_DEVICE_CPU) {
        memset(t->data, 0, vt_nbytes(t));
        return t;
    }
    return vt_fill_(c, t, 0.0) == VT_OK ? t : NULL;
}

vt_tensor *vt_empty_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape) {
    return vt_scope_adopt(c, tensor_new_owned(c, dev, dt, ndim, shape));
}
vt_tensor *vt_zeros_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape) {
    return zero_fill(c, vt_empty_on(c, dev, dt, ndim, shape));
}
vt_tensor *vt_full_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape, double value) {
    vt_tensor *t = vt_empty_on(c, dev, dt, ndim, shape);
    if (t && vt_fill_(c, t, value) != VT_OK) return NULL;
    return t;
}
vt_tensor *vt_tensor_create_on(vt_ctx *c, vt_device dev, vt_dtype dt, int ndim, const int64_t *shape) {
    vt_tensor *t = tensor_new_owned(c, dev, dt, ndim, shape);
    if (t && !zero_fill(c, t)) {
        vt_tensor_release(t);
        return NULL;
    }
    return t;
}

vt_tensor *vt_empty(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape) {
    return vt_empty_on(c, vt_cpu(), dt, ndim, shape);
}
vt_tensor *vt_zeros(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape) {
    return vt_zeros_on(c, vt_cpu(), dt, ndim, shape);
}
vt_tensor *vt_full(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape, double value) {
    return vt_full_on(c, vt_cpu(), dt, ndim, shape, value);
}
vt_tensor *vt_empty_like(vt_ctx *c, const vt_tensor *t) {
    return t ? vt_empty_on(c, t->device, t->dtype, t->ndim, t->shape) : NULL;
}
vt_tensor *vt_zeros_like(vt_ctx *c, const vt_tensor *t) {
    return t ? vt_zeros_on(c, t->device, t->dtype, t->ndim, t->shape) : NULL;
}

vt_tensor *vt_from_f32(vt_ctx *c, int ndim, const int64_t *shape, const float *values) {
    vt_tensor *t = vt_empty(c, VT_F32, ndim, shape);
    if (t) memcpy(t->data, values, vt_nbytes(t));
    return t;
}

vt_tensor *vt_from_i64(vt_ctx *c, int ndim, const int64_t *shape, const int64_t *values) {
    vt_tensor *t = vt_empty(c, VT_I64, ndim, shape);
    if (t) memcpy(t->data, values, vt_nbytes(t));
    return t;
}

vt_tensor *vt_scalar(vt_ctx *c, float value) { return vt_from_f32(c, 0, NULL, &value); }

vt_tensor *vt_tensor_create(vt_ctx *c, vt_dtype dt, int ndim, const int64_t *shape) {
    return vt_tensor_create_on(c, vt_cpu(), dt, ndim, shape);
}

vt_tensor *vt_tensor_retain(vt_tensor *t) {
    if (t) t->refcount++;
    return t;
}

void vt_tensor_release(vt_tensor *t) {
    if (!t || --t->refcount > 0) return;
    vt_ctx *c = t->ctx;
    vt_storage_release(t->storage);
    vt_tensor_release(t->grad);
    if (t->grad_fn) vt_node_free(t->grad_fn);
    free(t->name);
    t->grad = (vt_tensor *)c->tensor_pool; /* free-list link */
    c->tensor_pool = t;
}

void vt_tensor_set_name(vt_tensor *t, const char *name) {
    if (!t) return;
    free(t->name);
    t->name = name ? strdup(name) : NULL;
}

vt_tensor *vt_alias(vt_ctx *c, const vt_tensor *t) {
    if (!t) return NULL;
    return vt_scope_adopt(c, vt_tensor_view_raw(c, t->storage, t->dtype, t->ndim, t->shape, t->stride, t->offset));
}

/* ---- queries ---- */

int64_t vt_numel(const vt_tensor *t) { return vt_shape_numel(t->ndim, t->shape); }
size_t vt_nbytes(const vt_tensor *t) { return (size_t)vt_numel(t) * vt_dtype_size(t->dtype); }

bool vt_is_contiguous(const vt_tensor *t) {
    int64_t st = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != st) return false;
        st *= t->shape[i];
    }
    return true;
}

bool vt_same_shape(const vt_tensor *a, const vt_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

char *vt_shape_str(const vt_tensor *t, char *buf, size_t len) {
    size_t p = 0;
    p += (size_t)snprintf(buf + p, len - p, "[");
    for (int i = 0; t && i < t->ndim && p < len; i++)
        p += (size_t)snprintf(buf + p, len - p, i ? ", %" PRId64 : "%" PRId64, t->shape[i]);
    if (p < len) snprintf(buf + p, len - p, "]");
    return buf;
}

float *vt_f32(const vt_tensor *t) {
    return t && t->dtype == VT_F32 && t->device.kind == VT_DEVICE_CPU ? (float *)t->data : NULL;
}
int64_t *vt_i64(const vt_tensor *t) {
    return t && t->dtype == VT_I64 && t->device.kind == VT_DEVICE_CPU ? (int64_t *)t->data : NULL;
}
int32_t *vt_i32(const vt_tensor *t) {
    return t && t->dtype == VT_I32 && t->device.kind == VT_DEVICE_CPU ? (int32_t *)t->data : NULL;
}

static double load_elem(const void *base, vt_dtype dt, int64_t i) {
    switch (dt) {
    case VT_F32: return ((const float *)base)[i];
    case VT_BF16: return vt_bf16_to_f32(((const uint16_t *)base)[i]);
    case VT_F16: return vt_f16_to_f32(((const uint16_t *)base)[i]);
    case VT_I32: return ((const int32_t *)base)[i];
    case VT_I64: return (double)((const int64_t *)base)[i];
    case VT_U8: return ((const uint8_t *)base)[i];
    case VT_BOOL: return ((const uint8_t *)base)[i] != 0;
    default: return 0;
    }
}

static void store_elem(void *base, vt_dtype dt, int64_t i, double v) {
    switch (dt) {
    case VT_F32: ((float *)base)[i] = (float)v; break;
    case VT_BF16: ((uint16_t *)base)[i] = vt_f32_to_bf16((float)v); break;
    case VT_F16: ((uint16_t *)base)[i] = vt_f32_to_f16((float)v); break;
    case VT_I32: ((int32_t *)base)[i] = (int32_t)v; break;
    case VT_I64: ((int64_t *)base)[i] = (int64_t)v; break;
    case VT_U8: ((uint8_t *)base)[i] = (uint8_t)v; break;
    case VT_BOOL: ((uint8_t *)base)[i] = v != 0; break;
    default: break;
    }
}

double vt_item_at(const vt_tensor *t, int64_t i) {
    /* honour strides so this works on views too */
    int64_t off = 0, rem = i;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t idx = rem % t->shape[d];
        rem /= t->shape[d];
        off += idx * t->stride[d];
    }
    if (t->device.kind != VT_DEVICE_CPU) {
        /* one element through the device backend's copy (tests and debugging only: it synchronises) */
        vt_ctx *c = t->ctx;
        double v = NAN;
        vt_scope_push(c);
        vt_tensor *src = vt_scope_adopt(c, vt_tensor_view_raw(c, t->storage, t->dtype, 0, NULL, NULL, t->offset + off));
        vt_tensor *dst = vt_empty(c, t->dtype, 0, NULL);
        if (src && dst && vt_copy_(c, dst, src) == VT_OK) v = load_elem(dst->data, dst->dtype, 0);
        vt_scope_pop(c);
        return v;
    }
    return load_elem(t->data, t->dtype, off);
}

double vt_item(const vt_tensor *t) { return vt_item_at(t, 0); }

/* Iterates a strided tensor in row-major order, calling back with element offsets of dst and src. */
vt_status vt_copy_(vt_ctx *c, vt_tensor *dst, const vt_tensor *src) {
    if (!dst || !src) return vt_ctx_fail(c, VT_EINVAL, "copy_: NULL tensor");
    if (vt_numel(dst) != vt_numel(src)) {
        char a[VT_SHAPE_STR_MAX], b[VT_SHAPE_STR_MAX];
        return vt_ctx_fail(c, VT_ESHAPE, "copy_: destination %s and source %s differ in size",
                           vt_shape_str(dst, a, sizeof a), vt_shape_str(src, b, sizeof b));
    }
    if (dst->device.kind != VT_DEVICE_CPU || src->device.kind != VT_DEVICE_CPU) {
        /* the device side's backend does every copy that involves it (host <-> device, device <-> device) */
        vt_device_kind k = dst->device.kind != VT_DEVICE_CPU ? dst->device.kind : src->device.kind;
        const vt_backend *b = vt_backend_of(k);
        if (!b || !b->mem) return vt_ctx_fail(c, VT_EUNSUPPORTED, "copy_: no backend for device kind %d", (int)k);
        if (dst->device.kind != VT_DEVICE_CPU && src->device.kind != VT_DEVICE_CPU && dst->device.kind != src->device.kind)
            return vt_ctx_fail(c, VT_EUNSUPPORTED, "copy_: between two different accelerator kinds");
        return b->mem->copy(c, dst, src);
    }
    int64_t n = vt_numel(dst);
    if (dst->dtype == src->dtype && vt_is_contiguous(dst) && vt_is_contiguous(src)) {
        memmove(dst->data, src->data, vt_nbytes(dst));
        return VT_OK;
    }
    if (dst->dtype == VT_F32 && src->dtype == VT_F32 && vt_is_contiguous(dst)) {
        /* strided f32 gather: the common `contiguous()` case, parallel over the outer index */
        float *d = (float *)dst->data;
        const float *s = (const float *)src->data;
        int nd = src->ndim;
        int64_t inner = nd ? src->shape[nd - 1] : 1, ist = nd ? src->stride[nd - 1] : 1;
        int64_t outer = inner ? n / inner : 0;
#pragma omp parallel for num_threads(c->threads) if (n > 32768)
        for (int64_t o = 0; o < outer; o++) {
            int64_t off = 0, rem = o;
            for (int k = nd - 2; k >= 0; k--) {
                off += (rem % src->shape[k]) * src->stride[k];
                rem /= src->shape[k];
            }
            const float *sp = s + off;
            float *dp = d + o * inner;
            for (int64_t j = 0; j < inner; j++) dp[j] = sp[j * ist];
        }
        return VT_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, doff = 0, soff = 0;
        for (int k = dst->ndim - 1; k >= 0; k--) {
            doff += (rem % dst->shape[k]) * dst->stride[k];
            rem /= dst->shape[k];
        }
        rem = i;
        for (int k = src->ndim - 1; k >= 0; k--) {
            soff += (rem % src->shape[k]) * src->stride[k];
            rem /= src->shape[k];
        }
        store_elem(dst->data, dst->dtype, doff, load_elem(src->data, src->dtype, soff));
    }
    return VT_OK;
}

vt_status vt_fill_(vt_ctx *c, vt_tensor *t, double value) {
    if (!t) return vt_ctx_fail(c, VT_EINVAL, "fill_: NULL tensor");
    if (t->device.kind != VT_DEVICE_CPU) {
        const vt_backend *b = vt_backend_of(t->device.kind);
        if (!b || !b->mem) return vt_ctx_fail(c, VT_EUNSUPPORTED, "fill_: no backend for device kind %d", (int)t->device.kind);
        return b->mem->fill(c, t, value);
    }
    int64_t n = vt_numel(t);
    if (t->dtype == VT_F32 && vt_is_contiguous(t)) {
        float *d = (float *)t->data, v = (float)value;
        for (int64_t i = 0; i < n; i++) d[i] = v;
        return VT_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, off = 0;
        for (int k = t->ndim - 1; k >= 0; k--) {
            off += (rem % t->shape[k]) * t->stride[k];
            rem /= t->shape[k];
        }
        store_elem(t->data, t->dtype, off, value);
    }
    return VT_OK;
}
