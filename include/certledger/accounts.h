/* certledger/accounts.h - email accounts: internal (the organisation's people, whose primary
 * certificate must hold a private key) and external (partners). */
#ifndef CERTLEDGER_ACCOUNTS_H
#define CERTLEDGER_ACCOUNTS_H

#include <stdint.h>

#include "certledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CL_KIND_AUTO = 0, CL_KIND_INTERNAL, CL_KIND_EXTERNAL } cl_account_kind;

typedef struct cl_account_created {
	uint64_t seq;
	int64_t created_at;
	char email[255]; /* canonical: domain lower-cased */
	char kind[16];   /* "internal" or "external" */
	char name[257];
} cl_account_created;

/* Creates an account: internal when kind is CL_KIND_AUTO and the domain is one of the org
 * domains given to init. name may be NULL. A duplicate address (domain compared without case)
 * is CL_EEXISTS; an invalid address CL_EBADINPUT. Nothing is written on failure. */
cl_err cl_account_create(cl_ledger *l, const char *email, cl_account_kind kind, const char *name,
			 cl_account_created *out);

#ifdef __cplusplus
}
#endif
#endif
