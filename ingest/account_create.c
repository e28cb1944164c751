/* account_create.c - `account create`: validate the address, decide internal or external from
 * the org domains, refuse a duplicate, and append account.created. */
#include "ingest/account_create.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ledger/append.h"
#include "ledger/mp_reader.h"
#include "projections/accounts.h"

typedef struct create_ctx {
	char email[CL_EMAIL_MAX + 1];
	cl_account_kind kind;
	const char *name;
	cl_account_created *out;
} create_ctx;

static bool is_org_domain(cl_bytes array, const char *domain)
{
	cl_mp_reader r;
	uint32_t n;
	cl_mp_reader_init(&r, array);
	if (!cl_mp_read_array(&r, &n))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		cl_bytes d;
		if (!cl_mp_read_str(&r, &d))
			return false;
		if (d.len == strlen(domain) && strncasecmp((const char *)d.ptr, domain, d.len) == 0)
			return true;
	}
	return false;
}

static cl_err create_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	create_ctx *c = arg;
	cl_ledger *l = cl_wtxn__ledger(t);
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_proj_dbs d;
	cl_account_rec existing;
	cl_bytes domains;
	cl_err rc = cl_proj__dbs(l->store, txn, true, &d, NULL, err);
	if (rc != CL_OK)
		return rc;
	rc = cl_proj__account_get(txn, &d, c->email, &existing, err);
	if (rc == CL_OK) {
		cl_account_rec_free(&existing);
		return cl_error_set(err, CL_EEXISTS, "account %s exists already (created at seq %llu)", c->email,
				    (unsigned long long)existing.created_seq);
	}
	if (rc != CL_ENOTFOUND)
		return rc;
	if ((rc = cl_proj__org_domains(l->store, txn, &domains, err)) != CL_OK)
		return rc;
	const char *kind = c->kind == CL_KIND_INTERNAL ? "internal"
			 : c->kind == CL_KIND_EXTERNAL ? "external"
			 : is_org_domain(domains, cl_email_domain(c->email)) ? "internal" : "external";
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_actor who = cl_wtxn__actor(t);
	cl_appended ap;
	rc = cl_account_created_encode(&data, c->email, kind, c->name);
	if (rc == CL_OK)
		rc = cl_wtxn_append(t, &who, "account.created", cl_buf_view(&data), &ap, err);
	else
		cl_error_set(err, rc, "account data too large");
	cl_buf_free(&data);
	if (rc == CL_OK && c->out != NULL) {
		c->out->seq = ap.seq;
		c->out->created_at = ap.ts;
		snprintf(c->out->email, sizeof(c->out->email), "%s", c->email);
		snprintf(c->out->kind, sizeof(c->out->kind), "%s", kind);
		snprintf(c->out->name, sizeof(c->out->name), "%s", c->name);
	}
	return rc;
}

static cl_err prepare(create_ctx *c, const char *email, cl_account_kind kind, const char *name,
		      cl_account_created *out, cl_error *err)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->name = name ? name : "";
	c->out = out;
	if (email == NULL)
		return cl_error_set(err, CL_EBADINPUT, "no email address given");
	cl_err rc = cl_email_canonical(c->email, email, strlen(email), err);
	if (rc != CL_OK)
		return rc;
	if (strlen(c->name) > CL_NAME_MAX)
		return cl_error_set(err, CL_EBADINPUT, "account name is longer than %d bytes", CL_NAME_MAX);
	return CL_OK;
}

cl_err cl_ingest__account_create(cl_wtxn *t, const char *email, cl_account_kind kind, const char *name,
				 cl_account_created *out, cl_error *err)
{
	create_ctx c;
	cl_err rc = prepare(&c, email, kind, name, out, err);
	return rc == CL_OK ? create_cb(t, &c, err) : rc;
}

cl_err cl_account_create(cl_ledger *l, const char *email, cl_account_kind kind, const char *name,
			 cl_account_created *out)
{
	create_ctx c;
	cl_err rc = prepare(&c, email, kind, name, out, &l->err);
	if (rc != CL_OK)
		return rc;
	return cl_ledger__write(l, create_cb, &c, &l->err);
}
