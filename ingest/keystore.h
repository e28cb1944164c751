/* keystore.h - the `keystore` database (DESIGN.md "Storage" and "Secrets"): sealed private keys
 * (ingest/seal.h blobs) keyed by certificate fingerprint.
 *
 * The database also holds one record that is not a fingerprint: the id of the master key the
 * blobs are wrapped under (key "master-key-id", 13 bytes), owned by the ledger
 * (ledger/master_key.h, cl_master_key__current). Its key is never 32 bytes long, so the
 * functions here never meet it. Master-key rotation re-wraps the blobs in place
 * (ledger/master_rotate.h); nothing here replaces a blob.
 */
#ifndef CL_INGEST_KEYSTORE_H
#define CL_INGEST_KEYSTORE_H

#include <lmdb.h>
#include <stdint.h>

#include "ledger/bytes.h"
#include "ledger/handle.h"

/* The sealed blob of fp. CL_ENOTFOUND when there is none; the view borrows from txn. */
cl_err cl_keystore__get(cl_ledger *l, MDB_txn *txn, const uint8_t fp[32], cl_bytes *blob, cl_error *err)
	__attribute__((warn_unused_result));

/* Stores the blob of fp inside a write transaction. A blob already there is never replaced
 * (keys are destroyed only by crypto-shredding): CL_EINTEGRITY. LMDB errors go through
 * cl_store_put_error (a full map is CL_EMAPFULL, which makes the write grow the map and retry). */
cl_err cl_keystore__put(cl_ledger *l, MDB_txn *txn, const uint8_t fp[32], cl_bytes blob, cl_error *err)
	__attribute__((warn_unused_result));

#endif
