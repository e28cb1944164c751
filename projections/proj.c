/* proj.c - opening the projection databases and dispatching each event to its read models. */
#include "projections/proj.h"

#include <string.h>

#include "ledger/authority.h"
#include "projections/accounts.h"
#include "projections/certs.h"
#include "projections/history.h"
#include "projections/links.h"
#include "projections/primary_timeline.h"

const char *const cl_proj__db_names[] = {
	"p_settings", "p_accounts", "p_certs", "p_cert_emails", "p_expiry",
	"p_hist_account", "p_hist_cert", "p_hist_actor", "p_primary", NULL,
};

cl_err cl_proj__put(MDB_txn *txn, MDB_dbi dbi, cl_bytes key, cl_bytes val, cl_error *err)
{
	MDB_val k = {key.len, (void *)key.ptr}, v = {val.len, (void *)val.ptr};
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	return rc == 0 ? CL_OK : cl_store_put_error(err, rc);
}

cl_err cl_proj__index_put(MDB_txn *txn, const cl_proj_dbs *d, MDB_dbi dbi, cl_bytes key, cl_bytes val,
			  cl_error *err)
{
	if (d->defer != NULL)
		return cl_proj__defer_add(d->defer, dbi, key, val, err);
	return cl_proj__put(txn, dbi, key, val, err);
}

cl_err cl_proj__del(MDB_txn *txn, MDB_dbi dbi, cl_bytes key, cl_error *err)
{
	MDB_val k = {key.len, (void *)key.ptr};
	int rc = mdb_del(txn, dbi, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? CL_OK : cl_store_put_error(err, rc);
}

cl_err cl_proj__dbs(cl_store *s, MDB_txn *txn, bool create, cl_proj_dbs *out, bool *present, cl_error *err)
{
	MDB_dbi *slots[] = {
		&out->settings, &out->accounts, &out->certs, &out->cert_emails, &out->expiry,
		&out->hist_account, &out->hist_cert, &out->hist_actor, &out->primary,
	};
	(void)s;
	out->defer = NULL;
	if (present)
		*present = true;
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		int rc = mdb_dbi_open(txn, cl_proj__db_names[i], create ? MDB_CREATE : 0, slots[i]);
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

cl_err cl_proj__dbi(MDB_txn *txn, const char *name, MDB_dbi *out, bool *present, cl_error *err)
{
	int rc = mdb_dbi_open(txn, name, 0, out);
	*present = rc == 0;
	if (rc == 0 || rc == MDB_NOTFOUND)
		return CL_OK;
	return cl_store_mdb_error(err, rc, "open projection database");
}

cl_err cl_proj__check_ready(MDB_txn *txn, MDB_dbi settings, bool present, cl_error *err)
{
	if (!present)
		return CL_OK;
	MDB_val k = {7, "rebuild"}, v;
	int rc = mdb_get(txn, settings, &k, &v);
	if (rc == MDB_NOTFOUND)
		return CL_OK;
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "get");
	return cl_error_set(err, CL_EREFUSED,
			    "the read models are incomplete (a rebuild is running or was interrupted); "
			    "run `certledger rebuild`");
}

cl_err cl_proj__org_domains(cl_store *s, MDB_txn *txn, cl_bytes *array, cl_error *err)
{
	MDB_dbi settings;
	bool present;
	(void)s;
	cl_err rc = cl_proj__dbi(txn, "p_settings", &settings, &present, err);
	if (rc != CL_OK)
		return rc;
	static const uint8_t empty[] = {0x90};
	*array = CL_BYTES(empty, 1);
	if (!present)
		return CL_OK;
	MDB_val k = {11, "org_domains"}, v;
	if (mdb_get(txn, settings, &k, &v) == 0)
		*array = CL_BYTES(v.mv_data, v.mv_size);
	return CL_OK;
}

cl_err cl_proj__apply_dbs(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	cl_err rc = cl_proj__history_index(txn, d, ev, err);
	if (rc != CL_OK)
		return rc;
	if (cl_event_is(ev, "ledger.created")) {
		cl_bytes origin, domains;
		const uint8_t *pub;
		rc = cl_ledger_created_decode(ev->data, &origin, &pub, &domains, err);
		if (rc == CL_OK)
			rc = cl_proj__put(txn, d->settings, CL_BYTES("org_domains", 11), domains, err);
		return rc;
	}
	if (cl_event_is(ev, "account.created"))
		return cl_proj__account_created(txn, d, ev, err);
	if (cl_event_is(ev, "cert.uploaded"))
		return cl_proj__cert_uploaded(txn, d, ev, err);
	if (cl_event_is(ev, "cert.renamed"))
		return cl_proj__cert_renamed(txn, d, ev, err);
	if (cl_event_is(ev, "cert.linked") || cl_event_is(ev, "cert.unlinked"))
		return cl_proj__link_apply(txn, d, ev, err);
	if (cl_event_is(ev, "primary.set") || cl_event_is(ev, "primary.cleared"))
		return cl_proj__primary_apply(txn, d, ev, err);
	return CL_OK;
}

cl_err cl_proj__apply_txn(cl_store *s, MDB_txn *txn, const cl_event *ev, cl_error *err)
{
	cl_proj_dbs d;
	cl_err rc = cl_proj__dbs(s, txn, true, &d, NULL, err);
	if (rc != CL_OK)
		return rc;
	return cl_proj__apply_dbs(txn, &d, ev, err);
}

cl_err cl_proj__apply(cl_wtxn *t, const cl_event *ev, void *ctx, cl_error *err)
{
	(void)ctx;
	cl_proj_dbs d;
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_err rc = cl_proj__dbs(cl_wtxn__ledger(t)->store, txn, true, &d, NULL, err);
	if (rc == CL_OK)
		rc = cl_proj__check_ready(txn, d.settings, true, err);
	if (rc == CL_OK)
		rc = cl_proj__apply_dbs(txn, &d, ev, err);
	return rc;
}
