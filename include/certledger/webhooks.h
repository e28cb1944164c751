/* certledger/webhooks.h - webhook subscriptions and their delivery (Standard Webhooks).
 *
 * A subscription is a `webhook.subscribed` event in the log (URL, event-type globs, retry
 * schedule, the private-address policy, the SHA-256 of its secret) and ends with a
 * `webhook.unsubscribed` event; its signing secret is sealed under the master key in the
 * ledger's wh_secrets database, never in the log. Its operational state (cursor, attempts,
 * dead letters) lives in wh_* databases and is not part of the signed history; see
 * docs/webhooks.md.
 *
 * Delivery is at-least-once and ordered per subscription: each matching event after the
 * subscription's cursor is POSTed in seq order, one in flight per subscription, with the
 * headers webhook-id (the event id, 64 hex digits, the same on every retry), webhook-timestamp
 * and webhook-signature. The body is {"type", "timestamp", "data"}, where data holds "seq", "id"
 * and the event's data fields (binary as hex, times as RFC 3339).
 *
 * Errors are kept on the ledger handle (cl_ledger_error). Every pointer in the structs passed
 * to a callback is borrowed for the duration of that callback only.
 */
#ifndef CERTLEDGER_WEBHOOKS_H
#define CERTLEDGER_WEBHOOKS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"
#include "certledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A subscription id: "wh_" and 12 lowercase hex digits. */
#define CL_WEBHOOK_ID_LEN 15

#define CL_WEBHOOK_ADD_OPTS_VERSION 1
typedef struct cl_webhook_add_opts {
	unsigned version;
	const char *events;      /* comma-separated event-type globs (fnmatch), NULL: "*" */
	const char *retry;       /* delays between attempts, e.g. "5s,5m,30m"; NULL: the default
				  * "5s,5m,30m,2h,5h,10h,10h" (after the last, a dead letter) */
	bool allow_private;      /* allow loopback/private/link-local addresses and plain http */
	const char *secret_file; /* a file whose first line is a whsec_ secret; NULL: generate one */
} cl_webhook_add_opts;
#define CL_WEBHOOK_ADD_OPTS_INIT {CL_WEBHOOK_ADD_OPTS_VERSION, NULL, NULL, false, NULL}

/* Adds a subscription. The URL is checked first (webhook guard: https, or http only with
 * allow_private; its host resolved and every address checked): a refused URL is CL_EREFUSED and
 * nothing is written. Then, in one write transaction, `webhook.subscribed` is appended and the
 * sealed secret and the initial state stored. The subscription starts after its own
 * `webhook.subscribed` event (its cursor is that event's seq): it receives what happens from now
 * on; history is sent on request with cl_webhook_replay.
 *
 * id_out receives the new id (NUL-terminated). seq (may be NULL) receives the event's seq.
 * When no secret_file is given a secret is generated and, if secret_out is not NULL, its text
 * form ("whsec_...") is returned in *secret_out so that it can be shown once: free it with
 * cl_webhook_secret_free (which wipes it). It is never stored in clear. With a secret_file,
 * *secret_out is set to NULL. Errors: CL_EREFUSED (URL), CL_EBADINPUT (globs, retry schedule,
 * secret file), CL_EDENIED (the acting admin may not), CL_EIO, CL_ENOMEM. */
cl_err cl_webhook_add(cl_ledger *l, const char *url, const cl_webhook_add_opts *opts,
		      char id_out[CL_WEBHOOK_ID_LEN + 1], uint64_t *seq, char **secret_out)
	__attribute__((warn_unused_result));

/* Wipes and frees a secret returned by cl_webhook_add. NULL is accepted. */
void cl_webhook_secret_free(char *secret);

/* Ends a subscription: appends `webhook.unsubscribed`, marks it removed and destroys its sealed
 * secret, in one transaction. CL_ENOTFOUND for an unknown id, CL_EREFUSED if already removed. */
cl_err cl_webhook_remove(cl_ledger *l, const char *id, uint64_t *seq) __attribute__((warn_unused_result));

/* One subscription as read from its event and its state. */
typedef struct cl_webhook_info {
	const char *id;
	const char *url;
	const char *const *events;   /* nevents globs */
	size_t nevents;
	const char *retry;           /* canonical schedule text, e.g. "1s,5m" */
	bool allow_private;
	uint8_t secret_sha256[32];   /* SHA-256 of the secret's key bytes */
	const char *state;           /* "active", "disabled" (the receiver answered 410) or "removed" */
	const char *disabled_reason; /* "" unless disabled */
	uint64_t subscribed_seq;
	int64_t subscribed_at;       /* µs */
	uint64_t removed_seq;        /* 0 unless removed */
	uint64_t cursor;             /* every event <= cursor is done (acknowledged, dead-lettered or
				      * not matching) */
	uint64_t head;               /* the log's head seq when this was read */
	uint64_t retry_seq;          /* the event being retried, 0 if none */
	unsigned failed_attempts;    /* failed attempts of retry_seq so far */
	int64_t next_attempt_at;     /* µs; 0 when the next event is due at once */
	uint64_t delivered;          /* counts over the subscription's life */
	uint64_t failed;             /* failed attempts */
	uint64_t dead_letters;
} cl_webhook_info;

typedef int (*cl_webhook_cb)(const cl_webhook_info *w, void *ctx);

/* Every subscription ever added (removed ones too), in id order. Return non-zero from cb to
 * stop (not an error). */
cl_err cl_webhook_list(cl_ledger *l, cl_webhook_cb cb, void *ctx) __attribute__((warn_unused_result));
/* One subscription; CL_ENOTFOUND if there is none with that id. */
cl_err cl_webhook_get(cl_ledger *l, const char *id, cl_webhook_cb cb, void *ctx) __attribute__((warn_unused_result));

/* One delivery attempt. */
typedef struct cl_webhook_attempt {
	uint64_t n;              /* the attempt's number in the subscription's life, from 1 */
	int64_t at;              /* µs, when it started */
	uint64_t seq;            /* the event */
	uint8_t event_id[32];    /* = webhook-id */
	unsigned attempt;        /* 1 for the event's first try, 2 for its first retry, ... */
	long status;             /* HTTP status, 0 when no answer */
	int64_t duration_us;
	const char *result;      /* "delivered", "retry" (another attempt scheduled), "dead" (the
				  * last attempt failed: dead-lettered) or "gone" (410: disabled) */
	const char *error;       /* "" when delivered cleanly; else "HTTP 500", a time-out, ... */
	int64_t next_attempt_at; /* µs, for "retry" */
} cl_webhook_attempt;
typedef int (*cl_webhook_attempt_cb)(const cl_webhook_attempt *a, void *ctx);

/* The attempts kept for a subscription (the last CL_WEBHOOK_ATTEMPTS_KEPT), oldest first. */
#define CL_WEBHOOK_ATTEMPTS_KEPT 1000
cl_err cl_webhook_attempts(cl_ledger *l, const char *id, cl_webhook_attempt_cb cb, void *ctx)
	__attribute__((warn_unused_result));

/* An event given up on after the last attempt of the schedule. */
typedef struct cl_webhook_dead_letter {
	uint64_t seq;
	uint8_t event_id[32];
	const char *type;
	int64_t at;              /* µs, when it was dead-lettered */
	unsigned attempts;
	long status;             /* of the last attempt */
	const char *error;       /* of the last attempt */
	int64_t redelivered_at;  /* µs, when a replay later delivered it; 0 if not (yet) */
} cl_webhook_dead_letter;
typedef int (*cl_webhook_dead_cb)(const cl_webhook_dead_letter *d, void *ctx);

/* Every dead letter of a subscription, in seq order. */
cl_err cl_webhook_dead_letters(cl_ledger *l, const char *id, cl_webhook_dead_cb cb, void *ctx)
	__attribute__((warn_unused_result));

/* Re-sends from from_seq: sets the cursor to from_seq - 1 and clears any pending retry; a
 * subscription disabled by a 410 becomes active again. An explicit operator action on the
 * operational state (no event is appended); a running worker picks it up at its next round.
 * from_seq is 1..head+1. cursor (may be NULL) receives the new cursor. CL_ENOTFOUND (unknown id
 * or from_seq past head+1), CL_EREFUSED (removed subscription). */
cl_err cl_webhook_replay(cl_ledger *l, const char *id, uint64_t from_seq, uint64_t *cursor)
	__attribute__((warn_unused_result));

#define CL_WEBHOOK_DELIVER_OPTS_VERSION 1
typedef struct cl_webhook_deliver_opts {
	unsigned version;
	bool follow;                     /* false: drain what is due now, then return; true: run
					  * until *stop becomes non-zero */
	long timeout_ms;                 /* whole request; 0: 30000 */
	long connect_timeout_ms;         /* 0: 10000 */
	size_t max_parallel;             /* requests at once; 0: 64 */
	unsigned poll_ms;                /* follow: how often the head is polled; 0: 200 */
	const char *ca_file;             /* NULL: the system's CA store */
	const volatile sig_atomic_t *stop; /* may be NULL; set from a signal handler to stop */
} cl_webhook_deliver_opts;
#define CL_WEBHOOK_DELIVER_OPTS_INIT {CL_WEBHOOK_DELIVER_OPTS_VERSION, false, 0, 0, 0, 0, NULL, NULL}

typedef struct cl_webhook_deliver_stats {
	uint64_t delivered;     /* acknowledged deliveries (2xx) */
	uint64_t failed;        /* failed attempts (including those that ended in a dead letter) */
	uint64_t dead_lettered;
	uint64_t disabled;      /* subscriptions disabled by a 410 */
	uint64_t pending;       /* matching events not yet acknowledged, over active subscriptions,
				 * when the run ended */
	uint64_t rounds;        /* batches sent */
} cl_webhook_deliver_stats;

/* Runs deliveries (the worker; `webhook deliver`). Only one worker runs per ledger at a time
 * (CL_EREFUSED otherwise). Needs no admin key: it appends no event, it only writes the wh_*
 * state. Each acknowledgement advances the subscription's cursor in an LMDB transaction that is
 * committed in the background while the next request is already on its way, so a worker that
 * is killed loses nothing: at worst an acknowledged event is sent again, with the same
 * webhook-id. Before returning, every state change is committed. Stops after the requests in
 * flight have finished when *stop becomes non-zero. stats may be NULL. */
cl_err cl_webhook_deliver(cl_ledger *l, const cl_webhook_deliver_opts *opts, cl_webhook_deliver_stats *stats)
	__attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
