/* append.c - the write path: build, authorise, apply, sign (in parallel), chain, commit.
 *
 * Signing overlaps the rest of the transaction. Once a transaction holds PARALLEL_SIGN_MIN
 * events (and the handle has more than one thread), threads-1 helper threads start signing the
 * bodies in order while fn is still building later ones; at commit this thread signs whatever
 * is left beside them and writes each envelope (log, Merkle) as soon as its signature is there.
 * The serial work (building, read models, envelopes, Merkle) thus runs on one core while the
 * others sign, instead of before and after them. Small transactions never start a thread.
 * The mutex guards the pending array (push may move it), the published count t->n, the claim
 * counter and each item's signed state; a body's bytes never move once pushed, so signing
 * reads them without the lock. */
#include "ledger/append.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/authority.h"
#include "ledger/head.h"
#include "ledger/merkle_store.h"

#define PARALLEL_SIGN_MIN 64
#define ENVELOPE_OVERHEAD 112 /* array header, bin headers, sig and signer */

#define MAX_SIGN_THREADS 64

typedef struct pending {
	cl_buf body;
	const cl_key *key;
	uint8_t sig[CL_ED25519_SIG_LEN];
	bool is_signed;
	cl_err sign_rc;
} pending;

/* The helper threads of one transaction (see the top of the file). */
typedef struct signer {
	bool active;          /* helpers were started: every access below takes mu */
	pthread_mutex_t mu;
	pthread_cond_t more;  /* helpers wait here for a new item, closed or stop */
	pthread_cond_t done;  /* the committer waits here for an item to be signed */
	size_t next;          /* the next item nobody has claimed */
	bool closed;          /* fn returned: no item will be added */
	bool stop;            /* abandon: helpers return as soon as they can */
	int nthreads;
	pthread_t tid[MAX_SIGN_THREADS];
} signer;

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
	signer sg;
	int64_t now; /* the transaction's time: every event of one write carries the same ts */
};

MDB_txn *cl_wtxn__txn(cl_wtxn *t) { return t->txn; }
cl_ledger *cl_wtxn__ledger(cl_wtxn *t) { return t->l; }
size_t cl_wtxn__count(const cl_wtxn *t) { return t->n; }

cl_actor cl_wtxn__actor(cl_wtxn *t)
{
	cl_actor a = {t->l->actor_name, t->l->actor_key};
	return a;
}

static void *sign_helper(void *arg);

static void signer_lock(cl_wtxn *t)
{
	if (t->sg.active)
		pthread_mutex_lock(&t->sg.mu);
}

static void signer_unlock(cl_wtxn *t)
{
	if (t->sg.active)
		pthread_mutex_unlock(&t->sg.mu);
}

/* Starts the helper threads (called by this thread with the lock not held, helpers not yet
 * running). If none can be started the transaction is simply signed on this thread. */
static void signer_start(cl_wtxn *t)
{
	signer *s = &t->sg;
	int want = t->l->threads - 1;
	if (want > MAX_SIGN_THREADS)
		want = MAX_SIGN_THREADS;
	if (want < 1 || pthread_mutex_init(&s->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&s->more, NULL) != 0) {
		pthread_mutex_destroy(&s->mu);
		return;
	}
	if (pthread_cond_init(&s->done, NULL) != 0) {
		pthread_cond_destroy(&s->more);
		pthread_mutex_destroy(&s->mu);
		return;
	}
	s->next = 0;
	s->closed = s->stop = false;
	s->nthreads = 0;
	s->active = true;
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < want; i++)
		if (pthread_create(&s->tid[s->nthreads], NULL, sign_helper, t) == 0)
			s->nthreads++;
	pthread_mutex_unlock(&s->mu);
	if (s->nthreads == 0) {
		pthread_cond_destroy(&s->done);
		pthread_cond_destroy(&s->more);
		pthread_mutex_destroy(&s->mu);
		s->active = false;
	}
}

/* Stops and joins the helpers (each finishes the signature in hand first). */
static void signer_stop(cl_wtxn *t)
{
	signer *s = &t->sg;
	if (!s->active)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->more);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->tid[i], NULL);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->mu);
	s->active = false;
	s->nthreads = 0;
}

/* Adds a built body to the pending array (taking ownership of it) and offers it to the
 * helpers; starts them once the transaction is large enough. */
static cl_err publish(cl_wtxn *t, cl_buf *body, const cl_key *key, cl_error *err)
{
	signer_lock(t);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		pending *p = realloc(t->p, cap * sizeof(*p));
		if (p == NULL) {
			signer_unlock(t);
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		}
		t->p = p;
		t->cap = cap;
	}
	pending *pe = &t->p[t->n];
	memset(pe, 0, sizeof(*pe));
	pe->body = *body;
	pe->key = key;
	t->n++;
	if (t->sg.active)
		pthread_cond_signal(&t->sg.more);
	signer_unlock(t);
	if (!t->sg.active && t->n == PARALLEL_SIGN_MIN)
		signer_start(t);
	return CL_OK;
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
	/* the body is built outside the array, which may move when it grows */
	cl_buf body = CL_BUF_INIT(CL_ENVELOPE_MAX - ENVELOPE_OVERHEAD);
	int64_t ts = t->now;
	if (ts < t->head.ts)
		ts = t->head.ts; /* time never goes backwards in the log */
	uint8_t prev[CL_HASH_LEN];
	memcpy(prev, t->head.id, CL_HASH_LEN);
	cl_err rc = cl_body_encode(&body, seq, ts, type, who->name, prev, data);
	if (rc != CL_OK) {
		cl_buf_free(&body);
		return cl_error_set(err, rc == CL_ETOOLARGE ? CL_ETOOLARGE : rc,
				    "event %s is too large (over %d bytes)", type, CL_ENVELOPE_MAX);
	}
	rc = publish(t, &body, who->key, err); /* the array owns body.ptr now; the bytes stay put */
	if (rc != CL_OK) {
		cl_buf_free(&body);
		return rc;
	}
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
	ev.data = CL_BYTES(body.ptr + body.len - data.len, data.len);
	ev.body = cl_buf_view(&body);
	t->head.seq = seq;
	t->head.ts = ts;
	cl_sha256(body.ptr, body.len, t->head.id);
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

static void *sign_helper(void *arg)
{
	cl_wtxn *t = arg;
	signer *s = &t->sg;
	cl_signer_ctx sc = CL_SIGNER_CTX_INIT;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && !s->closed && s->next >= t->n)
			pthread_cond_wait(&s->more, &s->mu);
		if (s->stop || s->next >= t->n)
			break;
		size_t i = s->next++;
		cl_bytes body = cl_buf_view(&t->p[i].body);
		const cl_key *key = t->p[i].key;
		pthread_mutex_unlock(&s->mu);
		uint8_t sig[CL_ED25519_SIG_LEN];
		cl_err rc = cl_event_sign_with(&sc, key, body, sig);
		pthread_mutex_lock(&s->mu);
		memcpy(t->p[i].sig, sig, sizeof(sig));
		t->p[i].sign_rc = rc;
		t->p[i].is_signed = true;
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	cl_signer_ctx_free(&sc);
	return NULL;
}

/* Makes sure item i is signed: signs it here when no helper runs; otherwise, while it is not
 * signed yet, signs the next unclaimed item here (or waits when every item is claimed). */
static cl_err ensure_signed(cl_wtxn *t, size_t i, cl_signer_ctx *ctx, cl_error *err)
{
	signer *s = &t->sg;
	if (!s->active) {
		if (!t->p[i].is_signed) {
			t->p[i].sign_rc = cl_event_sign_with(ctx, t->p[i].key, cl_buf_view(&t->p[i].body), t->p[i].sig);
			t->p[i].is_signed = true;
		}
	} else {
		pthread_mutex_lock(&s->mu);
		while (!t->p[i].is_signed) {
			if (s->next < t->n) {
				size_t j = s->next++;
				pthread_mutex_unlock(&s->mu);
				uint8_t sig[CL_ED25519_SIG_LEN];
				cl_err rc = cl_event_sign_with(ctx, t->p[j].key, cl_buf_view(&t->p[j].body), sig);
				pthread_mutex_lock(&s->mu);
				memcpy(t->p[j].sig, sig, sizeof(sig));
				t->p[j].sign_rc = rc;
				t->p[j].is_signed = true;
			} else {
				pthread_cond_wait(&s->done, &s->mu);
			}
		}
		pthread_mutex_unlock(&s->mu);
	}
	if (t->p[i].sign_rc != CL_OK)
		return cl_error_set(err, CL_ECRYPTO, "signing an event failed");
	return CL_OK;
}

static cl_err commit_pending(cl_wtxn *t, uint64_t first_seq, cl_error *err)
{
	cl_ledger *l = t->l;
	cl_err rc = CL_OK;
	cl_signer_ctx ctx = CL_SIGNER_CTX_INIT;
	if (t->sg.active) {
		pthread_mutex_lock(&t->sg.mu);
		t->sg.closed = true; /* helpers return once every item is claimed */
		pthread_cond_broadcast(&t->sg.more);
		pthread_mutex_unlock(&t->sg.mu);
	}
	cl_buf env = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_merkle_store_ctx mctx = {l->store, t->txn, err};
	for (size_t i = 0; i < t->n && rc == CL_OK; i++) {
		uint64_t seq = first_seq + i;
		if ((rc = ensure_signed(t, i, &ctx, err)) != CL_OK)
			break;
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
	cl_signer_ctx_free(&ctx);
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
	/* One reading of the clock per transaction: a change made of several events (an unlink
	 * that also clears the primary, an import batch) happens at one instant, so no "as of"
	 * question can fall between its events. */
	t->now = cl_ledger__now(t->l);
	if (rc == CL_OK)
		rc = t->fn(t, t->ctx, err);
	if (rc == CL_OK && t->n > 0)
		rc = commit_pending(t, first_seq, err);
	signer_stop(t);
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
