/* testutil.h - what the cmocka tests share: temporary directories, running the built
 * `certledger` binary as a black box, digests of a whole LMDB environment (to prove "nothing
 * written"), and scanning files for bytes that must never reach disk. */
#ifndef CL_TESTUTIL_H
#define CL_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string after tu_rmrf. */
char *tu_mkdtemp(const char *tag);
void tu_rmrf(const char *path);

/* Path of a file in tests/data (static buffer per call site is not needed: malloc'd). */
char *tu_data_path(const char *name);
/* The built CLI binary ($CL_BIN). */
const char *tu_bin(void);

typedef struct tu_run {
	int exit_code;     /* exit status, or 128+signal */
	char *out;         /* stdout, NUL-terminated */
	size_t out_len;
	char *err;         /* stderr, NUL-terminated */
	size_t err_len;
} tu_run;

/* Runs argv (argv[0] is the program path) with optional stdin bytes and extra environment
 * entries ("NAME=value", NULL-terminated list, may be NULL). Waits for it. */
void tu_exec(tu_run *r, char *const argv[], const char *stdin_data, size_t stdin_len, char *const env[]);
/* Runs the certledger binary with --ledger DIR prepended (DIR may be NULL for none).
 * Arguments end with NULL. */
void tu_cli(tu_run *r, const char *ledger_dir, ...);
void tu_cli_stdin(tu_run *r, const char *ledger_dir, const char *stdin_data, ...);
void tu_cli_env(tu_run *r, const char *ledger_dir, char *const env[], ...);
void tu_run_free(tu_run *r);

/* SHA-256 over every named database of the LMDB environment in dir/db (names, keys and values
 * in order), as 64 hex digits + NUL. Equal digests mean nothing was written. */
void tu_ledger_digest(const char *ledger_dir, char out[65]);
/* Same for only the databases whose name starts with prefix (e.g. "p_"). */
void tu_ledger_digest_prefix(const char *ledger_dir, const char *prefix, char out[65]);

/* Reads a whole file (malloc'd; *len set). Fails the test if it cannot. */
uint8_t *tu_read_file(const char *path, size_t *len);
void tu_write_file(const char *path, const void *data, size_t len);
/* 1 if any regular file below dir contains needle. */
int tu_tree_contains(const char *dir, const void *needle, size_t needle_len);

#endif
