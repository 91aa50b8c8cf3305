/* libFuzzer target: JPEG/PNG decoding of arbitrary bytes (vt_image_probe_mem, vt_image_load_mem with and
 * without DCT downscaling). Any input must give an image or an error, never a crash, a leak or an abort.
 *   build-fuzz/tests/fuzz_image -max_total_time=60 -rss_limit_mb=2048 tests/fuzz/corpus/image */
#include <stddef.h>
#include <stdint.h>

#include "visft/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_err err;
    int32_t w, h;
    (void)vt_image_probe_mem(data, size, "fuzz", &w, &h, &err);
    vt_image img = {0};
    /* the last byte picks the downscale hint, so the fuzzer reaches the scaled IDCT paths too */
    vt_decode_opts opts = {size ? (int32_t)(data[size - 1] % 64) : 0};
    if (vt_image_load_mem(data, size, "fuzz", &opts, &img, &err) == VT_OK && img.width > 0) {
        volatile uint8_t sink = img.data[img.stride * (size_t)(img.height - 1) + 3 * (size_t)img.width - 1];
        (void)sink;
    }
    vt_image_free(&img);
    return 0;
}
