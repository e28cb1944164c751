/* cmd_cert_read.c - `certledger cert show FP` and `certledger cert list [--expiring-within DAYS]`,
 * called by the `cert` command group (cmd_cert.c) as cmd_cert_show / cmd_cert_list with argv
 * starting at "show" / "list". */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char SHOW_HELP[] =
	"usage: certledger cert show FP\n\n"
	"The certificate's metadata as recorded at upload, its current name and the accounts it is\n"
	"linked to. FP: 64 hex digits, the AB:CD:... form, or a unique prefix of at least 8 hex\n"
	"digits (an ambiguous prefix is refused, listing the matches). Exit 3 when there is none.\n\n"
	"prints (--json): fingerprint, name, kind, has_private_key, subject, issuer, serial,\n"
	"not_before, not_after, emails, key_usage, ext_key_usage, seq, uploaded_at, accounts\n";

static const char LIST_HELP[] =
	"usage: certledger cert list [--expiring-within DAYS]\n\n"
	"Every certificate, in fingerprint order; with --expiring-within, only those whose notAfter\n"
	"is between now and DAYS days from now, soonest first (expired ones are not listed).\n\n"
	"prints (--json, one object per line): the fields of `cert show`\n";

static json_t *strv(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *cli_cert_json(const cl_cert_info *ci)
{
	char fp[65], nb[40], na[40], up[40];
	cli_hex(fp, ci->fingerprint, 32);
	cli_time(nb, ci->not_before);
	cli_time(na, ci->not_after);
	cli_time(up, ci->uploaded_at);
	return json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:s, s:o}", "fingerprint", fp,
			 "name", ci->name, "kind", ci->kind, "has_private_key", ci->has_private_key, "subject", ci->subject,
			 "issuer", ci->issuer, "serial", ci->serial, "not_before", nb, "not_after", na, "emails",
			 strv(ci->emails, ci->nemails), "key_usage", strv(ci->key_usage, ci->nkey_usage), "ext_key_usage",
			 strv(ci->ext_key_usage, ci->next_key_usage), "seq", (json_int_t)ci->seq, "uploaded_at", up,
			 "accounts", strv(ci->accounts, ci->naccounts));
}

static void print_list(const char *label, const char *const *v, size_t n)
{
	printf("%-16s", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", v[i]);
	printf("%s\n", n ? "" : "none");
}

static void print_cert(cli *c, const cl_cert_info *ci, bool brief)
{
	char fp[65], nb[40], na[40], up[40];
	if (c->json) {
		cli_print_json(cli_cert_json(ci));
		return;
	}
	cli_hex(fp, ci->fingerprint, 32);
	cli_time(na, ci->not_after);
	if (brief) {
		printf("%s  %s  %-4s %s  %s  accounts: %zu\n", fp, na, ci->kind, ci->has_private_key ? "key   " : "no-key",
		       ci->name, ci->naccounts);
		return;
	}
	cli_time(nb, ci->not_before);
	cli_time(up, ci->uploaded_at);
	printf("fingerprint:    %s\nname:           %s\nkind:           %s\nprivate key:    %s\n"
	       "subject:        %s\nissuer:         %s\nserial:         %s\nnot before:     %s\nnot after:      %s\n",
	       fp, ci->name, ci->kind, ci->has_private_key ? "held (sealed)" : "none", ci->subject, ci->issuer,
	       ci->serial, nb, na);
	print_list("emails:", ci->emails, ci->nemails);
	print_list("key usage:", ci->key_usage, ci->nkey_usage);
	print_list("ext key usage:", ci->ext_key_usage, ci->next_key_usage);
	printf("key:            %s %llu bits, signed with %s\nS/MIME:         %s\n", ci->key_type,
	       (unsigned long long)ci->key_bits, ci->sig_hash, ci->smime_ok ? "suitable" : "not suitable");
	if (!ci->smime_ok)
		print_list("  because:", ci->smime_reasons, ci->nsmime_reasons);
	printf("uploaded:       %s (seq %llu)\n", up, (unsigned long long)ci->seq);
	print_list("accounts:", ci->accounts, ci->naccounts);
}

int cmd_cert_show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h')
			return cli_help(SHOW_HELP);
		return cli_usage("cert", "%s", cli_bad_option(argc, argv));
	}
	if (optind + 1 != argc)
		return cli_usage("cert", "cert show needs one FP");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_cert_info ci;
	cl_err rc = cl_proj_cert_get(c->l, argv[optind], &ci);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	print_cert(c, &ci, false);
	cl_cert_info_free(&ci);
	return EXIT_OK;
}

static int list_cb(const cl_cert_info *ci, void *ctx)
{
	print_cert(ctx, ci, true);
	return 0;
}

int cmd_cert_list(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"expiring-within", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	uint64_t days = 0;
	bool expiring = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			if (!cli_parse_u64(optarg, &days) || days > 100000)
				return cli_usage("cert", "--expiring-within needs a number of days (0 to 100000), not '%s'",
						 optarg);
			expiring = true;
			break;
		case 'h': return cli_help(LIST_HELP);
		default: return cli_usage("cert", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind != argc)
		return cli_usage("cert", "unexpected argument '%s'", argv[optind]);
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_err rc = expiring ? cl_proj_cert_expiring(c->l, (int64_t)days * INT64_C(86400000000), list_cb, c)
			     : cl_proj_cert_each(c->l, list_cb, c);
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}
