/* strmap.h - a small string-keyed hash map (open addressing, linear probing) for the exports
 * that keep per-account state in memory: the CSV timeline and replay. Keys are copied; values
 * are caller-owned pointers. Not thread-safe; no global state. */
#ifndef CL_EXPORT_STRMAP_H
#define CL_EXPORT_STRMAP_H

#include <stddef.h>

#include "certledger/error.h"

typedef struct cl_strmap_slot {
	char *key; /* NULL: empty */
	size_t keylen;
	void *value;
} cl_strmap_slot;

typedef struct cl_strmap {
	cl_strmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
} cl_strmap;

#define CL_STRMAP_INIT {NULL, 0, 0}

/* The value stored under key (n bytes), or NULL. */
void *cl_strmap_get(const cl_strmap *m, const char *key, size_t n);
/* Stores value under key, replacing any old value (which is not freed). When interned is not
 * NULL it receives the map's own NUL-terminated copy of the key, which stays put (and valid)
 * until cl_strmap_free. CL_ENOMEM. */
cl_err cl_strmap_put(cl_strmap *m, const char *key, size_t n, void *value, const char **interned)
	__attribute__((warn_unused_result));
/* Frees the keys and the table. Values are the caller's: walk slots[0..cap) (key != NULL) to free
 * them first. */
void cl_strmap_free(cl_strmap *m);

#endif
