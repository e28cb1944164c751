/* account_create.h - `account create` as a step inside a write transaction, shared by the
 * command (cl_account_create) and by import. */
#ifndef CL_INGEST_ACCOUNT_CREATE_H
#define CL_INGEST_ACCOUNT_CREATE_H

#include "certledger/accounts.h"
#include "ledger/append.h"

/* Validates the address and name, decides the kind, refuses a duplicate (CL_EEXISTS) and
 * appends account.created. out may be NULL. */
cl_err cl_ingest__account_create(cl_wtxn *t, const char *email, cl_account_kind kind, const char *name,
				 cl_account_created *out, cl_error *err) __attribute__((warn_unused_result));

#endif
