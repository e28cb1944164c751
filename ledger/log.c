/* log.c - reading events: by seq, by range and time window, as public cl_event_info values. */
#include "ledger/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/data_json.h"
#include "ledger/handle.h"
#include "ledger/head.h"

cl_err cl_log__get(cl_store *s, MDB_txn *txn, uint64_t seq, cl_bytes *envelope)
{
	uint8_t k[8];
	cl_be64_put(k, seq);
	MDB_val key = {8, k}, val;
	int rc = mdb_get(txn, s->log, &key, &val);
	if (rc == MDB_NOTFOUND)
		return CL_ENOTFOUND;
	if (rc != 0)
		return CL_EIO;
	*envelope = CL_BYTES(val.mv_data, val.mv_size);
	return CL_OK;
}

static cl_err ts_of(cl_store *s, MDB_txn *txn, uint64_t seq, int64_t *ts, cl_error *err)
{
	cl_bytes env;
	cl_event ev;
	if (cl_log__get(s, txn, seq, &env) != CL_OK)
		return cl_error_set(err, CL_EINTEGRITY, "seq %llu is missing from the log", (unsigned long long)seq);
	cl_err rc = cl_envelope_decode(env, &ev, err);
	if (rc != CL_OK)
		return cl_error_prefix(err, "seq %llu", (unsigned long long)seq), CL_EINTEGRITY;
	*ts = ev.ts;
	return CL_OK;
}

cl_err cl_log__first_at_or_after(cl_store *s, MDB_txn *txn, uint64_t head, int64_t t, uint64_t *seq,
				 cl_error *err)
{
	uint64_t lo = 1, hi = head + 1; /* answer in [lo, hi] */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int64_t ts = 0;
		cl_err rc = ts_of(s, txn, mid, &ts, err);
		if (rc != CL_OK)
			return rc;
		if (ts >= t)
			hi = mid;
		else
			lo = mid + 1;
	}
	*seq = lo;
	return CL_OK;
}

static int emit(cl_ledger *l, const cl_event *ev, cl_event_cb cb, void *ctx, cl_err *rc)
{
	char type[CL_TYPE_MAX + 1], actor[CL_ACTOR_MAX + 1];
	memcpy(type, ev->type.ptr, ev->type.len);
	type[ev->type.len] = '\0';
	memcpy(actor, ev->actor.ptr, ev->actor.len);
	actor[ev->actor.len] = '\0';
	json_t *data = cl_data_to_json(ev->data, &l->err);
	if (data == NULL) {
		*rc = cl_error_prefix(&l->err, "seq %llu", (unsigned long long)ev->seq);
		return 1;
	}
	char *text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(data);
	if (text == NULL) {
		*rc = cl_error_set(&l->err, CL_ENOMEM, "out of memory");
		return 1;
	}
	cl_event_info info = {ev->seq, ev->ts, type, actor, {0}, text, ev->envelope.ptr, ev->envelope.len};
	cl_event_id(ev, info.id);
	int stop = cb(&info, ctx);
	free(text);
	return stop;
}

cl_err cl_log_each(cl_ledger *l, const cl_log_filter *f, cl_event_cb cb, void *ctx)
{
	cl_log_filter all = CL_LOG_FILTER_ALL;
	if (f == NULL)
		f = &all;
	MDB_txn *txn;
	cl_head head;
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	rc = cl_head_get(l->store, txn, &head, &l->err);
	uint64_t from = f->from_seq ? f->from_seq : 1, to = f->to_seq && f->to_seq < head.seq ? f->to_seq : head.seq;
	if (rc == CL_OK && f->since != INT64_MIN) {
		uint64_t s;
		rc = cl_log__first_at_or_after(l->store, txn, head.seq, f->since, &s, &l->err);
		if (rc == CL_OK && s > from)
			from = s;
	}
	for (uint64_t seq = from; rc == CL_OK && seq <= to; seq++) {
		cl_bytes env;
		cl_event ev;
		if (cl_log__get(l->store, txn, seq, &env) != CL_OK) {
			rc = cl_error_set(&l->err, CL_EINTEGRITY, "seq %llu is missing from the log", (unsigned long long)seq);
			break;
		}
		if (cl_envelope_decode(env, &ev, &l->err) != CL_OK) {
			cl_error_prefix(&l->err, "seq %llu", (unsigned long long)seq);
			rc = l->err.code = CL_EINTEGRITY;
			break;
		}
		if (ev.ts >= f->until)
			break;
		if (emit(l, &ev, cb, ctx, &rc))
			break;
	}
	mdb_txn_abort(txn);
	return rc;
}

cl_err cl_log_get(cl_ledger *l, uint64_t seq, cl_event_cb cb, void *ctx)
{
	MDB_txn *txn;
	cl_bytes env;
	cl_event ev;
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	if (cl_log__get(l->store, txn, seq, &env) != CL_OK)
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no event with seq %llu", (unsigned long long)seq);
	else if (cl_envelope_decode(env, &ev, &l->err) != CL_OK)
		rc = l->err.code = CL_EINTEGRITY;
	else
		emit(l, &ev, cb, ctx, &rc);
	mdb_txn_abort(txn);
	return rc;
}
