/* text.c - the public text helpers of certledger/text.h over the internal encoders. */
#include "certledger/text.h"
#include "ledger/encoding.h"
#include "ledger/timefmt.h"

void cl_time_format_text(char *out, int64_t micros)
{
	cl_time_format(out, micros);
}

cl_err cl_time_parse_text(const char *text, int64_t *out, bool allow_date, int *is_date)
{
	return cl_time_parse(out, is_date, text, allow_date);
}

char *cl_base64_text(const uint8_t *in, size_t n)
{
	return cl_base64_encode(in, n);
}
