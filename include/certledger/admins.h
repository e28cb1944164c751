/* certledger/admins.h - named admins with their own Ed25519 keys and roles.
 *
 * Roles: owner (everything, including adding and removing admins), admin (every change except
 * admins), auditor (reads, verifies and exports; signs nothing). Only an owner may add or
 * remove admins; the last owner cannot be removed; names are never reused. The acting admin is
 * chosen when the ledger is opened (cl_open_opts.actor / actor_key_path).
 */
#ifndef CERTLEDGER_ADMINS_H
#define CERTLEDGER_ADMINS_H

#include <stdbool.h>
#include <stdint.h>

#include "certledger/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_admin_info {
	char name[129];
	char role[16];          /* owner, admin, auditor */
	uint8_t public_key[32];
	uint64_t added_seq;
	uint64_t removed_seq;   /* 0 while active */
} cl_admin_info;

/* Adds an admin with the public key in public_key_path (SPKI PEM or PKCS#8 PEM, Ed25519), or,
 * when generate_key_out is set instead, generates a key pair and writes the private key there
 * (PKCS#8 PEM, 0600, never overwriting a file). role: "admin" or "auditor" ("owner" also
 * accepted). Refused (nothing written) unless the acting admin is an owner. */
cl_err cl_admin_add(cl_ledger *l, const char *name, const char *role, const char *public_key_path,
		    const char *generate_key_out, cl_admin_info *out);
cl_err cl_admin_remove(cl_ledger *l, const char *name, uint64_t *seq);

typedef int (*cl_admin_cb)(const cl_admin_info *a, void *ctx);
/* Every admin ever added, in the order they were added (removed ones too). */
cl_err cl_admin_list(cl_ledger *l, cl_admin_cb cb, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
