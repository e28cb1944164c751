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

/* Applies account.created (data: email, kind, name). */
cl_err cl_proj__account_created(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);

/* Encodes account.created data. */
cl_err cl_account_created_encode(cl_buf *out, const char *email, const char *kind, const char *name);

#endif
