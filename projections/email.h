/* email.h - email addresses as account keys: validation and the canonical form (local part as
 * given, domain part lower-cased), so that alice@Corp.Example and alice@corp.example are one
 * account while the local part keeps RFC 5321's case sensitivity. */
#ifndef CL_PROJ_EMAIL_H
#define CL_PROJ_EMAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "certledger/error.h"

#define CL_EMAIL_MAX 254

/* Writes the canonical form of text into out (capacity CL_EMAIL_MAX + 1). CL_EBADINPUT with a
 * message naming the address when it is not a plausible mailbox address. */
cl_err cl_email_canonical(char out[CL_EMAIL_MAX + 1], const char *text, size_t len, cl_error *err);

/* The domain part of a canonical address (after the last '@'). */
const char *cl_email_domain(const char *canonical);

/* Case-insensitive comparison of two addresses' canonical forms. */
bool cl_email_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
