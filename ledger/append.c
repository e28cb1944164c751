/* append.c - the write path: build, authorise, apply, sign (in parallel), chain, commit. */
#include "ledger/append.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/authority.h"
#include "ledger/head.h"
#include "ledger/merkle_store.h"

#define PARALLEL_SIGN_MIN 64
#define ENVELOPE_OVERHEAD 112 /* array header, bin headers, sig and signer */

typedef struct pending {
	cl_buf body;
	const cl_key *key;
	uint8_t sig[CL_ED25519_SIG_LEN];
} pending;

struct cl_wtxn {
	cl_ledger *l;
	MDB_txn *txn;
	cl_admins admins;
	bool admins_dirty;
	cl_head head;
	pending *p;
	size_t n, cap;
	cl_write_fn fn;
	void *ctx;
};

MDB_txn *cl_wtxn__txn(cl_wtxn *t) { return t->txn; }
cl_ledger *cl_wtxn__ledger(cl_wtxn *t) { return t->l; }
size_t cl_wtxn__count(const cl_wtxn *t) { return t->n; }

cl_actor cl_wtxn__actor(cl_wtxn *t)
{
	cl_actor a = {t->l->actor_name, t->l->actor_key};
	return a;
}

static cl_err push(cl_wtxn *t, const cl_actor *who, const char *type, cl_bytes data, bool checked,
		   cl_appended *out, cl_error *err)
{
	cl_ledger *l = t->l;
	if (who == NULL || who->key == NULL || !who->key->has_private)
		return cl_error_set(err, CL_EDENIED, "%s",
				    l->actor_key_error[0] ? l->actor_key_error : "no signing key for the acting admin");
	uint64_t seq = t->head.seq + 1;
	cl_bytes tb = CL_BYTES(type, strlen(type)), ab = CL_BYTES(who->name, strlen(who->name));
	if (checked) {
		cl_err rc = cl_admins_check(&t->admins, seq, tb, ab, data, who->key->signer_id, err);
		if (rc != CL_OK)
			return rc;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		pending *p = realloc(t->p, cap * sizeof(*p));
		if (p == NULL)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		t->p = p;
		t->cap = cap;
	}
	pending *pe = &t->p[t->n];
	memset(pe, 0, sizeof(*pe));
	pe->body = (cl_buf)CL_BUF_INIT(CL_ENVELOPE_MAX - ENVELOPE_OVERHEAD);
	pe->key = who->key;
	int64_t ts = cl_ledger__now(l);
	if (ts < t->head.ts)
		ts = t->head.ts; /* time never goes backwards in the log */
	uint8_t prev[CL_HASH_LEN];
	memcpy(prev, t->head.id, CL_HASH_LEN);
	cl_err rc = cl_body_encode(&pe->body, seq, ts, type, who->name, prev, data);
	if (rc != CL_OK) {
		cl_buf_free(&pe->body);
		return cl_error_set(err, rc == CL_ETOOLARGE ? CL_ETOOLARGE : rc,
				    "event %s is too large (over %d bytes)", type, CL_ENVELOPE_MAX);
	}
	t->n++;
	rc = cl_admins_apply(&t->admins, seq, tb, data, err);
	if (rc != CL_OK)
		return rc;
	if (strcmp(type, "ledger.created") == 0 || strncmp(type, "admin.", 6) == 0)
		t->admins_dirty = true;

	cl_event ev = {0};
	ev.seq = seq;
	ev.ts = ts;
	ev.type = tb;
	ev.actor = ab;
	ev.prev = prev;
	ev.data = CL_BYTES(pe->body.ptr + pe->body.len - data.len, data.len);
	ev.body = cl_buf_view(&pe->body);
	t->head.seq = seq;
	t->head.ts = ts;
	cl_sha256(pe->body.ptr, pe->body.len, t->head.id);
	if (out) {
		out->seq = seq;
		out->ts = ts;
		memcpy(out->id, t->head.id, CL_HASH_LEN);
	}
	if (l->apply) {
		rc = l->apply(t, &ev, l->apply_ctx, err);
		if (rc != CL_OK)
			return rc;
	}
	return CL_OK;
}

cl_err cl_wtxn_append(cl_wtxn *t, const cl_actor *who, const char *type, cl_bytes data, cl_appended *out,
		      cl_error *err)
{
	return push(t, who, type, data, true, out, err);
}

cl_err cl_wtxn__append_unchecked(cl_wtxn *t, const cl_actor *who, const char *type, cl_bytes data,
				 cl_appended *out, cl_error *err)
{
	return push(t, who, type, data, false, out, err);
}

typedef struct sign_job {
	pending *p;
	size_t from, to;
	cl_err rc;
} sign_job;

static void *sign_range(void *arg)
{
	sign_job *j = arg;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		j->rc = CL_ENOMEM;
		return NULL;
	}
	for (size_t i = j->from; i < j->to && j->rc == CL_OK; i++)
		j->rc = cl_event_sign(j->p[i].key, ctx, cl_buf_view(&j->p[i].body), j->p[i].sig);
	EVP_MD_CTX_free(ctx);
	return NULL;
}

/* Signs every pending body; on all cores when the batch is large enough to pay for threads. */
static cl_err sign_all(cl_wtxn *t, cl_error *err)
{
	int threads = t->n >= PARALLEL_SIGN_MIN ? t->l->threads : 1;
	if (threads < 1)
		threads = 1;
	if (threads > 64)
		threads = 64;
	sign_job jobs[64];
	pthread_t tid[64];
	size_t per = (t->n + (size_t)threads - 1) / (size_t)threads;
	int started = 0;
	for (int i = 0; i < threads; i++) {
		size_t from = (size_t)i * per, to = from + per > t->n ? t->n : from + per;
		jobs[i] = (sign_job){t->p, from, to, CL_OK};
		if (i == 0 || from >= to)
			continue;
		if (pthread_create(&tid[i], NULL, sign_range, &jobs[i]) != 0) {
			jobs[i].rc = CL_ENOMEM;
			break;
		}
		started = i;
	}
	sign_range(&jobs[0]);
	for (int i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < threads; i++)
		if (jobs[i].rc != CL_OK)
			return cl_error_set(err, CL_ECRYPTO, "signing an event failed");
	return CL_OK;
}

static cl_err commit_pending(cl_wtxn *t, uint64_t first_seq, cl_error *err)
{
	cl_ledger *l = t->l;
	cl_err rc = sign_all(t, err);
	if (rc != CL_OK)
		return rc;
	cl_buf env = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_merkle_store_ctx mctx = {l->store, t->txn, err};
	for (size_t i = 0; i < t->n && rc == CL_OK; i++) {
		uint64_t seq = first_seq + i;
		rc = cl_envelope_encode(&env, cl_buf_view(&t->p[i].body), t->p[i].sig, t->p[i].key->signer_id);
		if (rc != CL_OK) {
			cl_error_set(err, rc, "cannot encode the envelope of seq %llu", (unsigned long long)seq);
			break;
		}
		uint8_t k[8];
		cl_be64_put(k, seq);
		MDB_val key = {8, k}, val = {env.len, env.ptr};
		int mrc = mdb_put(t->txn, l->store->log, &key, &val, MDB_APPEND);
		if (mrc != 0) {
			rc = mrc == MDB_KEYEXIST ? cl_error_set(err, CL_EINTEGRITY, "seq %llu is already in the log",
								(unsigned long long)seq)
						 : cl_store_put_error(err, mrc);
			break;
		}
		uint8_t leaf[32];
		cl_merkle_leaf_hash(cl_buf_view(&env), leaf);
		rc = cl_merkle_append(cl_merkle_store_get, cl_merkle_store_put, &mctx, seq - 1, leaf);
	}
	cl_buf_free(&env);
	if (rc == CL_OK)
		rc = cl_head_put(l->store, t->txn, &t->head, err);
	if (rc == CL_OK && t->admins_dirty)
		rc = cl_admins_save(&t->admins, l->store, t->txn, err);
	return rc;
}

static void wtxn_clear(cl_wtxn *t)
{
	for (size_t i = 0; i < t->n; i++)
		cl_buf_free(&t->p[i].body);
	free(t->p);
	t->p = NULL;
	t->n = t->cap = 0;
	cl_admins_free(&t->admins);
}

static cl_err write_cb(MDB_txn *txn, void *arg, cl_error *err)
{
	cl_wtxn *t = arg;
	wtxn_clear(t);
	t->txn = txn;
	t->admins_dirty = false;
	cl_err rc = cl_head_get(t->l->store, txn, &t->head, err);
	if (rc == CL_OK)
		rc = cl_admins_load(&t->admins, t->l->store, txn, err);
	uint64_t first_seq = t->head.seq + 1;
	if (rc == CL_OK)
		rc = t->fn(t, t->ctx, err);
	if (rc == CL_OK && t->n > 0)
		rc = commit_pending(t, first_seq, err);
	wtxn_clear(t);
	return rc;
}

cl_err cl_ledger__write(cl_ledger *l, cl_write_fn fn, void *ctx, cl_error *err)
{
	if (l->read_only)
		return cl_error_set(err, CL_EUSAGE, "the ledger was opened read-only");
	cl_wtxn t = {0};
	t.l = l;
	t.fn = fn;
	t.ctx = ctx;
	cl_err rc = cl_store_write(l->store, write_cb, &t, err);
	wtxn_clear(&t);
	return rc;
}
