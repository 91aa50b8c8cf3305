/* Component registration checks (in process, no dlopen): what the registrar accepts, the host-layout
 * copies it keeps, and filling a component's params from YAML through its spec. */
#include <stdlib.h>
#include <string.h>

#include "plugin/internal.h"
#include "visft/config.h"
#include "visft/registry.h"
#include "vt_test.h"

#ifndef VISFT_FIXTURE_DIR
#define VISFT_FIXTURE_DIR VISFT_BUILD_DIR "/tests/plugins"
#endif

/* ---- a component built in this test ---- */
typedef struct tparams {
    int64_t depth;
    double lr;
    char *act;
} tparams;

static const char *const acts[] = {"gelu", "relu", NULL};

static vt_param_spec specs[] = {
    {.name = "depth", .type = VT_PARAM_INT, .offset = offsetof(tparams, depth), .default_value = "2", .min = 1, .max = 8},
    {.name = "lr", .type = VT_PARAM_FLOAT, .offset = offsetof(tparams, lr), .default_value = "0.1", .min = 0, .max = 1},
    {.name = "act", .type = VT_PARAM_ENUM, .offset = offsetof(tparams, act), .default_value = "gelu",
     .choices = acts, .min = 1, .max = 0},
    VT_PARAM_END,
};

static vt_status h_create(struct vt_ctx *c, const void *p, const vt_backbone_info *b, const vt_host *h, void **o,
                          vt_err *e) {
    return VT_OK;
}
static void h_destroy(void *s) {}
static vt_status h_params(void *s, vt_named_tensors *o, vt_err *e) { return VT_OK; }
static vt_status h_loss(void *s, struct vt_ctx *c, struct vt_tensor *f, const struct vt_batch *b, struct vt_tensor **t,
                        vt_named_tensors *n, vt_err *e) {
    return VT_OK;
}
static vt_status h_predict(void *s, struct vt_ctx *c, struct vt_tensor *f, const struct vt_batch *b,
                           vt_named_tensors *o, vt_err *e) {
    return VT_OK;
}
static vt_head_vtable vtable = {sizeof(vt_head_vtable), h_create, h_destroy, h_params, h_loss, h_predict};

static vt_component_info good_info(void) {
    return (vt_component_info){sizeof(vt_component_info), VT_COMPONENT_HEAD, "t_head", "a test head", specs,
                               sizeof(vt_param_spec), sizeof(tparams), &vtable};
}

static vt_plugin_info plugin = {.path = "/x/t.so", .name = "t"};

/* Builds `info` expecting failure with a message containing `want`. */
static void build_fails(const vt_component_info *info, const char *want) {
    vt_component *c = (vt_component *)1;
    vt_err err = {0};
    ck_assert_int_ne(vt_component_build(info, &plugin, &c, &err), VT_OK);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
}

START_TEST(test_good_component_is_copied_in_host_layout) {
    vt_component_info info = good_info();
    vt_component *c = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_component_build(&info, &plugin, &c, &err) == VT_OK, "%s", err.msg);
    ck_assert_str_eq(c->name, "t_head");
    ck_assert_str_eq(c->description, "a test head");
    ck_assert_uint_eq(c->n_params, 3);
    ck_assert_ptr_ne(c->params, specs); /* a copy... */
    ck_assert_str_eq(c->params[2].name, "act");
    ck_assert_ptr_null(c->params[3].name); /* ...terminated */
    ck_assert_uint_eq(c->params_size, sizeof(tparams));
    ck_assert(c->vt.head.loss == h_loss);
    ck_assert_ptr_eq(c->plugin, &plugin);
    vt_component_free(c);
}
END_TEST

START_TEST(test_bad_components_are_rejected_with_reason) {
    vt_component_info i;
    build_fails(NULL, "NULL component info");
    i = good_info(), i.struct_size = 8;
    build_fails(&i, "component info struct_size 8 is shorter");
    i = good_info(), i.kind = (vt_component_kind)42;
    build_fails(&i, "unknown kind 42");
    i = good_info(), i.name = NULL;
    build_fails(&i, "head component: name NULL");
    i = good_info(), i.name = "has space";
    build_fails(&i, "name 'has space' is not");
    i = good_info(), i.vtable = NULL;
    build_fails(&i, "head 't_head': no vtable");
    i = good_info(), i.param_spec_size = 4;
    build_fails(&i, "param_spec_size 4 is shorter");
    i = good_info(), i.params_size = 8;
    build_fails(&i, "param 'lr': offset 8 + 8 bytes exceeds params_size 8");
    i = good_info(), i.params_size = (size_t)1 << 40;
    build_fails(&i, "implausibly large");

    vt_head_vtable v = vtable;
    i = good_info(), i.vtable = &v;
    v.predict = NULL;
    build_fails(&i, "vtable slot 'predict' is NULL");
    v = vtable, v.struct_size = sizeof(size_t);
    build_fails(&i, "vtable struct_size 8 is shorter");
}
END_TEST

/* One bad spec at a time, each in an otherwise good table. */
START_TEST(test_bad_specs_are_rejected_with_reason) {
    static const char *const none[] = {NULL};
    const struct {
        vt_param_spec spec;
        const char *want;
    } cases[] = {
        {{.name = "x", .type = (vt_param_type)99, .offset = 0}, "param 'x': unknown type 99"},
        {{.name = "x", .type = VT_PARAM_FLOAT, .offset = 4}, "param 'x': offset 4 is not 8-byte aligned"},
        {{.name = "x", .type = VT_PARAM_ENUM, .offset = 16, .choices = NULL}, "param 'x': enum needs"},
        {{.name = "x", .type = VT_PARAM_ENUM, .offset = 16, .choices = none}, "param 'x': enum needs"},
        {{.name = "x", .type = VT_PARAM_LIST, .offset = 0, .elem_type = VT_PARAM_MAP}, "list elem_type"},
        {{.name = "depth", .type = VT_PARAM_INT, .offset = 0, .min = 1, .max = 0}, "param 'depth' is declared twice"},
        {{.name = "x", .type = VT_PARAM_INT, .offset = 0, .default_value = "0", .min = 1, .max = 8},
         "default of x"},
        {{.name = "x y", .type = VT_PARAM_INT, .offset = 0}, "parameter name"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vt_param_spec table[3] = {specs[0], cases[k].spec};
        memset(&table[2], 0, sizeof table[2]);
        vt_component_info i = good_info();
        i.params = table;
        i.params_size = 64;
        build_fails(&i, cases[k].want);
    }
}
END_TEST

/* A plugin compiled with a longer vt_param_spec (a newer params.h) is walked with its own stride. */
START_TEST(test_spec_table_is_walked_with_the_plugins_stride) {
    typedef struct longer_spec {
        vt_param_spec base;
        void *added_later[3];
    } longer_spec;
    longer_spec table[3] = {{specs[0], {0}}, {specs[1], {0}}, {{0}, {0}}};
    vt_component_info i = good_info();
    i.params = &table[0].base;
    i.param_spec_size = sizeof(longer_spec);
    vt_component *c = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_component_build(&i, &plugin, &c, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(c->n_params, 2);
    ck_assert_str_eq(c->params[1].name, "lr");
    vt_component_free(c);
}
END_TEST

/* A vtable from a plugin built with more slots than this host knows (same major) is accepted; the host
 * copies only the slots it knows. */
START_TEST(test_longer_vtable_is_accepted) {
    typedef struct longer_vtable {
        vt_head_vtable v;
        void (*future_slot)(void);
    } longer_vtable;
    longer_vtable lv = {vtable, (void (*)(void))h_destroy};
    lv.v.struct_size = sizeof lv;
    vt_component_info i = good_info();
    i.vtable = &lv;
    vt_component *c = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_component_build(&i, &plugin, &c, &err) == VT_OK, "%s", err.msg);
    ck_assert(c->vt.head.predict == h_predict);
    vt_component_free(c);
}
END_TEST

static vt_cfg *yaml(const char *text) {
    vt_cfg *cfg = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_cfg_load_string(text, strlen(text), "t.yaml", VT_CFG_NO_BASE, &cfg, &err) == VT_OK, "%s",
                  err.msg);
    return cfg;
}

START_TEST(test_params_filled_from_yaml_through_the_spec) {
    vt_component_info info = good_info();
    vt_component *c = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_component_build(&info, &plugin, &c, &err), VT_OK);

    vt_cfg *cfg = yaml("head:\n  plugin: t_head\n  depth: 5\n");
    tparams *p = NULL;
    const char *const ignore[] = {"plugin", NULL};
    ck_assert_msg(vt_component_params_new(c, vt_cfg_child(vt_cfg_root(cfg), "head"), ignore, (void **)&p, &err) == VT_OK,
                  "%s", err.msg);
    ck_assert_int_eq(p->depth, 5);
    ck_assert_double_eq(p->lr, 0.1);
    ck_assert_str_eq(p->act, "gelu");
    vt_component_params_free(c, p);
    vt_cfg_free(cfg);

    /* defaults only */
    ck_assert_int_eq(vt_component_params_new(c, NULL, NULL, (void **)&p, &err), VT_OK);
    ck_assert_int_eq(p->depth, 2);
    vt_component_params_free(c, p);

    /* out of range and misspelt keys name file:line:col */
    cfg = yaml("head:\n  depth: 9\n");
    p = (tparams *)1;
    ck_assert_int_ne(vt_component_params_new(c, vt_cfg_child(vt_cfg_root(cfg), "head"), NULL, (void **)&p, &err), VT_OK);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err.msg, "t.yaml:2:10") && strstr(err.msg, "depth"), "%s", err.msg);
    vt_cfg_free(cfg);
    cfg = yaml("head:\n  lrr: 0.5\n");
    ck_assert_int_ne(vt_component_params_new(c, vt_cfg_child(vt_cfg_root(cfg), "head"), NULL, (void **)&p, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "t.yaml:2:3") && strstr(err.msg, "did you mean 'lr'"), "%s", err.msg);
    vt_cfg_free(cfg);
    vt_component_free(c);
}
END_TEST

START_TEST(test_config_plugin_paths_are_relative_to_their_file) {
    vt_registry *reg = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_registry_create(&reg, &err), VT_OK);
    vt_cfg *cfg = yaml("plugin_paths: [rel/dir, /abs/dir]\n");
    ck_assert_int_eq(vt_registry_add_config_paths(reg, vt_cfg_child(vt_cfg_root(cfg), "plugin_paths"), &err), VT_OK);
    ck_assert_uint_eq(vt_registry_path_count(reg), 2);
    ck_assert_str_eq(vt_registry_path(reg, 0), "rel/dir"); /* "t.yaml" has no directory part */
    ck_assert_str_eq(vt_registry_path(reg, 1), "/abs/dir");
    vt_cfg_free(cfg);

    vt_cfg *cfg2 = NULL;
    const char *text = "plugin_paths: plugins\n";
    ck_assert_int_eq(vt_cfg_load_string(text, strlen(text), "/etc/exp/a.yaml", VT_CFG_NO_BASE, &cfg2, &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_config_paths(reg, vt_cfg_child(vt_cfg_root(cfg2), "plugin_paths"), &err), VT_OK);
    ck_assert_str_eq(vt_registry_path(reg, 2), "/etc/exp/plugins");
    vt_cfg_free(cfg2);

    cfg = yaml("plugin_paths: [ok, {a: 1}]\n");
    ck_assert_int_ne(vt_registry_add_config_paths(reg, vt_cfg_child(vt_cfg_root(cfg), "plugin_paths"), &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "t.yaml:1:"), "%s", err.msg);
    vt_cfg_free(cfg);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_fixture_vtables_work_through_the_registry) {
    vt_registry *reg = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_registry_create(&reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(reg, VISFT_FIXTURE_DIR "/good_a.so", &err), VT_OK);
    ck_assert_int_eq(vt_registry_load(reg, &err), VT_OK);
    const vt_component *h = vt_registry_find(reg, VT_COMPONENT_HEAD, "fx_head");
    const vt_component *d = vt_registry_find(reg, VT_COMPONENT_DATASET, "fx_data");
    ck_assert(h && d);
    ck_assert_uint_eq(h->n_params, 6);

    /* missing required 'name' */
    void *params = (void *)1;
    ck_assert_int_ne(vt_component_params_new(d, NULL, NULL, &params, &err), VT_OK);
    ck_assert_msg(strstr(err.msg, "name"), "%s", err.msg);

    vt_cfg *cfg = yaml("name: x\nn: 4\nsizes: [3, 4, 5]\nmode: slow\n");
    ck_assert_msg(vt_component_params_new(d, vt_cfg_root(cfg), NULL, &params, &err) == VT_OK, "%s", err.msg);
    void *ds = NULL;
    ck_assert_int_eq(d->vt.dataset.open(params, "train", NULL, &ds, &err), VT_OK);
    ck_assert_uint_eq(d->vt.dataset.length(ds), 4);
    ck_assert_int_eq(d->vt.dataset.sample(ds, 3, NULL, &err), VT_OK);
    ck_assert_int_ne(d->vt.dataset.sample(ds, 4, NULL, &err), VT_OK);
    d->vt.dataset.close(ds);

    vt_backbone_info bb = {sizeof bb, 768, 14, 14, 224, 1, "cpu"};
    void *head = NULL;
    ck_assert_int_eq(h->vt.head.create(NULL, params, &bb, NULL, &head, &err), VT_OK);
    ck_assert_int_eq(h->vt.head.loss(head, NULL, NULL, NULL, NULL, NULL, &err), VT_EUNSUPPORTED);
    ck_assert_str_eq(err.msg, "fx_head: no loss (width 768)");
    h->vt.head.destroy(head);
    vt_component_params_free(d, params);
    vt_cfg_free(cfg);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_kind_names_round_trip) {
    vt_component_kind k;
    ck_assert(vt_component_kind_parse("dataset", &k) && k == VT_COMPONENT_DATASET);
    ck_assert(vt_component_kind_parse("benchmark", &k) && k == VT_COMPONENT_BENCHMARK);
    ck_assert(vt_component_kind_parse("head", &k) && k == VT_COMPONENT_HEAD);
    ck_assert(!vt_component_kind_parse("heads", &k));
    ck_assert(!vt_component_kind_parse(NULL, &k));
    ck_assert_str_eq(vt_component_kind_name((vt_component_kind)0), "unknown");
}
END_TEST

VT_TEST_MAIN("plugin_registry", test_good_component_is_copied_in_host_layout,
             test_bad_components_are_rejected_with_reason, test_bad_specs_are_rejected_with_reason,
             test_spec_table_is_walked_with_the_plugins_stride, test_longer_vtable_is_accepted,
             test_params_filled_from_yaml_through_the_spec, test_config_plugin_paths_are_relative_to_their_file,
             test_fixture_vtables_work_through_the_registry, test_kind_names_round_trip)
