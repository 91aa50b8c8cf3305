/* The run logger: metrics.jsonl lines (through visft/json.h's writer) and TensorBoard scalars
 * (metrics_tb.c). See visft/metrics.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "train/metrics_internal.h"
#include "visft/json.h"

struct vt_metrics {
    FILE *jsonl;
    char *jsonl_path;
    vt_tb_file tb;
    bool has_tb;
    vt_json_writer w; /* reused for every line */
};

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static vt_status ensure_dir(const char *path, vt_err *err) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return VT_OK;
        return vt_err_set(err, VT_EIO, "%s: exists and is not a directory", path);
    }
    return vt_err_set(err, VT_EIO, "%s: cannot create directory: %s", path, strerror(errno));
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

vt_status vt_metrics_open(const char *run_dir, const vt_metrics_opts *opts, vt_metrics **out, vt_err *err) {
    *out = NULL;
    if (!run_dir || !*run_dir) return vt_err_set(err, VT_EINVAL, "metrics: empty run directory");
    vt_metrics_opts o = opts ? *opts : (vt_metrics_opts){0};
    vt_status st = ensure_dir(run_dir, err);
    if (st != VT_OK) return st;
    vt_metrics *m = calloc(1, sizeof *m);
    if (!m) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", run_dir);
    vt_json_writer_init(&m->w);
    if (!o.no_jsonl) {
        m->jsonl_path = join(run_dir, "metrics.jsonl");
        if (!m->jsonl_path) {
            st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", run_dir);
            goto fail;
        }
        /* Append: a resumed run continues the same file. */
        m->jsonl = fopen(m->jsonl_path, "ae");
        if (!m->jsonl) {
            st = vt_err_set(err, VT_EIO, "%s: cannot open: %s", m->jsonl_path, strerror(errno));
            goto fail;
        }
    }
    if (!o.no_tensorboard) {
        char *tbdir = join(run_dir, "tb");
        if (!tbdir) {
            st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", run_dir);
            goto fail;
        }
        st = ensure_dir(tbdir, err);
        if (st == VT_OK) st = vt_tb_open(&m->tb, tbdir, o.host, wall_now(), err);
        free(tbdir);
        if (st != VT_OK) goto fail;
        m->has_tb = true;
    }
    *out = m;
    return VT_OK;
fail:
    vt_metrics_close(m, NULL);
    return st;
}

vt_status vt_metrics_close(vt_metrics *m, vt_err *err) {
    if (!m) return VT_OK;
    vt_status st = VT_OK;
    if (m->jsonl && fclose(m->jsonl) != 0)
        st = vt_err_set(err, VT_EIO, "%s: close failed: %s", m->jsonl_path, strerror(errno));
    if (m->has_tb) {
        vt_status s2 = vt_tb_close(&m->tb, st == VT_OK ? err : NULL);
        if (st == VT_OK) st = s2;
    }
    free(m->jsonl_path);
    vt_json_writer_free(&m->w);
    free(m);
    return st;
}

static vt_status write_jsonl(vt_metrics *m, double wall, int64_t step, const char *const *names,
                             const double *values, size_t n, vt_err *err) {
    vt_json_writer *w = &m->w;
    vt_json_writer_reset(w);
    vt_json_write_object_begin(w);
    vt_json_write_key(w, "step");
    vt_json_write_int(w, step);
    vt_json_write_key(w, "wall_time");
    vt_json_write_double(w, wall);
    for (size_t i = 0; i < n; i++) {
        vt_json_write_key(w, names[i]);
        vt_json_write_double(w, values[i]); /* NaN/Inf -> null */
    }
    vt_json_write_object_end(w);
    vt_json_write_bytes(w, "\n", 1);
    vt_status st = vt_json_writer_status(w, err);
    if (st != VT_OK) return vt_err_prefix(err, "%s", m->jsonl_path);
    size_t len;
    const char *s = vt_json_writer_str(w, &len);
    /* One fwrite + fflush per line: a killed run keeps every complete line. */
    if (fwrite(s, 1, len, m->jsonl) != len || fflush(m->jsonl) != 0)
        return vt_err_set(err, VT_EIO, "%s: write failed: %s", m->jsonl_path, strerror(errno));
    return VT_OK;
}

vt_status vt_metrics_log_scalars(vt_metrics *m, int64_t step, const char *const *names, const double *values,
                                 size_t n, vt_err *err) {
    if (!m) return vt_err_set(err, VT_EINVAL, "metrics: logger is NULL");
    if (n > 0 && (!names || !values)) return vt_err_set(err, VT_EINVAL, "metrics: step %lld: NULL names or values", (long long)step);
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return vt_err_set(err, VT_EINVAL, "metrics: step %lld: scalar %zu has an empty name", (long long)step, i);
        if (!strcmp(names[i], "step") || !strcmp(names[i], "wall_time"))
            return vt_err_set(err, VT_EINVAL, "metrics: step %lld: scalar name '%s' is reserved", (long long)step,
                              names[i]);
    }
    double wall = wall_now();
    if (m->jsonl) {
        vt_status st = write_jsonl(m, wall, step, names, values, n, err);
        if (st != VT_OK) return st;
    }
    if (m->has_tb) return vt_tb_write_scalars(&m->tb, wall, step, names, values, n, err);
    return VT_OK;
}

const char *vt_metrics_jsonl_path(const vt_metrics *m) { return m ? m->jsonl_path : NULL; }
const char *vt_metrics_tb_path(const vt_metrics *m) { return m && m->has_tb ? m->tb.path : NULL; }
