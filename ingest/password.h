/* password.h - reading a PKCS#12 password into a wiping buffer, from the sources CLI.md allows:
 * --password-file F, --password-env VAR, --password-stdin, or a prompt without echo when stdin
 * is a terminal. Never from argv: there is deliberately no function that takes the password
 * as a string argument.
 *
 * Every function replaces *out (a cl_secret, wiped on free) with the password bytes: the first
 * line without its line ending ("\n" or "\r\n") for files, stdin and the prompt, the whole
 * value for an environment variable. Bytes are read one at a time with read(2) straight into
 * out, through no stdio buffer, so no other copy is left in memory and nothing after the first
 * line is consumed from a pipe. On error *out is empty. Nothing here ever logs or prints a
 * password; messages name only the source.
 */
#ifndef CL_INGEST_PASSWORD_H
#define CL_INGEST_PASSWORD_H

#include "ledger/bytes.h"

#define CL_PASSWORD_MAX 4096

/* First line of the file at path (an empty file is the empty password).
 * CL_ENOTFOUND / CL_EIO when it cannot be read, CL_ETOOLARGE over CL_PASSWORD_MAX. */
cl_err cl_password_from_file(cl_secret *out, const char *path, cl_error *err) __attribute__((warn_unused_result));

/* The value of environment variable var (an empty value is the empty password), copied.
 * CL_EUSAGE when it is not set. The environment itself cannot be wiped (POSIX forbids writing
 * to getenv's string); callers may unsetenv it afterwards. */
cl_err cl_password_from_env(cl_secret *out, const char *var, cl_error *err) __attribute__((warn_unused_result));

/* First line read from fd (0 for --password-stdin); what names it in messages ("stdin").
 * End of input before any byte is the empty password. */
cl_err cl_password_from_fd(cl_secret *out, int fd, const char *what, cl_error *err)
	__attribute__((warn_unused_result));

/* Prompts on out_fd (normally 2) and reads one line from in_fd (normally 0) with echo turned
 * off. in_fd must be a terminal (CL_EUSAGE otherwise: "no password source"). The terminal
 * settings are restored on every path, and also if SIGINT, SIGTERM, SIGQUIT or SIGHUP arrives
 * while reading: the handler restores them and re-raises the signal with its previous
 * disposition. End of input (Ctrl-D) on an empty line is CL_EUSAGE ("cancelled").
 * Not for concurrent use from several threads (one terminal, one prompt). */
cl_err cl_password_prompt(cl_secret *out, int in_fd, int out_fd, const char *prompt, cl_error *err)
	__attribute__((warn_unused_result));

#endif
