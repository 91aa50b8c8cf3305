/* dtype table and IEEE half / bfloat16 conversions (bit-exact with PyTorch's rounding). */
#include "visft/dtype.h"

#include <string.h>

static const struct {
    const char *name, *st_name;
    size_t size;
} dtype_table[VT_DTYPE_COUNT] = {
    [VT_F32] = {"f32", "F32", 4},  [VT_BF16] = {"bf16", "BF16", 2}, [VT_F16] = {"f16", "F16", 2},
    [VT_I32] = {"i32", "I32", 4},  [VT_I64] = {"i64", "I64", 8},    [VT_U8] = {"u8", "U8", 1},
    [VT_BOOL] = {"bool", "BOOL", 1},
};

size_t vt_dtype_size(vt_dtype dt) { return (unsigned)dt < VT_DTYPE_COUNT ? dtype_table[dt].size : 0; }
const char *vt_dtype_name(vt_dtype dt) { return (unsigned)dt < VT_DTYPE_COUNT ? dtype_table[dt].name : "invalid"; }
const char *vt_dtype_st_name(vt_dtype dt) {
    return (unsigned)dt < VT_DTYPE_COUNT ? dtype_table[dt].st_name : "INVALID";
}

int vt_dtype_parse(const char *name, vt_dtype *out) {
    if (!name) return -1;
    for (int i = 0; i < VT_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_table[i].name) == 0 || strcmp(name, dtype_table[i].st_name) == 0) {
            *out = (vt_dtype)i;
            return 0;
        }
    }
    return -1;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float vt_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t vt_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float vt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t vt_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;          /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u;         /* overflow (>= 65520) -> inf */
    if (a < 0x38800000u) {                                /* subnormal or zero in f16 */
        /* scale so the f16 subnormal unit (2^-24) lands on integer units, round to nearest even */
        float v = bits_f32(a) * 16777216.0f;
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1u))) m++;
        return sign | (uint16_t)m;
    }
    uint32_t exp = (a >> 23) - 112u, man = a & 0x7fffffu;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return sign | (uint16_t)h;
}
