/* cert_info.c - a certificate's metadata in plain C types and its S/MIME verdict (see
 * cert_info.h). Every string taken from the certificate is checked to be UTF-8 without
 * control characters before it is kept, since it ends up in events, JSON and terminals. */
#include "ingest/cert_info.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ledger/encoding.h"
#include "ledger/keys.h"

/* ---- small owned-string lists ------------------------------------------------------------ */

static cl_err list_push(char ***v, size_t *n, const char *s, size_t len)
{
	char *copy = strndup(s, len);
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (copy == NULL || nv == NULL) {
		free(copy);
		if (nv != NULL)
			*v = nv;
		return CL_ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = copy;
	return CL_OK;
}

static bool list_has(char *const *v, size_t n, const char *s, bool nocase)
{
	for (size_t i = 0; i < n; i++)
		if (nocase ? strcasecmp(v[i], s) == 0 : strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void list_free(char ***v, size_t *n)
{
	for (size_t i = 0; *v != NULL && i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

/* ---- text checks ------------------------------------------------------------------------- */

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF) with no control
 * characters (C0, DEL). */
static bool clean_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* local@domain: one '@', both sides non-empty, no spaces or specials that never belong in a
 * mailbox, a dot in the domain. UTF-8 (SMTPUTF8) is allowed. */
static bool looks_like_email(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	if (at == NULL || at == s || at == s + n - 1 || memchr(at + 1, '@', (size_t)(s + n - at - 1)) != NULL)
		return false;
	if (memchr(at + 1, '.', (size_t)(s + n - at - 1)) == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || strchr("<>(),;:\\\"[]", c) != NULL)
			return false;
	}
	return clean_utf8((const unsigned char *)s, n);
}

static cl_err add_email(cl_cert_meta *info, const char *s, size_t n)
{
	if (n == 0 || n > 320 || memchr(s, '\0', n) != NULL || !looks_like_email(s, n))
		return CL_OK; /* not an address: skipped, never guessed at */
	char tmp[321];
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (list_has(info->emails, info->n_emails, tmp, true))
		return CL_OK;
	return list_push(&info->emails, &info->n_emails, tmp, n);
}

/* ---- pieces -------------------------------------------------------------------------------- */

static cl_err asn1_micros(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return CL_EBADINPUT;
	errno = 0;
	time_t s = timegm(&tm);
	if (s == (time_t)-1 && errno != 0)
		return CL_EBADINPUT;
	*out = (int64_t)s * 1000000;
	return CL_OK;
}

static char *print_name(const X509_NAME *name, unsigned long flags)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, flags) >= 0) {
		char *p = NULL;
		long n = BIO_get_mem_data(b, &p);
		if (n >= 0 && clean_utf8((const unsigned char *)p, (size_t)n))
			out = strndup(p ? p : "", (size_t)n);
	}
	BIO_free(b);
	return out;
}

/* RFC 2253 order and escaping, but UTF-8 kept as UTF-8; falling back to escaped bytes, then to
 * hex dumps, so that any name (even a malformed one) prints as clean text. */
static char *name_text(const X509_NAME *name)
{
	char *s = print_name(name, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	if (s == NULL)
		s = print_name(name, XN_FLAG_RFC2253);
	if (s == NULL)
		s = print_name(name, XN_FLAG_RFC2253 | ASN1_STRFLGS_DUMP_ALL);
	ERR_clear_error();
	return s;
}

static char *serial_text(const ASN1_INTEGER *sn)
{
	int len = ASN1_STRING_length(sn);
	const unsigned char *d = ASN1_STRING_get0_data(sn);
	bool neg = ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER;
	if (len <= 0 || d == NULL)
		return strdup("00");
	char *out = malloc(2 * (size_t)len + 2);
	if (out == NULL)
		return NULL;
	out[0] = '-';
	cl_hex_encode(out + (neg ? 1 : 0), d, (size_t)len);
	return out;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s ? s : "unknown");
	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static char *oid_text(const ASN1_OBJECT *o, bool prefer_ln)
{
	int nid = OBJ_obj2nid(o);
	if (nid != NID_undef)
		return strdup(prefer_ln ? OBJ_nid2ln(nid) : OBJ_nid2sn(nid));
	char buf[128];
	if (OBJ_obj2txt(buf, sizeof(buf), o, 1) <= 0)
		return strdup("unknown");
	return strdup(buf);
}

static cl_err key_info(cl_cert_meta *info, X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (pk == NULL) {
		ASN1_OBJECT *alg = NULL;
		ERR_clear_error();
		if (!X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x)) || alg == NULL)
			info->key_type = strdup("unknown");
		else
			info->key_type = oid_text(alg, false);
		return info->key_type ? CL_OK : CL_ENOMEM;
	}
	const char *t;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA: t = "rsa"; break;
	case EVP_PKEY_RSA_PSS: t = "rsa-pss"; break;
	case EVP_PKEY_EC: t = "ec"; break;
	case EVP_PKEY_ED25519: t = "ed25519"; break;
	case EVP_PKEY_ED448: t = "ed448"; break;
	case EVP_PKEY_DSA: t = "dsa"; break;
	case EVP_PKEY_X25519: t = "x25519"; break;
	case EVP_PKEY_X448: t = "x448"; break;
	case EVP_PKEY_DH:
	case EVP_PKEY_DHX: t = "dh"; break;
	default: t = EVP_PKEY_get0_type_name(pk); break;
	}
	info->key_type = lower_dup(t);
	if (info->key_type == NULL)
		return CL_ENOMEM;
	int bits = EVP_PKEY_get_bits(pk);
	info->key_bits = bits > 0 ? (uint64_t)bits : 0;
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
		char group[80];
		size_t glen = 0;
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen)) {
			info->key_curve = strndup(group, glen);
			if (info->key_curve == NULL)
				return CL_ENOMEM;
		}
	}
	ERR_clear_error();
	return CL_OK;
}

static cl_err usage_info(cl_cert_meta *info, X509 *x)
{
	static const char *const ku_names[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
					       "dataEncipherment", "keyAgreement", "keyCertSign",
					       "cRLSign", "encipherOnly", "decipherOnly"};
	int crit = -1;
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	info->has_key_usage = crit != -1; /* -2 (repeated) or undecodable: present, usable for nothing */
	cl_err rc = CL_OK;
	for (int i = 0; ku != NULL && i < 9 && rc == CL_OK; i++)
		if (ASN1_BIT_STRING_get_bit(ku, i))
			rc = list_push(&info->key_usage, &info->n_key_usage, ku_names[i], strlen(ku_names[i]));
	ASN1_BIT_STRING_free(ku);
	if (rc != CL_OK)
		return rc;

	crit = -1;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	info->has_ext_key_usage = crit != -1;
	for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku) && rc == CL_OK; i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		const char *n = NULL;
		char buf[128];
		switch (OBJ_obj2nid(o)) {
		case NID_email_protect: n = "emailProtection"; break;
		case NID_client_auth: n = "clientAuth"; break;
		case NID_server_auth: n = "serverAuth"; break;
		case NID_code_sign: n = "codeSigning"; break;
		case NID_time_stamp: n = "timeStamping"; break;
		case NID_OCSP_sign: n = "OCSPSigning"; break;
		case NID_anyExtendedKeyUsage: n = "anyExtendedKeyUsage"; break;
		default:
			if (OBJ_obj2txt(buf, sizeof(buf), o, 1) <= 0)
				continue;
			n = buf;
			break;
		}
		if (!list_has(info->ext_key_usage, info->n_ext_key_usage, n, false))
			rc = list_push(&info->ext_key_usage, &info->n_ext_key_usage, n, strlen(n));
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	ERR_clear_error();
	return rc;
}

static cl_err email_info(cl_cert_meta *info, X509 *x)
{
	cl_err rc = CL_OK;
	int crit = -1;
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san) && rc == CL_OK; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type == GEN_EMAIL) {
			rc = add_email(info, (const char *)ASN1_STRING_get0_data(g->d.rfc822Name),
				       (size_t)ASN1_STRING_length(g->d.rfc822Name));
		} else if (g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_id_on_SmtpUTF8Mailbox &&
			   g->d.otherName->value != NULL && g->d.otherName->value->type == V_ASN1_UTF8STRING) {
			const ASN1_UTF8STRING *u = g->d.otherName->value->value.utf8string;
			rc = add_email(info, (const char *)ASN1_STRING_get0_data(u), (size_t)ASN1_STRING_length(u));
		}
	}
	GENERAL_NAMES_free(san);
	const X509_NAME *subj = X509_get_subject_name(x);
	int nids[2] = {NID_pkcs9_emailAddress, NID_commonName};
	for (int k = 0; k < 2 && rc == CL_OK; k++) {
		if (nids[k] == NID_commonName && info->n_emails > 0)
			break; /* the CN only when nothing else named an address */
		for (int pos = X509_NAME_get_index_by_NID(subj, nids[k], -1); pos >= 0 && rc == CL_OK;
		     pos = X509_NAME_get_index_by_NID(subj, nids[k], pos)) {
			unsigned char *u = NULL;
			int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, pos)));
			if (n > 0)
				rc = add_email(info, (const char *)u, (size_t)n);
			OPENSSL_free(u);
		}
	}
	ERR_clear_error();
	return rc;
}

static cl_err sig_info(cl_cert_meta *info, X509 *x)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *oid = NULL;
	X509_get0_signature(NULL, &alg, x);
	if (alg != NULL)
		X509_ALGOR_get0(&oid, NULL, NULL, alg);
	info->sig_alg = oid ? oid_text(oid, true) : strdup("unknown");
	int mdnid = NID_undef, pknid = NID_undef, secbits = 0;
	uint32_t flags = 0;
	if (!X509_get_signature_info(x, &mdnid, &pknid, &secbits, &flags))
		OBJ_find_sigid_algs(OBJ_obj2nid(oid), &mdnid, &pknid);
	ERR_clear_error();
	const char *h;
	if (mdnid != NID_undef)
		h = OBJ_nid2ln(mdnid);
	else if (pknid == NID_ED25519)
		h = "sha512";
	else if (pknid == NID_ED448)
		h = "shake256";
	else
		h = "unknown";
	info->sig_hash = lower_dup(h);
	return info->sig_alg && info->sig_hash ? CL_OK : CL_ENOMEM;
}

/* ---- public ----------------------------------------------------------------------------------- */

cl_err cl_cert_der(const X509 *x, uint8_t **out, size_t *len, cl_error *err)
{
	*out = NULL;
	*len = 0;
	int n = i2d_X509(x, NULL);
	if (n <= 0) {
		ERR_clear_error();
		return cl_error_set(err, CL_EBADINPUT, "the certificate cannot be encoded");
	}
	uint8_t *buf = malloc((size_t)n), *p = buf;
	if (buf == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	if (i2d_X509(x, &p) != n) {
		free(buf);
		ERR_clear_error();
		return cl_error_set(err, CL_EBADINPUT, "the certificate cannot be encoded");
	}
	*out = buf;
	*len = (size_t)n;
	return CL_OK;
}

cl_err cl_cert_meta_judge(cl_cert_meta *info, int64_t now)
{
	char **r = NULL;
	size_t n = 0;
	cl_err rc = CL_OK;
#define REASON(cond, text)                                              \
	do {                                                            \
		if (rc == CL_OK && (cond))                              \
			rc = list_push(&r, &n, (text), strlen(text));   \
	} while (0)
	bool email_eku = list_has(info->ext_key_usage, info->n_ext_key_usage, "emailProtection", false) ||
			 list_has(info->ext_key_usage, info->n_ext_key_usage, "anyExtendedKeyUsage", false);
	bool rsa_dsa = info->key_type != NULL && (strcmp(info->key_type, "rsa") == 0 ||
						  strcmp(info->key_type, "rsa-pss") == 0 ||
						  strcmp(info->key_type, "dsa") == 0);
	const char *h = info->sig_hash ? info->sig_hash : "";
	bool weak = strcmp(h, "md5") == 0 || strcmp(h, "sha1") == 0 || strcmp(h, "md2") == 0 || strcmp(h, "md4") == 0;
	bool ku_useful = !info->has_key_usage;
	static const char *const useful[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
					     "dataEncipherment", "keyAgreement"};
	for (size_t i = 0; i < sizeof(useful) / sizeof(useful[0]); i++)
		ku_useful = ku_useful || list_has(info->key_usage, info->n_key_usage, useful[i], false);

	REASON(info->n_emails == 0, "no email address");
	REASON(info->has_ext_key_usage && !email_eku, "extended key usage without emailProtection");
	REASON(now > info->not_after, "expired");
	REASON(now < info->not_before, "not yet valid");
	REASON(weak, "weak signature hash (md5/sha1)");
	REASON(rsa_dsa && info->key_bits < 2048, "key too small");
	REASON(!ku_useful, "key usage allows neither signing nor encryption");
#undef REASON
	if (rc != CL_OK) {
		list_free(&r, &n);
		return rc;
	}
	list_free(&info->smime_reasons, &info->n_smime_reasons);
	info->smime_reasons = r;
	info->n_smime_reasons = n;
	info->smime_ok = n == 0;
	return CL_OK;
}

cl_err cl_cert_meta_from_x509(cl_cert_meta *out, X509 *x, int64_t now, cl_error *err)
{
	cl_cert_meta info;
	cl_err rc;
	memset(&info, 0, sizeof(info));
	memset(out, 0, sizeof(*out));

	rc = cl_cert_der(x, &info.der, &info.der_len, err);
	if (rc != CL_OK)
		goto out;
	cl_sha256(info.der, info.der_len, info.fingerprint);
	cl_hex_encode(info.fingerprint_hex, info.fingerprint, sizeof(info.fingerprint));

	info.subject = name_text(X509_get_subject_name(x));
	info.issuer = name_text(X509_get_issuer_name(x));
	info.serial = serial_text(X509_get0_serialNumber(x));
	if (info.subject == NULL || info.issuer == NULL || info.serial == NULL) {
		rc = cl_error_set(err, CL_EBADINPUT, "certificate %s: its names cannot be printed", info.fingerprint_hex);
		goto out;
	}
	if (asn1_micros(X509_get0_notBefore(x), &info.not_before) != CL_OK ||
	    asn1_micros(X509_get0_notAfter(x), &info.not_after) != CL_OK) {
		ERR_clear_error();
		rc = cl_error_set(err, CL_EBADINPUT, "certificate %s: invalid validity time", info.fingerprint_hex);
		goto out;
	}
	if ((rc = email_info(&info, x)) != CL_OK || (rc = key_info(&info, x)) != CL_OK ||
	    (rc = usage_info(&info, x)) != CL_OK || (rc = sig_info(&info, x)) != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	uint32_t xf = X509_get_extension_flags(x);
	info.is_ca = (xf & EXFLAG_CA) != 0;
	info.self_signed = X509_self_signed(x, 1) == 1;
	ERR_clear_error();
	rc = cl_cert_meta_judge(&info, now);
	if (rc != CL_OK)
		cl_error_set(err, rc, "out of memory");
out:
	if (rc != CL_OK) {
		cl_cert_meta_clear(&info);
		return rc;
	}
	*out = info;
	return CL_OK;
}

void cl_cert_meta_clear(cl_cert_meta *info)
{
	if (info == NULL)
		return;
	free(info->subject);
	free(info->issuer);
	free(info->serial);
	list_free(&info->emails, &info->n_emails);
	free(info->key_type);
	free(info->key_curve);
	list_free(&info->key_usage, &info->n_key_usage);
	list_free(&info->ext_key_usage, &info->n_ext_key_usage);
	free(info->sig_alg);
	free(info->sig_hash);
	list_free(&info->smime_reasons, &info->n_smime_reasons);
	free(info->der);
	memset(info, 0, sizeof(*info));
}
