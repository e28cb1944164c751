/* export_bundle.c - `export bundle`: an evidence bundle (docs/evidence.md, bundle_format.h) that
 * proves itself to a third party with no access to the ledger: the envelopes of a time window,
 * the signer-registering events before it (seq 1 and every admin.added/admin.removed, so the
 * signers of the range are proven, not asserted), a checkpoint signed by the ledger key, an
 * RFC 9162 inclusion proof of every envelope against that checkpoint, and optionally a
 * consistency proof from a checkpoint the auditor already holds.
 *
 * Before writing, the stored tree is checked against the checkpoint's root and the auditor's
 * checkpoint against the tree, so the ledger never hands out a bundle its own verifier would
 * refuse. Streams: one read transaction, one line buffer; the proofs are assembled from the
 * stored perfect subtrees (O(log n) reads each). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/export.h"
#include "export/bundle_format.h"
#include "export/event_json.h"
#include "export/event_range.h"
#include "ledger/authority.h"
#include "ledger/checkpoint.h"
#include "ledger/encoding.h"
#include "ledger/log.h"
#include "ledger/merkle.h"
#include "ledger/merkle_store.h"
#include "ledger/timefmt.h"

typedef struct bundle_ctx {
	cl_ledger *l;
	MDB_txn *txn;
	FILE *out;
	uint64_t size;        /* the checkpoint's tree size */
	cl_buf line;
	cl_buf proof;
	uint64_t done, total;
	const cl_export_opts *o;
} bundle_ctx;

/* The checkpoint the proofs are against: a new one when the tree grew and this handle may sign,
 * else the latest. note is malloc'd. */
static cl_err get_checkpoint(cl_ledger *l, uint64_t *size, uint8_t root[32], char **note)
{
	cl_err rc = cl_ledger_checkpoint(l, size, root, note);
	if (rc == CL_EUSAGE || rc == CL_EDENIED) {
		cl_error saved = l->err;
		rc = cl_ledger_latest_checkpoint(l, size, root, note);
		if (rc == CL_ENOTFOUND)
			return cl_error_set(&l->err, CL_ENOTFOUND,
					    "no checkpoint to prove the bundle against, and cannot sign one: %s", saved.msg);
	}
	return rc;
}

static json_t *time_or_null(int64_t t, int64_t none)
{
	char text[CL_TIME_TEXT_MAX];
	if (t == none)
		return json_null();
	cl_time_format(text, t);
	return json_string(text);
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];
	cl_hex_encode(hex, b, n);
	return json_string(hex);
}

static json_t *seq_or_null(uint64_t v, bool present)
{
	return present ? json_integer((json_int_t)v) : json_null();
}

/* The admins registered by the events up to seq bound, as the verifier derives them. */
static json_t *admins_json(const cl_admins *a, uint64_t bound)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < a->n; i++) {
		const cl_admin *ad = &a->v[i];
		if (ad->added_seq > bound)
			continue;
		bool removed = ad->removed_seq != 0 && ad->removed_seq <= bound;
		json_t *o = json_pack("{s:s, s:s, s:o, s:I, s:o}", "name", ad->name, "role", cl_role_name(ad->role),
				      "public_key", hex_json(ad->pub, 32), "added_seq", (json_int_t)ad->added_seq,
				      "removed_seq", seq_or_null(ad->removed_seq, removed));
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int cmp_admin_seq(const void *x, const void *y)
{
	const cl_admin *a = x, *b = y;
	return a->added_seq < b->added_seq ? -1 : a->added_seq > b->added_seq;
}

/* Checks the auditor's checkpoint against this ledger and returns the consistency object. */
static cl_err consistency(bundle_ctx *c, const uint8_t root[32], json_t **out)
{
	cl_ledger *l = c->l;
	const cl_export_opts *o = c->o;
	uint64_t old_size;
	uint8_t old_root[32], check[32];
	cl_error e = CL_ERROR_INIT;
	cl_merkle_store_ctx m = {l->store, c->txn, &l->err};
	cl_err rc = cl_checkpoint_open(CL_BYTES(o->since_checkpoint, o->since_checkpoint_len), l->origin,
				       l->ledger_key->pub, &old_size, old_root, NULL, &e);
	if (rc != CL_OK)
		return cl_error_set(&l->err, rc == CL_EBADINPUT ? CL_EBADINPUT : CL_EINTEGRITY,
				    "the checkpoint given with --since-checkpoint is not this ledger's: %s", e.msg);
	if (old_size > c->size)
		return cl_error_set(&l->err, CL_EINTEGRITY,
				    "the checkpoint given with --since-checkpoint covers %llu events but this ledger's "
				    "latest covers %llu: it comes from a fork or a rolled-back copy",
				    (unsigned long long)old_size, (unsigned long long)c->size);
	if ((rc = cl_merkle_root(cl_merkle_store_get, &m, old_size, check)) != CL_OK)
		return rc;
	if (memcmp(check, old_root, 32) != 0)
		return cl_error_set(&l->err, CL_EINTEGRITY,
				    "the checkpoint given with --since-checkpoint (size %llu) is not consistent with this "
				    "ledger: its root differs from the ledger's tree of that size",
				    (unsigned long long)old_size);
	if ((rc = cl_merkle_consistency_proof(cl_merkle_store_get, &m, old_size, c->size, &c->proof)) != CL_OK)
		return rc;
	if (!cl_merkle_verify_consistency(old_size, c->size, old_root, root, cl_buf_view(&c->proof)))
		return cl_error_set(&l->err, CL_EINTEGRITY, "the consistency proof from size %llu does not verify",
				    (unsigned long long)old_size);
	cl_buf b64 = CL_BUF_INIT(1u << 20);
	char *note = strndup(o->since_checkpoint, o->since_checkpoint_len);
	rc = cl_export__base64(&b64, c->proof.ptr, c->proof.len);
	if (rc == CL_OK && note != NULL && cl_buf_append_byte(&b64, '\0') == CL_OK)
		*out = json_pack("{s:s, s:s}", "old_checkpoint", note, "proof", (const char *)b64.ptr);
	free(note);
	cl_buf_free(&b64);
	return *out ? CL_OK : cl_error_set(&l->err, CL_ENOMEM, "out of memory");
}

static cl_err write_header(bundle_ctx *c, const char *note, cl_seq_range r, const cl_admins *admins,
			   json_t *cons)
{
	cl_ledger *l = c->l;
	uint64_t n = cl_seq_range_count(r);
	json_t *h = json_object();
	int bad = h == NULL;
	bad |= json_object_set_new(h, "format", json_string(CL_BUNDLE_FORMAT));
	bad |= json_object_set_new(h, "version", json_integer(CL_BUNDLE_VERSION));
	bad |= json_object_set_new(h, "origin", json_string(l->origin));
	bad |= json_object_set_new(h, "public_key", hex_json(l->ledger_key->pub, 32));
	bad |= json_object_set_new(h, "checkpoint", json_string(note));
	bad |= json_object_set_new(h, "since", time_or_null(c->o->since, INT64_MIN));
	bad |= json_object_set_new(h, "until", time_or_null(c->o->until, INT64_MAX));
	bad |= json_object_set_new(h, "first_seq", seq_or_null(r.first, n > 0));
	bad |= json_object_set_new(h, "last_seq", seq_or_null(r.last, n > 0));
	bad |= json_object_set_new(h, "events", json_integer((json_int_t)n));
	bad |= json_object_set_new(h, "admins", admins_json(admins, n > 0 ? r.last : 1));
	bad |= json_object_set_new(h, "consistency", cons ? json_incref(cons) : json_null());
	char *text = bad ? NULL : json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(h);
	if (text == NULL)
		return cl_error_set(&l->err, CL_ENOMEM, "out of memory");
	int w = fputs(text, c->out) >= 0 && fputc('\n', c->out) != EOF;
	free(text);
	return w ? CL_OK : cl_error_set(&l->err, CL_EIO, "cannot write the bundle");
}

/* One entry line: {"seq":S,"envelope":"...","inclusion":"..."}. */
static cl_err write_entry(bundle_ctx *c, uint64_t seq, cl_bytes env, cl_error *err)
{
	char num[32];
	cl_merkle_store_ctx m = {c->l->store, c->txn, err};
	cl_err rc = cl_merkle_inclusion_proof(cl_merkle_store_get, &m, seq - 1, c->size, &c->proof);
	if (rc != CL_OK)
		return cl_error_set(err, rc == CL_ENOTFOUND ? CL_EINTEGRITY : rc,
				    "cannot build the inclusion proof of seq %llu", (unsigned long long)seq);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	cl_buf_reset(&c->line);
	rc = cl_buf_append(&c->line, "{\"seq\":", 7);
	if (rc == CL_OK)
		rc = cl_buf_append(&c->line, num, strlen(num));
	if (rc == CL_OK)
		rc = cl_buf_append(&c->line, ",\"envelope\":\"", 13);
	if (rc == CL_OK)
		rc = cl_export__base64(&c->line, env.ptr, env.len);
	if (rc == CL_OK)
		rc = cl_buf_append(&c->line, "\",\"inclusion\":\"", 15);
	if (rc == CL_OK)
		rc = cl_export__base64(&c->line, c->proof.ptr, c->proof.len);
	if (rc == CL_OK)
		rc = cl_buf_append(&c->line, "\"}\n", 3);
	if (rc != CL_OK)
		return cl_error_set(err, rc, "out of memory");
	if (fwrite(c->line.ptr, 1, c->line.len, c->out) != c->line.len)
		return cl_error_set(err, CL_EIO, "cannot write the bundle");
	return CL_OK;
}

static cl_err range_entry(void *arg, const cl_event *ev, cl_error *err)
{
	return write_entry(arg, ev->seq, ev->envelope, err);
}

/* The signer-registering events before the range: seq 1 and the admins' added and removed
 * seqs, from the admin table; each is checked to be what the table says it is. */
static cl_err write_context(bundle_ctx *c, const cl_admins *a, uint64_t first)
{
	cl_ledger *l = c->l;
	uint64_t *seqs = malloc((2 * a->n + 1) * sizeof(*seqs));
	size_t n = 0;
	if (seqs == NULL)
		return cl_error_set(&l->err, CL_ENOMEM, "out of memory");
	seqs[n++] = 1;
	for (size_t i = 0; i < a->n; i++) {
		seqs[n++] = a->v[i].added_seq;
		if (a->v[i].removed_seq != 0)
			seqs[n++] = a->v[i].removed_seq;
	}
	/* insertion sort: a handful of admins */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && seqs[j - 1] > seqs[j]; j--) {
			uint64_t t = seqs[j];
			seqs[j] = seqs[j - 1];
			seqs[j - 1] = t;
		}
	cl_err rc = CL_OK;
	for (size_t i = 0; i < n && rc == CL_OK && seqs[i] < first; i++) {
		cl_bytes env;
		cl_event ev;
		if (i > 0 && seqs[i] == seqs[i - 1])
			continue;
		if (cl_log__get(l->store, c->txn, seqs[i], &env) != CL_OK ||
		    cl_envelope_decode(env, &ev, &l->err) != CL_OK ||
		    !(cl_event_is(&ev, seqs[i] == 1 ? "ledger.created" : "admin.added") ||
		      (seqs[i] > 1 && cl_event_is(&ev, "admin.removed")))) {
			rc = cl_error_set(&l->err, CL_EINTEGRITY,
					  "seq %llu is not the signer-registering event the admin table says it is "
					  "(run `certledger verify`)",
					  (unsigned long long)seqs[i]);
			break;
		}
		rc = write_entry(c, seqs[i], env, &l->err);
	}
	free(seqs);
	return rc;
}

cl_err cl_export_bundle(cl_ledger *l, const cl_export_opts *o, FILE *out, cl_export_stats *stats)
{
	cl_export_opts def = CL_EXPORT_OPTS_INIT;
	bundle_ctx c = {l, NULL, out, 0, CL_BUF_INIT(1u << 20), CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES), 0, 0, o};
	cl_admins admins = CL_ADMINS_INIT;
	json_t *cons = NULL;
	char *note = NULL;
	uint8_t root[32], check[32];
	cl_seq_range r = {1, 0};
	if (o == NULL)
		c.o = o = &def;
	if (stats)
		memset(stats, 0, sizeof(*stats));
	cl_err rc = get_checkpoint(l, &c.size, root, &note);
	if (rc != CL_OK)
		return rc;
	if ((rc = cl_store_read_begin(l->store, &c.txn, &l->err)) != CL_OK)
		goto out;
	cl_merkle_store_ctx m = {l->store, c.txn, &l->err};
	if ((rc = cl_merkle_root(cl_merkle_store_get, &m, c.size, check)) != CL_OK)
		goto out;
	if (memcmp(check, root, 32) != 0) {
		rc = cl_error_set(&l->err, CL_EINTEGRITY,
				  "the stored Merkle tree does not match the checkpoint at size %llu (run `certledger verify`)",
				  (unsigned long long)c.size);
		goto out;
	}
	if (o->since_checkpoint != NULL && (rc = consistency(&c, root, &cons)) != CL_OK)
		goto out;
	if ((rc = cl_admins_load(&admins, l->store, c.txn, &l->err)) != CL_OK)
		goto out;
	if (admins.n > 1)
		qsort(admins.v, admins.n, sizeof(*admins.v), cmp_admin_seq);
	if ((rc = cl_export__range(l, c.txn, c.size, o->since, o->until, &r, &l->err)) != CL_OK)
		goto out;
	if ((rc = write_header(&c, note, r, &admins, cons)) != CL_OK)
		goto out;
	if ((rc = write_context(&c, &admins, cl_seq_range_count(r) ? r.first : 2)) != CL_OK)
		goto out;
	rc = cl_export__walk(l, c.txn, r, range_entry, &c, o->progress, o->progress_ctx, &l->err);
	if (rc == CL_OK && fflush(out) != 0)
		rc = cl_error_set(&l->err, CL_EIO, "cannot write the bundle");
out:
	if (c.txn)
		mdb_txn_abort(c.txn);
	if (rc == CL_OK && stats) {
		stats->events = stats->rows = cl_seq_range_count(r);
		stats->first_seq = stats->events ? r.first : 0;
		stats->last_seq = stats->events ? r.last : 0;
		stats->tree_size = c.size;
	}
	json_decref(cons);
	free(note);
	cl_admins_free(&admins);
	cl_buf_free(&c.line);
	cl_buf_free(&c.proof);
	return rc;
}
