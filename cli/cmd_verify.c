/* cmd_verify.c - `certledger verify`: check the whole ledger; exit 4 naming the first bad seq. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger verify [--from SEQ]\n\n"
	"Checks every event: strict decoding, seq continuity, the hash chain, ts order, that its\n"
	"signer was allowed to sign it at that seq, every Ed25519 signature (on all cores), the\n"
	"Merkle tree against every signed checkpoint, and the head record. With --from, signatures\n"
	"are checked from that seq on (the chain is always walked in full).\n\n"
	"prints (--json): ok, events, head, and on failure bad_seq, reason. Exit 4 on failure.\n";

int cmd_verify(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	uint64_t from = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!cli_parse_u64(optarg, &from) || from == 0)
				return cli_usage("verify", "--from needs a seq (1 or more), not '%s'", optarg);
			break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("verify", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind != argc)
		return cli_usage("verify", "unexpected argument '%s'", argv[optind]);
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_verify_result r;
	cl_err rc = cl_ledger_verify(c->l, from, &r, cli_progress, "verifying");
	cli_progress_done();
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json) {
		json_t *j = json_pack("{s:b, s:I, s:I}", "ok", r.ok, "events", (json_int_t)r.events, "head",
				      (json_int_t)r.head);
		if (!r.ok) {
			json_object_set_new(j, "bad_seq", r.bad_seq ? json_integer((json_int_t)r.bad_seq) : json_null());
			json_object_set_new(j, "reason", json_string(r.reason));
		}
		cli_print_json(j);
	} else if (r.ok) {
		printf("ok: %llu events verified, head seq %llu\n", (unsigned long long)r.events,
		       (unsigned long long)r.head);
	}
	if (!r.ok) {
		if (r.bad_seq)
			cli_fail(EXIT_INTEGRITY, "verification failed at seq %llu: %s", (unsigned long long)r.bad_seq,
				 r.reason);
		else
			cli_fail(EXIT_INTEGRITY, "verification failed: %s", r.reason);
		return EXIT_INTEGRITY;
	}
	return EXIT_OK;
}
