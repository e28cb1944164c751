/* test_sealed.c - the one sealed-blob construction (ledger/sealed.h), for every purpose:
 *  - blobs written before the construction was shared (by ingest/seal.c and
 *    export/webhook_secret.c, vectors below) still open: the on-disk format did not change;
 *  - a blob decrypts by hand, with OpenSSL and the layout and AADs as documented (sealed.h,
 *    docs/format.md), so the documentation is the format;
 *  - round trips from 1 byte to CL_SEALED_MAX, a fresh data key and nonces every time;
 *  - another master key, another context (one bit, one byte more or less), another purpose,
 *    every flipped bit of every byte, every truncation and an extension: does not open, and the
 *    output is left empty; rewrap refuses the same blobs and carries nothing forward;
 *  - rewrap changes only the wrap part (bytes 1..60), opens under the new key only;
 *  - usage errors (key length, context, purpose, sizes, output too small) are told apart from
 *    integrity failures;
 *  - the plaintext and the data key are in no freed block after seal, open, rewrap or a failed
 *    open (OpenSSL's allocator is hooked). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tu_memwatch.h"

#include "ledger/sealed.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static const char FP_NOT_OPEN[] = "sealed key does not open: wrong master key or damaged";
static const char WH_NOT_OPEN[] = "sealed webhook secret does not open: wrong master key or damaged";
static const char WH_ID[] = "wh_0123456789ab";

/* Both purposes with a context of each, to run every property for both. */
typedef struct usecase {
	cl_sealed_purpose purpose;
	const char *wrap_label, *data_label;
	bool length_byte;
	uint8_t ctx[32];
	size_t ctx_len;
	const char *not_open;
} usecase;

static void usecases(usecase u[2])
{
	memset(u, 0, 2 * sizeof(*u));
	u[0].purpose = CL_SEALED_PRIVATE_KEY;
	u[0].wrap_label = "certledger/keywrap";
	u[0].data_label = "certledger/keydata";
	u[0].length_byte = false;
	for (int i = 0; i < 32; i++)
		u[0].ctx[i] = (uint8_t)(0xa0 + i);
	u[0].ctx_len = 32;
	u[0].not_open = FP_NOT_OPEN;
	u[1].purpose = CL_SEALED_WEBHOOK_SECRET;
	u[1].wrap_label = "certledger/whsec-wrap";
	u[1].data_label = "certledger/whsec-data";
	u[1].length_byte = true;
	memcpy(u[1].ctx, WH_ID, strlen(WH_ID));
	u[1].ctx_len = strlen(WH_ID);
	u[1].not_open = WH_NOT_OPEN;
}

static cl_bytes ctx_of(const usecase *u)
{
	return CL_BYTES(u->ctx, u->ctx_len);
}

static void master(cl_secret *m, uint8_t fill)
{
	*m = (cl_secret)CL_SECRET_INIT(32);
	assert_int_equal(cl_secret_alloc(m, 32), CL_OK);
	for (int i = 0; i < 32; i++)
		m->ptr[i] = (uint8_t)(fill + i);
}

static void plaintext(cl_secret *p, size_t n, uint8_t fill)
{
	*p = (cl_secret)CL_SECRET_INIT(n);
	assert_int_equal(cl_secret_alloc(p, n), CL_OK);
	for (size_t i = 0; i < n; i++)
		p->ptr[i] = (uint8_t)(fill + 13 * i + (i >> 8));
}

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sscanf(hex + 2 * i, "%2hhx", &out[i]), 1);
	return n;
}

/* The AAD as documented: label || 0x01 || [length byte] || context. */
static size_t doc_aad(uint8_t *out, const usecase *u, const char *label)
{
	size_t n = strlen(label);
	memcpy(out, label, n);
	out[n++] = 0x01;
	if (u->length_byte)
		out[n++] = (uint8_t)u->ctx_len;
	memcpy(out + n, u->ctx, u->ctx_len);
	return n + u->ctx_len;
}

/* AES-256-GCM decryption straight with OpenSSL: 1 when the tag checks. */
static int gcm_decrypt(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
		       const uint8_t *ct, size_t n, const uint8_t tag[16], uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0, ok = c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
			  EVP_DecryptUpdate(c, NULL, &len, aad, (int)aad_len) == 1 &&
			  EVP_DecryptUpdate(c, out, &len, ct, (int)n) == 1 && (size_t)len == n &&
			  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) == 1 &&
			  EVP_DecryptFinal_ex(c, out + n, &len) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok;
}

/* Opens blob by hand as documented; the data key goes to dk (32 bytes), the plaintext to out. */
static int open_by_hand(const usecase *u, const cl_secret *m, cl_bytes blob, uint8_t dk[32], uint8_t *out)
{
	uint8_t aad[64 + 256];
	size_t n = blob.len - 89;
	if (blob.len < 90 || blob.ptr[0] != 0x01)
		return 0;
	size_t al = doc_aad(aad, u, u->wrap_label);
	if (!gcm_decrypt(m->ptr, blob.ptr + 1, aad, al, blob.ptr + 13, 32, blob.ptr + 45, dk))
		return 0;
	al = doc_aad(aad, u, u->data_label);
	return gcm_decrypt(dk, blob.ptr + 61, aad, al, blob.ptr + 73, n, blob.ptr + 73 + n, out);
}

/* blob must not open under (m, purpose, ctx): CL_EINTEGRITY with the purpose's message, out
 * empty; nor be re-wrapped (out empty). */
static void expect_no_open(const usecase *u, cl_sealed_purpose purpose, const cl_secret *m, cl_bytes ctx,
			   const uint8_t *blob, size_t len)
{
	cl_secret out = CL_SECRET_INIT(0);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_sealed__open(&out, m, purpose, ctx, CL_BYTES(blob, len), &err), CL_EINTEGRITY);
	assert_string_equal(err.msg, u->not_open);
	assert_null(out.ptr);
	assert_int_equal(out.len, 0);
	cl_secret other;
	master(&other, 0x77);
	cl_buf re = CL_BUF_INIT(1 << 20);
	assert_int_equal(cl_sealed__rewrap(&re, m, &other, purpose, ctx, CL_BYTES(blob, len), &err), CL_EINTEGRITY);
	assert_int_equal(re.len, 0);
	cl_buf_free(&re);
	cl_secret_free(&other);
}

/* What most tests start from: both use cases, two master keys and a 64-byte plaintext. */
typedef struct fx {
	usecase u[2];
	cl_secret m, m2, p;
} fx;

static int fx_setup(void **state)
{
	fx *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -1;
	usecases(x->u);
	master(&x->m, 1);
	master(&x->m2, 2);
	plaintext(&x->p, 64, 9);
	*state = x;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *x = *state;
	cl_secret_free(&x->m);
	cl_secret_free(&x->m2);
	cl_secret_free(&x->p);
	free(x);
	return 0;
}

/* Seals x->p under x->m for use case k into blob (which must succeed). */
static void seal_ok(cl_buf *blob, const fx *x, int k)
{
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_sealed__seal(blob, &x->m, x->u[k].purpose, ctx_of(&x->u[k]), &x->p, &err), CL_OK);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* Blobs written by the code before it was shared: master key bytes 0..31; the private key's
 * "PKCS#8" is the 40 ASCII bytes below, for fingerprint a0 a1 .. bf; the webhook key is the 32
 * ASCII bytes below, for subscription wh_0123456789ab. */
static void test_blobs_of_earlier_versions_open(void **state)
{
	(void)state;
	static const char KEYSTORE_HEX[] =
		"01b91237cad7157bf44265bbfa65183c90c1a42c151e5c45cd2114510c33e6a4"
		"e2489ac2754aad8a9c215878b9073b22cbfc7f87cadabab806147c6960b80899"
		"1839104903e5b5e256ca3658896631e528ac0979df6a5af9a0974c12dea68dd7"
		"a589fa6320e0f4f929b0d90e76304655414f8f0b59e0a1fcce81f802cfb6008f"
		"f4";
	static const char WHSEC_HEX[] =
		"0173863f7a804aa534f2da6bf86660e9077c84ac673448c4730d863479de5ecf"
		"549f5a8da223431bf68425e8dcd31cb9781ea056b52599f5992a1bd79dabcd56"
		"9d536ae9e8a7cb4e109b7a41e594af8be0a79d2672de2e8bfa637bd7ce5ba1a6"
		"08f816b8e0760a431519a21f3092deb68e1513c639f72704f3";
	static const char *const hex[2] = {KEYSTORE_HEX, WHSEC_HEX};
	static const char *const want[2] = {"certledger sealed private key test bytes", "certledger webhook secret key 32"};
	usecase u[2];
	usecases(u);
	cl_secret m = CL_SECRET_INIT(32), out = CL_SECRET_INIT(0);
	assert_int_equal(cl_secret_alloc(&m, 32), CL_OK);
	for (int i = 0; i < 32; i++)
		m.ptr[i] = (uint8_t)i;
	for (int k = 0; k < 2; k++) {
		uint8_t blob[256];
		size_t n = unhex(blob, sizeof(blob), hex[k]);
		cl_error err = CL_ERROR_INIT;
		assert_int_equal(cl_sealed__open(&out, &m, u[k].purpose, ctx_of(&u[k]), CL_BYTES(blob, n), &err), CL_OK);
		assert_int_equal(out.len, strlen(want[k]));
		assert_memory_equal(out.ptr, want[k], out.len);
		/* and read as the other purpose, it does not open */
		expect_no_open(&u[1 - k], u[1 - k].purpose, &m, ctx_of(&u[1 - k]), blob, n);
	}
	cl_secret_free(&out);
	cl_secret_free(&m);
}

/* The documented layout and AADs are the format: a blob decrypts by hand. */
static void test_layout_as_documented(void **state)
{
	fx *x = *state;
	for (int k = 0; k < 2; k++) {
		const usecase *u = &x->u[k];
		cl_buf blob = CL_BUF_INIT(1 << 20);
		seal_ok(&blob, x, k);
		assert_int_equal(CL_SEALED_OVERHEAD, 89);
		assert_int_equal(blob.len, 89 + x->p.len);
		assert_int_equal(blob.ptr[0], 0x01);
		uint8_t dk[32], out[64 + 16];
		assert_true(open_by_hand(u, &x->m, cl_buf_view(&blob), dk, out));
		assert_memory_equal(out, x->p.ptr, x->p.len);
		/* the data key is not the master key, and not in the blob */
		assert_true(memcmp(dk, x->m.ptr, 32) != 0);
		assert_null(memmem(blob.ptr, blob.len, dk, 32));
		OPENSSL_cleanse(dk, sizeof(dk));
		OPENSSL_cleanse(out, sizeof(out));
		cl_buf_free(&blob);
	}
}

static void test_round_trips(void **state)
{
	(void)state;
	usecase u[2];
	usecases(u);
	cl_secret m;
	master(&m, 1);
	static const size_t sizes[] = {1, 24, 32, 64, 1000, CL_SEALED_MAX};
	for (int k = 0; k < 2; k++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			cl_secret p, back = CL_SECRET_INIT(0);
			cl_buf b1 = CL_BUF_INIT(CL_SEALED_OVERHEAD + CL_SEALED_MAX), b2 = CL_BUF_INIT(CL_SEALED_OVERHEAD + CL_SEALED_MAX);
			cl_error err = CL_ERROR_INIT;
			plaintext(&p, sizes[s], (uint8_t)(s + 3));
			assert_int_equal(cl_sealed__seal(&b1, &m, u[k].purpose, ctx_of(&u[k]), &p, &err), CL_OK);
			assert_int_equal(b1.len, CL_SEALED_OVERHEAD + p.len);
			assert_int_equal(cl_sealed__open(&back, &m, u[k].purpose, ctx_of(&u[k]), cl_buf_view(&b1), &err), CL_OK);
			assert_int_equal(back.len, p.len);
			assert_memory_equal(back.ptr, p.ptr, p.len);
			/* sealing again: another data key and other nonces, so nothing but the version repeats */
			assert_int_equal(cl_sealed__seal(&b2, &m, u[k].purpose, ctx_of(&u[k]), &p, &err), CL_OK);
			assert_int_equal(b2.len, b1.len);
			assert_true(memcmp(b2.ptr + 1, b1.ptr + 1, 12) != 0);
			assert_true(memcmp(b2.ptr + 13, b1.ptr + 13, 32) != 0);
			assert_true(memcmp(b2.ptr + 61, b1.ptr + 61, 12) != 0);
			assert_true(memcmp(b2.ptr + 73, b1.ptr + 73, b1.len - 73) != 0);
			if (p.len >= 16)
				assert_null(memmem(b1.ptr, b1.len, p.ptr, 16));
			cl_secret_free(&p);
			cl_secret_free(&back);
			cl_buf_free(&b1);
			cl_buf_free(&b2);
		}
	}
	cl_secret_free(&m);
}

/* Another master key, context or purpose does not open; the AAD encoding tells contexts of
 * different lengths apart. */
static void test_wrong_master_context_purpose(void **state)
{
	fx *x = *state;
	for (int k = 0; k < 2; k++) {
		const usecase *u = &x->u[k];
		cl_bytes c = ctx_of(u);
		cl_buf blob = CL_BUF_INIT(1 << 20);
		seal_ok(&blob, x, k);
		expect_no_open(u, u->purpose, &x->m2, c, blob.ptr, blob.len);
		/* one bit of the context, in every byte */
		for (size_t i = 0; i < u->ctx_len; i++) {
			uint8_t flipped[32];
			memcpy(flipped, u->ctx, u->ctx_len);
			flipped[i] ^= 0x01;
			expect_no_open(u, u->purpose, &x->m, CL_BYTES(flipped, u->ctx_len), blob.ptr, blob.len);
		}
		/* the context's prefix, and the context with a byte more */
		uint8_t longer[33];
		memcpy(longer, u->ctx, u->ctx_len);
		longer[u->ctx_len] = u->ctx[0];
		expect_no_open(u, u->purpose, &x->m, CL_BYTES(u->ctx, u->ctx_len - 1), blob.ptr, blob.len);
		expect_no_open(u, u->purpose, &x->m, CL_BYTES(longer, u->ctx_len + 1), blob.ptr, blob.len);
		cl_buf_free(&blob);
	}
	/* the same 32 context bytes under the other purpose */
	cl_buf blob = CL_BUF_INIT(1 << 20);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_sealed__seal(&blob, &x->m, CL_SEALED_WEBHOOK_SECRET, ctx_of(&x->u[0]), &x->p, &err), CL_OK);
	expect_no_open(&x->u[0], CL_SEALED_PRIVATE_KEY, &x->m, ctx_of(&x->u[0]), blob.ptr, blob.len);
	assert_int_equal(cl_sealed__seal(&blob, &x->m, CL_SEALED_PRIVATE_KEY, ctx_of(&x->u[0]), &x->p, &err), CL_OK);
	expect_no_open(&x->u[1], CL_SEALED_WEBHOOK_SECRET, &x->m, ctx_of(&x->u[0]), blob.ptr, blob.len);
	cl_buf_free(&blob);
}

/* Every single-bit change of every byte, every truncation and an extension is caught, by open
 * and by rewrap alike. */
static void test_every_flipped_bit(void **state)
{
	fx *x = *state;
	for (int k = 0; k < 2; k++) {
		const usecase *u = &x->u[k];
		cl_bytes c = ctx_of(u);
		cl_buf blob = CL_BUF_INIT(1 << 20);
		cl_error err = CL_ERROR_INIT;
		seal_ok(&blob, x, k);
		uint8_t *copy = malloc(blob.len + 1);
		assert_non_null(copy);
		size_t flips = 0;
		for (size_t i = 0; i < blob.len; i++) {
			for (int bit = 0; bit < 8; bit++) {
				memcpy(copy, blob.ptr, blob.len);
				copy[i] ^= (uint8_t)(1u << bit);
				expect_no_open(u, u->purpose, &x->m, c, copy, blob.len);
				flips++;
			}
		}
		for (size_t len = 0; len < blob.len; len++)
			expect_no_open(u, u->purpose, &x->m, c, blob.ptr, len);
		memcpy(copy, blob.ptr, blob.len);
		copy[blob.len] = 0;
		expect_no_open(u, u->purpose, &x->m, c, copy, blob.len + 1);
		print_message("%s: %zu single-bit flips of a %zu-byte blob, none opened\n", u->wrap_label, flips,
			      blob.len);
		cl_secret back = CL_SECRET_INIT(0);
		assert_int_equal(cl_sealed__open(&back, &x->m, u->purpose, c, cl_buf_view(&blob), &err), CL_OK);
		assert_memory_equal(back.ptr, x->p.ptr, x->p.len);
		cl_secret_free(&back);
		free(copy);
		cl_buf_free(&blob);
	}
}

static void test_rewrap(void **state)
{
	fx *x = *state;
	cl_secret third;
	master(&third, 6);
	for (int k = 0; k < 2; k++) {
		const usecase *u = &x->u[k];
		cl_bytes c = ctx_of(u);
		cl_buf blob = CL_BUF_INIT(1 << 20), re = CL_BUF_INIT(1 << 20), re2 = CL_BUF_INIT(1 << 20);
		cl_secret back = CL_SECRET_INIT(0);
		cl_error err = CL_ERROR_INIT;
		seal_ok(&blob, x, k);
		assert_int_equal(cl_sealed__rewrap(&re, &x->m, &x->m2, u->purpose, c, cl_buf_view(&blob), &err),
				 CL_OK);
		/* only the wrap (nonce, wrapped key, tag: bytes 1..60) changed */
		assert_int_equal(re.len, blob.len);
		assert_int_equal(re.ptr[0], CL_SEALED_VERSION);
		assert_memory_equal(re.ptr + 61, blob.ptr + 61, blob.len - 61);
		assert_true(memcmp(re.ptr + 1, blob.ptr + 1, 12) != 0);
		assert_true(memcmp(re.ptr + 13, blob.ptr + 13, 32) != 0);
		/* the same data key inside: by hand, under each master key */
		uint8_t dk1[32], dk2[32], out[64 + 16];
		assert_true(open_by_hand(u, &x->m, cl_buf_view(&blob), dk1, out));
		assert_true(open_by_hand(u, &x->m2, cl_buf_view(&re), dk2, out));
		assert_memory_equal(dk1, dk2, 32);
		OPENSSL_cleanse(dk1, sizeof(dk1));
		OPENSSL_cleanse(dk2, sizeof(dk2));
		OPENSSL_cleanse(out, sizeof(out));
		/* the new blob opens under the new key only; the old one is untouched */
		assert_int_equal(cl_sealed__open(&back, &x->m2, u->purpose, c, cl_buf_view(&re), &err), CL_OK);
		assert_memory_equal(back.ptr, x->p.ptr, x->p.len);
		expect_no_open(u, u->purpose, &x->m, c, re.ptr, re.len);
		assert_int_equal(cl_sealed__open(&back, &x->m, u->purpose, c, cl_buf_view(&blob), &err), CL_OK);
		/* and again, to a third key */
		assert_int_equal(cl_sealed__rewrap(&re2, &x->m2, &third, u->purpose, c, cl_buf_view(&re), &err),
				 CL_OK);
		assert_int_equal(cl_sealed__open(&back, &third, u->purpose, c, cl_buf_view(&re2), &err), CL_OK);
		assert_memory_equal(back.ptr, x->p.ptr, x->p.len);
		/* not under a key it is not wrapped under, and a damaged ciphertext is not carried forward */
		assert_int_equal(cl_sealed__rewrap(&re2, &x->m2, &third, u->purpose, c, cl_buf_view(&blob), &err),
				 CL_EINTEGRITY);
		assert_int_equal(re2.len, 0);
		blob.ptr[blob.len - 20] ^= 1;
		assert_int_equal(cl_sealed__rewrap(&re2, &x->m, &x->m2, u->purpose, c, cl_buf_view(&blob), &err),
				 CL_EINTEGRITY);
		assert_string_equal(err.msg, u->not_open);
		assert_int_equal(re2.len, 0);
		blob.ptr[blob.len - 20] ^= 1;
		/* an output that cannot hold the blob */
		cl_buf tiny = CL_BUF_INIT(CL_SEALED_OVERHEAD);
		assert_int_equal(cl_sealed__rewrap(&tiny, &x->m, &x->m2, u->purpose, c, cl_buf_view(&blob), &err),
				 CL_ETOOLARGE);
		assert_int_equal(tiny.len, 0);
		cl_buf_free(&tiny);
		cl_secret_free(&back);
		cl_buf_free(&blob);
		cl_buf_free(&re);
		cl_buf_free(&re2);
	}
	cl_secret_free(&third);
}

/* Wrong arguments are usage errors, not integrity failures, and write nothing. */
static void test_usage_errors(void **state)
{
	(void)state;
	usecase u[2];
	usecases(u);
	cl_secret m, p, short_m = CL_SECRET_INIT(31), empty = CL_SECRET_INIT(0), big = CL_SECRET_INIT(CL_SEALED_MAX + 1);
	cl_secret back = CL_SECRET_INIT(0);
	master(&m, 8);
	plaintext(&p, 32, 1);
	assert_int_equal(cl_secret_alloc(&short_m, 31), CL_OK);
	assert_int_equal(cl_secret_alloc(&big, CL_SEALED_MAX + 1), CL_OK);
	cl_buf blob = CL_BUF_INIT(1 << 20), out = CL_BUF_INIT(1 << 20);
	cl_error err = CL_ERROR_INIT;
	uint8_t ctx[256];
	memset(ctx, 'x', sizeof(ctx));
	assert_int_equal(cl_sealed__seal(&blob, &m, u[0].purpose, ctx_of(&u[0]), &p, &err), CL_OK);

	assert_int_equal(cl_sealed__seal(&out, &short_m, u[0].purpose, ctx_of(&u[0]), &p, &err), CL_EUSAGE);
	assert_int_equal(cl_sealed__open(&back, &short_m, u[0].purpose, ctx_of(&u[0]), cl_buf_view(&blob), &err),
			 CL_EUSAGE);
	assert_int_equal(cl_sealed__rewrap(&out, &short_m, &m, u[0].purpose, ctx_of(&u[0]), cl_buf_view(&blob), &err),
			 CL_EUSAGE);
	assert_int_equal(cl_sealed__rewrap(&out, &m, &short_m, u[0].purpose, ctx_of(&u[0]), cl_buf_view(&blob), &err),
			 CL_EUSAGE);
	assert_int_equal(cl_sealed__seal(&out, &m, (cl_sealed_purpose)7, ctx_of(&u[0]), &p, &err), CL_EUSAGE);
	assert_int_equal(cl_sealed__open(&back, &m, (cl_sealed_purpose)7, ctx_of(&u[0]), cl_buf_view(&blob), &err),
			 CL_EUSAGE);
	assert_int_equal(cl_sealed__seal(&out, &m, u[0].purpose, ctx_of(&u[0]), &empty, &err), CL_EUSAGE);
	assert_int_equal(cl_sealed__seal(&out, &m, u[0].purpose, ctx_of(&u[0]), &big, &err), CL_EUSAGE);
	/* contexts: 32 bytes for a private key, 1..255 for a webhook secret */
	static const struct {
		cl_sealed_purpose p;
		size_t len;
		bool ok;
	} ctxs[] = {
		{CL_SEALED_PRIVATE_KEY, 31, false}, {CL_SEALED_PRIVATE_KEY, 32, true},
		{CL_SEALED_PRIVATE_KEY, 33, false}, {CL_SEALED_PRIVATE_KEY, 0, false},
		{CL_SEALED_WEBHOOK_SECRET, 0, false}, {CL_SEALED_WEBHOOK_SECRET, 1, true},
		{CL_SEALED_WEBHOOK_SECRET, 255, true}, {CL_SEALED_WEBHOOK_SECRET, 256, false},
	};
	for (size_t i = 0; i < sizeof(ctxs) / sizeof(ctxs[0]); i++) {
		cl_bytes c = CL_BYTES(ctx, ctxs[i].len);
		assert_int_equal(cl_sealed__context_ok(ctxs[i].p, c), ctxs[i].ok);
		cl_err rc = cl_sealed__seal(&out, &m, ctxs[i].p, c, &p, &err);
		assert_int_equal(rc, ctxs[i].ok ? CL_OK : CL_EUSAGE);
		if (ctxs[i].ok) {
			assert_int_equal(cl_sealed__open(&back, &m, ctxs[i].p, c, cl_buf_view(&out), &err), CL_OK);
			assert_memory_equal(back.ptr, p.ptr, p.len);
		} else {
			assert_int_equal(out.len, 0);
			/* nothing can have been sealed for it: it does not open */
			assert_int_equal(cl_sealed__open(&back, &m, ctxs[i].p, c, cl_buf_view(&blob), &err), CL_EINTEGRITY);
		}
	}
	assert_false(cl_sealed__context_ok(CL_SEALED_WEBHOOK_SECRET, CL_BYTES(NULL, 0)));
	assert_false(cl_sealed__context_ok((cl_sealed_purpose)7, CL_BYTES(ctx, 32)));
	/* an output buffer too small for the blob */
	cl_buf tiny = CL_BUF_INIT(CL_SEALED_OVERHEAD + 31);
	assert_int_equal(cl_sealed__seal(&tiny, &m, u[0].purpose, ctx_of(&u[0]), &p, &err), CL_ETOOLARGE);
	assert_int_equal(tiny.len, 0);
	cl_buf_free(&tiny);
	cl_buf_free(&blob);
	cl_buf_free(&out);
	cl_secret_free(&back);
	cl_secret_free(&big);
	cl_secret_free(&empty);
	cl_secret_free(&short_m);
	cl_secret_free(&p);
	cl_secret_free(&m);
}

/* Sealing, opening, re-wrapping and failing to open leave neither the plaintext nor the data
 * key in a freed block. */
static void test_plaintext_and_data_key_wiped(void **state)
{
	fx *x = *state;
	for (int k = 0; k < 2; k++) {
		const usecase *u = &x->u[k];
		cl_bytes c = ctx_of(u);
		cl_buf blob = CL_BUF_INIT(1 << 20), re = CL_BUF_INIT(1 << 20);
		cl_secret back = CL_SECRET_INIT(0);
		cl_error err = CL_ERROR_INIT;
		uint8_t dk[32], out[64 + 16];
		tu_memwatch_reset();
		tu_memwatch_set(0, x->p.ptr, x->p.len);
		assert_int_equal(cl_sealed__seal(&blob, &x->m, u->purpose, c, &x->p, &err), CL_OK);
		assert_int_equal(tu_memwatch_found(), 0);
		tu_memwatch_set(0, NULL, 0);
		assert_true(open_by_hand(u, &x->m, cl_buf_view(&blob), dk, out)); /* not watched: ours */
		tu_memwatch_set(0, x->p.ptr, x->p.len);
		tu_memwatch_set(1, dk, sizeof(dk));
		assert_int_equal(cl_sealed__open(&back, &x->m, u->purpose, c, cl_buf_view(&blob), &err), CL_OK);
		cl_secret_free(&back);
		assert_int_equal(cl_sealed__rewrap(&re, &x->m, &x->m2, u->purpose, c, cl_buf_view(&blob), &err), CL_OK);
		blob.ptr[blob.len - 1] ^= 1; /* the data key unwraps, the ciphertext fails */
		assert_int_equal(cl_sealed__open(&back, &x->m, u->purpose, c, cl_buf_view(&blob), &err),
				 CL_EINTEGRITY);
		assert_int_equal(cl_sealed__rewrap(&re, &x->m, &x->m2, u->purpose, c, cl_buf_view(&blob), &err),
				 CL_EINTEGRITY);
		int found = tu_memwatch_found();
		tu_memwatch_reset();
		assert_int_equal(found, 0);
		OPENSSL_cleanse(dk, sizeof(dk));
		OPENSSL_cleanse(out, sizeof(out));
		cl_buf_free(&blob);
		cl_buf_free(&re);
	}
}

int main(void)
{
	if (tu_memwatch_install() != 0) {
		fprintf(stderr, "cannot hook OpenSSL's allocator\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blobs_of_earlier_versions_open),
		cmocka_unit_test_setup_teardown(test_layout_as_documented, fx_setup, fx_teardown),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test_setup_teardown(test_wrong_master_context_purpose, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_every_flipped_bit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rewrap, fx_setup, fx_teardown),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test_setup_teardown(test_plaintext_and_data_key_wiped, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
