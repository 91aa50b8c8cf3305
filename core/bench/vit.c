/* `visft bench vit`: ViT training-step throughput on CPU.
 *
 *   full  every weight trained: forward, cross-entropy, backward, AdamW
 *   lora  frozen backbone (no weight gradients), LoRA rank 64 alpha 1 on q and v of every qkv, AdamW on LoRA
 *   infer forward only under no_grad (features + projected embedding): img/s, compared by bench/torch_eva.py
 *
 * Any preset (--model); training modes put a 1000-class head on the pooled token instead of the projection.
 * Every mode also reports the step's peak tensor memory above the weights (vt_ctx_mem_stats), the figure
 * gradient checkpointing (--grad-checkpoint) shrinks.
 *
 * Reports the median step of --runs timed steps: img/s, achieved GFLOP/s (full = 3× forward FLOPs,
 * lora = 2× forward: no weight-gradient GEMMs), peak RSS, and the GEMM throughput measured inside a profiled
 * step next to bare OpenBLAS on the step's main shapes (the GEMM-efficiency target). */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/blas.h"
#include "bench/bench.h"
#include "visft/nn.h"
#include "visft/ops.h"
#include "visft/optim.h"

typedef struct step_setup {
    vt_vit *m;
    vt_optim *opt;
    vt_tensor_list lora;
    vt_tensor *images, *labels;
} step_setup;

static vt_status one_step(vt_ctx *c, step_setup *s) {
    vt_scope_push(c);
    vt_vit_output o;
    vt_status st = vt_vit_forward(c, s->m, s->images, &o);
    if (st == VT_OK) st = vt_backward(c, vt_cross_entropy(c, o.logits, s->labels, NULL));
    if (st == VT_OK) st = vt_optim_step(s->opt);
    vt_optim_zero_grad(s->opt);
    vt_scope_pop(c);
    return st;
}

/* Bare OpenBLAS GF/s over the step's dominant GEMM shapes, for the in-step efficiency figure. */
static double openblas_reference_gflops(vt_ctx *c, const vt_vit_config *cfg, int batch, int threads) {
    int R = batch * ((cfg->image_size / cfg->patch_size) * (cfg->image_size / cfg->patch_size) + 1);
    int D = cfg->width, H = cfg->mlp_hidden;
    const int shapes[][3] = {{R, 3 * D, D}, {R, D, D}, {R, H, D}, {R, D, H}};
    double flops = 0, secs = 0;
    vt_blas_threads(threads);
    for (int s = 0; s < 4; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = calloc((size_t)M * K, 4), *B = calloc((size_t)N * K, 4), *C = calloc((size_t)M * N, 4);
        if (!A || !B || !C) {
            free(A), free(B), free(C);
            return 0;
        }
        for (int r = 0; r < 4; r++) {
            double t0 = vt_now();
            vt_blas_sgemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
            if (r > 0) secs += vt_now() - t0, flops += 2.0 * M * N * (double)K;
        }
        free(A), free(B), free(C);
    }
    (void)c;
    return flops / secs / 1e9;
}

static vt_status bench_config(const vt_bench_opts *o, bool train, vt_vit_config *cfg, vt_err *err) {
    if (vt_vit_preset(o->model, cfg, err) != VT_OK) return err->code;
    if (o->image_size > 0) cfg->image_size = o->image_size;
    if (cfg->image_size % cfg->patch_size)
        return vt_err_set(err, VT_EINVAL, "bench vit: --image-size %d is not a multiple of the patch size %d",
                          cfg->image_size, cfg->patch_size);
    cfg->grad_checkpoint = o->grad_checkpoint;
    if (train && cfg->num_classes == 0) cfg->num_classes = 1000, cfg->embed_dim = 0;
    return VT_OK;
}

/* Forward-only throughput: what feature extraction and the zero-shot benchmarks run. */
static vt_status run_infer(const vt_bench_opts *o, FILE *out, vt_err *err) {
    vt_vit_config cfg;
    if (bench_config(o, false, &cfg, err) != VT_OK) return err->code;
    vt_ctx_options co = {.threads = o->threads, .seed = 1};
    vt_ctx *c = vt_ctx_create(&co);
    if (!c) return vt_err_set(err, VT_ENOMEM, "bench vit: out of memory");
    if (o->bf16) vt_ctx_set_autocast(c, VT_BF16);
    double t_build = vt_now();
    vt_vit *m = vt_vit_create(c, &cfg, err);
    if (!m) {
        vt_ctx_destroy(c);
        return err->code;
    }
    t_build = vt_now() - t_build;
    vt_tensor_list_set_requires_grad(&m->params, false);
    int64_t B = o->batch;
    vt_tensor *images = vt_full(c, VT_F32, VT_SHAPE(B, cfg.in_chans, cfg.image_size, cfg.image_size), 0.5);
    uint64_t weights = vt_ctx_mem_stats(c).live_bytes;
    double times[64];
    int runs = o->runs < 64 ? o->runs : 64;
    vt_status st = images ? VT_OK : vt_err_set(err, VT_ENOMEM, "bench vit: out of memory for inputs");
    vt_ctx_reset_peak(c);
    vt_no_grad_begin(c);
    for (int r = -o->warmup; st == VT_OK && r < runs; r++) {
        double t0 = vt_now();
        vt_scope_push(c);
        vt_vit_output vo;
        st = vt_vit_forward(c, m, images, &vo);
        vt_scope_pop(c);
        if (r >= 0) times[r] = vt_now() - t0;
        fprintf(stderr, "\rbench vit infer: run %d/%d", r + o->warmup + 1, runs + o->warmup);
    }
    vt_no_grad_end(c);
    fprintf(stderr, "\n");
    if (st != VT_OK) {
        if (err->code == VT_OK) vt_err_set(err, st, "bench vit: %s", vt_ctx_error(c)->msg);
    } else {
        double t = vt_bench_median(times, runs), flops = vt_vit_forward_flops(&cfg, (int)B);
        double act = (double)(vt_ctx_mem_stats(c).peak_bytes - weights) / 1048576.0;
        fprintf(out, "infer %s %dpx batch %lld, %d threads: %.3f img/s, %.1f GFLOP/s, forward %.3f s (median of %d), "
                     "%.0f M params (built in %.1f s), activations peak %.0f MiB, peak RSS %.0f MiB\n",
                o->model, cfg.image_size, (long long)B, vt_ctx_threads(c), B / t, flops / t / 1e9, t, runs,
                vt_tensor_list_numel(&m->params) / 1e6, t_build, act, vt_bench_peak_rss_mib());
        if (o->json)
            fprintf(out, "{\"impl\":\"visft\",\"mode\":\"infer\",\"model\":\"%s\",\"batch\":%lld,\"img_s\":%.4f,"
                         "\"forward_s\":%.5f,\"gflops\":%.3f}\n",
                    o->model, (long long)B, B / t, t, flops / t / 1e9);
    }
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
    return st;
}

static vt_status run_mode(const vt_bench_opts *o, const char *mode, FILE *out, vt_err *err) {
    vt_vit_config cfg;
    if (bench_config(o, true, &cfg, err) != VT_OK) return err->code;
    vt_ctx_options co = {.threads = o->threads, .seed = 1};
    vt_ctx *c = vt_ctx_create(&co);
    if (!c) return vt_err_set(err, VT_ENOMEM, "bench vit: out of memory");
    if (o->bf16) vt_ctx_set_autocast(c, VT_BF16);
    step_setup s = {0};
    vt_tensor_list_init(&s.lora);
    vt_status st = VT_OK;
    s.m = vt_vit_create(c, &cfg, err);
    if (!s.m) {
        vt_ctx_destroy(c);
        return err->code;
    }
    bool lora = strcmp(mode, "lora") == 0;
    vt_tensor_list *train = &s.m->params;
    if (lora) {
        vt_tensor_list_set_requires_grad(&s.m->params, false);
        vt_lora_config lc = {.rank = 64, .alpha = 1.0, .n_slices = 3, .mask = 0x5};
        st = vt_vit_add_lora(c, s.m, &lc, &s.lora, err);
        train = &s.lora;
    }
    vt_optim_options oo = vt_adamw_options();
    s.opt = st == VT_OK ? vt_optim_create(c, &oo) : NULL;
    if (st == VT_OK && !s.opt) st = vt_err_set(err, VT_ENOMEM, "bench vit: cannot create optimizer");
    if (st == VT_OK) {
        vt_tensor **ps = malloc(train->n * sizeof *ps);
        for (size_t i = 0; ps && i < train->n; i++) ps[i] = train->items[i].tensor;
        if (!ps || vt_optim_add_group(s.opt, ps, train->n, 1e-4, 0.05) < 0)
            st = vt_err_set(err, VT_EINVAL, "bench vit: cannot add parameters: %s", vt_ctx_error(c)->msg);
        free(ps);
    }
    /* inputs live in the root scope for the whole run */
    int64_t B = o->batch;
    if (st == VT_OK) {
        s.images = vt_full(c, VT_F32, VT_SHAPE(B, cfg.in_chans, cfg.image_size, cfg.image_size), 0.5);
        int64_t *lab = malloc((size_t)B * sizeof *lab);
        for (int64_t i = 0; lab && i < B; i++) lab[i] = (i * 37) % cfg.num_classes;
        s.labels = lab ? vt_from_i64(c, VT_SHAPE(B), lab) : NULL;
        free(lab);
        if (!s.images || !s.labels) st = vt_err_set(err, VT_ENOMEM, "bench vit: out of memory for inputs");
    }
    double times[64];
    int runs = o->runs < 64 ? o->runs : 64;
    uint64_t weights = vt_ctx_mem_stats(c).live_bytes, step_peak = 0;
    for (int r = -o->warmup; st == VT_OK && r < runs; r++) {
        double t0 = vt_now();
        if (r == 0) weights = vt_ctx_mem_stats(c).live_bytes; /* optimizer state exists after the warm-up */
        vt_ctx_reset_peak(c);
        st = one_step(c, &s);
        if (r >= 0 && vt_ctx_mem_stats(c).peak_bytes > step_peak) step_peak = vt_ctx_mem_stats(c).peak_bytes;
        if (r >= 0) times[r] = vt_now() - t0;
        fprintf(stderr, "\rbench vit %s: step %d/%d", mode, r + o->warmup + 1, runs + o->warmup);
    }
    fprintf(stderr, "\n");
    if (st != VT_OK) {
        if (err->code == VT_OK) vt_err_set(err, st, "bench vit: %s", vt_ctx_error(c)->msg);
    } else {
        /* one profiled step: GEMM time and FLOPs inside the step */
        vt_ctx_set_profiling(c, true);
        vt_ctx_profile_reset(c);
        one_step(c, &s);
        vt_ctx_set_profiling(c, false);
        vt_profile p = vt_ctx_profile(c);
        double t = vt_bench_median(times, runs);
        double fwd = vt_vit_forward_flops(&cfg, (int)B);
        double step_flops = lora ? 2 * fwd : 3 * fwd;
        double in_step = p.flops[VT_FAM_MATMUL] / p.seconds[VT_FAM_MATMUL] / 1e9;
        double ref = openblas_reference_gflops(c, &cfg, (int)B, vt_ctx_threads(c));
        double rss = vt_bench_peak_rss_mib();
        double act = step_peak > weights ? (double)(step_peak - weights) / 1048576.0 : 0;
        fprintf(out, "%-5s %s batch %lld, %d threads%s: %.2f img/s, %.1f GFLOP/s, step %.3f s (median of %d), "
                     "step peak above weights+state %.0f MiB, peak RSS %.0f MiB\n",
                mode, o->model, (long long)B, vt_ctx_threads(c), cfg.grad_checkpoint ? ", grad checkpointing" : "",
                B / t, step_flops / t / 1e9, t, runs, act, rss);
        fprintf(out, "      GEMM inside the step: %.1f GF/s = %.0f%% of bare OpenBLAS on the step's shapes (%.1f GF/s); "
                     "GEMM share of step time %.0f%%\n",
                in_step, 100 * in_step / ref, ref, 100 * p.seconds[VT_FAM_MATMUL] / t);
        if (o->json)
            fprintf(out, "{\"impl\":\"visft\",\"mode\":\"%s\",\"img_s\":%.4f,\"step_s\":%.5f,\"gflops\":%.3f,"
                         "\"peak_rss_mib\":%.1f,\"gemm_in_step_gflops\":%.2f,\"gemm_openblas_gflops\":%.2f}\n",
                    mode, B / t, t, step_flops / t / 1e9, rss, in_step, ref);
    }
    vt_optim_destroy(s.opt);
    vt_vit_destroy(s.m);
    vt_tensor_list_free(&s.lora);
    vt_ctx_destroy(c);
    return st;
}

vt_status vt_bench_vit(const vt_bench_opts *o, FILE *out, vt_err *err) {
    const char *mode = o->mode ? o->mode : "both";
    if (!strcmp(mode, "infer")) return run_infer(o, out, err);
    if (strcmp(mode, "full") && strcmp(mode, "lora") && strcmp(mode, "both"))
        return vt_err_set(err, VT_EINVAL, "bench vit: --mode must be full, lora, both or infer, got '%s'", mode);
    vt_status st = VT_OK;
    if (strcmp(mode, "lora")) st = run_mode(o, "full", out, err);
    if (st == VT_OK && strcmp(mode, "full")) st = run_mode(o, "lora", out, err);
    return st;
}
