/* events.c - codecs of cert.linked, cert.unlinked, primary.set and primary.cleared data (see
 * events.h and docs/events.md). */
#include "projections/events.h"

#include <string.h>

#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"

static void head(cl_mp_writer *w, cl_buf *out, uint32_t n, const char *email, const uint8_t fp[CL_FP_LEN])
{
	cl_buf_reset(out);
	cl_mp_writer_init(w, out);
	cl_mp_map(w, n);
	cl_mp_str(w, "email");
	cl_mp_str(w, email);
	cl_mp_str(w, "fingerprint");
	cl_mp_bin(w, fp, CL_FP_LEN);
}

cl_err cl_cert_linked_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN])
{
	cl_mp_writer w;
	head(&w, out, 2, email, fp);
	return w.rc;
}

cl_err cl_cert_unlinked_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN], const char *reason)
{
	cl_mp_writer w;
	head(&w, out, 3, email, fp);
	cl_mp_str(&w, "reason");
	cl_mp_str(&w, reason ? reason : "");
	return w.rc;
}

cl_err cl_primary_set_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN], bool forced,
			     const char *const *overridden, size_t noverridden)
{
	cl_mp_writer w;
	head(&w, out, 4, email, fp);
	cl_mp_str(&w, "forced");
	cl_mp_bool(&w, forced);
	cl_mp_str(&w, "overridden");
	if (noverridden > UINT32_MAX)
		return CL_ETOOLARGE;
	cl_mp_array(&w, (uint32_t)noverridden);
	for (size_t i = 0; i < noverridden; i++)
		cl_mp_str(&w, overridden[i]);
	return w.rc;
}

cl_err cl_primary_cleared_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN], const char *reason)
{
	return cl_cert_unlinked_encode(out, email, fp, reason);
}

static bool clean_str(cl_mp_reader *r, cl_bytes *s)
{
	if (!cl_mp_read_str(r, s))
		return false;
	if (s->len > 0 && memchr(s->ptr, 0, s->len) != NULL)
		return cl_mp_fail(r, "a string holds a NUL byte");
	return true;
}

static bool read_head(cl_mp_reader *r, cl_bytes data, uint32_t n, cl_bytes *email, const uint8_t **fp)
{
	uint32_t m;
	cl_bytes b;
	cl_mp_reader_init(r, data);
	if (!cl_mp_read_map(r, &m))
		return false;
	if (m != n)
		return cl_mp_fail(r, "wrong number of keys");
	if (!cl_mp_expect_key(r, "email") || !clean_str(r, email) || !cl_mp_expect_key(r, "fingerprint") ||
	    !cl_mp_read_bin_n(r, CL_FP_LEN, &b))
		return false;
	if (email->len == 0)
		return cl_mp_fail(r, "empty email");
	*fp = b.ptr;
	return true;
}

static cl_err bad(cl_error *err, const char *type, const cl_mp_reader *r)
{
	return cl_error_set(err, CL_EBADINPUT, "malformed %s data: %s", type, r->error ? r->error : "trailing bytes");
}

cl_err cl_cert_linked_decode(cl_bytes data, cl_link_data *out, cl_error *err)
{
	cl_mp_reader r;
	memset(out, 0, sizeof(*out));
	if (!read_head(&r, data, 2, &out->email, &out->fingerprint) || cl_mp_left(&r) != 0)
		return bad(err, "cert.linked", &r);
	return CL_OK;
}

static cl_err with_reason(cl_bytes data, cl_link_data *out, const char *type, cl_error *err)
{
	cl_mp_reader r;
	memset(out, 0, sizeof(*out));
	if (!read_head(&r, data, 3, &out->email, &out->fingerprint) || !cl_mp_expect_key(&r, "reason") ||
	    !clean_str(&r, &out->reason) || cl_mp_left(&r) != 0)
		return bad(err, type, &r);
	return CL_OK;
}

cl_err cl_cert_unlinked_decode(cl_bytes data, cl_link_data *out, cl_error *err)
{
	return with_reason(data, out, "cert.unlinked", err);
}

cl_err cl_primary_cleared_decode(cl_bytes data, cl_link_data *out, cl_error *err)
{
	return with_reason(data, out, "primary.cleared", err);
}

cl_err cl_primary_set_decode(cl_bytes data, cl_primary_set_data *out, cl_error *err)
{
	cl_mp_reader r;
	memset(out, 0, sizeof(*out));
	if (!read_head(&r, data, 4, &out->email, &out->fingerprint) || !cl_mp_expect_key(&r, "forced") ||
	    !cl_mp_read_bool(&r, &out->forced) || !cl_mp_expect_key(&r, "overridden"))
		return bad(err, "primary.set", &r);
	const uint8_t *start = r.p;
	if (!cl_mp_read_array(&r, &out->noverridden))
		return bad(err, "primary.set", &r);
	for (uint32_t i = 0; i < out->noverridden; i++) {
		cl_bytes s;
		if (!clean_str(&r, &s))
			return bad(err, "primary.set", &r);
	}
	if (cl_mp_left(&r) != 0)
		return bad(err, "primary.set", &r);
	out->overridden = CL_BYTES(start, (size_t)(r.p - start));
	return CL_OK;
}
