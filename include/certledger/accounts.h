/* certledger/accounts.h - email accounts: internal (the organisation's people, whose primary
 * certificate must hold a private key) and external (partners). */
#ifndef CERTLEDGER_ACCOUNTS_H
#define CERTLEDGER_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
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

/* ---- reading accounts (issue 4) ----
 *
 * Every read below runs in one LMDB read transaction on the read models (projections/), which
 * are complete unless a rebuild is running or was interrupted: then CL_EREFUSED says to run
 * `certledger rebuild`. An unknown account is CL_ENOTFOUND. Email addresses are taken in any
 * case of the domain (alice@Corp.Example is alice@corp.example). Messages are on the handle
 * (cl_ledger_error). */

/* An account as the read models hold it, now or at an instant. */
typedef struct cl_account {
	char email[255];        /* canonical */
	char kind[16];          /* "internal" or "external" */
	char name[257];
	int64_t created_at;
	uint64_t created_seq;
	uint8_t (*certs)[32];   /* linked fingerprints, in link order: owned, see cl_account_free */
	size_t ncerts;
	bool has_primary;
	uint8_t primary[32];
} cl_account;

/* Frees what cl_account owns (certs); the struct itself is the caller's. */
void cl_account_free(cl_account *a);

/* The account now. */
cl_err cl_proj_account_get(cl_ledger *l, const char *email, cl_account *out) __attribute__((warn_unused_result));
/* The account as it stood at instant `at` (µs since the epoch, UTC): every event with ts <= at
 * applied. CL_ENOTFOUND also when the account was created after `at`. */
cl_err cl_proj_account_get_at(cl_ledger *l, const char *email, int64_t at, cl_account *out)
	__attribute__((warn_unused_result));

/* Calls cb for each account, in address order; the account is borrowed for the call. Return
 * non-zero from cb to stop (not an error). */
typedef int (*cl_account_cb)(const cl_account *a, void *ctx);
cl_err cl_proj_account_each(cl_ledger *l, cl_account_cb cb, void *ctx);

/* ---- links and the primary certificate (issue 4) ----
 *
 * Each call is one write transaction: it checks the rules of CLI.md ("Rules the commands
 * enforce") against the current state and appends its event(s), or writes nothing and returns
 * CL_EBADINPUT (malformed address or fingerprint), CL_ENOTFOUND (no such account or
 * certificate) or CL_EREFUSED (a rule, or an ambiguous fingerprint prefix), with a message
 * naming the input. `fingerprint` is text as users type it: 64 hex digits, the AB:CD:... form,
 * or a unique prefix of at least 8 hex digits. */

/* Rules that `primary set --force` can override (bits of cl_change.overridden). */
#define CL_OVERRIDE_EMAIL 1u         /* "email_not_in_certificate" */
#define CL_OVERRIDE_EXPIRED 2u       /* "expired" */
#define CL_OVERRIDE_NOT_YET_VALID 4u /* "not_yet_valid" */
/* The name recorded in primary.set's `overridden` for one bit (NULL for an unknown bit). */
const char *cl_override_name(unsigned bit);

/* What a change wrote. */
typedef struct cl_change {
	uint64_t seq;             /* the event: cert.linked, cert.unlinked, primary.set or primary.cleared */
	int64_t ts;
	char email[255];          /* canonical */
	uint8_t fingerprint[32];  /* the certificate (for primary clear: the primary that was cleared) */
	uint64_t cleared_seq;     /* unlink of the primary: the primary.cleared that followed; else 0 */
	bool forced;              /* primary set: --force overrode at least one rule */
	unsigned overridden;      /* CL_OVERRIDE_* bits */
} cl_change;

/* link: the account and the certificate must exist; a repeat is refused. */
cl_err cl_account_link(cl_ledger *l, const char *email, const char *fingerprint, cl_change *out)
	__attribute__((warn_unused_result));
/* unlink: the certificate must be linked. Unlinking the primary appends cert.unlinked and then
 * primary.cleared (reason "unlinked") in the same transaction. reason may be NULL. */
cl_err cl_account_unlink(cl_ledger *l, const char *email, const char *fingerprint, const char *reason,
			 cl_change *out) __attribute__((warn_unused_result));
/* primary set: the certificate must be linked and not already the primary; an internal account
 * needs a certificate with a private key (never overridable); a certificate that does not carry
 * the account's address, or is expired or not yet valid now, is refused unless force, and the
 * rules force overrode are recorded in the event. */
cl_err cl_primary_set(cl_ledger *l, const char *email, const char *fingerprint, bool force, cl_change *out)
	__attribute__((warn_unused_result));
/* primary clear: refused when the account has no primary. */
cl_err cl_primary_clear(cl_ledger *l, const char *email, cl_change *out) __attribute__((warn_unused_result));

/* ---- the primary over time (issue 4) ---- */

/* `at` value meaning "now": the current state (and out->at is the handle's clock). */
#define CL_AT_NOW INT64_MIN

typedef struct cl_primary_info {
	char email[255];
	int64_t at;               /* the instant asked about */
	bool has_primary;
	uint8_t fingerprint[32];
} cl_primary_info;

/* The primary of email at instant `at` (a change at exactly `at` is in force at `at`), or now
 * with CL_AT_NOW. has_primary is false before the first primary, after a clear, and before the
 * account existed. */
cl_err cl_proj_primary_at(cl_ledger *l, const char *email, int64_t at, cl_primary_info *out)
	__attribute__((warn_unused_result));

typedef struct cl_primary_interval {
	uint8_t fingerprint[32];
	int64_t from;             /* inclusive */
	int64_t to;               /* exclusive */
} cl_primary_interval;

typedef struct cl_primary_day {
	char email[255];                 /* canonical */
	int64_t day;                     /* the start of the UTC day */
	cl_primary_interval *intervals;  /* owned: cl_primary_day_free; NULL when n is 0 */
	size_t n;
} cl_primary_day;

void cl_primary_day_free(cl_primary_day *d);

/* Every certificate that was primary for email at any moment of the UTC day holding `day`
 * (any instant of it), with the interval it held it, clipped to the day and to now (so a day
 * in the future has none), oldest first. */
cl_err cl_proj_primary_on(cl_ledger *l, const char *email, int64_t day, cl_primary_day *out)
	__attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
