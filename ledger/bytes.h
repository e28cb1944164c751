/* bytes.h - byte views, owned growable buffers with a fixed maximum, and secret buffers.
 *
 * cl_bytes is a borrowed (pointer, length) view: it owns nothing and nothing assumes a NUL.
 * cl_buf is an owned buffer that grows up to the maximum fixed at creation; growing past it is
 * CL_ETOOLARGE, never a silent truncation. cl_secret holds key material or a password: it never
 * moves by plain realloc (a grow allocates, copies and wipes the old block) and is wiped with
 * OPENSSL_cleanse when freed or cleared.
 */
#ifndef CL_LEDGER_BYTES_H
#define CL_LEDGER_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"

typedef struct cl_bytes {
	const uint8_t *ptr;
	size_t len;
} cl_bytes;

#define CL_BYTES(p, n) ((cl_bytes){(const uint8_t *)(p), (n)})

typedef struct cl_buf {
	uint8_t *ptr;
	size_t len;
	size_t cap;
	size_t max; /* growing past this fails with CL_ETOOLARGE */
} cl_buf;

#define CL_BUF_INIT(maxlen) {NULL, 0, 0, (maxlen)}

/* Appends n bytes; CL_ENOMEM or CL_ETOOLARGE leave the buffer unchanged. */
cl_err cl_buf_append(cl_buf *b, const void *data, size_t n) __attribute__((warn_unused_result));
cl_err cl_buf_append_byte(cl_buf *b, uint8_t c) __attribute__((warn_unused_result));
/* Makes room for n more bytes without changing len. */
cl_err cl_buf_reserve(cl_buf *b, size_t n) __attribute__((warn_unused_result));
void cl_buf_reset(cl_buf *b); /* len = 0, keeps the allocation */
void cl_buf_free(cl_buf *b);
static inline cl_bytes cl_buf_view(const cl_buf *b) { return CL_BYTES(b->ptr, b->len); }

typedef struct cl_secret {
	uint8_t *ptr;
	size_t len;
	size_t cap;
	size_t max;
} cl_secret;

#define CL_SECRET_INIT(maxlen) {NULL, 0, 0, (maxlen)}

cl_err cl_secret_append(cl_secret *s, const void *data, size_t n) __attribute__((warn_unused_result));
/* Allocates exactly n zeroed bytes (len = n), replacing (and wiping) any old content. */
cl_err cl_secret_alloc(cl_secret *s, size_t n) __attribute__((warn_unused_result));
void cl_secret_free(cl_secret *s); /* wipes, frees, leaves the struct empty but reusable */

/* Overflow-checked size arithmetic: returns 0 and sets *out, or -1 on overflow. */
static inline int cl_size_add(size_t a, size_t b, size_t *out)
{
	if (a > SIZE_MAX - b)
		return -1;
	*out = a + b;
	return 0;
}

/* Big-endian helpers for LMDB keys. */
static inline void cl_be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static inline uint64_t cl_be64_get(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

#endif
