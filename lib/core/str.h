/* str.h - the library's string helpers: a duplicate that records "out of memory", and a
 * growing string builder (git's strbuf, reduced). */
#ifndef CT_STR_H
#define CT_STR_H

#include <stddef.h>

/* Duplicate s (NULL as ""); NULL with "out of memory" recorded (core/error.h) on failure. */
char *ct_strdup(const char *s);

/* A growing NUL-terminated string. Zero-initialise (`ct_strbuf b = { 0 };`); appends never
 * fail at the call: a failed allocation sets `oom`, later appends do nothing, and
 * ct_strbuf_take reports it. */
typedef struct ct_strbuf {
	char *p;
	size_t n, cap;
	int oom;
} ct_strbuf;

void ct_strbuf_add(ct_strbuf *b, const char *s, size_t len);
void ct_strbuf_puts(ct_strbuf *b, const char *s);
void ct_strbuf_printf(ct_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The built string (malloc'd, "" when nothing was added; the caller frees it), the buffer
 * left empty; NULL with "out of memory" recorded when an append failed. */
char *ct_strbuf_take(ct_strbuf *b);
void ct_strbuf_release(ct_strbuf *b);

/* Item k of a comma-separated list (empty items allowed) into buf (len bytes): 1, or 0 when the
 * item is absent, empty or too long. *count (if not NULL) receives the number of items (0 for a
 * NULL list). The --weights and --output-layer lists of fine-tuning and scoring. */
int ct_list_item(const char *list, int k, char *buf, size_t len, int *count);

#endif
