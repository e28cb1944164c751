/* test_bundle.c - evidence bundles end to end: `export bundle` through the CLI, then every
 * bundle checked by both verifiers, `certledger verify-bundle` and the independent Python one
 * (tests/independent/verify_bundle.py): valid bundles are accepted by both with the same
 * answer, and each kind of damage (a changed byte, a dropped event, two events swapped, a
 * checkpoint from another ledger, a proof for the wrong tree size, a key that never signed, a
 * removed admin's event, a dropped signer registration, inconsistent old checkpoints) is
 * rejected by both, at the right seq, with the right reason.
 *
 * The fixture (built once): ledger A with admins owner, alice and bob (bob removed later),
 * events signed by each, a checkpoint taken half-way; F, a fork of A made from a copy of A at
 * that checkpoint, which then went its own way (same key and origin, inconsistent history); B,
 * another ledger; and C, a ledger whose log holds an event by an admin after removal (written
 * through the unchecked append that exists for such tests). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certledger/certledger.h"
#include "ledger/append.h"
#include "ledger/encoding.h"
#include "export/inclusion_cache.h"
#include "ledger/envelope.h"
#include "ledger/keys.h"
#include "ledger/merkle.h"
#include "ledger/mp_writer.h"
#include "testutil.h"

#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

typedef struct fixture {
	char *root;
	char a[512], b[512], c[512], f[512];
	char alice_key[512], bob_key[512];
	char cp_old[512], cp_b[512], cp_fork[512]; /* checkpoint note files */
	char full[512], range[512], cons[512], bad_admin[512];
	char since8[48];                            /* ts of A's seq 8 */
	uint64_t size_a;
	int64_t clock;
} fixture;

static fixture fx;

static int64_t tick(void *ctx)
{
	int64_t *t = ctx;
	return *t += 1000000; /* one second per event */
}

static cl_ledger *open_as(const char *dir, const char *actor, const char *key)
{
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	cl_ledger *l = NULL;
	o.clock = tick;
	o.clock_ctx = &fx.clock;
	o.actor = actor;
	o.actor_key_path = key;
	if (cl_ledger_open(&l, dir, &o, &err) != CL_OK)
		fail_msg("open %s as %s: %s", dir, actor ? actor : "owner", err.msg);
	return l;
}

static cl_ledger *init_ledger(const char *dir, const char *origin)
{
	cl_init_opts in = CL_INIT_OPTS_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	const char *domains[] = {"corp.example", NULL};
	cl_ledger *l = NULL;
	in.origin = origin;
	in.org_domains = domains;
	o.clock = tick;
	o.clock_ctx = &fx.clock;
	if (cl_ledger_init(&l, dir, &in, &o, &err) != CL_OK)
		fail_msg("init %s: %s", dir, err.msg);
	return l;
}

static void accounts(cl_ledger *l, const char *prefix, int from, int to)
{
	for (int i = from; i <= to; i++) {
		char email[64];
		cl_account_created a;
		snprintf(email, sizeof(email), "%s%d@corp.example", prefix, i);
		if (cl_account_create(l, email, CL_KIND_AUTO, "Some One", &a) != CL_OK)
			fail_msg("account %s: %s", email, cl_ledger_error(l));
	}
}

static void save_checkpoint(cl_ledger *l, const char *path, uint64_t *size)
{
	uint64_t n;
	uint8_t root[32];
	char *note = NULL;
	if (cl_ledger_checkpoint(l, &n, root, &note) != CL_OK)
		fail_msg("checkpoint: %s", cl_ledger_error(l));
	tu_write_file(path, note, strlen(note));
	free(note);
	if (size)
		*size = n;
}

static int ts_cb(const cl_event_info *ev, void *ctx)
{
	cl_time_format_text(ctx, ev->ts);
	return 0;
}

/* An event signed by bob after bob was removed: only the unchecked append can write it. */
typedef struct forge_ctx {
	cl_key *bob;
} forge_ctx;

static cl_err forge_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	forge_ctx *fc = arg;
	cl_actor bob = {"bob", fc->bob};
	cl_buf data = CL_BUF_INIT(4096);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &data);
	cl_mp_map(&w, 3);
	cl_mp_str(&w, "email");
	cl_mp_str(&w, "late@corp.example");
	cl_mp_str(&w, "kind");
	cl_mp_str(&w, "internal");
	cl_mp_str(&w, "name");
	cl_mp_str(&w, "");
	cl_err rc = w.rc == CL_OK ? cl_wtxn__append_unchecked(t, &bob, "account.created", cl_buf_view(&data), NULL, err)
				  : w.rc;
	cl_buf_free(&data);
	return rc;
}

static void cli_ok(const char *ledger, const char *a1, const char *a2, const char *a3, const char *a4,
		   const char *a5, const char *a6, const char *a7, const char *a8)
{
	tu_run r;
	tu_cli(&r, ledger, a1, a2, a3, a4, a5, a6, a7, a8, NULL);
	if (r.exit_code != 0)
		fail_msg("certledger %s %s failed (%d): %s", a1, a2 ? a2 : "", r.exit_code, r.err);
	tu_run_free(&r);
}

static int setup(void **state)
{
	(void)state;
	cl_admin_info ai;
	uint64_t seq;
	fx.clock = T0;
	fx.root = tu_mkdtemp("bundle");
	snprintf(fx.a, sizeof(fx.a), "%s/a", fx.root);
	snprintf(fx.b, sizeof(fx.b), "%s/b", fx.root);
	snprintf(fx.c, sizeof(fx.c), "%s/c", fx.root);
	snprintf(fx.f, sizeof(fx.f), "%s/f", fx.root);
	snprintf(fx.alice_key, sizeof(fx.alice_key), "%s/alice.key", fx.root);
	snprintf(fx.bob_key, sizeof(fx.bob_key), "%s/bob.key", fx.root);
	snprintf(fx.cp_old, sizeof(fx.cp_old), "%s/old.cp", fx.root);
	snprintf(fx.cp_b, sizeof(fx.cp_b), "%s/b.cp", fx.root);
	snprintf(fx.cp_fork, sizeof(fx.cp_fork), "%s/fork.cp", fx.root);
	snprintf(fx.full, sizeof(fx.full), "%s/full.bundle", fx.root);
	snprintf(fx.range, sizeof(fx.range), "%s/range.bundle", fx.root);
	snprintf(fx.cons, sizeof(fx.cons), "%s/cons.bundle", fx.root);
	snprintf(fx.bad_admin, sizeof(fx.bad_admin), "%s/bad_admin.bundle", fx.root);

	/* A: seq 1-2 init, 3 alice added, 4 bob added, 5-7 owner, checkpoint */
	cl_ledger *l = init_ledger(fx.a, "bundle.test/a");
	if (cl_admin_add(l, "alice", "admin", NULL, fx.alice_key, &ai) != CL_OK ||
	    cl_admin_add(l, "bob", "admin", NULL, fx.bob_key, &ai) != CL_OK)
		fail_msg("admin add: %s", cl_ledger_error(l));
	accounts(l, "owner", 1, 3);
	save_checkpoint(l, fx.cp_old, NULL);
	cl_ledger_free(l);

	/* F: a copy of A as it is now, then a history of its own */
	tu_run r;
	char *cp[] = {"/bin/cp", "-a", fx.a, fx.f, NULL};
	tu_exec(&r, cp, NULL, 0, NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	l = open_as(fx.f, NULL, NULL);
	accounts(l, "fork", 1, 2);
	save_checkpoint(l, fx.cp_fork, NULL);
	cl_ledger_free(l);

	/* A goes on: 8-11 alice, 12-14 bob, 15 bob removed, 16-19 alice */
	l = open_as(fx.a, "alice", fx.alice_key);
	accounts(l, "alice", 1, 4);
	cl_ledger_free(l);
	l = open_as(fx.a, "bob", fx.bob_key);
	accounts(l, "bob", 1, 3);
	cl_ledger_free(l);
	l = open_as(fx.a, NULL, NULL);
	if (cl_admin_remove(l, "bob", &seq) != CL_OK)
		fail_msg("admin remove: %s", cl_ledger_error(l));
	assert_int_equal(seq, 15);
	cl_ledger_free(l);
	l = open_as(fx.a, "alice", fx.alice_key);
	accounts(l, "alice", 5, 8);
	assert_int_equal(cl_log_get(l, 8, ts_cb, fx.since8), CL_OK);
	cl_ledger_free(l);
	fx.size_a = 19;

	/* B: another ledger */
	l = init_ledger(fx.b, "bundle.test/b");
	accounts(l, "other", 1, 20); /* a tree larger than A's, so that only the keys differ */
	save_checkpoint(l, fx.cp_b, NULL);
	cl_ledger_free(l);

	/* C: bob signs after his removal (seq 6), which no write path allows */
	l = init_ledger(fx.c, "bundle.test/c");
	char bobc[600];
	snprintf(bobc, sizeof(bobc), "%s/bobc.key", fx.root);
	if (cl_admin_add(l, "bob", "admin", NULL, bobc, &ai) != CL_OK)
		fail_msg("admin add: %s", cl_ledger_error(l));
	accounts(l, "c", 1, 1);
	if (cl_admin_remove(l, "bob", &seq) != CL_OK)
		fail_msg("admin remove: %s", cl_ledger_error(l));
	forge_ctx fc = {NULL};
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_key_load(&fc.bob, bobc, &err), CL_OK);
	assert_int_equal(cl_ledger__write(l, forge_cb, &fc, &err), CL_OK);
	cl_key_free(fc.bob);
	cl_ledger_free(l);

	cli_ok(fx.a, "export", "bundle", "--out", fx.full, NULL, NULL, NULL, NULL);
	cli_ok(fx.a, "export", "bundle", "--since", fx.since8, "--out", fx.range, NULL, NULL);
	cli_ok(fx.a, "export", "bundle", "--since", fx.since8, "--since-checkpoint", fx.cp_old, "--out", fx.cons);
	cli_ok(fx.c, "export", "bundle", "--out", fx.bad_admin, NULL, NULL, NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmrf(fx.root);
	free(fx.root);
	return 0;
}

/* ---- the bundle as lines, and tampering ---- */

typedef struct lines {
	char **v;
	size_t n;
} lines;

static lines read_lines(const char *path)
{
	size_t len;
	char *text = (char *)tu_read_file(path, &len);
	lines ls = {NULL, 0};
	char *p = text;
	while (p < text + len) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		ls.v = realloc(ls.v, (ls.n + 1) * sizeof(char *));
		ls.v[ls.n++] = strndup(p, n);
		p += n + 1;
	}
	free(text);
	return ls;
}

static void write_lines(const char *path, const lines *ls)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < ls->n; i++)
		fprintf(f, "%s\n", ls->v[i]);
	fclose(f);
}

static void lines_free(lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->v[i]);
	free(ls->v);
}

static size_t line_of(const lines *ls, uint64_t seq)
{
	for (size_t i = 1; i < ls->n; i++) {
		json_t *j = json_loads(ls->v[i], 0, NULL);
		json_int_t s = json_integer_value(json_object_get(j, "seq"));
		json_decref(j);
		if ((uint64_t)s == seq)
			return i;
	}
	fail_msg("no entry for seq %llu", (unsigned long long)seq);
	return 0;
}

static void set_line(lines *ls, size_t i, json_t *j)
{
	free(ls->v[i]);
	ls->v[i] = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
}

/* The decoded envelope (or inclusion proof) of an entry; caller frees. */
static uint8_t *entry_bytes(const lines *ls, size_t i, const char *key, size_t *n)
{
	json_t *j = json_loads(ls->v[i], 0, NULL);
	const char *b64 = json_string_value(json_object_get(j, key));
	uint8_t *out = NULL;
	assert_int_equal(cl_base64_decode(&out, n, b64, strlen(b64)), CL_OK);
	json_decref(j);
	return out;
}

static void set_entry_bytes(lines *ls, size_t i, const char *key, const uint8_t *b, size_t n)
{
	json_t *j = json_loads(ls->v[i], JSON_PRESERVE_ORDER, NULL);
	char *b64 = cl_base64_encode(b, n);
	json_object_set_new(j, key, json_string(b64));
	free(b64);
	set_line(ls, i, j);
}

static void set_header(lines *ls, const char *key, json_t *value)
{
	json_t *h = json_loads(ls->v[0], JSON_PRESERVE_ORDER, NULL);
	json_object_set_new(h, key, value);
	set_line(ls, 0, h);
}

static json_t *file_string(const char *path)
{
	size_t n;
	char *t = (char *)tu_read_file(path, &n);
	json_t *s = json_stringn(t, n);
	free(t);
	return s;
}

/* ---- running both verifiers ---- */

typedef struct verdict {
	int exit_code;
	bool ok;
	uint64_t bad_seq;
	char reason[600];
	char *out;
} verdict;

static void verdict_of(tu_run *r, verdict *v, const char *who)
{
	json_error_t je;
	json_t *j = json_loads(r->out, 0, &je);
	if (j == NULL)
		fail_msg("%s printed no JSON (exit %d): %s / %s", who, r->exit_code, r->out, r->err);
	v->exit_code = r->exit_code;
	v->ok = json_is_true(json_object_get(j, "ok"));
	v->bad_seq = (uint64_t)json_integer_value(json_object_get(j, "bad_seq"));
	snprintf(v->reason, sizeof(v->reason), "%s",
		 json_string_value(json_object_get(j, "reason")) ? json_string_value(json_object_get(j, "reason")) : "");
	v->out = strdup(r->out);
	json_decref(j);
	tu_run_free(r);
}

static void run_c(const char *bundle, verdict *v)
{
	tu_run r;
	tu_cli(&r, NULL, "--json", "verify-bundle", bundle, NULL);
	verdict_of(&r, v, "verify-bundle");
}

static void run_py(const char *bundle, verdict *v)
{
	char script[1024];
	const char *src = getenv("CL_SOURCE_DIR");
	assert_non_null(src);
	snprintf(script, sizeof(script), "%s/tests/independent/verify_bundle.py", src);
	char *argv[] = {"/usr/bin/python3", script, "--json", (char *)bundle, NULL};
	tu_run r;
	tu_exec(&r, argv, NULL, 0, NULL);
	verdict_of(&r, v, "verify_bundle.py");
}

static void expect_ok(const char *bundle)
{
	verdict c, p;
	run_c(bundle, &c);
	run_py(bundle, &p);
	if (c.exit_code != 0 || !c.ok)
		fail_msg("verify-bundle refused %s: %s", bundle, c.reason);
	if (p.exit_code != 0 || !p.ok)
		fail_msg("verify_bundle.py refused %s: %s", bundle, p.reason);
	/* the same answer, field for field */
	assert_string_equal(c.out, p.out);
	free(c.out);
	free(p.out);
}

/* Both verifiers exit 4 naming bad_seq (0: no single event) and a reason starting with prefix. */
static void expect_fault(const char *bundle, uint64_t bad_seq, const char *prefix)
{
	verdict v[2];
	run_c(bundle, &v[0]);
	run_py(bundle, &v[1]);
	for (int i = 0; i < 2; i++) {
		const char *who = i ? "verify_bundle.py" : "verify-bundle";
		if (v[i].exit_code != 4 || v[i].ok)
			fail_msg("%s accepted a bad bundle (exit %d)", who, v[i].exit_code);
		if (strncmp(v[i].reason, prefix, strlen(prefix)) != 0)
			fail_msg("%s: reason \"%s\", expected \"%s...\"", who, v[i].reason, prefix);
		if (v[i].bad_seq != bad_seq)
			fail_msg("%s: bad_seq %llu, expected %llu (%s)", who, (unsigned long long)v[i].bad_seq,
				 (unsigned long long)bad_seq, v[i].reason);
		free(v[i].out);
	}
}

static const char *tmp_bundle(const char *name)
{
	static char path[600];
	snprintf(path, sizeof(path), "%s/%s.bundle", fx.root, name);
	return path;
}

/* ---- tests ---- */

static void test_valid_bundles_accepted_by_both(void **state)
{
	(void)state;
	expect_ok(fx.full);
	expect_ok(fx.range);
	expect_ok(fx.cons);
	/* the range bundle carries the signer registrations before it (1-4) and the range 8-19 */
	lines ls = read_lines(fx.range);
	assert_int_equal(ls.n, 1 + 4 + 12);
	for (uint64_t s = 1; s <= 4; s++)
		assert_int_equal(line_of(&ls, s), s);
	assert_int_equal(line_of(&ls, 8), 5);
	lines_free(&ls);
	/* and the same bundle read from stdin */
	tu_run r;
	char *text = (char *)tu_read_file(fx.range, &(size_t){0});
	tu_cli_stdin(&r, NULL, text, "verify-bundle", "-", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "12 events (seq 8..19)"));
	tu_run_free(&r);
	free(text);
}

static void test_changed_byte_in_envelope(void **state)
{
	(void)state;
	lines ls = read_lines(fx.range);
	size_t i = line_of(&ls, 10), n;
	uint8_t *env = entry_bytes(&ls, i, "envelope", &n);
	uint8_t *at = memmem(env, n, "alice3@", 7);
	assert_non_null(at);
	at[0] = 'A'; /* still a valid envelope; the body no longer matches its signature */
	set_entry_bytes(&ls, i, "envelope", env, n);
	free(env);
	write_lines(tmp_bundle("byte"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("byte"), 10, "bad signature");
}

static void test_changed_byte_in_proof(void **state)
{
	(void)state;
	lines ls = read_lines(fx.range);
	size_t i = line_of(&ls, 13), n;
	uint8_t *proof = entry_bytes(&ls, i, "inclusion", &n);
	assert_true(n >= 32);
	proof[n - 1] ^= 0x01;
	set_entry_bytes(&ls, i, "inclusion", proof, n);
	free(proof);
	write_lines(tmp_bundle("proofbyte"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("proofbyte"), 13, "inclusion proof does not verify");
}

static void test_changed_byte_in_checkpoint(void **state)
{
	(void)state;
	lines ls = read_lines(fx.range);
	json_t *h = json_loads(ls.v[0], 0, NULL);
	char *note = strdup(json_string_value(json_object_get(h, "checkpoint")));
	json_decref(h);
	char *line2 = strchr(note, '\n') + 1;
	line2[0] = line2[0] == '1' ? '2' : '1'; /* another tree size under the same signature */
	set_header(&ls, "checkpoint", json_string(note));
	free(note);
	write_lines(tmp_bundle("cpbyte"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("cpbyte"), 0, "checkpoint: ");
}

static void drop_line(lines *ls, size_t i)
{
	free(ls->v[i]);
	memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(char *));
	ls->n--;
}

static void test_dropped_event(void **state)
{
	(void)state;
	lines ls = read_lines(fx.range);
	drop_line(&ls, line_of(&ls, 12));
	write_lines(tmp_bundle("drop"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("drop"), 12, "event seq 12 is missing (found seq 13 in its place)");

	/* the last one: the bundle ends early */
	ls = read_lines(fx.range);
	drop_line(&ls, ls.n - 1);
	write_lines(tmp_bundle("droplast"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("droplast"), 19, "event seq 19 is missing (the bundle ends at seq 18)");
}

static void test_swapped_events(void **state)
{
	(void)state;
	lines ls = read_lines(fx.range);
	size_t i = line_of(&ls, 12);
	char *t = ls.v[i];
	ls.v[i] = ls.v[i + 1];
	ls.v[i + 1] = t;
	write_lines(tmp_bundle("swap"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("swap"), 12, "events out of order: seq 13 comes before seq 12");
}

static void test_checkpoint_from_another_ledger(void **state)
{
	(void)state;
	/* B's checkpoint in A's bundle: not signed by A's key under A's origin */
	lines ls = read_lines(fx.range);
	set_header(&ls, "checkpoint", file_string(fx.cp_b));
	write_lines(tmp_bundle("foreigncp"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("foreigncp"), 0, "checkpoint: ");

	/* B's checkpoint with B's origin and key in the header: the checkpoint now verifies, but the
	 * envelopes are A's, whose seq 1 names another key */
	tu_run r;
	tu_cli(&r, fx.b, "--json", "export", "bundle", "--out", tmp_bundle("b"), NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	lines lb = read_lines(tmp_bundle("b"));
	json_t *hb = json_loads(lb.v[0], 0, NULL);
	ls = read_lines(fx.full);
	set_header(&ls, "origin", json_incref(json_object_get(hb, "origin")));
	set_header(&ls, "public_key", json_incref(json_object_get(hb, "public_key")));
	set_header(&ls, "checkpoint", json_incref(json_object_get(hb, "checkpoint")));
	json_decref(hb);
	lines_free(&lb);
	write_lines(tmp_bundle("foreignhdr"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("foreignhdr"), 1, "ledger.created (seq 1) does not name the bundle's origin");
}

static void test_proof_for_wrong_size(void **state)
{
	(void)state;
	cl_ledger *l = open_as(fx.a, NULL, NULL);
	uint8_t leaf[32], *hashes = NULL;
	size_t n = 0;
	uint64_t used;
	assert_int_equal(cl_ledger_inclusion_proof(l, 9, fx.size_a - 1, leaf, &used, &hashes, &n), CL_OK);
	assert_int_equal(used, fx.size_a - 1);
	cl_ledger_free(l);
	lines ls = read_lines(fx.range);
	set_entry_bytes(&ls, line_of(&ls, 9), "inclusion", hashes, n * 32);
	free(hashes);
	write_lines(tmp_bundle("size"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("size"), 9, "inclusion proof does not verify: seq 9");
}

static void test_key_that_never_signed(void **state)
{
	(void)state;
	/* seq 10 (alice's) re-signed by a key nobody registered: body, chain and proof input intact */
	lines ls = read_lines(fx.range);
	size_t i = line_of(&ls, 10), n;
	uint8_t *env = entry_bytes(&ls, i, "envelope", &n);
	cl_event ev;
	cl_error err = CL_ERROR_INIT;
	cl_key *k = NULL;
	uint8_t sig[64];
	cl_buf out = CL_BUF_INIT(1 << 20);
	assert_int_equal(cl_envelope_decode(CL_BYTES(env, n), &ev, &err), CL_OK);
	assert_int_equal(cl_key_generate(&k, &err), CL_OK);
	assert_int_equal(cl_event_sign(k, NULL, ev.body, sig), CL_OK);
	assert_int_equal(cl_envelope_encode(&out, ev.body, sig, k->signer_id), CL_OK);
	set_entry_bytes(&ls, i, "envelope", out.ptr, out.len);
	write_lines(tmp_bundle("foreignkey"), &ls);
	lines_free(&ls);
	cl_buf_free(&out);
	cl_key_free(k);
	free(env);
	expect_fault(tmp_bundle("foreignkey"), 10, "signer not allowed: seq 10: the signing key is not the key of admin 'alice'");
}

static void test_removed_admin_event(void **state)
{
	(void)state;
	/* C's log holds an event bob signed after his removal: exported as is, refused by both */
	expect_fault(fx.bad_admin, 6, "signer not allowed: seq 6: admin 'bob' was removed at seq 5");
}

static void test_dropped_signer_registration(void **state)
{
	(void)state;
	/* without alice's admin.added (seq 3), her events in the range have no registered signer */
	lines ls = read_lines(fx.range);
	drop_line(&ls, line_of(&ls, 3));
	write_lines(tmp_bundle("noalice"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("noalice"), 8, "signer not allowed: seq 8: no admin named 'alice'");
}

static void test_consistency_accepted(void **state)
{
	(void)state;
	tu_run r;
	tu_cli(&r, NULL, "--json", "verify-bundle", fx.cons, NULL);
	assert_int_equal(r.exit_code, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "old_size")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "tree_size")), fx.size_a);
	json_decref(j);
	tu_run_free(&r);
	expect_ok(fx.cons);
}

static void test_consistency_from_another_ledger_rejected(void **state)
{
	(void)state;
	tu_run r;
	tu_cli(&r, fx.a, "export", "bundle", "--since-checkpoint", fx.cp_b, "--out", tmp_bundle("x"), NULL);
	assert_int_equal(r.exit_code, 4);
	assert_non_null(strstr(r.err, "is not this ledger's"));
	tu_run_free(&r);
	assert_int_equal(access(tmp_bundle("x"), F_OK), -1); /* nothing left behind */

	lines ls = read_lines(fx.cons);
	json_t *h = json_loads(ls.v[0], 0, NULL);
	json_t *c = json_deep_copy(json_object_get(h, "consistency"));
	json_decref(h);
	json_object_set_new(c, "old_checkpoint", file_string(fx.cp_b));
	set_header(&ls, "consistency", c);
	write_lines(tmp_bundle("oldforeign"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("oldforeign"), 0, "old checkpoint: ");
}

static void test_inconsistent_checkpoint_rejected(void **state)
{
	(void)state;
	/* F's checkpoint is signed by the same key under the same origin, but F forked */
	tu_run r;
	tu_cli(&r, fx.a, "export", "bundle", "--since-checkpoint", fx.cp_fork, "--out", tmp_bundle("y"), NULL);
	assert_int_equal(r.exit_code, 4);
	assert_non_null(strstr(r.err, "is not consistent with this ledger"));
	tu_run_free(&r);

	lines ls = read_lines(fx.cons);
	json_t *h = json_loads(ls.v[0], 0, NULL);
	json_t *c = json_deep_copy(json_object_get(h, "consistency"));
	json_decref(h);
	json_object_set_new(c, "old_checkpoint", file_string(fx.cp_fork));
	set_header(&ls, "consistency", c);
	write_lines(tmp_bundle("oldfork"), &ls);
	lines_free(&ls);
	expect_fault(tmp_bundle("oldfork"), 0, "consistency proof does not verify");
}

static void test_malformed_bundles(void **state)
{
	(void)state;
	tu_write_file(tmp_bundle("empty"), "", 0);
	expect_fault(tmp_bundle("empty"), 0, "malformed bundle: the file is empty");
	tu_write_file(tmp_bundle("junk"), "{\"format\":1}\n", 13);
	expect_fault(tmp_bundle("junk"), 0, "malformed bundle: line 1 is not a bundle header");
	/* non-canonical base64 (a stray bit before the padding) in one envelope */
	lines ls = read_lines(fx.range);
	size_t i;
	char want[96];
	uint64_t seq = 8;
	for (;; seq++) {
		assert_true(seq <= 19);
		json_t *j = json_loads(ls.v[line_of(&ls, seq)], JSON_PRESERVE_ORDER, NULL);
		char *env = strdup(json_string_value(json_object_get(j, "envelope")));
		size_t n = strlen(env);
		if (env[n - 1] != '=') {
			free(env);
			json_decref(j);
			continue;
		}
		/* the last character before the padding carries unused low bits: set one */
		size_t last = env[n - 2] == '=' ? n - 3 : n - 2;
		const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		env[last] = alphabet[(strchr(alphabet, env[last]) - alphabet) | 1];
		json_object_set_new(j, "envelope", json_string(env));
		free(env);
		set_line(&ls, line_of(&ls, seq), j);
		break;
	}
	write_lines(tmp_bundle("b64"), &ls);
	lines_free(&ls);
	snprintf(want, sizeof(want), "malformed bundle: the envelope or inclusion proof of seq %llu", (unsigned long long)seq);
	expect_fault(tmp_bundle("b64"), seq, want);
	/* a NUL byte is not a line break: an entry cut in two by one is not read as one entry */
	ls = read_lines(fx.range);
	i = line_of(&ls, 9);
	size_t len = strlen(ls.v[i]), cut = strstr(ls.v[i], "\"envelope\":\"") - ls.v[i] + 20;
	FILE *f = fopen(tmp_bundle("nul"), "w");
	for (size_t k = 0; k < ls.n; k++) {
		if (k != i) {
			fprintf(f, "%s\n", ls.v[k]);
			continue;
		}
		fwrite(ls.v[k], 1, cut, f);
		fwrite("\0junk\n", 1, 6, f); /* "...<NUL>junk\n" then the rest of the line */
		fwrite(ls.v[k] + cut, 1, len - cut, f);
		fputc('\n', f);
	}
	fclose(f);
	lines_free(&ls);
	snprintf(want, sizeof(want), "malformed bundle: line %zu is not an entry", i + 1);
	expect_fault(tmp_bundle("nul"), 0, want);
	/* a pinned key that is not the bundle's */
	tu_run r;
	tu_cli(&r, NULL, "verify-bundle", fx.range, "--public-key",
	       "0000000000000000000000000000000000000000000000000000000000000000", NULL);
	assert_int_equal(r.exit_code, 4);
	assert_non_null(strstr(r.err, "not the expected one"));
	tu_run_free(&r);
}

/* ---- the verifier's proof cache answers exactly as the RFC 9162 check ---- */

#define MAXLEAVES 300

typedef struct memtree {
	uint8_t node[10][MAXLEAVES][32];
	bool have[10][MAXLEAVES];
} memtree;

static cl_err mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
	memtree *m = ctx;
	if (level >= 10 || index >= MAXLEAVES || !m->have[level][index])
		return CL_ENOTFOUND;
	memcpy(out, m->node[level][index], 32);
	return CL_OK;
}

static cl_err mem_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[32])
{
	memtree *m = ctx;
	if (level >= 10 || index >= MAXLEAVES)
		return CL_ETOOLARGE;
	memcpy(m->node[level][index], h, 32);
	m->have[level][index] = true;
	return CL_OK;
}

static void test_inclusion_cache_agrees_with_rfc_check(void **state)
{
	(void)state;
	memtree *m = calloc(1, sizeof(*m));
	uint8_t leaves[MAXLEAVES][32];
	for (uint64_t i = 0; i < MAXLEAVES; i++) {
		uint8_t entry[8];
		cl_be64_put(entry, i * 7919);
		cl_merkle_leaf_hash(CL_BYTES(entry, 8), leaves[i]);
		assert_int_equal(cl_merkle_append(mem_get, mem_put, m, i, leaves[i]), CL_OK);
	}
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
	uint64_t checked = 0, refused = 0;
	for (uint64_t size = 1; size <= MAXLEAVES; size += size < 70 ? 1 : 23) {
		uint8_t root[32];
		assert_int_equal(cl_merkle_root(mem_get, m, size, root), CL_OK);
		cl_incl_cache c;
		cl_incl_cache_init(&c, size, root);
		/* every leaf in order (where the cache helps), with damage mixed in: a flipped bit in
		 * the leaf, in one hash of the proof, a proof for the next size, a proof cut short or
		 * lengthened, the wrong index */
		for (uint64_t i = 0; i < size; i++) {
			assert_int_equal(cl_merkle_inclusion_proof(mem_get, m, i, size, &proof), CL_OK);
			for (int damage = 0; damage < 7; damage++) {
				uint8_t leaf[32], p[CL_MERKLE_PROOF_MAX_BYTES + 32];
				size_t n = proof.len;
				uint64_t index = i;
				memcpy(leaf, leaves[i], 32);
				if (proof.len > 0)
					memcpy(p, proof.ptr, proof.len);
				if (damage == 1)
					leaf[(i * 5) % 32] ^= 0x40;
				if (damage == 2 && n > 0)
					p[(i * 13) % n] ^= 0x01;
				if (damage == 3 && size < MAXLEAVES) {
					cl_buf other = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
					assert_int_equal(cl_merkle_inclusion_proof(mem_get, m, i, size + 1, &other), CL_OK);
					if (other.len > 0)
						memcpy(p, other.ptr, other.len);
					n = other.len;
					cl_buf_free(&other);
				}
				if (damage == 4 && n > 0)
					n -= 32;
				if (damage == 5) {
					memcpy(p + n, leaves[0], 32);
					n += 32;
				}
				if (damage == 6)
					index = (i + 1) % (size + 1); /* also size itself: out of range */
				bool want = cl_merkle_verify_inclusion(leaf, index, size, CL_BYTES(p, n), root);
				bool got = cl_incl_cache_verify(&c, leaf, index, CL_BYTES(p, n));
				if (want != got)
					fail_msg("size %llu leaf %llu damage %d: RFC check %d, cache %d", (unsigned long long)size,
						 (unsigned long long)i, damage, want, got);
				assert_true(damage != 0 || got);
				checked++;
				refused += !got;
			}
		}
	}
	assert_true(refused > checked / 2);
	cl_buf_free(&proof);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_bundles_accepted_by_both),
		cmocka_unit_test(test_changed_byte_in_envelope),
		cmocka_unit_test(test_changed_byte_in_proof),
		cmocka_unit_test(test_changed_byte_in_checkpoint),
		cmocka_unit_test(test_dropped_event),
		cmocka_unit_test(test_swapped_events),
		cmocka_unit_test(test_checkpoint_from_another_ledger),
		cmocka_unit_test(test_proof_for_wrong_size),
		cmocka_unit_test(test_key_that_never_signed),
		cmocka_unit_test(test_removed_admin_event),
		cmocka_unit_test(test_dropped_signer_registration),
		cmocka_unit_test(test_consistency_accepted),
		cmocka_unit_test(test_consistency_from_another_ledger_rejected),
		cmocka_unit_test(test_inconsistent_checkpoint_rejected),
		cmocka_unit_test(test_malformed_bundles),
		cmocka_unit_test(test_inclusion_cache_agrees_with_rfc_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
