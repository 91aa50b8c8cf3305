/* The procedural shapes generator (core/data/shapes*.c): determinism, exact boxes and masks under
 * occlusion, captions, labels, glyphs, domain shift and the parameter spec. Small images keep it fast. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/font.h"
#include "data/shapes.h"
#include "visft/config.h"
#include "vt_test.h"

static vt_shapes_opts small_opts(void) {
    vt_shapes_opts o;
    vt_shapes_opts_default(&o);
    o.size = 64;
    o.seed = 7;
    return o;
}

static void gen(const vt_shapes_opts *o, const char *split, uint64_t index, vt_shapes_scene *sc) {
    vt_err err;
    vt_err_clear(&err);
    ck_assert_msg(vt_shapes_generate(o, split, index, sc, &err) == VT_OK, "%s", err.msg);
}

static bool same_scene(const vt_shapes_scene *a, const vt_shapes_scene *b) {
    size_t n = (size_t)a->width * a->height;
    if (a->width != b->width || a->n_objects != b->n_objects || memcmp(a->rgb, b->rgb, n * 3) ||
        memcmp(a->ids, b->ids, n) || a->label != b->label || strcmp(a->captions[0], b->captions[0]))
        return false;
    for (int k = 0; k < a->n_objects; k++)
        if (memcmp(&a->objects[k], &b->objects[k], sizeof a->objects[k])) return false;
    return true;
}

START_TEST(same_seed_split_index_gives_identical_bytes) {
    vt_shapes_opts o = small_opts();
    o.glyphs = true;
    o.captions = 3;
    o.background = VT_SHAPES_BG_NOISE; /* the per-pixel stream too */
    for (uint64_t i = 0; i < 6; i++) {
        vt_shapes_scene a, b;
        gen(&o, "train", i, &a);
        gen(&o, "train", i, &b);
        ck_assert_msg(same_scene(&a, &b), "sample %llu differs between two calls", (unsigned long long)i);
        for (int c = 0; c < 3; c++) ck_assert_str_eq(a.captions[c], b.captions[c]);
        ck_assert_str_eq(a.text, b.text);
        vt_shapes_scene_free(&a);
        vt_shapes_scene_free(&b);
    }
}
END_TEST

START_TEST(index_split_and_seed_change_the_sample) {
    vt_shapes_opts o = small_opts();
    vt_shapes_scene base, other;
    gen(&o, "train", 3, &base);
    gen(&o, "train", 4, &other);
    ck_assert(!same_scene(&base, &other));
    vt_shapes_scene_free(&other);
    gen(&o, "val", 3, &other);
    ck_assert(!same_scene(&base, &other));
    vt_shapes_scene_free(&other);
    o.seed = 8;
    gen(&o, "train", 3, &other);
    ck_assert(!same_scene(&base, &other));
    vt_shapes_scene_free(&other);
    vt_shapes_scene_free(&base);
}
END_TEST

/* Box == tight box of the mask, area == its pixel count, and the mask is exactly the shape's pixels not
 * covered by a later object or the text (painter's order). */
START_TEST(boxes_and_masks_are_exact_under_occlusion) {
    vt_shapes_opts o = small_opts();
    o.max_objects = 6;
    o.glyphs = true;
    int occluded_pixels = 0;
    for (uint64_t i = 0; i < 40; i++) {
        vt_shapes_scene sc;
        gen(&o, "train", i, &sc);
        ck_assert_int_ge(sc.n_objects, 1);
        for (int k = 0; k < sc.n_objects; k++) {
            const vt_shapes_object *ob = &sc.objects[k];
            int x0 = sc.width, y0 = sc.height, x1 = -1, y1 = -1;
            int64_t area = 0;
            for (int y = 0; y < sc.height; y++)
                for (int x = 0; x < sc.width; x++) {
                    uint8_t id = sc.ids[(size_t)y * sc.width + x];
                    bool in = vt_shapes_inside(ob, x + 0.5f, y + 0.5f);
                    if (id == k + 1) {
                        ck_assert_msg(in, "sample %llu object %d: mask pixel outside the shape", (unsigned long long)i, k);
                        ck_assert_int_eq(memcmp(sc.rgb + ((size_t)y * sc.width + x) * 3, ob->rgb, 3), 0);
                        area++;
                        x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                    } else if (in) {
                        ck_assert_msg(id == VT_SHAPES_TEXT_ID || id > k + 1,
                                      "sample %llu object %d: hidden by an earlier object (%d)", (unsigned long long)i, k, id);
                        occluded_pixels += id != VT_SHAPES_TEXT_ID;
                    }
                }
            ck_assert_int_eq(area, ob->area);
            ck_assert_int_ge(area, 8);
            ck_assert_msg(x0 == ob->x0 && y0 == ob->y0 && x1 == ob->x1 && y1 == ob->y1,
                          "sample %llu object %d: box %d,%d,%d,%d vs mask %d,%d,%d,%d", (unsigned long long)i, k,
                          ob->x0, ob->y0, ob->x1, ob->y1, x0, y0, x1, y1);
            ck_assert_msg((double)ob->area >= (1 - o.max_occlusion) * (double)ob->full_area - 1e-9,
                          "object %d keeps %lld of %lld pixels", k, (long long)ob->area, (long long)ob->full_area);
        }
        vt_shapes_scene_free(&sc);
    }
    ck_assert_msg(occluded_pixels > 0, "no sample had any occlusion: the test checks nothing");
}
END_TEST

START_TEST(captions_mention_every_shape) {
    vt_shapes_opts o = small_opts();
    o.max_objects = 5;
    o.captions = 3;
    o.glyphs = true;
    bool saw_relation = false;
    for (uint64_t i = 0; i < 30; i++) {
        vt_shapes_scene sc;
        gen(&o, "val", i, &sc);
        ck_assert_int_eq(sc.n_captions, 3);
        for (int c = 0; c < sc.n_captions; c++) {
            const char *cap = sc.captions[c];
            for (int k = 0; k < sc.n_objects; k++) {
                char phrase[96];
                snprintf(phrase, sizeof phrase, "a %s %s %s", vt_shapes_size_name(sc.objects[k].size_class),
                         vt_shapes_color_name(sc.objects[k].color), vt_shapes_shape_name(sc.objects[k].shape));
                ck_assert_msg(strstr(cap, phrase), "caption '%s' lacks '%s'", cap, phrase);
            }
            char quoted[32];
            snprintf(quoted, sizeof quoted, "\"%s\"", sc.text);
            ck_assert_msg(strstr(cap, quoted), "caption '%s' lacks the text %s", cap, quoted);
            if (sc.n_objects >= 2)
                saw_relation |= strstr(cap, " left of ") || strstr(cap, " right of ") || strstr(cap, " above ") ||
                                strstr(cap, " below ");
        }
        vt_shapes_scene_free(&sc);
    }
    ck_assert(saw_relation);
}
END_TEST

START_TEST(caption_relation_matches_positions) {
    vt_shapes_opts o = small_opts();
    o.min_objects = o.max_objects = 2;
    for (uint64_t i = 0; i < 20; i++) {
        vt_shapes_scene sc;
        gen(&o, "train", i, &sc);
        if (sc.n_objects == 2) {
            const vt_shapes_object *a = &sc.objects[0], *b = &sc.objects[1];
            int dx = (a->x0 + a->x1) - (b->x0 + b->x1), dy = (a->y0 + a->y1) - (b->y0 + b->y1);
            const char *want = abs(dx) >= abs(dy) ? (dx < 0 ? " left of " : " right of ") : (dy < 0 ? " above " : " below ");
            ck_assert_msg(strstr(sc.captions[0], want), "'%s' should say '%s'", sc.captions[0], want);
        }
        vt_shapes_scene_free(&sc);
    }
}
END_TEST

START_TEST(label_kinds) {
    vt_shapes_opts o = small_opts();
    o.max_objects = 5;
    int seen_count[5] = {0};
    for (uint64_t i = 0; i < 30; i++) {
        vt_shapes_scene sc;
        o.label = VT_SHAPES_LABEL_DOMINANT_SHAPE;
        gen(&o, "train", i, &sc);
        int best = 0;
        for (int k = 1; k < sc.n_objects; k++)
            if (sc.objects[k].area > sc.objects[best].area) best = k;
        ck_assert_int_eq(sc.label, sc.objects[best].shape);
        int n = sc.n_objects;
        vt_shapes_scene_free(&sc);

        o.label = VT_SHAPES_LABEL_OBJECT_COUNT; /* the same scene: the label does not change the layout */
        gen(&o, "train", i, &sc);
        ck_assert_int_eq(sc.n_objects, n);
        ck_assert_int_eq(sc.label, n - 1);
        ck_assert(sc.label >= 0 && sc.label < vt_shapes_label_classes(&o));
        seen_count[sc.label]++;
        vt_shapes_scene_free(&sc);

        o.label = VT_SHAPES_LABEL_GLYPH; /* forces text on */
        gen(&o, "train", i, &sc);
        ck_assert(sc.has_text);
        ck_assert_int_eq(sc.label, vt_font_index(sc.text[0]));
        char name[8];
        ck_assert_int_eq(vt_shapes_label_name(&o, sc.label, name, sizeof name)[0], sc.text[0]);
        vt_shapes_scene_free(&sc);
    }
    int distinct = 0;
    for (int c = 0; c < 5; c++) distinct += seen_count[c] > 0;
    ck_assert_int_ge(distinct, 3);
    char name[16];
    o.label = VT_SHAPES_LABEL_DOMINANT_SHAPE;
    ck_assert_str_eq(vt_shapes_label_name(&o, VT_SHAPE_STAR, name, sizeof name), "star");
    ck_assert_ptr_null(vt_shapes_label_name(&o, 8, name, sizeof name));
}
END_TEST

/* The text's pixels spell the recorded string: each character's 5x7 cells match the font. */
START_TEST(glyphs_render_the_recorded_text) {
    vt_shapes_opts o = small_opts();
    o.size = 128;
    o.glyphs = true;
    o.glyph_min_len = 3;
    o.glyph_max_len = 6;
    for (uint64_t i = 0; i < 10; i++) {
        vt_shapes_scene sc;
        gen(&o, "test", i, &sc);
        size_t len = strlen(sc.text);
        ck_assert(len >= 3 && len <= 6);
        int scale = 2, x0 = sc.text_x0, y0 = sc.text_y0; /* 128 px -> scale 2 */
        /* The box is tight: find the string's origin from the first column with ink of character 0. */
        int g0 = vt_font_index(sc.text[0]), first_col = 0, first_row = 7;
        while (first_col < 5) {
            bool any = false;
            for (int y = 0; y < 7; y++) any |= vt_font_pixel(g0, first_col, y);
            if (any) break;
            first_col++;
        }
        for (size_t c = 0; c < len; c++)
            for (int y = 0; y < 7; y++)
                for (int x = 0; x < 5 && y < first_row; x++)
                    if (vt_font_pixel(vt_font_index(sc.text[c]), x, y)) first_row = y;
        int ox = x0 - first_col * scale, oy = y0 - first_row * scale;
        for (size_t c = 0; c < len; c++) {
            int g = vt_font_index(sc.text[c]);
            ck_assert_int_ge(g, 0);
            for (int y = 0; y < 7 * scale; y++)
                for (int x = 0; x < 5 * scale; x++) {
                    int px = ox + (int)c * 6 * scale + x, py = oy + y;
                    bool ink = sc.ids[(size_t)py * sc.width + px] == VT_SHAPES_TEXT_ID;
                    ck_assert_msg(ink == vt_font_pixel(g, x / scale, y / scale), "text %s char %zu pixel %d,%d",
                                  sc.text, c, x, y);
                }
        }
        vt_shapes_scene_free(&sc);
    }
}
END_TEST

START_TEST(font_glyphs_are_distinct) {
    for (int a = 0; a < VT_FONT_NCHARS; a++) {
        int ink = 0;
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 7; y++) ink += vt_font_pixel(a, x, y);
        ck_assert_int_gt(ink, 5);
        for (int b = a + 1; b < VT_FONT_NCHARS; b++) {
            int diff = 0;
            for (int x = 0; x < 5; x++)
                for (int y = 0; y < 7; y++) diff += vt_font_pixel(a, x, y) != vt_font_pixel(b, x, y);
            ck_assert_msg(diff >= 2, "glyphs %c and %c nearly equal", vt_font_alphabet[a], vt_font_alphabet[b]);
        }
    }
    ck_assert_int_eq(vt_font_index('q'), vt_font_index('Q'));
    ck_assert_int_eq(vt_font_index('#'), -1);
    ck_assert(!vt_font_pixel(99, 0, 0));
}
END_TEST

/* Mean over images of the per-image std of background pixels (channel-averaged). */
static double background_std(const vt_shapes_opts *o, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        vt_shapes_scene sc;
        gen(o, "val", (uint64_t)i, &sc);
        double s[3] = {0}, s2[3] = {0};
        size_t cnt = 0;
        for (size_t p = 0; p < (size_t)sc.width * sc.height; p++) {
            if (sc.ids[p]) continue;
            for (int c = 0; c < 3; c++) s[c] += sc.rgb[p * 3 + c], s2[c] += (double)sc.rgb[p * 3 + c] * sc.rgb[p * 3 + c];
            cnt++;
        }
        for (int c = 0; c < 3; c++) total += sqrt(fmax(0, s2[c] / cnt - (s[c] / cnt) * (s[c] / cnt))) / 3;
        vt_shapes_scene_free(&sc);
    }
    return total / n;
}

static double mean_radius_frac(const vt_shapes_opts *o, int size_class, int n) {
    double sum = 0;
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        vt_shapes_scene sc;
        gen(o, "val", (uint64_t)i, &sc);
        for (int k = 0; k < sc.n_objects; k++)
            if (sc.objects[k].size_class == size_class) sum += sc.objects[k].radius / sc.width, cnt++;
        vt_shapes_scene_free(&sc);
    }
    return cnt ? sum / cnt : 0;
}

START_TEST(domain_shift_changes_statistics) {
    vt_shapes_opts in = small_opts(), bg = small_opts(), scale = small_opts();
    bg.shift_background = true;
    scale.shift_scale = true;
    double s_in = background_std(&in, 12), s_bg = background_std(&bg, 12);
    ck_assert_msg(s_in < 1.0, "in-domain backgrounds are plain (std %g)", s_in);
    ck_assert_msg(s_bg > 10.0, "shifted backgrounds vary (std %g)", s_bg);
    double r_in = mean_radius_frac(&in, 0, 20), r_sh = mean_radius_frac(&scale, 0, 20);
    ck_assert_msg(r_sh < r_in * 0.75, "small objects are smaller when scale shifts (%g vs %g)", r_sh, r_in);
    /* every background style is reachable, and forcing one works */
    for (int b = VT_SHAPES_BG_PLAIN; b <= VT_SHAPES_BG_TEXTURE; b++) {
        vt_shapes_opts f = small_opts();
        f.background = b;
        vt_shapes_scene sc;
        gen(&f, "val", 0, &sc);
        ck_assert_int_eq(sc.background, b);
        vt_shapes_scene_free(&sc);
    }
    /* palette shift: the same layout, other shades */
    vt_shapes_opts pal = small_opts();
    pal.shift_palette = true;
    vt_shapes_scene a, b;
    gen(&in, "val", 1, &a);
    gen(&pal, "val", 1, &b);
    ck_assert_int_eq(a.n_objects, b.n_objects);
    ck_assert_int_eq(a.objects[0].shape, b.objects[0].shape);
    ck_assert_int_ne(memcmp(a.objects[0].rgb, b.objects[0].rgb, 3), 0);
    vt_shapes_scene_free(&a);
    vt_shapes_scene_free(&b);
}
END_TEST

static vt_status params_from(const char *yaml, vt_shapes_params *p, vt_err *err) {
    vt_cfg *cfg = NULL;
    memset(p, 0, sizeof *p);
    vt_status st = vt_cfg_load_string(yaml, strlen(yaml), "t.yaml", VT_CFG_NO_BASE, &cfg, err);
    if (st == VT_OK) st = vt_cfg_validate(vt_cfg_root(cfg), vt_shapes_param_specs, p, NULL, err);
    vt_cfg_free(cfg);
    return st;
}

START_TEST(params_spec_defaults_and_errors) {
    vt_err err;
    vt_shapes_params p;
    vt_shapes_opts o, d;
    ck_assert_msg(params_from("{}", &p, &err) == VT_OK, "%s", err.msg);
    ck_assert_int_eq(vt_shapes_opts_from_params(&p, &o, &err), VT_OK);
    vt_shapes_opts_default(&d);
    ck_assert_int_eq(memcmp(&o, &d, sizeof o), 0); /* the spec's defaults are the generator's */
    size_t len;
    ck_assert_int_eq(vt_shapes_split_length(&p, "train", &len, &err), VT_OK);
    ck_assert_uint_eq(len, 2000);
    ck_assert_int_eq(vt_shapes_split_length(&p, "holdout", &len, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "holdout"));
    vt_params_free(vt_shapes_param_specs, &p);

    ck_assert_int_eq(params_from("{domain: shifted, label: glyph, length: 5, background: texture}", &p, &err), VT_OK);
    ck_assert_int_eq(vt_shapes_opts_from_params(&p, &o, &err), VT_OK);
    ck_assert(o.shift_background && o.shift_scale && o.shift_palette);
    ck_assert_int_eq(o.background, VT_SHAPES_BG_TEXTURE);
    ck_assert_int_eq(o.label, VT_SHAPES_LABEL_GLYPH);
    ck_assert_int_eq(vt_shapes_split_length(&p, "holdout", &len, &err), VT_OK);
    ck_assert_uint_eq(len, 5);
    vt_params_free(vt_shapes_param_specs, &p);

    ck_assert_int_eq(params_from("{min_objects: 5, max_objects: 2}", &p, &err), VT_OK);
    ck_assert_int_eq(vt_shapes_opts_from_params(&p, &o, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "min_objects"));
    vt_params_free(vt_shapes_param_specs, &p);
    ck_assert_int_ne(params_from("{domain: mars}", &p, &err), VT_OK);
    ck_assert_int_ne(params_from("{image_size: 8}", &p, &err), VT_OK);
    ck_assert_int_ne(params_from("{max_objectz: 3}", &p, &err), VT_OK);

    vt_shapes_scene sc;
    vt_shapes_opts bad = small_opts();
    bad.max_objects = 99;
    ck_assert_int_eq(vt_shapes_generate(&bad, "train", 0, &sc, &err), VT_EINVAL);
    vt_shapes_scene_free(&sc); /* safe after a failure */
}
END_TEST

START_TEST(crowded_scenes_stop_cleanly) {
    vt_shapes_opts o = small_opts();
    o.size = 32;
    o.min_objects = o.max_objects = VT_SHAPES_MAX_OBJECTS;
    o.max_occlusion = 0;
    o.glyphs = true;
    o.glyph_min_len = o.glyph_max_len = VT_SHAPES_MAX_TEXT;
    for (uint64_t i = 0; i < 5; i++) {
        vt_shapes_scene sc;
        gen(&o, "train", i, &sc);
        ck_assert(sc.n_objects >= 1 && sc.n_objects <= VT_SHAPES_MAX_OBJECTS);
        ck_assert(strlen(sc.text) >= 1);
        vt_shapes_scene_free(&sc);
    }
}
END_TEST

VT_TEST_MAIN("shapes", same_seed_split_index_gives_identical_bytes, index_split_and_seed_change_the_sample,
             boxes_and_masks_are_exact_under_occlusion, captions_mention_every_shape,
             caption_relation_matches_positions, label_kinds, glyphs_render_the_recorded_text,
             font_glyphs_are_distinct, domain_shift_changes_statistics, params_spec_defaults_and_errors,
             crowded_scenes_stop_cleanly)
