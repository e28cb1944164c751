/* tu_certs.h - certificates for the tests of accounts, links and primaries: a real X.509
 * certificate made with OpenSSL (EC P-256, self-signed, the given addresses in its SAN and
 * validity), recorded by appending a cert.uploaded event through the library's write path
 * (what `cert upload` will do once it lands), plus an injectable test clock. */
#ifndef CL_TU_CERTS_H
#define CL_TU_CERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "certledger/certledger.h"

typedef struct tu_cert_spec {
	const char *name;
	const char *emails[4];     /* NULL-terminated; the first is also the CN */
	int64_t not_before;        /* µs */
	int64_t not_after;
	bool has_private_key;      /* recorded as kind p12 with a key (no keystore entry is made) */
	const uint8_t *fingerprint; /* NULL: SHA-256 of the generated DER; else forced (for prefix tests) */
} tu_cert_spec;

/* Generates the certificate and appends its cert.uploaded; fails the test on error. */
void tu_upload(cl_ledger *l, const tu_cert_spec *spec, uint8_t fp[32]);
/* The same without generating a certificate: plausible fields and random DER bytes (fast, for
 * large data sets); fp is random unless spec->fingerprint is set. */
void tu_upload_fake(cl_ledger *l, const tu_cert_spec *spec, uint8_t fp[32]);

/* tu_upload_fake that returns the library's answer instead of failing the test. */
cl_err tu_upload_fake_rc(cl_ledger *l, const tu_cert_spec *spec, uint8_t fp[32], cl_error *err);

/* A settable clock for cl_open_opts.clock: returns *(int64_t *)ctx. */
int64_t tu_clock(void *ctx);

/* 2026-01-01T00:00:00Z plus days, hours, minutes, seconds, in µs. */
int64_t tu_time(int month, int day, int hour, int min, int sec);

/* 64 lowercase hex digits + NUL. */
void tu_hex(char out[65], const uint8_t fp[32]);

#endif
