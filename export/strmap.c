/* strmap.c - string-keyed hash map (see strmap.h). FNV-1a hashing; the table doubles when it
 * is half full, so probes stay short. */
#include "export/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static cl_strmap_slot *find(const cl_strmap_slot *slots, size_t cap, const char *key, size_t n)
{
	size_t i = (size_t)hash(key, n) & (cap - 1);
	while (slots[i].key != NULL && (slots[i].keylen != n || memcmp(slots[i].key, key, n) != 0))
		i = (i + 1) & (cap - 1);
	return (cl_strmap_slot *)&slots[i];
}

void *cl_strmap_get(const cl_strmap *m, const char *key, size_t n)
{
	if (m->cap == 0)
		return NULL;
	cl_strmap_slot *s = find(m->slots, m->cap, key, n);
	return s->key ? s->value : NULL;
}

static cl_err grow(cl_strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	if (cap > SIZE_MAX / sizeof(cl_strmap_slot))
		return CL_ENOMEM;
	cl_strmap_slot *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return CL_ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL)
			*find(slots, cap, m->slots[i].key, m->slots[i].keylen) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return CL_OK;
}

cl_err cl_strmap_put(cl_strmap *m, const char *key, size_t n, void *value, const char **interned)
{
	if ((m->n + 1) * 2 > m->cap && grow(m) != CL_OK)
		return CL_ENOMEM;
	cl_strmap_slot *s = find(m->slots, m->cap, key, n);
	if (s->key == NULL) {
		char *k = malloc(n + 1);
		if (k == NULL)
			return CL_ENOMEM;
		memcpy(k, key, n);
		k[n] = '\0';
		s->key = k;
		s->keylen = n;
		m->n++;
	}
	s->value = value;
	if (interned)
		*interned = s->key;
	return CL_OK;
}

void cl_strmap_free(cl_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
