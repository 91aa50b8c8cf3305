/* Devices: parsing and naming them, asking a backend whether one is usable, and moving tensors between them
 * (vt_to_device, recorded by autograd so gradients flow back to the source device). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "backend/backend.h"
#include "tensor/internal.h"

int vt_device_count(vt_device_kind kind) {
    if (kind == VT_DEVICE_CPU) return 1;
    const vt_backend *b = vt_backend_of(kind);
    return b && b->mem && b->mem->device_count ? b->mem->device_count() : 0;
}

char *vt_device_str(vt_device d, char *buf, size_t len) {
    if (d.kind == VT_DEVICE_CPU)
        snprintf(buf, len, "cpu");
    else if (d.kind == VT_DEVICE_CUDA)
        snprintf(buf, len, "cuda:%d", d.index);
    else if (d.kind == VT_DEVICE_EMU)
        snprintf(buf, len, "emu:%d", d.index);
    else
        snprintf(buf, len, "device-kind-%d:%d", (int)d.kind, d.index);
    return buf;
}

vt_status vt_device_parse(const char *s, vt_device *out, vt_err *err) {
    if (!s || !out) return vt_err_set(err, VT_EINVAL, "device: NULL argument");
    if (!strcmp(s, "cpu")) {
        *out = vt_cpu();
        return VT_OK;
    }
    if (!strcmp(s, "cuda")) {
        *out = vt_cuda(0);
        return VT_OK;
    }
    if (!strncmp(s, "cuda:", 5) && s[5] >= '0' && s[5] <= '9') {
        char *end;
        errno = 0;
        long v = strtol(s + 5, &end, 10);
        if (!*end && !errno && v >= 0 && v < 1024) {
            *out = vt_cuda((int)v);
            return VT_OK;
        }
    }
    if (!strcmp(s, "emu")) {
        *out = vt_emu(0);
        return VT_OK;
    }
    if (!strncmp(s, "emu:", 4) && s[4] >= '0' && s[4] < '0' + VT_EMU_DEVICES && !s[5]) {
        *out = vt_emu(s[4] - '0');
        return VT_OK;
    }
    return vt_err_set(err, VT_EINVAL,
                      "device: '%s' is not a device (expected cpu, cuda or cuda:N; emu:N for the emulated accelerator, "
                      "N < %d)", s, VT_EMU_DEVICES);
}

vt_status vt_device_check(vt_device d, vt_err *err) {
    char name[32];
    vt_device_str(d, name, sizeof name);
    if (d.kind == VT_DEVICE_CPU) return VT_OK;
    const vt_backend *b = vt_backend_of(d.kind);
    if ((!b || !b->mem) && d.kind == VT_DEVICE_CUDA)
        return vt_err_set(err, VT_EUNSUPPORTED, "device %s: %s", name, vt_cuda_backend_unavailable_reason());
    if (!b || !b->mem) return vt_err_set(err, VT_EUNSUPPORTED, "device %s: this build has no such backend", name);
    int n = b->mem->device_count();
    if (n <= 0) return vt_err_set(err, VT_EUNSUPPORTED, "device %s: no %s device on this machine", name, b->name);
    if (d.index < 0 || d.index >= n)
        return vt_err_set(err, VT_EUNSUPPORTED, "device %s: index out of range (this machine has %d %s device%s)", name,
                          n, b->name, n == 1 ? "" : "s");
    return VT_OK;
}

/* ---- vt_to_device ---- */

static vt_status to_device_backward(vt_ctx *c, vt_node *n, vt_tensor *g, vt_tensor **grad_in) {
    vt_device back = {(vt_device_kind)n->iattr[0], (int)n->iattr[1]};
    vt_no_grad_begin(c);
    grad_in[0] = vt_to_device(c, g, back);
    vt_no_grad_end(c);
    return grad_in[0] ? VT_OK : c->err.code;
}

vt_tensor *vt_to_device(vt_ctx *c, vt_tensor *t, vt_device dev) {
    if (!vt_ctx_ok(c) || !t) return NULL;
    if (vt_device_equal(t->device, dev)) return vt_scope_adopt(c, vt_tensor_retain(t));
    vt_tensor *out = vt_empty_on(c, dev, t->dtype, t->ndim, t->shape);
    if (!out || vt_copy_(c, out, t) != VT_OK) return NULL;
    if (vt_needs_grad(c, 1, &t)) {
        vt_node *n = vt_node_attach(c, out, "to_device", to_device_backward, 1, &t);
        if (!n) return NULL;
        n->iattr[0] = t->device.kind;
        n->iattr[1] = t->device.index;
    }
    return out;
}

/* ---- vt_tensor_move_ ---- */

vt_status vt_tensor_move_(vt_ctx *c, vt_tensor *t, vt_device dev) {
    if (!vt_ctx_ok(c)) return c->err.code;
    if (!t) return vt_ctx_fail(c, VT_EINVAL, "move_: NULL tensor");
    if (vt_device_equal(t->device, dev)) return VT_OK;
    if (t->grad_fn || !vt_is_contiguous(t) || t->offset != 0 || t->storage->refcount != 1)
        return vt_ctx_fail(c, VT_EINVAL, "move_: %s is not a standalone contiguous leaf (a view or shared storage)",
                           t->name ? t->name : "tensor");
    vt_storage *s = vt_storage_new(c, vt_nbytes(t), dev);
    if (!s) return c->err.code;
    vt_tensor *tmp = vt_tensor_view_raw(c, s, t->dtype, t->ndim, t->shape, t->stride, 0);
    vt_storage_release(s); /* tmp holds it */
    if (!tmp) return c->err.code;
    vt_status st = vt_copy_(c, tmp, t);
    if (st == VT_OK) {
        vt_storage *old = t->storage;
        t->storage = tmp->storage;
        t->data = tmp->data;
        t->device = dev;
        tmp->storage = old; /* released with tmp */
        tmp->data = old->base;
        vt_tensor_release(t->grad);
        t->grad = NULL;
    }
    vt_tensor_release(tmp);
    return st;
}

vt_status vt_device_synchronize(vt_ctx *c, vt_device d) {
    if (!vt_ctx_ok(c)) return c->err.code;
    if (d.kind == VT_DEVICE_CPU) return VT_OK;
    const vt_backend *b = vt_backend_of(d.kind);
    if (!b || !b->mem) {
        vt_err e;
        vt_device_check(d, &e);
        return vt_ctx_fail(c, e.code, "%s", e.msg);
    }
    return b->mem->synchronize(c, d.index);
}

/* ---- host byte transfers ---- */

static vt_status bytes_transfer(vt_tensor *t, void *host, bool to_host) {
    if (!t || !vt_is_contiguous(t)) return VT_EINVAL;
    size_t n = vt_nbytes(t);
    if (t->device.kind == VT_DEVICE_CPU) {
        if (to_host)
            memcpy(host, t->data, n);
        else
            memcpy(t->data, host, n);
        return VT_OK;
    }
    vt_ctx *c = t->ctx;
    vt_scope_push(c);
    vt_tensor *h = vt_empty(c, t->dtype, t->ndim, t->shape);
    vt_status st = h ? VT_OK : c->err.code;
    if (st == VT_OK && !to_host) memcpy(h->data, host, n);
    if (st == VT_OK) st = to_host ? vt_copy_(c, h, t) : vt_copy_(c, t, h);
    if (st == VT_OK && to_host) memcpy(host, h->data, n);
    vt_scope_pop(c);
    return st;
}

vt_status vt_tensor_read_bytes(const vt_tensor *t, void *dst) { return bytes_transfer((vt_tensor *)t, dst, true); }
vt_status vt_tensor_write_bytes(vt_tensor *t, const void *src) { return bytes_transfer(t, (void *)src, false); }
