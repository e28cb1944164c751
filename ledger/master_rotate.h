/* master_rotate.h - master-key rotation: a new master key, every sealed blob of every sealed
 * database re-wrapped under it in ONE LMDB write transaction, then the new key file renamed over
 * the old one. The log does not change.
 *
 * The ledger owns the environment, so it knows every database that holds sealed secrets
 * (ledger/sealed.h) and what each one's keys are:
 *
 *   database     purpose                    context of a blob = the record's key
 *   keystore     CL_SEALED_PRIVATE_KEY      certificate fingerprint (32 bytes); the
 *                                           "master-key-id" record (ledger/master_key.h) is
 *                                           not a blob and is skipped
 *   wh_secrets   CL_SEALED_WEBHOOK_SECRET   subscription id (absent until a webhook is added)
 *
 * A database that comes to hold sealed secrets is added to that table (master_rotate.c), or
 * rotation would leave its blobs under a key that is then gone.
 *
 * The order of the steps, and why it is recoverable:
 *   1. lock "<path>.lock" (flock): one rotation at a time, across processes;
 *   2. finish or clean up an earlier rotation (below);
 *   3. cl_master_key_prepare: the new key goes to "<path>.new" (0600, fsynced) and nowhere else;
 *   4. one write transaction: the current key (cl_master_key__current) unwraps and the new key
 *      re-wraps every blob of the table above, and the recorded master-key id becomes the new
 *      key's; commit (durable). On any failure the transaction is aborted and "<path>.new"
 *      removed: nothing changed;
 *   5. cl_master_key_install: rename "<path>.new" over path, fsync the directory.
 *
 * The only window is a crash (or another process looking) between the commit of 4 and the
 * rename of 5: the blobs then need the key of "<path>.new" while path still holds the old key.
 * That state is safe and self-describing, because the environment records which key the blobs
 * are wrapped under (written in step 4, in the same transaction as the blobs):
 *   - everyone who seals or opens a secret (private keys, webhook secrets) takes the key from
 *     cl_master_key__current, which picks whichever of path and "<path>.new" has the recorded id;
 *   - the next rotation, in step 2, sees "<path>.new" holding the recorded key and installs it
 *     before starting; a "<path>.new" whose key is not the recorded one is the leftover of a
 *     rotation that never committed, and is removed.
 * This was chosen over keeping the old key as "<path>.old": with the id, nothing has to guess
 * which file is current, and the old key does not linger on disk after a completed rotation.
 */
#ifndef CL_LEDGER_MASTER_ROTATE_H
#define CL_LEDGER_MASTER_ROTATE_H

#include <stddef.h>

#include "certledger/ledger.h"

/* Rotates l's master key as described above. *rewrapped (may be NULL) receives the number of
 * blobs re-wrapped, over all sealed databases; 0 on error. Who may rotate is the caller's
 * decision (cl_keys_rotate_master checks the acting admin). Errors: CL_EUSAGE (l is read-only),
 * CL_EIO (the lock or a key file), CL_EINTEGRITY (a blob that does not open under the current
 * key, named by database and key, or a record whose key cannot be a context), the master key's
 * (cl_master_key__current), LMDB's. When the commit succeeded but the rename did not, the
 * message says so: the blobs still open (through "<path>.new") and a second rotation completes
 * the first. The error is written to err, not to l's error slot. */
cl_err cl_master_key__rotate(cl_ledger *l, size_t *rewrapped, cl_error *err) __attribute__((warn_unused_result));

#endif
