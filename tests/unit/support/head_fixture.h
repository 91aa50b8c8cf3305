/* Opens a head plugin from the build tree through the registry, with params given as YAML, for head tests. */
#ifndef VT_HEAD_FIXTURE_H
#define VT_HEAD_FIXTURE_H

#include <check.h>
#include <string.h>

#include "visft/config.h"
#include "visft/registry.h"
#include "visft/visft.h"

typedef struct head_t {
    vt_registry *reg;
    const vt_component *comp;
    vt_cfg *cfg;
    void *params;
    void *h;
} head_t;

/* Creates head `name` on a backbone of `width` channels and `patch` pixels per feature cell. */
static inline vt_status head_open_named(head_t *t, const char *name, vt_ctx *ctx, const char *yaml, int64_t width,
                                        int64_t patch, vt_err *err) {
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(vt_registry_create(&t->reg, err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(t->reg, VISFT_BUILD_DIR "/plugins", err), VT_OK);
    ck_assert_int_eq(vt_registry_load(t->reg, err), VT_OK);
    ck_assert_msg(vt_registry_lookup(t->reg, VT_COMPONENT_HEAD, name, &t->comp, err) == VT_OK, "%s", err->msg);
    ck_assert_int_eq(vt_cfg_load_string(yaml, strlen(yaml), "head.yaml", VT_CFG_NO_BASE, &t->cfg, err), VT_OK);
    vt_status st = vt_component_params_new(t->comp, vt_cfg_root(t->cfg), NULL, &t->params, err);
    if (st != VT_OK) return st;
    vt_backbone_info bb = {.struct_size = sizeof bb, .width = width, .patch_size = patch, .feature_stride = patch,
                           .image_size = 32, .device = "cpu"};
    return t->comp->vt.head.create(ctx, t->params, &bb, NULL, &t->h, err);
}

static inline void head_close(head_t *t) {
    if (t->h) t->comp->vt.head.destroy(t->h);
    if (t->params) vt_component_params_free(t->comp, t->params);
    vt_cfg_free(t->cfg);
    vt_registry_destroy(t->reg);
}

#endif
