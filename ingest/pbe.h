/* pbe.h - password-based decryption for ingest: the forms of a password worth trying, the
 * KDF work limit that stops hostile files, and the inspection of a PBE AlgorithmIdentifier
 * before anything is derived from the password.
 *
 * Shared by the PKCS#12 reader (MAC, encrypted safes, shrouded key bags) and the PEM reader
 * ("ENCRYPTED PRIVATE KEY" blocks). Nothing here logs or prints a password.
 *
 * KDF limit: measured on the build machine (2 cores, OpenSSL 3.0.19, -O2, one thread) with a
 * small program timing 10^6 iterations of each KDF through the public API
 * (PKCS5_PBKDF2_HMAC and PKCS12_key_gen_utf8, 32-byte outputs), run twice:
 *     PBKDF2-HMAC-SHA256   4.8 M iterations/s     PKCS#12 KDF SHA-1    12.4 M/s
 *     PBKDF2-HMAC-SHA1     2.4 M/s (2 blocks)     PKCS#12 KDF SHA-256  13.5 M/s
 *     PBKDF2-HMAC-SHA512   2.0 M/s                PKCS#12 KDF SHA-512   4.7 M/s
 *     scrypt N=2^14 r=8 p=1: 48 ms (2.7 M N*r units/s)
 * Work is counted in "cost units" of about one PBKDF2-HMAC-SHA256 iteration (0.21 us here):
 * a derivation costs iterations x output blocks x 2 when the digest has 128-byte blocks
 * (SHA-384/512), and each PKCS#12-KDF derivation is charged like PBKDF2 although it is 2-3
 * times cheaper. CL_KDF_MAX_COST = 8,000,000 units is ~1.7 s of PBKDF2-SHA256 and ~2.0 s of
 * PBKDF2-SHA512 on that machine: "about 2 seconds". A single iteration count above
 * CL_KDF_MAX_ITER is refused before anything is derived; the whole file (every MAC attempt,
 * every encrypted safe and key bag, every password form tried) shares one budget.
 */
#ifndef CL_INGEST_PBE_H
#define CL_INGEST_PBE_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_KDF_MAX_ITER INT64_C(8000000)
#define CL_KDF_MAX_COST UINT64_C(8000000)

/* Work already spent on one file, and the most it may spend. */
typedef struct cl_kdf_budget {
	uint64_t used;
	uint64_t max;
} cl_kdf_budget;

#define CL_PASS_FORMS_MAX 3

/* The byte strings a password is tried as, in order:
 *  - no password given, or an empty one: "" and then "absent" (NULL): tools disagree on
 *    whether an empty password is the empty BMPString (two zero bytes) or no bytes at all;
 *  - otherwise: the bytes as given (UTF-8 is what OpenSSL converts to BMPString); then each
 *    byte read as an ISO-8859-1 character and re-encoded as UTF-8 (what OpenSSL before 1.1.0
 *    effectively hashed, the "broken algorithm" fallback of apps/pkcs12.c); then, when the
 *    given bytes are UTF-8 whose characters all fit in ISO-8859-1, those ISO-8859-1 bytes
 *    (tools that feed PBKDF2 the Latin-1 bytes of the password). Duplicates are dropped.
 * Every form lives in a cl_secret and is wiped by cl_pbe__forms_clear. */
typedef struct cl_pass_form {
	cl_secret s;
	bool absent;       /* pass NULL to OpenSSL */
	const char *label; /* "as given", "empty", "absent", "latin1 as utf8", "latin1 bytes" */
} cl_pass_form;

typedef struct cl_pass_forms {
	cl_pass_form f[CL_PASS_FORMS_MAX];
	size_t n;
	size_t first; /* index tried first: the form that last worked */
	bool empty;   /* no password, or the empty one, was given */
} cl_pass_forms;

/* Fills pf from password (NULL = none given). pf must be zeroed before the call; it is
 * cleared again on failure. */
cl_err cl_pbe__forms_init(cl_pass_forms *pf, const cl_secret *password, cl_error *err)
	__attribute__((warn_unused_result));
/* Wipes and frees every form. Safe on a zeroed or already cleared pf. */
void cl_pbe__forms_clear(cl_pass_forms *pf);
/* Pointer and length to hand OpenSSL for form i (NULL, 0 when absent). */
const char *cl_pbe__form_ptr(const cl_pass_forms *pf, size_t i, int *len);
/* The order in which to try forms: k-th attempt -> form index (pf->first first). */
size_t cl_pbe__form_at(const cl_pass_forms *pf, size_t k);

/* CL_EPASSWORD "wrong password for <file>", plus " (<detail>)" when detail is not NULL, or
 * " (tried the empty password and no password)" when that is all there was to try. */
cl_err cl_pbe__wrong_password(const cl_pass_forms *pf, const char *file, const char *detail, cl_error *err);

/* Checks one iteration count: > 0 (else CL_EBADINPUT, "corrupt"), <= CL_KDF_MAX_ITER (else
 * CL_EREFUSED "KDF iteration count N is too high (hostile file?)"). NULL means 1. */
cl_err cl_pbe__check_iter(const ASN1_INTEGER *iter, int64_t *out, const char *file, cl_error *err)
	__attribute__((warn_unused_result));

/* Adds cost to the budget, refusing (CL_EREFUSED) when it would pass b->max. */
cl_err cl_pbe__charge(cl_kdf_budget *b, uint64_t cost, const char *file, cl_error *err)
	__attribute__((warn_unused_result));

/* Cost of one PKCS#12-KDF derivation of n bytes with md (used for the MAC). */
uint64_t cl_pbe__pkcs12_kdf_cost(int64_t iter, const EVP_MD *md, size_t n);

/* Inspects a password-based encryption AlgorithmIdentifier without deriving anything: the
 * scheme (PKCS#12 PBE, PKCS#5 v1.5 PBES1, PBES2 with PBKDF2 or scrypt), cipher, PRF and
 * parameters must be usable in the ingest library context and the iteration count within
 * limits. *cost receives the cost of one decryption attempt, *block_size (may be NULL) the
 * cipher's block size. Errors: CL_EUNSUPPORTED naming the algorithm, CL_EBADINPUT for
 * malformed parameters, CL_EREFUSED for a hostile iteration count. */
cl_err cl_pbe__inspect(const X509_ALGOR *alg, uint64_t *cost, int *block_size, const char *file,
		       cl_error *err) __attribute__((warn_unused_result));

/* Decodes decrypted bytes into an object; NULL when they do not decode. */
typedef void *(*cl_pbe_d2i_fn)(const uint8_t *p, size_t len);

/* Decrypts ct (described by alg, already inspected or not: it is inspected again) trying
 * every password form, charging each attempt to b, and decodes the plaintext with d2i.
 * The plaintext is wiped before this returns. On success *obj is the decoded object (the
 * caller frees it with the matching _free) and pf->first is the form that worked.
 * integrity_checked says that a MAC already proved the file intact: then a plaintext that
 * decrypts but does not decode is CL_EBADINPUT (corrupt), and no decryption at all is
 * CL_EPASSWORD. Without a MAC every failure is reported as CL_EPASSWORD, since a wrong
 * password cannot be told apart from damage. what names the part ("the private key"). */
cl_err cl_pbe__decrypt(void **obj, const X509_ALGOR *alg, const uint8_t *ct, size_t ct_len,
		       cl_pass_forms *pf, bool integrity_checked, cl_kdf_budget *b, cl_pbe_d2i_fn d2i,
		       const char *what, const char *file, cl_error *err) __attribute__((warn_unused_result));

#endif
