/* cmd_history.c - `certledger history (--account EMAIL | --cert FP | --actor NAME)`. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger history (--account EMAIL | --cert FP | --actor NAME)\n\n"
	"Every event that touched the account (its creation, links, unlinks and primary changes),\n"
	"the certificate (upload, renames, links, unlinks, primary changes) or that the admin NAME\n"
	"signed (\"ledger\" for the ledger key), oldest first. FP may be the 64 hex digits, the\n"
	"AB:CD:... form or a unique prefix of at least 8 hex digits. Exit 3 when there is no such\n"
	"account, certificate or actor.\n\n"
	"prints (--json, one object per line, as `log`): seq, ts, type, actor, id, data\n";

static int print_cb(const cl_event_info *ev, void *ctx)
{
	cli_print_event(ctx, ev);
	return 0;
}

int cmd_history(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"account", required_argument, NULL, 'a'}, {"cert", required_argument, NULL, 'c'},
		{"actor", required_argument, NULL, 'A'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	cl_history_of of = 0;
	const char *subject = NULL;
	int opt, given = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': of = CL_HISTORY_ACCOUNT; subject = optarg; given++; break;
		case 'c': of = CL_HISTORY_CERT; subject = optarg; given++; break;
		case 'A': of = CL_HISTORY_ACTOR; subject = optarg; given++; break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("history", "%s", cli_bad_option(argc, argv));
		}
	}
	if (given != 1)
		return cli_usage("history", "give exactly one of --account, --cert and --actor");
	if (optind != argc)
		return cli_usage("history", "unexpected argument '%s'", argv[optind]);
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_err rc = cl_proj_history_each(c->l, of, subject, print_cb, c);
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}
