/* ops_par.h - private to the op files (depthwise.c, pool.c, zeropad.c, concat.c,
 * elementwise.c): their fixed OpenMP row split and the choice of threads and ISA. */
#ifndef CT_OPS_PAR_H
#define CT_OPS_PAR_H

#include "nn/gemm.h"

#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* One OpenMP region; thread t gets items [n*t/nt, n*(t+1)/nt): a fixed split. */
#ifdef _OPENMP
#define PAR_RANGE(nitems, nthreads, lo, hi)                                            \
	_Pragma("omp parallel num_threads(nthreads) if (nthreads > 1)") for (int64_t lo = (int64_t)(nitems) * \
		omp_get_thread_num() / omp_get_num_threads(),                            \
		hi = (int64_t)(nitems) * (omp_get_thread_num() + 1) / omp_get_num_threads(), \
		once_ = 1; once_; once_ = 0)
#else
#define PAR_RANGE(nitems, nthreads, lo, hi)                                             \
	for (int64_t lo = 0, hi = (int64_t)(nitems) + 0 * (nthreads), once_ = 1; once_; once_ = 0)
#endif

/* The row kernels follow the GEMM kernel's ISA: 2 AVX-512, 1 AVX2, 0 portable C. */
static inline int kernel_isa(void)
{
	const ct_gemm_kernel *k = ct_gemm_kernel_get();
	return k && !strcmp(k->name, "avx512") ? 2 : k && !strcmp(k->name, "avx2") ? 1 : 0;
}

/* Threads for an op of `work` multiply-adds or copies: small ops run on one thread, as
 * waking the team costs more than it saves (and much more on a busy machine). The split
 * never changes results. */
static inline int par_threads(int64_t work, int nthreads)
{
	return work < (1 << 16) ? 1 : nthreads;
}

#endif
