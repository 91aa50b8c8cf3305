/* The visft plugin ABI: what a shared object must export to add heads, datasets and benchmarks.
 *
 * A plugin .so exports exactly one data symbol, `visft_plugin_descriptor` (write it with
 * VISFT_PLUGIN_DEFINE). The host dlopens the file, checks the descriptor's ABI version and size, then calls
 * its init with a registrar; init registers any number of components. Each component has a kind, a name,
 * a typed parameter spec (params.h) describing the params struct the host fills from YAML, and a vtable.
 *
 * Compatibility (see docs/plugin-abi.md):
 *   - the host accepts a plugin whose abi_major equals its own and whose abi_minor is <= its own;
 *   - every struct below that crosses the boundary starts with its own size (`struct_size`), and fields are
 *     only ever appended, each append bumping VT_PLUGIN_ABI_MINOR; a host reads a field only when the
 *     plugin's struct_size covers it, so slots a plugin does not know about read as NULL/0;
 *   - removing or reordering a field, or changing a signature, bumps VT_PLUGIN_ABI_MAJOR.
 * A plugin is never unloaded while the process runs, so pointers it hands over (names, help strings,
 * spec tables, vtables) may point into its static data.
 *
 * Types the ABI names but other parts of visft define (tensors, contexts, batches, samples, models) are
 * forward-declared here; a plugin includes their headers when it uses them. */
#ifndef VISFT_PLUGIN_H
#define VISFT_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"
#include "visft/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_PLUGIN_ABI_MAJOR 1
#define VT_PLUGIN_ABI_MINOR 0

/* The name of the exported descriptor symbol. */
#define VT_PLUGIN_ENTRY_SYMBOL "visft_plugin_descriptor"

struct vt_tensor;  /* visft/tensor.h */
struct vt_ctx;     /* visft/context.h: allocator, scopes, autograd mode, RNG of one thread */
struct vt_batch;   /* a collated batch of samples (data loader) */
struct vt_sample;  /* one image + its targets (data loader) */
struct vt_model;   /* a backbone (optionally with LoRA / heads) a benchmark evaluates */
struct vt_cfg_node;/* visft/config.h */

typedef enum vt_component_kind {
    VT_COMPONENT_HEAD = 1,      /* a task head trained on the backbone's feature map */
    VT_COMPONENT_DATASET = 2,   /* a dataset reader */
    VT_COMPONENT_BENCHMARK = 3  /* an out-of-domain evaluation */
} vt_component_kind;

/* ---- what the host hands to components ------------------------------------------------------------ */

typedef enum vt_log_level { VT_LOG_DEBUG = 0, VT_LOG_INFO, VT_LOG_WARN, VT_LOG_ERROR } vt_log_level;

/* Host services and run-wide facts. Valid for the lifetime of the component instance it was given to. */
typedef struct vt_host {
    size_t struct_size;
    const char *run_dir;   /* where artifacts go (may be NULL: nothing is written) */
    void *host_data;       /* opaque, for the host's callbacks */
    /* Logs one line attributed to the calling component; may be NULL (then stay silent). */
    void (*log)(const struct vt_host *host, vt_log_level level, const char *msg);
} vt_host;

/* The backbone a head is attached to. */
typedef struct vt_backbone_info {
    size_t struct_size;
    int64_t width;          /* channels of the feature map (embedding dim) */
    int64_t patch_size;     /* pixels per patch side */
    int64_t feature_stride; /* pixels per feature-map cell side (== patch_size for a plain ViT) */
    int64_t image_size;     /* input side length the backbone was configured for */
    int64_t prefix_tokens;  /* tokens before the patch grid (class token: 1; none: 0) */
    const char *device;     /* "cpu", "cuda:0", ... */
} vt_backbone_info;

/* A named tensor: parameters for the optimizer and checkpoint, loss terms, prediction outputs. */
#define VT_TENSOR_TRAINABLE 1u /* the optimizer updates it (otherwise: a buffer, only checkpointed) */

typedef struct vt_named_tensor {
    const char *name;          /* parameters: checkpoint key below the head's prefix ("fc.weight") */
    struct vt_tensor *tensor;
    uint32_t flags;            /* VT_TENSOR_* */
} vt_named_tensor;

/* An array of named tensors owned by the component; valid until the next call on the same instance
 * (parameters: until destroy). */
typedef struct vt_named_tensors {
    const vt_named_tensor *items;
    size_t n;
} vt_named_tensors;

/* ---- component vtables ------------------------------------------------------------------------------
 * Every slot listed for ABI 1.0 is required unless its comment says "optional". `self` is what create/open
 * returned. Fallible calls return VT_OK or a failure status and fill err with one line. */

typedef struct vt_head_vtable {
    size_t struct_size; /* sizeof(vt_head_vtable) as the plugin was compiled */
    /* params: the component's params struct, filled and validated by the host from YAML; it stays valid
     * until destroy. ctx: the context parameters are created in. */
    vt_status (*create)(struct vt_ctx *ctx, const void *params, const vt_backbone_info *backbone,
                        const vt_host *host, void **out, vt_err *err);
    void (*destroy)(void *self);
    /* Every tensor the head owns, trainable ones flagged; names are stable (checkpoint keys). */
    vt_status (*parameters)(void *self, vt_named_tensors *out, vt_err *err);
    /* features: the backbone's last-layer feature map. total: the scalar loss to backpropagate; terms: its
     * named parts for logging (may be empty). */
    vt_status (*loss)(void *self, struct vt_ctx *ctx, struct vt_tensor *features, const struct vt_batch *batch,
                      struct vt_tensor **total, vt_named_tensors *terms, vt_err *err);
    /* Task outputs by name ("boxes", "scores", "labels", "tokens", ...); the matching benchmark knows them. */
    vt_status (*predict)(void *self, struct vt_ctx *ctx, struct vt_tensor *features,
                         const struct vt_batch *batch, vt_named_tensors *outputs, vt_err *err);
} vt_head_vtable;

typedef struct vt_dataset_vtable {
    size_t struct_size;
    /* split: "train", "val", "test" or a dataset-specific name. */
    vt_status (*open)(const void *params, const char *split, const vt_host *host, void **out, vt_err *err);
    void (*close)(void *self);
    size_t (*length)(void *self);
    /* Fills *out with sample `index` (< length). May be called concurrently from several loader threads
     * on one instance, each with its own `out`. */
    vt_status (*sample)(void *self, size_t index, struct vt_sample *out, vt_err *err);
} vt_dataset_vtable;

typedef struct vt_metric {
    const char *name;  /* "top1", "recall@5", ... */
    double value;
} vt_metric;

typedef struct vt_artifact {
    const char *name;  /* "predictions" */
    const char *path;  /* a file the benchmark wrote (under host->run_dir) */
} vt_artifact;

/* Owned by the benchmark instance; valid until its next run or destroy. */
typedef struct vt_bench_result {
    const vt_metric *metrics;
    size_t n_metrics;
    const vt_artifact *artifacts;
    size_t n_artifacts;
} vt_bench_result;

typedef struct vt_benchmark_vtable {
    size_t struct_size;
    vt_status (*create)(const void *params, const vt_host *host, void **out, vt_err *err);
    void (*destroy)(void *self);
    vt_status (*run)(void *self, struct vt_ctx *ctx, struct vt_model *model, vt_bench_result *out,
                     vt_err *err);
} vt_benchmark_vtable;

/* Sizes of the ABI 1.0 layouts: the least struct_size a host accepts. Appending a field adds a
 * VT_..._SIZE_1_<minor> beside these; these never change. */
#define VT_END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define VT_HEAD_VTABLE_SIZE_1_0 VT_END_OF(vt_head_vtable, predict)
#define VT_DATASET_VTABLE_SIZE_1_0 VT_END_OF(vt_dataset_vtable, sample)
#define VT_BENCHMARK_VTABLE_SIZE_1_0 VT_END_OF(vt_benchmark_vtable, run)

/* ---- registration ----------------------------------------------------------------------------------- */

typedef struct vt_component_info {
    size_t struct_size;
    vt_component_kind kind;
    const char *name;            /* unique per kind across all loaded plugins; [A-Za-z0-9_.-]+ */
    const char *description;     /* one line (may be NULL) */
    const vt_param_spec *params; /* ends with VT_PARAM_END; NULL: no parameters */
    size_t param_spec_size;      /* sizeof(vt_param_spec) as compiled (the host walks the table by it) */
    size_t params_size;          /* sizeof the params struct the specs' offsets point into */
    const void *vtable;          /* vt_head_vtable / vt_dataset_vtable / vt_benchmark_vtable per kind */
} vt_component_info;
#define VT_COMPONENT_INFO_SIZE_1_0 VT_END_OF(vt_component_info, vtable)

/* Passed to init. add_component checks the component (name, vtable size and slots, spec table against
 * params_size) and copies what it needs; a failure refuses the whole plugin even if init ignores it. */
typedef struct vt_registrar {
    size_t struct_size;
    uint32_t host_abi_major, host_abi_minor;
    void *host_data;
    vt_status (*add_component)(struct vt_registrar *self, const vt_component_info *info, vt_err *err);
} vt_registrar;

typedef struct vt_plugin_descriptor {
    /* Fixed header: these three never move, whatever the ABI version. */
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t struct_size;
    const char *name;        /* required; unique among loaded plugins */
    const char *version;     /* required; the plugin's own version ("1.2.0") */
    const char *description; /* one line; may be NULL */
    const char *license;     /* SPDX id ("MIT", "Apache-2.0"); may be NULL */
    /* required. Registers components; on failure returns a status and fills err (shown to the user). */
    vt_status (*init)(vt_registrar *reg, vt_err *err);
} vt_plugin_descriptor;
#define VT_PLUGIN_DESCRIPTOR_SIZE_1_0 VT_END_OF(vt_plugin_descriptor, init)

/* ---- helpers for plugin authors -------------------------------------------------------------------- */

#if defined(__GNUC__) || defined(__clang__)
#define VT_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define VT_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
#define VT_PLUGIN_EXTERN_C extern "C"
#else
#define VT_PLUGIN_EXTERN_C
#endif

/* Defines the descriptor: VISFT_PLUGIN_DEFINE("myplugin", "0.1.0", "what it adds", "MIT", my_init); */
#define VISFT_PLUGIN_DEFINE(name_, version_, description_, license_, init_)                                \
    VT_PLUGIN_EXTERN_C VT_PLUGIN_EXPORT const vt_plugin_descriptor visft_plugin_descriptor = {             \
        VT_PLUGIN_ABI_MAJOR, VT_PLUGIN_ABI_MINOR, (uint32_t)sizeof(vt_plugin_descriptor),                  \
        (name_), (version_), (description_), (license_), (init_)}

/* Registers one component; sizes are filled from the types this plugin was compiled with. */
static inline vt_status vt_register_component(vt_registrar *reg, vt_component_kind kind, const char *name,
                                              const char *description, const vt_param_spec *params,
                                              size_t params_size, const void *vtable, vt_err *err) {
    vt_component_info info;
    info.struct_size = sizeof info;
    info.kind = kind;
    info.name = name;
    info.description = description;
    info.params = params;
    info.param_spec_size = sizeof(vt_param_spec);
    info.params_size = params_size;
    info.vtable = vtable;
    return reg->add_component(reg, &info, err);
}

static inline vt_status vt_register_head(vt_registrar *reg, const char *name, const char *description,
                                         const vt_param_spec *params, size_t params_size,
                                         const vt_head_vtable *vtable, vt_err *err) {
    return vt_register_component(reg, VT_COMPONENT_HEAD, name, description, params, params_size, vtable, err);
}

static inline vt_status vt_register_dataset(vt_registrar *reg, const char *name, const char *description,
                                            const vt_param_spec *params, size_t params_size,
                                            const vt_dataset_vtable *vtable, vt_err *err) {
    return vt_register_component(reg, VT_COMPONENT_DATASET, name, description, params, params_size, vtable,
                                 err);
}

static inline vt_status vt_register_benchmark(vt_registrar *reg, const char *name, const char *description,
                                              const vt_param_spec *params, size_t params_size,
                                              const vt_benchmark_vtable *vtable, vt_err *err) {
    return vt_register_component(reg, VT_COMPONENT_BENCHMARK, name, description, params, params_size, vtable,
                                 err);
}

#ifdef __cplusplus
}
#endif
#endif
