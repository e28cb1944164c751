/* cmd_rebuild.c - `certledger rebuild`: drop and replay every read model. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger rebuild\n\n"
	"Drops every read model (accounts, certificates, links, history, primary timeline, email\n"
	"and expiry indexes) and replays the log from seq 1, checking the hash chain as it goes\n"
	"(signatures are checked by `verify`). The result is identical to the read models kept up to\n"
	"date event by event. While it runs, other commands are refused; if it is interrupted they\n"
	"keep being refused until `rebuild` is run again. Progress is shown on a terminal.\n\n"
	"prints (--json): events, seconds\n";

int cmd_rebuild(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h')
			return cli_help(HELP);
		return cli_usage("rebuild", "%s", cli_bad_option(argc, argv));
	}
	if (optind != argc)
		return cli_usage("rebuild", "unexpected argument '%s'", argv[optind]);
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	cl_rebuild_result r;
	cl_err rc = cl_proj_rebuild(c->l, cli_progress, "rebuilding", &r);
	cli_progress_done();
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	if (c->json)
		cli_print_json(json_pack("{s:I, s:f}", "events", (json_int_t)r.events, "seconds", r.seconds));
	else
		printf("rebuilt the read models from %llu events in %.3f s\n", (unsigned long long)r.events, r.seconds);
	return EXIT_OK;
}
