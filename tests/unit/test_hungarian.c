/* Linear assignment: optimal cost equal to scipy's linear_sum_assignment on 3,000+ random square and
 * rectangular matrices (ties, 1e6-scale signed costs, up to 300 columns), brute force on tiny ones, a valid
 * one-to-one assignment always, deterministic ties, and errors for non-finite costs and bad sizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "visft/hungarian.h"
#include "vt_test.h"

/* splitmix64 costs exactly as tests/ref/gen_hungarian.py draws them */
static void make_costs(double *c, int64_t n, int64_t m, int kind, uint64_t seed) {
    for (int64_t i = 0; i < n * m; i++) {
        uint64_t z = seed * (1ull << 32) + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        double u = (double)(z >> 11) * 0x1p-53;
        c[i] = kind == 0 ? u : kind == 1 ? floor(5 * u) : kind == 2 ? (2 * u - 1) * 1e6 : floor(2 * u);
    }
}

/* rows strictly increasing, columns distinct and in range, k = min(n, m) pairs summing to total */
static void check_valid(const double *c, int64_t n, int64_t m, const int64_t *r, const int64_t *col, double total) {
    int64_t k = n < m ? n : m;
    char *seen = calloc((size_t)m + 1, 1);
    double sum = 0;
    for (int64_t i = 0; i < k; i++) {
        ck_assert(r[i] >= 0 && r[i] < n && col[i] >= 0 && col[i] < m);
        ck_assert(i == 0 || r[i] > r[i - 1]);
        ck_assert_msg(!seen[col[i]], "column %lld used twice", (long long)col[i]);
        seen[col[i]] = 1;
        sum += c[r[i] * m + col[i]];
    }
    free(seen);
    ck_assert(sum == total);
}

START_TEST(optimal_cost_matches_scipy) {
    vt_ctx *c = vt_test_ctx();
    vt_golden *g = vt_golden_open("hungarian.safetensors");
    vt_tensor *cases = vt_golden_get(c, g, "hungarian.cases"), *tot = vt_golden_get(c, g, "hungarian.total");
    ck_assert(cases && tot && cases->shape[1] == 4 && tot->shape[0] == cases->shape[0]);
    ck_assert(cases->shape[0] > 3000);
    const int64_t *cs = vt_i64(cases), *tb = vt_i64(tot);
    double *cost = malloc(300 * 300 * sizeof *cost);
    int64_t r[300], col[300];
    for (int64_t t = 0; t < cases->shape[0]; t++) {
        int64_t n = cs[4 * t], m = cs[4 * t + 1];
        make_costs(cost, n, m, (int)cs[4 * t + 2], (uint64_t)cs[4 * t + 3]);
        double want, got;
        memcpy(&want, &tb[t], sizeof want);
        vt_err err = {0};
        ck_assert_int_eq(vt_linear_sum_assignment(cost, n, m, r, col, &got, &err), VT_OK);
        check_valid(cost, n, m, r, col, got);
        /* summation order differs from numpy's: allow rounding, far below any gap between assignments */
        ck_assert_msg(fabs(got - want) <= 1e-9 * (1.0 + fabs(want)), "case %lld (%lldx%lld kind %lld): %.17g vs scipy %.17g",
                      (long long)t, (long long)n, (long long)m, (long long)cs[4 * t + 2], got, want);
    }
    free(cost);
    vt_golden_close(g);
    vt_ctx_destroy(c);
}
END_TEST

/* min over all injective maps of the smaller side into the larger */
static double brute(const double *c, int n, int m, int i, unsigned used) {
    if (n <= m) {
        if (i == n) return 0;
        double best = INFINITY;
        for (int j = 0; j < m; j++)
            if (!(used >> j & 1)) best = fmin(best, c[i * m + j] + brute(c, n, m, i + 1, used | 1u << j));
        return best;
    }
    if (i == m) return 0;
    double best = INFINITY;
    for (int r = 0; r < n; r++)
        if (!(used >> r & 1)) best = fmin(best, c[r * m + i] + brute(c, n, m, i + 1, used | 1u << r));
    return best;
}

START_TEST(optimal_cost_matches_brute_force_on_tiny_matrices) {
    double cost[49];
    int64_t r[7], col[7];
    uint64_t seed = 1;
    for (int n = 1; n <= 6; n++)
        for (int m = 1; m <= 6; m++)
            for (int kind = 0; kind < 4; kind++)
                for (int rep = 0; rep < 8; rep++) {
                    make_costs(cost, n, m, kind, 777 + seed++);
                    double got;
                    ck_assert_int_eq(vt_linear_sum_assignment(cost, n, m, r, col, &got, NULL), VT_OK);
                    check_valid(cost, n, m, r, col, got);
                    double want = brute(cost, n, m, 0, 0);
                    ck_assert_msg(fabs(got - want) <= 1e-9 * (1 + fabs(want)), "%dx%d kind %d: %g vs %g", n, m, kind,
                                  got, want);
                }
}
END_TEST

START_TEST(ties_resolve_deterministically) {
    double cost[4 * 6];
    for (int i = 0; i < 24; i++) cost[i] = 1.0;
    int64_t r1[4], c1[4], r2[4], c2[4];
    ck_assert_int_eq(vt_linear_sum_assignment(cost, 4, 6, r1, c1, NULL, NULL), VT_OK);
    ck_assert_int_eq(vt_linear_sum_assignment(cost, 4, 6, r2, c2, NULL, NULL), VT_OK);
    ck_assert(memcmp(c1, c2, sizeof c1) == 0 && memcmp(r1, r2, sizeof r1) == 0);
    check_valid(cost, 4, 6, r1, c1, 4.0);
}
END_TEST

START_TEST(empty_and_bad_inputs) {
    double total = 5;
    ck_assert_int_eq(vt_linear_sum_assignment(NULL, 0, 5, NULL, NULL, &total, NULL), VT_OK);
    ck_assert(total == 0.0);
    ck_assert_int_eq(vt_linear_sum_assignment(NULL, 3, 0, NULL, NULL, NULL, NULL), VT_OK);
    vt_err err = {0};
    ck_assert_int_eq(vt_linear_sum_assignment(NULL, -1, 2, NULL, NULL, NULL, &err), VT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "size"));
    double c[6] = {1, 2, 3, 4, NAN, 6};
    ck_assert_int_eq(vt_linear_sum_assignment(c, 2, 3, NULL, NULL, NULL, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "cost[1][1]") != NULL, "%s", err.msg);
    c[4] = -INFINITY;
    ck_assert_int_eq(vt_linear_sum_assignment(c, 3, 2, NULL, NULL, NULL, &err), VT_EINVAL);
    ck_assert_msg(strstr(err.msg, "cost[2][0]") != NULL, "%s", err.msg);
}
END_TEST

VT_TEST_MAIN("hungarian", optimal_cost_matches_scipy, optimal_cost_matches_brute_force_on_tiny_matrices,
             ties_resolve_deterministically, empty_and_bad_inputs)
