/* bytes.c - growable buffers with a maximum size, and secret buffers that wipe themselves. */
#include "ledger/bytes.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static size_t grow_cap(size_t cap, size_t need, size_t max)
{
	size_t c = cap ? cap : 64;
	while (c < need) {
		if (c > SIZE_MAX / 2) {
			c = need;
			break;
		}
		c *= 2;
	}
	return c > max ? max : c;
}

cl_err cl_buf_reserve(cl_buf *b, size_t n)
{
	size_t need;
	if (cl_size_add(b->len, n, &need) != 0 || need > b->max)
		return CL_ETOOLARGE;
	if (need <= b->cap)
		return CL_OK;
	size_t cap = grow_cap(b->cap, need, b->max);
	uint8_t *p = realloc(b->ptr, cap);
	if (p == NULL)
		return CL_ENOMEM;
	b->ptr = p;
	b->cap = cap;
	return CL_OK;
}

cl_err cl_buf_append(cl_buf *b, const void *data, size_t n)
{
	if (n == 0)
		return CL_OK;
	cl_err rc = cl_buf_reserve(b, n);
	if (rc != CL_OK)
		return rc;
	memcpy(b->ptr + b->len, data, n);
	b->len += n;
	return CL_OK;
}

cl_err cl_buf_append_byte(cl_buf *b, uint8_t c)
{
	return cl_buf_append(b, &c, 1);
}

void cl_buf_reset(cl_buf *b)
{
	b->len = 0;
}

void cl_buf_free(cl_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

cl_err cl_secret_append(cl_secret *s, const void *data, size_t n)
{
	size_t need;
	if (cl_size_add(s->len, n, &need) != 0 || need > s->max)
		return CL_ETOOLARGE;
	if (need > s->cap) {
		size_t cap = grow_cap(s->cap, need, s->max);
		uint8_t *p = OPENSSL_secure_malloc(cap);
		if (p == NULL)
			return CL_ENOMEM;
		if (s->len > 0)
			memcpy(p, s->ptr, s->len);
		if (s->ptr != NULL)
			OPENSSL_secure_clear_free(s->ptr, s->cap);
		s->ptr = p;
		s->cap = cap;
	}
	if (n > 0)
		memcpy(s->ptr + s->len, data, n);
	s->len = need;
	return CL_OK;
}

cl_err cl_secret_alloc(cl_secret *s, size_t n)
{
	cl_secret_free(s);
	if (n > s->max)
		return CL_ETOOLARGE;
	s->ptr = OPENSSL_secure_zalloc(n ? n : 1);
	if (s->ptr == NULL)
		return CL_ENOMEM;
	s->cap = n ? n : 1;
	s->len = n;
	return CL_OK;
}

void cl_secret_free(cl_secret *s)
{
	if (s->ptr != NULL)
		OPENSSL_secure_clear_free(s->ptr, s->cap);
	s->ptr = NULL;
	s->len = s->cap = 0;
}
