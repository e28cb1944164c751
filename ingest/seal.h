/* seal.h - private keys sealed for the keystore (DESIGN.md, "Secrets").
 *
 * A private key is stored as its PKCS#8 DER encrypted with AES-256-GCM under a fresh random
 * per-certificate data key; the data key is itself encrypted (wrapped) with AES-256-GCM under
 * the ledger's 32-byte master key. Both encryptions bind the format version and the
 * certificate's fingerprint as additional authenticated data, so a blob moved to another
 * certificate, or altered in any byte, does not open. Rotating the master key re-wraps only
 * the 32-byte data key; the ciphertext of the key is reused as it is.
 *
 * Blob layout, version 1 (offsets in bytes, n = length of the PKCS#8 DER):
 *
 *     0       1   version, 0x01
 *     1      12   wrap nonce (random)
 *    13      32   wrapped data key: AES-256-GCM(master key, wrap nonce, data key)
 *    45      16   wrap tag
 *    61      12   data nonce (random)
 *    73       n   sealed key: AES-256-GCM(data key, data nonce, PKCS#8 DER)
 *    73+n    16   data tag
 *
 *    AAD of the wrap: "certledger/keywrap" (18 bytes) || 0x01 || fingerprint (32 bytes)
 *    AAD of the data: "certledger/keydata" (18 bytes) || 0x01 || fingerprint (32 bytes)
 *
 * Total length: CL_SEAL_OVERHEAD + n. Nonces are 96-bit random (RAND_bytes); the data key comes
 * from RAND_priv_bytes. The blob is ciphertext and may live in a plain cl_buf; every plaintext
 * (data key, PKCS#8 DER) lives in a cl_secret and is wiped on every path.
 *
 * The master key file itself (create 0600 with O_EXCL, load refusing group/other access,
 * two-step atomic replacement for rotation) is ledger/master_key.h; these functions take the
 * loaded key as a 32-byte cl_secret.
 */
#ifndef CL_INGEST_SEAL_H
#define CL_INGEST_SEAL_H

#include <openssl/types.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_SEAL_VERSION 1
#define CL_SEAL_KEY_LEN 32
#define CL_SEAL_NONCE_LEN 12
#define CL_SEAL_TAG_LEN 16
#define CL_SEAL_OVERHEAD (1 + 2 * CL_SEAL_NONCE_LEN + CL_SEAL_KEY_LEN + 2 * CL_SEAL_TAG_LEN) /* 89 */
#define CL_SEAL_MAX_PKCS8 ((size_t)64 * 1024) /* an RSA-16384 PKCS#8 is about 9.4 KiB */

/* PKCS#8 PrivateKeyInfo DER of pkey, into *out (replaced; a cl_secret so it is wiped).
 * The encoding goes through OSSL_ENCODER straight into out's memory. */
cl_err cl_seal_pkcs8_from_pkey(cl_secret *out, EVP_PKEY *pkey, cl_error *err) __attribute__((warn_unused_result));

/* Seals pkcs8 for the certificate fp under master (exactly 32 bytes). out is reset and
 * receives the blob; its max must allow CL_SEAL_OVERHEAD + pkcs8->len (else CL_ETOOLARGE).
 * CL_EUSAGE for a master key of the wrong length, CL_ECRYPTO if OpenSSL fails. */
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

/* Re-wraps the data key of blob from old_master to new_master (master-key rotation). The
 * whole blob is authenticated first (the sealed key is decrypted into a wiped buffer and
 * dropped), so a damaged blob is CL_EINTEGRITY and not carried forward. out is reset and
 * receives a blob with a new wrap nonce, wrapped key and tag; the data nonce, ciphertext and
 * data tag are the old ones, byte for byte. */
cl_err cl_seal_rewrap(cl_buf *out, const cl_secret *old_master, const cl_secret *new_master, const uint8_t fp[32],
		      cl_bytes blob, cl_error *err) __attribute__((warn_unused_result));

#endif
