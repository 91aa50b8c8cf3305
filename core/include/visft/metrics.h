/* Run metrics for the trainer: every log_scalars call appends one JSON object per line to
 * RUN_DIR/metrics.jsonl and one TensorBoard Event to RUN_DIR/tb/events.out.tfevents.<time>.<host>.
 *
 * Both files are flushed after every record, so a run killed mid-stage keeps everything it logged (at
 * most the record being written is cut short). metrics.jsonl is opened for appending, so a resumed run
 * continues the same file; each open starts a new event file, and TensorBoard merges the files of a
 * directory. The event file is written without TensorFlow or protobuf: TFRecord framing (u64 length,
 * masked CRC32C of the length, data, masked CRC32C of the data) around hand-encoded Event protos.
 *
 *     vt_metrics *m;
 *     if (vt_metrics_open("runs/a", NULL, &m, &err) != VT_OK) ...
 *     const char *names[] = {"train/loss", "train/lr"};
 *     double values[] = {loss, lr};
 *     vt_metrics_log_scalars(m, step, names, values, 2, &err);
 *     vt_metrics_close(m);
 *
 * A metrics.jsonl line: {"step":12,"wall_time":1718000000.25,"train/loss":0.41,"train/lr":0.0001};
 * NaN and infinities are written as null (JSON has no such numbers); TensorBoard gets them as they are. */
#ifndef VISFT_METRICS_H
#define VISFT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_metrics vt_metrics;

typedef struct vt_metrics_opts {
    bool no_jsonl;       /* skip metrics.jsonl */
    bool no_tensorboard; /* skip the tb/ event file */
    const char *host;    /* host name in the event file's name; NULL -> gethostname() */
} vt_metrics_opts;

/* Creates run_dir and run_dir/tb when missing (one level each) and opens the outputs. opts may be NULL
 * (both outputs on). On failure *out is NULL and err names the path. */
vt_status vt_metrics_open(const char *run_dir, const vt_metrics_opts *opts, vt_metrics **out, vt_err *err);
/* Flushes and closes; returns the first write error seen by close (NULL m is fine). */
vt_status vt_metrics_close(vt_metrics *m, vt_err *err);

/* Logs n scalars for one step: one metrics.jsonl line and one Event holding n Summary.Values.
 * Names must be non-empty, distinct from "step" and "wall_time" (the line's own keys). */
vt_status vt_metrics_log_scalars(vt_metrics *m, int64_t step, const char *const *names, const double *values,
                                 size_t n, vt_err *err);

/* Paths of the outputs (NULL when that output is off). Valid until close. */
const char *vt_metrics_jsonl_path(const vt_metrics *m);
const char *vt_metrics_tb_path(const vt_metrics *m);

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses. Pass crc = 0 to start; feed
 * the previous result to continue over more data. */
uint32_t vt_crc32c(uint32_t crc, const void *data, size_t len);
/* TFRecord's masked form of a CRC (rotate right by 15, add 0xa282ead8): CRCs of data that itself holds
 * CRCs are poor, so the stored value is masked. */
static inline uint32_t vt_crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

#ifdef __cplusplus
}
#endif
#endif
