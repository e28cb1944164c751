/* encoding.h - hex and base64 text forms of bytes (fingerprints, ids, proofs, keys). */
#ifndef CL_LEDGER_ENCODING_H
#define CL_LEDGER_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"

/* Writes 2*n lowercase hex digits and a NUL into out (capacity >= 2*n+1). */
void cl_hex_encode(char *out, const uint8_t *in, size_t n);

/* Decodes exactly 2*n hex digits (either case) from text into out[n]. CL_EBADINPUT otherwise. */
cl_err cl_hex_decode(uint8_t *out, size_t n, const char *text, size_t text_len);

/* Standard base64 with padding; returns the allocated NUL-terminated text or NULL (ENOMEM). */
char *cl_base64_encode(const uint8_t *in, size_t n);

/* Decodes standard base64 (padding required, no whitespace) into a malloc'd buffer.
 * *out_len receives the decoded length. CL_EBADINPUT on any non-canonical input. */
cl_err cl_base64_decode(uint8_t **out, size_t *out_len, const char *text, size_t text_len);

#endif
