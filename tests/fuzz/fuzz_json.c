/* libFuzzer target for the JSON parser. Besides "never crash", it checks a round trip: whatever parses is
 * written back with the JSON writer, and that text must parse to an equal tree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "visft/json.h"

static void write_value(vt_json_writer *w, const vt_json *v) {
    switch (vt_json_typeof(v)) {
    case VT_JSON_NULL: vt_json_write_null(w); break;
    case VT_JSON_BOOL: vt_json_write_bool(w, vt_json_bool(v)); break;
    case VT_JSON_NUMBER: {
        int64_t i;
        if (vt_json_int64(v, &i)) vt_json_write_int(w, i);
        else vt_json_write_double(w, vt_json_number(v));
        break;
    }
    case VT_JSON_STRING: vt_json_write_stringn(w, vt_json_string(v), vt_json_string_len(v)); break;
    case VT_JSON_ARRAY:
        vt_json_write_array_begin(w);
        for (size_t i = 0; i < vt_json_len(v); i++) write_value(w, vt_json_at(v, i));
        vt_json_write_array_end(w);
        break;
    case VT_JSON_OBJECT:
        vt_json_write_object_begin(w);
        for (size_t i = 0; i < vt_json_len(v); i++) {
            const vt_json *k = vt_json_member_key(v, i);
            vt_json_write_keyn(w, vt_json_string(k), vt_json_string_len(k));
            write_value(w, vt_json_member_value(v, i));
        }
        vt_json_write_object_end(w);
        break;
    case VT_JSON_MISSING: abort();
    }
}

static void check_equal(const vt_json *a, const vt_json *b) {
    if (vt_json_typeof(a) != vt_json_typeof(b)) abort();
    switch (vt_json_typeof(a)) {
    case VT_JSON_BOOL:
        if (vt_json_bool(a) != vt_json_bool(b)) abort();
        break;
    case VT_JSON_NUMBER: {
        double x = vt_json_number(a), y = vt_json_number(b);
        if (memcmp(&x, &y, sizeof x) != 0 || vt_json_is_int(a) != vt_json_is_int(b)) abort();
        int64_t i = 0, j = 0;
        if (vt_json_int64(a, &i) && (vt_json_int64(b, &j), i != j)) abort();
        break;
    }
    case VT_JSON_STRING:
        if (vt_json_string_len(a) != vt_json_string_len(b) ||
            memcmp(vt_json_string(a), vt_json_string(b), vt_json_string_len(a)) != 0)
            abort();
        if (vt_json_string(a)[vt_json_string_len(a)] != '\0') abort();
        break;
    case VT_JSON_ARRAY:
        if (vt_json_len(a) != vt_json_len(b)) abort();
        for (size_t i = 0; i < vt_json_len(a); i++) check_equal(vt_json_at(a, i), vt_json_at(b, i));
        break;
    case VT_JSON_OBJECT:
        if (vt_json_len(a) != vt_json_len(b)) abort();
        for (size_t i = 0; i < vt_json_len(a); i++) {
            check_equal(vt_json_member_key(a, i), vt_json_member_key(b, i));
            check_equal(vt_json_member_value(a, i), vt_json_member_value(b, i));
            const vt_json *k = vt_json_member_key(a, i);
            if (!vt_json_getn(a, vt_json_string(k), vt_json_string_len(k))) abort();
        }
        vt_json_object_find_duplicate(a);
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_json_doc *doc = NULL;
    vt_err err;
    vt_json_loc loc;
    vt_json_opts opts = {.max_depth = 48}; /* keeps the writer (64 levels) able to echo everything */
    if (vt_json_parse((const char *)data, size, &opts, &doc, &loc, &err) != VT_OK) {
        if (doc || loc.offset > size || err.msg[0] == '\0') abort();
        return 0;
    }
    vt_json_writer w;
    vt_json_writer_init(&w);
    write_value(&w, vt_json_root(doc));
    if (vt_json_writer_status(&w, NULL) != VT_OK) abort();
    size_t len;
    const char *text = vt_json_writer_str(&w, &len);
    vt_json_doc *again = NULL;
    if (vt_json_parse(text, len, &opts, &again, NULL, &err) != VT_OK) abort();
    check_equal(vt_json_root(doc), vt_json_root(again));
    vt_json_doc_free(again);
    vt_json_writer_free(&w);
    vt_json_doc_free(doc);
    return 0;
}
