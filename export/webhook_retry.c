/* webhook_retry.c - retry schedules ("5s,5m,30m"), jittered back-off and Retry-After parsing.
 *
 * Integer arithmetic only: jitter is base - base/5 + (2*base/5 * r) / 2^32 for a 32-bit r, so
 * the result is deterministic for a given random value and lies in [0.8 base, 1.2 base).
 */
#include "export/webhook_retry.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static uint32_t unit_seconds(char u)
{
	switch (u) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	default: return 0;
	}
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

cl_err cl_wh_retry_parse(cl_wh_retry *out, const char *text, size_t text_len, cl_error *err)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL || text_len == 0)
		return cl_error_set(err, CL_EBADINPUT, "retry schedule is empty (e.g. \"%s\")", CL_WH_RETRY_DEFAULT);
	if (text_len > CL_WH_RETRY_TEXT_MAX)
		return cl_error_set(err, CL_EBADINPUT, "retry schedule is over %d bytes", CL_WH_RETRY_TEXT_MAX);

	size_t i = 0;
	while (1) {
		size_t start = i;
		size_t step_no = out->nsteps + 1;
		while (i < text_len && text[i] != ',')
			i++;
		size_t len = i - start;
		const char *s = text + start;
		if (len == 0)
			goto bad_empty;
		if (out->nsteps >= CL_WH_RETRY_MAX_STEPS) {
			memset(out, 0, sizeof(*out));
			return cl_error_set(err, CL_EBADINPUT, "retry schedule has over %d steps", CL_WH_RETRY_MAX_STEPS);
		}
		size_t nd = 0;
		while (nd < len && is_digit(s[nd]))
			nd++;
		if (nd == 0 || nd > 6 || nd + 1 != len || (s[0] == '0')) {
			memset(out, 0, sizeof(*out));
			return cl_error_set(err, CL_EBADINPUT,
					    "retry schedule step %zu \"%.*s\" is not a number (1..999999, no leading "
					    "zero) followed by s, m, h or d",
					    step_no, (int)(len > 32 ? 32 : len), s);
		}
		uint32_t unit = unit_seconds(s[nd]);
		if (unit == 0) {
			memset(out, 0, sizeof(*out));
			return cl_error_set(err, CL_EBADINPUT,
					    "retry schedule step %zu \"%.*s\" has unit '%c' (use s, m, h or d)", step_no,
					    (int)len, s, s[nd]);
		}
		uint64_t v = 0;
		for (size_t k = 0; k < nd; k++)
			v = v * 10 + (uint64_t)(s[k] - '0');
		v *= unit;
		if (v > CL_WH_RETRY_STEP_MAX_S) {
			memset(out, 0, sizeof(*out));
			return cl_error_set(err, CL_EBADINPUT, "retry schedule step %zu \"%.*s\" is longer than 7d",
					    step_no, (int)len, s);
		}
		out->step_s[out->nsteps++] = (uint32_t)v;
		if (i == text_len)
			break;
		i++; /* the comma */
		if (i == text_len)
			goto bad_empty;
	}
	return CL_OK;
bad_empty: {
	size_t n = out->nsteps + 1;
	memset(out, 0, sizeof(*out));
	return cl_error_set(err, CL_EBADINPUT, "retry schedule step %zu is empty", n);
}
}

cl_err cl_wh_retry_format(char *out, size_t cap, const cl_wh_retry *r)
{
	if (cap == 0)
		return CL_ETOOLARGE;
	out[0] = '\0';
	if (r->nsteps == 0 || r->nsteps > CL_WH_RETRY_MAX_STEPS)
		return CL_EUSAGE;
	size_t len = 0;
	for (size_t i = 0; i < r->nsteps; i++) {
		uint32_t v = r->step_s[i];
		if (v == 0 || v > CL_WH_RETRY_STEP_MAX_S) {
			out[0] = '\0';
			return CL_EUSAGE;
		}
		char unit = 's';
		if (v % 86400 == 0) {
			unit = 'd';
			v /= 86400;
		} else if (v % 3600 == 0) {
			unit = 'h';
			v /= 3600;
		} else if (v % 60 == 0) {
			unit = 'm';
			v /= 60;
		}
		int n = snprintf(out + len, cap - len, "%s%" PRIu32 "%c", i ? "," : "", v, unit);
		if (n < 0 || (size_t)n >= cap - len) {
			out[0] = '\0';
			return CL_ETOOLARGE;
		}
		len += (size_t)n;
	}
	return CL_OK;
}

uint32_t cl_wh_rand_openssl(void *ctx)
{
	(void)ctx;
	unsigned char b[4];
	if (RAND_bytes(b, sizeof(b)) != 1)
		return UINT32_C(0x80000000);
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

int cl_wh_retry_next(int64_t *out_delay_ms, const cl_wh_retry *r, unsigned failed_attempts,
		     int64_t retry_after_s, cl_wh_rand_fn rnd, void *rnd_ctx)
{
	*out_delay_ms = 0;
	if (failed_attempts == 0 || failed_attempts > r->nsteps || r->nsteps > CL_WH_RETRY_MAX_STEPS)
		return 0;
	uint64_t base = (uint64_t)r->step_s[failed_attempts - 1] * 1000; /* <= 6.05e8 < 2^30 */
	uint64_t span = base * 2 * CL_WH_RETRY_JITTER_PERCENT / 100;
	uint64_t rv = rnd != NULL ? rnd(rnd_ctx) : UINT32_C(0x80000000);
	uint64_t delay = base - base * CL_WH_RETRY_JITTER_PERCENT / 100 + ((span * rv) >> 32);
	if (retry_after_s >= 0) {
		uint64_t ra = (uint64_t)(retry_after_s > CL_WH_RETRY_AFTER_MAX_S ? CL_WH_RETRY_AFTER_MAX_S
										 : retry_after_s) * 1000;
		if (ra > delay)
			delay = ra;
	}
	*out_delay_ms = (int64_t)delay;
	return 1;
}

/* An HTTP-date's characters: letters, digits, space, ',', ':' and '-'. */
static int date_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == ' ' || c == ',' ||
	       c == ':' || c == '-';
}

cl_err cl_wh_retry_after_parse(uint32_t *out_s, const char *value, size_t len, int64_t now_s)
{
	*out_s = 0;
	if (value == NULL)
		return CL_EBADINPUT;
	while (len > 0 && (value[0] == ' ' || value[0] == '\t')) {
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 0)
		return CL_EBADINPUT;

	size_t nd = 0;
	while (nd < len && is_digit(value[nd]))
		nd++;
	if (nd == len) {
		if (len > 18)
			return CL_EBADINPUT;
		uint64_t v = 0;
		for (size_t i = 0; i < len; i++)
			v = v * 10 + (uint64_t)(value[i] - '0');
		*out_s = (uint32_t)(v > CL_WH_RETRY_AFTER_MAX_S ? CL_WH_RETRY_AFTER_MAX_S : v);
		return CL_OK;
	}

	/* HTTP-date: the shortest form (asctime) is 24 characters, the longest (RFC 850 with a
	 * long day name) 33; each starts with a day name. */
	char buf[40];
	if (len < 24 || len > 33 || !((value[0] >= 'A' && value[0] <= 'Z')))
		return CL_EBADINPUT;
	for (size_t i = 0; i < len; i++)
		if (!date_char(value[i]))
			return CL_EBADINPUT;
	memcpy(buf, value, len);
	buf[len] = '\0';
	time_t t = curl_getdate(buf, NULL);
	if (t == (time_t)-1)
		return CL_EBADINPUT;
	int64_t d = (int64_t)t - now_s;
	if (d < 0)
		d = 0;
	*out_s = (uint32_t)(d > CL_WH_RETRY_AFTER_MAX_S ? CL_WH_RETRY_AFTER_MAX_S : d);
	return CL_OK;
}
