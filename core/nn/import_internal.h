/* Shared between the checkpoint importer and exporter: the per-format key rules and name patterns. */
#ifndef VISFT_NN_IMPORT_INTERNAL_H
#define VISFT_NN_IMPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "visft/checkpoint.h"

/* How a file tensor's layout relates to the visft parameter it maps to. */
typedef enum vt_ckpt_xf {
    VT_XF_COPY = 0, /* same shape */
    VT_XF_LEAD1,    /* file [L, D]  <-> visft [1, L, D] */
    VT_XF_LEAD2,    /* file [D]     <-> visft [1, 1, D] */
    VT_XF_T,        /* file [a, b]  <-> visft [b, a] (open_clip proj vs a Linear weight) */
    VT_XF_SLOT0,    /* file is the first third of the visft rows (q of a fused qkv) */
    VT_XF_SLOT1,    /* k */
    VT_XF_SLOT2     /* v */
} vt_ckpt_xf;

/* A key rule: `file` and `visft` are patterns where '#' stands for a block index and a trailing '*' for any
 * remainder; both sides use the same captures. Rules are tried in order; the first match wins. */
typedef struct vt_ckpt_rule {
    const char *file, *visft;
    vt_ckpt_xf xf;
} vt_ckpt_rule;

/* The rule table of a format (never NULL for a concrete format), n set to its length. */
const vt_ckpt_rule *vt_ckpt_rules(vt_ckpt_format f, size_t *n);
/* Parameters a format holds implicitly as zeros when its files lack them (visft-name patterns; NULL-terminated). */
const char *const *vt_ckpt_implicit_zeros(vt_ckpt_format f);

/* Matches name against pattern; on success writes the pattern's translation into out (pattern `to`). */
bool vt_ckpt_translate(const char *pattern, const char *to, const char *name, char *out, size_t cap);
bool vt_ckpt_match(const char *pattern, const char *name);

#endif
