/* Config tree -> YAML text through libyaml's emitter, which owns the quoting rules.
 *
 * Round trip: a scalar is emitted plain only when its plain reading has the same type as the node
 * (an int stays plain, the string "3" is quoted); null is always written as `null`. libyaml falls back
 * to quotes whenever plain text would not read back the same, so re-parsing gives a vt_cfg_equal tree.
 * Text containing "${" is escaped ("$${") so loading the output does not expand it a second time. */
#include "cfg_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

typedef struct sink {
    FILE *f;
    char *buf;
    size_t len, cap;
    bool failed;
} sink;

static int sink_write(void *data, unsigned char *bytes, size_t size) {
    sink *s = data;
    if (s->f) {
        if (fwrite(bytes, 1, size, s->f) != size) s->failed = true;
        return !s->failed;
    }
    if (s->len + size + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + size + 1) cap *= 2;
        char *p = realloc(s->buf, cap);
        if (!p) {
            s->failed = true;
            return 0;
        }
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, bytes, size);
    s->len += size;
    s->buf[s->len] = '\0';
    return 1;
}

static bool scalar(yaml_emitter_t *em, const char *text, bool plain_ok, bool force_plain) {
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), plain_ok, !force_plain,
                                      force_plain ? YAML_PLAIN_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE))
        return false;
    return yaml_emitter_emit(em, &ev);
}

/* Text holding "${" must not be expanded when read back: write it double-quoted with every "${" as "$${"
 * (single quotes would do, but libyaml may switch those to double quotes on its own). */
static bool expansion_safe(yaml_emitter_t *em, const char *text) {
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "${")); p += 2) n++;
    size_t len = strlen(text);
    char *esc = malloc(len + n + 1);
    if (!esc) return false;
    char *o = esc;
    for (const char *p = text; *p; p++) {
        if (p[0] == '$' && p[1] == '{') *o++ = '$';
        *o++ = *p;
    }
    *o = '\0';
    yaml_event_t ev;
    bool ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)esc, (int)(len + n), 0, 1,
                                           YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
              yaml_emitter_emit(em, &ev);
    free(esc);
    return ok;
}

static bool emit_node(yaml_emitter_t *em, const vt_cfg_node *n) {
    yaml_event_t ev;
    switch (n->type) {
    case VT_CFG_MAP:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        for (size_t i = 0; i < n->n; i++) {
            const char *k = n->ents[i].key;
            if (!scalar(em, k, vt__resolve_plain(k) == VT_CFG_STRING, false) || !emit_node(em, n->ents[i].val))
                return false;
        }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    case VT_CFG_SEQ:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        for (size_t i = 0; i < n->n; i++)
            if (!emit_node(em, n->items[i])) return false;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    case VT_CFG_NULL: return scalar(em, "null", true, true);
    case VT_CFG_STRING:
        if (strstr(n->text, "${")) return expansion_safe(em, n->text);
        return scalar(em, n->text, vt__resolve_plain(n->text) == VT_CFG_STRING, false);
    default: return scalar(em, n->text, true, true);
    }
}

static vt_status emit_to(const vt_cfg_node *node, sink *s, vt_err *err) {
    if (!node) return vt_err_set(err, VT_EINVAL, "vt_cfg_emit: NULL node");
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) return vt_err_set(err, VT_ENOMEM, "emit: out of memory");
    yaml_emitter_set_output(&em, sink_write, s);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_event_t ev;
    bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
              yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &ev) &&
              emit_node(&em, node) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
              yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
    vt_status st = VT_OK;
    if (s->failed)
        st = vt_err_set(err, s->f ? VT_EIO : VT_ENOMEM, "emit: %s", s->f ? strerror(errno) : "out of memory");
    else if (!ok)
        st = vt_err_set(err, VT_EINVAL, "emit: %s", em.problem ? em.problem : "libyaml emitter error");
    yaml_emitter_delete(&em);
    return st;
}

vt_status vt_cfg_emit(const vt_cfg_node *node, FILE *f, vt_err *err) {
    if (!f) return vt_err_set(err, VT_EINVAL, "vt_cfg_emit: NULL file");
    sink s = {.f = f};
    return emit_to(node, &s, err);
}

vt_status vt_cfg_emit_string(const vt_cfg_node *node, char **out, vt_err *err) {
    if (!out) return vt_err_set(err, VT_EINVAL, "vt_cfg_emit_string: out is NULL");
    *out = NULL;
    sink s = {0};
    vt_status st = emit_to(node, &s, err);
    if (st) {
        free(s.buf);
        return st;
    }
    *out = s.buf ? s.buf : strdup("");
    return *out ? VT_OK : vt_err_set(err, VT_ENOMEM, "emit: out of memory");
}

vt_status vt_cfg_write_file(const vt_cfg_node *node, const char *path, vt_err *err) {
    if (!path) return vt_err_set(err, VT_EINVAL, "vt_cfg_write_file: NULL path");
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        vt_status st = vt_err_set(err, VT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    vt_status st = vt_cfg_emit(node, f, err);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        if (!st) st = vt_err_set(err, VT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 && !st) st = vt_err_set(err, VT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (!st && rename(tmp, path) != 0) st = vt_err_set(err, VT_EIO, "%s: cannot rename into place: %s", path,
                                                       strerror(errno));
    if (st) remove(tmp);
    free(tmp);
    return st;
}
