/* proj.h - the read models derived from the log (DESIGN.md "Projections and time").
 *
 * Every p_* database is derived from `log` alone: cl_proj__apply is the one function that
 * changes them, called for every appended event inside the event's write transaction, and
 * `rebuild` empties them and feeds the whole log through the same function, so the
 * incrementally maintained and the rebuilt projections are byte-identical.
 *
 * Databases (keys sort so that cursors walk them in order; integers are big-endian):
 *   p_settings   name -> value (org_domains from ledger.created)
 *   p_accounts   canonical email -> account record (msgpack, see accounts.c)
 */
#ifndef CL_PROJ_PROJ_H
#define CL_PROJ_PROJ_H

#include "ledger/append.h"
#include "ledger/envelope.h"
#include "ledger/store.h"

typedef struct cl_proj_dbs {
	MDB_dbi settings;
	MDB_dbi accounts;
} cl_proj_dbs;

/* Opens the projection databases in txn; with create (a write txn) missing ones are made.
 * In a read txn a database that does not exist yet reads as empty (*present = false). */
cl_err cl_proj__dbs(cl_store *s, MDB_txn *txn, bool create, cl_proj_dbs *out, bool *present, cl_error *err);

/* The apply hook (handle.h cl_apply_fn). */
cl_err cl_proj__apply(cl_wtxn *t, const cl_event *ev, void *ctx, cl_error *err);
/* Applies one event with explicit txn/store (used by the hook and by rebuild). */
cl_err cl_proj__apply_txn(cl_store *s, MDB_txn *txn, const cl_event *ev, cl_error *err);

/* The org domains recorded by ledger.created, as a msgpack array of str (borrowed from txn). */
cl_err cl_proj__org_domains(cl_store *s, MDB_txn *txn, cl_bytes *array, cl_error *err);

/* Helpers for the other projection files. */
cl_err cl_proj__put(MDB_txn *txn, MDB_dbi dbi, cl_bytes key, cl_bytes val, cl_error *err);

#endif
