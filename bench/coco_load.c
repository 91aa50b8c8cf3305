/* Loads a COCO annotation file with visft's loader and prints wall and CPU time and the process's peak RSS as one
 * JSON line (bench/coco_load.py runs it beside pycocotools). Usage: coco_load FILE */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "coco_json.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: coco_load FILE\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vt_coco *c = NULL;
    vt_err err = {0};
    if (vt_coco_load(argv[1], NULL, &c, &err) != VT_OK) {
        fprintf(stderr, "coco_load: %s\n", err.msg);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char summary[2048];
    vt_coco_summary(c, summary, sizeof summary);
    if (summary[0]) fputs(summary, stderr);
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
                 1e-6 * (double)ru.ru_stime.tv_usec;
    printf("{\"seconds\": %.4f, \"cpu_seconds\": %.4f, \"peak_rss_bytes\": %ld, \"images\": %zu, \"annotations\": %zu, \"categories\": %zu}\n",
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), cpu, ru.ru_maxrss * 1024L,
           c->n_images, c->n_anns, c->n_cats);
    vt_coco_free(c);
    return 0;
}
