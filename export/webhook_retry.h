/* webhook_retry.h - when to try a webhook delivery again.
 *
 * A retry schedule is the comma list of delays between attempts (CLI.md, `webhook add
 * --retry`), e.g. the default "5s,5m,30m,2h,5h,10h,10h": attempt 1 is made when the event is
 * due; after attempt k fails, attempt k+1 waits step k; when the attempt after the last step has
 * failed the event is dead-lettered. Each wait is jittered by +/-20% with a random source the
 * caller supplies (tests pass a fixed one), and is never shorter than a Retry-After the receiver
 * sent. All functions here are pure and never allocate.
 */
#ifndef CL_EXPORT_WEBHOOK_RETRY_H
#define CL_EXPORT_WEBHOOK_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"

#define CL_WH_RETRY_DEFAULT "5s,5m,30m,2h,5h,10h,10h"
/* Bounds on a schedule: steps, the text's length, and one step's delay (7 days). */
#define CL_WH_RETRY_MAX_STEPS 24
#define CL_WH_RETRY_TEXT_MAX 256
#define CL_WH_RETRY_STEP_MAX_S (7 * 86400)
/* A Retry-After longer than this is taken as this (1 day). */
#define CL_WH_RETRY_AFTER_MAX_S 86400
/* Jitter: each wait is in [base - base/5, base + base/5). */
#define CL_WH_RETRY_JITTER_PERCENT 20

typedef struct cl_wh_retry {
	size_t nsteps;                                /* 1..CL_WH_RETRY_MAX_STEPS */
	uint32_t step_s[CL_WH_RETRY_MAX_STEPS];       /* seconds, 1..CL_WH_RETRY_STEP_MAX_S */
} cl_wh_retry;

/* Parses a schedule strictly: comma-separated steps, no spaces, no empty step; a step is 1..6
 * decimal digits without a leading zero followed by one unit s, m, h or d, and lies in
 * 1 s..7 d; at most CL_WH_RETRY_MAX_STEPS steps and CL_WH_RETRY_TEXT_MAX bytes. text need not be
 * NUL-terminated. Errors: CL_EBADINPUT, with a message naming the step at fault. */
cl_err cl_wh_retry_parse(cl_wh_retry *out, const char *text, size_t text_len, cl_error *err)
	__attribute__((warn_unused_result));

/* Writes the canonical text of r into out[cap] (each step in the largest unit that divides it
 * exactly), NUL-terminated; parsing it gives r back. CL_ETOOLARGE if cap is too small,
 * CL_EUSAGE if r is not a valid schedule. */
cl_err cl_wh_retry_format(char *out, size_t cap, const cl_wh_retry *r) __attribute__((warn_unused_result));

/* A source of uniformly distributed 32-bit values. */
typedef uint32_t (*cl_wh_rand_fn)(void *ctx);

/* A cl_wh_rand_fn that draws from OpenSSL's RAND_bytes (ctx unused); falls back to the middle
 * value (no jitter) if the generator fails. */
uint32_t cl_wh_rand_openssl(void *ctx);

/* Decides what follows a failed attempt. failed_attempts is how many attempts of this event
 * have been made, all failed (>= 1). retry_after_s is the receiver's Retry-After in seconds, or
 * -1 for none. Returns 1 and sets *out_delay_ms to the wait before the next attempt: the step's
 * delay jittered by +/-20% using one value of rnd, raised to retry_after_s (capped at
 * CL_WH_RETRY_AFTER_MAX_S) if that is longer. Returns 0 when the schedule is exhausted (the
 * event is to be dead-lettered) and leaves *out_delay_ms at 0. */
int cl_wh_retry_next(int64_t *out_delay_ms, const cl_wh_retry *r, unsigned failed_attempts,
		     int64_t retry_after_s, cl_wh_rand_fn rnd, void *rnd_ctx);

/* Parses a Retry-After header value (len bytes, surrounding spaces and tabs ignored): either
 * delta-seconds (1..18 digits; values over the cap are capped) or an HTTP-date (IMF-fixdate,
 * and the obsolete RFC 850 and asctime forms, parsed by libcurl's curl_getdate), which is turned
 * into seconds after now_s (0 if it lies in the past). *out_s is at most
 * CL_WH_RETRY_AFTER_MAX_S. Errors: CL_EBADINPUT. */
cl_err cl_wh_retry_after_parse(uint32_t *out_s, const char *value, size_t len, int64_t now_s)
	__attribute__((warn_unused_result));

#endif
