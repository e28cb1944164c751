/* webhook_sign.h - Standard Webhooks secrets and signatures.
 *
 * A subscription's signing secret has a text form "whsec_" + base64(key) (standard alphabet,
 * padded) and is used as raw key bytes: HMAC-SHA256(key, id "." timestamp "." body), sent as
 * the header value "v1," + base64(mac). This matches the Standard Webhooks specification and
 * its reference libraries byte for byte (tests/test_webhook_http.c checks both the published
 * vector and the npm `standardwebhooks` package on live requests).
 *
 * Key bytes and the secret's text form live only in cl_secret buffers (wiped on free); stack
 * copies are cleansed before return. Nothing here puts a secret into a cl_error message.
 */
#ifndef CL_EXPORT_WEBHOOK_SIGN_H
#define CL_EXPORT_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"
#include "ledger/bytes.h"

#define CL_WH_SECRET_PREFIX "whsec_"
/* Key sizes accepted by cl_wh_secret_parse (the specification's 24..64 bytes). */
#define CL_WH_KEY_MIN 24
#define CL_WH_KEY_MAX 64
/* Key size made by cl_wh_secret_generate. */
#define CL_WH_KEY_DEFAULT 32
/* Longest secret text: "whsec_" + base64 of CL_WH_KEY_MAX bytes (88 chars). */
#define CL_WH_SECRET_TEXT_MAX (6 + 88)

/* "v1," + 44 base64 characters, and the buffer size with its NUL. */
#define CL_WH_SIGNATURE_LEN 47
#define CL_WH_SIGNATURE_BUFSZ 48

/* A webhook-id is 1..CL_WH_ID_MAX bytes of printable ASCII without space, ',' or '.'
 * (it is a header value and the first field of the signed "id.timestamp.body" string). */
#define CL_WH_ID_MAX 128

/* Limits of cl_wh_verify's input: the whole webhook-signature header, and how many
 * space-separated entries of it are looked at. */
#define CL_WH_SIGHEADER_MAX 4096
#define CL_WH_SIGHEADER_ENTRIES 16

/* Default tolerance between a webhook-timestamp and the verifier's clock (the spec's 5 min). */
#define CL_WH_TOLERANCE_DEFAULT 300

/* Makes a new random key of nbytes (CL_WH_KEY_MIN..CL_WH_KEY_MAX; pass CL_WH_KEY_DEFAULT) from
 * OpenSSL's RAND_bytes into *key (any old content is wiped first). On failure *key is empty.
 * Errors: CL_EUSAGE (nbytes out of range), CL_ECRYPTO (RNG), CL_ENOMEM. */
cl_err cl_wh_secret_generate(cl_secret *key, size_t nbytes, cl_error *err)
	__attribute__((warn_unused_result));

/* Writes the text form "whsec_<base64>" of key into *text (old content wiped). text->len is
 * the text's length and text->ptr[text->len] is a NUL, so the text can be printed as a C
 * string. Free it with cl_secret_free. Errors: CL_EUSAGE (key size out of range), CL_ENOMEM. */
cl_err cl_wh_secret_format(cl_secret *text, const cl_secret *key, cl_error *err)
	__attribute__((warn_unused_result));

/* Parses a secret's text form strictly: the "whsec_" prefix, canonical padded base64 with no
 * whitespace, 24..64 key bytes. text need not be NUL-terminated. On success *key holds the key
 * bytes (old content wiped); on failure it is empty. The error message never quotes the text.
 * Errors: CL_EBADINPUT, CL_ENOMEM. */
cl_err cl_wh_secret_parse(cl_secret *key, const char *text, size_t text_len, cl_error *err)
	__attribute__((warn_unused_result));

/* 1 if id is a usable webhook-id (see CL_WH_ID_MAX), else 0. id is NUL-terminated. */
int cl_wh_id_valid(const char *id);

/* Computes the webhook-signature header value for (id, timestamp, body) into out, as a
 * NUL-terminated "v1,<base64>" of CL_WH_SIGNATURE_LEN characters. timestamp is Unix seconds
 * (>= 0). body may be empty. Errors: CL_EUSAGE (bad id, negative timestamp, key size),
 * CL_ECRYPTO. */
cl_err cl_wh_sign(char out[CL_WH_SIGNATURE_BUFSZ], const cl_secret *key, const char *id,
		  int64_t timestamp, cl_bytes body, cl_error *err) __attribute__((warn_unused_result));

/* Verifies a received webhook as a receiver would. id, timestamp_text and signature_header are
 * the NUL-terminated header values; signature_header is a space-separated list whose "v1,..."
 * entries are compared (in constant time, CRYPTO_memcmp) with the expected MAC, other versions
 * being ignored. The timestamp must be decimal seconds within tolerance_s of now (both ways).
 * Returns 0 when one v1 entry matches. Errors: CL_EBADINPUT (missing or malformed header,
 * over the limits above), CL_EREFUSED (timestamp outside the tolerance), CL_EINTEGRITY (no
 * entry matches), CL_ECRYPTO. */
cl_err cl_wh_verify(const cl_secret *key, const char *id, const char *timestamp_text,
		    const char *signature_header, cl_bytes body, int64_t now, int64_t tolerance_s,
		    cl_error *err) __attribute__((warn_unused_result));

#endif
