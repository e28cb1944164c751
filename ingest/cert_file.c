/* cert_file.c - cl_cert_file_parse: recognise an uploaded file by its content, hand it to the
 * right reader (p12.c, pem.c, or the DER X.509 / PKCS#7 readers here), then choose the leaf by
 * matching the private key and order the chain. The password is consumed on entry: only the
 * forms of pbe.h live on, and they are wiped as soon as the readers are done. */
#include "ingest/cert_file.h"

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ossl.h"
#include "ingest/pbe.h"
#include "ingest/readers.h"

const char *cl_cert_file_kind_name(cl_cert_file_kind kind)
{
	switch (kind) {
	case CL_CERT_FILE_P12: return "p12";
	case CL_CERT_FILE_PEM: return "pem";
	case CL_CERT_FILE_DER: return "der";
	case CL_CERT_FILE_P7: return "p7b";
	case CL_CERT_FILE_KEY: return "key";
	default: return "unknown";
	}
}

/* ---- recognising the format ----------------------------------------------------------- */

/* A bounded reader of one DER/BER tag-length header: low tag numbers only, definite lengths up
 * to 4 octets or the indefinite form. It never reads past n; the lengths it returns are not
 * checked against n (truncation is the decoder's business, the sniffer only looks). */
typedef struct der_hdr {
	uint8_t tag;
	size_t hdr_len;
	size_t len;
	bool indefinite;
} der_hdr;

static bool der_header(const uint8_t *p, size_t n, der_hdr *h)
{
	if (n < 2 || (p[0] & 0x1f) == 0x1f)
		return false;
	h->tag = p[0];
	h->indefinite = false;
	if (p[1] < 0x80) {
		h->len = p[1];
		h->hdr_len = 2;
		return true;
	}
	if (p[1] == 0x80) {
		h->indefinite = true;
		h->len = 0;
		h->hdr_len = 2;
		return true;
	}
	size_t k = p[1] & 0x7f;
	if (k > 4 || n < 2 + k)
		return false;
	size_t len = 0;
	for (size_t i = 0; i < k; i++)
		len = (len << 8) | p[2 + i];
	h->len = len;
	h->hdr_len = 2 + k;
	return true;
}

cl_cert_file_kind cl_cert_file_sniff(cl_bytes data)
{
	const uint8_t *p = data.ptr;
	size_t n = data.len;
	der_hdr outer, in1, in2;
	if (p == NULL || n == 0)
		return CL_CERT_FILE_UNKNOWN;
	if (p[0] == 0x30) {
		if (!der_header(p, n, &outer) || !der_header(p + outer.hdr_len, n - outer.hdr_len, &in1))
			return CL_CERT_FILE_UNKNOWN;
		const uint8_t *q = p + outer.hdr_len;
		size_t qn = n - outer.hdr_len;
		switch (in1.tag) {
		case 0x02: /* INTEGER: PFX version 3, or a private key's version 0/1 */
			if (in1.len == 1 && qn > in1.hdr_len && q[in1.hdr_len] == 3)
				return CL_CERT_FILE_P12;
			return CL_CERT_FILE_KEY;
		case 0x30: /* SEQUENCE: tbsCertificate, or EncryptedPrivateKeyInfo's AlgorithmIdentifier */
			if (der_header(q + in1.hdr_len, qn - in1.hdr_len, &in2) && in2.tag == 0x06)
				return CL_CERT_FILE_KEY;
			return CL_CERT_FILE_DER;
		case 0x06: /* OBJECT IDENTIFIER: a ContentInfo */
			return CL_CERT_FILE_P7;
		default:
			return CL_CERT_FILE_UNKNOWN;
		}
	}
	static const char begin[] = "-----BEGIN ";
	if (memmem(p, n, begin, sizeof(begin) - 1) != NULL)
		return CL_CERT_FILE_PEM;
	return CL_CERT_FILE_UNKNOWN;
}

/* ---- collecting ------------------------------------------------------------------------ */

cl_err cl_cert_file__add_cert(cl_cert_file *f, X509 *x, const char *file, cl_error *err)
{
	for (size_t i = 0; i < f->n_certs; i++) {
		if (X509_cmp(f->certs[i], x) == 0) {
			X509_free(x);
			return CL_OK;
		}
	}
	if (f->n_certs >= CL_CERT_FILE_MAX_CERTS) {
		X509_free(x);
		return cl_error_set(err, CL_EREFUSED, "%s: the file holds more than %d certificates", file,
				    CL_CERT_FILE_MAX_CERTS);
	}
	if (f->n_certs == f->cap_certs_) {
		size_t cap = f->cap_certs_ ? 2 * f->cap_certs_ : 8;
		X509 **v = realloc(f->certs, cap * sizeof(*v));
		if (v == NULL) {
			X509_free(x);
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		}
		f->certs = v;
		f->cap_certs_ = cap;
	}
	f->certs[f->n_certs++] = x;
	return CL_OK;
}

cl_err cl_cert_file__add_key(cl_cert_file *f, EVP_PKEY *pkey, const char *friendly_name, const char *file,
			     cl_error *err)
{
	if (f->pkey != NULL) {
		int same = EVP_PKEY_eq(f->pkey, pkey);
		ERR_clear_error();
		EVP_PKEY_free(pkey);
		if (same == 1)
			return CL_OK;
		return cl_error_set(err, CL_EREFUSED,
				    "%s: the file holds more than one private key; upload each certificate with its "
				    "key separately",
				    file);
	}
	f->pkey = pkey;
	if (friendly_name != NULL && f->friendly_name == NULL) {
		f->friendly_name = strdup(friendly_name);
		if (f->friendly_name == NULL)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	return CL_OK;
}

/* ---- DER readers -------------------------------------------------------------------------- */

static bool only_padding(const uint8_t *p, const uint8_t *end)
{
	for (; p < end; p++)
		if (*p != 0 && *p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
			return false;
	return true;
}

static cl_err read_der_cert(cl_cert_file *f, cl_bytes data, const char *file, cl_error *err)
{
	const uint8_t *p = data.ptr;
	if (data.len > LONG_MAX)
		return cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", file);
	X509 *x = d2i_X509(NULL, &p, (long)data.len);
	if (x == NULL || !only_padding(p, data.ptr + data.len)) {
		X509_free(x);
		ERR_clear_error();
		return cl_error_set(err, CL_EBADINPUT, "%s: corrupt or truncated DER certificate", file);
	}
	return cl_cert_file__add_cert(f, x, file, err);
}

cl_err cl_ingest__cms_certs(cl_cert_file *f, const uint8_t *der, size_t len, size_t *consumed, const char *file,
			    cl_error *err)
{
	const uint8_t *p = der;
	cl_err rc = CL_OK;
	if (len > LONG_MAX)
		return cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", file);
	ERR_clear_error();
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL) {
		ERR_clear_error();
		return cl_error_set(err, CL_EBADINPUT, "%s: corrupt or truncated PKCS#7 file", file);
	}
	if (consumed != NULL)
		*consumed = (size_t)(p - der);
	/* NULL for content types that carry no certificates, or when there are none. */
	STACK_OF(X509) *certs = CMS_get1_certs(cms);
	ERR_clear_error();
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		sk_X509_set(certs, i, NULL); /* ownership moves to f */
		rc = cl_cert_file__add_cert(f, x, file, err);
		if (rc != CL_OK)
			break;
	}
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	return rc;
}

static cl_err read_der_p7(cl_cert_file *f, cl_bytes data, const char *file, cl_error *err)
{
	size_t used = 0;
	cl_err rc = cl_ingest__cms_certs(f, data.ptr, data.len, &used, file, err);
	if (rc == CL_OK && !only_padding(data.ptr + used, data.ptr + data.len))
		rc = cl_error_set(err, CL_EBADINPUT, "%s: corrupt PKCS#7 file: unexpected bytes after its end", file);
	return rc;
}

/* ---- leaf and chain ------------------------------------------------------------------------ */

/* Several certificates for one key (a renewal kept in the same file): the most recently
 * issued one is the leaf, ties broken by the later notAfter, then by file order. */
static bool newer(X509 *a, X509 *b)
{
	int c = ASN1_TIME_compare(X509_get0_notBefore(a), X509_get0_notBefore(b));
	if (c == 0)
		c = ASN1_TIME_compare(X509_get0_notAfter(a), X509_get0_notAfter(b));
	return c > 0;
}

static cl_err choose_leaf(cl_cert_file *f, const char *file, cl_error *err)
{
	bool *used = NULL;
	cl_err rc = CL_OK;
	if (f->n_certs == 0)
		return cl_error_set(err, CL_EBADINPUT, "%s: the file holds no certificate%s", file,
				    f->pkey ? " (only a private key)" : "");
	if (f->pkey == NULL)
		return CL_OK;
	for (size_t i = 0; i < f->n_certs; i++) {
		EVP_PKEY *pub = X509_get0_pubkey(f->certs[i]); /* NULL for unknown key types */
		if (pub != NULL && EVP_PKEY_eq(pub, f->pkey) == 1 && (f->leaf == NULL || newer(f->certs[i], f->leaf)))
			f->leaf = f->certs[i];
	}
	ERR_clear_error();
	if (f->leaf == NULL)
		return cl_error_set(err, CL_EREFUSED, "%s: the private key does not match any certificate in the file",
				    file);
	f->chain = calloc(f->n_certs, sizeof(*f->chain));
	used = calloc(f->n_certs, sizeof(*used));
	if (f->chain == NULL || used == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	X509 *cur = f->leaf;
	for (size_t i = 0; i < f->n_certs; i++)
		used[i] = f->certs[i] == f->leaf;
	/* Walk up from the leaf while an unused certificate issued the current one. */
	while (X509_check_issued(cur, cur) != X509_V_OK) {
		size_t found = f->n_certs;
		for (size_t i = 0; i < f->n_certs && found == f->n_certs; i++)
			if (!used[i] && X509_check_issued(f->certs[i], cur) == X509_V_OK)
				found = i;
		if (found == f->n_certs)
			break;
		used[found] = true;
		cur = f->certs[found];
		f->chain[f->n_chain++] = cur;
	}
	for (size_t i = 0; i < f->n_certs; i++)
		if (!used[i])
			f->chain[f->n_chain++] = f->certs[i];
	ERR_clear_error();
	if (f->friendly_name == NULL) {
		int alen = 0;
		const unsigned char *alias = X509_alias_get0(f->leaf, &alen);
		if (alias != NULL && alen > 0) {
			f->friendly_name = strndup((const char *)alias, (size_t)alen);
			if (f->friendly_name == NULL)
				rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		}
	}
out:
	free(used);
	return rc;
}

/* ---- entry point ------------------------------------------------------------------------- */

cl_err cl_cert_file_parse(cl_cert_file **out, cl_bytes data, cl_secret *password, const char *name,
			  const cl_cert_parse_opts *opts, cl_error *err)
{
	cl_pass_forms pf;
	cl_cert_file *f = NULL;
	cl_kdf_budget budget = {0, CL_KDF_MAX_COST};
	cl_err rc;

	memset(&pf, 0, sizeof(pf));
	*out = NULL;
	if (name == NULL)
		name = "the file";
	if (opts != NULL && opts->version == CL_CERT_PARSE_OPTS_VERSION && opts->max_kdf_cost != 0)
		budget.max = opts->max_kdf_cost;

	/* The caller's password is consumed first, whatever happens next. */
	rc = cl_pbe__forms_init(&pf, password, err);
	if (password != NULL)
		cl_secret_free(password);
	if (rc != CL_OK)
		goto out;

	if (data.len > CL_CERT_FILE_MAX) {
		rc = cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", name);
		goto out;
	}
	if (data.len == 0 || data.ptr == NULL) {
		rc = cl_error_set(err, CL_EBADINPUT, "%s: the file is empty", name);
		goto out;
	}
	if (cl_ingest__libctx() == NULL) {
		rc = cl_error_set(err, CL_ECRYPTO, "cannot load OpenSSL's default provider");
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	f->kind = cl_cert_file_sniff(data);
	switch (f->kind) {
	case CL_CERT_FILE_P12:
		rc = cl_ingest__p12_read(f, data, &pf, &budget, name, err);
		break;
	case CL_CERT_FILE_PEM:
		rc = cl_ingest__pem_read(f, data, &pf, &budget, name, err);
		break;
	case CL_CERT_FILE_DER:
		rc = read_der_cert(f, data, name, err);
		break;
	case CL_CERT_FILE_P7:
		rc = read_der_p7(f, data, name, err);
		break;
	case CL_CERT_FILE_KEY:
		rc = cl_error_set(err, CL_EBADINPUT, "%s: the file holds no certificate (it looks like a private key)",
				  name);
		break;
	default:
		rc = cl_error_set(err, CL_EBADINPUT,
				  "%s: not a certificate file (not PKCS#12, PEM, DER X.509 or PKCS#7)", name);
		break;
	}
	cl_pbe__forms_clear(&pf); /* the file is open (or refused): the password is no longer needed */
	if (rc != CL_OK)
		goto out;
	f->kdf_cost = budget.used;
	rc = choose_leaf(f, name, err);
out:
	cl_pbe__forms_clear(&pf);
	ERR_clear_error();
	if (rc != CL_OK) {
		cl_cert_file_free(f);
		return rc;
	}
	*out = f;
	return CL_OK;
}

void cl_cert_file_free(cl_cert_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n_certs; i++)
		X509_free(f->certs[i]);
	free(f->certs);
	free(f->chain);
	EVP_PKEY_free(f->pkey);
	free(f->friendly_name);
	free(f);
}
