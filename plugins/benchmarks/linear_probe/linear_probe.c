/* linear_probe: the out-of-domain benchmark ViSFT reports. Pooled features of a dataset's train and test
 * splits (model->encode_image, no grad), a multinomial logistic regression fitted full-batch with Adam for
 * each weight decay of a small sweep on a held-out part of train, the best refitted on all of train, scored
 * on test: acc1, acc5, mean per-class recall; a CLIP_benchmark-style JSON under host->run_dir. Public
 * headers only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visft/config.h>
#include <visft/model.h>
#include <visft/pipeline.h>
#include <visft/visft.h>

typedef struct lp_params {
    const struct vt_cfg_node *dataset;
    char *train_split, *test_split;
    int64_t num_classes, batch_size, epochs, seed;
    double lr, holdout;
    vt_param_list wd;
} lp_params;

#define F(field) .offset = offsetof(lp_params, field)
static const vt_param_spec lp_specs[] = {
    {.name = "dataset", .type = VT_PARAM_MAP, F(dataset), .required = true, .min = 1, .max = 0,
     .help = "the dataset: {plugin: NAME, ...that plugin's params}"},
    {.name = "train_split", .type = VT_PARAM_STRING, F(train_split), .default_value = "train", .min = 1, .max = 0,
     .help = "split the probe is fitted on"},
    {.name = "test_split", .type = VT_PARAM_STRING, F(test_split), .default_value = "test", .min = 1, .max = 0,
     .help = "split the probe is scored on"},
    {.name = "num_classes", .type = VT_PARAM_INT, F(num_classes), .default_value = "0", .min = 0, .max = 1000000,
     .help = "classes (0: largest train/test label + 1)"},
    {.name = "batch_size", .type = VT_PARAM_INT, F(batch_size), .default_value = "32", .min = 1, .max = 65536,
     .help = "images per encode_image call"},
    {.name = "epochs", .type = VT_PARAM_INT, F(epochs), .default_value = "200", .min = 1, .max = 1000000,
     .help = "full-batch Adam steps per fit"},
    {.name = "lr", .type = VT_PARAM_FLOAT, F(lr), .default_value = "0.05", .min = 1e-8, .max = 100,
     .help = "Adam learning rate"},
    {.name = "wd", .type = VT_PARAM_LIST, .elem_type = VT_PARAM_FLOAT, F(wd), .default_value = "[1e-6, 1e-4, 1e-2]",
     .min = 0, .max = 100, .help = "L2 penalties swept on the held-out part of train"},
    {.name = "holdout", .type = VT_PARAM_FLOAT, F(holdout), .default_value = "0.2", .min = 0.01, .max = 0.9,
     .help = "fraction of train held out to pick the weight decay"},
    {.name = "seed", .type = VT_PARAM_INT, F(seed), .default_value = "0", .min = 0, .max = 9.0e15,
     .help = "seeds the held-out split and the probe init"},
    VT_PARAM_END,
};
#undef F

typedef struct lp_bench {
    const lp_params *p;
    const vt_host *host;
    vt_metric metrics[3];
    vt_artifact artifact;
    char artifact_path[4096];
} lp_bench;

typedef struct lp_feats {
    float *x;     /* [n, d] */
    int64_t *y;   /* [n] */
    int64_t n, d;
} lp_feats;

static void feats_free(lp_feats *f) {
    free(f->x);
    free(f->y);
    memset(f, 0, sizeof *f);
}

static vt_status lp_create(const void *params, const vt_host *host, void **out, vt_err *err) {
    const lp_params *p = params;
    if (p->wd.n == 0) return vt_err_set(err, VT_EINVAL, "linear_probe: wd: the sweep list is empty");
    lp_bench *b = calloc(1, sizeof *b);
    if (!b) return vt_err_set(err, VT_ENOMEM, "linear_probe: out of memory");
    b->p = p;
    b->host = host;
    *out = b;
    return VT_OK;
}

static void lp_destroy(void *self) { free(self); }

static vt_status ctx_fail(vt_ctx *ctx, vt_err *err, const char *what) {
    const vt_err *e = vt_ctx_error(ctx);
    vt_status code = e && e->code ? e->code : VT_EINVAL;
    vt_err_set(err, code, "linear_probe: %s: %s", what, e && e->code ? e->msg : "failed");
    vt_ctx_clear_error(ctx);
    return code;
}

/* Pooled features and labels of every sample of one split. */
static vt_status extract(vt_ctx *ctx, vt_model *m, const vt_component *comp, const void *dparams,
                         const char *split, const vt_cfg_node *transforms, const lp_params *p, const vt_host *host,
                         lp_feats *f, vt_err *err) {
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.batch_size = p->batch_size;
    o.loader.shuffle = false;
    o.loader.epochs = 1;
    o.loader.workers = 0;
    o.collate.targets = VT_COLLATE_LABELS;
    vt_pipeline *pl = NULL;
    vt_status st = vt_pipeline_open(comp, dparams, split, host, transforms, &o, &pl, err);
    if (st != VT_OK) return st;
    size_t n = vt_pipeline_dataset_length(pl), got = 0;
    if (n == 0) {
        vt_pipeline_destroy(pl);
        return vt_err_set(err, VT_EINVAL, "linear_probe: split '%s' is empty", split);
    }
    f->y = malloc(n * sizeof *f->y);
    if (!f->y) st = vt_err_set(err, VT_ENOMEM, "linear_probe: out of memory");
    while (st == VT_OK) {
        const vt_batch *b = NULL;
        if ((st = vt_pipeline_next(pl, &b, NULL, err)) != VT_OK || !b) break;
        vt_tensor *labels = vt_batch_target(b, "labels");
        vt_scope_push(ctx);
        vt_tensor *pooled = NULL;
        if (!labels || labels->dtype != VT_I64)
            st = vt_err_set(err, VT_EINVAL, "linear_probe: split '%s' has no class labels", split);
        else if ((st = m->encode_image(m, ctx, b->images, &pooled, NULL, err)) != VT_OK)
            ;
        else if (!pooled || pooled->ndim != 2 || pooled->shape[0] != b->size || pooled->dtype != VT_F32)
            st = vt_err_set(err, VT_EINVAL, "linear_probe: encode_image must return [%lld, D] f32", (long long)b->size);
        else if (got + (size_t)b->size > n)
            st = vt_err_set(err, VT_EINVAL, "linear_probe: split '%s' gave more samples than its length", split);
        if (st == VT_OK) {
            vt_tensor *pc = vt_contiguous(ctx, pooled);
            if (!pc) st = ctx_fail(ctx, err, "features");
            else if (!f->x) {
                f->d = pc->shape[1];
                f->x = malloc(n * (size_t)f->d * sizeof *f->x);
                if (!f->x) st = vt_err_set(err, VT_ENOMEM, "linear_probe: out of memory for %zu features", n);
            } else if (pc->shape[1] != f->d)
                st = vt_err_set(err, VT_EINVAL, "linear_probe: feature width changed between batches");
            if (st == VT_OK) {
                memcpy(f->x + got * (size_t)f->d, vt_f32(pc), (size_t)b->size * (size_t)f->d * sizeof(float));
                memcpy(f->y + got, vt_i64(labels), (size_t)b->size * sizeof(int64_t));
                got += (size_t)b->size;
            }
        }
        vt_scope_pop(ctx);
        vt_pipeline_release(pl, b);
    }
    vt_pipeline_destroy(pl);
    f->n = (int64_t)got;
    if (st == VT_OK && got == 0) st = vt_err_set(err, VT_EINVAL, "linear_probe: split '%s' gave no samples", split);
    return st;
}

/* Rows idx[0..n) of f as tensors in the current scope. */
static void gather(vt_ctx *ctx, const lp_feats *f, const int64_t *idx, int64_t n, vt_tensor **x, vt_tensor **y) {
    *x = vt_zeros(ctx, VT_F32, VT_SHAPE(n, f->d));
    *y = vt_zeros(ctx, VT_I64, VT_SHAPE(n));
    if (!*x || !*y) return;
    for (int64_t i = 0; i < n; i++) {
        memcpy(vt_f32(*x) + i * f->d, f->x + idx[i] * f->d, (size_t)f->d * sizeof(float));
        vt_i64(*y)[i] = f->y[idx[i]];
    }
}

/* Fits W [C, D], b [C] on (x, y) minimising mean CE + wd/2 * |W|^2 with full-batch Adam. Caller owns w, b. */
static vt_status fit(vt_ctx *ctx, vt_tensor *x, vt_tensor *y, int64_t C, double wd, const lp_params *p,
                     vt_tensor **w_out, vt_tensor **b_out, vt_err *err) {
    int64_t D = x->shape[1];
    vt_tensor *w = vt_tensor_create(ctx, VT_F32, VT_SHAPE(C, D)), *b = vt_tensor_create(ctx, VT_F32, VT_SHAPE(C));
    vt_optim_options oo = vt_adamw_options();
    vt_optim *opt = w && b ? vt_optim_create(ctx, &oo) : NULL;
    vt_status st = VT_OK;
    if (!opt) st = ctx_fail(ctx, err, "optimizer");
    if (st == VT_OK) {
        vt_set_requires_grad(w, true);
        vt_set_requires_grad(b, true);
        if (vt_optim_add_group(opt, (vt_tensor *[]){w, b}, 2, p->lr, 0.0) < 0) st = ctx_fail(ctx, err, "optimizer");
    }
    for (int64_t e = 0; st == VT_OK && e < p->epochs; e++) {
        vt_scope_push(ctx);
        vt_tensor *loss = vt_cross_entropy(ctx, vt_linear(ctx, x, w, b), y, NULL);
        if (wd > 0) loss = vt_add(ctx, loss, vt_mul_scalar(ctx, vt_sum_all(ctx, vt_mul(ctx, w, w)), 0.5 * wd));
        if (!loss || vt_backward(ctx, loss) != VT_OK || vt_optim_step(opt) != VT_OK) st = ctx_fail(ctx, err, "fit");
        vt_optim_zero_grad(opt);
        vt_scope_pop(ctx);
    }
    vt_optim_destroy(opt);
    if (st != VT_OK) {
        vt_tensor_release(w);
        vt_tensor_release(b);
        return st;
    }
    vt_set_requires_grad(w, false);
    vt_set_requires_grad(b, false);
    *w_out = w;
    *b_out = b;
    return VT_OK;
}

/* acc1, acc5 (top-min(5, C)), mean per-class recall (over classes present in y). */
static void score(const float *logits, const int64_t *y, int64_t n, int64_t C, double out[3]) {
    int64_t top1 = 0, top5 = 0, k = C < 5 ? C : 5;
    int64_t *hit = calloc((size_t)C, sizeof *hit), *cnt = calloc((size_t)C, sizeof *cnt);
    for (int64_t i = 0; i < n; i++) {
        const float *l = logits + i * C;
        int64_t t = y[i], rank = 0;
        for (int64_t c = 0; c < C; c++) rank += l[c] > l[t] || (l[c] == l[t] && c < t); /* ties: lower index wins */
        top1 += rank == 0;
        top5 += rank < k;
        if (hit && cnt) cnt[t]++, hit[t] += rank == 0;
    }
    double rec = 0;
    int64_t present = 0;
    for (int64_t c = 0; hit && cnt && c < C; c++)
        if (cnt[c]) rec += (double)hit[c] / (double)cnt[c], present++;
    out[0] = n ? (double)top1 / (double)n : 0;
    out[1] = n ? (double)top5 / (double)n : 0;
    out[2] = present ? rec / (double)present : 0;
    free(hit);
    free(cnt);
}

/* Fits on rows tr, scores rows te. */
static vt_status fit_score(vt_ctx *ctx, const lp_feats *ftr, const int64_t *tr, int64_t ntr, const lp_feats *fte,
                           const int64_t *te, int64_t nte, int64_t C, double wd, const lp_params *p, double out[3],
                           vt_err *err) {
    vt_scope_push(ctx);
    vt_tensor *x, *y, *xt, *yt, *w = NULL, *b = NULL;
    gather(ctx, ftr, tr, ntr, &x, &y);
    gather(ctx, fte, te, nte, &xt, &yt);
    vt_status st = x && y && xt && yt ? fit(ctx, x, y, C, wd, p, &w, &b, err) : ctx_fail(ctx, err, "out of memory");
    if (st == VT_OK) {
        vt_no_grad_begin(ctx);
        vt_tensor *logits = vt_contiguous(ctx, vt_linear(ctx, xt, w, b));
        vt_no_grad_end(ctx);
        if (!logits) st = ctx_fail(ctx, err, "score");
        else score(vt_f32(logits), vt_i64(yt), nte, C, out);
    }
    vt_tensor_release(w);
    vt_tensor_release(b);
    vt_scope_pop(ctx);
    return st;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static vt_status write_json(lp_bench *bm, const char *dataset, const vt_model *m, double wd, vt_err *err) {
    const vt_host *h = bm->host;
    if (!h || !h->run_dir || !*h->run_dir) return VT_OK;
    int n = snprintf(bm->artifact_path, sizeof bm->artifact_path, "%s/linear_probe_%s_%s.json", h->run_dir,
                     dataset, m->stage ? m->stage : "model");
    if (n < 0 || (size_t)n >= sizeof bm->artifact_path)
        return vt_err_set(err, VT_EINVAL, "linear_probe: run_dir path is too long");
    FILE *f = fopen(bm->artifact_path, "w");
    if (!f) return vt_err_set(err, VT_EIO, "linear_probe: cannot write %s", bm->artifact_path);
    fputs("{\"dataset\": ", f);
    json_str(f, dataset);
    fputs(", \"model\": ", f);
    json_str(f, m->name ? m->name : "");
    fputs(", \"stage\": ", f);
    json_str(f, m->stage ? m->stage : "");
    fprintf(f, ", \"task\": \"linear_probe\", \"weight_decay\": %.17g, \"metrics\": {", wd);
    for (int i = 0; i < 3; i++) fprintf(f, "%s\"%s\": %.17g", i ? ", " : "", bm->metrics[i].name, bm->metrics[i].value);
    fputs("}}\n", f);
    if (fclose(f) != 0) return vt_err_set(err, VT_EIO, "linear_probe: cannot write %s", bm->artifact_path);
    bm->artifact = (vt_artifact){"results", bm->artifact_path};
    return VT_OK;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static vt_status lp_run(void *self, struct vt_ctx *ctx, struct vt_model *m, vt_bench_result *out, vt_err *err) {
    lp_bench *bm = self;
    const lp_params *p = bm->p;
    if (!m || m->struct_size < offsetof(vt_model, impl) || !m->encode_image || !m->registry)
        return vt_err_set(err, VT_EINVAL, "linear_probe: the model handle has no encode_image or registry");
    if (m->image_size <= 0) return vt_err_set(err, VT_EINVAL, "linear_probe: model image_size %lld", (long long)m->image_size);
    const char *plugin = NULL;
    const vt_cfg_node *pn = vt_cfg_child(p->dataset, "plugin");
    char loc[256];
    if (!pn || vt_cfg_as_string(pn, &plugin, err) != VT_OK)
        return vt_err_set(err, VT_EINVAL, "%s: linear_probe: dataset needs a `plugin` name",
                          vt_cfg_loc_str(p->dataset, loc, sizeof loc));
    const vt_component *comp;
    vt_status st = vt_registry_lookup(m->registry, VT_COMPONENT_DATASET, plugin, &comp, err);
    if (st != VT_OK) return st;
    void *dparams = NULL;
    static const char *const ignore[] = {"plugin", NULL};
    if ((st = vt_component_params_new(comp, p->dataset, ignore, &dparams, err)) != VT_OK) return st;
    /* resize the short side, center-crop to the model's input, normalise as the model expects */
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "transforms:\n  - {resize: {short: %lld}}\n  - {center_crop: {size: %lld}}\n"
             "  - {normalize: {mean: [%.9g, %.9g, %.9g], std: [%.9g, %.9g, %.9g]}}\n",
             (long long)m->image_size, (long long)m->image_size, m->mean[0], m->mean[1], m->mean[2], m->std[0],
             m->std[1], m->std[2]);
    vt_cfg *tcfg = NULL;
    lp_feats tr = {0}, te = {0};
    int64_t *idx = NULL;
    st = vt_cfg_load_string(yaml, strlen(yaml), "linear_probe-transforms", VT_CFG_NO_BASE, &tcfg, err);
    const vt_cfg_node *tnode = st == VT_OK ? vt_cfg_child(vt_cfg_root(tcfg), "transforms") : NULL;
    vt_no_grad_begin(ctx);
    if (st == VT_OK) st = extract(ctx, m, comp, dparams, p->train_split, tnode, p, bm->host, &tr, err);
    if (st == VT_OK) st = extract(ctx, m, comp, dparams, p->test_split, tnode, p, bm->host, &te, err);
    vt_no_grad_end(ctx);
    if (st == VT_OK && tr.d != te.d) st = vt_err_set(err, VT_EINVAL, "linear_probe: train and test feature widths differ");
    int64_t C = p->num_classes;
    for (int64_t i = 0; st == VT_OK && i < tr.n + te.n; i++) {
        int64_t lab = i < tr.n ? tr.y[i] : te.y[i - tr.n];
        if (lab < 0 || (p->num_classes > 0 && lab >= p->num_classes))
            st = vt_err_set(err, VT_EINVAL, "linear_probe: label %lld outside [0, %lld)", (long long)lab,
                            (long long)p->num_classes);
        else if (p->num_classes == 0 && lab + 1 > C) C = lab + 1;
    }
    if (st == VT_OK && C < 2) st = vt_err_set(err, VT_EINVAL, "linear_probe: fewer than 2 classes in the data");
    int64_t n_hold = (int64_t)((double)tr.n * p->holdout);
    if (st == VT_OK && (n_hold < 1 || n_hold >= tr.n))
        st = vt_err_set(err, VT_EINVAL, "linear_probe: %lld train samples are too few for holdout %g", (long long)tr.n,
                        p->holdout);
    idx = st == VT_OK ? malloc((size_t)(tr.n + te.n) * sizeof *idx) : NULL;
    if (st == VT_OK && !idx) st = vt_err_set(err, VT_ENOMEM, "linear_probe: out of memory");
    double best[3] = {-1, 0, 0}, best_wd = p->wd.v.f[0], res[3];
    if (st == VT_OK) {
        uint64_t s = (uint64_t)p->seed;
        for (int64_t i = 0; i < tr.n; i++) idx[i] = i;
        for (int64_t i = tr.n - 1; i > 0; i--) { /* seeded Fisher-Yates: the held-out part is the tail */
            int64_t j = (int64_t)(splitmix(&s) % (uint64_t)(i + 1)), t = idx[i];
            idx[i] = idx[j], idx[j] = t;
        }
        for (size_t k = 0; st == VT_OK && k < p->wd.n; k++) {
            st = fit_score(ctx, &tr, idx, tr.n - n_hold, &tr, idx + tr.n - n_hold, n_hold, C, p->wd.v.f[k], p, res, err);
            if (st == VT_OK && res[0] > best[0]) best[0] = res[0], best_wd = p->wd.v.f[k];
        }
        for (int64_t i = 0; i < tr.n; i++) idx[i] = i;
        for (int64_t i = 0; i < te.n; i++) idx[tr.n + i] = i;
        if (st == VT_OK) st = fit_score(ctx, &tr, idx, tr.n, &te, idx + tr.n, te.n, C, best_wd, p, res, err);
    }
    if (st == VT_OK) {
        bm->metrics[0] = (vt_metric){"acc1", res[0]};
        bm->metrics[1] = (vt_metric){"acc5", res[1]};
        bm->metrics[2] = (vt_metric){"mean_per_class_recall", res[2]};
        bm->artifact = (vt_artifact){0};
        st = write_json(bm, plugin, m, best_wd, err);
    }
    if (st == VT_OK && bm->host && bm->host->log) {
        char line[256];
        snprintf(line, sizeof line, "linear_probe %s: acc1 %.4f acc5 %.4f recall %.4f (wd %g, %lld/%lld samples)",
                 plugin, res[0], res[1], res[2], best_wd, (long long)tr.n, (long long)te.n);
        bm->host->log(bm->host, VT_LOG_INFO, line);
    }
    if (st == VT_OK) {
        out->metrics = bm->metrics;
        out->n_metrics = 3;
        out->artifacts = bm->artifact.path ? &bm->artifact : NULL;
        out->n_artifacts = bm->artifact.path ? 1 : 0;
    }
    free(idx);
    feats_free(&tr);
    feats_free(&te);
    vt_cfg_free(tcfg);
    vt_component_params_free(comp, dparams);
    return st;
}

static const vt_benchmark_vtable lp_vtable = {
    .struct_size = sizeof(vt_benchmark_vtable),
    .create = lp_create,
    .destroy = lp_destroy,
    .run = lp_run,
};

static vt_status lp_init(vt_registrar *reg, vt_err *err) {
    return vt_register_benchmark(reg, "linear_probe", "logistic regression on frozen pooled features", lp_specs,
                                 sizeof(lp_params), &lp_vtable, err);
}

VISFT_PLUGIN_DEFINE("linear_probe", "0.1.0", "linear-probe benchmark (CLIP_benchmark style)", "MIT", lp_init);
