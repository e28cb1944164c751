/* test_export.c - `export jsonl`, `export csv` (events and --timeline) and `replay --until`,
 * through the built CLI:
 *   - a jsonl line is the `log --json` line of the same event plus its envelope, whose id is
 *     the line's id; --since/--until select what `log` selects;
 *   - CSV quotes per RFC 4180 and defuses cells that spreadsheets would run as formulas;
 *   - on a long random scenario (accounts, links, unlinks, primaries, with an injected clock),
 *     `replay --until` equals the projections' as-of answers (cl_proj_account_get_at) at 50
 *     random instants, half of them exactly on an event's ts, and the --timeline rows equal the
 *     primary intervals the scenario itself recorded;
 *   - exports of 20k and of CL_TEST_BIG_EVENTS (default 200k) events run in flat memory: the
 *     peak anonymous RSS of the CLI child (RssAnon, sampled from /proc) may not grow with the
 *     log. VmHWM (peak VmRSS) is printed too but not compared: it counts LMDB's mapped file
 *     pages, which are page cache that grows with the file, not the process's allocations.
 */
#include <fcntl.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certledger/certledger.h"
#include "ledger/append.h"
#include "ledger/encoding.h"
#include "ledger/envelope.h"
#include "ledger/keys.h"
#include "projections/accounts.h"
#include "projections/certs.h"
#include "testutil.h"

#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

static int64_t clock_now;
static int64_t clock_step = 1000000;

static int64_t tick(void *ctx)
{
	(void)ctx;
	return clock_now += clock_step;
}

static cl_ledger *init_ledger(const char *dir)
{
	cl_init_opts in = CL_INIT_OPTS_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	const char *domains[] = {"corp.example", NULL};
	cl_ledger *l = NULL;
	in.origin = "export.test";
	in.org_domains = domains;
	o.clock = tick;
	if (cl_ledger_init(&l, dir, &in, &o, &err) != CL_OK)
		fail_msg("init %s: %s", dir, err.msg);
	return l;
}

static char *out_path(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* Splits text into lines at "\n" (a trailing "\r" is kept); the array is NULL-terminated. */
static char **split_lines(char *text, size_t *n)
{
	char **v = NULL;
	*n = 0;
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');
		v = realloc(v, (*n + 2) * sizeof(char *));
		v[(*n)++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	if (v)
		v[*n] = NULL;
	return v;
}

/* ---- jsonl ---- */

static void test_jsonl_is_log_plus_envelope(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp("jsonl");
	char *ldir = out_path(dir, "l"), *out = out_path(dir, "all.jsonl"), *part = out_path(dir, "part.jsonl");
	clock_now = T0;
	clock_step = 1000000;
	cl_ledger *l = init_ledger(ldir);
	const char *names[] = {"Zoë \"Z\" Back\\slash", "tab\there", "plain", "=1+2", "日本語"};
	for (int i = 0; i < 5; i++) {
		char email[64];
		cl_account_created a;
		snprintf(email, sizeof(email), "user%d@corp.example", i);
		assert_int_equal(cl_account_create(l, email, CL_KIND_AUTO, names[i], &a), CL_OK);
	}
	cl_ledger_free(l);

	tu_run log, ex;
	tu_cli(&log, ldir, "--json", "log", NULL);
	assert_int_equal(log.exit_code, 0);
	tu_cli(&ex, ldir, "export", "jsonl", "--out", out, NULL);
	assert_int_equal(ex.exit_code, 0);
	size_t len, nl, ne;
	char *text = (char *)tu_read_file(out, &len);
	char **ll = split_lines(log.out, &nl), **el = split_lines(text, &ne);
	assert_int_equal(nl, 7);
	assert_int_equal(ne, 7);
	for (size_t i = 0; i < ne; i++) {
		/* the line without ,"envelope":"..." is the log line, byte for byte */
		char *env_at = strstr(el[i], ",\"envelope\":\"");
		assert_non_null(env_at);
		assert_int_equal(strlen(ll[i]), (size_t)(env_at - el[i]) + 1);
		assert_memory_equal(ll[i], el[i], (size_t)(env_at - el[i]));
		assert_string_equal(env_at + strlen(env_at) - 2, "\"}");
		/* and the envelope is the signed event the line describes */
		json_t *j = json_loads(el[i], 0, NULL);
		const char *b64 = json_string_value(json_object_get(j, "envelope"));
		uint8_t *env = NULL, id[32];
		size_t n;
		char hex[65];
		cl_event ev;
		cl_error err = CL_ERROR_INIT;
		assert_int_equal(cl_base64_decode(&env, &n, b64, strlen(b64)), CL_OK);
		assert_int_equal(cl_envelope_decode(CL_BYTES(env, n), &ev, &err), CL_OK);
		cl_event_id(&ev, id);
		cl_hex_encode(hex, id, 32);
		assert_string_equal(hex, json_string_value(json_object_get(j, "id")));
		assert_int_equal(ev.seq, json_integer_value(json_object_get(j, "seq")));
		free(env);
		json_decref(j);
	}
	free(ll);
	free(el);
	free(text);
	tu_run_free(&log);
	tu_run_free(&ex);

	/* --since/--until select what log selects (ts of seq 4 and 6; until is exclusive) */
	char since[48], until[48];
	tu_cli(&log, ldir, "--json", "log", "--from", "4", "--to", "4", NULL);
	json_t *j4 = json_loads(log.out, 0, NULL);
	snprintf(since, sizeof(since), "%s", json_string_value(json_object_get(j4, "ts")));
	json_decref(j4);
	tu_run_free(&log);
	tu_cli(&log, ldir, "--json", "log", "--from", "6", "--to", "6", NULL);
	json_t *j6 = json_loads(log.out, 0, NULL);
	snprintf(until, sizeof(until), "%s", json_string_value(json_object_get(j6, "ts")));
	json_decref(j6);
	tu_run_free(&log);
	tu_cli(&ex, ldir, "--json", "export", "jsonl", "--since", since, "--until", until, "--out", part, NULL);
	assert_int_equal(ex.exit_code, 0);
	json_t *sum = json_loads(ex.out, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(sum, "events")), 2);
	assert_int_equal(json_integer_value(json_object_get(sum, "first_seq")), 4);
	assert_int_equal(json_integer_value(json_object_get(sum, "last_seq")), 5);
	json_decref(sum);
	tu_run_free(&ex);
	text = (char *)tu_read_file(part, &len);
	el = split_lines(text, &ne);
	assert_int_equal(ne, 2);
	assert_non_null(strstr(el[0], "{\"seq\":4,"));
	assert_non_null(strstr(el[1], "{\"seq\":5,"));
	free(el);
	free(text);

	/* usage: --out is required, --timeline only with csv */
	tu_cli(&ex, ldir, "export", "jsonl", NULL);
	assert_int_equal(ex.exit_code, 2);
	tu_run_free(&ex);
	tu_cli(&ex, ldir, "export", "jsonl", "--timeline", "--out", part, NULL);
	assert_int_equal(ex.exit_code, 2);
	tu_run_free(&ex);
	tu_cli(&ex, ldir, "export", "--help", NULL);
	assert_int_equal(ex.exit_code, 0);
	assert_non_null(strstr(ex.out, "--since-checkpoint"));
	tu_run_free(&ex);

	tu_rmrf(dir);
	free(dir);
	free(ldir);
	free(out);
	free(part);
}

/* ---- csv ---- */

static void test_csv_quoting_and_formula_injection(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp("csv");
	char *ldir = out_path(dir, "l"), *out = out_path(dir, "e.csv");
	clock_now = T0;
	clock_step = 1000000;
	cl_ledger *l = init_ledger(ldir);
	const char *names[] = {"=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "-2", "@SUM(A1)", "a,b",
			       "two\nlines", "say \"hi\"", "plain"};
	const char *cells[] = {"\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"", "'+1", "'-2", "'@SUM(A1)",
			       "\"a,b\"", "\"two\nlines\"", "\"say \"\"hi\"\"\"", "plain"};
	for (int i = 0; i < 8; i++) {
		char email[64];
		cl_account_created a;
		snprintf(email, sizeof(email), "u%d@corp.example", i);
		assert_int_equal(cl_account_create(l, email, CL_KIND_AUTO, names[i], &a), CL_OK);
	}
	cl_ledger_free(l);
	tu_run r;
	tu_cli(&r, ldir, "export", "csv", "--out", out, NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	size_t len;
	char *text = (char *)tu_read_file(out, &len);
	/* the header, CRLF line ends */
	const char *hdr = CL_EXPORT_CSV_COLUMNS "\r\n";
	assert_memory_equal(text, hdr, strlen(hdr));
	for (int i = 0; i < 8; i++) {
		/* ...,id,email,fingerprint(empty),name,kind,... */
		char want[256];
		snprintf(want, sizeof(want), ",u%d@corp.example,,%s,internal,", i, cells[i]);
		if (strstr(text, want) == NULL)
			fail_msg("no cell %s in\n%s", want, text);
	}
	/* every record ends in CRLF; the only bare LF is the one inside the quoted cell */
	size_t crlf = 0, lf = 0;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			(i > 0 && text[i - 1] == '\r') ? crlf++ : lf++;
	assert_int_equal(crlf, 1 + 10);
	assert_int_equal(lf, 1);
	free(text);
	tu_rmrf(dir);
	free(dir);
	free(ldir);
	free(out);
}

/* ---- a long scenario: replay vs the projections, and the timeline ---- */

#define NACC 12
#define NCERT 10
#define NOPS 700
#define NINSTANTS 50

typedef struct model_acct {
	char email[64];
	int certs[NCERT]; /* link order */
	int n;
	int primary; /* -1: none */
} model_acct;

typedef struct interval {
	int acct, cert;
	int64_t from, to; /* to 0: open */
	uint64_t from_seq, to_seq;
} interval;

typedef struct scenario {
	model_acct a[NACC];
	uint8_t fp[NCERT][32];
	char fphex[NCERT][65];
	interval *iv;
	size_t niv;
	int open[NACC]; /* index into iv of the open interval, -1 */
} scenario;

static cl_err upload_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	scenario *s = arg;
	cl_actor who = cl_wtxn__actor(t);
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_err rc = CL_OK;
	for (int i = 0; i < NCERT && rc == CL_OK; i++) {
		/* cert.uploaded as ingest would record it (docs/events.md), for a public certificate */
		uint8_t der[200];
		char name[32], subject[64], serial[32], email[64];
		char *emails[] = {email};
		char *ku[] = {"digitalSignature", "keyEncipherment"};
		char *eku[] = {"emailProtection"};
		RAND_bytes(der, sizeof(der));
		snprintf(name, sizeof(name), "cert %d", i);
		snprintf(subject, sizeof(subject), "CN=Test %d,O=Example", i);
		snprintf(serial, sizeof(serial), "%02x", i + 1);
		snprintf(email, sizeof(email), "p%d@partner.example", i % NACC);
		cl_cert_uploaded c;
		memset(&c, 0, sizeof(c));
		cl_sha256(der, sizeof(der), c.fingerprint);
		memcpy(s->fp[i], c.fingerprint, 32);
		cl_hex_encode(s->fphex[i], c.fingerprint, 32);
		c.name = name;
		c.kind = "pem";
		c.subject = subject;
		c.issuer = subject;
		c.serial = serial;
		c.not_before = T0 - INT64_C(86400000000) * 365;
		c.not_after = T0 + INT64_C(86400000000) * 3650;
		c.emails = emails;
		c.nemails = 1;
		c.key_type = "ec";
		c.key_bits = 256;
		c.key_usage = ku;
		c.nkey_usage = 2;
		c.ext_key_usage = eku;
		c.next_key_usage = 1;
		c.sig_hash = "sha256";
		c.smime_ok = true;
		c.der = der;
		c.der_len = sizeof(der);
		rc = cl_cert_uploaded_encode(&data, &c);
		if (rc == CL_OK)
			rc = cl_wtxn_append(t, &who, "cert.uploaded", cl_buf_view(&data), NULL, err);
	}
	cl_buf_free(&data);
	return rc;
}

static int find_cert(const model_acct *m, int c)
{
	for (int i = 0; i < m->n; i++)
		if (m->certs[i] == c)
			return i;
	return -1;
}

static int ts_of_cb(const cl_event_info *ev, void *ctx)
{
	*(int64_t *)ctx = ev->ts;
	return 0;
}

static int64_t ts_of(cl_ledger *l, uint64_t seq)
{
	int64_t ts = 0;
	assert_int_equal(cl_log_get(l, seq, ts_of_cb, &ts), CL_OK);
	return ts;
}

static void open_interval(scenario *s, int acct, int cert, int64_t ts, uint64_t seq)
{
	s->iv = realloc(s->iv, (s->niv + 1) * sizeof(*s->iv));
	s->iv[s->niv] = (interval){acct, cert, ts, 0, seq, 0};
	s->open[acct] = (int)s->niv++;
}

static void close_interval(scenario *s, int acct, int64_t ts, uint64_t seq)
{
	if (s->open[acct] < 0)
		return;
	s->iv[s->open[acct]].to = ts;
	s->iv[s->open[acct]].to_seq = seq;
	s->open[acct] = -1;
}

/* One random valid change; returns after it is written. */
static void random_op(scenario *s, cl_ledger *l)
{
	for (;;) {
		int ai = rand() % NACC, ci = rand() % NCERT, op = rand() % 10;
		model_acct *m = &s->a[ai];
		cl_change ch;
		int at = find_cert(m, ci);
		if (op < 4 && at < 0) {
			if (cl_account_link(l, m->email, s->fphex[ci], &ch) != CL_OK)
				fail_msg("link: %s", cl_ledger_error(l));
			m->certs[m->n++] = ci;
			return;
		}
		if (op >= 4 && op < 6 && at >= 0) {
			if (cl_account_unlink(l, m->email, s->fphex[ci], "rotation", &ch) != CL_OK)
				fail_msg("unlink: %s", cl_ledger_error(l));
			memmove(&m->certs[at], &m->certs[at + 1], (size_t)(m->n - at - 1) * sizeof(int));
			m->n--;
			if (m->primary == ci) {
				assert_true(ch.cleared_seq == ch.seq + 1);
				close_interval(s, ai, ts_of(l, ch.cleared_seq), ch.cleared_seq);
				m->primary = -1;
			}
			return;
		}
		if (op >= 6 && op < 9 && at >= 0 && m->primary != ci) {
			if (cl_primary_set(l, m->email, s->fphex[ci], true, &ch) != CL_OK)
				fail_msg("primary set: %s", cl_ledger_error(l));
			close_interval(s, ai, ch.ts, ch.seq);
			open_interval(s, ai, ci, ch.ts, ch.seq);
			m->primary = ci;
			return;
		}
		if (op == 9 && m->primary >= 0) {
			if (cl_primary_clear(l, m->email, &ch) != CL_OK)
				fail_msg("primary clear: %s", cl_ledger_error(l));
			close_interval(s, ai, ch.ts, ch.seq);
			m->primary = -1;
			return;
		}
	}
}

/* The replay's accounts at `at`, as JSON lines parsed into an object keyed by email. */
static json_t *replay_at(const char *ldir, int64_t at)
{
	char t[48];
	tu_run r;
	cl_time_format_text(t, at);
	tu_cli(&r, ldir, "--json", "replay", "--until", t, NULL);
	if (r.exit_code != 0)
		fail_msg("replay --until %s: %s", t, r.err);
	json_t *all = json_object();
	size_t n;
	char **lines = split_lines(r.out, &n);
	for (size_t i = 0; i < n; i++) {
		if (lines[i][0] == '\0')
			continue;
		json_t *j = json_loads(lines[i], JSON_PRESERVE_ORDER, NULL);
		assert_non_null(j);
		json_object_set_new(all, json_string_value(json_object_get(j, "email")), j);
	}
	free(lines);
	tu_run_free(&r);
	return all;
}

/* The projections' answer for one account at `at`, in the same JSON shape (NULL when the
 * account did not exist then). */
static json_t *projection_at(cl_ledger *l, const char *email, int64_t at)
{
	cl_account a;
	cl_err rc = cl_proj_account_get_at(l, email, at, &a);
	if (rc == CL_ENOTFOUND)
		return NULL;
	if (rc != CL_OK)
		fail_msg("cl_proj_account_get_at(%s): %s", email, cl_ledger_error(l));
	json_t *certs = json_array();
	char hex[65];
	for (size_t i = 0; i < a.ncerts; i++) {
		cl_hex_encode(hex, a.certs[i], 32);
		json_array_append_new(certs, json_string(hex));
	}
	json_t *primary = json_null();
	if (a.has_primary) {
		cl_hex_encode(hex, a.primary, 32);
		primary = json_string(hex);
	}
	json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o}", "email", a.email, "kind", a.kind, "name", a.name,
			      "certificates", certs, "primary", primary);
	cl_account_free(&a);
	return j;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static void test_replay_equals_projections_and_timeline(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp("replay");
	char *ldir = out_path(dir, "l"), *csv = out_path(dir, "t.csv");
	scenario *s = calloc(1, sizeof(*s));
	cl_error err = CL_ERROR_INIT;
	srand(20260301);
	clock_now = T0;
	clock_step = 1000000;
	cl_ledger *l = init_ledger(ldir);
	assert_int_equal(cl_ledger__write(l, upload_cb, s, &err), CL_OK);
	for (int i = 0; i < NACC; i++) {
		cl_account_created a;
		s->open[i] = -1;
		s->a[i].primary = -1;
		snprintf(s->a[i].email, sizeof(s->a[i].email), "p%d@partner.example", i);
		assert_int_equal(cl_account_create(l, s->a[i].email, CL_KIND_AUTO, i % 2 ? "Partner" : "", &a), CL_OK);
	}
	for (int i = 0; i < NOPS; i++) {
		/* gaps of a second to a few hours between changes */
		clock_step = INT64_C(1000000) * (1 + rand() % 10800);
		random_op(s, l);
	}
	cl_ledger_info info;
	assert_int_equal(cl_ledger_get_info(l, &info), CL_OK);
	uint64_t head = info.head_seq;
	int64_t first = ts_of(l, 1), last = ts_of(l, head);

	/* 50 instants: half exactly on an event's ts (a change at `at` is in force at `at`), half
	 * anywhere from before the first event to after the last */
	int64_t at[NINSTANTS];
	for (int i = 0; i < NINSTANTS; i++) {
		if (i % 2 == 0)
			at[i] = ts_of(l, 1 + (uint64_t)rand() % head);
		else
			at[i] = first - 1000000 + (int64_t)(((double)rand() / RAND_MAX) * (double)(last - first + 2000000));
	}
	qsort(at, NINSTANTS, sizeof(at[0]), cmp_i64);
	int compared = 0;
	for (int i = 0; i < NINSTANTS; i++) {
		json_t *rep = replay_at(ldir, at[i]);
		size_t present = 0;
		for (int k = 0; k < NACC; k++) {
			json_t *p = projection_at(l, s->a[k].email, at[i]);
			json_t *r = json_object_get(rep, s->a[k].email);
			if (p == NULL && r == NULL)
				continue;
			if (p == NULL || r == NULL || !json_equal(p, r)) {
				char *ps = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("(none)");
				char *rs = r ? json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("(none)");
				char t[48];
				cl_time_format_text(t, at[i]);
				fail_msg("at %s, %s:\n projections: %s\n replay:      %s", t, s->a[k].email, ps, rs);
			}
			present++;
			compared++;
			json_decref(p);
		}
		assert_int_equal(json_object_size(rep), present);
		json_decref(rep);
	}
	assert_true(compared > NINSTANTS * NACC / 2);

	/* the timeline is the intervals the scenario recorded, sorted by email then from */
	tu_run r;
	tu_cli(&r, ldir, "export", "csv", "--timeline", "--out", csv, NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	size_t len, n;
	char *text = (char *)tu_read_file(csv, &len);
	char **rows = split_lines(text, &n);
	assert_string_equal(rows[0], "email,fingerprint,from,to,from_seq,to_seq\r");
	char **want = calloc(s->niv, sizeof(char *));
	for (size_t i = 0; i < s->niv; i++) {
		const interval *iv = &s->iv[i];
		char from[48], to[48] = "", ts[24] = "";
		cl_time_format_text(from, iv->from);
		if (iv->to_seq) {
			cl_time_format_text(to, iv->to);
			snprintf(ts, sizeof(ts), "%llu", (unsigned long long)iv->to_seq);
		}
		want[i] = malloc(512);
		snprintf(want[i], 512, "%s,%s,%s,%s,%llu,%s\r", s->a[iv->acct].email, s->fphex[iv->cert], from, to,
			 (unsigned long long)iv->from_seq, ts);
	}
	qsort(want, s->niv, sizeof(char *), cmp_str);
	char **got = calloc(n, sizeof(char *));
	size_t ng = 0;
	for (size_t i = 1; i < n; i++)
		if (rows[i][0] != '\0')
			got[ng++] = rows[i];
	assert_int_equal(ng, s->niv);
	/* the export's own order: by email, then from */
	for (size_t i = 1; i < ng; i++) {
		size_t a = strcspn(got[i - 1], ","), b = strcspn(got[i], ",");
		int c = strncmp(got[i - 1], got[i], a < b ? a : b);
		assert_true(c < 0 || (c == 0 && a <= b));
		if (c == 0 && a == b)
			assert_true(strcmp(strchr(got[i - 1] + a + 1, ','), strchr(got[i] + b + 1, ',')) < 0);
	}
	qsort(got, ng, sizeof(char *), cmp_str);
	for (size_t i = 0; i < ng; i++)
		assert_string_equal(got[i], want[i]);
	assert_true(s->niv > 100);

	for (size_t i = 0; i < s->niv; i++)
		free(want[i]);
	free(want);
	free(got);
	free(rows);
	free(text);
	cl_ledger_free(l);
	free(s->iv);
	free(s);
	tu_rmrf(dir);
	free(dir);
	free(ldir);
	free(csv);
}

/* ---- flat memory ---- */

typedef struct bulk_ctx {
	uint64_t from, n;
} bulk_ctx;

static cl_err bulk_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	bulk_ctx *b = arg;
	cl_actor who = cl_wtxn__actor(t);
	cl_buf data = CL_BUF_INIT(4096);
	cl_err rc = CL_OK;
	for (uint64_t i = 0; i < b->n && rc == CL_OK; i++) {
		char email[64];
		snprintf(email, sizeof(email), "user%llu@bulk.example", (unsigned long long)(b->from + i));
		rc = cl_account_created_encode(&data, email, "external", "Bulk User");
		if (rc == CL_OK)
			rc = cl_wtxn_append(t, &who, "account.created", cl_buf_view(&data), NULL, err);
	}
	cl_buf_free(&data);
	return rc;
}

/* Grows the ledger in dir to `events` events, 10k per write transaction. */
static void grow(const char *dir, uint64_t events)
{
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	cl_ledger *l = NULL;
	cl_ledger_info info;
	assert_int_equal(cl_ledger_open(&l, dir, &o, &err), CL_OK);
	assert_int_equal(cl_ledger_get_info(l, &info), CL_OK);
	for (uint64_t have = info.head_seq; have < events;) {
		bulk_ctx b = {have, events - have < 10000 ? events - have : 10000};
		if (cl_ledger__write(l, bulk_cb, &b, &err) != CL_OK)
			fail_msg("bulk write: %s", err.msg);
		have += b.n;
	}
	cl_ledger_free(l);
}

/* RssAnon and VmHWM of a running process, from /proc (-1 when it is gone). */
static void proc_mem(pid_t pid, long *anon_kb, long *hwm_kb)
{
	char path[64], line[256];
	long v;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	*anon_kb = *hwm_kb = -1;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %ld kB", &v) == 1)
			*anon_kb = v;
		else if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
			*hwm_kb = v;
	}
	fclose(f);
}

typedef struct usage {
	long peak_anon_kb; /* RssAnon, sampled every 2 ms: what the process allocated */
	long hwm_kb;       /* VmHWM (peak VmRSS) of the CLI's own address space, last sample: it
			    * includes LMDB's mapped file pages, which grow with the file. (ru_maxrss
			    * is no use here: it keeps the RSS of the forked copy of this test.) */
	double seconds;
	int exit_code;
} usage;

/* Runs the CLI with args (NULL-terminated), stdout to out_path (or /dev/null), and measures it.
 * Two sanitizer artefacts would look like growth, so the child runs with them turned down:
 * ASan's quarantine holds freed blocks up to 256 MB, and its stack depot keeps every distinct
 * allocation stack, where frames walked through uninstrumented OpenSSL and jansson come out
 * different at nearly every call (about 60 bytes an event). The release build needs neither:
 * verify-bundle peaks at the same 17.9 MB for 20k and 200k events there. */
static usage measure(const char *ledger, const char *out_file, const char *const *args)
{
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)tu_bin();
	argv[n++] = "--ledger";
	argv[n++] = (char *)ledger;
	while (*args && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int sync[2];
	assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sync[0]);
		int fd = open(out_file ? out_file : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int nul = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(nul, 2);
		setenv("ASAN_OPTIONS", "detect_leaks=0:quarantine_size_mb=4:malloc_context_size=1", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	/* sample only once the child runs the CLI (the pipe closes at exec): before that its
	 * memory is this test's, copied by fork */
	close(sync[1]);
	char c;
	while (read(sync[0], &c, 1) > 0)
		;
	close(sync[0]);
	usage u = {0, 0, 0, -1};
	struct rusage ru;
	int st;
	for (;;) {
		pid_t w = wait4(pid, &st, WNOHANG, &ru);
		if (w == pid)
			break;
		long anon, hwm;
		proc_mem(pid, &anon, &hwm);
		if (anon > u.peak_anon_kb)
			u.peak_anon_kb = anon;
		if (hwm > u.hwm_kb)
			u.hwm_kb = hwm;
		usleep(2000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	u.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	u.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return u;
}

static void test_exports_run_in_flat_memory(void **state)
{
	(void)state;
	const char *big_env = getenv("CL_TEST_BIG_EVENTS");
	uint64_t small = 20000, big = big_env ? strtoull(big_env, NULL, 10) : 200000;
	char *dir = tu_mkdtemp("flat");
	char *ldir = out_path(dir, "l"), *bundle = out_path(dir, "b.bundle");
	cl_ledger *l = init_ledger(ldir);
	cl_ledger_free(l);
	static const char *const jsonl[] = {"export", "jsonl", "--out", "-", NULL};
	static const char *const csv[] = {"export", "csv", "--out", "-", NULL};
	static const char *const bundle_args[] = {"export", "bundle", "--out", "-", NULL};
	usage u[2][4];
	uint64_t sizes[2] = {small, big};
	for (int k = 0; k < 2; k++) {
		grow(ldir, sizes[k]);
		u[k][0] = measure(ldir, NULL, jsonl);
		u[k][1] = measure(ldir, NULL, csv);
		u[k][2] = measure(ldir, bundle, bundle_args);
		const char *vb[] = {"verify-bundle", bundle, NULL};
		u[k][3] = measure(ldir, NULL, vb);
		for (int i = 0; i < 4; i++) {
			static const char *what[] = {"export jsonl", "export csv", "export bundle", "verify-bundle"};
			print_message("%-14s %7llu events: %6.2f s, peak RssAnon %6ld kB, VmHWM %7ld kB\n", what[i],
				      (unsigned long long)sizes[k], u[k][i].seconds, u[k][i].peak_anon_kb, u[k][i].hwm_kb);
			assert_int_equal(u[k][i].exit_code, 0);
		}
		unlink(bundle);
	}
	/* ten times the events, the same memory (within 8 MB or 25%, for allocator noise) */
	for (int i = 0; i < 4; i++) {
		long lo = u[0][i].peak_anon_kb, hi = u[1][i].peak_anon_kb;
		if (hi > lo + 8192 && hi > lo + lo / 4)
			fail_msg("command %d: peak RssAnon %ld kB at %llu events but %ld kB at %llu", i, lo,
				 (unsigned long long)small, hi, (unsigned long long)big);
	}
	tu_rmrf(dir);
	free(dir);
	free(ldir);
	free(bundle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonl_is_log_plus_envelope),
		cmocka_unit_test(test_csv_quoting_and_formula_injection),
		cmocka_unit_test(test_replay_equals_projections_and_timeline),
		cmocka_unit_test(test_exports_run_in_flat_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
