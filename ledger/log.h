/* log.h - reading the `log` database: one envelope per seq, in order. */
#ifndef CL_LEDGER_LOG_H
#define CL_LEDGER_LOG_H

#include "ledger/envelope.h"
#include "ledger/store.h"

/* The envelope at seq (borrowed from txn). CL_ENOTFOUND if there is none. */
cl_err cl_log__get(cl_store *s, MDB_txn *txn, uint64_t seq, cl_bytes *envelope);
/* The first seq whose ts >= t (ts never decreases, so this is a binary search), or head+1. */
cl_err cl_log__first_at_or_after(cl_store *s, MDB_txn *txn, uint64_t head, int64_t t, uint64_t *seq,
				 cl_error *err);

#endif
