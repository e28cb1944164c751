/* append.h - the write path: one LMDB write transaction that appends events, lets the read
 * models apply them, signs them (on every core for large batches), chains them, extends the
 * Merkle tree and commits once.
 *
 * Use: cl_ledger__write(l, fn, ctx, err). fn receives a cl_wtxn, reads whatever state it needs
 * through cl_wtxn__txn, decides, and calls cl_wtxn_append for each event. When fn returns 0
 * the events are signed and committed together; any error from fn (or from signing) aborts
 * and nothing is written. fn may be run more than once (the map grew), so it must not keep
 * side effects outside the transaction.
 */
#ifndef CL_LEDGER_APPEND_H
#define CL_LEDGER_APPEND_H

#include "ledger/handle.h"

typedef struct cl_wtxn cl_wtxn;

/* Who signs: the acting admin (name + private key) or the ledger key. */
typedef struct cl_actor {
	const char *name;
	const cl_key *key;
} cl_actor;

typedef struct cl_appended {
	uint64_t seq;
	int64_t ts;
	uint8_t id[CL_HASH_LEN];
} cl_appended;

typedef cl_err (*cl_write_fn)(cl_wtxn *t, void *ctx, cl_error *err);

cl_err cl_ledger__write(cl_ledger *l, cl_write_fn fn, void *ctx, cl_error *err) __attribute__((warn_unused_result));

MDB_txn *cl_wtxn__txn(cl_wtxn *t);
cl_ledger *cl_wtxn__ledger(cl_wtxn *t);
/* The acting admin of the handle (name and key). */
cl_actor cl_wtxn__actor(cl_wtxn *t);

/* Appends one event of `type` with the encoded data map, signed at commit by `who` (so who->key
 * must stay valid until cl_ledger__write returns; data is copied). The actor
 * must be allowed to make this change (authority.h) or CL_EDENIED is returned. out may be NULL.
 * ts is the handle's clock read once when the write began (every event of one write shares it),
 * never earlier than the previous event's ts. */
cl_err cl_wtxn_append(cl_wtxn *t, const cl_actor *who, const char *type, cl_bytes data, cl_appended *out,
		      cl_error *err) __attribute__((warn_unused_result));

/* Low-level append for tests that forge logs: no authorisation check, explicit signer key and
 * actor text. Everything else (chain, Merkle, projections) as cl_wtxn_append. */
cl_err cl_wtxn__append_unchecked(cl_wtxn *t, const cl_actor *who, const char *type, cl_bytes data,
				 cl_appended *out, cl_error *err) __attribute__((warn_unused_result));

/* Number of events appended so far in this transaction. */
size_t cl_wtxn__count(const cl_wtxn *t);

#endif
