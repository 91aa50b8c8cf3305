/* Umbrella header: everything a program embedding visft or a plugin author needs. */
#ifndef VISFT_VISFT_H
#define VISFT_VISFT_H

#include "visft/autograd.h"
#include "visft/batch.h"
#include "visft/config.h"
#include "visft/coco_mask.h"
#include "visft/context.h"
#include "visft/data.h"
#include "visft/dtype.h"
#include "visft/error.h"
#include "visft/experiment.h"
#include "visft/json.h"
#include "visft/loader.h"
#include "visft/model.h"
#include "visft/nn.h"
#include "visft/ops.h"
#include "visft/optim.h"
#include "visft/params.h"
#include "visft/pipeline.h"
#include "visft/plugin.h"
#include "visft/registry.h"
#include "visft/rng.h"
#include "visft/safetensors.h"
#include "visft/tensor.h"
#include "visft/text.h"

#endif
