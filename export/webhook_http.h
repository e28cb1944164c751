/* webhook_http.h - the webhook delivery engine: signed POSTs on libcurl's multi interface.
 *
 * The caller (the delivery worker) hands the engine a batch of due deliveries, each a checked
 * and pinned target (webhook_guard.h), a secret, an event id, a timestamp and a JSON body. The
 * engine signs each one (webhook_sign.h), POSTs them all concurrently with the headers of the
 * Standard Webhooks specification, waits for every one to finish, and reports one outcome per
 * job: delivered (2xx), gone (410) or retry (anything else, time-outs and connection errors).
 * What to do next (advance a cursor, schedule a retry with webhook_retry.h, disable, dead-letter)
 * is the caller's business; the engine keeps no state about events or subscriptions.
 *
 * The engine object lives across batches so that connections (and TLS sessions) are reused:
 * the second batch to the same host usually opens no new connection. The caller guarantees at
 * most one job per subscription in a batch; the engine does not look at subscriptions.
 *
 * Safety, fixed for every transfer: connect and total time-outs; redirects are not followed
 * (a 3xx is a retry); only the target's own scheme is allowed; TLS peer and host verification
 * are on; proxies from the environment are ignored (a proxy is used only if configured here);
 * the host's addresses come only from the target's CURLOPT_RESOLVE pin, and a socket is opened
 * only to a pinned address that the target's policy allows; before each request is sent, on a
 * new or a reused connection, the connected address is checked against the target's policy once
 * more (connections are reused by host name and port, so one opened for an allow_private
 * subscription must not carry another subscription's request); the response body is read and
 * thrown away, and a response over max_response bytes is cut off.
 *
 * An engine is used by one thread at a time.
 */
#ifndef CL_EXPORT_WEBHOOK_HTTP_H
#define CL_EXPORT_WEBHOOK_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"
#include "export/webhook_guard.h"
#include "export/webhook_sign.h"
#include "ledger/bytes.h"

/* Largest body a job may carry. */
#define CL_WH_BODY_MAX (1024 * 1024)
/* Bounds of cl_wh_engine_opts.max_parallel. */
#define CL_WH_PARALLEL_MAX 1024

typedef struct cl_wh_engine_opts {
	unsigned version;         /* CL_WH_ENGINE_OPTS_VERSION */
	long connect_timeout_ms;  /* TCP + TLS connect, 1..600000; default 10 s */
	long timeout_ms;          /* the whole transfer, 1..3600000; default 30 s */
	size_t max_parallel;      /* transfers at once, 1..CL_WH_PARALLEL_MAX; default 64. More jobs
				   * than this in one batch are queued and started as others end. */
	size_t max_connections;   /* idle connections kept for reuse, >= 1; default 256 */
	size_t max_response;      /* response body bytes read before cutting it off; default 64 KiB */
	const char *proxy;        /* NULL: no proxy at all, whatever the environment says.
				   * Otherwise a libcurl proxy URL; the socket pin then applies to
				   * the proxy's address only through the proxy's own resolution,
				   * so the pin is not enforced (the operator chose the proxy). */
	const char *ca_file;      /* NULL: the system's CA store; else a PEM bundle (tests) */
	const char *user_agent;   /* NULL: "certledger-webhook/<version>" */
} cl_wh_engine_opts;

#define CL_WH_ENGINE_OPTS_VERSION 1
#define CL_WH_ENGINE_OPTS_INIT {CL_WH_ENGINE_OPTS_VERSION, 10000, 30000, 64, 256, 65536, NULL, NULL, NULL}

typedef struct cl_wh_engine cl_wh_engine;

/* Creates an engine. Strings in opts are copied; opts may be freed afterwards. Calls
 * curl_global_init (reference counted by libcurl). *out is freed with cl_wh_engine_free.
 * Errors: CL_EUSAGE (an option out of range, unknown version), CL_ENOMEM, CL_EINTERNAL
 * (libcurl refused an option). */
cl_err cl_wh_engine_new(cl_wh_engine **out, const cl_wh_engine_opts *opts, cl_error *err)
	__attribute__((warn_unused_result));

/* Closes every connection and frees the engine. NULL is accepted. */
void cl_wh_engine_free(cl_wh_engine *e);

/* One delivery. Everything is borrowed and must stay valid until cl_wh_engine_run returns. */
typedef struct cl_wh_job {
	const cl_wh_target *target; /* from cl_wh_guard_check: URL, scheme, pinned addresses */
	const cl_secret *secret;    /* the subscription's key bytes (cl_wh_secret_parse) */
	const char *id;             /* webhook-id: the event id, the same on every retry */
	int64_t timestamp;          /* webhook-timestamp: Unix seconds of this attempt */
	cl_bytes body;              /* the JSON body, at most CL_WH_BODY_MAX bytes */
	void *user;                 /* the caller's; copied to the outcome */
} cl_wh_job;

typedef enum cl_wh_class {
	CL_WH_RETRY = 0,     /* not acknowledged: schedule another attempt */
	CL_WH_DELIVERED = 1, /* 2xx: acknowledged */
	CL_WH_GONE = 2       /* 410: the receiver wants no more; disable the subscription */
} cl_wh_class;

#define CL_WH_ERRTEXT_MAX 512

typedef struct cl_wh_outcome {
	cl_wh_class cls;
	long status;              /* final HTTP status, 0 if no response was received */
	int curl_code;            /* libcurl's CURLcode for the transfer, 0 for none */
	int timed_out;            /* 1 if the connect or total time-out fired */
	int64_t duration_us;      /* the transfer's total time (libcurl's TOTAL_TIME) */
	int64_t retry_after_s;    /* Retry-After of a 429 or 503, capped as in webhook_retry.h; -1 if none */
	long new_connections;     /* connections opened for this transfer (0 = reused) */
	char addr[CL_WH_ADDR_TEXT_MAX]; /* address connected to, "" if none */
	char error[CL_WH_ERRTEXT_MAX];  /* one line: "" when delivered cleanly, "HTTP 500",
					 * libcurl's message, or the guard's refusal */
	char signature[CL_WH_SIGNATURE_BUFSZ]; /* the webhook-signature value sent */
	void *user;               /* the job's user pointer */
} cl_wh_outcome;

/* Signs and POSTs jobs[0..n) concurrently (at most max_parallel at once) and waits until all
 * have finished, filling outcomes[i] for jobs[i]. Blocks for at most about
 * ceil(n / max_parallel) * (timeout_ms) plus scheduling.
 *
 * Before anything is sent every job is checked: a NULL or unchecked target, a missing secret or
 * one of the wrong size, an invalid id, a negative timestamp or a body over CL_WH_BODY_MAX fails
 * the whole batch with CL_EUSAGE and nothing is sent. Once sending has begun, per-job failures are outcomes, not errors. If the
 * engine itself fails part-way (CL_ENOMEM, CL_EINTERNAL), transfers in flight are abandoned
 * and the error is returned; outcomes are still filled for every job: finished ones with
 * their real result, the others as CL_WH_RETRY with an error saying they were not completed
 * (delivery is at-least-once, so retrying them is always safe). */
cl_err cl_wh_engine_run(cl_wh_engine *e, const cl_wh_job *jobs, cl_wh_outcome *outcomes, size_t n,
			cl_error *err) __attribute__((warn_unused_result));

/* A fixed name for a class: "delivered", "gone" or "retry". */
const char *cl_wh_class_name(cl_wh_class c);

#endif
