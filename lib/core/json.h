/* json.h - JSON written with libcjson, numbers in their shortest round-trip form: the
 * recorded params and provenance say 0.95, not 0.94999999999999996. */
#ifndef CT_JSON_H
#define CT_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* The shortest of %.15g, %.16g, %.17g that reads back as v (strtod); "null" when v is not
 * finite (JSON has no NaN or infinity). Returns out. */
char *ct_json_shortest(double v, char out[32]);
/* Number items printed exactly: a double in its shortest form, an integer in full (cJSON
 * stores numbers as doubles, which would round a uint64 above 2^53). NULL when out of memory. */
cJSON *ct_json_double(double v);
cJSON *ct_json_int(int64_t v);
cJSON *ct_json_u64(uint64_t v);
/* Compact text of j (malloc'd, free with free()); NULL with "out of memory" recorded. */
char *ct_json_print(const cJSON *j);

#endif
