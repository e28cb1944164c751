/* test_primary_time.c - the primary timeline and the account as of an instant, over a history
 * written across six simulated months with an injected clock: uploads, links, primary changes,
 * a renewal (the new certificate becomes primary, the old one stays linked), a clear, an unlink
 * of the primary (cert.unlinked + primary.cleared in one transaction) and two changes in the
 * same microsecond. Every answer is checked against an independent model of the steps: the
 * primary exactly at, just before and just after every change, `--on` for every day of the
 * period (days with zero, one and several changes among them, plus named cases), the whole
 * account at every step, and the same answers through the CLI. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/certledger.h"
#include "testutil.h"
#include "tu_certs.h"

#define DAY INT64_C(86400000000)
#define MAX_STEPS 32
#define NOARG ((const char *)NULL)

enum { C1, C2, C3, C4, NCERT };

/* alice's state after a step: primary (-1 none) and linked certificates in link order. */
typedef struct step {
	int64_t ts;
	int primary;
	int certs[NCERT];
	int ncerts;
} step;

typedef struct fx {
	char *dir;
	cl_ledger *l;
	int64_t now;
	uint8_t fp[NCERT][32];
	char hex[NCERT][65];
	step steps[MAX_STEPS];
	int nsteps;
	int64_t created;          /* alice's account.created ts */
} fx;

static void open_ledger(fx *f)
{
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	o.clock = tu_clock;
	o.clock_ctx = &f->now;
	if (cl_ledger_open(&f->l, f->dir, &o, &err) != CL_OK)
		fail_msg("open: %s", err.msg);
}

static step *push(fx *f, int64_t ts)
{
	assert_true(f->nsteps < MAX_STEPS);
	step *s = &f->steps[f->nsteps];
	if (f->nsteps > 0)
		*s = f->steps[f->nsteps - 1];
	else
		memset(s, 0, sizeof(*s)), s->primary = -1;
	s->ts = ts;
	f->nsteps++;
	return s;
}

static void chk(cl_ledger *l, cl_err rc)
{
	if (rc != CL_OK)
		fail_msg("%s", cl_ledger_error(l));
}

static int64_t link_(fx *f, int c)
{
	cl_change ch;
	chk(f->l, cl_account_link(f->l, "alice@corp.example", f->hex[c], &ch));
	assert_int_equal(ch.ts, f->now);
	step *s = push(f, ch.ts);
	s->certs[s->ncerts++] = c;
	return ch.ts;
}

static void set_(fx *f, int c)
{
	cl_change ch;
	char prefix[21];
	memcpy(prefix, f->hex[c], 20); /* a unique prefix works as well as the whole fingerprint */
	prefix[20] = '\0';
	chk(f->l, cl_primary_set(f->l, "alice@corp.example", prefix, false, &ch));
	assert_false(ch.forced);
	assert_memory_equal(ch.fingerprint, f->fp[c], 32);
	push(f, ch.ts)->primary = c;
}

static void clear_(fx *f)
{
	cl_change ch;
	chk(f->l, cl_primary_clear(f->l, "alice@corp.example", &ch));
	push(f, ch.ts)->primary = -1;
}

static void unlink_(fx *f, int c)
{
	cl_change ch;
	chk(f->l, cl_account_unlink(f->l, "alice@corp.example", f->hex[c], "superseded", &ch));
	step *s = push(f, ch.ts);
	int k = 0;
	for (int i = 0; i < s->ncerts; i++)
		if (s->certs[i] != c)
			s->certs[k++] = s->certs[i];
	s->ncerts = k;
	if (s->primary == c) {
		assert_int_equal(ch.cleared_seq, ch.seq + 1);
		s->primary = -1;
	} else {
		assert_int_equal(ch.cleared_seq, 0);
	}
}

/* The model: alice's state at instant t (NULL before she existed). */
static const step *model_at(const fx *f, int64_t t)
{
	const step *r = NULL;
	for (int i = 0; i < f->nsteps; i++)
		if (f->steps[i].ts <= t)
			r = &f->steps[i];
	return r;
}

static void cert(fx *f, int c, const char *name, const char *email, int64_t nb, int64_t na, bool key)
{
	tu_cert_spec s = {name, {email, NULL}, nb, na, key, NULL};
	tu_upload(f->l, &s, f->fp[c]);
	tu_hex(f->hex[c], f->fp[c]);
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char *root = tu_mkdtemp("ptime");
	if (asprintf(&f->dir, "%s/l", root) < 0)
		fail_msg("asprintf");
	free(root);
	cl_init_opts io = CL_INIT_OPTS_INIT;
	const char *domains[] = {"corp.example", NULL};
	io.org_domains = domains;
	io.origin = "ptime.example/log";
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	o.clock = tu_clock;
	o.clock_ctx = &f->now;
	f->now = tu_time(1, 5, 9, 0, 0);
	if (cl_ledger_init(&f->l, f->dir, &io, &o, &err) != CL_OK)
		fail_msg("init: %s", err.msg);
	cl_account_created ac;
	f->now = tu_time(1, 5, 9, 0, 1);
	chk(f->l, cl_account_create(f->l, "alice@corp.example", CL_KIND_AUTO, "Alice", &ac));
	assert_string_equal(ac.kind, "internal");
	f->created = ac.created_at;
	push(f, ac.created_at);
	f->now = tu_time(1, 5, 9, 0, 2);
	chk(f->l, cl_account_create(f->l, "bob@partner.example", CL_KIND_AUTO, "Bob", &ac));
	f->now = tu_time(1, 6, 8, 0, 0);
	cert(f, C1, "alice 2026", "alice@corp.example", tu_time(1, 1, 0, 0, 0), tu_time(12, 31, 0, 0, 0), true);
	f->now = tu_time(1, 6, 8, 0, 1);
	cert(f, C2, "bob", "bob@partner.example", tu_time(1, 1, 0, 0, 0), tu_time(12, 31, 0, 0, 0), false);

	f->now = tu_time(1, 10, 10, 0, 0);
	link_(f, C1);
	f->now = tu_time(1, 10, 10, 0, 5);
	set_(f, C1);
	/* bob's changes are other account's events: alice's timeline must not see them */
	cl_change ch;
	f->now = tu_time(2, 1, 12, 0, 0);
	chk(f->l, cl_account_link(f->l, "bob@partner.example", f->hex[C2], &ch));
	f->now = tu_time(2, 1, 12, 0, 1);
	chk(f->l, cl_primary_set(f->l, "bob@partner.example", f->hex[C2], false, &ch));
	/* renewal on March 15th, then back and forth the same day */
	f->now = tu_time(3, 15, 9, 0, 0);
	cert(f, C3, "alice 2026 renewed", "alice@corp.example", tu_time(3, 1, 0, 0, 0), tu_time(12, 31, 0, 0, 0), true);
	f->now = tu_time(3, 15, 9, 30, 0);
	link_(f, C3);
	f->now = tu_time(3, 15, 14, 0, 0);
	set_(f, C3);
	f->now = tu_time(3, 15, 16, 0, 0);
	set_(f, C1);
	f->now = tu_time(3, 15, 18, 0, 0);
	set_(f, C3);
	f->now = tu_time(4, 20, 8, 0, 0);
	clear_(f);
	f->now = tu_time(4, 21, 8, 0, 0);
	set_(f, C3);
	f->now = tu_time(5, 2, 11, 0, 0);
	unlink_(f, C3); /* the primary: cert.unlinked + primary.cleared, one ts */
	f->now = tu_time(5, 30, 10, 0, 0);
	cert(f, C4, "alice 2027", "alice@corp.example", tu_time(5, 1, 0, 0, 0), tu_time(12, 31, 0, 0, 0), true);
	f->now = tu_time(5, 30, 10, 0, 1);
	link_(f, C4);
	/* two changes in the same microsecond: the later seq wins, the first held it for no time */
	f->now = tu_time(6, 1, 9, 0, 0);
	set_(f, C1);
	set_(f, C4);
	f->now = tu_time(7, 1, 12, 0, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	cl_ledger_free(f->l);
	char *root = strdup(f->dir);
	*strrchr(root, '/') = '\0';
	tu_rmrf(root);
	free(root);
	free(f->dir);
	free(f);
	return 0;
}

static void expect_primary(fx *f, int64_t t)
{
	cl_primary_info p;
	chk(f->l, cl_proj_primary_at(f->l, "alice@CORP.example", t, &p));
	assert_string_equal(p.email, "alice@corp.example");
	assert_int_equal(p.at, t);
	const step *s = model_at(f, t);
	int want = s ? s->primary : -1;
	if (want < 0) {
		if (p.has_primary)
			fail_msg("at %lld: expected no primary", (long long)t);
	} else {
		if (!p.has_primary || memcmp(p.fingerprint, f->fp[want], 32) != 0)
			fail_msg("at %lld: expected primary c%d", (long long)t, want + 1);
	}
}

static void test_primary_at_every_change(void **state)
{
	fx *f = *state;
	assert_true(f->nsteps >= 12);
	for (int i = 0; i < f->nsteps; i++) {
		int64_t t = f->steps[i].ts;
		expect_primary(f, t);     /* exactly at: the new state */
		expect_primary(f, t - 1); /* just before: the old one */
		expect_primary(f, t + 1);
	}
	/* spot checks that do not lean on the model */
	cl_primary_info p;
	chk(f->l, cl_proj_primary_at(f->l, "alice@corp.example", tu_time(1, 10, 10, 0, 5), &p));
	assert_true(p.has_primary);
	assert_memory_equal(p.fingerprint, f->fp[C1], 32);
	chk(f->l, cl_proj_primary_at(f->l, "alice@corp.example", tu_time(1, 10, 10, 0, 5) - 1, &p));
	assert_false(p.has_primary);
	chk(f->l, cl_proj_primary_at(f->l, "alice@corp.example", tu_time(3, 15, 17, 0, 0), &p));
	assert_memory_equal(p.fingerprint, f->fp[C1], 32);
	chk(f->l, cl_proj_primary_at(f->l, "alice@corp.example", tu_time(5, 2, 11, 0, 0), &p));
	assert_false(p.has_primary); /* unlinked at that very instant */
	chk(f->l, cl_proj_primary_at(f->l, "alice@corp.example", tu_time(6, 1, 9, 0, 0), &p));
	assert_memory_equal(p.fingerprint, f->fp[C4], 32); /* the second change of that microsecond */
	chk(f->l, cl_proj_primary_at(f->l, "bob@partner.example", tu_time(3, 1, 0, 0, 0), &p));
	assert_memory_equal(p.fingerprint, f->fp[C2], 32);
	/* before the account existed: no primary; unknown account: not found */
	chk(f->l, cl_proj_primary_at(f->l, "alice@corp.example", tu_time(1, 1, 0, 0, 0), &p));
	assert_false(p.has_primary);
	assert_int_equal(cl_proj_primary_at(f->l, "carol@corp.example", tu_time(3, 1, 0, 0, 0), &p), CL_ENOTFOUND);
	assert_int_equal(cl_proj_primary_at(f->l, "not an address", tu_time(3, 1, 0, 0, 0), &p), CL_EBADINPUT);
	/* now = the current record */
	chk(f->l, cl_proj_primary_at(f->l, "alice@corp.example", CL_AT_NOW, &p));
	assert_int_equal(p.at, f->now);
	assert_memory_equal(p.fingerprint, f->fp[C4], 32);
}

/* Independent model of "every primary during [from, to)": sample the step list. */
static int model_day(const fx *f, int64_t from, int64_t to, cl_primary_interval *out)
{
	int n = 0;
	const step *s = model_at(f, from);
	int cur = s ? s->primary : -1;
	int64_t start = from;
	for (int i = 0; i < f->nsteps; i++) {
		const step *st = &f->steps[i];
		if (st->ts < from || st->ts >= to)
			continue;
		/* only the last step of a microsecond counts */
		if (i + 1 < f->nsteps && f->steps[i + 1].ts == st->ts)
			continue;
		if (st->primary == cur)
			continue;
		if (cur >= 0 && st->ts > start) {
			memcpy(out[n].fingerprint, f->fp[cur], 32);
			out[n].from = start;
			out[n].to = st->ts;
			n++;
		}
		cur = st->primary;
		start = st->ts;
	}
	if (cur >= 0 && to > start) {
		memcpy(out[n].fingerprint, f->fp[cur], 32);
		out[n].from = start;
		out[n].to = to;
		n++;
	}
	return n;
}

static void expect_day(fx *f, int64_t day, const cl_primary_interval *want, size_t nwant)
{
	cl_primary_day d;
	chk(f->l, cl_proj_primary_on(f->l, "alice@corp.example", day + 3600 * INT64_C(1000000), &d));
	assert_int_equal(d.day, day);
	if (d.n != nwant)
		fail_msg("day %lld: %zu intervals, expected %zu", (long long)(day / DAY), d.n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_memory_equal(d.intervals[i].fingerprint, want[i].fingerprint, 32);
		assert_int_equal(d.intervals[i].from, want[i].from);
		assert_int_equal(d.intervals[i].to, want[i].to);
	}
	cl_primary_day_free(&d);
}

static void test_on_every_day(void **state)
{
	fx *f = *state;
	cl_primary_interval want[16];
	int zero = 0, one = 0, several = 0;
	for (int64_t day = tu_time(1, 1, 0, 0, 0); day <= tu_time(7, 1, 0, 0, 0); day += DAY) {
		int64_t to = day + DAY < f->now ? day + DAY : f->now;
		int n = model_day(f, day, to, want);
		expect_day(f, day, want, (size_t)n);
		int changes = 0;
		for (int i = 0; i < f->nsteps; i++)
			changes += f->steps[i].ts >= day && f->steps[i].ts < day + DAY;
		zero += changes == 0 && n == 1;
		one += changes == 1;
		several += changes > 1 && n > 2;
	}
	assert_true(zero > 100 && one >= 2 && several >= 1);

	/* named days, written out by hand */
	cl_primary_interval w[4];
	/* February 15th: no change at all, c1 all day */
	memcpy(w[0].fingerprint, f->fp[C1], 32);
	w[0].from = tu_time(2, 15, 0, 0, 0);
	w[0].to = tu_time(2, 16, 0, 0, 0);
	expect_day(f, tu_time(2, 15, 0, 0, 0), w, 1);
	/* January 10th: one change (the link before it is not a primary change) */
	w[0].from = tu_time(1, 10, 10, 0, 5);
	w[0].to = tu_time(1, 11, 0, 0, 0);
	expect_day(f, tu_time(1, 10, 0, 0, 0), w, 1);
	/* March 15th: c1, c3, c1, c3 */
	int order[4] = {C1, C3, C1, C3};
	int64_t cuts[5] = {tu_time(3, 15, 0, 0, 0), tu_time(3, 15, 14, 0, 0), tu_time(3, 15, 16, 0, 0),
			   tu_time(3, 15, 18, 0, 0), tu_time(3, 16, 0, 0, 0)};
	for (int i = 0; i < 4; i++) {
		memcpy(w[i].fingerprint, f->fp[order[i]], 32);
		w[i].from = cuts[i];
		w[i].to = cuts[i + 1];
	}
	expect_day(f, tu_time(3, 15, 0, 0, 0), w, 4);
	/* May 2nd: c3 until it was unlinked */
	memcpy(w[0].fingerprint, f->fp[C3], 32);
	w[0].from = tu_time(5, 2, 0, 0, 0);
	w[0].to = tu_time(5, 2, 11, 0, 0);
	expect_day(f, tu_time(5, 2, 0, 0, 0), w, 1);
	/* June 1st: c1 held it for no time, c4 from 09:00 */
	memcpy(w[0].fingerprint, f->fp[C4], 32);
	w[0].from = tu_time(6, 1, 9, 0, 0);
	w[0].to = tu_time(6, 2, 0, 0, 0);
	expect_day(f, tu_time(6, 1, 0, 0, 0), w, 1);
	/* before the account, today (clipped to now) and a day in the future */
	expect_day(f, tu_time(1, 4, 0, 0, 0), w, 0);
	w[0].from = tu_time(7, 1, 0, 0, 0);
	w[0].to = f->now;
	expect_day(f, tu_time(7, 1, 0, 0, 0), w, 1);
	expect_day(f, tu_time(7, 3, 0, 0, 0), w, 0);
	cl_primary_day d;
	assert_int_equal(cl_proj_primary_on(f->l, "nobody@corp.example", tu_time(3, 1, 0, 0, 0), &d), CL_ENOTFOUND);
}

static void expect_account(fx *f, int64_t t)
{
	cl_account a;
	const step *s = model_at(f, t);
	cl_err rc = cl_proj_account_get_at(f->l, "alice@corp.example", t, &a);
	if (s == NULL) {
		assert_int_equal(rc, CL_ENOTFOUND);
		return;
	}
	chk(f->l, rc);
	assert_string_equal(a.email, "alice@corp.example");
	assert_string_equal(a.kind, "internal");
	assert_string_equal(a.name, "Alice");
	assert_int_equal(a.created_at, f->created);
	if ((int)a.ncerts != s->ncerts)
		fail_msg("at %lld: %zu certificates, expected %d", (long long)t, a.ncerts, s->ncerts);
	for (int i = 0; i < s->ncerts; i++)
		assert_memory_equal(a.certs[i], f->fp[s->certs[i]], 32);
	assert_int_equal(a.has_primary, s->primary >= 0);
	if (s->primary >= 0)
		assert_memory_equal(a.primary, f->fp[s->primary], 32);
	cl_account_free(&a);
}

static void test_account_at_every_step(void **state)
{
	fx *f = *state;
	for (int i = 0; i < f->nsteps; i++) {
		expect_account(f, f->steps[i].ts);
		expect_account(f, f->steps[i].ts - 1);
		expect_account(f, f->steps[i].ts + 1);
	}
	/* the renewal: after it both certificates are linked, the new one primary */
	cl_account a;
	chk(f->l, cl_proj_account_get_at(f->l, "alice@corp.example", tu_time(3, 15, 14, 0, 0), &a));
	assert_int_equal(a.ncerts, 2);
	assert_memory_equal(a.primary, f->fp[C3], 32);
	cl_account_free(&a);
	/* the account now equals the account at now */
	cl_account now, at;
	chk(f->l, cl_proj_account_get(f->l, "alice@corp.example", &now));
	chk(f->l, cl_proj_account_get_at(f->l, "alice@corp.example", f->now, &at));
	assert_int_equal(now.ncerts, at.ncerts);
	assert_memory_equal(now.certs, at.certs, now.ncerts * 32);
	assert_memory_equal(now.primary, at.primary, 32);
	cl_account_free(&now);
	cl_account_free(&at);
	assert_int_equal(cl_proj_account_get_at(f->l, "alice@corp.example", f->created - 1, &a), CL_ENOTFOUND);
}

/* The CLI gives the same answers (black box, on the same ledger). */
static void test_cli_same_answers(void **state)
{
	fx *f = *state;
	cl_ledger_free(f->l);
	f->l = NULL;
	tu_run r;
	char t[40];
	for (int i = 0; i < f->nsteps; i++) {
		const step *s = model_at(f, f->steps[i].ts); /* the last step of that microsecond */
		cl_time_format_text(t, s->ts);
		tu_cli(&r, f->dir, "--json", "account", "show", "alice@corp.example", "--at", t, NOARG);
		assert_int_equal(r.exit_code, 0);
		json_t *j = json_loads(r.out, 0, NULL);
		assert_non_null(j);
		json_t *certs = json_object_get(j, "certificates");
		assert_int_equal(json_array_size(certs), s->ncerts);
		for (int k = 0; k < s->ncerts; k++)
			assert_string_equal(json_string_value(json_array_get(certs, (size_t)k)), f->hex[s->certs[k]]);
		json_t *p = json_object_get(j, "primary");
		if (s->primary < 0)
			assert_true(json_is_null(p));
		else
			assert_string_equal(json_string_value(p), f->hex[s->primary]);
		json_decref(j);
		tu_run_free(&r);

		tu_cli(&r, f->dir, "--json", "primary", "show", "alice@corp.example", "--at", t, NOARG);
		assert_int_equal(r.exit_code, 0);
		j = json_loads(r.out, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "at")), t);
		p = json_object_get(j, "fingerprint");
		if (s->primary < 0)
			assert_true(json_is_null(p));
		else
			assert_string_equal(json_string_value(p), f->hex[s->primary]);
		json_decref(j);
		tu_run_free(&r);
	}
	tu_cli(&r, f->dir, "--json", "primary", "show", "alice@corp.example", "--on", "2026-03-15", NOARG);
	assert_int_equal(r.exit_code, 0);
	char want[2048];
	snprintf(want, sizeof(want),
		 "{\"email\":\"alice@corp.example\",\"on\":\"2026-03-15\",\"intervals\":["
		 "{\"fingerprint\":\"%s\",\"from\":\"2026-03-15T00:00:00.000000Z\",\"to\":\"2026-03-15T14:00:00.000000Z\"},"
		 "{\"fingerprint\":\"%s\",\"from\":\"2026-03-15T14:00:00.000000Z\",\"to\":\"2026-03-15T16:00:00.000000Z\"},"
		 "{\"fingerprint\":\"%s\",\"from\":\"2026-03-15T16:00:00.000000Z\",\"to\":\"2026-03-15T18:00:00.000000Z\"},"
		 "{\"fingerprint\":\"%s\",\"from\":\"2026-03-15T18:00:00.000000Z\",\"to\":\"2026-03-16T00:00:00.000000Z\"}]}\n",
		 f->hex[C1], f->hex[C3], f->hex[C1], f->hex[C3]);
	assert_string_equal(r.out, want);
	tu_run_free(&r);
	tu_cli(&r, f->dir, "--json", "primary", "show", "alice@corp.example", "--on", "2026-02-15T00:00:00Z", NOARG);
	assert_int_equal(r.exit_code, 2); /* --on takes a date */
	tu_run_free(&r);
	tu_cli(&r, f->dir, "primary", "show", "alice@corp.example", "--at", "2026-02-15", NOARG);
	assert_int_equal(r.exit_code, 2); /* --at takes an instant */
	tu_run_free(&r);
	tu_cli(&r, f->dir, "primary", "show", "alice@corp.example", "--at", "2026-02-15T00:00:00Z", "--on",
	       "2026-02-15", NOARG);
	assert_int_equal(r.exit_code, 2);
	tu_run_free(&r);
	tu_cli(&r, f->dir, "--json", "account", "show", "alice@corp.example", "--at", "2026-01-05T09:00:00Z", NOARG);
	assert_int_equal(r.exit_code, 3); /* not created yet */
	tu_run_free(&r);
	/* the unlink of the primary is cert.unlinked then primary.cleared, at one ts */
	tu_cli(&r, f->dir, "--json", "history", "--cert", f->hex[C3], NOARG);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"type\":\"cert.unlinked\""));
	const char *u = strstr(r.out, "\"type\":\"cert.unlinked\"");
	const char *cl = strstr(u, "\"type\":\"primary.cleared\"");
	assert_non_null(cl);
	assert_non_null(strstr(cl, "\"reason\":\"unlinked\""));
	tu_run_free(&r);
	open_ledger(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_primary_at_every_change),
		cmocka_unit_test(test_on_every_day),
		cmocka_unit_test(test_account_at_every_step),
		cmocka_unit_test(test_cli_same_answers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
