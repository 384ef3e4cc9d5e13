/* ft_cv.h - k-fold cross-validation of fine-tuning (ct-finetune --finetune --cv K): each fold
 * is fine-tuned as a split would be (finetune.h: the head on the pretrained features, then the
 * joint epochs, early stopping on the held-out fold with the best epoch restored), starting
 * from the pretrained layers every time, and scored on its held-out rows like
 * ct_train_cv_eval (train.h) scores a head. */
#ifndef CT_FT_CV_H
#define CT_FT_CV_H

#include "train/finetune.h"

/* Rows i with fold[i] >= 0 take part: fold f is held out (role val) while the others train;
 * rows with eval[i] == 0 (augmented copies; eval NULL: none) only train. The sources' layers
 * are restored to their values on entry after every fold, so the caller's own training
 * afterwards starts from the pretrained layers. verbose: one line per fold on stderr.
 * Bit-reproducible for a seed at any thread count. */
int ct_finetune_cv(ct_ft_source *src, int nsrc, const int32_t *y, int64_t n, int k, const int32_t *fold,
		   int nfolds, const uint8_t *eval, const ct_ft_opts *o, ct_cv_result *r);

#endif
