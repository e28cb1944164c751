/* email.c - validation and canonical form of email addresses (see email.h). */
#include "projections/email.h"

#include <string.h>

cl_err cl_email_canonical(char out[CL_EMAIL_MAX + 1], const char *text, size_t len, cl_error *err)
{
	const char *at = NULL;
	if (len == 0 || len > CL_EMAIL_MAX)
		return cl_error_set(err, CL_EBADINPUT, "'%.*s' is not a valid email address (length)", (int)(len > 80 ? 80 : len), text);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '\\')
			return cl_error_set(err, CL_EBADINPUT, "'%.*s' is not a valid email address", (int)(len > 80 ? 80 : len), text);
		if (c == '@')
			at = text + i;
	}
	if (at == NULL || at == text || at == text + len - 1 || memchr(text, '@', (size_t)(at - text)) != NULL)
		return cl_error_set(err, CL_EBADINPUT, "'%.*s' is not a valid email address (need exactly one '@')",
				    (int)(len > 80 ? 80 : len), text);
	size_t local = (size_t)(at - text), dlen = len - local - 1;
	const char *dom = at + 1;
	if (dom[0] == '.' || dom[dlen - 1] == '.' || memmem(dom, dlen, "..", 2) != NULL)
		return cl_error_set(err, CL_EBADINPUT, "'%.*s' is not a valid email address (domain)", (int)(len > 80 ? 80 : len), text);
	memcpy(out, text, local + 1);
	for (size_t i = 0; i < dlen; i++) {
		char c = dom[i];
		out[local + 1 + i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return CL_OK;
}

const char *cl_email_domain(const char *canonical)
{
	const char *at = strrchr(canonical, '@');
	return at ? at + 1 : "";
}

bool cl_email_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	char ca[CL_EMAIL_MAX + 1], cb[CL_EMAIL_MAX + 1];
	if (cl_email_canonical(ca, a, alen, NULL) != CL_OK || cl_email_canonical(cb, b, blen, NULL) != CL_OK)
		return false;
	return strcmp(ca, cb) == 0;
}
