/* seal.c - private keys to and from PKCS#8 DER, sealed and opened through ledger/sealed.h with
 * purpose CL_SEALED_PRIVATE_KEY and the certificate's fingerprint as context (see seal.h). */
#include "ingest/seal.h"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "ingest/ossl.h"

static const char NOT_OPEN[] = "sealed key does not open: wrong master key or damaged";

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

cl_err cl_seal_pkcs8(cl_buf *out, const cl_secret *master, const uint8_t fp[32], const cl_secret *pkcs8,
		     cl_error *err)
{
	return cl_sealed__seal(out, master, CL_SEALED_PRIVATE_KEY, CL_BYTES(fp, 32), pkcs8, err);
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
	return cl_sealed__open(out, master, CL_SEALED_PRIVATE_KEY, CL_BYTES(fp, 32), blob, err);
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
