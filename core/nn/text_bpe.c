/* open_clip's byte-level BPE (SimpleTokenizer): vocabulary loading and encoding.
 *
 * The vocabulary is built exactly as open_clip builds it, in the same "string space": the 256 byte symbols
 * (bytes_to_unicode order), the same with "</w>", one entry per merge line (the concatenation), then
 * <start_of_text> and <end_of_text>; a string appearing twice takes its last index (Python's dict(zip())).
 * Symbols are kept as the UTF-8 of those unicode strings, so even odd files (a merge producing "x</w>" in the
 * middle of a word) behave as in Python. Encoding then works on ids: a merge is a pair of ids with a rank and
 * the id of the concatenation. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nn/text_internal.h"
#include "visft/text.h"

#define MAX_MERGES (49152 - 256 - 2)          /* open_clip reads lines 1 .. 48894 */
#define MAX_VOCAB_BYTES ((size_t)256 << 20) /* decompressed size limit: the real file is 1.4 MB */

typedef struct str_slot { const char *s; uint32_t len; int32_t id; } str_slot;
typedef struct pair_slot { uint64_t key; int32_t rank, result; } pair_slot; /* key 0: empty (ids are < 2^31) */

struct vt_bpe {
    char *arena;       /* vocabulary strings */
    size_t arena_n, arena_cap;
    str_slot *strs;    /* open addressing, string -> id */
    size_t strs_cap;
    pair_slot *pairs;  /* (id_a + 1, id_b) -> rank, result */
    size_t pairs_cap;
    int32_t byte_id[256], byte_end_id[256];
    int64_t vocab_size, sot, eot;
};

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdull, x ^= x >> 33, x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Inserts or overwrites (last wins, as Python's dict). s must live in the arena. */
static void str_put(vt_bpe *b, const char *s, uint32_t len, int32_t id) {
    size_t m = b->strs_cap - 1, i = hash_bytes(s, len) & m;
    while (b->strs[i].s && !(b->strs[i].len == len && memcmp(b->strs[i].s, s, len) == 0)) i = (i + 1) & m;
    b->strs[i].s = s, b->strs[i].len = len, b->strs[i].id = id;
}

static int32_t str_get(const vt_bpe *b, const char *s, size_t len) {
    size_t m = b->strs_cap - 1, i = hash_bytes(s, len) & m;
    while (b->strs[i].s) {
        if (b->strs[i].len == len && memcmp(b->strs[i].s, s, len) == 0) return b->strs[i].id;
        i = (i + 1) & m;
    }
    return -1;
}

static uint64_t pair_key(int32_t a, int32_t c) { return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)c; }

static void pair_put(vt_bpe *b, uint64_t key, int32_t rank, int32_t result) {
    size_t m = b->pairs_cap - 1, i = hash_u64(key) & m;
    while (b->pairs[i].key && b->pairs[i].key != key) i = (i + 1) & m;
    b->pairs[i].key = key, b->pairs[i].rank = rank, b->pairs[i].result = result;
}

static const pair_slot *pair_get(const vt_bpe *b, int32_t a, int32_t c) {
    uint64_t key = pair_key(a, c);
    size_t m = b->pairs_cap - 1, i = hash_u64(key) & m;
    while (b->pairs[i].key) {
        if (b->pairs[i].key == key) return &b->pairs[i];
        i = (i + 1) & m;
    }
    return NULL;
}

static const char *arena_add(vt_bpe *b, const char *s, size_t len) {
    /* the arena is sized up front, so pointers into it stay valid */
    if (b->arena_n + len > b->arena_cap) return NULL;
    char *p = b->arena + b->arena_n;
    memcpy(p, s, len);
    b->arena_n += len;
    return p;
}

/* ---- reading the file ---- */

/* gzip (possibly several members) or plain bytes -> malloc'd buffer. */
static vt_status read_vocab_bytes(const unsigned char *buf, size_t len, const char *name, char **out, size_t *n,
                                  vt_err *err) {
    if (len < 2 || buf[0] != 0x1f || buf[1] != 0x8b) {
        *out = malloc(len ? len : 1);
        if (!*out) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
        if (len) memcpy(*out, buf, len);
        *n = len;
        return VT_OK;
    }
    size_t cap = len * 4 + 1024, used = 0;
    char *dst = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!dst || inflateInit2(&z, 15 + 16) != Z_OK) {
        free(dst);
        return vt_err_set(err, VT_ENOMEM, "%s: cannot start gzip decompression", name);
    }
    size_t in_off = 0;
    vt_status st = VT_OK;
    for (;;) {
        if (used == cap) {
            if (cap >= MAX_VOCAB_BYTES) {
                st = vt_err_set(err, VT_EFORMAT, "%s: decompresses to more than %zu bytes", name, MAX_VOCAB_BYTES);
                break;
            }
            char *d = realloc(dst, cap * 2);
            if (!d) {
                st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
                break;
            }
            dst = d, cap *= 2;
        }
        size_t in_left = len - in_off;
        z.next_in = (Bytef *)(buf + in_off);
        z.avail_in = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
        size_t out_left = cap - used;
        z.next_out = (Bytef *)(dst + used);
        z.avail_out = out_left > 0x40000000u ? 0x40000000u : (uInt)out_left;
        uInt avail_in = z.avail_in, avail_out = z.avail_out;
        int r = inflate(&z, Z_NO_FLUSH);
        in_off += avail_in - z.avail_in;
        used += avail_out - z.avail_out;
        if (r == Z_STREAM_END) {
            if (in_off == len) break;
            if (len - in_off < 2 || buf[in_off] != 0x1f || buf[in_off + 1] != 0x8b) break; /* trailing garbage: gzip ignores it too */
            inflateReset(&z);
            continue;
        }
        if (r == Z_BUF_ERROR && in_off == len && z.avail_out > 0) {
            st = vt_err_set(err, VT_EFORMAT, "%s: truncated gzip stream at compressed byte %zu", name, in_off);
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            st = vt_err_set(err, VT_EFORMAT, "%s: corrupt gzip data near compressed byte %zu (%s)", name, in_off,
                            z.msg ? z.msg : "inflate failed");
            break;
        }
    }
    inflateEnd(&z);
    if (st != VT_OK) {
        free(dst);
        return st;
    }
    *out = dst, *n = used;
    return VT_OK;
}

/* Byte offset of the first invalid UTF-8 sequence, or len. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        unsigned c = s[i], need, lo = 0x80, hi = 0xBF;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else return i;
        for (unsigned k = 1; k <= need; k++, lo = 0x80, hi = 0xBF)
            if (i + k >= len || s[i + k] < lo || s[i + k] > hi) return i;
        i += need + 1;
    }
    return len;
}

/* Next str.split() field of line[*p .. end) (whitespace per Python's isspace); false when none is left. */
static bool next_field(const char *line, size_t end, size_t *p, size_t *fs, size_t *fe) {
    size_t i = *p;
    for (int phase = 0; phase < 2; phase++) {
        while (i < end) {
            const unsigned char *u = (const unsigned char *)line + i;
            uint32_t cp = u[0];
            size_t n = 1;
            if (cp >= 0xF0) n = 4, cp = ((cp & 7u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
            else if (cp >= 0xE0) n = 3, cp = ((cp & 15u) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
            else if (cp >= 0xC0) n = 2, cp = ((cp & 31u) << 6) | (u[1] & 0x3Fu);
            if (vt_text_py_isspace(cp) != (phase == 0)) break;
            i += n;
        }
        if (phase == 0) {
            if (i == end) return false;
            *fs = i;
        }
    }
    *fe = i, *p = i;
    return true;
}

/* bytes_to_unicode: byte -> code point, in open_clip's order (printable ones first). */
static void byte_alphabet(uint32_t order[256], uint32_t cp_of[256]) {
    int n = 0, extra = 0;
    for (int b = 0; b < 256; b++)
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) order[n++] = (uint32_t)b, cp_of[b] = (uint32_t)b;
    for (int b = 0; b < 256; b++)
        if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)))
            order[n++] = (uint32_t)b, cp_of[b] = 256u + (uint32_t)extra++;
}

static vt_status build(vt_bpe *b, const char *text, size_t len, const char *name, vt_err *err) {
    size_t bad = utf8_invalid_at((const unsigned char *)text, len);
    if (bad < len) {
        size_t line = 1;
        for (size_t i = 0; i < bad; i++) line += text[i] == '\n';
        return vt_err_set(err, VT_EFORMAT, "%s: line %zu: invalid UTF-8 at byte offset %zu", name, line, bad);
    }
    /* lines 1 .. MAX_MERGES after the header (Python: text.split('\n')[1:48895]) */
    const char *p = memchr(text, '\n', len);
    if (!p) return vt_err_set(err, VT_EFORMAT, "%s: no merges after the header line (not a BPE vocabulary?)", name);
    size_t pos = (size_t)(p - text) + 1, n_lines = 0;
    size_t *starts = malloc((MAX_MERGES + 1) * sizeof *starts);
    if (!starts) return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    while (n_lines < MAX_MERGES && pos <= len) {
        const char *e = memchr(text + pos, '\n', len - pos);
        starts[n_lines++] = pos;
        if (!e) {
            pos = len + 1;
            break;
        }
        pos = (size_t)(e - text) + 1;
    }
    starts[n_lines] = pos; /* one past the last line's newline */
    size_t cap = 1;
    while (cap < 4 * (512 + n_lines + 2)) cap *= 2;
    b->strs_cap = b->pairs_cap = cap;
    b->arena_cap = 512 * 7 + 2 * len + 64;
    b->strs = calloc(cap, sizeof *b->strs);
    b->pairs = calloc(cap, sizeof *b->pairs);
    b->arena = malloc(b->arena_cap);
    int32_t *part_len = malloc(2 * (n_lines + 1) * sizeof *part_len);
    size_t *part_off = malloc(3 * (n_lines + 1) * sizeof *part_off);
    vt_status st = VT_OK;
    if (!b->strs || !b->pairs || !b->arena || !part_len || !part_off) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    uint32_t order[256], cp_of[256];
    byte_alphabet(order, cp_of);
    for (int end = 0; end < 2; end++)
        for (int i = 0; i < 256; i++) {
            unsigned char u[8];
            int n = vt_text_utf8_put(cp_of[order[i]], u);
            if (end) memcpy(u + n, "</w>", 4), n += 4;
            const char *s = arena_add(b, (const char *)u, (size_t)n);
            str_put(b, s, (uint32_t)n, end * 256 + i);
        }
    /* merges: a line with two fields adds their concatenation; a blank one adds "" (as Python does) */
    int32_t id = 512;
    for (size_t l = 0; l < n_lines; l++, id++) {
        size_t q = starts[l], end = starts[l + 1] - 1, f[6], nf = 0; /* end: the newline, or len */
        while (nf < 6 && next_field(text, end, &q, &f[nf], &f[nf + 1])) nf += 2;
        if (nf != 0 && nf != 4) {
            st = vt_err_set(err, VT_EFORMAT, "%s: line %zu: expected two symbols \"a b\", found %zu%s", name, l + 2,
                            nf / 2, nf == 6 ? " or more" : "");
            goto done;
        }
        part_off[3 * l] = nf; /* 0 or 4: marks a real merge */
        if (nf == 0) {
            str_put(b, arena_add(b, "", 0), 0, id);
            continue;
        }
        size_t la = f[1] - f[0], lb = f[3] - f[2];
        const char *s = arena_add(b, text + f[0], la);
        arena_add(b, text + f[2], lb);
        str_put(b, s, (uint32_t)(la + lb), id);
        part_off[3 * l + 1] = f[0], part_off[3 * l + 2] = f[2];
        part_len[2 * l] = (int32_t)la, part_len[2 * l + 1] = (int32_t)lb;
    }
    size_t real = 0;
    for (size_t l = 0; l < n_lines; l++) real += part_off[3 * l] != 0;
    if (real == 0) {
        st = vt_err_set(err, VT_EFORMAT, "%s: no merges after the header line (not a BPE vocabulary?)", name);
        goto done;
    }
    b->sot = id, b->eot = id + 1, b->vocab_size = id + 2;
    str_put(b, arena_add(b, "<start_of_text>", 15), 15, id);
    str_put(b, arena_add(b, "<end_of_text>", 13), 13, id + 1);
    /* ranks by id pair, now that every string has its final id (last wins for repeated pairs too) */
    char *cat = malloc(2 * len + 1);
    if (!cat) {
        st = vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t l = 0; l < n_lines; l++) {
        if (part_off[3 * l] == 0) continue;
        size_t la = (size_t)part_len[2 * l], lb = (size_t)part_len[2 * l + 1];
        int32_t a = str_get(b, text + part_off[3 * l + 1], la), c = str_get(b, text + part_off[3 * l + 2], lb);
        if (a < 0 || c < 0) continue; /* a symbol outside the vocabulary: this merge can never apply */
        memcpy(cat, text + part_off[3 * l + 1], la);
        memcpy(cat + la, text + part_off[3 * l + 2], lb);
        pair_put(b, pair_key(a, c), (int32_t)l, str_get(b, cat, la + lb));
    }
    free(cat);
    for (int i = 0; i < 256; i++) {
        unsigned char u[8];
        int n = vt_text_utf8_put(cp_of[i], u);
        b->byte_id[i] = str_get(b, (const char *)u, (size_t)n);
        memcpy(u + n, "</w>", 4);
        b->byte_end_id[i] = str_get(b, (const char *)u, (size_t)n + 4);
    }
done:
    free(starts), free(part_len), free(part_off);
    return st;
}

void vt_bpe_free(vt_bpe *b) {
    if (!b) return;
    free(b->arena), free(b->strs), free(b->pairs);
    free(b);
}

vt_status vt_bpe_load_memory(const void *buf, size_t len, const char *name, vt_bpe **out, vt_err *err) {
    *out = NULL;
    if (!name) name = "<memory>";
    if (!buf && len) return vt_err_set(err, VT_EINVAL, "%s: NULL buffer", name);
    char *text = NULL;
    size_t n = 0;
    vt_status st = read_vocab_bytes(buf, len, name, &text, &n, err);
    if (st != VT_OK) return st;
    vt_bpe *b = calloc(1, sizeof *b);
    if (!b) {
        free(text);
        return vt_err_set(err, VT_ENOMEM, "%s: out of memory", name);
    }
    st = build(b, text, n, name, err);
    free(text);
    if (st != VT_OK) {
        vt_bpe_free(b);
        return st;
    }
    *out = b;
    return VT_OK;
}

vt_status vt_bpe_load(const char *path, vt_bpe **out, vt_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vt_err_set(err, VT_EIO, "%s: cannot open BPE vocabulary", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    vt_status st = VT_OK;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = cap > MAX_VOCAB_BYTES ? NULL : realloc(buf, cap);
            if (!nb) {
                st = vt_err_set(err, cap > MAX_VOCAB_BYTES ? VT_EFORMAT : VT_ENOMEM, "%s: file too large for a BPE vocabulary", path);
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) st = vt_err_set(err, VT_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == VT_OK) st = vt_bpe_load_memory(buf, n, path, out, err);
    free(buf);
    return st;
}

int64_t vt_bpe_vocab_size(const vt_bpe *b) { return b->vocab_size; }
int64_t vt_bpe_sot_id(const vt_bpe *b) { return b->sot; }
int64_t vt_bpe_eot_id(const vt_bpe *b) { return b->eot; }

/* ---- encoding ---- */

static bool exact_special(const uint32_t *s, size_t n) {
    const char *lit = n == 15 ? "<start_of_text>" : "<end_of_text>";
    for (size_t i = 0; i < n; i++)
        if (s[i] != (uint32_t)(unsigned char)lit[i]) return false;
    return true;
}

/* BPE of one pre-token given as UTF-8 bytes: word holds the ids, returns the new length. */
static size_t bpe_word(const vt_bpe *b, int32_t *w, size_t n) {
    while (n > 1) {
        int32_t best = INT32_MAX, a = 0, c = 0, result = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            const pair_slot *p = pair_get(b, w[i], w[i + 1]);
            if (p && p->rank < best) best = p->rank, a = w[i], c = w[i + 1], result = p->result;
        }
        if (best == INT32_MAX) break;
        size_t o = 0;
        for (size_t i = 0; i < n;) {
            if (i + 1 < n && w[i] == a && w[i + 1] == c) w[o++] = result, i += 2;
            else w[o++] = w[i++];
        }
        n = o;
    }
    return n;
}

vt_status vt_bpe_encode(const vt_bpe *b, const char *text, size_t len, int64_t *ids, size_t cap, size_t *n,
                        vt_err *err) {
    *n = 0;
    if (!b || (!text && len)) return vt_err_set(err, VT_EINVAL, "bpe: NULL tokenizer or text");
    vt_u32buf cps = {0};
    if (vt_text_clean(text, len, &cps) != VT_OK) {
        free(cps.v);
        return vt_err_set(err, VT_ENOMEM, "bpe: out of memory cleaning a %zu-byte text", len);
    }
    int32_t *word = NULL;
    size_t word_cap = 0, count = 0;
    vt_status st = VT_OK;
    for (size_t i = 0; i < cps.n && count < cap;) {
        int special;
        size_t tl = vt_text_next_token(cps.v, cps.n, i, &special);
        if (tl == 0) {
            i++;
            continue;
        }
        if (special && exact_special(cps.v + i, tl)) { /* else e.g. "<ſtart_of_text>": BPE'd as text, as Python */
            ids[count++] = special == 1 ? b->sot : b->eot;
            i += tl;
            continue;
        }
        if (word_cap < 4 * tl) {
            word_cap = 4 * tl;
            int32_t *nw = realloc(word, word_cap * sizeof *nw);
            if (!nw) {
                st = vt_err_set(err, VT_ENOMEM, "bpe: out of memory");
                break;
            }
            word = nw;
        }
        size_t wn = 0;
        for (size_t k = i; k < i + tl; k++) {
            unsigned char u[4];
            int m = vt_text_utf8_put(cps.v[k], u);
            for (int q = 0; q < m; q++) word[wn++] = b->byte_id[u[q]];
        }
        unsigned char last[4];
        int lm = vt_text_utf8_put(cps.v[i + tl - 1], last);
        word[wn - 1] = b->byte_end_id[last[lm - 1]];
        wn = bpe_word(b, word, wn);
        for (size_t k = 0; k < wn && count < cap; k++) ids[count++] = word[k];
        i += tl;
    }
    free(word);
    free(cps.v);
    *n = count;
    return st;
}

vt_status vt_bpe_tokenize(const vt_bpe *b, const char *text, size_t len, int64_t context_length, int64_t *out,
                          vt_err *err) {
    if (context_length < 1) return vt_err_set(err, VT_EINVAL, "bpe: context length %lld must be at least 1", (long long)context_length);
    memset(out, 0, (size_t)context_length * sizeof *out);
    if (context_length == 1) { /* [SOT, ..., EOT][:1] with its last slot set to EOT */
        out[0] = b->eot;
        return VT_OK;
    }
    size_t n = 0;
    vt_status st = vt_bpe_encode(b, text, len, out + 1, (size_t)context_length - 1, &n, err);
    if (st != VT_OK) return st;
    out[0] = b->sot;
    out[n + 1 < (size_t)context_length ? n + 1 : (size_t)context_length - 1] = b->eot;
    return VT_OK;
}

vt_tensor *vt_bpe_tokenize_batch(vt_ctx *c, const vt_bpe *b, const char *const *texts, int64_t n,
                                 int64_t context_length) {
    if (!vt_ctx_ok(c)) return NULL;
    if (!b || !texts || n < 0 || context_length < 1) {
        vt_ctx_fail(c, VT_EINVAL, "bpe: tokenize_batch needs a tokenizer, texts and a positive context length");
        return NULL;
    }
    vt_tensor *t = vt_zeros(c, VT_I64, VT_SHAPE(n, context_length));
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++) {
        vt_err err = {0};
        const char *s = texts[i] ? texts[i] : "";
        if (vt_bpe_tokenize(b, s, strlen(s), context_length, vt_i64(t) + i * context_length, &err) != VT_OK) {
            vt_ctx_fail(c, err.code, "bpe: text %lld: %s", (long long)i, err.msg);
            return NULL;
        }
    }
    return t;
}
