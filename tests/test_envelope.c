/* test_envelope.c - the envelope and body codec: round trips, and every strict-decoding
 * rejection (truncation, trailing bytes, wrong types, key order, unknown v, hostile lengths,
 * oversize) as an error with a message, never a crash or a guess. */
#include <stdlib.h>
#include <string.h>

#include "ledger/envelope.h"
#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"
#include "testutil.h"

static cl_key *key;

static int setup(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	return cl_key_generate(&key, &err) == CL_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	cl_key_free(key);
	return 0;
}

static void sample_data(cl_buf *d)
{
	cl_mp_writer w;
	cl_buf_reset(d);
	cl_mp_writer_init(&w, d);
	cl_mp_map(&w, 2);
	cl_mp_str(&w, "email");
	cl_mp_str(&w, "alice@corp.example");
	cl_mp_str(&w, "n");
	cl_mp_array(&w, 2);
	cl_mp_int(&w, -5);
	cl_mp_bin(&w, "\x01\x02", 2);
	assert_int_equal(w.rc, CL_OK);
}

/* Builds a signed envelope for (seq, ts, type, actor, prev, data). */
static void build(cl_buf *env, uint64_t seq, int64_t ts, const char *type, const char *actor, cl_bytes data)
{
	uint8_t prev[32], sig[64];
	memset(prev, 0xab, sizeof(prev));
	cl_buf body = CL_BUF_INIT(CL_ENVELOPE_MAX);
	assert_int_equal(cl_body_encode(&body, seq, ts, type, actor, prev, data), CL_OK);
	assert_int_equal(cl_event_sign(key, NULL, cl_buf_view(&body), sig), CL_OK);
	assert_int_equal(cl_envelope_encode(env, cl_buf_view(&body), sig, key->signer_id), CL_OK);
	cl_buf_free(&body);
}

static void test_round_trip(void **state)
{
	(void)state;
	cl_buf d = CL_BUF_INIT(4096), env = CL_BUF_INIT(CL_ENVELOPE_MAX);
	sample_data(&d);
	int64_t times[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1764806400123456};
	uint64_t seqs[] = {1, 127, 128, 65535, 65536, UINT64_MAX};
	for (size_t i = 0; i < 6; i++) {
		build(&env, seqs[i], times[i], "account.created", "owner", cl_buf_view(&d));
		cl_event ev;
		cl_error err = CL_ERROR_INIT;
		assert_int_equal(cl_envelope_decode(cl_buf_view(&env), &ev, &err), CL_OK);
		assert_int_equal(ev.seq, seqs[i]);
		assert_true(ev.ts == times[i]);
		assert_true(cl_event_is(&ev, "account.created"));
		assert_memory_equal(ev.actor.ptr, "owner", 5);
		assert_int_equal(ev.data.len, d.len);
		assert_memory_equal(ev.data.ptr, d.ptr, d.len);
		assert_memory_equal(ev.signer, key->signer_id, 32);
		assert_true(cl_ed25519_verify(key->pub, NULL, CL_EVENT_SIG_DOMAIN, ev.body, ev.sig));
		/* the signature is domain-separated: the bare body does not verify */
		assert_false(cl_ed25519_verify(key->pub, NULL, NULL, ev.body, ev.sig));
		uint8_t id[32], expect[32];
		cl_event_id(&ev, id);
		cl_sha256(ev.body.ptr, ev.body.len, expect);
		assert_memory_equal(id, expect, 32);
	}
	cl_buf_free(&d);
	cl_buf_free(&env);
}

static void expect_bad(cl_bytes in, const char *needle)
{
	cl_event ev;
	cl_error err = CL_ERROR_INIT;
	cl_err rc = cl_envelope_decode(in, &ev, &err);
	if (rc != CL_EBADINPUT)
		fail_msg("expected CL_EBADINPUT for '%s', got %d", needle ? needle : "(any message)", rc);
	assert_true(err.msg[0] != '\0');
	if (needle && strstr(err.msg, needle) == NULL)
		fail_msg("message '%s' does not mention '%s'", err.msg, needle);
}

static void test_every_truncation_and_trailing_bytes(void **state)
{
	(void)state;
	cl_buf d = CL_BUF_INIT(4096), env = CL_BUF_INIT(CL_ENVELOPE_MAX);
	sample_data(&d);
	build(&env, 7, 1000, "cert.linked", "alice", cl_buf_view(&d));
	for (size_t n = 0; n < env.len; n++)
		expect_bad(CL_BYTES(env.ptr, n), NULL);
	uint8_t *longer = malloc(env.len + 1);
	memcpy(longer, env.ptr, env.len);
	longer[env.len] = 0xc0;
	expect_bad(CL_BYTES(longer, env.len + 1), "trailing");
	free(longer);
	cl_buf_free(&d);
	cl_buf_free(&env);
}

/* Hand-built bodies: each breaks exactly one rule. */
typedef void (*body_fn)(cl_mp_writer *w);
static void k_v(cl_mp_writer *w, uint64_t v) { cl_mp_str(w, "v"); cl_mp_uint(w, v); }
static void rest(cl_mp_writer *w, bool skip_data)
{
	uint8_t prev[32] = {0};
	cl_mp_str(w, "seq"); cl_mp_uint(w, 1);
	cl_mp_str(w, "ts"); cl_mp_int(w, 5);
	cl_mp_str(w, "type"); cl_mp_str(w, "x.y");
	cl_mp_str(w, "actor"); cl_mp_str(w, "owner");
	cl_mp_str(w, "prev"); cl_mp_bin(w, prev, 32);
	if (!skip_data) { cl_mp_str(w, "data"); cl_mp_map(w, 0); }
}
static void b_unknown_v(cl_mp_writer *w) { cl_mp_map(w, 7); k_v(w, 2); rest(w, false); }
static void b_missing_key(cl_mp_writer *w) { cl_mp_map(w, 6); k_v(w, 1); rest(w, true); }
static void b_extra_key(cl_mp_writer *w) { cl_mp_map(w, 8); k_v(w, 1); rest(w, false); cl_mp_str(w, "z"); cl_mp_nil(w); }
static void b_key_order(cl_mp_writer *w)
{
	uint8_t prev[32] = {0};
	cl_mp_map(w, 7); k_v(w, 1);
	cl_mp_str(w, "ts"); cl_mp_int(w, 5);
	cl_mp_str(w, "seq"); cl_mp_uint(w, 1);
	cl_mp_str(w, "type"); cl_mp_str(w, "x.y");
	cl_mp_str(w, "actor"); cl_mp_str(w, "owner");
	cl_mp_str(w, "prev"); cl_mp_bin(w, prev, 32);
	cl_mp_str(w, "data"); cl_mp_map(w, 0);
}
static void b_seq_as_string(cl_mp_writer *w)
{
	uint8_t prev[32] = {0};
	cl_mp_map(w, 7); k_v(w, 1);
	cl_mp_str(w, "seq"); cl_mp_str(w, "1");
	cl_mp_str(w, "ts"); cl_mp_int(w, 5);
	cl_mp_str(w, "type"); cl_mp_str(w, "x.y");
	cl_mp_str(w, "actor"); cl_mp_str(w, "owner");
	cl_mp_str(w, "prev"); cl_mp_bin(w, prev, 32);
	cl_mp_str(w, "data"); cl_mp_map(w, 0);
}
static void b_short_prev(cl_mp_writer *w)
{
	uint8_t prev[31] = {0};
	cl_mp_map(w, 7); k_v(w, 1);
	cl_mp_str(w, "seq"); cl_mp_uint(w, 1);
	cl_mp_str(w, "ts"); cl_mp_int(w, 5);
	cl_mp_str(w, "type"); cl_mp_str(w, "x.y");
	cl_mp_str(w, "actor"); cl_mp_str(w, "owner");
	cl_mp_str(w, "prev"); cl_mp_bin(w, prev, 31);
	cl_mp_str(w, "data"); cl_mp_map(w, 0);
}
static void b_data_not_map(cl_mp_writer *w)
{
	uint8_t prev[32] = {0};
	cl_mp_map(w, 7); k_v(w, 1);
	cl_mp_str(w, "seq"); cl_mp_uint(w, 1);
	cl_mp_str(w, "ts"); cl_mp_int(w, 5);
	cl_mp_str(w, "type"); cl_mp_str(w, "x.y");
	cl_mp_str(w, "actor"); cl_mp_str(w, "owner");
	cl_mp_str(w, "prev"); cl_mp_bin(w, prev, 32);
	cl_mp_str(w, "data"); cl_mp_array(w, 0);
}
static void b_body_not_map(cl_mp_writer *w) { cl_mp_array(w, 7); }

static void wrap_body(cl_buf *env, body_fn fn)
{
	cl_buf body = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &body);
	fn(&w);
	uint8_t sig[64] = {0}, signer[32] = {0};
	assert_int_equal(cl_envelope_encode(env, cl_buf_view(&body), sig, signer), CL_OK);
	cl_buf_free(&body);
}

static void test_body_rules(void **state)
{
	(void)state;
	struct { body_fn fn; const char *needle; } cases[] = {
		{b_unknown_v, "unknown event version"}, {b_missing_key, "6 keys"}, {b_extra_key, "8 keys"},
		{b_key_order, "key order"}, {b_seq_as_string, "unsigned integer"}, {b_short_prev, "wrong length"},
		{b_data_not_map, "data is not a map"}, {b_body_not_map, "expected a map"},
	};
	cl_buf env = CL_BUF_INIT(CL_ENVELOPE_MAX);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wrap_body(&env, cases[i].fn);
		expect_bad(cl_buf_view(&env), cases[i].needle);
	}
	cl_buf_free(&env);
}

static void test_envelope_shape(void **state)
{
	(void)state;
	/* not an array; an array of 2; sig of 63 bytes; signer as a string */
	static const uint8_t not_array[] = {0x80};
	static const uint8_t two[] = {0x92, 0xc4, 0x00, 0xc4, 0x00};
	expect_bad(CL_BYTES(not_array, sizeof(not_array)), "expected an array");
	expect_bad(CL_BYTES(two, sizeof(two)), "not 3 items");
	uint8_t short_sig[3 + 2 + 63 + 2 + 32];
	size_t n = 0;
	short_sig[n++] = 0x93;
	short_sig[n++] = 0xc4;
	short_sig[n++] = 0x00;
	short_sig[n++] = 0xc4;
	short_sig[n++] = 63;
	memset(short_sig + n, 0, 63);
	n += 63;
	short_sig[n++] = 0xc4;
	short_sig[n++] = 32;
	memset(short_sig + n, 0, 32);
	n += 32;
	expect_bad(CL_BYTES(short_sig, n), "wrong length");
}

static void test_hostile_lengths(void **state)
{
	(void)state;
	/* bin32 claiming 4 GiB, array32 claiming 2^32-1 items, map16 claiming 65535 pairs */
	static const uint8_t big_bin[] = {0x93, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
	static const uint8_t big_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
	expect_bad(CL_BYTES(big_bin, sizeof(big_bin)), "exceeds input");
	expect_bad(CL_BYTES(big_array, sizeof(big_array)), "exceeds input");
	cl_mp_reader r;
	uint32_t n;
	static const uint8_t big_map[] = {0xde, 0xff, 0xff, 0x01, 0x02};
	cl_mp_reader_init(&r, CL_BYTES(big_map, sizeof(big_map)));
	assert_false(cl_mp_read_map(&r, &n));
	/* deep nesting inside data is refused, not recursed without bound */
	uint8_t deep[200];
	for (size_t i = 0; i < sizeof(deep); i++)
		deep[i] = 0x91;
	cl_mp_reader_init(&r, CL_BYTES(deep, sizeof(deep)));
	assert_false(cl_mp_skip(&r));
	assert_non_null(r.error);
	/* extension types are refused */
	static const uint8_t ext[] = {0xd4, 0x01, 0x00};
	cl_mp_reader_init(&r, CL_BYTES(ext, sizeof(ext)));
	assert_false(cl_mp_skip(&r));
}

static void test_oversize(void **state)
{
	(void)state;
	uint8_t *big = calloc(1, CL_ENVELOPE_MAX + 1);
	expect_bad(CL_BYTES(big, CL_ENVELOPE_MAX + 1), "limit");
	free(big);
	/* an encoder never produces an envelope over the limit */
	cl_buf body = CL_BUF_INIT(2 * CL_ENVELOPE_MAX), env = CL_BUF_INIT(2 * CL_ENVELOPE_MAX);
	uint8_t *filler = calloc(1, CL_ENVELOPE_MAX);
	assert_int_equal(cl_buf_append(&body, filler, CL_ENVELOPE_MAX), CL_OK);
	uint8_t sig[64] = {0}, signer[32] = {0};
	assert_int_equal(cl_envelope_encode(&env, cl_buf_view(&body), sig, signer), CL_ETOOLARGE);
	free(filler);
	cl_buf_free(&body);
	cl_buf_free(&env);
}

/* Flipping any single bit of a valid envelope never crashes the decoder, and whatever decodes
 * no longer verifies against the original signature unless only non-signed bytes changed. */
static void test_bit_flips(void **state)
{
	(void)state;
	cl_buf d = CL_BUF_INIT(4096), env = CL_BUF_INIT(CL_ENVELOPE_MAX);
	sample_data(&d);
	build(&env, 9, 42, "primary.set", "owner", cl_buf_view(&d));
	for (size_t i = 0; i < env.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			env.ptr[i] ^= (uint8_t)(1u << bit);
			cl_event ev;
			cl_error err = CL_ERROR_INIT;
			if (cl_envelope_decode(cl_buf_view(&env), &ev, &err) == CL_OK) {
				bool sig_ok = cl_ed25519_verify(key->pub, NULL, CL_EVENT_SIG_DOMAIN, ev.body, ev.sig);
				bool signer_ok = memcmp(ev.signer, key->signer_id, 32) == 0;
				assert_false(sig_ok && signer_ok);
			} else {
				assert_true(err.msg[0] != '\0');
			}
			env.ptr[i] ^= (uint8_t)(1u << bit);
		}
	}
	cl_buf_free(&d);
	cl_buf_free(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_truncation_and_trailing_bytes),
		cmocka_unit_test(test_body_rules),
		cmocka_unit_test(test_envelope_shape),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_bit_flips),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
