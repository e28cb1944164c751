/* test_checkpoint.c - C2SP signed notes and tlog-checkpoints (ledger/checkpoint.c): known answers
 * from Go's golang.org/x/mod/sumdb/note tests and from Python (hashlib, base64, cryptography),
 * sign/open round trips, and refusal of tampered, malformed and foreign notes. */
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "ledger/checkpoint.h"
#include "ledger/encoding.h"

/* From golang.org/x/mod sumdb/note/note_test.go (TestSign, TestOpen): Peter's signer key
 * "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz" is the
 * Ed25519 seed below (after its 0x01 type byte), his verifier key and Enoch's are as shown, and
 * Go's Sign produces exactly go_note for go_text. An independent implementation's output. */
static const char peter_seed_hex[] = "810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173";
static const char peter_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char enoch_pub_hex[] = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";
static const char go_text[] = "If you think cryptography is the answer to your problem,\n"
			      "then you don't know what your problem is.\n";
static const char peter_sig[] = "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
				"SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char enoch_sig[] = "\xe2\x80\x94 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGr"
				"Q5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/* Computed with this Python one-off (hashlib, base64, and cryptography's Ed25519 for the note):
 *   pub = Ed25519PrivateKey.from_private_bytes(seed).public_key() raw bytes
 *   kid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
 *   vkey = name + "+" + kid.hex() + "+" + base64.b64encode(b"\x01" + pub).decode()
 *   text = f"{origin}\n42\n{base64.b64encode(bytes(range(32))).decode()}\n".encode()
 *   note = text + b"\n" + "\u2014 ".encode() + origin.encode() + b" " +
 *          base64.b64encode(kid + priv.sign(text)) + b"\n"
 * with origin = name = "certledger.example/ledger". */
#define ORIGIN "certledger.example/ledger"
static const char origin_vkey[] = ORIGIN "+f8539e4b+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char kat_note[] = ORIGIN "\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n"
				      "\xe2\x80\x94 " ORIGIN " +FOeS7DZn3Bo+I0lKIFWH+gD7l0jni59bKsUzKxgZKWX2fCNHrJQQYdZbg4AAkr+9C4m"
				      "DmQC4oEym/rb/J/HpN81ZA8=\n";

static cl_key *peter;
static cl_key *other;
static uint8_t enoch_pub[32];
static uint8_t kat_root[32];

static cl_key *key_from_seed(const char *hex)
{
	uint8_t seed[32];
	size_t len = 32;
	assert_int_equal(cl_hex_decode(seed, 32, hex, strlen(hex)), CL_OK);
	cl_key *k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	assert_non_null(k->pkey);
	k->has_private = true;
	assert_int_equal(EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &len), 1);
	cl_sha256(k->pub, sizeof(k->pub), k->signer_id);
	return k;
}

static int setup(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	peter = key_from_seed(peter_seed_hex);
	assert_int_equal(cl_key_generate(&other, &err), CL_OK);
	assert_int_equal(cl_hex_decode(enoch_pub, 32, enoch_pub_hex, strlen(enoch_pub_hex)), CL_OK);
	for (int i = 0; i < 32; i++)
		kat_root[i] = (uint8_t)i;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_key_free(peter);
	cl_key_free(other);
	return 0;
}

/* Opens text as a checkpoint against Peter's key; returns the code and keeps the message. */
static cl_err open_peter(const void *note, size_t len, const char *expected, cl_error *err)
{
	uint64_t size = 0;
	uint8_t root[32];
	cl_error_clear(err);
	return cl_checkpoint_open(CL_BYTES(note, len), expected, peter->pub, &size, root, NULL, err);
}

static cl_err open_str(const char *note, cl_error *err)
{
	return open_peter(note, strlen(note), NULL, err);
}

static void assert_msg(const cl_error *err, const char *needle)
{
	if (strstr(err->msg, needle) == NULL)
		fail_msg("message \"%s\" does not mention \"%s\"", err->msg, needle);
}

static void test_key_id_and_verifier_key(void **state)
{
	(void)state;
	uint8_t id[4];
	char hex[9];
	char *vk;

	assert_int_equal(cl_note_key_id("PeterNeumann", peter->pub, id), CL_OK);
	cl_hex_encode(hex, id, 4);
	assert_string_equal(hex, "c74f20a3");
	vk = cl_note_verifier_key("PeterNeumann", peter->pub);
	assert_non_null(vk);
	assert_string_equal(vk, peter_vkey);
	free(vk);

	assert_int_equal(cl_note_key_id(ORIGIN, peter->pub, id), CL_OK);
	cl_hex_encode(hex, id, 4);
	assert_string_equal(hex, "f8539e4b");
	vk = cl_note_verifier_key(ORIGIN, peter->pub);
	assert_non_null(vk);
	assert_string_equal(vk, origin_vkey);
	free(vk);

	/* Names that cannot be key names or origins. */
	static const char *const bad[] = {"", "a+b", "a b", "a\tb", "a\nb", "a\x01" "b", "a\x7f" "b",
					  "\xff", "a\xc2\xa0" "b" /* U+00A0 */, "a\xe3\x80\x80" "b" /* U+3000 */,
					  "a\xe2\x80\x89" "b" /* U+2009 */, "a\xc2\x85" "b" /* U+0085 */,
					  "a\xc0\xaf" /* overlong '/' */, "\xed\xa0\x80" /* surrogate */, "a\xe2\x80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cl_error err = CL_ERROR_INIT;
		assert_int_equal(cl_note_key_id(bad[i], peter->pub, id), CL_EBADINPUT);
		assert_null(cl_note_verifier_key(bad[i], peter->pub));
		assert_int_equal(cl_checkpoint_origin_check(bad[i], &err), CL_EBADINPUT);
		assert_msg(&err, "origin");
	}
	char name[257];
	memset(name, 'x', 256);
	name[256] = '\0';
	assert_int_equal(cl_note_key_id(name, peter->pub, id), CL_EBADINPUT);
	name[255] = '\0';
	assert_int_equal(cl_note_key_id(name, peter->pub, id), CL_OK);
	assert_int_equal(cl_checkpoint_origin_check("caf\xc3\xa9.example/log", NULL), CL_OK);
	assert_int_equal(cl_checkpoint_origin_check(NULL, NULL), CL_EUSAGE);
}

static void test_go_note_interop(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_buf note = CL_BUF_INIT(CL_NOTE_MAX_LEN);
	cl_buf msg = CL_BUF_INIT(CL_NOTE_MAX_LEN);
	cl_bytes text;

	/* Ed25519 is deterministic: we sign exactly as Go does. */
	assert_int_equal(cl_note_sign(&note, CL_BYTES(go_text, strlen(go_text)), "PeterNeumann", peter, &err), CL_OK);
	assert_int_equal(cl_buf_append(&msg, go_text, strlen(go_text)), CL_OK);
	assert_int_equal(cl_buf_append(&msg, "\n", 1), CL_OK);
	assert_int_equal(cl_buf_append(&msg, peter_sig, strlen(peter_sig)), CL_OK);
	assert_int_equal(note.len, msg.len);
	assert_memory_equal(note.ptr, msg.ptr, msg.len);

	/* Go's note with both signatures opens for either key. */
	assert_int_equal(cl_buf_append(&msg, enoch_sig, strlen(enoch_sig)), CL_OK);
	assert_int_equal(cl_note_open(cl_buf_view(&msg), "PeterNeumann", peter->pub, &text, &err), CL_OK);
	assert_int_equal(text.len, strlen(go_text));
	assert_memory_equal(text.ptr, go_text, text.len);
	assert_ptr_equal(text.ptr, msg.ptr);
	assert_int_equal(cl_note_open(cl_buf_view(&msg), "EnochRoot", enoch_pub, &text, &err), CL_OK);
	/* ... but not for Peter's key under Enoch's name, nor for an unknown key. */
	assert_int_equal(cl_note_open(cl_buf_view(&msg), "EnochRoot", peter->pub, &text, &err), CL_EINTEGRITY);
	assert_int_equal(cl_note_open(cl_buf_view(&msg), "PeterNeumann", other->pub, &text, &err), CL_EINTEGRITY);
	assert_msg(&err, "no signature");

	/* Duplicated lines of both keys are fine. */
	cl_buf_reset(&msg);
	const char *parts[] = {go_text, "\n", peter_sig, peter_sig, enoch_sig, enoch_sig};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(cl_buf_append(&msg, parts[i], strlen(parts[i])), CL_OK);
	assert_int_equal(cl_note_open(cl_buf_view(&msg), "PeterNeumann", peter->pub, &text, &err), CL_OK);

	/* Go's "invalid signature" case: ABCD inserted into Peter's signature. */
	cl_buf_reset(&msg);
	assert_int_equal(cl_buf_append(&msg, go_text, strlen(go_text)), CL_OK);
	assert_int_equal(cl_buf_append(&msg, "\n", 1), CL_OK);
	assert_int_equal(cl_buf_append(&msg, peter_sig, 60), CL_OK);
	assert_int_equal(cl_buf_append(&msg, "ABCD", 4), CL_OK);
	assert_int_equal(cl_buf_append(&msg, peter_sig + 60, strlen(peter_sig) - 60), CL_OK);
	assert_int_equal(cl_note_open(cl_buf_view(&msg), "PeterNeumann", peter->pub, &text, &err), CL_EINTEGRITY);
	assert_msg(&err, "does not verify");

	/* Go's malformed messages (TestOpen's badMsgs). */
	static const char bad_name_line[] = "\xe2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1F"
					    "FYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
	const size_t sig_len = strlen(peter_sig);
	const struct {
		const char *pre, *mid;
		size_t mid_len;
		const char *post;
	} bad[] = {
		{"", NULL, 0, ""},
		{"", "", 0, ""},
		{"", peter_sig, sig_len - 1, ""},
		{"\x01", peter_sig, sig_len, ""},
		{"\xff", peter_sig, sig_len, ""},
		{"", bad_name_line, strlen(bad_name_line), ""},
		{"", peter_sig, sig_len, "Unexpected line.\n"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cl_buf_reset(&msg);
		assert_int_equal(cl_buf_append(&msg, bad[i].pre, strlen(bad[i].pre)), CL_OK);
		assert_int_equal(cl_buf_append(&msg, go_text, strlen(go_text)), CL_OK);
		if (bad[i].mid != NULL) {
			assert_int_equal(cl_buf_append(&msg, "\n", 1), CL_OK);
			assert_int_equal(cl_buf_append(&msg, bad[i].mid, bad[i].mid_len), CL_OK);
		}
		assert_int_equal(cl_buf_append(&msg, bad[i].post, strlen(bad[i].post)), CL_OK);
		cl_error_clear(&err);
		assert_int_equal(cl_note_open(cl_buf_view(&msg), "PeterNeumann", peter->pub, &text, &err), CL_EBADINPUT);
		assert_true(err.msg[0] != '\0');
	}
	/* At most CL_NOTE_MAX_SIGS signature lines. */
	for (int count = 100; count <= 101; count++) {
		cl_buf_reset(&msg);
		assert_int_equal(cl_buf_append(&msg, go_text, strlen(go_text)), CL_OK);
		assert_int_equal(cl_buf_append(&msg, "\n", 1), CL_OK);
		for (int i = 0; i < count; i++)
			assert_int_equal(cl_buf_append(&msg, peter_sig, strlen(peter_sig)), CL_OK);
		assert_int_equal(cl_note_open(cl_buf_view(&msg), "PeterNeumann", peter->pub, &text, &err),
				 count <= CL_NOTE_MAX_SIGS ? CL_OK : CL_EBADINPUT);
	}
	cl_buf_free(&note);
	cl_buf_free(&msg);
}

static void test_checkpoint_known_answer(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_buf note = CL_BUF_INIT(CL_CHECKPOINT_MAX_LEN);
	uint64_t size = 0;
	uint8_t root[32];
	char *origin = NULL;

	assert_int_equal(cl_checkpoint_sign(&note, ORIGIN, 42, kat_root, peter, &err), CL_OK);
	assert_int_equal(note.len, strlen(kat_note));
	assert_memory_equal(note.ptr, kat_note, note.len);

	assert_int_equal(cl_checkpoint_open(CL_BYTES(kat_note, strlen(kat_note)), NULL, peter->pub, &size, root,
					    &origin, &err),
			 CL_OK);
	assert_int_equal(size, 42);
	assert_memory_equal(root, kat_root, 32);
	assert_string_equal(origin, ORIGIN);
	free(origin);
	assert_int_equal(open_peter(kat_note, strlen(kat_note), ORIGIN, &err), CL_OK);
	/* the checkpoint is for another log than the one expected */
	assert_int_equal(open_peter(kat_note, strlen(kat_note), "certledger.example/other", &err), CL_EINTEGRITY);
	assert_msg(&err, "origin");
	cl_buf_free(&note);
}

static void test_round_trip(void **state)
{
	(void)state;
	static const uint64_t sizes[] = {0, 1, 9, 10, 4294967296ull, UINT64_MAX};
	cl_error err = CL_ERROR_INIT;
	cl_buf note = CL_BUF_INIT(CL_CHECKPOINT_MAX_LEN);
	char origin[CL_ORIGIN_MAX + 1];

	memset(origin, 'o', CL_ORIGIN_MAX);
	origin[CL_ORIGIN_MAX] = '\0';
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t root_in[32], root[32];
		uint64_t size = 12345;
		char *got = NULL;
		const char *o = i % 2 ? origin : "example.com/log";
		for (int j = 0; j < 32; j++)
			root_in[j] = (uint8_t)(i * 37 + j * 11);
		assert_int_equal(cl_checkpoint_sign(&note, o, sizes[i], root_in, other, &err), CL_OK);
		assert_true(note.len <= CL_CHECKPOINT_MAX_LEN);
		assert_int_equal(cl_checkpoint_open(cl_buf_view(&note), o, other->pub, &size, root, &got, &err), CL_OK);
		assert_int_equal(size, sizes[i]);
		assert_memory_equal(root, root_in, 32);
		assert_string_equal(got, o);
		free(got);
		/* origin_out may be NULL; another key does not open it */
		assert_int_equal(cl_checkpoint_open(cl_buf_view(&note), NULL, other->pub, &size, root, NULL, &err), CL_OK);
		assert_int_equal(cl_checkpoint_open(cl_buf_view(&note), NULL, peter->pub, &size, root, NULL, &err),
				 CL_EINTEGRITY);
	}
	/* the size line is plain decimal */
	assert_int_equal(cl_checkpoint_sign(&note, "a.example/b", UINT64_MAX, kat_root, other, &err), CL_OK);
	assert_true(note.len > 33);
	assert_memory_equal(note.ptr, "a.example/b\n18446744073709551615\n", 33);
	cl_buf_free(&note);
}

/* Copies kat_note into buf with bytes [at, at+cut) replaced by ins. */
static size_t edit(char *buf, size_t cap, size_t at, size_t cut, const char *ins)
{
	size_t n = strlen(kat_note), k = strlen(ins);
	assert_true(at + cut <= n && n - cut + k < cap);
	memcpy(buf, kat_note, at);
	memcpy(buf + at, ins, k);
	memcpy(buf + at + k, kat_note + at + cut, n - at - cut);
	buf[n - cut + k] = '\0';
	return n - cut + k;
}

static void test_tampering(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	char buf[1024];
	size_t n = strlen(kat_note);
	size_t origin_len = strlen(ORIGIN);
	size_t root_at = origin_len + 4;          /* after "origin\n42\n" */
	size_t sig_at = root_at + 44 + 2;         /* after the root line and the blank line */
	size_t b64_at = sig_at + 4 + origin_len + 1;

	assert_int_equal(open_str(kat_note, &err), CL_OK);

	/* changed size, root, origin: well formed, but the signature no longer matches */
	edit(buf, sizeof(buf), origin_len + 1, 2, "43");
	assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
	edit(buf, sizeof(buf), origin_len + 1, 2, "4");
	assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
	edit(buf, sizeof(buf), root_at, 1, "B");
	assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
	edit(buf, sizeof(buf), 0, origin_len, "certledger.example/other");
	assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
	assert_int_equal(open_peter(buf, strlen(buf), "certledger.example/other", &err), CL_EINTEGRITY);
	/* the signature line renamed to match the new origin: wrong key id, so not ours */
	edit(buf, sizeof(buf), 0, origin_len, "certledger.example/other");
	{
		char buf2[1024];
		char *line = strstr(buf, "\xe2\x80\x94 ");
		assert_non_null(line);
		size_t head = (size_t)(line - buf);
		int m = snprintf(buf2, sizeof(buf2), "%.*s\xe2\x80\x94 certledger.example/other %s", (int)head, buf,
				 kat_note + b64_at);
		assert_true(m > 0);
		assert_int_equal(open_str(buf2, &err), CL_EINTEGRITY);
		assert_msg(&err, "no signature");
	}

	/* truncated anywhere: never accepted; without the final newline or signature: malformed */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_not_equal(open_peter(kat_note, cut, NULL, &err), CL_OK);
	assert_int_equal(open_peter(kat_note, n - 1, NULL, &err), CL_EBADINPUT);
	assert_int_equal(open_peter(kat_note, sig_at, NULL, &err), CL_EBADINPUT);
	assert_msg(&err, "no signature line");
	assert_int_equal(open_peter(kat_note, sig_at - 1, NULL, &err), CL_EBADINPUT);
	assert_msg(&err, "blank line");

	/* missing blank line */
	edit(buf, sizeof(buf), sig_at - 1, 1, "");
	assert_int_equal(open_str(buf, &err), CL_EBADINPUT);
	assert_msg(&err, "blank line");

	/* trailing garbage, CRLF, a stray blank line at the end */
	static const char *const tails[] = {"x", "garbage\n", "\n", "\xe2\x80\x94 \n", "\r\n"};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		int m = snprintf(buf, sizeof(buf), "%s%s", kat_note, tails[i]);
		assert_true(m > 0);
		assert_int_equal(open_str(buf, &err), CL_EBADINPUT);
	}
	edit(buf, sizeof(buf), origin_len, 1, "\r\n");
	assert_int_equal(open_str(buf, &err), CL_EBADINPUT);
	assert_msg(&err, "control character");

	/* wrong key id: the first 4 bytes of the payload changed, re-encoded canonically */
	{
		uint8_t *payload = NULL;
		size_t plen = 0;
		assert_int_equal(cl_base64_decode(&payload, &plen, kat_note + b64_at, n - b64_at - 1), CL_OK);
		assert_int_equal(plen, 68);
		payload[0] ^= 0x01;
		char *b64 = cl_base64_encode(payload, plen);
		assert_non_null(b64);
		edit(buf, sizeof(buf), b64_at, n - b64_at - 1, b64);
		assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
		assert_msg(&err, "no signature");
		free(b64);
		/* a bad signature under the right key id rejects the note */
		payload[0] ^= 0x01;
		payload[40] ^= 0x10;
		b64 = cl_base64_encode(payload, plen);
		assert_non_null(b64);
		edit(buf, sizeof(buf), b64_at, n - b64_at - 1, b64);
		assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
		assert_msg(&err, "does not verify");
		free(b64);
		/* a truncated signature under the right key id, too */
		b64 = cl_base64_encode(payload, 67);
		assert_non_null(b64);
		edit(buf, sizeof(buf), b64_at, n - b64_at - 1, b64);
		assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
		free(b64);
		free(payload);
	}

	/* any single flipped bit anywhere in the note is refused */
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, kat_note, n);
			buf[i] = (char)(buf[i] ^ (1 << bit));
			if (open_peter(buf, n, NULL, &err) == CL_OK)
				fail_msg("flipping bit %d of byte %zu was accepted", bit, i);
		}
	}
}

/* Signs text under name with Peter's key: a well-signed note whose text may be malformed. */
static size_t signed_text(char *out, size_t cap, const char *text, const char *name)
{
	cl_error err = CL_ERROR_INIT;
	cl_buf note = CL_BUF_INIT(cap - 1);
	assert_int_equal(cl_note_sign(&note, CL_BYTES(text, strlen(text)), name, peter, &err), CL_OK);
	memcpy(out, note.ptr, note.len);
	out[note.len] = '\0';
	size_t len = note.len;
	cl_buf_free(&note);
	return len;
}

static void test_malformed_but_signed(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ORIGIN "\n042\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n00\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n+42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n 42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n42 \nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n0x2a\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size"},
		{ORIGIN "\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "tree size line is empty"},
		{ORIGIN "\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", "base64"},
		{ORIGIN "\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", "base64"}, /* stray low bits */
		{ORIGIN "\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n", "root hash"},
		{ORIGIN "\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx0=\n", "not 32"},
		{ORIGIN "\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==\n", "not 32"},
		{ORIGIN "\n42\n!!!!\n", "base64"},
		{ORIGIN "\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nextension\n", "extension"},
		{ORIGIN "\n42\n", "root hash line is missing"},
		{ORIGIN "\n", "tree size line is missing"},
		{"bad+origin\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "origin"},
		{"bad origin\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "origin"},
		{"\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "origin line is empty"},
	};
	cl_error err = CL_ERROR_INIT;
	char buf[2048];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = signed_text(buf, sizeof(buf), cases[i].text, ORIGIN);
		cl_err rc = open_peter(buf, len, NULL, &err);
		if (rc != CL_EBADINPUT || strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: got %d \"%s\", wanted CL_EBADINPUT mentioning \"%s\"", i, rc, err.msg,
				 cases[i].msg);
	}
	/* The same way, a well-formed text opens: the largest size, and size 0. */
	size_t len = signed_text(buf, sizeof(buf),
				 ORIGIN "\n18446744073709551615\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", ORIGIN);
	assert_int_equal(open_peter(buf, len, NULL, &err), CL_OK);
	len = signed_text(buf, sizeof(buf), ORIGIN "\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", ORIGIN);
	assert_int_equal(open_peter(buf, len, NULL, &err), CL_OK);

	/* malformed signature lines */
	static const char *const lines[] = {
		"\xe2\x80\x94 " ORIGIN "\n",                                  /* no signature */
		"\xe2\x80\x94 a+b AAAAAAA=\n",                                /* bad key name */
		"\xe2\x80\x94  AAAAAAA=\n",                                   /* empty key name */
		"\xe2\x80\x94 " ORIGIN " AAAA\n",                             /* too short */
		"\xe2\x80\x94 " ORIGIN " AAAAAA==\n",                         /* 4 bytes: only a key id */
		"\xe2\x80\x94 " ORIGIN " AAAAAAA=x\n",                        /* not base64 */
		"\xe2\x80\x94 " ORIGIN " AAAAAAB=\n",                         /* non-canonical base64 */
		"-- " ORIGIN " AAAAAAA=\n",                                   /* not an em dash */
		"\xe2\x80\x94" ORIGIN " AAAAAAA=\n",                          /* no space after the dash */
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int m = snprintf(buf, sizeof(buf), "%s%s", kat_note, lines[i]);
		assert_true(m > 0);
		cl_err rc = open_str(buf, &err);
		if (rc != CL_EBADINPUT)
			fail_msg("signature line case %zu: got %d \"%s\"", i, rc, err.msg);
	}
}

static void test_extra_signatures(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_buf w = CL_BUF_INIT(4096);
	cl_buf msg = CL_BUF_INIT(4096);
	char buf[2048];
	const char *text_end = strstr(kat_note, "\n\n");
	assert_non_null(text_end);
	size_t text_len = (size_t)(text_end - kat_note) + 1;
	const char *our_line = text_end + 2;

	/* a witness cosigns the same text under its own name */
	assert_int_equal(cl_note_sign(&w, CL_BYTES(kat_note, text_len), "witness.example/w1", other, &err), CL_OK);
	/* the same text, so its signature line starts at the same offset */
	const char *witness_line = (const char *)w.ptr + text_len + 1;
	size_t witness_len = w.len - text_len - 1;

	/* ours then theirs, theirs then ours: both open */
	int m = snprintf(buf, sizeof(buf), "%s%.*s", kat_note, (int)witness_len, witness_line);
	assert_true(m > 0);
	assert_int_equal(open_str(buf, &err), CL_OK);
	cl_bytes text;
	assert_int_equal(cl_note_open(CL_BYTES(buf, (size_t)m), "witness.example/w1", other->pub, &text, &err), CL_OK);
	assert_int_equal(text.len, text_len);
	m = snprintf(buf, sizeof(buf), "%.*s\n%.*s%s", (int)text_len, kat_note, (int)witness_len, witness_line,
		     our_line);
	assert_true(m > 0);
	assert_int_equal(open_str(buf, &err), CL_OK);
	/* only theirs: not signed by us */
	m = snprintf(buf, sizeof(buf), "%.*s\n%.*s", (int)text_len, kat_note, (int)witness_len, witness_line);
	assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
	assert_msg(&err, "no signature");

	/* another key under OUR name has another key id: ignored, as the spec requires */
	assert_int_equal(cl_note_sign(&w, CL_BYTES(kat_note, text_len), ORIGIN, other, &err), CL_OK);
	witness_line = (const char *)w.ptr + text_len + 1;
	witness_len = w.len - text_len - 1;
	m = snprintf(buf, sizeof(buf), "%.*s\n%.*s%s", (int)text_len, kat_note, (int)witness_len, witness_line,
		     our_line);
	assert_int_equal(open_str(buf, &err), CL_OK);
	m = snprintf(buf, sizeof(buf), "%.*s\n%.*s", (int)text_len, kat_note, (int)witness_len, witness_line);
	assert_int_equal(open_str(buf, &err), CL_EINTEGRITY);
	/* but for the other key, that line is the one that counts */
	uint64_t size;
	uint8_t root[32];
	assert_int_equal(cl_checkpoint_open(CL_BYTES(buf, (size_t)m), ORIGIN, other->pub, &size, root, NULL, &err),
			 CL_OK);

	/* one good and one bad line from our key: the whole note is refused */
	cl_buf_reset(&msg);
	assert_int_equal(cl_buf_append(&msg, kat_note, strlen(kat_note)), CL_OK);
	assert_int_equal(cl_buf_append(&msg, our_line, strlen(our_line)), CL_OK);
	msg.ptr[msg.len - 10] = msg.ptr[msg.len - 10] == 'A' ? 'B' : 'A';
	assert_int_equal(open_peter(msg.ptr, msg.len, NULL, &err), CL_EINTEGRITY);
	assert_msg(&err, "line 2");
	cl_buf_free(&w);
	cl_buf_free(&msg);
}

static void test_sign_errors(void **state)
{
	(void)state;
	cl_error err = CL_ERROR_INIT;
	cl_buf note = CL_BUF_INIT(CL_CHECKPOINT_MAX_LEN);
	cl_key *pub_only = NULL;

	static const char *const bad[] = {"", "a+b", "a b", "a\nb", "tab\there"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cl_error_clear(&err);
		assert_int_equal(cl_checkpoint_sign(&note, bad[i], 1, kat_root, peter, &err), CL_EBADINPUT);
		assert_msg(&err, "origin");
		assert_int_equal(note.len, 0);
	}
	char longer[CL_ORIGIN_MAX + 2];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(cl_checkpoint_sign(&note, longer, 1, kat_root, peter, &err), CL_EBADINPUT);
	assert_msg(&err, "255");

	/* a public key cannot sign */
	assert_int_equal(cl_key_from_public(&pub_only, peter->pub, &err), CL_OK);
	assert_int_equal(cl_checkpoint_sign(&note, ORIGIN, 1, kat_root, pub_only, &err), CL_EUSAGE);
	assert_int_equal(cl_checkpoint_sign(&note, ORIGIN, 1, kat_root, NULL, &err), CL_EUSAGE);
	cl_key_free(pub_only);

	/* an output buffer too small, left empty */
	cl_buf small = CL_BUF_INIT(100);
	assert_int_equal(cl_buf_append(&small, "junk", 4), CL_OK);
	assert_int_equal(cl_checkpoint_sign(&small, ORIGIN, 1, kat_root, peter, &err), CL_ETOOLARGE);
	assert_int_equal(small.len, 0);
	cl_buf_free(&small);

	/* note texts that cannot be signed */
	static const char *const texts[] = {"", "no newline", "cr\r\n", "nul\x01\n", "\xff\n"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(cl_note_sign(&note, CL_BYTES(texts[i], strlen(texts[i])), ORIGIN, peter, &err),
				 CL_EBADINPUT);
	assert_int_equal(cl_note_sign(&note, CL_BYTES("ok\n", 3), "bad name", peter, &err), CL_EBADINPUT);
	cl_bytes text;
	assert_int_equal(cl_note_open(CL_BYTES(kat_note, strlen(kat_note)), "bad name", peter->pub, &text, &err),
			 CL_EBADINPUT);

	/* a note over the size limit is refused before anything else */
	size_t big = CL_NOTE_MAX_LEN + 1;
	char *huge = malloc(big);
	assert_non_null(huge);
	memset(huge, 'a', big);
	assert_int_equal(open_peter(huge, big, NULL, &err), CL_ETOOLARGE);
	free(huge);
	cl_buf_free(&note);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_id_and_verifier_key),
		cmocka_unit_test(test_go_note_interop),
		cmocka_unit_test(test_checkpoint_known_answer),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_malformed_but_signed),
		cmocka_unit_test(test_extra_signatures),
		cmocka_unit_test(test_sign_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
