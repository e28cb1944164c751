/* cmd_webhook.c - `certledger webhook add|list|show|remove|replay|deliver`: webhook
 * subscriptions and the delivery worker (CLI.md; docs/webhooks.md). Parsing and printing only;
 * the work is done by certledger/webhooks.h.
 *
 * The one secret this command handles is the whsec_ secret that `add` generates: it is printed
 * once with write(2) from a buffer that is wiped afterwards (never through stdio's buffer or a
 * jansson string), and never appears in an error message.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger webhook add URL [--events GLOB,...] [--secret-file F] [--retry DELAYS] [--allow-private]\n"
	"       certledger webhook list\n"
	"       certledger webhook show ID\n"
	"       certledger webhook remove ID\n"
	"       certledger webhook replay ID --from SEQ\n"
	"       certledger webhook deliver [--once | --follow] [--timeout DELAY] [--connect-timeout DELAY]\n"
	"                                  [--parallel N] [--ca-file F]\n\n"
	"Webhook subscriptions (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature) and\n"
	"their delivery: every matching event, in seq order, at least once. Run\n"
	"'certledger webhook ACTION --help' for each action. See docs/webhooks.md.\n";

static const char HELP_ADD[] =
	"usage: certledger webhook add URL [--events GLOB,...] [--secret-file F] [--retry DELAYS] [--allow-private]\n\n"
	"Subscribes URL to the events whose type matches one of the globs (appends webhook.subscribed).\n"
	"The subscription starts after its own event; use 'webhook replay ID --from SEQ' to send history.\n"
	"  --events GLOB,...  event-type globs, e.g. 'cert.*,primary.set' (default '*')\n"
	"  --secret-file F    the signing secret (whsec_...) is the first line of F; without it a secret\n"
	"                     is generated and printed ONCE (it is stored only sealed under the master key)\n"
	"  --retry DELAYS     delays between attempts (default 5s,5m,30m,2h,5h,10h,10h); after the last\n"
	"                     failed attempt the event is dead-lettered and the subscription moves on\n"
	"  --allow-private    allow loopback, private and link-local addresses and plain http (tests,\n"
	"                     internal receivers); refused otherwise\n\n"
	"prints (--json): id, url, events, cursor, state, seq, and secret when one was generated\n"
	"exit codes: 0 ok, 1 refused (URL, globs, schedule, secret file; nothing written), 2 usage\n";

static const char HELP_LIST[] =
	"usage: certledger webhook list\n\n"
	"Every subscription (removed ones too), one per line.\n"
	"prints (--json, one object per line): id, url, events, cursor, state, retry, allow_private,\n"
	"  secret_sha256, subscribed_seq, subscribed_at, removed_seq, head, retrying, delivered, failed,\n"
	"  dead_letter_count, disabled_reason, attempts (the last 1000), dead_letters\n";

static const char HELP_SHOW[] =
	"usage: certledger webhook show ID\n\n"
	"One subscription with its recorded attempts (time, status, duration, error; the last 1000)\n"
	"and its dead letters.\n"
	"prints (--json): the fields of 'webhook list', attempts and dead_letters\n"
	"exit codes: 0 ok, 3 no such subscription\n";

static const char HELP_REMOVE[] =
	"usage: certledger webhook remove ID\n\n"
	"Ends a subscription (appends webhook.unsubscribed) and destroys its sealed secret.\n"
	"prints (--json): id, seq\n"
	"exit codes: 0 ok, 1 already removed, 3 no such subscription\n";

static const char HELP_REPLAY[] =
	"usage: certledger webhook replay ID --from SEQ\n\n"
	"Re-sends every matching event from SEQ on: sets the subscription's cursor to SEQ-1 and clears\n"
	"its pending retry; a subscription disabled by a 410 becomes active again. An operator action on\n"
	"the delivery state (no event is appended); a running 'webhook deliver --follow' picks it up.\n"
	"Receivers see the same webhook-id for an event sent again.\n"
	"prints (--json): id, from, cursor, state\n"
	"exit codes: 0 ok, 1 removed subscription, 2 usage, 3 no such subscription or SEQ past head+1\n";

static const char HELP_DELIVER[] =
	"usage: certledger webhook deliver [--once | --follow] [--timeout DELAY] [--connect-timeout DELAY]\n"
	"                                  [--parallel N] [--ca-file F]\n\n"
	"Delivers events: per subscription in seq order, one request in flight per subscription, many\n"
	"subscriptions at once. 2xx acknowledges (the cursor advances), 410 disables the subscription,\n"
	"anything else is retried on the subscription's schedule with jitter, honouring Retry-After.\n"
	"  --once               deliver what is due now, then exit (the default)\n"
	"  --follow             keep running: poll for new events every 200 ms, sleep until the next\n"
	"                       retry is due; SIGTERM or SIGINT stops it cleanly\n"
	"  --timeout DELAY      whole request time-out, e.g. 30s (default), 500ms\n"
	"  --connect-timeout D  connection time-out (default 10s)\n"
	"  --parallel N         requests at once (default 64)\n"
	"  --ca-file F          PEM bundle of CAs to trust instead of the system's\n"
	"Only one worker runs per ledger. It needs no admin key (it appends no event).\n"
	"prints (--json): delivered, failed, pending, dead_lettered, disabled\n";

/* ---- printing ------------------------------------------------------------------------------- */

static json_t *time_or_null(int64_t us)
{
	char t[40];
	if (us == 0)
		return json_null();
	cli_time(t, us);
	return json_string(t);
}

static json_t *u64_or_null(uint64_t v)
{
	return v ? json_integer((json_int_t)v) : json_null();
}

static json_t *events_json(const cl_webhook_info *w)
{
	json_t *a = json_array();
	for (size_t i = 0; i < w->nevents; i++)
		json_array_append_new(a, json_string(w->events[i]));
	return a;
}

static json_t *sub_json(const cl_webhook_info *w)
{
	char sha[65];
	cli_hex(sha, w->secret_sha256, 32);
	json_t *j = json_pack("{s:s, s:s, s:o, s:I, s:s}", "id", w->id, "url", w->url, "events", events_json(w), "cursor",
			      (json_int_t)w->cursor, "state", w->state);
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "retry", json_string(w->retry));
	json_object_set_new(j, "allow_private", json_boolean(w->allow_private));
	json_object_set_new(j, "secret_sha256", json_string(sha));
	json_object_set_new(j, "subscribed_seq", json_integer((json_int_t)w->subscribed_seq));
	json_object_set_new(j, "subscribed_at", time_or_null(w->subscribed_at));
	json_object_set_new(j, "removed_seq", u64_or_null(w->removed_seq));
	json_object_set_new(j, "head", json_integer((json_int_t)w->head));
	if (w->retry_seq != 0)
		json_object_set_new(j, "retrying",
				    json_pack("{s:I, s:i, s:o}", "seq", (json_int_t)w->retry_seq, "failed_attempts",
					      (int)w->failed_attempts, "next_attempt_at", time_or_null(w->next_attempt_at)));
	else
		json_object_set_new(j, "retrying", json_null());
	json_object_set_new(j, "delivered", json_integer((json_int_t)w->delivered));
	json_object_set_new(j, "failed", json_integer((json_int_t)w->failed));
	json_object_set_new(j, "dead_letter_count", json_integer((json_int_t)w->dead_letters));
	json_object_set_new(j, "disabled_reason", w->disabled_reason[0] ? json_string(w->disabled_reason) : json_null());
	return j;
}

static int attempt_to_json(const cl_webhook_attempt *a, void *ctx)
{
	char id[65], at[40];
	cli_hex(id, a->event_id, 32);
	cli_time(at, a->at);
	json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:i, s:I, s:I, s:s, s:s}", "n", (json_int_t)a->n, "at", at, "seq",
			      (json_int_t)a->seq, "id", id, "attempt", (int)a->attempt, "status", (json_int_t)a->status,
			      "duration_us", (json_int_t)a->duration_us, "result", a->result, "error", a->error);
	if (o != NULL && strcmp(a->result, "retry") == 0)
		json_object_set_new(o, "next_attempt_at", time_or_null(a->next_attempt_at));
	json_array_append_new(ctx, o);
	return 0;
}

static int dead_to_json(const cl_webhook_dead_letter *d, void *ctx)
{
	char id[65], at[40];
	cli_hex(id, d->event_id, 32);
	cli_time(at, d->at);
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:I, s:s, s:o}", "seq", (json_int_t)d->seq, "id", id, "type",
			      d->type, "at", at, "attempts", (int)d->attempts, "status", (json_int_t)d->status, "error",
			      d->error, "redelivered_at", time_or_null(d->redelivered_at));
	json_array_append_new(ctx, o);
	return 0;
}

typedef struct print_ctx {
	cli *c;
	bool detail; /* show: attempts and dead letters in text too */
	cl_err rc;
} print_ctx;

static int attempt_text(const cl_webhook_attempt *a, void *ctx)
{
	char at[40];
	(void)ctx;
	cli_time(at, a->at);
	printf("  #%-5llu %s  seq %-6llu attempt %-2u %-9s status %3ld  %8.1f ms%s%s", (unsigned long long)a->n, at,
	       (unsigned long long)a->seq, a->attempt, a->result, a->status, (double)a->duration_us / 1000.0,
	       a->error[0] ? "  " : "", a->error);
	if (strcmp(a->result, "retry") == 0 && a->next_attempt_at != 0) {
		char next[40];
		cli_time(next, a->next_attempt_at);
		printf("  next %s", next);
	}
	putchar('\n');
	return 0;
}

static int dead_text(const cl_webhook_dead_letter *d, void *ctx)
{
	char at[40], id[65];
	(void)ctx;
	cli_time(at, d->at);
	cli_hex(id, d->event_id, 32);
	printf("  seq %-6llu %s  %-20s %u attempts, last status %ld %s  id %s%s\n", (unsigned long long)d->seq, at,
	       d->type, d->attempts, d->status, d->error, id, d->redelivered_at ? "  (redelivered since)" : "");
	return 0;
}

static int print_sub(const cl_webhook_info *w, void *arg)
{
	print_ctx *p = arg;
	cli *c = p->c;
	if (c->json) {
		json_t *j = sub_json(w);
		json_t *att = json_array(), *dead = json_array();
		cl_err rc = cl_webhook_attempts(c->l, w->id, attempt_to_json, att);
		if (rc == CL_OK)
			rc = cl_webhook_dead_letters(c->l, w->id, dead_to_json, dead);
		json_object_set_new(j, "attempts", att);
		json_object_set_new(j, "dead_letters", dead);
		if (rc != CL_OK) {
			json_decref(j);
			p->rc = rc;
			return 1;
		}
		cli_print_json(j);
		return 0;
	}
	if (!p->detail) {
		printf("%s  %-8s cursor %llu/%llu  %s  events %s", w->id, w->state, (unsigned long long)w->cursor,
		       (unsigned long long)w->head, w->url, w->nevents ? w->events[0] : "");
		for (size_t i = 1; i < w->nevents; i++)
			printf(",%s", w->events[i]);
		printf("  delivered %llu, failed %llu, dead letters %llu\n", (unsigned long long)w->delivered,
		       (unsigned long long)w->failed, (unsigned long long)w->dead_letters);
		return 0;
	}
	char sha[65], at[40];
	cli_hex(sha, w->secret_sha256, 32);
	cli_time(at, w->subscribed_at);
	printf("id:            %s\nurl:           %s\nevents:        ", w->id, w->url);
	for (size_t i = 0; i < w->nevents; i++)
		printf("%s%s", i ? "," : "", w->events[i]);
	printf("\nretry:         %s\nallow private: %s\nsecret sha256: %s\nsubscribed:    seq %llu at %s\n", w->retry,
	       w->allow_private ? "yes" : "no", sha, (unsigned long long)w->subscribed_seq, at);
	printf("state:         %s", w->state);
	if (w->removed_seq)
		printf(" (seq %llu)", (unsigned long long)w->removed_seq);
	if (w->disabled_reason[0])
		printf(": %s", w->disabled_reason);
	printf("\ncursor:        %llu (head %llu)\n", (unsigned long long)w->cursor, (unsigned long long)w->head);
	if (w->retry_seq != 0) {
		char next[40];
		cli_time(next, w->next_attempt_at);
		printf("retrying:      seq %llu after %u failed attempts, next at %s\n", (unsigned long long)w->retry_seq,
		       w->failed_attempts, next);
	}
	printf("delivered %llu, failed attempts %llu, dead letters %llu\nattempts:\n", (unsigned long long)w->delivered,
	       (unsigned long long)w->failed, (unsigned long long)w->dead_letters);
	cl_err rc = cl_webhook_attempts(c->l, w->id, attempt_text, NULL);
	if (rc == CL_OK) {
		printf("dead letters:\n");
		rc = cl_webhook_dead_letters(c->l, w->id, dead_text, NULL);
	}
	if (rc != CL_OK) {
		p->rc = rc;
		return 1;
	}
	return 0;
}

/* ---- the actions ---------------------------------------------------------------------------- */

/* Writes all of buf to stdout with write(2) (after flushing stdio), so that the secret never
 * sits in stdio's buffer. */
static bool write_all(const char *buf, size_t n)
{
	fflush(stdout);
	while (n > 0) {
		ssize_t w = write(1, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

static int grab_sub(const cl_webhook_info *w, void *ctx)
{
	json_t **out = ctx;
	*out = sub_json(w);
	return 0;
}

static int add(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"events", required_argument, NULL, 'e'}, {"secret-file", required_argument, NULL, 's'},
		{"retry", required_argument, NULL, 'r'}, {"allow-private", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	cl_webhook_add_opts o = CL_WEBHOOK_ADD_OPTS_INIT;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': o.events = optarg; break;
		case 's': o.secret_file = optarg; break;
		case 'r': o.retry = optarg; break;
		case 'p': o.allow_private = true; break;
		case 'h': return cli_help(HELP_ADD);
		default: return cli_usage("webhook add", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc)
		return cli_usage("webhook add", "webhook add needs one URL");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	char id[CL_WEBHOOK_ID_LEN + 1];
	uint64_t seq = 0;
	char *secret = NULL;
	cl_err rc = cl_webhook_add(c->l, argv[optind], &o, id, &seq, &secret);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);

	json_t *j = NULL;
	rc = cl_webhook_get(c->l, id, grab_sub, &j);
	if (rc != CL_OK || j == NULL) {
		code = rc != CL_OK ? cli_fail_lib(c, rc) : cli_fail(EXIT_INTERNAL, "out of memory");
		goto out;
	}
	if (c->json) {
		json_object_set_new(j, "seq", json_integer((json_int_t)seq));
		char *body = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (body == NULL) {
			code = cli_fail(EXIT_INTERNAL, "out of memory");
			goto out;
		}
		size_t n = strlen(body);
		if (secret == NULL) {
			body[n - 1] = '\0';
			bool ok = write_all(body, n - 1) && write_all("}\n", 2);
			free(body);
			if (!ok)
				code = cli_fail(EXIT_INTERNAL, "cannot write to standard output");
			goto out;
		}
		/* body ends with '}': replace it with ,"secret":"whsec_..."} and a newline. */
		size_t sl = strlen(secret);
		size_t total = n - 1 + 11 + sl + 3;
		char *line = malloc(total + 1);
		if (line == NULL) {
			free(body);
			code = cli_fail(EXIT_INTERNAL, "out of memory");
			goto out;
		}
		memcpy(line, body, n - 1);
		memcpy(line + n - 1, ",\"secret\":\"", 11);
		memcpy(line + n - 1 + 11, secret, sl);
		memcpy(line + n - 1 + 11 + sl, "\"}\n", 3);
		line[total] = '\0';
		free(body);
		bool ok = write_all(line, total);
		cl_webhook_secret_free(line); /* wipes */
		if (!ok)
			code = cli_fail(EXIT_INTERNAL, "cannot write to standard output");
		goto out;
	}
	printf("added webhook %s (seq %llu): %s\n", id, (unsigned long long)seq,
	       json_string_value(json_object_get(j, "url")));
	if (secret != NULL) {
		bool ok = write_all("secret: ", 8) && write_all(secret, strlen(secret)) && write_all("\n", 1);
		printf("This secret is shown only now: give it to the receiver. The ledger keeps it only sealed.\n");
		if (!ok)
			code = cli_fail(EXIT_INTERNAL, "cannot write to standard output");
	}
out:
	json_decref(j);
	cl_webhook_secret_free(secret);
	return code;
}

static int list(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(HELP_LIST);
	if (argc != 1)
		return cli_usage("webhook list", "webhook list takes no arguments");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	print_ctx p = {c, false, CL_OK};
	cl_err rc = cl_webhook_list(c->l, print_sub, &p);
	if (rc == CL_OK)
		rc = p.rc;
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}

static int show(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(HELP_SHOW);
	if (argc != 2)
		return cli_usage("webhook show", "webhook show needs one ID");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	print_ctx p = {c, true, CL_OK};
	cl_err rc = cl_webhook_get(c->l, argv[1], print_sub, &p);
	if (rc == CL_OK)
		rc = p.rc;
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}

static int remove_sub(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(HELP_REMOVE);
	if (argc != 2)
		return cli_usage("webhook remove", "webhook remove needs one ID");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	uint64_t seq = 0;
	cl_err rc = cl_webhook_remove(c->l, argv[1], &seq);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I}", "id", argv[1], "seq", (json_int_t)seq));
	else
		printf("removed webhook %s (seq %llu)\n", argv[1], (unsigned long long)seq);
	return EXIT_OK;
}

static int replay(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *from = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': from = optarg; break;
		case 'h': return cli_help(HELP_REPLAY);
		default: return cli_usage("webhook replay", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc)
		return cli_usage("webhook replay", "webhook replay needs one ID");
	uint64_t seq = 0;
	if (from == NULL || !cli_parse_u64(from, &seq) || seq == 0)
		return cli_usage("webhook replay", "webhook replay needs --from SEQ (a seq from 1)");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	uint64_t cursor = 0;
	const char *id = argv[optind];
	cl_err rc = cl_webhook_replay(c->l, id, seq, &cursor);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I, s:I, s:s}", "id", id, "from", (json_int_t)seq, "cursor",
					 (json_int_t)cursor, "state", "active"));
	else
		printf("webhook %s will re-send from seq %llu (cursor %llu)\n", id, (unsigned long long)seq,
		       (unsigned long long)cursor);
	return EXIT_OK;
}

/* "500ms", "30s", "2m" into milliseconds (1 ms .. 1 h). */
static bool parse_delay_ms(const char *s, long *out)
{
	char *end = NULL;
	if (s == NULL || *s < '1' || *s > '9')
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0 || v > 3600000)
		return false;
	long mul;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else
		return false;
	if (v > 3600000 / mul)
		return false;
	*out = v * mul;
	return true;
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int deliver(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"once", no_argument, NULL, 'o'}, {"follow", no_argument, NULL, 'f'},
		{"timeout", required_argument, NULL, 't'}, {"connect-timeout", required_argument, NULL, 'c'},
		{"parallel", required_argument, NULL, 'p'}, {"ca-file", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	cl_webhook_deliver_opts o = CL_WEBHOOK_DELIVER_OPTS_INIT;
	bool once = false;
	uint64_t par = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': once = true; break;
		case 'f': o.follow = true; break;
		case 't':
			if (!parse_delay_ms(optarg, &o.timeout_ms))
				return cli_usage("webhook deliver", "--timeout must be a delay such as 30s or 500ms (up to 60m)");
			break;
		case 'c':
			if (!parse_delay_ms(optarg, &o.connect_timeout_ms))
				return cli_usage("webhook deliver", "--connect-timeout must be a delay such as 10s (up to 10m)");
			break;
		case 'p':
			if (!cli_parse_u64(optarg, &par) || par < 1 || par > 1024)
				return cli_usage("webhook deliver", "--parallel must be 1..1024");
			o.max_parallel = (size_t)par;
			break;
		case 'a': o.ca_file = optarg; break;
		case 'h': return cli_help(HELP_DELIVER);
		default: return cli_usage("webhook deliver", "%s", cli_bad_option(argc, argv));
		}
	}
	if (once && o.follow)
		return cli_usage("webhook deliver", "--once and --follow exclude each other");
	if (optind != argc)
		return cli_usage("webhook deliver", "webhook deliver takes no arguments");
	if (o.connect_timeout_ms > 600000)
		return cli_usage("webhook deliver", "--connect-timeout must be at most 10m");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a sleep is cut short */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	o.stop = &stop_requested;

	cl_webhook_deliver_stats st;
	cl_err rc = cl_webhook_deliver(c->l, &o, &st);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json)
		cli_print_json(json_pack("{s:I, s:I, s:I, s:I, s:I}", "delivered", (json_int_t)st.delivered, "failed",
					 (json_int_t)st.failed, "pending", (json_int_t)st.pending, "dead_lettered",
					 (json_int_t)st.dead_lettered, "disabled", (json_int_t)st.disabled));
	else
		printf("delivered %llu, failed %llu, pending %llu (dead-lettered %llu, disabled %llu)\n",
		       (unsigned long long)st.delivered, (unsigned long long)st.failed, (unsigned long long)st.pending,
		       (unsigned long long)st.dead_lettered, (unsigned long long)st.disabled);
	return EXIT_OK;
}

int cmd_webhook(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_wants_help(argc, argv) ? cli_help(HELP)
						  : cli_usage("webhook", "which action: add, list, show, remove, replay or deliver?");
	static const struct {
		const char *name;
		int (*fn)(cli *, int, char **);
	} actions[] = {
		{"add", add}, {"list", list}, {"show", show}, {"remove", remove_sub}, {"replay", replay}, {"deliver", deliver},
	};
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(argv[1], actions[i].name) == 0)
			return actions[i].fn(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	return cli_usage("webhook", "unknown action '%s'", argv[1]);
}
