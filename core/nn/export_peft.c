/* LoRA adapters written in HF PEFT's on-disk format (adapter_config.json + adapter_model.safetensors).
 *
 * visft adapts slices of a fused qkv (ViSFT: q and v) with one (A_s, B_s) pair per slice. PEFT's LoRA on an
 * nn.Linear has no slice mask, so the slices are packed into one adapter of rank r·S (S enabled slices):
 *     A = [A_s1; A_s2; ...]                      [r·S, in]
 *     B = block matrix, rows of slice s_j hold B_sj in columns j·r..(j+1)·r, all other entries zero   [out, r·S]
 * Then B·A places B_s·A_s on slice s's rows and zeros on the others (k), exactly visft's update. PEFT scales by
 * lora_alpha / r_peft, so lora_alpha is written as alpha·S to keep visft's alpha / r. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/import_internal.h"
#include "visft/json.h"

#define MAX_MODULES 1024
#define NAME_MAX_LEN 256

typedef struct module {
    char path[NAME_MAX_LEN]; /* "blocks.3.attn.qkv" */
    const vt_st_tensor *A[3], *B[3];
} module;

static int slice_index(const char *s, size_t len) {
    if (len == 1 && (s[0] == 'q' || s[0] == 'k' || s[0] == 'v')) return s[0] == 'q' ? 0 : s[0] == 'k' ? 1 : 2;
    return -1;
}

/* Splits "<module>.lora_A.<q|k|v>.weight". */
static bool parse_key(const char *key, char *mod, size_t cap, bool *is_b, int *slice) {
    const char *p = strstr(key, ".lora_A.");
    *is_b = false;
    if (!p) {
        p = strstr(key, ".lora_B.");
        *is_b = true;
    }
    if (!p || (size_t)(p - key) >= cap) return false;
    const char *s = p + 8, *dot = strchr(s, '.');
    if (!dot || strcmp(dot, ".weight") != 0 || (*slice = slice_index(s, (size_t)(dot - s))) < 0) return false;
    memcpy(mod, key, (size_t)(p - key));
    mod[p - key] = '\0';
    return true;
}

static vt_status write_config(const char *dir, const char *base_model, int r, double alpha, const module *mods,
                              size_t n, vt_err *err) {
    vt_json_writer w;
    vt_json_writer_init(&w);
    vt_json_write_object_begin(&w);
    vt_json_write_key(&w, "peft_type"), vt_json_write_string(&w, "LORA");
    vt_json_write_key(&w, "task_type"), vt_json_write_null(&w);
    vt_json_write_key(&w, "base_model_name_or_path"), vt_json_write_string(&w, base_model);
    vt_json_write_key(&w, "r"), vt_json_write_int(&w, r);
    vt_json_write_key(&w, "lora_alpha"), vt_json_write_double(&w, alpha);
    vt_json_write_key(&w, "lora_dropout"), vt_json_write_double(&w, 0.0);
    vt_json_write_key(&w, "target_modules"), vt_json_write_array_begin(&w);
    for (size_t i = 0; i < n; i++) vt_json_write_string(&w, mods[i].path);
    vt_json_write_array_end(&w);
    vt_json_write_key(&w, "bias"), vt_json_write_string(&w, "none");
    vt_json_write_key(&w, "fan_in_fan_out"), vt_json_write_bool(&w, false);
    vt_json_write_key(&w, "modules_to_save"), vt_json_write_null(&w);
    vt_json_write_key(&w, "init_lora_weights"), vt_json_write_bool(&w, true);
    vt_json_write_key(&w, "inference_mode"), vt_json_write_bool(&w, true);
    vt_json_write_key(&w, "layers_to_transform"), vt_json_write_null(&w);
    vt_json_write_key(&w, "layers_pattern"), vt_json_write_null(&w);
    vt_json_write_key(&w, "rank_pattern"), vt_json_write_object_begin(&w), vt_json_write_object_end(&w);
    vt_json_write_key(&w, "alpha_pattern"), vt_json_write_object_begin(&w), vt_json_write_object_end(&w);
    vt_json_write_key(&w, "revision"), vt_json_write_null(&w);
    vt_json_write_object_end(&w);
    vt_json_write_bytes(&w, "\n", 1);
    vt_status st = vt_json_writer_status(&w, err);
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    size_t len;
    const char *text = vt_json_writer_str(&w, &len);
    FILE *fp = st == VT_OK ? fopen(tmp, "wb") : NULL;
    if (st == VT_OK && !fp) st = vt_err_set(err, VT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (fp) {
        bool ok = fwrite(text, 1, len, fp) == len;
        ok = (fclose(fp) == 0) && ok;
        if (!ok || rename(tmp, path) != 0) {
            remove(tmp);
            st = vt_err_set(err, VT_EIO, "%s: cannot write: %s", path, strerror(errno));
        }
    }
    vt_json_writer_free(&w);
    return st;
}

vt_status vt_peft_export(const char *lora_path, double alpha, const char *base_model, const char *out_dir,
                         vt_peft_adapter_info *info, vt_err *err) {
    vt_st_file *f = NULL;
    vt_status st = vt_st_open(lora_path, &f, err);
    if (st != VT_OK) return st;
    module *mods = calloc(MAX_MODULES, sizeof *mods);
    float **bufs = calloc(2 * MAX_MODULES, sizeof *bufs);
    vt_st_writer *w = vt_st_writer_new();
    size_t n = 0;
    if (!mods || !bufs || !w) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", lora_path);
        goto done;
    }
    if (!(alpha > 0)) {
        const char *a = vt_st_metadata(f, "lora_alpha");
        alpha = a ? strtod(a, NULL) : 0;
        if (!(alpha > 0)) {
            st = vt_err_set(err, VT_EINVAL, "%s: no lora_alpha in the file's metadata: give it (--lora-alpha)", lora_path);
            goto done;
        }
    }
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_tensor_at(f, i);
        char mod[NAME_MAX_LEN];
        bool is_b;
        int s;
        if (!parse_key(t->name, mod, sizeof mod, &is_b, &s)) {
            st = vt_err_set(err, VT_EFORMAT, "%s: '%s' is not a LoRA key (<module>.lora_A|lora_B.<q|k|v>.weight)",
                            lora_path, t->name);
            goto done;
        }
        size_t k = 0;
        while (k < n && strcmp(mods[k].path, mod) != 0) k++;
        if (k == n) {
            if (n == MAX_MODULES) {
                st = vt_err_set(err, VT_EUNSUPPORTED, "%s: more than %d adapted modules", lora_path, MAX_MODULES);
                goto done;
            }
            snprintf(mods[n++].path, NAME_MAX_LEN, "%s", mod);
        }
        if (t->ndim != 2 || (t->dtype != VT_F32 && t->dtype != VT_F16 && t->dtype != VT_BF16)) {
            st = vt_err_set(err, VT_EFORMAT, "%s: %s must be a 2-D float matrix", lora_path, t->name);
            goto done;
        }
        (is_b ? mods[k].B : mods[k].A)[s] = t;
    }
    if (n == 0) {
        st = vt_err_set(err, VT_EFORMAT, "%s: no LoRA tensors", lora_path);
        goto done;
    }
    /* Every module must have the same rank and slices: PEFT would need rank_pattern otherwise. */
    int rank = 0, slices = 0;
    unsigned mask = 0;
    for (size_t k = 0; k < n; k++) {
        module *m = &mods[k];
        unsigned mk = 0;
        for (int s = 0; s < 3; s++) {
            if (!m->A[s] != !m->B[s]) {
                st = vt_err_set(err, VT_EFORMAT, "%s: %s slice %c has %s but not %s", lora_path, m->path, "qkv"[s],
                                m->A[s] ? "lora_A" : "lora_B", m->A[s] ? "lora_B" : "lora_A");
                goto done;
            }
            if (!m->A[s]) continue;
            mk |= 1u << s;
            int r = (int)m->A[s]->shape[0];
            if ((rank && r != rank) || m->B[s]->shape[1] != r) {
                st = vt_err_set(err, VT_EFORMAT, "%s: %s slice %c: rank %d differs (A %lld, B %lld)", lora_path, m->path,
                                "qkv"[s], rank, (long long)m->A[s]->shape[0], (long long)m->B[s]->shape[1]);
                goto done;
            }
            rank = r;
        }
        if (k && mk != mask) {
            st = vt_err_set(err, VT_EFORMAT, "%s: %s adapts other slices than %s", lora_path, m->path, mods[0].path);
            goto done;
        }
        mask = mk;
    }
    for (int s = 0; s < 3; s++) slices += (mask >> s) & 1;
    for (size_t k = 0; k < n && st == VT_OK; k++) {
        module *m = &mods[k];
        int64_t in = 0, slice_rows = 0;
        for (int s = 0; s < 3; s++)
            if (m->A[s]) {
                if ((in && m->A[s]->shape[1] != in) || (slice_rows && m->B[s]->shape[0] != slice_rows)) {
                    st = vt_err_set(err, VT_EFORMAT, "%s: %s: slices disagree in shape", lora_path, m->path);
                    goto done;
                }
                in = m->A[s]->shape[1], slice_rows = m->B[s]->shape[0];
            }
        int64_t R = (int64_t)rank * slices, out = 3 * slice_rows;
        float *A = calloc((size_t)(R * in), sizeof *A), *B = calloc((size_t)(out * R), sizeof *B);
        float *tmp = malloc((size_t)(slice_rows * rank) * sizeof *tmp);
        bufs[2 * k] = A, bufs[2 * k + 1] = B;
        if (!A || !B || !tmp) {
            free(tmp);
            st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", lora_path);
            goto done;
        }
        int j = 0;
        for (int s = 0; s < 3 && st == VT_OK; s++) {
            if (!m->A[s]) continue;
            st = vt_st_read_f32(f, m->A[s], A + (int64_t)j * rank * in, (size_t)(rank * in), err);
            if (st == VT_OK) st = vt_st_read_f32(f, m->B[s], tmp, (size_t)(slice_rows * rank), err);
            for (int64_t row = 0; st == VT_OK && row < slice_rows; row++)
                memcpy(B + (s * slice_rows + row) * R + (int64_t)j * rank, tmp + row * rank, (size_t)rank * sizeof *B);
            j++;
        }
        free(tmp);
        char key[NAME_MAX_LEN + 64];
        snprintf(key, sizeof key, "base_model.model.%s.lora_A.weight", m->path);
        if (st == VT_OK) st = vt_st_writer_add(w, key, VT_F32, 2, (int64_t[]){R, in}, A, err);
        snprintf(key, sizeof key, "base_model.model.%s.lora_B.weight", m->path);
        if (st == VT_OK) st = vt_st_writer_add(w, key, VT_F32, 2, (int64_t[]){out, R}, B, err);
    }
    if (st != VT_OK) goto done;
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        st = vt_err_set(err, VT_EIO, "%s: cannot create the directory: %s", out_dir, strerror(errno));
        goto done;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", out_dir);
    st = vt_st_writer_set_metadata(w, "format", "pt", err);
    if (st == VT_OK) st = vt_st_writer_save(w, path, err);
    if (st == VT_OK) st = write_config(out_dir, base_model, rank * slices, alpha * slices, mods, n, err);
    if (st == VT_OK && info) {
        info->rank = rank, info->alpha = alpha, info->n_slices = 3, info->mask = mask, info->blocks = (int)n;
    }
done:
    for (size_t k = 0; bufs && k < 2 * n; k++) free(bufs[k]);
    free(bufs);
    free(mods);
    vt_st_writer_free(w);
    vt_st_close(f);
    return st;
}
