/* Plugin loader: each test-only plugin in tests/plugins is accepted or refused with its own one-line
 * reason, the good ones load beside the bad ones, and search-path rules (dedup, shadowing) hold. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "visft/registry.h"
#include "vt_test.h"

#ifndef VISFT_FIXTURE_DIR
#define VISFT_FIXTURE_DIR VISFT_BUILD_DIR "/tests/plugins"
#endif
#define FX(name) VISFT_FIXTURE_DIR "/" name

/* A registry loaded from the given paths, in order (NULL-terminated). */
static vt_registry *load_paths(const char *const *paths) {
    vt_registry *reg = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_registry_create(&reg, &err), VT_OK);
    for (size_t i = 0; paths[i]; i++) ck_assert_int_eq(vt_registry_add_path(reg, paths[i], &err), VT_OK);
    ck_assert_msg(vt_registry_load(reg, &err) == VT_OK, "load: %s", err.msg);
    return reg;
}

#define LOAD(...) load_paths((const char *const[]){__VA_ARGS__, NULL})

/* The record of the file whose path ends in "/file". */
static const vt_plugin_info *plugin_by_file(const vt_registry *reg, const char *file) {
    size_t fl = strlen(file);
    for (size_t i = 0; i < vt_registry_plugin_count(reg); i++) {
        const vt_plugin_info *p = vt_registry_plugin(reg, i);
        size_t pl = strlen(p->path);
        if (pl > fl && strcmp(p->path + pl - fl, file) == 0 && p->path[pl - fl - 1] == '/') return p;
    }
    return NULL;
}

static void assert_refused(const vt_registry *reg, const char *file, const char *want) {
    const vt_plugin_info *p = plugin_by_file(reg, file);
    ck_assert_msg(p != NULL, "%s was not seen at all", file);
    ck_assert_msg(p->state == VT_PLUGIN_REFUSED, "%s should be refused (state %d)", file, (int)p->state);
    ck_assert_msg(strstr(p->reason, want), "%s: reason '%s' lacks '%s'", file, p->reason, want);
    ck_assert_msg(!strchr(p->reason, '\n'), "%s: reason is not one line: '%s'", file, p->reason);
}

START_TEST(test_good_plugins_load_with_their_components) {
    vt_registry *reg = LOAD(FX("good_a.so"), FX("good_b.so"));
    ck_assert_uint_eq(vt_registry_plugin_count(reg), 2);
    const vt_plugin_info *a = plugin_by_file(reg, "good_a.so");
    ck_assert_msg(a->state == VT_PLUGIN_LOADED, "good_a: %s", a->reason);
    ck_assert_str_eq(a->name, "good_a");
    ck_assert_str_eq(a->version, "1.2.3");
    ck_assert_str_eq(a->license, "MIT");
    ck_assert_uint_eq(a->abi_major, VT_PLUGIN_ABI_MAJOR);
    const vt_plugin_info *b = plugin_by_file(reg, "good_b.so");
    ck_assert_int_eq(b->state, VT_PLUGIN_LOADED);
    ck_assert_ptr_null(b->description);
    ck_assert_ptr_null(b->license);

    ck_assert_uint_eq(vt_registry_component_count(reg), 4);
    const vt_component *h = vt_registry_find(reg, VT_COMPONENT_HEAD, "fx_head");
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_eq(h->plugin, a);
    ck_assert_ptr_nonnull(vt_registry_find(reg, VT_COMPONENT_DATASET, "fx_data"));
    ck_assert_ptr_nonnull(vt_registry_find(reg, VT_COMPONENT_BENCHMARK, "fx_bench"));
    ck_assert_ptr_nonnull(vt_registry_find(reg, VT_COMPONENT_HEAD, "fx_head_b"));
    /* kind is part of the key */
    ck_assert_ptr_null(vt_registry_find(reg, VT_COMPONENT_DATASET, "fx_head"));
    vt_registry_destroy(reg);
}
END_TEST

static const struct {
    const char *file, *want;
} refusals[] = {
    {"bad_major.so", "ABI major mismatch: built for plugin ABI 2.0, this visft speaks 1.0"},
    {"bad_minor.so", "built for plugin ABI 1.1, newer than this visft's 1.0"},
    {"bad_short.so", "descriptor struct too short: 16 bytes"},
    {"bad_nosym.so", "no 'visft_plugin_descriptor' symbol"},
    {"bad_func_sym.so", "is not a data object"},
    {"bad_null_name.so", "descriptor has a NULL name"},
    {"bad_null_version.so", "descriptor has a NULL version"},
    {"bad_null_init.so", "descriptor has a NULL init"},
    {"bad_init_fails.so", "init failed: fixture: cannot open /nonexistent/weights.bin"},
    {"bad_short_vtable.so", "head 'fx_short_vtable': vtable struct_size"},
    {"bad_param_offset.so", "param 'b': offset 64 + 8 bytes exceeds params_size 8"},
    {"bad_default.so", "head 'fx_bad_default': default of depth"},
    {"bad_not_elf.so", "cannot load"},
};

START_TEST(test_each_bad_plugin_is_refused_with_its_reason) {
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", VISFT_FIXTURE_DIR, refusals[i].file);
        vt_registry *reg = LOAD(path);
        assert_refused(reg, refusals[i].file, refusals[i].want);
        ck_assert_msg(vt_registry_component_count(reg) == 0, "%s left components behind", refusals[i].file);
        vt_registry_destroy(reg);
    }
}
END_TEST

START_TEST(test_good_plugins_still_load_beside_bad_ones) {
    /* good_a first, so the duplicates in the directory are the ones refused */
    vt_registry *reg = LOAD(FX("good_a.so"), VISFT_FIXTURE_DIR);
    ck_assert_int_eq(plugin_by_file(reg, "good_a.so")->state, VT_PLUGIN_LOADED);
    ck_assert_int_eq(plugin_by_file(reg, "good_b.so")->state, VT_PLUGIN_LOADED);
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        assert_refused(reg, refusals[i].file, refusals[i].want);
    assert_refused(reg, "bad_dup.so", "head 'fx_head' is already registered by " VISFT_FIXTURE_DIR "/good_a.so");
    assert_refused(reg, "bad_dup_name.so", "plugin 'good_a' is already loaded from " VISFT_FIXTURE_DIR "/good_a.so");
    ck_assert_uint_eq(vt_registry_component_count(reg), 4); /* good_a's three and good_b's one */
    /* a refused plugin leaves nothing behind, not even what it registered before failing */
    ck_assert_ptr_null(vt_registry_find(reg, VT_COMPONENT_DATASET, "fx_dup_only"));
    ck_assert_ptr_null(vt_registry_find(reg, VT_COMPONENT_HEAD, "fx_init_fails"));
    ck_assert_ptr_null(vt_registry_find(reg, VT_COMPONENT_HEAD, "fx_param_offset"));
    /* good_a.so reached twice (explicitly, then in the directory) counts once */
    size_t seen = 0;
    for (size_t i = 0; i < vt_registry_plugin_count(reg); i++)
        seen += strstr(vt_registry_plugin(reg, i)->path, "/good_a.so") != NULL;
    ck_assert_uint_eq(seen, 1);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_duplicate_component_names_both_files) {
    vt_registry *reg = LOAD(FX("good_a.so"), FX("bad_dup.so"));
    const vt_plugin_info *dup = plugin_by_file(reg, "bad_dup.so");
    ck_assert_int_eq(dup->state, VT_PLUGIN_REFUSED);
    ck_assert_ptr_nonnull(strstr(dup->path, "/bad_dup.so"));
    ck_assert_ptr_nonnull(strstr(dup->reason, "/good_a.so"));
    vt_registry_destroy(reg);
}
END_TEST

/* Copies a file byte for byte (a symlink would be recognised as the same file). */
static void copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    ck_assert(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) ck_assert(write(out, buf, (size_t)n) == n);
    close(in);
    close(out);
}

START_TEST(test_later_file_of_same_name_is_shadowed) {
    char dir[] = "/tmp/vt_plugin_shadow_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char copy[256];
    snprintf(copy, sizeof copy, "%s/good_b.so", dir);
    copy_file(FX("good_b.so"), copy);
    vt_registry *reg = LOAD(FX("good_b.so"), dir);
    ck_assert_uint_eq(vt_registry_plugin_count(reg), 2);
    const vt_plugin_info *p = vt_registry_plugin(reg, 1);
    ck_assert_str_eq(p->path, copy);
    ck_assert_int_eq(p->state, VT_PLUGIN_SHADOWED);
    ck_assert_ptr_nonnull(strstr(p->reason, "shadowed by " VISFT_FIXTURE_DIR "/good_b.so"));
    ck_assert_uint_eq(vt_registry_component_count(reg), 1);
    vt_registry_destroy(reg);
    unlink(copy);
    rmdir(dir);
}
END_TEST

START_TEST(test_unusable_user_path_is_reported_not_fatal) {
    vt_registry *reg = LOAD("/nonexistent/visft/plugins", "/dev/null", FX("good_b.so"));
    ck_assert_uint_eq(vt_registry_path_problem_count(reg), 2);
    ck_assert_ptr_nonnull(strstr(vt_registry_path_problem(reg, 0), "/nonexistent/visft/plugins: No such file"));
    ck_assert_ptr_nonnull(strstr(vt_registry_path_problem(reg, 1), "/dev/null: not a directory"));
    ck_assert_uint_eq(vt_registry_component_count(reg), 1);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_path_list_skips_empty_entries) {
    vt_registry *reg = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_registry_create(&reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path_list(reg, ":a::b:", &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path_list(reg, NULL, &err), VT_OK);
    ck_assert_uint_eq(vt_registry_path_count(reg), 2);
    ck_assert_str_eq(vt_registry_path(reg, 0), "a");
    ck_assert_str_eq(vt_registry_path(reg, 1), "b");
    ck_assert_int_ne(vt_registry_add_path(reg, "", &err), VT_OK);
    /* default paths never fail, whether or not the directories exist */
    ck_assert_int_eq(vt_registry_add_default_paths(reg, &err), VT_OK);
    ck_assert_uint_ge(vt_registry_path_count(reg), 3);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_load_is_incremental) {
    vt_registry *reg = LOAD(FX("good_a.so"));
    vt_err err = {0};
    ck_assert_int_eq(vt_registry_add_path(reg, FX("good_b.so"), &err), VT_OK);
    ck_assert_int_eq(vt_registry_load(reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_load(reg, &err), VT_OK); /* nothing new: nothing happens */
    ck_assert_uint_eq(vt_registry_plugin_count(reg), 2);
    ck_assert_uint_eq(vt_registry_component_count(reg), 4);
    vt_registry_destroy(reg);
}
END_TEST

START_TEST(test_two_registries_load_the_same_plugin) {
    vt_registry *r1 = LOAD(FX("good_a.so"));
    vt_registry *r2 = LOAD(FX("good_a.so"));
    ck_assert_uint_eq(vt_registry_component_count(r1), 3);
    ck_assert_uint_eq(vt_registry_component_count(r2), 3);
    vt_registry_destroy(r1);
    /* r1 gone, the plugin stays resident: r2's vtables still work */
    const vt_component *b = vt_registry_find(r2, VT_COMPONENT_BENCHMARK, "fx_bench");
    void *self = NULL;
    vt_err err = {0};
    ck_assert_int_eq(b->vt.benchmark.create(NULL, NULL, &self, &err), VT_OK);
    b->vt.benchmark.destroy(self);
    vt_registry_destroy(r2);
}
END_TEST

START_TEST(test_lookup_explains_misses) {
    vt_registry *reg = LOAD(FX("good_a.so"), FX("bad_init_fails.so"));
    const vt_component *c = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_registry_lookup(reg, VT_COMPONENT_HEAD, "fx_head", &c, &err), VT_OK);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(vt_registry_lookup(reg, VT_COMPONENT_HEAD, "fx_haed", &c, &err), VT_ENOTFOUND);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err.msg, "no head plugin 'fx_haed' (did you mean 'fx_head'?)");
    ck_assert_int_eq(vt_registry_lookup(reg, VT_COMPONENT_HEAD, "bad_init_fails", &c, &err), VT_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "was refused: init failed"));
    ck_assert_int_eq(vt_registry_lookup(reg, VT_COMPONENT_DATASET, "zzzzzz", &c, &err), VT_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "see 'visft plugins'"));
    vt_registry_destroy(reg);
}
END_TEST

VT_TEST_MAIN("plugin_loader", test_good_plugins_load_with_their_components,
             test_each_bad_plugin_is_refused_with_its_reason, test_good_plugins_still_load_beside_bad_ones,
             test_duplicate_component_names_both_files, test_later_file_of_same_name_is_shadowed,
             test_unusable_user_path_is_reported_not_fatal, test_path_list_skips_empty_entries,
             test_load_is_incremental, test_two_registries_load_the_same_plugin, test_lookup_explains_misses)
