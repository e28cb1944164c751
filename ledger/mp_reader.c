/* mp_reader.c - strict, zero-copy msgpack reading over a bounded cursor (see mp_reader.h). */
#include "ledger/mp_reader.h"

#include <string.h>

void cl_mp_reader_init(cl_mp_reader *r, cl_bytes in)
{
	r->p = in.ptr;
	r->end = in.ptr + in.len;
	r->error = NULL;
	r->depth = 0;
}

bool cl_mp_fail(cl_mp_reader *r, const char *why)
{
	if (r->error == NULL)
		r->error = why;
	return false;
}

static bool take(cl_mp_reader *r, size_t n, const uint8_t **out)
{
	if (r->error != NULL)
		return false;
	if ((size_t)(r->end - r->p) < n)
		return cl_mp_fail(r, "truncated");
	*out = r->p;
	r->p += n;
	return true;
}

static bool be(cl_mp_reader *r, size_t n, uint64_t *v)
{
	const uint8_t *q = NULL;
	if (!take(r, n, &q))
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | q[i];
	*v = x;
	return true;
}

cl_mp_type cl_mp_peek(cl_mp_reader *r)
{
	if (r->error != NULL || r->p >= r->end)
		return CL_MP_INVALID;
	uint8_t c = *r->p;
	if (c <= 0x7f || c == 0xcc || c == 0xcd || c == 0xce || c == 0xcf)
		return CL_MP_UINT;
	if (c >= 0xe0 || (c >= 0xd0 && c <= 0xd3))
		return CL_MP_INT;
	if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf)
		return CL_MP_MAP;
	if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd)
		return CL_MP_ARRAY;
	if ((c & 0xe0) == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb)
		return CL_MP_STR;
	if (c == 0xc4 || c == 0xc5 || c == 0xc6)
		return CL_MP_BIN;
	if (c == 0xc0)
		return CL_MP_NIL;
	if (c == 0xc2 || c == 0xc3)
		return CL_MP_BOOL;
	if (c == 0xca || c == 0xcb)
		return CL_MP_FLOAT;
	if ((c >= 0xd4 && c <= 0xd8) || c == 0xc7 || c == 0xc8 || c == 0xc9)
		return CL_MP_EXT;
	return CL_MP_INVALID; /* 0xc1 is never used */
}

static bool header(cl_mp_reader *r, uint8_t fix_mask, uint8_t fix_tag, uint8_t fix_bits,
		   uint8_t t8, uint8_t t16, uint8_t t32, uint64_t *n, const char *what)
{
	const uint8_t *q = NULL;
	if (!take(r, 1, &q))
		return false;
	uint8_t c = *q;
	if ((c & fix_mask) == fix_tag) {
		*n = c & fix_bits;
		return true;
	}
	if (t8 && c == t8)
		return be(r, 1, n);
	if (c == t16)
		return be(r, 2, n);
	if (c == t32)
		return be(r, 4, n);
	r->p--;
	return cl_mp_fail(r, what);
}

bool cl_mp_read_array(cl_mp_reader *r, uint32_t *n)
{
	uint64_t v = 0;
	if (!header(r, 0xf0, 0x90, 0x0f, 0, 0xdc, 0xdd, &v, "expected an array"))
		return false;
	/* every element takes at least one byte: a count beyond what is left is hostile */
	if (v > cl_mp_left(r))
		return cl_mp_fail(r, "array length exceeds input");
	*n = (uint32_t)v;
	return true;
}

bool cl_mp_read_map(cl_mp_reader *r, uint32_t *n)
{
	uint64_t v = 0;
	if (!header(r, 0xf0, 0x80, 0x0f, 0, 0xde, 0xdf, &v, "expected a map"))
		return false;
	if (v > cl_mp_left(r) / 2)
		return cl_mp_fail(r, "map length exceeds input");
	*n = (uint32_t)v;
	return true;
}

static bool read_span(cl_mp_reader *r, uint64_t n, cl_bytes *out)
{
	const uint8_t *q = NULL;
	if (n > cl_mp_left(r))
		return cl_mp_fail(r, "length prefix exceeds input");
	if (!take(r, (size_t)n, &q))
		return false;
	*out = CL_BYTES(q, (size_t)n);
	return true;
}

bool cl_mp_read_str(cl_mp_reader *r, cl_bytes *s)
{
	uint64_t n = 0;
	if (!header(r, 0xe0, 0xa0, 0x1f, 0xd9, 0xda, 0xdb, &n, "expected a string"))
		return false;
	return read_span(r, n, s);
}

bool cl_mp_read_bin(cl_mp_reader *r, cl_bytes *b)
{
	uint64_t n = 0;
	/* bin has no fix form: a mask that never matches */
	if (!header(r, 0x00, 0x01, 0x00, 0xc4, 0xc5, 0xc6, &n, "expected binary data"))
		return false;
	return read_span(r, n, b);
}

bool cl_mp_read_bin_n(cl_mp_reader *r, size_t n, cl_bytes *b)
{
	if (!cl_mp_read_bin(r, b))
		return false;
	if (b->len != n)
		return cl_mp_fail(r, "binary field has the wrong length");
	return true;
}

bool cl_mp_read_uint(cl_mp_reader *r, uint64_t *v)
{
	const uint8_t *q = NULL;
	if (!take(r, 1, &q))
		return false;
	uint8_t c = *q;
	if (c <= 0x7f) {
		*v = c;
		return true;
	}
	switch (c) {
	case 0xcc: return be(r, 1, v);
	case 0xcd: return be(r, 2, v);
	case 0xce: return be(r, 4, v);
	case 0xcf: return be(r, 8, v);
	default:
		r->p--;
		return cl_mp_fail(r, "expected an unsigned integer");
	}
}

bool cl_mp_read_int(cl_mp_reader *r, int64_t *v)
{
	if (r->error != NULL || r->p >= r->end)
		return cl_mp_fail(r, "truncated");
	uint8_t c = *r->p;
	if (c >= 0xe0) {
		r->p++;
		*v = (int8_t)c;
		return true;
	}
	uint64_t u;
	size_t n;
	switch (c) {
	case 0xd0: n = 1; break;
	case 0xd1: n = 2; break;
	case 0xd2: n = 4; break;
	case 0xd3: n = 8; break;
	default:
		if (!cl_mp_read_uint(r, &u))
			return cl_mp_fail(r, "expected an integer");
		if (u > INT64_MAX)
			return cl_mp_fail(r, "integer out of range");
		*v = (int64_t)u;
		return true;
	}
	r->p++;
	if (!be(r, n, &u))
		return false;
	switch (n) {
	case 1: *v = (int8_t)u; break;
	case 2: *v = (int16_t)u; break;
	case 4: *v = (int32_t)u; break;
	default: *v = (int64_t)u; break;
	}
	return true;
}

bool cl_mp_read_bool(cl_mp_reader *r, bool *v)
{
	const uint8_t *q = NULL;
	if (!take(r, 1, &q))
		return false;
	if (*q == 0xc2 || *q == 0xc3) {
		*v = *q == 0xc3;
		return true;
	}
	r->p--;
	return cl_mp_fail(r, "expected a boolean");
}

bool cl_mp_read_nil(cl_mp_reader *r)
{
	const uint8_t *q = NULL;
	if (!take(r, 1, &q))
		return false;
	if (*q == 0xc0)
		return true;
	r->p--;
	return cl_mp_fail(r, "expected nil");
}

bool cl_mp_expect_key(cl_mp_reader *r, const char *key)
{
	cl_bytes s;
	if (!cl_mp_read_str(r, &s))
		return false;
	size_t n = strlen(key);
	if (s.len != n || memcmp(s.ptr, key, n) != 0)
		return cl_mp_fail(r, "unexpected key or key order");
	return true;
}

bool cl_mp_skip(cl_mp_reader *r)
{
	uint32_t n = 0;
	cl_bytes b;
	uint64_t u;
	const uint8_t *q = NULL;
	bool ok = true;
	if (r->depth >= 32)
		return cl_mp_fail(r, "nesting too deep");
	switch (cl_mp_peek(r)) {
	case CL_MP_NIL: return cl_mp_read_nil(r);
	case CL_MP_BOOL: return take(r, 1, &q);
	case CL_MP_UINT: return cl_mp_read_uint(r, &u);
	case CL_MP_INT: { int64_t i; return cl_mp_read_int(r, &i); }
	case CL_MP_FLOAT: return take(r, *r->p == 0xca ? 5 : 9, &q);
	case CL_MP_STR: return cl_mp_read_str(r, &b);
	case CL_MP_BIN: return cl_mp_read_bin(r, &b);
	case CL_MP_ARRAY:
		if (!cl_mp_read_array(r, &n))
			return false;
		r->depth++;
		for (uint32_t i = 0; i < n && ok; i++)
			ok = cl_mp_skip(r);
		r->depth--;
		return ok;
	case CL_MP_MAP:
		if (!cl_mp_read_map(r, &n))
			return false;
		r->depth++;
		for (uint32_t i = 0; i < n && ok; i++)
			ok = cl_mp_skip(r) && cl_mp_skip(r);
		r->depth--;
		return ok;
	case CL_MP_EXT:
		return cl_mp_fail(r, "msgpack extension types are not allowed");
	default:
		return cl_mp_fail(r, r->p >= r->end ? "truncated" : "invalid msgpack byte");
	}
}
