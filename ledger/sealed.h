/* sealed.h - secrets sealed under the ledger's master key (DESIGN.md, "Secrets"): the one
 * implementation of the envelope encryption that every secret kept at rest goes through.
 *
 * A plaintext is encrypted with AES-256-GCM under a fresh random 32-byte data key; the data key
 * is itself encrypted (wrapped) with AES-256-GCM under the ledger's 32-byte master key
 * (ledger/master_key.h). Both encryptions bind, as additional authenticated data, what the
 * secret is (its purpose), the format version and its context (the record it belongs to), so a
 * blob copied to another record or read as another kind of secret does not open, and neither
 * does one altered in any byte. Rotating the master key re-wraps only the 32-byte data key; the
 * ciphertext is carried over byte for byte.
 *
 * Purposes and contexts (a new purpose is a new row here, in sealed.c, and in the table of
 * sealed databases of ledger/master_rotate.h):
 *
 *   purpose                   plaintext                         context (kept as the db key)
 *   CL_SEALED_PRIVATE_KEY     PKCS#8 DER of a private key       certificate fingerprint, 32 bytes
 *   CL_SEALED_WEBHOOK_SECRET  key bytes of a whsec_ secret      subscription id, 1..255 bytes
 *
 * Blob layout, version 1 (offsets in bytes, n = plaintext length, 1..CL_SEALED_MAX):
 *
 *     0       1   version, 0x01
 *     1      12   wrap nonce (random)
 *    13      32   wrapped data key: AES-256-GCM(master key, wrap nonce, data key)
 *    45      16   wrap tag
 *    61      12   data nonce (random)
 *    73       n   ciphertext: AES-256-GCM(data key, data nonce, plaintext)
 *    73+n    16   data tag
 *
 * AAD = label || 0x01 (the version) || context, where the context is preceded by its length
 * (one byte) when the purpose's contexts vary in length; a fixed-length context needs none:
 *
 *   purpose                   wrap label               data label               context
 *   CL_SEALED_PRIVATE_KEY     "certledger/keywrap"     "certledger/keydata"     fingerprint (32)
 *   CL_SEALED_WEBHOOK_SECRET  "certledger/whsec-wrap"  "certledger/whsec-data"  len (1) || id
 *
 * The encoding is unambiguous: the labels differ from their 12th byte on, and within a label the
 * context is either of fixed length or length-prefixed. (These are the AADs the two copies of
 * this construction wrote before it was shared, so every existing blob still opens.)
 *
 * Nonces are 96-bit random (RAND_bytes); the data key comes from RAND_priv_bytes. A blob is
 * ciphertext and may live in a plain cl_buf; every plaintext (data key, secret) lives only in a
 * cl_secret and is wiped on every path, errors included. Nothing here puts secret bytes into a
 * cl_error message.
 */
#ifndef CL_LEDGER_SEALED_H
#define CL_LEDGER_SEALED_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_SEALED_VERSION 1
#define CL_SEALED_KEY_LEN 32 /* master key and data key */
#define CL_SEALED_NONCE_LEN 12
#define CL_SEALED_TAG_LEN 16
#define CL_SEALED_OVERHEAD (1 + 2 * CL_SEALED_NONCE_LEN + CL_SEALED_KEY_LEN + 2 * CL_SEALED_TAG_LEN) /* 89 */
/* Offsets of the parts of a blob (see the layout above). */
#define CL_SEALED_OFF_WRAP_NONCE 1
#define CL_SEALED_OFF_WRAPPED (CL_SEALED_OFF_WRAP_NONCE + CL_SEALED_NONCE_LEN)  /* 13 */
#define CL_SEALED_OFF_WRAP_TAG (CL_SEALED_OFF_WRAPPED + CL_SEALED_KEY_LEN)       /* 45 */
#define CL_SEALED_OFF_DATA_NONCE (CL_SEALED_OFF_WRAP_TAG + CL_SEALED_TAG_LEN)    /* 61 */
#define CL_SEALED_OFF_DATA (CL_SEALED_OFF_DATA_NONCE + CL_SEALED_NONCE_LEN)      /* 73 */
/* Longest plaintext (an RSA-16384 PKCS#8 is about 9.4 KiB). */
#define CL_SEALED_MAX ((size_t)64 * 1024)
/* Longest context of a purpose whose contexts vary in length (what one length byte holds). */
#define CL_SEALED_CONTEXT_MAX 255

typedef enum cl_sealed_purpose {
	CL_SEALED_PRIVATE_KEY = 0,
	CL_SEALED_WEBHOOK_SECRET = 1,
} cl_sealed_purpose;

/* Whether context can be one of purpose's contexts (32 bytes for a private key, 1..255 for a
 * webhook secret). False for an unknown purpose. */
bool cl_sealed__context_ok(cl_sealed_purpose purpose, cl_bytes context);

/* Seals plaintext (1..CL_SEALED_MAX bytes) for (purpose, context) under master (exactly 32
 * bytes). out is reset and receives the blob, CL_SEALED_OVERHEAD + plaintext->len bytes; its max
 * must allow that (else CL_ETOOLARGE, out left empty). Errors: CL_EUSAGE (a master key of the
 * wrong length, an unknown purpose, a context that is not one of the purpose's, a plaintext of
 * the wrong size), CL_ECRYPTO (no randomness, OpenSSL failed), CL_ENOMEM. */
cl_err cl_sealed__seal(cl_buf *out, const cl_secret *master, cl_sealed_purpose purpose, cl_bytes context,
		       const cl_secret *plaintext, cl_error *err) __attribute__((warn_unused_result));

/* Opens blob, sealed for (purpose, context), into *out (old content wiped; on success exactly
 * the plaintext, out->max set to its length; on failure empty). Any failure of the blob - wrong
 * master key, other purpose or context, unknown version, bad length, any altered byte - is
 * CL_EINTEGRITY "sealed <what> does not open: wrong master key or damaged" (<what>: "key" for a
 * private key, "webhook secret"). CL_EUSAGE for a master key of the wrong length or an unknown
 * purpose; CL_ENOMEM. */
cl_err cl_sealed__open(cl_secret *out, const cl_secret *master, cl_sealed_purpose purpose, cl_bytes context,
		       cl_bytes blob, cl_error *err) __attribute__((warn_unused_result));

/* Re-wraps blob's data key from old_master to new_master (master-key rotation). The whole blob
 * is authenticated first (the data key is unwrapped and the ciphertext decrypted into a wiped
 * buffer that is dropped), so a damaged blob is CL_EINTEGRITY, as for cl_sealed__open, and is
 * not carried forward. out is reset and receives a blob of the same length with a new wrap
 * nonce, wrapped key and wrap tag; version, data nonce, ciphertext and data tag are the old
 * ones, byte for byte. On any error out is left empty. CL_EUSAGE for a new_master of the wrong
 * length; CL_ETOOLARGE when out's max is below blob.len. */
cl_err cl_sealed__rewrap(cl_buf *out, const cl_secret *old_master, const cl_secret *new_master,
			 cl_sealed_purpose purpose, cl_bytes context, cl_bytes blob, cl_error *err)
	__attribute__((warn_unused_result));

#endif
