/* primary.h - `primary set` and `primary clear` as steps inside a write transaction, shared by
 * the commands (cl_primary_set, cl_primary_clear) and by import. */
#ifndef CL_INGEST_PRIMARY_H
#define CL_INGEST_PRIMARY_H

#include "certledger/accounts.h"
#include "ledger/append.h"

/* Checks the rules (CLI.md) against the state in t and the handle's clock, and appends
 * primary.set, or returns the refusal. out may be NULL. */
cl_err cl_ingest__primary_set(cl_wtxn *t, const char *email, const char *fingerprint, bool force, cl_change *out,
			      cl_error *err) __attribute__((warn_unused_result));
/* Appends primary.cleared (reason "cleared"); refused when there is no primary. */
cl_err cl_ingest__primary_clear(cl_wtxn *t, const char *email, cl_change *out, cl_error *err)
	__attribute__((warn_unused_result));

#endif
