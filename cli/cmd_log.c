/* cmd_log.c - `certledger log`: the raw events, by seq range and time window. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger log [--from SEQ] [--to SEQ] [--since TIME] [--until TIME]\n\n"
	"Prints the events of the log, oldest first. TIME is RFC 3339 (2026-03-01T09:30:00Z) or a\n"
	"date (2026-03-01, meaning the start of that UTC day); --until is exclusive.\n\n"
	"prints (--json, one object per line): seq, ts, type, actor, id, data\n";

static int print_cb(const cl_event_info *ev, void *ctx)
{
	cli_print_event(ctx, ev);
	return 0;
}

int cmd_log(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
		{"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	cl_log_filter f = CL_LOG_FILTER_ALL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!cli_parse_u64(optarg, &f.from_seq) || f.from_seq == 0)
				return cli_usage("log", "--from needs a seq (1 or more), not '%s'", optarg);
			break;
		case 't':
			if (!cli_parse_u64(optarg, &f.to_seq) || f.to_seq == 0)
				return cli_usage("log", "--to needs a seq (1 or more), not '%s'", optarg);
			break;
		case 's':
			if (!cli_parse_time(optarg, &f.since, true, NULL))
				return cli_usage("log", "--since needs an RFC 3339 time or a date, not '%s'", optarg);
			break;
		case 'u':
			if (!cli_parse_time(optarg, &f.until, true, NULL))
				return cli_usage("log", "--until needs an RFC 3339 time or a date, not '%s'", optarg);
			break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("log", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind != argc)
		return cli_usage("log", "unexpected argument '%s'", argv[optind]);
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	cl_err rc = cl_log_each(c->l, &f, print_cb, c);
	return rc == CL_OK ? EXIT_OK : cli_fail_lib(c, rc);
}
