/* proj.h - the read models derived from the log (DESIGN.md "Projections and time").
 *
 * Every p_* database is derived from `log` alone: cl_proj__apply_dbs is the one function that
 * changes them, called for every appended event inside the event's write transaction, and
 * `rebuild` empties them and feeds the whole log through the same function, so the
 * incrementally maintained and the rebuilt projections are byte-identical.
 *
 * Databases (keys sort so that cursors walk them in order; integers are big-endian, times are
 * int64 microseconds with the sign bit flipped (cl_proj__ts_key) so that they sort as numbers;
 * "\0" is a NUL separator, which cannot occur in an email address or an admin name):
 *   p_settings      name -> value: org_domains from ledger.created; "rebuild" while a rebuild
 *                   has not finished (see rebuild.c)
 *   p_accounts      canonical email -> account record (msgpack, see accounts.c)
 *   p_certs         fingerprint (32) -> certificate record (msgpack, see certs.c)
 *   p_cert_emails   lower-cased address \0 fingerprint -> "" (every address a cert carries)
 *   p_expiry        ts_key(not_after) fingerprint -> ""
 *   p_hist_account  email \0 seq -> ""   (every event whose data names the account)
 *   p_hist_cert     fingerprint seq -> "" (every event whose data names the certificate)
 *   p_hist_actor    actor \0 seq -> ""   (every event, by who signed it)
 *   p_primary       email \0 ts_key(ts) seq -> fingerprint (32) or "" (cleared): the timeline
 */
#ifndef CL_PROJ_PROJ_H
#define CL_PROJ_PROJ_H

#include "ledger/append.h"
#include "ledger/envelope.h"
#include "ledger/store.h"

/* Rebuild's buffer of index entries (rebuild.c); NULL outside a rebuild. */
typedef struct cl_proj_defer cl_proj_defer;

typedef struct cl_proj_dbs {
	MDB_dbi settings;
	MDB_dbi accounts;
	MDB_dbi certs;
	MDB_dbi cert_emails;
	MDB_dbi expiry;
	MDB_dbi hist_account;
	MDB_dbi hist_cert;
	MDB_dbi hist_actor;
	MDB_dbi primary;
	cl_proj_defer *defer;  /* set by rebuild only: index entries are collected, see cl_proj__index_put */
} cl_proj_dbs;

/* Events replayed per write transaction by rebuild (rebuild.c explains the choice). */
#define CL_PROJ_REBUILD_CHUNK 131072

/* The names of every projection database, NULL-terminated (for rebuild and tests). */
extern const char *const cl_proj__db_names[];

/* Opens the projection databases in txn; with create (a write txn) missing ones are made.
 * In a read txn a database that does not exist yet reads as empty (*present = false). */
cl_err cl_proj__dbs(cl_store *s, MDB_txn *txn, bool create, cl_proj_dbs *out, bool *present, cl_error *err);

/* Opens one projection database by name without creating it (for queries that need one or
 * two: cheaper than cl_proj__dbs). *present = false when it does not exist yet. */
cl_err cl_proj__dbi(MDB_txn *txn, const char *name, MDB_dbi *out, bool *present, cl_error *err);

/* The apply hook (handle.h cl_apply_fn): refuses while a rebuild is unfinished, else applies. */
cl_err cl_proj__apply(cl_wtxn *t, const cl_event *ev, void *ctx, cl_error *err);
/* Applies one event with explicit txn/store (opens the databases itself). */
cl_err cl_proj__apply_txn(cl_store *s, MDB_txn *txn, const cl_event *ev, cl_error *err);
/* Applies one event to databases already opened in txn (the hook and rebuild end here). */
cl_err cl_proj__apply_dbs(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);

/* CL_OK when the read models are complete; CL_EREFUSED naming `certledger rebuild` while a
 * rebuild is running or was interrupted (p_settings "rebuild" is present). settings may be a
 * database that does not exist (present == false): then there is nothing to check. */
cl_err cl_proj__check_ready(MDB_txn *txn, MDB_dbi settings, bool present, cl_error *err);

/* The org domains recorded by ledger.created, as a msgpack array of str (borrowed from txn). */
cl_err cl_proj__org_domains(cl_store *s, MDB_txn *txn, cl_bytes *array, cl_error *err);

/* Helpers for the other projection files. */
cl_err cl_proj__put(MDB_txn *txn, MDB_dbi dbi, cl_bytes key, cl_bytes val, cl_error *err);
/* Puts an entry of a write-only index (history, primary timeline, email and expiry indexes:
 * never read while events are applied). Normally a plain put; during a rebuild (d->defer set)
 * the entry is collected instead and rebuild writes a chunk's entries in key order at its end,
 * which is several times faster than random-order puts into large trees and gives the very same
 * keys and values. */
cl_err cl_proj__index_put(MDB_txn *txn, const cl_proj_dbs *d, MDB_dbi dbi, cl_bytes key, cl_bytes val,
			  cl_error *err);
/* Collects an entry (implemented by rebuild.c). */
cl_err cl_proj__defer_add(cl_proj_defer *df, MDB_dbi dbi, cl_bytes key, cl_bytes val, cl_error *err);

/* Deletes key (absent is not an error). */
cl_err cl_proj__del(MDB_txn *txn, MDB_dbi dbi, cl_bytes key, cl_error *err);

/* A time as an 8-byte key that sorts like the signed number. */
static inline void cl_proj__ts_key(uint8_t out[8], int64_t ts)
{
	cl_be64_put(out, (uint64_t)ts ^ UINT64_C(0x8000000000000000));
}

static inline int64_t cl_proj__ts_from_key(const uint8_t in[8])
{
	return (int64_t)(cl_be64_get(in) ^ UINT64_C(0x8000000000000000));
}

#endif
