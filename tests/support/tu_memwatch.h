/* tu_memwatch.h - OpenSSL's allocator hooked so that a test sees every block OpenSSL frees and
 * can tell whether watched bytes (a plaintext, a data key, a password) were left in one, or
 * whether one particular block was all zeros when it was freed.
 *
 * cl_secret buffers come from OPENSSL_secure_*, which without a secure heap falls back to the
 * hooked allocator, so they are seen too; a plain malloc is not. tu_memwatch_install must run
 * first thing in main, before OpenSSL allocates anything.
 */
#ifndef CL_TU_MEMWATCH_H
#define CL_TU_MEMWATCH_H

#include <stddef.h>

#define TU_MEMWATCH_SLOTS 4

/* Hooks OpenSSL's allocator. 0 on success, -1 when OpenSSL refuses (it allocated already). */
int tu_memwatch_install(void);

/* Watches the n bytes at p in slot (0..TU_MEMWATCH_SLOTS-1); p must stay valid while watched.
 * p NULL stops watching that slot. */
void tu_memwatch_set(int slot, const void *p, size_t n);

/* Stops watching every slot and zeroes the counts. */
void tu_memwatch_reset(void);

/* How many freed blocks held a watched run since the last reset (tolerated ones included).
 * Each one not tolerated is also reported on stderr with the file that freed it. */
int tu_memwatch_found(void);

/* Found blocks freed in a source file whose name contains file_part (NULL: none) are known
 * leftovers of a library: counted apart by tu_memwatch_found_tolerated, not reported. The
 * string must stay valid; tu_memwatch_reset does not clear it. */
void tu_memwatch_tolerate(const char *file_part);
int tu_memwatch_found_tolerated(void);

/* Watches block (NULL: none) to see whether it is all zeros when it is freed. */
void tu_memwatch_track(const void *block);
/* What became of the tracked block: 0 not freed (yet), 1 freed all zeros, -1 freed holding data. */
int tu_memwatch_tracked(void);

#endif
