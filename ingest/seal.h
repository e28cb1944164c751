/* seal.h - private keys sealed for the keystore (DESIGN.md, "Secrets"): the PKCS#8 side of
 * ledger/sealed.h.
 *
 * A private key is stored as its PKCS#8 PrivateKeyInfo DER, sealed with purpose
 * CL_SEALED_PRIVATE_KEY and the certificate's 32-byte fingerprint as context: AES-256-GCM under
 * a fresh per-certificate data key, the data key wrapped under the ledger's master key, both
 * bound to the format version and the fingerprint, so a blob moved to another certificate, or
 * altered in any byte, does not open. The blob layout (CL_SEALED_OVERHEAD + n bytes for a
 * PKCS#8 of n bytes), the AADs and master-key rotation (which re-wraps only the data key) are
 * ledger/sealed.h's and ledger/master_rotate.h's; this file only turns keys into PKCS#8 and back.
 *
 * These functions take the master key as a loaded 32-byte cl_secret: take it from
 * cl_master_key__current (ledger/master_key.h) inside the transaction that reads or writes the
 * blob, never from the key file alone. Every plaintext (PKCS#8 DER, data key) lives in a
 * cl_secret and is wiped on every path.
 */
#ifndef CL_INGEST_SEAL_H
#define CL_INGEST_SEAL_H

#include <openssl/types.h>
#include <stdint.h>

#include "ledger/bytes.h"
#include "ledger/sealed.h"

/* Longest PKCS#8 encoding sealed (an RSA-16384 PKCS#8 is about 9.4 KiB). */
#define CL_SEAL_MAX_PKCS8 CL_SEALED_MAX

/* PKCS#8 PrivateKeyInfo DER of pkey, into *out (replaced; a cl_secret so it is wiped).
 * The encoding goes through OSSL_ENCODER straight into out's memory. */
cl_err cl_seal_pkcs8_from_pkey(cl_secret *out, EVP_PKEY *pkey, cl_error *err) __attribute__((warn_unused_result));

/* Seals pkcs8 for the certificate fp under master (exactly 32 bytes). out is reset and
 * receives the blob; its max must allow CL_SEALED_OVERHEAD + pkcs8->len (else CL_ETOOLARGE).
 * CL_EUSAGE for a master key of the wrong length or an empty or oversized pkcs8, CL_ECRYPTO if
 * OpenSSL fails. */
cl_err cl_seal_pkcs8(cl_buf *out, const cl_secret *master, const uint8_t fp[32], const cl_secret *pkcs8,
		     cl_error *err) __attribute__((warn_unused_result));

/* cl_seal_pkcs8_from_pkey then cl_seal_pkcs8; the PKCS#8 copy is wiped before returning. */
cl_err cl_seal_key(cl_buf *out, const cl_secret *master, const uint8_t fp[32], EVP_PKEY *pkey, cl_error *err)
	__attribute__((warn_unused_result));

/* Opens a blob into its PKCS#8 DER (*out replaced). Any failure - wrong master key, other
 * fingerprint, unknown version, bad length, any altered byte - is CL_EINTEGRITY "sealed key
 * does not open: wrong master key or damaged". */
cl_err cl_seal_open_pkcs8(cl_secret *out, const cl_secret *master, const uint8_t fp[32], cl_bytes blob,
			  cl_error *err) __attribute__((warn_unused_result));

/* Opens a blob into a private key (*out, free with EVP_PKEY_free), decoded in the ingest
 * library context. CL_EINTEGRITY as above, also when the PKCS#8 inside does not decode. */
cl_err cl_seal_open(EVP_PKEY **out, const cl_secret *master, const uint8_t fp[32], cl_bytes blob, cl_error *err)
	__attribute__((warn_unused_result));

#endif
