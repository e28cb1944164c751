/* data_json.h - an event's msgpack data map as JSON (jansson), for `log --json`, exports and
 * webhook bodies. Binary values become lowercase hex; integers under keys that hold times
 * (not_before, not_after, and keys ending in "_at") become RFC 3339 UTC text. */
#ifndef CL_LEDGER_DATA_JSON_H
#define CL_LEDGER_DATA_JSON_H

#include <jansson.h>

#include "ledger/bytes.h"

/* Returns a new reference, or NULL with err set when data is not well-formed msgpack. */
json_t *cl_data_to_json(cl_bytes data, cl_error *err);

#endif
