/* webhook_subs.c - webhook subscriptions: `webhook add`, `remove`, `list`, `show`, `replay`.
 *
 * add checks the URL with the guard (outside any transaction: it resolves the host), reads or
 * generates the secret, and then, in ONE write transaction, appends webhook.subscribed, seals
 * the secret under the current master key (taken inside that transaction, so that it is the key
 * a concurrent rotation left the other blobs under) and stores it and the initial state. remove appends
 * webhook.unsubscribed, marks the state removed and destroys the sealed secret, also in one
 * transaction. replay changes only the operational state (no event). Reading (list, show,
 * attempts, dead letters) takes one read transaction each; definitions come from the log.
 */
#include "certledger/webhooks.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/webhook_secret.h"
#include "export/webhook_sign.h"
#include "export/webhook_state.h"
#include "ledger/append.h"
#include "ledger/encoding.h"
#include "ledger/handle.h"
#include "ledger/head.h"
#include "ledger/master_key.h"

/* A secret file may hold a line ending and trailing text after the first line; anything past
 * this many bytes is not read. */
#define SECRET_FILE_READ_MAX 4096
#define ID_TRIES 8

void cl_webhook_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
}

/* Reads the first line of path (without its line ending) and parses it as a whsec_ secret. The
 * file's bytes only ever sit in a cl_secret; messages name the file, never its content. */
static cl_err read_secret_file(cl_secret *key, const char *path, cl_error *err)
{
	cl_secret buf = CL_SECRET_INIT(SECRET_FILE_READ_MAX);
	cl_err rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cl_error_set(err, CL_EBADINPUT, "cannot open secret file %s: %s", path, strerror(errno));
	rc = cl_secret_alloc(&buf, SECRET_FILE_READ_MAX);
	if (rc != CL_OK) {
		close(fd);
		return cl_error_set(err, rc, "out of memory");
	}
	size_t got = 0;
	while (got < SECRET_FILE_READ_MAX) {
		ssize_t n = read(fd, buf.ptr + got, SECRET_FILE_READ_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cl_error_set(err, CL_EBADINPUT, "cannot read secret file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	size_t len = 0;
	while (len < got && buf.ptr[len] != '\n')
		len++;
	if (len > 0 && buf.ptr[len - 1] == '\r')
		len--;
	rc = cl_wh_secret_parse(key, (const char *)buf.ptr, len, err);
	if (rc != CL_OK)
		cl_error_prefix(err, "secret file %s", path);
out:
	close(fd);
	cl_secret_free(&buf);
	return rc;
}

/* ---- add ------------------------------------------------------------------------------------ */

typedef struct add_ctx {
	cl_wh_def def;            /* everything but the id, which is drawn inside the transaction */
	const cl_secret *key;
	char id[CL_WEBHOOK_ID_LEN + 1];
	uint64_t seq;
} add_ctx;

static cl_err new_id(char out[CL_WEBHOOK_ID_LEN + 1], cl_error *err)
{
	uint8_t r[6];
	if (RAND_bytes(r, sizeof(r)) != 1)
		return cl_error_set(err, CL_ECRYPTO, "no randomness for a webhook id");
	memcpy(out, "wh_", 3);
	cl_hex_encode(out + 3, r, sizeof(r));
	return CL_OK;
}

static cl_err add_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	add_ctx *c = arg;
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_wh_dbs d;
	cl_wh_sub_state st;
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_buf blob = CL_BUF_INIT(CL_WH_SEAL_OVERHEAD + CL_WH_KEY_MAX);
	cl_secret master = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	cl_appended ap;
	cl_err rc = cl_wh__dbs(txn, true, &d, NULL, err);
	if (rc != CL_OK)
		goto out;
	/* A fresh id that no subscription (removed ones included) has had. */
	for (int i = 0;; i++) {
		if ((rc = new_id(c->id, err)) != CL_OK)
			goto out;
		MDB_val k = {CL_WEBHOOK_ID_LEN, c->id}, v;
		int mrc = mdb_get(txn, d.subs, &k, &v);
		if (mrc == MDB_NOTFOUND)
			break;
		if (mrc != 0) {
			rc = cl_store_mdb_error(err, mrc, "get webhook state");
			goto out;
		}
		if (i == ID_TRIES) {
			rc = cl_error_set(err, CL_EINTERNAL, "could not draw an unused webhook id");
			goto out;
		}
	}
	memcpy(c->def.id, c->id, sizeof(c->id));
	if ((rc = cl_wh__subscribed_encode(&data, &c->def)) != CL_OK) {
		cl_error_set(err, rc, "webhook subscription is too large for an event");
		goto out;
	}
	cl_actor who = cl_wtxn__actor(t);
	if ((rc = cl_wtxn_append(t, &who, "webhook.subscribed", cl_buf_view(&data), &ap, err)) != CL_OK)
		goto out;
	if ((rc = cl_master_key__current(cl_wtxn__ledger(t), txn, true, &master, NULL, err)) != CL_OK)
		goto out;
	if ((rc = cl_wh__secret_seal(&blob, &master, c->id, c->key, err)) != CL_OK)
		goto out;
	MDB_val k = {CL_WEBHOOK_ID_LEN, c->id}, v = {blob.len, blob.ptr};
	int mrc = mdb_put(txn, d.secrets, &k, &v, MDB_NOOVERWRITE);
	if (mrc != 0) {
		rc = cl_store_put_error(err, mrc);
		goto out;
	}
	memset(&st, 0, sizeof(st));
	st.sub_seq = ap.seq;
	st.state = CL_WH_ACTIVE;
	st.gen = 1;
	st.cursor = ap.seq; /* it starts after its own event: see docs/webhooks.md */
	if ((rc = cl_wh__state_put(txn, &d, c->id, &st, err)) != CL_OK)
		goto out;
	if ((rc = cl_wh__gen_bump(txn, &d, err)) != CL_OK)
		goto out;
	c->seq = ap.seq;
out:
	cl_secret_free(&master);
	cl_buf_free(&data);
	cl_buf_free(&blob);
	return rc;
}

cl_err cl_webhook_add(cl_ledger *l, const char *url, const cl_webhook_add_opts *opts,
		      char id_out[CL_WEBHOOK_ID_LEN + 1], uint64_t *seq, char **secret_out)
{
	cl_webhook_add_opts def_opts = CL_WEBHOOK_ADD_OPTS_INIT;
	cl_secret key = CL_SECRET_INIT(CL_WH_KEY_MAX);
	cl_secret text = CL_SECRET_INIT(CL_WH_SECRET_TEXT_MAX + 1);
	cl_wh_target target;
	add_ctx *c = NULL;
	char *shown = NULL;
	cl_err rc;
	cl_error *err = &l->err;

	if (secret_out != NULL)
		*secret_out = NULL;
	if (opts == NULL)
		opts = &def_opts;
	if (opts->version != CL_WEBHOOK_ADD_OPTS_VERSION)
		return cl_error_set(err, CL_EUSAGE, "webhook add options version %u is not %d", opts->version,
				    CL_WEBHOOK_ADD_OPTS_VERSION);
	if (url == NULL)
		return cl_error_set(err, CL_EUSAGE, "no webhook URL given");
	if (l->read_only)
		return cl_error_set(err, CL_EUSAGE, "the ledger was opened read-only");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");

	/* Everything that can be refused is checked before anything is written. */
	rc = cl_wh_guard_check(&target, url, opts->allow_private, err);
	if (rc == CL_ENOTFOUND)
		rc = err->code = CL_EBADINPUT; /* a host that does not resolve is bad input, not "not found" */
	if (rc != CL_OK)
		goto out;
	snprintf(c->def.url, sizeof(c->def.url), "%s", target.url);
	c->def.allow_private = opts->allow_private;
	if ((rc = cl_wh__globs_parse(&c->def, opts->events, err)) != CL_OK)
		goto out;
	const char *retry = opts->retry != NULL ? opts->retry : CL_WH_RETRY_DEFAULT;
	if ((rc = cl_wh_retry_parse(&c->def.retry, retry, strlen(retry), err)) != CL_OK) {
		cl_error_prefix(err, "--retry");
		goto out;
	}
	if (opts->secret_file != NULL) {
		rc = read_secret_file(&key, opts->secret_file, err);
	} else {
		rc = cl_wh_secret_generate(&key, CL_WH_KEY_DEFAULT, err);
		if (rc == CL_OK && secret_out != NULL)
			rc = cl_wh_secret_format(&text, &key, err);
	}
	if (rc != CL_OK)
		goto out;
	cl_sha256(key.ptr, key.len, c->def.secret_sha256);
	if (text.len > 0) {
		/* Allocated before the write so that nothing can fail after the commit. */
		shown = malloc(text.len + 1);
		if (shown == NULL) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(shown, text.ptr, text.len);
		shown[text.len] = '\0';
	}
	c->key = &key;
	rc = cl_ledger__write(l, add_cb, c, err);
	if (rc != CL_OK)
		goto out;
	memcpy(id_out, c->id, sizeof(c->id));
	if (seq != NULL)
		*seq = c->seq;
	if (secret_out != NULL) {
		*secret_out = shown;
		shown = NULL;
	}
out:
	cl_webhook_secret_free(shown);
	cl_secret_free(&key);
	cl_secret_free(&text);
	free(c);
	return rc;
}

/* ---- remove --------------------------------------------------------------------------------- */

typedef struct remove_ctx {
	const char *id;
	uint64_t seq;
} remove_ctx;

static cl_err remove_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	remove_ctx *c = arg;
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_wh_dbs d;
	cl_wh_sub_state st;
	cl_buf data = CL_BUF_INIT(256);
	cl_appended ap;
	bool present = false;
	cl_err rc = cl_wh__dbs(txn, false, &d, &present, err);
	if (rc != CL_OK)
		return rc;
	if (!present)
		return cl_error_set(err, CL_ENOTFOUND, "no webhook subscription %s", c->id);
	if ((rc = cl_wh__state_get(txn, &d, c->id, &st, err)) != CL_OK)
		return rc;
	if (st.state == CL_WH_REMOVED)
		return cl_error_set(err, CL_EREFUSED, "webhook subscription %s was removed already (seq %llu)", c->id,
				    (unsigned long long)st.removed_seq);
	if ((rc = cl_wh__unsubscribed_encode(&data, c->id)) != CL_OK) {
		cl_buf_free(&data);
		return cl_error_set(err, rc, "out of memory");
	}
	cl_actor who = cl_wtxn__actor(t);
	rc = cl_wtxn_append(t, &who, "webhook.unsubscribed", cl_buf_view(&data), &ap, err);
	cl_buf_free(&data);
	if (rc != CL_OK)
		return rc;
	st.state = CL_WH_REMOVED;
	st.removed_seq = ap.seq;
	st.gen++;
	st.retry_seq = 0;
	st.fails = 0;
	st.next_at = 0;
	st.reason[0] = '\0';
	if ((rc = cl_wh__state_put(txn, &d, c->id, &st, err)) != CL_OK)
		return rc;
	/* The secret is no longer needed by anyone: destroy it. */
	MDB_val k = {strlen(c->id), (void *)c->id};
	int mrc = mdb_del(txn, d.secrets, &k, NULL);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return cl_store_put_error(err, mrc);
	if ((rc = cl_wh__gen_bump(txn, &d, err)) != CL_OK)
		return rc;
	c->seq = ap.seq;
	return CL_OK;
}

static cl_err check_id(cl_ledger *l, const char *id)
{
	if (!cl_wh__id_valid(id))
		return cl_error_set(&l->err, CL_ENOTFOUND, "no webhook subscription %.64s (ids look like wh_0123456789ab)",
				    id ? id : "");
	return CL_OK;
}

cl_err cl_webhook_remove(cl_ledger *l, const char *id, uint64_t *seq)
{
	cl_err rc = check_id(l, id);
	if (rc != CL_OK)
		return rc;
	remove_ctx c = {id, 0};
	rc = cl_ledger__write(l, remove_cb, &c, &l->err);
	if (rc == CL_OK && seq != NULL)
		*seq = c.seq;
	return rc;
}

/* ---- replay --------------------------------------------------------------------------------- */

typedef struct replay_ctx {
	cl_store *s;
	const char *id;
	uint64_t from;
	uint64_t cursor;
} replay_ctx;

static cl_err replay_cb(MDB_txn *txn, void *arg, cl_error *err)
{
	replay_ctx *c = arg;
	cl_wh_dbs d;
	cl_wh_sub_state st;
	cl_head head;
	bool present = false;
	cl_err rc = cl_wh__dbs(txn, false, &d, &present, err);
	if (rc != CL_OK)
		return rc;
	if (!present)
		return cl_error_set(err, CL_ENOTFOUND, "no webhook subscription %s", c->id);
	if ((rc = cl_wh__state_get(txn, &d, c->id, &st, err)) != CL_OK)
		return rc;
	if (st.state == CL_WH_REMOVED)
		return cl_error_set(err, CL_EREFUSED, "webhook subscription %s was removed (seq %llu); nothing to replay",
				    c->id, (unsigned long long)st.removed_seq);
	if ((rc = cl_head_get(c->s, txn, &head, err)) != CL_OK)
		return rc;
	if (c->from < 1 || c->from > head.seq + 1)
		return cl_error_set(err, CL_ENOTFOUND, "--from %llu is not a seq of this ledger (1..%llu)",
				    (unsigned long long)c->from, (unsigned long long)head.seq + 1);
	st.cursor = c->from - 1;
	st.retry_seq = 0;
	st.fails = 0;
	st.next_at = 0;
	st.state = CL_WH_ACTIVE;
	st.reason[0] = '\0';
	st.gen++;
	if ((rc = cl_wh__state_put(txn, &d, c->id, &st, err)) != CL_OK)
		return rc;
	if ((rc = cl_wh__gen_bump(txn, &d, err)) != CL_OK)
		return rc;
	c->cursor = st.cursor;
	return CL_OK;
}

cl_err cl_webhook_replay(cl_ledger *l, const char *id, uint64_t from_seq, uint64_t *cursor)
{
	cl_err rc = check_id(l, id);
	if (rc != CL_OK)
		return rc;
	replay_ctx c = {l->store, id, from_seq, 0};
	rc = cl_store_write(l->store, replay_cb, &c, &l->err);
	if (rc == CL_OK && cursor != NULL)
		*cursor = c.cursor;
	return rc;
}

/* ---- reading -------------------------------------------------------------------------------- */

/* Fills info from id's state and definition and calls cb. Returns cb's value in *stop. */
static cl_err emit_one(cl_ledger *l, MDB_txn *txn, uint64_t head, const char *id, const cl_wh_sub_state *st,
		       cl_webhook_cb cb, void *ctx, int *stop)
{
	cl_wh_def *def = malloc(sizeof(*def));
	char retry[CL_WH_RETRY_TEXT_MAX + 1];
	const char *globs[CL_WH_GLOBS_MAX];
	if (def == NULL)
		return cl_error_set(&l->err, CL_ENOMEM, "out of memory");
	cl_err rc = cl_wh__def_load(l->store, txn, st->sub_seq, id, def, &l->err);
	if (rc != CL_OK)
		goto out;
	if (cl_wh_retry_format(retry, sizeof(retry), &def->retry) != CL_OK)
		retry[0] = '\0';
	for (size_t i = 0; i < def->nglobs; i++)
		globs[i] = def->globs[i];
	cl_webhook_info w;
	memset(&w, 0, sizeof(w));
	w.id = def->id;
	w.url = def->url;
	w.events = globs;
	w.nevents = def->nglobs;
	w.retry = retry;
	w.allow_private = def->allow_private;
	memcpy(w.secret_sha256, def->secret_sha256, 32);
	w.state = cl_wh__state_name(st->state);
	w.disabled_reason = st->reason;
	w.subscribed_seq = st->sub_seq;
	w.subscribed_at = def->ts;
	w.removed_seq = st->removed_seq;
	w.cursor = st->cursor;
	w.head = head;
	w.retry_seq = st->retry_seq;
	w.failed_attempts = st->fails;
	w.next_attempt_at = st->next_at;
	w.delivered = st->delivered;
	w.failed = st->failed;
	w.dead_letters = st->dead;
	*stop = cb(&w, ctx);
out:
	free(def);
	return rc;
}

/* Begins a read transaction and opens the wh_* databases (*present false when there are none). */
static cl_err read_begin(cl_ledger *l, MDB_txn **txn, cl_wh_dbs *d, bool *present, uint64_t *head)
{
	cl_head h;
	*txn = NULL;
	cl_err rc = cl_wh__dbs_open(l->store, false, d, present, &l->err);
	if (rc != CL_OK)
		return rc;
	if ((rc = cl_store_read_begin(l->store, txn, &l->err)) != CL_OK)
		return rc;
	if (head != NULL) {
		rc = cl_head_get(l->store, *txn, &h, &l->err);
		*head = h.seq;
	}
	if (rc != CL_OK) {
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	return rc;
}

cl_err cl_webhook_list(cl_ledger *l, cl_webhook_cb cb, void *ctx)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	cl_wh_dbs d;
	bool present;
	uint64_t head = 0;
	cl_err rc = read_begin(l, &txn, &d, &present, &head);
	if (rc != CL_OK || !present)
		goto out;
	int mrc = mdb_cursor_open(txn, d.subs, &cur);
	if (mrc != 0) {
		rc = cl_store_mdb_error(&l->err, mrc, "cursor");
		goto out;
	}
	MDB_val k, v;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char id[CL_WEBHOOK_ID_LEN + 1];
		cl_wh_sub_state st;
		if (k.mv_size != CL_WEBHOOK_ID_LEN)
			continue; /* "!gen" */
		memcpy(id, k.mv_data, CL_WEBHOOK_ID_LEN);
		id[CL_WEBHOOK_ID_LEN] = '\0';
		if (!cl_wh__id_valid(id))
			continue;
		if ((rc = cl_wh__state_decode(CL_BYTES(v.mv_data, v.mv_size), &st, &l->err)) != CL_OK) {
			cl_error_prefix(&l->err, "%s", id);
			goto out;
		}
		int stop = 0;
		if ((rc = emit_one(l, txn, head, id, &st, cb, ctx, &stop)) != CL_OK || stop)
			goto out;
	}
	if (mrc != MDB_NOTFOUND)
		rc = cl_store_mdb_error(&l->err, mrc, "cursor walk of wh_subs");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* Opens a read transaction positioned on an existing subscription id. */
static cl_err read_sub(cl_ledger *l, const char *id, MDB_txn **txn, cl_wh_dbs *d, cl_wh_sub_state *st, uint64_t *head)
{
	bool present;
	cl_err rc = check_id(l, id);
	if (rc != CL_OK)
		return rc;
	if ((rc = read_begin(l, txn, d, &present, head)) != CL_OK)
		return rc;
	if (!present)
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no webhook subscription %s", id);
	else
		rc = cl_wh__state_get(*txn, d, id, st, &l->err);
	if (rc != CL_OK) {
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	return rc;
}

cl_err cl_webhook_get(cl_ledger *l, const char *id, cl_webhook_cb cb, void *ctx)
{
	MDB_txn *txn = NULL;
	cl_wh_dbs d;
	cl_wh_sub_state st;
	uint64_t head = 0;
	int stop = 0;
	cl_err rc = read_sub(l, id, &txn, &d, &st, &head);
	if (rc != CL_OK)
		return rc;
	rc = emit_one(l, txn, head, id, &st, cb, ctx, &stop);
	mdb_txn_abort(txn);
	return rc;
}

typedef struct attempts_ctx {
	cl_webhook_attempt_cb cb;
	void *ctx;
} attempts_ctx;

static int attempt_out(uint64_t n, const cl_wh_attempt_rec *a, void *arg)
{
	attempts_ctx *c = arg;
	cl_webhook_attempt pa = {n, a->at, a->seq, {0}, a->attempt, (long)a->status, a->duration_us, a->result,
				 a->error, a->next_at};
	memcpy(pa.event_id, a->event_id, 32);
	return c->cb(&pa, c->ctx);
}

cl_err cl_webhook_attempts(cl_ledger *l, const char *id, cl_webhook_attempt_cb cb, void *ctx)
{
	MDB_txn *txn = NULL;
	cl_wh_dbs d;
	cl_wh_sub_state st;
	cl_err rc = read_sub(l, id, &txn, &d, &st, NULL);
	if (rc != CL_OK)
		return rc;
	attempts_ctx c = {cb, ctx};
	rc = cl_wh__attempts_each(txn, &d, id, attempt_out, &c, &l->err);
	mdb_txn_abort(txn);
	return rc;
}

typedef struct dead_ctx {
	cl_webhook_dead_cb cb;
	void *ctx;
} dead_ctx;

static int dead_out(const cl_wh_dead_rec *r, void *arg)
{
	dead_ctx *c = arg;
	cl_webhook_dead_letter d = {r->seq, {0}, r->type, r->at, r->attempts, (long)r->status, r->error,
				    r->redelivered_at};
	memcpy(d.event_id, r->event_id, 32);
	return c->cb(&d, c->ctx);
}

cl_err cl_webhook_dead_letters(cl_ledger *l, const char *id, cl_webhook_dead_cb cb, void *ctx)
{
	MDB_txn *txn = NULL;
	cl_wh_dbs d;
	cl_wh_sub_state st;
	cl_err rc = read_sub(l, id, &txn, &d, &st, NULL);
	if (rc != CL_OK)
		return rc;
	dead_ctx c = {cb, ctx};
	rc = cl_wh__dead_each(txn, &d, id, dead_out, &c, &l->err);
	mdb_txn_abort(txn);
	return rc;
}
