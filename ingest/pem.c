/* pem.c - the PEM reader: CERTIFICATE / TRUSTED CERTIFICATE, PKCS7 / CMS, and private-key
 * blocks (PKCS#8, encrypted PKCS#8, traditional RSA/EC/DSA with or without PEM encryption).
 * Other blocks (CRLs, requests, public keys, parameters) are skipped.
 *
 * Blocks are read with PEM_FLAG_SECURE so that OpenSSL wipes its base64 and line buffers;
 * each block's bytes are wiped here once decoded, since some of them are private keys.
 */
#include "ingest/readers.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ossl.h"

typedef struct pem_ctx {
	cl_cert_file *f;
	cl_pass_forms *pf;
	cl_kdf_budget *b;
	const char *file;
	size_t index; /* 1-based number of the block being read, for messages */
} pem_ctx;

static cl_err bad_block(pem_ctx *c, const char *what, cl_error *err)
{
	ERR_clear_error();
	return cl_error_set(err, CL_EBADINPUT, "%s: corrupt %s in PEM block %zu", c->file, what, c->index);
}

static cl_err read_cert(pem_ctx *c, const uint8_t *d, long len, bool aux, cl_error *err)
{
	const uint8_t *p = d;
	X509 *x = aux ? d2i_X509_AUX(NULL, &p, len) : d2i_X509(NULL, &p, len);
	if (x == NULL || p != d + len) {
		X509_free(x);
		return bad_block(c, "certificate", err);
	}
	return cl_cert_file__add_cert(c->f, x, c->file, err);
}

static cl_err add_p8(pem_ctx *c, const PKCS8_PRIV_KEY_INFO *p8, cl_error *err)
{
	EVP_PKEY *pkey = NULL;
	cl_err rc = cl_ingest__pkey_from_p8(&pkey, p8, c->file, err);
	if (rc != CL_OK)
		return rc;
	return cl_cert_file__add_key(c->f, pkey, NULL, c->file, err);
}

static cl_err read_p8(pem_ctx *c, const uint8_t *d, long len, cl_error *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = cl_ingest__d2i_p8(d, (size_t)len);
	if (p8 == NULL)
		return bad_block(c, "private key", err);
	cl_err rc = add_p8(c, p8, err);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

static cl_err read_encrypted_p8(pem_ctx *c, const uint8_t *d, long len, cl_error *err)
{
	const uint8_t *p = d;
	const X509_ALGOR *alg = NULL;
	const ASN1_OCTET_STRING *oct = NULL;
	void *p8 = NULL;
	X509_SIG *sig = d2i_X509_SIG(NULL, &p, len);
	if (sig == NULL)
		return bad_block(c, "encrypted private key", err);
	X509_SIG_get0(sig, &alg, &oct);
	cl_err rc = CL_EBADINPUT;
	if (oct == NULL) {
		rc = bad_block(c, "encrypted private key", err);
		goto out;
	}
	rc = cl_pbe__decrypt(&p8, alg, ASN1_STRING_get0_data(oct), (size_t)ASN1_STRING_length(oct), c->pf, false, c->b,
			     cl_ingest__d2i_p8, "the private key", c->file, err);
	if (rc != CL_OK)
		goto out;
	rc = add_p8(c, p8, err);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (rc == CL_OK)
		c->f->password_form = c->pf->f[c->pf->first].label;
out:
	X509_SIG_free(sig);
	return rc;
}

/* PEM_do_header asks for the password through this callback. */
typedef struct pass_arg {
	const char *p;
	int len;
} pass_arg;

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const pass_arg *a = u;
	if (a->len > size)
		return -1;
	if (a->len > 0)
		memcpy(buf, a->p, (size_t)a->len);
	return a->len;
}

static cl_err traditional_key(pem_ctx *c, int type, const uint8_t *d, long len, cl_error *err)
{
	const uint8_t *p = d;
	EVP_PKEY *pkey = d2i_PrivateKey_ex(type, NULL, &p, len, cl_ingest__libctx(), NULL);
	if (pkey == NULL)
		return CL_EBADINPUT; /* caller decides what that means */
	return cl_cert_file__add_key(c->f, pkey, NULL, c->file, err);
}

/* "RSA PRIVATE KEY" & co, possibly with "Proc-Type: 4,ENCRYPTED" (EVP_BytesToKey, MD5, one
 * iteration: charged as one unit of KDF work per attempt). */
static cl_err read_traditional(pem_ctx *c, int type, char *header, const uint8_t *d, long len, cl_error *err)
{
	EVP_CIPHER_INFO cinfo;
	cl_secret buf = CL_SECRET_INIT((size_t)len);
	cl_err rc = CL_OK;
	if (!PEM_get_EVP_CIPHER_INFO(header, &cinfo)) {
		ERR_clear_error();
		return cl_error_set(err, CL_EUNSUPPORTED, "%s: the encryption of PEM block %zu is not supported", c->file,
				    c->index);
	}
	if (cinfo.cipher == NULL) {
		rc = traditional_key(c, type, d, len, err);
		if (rc == CL_EBADINPUT)
			rc = bad_block(c, "private key", err);
		return rc;
	}
	for (size_t k = 0; k < c->pf->n; k++) {
		size_t i = cl_pbe__form_at(c->pf, k);
		rc = cl_pbe__charge(c->b, 1, c->file, err);
		if (rc != CL_OK)
			goto out;
		rc = cl_secret_alloc(&buf, (size_t)len);
		if (rc != CL_OK) {
			cl_error_set(err, rc, "out of memory");
			goto out;
		}
		memcpy(buf.ptr, d, (size_t)len);
		long plen = len;
		pass_arg a;
		a.p = cl_pbe__form_ptr(c->pf, i, &a.len);
		ERR_clear_error();
		if (!PEM_do_header(&cinfo, buf.ptr, &plen, pass_cb, &a))
			continue;
		rc = traditional_key(c, type, buf.ptr, plen, err);
		if (rc == CL_OK) {
			c->pf->first = i;
			c->f->password_form = c->pf->f[i].label;
			goto out;
		}
		if (rc != CL_EBADINPUT)
			goto out;
	}
	ERR_clear_error();
	char detail[96];
	snprintf(detail, sizeof(detail), "the private key in PEM block %zu does not decrypt", c->index);
	rc = cl_pbe__wrong_password(c->pf, c->file, detail, err);
out:
	cl_secret_free(&buf);
	return rc;
}

static cl_err read_block(pem_ctx *c, const char *name, char *header, const uint8_t *d, long len, cl_error *err)
{
	if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0)
		return read_cert(c, d, len, false, err);
	if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
		return read_cert(c, d, len, true, err);
	if (strcmp(name, PEM_STRING_PKCS7) == 0 || strcmp(name, PEM_STRING_CMS) == 0 ||
	    strcmp(name, PEM_STRING_PKCS7_SIGNED) == 0) {
		size_t used = 0;
		cl_err rc = cl_ingest__cms_certs(c->f, d, (size_t)len, &used, c->file, err);
		if (rc == CL_OK && used != (size_t)len)
			rc = bad_block(c, "PKCS#7 structure", err);
		return rc;
	}
	if (strcmp(name, PEM_STRING_PKCS8INF) == 0)
		return read_p8(c, d, len, err);
	if (strcmp(name, PEM_STRING_PKCS8) == 0)
		return read_encrypted_p8(c, d, len, err);
	if (strcmp(name, PEM_STRING_RSA) == 0)
		return read_traditional(c, EVP_PKEY_RSA, header, d, len, err);
	if (strcmp(name, PEM_STRING_ECPRIVATEKEY) == 0)
		return read_traditional(c, EVP_PKEY_EC, header, d, len, err);
	if (strcmp(name, PEM_STRING_DSA) == 0)
		return read_traditional(c, EVP_PKEY_DSA, header, d, len, err);
	return CL_OK; /* CRLs, requests, public keys, parameters: not ours */
}

cl_err cl_ingest__pem_read(cl_cert_file *f, cl_bytes data, cl_pass_forms *pf, cl_kdf_budget *b, const char *file,
			   cl_error *err)
{
	pem_ctx c = {f, pf, b, file, 0};
	cl_err rc = CL_OK;
	if (data.len > INT_MAX)
		return cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", file);
	BIO *bio = BIO_new_mem_buf(data.ptr, (int)data.len);
	if (bio == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *d = NULL;
		long len = 0;
		c.index++;
		ERR_clear_error();
		if (!PEM_read_bio_ex(bio, &name, &header, &d, &len, PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE)) {
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break; /* no further block */
			}
			rc = cl_ingest__ossl_error(err, CL_EBADINPUT, "%s: corrupt or truncated PEM block %zu", file, c.index);
			break;
		}
		rc = read_block(&c, name, header, d, len, err);
		OPENSSL_secure_clear_free(d, len > 0 ? (size_t)len : 0);
		OPENSSL_secure_free(name);
		OPENSSL_secure_free(header);
		if (rc != CL_OK)
			break;
	}
	BIO_free(bio);
	return rc;
}
