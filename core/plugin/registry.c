/* The component registry: checks what plugins register, keeps host-layout copies, answers lookups.
 *
 * Everything a plugin hands over is treated as untrusted: sizes are checked before fields are read,
 * spec tables are walked with the plugin's own stride and bounded, and each spec's offset must fit the
 * params struct, so a buggy plugin is refused at load time instead of corrupting memory later. */
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/internal.h"
#include "visft/config.h"

#define MAX_PARAMS 512        /* bound on walking a spec table that may lack its terminator */
#define MAX_CHOICES 256
#define MAX_PARAMS_SIZE (1u << 20)
#define MAX_NAME 128

/* Bytes of vt_param_spec up to and including `help`: the least stride a plugin may use. */
#define PARAM_SPEC_SIZE_1_0 VT_END_OF(vt_param_spec, help)

bool vt_grow(void **items, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*items, ncap * elem);
    if (!p) return false;
    *items = p;
    *cap = ncap;
    return true;
}

bool vt_valid_name(const char *s) {
    if (!s || !*s) return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.';
        if (!ok || n >= MAX_NAME) return false;
    }
    return true;
}

char *vt_strdup_bounded(const char *s, size_t max) {
    if (!s) return NULL;
    size_t n = strnlen(s, max);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

const char *vt_component_kind_name(vt_component_kind kind) {
    switch (kind) {
    case VT_COMPONENT_HEAD: return "head";
    case VT_COMPONENT_DATASET: return "dataset";
    case VT_COMPONENT_BENCHMARK: return "benchmark";
    }
    return "unknown";
}

bool vt_component_kind_parse(const char *name, vt_component_kind *out) {
    static const vt_component_kind kinds[] = {VT_COMPONENT_HEAD, VT_COMPONENT_DATASET, VT_COMPONENT_BENCHMARK};
    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(name, vt_component_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return true;
        }
    }
    return false;
}

/* ---- registry object -------------------------------------------------------------------------------- */

vt_status vt_registry_create(vt_registry **out, vt_err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return vt_err_set(err, VT_ENOMEM, "plugin registry: out of memory");
    return VT_OK;
}

void vt_registry_destroy(vt_registry *reg) {
    if (!reg) return;
    for (size_t i = 0; i < reg->n_paths; i++) free(reg->paths[i].path);
    free(reg->paths);
    for (size_t i = 0; i < reg->n_plugins; i++) {
        vt_plugin_rec *p = reg->plugins[i];
        /* p->handle is deliberately not dlclosed: instances created from it may outlive the registry. */
        free(p->path);
        free(p->real);
        free(p->base);
        free(p->reason);
        free(p->name);
        free(p->version);
        free(p->description);
        free(p->license);
        free(p);
    }
    free(reg->plugins);
    for (size_t i = 0; i < reg->n_components; i++) vt_component_free(reg->components[i]);
    free(reg->components);
    for (size_t i = 0; i < reg->n_problems; i++) free(reg->problems[i]);
    free(reg->problems);
    free(reg);
}

size_t vt_registry_path_count(const vt_registry *reg) { return reg ? reg->n_paths : 0; }

const char *vt_registry_path(const vt_registry *reg, size_t i) {
    return reg && i < reg->n_paths ? reg->paths[i].path : NULL;
}

size_t vt_registry_plugin_count(const vt_registry *reg) { return reg ? reg->n_plugins : 0; }

const vt_plugin_info *vt_registry_plugin(const vt_registry *reg, size_t i) {
    return reg && i < reg->n_plugins ? &reg->plugins[i]->info : NULL;
}

size_t vt_registry_path_problem_count(const vt_registry *reg) { return reg ? reg->n_problems : 0; }

const char *vt_registry_path_problem(const vt_registry *reg, size_t i) {
    return reg && i < reg->n_problems ? reg->problems[i] : NULL;
}

size_t vt_registry_component_count(const vt_registry *reg) { return reg ? reg->n_components : 0; }

const vt_component *vt_registry_component(const vt_registry *reg, size_t i) {
    return reg && i < reg->n_components ? reg->components[i] : NULL;
}

const vt_component *vt_registry_find(const vt_registry *reg, vt_component_kind kind, const char *name) {
    if (!reg || !name) return NULL;
    for (size_t i = 0; i < reg->n_components; i++) {
        const vt_component *c = reg->components[i];
        if (c->kind == kind && strcmp(c->name, name) == 0) return c;
    }
    return NULL;
}

vt_status vt_registry_lookup(const vt_registry *reg, vt_component_kind kind, const char *name,
                             const vt_component **out, vt_err *err) {
    *out = vt_registry_find(reg, kind, name);
    if (*out) return VT_OK;
    const char *kname = vt_component_kind_name(kind);
    if (!reg || !name) return vt_err_set(err, VT_EINVAL, "no %s plugin name given", kname);

    /* A refused plugin of that name is the likeliest explanation: say so. */
    for (size_t i = 0; i < reg->n_plugins; i++) {
        const vt_plugin_rec *p = reg->plugins[i];
        if (p->info.state == VT_PLUGIN_REFUSED && p->name && strcmp(p->name, name) == 0)
            return vt_err_set(err, VT_ENOTFOUND, "no %s plugin '%s': %s was refused: %s", kname, name, p->path,
                              p->reason);
    }
    const char **names = malloc((reg->n_components + 1) * sizeof *names);
    size_t n = 0;
    for (size_t i = 0; names && i < reg->n_components; i++)
        if (reg->components[i]->kind == kind) names[n++] = reg->components[i]->name;
    const char *hint = names ? vt_suggest(name, names, n) : NULL;
    if (hint)
        vt_err_set(err, VT_ENOTFOUND, "no %s plugin '%s' (did you mean '%s'?)", kname, name, hint);
    else
        vt_err_set(err, VT_ENOTFOUND, "no %s plugin '%s' (see 'visft plugins')", kname, name);
    free(names);
    return VT_ENOTFOUND;
}

/* ---- checking what a plugin registers --------------------------------------------------------------- */

/* Storage of each param type inside the params struct (params.h); size 0 for a type this host lacks. */
static void param_storage(vt_param_type type, size_t *size, size_t *align) {
    switch (type) {
    case VT_PARAM_BOOL: *size = sizeof(bool), *align = alignof(bool); return;
    case VT_PARAM_INT: *size = sizeof(int64_t), *align = alignof(int64_t); return;
    case VT_PARAM_FLOAT: *size = sizeof(double), *align = alignof(double); return;
    case VT_PARAM_STRING:
    case VT_PARAM_ENUM: *size = sizeof(char *), *align = alignof(char *); return;
    case VT_PARAM_LIST: *size = sizeof(vt_param_list), *align = alignof(vt_param_list); return;
    case VT_PARAM_MAP:
    case VT_PARAM_SEQ: *size = sizeof(void *), *align = alignof(void *); return;
    }
    *size = 0, *align = 1;
}

static vt_status check_spec(const vt_param_spec *s, size_t params_size, vt_err *err) {
    if (!vt_valid_name(s->name)) return vt_err_set(err, VT_EINVAL, "a parameter name is not [A-Za-z0-9_.-]+");
    size_t size, align;
    param_storage(s->type, &size, &align);
    if (size == 0) return vt_err_set(err, VT_EINVAL, "param '%s': unknown type %d", s->name, (int)s->type);
    if (s->offset > params_size || size > params_size - s->offset)
        return vt_err_set(err, VT_EINVAL, "param '%s': offset %zu + %zu bytes exceeds params_size %zu", s->name,
                          s->offset, size, params_size);
    if (s->offset % align)
        return vt_err_set(err, VT_EINVAL, "param '%s': offset %zu is not %zu-byte aligned", s->name, s->offset,
                          align);
    if (s->type == VT_PARAM_ENUM) {
        size_t n = 0;
        while (s->choices && n < MAX_CHOICES && s->choices[n]) n++;
        if (n == 0 || n == MAX_CHOICES)
            return vt_err_set(err, VT_EINVAL, "param '%s': enum needs 1..%d choices ending with NULL", s->name,
                              MAX_CHOICES - 1);
    }
    if (s->type == VT_PARAM_LIST && s->elem_type != VT_PARAM_INT && s->elem_type != VT_PARAM_FLOAT &&
        s->elem_type != VT_PARAM_STRING)
        return vt_err_set(err, VT_EINVAL, "param '%s': list elem_type must be INT, FLOAT or STRING", s->name);
    return VT_OK;
}

/* A default the config engine cannot read would fail every run that omits the key: refuse it now, by
 * validating an empty section against this one spec. */
static vt_status check_default(const vt_param_spec *s, size_t params_size, vt_err *err) {
    if (!s->default_value || s->type == VT_PARAM_MAP || s->type == VT_PARAM_SEQ) return VT_OK;
    vt_param_spec one[2] = {*s};
    memset(&one[1], 0, sizeof one[1]);
    one[0].required = false;
    void *scratch = calloc(1, params_size);
    if (!scratch) return vt_err_set(err, VT_ENOMEM, "out of memory");
    vt_status st = vt_cfg_validate(NULL, one, scratch, NULL, err);
    if (st == VT_OK) vt_params_free(one, scratch);
    free(scratch);
    return st; /* the validator's message already names the parameter and its default */
}

/* Copies the plugin's spec table (walked with its stride) into host layout and checks every entry. */
static vt_status copy_specs(const vt_component_info *info, vt_component *comp, vt_err *err) {
    comp->params_size = info->params_size;
    if (!info->params) {
        comp->params = calloc(1, sizeof(vt_param_spec));
        return comp->params ? VT_OK : vt_err_set(err, VT_ENOMEM, "out of memory");
    }
    size_t stride = info->param_spec_size;
    if (stride < PARAM_SPEC_SIZE_1_0)
        return vt_err_set(err, VT_EABI, "param_spec_size %zu is shorter than the %zu bytes ABI 1.0 needs",
                          stride, (size_t)PARAM_SPEC_SIZE_1_0);
    if (info->params_size > MAX_PARAMS_SIZE)
        return vt_err_set(err, VT_EINVAL, "params_size %zu is implausibly large", info->params_size);

    const char *base = (const char *)info->params;
    size_t n = 0;
    while (n < MAX_PARAMS && ((const vt_param_spec *)(const void *)(base + n * stride))->name) n++;
    if (n == MAX_PARAMS)
        return vt_err_set(err, VT_EINVAL, "parameter table has no VT_PARAM_END within %d entries", MAX_PARAMS);

    vt_param_spec *specs = calloc(n + 1, sizeof *specs);
    if (!specs) return vt_err_set(err, VT_ENOMEM, "out of memory");
    comp->params = specs;
    comp->n_params = n;
    for (size_t i = 0; i < n; i++) {
        memcpy(&specs[i], base + i * stride, stride < sizeof *specs ? stride : sizeof *specs);
        vt_status st = check_spec(&specs[i], info->params_size, err);
        if (st == VT_OK) st = check_default(&specs[i], info->params_size, err);
        if (st != VT_OK) return st;
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[j].name, specs[i].name) == 0)
                return vt_err_set(err, VT_EINVAL, "param '%s' is declared twice", specs[i].name);
    }
    return VT_OK;
}

/* Copies the vtable into the host-layout union; slots past the plugin's struct_size stay NULL. */
static vt_status copy_vtable(const vt_component_info *info, vt_component *comp, vt_err *err) {
    if (!info->vtable) return vt_err_set(err, VT_EINVAL, "no vtable");
    size_t have = *(const size_t *)info->vtable, need, host;
    switch (info->kind) {
    case VT_COMPONENT_HEAD: need = VT_HEAD_VTABLE_SIZE_1_0, host = sizeof(vt_head_vtable); break;
    case VT_COMPONENT_DATASET: need = VT_DATASET_VTABLE_SIZE_1_0, host = sizeof(vt_dataset_vtable); break;
    case VT_COMPONENT_BENCHMARK: need = VT_BENCHMARK_VTABLE_SIZE_1_0, host = sizeof(vt_benchmark_vtable); break;
    default: return vt_err_set(err, VT_EINVAL, "unknown component kind %d", (int)info->kind);
    }
    if (have < need)
        return vt_err_set(err, VT_EABI, "vtable struct_size %zu is shorter than the %zu bytes ABI 1.0 needs",
                          have, need);
    memcpy(&comp->vt, info->vtable, have < host ? have : host);

    /* Required 1.0 slots. */
    const char *missing = NULL;
    switch (info->kind) {
    case VT_COMPONENT_HEAD: {
        const vt_head_vtable *v = &comp->vt.head;
        missing = !v->create ? "create" : !v->destroy ? "destroy" : !v->parameters ? "parameters"
                : !v->loss ? "loss" : !v->predict ? "predict" : NULL;
        break;
    }
    case VT_COMPONENT_DATASET: {
        const vt_dataset_vtable *v = &comp->vt.dataset;
        missing = !v->open ? "open" : !v->close ? "close" : !v->length ? "length" : !v->sample ? "sample" : NULL;
        break;
    }
    case VT_COMPONENT_BENCHMARK: {
        const vt_benchmark_vtable *v = &comp->vt.benchmark;
        missing = !v->create ? "create" : !v->destroy ? "destroy" : !v->run ? "run" : NULL;
        break;
    }
    }
    if (missing) return vt_err_set(err, VT_EINVAL, "vtable slot '%s' is NULL", missing);
    return VT_OK;
}

vt_status vt_component_build(const vt_component_info *in, const vt_plugin_info *plugin, vt_component **out,
                             vt_err *err) {
    *out = NULL;
    if (!in) return vt_err_set(err, VT_EINVAL, "add_component: NULL component info");
    if (in->struct_size < VT_COMPONENT_INFO_SIZE_1_0)
        return vt_err_set(err, VT_EABI, "component info struct_size %zu is shorter than the %zu bytes ABI 1.0 needs",
                          in->struct_size, (size_t)VT_COMPONENT_INFO_SIZE_1_0);
    vt_component_info info = {0};
    memcpy(&info, in, in->struct_size < sizeof info ? in->struct_size : sizeof info);

    const char *kname = vt_component_kind_name(info.kind);
    if (strcmp(kname, "unknown") == 0)
        return vt_err_set(err, VT_EINVAL, "component '%.64s': unknown kind %d", info.name ? info.name : "(null)",
                          (int)info.kind);
    if (!vt_valid_name(info.name))
        return vt_err_set(err, VT_EINVAL, "%s component: name %s%.64s%s is not [A-Za-z0-9_.-]{1,%d}", kname,
                          info.name ? "'" : "", info.name ? info.name : "NULL", info.name ? "'" : "", MAX_NAME);

    vt_component *comp = calloc(1, sizeof *comp);
    if (!comp) return vt_err_set(err, VT_ENOMEM, "out of memory");
    comp->kind = info.kind;
    comp->name = info.name;
    comp->description = info.description ? info.description : "";
    comp->plugin = plugin;
    vt_status st = copy_vtable(&info, comp, err);
    if (st == VT_OK) st = copy_specs(&info, comp, err);
    if (st != VT_OK) {
        vt_component_free(comp);
        return vt_err_prefix(err, "%s '%s'", kname, info.name);
    }
    *out = comp;
    return VT_OK;
}

void vt_component_free(vt_component *comp) {
    if (!comp) return;
    free((void *)comp->params);
    free(comp);
}

vt_status vt_registry_commit(vt_registry *reg, vt_component **comps, size_t n, vt_err *err) {
    for (size_t i = 0; i < n; i++) {
        const vt_component *c = comps[i];
        const char *kname = vt_component_kind_name(c->kind);
        const vt_component *old = vt_registry_find(reg, c->kind, c->name);
        if (old)
            return vt_err_set(err, VT_EINVAL, "%s '%s' is already registered by %s", kname, c->name,
                              old->plugin->path);
        for (size_t j = 0; j < i; j++)
            if (comps[j]->kind == c->kind && strcmp(comps[j]->name, c->name) == 0)
                return vt_err_set(err, VT_EINVAL, "%s '%s' is registered twice by this plugin", kname, c->name);
    }
    /* Room for all first, so a plugin's components go in together or not at all. */
    if (reg->cap_components < reg->n_components + n) {
        size_t cap = reg->n_components + n + 8;
        vt_component **p = realloc(reg->components, cap * sizeof *p);
        if (!p) return vt_err_set(err, VT_ENOMEM, "out of memory");
        reg->components = p;
        reg->cap_components = cap;
    }
    for (size_t i = 0; i < n; i++) {
        reg->components[reg->n_components++] = comps[i];
        comps[i] = NULL;
    }
    return VT_OK;
}
