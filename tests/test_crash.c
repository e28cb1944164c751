/* test_crash.c - crash safety and concurrent writers (issue 2).
 *
 * A child process appends batches of account.created events, one write transaction per batch,
 * and is killed with SIGKILL at random moments; after every kill the ledger must verify and hold
 * only whole transactions. Then two processes append at once: seqs stay contiguous, every event
 * is there exactly once, every batch is contiguous, and the ledger verifies.
 *
 * Every event names its batch in its address: p<proc>-b<batch>-i<index>-n<size>@corp.example.
 * Before each write the child announces (batch, size) through a pipe, and announces the next
 * batch only after the write returned, so the parent knows which batches must be there (every
 * announced one except, possibly, the last of a round), which may be (that last one), and that
 * no other may. A batch that is present must hold exactly its n events, in order, at consecutive
 * seqs. Set CL_CRASH_SEED to replay a run; the seed is printed.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certledger/certledger.h"
#include "ledger/append.h"
#include "projections/accounts.h"
#include "testutil.h"

#define ROUNDS 20
#define MAX_BATCH 200
#define CONC_BATCHES 20
#define CONC_MAX_BATCH 50

typedef struct announce {
	uint32_t batch, n;
} announce;

/* ---- a small deterministic PRNG (splitmix64): the same seed gives the same run ---- */

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t test_seed(void)
{
	static uint64_t seed;
	if (seed == 0) {
		const char *s = getenv("CL_CRASH_SEED");
		seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
		if (seed == 0)
			seed = 1;
		printf("# CL_CRASH_SEED=%llu\n", (unsigned long long)seed);
		fflush(stdout);
	}
	return seed;
}

/* ---- the writer (runs in a child process, never returns into cmocka) ---- */

typedef struct batch_ctx {
	uint32_t proc, batch, n;
} batch_ctx;

static cl_err write_batch(cl_wtxn *t, void *arg, cl_error *err)
{
	batch_ctx *b = arg;
	cl_actor who = cl_wtxn__actor(t);
	cl_buf data = CL_BUF_INIT(4096);
	cl_err rc = CL_OK;
	for (uint32_t i = 0; i < b->n && rc == CL_OK; i++) {
		char email[128], name[128];
		snprintf(email, sizeof(email), "p%u-b%u-i%u-n%u@corp.example", b->proc, b->batch, i, b->n);
		snprintf(name, sizeof(name), "batch %u event %u of %u", b->batch, i, b->n);
		rc = cl_account_created_encode(&data, email, "internal", name);
		if (rc == CL_OK)
			rc = cl_wtxn_append(t, &who, "account.created", cl_buf_view(&data), NULL, err);
	}
	cl_buf_free(&data);
	return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Appends batches first_batch, first_batch+1, ... (count of them, or forever when count is 0),
 * announcing each on fd before writing it. Exit status: 0 done, 10+ an error. */
static void child_writer(const char *ledger, uint32_t proc, uint32_t first_batch, uint32_t count, uint32_t max_n,
			 uint64_t seed, int fd, int go_fd)
{
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	if (go_fd >= 0) {
		char c;
		if (read(go_fd, &c, 1) != 1)
			_exit(10);
	}
	if (cl_ledger_open(&l, ledger, NULL, &err) != CL_OK) {
		fprintf(stderr, "child: open: %s\n", err.msg);
		_exit(11);
	}
	for (uint32_t k = 0; count == 0 || k < count; k++) {
		batch_ctx b = {proc, first_batch + k, 1 + (uint32_t)(next_rand(&seed) % max_n)};
		announce a = {b.batch, b.n};
		if (write_all(fd, &a, sizeof(a)) != 0)
			_exit(12);
		cl_err rc = cl_ledger__write(l, write_batch, &b, &err);
		if (rc != CL_OK) {
			fprintf(stderr, "child %u: batch %u: %s\n", proc, b.batch, err.msg);
			_exit(13);
		}
	}
	cl_ledger_free(l);
	_exit(0);
}

/* ---- what the parent reads back ---- */

typedef struct rec {
	uint64_t seq;
	uint32_t proc, batch, i, n;
} rec;

typedef struct recs {
	rec *v;
	size_t n, cap;
	char bad[256];
} recs;

static int collect(const cl_event_info *ev, void *ctx)
{
	recs *r = ctx;
	if (ev->seq <= 2)
		return 0; /* ledger.created, admin.added */
	rec x = {ev->seq, 0, 0, 0, 0};
	json_t *d = json_loads(ev->data_json, 0, NULL);
	const char *email = d ? json_string_value(json_object_get(d, "email")) : NULL;
	int ok = strcmp(ev->type, "account.created") == 0 && email != NULL &&
		 sscanf(email, "p%u-b%u-i%u-n%u@", &x.proc, &x.batch, &x.i, &x.n) == 4;
	json_decref(d);
	if (!ok) {
		snprintf(r->bad, sizeof(r->bad), "seq %llu is not an event of a test batch", (unsigned long long)ev->seq);
		return 1;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		assert_non_null(r->v);
	}
	r->v[r->n++] = x;
	return 0;
}

typedef struct present {
	uint32_t proc, batch, n;
	uint64_t first_seq;
} present;

/* Opens the ledger read-only, verifies it, reads every event back and checks that the log is
 * a sequence of whole batches: seqs contiguous from 3, each batch's events i = 0..n-1 at
 * consecutive seqs, no batch twice. Returns the batches in log order (malloc'd). */
static present *check_ledger(const char *ledger, size_t *npresent, uint64_t *events)
{
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	o.read_only = true;
	if (cl_ledger_open(&l, ledger, &o, &err) != CL_OK)
		fail_msg("open after the kill: %s", err.msg);
	cl_verify_result vr;
	assert_int_equal(cl_ledger_verify(l, 0, &vr, NULL, NULL), CL_OK);
	if (!vr.ok)
		fail_msg("verify failed at seq %llu: %s", (unsigned long long)vr.bad_seq, vr.reason);
	assert_int_equal(vr.events, vr.head);
	recs r = {0};
	if (cl_log_each(l, NULL, collect, &r) != CL_OK)
		fail_msg("log: %s", cl_ledger_error(l));
	if (r.bad[0])
		fail_msg("%s", r.bad);
	cl_ledger_free(l);
	assert_int_equal(r.n + 2, vr.events);

	present *p = calloc(r.n + 1, sizeof(*p));
	size_t np = 0;
	for (size_t k = 0; k < r.n;) {
		const rec *first = &r.v[k];
		if (first->i != 0 || first->n == 0)
			fail_msg("seq %llu: event %u of batch p%u-b%u starts a run: a transaction was cut",
				 (unsigned long long)first->seq, first->i, first->proc, first->batch);
		for (uint32_t i = 0; i < first->n; i++) {
			if (k + i >= r.n)
				fail_msg("batch p%u-b%u holds %u of its %u events: a transaction was cut", first->proc,
					 first->batch, i, first->n);
			const rec *x = &r.v[k + i];
			if (x->seq != 3 + k + i || x->proc != first->proc || x->batch != first->batch || x->i != i ||
			    x->n != first->n)
				fail_msg("seq %llu: expected event %u of batch p%u-b%u (n %u), found p%u-b%u i%u n%u",
					 (unsigned long long)x->seq, i, first->proc, first->batch, first->n, x->proc, x->batch,
					 x->i, x->n);
		}
		for (size_t j = 0; j < np; j++)
			if (p[j].proc == first->proc && p[j].batch == first->batch)
				fail_msg("batch p%u-b%u is in the log twice", first->proc, first->batch);
		p[np++] = (present){first->proc, first->batch, first->n, first->seq};
		k += first->n;
	}
	free(r.v);
	*npresent = np;
	*events = vr.events;
	return p;
}

static char *make_ledger(const char *tag, char **root)
{
	*root = tu_mkdtemp(tag);
	char *ledger = NULL;
	assert_true(asprintf(&ledger, "%s/ledger", *root) > 0);
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	const char *domains[] = {"corp.example", NULL};
	cl_init_opts io = CL_INIT_OPTS_INIT;
	io.org_domains = domains;
	io.origin = "crash.example/log";
	if (cl_ledger_init(&l, ledger, &io, NULL, &err) != CL_OK)
		fail_msg("init: %s", err.msg);
	cl_ledger_free(l);
	return ledger;
}

/* Reads announcements until EOF, appending to *a. */
static void read_announcements(int fd, announce **a, size_t *n, size_t *cap)
{
	for (;;) {
		announce x;
		size_t got = 0;
		while (got < sizeof(x)) {
			ssize_t r = read(fd, (uint8_t *)&x + got, sizeof(x) - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		if (got == 0)
			return;
		assert_int_equal(got, sizeof(x));
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			*a = realloc(*a, *cap * sizeof(**a));
			assert_non_null(*a);
		}
		(*a)[(*n)++] = x;
	}
}

enum { MUST = 0, MAYBE = 1, ABSENT = 2 };

static void test_sigkill_leaves_whole_transactions(void **state)
{
	(void)state;
	char *root;
	char *ledger = make_ledger("crash", &root);
	uint64_t seed = test_seed();
	announce *ann = NULL;
	uint8_t *st = NULL; /* MUST / MAYBE / ABSENT per announcement */
	size_t nann = 0, cap = 0;
	uint32_t next_batch = 1;
	unsigned cut_rounds = 0;
	uint64_t events = 2;

	for (int round = 0; round < ROUNDS; round++) {
		uint64_t rs = seed + 7919u * (uint64_t)(round + 1);
		unsigned delay_ms = 1 + (unsigned)(next_rand(&rs) % 50);
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_writer(ledger, 0, next_batch, 0, MAX_BATCH, rs, fds[1], -1);
		}
		close(fds[1]);
		/* wait until the child has opened the ledger and is about to write its first batch */
		size_t before = nann;
		announce first;
		ssize_t r;
		do
			r = read(fds[0], &first, sizeof(first));
		while (r < 0 && errno == EINTR);
		if (r == (ssize_t)sizeof(first)) {
			if (nann == cap) {
				cap = cap ? cap * 2 : 256;
				ann = realloc(ann, cap * sizeof(*ann));
				assert_non_null(ann);
			}
			ann[nann++] = first;
		}
		struct timespec ts = {0, (long)delay_ms * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			fail_msg("round %d: the writer ended by itself (status %d) instead of being killed", round, status);
		assert_int_equal(r, (ssize_t)sizeof(first));
		read_announcements(fds[0], &ann, &nann, &cap);
		close(fds[0]);
		st = realloc(st, cap ? cap : 1);
		assert_non_null(st);
		for (size_t k = before; k < nann; k++)
			st[k] = k + 1 == nann ? MAYBE : MUST;
		next_batch = ann[nann - 1].batch + 1;

		size_t np;
		uint64_t ev;
		present *p = check_ledger(ledger, &np, &ev);
		/* present must be exactly the announced batches in order, minus absent ones */
		size_t j = 0;
		for (size_t k = 0; k < nann; k++) {
			bool here = j < np && p[j].proc == 0 && p[j].batch == ann[k].batch;
			if (here) {
				if (st[k] == ABSENT)
					fail_msg("batch %u was absent after its round but is present now", ann[k].batch);
				if (p[j].n != ann[k].n)
					fail_msg("batch %u holds %u events, %u were written", ann[k].batch, p[j].n, ann[k].n);
				st[k] = MUST;
				j++;
			} else if (st[k] == MAYBE) {
				st[k] = ABSENT;
				cut_rounds++;
			} else if (st[k] == MUST) {
				fail_msg("round %d: batch %u (%u events) was committed but is not in the log", round,
					 ann[k].batch, ann[k].n);
			}
		}
		if (j != np)
			fail_msg("round %d: batch p%u-b%u is in the log but was never written", round, p[j].proc,
				 p[j].batch);
		assert_true(ev >= events);
		events = ev;
		printf("# round %2d: killed after %2u ms, %3zu batches announced in all, log holds %llu events\n", round,
		       delay_ms, nann, (unsigned long long)ev);
		free(p);
	}
	printf("# %d rounds: %u killed inside a write transaction, %llu events survived\n", ROUNDS, cut_rounds,
	       (unsigned long long)events);
	free(ann);
	free(st);
	tu_rmrf(root);
	free(root);
	free(ledger);
}

static void test_two_writers_at_once(void **state)
{
	(void)state;
	char *root;
	char *ledger = make_ledger("conc", &root);
	uint64_t seed = test_seed() ^ 0x5bd1e995ULL;
	int go[2], out[2][2];
	pid_t pid[2];
	assert_int_equal(pipe(go), 0);
	fflush(stdout);
	fflush(stderr);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(pipe(out[k]), 0);
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			close(go[1]);
			close(out[k][0]);
			if (k == 1)
				close(out[0][0]);
			child_writer(ledger, (uint32_t)k + 1, 1, CONC_BATCHES, CONC_MAX_BATCH, seed + (uint64_t)k,
				     out[k][1], go[0]);
		}
		close(out[k][1]);
	}
	close(go[0]);
	assert_int_equal(write(go[1], "gg", 2), 2); /* both start at once */
	close(go[1]);
	announce *ann[2] = {NULL, NULL};
	size_t nann[2] = {0, 0}, cap[2] = {0, 0};
	for (int k = 0; k < 2; k++) {
		read_announcements(out[k][0], &ann[k], &nann[k], &cap[k]);
		close(out[k][0]);
		int status = 0;
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("writer %d failed (status %d)", k + 1, status);
		assert_int_equal(nann[k], CONC_BATCHES);
	}

	size_t np;
	uint64_t ev;
	present *p = check_ledger(ledger, &np, &ev);
	assert_int_equal(np, 2 * CONC_BATCHES);
	uint64_t expect = 2;
	uint32_t next[2] = {1, 1};
	unsigned switches = 0;
	for (size_t j = 0; j < np; j++) {
		assert_true(p[j].proc == 1 || p[j].proc == 2);
		int k = (int)p[j].proc - 1;
		/* each writer's batches appear once each, in its own order, with the sizes it wrote */
		assert_int_equal(p[j].batch, next[k]);
		assert_int_equal(p[j].n, ann[k][next[k] - 1].n);
		next[k]++;
		expect += p[j].n;
		if (j > 0 && p[j].proc != p[j - 1].proc)
			switches++;
	}
	assert_int_equal(next[0], CONC_BATCHES + 1);
	assert_int_equal(next[1], CONC_BATCHES + 1);
	assert_int_equal(ev, expect);
	printf("# two writers: %llu events in %zu batches, the writer changed %u times\n", (unsigned long long)ev, np,
	       switches);
	free(p);
	free(ann[0]);
	free(ann[1]);
	tu_rmrf(root);
	free(root);
	free(ledger);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_leaves_whole_transactions),
		cmocka_unit_test(test_two_writers_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
