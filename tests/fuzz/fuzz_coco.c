/* libFuzzer target for the COCO annotations reader, differential: the fast streaming reader (skip policy,
 * forced into many pieces and tiny read windows) and the DOM-based batch path must agree on every input —
 * both fail, or both succeed with the same images, annotations, categories, captions and skip counts. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/coco_json.h"

static void same(const vt_coco *a, const vt_coco *b) {
    if (a->n_images != b->n_images || a->n_anns != b->n_anns || a->n_cats != b->n_cats || a->n_caps != b->n_caps)
        abort();
    for (int k = 0; k < VT_COCO_BAD_COUNT; k++)
        if (a->n_bad[k] != b->n_bad[k]) abort();
    for (size_t i = 0; i < a->n_anns; i++)
        if (a->anns[i].image != b->anns[i].image || a->anns[i].label != b->anns[i].label) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("coco", 0);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    setenv("VISFT_COCO_PIECE_BYTES", "64", 1);
    setenv("VISFT_COCO_WINDOW_BYTES", "256", 1);
    vt_coco_opts o = {.on_bad = VT_COCO_SKIP};
    vt_coco *fast = NULL, *slow = NULL;
    vt_err e1 = {0}, e2 = {0};
    vt_status s1 = vt_coco_load(path, &o, &fast, &e1);
    setenv("VISFT_COCO_BATCH", "1", 1);
    vt_status s2 = vt_coco_load(path, &o, &slow, &e2);
    unsetenv("VISFT_COCO_BATCH");
    if ((s1 == VT_OK) != (s2 == VT_OK)) abort();
    if (s1 == VT_OK) same(fast, slow);
    vt_coco_free(fast);
    vt_coco_free(slow);
    /* the fail policy must also terminate cleanly */
    vt_coco *strict = NULL;
    o.on_bad = VT_COCO_FAIL;
    if (vt_coco_load(path, &o, &strict, &e1) == VT_OK) vt_coco_free(strict);
    close(fd);
    return 0;
}
