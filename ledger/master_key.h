/* master_key.h - the ledger's master key file: 32 random bytes that wrap every per-certificate
 * data key (and webhook secret). It lives outside the LMDB environment, mode 0600, and is never
 * inside an export. File layout: 8-byte magic "CLMK\0\1\0\0" then the 32 key bytes; it is read
 * and written with read()/write() straight to and from wiping secret buffers (no stdio). */
#ifndef CL_LEDGER_MASTER_KEY_H
#define CL_LEDGER_MASTER_KEY_H

#include "ledger/bytes.h"

#define CL_MASTER_KEY_LEN 32

/* Creates a new master key file (O_EXCL, 0600) with fresh random bytes. */
cl_err cl_master_key_create(const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Loads the key into out (a cl_secret of exactly 32 bytes). Refuses a file readable by group or
 * others, a wrong size or magic. */
cl_err cl_master_key_load(cl_secret *out, const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Generates a new key, writes it to path.new (0600), fsyncs, and returns it in out WITHOUT
 * replacing path yet: the caller re-wraps under it, commits, then calls cl_master_key_install. */
cl_err cl_master_key_prepare(cl_secret *out, const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Atomically renames path.new over path and fsyncs the directory. */
cl_err cl_master_key_install(const char *path, cl_error *err) __attribute__((warn_unused_result));
/* Removes a prepared path.new (after a failed rotation). */
void cl_master_key_discard(const char *path);

#endif
