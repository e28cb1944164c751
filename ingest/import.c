/* import.c - `import FILE.jsonl`: bulk requests in batches (certledger/import.h).
 *
 * A real run gives each batch of N ops its own write transaction (cl_ledger__write): the batch
 * function seeks back to the batch's first byte every time it runs (LMDB may run it again after
 * growing the map), parses and validates each op with the very step its command uses
 * (cl_ingest__account_create, __link, __unlink, __primary_set, __primary_clear), and the
 * events of the batch are signed together at commit on every core. The first refused op makes
 * the batch function fail, so nothing of that batch is written; earlier batches are committed.
 *
 * A dry run must validate every op against the state the ops before it would have made, across
 * batches, yet write nothing: it runs the whole file in ONE write transaction and then fails it
 * on purpose (DRY_RUN), so LMDB discards everything (no event is even signed). Batch boundaries
 * are still counted, so `applied` says what a real run would have committed before a refusal.
 */
#include "certledger/import.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/account_create.h"
#include "ingest/cert_file.h"
#include "ingest/cert_upload.h"
#include "ingest/link.h"
#include "ingest/password.h"
#include "ingest/primary.h"
#include "ledger/append.h"
#include "ledger/encoding.h"

#define DEFAULT_BATCH 1000
#define LINE_MAX_BYTES ((size_t)4 << 20) /* a 1 MiB PKCS#12 in base64 and then some */
#define DRY_RUN (-103)

typedef struct import_ctx {
	cl_ledger *l;
	FILE *f;
	size_t batch;
	const cl_import_opts *o;
	cl_secret *password;
	bool have_password;
	char *buf;
	size_t cap;
	/* committed position: the first byte and line number of the next batch */
	off_t off;
	uint64_t line;
	/* what the last run of a batch function saw */
	off_t end_off;
	uint64_t end_line;
	uint64_t ops;
	uint64_t events;
	bool eof;
	uint64_t refused_line;
	/* dry run */
	uint64_t dry_applied, dry_events;
	uint64_t total_lines;
	uint64_t reading;   /* the number of the line being read, for messages */
} import_ctx;

/* Reads one line into c->buf without its line ending. 1: a line, 0: end of file, <0: error. */
static int read_line(import_ctx *c, size_t *len, cl_error *err)
{
	size_t n = 0;
	for (;;) {
		if (c->cap - n < 2) {
			size_t nc = c->cap ? c->cap * 2 : 4096;
			if (nc > LINE_MAX_BYTES + 2)
				nc = LINE_MAX_BYTES + 2;
			if (nc <= c->cap)
				return cl_error_set(err, CL_ETOOLARGE, "line %llu is longer than %zu bytes",
						    (unsigned long long)c->reading, LINE_MAX_BYTES);
			/* a line may hold a PEM private key: grow by copying and wiping, never realloc */
			char *p = malloc(nc);
			if (p == NULL)
				return cl_error_set(err, CL_ENOMEM, "out of memory");
			if (c->buf != NULL) {
				memcpy(p, c->buf, c->cap);
				OPENSSL_cleanse(c->buf, c->cap);
				free(c->buf);
			}
			c->buf = p;
			c->cap = nc;
		}
		if (fgets(c->buf + n, (int)(c->cap - n), c->f) == NULL) {
			if (ferror(c->f))
				return cl_error_set(err, CL_EIO, "cannot read the import file: %s", strerror(errno));
			if (n == 0)
				return 0;
			break;
		}
		n += strlen(c->buf + n);
		if (n > 0 && c->buf[n - 1] == '\n')
			break;
	}
	while (n > 0 && (c->buf[n - 1] == '\n' || c->buf[n - 1] == '\r'))
		n--;
	c->buf[n] = '\0';
	*len = n;
	return 1;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* Refuses keys outside allowed (NULL-terminated). */
static cl_err check_keys(json_t *o, const char *op, const char *const *allowed, cl_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(k, allowed[i]) == 0;
		if (!ok)
			return cl_error_set(err, CL_EBADINPUT, "unknown key '%.64s' for op '%s'", k, op);
	}
	return CL_OK;
}

/* A string member: required ones must be there; optional ones may be absent or null. */
static cl_err get_str(json_t *o, const char *key, bool required, const char **out, cl_error *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return cl_error_set(err, CL_EBADINPUT, "'%s' is missing", key);
		return CL_OK;
	}
	if (!json_is_string(v))
		return cl_error_set(err, CL_EBADINPUT, "'%s' must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return cl_error_set(err, CL_EBADINPUT, "'%s' holds a NUL character", key);
	*out = json_string_value(v);
	return CL_OK;
}

static cl_err op_account_create(cl_wtxn *t, json_t *o, cl_error *err)
{
	static const char *const keys[] = {"op", "email", "kind", "name", NULL};
	const char *email, *kind, *name;
	cl_err rc;
	if ((rc = check_keys(o, "account.create", keys, err)) != CL_OK ||
	    (rc = get_str(o, "email", true, &email, err)) != CL_OK || (rc = get_str(o, "kind", false, &kind, err)) != CL_OK ||
	    (rc = get_str(o, "name", false, &name, err)) != CL_OK)
		return rc;
	cl_account_kind k = CL_KIND_AUTO;
	if (kind != NULL && strcmp(kind, "internal") == 0)
		k = CL_KIND_INTERNAL;
	else if (kind != NULL && strcmp(kind, "external") == 0)
		k = CL_KIND_EXTERNAL;
	else if (kind != NULL)
		return cl_error_set(err, CL_EBADINPUT, "kind must be \"internal\" or \"external\", not '%.32s'", kind);
	return cl_ingest__account_create(t, email, k, name, NULL, err);
}

static cl_err op_link(cl_wtxn *t, json_t *o, const char *op, cl_error *err)
{
	static const char *const link_keys[] = {"op", "email", "fingerprint", NULL};
	static const char *const unlink_keys[] = {"op", "email", "fingerprint", "reason", NULL};
	static const char *const set_keys[] = {"op", "email", "fingerprint", "force", NULL};
	bool unlink = strcmp(op, "unlink") == 0, set = strcmp(op, "primary.set") == 0;
	const char *email, *fp, *reason = NULL;
	bool force = false;
	cl_err rc;
	if ((rc = check_keys(o, op, unlink ? unlink_keys : set ? set_keys : link_keys, err)) != CL_OK ||
	    (rc = get_str(o, "email", true, &email, err)) != CL_OK ||
	    (rc = get_str(o, "fingerprint", true, &fp, err)) != CL_OK ||
	    (unlink && (rc = get_str(o, "reason", false, &reason, err)) != CL_OK))
		return rc;
	if (set) {
		json_t *f = json_object_get(o, "force");
		if (f != NULL && !json_is_boolean(f))
			return cl_error_set(err, CL_EBADINPUT, "'force' must be true or false");
		force = f != NULL && json_is_true(f);
		return cl_ingest__primary_set(t, email, fp, force, NULL, err);
	}
	return unlink ? cl_ingest__unlink(t, email, fp, reason, NULL, err) : cl_ingest__link(t, email, fp, NULL, err);
}

static cl_err op_primary_clear(cl_wtxn *t, json_t *o, cl_error *err)
{
	static const char *const keys[] = {"op", "email", NULL};
	const char *email;
	cl_err rc;
	if ((rc = check_keys(o, "primary.clear", keys, err)) != CL_OK || (rc = get_str(o, "email", true, &email, err)) != CL_OK)
		return rc;
	return cl_ingest__primary_clear(t, email, NULL, err);
}

/* cert.upload: exactly one of pem (the text), der_b64 or p12_b64 (standard base64), and an
 * optional name; the import's password (if any) opens a PKCS#12 or an encrypted PEM key. The file
 * is parsed here, inside the batch's transaction: an import holds the writer lock for its
 * batches anyway, and the KDF work of one file is bounded (ingest/pbe.h). */
static cl_err op_cert_upload(cl_wtxn *t, json_t *o, import_ctx *c, cl_error *err)
{
	static const char *const keys[] = {"op", "pem", "der_b64", "p12_b64", "name", NULL};
	static const char *const forms[] = {"pem", "der_b64", "p12_b64"};
	const char *name, *text = NULL, *form = NULL;
	cl_err rc;
	if ((rc = check_keys(o, "cert.upload", keys, err)) != CL_OK || (rc = get_str(o, "name", false, &name, err)) != CL_OK)
		return rc;
	for (size_t i = 0; i < 3; i++) {
		const char *v;
		if ((rc = get_str(o, forms[i], false, &v, err)) != CL_OK)
			return rc;
		if (v != NULL && text != NULL)
			return cl_error_set(err, CL_EBADINPUT, "give only one of pem, der_b64 and p12_b64");
		if (v != NULL) {
			text = v;
			form = forms[i];
		}
	}
	if (text == NULL)
		return cl_error_set(err, CL_EBADINPUT, "cert.upload needs one of pem, der_b64 and p12_b64");
	if (name != NULL && !cl_ingest__cert_name_ok(name))
		return cl_error_set(err, CL_EBADINPUT, "the name is not 1 to %d bytes of UTF-8 text", CL_CERT_NAME_MAX_LEN);
	uint8_t *bytes = NULL;
	size_t len = strlen(text);
	cl_bytes data = CL_BYTES(text, len);
	if (strcmp(form, "pem") != 0) {
		if (cl_base64_decode(&bytes, &len, text, len) != CL_OK)
			return cl_error_set(err, CL_EBADINPUT, "%s is not valid base64", form);
		data = CL_BYTES(bytes, len);
	}
	cl_secret pw = CL_SECRET_INIT(CL_PASSWORD_MAX);
	cl_secret *pwp = NULL;
	if (c->have_password) {
		if ((rc = cl_secret_append(&pw, c->password->ptr, c->password->len)) != CL_OK) {
			free(bytes);
			cl_secret_free(&pw);
			return cl_error_set(err, rc, "out of memory");
		}
		pwp = &pw; /* consumed (wiped) by the parser */
	}
	cl_cert_file *f = NULL;
	rc = cl_cert_file_parse(&f, data, pwp, form, NULL, err);
	cl_secret_free(&pw);
	if (rc == CL_OK)
		rc = cl_ingest__upload_parsed(t, f, name, NULL, err);
	cl_cert_file_free(f);
	if (bytes != NULL)
		OPENSSL_clear_free(bytes, len); /* decoded DER or PKCS#12 */
	return rc;
}

static cl_err do_op(cl_wtxn *t, import_ctx *c, size_t len, cl_error *err)
{
	json_error_t jerr;
	json_t *o = json_loadb(c->buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return cl_error_set(err, CL_EBADINPUT, "not valid JSON: %.200s", jerr.text);
	cl_err rc;
	const char *op;
	if (!json_is_object(o)) {
		rc = cl_error_set(err, CL_EBADINPUT, "not a JSON object");
	} else if ((rc = get_str(o, "op", true, &op, err)) != CL_OK) {
		/* rc set */
	} else if (strcmp(op, "account.create") == 0) {
		rc = op_account_create(t, o, err);
	} else if (strcmp(op, "link") == 0 || strcmp(op, "unlink") == 0 || strcmp(op, "primary.set") == 0) {
		rc = op_link(t, o, op, err);
	} else if (strcmp(op, "primary.clear") == 0) {
		rc = op_primary_clear(t, o, err);
	} else if (strcmp(op, "cert.upload") == 0) {
		rc = op_cert_upload(t, o, c, err);
	} else {
		rc = cl_error_set(err, CL_EBADINPUT,
				  "unknown op '%.64s' (account.create, cert.upload, link, unlink, primary.set, primary.clear)",
				  op);
	}
	json_decref(o);
	return rc;
}

/* Runs the op of the line just read; on failure names the line (a full map passes unchanged). */
static cl_err line_op(cl_wtxn *t, import_ctx *c, uint64_t line, size_t len, cl_error *err)
{
	cl_err rc = do_op(t, c, len, err);
	if (rc == CL_OK || rc == CL_EMAPFULL)
		return rc;
	c->refused_line = line;
	cl_error_prefix(err, "line %llu", (unsigned long long)line);
	return rc;
}

static cl_err batch_fn(cl_wtxn *t, void *arg, cl_error *err)
{
	import_ctx *c = arg;
	uint64_t line = c->line;
	size_t len;
	c->ops = 0;
	c->eof = false;
	c->refused_line = 0;
	if (fseeko(c->f, c->off, SEEK_SET) != 0)
		return cl_error_set(err, CL_EIO, "cannot seek in the import file: %s", strerror(errno));
	while (c->ops < c->batch) {
		c->reading = line + 1;
		int r = read_line(c, &len, err);
		if (r < 0)
			return c->refused_line = line + 1, r;
		if (r == 0) {
			c->eof = true;
			break;
		}
		line++;
		if (blank(c->buf, len))
			continue;
		cl_err rc = line_op(t, c, line, len, err);
		if (rc != CL_OK)
			return rc;
		c->ops++;
	}
	c->end_off = ftello(c->f);
	c->end_line = line;
	c->events = cl_wtxn__count(t);
	return CL_OK;
}

static cl_err dry_fn(cl_wtxn *t, void *arg, cl_error *err)
{
	import_ctx *c = arg;
	uint64_t line = 0, in_batch = 0;
	size_t len;
	c->dry_applied = c->dry_events = 0;
	c->refused_line = 0;
	if (fseeko(c->f, 0, SEEK_SET) != 0)
		return cl_error_set(err, CL_EIO, "cannot seek in the import file: %s", strerror(errno));
	for (;;) {
		c->reading = line + 1;
		int r = read_line(c, &len, err);
		if (r < 0)
			return c->refused_line = line + 1, r;
		if (r == 0)
			break;
		line++;
		if (blank(c->buf, len))
			continue;
		cl_err rc = line_op(t, c, line, len, err);
		if (rc != CL_OK)
			return rc;
		if (++in_batch == c->batch) {
			c->dry_applied += in_batch;
			c->dry_events = cl_wtxn__count(t);
			in_batch = 0;
			if (c->o->progress)
				c->o->progress(line, c->total_lines, c->o->progress_ctx);
		}
	}
	c->dry_applied += in_batch;
	c->dry_events = cl_wtxn__count(t);
	c->end_line = line;
	return DRY_RUN;
}

static uint64_t count_lines(FILE *f)
{
	char buf[65536];
	uint64_t n = 0;
	size_t got;
	bool partial = false;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t i = 0; i < got; i++)
			n += buf[i] == '\n';
		partial = buf[got - 1] != '\n';
	}
	rewind(f);
	return n + (partial ? 1 : 0);
}

/* Import failures are refusals of the file, whatever the op's own code was; environment and
 * internal failures keep theirs. */
static cl_err as_refusal(cl_err rc)
{
	switch (rc) {
	case CL_EBADINPUT:
	case CL_ENOTFOUND:
	case CL_EEXISTS:
	case CL_EPASSWORD:
	case CL_ETOOLARGE:
	case CL_EUNSUPPORTED:
		return CL_EREFUSED;
	default:
		return rc;
	}
}

cl_err cl_import_jsonl(cl_ledger *l, const char *path, const cl_import_opts *opts, cl_import_result *out)
{
	cl_import_opts defaults = CL_IMPORT_OPTS_INIT;
	cl_secret password = CL_SECRET_INIT(CL_PASSWORD_MAX);
	import_ctx c;
	cl_err rc = CL_OK;
	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	if (opts == NULL)
		opts = &defaults;
	c.l = l;
	c.o = opts;
	c.batch = opts->batch ? opts->batch : DEFAULT_BATCH;
	c.password = &password;
	if (opts->password_file != NULL) {
		if ((rc = cl_password_from_file(&password, opts->password_file, &l->err)) != CL_OK)
			return rc;
		c.have_password = true;
	} else if (opts->password != NULL) {
		if ((rc = cl_secret_append(&password, opts->password, opts->password_len)) != CL_OK) {
			cl_secret_free(&password);
			return cl_error_set(&l->err, rc, "password too long");
		}
		c.have_password = true;
	}
	c.f = fopen(path, "rb");
	if (c.f == NULL) {
		rc = cl_error_set(&l->err, errno == ENOENT ? CL_ENOTFOUND : CL_EBADINPUT, "cannot open %s: %s", path,
				  strerror(errno));
		goto out;
	}
	if (opts->progress)
		c.total_lines = count_lines(c.f);
	if (opts->dry_run) {
		rc = cl_ledger__write(l, dry_fn, &c, &l->err);
		out->applied = c.dry_applied;
		out->events = c.dry_events;
		out->lines = c.refused_line ? c.refused_line : c.end_line;
		if (rc == DRY_RUN) {
			cl_error_clear(&l->err);
			rc = CL_OK;
		}
	} else {
		for (;;) {
			rc = cl_ledger__write(l, batch_fn, &c, &l->err);
			if (rc != CL_OK)
				break;
			out->applied += c.ops;
			out->events += c.events;
			c.off = c.end_off;
			c.line = c.end_line;
			out->lines = c.line;
			if (opts->progress)
				opts->progress(c.line, c.total_lines, opts->progress_ctx);
			if (c.eof)
				break;
		}
		if (rc != CL_OK)
			out->lines = c.refused_line ? c.refused_line : c.line;
	}
	out->refused_line = rc != CL_OK ? c.refused_line : 0;
	if (rc != CL_OK)
		l->err.code = rc = as_refusal(rc);
out:
	if (c.f)
		fclose(c.f);
	if (c.buf != NULL)
		OPENSSL_cleanse(c.buf, c.cap);
	free(c.buf);
	cl_secret_free(&password);
	return rc;
}
