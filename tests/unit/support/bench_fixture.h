/* Opens a benchmark plugin from the build tree through the registry, with params given as YAML, for benchmark
 * tests. */
#ifndef VT_BENCH_FIXTURE_H
#define VT_BENCH_FIXTURE_H

#include <check.h>
#include <string.h>

#include "visft/config.h"
#include "visft/registry.h"
#include "visft/visft.h"

typedef struct bench_t {
    vt_registry *reg;
    const vt_component *comp;
    vt_cfg *cfg;
    void *params;
    void *b;
} bench_t;

/* Creates benchmark `name`; the status is create's (a params error included), so tests can expect failures. */
static inline vt_status bench_open_named(bench_t *t, const char *name, const char *yaml, const vt_host *host,
                                         vt_err *err) {
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(vt_registry_create(&t->reg, err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(t->reg, VISFT_BUILD_DIR "/plugins", err), VT_OK);
    ck_assert_int_eq(vt_registry_load(t->reg, err), VT_OK);
    ck_assert_msg(vt_registry_lookup(t->reg, VT_COMPONENT_BENCHMARK, name, &t->comp, err) == VT_OK, "%s", err->msg);
    ck_assert_int_eq(vt_cfg_load_string(yaml, strlen(yaml), "bench.yaml", VT_CFG_NO_BASE, &t->cfg, err), VT_OK);
    vt_status st = vt_component_params_new(t->comp, vt_cfg_root(t->cfg), NULL, &t->params, err);
    if (st != VT_OK) return st;
    return t->comp->vt.benchmark.create(t->params, host, &t->b, err);
}

static inline void bench_close(bench_t *t) {
    if (t->b) t->comp->vt.benchmark.destroy(t->b);
    if (t->params) vt_component_params_free(t->comp, t->params);
    vt_cfg_free(t->cfg);
    vt_registry_destroy(t->reg);
}

#endif
