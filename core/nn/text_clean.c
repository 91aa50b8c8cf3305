/* Text cleanup and pre-tokenisation of open_clip's SimpleTokenizer (clean="lower"), in C.
 *
 * open_clip runs   whitespace_clean(html.unescape(html.unescape(ftfy.fix_text(t))).strip()).lower()
 * and then splits with the regex  <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|
 * [^\s\p{L}\p{N}]+  (IGNORECASE). Everything here works on code points, with tables generated from the same
 * Python libraries (text_unicode.c), so the steps agree character for character. ftfy is reproduced in its
 * per-character fixes (control characters, C1 controls, ligatures, widths, curly quotes, NFC of single
 * characters), terminal escapes and its entity unescaping, iterated to a fixed point per line as ftfy does; its mojibake repair
 * and NFC composition of multi-character sequences are not (see docs/text.md). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nn/text_internal.h"

/* ---- code point buffers ---- */

static bool buf_reserve(vt_u32buf *b, size_t extra) {
    if (b->n + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra) cap *= 2;
    uint32_t *v = realloc(b->v, cap * sizeof *v);
    if (!v) return false;
    b->v = v;
    b->cap = cap;
    return true;
}

static bool buf_push(vt_u32buf *b, uint32_t cp) {
    if (!buf_reserve(b, 1)) return false;
    b->v[b->n++] = cp;
    return true;
}

/* Appends a NUL-terminated UTF-8 string (from the generated tables, always valid). */
static bool buf_push_utf8(vt_u32buf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        cp = n == 1 ? *p : n == 2 ? *p & 0x1Fu : n == 3 ? *p & 0x0Fu : *p & 0x07u;
        for (int k = 1; k < n; k++) cp = (cp << 6) | (p[k] & 0x3Fu);
        if (!buf_push(b, cp)) return false;
        p += n;
    }
    return true;
}

int vt_text_utf8_put(uint32_t cp, unsigned char *d) {
    if (cp < 0x80) return d[0] = (unsigned char)cp, 1;
    if (cp < 0x800) return d[0] = (unsigned char)(0xC0 | (cp >> 6)), d[1] = (unsigned char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xE0 | (cp >> 12)), d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (unsigned char)(0xF0 | (cp >> 18)), d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), d[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* UTF-8 to code points; every maximal invalid subsequence becomes one U+FFFD (Unicode's recommended
 * practice, which is also what Python's errors="replace" does). */
static bool decode_utf8(const unsigned char *s, size_t len, vt_u32buf *out) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (!buf_push(out, c)) return false;
            i++;
            continue;
        }
        int need;
        unsigned lo = 0x80, hi = 0xBF;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) need = 2, cp = c & 0x0F, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) need = 3, cp = c & 0x07, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else {
            if (!buf_push(out, 0xFFFD)) return false;
            i++;
            continue;
        }
        size_t j = i + 1;
        int got = 0;
        while (got < need && j < len && s[j] >= lo && s[j] <= hi) {
            cp = (cp << 6) | (s[j] & 0x3Fu);
            j++, got++, lo = 0x80, hi = 0xBF;
        }
        if (!buf_push(out, got == need ? cp : 0xFFFD)) return false;
        i = j;
    }
    return true;
}

/* ---- table lookups ---- */

int vt_text_class(uint32_t cp) {
    size_t lo = 0, hi = vt_text_classes_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < vt_text_classes[mid].lo) hi = mid;
        else if (cp > vt_text_classes[mid].hi) lo = mid + 1;
        else return vt_text_classes[mid].cls;
    }
    return VT_TEXT_OTHER;
}

bool vt_text_py_isspace(uint32_t cp) {
    for (size_t i = 0; i < vt_text_isspace_n; i++)
        if (cp >= vt_text_isspace[i].lo && cp <= vt_text_isspace[i].hi) return true;
    return false;
}

static const vt_text_map_entry *find_map(const vt_text_map_entry *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid].cp == cp) return &t[mid];
        if (t[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static const vt_text_lower_entry *find_lower(uint32_t cp) {
    size_t lo = 0, hi = vt_text_lower_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (vt_text_lower[mid].cp == cp) return &vt_text_lower[mid];
        if (vt_text_lower[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static const char *find_entity(const vt_text_entity *t, size_t n, const char *name) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(name, t[mid].name);
        if (r == 0) return t[mid].value;
        if (r > 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static bool invalid_codepoint(uint32_t cp) {
    size_t lo = 0, hi = vt_text_invalid_codepoints_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (vt_text_invalid_codepoints[mid] == cp) return true;
        if (vt_text_invalid_codepoints[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* ---- html.unescape ---- */

static bool is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static bool is_hex(uint32_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool is_alnum(uint32_t c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* html._replace_charref for a numeric reference with value v (saturated above 0x10FFFF). */
static bool push_charref(vt_u32buf *out, uint64_t v) {
    const vt_text_map_entry *m = v <= 0xFFFF ? find_map(vt_text_invalid_charrefs, vt_text_invalid_charrefs_n, (uint32_t)v) : NULL;
    if (m) return buf_push_utf8(out, m->to);
    if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return buf_push(out, 0xFFFD);
    if (invalid_codepoint((uint32_t)v)) return true;
    return buf_push(out, (uint32_t)v);
}

/* Tries html.unescape's pattern at s[i] == '&'. On a match appends the replacement and returns the match
 * length; returns 0 when the pattern does not match here (the '&' is then copied as is). */
static size_t html_charref(const uint32_t *s, size_t n, size_t i, vt_u32buf *out, bool *oom) {
    size_t j = i + 1;
    if (j < n && s[j] == '#') {
        bool hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
        size_t k = j + (hex ? 2 : 1), start = k;
        uint64_t v = 0;
        while (k < n && (hex ? is_hex(s[k]) : is_digit(s[k]))) {
            uint32_t c = s[k];
            uint32_t d = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
            v = v > 0x10FFFF ? v : v * (hex ? 16 : 10) + d;
            k++;
        }
        if (k == start) return 0;
        if (k < n && s[k] == ';') k++;
        if (!push_charref(out, v)) *oom = true;
        return k - i;
    }
    size_t k = j;
    while (k < n && k - j < 32 && s[k] != '\t' && s[k] != '\n' && s[k] != '\f' && s[k] != ' ' && s[k] != '<' &&
           s[k] != '&' && s[k] != '#' && s[k] != ';')
        k++;
    if (k == j) return 0;
    if (k < n && s[k] == ';') k++;
    /* The name as UTF-8 (table names are ASCII; anything else simply never matches). */
    char name[40 * 4 + 1];
    size_t len = 0, ends[40];
    for (size_t p = j; p < k; p++) {
        len += (size_t)vt_text_utf8_put(s[p], (unsigned char *)name + len);
        ends[p - j] = len;
    }
    name[len] = 0;
    const char *v = find_entity(vt_text_html5, vt_text_html5_n, name);
    size_t used = k - j;
    /* the longest prefix (at least 2 characters) that is an entity, the rest kept as text */
    for (size_t x = k - j - 1; !v && x >= 2; x--) {
        char keep = name[ends[x - 1]];
        name[ends[x - 1]] = 0;
        v = find_entity(vt_text_html5, vt_text_html5_n, name);
        name[ends[x - 1]] = keep;
        if (v) used = x;
    }
    if (!v) return 0;
    if (!buf_push_utf8(out, v)) *oom = true;
    for (size_t p = j + used; p < k; p++)
        if (!buf_push(out, s[p])) *oom = true;
    return k - i;
}

static bool html_unescape(const uint32_t *s, size_t n, vt_u32buf *out) {
    out->n = 0;
    bool oom = false;
    for (size_t i = 0; i < n && !oom;) {
        size_t m = s[i] == '&' ? html_charref(s, n, i, out, &oom) : 0;
        if (m) i += m;
        else if (!buf_push(out, s[i++])) return false;
    }
    return !oom;
}

/* ftfy.fixes.unescape_html: only "&#?[0-9A-Za-z]{1,24};" is decoded, by ftfy's entity table, or by
 * html.unescape for numeric references that it consumes whole. */
static bool ftfy_unescape(const uint32_t *s, size_t n, vt_u32buf *out, vt_u32buf *tmp) {
    out->n = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, k;
        if (s[i] == '&') {
            if (j < n && s[j] == '#') j++;
            for (k = j; k < n && k - j < 25 && is_alnum(s[k]); k++) {}
            if (k > j && k - j <= 24 && k < n && s[k] == ';') {
                char name[32];
                size_t len = 0;
                for (size_t p = j; p <= k; p++) name[len++] = (char)s[p];
                name[len] = 0;
                const char *v = NULL;
                if (j == i + 1)
                    v = find_entity(vt_text_html5, vt_text_html5_n, name) ? find_entity(vt_text_html5, vt_text_html5_n, name)
                                                                         : find_entity(vt_text_ftfy_entities, vt_text_ftfy_entities_n, name);
                if (v) {
                    if (!buf_push_utf8(out, v)) return false;
                    i = k + 1;
                    continue;
                }
                if (j == i + 2) {
                    if (!html_unescape(s + i, k + 1 - i, tmp)) return false;
                    bool whole = true;
                    for (size_t p = 0; p < tmp->n; p++) whole &= tmp->v[p] != ';';
                    if (whole) {
                        for (size_t p = 0; p < tmp->n; p++)
                            if (!buf_push(out, tmp->v[p])) return false;
                        i = k + 1;
                        continue;
                    }
                }
            }
        }
        if (!buf_push(out, s[i++])) return false;
    }
    return true;
}

/* ftfy.fixes.remove_terminal_escapes: ESC [ (digits or ;)* letter. In place. (ftfy runs it after the width
 * fixes, so a full-width "３１" would also count; that ordering detail is not reproduced.) */
static void remove_terminal_escapes(vt_u32buf *b) {
    size_t o = 0;
    for (size_t i = 0; i < b->n;) {
        if (b->v[i] == 0x1B && i + 1 < b->n && b->v[i + 1] == '[') {
            size_t j = i + 2;
            while (j < b->n && (is_digit(b->v[j]) || b->v[j] == ';')) j++;
            if (j < b->n && ((b->v[j] | 0x20) >= 'a' && (b->v[j] | 0x20) <= 'z')) {
                i = j + 1;
                continue;
            }
        }
        b->v[o++] = b->v[i++];
    }
    b->n = o;
}

/* ftfy's per-character fixes (one pass). */
static bool ftfy_chars(const uint32_t *s, size_t n, vt_u32buf *out) {
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        const vt_text_map_entry *m = find_map(vt_text_ftfy_chars, vt_text_ftfy_chars_n, s[i]);
        if (m ? !buf_push_utf8(out, m->to) : !buf_push(out, s[i])) return false;
    }
    return true;
}

static bool same(const vt_u32buf *a, const vt_u32buf *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

static void swap(vt_u32buf *a, vt_u32buf *b) {
    vt_u32buf t = *a;
    *a = *b;
    *b = t;
}

/* ftfy.fix_text: line by line; entity unescaping stops for good at the first line containing '<'; each line
 * is fixed until it stops changing. */
static bool ftfy_fix(const vt_u32buf *in, vt_u32buf *out, vt_u32buf *w[3]) {
    out->n = 0;
    bool unescape = true;
    for (size_t pos = 0; pos < in->n;) {
        size_t end = pos;
        while (end < in->n && in->v[end] != '\n') end++;
        if (end < in->n) end++;
        for (size_t p = pos; p < end && unescape; p++) unescape = in->v[p] != '<';
        vt_u32buf *cur = w[0], *next = w[1];
        cur->n = 0;
        if (!buf_reserve(cur, end - pos)) return false;
        memcpy(cur->v, in->v + pos, (end - pos) * sizeof *cur->v);
        cur->n = end - pos;
        for (int iter = 0; iter < 64; iter++) { /* entities nest only so deep before the text stops changing */
            if (unescape) {
                if (!ftfy_unescape(cur->v, cur->n, next, w[2])) return false;
            } else {
                next->n = 0;
                if (!buf_reserve(next, cur->n)) return false;
                if (cur->n) memcpy(next->v, cur->v, cur->n * sizeof *cur->v);
                next->n = cur->n;
            }
            remove_terminal_escapes(next);
            if (!ftfy_chars(next->v, next->n, w[2])) return false;
            bool done = same(w[2], cur);
            swap(cur, w[2]);
            if (done) break;
        }
        if (!buf_reserve(out, cur->n)) return false;
        if (cur->n) memcpy(out->v + out->n, cur->v, cur->n * sizeof *cur->v);
        out->n += cur->n;
        pos = end;
    }
    return true;
}

static bool in_ranges(const vt_text_range *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

/* str.lower's Final_Sigma (CPython's handle_capital_sigma): Σ becomes ς when the nearest non-case-ignorable
 * character before it is cased and the nearest one after it (if any) is not. */
static bool final_sigma(const uint32_t *s, size_t start, size_t end, size_t i) {
    size_t j = i;
    while (j > start && in_ranges(vt_text_case_ignorable, vt_text_case_ignorable_n, s[j - 1])) j--;
    if (j == start || !in_ranges(vt_text_cased, vt_text_cased_n, s[j - 1])) return false;
    for (j = i + 1; j < end && in_ranges(vt_text_case_ignorable, vt_text_case_ignorable_n, s[j]); j++) {}
    return j == end || !in_ranges(vt_text_cased, vt_text_cased_n, s[j]);
}

vt_status vt_text_clean(const char *text, size_t len, vt_u32buf *out) {
    vt_u32buf a = {0}, b = {0}, w0 = {0}, w1 = {0}, w2 = {0};
    vt_u32buf *w[3] = {&w0, &w1, &w2};
    bool ok = decode_utf8((const unsigned char *)text, len, &a) && ftfy_fix(&a, &b, w) &&
              html_unescape(b.v, b.n, &a) && html_unescape(a.v, a.n, &b);
    /* strip (str.isspace), whitespace runs (\s) to one space, strip, lower */
    size_t s = 0, e = b.n;
    while (ok && s < e && vt_text_py_isspace(b.v[s])) s++;
    while (ok && e > s && vt_text_py_isspace(b.v[e - 1])) e--;
    a.n = 0;
    for (size_t i = s; ok && i < e;) {
        if (vt_text_class(b.v[i]) == VT_TEXT_SPACE) {
            while (i < e && vt_text_class(b.v[i]) == VT_TEXT_SPACE) i++;
            ok = buf_push(&a, ' ');
        } else {
            ok = buf_push(&a, b.v[i++]);
        }
    }
    s = 0, e = a.n;
    while (ok && s < e && vt_text_py_isspace(a.v[s])) s++;
    while (ok && e > s && vt_text_py_isspace(a.v[e - 1])) e--;
    out->n = 0;
    for (size_t i = s; ok && i < e; i++) {
        uint32_t cp = a.v[i];
        if (cp == 0x3A3) {
            ok = buf_push(out, final_sigma(a.v, s, e, i) ? 0x3C2 : 0x3C3);
            continue;
        }
        const vt_text_lower_entry *l = find_lower(cp);
        if (!l) {
            ok = buf_push(out, cp);
            continue;
        }
        for (int k = 0; ok && k < 3 && l->to[k]; k++) ok = buf_push(out, l->to[k]);
    }
    free(a.v), free(b.v), free(w[0]->v), free(w[1]->v), free(w[2]->v);
    return ok ? VT_OK : VT_ENOMEM;
}

/* ---- pre-tokenisation ---- */

/* IGNORECASE equality with an ASCII letter: only ſ (U+017F) and the Kelvin sign fold onto one. */
static bool ci_eq(uint32_t cp, char a) {
    return cp == (uint32_t)a || (a == 's' && cp == 0x17F) || (a == 'k' && cp == 0x212A);
}

static bool match_lit(const uint32_t *s, size_t n, size_t i, const char *lit) {
    for (size_t k = 0; lit[k]; k++)
        if (i + k >= n || !ci_eq(s[i + k], lit[k])) return false;
    return true;
}

size_t vt_text_next_token(const uint32_t *s, size_t n, size_t i, int *special) {
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    *special = 0;
    if (match_lit(s, n, i, "<start_of_text>")) return *special = 1, 15;
    if (match_lit(s, n, i, "<end_of_text>")) return *special = 2, 13;
    for (size_t k = 0; k < sizeof contractions / sizeof *contractions; k++)
        if (match_lit(s, n, i, contractions[k])) return strlen(contractions[k]);
    int cls = vt_text_class(s[i]);
    if (cls == VT_TEXT_SPACE) return 0;
    if (cls == VT_TEXT_NUMBER) return 1;
    size_t j = i + 1;
    while (j < n && vt_text_class(s[j]) == cls) j++;
    return j - i;
}
