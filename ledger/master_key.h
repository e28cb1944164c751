/* master_key.h - the ledger's master key: 32 random bytes that wrap the data key of every
 * sealed secret (ledger/sealed.h: private keys in `keystore`, webhook secrets in `wh_secrets`).
 *
 * The file. It lives outside the LMDB environment, mode 0600, and is never inside an export.
 * File layout: 8-byte magic "CLMK\0\1\0\0" then the 32 key bytes; it is read and written with
 * read()/write() straight to and from wiping secret buffers (no stdio).
 *
 * Which key is current. The file cannot be replaced atomically with the LMDB transaction that
 * re-wraps the sealed blobs during a rotation (ledger/master_rotate.h), so the environment
 * records which key the committed blobs are wrapped under, in one record of `keystore` that is
 * not a fingerprint:
 *
 *     key "master-key-id" (13 bytes; fingerprints are 32)  ->  SHA-256("certledger/master-key-id"
 *                                                               || 0x01 || master key), 32 bytes
 *
 * It is written by the transaction that re-wraps (and by the first transaction that seals
 * anything), so it always names the key the committed blobs need. cl_master_key__current picks
 * that key from the key file or, in the window between a rotation's commit and the rename of the
 * new key file over the old one (a crash there, or another process looking between those two
 * steps), from the prepared "<path>.new". The id is a hash of a 256-bit random key: it reveals
 * nothing. Why `keystore` and not `meta`: that is where ledgers already keep it (no migration of
 * existing environments), and it sits beside the blobs it describes, which only the ledger writes
 * in bulk; every reader of `keystore` skips it (its key is not 32 bytes long).
 */
#ifndef CL_LEDGER_MASTER_KEY_H
#define CL_LEDGER_MASTER_KEY_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "certledger/ledger.h"
#include "ledger/bytes.h"

#define CL_MASTER_KEY_LEN 32
#define CL_MASTER_KEY_ID_RECORD "master-key-id" /* the keystore key of the record (see above) */
#define CL_MASTER_KEY_ID_RECORD_LEN 13

/* Creates a new master key file (O_EXCL, 0600) with fresh random bytes. */
cl_err cl_master_key_create(const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Loads the key into out (a cl_secret of exactly 32 bytes). Refuses a file readable by group or
 * others, a wrong size or magic. */
cl_err cl_master_key_load(cl_secret *out, const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Generates a new key, writes it to path.new (0600), fsyncs, and returns it in out WITHOUT
 * replacing path yet: the caller re-wraps under it, commits, then calls cl_master_key_install. */
cl_err cl_master_key_prepare(cl_secret *out, const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Atomically renames path.new over path and fsyncs the directory. */
cl_err cl_master_key_install(const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Removes a prepared path.new (after a failed rotation). */
void cl_master_key_discard(const char *path);

/* The id of a 32-byte master key (see above; 32 zero bytes, which match no key, if hashing
 * fails). */
void cl_master_key__id(const cl_secret *master, uint8_t out[32]);

/* Records id as the key every sealed blob is wrapped under (inside a write transaction). LMDB
 * errors go through cl_store_put_error (a full map is CL_EMAPFULL, for cl_store_write to retry). */
cl_err cl_master_key__record(cl_ledger *l, MDB_txn *txn, const uint8_t id[32], cl_error *err)
	__attribute__((warn_unused_result));

/* Loads into *out (replaced; a 32-byte cl_secret, wiped on free) the master key that the sealed
 * blobs are wrapped under, as seen by txn: the key of l's master key file when its id is the
 * recorded one (or when none is recorded yet), else the key of "<path>.new" when that one's id
 * is (a rotation committed, its file not renamed yet). Every layer that seals or opens a secret
 * takes its key from here, inside the transaction that reads or writes the blob, never from the
 * file alone. record: txn is a write transaction that is about to seal, and a missing id is
 * recorded as the id of the key returned. *pending (may be NULL) is set when the key came from
 * "<path>.new". Errors: the key file's own (CL_ENOTFOUND, CL_EREFUSED for a group- or
 * world-readable file, CL_EBADINPUT, CL_EIO); CL_EINTEGRITY when neither file holds the recorded
 * key or the record is damaged; LMDB's. On error *out is empty. */
cl_err cl_master_key__current(cl_ledger *l, MDB_txn *txn, bool record, cl_secret *out, bool *pending,
			      cl_error *err) __attribute__((warn_unused_result));

#endif
