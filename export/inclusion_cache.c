/* inclusion_cache.c - RFC 9162 inclusion proofs of consecutive leaves checked along a shared,
 * already verified path (see inclusion_cache.h for why the answer is unchanged). */
#include "export/inclusion_cache.h"

#include <string.h>

#define HLEN CL_MERKLE_HASH_LEN

void cl_incl_cache_init(cl_incl_cache *c, uint64_t size, const uint8_t root[HLEN])
{
	memset(c, 0, sizeof(*c));
	c->size = size;
	memcpy(c->root, root, HLEN);
}

bool cl_incl_cache_verify(cl_incl_cache *c, const uint8_t leaf[HLEN], uint64_t index, cl_bytes hashes)
{
	cl_incl_step path[64];
	if (index >= c->size || hashes.len % HLEN != 0 || hashes.len / HLEN > 64)
		return false;
	size_t count = hashes.len / HLEN, j = 0;
	uint64_t fn = index, sn = c->size - 1;
	uint8_t r[HLEN];
	memcpy(r, leaf, HLEN);
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = hashes.ptr + i * HLEN;
		if (sn == 0)
			return false;
		if ((fn & 1) != 0 || fn == sn) {
			cl_merkle_node_hash(p, r, r);
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			cl_merkle_node_hash(r, p, r);
		}
		fn >>= 1;
		sn >>= 1;
		path[i].fn = fn;
		path[i].sn = sn;
		memcpy(path[i].r, r, HLEN);
		if (!c->valid)
			continue;
		/* sn only falls along a path: the cached step at this level, if any, is at or after j */
		while (j < c->nsteps && c->step[j].sn > sn)
			j++;
		size_t rest = count - i - 1;
		if (j < c->nsteps && c->step[j].sn == sn && c->step[j].fn == fn && memcmp(c->step[j].r, r, HLEN) == 0 &&
		    c->nsteps - j - 1 == rest && memcmp(hashes.ptr + (i + 1) * HLEN, c->proof + (j + 1) * HLEN, rest * HLEN) == 0) {
			/* the same state and the same remaining hashes as a computation that reached the
			 * root: this one does too. Keep the new lower path with the shared upper one. */
			memmove(&c->step[i + 1], &c->step[j + 1], rest * sizeof(cl_incl_step));
			memcpy(c->step, path, (i + 1) * sizeof(cl_incl_step));
			memcpy(c->proof, hashes.ptr, hashes.len);
			c->nsteps = count;
			return true;
		}
	}
	if (sn != 0 || memcmp(r, c->root, HLEN) != 0)
		return false;
	memcpy(c->step, path, count * sizeof(cl_incl_step));
	if (count > 0)
		memcpy(c->proof, hashes.ptr, hashes.len);
	c->nsteps = count;
	c->valid = true;
	return true;
}
