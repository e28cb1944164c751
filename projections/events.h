/* events.h - the data codecs of the events that change an account's certificates
 * (docs/events.md): cert.linked, cert.unlinked, primary.set and primary.cleared. ingest encodes
 * them, the read models decode them; account.created is in accounts.h, cert.uploaded and
 * cert.renamed in certs.h.
 *
 * Encoders reset out first and return the writer's error (CL_ENOMEM, CL_ETOOLARGE). Decoders are
 * strict (key order, types, lengths, no trailing bytes, no NUL inside strings) and return views
 * that borrow from data.
 */
#ifndef CL_PROJ_EVENTS_H
#define CL_PROJ_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_FP_LEN 32

/* cert.linked: email, fingerprint. cert.unlinked: email, fingerprint, reason.
 * primary.cleared: email, fingerprint, reason ("cleared" or "unlinked"). */
typedef struct cl_link_data {
	cl_bytes email;
	const uint8_t *fingerprint; /* 32 bytes */
	cl_bytes reason;            /* empty for cert.linked */
} cl_link_data;

/* primary.set: email, fingerprint, forced, overridden (array of str). */
typedef struct cl_primary_set_data {
	cl_bytes email;
	const uint8_t *fingerprint;
	bool forced;
	uint32_t noverridden;
	cl_bytes overridden;        /* the encoded msgpack array of str */
} cl_primary_set_data;

cl_err cl_cert_linked_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN])
	__attribute__((warn_unused_result));
cl_err cl_cert_unlinked_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN], const char *reason)
	__attribute__((warn_unused_result));
cl_err cl_primary_set_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN], bool forced,
			     const char *const *overridden, size_t noverridden) __attribute__((warn_unused_result));
cl_err cl_primary_cleared_encode(cl_buf *out, const char *email, const uint8_t fp[CL_FP_LEN], const char *reason)
	__attribute__((warn_unused_result));

cl_err cl_cert_linked_decode(cl_bytes data, cl_link_data *out, cl_error *err) __attribute__((warn_unused_result));
cl_err cl_cert_unlinked_decode(cl_bytes data, cl_link_data *out, cl_error *err) __attribute__((warn_unused_result));
cl_err cl_primary_set_decode(cl_bytes data, cl_primary_set_data *out, cl_error *err)
	__attribute__((warn_unused_result));
cl_err cl_primary_cleared_decode(cl_bytes data, cl_link_data *out, cl_error *err)
	__attribute__((warn_unused_result));

#endif
