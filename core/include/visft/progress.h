/* Training progress on stderr (or any FILE): on a terminal one live line rewritten in place with \r
 * (stage, step/total, loss, lr, img/s, ETA); otherwise, for log files and CI, a plain line every
 * interval_s seconds and/or every every_steps steps. vt_progress_finish ends with the final state and a
 * newline. No allocation, nothing can fail: the struct lives in the caller's storage.
 *
 *     vt_progress p;
 *     vt_progress_begin(&p, NULL, "lora", 0, 1000);
 *     for (...) vt_progress_update(&p, step + 1, loss, lr, batch_size);
 *     vt_progress_finish(&p);
 *
 * "lora 120/1000 | loss 0.4321 | lr 1.00e-04 | 512.3 img/s | ETA 1:02:03" */
#ifndef VISFT_PROGRESS_H
#define VISFT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_progress_mode {
    VT_PROGRESS_AUTO = 0, /* live when isatty(fileno(out)), else plain */
    VT_PROGRESS_LIVE,
    VT_PROGRESS_PLAIN
} vt_progress_mode;

typedef struct vt_progress_opts {
    FILE *out;              /* NULL -> stderr */
    vt_progress_mode mode;
    double interval_s;      /* plain: a line at least this often; 0 -> 10 s (negative: never by time) */
    int64_t every_steps;    /* plain: also a line every this many steps; 0 -> off */
    double refresh_s;       /* live: redraw at most this often; 0 -> 0.1 s */
    /* Seconds from any fixed origin; NULL -> CLOCK_MONOTONIC. For tests. */
    double (*clock)(void *user);
    void *clock_user;
} vt_progress_opts;

typedef struct vt_progress {
    vt_progress_opts o;
    int live;
    char stage[32];
    int64_t total, start_step, step, last_print_step;
    double loss, lr;
    double t0, last_print_t;
    double images;       /* since begin */
    size_t last_len;     /* live: length of the line on screen, to blank leftovers */
    int printed_any;
} vt_progress;

/* Starts a stage at start_step (non-zero when resuming) of total steps (0 -> unknown: no ETA). */
void vt_progress_begin(vt_progress *p, const vt_progress_opts *opts, const char *stage, int64_t start_step,
                       int64_t total);
/* Records that the step-th step (1-based count of steps done) finished with this loss and lr after
 * processing n_images images; prints when the mode's schedule says so. */
void vt_progress_update(vt_progress *p, int64_t step, double loss, double lr, int64_t n_images);
/* Prints the final state (unless just printed) and ends the line. */
void vt_progress_finish(vt_progress *p);
/* Formats the current state into buf (the text of one line, no newline); returns its length. */
size_t vt_progress_format(const vt_progress *p, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
