/* ledger.c - creating and opening a ledger: directory layout, keys, the first two events. */
#include "certledger/ledger.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/append.h"
#include "ledger/authority.h"
#include "ledger/checkpoint.h"
#include "ledger/encoding.h"
#include "ledger/handle.h"
#include "ledger/head.h"
#include "ledger/master_key.h"
#include "ledger/mp_writer.h"
#include "ledger/timefmt.h"

#define DEFAULT_OWNER "owner"

static char *join(const char *a, const char *b)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

char *cl_ledger__key_path(const cl_ledger *l, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s.key", l->key_dir, name) < 0)
		return NULL;
	return p;
}

void cl_ledger__set_apply(cl_ledger *l, cl_apply_fn fn, void *ctx)
{
	l->apply = fn;
	l->apply_ctx = ctx;
}

int64_t cl_ledger__now(cl_ledger *l)
{
	return l->clock ? l->clock(l->clock_ctx) : cl_time_now();
}

const char *cl_ledger_error(const cl_ledger *l)
{
	return l ? l->err.msg : "";
}

void cl_ledger_free(cl_ledger *l)
{
	if (l == NULL)
		return;
	cl_store_close(l->store);
	cl_key_free(l->ledger_key);
	cl_key_free(l->actor_key);
	free(l->dir);
	free(l->key_dir);
	free(l->master_key_path);
	free(l->actor_name);
	free(l);
}

static cl_ledger *alloc_handle(const char *dir, const cl_open_opts *opts)
{
	cl_ledger *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->dir = strdup(dir);
	l->key_dir = opts && opts->key_dir ? strdup(opts->key_dir) : join(dir, "keys");
	if (l->key_dir != NULL)
		l->master_key_path = opts && opts->master_key_path ? strdup(opts->master_key_path)
								   : join(l->key_dir, "master.key");
	l->clock = opts ? opts->clock : NULL;
	l->clock_ctx = opts ? opts->clock_ctx : NULL;
	l->read_only = opts ? opts->read_only : false;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	l->threads = n > 0 ? (int)n : 1;
	if (l->dir == NULL || l->key_dir == NULL || l->master_key_path == NULL) {
		cl_ledger_free(l);
		return NULL;
	}
	return l;
}

static bool origin_valid(const char *o)
{
	size_t n = strlen(o);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)o[i] <= 0x20 || o[i] == '+' || o[i] == 0x7f)
			return false;
	return true;
}

typedef struct init_ctx {
	const cl_key *ledger_key;
	const cl_key *owner_key;
	const char *owner;
	const char *origin;
	const char *const *domains;
	cl_appended first;
} init_ctx;

static cl_err init_events(cl_wtxn *t, void *arg, cl_error *err)
{
	init_ctx *c = arg;
	cl_ledger *l = cl_wtxn__ledger(t);
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_mp_writer w;
	uint32_t nd = 0;
	while (c->domains && c->domains[nd])
		nd++;
	cl_mp_writer_init(&w, &data);
	cl_mp_map(&w, 3);
	cl_mp_str(&w, "origin");
	cl_mp_str(&w, c->origin);
	cl_mp_str(&w, "public_key");
	cl_mp_bin(&w, c->ledger_key->pub, CL_ED25519_PUB_LEN);
	cl_mp_str(&w, "org_domains");
	cl_mp_array(&w, nd);
	for (uint32_t i = 0; i < nd; i++)
		cl_mp_str(&w, c->domains[i]);
	cl_actor ledger_actor = {CL_LEDGER_ACTOR, c->ledger_key};
	cl_err rc = w.rc;
	if (rc == CL_OK)
		rc = cl_wtxn_append(t, &ledger_actor, "ledger.created", cl_buf_view(&data), &c->first, err);
	if (rc == CL_OK) {
		cl_buf_reset(&data);
		cl_mp_writer_init(&w, &data);
		cl_mp_map(&w, 3);
		cl_mp_str(&w, "name");
		cl_mp_str(&w, c->owner);
		cl_mp_str(&w, "role");
		cl_mp_str(&w, "owner");
		cl_mp_str(&w, "public_key");
		cl_mp_bin(&w, c->owner_key->pub, CL_ED25519_PUB_LEN);
		rc = w.rc;
		if (rc == CL_OK)
			rc = cl_wtxn_append(t, &ledger_actor, "admin.added", cl_buf_view(&data), NULL, err);
	}
	if (rc == CL_OK) {
		char id[65];
		cl_hex_encode(id, c->first.id, CL_HASH_LEN);
		id[32] = '\0';
		rc = cl_meta_put(l->store, cl_wtxn__txn(t), "origin", CL_BYTES(c->origin, strlen(c->origin)), err);
		if (rc == CL_OK)
			rc = cl_meta_put(l->store, cl_wtxn__txn(t), "ledger_id", CL_BYTES(id, 32), err);
		if (rc == CL_OK)
			rc = cl_meta_put(l->store, cl_wtxn__txn(t), "init_owner", CL_BYTES(c->owner, strlen(c->owner)), err);
	}
	cl_buf_free(&data);
	return rc;
}

cl_err cl_ledger__init_raw(cl_ledger **out, const char *dir, const cl_init_opts *init, const cl_open_opts *opts,
			  cl_apply_fn apply, void *apply_ctx, cl_error *err)
{
	*out = NULL;
	cl_err rc = CL_OK;
	char *db = join(dir, "db"), *ledger_key_path = NULL, *owner_key_path = NULL;
	cl_key *lk = NULL, *ok = NULL;
	bool made_keys = false, made_db = false;
	const char *owner = init && init->owner_name ? init->owner_name : DEFAULT_OWNER;
	char origin[256];
	cl_ledger *l = alloc_handle(dir, opts);
	if (l == NULL || db == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (init && init->origin) {
		if (!origin_valid(init->origin)) {
			rc = cl_error_set(err, CL_EBADINPUT,
					  "origin '%s' is not valid (1-255 bytes, no spaces, no '+', no control characters)",
					  init->origin);
			goto out;
		}
		snprintf(origin, sizeof(origin), "%s", init->origin);
	} else {
		uint8_t rnd[8];
		char hex[17];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			rc = cl_error_set(err, CL_ECRYPTO, "no randomness");
			goto out;
		}
		cl_hex_encode(hex, rnd, sizeof(rnd));
		snprintf(origin, sizeof(origin), "certledger/%s", hex);
	}
	if (!cl_admin_name_valid(owner, strlen(owner))) {
		rc = cl_error_set(err, CL_EBADINPUT, "invalid owner name '%s'", owner);
		goto out;
	}
	struct stat st;
	if (stat(db, &st) == 0) {
		rc = cl_error_set(err, CL_EEXISTS, "a ledger already exists at %s", dir);
		goto out;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = cl_error_set(err, CL_EIO, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	if (mkdir(l->key_dir, 0700) != 0 && errno != EEXIST) {
		rc = cl_error_set(err, CL_EIO, "cannot create key directory %s: %s", l->key_dir, strerror(errno));
		goto out;
	}
	ledger_key_path = cl_ledger__key_path(l, "ledger");
	owner_key_path = cl_ledger__key_path(l, owner);
	if (ledger_key_path == NULL || owner_key_path == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (access(ledger_key_path, F_OK) == 0 || access(owner_key_path, F_OK) == 0 ||
	    access(l->master_key_path, F_OK) == 0) {
		rc = cl_error_set(err, CL_EEXISTS, "key files already exist in %s; refusing to overwrite them",
				  l->key_dir);
		goto out;
	}
	if ((rc = cl_key_generate(&lk, err)) != CL_OK || (rc = cl_key_generate(&ok, err)) != CL_OK)
		goto out;
	made_keys = true;
	if ((rc = cl_key_save_private(lk, ledger_key_path, err)) != CL_OK ||
	    (rc = cl_key_save_private(ok, owner_key_path, err)) != CL_OK ||
	    (rc = cl_master_key_create(l->master_key_path, err)) != CL_OK)
		goto out;
	made_db = true;
	if ((rc = cl_store_open(&l->store, db, 1, err)) != CL_OK)
		goto out;
	init_ctx c = {lk, ok, owner, origin, init ? init->org_domains : NULL, {0}};
	cl_ledger__set_apply(l, apply, apply_ctx);
	l->ledger_key = lk;
	lk = NULL;
	if ((rc = cl_ledger__write(l, init_events, &c, err)) != CL_OK)
		goto out;
	snprintf(l->origin, sizeof(l->origin), "%s", origin);
	cl_hex_encode(l->ledger_id, c.first.id, 16);
	l->actor_name = strdup(owner);
	l->actor_key = ok;
	ok = NULL;
	if (l->actor_name == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	*out = l;
	l = NULL;
out:
	if (rc != CL_OK && l != NULL) {
		if (made_db) {
			cl_store_close(l->store);
			l->store = NULL;
			char *p;
			if ((p = join(db, "data.mdb")) != NULL) { unlink(p); free(p); }
			if ((p = join(db, "lock.mdb")) != NULL) { unlink(p); free(p); }
			rmdir(db);
		}
		if (made_keys) {
			unlink(ledger_key_path);
			unlink(owner_key_path);
			unlink(l->master_key_path);
		}
	}
	cl_key_free(lk);
	cl_key_free(ok);
	cl_ledger_free(l);
	free(db);
	free(ledger_key_path);
	free(owner_key_path);
	return rc;
}

static cl_err read_meta_text(cl_ledger *l, MDB_txn *txn, const char *name, char *out, size_t cap, cl_error *err)
{
	cl_bytes v;
	if (cl_meta_get(l->store, txn, name, &v) != CL_OK || v.len >= cap)
		return cl_error_set(err, CL_EINTEGRITY, "ledger metadata '%s' is missing or damaged", name);
	memcpy(out, v.ptr, v.len);
	out[v.len] = '\0';
	return CL_OK;
}

cl_err cl_ledger__open_raw(cl_ledger **out, const char *dir, const cl_open_opts *opts, cl_error *err)
{
	*out = NULL;
	cl_err rc;
	MDB_txn *txn = NULL;
	char *db = join(dir, "db");
	char owner[CL_ACTOR_MAX + 1];
	cl_admins admins = CL_ADMINS_INIT;
	cl_ledger *l = alloc_handle(dir, opts);
	if (l == NULL || db == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	struct stat st;
	char *data = join(db, "data.mdb");
	int exists = data != NULL && stat(data, &st) == 0;
	free(data);
	if (!exists) {
		rc = cl_error_set(err, CL_ENOTFOUND, "no ledger at %s (create one with `certledger init`)", dir);
		goto out;
	}
	if ((rc = cl_store_open(&l->store, db, 0, err)) != CL_OK)
		goto out;
	if ((rc = cl_store_read_begin(l->store, &txn, err)) != CL_OK)
		goto out;
	if ((rc = read_meta_text(l, txn, "origin", l->origin, sizeof(l->origin), err)) != CL_OK ||
	    (rc = read_meta_text(l, txn, "ledger_id", l->ledger_id, sizeof(l->ledger_id), err)) != CL_OK ||
	    (rc = read_meta_text(l, txn, "init_owner", owner, sizeof(owner), err)) != CL_OK ||
	    (rc = cl_admins_load(&admins, l->store, txn, err)) != CL_OK)
		goto out;
	if (!admins.have_ledger_key) {
		rc = cl_error_set(err, CL_EINTEGRITY, "ledger has no admin table");
		goto out;
	}
	/* The ledger's private key signs checkpoints; a reader without it still knows the public key. */
	char *lkp = cl_ledger__key_path(l, "ledger");
	cl_error ignore = CL_ERROR_INIT;
	if (lkp == NULL || l->read_only || cl_key_load(&l->ledger_key, lkp, &ignore) != CL_OK ||
	    memcmp(l->ledger_key->pub, admins.ledger_pub, CL_ED25519_PUB_LEN) != 0) {
		cl_key_free(l->ledger_key);
		l->ledger_key = NULL;
		rc = cl_key_from_public(&l->ledger_key, admins.ledger_pub, err);
	}
	free(lkp);
	if (rc != CL_OK)
		goto out;
	l->actor_name = strdup(opts && opts->actor ? opts->actor : owner);
	if (l->actor_name == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (!l->read_only) {
		/* The acting admin's key is loaded now so that a bad --key fails before any work. */
		char *kp = opts && opts->actor_key_path ? strdup(opts->actor_key_path)
						      : cl_ledger__key_path(l, l->actor_name);
		if (kp == NULL) {
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		cl_error kerr = CL_ERROR_INIT;
		if (cl_key_load(&l->actor_key, kp, &kerr) != CL_OK) {
			l->actor_key = NULL; /* writes will be refused with this reason */
			snprintf(l->actor_key_error, sizeof(l->actor_key_error), "no usable key for admin '%s': %.400s",
				 l->actor_name, kerr.msg);
		} else if (!l->actor_key->has_private) {
			cl_key_free(l->actor_key);
			l->actor_key = NULL;
			snprintf(l->actor_key_error, sizeof(l->actor_key_error),
				 "%.300s holds only a public key; admin '%s' needs the private key", kp, l->actor_name);
		}
		free(kp);
	}
	*out = l;
	l = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	cl_admins_free(&admins);
	cl_ledger_free(l);
	free(db);
	return rc;
}

cl_err cl_ledger_get_info(cl_ledger *l, cl_ledger_info *out)
{
	MDB_txn *txn;
	cl_head h;
	memset(out, 0, sizeof(*out));
	cl_err rc = cl_store_read_begin(l->store, &txn, &l->err);
	if (rc != CL_OK)
		return rc;
	rc = cl_head_get(l->store, txn, &h, &l->err);
	mdb_txn_abort(txn);
	if (rc != CL_OK)
		return rc;
	snprintf(out->ledger_id, sizeof(out->ledger_id), "%s", l->ledger_id);
	snprintf(out->origin, sizeof(out->origin), "%s", l->origin);
	memcpy(out->public_key, l->ledger_key->pub, 32);
	out->head_seq = h.seq;
	memcpy(out->head_hash, h.id, 32);
	return CL_OK;
}

char *cl_ledger_verifier_key(cl_ledger *l)
{
	return cl_note_verifier_key(l->origin, l->ledger_key->pub);
}
