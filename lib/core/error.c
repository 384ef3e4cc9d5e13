/* error.c - thread-local last-error message. */
#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CT_ERR_LEN 1024
static _Thread_local char err_buf[CT_ERR_LEN];
static _Thread_local int err_usage;

int ct_error(const char *fmt, ...)
{
	err_usage = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof err_buf, fmt, ap);
	va_end(ap);
	return -1;
}

int ct_error_errno(const char *fmt, ...)
{
	int e = errno;
	err_usage = 0;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err_buf, sizeof err_buf, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof err_buf)
		snprintf(err_buf + n, sizeof err_buf - (size_t)n, ": %s", strerror(e));
	return -1;
}

int ct_error_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof err_buf, fmt, ap);
	va_end(ap);
	err_usage = 1;
	return -1;
}

int ct_error_is_usage(void)
{
	return err_usage;
}

int ct_error_prefix(const char *fmt, ...)
{
	char old[CT_ERR_LEN];
	memcpy(old, err_buf, sizeof old);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err_buf, sizeof err_buf, fmt, ap);
	va_end(ap);
	/* Appended by hand: snprintf of a buffer into itself-sized space trips
	 * -Wformat-truncation at some optimisation levels. */
	size_t k = n < 0 ? 0 : (size_t)n < sizeof err_buf ? (size_t)n : sizeof err_buf - 1;
	const char *sep = ": ";
	for (const char *p = sep; *p && k + 1 < sizeof err_buf; p++)
		err_buf[k++] = *p;
	for (const char *p = old; *p && k + 1 < sizeof err_buf; p++)
		err_buf[k++] = *p;
	err_buf[k] = '\0';
	return -1;
}

const char *ct_last_error(void)
{
	return err_buf;
}

void ct_error_set_msg(const char *msg)
{
	snprintf(err_buf, sizeof err_buf, "%s", msg ? msg : "");
}

void ct_error_clear(void)
{
	err_usage = 0;
	err_buf[0] = '\0';
}
