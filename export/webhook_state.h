/* webhook_state.h - what webhook subscriptions and the delivery worker keep in LMDB, and the
 * codecs of the two webhook events. Shared by webhook_subs.c (the commands) and
 * webhook_deliver.c (the worker); nothing else reads these databases.
 *
 * Databases (DESIGN.md "Storage": wh_*, operational, not rebuildable from the log):
 *   wh_subs      id -> state record (below); plus the key "!gen", a u64 big-endian counter
 *                bumped by every operator action (add, remove, replay) so that a running worker
 *                notices them with one read.
 *   wh_secrets   id -> sealed secret (webhook_secret.h)
 *   wh_attempts  id || 0x00 || be64(n) -> attempt record; n counts from 1 per subscription and
 *                only the last CL_WEBHOOK_ATTEMPTS_KEPT are kept
 *   wh_dead      id || 0x00 || be64(seq) -> dead letter record
 *
 * The subscription's definition (URL, globs, schedule, policy) is never copied here: it is read
 * from its webhook.subscribed event in the log (state.sub_seq).
 *
 * Records are msgpack maps with keys in a fixed order, decoded strictly (mp_reader).
 */
#ifndef CL_EXPORT_WEBHOOK_STATE_H
#define CL_EXPORT_WEBHOOK_STATE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "certledger/webhooks.h"
#include "export/webhook_guard.h"
#include "export/webhook_retry.h"
#include "ledger/bytes.h"
#include "ledger/store.h"

#define CL_WH_GLOBS_MAX 32
#define CL_WH_GLOB_MAX 64
#define CL_WH_REASON_MAX 256
#define CL_WH_GEN_KEY "!gen"

typedef struct cl_wh_dbs {
	MDB_dbi subs, secrets, attempts, dead;
} cl_wh_dbs;

/* Opens the wh_* databases inside a WRITE transaction (create: creating them); the handles
 * become usable by other transactions once it commits. Without create, *present is false (and
 * the dbis unset) when they do not exist yet: no webhook was ever added. present may be NULL
 * only with create. */
cl_err cl_wh__dbs(MDB_txn *txn, bool create, cl_wh_dbs *out, bool *present, cl_error *err)
	__attribute__((warn_unused_result));

/* Opens the wh_* databases for the life of the environment, in a short transaction of its own
 * that is committed: LMDB requires that for a handle to be used by later (and nested)
 * transactions, and forbids opening handles in two transactions of one process at once. So
 * readers call this before beginning their read transaction and never call mdb_dbi_open inside
 * it; the worker calls it once before its committer thread starts. create: creates them (a
 * write transaction); otherwise *present is false when they do not exist. */
cl_err cl_wh__dbs_open(cl_store *s, bool create, cl_wh_dbs *out, bool *present, cl_error *err)
	__attribute__((warn_unused_result));

typedef enum { CL_WH_ACTIVE = 0, CL_WH_DISABLED = 1, CL_WH_REMOVED = 2 } cl_wh_state_kind;
const char *cl_wh__state_name(cl_wh_state_kind k);

/* Operational state of one subscription (the wh_subs value). */
typedef struct cl_wh_sub_state {
	uint64_t sub_seq;      /* seq of its webhook.subscribed event */
	uint64_t removed_seq;  /* seq of webhook.unsubscribed, 0 */
	cl_wh_state_kind state;
	uint64_t gen;          /* bumped by operator actions on this subscription (replay, remove);
				* the worker writes its progress only while gen is what it read */
	uint64_t cursor;       /* every event <= cursor is done */
	uint64_t retry_seq;    /* the event whose attempts `fails` counts, 0 when none */
	uint32_t fails;        /* failed attempts of retry_seq */
	int64_t next_at;       /* µs: no attempt before this (0: at once) */
	uint64_t delivered, failed, dead;
	char reason[CL_WH_REASON_MAX]; /* why disabled, "" otherwise */
} cl_wh_sub_state;

/* The state of id (CL_ENOTFOUND if none). */
cl_err cl_wh__state_get(MDB_txn *txn, const cl_wh_dbs *d, const char *id, cl_wh_sub_state *out, cl_error *err)
	__attribute__((warn_unused_result));
cl_err cl_wh__state_put(MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_sub_state *s, cl_error *err)
	__attribute__((warn_unused_result));
/* Decodes a wh_subs value (CL_EINTEGRITY when malformed). */
cl_err cl_wh__state_decode(cl_bytes v, cl_wh_sub_state *out, cl_error *err) __attribute__((warn_unused_result));

/* The "!gen" counter (0 when absent) and its increment (write transactions). */
uint64_t cl_wh__gen_get(MDB_txn *txn, const cl_wh_dbs *d);
cl_err cl_wh__gen_bump(MDB_txn *txn, const cl_wh_dbs *d, cl_error *err) __attribute__((warn_unused_result));

/* 1 if id has the form "wh_" + 12 lowercase hex digits. */
int cl_wh__id_valid(const char *id);

/* A subscription's definition, as carried by its webhook.subscribed event. */
typedef struct cl_wh_def {
	char id[CL_WEBHOOK_ID_LEN + 1];
	char url[CL_WH_URL_MAX + 1];
	char globs[CL_WH_GLOBS_MAX][CL_WH_GLOB_MAX + 1];
	size_t nglobs;
	cl_wh_retry retry;
	bool allow_private;
	uint8_t secret_sha256[32];
	int64_t ts;            /* the event's ts (set by cl_wh__def_load) */
} cl_wh_def;

/* Parses a comma list of globs into d->globs (NULL or "" is "*"). Each glob is 1..64 printable
 * ASCII characters without space or comma; at most CL_WH_GLOBS_MAX. CL_EBADINPUT otherwise. */
cl_err cl_wh__globs_parse(cl_wh_def *d, const char *list, cl_error *err) __attribute__((warn_unused_result));
/* 1 if the event type matches one of d's globs (fnmatch, no flags). */
int cl_wh__def_matches(const cl_wh_def *d, const char *type);

/* webhook.subscribed data (docs/events.md): webhook_id, url, events, retry, allow_private,
 * secret_sha256, in that order. (The key is webhook_id, not id: a webhook body's data carries
 * the event's own id under "id" next to the event's fields.) */
cl_err cl_wh__subscribed_encode(cl_buf *out, const cl_wh_def *d) __attribute__((warn_unused_result));
cl_err cl_wh__subscribed_decode(cl_bytes data, cl_wh_def *out, cl_error *err) __attribute__((warn_unused_result));
/* webhook.unsubscribed data: webhook_id. */
cl_err cl_wh__unsubscribed_encode(cl_buf *out, const char *id) __attribute__((warn_unused_result));

/* Reads and decodes the webhook.subscribed event at seq. CL_EINTEGRITY when it is missing or is
 * not a webhook.subscribed event for expect_id. */
cl_err cl_wh__def_load(cl_store *s, MDB_txn *txn, uint64_t seq, const char *expect_id, cl_wh_def *out,
		       cl_error *err) __attribute__((warn_unused_result));

/* One attempt (wh_attempts value). error is NUL-terminated. */
typedef struct cl_wh_attempt_rec {
	int64_t at;
	uint64_t seq;
	uint8_t event_id[32];
	uint32_t attempt;
	int64_t status;
	int64_t duration_us;
	char result[16];
	char error[512];
	int64_t next_at;
} cl_wh_attempt_rec;

/* Appends an attempt for id with the next number and drops the ones older than the last
 * CL_WEBHOOK_ATTEMPTS_KEPT. last_n (may be NULL) caches id's last number within one
 * transaction: UINT64_MAX means unknown (it is looked up), and it is updated on success. */
cl_err cl_wh__attempt_append(MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_attempt_rec *a,
			     uint64_t *last_n, cl_error *err) __attribute__((warn_unused_result));
/* Calls cb for each attempt of id, oldest first (n from the key). Stops when cb returns
 * non-zero. */
typedef int (*cl_wh_attempt_fn)(uint64_t n, const cl_wh_attempt_rec *a, void *ctx);
cl_err cl_wh__attempts_each(MDB_txn *txn, const cl_wh_dbs *d, const char *id, cl_wh_attempt_fn cb, void *ctx,
			    cl_error *err) __attribute__((warn_unused_result));

/* A dead letter (wh_dead value). */
typedef struct cl_wh_dead_rec {
	int64_t at;
	uint64_t seq;
	uint8_t event_id[32];
	char type[72];
	uint32_t attempts;
	int64_t status;
	char error[512];
	int64_t redelivered_at;
} cl_wh_dead_rec;

cl_err cl_wh__dead_put(MDB_txn *txn, const cl_wh_dbs *d, const char *id, const cl_wh_dead_rec *r, cl_error *err)
	__attribute__((warn_unused_result));
/* Sets redelivered_at of the dead letter (id, seq) if there is one and it is not set yet. */
cl_err cl_wh__dead_redelivered(MDB_txn *txn, const cl_wh_dbs *d, const char *id, uint64_t seq, int64_t at,
			       cl_error *err) __attribute__((warn_unused_result));
typedef int (*cl_wh_dead_fn)(const cl_wh_dead_rec *r, void *ctx);
cl_err cl_wh__dead_each(MDB_txn *txn, const cl_wh_dbs *d, const char *id, cl_wh_dead_fn cb, void *ctx,
			cl_error *err) __attribute__((warn_unused_result));

#endif
