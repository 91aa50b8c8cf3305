/* Registry internals shared by registry.c (components, lookups) and loader.c (search paths, dlopen). */
#ifndef VISFT_PLUGIN_INTERNAL_H
#define VISFT_PLUGIN_INTERNAL_H

#include "visft/registry.h"

/* One plugin file seen by the loader. `info` is first so a vt_plugin_info* handed out converts back. */
typedef struct vt_plugin_rec {
    vt_plugin_info info;
    char *path, *real, *base, *reason;
    char *name, *version, *description, *license; /* copies of the descriptor's strings */
    void *handle;                                  /* dlopen handle; never closed */
} vt_plugin_rec;

typedef struct vt_search_path {
    char *path;
    bool is_default; /* a missing default directory is not worth reporting */
} vt_search_path;

struct vt_registry {
    vt_search_path *paths;
    size_t n_paths, cap_paths, next_path; /* paths[next_path..] are not scanned yet */

    vt_plugin_rec **plugins; /* pointers stay stable as the array grows */
    size_t n_plugins, cap_plugins;

    vt_component **components;
    size_t n_components, cap_components;

    char **problems;
    size_t n_problems, cap_problems;
};

/* Grows *items (of elem bytes) so that one more fits; false on allocation failure. */
bool vt_grow(void **items, size_t *cap, size_t n, size_t elem);

/* Checks one component handed to the registrar and builds its host-side copy (params and vtable in host
 * layout). Fails with a message that names the component; *out is NULL then. */
vt_status vt_component_build(const vt_component_info *info, const vt_plugin_info *plugin, vt_component **out,
                             vt_err *err);
void vt_component_free(vt_component *comp);

/* Adds components to the registry, all or none: a duplicate (kind, name), against the registry or within
 * the batch, fails naming both plugin paths. */
vt_status vt_registry_commit(vt_registry *reg, vt_component **comps, size_t n, vt_err *err);

/* [A-Za-z0-9_.-]+ : safe in YAML keys, CLI arguments and file names. */
bool vt_valid_name(const char *s);

/* strdup, but NULL-safe and bounded (descriptor strings come from untrusted plugins). */
char *vt_strdup_bounded(const char *s, size_t max);

#endif
