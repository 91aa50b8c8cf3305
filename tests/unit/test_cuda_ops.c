/* The op suite on the CUDA backend, checked against the CPU backend (the specification).
 *
 * Every case builds its inputs on the CPU from fixed seeds, runs the op there, moves the inputs to cuda:0
 * with vt_to_device (fresh CUDA leaves, requiring grad where the op is differentiable), runs the op again and
 * compares the outputs and the gradients of sum(out · w) (w fixed random) with per-op tolerances:
 *     |cuda − cpu| <= atol + rtol·|cpu| + scale·max|cpu|
 * (the scale term keeps GEMM-like results near zero from being judged by rtol alone). A case that fails does
 * not stop the others: every failure is printed with the op, the shape, the max abs and relative error and
 * the worst element, and each test fails at its end with the list. One line per op reports the worst errors,
 * so a run on a GPU doubles as a precision report.
 *
 * The binary needs a GPU: without one main() prints one SKIPPED line and exits 77 (ctest: skipped). Tests
 * run in one process (CK_NOFORK): the CUDA runtime cannot be used in a child forked after the parent
 * initialised it, and vt_device_count does. */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "visft/nn.h"
#include "visft/optim.h"
#include "vt_test.h"

#define MAXIN 8

/* ---- tolerances ---- */

typedef struct tol {
    double atol, rtol, scale; /* |cuda − cpu| <= atol + rtol·|cpu| + scale·max|cpu| */
} tol;

static const tol EXACT = {0, 0, 0};             /* copies, index ops, argmax/sort indices, dropout, uniform */
static const tol ELEM = {1e-6, 1e-5, 0};        /* elementwise math */
static const tol SUMS = {1e-6, 1e-5, 1e-6};     /* short sums: broadcast / scatter gradients */
static const tol RED = {1e-5, 1e-4, 1e-5};      /* reductions, norms, softmax, losses, resampling */
static const tol GEMM = {1e-5, 2e-4, 2e-5};     /* matmul / conv with K <= ~300 */
static const tol GEMM_BIG = {1e-5, 1e-3, 1e-4}; /* K ~ 1024 */
static const tol ATT = {1e-5, 5e-4, 5e-5};      /* attention */
static const tol VIT = {1e-5, 1e-3, 1e-4};      /* a whole model */
static const tol NORMAL = {1e-6, 2.5e-7, 0};    /* normal / trunc_normal fills: libdevice vs glibc (1-2 ulp) */

/* ---- soft failures: every case runs, each test fails at its end with what went wrong ---- */

/* Check caps an assertion message at 4 KiB by default: the log keeps what fits, stdout has every line. */
static char fail_log[2400];
static int fail_count;

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("test_cuda_ops: FAIL %s\n", line);
    fflush(stdout);
    size_t used = strlen(fail_log), add = strlen(line);
    if (used + add + 8 < sizeof fail_log) {
        if (used) strcat(fail_log, " | ");
        strcat(fail_log, line);
    } else if (used + 8 < sizeof fail_log && !strstr(fail_log, " | ...")) {
        strcat(fail_log, " | ...");
    }
    fail_count++;
}

static void begin_cases(void) {
    fail_log[0] = 0;
    fail_count = 0;
}
#define END_CASES() ck_assert_msg(fail_count == 0, "%d check(s) failed: %s", fail_count, fail_log)

/* The device under test: cuda:0, or emu:0 when built as test_emu_ops.c (VT_TEST_EMU). */
#ifdef VT_TEST_EMU
static vt_device gpu(void) { return vt_emu(0); }
#else
static vt_device gpu(void) { return vt_cuda(0); }
#endif

/* The case running now: a crash (all tests share one process) names it before the process dies. */
static char current_case[128] = "(setup)";
static void set_case(const char *name) {
    snprintf(current_case, sizeof current_case, "%s", name);
    fflush(stdout);
}

static void on_crash(int sig) {
    static const char head[] = "test_cuda_ops: CRASH (signal ";
    char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), ')', ' '};
    ssize_t r = write(STDOUT_FILENO, head, sizeof head - 1);
    r = write(STDOUT_FILENO, num, sizeof num);
    r = write(STDOUT_FILENO, "in case ", 8);
    r = write(STDOUT_FILENO, current_case, strlen(current_case));
    r = write(STDOUT_FILENO, "\n", 1);
    (void)r;
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- comparison ---- */

typedef struct errstat {
    double abs, rel; /* worst |cuda − cpu|, and that over max|cpu| */
} errstat;

static void merge(errstat *into, errstat e) {
    if (e.abs > into->abs) into->abs = e.abs;
    if (e.rel > into->rel) into->rel = e.rel;
}

/* A contiguous CPU copy (or t itself), not recorded by autograd. */
static vt_tensor *to_host(vt_ctx *c, vt_tensor *t) {
    vt_no_grad_begin(c);
    vt_tensor *h = t->device.kind == VT_DEVICE_CPU ? vt_contiguous(c, t) : vt_to_device(c, t, vt_cpu());
    vt_no_grad_end(c);
    return h;
}

/* got (a CUDA result when need_gpu) against want (the CPU result). */
static bool compare(vt_ctx *c, const char *op, const char *what, vt_tensor *got, vt_tensor *want, bool need_gpu,
                    tol t, errstat *out) {
    char sg[VT_SHAPE_STR_MAX], sw[VT_SHAPE_STR_MAX], dev[32];
    *out = (errstat){0, 0};
    if (!got || !want) {
        failf("%s %s: the %s result is NULL", op, what, !got ? "CUDA" : "CPU");
        return false;
    }
    vt_shape_str(want, sw, sizeof sw);
    if (need_gpu && !vt_device_equal(got->device, gpu())) {
        failf("%s %s %s: the result is on %s, not cuda:0", op, what, sw, vt_device_str(got->device, dev, sizeof dev));
        return false;
    }
    if (got->dtype != want->dtype || !vt_same_shape(got, want)) {
        failf("%s %s: cuda gives %s %s, cpu %s %s", op, what, vt_dtype_name(got->dtype),
              vt_shape_str(got, sg, sizeof sg), vt_dtype_name(want->dtype), sw);
        return false;
    }
    bool ok = false;
    vt_scope_push(c);
    vt_tensor *hg = to_host(c, got), *hw = to_host(c, want);
    if (!hg || !hw) {
        failf("%s %s %s: copy to the host failed: %s", op, what, sw, vt_ctx_error(c)->msg);
        vt_ctx_clear_error(c);
        goto done;
    }
    const int64_t n = vt_numel(hw);
    double maxref = 0, worst = 0, max_abs = 0;
    int64_t wi = -1;
    for (int64_t i = 0; i < n; i++) {
        double y = fabs(vt_item_at(hw, i));
        if (isfinite(y) && y > maxref) maxref = y;
    }
    for (int64_t i = 0; i < n; i++) {
        const double x = vt_item_at(hg, i), y = vt_item_at(hw, i);
        if (x == y || (isnan(x) && isnan(y))) continue;
        double d = fabs(x - y), r;
        if (!isfinite(x) || !isfinite(y)) {
            d = INFINITY;
            r = INFINITY;
        } else {
            const double bound = t.atol + t.rtol * fabs(y) + t.scale * maxref;
            r = bound > 0 ? d / bound : INFINITY;
        }
        if (d > max_abs) max_abs = d;
        if (r > worst) worst = r, wi = i;
    }
    out->abs = max_abs;
    out->rel = maxref > 0 ? max_abs / maxref : max_abs;
    ok = worst <= 1.0;
    if (!ok) {
        const double x = vt_item_at(hg, wi), y = vt_item_at(hw, wi);
        failf("%s %s %s: max abs err %.3g (%.3g of max|cpu| %.3g); worst element %lld: cuda %.9g vs cpu %.9g, "
              "rel err %.3g (tolerance %g + %g*|cpu| + %g*max|cpu|)",
              op, what, sw, max_abs, out->rel, maxref, (long long)wi, x, y, y != 0 ? fabs(x - y) / fabs(y) : INFINITY,
              t.atol, t.rtol, t.scale);
    }
done:
    vt_scope_pop(c);
    return ok;
}

/* ---- the harness ---- */

/* Options of the op functions below (each reads the fields it needs). */
typedef struct oparg {
    int op;
    int dim;
    int nd;
    int dims[4];
    int64_t k, oh, ow;
    double s, s2, s3;
    bool flag, flag2;
    vt_conv2d_opts conv;
    vt_pool2d_opts pool;
} oparg;

typedef vt_tensor *(*op_fn)(vt_ctx *c, vt_tensor **in, const oparg *a);

#define ARG(...) (&(oparg){__VA_ARGS__})
#define INS(...) (int)(sizeof((vt_tensor *[]){__VA_ARGS__}) / sizeof(vt_tensor *)), ((vt_tensor *const[]){__VA_ARGS__})

/* Runs fn on the CPU inputs and on their cuda:0 copies; compares outputs and, for the inputs whose bit is set
 * in diff, the gradients of sum(out · w). NULL inputs stay NULL (optional operands). */
static void check_op(vt_ctx *c, const char *name, op_fn fn, const oparg *a, int n, vt_tensor *const *in,
                     unsigned diff, tol tout, tol tgrad) {
    vt_tensor *xc[MAXIN] = {0}, *xg[MAXIN] = {0}, *yc = NULL, *yg = NULL;
    char shape[VT_SHAPE_STR_MAX] = "?", what[48];
    errstat so = {0, 0}, sg = {0, 0}, e;
    bool grads = false;
    ck_assert(n <= MAXIN);
    set_case(name);
    vt_scope_push(c);
    for (int i = 0; i < n; i++) {
        if (!in[i]) continue;
        xc[i] = vt_empty_like(c, in[i]);
        if (xc[i]) vt_copy_(c, xc[i], in[i]);
        xg[i] = vt_to_device(c, in[i], gpu());
        if (diff >> i & 1u) {
            if (xc[i]) vt_set_requires_grad(xc[i], true);
            if (xg[i]) vt_set_requires_grad(xg[i], true);
        }
    }
    if (!vt_ctx_ok(c)) {
        failf("%s: moving the inputs to cuda:0 failed: %s", name, vt_ctx_error(c)->msg);
        goto done;
    }
    yc = fn(c, xc, a);
    if (!yc) {
        failf("%s: the CPU reference failed: %s", name, vt_ctx_error(c)->msg);
        goto done;
    }
    vt_shape_str(yc, shape, sizeof shape);
    yg = fn(c, xg, a);
    if (!yg) {
        failf("%s %s on cuda:0 failed: %s", name, shape, vt_ctx_error(c)->msg);
        goto done;
    }
    compare(c, name, "output", yg, yc, true, tout, &so);
    if (diff && yc->dtype == VT_F32) {
        grads = true;
        vt_tensor *w = vt_test_randn(c, yc->ndim, yc->shape, 4242, 1.0f);
        vt_tensor *wg = vt_to_device(c, w, gpu());
        if (vt_backward(c, vt_sum_all(c, vt_mul(c, yc, w))) != VT_OK) {
            failf("%s %s: CPU backward failed: %s", name, shape, vt_ctx_error(c)->msg);
            goto done;
        }
        if (vt_backward(c, vt_sum_all(c, vt_mul(c, yg, wg))) != VT_OK) {
            failf("%s %s: backward on cuda:0 failed: %s", name, shape, vt_ctx_error(c)->msg);
            goto done;
        }
        for (int i = 0; i < n; i++) {
            if (!(diff >> i & 1u) || !xc[i]) continue;
            vt_tensor *gc = xc[i]->grad, *gg = xg[i]->grad;
            if (!gc && !gg) continue;
            snprintf(what, sizeof what, "grad of input %d", i);
            if (!gc || !gg) {
                failf("%s %s: %s: only the %s run has one", name, shape, what, gc ? "CPU" : "CUDA");
                continue;
            }
            compare(c, name, what, gg, gc, true, tgrad, &e);
            merge(&sg, e);
        }
    }
    if (grads)
        printf("test_cuda_ops: %-28s %-18s out abs %.1e rel %.1e | grad abs %.1e rel %.1e\n", name, shape, so.abs,
               so.rel, sg.abs, sg.rel);
    else
        printf("test_cuda_ops: %-28s %-18s out abs %.1e rel %.1e\n", name, shape, so.abs, so.rel);
done:
    vt_ctx_clear_error(c);
    vt_scope_pop(c);
}

/* ---- input makers (CPU, current scope) ---- */

#define RN(seed, ...) vt_test_randn(c, VT_SHAPE(__VA_ARGS__), (seed), 1.0f)
#define UN(seed, lo, hi, ...) vt_test_uniform(c, VT_SHAPE(__VA_ARGS__), (seed), (lo), (hi))

/* i64 values uniform in [0, hi). */
static vt_tensor *rand_ids(vt_ctx *c, int nd, const int64_t *shape, uint64_t seed, int64_t hi) {
    vt_tensor *u = vt_test_uniform(c, nd, shape, seed, 0.0f, (float)hi), *t = vt_empty(c, VT_I64, nd, shape);
    ck_assert(u && t);
    for (int64_t i = 0; i < vt_numel(t); i++) {
        int64_t v = (int64_t)floorf(vt_f32(u)[i]);
        vt_i64(t)[i] = v < 0 ? 0 : (v >= hi ? hi - 1 : v);
    }
    return t;
}

/* bool / u8 with each element set with probability p. */
static vt_tensor *rand_mask(vt_ctx *c, vt_dtype dt, int nd, const int64_t *shape, uint64_t seed, float p) {
    vt_tensor *u = vt_test_uniform(c, nd, shape, seed, 0.0f, 1.0f), *t = vt_empty(c, dt, nd, shape);
    ck_assert(u && t);
    for (int64_t i = 0; i < vt_numel(t); i++) ((uint8_t *)t->data)[i] = vt_f32(u)[i] < p;
    return t;
}

/* f32 holding integers in [lo, hi): many ties. */
static vt_tensor *rand_intf(vt_ctx *c, int nd, const int64_t *shape, uint64_t seed, int lo, int hi) {
    vt_tensor *t = vt_test_uniform(c, nd, shape, seed, (float)lo, (float)hi);
    ck_assert(t);
    for (int64_t i = 0; i < vt_numel(t); i++) vt_f32(t)[i] = floorf(vt_f32(t)[i]);
    return t;
}

static vt_ctx *make_ctx(void) {
    vt_ctx *c = vt_test_ctx();
    ck_assert_ptr_nonnull(c);
    vt_set_training(c, true);
    begin_cases();
    return c;
}

/* ==== elementwise ==== */

enum {
    U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_CLAMP, U_TANH, U_SIGMOID, U_RELU, U_GELU, U_GELU_TANH,
    U_QUICK_GELU, U_SILU, U_ADD_S, U_MUL_S, U_RSUB_S, U_RDIV_S, U_POW_S,
};

static vt_tensor *unary_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    vt_tensor *x = a->flag ? vt_transpose(c, in[0], 0, 1) : in[0];
    switch (a->op) {
    case U_NEG: return vt_neg(c, x);
    case U_EXP: return vt_exp(c, x);
    case U_LOG: return vt_log(c, x);
    case U_SQRT: return vt_sqrt(c, x);
    case U_RSQRT: return vt_rsqrt(c, x);
    case U_ABS: return vt_abs(c, x);
    case U_CLAMP: return vt_clamp(c, x, a->s, a->s2);
    case U_TANH: return vt_tanh(c, x);
    case U_SIGMOID: return vt_sigmoid(c, x);
    case U_RELU: return vt_relu(c, x);
    case U_GELU: return vt_gelu(c, x);
    case U_GELU_TANH: return vt_gelu_tanh(c, x);
    case U_QUICK_GELU: return vt_quick_gelu(c, x);
    case U_SILU: return vt_silu(c, x);
    case U_ADD_S: return vt_add_scalar(c, x, a->s);
    case U_MUL_S: return vt_mul_scalar(c, x, a->s);
    case U_RSUB_S: return vt_rsub_scalar(c, x, a->s);
    case U_RDIV_S: return vt_rdiv_scalar(c, x, a->s);
    case U_POW_S: return vt_pow_scalar(c, x, a->s);
    }
    return NULL;
}

START_TEST(elementwise_unary_and_scalar_ops) {
    vt_ctx *c = make_ctx();
    static const struct {
        const char *name;
        int op;
        double s, s2;
        bool positive;
    } cases[] = {
        {"neg", U_NEG, 0, 0, false},           {"exp", U_EXP, 0, 0, false},
        {"log", U_LOG, 0, 0, true},            {"sqrt", U_SQRT, 0, 0, true},
        {"rsqrt", U_RSQRT, 0, 0, true},        {"abs", U_ABS, 0, 0, false},
        {"clamp", U_CLAMP, -0.5, 0.7, false},  {"clamp_upper_only", U_CLAMP, -INFINITY, 0.3, false},
        {"clamp_lower_only", U_CLAMP, -0.2, INFINITY, false},
        {"tanh", U_TANH, 0, 0, false},         {"sigmoid", U_SIGMOID, 0, 0, false},
        {"relu", U_RELU, 0, 0, false},         {"gelu", U_GELU, 0, 0, false},
        {"gelu_tanh", U_GELU_TANH, 0, 0, false}, {"quick_gelu", U_QUICK_GELU, 0, 0, false},
        {"silu", U_SILU, 0, 0, false},         {"add_scalar", U_ADD_S, 0.75, 0, false},
        {"mul_scalar", U_MUL_S, -1.25, 0, false}, {"rsub_scalar", U_RSUB_S, 2.0, 0, false},
        {"rdiv_scalar", U_RDIV_S, 1.5, 0, true}, {"pow_scalar_2.5", U_POW_S, 2.5, 0, true},
        {"pow_scalar_2", U_POW_S, 2.0, 0, false}, {"pow_scalar_-0.5", U_POW_S, -0.5, 0, true},
    };
    vt_tensor *x = vt_test_randn(c, VT_SHAPE(37, 129), 1, 1.5f), *xp = UN(2, 0.3f, 2.5f, 37, 129);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_op(c, cases[i].name, unary_fn, ARG(.op = cases[i].op, .s = cases[i].s, .s2 = cases[i].s2),
                 INS(cases[i].positive ? xp : x), 1, ELEM, ELEM);
    /* strided input, and sizes past any block / vector tail */
    check_op(c, "exp_transposed", unary_fn, ARG(.op = U_EXP, .flag = true), INS(x), 1, ELEM, ELEM);
    check_op(c, "gelu_transposed", unary_fn, ARG(.op = U_GELU, .flag = true), INS(x), 1, ELEM, ELEM);
    vt_tensor *big = RN(3, 1000003), *bigp = UN(4, 0.3f, 2.5f, 1000003);
    check_op(c, "gelu_1M", unary_fn, ARG(.op = U_GELU), INS(big), 1, ELEM, ELEM);
    check_op(c, "sigmoid_1M", unary_fn, ARG(.op = U_SIGMOID), INS(big), 1, ELEM, ELEM);
    check_op(c, "log_1M", unary_fn, ARG(.op = U_LOG), INS(bigp), 1, ELEM, ELEM);
    check_op(c, "relu_7", unary_fn, ARG(.op = U_RELU), INS(RN(5, 7)), 1, ELEM, ELEM);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

enum { B_ADD, B_SUB, B_MUL, B_DIV };

static vt_tensor *binary_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    vt_tensor *x = a->flag ? vt_transpose(c, in[0], 0, 1) : in[0], *y = in[1];
    switch (a->op) {
    case B_ADD: return vt_add(c, x, y);
    case B_SUB: return vt_sub(c, x, y);
    case B_MUL: return vt_mul(c, x, y);
    case B_DIV: return vt_div(c, x, y);
    }
    return NULL;
}

START_TEST(elementwise_binary_ops_with_broadcasting) {
    vt_ctx *c = make_ctx();
    static const struct {
        const char *name;
        int na;
        int64_t sa[4];
        int nb;
        int64_t sb[4];
    } shapes[] = {
        {"same", 2, {33, 65, 0, 0}, 2, {33, 65, 0, 0}},
        {"last_dim", 4, {2, 3, 4, 5}, 1, {5, 0, 0, 0}},
        {"both", 3, {4, 1, 5, 0}, 2, {3, 1, 0, 0}},
        {"outer", 2, {3, 1, 0, 0}, 2, {1, 4, 0, 0}},
        {"0d", 2, {7, 3, 0, 0}, 0, {0, 0, 0, 0}},
        {"middle", 3, {6, 1, 8, 0}, 3, {1, 5, 1, 0}},
        {"lead_bcast", 3, {1, 9, 10, 0}, 3, {4, 9, 10, 0}},
        {"1M", 1, {1000003, 0, 0, 0}, 1, {1000003, 0, 0, 0}},
    };
    static const char *ops[] = {"add", "sub", "mul", "div"};
    char name[64];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        vt_tensor *x = vt_test_randn(c, shapes[s].na, shapes[s].sa, 10 + s, 1.0f);
        vt_tensor *y = vt_test_uniform(c, shapes[s].nb, shapes[s].sb, 20 + s, 0.5f, 2.0f);
        vt_tensor *ys = vt_test_randn(c, shapes[s].nb, shapes[s].sb, 30 + s, 1.0f);
        for (int op = B_ADD; op <= B_DIV; op++) {
            snprintf(name, sizeof name, "%s_%s", ops[op], shapes[s].name);
            check_op(c, name, binary_fn, ARG(.op = op), INS(x, op == B_DIV ? y : ys), 3, ELEM, SUMS);
        }
    }
    vt_tensor *xt = RN(40, 24, 16), *yt = UN(41, 0.5f, 2.0f, 16, 24);
    for (int op = B_ADD; op <= B_DIV; op++) {
        snprintf(name, sizeof name, "%s_transposed", ops[op]);
        check_op(c, name, binary_fn, ARG(.op = op, .flag = true), INS(xt, yt), 3, ELEM, SUMS);
    }
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== matmul / bmm / linear / lora_linear ==== */

enum { M_MM, M_MM_TA, M_MM_TB, M_MM_TAB, M_BMM, M_BMM_TB, M_LINEAR, M_LINEAR_TX, M_LORA };

static vt_tensor *matmul_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    vt_tensor *x = in[0], *y = in[1];
    switch (a->op) {
    case M_MM: return vt_matmul(c, x, y);
    case M_MM_TA: return vt_matmul(c, vt_transpose(c, x, -2, -1), y);
    case M_MM_TB: return vt_matmul(c, x, vt_transpose(c, y, -2, -1));
    case M_MM_TAB: return vt_matmul(c, vt_transpose(c, x, -2, -1), vt_transpose(c, y, -2, -1));
    case M_BMM: return vt_bmm(c, x, y);
    case M_BMM_TB: return vt_bmm(c, x, vt_transpose(c, y, -2, -1));
    case M_LINEAR: return vt_linear(c, x, y, in[2]);
    case M_LINEAR_TX: return vt_linear(c, vt_transpose(c, x, 0, 1), y, in[2]);
    case M_LORA: {
        vt_tensor *A[3] = {in[3], NULL, in[5]}, *B[3] = {in[4], NULL, in[6]};
        return vt_lora_linear(c, x, y, in[2], x, 3, A, B, a->s);
    }
    }
    return NULL;
}

START_TEST(matmul_bmm_linear) {
    vt_ctx *c = make_ctx();
    check_op(c, "matmul_K1024", matmul_fn, ARG(.op = M_MM), INS(RN(1, 64, 1024), RN(2, 1024, 48)), 3, GEMM_BIG,
             GEMM_BIG);
    check_op(c, "matmul", matmul_fn, ARG(.op = M_MM), INS(RN(3, 19, 37), RN(4, 37, 23)), 3, GEMM, GEMM);
    check_op(c, "matmul_aT", matmul_fn, ARG(.op = M_MM_TA), INS(RN(5, 32, 16), RN(6, 32, 24)), 3, GEMM, GEMM);
    check_op(c, "matmul_bT", matmul_fn, ARG(.op = M_MM_TB), INS(RN(7, 16, 32), RN(8, 24, 32)), 3, GEMM, GEMM);
    check_op(c, "matmul_aT_bT", matmul_fn, ARG(.op = M_MM_TAB), INS(RN(9, 32, 16), RN(10, 24, 32)), 3, GEMM, GEMM);
    check_op(c, "matmul_3d@2d", matmul_fn, ARG(.op = M_MM), INS(RN(11, 3, 17, 33), RN(12, 33, 29)), 3, GEMM, GEMM);
    check_op(c, "matmul_batch_bcast", matmul_fn, ARG(.op = M_MM), INS(RN(13, 2, 1, 5, 7), RN(14, 3, 7, 4)), 3, GEMM,
             GEMM);
    check_op(c, "matmul_bcast_bT", matmul_fn, ARG(.op = M_MM_TB), INS(RN(15, 2, 3, 9, 11), RN(16, 3, 13, 11)), 3,
             GEMM, GEMM);
    check_op(c, "matmul_vector", matmul_fn, ARG(.op = M_MM), INS(RN(17, 5, 7), RN(18, 7)), 3, GEMM, GEMM);
    check_op(c, "matmul_K1", matmul_fn, ARG(.op = M_MM), INS(RN(19, 6, 1), RN(20, 1, 5)), 3, GEMM, GEMM);
    check_op(c, "bmm", matmul_fn, ARG(.op = M_BMM), INS(RN(21, 4, 31, 67), RN(22, 4, 67, 23)), 3, GEMM, GEMM);
    check_op(c, "bmm_bT", matmul_fn, ARG(.op = M_BMM_TB), INS(RN(23, 4, 31, 67), RN(24, 4, 23, 67)), 3, GEMM, GEMM);
    check_op(c, "linear", matmul_fn, ARG(.op = M_LINEAR), INS(RN(25, 2, 9, 96), RN(26, 80, 96), RN(27, 80)), 7, GEMM,
             GEMM);
    check_op(c, "linear_no_bias", matmul_fn, ARG(.op = M_LINEAR), INS(RN(28, 2, 9, 96), RN(29, 80, 96), NULL), 3,
             GEMM, GEMM);
    check_op(c, "linear_strided_x", matmul_fn, ARG(.op = M_LINEAR_TX),
             INS(RN(30, 9, 2, 96), RN(31, 80, 96), RN(32, 80)), 7, GEMM, GEMM);
    check_op(c, "linear_K1024", matmul_fn, ARG(.op = M_LINEAR), INS(RN(33, 8, 1024), RN(34, 256, 1024), RN(35, 256)),
             7, GEMM_BIG, GEMM_BIG);
    /* ViSFT's fused qkv with adapters on q and v */
    check_op(c, "lora_linear", matmul_fn, ARG(.op = M_LORA, .s = 2.0),
             INS(RN(36, 2, 5, 32), RN(37, 96, 32), RN(38, 96), RN(39, 4, 32), RN(40, 32, 4), RN(41, 4, 32),
                 RN(42, 32, 4)),
             0x7f, GEMM, GEMM);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* Under bf16 autocast both backends round the GEMM inputs to bf16 (products exact in f32): only the summation
 * order differs, so the f32 GEMM tolerances hold. */
START_TEST(gemms_under_bf16_autocast) {
    vt_ctx *c = make_ctx();
    ck_assert(vt_ctx_set_autocast(c, VT_BF16));
    check_op(c, "bf16_matmul_K512", matmul_fn, ARG(.op = M_MM), INS(RN(151, 64, 512), RN(152, 512, 48)), 3, GEMM_BIG,
             GEMM_BIG);
    check_op(c, "bf16_bmm_bT", matmul_fn, ARG(.op = M_BMM_TB), INS(RN(153, 4, 31, 67), RN(154, 4, 23, 67)), 3, GEMM,
             GEMM);
    check_op(c, "bf16_linear", matmul_fn, ARG(.op = M_LINEAR), INS(RN(155, 2, 9, 96), RN(156, 80, 96), RN(157, 80)), 7,
             GEMM, GEMM);
    check_op(c, "bf16_linear_strided_x", matmul_fn, ARG(.op = M_LINEAR_TX),
             INS(RN(158, 9, 2, 96), RN(159, 80, 96), RN(160, 80)), 7, GEMM, GEMM);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== reductions and softmax ==== */

enum { R_SUM, R_MEAN, R_SUM_ALL, R_MEAN_ALL, R_MAX, R_ARGMAX, R_MAX_ALL, R_SOFTMAX, R_LOG_SOFTMAX };

static vt_tensor *reduce_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    vt_tensor *x = in[0];
    switch (a->op) {
    case R_SUM: return vt_sum(c, x, a->nd, a->dims, a->flag);
    case R_MEAN: return vt_mean(c, x, a->nd, a->dims, a->flag);
    case R_SUM_ALL: return vt_sum_all(c, x);
    case R_MEAN_ALL: return vt_mean_all(c, x);
    case R_MAX: return vt_max(c, x, a->dim, a->flag);
    case R_ARGMAX: return vt_argmax(c, x, a->dim, a->flag);
    case R_MAX_ALL: return vt_max_all(c, x);
    case R_SOFTMAX: return vt_softmax(c, x, a->dim);
    case R_LOG_SOFTMAX: return vt_log_softmax(c, x, a->dim);
    }
    return NULL;
}

START_TEST(reductions_and_softmax) {
    vt_ctx *c = make_ctx();
    vt_tensor *x = RN(1, 6, 7, 9), *wide = RN(2, 33, 1025), *longrow = RN(3, 3, 100003);
    vt_tensor *ties = rand_intf(c, VT_SHAPE(8, 33), 4, 0, 4);
    check_op(c, "sum_d1", reduce_fn, ARG(.op = R_SUM, .nd = 1, .dims = {1}), INS(x), 1, RED, RED);
    check_op(c, "sum_d0_d2", reduce_fn, ARG(.op = R_SUM, .nd = 2, .dims = {0, 2}), INS(x), 1, RED, RED);
    check_op(c, "sum_dlast_keep", reduce_fn, ARG(.op = R_SUM, .nd = 1, .dims = {-1}, .flag = true), INS(x), 1, RED,
             RED);
    check_op(c, "sum_nd0", reduce_fn, ARG(.op = R_SUM, .nd = 0), INS(x), 1, RED, RED);
    check_op(c, "sum_rows_1025", reduce_fn, ARG(.op = R_SUM, .nd = 1, .dims = {1}), INS(wide), 1, RED, RED);
    check_op(c, "sum_cols_33", reduce_fn, ARG(.op = R_SUM, .nd = 1, .dims = {0}), INS(wide), 1, RED, RED);
    check_op(c, "sum_row_100003", reduce_fn, ARG(.op = R_SUM, .nd = 1, .dims = {-1}), INS(longrow), 1, RED, RED);
    check_op(c, "sum_all", reduce_fn, ARG(.op = R_SUM_ALL), INS(wide), 1, RED, RED);
    check_op(c, "mean_d1", reduce_fn, ARG(.op = R_MEAN, .nd = 1, .dims = {1}), INS(x), 1, RED, RED);
    check_op(c, "mean_d0_d1_keep", reduce_fn, ARG(.op = R_MEAN, .nd = 2, .dims = {0, 1}, .flag = true), INS(x), 1, RED,
             RED);
    check_op(c, "mean_all", reduce_fn, ARG(.op = R_MEAN_ALL), INS(longrow), 1, RED, RED);
    check_op(c, "max_d1", reduce_fn, ARG(.op = R_MAX, .dim = 1), INS(x), 1, EXACT, EXACT);
    check_op(c, "max_dlast_keep", reduce_fn, ARG(.op = R_MAX, .dim = -1, .flag = true), INS(x), 1, EXACT, EXACT);
    check_op(c, "max_d0", reduce_fn, ARG(.op = R_MAX, .dim = 0), INS(wide), 1, EXACT, EXACT);
    check_op(c, "max_row_100003", reduce_fn, ARG(.op = R_MAX, .dim = 1), INS(longrow), 1, EXACT, EXACT);
    check_op(c, "max_ties", reduce_fn, ARG(.op = R_MAX, .dim = 1), INS(ties), 1, EXACT, EXACT);
    check_op(c, "argmax_d1", reduce_fn, ARG(.op = R_ARGMAX, .dim = 1), INS(x), 0, EXACT, EXACT);
    check_op(c, "argmax_dlast", reduce_fn, ARG(.op = R_ARGMAX, .dim = -1), INS(wide), 0, EXACT, EXACT);
    check_op(c, "argmax_d0_keep", reduce_fn, ARG(.op = R_ARGMAX, .dim = 0, .flag = true), INS(wide), 0, EXACT, EXACT);
    check_op(c, "argmax_ties", reduce_fn, ARG(.op = R_ARGMAX, .dim = 1), INS(ties), 0, EXACT, EXACT);
    check_op(c, "argmax_ties_d0", reduce_fn, ARG(.op = R_ARGMAX, .dim = 0), INS(ties), 0, EXACT, EXACT);
    check_op(c, "max_all", reduce_fn, ARG(.op = R_MAX_ALL), INS(wide), 1, EXACT, EXACT);
    check_op(c, "max_all_ties", reduce_fn, ARG(.op = R_MAX_ALL), INS(ties), 1, EXACT, ELEM);

    vt_tensor *r3001 = RN(5, 4, 3001), *mid = RN(6, 3, 1000, 5), *hot = vt_test_randn(c, VT_SHAPE(5, 77), 7, 30.0f);
    for (int lg = 0; lg < 2; lg++) {
        int op = lg ? R_LOG_SOFTMAX : R_SOFTMAX;
        const char *p = lg ? "log_softmax" : "softmax";
        char name[64];
        snprintf(name, sizeof name, "%s_dlast", p);
        check_op(c, name, reduce_fn, ARG(.op = op, .dim = -1), INS(x), 1, RED, RED);
        snprintf(name, sizeof name, "%s_dmid", p);
        check_op(c, name, reduce_fn, ARG(.op = op, .dim = 1), INS(x), 1, RED, RED);
        snprintf(name, sizeof name, "%s_d0", p);
        check_op(c, name, reduce_fn, ARG(.op = op, .dim = 0), INS(x), 1, RED, RED);
        snprintf(name, sizeof name, "%s_row_3001", p);
        check_op(c, name, reduce_fn, ARG(.op = op, .dim = -1), INS(r3001), 1, RED, RED);
        snprintf(name, sizeof name, "%s_dmid_1000", p);
        check_op(c, name, reduce_fn, ARG(.op = op, .dim = 1), INS(mid), 1, RED, RED);
        snprintf(name, sizeof name, "%s_large_logits", p);
        check_op(c, name, reduce_fn, ARG(.op = op, .dim = -1), INS(hot), 1, RED, RED);
    }
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== layer_norm / group_norm ==== */

static vt_tensor *norm_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    if (a->op == 0) return vt_layer_norm(c, in[0], in[1], in[2], a->s);
    return vt_group_norm(c, in[0], a->k, in[1], in[2], a->s);
}

START_TEST(layer_norm_and_group_norm) {
    vt_ctx *c = make_ctx();
    vt_tensor *shifted = vt_add_scalar(c, vt_test_randn(c, VT_SHAPE(4, 7, 96), 1, 2.0f), 3.0);
    check_op(c, "layer_norm", norm_fn, ARG(.op = 0, .s = 1e-5), INS(RN(2, 4, 7, 96), RN(3, 96), RN(4, 96)), 7, RED,
             RED);
    check_op(c, "layer_norm_offset_mean", norm_fn, ARG(.op = 0, .s = 1e-6), INS(shifted, RN(5, 96), RN(6, 96)), 7,
             RED, RED);
    check_op(c, "layer_norm_no_affine_768", norm_fn, ARG(.op = 0, .s = 1e-6), INS(RN(7, 3, 768), NULL, NULL), 1,
             RED, RED);
    check_op(c, "layer_norm_D1000", norm_fn, ARG(.op = 0, .s = 1e-5), INS(RN(8, 5, 1000), RN(9, 1000), RN(10, 1000)),
             7, RED, RED);
    check_op(c, "layer_norm_many_rows", norm_fn, ARG(.op = 0, .s = 1e-5),
             INS(RN(11, 2, 197, 64), RN(12, 64), RN(13, 64)), 7, RED, RED);
    check_op(c, "group_norm_g3", norm_fn, ARG(.op = 1, .k = 3, .s = 1e-5),
             INS(RN(14, 2, 6, 5, 7), RN(15, 6), RN(16, 6)), 7, RED, RED);
    check_op(c, "group_norm_g1", norm_fn, ARG(.op = 1, .k = 1, .s = 1e-5),
             INS(RN(17, 2, 6, 5, 7), RN(18, 6), RN(19, 6)), 7, RED, RED);
    check_op(c, "group_norm_gC_no_affine", norm_fn, ARG(.op = 1, .k = 6, .s = 1e-5),
             INS(RN(20, 2, 6, 5, 7), NULL, NULL), 1, RED, RED);
    check_op(c, "group_norm_32x14x14_g8", norm_fn, ARG(.op = 1, .k = 8, .s = 1e-5),
             INS(RN(21, 2, 32, 14, 14), RN(22, 32), RN(23, 32)), 7, RED, RED);
    check_op(c, "group_norm_3d", norm_fn, ARG(.op = 1, .k = 2, .s = 1e-5), INS(RN(24, 3, 4, 10), RN(25, 4), RN(26, 4)),
             7, RED, RED);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== shape ops and dtype conversion (copies on the device) ==== */

enum { S_PERMUTE, S_SLICE, S_EXPAND, S_RESHAPE_T, S_SPLIT_CAT, S_SQUEEZE, S_TO_DTYPE };

static vt_tensor *shape_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    vt_tensor *x = in[0];
    switch (a->op) {
    case S_PERMUTE: return vt_contiguous(c, vt_permute(c, x, (int[]){2, 0, 1}));
    case S_SLICE: return vt_contiguous(c, vt_slice(c, vt_slice(c, x, 1, 1, 10, 2), 0, -3, 100, 1));
    case S_EXPAND: return vt_contiguous(c, vt_expand(c, x, VT_SHAPE(4, 3, -1)));
    case S_RESHAPE_T: return vt_reshape(c, vt_transpose(c, x, 0, 1), VT_SHAPE(-1));
    case S_SPLIT_CAT: {
        vt_tensor *p[4];
        int n = vt_split(c, x, 3, 1, p, 4);
        if (n != 3) return NULL;
        return vt_concat(c, 3, (vt_tensor *[]){p[2], p[0], p[1]}, 1);
    }
    case S_SQUEEZE: return vt_contiguous(c, vt_unsqueeze(c, vt_squeeze(c, vt_transpose(c, x, 0, 2), 1), 0));
    case S_TO_DTYPE: return vt_to_dtype(c, vt_to_dtype(c, x, (vt_dtype)a->k), VT_F32);
    }
    return NULL;
}

START_TEST(shape_ops_and_dtype_conversion) {
    vt_ctx *c = make_ctx();
    vt_tensor *x = RN(1, 5, 11, 7);
    check_op(c, "permute_contiguous", shape_fn, ARG(.op = S_PERMUTE), INS(x), 1, EXACT, EXACT);
    check_op(c, "slice_step_contiguous", shape_fn, ARG(.op = S_SLICE), INS(x), 1, EXACT, EXACT);
    check_op(c, "expand_contiguous", shape_fn, ARG(.op = S_EXPAND), INS(RN(2, 1, 3, 6)), 1, EXACT, SUMS);
    check_op(c, "reshape_of_transpose", shape_fn, ARG(.op = S_RESHAPE_T), INS(x), 1, EXACT, EXACT);
    check_op(c, "split_concat", shape_fn, ARG(.op = S_SPLIT_CAT), INS(RN(3, 4, 8, 3)), 1, EXACT, EXACT);
    check_op(c, "squeeze_unsqueeze", shape_fn, ARG(.op = S_SQUEEZE), INS(RN(4, 6, 1, 5)), 1, EXACT, EXACT);
    vt_tensor *wide = vt_test_randn(c, VT_SHAPE(3, 1001), 5, 100.0f);
    check_op(c, "to_bf16_and_back", shape_fn, ARG(.op = S_TO_DTYPE, .k = VT_BF16), INS(wide), 0, EXACT, EXACT);
    check_op(c, "to_f16_and_back", shape_fn, ARG(.op = S_TO_DTYPE, .k = VT_F16), INS(wide), 0, EXACT, EXACT);
    check_op(c, "to_i32_and_back", shape_fn, ARG(.op = S_TO_DTYPE, .k = VT_I32), INS(wide), 0, EXACT, EXACT);
    check_op(c, "to_i64_and_back", shape_fn, ARG(.op = S_TO_DTYPE, .k = VT_I64), INS(wide), 0, EXACT, EXACT);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== index ops ==== */

enum {
    I_CONCAT, I_SELECT, I_GATHER, I_SCATTER, I_EMBED, I_MASKED, I_WHERE, I_CUMSUM, I_ONEHOT, I_SORT_V, I_SORT_I,
    I_TOPK_V, I_TOPK_I,
};

static vt_tensor *index_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    vt_tensor *v = NULL, *ix = NULL;
    switch (a->op) {
    case I_CONCAT: return vt_concat(c, 3, in, a->dim);
    case I_SELECT: return vt_index_select(c, in[0], a->dim, in[1]);
    case I_GATHER: return vt_gather(c, in[0], a->dim, in[1]);
    case I_SCATTER: return vt_scatter_add(c, in[0], a->dim, in[1], in[2]);
    case I_EMBED: return vt_embedding(c, in[0], in[1], a->k);
    case I_MASKED: return vt_masked_fill(c, in[0], in[1], a->s);
    case I_WHERE: return vt_where(c, in[0], in[1], in[2]);
    case I_CUMSUM: return vt_cumsum(c, in[0], a->dim);
    case I_ONEHOT: return vt_one_hot(c, in[0], a->k);
    case I_SORT_V:
    case I_SORT_I:
        if (vt_sort(c, in[0], a->dim, a->flag, &v, &ix) != VT_OK) return NULL;
        return a->op == I_SORT_V ? v : ix;
    case I_TOPK_V:
    case I_TOPK_I:
        if (vt_topk(c, in[0], a->k, a->dim, a->flag, a->flag2, &v, &ix) != VT_OK) return NULL;
        return a->op == I_TOPK_V ? v : ix;
    }
    return NULL;
}

/* values and indices of one sort / topk */
static void check_sorted(vt_ctx *c, const char *name, vt_tensor *x, bool topk, int dim, int64_t k, bool flag,
                         bool sorted) {
    char nv[64], ni[64];
    snprintf(nv, sizeof nv, "%s.values", name);
    snprintf(ni, sizeof ni, "%s.indices", name);
    check_op(c, nv, index_fn, ARG(.op = topk ? I_TOPK_V : I_SORT_V, .dim = dim, .k = k, .flag = flag, .flag2 = sorted),
             INS(x), 0, EXACT, EXACT);
    check_op(c, ni, index_fn, ARG(.op = topk ? I_TOPK_I : I_SORT_I, .dim = dim, .k = k, .flag = flag, .flag2 = sorted),
             INS(x), 0, EXACT, EXACT);
}

START_TEST(index_ops) {
    vt_ctx *c = make_ctx();
    check_op(c, "concat_d1", index_fn, ARG(.op = I_CONCAT, .dim = 1),
             INS(RN(1, 2, 3, 4), RN(2, 2, 5, 4), RN(3, 2, 1, 4)), 7, EXACT, EXACT);
    check_op(c, "concat_dlast", index_fn, ARG(.op = I_CONCAT, .dim = -1), INS(RN(4, 3, 2), RN(5, 3, 5), RN(6, 3, 1)), 7,
             EXACT, EXACT);
    check_op(c, "concat_d0", index_fn, ARG(.op = I_CONCAT, .dim = 0), INS(RN(7, 1, 6), RN(8, 4, 6), RN(9, 2, 6)), 7,
             EXACT, EXACT);

    vt_tensor *x = RN(10, 7, 5, 6);
    check_op(c, "index_select_d0", index_fn, ARG(.op = I_SELECT, .dim = 0), INS(x, rand_ids(c, VT_SHAPE(9), 11, 7)), 1,
             EXACT, SUMS);
    check_op(c, "index_select_d1", index_fn, ARG(.op = I_SELECT, .dim = 1), INS(x, rand_ids(c, VT_SHAPE(8), 12, 5)), 1,
             EXACT, SUMS);
    check_op(c, "index_select_dlast", index_fn, ARG(.op = I_SELECT, .dim = -1), INS(x, rand_ids(c, VT_SHAPE(3), 13, 6)),
             1, EXACT, SUMS);
    check_op(c, "index_select_0d", index_fn, ARG(.op = I_SELECT, .dim = 1),
             INS(x, vt_from_i64(c, 0, NULL, (int64_t[]){3})), 1, EXACT, SUMS);

    vt_tensor *g = RN(14, 5, 6, 7);
    check_op(c, "gather_d1", index_fn, ARG(.op = I_GATHER, .dim = 1), INS(g, rand_ids(c, VT_SHAPE(5, 4, 7), 15, 6)), 1,
             EXACT, SUMS);
    check_op(c, "gather_d0_small", index_fn, ARG(.op = I_GATHER, .dim = 0),
             INS(g, rand_ids(c, VT_SHAPE(3, 6, 2), 16, 5)), 1, EXACT, SUMS);
    check_op(c, "gather_dlast", index_fn, ARG(.op = I_GATHER, .dim = -1), INS(g, rand_ids(c, VT_SHAPE(5, 6, 3), 17, 7)),
             1, EXACT, SUMS);

    check_op(c, "scatter_add_d1", index_fn, ARG(.op = I_SCATTER, .dim = 1),
             INS(g, rand_ids(c, VT_SHAPE(5, 9, 7), 18, 6), RN(19, 5, 9, 7)), 5, SUMS, SUMS);
    check_op(c, "scatter_add_d0", index_fn, ARG(.op = I_SCATTER, .dim = 0),
             INS(g, rand_ids(c, VT_SHAPE(8, 6, 7), 20, 5), RN(21, 8, 6, 7)), 5, SUMS, SUMS);
    check_op(c, "scatter_add_dlast", index_fn, ARG(.op = I_SCATTER, .dim = -1),
             INS(g, rand_ids(c, VT_SHAPE(5, 6, 10), 22, 7), RN(23, 5, 6, 10)), 5, SUMS, SUMS);
    check_op(c, "scatter_add_many_dups", index_fn, ARG(.op = I_SCATTER, .dim = 0),
             INS(RN(24, 3, 64), rand_ids(c, VT_SHAPE(500, 64), 25, 3), RN(26, 500, 64)), 5, RED, SUMS);

    vt_tensor *emb = RN(27, 11, 16), *ids = rand_ids(c, VT_SHAPE(3, 5), 28, 11);
    vt_i64(ids)[0] = 2, vt_i64(ids)[7] = 2, vt_i64(ids)[3] = 10, vt_i64(ids)[11] = 10;
    check_op(c, "embedding", index_fn, ARG(.op = I_EMBED, .k = VT_NO_PADDING), INS(emb, ids), 1, EXACT, SUMS);
    check_op(c, "embedding_pad2", index_fn, ARG(.op = I_EMBED, .k = 2), INS(emb, ids), 1, EXACT, SUMS);
    check_op(c, "embedding_pad-1", index_fn, ARG(.op = I_EMBED, .k = -1), INS(emb, ids), 1, EXACT, SUMS);
    check_op(c, "embedding_1d", index_fn, ARG(.op = I_EMBED, .k = VT_NO_PADDING),
             INS(emb, rand_ids(c, VT_SHAPE(40), 29, 11)), 1, EXACT, SUMS);

    vt_tensor *m = RN(30, 4, 5, 6);
    check_op(c, "masked_fill_bool_bcast", index_fn, ARG(.op = I_MASKED, .s = -1e4),
             INS(m, rand_mask(c, VT_BOOL, VT_SHAPE(4, 1, 6), 31, 0.4f)), 1, EXACT, EXACT);
    check_op(c, "masked_fill_u8", index_fn, ARG(.op = I_MASKED, .s = 2.5),
             INS(m, rand_mask(c, VT_U8, VT_SHAPE(4, 5, 6), 32, 0.5f)), 1, EXACT, EXACT);
    check_op(c, "where_bcast", index_fn, ARG(.op = I_WHERE),
             INS(rand_mask(c, VT_BOOL, VT_SHAPE(5, 1), 33, 0.5f), RN(34, 5, 4), RN(35, 4)), 6, EXACT, SUMS);
    check_op(c, "where_same_u8", index_fn, ARG(.op = I_WHERE),
             INS(rand_mask(c, VT_U8, VT_SHAPE(6, 7), 36, 0.5f), RN(37, 6, 7), RN(38, 6, 7)), 6, EXACT, EXACT);

    check_op(c, "cumsum_d0", index_fn, ARG(.op = I_CUMSUM, .dim = 0), INS(g), 1, RED, RED);
    check_op(c, "cumsum_d1", index_fn, ARG(.op = I_CUMSUM, .dim = 1), INS(g), 1, RED, RED);
    check_op(c, "cumsum_dlast", index_fn, ARG(.op = I_CUMSUM, .dim = -1), INS(g), 1, RED, RED);
    check_op(c, "cumsum_row_5000", index_fn, ARG(.op = I_CUMSUM, .dim = -1), INS(RN(39, 3, 5000)), 1, RED, RED);

    check_op(c, "one_hot", index_fn, ARG(.op = I_ONEHOT, .k = 7), INS(rand_ids(c, VT_SHAPE(3, 4), 40, 7)), 0, EXACT,
             EXACT);
    check_op(c, "one_hot_inferred", index_fn, ARG(.op = I_ONEHOT, .k = 0), INS(rand_ids(c, VT_SHAPE(10), 41, 6)), 0,
             EXACT, EXACT);

    vt_tensor *s = RN(42, 6, 50), *st = rand_intf(c, VT_SHAPE(8, 40), 43, 0, 5), *sn = RN(44, 4, 30);
    for (int i = 0; i < 4; i++) vt_f32(sn)[i * 30 + 3 * i + 1] = NAN, vt_f32(sn)[i * 30 + 29 - i] = NAN;
    check_sorted(c, "sort_asc", s, false, -1, 0, false, true);
    check_sorted(c, "sort_desc", s, false, -1, 0, true, true);
    check_sorted(c, "sort_d0", s, false, 0, 0, false, true);
    check_sorted(c, "sort_ties_asc", st, false, 1, 0, false, true);
    check_sorted(c, "sort_ties_desc", st, false, 1, 0, true, true);
    check_sorted(c, "sort_nan_asc", sn, false, 1, 0, false, true);
    check_sorted(c, "sort_nan_desc", sn, false, 1, 0, true, true);
    check_sorted(c, "sort_row_5000", RN(45, 2, 5000), false, -1, 0, true, true);
    check_sorted(c, "sort_64_rows", RN(46, 64, 257), false, -1, 0, false, true);
    check_sorted(c, "topk_largest", s, true, -1, 5, true, true);
    check_sorted(c, "topk_smallest", s, true, -1, 5, false, true);
    check_sorted(c, "topk_d0", s, true, 0, 3, true, true);
    check_sorted(c, "topk_unsorted", s, true, -1, 7, true, false);
    check_sorted(c, "topk_ties", st, true, 1, 10, true, true);
    check_sorted(c, "topk_ties_smallest", st, true, 1, 10, false, true);
    check_sorted(c, "topk_nan", sn, true, 1, 4, true, true);
    check_sorted(c, "topk_row_5000", RN(47, 2, 5000), true, -1, 100, true, true);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== conv2d and pooling ==== */

enum { C_CONV, C_AVG, C_MAX, C_ADAPTIVE };

static vt_tensor *conv_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    switch (a->op) {
    case C_CONV: return vt_conv2d(c, in[0], in[1], in[2], &a->conv);
    case C_AVG: return vt_avg_pool2d(c, in[0], &a->pool);
    case C_MAX: return vt_max_pool2d(c, in[0], &a->pool);
    case C_ADAPTIVE: return vt_adaptive_avg_pool2d(c, in[0], a->oh, a->ow);
    }
    return NULL;
}

START_TEST(conv2d_and_pooling) {
    vt_ctx *c = make_ctx();
    vt_tensor *x = RN(1, 2, 3, 17, 19);
    check_op(c, "conv2d_3x3", conv_fn, ARG(.op = C_CONV), INS(x, RN(2, 8, 3, 3, 3), RN(3, 8)), 7, GEMM, GEMM);
    check_op(c, "conv2d_stride2_pad1", conv_fn, ARG(.op = C_CONV, .conv = {.stride = {2, 2}, .padding = {1, 1}}),
             INS(x, RN(4, 8, 3, 3, 3), RN(5, 8)), 7, GEMM, GEMM);
    check_op(c, "conv2d_dilation2_pad2", conv_fn, ARG(.op = C_CONV, .conv = {.padding = {2, 2}, .dilation = {2, 2}}),
             INS(x, RN(6, 5, 3, 3, 3), NULL), 3, GEMM, GEMM);
    check_op(c, "conv2d_asymmetric", conv_fn,
             ARG(.op = C_CONV, .conv = {.stride = {1, 2}, .padding = {0, 2}, .dilation = {1, 1}}),
             INS(x, RN(7, 5, 3, 1, 5), RN(8, 5)), 7, GEMM, GEMM);
    check_op(c, "conv2d_groups2", conv_fn, ARG(.op = C_CONV, .conv = {.padding = {1, 1}, .groups = 2}),
             INS(RN(9, 2, 4, 9, 9), RN(10, 6, 2, 3, 3), RN(11, 6)), 7, GEMM, GEMM);
    check_op(c, "conv2d_depthwise", conv_fn, ARG(.op = C_CONV, .conv = {.padding = {1, 1}, .groups = 8}),
             INS(RN(12, 2, 8, 10, 10), RN(13, 8, 1, 3, 3), RN(14, 8)), 7, GEMM, GEMM);
    check_op(c, "conv2d_1x1", conv_fn, ARG(.op = C_CONV), INS(RN(15, 2, 16, 7, 6), RN(16, 12, 16, 1, 1), RN(17, 12)), 7,
             GEMM, GEMM);
    check_op(c, "conv2d_patch8", conv_fn, ARG(.op = C_CONV, .conv = {.stride = {8, 8}}),
             INS(RN(18, 2, 3, 32, 32), RN(19, 64, 3, 8, 8), RN(20, 64)), 7, GEMM, GEMM);
    check_op(c, "conv2d_patch16_K768", conv_fn, ARG(.op = C_CONV, .conv = {.stride = {16, 16}}),
             INS(RN(21, 2, 3, 64, 64), RN(22, 384, 3, 16, 16), RN(23, 384)), 7, GEMM_BIG, GEMM_BIG);

    vt_tensor *p = RN(24, 2, 3, 11, 13);
    check_op(c, "avg_pool_k3_s2_p1", conv_fn,
             ARG(.op = C_AVG, .pool = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}),
             INS(p), 1, ELEM, ELEM);
    check_op(c, "avg_pool_exclude_pad", conv_fn,
             ARG(.op = C_AVG, .pool = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .exclude_pad = true}),
             INS(p), 1, ELEM, ELEM);
    check_op(c, "avg_pool_ceil", conv_fn,
             ARG(.op = C_AVG, .pool = {.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true}),
             INS(p), 1, ELEM, ELEM);
    check_op(c, "avg_pool_k2", conv_fn, ARG(.op = C_AVG, .pool = {.kernel = {2, 2}}), INS(p), 1, ELEM, ELEM);
    check_op(c, "max_pool_k3_s2_p1", conv_fn,
             ARG(.op = C_MAX, .pool = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}),
             INS(p), 1, EXACT, SUMS);
    check_op(c, "max_pool_ceil", conv_fn,
             ARG(.op = C_MAX, .pool = {.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true}),
             INS(p), 1, EXACT, SUMS);
    check_op(c, "max_pool_k2", conv_fn, ARG(.op = C_MAX, .pool = {.kernel = {2, 2}}), INS(p), 1, EXACT, SUMS);
    check_op(c, "max_pool_k2x3_s1x2", conv_fn, ARG(.op = C_MAX, .pool = {.kernel = {2, 3}, .stride = {1, 2}}), INS(p),
             1,
             EXACT, SUMS);
    check_op(c, "adaptive_avg_1x1", conv_fn, ARG(.op = C_ADAPTIVE, .oh = 1, .ow = 1), INS(p), 1, RED, RED);
    check_op(c, "adaptive_avg_3x5", conv_fn, ARG(.op = C_ADAPTIVE, .oh = 3, .ow = 5), INS(p), 1, ELEM, ELEM);
    check_op(c, "adaptive_avg_7x7", conv_fn, ARG(.op = C_ADAPTIVE, .oh = 7, .ow = 7), INS(RN(25, 2, 4, 14, 14)), 1,
             ELEM,
             ELEM);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== interpolate and grid_sample ==== */

enum { P_SIZE, P_SCALE, P_GRID };

static vt_tensor *resample_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    switch (a->op) {
    case P_SIZE: return vt_interpolate(c, in[0], a->oh, a->ow, (vt_interp_mode)a->k, a->flag);
    case P_SCALE: return vt_interpolate_scale(c, in[0], a->s, a->s2, (vt_interp_mode)a->k, a->flag);
    case P_GRID: return vt_grid_sample(c, in[0], in[1], a->flag);
    }
    return NULL;
}

START_TEST(interpolate_and_grid_sample) {
    vt_ctx *c = make_ctx();
    vt_tensor *x = RN(1, 2, 3, 5, 6), *big = RN(2, 2, 3, 12, 10);
    static const struct {
        const char *name;
        int mode;
        bool align;
    } modes[] = {
        {"nearest", VT_INTERP_NEAREST, false},          {"bilinear", VT_INTERP_BILINEAR, false},
        {"bilinear_align", VT_INTERP_BILINEAR, true},   {"bicubic", VT_INTERP_BICUBIC, false},
        {"bicubic_align", VT_INTERP_BICUBIC, true},
    };
    char name[64];
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        snprintf(name, sizeof name, "interp_%s_up", modes[i].name);
        check_op(c, name, resample_fn, ARG(.op = P_SIZE, .oh = 7, .ow = 11, .k = modes[i].mode, .flag = modes[i].align),
                 INS(x), 1, RED, RED);
        snprintf(name, sizeof name, "interp_%s_down", modes[i].name);
        check_op(c, name, resample_fn, ARG(.op = P_SIZE, .oh = 5, .ow = 4, .k = modes[i].mode, .flag = modes[i].align),
                 INS(big), 1, RED, RED);
    }
    check_op(c, "interp_scale_bilinear_1.5", resample_fn,
             ARG(.op = P_SCALE, .s = 1.5, .s2 = 1.5, .k = VT_INTERP_BILINEAR), INS(x), 1, RED, RED);
    check_op(c, "interp_scale_nearest_2", resample_fn, ARG(.op = P_SCALE, .s = 2.0, .s2 = 2.0, .k = VT_INTERP_NEAREST),
             INS(x), 1, RED, RED);
    check_op(c, "interp_scale_bicubic_0.7", resample_fn,
             ARG(.op = P_SCALE, .s = 0.7, .s2 = 0.7, .k = VT_INTERP_BICUBIC), INS(big), 1, RED, RED);
    vt_tensor *gx = RN(3, 2, 3, 8, 9), *grid = UN(4, -1.2f, 1.2f, 2, 5, 6, 2);
    check_op(c, "grid_sample", resample_fn, ARG(.op = P_GRID), INS(gx, grid), 3, RED, RED);
    check_op(c, "grid_sample_align", resample_fn, ARG(.op = P_GRID, .flag = true), INS(gx, grid), 3, RED, RED);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== scaled dot-product attention ==== */

enum { A_PLAIN, A_EXPAND_KV, A_FUSED };

static vt_tensor *sdpa_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    if (a->op == A_FUSED) { /* the ViT's layout: permuted slices of one [B, L, 3·H·D] projection */
        vt_tensor *x = in[0];
        if (!x) return NULL;
        int64_t B = x->shape[0], L = x->shape[1], H = a->k, D = x->shape[2] / (3 * H);
        vt_tensor *t = vt_permute(c, vt_reshape(c, x, VT_SHAPE(B, L, 3, H, D)), (int[]){2, 0, 3, 1, 4});
        vt_tensor *q = vt_squeeze(c, vt_slice(c, t, 0, 0, 1, 1), 0), *k = vt_squeeze(c, vt_slice(c, t, 0, 1, 2, 1), 0);
        vt_tensor *v = vt_squeeze(c, vt_slice(c, t, 0, 2, 3, 1), 0);
        return vt_sdpa(c, q, k, v, NULL, a->s, a->flag);
    }
    vt_tensor *k = in[1], *v = in[2];
    if (!k || !v) return NULL;
    if (a->op == A_EXPAND_KV) { /* head stride 0 */
        k = vt_expand(c, k, VT_SHAPE(k->shape[0], a->k, k->shape[2], k->shape[3]));
        v = vt_expand(c, v, VT_SHAPE(v->shape[0], a->k, v->shape[2], v->shape[3]));
    }
    return vt_sdpa(c, in[0], k, v, in[3], a->s, a->flag);
}

START_TEST(scaled_dot_product_attention) {
    vt_ctx *c = make_ctx();
    static const int64_t dims[] = {8, 64, 88, 112, 128};
    char name[64];
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        const int64_t D = dims[i];
        snprintf(name, sizeof name, "sdpa_d%lld", (long long)D);
        check_op(c, name, sdpa_fn, ARG(.op = A_PLAIN),
                 INS(RN(10 + i, 2, 3, 37, D), RN(20 + i, 2, 3, 37, D), RN(30 + i, 2, 3, 37, D), NULL), 7, ATT, ATT);
        /* Lq != Lk with a learned additive bias broadcast over the batch */
        snprintf(name, sizeof name, "sdpa_d%lld_cross_bias", (long long)D);
        check_op(c, name, sdpa_fn, ARG(.op = A_PLAIN),
                 INS(RN(40 + i, 2, 3, 17, D), RN(50 + i, 2, 3, 45, D), RN(60 + i, 2, 3, 45, D),
                     RN(70 + i, 1, 3, 17, 45)),
                 15, ATT, ATT);
        snprintf(name, sizeof name, "sdpa_d%lld_causal", (long long)D);
        check_op(c, name, sdpa_fn, ARG(.op = A_PLAIN, .flag = true),
                 INS(RN(80 + i, 2, 2, 33, D), RN(90 + i, 2, 2, 33, D), RN(100 + i, 2, 2, 33, D), NULL), 7, ATT, ATT);
    }
    const int64_t B = 2, H = 3, Lq = 19, Lk = 29, D = 64;
    vt_tensor *q = RN(110, B, H, Lq, D), *k = RN(111, B, H, Lk, D), *v = RN(112, B, H, Lk, D);
    /* additive mask with -inf entries and one fully masked row (zeros out, zero gradients) */
    vt_tensor *addm = RN(113, Lq, Lk);
    for (int64_t j = 0; j < Lq * Lk; j += 7) vt_f32(addm)[j] = -INFINITY;
    for (int64_t j = 0; j < Lk; j++) vt_f32(addm)[4 * Lk + j] = -INFINITY;
    check_op(c, "sdpa_additive_-inf", sdpa_fn, ARG(.op = A_PLAIN), INS(q, k, v, addm), 7, ATT, ATT);
    vt_tensor *pad = vt_full(c, VT_BOOL, VT_SHAPE(B, 1, 1, Lk), 1.0);
    for (int64_t j = Lk - 6; j < Lk; j++) ((uint8_t *)pad->data)[Lk + j] = 0; /* batch 1: last 6 keys are padding */
    check_op(c, "sdpa_keep_bool_padding", sdpa_fn, ARG(.op = A_PLAIN), INS(q, k, v, pad), 7, ATT, ATT);
    vt_tensor *keep = rand_mask(c, VT_U8, VT_SHAPE(Lq, Lk), 114, 0.7f);
    for (int64_t j = 0; j < Lk; j++) ((uint8_t *)keep->data)[2 * Lk + j] = 0; /* query 2 sees nothing */
    check_op(c, "sdpa_keep_u8_dead_row", sdpa_fn, ARG(.op = A_PLAIN), INS(q, k, v, keep), 7, ATT, ATT);
    check_op(c, "sdpa_keep_per_head", sdpa_fn, ARG(.op = A_PLAIN),
             INS(q, k, v, rand_mask(c, VT_BOOL, VT_SHAPE(B, H, Lq, Lk), 115, 0.8f)), 7, ATT, ATT);
    check_op(c, "sdpa_causal_wide", sdpa_fn, ARG(.op = A_PLAIN, .flag = true), INS(q, k, v, NULL), 7, ATT, ATT);
    check_op(c, "sdpa_causal_tall", sdpa_fn, ARG(.op = A_PLAIN, .flag = true),
             INS(RN(116, B, H, Lk, D), RN(117, B, H, Lq, D), RN(118, B, H, Lq, D), NULL), 7, ATT, ATT);
    check_op(c, "sdpa_causal_padding", sdpa_fn, ARG(.op = A_PLAIN, .flag = true), INS(q, k, v, pad), 7, ATT, ATT);
    check_op(c, "sdpa_causal_learned_bias", sdpa_fn, ARG(.op = A_PLAIN, .flag = true),
             INS(q, k, v, RN(119, 1, H, Lq, Lk)), 15, ATT, ATT);
    check_op(c, "sdpa_scale_0.3", sdpa_fn, ARG(.op = A_PLAIN, .s = 0.3), INS(q, k, v, NULL), 7, ATT, ATT);
    check_op(c, "sdpa_dv24_d40", sdpa_fn, ARG(.op = A_PLAIN),
             INS(RN(120, B, H, Lq, 40), RN(121, B, H, Lk, 40), RN(122, B, H, Lk, 24), NULL), 7, ATT, ATT);
    check_op(c, "sdpa_kv_expanded_heads", sdpa_fn, ARG(.op = A_EXPAND_KV, .k = H),
             INS(q, RN(123, B, 1, Lk, D), RN(124, B, 1, Lk, D), NULL), 7, ATT, ATT);
    check_op(c, "sdpa_fused_qkv_d16", sdpa_fn, ARG(.op = A_FUSED, .k = 2), INS(RN(125, 2, 20, 96)), 1, ATT, ATT);
    check_op(c, "sdpa_fused_qkv_d64", sdpa_fn, ARG(.op = A_FUSED, .k = 2), INS(RN(126, 2, 50, 384)), 1, ATT, ATT);
    check_op(c, "sdpa_vitb_L197", sdpa_fn, ARG(.op = A_PLAIN),
             INS(RN(127, 2, 4, 197, 64), RN(128, 2, 4, 197, 64), RN(129, 2, 4, 197, 64), NULL), 7, ATT, ATT);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== losses ==== */

enum { L_CE, L_BCE, L_L1, L_MSE };

static vt_tensor *loss_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    switch (a->op) {
    case L_CE: {
        vt_cross_entropy_opts o = vt_cross_entropy_defaults();
        o.weight = in[2];
        o.ignore_index = a->k;
        o.label_smoothing = a->s;
        o.reduction = (vt_reduction)a->dim;
        return vt_cross_entropy(c, in[0], in[1], &o);
    }
    case L_BCE: {
        vt_bce_opts o = {in[2], in[3], (vt_reduction)a->dim};
        return vt_binary_cross_entropy_with_logits(c, in[0], in[1], &o);
    }
    case L_L1: return vt_l1_loss(c, in[0], in[1], (vt_reduction)a->dim);
    case L_MSE: return vt_mse_loss(c, in[0], in[1], (vt_reduction)a->dim);
    }
    return NULL;
}

START_TEST(losses) {
    vt_ctx *c = make_ctx();
    const int64_t N = 16, C = 10;
    vt_tensor *logits = vt_test_randn(c, VT_SHAPE(N, C), 1, 2.0f), *tg = rand_ids(c, VT_SHAPE(N), 2, C);
    vt_i64(tg)[3] = -100, vt_i64(tg)[7] = -100;
    vt_tensor *cw = UN(3, 0.2f, 2.0f, C);
    vt_tensor *soft = NULL;
    vt_no_grad_begin(c);
    soft = vt_softmax(c, RN(4, N, C), -1);
    vt_no_grad_end(c);
    static const char *red[] = {"mean", "sum", "none"};
    char name[64];
    for (int r = 0; r < 3; r++) {
        snprintf(name, sizeof name, "ce_hard_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_CE, .k = -100, .dim = r), INS(logits, tg, NULL), 1, RED, RED);
        snprintf(name, sizeof name, "ce_weighted_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_CE, .k = -100, .dim = r), INS(logits, tg, cw), 1, RED, RED);
        snprintf(name, sizeof name, "ce_smooth_weighted_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_CE, .k = -100, .s = 0.1, .dim = r), INS(logits, tg, cw), 1, RED, RED);
        snprintf(name, sizeof name, "ce_soft_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_CE, .k = -100, .dim = r), INS(logits, soft, NULL), 1, RED, RED);
    }
    check_op(c, "ce_soft_smooth", loss_fn, ARG(.op = L_CE, .k = -100, .s = 0.1), INS(logits, soft, cw), 1, RED, RED);
    check_op(c, "ce_smooth", loss_fn, ARG(.op = L_CE, .k = -100, .s = 0.2), INS(logits, tg, NULL), 1, RED, RED);
    check_op(c, "ce_ignore_3", loss_fn, ARG(.op = L_CE, .k = 3), INS(logits, rand_ids(c, VT_SHAPE(N), 5, 5), NULL), 1,
             RED, RED);
    vt_tensor *ign = vt_full(c, VT_I64, VT_SHAPE(4), -100.0);
    check_op(c, "ce_all_ignored_nan", loss_fn, ARG(.op = L_CE, .k = -100), INS(RN(6, 4, C), ign, NULL), 1, RED, RED);
    check_op(c, "ce_spatial", loss_fn, ARG(.op = L_CE, .k = -100, .s = 0.05),
             INS(RN(7, 2, 5, 3, 4), rand_ids(c, VT_SHAPE(2, 3, 4), 8, 5), NULL), 1, RED, RED);
    check_op(c, "ce_1000_classes", loss_fn, ARG(.op = L_CE, .k = -100),
             INS(vt_test_randn(c, VT_SHAPE(8, 1000), 9, 3.0f), rand_ids(c, VT_SHAPE(8), 10, 1000), NULL), 1, RED, RED);

    vt_tensor *bl = vt_test_randn(c, VT_SHAPE(6, 7), 11, 3.0f), *bt = UN(12, 0.0f, 1.0f, 6, 7);
    vt_tensor *bw = UN(13, 0.5f, 1.5f, 7), *bp = UN(14, 0.5f, 3.0f, 7);
    for (int r = 0; r < 3; r++) {
        snprintf(name, sizeof name, "bce_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_BCE, .dim = r), INS(bl, bt, NULL, NULL), 3, RED, RED);
        snprintf(name, sizeof name, "bce_weights_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_BCE, .dim = r), INS(bl, bt, bw, bp), 3, RED, RED);
        snprintf(name, sizeof name, "l1_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_L1, .dim = r), INS(RN(15, 5, 6), RN(16, 5, 6)), 3, RED, RED);
        snprintf(name, sizeof name, "mse_%s", red[r]);
        check_op(c, name, loss_fn, ARG(.op = L_MSE, .dim = r), INS(RN(17, 5, 6), RN(18, 5, 6)), 3, RED, RED);
    }
    check_op(c, "l1_bcast_target", loss_fn, ARG(.op = L_L1, .dim = VT_REDUCTION_SUM), INS(RN(19, 5, 6), RN(20, 6)), 3,
             RED, RED);
    check_op(c, "mse_bcast_target", loss_fn, ARG(.op = L_MSE, .dim = VT_REDUCTION_MEAN), INS(RN(21, 5, 6), RN(22, 6)),
             3,
             RED, RED);
    check_op(c, "mse_large", loss_fn, ARG(.op = L_MSE, .dim = VT_REDUCTION_MEAN),
             INS(RN(23, 300, 1001), RN(24, 300, 1001)), 3, RED, RED);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== dropout and random fills: the same Philox stream on both devices ==== */

/* Restarting the counter makes both runs draw the same mask. */
static vt_tensor *dropout_fn(vt_ctx *c, vt_tensor **in, const oparg *a) {
    vt_ctx_set_rng_offset(c, 77);
    return vt_dropout(c, a->flag ? vt_transpose(c, in[0], 0, 1) : in[0], a->s);
}

START_TEST(dropout_same_mask_as_cpu) {
    vt_ctx *c = make_ctx();
    vt_tensor *x = RN(1, 257, 391);
    check_op(c, "dropout_0.3", dropout_fn, ARG(.s = 0.3), INS(x), 1, EXACT, EXACT);
    check_op(c, "dropout_0.5_transposed", dropout_fn, ARG(.s = 0.5, .flag = true), INS(x), 1, EXACT, EXACT);
    check_op(c, "dropout_0.1_tiny", dropout_fn, ARG(.s = 0.1), INS(RN(2, 7)), 1, EXACT, EXACT);
    check_op(c, "dropout_0.9_odd", dropout_fn, ARG(.s = 0.9), INS(RN(3, 100003)), 1, EXACT, EXACT);
    /* the counter advances by the same amount on both devices */
    set_case("dropout_rng_counter");
    vt_tensor *xg = vt_to_device(c, x, gpu());
    vt_ctx_set_rng_offset(c, 5);
    vt_dropout(c, x, 0.3);
    const uint64_t after_cpu = vt_ctx_rng_offset(c);
    vt_ctx_set_rng_offset(c, 5);
    ck_assert_msg(vt_dropout(c, xg, 0.3) != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_uint_eq(vt_ctx_rng_offset(c), after_cpu);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

enum { F_UNIFORM, F_NORMAL, F_TRUNC, F_KAIMING, F_XAVIER };

static vt_status fill(vt_ctx *c, vt_tensor *t, int kind, double p0, double p1, double p2) {
    switch (kind) {
    case F_UNIFORM: return vt_init_uniform_(c, t, p0, p1);
    case F_NORMAL: return vt_init_normal_(c, t, p0, p1);
    case F_TRUNC: return vt_init_trunc_normal_(c, t, p0, p1, p2);
    case F_KAIMING: return vt_init_kaiming_uniform_(c, t, p0);
    case F_XAVIER: return vt_init_xavier_uniform_(c, t);
    }
    return VT_EINVAL;
}

/* The same fill from the same counter on a CPU and a cuda:0 tensor (a transposed view of each if asked). */
static void check_fill(vt_ctx *c, const char *name, int kind, double p0, double p1, double p2, int nd,
                       const int64_t *shape, bool transposed, tol t) {
    set_case(name);
    vt_scope_push(c);
    vt_tensor *tc = vt_empty(c, VT_F32, nd, shape), *tg = vt_empty_on(c, gpu(), VT_F32, nd, shape);
    if (!tc || !tg) {
        failf("%s: cannot allocate: %s", name, vt_ctx_error(c)->msg);
        goto done;
    }
    vt_tensor *vc = transposed ? vt_transpose(c, tc, 0, 1) : tc, *vg = transposed ? vt_transpose(c, tg, 0, 1) : tg;
    vt_ctx_set_rng_offset(c, 1000);
    if (fill(c, vc, kind, p0, p1, p2) != VT_OK) {
        failf("%s: CPU fill failed: %s", name, vt_ctx_error(c)->msg);
        goto done;
    }
    const uint64_t after_cpu = vt_ctx_rng_offset(c);
    vt_ctx_set_rng_offset(c, 1000);
    if (fill(c, vg, kind, p0, p1, p2) != VT_OK) {
        failf("%s: fill on cuda:0 failed: %s", name, vt_ctx_error(c)->msg);
        goto done;
    }
    if (vt_ctx_rng_offset(c) != after_cpu)
        failf("%s: the RNG counter ends at %llu on cuda:0, %llu on the CPU", name,
              (unsigned long long)vt_ctx_rng_offset(c), (unsigned long long)after_cpu);
    errstat e;
    compare(c, name, "values", tg, tc, true, t, &e);
    char s[VT_SHAPE_STR_MAX];
    printf("test_cuda_ops: %-28s %-18s out abs %.1e rel %.1e\n", name, vt_shape_str(tc, s, sizeof s), e.abs, e.rel);
done:
    vt_ctx_clear_error(c);
    vt_scope_pop(c);
}

START_TEST(random_fills_match_cpu) {
    vt_ctx *c = make_ctx();
    check_fill(c, "init_uniform", F_UNIFORM, -2.0, 3.0, 0, VT_SHAPE(100003), false, EXACT);
    check_fill(c, "init_uniform_transposed", F_UNIFORM, 5.0, 6.0, 0, VT_SHAPE(300, 257), true, EXACT);
    check_fill(c, "init_kaiming_uniform", F_KAIMING, sqrt(5.0), 0, 0, VT_SHAPE(64, 3, 7, 7), false, EXACT);
    check_fill(c, "init_xavier_uniform", F_XAVIER, 0, 0, 0, VT_SHAPE(300, 257), false, EXACT);
    check_fill(c, "init_normal", F_NORMAL, 0.5, 2.0, 0, VT_SHAPE(100003), false, NORMAL);
    check_fill(c, "init_trunc_normal_vit", F_TRUNC, 0.02, -2.0, 2.0, VT_SHAPE(100003), false, NORMAL);
    check_fill(c, "init_trunc_normal_std1", F_TRUNC, 1.0, -2.0, 2.0, VT_SHAPE(100003), false, NORMAL);
    check_fill(c, "init_trunc_normal_one_sided", F_TRUNC, 1.0, 0.5, 3.0, VT_SHAPE(4099), false, NORMAL);
    check_fill(c, "init_trunc_normal_transposed", F_TRUNC, 1.0, -1.0, 1.0, VT_SHAPE(300, 257), true, NORMAL);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== optimizers and gradient clipping ==== */

#define NPAR 3
static const int par_nd[NPAR] = {2, 1, 1};
static const int64_t par_shape[NPAR][2] = {{37, 29}, {29, 0}, {4099, 0}};
static const char *const par_name[NPAR] = {"w", "b", "v"};

/* Caller-owned leaves with the same values on the CPU (pc) and on cuda:0 (pg). */
static bool make_params(vt_ctx *c, vt_tensor **pc, vt_tensor **pg, uint64_t seed) {
    for (int i = 0; i < NPAR; i++) {
        pc[i] = vt_tensor_create(c, VT_F32, par_nd[i], par_shape[i]);
        pg[i] = vt_tensor_create_on(c, gpu(), VT_F32, par_nd[i], par_shape[i]);
        vt_scope_push(c);
        vt_tensor *r = vt_test_randn(c, par_nd[i], par_shape[i], seed + (uint64_t)i, 1.0f);
        if (pc[i] && pg[i] && r) {
            vt_copy_(c, pc[i], r);
            vt_copy_(c, pg[i], r);
        }
        vt_scope_pop(c);
        if (!pc[i] || !pg[i] || !vt_ctx_ok(c)) return false;
        vt_set_requires_grad(pc[i], true);
        vt_set_requires_grad(pg[i], true);
        vt_tensor_set_name(pc[i], par_name[i]);
        vt_tensor_set_name(pg[i], par_name[i]);
    }
    return true;
}

static void release_params(vt_tensor **pc, vt_tensor **pg) {
    for (int i = 0; i < NPAR; i++) {
        if (pc[i]) vt_tensor_release(pc[i]);
        if (pg[i]) vt_tensor_release(pg[i]);
    }
}

/* Gives parameter i the same gradient on both devices (none when skip). */
static void set_grad(vt_ctx *c, vt_tensor *pc, vt_tensor *pg, int i, uint64_t seed, bool skip) {
    vt_zero_grad(pc);
    vt_zero_grad(pg);
    if (skip) return;
    vt_scope_push(c);
    vt_tensor *g = vt_test_randn(c, par_nd[i], par_shape[i], seed, 0.5f);
    pc->grad = vt_tensor_create(c, VT_F32, par_nd[i], par_shape[i]);
    pg->grad = vt_tensor_create_on(c, gpu(), VT_F32, par_nd[i], par_shape[i]);
    if (g && pc->grad && pg->grad) {
        vt_copy_(c, pc->grad, g);
        vt_copy_(c, pg->grad, g);
    }
    vt_scope_pop(c);
}

static void check_optimizer(vt_ctx *c, const char *name, vt_optim_options opt, double lr, double wd) {
    enum { STEPS = 5 };
    vt_tensor *pc[NPAR] = {0}, *pg[NPAR] = {0};
    vt_optim *oc = NULL, *og = NULL;
    errstat worst = {0, 0}, e;
    char what[320];
    set_case(name);
    if (!make_params(c, pc, pg, 100)) {
        failf("%s: cannot create the parameters: %s", name, vt_ctx_error(c)->msg);
        goto done;
    }
    oc = vt_optim_create(c, &opt);
    og = vt_optim_create(c, &opt);
    if (!oc || !og || vt_optim_add_group(oc, pc, NPAR, lr, wd) < 0 || vt_optim_add_group(og, pg, NPAR, lr, wd) < 0) {
        failf("%s: cannot set up the optimizers: %s", name, vt_ctx_error(c)->msg);
        goto done;
    }
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < NPAR; i++) /* parameter b has no gradient at step 3: it is skipped */
            set_grad(c, pc[i], pg[i], i, 1000u * (uint64_t)s + (uint64_t)i, s == 2 && i == 1);
        if (vt_optim_step(oc) != VT_OK) {
            failf("%s: CPU step %d failed: %s", name, s, vt_ctx_error(c)->msg);
            goto done;
        }
        if (vt_optim_step(og) != VT_OK) {
            failf("%s: step %d on cuda:0 failed: %s", name, s, vt_ctx_error(c)->msg);
            goto done;
        }
        for (int i = 0; i < NPAR; i++) {
            snprintf(what, sizeof what, "param %s after step %d", par_name[i], s + 1);
            if (!compare(c, name, what, pg[i], pc[i], true, ELEM, &e)) goto done;
            merge(&worst, e);
        }
    }
    if (vt_optim_state_count(og) != vt_optim_state_count(oc))
        failf("%s: %zu state tensors on cuda:0, %zu on the CPU", name, vt_optim_state_count(og),
              vt_optim_state_count(oc));
    for (size_t i = 0; i < vt_optim_state_count(oc); i++) {
        vt_optim_state_entry ec, eg;
        if (!vt_optim_state_at(oc, i, &ec) || !vt_optim_state_at(og, i, &eg)) break;
        if (strcmp(ec.name, eg.name)) {
            failf("%s: state %zu is '%s' on cuda:0, '%s' on the CPU", name, i, eg.name, ec.name);
            continue;
        }
        snprintf(what, sizeof what, "state %s", ec.name);
        /* the AdamW step count may live on the host */
        compare(c, name, what, eg.tensor, ec.tensor, eg.tensor->dtype == VT_F32, ELEM, &e);
        merge(&worst, e);
    }
    printf("test_cuda_ops: %-28s %-18s params+state abs %.1e rel %.1e\n", name, "5 steps", worst.abs, worst.rel);
done:
    vt_ctx_clear_error(c);
    vt_optim_destroy(oc);
    vt_optim_destroy(og);
    release_params(pc, pg);
}

START_TEST(optimizer_updates) {
    vt_ctx *c = make_ctx();
    vt_optim_options adamw = vt_adamw_options(), adamw_eps = vt_adamw_options();
    adamw_eps.beta1 = 0.8, adamw_eps.beta2 = 0.95, adamw_eps.eps = 1e-3;
    vt_optim_options sgd_damp = vt_sgd_options(0.8, false);
    sgd_damp.dampening = 0.3;
    check_optimizer(c, "adamw", adamw, 1e-2, 0.05);
    check_optimizer(c, "adamw_betas_eps", adamw_eps, 3e-2, 0.1);
    check_optimizer(c, "sgd", vt_sgd_options(0, false), 0.1, 0.01);
    check_optimizer(c, "sgd_momentum", vt_sgd_options(0.9, false), 0.05, 0.1);
    check_optimizer(c, "sgd_nesterov", vt_sgd_options(0.9, true), 0.05, 0.05);
    check_optimizer(c, "sgd_dampening", sgd_damp, 0.05, 0.02);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

START_TEST(gradient_norm_clipping) {
    vt_ctx *c = make_ctx();
    static const struct {
        const char *name;
        double norm_type, max_norm;
    } cases[] = {
        {"clip_l2", 2.0, 0.5},       {"clip_l2_no_clip", 2.0, 1e6}, {"clip_l1", 1.0, 3.0},
        {"clip_inf", INFINITY, 0.1}, {"clip_l3", 3.0, 0.7},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vt_tensor *pc[NPAR] = {0}, *pg[NPAR] = {0};
        errstat worst = {0, 0}, e;
        char what[64];
        set_case(cases[k].name);
        if (!make_params(c, pc, pg, 200)) {
            failf("%s: cannot create the parameters: %s", cases[k].name, vt_ctx_error(c)->msg);
            release_params(pc, pg);
            vt_ctx_clear_error(c);
            continue;
        }
        for (int i = 0; i < NPAR; i++) set_grad(c, pc[i], pg[i], i, 300u + (uint64_t)i, i == 1); /* b: no grad */
        const double tc = vt_clip_grad_norm(c, pc, NPAR, cases[k].max_norm, cases[k].norm_type);
        const double tg = vt_clip_grad_norm(c, pg, NPAR, cases[k].max_norm, cases[k].norm_type);
        if (!(tc >= 0) || !(tg >= 0))
            failf("%s: clip_grad_norm failed (cpu %g, cuda %g): %s", cases[k].name, tc, tg, vt_ctx_error(c)->msg);
        else if (!(fabs(tg - tc) <= 1e-5 * tc + 1e-12))
            failf("%s: total norm %.9g on cuda:0, %.9g on the CPU (rel err %.3g)", cases[k].name, tg, tc,
                  fabs(tg - tc) / tc);
        for (int i = 0; i < NPAR; i++) {
            if (!pc[i]->grad && !pg[i]->grad) continue;
            snprintf(what, sizeof what, "clipped grad of %s", par_name[i]);
            compare(c, cases[k].name, what, pg[i]->grad, pc[i]->grad, true, ELEM, &e);
            merge(&worst, e);
        }
        printf("test_cuda_ops: %-28s total %.6g vs %.6g, grads abs %.1e rel %.1e\n", cases[k].name, tg, tc, worst.abs,
               worst.rel);
        vt_ctx_clear_error(c);
        release_params(pc, pg);
    }
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== device plumbing: transfers, fills, item access and autograd across devices ==== */

START_TEST(transfers_and_autograd_across_devices) {
    vt_ctx *c = make_ctx();
    set_case("transfers_and_autograd_across_devices");
    errstat e;
    vt_tensor *x = RN(1, 5, 7);
    vt_tensor *xg = vt_to_device(c, x, gpu());
    ck_assert_msg(xg != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert(vt_device_equal(xg->device, gpu()) && vt_same_shape(xg, x) && xg->grad_fn == NULL);
    ck_assert_ptr_eq(vt_to_device(c, xg, gpu()), xg);
    compare(c, "to_device", "round trip", xg, x, true, EXACT, &e);
    ck_assert_double_eq(vt_item_at(xg, 12), (double)vt_f32(x)[12]);
    /* strided device -> host copy */
    vt_tensor *t = vt_empty(c, VT_F32, VT_SHAPE(7, 5));
    ck_assert_int_eq(vt_copy_(c, t, vt_transpose(c, xg, 0, 1)), VT_OK);
    compare(c, "copy_", "transposed cuda -> cpu", t, vt_contiguous(c, vt_transpose(c, x, 0, 1)), false, EXACT, &e);
    /* host -> device with dtype conversion, as the CPU converts */
    vt_tensor *hb = vt_empty(c, VT_BF16, VT_SHAPE(5, 7)), *db = vt_empty_on(c, gpu(), VT_BF16, VT_SHAPE(5, 7));
    ck_assert_int_eq(vt_copy_(c, hb, x), VT_OK);
    ck_assert_int_eq(vt_copy_(c, db, x), VT_OK);
    compare(c, "copy_", "f32 -> bf16", db, hb, true, EXACT, &e);
    /* device -> device, strided */
    vt_tensor *dd = vt_empty_on(c, gpu(), VT_F32, VT_SHAPE(7, 5));
    ck_assert_int_eq(vt_copy_(c, dd, vt_transpose(c, xg, 0, 1)), VT_OK);
    compare(c, "copy_", "transposed cuda -> cuda", dd, t, true, EXACT, &e);
    /* fills and zero-initialised creation */
    vt_tensor *f = vt_full_on(c, gpu(), VT_F32, VT_SHAPE(3, 4), 2.5);
    ck_assert_msg(f != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_double_eq(vt_item_at(f, 5), 2.5);
    vt_tensor *z = vt_zeros_on(c, gpu(), VT_I64, VT_SHAPE(9));
    ck_assert_double_eq(vt_item_at(z, 8), 0.0);
    ck_assert_int_eq(vt_fill_(c, z, 7.0), VT_OK);
    ck_assert_double_eq(vt_item_at(z, 3), 7.0);
    vt_tensor *own = vt_tensor_create_on(c, gpu(), VT_F32, VT_SHAPE(4099));
    ck_assert_ptr_nonnull(own);
    compare(c, "tensor_create_on", "zeros", own, vt_zeros(c, VT_F32, VT_SHAPE(4099)), true, EXACT, &e);
    vt_tensor_release(own);
    /* CPU leaf -> cuda op -> back: the gradient reaches the CPU leaf */
    vt_tensor *p = vt_test_param(c, VT_SHAPE(6), 2, 1.0f);
    vt_tensor *y = vt_to_device(c, vt_mul_scalar(c, vt_to_device(c, p, gpu()), 3.0), vt_cpu());
    ck_assert_msg(y != NULL && y->device.kind == VT_DEVICE_CPU, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, y)), VT_OK);
    ck_assert(p->grad && p->grad->device.kind == VT_DEVICE_CPU);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(vt_f32(p->grad)[i], 3.0f);
    /* cuda leaf -> CPU op -> back: the gradient lands on the device */
    vt_tensor *q = vt_tensor_create_on(c, gpu(), VT_F32, VT_SHAPE(6));
    ck_assert_int_eq(vt_copy_(c, q, RN(3, 6)), VT_OK);
    vt_set_requires_grad(q, true);
    vt_tensor *y2 = vt_to_device(c, vt_mul_scalar(c, vt_to_device(c, q, vt_cpu()), -2.0), gpu());
    ck_assert_msg(y2 != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert_int_eq(vt_backward(c, vt_sum_all(c, y2)), VT_OK);
    ck_assert(q->grad && vt_device_equal(q->grad->device, gpu()));
    for (int i = 0; i < 6; i++) ck_assert_double_eq(vt_item_at(q->grad, i), -2.0);
    /* mixing devices in one op is an error, not a crash */
    ck_assert_ptr_null(vt_add(c, x, xg));
    ck_assert_msg(strstr(vt_ctx_error(c)->msg, "different devices"), "%s", vt_ctx_error(c)->msg);
    vt_ctx_clear_error(c);
    vt_tensor_release(p);
    vt_tensor_release(q);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== end to end: the tiny ViT, forward and backward ==== */

/* The field of m that holds parameter t (the model has no "to device": its fields are swapped in place). */
static vt_tensor **vit_slot(vt_vit *m, const vt_tensor *t) {
    vt_tensor **top[] = {&m->patch_w, &m->patch_b, &m->cls_token, &m->pos_embed, &m->ln_pre_w,
                         &m->ln_pre_b, &m->norm_w,  &m->norm_b,    &m->head_w,    &m->head_b};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (*top[i] == t) return top[i];
    for (int b = 0; b < m->cfg.depth; b++) {
        vt_vit_block *k = &m->blocks[b];
        vt_tensor **blk[] = {&k->norm1_w, &k->norm1_b, &k->qkv_w,   &k->qkv_b,  &k->proj_w, &k->proj_b, &k->norm2_w,
                             &k->norm2_b, &k->fc1_w,   &k->fc1_b,   &k->fc2_w,  &k->fc2_b,  &k->q_bias, &k->v_bias};
        for (size_t i = 0; i < sizeof blk / sizeof blk[0]; i++)
            if (*blk[i] == t) return blk[i];
    }
    return NULL;
}

START_TEST(vit_tiny_forward_backward_matches_cpu) {
    vt_ctx *c = make_ctx();
    set_case("vit_tiny");
    vt_err err = {0};
    vt_vit_config cfg;
    ck_assert_msg(vt_vit_preset("tiny", &cfg, &err) == VT_OK, "%s", err.msg);
    vt_vit *mc = vt_vit_create(c, &cfg, &err);
    ck_assert_msg(mc != NULL, "%s", err.msg);
    vt_vit *mg = vt_vit_create(c, &cfg, &err);
    ck_assert_msg(mg != NULL, "%s", err.msg);
    ck_assert_uint_eq(mc->params.n, mg->params.n);
    /* mg gets cuda:0 copies of mc's parameters */
    for (size_t i = 0; i < mg->params.n; i++) {
        vt_tensor *pc = mc->params.items[i].tensor, *old = mg->params.items[i].tensor;
        vt_tensor **slot = vit_slot(mg, old);
        ck_assert_msg(slot != NULL, "parameter %s is in no field of vt_vit (update vit_slot)",
                      mg->params.items[i].name);
        vt_tensor *p = vt_tensor_create_on(c, gpu(), VT_F32, pc->ndim, pc->shape);
        ck_assert_msg(p != NULL && vt_copy_(c, p, pc) == VT_OK, "%s: %s", mg->params.items[i].name,
                      vt_ctx_error(c)->msg);
        vt_set_requires_grad(p, true);
        vt_tensor_set_name(p, mg->params.items[i].name);
        *slot = p;
        mg->params.items[i].tensor = p;
        vt_tensor_release(old);
    }
    vt_tensor *images = RN(1, 2, 3, cfg.image_size, cfg.image_size);
    vt_tensor *ig = vt_to_device(c, images, gpu());
    vt_vit_output oc, og;
    ck_assert_msg(vt_vit_forward(c, mc, images, &oc) == VT_OK, "CPU forward: %s", vt_ctx_error(c)->msg);
    ck_assert_msg(vt_vit_forward(c, mg, ig, &og) == VT_OK, "forward on cuda:0: %s", vt_ctx_error(c)->msg);
    errstat e, worst = {0, 0};
    char sh[VT_SHAPE_STR_MAX];
    compare(c, "vit_tiny", "logits", og.logits, oc.logits, true, VIT, &e);
    const errstat logits_err = e;
    vt_tensor *w = vt_test_randn(c, oc.logits->ndim, oc.logits->shape, 4242, 1.0f);
    ck_assert_msg(vt_backward(c, vt_sum_all(c, vt_mul(c, oc.logits, w))) == VT_OK, "CPU backward: %s",
                  vt_ctx_error(c)->msg);
    ck_assert_msg(vt_backward(c, vt_sum_all(c, vt_mul(c, og.logits, vt_to_device(c, w, gpu())))) == VT_OK,
                  "backward on cuda:0: %s", vt_ctx_error(c)->msg);
    const char *worst_name = "";
    for (size_t i = 0; i < mc->params.n; i++) {
        vt_tensor *gc = mc->params.items[i].tensor->grad, *gg = mg->params.items[i].tensor->grad;
        char what[320];
        snprintf(what, sizeof what, "grad of %s", mc->params.items[i].name);
        if (!gc || !gg) {
            if (gc || gg) failf("vit_tiny %s: only the %s model has one", what, gc ? "CPU" : "CUDA");
            continue;
        }
        compare(c, "vit_tiny", what, gg, gc, true, VIT, &e);
        if (e.rel >= worst.rel) worst_name = mc->params.items[i].name;
        merge(&worst, e);
    }
    printf("test_cuda_ops: %-28s %-18s logits abs %.1e rel %.1e | %zu param grads abs %.1e rel %.1e (worst %s)\n",
           "vit_tiny", vt_shape_str(oc.logits, sh, sizeof sh), logits_err.abs, logits_err.rel, mc->params.n, worst.abs,
           worst.rel, worst_name);
    vt_vit_destroy(mc);
    vt_vit_destroy(mg);
    vt_ctx_destroy(c);
    END_CASES();
}
END_TEST

/* ==== main: skip without a GPU; one process for all tests ==== */

int main(void) {
#ifndef VT_TEST_EMU /* the emulated accelerator is in every build */
    if (vt_device_count(VT_DEVICE_CUDA) <= 0) {
        vt_err err = {0};
        const char *why = "no GPU visible";
        if (vt_device_check(vt_cuda(0), &err) != VT_OK && strstr(err.msg, "this build has no"))
            why = "this build has no CUDA backend";
        printf("test_cuda_ops: SKIPPED: no CUDA device (%s)\n", why);
        return 77;
    }
#endif
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGABRT, on_crash);
    const TTest *const tests[] = {
        transfers_and_autograd_across_devices,
        elementwise_unary_and_scalar_ops,
        elementwise_binary_ops_with_broadcasting,
        matmul_bmm_linear,
        gemms_under_bf16_autocast,
        reductions_and_softmax,
        layer_norm_and_group_norm,
        shape_ops_and_dtype_conversion,
        index_ops,
        conv2d_and_pooling,
        interpolate_and_grid_sample,
        scaled_dot_product_attention,
        losses,
        dropout_same_mask_as_cpu,
        random_fills_match_cpu,
        vit_tiny_forward_backward_matches_cpu,
        gradient_norm_clipping,
        optimizer_updates,
    };
    Suite *s = suite_create("cuda_ops");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        TCase *tc = tcase_create(tests[i]->name);
        tcase_set_timeout(tc, 600);
        _tcase_add_test(tc, tests[i], 0, 0, 0, 1);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* CUDA is initialised in this process already (see the top) */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
