/* End-to-end check of the built plugin through the host's own path: load it with the registry, fill its
 * params from YAML, create the head, then train it for a few steps on separable features and check that the
 * loss starts at ln(classes) (zero weights), falls, and that predict gets the labels right.
 * Usage: probe_selftest PLUGIN_DIR. Exit 0 when all hold. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <visft/visft.h>

#define CHECK(cond, ...)                                                                                      \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            fprintf(stderr, "probe_selftest: " __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                                            \
            return 1;                                                                                         \
        }                                                                                                     \
    } while (0)

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: probe_selftest PLUGIN_DIR");
    vt_err err = {0};
    vt_registry *reg = NULL;
    CHECK(vt_registry_create(&reg, &err) == VT_OK && vt_registry_add_path(reg, argv[1], &err) == VT_OK &&
              vt_registry_load(reg, &err) == VT_OK,
          "%s", err.msg);
    const vt_component *comp = NULL;
    CHECK(vt_registry_lookup(reg, VT_COMPONENT_HEAD, "probe_template", &comp, &err) == VT_OK, "%s", err.msg);

    const char *yaml = "num_classes: 3\ninit_std: 0.0\n";
    vt_cfg *cfg = NULL;
    CHECK(vt_cfg_load_string(yaml, strlen(yaml), "selftest.yaml", 0, &cfg, &err) == VT_OK, "%s", err.msg);
    void *params = NULL;
    CHECK(vt_component_params_new(comp, vt_cfg_root(cfg), NULL, &params, &err) == VT_OK, "%s", err.msg);

    vt_ctx *c = vt_ctx_create(&(vt_ctx_options){.threads = 1, .seed = 1});
    vt_backbone_info bb = {.struct_size = sizeof bb, .width = 4, .patch_size = 16, .feature_stride = 16};
    void *head = NULL;
    CHECK(comp->vt.head.create(c, params, &bb, NULL, &head, &err) == VT_OK, "%s", err.msg);
    vt_named_tensors ps;
    CHECK(comp->vt.head.parameters(head, &ps, &err) == VT_OK && ps.n == 2, "parameters: %s", err.msg);

    /* class k lights up channel k of a [6, 4, 2, 2] feature map */
    float feats[6 * 4 * 4] = {0};
    int64_t labels[6] = {0, 1, 2, 0, 1, 2};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) feats[(i * 4 + (int)labels[i]) * 4 + j] = 1.0f;
    vt_tensor *x = vt_from_f32(c, VT_SHAPE(6, 4, 2, 2), feats);
    vt_tensor *y = vt_from_i64(c, VT_SHAPE(6), labels);
    vt_named_tensor target = {"labels", y, 0};
    vt_batch batch = {.struct_size = sizeof batch, .size = 6, .targets = {&target, 1}};

    double first = 0, last = 0;
    for (int step = 0; step < 30; step++) {
        vt_scope_push(c);
        vt_tensor *loss = NULL;
        vt_named_tensors terms;
        CHECK(comp->vt.head.loss(head, c, x, &batch, &loss, &terms, &err) == VT_OK, "loss: %s", err.msg);
        if (step == 0) first = vt_item(loss);
        last = vt_item(loss);
        CHECK(vt_backward(c, loss) == VT_OK, "backward: %s", vt_ctx_error(c)->msg);
        for (size_t i = 0; i < ps.n; i++) { /* plain SGD, lr 1 */
            float *p = vt_f32(ps.items[i].tensor), *g = vt_f32(ps.items[i].tensor->grad);
            for (int64_t k = 0; k < vt_numel(ps.items[i].tensor); k++) p[k] -= g[k];
            vt_zero_grad(ps.items[i].tensor);
        }
        vt_scope_pop(c);
    }
    CHECK(fabs(first - log(3.0)) < 1e-5, "initial loss %.6f, want ln 3 = %.6f", first, log(3.0));
    CHECK(last < 0.2 * first, "loss did not fall: %.4f -> %.4f", first, last);
    vt_named_tensors out;
    CHECK(comp->vt.head.predict(head, c, x, &batch, &out, &err) == VT_OK, "predict: %s", err.msg);
    const vt_tensor *pred = out.items[1].tensor;
    for (int i = 0; i < 6; i++) CHECK(vt_i64(pred)[i] == labels[i], "sample %d predicted %lld", i, (long long)vt_i64(pred)[i]);

    comp->vt.head.destroy(head);
    vt_component_params_free(comp, params);
    vt_cfg_free(cfg);
    vt_ctx_destroy(c);
    vt_registry_destroy(reg);
    printf("probe_selftest: loss %.4f -> %.4f, predictions correct\n", first, last);
    return 0;
}
