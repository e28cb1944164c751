/* envelope.h - the signed event envelope and its body: encoding and strict decoding.
 *
 * Envelope (stored verbatim as the `log` value): msgpack array [body: bin, sig: bin(64),
 * signer: bin(32)]. Body: msgpack map with keys, in this order, v (1), seq (uint), ts (int,
 * microseconds since the epoch, UTC), type (str), actor (str), prev (bin 32), data (map).
 * sig is Ed25519 over CL_EVENT_SIG_DOMAIN || body; signer is SHA-256 of the signing public
 * key; prev is SHA-256 of the previous body (zeros for seq 1); the event id is SHA-256(body).
 * See docs/format.md.
 */
#ifndef CL_LEDGER_ENVELOPE_H
#define CL_LEDGER_ENVELOPE_H

#include <stdint.h>

#include "ledger/bytes.h"
#include "ledger/keys.h"

#define CL_EVENT_VERSION 1
#define CL_EVENT_SIG_DOMAIN "certledger/event/v1\n"
#define CL_ENVELOPE_MAX (64 * 1024)
#define CL_HASH_LEN 32
#define CL_TYPE_MAX 64
#define CL_ACTOR_MAX 128

/* A decoded event: every view borrows from the envelope bytes it was decoded from. */
typedef struct cl_event {
	uint64_t seq;
	int64_t ts;
	cl_bytes type;
	cl_bytes actor;
	const uint8_t *prev;   /* 32 bytes */
	cl_bytes data;         /* the encoded data map, msgpack */
	cl_bytes body;         /* the whole body, as signed */
	const uint8_t *sig;    /* 64 bytes */
	const uint8_t *signer; /* 32 bytes */
	cl_bytes envelope;
} cl_event;

/* Encodes a body into out (reset first). data must be one encoded msgpack map. */
cl_err cl_body_encode(cl_buf *out, uint64_t seq, int64_t ts, const char *type, const char *actor,
		      const uint8_t prev[CL_HASH_LEN], cl_bytes data) __attribute__((warn_unused_result));

/* Appends the envelope [body, sig, signer] to out (reset first). */
cl_err cl_envelope_encode(cl_buf *out, cl_bytes body, const uint8_t sig[CL_ED25519_SIG_LEN],
			  const uint8_t signer[CL_SIGNER_ID_LEN]) __attribute__((warn_unused_result));

/* Signs body with key (domain-separated). ctx may be NULL or a per-thread EVP_MD_CTX. */
cl_err cl_event_sign(const cl_key *key, EVP_MD_CTX *ctx, cl_bytes body, uint8_t sig[CL_ED25519_SIG_LEN])
	__attribute__((warn_unused_result));

/* The same with a per-thread signing context (keys.h), for batches. */
cl_err cl_event_sign_with(cl_signer_ctx *c, const cl_key *key, cl_bytes body, uint8_t sig[CL_ED25519_SIG_LEN])
	__attribute__((warn_unused_result));

/* Strictly decodes an envelope and its body. Any deviation (size over CL_ENVELOPE_MAX,
 * truncation, trailing bytes, wrong types or lengths, keys missing or out of order, unknown v,
 * a data value that is not a well-formed map) is CL_EBADINPUT with a message in err. */
cl_err cl_envelope_decode(cl_bytes envelope, cl_event *out, cl_error *err) __attribute__((warn_unused_result));

/* The event id: SHA-256 of the body. */
void cl_event_id(const cl_event *ev, uint8_t out[CL_HASH_LEN]);

/* True when the event's type equals the NUL-terminated name. */
int cl_event_is(const cl_event *ev, const char *type);

#endif
