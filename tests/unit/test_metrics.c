/* Run logger and progress line: metrics.jsonl lines parse and hold the values; CRC-32C known answers; the
 * event file's TFRecords re-read and CRC-checked here, their Event protos decoded by a small reader; and
 * tensorboard's own EventAccumulator reading the scalars back (tests/ref/tb_read.py; skips with one line
 * when the reference venv or tensorboard is missing). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "visft/json.h"
#include "visft/metrics.h"
#include "visft/progress.h"
#include "vt_test.h"

static void tmp_run_dir(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/tests/metrics_%s_%d", VISFT_BUILD_DIR, tag, (int)getpid());
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    ck_assert_int_eq(system(cmd), 0);
}

static void rm_rf(const char *dir) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* ---- CRC-32C ---- */
START_TEST(test_crc32c_known_answers) {
    ck_assert_uint_eq(vt_crc32c(0, "123456789", 9), 0xE3069283u);
    unsigned char z[32] = {0}, ff[32];
    memset(ff, 0xff, sizeof ff);
    ck_assert_uint_eq(vt_crc32c(0, z, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    ck_assert_uint_eq(vt_crc32c(0, ff, 32), 0x62A8AB43u);
    unsigned char inc[32];
    for (int i = 0; i < 32; i++) inc[i] = (unsigned char)i;
    ck_assert_uint_eq(vt_crc32c(0, inc, 32), 0x46DD794Eu);
    ck_assert_uint_eq(vt_crc32c(0, "", 0), 0u);
    /* Continuing over a split gives the one-shot value. */
    ck_assert_uint_eq(vt_crc32c(vt_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}
END_TEST

/* ---- a small TFRecord + Event reader ---- */
typedef struct event {
    double wall_time;
    int64_t step;
    char file_version[64];
    int n;
    char tags[8][64];
    float values[8];
} event;

static uint64_t rd_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* 0 on success; -1 on a truncated varint. */
static int rd_varint(const unsigned char **p, const unsigned char *end, uint64_t *out) {
    uint64_t v = 0;
    for (int s = 0; s < 70 && *p < end; s += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) return *out = v, 0;
    }
    return -1;
}

/* Decodes the Event fields visft writes; fails on anything malformed. */
static int decode_event(const unsigned char *p, const unsigned char *end, event *ev) {
    memset(ev, 0, sizeof *ev);
    while (p < end) {
        uint64_t key, len;
        if (rd_varint(&p, end, &key)) return -1;
        unsigned f = (unsigned)(key >> 3), wt = key & 7;
        if (f == 1 && wt == 1 && end - p >= 8) {
            uint64_t u = rd_le(p, 8);
            memcpy(&ev->wall_time, &u, 8), p += 8;
        } else if (f == 2 && wt == 0) {
            if (rd_varint(&p, end, &len)) return -1;
            ev->step = (int64_t)len;
        } else if (f == 3 && wt == 2) {
            if (rd_varint(&p, end, &len) || len >= sizeof ev->file_version || len > (uint64_t)(end - p)) return -1;
            memcpy(ev->file_version, p, len), p += len;
        } else if (f == 5 && wt == 2) {
            if (rd_varint(&p, end, &len) || len > (uint64_t)(end - p)) return -1;
            const unsigned char *s = p, *se = p + len;
            p = se;
            while (s < se) { /* Summary: repeated Value value = 1 */
                uint64_t vk, vl;
                if (rd_varint(&s, se, &vk) || vk != (1 << 3 | 2) || rd_varint(&s, se, &vl) ||
                    vl > (uint64_t)(se - s) || ev->n >= 8)
                    return -1;
                const unsigned char *v = s, *ve = s + vl;
                s = ve;
                while (v < ve) {
                    uint64_t k2, l2;
                    if (rd_varint(&v, ve, &k2)) return -1;
                    if (k2 == (1 << 3 | 2)) { /* tag */
                        if (rd_varint(&v, ve, &l2) || l2 >= 64 || l2 > (uint64_t)(ve - v)) return -1;
                        memcpy(ev->tags[ev->n], v, l2), v += l2;
                    } else if (k2 == (2 << 3 | 5) && ve - v >= 4) { /* simple_value */
                        uint32_t u = (uint32_t)rd_le(v, 4);
                        memcpy(&ev->values[ev->n], &u, 4), v += 4;
                    } else {
                        return -1;
                    }
                }
                ev->n++;
            }
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads every record of an event file, checking both CRCs; returns the count or -(record index + 1) of
 * the first bad record. */
static int read_records(const unsigned char *b, size_t len, event *evs, int max) {
    size_t off = 0;
    int n = 0;
    while (off < len) {
        if (len - off < 12 || n >= max) return -(n + 1);
        uint64_t dl = rd_le(b + off, 8);
        if ((uint32_t)rd_le(b + off + 8, 4) != vt_crc32c_mask(vt_crc32c(0, b + off, 8))) return -(n + 1);
        if (dl > len - off - 16) return -(n + 1);
        const unsigned char *d = b + off + 12;
        if ((uint32_t)rd_le(d + dl, 4) != vt_crc32c_mask(vt_crc32c(0, d, (size_t)dl))) return -(n + 1);
        if (decode_event(d, d + dl, &evs[n])) return -(n + 1);
        n++;
        off += 16 + (size_t)dl;
    }
    return n;
}

static const char *const NAMES[] = {"train/loss", "train/lr", "grad_norm"};

static void log_three_steps(const char *dir, vt_metrics **out) {
    vt_err err = {0};
    vt_metrics_opts o = {.host = "testhost"};
    ck_assert_msg(vt_metrics_open(dir, &o, out, &err) == VT_OK, "%s", err.msg);
    double v0[] = {2.5, 1e-4, 0.125}, v1[] = {1.75, 2e-4, NAN}, v2[] = {-0.5, 3e-4, INFINITY};
    ck_assert_msg(vt_metrics_log_scalars(*out, 0, NAMES, v0, 3, &err) == VT_OK, "%s", err.msg);
    ck_assert_msg(vt_metrics_log_scalars(*out, 10, NAMES, v1, 3, &err) == VT_OK, "%s", err.msg);
    ck_assert_msg(vt_metrics_log_scalars(*out, 20, NAMES, v2, 3, &err) == VT_OK, "%s", err.msg);
}

START_TEST(test_jsonl_lines_parse_and_hold_values) {
    char dir[512];
    tmp_run_dir(dir, sizeof dir, "jsonl");
    vt_metrics *m;
    log_three_steps(dir, &m);
    /* Flushed per line: readable before close, as after a SIGKILL. */
    size_t len;
    char *text = (char *)slurp(vt_metrics_jsonl_path(m), &len);
    vt_err err = {0};
    ck_assert_int_eq(vt_metrics_close(m, &err), VT_OK);
    text[len] = '\0';
    int lines = 0;
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        vt_json_doc *doc;
        ck_assert_msg(vt_json_parse(line, (size_t)(nl - line), NULL, &doc, NULL, &err) == VT_OK, "%s", err.msg);
        const vt_json *r = vt_json_root(doc);
        int64_t step;
        ck_assert(vt_json_int64(vt_json_get(r, "step"), &step));
        ck_assert_int_eq(step, lines * 10);
        ck_assert(vt_json_number(vt_json_get(r, "wall_time")) > 1.6e9);
        const double loss[] = {2.5, 1.75, -0.5}, lr[] = {1e-4, 2e-4, 3e-4};
        ck_assert(vt_json_number(vt_json_get(r, "train/loss")) == loss[lines]);
        ck_assert(vt_json_number(vt_json_get(r, "train/lr")) == lr[lines]);
        const vt_json *g = vt_json_get(r, "grad_norm");
        if (lines == 0)
            ck_assert(vt_json_number(g) == 0.125);
        else
            ck_assert_msg(vt_json_is_null(g), "line %d: NaN/Inf must be null", lines);
        vt_json_doc_free(doc);
    }
    ck_assert_int_eq(lines, 3);
    free(text);
    rm_rf(dir);
}
END_TEST

START_TEST(test_event_file_records_crc_checked_and_decoded) {
    char dir[512];
    tmp_run_dir(dir, sizeof dir, "tb");
    vt_metrics *m;
    log_three_steps(dir, &m);
    char path[700];
    snprintf(path, sizeof path, "%s", vt_metrics_tb_path(m));
    ck_assert_msg(strstr(path, "/tb/events.out.tfevents.") && strstr(path, ".testhost"), "%s", path);
    ck_assert_int_eq(vt_metrics_close(m, NULL), VT_OK);
    size_t len;
    unsigned char *b = slurp(path, &len);
    event ev[8];
    ck_assert_int_eq(read_records(b, len, ev, 8), 4);
    ck_assert_str_eq(ev[0].file_version, "brain.Event:2");
    ck_assert_int_eq(ev[0].n, 0);
    const int64_t steps[] = {0, 10, 20};
    for (int i = 1; i < 4; i++) {
        ck_assert_int_eq(ev[i].step, steps[i - 1]);
        ck_assert(ev[i].wall_time >= ev[0].wall_time);
        ck_assert_int_eq(ev[i].n, 3);
        for (int k = 0; k < 3; k++) ck_assert_str_eq(ev[i].tags[k], NAMES[k]);
    }
    ck_assert(ev[1].values[0] == 2.5f && ev[2].values[1] == 2e-4f && ev[3].values[0] == -0.5f);
    ck_assert(isnan(ev[2].values[2]) && isinf(ev[3].values[2]));
    /* The reader can fail: one flipped data byte breaks that record's CRC. */
    b[len - 6] ^= 0x01;
    ck_assert_int_eq(read_records(b, len, ev, 8), -4);
    /* A torn last record (killed mid-write) is detected, the ones before it stand. */
    b[len - 6] ^= 0x01;
    ck_assert_int_eq(read_records(b, len - 3, ev, 8), -4);
    free(b);
    rm_rf(dir);
}
END_TEST

START_TEST(test_reopen_appends_jsonl_and_starts_new_event_file) {
    char dir[512];
    tmp_run_dir(dir, sizeof dir, "reopen");
    vt_metrics *a, *b;
    log_three_steps(dir, &a);
    log_three_steps(dir, &b); /* same second, same host: the name must not collide */
    ck_assert_str_ne(vt_metrics_tb_path(a), vt_metrics_tb_path(b));
    ck_assert_int_eq(vt_metrics_close(a, NULL), VT_OK);
    ck_assert_int_eq(vt_metrics_close(b, NULL), VT_OK);
    char p[700];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    size_t len;
    char *t = (char *)slurp(p, &len);
    int nl = 0;
    for (size_t i = 0; i < len; i++) nl += t[i] == '\n';
    ck_assert_int_eq(nl, 6);
    free(t);
    rm_rf(dir);
}
END_TEST

START_TEST(test_bad_inputs_are_errors) {
    char dir[512];
    tmp_run_dir(dir, sizeof dir, "bad");
    vt_err err = {0};
    vt_metrics *m = (vt_metrics *)1;
    ck_assert_int_eq(vt_metrics_open("", NULL, &m, &err), VT_EINVAL);
    ck_assert_ptr_null(m);
    /* run_dir is a file */
    FILE *f = fopen(dir, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(vt_metrics_open(dir, NULL, &m, &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, dir) != NULL, "%s", err.msg);
    remove(dir);
    vt_metrics_opts o = {.no_tensorboard = true};
    ck_assert_int_eq(vt_metrics_open(dir, &o, &m, &err), VT_OK);
    ck_assert_ptr_null(vt_metrics_tb_path(m));
    const char *empty[] = {""}, *reserved[] = {"step"};
    double v = 1;
    ck_assert_int_eq(vt_metrics_log_scalars(m, 0, empty, &v, 1, &err), VT_EINVAL);
    ck_assert_int_eq(vt_metrics_log_scalars(m, 0, reserved, &v, 1, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "reserved") != NULL, "%s", err.msg);
    ck_assert_int_eq(vt_metrics_log_scalars(m, 0, NULL, NULL, 1, &err), VT_EINVAL);
    ck_assert_int_eq(vt_metrics_log_scalars(NULL, 0, NULL, NULL, 0, &err), VT_EINVAL);
    ck_assert_int_eq(vt_metrics_close(m, &err), VT_OK);
    ck_assert_int_eq(vt_metrics_close(NULL, &err), VT_OK);
    rm_rf(dir);
}
END_TEST

START_TEST(test_tensorboard_event_accumulator_reads_scalars) {
    const char *py = getenv("VISFT_REF_PYTHON");
    if (!py) py = VISFT_SOURCE_DIR "/.venv-ref/bin/python";
    if (access(py, X_OK) != 0) {
        printf("SKIP test_tensorboard_event_accumulator_reads_scalars: no reference python at %s\n", py);
        return;
    }
    char dir[512];
    tmp_run_dir(dir, sizeof dir, "tbread");
    vt_metrics *m;
    log_three_steps(dir, &m);
    ck_assert_int_eq(vt_metrics_close(m, NULL), VT_OK);
    char cmd[2400];
    snprintf(cmd, sizeof cmd,
             "'%s' '%s/tests/ref/tb_read.py' check '%s/tb' train/loss:0:2.5 train/loss:10:1.75 train/loss:20:-0.5 "
             "train/lr:0:%.9g train/lr:10:%.9g train/lr:20:%.9g grad_norm:0:0.125 grad_norm:10:nan "
             "grad_norm:20:inf",
             py, VISFT_SOURCE_DIR, dir, (double)1e-4f, (double)2e-4f, (double)3e-4f);
    int rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    rm_rf(dir);
    if (rc == 77) {
        printf("SKIP test_tensorboard_event_accumulator_reads_scalars: tensorboard not importable by %s\n", py);
        return;
    }
    ck_assert_msg(rc == 0, "tensorboard read-back failed (exit %d)", rc);
}
END_TEST

/* ---- progress ---- */
static double fake_t;
static double fake_clock(void *u) {
    (void)u;
    return fake_t;
}

static char *run_progress(vt_progress_mode mode, int64_t every, double interval, int steps) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    vt_progress_opts o = {.out = out, .mode = mode, .every_steps = every, .interval_s = interval, .clock = fake_clock};
    vt_progress p;
    fake_t = 100;
    vt_progress_begin(&p, &o, "heads", 0, 100);
    for (int s = 1; s <= steps; s++) {
        fake_t += 0.5; /* 2 steps/s, 8 img/step -> 16 img/s */
        vt_progress_update(&p, s, 1.0 / s, 1e-3, 8);
    }
    vt_progress_finish(&p);
    fclose(out);
    return buf;
}

START_TEST(test_progress_plain_lines_every_n_steps) {
    char *s = run_progress(VT_PROGRESS_PLAIN, 25, -1, 60);
    ck_assert_msg(strchr(s, '\r') == NULL, "%s", s);
    /* steps 25 and 50, then the final 60 */
    ck_assert_msg(strstr(s, "heads 25/100 | loss 0.0400 | lr 1.00e-03 | 16.0 img/s | ETA 0:00:38\n") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "heads 50/100") && strstr(s, "heads 60/100 | loss 0.0167"), "%s", s);
    int nl = 0;
    for (char *c = s; *c; c++) nl += *c == '\n';
    ck_assert_int_eq(nl, 3);
    free(s);
    s = run_progress(VT_PROGRESS_PLAIN, 0, 10.0, 60); /* by time: every 10 s = 20 steps */
    ck_assert_msg(strstr(s, "heads 20/100") && strstr(s, "heads 40/100") && strstr(s, "heads 60/100"), "%s", s);
    free(s);
}
END_TEST

START_TEST(test_progress_live_line_rewritten_and_ended) {
    char *s = run_progress(VT_PROGRESS_LIVE, 0, 0, 100);
    ck_assert_msg(s[0] == '\r', "%s", s);
    size_t n = strlen(s);
    ck_assert(n > 0 && s[n - 1] == '\n');
    ck_assert_int_eq((int)(strchr(s, '\n') - s), (int)n - 1); /* only the final newline */
    ck_assert_msg(strstr(s, "\rheads 100/100 | loss 0.0100 | lr 1.00e-03 | 16.0 img/s | ETA 0:00:00") != NULL, "%s",
                  s);
    free(s);
}
END_TEST

VT_TEST_MAIN("metrics", test_crc32c_known_answers, test_jsonl_lines_parse_and_hold_values,
             test_event_file_records_crc_checked_and_decoded, test_reopen_appends_jsonl_and_starts_new_event_file,
             test_bad_inputs_are_errors, test_tensorboard_event_accumulator_reads_scalars,
             test_progress_plain_lines_every_n_steps, test_progress_live_line_rewritten_and_ended)
