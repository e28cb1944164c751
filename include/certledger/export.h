/* certledger/export.h - compliance exports: the events as JSON Lines or CSV, the primary
 * timeline as CSV, offline-verifiable evidence bundles and their verification without a
 * ledger, and a replay of every account to any instant computed from the log alone.
 *
 * Writers take a caller-owned FILE * and stream: memory stays flat whatever the size of the
 * log (except the CSV timeline, which holds one row per primary interval, and replay, which
 * holds one record per account). They never close the FILE; on failure part of the output may
 * have been written, so callers write to a temporary file and rename it on success (the CLI
 * does). Errors are kept on the ledger handle (cl_ledger_error), or in the cl_error given to
 * the functions that run without a ledger.
 */
#ifndef CERTLEDGER_EXPORT_H
#define CERTLEDGER_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "certledger/error.h"
#include "certledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CL_EXPORT_OPTS_VERSION 1
typedef struct cl_export_opts {
	unsigned version;
	int64_t since;                /* first instant included (µs since the epoch); INT64_MIN: no bound */
	int64_t until;                /* exclusive, as `log --until`; INT64_MAX: no bound */
	bool timeline;                /* csv: one row per primary interval instead of one per event */
	const char *since_checkpoint; /* bundle: a checkpoint note the auditor holds (not NUL-terminated
				       * necessarily); NULL: no consistency proof */
	size_t since_checkpoint_len;
	cl_progress_fn progress;      /* called now and then with (events done, events in range); may be NULL */
	void *progress_ctx;
} cl_export_opts;
#define CL_EXPORT_OPTS_INIT {CL_EXPORT_OPTS_VERSION, INT64_MIN, INT64_MAX, false, NULL, 0, NULL, NULL}

typedef struct cl_export_stats {
	uint64_t events;    /* events written (timeline: events read) */
	uint64_t rows;      /* csv rows without the header line (jsonl: lines) */
	uint64_t first_seq; /* range written, 0 and 0 when empty */
	uint64_t last_seq;
	uint64_t tree_size; /* bundle: the size of the checkpoint the proofs are against */
} cl_export_stats;

/* The event as one compact JSON object, exactly as `log --json` prints it: seq, ts, type,
 * actor, id, data; with with_envelope also "envelope" (standard base64 of the stored bytes).
 * Returns malloc'd NUL-terminated text without a newline, which the caller frees with free(),
 * or NULL when out of memory or when type or actor is not UTF-8 text. ev->data_json must be
 * the JSON of the event's data, as cl_log_each gives it (it is copied verbatim). */
char *cl_event_json_text(const cl_event_info *ev, bool with_envelope);

/* `export jsonl`: one line per event with since <= ts < until, as cl_event_json_text with the
 * envelope. stats may be NULL. */
cl_err cl_export_jsonl(cl_ledger *l, const cl_export_opts *o, FILE *out, cl_export_stats *stats)
	__attribute__((warn_unused_result));

/* `export csv`: RFC 4180 (CRLF line ends, a header line, quoting where needed). One row per
 * event (columns: CL_EXPORT_CSV_COLUMNS) or, with o->timeline, one row per interval during
 * which a certificate was an account's primary (email, fingerprint, from, to, from_seq,
 * to_seq; to and to_seq empty while it still is at the end of the window), for intervals that
 * overlap [since, until), sorted by email then from. Any cell that starts with = + - @ (or tab
 * or carriage return) gets a leading ' so that spreadsheets do not run it as a formula. */
#define CL_EXPORT_CSV_COLUMNS                                                                              \
	"seq,ts,type,actor,id,email,fingerprint,name,kind,role,reason,subject,issuer,serial,not_before,"     \
	"not_after,has_private_key,forced,public_key,origin,url,webhook_id"
cl_err cl_export_csv(cl_ledger *l, const cl_export_opts *o, FILE *out, cl_export_stats *stats)
	__attribute__((warn_unused_result));

/* `export bundle`: the evidence bundle of docs/evidence.md for the events with
 * since <= ts < until. Signs a checkpoint first when the tree grew and the handle can write
 * and holds the ledger key; otherwise uses the latest checkpoint, and only the events it
 * covers. With o->since_checkpoint, also a consistency proof from that checkpoint, which must
 * be this ledger's (CL_EINTEGRITY when it is signed by another key, is for another origin, or
 * is not a prefix of this ledger's tree; CL_EBADINPUT when it is not a checkpoint at all). */
cl_err cl_export_bundle(cl_ledger *l, const cl_export_opts *o, FILE *out, cl_export_stats *stats)
	__attribute__((warn_unused_result));

#define CL_BUNDLE_VERIFY_OPTS_VERSION 1
typedef struct cl_bundle_verify_opts {
	unsigned version;
	const uint8_t *public_key; /* 32 bytes: the ledger key the auditor expects; NULL: the bundle's */
	int threads;               /* signature and proof checkers; 0: one per core */
	cl_progress_fn progress;   /* (entries checked, entries announced); may be NULL */
	void *progress_ctx;
} cl_bundle_verify_opts;
#define CL_BUNDLE_VERIFY_OPTS_INIT {CL_BUNDLE_VERIFY_OPTS_VERSION, NULL, 0, NULL, NULL}

typedef struct cl_bundle_result {
	bool ok;
	uint64_t events;       /* range events in the bundle that were read */
	uint64_t head;         /* the range's last seq (0 for an empty range) */
	uint64_t bad_seq;      /* the first bad event, 0 when ok or when the fault is not in one event */
	char reason[512];      /* the first fault, empty when ok */
	uint64_t first_seq;    /* the range's first seq (0 for an empty range) */
	uint64_t tree_size;    /* the checkpoint's tree size */
	uint64_t old_size;     /* the size of the checkpoint proven consistent, 0 without one */
	char origin[256];
	uint8_t public_key[32];
} cl_bundle_result;

/* `verify-bundle`: reads a bundle from in and checks everything docs/evidence.md lists, with no
 * ledger: strict decoding, the chain inside the range, who signed (the same rules as the
 * ledger, over the signer-registering events the bundle carries), every signature (on all
 * cores), every inclusion proof against the checkpoint, the checkpoint's signature by the
 * ledger key under the origin, and the consistency proof. Returns CL_OK when verification ran
 * (look at res->ok; res->reason names the first fault) and an error in err only when it could
 * not run (out of memory, a read error). */
cl_err cl_bundle_verify(FILE *in, const cl_bundle_verify_opts *o, cl_bundle_result *res, cl_error *err)
	__attribute__((warn_unused_result));

/* One account as replay computed it. Pointers are borrowed for the duration of the callback. */
typedef struct cl_account_state {
	const char *email;
	const char *kind;
	const char *name;
	const uint8_t (*certificates)[32]; /* linked fingerprints, in link order */
	size_t ncertificates;
	const uint8_t *primary;            /* 32 bytes, NULL when none */
} cl_account_state;

/* Return non-zero to stop early (not an error). */
typedef int (*cl_account_state_cb)(const cl_account_state *a, void *ctx);

/* `replay --until`: every account as it stood at the instant `at` (after every event with
 * ts <= at), computed from the log alone by its own state machine over account.created,
 * cert.linked, cert.unlinked, primary.set and primary.cleared (never from the projections).
 * Calls cb once per account, in the byte order of the canonical address. An event that does
 * not fit the state (a link to an unknown account, ...) is CL_EINTEGRITY naming its seq. */
cl_err cl_replay_accounts(cl_ledger *l, int64_t at, cl_account_state_cb cb, void *ctx, cl_progress_fn progress,
			  void *progress_ctx) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
