/* The threaded loader against an in-test fake dataset: order and randomness independent of workers, exact
 * resume, per-epoch permutations, sharding, drop_last, and the skip / fail policies for bad samples. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "visft/loader.h"
#include "visft/rng.h"
#include "vt_test.h"

/* ---- fake dataset: sample i is a 2x2 image, image_id i; indices in `bad` fail like a corrupt file -------- */

typedef struct fake_ds {
    size_t n;
    const size_t *bad;
    size_t n_bad;
    size_t fatal_at; /* index that fails with VT_ENOMEM (SIZE_MAX: none) */
    bool jitter;     /* sleep a little per sample, so workers finish out of order */
} fake_ds;

static size_t fake_length(void *self) { return ((fake_ds *)self)->n; }

static vt_status fake_sample(void *self, size_t index, struct vt_sample *s, vt_err *err) {
    fake_ds *d = self;
    if (index >= d->n) return vt_err_set(err, VT_EINVAL, "fake: index %zu out of range", index);
    if (d->jitter) usleep((useconds_t)((index * 7919) % 5) * 100);
    if (index == d->fatal_at) return vt_err_set(err, VT_ENOMEM, "fake: out of memory");
    for (size_t i = 0; i < d->n_bad; i++)
        if (d->bad[i] == index) return vt_err_set(err, VT_EFORMAT, "fake/%zu.jpg: truncated JPEG", index);
    vt_status st = vt_sample_new_image(s, 2, 2, err);
    if (st != VT_OK) return st;
    memset(s->image.data, (int)(index & 0xFF), 12);
    s->image_id = (int64_t)index;
    return VT_OK;
}

static const vt_dataset_vtable fake_vtable = {
    .struct_size = sizeof(vt_dataset_vtable), .length = fake_length, .sample = fake_sample};

/* ---- hooks: the transform stores a draw from the sample's seed in label; collate records (id, label) ---- */

typedef struct fake_batch {
    size_t n;
    int64_t ids[64];
    int64_t labels[64];
} fake_batch;

static vt_status fake_transform(void *user, int worker, vt_sample *s, uint64_t seed, uint64_t epoch,
                                uint64_t index, vt_err *err) {
    s->label = (int64_t)(vt_rng_u32(vt_loader_sample_seed(seed, epoch, index), 0, 0) & 0xFFFF);
    return VT_OK;
}

static vt_status fake_collate(void *user, int worker, vt_sample *const *samples, size_t n, void **out,
                              vt_err *err) {
    fake_batch *b = calloc(1, sizeof *b);
    if (!b) return vt_err_set(err, VT_ENOMEM, "oom");
    b->n = n;
    for (size_t i = 0; i < n && i < 64; i++) {
        b->ids[i] = samples[i]->image_id;
        b->labels[i] = samples[i]->label;
    }
    *out = b;
    return VT_OK;
}

static vt_loader_opts fake_opts(int workers, int64_t batch) {
    vt_loader_opts o = vt_loader_defaults();
    o.workers = workers;
    o.batch_size = batch;
    o.seed = 1234;
    o.hooks.transform = fake_transform;
    o.hooks.collate = fake_collate;
    return o;
}

/* Runs the loader for `count` batches, appending every (id, label) to ids/labels; returns samples seen. */
static size_t drain(vt_loader *L, size_t count, int64_t *ids, int64_t *labels) {
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        void *vb;
        vt_err err = {0};
        ck_assert_int_eq(vt_loader_next(L, &vb, NULL, &err), VT_OK);
        ck_assert_ptr_nonnull(vb);
        fake_batch *b = vb;
        for (size_t j = 0; j < b->n; j++, k++) {
            ids[k] = b->ids[j];
            if (labels) labels[k] = b->labels[j];
        }
        vt_loader_release(L, vb);
    }
    return k;
}

static vt_loader *make(fake_ds *d, const vt_loader_opts *o) {
    vt_loader *L = NULL;
    vt_err err = {0};
    ck_assert_msg(vt_loader_create(&fake_vtable, d, o, &L, &err) == VT_OK, "%s", err.msg);
    return L;
}

START_TEST(test_perm_is_a_permutation_that_changes_per_epoch) {
    const uint64_t sizes[] = {1, 2, 3, 7, 64, 100, 1000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        uint64_t n = sizes[si];
        uint8_t *seen = calloc(n, 1);
        uint64_t *e0 = calloc(n, sizeof *e0);
        uint64_t same = 0;
        for (uint64_t e = 0; e < 2; e++) {
            memset(seen, 0, n);
            for (uint64_t i = 0; i < n; i++) {
                uint64_t p = vt_loader_perm(42, e, n, i);
                ck_assert_uint_lt(p, n);
                ck_assert_msg(!seen[p], "n=%llu epoch %llu: %llu twice", (unsigned long long)n,
                              (unsigned long long)e, (unsigned long long)p);
                seen[p] = 1;
                if (e == 0) e0[i] = p;
                else same += e0[i] == p;
            }
        }
        if (n >= 64) ck_assert_msg(same < n / 8, "n=%llu: epochs 0 and 1 agree on %llu places",
                                   (unsigned long long)n, (unsigned long long)same);
        free(seen);
        free(e0);
    }
    /* Different seeds give different orders; the same seed the same one. */
    ck_assert_uint_ne(vt_loader_perm(1, 0, 1000, 5) + 1000 * vt_loader_perm(1, 0, 1000, 6),
                      vt_loader_perm(2, 0, 1000, 5) + 1000 * vt_loader_perm(2, 0, 1000, 6));
    ck_assert_uint_eq(vt_loader_perm(9, 3, 1000, 17), vt_loader_perm(9, 3, 1000, 17));
}
END_TEST

START_TEST(test_same_batches_with_0_1_and_4_workers) {
    fake_ds d = {.n = 103, .fatal_at = SIZE_MAX, .jitter = true};
    enum { NB = 40 }; /* over three epochs of 13 batches */
    int64_t ids[3][NB * 8], labels[3][NB * 8];
    const int workers[3] = {0, 1, 4};
    size_t k[3];
    for (int w = 0; w < 3; w++) {
        vt_loader_opts o = fake_opts(workers[w], 8);
        o.prefetch = w == 2 ? 3 : 0;
        vt_loader *L = make(&d, &o);
        ck_assert_uint_eq(vt_loader_batches_per_epoch(L), 13);
        k[w] = drain(L, NB, ids[w], labels[w]);
        vt_loader_destroy(L);
    }
    ck_assert_uint_eq(k[0], k[1]);
    ck_assert_uint_eq(k[0], k[2]);
    ck_assert_mem_eq(ids[0], ids[1], k[0] * sizeof(int64_t));
    ck_assert_mem_eq(ids[0], ids[2], k[0] * sizeof(int64_t));
    ck_assert_mem_eq(labels[0], labels[2], k[0] * sizeof(int64_t));
    /* Each epoch visits every index once (epoch 0 is the first 103 samples). */
    uint8_t seen[103] = {0};
    for (size_t i = 0; i < 103; i++) seen[ids[0][i]]++;
    for (size_t i = 0; i < 103; i++) ck_assert_int_eq(seen[i], 1);
    /* Shuffled, and differently in epoch 1; randomness differs per epoch for the same index. */
    ck_assert(memcmp(ids[0], ids[0] + 103, 103 * sizeof(int64_t)) != 0);
    size_t ordered = 0;
    for (size_t i = 0; i < 103; i++) ordered += ids[0][i] == (int64_t)i;
    ck_assert_uint_lt(ordered, 20);
}
END_TEST

START_TEST(test_no_shuffle_is_in_order_and_drop_last_cuts_short_batch) {
    fake_ds d = {.n = 10, .fatal_at = SIZE_MAX};
    vt_loader_opts o = fake_opts(2, 4);
    o.shuffle = false;
    o.epochs = 1;
    vt_loader *L = make(&d, &o);
    int64_t ids[16];
    size_t k = drain(L, 3, ids, NULL);
    ck_assert_uint_eq(k, 10);
    for (size_t i = 0; i < 10; i++) ck_assert_int_eq(ids[i], (int64_t)i);
    void *b = (void *)1;
    vt_err err = {0};
    ck_assert_int_eq(vt_loader_next(L, &b, NULL, &err), VT_OK);
    ck_assert_ptr_null(b); /* end of the only epoch */
    vt_loader_destroy(L);

    o.drop_last = true;
    L = make(&d, &o);
    ck_assert_uint_eq(vt_loader_batches_per_epoch(L), 2);
    ck_assert_uint_eq(drain(L, 2, ids, NULL), 8);
    ck_assert_int_eq(vt_loader_next(L, &b, NULL, &err), VT_OK);
    ck_assert_ptr_null(b);
    vt_loader_destroy(L);
}
END_TEST

START_TEST(test_resume_from_saved_position_gives_same_following_batches) {
    fake_ds d = {.n = 50, .fatal_at = SIZE_MAX, .jitter = true};
    vt_loader_opts o = fake_opts(3, 6); /* 9 batches per epoch */
    int64_t ref_ids[30 * 6], ref_labels[30 * 6], ids[30 * 6], labels[30 * 6];
    vt_loader *L = make(&d, &o);
    size_t k1 = drain(L, 13, ref_ids, ref_labels); /* into epoch 1 */
    vt_loader_position pos = vt_loader_tell(L);
    ck_assert_uint_eq(pos.epoch, 1);
    ck_assert_uint_eq(pos.batch, 4);
    size_t k2 = drain(L, 12, ref_ids + k1, ref_labels + k1);
    vt_loader_destroy(L);

    /* A fresh loader (other worker count) seeked to the saved position. */
    o.workers = 1;
    L = make(&d, &o);
    void *first;
    vt_err err = {0};
    ck_assert_int_eq(vt_loader_next(L, &first, NULL, &err), VT_OK); /* prefetch has started elsewhere */
    vt_loader_release(L, first);
    ck_assert_int_eq(vt_loader_seek(L, pos, &err), VT_OK);
    vt_loader_position got;
    void *vb;
    ck_assert_int_eq(vt_loader_next(L, &vb, &got, &err), VT_OK);
    ck_assert_uint_eq(got.epoch, 1);
    ck_assert_uint_eq(got.batch, 4);
    fake_batch *b = vb;
    memcpy(ids, b->ids, b->n * sizeof(int64_t));
    memcpy(labels, b->labels, b->n * sizeof(int64_t));
    size_t n0 = b->n;
    vt_loader_release(L, vb);
    size_t k3 = n0 + drain(L, 11, ids + n0, labels + n0);
    ck_assert_uint_eq(k3, k2);
    ck_assert_mem_eq(ids, ref_ids + k1, k2 * sizeof(int64_t));
    ck_assert_mem_eq(labels, ref_labels + k1, k2 * sizeof(int64_t));

    /* A position from other settings, or out of range, is refused. */
    vt_loader_position bad = pos;
    bad.fingerprint ^= 1;
    ck_assert_int_eq(vt_loader_seek(L, bad, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "other loader settings"));
    bad = pos;
    bad.batch = 9;
    ck_assert_int_eq(vt_loader_seek(L, bad, &err), VT_EINVAL);
    vt_loader_destroy(L);

    vt_loader_opts o2 = fake_opts(1, 6);
    o2.seed = 99;
    L = make(&d, &o2);
    ck_assert_int_eq(vt_loader_seek(L, pos, &err), VT_EINVAL);
    vt_loader_destroy(L);
}
END_TEST

static void shard_ids(fake_ds *d, int world, int rank, bool even, int64_t *ids, size_t *n) {
    vt_loader_opts o = fake_opts(2, 4);
    o.world_size = world;
    o.rank = rank;
    o.even_shards = even;
    o.epochs = 1;
    vt_loader *L = make(d, &o);
    *n = drain(L, vt_loader_batches_per_epoch(L), ids, NULL);
    ck_assert_uint_eq(*n, vt_loader_samples_per_epoch(L));
    vt_loader_destroy(L);
}

START_TEST(test_shards_partition_the_indices) {
    int64_t ids[40];
    size_t n;
    for (int even = 0; even < 2; even++) {
        fake_ds d = {.n = even ? 24 : 23, .fatal_at = SIZE_MAX};
        int count[24] = {0};
        size_t total = 0;
        for (int r = 0; r < 3; r++) {
            shard_ids(&d, 3, r, even, ids, &n);
            for (size_t i = 0; i < n; i++) count[ids[i]]++;
            total += n;
        }
        ck_assert_uint_eq(total, d.n);
        for (size_t i = 0; i < d.n; i++) ck_assert_msg(count[i] == 1, "index %zu seen %d times", i, count[i]);
    }
    /* Even shards of 23 over 3 ranks: 8 each, one index repeated (DistributedSampler's padding). */
    fake_ds d = {.n = 23, .fatal_at = SIZE_MAX};
    int count[23] = {0};
    for (int r = 0; r < 3; r++) {
        shard_ids(&d, 3, r, true, ids, &n);
        ck_assert_uint_eq(n, 8);
        for (size_t i = 0; i < n; i++) count[ids[i]]++;
    }
    int twice = 0;
    for (int i = 0; i < 23; i++) {
        ck_assert_int_ge(count[i], 1);
        twice += count[i] == 2;
    }
    ck_assert_int_eq(twice, 1);
}
END_TEST

START_TEST(test_skip_policy_counts_bad_samples) {
    const size_t bad[] = {3, 8, 9, 10, 11};
    fake_ds d = {.n = 20, .bad = bad, .n_bad = 5, .fatal_at = SIZE_MAX};
    vt_loader_opts o = fake_opts(2, 4);
    o.shuffle = false;
    o.epochs = 1;
    vt_loader *L = make(&d, &o);
    int64_t ids[20];
    size_t k = 0;
    void *vb;
    vt_err err = {0};
    size_t batches = 0;
    while (vt_loader_next(L, &vb, NULL, &err) == VT_OK && vb) {
        fake_batch *b = vb;
        for (size_t j = 0; j < b->n; j++) ids[k++] = b->ids[j];
        batches++;
        vt_loader_release(L, vb);
    }
    ck_assert_uint_eq(k, 15);
    ck_assert_uint_eq(batches, 4); /* batch 2 (8..11) was all bad and is stepped over */
    ck_assert_int_eq(ids[3], 4);
    vt_loader_stats s = vt_loader_get_stats(L);
    ck_assert_uint_eq(s.bad_samples, 5);
    ck_assert_uint_eq(s.samples, 15);
    const char *lines[VT_LOADER_MAX_BAD_LOG];
    ck_assert_uint_eq(vt_loader_bad_log(L, lines, VT_LOADER_MAX_BAD_LOG), 5);
    ck_assert_str_eq(lines[0], "sample 3: fake/3.jpg: truncated JPEG");
    char buf[2048] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    vt_loader_summary(L, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "skipped 5 bad samples"));
    vt_loader_destroy(L);
}
END_TEST

START_TEST(test_fail_policy_stops_at_the_bad_batch) {
    const size_t bad[] = {6};
    fake_ds d = {.n = 20, .bad = bad, .n_bad = 1, .fatal_at = SIZE_MAX};
    for (int workers = 0; workers <= 3; workers += 3) {
        vt_loader_opts o = fake_opts(workers, 4);
        o.shuffle = false;
        o.on_bad = VT_LOADER_FAIL;
        vt_loader *L = make(&d, &o);
        void *vb;
        vt_err err = {0};
        ck_assert_int_eq(vt_loader_next(L, &vb, NULL, &err), VT_OK);
        vt_loader_release(L, vb);
        ck_assert_int_eq(vt_loader_next(L, &vb, NULL, &err), VT_EFORMAT);
        ck_assert_ptr_null(vb);
        ck_assert_str_eq(err.msg, "loader: epoch 0 batch 1, sample 6: fake/6.jpg: truncated JPEG");
        ck_assert_int_eq(vt_loader_next(L, &vb, NULL, &err), VT_EFORMAT); /* stays failed */
        vt_loader_destroy(L);
    }
    /* A host failure stops the loader even under skip. */
    fake_ds d2 = {.n = 20, .fatal_at = 13};
    vt_loader_opts o = fake_opts(2, 4);
    o.shuffle = false;
    vt_loader *L = make(&d2, &o);
    int64_t ids[20];
    drain(L, 3, ids, NULL);
    void *vb;
    vt_err err = {0};
    ck_assert_int_eq(vt_loader_next(L, &vb, NULL, &err), VT_ENOMEM);
    vt_loader_destroy(L);
}
END_TEST

START_TEST(test_destroy_frees_held_and_prefetched_batches) {
    fake_ds d = {.n = 64, .fatal_at = SIZE_MAX};
    vt_loader_opts o = fake_opts(4, 4);
    o.prefetch = 8;
    vt_loader *L = make(&d, &o);
    void *held[3];
    vt_err err = {0};
    for (int i = 0; i < 3; i++) ck_assert_int_eq(vt_loader_next(L, &held[i], NULL, &err), VT_OK);
    vt_loader_release(L, held[1]);
    vt_loader_destroy(L); /* held[0], held[2] and the prefetched ones: ASan reports a leak if not freed */
}
END_TEST

START_TEST(test_bad_options_are_refused) {
    fake_ds d = {.n = 5, .fatal_at = SIZE_MAX};
    vt_loader *L = NULL;
    vt_err err = {0};
    vt_loader_opts o = fake_opts(1, 0);
    ck_assert_int_eq(vt_loader_create(&fake_vtable, &d, &o, &L, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "batch_size"));
    o = fake_opts(1, 8);
    o.drop_last = true;
    ck_assert_int_eq(vt_loader_create(&fake_vtable, &d, &o, &L, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "make no batch"));
    o = fake_opts(1, 2);
    o.rank = 2;
    o.world_size = 2;
    ck_assert_int_eq(vt_loader_create(&fake_vtable, &d, &o, &L, &err), VT_EINVAL);
    o = fake_opts(1, 2);
    o.hooks.collate = NULL;
    ck_assert_int_eq(vt_loader_create(&fake_vtable, &d, &o, &L, &err), VT_EINVAL);
    o = fake_opts(-1, 2);
    ck_assert_int_eq(vt_loader_create(&fake_vtable, &d, &o, &L, &err), VT_EINVAL);
    fake_ds empty = {.n = 0, .fatal_at = SIZE_MAX};
    o = fake_opts(1, 2);
    ck_assert_int_eq(vt_loader_create(&fake_vtable, &empty, &o, &L, &err), VT_EINVAL);
    ck_assert_ptr_null(L);
}
END_TEST

VT_TEST_MAIN("loader", test_perm_is_a_permutation_that_changes_per_epoch, test_same_batches_with_0_1_and_4_workers,
             test_no_shuffle_is_in_order_and_drop_last_cuts_short_batch,
             test_resume_from_saved_position_gives_same_following_batches, test_shards_partition_the_indices,
             test_skip_policy_counts_bad_samples, test_fail_policy_stops_at_the_bad_batch,
             test_destroy_frees_held_and_prefetched_batches, test_bad_options_are_refused)
