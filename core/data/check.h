/* `visft data check`: reads every sample of an opened dataset, decoding each image, and reports counts
 * (images, annotations, captions, categories) and problems (missing files, corrupt files, invalid
 * annotations). Internal to the CLI and tests; datasets are reached through their vtable only. */
#ifndef VISFT_CORE_DATA_CHECK_H
#define VISFT_CORE_DATA_CHECK_H

#include <stdio.h>

#include "visft/error.h"
#include "visft/plugin.h"

typedef struct vt_data_check_report {
    size_t samples;      /* the dataset's length */
    size_t images;       /* samples that loaded */
    size_t annotations;  /* instances over the loaded samples */
    size_t captions;
    size_t categories;   /* distinct category ids of the instances */
    size_t classes;      /* distinct class labels (samples with label >= 0) */
    size_t missing;      /* sample failed: its file does not exist / cannot be opened */
    size_t corrupt;      /* sample failed: its file is truncated or malformed */
    size_t invalid;      /* sample failed for its annotations, or an instance is invalid */
} vt_data_check_report;

/* Checks every sample of (vt, ds); prints one line per problem (the first `max_list` of each kind, then a
 * count) and a summary to out, each line prefixed by `label`. Fails only when the host fails (out of
 * memory); problems with the data are counted in *rep. */
vt_status vt_data_check(const vt_dataset_vtable *vt, void *ds, const char *label, size_t max_list, FILE *out,
                        vt_data_check_report *rep, vt_err *err);

/* Problems found (missing + corrupt + invalid). */
size_t vt_data_check_problems(const vt_data_check_report *rep);

#endif
