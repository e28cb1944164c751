/* test_seal.c - sealed private keys (ingest/seal.h over ledger/sealed.h): round trips for RSA,
 * EC and Ed25519 keys; any other master key, any other fingerprint, any flipped bit, any
 * truncation or extension fails to open; re-wrapping a key blob under a new master key (the
 * ledger's cl_sealed__rewrap, as rotation does it) keeps the ciphertext, opens with the new key
 * and no longer with the old; the blob holds neither the PKCS#8 DER nor the raw private scalar;
 * the plaintext is wiped; and the master key file (ledger/master_key.h) is 0600 and refused
 * when group- or world-readable. The construction itself, for every purpose, is
 * tests/test_sealed.c's. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_memwatch.h"

#include "ingest/seal.h"
#include "ledger/master_key.h"
#include "ledger/sealed.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static const char NOT_OPEN[] = "sealed key does not open: wrong master key or damaged";

static void master(cl_secret *m, uint8_t fill)
{
	*m = (cl_secret)CL_SECRET_INIT(32);
	assert_int_equal(cl_secret_alloc(m, 32), CL_OK);
	for (int i = 0; i < 32; i++)
		m->ptr[i] = (uint8_t)(fill + 7 * i);
}

static void fingerprint(uint8_t fp[32], uint8_t fill)
{
	for (int i = 0; i < 32; i++)
		fp[i] = (uint8_t)(fill ^ (uint8_t)i);
}

static EVP_PKEY *gen_key(const char *type)
{
	EVP_PKEY *k;
	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "EC") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(k);
	return k;
}

/* The raw private scalar: RSA d, EC private key, Ed25519 seed. */
static size_t private_scalar(EVP_PKEY *k, uint8_t *out, size_t cap)
{
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) {
		size_t n = cap;
		assert_int_equal(EVP_PKEY_get_raw_private_key(k, out, &n), 1);
		return n;
	}
	BIGNUM *bn = NULL;
	const char *name = EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
	assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
	int n = BN_bn2bin(bn, out);
	BN_clear_free(bn);
	assert_true(n > 0 && (size_t)n <= cap);
	return (size_t)n;
}

static bool contains_window(cl_bytes hay, const uint8_t *needle, size_t n, size_t window)
{
	for (size_t i = 0; i + window <= n; i++)
		if (memmem(hay.ptr, hay.len, needle + i, window) != NULL)
			return true;
	return false;
}

/* Re-wraps a sealed private key the way master-key rotation does. */
static cl_err rewrap_key(cl_buf *out, const cl_secret *old_m, const cl_secret *new_m, const uint8_t fp[32],
			 cl_bytes blob, cl_error *err)
{
	return cl_sealed__rewrap(out, old_m, new_m, CL_SEALED_PRIVATE_KEY, CL_BYTES(fp, 32), blob, err);
}

static void expect_no_open(const cl_secret *m, const uint8_t fp[32], const uint8_t *blob, size_t len)
{
	cl_secret p8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_seal_open_pkcs8(&p8, m, fp, CL_BYTES(blob, len), &err), CL_EINTEGRITY);
	assert_string_equal(err.msg, NOT_OPEN);
	assert_null(p8.ptr);
	EVP_PKEY *k = NULL;
	assert_int_equal(cl_seal_open(&k, m, fp, CL_BYTES(blob, len), &err), CL_EINTEGRITY);
	assert_null(k);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	(void)state;
	const char *types[] = {"RSA", "EC", "ED25519"};
	cl_secret m;
	uint8_t fp[32];
	master(&m, 1);
	fingerprint(fp, 0xa5);
	for (size_t t = 0; t < 3; t++) {
		EVP_PKEY *key = gen_key(types[t]);
		cl_secret p8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8), back = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
		cl_buf blob = CL_BUF_INIT(1 << 20), blob2 = CL_BUF_INIT(1 << 20);
		cl_error err = CL_ERROR_INIT;
		assert_int_equal(cl_seal_pkcs8_from_pkey(&p8, key, &err), CL_OK);
		assert_int_equal(cl_seal_key(&blob, &m, fp, key, &err), CL_OK);
		assert_int_equal(blob.len, CL_SEALED_OVERHEAD + p8.len);
		assert_int_equal(blob.ptr[0], CL_SEALED_VERSION);
		/* opens to the same PKCS#8 and to an equal key with the same private part */
		assert_int_equal(cl_seal_open_pkcs8(&back, &m, fp, cl_buf_view(&blob), &err), CL_OK);
		assert_int_equal(back.len, p8.len);
		assert_memory_equal(back.ptr, p8.ptr, p8.len);
		EVP_PKEY *opened = NULL;
		assert_int_equal(cl_seal_open(&opened, &m, fp, cl_buf_view(&blob), &err), CL_OK);
		assert_int_equal(EVP_PKEY_eq(opened, key), 1);
		uint8_t s1[512], s2[512];
		size_t n1 = private_scalar(key, s1, sizeof(s1)), n2 = private_scalar(opened, s2, sizeof(s2));
		assert_int_equal(n1, n2);
		assert_memory_equal(s1, s2, n1);
		/* the blob holds neither the PKCS#8 DER nor the scalar, not even 12 bytes of them */
		assert_false(contains_window(cl_buf_view(&blob), p8.ptr, p8.len, 12));
		assert_false(contains_window(cl_buf_view(&blob), s1, n1, 12));
		/* sealing again gives another blob: fresh data key and nonces */
		assert_int_equal(cl_seal_key(&blob2, &m, fp, key, &err), CL_OK);
		assert_int_equal(blob2.len, blob.len);
		assert_true(memcmp(blob2.ptr + 1, blob.ptr + 1, blob.len - 1) != 0);
		assert_true(memcmp(blob2.ptr + 13, blob.ptr + 13, 32) != 0);
		OPENSSL_cleanse(s1, sizeof(s1));
		OPENSSL_cleanse(s2, sizeof(s2));
		EVP_PKEY_free(opened);
		EVP_PKEY_free(key);
		cl_secret_free(&p8);
		cl_secret_free(&back);
		cl_buf_free(&blob);
		cl_buf_free(&blob2);
	}
	cl_secret_free(&m);
}

static void test_wrong_master_and_fingerprint(void **state)
{
	(void)state;
	cl_secret m, other;
	uint8_t fp[32], fp2[32];
	master(&m, 1);
	master(&other, 2);
	fingerprint(fp, 0x11);
	memcpy(fp2, fp, 32);
	fp2[31] ^= 0x80; /* one bit */
	EVP_PKEY *key = gen_key("EC");
	cl_buf blob = CL_BUF_INIT(1 << 20);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_seal_key(&blob, &m, fp, key, &err), CL_OK);
	expect_no_open(&other, fp, blob.ptr, blob.len);
	expect_no_open(&m, fp2, blob.ptr, blob.len); /* the AAD binds the fingerprint */
	/* a master key of the wrong length is a usage error, not an integrity failure */
	cl_secret short_key = CL_SECRET_INIT(16);
	assert_int_equal(cl_secret_alloc(&short_key, 16), CL_OK);
	EVP_PKEY *k = NULL;
	assert_int_equal(cl_seal_open(&k, &short_key, fp, cl_buf_view(&blob), &err), CL_EUSAGE);
	cl_buf b2 = CL_BUF_INIT(1 << 20);
	assert_int_equal(cl_seal_key(&b2, &short_key, fp, key, &err), CL_EUSAGE);
	/* an output buffer too small for the blob */
	cl_buf tiny = CL_BUF_INIT(CL_SEALED_OVERHEAD);
	assert_int_equal(cl_seal_key(&tiny, &m, fp, key, &err), CL_ETOOLARGE);
	assert_int_equal(tiny.len, 0);
	cl_buf_free(&tiny);
	cl_buf_free(&b2);
	cl_secret_free(&short_key);
	cl_buf_free(&blob);
	EVP_PKEY_free(key);
	cl_secret_free(&m);
	cl_secret_free(&other);
}

/* Every single-bit change, every truncation and any extension is caught. */
static void test_tampering(void **state)
{
	(void)state;
	cl_secret m;
	uint8_t fp[32];
	master(&m, 3);
	fingerprint(fp, 0x22);
	EVP_PKEY *key = gen_key("EC");
	cl_buf blob = CL_BUF_INIT(1 << 20);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_seal_key(&blob, &m, fp, key, &err), CL_OK);
	uint8_t *copy = malloc(blob.len + 1);
	size_t flips = 0;
	for (size_t i = 0; i < blob.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, blob.ptr, blob.len);
			copy[i] ^= (uint8_t)(1u << bit);
			expect_no_open(&m, fp, copy, blob.len);
			flips++;
		}
	}
	for (size_t len = 0; len < blob.len; len += (len < CL_SEALED_OVERHEAD + 2 ? 1 : 7)) {
		memcpy(copy, blob.ptr, len);
		expect_no_open(&m, fp, copy, len);
	}
	memcpy(copy, blob.ptr, blob.len);
	copy[blob.len] = 0;
	expect_no_open(&m, fp, copy, blob.len + 1);
	print_message("tampering: %zu single-bit flips of a %zu-byte blob, none opened\n", flips, blob.len);
	/* the untouched blob still opens */
	EVP_PKEY *k = NULL;
	assert_int_equal(cl_seal_open(&k, &m, fp, cl_buf_view(&blob), &err), CL_OK);
	EVP_PKEY_free(k);
	free(copy);
	cl_buf_free(&blob);
	EVP_PKEY_free(key);
	cl_secret_free(&m);
}

static void test_rewrap(void **state)
{
	(void)state;
	cl_secret old_m, new_m;
	uint8_t fp[32];
	master(&old_m, 4);
	master(&new_m, 5);
	fingerprint(fp, 0x33);
	EVP_PKEY *key = gen_key("RSA");
	cl_buf blob = CL_BUF_INIT(1 << 20), re = CL_BUF_INIT(1 << 20);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_seal_key(&blob, &old_m, fp, key, &err), CL_OK);
	assert_int_equal(rewrap_key(&re, &old_m, &new_m, fp, cl_buf_view(&blob), &err), CL_OK);
	assert_int_equal(re.len, blob.len);
	assert_int_equal(re.ptr[0], CL_SEALED_VERSION);
	/* only the wrap (nonce, wrapped key, tag: bytes 1..60) changed */
	assert_memory_equal(re.ptr + 61, blob.ptr + 61, blob.len - 61);
	assert_true(memcmp(re.ptr + 1, blob.ptr + 1, 60) != 0);
	EVP_PKEY *k = NULL;
	assert_int_equal(cl_seal_open(&k, &new_m, fp, cl_buf_view(&re), &err), CL_OK);
	assert_int_equal(EVP_PKEY_eq(k, key), 1);
	EVP_PKEY_free(k);
	expect_no_open(&old_m, fp, re.ptr, re.len);
	/* the old blob is untouched and still opens with the old key */
	assert_int_equal(cl_seal_open(&k, &old_m, fp, cl_buf_view(&blob), &err), CL_OK);
	EVP_PKEY_free(k);

	/* a damaged blob is not carried forward; neither is one under another master key */
	blob.ptr[blob.len - 20] ^= 1;
	assert_int_equal(rewrap_key(&re, &old_m, &new_m, fp, cl_buf_view(&blob), &err), CL_EINTEGRITY);
	assert_int_equal(re.len, 0);
	blob.ptr[blob.len - 20] ^= 1;
	assert_int_equal(rewrap_key(&re, &new_m, &old_m, fp, cl_buf_view(&blob), &err), CL_EINTEGRITY);
	cl_buf_free(&blob);
	cl_buf_free(&re);
	EVP_PKEY_free(key);
	cl_secret_free(&old_m);
	cl_secret_free(&new_m);
}

/* Sealing and opening PKCS#8 bytes leave no freed block holding them. */
static void test_plaintext_wiped(void **state)
{
	(void)state;
	cl_secret m;
	uint8_t fp[32];
	master(&m, 6);
	fingerprint(fp, 0x44);
	EVP_PKEY *key = gen_key("EC");
	cl_secret p8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8), back = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
	cl_buf blob = CL_BUF_INIT(1 << 20), re = CL_BUF_INIT(1 << 20);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_seal_pkcs8_from_pkey(&p8, key, &err), CL_OK);
	uint8_t needle[24];
	memcpy(needle, p8.ptr + p8.len - sizeof(needle), sizeof(needle)); /* the end: key bytes */
	tu_memwatch_reset();
	tu_memwatch_set(0, needle, sizeof(needle));
	assert_int_equal(cl_seal_pkcs8(&blob, &m, fp, &p8, &err), CL_OK);
	assert_int_equal(cl_seal_open_pkcs8(&back, &m, fp, cl_buf_view(&blob), &err), CL_OK);
	cl_secret_free(&back);
	cl_secret m2;
	master(&m2, 9);
	assert_int_equal(rewrap_key(&re, &m, &m2, fp, cl_buf_view(&blob), &err), CL_OK);
	blob.ptr[70] ^= 1;
	assert_int_equal(cl_seal_open_pkcs8(&back, &m, fp, cl_buf_view(&blob), &err), CL_EINTEGRITY);
	cl_secret_free(&p8); /* the caller's copy too */
	tu_memwatch_set(0, NULL, 0);
	assert_int_equal(tu_memwatch_found(), 0);
	cl_secret_free(&m2);
	cl_buf_free(&blob);
	cl_buf_free(&re);
	EVP_PKEY_free(key);
	cl_secret_free(&m);
}

/* The master key file of ledger/master_key.h, used with seal: 0600, refused when readable by
 * group or others, rotated by prepare + install. */
static void test_master_key_file(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp("seal");
	char path[4096];
	snprintf(path, sizeof(path), "%s/master.key", dir);
	cl_error err = CL_ERROR_INIT;
	mode_t old_umask = umask(0);
	cl_err rc = cl_master_key_create(path, &err);
	umask(old_umask);
	assert_int_equal(rc, CL_OK);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cl_master_key_create(path, &err), CL_EEXISTS); /* never overwritten */

	cl_secret m = CL_SECRET_INIT(32);
	assert_int_equal(cl_master_key_load(&m, path, &err), CL_OK);
	assert_int_equal(m.len, 32);
	uint8_t fp[32];
	fingerprint(fp, 0x55);
	EVP_PKEY *key = gen_key("EC");
	cl_buf blob = CL_BUF_INIT(1 << 20), re = CL_BUF_INIT(1 << 20);
	assert_int_equal(cl_seal_key(&blob, &m, fp, key, &err), CL_OK);

	assert_int_equal(chmod(path, 0644), 0);
	cl_secret m2 = CL_SECRET_INIT(32);
	assert_int_equal(cl_master_key_load(&m2, path, &err), CL_EREFUSED);
	assert_null(m2.ptr);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(cl_master_key_load(&m2, path, &err), CL_EREFUSED);
	assert_int_equal(chmod(path, 0600), 0);

	/* rotation: new key in path.new, re-wrap, install; the old key no longer opens */
	cl_secret nm = CL_SECRET_INIT(32);
	assert_int_equal(cl_master_key_prepare(&nm, path, &err), CL_OK);
	assert_int_equal(rewrap_key(&re, &m, &nm, fp, cl_buf_view(&blob), &err), CL_OK);
	assert_int_equal(cl_master_key_install(path, &err), CL_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cl_master_key_load(&m2, path, &err), CL_OK);
	assert_memory_equal(m2.ptr, nm.ptr, 32);
	EVP_PKEY *k = NULL;
	assert_int_equal(cl_seal_open(&k, &m2, fp, cl_buf_view(&re), &err), CL_OK);
	assert_int_equal(EVP_PKEY_eq(k, key), 1);
	EVP_PKEY_free(k);
	expect_no_open(&m, fp, re.ptr, re.len);

	cl_secret_free(&m);
	cl_secret_free(&m2);
	cl_secret_free(&nm);
	cl_buf_free(&blob);
	cl_buf_free(&re);
	EVP_PKEY_free(key);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	if (tu_memwatch_install() != 0) {
		fprintf(stderr, "cannot hook OpenSSL's allocator\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_master_and_fingerprint),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_rewrap),
		cmocka_unit_test(test_plaintext_wiped),
		cmocka_unit_test(test_master_key_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
