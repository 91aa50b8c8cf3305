/* imagefolder: a classification dataset laid out as root/<class>/<image>, as torchvision's ImageFolder reads
 * it. Classes are the sub-folders of root in byte order (sorted(), like torchvision), label = the class's
 * index; images are the files with an accepted extension (case-insensitive) in name order. Hidden entries
 * (".name") are ignored. With split_subdirs the split name picks root/<split>/ first.
 *
 * open() lists the tree once; sample() only reads that list, so it is safe from several threads. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <visft/data.h>
#include <visft/plugin.h>

typedef struct imagefolder_params {
    char *root;
    bool split_subdirs;
    vt_param_list extensions;
} imagefolder_params;

static const vt_param_spec imagefolder_specs[] = {
    {.name = "root", .type = VT_PARAM_STRING, .offset = offsetof(imagefolder_params, root), .required = true,
     .min = 1, .max = 0, .help = "folder holding one sub-folder per class"},
    {.name = "split_subdirs", .type = VT_PARAM_BOOL, .offset = offsetof(imagefolder_params, split_subdirs),
     .default_value = "false", .min = 1, .max = 0, .help = "read root/<split>/<class>/ (e.g. root/train/cat/)"},
    {.name = "extensions", .type = VT_PARAM_LIST, .elem_type = VT_PARAM_STRING,
     .offset = offsetof(imagefolder_params, extensions), .default_value = "[.jpg, .jpeg, .png]", .min = 1,
     .max = 0, .help = "file extensions taken as images (case-insensitive)"},
    VT_PARAM_END,
};

typedef struct imagefolder {
    char **classes;
    size_t n_classes;
    char **paths;     /* full paths, class by class */
    int64_t *labels;
    size_t n, cap;
} imagefolder;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/') s[k++] = '/';
    memcpy(s + k, b, lb + 1);
    return s;
}

static bool has_extension(const char *name, const vt_param_list *exts) {
    size_t ln = strlen(name);
    for (size_t i = 0; i < exts->n; i++) {
        size_t le = strlen(exts->v.s[i]);
        if (le && ln > le && strcasecmp(name + ln - le, exts->v.s[i]) == 0) return true;
    }
    return false;
}

static void free_names(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* The entries of dir (not hidden) that are directories (want_dirs) or regular files, sorted. */
static vt_status list_dir(const char *dir, bool want_dirs, char ***out, size_t *n_out, vt_err *err) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return vt_err_set(err, errno == ENOENT ? VT_ENOTFOUND : VT_EIO, "imagefolder: %s: %s", dir, strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    vt_status st = VT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = join(dir, e->d_name);
        struct stat sb;
        bool ok = full && stat(full, &sb) == 0 && (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        free(full);
        if (!ok) continue; /* broken links and sockets are not images */
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(v, cap * sizeof *p);
            if (!p) {
                st = vt_err_set(err, VT_ENOMEM, "imagefolder: out of memory listing %s", dir);
                break;
            }
            v = p;
        }
        if (!(v[n] = strdup(e->d_name))) {
            st = vt_err_set(err, VT_ENOMEM, "imagefolder: out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (st != VT_OK) {
        free_names(v, n);
        return st;
    }
    if (n) qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return VT_OK;
}

static void imagefolder_close(void *self) {
    imagefolder *f = self;
    if (!f) return;
    free_names(f->classes, f->n_classes);
    free_names(f->paths, f->n);
    free(f->labels);
    free(f);
}

static vt_status add_image(imagefolder *f, char *path, int64_t label, vt_err *err) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 256;
        char **p = realloc(f->paths, cap * sizeof *p);
        if (p) f->paths = p;
        int64_t *l = p ? realloc(f->labels, cap * sizeof *l) : NULL;
        if (!p || !l) {
            free(path);
            return vt_err_set(err, VT_ENOMEM, "imagefolder: out of memory");
        }
        f->labels = l;
        f->cap = cap;
    }
    f->paths[f->n] = path;
    f->labels[f->n++] = label;
    return VT_OK;
}

static vt_status imagefolder_open(const void *params, const char *split, const vt_host *host, void **out,
                                  vt_err *err) {
    const imagefolder_params *p = params;
    *out = NULL;
    imagefolder *f = calloc(1, sizeof *f);
    char *root = f ? (p->split_subdirs && split ? join(p->root, split) : strdup(p->root)) : NULL;
    if (!root) {
        free(f);
        return vt_err_set(err, VT_ENOMEM, "imagefolder: out of memory");
    }
    vt_status st = list_dir(root, true, &f->classes, &f->n_classes, err);
    if (st == VT_OK && f->n_classes == 0)
        st = vt_err_set(err, VT_EFORMAT, "imagefolder: %s has no class folders (expected %s/<class>/<image>)", root,
                        root);
    for (size_t c = 0; st == VT_OK && c < f->n_classes; c++) {
        char *dir = join(root, f->classes[c]);
        char **files = NULL;
        size_t n_files = 0;
        st = dir ? list_dir(dir, false, &files, &n_files, err) : vt_err_set(err, VT_ENOMEM, "imagefolder: oom");
        for (size_t i = 0; st == VT_OK && i < n_files; i++) {
            if (!has_extension(files[i], &p->extensions)) continue;
            char *path = join(dir, files[i]);
            st = path ? add_image(f, path, (int64_t)c, err) : vt_err_set(err, VT_ENOMEM, "imagefolder: oom");
        }
        free_names(files, n_files);
        free(dir);
    }
    if (st == VT_OK && f->n == 0)
        st = vt_err_set(err, VT_EFORMAT, "imagefolder: %s: no images in its %zu class folders", root, f->n_classes);
    if (st == VT_OK && host && host->log) {
        char line[256];
        snprintf(line, sizeof line, "imagefolder: %zu images in %zu classes under %s", f->n, f->n_classes, root);
        host->log(host, VT_LOG_INFO, line);
    }
    free(root);
    if (st != VT_OK) {
        imagefolder_close(f);
        return st;
    }
    *out = f;
    return VT_OK;
}

static size_t imagefolder_length(void *self) { return ((imagefolder *)self)->n; }

static vt_status imagefolder_sample(void *self, size_t index, struct vt_sample *s, vt_err *err) {
    imagefolder *f = self;
    if (index >= f->n)
        return vt_err_set(err, VT_EINVAL, "imagefolder: index %zu out of range (%zu images)", index, f->n);
    vt_status st = vt_sample_load_image(s, f->paths[index], err);
    if (st != VT_OK) return st;
    s->label = f->labels[index];
    s->image_id = (int64_t)index;
    return VT_OK;
}

static const vt_dataset_vtable imagefolder_vtable = {
    .struct_size = sizeof(vt_dataset_vtable),
    .open = imagefolder_open,
    .close = imagefolder_close,
    .length = imagefolder_length,
    .sample = imagefolder_sample,
};

static vt_status imagefolder_init(vt_registrar *reg, vt_err *err) {
    return vt_register_dataset(reg, "imagefolder", "classification images in root/<class>/ folders",
                               imagefolder_specs, sizeof(imagefolder_params), &imagefolder_vtable, err);
}

VISFT_PLUGIN_DEFINE("imagefolder", "0.1.0", "image classification folders (torchvision ImageFolder layout)", "MIT",
                    imagefolder_init);
