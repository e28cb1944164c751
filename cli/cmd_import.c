/* cmd_import.c - `certledger import FILE.jsonl [--password-file F] [--batch N] [--dry-run]`. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger import FILE.jsonl [--password-file F] [--batch N] [--dry-run]\n\n"
	"Applies bulk requests, one JSON object a line (blank lines are skipped):\n"
	"  {\"op\":\"account.create\",\"email\":E,\"kind\":\"internal\"|\"external\",\"name\":N}\n"
	"  {\"op\":\"cert.upload\",\"pem\":TEXT | \"der_b64\":B64 | \"p12_b64\":B64,\"name\":N}\n"
	"  {\"op\":\"link\"|\"unlink\"|\"primary.set\",\"email\":E,\"fingerprint\":FP}\n"
	"  {\"op\":\"primary.clear\",\"email\":E}\n"
	"(kind and name are optional; unlink also takes \"reason\", primary.set \"force\": true.)\n"
	"Each op is checked like its command. N ops (default 1000) share one transaction: a refused\n"
	"op refuses its whole batch, the import stops and names its line (exit 1), and the batches\n"
	"before it stay written. --dry-run checks every line, in order, and writes nothing.\n"
	"--password-file F: the password of the p12_b64 ops (the file's first line).\n"
	"Progress is shown on a terminal.\n\n"
	"prints (--json): applied (ops written, or that would be), events, refused_line (or null)\n";

int cmd_import(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"password-file", required_argument, NULL, 'p'}, {"batch", required_argument, NULL, 'b'},
		{"dry-run", no_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	cl_import_opts o = CL_IMPORT_OPTS_INIT;
	uint64_t batch;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': o.password_file = optarg; break;
		case 'b':
			if (!cli_parse_u64(optarg, &batch) || batch == 0 || batch > 1000000)
				return cli_usage("import", "--batch needs a number from 1 to 1000000, not '%s'", optarg);
			o.batch = (size_t)batch;
			break;
		case 'n': o.dry_run = true; break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("import", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc)
		return cli_usage("import", "import needs one FILE");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	o.progress = cli_progress;
	o.progress_ctx = o.dry_run ? "checking lines" : "importing lines";
	cl_import_result r;
	cl_err rc = cl_import_jsonl(c->l, argv[optind], &o, &r);
	cli_progress_done();
	if (c->json) {
		json_t *j = json_pack("{s:I, s:I, s:o}", "applied", (json_int_t)r.applied, "events", (json_int_t)r.events,
				      "refused_line", r.refused_line ? json_integer((json_int_t)r.refused_line) : json_null());
		if (o.dry_run)
			json_object_set_new(j, "dry_run", json_true());
		cli_print_json(j);
	} else if (rc == CL_OK) {
		printf(o.dry_run ? "dry run: %llu ops would write %llu events; nothing was written\n"
				 : "imported %llu ops (%llu events)\n",
		       (unsigned long long)r.applied, (unsigned long long)r.events);
	} else if (!o.dry_run && r.applied > 0) {
		printf("imported %llu ops (%llu events) before the refused batch\n", (unsigned long long)r.applied,
		       (unsigned long long)r.events);
	}
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}
