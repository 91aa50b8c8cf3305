/* CSV reader for image_text: RFC 4180 fields (quoted with "", "" inside quotes is a quote, separators and
 * newlines allowed inside quotes, CRLF or LF rows, a UTF-8 BOM ignored). The first row is the header and
 * names the image and caption columns (open_clip's --csv-img-key / --csv-caption-key); an optional split
 * column filters rows. Consecutive rows naming the same file become one image with several captions. */
#include <stdlib.h>
#include <string.h>

#include "image_text.h"

#define MAX_FIELDS 64

typedef struct csv_field {
    char *text; /* unescaped, NUL-terminated (malloc'ed) */
    size_t len;
} csv_field;

typedef struct csv_reader {
    const char *p, *end;
    size_t line;        /* 1-based line of the current position */
    char sep;
    const char *name;
} csv_reader;

/* Reads one row into fields; *n = 0 at end of input. Blank lines are skipped. */
static vt_status read_row(csv_reader *c, csv_field *fields, size_t *n, size_t *row_line, vt_err *err) {
    *n = 0;
    while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) { /* blank lines */
        if (*c->p == '\n') c->line++;
        c->p++;
    }
    if (c->p >= c->end) return VT_OK;
    *row_line = c->line;
    for (;;) {
        if (*n == MAX_FIELDS)
            return vt_err_set(err, VT_EFORMAT, "%s:%zu: more than %d fields in a row", c->name, c->line, MAX_FIELDS);
        size_t cap = 64, len = 0;
        char *buf = malloc(cap);
        if (!buf) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", c->name);
        fields[(*n)++] = (csv_field){buf, 0};
        bool quoted = c->p < c->end && *c->p == '"';
        size_t start_line = c->line;
        if (quoted) c->p++;
        for (;;) {
            if (c->p >= c->end) {
                if (quoted) {
                    return vt_err_set(err, VT_EFORMAT, "%s:%zu: quoted field never closed (end of file)", c->name,
                                      start_line);
                }
                break;
            }
            char ch = *c->p;
            if (quoted && ch == '"') {
                if (c->p + 1 < c->end && c->p[1] == '"') {
                    c->p += 2;
                } else {
                    c->p++;
                    if (c->p < c->end && *c->p != c->sep && *c->p != '\n' && *c->p != '\r')
                        return vt_err_set(err, VT_EFORMAT, "%s:%zu: text after a closing quote", c->name, c->line);
                    quoted = false;
                    continue;
                }
            } else if (!quoted && (ch == c->sep || ch == '\n' || ch == '\r')) {
                break;
            } else if (!quoted && ch == '"') {
                return vt_err_set(err, VT_EFORMAT, "%s:%zu: a quote inside an unquoted field (quote the whole field)",
                                  c->name, c->line);
            } else {
                if (ch == '\n') c->line++;
                c->p++;
            }
            if (len + 2 > cap) {
                cap *= 2;
                char *nb = realloc(buf, cap);
                if (!nb) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", c->name);
                fields[*n - 1].text = buf = nb;
            }
            buf[len++] = ch;
        }
        buf[len] = '\0';
        fields[*n - 1].len = len;
        if (c->p < c->end && *c->p == c->sep) {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '\r') c->p++;
        if (c->p < c->end && *c->p == '\n') {
            c->p++;
            c->line++;
        }
        return VT_OK;
    }
}

static void free_fields(csv_field *f, size_t n) {
    for (size_t i = 0; i < n; i++) free(f[i].text);
}

static int find_column(const csv_field *h, size_t n, const char *name) {
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(h[i].text, name) == 0) return (int)i;
    return -1;
}

vt_status it_read_csv(const char *text, size_t len, const it_read_opts *o, it_records *r, vt_err *err) {
    csv_reader c = {text, text + len, 1, o->separator ? o->separator : ',', o->name};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) c.p += 3;
    csv_field f[MAX_FIELDS];
    size_t n = 0, line = 1;
    vt_status st = read_row(&c, f, &n, &line, err);
    if (st != VT_OK) {
        free_fields(f, n);
        return st;
    }
    if (n == 0) return vt_err_set(err, VT_EFORMAT, "%s: empty CSV (expected a header row)", o->name);
    int ci = find_column(f, n, o->image_column), cc = find_column(f, n, o->caption_column);
    int cs = find_column(f, n, o->split_column);
    size_t n_cols = n;
    if (ci < 0 || cc < 0) {
        st = vt_err_set(err, VT_EFORMAT, "%s:%zu: the header lacks column \"%s\" (header: %s%s%s...)", o->name, line,
                        ci < 0 ? o->image_column : o->caption_column, f[0].text, n > 1 ? "," : "",
                        n > 1 ? f[1].text : "");
        free_fields(f, n);
        return st;
    }
    free_fields(f, n);
    char *last = NULL;
    for (;;) {
        st = read_row(&c, f, &n, &line, err);
        if (st != VT_OK || n == 0) break;
        if (n != n_cols) {
            st = vt_err_set(err, VT_EFORMAT, "%s:%zu: %zu fields, the header has %zu", o->name, line, n, n_cols);
            break;
        }
        if (f[ci].len == 0) {
            st = vt_err_set(err, VT_EFORMAT, "%s:%zu: empty image path", o->name, line);
            break;
        }
        if (memchr(f[ci].text, '\0', f[ci].len) || memchr(f[cc].text, '\0', f[cc].len)) {
            st = vt_err_set(err, VT_EFORMAT, "%s:%zu: NUL byte in a field", o->name, line);
            break;
        }
        if (!it_split_matches(o, cs >= 0 ? f[cs].text : NULL)) {
            free_fields(f, n);
            continue;
        }
        if (!last || strcmp(last, f[ci].text) != 0) {
            st = it_add_image(r, o, NULL, f[ci].text, (int64_t)r->n_images, err);
            free(last);
            last = st == VT_OK ? strdup(f[ci].text) : NULL;
            if (st == VT_OK && !last) st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", o->name);
        }
        if (st == VT_OK) st = it_add_caption(r, f[cc].text, f[cc].len, err);
        free_fields(f, n);
        n = 0;
        if (st != VT_OK) break;
    }
    free_fields(f, n);
    free(last);
    return st;
}
