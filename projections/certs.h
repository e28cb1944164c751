/* certs.h - the certificates read model (p_certs): fingerprint -> the metadata recorded by
 * cert.uploaded, the current display name, and the accounts it is linked to; plus the
 * encoding of cert.uploaded data (docs/events.md), shared by ingest (which writes the event)
 * and this read model (which applies it). */
#ifndef CL_PROJ_CERTS_H
#define CL_PROJ_CERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "projections/proj.h"

#define CL_FP_LEN 32

/* What cert.uploaded records. Strings are NUL-terminated and owned; arrays are owned. */
typedef struct cl_cert_uploaded {
	uint8_t fingerprint[CL_FP_LEN];
	char *name;
	char *kind;               /* "p12" or "pem" */
	bool has_private_key;
	bool has_key_blob_sha256;
	uint8_t key_blob_sha256[32];
	char *subject;
	char *issuer;
	char *serial;
	int64_t not_before;
	int64_t not_after;
	char **emails;
	size_t nemails;
	char *key_type;
	uint64_t key_bits;
	char **key_usage;
	size_t nkey_usage;
	char **ext_key_usage;
	size_t next_key_usage;
	char *sig_hash;
	bool smime_ok;
	char **smime_reasons;
	size_t nsmime_reasons;
	uint8_t *der;
	size_t der_len;
	uint8_t **chain;          /* DER of each chain certificate */
	size_t *chain_len;
	size_t nchain;
} cl_cert_uploaded;

void cl_cert_uploaded_free(cl_cert_uploaded *c);
/* Encodes the event data in the order of docs/events.md (out is reset first). */
cl_err cl_cert_uploaded_encode(cl_buf *out, const cl_cert_uploaded *c) __attribute__((warn_unused_result));
/* Strictly decodes cert.uploaded data into an owned struct (free it with cl_cert_uploaded_free,
 * also after a failure). Strings holding a NUL byte are refused. */
cl_err cl_cert_uploaded_decode(cl_bytes data, cl_cert_uploaded *out, cl_error *err) __attribute__((warn_unused_result));

/* cert.renamed data (docs/events.md): fingerprint, name. Encode resets out first; decode's views
 * borrow from data. */
cl_err cl_cert_renamed_encode(cl_buf *out, const uint8_t fp[CL_FP_LEN], const char *name)
	__attribute__((warn_unused_result));
cl_err cl_cert_renamed_decode(cl_bytes data, const uint8_t **fp, cl_bytes *name, cl_error *err)
	__attribute__((warn_unused_result));

/* ---- the p_certs read model (projections/certs.c) ----
 *
 * Record (msgpack map, this key order): name (str, the current display name), uploaded_at
 * (int), uploaded_seq (uint), has_private_key (bool), not_before (int), not_after (int), emails
 * (array of str), accounts (array of str: linked canonical emails, in link order). It holds what
 * the rules of `primary set` need, so a check inside a write transaction never needs the log
 * (where an upload of the same transaction is not yet written). The rest of the metadata is
 * the cert.uploaded event at uploaded_seq, read from `log` when shown (cl_proj__cert_metadata):
 * never re-encoded, never duplicated, and a link rewrites only this small record.
 */
typedef struct cl_cert_rec {
	uint8_t fingerprint[CL_FP_LEN];
	char *name;             /* owned */
	int64_t uploaded_at;
	uint64_t uploaded_seq;
	bool has_private_key;
	int64_t not_before;
	int64_t not_after;
	char **emails;          /* owned, as cert.uploaded lists them */
	size_t nemails;
	char **accounts;        /* owned, naccounts NUL-terminated strings */
	size_t naccounts;
	cl_bytes uploaded;      /* set by cl_proj__cert_get only: the cert.uploaded data as in the log,
				 * borrowed from the txn (valid until its end or its next write); empty
				 * when the upload is in the caller's own, not yet committed, write txn */
} cl_cert_rec;

void cl_cert_rec_free(cl_cert_rec *r);

/* The record of fp, with `uploaded` read from the log. CL_ENOTFOUND (with a message naming the
 * fingerprint) when absent. */
cl_err cl_proj__cert_get(MDB_txn *txn, const cl_proj_dbs *d, const uint8_t fp[CL_FP_LEN], cl_cert_rec *out,
			 cl_error *err) __attribute__((warn_unused_result));
/* The record alone (uploaded left empty): what the read model's own updates and the rules use. */
cl_err cl_proj__cert_get_rec(MDB_txn *txn, const cl_proj_dbs *d, const uint8_t fp[CL_FP_LEN], cl_cert_rec *out,
			     cl_error *err) __attribute__((warn_unused_result));
cl_err cl_proj__cert_decode(cl_bytes key, cl_bytes val, cl_cert_rec *out, cl_error *err)
	__attribute__((warn_unused_result));
cl_err cl_proj__cert_put(MDB_txn *txn, const cl_proj_dbs *d, const cl_cert_rec *r, cl_error *err)
	__attribute__((warn_unused_result));

/* The whole metadata of a certificate: its cert.uploaded event (at rec->uploaded_seq in the
 * committed `log`; not for a certificate uploaded in the caller's own write txn), decoded into out (free with cl_cert_uploaded_free, also after a failure). CL_EINTEGRITY when
 * that event is missing, not a cert.uploaded or not of this fingerprint. */
cl_err cl_proj__cert_metadata(cl_store *s, MDB_txn *txn, const cl_cert_rec *rec, cl_cert_uploaded *out,
			      cl_error *err) __attribute__((warn_unused_result));

/* Apply cert.uploaded (record, email index, expiry index) and cert.renamed. A second
 * cert.uploaded of the same fingerprint is CL_EEXISTS. */
cl_err cl_proj__cert_uploaded(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);
cl_err cl_proj__cert_renamed(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);

/* Adds (add) or removes the account email in fp's record. */
cl_err cl_proj__cert_link(MDB_txn *txn, const cl_proj_dbs *d, const uint8_t fp[CL_FP_LEN], const char *email,
			  bool add, cl_error *err) __attribute__((warn_unused_result));

/* Resolves a fingerprint as a user typed it (CLI.md "Fingerprints"): 64 hex digits (any case),
 * the colon-separated form `openssl x509 -fingerprint -sha256` prints (with or without its
 * "sha256 Fingerprint=" label), or a unique prefix of at least 8 hex digits. CL_EBADINPUT for
 * malformed text, CL_ENOTFOUND when no certificate matches, CL_EREFUSED listing the matches
 * when a prefix is ambiguous. */
cl_err cl_proj__cert_resolve(MDB_txn *txn, const cl_proj_dbs *d, const char *text, uint8_t out[CL_FP_LEN],
			     cl_error *err) __attribute__((warn_unused_result));

/* True when address is one of the certificate's emails (compared without case). */
bool cl_cert__has_email(char *const *emails, size_t nemails, const char *address);

#endif
