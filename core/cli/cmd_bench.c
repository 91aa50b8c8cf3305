/* `visft bench gemm|vit`: throughput figures (see core/bench/). */
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/loader.h"
#include "cli/commands.h"

typedef struct bench_args {
    const char *threads, *runs, *warmup, *batch, *model, *mode, *image_size, *device, *precision;
    bool json, grad_checkpoint;
} bench_args;

/* Parses a positive integer option; false + message when malformed. */
static bool int_opt(const vt_cli_io *io, const char *name, const char *s, int dflt, int lo, int hi, int *out) {
    if (!s) {
        *out = dflt;
        return true;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        vt_cli_fail(io, "bench: --%s must be an integer in [%d, %d], got '%s'", name, lo, hi, s);
        return false;
    }
    *out = (int)v;
    return true;
}

static int bench_parse(const vt_cli_io *io, const bench_args *a, vt_bench_opts *o, int dflt_runs, int dflt_batch) {
    memset(o, 0, sizeof *o);
    if (!int_opt(io, "threads", a->threads, 0, 0, 1024, &o->threads) ||
        !int_opt(io, "runs", a->runs, dflt_runs, 1, 64, &o->runs) ||
        !int_opt(io, "warmup", a->warmup, 1, 0, 64, &o->warmup) ||
        !int_opt(io, "batch", a->batch, dflt_batch, 1, 4096, &o->batch) ||
        !int_opt(io, "image-size", a->image_size, 0, 1, 4096, &o->image_size))
        return VT_CLI_USAGE;
    o->model = a->model ? a->model : "vit-s-16";
    o->mode = a->mode ? a->mode : "both";
    o->json = a->json;
    o->grad_checkpoint = a->grad_checkpoint;
    return VT_CLI_OK;
}

static int gemm_run(const vt_cli_io *io, void *vargs) {
    vt_bench_opts o;
    int rc = bench_parse(io, vargs, &o, 5, 8);
    if (rc != VT_CLI_OK) return rc;
    vt_err err = {0};
    return vt_bench_gemm(&o, io->out, &err) == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

static int vit_run(const vt_cli_io *io, void *vargs) {
    const bench_args *a = vargs;
    vt_bench_opts o;
    int rc = bench_parse(io, a, &o, 5, 8);
    if (rc != VT_CLI_OK) return rc;
    vt_err err = {0};
    vt_device dev = vt_cpu();
    if (a->device && vt_device_parse(a->device, &dev, &err) != VT_OK) return vt_cli_fail(io, "bench: --%s", err.msg);
    if (a->precision && strcmp(a->precision, "f32") && strcmp(a->precision, "bf16"))
        return vt_cli_fail(io, "bench: --precision must be f32 or bf16, got '%s'", a->precision);
    o.bf16 = a->precision && !strcmp(a->precision, "bf16");
    vt_status st = dev.kind == VT_DEVICE_CPU ? vt_bench_vit(&o, io->out, &err) : vt_bench_vit_device(&o, dev, io->out, &err);
    return st == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

#define COMMON_OPTIONS                                                                                         \
    {"threads", 't', VT_CLI_STRING, offsetof(bench_args, threads), "N", "threads (default: all cores)"},       \
        {"runs", 'r', VT_CLI_STRING, offsetof(bench_args, runs), "N", "timed runs; the median is reported (5)"}, \
        {"warmup", 0, VT_CLI_STRING, offsetof(bench_args, warmup), "N", "untimed warm-up runs (1)"},             \
        {"batch", 'b', VT_CLI_STRING, offsetof(bench_args, batch), "N", "batch size (8)"},                       \
        {"json", 0, VT_CLI_FLAG, offsetof(bench_args, json), NULL, "also print one JSON line per result"}

static const vt_cli_option gemm_options[] = {COMMON_OPTIONS, {0}};
static const vt_cli_option vit_options[] = {
    COMMON_OPTIONS,
    {"model", 'm', VT_CLI_STRING, offsetof(bench_args, model), "NAME",
     "a ViT preset: vit-s-16 (default), tiny, eva01-g-14, eva02-e-14, openclip-vit-b-16, openclip-vit-l-14"},
    {"mode", 0, VT_CLI_STRING, offsetof(bench_args, mode), "MODE",
     "full (train every weight), lora (frozen backbone, LoRA r64 on q,v), both (default) or infer (forward only)"},
    {"image-size", 0, VT_CLI_STRING, offsetof(bench_args, image_size), "PX", "input size (the preset's)"},
    {"device", 0, VT_CLI_STRING, offsetof(bench_args, device), "DEV",
     "cpu (default) or cuda[:N]: full and LoRA steps on the GPU with TFLOP/s and MFU"},
    {"precision", 0, VT_CLI_STRING, offsetof(bench_args, precision), "P",
     "f32 (default) or bf16: GEMMs on bf16 inputs, f32 accumulation and weights"},
    {"grad-checkpoint", 0, VT_CLI_FLAG, offsetof(bench_args, grad_checkpoint), NULL,
     "recompute each block in backward (less activation memory)"},
    {0},
};

static const vt_cli_command bench_gemm_cmd = {
    .name = "gemm",
    .summary = "GEMM GFLOP/s on ViT step shapes, visft next to bare OpenBLAS",
    .options = gemm_options,
    .args_size = sizeof(bench_args),
    .run = gemm_run,
};

static const vt_cli_command bench_vit_cmd = {
    .name = "vit",
    .summary = "ViT training-step throughput (img/s, GFLOP/s, peak RSS): full and LoRA steps",
    .options = vit_options,
    .args_size = sizeof(bench_args),
    .run = vit_run,
    .epilog = "bench/torch_vit.py runs the same steps in PyTorch and prints the ratios; bench/torch_eva.py times "
              "timm's Eva against --mode infer.",
};

/* ---- bench loader (core/bench/loader.c) ---- */
typedef struct loader_args {
    const char *dir, *count, *workers, *batch, *runs, *warmup;
    bool json;
} loader_args;

static int loader_run(const vt_cli_io *io, void *vargs) {
    loader_args *a = vargs;
    vt_bench_loader_opts o = {.dir = a->dir, .json = a->json};
    if (!int_opt(io, "count", a->count, 200, 1, 100000, &o.count) ||
        !int_opt(io, "workers", a->workers, 1, 0, 256, &o.workers) ||
        !int_opt(io, "batch", a->batch, 32, 1, 4096, &o.batch) || !int_opt(io, "runs", a->runs, 3, 1, 64, &o.runs) ||
        !int_opt(io, "warmup", a->warmup, 1, 0, 64, &o.warmup))
        return VT_CLI_USAGE;
    vt_err err = {0};
    return vt_bench_loader(&o, io->out, &err) == VT_OK ? VT_CLI_OK : vt_cli_fail(io, "%s", err.msg);
}

static const vt_cli_option loader_options[] = {
    {"dir", 'd', VT_CLI_STRING, offsetof(loader_args, dir), "DIR",
     "JPEGs to read; a missing or empty DIR is filled with generated ones (default: a temporary dir)"},
    {"count", 'n', VT_CLI_STRING, offsetof(loader_args, count), "N", "JPEGs to generate (200)"},
    {"workers", 'w', VT_CLI_STRING, offsetof(loader_args, workers), "N",
     "loader threads; 0 = the calling thread (1)"},
    {"threads", 't', VT_CLI_STRING, offsetof(loader_args, workers), "N", "same as --workers"},
    {"batch", 'b', VT_CLI_STRING, offsetof(loader_args, batch), "N", "batch size (32)"},
    {"runs", 'r', VT_CLI_STRING, offsetof(loader_args, runs), "N", "timed epochs; the median is reported (3)"},
    {"warmup", 0, VT_CLI_STRING, offsetof(loader_args, warmup), "N", "untimed epochs first (1)"},
    {"json", 0, VT_CLI_FLAG, offsetof(loader_args, json), NULL, "also print one JSON line"},
    {0},
};

static const vt_cli_command bench_loader_cmd = {
    .name = "loader",
    .summary = "data pipeline images/s (JPEG decode, resize, flip, crop, normalize, collate)",
    .options = loader_options,
    .args_size = sizeof(loader_args),
    .run = loader_run,
    .epilog = "bench/loader_torch.py runs the same pipeline in PIL + torchvision on the same files and prints "
              "the ratio.",
};

static const vt_cli_command *const bench_subcommands[] = {&bench_gemm_cmd, &bench_vit_cmd, &bench_loader_cmd, NULL};

const vt_cli_command vt_cmd_bench = {
    .name = "bench",
    .summary = "throughput benchmarks (gemm, vit, loader)",
    .subcommands = bench_subcommands,
};
