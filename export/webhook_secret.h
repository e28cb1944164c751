/* webhook_secret.h - webhook signing secrets sealed at rest (DESIGN.md, "Secrets" and "Webhooks"):
 * the webhook side of ledger/sealed.h.
 *
 * A subscription's key bytes (the base64-decoded part of its whsec_ secret, CL_WH_KEY_MIN..
 * CL_WH_KEY_MAX bytes) are sealed with purpose CL_SEALED_WEBHOOK_SECRET and the subscription id
 * as context: AES-256-GCM under a fresh data key, the data key wrapped under the ledger's master
 * key, both bound to the format version and the id, so a blob copied to another subscription
 * does not open. Layout and AADs are ledger/sealed.h's; blobs are CL_WH_SEAL_OVERHEAD + key
 * length bytes and live in the wh_secrets database, key = subscription id. Master-key rotation
 * (ledger/master_rotate.h) re-wraps them along with the private keys.
 *
 * These functions take the master key as a loaded 32-byte cl_secret: take it from
 * cl_master_key__current (ledger/master_key.h) inside the transaction that reads or writes the
 * blob, never from the key file alone (it may not be the current key yet, see there). Every
 * plaintext lives in a cl_secret and is wiped on every path.
 */
#ifndef CL_EXPORT_WEBHOOK_SECRET_H
#define CL_EXPORT_WEBHOOK_SECRET_H

#include "ledger/bytes.h"
#include "ledger/sealed.h"

#define CL_WH_SEAL_OVERHEAD CL_SEALED_OVERHEAD
/* Longest subscription id accepted as a context here. */
#define CL_WH_SEAL_ID_MAX 64

/* Seals key (CL_WH_KEY_MIN..CL_WH_KEY_MAX bytes) for subscription id under master (exactly 32
 * bytes) into out (reset first). Errors: CL_EUSAGE (sizes, an empty or too long id),
 * CL_ECRYPTO, CL_ENOMEM, CL_ETOOLARGE (out's maximum). The message never contains key
 * material. */
cl_err cl_wh__secret_seal(cl_buf *out, const cl_secret *master, const char *id, const cl_secret *key,
			  cl_error *err) __attribute__((warn_unused_result));

/* Opens a blob sealed for id into *key (old content wiped; empty on error). Any failure (wrong
 * master key, another id, an altered byte, a bad length, a key of a size never sealed) is
 * CL_EINTEGRITY "webhook secret of <id> does not open: wrong master key or damaged". CL_EUSAGE
 * for a master key of the wrong length. */
cl_err cl_wh__secret_open(cl_secret *key, const cl_secret *master, const char *id, cl_bytes blob,
			  cl_error *err) __attribute__((warn_unused_result));

#endif
