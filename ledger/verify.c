/* verify.c - `verify`: walks the whole log and checks strict decoding, seq continuity, the
 * hash chain, ts order, who signed (authority.h), every signature (on all cores), the Merkle
 * tree against every signed checkpoint and the stored nodes, and the head record.
 *
 * The log is checked in chunks: the sequential checks of a chunk run first, then its
 * signatures are verified by one thread per core, and the first bad seq of either kind is
 * reported. Memory stays flat whatever the size of the log.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/ledger.h"
#include "ledger/authority.h"
#include "ledger/checkpoint.h"
#include "ledger/handle.h"
#include "ledger/head.h"
#include "ledger/log.h"
#include "ledger/merkle.h"
#include "ledger/signer_keys.h"
#include "ledger/merkle_store.h"

#define CHUNK 8192
#define MAX_THREADS 64

typedef struct sig_item {
	cl_bytes body;
	const uint8_t *sig;
	EVP_PKEY *pkey;
	uint64_t seq;
	bool ok;
} sig_item;

typedef struct sig_job {
	sig_item *items;
	size_t from, to;
} sig_job;

typedef struct vstate {
	cl_ledger *l;
	MDB_txn *txn;
	cl_verify_result *res;
	cl_admins admins;
	cl_signer_keys keys;
	uint8_t prev[CL_HASH_LEN];
	int64_t prev_ts;
	cl_merkle_builder tree;
	uint64_t *cp_sizes; /* checkpoint sizes, ascending */
	size_t ncp, next_cp;
	sig_item *items;
	size_t nitems;
	uint64_t from_seq;
	uint64_t expect_seq;
	cl_merkle_store_ctx mctx;
	bool node_mismatch;
	unsigned bad_level;
	uint64_t bad_index;
} vstate;

static void fail(vstate *v, uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(vstate *v, uint64_t seq, const char *fmt, ...)
{
	if (!v->res->ok)
		return;
	v->res->ok = false;
	v->res->bad_seq = seq;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->res->reason, sizeof(v->res->reason), fmt, ap);
	va_end(ap);
}

static void *verify_range(void *arg)
{
	sig_job *j = arg;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	for (size_t i = j->from; i < j->to; i++)
		j->items[i].ok = ctx != NULL && cl_ed25519_verify_pkey(j->items[i].pkey, ctx, CL_EVENT_SIG_DOMAIN,
								       j->items[i].body, j->items[i].sig);
	EVP_MD_CTX_free(ctx);
	return NULL;
}

/* Verifies the collected signatures on all cores; returns the first bad seq or 0. */
static uint64_t flush_signatures(vstate *v)
{
	int threads = v->l->threads > MAX_THREADS ? MAX_THREADS : v->l->threads;
	if (threads < 1 || v->nitems < 256)
		threads = 1;
	sig_job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = {false};
	size_t per = (v->nitems + (size_t)threads - 1) / (size_t)threads;
	for (int i = 0; i < threads; i++) {
		size_t from = (size_t)i * per, to = from + per > v->nitems ? v->nitems : from + per;
		jobs[i] = (sig_job){v->items, from < v->nitems ? from : v->nitems, to};
		if (i > 0 && pthread_create(&tid[i], NULL, verify_range, &jobs[i]) == 0)
			started[i] = true;
		else if (i > 0)
			verify_range(&jobs[i]);
	}
	verify_range(&jobs[0]);
	for (int i = 1; i < threads; i++)
		if (started[i])
			pthread_join(tid[i], NULL);
	uint64_t bad = 0;
	for (size_t i = 0; i < v->nitems; i++)
		if (!v->items[i].ok) {
			bad = v->items[i].seq;
			break;
		}
	v->nitems = 0;
	return bad;
}

/* Every stored Merkle node is recomputed once, in the order the write path stored it: the
 * "put" of the replayed append compares instead of writing, so the whole `merkle` table (which
 * serves proofs) is checked against the log, not only the nodes a root happens to use. */
static cl_err compare_node(void *ctx, unsigned level, uint64_t index, const uint8_t h[32])
{
	vstate *v = ctx;
	uint8_t stored[32];
	if (cl_merkle_store_get(&v->mctx, level, index, stored) != CL_OK || memcmp(stored, h, 32) != 0) {
		if (!v->node_mismatch) {
			v->node_mismatch = true;
			v->bad_level = level;
			v->bad_index = index;
		}
	}
	return CL_OK;
}

static cl_err stored_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
	vstate *v = ctx;
	return cl_merkle_store_get(&v->mctx, level, index, out);
}

/* Sequential checks of one event. Returns false (with v->res filled) on the first fault. */
static bool check_event(vstate *v, uint64_t key_seq, cl_bytes env)
{
	cl_event ev;
	cl_error e = CL_ERROR_INIT;
	if (key_seq != v->expect_seq) {
		fail(v, v->expect_seq, "seq gap: expected seq %llu, found %llu", (unsigned long long)v->expect_seq,
		     (unsigned long long)key_seq);
		return false;
	}
	if (cl_envelope_decode(env, &ev, &e) != CL_OK) {
		fail(v, key_seq, "%.400s", e.msg);
		return false;
	}
	if (ev.seq != key_seq) {
		fail(v, key_seq, "the event stored at seq %llu says it is seq %llu", (unsigned long long)key_seq,
		     (unsigned long long)ev.seq);
		return false;
	}
	if (memcmp(ev.prev, v->prev, CL_HASH_LEN) != 0) {
		fail(v, key_seq, "hash chain broken: prev is not the SHA-256 of the previous event's body");
		return false;
	}
	if (key_seq > 1 && ev.ts < v->prev_ts) {
		fail(v, key_seq, "ts goes backwards");
		return false;
	}
	if (cl_admins_check(&v->admins, ev.seq, ev.type, ev.actor, ev.data, ev.signer, &e) != CL_OK) {
		fail(v, key_seq, "signer not allowed: %.400s", e.msg);
		return false;
	}
	if (cl_admins_apply(&v->admins, ev.seq, ev.type, ev.data, &e) != CL_OK) {
		fail(v, key_seq, "%.400s", e.msg);
		return false;
	}
	if (ev.seq == 1 || cl_event_is(&ev, "admin.added")) {
		const cl_admin *last = v->admins.n ? &v->admins.v[v->admins.n - 1] : NULL;
		if (cl_signer_keys_add(&v->keys, ev.seq == 1 ? v->admins.ledger_pub : last->pub) != CL_OK) {
			fail(v, key_seq, "cannot load a signer key");
			return false;
		}
	}
	cl_event_id(&ev, v->prev);
	v->prev_ts = ev.ts;
	if (key_seq >= v->from_seq) {
		sig_item *it = &v->items[v->nitems++];
		it->body = ev.body;
		it->sig = ev.sig;
		it->pkey = cl_signer_keys_get(&v->keys, ev.signer);
		it->seq = key_seq;
		it->ok = false;
	}
	uint8_t leaf[CL_HASH_LEN];
	cl_merkle_leaf_hash(env, leaf);
	if (cl_merkle_builder_add(&v->tree, leaf) != CL_OK) {
		fail(v, key_seq, "the Merkle tree is full");
		return false;
	}
	if (!v->node_mismatch && cl_merkle_append(stored_node, compare_node, v, key_seq - 1, leaf) != CL_OK)
		v->node_mismatch = true;
	v->expect_seq++;
	return true;
}

/* When the tree reaches a checkpoint's size, its root must be the signed one. */
static bool check_checkpoints(vstate *v)
{
	while (v->next_cp < v->ncp && v->cp_sizes[v->next_cp] == v->expect_seq - 1) {
		uint64_t size = v->cp_sizes[v->next_cp++];
		uint8_t k[8], root[CL_HASH_LEN], built[CL_HASH_LEN];
		cl_be64_put(k, size);
		MDB_val key = {8, k}, val;
		uint64_t note_size = 0;
		cl_error e = CL_ERROR_INIT;
		if (mdb_get(v->txn, v->l->store->checkpoints, &key, &val) != 0 ||
		    cl_checkpoint_open(CL_BYTES(val.mv_data, val.mv_size), v->l->origin, v->admins.ledger_pub,
				       &note_size, root, NULL, &e) != CL_OK) {
			fail(v, 0, "checkpoint at size %llu: %.400s", (unsigned long long)size,
			     e.msg[0] ? e.msg : "missing");
			return false;
		}
		cl_merkle_builder_root(&v->tree, built);
		if (note_size != size || memcmp(root, built, CL_HASH_LEN) != 0) {
			fail(v, 0, "the log's first %llu events do not have the Merkle root signed in their checkpoint",
			     (unsigned long long)size);
			return false;
		}
	}
	return true;
}

static cl_err load_checkpoint_sizes(vstate *v, uint64_t head)
{
	MDB_cursor *c;
	MDB_val k, val;
	if (mdb_cursor_open(v->txn, v->l->store->checkpoints, &c) != 0)
		return CL_EIO;
	for (int rc = mdb_cursor_get(c, &k, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &val, MDB_NEXT)) {
		if (k.mv_size != 8)
			continue;
		uint64_t *s = realloc(v->cp_sizes, (v->ncp + 1) * sizeof(*s));
		if (s == NULL) {
			mdb_cursor_close(c);
			return CL_ENOMEM;
		}
		v->cp_sizes = s;
		s[v->ncp++] = cl_be64_get(k.mv_data);
	}
	mdb_cursor_close(c);
	if (v->ncp > 0 && v->cp_sizes[v->ncp - 1] > head) {
		fail(v, head + 1, "a signed checkpoint covers %llu events but the log holds %llu (events were removed)",
		     (unsigned long long)v->cp_sizes[v->ncp - 1], (unsigned long long)head);
	}
	return CL_OK;
}

static void walk(vstate *v, cl_head *head, cl_progress_fn progress, void *pctx)
{
	MDB_cursor *c;
	MDB_val k, val;
	if (mdb_cursor_open(v->txn, v->l->store->log, &c) != 0) {
		fail(v, 0, "cannot read the log");
		return;
	}
	int rc = mdb_cursor_get(c, &k, &val, MDB_FIRST);
	while (v->res->ok && rc == 0) {
		uint64_t seq = k.mv_size == 8 ? cl_be64_get(k.mv_data) : 0;
		bool ok = k.mv_size == 8 && check_event(v, seq, CL_BYTES(val.mv_data, val.mv_size));
		if (k.mv_size != 8)
			fail(v, v->expect_seq, "a log key is not an 8-byte seq");
		/* checkpoints are only compared for a prefix whose sequential checks passed */
		if (ok && !check_checkpoints(v))
			ok = false;
		if (v->nitems == CHUNK || !ok) {
			uint64_t bad_sig = flush_signatures(v);
			if (bad_sig != 0 && (v->res->ok || bad_sig <= v->res->bad_seq || v->res->bad_seq == 0)) {
				v->res->ok = false;
				v->res->bad_seq = bad_sig;
				snprintf(v->res->reason, sizeof(v->res->reason), "bad signature");
			}
			if (progress)
				progress(v->expect_seq - 1, head->seq, pctx);
		}
		if (!v->res->ok)
			break;
		rc = mdb_cursor_get(c, &k, &val, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (v->res->ok && v->nitems > 0) {
		uint64_t bad_sig = flush_signatures(v);
		if (bad_sig != 0) {
			v->res->ok = false;
			v->res->bad_seq = bad_sig;
			snprintf(v->res->reason, sizeof(v->res->reason), "bad signature");
		}
	}
	if (progress)
		progress(v->expect_seq - 1, head->seq, pctx);
}

static void check_head_and_tree(vstate *v, const cl_head *head)
{
	uint64_t last = v->expect_seq - 1;
	if (head->seq != last) {
		fail(v, head->seq > last ? last + 1 : head->seq + 1, "the head record says seq %llu but the log ends at seq %llu",
		     (unsigned long long)head->seq, (unsigned long long)last);
		return;
	}
	if (memcmp(head->id, v->prev, CL_HASH_LEN) != 0 || (last > 0 && head->ts != v->prev_ts)) {
		fail(v, last, "the head record does not match the last event");
		return;
	}
	if (v->next_cp != v->ncp) {
		fail(v, 0, "a checkpoint size does not match any prefix of the log");
		return;
	}
	/* the stored nodes serve proofs: each must be the one the log gives */
	if (v->node_mismatch)
		fail(v, 0, "the stored Merkle node (level %u, index %llu) does not match the log", v->bad_level,
		     (unsigned long long)v->bad_index);
}

cl_err cl_ledger_verify(cl_ledger *l, uint64_t from_seq, cl_verify_result *res, cl_progress_fn progress,
			void *pctx)
{
	memset(res, 0, sizeof(*res));
	res->ok = true;
	vstate v = {0};
	v.l = l;
	v.res = res;
	v.expect_seq = 1;
	v.from_seq = from_seq ? from_seq : 1;
	cl_error merr = CL_ERROR_INIT;
	v.mctx.store = l->store;
	v.mctx.err = &merr;
	cl_merkle_builder_init(&v.tree);
	cl_head head;
	cl_err rc = cl_store_read_begin(l->store, &v.txn, &l->err);
	if (rc != CL_OK)
		return rc;
	v.items = calloc(CHUNK, sizeof(*v.items));
	if (v.items == NULL) {
		rc = cl_error_set(&l->err, CL_ENOMEM, "out of memory");
		goto out;
	}
	v.mctx.txn = v.txn;
	if ((rc = cl_head_get(l->store, v.txn, &head, &l->err)) != CL_OK)
		goto out;
	if ((rc = load_checkpoint_sizes(&v, head.seq)) != CL_OK) {
		cl_error_set(&l->err, rc, "cannot read checkpoints");
		goto out;
	}
	if (res->ok)
		walk(&v, &head, progress, pctx);
	if (res->ok)
		check_head_and_tree(&v, &head);
	res->events = v.expect_seq - 1;
	res->head = head.seq;
out:
	mdb_txn_abort(v.txn);
	cl_signer_keys_free(&v.keys);
	free(v.items);
	free(v.cp_sizes);
	cl_admins_free(&v.admins);
	return rc;
}
