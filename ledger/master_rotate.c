/* master_rotate.c - master-key rotation over every sealed database of the environment, in one
 * write transaction, with recovery of an interrupted rotation (the steps, the crash window and
 * the table of sealed databases are explained in master_rotate.h). */
#include "ledger/master_rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ledger/encoding.h"
#include "ledger/handle.h"
#include "ledger/master_key.h"
#include "ledger/sealed.h"

/* One database that holds sealed blobs, keyed by their context. */
typedef struct sealed_db {
	const char *name;
	cl_sealed_purpose purpose;
	const char *skip;  /* the key of a record that is not a blob, or NULL */
	bool binary_keys;  /* keys are bytes (shown in hex in messages), else printable ids */
} sealed_db;

static const sealed_db SEALED_DBS[] = {
	{"keystore", CL_SEALED_PRIVATE_KEY, CL_MASTER_KEY_ID_RECORD, true},
	{"wh_secrets", CL_SEALED_WEBHOOK_SECRET, NULL, false},
};

typedef struct rotate_ctx {
	cl_ledger *l;
	const cl_secret *new_master;
	size_t count;
} rotate_ctx;

/* "<db> entry <key>" for a message: the key in hex or as text (it was checked to be a context,
 * so at most CL_SEALED_CONTEXT_MAX bytes). */
static void name_entry(char *out, size_t cap, const sealed_db *db, const uint8_t *key, size_t n)
{
	char shown[2 * CL_SEALED_CONTEXT_MAX + 1];
	if (db->binary_keys) {
		cl_hex_encode(shown, key, n);
	} else {
		for (size_t i = 0; i < n; i++)
			shown[i] = key[i] >= 0x21 && key[i] < 0x7f ? (char)key[i] : '?';
		shown[n] = '\0';
	}
	snprintf(out, cap, "%s entry %s", db->name, shown);
}

/* Collects the keys of db's blobs into keys, each as one length byte then the key. The keys
 * are collected first and the blobs rewritten with plain gets and puts afterwards: a put
 * through the walking cursor would take its key from the very page it rewrites (LMDB deletes
 * and re-adds a node whose overflow pages change), which corrupted an entry once. */
static cl_err collect_keys(MDB_txn *txn, MDB_dbi dbi, const sealed_db *db, cl_buf *keys, cl_error *err)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	cl_err rc = CL_OK;
	size_t skip_len = db->skip != NULL ? strlen(db->skip) : 0;
	int mrc = mdb_cursor_open(txn, dbi, &cur);
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, db->name);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (db->skip != NULL && k.mv_size == skip_len && memcmp(k.mv_data, db->skip, skip_len) == 0)
			continue;
		if (!cl_sealed__context_ok(db->purpose, CL_BYTES(k.mv_data, k.mv_size))) {
			rc = cl_error_set(err, CL_EINTEGRITY, "the %s database holds an entry with a key of %zu bytes, "
				"which cannot belong to a sealed secret", db->name, k.mv_size);
			goto out;
		}
		if ((rc = cl_buf_append_byte(keys, (uint8_t)k.mv_size)) != CL_OK ||
		    (rc = cl_buf_append(keys, k.mv_data, k.mv_size)) != CL_OK) {
			cl_error_set(err, rc, "out of memory");
			goto out;
		}
	}
	if (mrc != MDB_NOTFOUND)
		rc = cl_store_mdb_error(err, mrc, db->name);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* Re-wraps every blob of db from old to new_master; *count grows by the number re-wrapped. A
 * database that does not exist (yet) holds nothing to re-wrap. */
static cl_err rewrap_db(MDB_txn *txn, const sealed_db *db, const cl_secret *old, const cl_secret *new_master,
			size_t *count, cl_error *err)
{
	cl_buf keys = CL_BUF_INIT((size_t)1 << 30);
	cl_buf out = CL_BUF_INIT(CL_SEALED_OVERHEAD + CL_SEALED_MAX);
	char what[2 * CL_SEALED_CONTEXT_MAX + 64];
	MDB_dbi dbi;
	cl_err rc = CL_OK;
	int mrc = mdb_dbi_open(txn, db->name, 0, &dbi);
	if (mrc == MDB_NOTFOUND)
		return CL_OK;
	if (mrc != 0)
		return cl_store_mdb_error(err, mrc, db->name);
	if ((rc = collect_keys(txn, dbi, db, &keys, err)) != CL_OK)
		goto out;
	for (size_t off = 0; off < keys.len; off += 1 + (size_t)keys.ptr[off]) {
		MDB_val k = {keys.ptr[off], keys.ptr + off + 1}, v;
		cl_bytes context = CL_BYTES(k.mv_data, k.mv_size);
		name_entry(what, sizeof(what), db, context.ptr, context.len);
		if ((mrc = mdb_get(txn, dbi, &k, &v)) != 0) {
			rc = cl_store_mdb_error(err, mrc, what);
			goto out;
		}
		rc = cl_sealed__rewrap(&out, old, new_master, db->purpose, context, CL_BYTES(v.mv_data, v.mv_size), err);
		if (rc != CL_OK) {
			cl_error_prefix(err, "%s", what);
			goto out;
		}
		MDB_val nv = {out.len, out.ptr};
		if ((mrc = mdb_put(txn, dbi, &k, &nv, 0)) != 0) {
			rc = cl_store_put_error(err, mrc);
			goto out;
		}
		(*count)++;
	}
out:
	cl_buf_free(&keys);
	cl_buf_free(&out);
	return rc;
}

/* Step 4 (run again from the start when the map grows: it only writes through txn). */
static cl_err rotate_txn(MDB_txn *txn, void *arg, cl_error *err)
{
	rotate_ctx *c = arg;
	cl_secret old = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	uint8_t id[32];
	c->count = 0;
	cl_err rc = cl_master_key__current(c->l, txn, false, &old, NULL, err);
	for (size_t i = 0; rc == CL_OK && i < sizeof(SEALED_DBS) / sizeof(SEALED_DBS[0]); i++)
		rc = rewrap_db(txn, &SEALED_DBS[i], &old, c->new_master, &c->count, err);
	if (rc == CL_OK) {
		cl_master_key__id(c->new_master, id);
		rc = cl_master_key__record(c->l, txn, id, err);
	}
	cl_secret_free(&old);
	return rc;
}

/* Step 2: a "<path>.new" left by an earlier rotation is installed when the environment records
 * its key (that rotation committed), else removed (it never did). */
static cl_err finish_earlier(cl_ledger *l, cl_error *err)
{
	char *np = NULL;
	cl_secret k = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	MDB_txn *txn = NULL;
	bool pending = false;
	cl_err rc = CL_OK;
	if (asprintf(&np, "%s.new", l->master_key_path) < 0)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	if (access(np, F_OK) != 0)
		goto out;
	if ((rc = cl_store_read_begin(l->store, &txn, err)) != CL_OK)
		goto out;
	rc = cl_master_key__current(l, txn, false, &k, &pending, err);
	mdb_txn_abort(txn);
	if (rc != CL_OK)
		goto out;
	if (pending)
		rc = cl_master_key_install(l->master_key_path, err);
	else
		cl_master_key_discard(l->master_key_path);
out:
	cl_secret_free(&k);
	free(np);
	return rc;
}

cl_err cl_master_key__rotate(cl_ledger *l, size_t *rewrapped, cl_error *err)
{
	cl_secret fresh = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	char *lock_path = NULL;
	int lock_fd = -1;
	bool prepared = false;
	cl_err rc;

	if (rewrapped != NULL)
		*rewrapped = 0;
	if (l->read_only)
		return cl_error_set(err, CL_EUSAGE, "the ledger was opened read-only");
	if (asprintf(&lock_path, "%s.lock", l->master_key_path) < 0)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
		rc = cl_error_set(err, CL_EIO, "cannot lock %s: %s", lock_path, strerror(errno));
		goto out;
	}
	if ((rc = finish_earlier(l, err)) != CL_OK) {
		cl_error_prefix(err, "an earlier rotation could not be completed");
		goto out;
	}
	if ((rc = cl_master_key_prepare(&fresh, l->master_key_path, err)) != CL_OK)
		goto out;
	prepared = true;
	rotate_ctx c = {l, &fresh, 0};
	if ((rc = cl_store_write(l->store, rotate_txn, &c, err)) != CL_OK)
		goto out;
	prepared = false; /* committed: "<path>.new" now holds the only key that opens the blobs */
	if ((rc = cl_master_key_install(l->master_key_path, err)) != CL_OK) {
		cl_error_prefix(err, "the secrets were re-wrapped under the new key in %s.new, but installing it failed "
			       "(they still open; run `certledger keys rotate-master` again)",
			       l->master_key_path);
		goto out;
	}
	if (rewrapped != NULL)
		*rewrapped = c.count;
out:
	if (prepared)
		cl_master_key_discard(l->master_key_path);
	cl_secret_free(&fresh);
	if (lock_fd >= 0)
		close(lock_fd); /* releases the lock */
	free(lock_path);
	return rc;
}
