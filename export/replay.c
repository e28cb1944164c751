/* replay.c - `replay --until`: every account as it stood at an instant, computed from the log
 * alone by a small state machine of its own over account.created, cert.linked, cert.unlinked,
 * primary.set and primary.cleared. It deliberately shares nothing with the p_* projections
 * (not their code, not their records), so that comparing the two is a real check of either.
 *
 * The machine is strict: an event that does not fit the state it finds (an account created
 * twice, a link to an unknown account or of a certificate already linked, an unlink of a
 * certificate that is not linked, a primary that is not linked, a clear of a primary that is
 * not the current one) is CL_EINTEGRITY naming the seq, never silently absorbed. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "certledger/export.h"
#include "export/account_events.h"
#include "export/event_range.h"
#include "export/strmap.h"

typedef struct acct {
	const char *email; /* the map's key */
	char *kind;
	char *name;
	uint8_t (*certs)[32];
	size_t n, cap;
	bool has_primary;
	uint8_t primary[32];
} acct;

typedef struct replay_ctx {
	cl_strmap accounts; /* email -> acct * */
} replay_ctx;

static void acct_free(acct *a)
{
	if (a == NULL)
		return;
	free(a->kind);
	free(a->name);
	free(a->certs);
	free(a);
}

static ssize_t find_cert(const acct *a, const uint8_t fp[32])
{
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->certs[i], fp, 32) == 0)
			return (ssize_t)i;
	return -1;
}

static cl_err bad(cl_error *err, const cl_event *ev, const cl_account_event *a, const char *what)
{
	return cl_error_set(err, CL_EINTEGRITY, "seq %llu: %.*s: %s %.*s", (unsigned long long)ev->seq,
			    (int)ev->type.len, ev->type.ptr, what, (int)a->email.len, a->email.ptr);
}

static cl_err create(replay_ctx *r, const cl_event *ev, const cl_account_event *a, cl_error *err)
{
	if (cl_strmap_get(&r->accounts, (const char *)a->email.ptr, a->email.len) != NULL)
		return bad(err, ev, a, "there is already an account");
	acct *n = calloc(1, sizeof(*n));
	if (n == NULL || (n->kind = strndup((const char *)a->account_kind.ptr, a->account_kind.len)) == NULL ||
	    (n->name = strndup((const char *)a->name.ptr, a->name.len)) == NULL ||
	    cl_strmap_put(&r->accounts, (const char *)a->email.ptr, a->email.len, n, &n->email) != CL_OK) {
		acct_free(n);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	return CL_OK;
}

static cl_err step(void *arg, const cl_event *ev, cl_error *err)
{
	replay_ctx *r = arg;
	cl_account_event a;
	cl_err rc = cl_export__account_event(ev, &a, err);
	if (rc != CL_OK || a.kind == CL_AEV_OTHER)
		return rc;
	if (a.kind == CL_AEV_CREATED)
		return create(r, ev, &a, err);
	acct *ac = cl_strmap_get(&r->accounts, (const char *)a.email.ptr, a.email.len);
	if (ac == NULL)
		return bad(err, ev, &a, "no account");
	ssize_t at = find_cert(ac, a.fingerprint);
	switch (a.kind) {
	case CL_AEV_LINKED:
		if (at >= 0)
			return bad(err, ev, &a, "the certificate is already linked to");
		if (ac->n == ac->cap) {
			size_t cap = ac->cap ? ac->cap * 2 : 4;
			uint8_t(*v)[32] = realloc(ac->certs, cap * 32);
			if (v == NULL)
				return cl_error_set(err, CL_ENOMEM, "out of memory");
			ac->certs = v;
			ac->cap = cap;
		}
		memcpy(ac->certs[ac->n++], a.fingerprint, 32);
		return CL_OK;
	case CL_AEV_UNLINKED:
		if (at < 0)
			return bad(err, ev, &a, "the certificate is not linked to");
		memmove(ac->certs[at], ac->certs[at + 1], (ac->n - (size_t)at - 1) * 32);
		ac->n--;
		return CL_OK;
	case CL_AEV_PRIMARY_SET:
		if (at < 0)
			return bad(err, ev, &a, "the certificate is not linked to");
		ac->has_primary = true;
		memcpy(ac->primary, a.fingerprint, 32);
		return CL_OK;
	case CL_AEV_PRIMARY_CLEARED:
		if (!ac->has_primary || memcmp(ac->primary, a.fingerprint, 32) != 0)
			return bad(err, ev, &a, "that certificate is not the primary of");
		ac->has_primary = false;
		return CL_OK;
	default: return CL_OK;
	}
}

static int cmp_acct(const void *x, const void *y)
{
	const acct *a = *(const acct *const *)x, *b = *(const acct *const *)y;
	return strcmp(a->email, b->email);
}

cl_err cl_replay_accounts(cl_ledger *l, int64_t at, cl_account_state_cb cb, void *ctx, cl_progress_fn progress,
			  void *progress_ctx)
{
	replay_ctx r = {CL_STRMAP_INIT};
	acct **sorted = NULL;
	cl_seq_range range;
	MDB_txn *txn;
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	/* every event with ts <= at: those before the first one with ts >= at + 1 */
	rc = cl_export__range(l, txn, UINT64_MAX, INT64_MIN, at == INT64_MAX ? INT64_MAX : at + 1, &range, &l->err);
	if (rc == CL_OK)
		rc = cl_export__walk(l, txn, range, step, &r, progress, progress_ctx, &l->err);
	mdb_txn_abort(txn);
	if (rc != CL_OK)
		goto out;
	sorted = malloc((r.accounts.n ? r.accounts.n : 1) * sizeof(*sorted));
	if (sorted == NULL) {
		rc = cl_error_set(&l->err, CL_ENOMEM, "out of memory");
		goto out;
	}
	size_t n = 0;
	for (size_t i = 0; i < r.accounts.cap; i++)
		if (r.accounts.slots[i].key != NULL)
			sorted[n++] = r.accounts.slots[i].value;
	qsort(sorted, n, sizeof(*sorted), cmp_acct);
	for (size_t i = 0; i < n; i++) {
		const acct *a = sorted[i];
		cl_account_state s = {a->email, a->kind, a->name, (const uint8_t(*)[32])a->certs, a->n,
				      a->has_primary ? a->primary : NULL};
		if (cb(&s, ctx) != 0)
			break;
	}
out:
	free(sorted);
	for (size_t i = 0; i < r.accounts.cap; i++)
		if (r.accounts.slots[i].key != NULL)
			acct_free(r.accounts.slots[i].value);
	cl_strmap_free(&r.accounts);
	return rc;
}
