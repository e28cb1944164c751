/* open.c - the public cl_ledger_init / cl_ledger_open: the ledger with its read models
 * attached, so that every event any layer appends updates them in the same transaction. */
#include "certledger/ledger.h"
#include "ledger/handle.h"
#include "projections/proj.h"

cl_err cl_ledger_init(cl_ledger **out, const char *dir, const cl_init_opts *init, const cl_open_opts *opts,
		      cl_error *err)
{
	return cl_ledger__init_raw(out, dir, init, opts, cl_proj__apply, NULL, err);
}

cl_err cl_ledger_open(cl_ledger **out, const char *dir, const cl_open_opts *opts, cl_error *err)
{
	cl_err rc = cl_ledger__open_raw(out, dir, opts, err);
	if (rc == CL_OK)
		cl_ledger__set_apply(*out, cl_proj__apply, NULL);
	return rc;
}
