/* visft configuration: YAML files resolved into one tree, then read through typed accessors or validated
 * against vt_param_spec tables (params.h).
 *
 * Loading a file (vt_cfg_load_file) does, in order, per file:
 *   1. parse with libyaml into a tree of maps (ordered keys), sequences and scalars; every node and every
 *      map key remembers file:line:col (1-based) of where it was written;
 *   2. expand ${VAR} and ${VAR:-default} in scalar values (not in single-quoted ones; $${ is a literal ${);
 *   3. resolve `_base_: path` or `_base_: [a.yaml, b.yaml]` (paths relative to the including file): bases
 *      merged in order, then the file merged over them. Maps merge recursively, anything else replaces;
 *      a map holding `_delete_: true` replaces the inherited map instead (the _delete_ key is dropped).
 * vt_cfg_set then applies `--set a.b[2].c=value` overrides (value parsed as YAML; nodes it creates carry
 * the origin "--set a.b[2].c=value").
 *
 * Scalars are typed per the YAML 1.2 core schema (null/~, true/false, ints incl. 0x/0o, floats incl. 1e-4,
 * .inf, .nan); a quoted scalar is always a string.
 *
 * Every error message starts with the location at fault: "file.yaml:12:5: ..." (or "--set a.b=c: ...").
 * Node pointers belong to their vt_cfg and stay valid until vt_cfg_free or the next vt_cfg_set (which may
 * replace nodes). Paths (vt_cfg_get, --set) are dotted keys with [index]: "stages[0].lr". */
#ifndef VISFT_CONFIG_H
#define VISFT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "visft/error.h"
#include "visft/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_cfg vt_cfg;           /* a loaded configuration (owns every node) */
typedef struct vt_cfg_node vt_cfg_node; /* one map, sequence or scalar inside it */

typedef enum vt_cfg_type {
    VT_CFG_NULL = 0, /* scalar: null, ~, or empty */
    VT_CFG_BOOL,     /* scalar: true/false (True/TRUE/...) */
    VT_CFG_INT,      /* scalar: 12, -3, 0x1f, 0o17 */
    VT_CFG_FLOAT,    /* scalar: 1.5, 1e-4, .inf, -.inf, .nan */
    VT_CFG_STRING,   /* scalar: anything else, or any quoted scalar */
    VT_CFG_MAP,
    VT_CFG_SEQ
} vt_cfg_type;

typedef struct vt_cfg_loc {
    const char *file; /* path as given / resolved, or an origin such as "--set a.b=3" */
    int line, col;    /* 1-based; 0 when the origin has no position (--set values) */
} vt_cfg_loc;

/* ---- loading ---------------------------------------------------------------------------------------- */

/* Loads `path` with its _base_ chain and env interpolation. On failure *out is NULL. */
vt_status vt_cfg_load_file(const char *path, vt_cfg **out, vt_err *err);

/* Flags for vt_cfg_load_string. */
#define VT_CFG_NO_BASE 1u /* `_base_` is an error (no file access at all: fuzzing, untrusted text) */

/* Loads YAML text from memory (need not be NUL-terminated). `name` labels locations and is the file
 * whose directory relative _base_ paths are resolved against (NULL: "<string>", current directory). */
vt_status vt_cfg_load_string(const char *text, size_t len, const char *name, unsigned flags, vt_cfg **out,
                             vt_err *err);

/* Applies one override "a.b[2].c=value". Missing map keys are created; an index past the end of a
 * sequence, or a path through a scalar, is an error naming the override. */
vt_status vt_cfg_set(vt_cfg *cfg, const char *assignment, vt_err *err);

void vt_cfg_free(vt_cfg *cfg);

/* ---- reading ---------------------------------------------------------------------------------------- */

const vt_cfg_node *vt_cfg_root(const vt_cfg *cfg); /* always a map */

/* Node at a path below `node` ("" is node itself); NULL when absent or the path does not fit. */
const vt_cfg_node *vt_cfg_get(const vt_cfg_node *node, const char *path);

vt_cfg_type vt_cfg_typeof(const vt_cfg_node *node);
const char *vt_cfg_type_name(vt_cfg_type type); /* "int", "map", ... */
vt_cfg_loc vt_cfg_where(const vt_cfg_node *node);
const char *vt_cfg_text(const vt_cfg_node *node); /* a scalar's text (after ${} expansion); NULL otherwise */

size_t vt_cfg_len(const vt_cfg_node *node);                             /* entries of a map/seq; 0 else */
const char *vt_cfg_key(const vt_cfg_node *map, size_t i);               /* i-th key (insertion order) */
vt_cfg_loc vt_cfg_key_where(const vt_cfg_node *map, size_t i);          /* where that key was written */
const vt_cfg_node *vt_cfg_item(const vt_cfg_node *node, size_t i);      /* i-th map value or seq item */
const vt_cfg_node *vt_cfg_child(const vt_cfg_node *map, const char *key); /* NULL if absent */

/* "file:line:col" (or the bare origin) and the dotted path of a node ("tasks.det.lr", "" for the root),
 * written into buf; both return buf. For building messages in the caller's own checks. */
const char *vt_cfg_loc_str(const vt_cfg_node *node, char *buf, size_t size);
const char *vt_cfg_path_str(const vt_cfg_node *node, char *buf, size_t size);

/* Typed reads of a scalar. A mismatch is VT_EINVAL with "file:line:col: tasks.det.lr: expected float,
 * got string 'abc'". as_double accepts ints; as_string accepts any non-null scalar (borrowed text). */
vt_status vt_cfg_as_bool(const vt_cfg_node *node, bool *out, vt_err *err);
vt_status vt_cfg_as_int(const vt_cfg_node *node, int64_t *out, vt_err *err);
vt_status vt_cfg_as_double(const vt_cfg_node *node, double *out, vt_err *err);
vt_status vt_cfg_as_string(const vt_cfg_node *node, const char **out, vt_err *err);

/* The same by path below `node`; an absent key is VT_ENOTFOUND naming the path. */
vt_status vt_cfg_get_bool(const vt_cfg_node *node, const char *path, bool *out, vt_err *err);
vt_status vt_cfg_get_int(const vt_cfg_node *node, const char *path, int64_t *out, vt_err *err);
vt_status vt_cfg_get_double(const vt_cfg_node *node, const char *path, double *out, vt_err *err);
vt_status vt_cfg_get_string(const vt_cfg_node *node, const char *path, const char **out, vt_err *err);

/* Structural equality: same shape, same keys in the same order, scalars of the same type and text
 * (all nulls are equal). Locations are ignored. */
bool vt_cfg_equal(const vt_cfg_node *a, const vt_cfg_node *b);

/* ---- schema validation ------------------------------------------------------------------------------ */

typedef struct vt_cfg_validate_opts {
    const char *section;            /* name used in messages (default: the node's path, "top level") */
    const char *const *ignore_keys; /* NULL-terminated keys to skip (e.g. "plugin"); may be NULL */
    bool allow_unknown;             /* keys without a spec are not an error */
} vt_cfg_validate_opts;

/* Validates `map` against `specs` and fills `params` by offset: each spec'd field is written (default
 * from default_value when the key is absent, zero when there is none). Checks unknown keys (with a
 * "did you mean"), types, ranges, enum choices, list element types and required keys. `map` may be NULL
 * or a null scalar (an absent/empty section: defaults only). `opts` may be NULL.
 * VT_PARAM_MAP / VT_PARAM_SEQ fields borrow the sub-tree from the config (not validated here).
 * On failure nothing is left allocated in params. Strings and lists are freed with vt_params_free. */
vt_status vt_cfg_validate(const vt_cfg_node *map, const vt_param_spec *specs, void *params,
                          const vt_cfg_validate_opts *opts, vt_err *err);

/* Frees the strings and lists a successful vt_cfg_validate put in params, and zeroes those fields. */
void vt_params_free(const vt_param_spec *specs, void *params);

/* Closest candidate to `word` by edit distance, or NULL if none is close (for "did you mean"). */
const char *vt_suggest(const char *word, const char *const *candidates, size_t n);

/* ---- output ----------------------------------------------------------------------------------------- */

/* Block-style YAML, keys in order, deterministic; re-loading the text gives a vt_cfg_equal tree. */
vt_status vt_cfg_emit(const vt_cfg_node *node, FILE *f, vt_err *err);
vt_status vt_cfg_emit_string(const vt_cfg_node *node, char **out, vt_err *err); /* *out: free() it */
/* Writes to `path` atomically (temporary file + rename), e.g. RUN_DIR/config.yaml. */
vt_status vt_cfg_write_file(const vt_cfg_node *node, const char *path, vt_err *err);

#ifdef __cplusplus
}
#endif
#endif
