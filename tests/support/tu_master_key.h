/* tu_master_key.h - master key files as the tests handle them: the 32 key bytes of a key file,
 * and the state that a crash between a rotation's commit and its rename leaves behind. */
#ifndef CL_TU_MASTER_KEY_H
#define CL_TU_MASTER_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/bytes.h"

/* The key of a master key file's bytes (8-byte magic, then 32 key bytes) into out (a cl_secret
 * of max >= 32). Fails the test on any other length. */
void tu_master_key_from_file(cl_secret *out, const uint8_t *file, size_t len);

/* After a completed rotation of the key file at path, whose file held old (len bytes) before:
 * renames path to "<path>.new" and writes old back to path (0600), which is what a crash right
 * after the rotation's commit, before its rename, leaves. */
void tu_master_key_crash_window(const char *path, const uint8_t *old, size_t len);

#endif
