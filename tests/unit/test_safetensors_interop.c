/* Interop with the official safetensors package: files visft writes load there, files it writes load here.
 * Runs the Python named by $VISFT_PYTHON (default python3); passes with a "skipped" note when that Python
 * lacks numpy or safetensors. torch, when present, adds the bf16 checks (numpy has no bfloat16). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "visft/safetensors.h"
#include "vt_test.h"

static const char *script =
    "import sys, numpy as np\n"
    "from safetensors.numpy import load_file as np_load, save_file as np_save\n"
    "d = sys.argv[1]\n"
    "def check_common(t, lib):\n"
    "    a = lambda x: np.asarray(x.numpy() if lib == 'pt' else x)\n"
    "    assert a(t['w']).dtype == np.float32 and a(t['w']).shape == (2, 3)\n"
    "    assert (a(t['w']) == np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1).all()\n"
    "    assert (a(t['h']) == np.array([0.5, 1.5, 2.5], dtype=np.float16)).all() and a(t['h']).dtype == np.float16\n"
    "    assert a(t['i']).tolist() == [-2**31, -1, 0, 2**31 - 1] and a(t['i']).dtype == np.int32\n"
    "    assert a(t['l']).tolist() == [-2**40, 2**62] and a(t['l']).dtype == np.int64\n"
    "    assert a(t['u']).tolist() == [0, 7, 255] and a(t['u']).dtype == np.uint8\n"
    "    assert a(t['m']).tolist() == [True, False] and a(t['m']).dtype == np.bool_\n"
    "    assert a(t['s']).shape == () and float(a(t['s'])) == 42.0\n"
    "    assert a(t['e']).shape == (4, 0)\n"
    "t = np_load(d + '/visft_np.safetensors')\n"
    "check_common(t, 'np')\n"
    "np_save({'x': np.arange(12, dtype=np.float32).reshape(3, 4), 'y': np.array([1, -2], dtype=np.int64),\n"
    "         'z': np.array([0.25, -4], dtype=np.float16), 'k': np.zeros((2, 0), np.int32)},\n"
    "        d + '/numpy.safetensors', metadata={'writer': 'numpy'})\n"
    "try:\n"
    "    import torch\n"
    "except ImportError:\n"
    "    sys.exit(0)\n"
    "from safetensors.torch import load_file as pt_load, save_file as pt_save\n"
    "from safetensors import safe_open\n"
    "t = pt_load(d + '/visft_pt.safetensors')\n"
    "check_common(t, 'pt')\n"
    "assert t['b'].dtype == torch.bfloat16 and t['b'].float().tolist() == [0, 0.25, 0.5, 0.75, 1.0]\n"
    "with safe_open(d + '/visft_pt.safetensors', 'pt') as f:\n"
    "    assert f.metadata() == {'format': 'pt', 'origin': 'visft \\u00e9 \"q\"'}, f.metadata()\n"
    "pt_save({'bf': torch.tensor([1.5, -2.0, 3.0], dtype=torch.bfloat16),\n"
    "         'f': torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4},\n"
    "        d + '/torch.safetensors', metadata={'format': 'pt'})\n"
    "open(d + '/torch.ok', 'w').close()\n";

static char dir[64];

static void write_visft_file(const char *path, bool with_bf16) {
    float w[6], s = 42;
    for (int i = 0; i < 6; i++) w[i] = (float)i * 0.5f - 1;
    uint16_t h[3], b[5];
    for (int i = 0; i < 3; i++) h[i] = vt_f32_to_f16((float)i + 0.5f);
    for (int i = 0; i < 5; i++) b[i] = vt_f32_to_bf16((float)i * 0.25f);
    int32_t iv[4] = {INT32_MIN, -1, 0, INT32_MAX};
    int64_t lv[2] = {-(INT64_C(1) << 40), INT64_C(1) << 62};
    uint8_t u[3] = {0, 7, 255}, m[2] = {1, 0};
    int64_t s23[] = {2, 3}, s3[] = {3}, s4[] = {4}, s2[] = {2}, s5[] = {5}, s40[] = {4, 0};
    vt_st_writer *wr = vt_st_writer_new();
    vt_err err;
    ck_assert_int_eq(vt_st_writer_add(wr, "w", VT_F32, 2, s23, w, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(wr, "h", VT_F16, 1, s3, h, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(wr, "i", VT_I32, 1, s4, iv, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(wr, "l", VT_I64, 1, s2, lv, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(wr, "u", VT_U8, 1, s3, u, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(wr, "m", VT_BOOL, 1, s2, m, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(wr, "s", VT_F32, 0, NULL, &s, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_add(wr, "e", VT_F32, 2, s40, NULL, &err), VT_OK);
    if (with_bf16) ck_assert_int_eq(vt_st_writer_add(wr, "b", VT_BF16, 1, s5, b, &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_set_metadata(wr, "format", "pt", &err), VT_OK);
    ck_assert_int_eq(vt_st_writer_set_metadata(wr, "origin", "visft \xc3\xa9 \"q\"", &err), VT_OK);
    ck_assert_msg(vt_st_writer_save(wr, path, &err) == VT_OK, "%s", err.msg);
    vt_st_writer_free(wr);
}

START_TEST(test_interop_with_official_package) {
    const char *py = getenv("VISFT_PYTHON");
    if (!py || !*py) py = "python3";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c 'import numpy, safetensors.numpy' >/dev/null 2>&1", py);
    if (system(cmd) != 0) {
        printf("test_interop_with_official_package: skipped (%s lacks numpy or safetensors; set VISFT_PYTHON)\n", py);
        return;
    }
    strcpy(dir, "/tmp/vt_st_interop_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/visft_np.safetensors", dir);
    write_visft_file(path, false);
    snprintf(path, sizeof path, "%s/visft_pt.safetensors", dir);
    write_visft_file(path, true);
    snprintf(path, sizeof path, "%s/check.py", dir);
    FILE *fp = fopen(path, "w");
    fputs(script, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s %s %s", py, path, dir);
    ck_assert_msg(system(cmd) == 0, "the official package rejected a visft file (see output above)");

    vt_st_file *f;
    vt_err err;
    snprintf(path, sizeof path, "%s/numpy.safetensors", dir);
    ck_assert_msg(vt_st_open(path, &f, &err) == VT_OK, "%s", err.msg);
    ck_assert_str_eq(vt_st_metadata(f, "writer"), "numpy");
    float x[12];
    ck_assert_int_eq(vt_st_load_f32(f, "x", x, 12, &err), VT_OK);
    for (int i = 0; i < 12; i++) ck_assert(x[i] == (float)i);
    ck_assert_int_eq(vt_st_find(f, "x")->ndim, 2);
    ck_assert_int_eq(vt_st_find(f, "x")->shape[1], 4);
    int64_t y[2];
    ck_assert_int_eq(vt_st_read_i64(f, vt_st_find(f, "y"), y, 2, &err), VT_OK);
    ck_assert(y[0] == 1 && y[1] == -2);
    ck_assert_int_eq(vt_st_load_f32(f, "z", x, 2, &err), VT_OK);
    ck_assert(x[0] == 0.25f && x[1] == -4);
    ck_assert_uint_eq(vt_st_find(f, "k")->nbytes, 0);
    vt_st_close(f);

    snprintf(path, sizeof path, "%s/torch.ok", dir);
    if (access(path, F_OK) == 0) {
        snprintf(path, sizeof path, "%s/torch.safetensors", dir);
        ck_assert_msg(vt_st_open(path, &f, &err) == VT_OK, "%s", err.msg);
        ck_assert_int_eq(vt_st_find(f, "bf")->dtype, VT_BF16);
        ck_assert_int_eq(vt_st_load_f32(f, "bf", x, 3, &err), VT_OK);
        ck_assert(x[0] == 1.5f && x[1] == -2 && x[2] == 3);
        ck_assert_int_eq(vt_st_load_f32(f, "f", x, 6, &err), VT_OK);
        ck_assert(x[5] == 1.25f);
        vt_st_close(f);
    } else {
        printf("test_interop_with_official_package: torch part skipped (no torch)\n");
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

VT_TEST_MAIN("safetensors_interop", test_interop_with_official_package)
