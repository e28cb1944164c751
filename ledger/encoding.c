/* encoding.c - hex and base64, through OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock for base64. */
#include "ledger/encoding.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void cl_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

cl_err cl_hex_decode(uint8_t *out, size_t n, const char *text, size_t text_len)
{
	if (text_len != 2 * n)
		return CL_EBADINPUT;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return CL_EBADINPUT;
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	return CL_OK;
}

char *cl_base64_encode(const uint8_t *in, size_t n)
{
	if (n > (size_t)INT32_MAX / 2)
		return NULL;
	size_t outlen = 4 * ((n + 2) / 3) + 1;
	char *out = malloc(outlen);
	if (out == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

cl_err cl_base64_decode(uint8_t **out, size_t *out_len, const char *text, size_t text_len)
{
	*out = NULL;
	*out_len = 0;
	if (text_len % 4 != 0 || text_len > (size_t)INT32_MAX / 2)
		return CL_EBADINPUT;
	for (size_t i = 0; i < text_len; i++) {
		char c = text[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '+' || c == '/' || (c == '=' && i >= text_len - 2);
		if (!ok)
			return CL_EBADINPUT;
	}
	if (text_len >= 2 && text[text_len - 2] == '=' && text[text_len - 1] != '=')
		return CL_EBADINPUT;
	uint8_t *buf = malloc(text_len / 4 * 3 + 1);
	if (buf == NULL)
		return CL_ENOMEM;
	int n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)text_len);
	if (n < 0) {
		free(buf);
		return CL_EBADINPUT;
	}
	size_t pad = 0;
	if (text_len >= 1 && text[text_len - 1] == '=')
		pad++;
	if (text_len >= 2 && text[text_len - 2] == '=')
		pad++;
	*out = buf;
	*out_len = (size_t)n - pad;
	return CL_OK;
}
