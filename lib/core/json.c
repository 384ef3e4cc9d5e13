/* json.c - shortest round-trip numbers and compact printing on top of libcjson (json.h). */
#include "core/json.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libcjson 1.7.15 (Debian 12) prints a number with %1.15g and keeps that when it reads back
 * within a relative DBL_EPSILON (else %1.17g): 0.1 + 0.7 comes out as 0.8, another double, and
 * other values get 17 digits where 16 would do. Trying 15, 16, then 17 digits and keeping the
 * first that reads back exactly gives the shortest %g form that round-trips. */
char *ct_json_shortest(double v, char out[32])
{
	if (!isfinite(v)) {
		strcpy(out, "null");
		return out;
	}
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(out, 32, "%.*g", digits, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return out;
}

cJSON *ct_json_double(double v)
{
	char s[32];
	return cJSON_CreateRaw(ct_json_shortest(v, s));
}

cJSON *ct_json_int(int64_t v)
{
	char s[32];
	snprintf(s, sizeof s, "%lld", (long long)v);
	return cJSON_CreateRaw(s);
}

cJSON *ct_json_u64(uint64_t v)
{
	char s[32];
	snprintf(s, sizeof s, "%llu", (unsigned long long)v);
	return cJSON_CreateRaw(s);
}

char *ct_json_print(const cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	if (!s)
		ct_error("out of memory");
	return s;
}
