/* The image_text dataset plugin: Karpathy JSON splits and CSV with quoting, per-image and per-caption
 * samples, and malformed JSON / CSV refused with the file and line or offset. */
#include "test_loader_dataset.h"

static char *make_images(void) {
    char *dir = test_tmpdir();
    char p[512];
    snprintf(p, sizeof p, "%s/imgs", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/imgs/%d.png", dir, i);
        test_write_png(p, 4 + i, 3, 50 * i);
    }
    return dir;
}

/* Opens image_text on a file holding `text` (named `file` in dir) with extra YAML params. */
static vt_status open_text(test_ds *t, const char *dir, const char *file, const char *text, const char *extra,
                           const char *split, vt_err *err) {
    char path[512], yaml[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    test_write_text(path, text);
    snprintf(yaml, sizeof yaml, "annotations: %s\n%s", path, extra ? extra : "");
    return test_ds_open(t, "image_text", yaml, split, err);
}

static const char *karpathy =
    "{\"images\": [\n"
    " {\"filepath\": \"imgs\", \"filename\": \"0.png\", \"split\": \"train\", \"cocoid\": 100,\n"
    "  \"sentences\": [{\"raw\": \"A red square.\"}, {\"raw\": \"Red box on white\"}]},\n"
    " {\"filepath\": \"imgs\", \"filename\": \"1.png\", \"split\": \"restval\", \"imgid\": 7,\n"
    "  \"sentences\": [{\"raw\": \"caf\\u00e9 sign\"}]},\n"
    " {\"filepath\": \"imgs\", \"filename\": \"2.png\", \"split\": \"test\", \"sentences\": [{\"raw\": \"t\"}]}\n"
    "], \"dataset\": \"coco\"}\n";

START_TEST(test_karpathy_json_splits_and_captions) {
    char *dir = make_images();
    test_ds t;
    vt_err err = {0};
    ck_assert_msg(open_text(&t, dir, "d.json", karpathy, NULL, "train", &err) == VT_OK, "%s", err.msg);
    const vt_dataset_vtable *vt = &t.comp->vt.dataset;
    ck_assert_uint_eq(vt->length(t.ds), 2); /* train + restval */
    vt_sample s;
    vt_sample_init(&s);
    ck_assert_msg(vt->sample(t.ds, 0, &s, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(s.image_id, 100);
    ck_assert_int_eq(s.image.width, 4);
    ck_assert_uint_eq(s.n_captions, 2);
    ck_assert_str_eq(s.captions[1].text, "Red box on white");
    vt_sample_clear(&s);
    ck_assert_int_eq(vt->sample(t.ds, 1, &s, &err), VT_OK);
    ck_assert_int_eq(s.image_id, 7);
    ck_assert_str_eq(s.captions[0].text, "caf\xC3\xA9 sign");
    test_ds_close(&t);

    ck_assert_int_eq(open_text(&t, dir, "d.json", karpathy, "train_includes_restval: false\n", "train", &err), VT_OK);
    ck_assert_uint_eq(t.comp->vt.dataset.length(t.ds), 1);
    test_ds_close(&t);

    /* per_caption: one sample per pair */
    ck_assert_int_eq(open_text(&t, dir, "d.json", karpathy, "per_caption: true\n", "all", &err), VT_OK);
    ck_assert_uint_eq(t.comp->vt.dataset.length(t.ds), 4);
    vt_sample_clear(&s);
    ck_assert_int_eq(t.comp->vt.dataset.sample(t.ds, 1, &s, &err), VT_OK);
    ck_assert_uint_eq(s.n_captions, 1);
    ck_assert_str_eq(s.captions[0].text, "Red box on white");
    vt_sample_clear(&s);
    ck_assert_int_eq(t.comp->vt.dataset.sample(t.ds, 3, &s, &err), VT_OK);
    ck_assert_int_eq(s.image.width, 6);
    test_ds_close(&t);
    vt_sample_free(&s);
    test_rm_rf(dir);
}
END_TEST

START_TEST(test_csv_with_quoting_and_grouping) {
    char *dir = make_images();
    const char *csv = "\xEF\xBB\xBF" "filepath,caption\r\n"
                      "imgs/0.png,\"A square, red\"\r\n"
                      "imgs/0.png,\"He said \"\"hi\"\"\"\r\n"
                      "\n"
                      "imgs/1.png,\"two\nlines\"\n"
                      "imgs/2.png,plain";
    test_ds t;
    vt_err err = {0};
    ck_assert_msg(open_text(&t, dir, "c.csv", csv, NULL, "train", &err) == VT_OK, "%s", err.msg);
    const vt_dataset_vtable *vt = &t.comp->vt.dataset;
    ck_assert_uint_eq(vt->length(t.ds), 3);
    vt_sample s;
    vt_sample_init(&s);
    ck_assert_int_eq(vt->sample(t.ds, 0, &s, &err), VT_OK);
    ck_assert_uint_eq(s.n_captions, 2);
    ck_assert_str_eq(s.captions[0].text, "A square, red");
    ck_assert_str_eq(s.captions[1].text, "He said \"hi\"");
    vt_sample_clear(&s);
    ck_assert_int_eq(vt->sample(t.ds, 1, &s, &err), VT_OK);
    ck_assert_str_eq(s.captions[0].text, "two\nlines");
    vt_sample_clear(&s);
    ck_assert_int_eq(vt->sample(t.ds, 2, &s, &err), VT_OK);
    ck_assert_str_eq(s.captions[0].text, "plain");
    vt_sample_free(&s);
    test_ds_close(&t);

    /* TSV with custom columns and a split column */
    const char *tsv = "caption\timage\tsplit\nx\timgs/0.png\tval\ny\timgs/1.png\ttrain\n";
    ck_assert_msg(open_text(&t, dir, "c.tsv", tsv, "csv_image_column: image\n", "val", &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(t.comp->vt.dataset.length(t.ds), 1);
    test_ds_close(&t);
    test_rm_rf(dir);
}
END_TEST

/* Each malformed input fails with this status and a message holding `want`. */
typedef struct bad_case {
    const char *file, *text, *want;
    vt_status status;
} bad_case;

START_TEST(test_malformed_csv_and_json_are_refused) {
    char *dir = make_images();
    const bad_case cases[] = {
        {"a.csv", "", "empty CSV", VT_EFORMAT},
        {"a.csv", "path,text\nx,y\n", "lacks column \"filepath\"", VT_EFORMAT},
        {"a.csv", "filepath,caption\nimgs/0.png,\"never closed\n", "a.csv:2: quoted field never closed", VT_EFORMAT},
        {"a.csv", "filepath,caption\nimgs/0.png,ok\nimgs/1.png,a,b\n", "a.csv:3: 3 fields", VT_EFORMAT},
        {"a.csv", "filepath,caption\nimgs/0.png,bad \"quote\"\n", "a.csv:2: a quote inside", VT_EFORMAT},
        {"a.csv", "filepath,caption\nimgs/0.png,\"x\"y\n", "text after a closing quote", VT_EFORMAT},
        {"a.csv", "filepath,caption\n,caption\n", "empty image path", VT_EFORMAT},
        {"a.csv", "filepath,caption\n", "has no images", VT_EFORMAT},
        {"a.json", "{\"images\": [", "a.json", VT_EFORMAT},
        {"a.json", "{\"images\": {}}", "\"images\" array", VT_EFORMAT},
        {"a.json", "[1, 2]", "\"images\" array", VT_EFORMAT},
        {"a.json", "{\"images\": [3]}", "images[0]: not an object", VT_EFORMAT},
        {"a.json", "{\"images\": [{\"sentences\": []}]}", "images[0]: missing or empty \"filename\"", VT_EFORMAT},
        {"a.json", "{\"images\": [{\"filename\": \"x\", \"sentences\": [{\"tokens\": []}]}]}",
         "sentences[0] has no \"raw\"", VT_EFORMAT},
        {"a.json", "{\"images\": [{\"filename\": \"x\", \"split\": 3}]}", "\"split\" has the wrong type", VT_EFORMAT},
        {"a.json", "{\"images\": [{\"filename\": \"x\", \"sentences\": [{\"raw\": \"a\\u0000b\"}]}]}", "NUL",
         VT_EFORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_ds t;
        vt_err err = {0};
        vt_status st = open_text(&t, dir, cases[i].file, cases[i].text, NULL, "train", &err);
        ck_assert_msg(st == cases[i].status, "case %zu: status %d (%s)", i, st, err.msg);
        ck_assert_msg(strstr(err.msg, cases[i].want), "case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
        test_ds_close(&t);
    }
    /* A missing annotation file, a bad separator, and a listed image that does not exist. */
    test_ds t;
    vt_err err = {0};
    char yaml[600];
    snprintf(yaml, sizeof yaml, "annotations: %s/none.json\n", dir);
    ck_assert_int_eq(test_ds_open(&t, "image_text", yaml, "train", &err), VT_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "none.json"));
    test_ds_close(&t);
    ck_assert_int_eq(open_text(&t, dir, "b.csv", "filepath,caption\nx,y\n", "csv_separator: \";;\"\n", NULL, &err),
                     VT_EINVAL);
    test_ds_close(&t);
    ck_assert_int_eq(open_text(&t, dir, "b.csv", "filepath,caption\nimgs/gone.png,y\n", NULL, "train", &err), VT_OK);
    vt_sample s;
    vt_sample_init(&s);
    vt_status st = t.comp->vt.dataset.sample(t.ds, 0, &s, &err);
    ck_assert_int_ne(st, VT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "gone.png"));
    vt_sample_free(&s);
    test_ds_close(&t);
    test_rm_rf(dir);
}
END_TEST

VT_TEST_MAIN("image_text", test_karpathy_json_splits_and_captions, test_csv_with_quoting_and_grouping,
             test_malformed_csv_and_json_are_refused)
