/* history.c - the per-account, per-certificate and per-actor history indexes (see history.h).
 * Keys: email \0 seq / fingerprint seq / actor \0 seq, seq big-endian, values empty, so that one
 * cursor walks a subject's events in log order. */
#include "projections/history.h"

#include <string.h>

#include "ledger/mp_reader.h"
#include "projections/email.h"

#define KEY_MAX 512

static cl_err put_key(MDB_txn *txn, const cl_proj_dbs *d, MDB_dbi db, const void *subject, size_t n, bool sep,
		      uint64_t seq, cl_error *err)
{
	uint8_t k[KEY_MAX];
	if (n == 0 || n + 9 > 511 || memchr(subject, 0, n) != NULL)
		return CL_OK; /* not an indexable name (LMDB keys are at most 511 bytes) */
	memcpy(k, subject, n);
	size_t at = n;
	if (sep)
		k[at++] = 0;
	cl_be64_put(k + at, seq);
	return cl_proj__index_put(txn, d, db, CL_BYTES(k, at + 8), CL_BYTES("", 0), err);
}

cl_err cl_proj__history_index(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	cl_err rc = put_key(txn, d, d->hist_actor, ev->actor.ptr, ev->actor.len, true, ev->seq, err);
	if (rc != CL_OK)
		return rc;
	cl_mp_reader r;
	uint32_t n;
	bool have_email = false, have_fp = false;
	cl_mp_reader_init(&r, ev->data);
	if (!cl_mp_read_map(&r, &n))
		return CL_OK; /* the envelope decoder already refused a data that is not a map */
	for (uint32_t i = 0; i < n && rc == CL_OK; i++) {
		cl_bytes k, v;
		if (!cl_mp_read_str(&r, &k))
			break;
		if (!have_email && k.len == 5 && memcmp(k.ptr, "email", 5) == 0 && cl_mp_peek(&r) == CL_MP_STR) {
			if (!cl_mp_read_str(&r, &v))
				break;
			have_email = true;
			if (v.len <= CL_EMAIL_MAX)
				rc = put_key(txn, d, d->hist_account, v.ptr, v.len, true, ev->seq, err);
		} else if (!have_fp && k.len == 11 && memcmp(k.ptr, "fingerprint", 11) == 0 &&
			   cl_mp_peek(&r) == CL_MP_BIN) {
			if (!cl_mp_read_bin(&r, &v))
				break;
			have_fp = true;
			if (v.len == 32) {
				uint8_t key[40];
				memcpy(key, v.ptr, 32);
				cl_be64_put(key + 32, ev->seq);
				rc = cl_proj__index_put(txn, d, d->hist_cert, CL_BYTES(key, 40), CL_BYTES("", 0), err);
			}
		} else if (!cl_mp_skip(&r)) {
			break;
		}
	}
	return rc;
}

cl_err cl_proj__history_walk(MDB_txn *txn, MDB_dbi db, cl_bytes prefix, cl_proj__seq_fn fn, void *ctx,
			     uint64_t *count, cl_error *err)
{
	MDB_cursor *cur;
	uint64_t visited = 0;
	int rc = mdb_cursor_open(txn, db, &cur);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "cursor");
	MDB_val k = {prefix.len, (void *)prefix.ptr}, v;
	cl_err ret = CL_OK;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != prefix.len + 8 || memcmp(k.mv_data, prefix.ptr, prefix.len) != 0)
			break;
		visited++;
		int r = fn(cl_be64_get((const uint8_t *)k.mv_data + prefix.len), ctx);
		if (r < 0) {
			ret = r;
			break;
		}
		if (r > 0)
			break;
	}
	if (ret == CL_OK && rc != 0 && rc != MDB_NOTFOUND)
		ret = cl_store_mdb_error(err, rc, "cursor");
	mdb_cursor_close(cur);
	if (count)
		*count = visited;
	return ret;
}
