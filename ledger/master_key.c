/* master_key.c - create, load and atomically replace the master key file (see master_key.h). */
#include "ledger/master_key.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
