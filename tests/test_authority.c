/* test_authority.c - access control (issue 7): who may sign what, enforced on every write and
 * re-checked by verify. Forged logs are built with the library's low-level append, which skips
 * authorisation, to prove that verify catches what the write path would have refused. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/certledger.h"
#include "ledger/append.h"
#include "ledger/keys.h"
#include "ledger/mp_writer.h"
#include "projections/accounts.h"
#include "testutil.h"

typedef struct fixture {
	char *dir;
	char key_alice[512], key_audrey[512], key_bob[512];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir = tu_mkdtemp("authority");
	char ledger[512];
	snprintf(ledger, sizeof(ledger), "%s/ledger", f->dir);
	snprintf(f->key_alice, sizeof(f->key_alice), "%s/alice.key", f->dir);
	snprintf(f->key_audrey, sizeof(f->key_audrey), "%s/audrey.key", f->dir);
	snprintf(f->key_bob, sizeof(f->key_bob), "%s/bob.key", f->dir);
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	const char *domains[] = {"corp.example", NULL};
	cl_init_opts io = CL_INIT_OPTS_INIT;
	io.org_domains = domains;
	assert_int_equal(cl_ledger_init(&l, ledger, &io, NULL, &err), CL_OK);
	assert_int_equal(cl_admin_add(l, "alice", "admin", NULL, f->key_alice, NULL), CL_OK);
	assert_int_equal(cl_admin_add(l, "audrey", "auditor", NULL, f->key_audrey, NULL), CL_OK);
	assert_int_equal(cl_admin_add(l, "bob", "admin", NULL, f->key_bob, NULL), CL_OK);
	assert_int_equal(cl_admin_remove(l, "bob", NULL), CL_OK); /* seq 6 */
	cl_ledger_free(l);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static const char *ledger_of(fixture *f)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/ledger", f->dir);
	return p;
}

typedef struct forge {
	const char *actor;
	const char *key_path;
	const char *type;
	const char *email;
	uint64_t seq;
	cl_key *k; /* must outlive the write: events are signed at commit */
} forge;

static cl_err forge_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	forge *fg = arg;
	cl_key *k = fg->k;
	cl_err rc;
	cl_buf data = CL_BUF_INIT(4096);
	if (strcmp(fg->type, "admin.added") == 0) {
		cl_mp_writer w;
		cl_mp_writer_init(&w, &data);
		cl_mp_map(&w, 3);
		cl_mp_str(&w, "name");
		cl_mp_str(&w, "mallory");
		cl_mp_str(&w, "role");
		cl_mp_str(&w, "owner");
		cl_mp_str(&w, "public_key");
		cl_mp_bin(&w, k->pub, 32);
		rc = w.rc;
	} else {
		rc = cl_account_created_encode(&data, fg->email, "internal", "");
	}
	cl_actor who = {fg->actor, k};
	cl_appended ap;
	if (rc == CL_OK)
		rc = cl_wtxn__append_unchecked(t, &who, fg->type, cl_buf_view(&data), &ap, err);
	if (rc == CL_OK)
		fg->seq = ap.seq;
	cl_buf_free(&data);
	return rc;
}

/* Appends a forged event (no authorisation) and returns verify's verdict. */
static void forge_and_verify(fixture *f, forge *fg, cl_verify_result *r)
{
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_ledger_open(&l, ledger_of(f), NULL, &err), CL_OK);
	assert_int_equal(cl_key_load(&fg->k, fg->key_path, &err), CL_OK);
	assert_int_equal(cl_ledger__write(l, forge_cb, fg, &err), CL_OK);
	cl_key_free(fg->k);
	assert_int_equal(cl_ledger_verify(l, 0, r, NULL, NULL), CL_OK);
	cl_ledger_free(l);
}

static void test_clean_ledger_verifies(void **state)
{
	fixture *f = *state;
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	cl_verify_result r;
	assert_int_equal(cl_ledger_open(&l, ledger_of(f), NULL, &err), CL_OK);
	assert_int_equal(cl_ledger_verify(l, 0, &r, NULL, NULL), CL_OK);
	assert_true(r.ok);
	assert_int_equal(r.events, 6);
	cl_ledger_free(l);
}

static void test_forged_by_auditor(void **state)
{
	fixture *f = *state;
	forge fg = {"audrey", f->key_audrey, "account.created", "x@corp.example", 0, NULL};
	cl_verify_result r;
	forge_and_verify(f, &fg, &r);
	assert_false(r.ok);
	assert_int_equal(r.bad_seq, fg.seq);
	assert_non_null(strstr(r.reason, "auditor 'audrey'"));
}

static void test_forged_by_removed_admin(void **state)
{
	fixture *f = *state;
	forge fg = {"bob", f->key_bob, "account.created", "x@corp.example", 0, NULL};
	cl_verify_result r;
	forge_and_verify(f, &fg, &r);
	assert_false(r.ok);
	assert_int_equal(r.bad_seq, fg.seq);
	assert_non_null(strstr(r.reason, "removed"));
}

static void test_forged_actor_with_other_key(void **state)
{
	fixture *f = *state;
	/* signed with audrey's key but claiming to be alice */
	forge fg = {"alice", f->key_audrey, "account.created", "x@corp.example", 0, NULL};
	cl_verify_result r;
	forge_and_verify(f, &fg, &r);
	assert_false(r.ok);
	assert_int_equal(r.bad_seq, fg.seq);
	assert_non_null(strstr(r.reason, "not the key of admin 'alice'"));
}

static void test_forged_admin_by_non_owner(void **state)
{
	fixture *f = *state;
	forge fg = {"alice", f->key_alice, "admin.added", NULL, 0, NULL};
	cl_verify_result r;
	forge_and_verify(f, &fg, &r);
	assert_false(r.ok);
	assert_int_equal(r.bad_seq, fg.seq);
	assert_non_null(strstr(r.reason, "only an owner"));
}

static void test_forged_unknown_signer(void **state)
{
	fixture *f = *state;
	char stranger[600];
	snprintf(stranger, sizeof(stranger), "%s/stranger.key", f->dir);
	cl_key *k;
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_key_generate(&k, &err), CL_OK);
	assert_int_equal(cl_key_save_private(k, stranger, &err), CL_OK);
	cl_key_free(k);
	forge fg = {"mallory", stranger, "account.created", "x@corp.example", 0, NULL};
	cl_verify_result r;
	forge_and_verify(f, &fg, &r);
	assert_false(r.ok);
	assert_int_equal(r.bad_seq, fg.seq);
	assert_non_null(strstr(r.reason, "no admin named 'mallory'"));
}

/* Replaces the signer id of the envelope at seq with another admin's id, in place. */
static void swap_signer(const char *ledger, uint64_t seq, const uint8_t new_id[32])
{
	char path[600];
	snprintf(path, sizeof(path), "%s/db", ledger);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "log", 0, &dbi), 0);
	uint8_t k[8];
	for (int i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)seq;
	MDB_val key = {8, k}, val;
	assert_int_equal(mdb_get(txn, dbi, &key, &val), 0);
	uint8_t *copy = malloc(val.mv_size);
	memcpy(copy, val.mv_data, val.mv_size);
	memcpy(copy + val.mv_size - 32, new_id, 32);
	MDB_val nv = {val.mv_size, copy};
	assert_int_equal(mdb_put(txn, dbi, &key, &nv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

static void test_swapped_signer_id(void **state)
{
	fixture *f = *state;
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	o.actor = "alice";
	o.actor_key_path = f->key_alice;
	assert_int_equal(cl_ledger_open(&l, ledger_of(f), &o, &err), CL_OK);
	cl_account_created a;
	assert_int_equal(cl_account_create(l, "y@corp.example", CL_KIND_AUTO, NULL, &a), CL_OK);
	cl_ledger_free(l);
	cl_key *audrey;
	assert_int_equal(cl_key_load(&audrey, f->key_audrey, &err), CL_OK);
	swap_signer(ledger_of(f), a.seq, audrey->signer_id);
	cl_key_free(audrey);
	cl_verify_result r;
	assert_int_equal(cl_ledger_open(&l, ledger_of(f), NULL, &err), CL_OK);
	assert_int_equal(cl_ledger_verify(l, 0, &r, NULL, NULL), CL_OK);
	cl_ledger_free(l);
	assert_false(r.ok);
	assert_int_equal(r.bad_seq, a.seq);
}

/* CLI: every refusal exits 1, says which, and writes nothing. */
static void expect_refused(fixture *f, char *const env[], const char *needle, ...)
{
	char before[65], after[65];
	tu_ledger_digest(ledger_of(f), before);
	tu_run r;
	const char *args[16];
	int n = 0;
	va_list ap;
	va_start(ap, needle);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 15)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	char *argv[24];
	int m = 0;
	argv[m++] = (char *)tu_bin();
	argv[m++] = "--ledger";
	argv[m++] = (char *)ledger_of(f);
	for (int i = 0; i < n; i++)
		argv[m++] = (char *)args[i];
	argv[m] = NULL;
	tu_exec(&r, argv, NULL, 0, env);
	if (r.exit_code != 1 || strstr(r.err, needle) == NULL)
		fail_msg("expected exit 1 with '%s', got %d: %s", needle, r.exit_code, r.err);
	tu_ledger_digest(ledger_of(f), after);
	assert_string_equal(before, after);
	tu_run_free(&r);
}

static void test_cli_refusals_write_nothing(void **state)
{
	fixture *f = *state;
	expect_refused(f, NULL, "auditor 'audrey' may not make changes", "--as", "audrey", "--key", f->key_audrey,
		       "account", "create", "z@corp.example", NULL);
	expect_refused(f, NULL, "admin 'bob' was removed", "--as", "bob", "--key", f->key_bob, "account", "create",
		       "z@corp.example", NULL);
	expect_refused(f, NULL, "is not an admin", "--as", "nobody", "--key", f->key_alice, "account", "create",
		       "z@corp.example", NULL);
	expect_refused(f, NULL, "not the key of admin 'alice'", "--as", "alice", "--key", f->key_audrey, "account",
		       "create", "z@corp.example", NULL);
	expect_refused(f, NULL, "only an owner may add or remove admins", "--as", "alice", "--key", f->key_alice,
		       "admin", "remove", "audrey", NULL);
	expect_refused(f, NULL, "last owner", "admin", "remove", "owner", NULL);
	expect_refused(f, NULL, "exists already", "admin", "add", "audrey", "--role", "admin", "--generate-key",
		       "/nonexistent-dir/k.key", NULL);
	/* the environment variables pick the acting admin too */
	char env_admin[] = "CERTLEDGER_ADMIN=audrey";
	char env_key[1024];
	snprintf(env_key, sizeof(env_key), "CERTLEDGER_KEY=%s", f->key_audrey);
	char *env[] = {env_admin, env_key, NULL};
	expect_refused(f, env, "auditor 'audrey'", "account", "create", "z@corp.example", NULL);
}

static void test_cli_owner_default_and_admin_flow(void **state)
{
	fixture *f = *state;
	tu_run r;
	char key[600];
	snprintf(key, sizeof(key), "%s/carol.key", f->dir);
	/* no --as, no --key: the owner made by init acts */
	tu_cli(&r, ledger_of(f), "--json", "admin", "add", "carol", "--role", "admin", "--generate-key", key, NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"name\":\"carol\""));
	assert_non_null(strstr(r.out, "\"added_seq\":"));
	tu_run_free(&r);
	tu_cli(&r, ledger_of(f), "--as", "carol", "--key", key, "account", "create", "c@corp.example", NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	tu_cli(&r, ledger_of(f), "--json", "log", "--from", "8", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"actor\":\"carol\""));
	tu_run_free(&r);
	tu_cli(&r, ledger_of(f), "--json", "admin", "list", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"name\":\"bob\",\"role\":\"admin\""));
	assert_non_null(strstr(r.out, "\"removed_seq\":6"));
	tu_run_free(&r);
	tu_cli(&r, ledger_of(f), "verify", NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	/* usage errors exit 2 */
	tu_cli(&r, ledger_of(f), "admin", "add", "dave", "--role", "owner", "--generate-key", key, NULL);
	assert_int_equal(r.exit_code, 2);
	tu_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_ledger_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_by_auditor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_by_removed_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_actor_with_other_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_admin_by_non_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_unknown_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapped_signer_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_refusals_write_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_owner_default_and_admin_flow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
