/* webhook_deliver.c - the webhook delivery worker (`webhook deliver --once | --follow`).
 *
 * The worker keeps every live subscription in memory: its definition (read from its
 * webhook.subscribed event), its unsealed key, its checked and pinned target, and its
 * operational state, which runs slightly ahead of what wh_subs holds on disk. It works in rounds:
 *
 *   1. one read transaction: the log's head, the "!gen" counter (reloading subscriptions when an
 *      operator added, removed or replayed one), and for each active subscription with nothing
 *      prepared, the next event after its cursor whose type matches its globs (the body is built
 *      then, once, and kept across retries);
 *   2. the subscriptions whose prepared event is due go out as ONE cl_wh_engine_run batch: at
 *      most one request per subscription, many subscriptions at once, connections reused;
 *   3. each outcome updates the subscription in memory (acknowledged: cursor = seq; failed: the
 *      next attempt per its schedule with jitter and Retry-After, or a dead letter after the
 *      last; 410: disabled) and is handed to the committer.
 *
 * The committer is a second thread that writes those changes (state, attempt records, dead
 * letters) to LMDB while the main thread is already sending the next request: the changes of up
 * to COMMIT_GROUP_US join one transaction (group commit). An acknowledged event's cursor
 * advance is therefore committed a few milliseconds after the answer, not before the next
 * request: a worker killed in between sends that event again after its restart, with the same
 * webhook-id (at-least-once; receivers de-duplicate by id), and never skips one. On return,
 * everything has been committed. Both threads begin their transactions through a map guard (see
 * below), because LMDB may resize its map only while no transaction of the process is open.
 *
 * The committer never overwrites an operator's action: a replay or a remove bumps the
 * subscription's gen, and the committer writes the worker's progress only while the gen on disk
 * is the one the worker's state came from (attempt records, counters and dead letters are always
 * written: they happened). The main thread reloads a subscription whose gen changed.
 *
 * Only one worker runs per ledger: it holds an flock on <ledger>/webhook-deliver.lock.
 */
#include "certledger/webhooks.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "certledger/text.h"
#include "export/webhook_http.h"
#include "export/webhook_retry.h"
#include "export/webhook_secret.h"
#include "export/webhook_sign.h"
#include "export/webhook_state.h"
#include "ledger/data_json.h"
#include "ledger/encoding.h"
#include "ledger/envelope.h"
#include "ledger/handle.h"
#include "ledger/head.h"
#include "ledger/log.h"
#include "ledger/master_key.h"

/* A target (URL resolved and checked) is re-checked after this long, or after a failure. */
#define TARGET_TTL_US (60 * INT64_C(1000000))
/* Events examined per subscription per round while looking for a match (keeps rounds short). */
#define SCAN_MAX 65536
/* Granularity of sleeps, so that a stop request is seen quickly. */
#define SLEEP_SLICE_US 50000
/* The committer lets the changes of this long join one transaction (group commit): each LMDB
 * commit costs two fdatasyncs, and committing every acknowledgement on its own would spend the
 * machine's cores on I/O at thousands of deliveries a second. A flush does not wait. */
#define COMMIT_GROUP_US 2000
#define COMMIT_GROUP_MAX 4096
#define WRITE_RETRIES 24

/* ---- transactions from two threads ---------------------------------------------------------
 *
 * The worker is two threads on one LMDB environment. LMDB allows mdb_env_set_mapsize only
 * while no transaction of the process is active, and it is needed both when a write finds the
 * map full and when another process has grown the map (MDB_MAP_RESIZED). store.c does either
 * inside cl_store_write / cl_store_read_begin without knowing about other threads, so the
 * worker begins its transactions here instead: each transaction holds the shared side of an
 * rwlock, and a resize takes the exclusive side (after its own transaction has ended). */

typedef struct map_guard {
	pthread_rwlock_t lock;
	MDB_env *env;
} map_guard;

static cl_err guard_resize(map_guard *g, size_t size, cl_error *err)
{
	pthread_rwlock_wrlock(&g->lock);
	int rc = mdb_env_set_mapsize(g->env, size);
	pthread_rwlock_unlock(&g->lock);
	return rc == 0 ? CL_OK : cl_store_mdb_error(err, rc, "map resize");
}

/* Begins a transaction (flags 0: write, MDB_RDONLY: read) holding the shared side of the guard;
 * end it with mdb_txn_commit/abort and then guard_end. */
static cl_err guard_begin(map_guard *g, unsigned flags, MDB_txn **txn, cl_error *err)
{
	for (int i = 0; i < WRITE_RETRIES; i++) {
		pthread_rwlock_rdlock(&g->lock);
		int rc = mdb_txn_begin(g->env, NULL, flags, txn);
		if (rc == 0)
			return CL_OK;
		pthread_rwlock_unlock(&g->lock);
		if (rc != MDB_MAP_RESIZED)
			return cl_store_mdb_error(err, rc, "begin");
		cl_err e = guard_resize(g, 0, err); /* adopt the size another process set */
		if (e != CL_OK)
			return e;
	}
	return cl_error_set(err, CL_EIO, "LMDB map keeps being resized");
}

static void guard_end(map_guard *g)
{
	pthread_rwlock_unlock(&g->lock);
}

typedef cl_err (*guarded_write_fn)(MDB_txn *txn, void *ctx, cl_error *err);

/* cl_store_write for the worker: one write transaction, run again after growing the map when
 * it is full (fn must do all its writing through txn and be safe to repeat). */
static cl_err guard_write(map_guard *g, guarded_write_fn fn, void *ctx, cl_error *err)
{
	for (int i = 0; i < WRITE_RETRIES; i++) {
		MDB_txn *txn;
		cl_err rc = guard_begin(g, 0, &txn, err);
		if (rc != CL_OK)
			return rc;
		rc = fn(txn, ctx, err);
		if (rc == CL_OK) {
			int mrc = mdb_txn_commit(txn);
			guard_end(g);
			if (mrc == 0)
				return CL_OK;
			if (mrc != MDB_MAP_FULL)
				return cl_store_mdb_error(err, mrc, "commit");
		} else {
			mdb_txn_abort(txn);
			guard_end(g);
			if (rc != CL_EMAPFULL)
				return rc;
		}
		MDB_envinfo info;
		mdb_env_info(g->env, &info);
		if ((rc = guard_resize(g, info.me_mapsize * 2, err)) != CL_OK)
			return rc;
	}
	return cl_error_set(err, CL_EIO, "LMDB map could not grow enough for the webhook state");
}

/* ---- the committer -------------------------------------------------------------------------- */

/* One change for the committer: the worker's view of a subscription after an outcome. */
typedef struct citem {
	char id[CL_WEBHOOK_ID_LEN + 1];
	uint64_t gen;             /* the gen the worker's state is based on */
	cl_wh_sub_state st;       /* progress fields: cursor, retry_seq, fails, next_at, state, reason */
	uint32_t delivered, failed, dead; /* counter increments */
	bool has_attempt;
	cl_wh_attempt_rec attempt;
	bool has_dead;
	cl_wh_dead_rec dead_rec;
	bool redelivered;         /* mark a dead letter of attempt.seq as redelivered */
} citem;

typedef struct committer {
	map_guard *guard;
	cl_wh_dbs dbs;            /* opened (and committed) before the thread starts */
	pthread_t thread;
	bool inited;              /* mutex and condition variables exist */
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t wake;      /* items queued or stop */
	pthread_cond_t done;      /* a batch was committed */
	citem *q;
	size_t n, cap;
	uint64_t queued, committed;
	unsigned flushing;        /* threads waiting in committer_flush: commit at once */
	bool stop;
	cl_err rc;                /* the first failure; the worker stops on it */
	cl_error err;
} committer;

typedef struct batch {
	const cl_wh_dbs *dbs;
	const citem *items;
	size_t n;
} batch;

/* One subscription's record while a batch is applied: read once, written once at the end. */
typedef struct batch_sub {
	const char *id;
	cl_wh_sub_state st;
	uint64_t last_n; /* its last attempt number, UINT64_MAX until known */
} batch_sub;

static cl_err apply_batch(MDB_txn *txn, void *arg, cl_error *err)
{
	const batch *b = arg;
	const cl_wh_dbs d = *b->dbs;
	cl_err rc = CL_OK;
	size_t nsubs = 0, cur = 0;
	batch_sub *subs = malloc(b->n * sizeof(*subs));
	if (subs == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory committing webhook state");
	for (size_t i = 0; rc == CL_OK && i < b->n; i++) {
		const citem *it = &b->items[i];
		/* Items of one subscription tend to follow each other: look at the last one first. */
		if (nsubs == 0 || strcmp(subs[cur].id, it->id) != 0) {
			for (cur = 0; cur < nsubs && strcmp(subs[cur].id, it->id) != 0; cur++)
				;
			if (cur == nsubs) {
				subs[cur].id = it->id;
				subs[cur].last_n = UINT64_MAX;
				if ((rc = cl_wh__state_get(txn, &d, it->id, &subs[cur].st, err)) != CL_OK)
					break;
				nsubs++;
			}
		}
		cl_wh_sub_state *disk = &subs[cur].st;
		if (disk->gen == it->gen && disk->state != CL_WH_REMOVED) {
			disk->cursor = it->st.cursor;
			disk->retry_seq = it->st.retry_seq;
			disk->fails = it->st.fails;
			disk->next_at = it->st.next_at;
			disk->state = it->st.state;
			memcpy(disk->reason, it->st.reason, sizeof(disk->reason));
		}
		disk->delivered += it->delivered;
		disk->failed += it->failed;
		disk->dead += it->dead;
		if (it->has_attempt)
			rc = cl_wh__attempt_append(txn, &d, it->id, &it->attempt, &subs[cur].last_n, err);
		if (rc == CL_OK && it->has_dead)
			rc = cl_wh__dead_put(txn, &d, it->id, &it->dead_rec, err);
		if (rc == CL_OK && it->redelivered)
			rc = cl_wh__dead_redelivered(txn, &d, it->id, it->attempt.seq, it->attempt.at, err);
	}
	for (size_t k = 0; rc == CL_OK && k < nsubs; k++)
		rc = cl_wh__state_put(txn, &d, subs[k].id, &subs[k].st, err);
	free(subs);
	return rc;
}

static void *committer_main(void *arg)
{
	committer *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->n == 0 && !c->stop)
			pthread_cond_wait(&c->wake, &c->mu);
		if (c->n == 0)
			break; /* stop, and nothing left */
		if (!c->stop && c->flushing == 0) {
			/* Let the acknowledgements of the next few milliseconds join this commit. */
			struct timespec dl;
			clock_gettime(CLOCK_MONOTONIC, &dl);
			dl.tv_nsec += COMMIT_GROUP_US * 1000L;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			while (!c->stop && c->flushing == 0 && c->n < COMMIT_GROUP_MAX)
				if (pthread_cond_timedwait(&c->wake, &c->mu, &dl) == ETIMEDOUT)
					break;
		}
		citem *items = c->q;
		size_t n = c->n;
		c->q = NULL;
		c->n = c->cap = 0;
		pthread_mutex_unlock(&c->mu);

		cl_error err = CL_ERROR_INIT;
		batch b = {&c->dbs, items, n};
		cl_err rc = guard_write(c->guard, apply_batch, &b, &err);
		free(items);

		pthread_mutex_lock(&c->mu);
		if (rc != CL_OK && c->rc == CL_OK) {
			c->rc = rc;
			c->err = err;
		}
		c->committed += n;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static cl_err committer_start(committer *c, map_guard *g, const cl_wh_dbs *dbs, cl_error *err)
{
	memset(c, 0, sizeof(*c));
	c->guard = g;
	c->dbs = *dbs;
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		return cl_error_set(err, CL_EINTERNAL, "cannot create a mutex");
	pthread_condattr_t ca;
	int crc = pthread_condattr_init(&ca);
	if (crc == 0)
		crc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (crc == 0)
		crc = pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (crc != 0) {
		pthread_mutex_destroy(&c->mu);
		return cl_error_set(err, CL_EINTERNAL, "cannot create a condition variable");
	}
	if (pthread_cond_init(&c->done, NULL) != 0) {
		pthread_cond_destroy(&c->wake);
		pthread_mutex_destroy(&c->mu);
		return cl_error_set(err, CL_EINTERNAL, "cannot create a condition variable");
	}
	c->inited = true;
	if (pthread_create(&c->thread, NULL, committer_main, c) != 0)
		return cl_error_set(err, CL_EINTERNAL, "cannot start the webhook committer thread");
	c->started = true;
	return CL_OK;
}

/* Queues a change (copied). */
static cl_err committer_push(committer *c, const citem *it, cl_error *err)
{
	cl_err rc = CL_OK;
	pthread_mutex_lock(&c->mu);
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		citem *q = realloc(c->q, cap * sizeof(*q));
		if (q == NULL) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory queueing a webhook state change");
			goto out;
		}
		c->q = q;
		c->cap = cap;
	}
	c->q[c->n++] = *it;
	c->queued++;
	if (c->n == 1 || c->n >= COMMIT_GROUP_MAX)
		pthread_cond_signal(&c->wake); /* the first of a batch wakes the committer; the rest join */
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Waits until everything queued so far is committed; returns the committer's first failure. */
static cl_err committer_flush(committer *c, cl_error *err)
{
	pthread_mutex_lock(&c->mu);
	uint64_t target = c->queued;
	c->flushing++;
	pthread_cond_signal(&c->wake);
	while (c->committed < target && c->rc == CL_OK)
		pthread_cond_wait(&c->done, &c->mu);
	c->flushing--;
	cl_err rc = c->rc;
	if (rc != CL_OK && err != NULL)
		*err = c->err;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* The committer's failure, if any (without waiting). */
static cl_err committer_failed(committer *c, cl_error *err)
{
	pthread_mutex_lock(&c->mu);
	cl_err rc = c->rc;
	if (rc != CL_OK && err != NULL)
		*err = c->err;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Commits what is queued, stops the thread and frees everything. */
static void committer_stop(committer *c)
{
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
		c->started = false;
	}
	free(c->q);
	c->q = NULL;
	if (c->inited) {
		pthread_cond_destroy(&c->wake);
		pthread_cond_destroy(&c->done);
		pthread_mutex_destroy(&c->mu);
		c->inited = false;
	}
}

/* ---- subscriptions in memory ---------------------------------------------------------------- */

typedef struct sub {
	char id[CL_WEBHOOK_ID_LEN + 1];
	cl_wh_def def;
	cl_secret key;
	cl_wh_target target;
	int64_t target_at;        /* when target was checked, 0: never or to be re-checked */
	cl_wh_sub_state st;       /* the worker's view, ahead of disk until committed */
	uint64_t scan;            /* events up to this seq have been examined */
	bool seen;                /* found in the last reload */
	/* The prepared delivery (job_seq 0: none). */
	uint64_t job_seq;
	uint8_t job_eid[32];
	char job_hex[65];
	char job_type[CL_TYPE_MAX + 1];
	char *body;
	size_t body_len;
	bool guard_failed;        /* this round: the target could not be checked */
	char guard_err[CL_WH_ERRTEXT_MAX];
} sub;

typedef struct worker {
	cl_ledger *l;
	const cl_webhook_deliver_opts *o;
	cl_wh_engine *engine;
	cl_wh_dbs d;              /* the wh_* handles, opened once before any thread starts */
	map_guard guard;
	bool guard_inited;
	sub **subs;
	size_t nsubs, cap;
	uint64_t gen_seen;
	bool loaded;
	committer cm;
	cl_webhook_deliver_stats stats;
	/* Per-round arrays, grown with nsubs. */
	sub **batch;
	cl_wh_job *jobs;
	cl_wh_outcome *outcomes;
	size_t round_cap;
} worker;

static bool stopped(const worker *w)
{
	return w->o->stop != NULL && *w->o->stop != 0;
}

static void job_clear(sub *s)
{
	free(s->body);
	s->body = NULL;
	s->body_len = 0;
	s->job_seq = 0;
}

static void sub_free(sub *s)
{
	if (s == NULL)
		return;
	job_clear(s);
	cl_secret_free(&s->key);
	free(s);
}

static sub *find_sub(worker *w, const char *id)
{
	for (size_t i = 0; i < w->nsubs; i++)
		if (strcmp(w->subs[i]->id, id) == 0)
			return w->subs[i];
	return NULL;
}

/* Loads a subscription that the worker does not hold yet: definition and secret. The secret is
 * opened with the master key current in txn (ledger/master_key.h), so a rotation, even one
 * interrupted before its new key file was renamed into place, never leaves the worker with a key
 * that does not open it. */
static cl_err sub_load(worker *w, MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_sub_state *st,
		       cl_error *err)
{
	cl_secret master = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	sub *s = calloc(1, sizeof(*s));
	cl_err rc;
	if (s == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	s->key = (cl_secret)CL_SECRET_INIT(CL_WH_KEY_MAX);
	memcpy(s->id, id, sizeof(s->id));
	s->st = *st;
	s->scan = st->cursor;
	s->seen = true;
	if ((rc = cl_wh__def_load(w->l->store, txn, st->sub_seq, id, &s->def, err)) != CL_OK)
		goto out;
	MDB_val k = {strlen(id), (void *)id}, v;
	int mrc = mdb_get(txn, d->secrets, &k, &v);
	if (mrc != 0) {
		rc = mrc == MDB_NOTFOUND ? cl_error_set(err, CL_EINTEGRITY, "webhook %s has no sealed secret", id)
					 : cl_store_mdb_error(err, mrc, "get webhook secret");
		goto out;
	}
	if ((rc = cl_master_key__current(w->l, txn, false, &master, NULL, err)) != CL_OK)
		goto out;
	if ((rc = cl_wh__secret_open(&s->key, &master, id, CL_BYTES(v.mv_data, v.mv_size), err)) != CL_OK)
		goto out;
	if (w->nsubs == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		sub **a = realloc(w->subs, cap * sizeof(*a));
		if (a == NULL) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		w->subs = a;
		w->cap = cap;
	}
	w->subs[w->nsubs++] = s;
	s = NULL;
	rc = CL_OK;
out:
	cl_secret_free(&master);
	sub_free(s);
	return rc;
}

/* Brings the in-memory subscriptions in line with wh_subs after an operator action. A
 * subscription whose gen did not change keeps the worker's own (newer) state. */
static cl_err reload(worker *w, MDB_txn *txn, const cl_wh_dbs *d, cl_error *err)
{
	MDB_cursor *cur;
	cl_err rc = CL_OK;
	for (size_t i = 0; i < w->nsubs; i++)
		w->subs[i]->seen = false;
	int mrc = mdb_cursor_open(txn, d->subs, &cur);
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, "cursor");
	MDB_val k, v;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char id[CL_WEBHOOK_ID_LEN + 1];
		cl_wh_sub_state st;
		if (k.mv_size != CL_WEBHOOK_ID_LEN)
			continue;
		memcpy(id, k.mv_data, CL_WEBHOOK_ID_LEN);
		id[CL_WEBHOOK_ID_LEN] = '\0';
		if (!cl_wh__id_valid(id))
			continue;
		if ((rc = cl_wh__state_decode(CL_BYTES(v.mv_data, v.mv_size), &st, err)) != CL_OK) {
			cl_error_prefix(err, "%s", id);
			break;
		}
		if (st.state == CL_WH_REMOVED)
			continue; /* dropped below if held */
		sub *s = find_sub(w, id);
		if (s == NULL) {
			if ((rc = sub_load(w, txn, d, id, &st, err)) != CL_OK)
				break;
			continue;
		}
		s->seen = true;
		if (s->st.gen != st.gen) {
			/* An operator replayed it: start over from the state on disk. */
			s->st = st;
			s->scan = st.cursor;
			job_clear(s);
		}
	}
	if (rc == CL_OK && mrc != MDB_NOTFOUND && mrc != 0)
		rc = cl_store_mdb_error(err, mrc, "cursor walk of wh_subs");
	mdb_cursor_close(cur);
	/* Removed subscriptions (not seen as live) leave memory. */
	size_t j = 0;
	for (size_t i = 0; i < w->nsubs; i++) {
		if (w->subs[i]->seen)
			w->subs[j++] = w->subs[i];
		else
			sub_free(w->subs[i]);
	}
	w->nsubs = j;
	return rc;
}

/* ---- preparing deliveries ------------------------------------------------------------------- */

/* The webhook body: {"type", "timestamp", "data": {"seq", "id", ...the event's data...}}. The
 * event's data is dumped once by jansson (as `log --json` shows it) and spliced in after seq
 * and id; the type is dumped by jansson too, so it is escaped like every other string. */
static cl_err build_body(sub *s, const cl_event *ev, cl_error *err)
{
	char ts[48], mid[192];
	char *fields_text = NULL, *type_text = NULL;
	cl_buf b = CL_BUF_INIT(CL_WH_BODY_MAX);
	cl_err rc = CL_ENOMEM;
	json_t *fields = cl_data_to_json(ev->data, err);
	if (fields == NULL)
		return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq), CL_EINTEGRITY;
	/* No event type has data keys named seq or id; if one ever did, the envelope's win. */
	json_object_del(fields, "seq");
	json_object_del(fields, "id");
	json_t *type = json_string(s->job_type);
	if (type != NULL)
		type_text = json_dumps(type, JSON_ENCODE_ANY);
	json_decref(type);
	fields_text = json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(fields);
	if (fields_text == NULL || type_text == NULL || fields_text[0] != '{')
		goto fail;
	cl_time_format_text(ts, ev->ts);
	int n = snprintf(mid, sizeof(mid), ",\"timestamp\":\"%s\",\"data\":{\"seq\":%llu,\"id\":\"%s\"%s", ts,
			 (unsigned long long)ev->seq, s->job_hex, fields_text[1] == '}' ? "" : ",");
	if (n < 0 || (size_t)n >= sizeof(mid))
		goto fail;
	if ((rc = cl_buf_append(&b, "{\"type\":", 8)) != CL_OK ||
	    (rc = cl_buf_append(&b, type_text, strlen(type_text))) != CL_OK ||
	    (rc = cl_buf_append(&b, mid, (size_t)n)) != CL_OK ||
	    (rc = cl_buf_append(&b, fields_text + 1, strlen(fields_text + 1))) != CL_OK ||
	    (rc = cl_buf_append(&b, "}", 2)) != CL_OK) /* with the NUL, hidden from body_len */
		goto fail;
	s->body = (char *)b.ptr;
	s->body_len = b.len - 1;
	b.ptr = NULL;
	rc = CL_OK;
	goto out;
fail:
	rc = cl_error_set(err, rc == CL_ETOOLARGE ? rc : CL_ENOMEM, "cannot build the webhook body of seq %llu",
			  (unsigned long long)ev->seq);
out:
	free(fields_text);
	free(type_text);
	cl_buf_free(&b);
	return rc;
}

/* Queues the subscription's progress (cursor and retry state) with no outcome attached. */
static cl_err push_progress(worker *w, const sub *s, cl_error *err)
{
	citem it;
	memset(&it, 0, sizeof(it));
	memcpy(it.id, s->id, sizeof(it.id));
	it.gen = s->st.gen;
	it.st = s->st;
	return committer_push(&w->cm, &it, err);
}

/* Finds the next event after the cursor that the subscription wants and prepares its body;
 * moves the cursor over events it does not want. */
static cl_err prepare_next(worker *w, sub *s, MDB_txn *txn, uint64_t head, cl_error *err)
{
	uint64_t from = (s->scan > s->st.cursor ? s->scan : s->st.cursor) + 1;
	size_t examined = 0;
	cl_err rc = CL_OK;
	for (uint64_t seq = from; seq <= head && examined < SCAN_MAX; seq++, examined++) {
		cl_bytes env;
		cl_event ev;
		if (cl_log__get(w->l->store, txn, seq, &env) != CL_OK)
			return cl_error_set(err, CL_EINTEGRITY, "seq %llu is missing from the log", (unsigned long long)seq);
		if ((rc = cl_envelope_decode(env, &ev, err)) != CL_OK)
			return cl_error_prefix(err, "seq %llu", (unsigned long long)seq), CL_EINTEGRITY;
		s->scan = seq;
		if (ev.type.len > CL_TYPE_MAX)
			return cl_error_set(err, CL_EINTEGRITY, "seq %llu has an over-long type", (unsigned long long)seq);
		memcpy(s->job_type, ev.type.ptr, ev.type.len);
		s->job_type[ev.type.len] = '\0';
		if (!cl_wh__def_matches(&s->def, s->job_type))
			continue;
		cl_event_id(&ev, s->job_eid);
		cl_hex_encode(s->job_hex, s->job_eid, 32);
		if ((rc = build_body(s, &ev, err)) != CL_OK)
			return rc;
		s->job_seq = seq;
		break;
	}
	if (s->job_seq != 0 && s->st.retry_seq != s->job_seq) {
		/* A fresh event (the state's retry, if any, was for an event handled since). */
		s->st.retry_seq = 0;
		s->st.fails = 0;
		s->st.next_at = 0;
	}
	uint64_t done = s->job_seq != 0 ? s->job_seq - 1 : s->scan;
	if (done > s->st.cursor) {
		s->st.cursor = done;
		rc = push_progress(w, s, err);
	}
	return rc;
}

/* ---- outcomes ------------------------------------------------------------------------------- */

static void one_line(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
	for (char *p = dst; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* Applies one attempt's outcome to s and queues the change. started is when the round began;
 * o is the engine's outcome (or a synthesized one when the target could not be checked). */
static cl_err handle_outcome(worker *w, sub *s, const cl_wh_outcome *o, int64_t started, cl_error *err)
{
	citem it;
	int64_t now = cl_ledger__now(w->l);
	memset(&it, 0, sizeof(it));
	memcpy(it.id, s->id, sizeof(it.id));
	it.gen = s->st.gen;
	it.has_attempt = true;
	cl_wh_attempt_rec *a = &it.attempt;
	a->at = started;
	a->seq = s->job_seq;
	memcpy(a->event_id, s->job_eid, 32);
	a->attempt = (s->st.retry_seq == s->job_seq ? s->st.fails : 0) + 1;
	a->status = o->status;
	a->duration_us = o->duration_us;
	one_line(a->error, sizeof(a->error), o->error);
	bool done = false;

	if (o->cls == CL_WH_DELIVERED) {
		snprintf(a->result, sizeof(a->result), "delivered");
		s->st.cursor = s->job_seq;
		s->st.retry_seq = 0;
		s->st.fails = 0;
		s->st.next_at = 0;
		it.delivered = 1;
		it.redelivered = s->st.dead > 0;
		w->stats.delivered++;
		done = true;
	} else if (o->cls == CL_WH_GONE) {
		char at[48];
		snprintf(a->result, sizeof(a->result), "gone");
		cl_time_format_text(at, now);
		s->st.state = CL_WH_DISABLED;
		snprintf(s->st.reason, sizeof(s->st.reason), "the receiver answered 410 Gone for seq %llu at %s",
			 (unsigned long long)s->job_seq, at);
		s->st.retry_seq = 0;
		s->st.fails = 0;
		s->st.next_at = 0;
		it.failed = 1;
		w->stats.failed++;
		w->stats.disabled++;
		done = true;
	} else {
		int64_t delay_ms = 0;
		it.failed = 1;
		w->stats.failed++;
		s->target_at = 0; /* resolve and check again before the next attempt */
		if (cl_wh_retry_next(&delay_ms, &s->def.retry, a->attempt, o->retry_after_s, cl_wh_rand_openssl, NULL)) {
			snprintf(a->result, sizeof(a->result), "retry");
			s->st.retry_seq = s->job_seq;
			s->st.fails = a->attempt;
			s->st.next_at = now + delay_ms * 1000;
			a->next_at = s->st.next_at;
		} else {
			snprintf(a->result, sizeof(a->result), "dead");
			it.has_dead = true;
			it.dead = 1;
			cl_wh_dead_rec *d = &it.dead_rec;
			d->at = now;
			d->seq = s->job_seq;
			memcpy(d->event_id, s->job_eid, 32);
			snprintf(d->type, sizeof(d->type), "%s", s->job_type);
			d->attempts = a->attempt;
			d->status = o->status;
			memcpy(d->error, a->error, sizeof(d->error));
			s->st.cursor = s->job_seq; /* it moves on */
			s->st.retry_seq = 0;
			s->st.fails = 0;
			s->st.next_at = 0;
			s->st.dead++;
			w->stats.dead_lettered++;
			done = true;
		}
	}
	it.st = s->st;
	if (done)
		job_clear(s);
	return committer_push(&w->cm, &it, err);
}

/* ---- rounds --------------------------------------------------------------------------------- */

static cl_err grow_round(worker *w, cl_error *err)
{
	if (w->round_cap >= w->nsubs)
		return CL_OK;
	size_t cap = w->nsubs * 2;
	sub **b = realloc(w->batch, cap * sizeof(*b));
	if (b != NULL)
		w->batch = b;
	cl_wh_job *j = b ? realloc(w->jobs, cap * sizeof(*j)) : NULL;
	if (j != NULL)
		w->jobs = j;
	cl_wh_outcome *o = j ? realloc(w->outcomes, cap * sizeof(*o)) : NULL;
	if (o == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	w->outcomes = o;
	w->round_cap = cap;
	return CL_OK;
}

/* One round. *attempted: whether any attempt was made; *wake_at: the earliest time a retry of
 * an active subscription is due (INT64_MAX if none). */
static cl_err run_round(worker *w, bool *attempted, int64_t *wake_at, cl_error *err)
{
	MDB_txn *txn = NULL;
	const cl_wh_dbs d = w->d;
	cl_head head;
	size_t nb = 0, nj = 0;
	cl_err rc;
	*attempted = false;
	*wake_at = INT64_MAX;

	if ((rc = committer_failed(&w->cm, err)) != CL_OK)
		return rc;
	if ((rc = guard_begin(&w->guard, MDB_RDONLY, &txn, err)) != CL_OK)
		return rc;
	if ((rc = cl_head_get(w->l->store, txn, &head, err)) != CL_OK)
		goto out;
	uint64_t gen = cl_wh__gen_get(txn, &d);
	if (!w->loaded || gen != w->gen_seen) {
		if ((rc = reload(w, txn, &d, err)) != CL_OK)
			goto out;
		w->gen_seen = gen;
		w->loaded = true;
	}
	if ((rc = grow_round(w, err)) != CL_OK)
		goto out;
	int64_t now = cl_ledger__now(w->l);
	for (size_t i = 0; i < w->nsubs; i++) {
		sub *s = w->subs[i];
		if (s->st.state != CL_WH_ACTIVE)
			continue;
		if (s->job_seq == 0 && (rc = prepare_next(w, s, txn, head.seq, err)) != CL_OK)
			goto out;
		if (s->job_seq == 0)
			continue;
		if (s->st.next_at > now) {
			if (s->st.next_at < *wake_at)
				*wake_at = s->st.next_at;
			continue;
		}
		w->batch[nb++] = s;
	}
	mdb_txn_abort(txn); /* no read transaction is held while waiting on the network */
	guard_end(&w->guard);
	txn = NULL;
	if (nb == 0)
		goto out;

	/* Targets: resolved and checked at most once a minute, and again after a failure. */
	for (size_t i = 0; i < nb; i++) {
		sub *s = w->batch[i];
		cl_error gerr = CL_ERROR_INIT;
		s->guard_failed = false;
		if (s->target_at != 0 && now - s->target_at < TARGET_TTL_US)
			continue;
		if (cl_wh_guard_check(&s->target, s->def.url, s->def.allow_private, &gerr) != CL_OK) {
			s->guard_failed = true;
			s->target_at = 0;
			snprintf(s->guard_err, sizeof(s->guard_err), "%s", gerr.msg);
			continue;
		}
		s->target_at = now;
	}
	int64_t ts = now / 1000000;
	for (size_t i = 0; i < nb; i++) {
		sub *s = w->batch[i];
		if (s->guard_failed)
			continue;
		cl_wh_job *j = &w->jobs[nj];
		j->target = &s->target;
		j->secret = &s->key;
		j->id = s->job_hex;
		j->timestamp = ts;
		j->body = CL_BYTES(s->body, s->body_len);
		j->user = s;
		nj++;
	}
	*attempted = true;
	w->stats.rounds++;
	cl_error rerr = CL_ERROR_INIT;
	cl_err run_rc = nj > 0 ? cl_wh_engine_run(w->engine, w->jobs, w->outcomes, nj, &rerr) : CL_OK;
	if (run_rc == CL_EUSAGE) {
		/* Nothing was sent (a job the engine refused): a bug, not an outcome. */
		rc = cl_error_set(err, CL_EINTERNAL, "webhook engine refused a batch: %s", rerr.msg);
		goto out;
	}
	for (size_t i = 0; i < nj && rc == CL_OK; i++)
		rc = handle_outcome(w, w->outcomes[i].user, &w->outcomes[i], now, err);
	for (size_t i = 0; i < nb && rc == CL_OK; i++) {
		sub *s = w->batch[i];
		if (!s->guard_failed)
			continue;
		cl_wh_outcome o;
		memset(&o, 0, sizeof(o));
		o.cls = CL_WH_RETRY;
		o.retry_after_s = -1;
		snprintf(o.error, sizeof(o.error), "%s", s->guard_err);
		rc = handle_outcome(w, s, &o, now, err);
	}
	if (rc == CL_OK && run_rc != CL_OK)
		rc = cl_error_set(err, run_rc, "%s", rerr.msg);
	/* Retries scheduled by this round count for the wake-up time. */
	for (size_t i = 0; i < nb; i++) {
		sub *s = w->batch[i];
		if (s->st.state == CL_WH_ACTIVE && s->job_seq != 0 && s->st.next_at < *wake_at)
			*wake_at = s->st.next_at;
	}
out:
	if (txn != NULL) {
		mdb_txn_abort(txn);
		guard_end(&w->guard);
	}
	return rc;
}

/* Matching events after each active subscription's cursor (the "pending" figure). */
static cl_err count_pending(worker *w, uint64_t *out, cl_error *err)
{
	MDB_txn *txn;
	cl_head head;
	char type[CL_TYPE_MAX + 1];
	*out = 0;
	cl_err rc = guard_begin(&w->guard, MDB_RDONLY, &txn, err);
	if (rc != CL_OK)
		return rc;
	rc = cl_head_get(w->l->store, txn, &head, err);
	for (size_t i = 0; rc == CL_OK && i < w->nsubs; i++) {
		sub *s = w->subs[i];
		if (s->st.state != CL_WH_ACTIVE)
			continue;
		for (uint64_t seq = s->st.cursor + 1; rc == CL_OK && seq <= head.seq; seq++) {
			cl_bytes env;
			cl_event ev;
			if (cl_log__get(w->l->store, txn, seq, &env) != CL_OK || cl_envelope_decode(env, &ev, err) != CL_OK ||
			    ev.type.len > CL_TYPE_MAX) {
				rc = cl_error_set(err, CL_EINTEGRITY, "seq %llu is missing or damaged", (unsigned long long)seq);
				break;
			}
			memcpy(type, ev.type.ptr, ev.type.len);
			type[ev.type.len] = '\0';
			*out += (uint64_t)cl_wh__def_matches(&s->def, type);
		}
	}
	mdb_txn_abort(txn);
	guard_end(&w->guard);
	return rc;
}

/* Sleeps until wake_at (µs, the handle's clock) or a stop request. */
static void sleep_until(worker *w, int64_t wake_at)
{
	while (!stopped(w)) {
		int64_t now = cl_ledger__now(w->l);
		if (now >= wake_at)
			return;
		int64_t d = wake_at - now;
		if (d > SLEEP_SLICE_US)
			d = SLEEP_SLICE_US;
		struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
		nanosleep(&ts, NULL); /* a signal cuts it short: the loop looks at the stop flag */
	}
}

static cl_err take_lock(cl_ledger *l, int *fd, cl_error *err)
{
	char *path = NULL;
	if (asprintf(&path, "%s/webhook-deliver.lock", l->dir) < 0)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cl_err rc = CL_OK;
	if (*fd < 0)
		rc = cl_error_set(err, CL_EIO, "cannot open %s: %s", path, strerror(errno));
	else if (flock(*fd, LOCK_EX | LOCK_NB) != 0)
		rc = errno == EWOULDBLOCK ? cl_error_set(err, CL_EREFUSED,
							 "another `webhook deliver` is running for this ledger (%s is locked)", path)
					  : cl_error_set(err, CL_EIO, "cannot lock %s: %s", path, strerror(errno));
	if (rc != CL_OK && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(path);
	return rc;
}

cl_err cl_webhook_deliver(cl_ledger *l, const cl_webhook_deliver_opts *opts, cl_webhook_deliver_stats *stats)
{
	cl_webhook_deliver_opts def_opts = CL_WEBHOOK_DELIVER_OPTS_INIT;
	cl_error *err = &l->err;
	worker *w = NULL;
	int lock_fd = -1;
	cl_err rc;
	if (stats != NULL)
		memset(stats, 0, sizeof(*stats));
	if (opts == NULL)
		opts = &def_opts;
	if (opts->version != CL_WEBHOOK_DELIVER_OPTS_VERSION)
		return cl_error_set(err, CL_EUSAGE, "webhook deliver options version %u is not %d", opts->version,
				    CL_WEBHOOK_DELIVER_OPTS_VERSION);
	if ((rc = take_lock(l, &lock_fd, err)) != CL_OK)
		return rc;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	w->l = l;
	w->o = opts;
	cl_wh_engine_opts eo = CL_WH_ENGINE_OPTS_INIT;
	if (opts->timeout_ms > 0)
		eo.timeout_ms = opts->timeout_ms;
	if (opts->connect_timeout_ms > 0)
		eo.connect_timeout_ms = opts->connect_timeout_ms;
	if (opts->max_parallel > 0)
		eo.max_parallel = opts->max_parallel;
	eo.ca_file = opts->ca_file;
	unsigned poll_ms = opts->poll_ms > 0 ? opts->poll_ms : 200;
	if ((rc = cl_wh_engine_new(&w->engine, &eo, err)) != CL_OK)
		goto out;
	/* Created if need be (empty databases), so that every later transaction, in this thread or
	 * the committer's, uses these handles and none opens one. */
	if ((rc = cl_wh__dbs_open(l->store, true, &w->d, NULL, err)) != CL_OK)
		goto out;
	if (pthread_rwlock_init(&w->guard.lock, NULL) != 0) {
		rc = cl_error_set(err, CL_EINTERNAL, "cannot create a lock");
		goto out;
	}
	w->guard.env = l->store->env;
	w->guard_inited = true;
	if ((rc = committer_start(&w->cm, &w->guard, &w->d, err)) != CL_OK)
		goto out;

	while (!stopped(w)) {
		bool attempted = false;
		int64_t wake_at = INT64_MAX;
		if ((rc = run_round(w, &attempted, &wake_at, err)) != CL_OK)
			break;
		if (attempted)
			continue; /* the next event of each subscription goes out at once */
		if (!opts->follow)
			break; /* nothing more is due now */
		int64_t poll_at = cl_ledger__now(l) + (int64_t)poll_ms * 1000;
		sleep_until(w, wake_at < poll_at ? wake_at : poll_at);
	}
	cl_error ferr = CL_ERROR_INIT;
	cl_err frc = committer_flush(&w->cm, &ferr);
	if (rc == CL_OK && frc != CL_OK) {
		*err = ferr;
		rc = frc;
	}
	if (rc == CL_OK)
		rc = count_pending(w, &w->stats.pending, err);
	if (stats != NULL)
		*stats = w->stats;
out:
	if (w != NULL) {
		committer_stop(&w->cm);
		for (size_t i = 0; i < w->nsubs; i++)
			sub_free(w->subs[i]);
		free(w->subs);
		free(w->batch);
		free(w->jobs);
		free(w->outcomes);
		cl_wh_engine_free(w->engine);
		if (w->guard_inited)
			pthread_rwlock_destroy(&w->guard.lock);
		free(w);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
