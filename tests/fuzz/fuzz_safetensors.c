/* libFuzzer target for the safetensors reader: parse from memory, then touch everything a loader would
 * (every tensor's bytes through the typed readers, lookups, metadata) so ASan sees any pointer that the
 * validation let escape the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "visft/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a private copy, so reads past the input are caught exactly at its end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    vt_st_file *f = NULL;
    vt_err err;
    if (vt_st_open_memory(buf, size, "fuzz.safetensors", &f, &err) != VT_OK) {
        if (f || err.msg[0] == '\0') abort();
        free(buf);
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_tensor_at(f, i);
        if (vt_st_find(f, t->name) != t) abort();
        if (t->nbytes && ((const uint8_t *)t->data < buf || (const uint8_t *)t->data + t->nbytes > buf + size))
            abort();
        if (t->numel * vt_dtype_size(t->dtype) != t->nbytes) abort();
        total += t->nbytes;
        size_t n = t->numel ? t->numel : 1;
        float *f32 = malloc(n * sizeof *f32);
        int64_t *i64 = malloc(n * sizeof *i64);
        int32_t *i32 = malloc(n * sizeof *i32);
        if (f32 && i64 && i32) {
            vt_st_read_f32(f, t, f32, t->numel, &err);
            vt_st_read_i64(f, t, i64, t->numel, &err);
            vt_st_read_i32(f, t, i32, t->numel, &err);
        }
        free(f32);
        free(i64);
        free(i32);
    }
    if (total > size) abort(); /* ranges tile the data buffer, so they cannot add up to more than the file */
    for (size_t i = 0; i < vt_st_metadata_count(f); i++) {
        const char *k, *v;
        vt_st_metadata_at(f, i, &k, &v);
        if (!k || !v || !vt_st_metadata(f, k)) abort();
    }
    vt_st_close(f);
    free(buf);
    return 0;
}
