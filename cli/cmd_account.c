/* cmd_account.c - `certledger account create|show|list`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger account create EMAIL [--internal | --external] [--name NAME]\n\n"
	"create: a new account. It is internal when its domain is one of the org domains given to\n"
	"init, unless --internal or --external says otherwise. A duplicate address (the domain\n"
	"compared without case) is refused.\n"
	"  prints (--json): email, kind, name, created_at, seq\n";

static int create(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"internal", no_argument, NULL, 'i'}, {"external", no_argument, NULL, 'e'},
		{"name", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	cl_account_kind kind = CL_KIND_AUTO;
	const char *name = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
		case 'e':
			if (kind != CL_KIND_AUTO)
				return cli_usage("account", "give only one of --internal and --external");
			kind = opt == 'i' ? CL_KIND_INTERNAL : CL_KIND_EXTERNAL;
			break;
		case 'n': name = optarg; break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("account", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("account", "account create needs one EMAIL");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	cl_account_created a;
	cl_err rc = cl_account_create(c->l, argv[optind], kind, name, &a);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	char ts[40];
	cli_time(ts, a.created_at);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:I}", "email", a.email, "kind", a.kind, "name", a.name,
					 "created_at", ts, "seq", (json_int_t)a.seq));
	else
		printf("created %s account %s (seq %llu)\n", a.kind, a.email, (unsigned long long)a.seq);
	return EXIT_OK;
}

int cmd_account(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_wants_help(argc, argv) ? cli_help(HELP) : cli_usage("account", "which action: create, show or list?");
	if (strcmp(argv[1], "create") == 0)
		return create(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	return cli_usage("account", "unknown action '%s'", argv[1]);
}
