/* timefmt.c - RFC 3339 instants <-> microseconds since the epoch (UTC, proleptic Gregorian). */
#include "ledger/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void cl_time_format(char out[CL_TIME_TEXT_MAX], int64_t micros)
{
	int64_t secs = micros / 1000000, frac = micros % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days -= 1;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, CL_TIME_TEXT_MAX, "%04lld-%02u-%02uT%02d:%02d:%02d.%06lldZ", (long long)y, m, d,
		 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long long)frac);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

cl_err cl_time_parse(int64_t *out, int *is_date, const char *s, int allow_date)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t n = strlen(s);
	if (is_date)
		*is_date = 0;
	if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return CL_EBADINPUT;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return CL_EBADINPUT;
	int64_t day = days_from_civil(y, (unsigned)mo, (unsigned)d);
	if (n == 10) {
		if (!allow_date)
			return CL_EBADINPUT;
		if (is_date)
			*is_date = 1;
		*out = day * CL_MICROS_PER_DAY;
		return CL_OK;
	}
	if (n < 20 || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' ||
	    digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return CL_EBADINPUT;
	if (h > 23 || mi > 59 || sec > 59)
		return CL_EBADINPUT;
	const char *p = s + 19;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int nd = 0;
		while (*p >= '0' && *p <= '9') {
			if (nd >= 6)
				return CL_EBADINPUT;
			frac = frac * 10 + (*p - '0');
			nd++;
			p++;
		}
		if (nd == 0)
			return CL_EBADINPUT;
		while (nd++ < 6)
			frac *= 10;
	}
	int64_t offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return CL_EBADINPUT;
		offset = (int64_t)(oh * 60 + om) * 60;
		if (*p == '-')
			offset = -offset;
		p += 6;
	} else {
		return CL_EBADINPUT;
	}
	if (*p != '\0')
		return CL_EBADINPUT;
	int64_t secs = day * 86400 + h * 3600 + mi * 60 + sec - offset;
	*out = secs * 1000000 + frac;
	return CL_OK;
}

int64_t cl_time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
