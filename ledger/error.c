/* error.c - setting and naming cl_error values, and mapping them to exit codes. */
#include "certledger/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

cl_err cl_error_set(cl_error *err, cl_err code, const char *fmt, ...)
{
	if (err == NULL)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

cl_err cl_error_prefix(cl_error *err, const char *fmt, ...)
{
	if (err == NULL)
		return CL_EINTERNAL;
	char prefix[CL_ERRMSG_MAX];
	char old[CL_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	size_t n = strlen(prefix);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, prefix, n);
	memcpy(err->msg + n, ": ", 2);
	size_t rest = sizeof(err->msg) - n - 3;
	size_t olen = strnlen(old, sizeof(old) - 1);
	if (olen > rest)
		olen = rest;
	memcpy(err->msg + n + 2, old, olen);
	err->msg[n + 2 + olen] = '\0';
	return err->code;
}

void cl_error_clear(cl_error *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *cl_err_name(cl_err code)
{
	switch (code) {
	case CL_OK: return "ok";
	case CL_EBADINPUT: return "bad input";
	case CL_EREFUSED: return "refused";
	case CL_ENOTFOUND: return "not found";
	case CL_EINTEGRITY: return "integrity failure";
	case CL_ENOMEM: return "out of memory";
	case CL_EIO: return "i/o error";
	case CL_ECRYPTO: return "crypto error";
	case CL_EPASSWORD: return "wrong password";
	case CL_EUNSUPPORTED: return "unsupported";
	case CL_EUSAGE: return "usage error";
	case CL_EEXISTS: return "already exists";
	case CL_EDENIED: return "not allowed";
	case CL_ETOOLARGE: return "too large";
	case CL_EINTERNAL: return "internal error";
	default: return "unknown error";
	}
}

int cl_err_exit_code(cl_err code)
{
	switch (code) {
	case CL_OK: return 0;
	case CL_EBADINPUT:
	case CL_EREFUSED:
	case CL_EPASSWORD:
	case CL_EUNSUPPORTED:
	case CL_EEXISTS:
	case CL_EDENIED:
	case CL_ETOOLARGE: return 1;
	case CL_EUSAGE: return 2;
	case CL_ENOTFOUND: return 3;
	case CL_EINTEGRITY: return 4;
	default: return 5;
	}
}
