/* The model handle a benchmark plugin evaluates: the backbone under test (before or after ViSFT) with its
 * preprocessing, plus the host services a benchmark needs to build its own data (the plugin registry, so it
 * can open dataset components by name and feed them through vt_pipeline).
 *
 * Grows only at the end (struct_size first), like every struct of the plugin ABI. */
#ifndef VISFT_MODEL_H
#define VISFT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"
#include "visft/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vt_registry;

typedef struct vt_model {
    size_t struct_size;
    const char *name;        /* backbone preset ("tiny", "eva01-g-14", ...) */
    const char *stage;       /* "before" (pretrained) or "after" (after ViSFT), for reports */
    int64_t width;           /* feature-map channels */
    int64_t embed_dim;       /* pooled embedding size (after the projection head, if any) */
    int64_t image_size;      /* input side the backbone expects */
    int64_t patch_size;
    float mean[3], std[3];   /* the backbone's input normalisation */
    /* Pooled embeddings [B, embed_dim] (and, when feature_map is non-NULL, the patch feature map
     * [B, width, H/p, W/p]) of normalised images [B, 3, image_size, image_size], computed without grad.
     * Results belong to ctx's current scope. */
    vt_status (*encode_image)(struct vt_model *m, struct vt_ctx *ctx, struct vt_tensor *images,
                              struct vt_tensor **pooled, struct vt_tensor **feature_map, vt_err *err);
    /* Text embeddings [N, embed_dim] of token ids [N, context] when the backbone has a text tower; NULL
     * otherwise (zero-shot benchmarks then refuse with a clear message). */
    vt_status (*encode_text)(struct vt_model *m, struct vt_ctx *ctx, struct vt_tensor *tokens,
                             struct vt_tensor **embeds, vt_err *err);
    struct vt_registry *registry; /* the host's plugins: datasets a benchmark names are opened from here */
    void *impl;                   /* the host's */
    /* Added after 0.1: check struct_size >= offsetof(vt_model, predict) + sizeof predict before use.
     * Runs the backbone (no grad, eval mode) and the head of the experiment task named `task` on the batch:
     * that head's predict outputs (a detection head: "boxes" [K, 4] xywh pixels, "scores", "labels",
     * "box_image"). Results belong to ctx's current scope; an unknown task is an error naming the tasks. */
    vt_status (*predict)(struct vt_model *m, struct vt_ctx *ctx, const char *task, const struct vt_batch *batch,
                         vt_named_tensors *outputs, vt_err *err);
} vt_model;

#ifdef __cplusplus
}
#endif
#endif
