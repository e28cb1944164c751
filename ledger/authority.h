/* authority.h - who may sign what (DESIGN.md "Who may sign").
 *
 * The admin table is replayed from the log: `admin.added` registers a name, a role and a key;
 * `admin.removed` ends it. The same table and the same rules serve the write path (loaded
 * from meta at the start of each write transaction and saved back) and `verify` (rebuilt in
 * memory from seq 1), so what may be written and what verifies are one definition.
 *
 * Rules: seq 1 is `ledger.created`, signed by the ledger key, actor "ledger". The ledger key
 * may also sign the `admin.added` that registers the first owner, and nothing else. Every
 * other event is signed by an active admin whose name is the event's actor: owners may do
 * everything, admins everything but adding and removing admins, auditors nothing. Names are
 * never reused; the last owner cannot be removed.
 */
#ifndef CL_LEDGER_AUTHORITY_H
#define CL_LEDGER_AUTHORITY_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/envelope.h"
#include "ledger/store.h"

typedef enum { CL_ROLE_NONE = 0, CL_ROLE_OWNER, CL_ROLE_ADMIN, CL_ROLE_AUDITOR } cl_role;

const char *cl_role_name(cl_role r);
cl_role cl_role_parse(const char *s, size_t n);

typedef struct cl_admin {
	char name[CL_ACTOR_MAX + 1];
	cl_role role;
	bool active;
	uint8_t pub[CL_ED25519_PUB_LEN];
	uint8_t signer_id[CL_SIGNER_ID_LEN];
	uint64_t added_seq;
	uint64_t removed_seq; /* 0 while active */
} cl_admin;

typedef struct cl_admins {
	cl_admin *v;
	size_t n;
	size_t cap;
	bool have_ledger_key;
	uint8_t ledger_pub[CL_ED25519_PUB_LEN];
	uint8_t ledger_signer_id[CL_SIGNER_ID_LEN];
} cl_admins;

#define CL_ADMINS_INIT {NULL, 0, 0, false, {0}, {0}}

void cl_admins_free(cl_admins *a);
const cl_admin *cl_admins_find(const cl_admins *a, const char *name, size_t n);

/* Checks that the event (seq, type, actor, data) may be signed by the key with this signer id.
 * Returns CL_OK or CL_EDENIED / CL_EBADINPUT with a message naming who and what. */
cl_err cl_admins_check(const cl_admins *a, uint64_t seq, cl_bytes type, cl_bytes actor, cl_bytes data,
		       const uint8_t signer_id[CL_SIGNER_ID_LEN], cl_error *err);
/* Applies ledger.created / admin.added / admin.removed (others are ignored). Call only after a
 * successful check. */
cl_err cl_admins_apply(cl_admins *a, uint64_t seq, cl_bytes type, cl_bytes data, cl_error *err);

/* The table as kept in meta under "admins" (a msgpack array), for the write path. */
cl_err cl_admins_load(cl_admins *a, cl_store *s, MDB_txn *txn, cl_error *err);
cl_err cl_admins_save(const cl_admins *a, cl_store *s, MDB_txn *txn, cl_error *err);

/* Data codecs of the two event types every verifier needs (DESIGN.md). Views borrow data. */
cl_err cl_ledger_created_decode(cl_bytes data, cl_bytes *origin, const uint8_t **public_key,
				cl_bytes *org_domains_array, cl_error *err);
cl_err cl_admin_added_decode(cl_bytes data, cl_bytes *name, cl_role *role, const uint8_t **public_key,
			     cl_error *err);
cl_err cl_admin_removed_decode(cl_bytes data, cl_bytes *name, cl_error *err);

/* Admin names: 1..64 bytes of [A-Za-z0-9._-], not "ledger". */
bool cl_admin_name_valid(const char *name, size_t n);

#endif
