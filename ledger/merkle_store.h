/* merkle_store.h - the Merkle tree's perfect subtree hashes kept in the `merkle` database,
 * keyed (level u8, index u64 big-endian), as get/put callbacks for merkle.h. */
#ifndef CL_LEDGER_MERKLE_STORE_H
#define CL_LEDGER_MERKLE_STORE_H

#include "ledger/merkle.h"
#include "ledger/store.h"

typedef struct cl_merkle_store_ctx {
	cl_store *store;
	MDB_txn *txn;
	cl_error *err;
} cl_merkle_store_ctx;

cl_err cl_merkle_store_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]);
cl_err cl_merkle_store_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[32]);

#endif
