/* verify_bundle.c - `verify-bundle`: checks an evidence bundle (docs/evidence.md) with no
 * ledger at hand, and names the first fault.
 *
 * Order of the checks, which fixes which fault is "first":
 *   1. the header: strict JSON, the format and version, the ledger key (and the one the auditor
 *      pinned), the checkpoint signed by that key under the origin, the auditor's old
 *      checkpoint and the consistency proof from it;
 *   2. each entry in file order: strict JSON and base64, its place (signer-registering events
 *      before the range, then the range without gaps, in order), strict envelope decoding,
 *      inside the range the hash chain, ts order and the time window, seq 1 against the header,
 *      who may sign (ledger/authority.h: the very rules the ledger's write path and `verify`
 *      use, over the admin table replayed from the registering events), then the Ed25519
 *      signature and the inclusion proof against the checkpoint;
 *   3. the end: no event of the range missing, and the header's admin list equal to the one the
 *      registering events give.
 * Faults are reported for the lowest seq; within one event in the order above.
 *
 * Speed: the sequential checks run on this thread; signatures and inclusion proofs of a chunk
 * of entries run on one thread per core while this thread already parses the next chunk.
 * Memory stays flat: two chunks of entries, whatever the size of the bundle. */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certledger/export.h"
#include "export/bundle_format.h"
#include "export/inclusion_cache.h"
#include "ledger/authority.h"
#include "ledger/checkpoint.h"
#include "ledger/encoding.h"
#include "ledger/handle.h"
#include "ledger/merkle.h"
#include "ledger/signer_keys.h"
#include "ledger/timefmt.h"

#define CHUNK 4096
#define MAX_THREADS 64

enum { FAULT_NONE = 0, FAULT_SIG, FAULT_INCLUSION };

typedef struct entry {
	uint64_t seq;
	uint8_t *env; /* owned: the decoded envelope */
	size_t env_len;
	uint8_t *proof; /* owned: n * 32 bytes */
	size_t proof_len;
	cl_bytes body;
	const uint8_t *sig;
	EVP_PKEY *pkey;
	int fault;
} entry;

typedef struct chunk {
	entry *v;
	size_t n;
} chunk;

typedef struct vb {
	FILE *in;
	cl_bundle_result *res;
	cl_error *err;
	const cl_bundle_verify_opts *o;
	int threads;
	cl_buf line;
	bool peeked;         /* line holds a line read ahead (by the out-of-order check) */
	uint8_t rbuf[1 << 16]; /* read buffer: lines are cut at "\n" only, NUL bytes and all */
	size_t rpos, rlen;
	uint64_t lineno;
	/* header */
	uint8_t root[32];
	uint64_t first, last, count; /* count 0: empty range */
	int64_t since, until;
	json_t *admins_hdr;
	/* walk state */
	cl_admins admins;
	cl_signer_keys keys;
	uint64_t prev_seq;   /* last entry's seq (0 before the first) */
	uint64_t expect;     /* next range seq */
	uint8_t prev_id[32]; /* id of the previous range event */
	int64_t prev_ts;
	chunk chunks[2];
	cl_error e;
} vb;

static void fault(vb *v, uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fault(vb *v, uint64_t seq, const char *fmt, ...)
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

/* ---- input ---- */

/* Reads one line (without its "\n") into v->line, NUL-terminated after line.len bytes (a NUL
 * inside the line is kept, and later refused by the JSON parser). 1: a line; 0: end of file;
 * -1: a read error or a line over max (a fault or err is set). */
static int read_line(vb *v, size_t max)
{
	if (v->peeked) {
		v->peeked = false;
		return 1;
	}
	cl_buf_reset(&v->line);
	bool any = false;
	for (;;) {
		if (v->rpos == v->rlen) {
			v->rlen = fread(v->rbuf, 1, sizeof(v->rbuf), v->in);
			v->rpos = 0;
			if (v->rlen == 0)
				break;
		}
		any = true;
		const uint8_t *start = v->rbuf + v->rpos;
		const uint8_t *nl = memchr(start, '\n', v->rlen - v->rpos);
		size_t n = nl ? (size_t)(nl - start) : v->rlen - v->rpos;
		v->rpos += n + (nl != NULL);
		if (v->line.len + n > max) {
			fault(v, 0, "malformed bundle: line %llu is longer than %zu bytes", (unsigned long long)v->lineno + 1,
			      max);
			return -1;
		}
		if (cl_buf_append(&v->line, start, n) != CL_OK) {
			cl_error_set(v->err, CL_ENOMEM, "out of memory");
			return -1;
		}
		if (nl != NULL)
			break;
	}
	if (ferror(v->in)) {
		cl_error_set(v->err, CL_EIO, "cannot read the bundle");
		return -1;
	}
	if (!any)
		return 0;
	if (cl_buf_append_byte(&v->line, '\0') != CL_OK) {
		cl_error_set(v->err, CL_ENOMEM, "out of memory");
		return -1;
	}
	v->line.len--;
	v->lineno++;
	return 1;
}

static unsigned b64_value(char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned)(c - 'A')
	     : c >= 'a' && c <= 'z' ? (unsigned)(c - 'a' + 26)
	     : c >= '0' && c <= '9' ? (unsigned)(c - '0' + 52)
	     : c == '+' ? 62u : 63u;
}

/* Strict base64: the standard alphabet, padding, and no bits set after the last byte, so that
 * one value has exactly one spelling. out is malloc'd (also for an empty text). */
static bool b64(const char *text, size_t n, uint8_t **out, size_t *len)
{
	if (n >= 4 && text[n - 1] == '=' &&
	    (b64_value(text[n - (text[n - 2] == '=' ? 3 : 2)]) & (text[n - 2] == '=' ? 0x0fu : 0x03u)) != 0)
		return false;
	return cl_base64_decode(out, len, text, n) == CL_OK;
}

static bool hex32(const char *text, uint8_t out[32])
{
	if (strlen(text) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			return false;
	return cl_hex_decode(out, 32, text, 64) == CL_OK;
}

/* Exactly these keys, no others. */
static bool has_keys(json_t *o, const char *const *keys, size_t n)
{
	if (!json_is_object(o) || json_object_size(o) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (json_object_get(o, keys[i]) == NULL)
			return false;
	return true;
}

static bool get_seq(json_t *j, uint64_t *out)
{
	if (!json_is_integer(j) || json_integer_value(j) < 1)
		return false;
	*out = (uint64_t)json_integer_value(j);
	return true;
}

/* ---- keys of the signers ---- */

/* ---- the header ---- */

static bool time_field(vb *v, json_t *j, const char *name, int64_t none, int64_t *out)
{
	int is_date = 0;
	if (json_is_null(j)) {
		*out = none;
		return true;
	}
	if (!json_is_string(j) || cl_time_parse(out, &is_date, json_string_value(j), 0) != CL_OK) {
		fault(v, 0, "malformed bundle: header field %s is not an RFC 3339 time or null", name);
		return false;
	}
	return true;
}

static bool check_consistency(vb *v, json_t *cons, uint64_t size)
{
	static const char *const keys[] = {"old_checkpoint", "proof"};
	json_t *old = json_object_get(cons, "old_checkpoint"), *proof = json_object_get(cons, "proof");
	uint64_t old_size;
	uint8_t old_root[32], *hashes = NULL;
	size_t len;
	cl_error e = CL_ERROR_INIT;
	if (!has_keys(cons, keys, 2) || !json_is_string(old) || !json_is_string(proof)) {
		fault(v, 0, "malformed bundle: consistency must be null or {old_checkpoint, proof}");
		return false;
	}
	if (cl_checkpoint_open(CL_BYTES(json_string_value(old), json_string_length(old)), v->res->origin,
			       v->res->public_key, &old_size, old_root, NULL, &e) != CL_OK) {
		fault(v, 0, "old checkpoint: %.400s", e.msg);
		return false;
	}
	if (!b64(json_string_value(proof), json_string_length(proof), &hashes, &len)) {
		fault(v, 0, "malformed bundle: the consistency proof is not base64");
		return false;
	}
	bool ok = old_size <= size && cl_merkle_verify_consistency(old_size, size, old_root, v->root, CL_BYTES(hashes, len));
	free(hashes);
	if (!ok) {
		fault(v, 0, "consistency proof does not verify: the checkpoint of size %llu is not a prefix of the "
			    "checkpoint of size %llu",
		      (unsigned long long)old_size, (unsigned long long)size);
		return false;
	}
	v->res->old_size = old_size;
	return true;
}

static bool header(vb *v)
{
	static const char *const keys[] = {"format", "version", "origin", "public_key", "checkpoint", "since",
					   "until", "first_seq", "last_seq", "events", "admins", "consistency"};
	cl_bundle_result *res = v->res;
	json_error_t je;
	int r = read_line(v, CL_BUNDLE_HEADER_MAX);
	if (r <= 0) {
		if (r == 0)
			fault(v, 0, "malformed bundle: the file is empty");
		return false;
	}
	json_t *h = json_loadb((const char *)v->line.ptr, v->line.len, JSON_REJECT_DUPLICATES, &je);
	bool ok = false;
	if (h == NULL || !has_keys(h, keys, sizeof(keys) / sizeof(keys[0]))) {
		fault(v, 0, "malformed bundle: line 1 is not a bundle header%s%.200s", h ? "" : ": ", h ? "" : je.text);
		goto out;
	}
	json_t *format = json_object_get(h, "format"), *origin = json_object_get(h, "origin"),
	       *pub = json_object_get(h, "public_key"), *cp = json_object_get(h, "checkpoint"),
	       *first = json_object_get(h, "first_seq"), *last = json_object_get(h, "last_seq"),
	       *events = json_object_get(h, "events"), *cons = json_object_get(h, "consistency");
	if (!json_is_string(format) || strcmp(json_string_value(format), CL_BUNDLE_FORMAT) != 0) {
		fault(v, 0, "malformed bundle: not a %s", CL_BUNDLE_FORMAT);
		goto out;
	}
	if (!json_is_integer(json_object_get(h, "version")) ||
	    json_integer_value(json_object_get(h, "version")) != CL_BUNDLE_VERSION) {
		fault(v, 0, "unsupported bundle version (this verifier reads version %d)", CL_BUNDLE_VERSION);
		goto out;
	}
	if (!json_is_string(origin) || json_string_length(origin) >= sizeof(res->origin) ||
	    cl_checkpoint_origin_check(json_string_value(origin), &v->e) != CL_OK) {
		fault(v, 0, "malformed bundle: the origin is not valid");
		goto out;
	}
	snprintf(res->origin, sizeof(res->origin), "%s", json_string_value(origin));
	if (!json_is_string(pub) || !hex32(json_string_value(pub), res->public_key)) {
		fault(v, 0, "malformed bundle: public_key is not 64 lowercase hex digits");
		goto out;
	}
	if (v->o->public_key != NULL && memcmp(v->o->public_key, res->public_key, 32) != 0) {
		fault(v, 0, "the bundle is signed by ledger key %s, not the expected one", json_string_value(pub));
		goto out;
	}
	if (!json_is_string(cp)) {
		fault(v, 0, "malformed bundle: checkpoint is not a string");
		goto out;
	}
	if (cl_checkpoint_open(CL_BYTES(json_string_value(cp), json_string_length(cp)), res->origin, res->public_key,
			       &res->tree_size, v->root, NULL, &v->e) != CL_OK) {
		fault(v, 0, "checkpoint: %.400s", v->e.msg);
		goto out;
	}
	if (!time_field(v, json_object_get(h, "since"), "since", INT64_MIN, &v->since) ||
	    !time_field(v, json_object_get(h, "until"), "until", INT64_MAX, &v->until))
		goto out;
	if (!json_is_integer(events) || json_integer_value(events) < 0) {
		fault(v, 0, "malformed bundle: events is not a count");
		goto out;
	}
	v->count = (uint64_t)json_integer_value(events);
	if (v->count == 0 ? !(json_is_null(first) && json_is_null(last))
			  : !(get_seq(first, &v->first) && get_seq(last, &v->last) && v->last >= v->first &&
			      v->last - v->first + 1 == v->count)) {
		fault(v, 0, "malformed bundle: first_seq, last_seq and events do not agree");
		goto out;
	}
	if (v->count > 0 && v->last > res->tree_size) {
		fault(v, 0, "malformed bundle: the range ends at seq %llu, after the checkpoint's tree of %llu events",
		      (unsigned long long)v->last, (unsigned long long)res->tree_size);
		goto out;
	}
	if (!json_is_array(json_object_get(h, "admins"))) {
		fault(v, 0, "malformed bundle: admins is not an array");
		goto out;
	}
	v->admins_hdr = json_incref(json_object_get(h, "admins"));
	if (!json_is_null(cons) && !check_consistency(v, cons, res->tree_size))
		goto out;
	res->first_seq = v->count ? v->first : 0;
	res->head = v->count ? v->last : 0;
	v->expect = v->first;
	ok = true;
out:
	json_decref(h);
	return ok;
}

/* ---- signatures and proofs, on all cores ---- */

/* Checks entries [from, to) of c: the signature, then the inclusion proof. */
static void check_range(chunk *c, size_t from, size_t to, EVP_MD_CTX *ctx, cl_incl_cache *ic)
{
	for (size_t i = from; i < to; i++) {
		entry *e = &c->v[i];
		uint8_t leaf[32];
		if (ctx == NULL || !cl_ed25519_verify_pkey(e->pkey, ctx, CL_EVENT_SIG_DOMAIN, e->body, e->sig)) {
			e->fault = FAULT_SIG;
			continue;
		}
		EVP_MD_CTX_reset(ctx);
		cl_merkle_leaf_hash(CL_BYTES(e->env, e->env_len), leaf);
		if (!cl_incl_cache_verify(ic, leaf, e->seq - 1, CL_BYTES(e->proof, e->proof_len)))
			e->fault = FAULT_INCLUSION;
	}
}

/* A pool of checker threads that live as long as the verification: each round, worker k
 * takes the k-th slice of the chunk handed to batch_start. */
typedef struct batch {
	vb *v;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	pthread_t tid[MAX_THREADS];
	int n;            /* workers running */
	chunk *c;         /* this round's chunk */
	uint64_t round;
	int pending;      /* workers still busy with this round */
	bool quit;
	bool ready;       /* mutex and conditions initialised */
	struct worker_arg {
		struct batch *b;
		int k;
	} args[MAX_THREADS];
} batch;

typedef struct worker_arg worker_arg;

static void *worker(void *arg)
{
	batch *b = ((worker_arg *)arg)->b;
	int k = ((worker_arg *)arg)->k;
	uint64_t seen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	cl_incl_cache ic;
	cl_incl_cache_init(&ic, b->v->res->tree_size, b->v->root);
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (b->round == seen && !b->quit)
			pthread_cond_wait(&b->go, &b->mu);
		if (b->quit)
			break;
		seen = b->round;
		chunk *c = b->c;
		int n = b->n;
		pthread_mutex_unlock(&b->mu);
		size_t per = (c->n + (size_t)n - 1) / (size_t)n, from = (size_t)k * per;
		if (from < c->n)
			check_range(c, from, from + per > c->n ? c->n : from + per, ctx, &ic);
		pthread_mutex_lock(&b->mu);
		if (--b->pending == 0)
			pthread_cond_signal(&b->done);
	}
	pthread_mutex_unlock(&b->mu);
	EVP_MD_CTX_free(ctx);
	return NULL;
}
/* Starts up to `threads` workers (none when the pool cannot start: checks then run on the
 * calling thread). */
static void batch_init(batch *b, vb *v, int threads)
{
	memset(b, 0, sizeof(*b));
	b->v = v;
	if (pthread_mutex_init(&b->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&b->go, NULL) != 0) {
		pthread_mutex_destroy(&b->mu);
		return;
	}
	if (pthread_cond_init(&b->done, NULL) != 0) {
		pthread_cond_destroy(&b->go);
		pthread_mutex_destroy(&b->mu);
		return;
	}
	b->ready = true;
	for (int k = 0; k < threads; k++) {
		b->args[k] = (worker_arg){b, k};
		if (pthread_create(&b->tid[k], NULL, worker, &b->args[k]) != 0)
			break;
		b->n++;
	}
}

static void batch_destroy(batch *b)
{
	if (!b->ready)
		return;
	if (b->n > 0) {
		pthread_mutex_lock(&b->mu);
		b->quit = true;
		pthread_cond_broadcast(&b->go);
		pthread_mutex_unlock(&b->mu);
		for (int k = 0; k < b->n; k++)
			pthread_join(b->tid[k], NULL);
	}
	pthread_cond_destroy(&b->go);
	pthread_cond_destroy(&b->done);
	pthread_mutex_destroy(&b->mu);
}

/* Hands chunk c to the workers (or checks it here when there are none). */
static void batch_start(vb *v, chunk *c, batch *b)
{
	if (b->n == 0) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		cl_incl_cache ic;
		cl_incl_cache_init(&ic, v->res->tree_size, v->root);
		check_range(c, 0, c->n, ctx, &ic);
		EVP_MD_CTX_free(ctx);
		return;
	}
	pthread_mutex_lock(&b->mu);
	b->c = c;
	b->pending = b->n;
	b->round++;
	pthread_cond_broadcast(&b->go);
	pthread_mutex_unlock(&b->mu);
}

/* Waits for the chunk's checks; reports its first failed entry. */
static void batch_finish(vb *v, chunk *c, batch *b)
{
	if (b->n > 0) {
		pthread_mutex_lock(&b->mu);
		while (b->pending > 0)
			pthread_cond_wait(&b->done, &b->mu);
		pthread_mutex_unlock(&b->mu);
	}
	for (size_t i = 0; i < c->n; i++) {
		entry *e = &c->v[i];
		if (e->fault == FAULT_SIG)
			fault(v, e->seq, "bad signature: seq %llu is not validly signed by its signer",
			      (unsigned long long)e->seq);
		else if (e->fault == FAULT_INCLUSION)
			fault(v, e->seq,
			      "inclusion proof does not verify: seq %llu against the checkpoint's tree of %llu events",
			      (unsigned long long)e->seq, (unsigned long long)v->res->tree_size);
		if (e->fault != FAULT_NONE)
			break;
	}
}

static void chunk_clear(chunk *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].env);
		free(c->v[i].proof);
	}
	c->n = 0;
}

/* Waits for chunk c's checks and empties it. Its entries come before anything the parser has
 * read since, so a fault among them takes the place of a fault the parser found meanwhile. */
static void settle(vb *v, chunk *c, batch *b)
{
	cl_bundle_result *res = v->res;
	bool had = !res->ok;
	uint64_t seq = res->bad_seq;
	char reason[sizeof(res->reason)];
	memcpy(reason, res->reason, sizeof(reason));
	res->ok = true;
	batch_finish(v, c, b);
	if (res->ok && had) {
		res->ok = false;
		res->bad_seq = seq;
		memcpy(res->reason, reason, sizeof(reason));
	}
	chunk_clear(c);
}

/* ---- entries ---- */

/* The seq of the next line, for telling a missing event from two swapped ones. */
static bool peek_seq(vb *v, uint64_t *seq)
{
	if (read_line(v, CL_BUNDLE_LINE_MAX) != 1)
		return false;
	v->peeked = true;
	json_t *j = json_loadb((const char *)v->line.ptr, v->line.len, 0, NULL);
	bool ok = j != NULL && get_seq(json_object_get(j, "seq"), seq);
	json_decref(j);
	return ok;
}

static bool is_registering(const cl_event *ev)
{
	return ev->seq == 1 ? cl_event_is(ev, "ledger.created")
			    : cl_event_is(ev, "admin.added") || cl_event_is(ev, "admin.removed");
}

/* Where the entry may stand: false (with a fault) when it is out of place. */
static bool check_place(vb *v, uint64_t seq)
{
	if (v->prev_seq == 0 && seq != 1) {
		fault(v, 1, "malformed bundle: the first entry must be seq 1 (ledger.created), not seq %llu",
		      (unsigned long long)seq);
		return false;
	}
	bool in_range = v->count > 0 && seq >= v->first;
	if (!in_range && (v->count == 0 || v->prev_seq < v->first)) {
		if (seq <= v->prev_seq) {
			fault(v, seq, "events out of order: seq %llu comes after seq %llu", (unsigned long long)seq,
			      (unsigned long long)v->prev_seq);
			return false;
		}
		return true;
	}
	if (v->count > 0 && v->expect > v->last) {
		fault(v, 0, "malformed bundle: an entry (seq %llu) after the last event of the range",
		      (unsigned long long)seq);
		return false;
	}
	if (seq == v->expect)
		return true;
	uint64_t next = 0;
	if (seq > v->expect && peek_seq(v, &next) && next == v->expect)
		fault(v, v->expect, "events out of order: seq %llu comes before seq %llu", (unsigned long long)seq,
		      (unsigned long long)v->expect);
	else if (seq > v->expect)
		fault(v, v->expect, "event seq %llu is missing (found seq %llu in its place)", (unsigned long long)v->expect,
		      (unsigned long long)seq);
	else
		fault(v, v->expect, "events out of order: seq %llu comes after seq %llu", (unsigned long long)seq,
		      (unsigned long long)v->prev_seq);
	return false;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static bool b64_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
	       ch == '/' || ch == '=';
}

/* The common shape of an entry line - an object of exactly the keys seq (digits), envelope
 * and inclusion (base64 text without escapes), in any order, JSON whitespace anywhere - read
 * without building a JSON tree. false whenever the line is anything else, and the caller
 * then parses it with jansson: so this only ever accepts what jansson would read the same way,
 * and leaves every judgement of odd input to jansson. */
static bool fast_entry(const char *s, size_t n, uint64_t *seq, const char **env, size_t *env_len, const char **proof,
		       size_t *proof_len)
{
	const char *p = s, *end = s + n;
	unsigned seen = 0;
	p = skip_ws(p, end);
	if (p == end || *p++ != '{')
		return false;
	for (int k = 0; k < 3; k++) {
		p = skip_ws(p, end);
		if (k > 0) {
			if (p == end || *p++ != ',')
				return false;
			p = skip_ws(p, end);
		}
		if (p == end || *p++ != '"')
			return false;
		const char *key = p;
		while (p < end && *p >= 'a' && *p <= 'z')
			p++;
		size_t klen = (size_t)(p - key);
		if (p == end || *p++ != '"')
			return false;
		p = skip_ws(p, end);
		if (p == end || *p++ != ':')
			return false;
		p = skip_ws(p, end);
		if (klen == 3 && memcmp(key, "seq", 3) == 0 && !(seen & 1)) {
			uint64_t v = 0;
			const char *d = p;
			if (p == end || *p < '1' || *p > '9')
				return false;
			while (p < end && *p >= '0' && *p <= '9' && p - d < 18)
				v = v * 10 + (uint64_t)(*p++ - '0');
			if (p < end && *p >= '0' && *p <= '9')
				return false; /* long numbers: jansson decides */
			*seq = v;
			seen |= 1;
			continue;
		}
		const char **out = NULL;
		size_t *out_len = NULL;
		if (klen == 8 && memcmp(key, "envelope", 8) == 0 && !(seen & 2)) {
			out = env;
			out_len = env_len;
			seen |= 2;
		} else if (klen == 9 && memcmp(key, "inclusion", 9) == 0 && !(seen & 4)) {
			out = proof;
			out_len = proof_len;
			seen |= 4;
		} else {
			return false;
		}
		if (p == end || *p++ != '"')
			return false;
		*out = p;
		while (p < end && b64_char(*p))
			p++;
		*out_len = (size_t)(p - *out);
		if (p == end || *p++ != '"')
			return false;
	}
	p = skip_ws(p, end);
	if (p == end || *p++ != '}')
		return false;
	return skip_ws(p, end) == end && seen == 7;
}

/* Parses and checks one entry line; on success appends it to c for the parallel checks. */
static bool entry_line(vb *v, chunk *c)
{
	static const char *const keys[] = {"seq", "envelope", "inclusion"};
	entry *en = &c->v[c->n];
	memset(en, 0, sizeof(en[0]));
	json_t *j = NULL;
	bool ok = false;
	uint64_t seq = 0;
	const char *env_text = NULL, *proof_text = NULL;
	size_t env_len = 0, proof_len = 0;
	cl_event ev;
	if (!fast_entry((const char *)v->line.ptr, v->line.len, &seq, &env_text, &env_len, &proof_text, &proof_len)) {
		j = json_loadb((const char *)v->line.ptr, v->line.len, JSON_REJECT_DUPLICATES, NULL);
		json_t *env = json_object_get(j, "envelope"), *proof = json_object_get(j, "inclusion");
		if (j == NULL || !has_keys(j, keys, 3) || !get_seq(json_object_get(j, "seq"), &seq) ||
		    !json_is_string(env) || !json_is_string(proof)) {
			fault(v, 0, "malformed bundle: line %llu is not an entry {seq, envelope, inclusion}",
			      (unsigned long long)v->lineno);
			goto out;
		}
		env_text = json_string_value(env);
		env_len = json_string_length(env);
		proof_text = json_string_value(proof);
		proof_len = json_string_length(proof);
	}
	if (!check_place(v, seq))
		goto out;
	if (!b64(env_text, env_len, &en->env, &en->env_len) || !b64(proof_text, proof_len, &en->proof, &en->proof_len) ||
	    en->proof_len % 32 != 0) {
		fault(v, seq, "malformed bundle: the envelope or inclusion proof of seq %llu is not base64 (of 32-byte hashes)",
		      (unsigned long long)seq);
		goto out;
	}
	if (cl_envelope_decode(CL_BYTES(en->env, en->env_len), &ev, &v->e) != CL_OK) {
		fault(v, seq, "malformed envelope: seq %llu: %.400s", (unsigned long long)seq, v->e.msg);
		goto out;
	}
	if (ev.seq != seq) {
		fault(v, seq, "malformed bundle: the entry for seq %llu holds the envelope of seq %llu", (unsigned long long)seq,
		      (unsigned long long)ev.seq);
		goto out;
	}
	bool in_range = v->count > 0 && seq >= v->first;
	if (!in_range && !is_registering(&ev)) {
		fault(v, seq, "malformed bundle: seq %llu lies before the range but is not a signer-registering event (%.*s)",
		      (unsigned long long)seq, (int)ev.type.len, ev.type.ptr);
		goto out;
	}
	if (in_range) {
		if (seq > v->first && memcmp(ev.prev, v->prev_id, 32) != 0) {
			fault(v, seq, "hash chain broken: prev of seq %llu is not the SHA-256 of seq %llu's body",
			      (unsigned long long)seq, (unsigned long long)seq - 1);
			goto out;
		}
		if (seq > v->first && ev.ts < v->prev_ts) {
			fault(v, seq, "ts goes backwards at seq %llu", (unsigned long long)seq);
			goto out;
		}
		if (ev.ts < v->since || ev.ts >= v->until) {
			fault(v, seq, "event seq %llu lies outside the bundle's time window", (unsigned long long)seq);
			goto out;
		}
	}
	if (seq == 1) {
		cl_bytes origin;
		const uint8_t *pub;
		if (cl_ledger_created_decode(ev.data, &origin, &pub, NULL, &v->e) != CL_OK ||
		    origin.len != strlen(v->res->origin) || memcmp(origin.ptr, v->res->origin, origin.len) != 0 ||
		    memcmp(pub, v->res->public_key, 32) != 0) {
			fault(v, 1, "ledger.created (seq 1) does not name the bundle's origin and ledger key");
			goto out;
		}
	}
	if (cl_admins_check(&v->admins, seq, ev.type, ev.actor, ev.data, ev.signer, &v->e) != CL_OK) {
		fault(v, seq, "signer not allowed: seq %llu: %.400s", (unsigned long long)seq, v->e.msg);
		goto out;
	}
	if (seq > 1) /* seq 1 is signed by the key it names, which the check above compared */
		en->pkey = cl_signer_keys_get(&v->keys, ev.signer);
	if (cl_admins_apply(&v->admins, seq, ev.type, ev.data, &v->e) != CL_OK) {
		fault(v, seq, "signer not allowed: seq %llu: %.400s", (unsigned long long)seq, v->e.msg);
		goto out;
	}
	if (seq == 1 || cl_event_is(&ev, "admin.added")) {
		const uint8_t *pub = seq == 1 ? v->admins.ledger_pub : v->admins.v[v->admins.n - 1].pub;
		if (cl_signer_keys_add(&v->keys, pub) != CL_OK) {
			cl_error_set(v->err, CL_ECRYPTO, "cannot load a signer key");
			goto out;
		}
	}
	if (seq == 1)
		en->pkey = cl_signer_keys_get(&v->keys, ev.signer);
	if (en->pkey == NULL) {
		fault(v, seq, "signer not allowed: seq %llu: its signing key is not known", (unsigned long long)seq);
		goto out;
	}
	en->seq = seq;
	en->body = ev.body;
	en->sig = ev.sig;
	v->prev_seq = seq;
	if (in_range) {
		cl_event_id(&ev, v->prev_id);
		v->prev_ts = ev.ts;
		v->expect = seq + 1;
		v->res->events++;
	}
	c->n++;
	ok = true;
out:
	if (!ok) {
		free(en->env);
		free(en->proof);
		en->env = en->proof = NULL;
	}
	json_decref(j);
	return ok;
}

/* Fills c until it is full, the file ends (*eof) or a fault is found. */
static void fill(vb *v, chunk *c, bool *eof)
{
	while (c->n < CHUNK && v->res->ok && v->err->code == CL_OK) {
		int r = read_line(v, CL_BUNDLE_LINE_MAX);
		if (r <= 0) {
			*eof = r == 0;
			return;
		}
		if (!entry_line(v, c))
			return;
	}
}

/* The header's admin list must be the one the registering events give. */
static void check_admins(vb *v)
{
	uint64_t bound = v->count ? v->last : 1;
	size_t n = 0;
	for (size_t i = 0; i < v->admins.n; i++)
		n += v->admins.v[i].added_seq <= bound;
	bool ok = json_array_size(v->admins_hdr) == n;
	for (size_t i = 0, k = 0; ok && i < v->admins.n; i++) {
		static const char *const keys[] = {"name", "role", "public_key", "added_seq", "removed_seq"};
		const cl_admin *a = &v->admins.v[i];
		json_t *o = json_array_get(v->admins_hdr, k++);
		json_t *name = json_object_get(o, "name"), *role = json_object_get(o, "role"),
		       *pub = json_object_get(o, "public_key"), *rem = json_object_get(o, "removed_seq");
		uint8_t p[32];
		uint64_t added = 0, removed = 0;
		ok = has_keys(o, keys, 5) && json_is_string(name) && strcmp(json_string_value(name), a->name) == 0 &&
		     json_is_string(role) && strcmp(json_string_value(role), cl_role_name(a->role)) == 0 &&
		     json_is_string(pub) && hex32(json_string_value(pub), p) && memcmp(p, a->pub, 32) == 0 &&
		     get_seq(json_object_get(o, "added_seq"), &added) && added == a->added_seq &&
		     (a->removed_seq == 0 ? json_is_null(rem) : get_seq(rem, &removed) && removed == a->removed_seq);
	}
	if (!ok)
		fault(v, 0, "the header's admins list does not match the admin.added and admin.removed events in the bundle");
}

cl_err cl_bundle_verify(FILE *in, const cl_bundle_verify_opts *o, cl_bundle_result *res, cl_error *err)
{
	cl_bundle_verify_opts def = CL_BUNDLE_VERIFY_OPTS_INIT;
	cl_error local = CL_ERROR_INIT;
	vb v;
	batch b;
	memset(&v, 0, sizeof(v));
	memset(res, 0, sizeof(*res));
	res->ok = true;
	v.in = in;
	v.res = res;
	v.err = err ? err : &local;
	v.o = o ? o : &def;
	v.line = (cl_buf)CL_BUF_INIT(CL_BUNDLE_HEADER_MAX + 1);
	v.admins = (cl_admins)CL_ADMINS_INIT;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	v.threads = v.o->threads > 0 ? v.o->threads : cores > 0 ? (int)cores : 1;
	if (v.threads > MAX_THREADS)
		v.threads = MAX_THREADS;
	cl_error_clear(v.err);
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < 2; i++)
		if ((v.chunks[i].v = calloc(CHUNK, sizeof(entry))) == NULL)
			cl_error_set(v.err, CL_ENOMEM, "out of memory");
	if (v.err->code != CL_OK || !header(&v))
		goto out;
	batch_init(&b, &v, v.threads); /* the workers' proof caches need the checkpoint's root */
	/* chunk k is checked on the other threads while this one parses chunk k+1 */
	chunk *running = NULL;
	int cur = 0;
	bool eof = false;
	for (;;) {
		chunk *c = &v.chunks[cur];
		fill(&v, c, &eof);
		if (running != NULL) {
			settle(&v, running, &b);
			running = NULL;
		}
		if (!res->ok || v.err->code != CL_OK || eof) {
			/* what this chunk parsed before its fault (or the end) is checked too */
			batch_start(&v, c, &b);
			settle(&v, c, &b);
			break;
		}
		batch_start(&v, c, &b);
		running = c;
		cur = 1 - cur;
		if (v.o->progress)
			v.o->progress(res->events, v.count, v.o->progress_ctx);
	}
	if (v.err->code != CL_OK)
		goto out;
	if (res->ok && v.count > 0 && v.expect <= v.last)
		fault(&v, v.expect, "event seq %llu is missing (the bundle ends at seq %llu)", (unsigned long long)v.expect,
		      (unsigned long long)v.prev_seq);
	if (res->ok && v.prev_seq == 0)
		fault(&v, 1, "malformed bundle: no entries (seq 1, ledger.created, must be there)");
	if (res->ok)
		check_admins(&v);
	if (v.o->progress)
		v.o->progress(res->events, v.count, v.o->progress_ctx);
out:
	batch_destroy(&b);
	for (int i = 0; i < 2; i++) {
		if (v.chunks[i].v)
			chunk_clear(&v.chunks[i]);
		free(v.chunks[i].v);
	}
	cl_signer_keys_free(&v.keys);
	cl_admins_free(&v.admins);
	json_decref(v.admins_hdr);
	cl_buf_free(&v.line);
	if (v.err->code != CL_OK) {
		res->ok = false;
		return v.err->code;
	}
	return CL_OK;
}
