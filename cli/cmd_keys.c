/* cmd_keys.c - `certledger keys rotate-master`: a new master key for the sealed private keys and
 * webhook secrets; the log does not change. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger keys rotate-master\n\n"
	"Generates a new master key, re-wraps every sealed private key and webhook secret under it in\n"
	"one transaction, then replaces the master key file (beside it as FILE.new until then). The\n"
	"log is unchanged. If it is interrupted after the re-wrap, sealed keys keep opening, and the\n"
	"next rotate-master completes the replacement first. Owners and admins only.\n\n"
	"prints (--json): rewrapped\n";

static int rotate(cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cli_usage("keys", "keys rotate-master takes no arguments");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	size_t n = 0;
	cl_err rc = cl_keys_rotate_master(c->l, &n);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json)
		cli_print_json(json_pack("{s:I}", "rewrapped", (json_int_t)n));
	else
		printf("re-wrapped %zu sealed key%s under a new master key\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

int cmd_keys(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	if (argc < 2)
		return cli_usage("keys", "which action: rotate-master?");
	if (strcmp(argv[1], "rotate-master") == 0)
		return rotate(c, argc - 1, argv + 1);
	return cli_usage("keys", "unknown action '%s'", argv[1]);
}
