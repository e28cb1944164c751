/* links.h - links between accounts and certificates as the read models keep them: the
 * account's list of fingerprints (p_accounts) and the certificate's list of accounts (p_certs),
 * both changed by cert.linked and cert.unlinked. */
#ifndef CL_PROJ_LINKS_H
#define CL_PROJ_LINKS_H

#include "projections/proj.h"

/* Applies cert.linked or cert.unlinked to both sides. */
cl_err cl_proj__link_apply(MDB_txn *txn, const cl_proj_dbs *d, const cl_event *ev, cl_error *err);

#endif
