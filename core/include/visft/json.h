/* JSON (RFC 8259) for visft: a single-pass DOM parser for outside input (safetensors headers, COCO
 * annotation files of hundreds of MB) and a small writer for what visft emits (safetensors headers,
 * results JSON, metrics.jsonl).
 *
 * Parser: every node lives in one arena owned by the document (no per-node malloc); a node is 16 bytes.
 * The parser is iterative, so nesting depth costs no C stack; depth is still capped (default 512) to bound
 * work on hostile input. Arrays and objects keep their children contiguous and in document order, so
 * index access is O(1) and object lookup by key is a linear scan (fine for the small objects JSON files
 * carry; iterate by index for large ones). Duplicate keys are kept; vt_json_object_find_duplicate() finds
 * them. Strings are unescaped to UTF-8 (\uXXXX surrogate pairs combined, lone surrogates rejected), always
 * NUL-terminated, and may contain NUL bytes (use the length). Invalid UTF-8 in strings is rejected.
 * Numbers are doubles; a number that is an exact integer in int64 range (written as an integer, or a
 * fraction/exponent that comes out integral) also reads exactly through vt_json_int64().
 *
 * Errors name the source (file name), line:column and byte offset, and the cause. */
#ifndef VISFT_JSON_H
#define VISFT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_json_type {
    VT_JSON_MISSING = 0, /* what accessors report for a NULL node (absent key, index out of range) */
    VT_JSON_NULL,
    VT_JSON_BOOL,
    VT_JSON_NUMBER,
    VT_JSON_STRING,
    VT_JSON_ARRAY,
    VT_JSON_OBJECT
} vt_json_type;

typedef struct vt_json vt_json;         /* a node; valid while its document lives */
typedef struct vt_json_doc vt_json_doc; /* owns every node and string */

#define VT_JSON_DEFAULT_MAX_DEPTH 512

typedef struct vt_json_opts {
    const char *name; /* source name used in error messages ("instances.json"); NULL -> "json" */
    int max_depth;    /* deepest allowed nesting of arrays/objects; <= 0 -> VT_JSON_DEFAULT_MAX_DEPTH */
} vt_json_opts;

/* Where a parse failed: byte offset from the start of the text, 1-based line and column (in bytes). */
typedef struct vt_json_loc {
    size_t offset, line, col;
} vt_json_loc;

/* Parses exactly one JSON value (surrounding whitespace and a leading UTF-8 BOM allowed) from text[0..len).
 * The text need not be NUL-terminated and is not referenced after the call. On failure *out is NULL,
 * err says "<name>:<line>:<col>: <cause> (byte <offset>)" and loc (if non-NULL) holds the position. */
vt_status vt_json_parse(const char *text, size_t len, const vt_json_opts *opts, vt_json_doc **out,
                        vt_json_loc *loc, vt_err *err);
/* Reads and parses a whole file; errors name the path. */
vt_status vt_json_parse_file(const char *path, const vt_json_opts *opts, vt_json_doc **out, vt_err *err);
void vt_json_doc_free(vt_json_doc *doc);
const vt_json *vt_json_root(const vt_json_doc *doc);
/* Bytes of node + string storage the document holds (for memory reports). */
size_t vt_json_doc_memory(const vt_json_doc *doc);

/* Accessors accept NULL nodes (so lookups can chain) and never crash on a wrong type: they return
 * VT_JSON_MISSING / false / 0 / NULL instead. */
vt_json_type vt_json_typeof(const vt_json *v);
const char *vt_json_type_name(vt_json_type t); /* "null", "bool", "number", "string", "array", "object" */
static inline bool vt_json_is_null(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_NULL; }
static inline bool vt_json_is_bool(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_BOOL; }
static inline bool vt_json_is_number(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_NUMBER; }
static inline bool vt_json_is_string(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_STRING; }
static inline bool vt_json_is_array(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_ARRAY; }
static inline bool vt_json_is_object(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_OBJECT; }
/* True for a number that is an exact integer within int64 range. */
bool vt_json_is_int(const vt_json *v);

bool vt_json_bool(const vt_json *v);      /* false unless a true boolean */
double vt_json_number(const vt_json *v);  /* 0 unless a number */
/* Stores the exact integer and returns true when vt_json_is_int(v); otherwise leaves *out alone. */
bool vt_json_int64(const vt_json *v, int64_t *out);
/* Stricter: only a number written as an integer literal ("16", not "16.0" or "1.6e1") within int64, as
 * strict formats (safetensors shapes and offsets) require. */
bool vt_json_int64_literal(const vt_json *v, int64_t *out);
const char *vt_json_string(const vt_json *v); /* NUL-terminated UTF-8, NULL unless a string */
size_t vt_json_string_len(const vt_json *v);  /* bytes, excluding the terminator */
/* Elements of an array, members of an object, bytes of a string; 0 otherwise. */
size_t vt_json_len(const vt_json *v);

const vt_json *vt_json_at(const vt_json *arr, size_t i); /* NULL if not an array or out of range */
/* First member with this key, or NULL. Linear in the object's size. */
const vt_json *vt_json_get(const vt_json *obj, const char *key);
const vt_json *vt_json_getn(const vt_json *obj, const char *key, size_t key_len);
/* Member i of an object in document order: its key (a string node) and value. NULL when out of range. */
const vt_json *vt_json_member_key(const vt_json *obj, size_t i);
const vt_json *vt_json_member_value(const vt_json *obj, size_t i);
/* Index of the first member whose key repeats an earlier key (the later occurrence), or SIZE_MAX when all
 * keys are distinct or obj is not an object. O(n log n). */
size_t vt_json_object_find_duplicate(const vt_json *obj);

/* ---- writer ----
 * A growable buffer that writes compact JSON and inserts commas and colons itself:
 *
 *     vt_json_writer w;  vt_json_writer_init(&w);
 *     vt_json_write_object_begin(&w);
 *     vt_json_write_key(&w, "loss");  vt_json_write_double(&w, 0.25);
 *     vt_json_write_object_end(&w);
 *     if (vt_json_writer_status(&w, err) == VT_OK) fputs(vt_json_writer_str(&w, NULL), fp);
 *     vt_json_writer_free(&w);
 *
 * Errors (out of memory, misuse such as a key outside an object, nesting deeper than
 * VT_JSON_WRITER_MAX_DEPTH) are sticky: later calls do nothing and vt_json_writer_status reports the first. */
#define VT_JSON_WRITER_MAX_DEPTH 64

typedef struct vt_json_writer {
    char *buf;
    size_t len, cap;
    vt_status status;
    const char *what; /* first error's cause */
    int depth;
    bool need_comma; /* the current container already has an element */
    bool after_key;  /* a key was written; its value comes next */
    char stack[VT_JSON_WRITER_MAX_DEPTH]; /* '{' or '[' per open container */
} vt_json_writer;

void vt_json_writer_init(vt_json_writer *w);
void vt_json_writer_free(vt_json_writer *w);
/* Empties the buffer and state for the next document (e.g. the next metrics.jsonl line); keeps capacity. */
void vt_json_writer_reset(vt_json_writer *w);
/* The text so far, NUL-terminated (never NULL after init). */
const char *vt_json_writer_str(const vt_json_writer *w, size_t *len);
/* VT_OK when no error occurred and every container is closed; else the first error, filled into err. */
vt_status vt_json_writer_status(const vt_json_writer *w, vt_err *err);
/* Hands the buffer to the caller (free() it) and resets the writer to empty; NULL after an error. */
char *vt_json_writer_take(vt_json_writer *w, size_t *len);

void vt_json_write_object_begin(vt_json_writer *w);
void vt_json_write_object_end(vt_json_writer *w);
void vt_json_write_array_begin(vt_json_writer *w);
void vt_json_write_array_end(vt_json_writer *w);
void vt_json_write_key(vt_json_writer *w, const char *key);
void vt_json_write_keyn(vt_json_writer *w, const char *key, size_t len);
/* Strings are escaped: " \ and control characters; other bytes are copied as they are (callers pass
 * UTF-8). A NULL string writes null. */
void vt_json_write_string(vt_json_writer *w, const char *s);
void vt_json_write_stringn(vt_json_writer *w, const char *s, size_t len);
void vt_json_write_int(vt_json_writer *w, int64_t v);
void vt_json_write_uint(vt_json_writer *w, uint64_t v);
/* Shortest text that reads back to the same double; NaN and infinities (not JSON) are written as null. */
void vt_json_write_double(vt_json_writer *w, double v);
void vt_json_write_bool(vt_json_writer *w, bool v);
void vt_json_write_null(vt_json_writer *w);
/* Appends already-formed JSON as one value (no validation). */
void vt_json_write_raw_value(vt_json_writer *w, const char *json, size_t len);
/* Appends bytes verbatim outside the value grammar (e.g. "\n" between JSONL records, padding). */
void vt_json_write_bytes(vt_json_writer *w, const char *bytes, size_t len);

#ifdef __cplusplus
}
#endif
#endif
