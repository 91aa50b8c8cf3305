/* Throughput benchmarks behind `visft bench`. Each prints a table and, optionally, one JSON line per result,
 * so scripts (bench/torch_vit.py) can compare against PyTorch measured in the same run. */
#ifndef VISFT_CORE_BENCH_H
#define VISFT_CORE_BENCH_H

#include <stdbool.h>
#include <stdio.h>

#include "visft/error.h"
#include "visft/tensor.h"

typedef struct vt_bench_opts {
    int threads; /* 0: all cores */
    int runs;    /* timed repetitions; the median is reported */
    int warmup;
    int batch;
    const char *model; /* a vt_vit_preset name ("vit-s-16", "eva01-g-14", "tiny", ...) */
    const char *mode;  /* vit: "full" | "lora" | "both" | "infer" */
    bool json;         /* also print one JSON object per result line to out */
    bool grad_checkpoint; /* vit: recompute blocks in backward */
    int image_size;       /* vit: 0 = the preset's */
    bool bf16;            /* vit: GEMMs under bf16 autocast (f32 weights and accumulation) */
} vt_bench_opts;

vt_status vt_bench_gemm(const vt_bench_opts *o, FILE *out, vt_err *err);
vt_status vt_bench_vit(const vt_bench_opts *o, FILE *out, vt_err *err);
/* The full and LoRA steps on an accelerator (core/bench/vit_device.c): img/s, TFLOP/s, MFU. */
vt_status vt_bench_vit_device(const vt_bench_opts *o, vt_device dev, FILE *out, vt_err *err);

/* Median of n values (sorts in place). */
double vt_bench_median(double *v, int n);
/* Peak resident set size of this process in MiB. */
double vt_bench_peak_rss_mib(void);

#endif
