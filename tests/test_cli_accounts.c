/* test_cli_accounts.c - black-box tests of the built `certledger` binary for issue 4's commands:
 * account show/list, link, unlink, primary set/clear/show, history and rebuild. The --json
 * fields of CLI.md, --help everywhere, exit codes (1 refused, 2 usage, 3 not found), and for
 * every refusal that nothing was written (digest of the whole LMDB environment before and
 * after), including the rule that an internal account cannot get a public-only primary while
 * an external one can; cert show and cert list (--expiring-within). Certificates are recorded
 * through the library (cert.uploaded with chosen validity and fingerprints) rather than by
 * `cert upload`, which has its own tests. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certledger/certledger.h"
#include "testutil.h"
#include "tu_certs.h"

#define NOARG ((const char *)NULL)
#define DAY INT64_C(86400000000)

enum { C_ALICE, C_PUBLIC, C_OTHER, C_EXPIRED, C_FUTURE, C_AMB1, C_AMB2, NCERT };

typedef struct fx {
	char *root;
	char dir[600];
	char hex[NCERT][65];
} fx;

static int64_t real_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	f->root = tu_mkdtemp("cliacct");
	snprintf(f->dir, sizeof(f->dir), "%s/l", f->root);
	cl_init_opts io = CL_INIT_OPTS_INIT;
	const char *domains[] = {"corp.example", NULL};
	io.org_domains = domains;
	cl_ledger *l;
	cl_error err = CL_ERROR_INIT;
	if (cl_ledger_init(&l, f->dir, &io, NULL, &err) != CL_OK)
		fail_msg("init: %s", err.msg);
	int64_t now = real_now();
	uint8_t fp[32], amb1[32], amb2[32];
	memset(amb1, 0x5a, 32);
	memset(amb2, 0x5a, 32);
	amb2[31] = 0x5b;
	tu_cert_spec specs[NCERT] = {
		{"alice", {"alice@corp.example", NULL}, now - 30 * DAY, now + 300 * DAY, true, NULL},
		{"public", {"alice@corp.example", "bob@partner.example", NULL}, now - 30 * DAY, now + 300 * DAY, false, NULL},
		{"other", {"someone@else.example", NULL}, now - 30 * DAY, now + 300 * DAY, true, NULL},
		{"expired", {"alice@corp.example", NULL}, now - 300 * DAY, now - DAY, true, NULL},
		{"future", {"alice@corp.example", NULL}, now + 10 * DAY, now + 300 * DAY, true, NULL},
		{"amb1", {"alice@corp.example", NULL}, now - DAY, now + DAY, true, amb1},
		{"amb2", {"alice@corp.example", NULL}, now - DAY, now + DAY, true, amb2},
	};
	for (int i = 0; i < NCERT; i++) {
		if (specs[i].fingerprint)
			tu_upload_fake(l, &specs[i], fp);
		else
			tu_upload(l, &specs[i], fp);
		tu_hex(f->hex[i], fp);
	}
	cl_ledger_free(l);
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

static json_t *json_of(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL)
		fail_msg("not JSON (%s): %s", e.text, text);
	return j;
}

/* The object has exactly these keys (NULL-terminated), in this order. */
static void assert_keys(json_t *o, const char *const *keys)
{
	assert_true(json_is_object(o));
	size_t n = 0;
	void *it = json_object_iter(o);
	for (; it; it = json_object_iter_next(o, it), n++) {
		assert_non_null(keys[n]);
		assert_string_equal(json_object_iter_key(it), keys[n]);
	}
	assert_null(keys[n]);
}

/* Runs the CLI with these arguments (NULL-terminated), expecting exit code `code`. */
static void run(tu_run *r, fx *f, int code, ...)
{
	char *argv[24];
	int n = 0;
	argv[n++] = (char *)tu_bin();
	argv[n++] = "--ledger";
	argv[n++] = f->dir;
	va_list ap;
	va_start(ap, code);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 23)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	tu_exec(r, argv, NULL, 0, NULL);
	if (r->exit_code != code)
		fail_msg("%s %s: exit %d, expected %d; stderr: %s", argv[3], n > 4 ? argv[4] : "", r->exit_code, code, r->err);
}

/* A refusal: exit code, a message naming `needle`, and the environment unchanged. */
static void refused(fx *f, int code, const char *needle, ...)
{
	char before[65], after[65];
	tu_ledger_digest(f->dir, before);
	char *argv[24];
	int n = 0;
	argv[n++] = (char *)tu_bin();
	argv[n++] = "--ledger";
	argv[n++] = f->dir;
	va_list ap;
	va_start(ap, needle);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 23)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	tu_run r;
	tu_exec(&r, argv, NULL, 0, NULL);
	if (r.exit_code != code)
		fail_msg("%s %s: exit %d, expected %d; stderr: %s", argv[3], argv[4], r.exit_code, code, r.err);
	if (strstr(r.err, "certledger: ") == NULL || strstr(r.err, needle) == NULL)
		fail_msg("message '%s' does not name '%s'", r.err, needle);
	assert_string_equal(r.out, "");
	tu_run_free(&r);
	tu_ledger_digest(f->dir, after);
	assert_string_equal(before, after);
}

static void accounts(fx *f)
{
	tu_run r;
	run(&r, f, 0, "account", "create", "alice@corp.example", "--name", "Alice", NOARG);
	tu_run_free(&r);
	run(&r, f, 0, "account", "create", "bob@partner.example", NOARG);
	tu_run_free(&r);
}

static void test_help_and_usage(void **state)
{
	fx *f = *state;
	static const char *helps[][4] = {
		{"link", "--help"}, {"unlink", "--help"}, {"primary", "--help"}, {"primary", "set", "--help"},
		{"primary", "show", "--help"}, {"primary", "clear", "--help"}, {"history", "--help"},
		{"rebuild", "--help"}, {"import", "--help"}, {"account", "show", "--help"}, {"account", "list", "--help"},
	};
	tu_run r;
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		run(&r, f, 0, helps[i][0], helps[i][1], helps[i][2], NOARG);
		assert_non_null(strstr(r.out, "usage: certledger"));
		assert_non_null(strstr(r.out, helps[i][0]));
		tu_run_free(&r);
	}
	run(&r, f, 0, "--help", NOARG);
	assert_non_null(strstr(r.out, "primary"));
	assert_non_null(strstr(r.out, "rebuild"));
	tu_run_free(&r);
	refused(f, 2, "EMAIL", "link", "alice@corp.example", NOARG);
	refused(f, 2, "EMAIL", "unlink", NOARG);
	refused(f, 2, "unknown action", "primary", "sideways", NOARG);
	refused(f, 2, "exactly one", "history", "--account", "a@corp.example", "--actor", "owner", NOARG);
	refused(f, 2, "exactly one", "history", NOARG);
	refused(f, 2, "--at", "account", "show", "alice@corp.example", "--at", "yesterday", NOARG);
	refused(f, 2, "--batch", "import", "x.jsonl", "--batch", "0", NOARG);
	refused(f, 2, "FILE", "import", NOARG);
	refused(f, 2, "unexpected", "rebuild", "now", NOARG);
	refused(f, 2, "unknown option '--force'", "link", "--force", "a@corp.example", f->hex[0], NOARG);
}

static void test_flow_and_fields(void **state)
{
	fx *f = *state;
	accounts(f);
	tu_run r;
	static const char *seq_only[] = {"seq", NULL};
	static const char *set_keys[] = {"seq", "forced", "overridden", NULL};
	static const char *unlink_keys[] = {"seq", "primary_cleared_seq", NULL};
	static const char *acct_keys[] = {"email", "kind", "name", "certificates", "primary", NULL};
	static const char *show_keys[] = {"email", "at", "fingerprint", NULL};

	run(&r, f, 0, "--json", "link", "alice@Corp.Example", f->hex[C_ALICE], NOARG);
	json_t *j = json_of(r.out);
	assert_keys(j, seq_only);
	long long link_seq = json_integer_value(json_object_get(j, "seq"));
	json_decref(j);
	tu_run_free(&r);
	/* the colon form, upper case, as openssl prints it */
	char colon[100];
	size_t at = 0;
	for (int i = 0; i < 32; i++) {
		if (i)
			colon[at++] = ':';
		colon[at++] = (char)(f->hex[C_OTHER][2 * i] >= 'a' ? f->hex[C_OTHER][2 * i] - 32 : f->hex[C_OTHER][2 * i]);
		colon[at++] = (char)(f->hex[C_OTHER][2 * i + 1] >= 'a' ? f->hex[C_OTHER][2 * i + 1] - 32
									: f->hex[C_OTHER][2 * i + 1]);
	}
	colon[at] = '\0';
	run(&r, f, 0, "link", "alice@corp.example", colon, NOARG);
	assert_non_null(strstr(r.out, f->hex[C_OTHER]));
	tu_run_free(&r);

	run(&r, f, 0, "--json", "primary", "set", "alice@corp.example", f->hex[C_ALICE], NOARG);
	j = json_of(r.out);
	assert_keys(j, set_keys);
	assert_true(json_is_false(json_object_get(j, "forced")));
	assert_int_equal(json_array_size(json_object_get(j, "overridden")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), link_seq + 2);
	json_decref(j);
	tu_run_free(&r);

	run(&r, f, 0, "--json", "account", "show", "alice@corp.example", NOARG);
	j = json_of(r.out);
	assert_keys(j, acct_keys);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "internal");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "Alice");
	json_t *certs = json_object_get(j, "certificates");
	assert_int_equal(json_array_size(certs), 2);
	assert_string_equal(json_string_value(json_array_get(certs, 0)), f->hex[C_ALICE]);
	assert_string_equal(json_string_value(json_array_get(certs, 1)), f->hex[C_OTHER]);
	assert_string_equal(json_string_value(json_object_get(j, "primary")), f->hex[C_ALICE]);
	json_decref(j);
	tu_run_free(&r);
	run(&r, f, 0, "account", "show", "alice@corp.example", NOARG);
	assert_non_null(strstr(r.out, "(primary)"));
	tu_run_free(&r);

	run(&r, f, 0, "--json", "primary", "show", "alice@corp.example", NOARG);
	j = json_of(r.out);
	assert_keys(j, show_keys);
	assert_string_equal(json_string_value(json_object_get(j, "fingerprint")), f->hex[C_ALICE]);
	json_decref(j);
	tu_run_free(&r);

	run(&r, f, 0, "--json", "account", "list", NOARG);
	assert_non_null(strstr(r.out, "\"email\":\"alice@corp.example\""));
	const char *second = strchr(r.out, '\n');
	assert_non_null(second);
	j = json_of(second + 1);
	assert_keys(j, acct_keys);
	assert_string_equal(json_string_value(json_object_get(j, "email")), "bob@partner.example");
	assert_true(json_is_null(json_object_get(j, "primary")));
	json_decref(j);
	tu_run_free(&r);

	/* unlinking a certificate that is not the primary: one event */
	run(&r, f, 0, "--json", "unlink", "alice@corp.example", f->hex[C_OTHER], NOARG);
	j = json_of(r.out);
	assert_keys(j, unlink_keys);
	assert_true(json_is_null(json_object_get(j, "primary_cleared_seq")));
	json_decref(j);
	tu_run_free(&r);
	/* unlinking the primary: cert.unlinked then primary.cleared, consecutive, one transaction */
	run(&r, f, 0, "--json", "unlink", "alice@corp.example", f->hex[C_ALICE], "--reason", "key lost", NOARG);
	j = json_of(r.out);
	long long useq = json_integer_value(json_object_get(j, "seq"));
	assert_int_equal(json_integer_value(json_object_get(j, "primary_cleared_seq")), useq + 1);
	json_decref(j);
	tu_run_free(&r);
	char from[24];
	snprintf(from, sizeof(from), "%lld", useq);
	run(&r, f, 0, "--json", "log", "--from", from, NOARG);
	char *nl = strchr(r.out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	json_t *e1 = json_of(r.out), *e2 = json_of(nl + 1);
	assert_string_equal(json_string_value(json_object_get(e1, "type")), "cert.unlinked");
	assert_string_equal(json_string_value(json_object_get(e2, "type")), "primary.cleared");
	assert_true(strcmp(json_string_value(json_object_get(e1, "ts")), json_string_value(json_object_get(e2, "ts"))) <= 0);
	json_t *d1 = json_object_get(e1, "data"), *d2 = json_object_get(e2, "data");
	assert_string_equal(json_string_value(json_object_get(d1, "reason")), "key lost");
	assert_string_equal(json_string_value(json_object_get(d2, "reason")), "unlinked");
	assert_string_equal(json_string_value(json_object_get(d2, "fingerprint")), f->hex[C_ALICE]);
	json_decref(e1);
	json_decref(e2);
	tu_run_free(&r);
	run(&r, f, 0, "--json", "primary", "show", "alice@corp.example", NOARG);
	assert_non_null(strstr(r.out, "\"fingerprint\":null"));
	tu_run_free(&r);

	/* history --account is the account's events exactly as `log` prints them */
	tu_run h, lg;
	run(&h, f, 0, "--json", "history", "--account", "alice@corp.example", NOARG);
	run(&lg, f, 0, "--json", "log", NOARG);
	int lines = 0;
	for (char *p = h.out; *p; lines++) {
		char *end = strchr(p, '\n');
		assert_non_null(end);
		*end = '\0';
		assert_non_null(strstr(lg.out, p)); /* the same line is in the log */
		assert_non_null(strstr(p, "alice@corp.example"));
		p = end + 1;
	}
	assert_int_equal(lines, 7); /* created, 2 links, primary.set, 2 unlinks, primary.cleared */
	tu_run_free(&h);
	run(&h, f, 0, "--json", "history", "--cert", f->hex[C_ALICE], NOARG);
	assert_non_null(strstr(h.out, "\"type\":\"cert.uploaded\""));
	assert_non_null(strstr(h.out, "\"type\":\"primary.cleared\""));
	tu_run_free(&h);
	run(&h, f, 0, "history", "--actor", "owner", NOARG);
	assert_non_null(strstr(h.out, "account.created"));
	tu_run_free(&h);
	tu_run_free(&lg);

	/* rebuild: its fields, and byte-identical read models */
	char before[65], after[65];
	tu_ledger_digest_prefix(f->dir, "p_", before);
	run(&r, f, 0, "--json", "rebuild", NOARG);
	j = json_of(r.out);
	static const char *rb_keys[] = {"events", "seconds", NULL};
	assert_keys(j, rb_keys);
	assert_true(json_integer_value(json_object_get(j, "events")) > 15);
	json_decref(j);
	tu_run_free(&r);
	tu_ledger_digest_prefix(f->dir, "p_", after);
	assert_string_equal(before, after);
	run(&r, f, 0, "verify", NOARG);
	tu_run_free(&r);
}

static void test_refusals_write_nothing(void **state)
{
	fx *f = *state;
	accounts(f);
	tu_run r;
	/* link: both sides must exist, no repeat, a usable fingerprint */
	refused(f, 3, "carol@corp.example", "link", "carol@corp.example", f->hex[C_ALICE], NOARG);
	refused(f, 3, "abcdef0123", "link", "alice@corp.example", "abcdef0123", NOARG);
	refused(f, 1, "not a fingerprint", "link", "alice@corp.example", "xyz-not-hex", NOARG);
	refused(f, 1, "at least 8", "link", "alice@corp.example", "5a5a5a", NOARG);
	refused(f, 1, f->hex[C_AMB2], "link", "alice@corp.example", "5a5a5a5a5a", NOARG); /* ambiguous */
	refused(f, 1, "not a valid email", "link", "not-an-address", f->hex[C_ALICE], NOARG);
	run(&r, f, 0, "link", "alice@corp.example", f->hex[C_ALICE], NOARG);
	tu_run_free(&r);
	refused(f, 1, "already linked", "link", "alice@corp.example", f->hex[C_ALICE], NOARG);
	/* unlink: only what is linked; a reason is text */
	refused(f, 1, "not linked", "unlink", "alice@corp.example", f->hex[C_OTHER], NOARG);
	refused(f, 1, "reason", "unlink", "alice@corp.example", f->hex[C_ALICE], "--reason", "bad\x01text", NOARG);
	refused(f, 3, "nobody@corp.example", "unlink", "nobody@corp.example", f->hex[C_ALICE], NOARG);
	/* primary set: linked first */
	refused(f, 1, "not linked", "primary", "set", "alice@corp.example", f->hex[C_OTHER], NOARG);
	refused(f, 3, "nobody@corp.example", "primary", "set", "nobody@corp.example", f->hex[C_ALICE], NOARG);
	/* internal account + public-only certificate: refused, even with --force */
	run(&r, f, 0, "link", "alice@corp.example", f->hex[C_PUBLIC], NOARG);
	tu_run_free(&r);
	refused(f, 1, "private key", "primary", "set", "alice@corp.example", f->hex[C_PUBLIC], NOARG);
	refused(f, 1, "private key", "primary", "set", "alice@corp.example", f->hex[C_PUBLIC], "--force", NOARG);
	/* ... while an external account takes the same certificate */
	run(&r, f, 0, "link", "bob@partner.example", f->hex[C_PUBLIC], NOARG);
	tu_run_free(&r);
	run(&r, f, 0, "--json", "primary", "set", "bob@partner.example", f->hex[C_PUBLIC], NOARG);
	assert_non_null(strstr(r.out, "\"forced\":false"));
	tu_run_free(&r);
	refused(f, 1, "already the primary", "primary", "set", "bob@partner.example", f->hex[C_PUBLIC], NOARG);
	/* the address must be on the certificate, unless --force, which is recorded */
	run(&r, f, 0, "link", "alice@corp.example", f->hex[C_OTHER], NOARG);
	tu_run_free(&r);
	refused(f, 1, "does not carry the address alice@corp.example", "primary", "set", "alice@corp.example",
		f->hex[C_OTHER], NOARG);
	run(&r, f, 0, "--json", "primary", "set", "alice@corp.example", f->hex[C_OTHER], "--force", NOARG);
	assert_non_null(strstr(r.out, "\"forced\":true,\"overridden\":[\"email_not_in_certificate\"]"));
	tu_run_free(&r);
	run(&r, f, 0, "--json", "log", NOARG);
	assert_non_null(strstr(r.out, "\"forced\":true,\"overridden\":[\"email_not_in_certificate\"]"));
	tu_run_free(&r);
	/* expired, and not yet valid */
	run(&r, f, 0, "link", "alice@corp.example", f->hex[C_EXPIRED], NOARG);
	tu_run_free(&r);
	run(&r, f, 0, "link", "alice@corp.example", f->hex[C_FUTURE], NOARG);
	tu_run_free(&r);
	refused(f, 1, "expired", "primary", "set", "alice@corp.example", f->hex[C_EXPIRED], NOARG);
	refused(f, 1, "not valid before", "primary", "set", "alice@corp.example", f->hex[C_FUTURE], NOARG);
	run(&r, f, 0, "--json", "primary", "set", "alice@corp.example", f->hex[C_EXPIRED], "--force", NOARG);
	assert_non_null(strstr(r.out, "\"overridden\":[\"expired\"]"));
	tu_run_free(&r);
	/* a correct certificate needs no --force, and --force then records nothing */
	run(&r, f, 0, "--json", "primary", "set", "alice@corp.example", f->hex[C_ALICE], "--force", NOARG);
	assert_non_null(strstr(r.out, "\"forced\":false,\"overridden\":[]"));
	tu_run_free(&r);
	/* primary clear: only when there is one */
	run(&r, f, 0, "primary", "clear", "alice@corp.example", NOARG);
	tu_run_free(&r);
	refused(f, 1, "no primary", "primary", "clear", "alice@corp.example", NOARG);
	/* reads of what does not exist: exit 3 */
	refused(f, 3, "nobody@corp.example", "account", "show", "nobody@corp.example", NOARG);
	refused(f, 3, "nobody@corp.example", "primary", "show", "nobody@corp.example", NOARG);
	refused(f, 3, "nobody@corp.example", "history", "--account", "nobody@corp.example", NOARG);
	refused(f, 3, "77777777", "history", "--cert", "77777777", NOARG);
	refused(f, 3, "ghost", "history", "--actor", "ghost", NOARG);
	/* an auditor may not write: refused, nothing written */
	char key[700];
	snprintf(key, sizeof(key), "%s/audrey.key", f->root);
	run(&r, f, 0, "admin", "add", "audrey", "--role", "auditor", "--generate-key", key, NOARG);
	tu_run_free(&r);
	refused(f, 1, "audrey", "--as", "audrey", "--key", key, "link", "bob@partner.example", f->hex[C_OTHER], NOARG);
	refused(f, 1, "audrey", "--as", "audrey", "--key", key, "primary", "clear", "bob@partner.example", NOARG);
	/* ... who may read */
	run(&r, f, 0, "--as", "audrey", "--key", key, "primary", "show", "bob@partner.example", NOARG);
	assert_non_null(strstr(r.out, f->hex[C_PUBLIC]));
	tu_run_free(&r);
}

static void test_cert_show_and_list(void **state)
{
	fx *f = *state;
	accounts(f);
	tu_run r;
	run(&r, f, 0, "link", "bob@partner.example", f->hex[C_PUBLIC], NOARG);
	tu_run_free(&r);
	run(&r, f, 0, "link", "alice@corp.example", f->hex[C_PUBLIC], NOARG);
	tu_run_free(&r);
	static const char *keys[] = {"fingerprint", "name", "kind", "has_private_key", "subject", "issuer", "serial",
				     "not_before", "not_after", "emails", "key_usage", "ext_key_usage", "seq",
				     "uploaded_at", "accounts", NULL};
	char prefix[12];
	memcpy(prefix, f->hex[C_PUBLIC], 10);
	prefix[10] = '\0';
	run(&r, f, 0, "--json", "cert", "show", prefix, NOARG);
	json_t *j = json_of(r.out);
	assert_keys(j, keys);
	assert_string_equal(json_string_value(json_object_get(j, "fingerprint")), f->hex[C_PUBLIC]);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "pem");
	assert_true(json_is_false(json_object_get(j, "has_private_key")));
	json_t *acc = json_object_get(j, "accounts");
	assert_int_equal(json_array_size(acc), 2);
	assert_string_equal(json_string_value(json_array_get(acc, 0)), "bob@partner.example");
	json_t *em = json_object_get(j, "emails");
	assert_int_equal(json_array_size(em), 2);
	assert_int_equal(json_string_length(json_object_get(j, "not_after")), 27); /* RFC 3339, microseconds */
	json_decref(j);
	tu_run_free(&r);
	run(&r, f, 0, "cert", "show", f->hex[C_PUBLIC], NOARG);
	assert_non_null(strstr(r.out, "bob@partner.example"));
	tu_run_free(&r);
	refused(f, 3, "77777777", "cert", "show", "77777777", NOARG);
	refused(f, 1, "ambiguous", "cert", "show", "5a5a5a5a", NOARG);
	refused(f, 2, "--expiring-within", "cert", "list", "--expiring-within", "soon", NOARG);
	/* list: every certificate, one JSON object a line, in fingerprint order */
	run(&r, f, 0, "--json", "cert", "list", NOARG);
	int n = 0;
	char last[65] = "";
	for (char *p = r.out; *p; n++) {
		char *end = strchr(p, '\n');
		*end = '\0';
		j = json_of(p);
		assert_keys(j, keys);
		const char *fp = json_string_value(json_object_get(j, "fingerprint"));
		assert_true(strcmp(last, fp) < 0);
		snprintf(last, sizeof(last), "%s", fp);
		json_decref(j);
		p = end + 1;
	}
	assert_int_equal(n, NCERT);
	tu_run_free(&r);
	/* expiring within 2 days: the two that end tomorrow, soonest first, not the expired one */
	run(&r, f, 0, "--json", "cert", "list", "--expiring-within", "2", NOARG);
	char *nl = strchr(r.out, '\n');
	assert_non_null(nl);
	assert_non_null(strstr(r.out, f->hex[C_AMB1]));
	assert_true(strstr(r.out, f->hex[C_AMB1]) < nl);
	assert_non_null(strstr(nl, f->hex[C_AMB2]));
	assert_null(strstr(r.out, f->hex[C_EXPIRED]));
	assert_null(strstr(r.out, f->hex[C_ALICE]));
	tu_run_free(&r);
	run(&r, f, 0, "cert", "list", "--expiring-within", "400", NOARG);
	n = 0;
	for (char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	assert_int_equal(n, NCERT - 1); /* all but the expired one */
	tu_run_free(&r);
	run(&r, f, 0, "cert", "list", "--help", NOARG);
	assert_non_null(strstr(r.out, "--expiring-within"));
	tu_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_help_and_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_and_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_write_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_show_and_list, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
