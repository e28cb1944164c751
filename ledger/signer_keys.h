/* signer_keys.h - the Ed25519 public keys seen so far while verifying (the ledger key and every
 * admin key), looked up by signer id (SHA-256 of the raw key), each parsed into an EVP_PKEY
 * once so that verifying many signatures does not rebuild the key every time. Used by
 * `verify` and by the offline bundle verifier. */
#ifndef CL_LEDGER_SIGNER_KEYS_H
#define CL_LEDGER_SIGNER_KEYS_H

#include "ledger/keys.h"

typedef struct cl_signer_keys {
	struct cl_signer_key *v;
	size_t n;
} cl_signer_keys;

#define CL_SIGNER_KEYS_INIT {NULL, 0}

/* Adds pub (no-op when it is there already). CL_ENOMEM or CL_ECRYPTO (not a valid key). */
cl_err cl_signer_keys_add(cl_signer_keys *k, const uint8_t pub[CL_ED25519_PUB_LEN])
	__attribute__((warn_unused_result));
/* The key whose signer id is id, or NULL. Borrowed: lives until cl_signer_keys_free. */
EVP_PKEY *cl_signer_keys_get(const cl_signer_keys *k, const uint8_t id[CL_SIGNER_ID_LEN]);
void cl_signer_keys_free(cl_signer_keys *k);

#endif
