/* cmd_checkpoint.c - `certledger checkpoint` and `certledger proof inclusion|consistency`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char CP_HELP[] =
	"usage: certledger checkpoint\n\n"
	"Signs a checkpoint of the Merkle tree if the log grew since the latest one (never one that\n"
	"contradicts an earlier checkpoint) and prints the latest checkpoint as a C2SP signed note.\n\n"
	"prints (--json): size, root (base64), note\n";

static const char PROOF_HELP[] =
	"usage: certledger proof inclusion SEQ [--size N]\n"
	"       certledger proof consistency OLD NEW\n\n"
	"RFC 9162 proofs. inclusion: that event SEQ is leaf SEQ-1 of the tree of size N (default:\n"
	"the latest checkpoint). consistency: that the tree of size OLD is a prefix of the tree of\n"
	"size NEW.\n\n"
	"prints (--json): inclusion: leaf_index, size, leaf_hash, hashes; consistency: old, new, hashes\n"
	"(hashes in base64, in RFC 9162 order)\n";

int cmd_checkpoint(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv))
		return cli_help(CP_HELP);
	if (argc != 1)
		return cli_usage("checkpoint", "checkpoint takes no arguments");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	uint64_t size;
	uint8_t root[32];
	char *note = NULL;
	cl_err rc = cl_ledger_checkpoint(c->l, &size, root, &note);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	char *r64 = cli_base64(root, 32);
	if (c->json)
		cli_print_json(json_pack("{s:I, s:s, s:s}", "size", (json_int_t)size, "root", r64 ? r64 : "", "note", note));
	else
		fputs(note, stdout);
	free(r64);
	free(note);
	return EXIT_OK;
}

static json_t *hashes_json(const uint8_t *h, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char *b = cli_base64(h + 32 * i, 32);
		json_array_append_new(a, json_string(b ? b : ""));
		free(b);
	}
	return a;
}

static void print_hashes_text(const uint8_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *b = cli_base64(h + 32 * i, 32);
		printf("  %s\n", b ? b : "");
		free(b);
	}
}

static int inclusion(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"size", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	uint64_t seq, size = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 's') {
			if (!cli_parse_u64(optarg, &size) || size == 0)
				return cli_usage("proof", "--size needs a tree size (1 or more), not '%s'", optarg);
		} else if (opt == 'h') {
			return cli_help(PROOF_HELP);
		} else {
			return cli_usage("proof", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + 1 != argc || !cli_parse_u64(argv[optind], &seq) || seq == 0)
		return cli_usage("proof", "proof inclusion needs one SEQ (1 or more)");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	uint8_t leaf[32], *hashes = NULL;
	size_t n = 0;
	uint64_t used;
	cl_err rc = cl_ledger_inclusion_proof(c->l, seq, size, leaf, &used, &hashes, &n);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	char *l64 = cli_base64(leaf, 32);
	if (c->json) {
		cli_print_json(json_pack("{s:I, s:I, s:s, s:o}", "leaf_index", (json_int_t)(seq - 1), "size",
					 (json_int_t)used, "leaf_hash", l64 ? l64 : "", "hashes", hashes_json(hashes, n)));
	} else {
		printf("leaf index %llu in a tree of size %llu\nleaf hash %s\nhashes:\n", (unsigned long long)(seq - 1),
		       (unsigned long long)used, l64 ? l64 : "");
		print_hashes_text(hashes, n);
	}
	free(l64);
	free(hashes);
	return EXIT_OK;
}

static int consistency(cli *c, int argc, char **argv)
{
	uint64_t old_size, new_size;
	if (argc != 3 || !cli_parse_u64(argv[1], &old_size) || !cli_parse_u64(argv[2], &new_size) || old_size == 0 ||
	    new_size < old_size)
		return cli_usage("proof", "proof consistency needs OLD and NEW sizes with 1 <= OLD <= NEW");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	uint8_t *hashes = NULL;
	size_t n = 0;
	cl_err rc = cl_ledger_consistency_proof(c->l, old_size, new_size, &hashes, &n);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json) {
		cli_print_json(json_pack("{s:I, s:I, s:o}", "old", (json_int_t)old_size, "new", (json_int_t)new_size,
					 "hashes", hashes_json(hashes, n)));
	} else {
		printf("consistency of size %llu with size %llu\nhashes:\n", (unsigned long long)old_size,
		       (unsigned long long)new_size);
		print_hashes_text(hashes, n);
	}
	free(hashes);
	return EXIT_OK;
}

int cmd_proof(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_wants_help(argc, argv) ? cli_help(PROOF_HELP) : cli_usage("proof", "which proof: inclusion or consistency?");
	if (strcmp(argv[1], "inclusion") == 0)
		return inclusion(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "consistency") == 0)
		return cli_wants_help(argc - 1, argv + 1) ? cli_help(PROOF_HELP) : consistency(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv))
		return cli_help(PROOF_HELP);
	return cli_usage("proof", "unknown proof '%s' (inclusion or consistency)", argv[1]);
}
