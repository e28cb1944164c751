/* merkle_store.c - LMDB-backed node storage for the RFC 9162 tree (see merkle_store.h). */
#include "ledger/merkle_store.h"

#include <string.h>

static void node_key(uint8_t k[9], unsigned level, uint64_t index)
{
	k[0] = (uint8_t)level;
	cl_be64_put(k + 1, index);
}

cl_err cl_merkle_store_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
	cl_merkle_store_ctx *c = ctx;
	uint8_t k[9];
	node_key(k, level, index);
	MDB_val key = {9, k}, val;
	int rc = mdb_get(c->txn, c->store->merkle, &key, &val);
	if (rc == MDB_NOTFOUND || (rc == 0 && val.mv_size != 32))
		return cl_error_set(c->err, CL_EINTEGRITY, "Merkle node (level %u, index %llu) is missing or damaged",
				    level, (unsigned long long)index);
	if (rc != 0)
		return cl_store_mdb_error(c->err, rc, "get");
	memcpy(out, val.mv_data, 32);
	return CL_OK;
}

cl_err cl_merkle_store_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[32])
{
	cl_merkle_store_ctx *c = ctx;
	uint8_t k[9];
	node_key(k, level, index);
	MDB_val key = {9, k}, val = {32, (void *)h};
	int rc = mdb_put(c->txn, c->store->merkle, &key, &val, 0);
	if (rc != 0)
		return cl_store_put_error(c->err, rc);
	return CL_OK;
}
