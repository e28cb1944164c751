/* store.c - LMDB environment: open/create with a format version, named DBs, map growth. */
#include "ledger/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INITIAL_MAP_SIZE ((size_t)64 << 20)
#define MAX_WRITE_RETRIES 24

cl_err cl_store_mdb_error(cl_error *err, int rc, const char *what)
{
	return cl_error_set(err, CL_EIO, "LMDB %s failed: %s", what, mdb_strerror(rc));
}

cl_err cl_store_put_error(cl_error *err, int rc)
{
	if (rc == MDB_MAP_FULL)
		return cl_error_set(err, CL_EMAPFULL, "LMDB map full");
	return cl_store_mdb_error(err, rc, "write");
}

static cl_err open_core_dbis(cl_store *s, MDB_txn *txn, unsigned flags, cl_error *err)
{
	struct { const char *name; MDB_dbi *dbi; } dbs[] = {
		{"log", &s->log}, {"meta", &s->meta}, {"keystore", &s->keystore},
		{"merkle", &s->merkle}, {"checkpoints", &s->checkpoints},
	};
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		int rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
		if (rc == MDB_NOTFOUND)
			return cl_error_set(err, CL_EINTEGRITY, "ledger database '%s' is missing", dbs[i].name);
		if (rc != 0)
			return cl_store_mdb_error(err, rc, "open database");
	}
	return CL_OK;
}

/* meta.format: 4 bytes, big-endian */
static uint32_t format_version(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

cl_err cl_store_open(cl_store **out, const char *path, int create, cl_error *err)
{
	*out = NULL;
	cl_err ret = CL_OK;
	MDB_txn *txn = NULL;
	cl_store *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	struct stat st;
	if (create) {
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			ret = cl_error_set(err, CL_EIO, "cannot create %s: %s", path, strerror(errno));
			goto out;
		}
	} else if (stat(path, &st) != 0) {
		ret = cl_error_set(err, CL_ENOTFOUND, "no ledger at %s (run `certledger init` first)", path);
		goto out;
	}
	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, CL_STORE_MAXDBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, INITIAL_MAP_SIZE);
	if (rc == 0)
		rc = mdb_env_open(s->env, path, MDB_NOTLS, 0600);
	if (rc != 0) {
		ret = cl_store_mdb_error(err, rc, "environment open");
		goto out;
	}
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	}
	if (rc != 0) {
		ret = cl_store_mdb_error(err, rc, "begin");
		goto out;
	}
	ret = open_core_dbis(s, txn, create ? MDB_CREATE : 0, err);
	if (ret != CL_OK)
		goto out;
	MDB_val k = {6, "format"}, v;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND && create) {
		uint8_t ver[4] = {0, 0, 0, CL_FORMAT_VERSION};
		v.mv_size = 4;
		v.mv_data = ver;
		rc = mdb_put(txn, s->meta, &k, &v, 0);
		if (rc != 0) {
			ret = cl_store_mdb_error(err, rc, "put");
			goto out;
		}
	} else if (rc != 0) {
		ret = cl_error_set(err, CL_EINTEGRITY, "ledger at %s has no format version", path);
		goto out;
	} else if (v.mv_size != 4) {
		ret = cl_error_set(err, CL_EUNSUPPORTED,
				   "ledger at %s has a malformed format version (%zu bytes; this build reads version %d)",
				   path, v.mv_size, CL_FORMAT_VERSION);
		goto out;
	} else if (format_version(v.mv_data) != CL_FORMAT_VERSION) {
		ret = cl_error_set(err, CL_EUNSUPPORTED,
				   "ledger at %s has format version %lu, which this build cannot read (it reads version %d)",
				   path, (unsigned long)format_version(v.mv_data), CL_FORMAT_VERSION);
		goto out;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		ret = cl_store_mdb_error(err, rc, "commit");
		goto out;
	}
	*out = s;
	s = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	cl_store_close(s);
	return ret;
}

void cl_store_close(cl_store *s)
{
	if (s == NULL)
		return;
	if (s->env)
		mdb_env_close(s->env);
	free(s->path);
	free(s);
}

cl_err cl_store_dbi(cl_store *s, MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *out, cl_error *err)
{
	(void)s;
	int rc = mdb_dbi_open(txn, name, flags, out);
	if (rc == MDB_NOTFOUND)
		return cl_error_set(err, CL_ENOTFOUND, "database %s does not exist", name);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "open database");
	return CL_OK;
}

static int begin_write(cl_store *s, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, 0, txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, 0, txn);
	}
	return rc;
}

static int grow(cl_store *s)
{
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	return mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
}

cl_err cl_store_write(cl_store *s, cl_store_write_fn fn, void *ctx, cl_error *err)
{
	for (int attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
		MDB_txn *txn = NULL;
		int rc = begin_write(s, &txn);
		if (rc != 0)
			return cl_store_mdb_error(err, rc, "begin write");
		cl_error inner = CL_ERROR_INIT;
		cl_err r = fn(txn, ctx, &inner);
		if (r == CL_OK) {
			rc = mdb_txn_commit(txn);
			if (rc == 0)
				return CL_OK;
			if (rc != MDB_MAP_FULL)
				return cl_store_mdb_error(err, rc, "commit");
		} else {
			mdb_txn_abort(txn);
			if (r != CL_EMAPFULL) {
				if (err)
					*err = inner;
				return r;
			}
		}
		/* the map is full: grow it and run the whole transaction again */
		rc = grow(s);
		if (rc != 0)
			return cl_store_mdb_error(err, rc, "map resize");
	}
	return cl_error_set(err, CL_EIO, "LMDB map could not grow enough for this write");
}

cl_err cl_store_read_begin(cl_store *s, MDB_txn **txn, cl_error *err)
{
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "begin read");
	return CL_OK;
}

cl_err cl_meta_get(cl_store *s, MDB_txn *txn, const char *name, cl_bytes *out)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, s->meta, &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? CL_ENOTFOUND : CL_EIO;
	*out = CL_BYTES(v.mv_data, v.mv_size);
	return CL_OK;
}

cl_err cl_meta_put(cl_store *s, MDB_txn *txn, const char *name, cl_bytes value, cl_error *err)
{
	MDB_val k = {strlen(name), (void *)name}, v = {value.len, (void *)value.ptr};
	int rc = mdb_put(txn, s->meta, &k, &v, 0);
	if (rc != 0)
		return cl_store_put_error(err, rc);
	return CL_OK;
}
