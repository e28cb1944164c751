/* certs.c - the certificates read model (p_certs) with its email index (p_cert_emails) and
 * expiry index (p_expiry), the codecs of cert.uploaded and cert.renamed data, and resolving a
 * fingerprint the way users type it (see certs.h). */
#include "projections/certs.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ledger/encoding.h"
#include "ledger/log.h"
#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"

#define CERT_REC_MAX (1u << 20)
#define EMAIL_KEY_MAX 400
#define AMBIGUOUS_SHOWN 5

static const char OOM[] = "out of memory";

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void cl_cert_uploaded_free(cl_cert_uploaded *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->kind);
	free(c->subject);
	free(c->issuer);
	free(c->serial);
	free_strv(c->emails, c->nemails);
	free(c->key_type);
	free_strv(c->key_usage, c->nkey_usage);
	free_strv(c->ext_key_usage, c->next_key_usage);
	free(c->sig_hash);
	free_strv(c->smime_reasons, c->nsmime_reasons);
	free(c->der);
	for (size_t i = 0; c->chain && i < c->nchain; i++)
		free(c->chain[i]);
	free(c->chain);
	free(c->chain_len);
	memset(c, 0, sizeof(*c));
}

static void put_strv(cl_mp_writer *w, char *const *v, size_t n)
{
	if (n > UINT32_MAX) {
		w->rc = CL_ETOOLARGE;
		return;
	}
	cl_mp_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		cl_mp_str(w, v[i] ? v[i] : "");
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

cl_err cl_cert_uploaded_encode(cl_buf *out, const cl_cert_uploaded *c)
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 20);
	cl_mp_str(&w, "fingerprint");
	cl_mp_bin(&w, c->fingerprint, CL_FP_LEN);
	cl_mp_str(&w, "name");
	cl_mp_str(&w, or_empty(c->name));
	cl_mp_str(&w, "kind");
	cl_mp_str(&w, or_empty(c->kind));
	cl_mp_str(&w, "has_private_key");
	cl_mp_bool(&w, c->has_private_key);
	cl_mp_str(&w, "key_blob_sha256");
	if (c->has_key_blob_sha256)
		cl_mp_bin(&w, c->key_blob_sha256, 32);
	else
		cl_mp_nil(&w);
	cl_mp_str(&w, "subject");
	cl_mp_str(&w, or_empty(c->subject));
	cl_mp_str(&w, "issuer");
	cl_mp_str(&w, or_empty(c->issuer));
	cl_mp_str(&w, "serial");
	cl_mp_str(&w, or_empty(c->serial));
	cl_mp_str(&w, "not_before");
	cl_mp_int(&w, c->not_before);
	cl_mp_str(&w, "not_after");
	cl_mp_int(&w, c->not_after);
	cl_mp_str(&w, "emails");
	put_strv(&w, c->emails, c->nemails);
	cl_mp_str(&w, "key_type");
	cl_mp_str(&w, or_empty(c->key_type));
	cl_mp_str(&w, "key_bits");
	cl_mp_uint(&w, c->key_bits);
	cl_mp_str(&w, "key_usage");
	put_strv(&w, c->key_usage, c->nkey_usage);
	cl_mp_str(&w, "ext_key_usage");
	put_strv(&w, c->ext_key_usage, c->next_key_usage);
	cl_mp_str(&w, "sig_hash");
	cl_mp_str(&w, or_empty(c->sig_hash));
	cl_mp_str(&w, "smime_ok");
	cl_mp_bool(&w, c->smime_ok);
	cl_mp_str(&w, "smime_reasons");
	put_strv(&w, c->smime_reasons, c->nsmime_reasons);
	cl_mp_str(&w, "der");
	cl_mp_bin(&w, c->der, c->der_len);
	cl_mp_str(&w, "chain");
	if (c->nchain > UINT32_MAX)
		return CL_ETOOLARGE;
	cl_mp_array(&w, (uint32_t)c->nchain);
	for (size_t i = 0; i < c->nchain; i++)
		cl_mp_bin(&w, c->chain[i], c->chain_len[i]);
	return w.rc;
}

/* A NUL-terminated copy of the next str (refusing embedded NULs). */
static bool read_dup(cl_mp_reader *r, char **out)
{
	cl_bytes s;
	if (!cl_mp_read_str(r, &s))
		return false;
	if (s.len > 0 && memchr(s.ptr, 0, s.len) != NULL)
		return cl_mp_fail(r, "a string holds a NUL byte");
	char *p = malloc(s.len + 1);
	if (p == NULL)
		return cl_mp_fail(r, OOM);
	if (s.len > 0)
		memcpy(p, s.ptr, s.len);
	p[s.len] = '\0';
	*out = p;
	return true;
}

static bool read_strv(cl_mp_reader *r, char ***out, size_t *n)
{
	uint32_t m;
	if (!cl_mp_read_array(r, &m))
		return false;
	if (m > cl_mp_left(r))
		return cl_mp_fail(r, "array longer than the data");
	*out = calloc(m ? m : 1, sizeof(char *));
	if (*out == NULL)
		return cl_mp_fail(r, OOM);
	for (uint32_t i = 0; i < m; i++) {
		if (!read_dup(r, &(*out)[i]))
			return false;
		(*n)++;
	}
	return true;
}

static bool read_bin_dup(cl_mp_reader *r, uint8_t **out, size_t *len)
{
	cl_bytes b;
	if (!cl_mp_read_bin(r, &b))
		return false;
	*out = malloc(b.len ? b.len : 1);
	if (*out == NULL)
		return cl_mp_fail(r, OOM);
	if (b.len > 0)
		memcpy(*out, b.ptr, b.len);
	*len = b.len;
	return true;
}

static bool key(cl_mp_reader *r, const char *k)
{
	return cl_mp_expect_key(r, k);
}

/* Validates a str (no NUL inside) without copying it. */
static bool check_str(cl_mp_reader *r)
{
	cl_bytes s;
	if (!cl_mp_read_str(r, &s))
		return false;
	if (s.len > 0 && memchr(s.ptr, 0, s.len) != NULL)
		return cl_mp_fail(r, "a string holds a NUL byte");
	return true;
}

static bool check_strv(cl_mp_reader *r)
{
	uint32_t m;
	if (!cl_mp_read_array(r, &m))
		return false;
	for (uint32_t i = 0; i < m; i++)
		if (!check_str(r))
			return false;
	return true;
}

/* light: what the read model keeps (fingerprint, name, has_private_key, validity, emails) is
 * copied, everything else is checked exactly as strictly but not copied (rebuild applies every
 * upload; the DER and chain are the bulk of it). */
static cl_err uploaded_decode(cl_bytes data, cl_cert_uploaded *c, bool light, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n;
	cl_bytes b;
	memset(c, 0, sizeof(*c));
	cl_mp_reader_init(&r, data);
	if (!cl_mp_read_map(&r, &n))
		goto bad;
	if (n != 20) {
		cl_mp_fail(&r, "wrong number of keys");
		goto bad;
	}
	if (!key(&r, "fingerprint") || !cl_mp_read_bin_n(&r, CL_FP_LEN, &b))
		goto bad;
	memcpy(c->fingerprint, b.ptr, CL_FP_LEN);
	if (!key(&r, "name") || !read_dup(&r, &c->name) || !key(&r, "kind") || !read_dup(&r, &c->kind) ||
	    !key(&r, "has_private_key") || !cl_mp_read_bool(&r, &c->has_private_key) || !key(&r, "key_blob_sha256"))
		goto bad;
	if (cl_mp_peek(&r) == CL_MP_NIL) {
		cl_mp_read_nil(&r);
	} else {
		if (!cl_mp_read_bin_n(&r, 32, &b))
			goto bad;
		memcpy(c->key_blob_sha256, b.ptr, 32);
		c->has_key_blob_sha256 = true;
	}
	if (!key(&r, "subject") || !(light ? check_str(&r) : read_dup(&r, &c->subject)) || !key(&r, "issuer") || !(light ? check_str(&r) : read_dup(&r, &c->issuer)) ||
	    !key(&r, "serial") || !(light ? check_str(&r) : read_dup(&r, &c->serial)) || !key(&r, "not_before") ||
	    !cl_mp_read_int(&r, &c->not_before) || !key(&r, "not_after") || !cl_mp_read_int(&r, &c->not_after) ||
	    !key(&r, "emails") || !read_strv(&r, &c->emails, &c->nemails) || !key(&r, "key_type") ||
	    !(light ? check_str(&r) : read_dup(&r, &c->key_type)) || !key(&r, "key_bits") || !cl_mp_read_uint(&r, &c->key_bits) ||
	    !key(&r, "key_usage") || !(light ? check_strv(&r) : read_strv(&r, &c->key_usage, &c->nkey_usage)) || !key(&r, "ext_key_usage") ||
	    !(light ? check_strv(&r) : read_strv(&r, &c->ext_key_usage, &c->next_key_usage)) || !key(&r, "sig_hash") ||
	    !(light ? check_str(&r) : read_dup(&r, &c->sig_hash)) || !key(&r, "smime_ok") || !cl_mp_read_bool(&r, &c->smime_ok) ||
	    !key(&r, "smime_reasons") ||
	    !(light ? check_strv(&r) : read_strv(&r, &c->smime_reasons, &c->nsmime_reasons)) || !key(&r, "der") ||
	    !(light ? cl_mp_read_bin(&r, &b) : read_bin_dup(&r, &c->der, &c->der_len)) || !key(&r, "chain") || !cl_mp_read_array(&r, &n))
		goto bad;
	if (n > cl_mp_left(&r)) {
		cl_mp_fail(&r, "array longer than the data");
		goto bad;
	}
	if (light) {
		for (uint32_t i = 0; i < n; i++)
			if (!cl_mp_read_bin(&r, &b))
				goto bad;
	} else {
		c->chain = calloc(n ? n : 1, sizeof(*c->chain));
		c->chain_len = calloc(n ? n : 1, sizeof(*c->chain_len));
		if (c->chain == NULL || c->chain_len == NULL) {
			cl_mp_fail(&r, OOM);
			goto bad;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (!read_bin_dup(&r, &c->chain[i], &c->chain_len[i]))
				goto bad;
			c->nchain++;
		}
	}
	if (cl_mp_left(&r) != 0) {
		cl_mp_fail(&r, "trailing bytes");
		goto bad;
	}
	return CL_OK;
bad:
	if (r.error == OOM)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	return cl_error_set(err, CL_EBADINPUT, "malformed cert.uploaded data: %s", r.error ? r.error : "?");
}

cl_err cl_cert_uploaded_decode(cl_bytes data, cl_cert_uploaded *c, cl_error *err)
{
	return uploaded_decode(data, c, false, err);
}

cl_err cl_cert_renamed_encode(cl_buf *out, const uint8_t fp[CL_FP_LEN], const char *name)
{
	cl_mp_writer w;
	cl_buf_reset(out);
	cl_mp_writer_init(&w, out);
	cl_mp_map(&w, 2);
	cl_mp_str(&w, "fingerprint");
	cl_mp_bin(&w, fp, CL_FP_LEN);
	cl_mp_str(&w, "name");
	cl_mp_str(&w, name);
	return w.rc;
}

cl_err cl_cert_renamed_decode(cl_bytes data, const uint8_t **fp, cl_bytes *name, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n;
	cl_bytes b;
	cl_mp_reader_init(&r, data);
	if (!cl_mp_read_map(&r, &n) || n != 2 || !key(&r, "fingerprint") || !cl_mp_read_bin_n(&r, CL_FP_LEN, &b) ||
	    !key(&r, "name") || !cl_mp_read_str(&r, name) || cl_mp_left(&r) != 0 ||
	    (name->len > 0 && memchr(name->ptr, 0, name->len) != NULL))
		return cl_error_set(err, CL_EBADINPUT, "malformed cert.renamed data");
	*fp = b.ptr;
	return CL_OK;
}

/* ---- the record ---- */

void cl_cert_rec_free(cl_cert_rec *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free_strv(r->emails, r->nemails);
	free_strv(r->accounts, r->naccounts);
	r->name = NULL;
	r->emails = r->accounts = NULL;
	r->nemails = r->naccounts = 0;
}

cl_err cl_proj__cert_decode(cl_bytes k, cl_bytes val, cl_cert_rec *out, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n;
	memset(out, 0, sizeof(*out));
	if (k.len != CL_FP_LEN)
		return cl_error_set(err, CL_EINTEGRITY, "certificate record has a bad key (run `certledger rebuild`)");
	memcpy(out->fingerprint, k.ptr, CL_FP_LEN);
	cl_mp_reader_init(&r, val);
	if (!cl_mp_read_map(&r, &n) || n != 8 || !key(&r, "name") || !read_dup(&r, &out->name) ||
	    !key(&r, "uploaded_at") || !cl_mp_read_int(&r, &out->uploaded_at) || !key(&r, "uploaded_seq") ||
	    !cl_mp_read_uint(&r, &out->uploaded_seq) || !key(&r, "has_private_key") ||
	    !cl_mp_read_bool(&r, &out->has_private_key) || !key(&r, "not_before") ||
	    !cl_mp_read_int(&r, &out->not_before) || !key(&r, "not_after") || !cl_mp_read_int(&r, &out->not_after) ||
	    !key(&r, "emails") || !read_strv(&r, &out->emails, &out->nemails) || !key(&r, "accounts") ||
	    !read_strv(&r, &out->accounts, &out->naccounts) || cl_mp_left(&r) != 0) {
		bool oom = r.error == OOM;
		cl_cert_rec_free(out);
		if (oom)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		return cl_error_set(err, CL_EINTEGRITY, "certificate record is damaged (run `certledger rebuild`)");
	}
	return CL_OK;
}

cl_err cl_proj__cert_get_rec(MDB_txn *txn, const cl_proj_dbs *d, const uint8_t fp[CL_FP_LEN], cl_cert_rec *out,
			     cl_error *err)
{
	MDB_val k = {CL_FP_LEN, (void *)fp}, v;
	int rc = mdb_get(txn, d->certs, &k, &v);
	if (rc == MDB_NOTFOUND) {
		char hex[2 * CL_FP_LEN + 1];
		cl_hex_encode(hex, fp, CL_FP_LEN);
		memset(out, 0, sizeof(*out));
		return cl_error_set(err, CL_ENOTFOUND, "no certificate %s", hex);
	}
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "get");
	return cl_proj__cert_decode(CL_BYTES(fp, CL_FP_LEN), CL_BYTES(v.mv_data, v.mv_size), out, err);
}

cl_err cl_proj__cert_get(MDB_txn *txn, const cl_proj_dbs *d, const uint8_t fp[CL_FP_LEN], cl_cert_rec *out,
			 cl_error *err)
{
	cl_err rc = cl_proj__cert_get_rec(txn, d, fp, out, err);
	if (rc != CL_OK)
		return rc;
	/* the log is not a projection database: reach it through the txn's environment */
	MDB_dbi log;
	MDB_val k, v;
	uint8_t kb[8];
	cl_be64_put(kb, out->uploaded_seq);
	k.mv_size = 8;
	k.mv_data = kb;
	cl_event ev;
	cl_error ignore = CL_ERROR_INIT;
	if (mdb_dbi_open(txn, "log", 0, &log) == 0 && mdb_get(txn, log, &k, &v) == 0 &&
	    cl_envelope_decode(CL_BYTES(v.mv_data, v.mv_size), &ev, &ignore) == CL_OK && cl_event_is(&ev, "cert.uploaded"))
		out->uploaded = ev.data;
	return CL_OK;
}

cl_err cl_proj__cert_put(MDB_txn *txn, const cl_proj_dbs *d, const cl_cert_rec *r, cl_error *err)
{
	cl_buf b = CL_BUF_INIT(CERT_REC_MAX);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &b);
	cl_mp_map(&w, 8);
	cl_mp_str(&w, "name");
	cl_mp_str(&w, or_empty(r->name));
	cl_mp_str(&w, "uploaded_at");
	cl_mp_int(&w, r->uploaded_at);
	cl_mp_str(&w, "uploaded_seq");
	cl_mp_uint(&w, r->uploaded_seq);
	cl_mp_str(&w, "has_private_key");
	cl_mp_bool(&w, r->has_private_key);
	cl_mp_str(&w, "not_before");
	cl_mp_int(&w, r->not_before);
	cl_mp_str(&w, "not_after");
	cl_mp_int(&w, r->not_after);
	cl_mp_str(&w, "emails");
	put_strv(&w, r->emails, r->nemails);
	cl_mp_str(&w, "accounts");
	put_strv(&w, r->accounts, r->naccounts);
	cl_err rc = w.rc;
	if (rc == CL_OK)
		rc = cl_proj__put(txn, d->certs, CL_BYTES(r->fingerprint, CL_FP_LEN), cl_buf_view(&b), err);
	else
		cl_error_set(err, rc, "certificate record too large");
	cl_buf_free(&b);
	return rc;
}

/* p_cert_emails key: the address lower-cased, NUL, fingerprint. 0 when the address cannot be
 * an index key (too long to be an address). */
static size_t email_key(uint8_t *out, const char *address, const uint8_t fp[CL_FP_LEN])
{
	size_t n = strlen(address);
	if (n == 0 || n > EMAIL_KEY_MAX - 1 - CL_FP_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = address[i];
		out[i] = (uint8_t)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
	}
	out[n] = 0;
	memcpy(out + n + 1, fp, CL_FP_LEN);
	return n + 1 + CL_FP_LEN;
}

cl_err cl_proj__cert_uploaded(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	cl_cert_uploaded c;
	cl_err rc = uploaded_decode(ev->data, &c, true, err);
	if (rc != CL_OK) {
		cl_cert_uploaded_free(&c);
		return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
	}
	MDB_val k = {CL_FP_LEN, c.fingerprint}, v;
	int mrc = mdb_get(txn, d->certs, &k, &v);
	if (mrc == 0) {
		char hex[2 * CL_FP_LEN + 1];
		cl_hex_encode(hex, c.fingerprint, CL_FP_LEN);
		rc = cl_error_set(err, CL_EEXISTS, "certificate %s was uploaded already", hex);
		goto out;
	}
	if (mrc != MDB_NOTFOUND) {
		rc = cl_store_mdb_error(err, mrc, "get");
		goto out;
	}
	cl_cert_rec rec = {{0}, c.name, ev->ts, ev->seq, c.has_private_key, c.not_before, c.not_after,
			   c.emails, c.nemails, NULL, 0, {NULL, 0}};
	memcpy(rec.fingerprint, c.fingerprint, CL_FP_LEN);
	if ((rc = cl_proj__cert_put(txn, d, &rec, err)) != CL_OK)
		goto out;
	uint8_t ek[EMAIL_KEY_MAX];
	for (size_t i = 0; i < c.nemails && rc == CL_OK; i++) {
		size_t n = email_key(ek, c.emails[i], c.fingerprint);
		if (n > 0)
			rc = cl_proj__index_put(txn, d, d->cert_emails, CL_BYTES(ek, n), CL_BYTES("", 0), err);
	}
	if (rc == CL_OK) {
		uint8_t xk[8 + CL_FP_LEN];
		cl_proj__ts_key(xk, c.not_after);
		memcpy(xk + 8, c.fingerprint, CL_FP_LEN);
		rc = cl_proj__index_put(txn, d, d->expiry, CL_BYTES(xk, sizeof(xk)), CL_BYTES("", 0), err);
	}
out:
	cl_cert_uploaded_free(&c);
	return rc;
}

cl_err cl_proj__cert_metadata(cl_store *s, MDB_txn *txn, const cl_cert_rec *rec, cl_cert_uploaded *out,
			      cl_error *err)
{
	cl_bytes env;
	cl_event ev;
	char hex[2 * CL_FP_LEN + 1];
	memset(out, 0, sizeof(*out));
	cl_hex_encode(hex, rec->fingerprint, CL_FP_LEN);
	if (cl_log__get(s, txn, rec->uploaded_seq, &env) != CL_OK || cl_envelope_decode(env, &ev, err) != CL_OK ||
	    !cl_event_is(&ev, "cert.uploaded"))
		return cl_error_set(err, CL_EINTEGRITY,
				    "certificate %s: seq %llu is not its upload (run `certledger verify` and `rebuild`)", hex,
				    (unsigned long long)rec->uploaded_seq);
	cl_err rc = cl_cert_uploaded_decode(ev.data, out, err);
	if (rc == CL_ENOMEM)
		return rc;
	if (rc != CL_OK || memcmp(out->fingerprint, rec->fingerprint, CL_FP_LEN) != 0)
		return cl_error_set(err, CL_EINTEGRITY, "certificate %s: the upload at seq %llu does not decode", hex,
				    (unsigned long long)rec->uploaded_seq);
	return CL_OK;
}

cl_err cl_proj__cert_renamed(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	const uint8_t *fp;
	cl_bytes name;
	cl_cert_rec rec;
	cl_err rc = cl_cert_renamed_decode(ev->data, &fp, &name, err);
	if (rc != CL_OK)
		return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
	if ((rc = cl_proj__cert_get_rec(txn, d, fp, &rec, err)) != CL_OK) {
		if (rc == CL_ENOTFOUND)
			rc = cl_error_set(err, CL_EINTEGRITY, "seq %llu renames a certificate that was never uploaded",
					  (unsigned long long)ev->seq);
		return rc;
	}
	char *nn = strndup((const char *)name.ptr, name.len);
	if (nn == NULL) {
		cl_cert_rec_free(&rec);
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	}
	free(rec.name);
	rec.name = nn;
	rc = cl_proj__cert_put(txn, d, &rec, err);
	cl_cert_rec_free(&rec);
	return rc;
}

cl_err cl_proj__cert_link(MDB_txn *txn, const cl_proj_dbs *d, const uint8_t fp[CL_FP_LEN], const char *email,
			  bool add, cl_error *err)
{
	cl_cert_rec rec;
	cl_err rc = cl_proj__cert_get_rec(txn, d, fp, &rec, err);
	if (rc != CL_OK)
		return rc;
	size_t i;
	for (i = 0; i < rec.naccounts && strcmp(rec.accounts[i], email) != 0; i++)
		;
	if (add && i == rec.naccounts) {
		char **v = realloc(rec.accounts, (rec.naccounts + 1) * sizeof(char *));
		char *e = strdup(email);
		if (v == NULL || e == NULL) {
			free(e);
			if (v != NULL)
				rec.accounts = v;
			rc = cl_error_set(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		rec.accounts = v;
		rec.accounts[rec.naccounts++] = e;
	} else if (!add && i < rec.naccounts) {
		free(rec.accounts[i]);
		memmove(&rec.accounts[i], &rec.accounts[i + 1], (rec.naccounts - i - 1) * sizeof(char *));
		rec.naccounts--;
	}
	rc = cl_proj__cert_put(txn, d, &rec, err);
out:
	cl_cert_rec_free(&rec);
	return rc;
}

bool cl_cert__has_email(char *const *emails, size_t nemails, const char *address)
{
	for (size_t i = 0; i < nemails; i++)
		if (strcasecmp(emails[i], address) == 0)
			return true;
	return false;
}

/* ---- resolving a fingerprint as typed ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Collects the hex digits of text into digits (lower case); returns their number, or -1 when
 * the text is not a fingerprint form. */
static int fp_digits(const char *text, char digits[2 * CL_FP_LEN + 1])
{
	const char *p = text;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "sha256 fingerprint=", 19) == 0)
		p += 19;
	size_t len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	bool colons = memchr(p, ':', len) != NULL;
	if (colons && len % 3 != 2)
		return -1;
	int n = 0;
	for (size_t i = 0; i < len; i++) {
		if (colons && i % 3 == 2) {
			if (p[i] != ':')
				return -1;
			continue;
		}
		int v = hexval(p[i]);
		if (v < 0 || n == 2 * CL_FP_LEN)
			return -1;
		digits[n++] = "0123456789abcdef"[v];
	}
	digits[n] = '\0';
	return n;
}

cl_err cl_proj__cert_resolve(MDB_txn *txn, const cl_proj_dbs *d, const char *text, uint8_t out[CL_FP_LEN],
			     cl_error *err)
{
	char digits[2 * CL_FP_LEN + 1];
	int n = fp_digits(text, digits);
	if (n < 0)
		return cl_error_set(err, CL_EBADINPUT,
				    "'%.80s' is not a fingerprint (64 hex digits, the AB:CD:... form, or a prefix of "
				    "8 or more hex digits)", text);
	if (n < 8)
		return cl_error_set(err, CL_EBADINPUT,
				    "fingerprint prefix '%s' is too short: give at least 8 hex digits", digits);
	uint8_t prefix[CL_FP_LEN];
	size_t nb = (size_t)n / 2;
	for (size_t i = 0; i < nb; i++)
		prefix[i] = (uint8_t)(hexval(digits[2 * i]) << 4 | hexval(digits[2 * i + 1]));
	bool odd = n % 2 == 1;
	uint8_t half = odd ? (uint8_t)(hexval(digits[n - 1]) << 4) : 0;
	if (n == 2 * CL_FP_LEN) {
		MDB_val k = {CL_FP_LEN, prefix}, v;
		int rc = mdb_get(txn, d->certs, &k, &v);
		if (rc == MDB_NOTFOUND)
			return cl_error_set(err, CL_ENOTFOUND, "no certificate %s", digits);
		if (rc != 0)
			return cl_store_mdb_error(err, rc, "get");
		memcpy(out, prefix, CL_FP_LEN);
		return CL_OK;
	}
	uint8_t seek[CL_FP_LEN];
	memcpy(seek, prefix, nb);
	if (odd)
		seek[nb] = half;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, d->certs, &cur);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "cursor");
	MDB_val k = {nb + (odd ? 1 : 0), seek}, v;
	size_t found = 0;
	uint8_t shown[AMBIGUOUS_SHOWN][CL_FP_LEN];
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data;
		if (k.mv_size != CL_FP_LEN || memcmp(kp, prefix, nb) != 0 || (odd && (kp[nb] & 0xf0) != half))
			break;
		if (found < AMBIGUOUS_SHOWN)
			memcpy(shown[found], kp, CL_FP_LEN);
		found++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return cl_store_mdb_error(err, rc, "cursor");
	if (found == 0)
		return cl_error_set(err, CL_ENOTFOUND, "no certificate has a fingerprint starting with %s", digits);
	if (found == 1) {
		memcpy(out, shown[0], CL_FP_LEN);
		return CL_OK;
	}
	char list[AMBIGUOUS_SHOWN * (2 * CL_FP_LEN + 2) + 1];
	size_t at = 0;
	for (size_t i = 0; i < found && i < AMBIGUOUS_SHOWN; i++) {
		if (i > 0) {
			list[at++] = ',';
			list[at++] = ' ';
		}
		cl_hex_encode(list + at, shown[i], CL_FP_LEN);
		at += 2 * CL_FP_LEN;
	}
	list[at] = '\0';
	if (found > AMBIGUOUS_SHOWN)
		return cl_error_set(err, CL_EREFUSED,
				    "fingerprint prefix %s is ambiguous: it matches %zu certificates, among them %s; "
				    "give more digits", digits, found, list);
	return cl_error_set(err, CL_EREFUSED, "fingerprint prefix %s is ambiguous: it matches %s; give more digits",
			    digits, list);
}
