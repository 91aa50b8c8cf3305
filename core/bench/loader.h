/* `visft bench loader`: data pipeline throughput (see loader.c). Separate from bench.h so the loader
 * benchmark and the model benchmarks are edited independently. */
#ifndef VISFT_CORE_BENCH_LOADER_H
#define VISFT_CORE_BENCH_LOADER_H

#include <stdbool.h>
#include <stdio.h>

#include "visft/error.h"

typedef struct vt_bench_loader_opts {
    const char *dir; /* JPEGs to read; NULL: generate into a temporary dir (removed after). A missing or
                      * empty dir is created and filled (and kept), so other programs can reuse the files. */
    int count;       /* images to generate (default 200) */
    int workers;     /* loader threads; 0 = on the calling thread (default 1) */
    int batch;       /* batch size (default 32) */
    int runs;        /* timed epochs over the files; the median is reported (default 3) */
    int warmup;      /* untimed epochs first (default 1) */
    bool json;       /* also print one JSON line */
} vt_bench_loader_opts;

vt_status vt_bench_loader(const vt_bench_loader_opts *o, FILE *out, vt_err *err);

#endif
