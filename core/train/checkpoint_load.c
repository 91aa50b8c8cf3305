/* Run checkpoints, the reading side: open and validate one file (safetensors structure, format, metadata,
 * checksum), pick the newest valid one of a run, and copy tensors back by name. See run_checkpoint.h. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/checkpoint_internal.h"
#include "visft/run_checkpoint.h"
#include "visft/safetensors.h"


/* Strict unsigned decimal; false on anything else (sign, spaces, overflow, empty). */
static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static vt_status meta_u64(const vt_st_file *f, const char *key, uint64_t max, uint64_t *out, vt_err *err) {
    const char *v = vt_st_metadata(f, key);
    if (!v) return vt_err_set(err, VT_EFORMAT, "%s: __metadata__ has no '%s'", vt_st_path(f), key);
    if (!parse_u64(v, out) || *out > max)
        return vt_err_set(err, VT_EFORMAT, "%s: __metadata__ '%s' = '%.40s' is not an integer in [0, %" PRIu64 "]",
                          vt_st_path(f), key, v, max);
    return VT_OK;
}

static vt_status parse_loader(const vt_st_file *f, const char *key, vt_loader_position *p, vt_err *err) {
    const char *v = vt_st_metadata(f, key);
    char buf[96];
    if (!v) return vt_err_set(err, VT_EFORMAT, "%s: __metadata__ has no '%s'", vt_st_path(f), key);
    uint64_t x[3];
    size_t n = strlen(v);
    char *a = buf, *b, *c;
    bool ok = n < sizeof buf;
    if (ok) {
        memcpy(buf, v, n + 1);
        b = strchr(a, ',');
        c = b ? strchr(b + 1, ',') : NULL;
        ok = b && c;
        if (ok) {
            *b++ = 0;
            *c++ = 0;
            ok = parse_u64(a, &x[0]) && parse_u64(b, &x[1]) && parse_u64(c, &x[2]);
        }
    }
    if (!ok)
        return vt_err_set(err, VT_EFORMAT, "%s: __metadata__ '%s' = '%.40s' is not 'epoch,batch,fingerprint'",
                          vt_st_path(f), key, v);
    p->epoch = x[0], p->batch = x[1], p->fingerprint = x[2];
    return VT_OK;
}

static vt_status validate(vt_run_ckpt *ck, vt_err *err) {
    const vt_st_file *f = ck->file;
    const char *path = vt_st_path(f), *fmt = vt_st_metadata(f, "format"), *ver = vt_st_metadata(f, "version");
    if (!fmt || strcmp(fmt, VT_RUN_FORMAT))
        return vt_err_set(err, VT_EFORMAT, "%s: not a run checkpoint (__metadata__ format is '%.40s', want '%s')",
                          path, fmt ? fmt : "(none)", VT_RUN_FORMAT);
    if (!ver || strcmp(ver, VT_RUN_VERSION))
        return vt_err_set(err, VT_EFORMAT, "%s: unsupported run checkpoint version '%.20s' (want %s)", path,
                          ver ? ver : "(none)", VT_RUN_VERSION);
    uint64_t v;
    vt_status s;
    vt_run_state *st = &ck->state;
    if ((s = meta_u64(f, "step", INT64_MAX, &v, err))) return s;
    st->step = (int64_t)v;
    if ((s = meta_u64(f, "stage", 1000000, &v, err))) return s;
    st->stage = (int)v;
    if ((s = meta_u64(f, "rng_seed", UINT64_MAX, &st->rng_seed, err))) return s;
    if ((s = meta_u64(f, "rng_offset", UINT64_MAX, &st->rng_offset, err))) return s;
    if ((s = meta_u64(f, "loaders", VT_RUN_MAX_LOADERS, &v, err))) return s;
    st->n_loaders = (size_t)v;
    for (size_t i = 0; i < st->n_loaders; i++) {
        char key[32];
        snprintf(key, sizeof key, "loader.%zu", i);
        if ((s = parse_loader(f, key, &st->loaders[i], err))) return s;
    }
    st->config = vt_st_metadata(f, "config");
    const char *want = vt_st_metadata(f, "checksum");
    uint64_t sum = 0;
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_tensor_at(f, i);
        sum += vt_run_hash_tensor(t->name, t->data, t->nbytes);
    }
    char got[20];
    snprintf(got, sizeof got, "%016" PRIx64, sum);
    if (!want || strcmp(want, got))
        return vt_err_set(err, VT_EFORMAT, "%s: checksum mismatch (stored %.20s, data %s): the file is corrupt",
                          path, want ? want : "(none)", got);
    return VT_OK;
}

vt_status vt_run_ckpt_open(const char *path, vt_run_ckpt **out, vt_err *err) {
    *out = NULL;
    vt_run_ckpt *ck = calloc(1, sizeof *ck);
    if (!ck) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    vt_status s = vt_st_open(path, &ck->file, err);
    if (!s) s = validate(ck, err);
    if (s) {
        vt_run_ckpt_close(ck);
        return s;
    }
    *out = ck;
    return VT_OK;
}

void vt_run_ckpt_close(vt_run_ckpt *ck) {
    if (!ck) return;
    vt_st_close(ck->file);
    free(ck);
}

const char *vt_run_ckpt_path(const vt_run_ckpt *ck) { return vt_st_path(ck->file); }
const vt_run_state *vt_run_ckpt_state(const vt_run_ckpt *ck) { return &ck->state; }

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void note_add(char *note, size_t cap, const char *line) {
    if (!note || !cap) return;
    size_t n = strlen(note);
    if (n + 1 < cap) snprintf(note + n, cap - n, "%s%s", n ? "\n" : "", line);
}

vt_status vt_run_ckpt_load_latest(const char *run_dir, vt_run_ckpt **out, char *note, size_t cap, vt_err *err) {
    *out = NULL;
    if (note && cap) note[0] = 0;
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
    DIR *d = opendir(dir);
    if (!d)
        return vt_err_set(err, errno == ENOENT ? VT_ENOTFOUND : VT_EIO, "%s: no checkpoints: %s", dir,
                          strerror(errno));
    int64_t *steps = NULL;
    size_t n = 0, ncap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t s;
        if (!vt_run_parse_name(e->d_name, &s)) continue;
        if (n == ncap) {
            ncap = ncap ? 2 * ncap : 16;
            int64_t *g = realloc(steps, ncap * sizeof *g);
            if (!g) {
                free(steps);
                closedir(d);
                return vt_err_set(err, VT_ENOMEM, "%s: out of memory", dir);
            }
            steps = g;
        }
        steps[n++] = s;
    }
    closedir(d);
    if (n == 0) {
        free(steps);
        return vt_err_set(err, VT_ENOTFOUND, "%s: no checkpoints", dir);
    }
    qsort(steps, n, sizeof *steps, cmp_desc);
    vt_err why = {0};
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/" VT_RUN_PREFIX "%" PRId64 VT_RUN_SUFFIX, dir, steps[i]);
        if (vt_run_ckpt_open(path, out, &why) == VT_OK) {
            if ((*out)->state.step != steps[i]) { /* renamed by hand: the name is what pruning trusts */
                vt_err_set(&why, VT_EFORMAT, "%s: holds step %" PRId64, path, (*out)->state.step);
                vt_run_ckpt_close(*out);
                *out = NULL;
            } else {
                free(steps);
                return VT_OK;
            }
        }
        char line[VT_ERR_MSG_MAX + 64];
        snprintf(line, sizeof line, "skipping invalid checkpoint: %s", why.msg);
        note_add(note, cap, line);
    }
    free(steps);
    return vt_err_set(err, VT_EFORMAT, "%s: no valid checkpoint among %zu (oldest: %s)", dir, n, why.msg);
}
