/* webhook_sign.c - Standard Webhooks secrets (whsec_ text form) and HMAC-SHA256 signatures.
 *
 * Base64 is done with OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock into stack buffers that are
 * cleansed before returning, instead of ledger/encoding.c's helpers, because those return plain
 * malloc'd memory and the key must only ever sit in a cl_secret. The MAC goes through EVP_MAC
 * fed piecewise (id, ".", timestamp, ".", body) so the body is never copied.
 */
#include "export/webhook_sign.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define PREFIX_LEN (sizeof(CL_WH_SECRET_PREFIX) - 1)
#define MAC_LEN 32
/* base64 text of 32 bytes. */
#define MAC_B64_LEN 44
/* base64 text length of n bytes, padded. */
#define B64_LEN(n) (4 * (((n) + 2) / 3))

static int key_size_ok(const cl_secret *key)
{
	return key != NULL && key->ptr != NULL && key->len >= CL_WH_KEY_MIN && key->len <= CL_WH_KEY_MAX;
}

cl_err cl_wh_secret_generate(cl_secret *key, size_t nbytes, cl_error *err)
{
	cl_err rc;
	cl_secret_free(key);
	if (nbytes < CL_WH_KEY_MIN || nbytes > CL_WH_KEY_MAX)
		return cl_error_set(err, CL_EUSAGE, "webhook secret size %zu is outside %d..%d bytes",
				    nbytes, CL_WH_KEY_MIN, CL_WH_KEY_MAX);
	key->max = CL_WH_KEY_MAX;
	rc = cl_secret_alloc(key, nbytes);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "cannot allocate a webhook secret");
		goto out;
	}
	if (RAND_bytes(key->ptr, (int)nbytes) != 1) {
		rc = cl_error_set(err, CL_ECRYPTO, "random generator failed making a webhook secret");
		goto out;
	}
	rc = CL_OK;
out:
	if (rc != CL_OK)
		cl_secret_free(key);
	return rc;
}

cl_err cl_wh_secret_format(cl_secret *text, const cl_secret *key, cl_error *err)
{
	unsigned char b64[B64_LEN(CL_WH_KEY_MAX) + 1];
	cl_err rc;
	cl_secret_free(text);
	if (!key_size_ok(key))
		return cl_error_set(err, CL_EUSAGE, "webhook secret key has the wrong size");
	int n = EVP_EncodeBlock(b64, key->ptr, (int)key->len);
	text->max = CL_WH_SECRET_TEXT_MAX + 1;
	rc = cl_secret_append(text, CL_WH_SECRET_PREFIX, PREFIX_LEN);
	if (rc == CL_OK)
		rc = cl_secret_append(text, b64, (size_t)n);
	if (rc == CL_OK)
		rc = cl_secret_append(text, "", 1); /* the NUL, then hidden from len */
	if (rc != CL_OK) {
		cl_secret_free(text);
		cl_error_set(err, rc, "cannot allocate a webhook secret's text");
		goto out;
	}
	text->len--;
out:
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}

static int b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

cl_err cl_wh_secret_parse(cl_secret *key, const char *text, size_t text_len, cl_error *err)
{
	unsigned char raw[B64_LEN(CL_WH_KEY_MAX) / 4 * 3];
	unsigned char again[B64_LEN(CL_WH_KEY_MAX) + 1];
	cl_err rc = CL_EBADINPUT;
	cl_secret_free(key);

	if (text == NULL || text_len < PREFIX_LEN || memcmp(text, CL_WH_SECRET_PREFIX, PREFIX_LEN) != 0) {
		cl_error_set(err, rc, "webhook secret does not start with \"%s\"", CL_WH_SECRET_PREFIX);
		goto out;
	}
	const char *b = text + PREFIX_LEN;
	size_t blen = text_len - PREFIX_LEN;
	if (blen == 0 || blen % 4 != 0 || blen > B64_LEN(CL_WH_KEY_MAX)) {
		cl_error_set(err, rc, "webhook secret is not padded base64 of %d..%d bytes", CL_WH_KEY_MIN,
			     CL_WH_KEY_MAX);
		goto out;
	}
	size_t pad = 0;
	for (size_t i = 0; i < blen; i++) {
		if (b[i] == '=' && i + 2 >= blen && (i + 1 == blen || b[i + 1] == '=')) {
			pad++;
			continue;
		}
		if (!b64_char(b[i])) {
			cl_error_set(err, rc, "webhook secret has a character outside base64 at offset %zu",
				     PREFIX_LEN + i);
			goto out;
		}
	}
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b, (int)blen);
	if (n < 0 || (size_t)n < pad) {
		cl_error_set(err, rc, "webhook secret is not valid base64");
		goto out;
	}
	size_t klen = (size_t)n - pad;
	/* Canonical form only: re-encoding must give back the same text (rejects stray low bits). */
	int m = EVP_EncodeBlock(again, raw, (int)klen);
	if (m < 0 || (size_t)m != blen || CRYPTO_memcmp(again, b, blen) != 0) {
		cl_error_set(err, rc, "webhook secret is not canonical base64");
		goto out;
	}
	if (klen < CL_WH_KEY_MIN || klen > CL_WH_KEY_MAX) {
		cl_error_set(err, rc, "webhook secret has %zu key bytes, not %d..%d", klen, CL_WH_KEY_MIN,
			     CL_WH_KEY_MAX);
		goto out;
	}
	key->max = CL_WH_KEY_MAX;
	rc = cl_secret_append(key, raw, klen);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "cannot allocate a webhook secret");
		goto out;
	}
	rc = CL_OK;
out:
	if (rc != CL_OK)
		cl_secret_free(key);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

int cl_wh_id_valid(const char *id)
{
	if (id == NULL)
		return 0;
	size_t n = strnlen(id, CL_WH_ID_MAX + 1);
	if (n == 0 || n > CL_WH_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '.')
			return 0;
	}
	return 1;
}

/* HMAC-SHA256(key, id "." ts "." body) into mac[MAC_LEN]. */
static cl_err compute_mac(uint8_t mac[MAC_LEN], const cl_secret *key, const char *id, int64_t timestamp,
			  cl_bytes body, cl_error *err)
{
	char ts[24];
	EVP_MAC *hmac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	size_t maclen = 0;
	cl_err rc = CL_ECRYPTO;
	int tn = snprintf(ts, sizeof(ts), ".%" PRId64 ".", timestamp);
	if (tn < 0 || (size_t)tn >= sizeof(ts))
		return cl_error_set(err, CL_EINTERNAL, "webhook timestamp does not fit");

	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (hmac == NULL)
		goto fail;
	ctx = EVP_MAC_CTX_new(hmac);
	if (ctx == NULL)
		goto fail;
	if (EVP_MAC_init(ctx, key->ptr, key->len, params) != 1)
		goto fail;
	if (EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tn) != 1 ||
	    (body.len > 0 && EVP_MAC_update(ctx, body.ptr, body.len) != 1))
		goto fail;
	if (EVP_MAC_final(ctx, mac, &maclen, MAC_LEN) != 1 || maclen != MAC_LEN)
		goto fail;
	rc = CL_OK;
	goto out;
fail:
	cl_error_set(err, rc, "HMAC-SHA256 failed while signing a webhook");
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return rc;
}

cl_err cl_wh_sign(char out[CL_WH_SIGNATURE_BUFSZ], const cl_secret *key, const char *id,
		  int64_t timestamp, cl_bytes body, cl_error *err)
{
	uint8_t mac[MAC_LEN];
	out[0] = '\0';
	if (!key_size_ok(key))
		return cl_error_set(err, CL_EUSAGE, "webhook secret key has the wrong size");
	if (!cl_wh_id_valid(id))
		return cl_error_set(err, CL_EUSAGE,
				    "webhook id must be 1..%d printable ASCII characters without space, ',' or '.'",
				    CL_WH_ID_MAX);
	if (timestamp < 0)
		return cl_error_set(err, CL_EUSAGE, "webhook timestamp %" PRId64 " is negative", timestamp);
	cl_err rc = compute_mac(mac, key, id, timestamp, body, err);
	if (rc != CL_OK)
		goto out;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, MAC_LEN);
	out[CL_WH_SIGNATURE_LEN] = '\0';
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* Strict decimal seconds: 1..18 digits (no sign, no spaces). */
static int parse_ts(int64_t *out, const char *s)
{
	size_t n = strnlen(s, 20);
	if (n == 0 || n > 18)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

cl_err cl_wh_verify(const cl_secret *key, const char *id, const char *timestamp_text,
		    const char *signature_header, cl_bytes body, int64_t now, int64_t tolerance_s,
		    cl_error *err)
{
	uint8_t want[MAC_LEN];
	uint8_t got[MAC_B64_LEN];
	int64_t ts = 0;
	cl_err rc;

	if (!key_size_ok(key))
		return cl_error_set(err, CL_EUSAGE, "webhook secret key has the wrong size");
	if (id == NULL || timestamp_text == NULL || signature_header == NULL)
		return cl_error_set(err, CL_EBADINPUT, "webhook is missing a webhook-id, webhook-timestamp or webhook-signature header");
	if (!cl_wh_id_valid(id))
		return cl_error_set(err, CL_EBADINPUT, "webhook-id header is malformed");
	if (parse_ts(&ts, timestamp_text) != 0)
		return cl_error_set(err, CL_EBADINPUT, "webhook-timestamp header is not decimal seconds");
	size_t hlen = strnlen(signature_header, CL_WH_SIGHEADER_MAX + 1);
	if (hlen == 0 || hlen > CL_WH_SIGHEADER_MAX)
		return cl_error_set(err, CL_EBADINPUT, "webhook-signature header is empty or over %d bytes",
				    CL_WH_SIGHEADER_MAX);
	if (tolerance_s < 0 || ts > now + tolerance_s || ts < now - tolerance_s)
		return cl_error_set(err, CL_EREFUSED,
				    "webhook-timestamp %" PRId64 " is more than %" PRId64 " s away from now (%" PRId64 ")",
				    ts, tolerance_s, now);
	rc = compute_mac(want, key, id, ts, body, err);
	if (rc != CL_OK)
		goto out;

	int matched = 0;
	size_t entries = 0;
	size_t i = 0;
	while (i < hlen) {
		while (i < hlen && signature_header[i] == ' ')
			i++;
		size_t start = i;
		while (i < hlen && signature_header[i] != ' ')
			i++;
		size_t len = i - start;
		if (len == 0)
			break;
		if (++entries > CL_WH_SIGHEADER_ENTRIES) {
			rc = cl_error_set(err, CL_EBADINPUT, "webhook-signature header has over %d entries",
					  CL_WH_SIGHEADER_ENTRIES);
			goto out;
		}
		const char *e = signature_header + start;
		if (len < 3 || memcmp(e, "v1,", 3) != 0)
			continue; /* another scheme (e.g. v1a): not ours to check */
		if (len != 3 + MAC_B64_LEN)
			continue;
		/* Decode into got (44 chars -> 33 bytes with the padding byte); all must be base64. */
		int ok = 1;
		for (size_t k = 0; k < MAC_B64_LEN - 1; k++)
			ok &= b64_char(e[3 + k]);
		ok &= e[3 + MAC_B64_LEN - 1] == '=';
		if (!ok)
			continue;
		int n = EVP_DecodeBlock(got, (const unsigned char *)e + 3, MAC_B64_LEN);
		if (n != MAC_LEN + 1)
			continue;
		matched |= CRYPTO_memcmp(got, want, MAC_LEN) == 0;
	}
	if (!matched) {
		rc = cl_error_set(err, CL_EINTEGRITY, "webhook signature does not match (%zu entries checked)",
				  entries);
		goto out;
	}
	rc = CL_OK;
out:
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}
