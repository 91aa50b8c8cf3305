/* Element types of visft tensors and the conversions between the floating ones. */
#ifndef VISFT_DTYPE_H
#define VISFT_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_dtype {
    VT_F32 = 0,
    VT_BF16,
    VT_F16,
    VT_I32,
    VT_I64,
    VT_U8,
    VT_BOOL,
    VT_DTYPE_COUNT
} vt_dtype;

/* Bytes per element; 0 for an invalid dtype. */
size_t vt_dtype_size(vt_dtype dt);
/* Short lower-case name ("f32", "bf16", ...). */
const char *vt_dtype_name(vt_dtype dt);
/* safetensors spelling ("F32", "BF16", "F16", "I32", "I64", "U8", "BOOL"). */
const char *vt_dtype_st_name(vt_dtype dt);
/* Parses either spelling; returns 0 on success, -1 when unknown. */
int vt_dtype_parse(const char *name, vt_dtype *out);

float vt_bf16_to_f32(uint16_t h);
uint16_t vt_f32_to_bf16(float f); /* round to nearest even, NaN kept NaN */
float vt_f16_to_f32(uint16_t h);
uint16_t vt_f32_to_f16(float f);  /* round to nearest even, overflow to inf */

#ifdef __cplusplus
}
#endif
#endif
