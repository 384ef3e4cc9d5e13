/* rng.h - seeded, splittable pseudo-random numbers (xoshiro256**, seeded by splitmix64).
 *
 * Reproducibility for any thread count comes from streams, not from a shared
 * generator: work item i draws from ct_rng_init(&r, seed, i), so its numbers do
 * not depend on which thread runs it or in what order. */
#ifndef CT_RNG_H
#define CT_RNG_H

#include <stdint.h>

typedef struct ct_rng {
	uint64_t s[4];
} ct_rng;

void ct_rng_init(ct_rng *r, uint64_t seed, uint64_t stream);
uint64_t ct_rng_u64(ct_rng *r);
double ct_rng_uniform(ct_rng *r);                       /* [0, 1) with 53 random bits */
double ct_rng_range(ct_rng *r, double lo, double hi);   /* [lo, hi) */
uint64_t ct_rng_below(ct_rng *r, uint64_t n);          /* [0, n), unbiased; n > 0 */
double ct_rng_normal(ct_rng *r);                        /* standard normal (Box-Muller) */

/* Stateless 64-bit mix (splitmix64 finaliser), for deriving seeds. */
uint64_t ct_mix64(uint64_t x);

#endif
