/* safetensors checkpoints: a validating, memory-mapped reader and an atomic writer.
 *
 * Format: u64 little-endian header length N, N bytes of JSON header
 *     {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
 * then the data buffer; offsets are relative to its start. The reader accepts a file only if it is valid by
 * the official format's rules: known keys only, every size computed with overflow checks, and the tensors'
 * [begin, end) ranges tiling the data buffer exactly (no overlap, no hole, nothing left over). Every error
 * names the file and, where one is at fault, the tensor and the offsets.
 *
 * Tensor data points into the mapping and is valid until vt_st_close. It is aligned to the element size in
 * files written by visft or the official writers, but other files may misalign it; the vt_st_read_* helpers
 * copy safely either way. Host byte order must be little-endian (checked at compile time). As with any
 * mmap, a file truncated by another process while it is open can raise SIGBUS; checkpoints written by
 * vt_st_writer_save are replaced by rename, never truncated in place, so readers of those are safe. */
#ifndef VISFT_SAFETENSORS_H
#define VISFT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "visft/dtype.h"
#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_ST_MAX_DIMS 8
#define VT_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* the official reader's limit too */

typedef struct vt_st_tensor {
    const char *name; /* NUL-terminated UTF-8 */
    vt_dtype dtype;
    int ndim;
    int64_t shape[VT_ST_MAX_DIMS];
    size_t numel;
    const void *data;
    size_t nbytes;
    uint64_t offset; /* begin offset within the data buffer */
} vt_st_tensor;

typedef struct vt_st_file vt_st_file;

/* Maps and validates a file (falls back to reading it into memory if mmap fails). */
vt_status vt_st_open(const char *path, vt_st_file **out, vt_err *err);
/* Validates a buffer the caller keeps alive and unchanged until vt_st_close; name is used in messages. */
vt_status vt_st_open_memory(const void *buf, size_t len, const char *name, vt_st_file **out, vt_err *err);
void vt_st_close(vt_st_file *f);

const char *vt_st_path(const vt_st_file *f);
/* Tensors in header order. */
size_t vt_st_count(const vt_st_file *f);
const vt_st_tensor *vt_st_tensor_at(const vt_st_file *f, size_t i);
/* Lookup by exact name (O(log n)); NULL when absent. */
const vt_st_tensor *vt_st_find(const vt_st_file *f, const char *name);
/* Same, but a missing tensor is VT_ENOTFOUND with "<file>: no tensor named 'x'". */
vt_status vt_st_get(const vt_st_file *f, const char *name, const vt_st_tensor **out, vt_err *err);

/* __metadata__ string map, in header order. vt_st_metadata returns NULL for an absent key. */
size_t vt_st_metadata_count(const vt_st_file *f);
const char *vt_st_metadata(const vt_st_file *f, const char *key);
void vt_st_metadata_at(const vt_st_file *f, size_t i, const char **key, const char **value);

/* Copy a tensor into a caller buffer of exactly `count` elements (count must equal the tensor's numel,
 * else VT_ESHAPE), converting:
 *   f32 <- F32, F16, BF16                 (else VT_EDTYPE)
 *   i64 <- I64, I32, U8, BOOL
 *   i32 <- I32, U8, BOOL, I64 (each value range-checked; VT_EFORMAT naming the element if out of range) */
vt_status vt_st_read_f32(const vt_st_file *f, const vt_st_tensor *t, float *dst, size_t count, vt_err *err);
vt_status vt_st_read_i64(const vt_st_file *f, const vt_st_tensor *t, int64_t *dst, size_t count, vt_err *err);
vt_status vt_st_read_i32(const vt_st_file *f, const vt_st_tensor *t, int32_t *dst, size_t count, vt_err *err);
/* By name: vt_st_get + the read above. */
vt_status vt_st_load_f32(const vt_st_file *f, const char *name, float *dst, size_t count, vt_err *err);

/* ---- writer ----
 * Collects tensors (data is referenced, not copied: keep it alive until save) and metadata, then writes
 * the file atomically: a temporary "<path>.tmp.XXXXXX" in the same directory, fsync, rename over path,
 * fsync of the directory. On any failure the temporary is removed and path is left as it was.
 * Tensors are laid out by decreasing element size, then name, so every tensor is aligned to its element
 * size; the header is padded with spaces so the data buffer starts 8-byte aligned. */
typedef struct vt_st_writer vt_st_writer;

vt_st_writer *vt_st_writer_new(void); /* NULL on out of memory */
void vt_st_writer_free(vt_st_writer *w);
/* name is copied. Rejects a bad dtype, ndim outside [0, VT_ST_MAX_DIMS], a negative dim, a byte size that
 * overflows, NULL data for a non-empty tensor, an empty name or the name "__metadata__". Names should be
 * UTF-8 (readers reject anything else).
 * Duplicate names are reported by save. */
vt_status vt_st_writer_add(vt_st_writer *w, const char *name, vt_dtype dtype, int ndim, const int64_t *shape,
                           const void *data, vt_err *err);
/* Sets (or replaces) a __metadata__ entry; both strings are copied. */
vt_status vt_st_writer_set_metadata(vt_st_writer *w, const char *key, const char *value, vt_err *err);
vt_status vt_st_writer_save(vt_st_writer *w, const char *path, vt_err *err);

#ifdef __cplusplus
}
#endif
#endif
