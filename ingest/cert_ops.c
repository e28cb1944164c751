/* cert_ops.c - the public certificate commands of certledger/certs.h (write side): upload (the
 * file and its password read into wiping buffers, then ingest/cert_upload.c), rename, the
 * S/MIME functionality test with the unsealed key, and PEM export of the stored DER.
 * cert_upload.c does the describing. */
#include "certledger/certs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/cert_upload.h"
#include "ingest/keystore.h"
#include "ingest/ossl.h"
#include <jansson.h>
#include <malloc.h>
#include "ingest/password.h"
#include "ingest/seal.h"
#include "ingest/smime_test.h"
#include "ledger/encoding.h"
#include "ledger/handle.h"
#include "ledger/master_key.h"

static const char OOM[] = "out of memory";

_Static_assert(CL_CERT_NAME_MAX == CL_CERT_NAME_MAX_LEN, "one limit for certificate names");

/* jansson holds the text of import lines (a "pem" value may be a private key): its blocks are
 * wiped before they are freed as well. */
static void json_wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

bool cl_secrets_wipe_on_free(void)
{
	json_set_alloc_funcs(malloc, json_wipe_free);
	return cl_ingest__wipe_openssl_frees();
}

/* ---- reading the file ---------------------------------------------------------------------- */

/* Reads path into *out, a wiping buffer: a PEM file may hold an unencrypted private key.
 * An unreadable file is bad input (exit 1, CLI.md), not an environment failure. */
static cl_err read_upload(cl_secret *out, const char *path, cl_error *err)
{
	uint8_t chunk[16384];
	struct stat st;
	cl_err rc = CL_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cl_error_set(err, CL_EBADINPUT, "cannot read %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = cl_error_set(err, CL_EBADINPUT, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = cl_error_set(err, CL_EBADINPUT, "cannot read %s: it is a directory", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > CL_CERT_FILE_MAX) {
		rc = cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", path);
		goto out;
	}
	out->max = CL_CERT_FILE_MAX + sizeof(chunk);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cl_error_set(err, CL_EBADINPUT, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = cl_secret_append(out, chunk, (size_t)n)) != CL_OK) {
			rc = rc == CL_ETOOLARGE ? cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", path)
						: cl_error_set(err, rc, OOM);
			break;
		}
		if (out->len > CL_CERT_FILE_MAX) {
			rc = cl_error_set(err, CL_ETOOLARGE, "%s: file is larger than 1 MiB", path);
			break;
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
out:
	close(fd);
	if (rc != CL_OK)
		cl_secret_free(out);
	return rc;
}

/* Whether the file wants a password at all (so that a prompt is not shown for a PEM file). */
static bool needs_password(cl_bytes data)
{
	cl_cert_file_kind k = cl_cert_file_sniff(data);
	if (k == CL_CERT_FILE_P12)
		return true;
	static const char enc[] = "ENCRYPTED";
	return k == CL_CERT_FILE_PEM && memmem(data.ptr, data.len, enc, sizeof(enc) - 1) != NULL;
}

static cl_err read_password(cl_secret *pw, bool *given, cl_password_source source, const char *arg,
			    const char *path, cl_bytes data, cl_error *err)
{
	char prompt[300];
	*given = true;
	switch (source) {
	case CL_PASSWORD_NONE:
		*given = false;
		return CL_OK;
	case CL_PASSWORD_FILE:
		if (arg == NULL)
			return cl_error_set(err, CL_EUSAGE, "no password file given");
		return cl_password_from_file(pw, arg, err);
	case CL_PASSWORD_ENV:
		if (arg == NULL)
			return cl_error_set(err, CL_EUSAGE, "no environment variable given for the password");
		return cl_password_from_env(pw, arg, err);
	case CL_PASSWORD_STDIN:
		return cl_password_from_fd(pw, 0, "stdin", err);
	case CL_PASSWORD_PROMPT:
		if (!needs_password(data)) {
			*given = false;
			return CL_OK;
		}
		snprintf(prompt, sizeof(prompt), "Password for %.250s: ", path);
		return cl_password_prompt(pw, 0, 2, prompt, err);
	default:
		return cl_error_set(err, CL_EUSAGE, "unknown password source %d", (int)source);
	}
}

/* ---- upload ---------------------------------------------------------------------------------- */

/* The public view of a new item (pointers borrowed from it). */
static void public_view(cl_cert_info *c, const cl_upload_item *it)
{
	const cl_cert_uploaded *u = &it->up;
	memset(c, 0, sizeof(*c));
	memcpy(c->fingerprint, u->fingerprint, 32);
	c->name = u->name;
	c->kind = u->kind;
	c->has_private_key = u->has_private_key;
	c->subject = u->subject;
	c->issuer = u->issuer;
	c->serial = u->serial;
	c->not_before = u->not_before;
	c->not_after = u->not_after;
	c->emails = (const char *const *)u->emails;
	c->nemails = u->nemails;
	c->key_usage = (const char *const *)u->key_usage;
	c->nkey_usage = u->nkey_usage;
	c->ext_key_usage = (const char *const *)u->ext_key_usage;
	c->next_key_usage = u->next_key_usage;
	c->key_type = u->key_type;
	c->key_bits = u->key_bits;
	c->sig_hash = u->sig_hash;
	c->smime_ok = u->smime_ok;
	c->smime_reasons = (const char *const *)u->smime_reasons;
	c->nsmime_reasons = u->nsmime_reasons;
	c->seq = it->seq;
	c->uploaded_at = it->ts;
}

static void report(cl_ledger *l, const cl_upload_result *res, cl_cert_upload_cb cb, void *ctx)
{
	for (size_t i = 0; cb != NULL && i < res->n; i++) {
		const cl_upload_item *it = &res->items[i];
		cl_cert_info c;
		int stop;
		if (!it->existing) {
			public_view(&c, it);
			stop = cb(&c, false, ctx);
		} else {
			/* What the ledger holds (its name, kind, key), not what this file said. */
			char hex[65];
			cl_hex_encode(hex, it->up.fingerprint, 32);
			if (cl_proj_cert_get(l, hex, &c) != CL_OK) {
				public_view(&c, it);
				c.name = it->existing_name;
				stop = cb(&c, true, ctx);
			} else {
				stop = cb(&c, true, ctx);
				cl_cert_info_free(&c);
			}
		}
		if (stop)
			break;
	}
	cl_error_clear(&l->err);
}

cl_err cl_cert_upload(cl_ledger *l, const char *path, cl_password_source source, const char *source_arg,
		      const char *name, cl_cert_upload_cb cb, void *ctx)
{
	cl_secret data = CL_SECRET_INIT(CL_CERT_FILE_MAX);
	cl_secret pw = CL_SECRET_INIT(CL_PASSWORD_MAX);
	cl_upload_result res = CL_UPLOAD_RESULT_INIT;
	bool given = false;
	cl_err rc;

	cl_error_clear(&l->err);
	if (path == NULL)
		return cl_error_set(&l->err, CL_EUSAGE, "no file given");
	if (l->read_only)
		return cl_error_set(&l->err, CL_EUSAGE, "the ledger was opened read-only");
	if ((rc = read_upload(&data, path, &l->err)) != CL_OK)
		goto out;
	if ((rc = read_password(&pw, &given, source, source_arg, path, CL_BYTES(data.ptr, data.len), &l->err)) != CL_OK)
		goto out;
	/* pw is consumed (wiped and freed) by the parser on every path. */
	rc = cl_ingest__upload_bytes(l, CL_BYTES(data.ptr, data.len), given ? &pw : NULL, NULL, path, name, &res,
				     &l->err);
	if (rc == CL_OK)
		report(l, &res, cb, ctx);
out:
	cl_secret_free(&pw);
	cl_secret_free(&data);
	cl_upload_result_free(&res);
	return rc;
}

/* ---- reads ----------------------------------------------------------------------------------- */

/* A read transaction on complete read models, with fingerprint text resolved and the
 * certificate's upload data decoded (owned by up). */
static cl_err read_cert(cl_ledger *l, const char *text, MDB_txn **txn, cl_cert_uploaded *up, cl_error *err)
{
	cl_proj_dbs d;
	cl_cert_rec rec;
	bool present = false;
	uint8_t fp[32];
	memset(up, 0, sizeof(*up));
	if (text == NULL)
		return cl_error_set(err, CL_EUSAGE, "no fingerprint given");
	cl_err rc = cl_store_read_begin(l->store, txn, err);
	if (rc != CL_OK)
		return rc;
	rc = cl_proj__dbs(l->store, *txn, false, &d, &present, err);
	if (rc == CL_OK)
		rc = cl_proj__check_ready(*txn, d.settings, present, err);
	if (rc == CL_OK && !present)
		rc = cl_error_set(err, CL_ENOTFOUND, "no certificate %.80s", text);
	if (rc == CL_OK)
		rc = cl_proj__cert_resolve(*txn, &d, text, fp, err);
	if (rc == CL_OK && (rc = cl_proj__cert_get(*txn, &d, fp, &rec, err)) == CL_OK) {
		rc = cl_cert_uploaded_decode(rec.uploaded, up, err);
		cl_cert_rec_free(&rec);
		if (rc != CL_OK)
			rc = cl_error_set(err, CL_EINTEGRITY, "certificate record is damaged (run `certledger rebuild`)");
	}
	if (rc != CL_OK) {
		cl_cert_uploaded_free(up);
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	return rc;
}

static X509 *x509_of(const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	if (len > LONG_MAX)
		return NULL;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

cl_err cl_cert_export(cl_ledger *l, const char *fingerprint, char **pem, size_t *pem_len)
{
	MDB_txn *txn = NULL;
	cl_cert_uploaded up;
	BIO *bio = NULL;
	cl_err rc;
	*pem = NULL;
	if (pem_len != NULL)
		*pem_len = 0;
	cl_error_clear(&l->err);
	if ((rc = read_cert(l, fingerprint, &txn, &up, &l->err)) != CL_OK)
		return rc;
	mdb_txn_abort(txn);
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || up.der_len > LONG_MAX ||
	    PEM_write_bio(bio, PEM_STRING_X509, "", up.der, (long)up.der_len) <= 0) {
		rc = cl_ingest__ossl_error(&l->err, CL_ECRYPTO, "cannot write PEM");
		goto out;
	}
	char *mem = NULL;
	long n = BIO_get_mem_data(bio, &mem);
	if (n <= 0 || (*pem = malloc((size_t)n + 1)) == NULL) {
		rc = cl_error_set(&l->err, CL_ENOMEM, OOM);
		goto out;
	}
	memcpy(*pem, mem, (size_t)n);
	(*pem)[n] = '\0';
	if (pem_len != NULL)
		*pem_len = (size_t)n;
out:
	BIO_free(bio);
	cl_cert_uploaded_free(&up);
	return rc;
}

const char *cl_cert_check_name(cl_cert_check s)
{
	return cl_smime_status_name(s == CL_CERT_CHECK_OK ? CL_SMIME_OK
				    : s == CL_CERT_CHECK_FAILED ? CL_SMIME_FAILED : CL_SMIME_NA);
}

static void step_out(cl_cert_test_step *out, const cl_smime_step *in)
{
	out->status = in->status == CL_SMIME_OK ? CL_CERT_CHECK_OK
		    : in->status == CL_SMIME_FAILED ? CL_CERT_CHECK_FAILED : CL_CERT_CHECK_NA;
	snprintf(out->reason, sizeof(out->reason), "%s", in->reason);
}

/* Opens the sealed key of up inside txn, under the current master key. */
static cl_err unseal(cl_ledger *l, MDB_txn *txn, const cl_cert_uploaded *up, EVP_PKEY **pkey, cl_error *err)
{
	cl_secret master = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	cl_bytes blob;
	cl_err rc = cl_keystore__get(l, txn, up->fingerprint, &blob, err);
	if (rc == CL_ENOTFOUND) {
		char hex[65];
		cl_hex_encode(hex, up->fingerprint, 32);
		return cl_error_set(err, CL_EINTEGRITY, "the keystore has no sealed key for %s, though the ledger says one is held",
				    hex);
	}
	if (rc != CL_OK)
		return rc;
	if ((rc = cl_master_key__current(l, txn, false, &master, NULL, err)) == CL_OK)
		rc = cl_seal_open(pkey, &master, up->fingerprint, blob, err);
	cl_secret_free(&master);
	return rc;
}

cl_err cl_cert_test(cl_ledger *l, const char *fingerprint, cl_cert_test_result *out)
{
	MDB_txn *txn = NULL;
	cl_cert_uploaded up;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	X509 **chain = NULL;
	size_t n_chain = 0;
	cl_smime_result r;
	cl_err rc;

	memset(out, 0, sizeof(*out));
	cl_error_clear(&l->err);
	if ((rc = read_cert(l, fingerprint, &txn, &up, &l->err)) != CL_OK)
		return rc;
	if (up.has_private_key)
		rc = unseal(l, txn, &up, &pkey, &l->err);
	mdb_txn_abort(txn);
	if (rc != CL_OK)
		goto out;
	memcpy(out->fingerprint, up.fingerprint, 32);
	out->has_private_key = up.has_private_key;
	if ((cert = x509_of(up.der, up.der_len)) == NULL) {
		rc = cl_error_set(&l->err, CL_EINTEGRITY, "the recorded certificate does not decode");
		goto out;
	}
	chain = calloc(up.nchain ? up.nchain : 1, sizeof(*chain));
	if (chain == NULL) {
		rc = cl_error_set(&l->err, CL_ENOMEM, OOM);
		goto out;
	}
	for (size_t i = 0; i < up.nchain; i++) {
		X509 *x = x509_of(up.chain[i], up.chain_len[i]);
		if (x != NULL) /* a chain certificate that does not decode is left out of the signature */
			chain[n_chain++] = x;
	}
	if ((rc = cl_smime_test(&r, cert, pkey, chain, n_chain, &l->err)) != CL_OK)
		goto out;
	step_out(&out->sign, &r.sign);
	step_out(&out->verify, &r.verify);
	step_out(&out->encrypt, &r.encrypt);
	step_out(&out->decrypt, &r.decrypt);
out:
	for (size_t i = 0; i < n_chain; i++)
		X509_free(chain[i]);
	free(chain);
	X509_free(cert);
	EVP_PKEY_free(pkey); /* OpenSSL clears private key material when it frees it */
	cl_cert_uploaded_free(&up);
	return rc;
}

/* ---- rename ---------------------------------------------------------------------------------- */

typedef struct rename_ctx {
	const char *text;
	const char *name;
	uint8_t fp[32];
	uint64_t seq;
} rename_ctx;

static cl_err rename_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	rename_ctx *c = arg;
	cl_ledger *l = cl_wtxn__ledger(t);
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_proj_dbs d;
	cl_cert_rec rec;
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_actor who = cl_wtxn__actor(t);
	cl_appended ap;
	cl_err rc = cl_proj__dbs(l->store, txn, true, &d, NULL, err);
	if (rc == CL_OK)
		rc = cl_proj__cert_resolve(txn, &d, c->text, c->fp, err);
	if (rc != CL_OK)
		return rc;
	if ((rc = cl_proj__cert_get(txn, &d, c->fp, &rec, err)) != CL_OK)
		return rc;
	if (rec.name != NULL && strcmp(rec.name, c->name) == 0) {
		char hex[65];
		cl_hex_encode(hex, c->fp, 32);
		rc = cl_error_set(err, CL_EREFUSED, "certificate %s is already named '%s'", hex, c->name);
	}
	cl_cert_rec_free(&rec);
	if (rc != CL_OK)
		return rc;
	if ((rc = cl_cert_renamed_encode(&data, c->fp, c->name)) != CL_OK)
		rc = cl_error_set(err, rc, "the name is too long");
	else if ((rc = cl_wtxn_append(t, &who, "cert.renamed", cl_buf_view(&data), &ap, err)) == CL_OK)
		c->seq = ap.seq;
	cl_buf_free(&data);
	return rc;
}

cl_err cl_cert_rename(cl_ledger *l, const char *fingerprint, const char *name, uint8_t fp_out[32], uint64_t *seq)
{
	rename_ctx c = {fingerprint, name, {0}, 0};
	cl_error_clear(&l->err);
	if (fingerprint == NULL)
		return cl_error_set(&l->err, CL_EUSAGE, "no fingerprint given");
	if (!cl_ingest__cert_name_ok(name))
		return cl_error_set(&l->err, CL_EBADINPUT,
				    "a certificate name must be 1 to %d bytes of UTF-8 text without control characters",
				    CL_CERT_NAME_MAX);
	cl_err rc = cl_ledger__write(l, rename_cb, &c, &l->err);
	if (rc != CL_OK)
		return rc;
	if (fp_out != NULL)
		memcpy(fp_out, c.fp, 32);
	if (seq != NULL)
		*seq = c.seq;
	return CL_OK;
}
