/* seal.c - AES-256-GCM sealing of private keys under per-certificate data keys wrapped by the
 * master key (layout and guarantees in seal.h). */
#include "ingest/seal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <limits.h>
#include <string.h>

#include "ingest/ossl.h"

#define OFF_WRAP_NONCE 1
#define OFF_WRAPPED (OFF_WRAP_NONCE + CL_SEAL_NONCE_LEN)
#define OFF_WRAP_TAG (OFF_WRAPPED + CL_SEAL_KEY_LEN)
#define OFF_DATA_NONCE (OFF_WRAP_TAG + CL_SEAL_TAG_LEN)
#define OFF_DATA (OFF_DATA_NONCE + CL_SEAL_NONCE_LEN)

#define AAD_LABEL_LEN 18
#define AAD_LEN (AAD_LABEL_LEN + 1 + 32)

static const char NOT_OPEN[] = "sealed key does not open: wrong master key or damaged";

static void make_aad(uint8_t aad[AAD_LEN], const char label[AAD_LABEL_LEN + 1], const uint8_t fp[32])
{
	memcpy(aad, label, AAD_LABEL_LEN);
	aad[AAD_LABEL_LEN] = CL_SEAL_VERSION;
	memcpy(aad + AAD_LABEL_LEN + 1, fp, 32);
}

/* One AES-256-GCM operation. enc: in -> out (same length) and tag written; !enc: tag checked.
 * Returns 1 on success, 0 on any failure (including a tag mismatch). */
static int gcm(int enc, const uint8_t key[CL_SEAL_KEY_LEN], const uint8_t nonce[CL_SEAL_NONCE_LEN],
	       const uint8_t aad[AAD_LEN], const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[CL_SEAL_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, ok = 0;
	if (ctx == NULL || n > INT_MAX)
		goto out;
	if (EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, enc, NULL) != 1)
		goto out;
	if (EVP_CipherUpdate(ctx, NULL, &len, aad, AAD_LEN) != 1)
		goto out;
	if (n > 0 && (EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1 || (size_t)len != n))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CL_SEAL_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &len) != 1 || len != 0)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CL_SEAL_TAG_LEN, tag) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx); /* the provider wipes its key schedule */
	ERR_clear_error();
	return ok;
}

static bool master_ok(const cl_secret *m)
{
	return m != NULL && m->ptr != NULL && m->len == CL_SEAL_KEY_LEN;
}

cl_err cl_seal_pkcs8_from_pkey(cl_secret *out, EVP_PKEY *pkey, cl_error *err)
{
	OSSL_ENCODER_CTX *ectx = NULL;
	size_t len = 0;
	cl_err rc = CL_OK;
	cl_secret_free(out);
	ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, OSSL_KEYMGMT_SELECT_ALL, "DER", "PrivateKeyInfo", NULL);
	if (ectx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0) {
		rc = cl_ingest__ossl_error(err, CL_EUNSUPPORTED, "this private key cannot be encoded as PKCS#8");
		goto out;
	}
	/* First pass: the length only (OpenSSL wipes its own buffer). Second pass: straight into
	 * a secret buffer of that size, so no unwiped copy of ours ever exists. */
	if (OSSL_ENCODER_to_data(ectx, NULL, &len) != 1 || len == 0 || len > CL_SEAL_MAX_PKCS8) {
		rc = cl_ingest__ossl_error(err, CL_ECRYPTO, "cannot encode the private key as PKCS#8");
		goto out;
	}
	out->max = len;
	rc = cl_secret_alloc(out, len);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	unsigned char *p = out->ptr;
	size_t room = len;
	if (OSSL_ENCODER_to_data(ectx, &p, &room) != 1 || room != 0) {
		rc = cl_ingest__ossl_error(err, CL_ECRYPTO, "cannot encode the private key as PKCS#8");
		goto out;
	}
out:
	OSSL_ENCODER_CTX_free(ectx);
	if (rc != CL_OK)
		cl_secret_free(out);
	return rc;
}

/* Writes the wrap part (nonce, wrapped data key, tag) of a blob at b. */
static cl_err wrap(uint8_t *b, const cl_secret *master, const uint8_t fp[32], const uint8_t dk[CL_SEAL_KEY_LEN],
		   cl_error *err)
{
	uint8_t aad[AAD_LEN];
	make_aad(aad, "certledger/keywrap", fp);
	if (RAND_bytes(b + OFF_WRAP_NONCE, CL_SEAL_NONCE_LEN) != 1)
		return cl_error_set(err, CL_ECRYPTO, "no randomness for a nonce");
	if (!gcm(1, master->ptr, b + OFF_WRAP_NONCE, aad, dk, CL_SEAL_KEY_LEN, b + OFF_WRAPPED, b + OFF_WRAP_TAG))
		return cl_error_set(err, CL_ECRYPTO, "AES-256-GCM failed");
	return CL_OK;
}

/* Checks the layout and unwraps the data key into dk. */
static cl_err unwrap(cl_secret *dk, const cl_secret *master, const uint8_t fp[32], cl_bytes blob, cl_error *err)
{
	uint8_t aad[AAD_LEN];
	uint8_t tag[CL_SEAL_TAG_LEN];
	if (!master_ok(master))
		return cl_error_set(err, CL_EUSAGE, "the master key must be %d bytes", CL_SEAL_KEY_LEN);
	if (blob.ptr == NULL || blob.len < CL_SEAL_OVERHEAD + 1 || blob.len > CL_SEAL_OVERHEAD + CL_SEAL_MAX_PKCS8 ||
	    blob.ptr[0] != CL_SEAL_VERSION)
		return cl_error_set(err, CL_EINTEGRITY, "%s", NOT_OPEN);
	dk->max = CL_SEAL_KEY_LEN;
	if (cl_secret_alloc(dk, CL_SEAL_KEY_LEN) != CL_OK)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	make_aad(aad, "certledger/keywrap", fp);
	memcpy(tag, blob.ptr + OFF_WRAP_TAG, sizeof(tag));
	if (!gcm(0, master->ptr, blob.ptr + OFF_WRAP_NONCE, aad, blob.ptr + OFF_WRAPPED, CL_SEAL_KEY_LEN, dk->ptr, tag)) {
		cl_secret_free(dk);
		return cl_error_set(err, CL_EINTEGRITY, "%s", NOT_OPEN);
	}
	return CL_OK;
}

cl_err cl_seal_pkcs8(cl_buf *out, const cl_secret *master, const uint8_t fp[32], const cl_secret *pkcs8,
		     cl_error *err)
{
	cl_secret dk = CL_SECRET_INIT(CL_SEAL_KEY_LEN);
	uint8_t aad[AAD_LEN];
	cl_err rc;
	cl_buf_reset(out);
	if (!master_ok(master))
		return cl_error_set(err, CL_EUSAGE, "the master key must be %d bytes", CL_SEAL_KEY_LEN);
	if (pkcs8 == NULL || pkcs8->len == 0 || pkcs8->len > CL_SEAL_MAX_PKCS8)
		return cl_error_set(err, CL_EUSAGE, "a PKCS#8 key of 1 to %zu bytes is needed", CL_SEAL_MAX_PKCS8);
	size_t total = CL_SEAL_OVERHEAD + pkcs8->len;
	rc = cl_buf_reserve(out, total);
	if (rc != CL_OK)
		return cl_error_set(err, rc, "no room for the sealed key (%zu bytes)", total);
	uint8_t *b = out->ptr;
	rc = cl_secret_alloc(&dk, CL_SEAL_KEY_LEN);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	if (RAND_priv_bytes(dk.ptr, CL_SEAL_KEY_LEN) != 1 || RAND_bytes(b + OFF_DATA_NONCE, CL_SEAL_NONCE_LEN) != 1) {
		rc = cl_error_set(err, CL_ECRYPTO, "no randomness for the data key");
		goto out;
	}
	b[0] = CL_SEAL_VERSION;
	rc = wrap(b, master, fp, dk.ptr, err);
	if (rc != CL_OK)
		goto out;
	make_aad(aad, "certledger/keydata", fp);
	if (!gcm(1, dk.ptr, b + OFF_DATA_NONCE, aad, pkcs8->ptr, pkcs8->len, b + OFF_DATA, b + OFF_DATA + pkcs8->len)) {
		rc = cl_error_set(err, CL_ECRYPTO, "AES-256-GCM failed");
		goto out;
	}
	out->len = total;
out:
	cl_secret_free(&dk);
	if (rc != CL_OK)
		cl_buf_reset(out);
	return rc;
}

cl_err cl_seal_key(cl_buf *out, const cl_secret *master, const uint8_t fp[32], EVP_PKEY *pkey, cl_error *err)
{
	cl_secret p8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
	cl_err rc = cl_seal_pkcs8_from_pkey(&p8, pkey, err);
	if (rc == CL_OK)
		rc = cl_seal_pkcs8(out, master, fp, &p8, err);
	cl_secret_free(&p8);
	return rc;
}

cl_err cl_seal_open_pkcs8(cl_secret *out, const cl_secret *master, const uint8_t fp[32], cl_bytes blob,
			  cl_error *err)
{
	cl_secret dk = CL_SECRET_INIT(CL_SEAL_KEY_LEN);
	uint8_t aad[AAD_LEN];
	uint8_t tag[CL_SEAL_TAG_LEN];
	cl_secret_free(out);
	cl_err rc = unwrap(&dk, master, fp, blob, err);
	if (rc != CL_OK)
		return rc;
	size_t n = blob.len - CL_SEAL_OVERHEAD;
	out->max = n;
	rc = cl_secret_alloc(out, n);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	make_aad(aad, "certledger/keydata", fp);
	memcpy(tag, blob.ptr + OFF_DATA + n, sizeof(tag));
	if (!gcm(0, dk.ptr, blob.ptr + OFF_DATA_NONCE, aad, blob.ptr + OFF_DATA, n, out->ptr, tag))
		rc = cl_error_set(err, CL_EINTEGRITY, "%s", NOT_OPEN);
out:
	cl_secret_free(&dk);
	if (rc != CL_OK)
		cl_secret_free(out);
	return rc;
}

cl_err cl_seal_open(EVP_PKEY **out, const cl_secret *master, const uint8_t fp[32], cl_bytes blob, cl_error *err)
{
	cl_secret p8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	*out = NULL;
	cl_err rc = cl_seal_open_pkcs8(&p8, master, fp, blob, err);
	if (rc != CL_OK)
		return rc;
	const unsigned char *p = p8.ptr;
	size_t len = p8.len;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", "PrivateKeyInfo", NULL, EVP_PKEY_KEYPAIR, cl_ingest__libctx(),
					     NULL);
	if (dctx == NULL || OSSL_DECODER_from_data(dctx, &p, &len) != 1 || pkey == NULL || len != 0) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
		ERR_clear_error();
		rc = cl_error_set(err, CL_EINTEGRITY, "%s", NOT_OPEN);
	}
	OSSL_DECODER_CTX_free(dctx);
	cl_secret_free(&p8);
	*out = pkey;
	return rc;
}

cl_err cl_seal_rewrap(cl_buf *out, const cl_secret *old_master, const cl_secret *new_master, const uint8_t fp[32],
		      cl_bytes blob, cl_error *err)
{
	cl_secret dk = CL_SECRET_INIT(CL_SEAL_KEY_LEN);
	cl_secret p8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
	cl_err rc;
	cl_buf_reset(out);
	if (!master_ok(new_master))
		return cl_error_set(err, CL_EUSAGE, "the master key must be %d bytes", CL_SEAL_KEY_LEN);
	/* Authenticate everything before anything new is written. */
	rc = cl_seal_open_pkcs8(&p8, old_master, fp, blob, err);
	cl_secret_free(&p8);
	if (rc != CL_OK)
		return rc;
	rc = unwrap(&dk, old_master, fp, blob, err);
	if (rc != CL_OK)
		goto out;
	rc = cl_buf_append(out, blob.ptr, blob.len);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "no room for the sealed key (%zu bytes)", blob.len);
		goto out;
	}
	rc = wrap(out->ptr, new_master, fp, dk.ptr, err);
out:
	cl_secret_free(&dk);
	if (rc != CL_OK)
		cl_buf_reset(out);
	return rc;
}
