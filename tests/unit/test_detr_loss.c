/* DETR set criterion: loss values and gradients equal to a PyTorch reference of DETR's HungarianMatcher +
 * SetCriterion (tests/ref/gen_detr_loss.py: auxiliary layers, an image without targets, more targets than
 * queries, a batch without targets), box utilities against finite differences, and input errors. */
#include <math.h>
#include <string.h>

#include "golden.h"
#include "visft/detr_loss.h"
#include "vt_test.h"

typedef struct {
    const char *name;
    bool aux, parts;
} detr_case;

static vt_tensor *run_case(vt_ctx *c, vt_tensor **in, void *user) {
    const detr_case *dc = user;
    vt_detr_pred layers[3] = {{in[0], in[1]}};
    int n = 1;
    if (dc->aux)
        for (int64_t l = 0; l < in[5]->shape[0]; l++, n++) {
            layers[n].logits = vt_squeeze(c, vt_slice(c, in[5], 0, l, l + 1, 1), 0);
            layers[n].boxes = vt_squeeze(c, vt_slice(c, in[6], 0, l, l + 1, 1), 0);
        }
    vt_detr_targets t = {in[2], in[3], in[4]};
    vt_detr_loss_parts parts[3];
    vt_tensor *total = vt_detr_set_loss(c, layers, n, &t, NULL, parts);
    if (!dc->parts || !total) return total;
    vt_tensor *xs[9];
    for (int i = 0; i < n; i++) {
        xs[3 * i] = vt_reshape(c, parts[i].ce, VT_SHAPE(1));
        xs[3 * i + 1] = vt_reshape(c, parts[i].bbox, VT_SHAPE(1));
        xs[3 * i + 2] = vt_reshape(c, parts[i].giou, VT_SHAPE(1));
    }
    return vt_concat(c, 3 * n, xs, 0);
}

static const detr_case golden_cases[] = {
    {"final", false, false}, {"aux", true, false}, {"aux_parts", true, true},
    {"crowded_parts", false, true}, {"empty_parts", false, true},
};

START_TEST(set_criterion_matches_pytorch_reference) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("detr_loss.safetensors");
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++)
        vt_golden_check(c, g, golden_cases[i].name, run_case, (void *)&golden_cases[i], 1e-7, 1e-5);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

/* every target of an image with Q >= n_b boxes gets its own query */
START_TEST(matching_is_one_to_one) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("detr_loss.safetensors");
    vt_detr_pred p = {vt_golden_get(c, g, "final.in.0"), vt_golden_get(c, g, "final.in.1")};
    vt_detr_targets t = {vt_golden_get(c, g, "final.in.2"), vt_golden_get(c, g, "final.in.3"),
                         vt_golden_get(c, g, "final.in.4")};
    int64_t q[8];
    ck_assert_int_eq(vt_detr_match(c, &p, &t, NULL, q), VT_OK);
    for (int i = 0; i < 8; i++) {
        ck_assert(q[i] >= 0 && q[i] < 6);
        for (int j = 0; j < i; j++) ck_assert(vt_i64(t.image)[i] != vt_i64(t.image)[j] || q[i] != q[j]);
    }
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

static vt_tensor *giou_pairwise(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    vt_tensor *a = vt_box_cxcywh_to_xyxy(c, in[0]), *b = vt_box_cxcywh_to_xyxy(c, in[1]);
    return vt_generalized_box_iou(c, vt_unsqueeze(c, a, 1), b);
}
static vt_tensor *roundtrip(vt_ctx *c, vt_tensor **in, void *user) {
    (void)user;
    return vt_mul(c, vt_box_xyxy_to_cxcywh(c, vt_box_cxcywh_to_xyxy(c, in[0])), in[0]);
}

static vt_tensor *boxes_param(vt_ctx *c, int64_t n, uint64_t seed) {
    vt_tensor *b = vt_tensor_create(c, VT_F32, VT_SHAPE(n, 4));
    float *p = vt_f32(b), *u = vt_f32(vt_test_uniform(c, VT_SHAPE(n, 4), seed, 0.0f, 1.0f));
    for (int64_t i = 0; i < n; i++) /* centres 0.2..0.8, sizes 0.1..0.5: overlapping and disjoint pairs */
        p[4 * i] = 0.2f + 0.6f * u[4 * i], p[4 * i + 1] = 0.2f + 0.6f * u[4 * i + 1],
        p[4 * i + 2] = 0.1f + 0.4f * u[4 * i + 2], p[4 * i + 3] = 0.1f + 0.4f * u[4 * i + 3];
    vt_set_requires_grad(b, true);
    return b;
}

START_TEST(box_utilities_match_finite_differences) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *a = boxes_param(c, 4, 5), *b = boxes_param(c, 3, 6);
    vt_tensor *in[2] = {a, b};
    /* a small step: GIoU has kinks (clamps, max/min switches) that a 1e-2 step would straddle; these boxes keep
     * 1e-3 clear of them (analytic gradients also equal PyTorch float64 on other draws) */
    char why[512];
    ck_assert_msg(vt_gradcheck(c, giou_pairwise, 2, in, NULL, 1e-3, 2e-3, 1e-2, why, sizeof why), "giou: %s", why);
    ck_assert_msg(vt_gradcheck(c, roundtrip, 1, in, NULL, 1e-3, 2e-3, 1e-2, why, sizeof why), "roundtrip: %s", why);
    /* identical boxes have GIoU 1; far-apart ones approach -1 */
    vt_tensor *x = vt_from_f32(c, VT_SHAPE(2, 4), (float[]){0, 0, 1, 1, 10, 10, 11, 11});
    vt_tensor *gi = vt_generalized_box_iou(c, vt_slice(c, x, 0, 0, 1, 1), x);
    ck_assert(fabs(vt_item_at(gi, 0) - 1.0) < 1e-6 && vt_item_at(gi, 1) < -0.98);
    vt_tensor_release(a);
    vt_tensor_release(b);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(bad_inputs_are_errors) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *lg = vt_test_randn(c, VT_SHAPE(2, 3, 4), 1, 1.0f), *bx = vt_test_uniform(c, VT_SHAPE(2, 3, 4), 2, 0.1f, 0.9f);
    vt_tensor *tb = vt_test_uniform(c, VT_SHAPE(2, 4), 3, 0.1f, 0.5f);
    vt_detr_pred p = {lg, bx};
    struct {
        int64_t label, image;
        const char *want;
    } bad[] = {{3, 0, "box_labels 3"}, {-1, 0, "box_labels -1"}, {0, 2, "box_image 2"}};
    for (int i = 0; i < 3; i++) {
        vt_detr_targets t = {tb, vt_from_i64(c, VT_SHAPE(2), (int64_t[]){0, bad[i].label}),
                             vt_from_i64(c, VT_SHAPE(2), (int64_t[]){0, bad[i].image})};
        ck_assert_ptr_null(vt_detr_set_loss(c, &p, 1, &t, NULL, NULL));
        ck_assert_msg(strstr(vt_ctx_error(c)->msg, bad[i].want) != NULL, "%s", vt_ctx_error(c)->msg);
        vt_ctx_clear_error(c);
    }
    vt_detr_targets ok = {tb, vt_from_i64(c, VT_SHAPE(2), (int64_t[]){0, 1}), vt_from_i64(c, VT_SHAPE(2), (int64_t[]){0, 1})};
    vt_detr_pred wrong = {lg, vt_slice(c, bx, 2, 0, 3, 1)};
    ck_assert_ptr_null(vt_detr_set_loss(c, &wrong, 1, &ok, NULL, NULL));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "[2, 3, 3]") != NULL, "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    vt_f32(lg)[0] = NAN;
    ck_assert_ptr_null(vt_detr_set_loss(c, &p, 1, &ok, NULL, NULL));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "finite") != NULL, "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    ck_assert_ptr_null(vt_detr_set_loss(c, &p, 0, &ok, NULL, NULL));
    vt_ctx_clear_error(c);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("detr_loss", set_criterion_matches_pytorch_reference, matching_is_one_to_one,
             box_utilities_match_finite_differences, bad_inputs_are_errors)
