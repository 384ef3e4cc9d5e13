/* str.c - ct_strdup and the string builder (str.h). */
#include "core/str.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ct_strdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		ct_error("out of memory");
	return p;
}

/* Room for `len` more bytes and the NUL. */
static int grow(ct_strbuf *b, size_t len)
{
	if (b->oom)
		return -1;
	if (b->n + len + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + len + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void ct_strbuf_add(ct_strbuf *b, const char *s, size_t len)
{
	if (grow(b, len) < 0)
		return;
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

void ct_strbuf_puts(ct_strbuf *b, const char *s)
{
	ct_strbuf_add(b, s, strlen(s));
}

void ct_strbuf_printf(ct_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0 || grow(b, (size_t)k) < 0) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)k;
}

char *ct_strbuf_take(ct_strbuf *b)
{
	if (!b->oom && !b->p)
		ct_strbuf_add(b, "", 0);
	char *p = b->oom ? NULL : b->p;
	if (b->oom) {
		free(b->p);
		ct_error("out of memory");
	}
	memset(b, 0, sizeof *b);
	return p;
}

void ct_strbuf_release(ct_strbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

int ct_list_item(const char *list, int k, char *buf, size_t len, int *count)
{
	int found = 0, i = 0;
	for (const char *q = list; q; i++) {
		const char *e = strchr(q, ',');
		size_t n = e ? (size_t)(e - q) : strlen(q);
		if (i == k && n > 0 && n < len) {
			memcpy(buf, q, n);
			buf[n] = '\0';
			found = 1;
		}
		q = e ? e + 1 : NULL;
	}
	if (count)
		*count = i;
	return found;
}
