/* event_json.h - the JSON form of one event, shared by `log --json`, `history`, `export jsonl`
 * and anything else that prints events: {seq, ts, type, actor, id, data[, envelope]}, compact,
 * keys in that order, data as ledger/data_json.h makes it. One definition, so that an export
 * line and a log line of the same event can be compared byte for byte. */
#ifndef CL_EXPORT_EVENT_JSON_H
#define CL_EXPORT_EVENT_JSON_H

#include <stdbool.h>

#include <jansson.h>

#include "certledger/ledger.h"
#include "ledger/bytes.h"
#include "ledger/envelope.h"

/* Appends the object (no newline) to out. CL_ENOMEM / CL_ETOOLARGE from the buffer, or
 * CL_EBADINPUT when type or actor is not UTF-8 text. */
cl_err cl_export__event_json(cl_buf *out, const cl_event_info *ev, bool with_envelope)
	__attribute__((warn_unused_result));

/* Appends s as a JSON string literal (quotes included), escaped as jansson escapes it. */
cl_err cl_export__json_str(cl_buf *out, const char *s, size_t n) __attribute__((warn_unused_result));

/* Appends standard padded base64 of in. */
cl_err cl_export__base64(cl_buf *out, const uint8_t *in, size_t n) __attribute__((warn_unused_result));

/* A decoded event in its public form: info's strings point into this struct, data_json is
 * the data as log.c prints it (compact, key order kept) and data the same as a jansson tree. */
typedef struct cl_export_event {
	cl_event_info info;
	char type[CL_TYPE_MAX + 1];
	char actor[CL_ACTOR_MAX + 1];
	json_t *data;    /* owned reference */
	char *data_json; /* owned; NULL unless asked for */
} cl_export_event;

/* Fills e from a strictly decoded event (envelope view borrowed from ev). want_text: also
 * data_json. CL_EINTEGRITY naming the seq when the data is not valid. Clear e afterwards
 * (also on failure). */
cl_err cl_export__event_load(cl_export_event *e, const cl_event *ev, bool want_text, cl_error *err)
	__attribute__((warn_unused_result));
void cl_export__event_clear(cl_export_event *e);

#endif
