/* tensor.h - the one tensor type: dtype, shape, byte strides, data, owned or view.
 *
 * Axis order for images and activations is NHWC (the Keras order the weights
 * come in): shape[0]=N, shape[1]=H, shape[2]=W, shape[3]=C. A single image is
 * a 3-d tensor H x W x C. Strides are in bytes (as ggml's nb[]); a freshly
 * allocated tensor is contiguous, row-major, last axis fastest. All sizes are
 * overflow-checked at allocation. */
#ifndef CT_TENSOR_H
#define CT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define CT_MAX_DIMS 4

typedef enum ct_dtype {
	CT_U8 = 0,
	CT_U16,
	CT_I32,
	CT_I64,
	CT_F32,
	CT_F64,
} ct_dtype;

typedef struct ct_tensor {
	ct_dtype dtype;
	int ndim;
	int64_t shape[CT_MAX_DIMS];
	int64_t stride[CT_MAX_DIMS]; /* bytes */
	void *data;
	int owned; /* 1: data is freed by ct_tensor_free */
} ct_tensor;

size_t ct_dtype_size(ct_dtype t);
const char *ct_dtype_name(ct_dtype t);

/* Allocate a zeroed contiguous tensor. Returns 0, or -1 on overflow/out of memory
 * (t is left empty). Dimensions must be >= 0. */
int ct_tensor_alloc(ct_tensor *t, ct_dtype dtype, int ndim, const int64_t *shape);
/* Convenience forms. */
int ct_tensor_alloc3(ct_tensor *t, ct_dtype dtype, int64_t d0, int64_t d1, int64_t d2);
int ct_tensor_alloc4(ct_tensor *t, ct_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/* A contiguous view over caller-owned memory (not freed by ct_tensor_free). */
ct_tensor ct_tensor_wrap(void *data, ct_dtype dtype, int ndim, const int64_t *shape);

/* View of element range [start, start+count) along axis 0. */
ct_tensor ct_tensor_slice0(const ct_tensor *t, int64_t start, int64_t count);

void ct_tensor_free(ct_tensor *t); /* frees owned data; leaves t empty; safe on empty */

int64_t ct_tensor_numel(const ct_tensor *t);
size_t ct_tensor_nbytes(const ct_tensor *t); /* numel * dtype size */
int ct_tensor_is_contiguous(const ct_tensor *t);

/* Element pointer from indices (ndim of them). */
static inline void *ct_tensor_ptr(const ct_tensor *t, const int64_t *idx)
{
	char *p = (char *)t->data;
	for (int i = 0; i < t->ndim; i++)
		p += idx[i] * t->stride[i];
	return p;
}

/* Overflow-checked size arithmetic: return 0 and set *out, or -1 on overflow. */
int ct_mul_size(size_t a, size_t b, size_t *out);
int ct_mul_i64(int64_t a, int64_t b, int64_t *out);

#endif
