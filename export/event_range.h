/* event_range.h - what the exports share: turning a time window into a seq range of the log
 * and walking the envelopes of that range in order with one cursor, inside a read transaction
 * the caller owns. Memory stays flat: each envelope is a view into LMDB's map, valid only
 * during the callback. */
#ifndef CL_EXPORT_EVENT_RANGE_H
#define CL_EXPORT_EVENT_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/envelope.h"
#include "ledger/handle.h"

/* Seqs first..last inclusive; empty when last < first (then first == last + 1). */
typedef struct cl_seq_range {
	uint64_t first;
	uint64_t last;
} cl_seq_range;

static inline uint64_t cl_seq_range_count(cl_seq_range r)
{
	return r.last >= r.first ? r.last - r.first + 1 : 0;
}

/* The events with since <= ts < until among seqs 1..max_seq (ts never decreases, so two binary
 * searches). */
cl_err cl_export__range(cl_ledger *l, MDB_txn *txn, uint64_t max_seq, int64_t since, int64_t until,
			cl_seq_range *out, cl_error *err) __attribute__((warn_unused_result));

/* Called with each decoded event (views borrowed from txn for the call only). Return CL_OK to
 * go on, anything else to stop with that code (the walk returns it). */
typedef cl_err (*cl_export_event_fn)(void *ctx, const cl_event *ev, cl_error *err);

/* Walks seqs r.first..r.last with a cursor, strictly decoding each envelope; a missing seq or a
 * damaged envelope is CL_EINTEGRITY naming the seq. progress (may be NULL) is called every few
 * thousand events and at the end with (done, count). */
cl_err cl_export__walk(cl_ledger *l, MDB_txn *txn, cl_seq_range r, cl_export_event_fn fn, void *ctx,
		       cl_progress_fn progress, void *progress_ctx, cl_error *err) __attribute__((warn_unused_result));

/* A NUL-terminated copy of a text view into out (capacity cap); false when it does not fit. */
bool cl_export__cstr(char *out, size_t cap, cl_bytes b);

#endif
