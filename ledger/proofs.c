/* proofs.c - signed checkpoints of the ledger's Merkle tree and RFC 9162 proofs against them.
 *
 * A new checkpoint is signed only after checking that the tree it covers extends the latest
 * signed one (same root for the old size, and a consistency proof that verifies), so the ledger
 * never signs two checkpoints that contradict each other.
 */
#include <stdlib.h>
#include <string.h>

#include "certledger/ledger.h"
#include "ledger/checkpoint.h"
#include "ledger/handle.h"
#include "ledger/head.h"
#include "ledger/merkle.h"
#include "ledger/merkle_store.h"

typedef struct cp_ctx {
	cl_ledger *l;
	uint64_t size;
	uint8_t root[32];
	char *note;
} cp_ctx;

/* The latest checkpoint in txn (size 0 when there is none); note borrowed from txn. */
static cl_err latest(cl_ledger *l, MDB_txn *txn, uint64_t *size, uint8_t root[32], cl_bytes *note, cl_error *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	*size = 0;
	if (mdb_cursor_open(txn, l->store->checkpoints, &c) != 0)
		return cl_error_set(err, CL_EIO, "cannot read checkpoints");
	int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return CL_OK;
	if (rc != 0 || k.mv_size != 8)
		return cl_error_set(err, CL_EINTEGRITY, "the checkpoints database is damaged");
	*note = CL_BYTES(v.mv_data, v.mv_size);
	uint64_t note_size;
	cl_err r = cl_checkpoint_open(*note, l->origin, l->ledger_key->pub, &note_size, root, NULL, err);
	if (r != CL_OK)
		return cl_error_prefix(err, "latest checkpoint"), CL_EINTEGRITY;
	if (note_size != cl_be64_get(k.mv_data))
		return cl_error_set(err, CL_EINTEGRITY, "a checkpoint is stored under the wrong size");
	*size = note_size;
	return CL_OK;
}

static cl_err sign_cb(MDB_txn *txn, void *arg, cl_error *err)
{
	cp_ctx *c = arg;
	cl_ledger *l = c->l;
	cl_head head;
	cl_bytes old_note = {0};
	uint8_t old_root[32], check[32];
	uint64_t old_size;
	cl_merkle_store_ctx m = {l->store, txn, err};
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES), note = CL_BUF_INIT(4096);
	cl_err rc = cl_head_get(l->store, txn, &head, err);
	if (rc == CL_OK)
		rc = latest(l, txn, &old_size, old_root, &old_note, err);
	if (rc != CL_OK)
		goto out;
	if (head.seq < old_size) {
		rc = cl_error_set(err, CL_EINTEGRITY, "the log (%llu events) is shorter than its latest checkpoint (%llu)",
				  (unsigned long long)head.seq, (unsigned long long)old_size);
		goto out;
	}
	if (head.seq == old_size) {
		c->size = old_size;
		memcpy(c->root, old_root, 32);
		c->note = strndup((const char *)old_note.ptr, old_note.len);
		rc = c->note ? CL_OK : cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (!l->ledger_key->has_private) {
		rc = cl_error_set(err, CL_EDENIED, "the ledger's private key is not readable here: cannot sign a checkpoint");
		goto out;
	}
	if ((rc = cl_merkle_root(cl_merkle_store_get, &m, head.seq, c->root)) != CL_OK)
		goto out;
	if (old_size > 0) {
		if ((rc = cl_merkle_root(cl_merkle_store_get, &m, old_size, check)) != CL_OK)
			goto out;
		if (memcmp(check, old_root, 32) != 0 ||
		    (rc = cl_merkle_consistency_proof(cl_merkle_store_get, &m, old_size, head.seq, &proof)) != CL_OK ||
		    !cl_merkle_verify_consistency(old_size, head.seq, old_root, c->root, cl_buf_view(&proof))) {
			rc = cl_error_set(err, CL_EINTEGRITY,
					  "refusing to sign: the tree is not consistent with the checkpoint at size %llu",
					  (unsigned long long)old_size);
			goto out;
		}
	}
	if ((rc = cl_checkpoint_sign(&note, l->origin, head.seq, c->root, l->ledger_key, err)) != CL_OK)
		goto out;
	uint8_t k[8];
	cl_be64_put(k, head.seq);
	MDB_val key = {8, k}, val = {note.len, note.ptr};
	int mrc = mdb_put(txn, l->store->checkpoints, &key, &val, MDB_NOOVERWRITE);
	if (mrc != 0) {
		rc = cl_store_put_error(err, mrc);
		goto out;
	}
	c->size = head.seq;
	c->note = strndup((const char *)note.ptr, note.len);
	rc = c->note ? CL_OK : cl_error_set(err, CL_ENOMEM, "out of memory");
out:
	cl_buf_free(&proof);
	cl_buf_free(&note);
	return rc;
}

cl_err cl_ledger_checkpoint(cl_ledger *l, uint64_t *size, uint8_t root[32], char **note)
{
	cp_ctx c = {l, 0, {0}, NULL};
	cl_err rc;
	if (l->read_only)
		return cl_error_set(&l->err, CL_EUSAGE, "the ledger was opened read-only");
	rc = cl_store_write(l->store, sign_cb, &c, &l->err);
	if (rc != CL_OK) {
		free(c.note);
		return rc;
	}
	*size = c.size;
	memcpy(root, c.root, 32);
	*note = c.note;
	return CL_OK;
}

cl_err cl_ledger_latest_checkpoint(cl_ledger *l, uint64_t *size, uint8_t root[32], char **note)
{
	MDB_txn *txn;
	cl_bytes n = {0};
	*note = NULL;
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	rc = latest(l, txn, size, root, &n, &l->err);
	if (rc == CL_OK && *size == 0)
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "no checkpoint has been signed yet (run `certledger checkpoint`)");
	if (rc == CL_OK && (*note = strndup((const char *)n.ptr, n.len)) == NULL)
		rc = cl_error_set(&l->err, CL_ENOMEM, "out of memory");
	mdb_txn_abort(txn);
	return rc;
}

static cl_err take(cl_buf *b, uint8_t **hashes, size_t *n)
{
	*n = b->len / 32;
	*hashes = b->ptr;
	b->ptr = NULL;
	b->len = b->cap = 0;
	if (*hashes == NULL)
		*hashes = malloc(1);
	return *hashes ? CL_OK : CL_ENOMEM;
}

cl_err cl_ledger_inclusion_proof(cl_ledger *l, uint64_t seq, uint64_t size, uint8_t leaf_hash[32],
				 uint64_t *size_used, uint8_t **hashes, size_t *n)
{
	MDB_txn *txn;
	cl_bytes note;
	uint8_t root[32];
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
	*hashes = NULL;
	*n = 0;
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	cl_merkle_store_ctx m = {l->store, txn, &l->err};
	cl_head head;
	if ((rc = cl_head_get(l->store, txn, &head, &l->err)) != CL_OK)
		goto out;
	if (size == 0) {
		if ((rc = latest(l, txn, &size, root, &note, &l->err)) != CL_OK)
			goto out;
		if (size == 0) {
			rc = cl_error_set(&l->err, CL_ENOTFOUND, "no checkpoint yet: run `certledger checkpoint` or give --size");
			goto out;
		}
	}
	if (size > head.seq) {
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "the log holds %llu events, not %llu",
				  (unsigned long long)head.seq, (unsigned long long)size);
		goto out;
	}
	if (seq == 0 || seq > size) {
		rc = cl_error_set(&l->err, CL_ENOTFOUND, "seq %llu is not in a tree of size %llu", (unsigned long long)seq,
				  (unsigned long long)size);
		goto out;
	}
	if ((rc = cl_merkle_store_get(&m, 0, seq - 1, leaf_hash)) != CL_OK ||
	    (rc = cl_merkle_inclusion_proof(cl_merkle_store_get, &m, seq - 1, size, &proof)) != CL_OK)
		goto out;
	*size_used = size;
	if (take(&proof, hashes, n) != CL_OK)
		rc = cl_error_set(&l->err, CL_ENOMEM, "out of memory");
out:
	cl_buf_free(&proof);
	mdb_txn_abort(txn);
	return rc;
}

cl_err cl_ledger_consistency_proof(cl_ledger *l, uint64_t old_size, uint64_t new_size, uint8_t **hashes, size_t *n)
{
	MDB_txn *txn;
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
	*hashes = NULL;
	*n = 0;
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	cl_merkle_store_ctx m = {l->store, txn, &l->err};
	cl_head head;
	if ((rc = cl_head_get(l->store, txn, &head, &l->err)) != CL_OK)
		goto out;
	if (old_size == 0 || old_size > new_size || new_size > head.seq) {
		rc = cl_error_set(&l->err, CL_ENOTFOUND,
				  "no consistency proof from size %llu to %llu (the log holds %llu events)",
				  (unsigned long long)old_size, (unsigned long long)new_size, (unsigned long long)head.seq);
		goto out;
	}
	if ((rc = cl_merkle_consistency_proof(cl_merkle_store_get, &m, old_size, new_size, &proof)) != CL_OK)
		goto out;
	if (take(&proof, hashes, n) != CL_OK)
		rc = cl_error_set(&l->err, CL_ENOMEM, "out of memory");
out:
	cl_buf_free(&proof);
	mdb_txn_abort(txn);
	return rc;
}
