/* primary_timeline.c - the primary timeline read model and its two queries (see
 * primary_timeline.h). Key: email \0 ts_key(ts) seq (big-endian); value: 32-byte fingerprint,
 * or empty for "no primary". */
#include "projections/primary_timeline.h"

#include <stdlib.h>
#include <string.h>

#include "projections/accounts.h"
#include "projections/events.h"

#define TKEY_MAX (CL_EMAIL_MAX + 1 + 16)

static size_t tl_key(uint8_t out[TKEY_MAX], const char *email, size_t el, int64_t ts, uint64_t seq)
{
	memcpy(out, email, el);
	out[el] = 0;
	cl_proj__ts_key(out + el + 1, ts);
	cl_be64_put(out + el + 9, seq);
	return el + 17;
}

cl_err cl_proj__primary_apply(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	cl_bytes email;
	const uint8_t *fp = NULL;
	cl_err rc;
	if (cl_event_is(ev, "primary.set")) {
		cl_primary_set_data ps;
		rc = cl_primary_set_decode(ev->data, &ps, err);
		email = ps.email;
		fp = ps.fingerprint;
	} else {
		cl_link_data ld;
		rc = cl_primary_cleared_decode(ev->data, &ld, err);
		email = ld.email;
	}
	if (rc != CL_OK)
		return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
	if ((rc = cl_proj__account_event(txn, d, email, ev, err)) != CL_OK)
		return rc;
	uint8_t k[TKEY_MAX];
	char e[CL_EMAIL_MAX + 1];
	memcpy(e, email.ptr, email.len); /* length checked by cl_proj__account_event */
	size_t kl = tl_key(k, e, email.len, ev->ts, ev->seq);
	return cl_proj__index_put(txn, d, d->primary, CL_BYTES(k, kl), fp ? CL_BYTES(fp, 32) : CL_BYTES("", 0), err);
}

/* Whether k is a timeline key of the email (prefix email \0, right length). */
static bool is_of(const MDB_val *k, const char *email, size_t el)
{
	return k->mv_size == el + 17 && memcmp(k->mv_data, email, el) == 0 && ((const uint8_t *)k->mv_data)[el] == 0;
}

/* Positions on the last entry of email with (ts, seq) < (ts, seq) given; *found false if none. */
static cl_err last_before(MDB_cursor *cur, const char *email, size_t el, int64_t ts, uint64_t seq, bool *found,
			  MDB_val *k, MDB_val *v, cl_error *err)
{
	uint8_t key[TKEY_MAX];
	k->mv_size = tl_key(key, email, el, ts, seq);
	k->mv_data = key;
	int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == 0)
		rc = mdb_cursor_get(cur, k, v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, k, v, MDB_LAST);
	*found = false;
	if (rc == MDB_NOTFOUND)
		return CL_OK;
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "cursor");
	*found = is_of(k, email, el);
	return CL_OK;
}

static cl_err value_fp(const MDB_val *v, bool *has, uint8_t fp[32], cl_error *err)
{
	if (v->mv_size == 0) {
		*has = false;
		return CL_OK;
	}
	if (v->mv_size != 32)
		return cl_error_set(err, CL_EINTEGRITY, "primary timeline entry is damaged (run `certledger rebuild`)");
	*has = true;
	memcpy(fp, v->mv_data, 32);
	return CL_OK;
}

cl_err cl_proj__primary_at(MDB_txn *txn, MDB_dbi timeline, const char *email, int64_t at, bool *has,
			   uint8_t fp[32], cl_error *err)
{
	size_t el = strlen(email);
	MDB_cursor *cur;
	MDB_val k, v;
	bool found;
	*has = false;
	if (el > CL_EMAIL_MAX)
		return cl_error_set(err, CL_EBADINPUT, "email address too long");
	int rc = mdb_cursor_open(txn, timeline, &cur);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "cursor");
	/* (email, at, max seq) sorts after every change at or before `at`: one seek, one step back */
	cl_err ret = last_before(cur, email, el, at, UINT64_MAX, &found, &k, &v, err);
	if (ret == CL_OK && found)
		ret = value_fp(&v, has, fp, err);
	mdb_cursor_close(cur);
	return ret;
}

static cl_err push(cl_primary_interval **out, size_t *n, size_t *cap, const uint8_t fp[32], int64_t from,
		   int64_t to, cl_error *err)
{
	if (*n > 0 && (*out)[*n - 1].to == from && memcmp((*out)[*n - 1].fingerprint, fp, 32) == 0) {
		(*out)[*n - 1].to = to; /* the same certificate again, without a gap */
		return CL_OK;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		cl_primary_interval *p = realloc(*out, nc * sizeof(*p));
		if (p == NULL)
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		*out = p;
		*cap = nc;
	}
	memcpy((*out)[*n].fingerprint, fp, 32);
	(*out)[*n].from = from;
	(*out)[*n].to = to;
	(*n)++;
	return CL_OK;
}

cl_err cl_proj__primary_during(MDB_txn *txn, MDB_dbi timeline, const char *email, int64_t from, int64_t to,
			       cl_primary_interval **out, size_t *n, cl_error *err)
{
	size_t el = strlen(email), cap = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	bool found, have = false;
	uint8_t fp[32] = {0};
	*out = NULL;
	*n = 0;
	if (el > CL_EMAIL_MAX)
		return cl_error_set(err, CL_EBADINPUT, "email address too long");
	if (from >= to)
		return CL_OK;
	int rc = mdb_cursor_open(txn, timeline, &cur);
	if (rc != 0)
		return cl_store_mdb_error(err, rc, "cursor");
	/* the primary in force when the period starts: the last change before it */
	cl_err ret = last_before(cur, email, el, from, 0, &found, &k, &v, err);
	if (ret == CL_OK && found)
		ret = value_fp(&v, &have, fp, err);
	int64_t start = from;
	/* then every change inside the period: the entry after the one found, or the first one */
	rc = found ? mdb_cursor_get(cur, &k, &v, MDB_NEXT) : 0;
	if (ret == CL_OK && !found) {
		uint8_t key[TKEY_MAX];
		k.mv_size = tl_key(key, email, el, from, 0);
		k.mv_data = key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	for (; ret == CL_OK && rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!is_of(&k, email, el))
			break;
		int64_t ts = cl_proj__ts_from_key((const uint8_t *)k.mv_data + el + 1);
		if (ts >= to)
			break;
		bool nh = false;
		uint8_t nfp[32] = {0};
		if ((ret = value_fp(&v, &nh, nfp, err)) != CL_OK)
			break;
		if (have && nh && memcmp(fp, nfp, 32) == 0)
			continue; /* set again to the same certificate: one tenure */
		if (have && ts > start)
			ret = push(out, n, &cap, fp, start, ts, err);
		have = nh;
		memcpy(fp, nfp, 32);
		start = ts;
	}
	if (ret == CL_OK && rc != 0 && rc != MDB_NOTFOUND)
		ret = cl_store_mdb_error(err, rc, "cursor");
	if (ret == CL_OK && have && to > start)
		ret = push(out, n, &cap, fp, start, to, err);
	mdb_cursor_close(cur);
	if (ret != CL_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return ret;
}
