/* p12.c - the PKCS#12 reader: every iteration count and algorithm is inspected before the
 * password is used; then the MAC is checked with each password form; then encrypted safes
 * and shrouded key bags are decrypted in the ingest library context (legacy provider for
 * RC2-40/3DES files). Also the PKCS#8 key decoding shared with the PEM reader.
 *
 * Why not PKCS12_parse: it cannot tell a wrong password from a corrupt file or an unsupported
 * algorithm, it checks no iteration count, it tries only one password form, and it picks the
 * leaf by localKeyId. Walking the structure ourselves gives each failure its own error.
 */
#include "ingest/readers.h"

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ossl.h"

#define P12_MAX_SAFES 256     /* authenticated safes in one PFX */
#define P12_MAX_DEPTH 4       /* nested safeContents bags */

typedef struct p12_ctx {
	cl_cert_file *f;
	cl_pass_forms *pf;
	cl_kdf_budget *b;
	const char *file;
	bool has_mac;
	bool used_password;
} p12_ctx;

static cl_err corrupt(cl_error *err, const char *file)
{
	ERR_clear_error();
	return cl_error_set(err, CL_EBADINPUT, "%s: corrupt or truncated PKCS#12 file", file);
}

void *cl_ingest__d2i_p8(const uint8_t *p, size_t len)
{
	if (len > LONG_MAX)
		return NULL;
	return d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
}

static void *d2i_safebags(const uint8_t *p, size_t len)
{
	if (len > LONG_MAX)
		return NULL;
	return ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(PKCS12_SAFEBAGS));
}

cl_err cl_ingest__pkey_from_p8(EVP_PKEY **out, const PKCS8_PRIV_KEY_INFO *p8, const char *file, cl_error *err)
{
	OSSL_LIB_CTX *libctx = cl_ingest__libctx();
	const ASN1_OBJECT *oid = NULL;
	char dotted[96], name[160];
	*out = NULL;
	if (libctx == NULL)
		return cl_error_set(err, CL_ECRYPTO, "cannot load OpenSSL's default provider");
	ERR_clear_error();
	EVP_PKEY *pkey = EVP_PKCS82PKEY_ex(p8, libctx, NULL);
	if (pkey != NULL) {
		*out = pkey;
		return CL_OK;
	}
	ERR_clear_error();
	if (!PKCS8_pkey_get0(&oid, NULL, NULL, NULL, p8) || oid == NULL ||
	    OBJ_obj2txt(dotted, sizeof(dotted), oid, 1) <= 0)
		return cl_error_set(err, CL_EBADINPUT, "%s: corrupt private key", file);
	int nid = OBJ_obj2nid(oid);
	if (nid != NID_undef)
		snprintf(name, sizeof(name), "%s (%s)", OBJ_nid2sn(nid), dotted);
	else
		snprintf(name, sizeof(name), "%s", dotted);
	/* Providers register key managers under their OIDs too: none means "unknown here". */
	ERR_set_mark();
	EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(libctx, dotted, NULL);
	ERR_pop_to_mark();
	if (km == NULL)
		return cl_error_set(err, CL_EUNSUPPORTED, "%s: private key algorithm %s is not supported", file, name);
	EVP_KEYMGMT_free(km);
	return cl_error_set(err, CL_EBADINPUT, "%s: corrupt %s private key", file, name);
}

/* ---- before any derivation ----------------------------------------------------------- */

static cl_err inspect_mac(PKCS12 *p12, uint64_t *cost, const char *file, cl_error *err)
{
	const ASN1_OCTET_STRING *mac = NULL, *salt = NULL;
	const X509_ALGOR *macalg = NULL;
	const ASN1_INTEGER *iter = NULL;
	const ASN1_OBJECT *oid = NULL;
	char txt[96], dotted[96];
	PKCS12_get0_mac(&mac, &macalg, &salt, &iter, p12);
	if (mac == NULL || macalg == NULL || salt == NULL)
		return corrupt(err, file);
	X509_ALGOR_get0(&oid, NULL, NULL, macalg);
	if (oid == NULL || OBJ_obj2txt(dotted, sizeof(dotted), oid, 1) <= 0)
		return corrupt(err, file);
	int nid = OBJ_obj2nid(oid);
	if (nid == NID_pbmac1)
		/* RFC 9579. OpenSSL 3.0 takes the OID for a digest, fails, and then says "invalid
		 * password?": it is not the password. Support arrived in OpenSSL 3.4. */
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "%s: the PKCS#12 integrity algorithm PBMAC1 (%s) is not supported by this "
				    "OpenSSL (%s; needs 3.4 or later)",
				    file, dotted, OpenSSL_version(OPENSSL_VERSION_STRING));
	int64_t n = 0;
	cl_err rc = cl_pbe__check_iter(iter, &n, file, err);
	if (rc != CL_OK)
		return rc;
	/* Fetch the digest the way PKCS12_verify_mac will (default context, by name, then by NID). */
	if (OBJ_obj2txt(txt, sizeof(txt), oid, 0) <= 0)
		return corrupt(err, file);
	ERR_set_mark();
	EVP_MD *fetched = EVP_MD_fetch(NULL, txt, NULL);
	const EVP_MD *md = fetched ? fetched : EVP_get_digestbynid(nid);
	ERR_pop_to_mark();
	if (md == NULL || EVP_MD_get_size(md) <= 0) {
		EVP_MD_free(fetched);
		return cl_error_set(err, CL_EUNSUPPORTED, "%s: PKCS#12 MAC digest %s%s%s%s is not supported", file,
				    nid != NID_undef ? OBJ_nid2sn(nid) : dotted, nid != NID_undef ? " (" : "",
				    nid != NID_undef ? dotted : "", nid != NID_undef ? ")" : "");
	}
	*cost = cl_pbe__pkcs12_kdf_cost(n, md, (size_t)EVP_MD_get_size(md));
	EVP_MD_free(fetched);
	return CL_OK;
}

static cl_err precheck_bags(const STACK_OF(PKCS12_SAFEBAG) *bags, int depth, const char *file, cl_error *err)
{
	if (depth > P12_MAX_DEPTH)
		return cl_error_set(err, CL_EBADINPUT, "%s: PKCS#12 safe contents are nested too deeply", file);
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		cl_err rc = CL_OK;
		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_pkcs8ShroudedKeyBag: {
			const X509_ALGOR *alg = NULL;
			const ASN1_OCTET_STRING *oct = NULL;
			const X509_SIG *sig = PKCS12_SAFEBAG_get0_pkcs8(bag);
			if (sig == NULL)
				return corrupt(err, file);
			X509_SIG_get0(sig, &alg, &oct);
			uint64_t cost = 0;
			rc = cl_pbe__inspect(alg, &cost, NULL, file, err);
			break;
		}
		case NID_safeContentsBag:
			rc = precheck_bags(PKCS12_SAFEBAG_get0_safes(bag), depth + 1, file, err);
			break;
		default:
			break;
		}
		if (rc != CL_OK)
			return rc;
	}
	return CL_OK;
}

static cl_err precheck_safe(PKCS7 *p7, STACK_OF(PKCS12_SAFEBAG) **plain, const char *file, cl_error *err)
{
	*plain = NULL;
	switch (OBJ_obj2nid(p7->type)) {
	case NID_pkcs7_data:
		*plain = PKCS12_unpack_p7data(p7);
		if (*plain == NULL)
			return corrupt(err, file);
		return precheck_bags(*plain, 0, file, err);
	case NID_pkcs7_encrypted: {
		if (p7->d.encrypted == NULL || p7->d.encrypted->enc_data == NULL ||
		    p7->d.encrypted->enc_data->enc_data == NULL || p7->d.encrypted->enc_data->algorithm == NULL)
			return corrupt(err, file); /* e.g. EncryptedData without its content */
		uint64_t cost = 0;
		return cl_pbe__inspect(p7->d.encrypted->enc_data->algorithm, &cost, NULL, file, err);
	}
	case NID_pkcs7_enveloped:
		return cl_error_set(err, CL_EUNSUPPORTED,
				    "%s: PKCS#12 public-key privacy mode (EnvelopedData safes) is not supported", file);
	default:
		return corrupt(err, file);
	}
}

/* ---- the password ------------------------------------------------------------------------ */

static cl_err verify_mac(PKCS12 *p12, p12_ctx *c, uint64_t cost, cl_error *err)
{
	for (size_t k = 0; k < c->pf->n; k++) {
		size_t i = cl_pbe__form_at(c->pf, k);
		cl_err rc = cl_pbe__charge(c->b, cost, c->file, err);
		if (rc != CL_OK)
			return rc;
		int len = 0;
		const char *p = cl_pbe__form_ptr(c->pf, i, &len);
		c->used_password = true;
		ERR_clear_error();
		if (PKCS12_verify_mac(p12, p, len) == 1) {
			c->pf->first = i;
			return CL_OK;
		}
		/* A mismatch leaves the queue empty; anything queued means the MAC could not even be
		 * computed, which the inspection above should have ruled out. */
		if (ERR_peek_error() != 0)
			return cl_ingest__ossl_error(err, CL_EBADINPUT, "%s: corrupt PKCS#12 file: its MAC cannot be computed",
						     c->file);
	}
	return cl_pbe__wrong_password(c->pf, c->file, NULL, err);
}

/* ---- the contents ------------------------------------------------------------------------ */

static char *bag_name(const PKCS12_SAFEBAG *bag)
{
	/* PKCS12_get_friendlyname takes a non-const bag but only reads it. */
	char *n = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);
	ERR_clear_error();
	return n;
}

static cl_err walk_bags(p12_ctx *c, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth, cl_error *err)
{
	if (depth > P12_MAX_DEPTH)
		return cl_error_set(err, CL_EBADINPUT, "%s: PKCS#12 safe contents are nested too deeply", c->file);
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		cl_err rc = CL_OK;
		char *name = NULL;
		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_keyBag: {
			EVP_PKEY *pkey = NULL;
			const PKCS8_PRIV_KEY_INFO *p8 = PKCS12_SAFEBAG_get0_p8inf(bag);
			if (p8 == NULL)
				return corrupt(err, c->file);
			rc = cl_ingest__pkey_from_p8(&pkey, p8, c->file, err);
			if (rc == CL_OK) {
				name = bag_name(bag);
				rc = cl_cert_file__add_key(c->f, pkey, name, c->file, err);
			}
			break;
		}
		case NID_pkcs8ShroudedKeyBag: {
			const X509_ALGOR *alg = NULL;
			const ASN1_OCTET_STRING *oct = NULL;
			const X509_SIG *sig = PKCS12_SAFEBAG_get0_pkcs8(bag);
			void *obj = NULL;
			EVP_PKEY *pkey = NULL;
			if (sig == NULL)
				return corrupt(err, c->file);
			X509_SIG_get0(sig, &alg, &oct);
			if (oct == NULL)
				return corrupt(err, c->file);
			c->used_password = true;
			rc = cl_pbe__decrypt(&obj, alg, ASN1_STRING_get0_data(oct), (size_t)ASN1_STRING_length(oct), c->pf,
					     c->has_mac, c->b, cl_ingest__d2i_p8, "the private key", c->file, err);
			if (rc != CL_OK)
				break;
			rc = cl_ingest__pkey_from_p8(&pkey, obj, c->file, err);
			PKCS8_PRIV_KEY_INFO_free(obj); /* its free callback wipes the key bytes */
			if (rc == CL_OK) {
				name = bag_name(bag);
				rc = cl_cert_file__add_key(c->f, pkey, name, c->file, err);
			}
			break;
		}
		case NID_certBag:
			if (PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate) {
				X509 *x = PKCS12_SAFEBAG_get1_cert(bag);
				if (x == NULL) {
					ERR_clear_error();
					return cl_error_set(err, CL_EBADINPUT,
							    "%s: corrupt PKCS#12 file: a certificate bag does not decode",
							    c->file);
				}
				name = bag_name(bag);
				if (name != NULL && !X509_alias_set1(x, (const unsigned char *)name, -1))
					ERR_clear_error(); /* the alias is only a default display name */
				rc = cl_cert_file__add_cert(c->f, x, c->file, err);
			}
			break; /* SDSI certificates, CRL and secret bags are not ours to keep */
		case NID_safeContentsBag:
			rc = walk_bags(c, PKCS12_SAFEBAG_get0_safes(bag), depth + 1, err);
			break;
		default:
			break;
		}
		OPENSSL_free(name);
		if (rc != CL_OK)
			return rc;
	}
	return CL_OK;
}

cl_err cl_ingest__p12_read(cl_cert_file *f, cl_bytes data, cl_pass_forms *pf, cl_kdf_budget *b, const char *file,
			   cl_error *err)
{
	PKCS12 *p12 = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	STACK_OF(PKCS12_SAFEBAG) **plain = NULL;
	int nsafes = 0;
	cl_err rc = CL_OK;
	p12_ctx c = {f, pf, b, file, false, false};

	if (data.len > LONG_MAX)
		return cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", file);
	const uint8_t *p = data.ptr;
	ERR_clear_error();
	p12 = d2i_PKCS12(NULL, &p, (long)data.len);
	if (p12 == NULL) {
		rc = corrupt(err, file);
		goto out;
	}
	for (const uint8_t *q = p; q < data.ptr + data.len; q++) {
		if (*q != 0 && *q != '\n' && *q != '\r' && *q != ' ' && *q != '\t') {
			rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt PKCS#12 file: unexpected bytes after its end",
					  file);
			goto out;
		}
	}

	/* 1. Everything visible without the password: MAC algorithm and iterations, each safe's
	 * encryption algorithm and iterations, the shrouded keys of unencrypted safes. */
	uint64_t mac_cost = 0;
	c.has_mac = PKCS12_mac_present(p12) == 1;
	if (c.has_mac) {
		rc = inspect_mac(p12, &mac_cost, file, err);
		if (rc != CL_OK)
			goto out;
	}
	safes = PKCS12_unpack_authsafes(p12);
	if (safes == NULL) {
		unsigned long e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_PKCS12 && ERR_GET_REASON(e) == PKCS12_R_CONTENT_TYPE_NOT_DATA) {
			ERR_clear_error();
			rc = cl_error_set(err, CL_EUNSUPPORTED,
					  "%s: PKCS#12 public-key integrity mode (signed safes) is not supported", file);
		} else {
			rc = corrupt(err, file);
		}
		goto out;
	}
	nsafes = sk_PKCS7_num(safes);
	if (nsafes > P12_MAX_SAFES) {
		rc = cl_error_set(err, CL_EREFUSED, "%s: the PKCS#12 file has too many safes (%d)", file, nsafes);
		goto out;
	}
	plain = calloc(nsafes > 0 ? (size_t)nsafes : 1, sizeof(*plain));
	if (plain == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < nsafes; i++) {
		rc = precheck_safe(sk_PKCS7_value(safes, i), &plain[i], file, err);
		if (rc != CL_OK)
			goto out;
	}

	/* 2. The MAC, with every password form until one matches. */
	if (c.has_mac) {
		rc = verify_mac(p12, &c, mac_cost, err);
		if (rc != CL_OK)
			goto out;
	}

	/* 3. The contents. */
	for (int i = 0; i < nsafes; i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		if (plain[i] != NULL) {
			rc = walk_bags(&c, plain[i], 0, err);
		} else {
			const PKCS7_ENC_CONTENT *ec = p7->d.encrypted->enc_data;
			void *bags = NULL;
			c.used_password = true;
			rc = cl_pbe__decrypt(&bags, ec->algorithm, ASN1_STRING_get0_data(ec->enc_data),
					     (size_t)ASN1_STRING_length(ec->enc_data), pf, c.has_mac, b, d2i_safebags,
					     "the certificate safe", file, err);
			if (rc == CL_OK)
				rc = walk_bags(&c, bags, 0, err);
			sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		}
		if (rc != CL_OK)
			goto out;
	}
	f->has_mac = c.has_mac;
	f->password_form = c.used_password && pf->n > 0 ? pf->f[pf->first].label : NULL;
out:
	for (int i = 0; plain != NULL && i < nsafes; i++)
		sk_PKCS12_SAFEBAG_pop_free(plain[i], PKCS12_SAFEBAG_free);
	free(plain);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	ERR_clear_error();
	return rc;
}
