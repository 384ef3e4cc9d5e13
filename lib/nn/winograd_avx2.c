/* winograd_avx2.c - the Winograd transforms of winograd_impl.h compiled for AVX2. */
#include "nn/winograd.h"
#include "winograd_impl.h"

CT_WINO_EXPORT(avx2)
