/* test_projections.c - the read models of issue 4 through the library: the cert.uploaded and
 * cert.renamed codecs (order of keys, strictness), the certificate read model with its email
 * and expiry indexes, fingerprint resolution (full, colon form, prefixes, ambiguity), history by
 * account, certificate and actor, and rebuild: byte-identical read models, refusal of reads and
 * writes while a rebuild is unfinished, and a broken hash chain named by seq. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/certledger.h"
#include "ingest/account_create.h"
#include "ingest/link.h"
#include "ingest/primary.h"
#include "ledger/append.h"
#include "ledger/encoding.h"
#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"
#include "projections/certs.h"
#include "testutil.h"
#include "tu_certs.h"

typedef struct fx {
	char *root;
	char dir[600];
	cl_ledger *l;
	int64_t now;
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

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	f->root = tu_mkdtemp("proj");
	snprintf(f->dir, sizeof(f->dir), "%s/l", f->root);
	cl_init_opts io = CL_INIT_OPTS_INIT;
	const char *domains[] = {"corp.example", NULL};
	io.org_domains = domains;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	o.clock = tu_clock;
	o.clock_ctx = &f->now;
	f->now = tu_time(2, 1, 0, 0, 0);
	if (cl_ledger_init(&f->l, f->dir, &io, &o, &err) != CL_OK)
		fail_msg("init: %s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	cl_ledger_free(f->l);
	tu_rmrf(f->root);
	free(f->root);
	free(f);
	return 0;
}

/* ---- codecs ---- */

static void sample(cl_cert_uploaded *c, char **emails, char **ku, uint8_t *der, uint8_t **chain, size_t *chain_len)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 32; i++)
		c->fingerprint[i] = (uint8_t)i;
	c->name = "n";
	c->kind = "p12";
	c->has_private_key = true;
	c->has_key_blob_sha256 = true;
	memset(c->key_blob_sha256, 0xab, 32);
	c->subject = "CN=a";
	c->issuer = "CN=b";
	c->serial = "0a";
	c->not_before = -5;
	c->not_after = INT64_C(1800000000000000);
	c->emails = emails;
	c->nemails = 2;
	c->key_type = "rsa";
	c->key_bits = 3072;
	c->key_usage = ku;
	c->nkey_usage = 1;
	c->ext_key_usage = NULL;
	c->sig_hash = "sha256";
	c->smime_ok = false;
	c->smime_reasons = ku;
	c->nsmime_reasons = 1;
	c->der = der;
	c->der_len = 3;
	c->chain = chain;
	c->chain_len = chain_len;
	c->nchain = 1;
}

typedef struct raw_ctx {
	const char *type;
	cl_bytes data;
} raw_ctx;

/* Appends an event with the given data as it is, through the write path. */
static cl_err raw_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	raw_ctx *r = arg;
	cl_actor who = cl_wtxn__actor(t);
	return cl_wtxn_append(t, &who, r->type, r->data, NULL, err);
}

static void test_cert_uploaded_codec(void **state)
{
	(void)state;
	char *emails[] = {"a@x.example", "b@x.example"}, *ku[] = {"digitalSignature"};
	uint8_t der[3] = {1, 2, 3}, c0[2] = {9, 9}, *chain[] = {c0};
	size_t chain_len[] = {2};
	cl_cert_uploaded c, d;
	sample(&c, emails, ku, der, chain, chain_len);
	cl_buf b = CL_BUF_INIT(1 << 16);
	assert_int_equal(cl_cert_uploaded_encode(&b, &c), CL_OK);
	/* the keys, in the order of docs/events.md */
	static const char *order[] = {"fingerprint", "name", "kind", "has_private_key", "key_blob_sha256", "subject",
				      "issuer", "serial", "not_before", "not_after", "emails", "key_type", "key_bits",
				      "key_usage", "ext_key_usage", "sig_hash", "smime_ok", "smime_reasons", "der", "chain"};
	cl_mp_reader r;
	uint32_t n;
	cl_mp_reader_init(&r, cl_buf_view(&b));
	assert_true(cl_mp_read_map(&r, &n));
	assert_int_equal(n, 20);
	for (int i = 0; i < 20; i++) {
		assert_true(cl_mp_expect_key(&r, order[i]));
		assert_true(cl_mp_skip(&r));
	}
	assert_int_equal(cl_mp_left(&r), 0);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_cert_uploaded_decode(cl_buf_view(&b), &d, &err), CL_OK);
	assert_memory_equal(d.fingerprint, c.fingerprint, 32);
	assert_string_equal(d.kind, "p12");
	assert_true(d.has_private_key && d.has_key_blob_sha256);
	assert_int_equal(d.not_before, -5);
	assert_int_equal(d.nemails, 2);
	assert_string_equal(d.emails[1], "b@x.example");
	assert_int_equal(d.key_bits, 3072);
	assert_int_equal(d.next_key_usage, 0);
	assert_false(d.smime_ok);
	assert_int_equal(d.der_len, 3);
	assert_memory_equal(d.der, der, 3);
	assert_int_equal(d.nchain, 1);
	assert_int_equal(d.chain_len[0], 2);
	assert_true(cl_cert__has_email(d.emails, d.nemails, "A@X.EXAMPLE"));
	assert_false(cl_cert__has_email(d.emails, d.nemails, "c@x.example"));
	cl_cert_uploaded_free(&d);
	/* re-encoding gives the same bytes; nil key blob round-trips */
	cl_buf b2 = CL_BUF_INIT(1 << 16);
	c.has_key_blob_sha256 = false;
	assert_int_equal(cl_cert_uploaded_encode(&b2, &c), CL_OK);
	assert_int_equal(cl_cert_uploaded_decode(cl_buf_view(&b2), &d, &err), CL_OK);
	assert_false(d.has_key_blob_sha256);
	cl_cert_uploaded_free(&d);
	/* every truncation and one trailing byte are refused */
	for (size_t cut = 0; cut < b.len; cut++) {
		assert_int_equal(cl_cert_uploaded_decode(CL_BYTES(b.ptr, cut), &d, &err), CL_EBADINPUT);
		cl_cert_uploaded_free(&d);
	}
	assert_int_equal(cl_buf_append_byte(&b, 0xc0), CL_OK);
	assert_int_equal(cl_cert_uploaded_decode(cl_buf_view(&b), &d, &err), CL_EBADINPUT);
	cl_cert_uploaded_free(&d);
	/* a key out of order: swap "name" and "kind" values' keys by re-encoding by hand */
	cl_buf bad = CL_BUF_INIT(1 << 16);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &bad);
	cl_mp_map(&w, 20);
	cl_mp_str(&w, "fingerprint");
	cl_mp_bin(&w, c.fingerprint, 32);
	cl_mp_str(&w, "kind");
	cl_mp_str(&w, "p12");
	cl_mp_str(&w, "name");
	cl_mp_str(&w, "n");
	assert_int_equal(cl_cert_uploaded_decode(cl_buf_view(&bad), &d, &err), CL_EBADINPUT);
	cl_cert_uploaded_free(&d);
	/* a string with a NUL byte */
	cl_buf_reset(&bad);
	cl_mp_writer_init(&w, &bad);
	cl_mp_map(&w, 20);
	cl_mp_str(&w, "fingerprint");
	cl_mp_bin(&w, c.fingerprint, 32);
	cl_mp_str(&w, "name");
	cl_mp_strn(&w, "a\0b", 3);
	assert_int_equal(cl_cert_uploaded_decode(cl_buf_view(&bad), &d, &err), CL_EBADINPUT);
	cl_cert_uploaded_free(&d);
	cl_buf_free(&bad);
	cl_buf_free(&b);
	cl_buf_free(&b2);

	/* the read model refuses what the decoder refuses, also in the fields it does not keep: a
	 * subject with a NUL byte, appended through the write path, writes nothing */
	{
		char *root = tu_mkdtemp("projcodec"), dir[600];
		snprintf(dir, sizeof(dir), "%s/l", root);
		cl_ledger *l;
		cl_init_opts io = CL_INIT_OPTS_INIT;
		assert_int_equal(cl_ledger_init(&l, dir, &io, NULL, &err), CL_OK);
		cl_buf nul = CL_BUF_INIT(1 << 16);
		assert_int_equal(cl_cert_uploaded_encode(&nul, &c), CL_OK);
		uint8_t *hit = memmem(nul.ptr, nul.len, "\xa4" "CN=a", 5);
		assert_non_null(hit);
		hit[3] = 0; /* "CN\0a" */
		raw_ctx rc = {"cert.uploaded", cl_buf_view(&nul)};
		cl_ledger_info i1, i2;
		assert_int_equal(cl_ledger_get_info(l, &i1), CL_OK);
		assert_int_equal(cl_ledger__write(l, raw_cb, &rc, &err), CL_EBADINPUT);
		assert_non_null(strstr(err.msg, "NUL"));
		assert_int_equal(cl_ledger_get_info(l, &i2), CL_OK);
		assert_int_equal(i1.head_seq, i2.head_seq);
		cl_buf_free(&nul);
		cl_ledger_free(l);
		tu_rmrf(root);
		free(root);
	}

	/* cert.renamed */
	const uint8_t *fp;
	cl_bytes name;
	assert_int_equal(cl_cert_renamed_encode(&b, c.fingerprint, "new name"), CL_OK);
	assert_int_equal(cl_cert_renamed_decode(cl_buf_view(&b), &fp, &name, &err), CL_OK);
	assert_memory_equal(fp, c.fingerprint, 32);
	assert_int_equal(name.len, 8);
	assert_int_equal(cl_cert_renamed_decode(CL_BYTES(b.ptr, b.len - 1), &fp, &name, &err), CL_EBADINPUT);
	cl_buf_free(&b);
}

/* ---- certificates, indexes and fingerprints ---- */

typedef struct collect {
	char hex[16][65];
	int n;
} collect;

static int collect_cb(const cl_cert_info *c, void *ctx)
{
	collect *k = ctx;
	tu_hex(k->hex[k->n++], c->fingerprint);
	return 0;
}

static void test_certs_and_fingerprints(void **state)
{
	fx *f = *state;
	uint8_t fa[32], fb[32], fc[32], ff[32];
	char ha[65], hb[65], hc[65];
	/* two fingerprints that share their first 9 hex digits */
	uint8_t forced_a[32], forced_b[32];
	memset(forced_a, 0x11, 32);
	memset(forced_b, 0x11, 32);
	forced_a[4] = 0x1a; /* 111111111a... */
	forced_b[4] = 0x1b; /* 111111111b... */
	tu_cert_spec sa = {"A", {"a@corp.example", NULL}, tu_time(1, 1, 0, 0, 0), tu_time(3, 1, 0, 0, 0), true, forced_a};
	tu_cert_spec sb = {"B", {"b@corp.example", "B@Other.example", NULL}, tu_time(1, 1, 0, 0, 0),
			   tu_time(2, 20, 0, 0, 0), false, forced_b};
	tu_cert_spec sc = {"C", {"c@corp.example", NULL}, tu_time(1, 1, 0, 0, 0), tu_time(12, 1, 0, 0, 0), false, NULL};
	f->now = tu_time(2, 1, 1, 0, 0);
	tu_upload_fake(f->l, &sa, fa);
	tu_upload_fake(f->l, &sb, fb);
	tu_upload(f->l, &sc, fc);
	tu_hex(ha, fa);
	tu_hex(hb, fb);
	tu_hex(hc, fc);
	/* a second upload of the same fingerprint is refused by the read model itself */
	f->now = tu_time(2, 1, 1, 0, 1);
	{
		uint8_t again[32];
		cl_error err = CL_ERROR_INIT;
		cl_ledger_info i1, i2;
		chk(f->l, cl_ledger_get_info(f->l, &i1));
		assert_int_equal(tu_upload_fake_rc(f->l, &sa, again, &err), CL_EEXISTS);
		assert_non_null(strstr(err.msg, ha));
		chk(f->l, cl_ledger_get_info(f->l, &i2));
		assert_int_equal(i1.head_seq, i2.head_seq);
	}

	uint8_t out[32];
	chk(f->l, cl_proj_cert_resolve(f->l, hc, out));
	assert_memory_equal(out, fc, 32);
	/* upper case, colon form (with and without the openssl label), prefixes */
	char colon[96 + 20], upper[65];
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(hc[i] >= 'a' ? hc[i] - 32 : hc[i]);
	upper[64] = '\0';
	chk(f->l, cl_proj_cert_resolve(f->l, upper, out));
	assert_memory_equal(out, fc, 32);
	size_t at = 0;
	for (int i = 0; i < 32; i++) {
		if (i)
			colon[at++] = ':';
		colon[at++] = upper[2 * i];
		colon[at++] = upper[2 * i + 1];
	}
	colon[at] = '\0';
	chk(f->l, cl_proj_cert_resolve(f->l, colon, out));
	assert_memory_equal(out, fc, 32);
	char label[140];
	snprintf(label, sizeof(label), "sha256 Fingerprint=%s", colon);
	chk(f->l, cl_proj_cert_resolve(f->l, label, out));
	assert_memory_equal(out, fc, 32);
	char pre[12];
	memcpy(pre, hc, 8);
	pre[8] = '\0';
	chk(f->l, cl_proj_cert_resolve(f->l, pre, out));
	assert_memory_equal(out, fc, 32);
	chk(f->l, cl_proj_cert_resolve(f->l, "111111111a", out));
	assert_memory_equal(out, fa, 32);
	chk(f->l, cl_proj_cert_resolve(f->l, "111111111B", out)); /* odd prefix lengths too */
	assert_memory_equal(out, fb, 32);
	/* ambiguous: refused, listing both */
	assert_int_equal(cl_proj_cert_resolve(f->l, "111111111", out), CL_EREFUSED);
	assert_non_null(strstr(cl_ledger_error(f->l), ha));
	assert_non_null(strstr(cl_ledger_error(f->l), hb));
	assert_non_null(strstr(cl_ledger_error(f->l), "ambiguous"));
	/* too short, not hex, bad colon groups, too long, unknown */
	assert_int_equal(cl_proj_cert_resolve(f->l, "1111111", out), CL_EBADINPUT);
	assert_int_equal(cl_proj_cert_resolve(f->l, "zz111111111", out), CL_EBADINPUT);
	assert_int_equal(cl_proj_cert_resolve(f->l, "11:11:11:1", out), CL_EBADINPUT);
	assert_int_equal(cl_proj_cert_resolve(f->l, "111:11:11:11", out), CL_EBADINPUT);
	char longer[80];
	snprintf(longer, sizeof(longer), "%s00", hc);
	assert_int_equal(cl_proj_cert_resolve(f->l, longer, out), CL_EBADINPUT);
	memset(ff, 0x22, 32);
	char hf[65];
	tu_hex(hf, ff);
	assert_int_equal(cl_proj_cert_resolve(f->l, hf, out), CL_ENOTFOUND);
	assert_int_equal(cl_proj_cert_resolve(f->l, "22222222", out), CL_ENOTFOUND);

	/* cert show: metadata, name, accounts */
	cl_account_created ac;
	chk(f->l, cl_account_create(f->l, "a@corp.example", CL_KIND_AUTO, NULL, &ac));
	chk(f->l, cl_account_create(f->l, "z@partner.example", CL_KIND_AUTO, NULL, &ac));
	cl_change ch;
	chk(f->l, cl_account_link(f->l, "z@partner.example", ha, &ch));
	chk(f->l, cl_account_link(f->l, "a@corp.example", ha, &ch));
	cl_cert_info ci;
	chk(f->l, cl_proj_cert_get(f->l, "111111111a", &ci));
	assert_memory_equal(ci.fingerprint, fa, 32);
	assert_string_equal(ci.name, "A");
	assert_string_equal(ci.kind, "p12");
	assert_true(ci.has_private_key);
	assert_string_equal(ci.subject, "CN=a@corp.example");
	assert_int_equal(ci.not_after, tu_time(3, 1, 0, 0, 0));
	assert_int_equal(ci.nemails, 1);
	assert_int_equal(ci.naccounts, 2);
	assert_string_equal(ci.accounts[0], "z@partner.example"); /* link order */
	assert_string_equal(ci.accounts[1], "a@corp.example");
	assert_int_equal(ci.uploaded_at, tu_time(2, 1, 1, 0, 0));
	assert_true(ci.seq > 2);
	cl_cert_info_free(&ci);
	chk(f->l, cl_account_unlink(f->l, "z@partner.example", ha, NULL, &ch));
	chk(f->l, cl_proj_cert_get(f->l, ha, &ci));
	assert_int_equal(ci.naccounts, 1);
	assert_string_equal(ci.accounts[0], "a@corp.example");
	cl_cert_info_free(&ci);
	assert_int_equal(cl_proj_cert_get(f->l, hf, &ci), CL_ENOTFOUND);

	/* list: fingerprint order; expiring: [now, now + within), soonest first */
	collect k = {{{0}}, 0};
	chk(f->l, cl_proj_cert_each(f->l, collect_cb, &k));
	assert_int_equal(k.n, 3);
	assert_true(strcmp(k.hex[0], k.hex[1]) < 0 && strcmp(k.hex[1], k.hex[2]) < 0);
	k.n = 0;
	f->now = tu_time(2, 10, 0, 0, 0);
	chk(f->l, cl_proj_cert_expiring(f->l, 30 * INT64_C(86400000000), collect_cb, &k));
	assert_int_equal(k.n, 2);
	assert_string_equal(k.hex[0], hb); /* Feb 20th */
	assert_string_equal(k.hex[1], ha); /* Mar 1st */
	k.n = 0;
	chk(f->l, cl_proj_cert_expiring(f->l, 11 * INT64_C(86400000000), collect_cb, &k));
	assert_int_equal(k.n, 1);
	k.n = 0;
	f->now = tu_time(2, 25, 0, 0, 0); /* B has expired: not listed */
	chk(f->l, cl_proj_cert_expiring(f->l, 30 * INT64_C(86400000000), collect_cb, &k));
	assert_int_equal(k.n, 1);
	assert_string_equal(k.hex[0], ha);

	/* the email index: every address, lower-cased, points at the certificate */
	cl_ledger_free(f->l);
	f->l = NULL;
	char path[700];
	snprintf(path, sizeof(path), "%s/db", f->dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	assert_int_equal(mdb_env_open(env, path, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "p_cert_emails", 0, &dbi), 0);
	uint8_t key[64];
	memcpy(key, "b@other.example", 16); /* with its NUL */
	memcpy(key + 16, fb, 32);
	MDB_val kk = {48, key}, vv;
	assert_int_equal(mdb_get(txn, dbi, &kk, &vv), 0);
	memcpy(key, "a@corp.example", 15);
	memcpy(key + 15, fa, 32);
	kk.mv_size = 47;
	assert_int_equal(mdb_get(txn, dbi, &kk, &vv), 0);
	MDB_stat st;
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	assert_int_equal(st.ms_entries, 4);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	open_ledger(f);
}

/* An upload, its link and its primary in one transaction (as one import batch may hold them):
 * the rules read the certificate from the read model, not from the log that is only written at
 * commit. */
typedef struct same_ctx {
	cl_cert_uploaded *c;
	const char *hex;
} same_ctx;

static cl_err same_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	same_ctx *s = arg;
	cl_buf b = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_actor who = cl_wtxn__actor(t);
	cl_err rc = cl_cert_uploaded_encode(&b, s->c);
	if (rc == CL_OK)
		rc = cl_wtxn_append(t, &who, "cert.uploaded", cl_buf_view(&b), NULL, err);
	cl_buf_free(&b);
	if (rc == CL_OK)
		rc = cl_ingest__account_create(t, "same@corp.example", CL_KIND_AUTO, NULL, NULL, err);
	if (rc == CL_OK)
		rc = cl_ingest__link(t, "same@corp.example", s->hex, NULL, err);
	if (rc == CL_OK)
		rc = cl_ingest__primary_set(t, "same@corp.example", s->hex, false, NULL, err);
	return rc;
}

static void test_same_transaction(void **state)
{
	fx *f = *state;
	char *emails[] = {"same@corp.example"};
	uint8_t der[8] = {0};
	cl_cert_uploaded c;
	memset(&c, 0, sizeof(c));
	memset(c.fingerprint, 0x42, 32);
	c.name = "same";
	c.kind = "p12";
	c.has_private_key = true;
	c.subject = c.issuer = c.serial = c.key_type = c.sig_hash = "x";
	c.not_before = f->now - 1;
	c.not_after = f->now + INT64_C(86400000000);
	c.emails = emails;
	c.nemails = 1;
	c.der = der;
	c.der_len = sizeof(der);
	char hex[65];
	tu_hex(hex, c.fingerprint);
	same_ctx s = {&c, hex};
	cl_error err = CL_ERROR_INIT;
	if (cl_ledger__write(f->l, same_cb, &s, &err) != CL_OK)
		fail_msg("%s", err.msg);
	cl_primary_info p;
	chk(f->l, cl_proj_primary_at(f->l, "same@corp.example", CL_AT_NOW, &p));
	assert_true(p.has_primary);
	assert_memory_equal(p.fingerprint, c.fingerprint, 32);
	cl_cert_info ci;
	chk(f->l, cl_proj_cert_get(f->l, hex, &ci));
	assert_string_equal(ci.accounts[0], "same@corp.example");
	cl_cert_info_free(&ci);
}

/* ---- history ---- */

typedef struct seqs {
	uint64_t v[64];
	char type[64][32];
	int n;
} seqs;

static int seq_cb(const cl_event_info *ev, void *ctx)
{
	seqs *s = ctx;
	s->v[s->n] = ev->seq;
	snprintf(s->type[s->n], sizeof(s->type[0]), "%s", ev->type);
	s->n++;
	return 0;
}

static void test_history(void **state)
{
	fx *f = *state;
	uint8_t f1[32], f2[32];
	char h1[65], h2[65];
	tu_cert_spec s1 = {"one", {"h@corp.example", NULL}, tu_time(1, 1, 0, 0, 0), tu_time(12, 1, 0, 0, 0), true, NULL};
	tu_cert_spec s2 = {"two", {"h@corp.example", NULL}, tu_time(1, 1, 0, 0, 0), tu_time(12, 1, 0, 0, 0), true, NULL};
	cl_account_created ac;
	cl_change ch;
	chk(f->l, cl_account_create(f->l, "h@corp.example", CL_KIND_AUTO, NULL, &ac));
	chk(f->l, cl_account_create(f->l, "other@corp.example", CL_KIND_AUTO, NULL, &ac));
	tu_upload(f->l, &s1, f1);
	tu_upload(f->l, &s2, f2);
	tu_hex(h1, f1);
	tu_hex(h2, f2);
	chk(f->l, cl_account_link(f->l, "h@corp.example", h1, &ch));
	chk(f->l, cl_account_link(f->l, "other@corp.example", h2, &ch));
	chk(f->l, cl_primary_set(f->l, "h@corp.example", h1, false, &ch));
	chk(f->l, cl_account_unlink(f->l, "h@corp.example", h1, "gone", &ch));

	seqs s = {{0}, {{0}}, 0};
	chk(f->l, cl_proj_history_each(f->l, CL_HISTORY_ACCOUNT, "h@CORP.EXAMPLE", seq_cb, &s));
	static const char *acct[] = {"account.created", "cert.linked", "primary.set", "cert.unlinked", "primary.cleared"};
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(s.type[i], acct[i]);
	for (int i = 1; i < s.n; i++)
		assert_true(s.v[i] > s.v[i - 1]);
	assert_int_equal(s.v[4], s.v[3] + 1);
	s.n = 0;
	chk(f->l, cl_proj_history_each(f->l, CL_HISTORY_CERT, h1, seq_cb, &s));
	static const char *cert[] = {"cert.uploaded", "cert.linked", "primary.set", "cert.unlinked", "primary.cleared"};
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(s.type[i], cert[i]);
	s.n = 0;
	chk(f->l, cl_proj_history_each(f->l, CL_HISTORY_CERT, h2, seq_cb, &s));
	assert_int_equal(s.n, 2);
	s.n = 0;
	chk(f->l, cl_proj_history_each(f->l, CL_HISTORY_ACTOR, "ledger", seq_cb, &s));
	assert_int_equal(s.n, 2); /* ledger.created, admin.added */
	assert_int_equal(s.v[0], 1);
	s.n = 0;
	chk(f->l, cl_proj_history_each(f->l, CL_HISTORY_ACTOR, "owner", seq_cb, &s));
	cl_ledger_info info;
	chk(f->l, cl_ledger_get_info(f->l, &info));
	assert_int_equal((uint64_t)s.n, info.head_seq - 2);
	assert_int_equal(cl_proj_history_each(f->l, CL_HISTORY_ACCOUNT, "nobody@corp.example", seq_cb, &s), CL_ENOTFOUND);
	assert_int_equal(cl_proj_history_each(f->l, CL_HISTORY_ACTOR, "nobody", seq_cb, &s), CL_ENOTFOUND);
	assert_int_equal(cl_proj_history_each(f->l, CL_HISTORY_CERT, "33333333", seq_cb, &s), CL_ENOTFOUND);
}

/* ---- rebuild ---- */

typedef struct rename_ctx {
	const uint8_t *fp;
	const char *name;
} rename_ctx;

static cl_err rename_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	rename_ctx *c = arg;
	cl_buf b = CL_BUF_INIT(4096);
	cl_actor who = cl_wtxn__actor(t);
	cl_err rc = cl_cert_renamed_encode(&b, c->fp, c->name);
	if (rc == CL_OK)
		rc = cl_wtxn_append(t, &who, "cert.renamed", cl_buf_view(&b), NULL, err);
	cl_buf_free(&b);
	return rc;
}

/* cert.renamed, as `cert rename` will append it. */
static void rename_cert(cl_ledger *l, const uint8_t fp[32], const char *name)
{
	rename_ctx c = {fp, name};
	cl_error err = CL_ERROR_INIT;
	if (cl_ledger__write(l, rename_cb, &c, &err) != CL_OK)
		fail_msg("rename: %s", err.msg);
	char hex[65];
	tu_hex(hex, fp);
	cl_cert_info ci;
	chk(l, cl_proj_cert_get(l, hex, &ci));
	assert_string_equal(ci.name, name);
	cl_cert_info_free(&ci);
}

static void build_some(fx *f)
{
	cl_account_created ac;
	cl_change ch;
	uint8_t fp[4][32];
	char hex[4][65];
	for (int i = 0; i < 4; i++) {
		tu_cert_spec s = {"r", {"r@corp.example", NULL}, tu_time(1, 1, 0, 0, 0), tu_time(12, 1, 0, 0, 0), i != 3, NULL};
		f->now += 1000;
		tu_upload(f->l, &s, fp[i]);
		tu_hex(hex[i], fp[i]);
	}
	f->now += 1000;
	chk(f->l, cl_account_create(f->l, "r@corp.example", CL_KIND_AUTO, "R", &ac));
	chk(f->l, cl_account_create(f->l, "x@partner.example", CL_KIND_AUTO, "X", &ac));
	for (int i = 0; i < 4; i++) {
		f->now += 1000;
		chk(f->l, cl_account_link(f->l, "r@corp.example", hex[i], &ch));
	}
	chk(f->l, cl_account_link(f->l, "x@partner.example", hex[3], &ch));
	chk(f->l, cl_primary_set(f->l, "x@partner.example", hex[3], true, &ch)); /* not its address */
	assert_true(ch.forced);
	assert_int_equal(ch.overridden, CL_OVERRIDE_EMAIL);
	rename_cert(f->l, fp[1], "renamed");
	for (int i = 0; i < 3; i++) {
		f->now += 1000;
		chk(f->l, cl_primary_set(f->l, "r@corp.example", hex[i], false, &ch));
	}
	chk(f->l, cl_account_unlink(f->l, "r@corp.example", hex[2], "r", &ch));
	chk(f->l, cl_primary_set(f->l, "r@corp.example", hex[0], false, &ch));
	chk(f->l, cl_primary_clear(f->l, "r@corp.example", &ch));
}

static void progress_cb(uint64_t done, uint64_t total, void *ctx)
{
	uint64_t *last = ctx;
	assert_true(done <= total);
	assert_true(done > *last);
	*last = done;
}

static void test_rebuild_identical(void **state)
{
	fx *f = *state;
	build_some(f);
	cl_ledger_free(f->l);
	f->l = NULL;
	char before[65], after[65], all_before[65], all_after[65];
	tu_ledger_digest_prefix(f->dir, "p_", before);
	tu_ledger_digest(f->dir, all_before);
	open_ledger(f);
	cl_rebuild_result r;
	uint64_t last = 0;
	chk(f->l, cl_proj_rebuild(f->l, progress_cb, &last, &r));
	cl_ledger_info info;
	chk(f->l, cl_ledger_get_info(f->l, &info));
	assert_int_equal(r.events, info.head_seq);
	assert_int_equal(last, info.head_seq);
	cl_ledger_free(f->l);
	f->l = NULL;
	tu_ledger_digest_prefix(f->dir, "p_", after);
	tu_ledger_digest(f->dir, all_after);
	assert_string_equal(before, after);
	assert_string_equal(all_before, all_after); /* and nothing else changed either */
	/* the digest does see a difference in the read models (it is not vacuous) */
	open_ledger(f);
	cl_account_created ac;
	chk(f->l, cl_account_create(f->l, "later@corp.example", CL_KIND_AUTO, NULL, &ac));
	cl_ledger_free(f->l);
	f->l = NULL;
	tu_ledger_digest_prefix(f->dir, "p_", after);
	assert_string_not_equal(before, after);
	open_ledger(f);
}

/* Puts p_settings "rebuild" as an interrupted rebuild leaves it, and deletes one account. */
static void interrupt(const char *dir)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/db", dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi set, acc;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "p_settings", 0, &set), 0);
	assert_int_equal(mdb_dbi_open(txn, "p_accounts", 0, &acc), 0);
	uint8_t v[8] = {0};
	MDB_val k = {7, "rebuild"}, val = {8, v};
	assert_int_equal(mdb_put(txn, set, &k, &val, 0), 0);
	MDB_val ka = {14, "r@corp.example"};
	assert_int_equal(mdb_del(txn, acc, &ka, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_rebuild_interrupted(void **state)
{
	fx *f = *state;
	build_some(f);
	cl_ledger_free(f->l);
	f->l = NULL;
	char good[65], now[65], all[65];
	tu_ledger_digest_prefix(f->dir, "p_", good);
	interrupt(f->dir);
	tu_ledger_digest(f->dir, all);
	open_ledger(f);
	/* reads and writes are refused, naming rebuild */
	cl_account a;
	assert_int_equal(cl_proj_account_get(f->l, "x@partner.example", &a), CL_EREFUSED);
	assert_non_null(strstr(cl_ledger_error(f->l), "certledger rebuild"));
	cl_primary_info p;
	assert_int_equal(cl_proj_primary_at(f->l, "x@partner.example", f->now, &p), CL_EREFUSED);
	cl_account_created ac;
	assert_int_equal(cl_account_create(f->l, "new@corp.example", CL_KIND_AUTO, NULL, &ac), CL_EREFUSED);
	cl_ledger_free(f->l);
	f->l = NULL;
	tu_ledger_digest(f->dir, now);
	assert_string_equal(all, now); /* the refused write wrote nothing */
	/* the CLI says the same, with exit 1 */
	tu_run r;
	tu_cli(&r, f->dir, "account", "show", "x@partner.example", (const char *)NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "rebuild"));
	tu_run_free(&r);
	/* rebuild redoes it all */
	tu_cli(&r, f->dir, "--json", "rebuild", (const char *)NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"events\":"));
	tu_run_free(&r);
	tu_ledger_digest_prefix(f->dir, "p_", now);
	assert_string_equal(good, now);
	open_ledger(f);
	chk(f->l, cl_proj_account_get(f->l, "r@corp.example", &a));
	cl_account_free(&a);
}

/* Changes one byte inside the body of the event at seq (the name of an account). */
static void tamper(const char *dir, uint64_t seq, const char *from, const char *to)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/db", dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi log;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "log", 0, &log), 0);
	uint8_t k[8];
	for (int i = 7; i >= 0; i--)
		k[i] = (uint8_t)(seq >> (8 * (7 - i)));
	MDB_val key = {8, k}, val;
	assert_int_equal(mdb_get(txn, log, &key, &val), 0);
	uint8_t *copy = malloc(val.mv_size);
	memcpy(copy, val.mv_data, val.mv_size);
	uint8_t *hit = memmem(copy, val.mv_size, from, strlen(from));
	assert_non_null(hit);
	memcpy(hit, to, strlen(to));
	MDB_val nv = {val.mv_size, copy};
	assert_int_equal(mdb_put(txn, log, &key, &nv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

static void test_rebuild_broken_chain(void **state)
{
	fx *f = *state;
	cl_account_created ac;
	chk(f->l, cl_account_create(f->l, "t1@corp.example", CL_KIND_AUTO, "Tina", &ac));
	uint64_t tampered = ac.seq;
	chk(f->l, cl_account_create(f->l, "t2@corp.example", CL_KIND_AUTO, NULL, &ac));
	cl_ledger_free(f->l);
	f->l = NULL;
	tamper(f->dir, tampered, "Tina", "Tena");
	open_ledger(f);
	cl_rebuild_result r;
	assert_int_equal(cl_proj_rebuild(f->l, NULL, NULL, &r), CL_EINTEGRITY);
	char want[64];
	snprintf(want, sizeof(want), "seq %llu", (unsigned long long)(tampered + 1));
	assert_non_null(strstr(cl_ledger_error(f->l), want));
	assert_non_null(strstr(cl_ledger_error(f->l), "chain"));
	/* the read models stay marked incomplete */
	cl_account a;
	assert_int_equal(cl_proj_account_get(f->l, "t2@corp.example", &a), CL_EREFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_uploaded_codec),
		cmocka_unit_test_setup_teardown(test_certs_and_fingerprints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_broken_chain, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
