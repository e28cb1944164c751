/* test_webhooks.c - webhook subscriptions and deliveries end to end (issue 5): the built
 * `certledger` binary (webhook add/list/show/remove/replay/deliver) against a real HTTP receiver.
 *
 * The receiver is tests/webhook/receiver.js on Node.js, listening on 127.0.0.1; it checks every
 * signature with the npm `standardwebhooks` package (an implementation we did not write) and
 * logs each request as a JSON line (path, webhook-id, type, seq, status answered, body...) that
 * these tests read; our own cl_wh_verify checks the logged requests too. Each test has its own
 * ledger and its own receiver, with a response plan (500, timeout, 429:3, 410, 200@2000...).
 * Retry schedules are short (1s) so that everything runs in seconds. Tests that need the
 * receiver are skipped, saying why, only when node or tests/webhook/node_modules is missing
 * (the test command runs `npm ci` there first). All traffic goes to 127.0.0.1.
 */
#include "testutil.h"
#include "tu_master_key.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certledger/certledger.h"
#include "export/webhook_secret.h"
#include "export/webhook_sign.h"
#include "ledger/encoding.h"

#define WAIT_MS 20000 /* longest wait for a receiver log condition (ASan is slow) */

/* ---- small helpers --------------------------------------------------------------------------- */

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *find_node(void)
{
	static char found[4096];
	if (file_exists("/usr/bin/node"))
		return "/usr/bin/node";
	const char *path = getenv("PATH");
	for (const char *p = path; p != NULL && *p;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n > 0 && n + 6 < sizeof(found)) {
			memcpy(found, p, n);
			memcpy(found + n, "/node", 6);
			if (access(found, X_OK) == 0)
				return found;
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

/* Why the receiver cannot run here (NULL when it can). */
static const char *receiver_missing(void)
{
	static char why[4200];
	const char *src = getenv("CL_SOURCE_DIR");
	char mod[4096];
	snprintf(mod, sizeof(mod), "%s/tests/webhook/node_modules/standardwebhooks/package.json", src ? src : ".");
	if (find_node() == NULL)
		return "node is not installed (needs Node.js >= 18 on PATH)";
	if (!file_exists(mod)) {
		snprintf(why, sizeof(why), "%s is missing: run `npm ci` in tests/webhook", mod);
		return why;
	}
	return NULL;
}

#define NEED_RECEIVER()                                                              \
	do {                                                                         \
		const char *why_ = receiver_missing();                               \
		if (why_ != NULL) {                                                  \
			print_message("[ SKIPPED  ] %s: %s\n", __func__, why_);      \
			skip();                                                      \
		}                                                                    \
	} while (0)

/* ---- the receiver ---------------------------------------------------------------------------- */

typedef struct receiver {
	pid_t pid;
	unsigned port;
	char log[4200];
} receiver;

/* Starts receiver.js verifying with secret (whsec_ text) under dir, with a response plan. */
static void receiver_start(receiver *r, const char *dir, const char *secret, const char *plan)
{
	const char *src = getenv("CL_SOURCE_DIR");
	char script[4096];
	snprintf(script, sizeof(script), "%s/tests/webhook/receiver.js", src ? src : ".");
	snprintf(r->log, sizeof(r->log), "%s/receiver.jsonl", dir);
	const char *node = find_node();
	int out[2];
	if (pipe2(out, O_CLOEXEC) != 0)
		fail_msg("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork");
	if (pid == 0) {
		dup2(out[1], 1);
		if (setenv("CL_WEBHOOK_SECRET", secret, 1) != 0)
			_exit(126);
		char *argv[] = {(char *)node, script, "--log", r->log, "--hold-ms", "20000", "--plan", (char *)plan, NULL};
		execv(node, argv);
		_exit(127);
	}
	close(out[1]);
	char line[64];
	size_t len = 0;
	while (len + 1 < sizeof(line)) {
		struct pollfd pfd = {out[0], POLLIN, 0};
		if (poll(&pfd, 1, 15000) <= 0 || read(out[0], line + len, 1) != 1 || line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	close(out[0]);
	r->pid = pid;
	char *end = NULL;
	unsigned long port = strtoul(line, &end, 10);
	if (len == 0 || *end != '\0' || port == 0 || port > 65535)
		fail_msg("the receiver did not print its port (got \"%s\")", line);
	r->port = (unsigned)port;
}

static void receiver_stop(receiver *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	int st;
	for (int i = 0; i < 50; i++) {
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			r->pid = 0;
			return;
		}
		sleep_ms(100);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &st, 0);
	r->pid = 0;
}

/* Every logged request, in arrival order (caller decrefs). If path is not NULL, only those. */
static json_t *receiver_lines(const receiver *r, const char *path)
{
	json_t *arr = json_array();
	if (!file_exists(r->log))
		return arr;
	size_t len = 0;
	uint8_t *data = tu_read_file(r->log, &len);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		json_error_t je;
		json_t *o = json_loadb((const char *)data + start, i - start, 0, &je);
		if (o == NULL)
			fail_msg("receiver log line is not JSON: %s", je.text);
		const char *p = json_string_value(json_object_get(o, "path"));
		if (path == NULL || (p != NULL && strcmp(p, path) == 0))
			json_array_append(arr, o);
		json_decref(o);
		start = i + 1;
	}
	free(data);
	return arr;
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		fail_msg("field %s is missing or not an integer", k);
	return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	if (s == NULL)
		fail_msg("field %s is missing or not a string", k);
	return s;
}

/* How many logged requests on path were answered with status (0: any). */
static size_t count_status(const receiver *r, const char *path, long status)
{
	json_t *a = receiver_lines(r, path);
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(a); i++)
		if (status == 0 || jint(json_array_get(a, i), "status") == status)
			n++;
	json_decref(a);
	return n;
}

/* Waits until count_status(r, path, status) >= n; fails the test after WAIT_MS. */
static void wait_count(const receiver *r, const char *path, long status, size_t n)
{
	int64_t until = mono_ms() + WAIT_MS;
	while (count_status(r, path, status) < n) {
		if (mono_ms() > until)
			fail_msg("timed out waiting for %zu requests on %s with status %ld (have %zu)", n, path ? path : "*",
				 status, count_status(r, path, status));
		sleep_ms(50);
	}
}

/* ---- a ledger and its events ----------------------------------------------------------------- */

typedef struct fixture {
	char *dir;        /* temp dir: ledger in dir/ledger, receiver log, secret file */
	char ledger[4200];
	char secret_file[4200];
	char secret[CL_WH_SECRET_TEXT_MAX + 1];
	receiver rx;
	pid_t worker;
	char worker_out[4200];
} fixture;

static void fixture_init(fixture *f, const char *tag)
{
	memset(f, 0, sizeof(*f));
	f->dir = tu_mkdtemp(tag);
	snprintf(f->ledger, sizeof(f->ledger), "%s/ledger", f->dir);
	snprintf(f->secret_file, sizeof(f->secret_file), "%s/secret.txt", f->dir);
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	const char *domains[] = {"corp.example", NULL};
	cl_init_opts io = CL_INIT_OPTS_INIT;
	io.org_domains = domains;
	if (cl_ledger_init(&l, f->ledger, &io, NULL, &err) != CL_OK)
		fail_msg("init: %s", err.msg);
	cl_ledger_free(l);
	/* A secret for the receiver and for `add --secret-file`. */
	cl_secret key = CL_SECRET_INIT(0), text = CL_SECRET_INIT(0);
	assert_int_equal(cl_wh_secret_generate(&key, CL_WH_KEY_DEFAULT, &err), 0);
	assert_int_equal(cl_wh_secret_format(&text, &key, &err), 0);
	snprintf(f->secret, sizeof(f->secret), "%s", (const char *)text.ptr);
	cl_secret_free(&key);
	cl_secret_free(&text);
	char line[CL_WH_SECRET_TEXT_MAX + 2];
	snprintf(line, sizeof(line), "%s\n", f->secret);
	tu_write_file(f->secret_file, line, strlen(line));
}

static void worker_kill(fixture *f, int sig, int expect_exit);

static void fixture_done(fixture *f)
{
	if (f->worker > 0)
		worker_kill(f, SIGKILL, -1);
	receiver_stop(&f->rx);
	tu_rmrf(f->dir);
	free(f->dir);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	fixture_init(f, "wh");
	*state = f;
	return 0;
}

/* Runs after a failed test too: no receiver or worker outlives its test. */
static int teardown(void **state)
{
	fixture *f = *state;
	fixture_done(f);
	free(f);
	return 0;
}

/* Appends n account.created events (through the library) and returns the first seq. */
static uint64_t make_accounts(fixture *f, const char *prefix, int n)
{
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	uint64_t first = 0;
	if (cl_ledger_open(&l, f->ledger, NULL, &err) != CL_OK)
		fail_msg("open: %s", err.msg);
	for (int i = 0; i < n; i++) {
		char email[128];
		cl_account_created out;
		snprintf(email, sizeof(email), "%s%d@corp.example", prefix, i);
		if (cl_account_create(l, email, CL_KIND_AUTO, NULL, &out) != CL_OK)
			fail_msg("account create: %s", cl_ledger_error(l));
		if (i == 0)
			first = out.seq;
	}
	cl_ledger_free(l);
	return first;
}

static int grab_id(const cl_event_info *ev, void *ctx)
{
	cl_hex_encode(ctx, ev->id, 32);
	return 0;
}

/* The event id of seq, as 64 hex digits, read through the public API. */
static void event_id_hex(fixture *f, uint64_t seq, char out[65])
{
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	o.read_only = true;
	if (cl_ledger_open(&l, f->ledger, &o, &err) != CL_OK)
		fail_msg("open: %s", err.msg);
	assert_int_equal(cl_log_get(l, seq, grab_id, out), 0);
	cl_ledger_free(l);
}

static uint64_t head_seq(fixture *f)
{
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	cl_ledger_info info;
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	o.read_only = true;
	if (cl_ledger_open(&l, f->ledger, &o, &err) != CL_OK)
		fail_msg("open: %s", err.msg);
	assert_int_equal(cl_ledger_get_info(l, &info), 0);
	cl_ledger_free(l);
	return info.head_seq;
}

/* `webhook add URL --allow-private --secret-file F ARGS...` (NULL-terminated); returns the id. */
static void add_sub(fixture *f, char id[CL_WEBHOOK_ID_LEN + 1], const char *path, const char *a1, const char *a2,
		    const char *a3, const char *a4)
{
	char url[256];
	tu_run r;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->rx.port, path);
	tu_cli(&r, f->ledger, "--json", "webhook", "add", url, "--allow-private", "--secret-file", f->secret_file, a1, a2,
	       a3, a4, NULL);
	if (r.exit_code != 0)
		fail_msg("webhook add: exit %d: %s", r.exit_code, r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	snprintf(id, CL_WEBHOOK_ID_LEN + 1, "%s", jstr(j, "id"));
	assert_null(json_object_get(j, "secret")); /* a given secret is never printed */
	assert_string_equal(jstr(j, "state"), "active");
	assert_int_equal(jint(j, "cursor"), jint(j, "seq")); /* it starts after its own event */
	json_decref(j);
	tu_run_free(&r);
}

/* `webhook show ID --json` as a JSON object (caller decrefs). */
static json_t *show_sub(fixture *f, const char *id)
{
	tu_run r;
	tu_cli(&r, f->ledger, "--json", "webhook", "show", id, NULL);
	if (r.exit_code != 0)
		fail_msg("webhook show: exit %d: %s", r.exit_code, r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	tu_run_free(&r);
	return j;
}

/* ---- the worker as a child process ----------------------------------------------------------- */

/* Starts `certledger webhook deliver --follow [extra]` with its output in a file. */
static void worker_start(fixture *f, const char *extra1, const char *extra2)
{
	snprintf(f->worker_out, sizeof(f->worker_out), "%s/worker.out", f->dir);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork");
	if (pid == 0) {
		int fd = open(f->worker_out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		char *argv[] = {(char *)tu_bin(), "--ledger", f->ledger, "--json", "webhook", "deliver", "--follow",
				(char *)extra1, (char *)extra2, NULL};
		execv(argv[0], argv);
		_exit(127);
	}
	f->worker = pid;
}

/* Sends sig to the worker and waits for it. expect_exit >= 0: its exit status must be that. */
static void worker_kill(fixture *f, int sig, int expect_exit)
{
	int st = 0;
	kill(f->worker, sig);
	if (waitpid(f->worker, &st, 0) != f->worker)
		fail_msg("waitpid: %s", strerror(errno));
	f->worker = 0;
	if (expect_exit >= 0) {
		if (!WIFEXITED(st) || WEXITSTATUS(st) != expect_exit) {
			size_t n = 0;
			uint8_t *out = tu_read_file(f->worker_out, &n);
			fail_msg("worker ended with status 0x%x, not exit %d; its output:\n%s", st, expect_exit, (char *)out);
		}
	}
}

/* ---- tests without a receiver ---------------------------------------------------------------- */

static void test_add_refused_writes_nothing(void **state)
{
	fixture *f = *state;
	char before[65], after[65];
	tu_ledger_digest(f->ledger, before);
	static const struct {
		const char *url;
		const char *flag;
		const char *msg;
	} cases[] = {
		{"http://127.0.0.1:8080/hook", NULL, "--allow-private"},
		{"https://127.0.0.1:8443/hook", NULL, "loopback"},
		{"https://10.0.0.5/hook", NULL, "private address"},
		{"https://169.254.169.254/latest/meta-data", NULL, "metadata"},
		{"https://[::1]/hook", NULL, "loopback"},
		{"ftp://example.com/x", NULL, "not https"},
		{"https://127.0.0.1/x", "--retry=0s", "retry"},
		{"https://127.0.0.1/x", "--events=a b", "events"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tu_run r;
		if (cases[i].flag != NULL)
			tu_cli(&r, f->ledger, "webhook", "add", cases[i].url, "--allow-private", cases[i].flag, NULL);
		else
			tu_cli(&r, f->ledger, "webhook", "add", cases[i].url, NULL);
		if (r.exit_code != 1 || strstr(r.err, cases[i].msg) == NULL)
			fail_msg("%s: exit %d, stderr %s", cases[i].url, r.exit_code, r.err);
		assert_true(strncmp(r.err, "certledger: ", 12) == 0);
		assert_int_equal(r.out_len, 0);
		tu_run_free(&r);
	}
	tu_ledger_digest(f->ledger, after);
	assert_string_equal(before, after);
	/* A secret file that is not a whsec_ secret: refused, and its content is not echoed. */
	tu_write_file(f->secret_file, "not-a-secret-XYZZY\n", 19);
	tu_run r;
	tu_cli(&r, f->ledger, "webhook", "add", "http://127.0.0.1:9/x", "--allow-private", "--secret-file", f->secret_file,
	       NULL);
	assert_int_equal(r.exit_code, 1);
	assert_null(strstr(r.err, "XYZZY"));
	tu_run_free(&r);
	tu_ledger_digest(f->ledger, after);
	assert_string_equal(before, after);
}

static void test_cli_usage_and_lifecycle(void **state)
{
	fixture *f = *state;
	tu_run r;
	static const char *actions[] = {"add", "list", "show", "remove", "replay", "deliver"};
	for (size_t i = 0; i < 6; i++) {
		tu_cli(&r, f->ledger, "webhook", actions[i], "--help", NULL);
		assert_int_equal(r.exit_code, 0);
		assert_non_null(strstr(r.out, "usage: certledger webhook"));
		assert_non_null(strstr(r.out, actions[i]));
		tu_run_free(&r);
	}
	tu_cli(&r, f->ledger, "webhook", NULL);
	assert_int_equal(r.exit_code, 2);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "webhook", "deliver", "--once", "--follow", NULL);
	assert_int_equal(r.exit_code, 2);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "webhook", "show", "wh_000000000000", NULL);
	assert_int_equal(r.exit_code, 3);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "webhook", "show", "nonsense", NULL);
	assert_int_equal(r.exit_code, 3);
	tu_run_free(&r);

	/* add (port 9 is never contacted here), list, replay without --from, remove twice. */
	f->rx.port = 9;
	char id[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, id, "/x", "--events", "cert.*,primary.set", "--retry", "1s,2m");
	tu_cli(&r, f->ledger, "webhook", "replay", id, NULL);
	assert_int_equal(r.exit_code, 2);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "webhook", "replay", id, "--from", "999", NULL);
	assert_int_equal(r.exit_code, 3);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "--json", "webhook", "list", NULL);
	assert_int_equal(r.exit_code, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(jstr(j, "id"), id);
	assert_string_equal(jstr(j, "retry"), "1s,2m");
	assert_int_equal(json_array_size(json_object_get(j, "events")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "events"), 1)), "primary.set");
	assert_true(json_is_array(json_object_get(j, "attempts")));
	assert_true(json_is_array(json_object_get(j, "dead_letters")));
	/* secret_sha256 is SHA-256 of the key bytes of the secret given. */
	cl_secret key = CL_SECRET_INIT(0);
	cl_error err = CL_ERROR_INIT;
	uint8_t sha[32];
	char hex[65];
	assert_int_equal(cl_wh_secret_parse(&key, f->secret, strlen(f->secret), &err), 0);
	SHA256(key.ptr, key.len, sha);
	cl_secret_free(&key);
	cl_hex_encode(hex, sha, 32);
	assert_string_equal(jstr(j, "secret_sha256"), hex);
	json_decref(j);
	tu_run_free(&r);

	tu_cli(&r, f->ledger, "--json", "webhook", "remove", id, NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_loads(r.out, 0, NULL);
	uint64_t rseq = (uint64_t)jint(j, "seq");
	json_decref(j);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "webhook", "remove", id, NULL);
	assert_int_equal(r.exit_code, 1);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "webhook", "replay", id, "--from", "1", NULL);
	assert_int_equal(r.exit_code, 1);
	tu_run_free(&r);
	j = show_sub(f, id);
	assert_string_equal(jstr(j, "state"), "removed");
	assert_int_equal(jint(j, "removed_seq"), (json_int_t)rseq);
	json_decref(j);
	/* Both events are in the log, with the data keys of docs/events.md. */
	tu_cli(&r, f->ledger, "--json", "log", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"type\":\"webhook.subscribed\""));
	assert_non_null(strstr(r.out, "\"type\":\"webhook.unsubscribed\",\"actor\""));
	char want[64];
	snprintf(want, sizeof(want), "\"data\":{\"webhook_id\":\"%s\",\"url\"", id);
	assert_non_null(strstr(r.out, want));
	tu_run_free(&r);
	/* The log still verifies. */
	tu_cli(&r, f->ledger, "verify", NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
}

static void test_secret_sealing(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_secret m1 = CL_SECRET_INIT(32), m2 = CL_SECRET_INIT(32), key = CL_SECRET_INIT(0), back = CL_SECRET_INIT(0);
	cl_buf blob = CL_BUF_INIT(4096);
	assert_int_equal(cl_secret_alloc(&m1, 32), 0);
	assert_int_equal(cl_secret_alloc(&m2, 32), 0);
	memset(m1.ptr, 1, 32);
	memset(m2.ptr, 2, 32);
	assert_int_equal(cl_wh_secret_generate(&key, 32, &err), 0);
	assert_int_equal(cl_wh__secret_seal(&blob, &m1, "wh_0123456789ab", &key, &err), 0);
	assert_int_equal(blob.len, CL_WH_SEAL_OVERHEAD + 32);
	assert_null(memmem(blob.ptr, blob.len, key.ptr, key.len));
	assert_int_equal(cl_wh__secret_open(&back, &m1, "wh_0123456789ab", cl_buf_view(&blob), &err), 0);
	assert_memory_equal(back.ptr, key.ptr, 32);
	/* Another id, another master key, any altered byte: does not open. */
	assert_int_equal(cl_wh__secret_open(&back, &m1, "wh_0123456789ac", cl_buf_view(&blob), &err), CL_EINTEGRITY);
	assert_null(back.ptr);
	assert_int_equal(cl_wh__secret_open(&back, &m2, "wh_0123456789ab", cl_buf_view(&blob), &err), CL_EINTEGRITY);
	for (size_t i = 0; i < blob.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			blob.ptr[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(cl_wh__secret_open(&back, &m1, "wh_0123456789ab", cl_buf_view(&blob), &err),
					 CL_EINTEGRITY);
			assert_null(back.ptr);
			blob.ptr[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(cl_wh__secret_open(&back, &m1, "wh_0123456789ab", CL_BYTES(blob.ptr, blob.len - 1), &err),
			 CL_EINTEGRITY);
	assert_string_equal(err.msg, "webhook secret of wh_0123456789ab does not open: wrong master key or damaged");
	/* The untouched blob still opens; sizes outside the specification's are refused. */
	assert_int_equal(cl_wh__secret_open(&back, &m1, "wh_0123456789ab", cl_buf_view(&blob), &err), 0);
	assert_memory_equal(back.ptr, key.ptr, 32);
	cl_secret small = CL_SECRET_INIT(CL_WH_KEY_MIN - 1);
	assert_int_equal(cl_secret_alloc(&small, CL_WH_KEY_MIN - 1), 0);
	assert_int_equal(cl_wh__secret_seal(&blob, &m1, "wh_0123456789ab", &small, &err), CL_EUSAGE);
	assert_int_equal(cl_wh__secret_seal(&blob, &m1, "", &key, &err), CL_EUSAGE);
	cl_secret_free(&small);
	cl_buf_free(&blob);
	cl_secret_free(&m1);
	cl_secret_free(&m2);
	cl_secret_free(&key);
	cl_secret_free(&back);
}

/* ---- deliveries ------------------------------------------------------------------------------ */

/* The secret that `add` prints: shown once, never stored in clear anywhere under the ledger
 * directory, and it verifies at the receiver (standardwebhooks) and with cl_wh_verify. */
static void test_generated_secret(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	tu_run r;
	char url[128];
	/* The receiver must verify with the secret that only add can tell, and add needs the URL
	 * first: a throwaway receiver finds a free port, add uses it, and the real receiver is then
	 * started on that port with the printed secret. */
	receiver_start(&f->rx, f->dir, f->secret, "");
	unsigned port = f->rx.port;
	receiver_stop(&f->rx);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/gen", port);
	tu_cli(&r, f->ledger, "--json", "webhook", "add", url, "--allow-private", NULL);
	assert_int_equal(r.exit_code, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	char secret[CL_WH_SECRET_TEXT_MAX + 1], id[CL_WEBHOOK_ID_LEN + 1];
	snprintf(secret, sizeof(secret), "%s", jstr(j, "secret"));
	snprintf(id, sizeof(id), "%s", jstr(j, "id"));
	json_decref(j);
	tu_run_free(&r);
	assert_memory_equal(secret, "whsec_", 6);

	cl_error err = CL_ERROR_INIT;
	cl_secret key = CL_SECRET_INIT(0);
	assert_int_equal(cl_wh_secret_parse(&key, secret, strlen(secret), &err), 0);
	assert_int_equal(key.len, 32);

	/* Start the receiver with that secret on the same port. */
	char portarg[16];
	snprintf(portarg, sizeof(portarg), "%u", port);
	{
		const char *src = getenv("CL_SOURCE_DIR");
		char script[4096];
		snprintf(script, sizeof(script), "%s/tests/webhook/receiver.js", src ? src : ".");
		snprintf(f->rx.log, sizeof(f->rx.log), "%s/receiver2.jsonl", f->dir);
		int out[2];
		assert_int_equal(pipe2(out, O_CLOEXEC), 0);
		pid_t pid = fork();
		if (pid == 0) {
			dup2(out[1], 1);
			setenv("CL_WEBHOOK_SECRET", secret, 1);
			char *argv[] = {(char *)find_node(), script, "--log", f->rx.log, "--port", portarg, NULL};
			execv(argv[0], argv);
			_exit(127);
		}
		close(out[1]);
		char c;
		struct pollfd pfd = {out[0], POLLIN, 0};
		while (poll(&pfd, 1, 15000) > 0 && read(out[0], &c, 1) == 1 && c != '\n')
			;
		close(out[0]);
		f->rx.pid = pid;
		f->rx.port = port;
	}
	uint64_t seq = make_accounts(f, "sec", 1);
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"delivered\":1,"));
	tu_run_free(&r);

	json_t *lines = receiver_lines(&f->rx, "/gen");
	assert_int_equal(json_array_size(lines), 1);
	json_t *l = json_array_get(lines, 0);
	assert_true(json_is_true(json_object_get(l, "signature_valid")));
	assert_int_equal(jint(l, "seq"), (json_int_t)seq);
	const char *body = jstr(l, "body");
	assert_int_equal(cl_wh_verify(&key, jstr(l, "id"), jstr(l, "timestamp"), jstr(l, "signature"),
				      CL_BYTES(body, strlen(body)), (int64_t)time(NULL), CL_WH_TOLERANCE_DEFAULT, &err),
			 0);
	assert_string_equal(jstr(l, "content_type"), "application/json");
	json_decref(lines);

	/* Nowhere under the ledger directory: not the text, not its base64, not the key bytes. */
	assert_false(tu_tree_contains(f->ledger, secret, strlen(secret)));
	assert_false(tu_tree_contains(f->ledger, secret + 6, strlen(secret) - 6));
	assert_false(tu_tree_contains(f->ledger, key.ptr, key.len));
	/* And `show` does not print it. */
	tu_cli(&r, f->ledger, "webhook", "show", id, NULL);
	assert_int_equal(r.exit_code, 0);
	assert_null(strstr(r.out, secret + 6));
	tu_run_free(&r);
	cl_secret_free(&key);
}

/* 500 then 200: retried after the schedule's 1 s (with jitter), the same webhook-id, the
 * events still in seq order; the worker runs as a daemon, notices events appended while it
 * runs, and stops cleanly on SIGTERM. */
static void test_retry_then_ok_in_order(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	receiver_start(&f->rx, f->dir, f->secret, "500,200");
	char id[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, id, "/r", "--retry", "1s,1s", NULL, NULL);
	uint64_t s1 = make_accounts(f, "first", 1);
	worker_start(f, NULL, NULL);
	wait_count(&f->rx, "/r", 500, 1);
	uint64_t s2 = make_accounts(f, "later", 2); /* appended while the first is being retried */
	wait_count(&f->rx, "/r", 200, 3);
	worker_kill(f, SIGTERM, 0);

	json_t *lines = receiver_lines(&f->rx, "/r");
	assert_int_equal(json_array_size(lines), 4);
	uint64_t want_seq[4] = {s1, s1, s2, s2 + 1};
	long want_status[4] = {500, 200, 200, 200};
	for (size_t i = 0; i < 4; i++) {
		json_t *l = json_array_get(lines, i);
		char eid[65];
		event_id_hex(f, want_seq[i], eid);
		assert_int_equal(jint(l, "seq"), (json_int_t)want_seq[i]);
		assert_int_equal(jint(l, "status"), want_status[i]);
		assert_string_equal(jstr(l, "id"), eid); /* webhook-id = the event id, on every try */
		assert_string_equal(jstr(l, "type"), "account.created");
		assert_true(json_is_true(json_object_get(l, "signature_valid")));
		json_t *b = json_loads(jstr(l, "body"), 0, NULL);
		assert_string_equal(jstr(json_object_get(b, "data"), "id"), eid);
		assert_non_null(strstr(jstr(b, "timestamp"), "Z"));
		json_decref(b);
	}
	/* The retry waited about 1 s: the webhook-timestamps are 0..2 s apart, the attempt records
	 * at least 0.8 s (jitter is +/-20%). */
	json_t *s = show_sub(f, id);
	json_t *att = json_object_get(s, "attempts");
	assert_int_equal(json_array_size(att), 4);
	assert_string_equal(jstr(json_array_get(att, 0), "result"), "retry");
	assert_int_equal(jint(json_array_get(att, 0), "status"), 500);
	assert_string_equal(jstr(json_array_get(att, 0), "error"), "HTTP 500");
	assert_string_equal(jstr(json_array_get(att, 1), "result"), "delivered");
	assert_int_equal(jint(json_array_get(att, 1), "attempt"), 2);
	int64_t t0 = 0, t1 = 0;
	assert_int_equal(cl_time_parse_text(jstr(json_array_get(att, 0), "at"), &t0, false, NULL), 0);
	assert_int_equal(cl_time_parse_text(jstr(json_array_get(att, 1), "at"), &t1, false, NULL), 0);
	assert_true(t1 - t0 >= 800000);
	assert_int_equal(jint(s, "cursor"), (json_int_t)(s2 + 1));
	assert_int_equal(jint(s, "delivered"), 3);
	assert_int_equal(jint(s, "failed"), 1);
	json_decref(s);
	json_decref(lines);
}

/* A receiver that never answers: the time-out fires, the attempt is recorded as such, and the
 * retry gets through. */
static void test_timeout(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	receiver_start(&f->rx, f->dir, f->secret, "timeout");
	char id[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, id, "/t", "--retry", "1s", NULL, NULL);
	uint64_t seq = make_accounts(f, "slow", 1);
	worker_start(f, "--timeout", "700ms");
	wait_count(&f->rx, "/t", 200, 1);
	worker_kill(f, SIGTERM, 0);
	json_t *lines = receiver_lines(&f->rx, "/t");
	assert_int_equal(json_array_size(lines), 2);
	assert_string_equal(jstr(json_array_get(lines, 0), "plan"), "timeout");
	assert_string_equal(jstr(json_array_get(lines, 0), "id"), jstr(json_array_get(lines, 1), "id"));
	json_decref(lines);
	json_t *s = show_sub(f, id);
	json_t *a0 = json_array_get(json_object_get(s, "attempts"), 0);
	assert_int_equal(jint(a0, "status"), 0);
	assert_int_equal(jint(a0, "seq"), (json_int_t)seq);
	assert_non_null(strstr(jstr(a0, "error"), "timed out"));
	assert_true(jint(a0, "duration_us") >= 600000 && jint(a0, "duration_us") < 5000000);
	assert_string_equal(jstr(json_array_get(json_object_get(s, "attempts"), 1), "result"), "delivered");
	json_decref(s);
}

/* 429 with Retry-After: 3 on a 1 s schedule: the next attempt waits the 3 s. */
static void test_retry_after_honoured(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	receiver_start(&f->rx, f->dir, f->secret, "429:3");
	char id[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, id, "/ra", "--retry", "1s,1s", NULL, NULL);
	make_accounts(f, "busy", 1);
	worker_start(f, NULL, NULL);
	wait_count(&f->rx, "/ra", 200, 1);
	worker_kill(f, SIGTERM, 0);
	json_t *lines = receiver_lines(&f->rx, "/ra");
	assert_int_equal(json_array_size(lines), 2);
	assert_int_equal(jint(json_array_get(lines, 0), "status"), 429);
	long ts0 = atol(jstr(json_array_get(lines, 0), "timestamp"));
	long ts1 = atol(jstr(json_array_get(lines, 1), "timestamp"));
	assert_true(ts1 - ts0 >= 2); /* whole seconds: 3 s apart can show as 2 */
	json_decref(lines);
	json_t *s = show_sub(f, id);
	json_t *att = json_object_get(s, "attempts");
	int64_t t0 = 0, t1 = 0, next = 0;
	assert_int_equal(cl_time_parse_text(jstr(json_array_get(att, 0), "at"), &t0, false, NULL), 0);
	assert_int_equal(cl_time_parse_text(jstr(json_array_get(att, 0), "next_attempt_at"), &next, false, NULL), 0);
	assert_int_equal(cl_time_parse_text(jstr(json_array_get(att, 1), "at"), &t1, false, NULL), 0);
	assert_true(next - t0 >= 3000000);
	assert_true(t1 - t0 >= 3000000);
	json_decref(s);
}

/* 410 disables the subscription: nothing more is sent until an operator replays it. */
static void test_gone_disables(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	receiver_start(&f->rx, f->dir, f->secret, "410");
	char id[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, id, "/g", "--retry", "1s", NULL, NULL);
	uint64_t s1 = make_accounts(f, "gone", 2);
	tu_run r;
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	assert_int_equal(r.exit_code, 0);
	json_t *st = json_loads(r.out, 0, NULL);
	assert_int_equal(jint(st, "delivered"), 0);
	assert_int_equal(jint(st, "disabled"), 1);
	assert_int_equal(jint(st, "pending"), 0); /* pending counts active subscriptions only */
	json_decref(st);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "--json", "webhook", "list", NULL);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_string_equal(jstr(j, "state"), "disabled");
	assert_non_null(strstr(jstr(j, "disabled_reason"), "410"));
	assert_int_equal(jint(j, "cursor"), (json_int_t)(s1 - 1));
	json_decref(j);
	tu_run_free(&r);
	/* Disabled: another run sends nothing. */
	tu_cli(&r, f->ledger, "webhook", "deliver", "--once", NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	assert_int_equal(count_status(&f->rx, "/g", 0), 1);
	/* The operator replays from the first event: active again, both delivered. */
	char from[24];
	snprintf(from, sizeof(from), "%llu", (unsigned long long)s1);
	tu_cli(&r, f->ledger, "webhook", "replay", id, "--from", from, NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"delivered\":2,"));
	tu_run_free(&r);
	json_t *lines = receiver_lines(&f->rx, "/g");
	assert_int_equal(json_array_size(lines), 3);
	assert_int_equal(jint(json_array_get(lines, 1), "seq"), (json_int_t)s1);
	assert_int_equal(jint(json_array_get(lines, 2), "seq"), (json_int_t)s1 + 1);
	json_decref(lines);
}

/* After the last attempt of its schedule an event is dead-lettered and the subscription moves
 * on; a replay re-sends it (same webhook-id) and marks the dead letter redelivered. */
static void test_dead_letter_and_replay(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	receiver_start(&f->rx, f->dir, f->secret, "500,500");
	char id[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, id, "/d", "--retry", "1s", NULL, NULL);
	uint64_t s1 = make_accounts(f, "dead", 2);
	worker_start(f, NULL, NULL);
	wait_count(&f->rx, "/d", 200, 1);
	worker_kill(f, SIGTERM, 0);
	json_t *lines = receiver_lines(&f->rx, "/d");
	assert_int_equal(json_array_size(lines), 3);
	assert_int_equal(jint(json_array_get(lines, 0), "seq"), (json_int_t)s1);
	assert_int_equal(jint(json_array_get(lines, 1), "seq"), (json_int_t)s1);
	assert_int_equal(jint(json_array_get(lines, 2), "seq"), (json_int_t)s1 + 1);
	assert_int_equal(jint(json_array_get(lines, 2), "status"), 200);
	char dead_id[65];
	snprintf(dead_id, sizeof(dead_id), "%s", jstr(json_array_get(lines, 0), "id"));
	json_decref(lines);

	json_t *s = show_sub(f, id);
	json_t *dl = json_object_get(s, "dead_letters");
	assert_int_equal(json_array_size(dl), 1);
	json_t *d0 = json_array_get(dl, 0);
	assert_int_equal(jint(d0, "seq"), (json_int_t)s1);
	assert_string_equal(jstr(d0, "id"), dead_id);
	assert_string_equal(jstr(d0, "type"), "account.created");
	assert_int_equal(jint(d0, "attempts"), 2);
	assert_int_equal(jint(d0, "status"), 500);
	assert_true(json_is_null(json_object_get(d0, "redelivered_at")));
	assert_int_equal(jint(s, "dead_letter_count"), 1);
	assert_int_equal(jint(s, "cursor"), (json_int_t)s1 + 1);
	assert_string_equal(jstr(json_array_get(json_object_get(s, "attempts"), 1), "result"), "dead");
	json_decref(s);

	char from[24];
	snprintf(from, sizeof(from), "%llu", (unsigned long long)s1);
	tu_run r;
	tu_cli(&r, f->ledger, "--json", "webhook", "replay", id, "--from", from, NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"cursor\":"));
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"delivered\":2,"));
	tu_run_free(&r);
	lines = receiver_lines(&f->rx, "/d");
	assert_int_equal(json_array_size(lines), 5);
	assert_string_equal(jstr(json_array_get(lines, 3), "id"), dead_id);
	assert_int_equal(jint(json_array_get(lines, 3), "status"), 200);
	json_decref(lines);
	s = show_sub(f, id);
	d0 = json_array_get(json_object_get(s, "dead_letters"), 0);
	assert_true(json_is_string(json_object_get(d0, "redelivered_at")));
	json_decref(s);
}

/* The worker is killed with SIGKILL while the receiver holds the answer to a delivery. After a
 * restart every event arrives; the only duplicates are re-sends with the same webhook-id. */
static void test_sigkill_loses_nothing(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	receiver_start(&f->rx, f->dir, f->secret, "200,200,200@4000");
	char id[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, id, "/k", "--retry", "1s", NULL, NULL);
	enum { N = 5 };
	uint64_t s1 = make_accounts(f, "kill", N);
	worker_start(f, NULL, NULL);
	wait_count(&f->rx, "/k", 0, 3); /* the third is logged, its answer held for 4 s */
	worker_kill(f, SIGKILL, -1);
	size_t before = count_status(&f->rx, "/k", 0);
	assert_int_equal(before, 3);
	worker_start(f, NULL, NULL);
	/* Everything from the held event on arrives again after the restart. */
	int64_t until = mono_ms() + WAIT_MS;
	for (;;) {
		json_t *lines = receiver_lines(&f->rx, "/k");
		size_t n = json_array_size(lines);
		json_t *last = n ? json_array_get(lines, n - 1) : NULL;
		bool done = n > before && last != NULL && jint(last, "seq") == (json_int_t)(s1 + N - 1);
		json_decref(lines);
		if (done)
			break;
		if (mono_ms() > until)
			fail_msg("not everything was delivered after the restart");
		sleep_ms(50);
	}
	worker_kill(f, SIGTERM, 0);

	json_t *lines = receiver_lines(&f->rx, "/k");
	size_t n = json_array_size(lines);
	char ids[N][65];
	int seen[N] = {0};
	for (int i = 0; i < N; i++)
		event_id_hex(f, s1 + (uint64_t)i, ids[i]);
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *l = json_array_get(lines, i);
		uint64_t seq = (uint64_t)jint(l, "seq");
		assert_true(seq >= s1 && seq < s1 + N);
		assert_string_equal(jstr(l, "id"), ids[seq - s1]); /* a duplicate carries the same id */
		assert_true(json_is_true(json_object_get(l, "signature_valid")));
		/* In order within each run: only the restart may go back (to re-send). */
		if (i != before)
			assert_true(seq >= prev);
		prev = seq;
		seen[seq - s1]++;
	}
	for (int i = 0; i < N; i++)
		assert_true(seen[i] >= 1);
	assert_true(seen[2] >= 2); /* the one in flight at the kill was sent again */
	json_decref(lines);
	json_t *s = show_sub(f, id);
	assert_int_equal(jint(s, "cursor"), (json_int_t)(s1 + N - 1));
	json_decref(s);
	/* The deliveries made before the kill were recorded: attempts and counters survived. */
}

static int admin_event(fixture *f)
{
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	cl_admin_info a;
	char keyout[4300];
	snprintf(keyout, sizeof(keyout), "%s/bob.key", f->dir);
	if (cl_ledger_open(&l, f->ledger, NULL, &err) != CL_OK)
		fail_msg("open: %s", err.msg);
	if (cl_admin_add(l, "bob", "admin", NULL, keyout, &a) != CL_OK)
		fail_msg("admin add: %s", cl_ledger_error(l));
	cl_ledger_free(l);
	return (int)a.added_seq;
}

/* Two subscriptions with different filters, delivered concurrently by one worker: each gets
 * exactly the events its globs match, in order. */
static void test_two_filters(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	receiver_start(&f->rx, f->dir, f->secret, "");
	char a[CL_WEBHOOK_ID_LEN + 1], b[CL_WEBHOOK_ID_LEN + 1], c[CL_WEBHOOK_ID_LEN + 1];
	add_sub(f, a, "/accounts", "--events", "account.*", NULL, NULL);
	add_sub(f, b, "/admin", "--events", "admin.*,webhook.unsubscribed", NULL, NULL);
	add_sub(f, c, "/third", "--events", "nothing.matches", NULL, NULL);
	uint64_t acc1 = make_accounts(f, "f", 2);
	uint64_t adm = (uint64_t)admin_event(f);
	uint64_t acc3 = make_accounts(f, "g", 1);
	tu_run r;
	tu_cli(&r, f->ledger, "--json", "webhook", "remove", c, NULL);
	assert_int_equal(r.exit_code, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	uint64_t unsub = (uint64_t)jint(j, "seq");
	json_decref(j);
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"delivered\":5,"));
	assert_non_null(strstr(r.out, "\"pending\":0,"));
	tu_run_free(&r);

	uint64_t want_a[] = {acc1, acc1 + 1, acc3};
	uint64_t want_b[] = {adm, unsub};
	json_t *la = receiver_lines(&f->rx, "/accounts"), *lb = receiver_lines(&f->rx, "/admin");
	assert_int_equal(json_array_size(la), 3);
	assert_int_equal(json_array_size(lb), 2);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(jint(json_array_get(la, i), "seq"), (json_int_t)want_a[i]);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(jint(json_array_get(lb, i), "seq"), (json_int_t)want_b[i]);
	assert_string_equal(jstr(json_array_get(lb, 0), "type"), "admin.added");
	assert_string_equal(jstr(json_array_get(lb, 1), "type"), "webhook.unsubscribed");
	/* The unsubscribed event names the removed subscription; the data id is the event's. */
	json_t *body = json_loads(jstr(json_array_get(lb, 1), "body"), 0, NULL);
	assert_string_equal(jstr(json_object_get(body, "data"), "webhook_id"), c);
	assert_int_equal(strlen(jstr(json_object_get(body, "data"), "id")), 64);
	json_decref(body);
	assert_int_equal(count_status(&f->rx, "/third", 0), 0);
	json_decref(la);
	json_decref(lb);
	/* Both cursors moved to the head, over the events they did not want. */
	json_t *sa = show_sub(f, a), *sb = show_sub(f, b);
	assert_int_equal(jint(sa, "cursor"), (json_int_t)head_seq(f));
	assert_int_equal(jint(sb, "cursor"), (json_int_t)head_seq(f));
	json_decref(sa);
	json_decref(sb);
	/* A second worker while one runs is refused. The first is known to hold the lock once it
	 * has delivered an event appended after it started. */
	worker_start(f, NULL, NULL);
	uint64_t late = make_accounts(f, "late", 1);
	wait_count(&f->rx, "/accounts", 200, 4);
	json_t *ll = receiver_lines(&f->rx, "/accounts");
	assert_int_equal(jint(json_array_get(ll, 3), "seq"), (json_int_t)late);
	json_decref(ll);
	tu_cli(&r, f->ledger, "webhook", "deliver", "--once", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "another `webhook deliver` is running"));
	tu_run_free(&r);
	worker_kill(f, SIGTERM, 0);
}

/* Webhook secrets follow the master key: after `keys rotate-master`, and in the window that a
 * crash between a rotation's commit and its rename leaves (master.key still the old key, the
 * blobs under master.key.new), the worker opens every secret with the current key and signs
 * with it; a subscription added in that window seals under the current key too, so the next
 * rotation (which completes the interrupted one) re-wraps it. */
static void test_secrets_follow_master_rotation(void **state)
{
	NEED_RECEIVER();
	fixture *f = *state;
	tu_run r;
	char a[CL_WEBHOOK_ID_LEN + 1], b[CL_WEBHOOK_ID_LEN + 1];
	char mk[4300], mk_new[4300];
	snprintf(mk, sizeof(mk), "%s/keys/master.key", f->ledger);
	snprintf(mk_new, sizeof(mk_new), "%s/keys/master.key.new", f->ledger);
	receiver_start(&f->rx, f->dir, f->secret, "");
	add_sub(f, a, "/a", NULL, NULL, NULL, NULL);
	uint64_t s1 = make_accounts(f, "rot", 1);
	tu_cli(&r, f->ledger, "--json", "keys", "rotate-master", NULL);
	if (r.exit_code != 0)
		fail_msg("rotate-master: %s", r.err);
	assert_non_null(strstr(r.out, "\"rewrapped\":1"));
	tu_run_free(&r);
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	if (r.exit_code != 0)
		fail_msg("deliver after the rotation: %s", r.err);
	tu_run_free(&r);

	/* The state a crash right after a rotation's commit leaves. */
	size_t olen = 0;
	uint8_t *old = tu_read_file(mk, &olen);
	tu_cli(&r, f->ledger, "keys", "rotate-master", NULL);
	assert_int_equal(r.exit_code, 0);
	tu_run_free(&r);
	tu_master_key_crash_window(mk, old, olen);
	OPENSSL_cleanse(old, olen);
	free(old);
	add_sub(f, b, "/b", NULL, NULL, NULL, NULL);
	uint64_t s2 = make_accounts(f, "win", 1);
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	if (r.exit_code != 0)
		fail_msg("deliver in the crash window: %s", r.err);
	tu_run_free(&r);

	/* The next rotation installs the pending key, then rotates both secrets. */
	tu_cli(&r, f->ledger, "--json", "keys", "rotate-master", NULL);
	if (r.exit_code != 0)
		fail_msg("rotate-master after the crash: %s", r.err);
	assert_non_null(strstr(r.out, "\"rewrapped\":2"));
	tu_run_free(&r);
	assert_false(file_exists(mk_new));
	uint64_t s3 = make_accounts(f, "after", 1);
	tu_cli(&r, f->ledger, "--json", "webhook", "deliver", "--once", NULL);
	if (r.exit_code != 0)
		fail_msg("deliver after completing the rotation: %s", r.err);
	tu_run_free(&r);

	/* Every request was signed with the subscription's secret; each event got through. */
	static const char *const paths[] = {"/a", "/b"};
	const uint64_t want[2][3] = {{s1, s2, s3}, {s2, s3, 0}};
	for (int p = 0; p < 2; p++) {
		json_t *lines = receiver_lines(&f->rx, paths[p]);
		assert_true(json_array_size(lines) > 0);
		for (size_t i = 0; i < json_array_size(lines); i++) {
			json_t *l = json_array_get(lines, i);
			assert_true(json_is_true(json_object_get(l, "signature_valid")));
			assert_int_equal(jint(l, "status"), 200);
		}
		for (int k = 0; k < 3 && want[p][k] != 0; k++) {
			bool seen = false;
			for (size_t i = 0; i < json_array_size(lines); i++)
				seen = seen || jint(json_array_get(lines, i), "seq") == (json_int_t)want[p][k];
			if (!seen)
				fail_msg("%s never received seq %llu", paths[p], (unsigned long long)want[p][k]);
		}
		json_decref(lines);
	}
	json_t *sa = show_sub(f, a), *sb = show_sub(f, b);
	assert_int_equal(jint(sa, "cursor"), (json_int_t)head_seq(f));
	assert_int_equal(jint(sb, "cursor"), (json_int_t)head_seq(f));
	json_decref(sa);
	json_decref(sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_refused_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_usage_and_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_sealing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generated_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_ok_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_honoured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_disables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_loses_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_follow_master_rotation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
