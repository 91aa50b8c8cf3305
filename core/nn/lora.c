/* LoRA (Hu et al. 2021) on a linear layer whose output is split into equal slices, any subset of which gets
 * an adapter — ViSFT puts rank-64 adapters on the q and v slices of the fused qkv projection (k untouched).
 *
 * Forward adds scaling·B_s(A_s x) to slice s of the base output through the fused vt_lora_linear op. A is Kaiming-uniform (a = √5, as PEFT/loralib), B zero, so a fresh adapter is exact
 * identity. merge/unmerge fold the update into the base weight for inference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visft/nn.h"
#include "visft/ops.h"

static void kaiming_uniform(vt_tensor *t, int64_t fan_in, uint64_t seed) {
    /* kaiming_uniform_(a=√5): bound = gain·√(3/fan_in), gain = √(2/(1+a²)) = √(1/3) -> bound = 1/√fan_in */
    double bound = 1.0 / sqrt((double)fan_in);
    float *p = vt_f32(t);
    uint64_t s = seed;
    for (int64_t i = 0; i < vt_numel(t); i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0;
        p[i] = (float)((2.0 * u - 1.0) * bound);
    }
}

vt_lora *vt_lora_create(vt_ctx *c, const vt_lora_config *cfg, int64_t in_features, int64_t out_features, vt_err *err) {
    if (cfg->rank <= 0 || cfg->n_slices <= 0 || cfg->n_slices > 4 || out_features % cfg->n_slices ||
        cfg->dropout < 0 || cfg->dropout >= 1 || (cfg->mask & ~((1u << cfg->n_slices) - 1)) || !cfg->mask) {
        vt_err_set(err, VT_EINVAL,
                   "lora: invalid config (rank %d > 0, 1..4 slices dividing %lld outputs (got %d), dropout in [0,1), "
                   "mask 0x%x non-empty within the slices)",
                   cfg->rank, (long long)out_features, cfg->n_slices, cfg->mask);
        return NULL;
    }
    vt_lora *l = calloc(1, sizeof *l);
    if (!l) {
        vt_err_set(err, VT_ENOMEM, "lora: out of memory");
        return NULL;
    }
    l->cfg = *cfg;
    l->in_features = in_features;
    l->out_features = out_features;
    int64_t slice = out_features / cfg->n_slices;
    for (int s = 0; s < cfg->n_slices; s++) {
        if (!(cfg->mask & (1u << s))) continue;
        l->A[s] = vt_tensor_create(c, VT_F32, VT_SHAPE(cfg->rank, in_features));
        l->B[s] = vt_tensor_create(c, VT_F32, VT_SHAPE(slice, cfg->rank));
        if (!l->A[s] || !l->B[s]) {
            vt_lora_destroy(l);
            vt_err_set(err, VT_ENOMEM, "lora: out of memory for adapter weights");
            return NULL;
        }
        /* seeded from the context's RNG stream, so runs are reproducible from the run seed */
        uint64_t seed = vt_ctx_get_seed(c) * 0x9E3779B97F4A7C15ull + vt_ctx_rng_reserve(c, (uint64_t)vt_numel(l->A[s]));
        kaiming_uniform(l->A[s], in_features, seed);
        vt_set_requires_grad(l->A[s], true);
        vt_set_requires_grad(l->B[s], true);
    }
    return l;
}

void vt_lora_destroy(vt_lora *l) {
    if (!l) return;
    for (int s = 0; s < 8; s++) {
        vt_tensor_release(l->A[s]);
        vt_tensor_release(l->B[s]);
    }
    free(l);
}

vt_tensor *vt_lora_forward(vt_ctx *c, const vt_lora *l, vt_tensor *x, vt_tensor *weight, vt_tensor *bias) {
    if (l->merged) return vt_linear(c, x, weight, bias);
    vt_tensor *xl = l->cfg.dropout > 0 ? vt_dropout(c, x, l->cfg.dropout) : x;
    return vt_lora_linear(c, x, weight, bias, xl, l->cfg.n_slices, l->A, l->B, l->cfg.alpha / l->cfg.rank);
}

static vt_status fold(vt_ctx *c, vt_lora *l, vt_tensor *weight, double sign) {
    if (!weight || weight->ndim != 2 || weight->shape[0] != l->out_features || weight->shape[1] != l->in_features)
        return vt_ctx_fail(c, VT_ESHAPE, "lora: base weight does not match the adapter (%lld x %lld)",
                           (long long)l->out_features, (long long)l->in_features);
    double scaling = sign * l->cfg.alpha / l->cfg.rank;
    int64_t slice = l->out_features / l->cfg.n_slices;
    vt_no_grad_begin(c);
    vt_scope_push(c);
    for (int s = 0; s < l->cfg.n_slices && vt_ctx_ok(c); s++) {
        if (!l->A[s]) continue;
        vt_tensor *delta = vt_mul_scalar(c, vt_matmul(c, l->B[s], l->A[s]), scaling); /* [slice, in] */
        if (!delta) break;
        if (weight->device.kind != VT_DEVICE_CPU) { /* the same sum on the device, written into the slice's rows */
            vt_tensor *ws = vt_slice(c, weight, 0, s * slice, (s + 1) * slice, 1);
            vt_tensor *sum = vt_add(c, ws, delta);
            if (!sum || vt_copy_(c, ws, sum) != VT_OK) break;
            continue;
        }
        float *w = vt_f32(weight) + s * slice * l->in_features;
        const float *d = vt_f32(delta);
        for (int64_t i = 0; i < slice * l->in_features; i++) w[i] += d[i];
    }
    vt_scope_pop(c);
    vt_no_grad_end(c);
    return vt_ctx_ok(c) ? VT_OK : vt_ctx_error(c)->code;
}

vt_status vt_lora_merge(vt_ctx *c, vt_lora *l, vt_tensor *weight) {
    if (l->merged) return vt_ctx_fail(c, VT_ESTATE, "lora: already merged");
    vt_status st = fold(c, l, weight, 1.0);
    if (st == VT_OK) l->merged = true;
    return st;
}

vt_status vt_lora_unmerge(vt_ctx *c, vt_lora *l, vt_tensor *weight) {
    if (!l->merged) return vt_ctx_fail(c, VT_ESTATE, "lora: not merged");
    vt_status st = fold(c, l, weight, -1.0);
    if (st == VT_OK) l->merged = false;
    return st;
}

vt_status vt_lora_parameters(const vt_lora *l, vt_tensor_list *out, const char *prefix) {
    static const char *slice_names[] = {"q", "k", "v", "s3", "s4", "s5", "s6", "s7"};
    for (int s = 0; s < l->cfg.n_slices; s++) {
        if (!l->A[s]) continue;
        const char *sn = l->cfg.n_slices == 3 ? slice_names[s] : slice_names[s < 3 ? s + 3 : s];
        vt_status st = vt_tensor_list_add(out, l->A[s], "%s.lora_A.%s.weight", prefix, sn);
        if (st == VT_OK) st = vt_tensor_list_add(out, l->B[s], "%s.lora_B.%s.weight", prefix, sn);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}
