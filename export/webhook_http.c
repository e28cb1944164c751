/* webhook_http.c - the webhook delivery engine on libcurl's multi interface.
 *
 * One multi handle (which owns the connection cache and the DNS cache that CURLOPT_RESOLVE
 * fills) and one share handle (TLS sessions) live as long as the engine. A fixed array of slots,
 * max_parallel long, each keeps its easy handle across transfers and batches: options that never
 * change are set once when the handle is made, per-job options (URL, pin, headers, body,
 * protocol) before each transfer. A run is a loop: fill free slots with the next jobs, drive
 * curl_multi_perform, collect finished transfers, sleep in curl_multi_poll.
 */
#include "export/webhook_http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "export/webhook_retry.h"

#define HDR_MAX 192

struct slot {
	cl_wh_engine *engine;
	CURL *easy;
	int busy;
	size_t job;                       /* index in the current batch */
	const cl_wh_target *target;
	struct curl_slist *headers;
	struct curl_slist *resolve;
	char errbuf[CURL_ERROR_SIZE];
	char sig[CL_WH_SIGNATURE_BUFSZ];
	size_t body_seen;
	int body_capped;
	int has_retry_after;
	uint32_t retry_after_s;
	int refused;                      /* the socket check refused an address */
	char refused_msg[CL_WH_ERRTEXT_MAX];
};

struct cl_wh_engine {
	CURLM *multi;
	CURLSH *share;
	struct slot *slots;
	size_t nslots;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_response;
	char *proxy;
	char *ca_file;
	char *user_agent;
	int global_init;
};

const char *cl_wh_class_name(cl_wh_class c)
{
	switch (c) {
	case CL_WH_DELIVERED: return "delivered";
	case CL_WH_GONE: return "gone";
	case CL_WH_RETRY: return "retry";
	default: return "unknown";
	}
}

static char *dup_opt(const char *s, int *oom)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*oom = 1;
	return d;
}

void cl_wh_engine_free(cl_wh_engine *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nslots; i++) {
		struct slot *s = &e->slots[i];
		if (s->easy != NULL) {
			if (s->busy && e->multi != NULL)
				curl_multi_remove_handle(e->multi, s->easy);
			curl_easy_cleanup(s->easy);
		}
		curl_slist_free_all(s->headers);
		curl_slist_free_all(s->resolve);
	}
	free(e->slots);
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	if (e->share != NULL)
		curl_share_cleanup(e->share);
	free(e->proxy);
	free(e->ca_file);
	free(e->user_agent);
	if (e->global_init)
		curl_global_cleanup();
	free(e);
}

cl_err cl_wh_engine_new(cl_wh_engine **out, const cl_wh_engine_opts *opts, cl_error *err)
{
	cl_wh_engine_opts def = CL_WH_ENGINE_OPTS_INIT;
	cl_wh_engine *e = NULL;
	cl_err rc;
	int oom = 0;
	*out = NULL;
	if (opts == NULL)
		opts = &def;
	if (opts->version != CL_WH_ENGINE_OPTS_VERSION)
		return cl_error_set(err, CL_EUSAGE, "webhook engine options version %u is not %d", opts->version,
				    CL_WH_ENGINE_OPTS_VERSION);
	if (opts->connect_timeout_ms < 1 || opts->connect_timeout_ms > 600000 || opts->timeout_ms < 1 ||
	    opts->timeout_ms > 3600000)
		return cl_error_set(err, CL_EUSAGE, "webhook time-outs out of range (connect 1..600000 ms, total 1..3600000 ms)");
	if (opts->max_parallel < 1 || opts->max_parallel > CL_WH_PARALLEL_MAX || opts->max_connections < 1 ||
	    opts->max_connections > 100000 || opts->max_response > SIZE_MAX / 2)
		return cl_error_set(err, CL_EUSAGE, "webhook engine limits out of range (parallel 1..%d)",
				    CL_WH_PARALLEL_MAX);

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto nomem;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = cl_error_set(err, CL_EINTERNAL, "libcurl global initialisation failed");
		goto out;
	}
	e->global_init = 1;
	e->connect_timeout_ms = opts->connect_timeout_ms;
	e->timeout_ms = opts->timeout_ms;
	e->max_response = opts->max_response;
	e->proxy = dup_opt(opts->proxy, &oom);
	e->ca_file = dup_opt(opts->ca_file, &oom);
	e->user_agent = dup_opt(opts->user_agent ? opts->user_agent : "certledger-webhook/0.1", &oom);
	if (oom)
		goto nomem;
	e->slots = calloc(opts->max_parallel, sizeof(*e->slots));
	if (e->slots == NULL)
		goto nomem;
	e->nslots = opts->max_parallel;
	e->multi = curl_multi_init();
	e->share = curl_share_init();
	if (e->multi == NULL || e->share == NULL)
		goto nomem;
	if (curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)opts->max_connections) != CURLM_OK) {
		rc = cl_error_set(err, CL_EINTERNAL, "libcurl refused the webhook engine's multi options");
		goto out;
	}
	*out = e;
	e = NULL;
	rc = CL_OK;
	goto out;
nomem:
	rc = cl_error_set(err, CL_ENOMEM, "out of memory creating the webhook engine");
out:
	cl_wh_engine_free(e);
	return rc;
}

/* ---- libcurl callbacks -------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct slot *s = ud;
	(void)ptr;
	size_t n = size * nmemb;
	if (n > s->engine->max_response - s->body_seen) {
		s->body_capped = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	s->body_seen += n;
	return n;
}

static int ascii_prefix_ci(const char *buf, size_t len, const char *lower)
{
	size_t n = strlen(lower);
	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return 0;
	}
	return 1;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct slot *s = ud;
	size_t n = size * nitems;
	if (ascii_prefix_ci(buf, n, "http/")) {
		/* A new response (e.g. after an interim 1xx): forget what the last one said. */
		s->has_retry_after = 0;
		return n;
	}
	if (ascii_prefix_ci(buf, n, "retry-after:")) {
		size_t len = n - 12;
		const char *v = buf + 12;
		while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'))
			len--;
		uint32_t secs = 0;
		if (cl_wh_retry_after_parse(&secs, v, len, (int64_t)time(NULL)) == CL_OK) {
			s->has_retry_after = 1;
			s->retry_after_s = secs;
		}
	}
	return n;
}

/* Opens the transfer's sockets, but only to a pinned address the target's policy allows. With
 * the CURLOPT_RESOLVE pin libcurl should never want anything else; this is the second lock. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct slot *s = ud;
	if (purpose == CURLSOCKTYPE_IPCXN && s->engine->proxy == NULL) {
		cl_wh_addr a;
		char text[CL_WH_ADDR_TEXT_MAX] = "?";
		const char *why = NULL;
		const char *kind = NULL;
		if (cl_wh_addr_from_sockaddr(&a, &sa->addr, sa->addrlen) != 0) {
			why = "is not an IPv4 or IPv6 address";
		} else {
			cl_wh_addr_format(text, &a);
			if (!cl_wh_target_pins(s->target, &a))
				why = "is not one of the addresses checked and pinned for it";
			else if (!s->target->allow_private)
				kind = cl_wh_guard_addr_kind(&a);
		}
		if (why != NULL || kind != NULL) {
			s->refused = 1;
			snprintf(s->refused_msg, sizeof(s->refused_msg),
				 "refused to connect: webhook URL host %s address %s %s%s", s->target->host, text,
				 why != NULL ? why : "is ", why != NULL ? "" : kind);
			return CURL_SOCKET_BAD;
		}
	}
	return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

/* Runs once the connection, new or reused, is ready and before the request is sent. A reused
 * connection was opened (and checked) for an earlier transfer to the same host name and port,
 * possibly under another target's policy or an older pin; so check the policy once more on the
 * address actually connected. (Pin membership is checked only for new sockets: a public target
 * may reuse a connection to an address an older, equally public, DNS answer gave.) */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	struct slot *s = ud;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (s->engine->proxy != NULL || s->target->allow_private)
		return CURL_PREREQFUNC_OK;
	cl_wh_addr a;
	memset(&a, 0, sizeof(a));
	const char *kind = "an address that cannot be read";
	if (primary_ip != NULL && inet_pton(AF_INET, primary_ip, a.bytes) == 1)
		a.family = AF_INET;
	else if (primary_ip != NULL && inet_pton(AF_INET6, primary_ip, a.bytes) == 1)
		a.family = AF_INET6;
	if (a.family != 0)
		kind = cl_wh_guard_addr_kind(&a);
	if (kind == NULL)
		return CURL_PREREQFUNC_OK;
	s->refused = 1;
	snprintf(s->refused_msg, sizeof(s->refused_msg),
		 "refused to send: webhook URL host %s is connected to %s, %s", s->target->host,
		 primary_ip != NULL ? primary_ip : "?", kind);
	return CURL_PREREQFUNC_ABORT;
}

/* ---- slots -------------------------------------------------------------------------------- */

#define SETOPT(h, o, v)                                      \
	do {                                                 \
		if (curl_easy_setopt((h), (o), (v)) != CURLE_OK) \
			goto bad_opt;                        \
	} while (0)

/* Makes the slot's easy handle with every option that never changes between jobs. */
static cl_err slot_init(cl_wh_engine *e, struct slot *s, cl_error *err)
{
	CURL *h = curl_easy_init();
	if (h == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory creating a libcurl handle");
	s->engine = e;
	s->easy = h;
	SETOPT(h, CURLOPT_PRIVATE, s);
	SETOPT(h, CURLOPT_SHARE, e->share);
	SETOPT(h, CURLOPT_ERRORBUFFER, s->errbuf);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_NOPROGRESS, 1L);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(h, CURLOPT_WRITEDATA, s);
	SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h, CURLOPT_HEADERDATA, s);
	SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(h, CURLOPT_OPENSOCKETDATA, s);
	SETOPT(h, CURLOPT_PREREQFUNCTION, on_prereq);
	SETOPT(h, CURLOPT_PREREQDATA, s);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
	SETOPT(h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_MAXREDIRS, 0L);
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, CURLOPT_USERAGENT, e->user_agent);
	if (e->ca_file != NULL)
		SETOPT(h, CURLOPT_CAINFO, e->ca_file);
	if (e->proxy != NULL) {
		SETOPT(h, CURLOPT_PROXY, e->proxy);
	} else {
		/* "" disables any proxy, and NOPROXY "*" makes sure no *_proxy variable applies. */
		SETOPT(h, CURLOPT_PROXY, "");
		SETOPT(h, CURLOPT_NOPROXY, "*");
	}
	return CL_OK;
bad_opt:
	curl_easy_cleanup(h);
	s->easy = NULL;
	return cl_error_set(err, CL_EINTERNAL, "libcurl refused a webhook transfer option");
}

static cl_err add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);
	if (l == NULL)
		return CL_ENOMEM;
	*list = l;
	return CL_OK;
}

/* Signs the job and starts its transfer in the slot. */
static cl_err slot_start(cl_wh_engine *e, struct slot *s, const cl_wh_job *job, size_t idx, cl_error *err)
{
	char line[HDR_MAX];
	cl_err rc;
	if (s->easy == NULL && (rc = slot_init(e, s, err)) != CL_OK)
		return rc;
	curl_slist_free_all(s->headers);
	curl_slist_free_all(s->resolve);
	s->headers = s->resolve = NULL;
	s->job = idx;
	s->target = job->target;
	s->errbuf[0] = '\0';
	s->body_seen = 0;
	s->body_capped = 0;
	s->has_retry_after = 0;
	s->retry_after_s = 0;
	s->refused = 0;
	s->refused_msg[0] = '\0';

	rc = cl_wh_sign(s->sig, job->secret, job->id, job->timestamp, job->body, err);
	if (rc != CL_OK)
		return rc;
	rc = add_header(&s->headers, "content-type: application/json");
	if (rc == CL_OK) {
		snprintf(line, sizeof(line), "webhook-id: %s", job->id);
		rc = add_header(&s->headers, line);
	}
	if (rc == CL_OK) {
		snprintf(line, sizeof(line), "webhook-timestamp: %" PRId64, job->timestamp);
		rc = add_header(&s->headers, line);
	}
	if (rc == CL_OK) {
		snprintf(line, sizeof(line), "webhook-signature: %s", s->sig);
		rc = add_header(&s->headers, line);
	}
	if (rc == CL_OK)
		rc = add_header(&s->headers, "Expect:"); /* no 100-continue round trip */
	if (rc == CL_OK && job->target->resolve[0] != '\0')
		rc = add_header(&s->resolve, job->target->resolve);
	if (rc != CL_OK)
		return cl_error_set(err, rc, "out of memory building webhook headers");

	CURL *h = s->easy;
	SETOPT(h, CURLOPT_URL, job->target->url);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, job->target->https ? "https" : "http");
	SETOPT(h, CURLOPT_PIPEWAIT, job->target->https ? 1L : 0L);
	SETOPT(h, CURLOPT_RESOLVE, s->resolve);
	SETOPT(h, CURLOPT_HTTPHEADER, s->headers);
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->body.len);
	SETOPT(h, CURLOPT_POSTFIELDS, job->body.len ? (const char *)job->body.ptr : "");
	if (curl_multi_add_handle(e->multi, h) != CURLM_OK)
		return cl_error_set(err, CL_EINTERNAL, "libcurl refused to start a webhook transfer");
	s->busy = 1;
	return CL_OK;
bad_opt:
	return cl_error_set(err, CL_EINTERNAL, "libcurl refused a webhook transfer option");
}

/* Copies text into o->error as one line without trailing spaces. */
static void set_error(cl_wh_outcome *o, const char *text)
{
	snprintf(o->error, sizeof(o->error), "%s", text);
	/* One line: libcurl's messages can end in a newline. */
	for (char *p = o->error; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	size_t n = strlen(o->error);
	while (n > 0 && o->error[n - 1] == ' ')
		o->error[--n] = '\0';
}

/* Fills the outcome of a finished transfer and frees the slot. */
static void slot_finish(cl_wh_engine *e, struct slot *s, CURLcode result, cl_wh_outcome *o)
{
	CURL *h = s->easy;
	long status = 0, conns = 0;
	curl_off_t total_us = 0;
	char *ip = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
	curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
	curl_multi_remove_handle(e->multi, h);
	s->busy = 0;

	o->status = status;
	o->curl_code = (int)result;
	o->timed_out = result == CURLE_OPERATION_TIMEDOUT;
	o->duration_us = (int64_t)total_us;
	o->new_connections = conns;
	snprintf(o->addr, sizeof(o->addr), "%s", ip != NULL ? ip : "");
	memcpy(o->signature, s->sig, sizeof(o->signature));
	o->retry_after_s = (s->has_retry_after && (status == 429 || status == 503)) ? (int64_t)s->retry_after_s : -1;
	o->error[0] = '\0';

	int answered = result == CURLE_OK || (result == CURLE_WRITE_ERROR && s->body_capped && status >= 200);
	if (!answered) {
		o->cls = CL_WH_RETRY;
		if (s->refused)
			set_error(o, s->refused_msg);
		else
			set_error(o, s->errbuf[0] ? s->errbuf : curl_easy_strerror(result));
		return;
	}
	if (status >= 200 && status <= 299)
		o->cls = CL_WH_DELIVERED;
	else if (status == 410)
		o->cls = CL_WH_GONE;
	else
		o->cls = CL_WH_RETRY;
	char code[32];
	snprintf(code, sizeof(code), "HTTP %ld", status);
	if (s->body_capped)
		snprintf(o->error, sizeof(o->error), "%s%sresponse body over %zu bytes, cut off",
			 o->cls == CL_WH_DELIVERED ? "" : code, o->cls == CL_WH_DELIVERED ? "" : "; ",
			 e->max_response);
	else if (o->cls != CL_WH_DELIVERED)
		set_error(o, code);
}

/* ---- the run loop ------------------------------------------------------------------------- */

static cl_err check_jobs(const cl_wh_job *jobs, size_t n, cl_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const cl_wh_job *j = &jobs[i];
		if (j->target == NULL || j->secret == NULL || j->secret->ptr == NULL)
			return cl_error_set(err, CL_EUSAGE, "webhook job %zu has no target or no secret", i);
		if (j->secret->len < CL_WH_KEY_MIN || j->secret->len > CL_WH_KEY_MAX)
			return cl_error_set(err, CL_EUSAGE, "webhook job %zu secret is not %d..%d bytes", i,
					    CL_WH_KEY_MIN, CL_WH_KEY_MAX);
		if (j->target->naddrs == 0 || j->target->url[0] == '\0')
			return cl_error_set(err, CL_EUSAGE, "webhook job %zu has a target that was not checked", i);
		if (!cl_wh_id_valid(j->id))
			return cl_error_set(err, CL_EUSAGE, "webhook job %zu has an invalid webhook-id", i);
		if (j->timestamp < 0)
			return cl_error_set(err, CL_EUSAGE, "webhook job %zu has a negative timestamp", i);
		if (j->body.len > CL_WH_BODY_MAX || (j->body.len > 0 && j->body.ptr == NULL))
			return cl_error_set(err, CL_EUSAGE, "webhook job %zu body is over %d bytes or missing", i,
					    CL_WH_BODY_MAX);
	}
	return CL_OK;
}

/* Collects every finished transfer; returns how many finished. */
static size_t collect(cl_wh_engine *e, cl_wh_outcome *outcomes, unsigned char *done, size_t *active)
{
	size_t finished = 0;
	int left = 0;
	CURLMsg *m;
	while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct slot *s = NULL;
		for (size_t i = 0; i < e->nslots && s == NULL; i++)
			if (e->slots[i].busy && e->slots[i].easy == m->easy_handle)
				s = &e->slots[i];
		if (s == NULL)
			continue;
		CURLcode result = m->data.result; /* m is invalid once the handle is removed */
		slot_finish(e, s, result, &outcomes[s->job]);
		done[s->job] = 1;
		(*active)--;
		finished++;
	}
	return finished;
}

cl_err cl_wh_engine_run(cl_wh_engine *e, const cl_wh_job *jobs, cl_wh_outcome *outcomes, size_t n,
			cl_error *err)
{
	unsigned char *done = NULL;
	size_t next = 0, active = 0;
	cl_err rc;

	if (e == NULL || (n > 0 && (jobs == NULL || outcomes == NULL)))
		return cl_error_set(err, CL_EUSAGE, "webhook engine run without an engine, jobs or outcomes");
	for (size_t i = 0; i < n; i++) {
		memset(&outcomes[i], 0, sizeof(outcomes[i]));
		outcomes[i].cls = CL_WH_RETRY;
		outcomes[i].retry_after_s = -1;
		outcomes[i].user = jobs[i].user;
	}
	if (n == 0)
		return CL_OK;
	rc = check_jobs(jobs, n, err);
	if (rc != CL_OK)
		return rc;
	done = calloc(n, 1);
	if (done == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory starting %zu webhook deliveries", n);

	for (;;) {
		for (size_t i = 0; i < e->nslots && next < n; i++) {
			if (e->slots[i].busy)
				continue;
			rc = slot_start(e, &e->slots[i], &jobs[next], next, err);
			if (rc != CL_OK)
				goto out;
			next++;
			active++;
		}
		if (active == 0)
			break;
		int running = 0;
		CURLMcode mc = curl_multi_perform(e->multi, &running);
		if (mc != CURLM_OK) {
			rc = cl_error_set(err, CL_EINTERNAL, "libcurl multi failed: %s", curl_multi_strerror(mc));
			goto out;
		}
		if (collect(e, outcomes, done, &active) > 0)
			continue; /* start the next jobs before sleeping */
		mc = curl_multi_poll(e->multi, NULL, 0, running > 0 ? 1000 : 10, NULL);
		if (mc != CURLM_OK) {
			rc = cl_error_set(err, CL_EINTERNAL, "libcurl multi poll failed: %s", curl_multi_strerror(mc));
			goto out;
		}
	}
	rc = CL_OK;
out:
	if (rc != CL_OK) {
		for (size_t i = 0; i < e->nslots; i++) {
			if (e->slots[i].busy) {
				curl_multi_remove_handle(e->multi, e->slots[i].easy);
				e->slots[i].busy = 0;
			}
		}
		for (size_t i = 0; i < n; i++)
			if (!done[i])
				snprintf(outcomes[i].error, sizeof(outcomes[i].error),
					 "not completed: the delivery engine failed (%s)", cl_err_name(rc));
	}
	free(done);
	return rc;
}
