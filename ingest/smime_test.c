/* smime_test.c - sign/verify and encrypt/decrypt round trips with OpenSSL CMS (smime_test.h). */
#include "ingest/smime_test.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ossl.h"

static const char MESSAGE[] = "Content-Type: text/plain\r\n\r\ncertledger S/MIME functionality test\r\n";

const char *cl_smime_status_name(cl_smime_status s)
{
	switch (s) {
	case CL_SMIME_OK: return "ok";
	case CL_SMIME_FAILED: return "failed";
	default: return "n/a";
	}
}

static void set_step(cl_smime_step *st, cl_smime_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_step(cl_smime_step *st, cl_smime_status status, const char *fmt, ...)
{
	st->status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
	va_end(ap);
}

/* A failure with OpenSSL's reason appended; clears the queue. */
static void fail_step(cl_smime_step *st, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	set_step(st, CL_SMIME_FAILED, "%s%s%s", what, r ? ": " : "", r ? r : "");
	ERR_clear_error();
}

static bool has_ku(X509 *cert, uint32_t bits)
{
	/* No keyUsage extension: everything allowed. */
	return (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0 || (X509_get_key_usage(cert) & bits) != 0;
}

/* DER round trip: what a mail client would receive. */
static CMS_ContentInfo *reparse(CMS_ContentInfo *cms)
{
	BIO *b = BIO_new(BIO_s_mem());
	CMS_ContentInfo *back = NULL;
	if (b != NULL && i2d_CMS_bio(b, cms) == 1) {
		back = CMS_ContentInfo_new_ex(cl_ingest__libctx(), NULL);
		if (back != NULL && d2i_CMS_bio(b, &back) == NULL) {
			CMS_ContentInfo_free(back);
			back = NULL;
		}
	}
	BIO_free(b);
	return back;
}

static bool output_is_message(BIO *out)
{
	char *p = NULL;
	long n = BIO_get_mem_data(out, &p);
	return n == (long)(sizeof(MESSAGE) - 1) && memcmp(p, MESSAGE, sizeof(MESSAGE) - 1) == 0;
}

static void sign_verify(cl_smime_result *r, X509 *cert, EVP_PKEY *pkey, STACK_OF(X509) *chain)
{
	BIO *in = NULL, *out = NULL;
	CMS_ContentInfo *cms = NULL, *back = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *signers = NULL;
	EVP_MD *md = NULL;
	int base = EVP_PKEY_get_base_id(pkey);

	set_step(&r->verify, CL_SMIME_NA, "nothing was signed");
	if (base == EVP_PKEY_X25519 || base == EVP_PKEY_X448 || base == EVP_PKEY_DH || base == EVP_PKEY_DHX) {
		set_step(&r->sign, CL_SMIME_NA, "a %s key cannot sign", EVP_PKEY_get0_type_name(pkey));
		return;
	}
	if (!has_ku(cert, KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) {
		set_step(&r->sign, CL_SMIME_NA, "key usage does not allow signing");
		return;
	}
	in = BIO_new_mem_buf(MESSAGE, (int)sizeof(MESSAGE) - 1);
	out = BIO_new(BIO_s_mem());
	store = X509_STORE_new();
	if (in == NULL || out == NULL || store == NULL) {
		set_step(&r->sign, CL_SMIME_FAILED, "out of memory");
		goto out;
	}
	/* OpenSSL 3.0 finds no default digest for EdDSA keys: RFC 8419 says SHA-512 for Ed25519
	 * and SHAKE256 for Ed448; other key types take their default. */
	if (base == EVP_PKEY_ED25519 || base == EVP_PKEY_ED448) {
		md = EVP_MD_fetch(cl_ingest__libctx(), base == EVP_PKEY_ED25519 ? "SHA512" : "SHAKE256", NULL);
		if (md == NULL) {
			fail_step(&r->sign, "no digest for this key type");
			goto out;
		}
	}
	ERR_clear_error();
	cms = CMS_sign_ex(NULL, NULL, chain, in, CMS_BINARY | CMS_PARTIAL, cl_ingest__libctx(), NULL);
	if (cms == NULL || CMS_add1_signer(cms, cert, pkey, md, CMS_BINARY) == NULL ||
	    CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
		if (md != NULL) {
			/* CMS in OpenSSL before 3.2 has no EdDSA signing at all: not the key's fault. */
			ERR_clear_error();
			set_step(&r->sign, CL_SMIME_NA, "OpenSSL %s cannot sign CMS with %s keys",
				 OpenSSL_version(OPENSSL_VERSION_STRING), EVP_PKEY_get0_type_name(pkey));
		} else {
			fail_step(&r->sign, "signing failed");
		}
		goto out;
	}
	set_step(&r->sign, CL_SMIME_OK, "%s", "");
	back = reparse(cms);
	if (back == NULL) {
		fail_step(&r->verify, "the signed message does not parse back");
		goto out;
	}
	/* The signature only: the test is about this certificate and key, not about trust. */
	if (CMS_verify(back, NULL, store, NULL, out, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		fail_step(&r->verify, "the signature does not verify");
		goto out;
	}
	if (!output_is_message(out)) {
		set_step(&r->verify, CL_SMIME_FAILED, "the verified content differs from the test message");
		goto out;
	}
	signers = CMS_get0_signers(back);
	if (sk_X509_num(signers) != 1 || X509_cmp(sk_X509_value(signers, 0), cert) != 0) {
		set_step(&r->verify, CL_SMIME_FAILED, "the signature names another signer");
		goto out;
	}
	set_step(&r->verify, CL_SMIME_OK, "%s", "");
out:
	sk_X509_free(signers);
	EVP_MD_free(md);
	CMS_ContentInfo_free(back);
	CMS_ContentInfo_free(cms);
	X509_STORE_free(store);
	BIO_free(in);
	BIO_free(out);
	ERR_clear_error();
}

static bool names_recipient(CMS_ContentInfo *cms, X509 *cert)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS && CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
			return true;
		if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE) {
			STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);
			for (int j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++)
				if (CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(reks, j), cert) == 0)
					return true;
		}
	}
	return false;
}

static void encrypt_decrypt(cl_smime_result *r, X509 *cert, EVP_PKEY *pkey)
{
	BIO *in = NULL, *out = NULL;
	CMS_ContentInfo *cms = NULL, *back = NULL;
	STACK_OF(X509) *recips = NULL;
	EVP_CIPHER *aes = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	set_step(&r->decrypt, CL_SMIME_NA, "%s", pkey ? "nothing was encrypted" : "no private key");
	if (pub == NULL) {
		ERR_clear_error();
		set_step(&r->encrypt, CL_SMIME_NA, "the certificate's key type is unknown to OpenSSL");
		return;
	}
	int base = EVP_PKEY_get_base_id(pub);
	uint32_t need = KU_KEY_AGREEMENT;
	switch (base) {
	case EVP_PKEY_RSA:
		need = KU_KEY_ENCIPHERMENT;
		break;
	case EVP_PKEY_EC:
	case EVP_PKEY_X25519:
	case EVP_PKEY_X448:
	case EVP_PKEY_DH:
	case EVP_PKEY_DHX:
		break;
	default: /* Ed25519, Ed448, DSA, RSA-PSS: signature-only keys */
		set_step(&r->encrypt, CL_SMIME_NA, "a %s key cannot encrypt (no key transport or agreement)",
			 EVP_PKEY_get0_type_name(pub));
		return;
	}
	if (!has_ku(cert, need)) {
		set_step(&r->encrypt, CL_SMIME_NA, "key usage does not allow encryption (%s)",
			 need == KU_KEY_ENCIPHERMENT ? "no keyEncipherment" : "no keyAgreement");
		return;
	}
	in = BIO_new_mem_buf(MESSAGE, (int)sizeof(MESSAGE) - 1);
	out = BIO_new(BIO_s_mem());
	recips = sk_X509_new_null();
	aes = EVP_CIPHER_fetch(cl_ingest__libctx(), "AES-256-CBC", NULL);
	if (in == NULL || out == NULL || recips == NULL || aes == NULL || !sk_X509_push(recips, cert)) {
		set_step(&r->encrypt, CL_SMIME_FAILED, "out of memory");
		goto out;
	}
	ERR_clear_error();
	cms = CMS_encrypt_ex(recips, in, aes, CMS_BINARY, cl_ingest__libctx(), NULL);
	if (cms == NULL) {
		fail_step(&r->encrypt, "encryption failed");
		goto out;
	}
	back = reparse(cms);
	if (back == NULL) {
		fail_step(&r->encrypt, "the encrypted message does not parse back");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(back)) != NID_pkcs7_enveloped || !names_recipient(back, cert)) {
		set_step(&r->encrypt, CL_SMIME_FAILED, "the EnvelopedData does not name this certificate");
		goto out;
	}
	set_step(&r->encrypt, CL_SMIME_OK, "%s", "");
	if (pkey == NULL)
		goto out;
	if (CMS_decrypt(back, pkey, cert, NULL, out, CMS_BINARY) != 1) {
		fail_step(&r->decrypt, "decryption failed");
		goto out;
	}
	if (!output_is_message(out)) {
		set_step(&r->decrypt, CL_SMIME_FAILED, "the decrypted content differs from the test message");
		goto out;
	}
	set_step(&r->decrypt, CL_SMIME_OK, "%s", "");
out:
	EVP_CIPHER_free(aes);
	sk_X509_free(recips);
	CMS_ContentInfo_free(back);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(out);
	ERR_clear_error();
}

cl_err cl_smime_test(cl_smime_result *out, X509 *cert, EVP_PKEY *pkey, X509 *const *chain, size_t n_chain,
		     cl_error *err)
{
	STACK_OF(X509) *sk = NULL;
	memset(out, 0, sizeof(*out));
	if (cert == NULL)
		return cl_error_set(err, CL_EUSAGE, "no certificate to test");
	if (cl_ingest__libctx() == NULL)
		return cl_error_set(err, CL_ECRYPTO, "cannot load OpenSSL's default provider");
	if (n_chain > 0) {
		sk = sk_X509_new_reserve(NULL, (int)n_chain);
		for (size_t i = 0; sk != NULL && i < n_chain; i++)
			sk_X509_push(sk, chain[i]);
		if (sk == NULL)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	if (pkey == NULL) {
		set_step(&out->sign, CL_SMIME_NA, "no private key");
		set_step(&out->verify, CL_SMIME_NA, "no private key");
	} else {
		sign_verify(out, cert, pkey, sk);
	}
	encrypt_decrypt(out, cert, pkey);
	sk_X509_free(sk);
	return CL_OK;
}
