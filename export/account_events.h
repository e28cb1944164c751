/* account_events.h - the data of the five event types that shape an account (docs/events.md):
 * account.created, cert.linked, cert.unlinked, primary.set, primary.cleared, decoded strictly
 * (keys present, in the documented order, with the documented types, nothing after), for the
 * consumers that compute state from the log alone: replay and the CSV timeline. */
#ifndef CL_EXPORT_ACCOUNT_EVENTS_H
#define CL_EXPORT_ACCOUNT_EVENTS_H

#include "ledger/envelope.h"

typedef enum {
	CL_AEV_OTHER = 0, /* any other type: not an account event */
	CL_AEV_CREATED,
	CL_AEV_LINKED,
	CL_AEV_UNLINKED,
	CL_AEV_PRIMARY_SET,
	CL_AEV_PRIMARY_CLEARED
} cl_aev_kind;

/* Views borrow from the event's data. */
typedef struct cl_account_event {
	cl_aev_kind kind;
	cl_bytes email;
	cl_bytes account_kind; /* account.created: "internal" / "external" */
	cl_bytes name;         /* account.created */
	const uint8_t *fingerprint; /* 32 bytes; NULL for account.created */
} cl_account_event;

/* Classifies ev and decodes its data. CL_EINTEGRITY naming the seq when an account event's
 * data does not follow docs/events.md. */
cl_err cl_export__account_event(const cl_event *ev, cl_account_event *out, cl_error *err)
	__attribute__((warn_unused_result));

#endif
