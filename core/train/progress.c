/* Progress line for the trainer; see visft/progress.h. Live mode pads with spaces rather than using an
 * ANSI erase so it works on any terminal; it redraws at most every refresh_s so a fast loop does not
 * spend its time writing to the terminal. */
#include "visft/progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_now(void *user) {
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(const vt_progress *p) { return p->o.clock(p->o.clock_user); }

void vt_progress_begin(vt_progress *p, const vt_progress_opts *opts, const char *stage, int64_t start_step,
                       int64_t total) {
    memset(p, 0, sizeof *p);
    if (opts) p->o = *opts;
    if (!p->o.out) p->o.out = stderr;
    if (!p->o.clock) p->o.clock = mono_now;
    if (p->o.interval_s == 0) p->o.interval_s = 10.0;
    if (p->o.refresh_s <= 0) p->o.refresh_s = 0.1;
    p->live = p->o.mode == VT_PROGRESS_LIVE ||
              (p->o.mode == VT_PROGRESS_AUTO && isatty(fileno(p->o.out)));
    snprintf(p->stage, sizeof p->stage, "%s", stage ? stage : "train");
    p->total = total > 0 ? total : 0;
    p->start_step = p->step = p->last_print_step = start_step;
    p->loss = p->lr = NAN;
    p->t0 = p->last_print_t = now(p);
}

static size_t clampn(int n, size_t cap) { return n < 0 ? 0 : (size_t)n >= cap ? (cap ? cap - 1 : 0) : (size_t)n; }

size_t vt_progress_format(const vt_progress *p, char *buf, size_t cap) {
    if (!cap) return 0;
    size_t len = 0;
    if (p->total)
        len = clampn(snprintf(buf, cap, "%s %lld/%lld", p->stage, (long long)p->step, (long long)p->total), cap);
    else
        len = clampn(snprintf(buf, cap, "%s %lld", p->stage, (long long)p->step), cap);
    if (!isnan(p->loss)) len += clampn(snprintf(buf + len, cap - len, " | loss %.4f", p->loss), cap - len);
    if (!isnan(p->lr)) len += clampn(snprintf(buf + len, cap - len, " | lr %.2e", p->lr), cap - len);
    double el = now(p) - p->t0;
    int64_t done = p->step - p->start_step;
    if (el > 0 && done > 0) {
        if (p->images > 0) len += clampn(snprintf(buf + len, cap - len, " | %.1f img/s", p->images / el), cap - len);
        if (p->total && p->step <= p->total) {
            double eta = el / (double)done * (double)(p->total - p->step);
            long long s = (long long)(eta + 0.5);
            len += clampn(snprintf(buf + len, cap - len, " | ETA %lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60),
                          cap - len);
        }
    }
    return len;
}

static void print(vt_progress *p) {
    char line[256];
    size_t n = vt_progress_format(p, line, sizeof line);
    if (p->live) {
        /* Blank what is left of a longer previous line. */
        int pad = p->last_len > n ? (int)(p->last_len - n) : 0;
        fprintf(p->o.out, "\r%s%*s", line, pad, "");
        p->last_len = n;
    } else {
        fprintf(p->o.out, "%s\n", line);
    }
    fflush(p->o.out);
    p->last_print_step = p->step;
    p->last_print_t = now(p);
    p->printed_any = 1;
}

void vt_progress_update(vt_progress *p, int64_t step, double loss, double lr, int64_t n_images) {
    p->step = step, p->loss = loss, p->lr = lr;
    if (n_images > 0) p->images += (double)n_images;
    double dt = now(p) - p->last_print_t;
    int due;
    if (p->live)
        due = dt >= p->o.refresh_s || (p->total && step >= p->total) || !p->printed_any;
    else
        due = (p->o.every_steps > 0 && step % p->o.every_steps == 0) || (p->o.interval_s > 0 && dt >= p->o.interval_s);
    if (due) print(p);
}

void vt_progress_finish(vt_progress *p) {
    if (p->live) {
        if (!p->printed_any || p->last_print_step != p->step) print(p);
        fputc('\n', p->o.out);
        fflush(p->o.out);
        p->last_len = 0;
    } else if (!p->printed_any || p->last_print_step != p->step) {
        print(p);
    }
}
