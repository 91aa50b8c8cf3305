/* Between metrics.c (the logger, metrics.jsonl) and metrics_tb.c (TensorBoard event files). */
#ifndef VISFT_TRAIN_METRICS_INTERNAL_H
#define VISFT_TRAIN_METRICS_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "visft/metrics.h"

/* An open event file. */
typedef struct vt_tb_file {
    FILE *fp;
    char *path;
    unsigned char *buf; /* scratch for one encoded record, reused */
    size_t cap;
} vt_tb_file;

/* Creates dir/events.out.tfevents.<unix seconds>.<host> (a ".N" suffix when that name is taken) and
 * writes the file_version record. */
vt_status vt_tb_open(vt_tb_file *tb, const char *dir, const char *host, double wall_time, vt_err *err);
vt_status vt_tb_write_scalars(vt_tb_file *tb, double wall_time, int64_t step, const char *const *names,
                              const double *values, size_t n, vt_err *err);
vt_status vt_tb_close(vt_tb_file *tb, vt_err *err);

#endif
