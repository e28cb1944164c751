/* webhook_state.c - the wh_* databases and their records, and the webhook event codecs (see
 * webhook_state.h for the layout). */
#include "export/webhook_state.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "ledger/envelope.h"
#include "ledger/log.h"
#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"

#define REC_VERSION 1
#define KEY_MAX (CL_WEBHOOK_ID_LEN + 1 + 8)

cl_err cl_wh__dbs(MDB_txn *txn, bool create, cl_wh_dbs *out, bool *present, cl_error *err)
{
	struct { const char *name; MDB_dbi *dbi; } dbs[] = {
		{"wh_subs", &out->subs}, {"wh_secrets", &out->secrets}, {"wh_attempts", &out->attempts},
		{"wh_dead", &out->dead},
	};
	if (present != NULL)
		*present = true;
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		int rc = mdb_dbi_open(txn, dbs[i].name, create ? MDB_CREATE : 0, dbs[i].dbi);
		if (rc == MDB_NOTFOUND && !create && present != NULL) {
			*present = false;
			return CL_OK;
		}
		if (rc != 0)
			return cl_store_mdb_error(err, rc, "open webhook database");
	}
	return CL_OK;
}

static cl_err create_cb(MDB_txn *txn, void *ctx, cl_error *err)
{
	return cl_wh__dbs(txn, true, ctx, NULL, err);
}

cl_err cl_wh__dbs_open(cl_store *s, bool create, cl_wh_dbs *out, bool *present, cl_error *err)
{
	MDB_txn *txn;
	if (present != NULL)
		*present = true;
	if (create)
		return cl_store_write(s, create_cb, out, err);
	cl_err rc = cl_store_read_begin(s, &txn, err);
	if (rc != CL_OK)
		return rc;
	bool here = false;
	rc = cl_wh__dbs(txn, false, out, &here, err);
	if (rc != CL_OK || !here) {
		mdb_txn_abort(txn);
		if (present != NULL)
			*present = false;
		return rc;
	}
	int mrc = mdb_txn_commit(txn); /* a read-only commit keeps the handles open */
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, "commit");
	return CL_OK;
}

const char *cl_wh__state_name(cl_wh_state_kind k)
{
	switch (k) {
	case CL_WH_ACTIVE: return "active";
	case CL_WH_DISABLED: return "disabled";
	case CL_WH_REMOVED: return "removed";
	default: return "unknown";
	}
}

int cl_wh__id_valid(const char *id)
{
	if (id == NULL || strnlen(id, CL_WEBHOOK_ID_LEN + 1) != CL_WEBHOOK_ID_LEN || memcmp(id, "wh_", 3) != 0)
		return 0;
	for (size_t i = 3; i < CL_WEBHOOK_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

/* ---- wh_subs ------------------------------------------------------------------------------- */

static cl_err state_encode(cl_buf *out, const cl_wh_sub_state *s)
{
	cl_mp_writer w;
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 13);
	cl_mp_str(&w, "v");
	cl_mp_uint(&w, REC_VERSION);
	cl_mp_str(&w, "sub_seq");
	cl_mp_uint(&w, s->sub_seq);
	cl_mp_str(&w, "removed_seq");
	cl_mp_uint(&w, s->removed_seq);
	cl_mp_str(&w, "state");
	cl_mp_str(&w, cl_wh__state_name(s->state));
	cl_mp_str(&w, "gen");
	cl_mp_uint(&w, s->gen);
	cl_mp_str(&w, "cursor");
	cl_mp_uint(&w, s->cursor);
	cl_mp_str(&w, "retry_seq");
	cl_mp_uint(&w, s->retry_seq);
	cl_mp_str(&w, "fails");
	cl_mp_uint(&w, s->fails);
	cl_mp_str(&w, "next_at");
	cl_mp_int(&w, s->next_at);
	cl_mp_str(&w, "delivered");
	cl_mp_uint(&w, s->delivered);
	cl_mp_str(&w, "failed");
	cl_mp_uint(&w, s->failed);
	cl_mp_str(&w, "dead");
	cl_mp_uint(&w, s->dead);
	cl_mp_str(&w, "reason");
	cl_mp_strn(&w, s->reason, strnlen(s->reason, sizeof(s->reason)));
	return w.rc;
}

static bool read_text(cl_mp_reader *r, char *out, size_t cap)
{
	cl_bytes b;
	if (!cl_mp_read_str(r, &b))
		return false;
	if (b.len >= cap)
		return cl_mp_fail(r, "text too long");
	memcpy(out, b.ptr, b.len);
	out[b.len] = '\0';
	return true;
}

cl_err cl_wh__state_decode(cl_bytes v, cl_wh_sub_state *out, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n = 0;
	uint64_t ver = 0, fails = 0;
	char state[16];
	memset(out, 0, sizeof(*out));
	cl_mp_reader_init(&r, v);
	bool ok = cl_mp_read_map(&r, &n) && n == 13 && cl_mp_expect_key(&r, "v") && cl_mp_read_uint(&r, &ver) &&
		  ver == REC_VERSION && cl_mp_expect_key(&r, "sub_seq") && cl_mp_read_uint(&r, &out->sub_seq) &&
		  cl_mp_expect_key(&r, "removed_seq") && cl_mp_read_uint(&r, &out->removed_seq) &&
		  cl_mp_expect_key(&r, "state") && read_text(&r, state, sizeof(state)) &&
		  cl_mp_expect_key(&r, "gen") && cl_mp_read_uint(&r, &out->gen) && cl_mp_expect_key(&r, "cursor") &&
		  cl_mp_read_uint(&r, &out->cursor) && cl_mp_expect_key(&r, "retry_seq") &&
		  cl_mp_read_uint(&r, &out->retry_seq) && cl_mp_expect_key(&r, "fails") && cl_mp_read_uint(&r, &fails) &&
		  fails <= UINT32_MAX && cl_mp_expect_key(&r, "next_at") && cl_mp_read_int(&r, &out->next_at) &&
		  cl_mp_expect_key(&r, "delivered") && cl_mp_read_uint(&r, &out->delivered) &&
		  cl_mp_expect_key(&r, "failed") && cl_mp_read_uint(&r, &out->failed) && cl_mp_expect_key(&r, "dead") &&
		  cl_mp_read_uint(&r, &out->dead) && cl_mp_expect_key(&r, "reason") &&
		  read_text(&r, out->reason, sizeof(out->reason)) && cl_mp_left(&r) == 0;
	if (ok) {
		out->fails = (uint32_t)fails;
		if (strcmp(state, "active") == 0)
			out->state = CL_WH_ACTIVE;
		else if (strcmp(state, "disabled") == 0)
			out->state = CL_WH_DISABLED;
		else if (strcmp(state, "removed") == 0)
			out->state = CL_WH_REMOVED;
		else
			ok = false;
	}
	if (!ok)
		return cl_error_set(err, CL_EINTEGRITY, "webhook state record is malformed (%s)",
				    r.error ? r.error : "unexpected value");
	return CL_OK;
}

cl_err cl_wh__state_get(MDB_txn *txn, const cl_wh_dbs *d, const char *id, cl_wh_sub_state *out, cl_error *err)
{
	MDB_val k = {strlen(id), (void *)id}, v;
	int rc = mdb_get(txn, d->subs, &k, &v);
	if (rc == MDB_NOTFOUND)
		return cl_error_set(err, CL_ENOTFOUND, "no webhook subscription %.64s", id);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "get webhook state");
	cl_err e = cl_wh__state_decode(CL_BYTES(v.mv_data, v.mv_size), out, err);
	if (e != CL_OK)
		cl_error_prefix(err, "%.64s", id);
	return e;
}

cl_err cl_wh__state_put(MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_sub_state *s, cl_error *err)
{
	cl_buf b = CL_BUF_INIT(1024);
	cl_err rc = state_encode(&b, s);
	if (rc != CL_OK) {
		cl_buf_free(&b);
		return cl_error_set(err, rc, "cannot encode webhook state");
	}
	MDB_val k = {strlen(id), (void *)id}, v = {b.len, b.ptr};
	int mrc = mdb_put(txn, d->subs, &k, &v, 0);
	cl_buf_free(&b);
	return mrc == 0 ? CL_OK : cl_store_put_error(err, mrc);
}

uint64_t cl_wh__gen_get(MDB_txn *txn, const cl_wh_dbs *d)
{
	MDB_val k = {strlen(CL_WH_GEN_KEY), (void *)CL_WH_GEN_KEY}, v;
	if (mdb_get(txn, d->subs, &k, &v) != 0 || v.mv_size != 8)
		return 0;
	return cl_be64_get(v.mv_data);
}

cl_err cl_wh__gen_bump(MDB_txn *txn, const cl_wh_dbs *d, cl_error *err)
{
	uint8_t b[8];
	cl_be64_put(b, cl_wh__gen_get(txn, d) + 1);
	MDB_val k = {strlen(CL_WH_GEN_KEY), (void *)CL_WH_GEN_KEY}, v = {8, b};
	int rc = mdb_put(txn, d->subs, &k, &v, 0);
	return rc == 0 ? CL_OK : cl_store_put_error(err, rc);
}

/* ---- definitions and the webhook events ---------------------------------------------------- */

static int glob_char_ok(char c)
{
	return c > 0x20 && c < 0x7f && c != ',';
}

cl_err cl_wh__globs_parse(cl_wh_def *d, const char *list, cl_error *err)
{
	d->nglobs = 0;
	if (list == NULL || list[0] == '\0')
		list = "*";
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0)
			return cl_error_set(err, CL_EBADINPUT, "--events has an empty glob (use e.g. \"cert.*,primary.*\")");
		if (n > CL_WH_GLOB_MAX)
			return cl_error_set(err, CL_EBADINPUT, "--events glob \"%.20s...\" is over %d characters", p,
					    CL_WH_GLOB_MAX);
		if (d->nglobs == CL_WH_GLOBS_MAX)
			return cl_error_set(err, CL_EBADINPUT, "--events has over %d globs", CL_WH_GLOBS_MAX);
		for (size_t i = 0; i < n; i++)
			if (!glob_char_ok(p[i]))
				return cl_error_set(err, CL_EBADINPUT,
						    "--events glob \"%.*s\" has a character that is not printable ASCII",
						    (int)n, p);
		memcpy(d->globs[d->nglobs], p, n);
		d->globs[d->nglobs][n] = '\0';
		d->nglobs++;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return CL_OK;
}

int cl_wh__def_matches(const cl_wh_def *d, const char *type)
{
	for (size_t i = 0; i < d->nglobs; i++)
		if (fnmatch(d->globs[i], type, 0) == 0)
			return 1;
	return 0;
}

cl_err cl_wh__subscribed_encode(cl_buf *out, const cl_wh_def *d)
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 6);
	cl_mp_str(&w, "webhook_id");
	cl_mp_str(&w, d->id);
	cl_mp_str(&w, "url");
	cl_mp_str(&w, d->url);
	cl_mp_str(&w, "events");
	cl_mp_array(&w, (uint32_t)d->nglobs);
	for (size_t i = 0; i < d->nglobs; i++)
		cl_mp_str(&w, d->globs[i]);
	cl_mp_str(&w, "retry");
	cl_mp_array(&w, (uint32_t)d->retry.nsteps);
	for (size_t i = 0; i < d->retry.nsteps; i++)
		cl_mp_uint(&w, d->retry.step_s[i]);
	cl_mp_str(&w, "allow_private");
	cl_mp_bool(&w, d->allow_private);
	cl_mp_str(&w, "secret_sha256");
	cl_mp_bin(&w, d->secret_sha256, 32);
	return w.rc;
}

cl_err cl_wh__unsubscribed_encode(cl_buf *out, const char *id)
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 1);
	cl_mp_str(&w, "webhook_id");
	cl_mp_str(&w, id);
	return w.rc;
}

cl_err cl_wh__subscribed_decode(cl_bytes data, cl_wh_def *out, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n = 0, ng = 0, nr = 0;
	cl_bytes sha;
	memset(out, 0, sizeof(*out));
	cl_mp_reader_init(&r, data);
	bool ok = cl_mp_read_map(&r, &n) && n == 6 && cl_mp_expect_key(&r, "webhook_id") &&
		  read_text(&r, out->id, sizeof(out->id)) && cl_mp_expect_key(&r, "url") &&
		  read_text(&r, out->url, sizeof(out->url)) && cl_mp_expect_key(&r, "events") &&
		  cl_mp_read_array(&r, &ng) && ng >= 1 && ng <= CL_WH_GLOBS_MAX;
	for (uint32_t i = 0; ok && i < ng; i++)
		ok = read_text(&r, out->globs[i], sizeof(out->globs[i]));
	out->nglobs = ok ? ng : 0;
	ok = ok && cl_mp_expect_key(&r, "retry") && cl_mp_read_array(&r, &nr) && nr >= 1 && nr <= CL_WH_RETRY_MAX_STEPS;
	for (uint32_t i = 0; ok && i < nr; i++) {
		uint64_t s = 0;
		ok = cl_mp_read_uint(&r, &s) && s >= 1 && s <= CL_WH_RETRY_STEP_MAX_S;
		out->retry.step_s[i] = (uint32_t)s;
	}
	out->retry.nsteps = ok ? nr : 0;
	ok = ok && cl_mp_expect_key(&r, "allow_private") && cl_mp_read_bool(&r, &out->allow_private) &&
	     cl_mp_expect_key(&r, "secret_sha256") && cl_mp_read_bin_n(&r, 32, &sha) && cl_mp_left(&r) == 0;
	if (ok)
		memcpy(out->secret_sha256, sha.ptr, 32);
	if (!ok || !cl_wh__id_valid(out->id))
		return cl_error_set(err, CL_EINTEGRITY, "webhook.subscribed data is malformed (%s)",
				    r.error ? r.error : "unexpected value");
	return CL_OK;
}

cl_err cl_wh__def_load(cl_store *s, MDB_txn *txn, uint64_t seq, const char *expect_id, cl_wh_def *out,
		       cl_error *err)
{
	cl_bytes env;
	cl_event ev;
	if (cl_log__get(s, txn, seq, &env) != CL_OK)
		return cl_error_set(err, CL_EINTEGRITY, "webhook %.64s: its event at seq %llu is missing", expect_id,
				    (unsigned long long)seq);
	cl_err rc = cl_envelope_decode(env, &ev, err);
	if (rc != CL_OK)
		return cl_error_prefix(err, "webhook %.64s: seq %llu", expect_id, (unsigned long long)seq),
		       CL_EINTEGRITY;
	if (!cl_event_is(&ev, "webhook.subscribed"))
		return cl_error_set(err, CL_EINTEGRITY, "webhook %.64s: seq %llu is not webhook.subscribed", expect_id,
				    (unsigned long long)seq);
	rc = cl_wh__subscribed_decode(ev.data, out, err);
	if (rc != CL_OK)
		return cl_error_prefix(err, "seq %llu", (unsigned long long)seq);
	if (strcmp(out->id, expect_id) != 0)
		return cl_error_set(err, CL_EINTEGRITY, "webhook %.64s: seq %llu subscribes %s", expect_id,
				    (unsigned long long)seq, out->id);
	out->ts = ev.ts;
	return CL_OK;
}

/* ---- wh_attempts and wh_dead --------------------------------------------------------------- */

static size_t make_key(uint8_t out[KEY_MAX], const char *id, uint64_t n)
{
	size_t len = strnlen(id, CL_WEBHOOK_ID_LEN);
	memcpy(out, id, len);
	out[len] = 0;
	cl_be64_put(out + len + 1, n);
	return len + 9;
}

static int key_is_of(const MDB_val *k, const char *id)
{
	size_t len = strnlen(id, CL_WEBHOOK_ID_LEN);
	return k->mv_size == len + 9 && memcmp(k->mv_data, id, len) == 0 && ((const uint8_t *)k->mv_data)[len] == 0;
}

static uint64_t key_n(const MDB_val *k)
{
	return cl_be64_get((const uint8_t *)k->mv_data + k->mv_size - 8);
}

static cl_err attempt_encode(cl_buf *out, const cl_wh_attempt_rec *a)
{
	cl_mp_writer w;
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 9);
	cl_mp_str(&w, "at");
	cl_mp_int(&w, a->at);
	cl_mp_str(&w, "seq");
	cl_mp_uint(&w, a->seq);
	cl_mp_str(&w, "event_id");
	cl_mp_bin(&w, a->event_id, 32);
	cl_mp_str(&w, "attempt");
	cl_mp_uint(&w, a->attempt);
	cl_mp_str(&w, "status");
	cl_mp_int(&w, a->status);
	cl_mp_str(&w, "duration_us");
	cl_mp_int(&w, a->duration_us);
	cl_mp_str(&w, "result");
	cl_mp_str(&w, a->result);
	cl_mp_str(&w, "error");
	cl_mp_strn(&w, a->error, strnlen(a->error, sizeof(a->error)));
	cl_mp_str(&w, "next_at");
	cl_mp_int(&w, a->next_at);
	return w.rc;
}

static bool attempt_decode(cl_bytes v, cl_wh_attempt_rec *a)
{
	cl_mp_reader r;
	uint32_t n = 0;
	uint64_t att = 0;
	cl_bytes id;
	memset(a, 0, sizeof(*a));
	cl_mp_reader_init(&r, v);
	bool ok = cl_mp_read_map(&r, &n) && n == 9 && cl_mp_expect_key(&r, "at") && cl_mp_read_int(&r, &a->at) &&
		  cl_mp_expect_key(&r, "seq") && cl_mp_read_uint(&r, &a->seq) && cl_mp_expect_key(&r, "event_id") &&
		  cl_mp_read_bin_n(&r, 32, &id) && cl_mp_expect_key(&r, "attempt") && cl_mp_read_uint(&r, &att) &&
		  att <= UINT32_MAX && cl_mp_expect_key(&r, "status") && cl_mp_read_int(&r, &a->status) &&
		  cl_mp_expect_key(&r, "duration_us") && cl_mp_read_int(&r, &a->duration_us) &&
		  cl_mp_expect_key(&r, "result") && read_text(&r, a->result, sizeof(a->result)) &&
		  cl_mp_expect_key(&r, "error") && read_text(&r, a->error, sizeof(a->error)) &&
		  cl_mp_expect_key(&r, "next_at") && cl_mp_read_int(&r, &a->next_at) && cl_mp_left(&r) == 0;
	if (ok) {
		memcpy(a->event_id, id.ptr, 32);
		a->attempt = (uint32_t)att;
	}
	return ok;
}

/* The last key number of id in dbi (0 if none). */
static cl_err last_n(MDB_txn *txn, MDB_dbi dbi, const char *id, uint64_t *out, cl_error *err)
{
	MDB_cursor *c;
	uint8_t kb[KEY_MAX];
	*out = 0;
	int rc = mdb_cursor_open(txn, dbi, &c);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "cursor");
	MDB_val k = {make_key(kb, id, UINT64_MAX), kb}, v;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0)
		rc = key_is_of(&k, id) ? 0 : mdb_cursor_get(c, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && key_is_of(&k, id))
		*out = key_n(&k);
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return cl_store_mdb_error(err, rc, "cursor");
	return CL_OK;
}

cl_err cl_wh__attempt_append(MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_attempt_rec *a,
			     uint64_t *cache, cl_error *err)
{
	uint8_t kb[KEY_MAX];
	uint64_t n = 0;
	cl_buf b = CL_BUF_INIT(4096);
	cl_err rc = CL_OK;
	if (cache != NULL && *cache != UINT64_MAX)
		n = *cache;
	else
		rc = last_n(txn, d->attempts, id, &n, err);
	if (rc != CL_OK)
		return rc;
	rc = attempt_encode(&b, a);
	if (rc != CL_OK) {
		cl_buf_free(&b);
		return cl_error_set(err, rc, "cannot encode a webhook attempt");
	}
	MDB_val k = {make_key(kb, id, n + 1), kb}, v = {b.len, b.ptr};
	int mrc = mdb_put(txn, d->attempts, &k, &v, 0);
	cl_buf_free(&b);
	if (mrc != 0)
		return cl_store_put_error(err, mrc);
	if (n + 1 > CL_WEBHOOK_ATTEMPTS_KEPT) {
		MDB_val old = {make_key(kb, id, n + 1 - CL_WEBHOOK_ATTEMPTS_KEPT), kb};
		mrc = mdb_del(txn, d->attempts, &old, NULL);
		if (mrc != 0 && mrc != MDB_NOTFOUND)
			return cl_store_put_error(err, mrc);
	}
	if (cache != NULL)
		*cache = n + 1;
	return CL_OK;
}

/* Walks the keys of id in dbi in order, calling fn(ctx, n, value) until it returns non-zero. */
typedef int (*walk_fn)(void *ctx, uint64_t n, cl_bytes v, cl_err *rc);

static cl_err walk(MDB_txn *txn, MDB_dbi dbi, const char *id, walk_fn fn, void *ctx, cl_error *err)
{
	MDB_cursor *c;
	uint8_t kb[KEY_MAX];
	cl_err out = CL_OK;
	int rc = mdb_cursor_open(txn, dbi, &c);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "cursor");
	MDB_val k = {make_key(kb, id, 0), kb}, v;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && key_is_of(&k, id);
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (fn(ctx, key_n(&k), CL_BYTES(v.mv_data, v.mv_size), &out))
			break;
	}
	mdb_cursor_close(c);
	if (out != CL_OK)
		return cl_error_set(err, out, "a webhook record of %.64s is malformed", id);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return cl_store_mdb_error(err, rc, "cursor");
	return CL_OK;
}

typedef struct attempt_walk {
	cl_wh_attempt_fn cb;
	void *ctx;
} attempt_walk;

static int attempt_step(void *ctx, uint64_t n, cl_bytes v, cl_err *rc)
{
	attempt_walk *w = ctx;
	cl_wh_attempt_rec a;
	if (!attempt_decode(v, &a)) {
		*rc = CL_EINTEGRITY;
		return 1;
	}
	return w->cb(n, &a, w->ctx);
}

cl_err cl_wh__attempts_each(MDB_txn *txn, const cl_wh_dbs *d, const char *id, cl_wh_attempt_fn cb, void *ctx,
			    cl_error *err)
{
	attempt_walk w = {cb, ctx};
	return walk(txn, d->attempts, id, attempt_step, &w, err);
}

static cl_err dead_encode(cl_buf *out, const cl_wh_dead_rec *r)
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 8);
	cl_mp_str(&w, "at");
	cl_mp_int(&w, r->at);
	cl_mp_str(&w, "seq");
	cl_mp_uint(&w, r->seq);
	cl_mp_str(&w, "event_id");
	cl_mp_bin(&w, r->event_id, 32);
	cl_mp_str(&w, "type");
	cl_mp_str(&w, r->type);
	cl_mp_str(&w, "attempts");
	cl_mp_uint(&w, r->attempts);
	cl_mp_str(&w, "status");
	cl_mp_int(&w, r->status);
	cl_mp_str(&w, "error");
	cl_mp_strn(&w, r->error, strnlen(r->error, sizeof(r->error)));
	cl_mp_str(&w, "redelivered_at");
	cl_mp_int(&w, r->redelivered_at);
	return w.rc;
}

static bool dead_decode(cl_bytes v, cl_wh_dead_rec *r)
{
	cl_mp_reader rd;
	uint32_t n = 0;
	uint64_t att = 0;
	cl_bytes id;
	memset(r, 0, sizeof(*r));
	cl_mp_reader_init(&rd, v);
	bool ok = cl_mp_read_map(&rd, &n) && n == 8 && cl_mp_expect_key(&rd, "at") && cl_mp_read_int(&rd, &r->at) &&
		  cl_mp_expect_key(&rd, "seq") && cl_mp_read_uint(&rd, &r->seq) && cl_mp_expect_key(&rd, "event_id") &&
		  cl_mp_read_bin_n(&rd, 32, &id) && cl_mp_expect_key(&rd, "type") &&
		  read_text(&rd, r->type, sizeof(r->type)) && cl_mp_expect_key(&rd, "attempts") &&
		  cl_mp_read_uint(&rd, &att) && att <= UINT32_MAX && cl_mp_expect_key(&rd, "status") &&
		  cl_mp_read_int(&rd, &r->status) && cl_mp_expect_key(&rd, "error") &&
		  read_text(&rd, r->error, sizeof(r->error)) && cl_mp_expect_key(&rd, "redelivered_at") &&
		  cl_mp_read_int(&rd, &r->redelivered_at) && cl_mp_left(&rd) == 0;
	if (ok) {
		memcpy(r->event_id, id.ptr, 32);
		r->attempts = (uint32_t)att;
	}
	return ok;
}

static cl_err dead_write(MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_dead_rec *r, cl_error *err)
{
	uint8_t kb[KEY_MAX];
	cl_buf b = CL_BUF_INIT(4096);
	cl_err rc = dead_encode(&b, r);
	if (rc != CL_OK) {
		cl_buf_free(&b);
		return cl_error_set(err, rc, "cannot encode a dead letter");
	}
	MDB_val k = {make_key(kb, id, r->seq), kb}, v = {b.len, b.ptr};
	int mrc = mdb_put(txn, d->dead, &k, &v, 0);
	cl_buf_free(&b);
	return mrc == 0 ? CL_OK : cl_store_put_error(err, mrc);
}

cl_err cl_wh__dead_put(MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_dead_rec *r, cl_error *err)
{
	return dead_write(txn, d, id, r, err);
}

cl_err cl_wh__dead_redelivered(MDB_txn *txn, const cl_wh_dbs *d, const char *id, uint64_t seq, int64_t at,
			       cl_error *err)
{
	uint8_t kb[KEY_MAX];
	cl_wh_dead_rec r;
	MDB_val k = {make_key(kb, id, seq), kb}, v;
	int mrc = mdb_get(txn, d->dead, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return CL_OK;
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, "get dead letter");
	if (!dead_decode(CL_BYTES(v.mv_data, v.mv_size), &r))
		return cl_error_set(err, CL_EINTEGRITY, "a dead letter of %.64s is malformed", id);
	if (r.redelivered_at != 0)
		return CL_OK;
	r.redelivered_at = at;
	return dead_write(txn, d, id, &r, err);
}

typedef struct dead_walk {
	cl_wh_dead_fn cb;
	void *ctx;
} dead_walk;

static int dead_step(void *ctx, uint64_t n, cl_bytes v, cl_err *rc)
{
	dead_walk *w = ctx;
	cl_wh_dead_rec r;
	(void)n;
	if (!dead_decode(v, &r)) {
		*rc = CL_EINTEGRITY;
		return 1;
	}
	return w->cb(&r, w->ctx);
}

cl_err cl_wh__dead_each(MDB_txn *txn, const cl_wh_dbs *d, const char *id, cl_wh_dead_fn cb, void *ctx, cl_error *err)
{
	dead_walk w = {cb, ctx};
	return walk(txn, d->dead, id, dead_step, &w, err);
}
