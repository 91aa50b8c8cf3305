/* A collated batch as heads receive it: images plus per-task targets by name.
 *
 * Targets are named tensors so a new task can carry new kinds of targets without an ABI change; each head
 * documents the names it reads (a classifier reads "labels" [B] i64; detection reads "boxes" [N, 4] with
 * "box_image" [N] i64 giving each box's image, and so on). */
#ifndef VISFT_BATCH_H
#define VISFT_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "visft/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_batch {
    size_t struct_size;         /* sizeof(vt_batch) as the host was compiled */
    int64_t size;               /* number of samples */
    struct vt_tensor *images;   /* [B, C, H, W] f32, normalised */
    struct vt_tensor *pad_mask; /* [B, H, W] u8, 1 = padding; NULL when no image is padded */
    vt_named_tensors targets;   /* task targets by name */
    /* Appended (read only when struct_size covers them: VT_BATCH_HAS_CAPTIONS). Captions in sample order;
     * caption_image[i] is the batch index of caption i's image. NULL / 0 when the batch has none. */
    const char *const *captions;
    const int64_t *caption_image;
    size_t n_captions;
} vt_batch;

/* Whether b was built by a host that knows the caption fields. */
#define VT_BATCH_HAS_CAPTIONS(b) ((b)->struct_size >= offsetof(vt_batch, n_captions) + sizeof(size_t))

/* The target called name, or NULL. */
static inline struct vt_tensor *vt_batch_target(const vt_batch *b, const char *name) {
    for (size_t i = 0; b && i < b->targets.n; i++)
        if (strcmp(b->targets.items[i].name, name) == 0) return b->targets.items[i].tensor;
    return NULL;
}

#ifdef __cplusplus
}
#endif
#endif
