/* cmd_account.c - `certledger account create|show|list`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger account create EMAIL [--internal | --external] [--name NAME]\n"
	"       certledger account show EMAIL [--at TIME]\n"
	"       certledger account list\n\n"
	"create: a new account. It is internal when its domain is one of the org domains given to\n"
	"init, unless --internal or --external says otherwise. A duplicate address (the domain\n"
	"compared without case) is refused.\n"
	"  prints (--json): email, kind, name, created_at, seq\n\n"
	"show: the account now, or as it stood at TIME (RFC 3339, e.g. 2026-03-01T09:30:00Z; every\n"
	"event recorded at or before TIME counts). Exit 3 when there is no such account (at TIME).\n"
	"list: every account, in address order.\n"
	"  prints (--json; list: one object per line): email, kind, name, certificates (fingerprints,\n"
	"  in link order), primary (fingerprint or null)\n";

json_t *cli_account_json(const cl_account *a)
{
	char fp[65];
	json_t *certs = json_array();
	for (size_t i = 0; i < a->ncerts; i++) {
		cli_hex(fp, a->certs[i], 32);
		json_array_append_new(certs, json_string(fp));
	}
	json_t *primary = json_null();
	if (a->has_primary) {
		cli_hex(fp, a->primary, 32);
		primary = json_string(fp);
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "email", a->email, "kind", a->kind, "name", a->name,
			 "certificates", certs, "primary", primary);
}

static void print_account(cli *c, const cl_account *a, bool brief)
{
	char fp[65], ts[40];
	if (c->json) {
		cli_print_json(cli_account_json(a));
		return;
	}
	if (a->has_primary)
		cli_hex(fp, a->primary, 32);
	if (brief) {
		printf("%-40s %-8s  certificates: %zu  primary: %s%s%s\n", a->email, a->kind, a->ncerts,
		       a->has_primary ? fp : "none", a->name[0] ? "  name: " : "", a->name);
		return;
	}
	cli_time(ts, a->created_at);
	printf("email:        %s\nkind:         %s\nname:         %s\ncreated:      %s (seq %llu)\nprimary:      %s\n",
	       a->email, a->kind, a->name[0] ? a->name : "-", ts, (unsigned long long)a->created_seq,
	       a->has_primary ? fp : "none");
	printf("certificates: %s\n", a->ncerts ? "" : "none");
	for (size_t i = 0; i < a->ncerts; i++) {
		cli_hex(fp, a->certs[i], 32);
		printf("  %s%s\n", fp, a->has_primary && memcmp(a->certs[i], a->primary, 32) == 0 ? "  (primary)" : "");
	}
}

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
		default: return cli_usage("account", "%s", cli_bad_option(argc, argv));
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

static int show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"at", required_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int64_t at = CL_AT_NOW;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			if (!cli_parse_time(optarg, &at, false, NULL))
				return cli_usage("account", "--at needs an RFC 3339 instant (2026-03-01T09:30:00Z), not '%s'",
						 optarg);
			break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("account", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc)
		return cli_usage("account", "account show needs one EMAIL");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_account a;
	cl_err rc = at == CL_AT_NOW ? cl_proj_account_get(c->l, argv[optind], &a)
				    : cl_proj_account_get_at(c->l, argv[optind], at, &a);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (!c->json && at != CL_AT_NOW) {
		char ts[40];
		cli_time(ts, at);
		printf("as of:        %s\n", ts);
	}
	print_account(c, &a, false);
	cl_account_free(&a);
	return EXIT_OK;
}

static int list_cb(const cl_account *a, void *ctx)
{
	print_account(ctx, a, true);
	return 0;
}

static int list(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h')
			return cli_help(HELP);
		return cli_usage("account", "%s", cli_bad_option(argc, argv));
	}
	if (optind != argc)
		return cli_usage("account", "unexpected argument '%s'", argv[optind]);
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_err rc = cl_proj_account_each(c->l, list_cb, c);
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}

int cmd_account(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_wants_help(argc, argv) ? cli_help(HELP) : cli_usage("account", "which action: create, show or list?");
	if (strcmp(argv[1], "create") == 0)
		return create(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return show(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return list(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	return cli_usage("account", "unknown action '%s'", argv[1]);
}
