/* authority.c - the admin table and the rules of who may sign which event (see authority.h). */
#include "ledger/authority.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/handle.h"
#include "ledger/mp_reader.h"
#include "ledger/mp_writer.h"

static const char *role_names[] = {"none", "owner", "admin", "auditor"};

const char *cl_role_name(cl_role r)
{
	return (unsigned)r < 4 ? role_names[r] : "none";
}

cl_role cl_role_parse(const char *s, size_t n)
{
	for (int r = CL_ROLE_OWNER; r <= CL_ROLE_AUDITOR; r++)
		if (strlen(role_names[r]) == n && memcmp(role_names[r], s, n) == 0)
			return (cl_role)r;
	return CL_ROLE_NONE;
}

bool cl_admin_name_valid(const char *name, size_t n)
{
	if (n == 0 || n > 64 || (n == strlen(CL_LEDGER_ACTOR) && memcmp(name, CL_LEDGER_ACTOR, n) == 0))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

void cl_admins_free(cl_admins *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

const cl_admin *cl_admins_find(const cl_admins *a, const char *name, size_t n)
{
	for (size_t i = 0; i < a->n; i++)
		if (strlen(a->v[i].name) == n && memcmp(a->v[i].name, name, n) == 0)
			return &a->v[i];
	return NULL;
}

static const cl_admin *find_signer(const cl_admins *a, const uint8_t id[CL_SIGNER_ID_LEN])
{
	const cl_admin *found = NULL;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->v[i].signer_id, id, CL_SIGNER_ID_LEN) == 0 && (found == NULL || a->v[i].active))
			found = &a->v[i];
	return found;
}

static size_t active_owners(const cl_admins *a)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].active && a->v[i].role == CL_ROLE_OWNER;
	return n;
}

static bool bytes_is(cl_bytes b, const char *s)
{
	size_t n = strlen(s);
	return b.len == n && memcmp(b.ptr, s, n) == 0;
}

cl_err cl_ledger_created_decode(cl_bytes data, cl_bytes *origin, const uint8_t **public_key,
				cl_bytes *org_domains_array, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n = 0;
	cl_bytes pub;
	cl_mp_reader_init(&r, data);
	const uint8_t *arr_start;
	if (!cl_mp_read_map(&r, &n) || n != 3 || !cl_mp_expect_key(&r, "origin") || !cl_mp_read_str(&r, origin) ||
	    !cl_mp_expect_key(&r, "public_key") || !cl_mp_read_bin_n(&r, CL_ED25519_PUB_LEN, &pub) ||
	    !cl_mp_expect_key(&r, "org_domains"))
		goto bad;
	arr_start = r.p;
	uint32_t m;
	if (!cl_mp_read_array(&r, &m))
		goto bad;
	for (uint32_t i = 0; i < m; i++) {
		cl_bytes d;
		if (!cl_mp_read_str(&r, &d))
			goto bad;
	}
	if (cl_mp_left(&r) != 0)
		goto bad;
	*public_key = pub.ptr;
	if (org_domains_array)
		*org_domains_array = CL_BYTES(arr_start, (size_t)(r.p - arr_start));
	return CL_OK;
bad:
	return cl_error_set(err, CL_EBADINPUT, "malformed ledger.created data: %s",
			    r.error ? r.error : "expected keys origin, public_key, org_domains");
}

cl_err cl_admin_added_decode(cl_bytes data, cl_bytes *name, cl_role *role, const uint8_t **public_key,
			     cl_error *err)
{
	cl_mp_reader r;
	uint32_t n = 0;
	cl_bytes rs, pub;
	cl_mp_reader_init(&r, data);
	if (!cl_mp_read_map(&r, &n) || n != 3 || !cl_mp_expect_key(&r, "name") || !cl_mp_read_str(&r, name) ||
	    !cl_mp_expect_key(&r, "role") || !cl_mp_read_str(&r, &rs) || !cl_mp_expect_key(&r, "public_key") ||
	    !cl_mp_read_bin_n(&r, CL_ED25519_PUB_LEN, &pub) || cl_mp_left(&r) != 0)
		return cl_error_set(err, CL_EBADINPUT, "malformed admin.added data: %s",
				    r.error ? r.error : "expected keys name, role, public_key");
	*role = cl_role_parse((const char *)rs.ptr, rs.len);
	if (*role == CL_ROLE_NONE)
		return cl_error_set(err, CL_EBADINPUT, "admin.added: unknown role '%.*s'", (int)rs.len, rs.ptr);
	*public_key = pub.ptr;
	return CL_OK;
}

cl_err cl_admin_removed_decode(cl_bytes data, cl_bytes *name, cl_error *err)
{
	cl_mp_reader r;
	uint32_t n = 0;
	cl_mp_reader_init(&r, data);
	if (!cl_mp_read_map(&r, &n) || n != 1 || !cl_mp_expect_key(&r, "name") || !cl_mp_read_str(&r, name) ||
	    cl_mp_left(&r) != 0)
		return cl_error_set(err, CL_EBADINPUT, "malformed admin.removed data: %s",
				    r.error ? r.error : "expected key name");
	return CL_OK;
}

static bool is_admin_change(cl_bytes type)
{
	return bytes_is(type, "admin.added") || bytes_is(type, "admin.removed");
}

cl_err cl_admins_check(const cl_admins *a, uint64_t seq, cl_bytes type, cl_bytes actor, cl_bytes data,
		       const uint8_t signer_id[CL_SIGNER_ID_LEN], cl_error *err)
{
	if (seq == 1) {
		const uint8_t *pub;
		cl_bytes origin;
		uint8_t id[CL_SIGNER_ID_LEN];
		if (!bytes_is(type, "ledger.created"))
			return cl_error_set(err, CL_EDENIED, "seq 1 must be ledger.created");
		cl_err rc = cl_ledger_created_decode(data, &origin, &pub, NULL, err);
		if (rc != CL_OK)
			return rc;
		cl_sha256(pub, CL_ED25519_PUB_LEN, id);
		if (memcmp(id, signer_id, CL_SIGNER_ID_LEN) != 0)
			return cl_error_set(err, CL_EDENIED, "ledger.created is not signed by the ledger key it names");
		if (!bytes_is(actor, CL_LEDGER_ACTOR))
			return cl_error_set(err, CL_EDENIED, "ledger.created must have actor '%s'", CL_LEDGER_ACTOR);
		return CL_OK;
	}
	if (!a->have_ledger_key)
		return cl_error_set(err, CL_EDENIED, "no ledger.created at seq 1");
	if (bytes_is(type, "ledger.created"))
		return cl_error_set(err, CL_EDENIED, "ledger.created after seq 1");

	bool by_ledger = memcmp(signer_id, a->ledger_signer_id, CL_SIGNER_ID_LEN) == 0;
	if (by_ledger) {
		cl_bytes name;
		cl_role role;
		const uint8_t *pub;
		bool ever_owner = false;
		for (size_t i = 0; i < a->n; i++)
			ever_owner |= a->v[i].role == CL_ROLE_OWNER;
		if (!bytes_is(type, "admin.added") || ever_owner)
			return cl_error_set(err, CL_EDENIED, "the ledger key may not sign %.*s", (int)type.len, type.ptr);
		if (cl_admin_added_decode(data, &name, &role, &pub, err) != CL_OK)
			return err ? err->code : CL_EBADINPUT;
		if (role != CL_ROLE_OWNER)
			return cl_error_set(err, CL_EDENIED, "the ledger key may only register the first owner");
		if (!bytes_is(actor, CL_LEDGER_ACTOR))
			return cl_error_set(err, CL_EDENIED, "events signed by the ledger key must have actor '%s'",
					    CL_LEDGER_ACTOR);
	} else {
		const cl_admin *who = cl_admins_find(a, (const char *)actor.ptr, actor.len);
		if (who == NULL) {
			const cl_admin *owner_of_key = find_signer(a, signer_id);
			if (owner_of_key != NULL)
				return cl_error_set(err, CL_EDENIED,
						    "actor '%.*s' is not an admin (the signing key is admin '%s')",
						    (int)actor.len, actor.ptr, owner_of_key->name);
			return cl_error_set(err, CL_EDENIED, "no admin named '%.*s'", (int)actor.len, actor.ptr);
		}
		if (memcmp(who->signer_id, signer_id, CL_SIGNER_ID_LEN) != 0)
			return cl_error_set(err, CL_EDENIED, "the signing key is not the key of admin '%s'", who->name);
		if (!who->active)
			return cl_error_set(err, CL_EDENIED, "admin '%s' was removed at seq %llu", who->name,
					    (unsigned long long)who->removed_seq);
		if (who->role == CL_ROLE_AUDITOR)
			return cl_error_set(err, CL_EDENIED, "auditor '%s' may not make changes (%.*s)", who->name,
					    (int)type.len, type.ptr);
		if (is_admin_change(type) && who->role != CL_ROLE_OWNER)
			return cl_error_set(err, CL_EDENIED, "only an owner may add or remove admins ('%s' is %s)",
					    who->name, cl_role_name(who->role));
	}

	if (bytes_is(type, "admin.added")) {
		cl_bytes name;
		cl_role role;
		const uint8_t *pub;
		cl_err rc = cl_admin_added_decode(data, &name, &role, &pub, err);
		if (rc != CL_OK)
			return rc;
		if (!cl_admin_name_valid((const char *)name.ptr, name.len))
			return cl_error_set(err, CL_EBADINPUT, "invalid admin name '%.*s'", (int)name.len, name.ptr);
		if (cl_admins_find(a, (const char *)name.ptr, name.len) != NULL)
			return cl_error_set(err, CL_EREFUSED, "admin '%.*s' exists already (names are never reused)",
					    (int)name.len, name.ptr);
		if (memcmp(pub, a->ledger_pub, CL_ED25519_PUB_LEN) == 0)
			return cl_error_set(err, CL_EREFUSED, "an admin may not use the ledger key");
	} else if (bytes_is(type, "admin.removed")) {
		cl_bytes name;
		cl_err rc = cl_admin_removed_decode(data, &name, err);
		if (rc != CL_OK)
			return rc;
		const cl_admin *target = cl_admins_find(a, (const char *)name.ptr, name.len);
		if (target == NULL || !target->active)
			return cl_error_set(err, CL_ENOTFOUND, "no active admin named '%.*s'", (int)name.len, name.ptr);
		if (target->role == CL_ROLE_OWNER && active_owners(a) <= 1)
			return cl_error_set(err, CL_EREFUSED, "cannot remove '%s': it is the last owner", target->name);
	}
	return CL_OK;
}

cl_err cl_admins_apply(cl_admins *a, uint64_t seq, cl_bytes type, cl_bytes data, cl_error *err)
{
	if (bytes_is(type, "ledger.created")) {
		cl_bytes origin;
		const uint8_t *pub;
		cl_err rc = cl_ledger_created_decode(data, &origin, &pub, NULL, err);
		if (rc != CL_OK)
			return rc;
		memcpy(a->ledger_pub, pub, CL_ED25519_PUB_LEN);
		cl_sha256(pub, CL_ED25519_PUB_LEN, a->ledger_signer_id);
		a->have_ledger_key = true;
	} else if (bytes_is(type, "admin.added")) {
		cl_bytes name;
		cl_role role;
		const uint8_t *pub;
		cl_err rc = cl_admin_added_decode(data, &name, &role, &pub, err);
		if (rc != CL_OK)
			return rc;
		if (name.len > CL_ACTOR_MAX)
			return cl_error_set(err, CL_EBADINPUT, "admin name too long");
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 8;
			cl_admin *v = realloc(a->v, cap * sizeof(*v));
			if (v == NULL)
				return cl_error_set(err, CL_ENOMEM, "out of memory");
			a->v = v;
			a->cap = cap;
		}
		cl_admin *ad = &a->v[a->n++];
		memset(ad, 0, sizeof(*ad));
		memcpy(ad->name, name.ptr, name.len);
		ad->role = role;
		ad->active = true;
		memcpy(ad->pub, pub, CL_ED25519_PUB_LEN);
		cl_sha256(pub, CL_ED25519_PUB_LEN, ad->signer_id);
		ad->added_seq = seq;
	} else if (bytes_is(type, "admin.removed")) {
		cl_bytes name;
		cl_err rc = cl_admin_removed_decode(data, &name, err);
		if (rc != CL_OK)
			return rc;
		cl_admin *ad = (cl_admin *)cl_admins_find(a, (const char *)name.ptr, name.len);
		if (ad != NULL) {
			ad->active = false;
			ad->removed_seq = seq;
		}
	}
	return CL_OK;
}

/* meta "admins": [ledger_pub bin32, [[name, role, pub, added_seq, removed_seq], ...]] */
cl_err cl_admins_save(const cl_admins *a, cl_store *s, MDB_txn *txn, cl_error *err)
{
	cl_buf buf = CL_BUF_INIT(1 << 20);
	cl_mp_writer w;
	cl_mp_writer_init(&w, &buf);
	cl_mp_array(&w, 2);
	cl_mp_bin(&w, a->ledger_pub, CL_ED25519_PUB_LEN);
	cl_mp_array(&w, (uint32_t)a->n);
	for (size_t i = 0; i < a->n; i++) {
		cl_mp_array(&w, 5);
		cl_mp_str(&w, a->v[i].name);
		cl_mp_uint(&w, a->v[i].role);
		cl_mp_bin(&w, a->v[i].pub, CL_ED25519_PUB_LEN);
		cl_mp_uint(&w, a->v[i].added_seq);
		cl_mp_uint(&w, a->v[i].removed_seq);
	}
	cl_err rc = w.rc;
	if (rc == CL_OK)
		rc = cl_meta_put(s, txn, "admins", cl_buf_view(&buf), err);
	else
		cl_error_set(err, rc, "cannot encode the admin table");
	cl_buf_free(&buf);
	return rc;
}

cl_err cl_admins_load(cl_admins *a, cl_store *s, MDB_txn *txn, cl_error *err)
{
	cl_bytes v;
	cl_admins_free(a);
	a->have_ledger_key = false;
	cl_err rc = cl_meta_get(s, txn, "admins", &v);
	if (rc == CL_ENOTFOUND)
		return CL_OK; /* a ledger being created */
	if (rc != CL_OK)
		return cl_error_set(err, rc, "cannot read the admin table");
	cl_mp_reader r;
	uint32_t n, m, k;
	cl_bytes pub;
	cl_mp_reader_init(&r, v);
	if (!cl_mp_read_array(&r, &n) || n != 2 || !cl_mp_read_bin_n(&r, CL_ED25519_PUB_LEN, &pub) ||
	    !cl_mp_read_array(&r, &m))
		goto bad;
	memcpy(a->ledger_pub, pub.ptr, CL_ED25519_PUB_LEN);
	cl_sha256(pub.ptr, CL_ED25519_PUB_LEN, a->ledger_signer_id);
	a->have_ledger_key = true;
	a->v = calloc(m ? m : 1, sizeof(cl_admin));
	if (a->v == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	a->cap = m ? m : 1;
	for (uint32_t i = 0; i < m; i++) {
		cl_admin *ad = &a->v[i];
		cl_bytes name, apub;
		uint64_t role;
		if (!cl_mp_read_array(&r, &k) || k != 5 || !cl_mp_read_str(&r, &name) || name.len > CL_ACTOR_MAX ||
		    !cl_mp_read_uint(&r, &role) || role > CL_ROLE_AUDITOR ||
		    !cl_mp_read_bin_n(&r, CL_ED25519_PUB_LEN, &apub) || !cl_mp_read_uint(&r, &ad->added_seq) ||
		    !cl_mp_read_uint(&r, &ad->removed_seq))
			goto bad;
		memcpy(ad->name, name.ptr, name.len);
		ad->role = (cl_role)role;
		memcpy(ad->pub, apub.ptr, CL_ED25519_PUB_LEN);
		cl_sha256(ad->pub, CL_ED25519_PUB_LEN, ad->signer_id);
		ad->active = ad->removed_seq == 0;
		a->n++;
	}
	return CL_OK;
bad:
	cl_admins_free(a);
	return cl_error_set(err, CL_EINTEGRITY, "the admin table in meta is damaged");
}
