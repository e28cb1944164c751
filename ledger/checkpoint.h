/* checkpoint.h - C2SP signed notes (Ed25519) and the C2SP tlog-checkpoint carried in them:
 * how the ledger key commits to "the log had N events and this Merkle root".
 *
 * A signed note is a text ending in a newline, a blank line, then signature lines
 *     "— <key name> <base64(key id[4] || Ed25519 signature[64])>\n"
 * (em dash U+2014, bytes E2 80 94, then a space). The signature covers the text, final newline
 * included; the text ends at the note's LAST blank line. key id = the first 4 bytes of
 * SHA-256(key name || 0x0A || 0x01 || 32-byte public key) (c2sp.org/signed-note).
 *
 * A checkpoint is a note whose text is exactly
 *     "<origin>\n<tree size, decimal>\n<base64 root hash>\n"
 * (c2sp.org/tlog-checkpoint) signed by the ledger key under the key name = the origin.
 *
 * Strictness, on purpose: the spec allows opaque "extension lines" after the root hash; the
 * ledger never writes them and cl_checkpoint_open refuses them, so a checkpoint says exactly
 * what a verifier checks and nothing else. Base64 must be canonical (re-encoding gives the
 * same text), the size has no sign and no leading zero, and the whole note must be valid UTF-8
 * without control characters other than newline. Signature lines of other keys are accepted
 * and ignored as the spec requires (witness cosignatures, key rotation), but must be well
 * formed; a line from the expected key (same name AND key id) that does not verify rejects
 * the whole note.
 *
 * Errors: CL_EBADINPUT for malformed text (err names what and where), CL_EINTEGRITY when the
 * note is well formed but not validly signed by the expected key, or is for another origin;
 * CL_EUSAGE for arguments that do not fit (a key without its private part), CL_ENOMEM,
 * CL_ETOOLARGE when an output buffer's maximum is too small, CL_ECRYPTO if signing fails.
 * No global state: safe from several threads.
 */
#ifndef CL_LEDGER_CHECKPOINT_H
#define CL_LEDGER_CHECKPOINT_H

#include <stdint.h>

#include "ledger/bytes.h"
#include "ledger/keys.h"

#define CL_NOTE_KEY_ID_LEN 4
#define CL_NOTE_SIG_TYPE_ED25519 0x01
/* Largest note cl_note_open and cl_checkpoint_open read, and most signature lines in one. The
 * spec asks verifiers to accept at least 16 signatures, post-quantum ones included (~5 kB). */
#define CL_NOTE_MAX_LEN (1024 * 1024)
#define CL_NOTE_MAX_SIGS 100
/* Longest origin (and so key name) certledger signs or accepts as its own. */
#define CL_ORIGIN_MAX 255
/* A cl_buf max that holds any checkpoint cl_checkpoint_sign writes. */
#define CL_CHECKPOINT_MAX_LEN 1024

/* Checks that origin can be a checkpoint origin and a note key name: non-empty, at most
 * CL_ORIGIN_MAX bytes, valid UTF-8, no control character (C0, DEL, C1), no '+', and no space
 * of any kind (ASCII or Unicode White_Space, as the signed-note spec forbids in key names).
 * CL_EBADINPUT with a message naming the problem otherwise. */
cl_err cl_checkpoint_origin_check(const char *origin, cl_error *err) __attribute__((warn_unused_result));

/* The note key id of an Ed25519 key under name. CL_EBADINPUT if name fails
 * cl_checkpoint_origin_check (out is then left untouched). */
cl_err cl_note_key_id(const char *name, const uint8_t pub[CL_ED25519_PUB_LEN], uint8_t out[CL_NOTE_KEY_ID_LEN])
	__attribute__((warn_unused_result));

/* The verifier key "name+<8 lowercase hex digits of key id>+base64(0x01 || pub)", as Go's
 * sumdb/note and other C2SP tools read it. Returns a malloc'd NUL-terminated string the caller
 * frees with free(), or NULL if name is not valid (see above) or memory ran out. */
char *cl_note_verifier_key(const char *name, const uint8_t pub[CL_ED25519_PUB_LEN]);

/* Signs text as a note by key under name and writes the whole note (text, blank line, one
 * signature line) into out, which is reset first (left empty on failure). text must be
 * non-empty, end in a newline, be valid UTF-8 without control characters other than newline
 * and be at most CL_NOTE_MAX_LEN - 1024 bytes; name must pass cl_checkpoint_origin_check; key
 * must hold its private part (CL_EUSAGE otherwise). */
cl_err cl_note_sign(cl_buf *out, cl_bytes text, const char *name, const cl_key *key, cl_error *err)
	__attribute__((warn_unused_result));

/* Parses note strictly and checks that it carries at least one valid signature by the Ed25519
 * key pub under name, and no invalid one from that key. On success *text is the signed text
 * (final newline included), borrowed from note: it lives as long as note's bytes. */
cl_err cl_note_open(cl_bytes note, const char *name, const uint8_t pub[CL_ED25519_PUB_LEN], cl_bytes *text,
		    cl_error *err) __attribute__((warn_unused_result));

/* Writes the signed checkpoint for (origin, size, root) into out_note (reset first; left empty
 * on failure), signed by key under the key name origin. out_note->max must allow
 * CL_CHECKPOINT_MAX_LEN or the note's size. */
cl_err cl_checkpoint_sign(cl_buf *out_note, const char *origin, uint64_t size, const uint8_t root[32],
			  const cl_key *key, cl_error *err) __attribute__((warn_unused_result));

/* Parses and verifies a signed checkpoint: the text must be exactly origin, size and root (see
 * the top of this file) and carry a valid signature by pub under the key name = its origin
 * line. When expected_origin is not NULL the origin must equal it (CL_EINTEGRITY otherwise).
 * On success *size and root[32] are set and, when origin_out is not NULL, *origin_out receives
 * a malloc'd NUL-terminated copy of the origin that the caller frees with free(). On failure
 * nothing is written to the outputs. */
cl_err cl_checkpoint_open(cl_bytes note, const char *expected_origin, const uint8_t pub[CL_ED25519_PUB_LEN],
			  uint64_t *size, uint8_t root[32], char **origin_out, cl_error *err)
	__attribute__((warn_unused_result));

#endif
