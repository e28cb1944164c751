/* accounts.c - the accounts read model (see accounts.h). Record layout (msgpack map, this key
 * order): email, kind, name, created_at, created_seq, certs [bin32...], primary (bin32 | nil). */
#include "projections/accounts.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"
#include "projections/events.h"

void cl_account_rec_free(cl_account_rec *a)
{
	free(a->certs);
	a->certs = NULL;
	a->ncerts = 0;
}

static bool copy_str(cl_mp_reader *r, char *out, size_t cap)
{
	cl_bytes s;
	if (!cl_mp_read_str(r, &s))
		return false;
	if (s.len >= cap)
		return cl_mp_fail(r, "string too long");
	memcpy(out, s.ptr, s.len);
	out[s.len] = '\0';
	return true;
}

cl_err cl_proj__account_decode(cl_bytes val, cl_account_rec *a, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n, m;
	memset(a, 0, sizeof(*a));
	cl_mp_reader_init(&r, val);
	if (!cl_mp_read_map(&r, &n) || n != 7 || !cl_mp_expect_key(&r, "email") ||
	    !copy_str(&r, a->email, sizeof(a->email)) || !cl_mp_expect_key(&r, "kind") ||
	    !copy_str(&r, a->kind, sizeof(a->kind)) || !cl_mp_expect_key(&r, "name") ||
	    !copy_str(&r, a->name, sizeof(a->name)) || !cl_mp_expect_key(&r, "created_at") ||
	    !cl_mp_read_int(&r, &a->created_at) || !cl_mp_expect_key(&r, "created_seq") ||
	    !cl_mp_read_uint(&r, &a->created_seq) || !cl_mp_expect_key(&r, "certs") || !cl_mp_read_array(&r, &m))
		goto bad;
	a->certs = calloc(m ? m : 1, CL_FP_LEN);
	if (a->certs == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < m; i++) {
		cl_bytes fp;
		if (!cl_mp_read_bin_n(&r, CL_FP_LEN, &fp))
			goto bad;
		memcpy(a->certs[i], fp.ptr, CL_FP_LEN);
		a->ncerts++;
	}
	if (!cl_mp_expect_key(&r, "primary"))
		goto bad;
	if (cl_mp_peek(&r) == CL_MP_NIL) {
		cl_mp_read_nil(&r);
	} else {
		cl_bytes fp;
		if (!cl_mp_read_bin_n(&r, CL_FP_LEN, &fp))
			goto bad;
		memcpy(a->primary, fp.ptr, CL_FP_LEN);
		a->has_primary = true;
	}
	if (cl_mp_left(&r) == 0)
		return CL_OK;
bad:
	cl_account_rec_free(a);
	return cl_error_set(err, CL_EINTEGRITY, "account record is damaged (run `certledger rebuild`)");
}

cl_err cl_proj__account_get(MDB_txn *txn, const cl_proj_dbs *d, const char *email, cl_account_rec *out,
			    cl_error *err)
{
	MDB_val k = {strlen(email), (void *)email}, v;
	int rc = mdb_get(txn, d->accounts, &k, &v);
	if (rc == MDB_NOTFOUND)
		return cl_error_set(err, CL_ENOTFOUND, "no account %s", email);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "get");
	return cl_proj__account_decode(CL_BYTES(v.mv_data, v.mv_size), out, err);
}

cl_err cl_proj__account_put(MDB_txn *txn, const cl_proj_dbs *d, const cl_account_rec *a, cl_error *err)
{
	cl_buf b = CL_BUF_INIT(1 << 20);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &b);
	cl_mp_map(&w, 7);
	cl_mp_str(&w, "email");
	cl_mp_str(&w, a->email);
	cl_mp_str(&w, "kind");
	cl_mp_str(&w, a->kind);
	cl_mp_str(&w, "name");
	cl_mp_str(&w, a->name);
	cl_mp_str(&w, "created_at");
	cl_mp_int(&w, a->created_at);
	cl_mp_str(&w, "created_seq");
	cl_mp_uint(&w, a->created_seq);
	cl_mp_str(&w, "certs");
	cl_mp_array(&w, (uint32_t)a->ncerts);
	for (size_t i = 0; i < a->ncerts; i++)
		cl_mp_bin(&w, a->certs[i], CL_FP_LEN);
	cl_mp_str(&w, "primary");
	if (a->has_primary)
		cl_mp_bin(&w, a->primary, CL_FP_LEN);
	else
		cl_mp_nil(&w);
	cl_err rc = w.rc;
	if (rc == CL_OK)
		rc = cl_proj__put(txn, d->accounts, CL_BYTES(a->email, strlen(a->email)), cl_buf_view(&b), err);
	else
		cl_error_set(err, rc, "account record too large");
	cl_buf_free(&b);
	return rc;
}

cl_err cl_account_created_encode(cl_buf *out, const char *email, const char *kind, const char *name)
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 3);
	cl_mp_str(&w, "email");
	cl_mp_str(&w, email);
	cl_mp_str(&w, "kind");
	cl_mp_str(&w, kind);
	cl_mp_str(&w, "name");
	cl_mp_str(&w, name);
	return w.rc;
}

static cl_err decode_created(const cl_event *ev, cl_account_rec *a, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n;
	cl_mp_reader_init(&r, ev->data);
	if (!cl_mp_read_map(&r, &n) || n != 3 || !cl_mp_expect_key(&r, "email") ||
	    !copy_str(&r, a->email, sizeof(a->email)) || !cl_mp_expect_key(&r, "kind") ||
	    !copy_str(&r, a->kind, sizeof(a->kind)) || !cl_mp_expect_key(&r, "name") ||
	    !copy_str(&r, a->name, sizeof(a->name)) || cl_mp_left(&r) != 0)
		return cl_error_set(err, CL_EBADINPUT, "seq %llu: malformed account.created data",
				    (unsigned long long)ev->seq);
	a->created_at = ev->ts;
	a->created_seq = ev->seq;
	return CL_OK;
}

long cl_account__find_cert(const cl_account_rec *a, const uint8_t fp[CL_FP_LEN])
{
	for (size_t i = 0; i < a->ncerts; i++)
		if (memcmp(a->certs[i], fp, CL_FP_LEN) == 0)
			return (long)i;
	return -1;
}

cl_err cl_account__apply(cl_account_rec *a, const cl_event *ev, cl_error *err)
{
	cl_link_data ld;
	cl_primary_set_data ps;
	cl_err rc;
	if (cl_event_is(ev, "account.created"))
		return decode_created(ev, a, err);
	if (cl_event_is(ev, "cert.linked")) {
		if ((rc = cl_cert_linked_decode(ev->data, &ld, err)) != CL_OK)
			return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
		if (cl_account__find_cert(a, ld.fingerprint) >= 0)
			return CL_OK;
		uint8_t (*v)[CL_FP_LEN] = realloc(a->certs, (a->ncerts + 1) * CL_FP_LEN);
		if (v == NULL)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		a->certs = v;
		memcpy(a->certs[a->ncerts++], ld.fingerprint, CL_FP_LEN);
		return CL_OK;
	}
	if (cl_event_is(ev, "cert.unlinked")) {
		if ((rc = cl_cert_unlinked_decode(ev->data, &ld, err)) != CL_OK)
			return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
		long i = cl_account__find_cert(a, ld.fingerprint);
		if (i >= 0) {
			memmove(a->certs[i], a->certs[i + 1], (a->ncerts - (size_t)i - 1) * CL_FP_LEN);
			a->ncerts--;
		}
		return CL_OK;
	}
	if (cl_event_is(ev, "primary.set")) {
		if ((rc = cl_primary_set_decode(ev->data, &ps, err)) != CL_OK)
			return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
		a->has_primary = true;
		memcpy(a->primary, ps.fingerprint, CL_FP_LEN);
		return CL_OK;
	}
	if (cl_event_is(ev, "primary.cleared")) {
		if ((rc = cl_primary_cleared_decode(ev->data, &ld, err)) != CL_OK)
			return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
		a->has_primary = false;
		memset(a->primary, 0, CL_FP_LEN);
		return CL_OK;
	}
	return CL_OK;
}

cl_err cl_proj__account_created(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	cl_account_rec a;
	memset(&a, 0, sizeof(a));
	cl_err rc = cl_account__apply(&a, ev, err);
	if (rc != CL_OK)
		return rc;
	MDB_val k = {strlen(a.email), a.email}, v;
	int mrc = mdb_get(txn, d->accounts, &k, &v);
	if (mrc == 0)
		return cl_error_set(err, CL_EEXISTS, "seq %llu creates account %s, which exists already",
				    (unsigned long long)ev->seq, a.email);
	if (mrc != MDB_NOTFOUND)
		return cl_store_mdb_error(err, mrc, "get");
	return cl_proj__account_put(txn, d, &a, err);
}

cl_err cl_proj__account_event(MDB_txn *txn, const cl_proj_dbs *d, cl_bytes email, const cl_event *ev,
			      cl_error *err)
{
	char e[CL_EMAIL_MAX + 1];
	cl_account_rec a;
	if (email.len == 0 || email.len > CL_EMAIL_MAX)
		return cl_error_set(err, CL_EBADINPUT, "seq %llu: bad email", (unsigned long long)ev->seq);
	memcpy(e, email.ptr, email.len);
	e[email.len] = '\0';
	cl_err rc = cl_proj__account_get(txn, d, e, &a, err);
	if (rc == CL_ENOTFOUND)
		return cl_error_set(err, CL_EINTEGRITY, "seq %llu names account %s, which was never created",
				    (unsigned long long)ev->seq, e);
	if (rc != CL_OK)
		return rc;
	rc = cl_account__apply(&a, ev, err);
	if (rc == CL_OK)
		rc = cl_proj__account_put(txn, d, &a, err);
	cl_account_rec_free(&a);
	return rc;
}
