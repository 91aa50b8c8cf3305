/* safetensors reader (see visft/safetensors.h).
 *
 * Everything in the file is untrusted: the header length is bounded before it is used, every size is
 * computed in 64 bits with overflow checks, and the tensors' byte ranges must tile the data buffer exactly,
 * as the official implementation requires. After open succeeds, every tensor's data pointer and size are
 * known to lie inside the file, so later readers need no checks of their own. */
#include "visft/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "visft/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; a big-endian host needs byte swapping here"
#endif

struct vt_st_file {
    char *name;
    const unsigned char *base; /* whole file */
    size_t size;
    void *map; /* mmap'd region (size bytes) or NULL */
    void *owned; /* read-into-memory fallback or NULL */
    vt_json_doc *doc;
    vt_st_tensor *tensors; /* header order */
    size_t n;
    const vt_st_tensor **by_name; /* sorted by name */
    const char **meta; /* key, value, key, value, ... */
    size_t n_meta;
};

/* Writes a printable, bounded rendering of untrusted text (tensor names, dtypes) for messages. */
static const char *show(char *buf, size_t cap, const char *s, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o + 8 > cap) {
            memcpy(buf + o, "...", 4);
            return buf;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

#define SHOW_MAX 96

__attribute__((format(printf, 4, 5))) static vt_status st_fail(vt_err *err, vt_status code, const char *file,
                                                               const char *fmt, ...) {
    char msg[VT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vt_err_set(err, code, "%.200s: %s", file, msg);
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Official dtypes visft does not handle: named as unsupported rather than unknown. */
static const char *const other_st_dtypes[] = {"F64", "I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
                                              "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64", "E8M0"};

static int parse_st_dtype(const char *s, size_t len, vt_dtype *out) {
    for (int i = 0; i < VT_DTYPE_COUNT; i++) {
        const char *n = vt_dtype_st_name((vt_dtype)i);
        if (strlen(n) == len && memcmp(n, s, len) == 0) {
            *out = (vt_dtype)i;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof other_st_dtypes / sizeof other_st_dtypes[0]; i++)
        if (strlen(other_st_dtypes[i]) == len && memcmp(other_st_dtypes[i], s, len) == 0) return 1;
    return -1;
}

static int fmt_shape(char *buf, size_t cap, const vt_st_tensor *t) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return 0;
}

/* Validates one header entry and fills t (except data, which needs the data buffer's base). */
static vt_status parse_entry(const vt_st_file *f, const vt_json *key, const vt_json *val, uint64_t data_len,
                             vt_st_tensor *t, vt_err *err) {
    char nm[SHOW_MAX], tmp[SHOW_MAX];
    const char *file = f->name;
    show(nm, sizeof nm, vt_json_string(key), vt_json_string_len(key));
    if (strlen(vt_json_string(key)) != vt_json_string_len(key))
        return st_fail(err, VT_EFORMAT, file, "tensor name '%s' contains a NUL byte", nm);
    t->name = vt_json_string(key);
    if (!vt_json_is_object(val))
        return st_fail(err, VT_EFORMAT, file, "tensor '%s': entry is a %s, not an object", nm,
                       vt_json_type_name(vt_json_typeof(val)));
    const vt_json *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (size_t i = 0; i < vt_json_len(val); i++) {
        const vt_json *k = vt_json_member_key(val, i), *v = vt_json_member_value(val, i);
        const char *ks = vt_json_string(k);
        size_t kl = vt_json_string_len(k);
        const vt_json **slot = NULL;
        if (kl == 5 && !memcmp(ks, "dtype", 5)) slot = &dtype;
        else if (kl == 5 && !memcmp(ks, "shape", 5)) slot = &shape;
        else if (kl == 12 && !memcmp(ks, "data_offsets", 12)) slot = &offsets;
        if (!slot)
            return st_fail(err, VT_EFORMAT, file, "tensor '%s': unexpected field '%s'", nm,
                           show(tmp, sizeof tmp, ks, kl));
        if (*slot) return st_fail(err, VT_EFORMAT, file, "tensor '%s': duplicate field '%s'", nm, ks);
        *slot = v;
    }
    if (!dtype) return st_fail(err, VT_EFORMAT, file, "tensor '%s': missing field 'dtype'", nm);
    if (!shape) return st_fail(err, VT_EFORMAT, file, "tensor '%s': missing field 'shape'", nm);
    if (!offsets) return st_fail(err, VT_EFORMAT, file, "tensor '%s': missing field 'data_offsets'", nm);

    if (!vt_json_is_string(dtype))
        return st_fail(err, VT_EFORMAT, file, "tensor '%s': dtype is a %s, not a string", nm,
                       vt_json_type_name(vt_json_typeof(dtype)));
    int r = parse_st_dtype(vt_json_string(dtype), vt_json_string_len(dtype), &t->dtype);
    if (r > 0) return st_fail(err, VT_EDTYPE, file, "unsupported dtype %s for tensor '%s'", vt_json_string(dtype), nm);
    if (r < 0)
        return st_fail(err, VT_EFORMAT, file, "unknown dtype '%s' for tensor '%s'",
                       show(tmp, sizeof tmp, vt_json_string(dtype), vt_json_string_len(dtype)), nm);

    if (!vt_json_is_array(shape))
        return st_fail(err, VT_EFORMAT, file, "tensor '%s': shape is a %s, not an array", nm,
                       vt_json_type_name(vt_json_typeof(shape)));
    if (vt_json_len(shape) > VT_ST_MAX_DIMS)
        return st_fail(err, VT_EUNSUPPORTED, file, "tensor '%s': shape has %zu dims (at most %d supported)", nm,
                       vt_json_len(shape), VT_ST_MAX_DIMS);
    t->ndim = (int)vt_json_len(shape);
    uint64_t numel = 1;
    bool overflow = false;
    for (int d = 0; d < t->ndim; d++) {
        int64_t dim;
        if (!vt_json_int64_literal(vt_json_at(shape, (size_t)d), &dim) || dim < 0)
            return st_fail(err, VT_EFORMAT, file, "tensor '%s': shape[%d] is not a non-negative integer", nm, d);
        t->shape[d] = dim;
        if (__builtin_mul_overflow(numel, (uint64_t)dim, &numel)) overflow = true;
    }
    uint64_t nbytes;
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)vt_dtype_size(t->dtype), &nbytes) || nbytes > SIZE_MAX) {
        char sh[SHOW_MAX];
        fmt_shape(sh, sizeof sh, t);
        /* 0 in some other dim makes the product 0, but an overflowing partial product still means nonsense */
        return st_fail(err, VT_EFORMAT, file, "tensor '%s': shape %s is too large (byte size overflows 64 bits)",
                       nm, sh);
    }
    t->numel = (size_t)numel;
    t->nbytes = (size_t)nbytes;

    int64_t b, e;
    if (!vt_json_is_array(offsets) || vt_json_len(offsets) != 2)
        return st_fail(err, VT_EFORMAT, file, "tensor '%s': data_offsets is not an array of 2 integers", nm);
    if (!vt_json_int64_literal(vt_json_at(offsets, 0), &b) || !vt_json_int64_literal(vt_json_at(offsets, 1), &e) ||
        b < 0 || e < 0)
        return st_fail(err, VT_EFORMAT, file, "tensor '%s': data_offsets must be non-negative integers", nm);
    if (b > e)
        return st_fail(err, VT_EFORMAT, file, "tensor '%s': data_offsets [%lld, %lld] end before they begin", nm,
                       (long long)b, (long long)e);
    if ((uint64_t)e > data_len)
        return st_fail(err, VT_EFORMAT, file,
                       "tensor '%s': data_offsets [%lld, %lld] out of bounds (data buffer is %llu bytes)", nm,
                       (long long)b, (long long)e, (unsigned long long)data_len);
    if ((uint64_t)(e - b) != nbytes) {
        char sh[SHOW_MAX];
        fmt_shape(sh, sizeof sh, t);
        return st_fail(err, VT_EFORMAT, file,
                       "tensor '%s': data_offsets [%lld, %lld] span %lld bytes but %s %s needs %llu bytes", nm,
                       (long long)b, (long long)e, (long long)(e - b), vt_dtype_st_name(t->dtype), sh,
                       (unsigned long long)nbytes);
    }
    t->offset = (uint64_t)b;
    return VT_OK;
}

static vt_status parse_metadata(vt_st_file *f, const vt_json *val, vt_err *err) {
    char tmp[SHOW_MAX];
    if (vt_json_is_null(val)) return VT_OK; /* the official reader treats null as absent */
    if (!vt_json_is_object(val))
        return st_fail(err, VT_EFORMAT, f->name, "__metadata__ is a %s, not an object of strings",
                       vt_json_type_name(vt_json_typeof(val)));
    size_t n = vt_json_len(val);
    size_t dup = vt_json_object_find_duplicate(val);
    if (dup != SIZE_MAX) {
        const vt_json *k = vt_json_member_key(val, dup);
        return st_fail(err, VT_EFORMAT, f->name, "__metadata__: duplicate key '%s'",
                       show(tmp, sizeof tmp, vt_json_string(k), vt_json_string_len(k)));
    }
    f->meta = calloc(n ? 2 * n : 1, sizeof *f->meta);
    if (!f->meta) return st_fail(err, VT_ENOMEM, f->name, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const vt_json *k = vt_json_member_key(val, i), *v = vt_json_member_value(val, i);
        show(tmp, sizeof tmp, vt_json_string(k), vt_json_string_len(k));
        if (!vt_json_is_string(v))
            return st_fail(err, VT_EFORMAT, f->name, "__metadata__: value of '%s' is a %s, not a string", tmp,
                           vt_json_type_name(vt_json_typeof(v)));
        if (strlen(vt_json_string(k)) != vt_json_string_len(k) || strlen(vt_json_string(v)) != vt_json_string_len(v))
            return st_fail(err, VT_EFORMAT, f->name, "__metadata__: entry '%s' contains a NUL byte", tmp);
        f->meta[2 * i] = vt_json_string(k);
        f->meta[2 * i + 1] = vt_json_string(v);
    }
    f->n_meta = n;
    return VT_OK;
}

static int by_offset(const void *a, const void *b) {
    const vt_st_tensor *x = *(const vt_st_tensor *const *)a, *y = *(const vt_st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const vt_st_tensor *const *)a)->name, (*(const vt_st_tensor *const *)b)->name);
}

/* The ranges, sorted, must run 0..data_len with each beginning where the previous ended. */
static vt_status check_tiling(vt_st_file *f, uint64_t data_len, vt_err *err) {
    const vt_st_tensor **order = f->by_name; /* reused as scratch; sorted by name afterwards */
    char a[SHOW_MAX], b[SHOW_MAX];
    for (size_t i = 0; i < f->n; i++) order[i] = &f->tensors[i];
    qsort(order, f->n, sizeof *order, by_offset);
    uint64_t pos = 0;
    for (size_t i = 0; i < f->n; i++) {
        const vt_st_tensor *t = order[i];
        if (t->offset < pos) {
            const vt_st_tensor *p = order[i - 1];
            return st_fail(err, VT_EFORMAT, f->name, "tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                           show(a, sizeof a, p->name, strlen(p->name)), (unsigned long long)p->offset,
                           (unsigned long long)(p->offset + p->nbytes), show(b, sizeof b, t->name, strlen(t->name)),
                           (unsigned long long)t->offset, (unsigned long long)(t->offset + t->nbytes));
        }
        if (t->offset > pos)
            return st_fail(err, VT_EFORMAT, f->name,
                           "hole in data buffer: bytes [%llu, %llu) belong to no tensor (before '%s')",
                           (unsigned long long)pos, (unsigned long long)t->offset,
                           show(a, sizeof a, t->name, strlen(t->name)));
        pos = t->offset + t->nbytes;
    }
    if (pos != data_len)
        return st_fail(err, VT_EFORMAT, f->name,
                       "data buffer has %llu bytes but tensors cover only %llu (bytes [%llu, %llu) belong to no tensor)",
                       (unsigned long long)data_len, (unsigned long long)pos, (unsigned long long)pos,
                       (unsigned long long)data_len);
    return VT_OK;
}

static vt_status parse_file(vt_st_file *f, vt_err *err) {
    if (f->size < 8)
        return st_fail(err, VT_EFORMAT, f->name, "file is %zu bytes, too short for the 8-byte header length", f->size);
    uint64_t hlen = le64(f->base);
    if (hlen > VT_ST_MAX_HEADER)
        return st_fail(err, VT_EFORMAT, f->name, "header length %llu exceeds the limit of %llu bytes",
                       (unsigned long long)hlen, (unsigned long long)VT_ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return st_fail(err, VT_EFORMAT, f->name, "header length %llu runs past the end of the file (%zu bytes)",
                       (unsigned long long)hlen, f->size);
    /* JSON allows a byte-order mark; the official reader does not, so neither do we. */
    if (hlen >= 3 && f->base[8] == 0xef && f->base[9] == 0xbb && f->base[10] == 0xbf)
        return st_fail(err, VT_EFORMAT, f->name, "header starts with a UTF-8 byte-order mark");
    char jname[256];
    snprintf(jname, sizeof jname, "%.200s: header", f->name);
    vt_json_opts jo = {.name = jname, .max_depth = 64};
    vt_status st = vt_json_parse((const char *)f->base + 8, (size_t)hlen, &jo, &f->doc, NULL, err);
    if (st != VT_OK) return st;
    const vt_json *root = vt_json_root(f->doc);
    if (!vt_json_is_object(root))
        return st_fail(err, VT_EFORMAT, f->name, "header is a JSON %s, not an object",
                       vt_json_type_name(vt_json_typeof(root)));
    size_t dup = vt_json_object_find_duplicate(root);
    if (dup != SIZE_MAX) {
        char nm[SHOW_MAX];
        const vt_json *k = vt_json_member_key(root, dup);
        return st_fail(err, VT_EFORMAT, f->name, "duplicate tensor name '%s' in header",
                       show(nm, sizeof nm, vt_json_string(k), vt_json_string_len(k)));
    }
    size_t members = vt_json_len(root);
    f->tensors = calloc(members ? members : 1, sizeof *f->tensors);
    f->by_name = calloc(members ? members : 1, sizeof *f->by_name);
    if (!f->tensors || !f->by_name) return st_fail(err, VT_ENOMEM, f->name, "out of memory");
    const unsigned char *data = f->base + 8 + hlen;
    uint64_t data_len = f->size - 8 - hlen;
    for (size_t i = 0; i < members; i++) {
        const vt_json *k = vt_json_member_key(root, i), *v = vt_json_member_value(root, i);
        if (vt_json_string_len(k) == 12 && !memcmp(vt_json_string(k), "__metadata__", 12)) {
            if ((st = parse_metadata(f, v, err)) != VT_OK) return st;
            continue;
        }
        vt_st_tensor *t = &f->tensors[f->n];
        if ((st = parse_entry(f, k, v, data_len, t, err)) != VT_OK) return st;
        t->data = data + t->offset;
        f->n++;
    }
    if ((st = check_tiling(f, data_len, err)) != VT_OK) return st;
    for (size_t i = 0; i < f->n; i++) f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, by_name);
    return VT_OK;
}

static vt_st_file *file_new(const char *name) {
    vt_st_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->name = strdup(name);
    if (!f->name) {
        free(f);
        return NULL;
    }
    return f;
}

void vt_st_close(vt_st_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    free(f->owned);
    vt_json_doc_free(f->doc);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->name);
    free(f);
}

vt_status vt_st_open_memory(const void *buf, size_t len, const char *name, vt_st_file **out, vt_err *err) {
    if (!out || (!buf && len)) return vt_err_set(err, VT_EINVAL, "vt_st_open_memory: bad arguments");
    *out = NULL;
    vt_st_file *f = file_new(name ? name : "<memory>");
    if (!f) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name ? name : "<memory>");
    f->base = buf;
    f->size = len;
    vt_status st = parse_file(f, err);
    if (st != VT_OK) {
        vt_st_close(f);
        return st;
    }
    *out = f;
    return VT_OK;
}

vt_status vt_st_open(const char *path, vt_st_file **out, vt_err *err) {
    if (!out || !path) return vt_err_set(err, VT_EINVAL, "vt_st_open: bad arguments");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vt_err_set(err, VT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return vt_err_set(err, VT_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return vt_err_set(err, VT_EIO, "%s: not a regular file", path);
    }
    vt_st_file *f = file_new(path);
    if (!f) {
        close(fd);
        return vt_err_set(err, VT_ENOMEM, "%s: out of memory", path);
    }
    f->size = (size_t)sb.st_size;
    if (f->size >= 8) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            f->map = m;
            f->base = m;
        }
    }
    if (!f->base && f->size) { /* mmap unavailable (or a tiny file): read it */
        f->owned = malloc(f->size);
        if (!f->owned) {
            close(fd);
            vt_st_close(f);
            return vt_err_set(err, VT_ENOMEM, "%s: out of memory reading %zu bytes", path, (size_t)sb.st_size);
        }
        size_t got = 0;
        while (got < f->size) {
            ssize_t r = pread(fd, (char *)f->owned + got, f->size - got, (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                int e = r < 0 ? errno : 0;
                close(fd);
                vt_st_close(f);
                return vt_err_set(err, VT_EIO, "%s: read failed: %s", path, e ? strerror(e) : "file shrank");
            }
            got += (size_t)r;
        }
        f->base = f->owned;
    }
    close(fd);
    if (!f->base) f->base = (const unsigned char *)"";
    vt_status st = parse_file(f, err);
    if (st != VT_OK) {
        vt_st_close(f);
        return st;
    }
    *out = f;
    return VT_OK;
}

const char *vt_st_path(const vt_st_file *f) { return f ? f->name : NULL; }
size_t vt_st_count(const vt_st_file *f) { return f ? f->n : 0; }
const vt_st_tensor *vt_st_tensor_at(const vt_st_file *f, size_t i) { return f && i < f->n ? &f->tensors[i] : NULL; }

const vt_st_tensor *vt_st_find(const vt_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->by_name[mid]->name, name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

vt_status vt_st_get(const vt_st_file *f, const char *name, const vt_st_tensor **out, vt_err *err) {
    const vt_st_tensor *t = vt_st_find(f, name);
    if (out) *out = t;
    if (!t) {
        char nm[SHOW_MAX];
        return st_fail(err, VT_ENOTFOUND, f ? f->name : "safetensors", "no tensor named '%s'",
                       name ? show(nm, sizeof nm, name, strlen(name)) : "(null)");
    }
    return VT_OK;
}

size_t vt_st_metadata_count(const vt_st_file *f) { return f ? f->n_meta : 0; }

const char *vt_st_metadata(const vt_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

void vt_st_metadata_at(const vt_st_file *f, size_t i, const char **key, const char **value) {
    bool ok = f && i < f->n_meta;
    if (key) *key = ok ? f->meta[2 * i] : NULL;
    if (value) *value = ok ? f->meta[2 * i + 1] : NULL;
}

/* ---- typed copies ---- */

static vt_status check_read(const vt_st_file *f, const vt_st_tensor *t, const void *dst, size_t count,
                            const char *want, bool dtype_ok, vt_err *err) {
    const char *file = f ? f->name : "safetensors";
    char nm[SHOW_MAX];
    if (!t || (!dst && count)) return st_fail(err, VT_EINVAL, file, "vt_st_read: bad arguments");
    show(nm, sizeof nm, t->name, strlen(t->name));
    if (!dtype_ok)
        return st_fail(err, VT_EDTYPE, file, "tensor '%s' has dtype %s; cannot read it as %s", nm,
                       vt_dtype_st_name(t->dtype), want);
    if (count != t->numel)
        return st_fail(err, VT_ESHAPE, file, "tensor '%s' has %zu elements but the destination holds %zu", nm,
                       t->numel, count);
    return VT_OK;
}

vt_status vt_st_read_f32(const vt_st_file *f, const vt_st_tensor *t, float *dst, size_t count, vt_err *err) {
    bool ok = t && (t->dtype == VT_F32 || t->dtype == VT_F16 || t->dtype == VT_BF16);
    vt_status st = check_read(f, t, dst, count, "f32", ok, err);
    if (st != VT_OK) return st;
    const unsigned char *src = t->data;
    if (t->dtype == VT_F32) {
        if (count) memcpy(dst, src, count * 4);
        return VT_OK;
    }
    for (size_t i = 0; i < count; i++) {
        uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
        dst[i] = t->dtype == VT_F16 ? vt_f16_to_f32(h) : vt_bf16_to_f32(h);
    }
    return VT_OK;
}

vt_status vt_st_read_i64(const vt_st_file *f, const vt_st_tensor *t, int64_t *dst, size_t count, vt_err *err) {
    bool ok = t && (t->dtype == VT_I64 || t->dtype == VT_I32 || t->dtype == VT_U8 || t->dtype == VT_BOOL);
    vt_status st = check_read(f, t, dst, count, "i64", ok, err);
    if (st != VT_OK) return st;
    const unsigned char *src = t->data;
    if (t->dtype == VT_I64) {
        if (count) memcpy(dst, src, count * 8);
    } else if (t->dtype == VT_I32) {
        for (size_t i = 0; i < count; i++) {
            int32_t v;
            memcpy(&v, src + 4 * i, 4);
            dst[i] = v;
        }
    } else {
        for (size_t i = 0; i < count; i++) dst[i] = src[i];
    }
    return VT_OK;
}

vt_status vt_st_read_i32(const vt_st_file *f, const vt_st_tensor *t, int32_t *dst, size_t count, vt_err *err) {
    bool ok = t && (t->dtype == VT_I64 || t->dtype == VT_I32 || t->dtype == VT_U8 || t->dtype == VT_BOOL);
    vt_status st = check_read(f, t, dst, count, "i32", ok, err);
    if (st != VT_OK) return st;
    const unsigned char *src = t->data;
    if (t->dtype == VT_I32) {
        if (count) memcpy(dst, src, count * 4);
    } else if (t->dtype == VT_I64) {
        for (size_t i = 0; i < count; i++) {
            int64_t v;
            memcpy(&v, src + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX) {
                char nm[SHOW_MAX];
                return st_fail(err, VT_EFORMAT, f ? f->name : "safetensors",
                               "tensor '%s': element %zu (%lld) does not fit in int32",
                               show(nm, sizeof nm, t->name, strlen(t->name)), i, (long long)v);
            }
            dst[i] = (int32_t)v;
        }
    } else {
        for (size_t i = 0; i < count; i++) dst[i] = src[i];
    }
    return VT_OK;
}

vt_status vt_st_load_f32(const vt_st_file *f, const char *name, float *dst, size_t count, vt_err *err) {
    const vt_st_tensor *t;
    vt_status st = vt_st_get(f, name, &t, err);
    return st != VT_OK ? st : vt_st_read_f32(f, t, dst, count, err);
}
