/* export_csv.c - `export csv`: a flat table for spreadsheets and SIEMs, one row per event with
 * the data keys compliance officers filter on, and `--timeline`: one row per interval during
 * which a certificate was an account's primary, computed from the log alone.
 *
 * RFC 4180: CRLF line ends, a header line, a cell quoted ("" for a quote) when it holds a comma,
 * quote, CR or LF. Formula injection: a cell that starts with = + - @ (or tab or CR, as OWASP
 * lists them) is written with a leading single quote, so that Excel, LibreOffice and Sheets show
 * it as text instead of running it; docs/evidence.md says so. Event rows stream; the timeline
 * keeps one small record per interval (and per account with a primary) and sorts at the end. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/export.h"
#include "export/account_events.h"
#include "export/event_json.h"
#include "export/event_range.h"
#include "export/strmap.h"
#include "ledger/encoding.h"
#include "ledger/timefmt.h"

typedef struct csv_ctx {
	FILE *out;
	cl_buf line;
	uint64_t rows;
} csv_ctx;

static cl_err cell(cl_buf *b, bool first, const char *s, size_t n)
{
	cl_err rc = first ? CL_OK : cl_buf_append_byte(b, ',');
	bool guard = n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
	bool quote = guard && s[0] == '\r';
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (rc == CL_OK && quote)
		rc = cl_buf_append_byte(b, '"');
	if (rc == CL_OK && guard)
		rc = cl_buf_append_byte(b, '\'');
	for (size_t i = 0; i < n && rc == CL_OK; i++) {
		if (s[i] == '"')
			rc = cl_buf_append_byte(b, '"');
		if (rc == CL_OK)
			rc = cl_buf_append_byte(b, (uint8_t)s[i]);
	}
	if (rc == CL_OK && quote)
		rc = cl_buf_append_byte(b, '"');
	return rc;
}

static cl_err cell_str(cl_buf *b, bool first, const char *s)
{
	return cell(b, first, s, strlen(s));
}

/* A data value as cell text: strings as they are, true/false, integers, empty for null or
 * absent, anything else as compact JSON. */
static cl_err cell_json(cl_buf *b, json_t *v)
{
	char num[32];
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING: return cell(b, false, json_string_value(v), json_string_length(v));
	case JSON_TRUE: return cell_str(b, false, "true");
	case JSON_FALSE: return cell_str(b, false, "false");
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return cell_str(b, false, num);
	case JSON_NULL: return cell_str(b, false, "");
	default: {
		char *t = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (t == NULL)
			return CL_ENOMEM;
		cl_err rc = cell_str(b, false, t);
		free(t);
		return rc;
	}
	}
}

static cl_err end_line(csv_ctx *c, cl_error *err)
{
	cl_err rc = cl_buf_append(&c->line, "\r\n", 2);
	if (rc != CL_OK)
		return cl_error_set(err, rc, "a CSV row is too large");
	if (fwrite(c->line.ptr, 1, c->line.len, c->out) != c->line.len)
		return cl_error_set(err, CL_EIO, "cannot write the export");
	cl_buf_reset(&c->line);
	return CL_OK;
}

static cl_err header(csv_ctx *c, const char *columns, cl_error *err)
{
	cl_err rc = cl_buf_append(&c->line, columns, strlen(columns));
	return rc == CL_OK ? end_line(c, err) : cl_error_set(err, rc, "out of memory");
}

/* The data columns after seq,ts,type,actor,id, and the data key each is read from. */
static const char *const data_columns[] = {
	"email", "fingerprint", "name", "kind", "role", "reason", "subject", "issuer", "serial", "not_before",
	"not_after", "has_private_key", "forced", "public_key", "origin", "url", "webhook_id",
};

static cl_err event_row(void *arg, const cl_event *ev, cl_error *err)
{
	csv_ctx *c = arg;
	cl_export_event e;
	char num[32], ts[CL_TIME_TEXT_MAX], id[65];
	cl_err rc = cl_export__event_load(&e, ev, false, err);
	if (rc != CL_OK)
		goto out;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)ev->seq);
	cl_time_format(ts, ev->ts);
	cl_hex_encode(id, e.info.id, 32);
	cl_buf *b = &c->line;
	rc = cell_str(b, true, num);
	if (rc == CL_OK)
		rc = cell_str(b, false, ts);
	if (rc == CL_OK)
		rc = cell_str(b, false, e.type);
	if (rc == CL_OK)
		rc = cell_str(b, false, e.actor);
	if (rc == CL_OK)
		rc = cell_str(b, false, id);
	for (size_t i = 0; rc == CL_OK && i < sizeof(data_columns) / sizeof(data_columns[0]); i++)
		rc = cell_json(b, json_is_object(e.data) ? json_object_get(e.data, data_columns[i]) : NULL);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "seq %llu: cannot format the row", (unsigned long long)ev->seq);
		goto out;
	}
	rc = end_line(c, err);
	c->rows++;
out:
	cl_export__event_clear(&e);
	return rc;
}

/* ---- the primary timeline ---- */

typedef struct interval {
	const char *email; /* the map's key: lives as long as the map */
	uint8_t fp[32];
	int64_t from, to;
	uint64_t from_seq, to_seq; /* to_seq 0: still open */
} interval;

typedef struct timeline_ctx {
	cl_strmap open; /* email -> interval * of the current primary, NULL when none; every account
			 * that ever had a primary keeps its key, which the rows point to */
	interval *v;
	size_t n, cap;
	uint64_t events;
} timeline_ctx;

static cl_err push_interval(timeline_ctx *t, const interval *iv)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		interval *v = realloc(t->v, cap * sizeof(*v));
		if (v == NULL)
			return CL_ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *iv;
	return CL_OK;
}

static cl_err timeline_event(void *arg, const cl_event *ev, cl_error *err)
{
	timeline_ctx *t = arg;
	cl_account_event a;
	cl_err rc = cl_export__account_event(ev, &a, err);
	t->events++;
	if (rc != CL_OK || (a.kind != CL_AEV_PRIMARY_SET && a.kind != CL_AEV_PRIMARY_CLEARED))
		return rc;
	const char *email = (const char *)a.email.ptr;
	interval *cur = cl_strmap_get(&t->open, email, a.email.len);
	if (cur != NULL && a.kind == CL_AEV_PRIMARY_SET && memcmp(cur->fp, a.fingerprint, 32) == 0)
		return CL_OK; /* the same primary again: the interval goes on */
	if (cur != NULL) {
		cur->to = ev->ts;
		cur->to_seq = ev->seq;
		rc = push_interval(t, cur);
		if (rc == CL_OK)
			rc = cl_strmap_put(&t->open, email, a.email.len, NULL, NULL);
		if (rc != CL_OK) /* cur stays in the map, which frees it */
			return cl_error_set(err, rc, "out of memory");
		free(cur);
	}
	if (a.kind == CL_AEV_PRIMARY_CLEARED)
		return CL_OK;
	interval *iv = calloc(1, sizeof(*iv));
	if (iv == NULL || cl_strmap_put(&t->open, email, a.email.len, iv, &iv->email) != CL_OK) {
		free(iv);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	memcpy(iv->fp, a.fingerprint, 32);
	iv->from = ev->ts;
	iv->from_seq = ev->seq;
	return CL_OK;
}

static int cmp_interval(const void *x, const void *y)
{
	const interval *a = x, *b = y;
	int c = strcmp(a->email, b->email);
	if (c != 0)
		return c;
	if (a->from != b->from)
		return a->from < b->from ? -1 : 1;
	return a->from_seq < b->from_seq ? -1 : a->from_seq > b->from_seq;
}

/* Moves the still open intervals into the list. */
static cl_err finish_timeline(timeline_ctx *t)
{
	for (size_t i = 0; i < t->open.cap; i++) {
		cl_strmap_slot *s = &t->open.slots[i];
		if (s->key == NULL || s->value == NULL)
			continue;
		interval *iv = s->value;
		cl_err rc = push_interval(t, iv);
		free(iv);
		s->value = NULL;
		if (rc != CL_OK)
			return rc;
	}
	return CL_OK;
}

static cl_err write_timeline(csv_ctx *c, timeline_ctx *t, int64_t since, cl_error *err)
{
	cl_err rc = header(c, "email,fingerprint,from,to,from_seq,to_seq", err);
	for (size_t i = 0; i < t->n && rc == CL_OK; i++) {
		const interval *iv = &t->v[i];
		if (iv->to_seq != 0 && iv->to <= since)
			continue; /* ended before the window */
		char fp[65], from[CL_TIME_TEXT_MAX], to[CL_TIME_TEXT_MAX] = "", fs[32], ts[32] = "";
		cl_hex_encode(fp, iv->fp, 32);
		cl_time_format(from, iv->from);
		snprintf(fs, sizeof(fs), "%llu", (unsigned long long)iv->from_seq);
		if (iv->to_seq != 0) {
			cl_time_format(to, iv->to);
			snprintf(ts, sizeof(ts), "%llu", (unsigned long long)iv->to_seq);
		}
		rc = cell_str(&c->line, true, iv->email);
		if (rc == CL_OK)
			rc = cell_str(&c->line, false, fp);
		if (rc == CL_OK)
			rc = cell_str(&c->line, false, from);
		if (rc == CL_OK)
			rc = cell_str(&c->line, false, to);
		if (rc == CL_OK)
			rc = cell_str(&c->line, false, fs);
		if (rc == CL_OK)
			rc = cell_str(&c->line, false, ts);
		if (rc != CL_OK)
			return cl_error_set(err, rc, "a CSV row is too large");
		rc = end_line(c, err);
		c->rows++;
	}
	return rc;
}

static cl_err timeline(cl_ledger *l, MDB_txn *txn, const cl_export_opts *o, csv_ctx *c, cl_seq_range *r,
		       uint64_t *events)
{
	timeline_ctx t = {CL_STRMAP_INIT, NULL, 0, 0, 0};
	/* every event before the window's end counts: the state at `since` comes from history */
	cl_err rc = cl_export__range(l, txn, UINT64_MAX, INT64_MIN, o->until, r, &l->err);
	if (rc == CL_OK)
		rc = cl_export__walk(l, txn, *r, timeline_event, &t, o->progress, o->progress_ctx, &l->err);
	if (rc == CL_OK && (rc = finish_timeline(&t)) != CL_OK)
		cl_error_set(&l->err, rc, "out of memory");
	if (rc == CL_OK) {
		qsort(t.v, t.n, sizeof(*t.v), cmp_interval);
		rc = write_timeline(c, &t, o->since, &l->err);
	}
	*events = t.events;
	for (size_t i = 0; i < t.open.cap; i++)
		if (t.open.slots[i].key != NULL)
			free(t.open.slots[i].value);
	cl_strmap_free(&t.open);
	free(t.v);
	return rc;
}

cl_err cl_export_csv(cl_ledger *l, const cl_export_opts *o, FILE *out, cl_export_stats *stats)
{
	cl_export_opts def = CL_EXPORT_OPTS_INIT;
	csv_ctx c = {out, CL_BUF_INIT(1u << 22), 0};
	cl_seq_range r = {1, 0};
	uint64_t events = 0;
	MDB_txn *txn;
	if (o == NULL)
		o = &def;
	if (stats)
		memset(stats, 0, sizeof(*stats));
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	if (o->timeline) {
		rc = timeline(l, txn, o, &c, &r, &events);
	} else {
		rc = header(&c, CL_EXPORT_CSV_COLUMNS, &l->err);
		if (rc == CL_OK)
			rc = cl_export__range(l, txn, UINT64_MAX, o->since, o->until, &r, &l->err);
		if (rc == CL_OK)
			rc = cl_export__walk(l, txn, r, event_row, &c, o->progress, o->progress_ctx, &l->err);
		events = c.rows;
	}
	if (rc == CL_OK && fflush(out) != 0)
		rc = cl_error_set(&l->err, CL_EIO, "cannot write the export");
	mdb_txn_abort(txn);
	cl_buf_free(&c.line);
	if (rc == CL_OK && stats) {
		stats->events = events;
		stats->rows = c.rows;
		stats->first_seq = cl_seq_range_count(r) ? r.first : 0;
		stats->last_seq = cl_seq_range_count(r) ? r.last : 0;
	}
	return rc;
}
