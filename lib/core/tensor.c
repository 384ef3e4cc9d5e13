/* tensor.c - allocation and views of ct_tensor. */
#include "core/tensor.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

size_t ct_dtype_size(ct_dtype t)
{
	switch (t) {
	case CT_U8: return 1;
	case CT_U16: return 2;
	case CT_I32: return 4;
	case CT_I64: return 8;
	case CT_F32: return 4;
	case CT_F64: return 8;
	}
	return 0;
}

const char *ct_dtype_name(ct_dtype t)
{
	switch (t) {
	case CT_U8: return "uint8";
	case CT_U16: return "uint16";
	case CT_I32: return "int32";
	case CT_I64: return "int64";
	case CT_F32: return "float32";
	case CT_F64: return "float64";
	}
	return "?";
}

int ct_mul_size(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

int ct_mul_i64(int64_t a, int64_t b, int64_t *out)
{
	if (a < 0 || b < 0)
		return -1;
	if (a != 0 && b > INT64_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

static void set_contiguous_strides(ct_tensor *t)
{
	int64_t s = (int64_t)ct_dtype_size(t->dtype);
	for (int i = t->ndim - 1; i >= 0; i--) {
		t->stride[i] = s;
		s *= t->shape[i];
	}
}

int ct_tensor_alloc(ct_tensor *t, ct_dtype dtype, int ndim, const int64_t *shape)
{
	memset(t, 0, sizeof *t);
	if (ndim < 0 || ndim > CT_MAX_DIMS)
		return ct_error("tensor: bad number of dimensions %d", ndim);
	size_t bytes = ct_dtype_size(dtype);
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return ct_error("tensor: negative dimension");
		if (ct_mul_size(bytes, (size_t)shape[i], &bytes) < 0)
			return ct_error("tensor: size overflows");
	}
	if (bytes > ((size_t)1 << 46))
		return ct_error("tensor: absurd size (%zu bytes)", bytes);
	void *p = calloc(bytes ? bytes : 1, 1);
	if (!p)
		return ct_error("tensor: out of memory allocating %zu bytes", bytes);
	t->dtype = dtype;
	t->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		t->shape[i] = shape[i];
	set_contiguous_strides(t);
	t->data = p;
	t->owned = 1;
	return 0;
}

int ct_tensor_alloc3(ct_tensor *t, ct_dtype dtype, int64_t d0, int64_t d1, int64_t d2)
{
	int64_t s[3] = { d0, d1, d2 };
	return ct_tensor_alloc(t, dtype, 3, s);
}

int ct_tensor_alloc4(ct_tensor *t, ct_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	int64_t s[4] = { d0, d1, d2, d3 };
	return ct_tensor_alloc(t, dtype, 4, s);
}

ct_tensor ct_tensor_wrap(void *data, ct_dtype dtype, int ndim, const int64_t *shape)
{
	ct_tensor t;
	memset(&t, 0, sizeof t);
	t.dtype = dtype;
	t.ndim = ndim;
	for (int i = 0; i < ndim; i++)
		t.shape[i] = shape[i];
	set_contiguous_strides(&t);
	t.data = data;
	t.owned = 0;
	return t;
}

ct_tensor ct_tensor_slice0(const ct_tensor *t, int64_t start, int64_t count)
{
	ct_tensor v = *t;
	v.owned = 0;
	v.data = (char *)t->data + start * t->stride[0];
	v.shape[0] = count;
	return v;
}

void ct_tensor_free(ct_tensor *t)
{
	if (!t)
		return;
	if (t->owned)
		free(t->data);
	memset(t, 0, sizeof *t);
}

int64_t ct_tensor_numel(const ct_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

size_t ct_tensor_nbytes(const ct_tensor *t)
{
	return (size_t)ct_tensor_numel(t) * ct_dtype_size(t->dtype);
}

int ct_tensor_is_contiguous(const ct_tensor *t)
{
	int64_t s = (int64_t)ct_dtype_size(t->dtype);
	for (int i = t->ndim - 1; i >= 0; i--) {
		if (t->shape[i] != 1 && t->stride[i] != s)
			return 0;
		s *= t->shape[i];
	}
	return 1;
}
