/* `visft bench gemm`: GFLOP/s of visft's GEMM path (vt_linear / vt_matmul, with dispatch, allocation and the
 * operand layout logic) next to a bare cblas_sgemm on the same shapes — the shapes of a ViT-S/16 training
 * step at batch 8 (forward, input-gradient and weight-gradient products). */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "backend/cpu/blas.h"
#include "bench/bench.h"
#include "visft/ops.h"

double vt_bench_median(double *v, int n) {
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : 0.0;
}

double vt_bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

typedef struct shape {
    const char *what;
    int M, N, K;
    bool ta, tb;
} shape;

vt_status vt_bench_gemm(const vt_bench_opts *o, FILE *out, vt_err *err) {
    vt_ctx_options co = {.threads = o->threads, .seed = 1};
    vt_ctx *c = vt_ctx_create(&co);
    if (!c) return vt_err_set(err, VT_ENOMEM, "bench gemm: out of memory");
    int threads = vt_ctx_threads(c);

    int R = o->batch * 197, D = 384, H = 1536;
    const shape shapes[] = {
        {"qkv fwd   x·Wᵀ", R, 3 * D, D, false, true},  {"proj fwd  x·Wᵀ", R, D, D, false, true},
        {"fc1 fwd   x·Wᵀ", R, H, D, false, true},      {"fc2 fwd   x·Wᵀ", R, D, H, false, true},
        {"fc1 dx    g·W", R, D, H, false, false},      {"fc2 dW    gᵀ·x", D, H, R, true, false},
        {"fc1 dW    gᵀ·x", H, D, R, true, false},      {"qkv dW    gᵀ·x", 3 * D, D, R, true, false},
    };
    int ns = (int)(sizeof shapes / sizeof shapes[0]);
    fprintf(out, "GEMM on ViT-S/16 step shapes (batch %d, %d threads, OpenBLAS %s kernels), median of %d runs\n",
            o->batch, threads, vt_blas_core(), o->runs);
    fprintf(out, "%-16s %6s %6s %6s %12s %12s %7s\n", "product", "M", "N", "K", "visft GF/s", "OpenBLAS GF/s",
            "ratio");
    double sum_v = 0, sum_b = 0;
    for (int s = 0; s < ns; s++) {
        const shape *sh = &shapes[s];
        vt_scope_push(c);
        /* operands laid out as the step has them: A [M,K] (or [K,M] when ta), B [K,N] (or [N,K] when tb) */
        int64_t ar = sh->ta ? sh->K : sh->M, ac = sh->ta ? sh->M : sh->K;
        int64_t br = sh->tb ? sh->N : sh->K, bc = sh->tb ? sh->K : sh->N;
        vt_tensor *A = vt_full(c, VT_F32, VT_SHAPE(ar, ac), 0.01), *B = vt_full(c, VT_F32, VT_SHAPE(br, bc), 0.02);
        vt_tensor *C = vt_empty(c, VT_F32, VT_SHAPE(sh->M, sh->N));
        if (!A || !B || !C) {
            vt_ctx_destroy(c);
            return vt_err_set(err, VT_ENOMEM, "bench gemm: out of memory");
        }
        double flops = 2.0 * sh->M * sh->N * (double)sh->K;
        double tv[64], tb[64];
        int runs = o->runs < 64 ? o->runs : 64;
        for (int r = -o->warmup; r < runs; r++) {
            vt_scope_push(c);
            double t0 = vt_now();
            vt_tensor *a = sh->ta ? vt_transpose(c, A, 0, 1) : A, *b = sh->tb ? vt_transpose(c, B, 0, 1) : B;
            vt_tensor *y = vt_matmul(c, a, b);
            double t1 = vt_now();
            vt_scope_pop(c);
            vt_blas_threads(threads);
            double t2 = vt_now();
            vt_blas_sgemm(sh->ta, sh->tb, sh->M, sh->N, sh->K, 1.0f, vt_f32(A), (int)ac, vt_f32(B), (int)bc, 0.0f,
                          vt_f32(C), sh->N);
            double t3 = vt_now();
            if (!y) {
                vt_err_set(err, VT_EINVAL, "bench gemm: %s", vt_ctx_error(c)->msg);
                vt_ctx_destroy(c);
                return err->code;
            }
            if (r >= 0) {
                tv[r] = t1 - t0;
                tb[r] = t3 - t2;
            }
        }
        double gv = flops / vt_bench_median(tv, runs) / 1e9, gb = flops / vt_bench_median(tb, runs) / 1e9;
        sum_v += gv;
        sum_b += gb;
        fprintf(out, "%-16s %6d %6d %6d %12.1f %12.1f %6.0f%%\n", sh->what, sh->M, sh->N, sh->K, gv, gb,
                100.0 * gv / gb);
        if (o->json)
            fprintf(out, "{\"bench\":\"gemm\",\"product\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,\"visft_gflops\":%.2f,"
                         "\"openblas_gflops\":%.2f}\n",
                    sh->what, sh->M, sh->N, sh->K, gv, gb);
        vt_scope_pop(c);
    }
    fprintf(out, "mean: visft %.1f GF/s, OpenBLAS %.1f GF/s (%.0f%%)\n", sum_v / ns, sum_b / ns, 100.0 * sum_v / sum_b);
    vt_ctx_destroy(c);
    return VT_OK;
}
