/* JSON parser and writer (see visft/json.h).
 *
 * Parser design: one forward pass over the bytes with an explicit container stack (no recursion). Finished
 * values are pushed onto a scratch stack of nodes; when a container closes, its children (the top of the
 * scratch stack) are copied once into the arena as one contiguous array and replaced by the container's
 * node. So every node is written to the arena exactly once, children are adjacent in memory, and no node
 * is malloc'd on its own. Objects store 2n children: key, value, key, value, ...
 *
 * Strings: a table-driven scan finds the closing quote; plain ASCII without escapes is copied with one
 * memcpy, anything else goes through a decoder that validates UTF-8 and escapes. Decoded text is never
 * longer than its source, so the decoder writes into an arena allocation of the source length and gives
 * the unused tail back.
 *
 * Numbers: integers of up to 18 digits are accumulated exactly; other numbers use Clinger's fast path
 * (mantissa <= 2^53, |exp10| <= 22 is exact in double arithmetic) and fall back to strtod otherwise. */
#include "visft/json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- nodes and arena ---- */

/* TAG_INT: u.i holds the exact value. TAG_INT_TEXT: also written as an integer literal (no '.', no 'e'). */
enum { TAG_TYPE_MASK = 0x7, TAG_INT = 0x8, TAG_TRUE = 0x10, TAG_INT_TEXT = 0x20, TAG_LEN_SHIFT = 8 };

struct vt_json {
    uint64_t tag; /* type | flags | length << 8 (string bytes, array elements, object members) */
    union {
        double d;       /* number without TAG_INT */
        int64_t i;      /* number with TAG_INT (exact integer) */
        const char *s;  /* string */
        vt_json *kids;  /* array: n nodes; object: 2n nodes (key, value, ...) */
    } u;
};

_Static_assert(sizeof(vt_json) == 16, "a JSON node is meant to be 16 bytes");

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    unsigned char data[]; /* 8-aligned: the header is three 8-byte fields */
} arena_block;

struct vt_json_doc {
    arena_block *blocks; /* head is the block being filled */
    size_t bytes;
    vt_json root;
};

#define ARENA_MIN_BLOCK ((size_t)64 << 10)
#define ARENA_MAX_BLOCK ((size_t)64 << 20)

static void *arena_alloc(vt_json_doc *doc, size_t size, size_t align) {
    arena_block *b = doc->blocks;
    if (b) {
        size_t off = (b->used + align - 1) & ~(align - 1);
        if (off <= b->cap && size <= b->cap - off) {
            b->used = off + size;
            return b->data + off;
        }
    }
    size_t cap = b ? b->cap * 2 : ARENA_MIN_BLOCK;
    if (cap > ARENA_MAX_BLOCK) cap = ARENA_MAX_BLOCK;
    if (size > cap / 2) {
        /* A big request gets a block of its own, linked behind the current one so the current block's
         * free space stays usable. */
        if (size > SIZE_MAX - sizeof(arena_block)) return NULL;
        arena_block *big = malloc(sizeof(arena_block) + size);
        if (!big) return NULL;
        big->used = big->cap = size;
        doc->bytes += size;
        if (b) {
            big->next = b->next;
            b->next = big;
        } else {
            big->next = NULL;
            doc->blocks = big;
        }
        return big->data;
    }
    arena_block *nb = malloc(sizeof(arena_block) + cap);
    if (!nb) return NULL;
    nb->next = doc->blocks;
    nb->cap = cap;
    nb->used = size;
    doc->bytes += cap;
    doc->blocks = nb;
    return nb->data;
}

/* Gives back the tail of the most recent allocation from the current block. */
static void arena_shrink_last(vt_json_doc *doc, void *ptr, size_t old_size, size_t new_size) {
    arena_block *b = doc->blocks;
    if (b && (unsigned char *)ptr + old_size == b->data + b->used) b->used -= old_size - new_size;
}

void vt_json_doc_free(vt_json_doc *doc) {
    if (!doc) return;
    arena_block *b = doc->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

const vt_json *vt_json_root(const vt_json_doc *doc) { return doc ? &doc->root : NULL; }
size_t vt_json_doc_memory(const vt_json_doc *doc) { return doc ? doc->bytes + sizeof *doc : 0; }

/* ---- parser ---- */

typedef struct frame {
    size_t start; /* scratch index of the container's first child */
    char kind;    /* '[' or '{' */
} frame;

typedef struct parser {
    const unsigned char *start, *end;
    vt_json_doc *doc;
    vt_json *stack;
    size_t sp, cap;
    frame *frames;
    int depth, frames_cap, max_depth;
    /* first error */
    vt_status status;
    const unsigned char *err_at;
    char cause[160];
} parser;

__attribute__((format(printf, 4, 5))) static int fail(parser *ps, const unsigned char *at, vt_status code,
                                                      const char *fmt, ...) {
    if (ps->status == VT_OK) {
        ps->status = code;
        ps->err_at = at;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->cause, sizeof ps->cause, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int fail_char(parser *ps, const unsigned char *at, const char *what) {
    if (at >= ps->end) return fail(ps, at, VT_EFORMAT, "unexpected end of input (%s)", what);
    unsigned c = *at;
    if (c >= 0x20 && c < 0x7f) return fail(ps, at, VT_EFORMAT, "unexpected character '%c' (%s)", (int)c, what);
    return fail(ps, at, VT_EFORMAT, "unexpected byte 0x%02x (%s)", c, what);
}

static int push(parser *ps, const vt_json *v) {
    if (ps->sp == ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 256;
        vt_json *ns = realloc(ps->stack, ncap * sizeof *ns);
        if (!ns) return fail(ps, NULL, VT_ENOMEM, "out of memory");
        ps->stack = ns;
        ps->cap = ncap;
    }
    ps->stack[ps->sp++] = *v;
    return 0;
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* Bytes that end the fast string scan: '"', '\\', control characters and non-ASCII. */
static inline bool str_special(unsigned c) { return c < 0x20 || c >= 0x80 || c == '"' || c == '\\'; }

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out) {
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid or truncated. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0; /* overlong */
        if (c == 0xed && p[1] > 0x9f) return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0; /* overlong */
        if (c == 0xf4 && p[1] > 0x8f) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

static unsigned char *put_utf8(unsigned char *o, unsigned cp) {
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xc0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xe0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (unsigned char)(0xf0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* p points at the opening quote. On success fills *v and returns the position after the closing quote. */
static const unsigned char *parse_string(parser *ps, const unsigned char *p, vt_json *v) {
    const unsigned char *open = p, *end = ps->end;
    const unsigned char *s = ++p;
    while (p < end && !str_special(*p)) p++;
    if (p < end && *p == '"') { /* plain ASCII, no escapes */
        size_t n = (size_t)(p - s);
        char *out = arena_alloc(ps->doc, n + 1, 1);
        if (!out) return fail(ps, NULL, VT_ENOMEM, "out of memory"), NULL;
        memcpy(out, s, n);
        out[n] = '\0';
        v->tag = VT_JSON_STRING | (uint64_t)n << TAG_LEN_SHIFT;
        v->u.s = out;
        return p + 1;
    }
    /* Find the closing quote (skipping escaped characters) to size the output. */
    const unsigned char *q = p;
    for (;;) {
        while (q < end && *q != '"' && *q != '\\') q++;
        if (q >= end || (*q == '\\' && end - q < 2)) return fail(ps, open, VT_EFORMAT, "unterminated string"), NULL;
        if (*q == '"') break;
        q += 2;
    }
    size_t cap = (size_t)(q - s) + 1;
    unsigned char *out = arena_alloc(ps->doc, cap, 1), *o;
    if (!out) return fail(ps, NULL, VT_ENOMEM, "out of memory"), NULL;
    memcpy(out, s, (size_t)(p - s));
    o = out + (p - s);
    while (p < q) {
        unsigned c = *p;
        if (c == '\\') {
            const unsigned char *esc = p;
            unsigned e = p[1];
            p += 2;
            switch (e) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(p, q, &cp)) return fail(ps, esc, VT_EFORMAT, "invalid \\u escape: expected 4 hex digits"), NULL;
                p += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail(ps, esc, VT_EFORMAT, "lone low surrogate \\u%04X in string", cp), NULL;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, q, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        return fail(ps, esc, VT_EFORMAT,
                                    "lone high surrogate \\u%04X in string (not followed by a low surrogate)", cp),
                               NULL;
                    p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                o = put_utf8(o, cp);
                break;
            }
            default:
                if (e >= 0x20 && e < 0x7f)
                    return fail(ps, esc, VT_EFORMAT, "invalid escape '\\%c' in string", (int)e), NULL;
                return fail(ps, esc, VT_EFORMAT, "invalid escape (backslash before byte 0x%02x) in string", e), NULL;
            }
        } else if (c < 0x20) {
            return fail(ps, p, VT_EFORMAT, "unescaped control character 0x%02x in string", c), NULL;
        } else if (c < 0x80) {
            *o++ = (unsigned char)c;
            p++;
        } else {
            size_t n = utf8_seq(p, q);
            if (!n) return fail(ps, p, VT_EFORMAT, "invalid UTF-8 byte 0x%02x in string", c), NULL;
            memcpy(o, p, n);
            o += n;
            p += n;
        }
    }
    size_t n = (size_t)(o - out);
    *o = '\0';
    arena_shrink_last(ps->doc, out, cap, n + 1);
    v->tag = VT_JSON_STRING | (uint64_t)n << TAG_LEN_SHIFT;
    v->u.s = (const char *)out;
    return q + 1;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(unsigned c) { return c - '0' < 10u; }

static const unsigned char *parse_number(parser *ps, const unsigned char *p, vt_json *v) {
    const unsigned char *start = p, *end = ps->end;
    bool neg = false, integer = true, exact = true;
    uint64_t mant = 0;
    int ndig = 0;     /* significant digits accumulated in mant */
    long exp10 = 0;   /* value = mant * 10^exp10 while exact */
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p >= end) return fail(ps, p, VT_EFORMAT, "unexpected end of input in number"), NULL;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) return fail(ps, start, VT_EFORMAT, "invalid number: leading zeros are not allowed"), NULL;
    } else if (is_digit(*p)) {
        for (; p < end && is_digit(*p); p++) {
            if (ndig < 19) {
                mant = mant * 10 + (*p - '0');
                ndig++;
            } else {
                exact = false;
                exp10++;
            }
        }
    } else {
        return fail(ps, start, VT_EFORMAT, "invalid number: expected a digit after '-'"), NULL;
    }
    if (p < end && *p == '.') {
        integer = false;
        p++;
        if (p >= end || !is_digit(*p))
            return fail(ps, p, VT_EFORMAT, "invalid number: expected a digit after the decimal point"), NULL;
        for (; p < end && is_digit(*p); p++) {
            if (mant == 0 && *p == '0') {
                exp10--;
            } else if (ndig < 19) {
                mant = mant * 10 + (*p - '0');
                ndig++;
                exp10--;
            } else {
                exact = false;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = false;
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || !is_digit(*p))
            return fail(ps, p, VT_EFORMAT, "invalid number: expected a digit in the exponent"), NULL;
        long e = 0;
        for (; p < end && is_digit(*p); p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }

    if (integer && exact && ndig <= 19) {
        /* An integer literal: exact if it fits int64. 19 digits may exceed it; check. */
        if (ndig < 19 || mant <= (uint64_t)INT64_MAX + (neg ? 1u : 0u)) {
            if (neg && mant == 0) { /* -0 keeps its sign as a double */
                v->tag = VT_JSON_NUMBER;
                v->u.d = -0.0;
                return p;
            }
            v->tag = VT_JSON_NUMBER | TAG_INT | TAG_INT_TEXT;
            v->u.i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
            return p;
        }
    }
    double d;
    if (exact && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        if (neg) d = -d;
    } else {
        size_t n = (size_t)(p - start);
        char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
        if (!buf) return fail(ps, NULL, VT_ENOMEM, "out of memory"), NULL;
        memcpy(buf, start, n);
        buf[n] = '\0';
        char *stop;
        d = strtod(buf, &stop);
        bool ok = stop == buf + n;
        if (buf != small) free(buf);
        if (!ok) return fail(ps, start, VT_EFORMAT, "number could not be converted (non-C locale?)"), NULL;
    }
    if (isinf(d)) return fail(ps, start, VT_EFORMAT, "number out of range for a double"), NULL;
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0 && !(d == 0 && signbit(d))) {
        v->tag = VT_JSON_NUMBER | TAG_INT;
        v->u.i = (int64_t)d;
    } else {
        v->tag = VT_JSON_NUMBER;
        v->u.d = d;
    }
    return p;
}

static const unsigned char *parse_literal(parser *ps, const unsigned char *p, const char *word, vt_json *v,
                                          uint64_t tag) {
    size_t n = strlen(word), avail = (size_t)(ps->end - p);
    if (avail < n || memcmp(p, word, n) != 0) {
        size_t k = 0;
        while (k < n && k < avail && p[k] == (unsigned char)word[k]) k++;
        if (k == avail) return fail(ps, ps->end, VT_EFORMAT, "unexpected end of input in literal '%s'", word), NULL;
        return fail(ps, p, VT_EFORMAT, "invalid literal (expected '%s')", word), NULL;
    }
    v->tag = tag;
    v->u.i = 0;
    return p + n;
}

static int open_container(parser *ps, const unsigned char *p, char kind) {
    if (ps->depth >= ps->max_depth)
        return fail(ps, p, VT_EFORMAT, "nesting deeper than %d levels", ps->max_depth);
    if (ps->depth == ps->frames_cap) {
        int ncap = ps->frames_cap ? ps->frames_cap * 2 : 32;
        if (ncap > ps->max_depth) ncap = ps->max_depth;
        frame *nf = realloc(ps->frames, (size_t)ncap * sizeof *nf);
        if (!nf) return fail(ps, NULL, VT_ENOMEM, "out of memory");
        ps->frames = nf;
        ps->frames_cap = ncap;
    }
    ps->frames[ps->depth].start = ps->sp;
    ps->frames[ps->depth].kind = kind;
    ps->depth++;
    return 0;
}

/* Moves the open container's children into the arena and leaves the container's node on the stack. */
static int close_container(parser *ps) {
    frame *f = &ps->frames[--ps->depth];
    size_t n = ps->sp - f->start;
    vt_json node;
    node.u.kids = NULL;
    if (n) {
        node.u.kids = arena_alloc(ps->doc, n * sizeof(vt_json), _Alignof(vt_json));
        if (!node.u.kids) return fail(ps, NULL, VT_ENOMEM, "out of memory");
        memcpy(node.u.kids, ps->stack + f->start, n * sizeof(vt_json));
    }
    if (f->kind == '{') node.tag = VT_JSON_OBJECT | (uint64_t)(n / 2) << TAG_LEN_SHIFT;
    else node.tag = VT_JSON_ARRAY | (uint64_t)n << TAG_LEN_SHIFT;
    ps->sp = f->start;
    return push(ps, &node);
}

static int run_parser(parser *ps) {
    const unsigned char *p = ps->start, *end = ps->end;
    vt_json v;
    if (end - p >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) p += 3; /* UTF-8 BOM */
    p = skip_ws(p, end);
    if (p == end) return fail(ps, p, VT_EFORMAT, "empty input (expected a JSON value)");

value:
    p = skip_ws(p, end);
    if (p >= end) return fail(ps, p, VT_EFORMAT, "unexpected end of input (expected a value)");
    switch (*p) {
    case '{':
        if (open_container(ps, p, '{')) return -1;
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
            if (close_container(ps)) return -1;
            goto after;
        }
        if (p < end && *p != '"') return fail_char(ps, p, "expected a string key or '}'");
        goto key;
    case '[':
        if (open_container(ps, p, '[')) return -1;
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            if (close_container(ps)) return -1;
            goto after;
        }
        goto value;
    case '"':
        if (!(p = parse_string(ps, p, &v))) return -1;
        break;
    case 't':
        if (!(p = parse_literal(ps, p, "true", &v, VT_JSON_BOOL | TAG_TRUE))) return -1;
        break;
    case 'f':
        if (!(p = parse_literal(ps, p, "false", &v, VT_JSON_BOOL))) return -1;
        break;
    case 'n':
        if (!(p = parse_literal(ps, p, "null", &v, VT_JSON_NULL))) return -1;
        break;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        if (!(p = parse_number(ps, p, &v))) return -1;
        break;
    case ']':
        if (ps->depth && ps->frames[ps->depth - 1].kind == '[' && ps->sp > ps->frames[ps->depth - 1].start)
            return fail(ps, p, VT_EFORMAT, "trailing comma before ']'");
        return fail_char(ps, p, "expected a value");
    default:
        return fail_char(ps, p, "expected a value");
    }
    if (push(ps, &v)) return -1;

after:
    if (ps->depth == 0) goto done;
    p = skip_ws(p, end);
    if (p >= end) return fail(ps, p, VT_EFORMAT, "unexpected end of input (unclosed %s)",
                              ps->frames[ps->depth - 1].kind == '[' ? "array" : "object");
    if (ps->frames[ps->depth - 1].kind == '[') {
        if (*p == ',') {
            p++;
            goto value;
        }
        if (*p == ']') {
            p++;
            if (close_container(ps)) return -1;
            goto after;
        }
        return fail_char(ps, p, "expected ',' or ']' after an array element");
    }
    if (*p == ',') {
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') return fail(ps, p, VT_EFORMAT, "trailing comma before '}'");
        if (p < end && *p != '"') return fail_char(ps, p, "expected a string key");
        goto key;
    }
    if (*p == '}') {
        p++;
        if (close_container(ps)) return -1;
        goto after;
    }
    return fail_char(ps, p, "expected ',' or '}' after an object member");

key:
    if (p >= end) return fail(ps, p, VT_EFORMAT, "unexpected end of input (unclosed object)");
    if (!(p = parse_string(ps, p, &v))) return -1;
    if (push(ps, &v)) return -1;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return fail_char(ps, p, "expected ':' after an object key");
    p++;
    goto value;

done:
    p = skip_ws(p, end);
    if (p < end) return fail_char(ps, p, "trailing characters after the JSON value");
    return 0;
}

vt_status vt_json_parse(const char *text, size_t len, const vt_json_opts *opts, vt_json_doc **out,
                        vt_json_loc *loc, vt_err *err) {
    const char *name = opts && opts->name ? opts->name : "json";
    if (out) *out = NULL;
    if (loc) *loc = (vt_json_loc){0, 0, 0};
    if (!out || (!text && len)) return vt_err_set(err, VT_EINVAL, "%s: vt_json_parse: bad arguments", name);
    parser ps = {0};
    ps.start = (const unsigned char *)(text ? text : "");
    ps.end = ps.start + len;
    ps.max_depth = opts && opts->max_depth > 0 ? opts->max_depth : VT_JSON_DEFAULT_MAX_DEPTH;
    ps.doc = calloc(1, sizeof *ps.doc);
    if (!ps.doc) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    int rc = run_parser(&ps);
    if (rc == 0) ps.doc->root = ps.stack[0];
    free(ps.stack);
    free(ps.frames);
    if (rc == 0) {
        *out = ps.doc;
        return VT_OK;
    }
    vt_json_doc_free(ps.doc);
    if (!ps.err_at) return vt_err_set(err, ps.status, "%s: %s", name, ps.cause);
    size_t off = (size_t)(ps.err_at - ps.start), line = 1, col = 1;
    for (const unsigned char *q = ps.start; q < ps.err_at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (loc) *loc = (vt_json_loc){off, line, col};
    return vt_err_set(err, ps.status, "%s:%zu:%zu: %s (byte %zu)", name, line, col, ps.cause, off);
}

vt_status vt_json_parse_file(const char *path, const vt_json_opts *opts, vt_json_doc **out, vt_err *err) {
    if (out) *out = NULL;
    if (!path || !out) return vt_err_set(err, VT_EINVAL, "vt_json_parse_file: bad arguments");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vt_err_set(err, VT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return vt_err_set(err, VT_EIO, "%s: not a regular file%s%s", path, e ? ": " : "", e ? strerror(e) : "");
    }
    size_t size = (size_t)st.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    char *buf = NULL;
    const char *text = "";
    if (map != MAP_FAILED) {
        madvise(map, size, MADV_SEQUENTIAL);
        text = map;
    } else if (size) {
        buf = malloc(size);
        if (!buf) {
            close(fd);
            return vt_err_set(err, VT_ENOMEM, "%s: out of memory reading %zu bytes", path, size);
        }
        size_t got = 0;
        while (got < size) {
            ssize_t r = read(fd, buf + got, size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                int e = r < 0 ? errno : 0;
                free(buf);
                close(fd);
                return vt_err_set(err, VT_EIO, "%s: read failed: %s", path, e ? strerror(e) : "file shrank");
            }
            got += (size_t)r;
        }
        text = buf;
    }
    close(fd);
    vt_json_opts o = opts ? *opts : (vt_json_opts){0};
    if (!o.name) o.name = path;
    vt_status st_ = vt_json_parse(text, size, &o, out, NULL, err);
    if (map != MAP_FAILED) munmap(map, size);
    free(buf);
    return st_;
}

/* ---- accessors ---- */

static inline size_t node_len(const vt_json *v) { return (size_t)(v->tag >> TAG_LEN_SHIFT); }

vt_json_type vt_json_typeof(const vt_json *v) { return v ? (vt_json_type)(v->tag & TAG_TYPE_MASK) : VT_JSON_MISSING; }

const char *vt_json_type_name(vt_json_type t) {
    switch (t) {
    case VT_JSON_MISSING: return "missing";
    case VT_JSON_NULL: return "null";
    case VT_JSON_BOOL: return "bool";
    case VT_JSON_NUMBER: return "number";
    case VT_JSON_STRING: return "string";
    case VT_JSON_ARRAY: return "array";
    case VT_JSON_OBJECT: return "object";
    }
    return "invalid";
}

bool vt_json_is_int(const vt_json *v) { return v && (v->tag & (TAG_TYPE_MASK | TAG_INT)) == (VT_JSON_NUMBER | TAG_INT); }
bool vt_json_bool(const vt_json *v) { return v && (v->tag & (TAG_TYPE_MASK | TAG_TRUE)) == (VT_JSON_BOOL | TAG_TRUE); }

double vt_json_number(const vt_json *v) {
    if (vt_json_typeof(v) != VT_JSON_NUMBER) return 0;
    return (v->tag & TAG_INT) ? (double)v->u.i : v->u.d;
}

bool vt_json_int64(const vt_json *v, int64_t *out) {
    if (!vt_json_is_int(v)) return false;
    if (out) *out = v->u.i;
    return true;
}

bool vt_json_int64_literal(const vt_json *v, int64_t *out) {
    if (!v || (v->tag & (TAG_TYPE_MASK | TAG_INT_TEXT)) != (VT_JSON_NUMBER | TAG_INT_TEXT)) return false;
    if (out) *out = v->u.i;
    return true;
}

const char *vt_json_string(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_STRING ? v->u.s : NULL; }
size_t vt_json_string_len(const vt_json *v) { return vt_json_typeof(v) == VT_JSON_STRING ? node_len(v) : 0; }

size_t vt_json_len(const vt_json *v) {
    vt_json_type t = vt_json_typeof(v);
    return t == VT_JSON_STRING || t == VT_JSON_ARRAY || t == VT_JSON_OBJECT ? node_len(v) : 0;
}

const vt_json *vt_json_at(const vt_json *arr, size_t i) {
    if (vt_json_typeof(arr) != VT_JSON_ARRAY || i >= node_len(arr)) return NULL;
    return &arr->u.kids[i];
}

const vt_json *vt_json_getn(const vt_json *obj, const char *key, size_t key_len) {
    if (vt_json_typeof(obj) != VT_JSON_OBJECT || !key) return NULL;
    size_t n = node_len(obj);
    const vt_json *kv = obj->u.kids;
    for (size_t i = 0; i < n; i++, kv += 2)
        if (node_len(kv) == key_len && memcmp(kv->u.s, key, key_len) == 0) return kv + 1;
    return NULL;
}

const vt_json *vt_json_get(const vt_json *obj, const char *key) { return key ? vt_json_getn(obj, key, strlen(key)) : NULL; }

const vt_json *vt_json_member_key(const vt_json *obj, size_t i) {
    if (vt_json_typeof(obj) != VT_JSON_OBJECT || i >= node_len(obj)) return NULL;
    return &obj->u.kids[2 * i];
}

const vt_json *vt_json_member_value(const vt_json *obj, size_t i) {
    if (vt_json_typeof(obj) != VT_JSON_OBJECT || i >= node_len(obj)) return NULL;
    return &obj->u.kids[2 * i + 1];
}

static int key_cmp(const vt_json *a, const vt_json *b) {
    size_t la = node_len(a), lb = node_len(b);
    int c = memcmp(a->u.s, b->u.s, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

typedef struct key_ref {
    const char *s;
    size_t len, idx;
} key_ref;

static int key_ref_cmp(const void *pa, const void *pb) {
    const key_ref *a = pa, *b = pb;
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
    if (c) return c;
    if (a->len != b->len) return (a->len > b->len) - (a->len < b->len);
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static size_t find_duplicate_quadratic(const vt_json *kids, size_t n) {
    for (size_t j = 1; j < n; j++)
        for (size_t i = 0; i < j; i++)
            if (key_cmp(&kids[2 * i], &kids[2 * j]) == 0) return j;
    return SIZE_MAX;
}

/* Small objects: quadratic scan, no allocation. Large ones: sort (key, index) pairs. */
size_t vt_json_object_find_duplicate(const vt_json *obj) {
    if (vt_json_typeof(obj) != VT_JSON_OBJECT) return SIZE_MAX;
    size_t n = node_len(obj), best = SIZE_MAX;
    const vt_json *kids = obj->u.kids;
    if (n <= 32) return find_duplicate_quadratic(kids, n);
    key_ref *refs = malloc(n * sizeof *refs);
    if (!refs) return find_duplicate_quadratic(kids, n); /* slow beats failing */
    for (size_t i = 0; i < n; i++) refs[i] = (key_ref){kids[2 * i].u.s, node_len(&kids[2 * i]), i};
    qsort(refs, n, sizeof *refs, key_ref_cmp);
    for (size_t i = 1; i < n; i++)
        if (refs[i - 1].len == refs[i].len && memcmp(refs[i - 1].s, refs[i].s, refs[i].len) == 0 && refs[i].idx < best)
            best = refs[i].idx;
    free(refs);
    return best;
}

/* ---- writer ---- */

static void w_fail(vt_json_writer *w, vt_status code, const char *what) {
    if (w->status == VT_OK) {
        w->status = code;
        w->what = what;
    }
}

static bool w_reserve(vt_json_writer *w, size_t extra) {
    if (w->status != VT_OK) return false;
    if (extra < w->cap - w->len) return true; /* keeps room for the terminator */
    size_t need = w->len + extra + 1, ncap = w->cap ? w->cap : 256;
    if (need < w->len) {
        w_fail(w, VT_ENOMEM, "out of memory");
        return false;
    }
    while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *nb = realloc(w->buf, ncap);
    if (!nb) {
        w_fail(w, VT_ENOMEM, "out of memory");
        return false;
    }
    w->buf = nb;
    w->cap = ncap;
    return true;
}

static void w_put(vt_json_writer *w, const char *s, size_t n) {
    if (!w_reserve(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Emits the separator a new value needs; false if a value is not allowed here. */
static bool w_value_start(vt_json_writer *w) {
    if (w->status != VT_OK) return false;
    if (w->depth > 0 && w->stack[w->depth - 1] == '{') {
        if (!w->after_key) {
            w_fail(w, VT_ESTATE, "value written in an object without a key");
            return false;
        }
        w->after_key = false;
        w->need_comma = true;
        return true;
    }
    if (w->depth == 0 && w->len > 0 && w->need_comma) {
        w_fail(w, VT_ESTATE, "second top-level value (call vt_json_writer_reset between documents)");
        return false;
    }
    if (w->need_comma && w->depth > 0) w_put(w, ",", 1);
    w->need_comma = true;
    return w->status == VT_OK;
}

void vt_json_writer_init(vt_json_writer *w) {
    memset(w, 0, sizeof *w);
    w->status = VT_OK;
}

void vt_json_writer_free(vt_json_writer *w) {
    free(w->buf);
    vt_json_writer_init(w);
}

void vt_json_writer_reset(vt_json_writer *w) {
    char *buf = w->buf;
    size_t cap = w->cap;
    vt_json_writer_init(w);
    w->buf = buf;
    w->cap = cap;
    if (buf) buf[0] = '\0';
}

const char *vt_json_writer_str(const vt_json_writer *w, size_t *len) {
    if (len) *len = w->len;
    return w->buf ? w->buf : "";
}

vt_status vt_json_writer_status(const vt_json_writer *w, vt_err *err) {
    if (w->status != VT_OK) return vt_err_set(err, w->status, "json writer: %s", w->what);
    if (w->depth != 0 || w->after_key) return vt_err_set(err, VT_ESTATE, "json writer: document not complete");
    return VT_OK;
}

char *vt_json_writer_take(vt_json_writer *w, size_t *len) {
    if (w->status != VT_OK) return NULL;
    if (!w->buf && !w_reserve(w, 1)) return NULL;
    if (!w->len) w->buf[0] = '\0';
    char *b = w->buf;
    if (len) *len = w->len;
    vt_json_writer_init(w);
    return b;
}

static void w_open(vt_json_writer *w, char kind) {
    if (!w_value_start(w)) return;
    if (w->depth >= VT_JSON_WRITER_MAX_DEPTH) {
        w_fail(w, VT_EINVAL, "nesting deeper than VT_JSON_WRITER_MAX_DEPTH");
        return;
    }
    w_put(w, &kind, 1);
    w->stack[w->depth++] = kind;
    w->need_comma = false;
}

static void w_close(vt_json_writer *w, char kind) {
    if (w->status != VT_OK) return;
    if (w->depth == 0 || w->stack[w->depth - 1] != kind || w->after_key) {
        w_fail(w, VT_ESTATE, kind == '{' ? "unbalanced object end" : "unbalanced array end");
        return;
    }
    w_put(w, kind == '{' ? "}" : "]", 1);
    w->depth--;
    w->need_comma = true;
}

void vt_json_write_object_begin(vt_json_writer *w) { w_open(w, '{'); }
void vt_json_write_object_end(vt_json_writer *w) { w_close(w, '{'); }
void vt_json_write_array_begin(vt_json_writer *w) { w_open(w, '['); }
void vt_json_write_array_end(vt_json_writer *w) { w_close(w, '['); }

static void w_escaped(vt_json_writer *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX (6 bytes) plus the quotes. */
    if (n > (SIZE_MAX - 2) / 6) {
        w_fail(w, VT_ENOMEM, "string too long");
        return;
    }
    if (!w_reserve(w, n * 6 + 2)) return;
    char *o = w->buf + w->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void vt_json_write_keyn(vt_json_writer *w, const char *key, size_t len) {
    if (w->status != VT_OK) return;
    if (w->depth == 0 || w->stack[w->depth - 1] != '{' || w->after_key) {
        w_fail(w, VT_ESTATE, "key written outside an object or twice in a row");
        return;
    }
    if (!key) {
        w_fail(w, VT_EINVAL, "NULL key");
        return;
    }
    if (w->need_comma) w_put(w, ",", 1);
    w_escaped(w, key, len);
    w_put(w, ":", 1);
    w->after_key = true;
}

void vt_json_write_key(vt_json_writer *w, const char *key) { vt_json_write_keyn(w, key, key ? strlen(key) : 0); }

void vt_json_write_stringn(vt_json_writer *w, const char *s, size_t len) {
    if (!s) {
        vt_json_write_null(w);
        return;
    }
    if (w_value_start(w)) w_escaped(w, s, len);
}

void vt_json_write_string(vt_json_writer *w, const char *s) { vt_json_write_stringn(w, s, s ? strlen(s) : 0); }

void vt_json_write_int(vt_json_writer *w, int64_t v) {
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    if (w_value_start(w)) w_put(w, b, (size_t)n);
}

void vt_json_write_uint(vt_json_writer *w, uint64_t v) {
    char b[32];
    int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    if (w_value_start(w)) w_put(w, b, (size_t)n);
}

void vt_json_write_double(vt_json_writer *w, double v) {
    if (!isfinite(v)) {
        vt_json_write_null(w);
        return;
    }
    char b[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v) break;
    }
    for (int i = 0; i < n; i++)
        if (b[i] == ',') b[i] = '.'; /* a locale with a decimal comma must not leak into JSON */
    if (w_value_start(w)) w_put(w, b, (size_t)n);
}

void vt_json_write_bool(vt_json_writer *w, bool v) {
    if (w_value_start(w)) w_put(w, v ? "true" : "false", v ? 4 : 5);
}

void vt_json_write_null(vt_json_writer *w) {
    if (w_value_start(w)) w_put(w, "null", 4);
}

void vt_json_write_raw_value(vt_json_writer *w, const char *json, size_t len) {
    if (w_value_start(w)) w_put(w, json, len);
}

void vt_json_write_bytes(vt_json_writer *w, const char *bytes, size_t len) { w_put(w, bytes, len); }
