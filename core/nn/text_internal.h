/* Internals shared by the CLIP tokenizer's files: the generated Unicode/HTML tables (text_unicode.c) and the
 * text cleanup / pre-tokenisation (text_clean.c) that the BPE encoder (text_bpe.c) runs first. */
#ifndef VISFT_NN_TEXT_INTERNAL_H
#define VISFT_NN_TEXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "visft/error.h"

/* Pre-tokenisation classes of open_clip's regex (with IGNORECASE): anything not listed is "other". */
enum { VT_TEXT_OTHER = 0, VT_TEXT_LETTER = 1, VT_TEXT_NUMBER = 2, VT_TEXT_SPACE = 3 };

typedef struct vt_text_class_range { uint32_t lo, hi; uint8_t cls; } vt_text_class_range;
typedef struct vt_text_range { uint32_t lo, hi; } vt_text_range;
typedef struct vt_text_lower_entry { uint32_t cp; uint32_t to[3]; } vt_text_lower_entry;
typedef struct vt_text_map_entry { uint32_t cp; const char *to; } vt_text_map_entry;
typedef struct vt_text_entity { const char *name; const char *value; } vt_text_entity;

extern const vt_text_class_range vt_text_classes[];
extern const size_t vt_text_classes_n;
extern const vt_text_range vt_text_isspace[]; /* Python's str.isspace (used by strip) */
extern const size_t vt_text_isspace_n;
extern const vt_text_range vt_text_cased[], vt_text_case_ignorable[]; /* for str.lower's Final_Sigma */
extern const size_t vt_text_cased_n, vt_text_case_ignorable_n;
extern const vt_text_lower_entry vt_text_lower[]; /* str.lower per character, sorted by cp */
extern const size_t vt_text_lower_n;
extern const vt_text_map_entry vt_text_ftfy_chars[]; /* ftfy.fix_text per character (UTF-8, may be "") */
extern const size_t vt_text_ftfy_chars_n;
extern const vt_text_entity vt_text_html5[]; /* html.entities.html5, sorted by name (strcmp) */
extern const size_t vt_text_html5_n;
extern const vt_text_entity vt_text_ftfy_entities[]; /* ftfy's extra "NAME;" spellings, sorted */
extern const size_t vt_text_ftfy_entities_n;
extern const vt_text_map_entry vt_text_invalid_charrefs[]; /* html._invalid_charrefs */
extern const size_t vt_text_invalid_charrefs_n;
extern const uint32_t vt_text_invalid_codepoints[]; /* html._invalid_codepoints, sorted */
extern const size_t vt_text_invalid_codepoints_n;

/* A growable array of code points. */
typedef struct vt_u32buf { uint32_t *v; size_t n, cap; } vt_u32buf;

/* Decodes UTF-8 (each maximal invalid subsequence becomes U+FFFD, as Python's errors="replace") and cleans it
 * as open_clip's _clean_lower does: ftfy's per-character fixes and entity unescaping, html.unescape twice,
 * whitespace runs to one space, strip, lower-case. out is reset first; VT_ENOMEM is the only failure. */
vt_status vt_text_clean(const char *text, size_t len, vt_u32buf *out);
/* Python's str.isspace (strip and str.split use it). */
bool vt_text_py_isspace(uint32_t cp);
/* Pre-tokenisation class of a code point. */
int vt_text_class(uint32_t cp);
/* Length of the pre-token starting at s[i] (open_clip's regex alternatives in order), or 0 when s[i] is
 * whitespace that findall skips. *special: 1 for <start_of_text>, 2 for <end_of_text>, else 0. */
size_t vt_text_next_token(const uint32_t *s, size_t n, size_t i, int *special);
/* Appends the UTF-8 encoding of cp (1..4 bytes) to dst; returns the count. */
int vt_text_utf8_put(uint32_t cp, unsigned char *dst);

#endif
