/* tu_memwatch.c - OpenSSL allocation hooks that scan every freed block for watched bytes (see
 * tu_memwatch.h). Each block carries its size in a header so that free can scan it. */
#include "tu_memwatch.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The hook reads whole blocks that OpenSSL may not have written to the end (a decryption
 * buffer sized for padding, say); they are being freed, so tell valgrind they are readable. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define HDR 16

static const void *g_watch[TU_MEMWATCH_SLOTS];
static size_t g_watch_len[TU_MEMWATCH_SLOTS];
static int g_found, g_found_tolerated;
static const char *g_tolerated;
static const void *g_tracked;
static int g_tracked_state;

static void scan(const uint8_t *p, size_t n, const char *file)
{
	if (p == g_tracked) {
		g_tracked_state = 1;
		for (size_t i = 0; i < n; i++)
			if (p[i] != 0)
				g_tracked_state = -1;
	}
	for (int i = 0; i < TU_MEMWATCH_SLOTS; i++) {
		if (g_watch[i] == NULL || n < g_watch_len[i] || memmem(p, n, g_watch[i], g_watch_len[i]) == NULL)
			continue;
		g_found++;
		if (file != NULL && g_tolerated != NULL && strstr(file, g_tolerated) != NULL)
			g_found_tolerated++;
		else
			fprintf(stderr, "watched bytes left in a block freed at %s\n", file != NULL ? file : "?");
	}
}

static void *hk_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	uint8_t *p = malloc(n + HDR);
	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static void hk_free(void *ptr, const char *file, int line)
{
	(void)line;
	if (ptr == NULL)
		return;
	uint8_t *p = (uint8_t *)ptr - HDR;
	size_t n;
	memcpy(&n, p, sizeof(n));
	VALGRIND_MAKE_MEM_DEFINED(ptr, n);
	scan(ptr, n, file);
	free(p);
}

static void *hk_realloc(void *ptr, size_t n, const char *file, int line)
{
	if (ptr == NULL)
		return hk_malloc(n, file, line);
	size_t old;
	memcpy(&old, (uint8_t *)ptr - HDR, sizeof(old));
	uint8_t *np = hk_malloc(n, file, line);
	if (np == NULL)
		return NULL;
	memcpy(np, ptr, old < n ? old : n);
	hk_free(ptr, file, line);
	return np;
}

int tu_memwatch_install(void)
{
	return CRYPTO_set_mem_functions(hk_malloc, hk_realloc, hk_free) ? 0 : -1;
}

void tu_memwatch_set(int slot, const void *p, size_t n)
{
	if (slot < 0 || slot >= TU_MEMWATCH_SLOTS)
		abort();
	g_watch[slot] = n > 0 ? p : NULL;
	g_watch_len[slot] = n;
}

void tu_memwatch_reset(void)
{
	for (int i = 0; i < TU_MEMWATCH_SLOTS; i++)
		g_watch[i] = NULL;
	g_found = g_found_tolerated = 0;
}

int tu_memwatch_found(void)
{
	return g_found;
}

void tu_memwatch_tolerate(const char *file_part)
{
	g_tolerated = file_part;
}

int tu_memwatch_found_tolerated(void)
{
	return g_found_tolerated;
}

void tu_memwatch_track(const void *block)
{
	g_tracked = block;
	g_tracked_state = 0;
}

int tu_memwatch_tracked(void)
{
	return g_tracked_state;
}
