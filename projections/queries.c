/* queries.c - the public read API over the read models: accounts now and at an instant, the
 * primary at an instant and during a day, and the history of an account, certificate or actor.
 *
 * "Account at instant T" replays that account's own events: the per-account history index
 * (p_hist_account, email \0 seq) lists the seqs of every event whose data names the account,
 * in order; each is read from `log` and applied with cl_account__apply, the same function the
 * live projection uses, until the first event with ts > T. The cost is one cursor walk plus
 * one log read per event of that account (tens, not the size of the log), it needs no extra
 * storage, and it cannot disagree with the live record because both are one definition applied
 * to the same events. (Per-account snapshots at every seq would answer in one seek but double
 * the write cost of every event for a query that is rare and already fast.) The primary alone
 * has its own timeline (primary_timeline.c) because "primary at T" is the hot question.
 *
 * Every query runs in one read transaction and first checks that no rebuild is unfinished.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certledger/accounts.h"
#include "certledger/projections.h"
#include "ledger/data_json.h"
#include "ledger/handle.h"
#include "ledger/log.h"
#include "ledger/timefmt.h"
#include "projections/accounts.h"
#include "projections/certs.h"
#include "projections/history.h"
#include "projections/primary_timeline.h"

/* A read transaction with the projection databases open and checked complete. *present is
 * false when the ledger has no read models yet (then every read is empty). */
static cl_err begin(cl_ledger *l, MDB_txn **txn, cl_proj_dbs *d, bool *present)
{
	cl_err rc = cl_store_read_begin(l->store, txn, &l->err);
	if (rc != CL_OK)
		return rc;
	rc = cl_proj__dbs(l->store, *txn, false, d, present, &l->err);
	if (rc == CL_OK)
		rc = cl_proj__check_ready(*txn, d->settings, *present, &l->err);
	if (rc != CL_OK) {
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	return rc;
}

void cl_account_free(cl_account *a)
{
	if (a == NULL)
		return;
	free(a->certs);
	a->certs = NULL;
	a->ncerts = 0;
}

/* Moves a record into the public struct (the certs array changes hands). */
static void to_public(cl_account *out, cl_account_rec *a)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->email, a->email, sizeof(out->email) < sizeof(a->email) ? sizeof(out->email) : sizeof(a->email));
	out->email[sizeof(out->email) - 1] = '\0';
	memcpy(out->kind, a->kind, sizeof(out->kind));
	memcpy(out->name, a->name, sizeof(out->name));
	out->created_at = a->created_at;
	out->created_seq = a->created_seq;
	out->certs = a->certs;
	out->ncerts = a->ncerts;
	out->has_primary = a->has_primary;
	memcpy(out->primary, a->primary, 32);
	a->certs = NULL;
	a->ncerts = 0;
}

static cl_err canonical(cl_ledger *l, const char *email, char out[CL_EMAIL_MAX + 1])
{
	if (email == NULL)
		return cl_error_set(&l->err, CL_EUSAGE, "no email address given");
	return cl_email_canonical(out, email, strlen(email), &l->err);
}

cl_err cl_proj_account_get(cl_ledger *l, const char *email, cl_account *out)
{
	char e[CL_EMAIL_MAX + 1];
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	cl_account_rec a;
	memset(out, 0, sizeof(*out));
	cl_err rc = canonical(l, email, e);
	if (rc == CL_OK)
		rc = begin(l, &txn, &d, &present);
	if (rc != CL_OK)
		return rc;
	if (!present)
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no account %s", e);
	else
		rc = cl_proj__account_get(txn, &d, e, &a, &l->err);
	mdb_txn_abort(txn);
	if (rc == CL_OK)
		to_public(out, &a);
	return rc;
}

typedef struct replay_ctx {
	cl_ledger *l;
	MDB_txn *txn;
	int64_t at;
	cl_account_rec *a;
	bool created;
} replay_ctx;

static int replay_one(uint64_t seq, void *arg)
{
	replay_ctx *c = arg;
	cl_bytes env;
	cl_event ev;
	if (cl_log__get(c->l->store, c->txn, seq, &env) != CL_OK)
		return cl_error_set(&c->l->err, CL_EINTEGRITY, "seq %llu is indexed but missing from the log",
				    (unsigned long long)seq);
	if (cl_envelope_decode(env, &ev, &c->l->err) != CL_OK) {
		cl_error_prefix(&c->l->err, "seq %llu", (unsigned long long)seq);
		return c->l->err.code = CL_EINTEGRITY;
	}
	if (ev.ts > c->at)
		return 1; /* ts never decreases: every later event is after `at` too */
	if (cl_event_is(&ev, "account.created"))
		c->created = true;
	else if (!c->created)
		return CL_OK;
	return cl_account__apply(c->a, &ev, &c->l->err);
}

cl_err cl_proj_account_get_at(cl_ledger *l, const char *email, int64_t at, cl_account *out)
{
	char e[CL_EMAIL_MAX + 1];
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	cl_account_rec a;
	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if (at == CL_AT_NOW)
		return cl_proj_account_get(l, email, out);
	cl_err rc = canonical(l, email, e);
	if (rc == CL_OK)
		rc = begin(l, &txn, &d, &present);
	if (rc != CL_OK)
		return rc;
	replay_ctx c = {l, txn, at, &a, false};
	size_t el = strlen(e);
	uint8_t prefix[CL_EMAIL_MAX + 1];
	memcpy(prefix, e, el);
	prefix[el] = 0;
	uint64_t n = 0;
	if (present)
		rc = cl_proj__history_walk(txn, d.hist_account, CL_BYTES(prefix, el + 1), replay_one, &c, &n, &l->err);
	if (rc == CL_OK && !c.created) {
		char t[CL_TIME_TEXT_MAX];
		cl_time_format(t, at);
		rc = n == 0 ? cl_error_set(&l->err, CL_ENOTFOUND, "no account %s", e)
			    : cl_error_set(&l->err, CL_ENOTFOUND, "account %s did not exist yet at %s", e, t);
	}
	mdb_txn_abort(txn);
	if (rc == CL_OK)
		to_public(out, &a);
	cl_account_rec_free(&a);
	return rc;
}

cl_err cl_proj_account_each(cl_ledger *l, cl_account_cb cb, void *ctx)
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
	int mrc = mdb_cursor_open(txn, d.accounts, &cur);
	if (mrc != 0) {
		rc = cl_store_mdb_error(&l->err, mrc, "cursor");
		goto out;
	}
	MDB_val k, v;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		cl_account_rec a;
		cl_account pub;
		if ((rc = cl_proj__account_decode(CL_BYTES(v.mv_data, v.mv_size), &a, &l->err)) != CL_OK)
			goto out;
		to_public(&pub, &a);
		int stop = cb(&pub, ctx);
		cl_account_free(&pub);
		if (stop)
			goto out;
	}
	if (mrc != MDB_NOTFOUND)
		rc = cl_store_mdb_error(&l->err, mrc, "cursor");
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- the primary over time ---- */

cl_err cl_proj_primary_at(cl_ledger *l, const char *email, int64_t at, cl_primary_info *out)
{
	MDB_txn *txn;
	MDB_dbi settings, timeline, accounts;
	bool p1, p2, p3;
	memset(out, 0, sizeof(*out));
	cl_err rc = canonical(l, email, out->email);
	if (rc != CL_OK)
		return rc;
	if (at == CL_AT_NOW) {
		cl_account a;
		if ((rc = cl_proj_account_get(l, out->email, &a)) != CL_OK)
			return rc;
		out->at = cl_ledger__now(l);
		out->has_primary = a.has_primary;
		memcpy(out->fingerprint, a.primary, 32);
		cl_account_free(&a);
		return CL_OK;
	}
	out->at = at;
	/* opens only what it needs: this is the hot query */
	if ((rc = cl_store_read_begin(l->store, &txn, &l->err)) != CL_OK)
		return rc;
	if ((rc = cl_proj__dbi(txn, "p_settings", &settings, &p1, &l->err)) != CL_OK ||
	    (rc = cl_proj__check_ready(txn, settings, p1, &l->err)) != CL_OK ||
	    (rc = cl_proj__dbi(txn, "p_primary", &timeline, &p2, &l->err)) != CL_OK)
		goto out;
	if (p2 && (rc = cl_proj__primary_at(txn, timeline, out->email, at, &out->has_primary, out->fingerprint,
					    &l->err)) != CL_OK)
		goto out;
	if (!out->has_primary) {
		/* no primary: tell "none" from "no such account" */
		if ((rc = cl_proj__dbi(txn, "p_accounts", &accounts, &p3, &l->err)) != CL_OK)
			goto out;
		MDB_val k = {strlen(out->email), out->email}, v;
		int mrc = p3 ? mdb_get(txn, accounts, &k, &v) : MDB_NOTFOUND;
		if (mrc == MDB_NOTFOUND)
			rc = cl_error_set(&l->err, CL_ENOTFOUND, "no account %s", out->email);
		else if (mrc != 0)
			rc = cl_store_mdb_error(&l->err, mrc, "get");
	}
out:
	mdb_txn_abort(txn);
	return rc;
}

static int64_t floor_day(int64_t t)
{
	int64_t q = t / CL_MICROS_PER_DAY;
	if (t % CL_MICROS_PER_DAY < 0)
		q--;
	return q * CL_MICROS_PER_DAY;
}

void cl_primary_day_free(cl_primary_day *d)
{
	if (d == NULL)
		return;
	free(d->intervals);
	d->intervals = NULL;
	d->n = 0;
}

cl_err cl_proj_primary_on(cl_ledger *l, const char *email, int64_t day, cl_primary_day *out)
{
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	memset(out, 0, sizeof(*out));
	out->day = floor_day(day);
	cl_err rc = canonical(l, email, out->email);
	if (rc == CL_OK)
		rc = begin(l, &txn, &d, &present);
	if (rc != CL_OK)
		return rc;
	MDB_val k = {strlen(out->email), out->email}, v;
	int mrc = present ? mdb_get(txn, d.accounts, &k, &v) : MDB_NOTFOUND;
	if (mrc == MDB_NOTFOUND) {
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no account %s", out->email);
	} else if (mrc != 0) {
		rc = cl_store_mdb_error(&l->err, mrc, "get");
	} else {
		int64_t to = out->day + CL_MICROS_PER_DAY, now = cl_ledger__now(l);
		if (now < to)
			to = now; /* the rest of today has not happened yet */
		rc = cl_proj__primary_during(txn, d.primary, out->email, out->day, to, &out->intervals, &out->n,
					     &l->err);
	}
	mdb_txn_abort(txn);
	return rc;
}

/* ---- history ---- */

typedef struct hist_ctx {
	cl_ledger *l;
	MDB_txn *txn;
	cl_event_cb cb;
	void *ctx;
} hist_ctx;

/* The event at seq as the public API shows it (as cl_log_each does). */
static int emit_seq(uint64_t seq, void *arg)
{
	hist_ctx *h = arg;
	cl_ledger *l = h->l;
	cl_bytes env;
	cl_event ev;
	if (cl_log__get(l->store, h->txn, seq, &env) != CL_OK)
		return cl_error_set(&l->err, CL_EINTEGRITY, "seq %llu is indexed but missing from the log",
				    (unsigned long long)seq);
	if (cl_envelope_decode(env, &ev, &l->err) != CL_OK) {
		cl_error_prefix(&l->err, "seq %llu", (unsigned long long)seq);
		return l->err.code = CL_EINTEGRITY;
	}
	char type[CL_TYPE_MAX + 1], actor[CL_ACTOR_MAX + 1];
	memcpy(type, ev.type.ptr, ev.type.len);
	type[ev.type.len] = '\0';
	memcpy(actor, ev.actor.ptr, ev.actor.len);
	actor[ev.actor.len] = '\0';
	json_t *data = cl_data_to_json(ev.data, &l->err);
	if (data == NULL)
		return cl_error_prefix(&l->err, "seq %llu", (unsigned long long)seq);
	char *text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(data);
	if (text == NULL)
		return cl_error_set(&l->err, CL_ENOMEM, "out of memory");
	cl_event_info info = {ev.seq, ev.ts, type, actor, {0}, text, ev.envelope.ptr, ev.envelope.len};
	cl_event_id(&ev, info.id);
	int stop = h->cb(&info, h->ctx);
	free(text);
	return stop ? 1 : CL_OK;
}

cl_err cl_proj_history_each(cl_ledger *l, cl_history_of of, const char *subject, cl_event_cb cb, void *ctx)
{
	MDB_txn *txn;
	cl_proj_dbs d;
	bool present;
	uint8_t key[CL_EMAIL_MAX + CL_ACTOR_MAX + 2];
	size_t kl = 0;
	MDB_dbi db;
	char e[CL_EMAIL_MAX + 1];
	if (subject == NULL)
		return cl_error_set(&l->err, CL_EUSAGE, "no subject given for the history");
	cl_err rc = CL_OK;
	if (of == CL_HISTORY_ACCOUNT && (rc = canonical(l, subject, e)) != CL_OK)
		return rc;
	if (of == CL_HISTORY_ACTOR && (strlen(subject) == 0 || strlen(subject) > CL_ACTOR_MAX))
		return cl_error_set(&l->err, CL_EBADINPUT, "'%.80s' is not an admin name", subject);
	if ((rc = begin(l, &txn, &d, &present)) != CL_OK)
		return rc;
	if (!present) {
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no history for %s", subject);
		goto out;
	}
	switch (of) {
	case CL_HISTORY_ACCOUNT: {
		MDB_val k = {strlen(e), e}, v;
		int mrc = mdb_get(txn, d.accounts, &k, &v);
		if (mrc != 0) {
			rc = mrc == MDB_NOTFOUND ? cl_error_set(&l->err, CL_ENOTFOUND, "no account %s", e)
						 : cl_store_mdb_error(&l->err, mrc, "get");
			goto out;
		}
		kl = strlen(e);
		memcpy(key, e, kl);
		key[kl++] = 0;
		db = d.hist_account;
		break;
	}
	case CL_HISTORY_CERT:
		if ((rc = cl_proj__cert_resolve(txn, &d, subject, key, &l->err)) != CL_OK)
			goto out;
		kl = 32;
		db = d.hist_cert;
		break;
	case CL_HISTORY_ACTOR:
		kl = strlen(subject);
		memcpy(key, subject, kl);
		key[kl++] = 0;
		db = d.hist_actor;
		break;
	default:
		rc = cl_error_set(&l->err, CL_EUSAGE, "unknown history kind");
		goto out;
	}
	hist_ctx h = {l, txn, cb, ctx};
	uint64_t n = 0;
	rc = cl_proj__history_walk(txn, db, CL_BYTES(key, kl), emit_seq, &h, &n, &l->err);
	if (rc == CL_OK && n == 0 && of == CL_HISTORY_ACTOR)
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no events by actor '%s'", subject);
out:
	mdb_txn_abort(txn);
	return rc;
}
