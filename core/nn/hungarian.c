/* Linear assignment by shortest augmenting paths with row/column potentials (Kuhn–Munkres in the O(n²m)
 * form of Jonker–Volgenant's Dijkstra phase): rows are added one at a time; each addition runs a Dijkstra
 * over reduced costs c[i][j] − u[i] − v[j] >= 0 to the nearest free column and flips the path. With n <= m
 * every row ends assigned; a taller matrix is solved transposed. Double precision throughout; the scan
 * takes the first column with the smallest distance, so ties resolve the same way on every run. */
#include "visft/hungarian.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* Solves n <= m on cost(i, j) = a[i * rs + j * cs]; writes col_of_row[n]. */
static vt_status solve(const double *a, int64_t n, int64_t m, int64_t rs, int64_t cs, int64_t *col_of_row,
                       vt_err *err) {
    /* 1-based arrays with index 0 as the virtual source column, as in the classical formulation */
    double *u = calloc((size_t)n + 1, sizeof *u), *v = calloc((size_t)m + 1, sizeof *v);
    double *minv = malloc(((size_t)m + 1) * sizeof *minv);
    int64_t *p = calloc((size_t)m + 1, sizeof *p), *way = calloc((size_t)m + 1, sizeof *way);
    unsigned char *used = malloc((size_t)m + 1);
    if (!u || !v || !minv || !p || !way || !used) {
        free(u), free(v), free(minv), free(p), free(way), free(used);
        return vt_err_set(err, VT_ENOMEM, "linear_sum_assignment: out of memory for a %lldx%lld matrix",
                          (long long)n, (long long)m);
    }
    for (int64_t i = 1; i <= n; i++) {
        p[0] = i;
        int64_t j0 = 0;
        for (int64_t j = 0; j <= m; j++) minv[j] = INFINITY, used[j] = 0;
        do {
            used[j0] = 1;
            int64_t i0 = p[j0], j1 = -1;
            double delta = INFINITY;
            const double *row = a + (i0 - 1) * rs;
            for (int64_t j = 1; j <= m; j++) {
                if (used[j]) continue;
                double cur = row[(j - 1) * cs] - u[i0] - v[j];
                if (cur < minv[j]) minv[j] = cur, way[j] = j0;
                if (j1 < 0 || minv[j] < delta) delta = minv[j], j1 = j;
            }
            for (int64_t j = 0; j <= m; j++) {
                if (used[j]) u[p[j]] += delta, v[j] -= delta;
                else minv[j] -= delta;
            }
            j0 = j1;
        } while (p[j0] != 0);
        do { /* flip the augmenting path back to the source */
            int64_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    for (int64_t j = 1; j <= m; j++)
        if (p[j]) col_of_row[p[j] - 1] = j - 1;
    free(u), free(v), free(minv), free(p), free(way), free(used);
    return VT_OK;
}

vt_status vt_linear_sum_assignment(const double *cost, int64_t n, int64_t m, int64_t *row_ind, int64_t *col_ind,
                                   double *total, vt_err *err) {
    if (total) *total = 0.0;
    if (n < 0 || m < 0 || (n > 0 && m > INT64_MAX / 8 / n) || n > (1 << 26) || m > (1 << 26))
        return vt_err_set(err, VT_EINVAL, "linear_sum_assignment: bad matrix size %lldx%lld", (long long)n,
                          (long long)m);
    if (n == 0 || m == 0) return VT_OK;
    if (!cost) return vt_err_set(err, VT_EINVAL, "linear_sum_assignment: cost is NULL");
    for (int64_t i = 0; i < n * m; i++)
        if (!isfinite(cost[i]))
            return vt_err_set(err, VT_EINVAL, "linear_sum_assignment: cost[%lld][%lld] is %g (must be finite)",
                              (long long)(i / m), (long long)(i % m), cost[i]);
    bool transposed = n > m;
    int64_t k = transposed ? m : n, other = transposed ? n : m;
    int64_t *match = malloc((size_t)k * sizeof *match);
    if (!match) return vt_err_set(err, VT_ENOMEM, "linear_sum_assignment: out of memory");
    /* transposed: the solver's rows are the matrix's columns (stride 1 between them, m along them) */
    vt_status st = transposed ? solve(cost, k, other, 1, m, match, err) : solve(cost, k, other, m, 1, match, err);
    if (st != VT_OK) {
        free(match);
        return st;
    }
    double sum = 0.0;
    if (!transposed) {
        for (int64_t i = 0; i < k; i++) {
            if (row_ind) row_ind[i] = i;
            if (col_ind) col_ind[i] = match[i];
            sum += cost[i * m + match[i]];
        }
    } else { /* match[col] = row; emit by increasing row */
        int64_t *col_of_row = malloc((size_t)n * sizeof *col_of_row);
        if (!col_of_row) {
            free(match);
            return vt_err_set(err, VT_ENOMEM, "linear_sum_assignment: out of memory");
        }
        for (int64_t i = 0; i < n; i++) col_of_row[i] = -1;
        for (int64_t j = 0; j < k; j++) col_of_row[match[j]] = j;
        int64_t t = 0;
        for (int64_t i = 0; i < n; i++) {
            if (col_of_row[i] < 0) continue;
            if (row_ind) row_ind[t] = i;
            if (col_ind) col_ind[t] = col_of_row[i];
            sum += cost[i * m + col_of_row[i]];
            t++;
        }
        free(col_of_row);
    }
    free(match);
    if (total) *total = sum;
    return VT_OK;
}
