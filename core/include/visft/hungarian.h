/* Exact minimum-cost linear assignment (the Hungarian problem) for rectangular cost matrices, as
 * scipy.optimize.linear_sum_assignment: DETR's matcher pairs queries with ground-truth boxes with it.
 * Plain C on host memory in double precision; no tensors, no context. */
#ifndef VISFT_HUNGARIAN_H
#define VISFT_HUNGARIAN_H

#include <stdint.h>

#include "visft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cost is row-major n×m (n, m >= 0). Assigns k = min(n, m) pairs (row_ind[i], col_ind[i]), each row and each
 * column used at most once, minimising the summed cost; pairs come sorted by row, as scipy returns them.
 * row_ind / col_ind hold k entries each (either may be NULL); *total (may be NULL) gets the optimal cost.
 * Ties are broken deterministically (lowest column index first during each augmentation). A NaN or infinite
 * cost is an error naming its position; so is n or m negative or too large. */
vt_status vt_linear_sum_assignment(const double *cost, int64_t n, int64_t m, int64_t *row_ind, int64_t *col_ind,
                                   double *total, vt_err *err);

#ifdef __cplusplus
}
#endif
#endif
