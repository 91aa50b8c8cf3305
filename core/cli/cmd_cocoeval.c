/* `visft cocoeval GT.json RESULTS.json [--iou-type bbox|segm] [--json OUT] [--threads N]`: COCO evaluation
 * (pycocotools' COCOeval semantics, visft/cocoeval.h) without a model: prints the 12 standard numbers in
 * pycocotools' summary layout and optionally writes them as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/coco_json.h"
#include "visft/cocoeval.h"
#include "visft/json.h"

typedef struct cocoeval_args {
    const char *gt, *res, *iou_type, *json, *threads;
} cocoeval_args;

static vt_status write_json(const char *path, const char *iou_type, const double *stats, vt_err *err) {
    vt_json_writer w;
    vt_json_writer_init(&w);
    vt_json_write_object_begin(&w);
    vt_json_write_key(&w, "iou_type");
    vt_json_write_string(&w, iou_type);
    for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) {
        vt_json_write_key(&w, vt_cocoeval_stat_name(i));
        vt_json_write_double(&w, stats[i]);
    }
    vt_json_write_key(&w, "stats");
    vt_json_write_array_begin(&w);
    for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) vt_json_write_double(&w, stats[i]);
    vt_json_write_array_end(&w);
    vt_json_write_object_end(&w);
    vt_status st = vt_json_writer_status(&w, err);
    if (st == VT_OK) {
        size_t len;
        const char *s = vt_json_writer_str(&w, &len);
        FILE *f = fopen(path, "wb");
        if (!f) st = vt_err_set(err, VT_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
        else {
            bool ok = fwrite(s, 1, len, f) == len && fputc('\n', f) != EOF;
            if (fclose(f) != 0) ok = false;
            if (!ok) st = vt_err_set(err, VT_EIO, "%s: write failed", path);
        }
    }
    vt_json_writer_free(&w);
    return st;
}

static int cocoeval_run(const vt_cli_io *io, void *vargs) {
    cocoeval_args *a = vargs;
    vt_cocoeval_opts o = {.iou_type = VT_COCOEVAL_BBOX};
    const char *iou = a->iou_type ? a->iou_type : "bbox";
    if (strcmp(iou, "bbox") == 0) o.iou_type = VT_COCOEVAL_BBOX;
    else if (strcmp(iou, "segm") == 0) o.iou_type = VT_COCOEVAL_SEGM;
    else {
        vt_cli_fail(io, "cocoeval: --iou-type '%s': expected bbox or segm", iou);
        return VT_CLI_USAGE;
    }
    if (a->threads) {
        char *end;
        errno = 0;
        long t = strtol(a->threads, &end, 10);
        if (errno || *end || t < 1 || t > 4096) {
            vt_cli_fail(io, "cocoeval: --threads '%s' is not a positive integer", a->threads);
            return VT_CLI_USAGE;
        }
        o.threads = (int)t;
    }
    vt_err err;
    vt_err_clear(&err);
    vt_coco *gt = NULL;
    vt_coco_opts co = {.on_bad = VT_COCO_SKIP};
    vt_coco_dets dt = {0};
    double stats[VT_COCOEVAL_NSTATS];
    vt_status st = vt_coco_load(a->gt, &co, &gt, &err);
    if (st == VT_OK) {
        char sum[2048];
        if (vt_coco_summary(gt, sum, sizeof sum) > 0) fprintf(io->err, "%s", sum);
        st = vt_coco_dets_load(a->res, gt, &dt, &err);
    }
    if (st == VT_OK) st = vt_cocoeval(gt, &dt, &o, stats, &err);
    if (st == VT_OK && a->json) st = write_json(a->json, iou, stats, &err);
    vt_coco_dets_free(&dt);
    vt_coco_free(gt);
    if (st != VT_OK) return vt_cli_fail(io, "%s", err.msg);
    for (int i = 0; i < VT_COCOEVAL_NSTATS; i++) {
        char line[160];
        vt_cocoeval_summary_line(i, stats[i], line, sizeof line);
        fprintf(io->out, "%s\n", line);
    }
    return VT_CLI_OK;
}

static const vt_cli_option cocoeval_options[] = {
    {"iou-type", 't', VT_CLI_STRING, offsetof(cocoeval_args, iou_type), "TYPE", "bbox (default) or segm"},
    {"json", 'o', VT_CLI_STRING, offsetof(cocoeval_args, json), "FILE", "also write the 12 numbers as JSON to FILE"},
    {"threads", 'j', VT_CLI_STRING, offsetof(cocoeval_args, threads), "N", "worker threads (default: all cores)"},
    {0},
};

static const vt_cli_arg cocoeval_arguments[] = {
    {"GT", offsetof(cocoeval_args, gt), false, "ground truth: a COCO instances JSON file", false},
    {"RESULTS", offsetof(cocoeval_args, res), false, "detections: a COCO results JSON list", false},
    {0},
};

const vt_cli_command vt_cmd_cocoeval = {
    .name = "cocoeval",
    .summary = "COCO detection/segmentation evaluation (pycocotools COCOeval numbers)",
    .options = cocoeval_options,
    .args = cocoeval_arguments,
    .args_size = sizeof(cocoeval_args),
    .run = cocoeval_run,
    .epilog = "Example: visft cocoeval instances_val2017.json detections.json --iou-type segm --json stats.json\n",
};
