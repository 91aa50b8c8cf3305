/* Karpathy-split JSON reader for image_text (dataset_coco.json, dataset_flickr30k.json):
 *   {"images": [{"filepath": "val2014", "filename": "x.jpg", "split": "test", "cocoid": 391895,
 *                "sentences": [{"raw": "A man riding a bike.", ...}, ...]}, ...]}
 * filepath, split and the id fields are optional; filename and every sentence's raw are required. */
#include <stdio.h>
#include <string.h>

#include <visft/json.h>

#include "image_text.h"

vt_status it_read_karpathy(const char *text, size_t len, const it_read_opts *o, it_records *r, vt_err *err) {
    vt_json_opts jo = {.name = o->name};
    vt_json_doc *doc = NULL;
    vt_json_loc loc;
    vt_status st = vt_json_parse(text, len, &jo, &doc, &loc, err);
    if (st != VT_OK) return st;
    const vt_json *images = vt_json_get(vt_json_root(doc), "images");
    if (!vt_json_is_array(images)) {
        st = vt_err_set(err, VT_EFORMAT, "%s: expected an object with an \"images\" array (Karpathy split format)",
                        o->name);
        goto done;
    }
    for (size_t i = 0; i < vt_json_len(images); i++) {
        const vt_json *im = vt_json_at(images, i);
        const char *file = vt_json_string(vt_json_get(im, "filename"));
        const vt_json *dir = vt_json_get(im, "filepath"), *split = vt_json_get(im, "split");
        const vt_json *sents = vt_json_get(im, "sentences");
        if (!vt_json_is_object(im) || !file || !*file) {
            st = vt_err_set(err, VT_EFORMAT, "%s: images[%zu]: %s", o->name, i,
                            vt_json_is_object(im) ? "missing or empty \"filename\"" : "not an object");
            goto done;
        }
        if ((dir && !vt_json_is_string(dir)) || (split && !vt_json_is_string(split)) ||
            (sents && !vt_json_is_array(sents))) {
            st = vt_err_set(err, VT_EFORMAT, "%s: images[%zu] (%s): %s has the wrong type", o->name, i, file,
                            dir && !vt_json_is_string(dir)       ? "\"filepath\""
                            : split && !vt_json_is_string(split) ? "\"split\""
                                                                 : "\"sentences\"");
            goto done;
        }
        if (!it_split_matches(o, vt_json_string(split))) continue;
        int64_t id = (int64_t)r->n_images;
        if (!vt_json_int64(vt_json_get(im, "cocoid"), &id)) vt_json_int64(vt_json_get(im, "imgid"), &id);
        st = it_add_image(r, o, vt_json_string(dir), file, id, err);
        for (size_t k = 0; st == VT_OK && k < vt_json_len(sents); k++) {
            const vt_json *raw = vt_json_get(vt_json_at(sents, k), "raw");
            if (!vt_json_is_string(raw)) {
                st = vt_err_set(err, VT_EFORMAT, "%s: images[%zu] (%s): sentences[%zu] has no \"raw\" string",
                                o->name, i, file, k);
                break;
            }
            st = it_add_caption(r, vt_json_string(raw), vt_json_string_len(raw), err);
        }
        if (st != VT_OK) goto done;
    }
done:
    vt_json_doc_free(doc);
    return st;
}
