/* cert_upload.h - `cert upload` as steps: describe the certificates of a parsed file (outside
 * any transaction), then, inside ONE write transaction, refuse duplicates, seal the private key
 * into `keystore` and append one cert.uploaded per new certificate. Shared by the command
 * (cl_cert_upload, ingest/cert_ops.c) and by the bulk importer (its "cert.upload" op).
 *
 * What a file becomes (docs/events.md, cert.uploaded):
 *  - a file with a private key (PKCS#12, or PEM with a certificate and its key): ONE event for
 *    the key's certificate (the leaf, chosen by ingest/cert_file.c by key match), kind "p12",
 *    has_private_key true, key_blob_sha256 = SHA-256 of the sealed blob as stored, and every
 *    other certificate of the file (DER, leaf's issuer first) in `chain`;
 *  - a file without a key (PEM bundle, DER, PKCS#7, a key-less PKCS#12): one event per
 *    certificate, kind "pem", no key, empty chain.
 * A certificate the ledger already holds is not recorded again. When the file holds a key and
 * its certificate is known, or when every certificate of the file is known, the upload is
 * refused (CL_EEXISTS) naming the existing certificate(s); in a key-less bundle that also has new
 * ones, the known ones are skipped and reported as such.
 *
 * Names: the caller's name, else the subject CN, else the first email, else the PKCS#12
 * friendlyName, else the whole subject, else "certificate <16 hex digits>". With a caller's name and several
 * certificates, the k-th certificate of the file (k >= 2) is named "NAME (k)".
 */
#ifndef CL_INGEST_CERT_UPLOAD_H
#define CL_INGEST_CERT_UPLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "ingest/cert_file.h"
#include "ledger/append.h"
#include "projections/certs.h"

/* Longest display name (bytes of UTF-8); also enforced by cert rename. */
#define CL_CERT_NAME_MAX_LEN 256

/* Whether name can be a certificate's display name: 1..CL_CERT_NAME_MAX_LEN bytes of
 * well-formed UTF-8 without control characters (C0, DEL, C1). */
bool cl_ingest__cert_name_ok(const char *name);

/* One certificate of an upload. */
typedef struct cl_upload_item {
	cl_cert_uploaded up;  /* the cert.uploaded data (owned); key_blob_sha256 is set by the write */
	bool existing;        /* the ledger held it already: nothing was written for it */
	char *existing_name;  /* its current display name when existing (owned), else NULL */
	uint64_t seq;         /* the cert.uploaded event: the new one, or the existing one's */
	int64_t ts;           /* that event's ts */
} cl_upload_item;

typedef struct cl_upload_result {
	cl_upload_item *items; /* file order (one item for a file with a key) */
	size_t n;
	size_t n_new;          /* items written */
} cl_upload_result;

#define CL_UPLOAD_RESULT_INIT {NULL, 0, 0}

/* Frees everything and zeroes r. Safe on a zeroed result. */
void cl_upload_result_free(cl_upload_result *r);

/* Describes the certificates of parsed into *out (reset first): metadata, S/MIME verdict at
 * `now` (µs), names (see above), chain. Nothing about the ledger is looked at. parsed is only
 * read. CL_EBADINPUT when a certificate cannot be described, CL_ENOMEM. */
cl_err cl_ingest__upload_describe(cl_upload_result *out, const cl_cert_file *parsed, const char *name, int64_t now,
				  cl_error *err) __attribute__((warn_unused_result));

/* The write step, inside t: for each item, finds whether the ledger holds it (setting existing,
 * existing_name, seq, ts); refuses as described above; seals the file's private key under the
 * current master key (ledger/master_key.h, cl_master_key__current; wiped before returning),
 * stores the blob keyed by fingerprint, and appends the events (setting seq and ts of the new
 * items). The key is given as pkcs8 (its PKCS#8 DER, encoded by the caller outside the
 * transaction: cl_seal_pkcs8_from_pkey) or, when pkcs8 is NULL, as pkey (encoded here); both
 * NULL: the file has no key. Both are only read. Safe to run again on the same res
 * (cl_ledger__write re-runs its function when the map grows): every field it sets is reset
 * first. Errors: CL_EEXISTS (duplicate), CL_EDENIED (the actor may not upload), CL_ETOOLARGE
 * (an event over 64 KiB), the master key's errors, LMDB's. */
cl_err cl_ingest__upload_write(cl_wtxn *t, cl_upload_result *res, EVP_PKEY *pkey, const cl_secret *pkcs8,
			       cl_error *err) __attribute__((warn_unused_result));

/* For import: describe + write an already-parsed file inside the caller's transaction t.
 *  parsed: from cl_cert_file_parse (only read; the caller frees it, after the write is over);
 *  name:   display name, or NULL for the default;
 *  out:    may be NULL; else reset first and filled as above (free with cl_upload_result_free).
 * Messages name certificates, not files: prefix them with the input's name (e.g. "line N"). */
cl_err cl_ingest__upload_parsed(cl_wtxn *t, const cl_cert_file *parsed, const char *name, cl_upload_result *out,
				cl_error *err) __attribute__((warn_unused_result));

/* The command path for a file already in memory: parses data OUTSIDE any transaction (the KDF
 * work must not hold LMDB's writer lock; password is consumed as by cl_cert_file_parse), then
 * writes the whole file in ONE transaction (the key's PKCS#8 encoding is done before it too,
 * and the parsed file freed, so only a wiped PKCS#8 copy of the key lives during the write). password_hint: appended to a wrong-password message
 * when no password was given (e.g. which options give one); may be NULL. file names the input
 * in messages. Nothing is written on any error. */
cl_err cl_ingest__upload_bytes(cl_ledger *l, cl_bytes data, cl_secret *password, const char *password_hint,
			       const char *file, const char *name, cl_upload_result *out, cl_error *err)
	__attribute__((warn_unused_result));

#endif
