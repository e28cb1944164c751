/* primary.c - `primary set EMAIL FP [--force]` and `primary clear EMAIL`.
 *
 * Rules (CLI.md): the certificate must be linked to the account and not already its primary;
 * an internal account's primary must have a private key (no --force for that: an internal
 * person must be able to decrypt and sign); a certificate that does not carry the account's
 * address, or that is expired or not yet valid at the time of the change, is refused unless
 * --force, and then primary.set records forced = true and the names of the rules overridden.
 * Addresses are compared without case (mail systems match certificates that way).
 */
#include "ingest/primary.h"

#include <stdio.h>
#include <string.h>

#include "ingest/link.h"
#include "ledger/encoding.h"
#include "ledger/timefmt.h"
#include "projections/accounts.h"
#include "projections/certs.h"
#include "projections/events.h"

const char *cl_override_name(unsigned bit)
{
	switch (bit) {
	case CL_OVERRIDE_EMAIL: return "email_not_in_certificate";
	case CL_OVERRIDE_EXPIRED: return "expired";
	case CL_OVERRIDE_NOT_YET_VALID: return "not_yet_valid";
	default: return NULL;
	}
}

static void fill(cl_change *out, const char *email, const uint8_t fp[32], const cl_appended *ap)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	snprintf(out->email, sizeof(out->email), "%s", email);
	memcpy(out->fingerprint, fp, 32);
	out->seq = ap->seq;
	out->ts = ap->ts;
}

cl_err cl_ingest__primary_set(cl_wtxn *t, const char *email, const char *fingerprint, bool force, cl_change *out,
			      cl_error *err)
{
	cl_ledger *l = cl_wtxn__ledger(t);
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_account_rec a;
	cl_cert_rec rec;
	cl_proj_dbs d;
	uint8_t fp[32];
	char hex[65];
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	memset(&rec, 0, sizeof(rec));
	cl_err rc = cl_ingest__account_and_cert(t, email, fingerprint, &a, fp, err);
	if (rc != CL_OK)
		return rc;
	cl_hex_encode(hex, fp, 32);
	if ((rc = cl_proj__dbs(l->store, txn, true, &d, NULL, err)) != CL_OK ||
	    (rc = cl_proj__cert_get_rec(txn, &d, fp, &rec, err)) != CL_OK)
		goto out;
	if (cl_account__find_cert(&a, fp) < 0) {
		rc = cl_error_set(err, CL_EREFUSED, "certificate %s is not linked to %s (link it first)", hex, a.email);
		goto out;
	}
	if (a.has_primary && memcmp(a.primary, fp, 32) == 0) {
		rc = cl_error_set(err, CL_EREFUSED, "certificate %s is already the primary of %s", hex, a.email);
		goto out;
	}
	if (strcmp(a.kind, "internal") == 0 && !rec.has_private_key) {
		rc = cl_error_set(err, CL_EREFUSED,
				  "%s is an internal account: its primary certificate needs a private key, and %s was "
				  "uploaded without one (upload its PKCS#12)", a.email, hex);
		goto out;
	}
	int64_t now = cl_ledger__now(l);
	unsigned broken = 0;
	if (!cl_cert__has_email(rec.emails, rec.nemails, a.email))
		broken |= CL_OVERRIDE_EMAIL;
	if (now > rec.not_after)
		broken |= CL_OVERRIDE_EXPIRED;
	if (now < rec.not_before)
		broken |= CL_OVERRIDE_NOT_YET_VALID;
	if (broken && !force) {
		char when[CL_TIME_TEXT_MAX];
		if (broken & CL_OVERRIDE_EMAIL) {
			rc = cl_error_set(err, CL_EREFUSED,
					  "certificate %s does not carry the address %s (its addresses: %s%s); "
					  "--force overrides this and records it", hex, a.email,
					  rec.nemails ? rec.emails[0] : "none", rec.nemails > 1 ? ", ..." : "");
		} else if (broken & CL_OVERRIDE_EXPIRED) {
			cl_time_format(when, rec.not_after);
			rc = cl_error_set(err, CL_EREFUSED,
					  "certificate %s expired at %s; --force overrides this and records it", hex, when);
		} else {
			cl_time_format(when, rec.not_before);
			rc = cl_error_set(err, CL_EREFUSED,
					  "certificate %s is not valid before %s; --force overrides this and records it", hex,
					  when);
		}
		goto out;
	}
	const char *names[3];
	size_t n = 0;
	for (unsigned bit = 1; bit <= CL_OVERRIDE_NOT_YET_VALID; bit <<= 1)
		if (broken & bit)
			names[n++] = cl_override_name(bit);
	if ((rc = cl_primary_set_encode(&data, a.email, fp, broken != 0, names, n)) != CL_OK) {
		cl_error_set(err, rc, "primary.set data too large");
		goto out;
	}
	cl_actor who = cl_wtxn__actor(t);
	cl_appended ap;
	if ((rc = cl_wtxn_append(t, &who, "primary.set", cl_buf_view(&data), &ap, err)) != CL_OK)
		goto out;
	fill(out, a.email, fp, &ap);
	if (out) {
		out->forced = broken != 0;
		out->overridden = broken;
	}
out:
	cl_buf_free(&data);
	cl_cert_rec_free(&rec);
	cl_account_rec_free(&a);
	return rc;
}

cl_err cl_ingest__primary_clear(cl_wtxn *t, const char *email, cl_change *out, cl_error *err)
{
	cl_account_rec a;
	cl_err rc = cl_ingest__account_and_cert(t, email, NULL, &a, NULL, err);
	if (rc != CL_OK)
		return rc;
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	if (!a.has_primary) {
		rc = cl_error_set(err, CL_EREFUSED, "%s has no primary certificate to clear", a.email);
		goto out;
	}
	if ((rc = cl_primary_cleared_encode(&data, a.email, a.primary, "cleared")) != CL_OK) {
		cl_error_set(err, rc, "primary.cleared data too large");
		goto out;
	}
	cl_actor who = cl_wtxn__actor(t);
	cl_appended ap;
	if ((rc = cl_wtxn_append(t, &who, "primary.cleared", cl_buf_view(&data), &ap, err)) == CL_OK)
		fill(out, a.email, a.primary, &ap);
out:
	cl_buf_free(&data);
	cl_account_rec_free(&a);
	return rc;
}

typedef struct primary_ctx {
	const char *email, *fingerprint;
	bool force, clear;
	cl_change *out;
} primary_ctx;

static cl_err primary_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	primary_ctx *c = arg;
	return c->clear ? cl_ingest__primary_clear(t, c->email, c->out, err)
			: cl_ingest__primary_set(t, c->email, c->fingerprint, c->force, c->out, err);
}

cl_err cl_primary_set(cl_ledger *l, const char *email, const char *fingerprint, bool force, cl_change *out)
{
	primary_ctx c = {email, fingerprint, force, false, out};
	return cl_ledger__write(l, primary_cb, &c, &l->err);
}

cl_err cl_primary_clear(cl_ledger *l, const char *email, cl_change *out)
{
	primary_ctx c = {email, NULL, false, true, out};
	return cl_ledger__write(l, primary_cb, &c, &l->err);
}
