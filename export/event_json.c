/* event_json.c - one event as the JSON object `log --json` and the exports print (see
 * event_json.h). The object is composed as text rather than through a jansson tree: the data
 * part is already JSON text (cl_event_info.data_json), and re-parsing it per event would cost
 * more than the rest of an export. */
#include "export/event_json.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certledger/export.h"
#include "ledger/data_json.h"
#include "ledger/encoding.h"
#include "ledger/timefmt.h"

static cl_err put(cl_buf *out, const char *s)
{
	return cl_buf_append(out, s, strlen(s));
}

cl_err cl_export__json_str(cl_buf *out, const char *s, size_t n)
{
	bool plain = true;
	for (size_t i = 0; i < n && plain; i++)
		plain = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f && s[i] != '"' && s[i] != '\\';
	if (plain) {
		cl_err rc = cl_buf_append_byte(out, '"');
		if (rc == CL_OK)
			rc = cl_buf_append(out, s, n);
		if (rc == CL_OK)
			rc = cl_buf_append_byte(out, '"');
		return rc;
	}
	/* anything else: jansson's own escaping, so the text equals what json_dumps writes */
	json_t *j = json_stringn(s, n);
	if (j == NULL)
		return CL_EBADINPUT;
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (text == NULL)
		return CL_ENOMEM;
	cl_err rc = put(out, text);
	free(text);
	return rc;
}

cl_err cl_export__base64(cl_buf *out, const uint8_t *in, size_t n)
{
	if (n > (size_t)INT32_MAX / 4 * 3)
		return CL_ETOOLARGE;
	cl_err rc = cl_buf_reserve(out, (n + 2) / 3 * 4 + 1); /* EVP_EncodeBlock writes a NUL */
	if (rc != CL_OK)
		return rc;
	int w = EVP_EncodeBlock(out->ptr + out->len, in, (int)n);
	if (w < 0)
		return CL_EINTERNAL;
	out->len += (size_t)w;
	return CL_OK;
}

cl_err cl_export__event_json(cl_buf *out, const cl_event_info *ev, bool with_envelope)
{
	char num[32], ts[CL_TIME_TEXT_MAX], id[65];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)ev->seq);
	cl_time_format(ts, ev->ts);
	cl_hex_encode(id, ev->id, 32);
	cl_err rc = put(out, "{\"seq\":");
	if (rc == CL_OK)
		rc = put(out, num);
	if (rc == CL_OK)
		rc = put(out, ",\"ts\":\"");
	if (rc == CL_OK)
		rc = put(out, ts);
	if (rc == CL_OK)
		rc = put(out, "\",\"type\":");
	if (rc == CL_OK)
		rc = cl_export__json_str(out, ev->type, strlen(ev->type));
	if (rc == CL_OK)
		rc = put(out, ",\"actor\":");
	if (rc == CL_OK)
		rc = cl_export__json_str(out, ev->actor, strlen(ev->actor));
	if (rc == CL_OK)
		rc = put(out, ",\"id\":\"");
	if (rc == CL_OK)
		rc = put(out, id);
	if (rc == CL_OK)
		rc = put(out, "\",\"data\":");
	if (rc == CL_OK)
		rc = put(out, ev->data_json && ev->data_json[0] ? ev->data_json : "null");
	if (rc == CL_OK && with_envelope) {
		rc = put(out, ",\"envelope\":\"");
		if (rc == CL_OK)
			rc = cl_export__base64(out, ev->envelope, ev->envelope_len);
		if (rc == CL_OK)
			rc = cl_buf_append_byte(out, '"');
	}
	if (rc == CL_OK)
		rc = cl_buf_append_byte(out, '}');
	return rc;
}

char *cl_event_json_text(const cl_event_info *ev, bool with_envelope)
{
	cl_buf b = CL_BUF_INIT(SIZE_MAX / 2);
	if (cl_export__event_json(&b, ev, with_envelope) != CL_OK || cl_buf_append_byte(&b, '\0') != CL_OK) {
		cl_buf_free(&b);
		return NULL;
	}
	return (char *)b.ptr; /* the buffer's block, NUL-terminated: the caller frees it */
}

cl_err cl_export__event_load(cl_export_event *e, const cl_event *ev, bool want_text, cl_error *err)
{
	memset(e, 0, sizeof(*e));
	if (ev->type.len > CL_TYPE_MAX || ev->actor.len > CL_ACTOR_MAX)
		return cl_error_set(err, CL_EINTEGRITY, "seq %llu: type or actor too long", (unsigned long long)ev->seq);
	memcpy(e->type, ev->type.ptr, ev->type.len);
	memcpy(e->actor, ev->actor.ptr, ev->actor.len);
	e->data = cl_data_to_json(ev->data, err);
	if (e->data == NULL) {
		cl_error_prefix(err, "seq %llu", (unsigned long long)ev->seq);
		return err->code = CL_EINTEGRITY;
	}
	if (want_text) {
		e->data_json = json_dumps(e->data, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (e->data_json == NULL) {
			cl_export__event_clear(e);
			return cl_error_set(err, CL_ENOMEM, "out of memory");
		}
	}
	e->info.seq = ev->seq;
	e->info.ts = ev->ts;
	e->info.type = e->type;
	e->info.actor = e->actor;
	cl_event_id(ev, e->info.id);
	e->info.data_json = e->data_json;
	e->info.envelope = ev->envelope.ptr;
	e->info.envelope_len = ev->envelope.len;
	return CL_OK;
}

void cl_export__event_clear(cl_export_event *e)
{
	json_decref(e->data);
	free(e->data_json);
	e->data = NULL;
	e->data_json = NULL;
}
