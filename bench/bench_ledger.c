/* bench_ledger.c - the ledger core measured against the machine's own limits, side by side in
 * one run (issue 2, docs/performance.md):
 *   (a) raw LMDB durable commits of one put each   vs  durable single-event appends;
 *   (b) one core's raw Ed25519 signing loop        vs  batch appends (N events per transaction)
 *                                                      signing on one core, then on every core;
 *   (c) one core's raw Ed25519 verify loop         vs  cl_ledger_verify over the whole log;
 *   (d) log scan + strict decode (cursor walk and cl_envelope_decode), events/s.
 * Every figure is printed with its ratio to its limit and the goal of the issue. A program, not a
 * test: nothing here fails on a slow machine. Everything happens in a fresh temporary directory
 * that is removed at the end.
 *
 * usage: bench_ledger [--durable N] [--sign N] [--batch N] [--rounds R] [--dir DIR]
 */
#include <getopt.h>
#include <lmdb.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_report.h"
#include "certledger/certledger.h"
#include "ledger/append.h"
#include "ledger/envelope.h"
#include "ledger/handle.h"
#include "projections/accounts.h"

#define MSG_LEN 200 /* raw loops sign/verify messages of about an event body's size */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_ledger: %s: %s\n", what, msg);
	exit(1);
}

/* ---- the results table ---- */

/* Each figure is measured in several rounds, and every round measures the limit and the ledger
 * back to back, so that a round's ratio compares the two under the same conditions (this
 * machine's vCPUs and disk are shared and drift). The table shows the median of the per-round
 * rates and the median of the per-round ratios. */






/* ---- (a) durable single commits ---- */

/* n durable commits of one put each into a plain LMDB environment in dir. With shaped, each
 * commit instead writes what one account.created event writes through the library (the
 * envelope in log, a Merkle leaf and on every other commit its parent, the head in meta, a
 * record in each of two read models), without any of the library's work: this isolates the
 * cost of the storage layout from the cost of the code. */
static double raw_lmdb_commits(const char *dir, int n, bool shaped)
{
	static const char *const names[] = {"log", "merkle", "meta", "p_a", "p_b"};
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi[5];
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) || mdb_env_set_mapsize(env, (size_t)64 << 20) ||
	    mdb_env_open(env, dir, MDB_NOTLS, 0600))
		die("raw LMDB", "cannot open the environment");
	if (mdb_txn_begin(env, NULL, 0, &txn))
		die("raw LMDB", "begin");
	for (int i = 0; i < 5; i++)
		if (mdb_dbi_open(txn, names[i], MDB_CREATE, &dbi[i]))
			die("raw LMDB", "cannot create the databases");
	if (mdb_txn_commit(txn))
		die("raw LMDB", "commit");
	uint8_t val[400];
	RAND_bytes(val, (int)sizeof(val));
	static uint64_t seq;
	double t0 = now();
	for (int i = 0; i < n; i++) {
		uint8_t k[9];
		int rc = mdb_txn_begin(env, NULL, 0, &txn);
		cl_be64_put(k, ++seq);
		MDB_val key = {8, k}, v = {320, val};
		rc = rc ? rc : mdb_put(txn, dbi[0], &key, &v, MDB_APPEND);
		if (shaped) {
			char email[64];
			MDB_val mk = {9, k}, mv = {32, val}, hk = {4, "head"}, hv = {48, val};
			k[0] = 0;
			cl_be64_put(k + 1, seq);
			rc = rc ? rc : mdb_put(txn, dbi[1], &mk, &mv, 0);
			if (seq % 2 == 0) {
				k[0] = 1;
				cl_be64_put(k + 1, seq / 2);
				rc = rc ? rc : mdb_put(txn, dbi[1], &mk, &mv, 0);
			}
			rc = rc ? rc : mdb_put(txn, dbi[2], &hk, &hv, 0);
			MDB_val ek = {(size_t)snprintf(email, sizeof(email), "user%08llu@corp.example", (unsigned long long)seq),
				      email},
				ev = {160, val}, xv = {16, val};
			rc = rc ? rc : mdb_put(txn, dbi[3], &ek, &ev, 0);
			rc = rc ? rc : mdb_put(txn, dbi[4], &ek, &xv, 0);
		}
		rc = rc ? rc : mdb_txn_commit(txn);
		if (rc)
			die("raw LMDB", mdb_strerror(rc));
	}
	double dt = now() - t0;
	mdb_env_close(env);
	return dt;
}

typedef struct batch_ctx {
	uint32_t first, n;
} batch_ctx;

static uint32_t next_account;

static cl_err append_accounts(cl_wtxn *t, void *arg, cl_error *err)
{
	batch_ctx *b = arg;
	cl_actor who = cl_wtxn__actor(t);
	cl_buf data = CL_BUF_INIT(4096);
	cl_err rc = CL_OK;
	for (uint32_t i = 0; i < b->n && rc == CL_OK; i++) {
		char email[64];
		snprintf(email, sizeof(email), "user%08u@corp.example", b->first + i);
		rc = cl_account_created_encode(&data, email, "internal", "Firstname Lastname, Accounting");
		if (rc == CL_OK)
			rc = cl_wtxn_append(t, &who, "account.created", cl_buf_view(&data), NULL, err);
	}
	cl_buf_free(&data);
	return rc;
}

static double append_batches(cl_ledger *l, int batches, uint32_t n)
{
	cl_error err = CL_ERROR_INIT;
	double t0 = now();
	for (int i = 0; i < batches; i++) {
		batch_ctx b = {next_account, n};
		if (cl_ledger__write(l, append_accounts, &b, &err) != CL_OK)
			die("append", err.msg);
		next_account += n;
	}
	return now() - t0;
}

/* ---- (b), (c) raw Ed25519 loops on one core ---- */

static double raw_sign(EVP_PKEY *k, int n, uint8_t sig[64])
{
	uint8_t msg[MSG_LEN];
	RAND_bytes(msg, sizeof(msg));
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	double t0 = now();
	for (int i = 0; i < n; i++) {
		size_t sl = 64;
		msg[0] = (uint8_t)i;
		if (EVP_DigestSignInit(c, NULL, NULL, NULL, k) != 1 || EVP_DigestSign(c, sig, &sl, msg, sizeof(msg)) != 1)
			die("raw sign", "EVP_DigestSign failed");
	}
	double dt = now() - t0;
	EVP_MD_CTX_free(c);
	return dt;
}

typedef struct sign_job {
	EVP_PKEY *k;
	int n;
} sign_job;

static void *sign_thread(void *arg)
{
	sign_job *j = arg;
	uint8_t sig[64];
	raw_sign(j->k, j->n, sig);
	return NULL;
}

/* The same loop on `threads` threads at once (n signatures each): what the cores can do. */
static double raw_sign_threads(EVP_PKEY *k, int n, int threads)
{
	pthread_t tid[64];
	sign_job job = {k, n};
	int started = 0;
	double t0 = now();
	for (int i = 0; i < threads && i < 64; i++)
		if (pthread_create(&tid[i], NULL, sign_thread, &job) == 0)
			started++;
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	return (double)n * started / (now() - t0);
}

static double raw_verify(EVP_PKEY *k, int n)
{
	uint8_t msg[MSG_LEN], sig[64];
	size_t sl = 64;
	RAND_bytes(msg, sizeof(msg));
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (EVP_DigestSignInit(c, NULL, NULL, NULL, k) != 1 || EVP_DigestSign(c, sig, &sl, msg, sizeof(msg)) != 1)
		die("raw verify", "EVP_DigestSign failed");
	double t0 = now();
	for (int i = 0; i < n; i++) {
		if (EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) != 1 || EVP_DigestVerify(c, sig, 64, msg, sizeof(msg)) != 1)
			die("raw verify", "EVP_DigestVerify failed");
	}
	double dt = now() - t0;
	EVP_MD_CTX_free(c);
	return dt;
}

/* ---- (d) scan + strict decode ---- */

static double scan_decode(cl_ledger *l, uint64_t *events, uint64_t *body_bytes)
{
	MDB_txn *txn;
	cl_error err = CL_ERROR_INIT;
	uint64_t n = 0;
	double t0 = now(), dt;
	*body_bytes = 0;
	do {
		if (cl_store_read_begin(l->store, &txn, &err) != CL_OK)
			die("scan", err.msg);
		MDB_cursor *c;
		MDB_val k, v;
		if (mdb_cursor_open(txn, l->store->log, &c) != 0)
			die("scan", "cursor");
		for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			cl_event ev;
			if (cl_envelope_decode(CL_BYTES(v.mv_data, v.mv_size), &ev, &err) != CL_OK)
				die("scan", err.msg);
			n++;
			*body_bytes += ev.body.len;
		}
		mdb_cursor_close(c);
		mdb_txn_abort(txn);
		dt = now() - t0;
	} while (dt < 1.0);
	*events = n;
	return dt;
}

/* Busy CPU time of the whole machine (all processes), in seconds, from /proc/stat; -1 when
 * unknown. Compared with this process's own CPU time it tells whether other work competed for
 * the cores during the run (the figures are then not the machine's). */
static double machine_busy(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[8] = {0};
	int got = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			     &v[6], &v[7])
		    : 0;
	if (f)
		fclose(f);
	long hz = sysconf(_SC_CLK_TCK);
	if (got != 8 || hz <= 0)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz; /* all but idle and iowait */
}

static double own_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static void rmrf(const char *dir)
{
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s'", dir) > 0 && system(cmd) != 0)
		fprintf(stderr, "bench_ledger: could not remove %s\n", dir);
	free(cmd);
}

static void usage(void)
{
	fputs("usage: bench_ledger [--durable N] [--sign N] [--batch N] [--rounds R] [--dir DIR]\n"
	      "  --durable N  durable single commits, raw and through the library, in all (default 1000)\n"
	      "  --sign N     raw Ed25519 signatures (and verifications) per round on one core (default 5000)\n"
	      "  --batch N    events per transaction in the batch appends (default 10000)\n"
	      "  --rounds R   rounds of (a) and (b): limit and ledger back to back (default 5)\n"
	      "  --dir DIR    where to make the temporary directory (default $TMPDIR or /tmp)\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"durable", required_argument, NULL, 'a'}, {"sign", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'b'},   {"rounds", required_argument, NULL, 'r'},
		{"dir", required_argument, NULL, 'd'},     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int durable = 1000, nsign = 5000, batch = 10000, rounds = 5, opt;
	const char *base = getenv("TMPDIR");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': durable = atoi(optarg); break;
		case 's': nsign = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'd': base = optarg; break;
		default: usage();
		}
	}
	if (durable < 10 || nsign < 100 || batch < 1 || rounds < 1 || rounds > CL_BENCH_MAX_ROUNDS || optind != argc)
		usage();
	char *root = NULL, ledger[4096], rawdir[4096], shapedir[4096];
	if (asprintf(&root, "%s/bench-ledger-XXXXXX", base && *base ? base : "/tmp") < 0 || mkdtemp(root) == NULL)
		die("mkdtemp", "cannot create a temporary directory");
	snprintf(ledger, sizeof(ledger), "%s/ledger", root);
	snprintf(rawdir, sizeof(rawdir), "%s/raw", root);
	snprintf(shapedir, sizeof(shapedir), "%s/shaped", root);
	if (mkdir(rawdir, 0700) != 0 || mkdir(shapedir, 0700) != 0)
		die("mkdir", root);

	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	const char *domains[] = {"corp.example", NULL};
	cl_init_opts io = CL_INIT_OPTS_INIT;
	io.org_domains = domains;
	io.origin = "bench.example/log";
	if (cl_ledger_init(&l, ledger, &io, NULL, &err) != CL_OK)
		die("init", err.msg);
	cl_ledger_free(l);
	if (cl_ledger_open(&l, ledger, NULL, &err) != CL_OK)
		die("open", err.msg);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (cores < 1)
		cores = 1;
	printf("certledger bench_ledger: %ld cores; %d durable commits, %d signatures, batches of %d, %d rounds; in %s\n",
	       cores, durable, nsign, batch, rounds, root);

	double busy0 = machine_busy(), own0 = own_cpu(), wall0 = now();

	/* (a) durable single commits: raw and library back to back, in rounds */
	cl_bench_row *ra = cl_bench_row_new("durable single commits (1 event each)", "commits/s", 0.85);
	cl_bench_row *rs = cl_bench_row_new("raw LMDB commits shaped like one event", "commits/s", 0);
	int per = durable / rounds > 0 ? durable / rounds : 1;
	for (int r = 0; r < rounds; r++) {
		double t_raw = raw_lmdb_commits(rawdir, per, false);
		l->threads = 1;
		double t_lib = append_batches(l, per, 1);
		double t_shaped = raw_lmdb_commits(shapedir, per, true);
		cl_bench_add(ra, per / t_raw, per / t_lib);
		cl_bench_add(rs, per / t_raw, per / t_shaped);
	}

	/* (b) signing: one core's raw loop, then batches signed on one core and on every core */
	static char label_n[64], label_v[64];
	snprintf(label_n, sizeof(label_n), "batch append, %ld signing cores", cores);
	static char label_r[64];
	snprintf(label_r, sizeof(label_r), "raw signing loop on %ld threads", cores);
	cl_bench_row *rb1 = cl_bench_row_new("batch append, 1 signing core", "events/s", 0.7);
	cl_bench_row *rbn = cl_bench_row_new(label_n, "events/s", 1.6);
	cl_bench_row *rr = cl_bench_row_new(label_r, "sigs/s", 0);
	EVP_PKEY *k = l->actor_key->pkey;
	uint8_t sig[64];
	raw_sign(k, nsign / 10, sig);               /* warm up */
	append_batches(l, 1, (uint32_t)batch / 10); /* warm up */
	for (int r = 0; r < rounds; r++) {
		double sign_rate = nsign / raw_sign(k, nsign, sig);
		l->threads = 1;
		double t1 = append_batches(l, 1, (uint32_t)batch);
		l->threads = (int)cores;
		double tn = append_batches(l, 1, (uint32_t)batch);
		cl_bench_add(rb1, sign_rate, batch / t1);
		cl_bench_add(rbn, sign_rate, batch / tn);
		cl_bench_add(rr, sign_rate, raw_sign_threads(k, nsign / (int)cores, (int)cores));
	}

	/* (c) verify: one core's raw loop vs the whole ledger verified on every core */
	snprintf(label_v, sizeof(label_v), "verify, %ld cores", cores);
	cl_bench_row *rc = cl_bench_row_new(label_v, "events/s", 1.5);
	raw_verify(k, nsign / 10);
	cl_verify_result vr;
	for (int r = 0; r < 3; r++) {
		double ver_rate = nsign / raw_verify(k, nsign);
		double t0 = now();
		if (cl_ledger_verify(l, 0, &vr, NULL, NULL) != CL_OK || !vr.ok)
			die("verify", vr.reason);
		cl_bench_add(rc, ver_rate, (double)vr.events / (now() - t0));
	}

	/* (d) scan + decode */
	cl_bench_row *rd = cl_bench_row_new("log scan + strict decode", "events/s", 2e6);
	uint64_t scanned = 0, body_bytes = 0;
	for (int r = 0; r < 3; r++) {
		double t_scan = scan_decode(l, &scanned, &body_bytes);
		cl_bench_add(rd, 0, (double)scanned / t_scan);
	}

	printf("log: %llu events, bodies of %.0f bytes on average; the raw loops sign and verify %d-byte messages\n\n",
	       (unsigned long long)vr.events, (double)body_bytes / (double)scanned, MSG_LEN);
	cl_bench_print_table("limit (raw)");
	double busy = machine_busy() - busy0, own = own_cpu() - own0, wall = now() - wall0;
	if (busy0 >= 0)
		printf("\nwall %.1f s; this program used %.2f cores on average, other processes %.2f of the %ld%s\n", wall,
		       own / wall, (busy - own) / wall > 0 ? (busy - own) / wall : 0.0, cores,
		       (busy - own) / wall > 0.1 ? " (the figures are not the machine's own: rerun when it is idle)" : "");
	cl_ledger_free(l);
	rmrf(root);
	free(root);
	return 0;
}
