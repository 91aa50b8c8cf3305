/* Devices on any machine: parsing and naming, what a build without CUDA (or a machine without a GPU) says
 * when asked for one, and that CPU-to-CPU moves behave (vt_to_device returns the tensor itself, move_ is a
 * no-op), and that the emulated accelerator emu:N exists everywhere and faults on host access to its memory. The
 * CUDA backend's own tests are test_cuda_ops.c, which skips without a GPU; test_emu_ops.c runs that suite on emu. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
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

START_TEST(emu_devices_parse_name_and_check) {
    vt_err err = {0};
    vt_device d;
    char buf[32];
    ck_assert_int_eq(vt_device_parse("emu:1", &d, &err), VT_OK);
    ck_assert(vt_device_equal(d, vt_emu(1)));
    ck_assert_str_eq(vt_device_str(d, buf, sizeof buf), "emu:1");
    ck_assert_int_eq(vt_device_check(d, &err), VT_OK);
    ck_assert_int_eq(vt_device_parse("emu", &d, &err), VT_OK);
    ck_assert(vt_device_equal(d, vt_emu(0)));
    ck_assert_int_eq(vt_device_count(VT_DEVICE_EMU), 4);
    ck_assert_int_eq(vt_device_check(vt_emu(3), &err), VT_OK);
    const char *bad[] = {"emu:", "emu:4", "emu:-1", "emu:1x", "emu:01", "EMU:0", "emu0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(vt_device_parse(bad[i], &d, &err), VT_EINVAL);
    ck_assert_int_eq(vt_device_check(vt_emu(4), &err), VT_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "emu:4"));
    vt_ctx *c = vt_ctx_create(NULL);
    ck_assert_ptr_null(vt_empty_on(c, vt_emu(4), VT_F32, VT_SHAPE(2)));
    ck_assert_int_eq(vt_ctx_error(c)->code, VT_EUNSUPPORTED);
    vt_ctx_destroy(c);
}
END_TEST

/* Host code reading emu memory dies of SIGSEGV; the same data read through the backend (vt_item_at, a copy to
 * the host) is fine, and freed blocks are reused. */
START_TEST(host_access_to_emu_memory_faults) {
    vt_ctx *c = vt_ctx_create(NULL);
    vt_tensor *t = vt_full_on(c, vt_emu(1), VT_F32, VT_SHAPE(3, 5), 1.5);
    ck_assert_ptr_nonnull(t);
    ck_assert(vt_device_equal(t->device, vt_emu(1)));
    ck_assert_float_eq(vt_item_at(t, 7), 1.5f);
    ck_assert_ptr_null(vt_f32(t)); /* the host accessor refuses device tensors */
    vt_tensor *h = vt_to_device(c, t, vt_cpu());
    ck_assert(h && vt_f32(h)[14] == 1.5f);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* no crash reporter (ASan's included): just the signal */
        volatile float v = ((float *)t->data)[0];
        (void)v;
        _exit(0); /* reached only if the read did not fault */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "the child was not killed by SIGSEGV (status %d)",
                  status);
    /* a freed block is handed out again */
    vt_mem_stats before = vt_backend_of(VT_DEVICE_EMU)->mem->stats(c, 1);
    ck_assert_uint_eq(before.allocs, 1);
    void *data = t->data;
    vt_scope_push(c);
    vt_tensor *u = vt_empty_on(c, vt_emu(1), VT_F32, VT_SHAPE(16));
    ck_assert_ptr_ne(u->data, data);
    void *freed = u->data;
    vt_scope_pop(c);
    vt_tensor *w = vt_empty_on(c, vt_emu(1), VT_F32, VT_SHAPE(4, 4)); /* the same 64-byte class */
    ck_assert_ptr_eq(w->data, freed);
    vt_mem_stats after = vt_backend_of(VT_DEVICE_EMU)->mem->stats(c, 1);
    ck_assert_uint_eq(after.allocs, 3);
    ck_assert_uint_eq(after.cache_hits, 1);
    ck_assert(w && ((uintptr_t)w->data & 63) == 0);
    ck_assert(vt_ctx_ok(c));
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("device", parses_and_names_devices, unavailable_cuda_is_a_clear_error, cpu_moves_are_identity,
             emu_devices_parse_name_and_check, host_access_to_emu_memory_faults)
