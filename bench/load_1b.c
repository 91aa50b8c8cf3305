/* Loading a 1B-parameter checkpoint: the EVA01-CLIP-g/14 backbone (1.0e9 parameters, 4 GB in f32) written in
 * EVA-CLIP key names, then loaded into visft tensors through the importer (format detection, key mapping,
 * mismatch check, copy), against reading the same file once with read(2). Both are measured warm: the file is
 * in the page cache (dropping caches needs root and a quiet machine), so the ratio is the importer's own cost
 * over a plain pass through the file. Target: <= 1.5x.
 *
 *   gcc -O2 -std=c11 -Icore/include bench/load_1b.c -Lbuild/core -lvisft -Wl,-rpath,$PWD/build/core -o /tmp/load_1b
 *   /tmp/load_1b DIR          (DIR needs 4.2 GB free; the file is left there for reruns, remove it after) */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "visft/checkpoint.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double read_once(const char *path, size_t *bytes) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    size_t cap = 16u << 20;
    char *buf = malloc(cap);
    double t = now();
    ssize_t n;
    *bytes = 0;
    while ((n = read(fd, buf, cap)) > 0) *bytes += (size_t)n;
    t = now() - t;
    free(buf);
    close(fd);
    return t;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: load_1b DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/eva01-g-14.eva_clip.safetensors", argv[1]);
    vt_ctx *c = vt_ctx_create(NULL);
    vt_err err = {0};
    vt_vit_config cfg;
    if (vt_vit_preset("eva01-g-14", &cfg, &err) != VT_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    if (!m) return fprintf(stderr, "%s\n", err.msg), 1;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        double t = now();
        if (vt_ckpt_export(&m->params, VT_CKPT_EVA_CLIP, path, &err) != VT_OK) return fprintf(stderr, "%s\n", err.msg), 1;
        printf("wrote %s in %.1f s\n", path, now() - t);
    }
    size_t bytes = 0;
    double best_read = 1e30, best_load = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double r = read_once(path, &bytes);
        if (r < best_read) best_read = r;
        double t = now();
        vt_ckpt_report rr;
        if (vt_ckpt_load(c, &m->params, path, NULL, &rr, &err) != VT_OK) return fprintf(stderr, "%s\n", err.msg), 1;
        t = now() - t;
        if (t < best_load) best_load = t;
        printf("rep %d: read %.3f s, load %.3f s (%zu tensors, %s)\n", rep, r, t, rr.loaded, vt_ckpt_format_name(rr.format));
    }
    printf("{\"params\": %lld, \"bytes\": %zu, \"read_s\": %.3f, \"load_s\": %.3f, \"read_GBps\": %.2f, "
           "\"load_GBps\": %.2f, \"ratio\": %.2f}\n",
           (long long)vt_tensor_list_numel(&m->params), bytes, best_read, best_load, bytes / best_read / 1e9,
           bytes / best_load / 1e9, best_load / best_read);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
    return 0;
}
