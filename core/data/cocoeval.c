/* COCOeval in C: evaluate (per image and category, in parallel), accumulate (per category, in parallel),
 * summarize. Semantics follow pycocotools' cocoeval.py step for step; see visft/cocoeval.h. Every work item
 * writes only its own slots, so results do not depend on the thread count or schedule. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/coco_json.h"
#include "visft/cocoeval.h"

enum { T = 10, R = 101, A = 4, M = 3, MAXDET = 100 };

static const double k_area_lo[A] = {0, 0, 32 * 32, 96 * 96};
static const double k_area_hi[A] = {1e5 * 1e5, 32 * 32, 96 * 96, 1e5 * 1e5};
static const int k_max_dets[M] = {1, 10, 100};

/* numpy.linspace(start, stop, num): arange(num) * ((stop - start) / (num - 1)) + start, last = stop. */
static void linspace(double start, double stop, int num, double *out) {
    double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; i++) out[i] = (double)i * step + start;
    out[num - 1] = stop;
}

/* A (category, image) cell with ground truth or detections. */
typedef struct cell {
    int32_t label;
    uint32_t rank;           /* image position in sorted image ids */
    size_t gt0, ngt, dt0, ndt; /* ranges in the sorted gt / dt index arrays */
    /* evaluate's output */
    uint32_t nd;             /* detections kept (<= MAXDET), in score order */
    double *scores;          /* [nd] */
    uint16_t *tp, *fp;       /* [A][nd]: bit t set when a true / false positive at threshold t */
    uint32_t npig[A];        /* non-ignored ground truth per area range */
} cell;

typedef struct ctx {
    const vt_coco *gt;
    const vt_coco_dets *dt;
    vt_cocoeval_iou iou;
    uint32_t *img_rank;
    size_t *gt_idx, *dt_idx;
    double thr[T], rec[R];
} ctx;

/* ---- grouping ---- */

/* Sort items: key, then original index (so sorting keeps file order among equal keys). */
typedef struct kv {
    int64_t key;
    size_t idx;
} kv;

static int cmp_kv(const void *pa, const void *pb) {
    const kv *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Cells in (label, image rank) order: accumulate's concatenation order within a category. */
static vt_status make_cells(ctx *c, cell **out, size_t *n_out, size_t *n_gt, size_t *n_dt, vt_err *err) {
    const vt_coco *gt = c->gt;
    size_t ng = 0, nd = 0;
    for (size_t i = 0; i < gt->n_anns; i++) ng += gt->anns[i].label >= 0;
    for (size_t i = 0; i < c->dt->n; i++) nd += c->dt->v[i].label >= 0;
    c->gt_idx = malloc((ng ? ng : 1) * sizeof *c->gt_idx);
    c->dt_idx = malloc((nd ? nd : 1) * sizeof *c->dt_idx);
    cell *cells = malloc((ng + nd ? ng + nd : 1) * sizeof *cells);
    if (!c->gt_idx || !c->dt_idx || !cells) {
        free(cells);
        return vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
    }
    kv *tmp = malloc((ng > nd ? ng : nd) * sizeof *tmp + 1);
    if (!tmp) {
        free(cells);
        return vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
    }
    ng = nd = 0; /* key = label * 2^32 + image rank */
    for (size_t i = 0; i < gt->n_anns; i++)
        if (gt->anns[i].label >= 0)
            tmp[ng++] = (kv){((int64_t)gt->anns[i].label << 32) | c->img_rank[gt->anns[i].image], i};
    qsort(tmp, ng, sizeof *tmp, cmp_kv);
    for (size_t i = 0; i < ng; i++) c->gt_idx[i] = tmp[i].idx;
    for (size_t i = 0; i < c->dt->n; i++)
        if (c->dt->v[i].label >= 0)
            tmp[nd++] = (kv){((int64_t)c->dt->v[i].label << 32) | c->img_rank[c->dt->v[i].image], i};
    qsort(tmp, nd, sizeof *tmp, cmp_kv);
    for (size_t i = 0; i < nd; i++) c->dt_idx[i] = tmp[i].idx;
    free(tmp);
    size_t n = 0, i = 0, j = 0;
    while (i < ng || j < nd) {
        int64_t ki = INT64_MAX, kj = INT64_MAX; /* key = label * 2^32 + rank */
        if (i < ng) {
            const vt_coco_ann *a = &gt->anns[c->gt_idx[i]];
            ki = ((int64_t)a->label << 32) | c->img_rank[a->image];
        }
        if (j < nd) {
            const vt_coco_det *d = &c->dt->v[c->dt_idx[j]];
            kj = ((int64_t)d->label << 32) | c->img_rank[d->image];
        }
        int64_t k = ki < kj ? ki : kj;
        cell *cl = &cells[n++];
        memset(cl, 0, sizeof *cl);
        cl->label = (int32_t)(k >> 32);
        cl->rank = (uint32_t)(k & 0xffffffffu);
        cl->gt0 = i;
        while (i < ng && ki == k) {
            i++;
            if (i < ng) {
                const vt_coco_ann *a = &gt->anns[c->gt_idx[i]];
                ki = ((int64_t)a->label << 32) | c->img_rank[a->image];
            }
        }
        cl->ngt = i - cl->gt0;
        cl->dt0 = j;
        while (j < nd && kj == k) {
            j++;
            if (j < nd) {
                const vt_coco_det *d = &c->dt->v[c->dt_idx[j]];
                kj = ((int64_t)d->label << 32) | c->img_rank[d->image];
            }
        }
        cl->ndt = j - cl->dt0;
    }
    *out = cells;
    *n_out = n;
    *n_gt = ng;
    *n_dt = nd;
    return VT_OK;
}

/* ---- evaluate ---- */

/* Stable descending sort by score of dt indices (numpy's mergesort on -score): insertion sort for the
 * usual few, merge sort otherwise. */
static void sort_by_score(const vt_coco_dets *dt, size_t *v, size_t n, size_t *tmp) {
    if (n < 32) {
        for (size_t i = 1; i < n; i++) {
            size_t x = v[i], k = i;
            while (k > 0 && dt->v[v[k - 1]].score < dt->v[x].score) {
                v[k] = v[k - 1];
                k--;
            }
            v[k] = x;
        }
        return;
    }
    size_t h = n / 2;
    sort_by_score(dt, v, h, tmp);
    sort_by_score(dt, v + h, n - h, tmp);
    size_t a = 0, b = h, o = 0;
    while (a < h && b < n) tmp[o++] = dt->v[v[b]].score > dt->v[v[a]].score ? v[b++] : v[a++];
    while (a < h) tmp[o++] = v[a++];
    while (b < n) tmp[o++] = v[b++];
    memcpy(v, tmp, n * sizeof *v);
}

/* IoUs of the kept detections (rows, score order) with the cell's ground truth (columns, file order). */
static vt_status cell_ious(const ctx *c, const cell *cl, const size_t *dets, uint32_t nd, double *ious, vt_err *err) {
    const vt_coco *gt = c->gt;
    size_t ng = cl->ngt;
    uint8_t *crowd = malloc(ng ? ng : 1);
    if (!crowd) return vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
    for (size_t g = 0; g < ng; g++) crowd[g] = gt->anns[c->gt_idx[cl->gt0 + g]].iscrowd;
    vt_status st = VT_OK;
    if (c->iou == VT_COCOEVAL_BBOX) {
        double *db = malloc(((size_t)nd * 4 + 4) * sizeof *db), *gb = malloc((ng * 4 + 4) * sizeof *gb);
        if (db && gb) {
            for (uint32_t d = 0; d < nd; d++) memcpy(db + 4 * d, c->dt->v[dets[d]].bbox, sizeof(double[4]));
            for (size_t g = 0; g < ng; g++) memcpy(gb + 4 * g, gt->anns[c->gt_idx[cl->gt0 + g]].bbox, sizeof(double[4]));
            vt_bbox_iou(db, nd, gb, ng, crowd, ious);
        } else {
            st = vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
        }
        free(db);
        free(gb);
    } else {
        vt_rle *dr = calloc(nd + 1, sizeof *dr), *gr = calloc(ng + 1, sizeof *gr);
        uint8_t *own = calloc(nd + 1, 1); /* detection masks made here from boxes */
        if (!dr || !gr || !own) st = vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
        for (uint32_t d = 0; st == VT_OK && d < nd; d++) {
            const vt_coco_det *det = &c->dt->v[dets[d]];
            if (det->has_segm) {
                dr[d] = det->segm; /* borrowed */
            } else { /* loadRes gives box results a box polygon as their segmentation */
                const vt_coco_image *im = &gt->images[det->image];
                st = vt_rle_from_bbox(det->bbox, im->height, im->width, &dr[d], err);
                own[d] = 1;
            }
        }
        for (size_t g = 0; st == VT_OK && g < ng; g++) {
            const vt_coco_ann *a = &gt->anns[c->gt_idx[cl->gt0 + g]];
            st = vt_coco_ann_rle(gt, a, &gr[g], err);
            if (st != VT_OK) vt_err_prefix(err, "ground truth annotation id %lld", (long long)a->id);
        }
        if (st == VT_OK) vt_rle_iou(dr, nd, gr, ng, crowd, ious);
        for (uint32_t d = 0; dr && own && d < nd; d++)
            if (own[d]) vt_rle_free(&dr[d]);
        for (size_t g = 0; gr && g < ng; g++) vt_rle_free(&gr[g]);
        free(dr);
        free(gr);
        free(own);
    }
    free(crowd);
    return st;
}

/* pycocotools' evaluateImg for every area range at maxDet 100, kept as true/false-positive bits. */
static vt_status evaluate_cell(const ctx *c, cell *cl, vt_err *err) {
    const vt_coco *gt = c->gt;
    size_t ng = cl->ngt;
    size_t *dets = malloc((cl->ndt * 2 + 1) * sizeof *dets);
    if (!dets) return vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
    memcpy(dets, c->dt_idx + cl->dt0, cl->ndt * sizeof *dets);
    sort_by_score(c->dt, dets, cl->ndt, dets + cl->ndt);
    uint32_t nd = cl->ndt < MAXDET ? (uint32_t)cl->ndt : MAXDET;
    cl->nd = nd;
    cl->scores = malloc((nd + 1) * sizeof *cl->scores);
    cl->tp = calloc((size_t)A * nd + 1, sizeof *cl->tp);
    cl->fp = calloc((size_t)A * nd + 1, sizeof *cl->fp);
    double *ious = malloc(((size_t)nd * ng + 1) * sizeof *ious);
    size_t *perm = malloc((ng + 1) * sizeof *perm);
    uint8_t *ig = malloc(ng + 1), *gtm = malloc(ng + 1);
    vt_status st = VT_OK;
    if (!cl->scores || !cl->tp || !cl->fp || !ious || !perm || !ig || !gtm)
        st = vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
    if (st == VT_OK && nd && ng) st = cell_ious(c, cl, dets, nd, ious, err);
    for (uint32_t d = 0; st == VT_OK && d < nd; d++) cl->scores[d] = c->dt->v[dets[d]].score;
    for (int a = 0; st == VT_OK && a < A; a++) {
        /* ground truth ignored if crowd or outside the area range; non-ignored first (stable) */
        size_t np = 0;
        for (size_t g = 0; g < ng; g++) {
            const vt_coco_ann *an = &gt->anns[c->gt_idx[cl->gt0 + g]];
            ig[g] = an->iscrowd || an->area < k_area_lo[a] || an->area > k_area_hi[a];
            if (!ig[g]) perm[np++] = g;
        }
        cl->npig[a] = (uint32_t)np;
        for (size_t g = 0, q = np; g < ng; g++)
            if (ig[g]) perm[q++] = g;
        uint16_t *tp = cl->tp + (size_t)a * nd, *fp = cl->fp + (size_t)a * nd;
        for (int t = 0; t < T; t++) {
            memset(gtm, 0, ng);
            for (uint32_t d = 0; d < nd; d++) {
                double best = c->thr[t] < 1 - 1e-10 ? c->thr[t] : 1 - 1e-10;
                long m = -1;
                for (size_t q = 0; q < ng; q++) {
                    size_t g = perm[q];
                    if (gtm[q] && !gt->anns[c->gt_idx[cl->gt0 + g]].iscrowd) continue;
                    if (m > -1 && !ig[perm[m]] && ig[g]) break; /* only ignored ones are left */
                    double v = ious[(size_t)d * ng + g];
                    if (v < best) continue;
                    best = v;
                    m = (long)q;
                }
                bool matched = false, dig = false;
                if (m > -1) {
                    const vt_coco_ann *an = &gt->anns[c->gt_idx[cl->gt0 + perm[m]]];
                    dig = ig[perm[m]];
                    matched = an->id != 0; /* pycocotools stores the gt id; 0 reads as unmatched */
                    gtm[m] = 1;
                }
                double area = c->dt->v[dets[d]].area;
                if (!matched && (area < k_area_lo[a] || area > k_area_hi[a])) dig = true;
                if (!dig) {
                    if (matched) tp[d] |= (uint16_t)(1u << t);
                    else fp[d] |= (uint16_t)(1u << t);
                }
            }
        }
    }
    free(dets);
    free(ious);
    free(perm);
    free(ig);
    free(gtm);
    return st;
}

/* ---- accumulate ---- */

typedef struct ent {
    double score;
    uint32_t cell, pos; /* cell index (in image order) and rank within the cell */
} ent;

static int cmp_ent(const void *pa, const void *pb) {
    const ent *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->cell != b->cell) return a->cell < b->cell ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* precision[((t * R + r) * K + k) * A * M + a * M + m], recall[((t * K + k) * A + a) * M + m] */
static vt_status accumulate_cat(const ctx *c, const cell *cells, size_t c0, size_t c1, size_t K, int32_t k,
                                double *precision, double *recall) {
    size_t n = 0;
    for (size_t i = c0; i < c1; i++) n += cells[i].nd;
    ent *e = malloc((n + 1) * sizeof *e);
    double *rc = malloc((n + 1) * sizeof *rc), *pr = malloc((n + 1) * sizeof *pr);
    uint32_t *tpc = malloc((n + 1) * T * sizeof *tpc), *fpc = malloc((n + 1) * T * sizeof *fpc);
    if (!e || !rc || !pr || !tpc || !fpc) {
        free(e), free(rc), free(pr), free(tpc), free(fpc);
        return VT_ENOMEM;
    }
    n = 0;
    for (size_t i = c0; i < c1; i++)
        for (uint32_t d = 0; d < cells[i].nd; d++) e[n++] = (ent){cells[i].scores[d], (uint32_t)i, d};
    /* one sort serves every maxDet: a stable sort of a subsequence is the subsequence of the stable sort */
    qsort(e, n, sizeof *e, cmp_ent);
    for (int a = 0; a < A; a++) {
        size_t npig = 0;
        for (size_t i = c0; i < c1; i++) npig += cells[i].npig[a];
        if (npig == 0) continue;
        for (int m = 0; m < M; m++) {
            /* cumulative tp / fp counts per threshold over the detections kept at this maxDet */
            size_t nd = 0;
            uint32_t ctp[T] = {0}, cfp[T] = {0};
            for (size_t i = 0; i < n; i++) {
                if (e[i].pos >= (uint32_t)k_max_dets[m]) continue;
                const cell *cl = &cells[e[i].cell];
                uint16_t tb = cl->tp[(size_t)a * cl->nd + e[i].pos], fb = cl->fp[(size_t)a * cl->nd + e[i].pos];
                for (int t = 0; t < T; t++) {
                    ctp[t] += (tb >> t) & 1u;
                    cfp[t] += (fb >> t) & 1u;
                    tpc[nd * T + t] = ctp[t];
                    fpc[nd * T + t] = cfp[t];
                }
                nd++;
            }
            for (int t = 0; t < T; t++) {
                for (size_t i = 0; i < nd; i++) {
                    double tp = tpc[i * T + t], fp = fpc[i * T + t];
                    rc[i] = tp / (double)npig;
                    pr[i] = tp / (fp + tp + 2.220446049250313e-16); /* np.spacing(1) */
                }
                recall[(((size_t)t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
                for (size_t i = nd; i-- > 1;)
                    if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
                size_t pi = 0; /* searchsorted(rc, rec, 'left'): first i with rc[i] >= rec */
                for (int r = 0; r < R; r++) {
                    while (pi < nd && rc[pi] < c->rec[r]) pi++;
                    precision[(((size_t)t * R + r) * K + k) * A * M + (size_t)a * M + m] = pi < nd ? pr[pi] : 0;
                }
            }
        }
    }
    free(e), free(rc), free(pr), free(tpc), free(fpc);
    return VT_OK;
}

/* ---- summarize ---- */

static double summarize(const ctx *c, const double *precision, const double *recall, size_t K, bool ap,
                        double iou_thr, int a, int m) {
    double sum = 0;
    size_t cnt = 0;
    for (int t = 0; t < T; t++) {
        if (iou_thr >= 0 && c->thr[t] != iou_thr) continue;
        for (size_t k = 0; k < K; k++) {
            if (ap) {
                for (int r = 0; r < R; r++) {
                    double v = precision[(((size_t)t * R + r) * K + k) * A * M + (size_t)a * M + m];
                    if (v > -1) sum += v, cnt++;
                }
            } else {
                double v = recall[(((size_t)t * K + k) * A + a) * M + m];
                if (v > -1) sum += v, cnt++;
            }
        }
    }
    return cnt ? sum / (double)cnt : -1;
}

static const struct {
    const char *name;
    bool ap;
    double iou;
    int area, maxdet;
} k_stats[VT_COCOEVAL_NSTATS] = {
    {"AP", 1, -1, 0, 2},    {"AP50", 1, .5, 0, 2}, {"AP75", 1, .75, 0, 2}, {"APs", 1, -1, 1, 2},
    {"APm", 1, -1, 2, 2},   {"APl", 1, -1, 3, 2},  {"AR1", 0, -1, 0, 0},   {"AR10", 0, -1, 0, 1},
    {"AR100", 0, -1, 0, 2}, {"ARs", 0, -1, 1, 2},  {"ARm", 0, -1, 2, 2},   {"ARl", 0, -1, 3, 2},
};

const char *vt_cocoeval_stat_name(int i) { return i >= 0 && i < VT_COCOEVAL_NSTATS ? k_stats[i].name : "?"; }

void vt_cocoeval_summary_line(int i, double value, char *buf, size_t size) {
    if (i < 0 || i >= VT_COCOEVAL_NSTATS) {
        snprintf(buf, size, "?");
        return;
    }
    static const char *areas[A] = {"all", "small", "medium", "large"};
    char iou[16];
    if (k_stats[i].iou < 0) snprintf(iou, sizeof iou, "0.50:0.95");
    else snprintf(iou, sizeof iou, "%0.2f", k_stats[i].iou);
    snprintf(buf, size, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f",
             k_stats[i].ap ? "Average Precision" : "Average Recall", k_stats[i].ap ? "(AP)" : "(AR)", iou,
             areas[k_stats[i].area], k_max_dets[k_stats[i].maxdet], value);
}

vt_status vt_cocoeval(const vt_coco *gt, const vt_coco_dets *dt, const vt_cocoeval_opts *opts,
                      double stats[VT_COCOEVAL_NSTATS], vt_err *err) {
    ctx c = {.gt = gt, .dt = dt, .iou = opts ? opts->iou_type : VT_COCOEVAL_BBOX};
    int threads = opts && opts->threads > 0 ? opts->threads : omp_get_max_threads();
    linspace(0.5, 0.95, T, c.thr);
    linspace(0.0, 1.0, R, c.rec);
    for (size_t i = 0; i < dt->n; i++) {
        if (dt->v[i].image >= gt->n_images)
            return vt_err_set(err, VT_EINVAL, "cocoeval: detection %zu: image index out of range", i);
        if (c.iou == VT_COCOEVAL_BBOX && !dt->v[i].has_bbox)
            return vt_err_set(err, VT_EINVAL, "cocoeval: detection %zu has no bbox (needed for iou type bbox)", i);
    }
    size_t K = gt->n_cats, n_cells = 0, ng = 0, nd = 0;
    kv *order = malloc((gt->n_images + 1) * sizeof *order);
    c.img_rank = malloc((gt->n_images + 1) * sizeof *c.img_rank);
    double *precision = malloc(((size_t)T * R * K * A * M + 1) * sizeof *precision);
    double *recall = malloc(((size_t)T * K * A * M + 1) * sizeof *recall);
    cell *cells = NULL;
    vt_status st = order && c.img_rank && precision && recall ? VT_OK : vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
    if (st == VT_OK) {
        for (size_t i = 0; i < gt->n_images; i++) order[i] = (kv){gt->images[i].id, i};
        qsort(order, gt->n_images, sizeof *order, cmp_kv); /* p.imgIds = sorted(getImgIds()) */
        for (size_t i = 0; i < gt->n_images; i++) c.img_rank[order[i].idx] = (uint32_t)i;
        for (size_t i = 0; i < (size_t)T * R * K * A * M; i++) precision[i] = -1;
        for (size_t i = 0; i < (size_t)T * K * A * M; i++) recall[i] = -1;
        st = make_cells(&c, &cells, &n_cells, &ng, &nd, err);
    }
    if (st == VT_OK) {
        long first_bad = -1;
        vt_err cell_err = {0};
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
        for (size_t i = 0; i < n_cells; i++) {
            vt_err e = {0};
            if (evaluate_cell(&c, &cells[i], &e) != VT_OK) {
#pragma omp critical(vt_cocoeval_err)
                if (first_bad < 0 || (long)i < first_bad) { /* report the first cell's error, whatever the schedule */
                    first_bad = (long)i;
                    cell_err = e;
                }
            }
        }
        if (first_bad >= 0) {
            *err = cell_err;
            st = cell_err.code;
        }
    }
    if (st == VT_OK) {
        /* category ranges in the cell list */
        size_t *start = malloc((K + 2) * sizeof *start);
        int oom = !start;
        if (start) {
            size_t i = 0;
            for (size_t k = 0; k <= K; k++) {
                while (i < n_cells && (size_t)cells[i].label < k) i++;
                start[k] = i;
            }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
            for (size_t k = 0; k < K; k++)
                if (accumulate_cat(&c, cells, start[k], start[k + 1], K, (int32_t)k, precision, recall) != VT_OK) {
#pragma omp atomic write
                    oom = 1;
                }
        }
        free(start);
        if (oom) st = vt_err_set(err, VT_ENOMEM, "cocoeval: out of memory");
    }
    if (st == VT_OK)
        for (int i = 0; i < VT_COCOEVAL_NSTATS; i++)
            stats[i] = summarize(&c, precision, recall, K, k_stats[i].ap, k_stats[i].iou, k_stats[i].area,
                                 k_stats[i].maxdet);
    for (size_t i = 0; cells && i < n_cells; i++) {
        free(cells[i].scores);
        free(cells[i].tp);
        free(cells[i].fp);
    }
    free(cells);
    free(order);
    free(c.img_rank);
    free(c.gt_idx);
    free(c.dt_idx);
    free(precision);
    free(recall);
    return st;
}
