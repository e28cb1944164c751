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
/* Strictly decodes cert.uploaded data into an owned struct. */
cl_err cl_cert_uploaded_decode(cl_bytes data, cl_cert_uploaded *out, cl_error *err) __attribute__((warn_unused_result));

#endif
