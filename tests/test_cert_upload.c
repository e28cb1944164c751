/* test_cert_upload.c - `cert upload|export|rename|test` and `keys rotate-master` through the built
 * CLI (black box), checked against OpenSSL and the raw LMDB environment rather than against
 * certledger's own word:
 *  - every file of tests/data/MANIFEST.tsv uploads as the manifest says (fingerprint, emails,
 *    validity) or is refused with exit 1 for the right reason, with nothing written (digest of
 *    every LMDB database before and after);
 *  - every other refusal (wrong password by each source, no password, truncated, over 1 MiB,
 *    not a certificate, duplicates) names its cause and writes nothing;
 *  - secrets: neither the P12 passwords, nor the private keys' PKCS#8 DER, nor their raw private
 *    numbers (extracted here with OpenSSL) appear in any file of the ledger directory;
 *  - master-key rotation: sealed keys and webhook secrets open under the new key only (checked
 *    with ingest/seal.h and export/webhook_secret.h on the raw blobs), `cert test` still signs
 *    and decrypts, the crash window between the commit and the rename is survived (uploads and
 *    webhook secrets seal under the recorded key) and repaired, a failed rotation changes nothing;
 *  - cert test / export / rename behave, and `verify` passes after all of it. */
#include <fcntl.h>
#include <jansson.h>
#include <lmdb.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certledger/certledger.h"
#include "export/webhook_secret.h"
#include "ingest/seal.h"
#include "ledger/master_key.h"
#include "testutil.h"
#include "tu_certs.h"
#include "tu_master_key.h"

#define END ((const char *)NULL)

typedef struct fx {
	char *root;
	char dir[600];
	int n; /* files written under root */
} fx;

/* ---- small helpers ------------------------------------------------------------------------- */

static char *data_file(const char *name)
{
	return tu_data_path(name);
}

static json_t *json_of(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL)
		fail_msg("not JSON (%s): %s", e.text, text);
	return j;
}

static json_t *json_lines(const char *text)
{
	json_t *a = json_array();
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > 0) {
			char *line = strndup(p, n);
			json_array_append_new(a, json_of(line));
			free(line);
		}
		p += n + (nl ? 1 : 0);
	}
	return a;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		fail_msg("field '%s' is missing or not a string", key);
	return json_string_value(v);
}

static void assert_keys(json_t *o, const char *const *keys)
{
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		(void)v;
		if (keys[n] == NULL || strcmp(k, keys[n]) != 0)
			fail_msg("unexpected field '%s' at position %zu (expected '%s')", k, n, keys[n] ? keys[n] : "none");
		n++;
	}
	if (keys[n] != NULL)
		fail_msg("field '%s' is missing", keys[n]);
}

static const char *const UPLOAD_KEYS[] = {"fingerprint", "name",      "kind",      "has_private_key", "subject",
					  "issuer",      "serial",    "not_before", "not_after",       "emails",
					  "key_usage",   "ext_key_usage", "seq",   NULL};

/* A new ledger in a new root directory. */
static void new_ledger(fx *f)
{
	memset(f, 0, sizeof(*f));
	f->root = tu_mkdtemp("certup");
	snprintf(f->dir, sizeof(f->dir), "%s/ledger", f->root);
	tu_run r;
	tu_cli(&r, f->dir, "init", "--org-domain", "example.org", END);
	if (r.exit_code != 0)
		fail_msg("init: %s", r.err);
	tu_run_free(&r);
}

static void drop_ledger(fx *f)
{
	tu_rmrf(f->root);
	free(f->root);
	f->root = NULL;
}

/* Writes bytes to a new file under the fixture's root; returns its path (malloc'd). */
static char *put_file(fx *f, const void *data, size_t len)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/f%d", f->root, f->n++) > 0);
	tu_write_file(p, data, len);
	return p;
}

static char *pw_file(fx *f, const char *pw)
{
	return put_file(f, pw, strlen(pw));
}

static void digest(fx *f, char out[65])
{
	tu_ledger_digest(f->dir, out);
}

/* Runs `cert upload FILE --json` with the password in a file (pw NULL: no password option). */
static void upload(fx *f, tu_run *r, const char *file, const char *pw)
{
	if (pw == NULL) {
		tu_cli(r, f->dir, "--json", "cert", "upload", file, END);
		return;
	}
	char *pf = pw_file(f, pw);
	tu_cli(r, f->dir, "--json", "cert", "upload", file, "--password-file", pf, END);
	free(pf);
}

/* Uploads a file that must be accepted; returns its JSON lines. */
static json_t *upload_ok(fx *f, const char *name, const char *pw)
{
	char *path = data_file(name);
	tu_run r;
	upload(f, &r, path, pw);
	if (r.exit_code != 0)
		fail_msg("upload %s: exit %d: %s", name, r.exit_code, r.err);
	json_t *a = json_lines(r.out);
	tu_run_free(&r);
	free(path);
	return a;
}

/* Runs a refused command: exit code want, stderr contains needle (and not "corrupt" when
 * not_corrupt), and the ledger is byte for byte what it was. */
static void expect_refusal(fx *f, tu_run *r, int want, const char *needle, const char *before)
{
	char after[65];
	if (r->exit_code != want)
		fail_msg("exit %d (wanted %d): %s", r->exit_code, want, r->err);
	if (needle != NULL && strstr(r->err, needle) == NULL)
		fail_msg("message '%s' does not say '%s'", r->err, needle);
	if (want != 2 && (strncmp(r->err, "certledger: ", 12) != 0 || strchr(r->err, '\n') != r->err + strlen(r->err) - 1))
		fail_msg("not one 'certledger: ' line: '%s'", r->err);
	assert_int_equal(r->out_len, 0);
	digest(f, after);
	if (before != NULL && strcmp(before, after) != 0)
		fail_msg("the ledger changed on a refusal (%s)", r->err);
}

static void hex_of(char out[65], const uint8_t *in)
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	uint8_t h[32];
	unsigned int len = 0;
	assert_int_equal(EVP_Digest(p, n, h, &len, EVP_sha256(), NULL), 1);
	hex_of(out, h);
}

static void rfc3339(char out[40], const struct tm *tm)
{
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S.000000Z", tm);
}

/* ---- OpenSSL's view of the inputs ------------------------------------------------------------ */

typedef struct p12_parts {
	EVP_PKEY *key;
	X509 *cert;
} p12_parts;

static void p12_open(const char *name, const char *pw, p12_parts *out)
{
	size_t n;
	char *path = data_file(name);
	uint8_t *d = tu_read_file(path, &n);
	const uint8_t *p = d;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)n);
	assert_non_null(p12);
	STACK_OF(X509) *ca = NULL;
	if (PKCS12_parse(p12, pw, &out->key, &out->cert, &ca) != 1)
		fail_msg("OpenSSL cannot open %s", name);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	free(d);
	free(path);
}

static void p12_close(p12_parts *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
}

/* The certificate's DER and SHA-256 fingerprint. */
static void cert_fp(X509 *x, char out[65])
{
	uint8_t *der = NULL;
	int n = i2d_X509(x, &der);
	assert_true(n > 0);
	sha256_hex(der, (size_t)n, out);
	OPENSSL_free(der);
}

/* A big number parameter of the key as bytes (malloc'd). */
static uint8_t *bn_param(EVP_PKEY *k, const char *name, size_t *len)
{
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(k, name, &bn) != 1)
		return NULL;
	*len = (size_t)BN_num_bytes(bn);
	uint8_t *b = malloc(*len);
	BN_bn2bin(bn, b);
	BN_clear_free(bn);
	return b;
}

/* Asserts that none of the key's secret encodings is in any file under dir. */
static void assert_key_not_on_disk(const char *dir, EVP_PKEY *k, const char *what)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	assert_non_null(p8);
	uint8_t *der = NULL;
	int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	assert_true(n > 0);
	if (tu_tree_contains(dir, der, (size_t)n))
		fail_msg("%s: the PKCS#8 DER of the private key is on disk", what);
	OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	static const char *const params[] = {OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1,
					     OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_PRIV_KEY, NULL};
	int found = 0;
	for (int i = 0; params[i]; i++) {
		size_t len = 0;
		uint8_t *b = bn_param(k, params[i], &len);
		if (b == NULL)
			continue;
		found++;
		assert_true(len >= 16);
		if (tu_tree_contains(dir, b, len))
			fail_msg("%s: the private key's %s is on disk", what, params[i]);
		OPENSSL_cleanse(b, len);
		free(b);
	}
	assert_true(found > 0);
}

/* ---- the raw keystore ---------------------------------------------------------------------------- */

static MDB_env *env_open(const char *dir, unsigned flags)
{
	char path[700];
	MDB_env *env;
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	if (mdb_env_open(env, path, flags, 0600) != 0)
		fail_msg("cannot open %s", path);
	return env;
}

/* The sealed blob of fp_hex as stored (malloc'd), or NULL. */
static uint8_t *keystore_blob(const char *dir, const char *fp_hex, size_t *len)
{
	uint8_t fp[32];
	for (int i = 0; i < 32; i++)
		sscanf(fp_hex + 2 * i, "%2hhx", &fp[i]);
	MDB_env *env = env_open(dir, MDB_RDONLY);
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "keystore", 0, &dbi), 0);
	MDB_val k = {32, fp}, v;
	uint8_t *out = NULL;
	if (mdb_get(txn, dbi, &k, &v) == 0) {
		out = malloc(v.mv_size);
		memcpy(out, v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return out;
}

/* The sealed webhook secret of subscription id as stored (malloc'd). */
static uint8_t *wh_blob(const char *dir, const char *id, size_t *len)
{
	MDB_env *env = env_open(dir, MDB_RDONLY);
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "wh_secrets", 0, &dbi), 0);
	MDB_val k = {strlen(id), (void *)id}, v;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	uint8_t *out = malloc(v.mv_size);
	memcpy(out, v.mv_data, v.mv_size);
	*len = v.mv_size;
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return out;
}

/* Flips one byte in the middle of fp_hex's blob (a damaged keystore). */
static void damage_blob(const char *dir, const char *fp_hex)
{
	size_t len;
	uint8_t *b = keystore_blob(dir, fp_hex, &len);
	assert_non_null(b);
	b[len / 2] ^= 0x55;
	uint8_t fp[32];
	for (int i = 0; i < 32; i++)
		sscanf(fp_hex + 2 * i, "%2hhx", &fp[i]);
	MDB_env *env = env_open(dir, 0);
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "keystore", 0, &dbi), 0);
	MDB_val k = {32, fp}, v = {len, b};
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(b);
}

static char *master_path(fx *f, const char *suffix)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/keys/master.key%s", f->dir, suffix) > 0);
	return p;
}

/* Opens fp's blob with the key held in the key file at path: CL_OK or the seal error. When it
 * opens and want is not NULL, the key must be want. */
static cl_err open_blob_with_file(fx *f, const char *fp_hex, const char *path, EVP_PKEY *want)
{
	size_t blen, klen;
	uint8_t *blob = keystore_blob(f->dir, fp_hex, &blen);
	if (blob == NULL)
		fail_msg("no keystore blob for %s", fp_hex);
	uint8_t *kb = tu_read_file(path, &klen);
	cl_secret k = CL_SECRET_INIT(32);
	tu_master_key_from_file(&k, kb, klen);
	uint8_t fp[32];
	for (int i = 0; i < 32; i++)
		sscanf(fp_hex + 2 * i, "%2hhx", &fp[i]);
	EVP_PKEY *pk = NULL;
	cl_error err = CL_ERROR_INIT;
	cl_err rc = cl_seal_open(&pk, &k, fp, CL_BYTES(blob, blen), &err);
	if (rc == CL_OK && want != NULL)
		assert_int_equal(EVP_PKEY_eq(pk, want), 1);
	EVP_PKEY_free(pk);
	cl_secret_free(&k);
	OPENSSL_cleanse(kb, klen);
	free(kb);
	free(blob);
	return rc;
}

/* Opens subscription id's sealed webhook secret with the key held in the key file at path:
 * CL_OK or the error. When it opens and want is not NULL, the key bytes must be want. */
static cl_err open_wh_with_file(fx *f, const char *id, const char *path, const uint8_t *want, size_t want_len)
{
	size_t wl, kl;
	uint8_t *wb = wh_blob(f->dir, id, &wl);
	uint8_t *kb = tu_read_file(path, &kl);
	cl_secret k = CL_SECRET_INIT(32), got = CL_SECRET_INIT(128);
	cl_error err = CL_ERROR_INIT;
	tu_master_key_from_file(&k, kb, kl);
	cl_err rc = cl_wh__secret_open(&got, &k, id, CL_BYTES(wb, wl), &err);
	if (rc == CL_OK && want != NULL) {
		assert_int_equal(got.len, want_len);
		assert_memory_equal(got.ptr, want, want_len);
	}
	if (rc != CL_OK)
		assert_null(got.ptr);
	cl_secret_free(&got);
	cl_secret_free(&k);
	OPENSSL_cleanse(kb, kl);
	free(kb);
	free(wb);
	return rc;
}

/* `webhook add` (to a closed local port) with a generated secret: the id into id, the key bytes
 * of the printed whsec_ secret into key (returns their length). */
static size_t add_webhook(fx *f, char id[80], uint8_t key[128])
{
	tu_run r;
	tu_cli(&r, f->dir, "--json", "webhook", "add", "http://127.0.0.1:9/hook", "--allow-private", END);
	if (r.exit_code != 0)
		fail_msg("webhook add: %s", r.err);
	json_t *wj = json_of(r.out);
	snprintf(id, 80, "%s", jstr(wj, "id"));
	const char *whsec = jstr(wj, "secret");
	assert_int_equal(strncmp(whsec, "whsec_", 6), 0);
	size_t n = strlen(whsec);
	int len = EVP_DecodeBlock(key, (const unsigned char *)whsec + 6, (int)(n - 6));
	assert_true(len > 0);
	len -= (whsec[n - 1] == '=') + (whsec[n - 2] == '=');
	json_decref(wj);
	tu_run_free(&r);
	return (size_t)len;
}

static void expect_cert_test(fx *f, const char *fp, const char *sign, const char *verify, const char *enc,
			     const char *dec)
{
	tu_run r;
	tu_cli(&r, f->dir, "--json", "cert", "test", fp, END);
	if (r.exit_code != 0)
		fail_msg("cert test %s: exit %d: %s", fp, r.exit_code, r.err);
	json_t *j = json_of(r.out);
	static const char *const keys[] = {"sign", "verify", "encrypt", "decrypt", NULL};
	assert_keys(j, keys);
	assert_string_equal(jstr(j, "sign"), sign);
	assert_string_equal(jstr(j, "verify"), verify);
	assert_string_equal(jstr(j, "encrypt"), enc);
	assert_string_equal(jstr(j, "decrypt"), dec);
	json_decref(j);
	tu_run_free(&r);
}

static void expect_verify_ok(fx *f)
{
	tu_run r;
	tu_cli(&r, f->dir, "--json", "verify", END);
	if (r.exit_code != 0)
		fail_msg("verify: exit %d: %s %s", r.exit_code, r.out, r.err);
	json_t *j = json_of(r.out);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	tu_run_free(&r);
}

/* ---- MANIFEST.tsv ------------------------------------------------------------------------------ */

typedef struct mrow {
	char *file, *kind, *password, *contents, *reject;
} mrow;

static mrow g_rows[64];
static size_t g_nrows;
static char *g_manifest;

static void load_manifest(void)
{
	size_t n;
	char *p = data_file("MANIFEST.tsv");
	g_manifest = (char *)tu_read_file(p, &n);
	free(p);
	g_manifest = realloc(g_manifest, n + 1);
	g_manifest[n] = '\0';
	char *save = NULL;
	bool header = true;
	for (char *line = strtok_r(g_manifest, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (header) {
			header = false;
			continue;
		}
		char *col[12] = {NULL};
		size_t k = 0;
		for (char *q = line; k < 12; k++) {
			col[k] = q;
			char *t = strchr(q, '\t');
			if (t == NULL) {
				k++;
				break;
			}
			*t = '\0';
			q = t + 1;
		}
		assert_int_equal(k, 12);
		mrow *r = &g_rows[g_nrows++];
		r->file = col[0];
		r->kind = col[5];
		r->password = strcmp(col[6], "(empty string)") == 0 ? "" : col[6];
		r->contents = col[7];
		r->reject = col[9];
	}
	assert_true(g_nrows >= 20);
}

/* The " || "-separated segment of contents starting with prefix, copied into buf. */
static char *segment(const char *contents, const char *prefix, char *buf, size_t cap)
{
	const char *p = contents;
	while (p && *p) {
		const char *end = strstr(p, " || ");
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (strncmp(p, prefix, strlen(prefix)) == 0 && n < cap) {
			memcpy(buf, p, n);
			buf[n] = '\0';
			return buf;
		}
		p = end ? end + 4 : NULL;
	}
	return NULL;
}

static void seg_fp(const char *seg, char out[65])
{
	const char *p = strstr(seg, "SHA256 ");
	assert_non_null(p);
	p += 7;
	for (int i = 0; i < 32; i++) {
		out[2 * i] = (char)(p[3 * i] >= 'A' && p[3 * i] <= 'F' ? p[3 * i] - 'A' + 'a' : p[3 * i]);
		out[2 * i + 1] = (char)(p[3 * i + 1] >= 'A' && p[3 * i + 1] <= 'F' ? p[3 * i + 1] - 'A' + 'a' : p[3 * i + 1]);
	}
	out[64] = '\0';
}

/* "notAfter Aug 18 19:24:30 2017 GMT" as RFC 3339 with microseconds. */
static void seg_not_after(const char *seg, char out[40])
{
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	const char *p = strstr(seg, "notAfter ");
	assert_non_null(p);
	char m[4] = {0};
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	assert_int_equal(sscanf(p + 9, "%3s %d %d:%d:%d %d", m, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
				&tm.tm_year),
			 6);
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strcmp(m, mon[i]) == 0)
			tm.tm_mon = i;
	assert_true(tm.tm_mon >= 0);
	tm.tm_year -= 1900;
	rfc3339(out, &tm);
}

/* The manifest's emails of a segment as "a, b" ("" for none). */
static void seg_emails(const char *seg, char *out, size_t cap)
{
	const char *p = strstr(seg, "emails: ");
	assert_non_null(p);
	snprintf(out, cap, "%s", p + 8);
	char *bar = strstr(out, " |");
	if (bar)
		*bar = '\0';
	if (strcmp(out, "none") == 0)
		out[0] = '\0';
}

static void line_emails(json_t *line, char *out, size_t cap)
{
	json_t *a = json_object_get(line, "emails");
	assert_true(json_is_array(a));
	out[0] = '\0';
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? ", " : "", json_string_value(v));
}

/* notBefore of the certificate `cert export` gives for fp, formatted like the CLI's times. */
static void exported_not_before(fx *f, const char *fp, char out[40])
{
	tu_run r;
	tu_cli(&r, f->dir, "cert", "export", fp, END);
	assert_int_equal(r.exit_code, 0);
	BIO *b = BIO_new_mem_buf(r.out, (int)r.out_len);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	struct tm tm;
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm), 1);
	rfc3339(out, &tm);
	char got[65];
	cert_fp(x, got);
	assert_string_equal(got, fp);
	X509_free(x);
	BIO_free(b);
	tu_run_free(&r);
}

/* The line of lines whose fingerprint is fp. */
static json_t *line_for(json_t *lines, const char *fp)
{
	size_t i;
	json_t *v;
	json_array_foreach(lines, i, v)
		if (strcmp(jstr(v, "fingerprint"), fp) == 0)
			return v;
	return NULL;
}

static void check_segment(fx *f, json_t *lines, const char *seg, const char *file)
{
	char fp[65], na[40], nb[40], want[512], got[512];
	seg_fp(seg, fp);
	json_t *line = line_for(lines, fp);
	if (line == NULL)
		fail_msg("%s: no line for %s", file, fp);
	assert_keys(line, UPLOAD_KEYS);
	seg_not_after(seg, na);
	if (strcmp(jstr(line, "not_after"), na) != 0)
		fail_msg("%s: not_after %s, manifest says %s", file, jstr(line, "not_after"), na);
	exported_not_before(f, fp, nb);
	if (strcmp(jstr(line, "not_before"), nb) != 0)
		fail_msg("%s: not_before %s, the certificate says %s", file, jstr(line, "not_before"), nb);
	assert_true(strcmp(nb, na) < 0);
	seg_emails(seg, want, sizeof(want));
	line_emails(line, got, sizeof(got));
	if (strcmp(want, got) != 0)
		fail_msg("%s: emails '%s', manifest says '%s'", file, got, want);
}

static const char *refusal_text(const char *reject)
{
	if (strstr(reject, "unsupported"))
		return "PBMAC1";
	if (strstr(reject, "malformed"))
		return "corrupt";
	if (strstr(reject, "does not match"))
		return "does not match";
	if (strstr(reject, "hostile"))
		return "iteration count";
	fail_msg("unknown should_reject text: %s", reject);
	return NULL;
}

/* Every manifest file, each into a fresh ledger. */
static void test_manifest_uploads(void **state)
{
	(void)state;
	size_t accepted = 0, refused = 0;
	for (size_t i = 0; i < g_nrows; i++) {
		const mrow *m = &g_rows[i];
		fx f;
		tu_run r;
		char before[65], buf[2048];
		new_ledger(&f);
		digest(&f, before);
		char *path = data_file(m->file);
		upload(&f, &r, path, strcmp(m->kind, "p12") == 0 ? m->password : NULL);
		free(path);
		const char *first = segment(m->contents, "leaf:", buf, sizeof(buf));
		if (first == NULL)
			first = segment(m->contents, "cert[0]:", buf, sizeof(buf));
		if (first == NULL)
			first = segment(m->contents, "cert:", buf, sizeof(buf));
		if (first == NULL)
			first = segment(m->contents, "signer:", buf, sizeof(buf));
		if (strncmp(m->reject, "YES", 3) == 0) {
			expect_refusal(&f, &r, 1, refusal_text(m->reject), before);
			refused++;
		} else if (first == NULL) {
			/* An EnvelopedData message and a lone private key: nothing to upload. */
			expect_refusal(&f, &r, 1, "holds no certificate", before);
			refused++;
		} else {
			if (r.exit_code != 0)
				fail_msg("%s: exit %d: %s", m->file, r.exit_code, r.err);
			json_t *lines = json_lines(r.out);
			bool key = strstr(m->contents, "keys=1") != NULL;
			if (key) {
				/* the key's certificate only, with the key, the rest as its chain */
				assert_int_equal(json_array_size(lines), 1);
				json_t *l0 = json_array_get(lines, 0);
				assert_true(json_is_true(json_object_get(l0, "has_private_key")));
				assert_string_equal(jstr(l0, "kind"), "p12");
			} else {
				size_t want = 0;
				char b2[2048], pfx[16];
				for (int k = 0; k < 16; k++) {
					snprintf(pfx, sizeof(pfx), "cert[%d]:", k);
					if (segment(m->contents, pfx, b2, sizeof(b2)) == NULL)
						break;
					want++;
				}
				if (want > 0)
					assert_int_equal(json_array_size(lines), want);
				else
					assert_true(json_array_size(lines) >= 1);
				size_t j;
				json_t *v;
				json_array_foreach(lines, j, v) {
					assert_false(json_is_true(json_object_get(v, "has_private_key")));
					assert_string_equal(jstr(v, "kind"), "pem");
				}
			}
			check_segment(&f, lines, first, m->file);
			for (int k = 1; k < 16 && !key; k++) {
				char b2[2048], pfx[16];
				snprintf(pfx, sizeof(pfx), "cert[%d]:", k);
				const char *s2 = segment(m->contents, pfx, b2, sizeof(b2));
				if (s2 == NULL)
					break;
				check_segment(&f, lines, s2, m->file);
			}
			json_decref(lines);
			accepted++;
		}
		tu_run_free(&r);
		drop_ledger(&f);
	}
	print_message("manifest: %zu files uploaded as described, %zu refused as expected\n", accepted, refused);
	assert_true(accepted >= 14);
	assert_true(refused >= 6);
}

/* ---- refusals ---------------------------------------------------------------------------------- */

static void test_refusals_write_nothing(void **state)
{
	(void)state;
	fx f;
	tu_run r;
	char before[65];
	new_ledger(&f);
	json_t *a = upload_ok(&f, "mimekit-rsa-smime.pfx", "no.secret");
	char mime_fp[65];
	snprintf(mime_fp, sizeof(mime_fp), "%s", jstr(json_array_get(a, 0), "fingerprint"));
	json_decref(a);
	digest(&f, before);
	char *go = data_file("go-pkcs12-ad_standalone_com_aescbc256.p12");

	/* wrong password, from every source: said as such, never "corrupt" */
	upload(&f, &r, go, "not-the-password");
	expect_refusal(&f, &r, 1, "wrong password", before);
	assert_null(strstr(r.err, "corrupt"));
	tu_run_free(&r);
	char *env[] = {"CL_TEST_PW=not-the-password", NULL};
	tu_cli_env(&r, f.dir, env, "cert", "upload", go, "--password-env", "CL_TEST_PW", END);
	expect_refusal(&f, &r, 1, "wrong password", before);
	tu_run_free(&r);
	tu_cli_stdin(&r, f.dir, "not-the-password\n", "cert", "upload", go, "--password-stdin", END);
	expect_refusal(&f, &r, 1, "wrong password", before);
	tu_run_free(&r);
	/* no source and stdin not a terminal: the empty/absent passwords are tried, then this */
	tu_cli(&r, f.dir, "cert", "upload", go, END);
	expect_refusal(&f, &r, 1, "wrong password", before);
	assert_non_null(strstr(r.err, "(give --password-file, --password-env or --password-stdin)"));
	tu_run_free(&r);
	/* a password is never an argument */
	tu_cli(&r, f.dir, "cert", "upload", go, "--password", "password", END);
	expect_refusal(&f, &r, 2, NULL, before);
	tu_run_free(&r);

	/* truncated: the first half of a good file */
	size_t n;
	uint8_t *d = tu_read_file(go, &n);
	char *half = put_file(&f, d, n / 2);
	upload(&f, &r, half, "password");
	expect_refusal(&f, &r, 1, "corrupt or truncated", before);
	tu_run_free(&r);
	/* a flipped byte inside the encrypted key bag (the MAC catches it: not "wrong password"
	 * unless the MAC itself is what changed, so only the code and nothing-written are checked) */
	d[n - 200] ^= 0x01;
	char *flipped = put_file(&f, d, n);
	upload(&f, &r, flipped, "password");
	expect_refusal(&f, &r, 1, NULL, before);
	tu_run_free(&r);
	free(d);

	/* over 1 MiB, even when the start looks like a certificate */
	size_t big = (size_t)1024 * 1024 + 1;
	char *bb = malloc(big);
	memset(bb, 'A', big);
	memcpy(bb, "-----BEGIN CERTIFICATE-----\n", 28);
	char *bigf = put_file(&f, bb, big);
	free(bb);
	upload(&f, &r, bigf, NULL);
	expect_refusal(&f, &r, 1, "larger than 1 MiB", before);
	tu_run_free(&r);

	/* not a certificate file at all; a missing file; a lone private key */
	char *junk = put_file(&f, "hello, world\n", 13);
	upload(&f, &r, junk, NULL);
	expect_refusal(&f, &r, 1, "not a certificate file", before);
	tu_run_free(&r);
	char *missing = NULL;
	assert_true(asprintf(&missing, "%s/no-such-file.p12", f.root) > 0);
	upload(&f, &r, missing, NULL);
	expect_refusal(&f, &r, 1, "no-such-file.p12", before);
	tu_run_free(&r);
	char *p8 = data_file("examples-cms-lamps-bob.decrypt.p8.pem");
	upload(&f, &r, p8, NULL);
	expect_refusal(&f, &r, 1, "holds no certificate", before);
	tu_run_free(&r);

	/* duplicate: the same P12 again, named with its existing name and fingerprint */
	char *mime = data_file("mimekit-rsa-smime.pfx");
	upload(&f, &r, mime, "no.secret");
	expect_refusal(&f, &r, 1, "already in the ledger as 'MimeKit UnitTests'", before);
	assert_non_null(strstr(r.err, mime_fp));
	tu_run_free(&r);

	/* a bad name */
	char *crt = data_file("pkits-TrustAnchorRootCertificate.crt");
	tu_cli(&r, f.dir, "cert", "upload", crt, "--name", "bad\x01name", END);
	expect_refusal(&f, &r, 1, "certificate name", before);
	tu_run_free(&r);

	/* the empty-password P12 needs no password source at all */
	json_t *e = upload_ok(&f, "boringssl-empty_password.p12", NULL);
	assert_int_equal(json_array_size(e), 1);
	json_decref(e);

	expect_verify_ok(&f);
	free(go);
	free(half);
	free(flipped);
	free(bigf);
	free(junk);
	free(missing);
	free(p8);
	free(mime);
	free(crt);
	drop_ledger(&f);
}

/* A PEM bundle: each certificate its own event; known ones skipped; all known: refused. */
static void test_bundle_duplicates(void **state)
{
	(void)state;
	fx f;
	tu_run r;
	char before[65];
	new_ledger(&f);
	/* the bundle's second certificate alone, as DER */
	char *bundle = data_file("rust-openssl-certs.pem");
	BIO *b = BIO_new_file(bundle, "r");
	X509 *x0 = PEM_read_bio_X509(b, NULL, NULL, NULL), *x1 = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x1);
	BIO_free(b);
	uint8_t *der = NULL;
	int dn = i2d_X509(x1, &der);
	char *single = put_file(&f, der, (size_t)dn);
	OPENSSL_free(der);
	char fp0[65], fp1[65];
	cert_fp(x0, fp0);
	cert_fp(x1, fp1);
	tu_cli(&r, f.dir, "--json", "cert", "upload", single, "--name", "Widgits root", END);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	/* the bundle: only the new certificate is written, the known one is reported on stderr */
	tu_cli(&r, f.dir, "--json", "cert", "upload", bundle, END);
	assert_int_equal(r.exit_code, 0);
	json_t *lines = json_lines(r.out);
	assert_int_equal(json_array_size(lines), 1);
	assert_string_equal(jstr(json_array_get(lines, 0), "fingerprint"), fp0);
	assert_string_equal(jstr(json_array_get(lines, 0), "name"), "foobar.com");
	assert_non_null(strstr(r.err, fp1));
	assert_non_null(strstr(r.err, "Widgits root"));
	json_decref(lines);
	tu_run_free(&r);
	/* again: everything known, refused naming both */
	digest(&f, before);
	tu_cli(&r, f.dir, "cert", "upload", bundle, END);
	expect_refusal(&f, &r, 1, "already in the ledger", before);
	assert_non_null(strstr(r.err, fp0));
	assert_non_null(strstr(r.err, fp1));
	assert_non_null(strstr(r.err, "Widgits root"));
	tu_run_free(&r);
	/* --name over several certificates: NAME, NAME (2) */
	fx g;
	new_ledger(&g);
	tu_cli(&r, g.dir, "--json", "cert", "upload", bundle, "--name", "Bundle", END);
	assert_int_equal(r.exit_code, 0);
	lines = json_lines(r.out);
	assert_int_equal(json_array_size(lines), 2);
	assert_string_equal(jstr(json_array_get(lines, 0), "name"), "Bundle");
	assert_string_equal(jstr(json_array_get(lines, 1), "name"), "Bundle (2)");
	json_decref(lines);
	tu_run_free(&r);
	drop_ledger(&g);
	X509_free(x0);
	X509_free(x1);
	free(bundle);
	free(single);
	expect_verify_ok(&f);
	drop_ledger(&f);
}

/* ---- passwords and secrets ------------------------------------------------------------------------ */

/* A generated EC P-256 S/MIME certificate and key in a PKCS#12 under a long password. */
static char *make_p12(fx *f, const char *pass, EVP_PKEY **key_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"Secret Tester", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, key);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "email:secret@example.org");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "emailProtection");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	PKCS12 *p12 = PKCS12_create(pass, "generated", key, x, NULL, 0, 0, 0, 0, 0);
	assert_non_null(p12);
	uint8_t *der = NULL;
	int n = i2d_PKCS12(p12, &der);
	assert_true(n > 0);
	char *path = put_file(f, der, (size_t)n);
	OPENSSL_free(der);
	PKCS12_free(p12);
	X509_free(x);
	*key_out = key;
	return path;
}

static const char GEN_PW[] = "c0rrect-h0rse-battery-staple-42";

static void test_password_sources_and_secrets(void **state)
{
	(void)state;
	fx f;
	tu_run r;
	new_ledger(&f);
	/* three P12s, one per password source */
	EVP_PKEY *gen_key = NULL;
	char *gen = make_p12(&f, GEN_PW, &gen_key);
	char *pf = pw_file(&f, GEN_PW);
	tu_cli(&r, f.dir, "--json", "cert", "upload", gen, "--password-file", pf, END);
	if (r.exit_code != 0)
		fail_msg("password file: %s", r.err);
	tu_run_free(&r);
	char *go = data_file("go-pkcs12-ad_standalone_com_aescbc256.p12");
	char *env[] = {"CL_TEST_PW=password", NULL};
	tu_cli_env(&r, f.dir, env, "--json", "cert", "upload", go, "--password-env", "CL_TEST_PW", END);
	if (r.exit_code != 0)
		fail_msg("password env: %s", r.err);
	tu_run_free(&r);
	char *mime = data_file("mimekit-rsa-smime.pfx");
	tu_cli_stdin(&r, f.dir, "no.secret\nthis line is not read\n", "--json", "cert", "upload", mime,
		     "--password-stdin", END);
	if (r.exit_code != 0)
		fail_msg("password stdin: %s", r.err);
	json_t *line = json_of(r.out);
	char mime_fp[65];
	snprintf(mime_fp, sizeof(mime_fp), "%s", jstr(line, "fingerprint"));
	json_decref(line);
	tu_run_free(&r);
	/* and a PEM certificate with its unencrypted key in the same file */
	json_t *a = upload_ok(&f, "rfc9216-alice@smime.example.sig.pem", NULL);
	assert_true(json_is_true(json_object_get(json_array_get(a, 0), "has_private_key")));
	json_decref(a);

	/* nothing secret reached any file of the ledger directory */
	static const char *const pws[] = {GEN_PW, "password", "no.secret", NULL};
	for (int i = 0; pws[i]; i++)
		if (tu_tree_contains(f.dir, pws[i], strlen(pws[i])))
			fail_msg("the password '%s' is on disk", pws[i]);
	p12_parts gop, mp;
	p12_open("go-pkcs12-ad_standalone_com_aescbc256.p12", "password", &gop);
	p12_open("mimekit-rsa-smime.pfx", "no.secret", &mp);
	assert_key_not_on_disk(f.dir, gen_key, "generated P12");
	assert_key_not_on_disk(f.dir, gop.key, "go-pkcs12");
	assert_key_not_on_disk(f.dir, mp.key, "mimekit");
	char *alice = data_file("rfc9216-alice@smime.example.sig.pem");
	BIO *b = BIO_new_file(alice, "r");
	EVP_PKEY *alice_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	assert_non_null(alice_key);
	BIO_free(b);
	assert_key_not_on_disk(f.dir, alice_key, "alice PEM");

	/* the event records the hash of the sealed blob as stored, and the chain */
	tu_run lr;
	tu_cli(&lr, f.dir, "--json", "log", END);
	assert_int_equal(lr.exit_code, 0);
	json_t *events = json_lines(lr.out);
	tu_run_free(&lr);
	size_t i, checked = 0;
	json_t *ev;
	json_array_foreach(events, i, ev) {
		if (strcmp(jstr(ev, "type"), "cert.uploaded") != 0)
			continue;
		json_t *data = json_object_get(ev, "data");
		const char *fp = jstr(data, "fingerprint");
		size_t blen;
		uint8_t *blob = keystore_blob(f.dir, fp, &blen);
		if (blob == NULL)
			fail_msg("no keystore blob for %s", fp);
		char h[65];
		sha256_hex(blob, blen, h);
		assert_string_equal(jstr(data, "key_blob_sha256"), h);
		free(blob);
		if (strcmp(fp, mime_fp) == 0)
			assert_int_equal(json_array_size(json_object_get(data, "chain")), 3);
		checked++;
	}
	assert_int_equal(checked, 4);
	json_decref(events);

	/* rotation: the old key stops opening the blobs, the new one opens them, cert test works */
	char *mk = master_path(&f, ""), *mk_new = master_path(&f, ".new");
	size_t olen;
	uint8_t *old = tu_read_file(mk, &olen);
	char *old_copy = put_file(&f, old, olen);
	chmod(old_copy, 0600);
	char gop_fp[65];
	cert_fp(gop.cert, gop_fp);
	assert_int_equal(open_blob_with_file(&f, gop_fp, mk, gop.key), CL_OK);
	/* a webhook secret is sealed under the same master key and must follow it */
	char wh_id[80];
	uint8_t wh_key[128];
	size_t wh_len = add_webhook(&f, wh_id, wh_key);
	assert_int_equal(open_wh_with_file(&f, wh_id, mk, wh_key, wh_len), CL_OK);
	tu_cli(&r, f.dir, "--json", "keys", "rotate-master", END);
	if (r.exit_code != 0)
		fail_msg("rotate-master: %s", r.err);
	json_t *rj = json_of(r.out);
	static const char *const rkeys[] = {"rewrapped", NULL};
	assert_keys(rj, rkeys);
	assert_int_equal(json_integer_value(json_object_get(rj, "rewrapped")), 5);
	json_decref(rj);
	tu_run_free(&r);
	assert_int_equal(access(mk_new, F_OK), -1);
	struct stat st;
	assert_int_equal(stat(mk, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(open_blob_with_file(&f, gop_fp, old_copy, NULL), CL_EINTEGRITY);
	assert_int_equal(open_blob_with_file(&f, mime_fp, old_copy, NULL), CL_EINTEGRITY);
	assert_int_equal(open_blob_with_file(&f, gop_fp, mk, gop.key), CL_OK);
	assert_int_equal(open_blob_with_file(&f, mime_fp, mk, mp.key), CL_OK);
	expect_cert_test(&f, gop_fp, "ok", "ok", "ok", "ok");
	expect_cert_test(&f, mime_fp, "ok", "ok", "ok", "ok");
	assert_int_equal(open_wh_with_file(&f, wh_id, old_copy, NULL, 0), CL_EINTEGRITY);
	assert_int_equal(open_wh_with_file(&f, wh_id, mk, wh_key, wh_len), CL_OK);
	/* the old master key is gone from the key directory; secrets still not on disk */
	if (tu_tree_contains(f.dir, old + 8, 32))
		fail_msg("the old master key is still on disk");
	assert_key_not_on_disk(f.dir, gop.key, "go-pkcs12 after rotation");
	expect_verify_ok(&f);

	OPENSSL_cleanse(old, olen);
	free(old);
	free(old_copy);
	free(mk);
	free(mk_new);
	EVP_PKEY_free(alice_key);
	free(alice);
	p12_close(&gop);
	p12_close(&mp);
	EVP_PKEY_free(gen_key);
	free(gen);
	free(pf);
	free(go);
	free(mime);
	drop_ledger(&f);
}

/* ---- rotation windows ------------------------------------------------------------------------------ */

/* A crash between the rotation's commit and its rename leaves master.key (old) and
 * master.key.new (the key the blobs need): everything keeps working and the next rotation
 * completes it. A master.key.new that never committed is ignored and removed. */
static void test_rotation_crash_window(void **state)
{
	(void)state;
	fx f;
	tu_run r;
	new_ledger(&f);
	json_t *a = upload_ok(&f, "go-pkcs12-ad_standalone_com_aescbc256.p12", "password");
	char go_fp[65];
	snprintf(go_fp, sizeof(go_fp), "%s", jstr(json_array_get(a, 0), "fingerprint"));
	json_decref(a);
	char *mk = master_path(&f, ""), *mk_new = master_path(&f, ".new");
	size_t olen;
	uint8_t *old = tu_read_file(mk, &olen);
	tu_cli(&r, f.dir, "keys", "rotate-master", END);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	/* the state a crash right after the commit leaves */
	tu_master_key_crash_window(mk, old, olen);
	assert_int_equal(open_blob_with_file(&f, go_fp, mk, NULL), CL_EINTEGRITY);
	expect_cert_test(&f, go_fp, "ok", "ok", "ok", "ok");
	/* an upload in the window seals under the key the keystore is wrapped under */
	a = upload_ok(&f, "mimekit-rsa-smime.pfx", "no.secret");
	char mime_fp[65];
	snprintf(mime_fp, sizeof(mime_fp), "%s", jstr(json_array_get(a, 0), "fingerprint"));
	json_decref(a);
	assert_int_equal(open_blob_with_file(&f, mime_fp, mk_new, NULL), CL_OK);
	/* so does a webhook secret added in the window (not under the key file's old key) */
	char wh_id[80];
	uint8_t wh_key[128];
	size_t wh_len = add_webhook(&f, wh_id, wh_key);
	assert_int_equal(open_wh_with_file(&f, wh_id, mk_new, wh_key, wh_len), CL_OK);
	assert_int_equal(open_wh_with_file(&f, wh_id, mk, NULL, 0), CL_EINTEGRITY);
	/* the next rotation installs the pending key, then rotates */
	tu_cli(&r, f.dir, "--json", "keys", "rotate-master", END);
	if (r.exit_code != 0)
		fail_msg("rotate-master after the crash: %s", r.err);
	assert_non_null(strstr(r.out, "\"rewrapped\":3"));
	tu_run_free(&r);
	assert_int_equal(access(mk_new, F_OK), -1);
	assert_int_equal(open_blob_with_file(&f, go_fp, mk, NULL), CL_OK);
	assert_int_equal(open_blob_with_file(&f, mime_fp, mk, NULL), CL_OK);
	assert_int_equal(open_wh_with_file(&f, wh_id, mk, wh_key, wh_len), CL_OK);
	expect_cert_test(&f, go_fp, "ok", "ok", "ok", "ok");
	expect_cert_test(&f, mime_fp, "ok", "ok", "ok", "ok");
	/* a leftover master.key.new from a rotation that never committed */
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_master_key_create(mk_new, &err), CL_OK);
	expect_cert_test(&f, go_fp, "ok", "ok", "ok", "ok");
	tu_cli(&r, f.dir, "keys", "rotate-master", END);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	assert_int_equal(access(mk_new, F_OK), -1);
	assert_int_equal(open_blob_with_file(&f, go_fp, mk, NULL), CL_OK);
	expect_cert_test(&f, mime_fp, "ok", "ok", "ok", "ok");
	expect_verify_ok(&f);
	free(old);
	free(mk);
	free(mk_new);
	drop_ledger(&f);
}

/* A rotation whose transaction fails (a damaged blob) changes nothing and removes its file. */
static void test_rotation_failure_changes_nothing(void **state)
{
	(void)state;
	fx f;
	tu_run r;
	char before[65];
	new_ledger(&f);
	json_t *a = upload_ok(&f, "go-pkcs12-ad_standalone_com_aescbc256.p12", "password");
	json_decref(a);
	a = upload_ok(&f, "boringssl-pbes2_sha256.p12", "foo");
	char bad_fp[65];
	snprintf(bad_fp, sizeof(bad_fp), "%s", jstr(json_array_get(a, 0), "fingerprint"));
	json_decref(a);
	damage_blob(f.dir, bad_fp);
	char *mk = master_path(&f, ""), *mk_new = master_path(&f, ".new");
	size_t n1, n2;
	uint8_t *k1 = tu_read_file(mk, &n1);
	digest(&f, before);
	tu_cli(&r, f.dir, "keys", "rotate-master", END);
	expect_refusal(&f, &r, 4, "does not open", before);
	assert_non_null(strstr(r.err, bad_fp));
	tu_run_free(&r);
	uint8_t *k2 = tu_read_file(mk, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(k1, k2, n1);
	assert_int_equal(access(mk_new, F_OK), -1);
	/* and cert test says the damaged key does not open (integrity, exit 4) */
	tu_cli(&r, f.dir, "cert", "test", bad_fp, END);
	assert_int_equal(r.exit_code, 4);
	tu_run_free(&r);
	free(k1);
	free(k2);
	free(mk);
	free(mk_new);
	drop_ledger(&f);
}

/* ---- test, export, rename -------------------------------------------------------------------------- */

static void test_test_export_rename(void **state)
{
	(void)state;
	fx f;
	tu_run r;
	char before[65];
	new_ledger(&f);
	json_t *a = upload_ok(&f, "mimekit-rsa-smime.pfx", "no.secret");
	char p12_fp[65];
	snprintf(p12_fp, sizeof(p12_fp), "%s", jstr(json_array_get(a, 0), "fingerprint"));
	json_decref(a);
	a = upload_ok(&f, "rust-openssl-certs.pem", NULL);
	char pub_fp[65];
	snprintf(pub_fp, sizeof(pub_fp), "%s", jstr(json_array_get(a, 0), "fingerprint"));
	json_decref(a);

	/* cert test: all four with a key; encrypt only without */
	expect_cert_test(&f, p12_fp, "ok", "ok", "ok", "ok");
	expect_cert_test(&f, pub_fp, "n/a", "n/a", "ok", "n/a");
	tu_cli(&r, f.dir, "cert", "test", p12_fp, END);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "sign     ok\nverify   ok\nencrypt  ok\ndecrypt  ok\n"));
	tu_run_free(&r);

	/* cert export: the PEM holds exactly the uploaded DER (compared with OpenSSL's reading) */
	p12_parts mp;
	p12_open("mimekit-rsa-smime.pfx", "no.secret", &mp);
	uint8_t *want = NULL;
	int wn = i2d_X509(mp.cert, &want);
	tu_cli(&r, f.dir, "cert", "export", p12_fp, END);
	assert_int_equal(r.exit_code, 0);
	BIO *b = BIO_new_mem_buf(r.out, (int)r.out_len);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	uint8_t *got = NULL;
	int gn = i2d_X509(x, &got);
	assert_int_equal(gn, wn);
	assert_memory_equal(got, want, (size_t)wn);
	char *outf = NULL;
	assert_true(asprintf(&outf, "%s/exported.pem", f.root) > 0);
	tu_run r2;
	tu_cli(&r2, f.dir, "cert", "export", p12_fp, "--out", outf, END);
	assert_int_equal(r2.exit_code, 0);
	size_t on;
	uint8_t *ob = tu_read_file(outf, &on);
	assert_int_equal(on, r.out_len);
	assert_memory_equal(ob, r.out, on);
	free(ob);
	tu_run_free(&r2);
	tu_run_free(&r);
	OPENSSL_free(got);
	OPENSSL_free(want);
	X509_free(x);
	BIO_free(b);
	p12_close(&mp);
	/* the public one too, from the PEM bundle */
	char *bundle = data_file("rust-openssl-certs.pem");
	b = BIO_new_file(bundle, "r");
	X509 *x0 = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	tu_cli(&r, f.dir, "cert", "export", pub_fp, END);
	b = BIO_new_mem_buf(r.out, (int)r.out_len);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_int_equal(X509_cmp(x, x0), 0);
	X509_free(x);
	X509_free(x0);
	BIO_free(b);
	tu_run_free(&r);
	free(bundle);

	/* rename: cert.renamed, and cert show shows it */
	char prefix[17];
	snprintf(prefix, sizeof(prefix), "%.16s", p12_fp);
	tu_cli(&r, f.dir, "--json", "cert", "rename", prefix, "Mime RSA signer", END);
	if (r.exit_code != 0)
		fail_msg("rename: %s", r.err);
	json_t *rj = json_of(r.out);
	static const char *const rkeys[] = {"seq", NULL};
	assert_keys(rj, rkeys);
	json_int_t seq = json_integer_value(json_object_get(rj, "seq"));
	json_decref(rj);
	tu_run_free(&r);
	char seqs[32];
	snprintf(seqs, sizeof(seqs), "%lld", (long long)seq);
	tu_cli(&r, f.dir, "--json", "log", "--from", seqs, END);
	json_t *ev = json_of(r.out);
	assert_string_equal(jstr(ev, "type"), "cert.renamed");
	json_t *data = json_object_get(ev, "data");
	static const char *const dkeys[] = {"fingerprint", "name", NULL};
	assert_keys(data, dkeys);
	assert_string_equal(jstr(data, "fingerprint"), p12_fp);
	assert_string_equal(jstr(data, "name"), "Mime RSA signer");
	json_decref(ev);
	tu_run_free(&r);
	tu_cli(&r, f.dir, "--json", "cert", "show", p12_fp, END);
	assert_int_equal(r.exit_code, 0);
	json_t *sj = json_of(r.out);
	assert_string_equal(jstr(sj, "name"), "Mime RSA signer");
	json_decref(sj);
	tu_run_free(&r);

	/* refusals: same name, bad name, unknown fingerprint (3), ambiguous prefix (1, listing both) */
	digest(&f, before);
	tu_cli(&r, f.dir, "cert", "rename", p12_fp, "Mime RSA signer", END);
	expect_refusal(&f, &r, 1, "already named", before);
	tu_run_free(&r);
	tu_cli(&r, f.dir, "cert", "rename", p12_fp, "", END);
	expect_refusal(&f, &r, 1, "certificate name", before);
	tu_run_free(&r);
	tu_cli(&r, f.dir, "cert", "rename", "00000000deadbeef", "x", END);
	expect_refusal(&f, &r, 3, NULL, before);
	tu_run_free(&r);
	tu_cli(&r, f.dir, "cert", "test", "00000000deadbeef", END);
	expect_refusal(&f, &r, 3, NULL, before);
	tu_run_free(&r);
	tu_cli(&r, f.dir, "cert", "export", "00000000deadbeef", END);
	expect_refusal(&f, &r, 3, NULL, before);
	tu_run_free(&r);
	/* a second certificate whose fingerprint shares the first 8 hex digits (recorded through the
	 * library: real certificates with a common 32-bit prefix cannot be made) */
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_ledger_open(&l, f.dir, NULL, &err), CL_OK);
	uint8_t forced[32], out_fp[32];
	for (int i = 0; i < 32; i++)
		sscanf(p12_fp + 2 * i, "%2hhx", &forced[i]);
	forced[31] ^= 0xff;
	tu_cert_spec spec = {"twin", {"twin@example.org", NULL}, tu_time(1, 1, 0, 0, 0), tu_time(12, 1, 0, 0, 0),
			     false, forced};
	tu_upload_fake(l, &spec, out_fp);
	cl_ledger_free(l);
	char twin[65];
	hex_of(twin, forced);
	digest(&f, before);
	snprintf(prefix, sizeof(prefix), "%.8s", p12_fp);
	tu_cli(&r, f.dir, "cert", "rename", prefix, "x", END);
	expect_refusal(&f, &r, 1, NULL, before);
	assert_non_null(strstr(r.err, p12_fp));
	assert_non_null(strstr(r.err, twin));
	tu_run_free(&r);
	tu_cli(&r, f.dir, "cert", "test", prefix, END);
	expect_refusal(&f, &r, 1, NULL, before);
	tu_run_free(&r);
	/* the colon form `openssl x509 -fingerprint -sha256` prints */
	char colon[100] = "";
	for (int i = 0; i < 32; i++) {
		char h[4];
		snprintf(h, sizeof(h), "%c%c%s", p12_fp[2 * i] >= 'a' ? p12_fp[2 * i] - 32 : p12_fp[2 * i],
			 p12_fp[2 * i + 1] >= 'a' ? p12_fp[2 * i + 1] - 32 : p12_fp[2 * i + 1], i < 31 ? ":" : "");
		strcat(colon, h);
	}
	expect_cert_test(&f, colon, "ok", "ok", "ok", "ok");

	expect_verify_ok(&f);
	free(outf);
	drop_ledger(&f);
}

/* The held-out vectors, uploaded as a user would without a password: accepted or refused with
 * exit 1 and one message line; never a crash or an internal error. */
static void test_held_out_never_crash(void **state)
{
	(void)state;
	const char *src = getenv("CL_SOURCE_DIR");
	char dirp[700];
	snprintf(dirp, sizeof(dirp), "%s/../shared/vectors/held-out", src ? src : ".");
	FILE *ls = NULL;
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "ls '%s' 2>/dev/null", dirp);
	ls = popen(cmd, "r");
	assert_non_null(ls);
	fx f;
	new_ledger(&f);
	char name[512];
	size_t n = 0, ok = 0;
	while (fgets(name, sizeof(name), ls) != NULL) {
		name[strcspn(name, "\n")] = '\0';
		char path[1300];
		snprintf(path, sizeof(path), "%s/%s", dirp, name);
		tu_run r;
		tu_cli(&r, f.dir, "--json", "cert", "upload", path, END);
		if (r.exit_code != 0 && r.exit_code != 1)
			fail_msg("%s: exit %d: %s", name, r.exit_code, r.err);
		if (r.exit_code == 1 && (strncmp(r.err, "certledger: ", 12) != 0 || r.out_len != 0))
			fail_msg("%s: refusal without one message line: %s", name, r.err);
		ok += r.exit_code == 0;
		n++;
		tu_run_free(&r);
	}
	pclose(ls);
	print_message("held-out: %zu files, %zu accepted without a password, the rest refused cleanly\n", n, ok);
	if (n > 0)
		expect_verify_ok(&f);
	drop_ledger(&f);
}

static OSSL_PROVIDER *g_legacy, *g_default;

static int group_setup(void **state)
{
	(void)state;
	/* OpenSSL's own reading of legacy (RC2-40) PKCS#12 files in this test process */
	g_legacy = OSSL_PROVIDER_load(NULL, "legacy");
	g_default = OSSL_PROVIDER_load(NULL, "default");
	load_manifest();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(g_manifest);
	OSSL_PROVIDER_unload(g_legacy);
	OSSL_PROVIDER_unload(g_default);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_uploads),
		cmocka_unit_test(test_refusals_write_nothing),
		cmocka_unit_test(test_bundle_duplicates),
		cmocka_unit_test(test_password_sources_and_secrets),
		cmocka_unit_test(test_rotation_crash_window),
		cmocka_unit_test(test_rotation_failure_changes_nothing),
		cmocka_unit_test(test_test_export_rename),
		cmocka_unit_test(test_held_out_never_crash),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
