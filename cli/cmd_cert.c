/* cmd_cert.c - `certledger cert upload|show|list|export|rename|test`. upload, export, rename and
 * test are here; show and list are in cmd_cert_read.c (cmd_cert_show / cmd_cert_list).
 * Passwords never come from argv: --password-file, --password-env, --password-stdin, or a
 * prompt without echo when none is given and stdin is a terminal. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger cert upload FILE [--name NAME] [--password-file F | --password-env VAR | --password-stdin]\n"
	"       certledger cert show FP\n"
	"       certledger cert list [--expiring-within DAYS]\n"
	"       certledger cert export FP [--out F]\n"
	"       certledger cert rename FP NAME\n"
	"       certledger cert test FP\n\n"
	"FP: 64 hex digits, the AB:CD:... form of `openssl x509 -fingerprint -sha256`, or a unique\n"
	"prefix of at least 8 hex digits. Run 'certledger cert ACTION --help' for each action.\n";

static const char UPLOAD_HELP[] =
	"usage: certledger cert upload FILE [--name NAME] [--password-file F | --password-env VAR | --password-stdin]\n\n"
	"Records the certificates of FILE: PKCS#12 (.p12/.pfx/.pkcs12), PEM, DER or PKCS#7 (.pem/.crt/\n"
	".cer/.der/.p7b), recognised by content, at most 1 MiB. A file with a private key (PKCS#12, or\n"
	"PEM with a certificate and its key) gives one cert.uploaded for the key's certificate, with\n"
	"the other certificates of the file as its chain; the key is sealed under the master key. A\n"
	"file without a key gives one cert.uploaded per certificate not yet in the ledger. All in one\n"
	"transaction; a refused file writes nothing (exit 1).\n\n"
	"  --name NAME         display name (default: the subject CN, else the first email); with\n"
	"                      several certificates the k-th is named \"NAME (k)\"\n"
	"  --password-file F   the password is the first line of F (an empty file: empty password)\n"
	"  --password-env VAR  the password is the value of $VAR\n"
	"  --password-stdin    the password is the first line of standard input\n"
	"With none of these, the password is asked for without echo when stdin is a terminal; else\n"
	"the empty and absent passwords are tried. A password is never taken as an argument.\n\n"
	"prints (--json, one object per new certificate): fingerprint, name, kind, has_private_key,\n"
	"subject, issuer, serial, not_before, not_after, emails, key_usage, ext_key_usage, seq\n";

static const char EXPORT_HELP[] =
	"usage: certledger cert export FP [--out F]\n\n"
	"Writes the certificate as PEM (the DER exactly as uploaded) to standard output, or to F.\n";

static const char RENAME_HELP[] =
	"usage: certledger cert rename FP NAME\n\n"
	"Appends cert.renamed: NAME becomes the certificate's display name (1 to 256 bytes of text).\n\n"
	"prints (--json): seq\n";

static const char TEST_HELP[] =
	"usage: certledger cert test FP\n\n"
	"Checks with OpenSSL CMS what the certificate can do: signs and verifies a test message with\n"
	"its sealed private key, encrypts one to it and decrypts it. Without a private key, encrypts\n"
	"and checks the message's structure; the other steps are n/a. Each step is ok, failed or n/a;\n"
	"exits 1 when a step failed.\n\n"
	"prints (--json): sign, verify, encrypt, decrypt\n";

static json_t *strv(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* ---- upload ---------------------------------------------------------------------------------- */

typedef struct upload_out {
	cli *c;
	const char *file;
} upload_out;

static int print_uploaded(const cl_cert_info *ci, bool already_present, void *ctx)
{
	upload_out *u = ctx;
	char fp[65], nb[40], na[40];
	cli_hex(fp, ci->fingerprint, 32);
	if (already_present) {
		fprintf(stderr, "certledger: %s: certificate %s is already in the ledger as '%s' (seq %llu); skipped\n",
			u->file, fp, ci->name, (unsigned long long)ci->seq);
		return 0;
	}
	if (u->c->json) {
		cli_time(nb, ci->not_before);
		cli_time(na, ci->not_after);
		cli_print_json(json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I}", "fingerprint",
					 fp, "name", ci->name, "kind", ci->kind, "has_private_key", ci->has_private_key,
					 "subject", ci->subject, "issuer", ci->issuer, "serial", ci->serial, "not_before",
					 nb, "not_after", na, "emails", strv(ci->emails, ci->nemails), "key_usage",
					 strv(ci->key_usage, ci->nkey_usage), "ext_key_usage",
					 strv(ci->ext_key_usage, ci->next_key_usage), "seq", (json_int_t)ci->seq));
		return 0;
	}
	cli_time(na, ci->not_after);
	printf("uploaded '%s' %s (seq %llu)%s\n", ci->name, fp, (unsigned long long)ci->seq,
	       ci->has_private_key ? ", private key sealed" : "");
	printf("  subject %s, valid until %s\n", ci->subject, na);
	if (ci->nemails > 0) {
		printf("  emails ");
		for (size_t i = 0; i < ci->nemails; i++)
			printf("%s%s", i ? ", " : "", ci->emails[i]);
		printf("\n");
	}
	if (!ci->smime_ok) {
		printf("  not suitable for S/MIME: ");
		for (size_t i = 0; i < ci->nsmime_reasons; i++)
			printf("%s%s", i ? "; " : "", ci->smime_reasons[i]);
		printf("\n");
	}
	return 0;
}

static int upload(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'},         {"password-file", required_argument, NULL, 'f'},
		{"password-env", required_argument, NULL, 'e'}, {"password-stdin", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *arg = NULL;
	cl_password_source src = CL_PASSWORD_NONE;
	int sources = 0, opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': name = optarg; break;
		case 'f': src = CL_PASSWORD_FILE; arg = optarg; sources++; break;
		case 'e': src = CL_PASSWORD_ENV; arg = optarg; sources++; break;
		case 's': src = CL_PASSWORD_STDIN; arg = NULL; sources++; break;
		case 'h': return cli_help(UPLOAD_HELP);
		default: return cli_usage("cert upload", "%s", cli_bad_option(argc, argv));
		}
	}
	if (sources > 1)
		return cli_usage("cert upload", "give at most one of --password-file, --password-env and --password-stdin");
	if (optind + 1 != argc)
		return cli_usage("cert upload", "cert upload needs one FILE");
	const char *file = argv[optind];
	if (src == CL_PASSWORD_NONE && isatty(0))
		src = CL_PASSWORD_PROMPT;
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	upload_out u = {c, file};
	cl_err rc = cl_cert_upload(c->l, file, src, arg, name, print_uploaded, &u);
	if (rc == CL_EPASSWORD && src == CL_PASSWORD_NONE)
		return cli_fail(cl_err_exit_code(rc),
				"wrong password for %s (give --password-file, --password-env or --password-stdin)", file);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	return EXIT_OK;
}

/* ---- export, rename, test ---------------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int export_pem(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'h': return cli_help(EXPORT_HELP);
		default: return cli_usage("cert export", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc)
		return cli_usage("cert export", "cert export needs one FP");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	char *pem = NULL;
	size_t n = 0;
	cl_err rc = cl_cert_export(c->l, argv[optind], &pem, &n);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (out == NULL) {
		fwrite(pem, 1, n, stdout);
		free(pem);
		return EXIT_OK;
	}
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int bad = fd < 0 || write_all(fd, pem, n) != 0;
	int saved = errno;
	if (fd >= 0 && close(fd) != 0)
		bad = 1;
	free(pem);
	if (bad)
		return cli_fail(EXIT_INTERNAL, "cannot write %s: %s", out, strerror(saved));
	return EXIT_OK;
}

static int rename_cert(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(RENAME_HELP);
	if (argc != 3)
		return cli_usage("cert rename", "cert rename needs FP and NAME");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	uint8_t fp[32];
	uint64_t seq = 0;
	cl_err rc = cl_cert_rename(c->l, argv[1], argv[2], fp, &seq);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json) {
		cli_print_json(json_pack("{s:I}", "seq", (json_int_t)seq));
	} else {
		char hex[65];
		cli_hex(hex, fp, 32);
		printf("renamed %s to '%s' (seq %llu)\n", hex, argv[2], (unsigned long long)seq);
	}
	return EXIT_OK;
}

static void print_step(const char *label, const cl_cert_test_step *s)
{
	printf("%-8s %s%s%s\n", label, cl_cert_check_name(s->status), s->reason[0] ? "  " : "", s->reason);
}

static int test_cert(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(TEST_HELP);
	if (argc != 2)
		return cli_usage("cert test", "cert test needs one FP");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_cert_test_result r;
	cl_err rc = cl_cert_test(c->l, argv[1], &r);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "sign", cl_cert_check_name(r.sign.status), "verify",
					 cl_cert_check_name(r.verify.status), "encrypt", cl_cert_check_name(r.encrypt.status),
					 "decrypt", cl_cert_check_name(r.decrypt.status)));
	} else {
		print_step("sign", &r.sign);
		print_step("verify", &r.verify);
		print_step("encrypt", &r.encrypt);
		print_step("decrypt", &r.decrypt);
	}
	const cl_cert_test_step *steps[] = {&r.sign, &r.verify, &r.encrypt, &r.decrypt};
	static const char *const names[] = {"sign", "verify", "encrypt", "decrypt"};
	for (size_t i = 0; i < 4; i++)
		if (steps[i]->status == CL_CERT_CHECK_FAILED)
			return cli_fail(EXIT_REFUSED, "%s: the S/MIME test failed at '%s'", argv[1], names[i]);
	return EXIT_OK;
}

int cmd_cert(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_wants_help(argc, argv) ? cli_help(HELP)
						  : cli_usage("cert", "which action: upload, show, list, export, rename or test?");
	const char *a = argv[1];
	if (strcmp(a, "upload") == 0)
		return upload(c, argc - 1, argv + 1);
	if (strcmp(a, "show") == 0)
		return cmd_cert_show(c, argc - 1, argv + 1);
	if (strcmp(a, "list") == 0)
		return cmd_cert_list(c, argc - 1, argv + 1);
	if (strcmp(a, "export") == 0)
		return export_pem(c, argc - 1, argv + 1);
	if (strcmp(a, "rename") == 0)
		return rename_cert(c, argc - 1, argv + 1);
	if (strcmp(a, "test") == 0)
		return test_cert(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	return cli_usage("cert", "unknown action '%s'", a);
}
