/* links.c - applying cert.linked / cert.unlinked to both sides of a link (see links.h). */
#include "projections/links.h"

#include <string.h>

#include "projections/accounts.h"
#include "projections/certs.h"
#include "projections/events.h"

cl_err cl_proj__link_apply(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err)
{
	cl_link_data ld;
	bool add = cl_event_is(ev, "cert.linked");
	cl_err rc = add ? cl_cert_linked_decode(ev->data, &ld, err) : cl_cert_unlinked_decode(ev->data, &ld, err);
	if (rc != CL_OK)
		return cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
	if ((rc = cl_proj__account_event(txn, d, ld.email, ev, err)) != CL_OK)
		return rc;
	char email[CL_EMAIL_MAX + 1];
	memcpy(email, ld.email.ptr, ld.email.len); /* length checked by cl_proj__account_event */
	email[ld.email.len] = '\0';
	rc = cl_proj__cert_link(txn, d, ld.fingerprint, email, add, err);
	if (rc == CL_ENOTFOUND)
		rc = cl_error_set(err, CL_EINTEGRITY, "seq %llu names a certificate that was never uploaded",
				  (unsigned long long)ev->seq);
	return rc;
}
