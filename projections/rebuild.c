/* rebuild.c - dropping every read model and replaying the log into it (cl_proj_rebuild).
 *
 * Protocol. The first transaction empties every p_* database (and deletes p_* databases this
 * build does not know) and sets p_settings "rebuild" = the head seq being rebuilt. From then on
 * the apply hook refuses writes and the queries refuse reads (cl_proj__check_ready), so nobody
 * sees or builds on half-built read models. The log is then replayed in transactions of
 * CL_PROJ_REBUILD_CHUNK events, each committed on its own. Replay checks seq continuity, the
 * hash chain (prev = SHA-256 of the previous body) and ts order as it goes; signatures are
 * `verify`'s job. The last transaction deletes the marker. If the process dies in between, the
 * marker stays: reads and writes keep being refused with a message naming `certledger
 * rebuild`, which starts again from scratch (a rebuild never trusts half-built state, so there
 * is nothing to resume from). The same cl_proj__apply_dbs that maintains the read models event
 * by event is used here, so the rebuilt databases hold exactly the same keys and values.
 *
 * Speed. The read models are updated at random keys, so a chunk dirties most of their pages and
 * every commit writes and syncs them all again: more events per chunk means fewer rewrites but
 * more dirty pages held by LMDB (whose dirty list is capped at 128k pages; it spills beyond).
 * Measured on the 2-core build machine rebuilding 1,004,003 events (docs/performance.md):
 * 32,768 events per chunk: 79,000 events/s, 2.7 GB written, 187 MB anonymous memory; 65,536:
 * 100,000 events/s, 1.8 GB, 209 MB; 131,072 (the choice): 111,000 events/s, 1.2 GB, 232 MB;
 * the whole log in one transaction: 143,000 events/s, 0.25 GB, 250 MB. The write-only
 * indexes (history, timeline, email and expiry indexes) are collected during a chunk and written
 * in key order at its end (cl_proj__index_put): the same entries, with far better locality.
 *
 * Memory. Besides LMDB's bounded dirty pages and our per-chunk buffers, reading the whole log
 * through LMDB's map would count every page of the file in VmRSS; after each commit the pages of
 * the map this process touched are dropped from its mapping (MADV_DONTNEED on LMDB's read-only
 * map: they stay in the page cache and fault back in when read), after each commit and every
 * DROP_EVERY events within a chunk (the file does not change before the commit, so pages in use
 * just fault back in), so the file-backed part of resident memory stays at what a few thousand
 * events touch, whatever the size of the log and of the read models. The anonymous part is
 * LMDB's dirty pages (it keeps their memory for reuse), bounded by the chunk.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "certledger/projections.h"
#include "ledger/handle.h"
#include "ledger/head.h"
#include "projections/proj.h"

#define MAX_DROP 64
#define DROP_EVERY 4096 /* events between two drops of the mapped pages (see "Memory" above) */
#define AGAIN (-102) /* finish found events appended after the start: replay them too */

/* ---- the deferred index entries of one chunk (see cl_proj__index_put) ---- */

typedef struct defer_ent {
	MDB_dbi dbi;
	uint32_t klen, vlen;
	size_t off;            /* key then value bytes in the arena */
} defer_ent;

struct cl_proj_defer {
	defer_ent *v;
	size_t n, cap;
	uint8_t *arena;
	size_t used, size;
};

cl_err cl_proj__defer_add(cl_proj_defer *df, MDB_dbi dbi, cl_bytes key, cl_bytes val, cl_error *err)
{
	if (df->n == df->cap) {
		size_t nc = df->cap ? df->cap * 2 : 4096;
		defer_ent *v = realloc(df->v, nc * sizeof(*v));
		if (v == NULL)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		df->v = v;
		df->cap = nc;
	}
	size_t need = key.len + val.len;
	if (df->size - df->used < need) {
		size_t ns = df->size ? df->size * 2 : 1 << 20;
		while (ns - df->used < need)
			ns *= 2;
		uint8_t *a = realloc(df->arena, ns);
		if (a == NULL)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		df->arena = a;
		df->size = ns;
	}
	defer_ent *e = &df->v[df->n++];
	e->dbi = dbi;
	e->klen = (uint32_t)key.len;
	e->vlen = (uint32_t)val.len;
	e->off = df->used;
	memcpy(df->arena + df->used, key.ptr, key.len);
	if (val.len)
		memcpy(df->arena + df->used + key.len, val.ptr, val.len);
	df->used += need;
	return CL_OK;
}

/* An entry with its bytes located, for sorting once nothing is added any more. */
typedef struct sorted_ent {
	MDB_dbi dbi;
	MDB_val k, v;
} sorted_ent;

static int ent_cmp(const void *a, const void *b)
{
	const sorted_ent *x = a, *y = b;
	if (x->dbi != y->dbi)
		return x->dbi < y->dbi ? -1 : 1;
	size_t n = x->k.mv_size < y->k.mv_size ? x->k.mv_size : y->k.mv_size;
	int c = memcmp(x->k.mv_data, y->k.mv_data, n);
	if (c != 0)
		return c;
	return x->k.mv_size < y->k.mv_size ? -1 : x->k.mv_size > y->k.mv_size;
}

/* Writes the collected entries in (database, key) order: neighbouring keys land on pages the
 * previous put just touched. Keys are unique (seq or fingerprint in each), so the order does
 * not change the result. */
static cl_err defer_flush(cl_proj_defer *df, MDB_txn *txn, cl_error *err)
{
	sorted_ent *s = malloc((df->n ? df->n : 1) * sizeof(*s));
	if (s == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	for (size_t i = 0; i < df->n; i++) {
		const defer_ent *e = &df->v[i];
		s[i].dbi = e->dbi;
		s[i].k = (MDB_val){e->klen, df->arena + e->off};
		s[i].v = (MDB_val){e->vlen, df->arena + e->off + e->klen};
	}
	qsort(s, df->n, sizeof(*s), ent_cmp);
	cl_err ret = CL_OK;
	for (size_t i = 0; i < df->n && ret == CL_OK; i++) {
		int rc = mdb_put(txn, s[i].dbi, &s[i].k, &s[i].v, 0);
		if (rc != 0)
			ret = cl_store_put_error(err, rc);
	}
	free(s);
	df->n = 0;
	df->used = 0;
	return ret;
}

static void defer_free(cl_proj_defer *df)
{
	free(df->v);
	free(df->arena);
	memset(df, 0, sizeof(*df));
}

typedef struct rebuild_ctx {
	cl_store *s;
	EVP_MD *sha256;          /* fetched once: the chain check hashes every body */
	EVP_MD_CTX *md;
	cl_proj_defer defer;
	uint64_t head;           /* replay up to this seq */
	uint64_t next;           /* first seq not replayed yet (committed) */
	uint8_t prev[CL_HASH_LEN];
	int64_t prev_ts;
	uint64_t p_next;         /* the same, pending until the chunk commits */
	uint8_t p_prev[CL_HASH_LEN];
	int64_t p_prev_ts;
} rebuild_ctx;

static bool known(const char *name)
{
	for (size_t i = 0; cl_proj__db_names[i]; i++)
		if (strcmp(cl_proj__db_names[i], name) == 0)
			return true;
	return false;
}

static cl_err start_fn(MDB_txn *txn, void *arg, cl_error *err)
{
	rebuild_ctx *c = arg;
	cl_head h;
	cl_err rc = cl_head_get(c->s, txn, &h, err);
	if (rc != CL_OK)
		return rc;
	c->head = h.seq;
	/* collect the p_* names first: the main database must not change under its cursor */
	char names[MAX_DROP][128];
	size_t n = 0;
	MDB_dbi main_db;
	MDB_cursor *cur;
	int mrc = mdb_dbi_open(txn, NULL, 0, &main_db);
	if (mrc == 0)
		mrc = mdb_cursor_open(txn, main_db, &cur);
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, "open the main database");
	MDB_val k, v;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && n < MAX_DROP;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 2 || k.mv_size >= sizeof(names[0]) || memcmp(k.mv_data, "p_", 2) != 0)
			continue;
		memcpy(names[n], k.mv_data, k.mv_size);
		names[n++][k.mv_size] = '\0';
	}
	mdb_cursor_close(cur);
	for (size_t i = 0; i < n; i++) {
		MDB_dbi dbi;
		if ((mrc = mdb_dbi_open(txn, names[i], 0, &dbi)) != 0)
			continue; /* not a database */
		/* ours are emptied, keeping their handles valid for other threads; strangers go */
		if ((mrc = mdb_drop(txn, dbi, known(names[i]) ? 0 : 1)) != 0)
			return cl_store_put_error(err, mrc);
	}
	cl_proj_dbs d;
	if ((rc = cl_proj__dbs(c->s, txn, true, &d, NULL, err)) != CL_OK)
		return rc;
	uint8_t hv[8];
	cl_be64_put(hv, c->head);
	return cl_proj__put(txn, d.settings, CL_BYTES("rebuild", 7), CL_BYTES(hv, 8), err);
}

/* Drops this process's mapping of the pages it read (see the top of the file). LMDB maps the
 * file read-only and shared (no MDB_WRITEMAP), so this loses nothing: the pages stay in the page
 * cache, other threads and processes fault them back in when they read them. LMDB does not say
 * where its map is (me_mapaddr is only set with MDB_FIXEDMAP), so the mapping of the data file
 * is found in /proc/self/maps by device and inode. Best effort: without /proc nothing happens. */
static void drop_mapped_pages(cl_store *s)
{
	int fd;
	struct stat st;
	if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) != 0)
		return;
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long start, end, off, ino;
		unsigned maj, mnr;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms, &off, &maj, &mnr, &ino) != 7)
			continue;
		if (ino == (unsigned long)st.st_ino && makedev(maj, mnr) == st.st_dev && perms[1] != 'w')
			(void)madvise((void *)start, end - start, MADV_DONTNEED);
	}
	fclose(f);
}

/* Checks one envelope of the replay (seq, chain, ts order), advances prev/prev_ts and applies
 * it. A damaged or out-of-place event is CL_EINTEGRITY naming its seq. */
static cl_err replay_one(rebuild_ctx *c, MDB_txn *txn, const cl_proj_dbs *d, uint64_t seq, cl_bytes env,
			 uint8_t prev[CL_HASH_LEN], int64_t *prev_ts, cl_error *err)
{
	cl_event ev;
	if (cl_envelope_decode(env, &ev, err) != CL_OK) {
		cl_error_prefix(err, "seq %llu", (unsigned long long)seq);
		return err->code = CL_EINTEGRITY;
	}
	if (ev.seq != seq)
		return cl_error_set(err, CL_EINTEGRITY, "the event stored at seq %llu says seq %llu",
				    (unsigned long long)seq, (unsigned long long)ev.seq);
	if (memcmp(ev.prev, prev, CL_HASH_LEN) != 0)
		return cl_error_set(err, CL_EINTEGRITY, "seq %llu: prev is not the hash of seq %llu (the hash chain is broken)",
				    (unsigned long long)seq, (unsigned long long)(seq - 1));
	if (seq > 1 && ev.ts < *prev_ts)
		return cl_error_set(err, CL_EINTEGRITY, "seq %llu: ts goes backwards", (unsigned long long)seq);
	if (EVP_DigestInit_ex2(c->md, c->sha256, NULL) != 1 || EVP_DigestUpdate(c->md, ev.body.ptr, ev.body.len) != 1 ||
	    EVP_DigestFinal_ex(c->md, prev, NULL) != 1)
		return cl_error_set(err, CL_ECRYPTO, "SHA-256 failed");
	*prev_ts = ev.ts;
	cl_err rc = cl_proj__apply_dbs(txn, d, &ev, err);
	if (rc == CL_OK || rc == CL_EMAPFULL || rc == CL_ENOMEM || rc == CL_EIO)
		return rc;
	cl_error_prefix(err, "rebuild at seq %llu", (unsigned long long)seq);
	return err->code = CL_EINTEGRITY;
}

static cl_err chunk_fn(MDB_txn *txn, void *arg, cl_error *err)
{
	rebuild_ctx *c = arg;
	cl_proj_dbs d;
	cl_err rc = cl_proj__dbs(c->s, txn, true, &d, NULL, err);
	if (rc != CL_OK)
		return rc;
	c->defer.n = c->defer.used = 0; /* this function may run again after the map grew */
	d.defer = &c->defer;
	uint8_t prev[CL_HASH_LEN];
	int64_t prev_ts = c->prev_ts;
	memcpy(prev, c->prev, CL_HASH_LEN);
	uint64_t end = c->head - c->next + 1 > CL_PROJ_REBUILD_CHUNK ? c->next + CL_PROJ_REBUILD_CHUNK - 1 : c->head;
	/* the log is walked with a cursor (a step per event, not a search); the key of every step is
	 * checked against the seq expected, so a gap is found as surely as with one get per seq */
	MDB_cursor *cur;
	int mrc = mdb_cursor_open(txn, c->s->log, &cur);
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, "cursor");
	uint8_t first[8];
	cl_be64_put(first, c->next);
	MDB_val k = {8, first}, v;
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	for (uint64_t seq = c->next; seq <= end && rc == CL_OK; seq++) {
		if (mrc != 0 && mrc != MDB_NOTFOUND) {
			rc = cl_store_mdb_error(err, mrc, "cursor");
			break;
		}
		if (mrc != 0 || k.mv_size != 8 || cl_be64_get(k.mv_data) != seq) {
			rc = cl_error_set(err, CL_EINTEGRITY, "seq %llu is missing from the log", (unsigned long long)seq);
			break;
		}
		rc = replay_one(c, txn, &d, seq, CL_BYTES(v.mv_data, v.mv_size), prev, &prev_ts, err);
		if (seq % DROP_EVERY == 0)
			drop_mapped_pages(c->s); /* the file is unchanged until commit: nothing held goes stale */
		if (seq < end)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == CL_OK)
		rc = defer_flush(&c->defer, txn, err);
	if (rc != CL_OK)
		return rc;
	c->p_next = end + 1;
	memcpy(c->p_prev, prev, CL_HASH_LEN);
	c->p_prev_ts = prev_ts;
	return CL_OK;
}

static cl_err finish_fn(MDB_txn *txn, void *arg, cl_error *err)
{
	rebuild_ctx *c = arg;
	cl_head h;
	cl_err rc = cl_head_get(c->s, txn, &h, err);
	if (rc != CL_OK)
		return rc;
	if (h.seq != c->head) {
		c->head = h.seq; /* appended without the read models (an older build?): replay those too */
		return AGAIN;
	}
	if (h.seq > 0 && memcmp(h.id, c->prev, CL_HASH_LEN) != 0)
		return cl_error_set(err, CL_EINTEGRITY, "the head record does not match the hash of seq %llu",
				    (unsigned long long)h.seq);
	MDB_dbi settings;
	if ((rc = cl_store_dbi(c->s, txn, "p_settings", 0, &settings, err)) != CL_OK)
		return rc;
	return cl_proj__del(txn, settings, CL_BYTES("rebuild", 7), err);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cl_err cl_proj_rebuild(cl_ledger *l, cl_progress_fn progress, void *progress_ctx, cl_rebuild_result *out)
{
	double t0 = now_s();
	rebuild_ctx c;
	memset(&c, 0, sizeof(c));
	if (out)
		memset(out, 0, sizeof(*out));
	if (l->read_only)
		return cl_error_set(&l->err, CL_EUSAGE, "rebuild needs a writable ledger");
	c.s = l->store;
	c.next = 1;
	c.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c.md = EVP_MD_CTX_new();
	if (c.sha256 == NULL || c.md == NULL) {
		EVP_MD_free(c.sha256);
		EVP_MD_CTX_free(c.md);
		return cl_error_set(&l->err, CL_ECRYPTO, "SHA-256 is not available");
	}
	cl_err rc = cl_store_write(l->store, start_fn, &c, &l->err);
	for (;;) {
		while (rc == CL_OK && c.next <= c.head) {
			rc = cl_store_write(l->store, chunk_fn, &c, &l->err);
			if (rc != CL_OK)
				break;
			c.next = c.p_next;
			memcpy(c.prev, c.p_prev, CL_HASH_LEN);
			c.prev_ts = c.p_prev_ts;
			drop_mapped_pages(l->store);
			if (progress)
				progress(c.next - 1, c.head, progress_ctx);
		}
		if (rc != CL_OK)
			break;
		rc = cl_store_write(l->store, finish_fn, &c, &l->err);
		if (rc != AGAIN)
			break;
		rc = CL_OK;
	}
	EVP_MD_free(c.sha256);
	EVP_MD_CTX_free(c.md);
	defer_free(&c.defer);
	if (rc == CL_OK && out) {
		out->events = c.head;
		out->seconds = now_s() - t0;
	}
	return rc;
}
