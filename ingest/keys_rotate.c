/* keys_rotate.c - `keys rotate-master` (certledger/certs.h, cl_keys_rotate_master): checks that
 * the acting admin may rotate, then has the ledger do it (ledger/master_rotate.h: every sealed
 * secret re-wrapped under a new master key in one transaction, the key file replaced, an
 * interrupted rotation recovered). The rotation itself lives in the ledger because the ledger
 * owns the environment and so knows every database that holds sealed secrets, private keys and
 * webhook secrets alike; this file only decides who may ask for it.
 */
#include "certledger/certs.h"

#include <string.h>

#include "ledger/authority.h"
#include "ledger/handle.h"
#include "ledger/master_rotate.h"

/* Only an owner or an admin (with its key loaded) may rotate: the same people who may upload. */
static cl_err check_actor(cl_ledger *l, cl_error *err)
{
	cl_admins a = CL_ADMINS_INIT;
	MDB_txn *txn = NULL;
	if (l->read_only)
		return cl_error_set(err, CL_EUSAGE, "the ledger was opened read-only");
	if (l->actor_key == NULL || !l->actor_key->has_private)
		return cl_error_set(err, CL_EDENIED, "%s",
				    l->actor_key_error[0] ? l->actor_key_error : "no signing key for the acting admin");
	cl_err rc = cl_store_read_begin(l->store, &txn, err);
	if (rc != CL_OK)
		return rc;
	rc = cl_admins_load(&a, l->store, txn, err);
	mdb_txn_abort(txn);
	if (rc == CL_OK) {
		const cl_admin *me = cl_admins_find(&a, l->actor_name, strlen(l->actor_name));
		if (me == NULL || !me->active || (me->role != CL_ROLE_OWNER && me->role != CL_ROLE_ADMIN) ||
		    memcmp(me->pub, l->actor_key->pub, CL_ED25519_PUB_LEN) != 0)
			rc = cl_error_set(err, CL_EDENIED, "'%s' may not rotate the master key (owners and admins may)",
					  l->actor_name);
	}
	cl_admins_free(&a);
	return rc;
}

cl_err cl_keys_rotate_master(cl_ledger *l, size_t *rewrapped)
{
	cl_error *err = &l->err;
	cl_err rc;
	cl_error_clear(err);
	if (rewrapped != NULL)
		*rewrapped = 0;
	if ((rc = check_actor(l, err)) != CL_OK)
		return rc;
	return cl_master_key__rotate(l, rewrapped, err);
}
