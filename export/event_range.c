/* event_range.c - time windows as seq ranges and a cursor walk over their envelopes (see
 * event_range.h). */
#include "export/event_range.h"

#include <string.h>

#include "ledger/head.h"
#include "ledger/log.h"

#define PROGRESS_EVERY 4096

cl_err cl_export__range(cl_ledger *l, MDB_txn *txn, uint64_t max_seq, int64_t since, int64_t until,
			cl_seq_range *out, cl_error *err)
{
	cl_head head;
	cl_err rc = cl_head_get(l->store, txn, &head, err);
	if (rc != CL_OK)
		return rc;
	uint64_t end = head.seq < max_seq ? head.seq : max_seq;
	uint64_t first = 1, stop = end + 1;
	if (since != INT64_MIN && (rc = cl_log__first_at_or_after(l->store, txn, end, since, &first, err)) != CL_OK)
		return rc;
	if (until != INT64_MAX && (rc = cl_log__first_at_or_after(l->store, txn, end, until, &stop, err)) != CL_OK)
		return rc;
	if (stop < first)
		stop = first; /* until <= since: empty */
	out->first = first;
	out->last = stop - 1;
	return CL_OK;
}

bool cl_export__cstr(char *out, size_t cap, cl_bytes b)
{
	if (b.len >= cap)
		return false;
	memcpy(out, b.ptr, b.len);
	out[b.len] = '\0';
	return true;
}

cl_err cl_export__walk(cl_ledger *l, MDB_txn *txn, cl_seq_range r, cl_export_event_fn fn, void *ctx,
		       cl_progress_fn progress, void *progress_ctx, cl_error *err)
{
	uint64_t count = cl_seq_range_count(r), done = 0;
	if (count == 0) {
		if (progress)
			progress(0, 0, progress_ctx);
		return CL_OK;
	}
	MDB_cursor *c;
	int mrc = mdb_cursor_open(txn, l->store->log, &c);
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, "cannot read the log");
	uint8_t kb[8];
	cl_be64_put(kb, r.first);
	MDB_val k = {8, kb}, v;
	cl_err rc = CL_OK;
	mrc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	for (uint64_t seq = r.first; seq <= r.last; seq++) {
		if (mrc != 0 || k.mv_size != 8 || cl_be64_get(k.mv_data) != seq) {
			rc = cl_error_set(err, CL_EINTEGRITY, "seq %llu is missing from the log", (unsigned long long)seq);
			break;
		}
		cl_event ev;
		if (cl_envelope_decode(CL_BYTES(v.mv_data, v.mv_size), &ev, err) != CL_OK) {
			cl_error_prefix(err, "seq %llu", (unsigned long long)seq);
			rc = err->code = CL_EINTEGRITY;
			break;
		}
		if (ev.seq != seq) {
			rc = cl_error_set(err, CL_EINTEGRITY, "the event stored at seq %llu says it is seq %llu",
					  (unsigned long long)seq, (unsigned long long)ev.seq);
			break;
		}
		if ((rc = fn(ctx, &ev, err)) != CL_OK)
			break;
		done++;
		if (progress && done % PROGRESS_EVERY == 0)
			progress(done, count, progress_ctx);
		if (seq < r.last)
			mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc == CL_OK && progress)
		progress(done, count, progress_ctx);
	return rc;
}
