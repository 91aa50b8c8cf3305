/* vt_data_check: every sample read and decoded once, as the loader would, and judged. A sample's failure is
 * classified by its status (and, for plain I/O errors, by whether the file could be opened at all);
 * loaded instances are checked for what a loss cannot survive: non-finite or inverted boxes, boxes outside
 * the image, negative labels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/check.h"
#include "visft/data.h"

/* A set of int64 (open addressing, linear probing). */
typedef struct id_set {
    int64_t *keys;
    bool *used;
    size_t cap, n;
} id_set;

static uint64_t mix(int64_t k) {
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

static bool set_add(id_set *s, int64_t k) {
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        int64_t *keys = calloc(cap, sizeof *keys);
        bool *used = calloc(cap, sizeof *used);
        if (!keys || !used) {
            free(keys);
            free(used);
            return false;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->used[i]) {
                size_t j = mix(s->keys[i]) & (cap - 1);
                while (used[j]) j = (j + 1) & (cap - 1);
                used[j] = true;
                keys[j] = s->keys[i];
            }
        free(s->keys);
        free(s->used);
        s->keys = keys;
        s->used = used;
        s->cap = cap;
    }
    size_t j = mix(k) & (s->cap - 1);
    while (s->used[j] && s->keys[j] != k) j = (j + 1) & (s->cap - 1);
    if (!s->used[j]) s->used[j] = true, s->keys[j] = k, s->n++;
    return true;
}

static void set_free(id_set *s) {
    free(s->keys);
    free(s->used);
}

typedef enum problem { P_MISSING, P_CORRUPT, P_INVALID } problem;
static const char *const problem_name[] = {"missing", "corrupt", "invalid annotation"};

static problem classify(vt_status st, const char *msg) {
    if (st == VT_ENOTFOUND || (st == VT_EIO && strstr(msg, "cannot open"))) return P_MISSING;
    if (st == VT_EINVAL) return P_INVALID;
    return P_CORRUPT;
}

typedef struct checker {
    const char *label;
    size_t max_list, listed[3];
    FILE *out;
    vt_data_check_report *rep;
} checker;

static void report(checker *c, problem p, size_t index, const char *msg) {
    size_t *count = p == P_MISSING ? &c->rep->missing : p == P_CORRUPT ? &c->rep->corrupt : &c->rep->invalid;
    (*count)++;
    if (c->listed[p]++ >= c->max_list) return;
    fprintf(c->out, "%s%s: sample %zu: %s\n", c->label, problem_name[p], index, msg);
}

/* Why instance k of s is unusable, or NULL. */
static const char *bad_instance(const vt_sample *s, const vt_instance *in) {
    const float *b = in->box;
    for (int j = 0; j < 4; j++)
        if (!isfinite(b[j])) return "non-finite box coordinate";
    if (b[2] < b[0] || b[3] < b[1]) return "box with negative width or height";
    if (in->label < 0) return "negative label";
    const float slack = 1.0f; /* annotation tools round outward by a pixel */
    if (b[0] < -slack || b[1] < -slack || b[2] > (float)s->image.width + slack ||
        b[3] > (float)s->image.height + slack)
        return "box outside the image";
    return NULL;
}

vt_status vt_data_check(const vt_dataset_vtable *vt, void *ds, const char *label, size_t max_list, FILE *out,
                        vt_data_check_report *rep, vt_err *err) {
    memset(rep, 0, sizeof *rep);
    checker c = {.label = label ? label : "", .max_list = max_list, .out = out, .rep = rep};
    id_set cats = {0}, classes = {0};
    vt_sample s;
    vt_sample_init(&s);
    vt_status st = VT_OK;
    rep->samples = vt->length(ds);
    for (size_t i = 0; st == VT_OK && i < rep->samples; i++) {
        vt_sample_clear(&s);
        vt_err e = {0};
        vt_status sst = vt->sample(ds, i, &s, &e);
        if (sst == VT_ENOMEM) {
            st = vt_err_set(err, sst, "data check: sample %zu: %s", i, e.msg);
            break;
        }
        if (sst != VT_OK) {
            report(&c, classify(sst, e.msg), i, e.msg[0] ? e.msg : vt_status_name(sst));
            continue;
        }
        if (!s.image.data || s.image.width <= 0 || s.image.height <= 0) {
            report(&c, P_CORRUPT, i, "the dataset returned no image");
            continue;
        }
        rep->images++;
        rep->annotations += s.n_instances;
        rep->captions += s.n_captions;
        if (s.label >= 0 && !set_add(&classes, s.label)) st = vt_err_set(err, VT_ENOMEM, "data check: out of memory");
        for (size_t k = 0; st == VT_OK && k < s.n_instances; k++) {
            const char *why = bad_instance(&s, &s.instances[k]);
            if (why) {
                char line[160];
                snprintf(line, sizeof line, "instance %zu (category %lld): %s", k,
                         (long long)s.instances[k].category_id, why);
                report(&c, P_INVALID, i, line);
            }
            if (!set_add(&cats, s.instances[k].category_id))
                st = vt_err_set(err, VT_ENOMEM, "data check: out of memory");
        }
    }
    rep->categories = cats.n;
    rep->classes = classes.n;
    for (int p = 0; p < 3; p++)
        if (c.listed[p] > c.max_list)
            fprintf(out, "%s... and %zu more %s\n", c.label, c.listed[p] - c.max_list, problem_name[p]);
    if (st == VT_OK)
        fprintf(out,
                "%s%zu samples: %zu images, %zu annotations, %zu captions, %zu categories, %zu classes; "
                "%zu missing, %zu corrupt, %zu invalid\n",
                c.label, rep->samples, rep->images, rep->annotations, rep->captions, rep->categories,
                rep->classes, rep->missing, rep->corrupt, rep->invalid);
    vt_sample_free(&s);
    set_free(&cats);
    set_free(&classes);
    return st;
}

size_t vt_data_check_problems(const vt_data_check_report *rep) { return rep->missing + rep->corrupt + rep->invalid; }
