/* smime_test.h - `cert test`: does a certificate (and its private key, if held) actually work
 * for S/MIME? With OpenSSL's CMS: sign a test message and verify the signature (against the
 * certificate itself, no trust chain needed), encrypt a message to the certificate and decrypt
 * it with the key. Without a key: encrypt, then check that the EnvelopedData produced parses
 * back and names this certificate as a recipient.
 *
 * A step is "n/a" when the certificate or key cannot do it (no private key; a key that cannot
 * encrypt, such as Ed25519, Ed448, DSA or RSA-PSS; a key type that cannot sign; a keyUsage that
 * forbids it), "failed" when it was tried and did not work, "ok" otherwise. Reasons are short
 * static-ish texts plus OpenSSL's reason string; they never contain key material.
 */
#ifndef CL_INGEST_SMIME_TEST_H
#define CL_INGEST_SMIME_TEST_H

#include <openssl/types.h>
#include <stddef.h>

#include "certledger/error.h"

typedef enum cl_smime_status {
	CL_SMIME_NA = 0,
	CL_SMIME_OK = 1,
	CL_SMIME_FAILED = 2
} cl_smime_status;

typedef struct cl_smime_step {
	cl_smime_status status;
	char reason[200]; /* why failed or n/a; empty when ok */
} cl_smime_step;

typedef struct cl_smime_result {
	cl_smime_step sign, verify, encrypt, decrypt;
} cl_smime_result;

/* "ok", "failed" or "n/a" (CLI.md). */
const char *cl_smime_status_name(cl_smime_status s);

/* Runs the checks. cert is required; pkey (may be NULL) is the certificate's private key;
 * chain (n_chain entries, may be NULL) is added to the signature. Nothing is modified.
 * Returns CL_OK whenever the checks could run, whatever their outcome (read *out);
 * CL_ENOMEM / CL_ECRYPTO only when the test itself could not be set up. */
cl_err cl_smime_test(cl_smime_result *out, X509 *cert, EVP_PKEY *pkey, X509 *const *chain, size_t n_chain,
		     cl_error *err) __attribute__((warn_unused_result));

#endif
