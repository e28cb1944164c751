/* ossl.c - the ingest OpenSSL library context (default + legacy providers, created once) and
 * the translation of OpenSSL's error queue into cl_error messages. */
#include "ingest/ossl.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Written once inside CRYPTO_THREAD_run_once and only read afterwards: the run-once gives the
 * memory ordering, so readers need no lock. */
static CRYPTO_ONCE g_once = CRYPTO_ONCE_STATIC_INIT;
static OSSL_LIB_CTX *g_libctx;
static bool g_legacy;

static void init_libctx(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
	if (ctx == NULL)
		return;
	/* Loading a provider explicitly turns off the automatic fallback to "default", so load
	 * it by name too. The provider handles stay loaded for the life of the context. */
	if (OSSL_PROVIDER_load(ctx, "default") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ERR_clear_error();
		return;
	}
	g_legacy = OSSL_PROVIDER_load(ctx, "legacy") != NULL;
	ERR_clear_error(); /* a missing legacy module is reported when a file needs it */
	g_libctx = ctx;
}

OSSL_LIB_CTX *cl_ingest__libctx(void)
{
	if (!CRYPTO_THREAD_run_once(&g_once, init_libctx))
		return NULL;
	return g_libctx;
}

bool cl_ingest__legacy_loaded(void)
{
	return cl_ingest__libctx() != NULL && g_legacy;
}

cl_err cl_ingest__ossl_error(cl_error *err, cl_err code, const char *fmt, ...)
{
	unsigned long e = ERR_peek_error();
	if (err != NULL) {
		char msg[CL_ERRMSG_MAX];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
		if (reason != NULL)
			cl_error_set(err, code, "%s: %s", msg, reason);
		else
			cl_error_set(err, code, "%s", msg);
	}
	ERR_clear_error();
	return code;
}

/* ---- an OpenSSL allocator that wipes on free ------------------------------------------------ */

static void *wipe_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n ? n : 1);
}

static void wipe_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* Never realloc in place: the old block would be released unwiped. */
static void *wipe_realloc(void *p, size_t n, const char *file, int line)
{
	if (p == NULL)
		return wipe_malloc(n, file, line);
	size_t old = malloc_usable_size(p);
	void *q = malloc(n ? n : 1);
	if (q == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	wipe_free(p, file, line);
	return q;
}

bool cl_ingest__wipe_openssl_frees(void)
{
	CRYPTO_malloc_fn m = NULL;
	CRYPTO_realloc_fn r = NULL;
	CRYPTO_free_fn f = NULL;
	CRYPTO_get_mem_functions(&m, &r, &f);
	if (m == wipe_malloc)
		return true; /* already installed */
	if (m != CRYPTO_malloc)
		return false; /* someone else's allocator: swapping it would free their blocks with ours */
	/* OpenSSL refuses once it has allocated with its default allocator. */
	return CRYPTO_set_mem_functions(wipe_malloc, wipe_realloc, wipe_free) == 1;
}
