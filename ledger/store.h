/* store.h - the LMDB environment of a ledger: named databases, format version, map growth,
 * and the retrying write transaction.
 *
 * One environment per ledger directory (DIR/db). Databases owned here: log, meta, keystore,
 * merkle, checkpoints. Others (p_* read models, wh_* webhook state) are opened by their owners
 * through cl_store_dbi. The environment is opened once per process and may be used from several
 * threads: a read transaction per thread, writes serialised by LMDB's writer lock (which also
 * serialises writers in different processes).
 */
#ifndef CL_LEDGER_STORE_H
#define CL_LEDGER_STORE_H

#include <lmdb.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_FORMAT_VERSION 1
#define CL_STORE_MAXDBS 32

typedef struct cl_store {
	MDB_env *env;
	MDB_dbi log, meta, keystore, merkle, checkpoints;
	char *path;
} cl_store;

/* Opens (create != 0: creates) the environment in directory path. An existing environment must
 * carry format version CL_FORMAT_VERSION (else CL_EUNSUPPORTED). read_only opens without a
 * writer (verify, log). */
cl_err cl_store_open(cl_store **out, const char *path, int create, cl_error *err)
	__attribute__((warn_unused_result));
void cl_store_close(cl_store *s);

/* Opens (creating if asked, inside a write txn) a named database. */
cl_err cl_store_dbi(cl_store *s, MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *out, cl_error *err)
	__attribute__((warn_unused_result));

/* Runs fn inside one write transaction and commits it. When the map is full, the transaction
 * is aborted, the map doubled and fn run again from the start, so fn must do all of its writing
 * through txn and be safe to repeat. Any non-zero return from fn aborts: nothing is written. */
typedef cl_err (*cl_store_write_fn)(MDB_txn *txn, void *ctx, cl_error *err);
cl_err cl_store_write(cl_store *s, cl_store_write_fn fn, void *ctx, cl_error *err)
	__attribute__((warn_unused_result));

/* A read transaction (caller aborts it). Handles MDB_MAP_RESIZED from other processes. */
cl_err cl_store_read_begin(cl_store *s, MDB_txn **txn, cl_error *err) __attribute__((warn_unused_result));

/* Translates an LMDB return code into CL_EIO with a message. */
cl_err cl_store_mdb_error(cl_error *err, int rc, const char *what);

/* For any LMDB write inside a cl_store_write fn: MDB_MAP_FULL becomes CL_EMAPFULL (which makes
 * cl_store_write grow the map and retry); anything else is CL_EIO. Return it unchanged. */
#define CL_EMAPFULL (-100)
cl_err cl_store_put_error(cl_error *err, int rc);

/* Meta records: short ASCII names to bytes. get: CL_ENOTFOUND when absent; the view borrows
 * from txn. */
cl_err cl_meta_get(cl_store *s, MDB_txn *txn, const char *name, cl_bytes *out);
cl_err cl_meta_put(cl_store *s, MDB_txn *txn, const char *name, cl_bytes value, cl_error *err)
	__attribute__((warn_unused_result));

#endif
