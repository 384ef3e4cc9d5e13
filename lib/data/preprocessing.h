/* preprocessing.h - the ct-convert options that change pixels, read back from a provenance chain.
 *
 * A model is only valid on images prepared the way its training images were (window, fit,
 * lung options, format equalisation, ...). Every file records its chain of runs
 * (dataset.h: /provenance), so the options can be recovered from a model, a features file or
 * an images file and compared: ct-score refuses features prepared otherwise than the model's
 * training images, and `ct-info --preprocessing MODEL` prints them for pipelines/predict.mk. */
#ifndef CT_PREPROCESSING_H
#define CT_PREPROCESSING_H

#include <stdint.h>

/* The pixel-changing options of the first ct-convert run in a provenance chain (lines: JSON
 * objects as dataset.h reads them), in a fixed order, options at their defaults left out:
 * e.g. "--window lung --equalise 320:75", or "" when all are defaults. The size is not among
 * them (each backbone has its own). When the chain's features were pooled over the lung field
 * (ct-features --pool lung-avg / lung-max), "--lung-mask" is appended: new images need their
 * lung field too (pipelines/model.mk converts them with these options). Returns 1 and *args (malloc'd) when the chain holds a
 * ct-convert run, 0 and *args = NULL when it holds none (a stage of the user's own) or its
 * first ct-convert entry records no params, -1 on an entry that is not JSON, a param of the
 * wrong type, or out of memory. */
int ct_preprocessing_args(char *const *lines, int64_t n, char **args);

/* Compare the images behind a model with those behind the data it is applied to: the ct-convert
 * options (unless either chain has no ct-convert run: nothing to compare), and, when both
 * chains hold a ct-features run (a features file, not an images file), whether the features
 * were pooled over the lung field. Returns 0 when they agree, -1 with an error "images prepared
 * with 'A', the model's with 'B'" or "features pooled over X, the model's training features
 * over Y" otherwise. */
int ct_preprocessing_check(char *const *model_prov, int64_t nmodel, char *const *data_prov, int64_t ndata);

#endif
