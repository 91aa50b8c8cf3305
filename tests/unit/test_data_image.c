/* Image decoding (core/data/image*.c): every colour layout against PIL's decode (tests/ref/gen_data.py),
 * DCT-domain downscaling, and the bad inputs of issue 5 as clear errors naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "visft/data.h"
#include "vt_test.h"

#define IMG(name) VISFT_TEST_DATA_DIR "/images/" name

/* Max and mean |ours - PIL| over a decoded image. */
static void compare_golden(const char *file, const vt_image *img, int max_allowed, double mean_allowed) {
    vt_ctx *c = vt_test_ctx();
    vt_scope_push(c);
    vt_golden *g = vt_golden_open("data.safetensors");
    char key[128];
    snprintf(key, sizeof key, "decode.%s", file);
    vt_tensor *ref = vt_golden_get(c, g, key);
    ck_assert_msg(ref, "%s missing from the golden file", key);
    ck_assert_int_eq(ref->shape[0], img->height);
    ck_assert_int_eq(ref->shape[1], img->width);
    const uint8_t *r = ref->data;
    int worst = 0;
    double sum = 0;
    for (int32_t y = 0; y < img->height; y++)
        for (int32_t x = 0; x < 3 * img->width; x++) {
            int d = abs((int)img->data[(size_t)y * img->stride + x] - (int)r[((size_t)y * img->width) * 3 + x]);
            worst = d > worst ? d : worst;
            sum += d;
        }
    double mean = sum / (3.0 * img->width * img->height);
    ck_assert_msg(worst <= max_allowed && mean <= mean_allowed, "%s: max diff %d, mean %.3f vs PIL", file, worst, mean);
    vt_golden_close(g);
    vt_scope_pop(c);
    vt_ctx_destroy(c);
}

static void decode_matches_pil(const char *file, int max_allowed) {
    char path[512];
    snprintf(path, sizeof path, IMG("%s"), file);
    vt_image img = {0};
    vt_err err = {0};
    ck_assert_msg(vt_image_load_file(path, NULL, &img, &err) == VT_OK, "%s", err.msg);
    compare_golden(file, &img, max_allowed, max_allowed);
    vt_image_free(&img);
}

/* libjpeg-turbo with ISLOW DCT and fancy upsampling is what PIL uses: exact. */
START_TEST(test_decode_png_layouts_match_pil) {
    const char *files[] = {"rgb.png", "rgba.png", "gray.png", "gray16.png", "palette.png", "bw.png", "src.png"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) decode_matches_pil(files[i], 0);
}
END_TEST

START_TEST(test_decode_jpeg_layouts_match_pil) {
    const char *files[] = {"rgb.jpg", "gray.jpg", "cmyk.jpg", "progressive.jpg", "large.jpg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) decode_matches_pil(files[i], 0);
}
END_TEST

START_TEST(test_decode_from_memory_and_probe) {
    FILE *f = fopen(IMG("large.jpg"), "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int32_t w = 0, h = 0;
    vt_err err = {0};
    ck_assert_int_eq(vt_image_probe_mem(buf, n, "large.jpg", &w, &h, &err), VT_OK);
    ck_assert_int_eq(w, 160);
    ck_assert_int_eq(h, 120);
    vt_image img = {0};
    ck_assert_int_eq(vt_image_load_mem(buf, n, "large.jpg", NULL, &img, &err), VT_OK);
    compare_golden("large.jpg", &img, 0, 0);
    vt_image_free(&img);
}
END_TEST

/* min_short picks the smallest 1/d scale keeping the short side >= the target, only when d >= 2. */
START_TEST(test_decode_dct_downscale) {
    struct { int32_t min_short, w, h; } cases[] = {
        {0, 160, 120}, {100, 160, 120}, {60, 80, 60}, {31, 80, 60}, {30, 40, 30}, {15, 20, 15}, {1, 20, 15}, {61, 160, 120}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_decode_opts o = {cases[i].min_short};
        vt_image img = {0};
        vt_err err = {0};
        ck_assert_msg(vt_image_load_file(IMG("large.jpg"), &o, &img, &err) == VT_OK, "%s", err.msg);
        ck_assert_msg(img.width == cases[i].w && img.height == cases[i].h, "min_short %d: got %dx%d", cases[i].min_short,
                      img.width, img.height);
        vt_image_free(&img);
    }
    /* A sample keeps the stored size as its original size and maps boxes onto the smaller image. */
    vt_sample s;
    vt_sample_init(&s);
    s.decode.min_short = 60;
    vt_err err = {0};
    ck_assert_int_eq(vt_sample_load_image(&s, IMG("large.jpg"), &err), VT_OK);
    ck_assert_int_eq(s.orig_width, 160);
    ck_assert_int_eq(s.image.width, 80);
    ck_assert_int_eq(vt_sample_add_instance(&s, (const float[]){10, 20, 50, 60}, 0, 1, false, 1600, NULL, &err), VT_OK);
    ck_assert_float_eq(s.instances[0].box[0], 5);
    ck_assert_float_eq(s.instances[0].box[3], 30);
    ck_assert_float_eq(s.instances[0].area, 400);
    vt_sample_free(&s);
    /* PNG ignores the hint (no DCT). */
    vt_image img = {0};
    vt_decode_opts o = {4};
    ck_assert_int_eq(vt_image_load_file(IMG("rgb.png"), &o, &img, &err), VT_OK);
    ck_assert_int_eq(img.width, 48);
    vt_image_free(&img);
}
END_TEST

static void expect_error(const char *path, vt_status code, const char *needle) {
    vt_image img = {0};
    vt_err err = {0};
    vt_status st = vt_image_load_file(path, NULL, &img, &err);
    ck_assert_msg(st == code, "%s: expected %s, got %s (%s)", path, vt_status_name(code), vt_status_name(st), err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message lacks '%s': %s", needle, err.msg);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "message is not one line: %s", err.msg);
    vt_image_free(&img);
}

START_TEST(test_bad_inputs_are_errors_naming_the_file) {
    expect_error(IMG("truncated.jpg"), VT_EFORMAT, "truncated JPEG");
    expect_error(IMG("badcrc.png"), VT_EFORMAT, "CRC");
    expect_error(IMG("empty.jpg"), VT_EFORMAT, "empty file");
    expect_error(IMG("no-such-image.jpg"), VT_EIO, "cannot open");
    expect_error(IMG(""), VT_EIO, "not a regular file"); /* a directory */
    expect_error(VISFT_TEST_DATA_DIR "/../unit/test_data_image.c", VT_EFORMAT, "not a JPEG or PNG");
    /* the sample API reports the same */
    vt_sample s;
    vt_sample_init(&s);
    vt_err err = {0};
    ck_assert_int_eq(vt_sample_load_image(&s, IMG("truncated.jpg"), &err), VT_EFORMAT);
    vt_sample_free(&s);
}
END_TEST

/* Every prefix and a few corruptions of each fixture: an error or an image, never a crash. */
START_TEST(test_truncations_and_corruptions_never_crash) {
    const char *files[] = {"rgb.jpg", "progressive.jpg", "cmyk.jpg", "rgb.png", "palette.png", "gray16.png"};
    static uint8_t buf[1 << 14];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, IMG("%s"), files[i]);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        vt_image img = {0};
        int ok_prefixes = 0;
        for (size_t len = 0; len < n; len += 1 + len / 16) {
            vt_err err = {0};
            if (vt_image_load_mem(buf, len, files[i], NULL, &img, &err) == VT_OK) ok_prefixes++;
            else ck_assert_msg(strstr(err.msg, files[i]) != NULL, "%s", err.msg);
        }
        ck_assert_int_le(ok_prefixes, 1); /* at most a prefix that only lacks the EOI marker */
        for (size_t k = 0; k < 64; k++) {
            uint8_t saved = buf[(k * 7919) % n];
            buf[(k * 7919) % n] ^= (uint8_t)(0x5a + k);
            vt_err err = {0};
            (void)vt_image_load_mem(buf, n, files[i], NULL, &img, &err);
            buf[(k * 7919) % n] = saved;
        }
        vt_image_free(&img);
    }
}
END_TEST

START_TEST(test_png_roundtrip) {
    vt_image img = {0};
    vt_err err = {0};
    ck_assert_int_eq(vt_image_load_file(IMG("src.png"), NULL, &img, &err), VT_OK);
    char path[] = "/tmp/vt_data_png_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(vt_image_save_png(&img, path, &err) == VT_OK, "%s", err.msg);
    vt_image back = {0};
    ck_assert_int_eq(vt_image_load_file(path, NULL, &back, &err), VT_OK);
    ck_assert_int_eq(back.width, img.width);
    ck_assert_int_eq(back.height, img.height);
    ck_assert_int_eq(memcmp(back.data, img.data, img.stride * (size_t)img.height), 0);
    remove(path);
    vt_image_free(&img);
    vt_image_free(&back);
}
END_TEST

VT_TEST_MAIN("data_image", test_decode_png_layouts_match_pil, test_decode_jpeg_layouts_match_pil,
             test_decode_from_memory_and_probe, test_decode_dct_downscale, test_bad_inputs_are_errors_naming_the_file,
             test_truncations_and_corruptions_never_crash, test_png_roundtrip)
