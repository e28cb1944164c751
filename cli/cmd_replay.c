/* cmd_replay.c - `certledger replay --until TIME`: every account as it stood at TIME, computed
 * from the log alone (not from the read models), one account a line as `account show` prints
 * it, so that an officer can compare the two. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger replay [--until TIME]\n\n"
	"Replays the log from seq 1 with a state machine of its own (account.created, cert.linked,\n"
	"cert.unlinked, primary.set, primary.cleared) and prints every account as it stood at TIME:\n"
	"after every event with ts <= TIME (a change at exactly TIME is in force at TIME, as for\n"
	"`account show --at`). TIME is RFC 3339 or a date (the start of that UTC day); without\n"
	"--until, after the whole log. The read models are not used, so the output is an\n"
	"independent check of them. An event that does not fit the state is an integrity failure\n"
	"(exit 4) naming its seq.\n\n"
	"prints (--json, one account per line in address order): email, kind, name, certificates\n"
	"(fingerprints in link order), primary (fingerprint or null)\n";

static int print_account(const cl_account_state *a, void *ctx)
{
	cli *c = ctx;
	char fp[65];
	if (c->json) {
		json_t *certs = json_array();
		for (size_t i = 0; i < a->ncertificates; i++) {
			cli_hex(fp, a->certificates[i], 32);
			json_array_append_new(certs, json_string(fp));
		}
		json_t *primary = json_null();
		if (a->primary) {
			cli_hex(fp, a->primary, 32);
			primary = json_string(fp);
		}
		cli_print_json(json_pack("{s:s, s:s, s:s, s:o, s:o}", "email", a->email, "kind", a->kind, "name", a->name,
					 "certificates", certs, "primary", primary));
		return 0;
	}
	if (a->primary)
		cli_hex(fp, a->primary, 32);
	printf("%s  %s  %s  certificates: %zu  primary: %s\n", a->email, a->kind, a->name[0] ? a->name : "-",
	       a->ncertificates, a->primary ? fp : "none");
	return 0;
}

int cmd_replay(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"until", required_argument, NULL, 'u'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int64_t until = INT64_MAX;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			if (!cli_parse_time(optarg, &until, true, NULL))
				return cli_usage("replay", "--until needs an RFC 3339 time or a date, not '%s'", optarg);
			break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("replay", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind != argc)
		return cli_usage("replay", "unexpected argument '%s'", argv[optind]);
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_err rc = cl_replay_accounts(c->l, until, print_account, c, cli_progress, "replaying");
	cli_progress_done();
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}
