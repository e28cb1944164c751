/* account_events.c - strict decoding of the data of account.created, cert.linked,
 * cert.unlinked, primary.set and primary.cleared (see account_events.h). */
#include "export/account_events.h"

#include <string.h>

#include "ledger/mp_reader.h"

static bool str_array(cl_mp_reader *r)
{
	uint32_t n;
	cl_bytes s;
	if (!cl_mp_read_array(r, &n))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!cl_mp_read_str(r, &s))
			return false;
	return true;
}

static bool email_fp(cl_mp_reader *r, cl_account_event *out)
{
	cl_bytes fp;
	if (!cl_mp_expect_key(r, "email") || !cl_mp_read_str(r, &out->email) || !cl_mp_expect_key(r, "fingerprint") ||
	    !cl_mp_read_bin_n(r, 32, &fp))
		return false;
	out->fingerprint = fp.ptr;
	return true;
}

cl_err cl_export__account_event(const cl_event *ev, cl_account_event *out, cl_error *err)
{
	static const struct { const char *type; cl_aev_kind kind; uint32_t keys; } types[] = {
		{"account.created", CL_AEV_CREATED, 3}, {"cert.linked", CL_AEV_LINKED, 2},
		{"cert.unlinked", CL_AEV_UNLINKED, 3}, {"primary.set", CL_AEV_PRIMARY_SET, 4},
		{"primary.cleared", CL_AEV_PRIMARY_CLEARED, 3},
	};
	memset(out, 0, sizeof(*out));
	size_t t = 0;
	while (t < sizeof(types) / sizeof(types[0]) && !cl_event_is(ev, types[t].type))
		t++;
	if (t == sizeof(types) / sizeof(types[0]))
		return CL_OK;
	out->kind = types[t].kind;
	cl_mp_reader r;
	uint32_t n;
	bool b, ok;
	cl_bytes s;
	cl_mp_reader_init(&r, ev->data);
	ok = cl_mp_read_map(&r, &n) && n == types[t].keys;
	switch (out->kind) {
	case CL_AEV_CREATED:
		ok = ok && cl_mp_expect_key(&r, "email") && cl_mp_read_str(&r, &out->email) &&
		     cl_mp_expect_key(&r, "kind") && cl_mp_read_str(&r, &out->account_kind) &&
		     cl_mp_expect_key(&r, "name") && cl_mp_read_str(&r, &out->name);
		break;
	case CL_AEV_LINKED: ok = ok && email_fp(&r, out); break;
	case CL_AEV_UNLINKED:
	case CL_AEV_PRIMARY_CLEARED:
		ok = ok && email_fp(&r, out) && cl_mp_expect_key(&r, "reason") && cl_mp_read_str(&r, &s);
		break;
	case CL_AEV_PRIMARY_SET:
		ok = ok && email_fp(&r, out) && cl_mp_expect_key(&r, "forced") && cl_mp_read_bool(&r, &b) &&
		     cl_mp_expect_key(&r, "overridden") && str_array(&r);
		break;
	default: ok = false;
	}
	if (!ok || cl_mp_left(&r) != 0 || out->email.len == 0)
		return cl_error_set(err, CL_EINTEGRITY, "seq %llu: %s data does not follow docs/events.md (%s)",
				    (unsigned long long)ev->seq, types[t].type,
				    r.error ? r.error : "wrong keys or trailing bytes");
	return CL_OK;
}
