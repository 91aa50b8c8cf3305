/* Autograd engine: accumulation, no_grad, detach, graph reuse errors, fan-out, memory release. */
#include <string.h>

#include "testutil.h"
#include "vt_test.h"

START_TEST(gradients_accumulate_across_backward_calls) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *w = vt_test_param(c, VT_SHAPE(3), 1, 1.0f);
    float expect[3];
    for (int step = 0; step < 2; step++) { /* two micro-batches: grad of sum(w*x) is x, summed */
        vt_scope_push(c);
        vt_tensor *x = vt_from_f32(c, VT_SHAPE(3), (float[]){1.0f + step, 2.0f, -1.0f});
        ck_assert_int_eq(vt_backward(c, vt_sum_all(c, vt_mul(c, w, x))), VT_OK);
        vt_scope_pop(c);
    }
    expect[0] = 3.0f, expect[1] = 4.0f, expect[2] = -2.0f;
    for (int i = 0; i < 3; i++) ck_assert_float_eq_tol(vt_f32(w->grad)[i], expect[i], 1e-6);
    vt_zero_grad(w);
    ck_assert_ptr_null(w->grad);
    vt_tensor_release(w);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(fan_out_sums_gradients) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_param(c, VT_SHAPE(4), 2, 1.0f);
    /* y = sum(x*x + x): dy/dx = 2x + 1; x feeds three uses */
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, vt_add(c, vt_mul(c, x, x), x))), VT_OK);
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(vt_f32(x->grad)[i], 2.0f * vt_f32(x)[i] + 1.0f, 1e-5);
    vt_tensor_release(x);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(no_grad_and_detach_record_nothing) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_param(c, VT_SHAPE(4), 3, 1.0f);
    vt_no_grad_begin(c);
    vt_tensor *y = vt_exp(c, x);
    vt_no_grad_end(c);
    ck_assert(!y->requires_grad);
    ck_assert_ptr_null(y->grad_fn);
    vt_tensor *d = vt_detach(c, vt_exp(c, x));
    ck_assert(!d->requires_grad);
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, d)), VT_ESTATE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "does not require grad"), "%s", vt_ctx_error(c)->msg);
    vt_tensor_release(x);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(second_backward_through_consumed_graph_fails) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_param(c, VT_SHAPE(4), 4, 1.0f);
    vt_tensor *loss = vt_sum_all(c, vt_tanh(c, x));
    ck_assert_int_eq(vt_backward(c, loss), VT_OK);
    ck_assert_int_ne(vt_backward(c, loss), VT_OK);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "already consumed"), "%s", vt_ctx_error(c)->msg);
    vt_tensor_release(x);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(backward_needs_a_scalar) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *x = vt_test_param(c, VT_SHAPE(4), 5, 1.0f);
    ck_assert_int_eq(vt_backward(c, vt_exp(c, x)), VT_ESHAPE);
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "loss must have one element, got shape [4]"), "%s",
                  vt_ctx_error(c)->msg);
    vt_tensor_release(x);
    vt_ctx_destroy(c);
}
END_TEST

/* Saved activations are released by backward and scope pop; a repeated step reuses cached buffers. */
START_TEST(step_memory_is_released_and_reused) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *w = vt_test_param(c, VT_SHAPE(64, 64), 6, 0.1f);
    uint64_t live_after_first = 0;
    for (int step = 0; step < 3; step++) {
        vt_scope_push(c);
        vt_tensor *h = vt_test_randn(c, VT_SHAPE(32, 64), 7, 1.0f);
        for (int l = 0; l < 8; l++) h = vt_gelu(c, vt_linear(c, h, w, NULL));
        ck_assert_int_eq(vt_backward(c, vt_mean_all(c, h)), VT_OK);
        vt_scope_pop(c);
        vt_mem_stats m = vt_ctx_mem_stats(c);
        if (step == 0) live_after_first = m.live_bytes;
        ck_assert_uint_eq(m.live_bytes, live_after_first); /* params + their grads only */
    }
    vt_mem_stats m = vt_ctx_mem_stats(c);
    ck_assert_msg(m.cache_hits * 2 > m.allocs, "cache hits %llu of %llu allocations",
                  (unsigned long long)m.cache_hits, (unsigned long long)m.allocs);
    vt_tensor_release(w);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(requires_grad_only_on_f32_leaves) {
    vt_ctx *c = vt_test_ctx();
    vt_tensor *i = vt_tensor_create(c, VT_I64, VT_SHAPE(3));
    ck_assert_int_eq(vt_set_requires_grad(i, true), VT_EDTYPE);
    vt_tensor_release(i);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("autograd", gradients_accumulate_across_backward_calls, fan_out_sums_gradients,
             no_grad_and_detach_record_nothing, second_backward_through_consumed_graph_fails,
             backward_needs_a_scalar, step_memory_is_released_and_reused, requires_grad_only_on_f32_leaves)
