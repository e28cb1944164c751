/* test_webhook_http.c - tests of the ledger-independent half of webhooks: Standard Webhooks
 * signing and verification, the SSRF guard, retry schedules and Retry-After, and the libcurl
 * multi delivery engine against a real receiver.
 *
 * The receiver is tests/webhook/receiver.js on Node.js, listening on 127.0.0.1; it checks every
 * request's signature with the npm `standardwebhooks` package (an implementation we did not
 * write) and logs each request as a JSON line that these tests read. The delivery tests are
 * skipped, saying why, only when node or tests/webhook/node_modules is missing (the test command
 * runs `npm ci` there first, so CI does not skip). Every byte of traffic goes to 127.0.0.1: the
 * guard tests only resolve numeric addresses and "localhost" and never connect.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "export/webhook_guard.h"
#include "export/webhook_http.h"
#include "export/webhook_retry.h"
#include "export/webhook_sign.h"
#include "ledger/encoding.h"

/* ---- the receiver -------------------------------------------------------------------------- */

typedef struct receiver {
	int available;
	char why[9000];    /* why it is not available */
	pid_t pid;
	unsigned port;
	char *dir;         /* temporary directory with the log */
	char *log;         /* log file path */
	cl_secret key;     /* the secret the receiver verifies with */
	cl_wh_target target; /* http://127.0.0.1:PORT/hook, allow_private */
	cl_wh_engine *engine;
} receiver;

static receiver R;

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static const char *find_node(void)
{
	static char found[4096];
	const char *path = getenv("PATH");
	if (file_exists("/usr/bin/node"))
		return "/usr/bin/node";
	if (path == NULL)
		return NULL;
	const char *p = path;
	while (*p) {
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

/* Starts the receiver and reads its port from the first line of its stdout. */
static int receiver_start(receiver *r)
{
	const char *src = getenv("CL_SOURCE_DIR");
	char script[4096], mod[4096];
	if (src == NULL || *src == '\0')
		src = ".";
	snprintf(script, sizeof(script), "%s/tests/webhook/receiver.js", src);
	snprintf(mod, sizeof(mod), "%s/tests/webhook/node_modules/standardwebhooks/package.json", src);
	const char *node = find_node();
	if (node == NULL) {
		snprintf(r->why, sizeof(r->why), "node is not installed (needs Node.js >= 18 on PATH)");
		return -1;
	}
	if (!file_exists(script)) {
		snprintf(r->why, sizeof(r->why), "%s is missing (is CL_SOURCE_DIR right?)", script);
		return -1;
	}
	if (!file_exists(mod)) {
		snprintf(r->why, sizeof(r->why), "%s is missing: run `npm ci` in %s/tests/webhook", mod, src);
		return -1;
	}

	cl_error err = CL_ERROR_INIT;
	cl_secret text = CL_SECRET_INIT(0);
	r->key = (cl_secret)CL_SECRET_INIT(0);
	assert_int_equal(cl_wh_secret_generate(&r->key, CL_WH_KEY_DEFAULT, &err), 0);
	assert_int_equal(cl_wh_secret_format(&text, &r->key, &err), 0);
	r->dir = tu_mkdtemp("webhook");
	if (asprintf(&r->log, "%s/requests.jsonl", r->dir) < 0)
		fail_msg("asprintf");

	int out[2];
	if (pipe2(out, O_CLOEXEC) != 0)
		fail_msg("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(out[1], 1);
		/* The secret goes in the environment, not on the command line. */
		if (setenv("CL_WEBHOOK_SECRET", (const char *)text.ptr, 1) != 0)
			_exit(126);
		char *argv[] = {(char *)node, script, "--log", r->log, "--hold-ms", "20000", NULL};
		execv(node, argv);
		_exit(127);
	}
	cl_secret_free(&text);
	close(out[1]);
	char line[64];
	size_t len = 0;
	while (len + 1 < sizeof(line)) {
		struct pollfd pfd = {out[0], POLLIN, 0};
		if (poll(&pfd, 1, 15000) <= 0)
			break;
		ssize_t n = read(out[0], line + len, 1);
		if (n <= 0)
			break;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	close(out[0]);
	r->pid = pid;
	char *end = NULL;
	unsigned long port = strtoul(line, &end, 10);
	if (len == 0 || *end != '\0' || port == 0 || port > 65535) {
		snprintf(r->why, sizeof(r->why), "the receiver did not print its port (got \"%s\")", line);
		return 1; /* a real failure, not a skip */
	}
	r->port = (unsigned)port;

	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", r->port);
	assert_int_equal(cl_wh_guard_check(&r->target, url, 1, &err), 0);
	cl_wh_engine_opts o = CL_WH_ENGINE_OPTS_INIT;
	o.connect_timeout_ms = 5000;
	o.timeout_ms = 10000;
	assert_int_equal(cl_wh_engine_new(&r->engine, &o, &err), 0);
	r->available = 1;
	return 0;
}

static void receiver_stop(receiver *r)
{
	cl_wh_engine_free(r->engine);
	r->engine = NULL;
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		int status;
		for (int i = 0; i < 50; i++) {
			if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
				r->pid = 0;
				break;
			}
			usleep(100000);
		}
		if (r->pid > 0) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &status, 0);
		}
		r->pid = 0;
	}
	cl_secret_free(&r->key);
	if (r->dir != NULL)
		tu_rmrf(r->dir);
	free(r->dir);
	free(r->log);
	r->dir = r->log = NULL;
}

static int group_setup(void **state)
{
	(void)state;
	memset(&R, 0, sizeof(R));
	int rc = receiver_start(&R);
	if (rc < 0)
		print_message("[ NOTE     ] delivery tests will be skipped: %s\n", R.why);
	else if (rc > 0)
		print_message("[ ERROR    ] %s\n", R.why);
	/* rc > 0: the delivery tests fail in need_receiver() rather than skip. */
	if (rc > 0)
		R.available = -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	receiver_stop(&R);
	return 0;
}

#define NEED_RECEIVER()                                                                         \
	do {                                                                                    \
		if (R.available < 0)                                                            \
			fail_msg("receiver failed to start: %s", R.why);                        \
		if (R.available == 0) {                                                         \
			print_message("[ SKIPPED  ] %s: %s\n", __func__, R.why);               \
			skip();                                                                 \
		}                                                                               \
	} while (0)

/* PUT body to the receiver's control endpoint; expects 204. */
static void control(const char *what, const char *body)
{
	char url[128];
	long status = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/_control/%s", R.port, what);
	CURL *h = curl_easy_init();
	assert_non_null(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	CURLcode c = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	assert_int_equal(c, CURLE_OK);
	assert_int_equal(status, 204);
}

/* Every log line whose id is `id`, in arrival order, as a JSON array (caller decrefs). */
static json_t *log_lines(const char *id)
{
	size_t len = 0;
	json_t *arr = json_array();
	if (!file_exists(R.log))
		return arr;
	uint8_t *data = tu_read_file(R.log, &len);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		json_error_t je;
		json_t *o = json_loadb((const char *)data + start, i - start, 0, &je);
		if (o == NULL)
			fail_msg("receiver log line is not JSON: %s", je.text);
		const char *lid = json_string_value(json_object_get(o, "id"));
		if (lid != NULL && strcmp(lid, id) == 0)
			json_array_append(arr, o);
		json_decref(o);
		start = i + 1;
	}
	free(data);
	return arr;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	if (s == NULL)
		fail_msg("log field %s is missing or not a string", k);
	return s;
}

static char *make_body(const char *type, long seq, const char *id)
{
	char *b = NULL;
	if (asprintf(&b, "{\"type\":\"%s\",\"timestamp\":\"2026-01-02T03:04:05Z\",\"data\":{\"seq\":%ld,\"id\":\"%s\"}}",
		     type, seq, id) < 0)
		fail_msg("asprintf");
	return b;
}

static cl_wh_job make_job(const cl_wh_target *t, const cl_secret *key, const char *id, const char *body)
{
	cl_wh_job j;
	memset(&j, 0, sizeof(j));
	j.target = t;
	j.secret = key;
	j.id = id;
	j.timestamp = (int64_t)time(NULL);
	j.body = CL_BYTES(body, strlen(body));
	return j;
}

static void run1(cl_wh_engine *e, const cl_wh_job *j, cl_wh_outcome *o)
{
	cl_error err = CL_ERROR_INIT;
	cl_err rc = cl_wh_engine_run(e, j, o, 1, &err);
	if (rc != 0)
		fail_msg("engine run: %s", err.msg);
}

/* ---- signing ------------------------------------------------------------------------------- */

/* The vector published with the Standard Webhooks specification (also produced by the npm
 * package: `new Webhook(secret).sign(id, date, payload)`). */
#define KAT_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define KAT_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define KAT_TS 1614265330
#define KAT_BODY "{\"test\": 2432232314}"
#define KAT_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void test_sign_known_vector(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_secret key = CL_SECRET_INIT(0);
	char sig[CL_WH_SIGNATURE_BUFSZ];
	cl_bytes body = CL_BYTES(KAT_BODY, strlen(KAT_BODY));
	assert_int_equal(cl_wh_secret_parse(&key, KAT_SECRET, strlen(KAT_SECRET), &err), 0);
	assert_int_equal(key.len, 24);
	assert_int_equal(cl_wh_sign(sig, &key, KAT_ID, KAT_TS, body, &err), 0);
	assert_string_equal(sig, KAT_SIG);
	assert_int_equal(strlen(sig), CL_WH_SIGNATURE_LEN);

	/* Verify: exact, inside tolerance, in a list with other versions and wrong entries. */
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", KAT_SIG, body, KAT_TS, 300, &err), 0);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", KAT_SIG, body, KAT_TS + 300, 300, &err), 0);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330",
				      "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
				      "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= garbage  " KAT_SIG,
				      body, KAT_TS, 300, &err),
			 0);
	/* A tampered body, id or timestamp, a wrong key, only another version: no match. */
	cl_bytes tampered = CL_BYTES("{\"test\": 2432232315}", strlen(KAT_BODY));
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", KAT_SIG, tampered, KAT_TS, 300, &err), CL_EINTEGRITY);
	assert_int_equal(cl_wh_verify(&key, "msg_other", "1614265330", KAT_SIG, body, KAT_TS, 300, &err), CL_EINTEGRITY);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265331", KAT_SIG, body, KAT_TS, 300, &err), CL_EINTEGRITY);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
				      body, KAT_TS, 300, &err),
			 CL_EINTEGRITY);
	cl_secret other = CL_SECRET_INIT(0);
	assert_int_equal(cl_wh_secret_generate(&other, 32, &err), 0);
	assert_int_equal(cl_wh_verify(&other, KAT_ID, "1614265330", KAT_SIG, body, KAT_TS, 300, &err), CL_EINTEGRITY);
	/* Timestamps outside the tolerance, both ways; malformed headers. */
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", KAT_SIG, body, KAT_TS + 301, 300, &err), CL_EREFUSED);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", KAT_SIG, body, KAT_TS - 301, 300, &err), CL_EREFUSED);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "+1614265330", KAT_SIG, body, KAT_TS, 300, &err), CL_EBADINPUT);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330.0", KAT_SIG, body, KAT_TS, 300, &err), CL_EBADINPUT);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "", KAT_SIG, body, KAT_TS, 300, &err), CL_EBADINPUT);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", "", body, KAT_TS, 300, &err), CL_EBADINPUT);
	assert_int_equal(cl_wh_verify(&key, NULL, "1614265330", KAT_SIG, body, KAT_TS, 300, &err), CL_EBADINPUT);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
				      body, KAT_TS, 300, &err),
			 CL_EINTEGRITY);
	char many[CL_WH_SIGHEADER_MAX];
	size_t n = 0;
	for (int i = 0; i < CL_WH_SIGHEADER_ENTRIES + 1; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s ", KAT_SIG);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", many, body, KAT_TS, 300, &err), CL_EBADINPUT);

	/* Bad signing input. */
	assert_int_equal(cl_wh_sign(sig, &key, "has space", KAT_TS, body, &err), CL_EUSAGE);
	assert_int_equal(cl_wh_sign(sig, &key, "has.dot", KAT_TS, body, &err), CL_EUSAGE);
	assert_int_equal(cl_wh_sign(sig, &key, "", KAT_TS, body, &err), CL_EUSAGE);
	assert_int_equal(cl_wh_sign(sig, &key, "nl\r\nx: y", KAT_TS, body, &err), CL_EUSAGE);
	assert_int_equal(cl_wh_sign(sig, &key, KAT_ID, -1, body, &err), CL_EUSAGE);
	char longid[CL_WH_ID_MAX + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(cl_wh_sign(sig, &key, longid, KAT_TS, body, &err), CL_EUSAGE);
	longid[CL_WH_ID_MAX] = '\0';
	assert_int_equal(cl_wh_sign(sig, &key, longid, KAT_TS, body, &err), 0);
	/* An empty body is signed over "id.ts.". */
	assert_int_equal(cl_wh_sign(sig, &key, KAT_ID, KAT_TS, CL_BYTES(NULL, 0), &err), 0);
	assert_int_equal(cl_wh_verify(&key, KAT_ID, "1614265330", sig, CL_BYTES(NULL, 0), KAT_TS, 0, &err), 0);
	cl_secret_free(&key);
	cl_secret_free(&other);
}

static void test_secret_text(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_secret key = CL_SECRET_INIT(0), text = CL_SECRET_INIT(0), back = CL_SECRET_INIT(0);
	assert_int_equal(cl_wh_secret_generate(&key, CL_WH_KEY_DEFAULT, &err), 0);
	assert_int_equal(key.len, 32);
	assert_int_equal(cl_wh_secret_format(&text, &key, &err), 0);
	assert_int_equal(text.len, 6 + 44);
	assert_int_equal(text.ptr[text.len], '\0');
	assert_memory_equal(text.ptr, "whsec_", 6);
	assert_int_equal(cl_wh_secret_parse(&back, (const char *)text.ptr, text.len, &err), 0);
	assert_int_equal(back.len, key.len);
	assert_memory_equal(back.ptr, key.ptr, key.len);
	/* Two generated keys differ. */
	assert_int_equal(cl_wh_secret_generate(&back, 32, &err), 0);
	assert_memory_not_equal(back.ptr, key.ptr, 32);
	/* Sizes: 24 and 64 are the bounds. */
	assert_int_equal(cl_wh_secret_generate(&back, 24, &err), 0);
	assert_int_equal(cl_wh_secret_generate(&back, 64, &err), 0);
	assert_int_equal(cl_wh_secret_format(&text, &back, &err), 0);
	assert_int_equal(text.len, CL_WH_SECRET_TEXT_MAX);
	assert_int_equal(cl_wh_secret_parse(&key, (const char *)text.ptr, text.len, &err), 0);
	assert_int_equal(key.len, 64);
	assert_int_equal(cl_wh_secret_generate(&back, 23, &err), CL_EUSAGE);
	assert_null(back.ptr);
	assert_int_equal(cl_wh_secret_generate(&back, 65, &err), CL_EUSAGE);

	/* Non-canonical: the character before the '=' of a 32-byte key carries 2 padding bits. */
	assert_int_equal(cl_wh_secret_generate(&key, 32, &err), 0);
	assert_int_equal(cl_wh_secret_format(&text, &key, &err), 0);
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char bad[128];
	memcpy(bad, text.ptr, text.len + 1);
	const char *pos = strchr(alpha, bad[text.len - 2]);
	assert_non_null(pos);
	bad[text.len - 2] = alpha[(pos - alpha) | 1];
	assert_int_equal(cl_wh_secret_parse(&back, bad, text.len, &err), CL_EBADINPUT);
	assert_null(strstr(err.msg, bad + 6)); /* the message never quotes the secret */

	static const char *const bads[] = {
		"",
		"whsec_",
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",         /* no prefix */
		"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",   /* prefix is case-sensitive */
		"whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  /* whitespace */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", /* trailing newline */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",    /* not a multiple of 4 */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-w",   /* base64url is not accepted */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La=aSw",   /* '=' in the middle */
		"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",   /* 22 bytes: too short */
		"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",   /* 23 bytes: too short */
		"whsec_A===AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		cl_err rc = cl_wh_secret_parse(&back, bads[i], strlen(bads[i]), &err);
		if (rc != CL_EBADINPUT)
			fail_msg("secret %zu \"%s\" gave %d, not CL_EBADINPUT", i, bads[i], rc);
		assert_null(back.ptr);
		assert_true(strlen(err.msg) > 0);
	}
	/* 65 bytes is over the maximum. */
	uint8_t raw[65];
	memset(raw, 7, sizeof(raw));
	char *b64 = cl_base64_encode(raw, sizeof(raw));
	assert_non_null(b64);
	char big[256];
	snprintf(big, sizeof(big), "whsec_%s", b64);
	free(b64);
	assert_int_equal(cl_wh_secret_parse(&back, big, strlen(big), &err), CL_EBADINPUT);
	/* Not NUL-terminated input: only text_len bytes are read. */
	char nonul[64];
	memcpy(nonul, KAT_SECRET "XXXX", strlen(KAT_SECRET) + 4);
	assert_int_equal(cl_wh_secret_parse(&back, nonul, strlen(KAT_SECRET), &err), 0);
	cl_secret_free(&key);
	cl_secret_free(&text);
	cl_secret_free(&back);
}

/* ---- retry schedule, jitter, Retry-After --------------------------------------------------- */

static void test_retry_parse(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_wh_retry r;
	char text[CL_WH_RETRY_TEXT_MAX + 1];
	assert_int_equal(cl_wh_retry_parse(&r, CL_WH_RETRY_DEFAULT, strlen(CL_WH_RETRY_DEFAULT), &err), 0);
	static const uint32_t want[] = {5, 300, 1800, 7200, 18000, 36000, 36000};
	assert_int_equal(r.nsteps, 7);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(r.step_s[i], want[i]);
	assert_int_equal(cl_wh_retry_format(text, sizeof(text), &r), 0);
	assert_string_equal(text, CL_WH_RETRY_DEFAULT);

	static const struct {
		const char *in, *canon;
		uint32_t first;
	} good[] = {
		{"1s", "1s", 1},
		{"90s", "90s", 90},
		{"120s", "2m", 120},
		{"7d", "7d", 604800},
		{"168h", "7d", 604800},
		{"604800s", "7d", 604800}, /* 6 digits, the most */
		{"1d,1h,1m,1s", "1d,1h,1m,1s", 86400},
		{"10h,5s", "10h,5s", 36000},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cl_err rc = cl_wh_retry_parse(&r, good[i].in, strlen(good[i].in), &err);
		if (rc != 0)
			fail_msg("\"%s\": %s", good[i].in, err.msg);
		assert_int_equal(r.step_s[0], good[i].first);
		assert_int_equal(cl_wh_retry_format(text, sizeof(text), &r), 0);
		assert_string_equal(text, good[i].canon);
	}
	/* 24 steps is the most. */
	char many[CL_WH_RETRY_TEXT_MAX + 64];
	size_t n = 0;
	for (int i = 0; i < CL_WH_RETRY_MAX_STEPS; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s1s", i ? "," : "");
	assert_int_equal(cl_wh_retry_parse(&r, many, n, &err), 0);
	assert_int_equal(r.nsteps, CL_WH_RETRY_MAX_STEPS);
	n += (size_t)snprintf(many + n, sizeof(many) - n, ",1s");
	assert_int_equal(cl_wh_retry_parse(&r, many, n, &err), CL_EBADINPUT);
	assert_non_null(strstr(err.msg, "over 24 steps"));
	assert_int_equal(r.nsteps, 0);
	/* Over the text bound. */
	char longtext[CL_WH_RETRY_TEXT_MAX + 2];
	memset(longtext, '1', sizeof(longtext));
	assert_int_equal(cl_wh_retry_parse(&r, longtext, sizeof(longtext), &err), CL_EBADINPUT);
	/* Format into a buffer too small. */
	assert_int_equal(cl_wh_retry_parse(&r, "5s,5m", 5, &err), 0);
	assert_int_equal(cl_wh_retry_format(text, 5, &r), CL_ETOOLARGE);
	assert_int_equal(cl_wh_retry_format(text, 6, &r), 0);

	static const char *const bads[] = {
		"", ",", "5s,", ",5s", "5s,,5m", "5", "s", "5x", "5S", "05s", "0s", "0", "8d", "5 s", " 5s",
		"5s ", "5s, 5m", "-5s", "+5s", "1000000s", "999999s", "604801s", "5s;5m", "5sm", "1.5h", "5m\n", "1w",
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		cl_err rc = cl_wh_retry_parse(&r, bads[i], strlen(bads[i]), &err);
		if (rc != CL_EBADINPUT)
			fail_msg("schedule \"%s\" was accepted", bads[i]);
		assert_int_equal(r.nsteps, 0);
	}
	assert_int_equal(cl_wh_retry_parse(&r, "5s,5x", 5, &err), CL_EBADINPUT);
	assert_string_equal(err.msg, "retry schedule step 2 \"5x\" has unit 'x' (use s, m, h or d)");
	assert_int_equal(cl_wh_retry_parse(&r, "5s,8d", 5, &err), CL_EBADINPUT);
	assert_non_null(strstr(err.msg, "step 2"));
}

static uint32_t fixed_rand(void *ctx)
{
	return *(const uint32_t *)ctx;
}

/* xorshift32: deterministic "random" values for the bounds check. */
static uint32_t xorshift_rand(void *ctx)
{
	uint32_t *s = ctx;
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void test_retry_jitter(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_wh_retry r;
	int64_t d = -1;
	assert_int_equal(cl_wh_retry_parse(&r, CL_WH_RETRY_DEFAULT, strlen(CL_WH_RETRY_DEFAULT), &err), 0);

	uint32_t v = 0;
	assert_int_equal(cl_wh_retry_next(&d, &r, 1, -1, fixed_rand, &v), 1);
	assert_int_equal(d, 4000); /* 5 s - 20% */
	v = 0x80000000u;
	assert_int_equal(cl_wh_retry_next(&d, &r, 1, -1, fixed_rand, &v), 1);
	assert_int_equal(d, 5000);
	v = 0xffffffffu;
	assert_int_equal(cl_wh_retry_next(&d, &r, 1, -1, fixed_rand, &v), 1);
	assert_true(d >= 5999 && d < 6000); /* just under 5 s + 20% */
	v = 0;
	assert_int_equal(cl_wh_retry_next(&d, &r, 7, -1, fixed_rand, &v), 1);
	assert_int_equal(d, 28800000); /* 10 h - 20% */

	/* Every step stays inside [0.8, 1.2) of its base for many random values, and the values
	 * are spread over the range (not all the same). */
	uint32_t seed = 0x12345678u;
	for (unsigned a = 1; a <= 7; a++) {
		int64_t base = (int64_t)r.step_s[a - 1] * 1000, lo = base, hi = 0;
		for (int i = 0; i < 2000; i++) {
			assert_int_equal(cl_wh_retry_next(&d, &r, a, -1, xorshift_rand, &seed), 1);
			assert_true(d >= base * 8 / 10 && d < base * 12 / 10);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		assert_true(lo < base * 85 / 100 && hi > base * 115 / 100);
	}
	/* After the 8th failed attempt (7 steps) the event is dead-lettered. */
	assert_int_equal(cl_wh_retry_next(&d, &r, 8, -1, fixed_rand, &v), 0);
	assert_int_equal(d, 0);
	assert_int_equal(cl_wh_retry_next(&d, &r, 0, -1, fixed_rand, &v), 0);

	/* Retry-After raises the wait, never lowers it, and is capped. */
	v = 0x80000000u;
	assert_int_equal(cl_wh_retry_next(&d, &r, 2, 2, fixed_rand, &v), 1);
	assert_int_equal(d, 300000);
	assert_int_equal(cl_wh_retry_next(&d, &r, 1, 600, fixed_rand, &v), 1);
	assert_int_equal(d, 600000);
	assert_int_equal(cl_wh_retry_next(&d, &r, 1, 10 * 86400, fixed_rand, &v), 1);
	assert_int_equal(d, (int64_t)CL_WH_RETRY_AFTER_MAX_S * 1000);
	assert_int_equal(cl_wh_retry_next(&d, &r, 1, 0, fixed_rand, &v), 1);
	assert_int_equal(d, 5000);
	/* The OpenSSL source gives values in range too. */
	assert_int_equal(cl_wh_retry_next(&d, &r, 1, -1, cl_wh_rand_openssl, NULL), 1);
	assert_true(d >= 4000 && d < 6000);
}

static void test_retry_after_parse(void **state)
{
	(void)state;
	uint32_t s = 99;
	const int64_t t1994 = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	assert_int_equal(cl_wh_retry_after_parse(&s, "2", 1, 0), 0);
	assert_int_equal(s, 2);
	assert_int_equal(cl_wh_retry_after_parse(&s, " 120\t", 5, 0), 0);
	assert_int_equal(s, 120);
	assert_int_equal(cl_wh_retry_after_parse(&s, "0", 1, 0), 0);
	assert_int_equal(s, 0);
	assert_int_equal(cl_wh_retry_after_parse(&s, "86401", 5, 0), 0);
	assert_int_equal(s, CL_WH_RETRY_AFTER_MAX_S);
	assert_int_equal(cl_wh_retry_after_parse(&s, "999999999999999999", 18, 0), 0);
	assert_int_equal(s, CL_WH_RETRY_AFTER_MAX_S);
	/* Only len bytes are read. */
	assert_int_equal(cl_wh_retry_after_parse(&s, "12abc", 2, 0), 0);
	assert_int_equal(s, 12);

	static const char *const dates[] = {
		"Sun, 06 Nov 1994 08:49:37 GMT",  /* IMF-fixdate */
		"Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
		"Sun Nov  6 08:49:37 1994",       /* asctime */
	};
	for (size_t i = 0; i < 3; i++) {
		s = 99;
		assert_int_equal(cl_wh_retry_after_parse(&s, dates[i], strlen(dates[i]), t1994 - 10), 0);
		assert_int_equal(s, 10);
		assert_int_equal(cl_wh_retry_after_parse(&s, dates[i], strlen(dates[i]), t1994 + 10), 0);
		assert_int_equal(s, 0); /* in the past */
		assert_int_equal(cl_wh_retry_after_parse(&s, dates[i], strlen(dates[i]), t1994 - 10 * 86400), 0);
		assert_int_equal(s, CL_WH_RETRY_AFTER_MAX_S);
	}
	static const char *const bads[] = {
		"", "  ", "-1", "+1", "1.5", "soon", "2s", "1 2", "0x10", "1234567890123456789",
		"Mon", "Sun, 06 Nov 1994 08:49:37 GMT;x", "Sun, 06 Nov 1994 08:49:37 GMT\r\nX: y",
		"sun, 06 Nov 1994 08:49:37 GMT", "Sun, 99 Xyz 1994 08:49:37 GMT",
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		cl_err rc = cl_wh_retry_after_parse(&s, bads[i], strlen(bads[i]), t1994);
		if (rc != CL_EBADINPUT)
			fail_msg("Retry-After \"%s\" was accepted (%u)", bads[i], s);
	}
}

/* ---- the guard ----------------------------------------------------------------------------- */

static void test_guard_refuses_internal(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_wh_target t;
	static const char *const urls[] = {
		"https://127.0.0.1/hook",
		"https://127.1.2.3:8443/hook",
		"https://10.0.0.5/hook",
		"https://172.16.0.1/",
		"https://172.31.255.255/",
		"https://192.168.1.10/",
		"https://169.254.169.254/latest/meta-data/",
		"https://169.254.1.1/",
		"https://100.64.0.1/",
		"https://0.0.0.0/",
		"https://224.0.0.1/",
		"https://255.255.255.255/",
		"https://[::1]/",
		"https://[::]/",
		"https://[::ffff:127.0.0.1]/",
		"https://[::ffff:10.1.2.3]/",
		"https://[::ffff:169.254.169.254]/",
		"https://[::127.0.0.1]/",
		"https://[64:ff9b::a9fe:a9fe]/",
		"https://[2002:c0a8:0101::1]/",
		"https://[fe80::1]/",
		"https://[fc00::1]/",
		"https://[fd12:3456::1]/",
		"https://[ff02::1]/",
		"https://2130706433/", /* 127.0.0.1 as one number */
		"https://0x7f.1/",
		"https://localhost/",
		"https://LOCALHOST:9999/",
	};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		cl_err rc = cl_wh_guard_check(&t, urls[i], 0, &err);
		if (rc != CL_EREFUSED)
			fail_msg("%s was not refused (%d: %s)", urls[i], rc, err.msg);
		if (strstr(err.msg, "(use --allow-private to allow it)") == NULL || strchr(err.msg, '\n') != NULL)
			fail_msg("%s: unexpected message \"%s\"", urls[i], err.msg);
		assert_int_equal(t.naddrs, 0);
		rc = cl_wh_guard_check(&t, urls[i], 1, &err);
		if (rc != 0)
			fail_msg("%s with allow_private: %s", urls[i], err.msg);
		assert_true(t.naddrs >= 1);
		assert_true(t.allow_private);
		assert_non_null(cl_wh_guard_addr_kind(&t.addrs[0]));
	}
	assert_int_equal(cl_wh_guard_check(&t, "https://10.0.0.5/hook", 0, &err), CL_EREFUSED);
	assert_string_equal(err.msg, "webhook URL host 10.0.0.5 is a private address (use --allow-private to allow it)");
	assert_int_equal(cl_wh_guard_check(&t, "https://169.254.169.254/", 0, &err), CL_EREFUSED);
	assert_string_equal(err.msg, "webhook URL host 169.254.169.254 is the cloud metadata address (use "
				     "--allow-private to allow it)");
	assert_int_equal(cl_wh_guard_check(&t, "https://[::ffff:127.0.0.1]/", 0, &err), CL_EREFUSED);
	assert_non_null(strstr(err.msg, "a loopback address"));
	assert_int_equal(cl_wh_guard_check(&t, "https://localhost/x", 0, &err), CL_EREFUSED);
	assert_non_null(strstr(err.msg, "webhook URL host localhost resolves to "));
	assert_non_null(strstr(err.msg, ", a loopback address (use --allow-private to allow it)"));

	/* localhost with allow_private: pinned, lower-cased, every address loopback. */
	assert_int_equal(cl_wh_guard_check(&t, "http://LocalHost:8080/Some/Path?q=1", 1, &err), 0);
	assert_string_equal(t.host, "localhost");
	assert_int_equal(t.port, 8080);
	assert_false(t.https);
	assert_false(t.host_is_literal);
	assert_string_equal(t.url, "http://localhost:8080/Some/Path?q=1");
	assert_memory_equal(t.resolve, "localhost:8080:", 15);
	for (size_t i = 0; i < t.naddrs; i++)
		assert_string_equal(cl_wh_guard_addr_kind(&t.addrs[i]), "a loopback address");
	/* A literal: no CURLOPT_RESOLVE entry (libcurl does not resolve literals), one pin. */
	assert_int_equal(cl_wh_guard_check(&t, "https://[::1]:8443/", 1, &err), 0);
	assert_string_equal(t.host, "::1");
	assert_int_equal(t.port, 8443);
	assert_true(t.host_is_literal);
	assert_string_equal(t.resolve, "");
	assert_int_equal(t.naddrs, 1);
	assert_int_equal(t.addrs[0].family, AF_INET6);
}

static void addr_of(cl_wh_addr *a, const char *text)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, a->bytes) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, text, a->bytes) == 1)
		a->family = AF_INET6;
	else
		fail_msg("bad address %s", text);
}

static void test_guard_addr_kinds(void **state)
{
	(void)state;
	cl_wh_addr a;
	static const char *const public_addrs[] = {
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.15.255.255", "172.32.0.0", "100.63.255.255",
		"100.128.0.0", "169.253.255.255", "11.0.0.1", "223.255.255.255", "2606:4700::1111",
		"2a00:1450:4001::1", "::ffff:8.8.8.8", "2002:0808:0808::1", "64:ff9b::808:808",
	};
	for (size_t i = 0; i < sizeof(public_addrs) / sizeof(public_addrs[0]); i++) {
		addr_of(&a, public_addrs[i]);
		const char *k = cl_wh_guard_addr_kind(&a);
		if (k != NULL)
			fail_msg("%s classified as %s", public_addrs[i], k);
	}
	static const struct {
		const char *addr, *kind;
	} refused[] = {
		{"127.0.0.1", "a loopback address"},
		{"10.255.255.255", "a private address"},
		{"172.16.0.0", "a private address"},
		{"192.168.0.1", "a private address"},
		{"169.254.169.254", "the cloud metadata address"},
		{"169.254.0.1", "a link-local address"},
		{"100.64.0.0", "a shared (CGNAT) address"},
		{"100.127.255.255", "a shared (CGNAT) address"},
		{"0.1.2.3", "a \"this network\" address"},
		{"239.1.1.1", "a multicast address"},
		{"255.255.255.255", "the broadcast address"},
		{"240.0.0.1", "a reserved address"},
		{"::1", "a loopback address"},
		{"::", "the unspecified address"},
		{"::ffff:192.168.0.1", "a private address"},
		{"::ffff:169.254.169.254", "the cloud metadata address"},
		{"fe80::1", "a link-local address"},
		{"febf::1", "a link-local address"},
		{"fc00::1", "a unique-local address"},
		{"fdff::1", "a unique-local address"},
		{"ff05::2", "a multicast address"},
		{"64:ff9b::7f00:1", "a loopback address"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		addr_of(&a, refused[i].addr);
		const char *k = cl_wh_guard_addr_kind(&a);
		if (k == NULL || strcmp(k, refused[i].kind) != 0)
			fail_msg("%s classified as %s, not %s", refused[i].addr, k ? k : "public", refused[i].kind);
	}
	/* A public literal passes the guard without allow_private (getaddrinfo on a numeric host
	 * does no lookup and nothing connects). */
	cl_error err = CL_ERROR_INIT;
	cl_wh_target t;
	assert_int_equal(cl_wh_guard_check(&t, "https://93.184.216.34/hook", 0, &err), 0);
	assert_true(t.https);
	assert_false(t.allow_private);
	assert_int_equal(t.port, 443);
	assert_int_equal(t.naddrs, 1);
}

static void test_guard_url_rules(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_wh_target t;
	/* https only, unless allow_private. */
	assert_int_equal(cl_wh_guard_check(&t, "http://127.0.0.1:8080/hook", 0, &err), CL_EREFUSED);
	assert_non_null(strstr(err.msg, "https is required"));
	assert_int_equal(cl_wh_guard_check(&t, "http://93.184.216.34/hook", 0, &err), CL_EREFUSED);
	assert_non_null(strstr(err.msg, "https is required"));
	assert_int_equal(cl_wh_guard_check(&t, "http://93.184.216.34/hook", 1, &err), 0);
	assert_int_equal(t.port, 80);
	assert_int_equal(cl_wh_guard_check(&t, "http://127.0.0.1:8080/hook", 1, &err), 0);
	assert_false(t.https);
	assert_string_equal(t.url, "http://127.0.0.1:8080/hook");
	assert_int_equal(cl_wh_guard_check(&t, "ftp://93.184.216.34/", 1, &err), CL_EREFUSED);
	assert_non_null(strstr(err.msg, "scheme \"ftp\""));
	assert_int_equal(cl_wh_guard_check(&t, "gopher://93.184.216.34/", 1, &err), CL_EREFUSED);
	assert_int_equal(cl_wh_guard_check(&t, "file:///etc/passwd", 1, &err), CL_EREFUSED);

	static const char *const bads[] = {
		"",
		"not a url",
		"93.184.216.34/hook", /* no scheme */
		"https://",
		"https:///path", /* libcurl alone would take "path" as the host */
		"https:/path",
		"https:\\\\path",
		"https://\\path",
		"https://user:pw@93.184.216.34/",
		"https://user@93.184.216.34/",
		"https://[fe80::1%25eth0]/",
		"https://93.184.216.34:0/",
		"https://93.184.216.34:65536/",
		"https://exa mple.com/",
		"https://example.com./",
		"https://b\xc3\xbc" "cher.example/",
		"https://[example.com]/",
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		cl_err rc = cl_wh_guard_check(&t, bads[i], 1, &err);
		if (rc != CL_EBADINPUT)
			fail_msg("URL \"%s\" gave %d (%s), not CL_EBADINPUT", bads[i], rc, err.msg);
		assert_int_equal(t.naddrs, 0);
		assert_null(strchr(err.msg, '\n'));
	}
	assert_int_equal(cl_wh_guard_check(&t, "https://user:pw@93.184.216.34/", 1, &err), CL_EBADINPUT);
	assert_null(strstr(err.msg, "pw"));
	char *huge = malloc(CL_WH_URL_MAX + 2);
	assert_non_null(huge);
	memset(huge, 'a', CL_WH_URL_MAX + 1);
	memcpy(huge, "https://93.184.216.34/", 22);
	huge[CL_WH_URL_MAX + 1] = '\0'; /* one byte over */
	assert_int_equal(cl_wh_guard_check(&t, huge, 1, &err), CL_EBADINPUT);
	free(huge);
	assert_int_equal(cl_wh_guard_check(&t, NULL, 1, &err), CL_EUSAGE);
}

/* ---- delivery against the receiver --------------------------------------------------------- */

static void test_deliver_signed(void **state)
{
	(void)state;
	NEED_RECEIVER();
	cl_error err = CL_ERROR_INIT;
	cl_wh_outcome o;
	char *body = make_body("cert.uploaded", 1, "evt_sign_1");
	cl_wh_job j = make_job(&R.target, &R.key, "evt_sign_1", body);
	j.user = &j;
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_DELIVERED);
	assert_string_equal(cl_wh_class_name(o.cls), "delivered");
	assert_int_equal(o.status, 200);
	assert_int_equal(o.curl_code, 0);
	assert_string_equal(o.error, "");
	assert_int_equal(o.retry_after_s, -1);
	assert_true(o.duration_us > 0 && o.duration_us < 10000000);
	assert_string_equal(o.addr, "127.0.0.1");
	assert_ptr_equal(o.user, &j);
	char sig[CL_WH_SIGNATURE_BUFSZ];
	assert_int_equal(cl_wh_sign(sig, &R.key, "evt_sign_1", j.timestamp, j.body, &err), 0);
	assert_string_equal(o.signature, sig);

	/* What the receiver got: standardwebhooks accepted it, and so does our verifier on the
	 * headers and body exactly as received. */
	json_t *lines = log_lines("evt_sign_1");
	assert_int_equal(json_array_size(lines), 1);
	json_t *l = json_array_get(lines, 0);
	assert_true(json_is_true(json_object_get(l, "signature_valid")));
	assert_true(json_is_null(json_object_get(l, "verify_error")));
	assert_string_equal(jstr(l, "type"), "cert.uploaded");
	assert_int_equal(json_integer_value(json_object_get(l, "seq")), 1);
	assert_string_equal(jstr(l, "content_type"), "application/json");
	assert_string_equal(jstr(l, "path"), "/hook");
	assert_string_equal(jstr(l, "body"), body);
	const char *rbody = jstr(l, "body");
	assert_int_equal(cl_wh_verify(&R.key, jstr(l, "id"), jstr(l, "timestamp"), jstr(l, "signature"),
				      CL_BYTES(rbody, strlen(rbody)), (int64_t)time(NULL), CL_WH_TOLERANCE_DEFAULT, &err),
			 0);
	/* ... and rejects it under another key. */
	cl_secret other = CL_SECRET_INIT(0);
	assert_int_equal(cl_wh_secret_generate(&other, 32, &err), 0);
	assert_int_equal(cl_wh_verify(&other, jstr(l, "id"), jstr(l, "timestamp"), jstr(l, "signature"),
				      CL_BYTES(rbody, strlen(rbody)), (int64_t)time(NULL), CL_WH_TOLERANCE_DEFAULT, &err),
			 CL_EINTEGRITY);
	json_decref(lines);

	/* Signed with a key the receiver does not know: standardwebhooks says invalid (so the
	 * receiver's check is real), the receiver still answers its plan. */
	char *body2 = make_body("cert.uploaded", 2, "evt_sign_wrongkey");
	cl_wh_job j2 = make_job(&R.target, &other, "evt_sign_wrongkey", body2);
	run1(R.engine, &j2, &o);
	assert_int_equal(o.cls, CL_WH_DELIVERED);
	lines = log_lines("evt_sign_wrongkey");
	assert_int_equal(json_array_size(lines), 1);
	l = json_array_get(lines, 0);
	assert_true(json_is_false(json_object_get(l, "signature_valid")));
	assert_string_equal(jstr(l, "verify_error"), "No matching signature found");
	json_decref(lines);

	/* A timestamp outside the receiver's 5-minute tolerance is refused by standardwebhooks. */
	cl_wh_job j3 = make_job(&R.target, &R.key, "evt_sign_old", body2);
	j3.timestamp -= 3600;
	run1(R.engine, &j3, &o);
	lines = log_lines("evt_sign_old");
	assert_int_equal(json_array_size(lines), 1);
	assert_true(json_is_false(json_object_get(json_array_get(lines, 0), "signature_valid")));
	json_decref(lines);
	cl_secret_free(&other);
	free(body);
	free(body2);
}

static void test_500_then_200(void **state)
{
	(void)state;
	NEED_RECEIVER();
	cl_wh_outcome o;
	control("plan", "500,200");
	char *body = make_body("cert.linked", 7, "evt_retry_1");
	cl_wh_job j = make_job(&R.target, &R.key, "evt_retry_1", body);
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 500);
	assert_int_equal(o.curl_code, 0);
	assert_false(o.timed_out);
	assert_string_equal(o.error, "HTTP 500");
	assert_int_equal(o.retry_after_s, -1);
	j.timestamp = (int64_t)time(NULL); /* a new attempt, the same id */
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_DELIVERED);
	assert_int_equal(o.status, 200);

	json_t *lines = log_lines("evt_retry_1");
	assert_int_equal(json_array_size(lines), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, 0), "status")), 500);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, 1), "status")), 200);
	for (size_t i = 0; i < 2; i++) {
		json_t *l = json_array_get(lines, i);
		assert_string_equal(jstr(l, "id"), "evt_retry_1");
		assert_int_equal(json_integer_value(json_object_get(l, "seq")), 7);
		assert_true(json_is_true(json_object_get(l, "signature_valid")));
	}
	json_decref(lines);
	free(body);
}

static void test_timeout(void **state)
{
	(void)state;
	NEED_RECEIVER();
	cl_error err = CL_ERROR_INIT;
	cl_wh_engine *e = NULL;
	cl_wh_engine_opts opts = CL_WH_ENGINE_OPTS_INIT;
	opts.timeout_ms = 700;
	assert_int_equal(cl_wh_engine_new(&e, &opts, &err), 0);
	cl_wh_outcome o;
	control("plan", "timeout");
	char *body = make_body("primary.set", 3, "evt_timeout_1");
	cl_wh_job j = make_job(&R.target, &R.key, "evt_timeout_1", body);
	run1(e, &j, &o);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 0);
	assert_true(o.timed_out);
	assert_int_equal(o.curl_code, CURLE_OPERATION_TIMEDOUT);
	assert_non_null(strstr(o.error, "timed out"));
	assert_true(o.duration_us >= 600000 && o.duration_us < 5000000);
	json_t *lines = log_lines("evt_timeout_1");
	assert_int_equal(json_array_size(lines), 1);
	assert_string_equal(jstr(json_array_get(lines, 0), "plan"), "timeout");
	json_decref(lines);
	/* The engine works on after a time-out. */
	run1(e, &j, &o);
	assert_int_equal(o.cls, CL_WH_DELIVERED);
	cl_wh_engine_free(e);
	free(body);
}

static void test_retry_after_and_gone(void **state)
{
	(void)state;
	NEED_RECEIVER();
	cl_wh_outcome o;
	char *body = make_body("cert.unlinked", 9, "evt_status_1");
	cl_wh_job j = make_job(&R.target, &R.key, "evt_status_1", body);

	control("plan", "429:2,503:7,429,200:5,410,404,301,close");
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 429);
	assert_int_equal(o.retry_after_s, 2);
	assert_string_equal(o.error, "HTTP 429");
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 503);
	assert_int_equal(o.retry_after_s, 7);
	run1(R.engine, &j, &o); /* 429 without Retry-After */
	assert_int_equal(o.status, 429);
	assert_int_equal(o.retry_after_s, -1);
	run1(R.engine, &j, &o); /* Retry-After is only taken from 429 and 503 */
	assert_int_equal(o.cls, CL_WH_DELIVERED);
	assert_int_equal(o.retry_after_s, -1);
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_GONE);
	assert_string_equal(cl_wh_class_name(o.cls), "gone");
	assert_int_equal(o.status, 410);
	assert_string_equal(o.error, "HTTP 410");
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 404);
	run1(R.engine, &j, &o); /* redirects are not followed: a 3xx is a retry */
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 301);
	/* A connection closed without an answer. On a fresh engine: libcurl silently re-sends a
	 * request once when a *reused* connection turns out to be closed, which would hide it. */
	cl_error err = CL_ERROR_INIT;
	cl_wh_engine *e = NULL;
	assert_int_equal(cl_wh_engine_new(&e, NULL, &err), 0);
	run1(e, &j, &o);
	cl_wh_engine_free(e);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 0);
	assert_int_not_equal(o.curl_code, 0);
	assert_false(o.timed_out);
	assert_true(strlen(o.error) > 0);

	json_t *lines = log_lines("evt_status_1");
	assert_int_equal(json_array_size(lines), 8);
	for (size_t i = 0; i < 8; i++)
		assert_true(json_is_true(json_object_get(json_array_get(lines, i), "signature_valid")));
	json_decref(lines);
	free(body);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 50 jobs at once on a fresh engine: each answer is held 300 ms by the receiver, so one after
 * another they would take 15 s; concurrently well under 3 s, over 50 new connections. A second
 * batch reuses those connections and opens none. */
static void test_concurrent_50(void **state)
{
	(void)state;
	NEED_RECEIVER();
	enum { N = 50 };
	cl_error err = CL_ERROR_INIT;
	cl_wh_engine *e = NULL;
	assert_int_equal(cl_wh_engine_new(&e, NULL, &err), 0);
	cl_wh_job jobs[N];
	cl_wh_outcome out[N];
	char ids[N][32];
	char *bodies[N];
	control("default", "200@300");
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			snprintf(ids[i], sizeof(ids[i]), "evt_conc_%d_%02d", round, i);
			bodies[i] = make_body("cert.uploaded", i, ids[i]);
			jobs[i] = make_job(&R.target, &R.key, ids[i], bodies[i]);
		}
		int64_t t0 = now_us();
		cl_err rc = cl_wh_engine_run(e, jobs, out, N, &err);
		int64_t took = now_us() - t0;
		if (rc != 0)
			fail_msg("run: %s", err.msg);
		long conns = 0;
		for (int i = 0; i < N; i++) {
			if (out[i].cls != CL_WH_DELIVERED)
				fail_msg("job %d: %s (%ld)", i, out[i].error, out[i].status);
			assert_true(out[i].duration_us >= 290000);
			conns += out[i].new_connections;
			json_t *lines = log_lines(ids[i]);
			assert_int_equal(json_array_size(lines), 1);
			json_t *l = json_array_get(lines, 0);
			assert_true(json_is_true(json_object_get(l, "signature_valid")));
			assert_int_equal(json_integer_value(json_object_get(l, "seq")), i);
			json_decref(lines);
			free(bodies[i]);
		}
		print_message("[ INFO     ] round %d: %d deliveries in %" PRId64 " ms, %ld new connections\n", round, N,
			      took / 1000, conns);
		assert_true(took < 3000000);
		assert_int_equal(conns, round == 0 ? N : 0);
	}
	control("default", "200");
	cl_wh_engine_free(e);
}

static void test_connection_reuse(void **state)
{
	(void)state;
	NEED_RECEIVER();
	cl_wh_outcome o;
	char *body = make_body("cert.uploaded", 1, "evt_reuse");
	cl_wh_job j = make_job(&R.target, &R.key, "evt_reuse", body);
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_DELIVERED);
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_DELIVERED);
	assert_int_equal(o.new_connections, 0);
	free(body);
}

/* The pin: a host name that DNS cannot resolve (.invalid) still reaches the receiver through
 * the CURLOPT_RESOLVE entry, and the socket check refuses any address that is not pinned or
 * that the target's policy forbids. */
static void test_pinning(void **state)
{
	(void)state;
	NEED_RECEIVER();
	cl_error err = CL_ERROR_INIT;
	cl_wh_outcome o;
	cl_wh_target t = R.target;
	snprintf(t.url, sizeof(t.url), "http://pinned.invalid:%u/hook", R.port);
	snprintf(t.host, sizeof(t.host), "pinned.invalid");
	t.host_is_literal = 0;
	snprintf(t.resolve, sizeof(t.resolve), "pinned.invalid:%u:127.0.0.1", R.port);
	char *body = make_body("cert.uploaded", 1, "evt_pin_ok");
	cl_wh_job j = make_job(&t, &R.key, "evt_pin_ok", body);
	run1(R.engine, &j, &o);
	if (o.cls != CL_WH_DELIVERED)
		fail_msg("pinned delivery: %s", o.error);

	/* The same host and port, but a target checked without allow_private: the idle connection
	 * to pinned.invalid is there to be reused, and is refused before the request is sent. */
	t.allow_private = 0;
	j = make_job(&t, &R.key, "evt_pin_policy", body);
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 0);
	assert_non_null(strstr(o.error, "refused to send: webhook URL host pinned.invalid is connected to 127.0.0.1, a loopback address"));

	/* Another host name, so a new socket: refused when opening it. */
	snprintf(t.url, sizeof(t.url), "http://pinned2.invalid:%u/hook", R.port);
	snprintf(t.host, sizeof(t.host), "pinned2.invalid");
	snprintf(t.resolve, sizeof(t.resolve), "pinned2.invalid:%u:127.0.0.1", R.port);
	j = make_job(&t, &R.key, "evt_pin_policy", body);
	run1(R.engine, &j, &o);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_int_equal(o.status, 0);
	assert_non_null(strstr(o.error, "refused to connect: webhook URL host pinned2.invalid address 127.0.0.1 is a loopback address"));

	/* The URL's address is not among the pins: refused when the socket is opened (on a fresh
	 * engine, which has no connection to 127.0.0.1 to reuse). */
	cl_wh_target lit = R.target;
	assert_int_equal(inet_pton(AF_INET, "127.0.0.2", lit.addrs[0].bytes), 1);
	lit.naddrs = 1;
	j = make_job(&lit, &R.key, "evt_pin_other", body);
	cl_wh_engine *e = NULL;
	assert_int_equal(cl_wh_engine_new(&e, NULL, &err), 0);
	run1(e, &j, &o);
	cl_wh_engine_free(e);
	assert_int_equal(o.cls, CL_WH_RETRY);
	assert_non_null(strstr(o.error, "127.0.0.1 is not one of the addresses checked and pinned"));

	json_t *lines = log_lines("evt_pin_policy");
	assert_int_equal(json_array_size(lines), 0);
	json_decref(lines);
	lines = log_lines("evt_pin_other");
	assert_int_equal(json_array_size(lines), 0);
	json_decref(lines);
	lines = log_lines("evt_pin_ok");
	assert_int_equal(json_array_size(lines), 1);
	json_decref(lines);
	free(body);
}

static void test_bad_batches(void **state)
{
	(void)state;
	NEED_RECEIVER();
	cl_error err = CL_ERROR_INIT;
	cl_wh_outcome out[2];
	const char *body = "{}";
	cl_wh_job jobs[2] = {make_job(&R.target, &R.key, "evt_bad_ok", body),
			     make_job(&R.target, &R.key, "bad id", body)};
	assert_int_equal(cl_wh_engine_run(R.engine, jobs, out, 2, &err), CL_EUSAGE);
	assert_non_null(strstr(err.msg, "job 1"));
	jobs[1] = make_job(&R.target, &R.key, "evt_bad_big", body);
	jobs[1].body.len = CL_WH_BODY_MAX + 1;
	assert_int_equal(cl_wh_engine_run(R.engine, jobs, out, 2, &err), CL_EUSAGE);
	jobs[1] = make_job(NULL, &R.key, "evt_bad_target", body);
	assert_int_equal(cl_wh_engine_run(R.engine, jobs, out, 2, &err), CL_EUSAGE);
	cl_wh_target unchecked;
	memset(&unchecked, 0, sizeof(unchecked));
	jobs[1] = make_job(&unchecked, &R.key, "evt_bad_target", body);
	assert_int_equal(cl_wh_engine_run(R.engine, jobs, out, 2, &err), CL_EUSAGE);
	/* Nothing of a refused batch was sent. */
	json_t *lines = log_lines("evt_bad_ok");
	assert_int_equal(json_array_size(lines), 0);
	json_decref(lines);
	/* An empty batch is fine. */
	assert_int_equal(cl_wh_engine_run(R.engine, jobs, out, 0, &err), 0);
}

static void test_engine_options(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_wh_engine *e = NULL;
	cl_wh_engine_opts o = CL_WH_ENGINE_OPTS_INIT;
	o.max_parallel = 0;
	assert_int_equal(cl_wh_engine_new(&e, &o, &err), CL_EUSAGE);
	assert_null(e);
	o = (cl_wh_engine_opts)CL_WH_ENGINE_OPTS_INIT;
	o.version = 99;
	assert_int_equal(cl_wh_engine_new(&e, &o, &err), CL_EUSAGE);
	o = (cl_wh_engine_opts)CL_WH_ENGINE_OPTS_INIT;
	o.timeout_ms = 0;
	assert_int_equal(cl_wh_engine_new(&e, &o, &err), CL_EUSAGE);
	o = (cl_wh_engine_opts)CL_WH_ENGINE_OPTS_INIT;
	o.max_parallel = CL_WH_PARALLEL_MAX + 1;
	assert_int_equal(cl_wh_engine_new(&e, &o, &err), CL_EUSAGE);
	assert_null(e);
	/* NULL options are the defaults; an empty engine frees cleanly, and so does NULL. */
	assert_int_equal(cl_wh_engine_new(&e, NULL, &err), 0);
	assert_non_null(e);
	cl_wh_engine_free(e);
	cl_wh_engine_free(NULL);
	assert_string_equal(cl_wh_class_name(CL_WH_RETRY), "retry");
}

/* More jobs than max_parallel: queued and all delivered; a small response cap cuts off a
 * large body without losing a 2xx. */
static void test_queueing(void **state)
{
	(void)state;
	NEED_RECEIVER();
	enum { N = 12 };
	cl_error err = CL_ERROR_INIT;
	cl_wh_engine *e = NULL;
	cl_wh_engine_opts opts = CL_WH_ENGINE_OPTS_INIT;
	opts.max_parallel = 3;
	opts.max_response = 1; /* the receiver answers "ok\n" */
	assert_int_equal(cl_wh_engine_new(&e, &opts, &err), 0);
	cl_wh_job jobs[N];
	cl_wh_outcome out[N];
	char ids[N][32];
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "evt_queue_%02d", i);
		jobs[i] = make_job(&R.target, &R.key, ids[i], "{\"type\":\"q\"}");
	}
	assert_int_equal(cl_wh_engine_run(e, jobs, out, N, &err), 0);
	long conns = 0;
	for (int i = 0; i < N; i++) {
		if (out[i].cls != CL_WH_DELIVERED)
			fail_msg("job %d: %s", i, out[i].error);
		assert_non_null(strstr(out[i].error, "response body over 1 bytes, cut off"));
		conns += out[i].new_connections;
	}
	assert_true(conns >= 1);
	cl_wh_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_known_vector),
		cmocka_unit_test(test_secret_text),
		cmocka_unit_test(test_retry_parse),
		cmocka_unit_test(test_retry_jitter),
		cmocka_unit_test(test_retry_after_parse),
		cmocka_unit_test(test_guard_refuses_internal),
		cmocka_unit_test(test_guard_addr_kinds),
		cmocka_unit_test(test_guard_url_rules),
		cmocka_unit_test(test_engine_options),
		cmocka_unit_test(test_deliver_signed),
		cmocka_unit_test(test_500_then_200),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_retry_after_and_gone),
		cmocka_unit_test(test_concurrent_50),
		cmocka_unit_test(test_connection_reuse),
		cmocka_unit_test(test_pinning),
		cmocka_unit_test(test_bad_batches),
		cmocka_unit_test(test_queueing),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
