/* libyaml event stream -> config tree.
 *
 * The event parser (not yaml_document_t) is used so each node can keep its own mark and so nesting and
 * alias expansion can be bounded while building: an alias is a deep copy of its anchor's node, counted
 * against VT_CFG_MAX_NODES, which defeats "billion laughs" documents. */
#include "cfg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct frame {
    vt_cfg_node *node;
    char *anchor;
    char *key; /* maps: pending key while its value is parsed */
    vt_cfg_loc key_loc;
} frame;

typedef struct anchor_def {
    char *name;
    const vt_cfg_node *node;
} anchor_def;

typedef struct builder {
    const char *file;
    bool positions;
    frame stack[VT_CFG_MAX_DEPTH];
    size_t depth;
    vt_cfg_node *root;
    anchor_def *anchors;
    size_t n_anchors, cap_anchors;
    size_t n_nodes;
    vt_cfg_node *grave; /* anchored scalars used as keys: kept alive for later aliases */
    vt_err *err;
} builder;

static vt_cfg_loc mark_loc(const builder *b, yaml_mark_t m) {
    if (!b->positions) return (vt_cfg_loc){b->file, 0, 0};
    return (vt_cfg_loc){b->file, (int)(m.line + 1), (int)(m.column + 1)};
}

static vt_status fail_at(builder *b, vt_cfg_loc loc, vt_status code, const char *fmt, const char *arg) {
    char where[VT_ERR_MSG_MAX / 2], what[VT_ERR_MSG_MAX / 2];
    snprintf(what, sizeof what, fmt, arg);
    return vt_err_set(b->err, code, "%s: %s", vt__loc_fmt(loc, where, sizeof where), what);
}

static vt_status oom(builder *b) { return vt_err_set(b->err, VT_ENOMEM, "%s: out of memory", b->file); }

static vt_status add_anchor(builder *b, const char *name, const vt_cfg_node *node) {
    for (size_t i = 0; i < b->n_anchors; i++)
        if (!strcmp(b->anchors[i].name, name)) {
            b->anchors[i].node = node; /* redefinition: later aliases see the newest */
            return VT_OK;
        }
    if (b->n_anchors == b->cap_anchors) {
        size_t cap = b->cap_anchors ? 2 * b->cap_anchors : 8;
        anchor_def *p = realloc(b->anchors, cap * sizeof *p);
        if (!p) return oom(b);
        b->anchors = p;
        b->cap_anchors = cap;
    }
    char *copy = strdup(name);
    if (!copy) return oom(b);
    b->anchors[b->n_anchors++] = (anchor_def){copy, node};
    return VT_OK;
}

/* Hands a finished node to its parent (or makes it the root). Takes ownership of n. */
static vt_status attach(builder *b, vt_cfg_node *n) {
    if (b->depth == 0) {
        b->root = n;
        return VT_OK;
    }
    frame *f = &b->stack[b->depth - 1];
    if (f->node->type == VT_CFG_SEQ) {
        if (!vt__seq_push(f->node, n)) {
            vt__node_free(n);
            return oom(b);
        }
        return VT_OK;
    }
    if (!f->key) { /* this node is a key */
        vt_cfg_loc loc = n->loc;
        if (n->type == VT_CFG_MAP || n->type == VT_CFG_SEQ) {
            const char *kind = vt_cfg_type_name(n->type);
            vt__node_free(n);
            return fail_at(b, loc, VT_EFORMAT, "map keys must be scalars, not a %s", kind);
        }
        vt_cfg_entry *dup = vt__map_find(f->node, n->text);
        if (dup) {
            char first[VT_ERR_MSG_MAX / 4], msg[VT_ERR_MSG_MAX / 2];
            snprintf(msg, sizeof msg, "duplicate key '%.80s' (first defined at %s)", n->text,
                     vt__loc_fmt(dup->key_loc, first, sizeof first));
            vt__node_free(n);
            return fail_at(b, loc, VT_EFORMAT, "%s", msg);
        }
        f->key = strdup(n->text);
        f->key_loc = loc;
        if (!f->key) {
            vt__node_free(n);
            return oom(b);
        }
        bool anchored = false;
        for (size_t i = 0; i < b->n_anchors; i++) anchored |= b->anchors[i].node == n;
        if (!anchored) {
            vt__node_free(n);
        } else if (!vt__seq_push(b->grave, n)) {
            vt__node_free(n);
            return oom(b);
        }
        return VT_OK;
    }
    if (!vt__map_put(f->node, f->key, f->key_loc, n)) {
        vt__node_free(n);
        return oom(b);
    }
    f->key = NULL;
    return VT_OK;
}

static vt_status count_nodes(builder *b, size_t add, vt_cfg_loc loc) {
    b->n_nodes += add;
    if (b->n_nodes > VT_CFG_MAX_NODES)
        return fail_at(b, loc, VT_EFORMAT, "document too large (more than %s nodes after alias expansion)",
                       "200000");
    return VT_OK;
}

static bool std_tag(const char *tag, const char *suffix) {
    static const char prefix[] = "tag:yaml.org,2002:";
    return !strncmp(tag, prefix, sizeof prefix - 1) && !strcmp(tag + sizeof prefix - 1, suffix);
}

static vt_status on_scalar(builder *b, const yaml_event_t *ev) {
    vt_cfg_loc loc = mark_loc(b, ev->start_mark);
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (strlen(text) != len) return fail_at(b, loc, VT_EFORMAT, "%s", "NUL character in a scalar");
    if (len > VT_CFG_MAX_SCALAR_BYTES) return fail_at(b, loc, VT_EFORMAT, "%s", "scalar longer than 1 MiB");
    vt_cfg_style style;
    switch (ev->data.scalar.style) {
    case YAML_PLAIN_SCALAR_STYLE: style = VT_STYLE_PLAIN; break;
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = VT_STYLE_SQUOTE; break;
    default: style = VT_STYLE_QUOTED; break;
    }
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag) {
        if (std_tag(tag, "str") || !strcmp(tag, "!")) {
            if (style == VT_STYLE_PLAIN) style = VT_STYLE_QUOTED;
        } else if (!std_tag(tag, "int") && !std_tag(tag, "float") && !std_tag(tag, "bool") &&
                   !std_tag(tag, "null")) {
            return fail_at(b, loc, VT_EFORMAT, "unsupported tag '%.100s'", tag);
        }
    }
    vt_status st = count_nodes(b, 1, loc);
    if (st) return st;
    vt_cfg_node *n = vt__scalar_new(text, len, style, loc);
    if (!n) return oom(b);
    if (ev->data.scalar.anchor && (st = add_anchor(b, (const char *)ev->data.scalar.anchor, n))) {
        vt__node_free(n);
        return st;
    }
    return attach(b, n);
}

static vt_status on_alias(builder *b, const yaml_event_t *ev) {
    vt_cfg_loc loc = mark_loc(b, ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    const vt_cfg_node *src = NULL;
    for (size_t i = 0; i < b->n_anchors; i++)
        if (!strcmp(b->anchors[i].name, name)) src = b->anchors[i].node;
    if (!src) return fail_at(b, loc, VT_EFORMAT, "alias '*%.100s' names no finished anchor", name);
    if (b->depth + vt__node_height(src) > VT_CFG_MAX_DEPTH)
        return fail_at(b, loc, VT_EFORMAT, "nesting deeper than %s levels", "100");
    vt_status st = count_nodes(b, vt__node_count(src), loc);
    if (st) return st;
    vt_cfg_node *n = vt__node_copy(src);
    if (!n) return oom(b);
    return attach(b, n);
}

static vt_status on_start(builder *b, const yaml_event_t *ev, vt_cfg_type type) {
    vt_cfg_loc loc = mark_loc(b, ev->start_mark);
    const char *tag, *anchor;
    if (type == VT_CFG_MAP) {
        tag = (const char *)ev->data.mapping_start.tag;
        anchor = (const char *)ev->data.mapping_start.anchor;
    } else {
        tag = (const char *)ev->data.sequence_start.tag;
        anchor = (const char *)ev->data.sequence_start.anchor;
    }
    if (tag && !std_tag(tag, type == VT_CFG_MAP ? "map" : "seq"))
        return fail_at(b, loc, VT_EFORMAT, "unsupported tag '%.100s'", tag);
    if (b->depth == VT_CFG_MAX_DEPTH) return fail_at(b, loc, VT_EFORMAT, "nesting deeper than %s levels", "100");
    vt_status st = count_nodes(b, 1, loc);
    if (st) return st;
    vt_cfg_node *n = vt__node_new(type, loc);
    char *a = anchor ? strdup(anchor) : NULL;
    if (!n || (anchor && !a)) {
        free(n);
        free(a);
        return oom(b);
    }
    b->stack[b->depth++] = (frame){n, a, NULL, {0}};
    return VT_OK;
}

static vt_status on_end(builder *b) {
    frame f = b->stack[--b->depth];
    vt_status st = VT_OK;
    if (f.anchor) st = add_anchor(b, f.anchor, f.node);
    free(f.anchor);
    free(f.key); /* cannot be pending at a well-formed end, but be safe */
    if (st) {
        vt__node_free(f.node);
        return st;
    }
    return attach(b, f.node);
}

static vt_status syntax_error(builder *b, const yaml_parser_t *p, const char *text, size_t len) {
    char where[VT_ERR_MSG_MAX / 2];
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR) { /* only a byte offset: derive line and column */
        m.line = 0;
        m.column = 0;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
    }
    vt__loc_fmt(mark_loc(b, m), where, sizeof where);
    const char *problem = p->problem ? p->problem : "unknown error";
    if (!b->positions)
        return vt_err_set(b->err, VT_EFORMAT, "%s: YAML syntax error at column %zu: %s", where, m.column + 1,
                          problem);
    if (p->context && p->error != YAML_READER_ERROR)
        return vt_err_set(b->err, VT_EFORMAT, "%s: YAML syntax error: %s (%s started at line %zu, column %zu)",
                          where, problem, p->context, p->context_mark.line + 1, p->context_mark.column + 1);
    return vt_err_set(b->err, VT_EFORMAT, "%s: YAML syntax error: %s", where, problem);
}

vt_status vt__parse_yaml(const char *text, size_t len, const char *file, bool positions, vt_cfg_node **out,
                         vt_err *err) {
    *out = NULL;
    builder *b = calloc(1, sizeof *b);
    if (!b) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", file);
    b->file = file;
    b->positions = positions;
    b->err = err;
    b->grave = vt__node_new(VT_CFG_SEQ, (vt_cfg_loc){file, 0, 0});
    yaml_parser_t p;
    if (!b->grave || !yaml_parser_initialize(&p)) {
        free(b->grave);
        free(b);
        return vt_err_set(err, VT_ENOMEM, "%s: out of memory", file);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    vt_status st = VT_OK;
    int docs = 0;
    bool done = false;
    while (!done && st == VT_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            st = syntax_error(b, &p, text, len);
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                st = fail_at(b, mark_loc(b, ev.start_mark), VT_EFORMAT, "%s",
                             "only one YAML document is allowed per file");
            break;
        case YAML_SCALAR_EVENT: st = on_scalar(b, &ev); break;
        case YAML_ALIAS_EVENT: st = on_alias(b, &ev); break;
        case YAML_SEQUENCE_START_EVENT: st = on_start(b, &ev, VT_CFG_SEQ); break;
        case YAML_MAPPING_START_EVENT: st = on_start(b, &ev, VT_CFG_MAP); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: st = on_end(b); break;
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (b->depth > 0) {
        frame *f = &b->stack[--b->depth];
        vt__node_free(f->node);
        free(f->anchor);
        free(f->key);
    }
    for (size_t i = 0; i < b->n_anchors; i++) free(b->anchors[i].name);
    free(b->anchors);
    vt__node_free(b->grave);
    if (st == VT_OK && !b->root) { /* empty document */
        b->root = vt__scalar_new("", 0, VT_STYLE_PLAIN, positions ? (vt_cfg_loc){file, 1, 1}
                                                                   : (vt_cfg_loc){file, 0, 0});
        if (!b->root) st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", file);
    }
    if (st != VT_OK) {
        vt__node_free(b->root);
        b->root = NULL;
    }
    *out = b->root;
    free(b);
    return st;
}
