/* The host side of plugins: a registry that finds plugin .so files, loads the acceptable ones, records why
 * the others were refused, and looks components up by kind and name.
 *
 * One registry per process is the norm, but nothing here is global: create one, add search paths in
 * priority order, load, pass it to whatever needs components. Loading never fails as a whole because of one
 * bad plugin: each refusal is recorded (one line) and the rest still load.
 *
 * Search order used by the CLI (first match of a file name wins; later ones are "shadowed"):
 *   --plugin-path, VISFT_PLUGIN_PATH (colon-separated), the config's plugin_paths, the build tree's
 *   plugins/ (only when this libvisft is the build tree's), the install prefix's lib/visft/plugins.
 * A path entry may be a directory (every *.so in it, in name order) or a single .so file.
 *
 * Loaded objects are never dlclosed (plugins stay resident): component vtables, names and spec tables
 * stay valid for the whole process, even after vt_registry_destroy. */
#ifndef VISFT_REGISTRY_H
#define VISFT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "visft/error.h"
#include "visft/params.h"
#include "visft/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vt_cfg_node; /* visft/config.h */

typedef struct vt_registry vt_registry;

typedef enum vt_plugin_state {
    VT_PLUGIN_LOADED = 0,
    VT_PLUGIN_REFUSED,   /* reason says why; none of its components are registered */
    VT_PLUGIN_SHADOWED   /* a file of the same name was found earlier in the search order */
} vt_plugin_state;

typedef struct vt_plugin_info {
    const char *path;        /* as found (directory entry joined to its search path) */
    vt_plugin_state state;
    const char *reason;      /* REFUSED/SHADOWED: one line; LOADED: "" */
    /* From the descriptor; NULL when it could not be read. */
    const char *name, *version, *description, *license;
    unsigned abi_major, abi_minor;
} vt_plugin_info;

typedef struct vt_component {
    vt_component_kind kind;
    const char *name;
    const char *description;     /* "" when the plugin gave none */
    const vt_param_spec *params; /* host-layout copy, ends with a NULL name */
    size_t n_params;
    size_t params_size;
    /* Host-layout copies of the plugin's vtable: slots past the plugin's struct_size are NULL. */
    union {
        vt_head_vtable head;
        vt_dataset_vtable dataset;
        vt_benchmark_vtable benchmark;
    } vt;
    const vt_plugin_info *plugin;
} vt_component;

vt_status vt_registry_create(vt_registry **out, vt_err *err);
void vt_registry_destroy(vt_registry *reg);

/* Search paths, in priority order of the calls. */
vt_status vt_registry_add_path(vt_registry *reg, const char *path, vt_err *err);
/* Adds each non-empty entry of a colon-separated list (VISFT_PLUGIN_PATH); NULL adds nothing. */
vt_status vt_registry_add_path_list(vt_registry *reg, const char *list, vt_err *err);
/* Adds the build tree's plugin directory (when this libvisft is the build tree's) and the install
 * prefix's lib/visft/plugins. Missing default directories are skipped quietly. */
vt_status vt_registry_add_default_paths(vt_registry *reg, vt_err *err);

/* Adds a config's `plugin_paths` (a path or a list of paths; NULL or null adds nothing). Relative paths
 * are taken relative to the YAML file that wrote them. A non-string entry fails naming file:line:col. */
vt_status vt_registry_add_config_paths(vt_registry *reg, const struct vt_cfg_node *node, vt_err *err);

/* The search paths added so far, in order. */
size_t vt_registry_path_count(const vt_registry *reg);
const char *vt_registry_path(const vt_registry *reg, size_t i);

/* Scans the search paths added since the last call and loads what it finds. Only host problems
 * (allocation) fail; bad plugins and unreadable user paths are recorded (vt_registry_plugin and
 * vt_registry_path_problem) and skipped. */
vt_status vt_registry_load(vt_registry *reg, vt_err *err);

/* Plugins seen, in load order: loaded, refused and shadowed. */
size_t vt_registry_plugin_count(const vt_registry *reg);
const vt_plugin_info *vt_registry_plugin(const vt_registry *reg, size_t i);
/* User-given search paths that could not be used ("DIR: no such file or directory"). */
size_t vt_registry_path_problem_count(const vt_registry *reg);
const char *vt_registry_path_problem(const vt_registry *reg, size_t i);

/* Registered components, in registration order. */
size_t vt_registry_component_count(const vt_registry *reg);
const vt_component *vt_registry_component(const vt_registry *reg, size_t i);

/* The component of that kind and name, or NULL. */
const vt_component *vt_registry_find(const vt_registry *reg, vt_component_kind kind, const char *name);
/* The same as a fallible call: VT_ENOTFOUND with "no head plugin 'detrr' (did you mean 'detr'?)",
 * mentioning a refused plugin's reason when one of that name was refused. */
vt_status vt_registry_lookup(const vt_registry *reg, vt_component_kind kind, const char *name,
                             const vt_component **out, vt_err *err);

/* A component's params struct filled from its YAML section: allocates params_size bytes and validates
 * `section` (a map; NULL for defaults only) against the component's spec with vt_cfg_validate.
 * ignore_keys (NULL-terminated, may be NULL) are keys the caller consumed, e.g. "plugin". Errors name
 * file:line:col and the key. Free with vt_component_params_free. */
vt_status vt_component_params_new(const vt_component *comp, const struct vt_cfg_node *section,
                                  const char *const *ignore_keys, void **out, vt_err *err);
void vt_component_params_free(const vt_component *comp, void *params);

/* "head", "dataset", "benchmark"; "unknown" otherwise. */
const char *vt_component_kind_name(vt_component_kind kind);
/* Parses those names; false when unknown. */
bool vt_component_kind_parse(const char *name, vt_component_kind *out);

#ifdef __cplusplus
}
#endif
#endif
