/* cert_info.h - the metadata of one certificate, in plain C types, as cert.uploaded records it
 * (docs/events.md) and `cert show --json` prints it, plus the S/MIME suitability verdict.
 *
 * Nothing here refers to OpenSSL after cl_cert_meta_from_x509 returns: every string and array
 * is owned by the struct (malloc'd, NUL-terminated, valid UTF-8) and freed by
 * cl_cert_meta_clear, so the result can outlive the X509 and cross into projections/ and cli/.
 * (The public certledger/certs.h has its own cl_cert_info, what the read side returns; the two
 * have different names so that a file may include both.)
 */
#ifndef CL_INGEST_CERT_INFO_H
#define CL_INGEST_CERT_INFO_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "certledger/error.h"

#define CL_CERT_FP_LEN 32

typedef struct cl_cert_meta {
	uint8_t fingerprint[CL_CERT_FP_LEN]; /* SHA-256 of der */
	char fingerprint_hex[2 * CL_CERT_FP_LEN + 1]; /* 64 lowercase hex digits */
	char *subject;       /* one line, RFC 2253 order and escaping, UTF-8 kept ("CN=A,O=B") */
	char *issuer;
	char *serial;        /* lowercase hex of the magnitude, "-" first if negative */
	int64_t not_before;  /* microseconds since the Unix epoch, UTC */
	int64_t not_after;
	char **emails;       /* SAN rfc822Name and SmtpUTF8Mailbox (SAN order), then subject
			      * emailAddress, then the CN only when nothing else was found and it
			      * holds an address; de-duplicated ignoring ASCII case, first kept */
	size_t n_emails;
	char *key_type;      /* "rsa", "rsa-pss", "ec", "ed25519", "ed448", "dsa", "x25519", "x448",
			      * "dh", else OpenSSL's name or the dotted OID of an unknown algorithm */
	char *key_curve;     /* EC group name ("prime256v1"), else NULL */
	uint64_t key_bits;   /* 0 when the key type is unknown to OpenSSL */
	bool has_key_usage;  /* the extension is present (an unreadable one counts as present, empty) */
	char **key_usage;    /* digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment,
			      * keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly */
	size_t n_key_usage;
	bool has_ext_key_usage;
	char **ext_key_usage; /* emailProtection, clientAuth, serverAuth, codeSigning, timeStamping,
			       * OCSPSigning, anyExtendedKeyUsage, else the dotted OID */
	size_t n_ext_key_usage;
	char *sig_alg;       /* "sha256WithRSAEncryption", "ED25519", ... or the dotted OID */
	char *sig_hash;      /* "sha256", "sha1", "md5", ...; "sha512" for Ed25519 and "shake256" for
			      * Ed448 (their built-in hashes); "unknown" when OpenSSL cannot tell */
	bool is_ca;          /* basicConstraints cA */
	bool self_signed;    /* issued by itself, signature checked */
	bool smime_ok;       /* no reasons below */
	char **smime_reasons; /* see cl_cert_meta_judge */
	size_t n_smime_reasons;
	uint8_t *der;        /* the certificate, DER (what the fingerprint covers) */
	size_t der_len;
} cl_cert_meta;

/* Fills *out (overwritten; zero it or clear it first) from x and judges it at `now`
 * (microseconds since the epoch). x is only read. CL_EBADINPUT when the certificate cannot be
 * described (unreadable validity times or names), CL_ENOMEM. On error *out is left cleared. */
cl_err cl_cert_meta_from_x509(cl_cert_meta *out, X509 *x, int64_t now, cl_error *err)
	__attribute__((warn_unused_result));

/* Recomputes smime_ok and smime_reasons from the other fields at `now`. Reasons, in this
 * order: "no email address", "extended key usage without emailProtection" (anyExtendedKeyUsage
 * counts as allowing it), "expired", "not yet valid", "weak signature hash (md5/sha1)",
 * "key too small" (RSA or DSA under 2048 bits), "key usage allows neither signing nor
 * encryption". CL_ENOMEM only. */
cl_err cl_cert_meta_judge(cl_cert_meta *info, int64_t now) __attribute__((warn_unused_result));

/* Frees everything and zeroes the struct. Safe on a zeroed struct. */
void cl_cert_meta_clear(cl_cert_meta *info);

/* The DER of x in a malloc'd buffer (free with free()). CL_EBADINPUT / CL_ENOMEM. */
cl_err cl_cert_der(const X509 *x, uint8_t **out, size_t *len, cl_error *err) __attribute__((warn_unused_result));

#endif
