/* Devices on any machine: parsing and naming, what a build without CUDA (or a machine without a GPU) says
 * when asked for one, and that CPU-to-CPU moves behave (vt_to_device returns the tensor itself, move_ is a
 * no-op). The CUDA backend's own tests are test_cuda_ops.c, which skips without a GPU. */
#include <string.h>

#include "testutil.h"
#include "vt_test.h"

START_TEST(parses_and_names_devices) {
    vt_err err = {0};
    vt_device d;
    char buf[32];
    ck_assert_int_eq(vt_device_parse("cpu", &d, &err), VT_OK);
    ck_assert(vt_device_equal(d, vt_cpu()));
    ck_assert_str_eq(vt_device_str(d, buf, sizeof buf), "cpu");
    ck_assert_int_eq(vt_device_parse("cuda", &d, &err), VT_OK);
    ck_assert(vt_device_equal(d, vt_cuda(0)));
    ck_assert_int_eq(vt_device_parse("cuda:3", &d, &err), VT_OK);
    ck_assert_str_eq(vt_device_str(d, buf, sizeof buf), "cuda:3");
    const char *bad[] = {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1x", "cuda:99999", "CPU", "cuda: 1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(vt_device_parse(bad[i], &d, &err), VT_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "expected cpu, cuda or cuda:N"));
    }
    ck_assert_int_eq(vt_device_parse(NULL, &d, &err), VT_EINVAL);
}
END_TEST

START_TEST(unavailable_cuda_is_a_clear_error) {
    ck_assert_int_eq(vt_device_count(VT_DEVICE_CPU), 1);
    vt_err err = {0};
    ck_assert_int_eq(vt_device_check(vt_cpu(), &err), VT_OK);
    if (vt_device_count(VT_DEVICE_CUDA) > 0) return; /* a GPU machine: test_cuda_ops covers it */
    ck_assert_int_eq(vt_device_check(vt_cuda(0), &err), VT_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "cuda:0"));
    /* allocating there fails with the same kind of message, never a crash */
    vt_ctx *c = vt_ctx_create(NULL);
    ck_assert_ptr_null(vt_empty_on(c, vt_cuda(0), VT_F32, VT_SHAPE(2, 3)));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(vt_ctx_error(c)->msg, "cuda:0"));
    vt_ctx_clear_error(c);
    vt_tensor *x = vt_zeros(c, VT_F32, VT_SHAPE(4));
    ck_assert_ptr_null(vt_to_device(c, x, vt_cuda(1)));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_EUNSUPPORTED);
    vt_ctx_clear_error(c);
    ck_assert_int_ne(vt_device_synchronize(c, vt_cuda(0)), VT_OK);
    vt_ctx_destroy(c);
}
END_TEST

START_TEST(cpu_moves_are_identity) {
    vt_ctx *c = vt_ctx_create(NULL);
    vt_tensor *p = vt_tensor_create(c, VT_F32, VT_SHAPE(3));
    p->requires_grad = true;
    vt_tensor *y = vt_to_device(c, p, vt_cpu());
    ck_assert_ptr_eq(y, p);
    ck_assert_int_eq(vt_tensor_move_(c, p, vt_cpu()), VT_OK);
    /* a view cannot be moved in place: it does not own its storage */
    vt_tensor *v = vt_reshape(c, p, VT_SHAPE(1, 3));
    ck_assert_int_eq(vt_device_synchronize(c, vt_cpu()), VT_OK);
    if (vt_device_count(VT_DEVICE_CUDA) > 0) {
        ck_assert_int_eq(vt_tensor_move_(c, v, vt_cuda(0)), VT_EINVAL);
        vt_ctx_clear_error(c);
    }
    /* empty_like keeps the source's device; vt_zeros_on(cpu) is vt_zeros */
    vt_tensor *z = vt_zeros_on(c, vt_cpu(), VT_F32, VT_SHAPE(2));
    ck_assert(vt_device_equal(vt_empty_like(c, z)->device, vt_cpu()));
    ck_assert_float_eq(vt_item_at(z, 1), 0.0f);
    vt_tensor *f = vt_full_on(c, vt_cpu(), VT_F32, VT_SHAPE(2), 2.5);
    ck_assert_float_eq(vt_item_at(f, 1), 2.5f);
    ck_assert(vt_ctx_ok(c));
    vt_tensor_release(p);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("device", parses_and_names_devices, unavailable_cuda_is_a_clear_error, cpu_moves_are_identity)
