/* mp_reader.h - a bounds-checked msgpack cursor for strict decoding of untrusted bytes.
 *
 * Every read checks the declared length against what is left before touching it, so a hostile
 * length prefix is an error, never an over-read or an allocation. Strings and bins are returned
 * as borrowed views into the input (not NUL-terminated). On the first failure the reader is
 * marked bad and every later read fails too, so a decoder can check once at the end.
 */
#ifndef CL_LEDGER_MP_READER_H
#define CL_LEDGER_MP_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/bytes.h"

typedef enum {
	CL_MP_NIL, CL_MP_BOOL, CL_MP_UINT, CL_MP_INT, CL_MP_FLOAT, CL_MP_STR, CL_MP_BIN,
	CL_MP_ARRAY, CL_MP_MAP, CL_MP_EXT, CL_MP_INVALID
} cl_mp_type;

typedef struct cl_mp_reader {
	const uint8_t *p;
	const uint8_t *end;
	const char *error; /* NULL while good: a static description of the first failure */
	int depth;         /* nesting guard for cl_mp_skip */
} cl_mp_reader;

void cl_mp_reader_init(cl_mp_reader *r, cl_bytes in);
static inline bool cl_mp_ok(const cl_mp_reader *r) { return r->error == NULL; }
static inline size_t cl_mp_left(const cl_mp_reader *r) { return (size_t)(r->end - r->p); }

/* The type of the next item without consuming it (CL_MP_INVALID at the end or when bad). */
cl_mp_type cl_mp_peek(cl_mp_reader *r);

bool cl_mp_read_array(cl_mp_reader *r, uint32_t *n);
bool cl_mp_read_map(cl_mp_reader *r, uint32_t *n);
bool cl_mp_read_uint(cl_mp_reader *r, uint64_t *v);   /* positive fixint or uint8..64 */
bool cl_mp_read_int(cl_mp_reader *r, int64_t *v);     /* any integer that fits int64 */
bool cl_mp_read_bool(cl_mp_reader *r, bool *v);
bool cl_mp_read_nil(cl_mp_reader *r);
bool cl_mp_read_str(cl_mp_reader *r, cl_bytes *s);
bool cl_mp_read_bin(cl_mp_reader *r, cl_bytes *b);
/* A bin of exactly n bytes. */
bool cl_mp_read_bin_n(cl_mp_reader *r, size_t n, cl_bytes *b);
/* Reads a str and checks it equals key (for fixed key order decoding). */
bool cl_mp_expect_key(cl_mp_reader *r, const char *key);
/* Skips one complete item of any type (nesting limited to 32 levels). */
bool cl_mp_skip(cl_mp_reader *r);
/* Marks the reader bad with a static message; returns false. */
bool cl_mp_fail(cl_mp_reader *r, const char *why);

#endif
