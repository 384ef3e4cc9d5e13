/* rng.c - xoshiro256** (Blackman & Vigna) seeded through splitmix64. */
#include "core/rng.h"

#include <math.h>

uint64_t ct_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void ct_rng_init(ct_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = ct_mix64(seed) ^ ct_mix64(stream ^ 0xd1b54a32d192ed03ULL);
	for (int i = 0; i < 4; i++) {
		x += 0x9e3779b97f4a7c15ULL;
		r->s[i] = ct_mix64(x);
	}
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t ct_rng_u64(ct_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double ct_rng_uniform(ct_rng *r)
{
	return (double)(ct_rng_u64(r) >> 11) * 0x1.0p-53;
}

double ct_rng_range(ct_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * ct_rng_uniform(r);
}

uint64_t ct_rng_below(ct_rng *r, uint64_t n)
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = ct_rng_u64(r);
	while (x >= lim);
	return x % n;
}

double ct_rng_normal(ct_rng *r)
{
	double u1 = ct_rng_uniform(r), u2 = ct_rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
