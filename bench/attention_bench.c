/* Times vt_sdpa against the explicit vt_matmul + vt_softmax + vt_matmul attention (forward, and forward +
 * backward), median of 5 after warm-up. Compare with bench/attention_bench_torch.py on the same machine.
 *
 *   cc -O2 -I core/include bench/attention_bench.c -L BUILD/core -lvisft -Wl,-rpath,BUILD/core -lm -o /tmp/ab
 *   /tmp/ab [B H L D [threads]]        (default 8 6 197 64 2: ViT-S/16) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "visft/autograd.h"
#include "visft/ops.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static vt_tensor *explicit_attn(vt_ctx *c, vt_tensor *q, vt_tensor *k, vt_tensor *v) {
    double scale = 1.0 / __builtin_sqrt((double)q->shape[3]);
    vt_tensor *s = vt_mul_scalar(c, vt_matmul(c, q, vt_transpose(c, k, -1, -2)), scale);
    return vt_matmul(c, vt_softmax(c, s, -1), v);
}

static vt_tensor *gemms_only(vt_ctx *c, vt_tensor *q, vt_tensor *k, vt_tensor *v) {
    vt_tensor *s = vt_matmul(c, q, vt_transpose(c, k, -1, -2));
    return vt_matmul(c, s, v);
}

typedef vt_tensor *(*attn_fn)(vt_ctx *, vt_tensor *, vt_tensor *, vt_tensor *);
static vt_tensor *fused(vt_ctx *c, vt_tensor *q, vt_tensor *k, vt_tensor *v) { return vt_sdpa(c, q, k, v, NULL, 0, false); }

/* Median ms of 5 runs (after 2 warm-ups); with_grad adds the backward pass. */
static double time_it(vt_ctx *c, attn_fn f, vt_tensor **in, vt_tensor *gy, int with_grad) {
    double t[5];
    for (int r = -2; r < 5; r++) {
        vt_scope_push(c);
        if (!with_grad) vt_no_grad_begin(c);
        double t0 = now_ms();
        vt_tensor *y = f(c, in[0], in[1], in[2]);
        if (with_grad && vt_backward_with(c, y, gy) != VT_OK) y = NULL;
        double dt = now_ms() - t0;
        if (!with_grad) vt_no_grad_end(c);
        if (!y) {
            fprintf(stderr, "failed: %s\n", vt_ctx_error(c)->msg);
            exit(1);
        }
        if (r >= 0) t[r] = dt;
        vt_scope_pop(c);
        for (int i = 0; i < 3; i++) vt_zero_grad(in[i]);
    }
    qsort(t, 5, sizeof t[0], cmp);
    return t[2];
}

int main(int argc, char **argv) {
    int64_t B = 8, H = 6, L = 197, D = 64;
    int threads = 2;
    if (argc >= 5) {
        B = atoll(argv[1]), H = atoll(argv[2]), L = atoll(argv[3]), D = atoll(argv[4]);
        if (argc >= 6) threads = atoi(argv[5]);
    }
    vt_ctx *c = vt_ctx_create(&(vt_ctx_options){.threads = threads, .seed = 1});
    vt_tensor *in[3];
    for (int i = 0; i < 3; i++) {
        in[i] = vt_tensor_create(c, VT_F32, 4, (int64_t[]){B, H, L, D});
        float *p = vt_f32(in[i]);
        for (int64_t j = 0; j < B * H * L * D; j++) p[j] = (float)((j * 2654435761u + (unsigned)i) % 2001) / 1000.0f - 1.0f;
        vt_set_requires_grad(in[i], true);
    }
    vt_tensor *gy = vt_full(c, VT_F32, 4, (int64_t[]){B, H, L, D}, 0.01);
    double gflop = 4.0 * (double)(B * H) * (double)L * (double)L * (double)D * 1e-9; /* two forward GEMMs */
    printf("B=%lld H=%lld L=%lld D=%lld threads=%d (forward GEMMs %.3f GFLOP)\n", (long long)B, (long long)H,
           (long long)L, (long long)D, threads, gflop);
    struct {
        const char *name;
        attn_fn f;
    } rows[] = {{"sdpa (fused)", fused}, {"matmul+softmax+matmul", explicit_attn}, {"two matmuls only", gemms_only}};
    for (int i = 0; i < 3; i++) {
        double tf = time_it(c, rows[i].f, in, gy, 0), tb = time_it(c, rows[i].f, in, gy, 1);
        printf("  %-24s fwd %7.2f ms (%5.1f GFLOP/s)   fwd+bwd %7.2f ms\n", rows[i].name, tf, gflop / tf * 1e3, tb);
    }
    for (int i = 0; i < 3; i++) vt_tensor_release(in[i]);
    vt_ctx_destroy(c);
    return 0;
}
