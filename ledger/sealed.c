/* sealed.c - AES-256-GCM envelope encryption of secrets under the master key: a fresh data key
 * per secret, wrapped by the master key, both bound to a purpose and a context (layout,
 * labels and guarantees in sealed.h). */
#include "ledger/sealed.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define LABEL_MAX 24 /* longest label below, with room to spare */
#define AAD_MAX (LABEL_MAX + 2 + CL_SEALED_CONTEXT_MAX)

/* What each purpose binds into its AADs. context_len 0: contexts of 1..CL_SEALED_CONTEXT_MAX
 * bytes, written after a length byte; else every context is exactly that long. */
typedef struct purpose_def {
	const char *what; /* for messages: "sealed <what> does not open" */
	const char *wrap_label;
	const char *data_label;
	size_t context_len;
} purpose_def;

static const purpose_def PURPOSES[] = {
	[CL_SEALED_PRIVATE_KEY] = {"key", "certledger/keywrap", "certledger/keydata", 32},
	[CL_SEALED_WEBHOOK_SECRET] = {"webhook secret", "certledger/whsec-wrap", "certledger/whsec-data", 0},
};

typedef struct aad {
	uint8_t b[AAD_MAX];
	size_t len;
} aad;

static const purpose_def *purpose_of(cl_sealed_purpose p)
{
	return (unsigned)p < sizeof(PURPOSES) / sizeof(PURPOSES[0]) ? &PURPOSES[p] : NULL;
}

static bool context_fits(const purpose_def *d, cl_bytes c)
{
	if (c.ptr == NULL)
		return false;
	return d->context_len != 0 ? c.len == d->context_len : c.len >= 1 && c.len <= CL_SEALED_CONTEXT_MAX;
}

bool cl_sealed__context_ok(cl_sealed_purpose purpose, cl_bytes context)
{
	const purpose_def *d = purpose_of(purpose);
	return d != NULL && context_fits(d, context);
}

/* label || version || [length byte] || context; the context must fit (context_fits). */
static void make_aad(aad *a, const purpose_def *d, const char *label, cl_bytes c)
{
	size_t n = strlen(label);
	memcpy(a->b, label, n);
	a->b[n++] = CL_SEALED_VERSION;
	if (d->context_len == 0)
		a->b[n++] = (uint8_t)c.len;
	memcpy(a->b + n, c.ptr, c.len);
	a->len = n + c.len;
}

/* One AES-256-GCM operation. enc: in -> out (same length) and tag written; !enc: tag checked.
 * Returns 1 on success, 0 on any failure (a tag mismatch included). */
static int gcm(int enc, const uint8_t key[CL_SEALED_KEY_LEN], const uint8_t nonce[CL_SEALED_NONCE_LEN],
	       const aad *a, const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[CL_SEALED_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, ok = 0;
	if (ctx == NULL || n > INT_MAX)
		goto out;
	if (EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, enc, NULL) != 1)
		goto out;
	if (EVP_CipherUpdate(ctx, NULL, &len, a->b, (int)a->len) != 1)
		goto out;
	if (n > 0 && (EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1 || (size_t)len != n))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CL_SEALED_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &len) != 1 || len != 0)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CL_SEALED_TAG_LEN, tag) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(ctx); /* the provider wipes its key schedule */
	ERR_clear_error();
	return ok;
}

static bool master_ok(const cl_secret *m)
{
	return m != NULL && m->ptr != NULL && m->len == CL_SEALED_KEY_LEN;
}

static cl_err bad_master(cl_error *err)
{
	return cl_error_set(err, CL_EUSAGE, "the master key must be %d bytes", CL_SEALED_KEY_LEN);
}

static cl_err not_open(cl_error *err, const purpose_def *d)
{
	return cl_error_set(err, CL_EINTEGRITY, "sealed %s does not open: wrong master key or damaged", d->what);
}

/* Writes the wrap part (nonce, wrapped data key, tag) of the blob at b. */
static cl_err wrap(uint8_t *b, const cl_secret *master, const purpose_def *d, cl_bytes context,
		   const uint8_t dk[CL_SEALED_KEY_LEN], cl_error *err)
{
	aad a;
	make_aad(&a, d, d->wrap_label, context);
	if (RAND_bytes(b + CL_SEALED_OFF_WRAP_NONCE, CL_SEALED_NONCE_LEN) != 1)
		return cl_error_set(err, CL_ECRYPTO, "no randomness for a nonce");
	if (!gcm(1, master->ptr, b + CL_SEALED_OFF_WRAP_NONCE, &a, dk, CL_SEALED_KEY_LEN, b + CL_SEALED_OFF_WRAPPED,
		 b + CL_SEALED_OFF_WRAP_TAG))
		return cl_error_set(err, CL_ECRYPTO, "AES-256-GCM failed");
	return CL_OK;
}

/* Checks the arguments and the blob's shape, unwraps the data key into dk (replaced) and
 * decrypts the ciphertext into out (replaced). On any error both are left empty. */
static cl_err open_parts(cl_secret *dk, cl_secret *out, const cl_secret *master, cl_sealed_purpose purpose,
			 cl_bytes context, cl_bytes blob, cl_error *err)
{
	const purpose_def *d = purpose_of(purpose);
	uint8_t tag[CL_SEALED_TAG_LEN];
	aad a;
	cl_err rc;
	cl_secret_free(dk);
	cl_secret_free(out);
	if (d == NULL)
		return cl_error_set(err, CL_EUSAGE, "unknown purpose %d of a sealed secret", (int)purpose);
	if (!master_ok(master))
		return bad_master(err);
	/* A context that is none of the purpose's cannot have been sealed for: it does not open. */
	if (!context_fits(d, context) || blob.ptr == NULL || blob.len < CL_SEALED_OVERHEAD + 1 ||
	    blob.len > CL_SEALED_OVERHEAD + CL_SEALED_MAX || blob.ptr[0] != CL_SEALED_VERSION)
		return not_open(err, d);
	size_t n = blob.len - CL_SEALED_OVERHEAD;
	dk->max = CL_SEALED_KEY_LEN;
	out->max = n;
	if ((rc = cl_secret_alloc(dk, CL_SEALED_KEY_LEN)) != CL_OK || (rc = cl_secret_alloc(out, n)) != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	make_aad(&a, d, d->wrap_label, context);
	memcpy(tag, blob.ptr + CL_SEALED_OFF_WRAP_TAG, sizeof(tag));
	if (!gcm(0, master->ptr, blob.ptr + CL_SEALED_OFF_WRAP_NONCE, &a, blob.ptr + CL_SEALED_OFF_WRAPPED,
		 CL_SEALED_KEY_LEN, dk->ptr, tag)) {
		rc = not_open(err, d);
		goto out;
	}
	make_aad(&a, d, d->data_label, context);
	memcpy(tag, blob.ptr + CL_SEALED_OFF_DATA + n, sizeof(tag));
	if (!gcm(0, dk->ptr, blob.ptr + CL_SEALED_OFF_DATA_NONCE, &a, blob.ptr + CL_SEALED_OFF_DATA, n, out->ptr, tag))
		rc = not_open(err, d);
out:
	if (rc != CL_OK) {
		cl_secret_free(dk);
		cl_secret_free(out);
	}
	return rc;
}

cl_err cl_sealed__seal(cl_buf *out, const cl_secret *master, cl_sealed_purpose purpose, cl_bytes context,
		       const cl_secret *plaintext, cl_error *err)
{
	const purpose_def *d = purpose_of(purpose);
	cl_secret dk = CL_SECRET_INIT(CL_SEALED_KEY_LEN);
	aad a;
	cl_err rc;
	cl_buf_reset(out);
	if (d == NULL)
		return cl_error_set(err, CL_EUSAGE, "unknown purpose %d of a sealed secret", (int)purpose);
	if (!master_ok(master))
		return bad_master(err);
	if (!context_fits(d, context))
		return cl_error_set(err, CL_EUSAGE, "a %s cannot be sealed for a context of %zu bytes", d->what,
				    context.len);
	if (plaintext == NULL || plaintext->ptr == NULL || plaintext->len == 0 || plaintext->len > CL_SEALED_MAX)
		return cl_error_set(err, CL_EUSAGE, "a secret of 1 to %zu bytes is needed", CL_SEALED_MAX);
	size_t n = plaintext->len, total = CL_SEALED_OVERHEAD + n;
	rc = cl_buf_reserve(out, total);
	if (rc != CL_OK)
		return cl_error_set(err, rc, "no room for the sealed %s (%zu bytes)", d->what, total);
	uint8_t *b = out->ptr;
	rc = cl_secret_alloc(&dk, CL_SEALED_KEY_LEN);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	if (RAND_priv_bytes(dk.ptr, CL_SEALED_KEY_LEN) != 1 ||
	    RAND_bytes(b + CL_SEALED_OFF_DATA_NONCE, CL_SEALED_NONCE_LEN) != 1) {
		rc = cl_error_set(err, CL_ECRYPTO, "no randomness for the data key");
		goto out;
	}
	b[0] = CL_SEALED_VERSION;
	if ((rc = wrap(b, master, d, context, dk.ptr, err)) != CL_OK)
		goto out;
	make_aad(&a, d, d->data_label, context);
	if (!gcm(1, dk.ptr, b + CL_SEALED_OFF_DATA_NONCE, &a, plaintext->ptr, n, b + CL_SEALED_OFF_DATA,
		 b + CL_SEALED_OFF_DATA + n)) {
		rc = cl_error_set(err, CL_ECRYPTO, "AES-256-GCM failed");
		goto out;
	}
	out->len = total;
out:
	cl_secret_free(&dk);
	if (rc != CL_OK)
		cl_buf_reset(out);
	return rc;
}

cl_err cl_sealed__open(cl_secret *out, const cl_secret *master, cl_sealed_purpose purpose, cl_bytes context,
		       cl_bytes blob, cl_error *err)
{
	cl_secret dk = CL_SECRET_INIT(CL_SEALED_KEY_LEN);
	cl_err rc = open_parts(&dk, out, master, purpose, context, blob, err);
	cl_secret_free(&dk);
	return rc;
}

cl_err cl_sealed__rewrap(cl_buf *out, const cl_secret *old_master, const cl_secret *new_master,
			 cl_sealed_purpose purpose, cl_bytes context, cl_bytes blob, cl_error *err)
{
	cl_secret dk = CL_SECRET_INIT(CL_SEALED_KEY_LEN);
	cl_secret plain = CL_SECRET_INIT(CL_SEALED_MAX);
	cl_err rc;
	cl_buf_reset(out);
	if (!master_ok(new_master))
		return bad_master(err);
	/* Authenticate everything before anything new is written; the plaintext is not needed. */
	rc = open_parts(&dk, &plain, old_master, purpose, context, blob, err);
	cl_secret_free(&plain);
	if (rc != CL_OK)
		goto out;
	if ((rc = cl_buf_append(out, blob.ptr, blob.len)) != CL_OK) {
		cl_error_set(err, rc, "no room for the sealed %s (%zu bytes)", purpose_of(purpose)->what, blob.len);
		goto out;
	}
	rc = wrap(out->ptr, new_master, purpose_of(purpose), context, dk.ptr, err);
out:
	cl_secret_free(&dk);
	if (rc != CL_OK)
		cl_buf_reset(out);
	return rc;
}
