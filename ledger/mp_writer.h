/* mp_writer.h - msgpack encoding (msgpack-c's packer) into a bounded cl_buf.
 *
 * The first failure (out of memory, over the buffer's maximum) sticks in w->rc and later writes
 * do nothing, so an encoder checks once at the end. Never used for secrets: cl_buf reallocs
 * without wiping.
 */
#ifndef CL_LEDGER_MP_WRITER_H
#define CL_LEDGER_MP_WRITER_H

#include <msgpack.h>
#include <stdbool.h>
#include <string.h>

#include "ledger/bytes.h"

typedef struct cl_mp_writer {
	msgpack_packer pk;
	cl_buf *buf;
	cl_err rc;
} cl_mp_writer;

void cl_mp_writer_init(cl_mp_writer *w, cl_buf *buf);

void cl_mp_map(cl_mp_writer *w, uint32_t n);
void cl_mp_array(cl_mp_writer *w, uint32_t n);
void cl_mp_str(cl_mp_writer *w, const char *s); /* NUL-terminated */
void cl_mp_strn(cl_mp_writer *w, const void *s, size_t n);
void cl_mp_bin(cl_mp_writer *w, const void *b, size_t n);
void cl_mp_uint(cl_mp_writer *w, uint64_t v);
void cl_mp_int(cl_mp_writer *w, int64_t v);
void cl_mp_bool(cl_mp_writer *w, bool v);
void cl_mp_nil(cl_mp_writer *w);
/* Appends bytes that are already msgpack (a nested, pre-encoded item). */
void cl_mp_raw(cl_mp_writer *w, cl_bytes encoded);

#endif
