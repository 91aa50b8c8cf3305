/* shapes: the parameter spec (shared by the plugin and `visft data export shapes`) and its resolution. */
#include <string.h>

#include "data/shapes.h"

static const char *const domain_choices[] = {"default", "background", "scale", "palette", "shifted", NULL};
static const char *const background_choices[] = {"auto", "plain", "noise", "gradient", "texture", NULL};
static const char *const label_choices[] = {"dominant_shape", "object_count", "glyph", NULL};

#define P(field) .offset = offsetof(vt_shapes_params, field)
const vt_param_spec vt_shapes_param_specs[] = {
    {.name = "seed", .type = VT_PARAM_INT, P(seed), .default_value = "0", .min = 0, .max = 9.0e15,
     .help = "dataset seed: every sample is a function of (seed, split, index)"},
    {.name = "image_size", .type = VT_PARAM_INT, P(image_size), .default_value = "128", .min = 32, .max = 4096,
     .help = "side of the square RGB images, in pixels"},
    {.name = "min_objects", .type = VT_PARAM_INT, P(min_objects), .default_value = "1", .min = 1,
     .max = VT_SHAPES_MAX_OBJECTS, .help = "fewest shapes drawn per image"},
    {.name = "max_objects", .type = VT_PARAM_INT, P(max_objects), .default_value = "4", .min = 1,
     .max = VT_SHAPES_MAX_OBJECTS, .help = "most shapes per image (fewer when the image is full)"},
    {.name = "train_size", .type = VT_PARAM_INT, P(train_size), .default_value = "2000", .min = 0, .max = 1e12,
     .help = "samples in split 'train'"},
    {.name = "val_size", .type = VT_PARAM_INT, P(val_size), .default_value = "200", .min = 0, .max = 1e12,
     .help = "samples in split 'val'"},
    {.name = "test_size", .type = VT_PARAM_INT, P(test_size), .default_value = "200", .min = 0, .max = 1e12,
     .help = "samples in split 'test'"},
    {.name = "length", .type = VT_PARAM_INT, P(length), .default_value = "0", .min = 0, .max = 1e12,
     .help = "if > 0, the length of every split (and the only way to use other split names)"},
    {.name = "domain", .type = VT_PARAM_ENUM, P(domain), .default_value = "default", .choices = domain_choices,
     .min = 1, .max = 0,
     .help = "distribution shift for out-of-domain evaluation: one factor (background, scale, palette) or all"},
    {.name = "background", .type = VT_PARAM_ENUM, P(background), .default_value = "auto",
     .choices = background_choices, .min = 1, .max = 0,
     .help = "force one background style; auto: plain in-domain, noise/gradient/texture when shifted"},
    {.name = "label", .type = VT_PARAM_ENUM, P(label), .default_value = "dominant_shape", .choices = label_choices,
     .min = 1, .max = 0, .help = "classification label: largest visible shape, object count - 1, or first glyph"},
    {.name = "glyphs", .type = VT_PARAM_BOOL, P(glyphs), .default_value = "false", .min = 1, .max = 0,
     .help = "draw a short random string in the built-in font and record it (OCR)"},
    {.name = "glyph_min_len", .type = VT_PARAM_INT, P(glyph_min_len), .default_value = "1", .min = 1,
     .max = VT_SHAPES_MAX_TEXT, .help = "shortest string of glyphs"},
    {.name = "glyph_max_len", .type = VT_PARAM_INT, P(glyph_max_len), .default_value = "4", .min = 1,
     .max = VT_SHAPES_MAX_TEXT, .help = "longest string of glyphs"},
    {.name = "captions", .type = VT_PARAM_INT, P(captions), .default_value = "1", .min = 1,
     .max = VT_SHAPES_MAX_CAPTIONS, .help = "captions per image (objects mentioned in different orders)"},
    {.name = "max_occlusion", .type = VT_PARAM_FLOAT, P(max_occlusion), .default_value = "0.5", .min = 0, .max = 0.9,
     .help = "largest fraction of a shape that later shapes may hide"},
    VT_PARAM_END,
};
#undef P

void vt_shapes_opts_default(vt_shapes_opts *o) {
    memset(o, 0, sizeof *o);
    o->size = 128;
    o->min_objects = 1;
    o->max_objects = 4;
    o->background = -1;
    o->label = VT_SHAPES_LABEL_DOMINANT_SHAPE;
    o->glyph_min_len = 1;
    o->glyph_max_len = 4;
    o->captions = 1;
    o->max_occlusion = 0.5;
}

static int find(const char *const *choices, const char *s) {
    for (int i = 0; s && choices[i]; i++)
        if (strcmp(choices[i], s) == 0) return i;
    return -1;
}

vt_status vt_shapes_opts_from_params(const vt_shapes_params *p, vt_shapes_opts *o, vt_err *err) {
    vt_shapes_opts_default(o);
    int domain = find(domain_choices, p->domain), bg = find(background_choices, p->background);
    int label = find(label_choices, p->label);
    if (domain < 0) return vt_err_set(err, VT_EINVAL, "shapes: unknown domain '%s'", p->domain ? p->domain : "");
    if (bg < 0) return vt_err_set(err, VT_EINVAL, "shapes: unknown background '%s'", p->background ? p->background : "");
    if (label < 0) return vt_err_set(err, VT_EINVAL, "shapes: unknown label '%s'", p->label ? p->label : "");
    if (p->image_size < 32 || p->image_size > 4096)
        return vt_err_set(err, VT_EINVAL, "shapes: image_size %lld is outside [32, 4096]", (long long)p->image_size);
    if (p->min_objects < 1 || p->max_objects > VT_SHAPES_MAX_OBJECTS || p->min_objects > p->max_objects)
        return vt_err_set(err, VT_EINVAL, "shapes: min_objects %lld and max_objects %lld must satisfy 1 <= min <= max <= %d",
                          (long long)p->min_objects, (long long)p->max_objects, VT_SHAPES_MAX_OBJECTS);
    if (p->glyph_min_len < 1 || p->glyph_max_len > VT_SHAPES_MAX_TEXT || p->glyph_min_len > p->glyph_max_len)
        return vt_err_set(err, VT_EINVAL, "shapes: glyph_min_len %lld and glyph_max_len %lld must satisfy 1 <= min <= max <= %d",
                          (long long)p->glyph_min_len, (long long)p->glyph_max_len, VT_SHAPES_MAX_TEXT);
    if (p->captions < 1 || p->captions > VT_SHAPES_MAX_CAPTIONS)
        return vt_err_set(err, VT_EINVAL, "shapes: captions %lld is outside [1, %d]", (long long)p->captions,
                          VT_SHAPES_MAX_CAPTIONS);
    if (!(p->max_occlusion >= 0 && p->max_occlusion <= 0.9))
        return vt_err_set(err, VT_EINVAL, "shapes: max_occlusion %g is outside [0, 0.9]", p->max_occlusion);
    if (p->seed < 0) return vt_err_set(err, VT_EINVAL, "shapes: seed %lld is negative", (long long)p->seed);
    o->seed = (uint64_t)p->seed;
    o->size = (int)p->image_size;
    o->min_objects = (int)p->min_objects;
    o->max_objects = (int)p->max_objects;
    o->shift_background = domain == 1 || domain == 4;
    o->shift_scale = domain == 2 || domain == 4;
    o->shift_palette = domain == 3 || domain == 4;
    o->background = bg - 1; /* "auto" -> -1 */
    o->label = (vt_shapes_label_kind)label;
    o->glyphs = p->glyphs;
    o->glyph_min_len = (int)p->glyph_min_len;
    o->glyph_max_len = (int)p->glyph_max_len;
    o->captions = (int)p->captions;
    o->max_occlusion = p->max_occlusion;
    return VT_OK;
}

vt_status vt_shapes_split_length(const vt_shapes_params *p, const char *split, size_t *out, vt_err *err) {
    if (p->length > 0) {
        *out = (size_t)p->length;
        return VT_OK;
    }
    if (split && strcmp(split, "train") == 0)
        *out = (size_t)p->train_size;
    else if (split && strcmp(split, "val") == 0)
        *out = (size_t)p->val_size;
    else if (split && strcmp(split, "test") == 0)
        *out = (size_t)p->test_size;
    else
        return vt_err_set(err, VT_EINVAL, "shapes: unknown split '%s' (train, val, test; set `length` for others)",
                          split ? split : "");
    return VT_OK;
}
