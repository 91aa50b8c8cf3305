/* PEFT round trip: visft runs a small timm ViT with a q/v LoRA, exports the adapter in PEFT's format, and
 * peft's PeftModel.from_pretrained applies it to timm's VisionTransformer (tests/ref/peft_roundtrip.py):
 * the logits must match. Skips with one line when the reference venv or peft is missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "golden.h"
#include "visft/checkpoint.h"
#include "vt_test.h"

#define WEIGHTS VISFT_GOLDEN_DIR "/checkpoint_peft.safetensors"

START_TEST(test_peft_loads_visft_adapter_with_same_outputs) {
    const char *py = getenv("VISFT_REF_PYTHON");
    if (!py) py = VISFT_SOURCE_DIR "/.venv-ref/bin/python";
    if (access(py, X_OK) != 0) {
        printf("SKIP test_peft_loads_visft_adapter_with_same_outputs: no reference python at %s\n", py);
        return;
    }
    vt_ctx *c = vt_test_ctx();
    vt_err err = {0};
    vt_vit_config cfg = vt_vit_config_small16();
    cfg.image_size = 32, cfg.patch_size = 8, cfg.width = 32, cfg.depth = 2, cfg.heads = 2, cfg.mlp_hidden = 64;
    cfg.num_classes = 10;
    vt_vit *m = vt_vit_create(c, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    const char *const skip[] = {"lora.", "images", NULL};
    vt_ckpt_load_opts o = {.format = VT_CKPT_TIMM, .ignore = skip};
    ck_assert_msg(vt_ckpt_load(c, &m->params, WEIGHTS, &o, NULL, &err) == VT_OK, "%s", err.msg);
    vt_tensor_list lp, renamed;
    vt_tensor_list_init(&lp);
    vt_tensor_list_init(&renamed);
    vt_lora_config lc = {.rank = 4, .alpha = 8.0, .n_slices = 3, .mask = 0x5};
    ck_assert_int_eq(vt_vit_add_lora(c, m, &lc, &lp, &err), VT_OK);
    for (size_t i = 0; i < lp.n; i++) vt_tensor_list_add(&renamed, lp.items[i].tensor, "lora.%s", lp.items[i].name);
    ck_assert_msg(vt_tensor_list_load(c, &renamed, WEIGHTS, true, NULL, &err) == VT_OK, "%s", err.msg);

    vt_golden *g = vt_golden_open("checkpoint_peft.safetensors");
    vt_tensor *images = vt_golden_get(c, g, "images");
    vt_vit_output out;
    ck_assert_int_eq(vt_vit_forward(c, m, images, &out), VT_OK);

    char dir[512], lora[600], logits[600], cmd[2400];
    snprintf(dir, sizeof dir, "%s/tests/peft_rt_%d", VISFT_BUILD_DIR, (int)getpid());
    snprintf(lora, sizeof lora, "%s.lora.safetensors", dir);
    snprintf(logits, sizeof logits, "%s.logits.safetensors", dir);
    ck_assert_int_eq(vt_tensor_list_save(&lp, lora, &err), VT_OK);
    ck_assert_msg(vt_peft_export(lora, 8.0, "timm-vit-tiny", dir, NULL, &err) == VT_OK, "%s", err.msg);
    vt_st_writer *w = vt_st_writer_new();
    ck_assert_int_eq(vt_st_writer_add(w, "logits", VT_F32, out.logits->ndim, out.logits->shape, vt_f32(out.logits), &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_save(w, logits, &err), VT_OK);
    vt_st_writer_free(w);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/ref/peft_roundtrip.py' check '%s' '%s' '%s'", py, VISFT_SOURCE_DIR,
             WEIGHTS, dir, logits);
    int rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", dir, lora, logits);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    ck_assert_msg(rc == 0 || rc == 77, "peft round trip failed (exit %d)", rc);
    vt_golden_close(g);
    vt_tensor_list_free(&renamed);
    vt_tensor_list_free(&lp);
    vt_vit_destroy(m);
    vt_ctx_destroy(c);
}
END_TEST

VT_TEST_MAIN("checkpoint_peft", test_peft_loads_visft_adapter_with_same_outputs)
