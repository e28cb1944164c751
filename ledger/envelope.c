/* envelope.c - encoding, signing and strict decoding of event envelopes (see envelope.h). */
#include "ledger/envelope.h"

#include <string.h>

#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"

cl_err cl_body_encode(cl_buf *out, uint64_t seq, int64_t ts, const char *type, const char *actor,
		      const uint8_t prev[CL_HASH_LEN], cl_bytes data)
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 7);
	cl_mp_str(&w, "v");
	cl_mp_uint(&w, CL_EVENT_VERSION);
	cl_mp_str(&w, "seq");
	cl_mp_uint(&w, seq);
	cl_mp_str(&w, "ts");
	cl_mp_int(&w, ts);
	cl_mp_str(&w, "type");
	cl_mp_str(&w, type);
	cl_mp_str(&w, "actor");
	cl_mp_str(&w, actor);
	cl_mp_str(&w, "prev");
	cl_mp_bin(&w, prev, CL_HASH_LEN);
	cl_mp_str(&w, "data");
	cl_mp_raw(&w, data);
	return w.rc;
}

cl_err cl_envelope_encode(cl_buf *out, cl_bytes body, const uint8_t sig[CL_ED25519_SIG_LEN],
			  const uint8_t signer[CL_SIGNER_ID_LEN])
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_array(&w, 3);
	cl_mp_bin(&w, body.ptr, body.len);
	cl_mp_bin(&w, sig, CL_ED25519_SIG_LEN);
	cl_mp_bin(&w, signer, CL_SIGNER_ID_LEN);
	if (w.rc == CL_OK && out->len > CL_ENVELOPE_MAX)
		return CL_ETOOLARGE;
	return w.rc;
}

cl_err cl_event_sign(const cl_key *key, EVP_MD_CTX *ctx, cl_bytes body, uint8_t sig[CL_ED25519_SIG_LEN])
{
	return cl_key_sign(key, ctx, CL_EVENT_SIG_DOMAIN, body, sig);
}

cl_err cl_event_sign_with(cl_signer_ctx *c, const cl_key *key, cl_bytes body, uint8_t sig[CL_ED25519_SIG_LEN])
{
	return cl_key_sign_with(c, key, CL_EVENT_SIG_DOMAIN, body, sig);
}

static cl_err bad(cl_error *err, const cl_mp_reader *r, const char *where)
{
	return cl_error_set(err, CL_EBADINPUT, "malformed event %s: %s", where,
			    r->error ? r->error : "invalid value");
}

static int valid_name(cl_bytes s, size_t max)
{
	if (s.len == 0 || s.len > max)
		return 0;
	for (size_t i = 0; i < s.len; i++)
		if (s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
			return 0;
	return 1;
}

cl_err cl_envelope_decode(cl_bytes envelope, cl_event *ev, cl_error *err)
{
	memset(ev, 0, sizeof(*ev));
	if (envelope.len > CL_ENVELOPE_MAX)
		return cl_error_set(err, CL_EBADINPUT, "malformed event envelope: %zu bytes is over the %d byte limit",
				    envelope.len, CL_ENVELOPE_MAX);
	cl_mp_reader r;
	uint32_t n = 0;
	cl_bytes sig, signer;
	cl_mp_reader_init(&r, envelope);
	if (!cl_mp_read_array(&r, &n) || n != 3)
		return n != 3 && cl_mp_ok(&r) ? cl_error_set(err, CL_EBADINPUT, "malformed event envelope: not 3 items")
					      : bad(err, &r, "envelope");
	if (!cl_mp_read_bin(&r, &ev->body) || !cl_mp_read_bin_n(&r, CL_ED25519_SIG_LEN, &sig) ||
	    !cl_mp_read_bin_n(&r, CL_SIGNER_ID_LEN, &signer))
		return bad(err, &r, "envelope");
	if (cl_mp_left(&r) != 0)
		return cl_error_set(err, CL_EBADINPUT, "malformed event envelope: %zu trailing bytes", cl_mp_left(&r));
	ev->sig = sig.ptr;
	ev->signer = signer.ptr;
	ev->envelope = envelope;

	cl_mp_reader b;
	uint64_t v = 0;
	cl_bytes prev;
	cl_mp_reader_init(&b, ev->body);
	if (!cl_mp_read_map(&b, &n))
		return bad(err, &b, "body");
	if (n != 7)
		return cl_error_set(err, CL_EBADINPUT, "malformed event body: %u keys, expected 7", n);
	if (!cl_mp_expect_key(&b, "v") || !cl_mp_read_uint(&b, &v))
		return bad(err, &b, "body (v)");
	if (v != CL_EVENT_VERSION)
		return cl_error_set(err, CL_EBADINPUT, "unknown event version v=%llu", (unsigned long long)v);
	if (!cl_mp_expect_key(&b, "seq") || !cl_mp_read_uint(&b, &ev->seq))
		return bad(err, &b, "body (seq)");
	if (!cl_mp_expect_key(&b, "ts") || !cl_mp_read_int(&b, &ev->ts))
		return bad(err, &b, "body (ts)");
	if (!cl_mp_expect_key(&b, "type") || !cl_mp_read_str(&b, &ev->type))
		return bad(err, &b, "body (type)");
	if (!cl_mp_expect_key(&b, "actor") || !cl_mp_read_str(&b, &ev->actor))
		return bad(err, &b, "body (actor)");
	if (!cl_mp_expect_key(&b, "prev") || !cl_mp_read_bin_n(&b, CL_HASH_LEN, &prev))
		return bad(err, &b, "body (prev)");
	if (!cl_mp_expect_key(&b, "data"))
		return bad(err, &b, "body (data)");
	const uint8_t *data_start = b.p;
	if (cl_mp_peek(&b) != CL_MP_MAP)
		return cl_error_set(err, CL_EBADINPUT, "malformed event body: data is not a map");
	if (!cl_mp_skip(&b))
		return bad(err, &b, "body (data)");
	if (cl_mp_left(&b) != 0)
		return cl_error_set(err, CL_EBADINPUT, "malformed event body: %zu trailing bytes", cl_mp_left(&b));
	if (ev->seq == 0)
		return cl_error_set(err, CL_EBADINPUT, "malformed event body: seq 0");
	if (!valid_name(ev->type, CL_TYPE_MAX) || !valid_name(ev->actor, CL_ACTOR_MAX))
		return cl_error_set(err, CL_EBADINPUT, "malformed event body: bad type or actor text");
	ev->prev = prev.ptr;
	ev->data = CL_BYTES(data_start, (size_t)(b.p - data_start));
	return CL_OK;
}

void cl_event_id(const cl_event *ev, uint8_t out[CL_HASH_LEN])
{
	cl_sha256(ev->body.ptr, ev->body.len, out);
}

int cl_event_is(const cl_event *ev, const char *type)
{
	size_t n = strlen(type);
	return ev->type.len == n && memcmp(ev->type.ptr, type, n) == 0;
}
