/* tu_certs.c - test certificates and the test clock (see tu_certs.h). */
#include "tu_certs.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#include "ledger/append.h"
#include "projections/certs.h"

int64_t tu_clock(void *ctx)
{
	return *(int64_t *)ctx;
}

int64_t tu_time(int month, int day, int hour, int min, int sec)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 2026 - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm) * 1000000;
}

void tu_hex(char out[65], const uint8_t fp[32])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", fp[i]);
}

typedef struct up_ctx {
	cl_cert_uploaded *c;
} up_ctx;

static cl_err append_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	up_ctx *u = arg;
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_err rc = cl_cert_uploaded_encode(&data, u->c);
	cl_actor who = cl_wtxn__actor(t);
	if (rc == CL_OK)
		rc = cl_wtxn_append(t, &who, "cert.uploaded", cl_buf_view(&data), NULL, err);
	cl_buf_free(&data);
	return rc;
}

static cl_err record_rc(cl_ledger *l, const tu_cert_spec *s, const uint8_t *der, size_t der_len, const char *serial,
			uint8_t fp[32], cl_error *err)
{
	static char *ku[] = {"digitalSignature", "keyEncipherment"};
	static char *eku[] = {"emailProtection"};
	char subject[300];
	size_t ne = 0;
	while (ne < 4 && s->emails[ne])
		ne++;
	snprintf(subject, sizeof(subject), "CN=%s", ne ? s->emails[0] : s->name);
	cl_cert_uploaded c;
	memset(&c, 0, sizeof(c));
	memcpy(c.fingerprint, fp, 32);
	c.name = (char *)s->name;
	c.kind = s->has_private_key ? "p12" : "pem";
	c.has_private_key = s->has_private_key;
	c.has_key_blob_sha256 = s->has_private_key;
	if (s->has_private_key)
		RAND_bytes(c.key_blob_sha256, 32);
	c.subject = subject;
	c.issuer = subject;
	c.serial = (char *)serial;
	c.not_before = s->not_before;
	c.not_after = s->not_after;
	c.emails = (char **)s->emails;
	c.nemails = ne;
	c.key_type = "ec";
	c.key_bits = 256;
	c.key_usage = ku;
	c.nkey_usage = 2;
	c.ext_key_usage = eku;
	c.next_key_usage = 1;
	c.sig_hash = "sha256";
	c.smime_ok = true;
	c.der = (uint8_t *)der;
	c.der_len = der_len;
	up_ctx u = {&c};
	return cl_ledger__write(l, append_cb, &u, err);
}

static void record(cl_ledger *l, const tu_cert_spec *s, const uint8_t *der, size_t der_len, const char *serial,
		   uint8_t fp[32])
{
	cl_error err = CL_ERROR_INIT;
	if (record_rc(l, s, der, der_len, serial, fp, &err) != CL_OK)
		fail_msg("cert.uploaded of %s: %s", s->name, err.msg);
}

void tu_upload(cl_ledger *l, const tu_cert_spec *s, uint8_t fp[32])
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	uint8_t sn[8];
	RAND_bytes(sn, sizeof(sn));
	sn[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(sn, sizeof(sn), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	char *serial = BN_bn2hex(bn);
	for (char *p = serial; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	BN_free(bn);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(s->not_before / 1000000));
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(s->not_after / 1000000));
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)(s->emails[0] ? s->emails[0] : s->name), -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	if (s->emails[0]) {
		char san[600] = "";
		for (int i = 0; i < 4 && s->emails[i]; i++) {
			size_t n = strlen(san);
			snprintf(san + n, sizeof(san) - n, "%semail:%s", i ? "," : "", s->emails[i]);
		}
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	assert_true(n > 0);
	if (s->fingerprint)
		memcpy(fp, s->fingerprint, 32);
	else
		EVP_Digest(der, (size_t)n, fp, NULL, EVP_sha256(), NULL);
	record(l, s, der, (size_t)n, serial, fp);
	OPENSSL_free(der);
	OPENSSL_free(serial);
	X509_free(x);
	EVP_PKEY_free(key);
}

cl_err tu_upload_fake_rc(cl_ledger *l, const tu_cert_spec *s, uint8_t fp[32], cl_error *err)
{
	uint8_t der[300];
	RAND_bytes(der, sizeof(der));
	if (s->fingerprint)
		memcpy(fp, s->fingerprint, 32);
	else
		RAND_bytes(fp, 32);
	return record_rc(l, s, der, sizeof(der), "01", fp, err);
}

void tu_upload_fake(cl_ledger *l, const tu_cert_spec *s, uint8_t fp[32])
{
	uint8_t der[300];
	RAND_bytes(der, sizeof(der));
	if (s->fingerprint)
		memcpy(fp, s->fingerprint, 32);
	else
		RAND_bytes(fp, 32);
	char serial[17];
	for (int i = 0; i < 8; i++)
		snprintf(serial + 2 * i, 3, "%02x", der[i]);
	record(l, s, der, sizeof(der), serial, fp);
}
