/* accounts.c - the accounts read model (see accounts.h). Record layout (msgpack map, this key
 * order): email, kind, name, created_at, created_seq, certs [bin32...], primary (bin32 | nil). */
#include "projections/accounts.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"

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

cl_err cl_proj__account_created(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n;
	cl_account_rec a;
	memset(&a, 0, sizeof(a));
	cl_mp_reader_init(&r, ev->data);
	if (!cl_mp_read_map(&r, &n) || n != 3 || !cl_mp_expect_key(&r, "email") ||
	    !copy_str(&r, a.email, sizeof(a.email)) || !cl_mp_expect_key(&r, "kind") ||
	    !copy_str(&r, a.kind, sizeof(a.kind)) || !cl_mp_expect_key(&r, "name") ||
	    !copy_str(&r, a.name, sizeof(a.name)) || cl_mp_left(&r) != 0)
		return cl_error_set(err, CL_EBADINPUT, "seq %llu: malformed account.created data",
				    (unsigned long long)ev->seq);
	a.created_at = ev->ts;
	a.created_seq = ev->seq;
	return cl_proj__account_put(txn, d, &a, err);
}
