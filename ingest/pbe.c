/* pbe.c - password forms, the KDF work budget, inspection of PBE AlgorithmIdentifiers before
 * any derivation, and decryption that tries every password form (see pbe.h). */
#include "ingest/pbe.h"

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ossl.h"

/* OpenSSL's scrypt refuses to use more memory than this when it derives a PBES2 key (its
 * SCRYPT_MAX_MEM default, which PKCS5_v2_scrypt_keyivgen does not raise). */
#define OSSL_SCRYPT_MAX_MEM (UINT64_C(1024) * 1024 * 32)

/* ---- password forms ---------------------------------------------------------------- */

static cl_err add_form(cl_pass_forms *pf, const uint8_t *p, size_t n, bool absent, const char *label)
{
	for (size_t i = 0; i < pf->n; i++) {
		const cl_pass_form *o = &pf->f[i];
		if (o->absent == absent && o->s.len == n && (n == 0 || CRYPTO_memcmp(o->s.ptr, p, n) == 0))
			return CL_OK; /* same bytes: trying them twice would only cost KDF work */
	}
	if (pf->n >= CL_PASS_FORMS_MAX)
		return CL_EINTERNAL;
	cl_pass_form *f = &pf->f[pf->n];
	f->s = (cl_secret)CL_SECRET_INIT(n + 1);
	f->absent = absent;
	f->label = label;
	cl_err rc = cl_secret_alloc(&f->s, n);
	if (rc != CL_OK)
		return rc;
	if (n > 0)
		memcpy(f->s.ptr, p, n);
	pf->n++;
	return CL_OK;
}

/* Each byte as an ISO-8859-1 character, encoded as UTF-8, into s (allocated 2n). */
static cl_err latin1_to_utf8(cl_secret *s, const uint8_t *p, size_t n)
{
	cl_err rc = cl_secret_alloc(s, 2 * n);
	if (rc != CL_OK)
		return rc;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x80) {
			s->ptr[o++] = p[i];
		} else {
			s->ptr[o++] = (uint8_t)(0xc0 | (p[i] >> 6));
			s->ptr[o++] = (uint8_t)(0x80 | (p[i] & 0x3f));
		}
	}
	s->len = o;
	return CL_OK;
}

/* UTF-8 whose characters are all U+0000..U+00FF, as ISO-8859-1 bytes. Returns 0 and leaves
 * s->len = 0 (nothing to try) when p is not such UTF-8. */
static cl_err utf8_to_latin1(cl_secret *s, const uint8_t *p, size_t n, bool *ok)
{
	*ok = false;
	cl_err rc = cl_secret_alloc(s, n);
	if (rc != CL_OK)
		return rc;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x80) {
			s->ptr[o++] = p[i];
		} else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < n && (p[i + 1] & 0xc0) == 0x80) {
			s->ptr[o++] = (uint8_t)(((p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f));
			i++;
		} else {
			OPENSSL_cleanse(s->ptr, n);
			s->len = 0;
			return CL_OK;
		}
	}
	s->len = o;
	*ok = true;
	return CL_OK;
}

cl_err cl_pbe__forms_init(cl_pass_forms *pf, const cl_secret *password, cl_error *err)
{
	cl_err rc;
	cl_secret tmp = CL_SECRET_INIT(SIZE_MAX);
	pf->n = 0;
	pf->first = 0;
	pf->empty = password == NULL || password->len == 0;
	if (pf->empty) {
		rc = add_form(pf, (const uint8_t *)"", 0, false, "empty");
		if (rc == CL_OK)
			rc = add_form(pf, NULL, 0, true, "absent");
		goto out;
	}
	if (password->len > INT_MAX / 2) {
		rc = cl_error_set(err, CL_ETOOLARGE, "the password is too long");
		goto out;
	}
	rc = add_form(pf, password->ptr, password->len, false, "as given");
	if (rc != CL_OK)
		goto out;
	rc = latin1_to_utf8(&tmp, password->ptr, password->len);
	if (rc != CL_OK)
		goto out;
	rc = add_form(pf, tmp.ptr, tmp.len, false, "latin1 as utf8");
	if (rc != CL_OK)
		goto out;
	bool ok = false;
	rc = utf8_to_latin1(&tmp, password->ptr, password->len, &ok);
	if (rc == CL_OK && ok)
		rc = add_form(pf, tmp.ptr, tmp.len, false, "latin1 bytes");
out:
	cl_secret_free(&tmp);
	if (rc != CL_OK) {
		cl_pbe__forms_clear(pf);
		if (rc != CL_ETOOLARGE)
			cl_error_set(err, rc, "cannot prepare the password: %s", cl_err_name(rc));
	}
	return rc;
}

void cl_pbe__forms_clear(cl_pass_forms *pf)
{
	for (size_t i = 0; i < CL_PASS_FORMS_MAX; i++)
		cl_secret_free(&pf->f[i].s);
	pf->n = 0;
	pf->first = 0;
}

const char *cl_pbe__form_ptr(const cl_pass_forms *pf, size_t i, int *len)
{
	const cl_pass_form *f = &pf->f[i];
	if (f->absent) {
		*len = 0;
		return NULL;
	}
	*len = (int)f->s.len;
	return f->s.len > 0 ? (const char *)f->s.ptr : "";
}

size_t cl_pbe__form_at(const cl_pass_forms *pf, size_t k)
{
	if (k == 0)
		return pf->first;
	return k <= pf->first ? k - 1 : k;
}

cl_err cl_pbe__wrong_password(const cl_pass_forms *pf, const char *file, const char *detail, cl_error *err)
{
	if (detail != NULL)
		return cl_error_set(err, CL_EPASSWORD, "wrong password for %s (%s)", file, detail);
	if (pf->empty)
		return cl_error_set(err, CL_EPASSWORD, "wrong password for %s (tried the empty password and no password)",
				    file);
	return cl_error_set(err, CL_EPASSWORD, "wrong password for %s", file);
}

/* ---- limits ------------------------------------------------------------------------ */

cl_err cl_pbe__check_iter(const ASN1_INTEGER *iter, int64_t *out, const char *file, cl_error *err)
{
	int64_t v = 1;
	if (iter != NULL && !ASN1_INTEGER_get_int64(&v, iter)) {
		ERR_clear_error();
		if (ASN1_STRING_type(iter) == V_ASN1_NEG_INTEGER)
			return cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: negative KDF iteration count", file);
		return cl_error_set(err, CL_EREFUSED,
				    "%s: KDF iteration count of more than 2^63 is too high (hostile file?)", file);
	}
	if (v <= 0)
		return cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: KDF iteration count %lld", file,
				    (long long)v);
	if (v > CL_KDF_MAX_ITER)
		return cl_error_set(err, CL_EREFUSED, "%s: KDF iteration count %lld is too high (hostile file?)",
				    file, (long long)v);
	*out = v;
	return CL_OK;
}

cl_err cl_pbe__charge(cl_kdf_budget *b, uint64_t cost, const char *file, cl_error *err)
{
	uint64_t max = b->max ? b->max : CL_KDF_MAX_COST;
	if (cost > max || b->used > max - cost)
		return cl_error_set(err, CL_EREFUSED,
				    "%s: the KDF iteration counts of this file add up to too much work "
				    "(over %llu units; hostile file?)",
				    file, (unsigned long long)max);
	b->used += cost;
	return CL_OK;
}

static uint64_t md_weight(const EVP_MD *md)
{
	return EVP_MD_get_block_size(md) >= 128 ? 2 : 1;
}

static uint64_t nblocks(size_t n, int u)
{
	if (u <= 0)
		return 1;
	uint64_t b = (n + (size_t)u - 1) / (size_t)u;
	return b ? b : 1;
}

uint64_t cl_pbe__pkcs12_kdf_cost(int64_t iter, const EVP_MD *md, size_t n)
{
	return (uint64_t)iter * nblocks(n, EVP_MD_get_size(md)) * md_weight(md);
}

/* ---- inspection -------------------------------------------------------------------- */

/* "shortName (1.2.3)" or the dotted OID alone. */
static void oid_name(char *out, size_t cap, const ASN1_OBJECT *oid)
{
	char dotted[96];
	if (oid == NULL || OBJ_obj2txt(dotted, sizeof(dotted), oid, 1) <= 0)
		snprintf(dotted, sizeof(dotted), "?");
	int nid = oid ? OBJ_obj2nid(oid) : NID_undef;
	if (nid != NID_undef)
		snprintf(out, cap, "%s (%s)", OBJ_nid2sn(nid), dotted);
	else
		snprintf(out, cap, "%s", dotted);
}

static const char *legacy_note(void)
{
	return cl_ingest__legacy_loaded() ? "" : " (OpenSSL's legacy provider is not available)";
}

static EVP_CIPHER *fetch_cipher(OSSL_LIB_CTX *libctx, const ASN1_OBJECT *oid)
{
	char dotted[96];
	int nid = OBJ_obj2nid(oid);
	const char *name = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
	if (name == NULL) {
		if (OBJ_obj2txt(dotted, sizeof(dotted), oid, 1) <= 0)
			return NULL;
		name = dotted;
	}
	ERR_set_mark();
	EVP_CIPHER *c = EVP_CIPHER_fetch(libctx, name, NULL);
	ERR_pop_to_mark();
	return c;
}

static EVP_MD *fetch_md_nid(OSSL_LIB_CTX *libctx, int nid)
{
	if (nid == NID_undef)
		return NULL;
	ERR_set_mark();
	EVP_MD *md = EVP_MD_fetch(libctx, OBJ_nid2sn(nid), NULL);
	ERR_pop_to_mark();
	return md;
}

static cl_err inspect_pbkdf2(const X509_ALGOR *kf, int keylen, uint64_t *cost, const char *file, cl_error *err)
{
	OSSL_LIB_CTX *libctx = cl_ingest__libctx();
	PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kf->parameter);
	EVP_MD *md = NULL;
	char name[160];
	cl_err rc = CL_OK;
	int64_t iter = 0;
	if (kdf == NULL) {
		rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: malformed PBKDF2 parameters", file);
		goto out;
	}
	if (kdf->salt == NULL || kdf->salt->type != V_ASN1_OCTET_STRING) {
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: PBKDF2 with a non-OCTET STRING salt is not supported",
				  file);
		goto out;
	}
	rc = cl_pbe__check_iter(kdf->iter, &iter, file, err);
	if (rc != CL_OK)
		goto out;
	int prf_nid = NID_hmacWithSHA1, md_nid = NID_undef;
	if (kdf->prf != NULL)
		prf_nid = OBJ_obj2nid(kdf->prf->algorithm);
	if (!EVP_PBE_find_ex(EVP_PBE_TYPE_PRF, prf_nid, NULL, &md_nid, NULL, NULL) ||
	    (md = fetch_md_nid(libctx, md_nid)) == NULL) {
		oid_name(name, sizeof(name), kdf->prf ? kdf->prf->algorithm : OBJ_nid2obj(prf_nid));
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: PBKDF2 pseudo-random function %s is not supported",
				  file, name);
		goto out;
	}
	if (kdf->keylength != NULL) {
		int64_t kl = 0;
		if (!ASN1_INTEGER_get_int64(&kl, kdf->keylength) || kl != keylen) {
			ERR_clear_error();
			rc = cl_error_set(err, CL_EBADINPUT,
					  "%s: corrupt file: PBKDF2 key length does not match the cipher", file);
			goto out;
		}
	}
	*cost = (uint64_t)iter * nblocks((size_t)keylen, EVP_MD_get_size(md)) * md_weight(md);
out:
	EVP_MD_free(md);
	PBKDF2PARAM_free(kdf);
	return rc;
}

static cl_err inspect_scrypt(const X509_ALGOR *kf, int keylen, uint64_t *cost, const char *file, cl_error *err)
{
	SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), kf->parameter);
	cl_err rc = CL_OK;
	uint64_t n = 0, r = 0, p = 0;
	if (sp == NULL || !ASN1_INTEGER_get_uint64(&n, sp->costParameter) ||
	    !ASN1_INTEGER_get_uint64(&r, sp->blockSize) ||
	    !ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter)) {
		ERR_clear_error();
		rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: malformed scrypt parameters", file);
		goto out;
	}
	if (sp->keyLength != NULL) {
		uint64_t kl = 0;
		if (!ASN1_INTEGER_get_uint64(&kl, sp->keyLength) || kl != (uint64_t)keylen) {
			ERR_clear_error();
			rc = cl_error_set(err, CL_EBADINPUT,
					  "%s: corrupt file: scrypt key length does not match the cipher", file);
			goto out;
		}
	}
	if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0) {
		rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: invalid scrypt parameters", file);
		goto out;
	}
	/* Each factor is bounded first so that the products below cannot overflow. */
	if (n > (UINT64_C(1) << 32) || r > (UINT64_C(1) << 16) || p > (UINT64_C(1) << 16) ||
	    n * r * p * 2 > CL_KDF_MAX_COST) {
		rc = cl_error_set(err, CL_EREFUSED,
				  "%s: scrypt cost (N=%llu, r=%llu, p=%llu) is too high (hostile file?)", file,
				  (unsigned long long)n, (unsigned long long)r, (unsigned long long)p);
		goto out;
	}
	if (128 * r * (n + p + 2) > OSSL_SCRYPT_MAX_MEM) {
		rc = cl_error_set(err, CL_EUNSUPPORTED,
				  "%s: scrypt parameters (N=%llu, r=%llu) need more memory than OpenSSL allows", file,
				  (unsigned long long)n, (unsigned long long)r);
		goto out;
	}
	/* Measured: N*r = 2^17 takes 48 ms, about 1.75 PBKDF2-SHA256 iterations per unit. */
	*cost = n * r * p * 2;
out:
	SCRYPT_PARAMS_free(sp);
	return rc;
}

static cl_err inspect_pbes2(const X509_ALGOR *alg, uint64_t *cost, int *block_size, const char *file,
			    cl_error *err)
{
	OSSL_LIB_CTX *libctx = cl_ingest__libctx();
	PBE2PARAM *p2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	char name[160];
	cl_err rc = CL_OK;
	if (p2 == NULL || p2->encryption == NULL || p2->keyfunc == NULL) {
		rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: malformed PBES2 parameters", file);
		goto out;
	}
	cipher = fetch_cipher(libctx, p2->encryption->algorithm);
	if (cipher == NULL) {
		oid_name(name, sizeof(name), p2->encryption->algorithm);
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: PBES2 cipher %s is not supported%s", file, name,
				  legacy_note());
		goto out;
	}
	/* The IV (or RC2 parameters) must decode, or every password would look wrong. */
	cctx = EVP_CIPHER_CTX_new();
	if (cctx == NULL || !EVP_CipherInit_ex(cctx, cipher, NULL, NULL, NULL, 0)) {
		rc = cl_ingest__ossl_error(err, CL_ECRYPTO, "%s: cannot set up the cipher", file);
		goto out;
	}
	if (EVP_CIPHER_asn1_to_param(cctx, p2->encryption->parameter) <= 0) {
		ERR_clear_error();
		rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: malformed cipher parameters", file);
		goto out;
	}
	/* The key length as OpenSSL will use it: RC2's parameters can change it. */
	int keylen = EVP_CIPHER_CTX_get_key_length(cctx);
	int knid = OBJ_obj2nid(p2->keyfunc->algorithm);
	if (knid == NID_id_pbkdf2) {
		rc = inspect_pbkdf2(p2->keyfunc, keylen, cost, file, err);
	} else if (knid == NID_id_scrypt) {
		rc = inspect_scrypt(p2->keyfunc, keylen, cost, file, err);
	} else {
		oid_name(name, sizeof(name), p2->keyfunc->algorithm);
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: key derivation function %s is not supported", file,
				  name);
	}
	if (rc == CL_OK && block_size != NULL)
		*block_size = EVP_CIPHER_get_block_size(cipher);
out:
	EVP_CIPHER_CTX_free(cctx);
	EVP_CIPHER_free(cipher);
	PBE2PARAM_free(p2);
	return rc;
}

cl_err cl_pbe__inspect(const X509_ALGOR *alg, uint64_t *cost, int *block_size, const char *file,
		       cl_error *err)
{
	OSSL_LIB_CTX *libctx = cl_ingest__libctx();
	PBEPARAM *pbe = NULL;
	EVP_CIPHER *cipher = NULL;
	EVP_MD *md = NULL;
	char name[160];
	cl_err rc = CL_OK;
	if (libctx == NULL)
		return cl_error_set(err, CL_ECRYPTO, "cannot load OpenSSL's default provider");
	if (alg == NULL || alg->algorithm == NULL)
		return cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: missing encryption algorithm", file);
	int nid = OBJ_obj2nid(alg->algorithm);
	if (nid == NID_pbes2)
		return inspect_pbes2(alg, cost, block_size, file, err);

	int cnid = NID_undef, mnid = NID_undef;
	oid_name(name, sizeof(name), alg->algorithm);
	if (!EVP_PBE_find_ex(EVP_PBE_TYPE_OUTER, nid, &cnid, &mnid, NULL, NULL) || cnid == NID_undef) {
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: encryption algorithm %s is not supported", file, name);
		goto out;
	}
	pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
	if (pbe == NULL || pbe->salt == NULL) {
		rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt file: malformed %s parameters", file, name);
		goto out;
	}
	int64_t iter = 0;
	rc = cl_pbe__check_iter(pbe->iter, &iter, file, err);
	if (rc != CL_OK)
		goto out;
	cipher = fetch_cipher(libctx, OBJ_nid2obj(cnid));
	if (cipher == NULL) {
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: encryption algorithm %s (cipher %s) is not supported%s",
				  file, name, OBJ_nid2sn(cnid), legacy_note());
		goto out;
	}
	md = fetch_md_nid(libctx, mnid);
	if (md == NULL) {
		rc = cl_error_set(err, CL_EUNSUPPORTED, "%s: encryption algorithm %s (digest %s) is not supported%s",
				  file, name, OBJ_nid2sn(mnid), legacy_note());
		goto out;
	}
	/* PKCS#12 PBEs derive key and IV separately with the PKCS#12 KDF; PKCS#5 v1.5 (PBES1)
	 * iterates one hash. */
	bool pkcs12 = nid >= NID_pbe_WithSHA1And128BitRC4 && nid <= NID_pbe_WithSHA1And40BitRC2_CBC;
	int keylen = EVP_CIPHER_get_key_length(cipher), ivlen = EVP_CIPHER_get_iv_length(cipher);
	uint64_t chains = 1;
	if (pkcs12)
		chains = nblocks((size_t)keylen, EVP_MD_get_size(md)) +
			 (ivlen > 0 ? nblocks((size_t)ivlen, EVP_MD_get_size(md)) : 0);
	*cost = (uint64_t)iter * chains * md_weight(md);
	if (block_size != NULL)
		*block_size = EVP_CIPHER_get_block_size(cipher);
out:
	EVP_MD_free(md);
	EVP_CIPHER_free(cipher);
	PBEPARAM_free(pbe);
	return rc;
}

/* ---- decryption -------------------------------------------------------------------- */

cl_err cl_pbe__decrypt(void **obj, const X509_ALGOR *alg, const uint8_t *ct, size_t ct_len,
		       cl_pass_forms *pf, bool integrity_checked, cl_kdf_budget *b, cl_pbe_d2i_fn d2i,
		       const char *what, const char *file, cl_error *err)
{
	*obj = NULL;
	uint64_t cost = 0;
	int bs = 1;
	cl_err rc = cl_pbe__inspect(alg, &cost, &bs, file, err);
	if (rc != CL_OK)
		return rc;
	if (ct == NULL || ct_len == 0 || ct_len > INT_MAX || (bs > 1 && ct_len % (size_t)bs != 0))
		return cl_error_set(err, CL_EBADINPUT, "%s: corrupt or truncated file: %s has a bad length", file,
				    what);
	bool first_decoded_badly = false;
	for (size_t k = 0; k < pf->n; k++) {
		size_t i = cl_pbe__form_at(pf, k);
		rc = cl_pbe__charge(b, cost, file, err);
		if (rc != CL_OK)
			return rc;
		int plen = 0;
		const char *p = cl_pbe__form_ptr(pf, i, &plen);
		unsigned char *pt = NULL;
		int ptlen = 0;
		ERR_clear_error();
		if (PKCS12_pbe_crypt_ex(alg, p, plen, ct, (int)ct_len, &pt, &ptlen, 0, cl_ingest__libctx(), NULL) ==
		    NULL)
			continue; /* bad padding: almost surely the wrong password form */
		void *o = ptlen > 0 ? d2i(pt, (size_t)ptlen) : NULL;
		OPENSSL_clear_free(pt, (size_t)(ptlen > 0 ? ptlen : 0));
		if (o != NULL) {
			pf->first = i;
			ERR_clear_error();
			*obj = o;
			return CL_OK;
		}
		if (k == 0)
			first_decoded_badly = true;
	}
	ERR_clear_error();
	if (integrity_checked && first_decoded_badly)
		return cl_error_set(err, CL_EBADINPUT,
				    "%s: corrupt PKCS#12 file: %s decrypts but does not decode", file, what);
	if (integrity_checked) {
		char detail[128];
		snprintf(detail, sizeof(detail), "the integrity password does not decrypt %s", what);
		return cl_pbe__wrong_password(pf, file, detail, err);
	}
	return cl_pbe__wrong_password(pf, file, NULL, err);
}
