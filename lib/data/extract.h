/* extract.h - run a backbone over an images file in batches and stream the pooled
 * activations into a features dataset (ct-features). Images are read a batch at a
 * time, so the data set never has to fit in memory. */
#ifndef CT_EXTRACT_H
#define CT_EXTRACT_H

#include "data/dataset.h"
#include "nn/net.h"

typedef void (*ct_progress_fn)(void *ctx, int64_t done, int64_t total);

typedef struct ct_extract {
	ct_images *in;
	ct_net *net;
	int in_h, in_w;          /* the backbone's input size */
	int batch;
	int resize;              /* resize images of another size (else they are refused) */
	hid_t file, dset;        /* output file and its N x D features dataset */
	ct_progress_fn progress;
	void *ctx;
	/* ct-features --cut: the net's last output is the cut layer, raw (the net runs with
	 * CT_POOL_NONE); its maps go to act_dset (data/activations.h, f16: half precision) and
	 * the other outputs are pooled here with `pool`. */
	int cut;
	ct_pool pool;
	hid_t act_dset;
	int f16;
	int64_t row0, row1;      /* only input rows [row0, row1) (--shard), written from dataset
				    row 0; row1 = 0: every row */
	/* ct-features --pool lung-avg / lung-max (data/lungpool.h): the net runs with CT_POOL_NONE
	 * and every output but the cut is pooled here over the input's /lung_mask, brought to the
	 * output's map; `pool` says avg or max. Rows whose mask is empty are pooled over the whole
	 * map and marked 1 in the output's /lung_pool_fallback (created here, N rows). */
	int lung;
	int64_t fallback;        /* after a run: rows of the output marked in /lung_pool_fallback */
} ct_extract;

/* Check the images fit the backbone (3 or 1 channels; size equal, or resize set) and, with
 * lung, that they carry a /lung_mask (uint8, N x H x W). */
int ct_extract_check(const ct_extract *x);
/* Process rows [start, n) (of the row range, when set). After each batch the rows are written, the root
 * attribute rows_done is updated and the file flushed, so an interrupted run can
 * continue from there. NaN or Inf pixels are an error naming the sample. */
int ct_extract_run(ct_extract *x, int64_t start);

#endif
