/* data_json.c - msgpack -> JSON conversion of event data (see data_json.h). */
#include "ledger/data_json.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/encoding.h"
#include "ledger/mp_reader.h"
#include "ledger/timefmt.h"

static bool is_time_key(cl_bytes k)
{
	static const char *exact[] = {"not_before", "not_after", "ts"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (k.len == strlen(exact[i]) && memcmp(k.ptr, exact[i], k.len) == 0)
			return true;
	return k.len > 3 && memcmp(k.ptr + k.len - 3, "_at", 3) == 0;
}

static json_t *item(cl_mp_reader *r, bool as_time, int depth);

static json_t *container(cl_mp_reader *r, bool is_map, int depth)
{
	uint32_t n;
	if (depth > 16) {
		cl_mp_fail(r, "nesting too deep");
		return NULL;
	}
	if (!(is_map ? cl_mp_read_map(r, &n) : cl_mp_read_array(r, &n)))
		return NULL;
	json_t *j = is_map ? json_object() : json_array();
	for (uint32_t i = 0; j && i < n; i++) {
		if (!is_map) {
			json_t *v = item(r, false, depth + 1);
			if (v == NULL || json_array_append_new(j, v) != 0)
				goto fail;
			continue;
		}
		cl_bytes k;
		if (!cl_mp_read_str(r, &k))
			goto fail;
		char *key = strndup((const char *)k.ptr, k.len);
		json_t *v = key ? item(r, is_time_key(k), depth + 1) : NULL;
		int bad = v == NULL || json_object_set_new(j, key, v) != 0;
		free(key);
		if (bad)
			goto fail;
	}
	return j;
fail:
	json_decref(j);
	return NULL;
}

static json_t *item(cl_mp_reader *r, bool as_time, int depth)
{
	cl_bytes b;
	uint64_t u;
	int64_t i;
	bool bo;
	switch (cl_mp_peek(r)) {
	case CL_MP_NIL: return cl_mp_read_nil(r) ? json_null() : NULL;
	case CL_MP_BOOL: return cl_mp_read_bool(r, &bo) ? json_boolean(bo) : NULL;
	case CL_MP_UINT:
		if (!cl_mp_read_uint(r, &u))
			return NULL;
		if (u > INT64_MAX) {
			cl_mp_fail(r, "integer too large for JSON");
			return NULL;
		}
		i = (int64_t)u;
		goto integer;
	case CL_MP_INT:
		if (!cl_mp_read_int(r, &i))
			return NULL;
	integer:
		if (as_time) {
			char t[CL_TIME_TEXT_MAX];
			cl_time_format(t, i);
			return json_string(t);
		}
		return json_integer(i);
	case CL_MP_STR:
		if (!cl_mp_read_str(r, &b))
			return NULL;
		return json_stringn((const char *)b.ptr, b.len); /* NULL when not UTF-8 */
	case CL_MP_BIN: {
		if (!cl_mp_read_bin(r, &b))
			return NULL;
		char *hex = malloc(2 * b.len + 1);
		if (hex == NULL)
			return NULL;
		cl_hex_encode(hex, b.ptr, b.len);
		json_t *s = json_string(hex);
		free(hex);
		return s;
	}
	case CL_MP_ARRAY: return container(r, false, depth);
	case CL_MP_MAP: return container(r, true, depth);
	default:
		cl_mp_fail(r, "value type not allowed in event data");
		return NULL;
	}
}

json_t *cl_data_to_json(cl_bytes data, cl_error *err)
{
	cl_mp_reader r;
	cl_mp_reader_init(&r, data);
	json_t *j = item(&r, false, 0);
	if (j == NULL || cl_mp_left(&r) != 0) {
		json_decref(j);
		cl_error_set(err, CL_EBADINPUT, "event data is not valid: %s", r.error ? r.error : "not UTF-8 text");
		return NULL;
	}
	return j;
}
