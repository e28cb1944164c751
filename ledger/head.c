/* head.c - reading and writing the log head record in meta (seq u64 BE, id 32, ts i64 BE). */
#include "ledger/head.h"

#include <string.h>

cl_err cl_head_get(cl_store *s, MDB_txn *txn, cl_head *out, cl_error *err)
{
	cl_bytes v;
	memset(out, 0, sizeof(*out));
	cl_err rc = cl_meta_get(s, txn, "head", &v);
	if (rc == CL_ENOTFOUND)
		return CL_OK;
	if (rc != CL_OK)
		return cl_error_set(err, rc, "cannot read the log head");
	if (v.len != 48)
		return cl_error_set(err, CL_EINTEGRITY, "the log head record is damaged");
	out->seq = cl_be64_get(v.ptr);
	memcpy(out->id, v.ptr + 8, CL_HASH_LEN);
	out->ts = (int64_t)cl_be64_get(v.ptr + 40);
	return CL_OK;
}

cl_err cl_head_put(cl_store *s, MDB_txn *txn, const cl_head *h, cl_error *err)
{
	uint8_t v[48];
	cl_be64_put(v, h->seq);
	memcpy(v + 8, h->id, CL_HASH_LEN);
	cl_be64_put(v + 40, (uint64_t)h->ts);
	return cl_meta_put(s, txn, "head", CL_BYTES(v, sizeof(v)), err);
}
