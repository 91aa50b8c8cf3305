/* A built-in 5x7 bitmap font for the characters 0-9 and A-Z: the glyphs the `shapes` dataset draws for
 * OCR-style benchmarks. Built in so that the embedded dataset needs no font file. */
#ifndef VISFT_DATA_FONT_H
#define VISFT_DATA_FONT_H

#include <stdbool.h>
#include <stdint.h>

#define VT_FONT_W 5
#define VT_FONT_H 7
#define VT_FONT_NCHARS 36

/* The alphabet in class order: digits, then capitals. A glyph label is an index into it. */
extern const char vt_font_alphabet[VT_FONT_NCHARS + 1];

/* Index of c in vt_font_alphabet (lower case folds to upper), or -1. */
int vt_font_index(char c);

/* Whether pixel (x, y) of glyph `index` is set; x in [0, 5), y in [0, 7) from the top. False out of range. */
bool vt_font_pixel(int index, int x, int y);

#endif
