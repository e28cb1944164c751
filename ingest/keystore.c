/* keystore.c - sealed private keys by fingerprint in the `keystore` database (see keystore.h). */
#include "ingest/keystore.h"

#include "ledger/encoding.h"

cl_err cl_keystore__get(cl_ledger *l, MDB_txn *txn, const uint8_t fp[32], cl_bytes *blob, cl_error *err)
{
	MDB_val k = {32, (void *)fp}, v;
	int rc = mdb_get(txn, l->store->keystore, &k, &v);
	if (rc == MDB_NOTFOUND) {
		char hex[65];
		cl_hex_encode(hex, fp, 32);
		return cl_error_set(err, CL_ENOTFOUND, "no sealed private key for certificate %s", hex);
	}
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "keystore get");
	*blob = CL_BYTES(v.mv_data, v.mv_size);
	return CL_OK;
}

cl_err cl_keystore__put(cl_ledger *l, MDB_txn *txn, const uint8_t fp[32], cl_bytes blob, cl_error *err)
{
	MDB_val k = {32, (void *)fp}, v = {blob.len, (void *)blob.ptr};
	int rc = mdb_put(txn, l->store->keystore, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		char hex[65];
		cl_hex_encode(hex, fp, 32);
		return cl_error_set(err, CL_EINTEGRITY,
				    "the keystore already holds a sealed key for %s, which the ledger does not know", hex);
	}
	if (rc != 0)
		return cl_store_put_error(err, rc);
	return CL_OK;
}
