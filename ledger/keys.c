/* keys.c - Ed25519 key generation, PEM files (0600, no overwrite), signing and verification. */
#include "ledger/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	ERR_clear_error();
}

const EVP_MD *cl_sha256_md(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	return sha256_md ? sha256_md : EVP_sha256();
}

void cl_sha256(const void *data, size_t n, uint8_t out[32])
{
	if (EVP_Digest(data, n, out, NULL, cl_sha256_md(), NULL) != 1)
		abort();
}

static cl_err finish(cl_key *k, cl_error *err)
{
	size_t len = CL_ED25519_PUB_LEN;
	if (EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &len) != 1 || len != CL_ED25519_PUB_LEN)
		return cl_error_set(err, CL_ECRYPTO, "cannot read the Ed25519 public key");
	cl_sha256(k->pub, sizeof(k->pub), k->signer_id);
	return CL_OK;
}

cl_err cl_key_generate(cl_key **out, cl_error *err)
{
	*out = NULL;
	cl_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k->pkey == NULL) {
		free(k);
		return cl_error_set(err, CL_ECRYPTO, "Ed25519 key generation failed");
	}
	k->has_private = true;
	cl_err rc = finish(k, err);
	if (rc != CL_OK) {
		cl_key_free(k);
		return rc;
	}
	*out = k;
	return CL_OK;
}

cl_err cl_key_from_public(cl_key **out, const uint8_t pub[CL_ED25519_PUB_LEN], cl_error *err)
{
	*out = NULL;
	cl_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, CL_ED25519_PUB_LEN);
	if (k->pkey == NULL) {
		free(k);
		return cl_error_set(err, CL_EBADINPUT, "not a valid Ed25519 public key");
	}
	cl_err rc = finish(k, err);
	if (rc != CL_OK) {
		cl_key_free(k);
		return rc;
	}
	*out = k;
	return CL_OK;
}

cl_err cl_key_load(cl_key **out, const char *path, cl_error *err)
{
	*out = NULL;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "cannot open key file %s: %s",
				    path, strerror(errno));
	char line[64] = {0};
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return cl_error_set(err, CL_EBADINPUT, "key file %s is empty", path);
	}
	rewind(f);
	bool is_private = strstr(line, "PRIVATE KEY") != NULL;
	if (is_private) {
		struct stat st;
		if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
			fclose(f);
			return cl_error_set(err, CL_EREFUSED,
					    "private key file %s is readable by others (mode %03o); chmod 600 it",
					    path, (unsigned)(st.st_mode & 0777));
		}
	}
	EVP_PKEY *pkey = is_private ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		return cl_error_set(err, CL_EBADINPUT, "%s is not an Ed25519 PEM key file", path);
	}
	cl_key *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	k->pkey = pkey;
	k->has_private = is_private;
	cl_err rc = finish(k, err);
	if (rc != CL_OK) {
		cl_key_free(k);
		return rc;
	}
	*out = k;
	return CL_OK;
}

static cl_err save(const cl_key *k, const char *path, bool private_part, cl_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cl_error_set(err, errno == EEXIST ? CL_EEXISTS : CL_EIO, "cannot create key file %s: %s",
				    path, strerror(errno));
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(path);
		return cl_error_set(err, CL_EIO, "cannot write key file %s", path);
	}
	int ok = private_part ? PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL)
			      : PEM_write_PUBKEY(f, k->pkey);
	ok = ok && fflush(f) == 0 && fsync(fd) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		unlink(path);
		ERR_clear_error();
		return cl_error_set(err, CL_EIO, "cannot write key file %s", path);
	}
	return CL_OK;
}

cl_err cl_key_save_private(const cl_key *k, const char *path, cl_error *err)
{
	if (!k->has_private)
		return cl_error_set(err, CL_EUSAGE, "no private key to save");
	return save(k, path, true, err);
}

cl_err cl_key_save_public(const cl_key *k, const char *path, cl_error *err)
{
	return save(k, path, false, err);
}

void cl_key_free(cl_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* Ed25519 is one-shot: prefix || msg must be contiguous. Small messages use the stack. */
static uint8_t *join(const char *prefix, cl_bytes msg, uint8_t *stackbuf, size_t stackcap, size_t *n)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	if (cl_size_add(plen, msg.len, n) != 0)
		return NULL;
	uint8_t *p = *n <= stackcap ? stackbuf : malloc(*n ? *n : 1);
	if (p == NULL)
		return NULL;
	if (plen)
		memcpy(p, prefix, plen);
	if (msg.len)
		memcpy(p + plen, msg.ptr, msg.len);
	return p;
}

cl_err cl_key_sign(const cl_key *k, EVP_MD_CTX *ctx, const char *prefix, cl_bytes msg,
		   uint8_t sig[CL_ED25519_SIG_LEN])
{
	if (!k->has_private)
		return CL_EUSAGE;
	uint8_t stackbuf[2048];
	size_t n;
	uint8_t *m = join(prefix, msg, stackbuf, sizeof(stackbuf), &n);
	if (m == NULL)
		return CL_ENOMEM;
	EVP_MD_CTX *own = ctx ? NULL : EVP_MD_CTX_new();
	EVP_MD_CTX *c = ctx ? ctx : own;
	size_t siglen = CL_ED25519_SIG_LEN;
	int ok = c != NULL && EVP_DigestSignInit(c, NULL, NULL, NULL, k->pkey) == 1 &&
		 EVP_DigestSign(c, sig, &siglen, m, n) == 1 && siglen == CL_ED25519_SIG_LEN;
	EVP_MD_CTX_free(own);
	if (ctx)
		EVP_MD_CTX_reset(ctx);
	if (m != stackbuf)
		free(m);
	if (!ok) {
		ERR_clear_error();
		return CL_ECRYPTO;
	}
	return CL_OK;
}

cl_err cl_key_sign_with(cl_signer_ctx *c, const cl_key *k, const char *prefix, cl_bytes msg,
			uint8_t sig[CL_ED25519_SIG_LEN])
{
	if (!k->has_private)
		return CL_EUSAGE;
	if (c->tmpl == NULL && (c->tmpl = EVP_MD_CTX_new()) == NULL)
		return CL_ENOMEM;
	if (c->work == NULL && (c->work = EVP_MD_CTX_new()) == NULL)
		return CL_ENOMEM;
	if (c->key != k) {
		c->key = NULL;
		EVP_MD_CTX_reset(c->tmpl);
		if (EVP_DigestSignInit(c->tmpl, NULL, NULL, NULL, k->pkey) != 1) {
			ERR_clear_error();
			return CL_ECRYPTO;
		}
		c->key = k;
	}
	uint8_t stackbuf[2048];
	size_t n;
	uint8_t *m = join(prefix, msg, stackbuf, sizeof(stackbuf), &n);
	if (m == NULL)
		return CL_ENOMEM;
	size_t siglen = CL_ED25519_SIG_LEN;
	int ok = EVP_MD_CTX_copy_ex(c->work, c->tmpl) == 1 && EVP_DigestSign(c->work, sig, &siglen, m, n) == 1 &&
		 siglen == CL_ED25519_SIG_LEN;
	EVP_MD_CTX_reset(c->work);
	if (m != stackbuf)
		free(m);
	if (!ok) {
		ERR_clear_error();
		return CL_ECRYPTO;
	}
	return CL_OK;
}

void cl_signer_ctx_free(cl_signer_ctx *c)
{
	EVP_MD_CTX_free(c->tmpl);
	EVP_MD_CTX_free(c->work);
	c->tmpl = c->work = NULL;
	c->key = NULL;
}

bool cl_ed25519_verify_pkey(EVP_PKEY *pkey, EVP_MD_CTX *ctx, const char *prefix, cl_bytes msg,
			    const uint8_t sig[CL_ED25519_SIG_LEN])
{
	uint8_t stackbuf[2048];
	size_t n;
	uint8_t *m = join(prefix, msg, stackbuf, sizeof(stackbuf), &n);
	if (m == NULL)
		return false;
	EVP_MD_CTX *own = ctx ? NULL : EVP_MD_CTX_new();
	EVP_MD_CTX *c = ctx ? ctx : own;
	int ok = c != NULL && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pkey) == 1 &&
		 EVP_DigestVerify(c, sig, CL_ED25519_SIG_LEN, m, n) == 1;
	EVP_MD_CTX_free(own);
	if (ctx)
		EVP_MD_CTX_reset(ctx);
	if (m != stackbuf)
		free(m);
	ERR_clear_error();
	return ok;
}

bool cl_ed25519_verify(const uint8_t pub[CL_ED25519_PUB_LEN], EVP_MD_CTX *ctx, const char *prefix,
		       cl_bytes msg, const uint8_t sig[CL_ED25519_SIG_LEN])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, CL_ED25519_PUB_LEN);
	if (pkey == NULL) {
		ERR_clear_error();
		return false;
	}
	bool ok = cl_ed25519_verify_pkey(pkey, ctx, prefix, msg, sig);
	EVP_PKEY_free(pkey);
	return ok;
}
