/* The trainer on an accelerator (run.device): the backbone's and the heads' parameters move there once after
 * they are built (initialisation and checkpoint loading happen on the host, so a run is the same on every
 * device up to kernel rounding); each batch is copied there before the step; what benchmarks receive (pooled
 * features, predictions) comes back to the host, where the benchmark plugins compute. */
#include <stdlib.h>
#include <string.h>

#include "train/trainer_internal.h"

static vt_status move_list(vt_trainer *t, const char *what, vt_tensor *const *ts, const char *const *names, size_t n,
                           vt_err *err) {
    for (size_t i = 0; i < n; i++)
        if (ts[i] && vt_tensor_move_(t->c, ts[i], t->dev) != VT_OK)
            return vt_err_set(err, vt_ctx_error(t->c)->code, "trainer: moving %s '%s' to run.device: %s", what,
                              names[i] ? names[i] : "?", vt_ctx_error(t->c)->msg);
    return VT_OK;
}

vt_status vt_trainer_to_device(vt_trainer *t, vt_err *err) {
    if (t->dev.kind == VT_DEVICE_CPU) return VT_OK;
    for (size_t i = 0; i < t->vit->params.n; i++) {
        vt_tensor_list_item *it = &t->vit->params.items[i];
        vt_status st = move_list(t, "backbone parameter", &it->tensor, (const char *const *)&it->name, 1, err);
        if (st != VT_OK) return st;
    }
    for (size_t h = 0; h < t->n_heads; h++) {
        vt_named_tensors ps = {0};
        vt_status st = t->heads[h].vt->parameters(t->heads[h].self, &ps, err);
        if (st != VT_OK) return vt_err_prefix(err, "tasks.%s.head", t->heads[h].task->name);
        for (size_t i = 0; i < ps.n && st == VT_OK; i++)
            st = move_list(t, "head parameter", &ps.items[i].tensor, &ps.items[i].name, 1, err);
        if (st != VT_OK) return st;
    }
    char dn[32];
    vt_trainer_logf(t, "device %s: backbone and heads moved", vt_device_str(t->dev, dn, sizeof dn));
    return VT_OK;
}

static vt_status reserve_items(vt_trainer *t, size_t n, vt_err *err) {
    if (n <= t->dev_items_cap) return VT_OK;
    vt_named_tensor *p = realloc(t->dev_items, n * sizeof *p);
    if (!p) return vt_err_set(err, VT_ENOMEM, "trainer: out of memory");
    t->dev_items = p;
    t->dev_items_cap = n;
    return VT_OK;
}

vt_tensor *vt_trainer_input_to_device(vt_trainer *t, vt_ctx *ctx, vt_tensor *x) {
    if (!x || vt_device_equal(x->device, t->dev)) return x;
    vt_no_grad_begin(ctx);
    vt_tensor *y = vt_to_device(ctx, x, t->dev);
    vt_no_grad_end(ctx);
    return y;
}

vt_tensor *vt_trainer_to_host(vt_ctx *ctx, vt_tensor *x) {
    if (!x || x->device.kind == VT_DEVICE_CPU) return x;
    vt_no_grad_begin(ctx);
    vt_tensor *y = vt_to_device(ctx, x, vt_cpu());
    vt_no_grad_end(ctx);
    return y;
}

vt_status vt_trainer_device_batch(vt_trainer *t, const vt_batch *b, vt_batch *out, vt_err *err) {
    *out = *b;
    if (t->dev.kind == VT_DEVICE_CPU) return VT_OK;
    if (reserve_items(t, b->targets.n, err) != VT_OK) return err->code;
    out->images = vt_trainer_input_to_device(t, t->c, b->images);
    out->pad_mask = vt_trainer_input_to_device(t, t->c, b->pad_mask);
    for (size_t i = 0; i < b->targets.n; i++) {
        t->dev_items[i] = b->targets.items[i];
        t->dev_items[i].tensor = vt_trainer_input_to_device(t, t->c, b->targets.items[i].tensor);
    }
    out->targets.items = t->dev_items;
    if (!vt_ctx_ok(t->c))
        return vt_err_set(err, vt_ctx_error(t->c)->code, "trainer: batch to run.device: %s", vt_ctx_error(t->c)->msg);
    return VT_OK;
}

vt_status vt_trainer_outputs_to_host(vt_trainer *t, vt_ctx *ctx, vt_named_tensors *outputs, vt_err *err) {
    if (t->dev.kind == VT_DEVICE_CPU) return VT_OK;
    if (reserve_items(t, outputs->n, err) != VT_OK) return err->code;
    for (size_t i = 0; i < outputs->n; i++) {
        t->dev_items[i] = outputs->items[i];
        t->dev_items[i].tensor = vt_trainer_to_host(ctx, outputs->items[i].tensor);
        if (outputs->items[i].tensor && !t->dev_items[i].tensor)
            return vt_err_set(err, vt_ctx_error(ctx)->code, "predict: outputs to the host: %s", vt_ctx_error(ctx)->msg);
    }
    outputs->items = t->dev_items;
    return VT_OK;
}
