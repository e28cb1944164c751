/* test_import.c - `import FILE.jsonl` (ingest/import.c) through the library and the CLI: every
 * op, batches (a refused line in batch k leaves batches 1..k-1 and names the line; nothing of
 * batch k is written), --dry-run (validates across batches, writes nothing), malformed lines,
 * rebuild giving byte-identical read models after an import, and a large import (100,000 ops by
 * default; CL_IMPORT_TEST_OPS overrides) that is then verified. */
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certledger/certledger.h"
#include "ledger/append.h"
#include "projections/certs.h"
#include "testutil.h"
#include "tu_certs.h"

#define NOARG ((const char *)NULL)
#define DAY INT64_C(86400000000)

typedef struct fx {
	char *root;
	char dir[600];
	char file[700];
	cl_ledger *l;
	int64_t now;
	uint8_t (*fp)[32];
	char (*hex)[65];
	size_t ncerts;
} fx;

static void chk(cl_ledger *l, cl_err rc)
{
	if (rc != CL_OK)
		fail_msg("%s", cl_ledger_error(l));
}

static void open_ledger(fx *f)
{
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	o.clock = tu_clock;
	o.clock_ctx = &f->now;
	if (cl_ledger_open(&f->l, f->dir, &o, &err) != CL_OK)
		fail_msg("open: %s", err.msg);
}

static void close_ledger(fx *f)
{
	cl_ledger_free(f->l);
	f->l = NULL;
}

typedef struct many_ctx {
	fx *f;
	size_t from, to;
} many_ctx;

/* cert.uploaded for certificate i: kind p12 with a key when i is even, public-only when odd;
 * its address is u<i>@corp.example (fake DER: plausible fields, random bytes). */
static cl_err many_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	many_ctx *m = arg;
	cl_buf b = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_actor who = cl_wtxn__actor(t);
	cl_err rc = CL_OK;
	for (size_t i = m->from; i < m->to && rc == CL_OK; i++) {
		char email[64], name[32];
		snprintf(email, sizeof(email), "u%zu@corp.example", i);
		snprintf(name, sizeof(name), "cert %zu", i);
		char *emails[] = {email};
		uint8_t der[64];
		memset(der, (int)(i & 0xff), sizeof(der));
		cl_cert_uploaded c;
		memset(&c, 0, sizeof(c));
		memcpy(c.fingerprint, m->f->fp[i], 32);
		c.name = name;
		c.kind = i % 2 == 0 ? "p12" : "pem";
		c.has_private_key = i % 2 == 0;
		c.subject = c.issuer = "CN=test";
		c.serial = "01";
		c.not_before = m->f->now - 10 * DAY;
		c.not_after = m->f->now + 300 * DAY;
		c.emails = emails;
		c.nemails = 1;
		c.key_type = "ec";
		c.key_bits = 256;
		c.sig_hash = "sha256";
		c.smime_ok = true;
		c.der = der;
		c.der_len = sizeof(der);
		rc = cl_cert_uploaded_encode(&b, &c);
		if (rc == CL_OK)
			rc = cl_wtxn_append(t, &who, "cert.uploaded", cl_buf_view(&b), NULL, err);
	}
	cl_buf_free(&b);
	return rc;
}

static void certs(fx *f, size_t n)
{
	f->ncerts = n;
	f->fp = calloc(n, 32);
	f->hex = calloc(n, 65);
	for (size_t i = 0; i < n; i++) {
		uint8_t seed[16];
		memcpy(seed, &i, sizeof(i));
		memcpy(seed + 8, "certtest", 8);
		EVP_Digest(seed, sizeof(seed), f->fp[i], NULL, EVP_sha256(), NULL);
		tu_hex(f->hex[i], f->fp[i]);
	}
	for (size_t from = 0; from < n; from += 5000) {
		many_ctx m = {f, from, from + 5000 < n ? from + 5000 : n};
		cl_error err = CL_ERROR_INIT;
		if (cl_ledger__write(f->l, many_cb, &m, &err) != CL_OK)
			fail_msg("uploads: %s", err.msg);
	}
}

static int setup_n(void **state, size_t ncerts)
{
	fx *f = calloc(1, sizeof(*f));
	f->root = tu_mkdtemp("import");
	snprintf(f->dir, sizeof(f->dir), "%s/l", f->root);
	snprintf(f->file, sizeof(f->file), "%s/ops.jsonl", f->root);
	cl_init_opts io = CL_INIT_OPTS_INIT;
	const char *domains[] = {"corp.example", NULL};
	io.org_domains = domains;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	o.clock = tu_clock;
	o.clock_ctx = &f->now;
	f->now = tu_time(3, 1, 0, 0, 0);
	if (cl_ledger_init(&f->l, f->dir, &io, &o, &err) != CL_OK)
		fail_msg("init: %s", err.msg);
	certs(f, ncerts);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_n(state, 64);
}

static int teardown(void **state)
{
	fx *f = *state;
	cl_ledger_free(f->l);
	tu_rmrf(f->root);
	free(f->root);
	free(f->fp);
	free(f->hex);
	free(f);
	return 0;
}

/* A growing text buffer for JSONL files. */
typedef struct text {
	char *p;
	size_t n, cap;
	unsigned lines;
} text;

static void addf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(t->p ? t->p + t->n : NULL, t->p ? t->cap - t->n : 0, fmt, ap);
		va_end(ap);
		if (t->p && (size_t)k < t->cap - t->n) {
			t->n += (size_t)k;
			break;
		}
		t->cap = (t->cap + (size_t)k + 1) * 2;
		t->p = realloc(t->p, t->cap);
	}
	for (const char *c = t->p + t->n; c > t->p && c[-1] == '\n'; c--) {
		t->lines++;
		break;
	}
}

static void save(fx *f, text *t)
{
	tu_write_file(f->file, t->p ? t->p : "", t->n);
	free(t->p);
	memset(t, 0, sizeof(*t));
}

static void test_every_op_then_rebuild(void **state)
{
	fx *f = *state;
	text t = {0};
	addf(&t, "{\"op\":\"account.create\",\"email\":\"u0@corp.example\",\"name\":\"User Zero\"}\n");
	addf(&t, "\n   \n"); /* blank lines are skipped */
	addf(&t, "{\"op\":\"account.create\",\"email\":\"u1@CORP.example\",\"kind\":\"external\"}\n");
	addf(&t, "{\"op\":\"account.create\",\"email\":\"u2@partner.example\",\"kind\":null}\n");
	addf(&t, "{\"op\":\"link\",\"email\":\"u0@corp.example\",\"fingerprint\":\"%s\"}\n", f->hex[0]);
	addf(&t, "{\"op\":\"link\",\"email\":\"u0@corp.example\",\"fingerprint\":\"%.12s\"}\n", f->hex[2]);
	addf(&t, "{\"op\":\"primary.set\",\"email\":\"u0@corp.example\",\"fingerprint\":\"%s\"}\n", f->hex[0]);
	addf(&t, "{\"op\":\"primary.set\",\"email\":\"u0@corp.example\",\"fingerprint\":\"%s\",\"force\":true}\n", f->hex[2]);
	addf(&t, "{\"op\":\"link\",\"email\":\"u1@corp.example\",\"fingerprint\":\"%s\"}\n", f->hex[1]);
	addf(&t, "{\"op\":\"primary.set\",\"email\":\"u1@corp.example\",\"fingerprint\":\"%s\"}\n", f->hex[1]);
	addf(&t, "{\"op\":\"unlink\",\"email\":\"u1@corp.example\",\"fingerprint\":\"%s\",\"reason\":\"moved\"}\n", f->hex[1]);
	addf(&t, "{\"op\":\"primary.clear\",\"email\":\"u0@corp.example\"}\n");
	addf(&t, "{\"op\":\"unlink\",\"email\":\"u0@corp.example\",\"fingerprint\":\"%s\"}", f->hex[0]); /* no final newline */
	save(f, &t);
	cl_import_opts o = CL_IMPORT_OPTS_INIT;
	o.batch = 3;
	cl_import_result r;
	chk(f->l, cl_import_jsonl(f->l, f->file, &o, &r));
	assert_int_equal(r.applied, 12);
	assert_int_equal(r.events, 13); /* the unlink of u1's primary also cleared it */
	assert_int_equal(r.refused_line, 0);
	assert_int_equal(r.lines, 14);
	cl_account a;
	chk(f->l, cl_proj_account_get(f->l, "u0@corp.example", &a));
	assert_string_equal(a.kind, "internal");
	assert_string_equal(a.name, "User Zero");
	assert_int_equal(a.ncerts, 1);
	assert_memory_equal(a.certs[0], f->fp[2], 32);
	assert_false(a.has_primary);
	cl_account_free(&a);
	chk(f->l, cl_proj_account_get(f->l, "u1@corp.example", &a));
	assert_string_equal(a.kind, "external");
	assert_int_equal(a.ncerts, 0);
	assert_false(a.has_primary);
	cl_account_free(&a);
	chk(f->l, cl_proj_account_get(f->l, "u2@partner.example", &a));
	assert_string_equal(a.kind, "external");
	cl_account_free(&a);
	/* rebuild after an import: byte-identical */
	close_ledger(f);
	char before[65], after[65];
	tu_ledger_digest_prefix(f->dir, "p_", before);
	open_ledger(f);
	cl_rebuild_result rr;
	chk(f->l, cl_proj_rebuild(f->l, NULL, NULL, &rr));
	close_ledger(f);
	tu_ledger_digest_prefix(f->dir, "p_", after);
	assert_string_equal(before, after);
	open_ledger(f);
}

static void test_refused_line_keeps_earlier_batches(void **state)
{
	fx *f = *state;
	text t = {0};
	for (int i = 1; i <= 1000; i++) {
		if (i == 550)
			addf(&t, "{\"op\":\"link\",\"email\":\"nobody@corp.example\",\"fingerprint\":\"%s\"}\n", f->hex[0]);
		else
			addf(&t, "{\"op\":\"account.create\",\"email\":\"line%d@corp.example\"}\n", i);
	}
	save(f, &t);
	cl_ledger_info before;
	chk(f->l, cl_ledger_get_info(f->l, &before));
	cl_import_opts o = CL_IMPORT_OPTS_INIT;
	o.batch = 100;
	cl_import_result r;
	assert_int_equal(cl_import_jsonl(f->l, f->file, &o, &r), CL_EREFUSED);
	assert_int_equal(r.refused_line, 550);
	assert_int_equal(r.applied, 500);
	assert_int_equal(r.events, 500);
	assert_non_null(strstr(cl_ledger_error(f->l), "line 550"));
	assert_non_null(strstr(cl_ledger_error(f->l), "nobody@corp.example"));
	cl_ledger_info after;
	chk(f->l, cl_ledger_get_info(f->l, &after));
	assert_int_equal(after.head_seq, before.head_seq + 500);
	cl_account a;
	chk(f->l, cl_proj_account_get(f->l, "line500@corp.example", &a));
	cl_account_free(&a);
	assert_int_equal(cl_proj_account_get(f->l, "line501@corp.example", &a), CL_ENOTFOUND);
	assert_int_equal(cl_proj_account_get(f->l, "line549@corp.example", &a), CL_ENOTFOUND);
	assert_int_equal(cl_proj_account_get(f->l, "line551@corp.example", &a), CL_ENOTFOUND);
	/* a refusal in the first batch writes nothing at all */
	t = (text){0};
	addf(&t, "{\"op\":\"account.create\",\"email\":\"first@corp.example\"}\n");
	addf(&t, "{\"op\":\"account.create\",\"email\":\"line1@corp.example\"}\n"); /* exists */
	save(f, &t);
	close_ledger(f);
	char d1[65], d2[65];
	tu_ledger_digest(f->dir, d1);
	open_ledger(f);
	assert_int_equal(cl_import_jsonl(f->l, f->file, &o, &r), CL_EREFUSED);
	assert_int_equal(r.refused_line, 2);
	assert_int_equal(r.applied, 0);
	close_ledger(f);
	tu_ledger_digest(f->dir, d2);
	assert_string_equal(d1, d2);
	open_ledger(f);
}

static void test_dry_run_writes_nothing(void **state)
{
	fx *f = *state;
	text t = {0};
	/* later batches depend on earlier ones: a dry run must see their effects */
	for (int i = 0; i < 40; i++)
		addf(&t, "{\"op\":\"account.create\",\"email\":\"u%d@corp.example\"}\n", i);
	for (int i = 0; i < 40; i++)
		addf(&t, "{\"op\":\"link\",\"email\":\"u%d@corp.example\",\"fingerprint\":\"%s\"}\n", i, f->hex[i]);
	for (int i = 0; i < 40; i += 2)
		addf(&t, "{\"op\":\"primary.set\",\"email\":\"u%d@corp.example\",\"fingerprint\":\"%s\"}\n", i, f->hex[i]);
	save(f, &t);
	close_ledger(f);
	char d1[65], d2[65];
	tu_ledger_digest(f->dir, d1);
	open_ledger(f);
	cl_import_opts o = CL_IMPORT_OPTS_INIT;
	o.batch = 7;
	o.dry_run = true;
	cl_import_result r;
	chk(f->l, cl_import_jsonl(f->l, f->file, &o, &r));
	assert_int_equal(r.applied, 100);
	assert_int_equal(r.events, 100);
	assert_int_equal(r.refused_line, 0);
	close_ledger(f);
	tu_ledger_digest(f->dir, d2);
	assert_string_equal(d1, d2);
	open_ledger(f);
	/* an odd certificate is public-only: an internal account refuses it as primary, line 98 */
	t = (text){0};
	for (int i = 0; i < 40; i++)
		addf(&t, "{\"op\":\"account.create\",\"email\":\"u%d@corp.example\"}\n", i);
	for (int i = 0; i < 40; i++)
		addf(&t, "{\"op\":\"link\",\"email\":\"u%d@corp.example\",\"fingerprint\":\"%s\"}\n", i, f->hex[i]);
	for (int i = 0; i < 17; i++)
		addf(&t, "{\"op\":\"primary.set\",\"email\":\"u%d@corp.example\",\"fingerprint\":\"%s\"}\n", i, f->hex[i]);
	save(f, &t);
	o.batch = 10;
	assert_int_equal(cl_import_jsonl(f->l, f->file, &o, &r), CL_EREFUSED);
	assert_int_equal(r.refused_line, 82); /* u1's primary, the 2nd primary.set */
	assert_int_equal(r.applied, 80);       /* what a real run would have kept */
	assert_int_equal(r.events, 80);
	assert_non_null(strstr(cl_ledger_error(f->l), "line 82"));
	assert_non_null(strstr(cl_ledger_error(f->l), "private key"));
	close_ledger(f);
	tu_ledger_digest(f->dir, d2);
	assert_string_equal(d1, d2);
	open_ledger(f);
	/* and a real run of the same file stops at the same line, keeping 8 batches */
	o.dry_run = false;
	assert_int_equal(cl_import_jsonl(f->l, f->file, &o, &r), CL_EREFUSED);
	assert_int_equal(r.refused_line, 82);
	assert_int_equal(r.applied, 80);
}

static void test_malformed_lines(void **state)
{
	fx *f = *state;
	static const char *bad[][2] = {
		{"{\"op\":\"account.create\",\"email\":\"x@corp.example\"", "not valid JSON"},
		{"[1,2]", "not a JSON object"},
		{"{\"email\":\"x@corp.example\"}", "'op' is missing"},
		{"{\"op\":\"account.delete\",\"email\":\"x@corp.example\"}", "unknown op"},
		{"{\"op\":\"account.create\",\"email\":\"x@corp.example\",\"colour\":\"red\"}", "unknown key 'colour'"},
		{"{\"op\":\"account.create\",\"email\":7}", "'email' must be a string"},
		{"{\"op\":\"account.create\",\"email\":\"x@corp.example\",\"kind\":\"robot\"}", "kind must be"},
		{"{\"op\":\"account.create\",\"email\":\"x@corp.example\",\"email\":\"y@corp.example\"}", "duplicate"},
		{"{\"op\":\"link\",\"email\":\"x@corp.example\"}", "'fingerprint' is missing"},
		{"{\"op\":\"primary.set\",\"email\":\"x@corp.example\",\"fingerprint\":\"00000000\",\"force\":1}", "'force'"},
		{"{\"op\":\"primary.clear\",\"email\":\"x@corp.example\",\"reason\":\"r\"}", "unknown key 'reason'"},
		{"{\"op\":\"cert.upload\",\"pem\":\"-----BEGIN CERTIFICATE-----\"}", "pem"},
		{"{\"op\":\"cert.upload\",\"der_b64\":\"***\"}", "der_b64 is not valid base64"},
		{"{\"op\":\"cert.upload\",\"der_b64\":\"AAAA\",\"pem\":\"x\"}", "only one of"},
		{"{\"op\":\"cert.upload\",\"name\":\"n\"}", "needs one of"},
		{"{\"op\":\"account.create\",\"email\":\"no-at-sign\"}", "not a valid email"},
	};
	close_ledger(f);
	char d1[65], d2[65];
	tu_ledger_digest(f->dir, d1);
	open_ledger(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text t = {0};
		addf(&t, "{\"op\":\"account.create\",\"email\":\"ok%zu@corp.example\"}\n", i);
		addf(&t, "%s\n", bad[i][0]);
		save(f, &t);
		cl_import_result r;
		assert_int_equal(cl_import_jsonl(f->l, f->file, NULL, &r), CL_EREFUSED);
		assert_int_equal(r.refused_line, 2);
		assert_int_equal(r.applied, 0);
		const char *msg = cl_ledger_error(f->l);
		if (strncmp(msg, "line 2: ", 8) != 0 || strstr(msg, bad[i][1]) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", bad[i][0], msg, bad[i][1]);
	}
	cl_import_result r;
	assert_int_equal(cl_import_jsonl(f->l, "/nonexistent/ops.jsonl", NULL, &r), CL_ENOTFOUND);
	close_ledger(f);
	tu_ledger_digest(f->dir, d2);
	assert_string_equal(d1, d2);
	open_ledger(f);
}

static void test_cli(void **state)
{
	fx *f = *state;
	close_ledger(f);
	text t = {0};
	addf(&t, "{\"op\":\"account.create\",\"email\":\"c1@corp.example\"}\n");
	addf(&t, "{\"op\":\"link\",\"email\":\"c1@corp.example\",\"fingerprint\":\"%s\"}\n", f->hex[4]);
	save(f, &t);
	char d1[65], d2[65];
	tu_ledger_digest(f->dir, d1);
	tu_run r;
	tu_cli(&r, f->dir, "--json", "import", f->file, "--dry-run", NOARG);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "{\"applied\":2,\"events\":2,\"refused_line\":null,\"dry_run\":true}\n");
	tu_run_free(&r);
	tu_ledger_digest(f->dir, d2);
	assert_string_equal(d1, d2);
	tu_cli(&r, f->dir, "--json", "import", f->file, "--batch", "1", NOARG);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "{\"applied\":2,\"events\":2,\"refused_line\":null}\n");
	tu_run_free(&r);
	/* the same file again: line 1 is refused (the account exists), exit 1 */
	tu_ledger_digest(f->dir, d1);
	tu_cli(&r, f->dir, "--json", "import", f->file, NOARG);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "{\"applied\":0,\"events\":0,\"refused_line\":1}\n");
	assert_non_null(strstr(r.err, "certledger: line 1: account c1@corp.example exists already"));
	tu_run_free(&r);
	tu_ledger_digest(f->dir, d2);
	assert_string_equal(d1, d2);
	tu_cli(&r, f->dir, "import", f->file, "--batch", "x", NOARG);
	assert_int_equal(r.exit_code, 2);
	tu_run_free(&r);
	tu_cli(&r, f->dir, "import", "/nonexistent.jsonl", NOARG);
	assert_int_equal(r.exit_code, 3);
	tu_run_free(&r);
	char pw[700];
	snprintf(pw, sizeof(pw), "%s/pw", f->root);
	tu_write_file(pw, "secret\n", 7);
	t = (text){0};
	addf(&t, "{\"op\":\"account.create\",\"email\":\"c2@corp.example\"}\n");
	save(f, &t);
	tu_cli(&r, f->dir, "import", f->file, "--password-file", pw, NOARG);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "imported 1 ops (1 events)"));
	tu_run_free(&r);
	open_ledger(f);
}

/* ---- cert.upload ---- */

/* A self-signed EC certificate for email, as PEM text, DER and a PKCS#12 under password. */
typedef struct made {
	char *pem;
	uint8_t *der;
	int der_len;
	uint8_t *p12;
	int p12_len;
	char fp[65];
} made;

static void make_cert(made *m, const char *email, const char *password, int64_t now)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(now % 1000000007));
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now / 1000000 - 86400));
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now / 1000000 + 86400 * 300));
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)email, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	char san[200];
	snprintf(san, sizeof(san), "email:%s", email);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	m->der = NULL;
	m->der_len = i2d_X509(x, &m->der);
	uint8_t fp[32];
	EVP_Digest(m->der, (size_t)m->der_len, fp, NULL, EVP_sha256(), NULL);
	tu_hex(m->fp, fp);
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	char *p;
	long len = BIO_get_mem_data(b, &p);
	m->pem = strndup(p, (size_t)len);
	BIO_free(b);
	PKCS12 *p12 = PKCS12_create(password, "test", key, x, NULL, 0, 0, 0, 0, 0);
	assert_non_null(p12);
	m->p12 = NULL;
	m->p12_len = i2d_PKCS12(p12, &m->p12);
	PKCS12_free(p12);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void made_free(made *m)
{
	free(m->pem);
	OPENSSL_free(m->der);
	OPENSSL_free(m->p12);
}

static char *json_text(const char *s)
{
	json_t *j = json_string(s);
	char *out = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	return out;
}

static void test_cert_upload_ops(void **state)
{
	fx *f = *state;
	made pub, key;
	make_cert(&pub, "partner@partner.example", "unused", f->now);
	make_cert(&key, "own@corp.example", "s3cret pass", f->now);
	char *pem = json_text(pub.pem), *p12 = cl_base64_text(key.p12, (size_t)key.p12_len),
	     *der = cl_base64_text(pub.der, (size_t)pub.der_len);
	char pw[700];
	snprintf(pw, sizeof(pw), "%s/pw", f->root);
	tu_write_file(pw, "s3cret pass\n", 12);
	text t = {0};
	addf(&t, "{\"op\":\"cert.upload\",\"pem\":%s,\"name\":\"partner cert\"}\n", pem);
	addf(&t, "{\"op\":\"account.create\",\"email\":\"partner@partner.example\"}\n");
	addf(&t, "{\"op\":\"link\",\"email\":\"partner@partner.example\",\"fingerprint\":\"%s\"}\n", pub.fp);
	addf(&t, "{\"op\":\"primary.set\",\"email\":\"partner@partner.example\",\"fingerprint\":\"%s\"}\n", pub.fp);
	addf(&t, "{\"op\":\"cert.upload\",\"p12_b64\":\"%s\"}\n", p12);
	addf(&t, "{\"op\":\"account.create\",\"email\":\"own@corp.example\"}\n");
	addf(&t, "{\"op\":\"link\",\"email\":\"own@corp.example\",\"fingerprint\":\"%s\"}\n", key.fp);
	addf(&t, "{\"op\":\"primary.set\",\"email\":\"own@corp.example\",\"fingerprint\":\"%s\"}\n", key.fp);
	save(f, &t);
	cl_import_opts o = CL_IMPORT_OPTS_INIT;
	o.password_file = pw;
	cl_import_result r;
	chk(f->l, cl_import_jsonl(f->l, f->file, &o, &r));
	assert_int_equal(r.applied, 8);
	cl_cert_info ci;
	chk(f->l, cl_proj_cert_get(f->l, pub.fp, &ci));
	assert_string_equal(ci.name, "partner cert");
	assert_false(ci.has_private_key);
	assert_string_equal(ci.accounts[0], "partner@partner.example");
	cl_cert_info_free(&ci);
	chk(f->l, cl_proj_cert_get(f->l, key.fp, &ci));
	assert_true(ci.has_private_key);
	assert_string_equal(ci.kind, "p12");
	cl_cert_info_free(&ci);
	cl_primary_info p;
	chk(f->l, cl_proj_primary_at(f->l, "own@corp.example", CL_AT_NOW, &p));
	assert_true(p.has_primary);
	/* the same certificate again (as DER) is refused, naming the line */
	t = (text){0};
	addf(&t, "{\"op\":\"cert.upload\",\"der_b64\":\"%s\"}\n", der);
	save(f, &t);
	assert_int_equal(cl_import_jsonl(f->l, f->file, NULL, &r), CL_EREFUSED);
	assert_int_equal(r.refused_line, 1);
	assert_non_null(strstr(cl_ledger_error(f->l), pub.fp));
	/* a PKCS#12 with the wrong password is refused as such, and nothing is written */
	made other;
	make_cert(&other, "other@corp.example", "right", f->now);
	char *p12b = cl_base64_text(other.p12, (size_t)other.p12_len);
	t = (text){0};
	addf(&t, "{\"op\":\"account.create\",\"email\":\"other@corp.example\"}\n");
	addf(&t, "{\"op\":\"cert.upload\",\"p12_b64\":\"%s\"}\n", p12b);
	save(f, &t);
	cl_ledger_info before, after;
	chk(f->l, cl_ledger_get_info(f->l, &before));
	assert_int_equal(cl_import_jsonl(f->l, f->file, &o, &r), CL_EREFUSED);
	assert_int_equal(r.refused_line, 2);
	assert_non_null(strstr(cl_ledger_error(f->l), "line 2: "));
	assert_non_null(strstr(cl_ledger_error(f->l), "wrong password"));
	assert_null(strstr(cl_ledger_error(f->l), "s3cret"));
	chk(f->l, cl_ledger_get_info(f->l, &after));
	assert_int_equal(before.head_seq, after.head_seq);
	/* rebuild after imported uploads: byte-identical */
	close_ledger(f);
	char d1[65], d2[65];
	tu_ledger_digest_prefix(f->dir, "p_", d1);
	tu_run run;
	tu_cli(&run, f->dir, "rebuild", NOARG);
	assert_int_equal(run.exit_code, 0);
	tu_run_free(&run);
	tu_ledger_digest_prefix(f->dir, "p_", d2);
	assert_string_equal(d1, d2);
	open_ledger(f);
	free(pem);
	free(p12);
	free(p12b);
	free(der);
	made_free(&pub);
	made_free(&key);
	made_free(&other);
}

static int setup_large(void **state)
{
	const char *e = getenv("CL_IMPORT_TEST_OPS");
	size_t ops = e ? strtoul(e, NULL, 10) : 100000;
	if (ops < 3)
		ops = 3;
	return setup_n(state, ops / 3 + 1);
}

static void test_large_import_then_verify(void **state)
{
	fx *f = *state;
	const char *e = getenv("CL_IMPORT_TEST_OPS");
	size_t ops = e ? strtoul(e, NULL, 10) : 100000, n = 0;
	text t = {0};
	/* account i: create, link its certificate, primary set (its own address; even ones hold a key,
	 * odd ones are public-only, so odd accounts are external) */
	for (size_t i = 0; n < ops; i++) {
		addf(&t, "{\"op\":\"account.create\",\"email\":\"u%zu@corp.example\",\"kind\":\"%s\"}\n", i,
		     i % 2 ? "external" : "internal");
		if (++n == ops)
			break;
		addf(&t, "{\"op\":\"link\",\"email\":\"u%zu@corp.example\",\"fingerprint\":\"%s\"}\n", i, f->hex[i]);
		if (++n == ops)
			break;
		addf(&t, "{\"op\":\"primary.set\",\"email\":\"u%zu@corp.example\",\"fingerprint\":\"%s\"}\n", i, f->hex[i]);
		n++;
	}
	save(f, &t);
	cl_ledger_info before, after;
	chk(f->l, cl_ledger_get_info(f->l, &before));
	cl_import_result r;
	chk(f->l, cl_import_jsonl(f->l, f->file, NULL, &r));
	assert_int_equal(r.applied, ops);
	assert_int_equal(r.events, ops);
	chk(f->l, cl_ledger_get_info(f->l, &after));
	assert_int_equal(after.head_seq, before.head_seq + ops);
	cl_verify_result v;
	chk(f->l, cl_ledger_verify(f->l, 0, &v, NULL, NULL));
	if (!v.ok)
		fail_msg("verify: seq %llu: %s", (unsigned long long)v.bad_seq, v.reason);
	assert_int_equal(v.events, after.head_seq);
	/* rebuild over several chunks (CL_PROJ_REBUILD_CHUNK events each): byte-identical */
	close_ledger(f);
	char d1[65], d2[65];
	tu_ledger_digest_prefix(f->dir, "p_", d1);
	open_ledger(f);
	cl_rebuild_result rr;
	chk(f->l, cl_proj_rebuild(f->l, NULL, NULL, &rr));
	assert_int_equal(rr.events, after.head_seq);
	close_ledger(f);
	tu_ledger_digest_prefix(f->dir, "p_", d2);
	assert_string_equal(d1, d2);
	open_ledger(f);
	/* spot checks: the last complete account */
	size_t last = ops / 3 - 1;
	char email[64];
	snprintf(email, sizeof(email), "u%zu@corp.example", last);
	cl_account a;
	chk(f->l, cl_proj_account_get(f->l, email, &a));
	assert_int_equal(a.ncerts, 1);
	assert_true(a.has_primary);
	assert_memory_equal(a.primary, f->fp[last], 32);
	cl_account_free(&a);
}

/* Import lines (a "pem" may hold a private key) live in jansson's blocks: the CLI's
 * cl_secrets_wipe_on_free makes jansson free through a function that wipes first. */
static void test_json_blocks_wiped_on_free(void **state)
{
	(void)state;
	json_malloc_t m = NULL;
	json_free_t before = NULL, after = NULL;
	json_get_alloc_funcs(&m, &before);
	(void)cl_secrets_wipe_on_free(); /* OpenSSL's part may be refused this late; jansson's is not */
	json_get_alloc_funcs(&m, &after);
	assert_true(after != before);
	assert_true(after != free);
	json_t *j = json_string("-----BEGIN PRIVATE KEY-----");
	assert_non_null(j);
	json_decref(j); /* goes through the wiping free without trouble under ASan */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_op_then_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_line_keeps_earlier_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_upload_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_import_then_verify, setup_large, teardown),
		cmocka_unit_test(test_json_blocks_wiped_on_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
