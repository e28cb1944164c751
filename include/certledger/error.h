/* certledger/error.h - the library's one error type.
 *
 * Every fallible function returns a cl_err: 0 on success, a negative CL_E* code otherwise.
 * The codes never change meaning once released. A human-readable message that names the input
 * at fault is written into a caller-owned cl_error (or kept on a handle); it never contains a
 * password or key material.
 */
#ifndef CERTLEDGER_ERROR_H
#define CERTLEDGER_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int cl_err;

enum {
	CL_OK = 0,
	CL_EBADINPUT = -1,  /* malformed input: a file, a field, an argument's value */
	CL_EREFUSED = -2,   /* a rule refused the change (duplicate, not linked, not allowed) */
	CL_ENOTFOUND = -3,  /* an account, certificate, seq or admin that does not exist */
	CL_EINTEGRITY = -4, /* the ledger or a bundle failed verification */
	CL_ENOMEM = -5,     /* an allocation failed */
	CL_EIO = -6,        /* the file system or LMDB failed */
	CL_ECRYPTO = -7,    /* OpenSSL failed for a reason other than bad input */
	CL_EPASSWORD = -8,  /* a PKCS#12 password was wrong (never said to be "corrupt") */
	CL_EUNSUPPORTED = -9, /* valid input that this build cannot handle (an algorithm, a version) */
	CL_EUSAGE = -10,    /* a caller passed arguments that do not fit together */
	CL_EEXISTS = -11,   /* the thing to create is already there */
	CL_EDENIED = -12,   /* the acting admin is not allowed to do this */
	CL_ETOOLARGE = -13, /* input over a fixed limit */
	CL_EINTERNAL = -14  /* a bug: an invariant did not hold */
};

#define CL_ERRMSG_MAX 512

/* A caller-owned error slot. The message is always NUL-terminated (empty when code is 0). */
typedef struct cl_error {
	cl_err code;
	char msg[CL_ERRMSG_MAX];
} cl_error;

#define CL_ERROR_INIT {0, {0}}

/* Sets code and a printf-style message on err (which may be NULL) and returns code, so that
 * callers can write `return cl_error_set(err, CL_EBADINPUT, "...")`. */
cl_err cl_error_set(cl_error *err, cl_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an existing message, keeping the code. Returns err->code. */
cl_err cl_error_prefix(cl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void cl_error_clear(cl_error *err);

/* A short fixed name for a code ("refused", "not found", ...). Never NULL. */
const char *cl_err_name(cl_err code);

/* The command-line exit code for a library code (CLI.md): 0, 1 refused/bad input, 2 usage,
 * 3 not found, 4 integrity, 5 internal or environment. */
int cl_err_exit_code(cl_err code);

#ifdef __cplusplus
}
#endif
#endif
