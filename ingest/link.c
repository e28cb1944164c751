/* link.c - `link EMAIL FP` and `unlink EMAIL FP [--reason]`: the rules of CLI.md, then
 * cert.linked, or cert.unlinked followed by primary.cleared when the primary is unlinked. */
#include "ingest/link.h"

#include <stdio.h>
#include <string.h>

#include "ledger/encoding.h"
#include "projections/accounts.h"
#include "projections/certs.h"
#include "projections/events.h"

#define REASON_MAX 1024

bool cl_ingest__text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (len == 0 || i + len > n || (c < 0x20 && c != '\t') || c == 0x7f || (len == 2 && c < 0xc2))
			return false;
		uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 0x07u);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

cl_err cl_ingest__account_and_cert(cl_wtxn *t, const char *email, const char *fingerprint,
				   struct cl_account_rec *acct, uint8_t fp[32], cl_error *err)
{
	cl_ledger *l = cl_wtxn__ledger(t);
	MDB_txn *txn = cl_wtxn__txn(t);
	cl_proj_dbs d;
	char e[CL_EMAIL_MAX + 1];
	if (email == NULL)
		return cl_error_set(err, CL_EBADINPUT, "no email address given");
	cl_err rc = cl_email_canonical(e, email, strlen(email), err);
	if (rc == CL_OK)
		rc = cl_proj__dbs(l->store, txn, true, &d, NULL, err);
	if (rc == CL_OK && acct != NULL)
		rc = cl_proj__account_get(txn, &d, e, acct, err);
	if (rc == CL_OK && fp != NULL) {
		rc = fingerprint ? cl_proj__cert_resolve(txn, &d, fingerprint, fp, err)
				 : cl_error_set(err, CL_EBADINPUT, "no fingerprint given");
		if (rc != CL_OK && acct != NULL)
			cl_account_rec_free(acct);
	}
	return rc;
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

cl_err cl_ingest__link(cl_wtxn *t, const char *email, const char *fingerprint, cl_change *out, cl_error *err)
{
	cl_account_rec a;
	uint8_t fp[32];
	char hex[65];
	cl_err rc = cl_ingest__account_and_cert(t, email, fingerprint, &a, fp, err);
	if (rc != CL_OK)
		return rc;
	cl_hex_encode(hex, fp, 32);
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_appended ap;
	if (cl_account__find_cert(&a, fp) >= 0) {
		rc = cl_error_set(err, CL_EREFUSED, "certificate %s is already linked to %s", hex, a.email);
		goto out;
	}
	if ((rc = cl_cert_linked_encode(&data, a.email, fp)) != CL_OK) {
		cl_error_set(err, rc, "cert.linked data too large");
		goto out;
	}
	cl_actor who = cl_wtxn__actor(t);
	if ((rc = cl_wtxn_append(t, &who, "cert.linked", cl_buf_view(&data), &ap, err)) == CL_OK)
		fill(out, a.email, fp, &ap);
out:
	cl_buf_free(&data);
	cl_account_rec_free(&a);
	return rc;
}

cl_err cl_ingest__unlink(cl_wtxn *t, const char *email, const char *fingerprint, const char *reason,
			 cl_change *out, cl_error *err)
{
	cl_account_rec a;
	uint8_t fp[32];
	char hex[65];
	if (reason == NULL)
		reason = "";
	if (!cl_ingest__text_ok(reason, REASON_MAX))
		return cl_error_set(err, CL_EBADINPUT,
				    "the reason must be UTF-8 text of at most %d bytes without control characters",
				    REASON_MAX);
	cl_err rc = cl_ingest__account_and_cert(t, email, fingerprint, &a, fp, err);
	if (rc != CL_OK)
		return rc;
	cl_hex_encode(hex, fp, 32);
	cl_buf data = CL_BUF_INIT(CL_ENVELOPE_MAX);
	cl_appended ap, cleared = {0};
	cl_actor who = cl_wtxn__actor(t);
	bool was_primary = a.has_primary && memcmp(a.primary, fp, 32) == 0;
	if (cl_account__find_cert(&a, fp) < 0) {
		rc = cl_error_set(err, CL_EREFUSED, "certificate %s is not linked to %s", hex, a.email);
		goto out;
	}
	if ((rc = cl_cert_unlinked_encode(&data, a.email, fp, reason)) != CL_OK) {
		cl_error_set(err, rc, "cert.unlinked data too large");
		goto out;
	}
	if ((rc = cl_wtxn_append(t, &who, "cert.unlinked", cl_buf_view(&data), &ap, err)) != CL_OK)
		goto out;
	if (was_primary) {
		/* the primary goes with its certificate, in the same transaction, right after it */
		if ((rc = cl_primary_cleared_encode(&data, a.email, fp, "unlinked")) != CL_OK) {
			cl_error_set(err, rc, "primary.cleared data too large");
			goto out;
		}
		if ((rc = cl_wtxn_append(t, &who, "primary.cleared", cl_buf_view(&data), &cleared, err)) != CL_OK)
			goto out;
	}
	fill(out, a.email, fp, &ap);
	if (out)
		out->cleared_seq = cleared.seq;
out:
	cl_buf_free(&data);
	cl_account_rec_free(&a);
	return rc;
}

typedef struct link_ctx {
	const char *email, *fingerprint, *reason;
	bool unlink;
	cl_change *out;
} link_ctx;

static cl_err link_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	link_ctx *c = arg;
	return c->unlink ? cl_ingest__unlink(t, c->email, c->fingerprint, c->reason, c->out, err)
			 : cl_ingest__link(t, c->email, c->fingerprint, c->out, err);
}

cl_err cl_account_link(cl_ledger *l, const char *email, const char *fingerprint, cl_change *out)
{
	link_ctx c = {email, fingerprint, NULL, false, out};
	return cl_ledger__write(l, link_cb, &c, &l->err);
}

cl_err cl_account_unlink(cl_ledger *l, const char *email, const char *fingerprint, const char *reason,
			 cl_change *out)
{
	link_ctx c = {email, fingerprint, reason, true, out};
	return cl_ledger__write(l, link_cb, &c, &l->err);
}
