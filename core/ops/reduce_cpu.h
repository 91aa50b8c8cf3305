/* CPU kernels of the reduce family that live outside reduce_cpu.c (which holds the family's table). */
#ifndef VISFT_CORE_REDUCE_CPU_H
#define VISFT_CORE_REDUCE_CPU_H

#include "ops/reduce_kernels.h"

/* softmax_cpu.c */
void vt_cpu_softmax(vt_ctx *c, const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log);
void vt_cpu_softmax_backward(vt_ctx *c, const float *y, const float *gy, float *gx, int64_t outer, int64_t n,
                             int64_t inner, bool log);

#endif
