/* export_jsonl.c - `export jsonl`: the events of a time window as JSON Lines, each line the
 * object `log --json` prints plus "envelope" (base64 of the stored, signed bytes), so that a
 * reader can both use the data and re-check signatures. Streams: one read transaction, one
 * cursor, one reused line buffer. */
#include <stdio.h>
#include <string.h>

#include "certledger/export.h"
#include "export/event_json.h"
#include "export/event_range.h"

typedef struct jsonl_ctx {
	FILE *out;
	cl_buf line;
	uint64_t n;
} jsonl_ctx;

static cl_err write_event(void *arg, const cl_event *ev, cl_error *err)
{
	jsonl_ctx *c = arg;
	cl_export_event e;
	cl_err rc = cl_export__event_load(&e, ev, true, err);
	if (rc == CL_OK) {
		cl_buf_reset(&c->line);
		rc = cl_export__event_json(&c->line, &e.info, true);
		if (rc == CL_OK)
			rc = cl_buf_append_byte(&c->line, '\n');
		if (rc != CL_OK)
			cl_error_set(err, rc, "seq %llu: cannot format the event", (unsigned long long)ev->seq);
	}
	cl_export__event_clear(&e);
	if (rc != CL_OK)
		return rc;
	if (fwrite(c->line.ptr, 1, c->line.len, c->out) != c->line.len)
		return cl_error_set(err, CL_EIO, "cannot write the export");
	c->n++;
	return CL_OK;
}

cl_err cl_export_jsonl(cl_ledger *l, const cl_export_opts *o, FILE *out, cl_export_stats *stats)
{
	cl_export_opts def = CL_EXPORT_OPTS_INIT;
	jsonl_ctx c = {out, CL_BUF_INIT(1u << 22), 0};
	cl_seq_range r;
	MDB_txn *txn;
	if (o == NULL)
		o = &def;
	if (stats)
		memset(stats, 0, sizeof(*stats));
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	rc = cl_export__range(l, txn, UINT64_MAX, o->since, o->until, &r, &l->err);
	if (rc == CL_OK)
		rc = cl_export__walk(l, txn, r, write_event, &c, o->progress, o->progress_ctx, &l->err);
	if (rc == CL_OK && fflush(out) != 0)
		rc = cl_error_set(&l->err, CL_EIO, "cannot write the export");
	mdb_txn_abort(txn);
	cl_buf_free(&c.line);
	if (rc == CL_OK && stats) {
		stats->events = stats->rows = c.n;
		stats->first_seq = c.n ? r.first : 0;
		stats->last_seq = c.n ? r.last : 0;
	}
	return rc;
}
