/* TensorBoard event files written from scratch.
 *
 * An event file is a sequence of TFRecords: u64 little-endian length, masked CRC32C of those 8 bytes, the
 * data, masked CRC32C of the data. Each record's data is a serialized tensorboard.Event (event.proto):
 *   wall_time = 1 (double, fixed64)   step = 2 (int64, varint)
 *   file_version = 3 (string)         summary = 5 (Summary, length-delimited)
 * Summary (summary.proto): repeated Value value = 1; Value: tag = 1 (string), simple_value = 2 (float,
 * fixed32). The first record carries file_version "brain.Event:2", which readers expect. A whole record is
 * assembled in memory and handed to one fwrite + fflush, so a killed run leaves at most one torn record at
 * the end, which readers drop. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/metrics_internal.h"

/* ---- CRC-32C, byte-at-a-time table ---- */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t vt_crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- protobuf wire format into a growable buffer ---- */
typedef struct pb {
    unsigned char *b;
    size_t len, cap;
    int oom;
} pb;

static void pb_reserve(pb *p, size_t more) {
    if (p->oom || p->len + more <= p->cap) return;
    size_t cap = p->cap ? p->cap : 256;
    while (cap < p->len + more) cap *= 2;
    unsigned char *nb = realloc(p->b, cap);
    if (!nb) {
        p->oom = 1;
        return;
    }
    p->b = nb, p->cap = cap;
}

static void pb_bytes(pb *p, const void *d, size_t n) {
    pb_reserve(p, n);
    if (p->oom) return;
    memcpy(p->b + p->len, d, n);
    p->len += n;
}

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static void pb_varint(pb *p, uint64_t v) {
    unsigned char t[10];
    size_t n = 0;
    while (v >= 0x80) t[n++] = (unsigned char)(v | 0x80), v >>= 7;
    t[n++] = (unsigned char)v;
    pb_bytes(p, t, n);
}

static void pb_le(pb *p, uint64_t v, int nbytes) {
    unsigned char t[8];
    for (int i = 0; i < nbytes; i++) t[i] = (unsigned char)(v >> (8 * i));
    pb_bytes(p, t, (size_t)nbytes);
}

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };
static void pb_key(pb *p, unsigned field, unsigned wt) { pb_varint(p, (uint64_t)field << 3 | wt); }

static void pb_double(pb *p, unsigned field, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    pb_key(p, field, WT_FIXED64);
    pb_le(p, u, 8);
}

static void pb_float(pb *p, unsigned field, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    pb_key(p, field, WT_FIXED32);
    pb_le(p, u, 4);
}

static void pb_string(pb *p, unsigned field, const char *s, size_t n) {
    pb_key(p, field, WT_LEN);
    pb_varint(p, n);
    pb_bytes(p, s, n);
}

/* Sizes of the nested messages, computed first so every length prefix is written once, in order. */
static size_t value_size(const char *tag) {
    size_t t = strlen(tag);
    return 1 + varint_len(t) + t + 1 + 4;
}

static size_t summary_size(const char *const *names, size_t n) {
    size_t s = 0;
    for (size_t i = 0; i < n; i++) {
        size_t v = value_size(names[i]);
        s += 1 + varint_len(v) + v;
    }
    return s;
}

/* ---- TFRecord framing ---- */
/* Frames p's payload (which starts at offset 12, leaving room for the header) and writes it out. */
static vt_status write_record(vt_tb_file *tb, pb *p, vt_err *err) {
    tb->buf = p->b, tb->cap = p->cap; /* p may have reallocated the scratch buffer: keep the live one */
    if (p->oom) return vt_err_set(err, VT_ENOMEM, "%s: out of memory encoding an event", tb->path);
    uint64_t n = p->len - 12;
    unsigned char *h = p->b;
    for (int i = 0; i < 8; i++) h[i] = (unsigned char)(n >> (8 * i));
    uint32_t hc = vt_crc32c_mask(vt_crc32c(0, h, 8));
    for (int i = 0; i < 4; i++) h[8 + i] = (unsigned char)(hc >> (8 * i));
    pb_le(p, vt_crc32c_mask(vt_crc32c(0, p->b + 12, (size_t)n)), 4);
    tb->buf = p->b, tb->cap = p->cap;
    if (p->oom) return vt_err_set(err, VT_ENOMEM, "%s: out of memory encoding an event", tb->path);
    if (fwrite(p->b, 1, p->len, tb->fp) != p->len || fflush(tb->fp) != 0)
        return vt_err_set(err, VT_EIO, "%s: write failed: %s", tb->path, strerror(errno));
    return VT_OK;
}

static pb record_begin(vt_tb_file *tb) {
    pb p = {.b = tb->buf, .cap = tb->cap};
    pb_reserve(&p, 12);
    if (!p.oom) memset(p.b, 0, 12), p.len = 12;
    return p;
}

static void sanitize_host(const char *in, char *out, size_t cap) {
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < cap; i++) {
        char c = in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_' || c == '.';
        out[j++] = ok ? c : '_';
    }
    out[j] = '\0';
    if (j == 0) snprintf(out, cap, "localhost");
}

vt_status vt_tb_open(vt_tb_file *tb, const char *dir, const char *host, double wall_time, vt_err *err) {
    memset(tb, 0, sizeof *tb);
    char hostbuf[256] = "", safe[256];
    if (!host) {
        if (gethostname(hostbuf, sizeof hostbuf - 1) != 0) strcpy(hostbuf, "localhost");
        host = hostbuf;
    }
    sanitize_host(host, safe, sizeof safe);
    size_t cap = strlen(dir) + strlen(safe) + 64;
    tb->path = malloc(cap);
    if (!tb->path) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", dir);
    /* O_EXCL: two loggers opened in the same second on one host must not share (and interleave) a file. */
    int fd = -1;
    for (int k = 0; k < 1000 && fd < 0; k++) {
        if (k == 0)
            snprintf(tb->path, cap, "%s/events.out.tfevents.%lld.%s", dir, (long long)wall_time, safe);
        else
            snprintf(tb->path, cap, "%s/events.out.tfevents.%lld.%s.%d", dir, (long long)wall_time, safe, k);
        fd = open(tb->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        vt_status st = vt_err_set(err, VT_EIO, "%s: cannot create: %s", tb->path, strerror(errno));
        free(tb->path), tb->path = NULL;
        return st;
    }
    tb->fp = fdopen(fd, "wb");
    if (!tb->fp) {
        close(fd);
        vt_status st = vt_err_set(err, VT_EIO, "%s: fdopen failed: %s", tb->path, strerror(errno));
        free(tb->path), tb->path = NULL;
        return st;
    }
    static const char version[] = "brain.Event:2";
    pb p = record_begin(tb);
    pb_double(&p, 1, wall_time);
    pb_string(&p, 3, version, sizeof version - 1);
    vt_status st = write_record(tb, &p, err);
    if (st != VT_OK) vt_tb_close(tb, NULL);
    return st;
}

vt_status vt_tb_write_scalars(vt_tb_file *tb, double wall_time, int64_t step, const char *const *names,
                              const double *values, size_t n, vt_err *err) {
    pb p = record_begin(tb);
    pb_double(&p, 1, wall_time);
    pb_key(&p, 2, WT_VARINT);
    pb_varint(&p, (uint64_t)step); /* int64: negatives are ten-byte two's complement varints */
    pb_key(&p, 5, WT_LEN);
    pb_varint(&p, summary_size(names, n));
    for (size_t i = 0; i < n; i++) {
        size_t tl = strlen(names[i]);
        pb_key(&p, 1, WT_LEN);
        pb_varint(&p, value_size(names[i]));
        pb_string(&p, 1, names[i], tl);
        pb_float(&p, 2, (float)values[i]);
    }
    return write_record(tb, &p, err);
}

vt_status vt_tb_close(vt_tb_file *tb, vt_err *err) {
    vt_status st = VT_OK;
    if (tb->fp && fclose(tb->fp) != 0)
        st = vt_err_set(err, VT_EIO, "%s: close failed: %s", tb->path, strerror(errno));
    free(tb->path);
    free(tb->buf);
    memset(tb, 0, sizeof *tb);
    return st;
}
