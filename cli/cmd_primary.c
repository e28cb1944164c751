/* cmd_primary.c - `certledger primary set|clear|show`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
	"usage: certledger primary set EMAIL FP [--force]\n"
	"       certledger primary clear EMAIL\n"
	"       certledger primary show EMAIL [--at TIME | --on DATE]\n\n"
	"set: makes the linked certificate FP the account's primary (primary.set). Refused (exit 1)\n"
	"when FP is not linked to the account, is already its primary, or, for an internal account,\n"
	"has no private key. Also refused, unless --force, when the certificate does not carry the\n"
	"account's address or is expired or not yet valid; --force is recorded in the event with the\n"
	"rules it overrode.\n"
	"  prints (--json): seq, forced, overridden\n"
	"clear: clears the primary (primary.cleared); refused when there is none.\n"
	"  prints (--json): seq\n"
	"show: the primary now, at the instant TIME (RFC 3339; a change recorded at exactly TIME is\n"
	"in force at TIME), or every certificate that was primary at any moment of the UTC day DATE\n"
	"(YYYY-MM-DD), each with the interval it held it, clipped to that day (and to now): from is\n"
	"inclusive, to exclusive.\n"
	"  prints (--json): email, at, fingerprint (or null); with --on: email, on, intervals:\n"
	"  [{fingerprint, from, to}]\n";

static int set_or_clear(cli *c, int argc, char **argv, bool clear)
{
	static const struct option set_opts[] = {
		{"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	static const struct option clear_opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	bool force = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", clear ? clear_opts : set_opts, NULL)) != -1) {
		switch (opt) {
		case 'f': force = true; break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("primary", "%s", cli_bad_option(argc, argv));
		}
	}
	if (optind + (clear ? 1 : 2) != argc)
		return cli_usage("primary", clear ? "primary clear needs EMAIL" : "primary set needs EMAIL and FP");
	int code = cli_open(c, false);
	if (code != EXIT_OK)
		return code;
	cl_change ch;
	cl_err rc = clear ? cl_primary_clear(c->l, argv[optind], &ch)
			  : cl_primary_set(c->l, argv[optind], argv[optind + 1], force, &ch);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	char fp[65];
	cli_hex(fp, ch.fingerprint, 32);
	if (c->json) {
		json_t *j = json_pack("{s:I}", "seq", (json_int_t)ch.seq);
		if (!clear) {
			json_t *ov = json_array();
			for (unsigned bit = 1; bit <= CL_OVERRIDE_NOT_YET_VALID; bit <<= 1)
				if (ch.overridden & bit)
					json_array_append_new(ov, json_string(cl_override_name(bit)));
			json_object_set_new(j, "forced", json_boolean(ch.forced));
			json_object_set_new(j, "overridden", ov);
		}
		cli_print_json(j);
		return EXIT_OK;
	}
	if (clear) {
		printf("cleared the primary of %s (was %s; seq %llu)\n", ch.email, fp, (unsigned long long)ch.seq);
		return EXIT_OK;
	}
	printf("primary of %s is now %s (seq %llu)\n", ch.email, fp, (unsigned long long)ch.seq);
	for (unsigned bit = 1; bit <= CL_OVERRIDE_NOT_YET_VALID; bit <<= 1)
		if (ch.overridden & bit)
			printf("forced: overrode %s\n", cl_override_name(bit));
	return EXIT_OK;
}

static int show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"at", required_argument, NULL, 'a'}, {"on", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int64_t at = CL_AT_NOW, day = 0;
	bool on = false, is_date = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			if (!cli_parse_time(optarg, &at, false, NULL))
				return cli_usage("primary", "--at needs an RFC 3339 instant (2026-03-01T09:30:00Z), not '%s'",
						 optarg);
			break;
		case 'o':
			if (!cli_parse_time(optarg, &day, true, &is_date) || !is_date)
				return cli_usage("primary", "--on needs a date (YYYY-MM-DD), not '%s'", optarg);
			on = true;
			break;
		case 'h': return cli_help(HELP);
		default: return cli_usage("primary", "%s", cli_bad_option(argc, argv));
		}
	}
	if (on && at != CL_AT_NOW)
		return cli_usage("primary", "give --at or --on, not both");
	if (optind + 1 != argc)
		return cli_usage("primary", "primary show needs one EMAIL");
	int code = cli_open(c, true);
	if (code != EXIT_OK)
		return code;
	char fp[65], t1[40], t2[40];
	if (!on) {
		cl_primary_info p;
		cl_err rc = cl_proj_primary_at(c->l, argv[optind], at, &p);
		if (rc != CL_OK)
			return cli_fail_lib(c, rc);
		cli_time(t1, p.at);
		if (p.has_primary)
			cli_hex(fp, p.fingerprint, 32);
		if (c->json)
			cli_print_json(json_pack("{s:s, s:s, s:o}", "email", p.email, "at", t1, "fingerprint",
						 p.has_primary ? json_string(fp) : json_null()));
		else
			printf("%s at %s: %s\n", p.email, t1, p.has_primary ? fp : "no primary");
		return EXIT_OK;
	}
	cl_primary_day pd;
	cl_err rc = cl_proj_primary_on(c->l, argv[optind], day, &pd);
	if (rc != CL_OK)
		return cli_fail_lib(c, rc);
	char date[11];
	cli_time(t1, pd.day);
	memcpy(date, t1, 10);
	date[10] = '\0';
	if (c->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < pd.n; i++) {
			cli_hex(fp, pd.intervals[i].fingerprint, 32);
			cli_time(t1, pd.intervals[i].from);
			cli_time(t2, pd.intervals[i].to);
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "fingerprint", fp, "from", t1, "to", t2));
		}
		cli_print_json(json_pack("{s:s, s:s, s:o}", "email", pd.email, "on", date, "intervals", arr));
	} else {
		printf("%s on %s: %s\n", pd.email, date, pd.n ? "" : "no primary");
		for (size_t i = 0; i < pd.n; i++) {
			cli_hex(fp, pd.intervals[i].fingerprint, 32);
			cli_time(t1, pd.intervals[i].from);
			cli_time(t2, pd.intervals[i].to);
			printf("  %s  from %s  to %s\n", fp, t1, t2);
		}
	}
	cl_primary_day_free(&pd);
	return EXIT_OK;
}

int cmd_primary(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_wants_help(argc, argv) ? cli_help(HELP) : cli_usage("primary", "which action: set, clear or show?");
	if (strcmp(argv[1], "set") == 0)
		return set_or_clear(c, argc - 1, argv + 1, false);
	if (strcmp(argv[1], "clear") == 0)
		return set_or_clear(c, argc - 1, argv + 1, true);
	if (strcmp(argv[1], "show") == 0)
		return show(c, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv))
		return cli_help(HELP);
	return cli_usage("primary", "unknown action '%s'", argv[1]);
}
