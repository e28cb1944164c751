/* inclusion_cache.h - checking the RFC 9162 inclusion proofs of many leaves of one tree, in
 * order, without recomputing the path they share.
 *
 * Proofs of neighbouring leaves end in the same sibling hashes: once one proof has been checked
 * up to the root, every node it computed is known to be in the tree. The next proof is
 * computed as RFC 9162 §2.1.3.2 says, step by step, until it reaches a node the previous
 * computation also reached - the same position, the same hash - with the same remaining
 * sibling hashes: from there on both computations are identical, so the rest is known to end
 * at the root. The answer is always exactly cl_merkle_verify_inclusion's (tests/test_export.c
 * compares them over every leaf of many trees, with good and damaged proofs); only the work is
 * less: about two hashes a leaf instead of log2(size) for a run of consecutive leaves.
 *
 * A cache is a plain value owned by one thread; nothing is allocated. */
#ifndef CL_EXPORT_INCLUSION_CACHE_H
#define CL_EXPORT_INCLUSION_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/merkle.h"

typedef struct cl_incl_step {
	uint64_t fn, sn;            /* the RFC's state after the step */
	uint8_t r[CL_MERKLE_HASH_LEN];
} cl_incl_step;

typedef struct cl_incl_cache {
	uint64_t size;
	uint8_t root[CL_MERKLE_HASH_LEN];
	bool valid;                 /* holds the path of a proof that verified */
	size_t nsteps;
	cl_incl_step step[64];
	uint8_t proof[64 * CL_MERKLE_HASH_LEN];
} cl_incl_cache;

void cl_incl_cache_init(cl_incl_cache *c, uint64_t size, const uint8_t root[CL_MERKLE_HASH_LEN]);

/* cl_merkle_verify_inclusion(leaf, index, c->size, hashes, c->root), remembering the path of
 * a proof that verifies for the next call. */
bool cl_incl_cache_verify(cl_incl_cache *c, const uint8_t leaf[CL_MERKLE_HASH_LEN], uint64_t index,
			  cl_bytes hashes);

#endif
