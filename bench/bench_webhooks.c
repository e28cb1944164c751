/* bench_webhooks.c - webhook deliveries per second, certledger's worker against a raw libcurl
 * loop posting the same bodies to the same local receiver in the same run (issue 5, goal >= 0.8,
 * docs/performance.md "Webhooks"), with 1 and with 50 subscriptions.
 *
 *   certledger  cl_webhook_deliver(--once) over a fresh ledger of E account.created events and S
 *               subscriptions matching all of them: reading each event from LMDB, its JSON body
 *               (jansson), HMAC-SHA256 signature, one request in flight per subscription, S at
 *               once through cl_wh_engine_run rounds, and every acknowledgement committed to
 *               LMDB (cursor, attempt record) by the committer thread.
 *   raw         the same bodies, pre-built, POSTed with libcurl and nothing else: S easy handles
 *               on one multi handle, each posting its own queue back to back over a keep-alive
 *               connection (1 in flight per "subscription", no rounds, no signing, no LMDB).
 *
 * The receiver is a tiny HTTP/1.1 server in this program (a thread with poll(), keep-alive,
 * answers 200 with an empty body to every POST once its Content-Length bytes are in). The Node
 * receiver of the tests (tests/webhook/receiver.js --quiet-log) verifies every signature with
 * the standardwebhooks package and writes a log line per request; at a few thousand requests a
 * second it is the bottleneck of both sides, which would hide certledger's own cost and make the
 * ratio meaningless. `--receiver node` runs against it anyway, for comparison.
 *
 * A program, not a test: nothing here fails on a slow machine. Everything happens in a fresh
 * temporary directory that is removed at the end.
 *
 * usage: bench_webhooks [--events N] [--events50 N] [--receiver c|node] [--runs K] [--dir DIR]
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certledger/certledger.h"
#include "export/webhook_guard.h"
#include "export/webhook_http.h"
#include "export/webhook_sign.h"
#include "ledger/append.h"
#include "ledger/encoding.h"
#include "ledger/handle.h"
#include "projections/accounts.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds used by this process so far (all threads: the worker's, the committer's, the
 * receiver's and libcurl's). */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* Busy CPU seconds of the whole machine so far (/proc/stat: all but idle and iowait), or -1. */
static double machine_busy_s(void)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (f == NULL)
		return -1;
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
		       &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (n < 8)
		return -1;
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_webhooks: %s: %s\n", what, msg);
	exit(1);
}

/* ---- the C receiver ------------------------------------------------------------------------- */

#define RX_MAXCONN 256
#define RX_BUF (256 * 1024)

typedef struct conn {
	int fd;
	char *buf;
	size_t len;
} conn;

typedef struct c_receiver {
	int lfd;
	unsigned port;
	int stop_pipe[2];
	pthread_t thread;
	unsigned long requests;
	conn conns[RX_MAXCONN];
} c_receiver;

static const char OK_RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/* Answers every complete request in c's buffer; returns -1 when the connection is to close. */
static int rx_serve(c_receiver *r, conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end == NULL)
			return c->len >= RX_BUF ? -1 : 0;
		size_t hlen = (size_t)(end - c->buf) + 4;
		size_t clen = 0;
		for (char *p = c->buf; p < end; p++) {
			if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
				clen = strtoul(p + 15, NULL, 10);
				break;
			}
		}
		if (hlen + clen > RX_BUF)
			return -1;
		if (c->len < hlen + clen)
			return 0;
		if (write(c->fd, OK_RESPONSE, sizeof(OK_RESPONSE) - 1) != (ssize_t)(sizeof(OK_RESPONSE) - 1))
			return -1;
		__atomic_add_fetch(&r->requests, 1, __ATOMIC_RELAXED);
		memmove(c->buf, c->buf + hlen + clen, c->len - hlen - clen);
		c->len -= hlen + clen;
	}
}

static void *rx_main(void *arg)
{
	c_receiver *r = arg;
	struct pollfd pfd[RX_MAXCONN + 2];
	for (;;) {
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){r->stop_pipe[0], POLLIN, 0};
		pfd[n++] = (struct pollfd){r->lfd, POLLIN, 0};
		for (int i = 0; i < RX_MAXCONN; i++)
			if (r->conns[i].fd >= 0)
				pfd[n++] = (struct pollfd){r->conns[i].fd, POLLIN, 0};
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				int one = 1, placed = 0;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				for (int i = 0; i < RX_MAXCONN && !placed; i++) {
					if (r->conns[i].fd < 0) {
						r->conns[i].fd = fd;
						r->conns[i].len = 0;
						placed = 1;
					}
				}
				if (!placed)
					close(fd);
			}
		}
		for (nfds_t k = 2; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			conn *c = NULL;
			for (int i = 0; i < RX_MAXCONN && c == NULL; i++)
				if (r->conns[i].fd == pfd[k].fd)
					c = &r->conns[i];
			if (c == NULL)
				continue;
			ssize_t got = read(c->fd, c->buf + c->len, RX_BUF - c->len);
			if (got <= 0 && !(got < 0 && (errno == EAGAIN || errno == EINTR))) {
				close(c->fd);
				c->fd = -1;
				continue;
			}
			if (got > 0)
				c->len += (size_t)got;
			if (rx_serve(r, c) < 0) {
				close(c->fd);
				c->fd = -1;
			}
		}
	}
	return NULL;
}

static void rx_start(c_receiver *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < RX_MAXCONN; i++) {
		r->conns[i].fd = -1;
		r->conns[i].buf = malloc(RX_BUF);
		if (r->conns[i].buf == NULL)
			die("receiver", "out of memory");
	}
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(r->lfd, 512) != 0 ||
	    getsockname(r->lfd, (struct sockaddr *)&a, &al) != 0 || pipe(r->stop_pipe) != 0)
		die("receiver", strerror(errno));
	r->port = ntohs(a.sin_port);
	if (pthread_create(&r->thread, NULL, rx_main, r) != 0)
		die("receiver", "cannot start its thread");
}

static void rx_stop(c_receiver *r)
{
	if (write(r->stop_pipe[1], "x", 1) != 1)
		die("receiver", "cannot stop");
	pthread_join(r->thread, NULL);
	for (int i = 0; i < RX_MAXCONN; i++) {
		if (r->conns[i].fd >= 0)
			close(r->conns[i].fd);
		free(r->conns[i].buf);
	}
	close(r->lfd);
	close(r->stop_pipe[0]);
	close(r->stop_pipe[1]);
}

/* ---- the Node receiver (optional) ------------------------------------------------------------ */

static pid_t node_start(const char *dir, const char *secret, unsigned *port)
{
	char script[4096], logp[4200];
	const char *src = getenv("CL_SOURCE_DIR");
	snprintf(script, sizeof(script), "%s/tests/webhook/receiver.js", src ? src : ".");
	snprintf(logp, sizeof(logp), "%s/node.jsonl", dir);
	int out[2];
	if (pipe(out) != 0)
		die("node", "pipe");
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		setenv("CL_WEBHOOK_SECRET", secret, 1);
		execlp("node", "node", script, "--log", logp, "--quiet-log", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char line[32] = {0};
	size_t n = 0;
	while (n + 1 < sizeof(line) && read(out[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	close(out[0]);
	*port = (unsigned)strtoul(line, NULL, 10);
	if (*port == 0)
		die("node", "the receiver did not start (set CL_SOURCE_DIR; run npm ci in tests/webhook)");
	return pid;
}

/* ---- a ledger with events and subscriptions --------------------------------------------------- */

typedef struct gen_ctx {
	int first, n;
} gen_ctx;

static cl_err gen_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	gen_ctx *g = arg;
	cl_buf data = CL_BUF_INIT(4096);
	cl_actor who = cl_wtxn__actor(t);
	cl_err rc = CL_OK;
	for (int i = 0; i < g->n && rc == CL_OK; i++) {
		char email[64];
		snprintf(email, sizeof(email), "user%07d@corp.example", g->first + i);
		cl_buf_reset(&data);
		rc = cl_account_created_encode(&data, email, "internal", "Bench User");
		if (rc == CL_OK)
			rc = cl_wtxn_append(t, &who, "account.created", cl_buf_view(&data), NULL, err);
	}
	cl_buf_free(&data);
	return rc;
}

static void make_events(cl_ledger *l, int n)
{
	static int next;
	cl_error err = CL_ERROR_INIT;
	for (int done = 0; done < n;) {
		gen_ctx g = {next, n - done < 1000 ? n - done : 1000};
		if (cl_ledger__write(l, gen_cb, &g, &err) != CL_OK)
			die("append", err.msg);
		done += g.n;
		next += g.n;
	}
}

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	return remove(p);
}

/* ---- the raw libcurl loop --------------------------------------------------------------------- */

typedef struct raw_body {
	char *text;
	size_t len;
	char id[65];
} raw_body;

/* The bodies of events first..first+n-1 in the worker's format. */
typedef struct body_ctx {
	raw_body *out;
	size_t n;
} body_ctx;

static int body_cb(const cl_event_info *ev, void *arg)
{
	body_ctx *c = arg;
	char ts[40];
	json_t *data = json_loads(ev->data_json, 0, NULL);
	json_t *d = json_object();
	cl_hex_encode(c->out[c->n].id, ev->id, 32);
	json_object_set_new(d, "seq", json_integer((json_int_t)ev->seq));
	json_object_set_new(d, "id", json_string(c->out[c->n].id));
	json_object_update(d, data);
	cl_time_format_text(ts, ev->ts);
	json_t *root = json_pack("{s:s, s:s, s:o}", "type", ev->type, "timestamp", ts, "data", d);
	c->out[c->n].text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	c->out[c->n].len = strlen(c->out[c->n].text);
	c->n++;
	json_decref(root);
	json_decref(data);
	return 0;
}

typedef struct raw_slot {
	CURL *h;
	struct curl_slist *hdr;
	size_t next;
	char url[128];
} raw_slot;

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* Posts every body to each of nsubs URLs, one in flight per URL, all URLs at once. */
static double raw_run(unsigned port, const raw_body *bodies, size_t nbodies, int nsubs)
{
	CURLM *m = curl_multi_init();
	raw_slot *slots = calloc((size_t)nsubs, sizeof(*slots));
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)nsubs * 2);
	for (int i = 0; i < nsubs; i++) {
		raw_slot *s = &slots[i];
		s->h = curl_easy_init();
		snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/raw%d", port, i);
		s->hdr = curl_slist_append(NULL, "content-type: application/json");
		s->hdr = curl_slist_append(s->hdr, "Expect:");
		curl_easy_setopt(s->h, CURLOPT_URL, s->url);
		curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdr);
		curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(s->h, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(s->h, CURLOPT_POST, 1L);
		curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
	}
	double t0 = now_s();
	int active = 0;
	for (int i = 0; i < nsubs; i++) {
		raw_slot *s = &slots[i];
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)bodies[0].len);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, bodies[0].text);
		s->next = 1;
		curl_multi_add_handle(m, s->h);
		active++;
	}
	while (active > 0) {
		int running = 0;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			raw_slot *s = NULL;
			CURL *h = msg->easy_handle;
			long status = 0;
			if (msg->data.result != CURLE_OK)
				die("raw loop", curl_easy_strerror(msg->data.result));
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			if (status != 200)
				die("raw loop", "the receiver did not answer 200");
			curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&s);
			curl_multi_remove_handle(m, h);
			if (s->next < nbodies) {
				curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)bodies[s->next].len);
				curl_easy_setopt(h, CURLOPT_POSTFIELDS, bodies[s->next].text);
				s->next++;
				curl_multi_add_handle(m, h);
			} else {
				active--;
			}
		}
		if (active > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	double t = now_s() - t0;
	for (int i = 0; i < nsubs; i++) {
		curl_easy_cleanup(slots[i].h);
		curl_slist_free_all(slots[i].hdr);
	}
	free(slots);
	curl_multi_cleanup(m);
	return (double)nbodies * nsubs / t;
}

/* ---- the engine alone ------------------------------------------------------------------------ */

/* The same bodies through cl_wh_engine_run (signing, pinning, the Standard Webhooks headers)
 * with nsubs jobs per batch, as the worker's rounds do, but without LMDB or JSON: how much of
 * the gap to the raw loop is the engine's. */
static double engine_run(unsigned port, const raw_body *bodies, size_t nbodies, int nsubs, const char *secret)
{
	cl_error err = CL_ERROR_INIT;
	cl_secret key = CL_SECRET_INIT(0);
	cl_wh_engine *e = NULL;
	cl_wh_target *t = calloc((size_t)nsubs, sizeof(*t));
	cl_wh_job *jobs = calloc((size_t)nsubs, sizeof(*jobs));
	cl_wh_outcome *out = calloc((size_t)nsubs, sizeof(*out));
	if (t == NULL || jobs == NULL || out == NULL)
		die("engine", "out of memory");
	if (cl_wh_secret_parse(&key, secret, strlen(secret), &err) != CL_OK || cl_wh_engine_new(&e, NULL, &err) != CL_OK)
		die("engine", err.msg);
	for (int i = 0; i < nsubs; i++) {
		char url[128];
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/eng%d", port, i);
		if (cl_wh_guard_check(&t[i], url, 1, &err) != CL_OK)
			die("guard", err.msg);
	}
	double t0 = now_s();
	for (size_t b = 0; b < nbodies; b++) {
		for (int i = 0; i < nsubs; i++)
			jobs[i] = (cl_wh_job){&t[i], &key, bodies[b].id, (int64_t)time(NULL),
					      CL_BYTES(bodies[b].text, bodies[b].len), NULL};
		if (cl_wh_engine_run(e, jobs, out, (size_t)nsubs, &err) != CL_OK)
			die("engine", err.msg);
		for (int i = 0; i < nsubs; i++)
			if (out[i].cls != CL_WH_DELIVERED)
				die("engine", out[i].error);
	}
	double rate = (double)nbodies * nsubs / (now_s() - t0);
	cl_wh_engine_free(e);
	cl_secret_free(&key);
	free(t);
	free(jobs);
	free(out);
	return rate;
}

/* ---- one scenario ----------------------------------------------------------------------------- */

#define MAX_RUNS 32

typedef struct result {
	int subs, events, runs;
	unsigned long deliveries;
	double raw[MAX_RUNS], ours[MAX_RUNS], engine[MAX_RUNS], ratio[MAX_RUNS];
	double raw_cpu_us, ours_cpu_us; /* CPU per delivery, medians */
	double raw_cpu[MAX_RUNS], ours_cpu[MAX_RUNS];
} result;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double t[MAX_RUNS];
	memcpy(t, v, (size_t)n * sizeof(*t));
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static result scenario(const char *base, int nsubs, int nevents, unsigned port, const char *secret_file,
		       const char *secret, int runs)
{
	char dir[4200];
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	result res;
	memset(&res, 0, sizeof(res));
	res.subs = nsubs;
	res.events = nevents;
	res.runs = runs;
	snprintf(dir, sizeof(dir), "%s/ledger-%d", base, nsubs);
	cl_init_opts io = CL_INIT_OPTS_INIT;
	if (cl_ledger_init(&l, dir, &io, NULL, &err) != CL_OK)
		die("init", err.msg);

	for (int run = 0; run < runs; run++) {
		/* Fresh subscriptions (matching account.* only, so not each other's webhook events)
		 * and fresh events for each run: every run delivers exactly nsubs x nevents. */
		char ids[64][CL_WEBHOOK_ID_LEN + 1];
		for (int i = 0; i < nsubs; i++) {
			char url[128];
			snprintf(url, sizeof(url), "http://127.0.0.1:%u/s%d", port, i);
			cl_webhook_add_opts o = CL_WEBHOOK_ADD_OPTS_INIT;
			o.allow_private = true;
			o.secret_file = secret_file;
			o.retry = "1s";
			o.events = "account.*";
			if (cl_webhook_add(l, url, &o, ids[i % 64], NULL, NULL) != CL_OK)
				die("webhook add", cl_ledger_error(l));
		}
		cl_ledger_info info;
		if (cl_ledger_get_info(l, &info) != CL_OK)
			die("info", cl_ledger_error(l));
		uint64_t first = info.head_seq + 1;
		make_events(l, nevents);

		/* The raw loop posts exactly the bodies the worker builds for these events. */
		raw_body *bodies = calloc((size_t)nevents, sizeof(*bodies));
		body_ctx bc = {bodies, 0};
		cl_log_filter f = {first, first + (uint64_t)nevents - 1, INT64_MIN, INT64_MAX};
		if (cl_log_each(l, &f, body_cb, &bc) != CL_OK || bc.n != (size_t)nevents)
			die("log", cl_ledger_error(l));

		/* The three measurements back to back, in a rotating order, so that a burst of load
		 * from elsewhere on the machine does not always hit the same one. */
		double total = (double)nevents * nsubs;
		for (int k = 0; k < 3; k++) {
			int which = (run + k) % 3;
			double t0 = now_s(), c0 = cpu_s();
			if (which == 0) {
				cl_webhook_deliver_opts dopts = CL_WEBHOOK_DELIVER_OPTS_INIT;
				cl_webhook_deliver_stats st;
				if (cl_webhook_deliver(l, &dopts, &st) != CL_OK)
					die("deliver", cl_ledger_error(l));
				if (st.delivered != (uint64_t)total || st.failed != 0 || st.pending != 0)
					die("deliver", "not every event was delivered at the first attempt");
				res.ours[run] = total / (now_s() - t0);
				res.ours_cpu[run] = (cpu_s() - c0) / total * 1e6;
				res.deliveries = st.delivered;
			} else if (which == 1) {
				res.raw[run] = raw_run(port, bodies, (size_t)nevents, nsubs);
				res.raw_cpu[run] = (cpu_s() - c0) / total * 1e6;
			} else {
				res.engine[run] = engine_run(port, bodies, (size_t)nevents, nsubs, secret);
			}
		}
		res.ratio[run] = res.ours[run] / res.raw[run];
		fprintf(stderr,
			"  run %d, %d subscription(s) x %d events: raw %.0f/s (%.1f us CPU each), engine alone %.0f/s, "
			"certledger %.0f/s (%.1f us CPU each), ratio %.2f\n",
			run + 1, nsubs, nevents, res.raw[run], res.raw_cpu[run], res.engine[run], res.ours[run],
			res.ours_cpu[run], res.ratio[run]);
		for (int i = 0; i < nevents; i++)
			free(bodies[i].text);
		free(bodies);
		for (int i = 0; i < nsubs; i++)
			if (cl_webhook_remove(l, ids[i % 64], NULL) != CL_OK)
				die("webhook remove", cl_ledger_error(l));
	}
	res.raw_cpu_us = median(res.raw_cpu, runs);
	res.ours_cpu_us = median(res.ours_cpu, runs);
	cl_ledger_free(l);
	return res;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"events", required_argument, NULL, 'e'}, {"events50", required_argument, NULL, 'f'},
		{"receiver", required_argument, NULL, 'r'}, {"runs", required_argument, NULL, 'k'},
		{"dir", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0},
	};
	int events1 = 10000, events50 = 400, runs = 7, opt;
	const char *receiver = "c", *tmp = getenv("TMPDIR");
	char base[4096];
	snprintf(base, sizeof(base), "%s/bench_webhooks-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': events1 = atoi(optarg); break;
		case 'f': events50 = atoi(optarg); break;
		case 'r': receiver = optarg; break;
		case 'k': runs = atoi(optarg); break;
		case 'd': snprintf(base, sizeof(base), "%s/bench_webhooks-XXXXXX", optarg); break;
		default:
			fprintf(stderr, "usage: bench_webhooks [--events N] [--events50 N] [--receiver c|node] [--runs K] [--dir DIR]\n");
			return 2;
		}
	}
	if (events1 < 1 || events50 < 1 || runs < 1 || runs > MAX_RUNS || (strcmp(receiver, "c") != 0 && strcmp(receiver, "node") != 0))
		die("usage", "bad option value");
	if (mkdtemp(base) == NULL)
		die("mkdtemp", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* One secret for every subscription (the Node receiver verifies with it). */
	cl_error err = CL_ERROR_INIT;
	cl_secret key = CL_SECRET_INIT(0), text = CL_SECRET_INIT(0);
	char secret_file[4200];
	if (cl_wh_secret_generate(&key, 32, &err) != CL_OK || cl_wh_secret_format(&text, &key, &err) != CL_OK)
		die("secret", err.msg);
	snprintf(secret_file, sizeof(secret_file), "%s/secret", base);
	FILE *sf = fopen(secret_file, "w");
	if (sf == NULL || fprintf(sf, "%s\n", (const char *)text.ptr) < 0 || fclose(sf) != 0)
		die("secret file", strerror(errno));

	c_receiver rx;
	pid_t node = 0;
	unsigned port = 0;
	if (strcmp(receiver, "c") == 0) {
		rx_start(&rx);
		port = rx.port;
	} else {
		node = node_start(base, (const char *)text.ptr, &port);
	}
	double busy0 = machine_busy_s(), cpu0 = cpu_s(), wall0 = now_s();
	result r1 = scenario(base, 1, events1, port, secret_file, (const char *)text.ptr, runs);
	result r50 = scenario(base, 50, events50, port, secret_file, (const char *)text.ptr, runs);
	if (node > 0) {
		kill(node, SIGTERM);
		waitpid(node, NULL, 0);
	} else {
		rx_stop(&rx);
	}

	double busy = machine_busy_s() - busy0, mine = cpu_s() - cpu0, wall = now_s() - wall0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	printf("webhook deliveries per second, %s receiver on 127.0.0.1, %ld cores, medians of %d runs\n\n",
	       strcmp(receiver, "c") == 0 ? "C (in-process thread)" : "Node (receiver.js --quiet-log)", cores, runs);
	printf("| subscriptions | deliveries a run | raw libcurl loop | engine alone | certledger | ratio (median) | "
	       "ratio (best run) | CPU per delivery raw / certledger | goal |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	const result *rs[2] = {&r1, &r50};
	for (int i = 0; i < 2; i++) {
		const result *x = rs[i];
		double best = 0;
		for (int k = 0; k < x->runs; k++)
			if (x->ratio[k] > best)
				best = x->ratio[k];
		printf("| %d | %lu | %.0f/s | %.0f/s | %.0f/s | %.2f | %.2f | %.1f us / %.1f us | >= 0.8 |\n", x->subs,
		       x->deliveries, median(x->raw, x->runs), median(x->engine, x->runs), median(x->ours, x->runs),
		       median(x->ratio, x->runs), best, x->raw_cpu_us, x->ours_cpu_us);
	}
	if (busy0 >= 0 && wall > 0) {
		/* With the Node receiver its CPU counts as "other". */
		double others = (busy - mine) / (wall * (double)cores) * 100;
		printf("\nother processes used about %.0f%% of the machine's CPU during the run (%.1f s)\n",
		       others < 0 ? 0 : others, wall);
	}
	cl_secret_free(&key);
	cl_secret_free(&text);
	curl_global_cleanup();
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
