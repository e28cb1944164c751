/* primary_timeline.h - the primary timeline (p_primary): for each account, every change of its
 * primary certificate keyed (email, ts, seq), valued with the new primary's fingerprint or
 * nothing when it was cleared. "Primary at instant T" is one cursor seek (MDB_SET_RANGE to
 * (email, T, max seq)) and one step back; "primary during a day" walks that day's entries.
 *
 * An instant T sees every change whose ts <= T: at the very microsecond of a change the new
 * primary holds; changes that share one ts (one transaction, or a clock that did not move)
 * take effect in seq order, the last one winning.
 */
#ifndef CL_PROJ_PRIMARY_TIMELINE_H
#define CL_PROJ_PRIMARY_TIMELINE_H

#include <stdbool.h>

#include "certledger/accounts.h"
#include "projections/proj.h"

/* Applies primary.set / primary.cleared: the account's primary (p_accounts) and the timeline. */
cl_err cl_proj__primary_apply(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);

/* The primary of the canonical email at instant `at` (ts <= at). *has is false when there was
 * none (never set, cleared, or the account did not exist yet). */
cl_err cl_proj__primary_at(MDB_txn *txn, MDB_dbi timeline, const char *email, int64_t at, bool *has,
			   uint8_t fp[32], cl_error *err) __attribute__((warn_unused_result));

/* Every primary held during [from, to), clipped to it, oldest first; zero-length tenures (a
 * primary replaced in the same microsecond) are left out and adjacent tenures of one
 * certificate merged. *out is malloc'd (free()); *n may be 0 (then *out may be NULL). */
cl_err cl_proj__primary_during(MDB_txn *txn, MDB_dbi timeline, const char *email, int64_t from, int64_t to,
			       cl_primary_interval **out, size_t *n, cl_error *err) __attribute__((warn_unused_result));

#endif
