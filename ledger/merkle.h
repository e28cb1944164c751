/* merkle.h - the RFC 9162 (§2.1) Merkle tree over the log: hashes, storage of perfect
 * subtrees, roots, inclusion and consistency proofs and their verification.
 *
 * Leaf n of the tree is log seq n+1; its hash is SHA-256(0x00 || envelope), an interior node is
 * SHA-256(0x01 || left || right), and the root of the empty tree is SHA-256("").
 *
 * Storage model. Only PERFECT subtrees are stored: node (level L, index i) is the hash of the
 * 2^L leaves [i*2^L, (i+1)*2^L). Once written a node never changes, so the tree of any earlier
 * size can still be rebuilt from the same nodes: every root and proof below is assembled from
 * O(log n) perfect nodes. This module does no I/O: the caller supplies two callbacks, and the
 * ledger's LMDB `merkle` database (key: level, index) sits behind them. Levels are 0..63.
 *
 * Sizes and indexes are uint64_t. Arguments out of range (an index not below the size, old size
 * above the new one, a size of 0 where a tree is needed) are CL_EUSAGE, never undefined
 * behaviour; the caller, which knows the user's input, words the message.
 *
 * Nothing here keeps global state; all functions are safe to call from several threads as long
 * as the callbacks are.
 */
#ifndef CL_LEDGER_MERKLE_H
#define CL_LEDGER_MERKLE_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_MERKLE_HASH_LEN 32
/* Most hashes in a proof this module makes or accepts: 64 for an inclusion proof (the tree is
 * at most 64 levels deep), 65 for a consistency proof (64 siblings and the old subtree root). */
#define CL_MERKLE_MAX_PROOF 65
/* Size of a cl_buf that can hold any proof. */
#define CL_MERKLE_PROOF_MAX_BYTES (CL_MERKLE_MAX_PROOF * CL_MERKLE_HASH_LEN)

/* SHA-256(0x00 || entry). SHA-256 is treated as infallible, as cl_sha256 is: if OpenSSL cannot
 * even allocate a digest context, these abort rather than let a wrong hash be stored or signed. */
void cl_merkle_leaf_hash(cl_bytes entry, uint8_t out[CL_MERKLE_HASH_LEN]);
/* SHA-256(0x01 || l || r). out may alias l or r. */
void cl_merkle_node_hash(const uint8_t l[CL_MERKLE_HASH_LEN], const uint8_t r[CL_MERKLE_HASH_LEN],
			 uint8_t out[CL_MERKLE_HASH_LEN]);
/* SHA-256(""), the root of the empty tree (e3b0c442...7852b855). */
void cl_merkle_empty_root(uint8_t out[CL_MERKLE_HASH_LEN]);

/* Reads the stored perfect node (level, index) into out. Returns 0, or a negative code that
 * the calling function returns unchanged (CL_ENOTFOUND for a node that is not stored, CL_EIO,
 * ...); a callback that wants a detailed message keeps it in its ctx. */
typedef cl_err (*cl_merkle_get_fn)(void *ctx, unsigned level, uint64_t index, uint8_t out[CL_MERKLE_HASH_LEN]);
/* Stores the perfect node (level, index). Same error contract as cl_merkle_get_fn. */
typedef cl_err (*cl_merkle_put_fn)(void *ctx, unsigned level, uint64_t index, const uint8_t h[CL_MERKLE_HASH_LEN]);

/* Adds leaf number leaf_index (0-based) to the stored tree: puts (0, leaf_index) and every
 * perfect parent that this leaf completes, reading the left siblings it needs with get (at
 * most 63 gets and 64 puts). Leaves must be appended in order 0, 1, 2, ... with the nodes of
 * all earlier leaves stored; appending a leaf again writes the same values again (idempotent),
 * which makes rebuilding the `merkle` database safe to interrupt. leaf_index UINT64_MAX is
 * CL_EUSAGE (the tree size would not fit in 64 bits). */
cl_err cl_merkle_append(cl_merkle_get_fn get, cl_merkle_put_fn put, void *ctx, uint64_t leaf_index,
			const uint8_t leaf_hash[CL_MERKLE_HASH_LEN]) __attribute__((warn_unused_result));

/* The RFC 9162 Merkle Tree Hash of the first `size` leaves, from one get per set bit of size
 * (at most 64). size 0 gives SHA-256("") without calling get. */
cl_err cl_merkle_root(cl_merkle_get_fn get, void *ctx, uint64_t size, uint8_t out[CL_MERKLE_HASH_LEN])
	__attribute__((warn_unused_result));

/* The inclusion proof PATH(index, D[size]) of RFC 9162 §2.1.3.1: the sibling hashes from the
 * leaf up to the root, as n*32 bytes in out (which is reset first; on failure it is left
 * empty). out->max must allow CL_MERKLE_PROOF_MAX_BYTES or the proof's size (CL_ETOOLARGE).
 * index >= size (which includes size 0) is CL_EUSAGE. A tree of one leaf has an empty proof. */
cl_err cl_merkle_inclusion_proof(cl_merkle_get_fn get, void *ctx, uint64_t index, uint64_t size, cl_buf *out)
	__attribute__((warn_unused_result));

/* The consistency proof PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1, as n*32 bytes in
 * out (reset first; left empty on failure). Requires 0 < old_size <= new_size, else CL_EUSAGE
 * (every tree is trivially consistent with the empty one, so there is nothing to prove).
 * old_size == new_size gives the empty proof (SUBPROOF(m, D[m], true) = {}). */
cl_err cl_merkle_consistency_proof(cl_merkle_get_fn get, void *ctx, uint64_t old_size, uint64_t new_size,
				   cl_buf *out) __attribute__((warn_unused_result));

/* RFC 9162 §2.1.3.2: true when hashes (n*32 bytes, in PATH order) prove that leaf (a leaf
 * hash, not the entry) is leaf number index of the tree of `size` leaves whose root is root.
 * false for index >= size, a length that is not a multiple of 32, a proof that is too short
 * or too long, or any wrong hash. */
bool cl_merkle_verify_inclusion(const uint8_t leaf[CL_MERKLE_HASH_LEN], uint64_t index, uint64_t size,
				cl_bytes hashes, const uint8_t root[CL_MERKLE_HASH_LEN]);

/* RFC 9162 §2.1.4.2: true when hashes (n*32 bytes, in PROOF order) prove that the tree of
 * old_size leaves with root old_root is a prefix of the tree of new_size leaves with root
 * new_root. As an extension of the RFC algorithm (which starts by refusing an empty proof),
 * old_size == new_size is accepted with an empty proof when the two roots are equal. false for
 * old_size 0, old_size > new_size, a length not a multiple of 32, a proof too short or too
 * long, or any wrong hash. */
bool cl_merkle_verify_consistency(uint64_t old_size, uint64_t new_size, const uint8_t old_root[CL_MERKLE_HASH_LEN],
				  const uint8_t new_root[CL_MERKLE_HASH_LEN], cl_bytes hashes);

/* An in-memory incremental tree for verifiers that walk the log: a compact range holding the
 * roots of the perfect subtrees that make up the first `size` leaves (one per set bit of size,
 * largest first), so at most 64 hashes whatever the size. Plain value, no allocation, nothing
 * to free; copy it to keep a snapshot. */
typedef struct cl_merkle_builder {
	uint64_t size;
	unsigned n; /* hashes in use == popcount(size) */
	uint8_t hashes[64][CL_MERKLE_HASH_LEN];
} cl_merkle_builder;

void cl_merkle_builder_init(cl_merkle_builder *b);
/* Appends the next leaf's hash. CL_ETOOLARGE when size is already UINT64_MAX (state unchanged). */
cl_err cl_merkle_builder_add(cl_merkle_builder *b, const uint8_t leaf_hash[CL_MERKLE_HASH_LEN])
	__attribute__((warn_unused_result));
/* The root of the leaves added so far (SHA-256("") when none); the builder is not changed. */
void cl_merkle_builder_root(const cl_merkle_builder *b, uint8_t out[CL_MERKLE_HASH_LEN]);

#endif
