/* cert_queries.c - the public read API of certificates (certledger/certs.h, read side): show by
 * fingerprint, list in fingerprint order, and list by expiry through the expiry index. */
#include <stdlib.h>
#include <string.h>

#include "certledger/certs.h"
#include "ledger/handle.h"
#include "projections/certs.h"

typedef struct info_priv {
	cl_cert_uploaded up;
	cl_cert_rec rec;
} info_priv;

void cl_cert_info_free(cl_cert_info *c)
{
	if (c == NULL)
		return;
	info_priv *p = c->priv_;
	if (p != NULL) {
		cl_cert_uploaded_free(&p->up);
		cl_cert_rec_free(&p->rec);
		free(p);
	}
	memset(c, 0, sizeof(*c));
}

/* Builds the public view from a record and its cert.uploaded event (read from the log in txn).
 * rec is moved. */
static cl_err make_info(cl_store *s, MDB_txn *txn, cl_cert_info *out, cl_cert_rec *rec, cl_error *err)
{
	memset(out, 0, sizeof(*out));
	info_priv *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		cl_cert_rec_free(rec);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	p->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	out->priv_ = p;
	cl_err rc = cl_proj__cert_metadata(s, txn, &p->rec, &p->up, err);
	if (rc != CL_OK) {
		cl_cert_info_free(out);
		return rc;
	}
	const cl_cert_uploaded *u = &p->up;
	memcpy(out->fingerprint, p->rec.fingerprint, 32);
	out->name = p->rec.name;
	out->kind = u->kind;
	out->has_private_key = u->has_private_key;
	out->subject = u->subject;
	out->issuer = u->issuer;
	out->serial = u->serial;
	out->not_before = u->not_before;
	out->not_after = u->not_after;
	out->emails = (const char *const *)u->emails;
	out->nemails = u->nemails;
	out->key_usage = (const char *const *)u->key_usage;
	out->nkey_usage = u->nkey_usage;
	out->ext_key_usage = (const char *const *)u->ext_key_usage;
	out->next_key_usage = u->next_key_usage;
	out->key_type = u->key_type;
	out->key_bits = u->key_bits;
	out->sig_hash = u->sig_hash;
	out->smime_ok = u->smime_ok;
	out->smime_reasons = (const char *const *)u->smime_reasons;
	out->nsmime_reasons = u->nsmime_reasons;
	out->seq = p->rec.uploaded_seq;
	out->uploaded_at = p->rec.uploaded_at;
	out->accounts = (const char *const *)p->rec.accounts;
	out->naccounts = p->rec.naccounts;
	return CL_OK;
}

static cl_err begin(cl_ledger *l, MDB_txn **txn, cl_proj_dbs *d, bool *present)
{
	cl_err rc = cl_store_read_begin(l->store, txn, &l->err);
	if (rc != CL_OK)
		return rc;
	rc = cl_proj__dbs(l->store, *txn, false, d, present, &l->err);
	if (rc == CL_OK)
		rc = cl_proj__check_ready(*txn, d->settings, *present, &l->err);
	if (rc != CL_OK)
		mdb_txn_abort(*txn);
	return rc;
}

cl_err cl_proj_cert_resolve(cl_ledger *l, const char *fingerprint, uint8_t out[32])
{
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	if (fingerprint == NULL)
		return cl_error_set(&l->err, CL_EUSAGE, "no fingerprint given");
	cl_err rc = begin(l, &txn, &d, &present);
	if (rc != CL_OK)
		return rc;
	rc = present ? cl_proj__cert_resolve(txn, &d, fingerprint, out, &l->err)
		     : cl_error_set(&l->err, CL_ENOTFOUND, "no certificate %.80s", fingerprint);
	mdb_txn_abort(txn);
	return rc;
}

cl_err cl_proj_cert_get(cl_ledger *l, const char *fingerprint, cl_cert_info *out)
{
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	uint8_t fp[32];
	cl_cert_rec rec;
	memset(out, 0, sizeof(*out));
	if (fingerprint == NULL)
		return cl_error_set(&l->err, CL_EUSAGE, "no fingerprint given");
	cl_err rc = begin(l, &txn, &d, &present);
	if (rc != CL_OK)
		return rc;
	if (!present)
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no certificate %.80s", fingerprint);
	if (rc == CL_OK)
		rc = cl_proj__cert_resolve(txn, &d, fingerprint, fp, &l->err);
	if (rc == CL_OK)
		rc = cl_proj__cert_get_rec(txn, &d, fp, &rec, &l->err);
	if (rc == CL_OK)
		rc = make_info(l->store, txn, out, &rec, &l->err);
	mdb_txn_abort(txn);
	return rc;
}

static cl_err emit(cl_ledger *l, MDB_txn *txn, cl_bytes key, cl_bytes val, cl_cert_cb cb, void *ctx, int *stop)
{
	cl_cert_rec rec;
	cl_cert_info info;
	cl_err rc = cl_proj__cert_decode(key, val, &rec, &l->err);
	if (rc == CL_OK)
		rc = make_info(l->store, txn, &info, &rec, &l->err);
	if (rc != CL_OK)
		return rc;
	*stop = cb(&info, ctx);
	cl_cert_info_free(&info);
	return CL_OK;
}

cl_err cl_proj_cert_each(cl_ledger *l, cl_cert_cb cb, void *ctx)
{
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	MDB_cursor *cur = NULL;
	cl_err rc = begin(l, &txn, &d, &present);
	if (rc != CL_OK)
		return rc;
	if (!present)
		goto out;
	int mrc = mdb_cursor_open(txn, d.certs, &cur), stop = 0;
	if (mrc != 0) {
		rc = cl_store_mdb_error(&l->err, mrc, "cursor");
		goto out;
	}
	MDB_val k, v;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && !stop;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = emit(l, txn, CL_BYTES(k.mv_data, k.mv_size), CL_BYTES(v.mv_data, v.mv_size), cb, ctx, &stop)) != CL_OK)
			goto out;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = cl_store_mdb_error(&l->err, mrc, "cursor");
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

cl_err cl_proj_cert_expiring(cl_ledger *l, int64_t within, cl_cert_cb cb, void *ctx)
{
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	MDB_cursor *cur = NULL;
	int64_t now = cl_ledger__now(l);
	int64_t until = within > INT64_MAX - now ? INT64_MAX : now + within;
	cl_err rc = begin(l, &txn, &d, &present);
	if (rc != CL_OK)
		return rc;
	if (!present)
		goto out;
	int mrc = mdb_cursor_open(txn, d.expiry, &cur), stop = 0;
	if (mrc != 0) {
		rc = cl_store_mdb_error(&l->err, mrc, "cursor");
		goto out;
	}
	uint8_t seek[8];
	cl_proj__ts_key(seek, now);
	MDB_val k = {8, seek}, v;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && !stop;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 + 32)
			break;
		if (cl_proj__ts_from_key(k.mv_data) >= until)
			break;
		const uint8_t *fp = (const uint8_t *)k.mv_data + 8;
		MDB_val ck = {32, (void *)fp}, cv;
		if ((mrc = mdb_get(txn, d.certs, &ck, &cv)) != 0) {
			rc = mrc == MDB_NOTFOUND ? cl_error_set(&l->err, CL_EINTEGRITY,
								"expiry index names an unknown certificate (run `certledger rebuild`)")
						 : cl_store_mdb_error(&l->err, mrc, "get");
			goto out;
		}
		if ((rc = emit(l, txn, CL_BYTES(fp, 32), CL_BYTES(cv.mv_data, cv.mv_size), cb, ctx, &stop)) != CL_OK)
			goto out;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = cl_store_mdb_error(&l->err, mrc, "cursor");
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}
