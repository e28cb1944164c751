/* cert_upload.c - `cert upload` as steps (see cert_upload.h): the parse happens before any
 * transaction, the description of each certificate too; the write transaction only looks up
 * duplicates, seals the key under the current master key, stores the blob and appends the
 * events. Secrets: the private key stays inside its EVP_PKEY (owned by the parsed file) until
 * seal.c encodes it straight into a wiping buffer; the master key lives in a cl_secret for the
 * length of one write step. Nothing secret is ever in an event, a message or a plain cl_buf
 * (the sealed blob is ciphertext). */
#include "ingest/cert_upload.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/cert_info.h"
#include "ingest/keystore.h"
#include "ingest/seal.h"
#include "ledger/encoding.h"
#include "ledger/envelope.h"
#include "ledger/keys.h"
#include "ledger/master_key.h"

static const char OOM[] = "out of memory";

void cl_upload_result_free(cl_upload_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		cl_cert_uploaded_free(&r->items[i].up);
		free(r->items[i].existing_name);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

/* ---- describing ---------------------------------------------------------------------------- */

/* Well-formed UTF-8 without control characters (C0, DEL, C1): a name shown on terminals. */
static bool printable_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t len;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += len;
	}
	return true;
}

bool cl_ingest__cert_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= CL_CERT_NAME_MAX_LEN && printable_utf8((const unsigned char *)s, n);
}

static bool usable_name(const char *s)
{
	return cl_ingest__cert_name_ok(s);
}

/* The subject's first CN as UTF-8 (malloc'd), or NULL. */
static char *subject_cn(X509 *x)
{
	const X509_NAME *subj = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i < 0)
		return NULL;
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, s);
	char *out = NULL;
	if (n > 0 && memchr(u, 0, (size_t)n) == NULL)
		out = strndup((const char *)u, (size_t)n);
	OPENSSL_free(u);
	ERR_clear_error();
	return out;
}

static char *default_name(X509 *x, const cl_cert_meta *info, const char *friendly)
{
	char *cn = subject_cn(x);
	if (usable_name(cn))
		return cn;
	free(cn);
	if (info->n_emails > 0 && usable_name(info->emails[0]))
		return strdup(info->emails[0]);
	if (usable_name(friendly))
		return strdup(friendly);
	if (usable_name(info->subject))
		return strdup(info->subject);
	char *p = NULL;
	char hex[17];
	memcpy(hex, info->fingerprint_hex, 16);
	hex[16] = '\0';
	if (asprintf(&p, "certificate %s", hex) < 0)
		return NULL;
	return p;
}

/* The caller's name for the k-th certificate (from 1) of the file. */
static char *given_name(const char *name, size_t k)
{
	char *p = NULL;
	if (k <= 1)
		return strdup(name);
	if (asprintf(&p, "%s (%zu)", name, k) < 0)
		return NULL;
	return p;
}

/* Moves the metadata out of info into up (info is left to be cleared). */
static void take_info(cl_cert_uploaded *up, cl_cert_meta *info)
{
	memcpy(up->fingerprint, info->fingerprint, CL_FP_LEN);
	up->subject = info->subject;
	up->issuer = info->issuer;
	up->serial = info->serial;
	up->not_before = info->not_before;
	up->not_after = info->not_after;
	up->emails = info->emails;
	up->nemails = info->n_emails;
	up->key_type = info->key_type;
	up->key_bits = info->key_bits;
	up->key_usage = info->key_usage;
	up->nkey_usage = info->n_key_usage;
	up->ext_key_usage = info->ext_key_usage;
	up->next_key_usage = info->n_ext_key_usage;
	up->sig_hash = info->sig_hash;
	up->smime_ok = info->smime_ok;
	up->smime_reasons = info->smime_reasons;
	up->nsmime_reasons = info->n_smime_reasons;
	up->der = info->der;
	up->der_len = info->der_len;
	info->subject = info->issuer = info->serial = info->key_type = info->sig_hash = NULL;
	info->emails = info->key_usage = info->ext_key_usage = info->smime_reasons = NULL;
	info->n_emails = info->n_key_usage = info->n_ext_key_usage = info->n_smime_reasons = 0;
	info->der = NULL;
	info->der_len = 0;
}

static cl_err describe_one(cl_upload_item *it, X509 *x, const cl_cert_file *f, const char *name, size_t k,
			   int64_t now, cl_error *err)
{
	cl_cert_meta info;
	memset(&info, 0, sizeof(info));
	cl_err rc = cl_cert_meta_from_x509(&info, x, now, err);
	if (rc != CL_OK)
		return rc;
	bool with_key = f->pkey != NULL;
	it->up.name = name != NULL ? given_name(name, k) : default_name(x, &info, f->friendly_name);
	it->up.kind = strdup(with_key ? "p12" : "pem");
	it->up.has_private_key = with_key;
	take_info(&it->up, &info);
	cl_cert_meta_clear(&info);
	if (it->up.name == NULL || it->up.kind == NULL)
		return cl_error_set(err, CL_ENOMEM, OOM);
	if (!with_key)
		return CL_OK;
	it->up.chain = calloc(f->n_chain ? f->n_chain : 1, sizeof(*it->up.chain));
	it->up.chain_len = calloc(f->n_chain ? f->n_chain : 1, sizeof(*it->up.chain_len));
	if (it->up.chain == NULL || it->up.chain_len == NULL)
		return cl_error_set(err, CL_ENOMEM, OOM);
	for (size_t i = 0; i < f->n_chain; i++) {
		if ((rc = cl_cert_der(f->chain[i], &it->up.chain[i], &it->up.chain_len[i], err)) != CL_OK)
			return rc;
		it->up.nchain++;
	}
	return CL_OK;
}

cl_err cl_ingest__upload_describe(cl_upload_result *out, const cl_cert_file *f, const char *name, int64_t now,
				  cl_error *err)
{
	cl_err rc = CL_OK;
	cl_upload_result_free(out);
	if (name != NULL && !usable_name(name))
		return cl_error_set(err, CL_EBADINPUT, "a certificate name must be 1 to %d bytes of UTF-8 text without "
				    "control characters", CL_CERT_NAME_MAX_LEN);
	if (f->n_certs == 0)
		return cl_error_set(err, CL_EBADINPUT, "the file holds no certificate");
	size_t n = f->pkey != NULL ? 1 : f->n_certs;
	out->items = calloc(n, sizeof(*out->items));
	if (out->items == NULL)
		return cl_error_set(err, CL_ENOMEM, OOM);
	for (size_t i = 0; i < n && rc == CL_OK; i++) {
		X509 *x = f->pkey != NULL ? f->leaf : f->certs[i];
		if (x == NULL)
			rc = cl_error_set(err, CL_EINTERNAL, "a file with a private key has no leaf certificate");
		else
			rc = describe_one(&out->items[i], x, f, name, i + 1, now, err);
		out->n = i + 1; /* so that a failure frees what was made */
	}
	if (rc != CL_OK)
		cl_upload_result_free(out);
	return rc;
}

/* ---- writing ------------------------------------------------------------------------------- */

static void reset_write_state(cl_upload_result *res)
{
	res->n_new = 0;
	for (size_t i = 0; i < res->n; i++) {
		cl_upload_item *it = &res->items[i];
		free(it->existing_name);
		it->existing_name = NULL;
		it->existing = false;
		it->seq = 0;
		it->ts = 0;
		it->up.has_key_blob_sha256 = false;
		memset(it->up.key_blob_sha256, 0, sizeof(it->up.key_blob_sha256));
	}
}

static cl_err find_existing(MDB_txn *txn, const cl_proj_dbs *d, cl_upload_item *it, cl_error *err)
{
	cl_cert_rec rec;
	cl_err rc = cl_proj__cert_get(txn, d, it->up.fingerprint, &rec, err);
	if (rc == CL_ENOTFOUND) {
		cl_error_clear(err);
		return CL_OK;
	}
	if (rc != CL_OK)
		return rc;
	it->existing = true;
	it->existing_name = strdup(rec.name ? rec.name : "");
	it->seq = rec.uploaded_seq;
	it->ts = rec.uploaded_at;
	cl_cert_rec_free(&rec);
	return it->existing_name ? CL_OK : cl_error_set(err, CL_ENOMEM, OOM);
}

/* "certificate <fp> is already in the ledger as '<name>' (seq N)", or, for several, every one
 * of them as far as the message has room. */
static cl_err refuse_duplicates(const cl_upload_result *res, cl_error *err)
{
	char fp[2 * CL_FP_LEN + 1];
	if (res->n == 1) {
		const cl_upload_item *it = &res->items[0];
		cl_hex_encode(fp, it->up.fingerprint, CL_FP_LEN);
		return cl_error_set(err, CL_EEXISTS, "certificate %s is already in the ledger as '%s' (uploaded at seq %llu)",
				    fp, it->existing_name, (unsigned long long)it->seq);
	}
	char msg[CL_ERRMSG_MAX - 64];
	size_t used = (size_t)snprintf(msg, sizeof(msg), "every certificate of the file is already in the ledger:");
	for (size_t i = 0; i < res->n; i++) {
		const cl_upload_item *it = &res->items[i];
		cl_hex_encode(fp, it->up.fingerprint, CL_FP_LEN);
		char one[CL_ERRMSG_MAX];
		int k = snprintf(one, sizeof(one), "%s '%s' (%s, seq %llu)", i ? "," : "", it->existing_name, fp,
				 (unsigned long long)it->seq);
		if (k < 0 || used + (size_t)k + 6 >= sizeof(msg)) {
			snprintf(msg + used, sizeof(msg) - used, ", ...");
			break;
		}
		memcpy(msg + used, one, (size_t)k + 1);
		used += (size_t)k;
	}
	return cl_error_set(err, CL_EEXISTS, "%s", msg);
}

/* Seals the key for the item's certificate (pkcs8 when the caller encoded it already, else
 * pkey), stores the blob and records its hash in the event. */
static cl_err seal_and_store(cl_ledger *l, MDB_txn *txn, cl_upload_item *it, EVP_PKEY *pkey, const cl_secret *pkcs8,
			     cl_error *err)
{
	cl_secret master = CL_SECRET_INIT(CL_MASTER_KEY_LEN);
	cl_buf blob = CL_BUF_INIT(CL_SEALED_OVERHEAD + CL_SEAL_MAX_PKCS8);
	cl_err rc = cl_master_key__current(l, txn, true, &master, NULL, err);
	if (rc != CL_OK)
		goto out;
	rc = pkcs8 != NULL ? cl_seal_pkcs8(&blob, &master, it->up.fingerprint, pkcs8, err)
			   : cl_seal_key(&blob, &master, it->up.fingerprint, pkey, err);
	if (rc != CL_OK)
		goto out;
	cl_sha256(blob.ptr, blob.len, it->up.key_blob_sha256);
	it->up.has_key_blob_sha256 = true;
	rc = cl_keystore__put(l, txn, it->up.fingerprint, cl_buf_view(&blob), err);
out:
	cl_secret_free(&master);
	cl_buf_free(&blob);
	return rc;
}

static cl_err append_item(cl_wtxn *t, cl_upload_item *it, cl_error *err)
{
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_actor who = cl_wtxn__actor(t);
	cl_appended ap;
	char fp[2 * CL_FP_LEN + 1];
	cl_err rc = cl_cert_uploaded_encode(&data, &it->up);
	if (rc == CL_ETOOLARGE) {
		cl_hex_encode(fp, it->up.fingerprint, CL_FP_LEN);
		rc = cl_error_set(err, CL_ETOOLARGE, "certificate %s (with its chain) is too large to record (over %d bytes)",
				  fp, CL_ENVELOPE_MAX);
	} else if (rc != CL_OK) {
		rc = cl_error_set(err, rc, OOM);
	} else {
		rc = cl_wtxn_append(t, &who, "cert.uploaded", cl_buf_view(&data), &ap, err);
	}
	if (rc == CL_OK) {
		it->seq = ap.seq;
		it->ts = ap.ts;
	}
	cl_buf_free(&data);
	return rc;
}

cl_err cl_ingest__upload_write(cl_wtxn *t, cl_upload_result *res, EVP_PKEY *pkey, const cl_secret *pkcs8,
			       cl_error *err)
{
	cl_ledger *l = cl_wtxn__ledger(t);
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_proj_dbs d;
	cl_err rc;

	reset_write_state(res);
	if (res->n == 0)
		return cl_error_set(err, CL_EBADINPUT, "the file holds no certificate");
	bool with_key = pkey != NULL || pkcs8 != NULL;
	if (with_key && res->n != 1)
		return cl_error_set(err, CL_EINTERNAL, "a file with a private key must describe one certificate");
	if ((rc = cl_proj__dbs(l->store, txn, true, &d, NULL, err)) != CL_OK)
		return rc;
	for (size_t i = 0; i < res->n; i++)
		if ((rc = find_existing(txn, &d, &res->items[i], err)) != CL_OK)
			return rc;
	size_t fresh = 0;
	for (size_t i = 0; i < res->n; i++)
		fresh += !res->items[i].existing;
	if (fresh == 0)
		return refuse_duplicates(res, err);
	if (with_key && (rc = seal_and_store(l, txn, &res->items[0], pkey, pkcs8, err)) != CL_OK)
		return rc;
	for (size_t i = 0; i < res->n; i++) {
		if (res->items[i].existing)
			continue;
		if ((rc = append_item(t, &res->items[i], err)) != CL_OK)
			return rc;
		res->n_new++;
	}
	return CL_OK;
}

cl_err cl_ingest__upload_parsed(cl_wtxn *t, const cl_cert_file *parsed, const char *name, cl_upload_result *out,
				cl_error *err)
{
	cl_upload_result local = CL_UPLOAD_RESULT_INIT;
	cl_upload_result *res = out != NULL ? out : &local;
	cl_err rc = cl_ingest__upload_describe(res, parsed, name, cl_ledger__now(cl_wtxn__ledger(t)), err);
	if (rc == CL_OK)
		rc = cl_ingest__upload_write(t, res, parsed->pkey, NULL, err);
	cl_upload_result_free(&local);
	return rc;
}

/* ---- the command path ----------------------------------------------------------------------- */

typedef struct write_ctx {
	cl_upload_result *res;
	const cl_secret *pkcs8;
} write_ctx;

static cl_err write_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	write_ctx *c = arg;
	return cl_ingest__upload_write(t, c->res, NULL, c->pkcs8, err);
}

cl_err cl_ingest__upload_bytes(cl_ledger *l, cl_bytes data, cl_secret *password, const char *password_hint,
			       const char *file, const char *name, cl_upload_result *out, cl_error *err)
{
	cl_cert_file *f = NULL;
	cl_secret pkcs8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
	bool given = password != NULL, with_key = false;
	if (file == NULL)
		file = "the file";
	cl_upload_result_free(out);
	/* Everything slow happens before the write transaction takes LMDB's writer lock: the KDF
	 * work of the parse, the description, and the PKCS#8 encoding of the key. */
	cl_err rc = cl_cert_file_parse(&f, data, password, file, NULL, err);
	if (rc == CL_EPASSWORD && !given && password_hint != NULL)
		rc = cl_error_set(err, CL_EPASSWORD, "wrong password for %s (%s)", file, password_hint);
	if (rc != CL_OK)
		goto out;
	if ((rc = cl_ingest__upload_describe(out, f, name, cl_ledger__now(l), err)) != CL_OK) {
		if (rc != CL_EBADINPUT || strncmp(err->msg, "a certificate name", 18) != 0)
			cl_error_prefix(err, "%s", file);
		goto out;
	}
	if (f->pkey != NULL) {
		if ((rc = cl_seal_pkcs8_from_pkey(&pkcs8, f->pkey, err)) != CL_OK)
			goto out;
		with_key = true;
	}
	/* The key lives on only as its PKCS#8 in wiped memory: the parsed file goes now (OpenSSL
	 * clears key material when it frees a key). */
	cl_cert_file_free(f);
	f = NULL;
	write_ctx c = {out, with_key ? &pkcs8 : NULL};
	rc = cl_ledger__write(l, write_cb, &c, err);
	if (rc == CL_EEXISTS || rc == CL_ETOOLARGE)
		cl_error_prefix(err, "%s", file);
out:
	cl_cert_file_free(f);
	cl_secret_free(&pkcs8);
	if (rc != CL_OK)
		cl_upload_result_free(out);
	return rc;
}
