/* cmd_link.c - `certledger link EMAIL FP` and `certledger unlink EMAIL FP [--reason TEXT]`. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char LINK_HELP[] =
	"usage: certledger link EMAIL FP\n\n"
	"Links the certificate FP to the account EMAIL (cert.linked). Both must exist (exit 3\n"
	"otherwise); linking a certificate that is already linked to the account is refused (exit 1).\n"
	"FP is the SHA-256 fingerprint: 64 hex digits, the AB:CD:... form that\n"
	"`openssl x509 -fingerprint -sha256` prints, or a unique prefix of at least 8 hex digits.\n\n"
	"prints (--json): seq\n";

static const char UNLINK_HELP[] =
	"usage: certledger unlink EMAIL FP [--reason TEXT]\n\n"
	"Unlinks the certificate FP from the account EMAIL (cert.unlinked, with the reason). When\n"
	"FP is the account's primary, the primary is cleared too: cert.unlinked and then\n"
	"primary.cleared, in one transaction. A certificate that is not linked is refused (exit 1).\n\n"
	"prints (--json): seq (of cert.unlinked), primary_cleared_seq (or null)\n";

static int run(cli *c, int argc, char **argv, bool unlink)
{
	static const struct option link_opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	static const struct option unlink_opts[] = {
		{"reason", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *cmd = unlink ? "unlink" : "link", *reason = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", unlink ? unlink_opts : link_opts, NULL)) != -1) {
		switch (opt) {
		case 'r': reason = optarg; break;
		case 'h': return cli_help(unlink ? UNLINK_HELP : LINK_HELP);
		default: return cli_usage(cmd, "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 2 != argc)
		return cli_usage(cmd, "%s needs EMAIL and FP", cmd);
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	cl_change ch;
	cl_err rc = unlink ? cl_account_unlink(c->l, argv[optind], argv[optind + 1], reason, &ch)
			   : cl_account_link(c->l, argv[optind], argv[optind + 1], &ch);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	char fp[65];
	cli_hex(fp, ch.fingerprint, 32);
	if (c->json) {
		json_t *j = json_pack("{s:I}", "seq", (json_int_t)ch.seq);
		if (unlink)
			json_object_set_new(j, "primary_cleared_seq",
					    ch.cleared_seq ? json_integer((json_int_t)ch.cleared_seq) : json_null());
		cli_print_json(j);
	} else if (unlink) {
		printf("unlinked %s from %s (seq %llu)\n", fp, ch.email, (unsigned long long)ch.seq);
		if (ch.cleared_seq)
			printf("it was the primary: primary cleared (seq %llu)\n", (unsigned long long)ch.cleared_seq);
	} else {
		printf("linked %s to %s (seq %llu)\n", fp, ch.email, (unsigned long long)ch.seq);
	}
	return EXIT_OK;
}

int cmd_link(cli *c, int argc, char **argv)
{
	return run(c, argc, argv, false);
}

int cmd_unlink(cli *c, int argc, char **argv)
{
	return run(c, argc, argv, true);
}
