/* test_cli_core.c - black-box tests of the built `certledger` binary for the ledger-core
 * commands of issue 2 (init, log, verify, checkpoint, proof, account create): output fields of
 * CLI.md, exit codes of every refusal path, and "nothing written" (LMDB digest unchanged).
 * Proofs and checkpoints printed by the CLI are checked with the library's own verifiers
 * against the public key that `init --json` printed, never against the CLI's word. */
#include <jansson.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "certledger/certledger.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "testutil.h"

#define ORIGIN "cli.example/log"
#define NOARG ((const char *)NULL)

typedef struct fx {
	char *root;
	char ledger[600];
	char pub_hex[65];
	uint8_t pub[32];
} fx;

/* ---- helpers ---- */

static json_t *json_of(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL)
		fail_msg("not JSON (%s): %s", e.text, text);
	return j;
}

/* The JSON lines of text, as one array. */
static json_t *json_lines(const char *text)
{
	json_t *a = json_array();
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);
		if (n > 0)
			json_array_append_new(a, json_of(line));
		free(line);
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

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		fail_msg("field '%s' is missing or not an integer", key);
	return (long long)json_integer_value(v);
}

/* The object has exactly these keys (NULL-terminated), in this order. */
static void assert_keys(json_t *o, const char *const *keys)
{
	assert_true(json_is_object(o));
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

static bool matches(const char *pattern, const char *s)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

#define RFC3339_US "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"
#define HEX64 "^[0-9a-f]{64}$"

/* Decodes canonical base64 of exactly want bytes. */
static void b64(const char *s, uint8_t *out, size_t want)
{
	size_t n = strlen(s);
	uint8_t buf[256];
	assert_true(n % 4 == 0 && n / 4 * 3 <= sizeof(buf));
	int got = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
	assert_true(got >= 0);
	if (n >= 1 && s[n - 1] == '=')
		got--;
	if (n >= 2 && s[n - 2] == '=')
		got--;
	assert_int_equal((size_t)got, want);
	memcpy(out, buf, want);
}

/* The "hashes" array of a proof, decoded (malloc'd, n*32 bytes). */
static uint8_t *proof_hashes(json_t *o, size_t *n)
{
	json_t *a = json_object_get(o, "hashes");
	assert_true(json_is_array(a));
	*n = json_array_size(a);
	uint8_t *h = malloc(*n * 32 + 1);
	for (size_t i = 0; i < *n; i++)
		b64(json_string_value(json_array_get(a, i)), h + 32 * i, 32);
	return h;
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void expect_exit(tu_run *r, int code)
{
	if (r->exit_code != code)
		fail_msg("exit %d, expected %d\nstdout: %s\nstderr: %s", r->exit_code, code, r->out, r->err);
}

/* Runs a command that must succeed and returns its stdout parsed as one JSON object. */
static json_t *cli_json(const char *ledger, const char *a1, const char *a2, const char *a3, const char *a4,
			const char *a5)
{
	tu_run r;
	tu_cli(&r, ledger, "--json", a1, a2, a3, a4, a5, NOARG);
	expect_exit(&r, 0);
	json_t *j = json_of(r.out);
	tu_run_free(&r);
	return j;
}

static void account(const char *ledger, const char *email)
{
	tu_run r;
	tu_cli(&r, ledger, "account", "create", email, NOARG);
	expect_exit(&r, 0);
	tu_run_free(&r);
}

/* A fresh ledger made by `init --json`, with the identity it printed. */
static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	f->root = tu_mkdtemp("cli");
	snprintf(f->ledger, sizeof(f->ledger), "%s/ledger", f->root);
	tu_run r;
	tu_cli(&r, f->ledger, "init", "--json", "--org-domain", "corp.example", "--origin", ORIGIN, NOARG);
	expect_exit(&r, 0);
	json_t *j = json_of(r.out);
	snprintf(f->pub_hex, sizeof(f->pub_hex), "%s", jstr(j, "public_key"));
	unhex(f->pub_hex, f->pub, 32);
	json_decref(j);
	tu_run_free(&r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	tu_rmrf(f->root);
	free(f->root);
	free(f);
	return 0;
}

/* ---- init ---- */

static void test_init_fields_and_twice_refused(void **state)
{
	(void)state;
	char *root = tu_mkdtemp("cli-init");
	char ledger[600], key[700];
	snprintf(ledger, sizeof(ledger), "%s/l", root);
	tu_run r;
	tu_cli(&r, ledger, "init", "--json", "--org-domain", "corp.example", "--origin", ORIGIN, NOARG);
	expect_exit(&r, 0);
	json_t *j = json_of(r.out);
	static const char *const keys[] = {"ledger_id", "origin", "public_key", "verifier_key", NULL};
	assert_keys(j, keys);
	assert_true(matches("^[0-9a-f]{32}$", jstr(j, "ledger_id")));
	assert_string_equal(jstr(j, "origin"), ORIGIN);
	assert_true(matches(HEX64, jstr(j, "public_key")));
	/* verifier key: origin+<8 hex key id>+base64(0x01 || key) */
	const char *vk = jstr(j, "verifier_key");
	assert_true(matches("^cli\\.example/log\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{44}$", vk));
	uint8_t pub[32], vkey[33], id[4];
	unhex(jstr(j, "public_key"), pub, 32);
	b64(vk + strlen(ORIGIN) + 10, vkey, 33);
	assert_int_equal(vkey[0], 0x01);
	assert_memory_equal(vkey + 1, pub, 32);
	assert_int_equal(cl_note_key_id(ORIGIN, pub, id), CL_OK);
	char idhex[9];
	snprintf(idhex, sizeof(idhex), "%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
	assert_memory_equal(vk + strlen(ORIGIN) + 1, idhex, 8);
	json_decref(j);
	tu_run_free(&r);

	/* key files are private */
	struct stat st;
	snprintf(key, sizeof(key), "%s/keys/ledger.key", ledger);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);

	/* a second init in the same directory is refused and changes nothing */
	char before[65], after[65];
	size_t klen1, klen2;
	tu_ledger_digest(ledger, before);
	uint8_t *k1 = tu_read_file(key, &klen1);
	tu_cli(&r, ledger, "init", "--origin", "other.example/log", NOARG);
	expect_exit(&r, 1);
	assert_true(strncmp(r.err, "certledger: ", 12) == 0);
	assert_non_null(strstr(r.err, "already"));
	assert_int_equal(r.out_len, 0);
	tu_run_free(&r);
	tu_ledger_digest(ledger, after);
	assert_string_equal(before, after);
	uint8_t *k2 = tu_read_file(key, &klen2);
	assert_int_equal(klen1, klen2);
	assert_memory_equal(k1, k2, klen1);
	free(k1);
	free(k2);
	tu_rmrf(root);
	free(root);
}

/* ---- --help and usage errors ---- */

static void test_help_of_every_command(void **state)
{
	fx *f = *state;
	char missing[700];
	snprintf(missing, sizeof(missing), "%s/no-such-ledger", f->root);
	static const char *const cmds[][4] = {
		{"--help", NULL},
		{"help", NULL},
		{"init", "--help", NULL},
		{"log", "--help", NULL},
		{"verify", "--help", NULL},
		{"checkpoint", "--help", NULL},
		{"proof", "--help", NULL},
		{"proof", "inclusion", "--help", NULL},
		{"proof", "consistency", "--help", NULL},
		{"account", "--help", NULL},
		{"account", "create", "--help", NULL},
		{"account", "create", "-h", NULL},
		{"admin", "--help", NULL},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		tu_run r;
		/* help never needs (or touches) a ledger */
		tu_cli(&r, missing, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3], NOARG);
		if (r.exit_code != 0 || strstr(r.out, "usage: certledger") == NULL || r.err_len != 0)
			fail_msg("'%s %s %s': exit %d\nstdout: %s\nstderr: %s", cmds[i][0], cmds[i][1] ? cmds[i][1] : "",
				 cmds[i][1] && cmds[i][2] ? cmds[i][2] : "", r.exit_code, r.out, r.err);
		tu_run_free(&r);
	}
	struct stat st;
	assert_int_equal(stat(missing, &st), -1);
}

static void test_usage_errors_exit_2(void **state)
{
	fx *f = *state;
	static const char *const cmds[][6] = {
		{NULL},
		{"frobnicate", NULL},
		{"log", "--bogus", NULL},
		{"log", "--from", NULL},
		{"log", "--from", "x", NULL},
		{"log", "--from", "0", NULL},
		{"log", "--since", "yesterday", NULL},
		{"log", "extra", NULL},
		{"verify", "--nope", NULL},
		{"verify", "--from", "-1", NULL},
		{"init", "--wat", NULL},
		{"checkpoint", "extra", NULL},
		{"proof", NULL},
		{"proof", "membership", "1", NULL},
		{"proof", "inclusion", NULL},
		{"proof", "inclusion", "abc", NULL},
		{"proof", "inclusion", "1", "--size", "0", NULL},
		{"proof", "consistency", "5", NULL},
		{"proof", "consistency", "5", "3", NULL},
		{"account", NULL},
		{"account", "frob", NULL},
		{"account", "create", NULL},
		{"account", "create", "a@corp.example", "b@corp.example", NULL},
		{"account", "create", "a@corp.example", "--internal", "--external", NULL},
		{"account", "create", "a@corp.example", "--name", NULL},
		{"account", "create", "a@corp.example", "--colour", "red", NULL},
		{"--ledger", NULL},
	};
	char before[65], after[65];
	tu_ledger_digest(f->ledger, before);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		tu_run r;
		if (i + 1 == sizeof(cmds) / sizeof(cmds[0]))
			tu_cli(&r, NULL, cmds[i][0], NOARG); /* --ledger without its value */
		else
			tu_cli(&r, f->ledger, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3], cmds[i][4], cmds[i][5], NOARG);
		/* the first line is ours (getopt prints nothing of its own) */
		if (r.exit_code != 2 || (strncmp(r.err, "certledger: ", 12) != 0 && strncmp(r.err, "usage:", 6) != 0))
			fail_msg("'%s %s %s': exit %d (expected 2)\nstderr: %s", cmds[i][0] ? cmds[i][0] : "",
				 cmds[i][0] && cmds[i][1] ? cmds[i][1] : "",
				 cmds[i][0] && cmds[i][1] && cmds[i][2] ? cmds[i][2] : "", r.exit_code, r.err);
		tu_run_free(&r);
	}
	tu_ledger_digest(f->ledger, after);
	assert_string_equal(before, after);
}

/* ---- log ---- */

static json_t *log_json(const char *ledger, const char *a1, const char *a2, const char *a3, const char *a4)
{
	tu_run r;
	tu_cli(&r, ledger, "--json", "log", a1, a2, a3, a4, NOARG);
	expect_exit(&r, 0);
	json_t *a = json_lines(r.out);
	tu_run_free(&r);
	return a;
}

/* The seqs of a log output, as "1,2,3". */
static void seqs_of(json_t *a, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(a); i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%lld", i ? "," : "", jint(json_array_get(a, i), "seq"));
}

static void expect_seqs(const char *ledger, const char *expected, const char *a1, const char *a2, const char *a3,
			const char *a4)
{
	json_t *a = log_json(ledger, a1, a2, a3, a4);
	char got[256];
	seqs_of(a, got, sizeof(got));
	if (strcmp(got, expected) != 0)
		fail_msg("log %s %s %s %s: seqs [%s], expected [%s]", a1 ? a1 : "", a1 && a2 ? a2 : "",
			 a1 && a2 && a3 ? a3 : "", a1 && a2 && a3 && a4 ? a4 : "", got, expected);
	json_decref(a);
}

typedef struct ids {
	char hex[8][65];
	size_t n;
} ids;

static int collect_id(const cl_event_info *ev, void *ctx)
{
	ids *x = ctx;
	for (size_t i = 0; i < 32; i++)
		snprintf(x->hex[x->n] + 2 * i, 3, "%02x", ev->id[i]);
	x->n++;
	return 0;
}

static void test_log_fields_and_filters(void **state)
{
	fx *f = *state;
	account(f->ledger, "alice@corp.example");
	account(f->ledger, "bob@partner.example");
	account(f->ledger, "carol@corp.example");

	json_t *all = log_json(f->ledger, NOARG, NOARG, NOARG, NOARG);
	assert_int_equal(json_array_size(all), 5);
	static const char *const keys[] = {"seq", "ts", "type", "actor", "id", "data", NULL};
	ids lib = {0};
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	o.read_only = true;
	assert_int_equal(cl_ledger_open(&l, f->ledger, &o, &err), CL_OK);
	assert_int_equal(cl_log_each(l, NULL, collect_id, &lib), CL_OK);
	cl_ledger_free(l);
	assert_int_equal(lib.n, 5);
	char ts[6][40];
	for (size_t i = 0; i < 5; i++) {
		json_t *e = json_array_get(all, i);
		assert_keys(e, keys);
		assert_int_equal(jint(e, "seq"), (long long)i + 1);
		assert_true(matches(RFC3339_US, jstr(e, "ts")));
		snprintf(ts[i + 1], sizeof(ts[i + 1]), "%s", jstr(e, "ts"));
		assert_true(matches(HEX64, jstr(e, "id")));
		assert_string_equal(jstr(e, "id"), lib.hex[i]);
		assert_true(json_is_object(json_object_get(e, "data")));
		if (i > 0)
			assert_true(strcmp(ts[i], ts[i + 1]) <= 0);
	}
	json_t *e1 = json_array_get(all, 0), *d1 = json_object_get(e1, "data");
	assert_string_equal(jstr(e1, "type"), "ledger.created");
	assert_string_equal(jstr(e1, "actor"), "ledger");
	assert_string_equal(jstr(d1, "origin"), ORIGIN);
	assert_string_equal(jstr(d1, "public_key"), f->pub_hex);
	json_t *e2 = json_array_get(all, 1), *d2 = json_object_get(e2, "data");
	assert_string_equal(jstr(e2, "type"), "admin.added");
	assert_string_equal(jstr(d2, "name"), "owner");
	assert_string_equal(jstr(d2, "role"), "owner");
	json_t *e4 = json_array_get(all, 3), *d4 = json_object_get(e4, "data");
	assert_string_equal(jstr(e4, "type"), "account.created");
	assert_string_equal(jstr(e4, "actor"), "owner");
	assert_string_equal(jstr(d4, "email"), "bob@partner.example");
	assert_string_equal(jstr(d4, "kind"), "external");
	json_decref(all);

	/* seq ranges */
	expect_seqs(f->ledger, "2,3,4", "--from", "2", "--to", "4");
	expect_seqs(f->ledger, "4,5", "--from", "4", NOARG, NOARG);
	expect_seqs(f->ledger, "1,2", "--to", "2", NOARG, NOARG);
	expect_seqs(f->ledger, "5", "--from", "5", "--to", "99");
	expect_seqs(f->ledger, "", "--from", "6", NOARG, NOARG);
	/* time windows: --since inclusive, --until exclusive (each account was made by its own
	 * process, so seqs 3, 4, 5 have distinct ts) */
	assert_true(strcmp(ts[3], ts[4]) < 0 && strcmp(ts[4], ts[5]) < 0);
	expect_seqs(f->ledger, "4,5", "--since", ts[4], NOARG, NOARG);
	expect_seqs(f->ledger, "1,2,3", "--until", ts[4], NOARG, NOARG);
	expect_seqs(f->ledger, "3,4", "--since", ts[3], "--until", ts[5]);
	expect_seqs(f->ledger, "3,4", "--since", ts[3], "--to", "4");
	expect_seqs(f->ledger, "4,5", "--since", ts[4], "--from", "3");
	expect_seqs(f->ledger, "5", "--since", ts[4], "--from", "5");
	char offset[48];
	snprintf(offset, sizeof(offset), "%.*s+00:00", (int)strlen(ts[4]) - 1, ts[4]);
	expect_seqs(f->ledger, "4,5", "--since", offset, NOARG, NOARG);
	expect_seqs(f->ledger, "1,2,3,4,5", "--since", "2000-01-01", NOARG, NOARG);
	expect_seqs(f->ledger, "", "--until", "2000-01-01", NOARG, NOARG);

	/* text output: one line per event */
	tu_run r;
	tu_cli(&r, f->ledger, "log", NOARG);
	expect_exit(&r, 0);
	size_t lines = 0;
	for (const char *p = r.out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 5);
	assert_non_null(strstr(r.out, "carol@corp.example"));
	tu_run_free(&r);
}

/* ---- verify ---- */

static void copy_file(const char *from, const char *to)
{
	size_t n;
	uint8_t *d = tu_read_file(from, &n);
	tu_write_file(to, d, n);
	free(d);
}

/* Copies the ledger's LMDB data file to dst (a new directory) and flips one byte of the
 * signature of the envelope at seq. */
static void tampered_copy(const char *ledger, const char *dst, uint64_t seq)
{
	char p[800], q[800];
	assert_int_equal(mkdir(dst, 0700), 0);
	snprintf(p, sizeof(p), "%s/db", dst);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/db/data.mdb", ledger);
	snprintf(q, sizeof(q), "%s/db/data.mdb", dst);
	copy_file(p, q);

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi log;
	snprintf(p, sizeof(p), "%s/db", dst);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, p, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "log", 0, &log), 0);
	uint8_t k[8];
	for (int i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)seq;
	MDB_val key = {8, k}, val;
	assert_int_equal(mdb_get(txn, log, &key, &val), 0);
	uint8_t *copy = malloc(val.mv_size);
	memcpy(copy, val.mv_data, val.mv_size);
	/* the envelope ends with bin8(64) sig, bin8(32) signer: this byte is inside the signature */
	copy[val.mv_size - 34 - 20] ^= 0x01;
	val.mv_data = copy;
	assert_int_equal(mdb_put(txn, log, &key, &val, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

static void test_verify_ok_and_tampered(void **state)
{
	fx *f = *state;
	account(f->ledger, "alice@corp.example");
	account(f->ledger, "bob@corp.example");
	account(f->ledger, "carol@corp.example");

	tu_run r;
	tu_cli(&r, f->ledger, "verify", NOARG);
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "ok"));
	tu_run_free(&r);
	json_t *j = cli_json(f->ledger, "verify", NOARG, NOARG, NOARG, NOARG);
	static const char *const ok_keys[] = {"ok", "events", "head", NULL};
	assert_keys(j, ok_keys);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(jint(j, "events"), 5);
	assert_int_equal(jint(j, "head"), 5);
	json_decref(j);

	char bad[700];
	snprintf(bad, sizeof(bad), "%s/tampered", f->root);
	tampered_copy(f->ledger, bad, 4);
	tu_cli(&r, bad, "verify", NOARG);
	expect_exit(&r, 4);
	assert_true(strncmp(r.err, "certledger: ", 12) == 0);
	if (strstr(r.err, "seq 4") == NULL)
		fail_msg("the message does not name seq 4: %s", r.err);
	tu_run_free(&r);
	tu_cli(&r, bad, "--json", "verify", NOARG);
	expect_exit(&r, 4);
	j = json_of(r.out);
	static const char *const bad_keys[] = {"ok", "events", "head", "bad_seq", "reason", NULL};
	assert_keys(j, bad_keys);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(jint(j, "bad_seq"), 4);
	assert_true(strlen(jstr(j, "reason")) > 0);
	json_decref(j);
	tu_run_free(&r);

	/* the original is untouched and still verifies */
	tu_cli(&r, f->ledger, "verify", NOARG);
	expect_exit(&r, 0);
	tu_run_free(&r);
}

/* ---- checkpoint and proofs ---- */

typedef struct cp {
	long long size;
	uint8_t root[32];
	char *note;
} cp;

static cp checkpoint(fx *f)
{
	json_t *j = cli_json(f->ledger, "checkpoint", NOARG, NOARG, NOARG, NOARG);
	static const char *const keys[] = {"size", "root", "note", NULL};
	assert_keys(j, keys);
	cp c;
	c.size = jint(j, "size");
	b64(jstr(j, "root"), c.root, 32);
	c.note = strdup(jstr(j, "note"));
	json_decref(j);
	/* the note is a checkpoint signed by the key init printed, for this size and root */
	uint64_t size = 0;
	uint8_t root[32];
	char *origin = NULL;
	cl_error err = CL_ERROR_INIT;
	if (cl_checkpoint_open(CL_BYTES(c.note, strlen(c.note)), ORIGIN, f->pub, &size, root, &origin, &err) != CL_OK)
		fail_msg("the checkpoint does not open: %s\n%s", err.msg, c.note);
	assert_string_equal(origin, ORIGIN);
	free(origin);
	assert_int_equal(size, (uint64_t)c.size);
	assert_memory_equal(root, c.root, 32);
	return c;
}

static void leaf_hash_of(fx *f, uint64_t seq, uint8_t out[32]);

static void check_inclusion(fx *f, uint64_t seq, const cp *c, const char *size_arg)
{
	char s[24];
	snprintf(s, sizeof(s), "%llu", (unsigned long long)seq);
	json_t *j = size_arg ? cli_json(f->ledger, "proof", "inclusion", s, "--size", size_arg)
			     : cli_json(f->ledger, "proof", "inclusion", s, NOARG, NOARG);
	static const char *const keys[] = {"leaf_index", "size", "leaf_hash", "hashes", NULL};
	assert_keys(j, keys);
	assert_int_equal(jint(j, "leaf_index"), (long long)seq - 1);
	assert_int_equal(jint(j, "size"), c->size);
	uint8_t leaf[32], want[32];
	b64(jstr(j, "leaf_hash"), leaf, 32);
	leaf_hash_of(f, seq, want);
	assert_memory_equal(leaf, want, 32);
	size_t n;
	uint8_t *h = proof_hashes(j, &n);
	cl_bytes hb = CL_BYTES(h, n * 32);
	assert_true(cl_merkle_verify_inclusion(leaf, seq - 1, (uint64_t)c->size, hb, c->root));
	/* the same proof does not prove another index, or a changed hash */
	if (c->size > 1)
		assert_false(cl_merkle_verify_inclusion(leaf, seq % (uint64_t)c->size, (uint64_t)c->size, hb, c->root));
	if (n > 0) {
		h[0] ^= 1;
		assert_false(cl_merkle_verify_inclusion(leaf, seq - 1, (uint64_t)c->size, hb, c->root));
	}
	free(h);
	json_decref(j);
}

typedef struct leaf_ctx {
	uint8_t hash[32];
	bool found;
} leaf_ctx;

static int leaf_cb(const cl_event_info *ev, void *ctx)
{
	leaf_ctx *x = ctx;
	cl_merkle_leaf_hash(CL_BYTES(ev->envelope, ev->envelope_len), x->hash);
	x->found = true;
	return 0;
}

/* SHA-256(0x00 || envelope) of the stored event, read through the library. */
static void leaf_hash_of(fx *f, uint64_t seq, uint8_t out[32])
{
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	o.read_only = true;
	assert_int_equal(cl_ledger_open(&l, f->ledger, &o, &err), CL_OK);
	leaf_ctx x = {{0}, false};
	assert_int_equal(cl_log_get(l, seq, leaf_cb, &x), CL_OK);
	cl_ledger_free(l);
	assert_true(x.found);
	memcpy(out, x.hash, 32);
}

static void test_checkpoint_and_proofs(void **state)
{
	fx *f = *state;
	account(f->ledger, "alice@corp.example");
	account(f->ledger, "bob@corp.example");

	cp c4 = checkpoint(f);
	assert_int_equal(c4.size, 4);
	char head[64];
	snprintf(head, sizeof(head), "%s\n4\n", ORIGIN);
	assert_true(strncmp(c4.note, head, strlen(head)) == 0);

	/* no new events: the same note again, and nothing written */
	char before[65], after[65];
	tu_ledger_digest(f->ledger, before);
	cp again = checkpoint(f);
	assert_string_equal(again.note, c4.note);
	tu_ledger_digest(f->ledger, after);
	assert_string_equal(before, after);
	free(again.note);
	tu_run r;
	tu_cli(&r, f->ledger, "checkpoint", NOARG);
	expect_exit(&r, 0);
	assert_string_equal(r.out, c4.note);
	tu_run_free(&r);

	/* new events: a new checkpoint, consistent with the old one */
	account(f->ledger, "carol@corp.example");
	account(f->ledger, "dave@corp.example");
	account(f->ledger, "erin@corp.example");
	cp c7 = checkpoint(f);
	assert_int_equal(c7.size, 7);
	assert_string_not_equal(c7.note, c4.note);
	assert_memory_not_equal(c7.root, c4.root, 32);
	json_t *j = cli_json(f->ledger, "proof", "consistency", "4", "7", NOARG);
	static const char *const ckeys[] = {"old", "new", "hashes", NULL};
	assert_keys(j, ckeys);
	assert_int_equal(jint(j, "old"), 4);
	assert_int_equal(jint(j, "new"), 7);
	size_t n;
	uint8_t *h = proof_hashes(j, &n);
	assert_true(n > 0);
	assert_true(cl_merkle_verify_consistency(4, 7, c4.root, c7.root, CL_BYTES(h, n * 32)));
	assert_false(cl_merkle_verify_consistency(4, 7, c7.root, c4.root, CL_BYTES(h, n * 32)));
	h[n * 32 - 1] ^= 0x80;
	assert_false(cl_merkle_verify_consistency(4, 7, c4.root, c7.root, CL_BYTES(h, n * 32)));
	free(h);
	json_decref(j);

	/* inclusion of every event in the latest checkpoint, and against the older tree (--size) */
	for (uint64_t seq = 1; seq <= 7; seq++)
		check_inclusion(f, seq, &c7, NULL);
	check_inclusion(f, 3, &c4, "4");
	check_inclusion(f, 4, &c4, "4");

	/* out of range: exit 3, nothing written */
	tu_ledger_digest(f->ledger, before);
	static const char *const nf[][5] = {
		{"proof", "inclusion", "8", NULL},
		{"proof", "inclusion", "5", "--size", "4"},
		{"proof", "inclusion", "1", "--size", "100"},
		{"proof", "consistency", "4", "100", NULL},
	};
	for (size_t i = 0; i < sizeof(nf) / sizeof(nf[0]); i++) {
		tu_cli(&r, f->ledger, nf[i][0], nf[i][1], nf[i][2], nf[i][3], nf[i][4], NOARG);
		if (r.exit_code != 3)
			fail_msg("'%s %s %s': exit %d, expected 3: %s", nf[i][0], nf[i][1], nf[i][2], r.exit_code, r.err);
		assert_true(strncmp(r.err, "certledger: ", 12) == 0);
		tu_run_free(&r);
	}
	tu_ledger_digest(f->ledger, after);
	assert_string_equal(before, after);
	free(c4.note);
	free(c7.note);
}

static void test_inclusion_needs_a_checkpoint(void **state)
{
	fx *f = *state;
	tu_run r;
	tu_cli(&r, f->ledger, "proof", "inclusion", "1", NOARG);
	expect_exit(&r, 3);
	tu_run_free(&r);
	/* with an explicit size it works without one */
	tu_cli(&r, f->ledger, "--json", "proof", "inclusion", "1", "--size", "2", NOARG);
	expect_exit(&r, 0);
	json_t *j = json_of(r.out);
	assert_int_equal(jint(j, "size"), 2);
	assert_int_equal(jint(j, "leaf_index"), 0);
	json_decref(j);
	tu_run_free(&r);
}

/* ---- account create ---- */

static void expect_account(json_t *j, const char *email, const char *kind, const char *name, long long seq)
{
	static const char *const keys[] = {"email", "kind", "name", "created_at", "seq", NULL};
	assert_keys(j, keys);
	assert_string_equal(jstr(j, "email"), email);
	assert_string_equal(jstr(j, "kind"), kind);
	assert_string_equal(jstr(j, "name"), name);
	assert_true(matches(RFC3339_US, jstr(j, "created_at")));
	assert_int_equal(jint(j, "seq"), seq);
	json_decref(j);
}

static void test_account_create(void **state)
{
	fx *f = *state;
	expect_account(cli_json(f->ledger, "account", "create", "alice@corp.example", "--name", "Alice Example"),
		       "alice@corp.example", "internal", "Alice Example", 3);
	expect_account(cli_json(f->ledger, "account", "create", "bob@Partner.Example", NOARG, NOARG),
		       "bob@partner.example", "external", "", 4);
	expect_account(cli_json(f->ledger, "account", "create", "erin@CORP.example", NOARG, NOARG),
		       "erin@corp.example", "internal", "", 5);
	expect_account(cli_json(f->ledger, "account", "create", "carol@corp.example", "--external", NOARG),
		       "carol@corp.example", "external", "", 6);
	expect_account(cli_json(f->ledger, "account", "create", "dave@partner.example", "--internal", NOARG),
		       "dave@partner.example", "internal", "", 7);
	/* the local part keeps its case: a different mailbox (email.h) */
	expect_account(cli_json(f->ledger, "account", "create", "Alice@corp.example", NOARG, NOARG),
		       "Alice@corp.example", "internal", "", 8);

	/* refusals: exit 1, the message names the address, nothing written */
	static const char *const refused[] = {
		"alice@CORP.EXAMPLE", "bob@partner.example", "not-an-address", "two@@corp.example",
		"@corp.example",      "alice@",              "a b@corp.example", "x@corp..example",
	};
	char before[65], after[65];
	tu_ledger_digest(f->ledger, before);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		tu_run r;
		tu_cli(&r, f->ledger, "account", "create", refused[i], "--name", "Dup", NOARG);
		if (r.exit_code != 1 || strncmp(r.err, "certledger: ", 12) != 0)
			fail_msg("account create '%s': exit %d, expected 1: %s", refused[i], r.exit_code, r.err);
		if (i < 2 && strstr(r.err, i == 0 ? "alice@corp.example" : "bob@partner.example") == NULL)
			fail_msg("the message does not name the account: %s", r.err);
		if (i >= 2 && strstr(r.err, refused[i]) == NULL)
			fail_msg("the message does not name the address: %s", r.err);
		assert_int_equal(r.out_len, 0);
		tu_run_free(&r);
	}
	tu_ledger_digest(f->ledger, after);
	assert_string_equal(before, after);

	tu_run r;
	tu_cli(&r, f->ledger, "account", "create", "frank@corp.example", NOARG);
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "frank@corp.example"));
	tu_run_free(&r);
	json_t *v = cli_json(f->ledger, "verify", NOARG, NOARG, NOARG, NOARG);
	assert_int_equal(jint(v, "events"), 9);
	json_decref(v);
}

/* ---- ledgers that are not there or not ours ---- */

static void test_missing_ledger_exit_3(void **state)
{
	fx *f = *state;
	char missing[700];
	snprintf(missing, sizeof(missing), "%s/no-such-ledger", f->root);
	static const char *const cmds[][4] = {
		{"log", NULL},
		{"verify", NULL},
		{"checkpoint", NULL},
		{"proof", "inclusion", "1", NULL},
		{"proof", "consistency", "1", "2"},
		{"account", "create", "x@corp.example", NULL},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		tu_run r;
		tu_cli(&r, missing, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3], NOARG);
		if (r.exit_code != 3 || strstr(r.err, missing) == NULL)
			fail_msg("'%s' on a missing ledger: exit %d, expected 3 naming the directory: %s", cmds[i][0],
				 r.exit_code, r.err);
		tu_run_free(&r);
	}
	struct stat st;
	assert_int_equal(stat(missing, &st), -1); /* nothing was created */
}

static void set_format(const char *ledger, const uint8_t ver[4])
{
	char p[700];
	snprintf(p, sizeof(p), "%s/db", ledger);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, p, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	MDB_val k = {6, "format"}, v = {4, (void *)ver};
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_unknown_format_version_refused(void **state)
{
	fx *f = *state;
	static const uint8_t v2[4] = {0, 0, 0, 2};
	set_format(f->ledger, v2);
	char before[65], after[65];
	tu_ledger_digest(f->ledger, before);
	static const char *const cmds[][3] = {
		{"verify", NULL},
		{"log", NULL},
		{"checkpoint", NULL},
		{"account", "create", "x@corp.example"},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		tu_run r;
		tu_cli(&r, f->ledger, cmds[i][0], cmds[i][1], cmds[i][2], NOARG);
		/* CL_EUNSUPPORTED: refused, exit 1 (the ledger is valid, this build cannot read it) */
		if (r.exit_code != 1 || strstr(r.err, "format version 2") == NULL)
			fail_msg("'%s' on a version 2 ledger: exit %d, expected 1 naming version 2: %s", cmds[i][0],
				 r.exit_code, r.err);
		assert_int_equal(r.out_len, 0);
		tu_run_free(&r);
	}
	tu_ledger_digest(f->ledger, after);
	assert_string_equal(before, after);

	/* back to version 1, it opens again: the refusal was about the version only */
	static const uint8_t v1[4] = {0, 0, 0, 1};
	set_format(f->ledger, v1);
	tu_run r;
	tu_cli(&r, f->ledger, "verify", NOARG);
	expect_exit(&r, 0);
	tu_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_fields_and_twice_refused),
		cmocka_unit_test_setup_teardown(test_help_of_every_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors_exit_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_fields_and_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_ok_and_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_and_proofs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inclusion_needs_a_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_ledger_exit_3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_format_version_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
