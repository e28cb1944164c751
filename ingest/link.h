/* link.h - `link` and `unlink` as steps inside a write transaction, shared by the commands
 * (cl_account_link, cl_account_unlink) and by import. */
#ifndef CL_INGEST_LINK_H
#define CL_INGEST_LINK_H

#include "certledger/accounts.h"
#include "ledger/append.h"

/* Checks the rules against the state in t and appends cert.linked, or returns the refusal
 * (nothing appended by this call). out may be NULL. */
cl_err cl_ingest__link(cl_wtxn *t, const char *email, const char *fingerprint, cl_change *out, cl_error *err)
	__attribute__((warn_unused_result));
/* Appends cert.unlinked, then primary.cleared (reason "unlinked") when the certificate was the
 * account's primary. reason may be NULL. */
cl_err cl_ingest__unlink(cl_wtxn *t, const char *email, const char *fingerprint, const char *reason,
			 cl_change *out, cl_error *err) __attribute__((warn_unused_result));

/* Shared by the ingest steps of accounts: the canonical address, the account record and the
 * resolved certificate (any may be NULL when not wanted). */
struct cl_account_rec;
cl_err cl_ingest__account_and_cert(cl_wtxn *t, const char *email, const char *fingerprint,
				   struct cl_account_rec *acct, uint8_t fp[32], cl_error *err)
	__attribute__((warn_unused_result));

/* Free text that goes into an event (a reason): valid UTF-8 without control characters other
 * than tab, at most max bytes. */
bool cl_ingest__text_ok(const char *s, size_t max);

#endif
