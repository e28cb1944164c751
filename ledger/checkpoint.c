/* checkpoint.c - C2SP signed notes with Ed25519 and tlog-checkpoints in them (see checkpoint.h).
 *
 * Opening a note goes in three steps, so that a malformed note is reported as malformed
 * whatever its signatures: note_split checks the bytes (size, UTF-8, control characters), the
 * blank line and the syntax of every signature line; the caller then parses the text; and
 * note_verify checks the signatures of the one key we trust.
 */
#include "ledger/checkpoint.h"

#include <inttypes.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/encoding.h"

/* U+2014 EM DASH in UTF-8, then a space: how every signature line starts. */
static const uint8_t sig_prefix[4] = {0xe2, 0x80, 0x94, 0x20};

#define SIG_PAYLOAD_LEN (CL_NOTE_KEY_ID_LEN + CL_ED25519_SIG_LEN)
/* How much of an offending value a message quotes. */
#define QUOTE_MAX 64

/* Decodes one UTF-8 sequence at p[0..n), n >= 1, strictly: shortest form, no surrogates,
 * nothing above U+10FFFF. Returns its length (1..4) and sets *cp, or returns 0. */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* Unicode White_Space (what Go's unicode.IsSpace and so sumdb/note refuse in key names). */
static bool is_space(uint32_t cp)
{
	switch (cp) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
		return true;
	default:
		return cp >= 0x2000 && cp <= 0x200a;
	}
}

/* Why p[0..n) cannot be a key name, or NULL when it can. Without strict, only the signed-note
 * rules (as for other keys' signature lines); strict adds certledger's rules for an origin. */
static const char *name_problem(const uint8_t *p, size_t n, bool strict)
{
	if (n == 0)
		return "is empty";
	if (strict && n > CL_ORIGIN_MAX)
		return "is longer than 255 bytes";
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_next(p + i, n - i, &cp);
		if (len == 0)
			return "is not valid UTF-8";
		if (strict && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) && !is_space(cp))
			return "contains a control character";
		if (is_space(cp))
			return "contains a space or a line break";
		if (cp == '+')
			return "contains '+'";
		i += len;
	}
	return NULL;
}

cl_err cl_checkpoint_origin_check(const char *origin, cl_error *err)
{
	if (origin == NULL)
		return cl_error_set(err, CL_EUSAGE, "no origin given");
	size_t n = strnlen(origin, CL_ORIGIN_MAX + 1);
	const char *why = name_problem((const uint8_t *)origin, n, true);
	if (why != NULL)
		return cl_error_set(err, CL_EBADINPUT, "invalid origin: it %s", why);
	return CL_OK;
}

/* Key id of pub under a name already checked by name_problem(strict), so n <= CL_ORIGIN_MAX. */
static void key_id(const uint8_t *name, size_t n, const uint8_t pub[CL_ED25519_PUB_LEN],
		   uint8_t out[CL_NOTE_KEY_ID_LEN])
{
	uint8_t buf[CL_ORIGIN_MAX + 2 + CL_ED25519_PUB_LEN];
	uint8_t h[SHA256_DIGEST_LENGTH];
	memcpy(buf, name, n);
	buf[n] = 0x0a;
	buf[n + 1] = CL_NOTE_SIG_TYPE_ED25519;
	memcpy(buf + n + 2, pub, CL_ED25519_PUB_LEN);
	if (SHA256(buf, n + 2 + CL_ED25519_PUB_LEN, h) == NULL)
		abort(); /* SHA-256 is treated as infallible, as in merkle.c */
	memcpy(out, h, CL_NOTE_KEY_ID_LEN);
}

cl_err cl_note_key_id(const char *name, const uint8_t pub[CL_ED25519_PUB_LEN], uint8_t out[CL_NOTE_KEY_ID_LEN])
{
	cl_err rc = cl_checkpoint_origin_check(name, NULL);
	if (rc != CL_OK)
		return rc;
	key_id((const uint8_t *)name, strlen(name), pub, out);
	return CL_OK;
}

char *cl_note_verifier_key(const char *name, const uint8_t pub[CL_ED25519_PUB_LEN])
{
	uint8_t id[CL_NOTE_KEY_ID_LEN], typed[1 + CL_ED25519_PUB_LEN];
	char hex[2 * CL_NOTE_KEY_ID_LEN + 1];
	char *b64 = NULL, *out = NULL;

	if (cl_note_key_id(name, pub, id) != CL_OK)
		return NULL;
	cl_hex_encode(hex, id, sizeof(id));
	typed[0] = CL_NOTE_SIG_TYPE_ED25519;
	memcpy(typed + 1, pub, CL_ED25519_PUB_LEN);
	b64 = cl_base64_encode(typed, sizeof(typed));
	if (b64 == NULL)
		goto out;
	size_t len = strlen(name) + 1 + strlen(hex) + 1 + strlen(b64) + 1;
	out = malloc(len);
	if (out != NULL)
		snprintf(out, len, "%s+%s+%s", name, hex, b64);
out:
	free(b64);
	return out;
}

/* Decodes base64 that must be canonical: re-encoding the result gives the same text, so no
 * stray bits in the last character and one spelling per value. *out is malloc'd. */
static cl_err b64_decode_canonical(const uint8_t *text, size_t n, uint8_t **out, size_t *out_len)
{
	cl_err rc = cl_base64_decode(out, out_len, (const char *)text, n);
	if (rc != CL_OK)
		return rc;
	char *again = cl_base64_encode(*out, *out_len);
	if (again == NULL) {
		rc = CL_ENOMEM;
	} else if (strlen(again) != n || memcmp(again, text, n) != 0) {
		rc = CL_EBADINPUT;
	}
	free(again);
	if (rc != CL_OK) {
		free(*out);
		*out = NULL;
		*out_len = 0;
	}
	return rc;
}

/* Valid UTF-8 and no control character but newline, as the signed-note spec requires. */
static cl_err check_note_bytes(cl_bytes b, const char *what, cl_error *err)
{
	for (size_t i = 0; i < b.len;) {
		uint32_t cp;
		size_t len = utf8_next(b.ptr + i, b.len - i, &cp);
		if (len == 0)
			return cl_error_set(err, CL_EBADINPUT, "malformed %s: byte %zu is not valid UTF-8", what, i);
		if (cp < 0x20 && cp != '\n')
			return cl_error_set(err, CL_EBADINPUT, "malformed %s: control character 0x%02x at byte %zu",
					    what, (unsigned)cp, i);
		i += len;
	}
	return CL_OK;
}

/* One signature line, parsed. payload (key id || signature) is malloc'd. */
typedef struct sig_line {
	cl_bytes name;
	uint8_t *payload;
	size_t len;
} sig_line;

/* Parses line (without its newline), number lineno counting from 1 after the blank line. */
static cl_err parse_sig_line(cl_bytes line, unsigned lineno, sig_line *out, cl_error *err)
{
	memset(out, 0, sizeof(*out));
	if (line.len < sizeof(sig_prefix) || memcmp(line.ptr, sig_prefix, sizeof(sig_prefix)) != 0)
		return cl_error_set(err, CL_EBADINPUT,
				    "malformed note: signature line %u does not start with an em dash (U+2014) and a space",
				    lineno);
	const uint8_t *p = line.ptr + sizeof(sig_prefix);
	size_t n = line.len - sizeof(sig_prefix);
	const uint8_t *space = memchr(p, ' ', n);
	if (space == NULL)
		return cl_error_set(err, CL_EBADINPUT, "malformed note: signature line %u has no signature after the key name",
				    lineno);
	size_t name_len = (size_t)(space - p);
	const char *why = name_problem(p, name_len, false);
	if (why != NULL)
		return cl_error_set(err, CL_EBADINPUT, "malformed note: the key name on signature line %u %s", lineno, why);
	cl_err rc = b64_decode_canonical(space + 1, n - name_len - 1, &out->payload, &out->len);
	if (rc == CL_ENOMEM)
		return cl_error_set(err, rc, "out of memory");
	if (rc != CL_OK)
		return cl_error_set(err, CL_EBADINPUT, "malformed note: the signature on line %u is not canonical base64",
				    lineno);
	if (out->len <= CL_NOTE_KEY_ID_LEN) {
		free(out->payload);
		out->payload = NULL;
		return cl_error_set(err, CL_EBADINPUT, "malformed note: the signature on line %u is too short", lineno);
	}
	out->name = CL_BYTES(p, name_len);
	return CL_OK;
}

/* Next line of *rest (which ends in a newline), without the newline; advances *rest. */
static cl_bytes next_line(cl_bytes *rest)
{
	const uint8_t *nl = memchr(rest->ptr, '\n', rest->len);
	size_t n = nl != NULL ? (size_t)(nl - rest->ptr) : rest->len;
	cl_bytes line = CL_BYTES(rest->ptr, n);
	size_t used = nl != NULL ? n + 1 : n;
	*rest = CL_BYTES(rest->ptr + used, rest->len - used);
	return line;
}

/* Splits note at its last blank line into text (final newline included) and the signature
 * block, and checks everything but the signatures themselves. */
static cl_err note_split(cl_bytes note, cl_bytes *text, cl_bytes *sigs, cl_error *err)
{
	if (note.len > CL_NOTE_MAX_LEN)
		return cl_error_set(err, CL_ETOOLARGE, "note is %zu bytes, over the %d byte limit", note.len,
				    CL_NOTE_MAX_LEN);
	cl_err rc = check_note_bytes(note, "note", err);
	if (rc != CL_OK)
		return rc;
	size_t split = 0;
	bool found = false;
	for (size_t i = note.len; i >= 2; i--) {
		if (note.ptr[i - 2] == '\n' && note.ptr[i - 1] == '\n') {
			split = i - 2;
			found = true;
			break;
		}
	}
	if (!found)
		return cl_error_set(err, CL_EBADINPUT, "malformed note: no blank line between the text and the signatures");
	*text = CL_BYTES(note.ptr, split + 1);
	*sigs = CL_BYTES(note.ptr + split + 2, note.len - split - 2);
	if (sigs->len == 0)
		return cl_error_set(err, CL_EBADINPUT, "malformed note: no signature line after the blank line");
	if (sigs->ptr[sigs->len - 1] != '\n')
		return cl_error_set(err, CL_EBADINPUT, "malformed note: the last line does not end with a newline");

	cl_bytes rest = *sigs;
	unsigned lineno = 0;
	while (rest.len > 0) {
		sig_line sl;
		if (++lineno > CL_NOTE_MAX_SIGS)
			return cl_error_set(err, CL_EBADINPUT, "malformed note: more than %d signature lines",
					    CL_NOTE_MAX_SIGS);
		rc = parse_sig_line(next_line(&rest), lineno, &sl, err);
		if (rc != CL_OK)
			return rc;
		free(sl.payload);
	}
	return CL_OK;
}

/* Checks the signatures of (name, pub) in a block that note_split accepted: every line by that
 * key (same name and key id) must verify, and there must be one. Lines of other keys are
 * ignored, as the spec requires. name has passed cl_checkpoint_origin_check. */
static cl_err note_verify(cl_bytes text, cl_bytes sigs, const char *name, const uint8_t pub[CL_ED25519_PUB_LEN],
			  cl_error *err)
{
	uint8_t id[CL_NOTE_KEY_ID_LEN];
	char hex[2 * CL_NOTE_KEY_ID_LEN + 1];
	size_t name_len = strlen(name);
	unsigned lineno = 0, good = 0;
	cl_bytes rest = sigs;
	cl_err rc = CL_OK;

	key_id((const uint8_t *)name, name_len, pub, id);
	cl_hex_encode(hex, id, sizeof(id));
	while (rest.len > 0) {
		sig_line sl;
		lineno++;
		rc = parse_sig_line(next_line(&rest), lineno, &sl, err);
		if (rc != CL_OK)
			return rc;
		bool ours = sl.name.len == name_len && memcmp(sl.name.ptr, name, name_len) == 0 &&
			    memcmp(sl.payload, id, CL_NOTE_KEY_ID_LEN) == 0;
		bool ok = !ours || (sl.len == SIG_PAYLOAD_LEN &&
				    cl_ed25519_verify(pub, NULL, NULL, text, sl.payload + CL_NOTE_KEY_ID_LEN));
		free(sl.payload);
		if (!ok)
			return cl_error_set(err, CL_EINTEGRITY,
					    "note signature on line %u by key %.*s+%s does not verify", lineno, QUOTE_MAX,
					    name, hex);
		good += ours;
	}
	if (good == 0)
		return cl_error_set(err, CL_EINTEGRITY, "note carries no signature by key %.*s+%s", QUOTE_MAX, name, hex);
	return CL_OK;
}

cl_err cl_note_sign(cl_buf *out, cl_bytes text, const char *name, const cl_key *key, cl_error *err)
{
	uint8_t payload[SIG_PAYLOAD_LEN];
	char *b64 = NULL;
	cl_err rc;

	cl_buf_reset(out);
	if (key == NULL || !key->has_private)
		return cl_error_set(err, CL_EUSAGE, "signing a note needs a private key");
	rc = cl_checkpoint_origin_check(name, err);
	if (rc != CL_OK) {
		cl_error_prefix(err, "note key name");
		return rc;
	}
	if (text.len == 0 || text.ptr[text.len - 1] != '\n')
		return cl_error_set(err, CL_EBADINPUT, "note text must be non-empty and end with a newline");
	if (text.len > CL_NOTE_MAX_LEN - 1024)
		return cl_error_set(err, CL_ETOOLARGE, "note text is %zu bytes, over the limit", text.len);
	rc = check_note_bytes(text, "note text", err);
	if (rc != CL_OK)
		return rc;

	key_id((const uint8_t *)name, strlen(name), key->pub, payload);
	rc = cl_key_sign(key, NULL, NULL, text, payload + CL_NOTE_KEY_ID_LEN);
	if (rc != CL_OK) {
		rc = cl_error_set(err, rc, "cannot sign the note (%s)", cl_err_name(rc));
		goto out;
	}
	b64 = cl_base64_encode(payload, sizeof(payload));
	if (b64 == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	rc = cl_buf_append(out, text.ptr, text.len);
	if (rc == CL_OK)
		rc = cl_buf_append_byte(out, '\n');
	if (rc == CL_OK)
		rc = cl_buf_append(out, sig_prefix, sizeof(sig_prefix));
	if (rc == CL_OK)
		rc = cl_buf_append(out, name, strlen(name));
	if (rc == CL_OK)
		rc = cl_buf_append_byte(out, ' ');
	if (rc == CL_OK)
		rc = cl_buf_append(out, b64, strlen(b64));
	if (rc == CL_OK)
		rc = cl_buf_append_byte(out, '\n');
	if (rc != CL_OK)
		cl_error_set(err, rc, "%s",
			     rc == CL_ETOOLARGE ? "signed note does not fit in the output buffer" : "out of memory");
out:
	if (rc != CL_OK)
		cl_buf_reset(out);
	free(b64);
	return rc;
}

cl_err cl_note_open(cl_bytes note, const char *name, const uint8_t pub[CL_ED25519_PUB_LEN], cl_bytes *text,
		    cl_error *err)
{
	cl_bytes t = {0}, sigs = {0};
	cl_err rc = cl_checkpoint_origin_check(name, err);
	if (rc != CL_OK) {
		cl_error_prefix(err, "note key name");
		return rc;
	}
	rc = note_split(note, &t, &sigs, err);
	if (rc == CL_OK)
		rc = note_verify(t, sigs, name, pub, err);
	if (rc == CL_OK)
		*text = t;
	return rc;
}

cl_err cl_checkpoint_sign(cl_buf *out_note, const char *origin, uint64_t size, const uint8_t root[32],
			  const cl_key *key, cl_error *err)
{
	char text[CL_ORIGIN_MAX + 1 + 20 + 1 + 44 + 1 + 1];
	char *b64 = NULL;

	cl_buf_reset(out_note);
	cl_err rc = cl_checkpoint_origin_check(origin, err);
	if (rc != CL_OK)
		return rc;
	b64 = cl_base64_encode(root, 32);
	if (b64 == NULL)
		return cl_error_set(err, CL_ENOMEM, "out of memory");
	int n = snprintf(text, sizeof(text), "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
	free(b64);
	if (n < 0 || (size_t)n >= sizeof(text))
		return cl_error_set(err, CL_EINTERNAL, "checkpoint text does not fit");
	return cl_note_sign(out_note, CL_BYTES(text, (size_t)n), origin, key, err);
}

/* Decimal without sign or leading zero ("0" itself is fine), fitting in 64 bits. */
static bool parse_size(cl_bytes s, uint64_t *out)
{
	uint64_t v = 0;
	if (s.len == 0 || s.len > 20 || (s.ptr[0] == '0' && s.len > 1))
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return false;
		unsigned d = (unsigned)(s.ptr[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Parses a checkpoint text: exactly the origin, size and root lines. */
static cl_err parse_checkpoint_text(cl_bytes text, cl_bytes *origin, uint64_t *size, uint8_t root[32],
				    cl_error *err)
{
	static const char *const what[3] = {"origin", "tree size", "root hash"};
	cl_bytes lines[3], rest = text;
	uint8_t *raw = NULL;
	size_t raw_len = 0;

	for (int i = 0; i < 3; i++) {
		if (rest.len == 0)
			return cl_error_set(err, CL_EBADINPUT, "malformed checkpoint: the %s line is missing", what[i]);
		lines[i] = next_line(&rest);
		if (lines[i].len == 0)
			return cl_error_set(err, CL_EBADINPUT, "malformed checkpoint: the %s line is empty", what[i]);
	}
	if (rest.len != 0)
		return cl_error_set(err, CL_EBADINPUT,
				    "malformed checkpoint: a line follows the root hash (extension lines are not accepted)");
	const char *why = name_problem(lines[0].ptr, lines[0].len, true);
	if (why != NULL)
		return cl_error_set(err, CL_EBADINPUT, "malformed checkpoint: the origin %s", why);
	if (!parse_size(lines[1], size))
		return cl_error_set(err, CL_EBADINPUT,
				    "malformed checkpoint: tree size \"%.*s\" is not a decimal number without sign or "
				    "leading zero that fits in 64 bits",
				    (int)(lines[1].len < QUOTE_MAX ? lines[1].len : QUOTE_MAX), (const char *)lines[1].ptr);
	cl_err rc = b64_decode_canonical(lines[2].ptr, lines[2].len, &raw, &raw_len);
	if (rc == CL_ENOMEM)
		return cl_error_set(err, rc, "out of memory");
	if (rc != CL_OK)
		return cl_error_set(err, CL_EBADINPUT, "malformed checkpoint: the root hash is not canonical base64");
	if (raw_len != 32) {
		free(raw);
		return cl_error_set(err, CL_EBADINPUT, "malformed checkpoint: the root hash is %zu bytes, not 32", raw_len);
	}
	memcpy(root, raw, 32);
	free(raw);
	*origin = lines[0];
	return CL_OK;
}

cl_err cl_checkpoint_open(cl_bytes note, const char *expected_origin, const uint8_t pub[CL_ED25519_PUB_LEN],
			  uint64_t *size, uint8_t root[32], char **origin_out, cl_error *err)
{
	cl_bytes text = {0}, sigs = {0}, origin = {0};
	uint64_t sz = 0;
	uint8_t rt[32];
	char *name = NULL;

	cl_err rc = note_split(note, &text, &sigs, err);
	if (rc != CL_OK)
		goto out;
	rc = parse_checkpoint_text(text, &origin, &sz, rt, err);
	if (rc != CL_OK)
		goto out;
	name = malloc(origin.len + 1);
	if (name == NULL) {
		rc = cl_error_set(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(name, origin.ptr, origin.len);
	name[origin.len] = '\0';
	if (expected_origin != NULL && strcmp(expected_origin, name) != 0) {
		rc = cl_error_set(err, CL_EINTEGRITY, "checkpoint is for origin \"%.*s\", not \"%.*s\"", QUOTE_MAX, name,
				  QUOTE_MAX, expected_origin);
		goto out;
	}
	rc = note_verify(text, sigs, name, pub, err);
	if (rc != CL_OK)
		goto out;
	*size = sz;
	memcpy(root, rt, 32);
	if (origin_out != NULL) {
		*origin_out = name;
		name = NULL;
	}
out:
	free(name);
	return rc;
}
