/* test_tamper.c - verify catches every alteration of a stored log: each byte of one envelope
 * flipped in turn, the last event deleted, two events swapped, an event replaced by a validly
 * signed one from another ledger, a damaged Merkle node, a checkpoint from another ledger. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/certledger.h"
#include "testutil.h"

#define TARGET 5

static char *make_ledger(const char *tag, int accounts)
{
	char *dir = tu_mkdtemp(tag);
	char path[600];
	snprintf(path, sizeof(path), "%s/l", dir);
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	const char *domains[] = {"corp.example", NULL};
	cl_init_opts io = CL_INIT_OPTS_INIT;
	io.org_domains = domains;
	io.origin = "tamper.example/log";
	assert_int_equal(cl_ledger_init(&l, path, &io, NULL, &err), CL_OK);
	for (int i = 0; i < accounts; i++) {
		char email[64];
		snprintf(email, sizeof(email), "user%d@corp.example", i);
		cl_account_created a;
		assert_int_equal(cl_account_create(l, email, CL_KIND_AUTO, "A Name", &a), CL_OK);
	}
	uint64_t size;
	uint8_t root[32];
	char *note;
	assert_int_equal(cl_ledger_checkpoint(l, &size, root, &note), CL_OK);
	free(note);
	cl_ledger_free(l);
	return dir;
}

static void ledger_path(char out[600], const char *dir)
{
	snprintf(out, 600, "%s/l", dir);
}

typedef struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi log, merkle, checkpoints;
} raw;

static void raw_open(raw *r, const char *dir)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/l/db", dir);
	assert_int_equal(mdb_env_create(&r->env), 0);
	mdb_env_set_maxdbs(r->env, 64);
	assert_int_equal(mdb_env_open(r->env, p, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "log", 0, &r->log), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "merkle", 0, &r->merkle), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "checkpoints", 0, &r->checkpoints), 0);
}

static void raw_close(raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

static void seq_key(uint8_t k[8], uint64_t seq)
{
	for (int i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)seq;
}

static uint8_t *get_env(raw *r, uint64_t seq, size_t *len)
{
	uint8_t k[8];
	seq_key(k, seq);
	MDB_val key = {8, k}, val;
	assert_int_equal(mdb_get(r->txn, r->log, &key, &val), 0);
	uint8_t *copy = malloc(val.mv_size);
	memcpy(copy, val.mv_data, val.mv_size);
	*len = val.mv_size;
	return copy;
}

static void put_env(raw *r, uint64_t seq, const uint8_t *data, size_t len)
{
	uint8_t k[8];
	seq_key(k, seq);
	MDB_val key = {8, k}, val = {len, (void *)data};
	assert_int_equal(mdb_put(r->txn, r->log, &key, &val, 0), 0);
}

static cl_verify_result verify(const char *dir)
{
	char p[600];
	ledger_path(p, dir);
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	o.read_only = true;
	cl_verify_result res;
	assert_int_equal(cl_ledger_open(&l, p, &o, &err), CL_OK);
	assert_int_equal(cl_ledger_verify(l, 0, &res, NULL, NULL), CL_OK);
	cl_ledger_free(l);
	return res;
}

static void test_untouched_verifies(void **state)
{
	(void)state;
	char *dir = make_ledger("tamper-ok", 8);
	cl_verify_result r = verify(dir);
	assert_true(r.ok);
	assert_int_equal(r.events, 10);
	tu_rmrf(dir);
	free(dir);
}

static void test_flip_every_byte(void **state)
{
	(void)state;
	char *dir = make_ledger("tamper-flip", 8);
	raw r;
	size_t len;
	raw_open(&r, dir);
	uint8_t *orig = get_env(&r, TARGET, &len);
	raw_close(&r);
	uint8_t *bad = malloc(len);
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, orig, len);
		bad[i] ^= 0x01;
		raw_open(&r, dir);
		put_env(&r, TARGET, bad, len);
		raw_close(&r);
		cl_verify_result v = verify(dir);
		if (v.ok || v.bad_seq != TARGET)
			fail_msg("byte %zu of %zu flipped: verify said ok=%d bad_seq=%llu (%s)", i, len, v.ok,
				 (unsigned long long)v.bad_seq, v.reason);
	}
	raw_open(&r, dir);
	put_env(&r, TARGET, orig, len);
	raw_close(&r);
	assert_true(verify(dir).ok);
	free(bad);
	free(orig);
	tu_rmrf(dir);
	free(dir);
}

static void test_delete_last(void **state)
{
	(void)state;
	char *dir = make_ledger("tamper-del", 8);
	raw r;
	raw_open(&r, dir);
	uint8_t k[8];
	seq_key(k, 10);
	MDB_val key = {8, k};
	assert_int_equal(mdb_del(r.txn, r.log, &key, NULL), 0);
	raw_close(&r);
	cl_verify_result v = verify(dir);
	assert_false(v.ok);
	assert_int_equal(v.bad_seq, 10);
	tu_rmrf(dir);
	free(dir);
}

static void test_swap_two(void **state)
{
	(void)state;
	char *dir = make_ledger("tamper-swap", 8);
	raw r;
	size_t l4, l5;
	raw_open(&r, dir);
	uint8_t *e4 = get_env(&r, 4, &l4), *e5 = get_env(&r, 5, &l5);
	put_env(&r, 4, e5, l5);
	put_env(&r, 5, e4, l4);
	raw_close(&r);
	cl_verify_result v = verify(dir);
	assert_false(v.ok);
	assert_int_equal(v.bad_seq, 4);
	assert_non_null(strstr(v.reason, "says it is seq 5"));
	free(e4);
	free(e5);
	tu_rmrf(dir);
	free(dir);
}

static void test_foreign_event(void **state)
{
	(void)state;
	char *a = make_ledger("tamper-a", 8), *b = make_ledger("tamper-b", 8);
	raw r;
	size_t len;
	raw_open(&r, b);
	uint8_t *foreign = get_env(&r, TARGET, &len);
	raw_close(&r);
	raw_open(&r, a);
	put_env(&r, TARGET, foreign, len);
	raw_close(&r);
	cl_verify_result v = verify(a);
	assert_false(v.ok);
	assert_int_equal(v.bad_seq, TARGET);
	free(foreign);
	tu_rmrf(a);
	tu_rmrf(b);
	free(a);
	free(b);
}

static void test_damaged_merkle_node_and_foreign_checkpoint(void **state)
{
	(void)state;
	char *a = make_ledger("tamper-merkle", 8), *b = make_ledger("tamper-cpb", 8);
	raw r;
	raw_open(&r, a);
	uint8_t k[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0}, h[32];
	MDB_val key = {9, k}, val;
	assert_int_equal(mdb_get(r.txn, r.merkle, &key, &val), 0);
	memcpy(h, val.mv_data, 32);
	h[0] ^= 0xff;
	MDB_val nv = {32, h};
	assert_int_equal(mdb_put(r.txn, r.merkle, &key, &nv, 0), 0);
	raw_close(&r);
	cl_verify_result v = verify(a);
	assert_false(v.ok);
	assert_non_null(strstr(v.reason, "Merkle"));
	tu_rmrf(a);
	free(a);

	/* a checkpoint signed by another ledger's key, stored under the right size */
	a = make_ledger("tamper-cpa", 8);
	raw_open(&r, b);
	uint8_t ck[8];
	seq_key(ck, 10);
	MDB_val ckey = {8, ck}, cval;
	assert_int_equal(mdb_get(r.txn, r.checkpoints, &ckey, &cval), 0);
	char *note = strndup(cval.mv_data, cval.mv_size);
	raw_close(&r);
	raw_open(&r, a);
	MDB_val nval = {strlen(note), note};
	assert_int_equal(mdb_put(r.txn, r.checkpoints, &ckey, &nval, 0), 0);
	raw_close(&r);
	v = verify(a);
	assert_false(v.ok);
	assert_non_null(strstr(v.reason, "checkpoint"));
	free(note);
	tu_rmrf(a);
	tu_rmrf(b);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untouched_verifies),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_delete_last),
		cmocka_unit_test(test_swap_two),
		cmocka_unit_test(test_foreign_event),
		cmocka_unit_test(test_damaged_merkle_node_and_foreign_checkpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
