/* CLIP BPE tokenizer: the same ids as open_clip's SimpleTokenizer (tests/golden/text_bpe.safetensors, made by
 * tests/ref/gen_text.py) with a tiny learned vocabulary (always) and with open_clip's own vocabulary file
 * (when the reference venv has it, or VISFT_CLIP_BPE names it); malformed vocabularies are clear errors. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "visft/safetensors.h"
#include "visft/text.h"
#include "vt_test.h"

#define TINY_GZ VISFT_TEST_DATA_DIR "/text/tiny_vocab.txt.gz"
#define TINY_TXT VISFT_TEST_DATA_DIR "/text/tiny_vocab.txt"

typedef struct golden_strings {
    vt_st_file *f;
    const unsigned char *bytes;
    int64_t *offsets; /* copied: the golden's i64 tensors follow the odd-sized bytes, unaligned */
    size_t n;
} golden_strings;

/* A copy of i64 tensor `key` (caller frees). */
static int64_t *read_i64(vt_st_file *f, const char *key, size_t *count) {
    const vt_st_tensor *t = vt_st_find(f, key);
    ck_assert_msg(t != NULL, "golden has no %s", key);
    int64_t *v = malloc(t->numel * sizeof *v);
    vt_err err = {0};
    ck_assert_int_eq(vt_st_read_i64(f, t, v, t->numel, &err), VT_OK);
    if (count) *count = t->numel;
    return v;
}

static void open_strings(golden_strings *g) {
    vt_err err = {0};
    ck_assert_msg(vt_st_open(VISFT_GOLDEN_DIR "/text_bpe.safetensors", &g->f, &err) == VT_OK, "%s", err.msg);
    const vt_st_tensor *b = vt_st_find(g->f, "bytes");
    ck_assert(b != NULL);
    g->bytes = b->data;
    g->offsets = read_i64(g->f, "offsets", &g->n);
    g->n--;
}

static void close_strings(golden_strings *g) {
    free(g->offsets);
    vt_st_close(g->f);
}

/* Tokenizes every golden string with vocabulary `path` and compares with tensor `key` [n, ctx]. */
static void check_ids(const char *path, const char *key, int64_t ctx) {
    golden_strings g;
    open_strings(&g);
    vt_err err = {0};
    vt_bpe *b = NULL;
    ck_assert_msg(vt_bpe_load(path, &b, &err) == VT_OK, "%s", err.msg);
    const vt_st_tensor *want = vt_st_find(g.f, key);
    ck_assert(want && want->ndim == 2 && (size_t)want->shape[0] == g.n && want->shape[1] == ctx);
    int64_t *w = read_i64(g.f, key, NULL);
    int64_t got[VT_CLIP_CONTEXT_LENGTH];
    for (size_t i = 0; i < g.n; i++) {
        const char *s = (const char *)g.bytes + g.offsets[i];
        size_t len = (size_t)(g.offsets[i + 1] - g.offsets[i]);
        ck_assert_int_eq(vt_bpe_tokenize(b, s, len, ctx, got, &err), VT_OK);
        for (int64_t j = 0; j < ctx; j++)
            ck_assert_msg(got[j] == w[i * (size_t)ctx + j], "%s: string %zu (\"%.*s\"): id %lld is %lld, open_clip %lld",
                          key, i, (int)(len > 60 ? 60 : len), s, (long long)j, (long long)got[j],
                          (long long)w[i * (size_t)ctx + j]);
    }
    printf("%s: %zu strings match open_clip (context %lld)\n", key, g.n, (long long)ctx);
    free(w);
    vt_bpe_free(b);
    close_strings(&g);
}

START_TEST(tiny_vocab_ids_match_open_clip) {
    check_ids(TINY_GZ, "ids_tiny", VT_CLIP_CONTEXT_LENGTH);
    check_ids(TINY_TXT, "ids_tiny", VT_CLIP_CONTEXT_LENGTH); /* plain text reads the same as gzip */
    vt_bpe *b = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_bpe_load(TINY_GZ, &b, &err), VT_OK);
    golden_strings g;
    open_strings(&g);
    int64_t *vs = read_i64(g.f, "tiny_vocab_size", NULL);
    ck_assert_int_eq(vt_bpe_vocab_size(b), vs[0]);
    free(vs);
    ck_assert_int_eq(vt_bpe_eot_id(b), vt_bpe_vocab_size(b) - 1);
    ck_assert_int_eq(vt_bpe_sot_id(b), vt_bpe_vocab_size(b) - 2);
    vt_bpe_free(b);
    close_strings(&g);
}
END_TEST

/* open_clip's vocabulary: $VISFT_CLIP_BPE, else the reference venv's open_clip package. */
static bool clip_vocab(char *path, size_t len) {
    const char *env = getenv("VISFT_CLIP_BPE");
    if (env && *env) {
        snprintf(path, len, "%s", env);
        return true;
    }
    glob_t gl;
    bool ok = glob(VISFT_SOURCE_DIR "/.venv-ref/lib/python3*/site-packages/open_clip/bpe_simple_vocab_16e6.txt.gz", 0,
                   NULL, &gl) == 0 && gl.gl_pathc > 0;
    if (ok) snprintf(path, len, "%s", gl.gl_pathv[0]);
    if (ok || gl.gl_pathc) globfree(&gl);
    return ok;
}

START_TEST(clip_vocab_ids_match_open_clip) {
    char path[4096];
    if (!clip_vocab(path, sizeof path)) {
        printf("SKIP clip_vocab_ids_match_open_clip: open_clip's bpe_simple_vocab_16e6.txt.gz not found "
               "(pip install open_clip_torch into .venv-ref, or set VISFT_CLIP_BPE)\n");
        return;
    }
    double t0 = vt_now();
    vt_bpe *b = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_bpe_load(path, &b, &err) == VT_OK, "%s", err.msg);
    printf("loaded %s in %.0f ms\n", path, 1e3 * (vt_now() - t0));
    ck_assert_int_eq(vt_bpe_vocab_size(b), 49408);
    ck_assert_int_eq(vt_bpe_sot_id(b), VT_CLIP_SOT_ID);
    ck_assert_int_eq(vt_bpe_eot_id(b), VT_CLIP_EOT_ID);
    vt_bpe_free(b);
    check_ids(path, "ids_clip", VT_CLIP_CONTEXT_LENGTH);
    check_ids(path, "ids_clip_ctx8", 8);
}
END_TEST

START_TEST(context_edges_and_batches) {
    vt_bpe *b = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_bpe_load(TINY_GZ, &b, &err), VT_OK);
    int64_t sot = vt_bpe_sot_id(b), eot = vt_bpe_eot_id(b), out[4];
    ck_assert_int_eq(vt_bpe_tokenize(b, "photo", 5, 1, out, &err), VT_OK);
    ck_assert_int_eq(out[0], eot); /* [SOT, .., EOT][:1] then its last slot is EOT */
    ck_assert_int_eq(vt_bpe_tokenize(b, "a photo of a cat", 16, 2, out, &err), VT_OK);
    ck_assert(out[0] == sot && out[1] == eot);
    ck_assert_int_eq(vt_bpe_tokenize(b, "", 0, 4, out, &err), VT_OK);
    ck_assert(out[0] == sot && out[1] == eot && out[2] == 0 && out[3] == 0);
    ck_assert_int_eq(vt_bpe_tokenize(b, "x", 1, 0, out, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "context length 0"), "%s", err.msg);

    vt_ctx *c = vt_test_ctx();
    const char *texts[] = {"a photo of a cat", "", "\xff\xfe invalid \xc3 utf-8 \xed\xa0\x80"};
    vt_tensor *t = vt_bpe_tokenize_batch(c, b, texts, 3, 77);
    ck_assert_msg(t != NULL, "%s", vt_ctx_error(c)->msg);
    ck_assert(t->dtype == VT_I64 && t->shape[0] == 3 && t->shape[1] == 77);
    ck_assert_int_eq(vt_i64(t)[0], sot);
    ck_assert_int_eq(vt_i64(t)[77 + 1], eot);
    int64_t n_tokens = 0; /* invalid bytes become U+FFFD, which still tokenizes */
    for (int j = 0; j < 77; j++) n_tokens += vt_i64(t)[2 * 77 + j] != 0;
    ck_assert_int_gt(n_tokens, 4);
    vt_ctx_destroy(c);
    vt_bpe_free(b);
}
END_TEST

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void expect_load_error(const void *data, size_t len, vt_status code, const char *needle) {
    vt_bpe *b = (vt_bpe *)1;
    vt_err err = {0};
    ck_assert_int_eq(vt_bpe_load_memory(data, len, "bad.txt", &b, &err), code);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(err.msg, needle), "expected \"%s\" in: %s", needle, err.msg);
}

START_TEST(malformed_vocab_is_a_clear_error) {
    vt_bpe *b = NULL;
    vt_err err = {0};
    ck_assert_int_eq(vt_bpe_load("/nonexistent/bpe.txt.gz", &b, &err), VT_EIO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/bpe.txt.gz: cannot open"), "%s", err.msg);
    expect_load_error("", 0, VT_EFORMAT, "no merges after the header line");
    expect_load_error("#version 0.2", 12, VT_EFORMAT, "no merges");
    expect_load_error("#version\n\n\n", 11, VT_EFORMAT, "no merges");
    expect_load_error("#version\na b\nc d e\n", 19, VT_EFORMAT, "bad.txt: line 3: expected two symbols");
    expect_load_error("#version\na b\nc\n", 15, VT_EFORMAT, "line 3: expected two symbols \"a b\", found 1");
    expect_load_error("#version\na \xff\n", 13, VT_EFORMAT, "line 2: invalid UTF-8 at byte offset 11");
    /* gzip: truncated and corrupted copies of the tiny vocabulary */
    FILE *f = fopen(TINY_GZ, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char gz[4096];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    ck_assert_uint_gt(n, 100);
    expect_load_error(gz, n / 2, VT_EFORMAT, "truncated gzip stream");
    gz[n / 2] ^= 0x55, gz[n / 2 + 1] ^= 0xAA, gz[n / 2 + 2] ^= 0xFF;
    expect_load_error(gz, n, VT_EFORMAT, "bad.txt: corrupt gzip data");
    /* the same through a file: the message names it */
    char path[] = "/tmp/visft_bad_bpe_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    write_file(path, gz, n / 3);
    ck_assert_int_eq(vt_bpe_load(path, &b, &err), VT_EFORMAT);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "gzip"), "%s", err.msg);
    remove(path);
}
END_TEST

START_TEST(loose_python_compatible_files_load) {
    /* blank lines take an id (Python appends ''), CRLF and other whitespace split like str.split() */
    const char *text = "#v\nh e\r\n\nhe llo\n";
    vt_bpe *b = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_bpe_load_memory(text, strlen(text), "loose", &b, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(vt_bpe_vocab_size(b), 512 + 4 + 2); /* "he", "", "hello", "" (after the last newline) */
    int64_t ids[4];
    size_t n = 0;
    ck_assert_int_eq(vt_bpe_encode(b, "HE", 2, ids, 4, &n, &err), VT_OK);
    ck_assert_uint_eq(n, 2); /* "he</w>" is no merge: h, e</w> */
    vt_bpe_free(b);
}
END_TEST

VT_TEST_MAIN("bpe", tiny_vocab_ids_match_open_clip, clip_vocab_ids_match_open_clip, context_edges_and_batches,
             malformed_vocab_is_a_clear_error, loose_python_compatible_files_load)
