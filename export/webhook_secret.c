/* webhook_secret.c - webhook signing secrets sealed and opened through ledger/sealed.h with
 * purpose CL_SEALED_WEBHOOK_SECRET and the subscription id as context (see webhook_secret.h). */
#include "export/webhook_secret.h"

#include <string.h>

#include "export/webhook_sign.h"

/* The id as a context, or an empty view when it is none (empty, too long). */
static cl_bytes id_context(const char *id)
{
	size_t n = id != NULL ? strnlen(id, CL_WH_SEAL_ID_MAX + 1) : 0;
	if (n == 0 || n > CL_WH_SEAL_ID_MAX)
		return CL_BYTES(NULL, 0);
	return CL_BYTES(id, n);
}

static cl_err not_open(cl_error *err, const char *id)
{
	return cl_error_set(err, CL_EINTEGRITY, "webhook secret of %.64s does not open: wrong master key or damaged",
			    id ? id : "?");
}

cl_err cl_wh__secret_seal(cl_buf *out, const cl_secret *master, const char *id, const cl_secret *key, cl_error *err)
{
	cl_bytes context = id_context(id);
	cl_buf_reset(out);
	if (key == NULL || key->ptr == NULL || key->len < CL_WH_KEY_MIN || key->len > CL_WH_KEY_MAX)
		return cl_error_set(err, CL_EUSAGE, "a webhook key of %d..%d bytes is needed", CL_WH_KEY_MIN, CL_WH_KEY_MAX);
	if (context.ptr == NULL)
		return cl_error_set(err, CL_EUSAGE, "webhook subscription id is empty or too long");
	return cl_sealed__seal(out, master, CL_SEALED_WEBHOOK_SECRET, context, key, err);
}

cl_err cl_wh__secret_open(cl_secret *key, const cl_secret *master, const char *id, cl_bytes blob, cl_error *err)
{
	cl_bytes context = id_context(id);
	cl_secret_free(key);
	if (context.ptr == NULL)
		return not_open(err, id);
	cl_err rc = cl_sealed__open(key, master, CL_SEALED_WEBHOOK_SECRET, context, blob, err);
	if (rc == CL_EINTEGRITY)
		return not_open(err, id);
	if (rc == CL_OK && (key->len < CL_WH_KEY_MIN || key->len > CL_WH_KEY_MAX)) {
		cl_secret_free(key);
		return not_open(err, id);
	}
	return rc;
}
