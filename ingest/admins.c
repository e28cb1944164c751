/* admins.c - `admin add|remove|list`: turning admin requests into admin.added / admin.removed
 * events. Who may do it is decided by the ledger's authority rules (ledger/authority.c) when
 * the event is appended, so the CLI, the library and `verify` agree by construction. */
#include "certledger/admins.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ledger/append.h"
#include "ledger/authority.h"
#include "ledger/mp_writer.h"

typedef struct add_ctx {
	const char *name;
	const char *role;
	const cl_key *key;
	uint64_t seq;
} add_ctx;

static cl_err add_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	add_ctx *c = arg;
	cl_buf data = CL_BUF_INIT(4096);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &data);
	cl_mp_map(&w, 3);
	cl_mp_str(&w, "name");
	cl_mp_str(&w, c->name);
	cl_mp_str(&w, "role");
	cl_mp_str(&w, c->role);
	cl_mp_str(&w, "public_key");
	cl_mp_bin(&w, c->key->pub, CL_ED25519_PUB_LEN);
	cl_actor who = cl_wtxn__actor(t);
	cl_appended ap;
	cl_err rc = w.rc;
	if (rc == CL_OK)
		rc = cl_wtxn_append(t, &who, "admin.added", cl_buf_view(&data), &ap, err);
	if (rc == CL_OK)
		c->seq = ap.seq;
	cl_buf_free(&data);
	return rc;
}

cl_err cl_admin_add(cl_ledger *l, const char *name, const char *role, const char *public_key_path,
		    const char *generate_key_out, cl_admin_info *out)
{
	cl_key *key = NULL;
	cl_err rc;
	if (!cl_admin_name_valid(name, strlen(name)))
		return cl_error_set(&l->err, CL_EBADINPUT,
				    "invalid admin name '%s' (1-64 of A-Z a-z 0-9 . _ -, not 'ledger')", name);
	if (cl_role_parse(role, strlen(role)) == CL_ROLE_NONE)
		return cl_error_set(&l->err, CL_EBADINPUT, "unknown role '%s' (admin or auditor)", role);
	/* Checked again when the event is appended; checked here first so that no key file is
	 * written for a name that cannot be added. */
	MDB_txn *txn;
	cl_admins existing = CL_ADMINS_INIT;
	if ((rc = cl_store_read_begin(l->store, &txn, &l->err)) != CL_OK)
		return rc;
	rc = cl_admins_load(&existing, l->store, txn, &l->err);
	mdb_txn_abort(txn);
	bool taken = rc == CL_OK && cl_admins_find(&existing, name, strlen(name)) != NULL;
	cl_admins_free(&existing);
	if (rc != CL_OK)
		return rc;
	if (taken)
		return cl_error_set(&l->err, CL_EREFUSED, "admin '%s' exists already (names are never reused)", name);
	if ((public_key_path == NULL) == (generate_key_out == NULL))
		return cl_error_set(&l->err, CL_EUSAGE, "give exactly one of a public key file and a key file to generate");
	if (public_key_path != NULL) {
		if ((rc = cl_key_load(&key, public_key_path, &l->err)) != CL_OK)
			return rc == CL_ENOTFOUND ? cl_error_set(&l->err, CL_EBADINPUT, "%s", l->err.msg) : rc;
	} else {
		if (access(generate_key_out, F_OK) == 0)
			return cl_error_set(&l->err, CL_EEXISTS, "%s exists already; refusing to overwrite it",
					    generate_key_out);
		if ((rc = cl_key_generate(&key, &l->err)) != CL_OK)
			return rc;
	}
	/* A generated private key is written (0600, never overwriting) before the event so that an
	 * admin never exists without its key; if the event is refused, the file is removed again. */
	if (generate_key_out != NULL && (rc = cl_key_save_private(key, generate_key_out, &l->err)) != CL_OK) {
		cl_key_free(key);
		return rc;
	}
	add_ctx c = {name, role, key, 0};
	rc = cl_ledger__write(l, add_cb, &c, &l->err);
	if (rc != CL_OK && generate_key_out != NULL)
		unlink(generate_key_out);
	if (rc == CL_OK && out != NULL) {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "%s", name);
		snprintf(out->role, sizeof(out->role), "%s", role);
		memcpy(out->public_key, key->pub, 32);
		out->added_seq = c.seq;
	}
	cl_key_free(key);
	return rc;
}

typedef struct remove_ctx {
	const char *name;
	uint64_t seq;
} remove_ctx;

static cl_err remove_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	remove_ctx *c = arg;
	cl_buf data = CL_BUF_INIT(1024);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &data);
	cl_mp_map(&w, 1);
	cl_mp_str(&w, "name");
	cl_mp_str(&w, c->name);
	cl_actor who = cl_wtxn__actor(t);
	cl_appended ap;
	cl_err rc = w.rc;
	if (rc == CL_OK)
		rc = cl_wtxn_append(t, &who, "admin.removed", cl_buf_view(&data), &ap, err);
	if (rc == CL_OK)
		c->seq = ap.seq;
	cl_buf_free(&data);
	return rc;
}

cl_err cl_admin_remove(cl_ledger *l, const char *name, uint64_t *seq)
{
	remove_ctx c = {name, 0};
	if (!cl_admin_name_valid(name, strlen(name)))
		return cl_error_set(&l->err, CL_ENOTFOUND, "no admin named '%s'", name);
	cl_err rc = cl_ledger__write(l, remove_cb, &c, &l->err);
	if (rc == CL_OK && seq)
		*seq = c.seq;
	return rc;
}

cl_err cl_admin_list(cl_ledger *l, cl_admin_cb cb, void *ctx)
{
	MDB_txn *txn;
	cl_admins a = CL_ADMINS_INIT;
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	rc = cl_admins_load(&a, l->store, txn, &l->err);
	mdb_txn_abort(txn);
	for (size_t i = 0; rc == CL_OK && i < a.n; i++) {
		cl_admin_info info;
		memset(&info, 0, sizeof(info));
		snprintf(info.name, sizeof(info.name), "%s", a.v[i].name);
		snprintf(info.role, sizeof(info.role), "%s", cl_role_name(a.v[i].role));
		memcpy(info.public_key, a.v[i].pub, 32);
		info.added_seq = a.v[i].added_seq;
		info.removed_seq = a.v[i].removed_seq;
		if (cb(&info, ctx))
			break;
	}
	cl_admins_free(&a);
	return rc;
}
