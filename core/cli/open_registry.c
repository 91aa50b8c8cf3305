/* Loading plugins for a command, in the documented search order (see registry.h). */
#include <stdlib.h>

#include "cli/commands.h"
#include "visft/config.h"

vt_status vt_cli_open_registry(const vt_cli_strings *plugin_paths, const struct vt_cfg *cfg, vt_registry **out,
                               vt_err *err) {
    vt_registry *reg;
    vt_status st = vt_registry_create(&reg, err);
    if (st != VT_OK) return st;
    for (size_t i = 0; st == VT_OK && plugin_paths && i < plugin_paths->n; i++)
        st = vt_registry_add_path(reg, plugin_paths->v[i], err);
    if (st == VT_OK) st = vt_registry_add_path_list(reg, getenv("VISFT_PLUGIN_PATH"), err);
    if (st == VT_OK && cfg) st = vt_registry_add_config_paths(reg, vt_cfg_child(vt_cfg_root(cfg), "plugin_paths"), err);
    if (st == VT_OK) st = vt_registry_add_default_paths(reg, err);
    if (st == VT_OK) st = vt_registry_load(reg, err);
    if (st != VT_OK) {
        vt_registry_destroy(reg);
        return st;
    }
    *out = reg;
    return VT_OK;
}
