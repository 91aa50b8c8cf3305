/* `visft bench vit --device cuda[:N]`: the full and LoRA training steps of bench/vit.c on an accelerator.
 *
 * The model is built (randomly initialised) on the host and its parameters moved to the device; inputs live
 * on the device. Each timed step ends with a device synchronisation, so the median step time is wall time of
 * finished work. Reports img/s, achieved TFLOP/s (full = 3x forward FLOPs, LoRA = 2x) and MFU against the
 * GEMM peak measured on the same device in the same run (a large square GEMM through the backend, i.e.
 * cuBLASLt in the precision the step itself uses: f32, or bf16 operands under --precision bf16). */
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "visft/nn.h"
#include "visft/ops.h"
#include "visft/optim.h"

static vt_status move_list(vt_ctx *c, vt_tensor_list *l, vt_device dev) {
    for (size_t i = 0; i < l->n; i++)
        if (vt_tensor_move_(c, l->items[i].tensor, dev) != VT_OK) return vt_ctx_error(c)->code;
    return VT_OK;
}

/* Median TFLOP/s of an n x n x n GEMM on dev. */
static double gemm_peak_tflops(vt_ctx *c, vt_device dev, int64_t n) {
    vt_scope_push(c);
    vt_tensor *a = vt_full_on(c, dev, VT_F32, VT_SHAPE(n, n), 0.5), *b = vt_full_on(c, dev, VT_F32, VT_SHAPE(n, n), 0.25);
    double t[5] = {0};
    for (int r = -1; a && b && r < 5; r++) {
        vt_scope_push(c);
        double t0 = vt_now();
        vt_matmul(c, a, b);
        vt_device_synchronize(c, dev);
        if (r >= 0) t[r] = vt_now() - t0;
        vt_scope_pop(c);
    }
    vt_scope_pop(c);
    if (!vt_ctx_ok(c)) return 0;
    return 2.0 * (double)n * n * n / vt_bench_median(t, 5) / 1e12;
}

static vt_status step(vt_ctx *c, vt_vit *m, vt_optim *opt, vt_tensor *images, vt_tensor *labels, vt_device dev) {
    vt_scope_push(c);
    vt_vit_output o;
    vt_status st = vt_vit_forward(c, m, images, &o);
    if (st == VT_OK) st = vt_backward(c, vt_cross_entropy(c, o.logits, labels, NULL));
    if (st == VT_OK) st = vt_optim_step(opt);
    vt_optim_zero_grad(opt);
    vt_scope_pop(c);
    if (st == VT_OK) st = vt_device_synchronize(c, dev);
    return st;
}

static vt_status run_mode(const vt_bench_opts *o, const vt_vit_config *cfg0, vt_device dev, bool lora, double peak,
                          FILE *out, vt_err *err) {
    vt_vit_config cfg = *cfg0;
    vt_ctx_options co = {.threads = o->threads, .seed = 1};
    vt_ctx *c = vt_ctx_create(&co);
    if (!c) return vt_err_set(err, VT_ENOMEM, "bench vit: out of memory");
    if (o->bf16) vt_ctx_set_autocast(c, VT_BF16);
    vt_tensor_list adapters;
    vt_tensor_list_init(&adapters);
    vt_optim *opt = NULL;
    vt_status st = VT_OK;
    vt_vit *m = vt_vit_create(c, &cfg, err);
    if (!m) st = err->code;
    vt_tensor_list *train = m ? &m->params : NULL;
    if (st == VT_OK && lora) {
        vt_tensor_list_set_requires_grad(&m->params, false);
        vt_lora_config lc = {.rank = 64, .alpha = 1.0, .n_slices = 3, .mask = 0x5};
        st = vt_vit_add_lora(c, m, &lc, &adapters, err);
        train = &adapters;
    }
    if (st == VT_OK && (move_list(c, &m->params, dev) != VT_OK || (lora && move_list(c, &adapters, dev) != VT_OK)))
        st = vt_err_set(err, vt_ctx_error(c)->code, "bench vit: moving the model: %s", vt_ctx_error(c)->msg);
    vt_optim_options oo = vt_adamw_options();
    if (st == VT_OK && !(opt = vt_optim_create(c, &oo))) st = vt_err_set(err, VT_ENOMEM, "bench vit: cannot create optimizer");
    if (st == VT_OK) {
        vt_tensor **ps = malloc(train->n * sizeof *ps);
        for (size_t i = 0; ps && i < train->n; i++) ps[i] = train->items[i].tensor;
        if (!ps || vt_optim_add_group(opt, ps, train->n, 1e-4, 0.05) < 0)
            st = vt_err_set(err, VT_EINVAL, "bench vit: cannot add parameters: %s", vt_ctx_error(c)->msg);
        free(ps);
    }
    int64_t B = o->batch;
    vt_tensor *images = NULL, *labels = NULL;
    if (st == VT_OK) {
        images = vt_full_on(c, dev, VT_F32, VT_SHAPE(B, cfg.in_chans, cfg.image_size, cfg.image_size), 0.5);
        int64_t *lab = malloc((size_t)B * sizeof *lab);
        for (int64_t i = 0; lab && i < B; i++) lab[i] = (i * 37) % cfg.num_classes;
        vt_tensor *hl = lab ? vt_from_i64(c, VT_SHAPE(B), lab) : NULL;
        free(lab);
        labels = vt_to_device(c, hl, dev);
        if (!images || !labels) st = vt_err_set(err, VT_ENOMEM, "bench vit: inputs: %s", vt_ctx_error(c)->msg);
    }
    double times[64];
    int runs = o->runs < 64 ? o->runs : 64;
    const char *mode = lora ? "lora" : "full";
    for (int r = -o->warmup; st == VT_OK && r < runs; r++) {
        double t0 = vt_now();
        st = step(c, m, opt, images, labels, dev);
        if (r >= 0) times[r] = vt_now() - t0;
        fprintf(stderr, "\rbench vit %s: step %d/%d", mode, r + o->warmup + 1, runs + o->warmup);
    }
    fprintf(stderr, "\n");
    char dn[32];
    vt_device_str(dev, dn, sizeof dn);
    if (st != VT_OK) {
        if (err->code == VT_OK) vt_err_set(err, st, "bench vit: %s", vt_ctx_error(c)->msg);
    } else {
        double t = vt_bench_median(times, runs), fwd = vt_vit_forward_flops(&cfg, (int)B);
        double tflops = (lora ? 2 : 3) * fwd / t / 1e12;
        const char *prec = o->bf16 ? "bf16" : "f32";
        fprintf(out, "%-5s %s %dpx batch %lld on %s (%s): %.2f img/s, %.1f TFLOP/s, MFU %.0f%% of the measured %s "
                     "GEMM peak %.1f TFLOP/s, step %.4f s (median of %d)\n",
                mode, o->model, cfg.image_size, (long long)B, dn, prec, B / t, tflops, 100 * tflops / peak, prec, peak,
                t, runs);
        if (o->json)
            fprintf(out, "{\"impl\":\"visft\",\"device\":\"%s\",\"mode\":\"%s\",\"model\":\"%s\",\"batch\":%lld,"
                         "\"img_s\":%.4f,\"step_s\":%.6f,\"gflops\":%.1f,\"tflops\":%.3f,\"gemm_peak_tflops\":%.3f,"
                         "\"mfu\":%.4f,\"peak_rss_mib\":%.1f}\n",
                    dn, mode, o->model, (long long)B, B / t, t, tflops * 1e3, tflops, peak, tflops / peak,
                    vt_bench_peak_rss_mib());
    }
    vt_optim_destroy(opt);
    vt_vit_destroy(m);
    vt_tensor_list_free(&adapters);
    vt_ctx_destroy(c);
    return st;
}

vt_status vt_bench_vit_device(const vt_bench_opts *o, vt_device dev, FILE *out, vt_err *err) {
    if (vt_device_check(dev, err) != VT_OK) return err->code;
    const char *mode = o->mode ? o->mode : "both";
    if (strcmp(mode, "full") && strcmp(mode, "lora") && strcmp(mode, "both"))
        return vt_err_set(err, VT_EINVAL, "bench vit: --mode must be full, lora or both on a device, got '%s'", mode);
    vt_vit_config cfg;
    if (vt_vit_preset(o->model, &cfg, err) != VT_OK) return err->code;
    if (o->image_size > 0) cfg.image_size = o->image_size;
    if (cfg.image_size % cfg.patch_size)
        return vt_err_set(err, VT_EINVAL, "bench vit: --image-size %d is not a multiple of the patch size %d",
                          cfg.image_size, cfg.patch_size);
    cfg.grad_checkpoint = o->grad_checkpoint;
    if (cfg.num_classes == 0) cfg.num_classes = 1000, cfg.embed_dim = 0;
    vt_ctx *c = vt_ctx_create(NULL);
    if (!c) return vt_err_set(err, VT_ENOMEM, "bench vit: out of memory");
    if (o->bf16) vt_ctx_set_autocast(c, VT_BF16); /* the peak in the step's own precision */
    double peak = gemm_peak_tflops(c, dev, 8192);
    if (peak <= 0) {
        vt_err_set(err, VT_EDEVICE, "bench vit: GEMM peak measurement failed: %s", vt_ctx_error(c)->msg);
        vt_ctx_destroy(c);
        return err->code;
    }
    vt_ctx_destroy(c);
    vt_status st = VT_OK;
    if (strcmp(mode, "lora")) st = run_mode(o, &cfg, dev, false, peak, out, err);
    if (st == VT_OK && strcmp(mode, "full")) st = run_mode(o, &cfg, dev, true, peak, out, err);
    return st;
}
