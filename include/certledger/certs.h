/* certledger/certs.h - certificates: uploading, renaming, testing and exporting them (ingest),
 * and reading them back (the p_certs read model). */
#ifndef CERTLEDGER_CERTS_H
#define CERTLEDGER_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======== read side: cert show / cert list (issue 4, projections/cert_queries.c) ========
 *
 * Reads run in one LMDB read transaction on the read models; while a rebuild is unfinished they
 * are refused with CL_EREFUSED. Messages are on the handle (cl_ledger_error). */

/* A certificate as `cert show` prints it. Every pointer is owned by the struct and lives until
 * cl_cert_info_free (for cl_proj_cert_get) or until the callback returns (for the walks). */
typedef struct cl_cert_info {
	uint8_t fingerprint[32];
	const char *name;                 /* current display name (cert.renamed changes it) */
	const char *kind;                 /* "p12" or "pem" */
	bool has_private_key;
	const char *subject;
	const char *issuer;
	const char *serial;
	int64_t not_before;
	int64_t not_after;
	const char *const *emails;
	size_t nemails;
	const char *const *key_usage;
	size_t nkey_usage;
	const char *const *ext_key_usage;
	size_t next_key_usage;
	const char *key_type;
	uint64_t key_bits;
	const char *sig_hash;
	bool smime_ok;
	const char *const *smime_reasons;
	size_t nsmime_reasons;
	uint64_t seq;                     /* the cert.uploaded event */
	int64_t uploaded_at;
	const char *const *accounts;      /* linked accounts (canonical emails), in link order */
	size_t naccounts;
	void *priv_;                      /* the storage behind the pointers */
} cl_cert_info;

void cl_cert_info_free(cl_cert_info *c);

/* Resolves a fingerprint as users type it (64 hex digits, the AB:CD:... form `openssl x509
 * -fingerprint -sha256` prints, or a unique prefix of at least 8 hex digits). CL_EBADINPUT for
 * malformed text, CL_ENOTFOUND when nothing matches, CL_EREFUSED listing the matches of an
 * ambiguous prefix. */
cl_err cl_proj_cert_resolve(cl_ledger *l, const char *fingerprint, uint8_t out[32])
	__attribute__((warn_unused_result));

/* The certificate `fingerprint` names (as cl_proj_cert_resolve takes it). */
cl_err cl_proj_cert_get(cl_ledger *l, const char *fingerprint, cl_cert_info *out)
	__attribute__((warn_unused_result));

/* Return non-zero to stop (not an error). */
typedef int (*cl_cert_cb)(const cl_cert_info *c, void *ctx);

/* Every certificate, in fingerprint order. */
cl_err cl_proj_cert_each(cl_ledger *l, cl_cert_cb cb, void *ctx) __attribute__((warn_unused_result));

/* Certificates whose notAfter falls in [now, now + within) (µs), soonest first (the expiry
 * index); already expired ones are not listed. */
cl_err cl_proj_cert_expiring(cl_ledger *l, int64_t within, cl_cert_cb cb, void *ctx)
	__attribute__((warn_unused_result));

/* ======== end of the read side ======== */

/* ======== write side: cert upload / rename / test / export, keys rotate-master
 * (issue 3, ingest/cert_ops.c and ingest/keys_rotate.c) ========
 *
 * Every function returns CL_OK or a negative CL_E* code with a one-line message on the handle
 * (cl_ledger_error) that names the input at fault and never holds a password or key material.
 * A refused call writes nothing. Fingerprint arguments are taken as cl_proj_cert_resolve takes
 * them (CL_ENOTFOUND when nothing matches, CL_EREFUSED listing the matches of an ambiguous
 * prefix). */

/* Longest certificate display name, in bytes of UTF-8. */
#define CL_CERT_NAME_MAX 256

/* Where the password of a PKCS#12 file (or an encrypted PEM key) comes from. Never from argv. */
typedef enum cl_password_source {
	CL_PASSWORD_NONE = 0, /* none given: the empty and the absent password are tried */
	CL_PASSWORD_FILE,     /* source_arg: a file; its first line without the line ending */
	CL_PASSWORD_ENV,      /* source_arg: the name of an environment variable */
	CL_PASSWORD_STDIN,    /* the first line of standard input */
	CL_PASSWORD_PROMPT    /* asked on the terminal (stdin) without echo, only if the file needs
			       * one (PKCS#12, encrypted PEM key); stdin must be a terminal */
} cl_password_source;

/* Called after the commit, once per certificate of the file, in file order. already_present
 * false: c describes the new cert.uploaded event (c->seq, c->uploaded_at). already_present true:
 * the ledger held that certificate before (a key-less bundle may mix both); nothing was written
 * for it and c->name / c->seq are the existing ones. c->accounts is empty. Every pointer lives
 * until the callback returns. Return non-zero to stop being called (the upload stands). */
typedef int (*cl_cert_upload_cb)(const cl_cert_info *c, bool already_present, void *ctx);

/* Uploads the certificate file at path (PKCS#12, PEM, DER, PKCS#7; recognised by content; at
 * most 1 MiB). The file is parsed before the write transaction (key derivation never holds the
 * writer lock); then ONE transaction refuses a duplicate, seals the private key (if any) under
 * the master key into the keystore and appends one cert.uploaded per new certificate. The
 * password is read into wiped memory, consumed by the parser and wiped as soon as the file is
 * open, on every path. name: display name, or NULL for the subject CN / first email. cb may be
 * NULL. Errors: CL_EPASSWORD (wrong password, said as such), CL_EBADINPUT (corrupt, truncated,
 * not a certificate file, no certificate), CL_ETOOLARGE (over 1 MiB), CL_EREFUSED (key not
 * matching, hostile KDF iteration count), CL_EUNSUPPORTED (an algorithm OpenSSL cannot use,
 * named), CL_EEXISTS (already in the ledger: the message names the existing certificate),
 * CL_EDENIED, CL_EUSAGE (a password source that cannot be used), CL_EIO. */
cl_err cl_cert_upload(cl_ledger *l, const char *path, cl_password_source source, const char *source_arg,
		      const char *name, cl_cert_upload_cb cb, void *ctx) __attribute__((warn_unused_result));

/* Appends cert.renamed (fingerprint, name). *seq (may be NULL) receives its seq, fp_out (may be
 * NULL) the resolved fingerprint. CL_EBADINPUT for an unusable name (empty, over
 * CL_CERT_NAME_MAX bytes, not UTF-8 text, control characters); CL_EREFUSED when the certificate
 * already has that name. */
cl_err cl_cert_rename(cl_ledger *l, const char *fingerprint, const char *name, uint8_t fp_out[32], uint64_t *seq)
	__attribute__((warn_unused_result));

/* `cert test`: what the certificate (and its sealed key, opened under the master key) can do
 * with OpenSSL CMS. */
typedef enum cl_cert_check {
	CL_CERT_CHECK_NA = 0,    /* not possible: no private key, or the key/keyUsage cannot */
	CL_CERT_CHECK_OK = 1,
	CL_CERT_CHECK_FAILED = 2
} cl_cert_check;

typedef struct cl_cert_test_step {
	cl_cert_check status;
	char reason[200]; /* why failed or n/a; empty when ok */
} cl_cert_test_step;

typedef struct cl_cert_test_result {
	uint8_t fingerprint[32];
	bool has_private_key;
	cl_cert_test_step sign, verify, encrypt, decrypt; /* public-only: encrypt checked, rest n/a */
} cl_cert_test_result;

/* "ok", "failed" or "n/a". */
const char *cl_cert_check_name(cl_cert_check s);

/* Runs the test. CL_OK whenever it ran, whatever the steps say (read *out); CL_EINTEGRITY when
 * the sealed key does not open (wrong master key or damaged). Reads only. */
cl_err cl_cert_test(cl_ledger *l, const char *fingerprint, cl_cert_test_result *out)
	__attribute__((warn_unused_result));

/* The certificate as PEM ("-----BEGIN CERTIFICATE-----", 64-column base64 of the DER exactly as
 * uploaded). *pem is malloc'd and NUL-terminated (free with free()); *pem_len excludes the NUL
 * (pem_len may be NULL). */
cl_err cl_cert_export(cl_ledger *l, const char *fingerprint, char **pem, size_t *pem_len)
	__attribute__((warn_unused_result));

/* `keys rotate-master`: generates a new master key, writes it beside the current one as
 * "<master key path>.new" (0600, fsynced), re-wraps the data key of every sealed blob (keystore
 * and webhook secrets) from the current key to the new one in ONE LMDB transaction, then renames
 * the new file over the old one. The log does not change. If the transaction fails, the prepared
 * file is removed and nothing changed. *rewrapped (may be NULL) receives the number of blobs
 * re-wrapped. A rotation interrupted between its commit and the rename is completed first (see
 * ledger/master_rotate.h); until then sealed keys and webhook secrets keep opening. Only an
 * owner or an admin may rotate (CL_EDENIED). */
cl_err cl_keys_rotate_master(cl_ledger *l, size_t *rewrapped) __attribute__((warn_unused_result));

/* Makes OpenSSL (and jansson, which holds import lines) wipe every block before it frees it:
 * OpenSSL 3.0 frees some copies of passwords and keys without wiping them. A program that uploads certificates calls this first thing in
 * main(), before anything uses OpenSSL; returns false when that is too late (nothing changed). */
bool cl_secrets_wipe_on_free(void);

/* ======== end of the write side ======== */

#ifdef __cplusplus
}
#endif
#endif
