/* coco_detection: COCO box AP of a detection task's head. Feeds a dataset split (resized to the model's
 * input, normalised as it expects) through model->predict, gathers the ground truth of the collated batches
 * ("boxes_xyxy" pixels, or "boxes" normalised cxcywh, with "box_labels", "box_image", "box_crowd") and the
 * head's detections ("boxes" xywh pixels, "scores", "labels", "box_image"), writes them as a COCO ground
 * truth file and a results file and scores them with libvisft's COCOeval: AP, AP50, ... ARl. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visft/cocoeval.h>
#include <visft/config.h>
#include <visft/json.h>
#include <visft/model.h>
#include <visft/pipeline.h>
#include <visft/visft.h>

#include "data/coco_json.h"

typedef struct cd_params {
    char *task, *split, *iou_type;
    const struct vt_cfg_node *dataset;
    int64_t batch_size, max_images, num_classes;
} cd_params;

#define F(field) .offset = offsetof(cd_params, field)
static const vt_param_spec cd_specs[] = {
    {.name = "task", .type = VT_PARAM_STRING, F(task), .required = true, .min = 1, .max = 0,
     .help = "the detection task whose head predicts"},
    {.name = "dataset", .type = VT_PARAM_MAP, F(dataset), .required = true, .min = 1, .max = 0,
     .help = "the dataset: {plugin: NAME, ...that plugin's params}"},
    {.name = "split", .type = VT_PARAM_STRING, F(split), .default_value = "val", .min = 1, .max = 0,
     .help = "split evaluated"},
    {.name = "iou_type", .type = VT_PARAM_STRING, F(iou_type), .default_value = "bbox", .min = 1, .max = 0,
     .help = "bbox (segm is not supported by this benchmark)"},
    {.name = "batch_size", .type = VT_PARAM_INT, F(batch_size), .default_value = "8", .min = 1, .max = 65536,
     .help = "images per predict call"},
    {.name = "max_images", .type = VT_PARAM_INT, F(max_images), .default_value = "0", .min = 0, .max = 9.0e15,
     .help = "images evaluated (0: the whole split)"},
    {.name = "num_classes", .type = VT_PARAM_INT, F(num_classes), .default_value = "0", .min = 0, .max = 1000000,
     .help = "categories 1..C written to the ground truth (0: largest label seen + 1)"},
    VT_PARAM_END,
};
#undef F

typedef struct cd_box {
    int64_t image; /* 1-based image id */
    int64_t label;
    double score;
    double b[4]; /* x, y, w, h in pixels */
    int crowd;
} cd_box;

typedef struct cd_list {
    cd_box *v;
    size_t n, cap;
} cd_list;

typedef struct cd_bench {
    const cd_params *p;
    const vt_host *host;
    vt_metric metrics[VT_COCOEVAL_NSTATS];
    vt_artifact artifacts[2];
    char gt_path[4096], dt_path[4096];
} cd_bench;

typedef struct cd_data {
    cd_list gt, dt;
    int32_t *wh; /* [2 * n_images] width, height */
    int64_t n_images, cap_images, max_label;
} cd_data;

static void data_free(cd_data *d) {
    free(d->gt.v);
    free(d->dt.v);
    free(d->wh);
}

static vt_status push(cd_list *l, const cd_box *b, vt_err *err) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        cd_box *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return vt_err_set(err, VT_ENOMEM, "coco_detection: out of memory");
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = *b;
    return VT_OK;
}

static vt_status cd_create(const void *params, const vt_host *host, void **out, vt_err *err) {
    const cd_params *p = params;
    if (strcmp(p->iou_type, "bbox") != 0)
        return vt_err_set(err, VT_EINVAL, "coco_detection: iou_type '%s' is not supported (only bbox)", p->iou_type);
    cd_bench *b = calloc(1, sizeof *b);
    if (!b) return vt_err_set(err, VT_ENOMEM, "coco_detection: out of memory");
    b->p = p;
    b->host = host;
    *out = b;
    return VT_OK;
}

static void cd_destroy(void *self) { free(self); }

static vt_tensor *output(const vt_named_tensors *o, const char *name) {
    for (size_t i = 0; o && i < o->n; i++)
        if (o->items[i].name && strcmp(o->items[i].name, name) == 0) return o->items[i].tensor;
    return NULL;
}

static bool is_shape(const vt_tensor *t, vt_dtype dt, int ndim, int64_t d0, int64_t d1) {
    return t && t->dtype == dt && t->ndim == ndim && (d0 < 0 || t->shape[0] == d0) && (ndim < 2 || t->shape[1] == d1);
}

static vt_status ctx_fail(vt_ctx *ctx, vt_err *err, const char *what) {
    const vt_err *e = vt_ctx_error(ctx);
    vt_status code = e && e->code ? e->code : VT_EINVAL;
    vt_err_set(err, code, "coco_detection: %s: %s", what, e && e->code ? e->msg : "failed");
    vt_ctx_clear_error(ctx);
    return code;
}

/* The collate's per-image map from batch-image to stored-image pixels ([B, 4]: x = a·x' + b, y = c·y' + d), or
 * NULL when the batch has none: then ground truth and detections stay in batch-image pixels. */
static const float *image_map(const vt_batch *b) {
    vt_tensor *t = vt_batch_target(b, "image_to_orig");
    return t && t->dtype == VT_F32 && t->ndim == 2 && t->shape[0] == b->size && t->shape[1] == 4 ? vt_f32(t) : NULL;
}

/* Ground truth of the first `use` images of batch b (image ids base+1..). */
static vt_status add_gt(vt_ctx *ctx, const vt_batch *b, int64_t use, int64_t base, cd_data *d, vt_err *err) {
    vt_tensor *xy = vt_batch_target(b, "boxes_xyxy"), *cx = vt_batch_target(b, "boxes");
    vt_tensor *bi = vt_batch_target(b, "box_image"), *bl = vt_batch_target(b, "box_labels");
    vt_tensor *bc = vt_batch_target(b, "box_crowd");
    if (!bi || !bl || (!xy && !cx))
        return vt_err_set(err, VT_EINVAL, "coco_detection: the dataset gives no boxes (box_image, box_labels, boxes)");
    int64_t N = bi->ndim == 1 ? bi->shape[0] : -1;
    vt_tensor *src = xy ? xy : cx;
    if (!is_shape(bi, VT_I64, 1, N, 0) || !is_shape(bl, VT_I64, 1, N, 0) || !is_shape(src, VT_F32, 2, N, 4) ||
        (bc && !is_shape(bc, VT_U8, 1, N, 0)))
        return vt_err_set(err, VT_EINVAL, "coco_detection: batch box targets have unexpected shapes or types");
    src = vt_contiguous(ctx, src);
    if (!src) return ctx_fail(ctx, err, "boxes");
    double H = (double)b->images->shape[2], W = (double)b->images->shape[3];
    const float *q = vt_f32(src);
    const float *map = image_map(b);
    for (int64_t k = 0; k < N; k++) {
        int64_t img = vt_i64(bi)[k];
        if (img < 0 || img >= b->size)
            return vt_err_set(err, VT_EINVAL, "coco_detection: box_image %lld outside the batch", (long long)img);
        if (img >= use) continue;
        cd_box g = {.image = base + img + 1, .label = vt_i64(bl)[k], .crowd = bc ? ((uint8_t *)bc->data)[k] != 0 : 0};
        const float *r = q + 4 * k;
        if (xy) g.b[0] = r[0], g.b[1] = r[1], g.b[2] = r[2] - r[0], g.b[3] = r[3] - r[1];
        else g.b[0] = (r[0] - 0.5 * r[2]) * W, g.b[1] = (r[1] - 0.5 * r[3]) * H, g.b[2] = r[2] * W, g.b[3] = r[3] * H;
        if (map) { /* in the stored image's pixels, like the head's predictions (a flip reverses x) */
            const float *m = map + 4 * img;
            double x0 = m[0] * g.b[0] + m[1], x1 = m[0] * (g.b[0] + g.b[2]) + m[1];
            double y0 = m[2] * g.b[1] + m[3], y1 = m[2] * (g.b[1] + g.b[3]) + m[3];
            g.b[0] = fmin(x0, x1), g.b[1] = fmin(y0, y1), g.b[2] = fabs(x1 - x0), g.b[3] = fabs(y1 - y0);
        }
        if (g.label < 0) return vt_err_set(err, VT_EINVAL, "coco_detection: negative box label %lld", (long long)g.label);
        if (!(g.b[2] >= 0 && g.b[3] >= 0)) continue; /* degenerate after the transforms: not a box */
        if (g.label > d->max_label) d->max_label = g.label;
        vt_status st = push(&d->gt, &g, err);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

static vt_status add_dets(vt_ctx *ctx, const vt_named_tensors *o, const vt_batch *b, int64_t use, int64_t base,
                          cd_data *d, vt_err *err) {
    vt_tensor *bx = output(o, "boxes"), *sc = output(o, "scores"), *lb = output(o, "labels"), *bi = output(o, "box_image");
    if (!bx || !sc || !lb || !bi)
        return vt_err_set(err, VT_EINVAL, "coco_detection: predict must return boxes, scores, labels and box_image");
    int64_t K = bi->ndim == 1 ? bi->shape[0] : -1;
    if (!is_shape(bi, VT_I64, 1, K, 0) || !is_shape(lb, VT_I64, 1, K, 0) || !is_shape(sc, VT_F32, 1, K, 0) ||
        !is_shape(bx, VT_F32, 2, K, 4))
        return vt_err_set(err, VT_EINVAL,
                          "coco_detection: predict outputs must be boxes [K,4] f32, scores [K] f32, labels [K] i64, "
                          "box_image [K] i64");
    bx = vt_contiguous(ctx, bx);
    sc = vt_contiguous(ctx, sc);
    if (!bx || !sc) return ctx_fail(ctx, err, "predictions");
    for (int64_t k = 0; k < K; k++) {
        int64_t img = vt_i64(bi)[k];
        if (img < 0 || img >= b->size)
            return vt_err_set(err, VT_EINVAL, "coco_detection: predicted box_image %lld outside the batch",
                              (long long)img);
        if (img >= use) continue;
        cd_box t = {.image = base + img + 1, .label = vt_i64(lb)[k], .score = vt_f32(sc)[k]};
        for (int j = 0; j < 4; j++) t.b[j] = vt_f32(bx)[4 * k + j];
        if (t.label < 0) return vt_err_set(err, VT_EINVAL, "coco_detection: negative predicted label %lld", (long long)t.label);
        if (!isfinite(t.score) || !isfinite(t.b[0]) || !isfinite(t.b[1]) || !isfinite(t.b[2]) || !isfinite(t.b[3]))
            return vt_err_set(err, VT_EINVAL, "coco_detection: non-finite prediction %lld", (long long)k);
        if (t.b[2] < 0) t.b[2] = 0;
        if (t.b[3] < 0) t.b[3] = 0;
        if (t.label > d->max_label) d->max_label = t.label;
        vt_status st = push(&d->dt, &t, err);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

/* Runs the split through model->predict, collecting ground truth and detections. */
static vt_status collect(vt_ctx *ctx, vt_model *m, const vt_component *comp, const void *dparams,
                         const vt_cfg_node *transforms, const cd_params *p, const vt_host *host, cd_data *d, vt_err *err) {
    vt_pipeline_opts o = vt_pipeline_defaults();
    o.loader.batch_size = p->batch_size;
    o.loader.shuffle = false;
    o.loader.epochs = 1;
    o.loader.workers = 0;
    o.collate.targets = VT_COLLATE_BOXES;
    vt_pipeline *pl = NULL;
    vt_status st = vt_pipeline_open(comp, dparams, p->split, host, transforms, &o, &pl, err);
    if (st != VT_OK) return st;
    while (st == VT_OK && (p->max_images == 0 || d->n_images < p->max_images)) {
        const vt_batch *b = NULL;
        if ((st = vt_pipeline_next(pl, &b, NULL, err)) != VT_OK || !b) break;
        int64_t use = b->size;
        if (p->max_images > 0 && d->n_images + use > p->max_images) use = p->max_images - d->n_images;
        if (!b->images || b->images->ndim != 4) st = vt_err_set(err, VT_EINVAL, "coco_detection: batch has no images");
        if (st == VT_OK && d->n_images + use > d->cap_images) {
            int64_t cap = (d->cap_images ? d->cap_images * 2 : 64) + use;
            int32_t *nw = realloc(d->wh, (size_t)cap * 2 * sizeof *nw);
            if (!nw) st = vt_err_set(err, VT_ENOMEM, "coco_detection: out of memory");
            else d->wh = nw, d->cap_images = cap;
        }
        vt_scope_push(ctx);
        vt_named_tensors out = {0};
        if (st == VT_OK) st = add_gt(ctx, b, use, d->n_images, d, err);
        if (st == VT_OK && (st = m->predict(m, ctx, p->task, b, &out, err)) != VT_OK)
            vt_err_prefix(err, "coco_detection");
        if (st == VT_OK) st = add_dets(ctx, &out, b, use, d->n_images, d, err);
        vt_scope_pop(ctx);
        if (st == VT_OK) {
            for (int64_t i = 0; i < use; i++) {
                /* the stored image's size when the batch maps back to it (orig_size), else the batch image's */
                vt_tensor *os = image_map(b) ? vt_batch_target(b, "orig_size") : NULL;
                bool orig = os && os->dtype == VT_F32 && vt_numel(os) == 2 * b->size && vt_f32(os);
                d->wh[2 * (d->n_images + i)] = orig ? (int32_t)vt_f32(os)[2 * i] : (int32_t)b->images->shape[3];
                d->wh[2 * (d->n_images + i) + 1] = orig ? (int32_t)vt_f32(os)[2 * i + 1] : (int32_t)b->images->shape[2];
            }
            d->n_images += use;
        }
        vt_pipeline_release(pl, b);
    }
    vt_pipeline_destroy(pl);
    if (st == VT_OK && d->n_images == 0)
        st = vt_err_set(err, VT_EINVAL, "coco_detection: split '%s' gave no images", p->split);
    return st;
}

static vt_status write_file(const char *path, vt_json_writer *w, vt_err *err) {
    size_t len = 0;
    const char *s = vt_json_writer_str(w, &len);
    vt_status st = vt_json_writer_status(w, err);
    if (st != VT_OK) return st;
    FILE *f = fopen(path, "w");
    if (!f) return vt_err_set(err, VT_EIO, "coco_detection: cannot write %s", path);
    bool ok = fwrite(s, 1, len, f) == len;
    if (fclose(f) != 0 || !ok) return vt_err_set(err, VT_EIO, "coco_detection: write error on %s", path);
    return VT_OK;
}

static void write_box(vt_json_writer *w, const double b[4]) {
    vt_json_write_key(w, "bbox");
    vt_json_write_array_begin(w);
    for (int j = 0; j < 4; j++) vt_json_write_double(w, b[j]);
    vt_json_write_array_end(w);
}

/* gt: COCO instances JSON with categories 1..C; results: pycocotools' loadRes list. */
static vt_status write_jsons(const cd_data *d, int64_t C, const char *gt_path, const char *dt_path, vt_err *err) {
    vt_json_writer w;
    vt_json_writer_init(&w);
    vt_json_write_object_begin(&w);
    vt_json_write_key(&w, "images");
    vt_json_write_array_begin(&w);
    for (int64_t i = 0; i < d->n_images; i++) {
        vt_json_write_object_begin(&w);
        vt_json_write_key(&w, "id");
        vt_json_write_int(&w, i + 1);
        char fname[48]; /* the GT loader wants one; nothing reads the image back */
        snprintf(fname, sizeof fname, "%012lld.png", (long long)(i + 1));
        vt_json_write_key(&w, "file_name");
        vt_json_write_string(&w, fname);
        vt_json_write_key(&w, "width");
        vt_json_write_int(&w, d->wh[2 * i]);
        vt_json_write_key(&w, "height");
        vt_json_write_int(&w, d->wh[2 * i + 1]);
        vt_json_write_object_end(&w);
    }
    vt_json_write_array_end(&w);
    vt_json_write_key(&w, "annotations");
    vt_json_write_array_begin(&w);
    for (size_t i = 0; i < d->gt.n; i++) {
        const cd_box *g = &d->gt.v[i];
        vt_json_write_object_begin(&w);
        vt_json_write_key(&w, "id");
        vt_json_write_int(&w, (int64_t)i + 1);
        vt_json_write_key(&w, "image_id");
        vt_json_write_int(&w, g->image);
        vt_json_write_key(&w, "category_id");
        vt_json_write_int(&w, g->label + 1);
        write_box(&w, g->b);
        vt_json_write_key(&w, "area");
        vt_json_write_double(&w, g->b[2] * g->b[3]);
        vt_json_write_key(&w, "iscrowd");
        vt_json_write_int(&w, g->crowd);
        vt_json_write_object_end(&w);
    }
    vt_json_write_array_end(&w);
    vt_json_write_key(&w, "categories");
    vt_json_write_array_begin(&w);
    for (int64_t c = 0; c < C; c++) {
        char name[32];
        snprintf(name, sizeof name, "class_%lld", (long long)c);
        vt_json_write_object_begin(&w);
        vt_json_write_key(&w, "id");
        vt_json_write_int(&w, c + 1);
        vt_json_write_key(&w, "name");
        vt_json_write_string(&w, name);
        vt_json_write_object_end(&w);
    }
    vt_json_write_array_end(&w);
    vt_json_write_object_end(&w);
    vt_status st = write_file(gt_path, &w, err);
    vt_json_writer_reset(&w);
    vt_json_write_array_begin(&w);
    for (size_t i = 0; st == VT_OK && i < d->dt.n; i++) {
        const cd_box *t = &d->dt.v[i];
        vt_json_write_object_begin(&w);
        vt_json_write_key(&w, "image_id");
        vt_json_write_int(&w, t->image);
        vt_json_write_key(&w, "category_id");
        vt_json_write_int(&w, t->label + 1);
        write_box(&w, t->b);
        vt_json_write_key(&w, "score");
        vt_json_write_double(&w, t->score);
        vt_json_write_object_end(&w);
    }
    vt_json_write_array_end(&w);
    if (st == VT_OK) st = write_file(dt_path, &w, err);
    vt_json_writer_free(&w);
    return st;
}

/* Loads both files back and runs COCOeval (an empty results list scores 0 without a results file parse). */
static vt_status evaluate(const char *gt_path, const char *dt_path, bool any_det, double stats[VT_COCOEVAL_NSTATS],
                          vt_err *err) {
    vt_coco *gt = NULL;
    vt_coco_opts co = {.on_bad = VT_COCO_FAIL};
    vt_status st = vt_coco_load(gt_path, &co, &gt, err);
    if (st != VT_OK) return st;
    vt_coco_dets dets = {0};
    if (any_det) st = vt_coco_dets_load(dt_path, gt, &dets, err);
    vt_cocoeval_opts eo = {.iou_type = VT_COCOEVAL_BBOX, .threads = 1};
    if (st == VT_OK) st = vt_cocoeval(gt, &dets, &eo, stats, err);
    vt_coco_dets_free(&dets);
    vt_coco_free(gt);
    return st;
}

/* The output directory: host->run_dir, else a fresh temporary one (*tmp set, removed by the caller). */
static vt_status out_paths(cd_bench *bm, const vt_model *m, char *tmpdir, size_t tsize, bool *tmp, vt_err *err) {
    const char *dir = bm->host && bm->host->run_dir && *bm->host->run_dir ? bm->host->run_dir : NULL;
    *tmp = false;
    if (!dir) {
        const char *base = getenv("TMPDIR");
        int n = snprintf(tmpdir, tsize, "%s/visft_cocodet_XXXXXX", base && *base ? base : "/tmp");
        if (n < 0 || (size_t)n >= tsize || !mkdtemp(tmpdir))
            return vt_err_set(err, VT_EIO, "coco_detection: cannot create a temporary directory");
        dir = tmpdir;
        *tmp = true;
    }
    const char *stage = m->stage && *m->stage ? m->stage : "model";
    int a = snprintf(bm->gt_path, sizeof bm->gt_path, "%s/coco_detection_%s_%s_gt.json", dir, bm->p->task, stage);
    int b = snprintf(bm->dt_path, sizeof bm->dt_path, "%s/coco_detection_%s_%s_results.json", dir, bm->p->task, stage);
    if (a < 0 || b < 0 || (size_t)a >= sizeof bm->gt_path || (size_t)b >= sizeof bm->dt_path)
        return vt_err_set(err, VT_EINVAL, "coco_detection: output path is too long");
    return VT_OK;
}

static void log_line(const vt_host *h, const char *line) {
    if (h && h->log) h->log(h, VT_LOG_INFO, line);
}

static vt_status cd_run(void *self, struct vt_ctx *ctx, struct vt_model *m, vt_bench_result *out, vt_err *err) {
    cd_bench *bm = self;
    const cd_params *p = bm->p;
    if (!m || m->struct_size < offsetof(vt_model, impl) + sizeof m->impl || !m->registry)
        return vt_err_set(err, VT_EINVAL, "coco_detection: the model handle has no registry");
    if (m->struct_size < offsetof(vt_model, predict) + sizeof m->predict || !m->predict)
        return vt_err_set(err, VT_EINVAL,
                          "coco_detection: the host's model handle has no predict hook (host older than the plugin)");
    if (m->image_size <= 0) return vt_err_set(err, VT_EINVAL, "coco_detection: model image_size %lld", (long long)m->image_size);
    const char *plugin = NULL;
    const vt_cfg_node *pn = vt_cfg_child(p->dataset, "plugin");
    char loc[256];
    if (!pn || vt_cfg_as_string(pn, &plugin, err) != VT_OK)
        return vt_err_set(err, VT_EINVAL, "%s: coco_detection: dataset needs a `plugin` name",
                          vt_cfg_loc_str(p->dataset, loc, sizeof loc));
    const vt_component *comp;
    vt_status st = vt_registry_lookup(m->registry, VT_COMPONENT_DATASET, plugin, &comp, err);
    if (st != VT_OK) return vt_err_prefix(err, "coco_detection: dataset");
    void *dparams = NULL;
    static const char *const ignore[] = {"plugin", NULL};
    if ((st = vt_component_params_new(comp, p->dataset, ignore, &dparams, err)) != VT_OK) return st;
    /* squash to the model's square input (no crop: a crop would cut boxes), normalise as the model expects */
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "transforms:\n  - {resize: {size: %lld}}\n"
             "  - {normalize: {mean: [%.9g, %.9g, %.9g], std: [%.9g, %.9g, %.9g]}}\n",
             (long long)m->image_size, m->mean[0], m->mean[1], m->mean[2], m->std[0], m->std[1], m->std[2]);
    vt_cfg *tcfg = NULL;
    cd_data d = {.max_label = -1};
    st = vt_cfg_load_string(yaml, strlen(yaml), "coco_detection-transforms", VT_CFG_NO_BASE, &tcfg, err);
    const vt_cfg_node *tnode = st == VT_OK ? vt_cfg_child(vt_cfg_root(tcfg), "transforms") : NULL;
    if (st == VT_OK) st = collect(ctx, m, comp, dparams, tnode, p, bm->host, &d, err);
    int64_t C = p->num_classes > d.max_label + 1 ? p->num_classes : d.max_label + 1;
    if (C < 1) C = 1;
    char tmpdir[4096];
    bool tmp = false;
    double stats[VT_COCOEVAL_NSTATS];
    if (st == VT_OK) st = out_paths(bm, m, tmpdir, sizeof tmpdir, &tmp, err);
    if (st == VT_OK) st = write_jsons(&d, C, bm->gt_path, bm->dt_path, err);
    if (st == VT_OK) st = evaluate(bm->gt_path, bm->dt_path, d.dt.n > 0, stats, err);
    if (st == VT_OK) {
        char line[256];
        snprintf(line, sizeof line, "coco_detection %s (%s, %s): %lld images, %zu boxes, %zu detections", p->task,
                 plugin, m->stage ? m->stage : "", (long long)d.n_images, d.gt.n, d.dt.n);
        log_line(bm->host, line);
        for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) {
            bm->metrics[i] = (vt_metric){vt_cocoeval_stat_name(i), stats[i]};
            vt_cocoeval_summary_line(i, stats[i], line, sizeof line);
            log_line(bm->host, line);
        }
        out->metrics = bm->metrics;
        out->n_metrics = VT_COCOEVAL_NSTATS;
        out->artifacts = tmp ? NULL : bm->artifacts;
        out->n_artifacts = tmp ? 0 : 2;
        bm->artifacts[0] = (vt_artifact){"ground_truth", bm->gt_path};
        bm->artifacts[1] = (vt_artifact){"detections", bm->dt_path};
    }
    if (tmp) { /* nothing outlives the run when there is no run_dir */
        remove(bm->gt_path);
        remove(bm->dt_path);
        remove(tmpdir);
    }
    data_free(&d);
    vt_cfg_free(tcfg);
    vt_component_params_free(comp, dparams);
    return st;
}

static const vt_benchmark_vtable cd_vtable = {
    .struct_size = sizeof(vt_benchmark_vtable),
    .create = cd_create,
    .destroy = cd_destroy,
    .run = cd_run,
};

static vt_status cd_init(vt_registrar *reg, vt_err *err) {
    return vt_register_benchmark(reg, "coco_detection", "COCO box AP of a detection task's head", cd_specs,
                                 sizeof(cd_params), &cd_vtable, err);
}

VISFT_PLUGIN_DEFINE("coco_detection", "0.1.0", "COCO detection benchmark (AP, AP50, ... of a detection head)", "MIT",
                    cd_init);
