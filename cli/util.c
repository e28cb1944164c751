/* util.c - shared helpers of the CLI: errors and exit codes, opening, JSON and text output,
 * parsing numbers and times, progress on a terminal. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("certledger: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_fail_lib(cli *c, cl_err rc)
{
	const char *msg = c->l ? cl_ledger_error(c->l) : "";
	return cli_fail(cl_err_exit_code(rc), "%s", msg[0] ? msg : cl_err_name(rc));
}

int cli_fail_err(const cl_error *err)
{
	return cli_fail(cl_err_exit_code(err->code), "%s", err->msg[0] ? err->msg : cl_err_name(err->code));
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("certledger: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'certledger %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_open(cli *c, bool read_only)
{
	cl_open_opts o = CL_OPEN_OPTS_INIT;
	cl_error err = CL_ERROR_INIT;
	o.read_only = read_only;
	o.actor = c->as;
	o.actor_key_path = c->key;
	cl_err rc = cl_ledger_open(&c->l, c->ledger_dir, &o, &err);
	if (rc != CL_OK)
		return cli_fail_err(&err);
	return EXIT_OK;
}

const char *cli_bad_option(int argc, char **argv)
{
	static char msg[160];
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (optopt != 0 && optopt != '?')
		snprintf(msg, sizeof(msg), "option '%.100s' needs a value", arg);
	else if (arg[0] == '-')
		snprintf(msg, sizeof(msg), "unknown option '%.100s'", arg);
	else
		snprintf(msg, sizeof(msg), "invalid option");
	return msg;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int cli_help(const char *text)
{
	fputs(text, stdout);
	return EXIT_OK;
}

void cli_print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return true;
}

bool cli_parse_time(const char *s, int64_t *out, bool allow_date, bool *is_date)
{
	int d = 0;
	bool ok = cl_time_parse_text(s, out, allow_date, &d) == CL_OK;
	if (is_date)
		*is_date = d != 0;
	return ok;
}

void cli_time(char out[40], int64_t micros)
{
	cl_time_format_text(out, micros);
}

void cli_hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

char *cli_base64(const uint8_t *in, size_t n)
{
	return cl_base64_text(in, n);
}

static bool progress_shown;

void cli_progress(uint64_t done, uint64_t total, void *label)
{
	if (!isatty(2))
		return;
	if (total > 0)
		fprintf(stderr, "\r%s %llu/%llu (%d%%)", label ? (const char *)label : "", (unsigned long long)done,
			(unsigned long long)total, (int)(done * 100 / total));
	else
		fprintf(stderr, "\r%s %llu", label ? (const char *)label : "", (unsigned long long)done);
	progress_shown = true;
}

void cli_progress_done(void)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
}

/* The object is the library's one definition (cl_event_json_text, also used by export jsonl),
 * so a log line and an export line of the same event are the same text. */
json_t *cli_event_json(const cl_event_info *ev)
{
	char *text = cl_event_json_text(ev, false);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return j;
}

void cli_print_event(cli *c, const cl_event_info *ev)
{
	if (c->json) {
		char *text = cl_event_json_text(ev, false);
		if (text != NULL)
			puts(text);
		free(text);
		return;
	}
	/* Text is for people: long data (a certificate's DER) is cut; --json has all of it. */
	char ts[40];
	cli_time(ts, ev->ts);
	int len = (int)strlen(ev->data_json), max = 240;
	printf("%6llu  %s  %-20s %-12s %.*s%s\n", (unsigned long long)ev->seq, ts, ev->type, ev->actor,
	       len > max ? max : len, ev->data_json, len > max ? "..." : "");
}
