/* main.c - the certledger command: global options, dispatch to the subcommands, exit codes.
 *
 * Global options may stand before or after the command name: --ledger DIR (else
 * $CERTLEDGER_DIR, else ./certledger-data), --json, --as NAME and --key FILE (else
 * $CERTLEDGER_ADMIN and $CERTLEDGER_KEY). They are taken out of argv before the command parses
 * its own options.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct command {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
} command;

static const command commands[] = {
	{"init", cmd_init, "create a new ledger"},
	{"admin", cmd_admin, "add, remove and list named admins"},
	{"account", cmd_account, "create, show and list email accounts"},
	{"cert", cmd_cert, "upload, show, list, export, rename and test certificates"},
	{"keys", cmd_keys, "rotate the master key that wraps sealed private keys"},
	{"link", cmd_link, "link a certificate to an account"},
	{"unlink", cmd_unlink, "unlink a certificate from an account"},
	{"primary", cmd_primary, "set, clear and show an account's primary certificate"},
	{"history", cmd_history, "every event of an account, a certificate or an actor"},
	{"rebuild", cmd_rebuild, "drop and replay every read model"},
	{"import", cmd_import, "bulk requests from a JSON Lines file"},
	{"log", cmd_log, "print the raw events"},
	{"verify", cmd_verify, "check signatures, chain, authority and Merkle tree"},
	{"checkpoint", cmd_checkpoint, "sign and print the latest checkpoint"},
	{"proof", cmd_proof, "RFC 9162 inclusion and consistency proofs"},
	{"export", cmd_export, "export events (jsonl, csv, timeline) or an evidence bundle"},
	{"verify-bundle", cmd_verify_bundle, "check an evidence bundle offline, with no ledger"},
	{"webhook", cmd_webhook, "webhook subscriptions and their delivery"},
	{"replay", cmd_replay, "every account as it stood at an instant, from the log alone"},
};

static void usage(FILE *f)
{
	fputs("usage: certledger [--ledger DIR] [--json] [--as NAME --key FILE] COMMAND [ARGS...]\n\n"
	      "An S/MIME certificate registry kept as a signed, event-sourced audit ledger.\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fputs("\nglobal options:\n"
	      "  --ledger DIR   the ledger directory (default $CERTLEDGER_DIR, else ./certledger-data)\n"
	      "  --json         machine-readable output (JSON; one object per line for lists)\n"
	      "  --as NAME      act as this admin (default $CERTLEDGER_ADMIN, else the owner made by init)\n"
	      "  --key FILE     that admin's private key (default $CERTLEDGER_KEY, else DIR/keys/NAME.key)\n"
	      "  --version      print the version\n\n"
	      "exit codes: 0 ok, 1 refused (nothing written), 2 usage, 3 not found, 4 integrity failure,\n"
	      "            5 internal or environment error\n"
	      "Run 'certledger COMMAND --help' for a command's options.\n",
	      f);
}

/* Takes a global option (with its value) out of argv; returns 1 if taken, -1 on error. */
static int take_global(cli *c, int *argc, char **argv, int i)
{
	static const struct { const char *name; int off; } valued[] = {
		{"--ledger", offsetof(cli, ledger_dir)}, {"--as", offsetof(cli, as)}, {"--key", offsetof(cli, key)},
	};
	const char *a = argv[i];
	int used = 0;
	if (strcmp(a, "--json") == 0) {
		c->json = true;
		used = 1;
	}
	for (size_t k = 0; k < 3 && !used; k++) {
		size_t n = strlen(valued[k].name);
		const char **slot = (const char **)((char *)c + valued[k].off);
		if (strcmp(a, valued[k].name) == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "certledger: %s needs a value\n", a);
				return -1;
			}
			*slot = argv[i + 1];
			used = 2;
		} else if (strncmp(a, valued[k].name, n) == 0 && a[n] == '=') {
			*slot = a + n + 1;
			used = 1;
		}
	}
	if (used) {
		memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof(char *));
		*argc -= used;
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* First, before anything uses OpenSSL: have it wipe every block it frees (OpenSSL 3.0 frees
	 * some password and key copies unwiped). */
	(void)cl_secrets_wipe_on_free();
	cli c = {0};
	opterr = 0; /* the commands report a refused option themselves, as "certledger: ..." */
	c.ledger_dir = getenv("CERTLEDGER_DIR");
	c.as = getenv("CERTLEDGER_ADMIN");
	c.key = getenv("CERTLEDGER_KEY");
	for (int i = 1; i < argc;) {
		if (strcmp(argv[i], "--") == 0)
			break;
		int r = take_global(&c, &argc, argv, i);
		if (r < 0)
			return EXIT_USAGE;
		if (r == 0)
			i++;
	}
	if (c.ledger_dir == NULL || c.ledger_dir[0] == '\0')
		c.ledger_dir = "./certledger-data";
	if (c.as != NULL && c.as[0] == '\0')
		c.as = NULL;
	if (c.key != NULL && c.key[0] == '\0')
		c.key = NULL;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("certledger %s\n", CERTLEDGER_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			int code = commands[i].fn(&c, argc - 1, argv + 1);
			cl_ledger_free(c.l);
			fflush(stdout);
			if (ferror(stdout) && code == EXIT_OK)
				return cli_fail(EXIT_INTERNAL, "cannot write to standard output");
			return code;
		}
	}
	fprintf(stderr, "certledger: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
