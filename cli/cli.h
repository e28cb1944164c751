/* cli.h - what the subcommands of the `certledger` command share: the global options, opening
 * the ledger, printing (text or JSON), errors and exit codes (CLI.md). The CLI uses only the
 * public API in include/certledger/. */
#ifndef CL_CLI_H
#define CL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "certledger/certledger.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_NOTFOUND = 3, EXIT_INTEGRITY = 4, EXIT_INTERNAL = 5 };

typedef struct cli {
	const char *ledger_dir;
	bool json;
	const char *as;  /* --as / $CERTLEDGER_ADMIN */
	const char *key; /* --key / $CERTLEDGER_KEY */
	cl_ledger *l;
} cli;

typedef int (*cli_cmd_fn)(cli *c, int argc, char **argv);

/* Prints "certledger: <message>" on stderr and returns the exit code for code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a library error: the handle's (or err's) message and cl_err_exit_code. */
int cli_fail_lib(cli *c, cl_err rc);
int cli_fail_err(const cl_error *err);
/* Usage error: prints the message and a pointer to --help, returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens the ledger for this command (read_only: no admin key is needed). Returns an exit code
 * (0 when open). */
int cli_open(cli *c, bool read_only);

/* "unknown option '--x'" or "option '--x' needs a value", for the option getopt_long just
 * refused (main sets opterr = 0 so that getopt prints nothing itself). Static storage. */
const char *cli_bad_option(int argc, char **argv);

/* True when argv holds -h or --help before a "--". */
bool cli_wants_help(int argc, char **argv);
int cli_help(const char *text);

/* Prints a JSON value as one line on stdout and frees it. */
void cli_print_json(json_t *j);

/* Parses a positive decimal integer (no sign, no leading junk). */
bool cli_parse_u64(const char *s, uint64_t *out);
/* Parses an RFC 3339 instant or (allow_date) a bare date. */
bool cli_parse_time(const char *s, int64_t *out, bool allow_date, bool *is_date);

/* Formats micros as RFC 3339 UTC with microseconds into a static-sized buffer. */
void cli_time(char out[40], int64_t micros);
void cli_hex(char *out, const uint8_t *in, size_t n);
char *cli_base64(const uint8_t *in, size_t n); /* malloc'd */

/* A progress line on stderr when it is a terminal (cleared by cli_progress_done). */
void cli_progress(uint64_t done, uint64_t total, void *label);
void cli_progress_done(void);

/* The event as `log --json` prints it: {seq, ts, type, actor, id, data}. New reference. */
json_t *cli_event_json(const cl_event_info *ev);
/* Prints the event as a JSON line or as a text line. */
void cli_print_event(cli *c, const cl_event_info *ev);

int cmd_init(cli *c, int argc, char **argv);
int cmd_admin(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_verify(cli *c, int argc, char **argv);
int cmd_checkpoint(cli *c, int argc, char **argv);
int cmd_proof(cli *c, int argc, char **argv);
int cmd_account(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_verify_bundle(cli *c, int argc, char **argv);
int cmd_replay(cli *c, int argc, char **argv);
int cmd_webhook(cli *c, int argc, char **argv);
/* issue 4: accounts, links, primary, history, rebuild, import, cert read side */
int cmd_link(cli *c, int argc, char **argv);
int cmd_unlink(cli *c, int argc, char **argv);
int cmd_primary(cli *c, int argc, char **argv);
int cmd_history(cli *c, int argc, char **argv);
int cmd_rebuild(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
/* `cert show` / `cert list`, for the cert command group: argv[0] is "show" / "list". */
int cmd_cert_show(cli *c, int argc, char **argv);
int cmd_cert_list(cli *c, int argc, char **argv);
/* issue 3: `cert upload|show|list|export|rename|test` (cmd_cert.c) and `keys rotate-master` (cmd_keys.c) */
int cmd_cert(cli *c, int argc, char **argv);
int cmd_keys(cli *c, int argc, char **argv);
/* An account as `account show --json` prints it: email, kind, name, certificates, primary. */
json_t *cli_account_json(const cl_account *a);
/* A certificate as `cert show --json` prints it. New reference. */
json_t *cli_cert_json(const cl_cert_info *ci);

#endif
