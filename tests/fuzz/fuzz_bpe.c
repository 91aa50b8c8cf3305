/* libFuzzer target for the CLIP BPE tokenizer. The first byte picks what the rest is:
 *   even: text to tokenize (any bytes; invalid UTF-8 included) with a small vocabulary, checking the
 *         output: SOT first, an EOT, every id inside the vocabulary;
 *   odd:  a vocabulary file (gzip or plain) to load, then tokenize a fixed text with when it loads. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "visft/text.h"

/* A few merges keep the target self-contained (the seed corpus holds the full tiny test vocabulary). */
static const char kVocab[] = "#version: fuzz\nt h\nth e</w>\na </w>\np h\no t\nph ot\nphot o</w>\nc a\nca t</w>\n' s</w>\n1 2\n";

/* SOT first (unless the context is 1), every id inside the vocabulary, an EOT somewhere. (Zero is both the
 * padding and the id of "!", and a text may spell <end_of_text>, so nothing stricter holds in general.) */
static void check(const vt_bpe *b, const int64_t *ids, int64_t ctx) {
    if (ctx > 1 && ids[0] != vt_bpe_sot_id(b)) abort();
    bool eot = false;
    for (int64_t i = 0; i < ctx; i++) {
        if (ids[i] < 0 || ids[i] >= vt_bpe_vocab_size(b)) abort();
        eot |= ids[i] == vt_bpe_eot_id(b);
    }
    if (!eot) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static vt_bpe *tiny;
    vt_err err;
    if (!tiny && vt_bpe_load_memory(kVocab, sizeof kVocab - 1, "fuzz", &tiny, &err) != VT_OK) abort();
    if (size == 0) return 0;
    int64_t ids[VT_CLIP_CONTEXT_LENGTH];
    if (data[0] % 2 == 0) {
        int64_t ctx = 1 + data[0] % VT_CLIP_CONTEXT_LENGTH;
        if (vt_bpe_tokenize(tiny, (const char *)data + 1, size - 1, ctx, ids, &err) != VT_OK) abort();
        check(tiny, ids, ctx);
        return 0;
    }
    vt_bpe *b = NULL;
    if (vt_bpe_load_memory(data + 1, size - 1, "fuzz-vocab", &b, &err) == VT_OK) {
        static const char text[] = "The cat's photo, 12 &amp; <end_of_text> caf\xc3\xa9 \xf0\x9f\x98\x80";
        if (vt_bpe_tokenize(b, text, sizeof text - 1, VT_CLIP_CONTEXT_LENGTH, ids, &err) != VT_OK) abort();
        check(b, ids, VT_CLIP_CONTEXT_LENGTH);
        vt_bpe_free(b);
    } else if (!err.msg[0]) {
        abort(); /* every failure says why */
    }
    return 0;
}
