/* Shared by core/train/checkpoint_*.c: file naming, the data checksum and metadata keys. */
#ifndef VISFT_TRAIN_CHECKPOINT_INTERNAL_H
#define VISFT_TRAIN_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "visft/run_checkpoint.h"
#include "visft/safetensors.h"

struct vt_run_ckpt {
    vt_st_file *file;
    vt_run_state state; /* config points into file's metadata */
};

#define VT_RUN_FORMAT "visft-run-checkpoint"
#define VT_RUN_VERSION "1"
#define VT_RUN_PREFIX "step_"
#define VT_RUN_SUFFIX ".safetensors"

/* Parses "step_<N>.safetensors" strictly (digits only, no sign, fits int64); false for anything else. */
static inline bool vt_run_parse_name(const char *name, int64_t *step) {
    size_t lp = strlen(VT_RUN_PREFIX), ls = strlen(VT_RUN_SUFFIX), n = strlen(name);
    if (n <= lp + ls || strncmp(name, VT_RUN_PREFIX, lp) || strcmp(name + n - ls, VT_RUN_SUFFIX)) return false;
    int64_t v = 0;
    for (size_t i = lp; i < n - ls; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (name[i] - '0');
    }
    *step = v;
    return true;
}

/* Order-independent checksum of (name, bytes) pairs: each tensor hashed on its own, the hashes summed, so
 * the writer's layout order does not matter. Catches truncation the header cannot see and flipped bytes. */
static inline uint64_t vt_run_hash_tensor(const char *name, const void *data, size_t nbytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    const unsigned char *b = data;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    for (; i < nbytes; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    h ^= (uint64_t)nbytes * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

#endif
