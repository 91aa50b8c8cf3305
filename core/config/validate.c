/* Schema validation: a config map checked against a vt_param_spec table and copied into a params struct
 * by offset. The same code serves plugin params and core sections (run:, stages:, ...), so every
 * message has one shape: "file:line:col: <path>: <problem>". Defaults are YAML text parsed and checked
 * exactly like user values, so a bad default in a spec table is caught the first time it is used. */
#include "cfg_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- did you mean ---- */

/* Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), capped word length. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

const char *vt_suggest(const char *word, const char *const *candidates, size_t n) {
    if (!word || !candidates) return NULL;
    size_t limit = strlen(word) / 3;
    if (limit < 1) limit = 1;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i]) continue;
        size_t d = edit_distance(word, candidates[i]);
        if (d <= limit && d < strlen(candidates[i]) && d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

/* ---- helpers ---- */

static size_t count_specs(const vt_param_spec *specs) {
    size_t n = 0;
    while (specs[n].name) n++;
    return n;
}

static const char *fmt_num(double v, char *buf, size_t size) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%g", v);
    return buf;
}

static bool has_range(const vt_param_spec *s) { return s->min <= s->max; }

static vt_status range_check(const vt_param_spec *s, const vt_cfg_node *n, const char *what, double v,
                             vt_err *err) {
    if (!has_range(s) || (v >= s->min && v <= s->max)) return VT_OK;
    char loc[VT_ERR_MSG_MAX / 4], lo[32], hi[32];
    return vt_err_set(err, VT_EINVAL, "%s: %.120s: %.40s is out of range [%s, %s]", vt_cfg_loc_str(n, loc, sizeof loc),
                      what, n->text, fmt_num(s->min, lo, sizeof lo), fmt_num(s->max, hi, sizeof hi));
}

static vt_status expect(const vt_cfg_node *n, const char *what, const char *expected, vt_err *err) {
    char loc[VT_ERR_MSG_MAX / 4];
    return vt_err_set(err, VT_EINVAL, "%s: %.120s: expected %s, got %s", vt_cfg_loc_str(n, loc, sizeof loc), what,
                      expected, vt_cfg_type_name(n->type));
}

static vt_status fill_elem(const vt_param_spec *s, const vt_cfg_node *n, const char *what, vt_param_list *l,
                           size_t i, vt_err *err) {
    vt_status st;
    switch (s->elem_type) {
    case VT_PARAM_INT:
        if ((st = vt__as_int(n, what, &l->v.i[i], err))) return st;
        return range_check(s, n, what, (double)l->v.i[i], err);
    case VT_PARAM_FLOAT:
        if ((st = vt__as_double(n, what, &l->v.f[i], err))) return st;
        return range_check(s, n, what, l->v.f[i], err);
    default: {
        const char *str;
        if ((st = vt__as_string(n, what, &str, err))) return st;
        l->v.s[i] = strdup(str);
        return l->v.s[i] ? VT_OK : vt_err_set(err, VT_ENOMEM, "%s: out of memory", what);
    }
    }
}

static vt_status fill_list(const vt_param_spec *s, const vt_cfg_node *n, const char *what, vt_param_list *l,
                           vt_err *err) {
    l->n = 0;
    l->v.i = NULL;
    if (n->type == VT_CFG_NULL) return VT_OK;
    const char *ename = s->elem_type == VT_PARAM_INT ? "int" : s->elem_type == VT_PARAM_FLOAT ? "float" : "string";
    if (n->type != VT_CFG_SEQ) {
        char expected[32];
        snprintf(expected, sizeof expected, "a list of %s", ename);
        return expect(n, what, expected, err);
    }
    if (n->n == 0) return VT_OK;
    size_t elem = s->elem_type == VT_PARAM_INT ? sizeof(int64_t)
                  : s->elem_type == VT_PARAM_FLOAT ? sizeof(double) : sizeof(char *);
    void *arr = calloc(n->n, elem);
    if (!arr) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", what);
    l->v.i = arr; /* union: the same pointer whatever the element type */
    for (size_t i = 0; i < n->n; i++) {
        char ewhat[200];
        snprintf(ewhat, sizeof ewhat, "%.150s[%zu]", what, i);
        vt_status st = fill_elem(s, n->items[i], ewhat, l, i, err);
        if (st) {
            if (s->elem_type == VT_PARAM_STRING)
                for (size_t j = 0; j < i; j++) free(l->v.s[j]);
            free(arr);
            l->v.i = NULL;
            return st;
        }
        l->n = i + 1;
    }
    return VT_OK;
}

static vt_status fill_enum(const vt_param_spec *s, const vt_cfg_node *n, const char *what, char **out,
                           vt_err *err) {
    const char *text;
    vt_status st = vt__as_string(n, what, &text, err);
    if (st) return st;
    size_t nc = 0;
    char list[200];
    size_t len = 0;
    list[0] = '\0';
    for (; s->choices && s->choices[nc]; nc++) {
        if (!strcmp(s->choices[nc], text)) {
            *out = strdup(text);
            return *out ? VT_OK : vt_err_set(err, VT_ENOMEM, "%s: out of memory", what);
        }
        if (len < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", nc ? ", " : "", s->choices[nc]);
    }
    char loc[VT_ERR_MSG_MAX / 4], hint[100] = "";
    const char *guess = vt_suggest(text, s->choices, nc);
    if (guess) snprintf(hint, sizeof hint, " (did you mean '%.60s'?)", guess);
    return vt_err_set(err, VT_EINVAL, "%s: %.100s: '%.40s' is not one of: %.150s%s", vt_cfg_loc_str(n, loc, sizeof loc),
                      what, text, list, hint);
}

/* Writes one value (node never NULL) into its field. */
static vt_status fill(const vt_param_spec *s, const vt_cfg_node *n, const char *what, char *base, vt_err *err) {
    void *field = base + s->offset;
    vt_status st;
    switch (s->type) {
    case VT_PARAM_BOOL: return vt__as_bool(n, what, (bool *)field, err);
    case VT_PARAM_INT:
        if ((st = vt__as_int(n, what, (int64_t *)field, err))) return st;
        return range_check(s, n, what, (double)*(int64_t *)field, err);
    case VT_PARAM_FLOAT:
        if ((st = vt__as_double(n, what, (double *)field, err))) return st;
        return range_check(s, n, what, *(double *)field, err);
    case VT_PARAM_STRING: {
        if (n->type == VT_CFG_NULL) return VT_OK;
        const char *text;
        if ((st = vt__as_string(n, what, &text, err))) return st;
        *(char **)field = strdup(text);
        return *(char **)field ? VT_OK : vt_err_set(err, VT_ENOMEM, "%s: out of memory", what);
    }
    case VT_PARAM_ENUM: return fill_enum(s, n, what, (char **)field, err);
    case VT_PARAM_LIST:
        if (s->elem_type != VT_PARAM_INT && s->elem_type != VT_PARAM_FLOAT && s->elem_type != VT_PARAM_STRING)
            return vt_err_set(err, VT_EINVAL, "%s: param spec lists must hold int, float or string", what);
        return fill_list(s, n, what, (vt_param_list *)field, err);
    case VT_PARAM_MAP:
        if (n->type == VT_CFG_NULL) return VT_OK;
        if (n->type != VT_CFG_MAP) return expect(n, what, "map", err);
        *(const vt_cfg_node **)field = n;
        return VT_OK;
    case VT_PARAM_SEQ:
        if (n->type == VT_CFG_NULL) return VT_OK;
        if (n->type != VT_CFG_SEQ)
            return expect(n, what, s->elem_type == VT_PARAM_MAP ? "a list of maps" : "list", err);
        if (s->elem_type == VT_PARAM_MAP)
            for (size_t i = 0; i < n->n; i++) {
                if (n->items[i]->type == VT_CFG_MAP) continue;
                char ewhat[200];
                snprintf(ewhat, sizeof ewhat, "%.150s[%zu]", what, i);
                return expect(n->items[i], ewhat, "map", err);
            }
        *(const vt_cfg_node **)field = n;
        return VT_OK;
    }
    return vt_err_set(err, VT_EINVAL, "%s: unknown param type %d in spec", what, (int)s->type);
}

static void zero_field(const vt_param_spec *s, char *base) {
    void *field = base + s->offset;
    switch (s->type) {
    case VT_PARAM_BOOL: *(bool *)field = false; break;
    case VT_PARAM_INT: *(int64_t *)field = 0; break;
    case VT_PARAM_FLOAT: *(double *)field = 0.0; break;
    case VT_PARAM_STRING:
    case VT_PARAM_ENUM: *(char **)field = NULL; break;
    case VT_PARAM_LIST: memset(field, 0, sizeof(vt_param_list)); break;
    case VT_PARAM_MAP:
    case VT_PARAM_SEQ: *(const vt_cfg_node **)field = NULL; break;
    }
}

void vt_params_free(const vt_param_spec *specs, void *params) {
    if (!specs || !params) return;
    char *base = params;
    for (const vt_param_spec *s = specs; s->name; s++) {
        void *field = base + s->offset;
        if (s->type == VT_PARAM_STRING || s->type == VT_PARAM_ENUM) {
            free(*(char **)field);
        } else if (s->type == VT_PARAM_LIST) {
            vt_param_list *l = field;
            if (s->elem_type == VT_PARAM_STRING && l->v.s)
                for (size_t i = 0; i < l->n; i++) free(l->v.s[i]);
            free(l->v.i);
        }
        zero_field(s, base);
    }
}

static bool ignored(const vt_cfg_validate_opts *o, const char *key) {
    if (!o || !o->ignore_keys) return false;
    for (const char *const *k = o->ignore_keys; *k; k++)
        if (!strcmp(*k, key)) return true;
    return false;
}

/* " in tasks.det" / " at the top level" */
static const char *in_section(const char *section, char *buf, size_t size) {
    if (*section)
        snprintf(buf, size, " in %.150s", section);
    else
        snprintf(buf, size, " at the top level");
    return buf;
}

static vt_status unknown_key(const vt_cfg_node *map, size_t i, const vt_param_spec *specs, const char *section,
                             vt_err *err) {
    size_t n = count_specs(specs);
    const char **names = calloc(n + 1, sizeof *names);
    if (!names) return vt_err_set(err, VT_ENOMEM, "out of memory");
    char valid[200];
    size_t len = 0;
    valid[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        names[k] = specs[k].name;
        if (len < sizeof valid)
            len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", k ? ", " : "", specs[k].name);
    }
    const char *key = map->ents[i].key;
    const char *guess = vt_suggest(key, names, n);
    char hint[220], loc[VT_ERR_MSG_MAX / 4], sec[170];
    if (guess)
        snprintf(hint, sizeof hint, " (did you mean '%.60s'?)", guess);
    else if (n)
        snprintf(hint, sizeof hint, " (valid keys: %.190s)", valid);
    else
        snprintf(hint, sizeof hint, " (no keys are accepted here)");
    free(names);
    return vt_err_set(err, VT_EINVAL, "%s: unknown key '%.60s'%s%s", vt__loc_fmt(map->ents[i].key_loc, loc, sizeof loc),
                      key, in_section(section, sec, sizeof sec), hint);
}

/* Where a section is named: its key in the parent map if there is one, else the node itself. */
static vt_cfg_loc section_loc(const vt_cfg_node *map) {
    const vt_cfg_node *p = map->parent;
    if (p && p->type == VT_CFG_MAP)
        for (size_t i = 0; i < p->n; i++)
            if (p->ents[i].val == map) return p->ents[i].key_loc;
    return map->loc;
}

static vt_status validate(const vt_cfg_node *map, const vt_cfg_node *named, const vt_param_spec *specs,
                          char *base, const char *section, const vt_cfg_validate_opts *opts, vt_err *err) {
    char what[200], loc[VT_ERR_MSG_MAX / 4], sec[170];
    if (map && map->type != VT_CFG_MAP) {
        snprintf(what, sizeof what, "%s", *section ? section : "top level");
        return expect(map, what, "map", err);
    }
    if (map && !(opts && opts->allow_unknown))
        for (size_t i = 0; i < map->n; i++) {
            const char *key = map->ents[i].key;
            bool known = ignored(opts, key);
            for (const vt_param_spec *s = specs; !known && s->name; s++) known = !strcmp(s->name, key);
            if (!known) return unknown_key(map, i, specs, section, err);
        }
    /* present keys first: a wrong value is reported before a missing key */
    for (size_t pass = 0; pass < 2; pass++) {
        for (const vt_param_spec *s = specs; s->name; s++) {
            const vt_cfg_node *n = map ? vt_cfg_child(map, s->name) : NULL;
            if ((pass == 0) != (n != NULL)) continue;
            snprintf(what, sizeof what, "%.120s%s%.60s", section, *section ? "." : "", s->name);
            vt_status st = VT_OK;
            if (n) {
                st = fill(s, n, what, base, err);
            } else if (s->required) {
                if (named)
                    return vt_err_set(err, VT_EINVAL, "%s: missing required key '%s'%s",
                                      vt__loc_fmt(section_loc(named), loc, sizeof loc), s->name,
                                      in_section(section, sec, sizeof sec));
                return vt_err_set(err, VT_EINVAL, "missing required key '%s'%s", s->name,
                                  in_section(section, sec, sizeof sec));
            } else if (s->default_value && s->type != VT_PARAM_MAP && s->type != VT_PARAM_SEQ) {
                char origin[240];
                snprintf(origin, sizeof origin, "default of %s", what);
                vt_cfg_node *def;
                st = vt__parse_yaml(s->default_value, strlen(s->default_value), origin, false, &def, err);
                if (st == VT_OK) {
                    st = fill(s, def, what, base, err);
                    vt__node_free(def);
                }
            }
            if (st) return st;
        }
    }
    return VT_OK;
}

vt_status vt_cfg_validate(const vt_cfg_node *map, const vt_param_spec *specs, void *params,
                          const vt_cfg_validate_opts *opts, vt_err *err) {
    if (!specs || !params) return vt_err_set(err, VT_EINVAL, "vt_cfg_validate: NULL specs or params");
    char *base = params;
    for (const vt_param_spec *s = specs; s->name; s++) zero_field(s, base);
    char section[150];
    if (opts && opts->section)
        snprintf(section, sizeof section, "%s", opts->section);
    else
        vt_cfg_path_str(map, section, sizeof section);
    const vt_cfg_node *named = map;
    if (map && map->type == VT_CFG_NULL) map = NULL; /* `det:` with nothing under it */
    vt_status st = validate(map, named, specs, base, section, opts, err);
    if (st) vt_params_free(specs, params);
    return st;
}
