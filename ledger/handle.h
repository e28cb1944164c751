/* handle.h - the inside of a cl_ledger handle, shared by the ledger's own files and by the
 * layers above (projections, ingest, export) through cl_ledger__* functions. */
#ifndef CL_LEDGER_HANDLE_H
#define CL_LEDGER_HANDLE_H

#include "certledger/ledger.h"
#include "ledger/envelope.h"
#include "ledger/keys.h"
#include "ledger/store.h"

#define CL_LEDGER_ACTOR "ledger" /* the actor name of events signed by the ledger key */

struct cl_wtxn;

/* Called for every event appended, inside its write transaction and before the next append,
 * so that read models see earlier events of the same transaction. The event's sig, signer and
 * envelope are not set yet (signing happens at commit). */
typedef cl_err (*cl_apply_fn)(struct cl_wtxn *t, const cl_event *ev, void *ctx, cl_error *err);

struct cl_ledger {
	cl_store *store;
	char *dir;
	char *key_dir;
	char *master_key_path;
	cl_key *ledger_key;   /* private when the key file is readable, else public only */
	char origin[256];
	char ledger_id[33];
	cl_clock_fn clock;
	void *clock_ctx;
	cl_apply_fn apply;
	void *apply_ctx;
	char *actor_name;     /* acting admin */
	cl_key *actor_key;    /* NULL when read-only or when it could not be loaded */
	char actor_key_error[CL_ERRMSG_MAX]; /* why actor_key is NULL */
	bool read_only;
	int threads;          /* signing/verify threads (cores) */
	cl_error err;
};

/* Creates a ledger (see cl_ledger_init) with `apply` attached for its first events. */
cl_err cl_ledger__init_raw(cl_ledger **out, const char *dir, const cl_init_opts *init, const cl_open_opts *opts,
			  cl_apply_fn apply, void *apply_ctx, cl_error *err);
/* Opens the ledger without any read model attached (the projections layer wraps this). */
cl_err cl_ledger__open_raw(cl_ledger **out, const char *dir, const cl_open_opts *opts, cl_error *err);
void cl_ledger__set_apply(cl_ledger *l, cl_apply_fn fn, void *ctx);
int64_t cl_ledger__now(cl_ledger *l);

/* Path helpers: "<key_dir>/<name>.key" (malloc'd). */
char *cl_ledger__key_path(const cl_ledger *l, const char *name);

#endif
