/* The shapes dataset outside the generator: the COCO export (files re-read with visft/json.h, the PNG
 * decoder and the RLE codec; pycocotools when installed), `visft data export` and the `shapes` plugin
 * (vt_sample contents, determinism across threads). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/shapes.h"
#include "data/shapes_export.h"
#include "visft/coco_mask.h"
#include "visft/config.h"
#include "visft/data.h"
#include "visft/json.h"
#include "visft/registry.h"
#include "vt_test.h"

static vt_shapes_opts export_opts(void) {
    vt_shapes_opts o;
    vt_shapes_opts_default(&o);
    o.size = 48;
    o.seed = 11;
    o.glyphs = true;
    o.captions = 2;
    o.max_objects = 5;
    return o;
}

static char *make_tmpdir(void) {
    char *d = strdup("/tmp/vt_shapes_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static vt_json_doc *parse(const char *dir, const char *file) {
    char path[512];
    snprintf(path, sizeof path, "%s/annotations/%s", dir, file);
    vt_json_doc *doc = NULL;
    vt_err err;
    ck_assert_msg(vt_json_parse_file(path, NULL, &doc, &err) == VT_OK, "%s", err.msg);
    return doc;
}

static int64_t geti(const vt_json *obj, const char *key) {
    int64_t v = -999;
    ck_assert_msg(vt_json_int64(vt_json_get(obj, key), &v), "key %s", key);
    return v;
}

START_TEST(export_round_trip) {
    char *dir = make_tmpdir();
    vt_shapes_opts o = export_opts();
    vt_err err;
    vt_shapes_export_stats stats;
    const uint64_t start = 3;
    const size_t count = 6;
    ck_assert_msg(vt_shapes_export_coco(&o, "val", start, count, dir, &stats, &err) == VT_OK, "%s", err.msg);
    ck_assert_uint_eq(stats.images, count);
    ck_assert_uint_eq(stats.captions, 2 * count);

    vt_json_doc *inst = parse(dir, "instances_val.json"), *caps = parse(dir, "captions_val.json");
    const vt_json *images = vt_json_get(vt_json_root(inst), "images");
    const vt_json *anns = vt_json_get(vt_json_root(inst), "annotations");
    const vt_json *cats = vt_json_get(vt_json_root(inst), "categories");
    ck_assert_uint_eq(vt_json_len(images), count);
    ck_assert_uint_eq(vt_json_len(anns), stats.annotations);
    ck_assert_uint_eq(vt_json_len(cats), VT_SHAPES_NUM_SHAPES);
    ck_assert_str_eq(vt_json_string(vt_json_get(vt_json_at(cats, 3), "name")), "star");
    ck_assert_uint_eq(vt_json_len(vt_json_get(vt_json_root(caps), "annotations")), 2 * count);

    size_t a = 0;
    uint8_t *mask = malloc((size_t)o.size * o.size);
    for (size_t n = 0; n < count; n++) {
        vt_shapes_scene sc;
        ck_assert_int_eq(vt_shapes_generate(&o, "val", start + n, &sc, &err), VT_OK);
        const vt_json *im = vt_json_at(images, n);
        ck_assert_int_eq(geti(im, "id"), (int64_t)(start + n + 1));
        ck_assert_str_eq(vt_json_string(vt_json_get(im, "text")), sc.text);
        char path[512];
        snprintf(path, sizeof path, "%s/images/%s", dir, vt_json_string(vt_json_get(im, "file_name")));
        vt_image img = {0};
        ck_assert_msg(vt_image_load_file(path, NULL, &img, &err) == VT_OK, "%s", err.msg);
        ck_assert_int_eq(img.width, sc.width);
        for (int y = 0; y < sc.height; y++)
            ck_assert_int_eq(memcmp(img.data + y * img.stride, sc.rgb + (size_t)y * sc.width * 3, (size_t)sc.width * 3), 0);
        vt_image_free(&img);
        for (int k = 0; k < sc.n_objects; k++, a++) {
            const vt_json *an = vt_json_at(anns, a);
            const vt_shapes_object *ob = &sc.objects[k];
            ck_assert_int_eq(geti(an, "image_id"), (int64_t)(start + n + 1));
            ck_assert_int_eq(geti(an, "category_id"), ob->shape + 1);
            ck_assert_int_eq(geti(an, "area"), ob->area);
            ck_assert_int_eq(geti(an, "iscrowd"), 0);
            const vt_json *bb = vt_json_get(an, "bbox");
            int64_t want[4] = {ob->x0, ob->y0, ob->x1 - ob->x0 + 1, ob->y1 - ob->y0 + 1};
            for (int i = 0; i < 4; i++) {
                int64_t v;
                ck_assert(vt_json_int64(vt_json_at(bb, i), &v));
                ck_assert_int_eq(v, want[i]);
            }
            const vt_json *seg = vt_json_get(an, "segmentation");
            const vt_json *counts = vt_json_get(seg, "counts");
            vt_rle rle = {0};
            ck_assert_msg(vt_rle_from_string(vt_json_string(counts), vt_json_string_len(counts), sc.height, sc.width,
                                             &rle, &err) == VT_OK, "%s", err.msg);
            vt_rle_to_mask(&rle, mask);
            ck_assert_uint_eq(vt_rle_area(&rle), (uint32_t)ob->area);
            vt_rle_free(&rle);
            for (size_t p = 0; p < (size_t)sc.width * sc.height; p++)
                ck_assert_int_eq(mask[p], sc.ids[p] == k + 1);
        }
        ck_assert_str_eq(vt_json_string(vt_json_get(vt_json_at(vt_json_get(vt_json_root(caps), "annotations"), 2 * n),
                                                     "caption")), sc.captions[0]);
        vt_shapes_scene_free(&sc);
    }
    ck_assert_uint_eq(a, stats.annotations);
    free(mask);
    vt_json_doc_free(inst);
    vt_json_doc_free(caps);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* pycocotools must read the files and agree on areas and boxes. Skips when it is not importable. */
START_TEST(export_reads_in_pycocotools) {
    const char *py = VISFT_SOURCE_DIR "/.venv-ref/bin/python";
    if (access(py, X_OK) != 0) py = "/usr/bin/python3";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import pycocotools' >/dev/null 2>&1", py);
    if (system(cmd) != 0) {
        printf("SKIP export_reads_in_pycocotools: pycocotools is not importable by %s\n", py);
        return;
    }
    char *dir = make_tmpdir();
    vt_shapes_opts o = export_opts();
    vt_err err;
    ck_assert_msg(vt_shapes_export_coco(&o, "train", 0, 8, dir, NULL, &err) == VT_OK, "%s", err.msg);
    snprintf(cmd, sizeof cmd,
             "'%s' - '%s' <<'EOF'\n"
             "import sys, contextlib, io\n"
             "from pycocotools.coco import COCO\n"
             "from pycocotools import mask as M\n"
             "d = sys.argv[1]\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    c = COCO(d + '/annotations/instances_train.json')\n"
             "    cap = COCO(d + '/annotations/captions_train.json')\n"
             "assert len(c.getImgIds()) == 8 and len(c.getCatIds()) == 8, 'ids'\n"
             "assert len(cap.getAnnIds()) == 16, 'captions'\n"
             "for a in c.loadAnns(c.getAnnIds()):\n"
             "    m = c.annToMask(a)\n"
             "    assert int(m.sum()) == a['area'], ('area', a['id'])\n"
             "    assert list(M.toBbox(c.annToRLE(a))) == a['bbox'], ('bbox', a['id'])\n"
             "print('pycocotools ok')\n"
             "EOF\n",
             py, dir);
    ck_assert_msg(system(cmd) == 0, "pycocotools rejected the export in %s", dir);
    rm_rf(dir);
    free(dir);
}
END_TEST

static int cli(const char *const *argv_in, char *errbuf, size_t errsize) {
    char *argv[32];
    int argc = 0;
    for (; argv_in[argc]; argc++) argv[argc] = (char *)argv_in[argc];
    FILE *out = tmpfile(), *err = tmpfile();
    int rc = vt_cli_main(argc, argv, out, err);
    rewind(err);
    size_t n = fread(errbuf, 1, errsize - 1, err);
    errbuf[n] = 0;
    fclose(out);
    fclose(err);
    return rc;
}

START_TEST(cli_data_export) {
    char *dir = make_tmpdir(), msg[1024], path[512];
    const char *ok[] = {"visft", "data", "export", "shapes", "--set", "image_size=32", "--set", "seed=5",
                        "--split", "test", "--count", "3", "--to", "coco", dir, NULL};
    ck_assert_msg(cli(ok, msg, sizeof msg) == 0, "%s", msg);
    snprintf(path, sizeof path, "%s/images/test_000002.png", dir);
    ck_assert_int_eq(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/annotations/instances_test.json", dir);
    ck_assert_int_eq(access(path, R_OK), 0);

    struct { const char *argv[16]; const char *want; } bad[] = {
        {{"visft", "data", "export", "imagenet", "--to", "coco", dir, NULL}, "imagenet"},
        {{"visft", "data", "export", "shapes", "--to", "yolo", dir, NULL}, "yolo"},
        {{"visft", "data", "export", "shapes", dir, NULL}, "--to"},
        {{"visft", "data", "export", "shapes", "--count", "abc", "--to", "coco", dir, NULL}, "abc"},
        {{"visft", "data", "export", "shapes", "--count", "201", "--split", "val", "--to", "coco", dir, NULL}, "201"},
        {{"visft", "data", "export", "shapes", "--set", "max_objectz=2", "--to", "coco", dir, NULL}, "max_objectz"},
        {{"visft", "data", "export", "shapes", "--set", "domain=mars", "--to", "coco", dir, NULL}, "mars"},
        {{"visft", "data", "export", "shapes", "--split", "holdout", "--to", "coco", dir, NULL}, "holdout"},
        {{"visft", "data", "export", "shapes", "--count", "1", "--to", "coco", "/proc/no/such/dir", NULL}, "/proc/no"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cli(bad[i].argv, msg, sizeof msg);
        ck_assert_msg(rc != 0, "case %zu succeeded", i);
        ck_assert_msg(strstr(msg, bad[i].want), "case %zu: '%s' lacks '%s'", i, msg, bad[i].want);
        ck_assert_msg(strchr(msg, '\n') == msg + strlen(msg) - 1, "case %zu: not one line: %s", i, msg);
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- the plugin --------------------------------------------------------------------------------------- */

typedef struct plugin_ds {
    vt_registry *reg;
    const vt_component *comp;
    void *params, *ds;
} plugin_ds;

static void plugin_open(plugin_ds *p, const char *yaml, const char *split) {
    vt_err err;
    ck_assert_int_eq(vt_registry_create(&p->reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(p->reg, VISFT_BUILD_DIR "/plugins", &err), VT_OK);
    ck_assert_int_eq(vt_registry_load(p->reg, &err), VT_OK);
    ck_assert_msg(vt_registry_lookup(p->reg, VT_COMPONENT_DATASET, "shapes", &p->comp, &err) == VT_OK,
                  "%s (build the 'shapes' target)", err.msg);
    vt_cfg *cfg = NULL;
    ck_assert_int_eq(vt_cfg_load_string(yaml, strlen(yaml), "t.yaml", VT_CFG_NO_BASE, &cfg, &err), VT_OK);
    ck_assert_msg(vt_component_params_new(p->comp, vt_cfg_root(cfg), NULL, &p->params, &err) == VT_OK, "%s", err.msg);
    vt_cfg_free(cfg);
    ck_assert_msg(p->comp->vt.dataset.open(p->params, split, NULL, &p->ds, &err) == VT_OK, "%s", err.msg);
}

static void plugin_close(plugin_ds *p) {
    p->comp->vt.dataset.close(p->ds);
    vt_component_params_free(p->comp, p->params);
    vt_registry_destroy(p->reg);
}

static const char *plugin_yaml = "{image_size: 48, seed: 3, length: 12, glyphs: true, captions: 2, label: object_count}";

START_TEST(plugin_samples_match_the_generator) {
    plugin_ds p;
    plugin_open(&p, plugin_yaml, "train");
    ck_assert_uint_eq(p.comp->vt.dataset.length(p.ds), 12);
    vt_shapes_opts o;
    vt_shapes_opts_default(&o);
    o.size = 48, o.seed = 3, o.glyphs = true, o.captions = 2, o.label = VT_SHAPES_LABEL_OBJECT_COUNT;
    vt_sample s;
    vt_sample_init(&s);
    vt_err err;
    uint8_t mask[48 * 48];
    for (size_t i = 0; i < 12; i++) {
        ck_assert_msg(p.comp->vt.dataset.sample(p.ds, i, &s, &err) == VT_OK, "%s", err.msg);
        vt_shapes_scene sc;
        ck_assert_int_eq(vt_shapes_generate(&o, "train", i, &sc, &err), VT_OK);
        ck_assert_int_eq(s.image.width, 48);
        for (int y = 0; y < 48; y++)
            ck_assert_int_eq(memcmp(s.image.data + y * s.image.stride, sc.rgb + y * 48 * 3, 48 * 3), 0);
        ck_assert_int_eq(s.image_id, (int64_t)i + 1);
        ck_assert_int_eq(s.label, sc.n_objects - 1);
        ck_assert_uint_eq(s.n_instances, (size_t)sc.n_objects);
        ck_assert_uint_eq(s.n_captions, 2);
        ck_assert_str_eq(s.captions[0].text, sc.captions[0]);
        if (sc.has_text) /* the OCR ground truth travels with the sample */
            ck_assert_str_eq(s.text, sc.text);
        else
            ck_assert_ptr_null(s.text);
        for (int k = 0; k < sc.n_objects; k++) {
            const vt_instance *in = &s.instances[k];
            const vt_shapes_object *ob = &sc.objects[k];
            ck_assert(in->box[0] == ob->x0 && in->box[1] == ob->y0 && in->box[2] == ob->x1 + 1 && in->box[3] == ob->y1 + 1);
            ck_assert_int_eq(in->label, ob->shape);
            ck_assert_int_eq(in->category_id, ob->shape + 1);
            ck_assert(in->area == (float)ob->area);
            ck_assert_msg(vt_mask_rasterize(&in->mask, 48, 48, mask, &err) == VT_OK, "%s", err.msg);
            for (int px = 0; px < 48 * 48; px++) ck_assert_int_eq(mask[px] != 0, sc.ids[px] == k + 1);
        }
        vt_shapes_scene_free(&sc);
    }
    ck_assert_int_ne(p.comp->vt.dataset.sample(p.ds, 12, &s, &err), VT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    vt_sample_free(&s);
    plugin_close(&p);

    /* unknown split without `length` */
    vt_registry *reg;
    const vt_component *comp;
    void *params, *ds = NULL;
    ck_assert_int_eq(vt_registry_create(&reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_add_path(reg, VISFT_BUILD_DIR "/plugins", &err), VT_OK);
    ck_assert_int_eq(vt_registry_load(reg, &err), VT_OK);
    ck_assert_int_eq(vt_registry_lookup(reg, VT_COMPONENT_DATASET, "shapes", &comp, &err), VT_OK);
    ck_assert_int_eq(vt_component_params_new(comp, NULL, NULL, &params, &err), VT_OK);
    ck_assert_int_ne(comp->vt.dataset.open(params, "holdout", NULL, &ds, &err), VT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "holdout"));
    vt_component_params_free(comp, params);
    vt_registry_destroy(reg);
}
END_TEST

typedef struct thread_job {
    plugin_ds *p;
    int id;
    uint64_t hash[12];
    int failures;
} thread_job;

static uint64_t fnv64(const uint8_t *d, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ull;
    return h;
}

/* Each thread samples every index in its own order; hashes of image + boxes must agree everywhere. */
static void *thread_main(void *arg) {
    thread_job *j = arg;
    vt_sample s;
    vt_sample_init(&s);
    vt_err err;
    size_t offset = (size_t)j->id * 7 % 12;
    for (size_t t = 0; t < 12; t++) {
        size_t i = (t * 5 + offset) % 12;
        if (j->p->comp->vt.dataset.sample(j->p->ds, i, &s, &err) != VT_OK) {
            j->failures++;
            continue;
        }
        uint64_t h = fnv64(s.image.data, s.image.stride * (size_t)s.image.height, 1469598103934665603ull);
        for (size_t k = 0; k < s.n_instances; k++) h = fnv64((const uint8_t *)s.instances[k].box, sizeof(float[4]), h);
        j->hash[i] = h;
    }
    vt_sample_free(&s);
    return NULL;
}

START_TEST(plugin_is_thread_safe_and_deterministic) {
    plugin_ds p;
    plugin_open(&p, plugin_yaml, "val");
    thread_job jobs[4];
    pthread_t th[4];
    memset(jobs, 0, sizeof jobs);
    for (int t = 0; t < 4; t++) {
        jobs[t].p = &p;
        jobs[t].id = t;
        ck_assert_int_eq(pthread_create(&th[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) {
        ck_assert_int_eq(jobs[t].failures, 0);
        ck_assert_int_eq(memcmp(jobs[t].hash, jobs[0].hash, sizeof jobs[0].hash), 0);
    }
    ck_assert(jobs[0].hash[0] != jobs[0].hash[1]);
    plugin_close(&p);
}
END_TEST

VT_TEST_MAIN("shapes_export", export_round_trip, export_reads_in_pycocotools, cli_data_export,
             plugin_samples_match_the_generator, plugin_is_thread_safe_and_deterministic)
