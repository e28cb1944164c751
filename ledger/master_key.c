/* master_key.c - create, load and atomically replace the master key file, and find out which
 * key file holds the key the sealed blobs are wrapped under (see master_key.h). */
#include "ledger/master_key.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/handle.h"

static const uint8_t MAGIC[8] = {'C', 'L', 'M', 'K', 0, 1, 0, 0};

static cl_err write_new(const char *path, const uint8_t key[CL_MASTER_KEY_LEN], cl_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cl_error_set(err, errno == EEXIST ? CL_EEXISTS : CL_EIO, "cannot create master key file %s: %s",
				    path, strerror(errno));
	uint8_t buf[sizeof(MAGIC) + CL_MASTER_KEY_LEN];
	memcpy(buf, MAGIC, sizeof(MAGIC));
	memcpy(buf + sizeof(MAGIC), key, CL_MASTER_KEY_LEN);
	ssize_t n = write(fd, buf, sizeof(buf));
	OPENSSL_cleanse(buf, sizeof(buf));
	int ok = n == (ssize_t)sizeof(buf) && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = 0;
	if (!ok) {
		unlink(path);
		return cl_error_set(err, CL_EIO, "cannot write master key file %s", path);
	}
	return CL_OK;
}

cl_err cl_master_key_create(const char *path, cl_error *err)
{
	cl_secret key = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	cl_err rc = cl_secret_alloc(&key, CL_MASTER_KEY_LEN);
	if (rc != CL_OK)
		return cl_error_set(err, rc, "out of memory");
	if (RAND_priv_bytes(key.ptr, CL_MASTER_KEY_LEN) != 1)
		rc = cl_error_set(err, CL_ECRYPTO, "no randomness for the master key");
	else
		rc = write_new(path, key.ptr, err);
	cl_secret_free(&key);
	return rc;
}

cl_err cl_master_key_load(cl_secret *out, const char *path, cl_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "cannot open master key file %s: %s",
				    path, strerror(errno));
	struct stat st;
	cl_err rc = CL_OK;
	uint8_t buf[sizeof(MAGIC) + CL_MASTER_KEY_LEN + 1];
	if (fstat(fd, &st) != 0) {
		rc = cl_error_set(err, CL_EIO, "cannot stat %s", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = cl_error_set(err, CL_EREFUSED, "master key file %s is readable by others (mode %03o); chmod 600 it",
				  path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n != (ssize_t)(sizeof(buf) - 1) || memcmp(buf, MAGIC, sizeof(MAGIC)) != 0) {
		rc = cl_error_set(err, CL_EBADINPUT, "%s is not a certledger master key file", path);
		goto out;
	}
	rc = cl_secret_alloc(out, CL_MASTER_KEY_LEN);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	memcpy(out->ptr, buf + sizeof(MAGIC), CL_MASTER_KEY_LEN);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

static char *new_path(const char *path)
{
	char *p = NULL;
	if (asprintf(&p, "%s.new", path) < 0)
		return NULL;
	return p;
}

cl_err cl_master_key_prepare(cl_secret *out, const char *path, cl_error *err)
{
	char *np = new_path(path);
	if (np == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	unlink(np); /* a leftover from an interrupted rotation was never installed */
	cl_err rc = cl_secret_alloc(out, CL_MASTER_KEY_LEN);
	if (rc == CL_OK && RAND_priv_bytes(out->ptr, CL_MASTER_KEY_LEN) != 1)
		rc = cl_error_set(err, CL_ECRYPTO, "no randomness for the master key");
	else if (rc != CL_OK)
		cl_error_set(err, rc, "out of memory");
	if (rc == CL_OK)
		rc = write_new(np, out->ptr, err);
	if (rc != CL_OK)
		cl_secret_free(out);
	free(np);
	return rc;
}

cl_err cl_master_key_install(const char *path, cl_error *err)
{
	char *np = new_path(path), *dup = strdup(path);
	cl_err rc = CL_OK;
	if (np == NULL || dup == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (rename(np, path) != 0) {
		rc = cl_error_set(err, CL_EIO, "cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(np);
	free(dup);
	return rc;
}

void cl_master_key_discard(const char *path)
{
	char *np = new_path(path);
	if (np != NULL)
		unlink(np);
	free(np);
}

/* ---- which key is current --------------------------------------------------------------------- */

static const char ID_LABEL[] = "certledger/master-key-id";

void cl_master_key__id(const cl_secret *master, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	const uint8_t version = 1;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, ID_LABEL, sizeof(ID_LABEL) - 1) != 1 || EVP_DigestUpdate(md, &version, 1) != 1 ||
	    EVP_DigestUpdate(md, master->ptr, master->len) != 1 || EVP_DigestFinal_ex(md, out, &n) != 1 || n != 32)
		memset(out, 0, 32); /* matches no real id: the key is then reported as the wrong one */
	EVP_MD_CTX_free(md);
}

cl_err cl_master_key__record(cl_ledger *l, MDB_txn *txn, const uint8_t id[32], cl_error *err)
{
	MDB_val k = {CL_MASTER_KEY_ID_RECORD_LEN, (void *)CL_MASTER_KEY_ID_RECORD}, v = {32, (void *)id};
	int rc = mdb_put(txn, l->store->keystore, &k, &v, 0);
	return rc == 0 ? CL_OK : cl_store_put_error(err, rc);
}

/* Loads path and compares its id with want. 1: it is the key (in *out), 0: another key or no
 * such file (*out emptied), <0: an error worth reporting (in *err). */
static int try_key(const char *path, const uint8_t want[32], cl_secret *out, cl_error *err)
{
	cl_error e = CL_ERROR_INIT;
	cl_err rc = cl_master_key_load(out, path, &e);
	if (rc == CL_ENOTFOUND)
		return 0;
	if (rc != CL_OK) {
		if (err != NULL)
			*err = e;
		return rc;
	}
	uint8_t id[32];
	cl_master_key__id(out, id);
	if (CRYPTO_memcmp(id, want, 32) == 0)
		return 1;
	cl_secret_free(out);
	return 0;
}

cl_err cl_master_key__current(cl_ledger *l, MDB_txn *txn, bool record, cl_secret *out, bool *pending, cl_error *err)
{
	MDB_val k = {CL_MASTER_KEY_ID_RECORD_LEN, (void *)CL_MASTER_KEY_ID_RECORD}, v;
	uint8_t want[32];
	char *np = NULL;
	cl_err rc = CL_OK;
	int found;

	cl_secret_free(out);
	if (pending != NULL)
		*pending = false;
	int mrc = mdb_get(txn, l->store->keystore, &k, &v);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return cl_store_mdb_error(err, mrc, "keystore get");
	if (mrc == MDB_NOTFOUND) {
		/* Nothing was ever rotated: the key file is the key. */
		rc = cl_master_key_load(out, l->master_key_path, err);
		if (rc == CL_OK && record) {
			cl_master_key__id(out, want);
			rc = cl_master_key__record(l, txn, want, err);
		}
		if (rc != CL_OK)
			cl_secret_free(out);
		return rc;
	}
	if (v.mv_size != 32)
		return cl_error_set(err, CL_EINTEGRITY, "the keystore's master-key record is damaged");
	memcpy(want, v.mv_data, 32);
	if ((np = new_path(l->master_key_path)) == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	/* The key file; else the prepared one of a rotation whose commit is done but whose rename is
	 * not; else the key file again, in case that rename happened between the first two looks. */
	found = try_key(l->master_key_path, want, out, err);
	if (found == 0) {
		found = try_key(np, want, out, err);
		if (found == 1 && pending != NULL)
			*pending = true;
	}
	if (found == 0)
		found = try_key(l->master_key_path, want, out, err);
	if (found < 0) {
		rc = found;
	} else if (found == 0) {
		/* The file may also be missing altogether: say so rather than "does not match". */
		cl_secret probe = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
		rc = cl_master_key_load(&probe, l->master_key_path, err);
		cl_secret_free(&probe);
		if (rc == CL_OK)
			rc = cl_error_set(err, CL_EINTEGRITY,
					  "master key file %s does not hold the key the sealed secrets are wrapped under",
					  l->master_key_path);
	}
	if (rc != CL_OK)
		cl_secret_free(out);
	free(np);
	return rc;
}
