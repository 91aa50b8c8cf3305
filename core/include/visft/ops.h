/* All of visft's differentiable ops. Every op takes the context first, returns a tensor owned by the
 * current scope, records autograd when needed, and on bad input returns NULL with a ctx error that names the
 * op, the shapes and the dtypes. See context.h for the error chaining rule. */
#ifndef VISFT_OPS_H
#define VISFT_OPS_H

#include "visft/ops_elementwise.h"
#include "visft/ops_shape.h"
#include "visft/ops_reduce.h"
#include "visft/ops_matmul.h"
#include "visft/ops_conv.h"
#include "visft/ops_resample.h"
#include "visft/ops_norm.h"
#include "visft/ops_loss.h"
#include "visft/ops_attention.h"
#include "visft/ops_index.h"
#include "visft/ops_random.h"

#endif
