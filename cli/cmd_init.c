/* cmd_init.c - `certledger init`: create a ledger and print its identity. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger init [--org-domain D]... [--origin NAME] [--owner NAME]\n\n"
	"Creates a new ledger in --ledger DIR: the LMDB environment (DIR/db), the ledger's Ed25519\n"
	"signing key, the owner admin's key and the master key (DIR/keys, each file 0600), and the\n"
	"ledger.created and admin.added events.\n\n"
	"  --org-domain D  a domain of the organisation: accounts there are internal (repeatable)\n"
	"  --origin NAME   the checkpoint origin (default certledger/<random hex>)\n"
	"  --owner NAME    the first owner's admin name (default owner)\n\n"
	"prints: ledger_id, origin, public_key, verifier_key\n";

int cmd_init(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"org-domain", required_argument, NULL, 'd'}, {"origin", required_argument, NULL, 'o'},
		{"owner", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char **domains = calloc((size_t)argc + 1, sizeof(char *));
	cl_init_opts io = CL_INIT_OPTS_INIT;
	int nd = 0, opt, code = EXIT_OK;
	if (domains == NULL)
		return cli_fail(EXIT_INTERNAL, "out of memory");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': domains[nd++] = optarg; break;
		case 'o': io.origin = optarg; break;
		case 'w': io.owner_name = optarg; break;
		case 'h': free(domains); return cli_help(HELP);
		default: free(domains); return cli_usage("init", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind != argc) {
		free(domains);
		return cli_usage("init", "unexpected argument '%s'", argv[optind]);
	}
	io.org_domains = domains;
	cl_error err = CL_ERROR_INIT;
	cl_err rc = cl_ledger_init(&c->l, c->ledger_dir, &io, NULL, &err);
	free(domains);
	if (rc != CL_OK)
		return cli_fail_err(&err);
	cl_ledger_info info;
	if ((rc = cl_ledger_get_info(c->l, &info)) != CL_OK)
		return cli_fail_lib(c, rc);
	char pub[65];
	cli_hex(pub, info.public_key, 32);
	char *vkey = cl_ledger_verifier_key(c->l);
	if (vkey == NULL)
		return cli_fail(EXIT_INTERNAL, "out of memory");
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "ledger_id", info.ledger_id, "origin", info.origin,
					 "public_key", pub, "verifier_key", vkey));
	} else {
		printf("created ledger %s in %s\n  origin:       %s\n  public key:   %s\n  verifier key: %s\n",
		       info.ledger_id, c->ledger_dir, info.origin, pub, vkey);
	}
	free(vkey);
	return code;
}
