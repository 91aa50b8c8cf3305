/* Loading: one file (or string) -> parsed tree -> ${VAR} expansion -> _base_ chain merged under it.
 *
 * Each file is resolved on its own before it is merged, so a base is complete (its own bases and
 * _delete_ markers already applied) when the including file is merged over it. Cycles are found by
 * comparing realpath()s on the stack of files being loaded; the message shows the chain as written. */
#include "cfg_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct load_frame {
    char *real;          /* realpath, NULL for text that is not a file */
    const char *display; /* interned */
} load_frame;

typedef struct loader {
    vt_cfg *cfg;
    unsigned flags;
    load_frame stack[VT_CFG_MAX_BASE_DEPTH + 1];
    size_t depth;
    vt_err *err;
} loader;

static vt_status at(vt_err *err, vt_cfg_loc loc, vt_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static vt_status at(vt_err *err, vt_cfg_loc loc, vt_status code, const char *fmt, ...) {
    char where[VT_ERR_MSG_MAX / 2], what[VT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return vt_err_set(err, code, "%s: %s", vt__loc_fmt(loc, where, sizeof where), what);
}

/* ---- ${VAR} expansion ---- */

static bool utf8_valid(const unsigned char *s) {
    while (*s) {
        size_t n = *s < 0x80 ? 0 : (*s >> 5) == 6 ? 1 : (*s >> 4) == 14 ? 2 : (*s >> 3) == 30 ? 3 : 9;
        if (n == 9) return false;
        for (size_t i = 1; i <= n; i++)
            if ((s[i] & 0xC0) != 0x80) return false;
        s += n + 1;
    }
    return true;
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

static bool sb_add(strbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static vt_status expand_scalar(vt_cfg_node *n, vt_err *err) {
    const char *s = n->text;
    if (n->style == VT_STYLE_SQUOTE || !strchr(s, '$')) return VT_OK;
    strbuf out = {0};
    vt_status st = VT_OK;
    bool ok = sb_add(&out, "", 0);
    while (ok && *s) {
        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            ok = sb_add(&out, "${", 2);
            s += 3;
            continue;
        }
        if (s[0] != '$' || s[1] != '{') {
            ok = sb_add(&out, s, 1);
            s++;
            continue;
        }
        const char *close = strchr(s + 2, '}');
        if (!close) {
            st = at(err, n->loc, VT_EINVAL, "unterminated '${' in '%.60s'", n->text);
            break;
        }
        const char *name = s + 2, *p = name;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_')
            while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                   *p == '_')
                p++;
        size_t name_len = (size_t)(p - name);
        bool has_default = p[0] == ':' && p[1] == '-';
        if (name_len == 0 || name_len > 255 || (p != close && !has_default)) {
            st = at(err, n->loc, VT_EINVAL,
                    "bad variable reference '%.*s' (expected ${NAME} or ${NAME:-default})",
                    (int)(close - s + 1 > 80 ? 80 : close - s + 1), s);
            break;
        }
        char var[256];
        memcpy(var, name, name_len);
        var[name_len] = '\0';
        const char *val = getenv(var);
        if (has_default && (!val || !*val)) {
            ok = sb_add(&out, p + 2, (size_t)(close - (p + 2)));
        } else if (!val) {
            st = at(err, n->loc, VT_EINVAL,
                    "environment variable '%s' is not set (write ${%s:-default} to give a default)", var, var);
            break;
        } else {
            ok = sb_add(&out, val, strlen(val));
        }
        s = close + 1;
        if (out.len > VT_CFG_MAX_SCALAR_BYTES) {
            st = at(err, n->loc, VT_EINVAL, "value longer than 1 MiB after ${} expansion");
            break;
        }
    }
    if (st == VT_OK && !ok) st = at(err, n->loc, VT_ENOMEM, "out of memory");
    if (st == VT_OK && !utf8_valid((const unsigned char *)out.p))
        st = at(err, n->loc, VT_EINVAL, "${} expansion of '%.60s' is not valid UTF-8", n->text);
    if (st != VT_OK) {
        free(out.p);
        return st;
    }
    free(n->text);
    n->text = out.p;
    vt__scalar_retype(n);
    return VT_OK;
}

/* Expands ${} in values and checks the reserved keys: _delete_ must be a bool, _base_ only at the top. */
static vt_status prepare_tree(vt_cfg_node *n, bool top, vt_err *err) {
    if (n->type == VT_CFG_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            vt_cfg_entry *e = &n->ents[i];
            if (!strcmp(e->key, "_base_") && !top)
                return at(err, e->key_loc, VT_EINVAL, "'_base_' is only allowed at the top level of a file");
            vt_status st = prepare_tree(e->val, false, err);
            if (st) return st;
            if (!strcmp(e->key, "_delete_") && e->val->type != VT_CFG_BOOL)
                return at(err, e->val->loc, VT_EINVAL, "'_delete_' must be true or false, got %s",
                          vt_cfg_type_name(e->val->type));
        }
        return VT_OK;
    }
    if (n->type == VT_CFG_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            vt_status st = prepare_tree(n->items[i], false, err);
            if (st) return st;
        }
        return VT_OK;
    }
    return expand_scalar(n, err);
}

/* ---- merging ---- */

static bool delete_flag(const vt_cfg_node *map) {
    vt_cfg_entry *e = vt__map_find(map, "_delete_");
    return e && e->val->type == VT_CFG_BOOL && (e->val->text[0] == 't' || e->val->text[0] == 'T');
}

/* Merges src over *dstp, consuming src. Maps merge key by key (base order kept, new keys appended);
 * anything else, or a src map with _delete_: true, replaces. false only on ENOMEM (tree stays valid). */
static bool merge_into(vt_cfg_node **dstp, vt_cfg_node *src) {
    vt_cfg_node *dst = *dstp;
    if (dst->type != VT_CFG_MAP || src->type != VT_CFG_MAP || delete_flag(src)) {
        vt__node_free(dst);
        *dstp = src;
        return true;
    }
    bool ok = true;
    for (size_t i = 0; i < src->n; i++) {
        vt_cfg_entry *e = &src->ents[i];
        vt_cfg_entry *d = ok ? vt__map_find(dst, e->key) : NULL;
        if (ok && d) {
            ok = merge_into(&d->val, e->val);
            d->key_loc = e->key_loc;
            free(e->key);
        } else if (!ok || !vt__map_put(dst, e->key, e->key_loc, e->val)) {
            ok = false;
            free(e->key);
            vt__node_free(e->val);
        }
    }
    dst->loc = src->loc;
    free(src->ents);
    free(src);
    return ok;
}

static void strip_delete(vt_cfg_node *n) {
    if (n->type == VT_CFG_MAP) {
        for (size_t i = n->n; i-- > 0;) {
            if (!strcmp(n->ents[i].key, "_delete_"))
                vt__map_remove(n, i);
            else
                strip_delete(n->ents[i].val);
        }
    } else if (n->type == VT_CFG_SEQ) {
        for (size_t i = 0; i < n->n; i++) strip_delete(n->items[i]);
    }
}

/* ---- files ---- */

static vt_status load_path(loader *L, const char *display, const vt_cfg_loc *from, vt_cfg_node **out);

static vt_status read_file(const char *path, char **text, size_t *len, const vt_cfg_loc *from, vt_err *err) {
    char where[VT_ERR_MSG_MAX / 2], loc[VT_ERR_MSG_MAX / 4];
    if (from)
        snprintf(where, sizeof where, "%s: cannot read _base_ file '%.200s'", vt__loc_fmt(*from, loc, sizeof loc),
                 path);
    else
        snprintf(where, sizeof where, "%.200s: cannot read config", path);
    FILE *f = fopen(path, "rb");
    if (!f) return vt_err_set(err, VT_EIO, "%s: %s", where, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return vt_err_set(err, VT_EIO, "%s: is a directory", where);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap > VT_CFG_MAX_FILE_BYTES) break;
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int rd_err = ferror(f);
    fclose(f);
    if (!buf) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", where);
    if (n > VT_CFG_MAX_FILE_BYTES) {
        free(buf);
        return vt_err_set(err, VT_EIO, "%s: larger than 16 MiB", where);
    }
    if (rd_err) {
        free(buf);
        return vt_err_set(err, VT_EIO, "%s: read error", where);
    }
    *text = buf;
    *len = n;
    return VT_OK;
}

static vt_status join_base(loader *L, const char *including, const vt_cfg_node *item, const char **out) {
    const char *rel = item->text;
    if (item->type == VT_CFG_NULL || item->type == VT_CFG_MAP || item->type == VT_CFG_SEQ || !*rel)
        return at(L->err, item->loc, VT_EINVAL, "_base_ entries must be file paths, got %s",
                  vt_cfg_type_name(item->type));
    const char *slash = strrchr(including, '/');
    size_t dir = rel[0] == '/' || !slash ? 0 : (size_t)(slash - including + 1);
    size_t len = dir + strlen(rel);
    char *joined = malloc(len + 1);
    if (!joined) return at(L->err, item->loc, VT_ENOMEM, "out of memory");
    memcpy(joined, including, dir);
    strcpy(joined + dir, rel);
    *out = vt__pool_intern(&L->cfg->pool, joined);
    free(joined);
    return *out ? VT_OK : at(L->err, item->loc, VT_ENOMEM, "out of memory");
}

/* Parses one text, expands it, loads and merges its bases. `display` is interned. */
static vt_status load_text(loader *L, const char *text, size_t len, const char *display, vt_cfg_node **out) {
    vt_cfg_node *root;
    vt_status st = vt__parse_yaml(text, len, display, true, &root, L->err);
    if (st) return st;
    if (root->type == VT_CFG_NULL) { /* empty file: empty map */
        vt_cfg_loc loc = root->loc;
        vt__node_free(root);
        root = vt__node_new(VT_CFG_MAP, loc);
        if (!root) return at(L->err, loc, VT_ENOMEM, "out of memory");
    }
    if (root->type != VT_CFG_MAP) {
        st = at(L->err, root->loc, VT_EINVAL, "the top level of a config must be a map, got %s",
                vt_cfg_type_name(root->type));
        vt__node_free(root);
        return st;
    }
    if ((st = prepare_tree(root, true, L->err))) {
        vt__node_free(root);
        return st;
    }
    vt_cfg_node *acc = NULL;
    for (size_t i = 0; i < root->n; i++) {
        if (strcmp(root->ents[i].key, "_base_")) continue;
        vt_cfg_entry *e = &root->ents[i];
        if (L->flags & VT_CFG_NO_BASE) {
            st = at(L->err, e->key_loc, VT_EINVAL, "'_base_' is not allowed here (no file access)");
            break;
        }
        vt_cfg_node *list = e->val;
        size_t n = list->type == VT_CFG_SEQ ? list->n : 1;
        for (size_t j = 0; j < n && st == VT_OK; j++) {
            const vt_cfg_node *item = list->type == VT_CFG_SEQ ? list->items[j] : list;
            const char *path;
            vt_cfg_node *base = NULL;
            if ((st = join_base(L, display, item, &path))) break;
            if ((st = load_path(L, path, &item->loc, &base))) break;
            if (!acc) {
                acc = base;
            } else if (!merge_into(&acc, base)) {
                st = at(L->err, item->loc, VT_ENOMEM, "out of memory");
            }
        }
        if (st == VT_OK) vt__map_remove(root, i);
        break;
    }
    if (st == VT_OK && acc) {
        if (!merge_into(&acc, root)) st = at(L->err, (vt_cfg_loc){display, 1, 1}, VT_ENOMEM, "out of memory");
        root = acc;
        acc = NULL;
    }
    vt__node_free(acc);
    if (st) {
        vt__node_free(root);
        return st;
    }
    strip_delete(root);
    *out = root;
    return VT_OK;
}

static vt_status load_path(loader *L, const char *display, const vt_cfg_loc *from, vt_cfg_node **out) {
    char where[VT_ERR_MSG_MAX / 2];
    if (L->depth >= VT_CFG_MAX_BASE_DEPTH && from)
        return vt_err_set(L->err, VT_EINVAL, "%s: _base_ chain deeper than %d files",
                          vt__loc_fmt(*from, where, sizeof where), VT_CFG_MAX_BASE_DEPTH);
    char *real = realpath(display, NULL);
    if (!real) {
        if (from)
            return vt_err_set(L->err, VT_EIO, "%s: cannot open _base_ file '%.200s': %s",
                              vt__loc_fmt(*from, where, sizeof where), display, strerror(errno));
        return vt_err_set(L->err, VT_EIO, "%.200s: cannot open config: %s", display, strerror(errno));
    }
    for (size_t i = 0; i < L->depth; i++) {
        if (!L->stack[i].real || strcmp(L->stack[i].real, real)) continue;
        char chain[VT_ERR_MSG_MAX / 2];
        size_t len = 0;
        for (size_t j = i; j < L->depth && len < sizeof chain; j++)
            len += (size_t)snprintf(chain + len, sizeof chain - len, "%s -> ", L->stack[j].display);
        if (len < sizeof chain) snprintf(chain + len, sizeof chain - len, "%s", display);
        free(real);
        return vt_err_set(L->err, VT_EINVAL, "%s: _base_ cycle: %s", vt__loc_fmt(*from, where, sizeof where),
                          chain);
    }
    char *text = NULL;
    size_t len = 0;
    vt_status st = read_file(display, &text, &len, from, L->err);
    if (st) {
        free(real);
        return st;
    }
    L->stack[L->depth++] = (load_frame){real, display};
    st = load_text(L, text, len, display, out);
    L->depth--;
    free(real);
    free(text);
    return st;
}

/* ---- public entry points ---- */

static vt_cfg *cfg_new(void) { return calloc(1, sizeof(vt_cfg)); }

vt_status vt_cfg_load_file(const char *path, vt_cfg **out, vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "vt_cfg_load_file: out is NULL");
    *out = NULL;
    if (!path || !*path) return vt_err_set(err, VT_EINVAL, "vt_cfg_load_file: empty path");
    vt_cfg *cfg = cfg_new();
    if (!cfg) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    loader L = {.cfg = cfg, .err = err};
    const char *display = vt__pool_intern(&cfg->pool, path);
    vt_status st = display ? load_path(&L, display, NULL, &cfg->root)
                           : vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    if (st) {
        vt_cfg_free(cfg);
        return st;
    }
    vt__relink(cfg->root, NULL);
    *out = cfg;
    return VT_OK;
}

vt_status vt_cfg_load_string(const char *text, size_t len, const char *name, unsigned flags, vt_cfg **out,
                             vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "vt_cfg_load_string: out is NULL");
    *out = NULL;
    if (!text && len) return vt_err_set(err, VT_EINVAL, "vt_cfg_load_string: text is NULL");
    if (!name || !*name) name = "<string>";
    if (len > VT_CFG_MAX_FILE_BYTES) return vt_err_set(err, VT_EINVAL, "%s: larger than 16 MiB", name);
    vt_cfg *cfg = cfg_new();
    if (!cfg) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    loader L = {.cfg = cfg, .flags = flags, .err = err};
    const char *display = vt__pool_intern(&cfg->pool, name);
    vt_status st;
    if (!display) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    } else {
        /* realpath of the name (if it is a file) so a base that includes it back is a cycle */
        L.stack[L.depth++] = (load_frame){(flags & VT_CFG_NO_BASE) ? NULL : realpath(name, NULL), display};
        st = load_text(&L, text ? text : "", len, display, &cfg->root);
        free(L.stack[0].real);
    }
    if (st) {
        vt_cfg_free(cfg);
        return st;
    }
    vt__relink(cfg->root, NULL);
    *out = cfg;
    return VT_OK;
}

void vt_cfg_free(vt_cfg *cfg) {
    if (!cfg) return;
    vt__node_free(cfg->root);
    vt__pool_free(&cfg->pool);
    free(cfg);
}
