/* mp_writer.c - msgpack-c's packer writing into a bounded cl_buf, with a sticky error. */
#include "ledger/mp_writer.h"

static int write_cb(void *data, const char *buf, size_t len)
{
	cl_mp_writer *w = data;
	if (w->rc != CL_OK)
		return -1;
	w->rc = cl_buf_append(w->buf, buf, len);
	return w->rc == CL_OK ? 0 : -1;
}

void cl_mp_writer_init(cl_mp_writer *w, cl_buf *buf)
{
	w->buf = buf;
	w->rc = CL_OK;
	msgpack_packer_init(&w->pk, w, write_cb);
}

void cl_mp_map(cl_mp_writer *w, uint32_t n) { (void)msgpack_pack_map(&w->pk, n); }
void cl_mp_array(cl_mp_writer *w, uint32_t n) { (void)msgpack_pack_array(&w->pk, n); }
void cl_mp_str(cl_mp_writer *w, const char *s) { cl_mp_strn(w, s, strlen(s)); }

void cl_mp_strn(cl_mp_writer *w, const void *s, size_t n)
{
	if (n > UINT32_MAX) {
		w->rc = CL_ETOOLARGE;
		return;
	}
	(void)msgpack_pack_str_with_body(&w->pk, s, n);
}

void cl_mp_bin(cl_mp_writer *w, const void *b, size_t n)
{
	if (n > UINT32_MAX) {
		w->rc = CL_ETOOLARGE;
		return;
	}
	(void)msgpack_pack_bin_with_body(&w->pk, b, n);
}

void cl_mp_uint(cl_mp_writer *w, uint64_t v) { (void)msgpack_pack_uint64(&w->pk, v); }
void cl_mp_int(cl_mp_writer *w, int64_t v) { (void)msgpack_pack_int64(&w->pk, v); }
void cl_mp_bool(cl_mp_writer *w, bool v) { (void)(v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk)); }
void cl_mp_nil(cl_mp_writer *w) { (void)msgpack_pack_nil(&w->pk); }

void cl_mp_raw(cl_mp_writer *w, cl_bytes encoded)
{
	if (w->rc == CL_OK)
		w->rc = cl_buf_append(w->buf, encoded.ptr, encoded.len);
}
