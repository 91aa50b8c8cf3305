/* Training-run checkpoints: atomic save, keep-last-K and resume over a run directory.
 *
 * Layout: RUN_DIR/checkpoints/step_<N>.safetensors, one file per checkpoint, plus RUN_DIR/checkpoints/latest
 * (one line: the file name of the newest checkpoint). A file holds
 *   weights/<group>/<name>   every tensor of each named weight group, raw (f32 stays f32: bit-exact resume)
 *   optim/<group>/<entry>    every optimizer state tensor (vt_optim_state_at names)
 * and __metadata__ with the scalar state (vt_run_state: step, stage, RNG, loader positions, optimizer step
 * counts, the resolved config text) and a checksum of all tensor data.
 *
 * Atomicity: the safetensors writer writes a temporary, fsyncs it, renames it into place and fsyncs the
 * directory, so a step_<N> file under its final name is always complete; then `latest` is replaced the same
 * way; only then are older checkpoints pruned. A SIGKILL at any point leaves the previous good checkpoint.
 * Loading tries checkpoints newest first: a truncated or corrupt one is skipped with a one-line note and
 * the previous one is used. One process writes a run directory at a time. */
#ifndef VISFT_RUN_CHECKPOINT_H
#define VISFT_RUN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"
#include "visft/loader.h"
#include "visft/nn.h"
#include "visft/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_RUN_MAX_LOADERS 32
#define VT_RUN_NOTE_MAX 1024

/* The scalar part of a checkpoint. */
typedef struct vt_run_state {
    int64_t step;                 /* >= 0; names the file */
    int stage;                    /* index into the config's stages */
    uint64_t rng_seed;            /* vt_ctx_get_seed */
    uint64_t rng_offset;          /* vt_ctx_rng_offset */
    size_t n_loaders;             /* <= VT_RUN_MAX_LOADERS */
    vt_loader_position loaders[VT_RUN_MAX_LOADERS]; /* vt_loader_tell of each loader, in the caller's order */
    const char *config;           /* resolved config (vt_cfg_emit_string); may be NULL on save */
} vt_run_state;

typedef struct vt_run_weights {
    const char *group;            /* non-empty, no '/' (e.g. "backbone", "lora", "head.cls") */
    const vt_tensor_list *list;   /* contiguous CPU tensors */
} vt_run_weights;

typedef struct vt_run_optim {
    const char *group;            /* as above */
    vt_optim *optim;
} vt_run_optim;

/* Test hook: called after each phase of a save (1: checkpoint file in place, 2: latest updated,
 * 3: pruned). Lets tests kill the process at an exact point. */
typedef void (*vt_run_ckpt_hook)(int phase, void *user);

typedef struct vt_run_ckpt_opts {
    int keep_last;                /* K >= 1 checkpoints kept (0 means 3) */
    vt_run_ckpt_hook hook;        /* NULL normally */
    void *hook_user;
} vt_run_ckpt_opts;

/* Writes RUN_DIR/checkpoints/step_<state->step>.safetensors (directories created as needed), points latest
 * at it, and prunes to the newest keep_last checkpoints. Checkpoints with a higher step than this one are
 * from an abandoned timeline (the run resumed from an older one) and are removed too, but only after the new
 * one is complete. */
vt_status vt_run_ckpt_save(const char *run_dir, const vt_run_state *state, const vt_run_weights *weights,
                           size_t n_weights, const vt_run_optim *optims, size_t n_optims,
                           const vt_run_ckpt_opts *opts, vt_err *err);

/* A loaded checkpoint (the file stays mapped until vt_run_ckpt_close). */
typedef struct vt_run_ckpt vt_run_ckpt;

/* Opens the newest valid checkpoint of run_dir. Invalid newer ones (truncated, checksum mismatch, bad
 * metadata) are skipped; note (may be NULL, cap bytes) receives one line per skipped file, empty when none,
 * for the caller to print. VT_ENOTFOUND when the run has no checkpoint; VT_EFORMAT when none is valid. */
vt_status vt_run_ckpt_load_latest(const char *run_dir, vt_run_ckpt **out, char *note, size_t cap, vt_err *err);
/* Opens one checkpoint file, validating it fully. */
vt_status vt_run_ckpt_open(const char *path, vt_run_ckpt **out, vt_err *err);
void vt_run_ckpt_close(vt_run_ckpt *ck);

const char *vt_run_ckpt_path(const vt_run_ckpt *ck);
/* The scalar state; config points into ck (NULL when none was saved). */
const vt_run_state *vt_run_ckpt_state(const vt_run_ckpt *ck);

/* Fills every tensor of list from weights/<group>/ by name. The names must match exactly both ways, with
 * equal dtype and shape; otherwise fails, changing nothing, listing the missing, mis-shaped and unexpected
 * names (first few of each, with counts). */
vt_status vt_run_ckpt_restore_weights(const vt_run_ckpt *ck, const char *group, const vt_tensor_list *list,
                                      vt_err *err);
/* Copies optim/<group>/ into an optimizer over the same parameters (normally fresh) and sets its step count.
 * Fails on an unknown entry or a mismatched shape/dtype (checked before anything is copied) and on state the
 * optimizer has that the checkpoint lacks. */
vt_status vt_run_ckpt_restore_optim(const vt_run_ckpt *ck, const char *group, vt_optim *optim, vt_err *err);

#ifdef __cplusplus
}
#endif
#endif
