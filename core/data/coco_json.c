/* COCO annotation loader: file scanning and batching (see coco_json.h).
 *
 * Why batches: the DOM of a whole instances file is ~2.5x its size (16-byte nodes for 6-byte numbers).
 * Instead the top-level object is walked with a small structural scanner (strings, brackets; no values),
 * and each large array ("images", "annotations", "categories") is cut into runs of elements of about
 * BATCH_BYTES, each parsed by vt_json_parse and converted (coco_json_items.c, on a second thread, in file
 * order) while the next one is scanned and parsed; at most two batch DOMs exist at a time. The scanner
 * never judges JSON validity: whenever it or a batch parse finds something wrong, the whole file is parsed
 * once more with vt_json_parse, whose message (line, column, byte) is the one reported. File pages already
 * converted are dropped from memory as the scan moves on.
 *
 * Under VT_COCO_SKIP the annotations and images arrays, most of a file, are read by coco_json_fast.c
 * instead: no DOM, several threads, same results. */
#include "coco_json_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_BYTES ((size_t)1 << 20)

/* ---- scanner ---- */

const char *coco_skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* p at the opening quote; returns one past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '"') return p + 1;
        if (*p == '\\') p++;
    }
    return NULL;
}

/* Bytes the container scan must look at. */
static const unsigned char k_special[256] = {['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1};

/* p at the start of a value; returns one past its end, or NULL when the text ends first or the value is
 * structurally broken (the real parser then says how). */
const char *coco_skip_value(const char *p, const char *end) {
    if (p >= end) return NULL;
    if (*p == '"') return skip_string(p, end);
    if (*p == '[' || *p == '{') {
        size_t depth = 0;
        const unsigned char *q = (const unsigned char *)p, *e = (const unsigned char *)end;
        while (q < e) {
            while (q < e && !k_special[*q]) q++;
            if (q >= e) return NULL;
            switch (*q) {
            case '"': {
                const char *s = skip_string((const char *)q, end);
                if (!s) return NULL;
                q = (const unsigned char *)s;
                continue;
            }
            case '[':
            case '{': depth++; break;
            default:
                if (--depth == 0) return (const char *)q + 1;
            }
            q++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\n' && *p != '\r' &&
           *p != '\t')
        p++;
    return p;
}

/* ---- positions and errors ---- */

void coco_line_col(const coco_builder *b, size_t off, size_t *line, size_t *col) {
    size_t l = 1, last_nl = 0;
    int seen = 0;
    const char *p = b->text, *e = b->text + (off < b->len ? off : b->len);
    while ((p = memchr(p, '\n', (size_t)(e - p)))) {
        l++;
        last_nl = (size_t)(p - b->text);
        seen = 1;
        p++;
    }
    *line = l;
    *col = seen ? off - last_nl : off + 1;
}

vt_status coco_bad(coco_builder *b, vt_coco_bad kind, size_t off, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t line, col;
    if (b->policy == VT_COCO_FAIL || b->c->n_bad[kind] == 0) coco_line_col(b, off, &line, &col);
    if (b->policy == VT_COCO_FAIL)
        return vt_err_set(b->err, VT_EFORMAT, "%s:%zu:%zu: %s (byte %zu)", b->name, line, col, msg, off);
    if (b->c->n_bad[kind]++ == 0)
        snprintf(b->c->first_bad[kind], sizeof b->c->first_bad[kind], "%zu:%zu: %s", line, col, msg);
    return VT_OK;
}

/* Something is structurally wrong: let the real parser find and describe it. */
vt_status coco_syntax_error(coco_builder *b, const char *p, vt_err *err) {
    vt_json_doc *doc = NULL;
    vt_json_opts o = {.name = b->name};
    vt_status st = vt_json_parse(b->text, b->len, &o, &doc, NULL, err);
    if (st != VT_OK) return st;
    vt_json_doc_free(doc);
    size_t line, col, off = (size_t)(p - b->text);
    coco_line_col(b, off, &line, &col);
    return vt_err_set(err, VT_EFORMAT, "%s:%zu:%zu: not a COCO annotation file: expected an object of "
                      "arrays here (byte %zu)", b->name, line, col, off);
}

/* Returns pages wholly before p to the kernel: they are file-backed and never read again (error messages
 * that count lines re-read them from the page cache). */
static void drop_before(coco_builder *b, const char *p) {
    if (!b->mapped) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t upto = (size_t)(p - b->text) / page * page;
    if (upto > b->dropped + ((size_t)16 << 20)) {
        madvise((char *)b->text + b->dropped, upto - b->dropped, MADV_DONTNEED);
        b->dropped = upto;
    }
}

/* ---- arrays in batches ----
 * Two stages overlap: while a worker thread converts batch i (the order of conversion is the file's, so
 * results never depend on timing), the calling thread scans and parses batch i+1. */

typedef vt_status (*item_fn)(coco_builder *b, const vt_json *v, size_t off);

typedef struct batch {
    char *buf;
    size_t cap;
    size_t *offs, n, cap_offs; /* file offset of each element */
    vt_json_doc *doc;
    const char *after; /* scan position after the batch */
    bool last;         /* the array's closing bracket was reached */
    /* conversion */
    coco_builder *b;
    item_fn fn;
    vt_status st;
} batch;

/* Scans elements from p (just after '[' or ',') up to about BATCH_BYTES and parses them as one array. */
static vt_status prepare(coco_builder *b, batch *bt, const char *p, vt_err *err) {
    const char *end = b->text + b->len, *start = p, *last_end = p;
    bt->n = 0;
    bt->last = false;
    while (!bt->last && (size_t)(p - start) < BATCH_BYTES) {
        const char *e = coco_skip_value(p, end);
        if (!e) return coco_syntax_error(b, p, err);
        if (bt->n == bt->cap_offs) {
            size_t cap = bt->cap_offs ? 2 * bt->cap_offs : 1024;
            size_t *o = realloc(bt->offs, cap * sizeof *o);
            if (!o) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", b->name);
            bt->offs = o, bt->cap_offs = cap;
        }
        bt->offs[bt->n++] = (size_t)(p - b->text);
        last_end = e;
        p = coco_skip_ws(e, end);
        if (p < end && *p == ',') p = coco_skip_ws(p + 1, end);
        else if (p < end && *p == ']') bt->last = true, p++;
        else return coco_syntax_error(b, p, err);
    }
    bt->after = p;
    size_t n = (size_t)(last_end - start);
    if (n + 2 > bt->cap) {
        char *nb = realloc(bt->buf, n + 2);
        if (!nb) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", b->name);
        bt->buf = nb, bt->cap = n + 2;
    }
    bt->buf[0] = '[';
    memcpy(bt->buf + 1, start, n);
    bt->buf[n + 1] = ']';
    vt_json_opts o = {.name = b->name};
    if (vt_json_parse(bt->buf, n + 2, &o, &bt->doc, NULL, NULL) != VT_OK) return coco_syntax_error(b, start, err);
    return VT_OK;
}

static void *convert(void *arg) {
    batch *bt = arg;
    const vt_json *arr = vt_json_root(bt->doc);
    bt->st = VT_OK;
    for (size_t i = 0; i < bt->n && bt->st == VT_OK; i++) bt->st = bt->fn(bt->b, vt_json_at(arr, i), bt->offs[i]);
    return NULL;
}

/* p just after '['; *pp receives the position after the closing ']'. */
static vt_status array_batches(coco_builder *b, const char *p, item_fn fn, const char **pp) {
    const char *end = b->text + b->len;
    p = coco_skip_ws(p, end);
    if (p < end && *p == ']') {
        *pp = p + 1;
        return VT_OK;
    }
    batch bt[2] = {{.b = b, .fn = fn}, {.b = b, .fn = fn}};
    int cur = 0;
    vt_err perr = {0};
    vt_status st = prepare(b, &bt[0], p, b->err), pst = VT_OK;
    while (st == VT_OK) {
        pthread_t th;
        bool threaded = pthread_create(&th, NULL, convert, &bt[cur]) == 0;
        if (!threaded) convert(&bt[cur]);
        bool more = !bt[cur].last;
        if (more) pst = prepare(b, &bt[cur ^ 1], bt[cur].after, &perr);
        if (threaded) pthread_join(th, NULL);
        vt_json_doc_free(bt[cur].doc);
        bt[cur].doc = NULL;
        if ((st = bt[cur].st) != VT_OK) break; /* an earlier batch's error comes first */
        if (pst != VT_OK) {
            if (b->err) *b->err = perr;
            st = pst;
            break;
        }
        drop_before(b, bt[cur].after);
        if (!more) {
            *pp = bt[cur].after;
            break;
        }
        cur ^= 1;
    }
    for (int k = 0; k < 2; k++) {
        vt_json_doc_free(bt[k].doc);
        free(bt[k].buf);
        free(bt[k].offs);
    }
    return st;
}

/* ---- the top-level object ---- */

static vt_status walk(coco_builder *b) {
    const char *p = b->text, *end = b->text + b->len;
    if (b->len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    p = coco_skip_ws(p, end);
    if (p >= end || *p != '{') return coco_syntax_error(b, p, b->err);
    p = coco_skip_ws(p + 1, end);
    if (p < end && *p == '}') p++;
    else
        for (;;) {
            if (p >= end || *p != '"') return coco_syntax_error(b, p, b->err);
            const char *ke = skip_string(p, end);
            if (!ke) return coco_syntax_error(b, p, b->err);
            size_t klen = (size_t)(ke - p - 2);
            const char *key = p + 1;
            p = coco_skip_ws(ke, end);
            if (p >= end || *p != ':') return coco_syntax_error(b, p, b->err);
            p = coco_skip_ws(p + 1, end);
            item_fn fn = NULL;
            /* keys with escapes are not ones we read: fine to compare the raw bytes */
            if (klen == 6 && !memcmp(key, "images", 6)) fn = coco_add_image;
            else if (klen == 11 && !memcmp(key, "annotations", 11)) fn = coco_add_annotation;
            else if (klen == 10 && !memcmp(key, "categories", 10)) fn = coco_add_category;
            if (fn && p < end && *p == '[') {
                /* the fast reader only counts bad entries: failing on the first keeps the batch path's order.
                 * VISFT_COCO_BATCH=1 forces the batch path (tests compare the two) */
                bool fast = b->policy == VT_COCO_SKIP && !getenv("VISFT_COCO_BATCH");
                vt_status st = fast && fn == coco_add_annotation ? coco_fast_annotations(b, p + 1, &p)
                               : fast && fn == coco_add_image    ? coco_fast_images(b, p + 1, &p)
                                                                 : array_batches(b, p + 1, fn, &p);
                if (st) return st;
            } else {
                /* info, licenses, ...: validated, not kept */
                const char *e = coco_skip_value(p, end);
                if (!e) return coco_syntax_error(b, p, b->err);
                vt_json_doc *doc = NULL;
                if (vt_json_parse(p, (size_t)(e - p), NULL, &doc, NULL, NULL) != VT_OK) return coco_syntax_error(b, p, b->err);
                vt_json_doc_free(doc);
                if (fn) {
                    size_t line, col, off = (size_t)(p - b->text);
                    coco_line_col(b, off, &line, &col);
                    return vt_err_set(b->err, VT_EFORMAT, "%s:%zu:%zu: \"%.*s\" must be an array (byte %zu)",
                                      b->name, line, col, (int)klen, key, off);
                }
                p = e;
            }
            p = coco_skip_ws(p, end);
            if (p < end && *p == ',') {
                p = coco_skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return coco_syntax_error(b, p, b->err);
        }
    p = coco_skip_ws(p, end);
    if (p != end) return coco_syntax_error(b, p, b->err);
    return VT_OK;
}

vt_status vt_coco_load(const char *path, const vt_coco_opts *opts, vt_coco **out, vt_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vt_err_set(err, VT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return vt_err_set(err, VT_EIO, "%s: not a regular file", path);
    }
    coco_builder b = {.name = path, .len = (size_t)sb.st_size, .err = err,
                      .policy = opts ? opts->on_bad : VT_COCO_SKIP};
    void *map = b.len ? mmap(NULL, b.len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    char *buf = NULL;
    if (map != MAP_FAILED) {
        madvise(map, b.len, MADV_SEQUENTIAL);
        b.text = map;
        b.mapped = true;
    } else {
        buf = malloc(b.len ? b.len : 1);
        size_t got = 0;
        while (buf && got < b.len) {
            ssize_t r = read(fd, buf + got, b.len - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (!buf || got < b.len) {
            free(buf);
            close(fd);
            return vt_err_set(err, buf ? VT_EIO : VT_ENOMEM, "%s: cannot read the file", path);
        }
        b.text = buf;
    }
    b.fd = fd; /* the fast reader reads with pread rather than through the mapping */
    vt_status st = VT_OK;
    b.c = calloc(1, sizeof *b.c);
    if (!b.c || !(b.c->path = strdup(path))) st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    if (!st) st = coco_builder_init(&b);
    if (!st) st = walk(&b);
    if (!st) st = coco_finish(&b);
    coco_builder_free(&b);
    close(fd);
    if (map != MAP_FAILED) munmap(map, b.len);
    free(buf);
    if (st) {
        vt_coco_free(b.c);
        return st;
    }
    *out = b.c;
    return VT_OK;
}

size_t vt_coco_summary(const vt_coco *c, char *buf, size_t size) {
    static const char *const what[VT_COCO_BAD_COUNT] = {
        "images: missing id/size or duplicate id", "annotations: image_id not in images",
        "annotations: unknown category_id", "annotations: bad bbox", "annotations: bad segmentation",
        "entries: missing or mistyped fields"};
    size_t n = 0;
    if (size) buf[0] = '\0';
    for (int k = 0; k < VT_COCO_BAD_COUNT; k++) {
        if (!c->n_bad[k]) continue;
        int w = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s: skipped %zu %s (first: %s:%s)\n",
                         c->path, c->n_bad[k], what[k], c->path, c->first_bad[k]);
        if (w > 0) n += (size_t)w;
    }
    return n;
}
