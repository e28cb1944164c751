/* certledger/ledger.h - opening and creating a ledger, and the log, verify, checkpoint and proof
 * operations every other part of certledger stands on.
 *
 * A cl_ledger is an opaque handle on one ledger directory. One handle per process is enough;
 * it may be used from several threads for reads. Functions return cl_err (0 or a negative
 * CL_E* code); the message naming the input at fault is in cl_ledger_error(l) (or in the
 * cl_error passed to the functions that run without a handle).
 */
#ifndef CERTLEDGER_LEDGER_H
#define CERTLEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certledger/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_ledger cl_ledger;

/* Returns microseconds since the Unix epoch (UTC). Tests inject one to write a history across
 * months; the CLI always uses the real clock. */
typedef int64_t (*cl_clock_fn)(void *ctx);

#define CL_OPEN_OPTS_VERSION 1
typedef struct cl_open_opts {
	unsigned version;
	const char *key_dir;         /* default: <dir>/keys */
	const char *master_key_path; /* default: <key_dir>/master.key */
	cl_clock_fn clock;           /* default: the system clock */
	void *clock_ctx;
	const char *actor;           /* acting admin's name; default: the owner made by init */
	const char *actor_key_path;  /* that admin's private key file; default <key_dir>/<actor>.key */
	bool read_only;              /* no key is needed; writes are refused */
} cl_open_opts;
#define CL_OPEN_OPTS_INIT {CL_OPEN_OPTS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, false}

#define CL_INIT_OPTS_VERSION 1
typedef struct cl_init_opts {
	unsigned version;
	const char *origin;             /* checkpoint origin; default certledger/<random hex> */
	const char *const *org_domains; /* NULL-terminated list, may be NULL */
	const char *owner_name;         /* default "owner" */
} cl_init_opts;
#define CL_INIT_OPTS_INIT {CL_INIT_OPTS_VERSION, NULL, NULL, NULL}

/* Creates a new ledger in dir (which must not hold one): the LMDB environment, the ledger's
 * Ed25519 key, the owner's key and the master key (each 0600, in a key directory beside the
 * environment), then the `ledger.created` and `admin.added` events. On failure nothing is left
 * behind that a later init would trip over. */
cl_err cl_ledger_init(cl_ledger **out, const char *dir, const cl_init_opts *init,
		      const cl_open_opts *opts, cl_error *err) __attribute__((warn_unused_result));
cl_err cl_ledger_open(cl_ledger **out, const char *dir, const cl_open_opts *opts, cl_error *err)
	__attribute__((warn_unused_result));
void cl_ledger_free(cl_ledger *l);

/* The message of the last failed call on this handle (never NULL; empty when none). */
const char *cl_ledger_error(const cl_ledger *l);

typedef struct cl_ledger_info {
	char ledger_id[33];     /* 32 hex digits */
	char origin[256];
	uint8_t public_key[32]; /* the ledger's raw Ed25519 key */
	uint64_t head_seq;
	uint8_t head_hash[32];  /* id of the last event (zeros when empty) */
} cl_ledger_info;
cl_err cl_ledger_get_info(cl_ledger *l, cl_ledger_info *out);

/* The C2SP note verifier key "origin+keyid+base64(0x01||key)", malloc'd. */
char *cl_ledger_verifier_key(cl_ledger *l);

/* One event as the public API shows it. Every pointer is borrowed for the duration of the
 * callback only. data_json is the event's data as JSON text (binary as hex, times RFC 3339). */
typedef struct cl_event_info {
	uint64_t seq;
	int64_t ts;
	const char *type;
	const char *actor;
	uint8_t id[32];
	const char *data_json;
	const uint8_t *envelope;
	size_t envelope_len;
} cl_event_info;

/* Return non-zero from the callback to stop early (that value is not an error). */
typedef int (*cl_event_cb)(const cl_event_info *ev, void *ctx);

typedef struct cl_log_filter {
	uint64_t from_seq; /* 0: from the start */
	uint64_t to_seq;   /* 0: to the end */
	int64_t since;     /* microseconds; INT64_MIN: no bound */
	int64_t until;     /* exclusive; INT64_MAX: no bound */
} cl_log_filter;
#define CL_LOG_FILTER_ALL {0, 0, INT64_MIN, INT64_MAX}

cl_err cl_log_each(cl_ledger *l, const cl_log_filter *f, cl_event_cb cb, void *ctx);
/* The event at seq (CL_ENOTFOUND if none). */
cl_err cl_log_get(cl_ledger *l, uint64_t seq, cl_event_cb cb, void *ctx);

typedef struct cl_verify_result {
	bool ok;
	uint64_t events;
	uint64_t head;
	uint64_t bad_seq;    /* 0 when ok or when the fault is not in one event */
	char reason[512];
} cl_verify_result;

/* Progress: called now and then with the number of events checked and the total. */
typedef void (*cl_progress_fn)(uint64_t done, uint64_t total, void *ctx);

/* Checks everything DESIGN.md lists under Verification, from seq 1 (signature checks start at
 * from_seq when it is > 1; the chain is always walked in full). Returns CL_OK when verification
 * ran (look at result->ok) and an error only when it could not run. */
cl_err cl_ledger_verify(cl_ledger *l, uint64_t from_seq, cl_verify_result *result, cl_progress_fn progress,
			void *progress_ctx);

/* Signs a checkpoint for the current tree if it grew since the latest one, and returns the
 * latest checkpoint: its size, root and note text (malloc'd, NUL-terminated). */
cl_err cl_ledger_checkpoint(cl_ledger *l, uint64_t *size, uint8_t root[32], char **note);
/* The latest stored checkpoint without signing a new one (CL_ENOTFOUND if none). */
cl_err cl_ledger_latest_checkpoint(cl_ledger *l, uint64_t *size, uint8_t root[32], char **note);

/* RFC 9162 proofs. hashes is malloc'd, n * 32 bytes. size 0 means the latest checkpoint. */
cl_err cl_ledger_inclusion_proof(cl_ledger *l, uint64_t seq, uint64_t size, uint8_t leaf_hash[32],
				 uint64_t *size_used, uint8_t **hashes, size_t *n);
cl_err cl_ledger_consistency_proof(cl_ledger *l, uint64_t old_size, uint64_t new_size, uint8_t **hashes,
				   size_t *n);

#ifdef __cplusplus
}
#endif
#endif
