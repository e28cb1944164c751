/* certledger/import.h - bulk requests from a JSON Lines file (`certledger import`).
 *
 * One JSON object a line (blank lines are skipped):
 *   {"op":"account.create","email":E,"kind":"internal"|"external" (optional),"name":N (optional)}
 *   {"op":"cert.upload","pem":TEXT | "der_b64":B64 | "p12_b64":B64,"name":N (optional)}
 *   {"op":"link","email":E,"fingerprint":FP}
 *   {"op":"unlink","email":E,"fingerprint":FP,"reason":TEXT (optional)}
 *   {"op":"primary.set","email":E,"fingerprint":FP,"force":BOOL (optional)}
 *   {"op":"primary.clear","email":E}
 * Each op is validated like its command, against the state left by the ops before it. `batch`
 * ops share one write transaction; a refused op refuses its whole batch (nothing of it is
 * written), the import stops there, and the batches before it stay. Unknown keys are refused.
 */
#ifndef CERTLEDGER_IMPORT_H
#define CERTLEDGER_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CL_IMPORT_OPTS_VERSION 1
typedef struct cl_import_opts {
	unsigned version;
	size_t batch;              /* ops per transaction; 0: 1000 */
	bool dry_run;              /* validate every line in one transaction that is then abandoned */
	const char *password;      /* for p12_b64 ops; borrowed, not NUL-terminated; may be NULL */
	size_t password_len;
	const char *password_file; /* or: the first line of this file (read and wiped by the library) */
	cl_progress_fn progress;   /* (lines done, lines in the file); may be NULL */
	void *progress_ctx;
} cl_import_opts;
#define CL_IMPORT_OPTS_INIT {CL_IMPORT_OPTS_VERSION, 0, false, NULL, 0, NULL, NULL, NULL}

typedef struct cl_import_result {
	uint64_t applied;          /* ops written (dry run: ops that would be, in the batches before a refusal) */
	uint64_t events;           /* events written (dry run: that would be) */
	uint64_t refused_line;     /* the line of the refused op; 0 when none */
	uint64_t lines;            /* lines read */
} cl_import_result;

/* Imports path. On a refused op returns CL_EREFUSED (CL_EDENIED when the acting admin may not
 * write at all) with "line N: <why>" on the handle, and out tells what was written before it.
 * Environment failures keep their own codes. out is filled in every case. */
cl_err cl_import_jsonl(cl_ledger *l, const char *path, const cl_import_opts *opts, cl_import_result *out)
	__attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
