/* timefmt.h - RFC 3339 parsing and printing of instants in microseconds since the Unix epoch. */
#ifndef CL_LEDGER_TIMEFMT_H
#define CL_LEDGER_TIMEFMT_H

#include <stdint.h>

#include "certledger/error.h"

#define CL_TIME_TEXT_MAX 40

/* "2026-03-01T09:30:00.123456Z" (always UTC, always 6 fraction digits) into out. */
void cl_time_format(char out[CL_TIME_TEXT_MAX], int64_t micros);

/* Parses an RFC 3339 instant ("2026-03-01T09:30:00Z", optional fraction up to 6 digits,
 * "Z" or "+hh:mm"/"-hh:mm") or, when allow_date is set, a bare date "2026-03-01" meaning the
 * start of that UTC day (*is_date set to 1). CL_EBADINPUT on anything else. */
cl_err cl_time_parse(int64_t *out, int *is_date, const char *text, int allow_date);

/* Microseconds since the epoch, from CLOCK_REALTIME. */
int64_t cl_time_now(void);

#define CL_MICROS_PER_DAY INT64_C(86400000000)

#endif
