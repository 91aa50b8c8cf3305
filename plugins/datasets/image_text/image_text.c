/* image_text: image-caption pairs for captioning, retrieval and contrastive training.
 *
 * Two annotation formats: Karpathy-split JSON (image_text_json.c) and CSV (image_text_csv.c); `format: auto`
 * picks by the file's extension. Image paths are relative to images_root (default: the annotation file's
 * folder). A sample is one image with all its captions, or with per_caption one (image, caption) pair —
 * the image then appears once per caption. open() reads the file once; sample() only reads the records, so
 * it is safe from several threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <visft/data.h>
#include <visft/plugin.h>

#include "image_text.h"

typedef struct image_text_params {
    char *annotations;
    char *images_root;
    char *format;
    bool per_caption;
    bool train_includes_restval;
    char *csv_separator;
    char *csv_image_column, *csv_caption_column, *csv_split_column;
} image_text_params;

static const char *const format_choices[] = {"auto", "karpathy", "csv", NULL};

static const vt_param_spec image_text_specs[] = {
    {.name = "annotations", .type = VT_PARAM_STRING, .offset = offsetof(image_text_params, annotations),
     .required = true, .min = 1, .max = 0, .help = "Karpathy-style JSON or CSV file of image-caption pairs"},
    {.name = "images_root", .type = VT_PARAM_STRING, .offset = offsetof(image_text_params, images_root),
     .default_value = "\"\"", .min = 1, .max = 0,
     .help = "folder image paths are relative to (default: the annotation file's folder)"},
    {.name = "format", .type = VT_PARAM_ENUM, .offset = offsetof(image_text_params, format),
     .default_value = "auto", .choices = format_choices, .min = 1, .max = 0,
     .help = "annotation format; auto: .csv/.tsv is CSV, anything else Karpathy JSON"},
    {.name = "per_caption", .type = VT_PARAM_BOOL, .offset = offsetof(image_text_params, per_caption),
     .default_value = "false", .min = 1, .max = 0,
     .help = "one sample per (image, caption) pair instead of one per image with all its captions"},
    {.name = "train_includes_restval", .type = VT_PARAM_BOOL,
     .offset = offsetof(image_text_params, train_includes_restval), .default_value = "true", .min = 1, .max = 0,
     .help = "Karpathy splits: split train also takes the restval images"},
    {.name = "csv_separator", .type = VT_PARAM_STRING, .offset = offsetof(image_text_params, csv_separator),
     .default_value = "\",\"", .min = 1, .max = 0, .help = "CSV field separator (one character; \"\\t\" for TSV)"},
    {.name = "csv_image_column", .type = VT_PARAM_STRING, .offset = offsetof(image_text_params, csv_image_column),
     .default_value = "filepath", .min = 1, .max = 0, .help = "CSV header name of the image path column"},
    {.name = "csv_caption_column", .type = VT_PARAM_STRING,
     .offset = offsetof(image_text_params, csv_caption_column), .default_value = "caption", .min = 1, .max = 0,
     .help = "CSV header name of the caption column"},
    {.name = "csv_split_column", .type = VT_PARAM_STRING, .offset = offsetof(image_text_params, csv_split_column),
     .default_value = "split", .min = 1, .max = 0,
     .help = "CSV header name of an optional split column (rows of other splits are dropped)"},
    VT_PARAM_END,
};

/* ---- records ------------------------------------------------------------------------------------------ */

vt_status it_add_image(it_records *r, const it_read_opts *o, const char *dir, const char *file, int64_t id,
                       vt_err *err) {
    if (r->n_images == r->cap_images) {
        size_t cap = r->cap_images ? 2 * r->cap_images : 256;
        it_image *p = realloc(r->images, cap * sizeof *p);
        if (!p) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", o->name);
        r->images = p;
        r->cap_images = cap;
    }
    const char *root = o->images_root ? o->images_root : "";
    size_t n = strlen(root) + (dir ? strlen(dir) : 0) + strlen(file) + 3;
    char *path = malloc(n);
    if (!path) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", o->name);
    /* An absolute file path stands alone. */
    if (file[0] == '/')
        snprintf(path, n, "%s", file);
    else
        snprintf(path, n, "%s%s%s%s%s", root, *root ? "/" : "", dir ? dir : "", dir && *dir ? "/" : "", file);
    r->images[r->n_images++] = (it_image){path, id, r->n_captions, 0};
    return VT_OK;
}

vt_status it_add_caption(it_records *r, const char *text, size_t len, vt_err *err) {
    if (memchr(text, '\0', len)) return vt_err_set(err, VT_EFORMAT, "caption contains a NUL character");
    if (r->n_captions == r->cap_captions) {
        size_t cap = r->cap_captions ? 2 * r->cap_captions : 1024;
        char **p = realloc(r->captions, cap * sizeof *p);
        if (!p) return vt_err_set(err, VT_ENOMEM, "out of memory for captions");
        r->captions = p;
        r->cap_captions = cap;
    }
    char *s = strndup(text, len);
    if (!s) return vt_err_set(err, VT_ENOMEM, "out of memory for captions");
    r->captions[r->n_captions++] = s;
    r->images[r->n_images - 1].n++;
    return VT_OK;
}

void it_records_free(it_records *r) {
    for (size_t i = 0; i < r->n_images; i++) free(r->images[i].path);
    for (size_t i = 0; i < r->n_captions; i++) free(r->captions[i]);
    free(r->images);
    free(r->captions);
    memset(r, 0, sizeof *r);
}

bool it_split_matches(const it_read_opts *o, const char *split) {
    if (!o->split || strcmp(o->split, "all") == 0 || !split) return true;
    if (strcmp(o->split, split) == 0) return true;
    return o->train_includes_restval && strcmp(o->split, "train") == 0 && strcmp(split, "restval") == 0;
}

/* ---- the dataset ---------------------------------------------------------------------------------------- */

typedef struct image_text {
    it_records r;
    bool per_caption;
    size_t *pair_image; /* per_caption: the image of each caption */
} image_text;

static bool ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

static vt_status read_file(const char *path, char **text, size_t *len, vt_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return vt_err_set(err, VT_ENOTFOUND, "image_text: cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    bool bad = buf && ferror(f);
    fclose(f);
    if (!buf) return vt_err_set(err, VT_ENOMEM, "image_text: out of memory reading %s", path);
    if (bad) {
        free(buf);
        return vt_err_set(err, VT_EIO, "image_text: read error on %s", path);
    }
    *text = buf;
    *len = n;
    return VT_OK;
}

static void image_text_close(void *self) {
    image_text *d = self;
    if (!d) return;
    it_records_free(&d->r);
    free(d->pair_image);
    free(d);
}

static vt_status image_text_open(const void *params, const char *split, const vt_host *host, void **out,
                                 vt_err *err) {
    const image_text_params *p = params;
    *out = NULL;
    const char *sep = p->csv_separator;
    char sep_c = strcmp(sep, "\\t") == 0 ? '\t' : sep[0];
    if (strlen(sep) != 1 && strcmp(sep, "\\t") != 0)
        return vt_err_set(err, VT_EINVAL, "image_text: csv_separator must be one character, got \"%s\"", sep);
    if (sep_c == '"' || sep_c == '\n' || sep_c == '\r')
        return vt_err_set(err, VT_EINVAL, "image_text: csv_separator cannot be a quote or a newline");
    /* Default images_root: the annotation file's folder. */
    char *root = NULL;
    if (p->images_root && *p->images_root) {
        root = strdup(p->images_root);
    } else {
        const char *slash = strrchr(p->annotations, '/');
        root = slash ? strndup(p->annotations, (size_t)(slash - p->annotations)) : strdup("");
    }
    image_text *d = calloc(1, sizeof *d);
    if (!root || !d) {
        free(root);
        free(d);
        return vt_err_set(err, VT_ENOMEM, "image_text: out of memory");
    }
    bool csv = strcmp(p->format, "csv") == 0 ||
               (strcmp(p->format, "auto") == 0 && (ends_with(p->annotations, ".csv") || ends_with(p->annotations, ".tsv")));
    if (strcmp(p->format, "auto") == 0 && ends_with(p->annotations, ".tsv")) sep_c = '\t';
    it_read_opts o = {.name = p->annotations, .images_root = root, .split = split,
                      .train_includes_restval = p->train_includes_restval, .separator = sep_c,
                      .image_column = p->csv_image_column, .caption_column = p->csv_caption_column,
                      .split_column = p->csv_split_column};
    char *text = NULL;
    size_t len = 0;
    vt_status st = read_file(p->annotations, &text, &len, err);
    if (st == VT_OK)
        st = csv ? it_read_csv(text, len, &o, &d->r, err) : it_read_karpathy(text, len, &o, &d->r, err);
    free(text);
    free(root);
    d->per_caption = p->per_caption;
    size_t n = d->per_caption ? d->r.n_captions : d->r.n_images;
    if (st == VT_OK && n == 0)
        st = vt_err_set(err, VT_EFORMAT, "image_text: %s has no %s for split \"%s\"", p->annotations,
                        d->per_caption ? "captions" : "images", split ? split : "all");
    if (st == VT_OK && d->per_caption) {
        d->pair_image = malloc(n * sizeof *d->pair_image);
        if (!d->pair_image) st = vt_err_set(err, VT_ENOMEM, "image_text: out of memory");
        for (size_t i = 0; st == VT_OK && i < d->r.n_images; i++)
            for (size_t k = 0; k < d->r.images[i].n; k++) d->pair_image[d->r.images[i].first + k] = i;
    }
    if (st != VT_OK) {
        image_text_close(d);
        return st;
    }
    if (host && host->log) {
        char line[256];
        snprintf(line, sizeof line, "image_text: %zu images, %zu captions (split %s) from %s", d->r.n_images,
                 d->r.n_captions, split ? split : "all", p->annotations);
        host->log(host, VT_LOG_INFO, line);
    }
    *out = d;
    return VT_OK;
}

static size_t image_text_length(void *self) {
    image_text *d = self;
    return d->per_caption ? d->r.n_captions : d->r.n_images;
}

static vt_status image_text_sample(void *self, size_t index, struct vt_sample *s, vt_err *err) {
    image_text *d = self;
    if (index >= image_text_length(d))
        return vt_err_set(err, VT_EINVAL, "image_text: index %zu out of range", index);
    size_t im = d->per_caption ? d->pair_image[index] : index;
    const it_image *rec = &d->r.images[im];
    vt_status st = vt_sample_load_image(s, rec->path, err);
    if (st != VT_OK) return st;
    s->image_id = rec->id;
    size_t first = d->per_caption ? index : rec->first, n = d->per_caption ? 1 : rec->n;
    for (size_t k = 0; st == VT_OK && k < n; k++) st = vt_sample_add_caption(s, d->r.captions[first + k], err);
    return st;
}

static const vt_dataset_vtable image_text_vtable = {
    .struct_size = sizeof(vt_dataset_vtable),
    .open = image_text_open,
    .close = image_text_close,
    .length = image_text_length,
    .sample = image_text_sample,
};

static vt_status image_text_init(vt_registrar *reg, vt_err *err) {
    return vt_register_dataset(reg, "image_text", "image-caption pairs from Karpathy-style JSON or CSV",
                               image_text_specs, sizeof(image_text_params), &image_text_vtable, err);
}

VISFT_PLUGIN_DEFINE("image_text", "0.1.0", "image-caption pairs (Karpathy JSON splits, CSV)", "MIT", image_text_init);
