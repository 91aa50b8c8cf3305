/* Private layout of the config tree, shared by the files of core/config/.
 *
 * Nodes are individually allocated and owned by their parent; the root is owned by the vt_cfg. Location
 * strings (file names, "--set ..." origins) are interned in the vt_cfg's pool so nodes can move between
 * trees (base merging, overrides) without copying them. Parent pointers are only used for messages and
 * are recomputed by vt__cfg_relink after every structural change. */
#ifndef VISFT_CFG_INTERNAL_H
#define VISFT_CFG_INTERNAL_H

#include "visft/config.h"

/* Limits that keep hostile input cheap: nesting (the tree code recurses), node count (alias bombs),
 * file size, length of one _base_ chain. */
#define VT_CFG_MAX_DEPTH 100
#define VT_CFG_MAX_NODES 200000
#define VT_CFG_MAX_FILE_BYTES (16u << 20)
#define VT_CFG_MAX_BASE_DEPTH 32
#define VT_CFG_MAX_SCALAR_BYTES (1u << 20)

typedef enum vt_cfg_style {
    VT_STYLE_PLAIN = 0, /* typed by the core schema */
    VT_STYLE_SQUOTE,    /* 'text': string, no ${} expansion */
    VT_STYLE_QUOTED     /* "text", block scalars, !!str: string */
} vt_cfg_style;

typedef struct vt_cfg_entry {
    char *key;
    vt_cfg_loc key_loc;
    vt_cfg_node *val;
} vt_cfg_entry;

struct vt_cfg_node {
    vt_cfg_type type;
    vt_cfg_loc loc;
    vt_cfg_node *parent;
    char *text; /* scalars */
    vt_cfg_style style;
    size_t n, cap;
    vt_cfg_entry *ents;   /* maps */
    vt_cfg_node **items;  /* sequences */
};

typedef struct vt_cfg_str {
    struct vt_cfg_str *next;
    char s[];
} vt_cfg_str;

typedef struct vt_cfg_pool {
    vt_cfg_str *head;
} vt_cfg_pool;

struct vt_cfg {
    vt_cfg_node *root;
    vt_cfg_pool pool;
};

/* pool of interned strings */
const char *vt__pool_intern(vt_cfg_pool *pool, const char *s);
void vt__pool_free(vt_cfg_pool *pool);

/* nodes */
vt_cfg_node *vt__node_new(vt_cfg_type type, vt_cfg_loc loc);
vt_cfg_node *vt__scalar_new(const char *text, size_t len, vt_cfg_style style, vt_cfg_loc loc);
void vt__node_free(vt_cfg_node *n);
vt_cfg_node *vt__node_copy(const vt_cfg_node *n); /* NULL on ENOMEM */
size_t vt__node_count(const vt_cfg_node *n);
size_t vt__node_height(const vt_cfg_node *n);
bool vt__map_put(vt_cfg_node *map, char *key, vt_cfg_loc key_loc, vt_cfg_node *val); /* takes key+val */
bool vt__seq_push(vt_cfg_node *seq, vt_cfg_node *item);
vt_cfg_entry *vt__map_find(const vt_cfg_node *map, const char *key);
void vt__map_remove(vt_cfg_node *map, size_t i); /* frees key and value */
void vt__relink(vt_cfg_node *n, vt_cfg_node *parent);
void vt__scalar_retype(vt_cfg_node *n);           /* after its text changed */
vt_cfg_type vt__resolve_plain(const char *text);   /* YAML 1.2 core schema */
void vt__set_loc(vt_cfg_node *n, vt_cfg_loc loc);  /* whole subtree, keys included */

/* "file:line:col" or the bare origin when line == 0 */
const char *vt__loc_fmt(vt_cfg_loc loc, char *buf, size_t size);

/* Typed scalar reads naming `what` (a dotted path) in their messages. */
vt_status vt__as_bool(const vt_cfg_node *n, const char *what, bool *out, vt_err *err);
vt_status vt__as_int(const vt_cfg_node *n, const char *what, int64_t *out, vt_err *err);
vt_status vt__as_double(const vt_cfg_node *n, const char *what, double *out, vt_err *err);
vt_status vt__as_string(const vt_cfg_node *n, const char *what, const char **out, vt_err *err);

/* libyaml -> tree. `file` must be interned (outlives the tree). With positions false, nodes get line 0
 * and messages name only `file` (used for --set values and spec defaults). */
vt_status vt__parse_yaml(const char *text, size_t len, const char *file, bool positions, vt_cfg_node **out,
                         vt_err *err);

#endif
