/* cmd_verify_bundle.c - `certledger verify-bundle FILE`: checks an evidence bundle offline, with
 * no ledger; prints what `verify` prints and exits 4 naming the first fault. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger verify-bundle FILE [--public-key HEX]\n\n"
	"Checks an evidence bundle made by `export bundle` (docs/evidence.md) without any ledger:\n"
	"strict decoding, the hash chain inside the range, that every signer was allowed to sign\n"
	"(the ledger's own rules, over the admin.added/admin.removed events the bundle carries with\n"
	"their proofs), every Ed25519 signature (on all cores), every inclusion proof against the\n"
	"checkpoint, the checkpoint's signature by the ledger key under its origin, and the\n"
	"consistency proof from an earlier checkpoint when the bundle has one. FILE - reads\n"
	"standard input.\n\n"
	"  --public-key HEX  the ledger key you expect (64 hex digits, as `init` printed it); without\n"
	"                    it the bundle is checked against the key it names, so compare that key\n"
	"                    (printed on success) with the one the organisation published.\n\n"
	"prints (--json): ok, events, head, on failure bad_seq, reason; also first_seq, tree_size,\n"
	"origin, public_key and old_size (the checkpoint proven consistent, when there is one).\n"
	"Exit 4 on failure.\n";

static bool parse_hex32(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = s[2 * i + (size_t)k];
			unsigned d = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0')
				   : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
				   : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
							    : 16u;
			if (d > 15)
				return false;
			v = v * 16 + d;
		}
		out[i] = (uint8_t)v;
	}
	return true;
}

int cmd_verify_bundle(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"public-key", required_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	cl_bundle_verify_opts o = CL_BUNDLE_VERIFY_OPTS_INIT;
	uint8_t pin[32];
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (!parse_hex32(optarg, pin))
				return cli_usage("verify-bundle", "--public-key needs 64 hex digits, not '%s'", optarg);
			o.public_key = pin;
			break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("verify-bundle", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc)
		return cli_usage("verify-bundle", "verify-bundle needs one FILE");
	const char *path = argv[optind];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return cli_fail(errno == ENOENT ? EXIT_NOTFOUND : EXIT_INTERNAL, "cannot open %s: %s", path, strerror(errno));
	o.progress = cli_progress;
	o.progress_ctx = "verifying";
	cl_bundle_result r;
	cl_error err = CL_ERROR_INIT;
	cl_err rc = cl_bundle_verify(f, &o, &r, &err);
	cli_progress_done();
	if (f != stdin)
		fclose(f);
	if (rc != CL_OK)
		return cli_fail_err(&err);
	char key[65];
	cli_hex(key, r.public_key, 32);
	if (c->json) {
		json_t *j = json_pack("{s:b, s:I, s:I}", "ok", r.ok, "events", (json_int_t)r.events, "head",
				      (json_int_t)r.head);
		if (!r.ok) {
			json_object_set_new(j, "bad_seq", r.bad_seq ? json_integer((json_int_t)r.bad_seq) : json_null());
			json_object_set_new(j, "reason", json_string(r.reason));
		}
		json_object_set_new(j, "first_seq", json_integer((json_int_t)r.first_seq));
		json_object_set_new(j, "tree_size", json_integer((json_int_t)r.tree_size));
		json_object_set_new(j, "origin", json_string(r.origin));
		json_object_set_new(j, "public_key", json_string(key));
		json_object_set_new(j, "old_size", r.old_size ? json_integer((json_int_t)r.old_size) : json_null());
		cli_print_json(j);
	} else if (r.ok) {
		if (r.events)
			printf("ok: %llu events (seq %llu..%llu) verified", (unsigned long long)r.events,
			       (unsigned long long)r.first_seq, (unsigned long long)r.head);
		else
			printf("ok: no events in the range");
		printf(" against the checkpoint of %llu events of %s", (unsigned long long)r.tree_size, r.origin);
		if (r.old_size)
			printf(", which extends the checkpoint of %llu events", (unsigned long long)r.old_size);
		printf("\nledger key %s%s\n", key, o.public_key ? " (as expected)" : "");
	}
	if (!r.ok) {
		if (r.bad_seq)
			cli_fail(EXIT_INTEGRITY, "bundle verification failed at seq %llu: %s", (unsigned long long)r.bad_seq,
				 r.reason);
		else
			cli_fail(EXIT_INTEGRITY, "bundle verification failed: %s", r.reason);
		return EXIT_INTEGRITY;
	}
	return EXIT_OK;
}
