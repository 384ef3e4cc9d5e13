/* winograd_avx512.c - the Winograd transforms of winograd_impl.h compiled for AVX-512. */
#include "nn/winograd.h"
#include "winograd_impl.h"

CT_WINO_EXPORT(avx512)
