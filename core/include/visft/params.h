/* Typed parameter specs: how a component (head, dataset, benchmark, or a core config section) describes
 * the parameters it accepts, so the host can validate YAML against it, fill the component's params struct
 * by offset, and print help (`visft plugins describe`). Modelled on GStreamer's GParamSpec, without the
 * property-id switches: each spec names an offset into a plain C struct.
 *
 * Storage of each type inside the params struct:
 *   VT_PARAM_BOOL   -> bool
 *   VT_PARAM_INT    -> int64_t
 *   VT_PARAM_FLOAT  -> double
 *   VT_PARAM_STRING -> char *            (owned by the params struct; freed by vt_params_free)
 *   VT_PARAM_ENUM   -> char *            (one of `choices`; same ownership)
 *   VT_PARAM_LIST   -> vt_param_list     (elements typed by `elem_type`: INT, FLOAT or STRING)
 *   VT_PARAM_MAP    -> const struct vt_cfg_node *  (a sub-tree handed over unvalidated; borrowed from the
 *                                         config, valid while the config lives)
 *   VT_PARAM_SEQ    -> const struct vt_cfg_node *  (a sequence, borrowed the same way; with elem_type
 *                                         VT_PARAM_MAP every item must be a map, e.g. `stages:`)
 */
#ifndef VISFT_PARAMS_H
#define VISFT_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_param_type {
    VT_PARAM_BOOL = 0,
    VT_PARAM_INT,
    VT_PARAM_FLOAT,
    VT_PARAM_STRING,
    VT_PARAM_ENUM,
    VT_PARAM_LIST,
    VT_PARAM_MAP,
    VT_PARAM_SEQ
} vt_param_type;

typedef struct vt_param_list {
    size_t n;
    union {
        int64_t *i;
        double *f;
        char **s;
    } v;
} vt_param_list;

typedef struct vt_param_spec {
    const char *name;          /* key in YAML */
    vt_param_type type;
    size_t offset;             /* offsetof(params struct, field) */
    const char *default_value; /* YAML text ("0.1", "[1, 2]", "adamw"); NULL: no default */
    double min, max;           /* inclusive range for INT/FLOAT (and list elements); unused if min > max */
    const char *const *choices;/* ENUM: NULL-terminated list of allowed values */
    vt_param_type elem_type;   /* LIST: INT, FLOAT or STRING */
    bool required;             /* must appear in the config (default ignored) */
    const char *help;          /* one line */
} vt_param_spec;

/* A spec list ends with an entry whose name is NULL. */
#define VT_PARAM_END {0}

/* Convenience initialisers for spec tables. */
#define VT_PARAM_RANGE_NONE 1.0, 0.0

#ifdef __cplusplus
}
#endif
#endif
