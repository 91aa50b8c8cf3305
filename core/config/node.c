/* Config tree nodes: allocation, YAML 1.2 core-schema typing, read accessors, locations and paths.
 * Scalars keep their raw text; the type is resolved once from the text and the quoting style, so a value
 * re-emitted and re-parsed keeps both. */
#include "cfg_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string pool ---- */

const char *vt__pool_intern(vt_cfg_pool *pool, const char *s) {
    for (vt_cfg_str *p = pool->head; p; p = p->next)
        if (strcmp(p->s, s) == 0) return p->s;
    size_t len = strlen(s);
    vt_cfg_str *p = malloc(sizeof *p + len + 1);
    if (!p) return NULL;
    memcpy(p->s, s, len + 1);
    p->next = pool->head;
    pool->head = p;
    return p->s;
}

void vt__pool_free(vt_cfg_pool *pool) {
    vt_cfg_str *p = pool->head;
    while (p) {
        vt_cfg_str *next = p->next;
        free(p);
        p = next;
    }
    pool->head = NULL;
}

/* ---- nodes ---- */

vt_cfg_node *vt__node_new(vt_cfg_type type, vt_cfg_loc loc) {
    vt_cfg_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->type = type;
    n->loc = loc;
    return n;
}

vt_cfg_node *vt__scalar_new(const char *text, size_t len, vt_cfg_style style, vt_cfg_loc loc) {
    vt_cfg_node *n = vt__node_new(VT_CFG_STRING, loc);
    if (!n) return NULL;
    n->text = malloc(len + 1);
    if (!n->text) {
        free(n);
        return NULL;
    }
    memcpy(n->text, text, len);
    n->text[len] = '\0';
    n->style = style;
    vt__scalar_retype(n);
    return n;
}

void vt__node_free(vt_cfg_node *n) {
    if (!n) return;
    free(n->text);
    for (size_t i = 0; i < n->n; i++) {
        if (n->type == VT_CFG_MAP) {
            free(n->ents[i].key);
            vt__node_free(n->ents[i].val);
        } else if (n->type == VT_CFG_SEQ) {
            vt__node_free(n->items[i]);
        }
    }
    free(n->ents);
    free(n->items);
    free(n);
}

static bool grow(vt_cfg_node *n, size_t elem) {
    if (n->n < n->cap) return true;
    size_t cap = n->cap ? n->cap * 2 : 4;
    void **slot = n->type == VT_CFG_MAP ? (void **)&n->ents : (void **)&n->items;
    void *p = realloc(*slot, cap * elem);
    if (!p) return false;
    *slot = p;
    n->cap = cap;
    return true;
}

bool vt__map_put(vt_cfg_node *map, char *key, vt_cfg_loc key_loc, vt_cfg_node *val) {
    if (!grow(map, sizeof(vt_cfg_entry))) return false;
    map->ents[map->n++] = (vt_cfg_entry){key, key_loc, val};
    val->parent = map;
    return true;
}

bool vt__seq_push(vt_cfg_node *seq, vt_cfg_node *item) {
    if (!grow(seq, sizeof(vt_cfg_node *))) return false;
    seq->items[seq->n++] = item;
    item->parent = seq;
    return true;
}

vt_cfg_entry *vt__map_find(const vt_cfg_node *map, const char *key) {
    if (!map || map->type != VT_CFG_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->ents[i].key, key) == 0) return &map->ents[i];
    return NULL;
}

void vt__map_remove(vt_cfg_node *map, size_t i) {
    free(map->ents[i].key);
    vt__node_free(map->ents[i].val);
    memmove(&map->ents[i], &map->ents[i + 1], (map->n - i - 1) * sizeof map->ents[0]);
    map->n--;
}

vt_cfg_node *vt__node_copy(const vt_cfg_node *n) {
    if (n->type != VT_CFG_MAP && n->type != VT_CFG_SEQ)
        return vt__scalar_new(n->text, strlen(n->text), n->style, n->loc);
    vt_cfg_node *c = vt__node_new(n->type, n->loc);
    if (!c) return NULL;
    for (size_t i = 0; i < n->n; i++) {
        vt_cfg_node *v = vt__node_copy(n->type == VT_CFG_MAP ? n->ents[i].val : n->items[i]);
        if (!v) goto fail;
        if (n->type == VT_CFG_MAP) {
            char *k = strdup(n->ents[i].key);
            if (!k || !vt__map_put(c, k, n->ents[i].key_loc, v)) {
                free(k);
                vt__node_free(v);
                goto fail;
            }
        } else if (!vt__seq_push(c, v)) {
            vt__node_free(v);
            goto fail;
        }
    }
    return c;
fail:
    vt__node_free(c);
    return NULL;
}

size_t vt__node_count(const vt_cfg_node *n) {
    size_t c = 1;
    for (size_t i = 0; i < vt_cfg_len(n); i++) c += vt__node_count(vt_cfg_item(n, i));
    return c;
}

size_t vt__node_height(const vt_cfg_node *n) {
    size_t h = 0;
    for (size_t i = 0; i < vt_cfg_len(n); i++) {
        size_t c = vt__node_height(vt_cfg_item(n, i));
        if (c > h) h = c;
    }
    return h + 1;
}

void vt__relink(vt_cfg_node *n, vt_cfg_node *parent) {
    n->parent = parent;
    for (size_t i = 0; i < vt_cfg_len(n); i++)
        vt__relink(n->type == VT_CFG_MAP ? n->ents[i].val : n->items[i], n);
}

void vt__set_loc(vt_cfg_node *n, vt_cfg_loc loc) {
    n->loc = loc;
    for (size_t i = 0; i < vt_cfg_len(n); i++) {
        if (n->type == VT_CFG_MAP) {
            n->ents[i].key_loc = loc;
            vt__set_loc(n->ents[i].val, loc);
        } else {
            vt__set_loc(n->items[i], loc);
        }
    }
}

/* ---- YAML 1.2 core schema ---- */

static bool all_in(const char *s, const char *set) {
    if (!*s) return false;
    for (; *s; s++)
        if (!strchr(set, *s)) return false;
    return true;
}

static bool is_float_text(const char *s) {
    if (*s == '+' || *s == '-') s++;
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF")) return true;
    size_t ipart = strspn(s, "0123456789");
    const char *p = s + ipart;
    size_t fpart = 0;
    if (*p == '.') {
        fpart = strspn(p + 1, "0123456789");
        p += 1 + fpart;
    }
    if (ipart == 0 && fpart == 0) return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        size_t e = strspn(p, "0123456789");
        if (e == 0) return false;
        p += e;
    }
    return *p == '\0';
}

vt_cfg_type vt__resolve_plain(const char *s) {
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return VT_CFG_NULL;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
        !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return VT_CFG_BOOL;
    if (!strncmp(s, "0o", 2) && all_in(s + 2, "01234567")) return VT_CFG_INT;
    if (!strncmp(s, "0x", 2) && all_in(s + 2, "0123456789abcdefABCDEF")) return VT_CFG_INT;
    if (all_in((*s == '-' || *s == '+') ? s + 1 : s, "0123456789")) return VT_CFG_INT;
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) return VT_CFG_FLOAT;
    if (is_float_text(s)) return VT_CFG_FLOAT;
    return VT_CFG_STRING;
}

void vt__scalar_retype(vt_cfg_node *n) {
    n->type = n->style == VT_STYLE_PLAIN ? vt__resolve_plain(n->text) : VT_CFG_STRING;
}

/* ---- locations and paths ---- */

const char *vt__loc_fmt(vt_cfg_loc loc, char *buf, size_t size) {
    if (!size) return buf;
    const char *file = loc.file ? loc.file : "<config>";
    if (loc.line > 0)
        snprintf(buf, size, "%s:%d:%d", file, loc.line, loc.col);
    else
        snprintf(buf, size, "%s", file);
    return buf;
}

const char *vt_cfg_loc_str(const vt_cfg_node *node, char *buf, size_t size) {
    if (!node) {
        if (size) snprintf(buf, size, "<config>");
        return buf;
    }
    return vt__loc_fmt(node->loc, buf, size);
}

static void path_append(const vt_cfg_node *n, char *buf, size_t size, size_t *len) {
    const vt_cfg_node *p = n->parent;
    if (!p) return;
    path_append(p, buf, size, len);
    char seg[80];
    seg[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        if (p->type == VT_CFG_MAP && p->ents[i].val == n) {
            snprintf(seg, sizeof seg, "%s%.70s", p->parent ? "." : "", p->ents[i].key);
            break;
        }
        if (p->type == VT_CFG_SEQ && p->items[i] == n) {
            snprintf(seg, sizeof seg, "[%zu]", i);
            break;
        }
    }
    if (*len < size) *len += (size_t)snprintf(buf + *len, size - *len, "%s", seg);
    if (*len >= size) *len = size - 1;
}

const char *vt_cfg_path_str(const vt_cfg_node *node, char *buf, size_t size) {
    if (!size) return buf;
    buf[0] = '\0';
    size_t len = 0;
    if (node) path_append(node, buf, size, &len);
    return buf;
}

/* ---- read accessors ---- */

const vt_cfg_node *vt_cfg_root(const vt_cfg *cfg) { return cfg ? cfg->root : NULL; }

vt_cfg_type vt_cfg_typeof(const vt_cfg_node *node) { return node ? node->type : VT_CFG_NULL; }

const char *vt_cfg_type_name(vt_cfg_type type) {
    switch (type) {
    case VT_CFG_NULL: return "null";
    case VT_CFG_BOOL: return "bool";
    case VT_CFG_INT: return "int";
    case VT_CFG_FLOAT: return "float";
    case VT_CFG_STRING: return "string";
    case VT_CFG_MAP: return "map";
    case VT_CFG_SEQ: return "list";
    }
    return "?";
}

vt_cfg_loc vt_cfg_where(const vt_cfg_node *node) {
    return node ? node->loc : (vt_cfg_loc){"<config>", 0, 0};
}

const char *vt_cfg_text(const vt_cfg_node *node) { return node ? node->text : NULL; }

size_t vt_cfg_len(const vt_cfg_node *node) {
    return node && (node->type == VT_CFG_MAP || node->type == VT_CFG_SEQ) ? node->n : 0;
}

const char *vt_cfg_key(const vt_cfg_node *map, size_t i) {
    return map && map->type == VT_CFG_MAP && i < map->n ? map->ents[i].key : NULL;
}

vt_cfg_loc vt_cfg_key_where(const vt_cfg_node *map, size_t i) {
    if (map && map->type == VT_CFG_MAP && i < map->n) return map->ents[i].key_loc;
    return vt_cfg_where(map);
}

const vt_cfg_node *vt_cfg_item(const vt_cfg_node *node, size_t i) {
    if (!node || i >= vt_cfg_len(node)) return NULL;
    return node->type == VT_CFG_MAP ? node->ents[i].val : node->items[i];
}

const vt_cfg_node *vt_cfg_child(const vt_cfg_node *map, const char *key) {
    vt_cfg_entry *e = key ? vt__map_find(map, key) : NULL;
    return e ? e->val : NULL;
}

bool vt_cfg_equal(const vt_cfg_node *a, const vt_cfg_node *b) {
    if (!a || !b) return a == b;
    if (a->type != b->type) return false;
    switch (a->type) {
    case VT_CFG_NULL: return true;
    case VT_CFG_MAP:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++)
            if (strcmp(a->ents[i].key, b->ents[i].key) || !vt_cfg_equal(a->ents[i].val, b->ents[i].val))
                return false;
        return true;
    case VT_CFG_SEQ:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++)
            if (!vt_cfg_equal(a->items[i], b->items[i])) return false;
        return true;
    default: return strcmp(a->text, b->text) == 0;
    }
}

/* ---- typed scalar reads ---- */

static vt_status type_error(const vt_cfg_node *n, const char *what, const char *expected, vt_err *err) {
    char loc[VT_ERR_MSG_MAX / 2];
    vt_cfg_loc_str(n, loc, sizeof loc);
    const char *sep = what && *what ? ": " : "";
    if (!n)
        return vt_err_set(err, VT_EINVAL, "%s%sexpected %s, got nothing", what ? what : "", sep, expected);
    if (n->type == VT_CFG_MAP || n->type == VT_CFG_SEQ || n->type == VT_CFG_NULL)
        return vt_err_set(err, VT_EINVAL, "%s: %.100s%sexpected %s, got %s", loc, what ? what : "", sep,
                          expected, vt_cfg_type_name(n->type));
    return vt_err_set(err, VT_EINVAL, "%s: %.100s%sexpected %s, got %s '%.40s%s'", loc, what ? what : "", sep,
                      expected, vt_cfg_type_name(n->type), n->text, strlen(n->text) > 40 ? "..." : "");
}

vt_status vt__as_bool(const vt_cfg_node *n, const char *what, bool *out, vt_err *err) {
    if (!n || n->type != VT_CFG_BOOL) return type_error(n, what, "bool (true/false)", err);
    *out = n->text[0] == 't' || n->text[0] == 'T';
    return VT_OK;
}

static bool parse_int(const char *s, int64_t *out) {
    errno = 0;
    char *end;
    if (!strncmp(s, "0x", 2) || !strncmp(s, "0o", 2)) {
        unsigned long long u = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
        if (errno || *end || u > INT64_MAX) return false;
        *out = (int64_t)u;
        return true;
    }
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = (int64_t)v;
    return true;
}

vt_status vt__as_int(const vt_cfg_node *n, const char *what, int64_t *out, vt_err *err) {
    if (!n || n->type != VT_CFG_INT) return type_error(n, what, "int", err);
    if (!parse_int(n->text, out)) {
        char loc[VT_ERR_MSG_MAX / 2];
        return vt_err_set(err, VT_EINVAL, "%s: %.100s%s%.40s does not fit in a 64-bit int",
                          vt_cfg_loc_str(n, loc, sizeof loc), what ? what : "", what && *what ? ": " : "",
                          n->text);
    }
    return VT_OK;
}

vt_status vt__as_double(const vt_cfg_node *n, const char *what, double *out, vt_err *err) {
    if (n && n->type == VT_CFG_INT) {
        int64_t v;
        if (parse_int(n->text, &v)) {
            *out = (double)v;
        } else {
            *out = strtod(n->text, NULL); /* huge decimal: still a valid (rounded) float */
            if (!strncmp(n->text, "0x", 2) || !strncmp(n->text, "0o", 2)) *out = INFINITY;
        }
        return VT_OK;
    }
    if (!n || n->type != VT_CFG_FLOAT) return type_error(n, what, "float", err);
    const char *s = n->text;
    double sign = 1.0;
    if (*s == '-' || *s == '+') sign = *s++ == '-' ? -1.0 : 1.0;
    if (s[0] == '.' && (s[1] == 'i' || s[1] == 'I'))
        *out = sign * INFINITY;
    else if (s[0] == '.' && (s[1] == 'n' || s[1] == 'N'))
        *out = NAN;
    else
        *out = strtod(n->text, NULL);
    return VT_OK;
}

vt_status vt__as_string(const vt_cfg_node *n, const char *what, const char **out, vt_err *err) {
    if (!n || n->type == VT_CFG_MAP || n->type == VT_CFG_SEQ || n->type == VT_CFG_NULL)
        return type_error(n, what, "string", err);
    *out = n->text;
    return VT_OK;
}

#define PATH_OF(n, buf) vt_cfg_path_str((n), (buf), sizeof(buf))

vt_status vt_cfg_as_bool(const vt_cfg_node *node, bool *out, vt_err *err) {
    char p[256];
    return vt__as_bool(node, PATH_OF(node, p), out, err);
}
vt_status vt_cfg_as_int(const vt_cfg_node *node, int64_t *out, vt_err *err) {
    char p[256];
    return vt__as_int(node, PATH_OF(node, p), out, err);
}
vt_status vt_cfg_as_double(const vt_cfg_node *node, double *out, vt_err *err) {
    char p[256];
    return vt__as_double(node, PATH_OF(node, p), out, err);
}
vt_status vt_cfg_as_string(const vt_cfg_node *node, const char **out, vt_err *err) {
    char p[256];
    return vt__as_string(node, PATH_OF(node, p), out, err);
}

static vt_status get_path(const vt_cfg_node *node, const char *path, const vt_cfg_node **out, vt_err *err) {
    *out = vt_cfg_get(node, path);
    if (*out) return VT_OK;
    char loc[VT_ERR_MSG_MAX / 2], base[128];
    vt_cfg_path_str(node, base, sizeof base);
    return vt_err_set(err, VT_ENOTFOUND, "%s: missing key '%s%s%.100s'", vt_cfg_loc_str(node, loc, sizeof loc),
                      base, *base ? "." : "", path ? path : "");
}

#define GET_TYPED(fn, T)                                                                            \
    vt_status vt_cfg_get_##fn(const vt_cfg_node *node, const char *path, T *out, vt_err *err) {     \
        const vt_cfg_node *n;                                                                       \
        vt_status st = get_path(node, path, &n, err);                                               \
        return st ? st : vt_cfg_as_##fn(n, out, err);                                               \
    }
GET_TYPED(bool, bool)
GET_TYPED(int, int64_t)
GET_TYPED(double, double)
GET_TYPED(string, const char *)
