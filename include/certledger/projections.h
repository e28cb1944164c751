/* certledger/projections.h - the read models as a whole: the history of an account, a
 * certificate or an actor, and rebuilding every read model from the log.
 *
 * The read models (accounts, certificates, links, history, primary timeline, email and expiry
 * indexes) are derived from the log alone and kept up to date in the write transaction of each
 * event. `rebuild` drops and replays them; while it runs, or after it was interrupted, reads
 * and writes are refused with CL_EREFUSED naming `certledger rebuild`, which redoes it.
 */
#ifndef CERTLEDGER_PROJECTIONS_H
#define CERTLEDGER_PROJECTIONS_H

#include <stdint.h>

#include "certledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	CL_HISTORY_ACCOUNT = 1, /* subject: an email address */
	CL_HISTORY_CERT,        /* subject: a fingerprint as users type it (CLI.md "Fingerprints") */
	CL_HISTORY_ACTOR        /* subject: an admin name, or "ledger" */
} cl_history_of;

/* Calls cb with every event that touched the subject, oldest first, as cl_log_each does (the
 * event is borrowed for the call; return non-zero to stop). An account's events are those whose
 * data names its address, a certificate's those whose data names its fingerprint, an actor's
 * those it signed. CL_ENOTFOUND for an unknown account, certificate or actor. */
cl_err cl_proj_history_each(cl_ledger *l, cl_history_of of, const char *subject, cl_event_cb cb, void *ctx)
	__attribute__((warn_unused_result));

typedef struct cl_rebuild_result {
	uint64_t events;  /* events replayed */
	double seconds;   /* wall-clock time */
} cl_rebuild_result;

/* Drops every read model and replays the log from seq 1, checking seq continuity and the hash
 * chain as it goes (signatures are `verify`'s job), in transactions of a few thousand events so
 * that memory stays flat. A broken chain stops it with CL_EINTEGRITY naming the seq (the read
 * models then stay marked incomplete). progress (may be NULL) is called after each transaction
 * with (events done, events in the log). Needs a writable handle. */
cl_err cl_proj_rebuild(cl_ledger *l, cl_progress_fn progress, void *progress_ctx, cl_rebuild_result *out)
	__attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
