/* The registry's links to the config: filling a component's params struct from its section (through the
 * config engine's spec validation: one implementation of YAML typing, ranges and "did you mean"), and the
 * config's plugin_paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "visft/config.h"
#include "visft/registry.h"

vt_status vt_component_params_new(const vt_component *comp, const struct vt_cfg_node *section,
                                  const char *const *ignore_keys, void **out, vt_err *err) {
    *out = NULL;
    if (!comp) return vt_err_set(err, VT_EINVAL, "component params: no component");
    /* calloc(0) may return NULL; a component without params still gets a unique, freeable block. */
    void *params = calloc(1, comp->params_size ? comp->params_size : 1);
    if (!params) return vt_err_set(err, VT_ENOMEM, "out of memory");
    char label[160];
    snprintf(label, sizeof label, "%s '%s'", vt_component_kind_name(comp->kind), comp->name);
    /* With a section its own path and file:line:col say where; without one, name the component. */
    vt_cfg_validate_opts opts = {.section = section ? NULL : label, .ignore_keys = ignore_keys, .allow_unknown = false};
    vt_status st = vt_cfg_validate(section, comp->params, params, &opts, err);
    if (st != VT_OK) {
        free(params);
        return st;
    }
    *out = params;
    return VT_OK;
}

void vt_component_params_free(const vt_component *comp, void *params) {
    if (!params) return;
    if (comp) vt_params_free(comp->params, params);
    free(params);
}

/* A relative entry is relative to the file that wrote it (an override's origin has no file: cwd). */
static vt_status add_one(vt_registry *reg, const vt_cfg_node *item, vt_err *err) {
    const char *text;
    vt_status st = vt_cfg_as_string(item, &text, err);
    if (st != VT_OK) return st;
    if (!*text) {
        char loc[256];
        return vt_err_set(err, VT_EINVAL, "%s: plugin_paths: empty path", vt_cfg_loc_str(item, loc, sizeof loc));
    }
    vt_cfg_loc where = vt_cfg_where(item);
    const char *slash = where.file && where.line > 0 ? strrchr(where.file, '/') : NULL;
    if (text[0] == '/' || !slash) return vt_registry_add_path(reg, text, err);
    size_t dirlen = (size_t)(slash - where.file), len = dirlen + 1 + strlen(text) + 1;
    char *path = malloc(len);
    if (!path) return vt_err_set(err, VT_ENOMEM, "out of memory");
    snprintf(path, len, "%.*s/%s", (int)dirlen, where.file, text);
    st = vt_registry_add_path(reg, path, err);
    free(path);
    return st;
}

vt_status vt_registry_add_config_paths(vt_registry *reg, const struct vt_cfg_node *node, vt_err *err) {
    if (!node || vt_cfg_typeof(node) == VT_CFG_NULL) return VT_OK;
    if (vt_cfg_typeof(node) != VT_CFG_SEQ) return add_one(reg, node, err);
    for (size_t i = 0; i < vt_cfg_len(node); i++) {
        vt_status st = add_one(reg, vt_cfg_item(node, i), err);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}
