/* Test helpers for dataset plugins: open a built plugin's dataset from YAML params, write image files. */
#ifndef VT_TEST_LOADER_DATASET_H
#define VT_TEST_LOADER_DATASET_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "visft/config.h"
#include "visft/data.h"
#include "visft/registry.h"
#include "vt_test.h"

typedef struct test_ds {
    vt_registry *reg;
    const vt_component *comp;
    vt_cfg *cfg;
    void *params;
    void *ds;
} test_ds;

/* Opens dataset `name` from the build tree's plugins with params given as YAML; returns the open status. */
static inline vt_status test_ds_open(test_ds *t, const char *name, const char *yaml, const char *split, vt_err *err) {
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(vt_registry_create(&t->reg, err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(t->reg, VISFT_BUILD_DIR "/plugins", err), VT_OK);
    ck_assert_int_eq(vt_registry_load(t->reg, err), VT_OK);
    ck_assert_int_eq(vt_registry_lookup(t->reg, VT_COMPONENT_DATASET, name, &t->comp, err), VT_OK);
    ck_assert_msg(vt_cfg_load_string(yaml, strlen(yaml), "test.yaml", VT_CFG_NO_BASE, &t->cfg, err) == VT_OK, "%s",
                  err->msg);
    vt_status st = vt_component_params_new(t->comp, vt_cfg_root(t->cfg), NULL, &t->params, err);
    if (st != VT_OK) return st;
    return t->comp->vt.dataset.open(t->params, split, NULL, &t->ds, err);
}

static inline void test_ds_close(test_ds *t) {
    if (t->ds) t->comp->vt.dataset.close(t->ds);
    if (t->params) vt_component_params_free(t->comp, t->params);
    vt_cfg_free(t->cfg);
    vt_registry_destroy(t->reg);
}

/* A w x h PNG filled with `value`. */
static inline void test_write_png(const char *path, int w, int h, int value) {
    vt_image img = {0};
    vt_err err = {0};
    ck_assert_int_eq(vt_image_alloc(&img, w, h, &err), VT_OK);
    memset(img.data, value, (size_t)w * h * 3);
    ck_assert_msg(vt_image_save_png(&img, path, &err) == VT_OK, "%s", err.msg);
    vt_image_free(&img);
}

static inline void test_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

/* A fresh temporary directory (removed by test_rm_rf). */
static inline char *test_tmpdir(void) {
    char tmpl[] = "/tmp/visft_loader_XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

static inline void test_rm_rf(char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

#endif
