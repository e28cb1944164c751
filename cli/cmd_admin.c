/* cmd_admin.c - `certledger admin add|remove|list`: named admins and their keys. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger admin add NAME --role admin|auditor (--public-key FILE | --generate-key OUT)\n"
	"       certledger admin remove NAME\n"
	"       certledger admin list\n\n"
	"Named admins sign their own changes. Only an owner may add or remove admins; the last owner\n"
	"cannot be removed; names are never reused. auditors may read, verify and export only.\n"
	"  --public-key FILE   the admin's Ed25519 public key (PEM)\n"
	"  --generate-key OUT  make a key pair; the private key is written to OUT (mode 0600)\n"
	"Act as an admin with the global --as NAME --key FILE (or $CERTLEDGER_ADMIN, $CERTLEDGER_KEY).\n\n"
	"prints (--json): name, role, public_key, added_seq (list: also removed_seq, one per line)\n";

static json_t *admin_json(const cl_admin_info *a, bool with_removed)
{
	char pub[65];
	cli_hex(pub, a->public_key, 32);
	json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "name", a->name, "role", a->role, "public_key", pub, "added_seq",
			      (json_int_t)a->added_seq);
	if (with_removed)
		json_object_set_new(j, "removed_seq", a->removed_seq ? json_integer((json_int_t)a->removed_seq) : json_null());
	return j;
}

static int add(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"role", required_argument, NULL, 'r'}, {"public-key", required_argument, NULL, 'p'},
		{"generate-key", required_argument, NULL, 'g'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *role = NULL, *pub = NULL, *gen = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': role = optarg; break;
		case 'p': pub = optarg; break;
		case 'g': gen = optarg; break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("admin", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc)
		return cli_usage("admin", "admin add needs one NAME");
	if (role == NULL)
		return cli_usage("admin", "admin add needs --role admin or --role auditor");
	if (strcmp(role, "admin") != 0 && strcmp(role, "auditor") != 0)
		return cli_usage("admin", "--role must be admin or auditor, not '%s'", role);
	if ((pub == NULL) == (gen == NULL))
		return cli_usage("admin", "give exactly one of --public-key FILE and --generate-key OUT");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	cl_admin_info a;
	cl_err rc = cl_admin_add(c->l, argv[optind], role, pub, gen, &a);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json)
		cli_print_json(admin_json(&a, false));
	else
		printf("added %s '%s' (seq %llu)%s%s\n", a.role, a.name, (unsigned long long)a.added_seq,
		       gen ? "; private key written to " : "", gen ? gen : "");
	return EXIT_OK;
}

static int remove_admin(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	if (argc != 2)
		return cli_usage("admin", "admin remove needs one NAME");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	uint64_t seq = 0;
	cl_err rc = cl_admin_remove(c->l, argv[1], &seq);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json)
		cli_print_json(json_pack("{s:s, s:I}", "name", argv[1], "seq", (json_int_t)seq));
	else
		printf("removed admin '%s' (seq %llu)\n", argv[1], (unsigned long long)seq);
	return EXIT_OK;
}

static int print_admin(const cl_admin_info *a, void *ctx)
{
	cli *c = ctx;
	if (c->json) {
		cli_print_json(admin_json(a, true));
	} else {
		char pub[65];
		cli_hex(pub, a->public_key, 32);
		printf("%-20s %-8s added at seq %-6llu %s%s\n", a->name, a->role, (unsigned long long)a->added_seq, pub,
		       a->removed_seq ? " (removed)" : "");
	}
	return 0;
}

static int list(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	if (argc != 1)
		return cli_usage("admin", "admin list takes no arguments");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_err rc = cl_admin_list(c->l, print_admin, c);
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}

int cmd_admin(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_wants_help(argc, argv) ? cli_help(HELP) : cli_usage("admin", "which action: add, remove or list?");
	if (strcmp(argv[1], "add") == 0)
		return add(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return remove_admin(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return list(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	return cli_usage("admin", "unknown action '%s'", argv[1]);
}
