/* head.h - the log's head as kept in meta: last seq, its event id (SHA-256 of its body) and ts. */
#ifndef CL_LEDGER_HEAD_H
#define CL_LEDGER_HEAD_H

#include "ledger/envelope.h"
#include "ledger/store.h"

typedef struct cl_head {
	uint64_t seq;               /* 0 for an empty log */
	uint8_t id[CL_HASH_LEN];    /* zeros for an empty log */
	int64_t ts;
} cl_head;

/* An absent head is the empty log (seq 0). */
cl_err cl_head_get(cl_store *s, MDB_txn *txn, cl_head *out, cl_error *err);
cl_err cl_head_put(cl_store *s, MDB_txn *txn, const cl_head *h, cl_error *err);

#endif
