/* safetensors writer (see visft/safetensors.h).
 *
 * A checkpoint must never be half-written where a reader (or a resumed run) will find it, so the file goes
 * to a temporary in the target's directory (same filesystem, so rename is atomic), is fsync'd, renamed over
 * the target, and the directory is fsync'd so the rename itself survives a crash. Layout follows the
 * official writer: tensors sorted by decreasing element size, then name, which keeps each one aligned to
 * its element size, and the header padded with spaces to a multiple of 8 bytes. */
#include "visft/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "visft/json.h"

typedef struct st_entry {
    char *name;
    vt_dtype dtype;
    int ndim;
    int64_t shape[VT_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
    uint64_t offset; /* assigned by save */
} st_entry;

struct vt_st_writer {
    st_entry *e;
    size_t n, cap;
    char **meta; /* key, value, ... */
    size_t n_meta, meta_cap;
};

vt_st_writer *vt_st_writer_new(void) { return calloc(1, sizeof(vt_st_writer)); }

void vt_st_writer_free(vt_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->e[i].name);
    for (size_t i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->e);
    free(w->meta);
    free(w);
}

vt_status vt_st_writer_add(vt_st_writer *w, const char *name, vt_dtype dtype, int ndim, const int64_t *shape,
                           const void *data, vt_err *err) {
    if (!w || !name) return vt_err_set(err, VT_EINVAL, "safetensors writer: NULL writer or tensor name");
    if (!*name) return vt_err_set(err, VT_EINVAL, "safetensors writer: empty tensor name");
    if (strcmp(name, "__metadata__") == 0)
        return vt_err_set(err, VT_EINVAL, "safetensors writer: '__metadata__' is reserved, not a tensor name");
    if (vt_dtype_size(dtype) == 0)
        return vt_err_set(err, VT_EINVAL, "safetensors writer: tensor '%.200s': invalid dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > VT_ST_MAX_DIMS || (ndim > 0 && !shape))
        return vt_err_set(err, VT_EINVAL, "safetensors writer: tensor '%.200s': ndim %d outside [0, %d]", name, ndim,
                          VT_ST_MAX_DIMS);
    uint64_t numel = 1, nbytes;
    bool overflow = false;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return vt_err_set(err, VT_EINVAL, "safetensors writer: tensor '%.200s': shape[%d] is negative (%lld)",
                              name, d, (long long)shape[d]);
        if (__builtin_mul_overflow(numel, (uint64_t)shape[d], &numel)) overflow = true;
    }
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)vt_dtype_size(dtype), &nbytes) || nbytes > SIZE_MAX ||
        nbytes > (uint64_t)INT64_MAX)
        return vt_err_set(err, VT_EINVAL, "safetensors writer: tensor '%.200s': byte size overflows", name);
    if (nbytes && !data)
        return vt_err_set(err, VT_EINVAL, "safetensors writer: tensor '%.200s': NULL data for %llu bytes", name,
                          (unsigned long long)nbytes);
    if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 16;
        st_entry *ne = realloc(w->e, ncap * sizeof *ne);
        if (!ne) return vt_err_set(err, VT_ENOMEM, "safetensors writer: out of memory");
        w->e = ne;
        w->cap = ncap;
    }
    st_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name) return vt_err_set(err, VT_ENOMEM, "safetensors writer: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    e->data = data;
    e->nbytes = (size_t)nbytes;
    w->n++;
    return VT_OK;
}

vt_status vt_st_writer_set_metadata(vt_st_writer *w, const char *key, const char *value, vt_err *err) {
    if (!w || !key || !value) return vt_err_set(err, VT_EINVAL, "safetensors writer: NULL metadata key or value");
    char *v = strdup(value);
    if (!v) return vt_err_set(err, VT_ENOMEM, "safetensors writer: out of memory");
    for (size_t i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta[2 * i], key) == 0) {
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return VT_OK;
        }
    }
    if (w->n_meta == w->meta_cap) {
        size_t ncap = w->meta_cap ? w->meta_cap * 2 : 8;
        char **nm = realloc(w->meta, 2 * ncap * sizeof *nm);
        if (!nm) {
            free(v);
            return vt_err_set(err, VT_ENOMEM, "safetensors writer: out of memory");
        }
        w->meta = nm;
        w->meta_cap = ncap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return vt_err_set(err, VT_ENOMEM, "safetensors writer: out of memory");
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return VT_OK;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static int cmp_layout(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    size_t sx = vt_dtype_size(x->dtype), sy = vt_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Buffered writes so many small tensors do not cost a syscall each; big ones go straight through. */
typedef struct out_file {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    int error; /* errno of the first failure */
} out_file;

static void out_raw(out_file *o, const void *p, size_t n) {
    const unsigned char *c = p;
    while (n && !o->error) {
        ssize_t r = write(o->fd, c, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            o->error = errno;
        } else if (r == 0) {
            o->error = EIO;
        } else {
            c += r;
            n -= (size_t)r;
        }
    }
}

static void out_flush(out_file *o) {
    out_raw(o, o->buf, o->len);
    o->len = 0;
}

static void out_put(out_file *o, const void *p, size_t n) {
    if (o->error || n == 0) return;
    if (o->len + n > o->cap) out_flush(o);
    if (n >= o->cap) {
        out_raw(o, p, n);
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

/* Directory part of path ("." when it has none). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static vt_status build_header(vt_st_writer *w, st_entry **order, vt_json_writer *jw, vt_err *err, const char *path) {
    vt_json_writer_init(jw);
    vt_json_write_object_begin(jw);
    if (w->n_meta) {
        vt_json_write_key(jw, "__metadata__");
        vt_json_write_object_begin(jw);
        for (size_t i = 0; i < w->n_meta; i++) {
            vt_json_write_key(jw, w->meta[2 * i]);
            vt_json_write_string(jw, w->meta[2 * i + 1]);
        }
        vt_json_write_object_end(jw);
    }
    uint64_t pos = 0;
    for (size_t i = 0; i < w->n; i++) {
        st_entry *e = order[i];
        e->offset = pos;
        vt_json_write_key(jw, e->name);
        vt_json_write_object_begin(jw);
        vt_json_write_key(jw, "dtype");
        vt_json_write_string(jw, vt_dtype_st_name(e->dtype));
        vt_json_write_key(jw, "shape");
        vt_json_write_array_begin(jw);
        for (int d = 0; d < e->ndim; d++) vt_json_write_int(jw, e->shape[d]);
        vt_json_write_array_end(jw);
        vt_json_write_key(jw, "data_offsets");
        vt_json_write_array_begin(jw);
        vt_json_write_uint(jw, pos);
        vt_json_write_uint(jw, pos + e->nbytes);
        vt_json_write_array_end(jw);
        vt_json_write_object_end(jw);
        pos += e->nbytes;
    }
    vt_json_write_object_end(jw);
    size_t len;
    vt_json_writer_str(jw, &len);
    size_t pad = (8 - len % 8) % 8;
    vt_json_write_bytes(jw, "        ", pad);
    vt_status st = vt_json_writer_status(jw, err);
    if (st != VT_OK) return vt_err_prefix(err, "%.200s", path);
    vt_json_writer_str(jw, &len);
    if ((uint64_t)len > VT_ST_MAX_HEADER)
        return vt_err_set(err, VT_EINVAL, "%.200s: header would be %zu bytes, over the %llu-byte limit readers accept",
                          path, len, (unsigned long long)VT_ST_MAX_HEADER);
    return VT_OK;
}

vt_status vt_st_writer_save(vt_st_writer *w, const char *path, vt_err *err) {
    if (!w || !path || !*path) return vt_err_set(err, VT_EINVAL, "safetensors writer: NULL writer or empty path");
    vt_status st = VT_OK;
    st_entry **order = malloc((w->n ? w->n : 1) * sizeof *order);
    vt_json_writer jw;
    vt_json_writer_init(&jw);
    char *tmp = NULL, *dir = NULL;
    out_file o = {.fd = -1};
    if (!order) {
        st = vt_err_set(err, VT_ENOMEM, "%.200s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < w->n; i++) order[i] = &w->e[i];
    qsort(order, w->n, sizeof *order, cmp_name);
    for (size_t i = 1; i < w->n; i++) {
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            st = vt_err_set(err, VT_EINVAL, "%.200s: duplicate tensor name '%.200s'", path, order[i]->name);
            goto done;
        }
    }
    qsort(order, w->n, sizeof *order, cmp_layout);
    if ((st = build_header(w, order, &jw, err, path)) != VT_OK) goto done;

    size_t tlen = strlen(path) + sizeof ".tmp.XXXXXX";
    tmp = malloc(tlen);
    o.cap = (size_t)1 << 20;
    o.buf = malloc(o.cap);
    if (!tmp || !o.buf) {
        st = vt_err_set(err, VT_ENOMEM, "%.200s: out of memory", path);
        goto done;
    }
    snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
    o.fd = mkstemp(tmp);
    if (o.fd < 0) {
        st = vt_err_set(err, VT_EIO, "%.200s: cannot create temporary file: %s", path, strerror(errno));
        free(tmp);
        tmp = NULL; /* nothing to unlink */
        goto done;
    }
    /* mkstemp makes 0600; give the checkpoint the mode an existing target has, else rw-r--r--. */
    struct stat sb;
    fchmod(o.fd, stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644);

    size_t hlen;
    const char *header = vt_json_writer_str(&jw, &hlen);
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    out_put(&o, prefix, 8);
    out_put(&o, header, hlen);
    for (size_t i = 0; i < w->n; i++) out_put(&o, order[i]->data, order[i]->nbytes);
    out_flush(&o);
    if (!o.error && fsync(o.fd) != 0) o.error = errno;
    if (o.error) {
        st = vt_err_set(err, VT_EIO, "%.200s: write failed: %s", path, strerror(o.error));
        goto done;
    }
    int fd = o.fd;
    o.fd = -1;
    if (close(fd) != 0) {
        st = vt_err_set(err, VT_EIO, "%.200s: write failed (close): %s", path, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        st = vt_err_set(err, VT_EIO, "%.200s: cannot rename temporary file over it: %s", path, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    /* Make the rename durable. Best effort: some filesystems cannot fsync a directory, and the file itself
     * is already complete and in place. */
    dir = dir_of(path);
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }

done:
    if (o.fd >= 0) close(o.fd);
    if (tmp) unlink(tmp);
    free(tmp);
    free(dir);
    free(o.buf);
    free(order);
    vt_json_writer_free(&jw);
    return st;
}
