/* Benchmarks on the backbone as it is, and the before/after report (table and results.json). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer_internal.h"

void vt_bench_values_free(vt_bench_values *r) {
    for (size_t i = 0; r && i < r->n; i++) {
        free(r->v[i].benchmark);
        free(r->v[i].metric);
    }
    if (r) {
        free(r->v);
        memset(r, 0, sizeof *r);
    }
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static vt_status add_value(vt_bench_values *r, const char *bench, const char *metric, double v, vt_err *err) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        vt_bench_value *nv = realloc(r->v, cap * sizeof *nv);
        if (!nv) return vt_err_set(err, VT_ENOMEM, "benchmarks: out of memory");
        r->v = nv;
        r->cap = cap;
    }
    vt_bench_value *e = &r->v[r->n];
    e->benchmark = dup_str(bench);
    e->metric = dup_str(metric ? metric : "");
    e->value = v;
    if (!e->benchmark || !e->metric) {
        free(e->benchmark);
        free(e->metric);
        return vt_err_set(err, VT_ENOMEM, "benchmarks: out of memory");
    }
    r->n++;
    return VT_OK;
}

/* vt_model.predict: the backbone as it is now and the named task's head, without grad, in eval mode. */
static vt_status model_predict(vt_model *m, vt_ctx *ctx, const char *task, const vt_batch *batch,
                               vt_named_tensors *outputs, vt_err *err) {
    vt_trainer *t = m->impl;
    vt_trainer_head *h = NULL;
    for (size_t i = 0; task && i < t->n_heads; i++)
        if (!strcmp(t->heads[i].task->name, task)) h = &t->heads[i];
    if (!h) {
        char names[512] = "";
        size_t len = 0;
        for (size_t i = 0; i < t->n_heads && len < sizeof names; i++) {
            int n = snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", t->heads[i].task->name);
            if (n < 0) break;
            len += (size_t)n;
        }
        return vt_err_set(err, VT_EINVAL, "predict: no task '%s' (tasks: %s)", task ? task : "(null)",
                          t->n_heads ? names : "none");
    }
    if (!h->vt->predict)
        return vt_err_set(err, VT_EINVAL, "predict: the head of task '%s' (%s) has no predict", task,
                          h->task->head.plugin);
    if (!batch || !batch->images) return vt_err_set(err, VT_EINVAL, "predict: batch has no images");
    bool training = vt_is_training(ctx);
    vt_set_training(ctx, false);
    vt_no_grad_begin(ctx);
    vt_vit_output o;
    vt_batch db = *batch; /* the head sees the images on its own device; its outputs come back to the host */
    db.images = vt_trainer_input_to_device(t, ctx, batch->images);
    vt_status st = vt_vit_forward(ctx, t->vit, db.images, &o);
    if (st != VT_OK) st = vt_err_set(err, st, "predict: backbone: %s", vt_ctx_error(ctx)->msg);
    else if ((st = h->vt->predict(h->self, ctx, o.features, &db, outputs, err)) != VT_OK)
        vt_err_prefix(err, "predict: tasks.%s.head (%s)", task, h->task->head.plugin);
    else
        st = vt_trainer_outputs_to_host(t, ctx, outputs, err);
    vt_no_grad_end(ctx);
    vt_set_training(ctx, training);
    return st;
}

vt_status vt_trainer_run_benchmarks(vt_trainer *t, const char *label, vt_bench_values *out, vt_err *err) {
    const vt_experiment *exp = t->exp;
    t->model.stage = label;
    t->model.predict = model_predict; /* set here so trainer.c's model setup stays as it was */
    vt_set_training(t->c, false);
    vt_status st = VT_OK;
    for (size_t i = 0; st == VT_OK && i < exp->n_benchmarks; i++) {
        const vt_exp_plugin *b = &exp->benchmarks[i];
        char name[160];
        size_t same = 0; /* a plugin listed twice gets "#2", "#3" so the report keys stay unique */
        for (size_t j = 0; j < i; j++) same += strcmp(exp->benchmarks[j].plugin, b->plugin) == 0;
        if (same) snprintf(name, sizeof name, "%s#%zu", b->plugin, same + 1);
        else snprintf(name, sizeof name, "%s", b->plugin);
        if (!b->comp) return vt_err_set(err, VT_EINVAL, "benchmarks[%zu]: loaded without plugins", i);
        const vt_benchmark_vtable *vt = &b->comp->vt.benchmark;
        void *self = NULL;
        vt_trainer_logf(t, "benchmark %s (%s)", name, label);
        if ((st = vt->create(b->params, &t->host, &self, err)) != VT_OK) {
            vt_err_prefix(err, "benchmarks[%zu] (%s)", i, b->plugin);
            break;
        }
        vt_bench_result res;
        memset(&res, 0, sizeof res);
        vt_scope_push(t->c);
        st = vt->run(self, t->c, &t->model, &res, err);
        if (st != VT_OK) vt_err_prefix(err, "benchmarks[%zu] (%s), %s", i, b->plugin, label);
        for (size_t k = 0; st == VT_OK && k < res.n_metrics; k++)
            st = add_value(out, name, res.metrics[k].name, res.metrics[k].value, err);
        vt_scope_pop(t->c);
        vt->destroy(self);
    }
    return st;
}

static const vt_bench_value *find(const vt_bench_values *r, const char *bench, const char *metric) {
    for (size_t i = 0; r && i < r->n; i++)
        if (!strcmp(r->v[i].benchmark, bench) && !strcmp(r->v[i].metric, metric)) return &r->v[i];
    return NULL;
}

static void put_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void put_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f); /* JSON has no NaN */
}

/* One section {bench: {metric: value}}; which: 0 before, 1 after, 2 delta. */
static void section(FILE *f, const char *key, const vt_bench_values *before, const vt_bench_values *after, int which) {
    const vt_bench_values *base = which == 0 ? before : after;
    fprintf(f, ",\n  \"%s\": {", key);
    const char *open = NULL;
    bool first_metric = true;
    for (size_t i = 0; i < base->n; i++) {
        const vt_bench_value *v = &base->v[i];
        double x = v->value;
        if (which == 2) {
            const vt_bench_value *b = find(before, v->benchmark, v->metric);
            if (!b) continue;
            x = v->value - b->value;
        }
        if (!open || strcmp(open, v->benchmark)) {
            fprintf(f, "%s\n    ", open ? "}," : "");
            put_str(f, v->benchmark);
            fputs(": {", f);
            open = v->benchmark;
            first_metric = true;
        }
        fputs(first_metric ? "" : ", ", f);
        put_str(f, v->metric);
        fputs(": ", f);
        put_num(f, x);
        first_metric = false;
    }
    fprintf(f, "%s}", open ? "}\n  " : "");
}

vt_status vt_trainer_write_results(const char *path, const char *run_name, const vt_bench_values *before,
                                   const vt_bench_values *after, vt_err *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return vt_err_set(err, VT_EINVAL, "results: path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return vt_err_set(err, VT_EIO, "results: cannot write %s", tmp);
    fputs("{\n  \"run\": ", f);
    put_str(f, run_name ? run_name : "");
    if (before) section(f, "before", before, after, 0);
    if (after) section(f, "after", before, after, 1);
    if (before && after) section(f, "delta", before, after, 2);
    fputs("\n}\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return vt_err_set(err, VT_EIO, "results: write error on %s", tmp);
    }
    if (rename(tmp, path) != 0) return vt_err_set(err, VT_EIO, "results: cannot rename %s to %s", tmp, path);
    return VT_OK;
}

void vt_trainer_print_table(FILE *f, const vt_bench_values *before, const vt_bench_values *after) {
    const vt_bench_values *rows = after && after->n ? after : before;
    fprintf(f, "%-24s %-22s %10s %10s %10s\n", "benchmark", "metric", "before", "after", "delta");
    for (size_t i = 0; rows && i < rows->n; i++) {
        const vt_bench_value *v = &rows->v[i];
        const vt_bench_value *b = find(before, v->benchmark, v->metric), *a = find(after, v->benchmark, v->metric);
        char bs[32] = "-", as[32] = "-", ds[32] = "-";
        if (b) snprintf(bs, sizeof bs, "%.4f", b->value);
        if (a) snprintf(as, sizeof as, "%.4f", a->value);
        if (a && b) snprintf(ds, sizeof ds, "%+.4f", a->value - b->value);
        fprintf(f, "%-24s %-22s %10s %10s %10s\n", v->benchmark, v->metric, bs, as, ds);
    }
}
