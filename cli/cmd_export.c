/* cmd_export.c - `certledger export jsonl|csv|bundle`: compliance exports into a file. The file
 * is written beside its final name and renamed into place only when the export is complete, so
 * an interrupted or failed export never leaves a partial file under the name asked for. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger export jsonl|csv|bundle [--since TIME] [--until TIME] [--timeline]\n"
	"                         [--since-checkpoint FILE] --out FILE\n\n"
	"Compliance exports of the events with --since <= ts < --until (TIME is RFC 3339, e.g.\n"
	"2026-03-01T09:30:00Z, or a date meaning the start of that UTC day). --out - writes to\n"
	"standard output; otherwise the file appears only once the export is complete.\n\n"
	"  jsonl   one event per line, as `log --json` prints it, plus \"envelope\": the signed\n"
	"          bytes in base64.\n"
	"  csv     RFC 4180, one row per event: seq, ts, type, actor, id and the data columns email,\n"
	"          fingerprint, name, kind, role, reason, subject, issuer, serial, not_before,\n"
	"          not_after, has_private_key, forced, public_key, origin, url, webhook_id. A cell\n"
	"          starting with = + - @ (or tab or CR) is prefixed with ' so spreadsheets do not\n"
	"          run it as a formula.\n"
	"          --timeline: one row per interval during which a certificate was an account's\n"
	"          primary (email, fingerprint, from, to, from_seq, to_seq; `to` empty while it\n"
	"          still was at the window's end), for intervals that overlap the window.\n"
	"  bundle  an evidence bundle (docs/evidence.md) a third party checks with `verify-bundle`\n"
	"          or tests/independent/verify_bundle.py, without the ledger: the envelopes, the\n"
	"          events registering their signers, a signed checkpoint (signed now if the tree\n"
	"          grew) and an inclusion proof per envelope. --since-checkpoint FILE: a checkpoint\n"
	"          note the auditor already holds; the bundle then also proves that this ledger\n"
	"          extends it (refused, exit 4, if it does not).\n\n"
	"prints (--json): format, out, events, first_seq, last_seq, and rows (csv) or tree_size\n"
	"(bundle); with --out - on stderr. Exit 4 when the ledger or the --since-checkpoint does not\n"
	"verify.\n"
	"Progress is shown on a terminal.\n";

/* Reads a small file whole (NUL-terminated); returns an exit code. */
static int read_small(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return cli_fail(errno == ENOENT ? EXIT_NOTFOUND : EXIT_REFUSED, "cannot open %s: %s", path, strerror(errno));
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	int bad = buf == NULL || ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return cli_fail(EXIT_INTERNAL, "cannot read %s", path);
	}
	if (n > max) {
		free(buf);
		return cli_fail(EXIT_REFUSED, "%s is larger than %zu bytes: not a checkpoint", path, max);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return EXIT_OK;
}

typedef enum { FMT_JSONL, FMT_CSV, FMT_BUNDLE } fmt;

int cmd_export(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
		{"timeline", no_argument, NULL, 't'}, {"since-checkpoint", required_argument, NULL, 'c'},
		{"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"jsonl", "csv", "bundle"};
	cl_export_opts o = CL_EXPORT_OPTS_INIT;
	const char *out_path = NULL, *cp_path = NULL;
	char *cp_text = NULL, *tmp = NULL;
	FILE *f = NULL;
	int opt, code = EXIT_OK;
	fmt which;
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	if (argc < 2 || argv[1][0] == '-')
		return cli_usage("export", "which export: jsonl, csv or bundle?");
	if (strcmp(argv[1], "jsonl") == 0)
		which = FMT_JSONL;
	else if (strcmp(argv[1], "csv") == 0)
		which = FMT_CSV;
	else if (strcmp(argv[1], "bundle") == 0)
		which = FMT_BUNDLE;
	else
		return cli_usage("export", "unknown export '%s' (jsonl, csv or bundle)", argv[1]);
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!cli_parse_time(optarg, &o.since, true, NULL))
				return cli_usage("export", "--since needs an RFC 3339 time or a date, not '%s'", optarg);
			break;
		case 'u':
			if (!cli_parse_time(optarg, &o.until, true, NULL))
				return cli_usage("export", "--until needs an RFC 3339 time or a date, not '%s'", optarg);
			break;
		case 't': o.timeline = true; break;
		case 'c': cp_path = optarg; break;
		case 'o': out_path = optarg; break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("export", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind != argc)
		return cli_usage("export", "unexpected argument '%s'", argv[optind]);
	if (out_path == NULL || out_path[0] == '\0')
		return cli_usage("export", "--out FILE is required (- for standard output)");
	if (o.timeline && which != FMT_CSV)
		return cli_usage("export", "--timeline goes with export csv");
	if (cp_path != NULL && which != FMT_BUNDLE)
		return cli_usage("export", "--since-checkpoint goes with export bundle");
	if (cp_path != NULL && (code = read_small(cp_path, 1u << 20, &cp_text, &o.since_checkpoint_len)) != EXIT_OK)
		return code;
	o.since_checkpoint = cp_text;
	o.progress = cli_progress;
	o.progress_ctx = "exporting";
	/* a bundle signs a checkpoint when the tree grew, which needs a writable handle; someone who
	 * may only read the ledger (an auditor's copy) still gets a bundle up to the latest one */
	if (which == FMT_BUNDLE) {
		cl_open_opts oo = CL_OPEN_OPTS_INIT;
		cl_error ignored = CL_ERROR_INIT;
		oo.actor = c->as;
		oo.actor_key_path = c->key;
		if (cl_ledger_open(&c->l, c->ledger_dir, &oo, &ignored) != CL_OK)
			c->l = NULL;
	}
	if (c->l == NULL && (code = cli_open(c, true)) != EXIT_OK)
		goto out;

	bool to_stdout = strcmp(out_path, "-") == 0;
	if (to_stdout) {
		f = stdout;
	} else {
		size_t n = strlen(out_path) + 16;
		tmp = malloc(n);
		int fd = -1;
		if (tmp != NULL) {
			snprintf(tmp, n, "%s.tmp.XXXXXX", out_path);
			fd = mkstemp(tmp);
		}
		if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			code = cli_fail(EXIT_INTERNAL, "cannot create %s: %s", out_path, strerror(errno));
			goto out;
		}
	}
	cl_export_stats st;
	cl_err rc = which == FMT_JSONL ? cl_export_jsonl(c->l, &o, f, &st)
		  : which == FMT_CSV   ? cl_export_csv(c->l, &o, f, &st)
				       : cl_export_bundle(c->l, &o, f, &st);
	cli_progress_done();
	if (!to_stdout) {
		int closed = fclose(f);
		f = NULL;
		if (rc == CL_OK && closed != 0)
			code = cli_fail(EXIT_INTERNAL, "cannot write %s: %s", out_path, strerror(errno));
		else if (rc == CL_OK && rename(tmp, out_path) != 0)
			code = cli_fail(EXIT_INTERNAL, "cannot rename the export to %s: %s", out_path, strerror(errno));
		if (rc != CL_OK || code != EXIT_OK)
			unlink(tmp);
	}
	if (rc != CL_OK) {
		code = cli_fail_lib(c, rc);
		goto out;
	}
	if (code != EXIT_OK)
		goto out;
	if (c->json) {
		json_t *j = json_pack("{s:s, s:s, s:I, s:o, s:o}", "format", names[which], "out", out_path, "events",
				      (json_int_t)st.events,
				      "first_seq", st.first_seq ? json_integer((json_int_t)st.first_seq) : json_null(),
				      "last_seq", st.last_seq ? json_integer((json_int_t)st.last_seq) : json_null());
		if (which == FMT_CSV)
			json_object_set_new(j, "rows", json_integer((json_int_t)st.rows));
		if (which == FMT_BUNDLE)
			json_object_set_new(j, "tree_size", json_integer((json_int_t)st.tree_size));
		/* with --out - the JSON summary would mix with the export: it goes to stderr then */
		if (to_stdout) {
			char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (s)
				fprintf(stderr, "%s\n", s);
			free(s);
			json_decref(j);
		} else {
			cli_print_json(j);
		}
	} else {
		FILE *say = to_stdout ? stderr : stdout;
		if (o.timeline)
			fprintf(say, "exported %llu primary intervals to %s\n", (unsigned long long)st.rows, out_path);
		else if (st.events == 0)
			fprintf(say, "exported no events to %s\n", out_path);
		else
			fprintf(say, "exported %llu events (seq %llu..%llu)%s to %s\n", (unsigned long long)st.events,
				(unsigned long long)st.first_seq, (unsigned long long)st.last_seq,
				which == FMT_BUNDLE ? " with their proofs" : "", out_path);
	}
out:
	free(cp_text);
	free(tmp);
	return code;
}
