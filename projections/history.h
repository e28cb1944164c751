/* history.h - the history indexes: for each account, certificate and actor, the seqs of the
 * events that touched it (p_hist_account, p_hist_cert, p_hist_actor; see proj.h). The events
 * themselves stay in `log`; an index entry is only the key. */
#ifndef CL_PROJ_HISTORY_H
#define CL_PROJ_HISTORY_H

#include "projections/proj.h"

/* Indexes ev under its actor, and under the account and the certificate its data names: the
 * top-level data keys "email" (str) and "fingerprint" (bin 32), whatever the event type, so
 * that event types added later are indexed without a change here. */
cl_err cl_proj__history_index(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);

/* Called for each seq in order: return CL_OK to go on, a positive value to stop (not an
 * error), a negative cl_err to fail with it. */
typedef int (*cl_proj__seq_fn)(uint64_t seq, void *ctx);

/* Walks the seqs under prefix (account: email "\0"; certificate: the 32-byte fingerprint;
 * actor: name "\0") in db, oldest first. *count (may be NULL) receives how many were visited. */
cl_err cl_proj__history_walk(MDB_txn *txn, MDB_dbi db, cl_bytes prefix, cl_proj__seq_fn fn, void *ctx,
			     uint64_t *count, cl_error *err);

#endif
