/* keys.h - Ed25519 signing keys (the ledger key, admin keys) and their files.
 *
 * A cl_key holds an Ed25519 key pair (or only a public key), its raw 32-byte public key and its
 * signer id (SHA-256 of the raw public key, as carried in an envelope). Key files are PKCS#8 PEM
 * (private) or SubjectPublicKeyInfo PEM (public), written 0600 with O_EXCL; a private key file
 * that is group- or world-readable is refused on load.
 */
#ifndef CL_LEDGER_KEYS_H
#define CL_LEDGER_KEYS_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_ED25519_PUB_LEN 32
#define CL_ED25519_SIG_LEN 64
#define CL_SIGNER_ID_LEN 32

typedef struct cl_key {
	EVP_PKEY *pkey;
	bool has_private;
	uint8_t pub[CL_ED25519_PUB_LEN];
	uint8_t signer_id[CL_SIGNER_ID_LEN];
} cl_key;

cl_err cl_key_generate(cl_key **out, cl_error *err) __attribute__((warn_unused_result));
/* Loads a private (PKCS#8) or public (SPKI) Ed25519 PEM file. */
cl_err cl_key_load(cl_key **out, const char *path, cl_error *err) __attribute__((warn_unused_result));
cl_err cl_key_from_public(cl_key **out, const uint8_t pub[CL_ED25519_PUB_LEN], cl_error *err)
	__attribute__((warn_unused_result));
/* Writes the private key (PKCS#8 PEM) to a new file, mode 0600; fails if the file exists. */
cl_err cl_key_save_private(const cl_key *k, const char *path, cl_error *err) __attribute__((warn_unused_result));
cl_err cl_key_save_public(const cl_key *k, const char *path, cl_error *err) __attribute__((warn_unused_result));
void cl_key_free(cl_key *k);

/* Ed25519 signature over prefix || msg (prefix may be NULL). Uses a caller-provided
 * EVP_MD_CTX when ctx is not NULL (one per thread for parallel signing). */
cl_err cl_key_sign(const cl_key *k, EVP_MD_CTX *ctx, const char *prefix, cl_bytes msg,
		   uint8_t sig[CL_ED25519_SIG_LEN]) __attribute__((warn_unused_result));
/* One thread signing many messages, usually with one key (a batch of events): the
 * EVP_DigestSignInit state is made once per key and every signature starts from a copy of it.
 * A fresh init per message looks the algorithm up in OpenSSL's global method store, whose lock
 * threads signing at once contend on. Not shared between threads; free with
 * cl_signer_ctx_free. The keys it is used with must outlive it. */
typedef struct cl_signer_ctx {
	const cl_key *key; /* the key tmpl holds (NULL: none yet) */
	EVP_MD_CTX *tmpl;
	EVP_MD_CTX *work;
} cl_signer_ctx;
#define CL_SIGNER_CTX_INIT {NULL, NULL, NULL}

/* Same result as cl_key_sign. */
cl_err cl_key_sign_with(cl_signer_ctx *c, const cl_key *k, const char *prefix, cl_bytes msg,
			uint8_t sig[CL_ED25519_SIG_LEN]) __attribute__((warn_unused_result));
void cl_signer_ctx_free(cl_signer_ctx *c);

/* true when sig is a valid Ed25519 signature by pub over prefix || msg. */
bool cl_ed25519_verify(const uint8_t pub[CL_ED25519_PUB_LEN], EVP_MD_CTX *ctx, const char *prefix,
		       cl_bytes msg, const uint8_t sig[CL_ED25519_SIG_LEN]);
/* Same, with an already-built EVP_PKEY (avoids re-creating it per event in verify). */
bool cl_ed25519_verify_pkey(EVP_PKEY *pkey, EVP_MD_CTX *ctx, const char *prefix, cl_bytes msg,
			    const uint8_t sig[CL_ED25519_SIG_LEN]);

/* SHA-256 helpers. cl_sha256_md is SHA-256 fetched from the default provider once per process
 * (an immutable handle, never freed): SHA256() and EVP_sha256() look the algorithm up in
 * OpenSSL's global method store, under its lock, on every call, which costs more than hashing
 * an event. It is NULL only if that fetch failed; EVP_sha256() is the fallback then. */
const EVP_MD *cl_sha256_md(void);
/* Aborts if OpenSSL cannot hash (it cannot allocate): a wrong hash must never be stored. */
void cl_sha256(const void *data, size_t n, uint8_t out[32]);

#endif
