/* accounts.h - the accounts read model: canonical email -> kind, display name, linked
 * certificate fingerprints and the primary one. */
#ifndef CL_PROJ_ACCOUNTS_H
#define CL_PROJ_ACCOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "projections/email.h"
#include "projections/proj.h"

#define CL_NAME_MAX 256
#define CL_FP_LEN 32

typedef struct cl_account_rec {
	char email[CL_EMAIL_MAX + 1]; /* canonical */
	char kind[16];                /* "internal" or "external" */
	char name[CL_NAME_MAX + 1];
	int64_t created_at;
	uint64_t created_seq;
	uint8_t (*certs)[CL_FP_LEN];  /* linked fingerprints, in link order (owned) */
	size_t ncerts;
	bool has_primary;
	uint8_t primary[CL_FP_LEN];
} cl_account_rec;

void cl_account_rec_free(cl_account_rec *a);

/* Reads the account with this canonical email. CL_ENOTFOUND when absent. */
cl_err cl_proj__account_get(MDB_txn *txn, const cl_proj_dbs *d, const char *email, cl_account_rec *out,
			    cl_error *err);
cl_err cl_proj__account_put(MDB_txn *txn, const cl_proj_dbs *d, const cl_account_rec *a, cl_error *err);
cl_err cl_proj__account_decode(cl_bytes val, cl_account_rec *out, cl_error *err);

/* Applies account.created (data: email, kind, name). An existing account is CL_EEXISTS. */
cl_err cl_proj__account_created(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);

/* Applies one event to an in-memory account: account.created initialises *a (which must be
 * zeroed); cert.linked and cert.unlinked add and remove a fingerprint (a repeat changes
 * nothing); primary.set and primary.cleared set and clear the primary; any other type leaves
 * *a alone. The projection (cl_proj__account_event) and the as-of replay (queries.c) both use
 * it, so the account now and the account at an instant follow one definition. */
cl_err cl_account__apply(cl_account_rec *a, const cl_event *ev, cl_error *err);

/* The projection step of cert.linked, cert.unlinked, primary.set and primary.cleared for the
 * account `email` (as the event names it): get, cl_account__apply, put. A missing account is
 * CL_EINTEGRITY (ingest checks first, so only a forged log gets here). */
cl_err cl_proj__account_event(MDB_txn *txn, const cl_proj_dbs *d, cl_bytes email, const cl_event *ev,
			      cl_error *err);

/* Index of fp among a's linked certificates, or -1. */
long cl_account__find_cert(const cl_account_rec *a, const uint8_t fp[CL_FP_LEN]);

/* Encodes account.created data. */
cl_err cl_account_created_encode(cl_buf *out, const char *email, const char *kind, const char *name);

#endif
