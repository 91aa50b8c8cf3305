/* Paths ("tasks.det.lr", "stages[1].lr") for lookups, and `--set path=value` overrides.
 *
 * An override value is parsed as a YAML document of its own, so `x=[1,2]` is a list, `x=3` an int and
 * `x="3"` a string; its nodes carry the override text as their origin so later errors point at it. */
#include "cfg_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg {
    bool is_index;
    const char *key; /* not NUL-terminated */
    size_t klen;
    size_t index;
    size_t end; /* offset just past this segment in the path text */
} seg;

#define MAX_SEGS 64

/* Splits path[0..len) into segments. A path may start with [i] (lookups below a sequence). */
static bool parse_path(const char *path, size_t len, seg *segs, size_t *n, char *why, size_t whysz) {
    size_t i = 0;
    *n = 0;
    if (len == 0) {
        snprintf(why, whysz, "empty path");
        return false;
    }
    for (;;) {
        if (*n == MAX_SEGS) {
            snprintf(why, whysz, "more than %d path segments", MAX_SEGS);
            return false;
        }
        if (!(i == 0 && path[i] == '[')) {
            size_t start = i;
            while (i < len && !strchr(".[]=", path[i])) i++;
            if (i == start) {
                snprintf(why, whysz, "empty key at offset %zu", start);
                return false;
            }
            segs[(*n)++] = (seg){false, path + start, i - start, 0, i};
        }
        while (i < len && path[i] == '[') {
            size_t start = ++i, v = 0;
            while (i < len && path[i] >= '0' && path[i] <= '9' && v <= 100000000) v = v * 10 + (size_t)(path[i++] - '0');
            if (i == start || i >= len || path[i] != ']' || v > 100000000) {
                snprintf(why, whysz, "bad index at offset %zu (expected [N] with N >= 0)", start - 1);
                return false;
            }
            i++;
            if (*n == MAX_SEGS) {
                snprintf(why, whysz, "more than %d path segments", MAX_SEGS);
                return false;
            }
            segs[(*n)++] = (seg){true, NULL, 0, v, i};
        }
        if (i == len) return true;
        if (path[i] != '.') {
            snprintf(why, whysz, "unexpected '%c' at offset %zu", path[i], i);
            return false;
        }
        i++;
    }
}

static vt_cfg_entry *find_n(const vt_cfg_node *map, const char *key, size_t klen) {
    for (size_t i = 0; i < map->n; i++)
        if (strlen(map->ents[i].key) == klen && !memcmp(map->ents[i].key, key, klen)) return &map->ents[i];
    return NULL;
}

const vt_cfg_node *vt_cfg_get(const vt_cfg_node *node, const char *path) {
    if (!node || !path) return NULL;
    if (!*path) return node;
    seg segs[MAX_SEGS];
    size_t n;
    char why[8];
    if (!parse_path(path, strlen(path), segs, &n, why, sizeof why)) return NULL;
    for (size_t i = 0; i < n && node; i++) {
        if (segs[i].is_index) {
            node = node->type == VT_CFG_SEQ && segs[i].index < node->n ? node->items[segs[i].index] : NULL;
        } else {
            vt_cfg_entry *e = node->type == VT_CFG_MAP ? find_n(node, segs[i].key, segs[i].klen) : NULL;
            node = e ? e->val : NULL;
        }
    }
    return node;
}

static vt_status set_fail(vt_err *err, const char *origin, const vt_cfg_node *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "--set a.b=1: <what> (defined at file:line:col)" */
static vt_status set_fail(vt_err *err, const char *origin, const vt_cfg_node *at, const char *fmt, ...) {
    char what[VT_ERR_MSG_MAX / 2], where[VT_ERR_MSG_MAX / 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (at)
        return vt_err_set(err, VT_EINVAL, "%.200s: %s (defined at %s)", origin, what,
                          vt_cfg_loc_str(at, where, sizeof where));
    return vt_err_set(err, VT_EINVAL, "%.200s: %s", origin, what);
}

/* _base_ and _delete_ act while files load; in an override they would act again when the written
 * config is re-loaded, so they are refused. */
static bool is_reserved(const char *key, size_t len) {
    return (len == 6 && !memcmp(key, "_base_", 6)) || (len == 8 && !memcmp(key, "_delete_", 8));
}

static const char *find_reserved(const vt_cfg_node *n) {
    for (size_t i = 0; i < vt_cfg_len(n); i++) {
        const char *k = vt_cfg_key(n, i);
        if (k && is_reserved(k, strlen(k))) return k;
        const char *r = find_reserved(vt_cfg_item(n, i));
        if (r) return r;
    }
    return NULL;
}

static const char *a_type(vt_cfg_type t) {
    switch (t) {
    case VT_CFG_NULL: return "null";
    case VT_CFG_BOOL: return "a bool";
    case VT_CFG_INT: return "an int";
    case VT_CFG_FLOAT: return "a float";
    case VT_CFG_STRING: return "a string";
    case VT_CFG_MAP: return "a map";
    case VT_CFG_SEQ: return "a list";
    }
    return "a value";
}

vt_status vt_cfg_set(vt_cfg *cfg, const char *assignment, vt_err *err) {
    if (!cfg || !cfg->root || !assignment) return vt_err_set(err, VT_EINVAL, "vt_cfg_set: NULL argument");
    const char *eq = strchr(assignment, '=');
    if (!eq) return vt_err_set(err, VT_EINVAL, "--set %.200s: expected key=value", assignment);
    size_t olen = strlen(assignment) + 7;
    char *otext = malloc(olen);
    if (!otext) return vt_err_set(err, VT_ENOMEM, "--set: out of memory");
    snprintf(otext, olen, "--set %s", assignment);
    const char *origin = vt__pool_intern(&cfg->pool, otext);
    free(otext);
    if (!origin) return vt_err_set(err, VT_ENOMEM, "--set: out of memory");

    const char *path = assignment;
    size_t plen = (size_t)(eq - assignment);
    while (plen && (*path == ' ' || *path == '\t')) path++, plen--;
    while (plen && (path[plen - 1] == ' ' || path[plen - 1] == '\t')) plen--;
    seg segs[MAX_SEGS];
    size_t n;
    char why[128];
    if (!parse_path(path, plen, segs, &n, why, sizeof why))
        return vt_err_set(err, VT_EINVAL, "%.200s: bad key path: %s", origin, why);

    for (size_t i = 0; i < n; i++)
        if (!segs[i].is_index && is_reserved(segs[i].key, segs[i].klen))
            return vt_err_set(err, VT_EINVAL, "%.200s: '%.*s' can only be used inside config files", origin,
                              (int)segs[i].klen, segs[i].key);

    vt_cfg_node *value;
    vt_status st = vt__parse_yaml(eq + 1, strlen(eq + 1), origin, false, &value, err);
    if (st) return st;
    const char *reserved = find_reserved(value);
    if (reserved) {
        st = vt_err_set(err, VT_EINVAL, "%.200s: '%s' can only be used inside config files", origin, reserved);
        vt__node_free(value);
        return st;
    }

    vt_cfg_node *cur = cfg->root;
    for (size_t i = 0; i < n; i++) {
        const seg *s = &segs[i];
        bool last = i + 1 == n;
        size_t pre_len = i ? segs[i - 1].end : 0;
        char pre[140]; /* the path walked so far, for messages */
        if (pre_len)
            snprintf(pre, sizeof pre, "'%.*s'", (int)(pre_len > 120 ? 120 : pre_len), path);
        else
            snprintf(pre, sizeof pre, "the top level");
        if (s->is_index) {
            if (cur->type != VT_CFG_SEQ) {
                st = set_fail(err, origin, cur, "%s is %s, not a list, so it cannot be indexed", pre,
                              a_type(cur->type));
                break;
            }
            if (s->index >= cur->n) {
                st = set_fail(err, origin, cur, "index %zu is past the end of %s (%zu item%s)", s->index, pre,
                              cur->n, cur->n == 1 ? "" : "s");
                break;
            }
            if (last) {
                vt__node_free(cur->items[s->index]);
                cur->items[s->index] = value;
                value = NULL;
            } else {
                cur = cur->items[s->index];
            }
            continue;
        }
        if (cur->type != VT_CFG_MAP) {
            st = set_fail(err, origin, cur, "%s is %s, not a map, so it has no key '%.*s'", pre,
                          a_type(cur->type), (int)(s->klen > 80 ? 80 : s->klen), s->key);
            break;
        }
        vt_cfg_entry *e = find_n(cur, s->key, s->klen);
        if (e && last) {
            vt__node_free(e->val);
            e->val = value;
            e->key_loc = (vt_cfg_loc){origin, 0, 0};
            value = NULL;
            continue;
        }
        if (e) {
            cur = e->val;
            continue;
        }
        if (!last && segs[i + 1].is_index) {
            st = set_fail(err, origin, NULL, "'%.*s' does not exist, so it cannot be indexed",
                          (int)(s->end > 120 ? 120 : s->end), path);
            break;
        }
        char *key = strndup(s->key, s->klen);
        vt_cfg_node *child = last ? value : vt__node_new(VT_CFG_MAP, (vt_cfg_loc){origin, 0, 0});
        if (!key || !child || !vt__map_put(cur, key, (vt_cfg_loc){origin, 0, 0}, child)) {
            free(key);
            if (!last) vt__node_free(child);
            st = vt_err_set(err, VT_ENOMEM, "%.200s: out of memory", origin);
            break;
        }
        if (last) value = NULL;
        cur = child;
    }
    vt__node_free(value);
    vt__relink(cfg->root, NULL);
    return st;
}
