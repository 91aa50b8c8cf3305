/* Run checkpoints, the writing side: one safetensors file per checkpoint (atomic through the safetensors
 * writer), then the `latest` pointer (temp, fsync, rename, fsync dir), then pruning. See run_checkpoint.h. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/internal.h"
#include "train/checkpoint_internal.h"
#include "visft/run_checkpoint.h"
#include "visft/safetensors.h"

#define PATH_CAP 4096

static vt_status mkdir_one(const char *path, vt_err *err) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return VT_OK;
        return vt_err_set(err, VT_EIO, "%s: exists and is not a directory", path);
    }
    return vt_err_set(err, VT_EIO, "%s: cannot create directory: %s", path, strerror(errno));
}

static vt_status fsync_dir(const char *dir, vt_err *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return vt_err_set(err, VT_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? VT_OK : vt_err_set(err, VT_EIO, "%s: fsync failed: %s", dir, strerror(errno));
}

/* latest <- "name\n", atomically. */
static vt_status write_latest(const char *dir, const char *name, vt_err *err) {
    char tmp[PATH_CAP], dst[PATH_CAP];
    snprintf(dst, sizeof dst, "%s/latest", dir);
    snprintf(tmp, sizeof tmp, "%s/latest.tmp", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return vt_err_set(err, VT_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    char line[512];
    int len = snprintf(line, sizeof line, "%s\n", name);
    bool ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int e = errno;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, dst) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return vt_err_set(err, VT_EIO, "%s: cannot write: %s", dst, strerror(e));
    }
    return fsync_dir(dir, err);
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Removes leftovers of killed saves and, once the new checkpoint is in place, the checkpoints beyond the
 * newest `keep` (and any from an abandoned timeline, step > current). Best effort: a file that cannot be
 * removed stays and is retried next time. */
static void prune(const char *dir, int64_t current, int keep) {
    DIR *d = opendir(dir);
    if (!d) return;
    int64_t *steps = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    char path[PATH_CAP];
    while ((e = readdir(d))) {
        int64_t s;
        if (strncmp(e->d_name, VT_RUN_PREFIX, strlen(VT_RUN_PREFIX)) == 0 && strstr(e->d_name, ".tmp.")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name); /* a temporary left by a killed writer */
            unlink(path);
            continue;
        }
        if (!vt_run_parse_name(e->d_name, &s)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *g = realloc(steps, cap * sizeof *g);
            if (!g) break;
            steps = g;
        }
        steps[n++] = s;
    }
    closedir(d);
    if (steps) qsort(steps, n, sizeof *steps, cmp_desc);
    int kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (steps[i] == current || (steps[i] < current && kept < keep - 1)) {
            if (steps[i] != current) kept++;
            continue;
        }
        snprintf(path, sizeof path, "%s/" VT_RUN_PREFIX "%" PRId64 VT_RUN_SUFFIX, dir, steps[i]);
        unlink(path);
    }
    free(steps);
}

static bool group_ok(const char *g) { return g && g[0] && !strchr(g, '/'); }

/* Host copies of device tensors, alive until the file is written (the writer keeps data pointers). */
typedef struct staging {
    void **bufs;
    size_t n, cap;
} staging;

static void staging_free(staging *sg) {
    for (size_t i = 0; i < sg->n; i++) free(sg->bufs[i]);
    free(sg->bufs);
}

static vt_status add_tensor(vt_st_writer *w, staging *sg, const char *name, const vt_tensor *t, uint64_t *sum,
                            vt_err *err) {
    if (!t || !vt_is_contiguous(t))
        return vt_err_set(err, VT_EINVAL, "checkpoint tensor '%s' is not a contiguous tensor", name);
    const void *data = t->data;
    if (t->device.kind != VT_DEVICE_CPU) {
        if (sg->n == sg->cap) {
            size_t cap = sg->cap ? 2 * sg->cap : 64;
            void **nb = realloc(sg->bufs, cap * sizeof *nb);
            if (!nb) return vt_err_set(err, VT_ENOMEM, "checkpoint: out of memory");
            sg->bufs = nb, sg->cap = cap;
        }
        void *h = malloc(vt_nbytes(t) ? vt_nbytes(t) : 1);
        if (!h) return vt_err_set(err, VT_ENOMEM, "checkpoint: out of memory staging '%s'", name);
        sg->bufs[sg->n++] = h;
        if (vt_tensor_read_bytes(t, h) != VT_OK)
            return vt_err_set(err, VT_EDEVICE, "checkpoint: reading '%s' from its device: %s", name,
                              vt_ctx_error(t->ctx)->msg);
        data = h;
    }
    *sum += vt_run_hash_tensor(name, data, vt_nbytes(t));
    return vt_st_writer_add(w, name, t->dtype, t->ndim, t->shape, data, err);
}

static vt_status build(vt_st_writer *w, staging *sg, const vt_run_state *st, const vt_run_weights *weights, size_t nw,
                       const vt_run_optim *optims, size_t no, vt_err *err) {
    char name[VT_OPTIM_STATE_NAME_MAX + 512], val[128];
    uint64_t sum = 0;
    vt_status s;
    for (size_t g = 0; g < nw; g++) {
        if (!group_ok(weights[g].group) || !weights[g].list)
            return vt_err_set(err, VT_EINVAL, "checkpoint: weight group %zu has a bad name or no list", g);
        const vt_tensor_list *l = weights[g].list;
        for (size_t i = 0; i < l->n; i++) {
            snprintf(name, sizeof name, "weights/%s/%s", weights[g].group, l->items[i].name);
            if ((s = add_tensor(w, sg, name, l->items[i].tensor, &sum, err))) return s;
        }
    }
    for (size_t g = 0; g < no; g++) {
        if (!group_ok(optims[g].group) || !optims[g].optim)
            return vt_err_set(err, VT_EINVAL, "checkpoint: optimizer group %zu has a bad name or no optimizer", g);
        vt_optim_state_entry e;
        for (size_t i = 0; vt_optim_state_at(optims[g].optim, i, &e); i++) {
            snprintf(name, sizeof name, "optim/%s/%s", optims[g].group, e.name);
            if ((s = add_tensor(w, sg, name, e.tensor, &sum, err))) return s;
        }
        snprintf(name, sizeof name, "optim_steps.%s", optims[g].group);
        snprintf(val, sizeof val, "%" PRId64, vt_optim_step_count(optims[g].optim));
        if ((s = vt_st_writer_set_metadata(w, name, val, err))) return s;
    }
    struct { const char *k; char v[64]; } kv[6] = {{"format", VT_RUN_FORMAT}, {"version", VT_RUN_VERSION},
                                                   {"step", ""}, {"stage", ""}, {"rng_seed", ""}, {"rng_offset", ""}};
    snprintf(kv[2].v, sizeof kv[2].v, "%" PRId64, st->step);
    snprintf(kv[3].v, sizeof kv[3].v, "%d", st->stage);
    snprintf(kv[4].v, sizeof kv[4].v, "%" PRIu64, st->rng_seed);
    snprintf(kv[5].v, sizeof kv[5].v, "%" PRIu64, st->rng_offset);
    for (int i = 0; i < 6; i++)
        if ((s = vt_st_writer_set_metadata(w, kv[i].k, kv[i].v, err))) return s;
    snprintf(val, sizeof val, "%zu", st->n_loaders);
    if ((s = vt_st_writer_set_metadata(w, "loaders", val, err))) return s;
    for (size_t i = 0; i < st->n_loaders; i++) {
        snprintf(name, sizeof name, "loader.%zu", i);
        snprintf(val, sizeof val, "%" PRIu64 ",%" PRIu64 ",%" PRIu64, st->loaders[i].epoch, st->loaders[i].batch,
                 st->loaders[i].fingerprint);
        if ((s = vt_st_writer_set_metadata(w, name, val, err))) return s;
    }
    if (st->config && (s = vt_st_writer_set_metadata(w, "config", st->config, err))) return s;
    snprintf(val, sizeof val, "%016" PRIx64, sum);
    return vt_st_writer_set_metadata(w, "checksum", val, err);
}

vt_status vt_run_ckpt_save(const char *run_dir, const vt_run_state *state, const vt_run_weights *weights,
                           size_t n_weights, const vt_run_optim *optims, size_t n_optims,
                           const vt_run_ckpt_opts *opts, vt_err *err) {
    if (!run_dir || !state || (n_weights && !weights) || (n_optims && !optims))
        return vt_err_set(err, VT_EINVAL, "checkpoint save: NULL argument");
    if (state->step < 0 || state->n_loaders > VT_RUN_MAX_LOADERS)
        return vt_err_set(err, VT_EINVAL, "checkpoint save: step %" PRId64 " < 0 or %zu loaders (max %d)",
                          state->step, state->n_loaders, VT_RUN_MAX_LOADERS);
    int keep = opts && opts->keep_last > 0 ? opts->keep_last : 3;
    char dir[PATH_CAP], path[PATH_CAP], fname[64];
    if (snprintf(dir, sizeof dir, "%s/checkpoints", run_dir) >= (int)sizeof dir - 64)
        return vt_err_set(err, VT_EINVAL, "checkpoint save: run directory path too long");
    vt_status s;
    if ((s = mkdir_one(run_dir, err)) || (s = mkdir_one(dir, err))) return s;
    snprintf(fname, sizeof fname, VT_RUN_PREFIX "%" PRId64 VT_RUN_SUFFIX, state->step);
    snprintf(path, sizeof path, "%s/%s", dir, fname);

    vt_st_writer *w = vt_st_writer_new();
    if (!w) return vt_err_set(err, VT_ENOMEM, "checkpoint save: out of memory");
    staging sg = {0};
    s = build(w, &sg, state, weights, n_weights, optims, n_optims, err);
    if (!s) s = vt_st_writer_save(w, path, err);
    vt_st_writer_free(w);
    staging_free(&sg);
    if (s) return s;
    if (opts && opts->hook) opts->hook(1, opts->hook_user);
    if ((s = write_latest(dir, fname, err))) return s;
    if (opts && opts->hook) opts->hook(2, opts->hook_user);
    prune(dir, state->step, keep);
    if (opts && opts->hook) opts->hook(3, opts->hook_user);
    return VT_OK;
}
