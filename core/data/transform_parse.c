/* Transform pipelines from YAML: a sequence of one-key maps (`- {resize: {short: 800, max: 1333}}`).
 * Every error names file:line:col and the dotted path of the node at fault. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "visft/config.h"
#include "data/transform_internal.h"

static const char *const k_ops[] = {"resize", "random_resize", "random_flip", "random_crop", "center_crop",
                                    "lsj", "pad", "normalize", "random_select"};
#define N_OPS (sizeof k_ops / sizeof k_ops[0])

static vt_status fail(const vt_cfg_node *n, vt_err *err, const char *what, const char *detail) {
    char loc[256], path[256];
    vt_cfg_loc_str(n, loc, sizeof loc);
    vt_cfg_path_str(n, path, sizeof path);
    return vt_err_set(err, VT_EINVAL, "%s: %s: %s%s", loc, path, what, detail ? detail : "");
}

/* Rejects keys of `map` not in `allowed` (with a "did you mean"). */
static vt_status check_keys(const vt_cfg_node *map, const char *const *allowed, size_t n, vt_err *err) {
    for (size_t i = 0; i < vt_cfg_len(map); i++) {
        const char *key = vt_cfg_key(map, i);
        bool ok = false;
        for (size_t j = 0; j < n && !ok; j++) ok = strcmp(key, allowed[j]) == 0;
        if (ok) continue;
        vt_cfg_loc kl = vt_cfg_key_where(map, i);
        char path[256];
        vt_cfg_path_str(map, path, sizeof path);
        const char *s = vt_suggest(key, allowed, n);
        return vt_err_set(err, VT_EINVAL, "%s:%d:%d: %s: unknown key '%s'%s%s%s", kl.file, kl.line, kl.col, path,
                          key, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    return VT_OK;
}

static vt_status node_int(const vt_cfg_node *n, int64_t lo, int64_t hi, int32_t *out, vt_err *err) {
    int64_t v;
    vt_status st = vt_cfg_as_int(n, &v, err);
    if (st) return st;
    if (v < lo || v > hi) {
        char d[96];
        snprintf(d, sizeof d, "%lld is out of range %lld..%lld", (long long)v, (long long)lo, (long long)hi);
        return fail(n, err, d, NULL);
    }
    *out = (int32_t)v;
    return VT_OK;
}

static vt_status get_int(const vt_cfg_node *map, const char *key, int64_t lo, int64_t hi, int32_t *out,
                         vt_err *err) {
    const vt_cfg_node *n = vt_cfg_child(map, key);
    return n ? node_int(n, lo, hi, out, err) : VT_OK; /* absent: keep the default */
}

static vt_status get_double(const vt_cfg_node *map, const char *key, double lo, double hi, double *out,
                            vt_err *err) {
    const vt_cfg_node *n = vt_cfg_child(map, key);
    if (!n) return VT_OK;
    double v;
    vt_status st = vt_cfg_as_double(n, &v, err);
    if (st) return st;
    if (!(v >= lo && v <= hi)) {
        char d[96];
        snprintf(d, sizeof d, "%g is out of range %g..%g", v, lo, hi);
        return fail(n, err, d, NULL);
    }
    *out = v;
    return VT_OK;
}

/* `size: N` (square) or `size: [h, w]`. */
static vt_status get_size(const vt_cfg_node *map, const char *key, int32_t *h, int32_t *w, vt_err *err) {
    const vt_cfg_node *n = vt_cfg_child(map, key);
    if (!n) return VT_OK;
    vt_status st;
    if (vt_cfg_typeof(n) == VT_CFG_SEQ) {
        if (vt_cfg_len(n) != 2) return fail(n, err, "expected N or [height, width]", NULL);
        if ((st = node_int(vt_cfg_item(n, 0), 1, VT_IMAGE_MAX_SIDE, h, err))) return st;
        return node_int(vt_cfg_item(n, 1), 1, VT_IMAGE_MAX_SIDE, w, err);
    }
    if ((st = node_int(n, 1, VT_IMAGE_MAX_SIDE, h, err))) return st;
    *w = *h;
    return VT_OK;
}

static vt_status get_interp(const vt_cfg_node *map, vt_image_filter *out, vt_err *err) {
    const vt_cfg_node *n = vt_cfg_child(map, "interp");
    if (!n) return VT_OK;
    const char *s;
    vt_status st = vt_cfg_as_string(n, &s, err);
    if (st) return st;
    if (strcmp(s, "bilinear") == 0) *out = VT_FILTER_BILINEAR;
    else if (strcmp(s, "bicubic") == 0) *out = VT_FILTER_BICUBIC;
    else return fail(n, err, "expected bilinear or bicubic, got ", s);
    return VT_OK;
}

static vt_status get_float3(const vt_cfg_node *map, const char *key, float out[3], vt_err *err) {
    const vt_cfg_node *n = vt_cfg_child(map, key);
    if (!n) return VT_OK;
    if (vt_cfg_typeof(n) != VT_CFG_SEQ || vt_cfg_len(n) != 3) return fail(n, err, "expected a list of 3 numbers", NULL);
    for (size_t i = 0; i < 3; i++) {
        double v;
        vt_status st = vt_cfg_as_double(vt_cfg_item(n, i), &v, err);
        if (st) return st;
        if (!isfinite(v)) return fail(vt_cfg_item(n, i), err, "not a finite number", NULL);
        out[i] = (float)v;
    }
    return VT_OK;
}

static vt_status require(const vt_cfg_node *map, const vt_cfg_node *at, const char *key, vt_err *err) {
    if (vt_cfg_child(map, key)) return VT_OK;
    return fail(at, err, "missing key ", key);
}

static vt_status parse_list(const vt_cfg_node *seq, vt_op_list *out, vt_transforms *t, uint32_t *next_id,
                            int depth, vt_err *err);

/* One op's argument map (`args` may be NULL / null for ops whose parameters all have defaults). */
static vt_status parse_op(vt_op *op, const char *name, const vt_cfg_node *args, const vt_cfg_node *at,
                          vt_transforms *t, uint32_t *next_id, int depth, vt_err *err) {
    static const char *const k_resize[] = {"short", "size", "max", "interp"};
    static const char *const k_rresize[] = {"short", "max", "interp"};
    static const char *const k_p[] = {"p"};
    static const char *const k_crop[] = {"min", "max"};
    static const char *const k_size[] = {"size"};
    static const char *const k_lsj[] = {"size", "min_scale", "max_scale", "interp"};
    static const char *const k_norm[] = {"mean", "std"};
    static const char *const k_select[] = {"p", "a", "b"};
    bool known = false;
    for (size_t i = 0; i < N_OPS && !known; i++) known = strcmp(name, k_ops[i]) == 0;
    if (!known) {
        const char *s = vt_suggest(name, k_ops, N_OPS);
        char d[160];
        snprintf(d, sizeof d, "'%s'%s%s%s", name, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        return fail(at, err, "unknown transform ", d);
    }
    if (args && vt_cfg_typeof(args) == VT_CFG_NULL) args = NULL;
    if (args && vt_cfg_typeof(args) != VT_CFG_MAP) return fail(args, err, "expected a map of parameters", NULL);
    const vt_cfg_node *where = args ? args : at;
    vt_status st = VT_OK;
    op->id = (*next_id)++;
    op->p = 0.5;
    op->interp = VT_FILTER_BILINEAR;
#define KEYS(list) \
    if (args && (st = check_keys(args, list, sizeof list / sizeof list[0], err))) return st
    if (strcmp(name, "resize") == 0) {
        op->kind = VT_OP_RESIZE;
        KEYS(k_resize);
        if (!args || (!vt_cfg_child(args, "short") && !vt_cfg_child(args, "size")))
            return fail(where, err, "resize needs `short` or `size`", NULL);
        if (vt_cfg_child(args, "short") && vt_cfg_child(args, "size"))
            return fail(where, err, "resize takes `short` or `size`, not both", NULL);
        op->n_shorts = 1;
        if ((st = get_int(args, "short", 1, VT_IMAGE_MAX_SIDE, &op->shorts[0], err))) return st;
        if ((st = get_size(args, "size", &op->size_h, &op->size_w, err))) return st;
        if ((st = get_int(args, "max", 1, VT_IMAGE_MAX_SIDE, &op->max_size, err))) return st;
        return get_interp(args, &op->interp, err);
    }
    if (strcmp(name, "random_resize") == 0) {
        op->kind = VT_OP_RANDOM_RESIZE;
        KEYS(k_rresize);
        if (!args || (st = require(args, where, "short", err))) return st ? st : fail(where, err, "missing key short", NULL);
        const vt_cfg_node *l = vt_cfg_child(args, "short");
        if (vt_cfg_typeof(l) != VT_CFG_SEQ || vt_cfg_len(l) == 0 || vt_cfg_len(l) > 32)
            return fail(l, err, "expected a list of 1 to 32 sizes", NULL);
        op->n_shorts = (int)vt_cfg_len(l);
        for (int i = 0; i < op->n_shorts; i++)
            if ((st = node_int(vt_cfg_item(l, (size_t)i), 1, VT_IMAGE_MAX_SIDE, &op->shorts[i], err))) return st;
        if ((st = get_int(args, "max", 1, VT_IMAGE_MAX_SIDE, &op->max_size, err))) return st;
        return get_interp(args, &op->interp, err);
    }
    if (strcmp(name, "random_flip") == 0) {
        op->kind = VT_OP_FLIP;
        KEYS(k_p);
        return args ? get_double(args, "p", 0, 1, &op->p, err) : VT_OK;
    }
    if (strcmp(name, "random_crop") == 0) {
        op->kind = VT_OP_RANDOM_CROP;
        KEYS(k_crop);
        if (!args) return fail(where, err, "random_crop needs `min` and `max`", NULL);
        if ((st = require(args, where, "min", err)) || (st = require(args, where, "max", err))) return st;
        if ((st = get_int(args, "min", 1, VT_IMAGE_MAX_SIDE, &op->crop_min, err))) return st;
        if ((st = get_int(args, "max", 1, VT_IMAGE_MAX_SIDE, &op->crop_max, err))) return st;
        if (op->crop_max < op->crop_min) return fail(vt_cfg_child(args, "max"), err, "max is below min", NULL);
        return VT_OK;
    }
    if (strcmp(name, "center_crop") == 0 || strcmp(name, "pad") == 0) {
        op->kind = name[0] == 'c' ? VT_OP_CENTER_CROP : VT_OP_PAD;
        KEYS(k_size);
        if (!args || (st = require(args, where, "size", err))) return st ? st : fail(where, err, "missing key size", NULL);
        return get_size(args, "size", &op->size_h, &op->size_w, err);
    }
    if (strcmp(name, "lsj") == 0) {
        op->kind = VT_OP_LSJ;
        KEYS(k_lsj);
        if (!args || (st = require(args, where, "size", err))) return st ? st : fail(where, err, "missing key size", NULL);
        op->min_scale = 0.1;
        op->max_scale = 2.0;
        if ((st = get_size(args, "size", &op->size_h, &op->size_w, err))) return st;
        if ((st = get_double(args, "min_scale", 1e-3, 100, &op->min_scale, err))) return st;
        if ((st = get_double(args, "max_scale", 1e-3, 100, &op->max_scale, err))) return st;
        if (op->max_scale < op->min_scale) return fail(where, err, "max_scale is below min_scale", NULL);
        return get_interp(args, &op->interp, err);
    }
    if (strcmp(name, "normalize") == 0) {
        op->kind = VT_OP_NORMALIZE;
        KEYS(k_norm);
        if (t->has_normalize) return fail(where, err, "normalize appears twice", NULL);
        if (!args) return fail(where, err, "normalize needs `mean` and `std`", NULL);
        if ((st = require(args, where, "mean", err)) || (st = require(args, where, "std", err))) return st;
        if ((st = get_float3(args, "mean", t->mean, err)) || (st = get_float3(args, "std", t->std, err))) return st;
        for (int c = 0; c < 3; c++)
            if (!(t->std[c] > 0)) return fail(vt_cfg_child(args, "std"), err, "std must be > 0", NULL);
        t->has_normalize = true;
        return VT_OK;
    }
    if (strcmp(name, "random_select") == 0) {
        op->kind = VT_OP_SELECT;
        KEYS(k_select);
        if (!args) return fail(where, err, "random_select needs `a` and `b`", NULL);
        if ((st = require(args, where, "a", err)) || (st = require(args, where, "b", err))) return st;
        if ((st = get_double(args, "p", 0, 1, &op->p, err))) return st;
        if ((st = parse_list(vt_cfg_child(args, "a"), &op->a, t, next_id, depth + 1, err))) return st;
        return parse_list(vt_cfg_child(args, "b"), &op->b, t, next_id, depth + 1, err);
    }
#undef KEYS
    return fail(at, err, "unknown transform ", name); /* not reached: name was checked above */
}

static void free_list(vt_op_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free_list(&l->ops[i].a);
        free_list(&l->ops[i].b);
    }
    free(l->ops);
    l->ops = NULL;
    l->n = 0;
}

static vt_status parse_list(const vt_cfg_node *seq, vt_op_list *out, vt_transforms *t, uint32_t *next_id,
                            int depth, vt_err *err) {
    if (!seq || vt_cfg_typeof(seq) == VT_CFG_NULL) return VT_OK;
    if (depth > 8) return fail(seq, err, "random_select nested too deeply", NULL);
    if (vt_cfg_typeof(seq) != VT_CFG_SEQ)
        return fail(seq, err, "expected a list of transforms (- {name: {params}})", NULL);
    size_t n = vt_cfg_len(seq);
    if (n == 0) return VT_OK;
    out->ops = calloc(n, sizeof *out->ops);
    if (!out->ops) return vt_err_set(err, VT_ENOMEM, "out of memory parsing transforms");
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        const vt_cfg_node *item = vt_cfg_item(seq, i);
        const char *name = NULL;
        const vt_cfg_node *args = NULL;
        if (vt_cfg_typeof(item) == VT_CFG_STRING) {
            name = vt_cfg_text(item); /* `- random_flip` with all defaults */
        } else if (vt_cfg_typeof(item) == VT_CFG_MAP && vt_cfg_len(item) == 1) {
            name = vt_cfg_key(item, 0);
            args = vt_cfg_item(item, 0);
        } else {
            return fail(item, err, "expected a one-key map {transform: {params}}", NULL);
        }
        vt_status st = parse_op(&out->ops[i], name, args, item, t, next_id, depth, err);
        if (st) return st;
    }
    return VT_OK;
}

vt_status vt_transforms_from_cfg(const struct vt_cfg_node *seq, vt_transforms **out, vt_err *err) {
    *out = NULL;
    vt_transforms *t = calloc(1, sizeof *t);
    if (!t) return vt_err_set(err, VT_ENOMEM, "out of memory parsing transforms");
    for (int c = 0; c < 3; c++) t->mean[c] = 0, t->std[c] = 1;
    uint32_t next_id = 0;
    vt_status st = parse_list(seq, &t->ops, t, &next_id, 0, err);
    if (st) {
        vt_transforms_free(t);
        return st;
    }
    *out = t;
    return VT_OK;
}

void vt_transforms_free(vt_transforms *t) {
    if (!t) return;
    free_list(&t->ops);
    free(t);
}

void vt_transforms_normalization(const vt_transforms *t, float mean[3], float std[3]) {
    for (int c = 0; c < 3; c++) {
        mean[c] = t ? t->mean[c] : 0.0f;
        std[c] = t ? t->std[c] : 1.0f;
    }
}

/* The decode hint of a list: its first geometric op must be a resize (flips and normalize commute). */
static int32_t list_min_short(const vt_op_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        const vt_op *op = &l->ops[i];
        switch (op->kind) {
        case VT_OP_FLIP:
        case VT_OP_NORMALIZE: continue;
        case VT_OP_RESIZE:
            return op->size_h ? (op->size_h > op->size_w ? op->size_h : op->size_w) : op->shorts[0];
        case VT_OP_RANDOM_RESIZE: {
            int32_t m = 0;
            for (int k = 0; k < op->n_shorts; k++) m = op->shorts[k] > m ? op->shorts[k] : m;
            return m;
        }
        case VT_OP_LSJ: {
            int32_t side = op->size_h > op->size_w ? op->size_h : op->size_w;
            return (int32_t)ceil(op->max_scale * side);
        }
        case VT_OP_SELECT: {
            int32_t a = list_min_short(&op->a), b = list_min_short(&op->b);
            return (a && b) ? (a > b ? a : b) : 0;
        }
        default: return 0;
        }
    }
    return 0;
}

int32_t vt_transforms_min_short(const vt_transforms *t) { return t ? list_min_short(&t->ops) : 0; }
