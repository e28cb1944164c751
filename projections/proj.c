/* proj.c - opening the projection databases and dispatching each event to its read models. */
#include "projections/proj.h"

#include <string.h>

#include "ledger/authority.h"
#include "projections/accounts.h"

cl_err cl_proj__put(MDB_txn *txn, MDB_dbi dbi, cl_bytes key, cl_bytes val, cl_error *err)
{
	MDB_val k = {key.len, (void *)key.ptr}, v = {val.len, (void *)val.ptr};
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	return rc == 0 ? CL_OK : cl_store_put_error(err, rc);
}

cl_err cl_proj__dbs(cl_store *s, MDB_txn *txn, bool create, cl_proj_dbs *out, bool *present, cl_error *err)
{
	struct { const char *name; MDB_dbi *dbi; } dbs[] = {
		{"p_settings", &out->settings},
		{"p_accounts", &out->accounts},
	};
	(void)s;
	if (present)
		*present = true;
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		int rc = mdb_dbi_open(txn, dbs[i].name, create ? MDB_CREATE : 0, dbs[i].dbi);
		if (rc == MDB_NOTFOUND && !create) {
			if (present)
				*present = false;
			return CL_OK;
		}
		if (rc != 0)
			return cl_store_mdb_error(err, rc, "open projection database");
	}
	return CL_OK;
}

cl_err cl_proj__org_domains(cl_store *s, MDB_txn *txn, cl_bytes *array, cl_error *err)
{
	cl_proj_dbs d;
	bool present;
	cl_err rc = cl_proj__dbs(s, txn, false, &d, &present, err);
	if (rc != CL_OK)
		return rc;
	static const uint8_t empty[] = {0x90};
	*array = CL_BYTES(empty, 1);
	if (!present)
		return CL_OK;
	MDB_val k = {11, "org_domains"}, v;
	if (mdb_get(txn, d.settings, &k, &v) == 0)
		*array = CL_BYTES(v.mv_data, v.mv_size);
	return CL_OK;
}

cl_err cl_proj__apply_txn(cl_store *s, MDB_txn *txn, const cl_event *ev, cl_error *err)
{
	cl_proj_dbs d;
	cl_err rc = cl_proj__dbs(s, txn, true, &d, NULL, err);
	if (rc != CL_OK)
		return rc;
	if (cl_event_is(ev, "ledger.created")) {
		cl_bytes origin, domains;
		const uint8_t *pub;
		rc = cl_ledger_created_decode(ev->data, &origin, &pub, &domains, err);
		if (rc == CL_OK)
			rc = cl_proj__put(txn, d.settings, CL_BYTES("org_domains", 11), domains, err);
		return rc;
	}
	if (cl_event_is(ev, "account.created"))
		return cl_proj__account_created(txn, &d, ev, err);
	return CL_OK;
}

cl_err cl_proj__apply(cl_wtxn *t, const cl_event *ev, void *ctx, cl_error *err)
{
	(void)ctx;
	return cl_proj__apply_txn(cl_wtxn__ledger(t)->store, cl_wtxn__txn(t), ev, err);
}
