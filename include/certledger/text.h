/* certledger/text.h - the text forms certledger reads and prints: RFC 3339 times and base64. */
#ifndef CERTLEDGER_TEXT_H
#define CERTLEDGER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "2026-03-01T09:30:00.123456Z" (UTC, microseconds) into out (at least 40 bytes). */
void cl_time_format_text(char *out, int64_t micros);
/* An RFC 3339 instant (offsets allowed) or, when allow_date, a bare UTC date "YYYY-MM-DD"
 * (*is_date set to 1, the result is the start of that day). CL_EBADINPUT otherwise. */
cl_err cl_time_parse_text(const char *text, int64_t *out, bool allow_date, int *is_date);
/* Standard padded base64, malloc'd (NULL when out of memory). */
char *cl_base64_text(const uint8_t *in, size_t n);

#ifdef __cplusplus
}
#endif
#endif
