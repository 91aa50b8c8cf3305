/* safetensors reader and writer: round trips, typed reads, every malformed-file class with its own message,
 * and writer atomicity. Malformed files are built in memory here rather than committed as fixtures. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "visft/safetensors.h"
#include "vt_test.h"

/* A scratch directory per test, removed (with whatever is in it) at the end. */
static char tmpdir[64];

static void make_tmpdir(void) {
    strcpy(tmpdir, "/tmp/vt_st_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int count_dir_entries(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static void remove_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* u64 header length + header + data_len bytes of a counting pattern. */
static unsigned char *build(const char *header, size_t data_len, size_t *len) {
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = malloc(*len ? *len : 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_len; i++) b[8 + h + i] = (unsigned char)i;
    return b;
}

static vt_status open_buf(const unsigned char *b, size_t len, vt_st_file **f, vt_err *err) {
    return vt_st_open_memory(b, len, "m.safetensors", f, err);
}

/* Expects the header + data to be rejected with a message containing each of the given substrings. */
static void expect_bad(const char *header, size_t data_len, vt_status code, const char *want1, const char *want2) {
    size_t len;
    unsigned char *b = build(header, data_len, &len);
    vt_st_file *f = (vt_st_file *)1;
    vt_err err = {0};
    vt_status st = open_buf(b, len, &f, &err);
    ck_assert_msg(st != VT_OK, "header accepted: %s", header);
    ck_assert_ptr_null(f);
    ck_assert_msg(code == 0 || st == code, "status %d for %s (%s)", st, header, err.msg);
    ck_assert_msg(strncmp(err.msg, "m.safetensors", 13) == 0, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, want1), "message '%s' lacks '%s'", err.msg, want1);
    if (want2) ck_assert_msg(strstr(err.msg, want2), "message '%s' lacks '%s'", err.msg, want2);
    free(b);
}

static vt_st_file *expect_good(const char *header, size_t data_len, unsigned char **keep) {
    size_t len;
    unsigned char *b = build(header, data_len, &len);
    vt_st_file *f = NULL;
    vt_err err = {0};
    ck_assert_msg(open_buf(b, len, &f, &err) == VT_OK, "rejected %s: %s", header, err.msg);
    *keep = b;
    return f;
}

START_TEST(test_round_trip_all_dtypes) {
    make_tmpdir();
    float f32[6] = {1, -2.5f, 3.25f, 0, 1e-3f, -1e6f};
    uint16_t bf16[5], f16[3];
    for (int i = 0; i < 5; i++) bf16[i] = vt_f32_to_bf16((float)i * 0.5f - 1);
    for (int i = 0; i < 3; i++) f16[i] = vt_f32_to_f16((float)i * 0.25f + 2);
    int32_t i32[4] = {INT32_MIN, -1, 0, INT32_MAX};
    int64_t i64[2] = {INT64_MIN, INT64_C(1) << 40};
    uint8_t u8[3] = {0, 7, 255}, bl[2] = {1, 0};
    float scalar = 42;
    vt_st_writer *w = vt_st_writer_new();
    vt_err err = {0};
    int64_t s23[] = {2, 3}, s5[] = {5}, s113[] = {1, 1, 3}, s22[] = {2, 2}, s2[] = {2}, s3[] = {3}, s40[] = {4, 0};
    ck_assert_int_eq(vt_st_writer_add(w, "w.f32", VT_F32, 2, s23, f32, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "b.bf16", VT_BF16, 1, s5, bf16, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "h.f16", VT_F16, 3, s113, f16, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "i.i32", VT_I32, 2, s22, i32, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "l.i64", VT_I64, 1, s2, i64, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "u.u8", VT_U8, 1, s3, u8, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "m.bool", VT_BOOL, 1, s2, bl, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "scalar", VT_F32, 0, NULL, &scalar, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "empty", VT_F32, 2, s40, NULL, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_set_metadata(w, "format", "pt", &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_set_metadata(w, "note", "tab\t \"quote\" caf\xc3\xa9", &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_set_metadata(w, "format", "np", &err), VT_OK); /* replaces */
    char path[128];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    ck_assert_msg(vt_st_writer_save(w, path, &err) == VT_OK, "%s", err.msg);
    vt_st_writer_free(w);
    ck_assert_int_eq(count_dir_entries(tmpdir), 1); /* no temporary left behind */
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);

    vt_st_file *f = NULL;
    ck_assert_msg(vt_st_open(path, &f, &err) == VT_OK, "%s", err.msg);
    ck_assert_str_eq(vt_st_path(f), path);
    ck_assert_uint_eq(vt_st_count(f), 9);
    ck_assert_uint_eq(vt_st_metadata_count(f), 2);
    ck_assert_str_eq(vt_st_metadata(f, "format"), "np");
    ck_assert_str_eq(vt_st_metadata(f, "note"), "tab\t \"quote\" caf\xc3\xa9");
    ck_assert_ptr_null(vt_st_metadata(f, "nope"));
    const char *k, *v;
    vt_st_metadata_at(f, 1, &k, &v);
    ck_assert_str_eq(k, "note");
    vt_st_metadata_at(f, 2, &k, &v);
    ck_assert_ptr_null(k);

    struct {
        const char *name;
        vt_dtype dt;
        int ndim;
        int64_t shape[3];
        const void *data;
        size_t nbytes;
    } want[] = {
        {"w.f32", VT_F32, 2, {2, 3}, f32, sizeof f32},   {"b.bf16", VT_BF16, 1, {5}, bf16, sizeof bf16},
        {"h.f16", VT_F16, 3, {1, 1, 3}, f16, sizeof f16}, {"i.i32", VT_I32, 2, {2, 2}, i32, sizeof i32},
        {"l.i64", VT_I64, 1, {2}, i64, sizeof i64},       {"u.u8", VT_U8, 1, {3}, u8, sizeof u8},
        {"m.bool", VT_BOOL, 1, {2}, bl, sizeof bl},       {"scalar", VT_F32, 0, {0}, &scalar, 4},
        {"empty", VT_F32, 2, {4, 0}, NULL, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const vt_st_tensor *t = vt_st_find(f, want[i].name);
        ck_assert_msg(t != NULL, "%s missing", want[i].name);
        ck_assert_int_eq(t->dtype, want[i].dt);
        ck_assert_int_eq(t->ndim, want[i].ndim);
        for (int d = 0; d < t->ndim; d++) ck_assert_int_eq(t->shape[d], want[i].shape[d]);
        ck_assert_uint_eq(t->nbytes, want[i].nbytes);
        if (t->nbytes) ck_assert(memcmp(t->data, want[i].data, t->nbytes) == 0);
        /* the writer's layout keeps every tensor aligned to its element size */
        ck_assert_uint_eq((uintptr_t)t->data % vt_dtype_size(t->dtype), 0);
    }
    /* header order: by element size, then name */
    ck_assert_str_eq(vt_st_tensor_at(f, 0)->name, "l.i64");
    ck_assert_ptr_null(vt_st_tensor_at(f, 9));
    const vt_st_tensor *t;
    ck_assert_int_eq(vt_st_get(f, "no.such", &t, &err), VT_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "no tensor named 'no.such'"));
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    vt_st_close(f);

    /* header length keeps the data buffer 8-byte aligned */
    FILE *fp = fopen(path, "rb");
    unsigned char n8[8];
    ck_assert_uint_eq(fread(n8, 1, 8, fp), 8);
    fclose(fp);
    ck_assert_uint_eq(n8[0] % 8, 0);
    remove_tmpdir();
}
END_TEST

START_TEST(test_typed_reads) {
    const char *header = "{\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]},"
                         "\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                         "\"l\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]},"
                         "\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[40,43]}}";
    size_t len;
    unsigned char *b = build(header, 43, &len);
    unsigned char *d = b + 8 + strlen(header);
    float fv[2] = {1.5f, -2};
    uint16_t hv[2] = {vt_f32_to_f16(0.5f), vt_f32_to_f16(-3)}, bv[2] = {vt_f32_to_bf16(8), vt_f32_to_bf16(-0.25f)};
    int32_t iv[2] = {-7, 9};
    int64_t lv[2] = {INT64_C(5000000000), -3};
    memcpy(d, fv, 8);
    memcpy(d + 8, hv, 4);
    memcpy(d + 12, bv, 4);
    memcpy(d + 16, iv, 8);
    memcpy(d + 24, lv, 16);
    d[40] = 1, d[41] = 2, d[42] = 250;
    vt_st_file *f;
    vt_err err;
    ck_assert_int_eq(open_buf(b, len, &f, &err), VT_OK);
    float out[3];
    ck_assert_int_eq(vt_st_load_f32(f, "f", out, 2, &err), VT_OK);
    ck_assert(out[0] == 1.5f && out[1] == -2);
    ck_assert_int_eq(vt_st_load_f32(f, "h", out, 2, &err), VT_OK);
    ck_assert(out[0] == 0.5f && out[1] == -3);
    ck_assert_int_eq(vt_st_load_f32(f, "b", out, 2, &err), VT_OK);
    ck_assert(out[0] == 8 && out[1] == -0.25f);
    ck_assert_int_eq(vt_st_load_f32(f, "i", out, 2, &err), VT_EDTYPE);
    ck_assert_msg(strstr(err.msg, "tensor 'i' has dtype I32; cannot read it as f32"), "%s", err.msg);
    ck_assert_int_eq(vt_st_load_f32(f, "f", out, 3, &err), VT_ESHAPE);
    ck_assert_msg(strstr(err.msg, "tensor 'f' has 2 elements but the destination holds 3"), "%s", err.msg);
    ck_assert_int_eq(vt_st_load_f32(f, "zz", out, 2, &err), VT_ENOTFOUND);

    int64_t l[3];
    int32_t i[3];
    ck_assert_int_eq(vt_st_read_i64(f, vt_st_find(f, "i"), l, 2, &err), VT_OK);
    ck_assert(l[0] == -7 && l[1] == 9);
    ck_assert_int_eq(vt_st_read_i64(f, vt_st_find(f, "l"), l, 2, &err), VT_OK);
    ck_assert(l[0] == INT64_C(5000000000) && l[1] == -3);
    ck_assert_int_eq(vt_st_read_i64(f, vt_st_find(f, "u"), l, 3, &err), VT_OK);
    ck_assert(l[0] == 1 && l[2] == 250);
    ck_assert_int_eq(vt_st_read_i64(f, vt_st_find(f, "f"), l, 2, &err), VT_EDTYPE);
    ck_assert_int_eq(vt_st_read_i32(f, vt_st_find(f, "i"), i, 2, &err), VT_OK);
    ck_assert(i[0] == -7 && i[1] == 9);
    ck_assert_int_eq(vt_st_read_i32(f, vt_st_find(f, "u"), i, 3, &err), VT_OK);
    ck_assert(i[2] == 250);
    ck_assert_int_eq(vt_st_read_i32(f, vt_st_find(f, "l"), i, 2, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, "tensor 'l': element 0 (5000000000) does not fit in int32"), "%s", err.msg);
    ck_assert_int_eq(vt_st_read_i32(f, NULL, i, 2, &err), VT_EINVAL);
    vt_st_close(f);
    free(b);
}
END_TEST

START_TEST(test_valid_edge_cases) {
    unsigned char *b;
    vt_st_file *f;
    /* empty checkpoint */
    f = expect_good("{}", 0, &b);
    ck_assert_uint_eq(vt_st_count(f), 0);
    ck_assert_ptr_null(vt_st_find(f, "x"));
    vt_st_close(f);
    free(b);
    /* null metadata means none, as in the official reader */
    f = expect_good("{\"__metadata__\":null}", 0, &b);
    ck_assert_uint_eq(vt_st_metadata_count(f), 0);
    vt_st_close(f);
    free(b);
    /* header padded with spaces, metadata only */
    f = expect_good("{\"__metadata__\":{\"a\":\"b\"}}   ", 0, &b);
    ck_assert_str_eq(vt_st_metadata(f, "a"), "b");
    vt_st_close(f);
    free(b);
    /* zero-size tensors sit anywhere in the tiling; header order need not be data order; misaligned data */
    f = expect_good("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[1,1]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]},"
                    "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                    "\"z2\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[5,5]}}",
                    5, &b);
    ck_assert_uint_eq(vt_st_count(f), 4);
    ck_assert_str_eq(vt_st_tensor_at(f, 0)->name, "z");
    ck_assert_uint_eq(vt_st_find(f, "z")->numel, 0);
    float v;
    ck_assert_int_eq(vt_st_load_f32(f, "b", &v, 1, NULL), VT_OK); /* misaligned source is fine */
    vt_st_close(f);
    free(b);
    /* escaped names are unescaped */
    f = expect_good("{\"a\\u002eb\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1, &b);
    ck_assert_ptr_nonnull(vt_st_find(f, "a.b"));
    ck_assert_int_eq(vt_st_find(f, "a.b")->ndim, 0);
    vt_st_close(f);
    free(b);
}
END_TEST

START_TEST(test_too_short) {
    unsigned char b[7] = {0};
    for (size_t n = 0; n < 8; n++) {
        vt_st_file *f;
        vt_err err;
        ck_assert_int_eq(open_buf(b, n, &f, &err), VT_EFORMAT);
        ck_assert_msg(strstr(err.msg, "too short for the 8-byte header length"), "%s", err.msg);
    }
}
END_TEST

START_TEST(test_header_length) {
    unsigned char b[64] = {0};
    vt_st_file *f;
    vt_err err;
    /* past EOF */
    b[0] = 100;
    ck_assert_int_eq(open_buf(b, 64, &f, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, "header length 100 runs past the end of the file (64 bytes)"), "%s", err.msg);
    /* huge */
    memset(b, 0xff, 8);
    ck_assert_int_eq(open_buf(b, 64, &f, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, "header length 18446744073709551615 exceeds the limit of 100000000 bytes"), "%s",
                  err.msg);
    memset(b, 0, 8);
    b[0] = 0x01, b[1] = 0xe1, b[2] = 0xf5, b[3] = 0x05; /* 100000001 */
    ck_assert_int_eq(open_buf(b, 64, &f, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, "exceeds the limit"), "%s", err.msg);
    /* zero-length header is not JSON */
    memset(b, 0, 8);
    ck_assert_int_eq(open_buf(b, 8, &f, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, "header") && strstr(err.msg, "empty input"), "%s", err.msg);
}
END_TEST

START_TEST(test_bad_header_json) {
    expect_bad("{\"a\":", 0, VT_EFORMAT, "m.safetensors: header:1:6: unexpected end of input", NULL);
    expect_bad("{\"a\":{}} x", 0, VT_EFORMAT, "header:1:10: unexpected character 'x'", NULL);
    expect_bad("[1,2]", 0, VT_EFORMAT, "header is a JSON array, not an object", NULL);
    expect_bad("\xef\xbb\xbf{}", 0, VT_EFORMAT, "header starts with a UTF-8 byte-order mark", NULL);
    expect_bad("\"x\"", 0, VT_EFORMAT, "header is a JSON string, not an object", NULL);
    expect_bad("{\"a\":{\"dtype\":\"\xff\"}}", 0, VT_EFORMAT, "invalid UTF-8", NULL);
}
END_TEST

START_TEST(test_bad_entries) {
    expect_bad("{\"t\":[1]}", 0, VT_EFORMAT, "tensor 't': entry is a array, not an object", NULL);
    expect_bad("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT, "tensor 't': missing field 'dtype'",
               NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, VT_EFORMAT, "tensor 't': missing field 'shape'",
               NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, VT_EFORMAT, "tensor 't': missing field 'data_offsets'",
               NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4, VT_EFORMAT,
               "tensor 't': unexpected field 'extra'", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': duplicate field 'dtype'", NULL);
    expect_bad("{\"t\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': dtype is a number, not a string", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "unknown dtype 'F33' for tensor 't'", NULL);
    expect_bad("{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "unknown dtype 'f32' for tensor 't'", NULL);
    expect_bad("{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, VT_EDTYPE,
               "unsupported dtype F64 for tensor 'x'", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': shape is a number, not an array", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': shape[1] is not a non-negative integer", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': shape[0] is not a non-negative integer", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': shape[0] is not a non-negative integer", NULL); /* integral, but not an integer literal */
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "shape[0] is not a non-negative integer", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
               VT_EUNSUPPORTED, "tensor 't': shape has 9 dims (at most 8 supported)", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, VT_EFORMAT,
               "tensor 't': data_offsets is not an array of 2 integers", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4, VT_EFORMAT,
               "tensor 't': data_offsets is not an array of 2 integers", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, VT_EFORMAT,
               "tensor 't': data_offsets must be non-negative integers", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}", 4, VT_EFORMAT,
               "data_offsets must be non-negative integers", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4, VT_EFORMAT,
               "data_offsets must be non-negative integers", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 4, VT_EFORMAT,
               "data_offsets must be non-negative integers", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, VT_EFORMAT,
               "tensor 't': data_offsets [4, 0] end before they begin", NULL);
}
END_TEST

START_TEST(test_offsets_and_sizes) {
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, VT_EFORMAT,
               "tensor 't': data_offsets [0, 8] out of bounds (data buffer is 4 bytes)", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': data_offsets [0, 4] span 4 bytes but F32 [2] needs 8 bytes", NULL);
    /* shape overflow: 2^62 * 16 elements, and 2^62 * 4 bytes */
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,16],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "tensor 't': shape [4611686018427387904, 16] is too large (byte size overflows 64 bits)", NULL);
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4, VT_EFORMAT,
               "is too large", NULL);
    expect_bad("{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0, VT_EFORMAT,
               "is too large", NULL);
}
END_TEST

START_TEST(test_tiling) {
    /* overlap */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
               24, VT_EFORMAT, "tensors 'a' [0, 16] and 'b' [8, 24] overlap", NULL);
    /* same range twice */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"b\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
               16, VT_EFORMAT, "overlap", NULL);
    /* hole at the start and in the middle */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, VT_EFORMAT,
               "hole in data buffer: bytes [0, 4) belong to no tensor (before 'a')", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
               12, VT_EFORMAT, "hole in data buffer: bytes [4, 8) belong to no tensor (before 'b')", NULL);
    /* bytes after the last tensor */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6, VT_EFORMAT,
               "data buffer has 6 bytes but tensors cover only 4", NULL);
    expect_bad("{}", 3, VT_EFORMAT, "data buffer has 3 bytes but tensors cover only 0", NULL);
}
END_TEST

START_TEST(test_names_and_metadata) {
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
               2, VT_EFORMAT, "duplicate tensor name 'a' in header", NULL);
    expect_bad("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, VT_EFORMAT,
               "tensor name 'a\\x00b' contains a NUL byte", NULL);
    expect_bad("{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, VT_EFORMAT,
               "unknown dtype 'X' for tensor 'a\\x0ab'", NULL);
    expect_bad("{\"__metadata__\":[]}", 0, VT_EFORMAT, "__metadata__ is a array, not an object of strings", NULL);
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, VT_EFORMAT, "__metadata__: value of 'k' is a number, not a string",
               NULL);
    expect_bad("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, VT_EFORMAT, "__metadata__: duplicate key 'k'", NULL);
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, VT_EFORMAT, "duplicate tensor name '__metadata__'",
               NULL);
    /* very long names are shortened in messages */
    char header[1024];
    char name[600];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"Q\",\"shape\":[],\"data_offsets\":[0,0]}}", name);
    expect_bad(header, 0, VT_EFORMAT, "unknown dtype 'Q' for tensor 'nnnn", "...'");
}
END_TEST

/* Every prefix of a valid file fails cleanly; so does every single-byte corruption of its header. */
START_TEST(test_truncations_and_corruptions) {
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/t.safetensors", tmpdir);
    float a[3] = {1, 2, 3};
    int64_t s3[] = {3};
    vt_st_writer *w = vt_st_writer_new();
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_F32, 1, s3, a, NULL), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "b", VT_F32, 1, s3, a, NULL), VT_OK);
    ck_assert_int_eq(vt_st_writer_save(w, path, NULL), VT_OK);
    vt_st_writer_free(w);
    FILE *fp = fopen(path, "rb");
    unsigned char buf[512];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    for (size_t cut = 0; cut < n; cut++) {
        vt_st_file *f;
        vt_err err = {0};
        ck_assert_msg(open_buf(buf, cut, &f, &err) != VT_OK, "prefix of %zu bytes accepted", cut);
        ck_assert(err.msg[0] != '\0');
    }
    /* truncated on disk: through the mmap path */
    ck_assert_int_eq(truncate(path, (off_t)n - 1), 0);
    vt_st_file *f;
    vt_err err;
    ck_assert_int_eq(vt_st_open(path, &f, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "out of bounds"), "%s", err.msg);
    ck_assert_int_eq(truncate(path, 5), 0);
    ck_assert_int_eq(vt_st_open(path, &f, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, "file is 5 bytes"), "%s", err.msg);
    size_t hlen = buf[0];
    for (size_t i = 8; i < 8 + hlen; i++) {
        for (int v = 0; v < 256; v += 17) {
            unsigned char save = buf[i];
            buf[i] = (unsigned char)v;
            if (open_buf(buf, n, &f, &err) == VT_OK) vt_st_close(f); /* may stay valid; must not crash */
            buf[i] = save;
        }
    }
    remove_tmpdir();
}
END_TEST

START_TEST(test_open_errors) {
    vt_st_file *f;
    vt_err err;
    ck_assert_int_eq(vt_st_open("/nonexistent/x.safetensors", &f, &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/x.safetensors: cannot open"), "%s", err.msg);
    ck_assert_int_eq(vt_st_open("/tmp", &f, &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
    ck_assert_int_eq(vt_st_open_memory(NULL, 5, "x", &f, &err), VT_EINVAL);
}
END_TEST

START_TEST(test_writer_rejects) {
    vt_st_writer *w = vt_st_writer_new();
    vt_err err;
    float x[4] = {0};
    int64_t s[] = {2, 2}, neg[] = {2, -2}, big[] = {INT64_C(1) << 62, 16};
    ck_assert_int_eq(vt_st_writer_add(w, "", VT_F32, 2, s, x, &err), VT_EINVAL);
    ck_assert_int_eq(vt_st_writer_add(w, "__metadata__", VT_F32, 2, s, x, &err), VT_EINVAL);
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_DTYPE_COUNT, 2, s, x, &err), VT_EINVAL);
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_F32, 9, s, x, &err), VT_EINVAL);
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_F32, 2, neg, x, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "tensor 'a': shape[1] is negative"), "%s", err.msg);
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_F32, 2, big, x, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "overflows"), "%s", err.msg);
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_F32, 2, s, NULL, &err), VT_EINVAL);
    ck_assert_int_eq(vt_st_writer_set_metadata(w, "k", NULL, &err), VT_EINVAL);

    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/dup.safetensors", tmpdir);
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_F32, 2, s, x, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(w, "a", VT_I32, 2, s, x, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_save(w, path, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "duplicate tensor name 'a'"), "%s", err.msg);
    ck_assert_int_eq(count_dir_entries(tmpdir), 0);
    vt_st_writer_free(w);
    remove_tmpdir();
}
END_TEST

static vt_st_writer *small_writer(const float *data) {
    vt_st_writer *w = vt_st_writer_new();
    int64_t s[] = {4};
    ck_assert_int_eq(vt_st_writer_add(w, "x", VT_F32, 1, s, data, NULL), VT_OK);
    return w;
}

START_TEST(test_writer_atomic_on_failure) {
    float x[4] = {1, 2, 3, 4};
    vt_err err;
    /* missing directory: nothing is created */
    vt_st_writer *w = small_writer(x);
    ck_assert_int_eq(vt_st_writer_save(w, "/nonexistent_dir_vt/x.safetensors", &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "/nonexistent_dir_vt/x.safetensors: cannot create temporary file"), "%s", err.msg);
    ck_assert_int_eq(access("/nonexistent_dir_vt/x.safetensors", F_OK), -1);

    /* rename fails (target is a non-empty directory): the temporary is removed */
    make_tmpdir();
    char path[128], inner[160];
    snprintf(path, sizeof path, "%s/ckpt", tmpdir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(inner, sizeof inner, "%s/keep", path);
    fclose(fopen(inner, "w"));
    ck_assert_int_eq(vt_st_writer_save(w, path, &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "cannot rename"), "%s", err.msg);
    ck_assert_int_eq(count_dir_entries(tmpdir), 1);

    /* a write that fails part-way (file size limit) leaves an existing checkpoint untouched */
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    ck_assert_int_eq(vt_st_writer_save(w, path, &err), VT_OK);
    vt_st_writer_free(w);
    static float big[1 << 16];
    w = vt_st_writer_new();
    int64_t sb[] = {1 << 16};
    ck_assert_int_eq(vt_st_writer_add(w, "big", VT_F32, 1, sb, big, NULL), VT_OK);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    vt_status st = vt_st_writer_save(w, path, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(st, VT_EIO);
    ck_assert_msg(strstr(err.msg, "write failed"), "%s", err.msg);
    vt_st_writer_free(w);
    ck_assert_int_eq(count_dir_entries(tmpdir), 2); /* ckpt/ and the old model, no temporary */
    vt_st_file *f;
    ck_assert_int_eq(vt_st_open(path, &f, &err), VT_OK);
    ck_assert_ptr_nonnull(vt_st_find(f, "x"));
    vt_st_close(f);
    remove_tmpdir();
}
END_TEST

START_TEST(test_writer_overwrites_and_keeps_mode) {
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/m.safetensors", tmpdir);
    float x[4] = {1, 2, 3, 4}, y[4] = {5, 6, 7, 8};
    vt_st_writer *w = small_writer(x);
    ck_assert_int_eq(vt_st_writer_save(w, path, NULL), VT_OK);
    vt_st_writer_free(w);
    ck_assert_int_eq(chmod(path, 0600), 0);
    w = small_writer(y);
    ck_assert_int_eq(vt_st_writer_save(w, path, NULL), VT_OK);
    vt_st_writer_free(w);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    vt_st_file *f;
    float out[4];
    ck_assert_int_eq(vt_st_open(path, &f, NULL), VT_OK);
    ck_assert_int_eq(vt_st_load_f32(f, "x", out, 4, NULL), VT_OK);
    ck_assert(out[0] == 5 && out[3] == 8);
    vt_st_close(f);
    /* relative path without a directory part */
    char cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmpdir), 0);
    w = small_writer(x);
    ck_assert_int_eq(vt_st_writer_save(w, "rel.safetensors", NULL), VT_OK);
    vt_st_writer_free(w);
    ck_assert_int_eq(access("rel.safetensors", R_OK), 0);
    ck_assert_int_eq(chdir(cwd), 0);
    remove_tmpdir();
}
END_TEST

START_TEST(test_many_tensors) {
    /* enough tensors for the sorted duplicate check and name lookup to matter */
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/many.safetensors", tmpdir);
    enum { N = 2000 };
    static int32_t vals[N];
    vt_st_writer *w = vt_st_writer_new();
    char name[64];
    int64_t s1[] = {1};
    for (int i = 0; i < N; i++) {
        vals[i] = i * 3;
        snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", i);
        ck_assert_int_eq(vt_st_writer_add(w, name, VT_I32, 1, s1, &vals[i], NULL), VT_OK);
    }
    ck_assert_int_eq(vt_st_writer_save(w, path, NULL), VT_OK);
    vt_st_writer_free(w);
    vt_st_file *f;
    vt_err err;
    ck_assert_msg(vt_st_open(path, &f, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(vt_st_count(f), N);
    for (int i = 0; i < N; i += 37) {
        snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", i);
        int32_t v;
        ck_assert_int_eq(vt_st_read_i32(f, vt_st_find(f, name), &v, 1, &err), VT_OK);
        ck_assert_int_eq(v, i * 3);
    }
    vt_st_close(f);
    remove_tmpdir();
}
END_TEST

VT_TEST_MAIN("safetensors", test_round_trip_all_dtypes, test_typed_reads, test_valid_edge_cases, test_too_short,
             test_header_length, test_bad_header_json, test_bad_entries, test_offsets_and_sizes, test_tiling,
             test_names_and_metadata, test_truncations_and_corruptions, test_open_errors, test_writer_rejects,
             test_writer_atomic_on_failure, test_writer_overwrites_and_keeps_mode, test_many_tensors)
