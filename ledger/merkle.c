/* merkle.c - RFC 9162 §2.1 Merkle tree: hashing, perfect-subtree storage through callbacks,
 * roots, inclusion and consistency proofs, their verification, and the compact-range builder.
 *
 * Every range that RFC 9162's recursive definitions visit starts at a multiple of the largest
 * power of two not above its length, so its hash is the right fold of the stored perfect
 * subtrees given by the set bits of its length (range_hash). The proofs walk the recursion
 * from the root down, iteratively, and emit the hashes leaf-side first as the RFC lists them.
 *
 * SHA-256 is treated as infallible here, as cl_sha256 is elsewhere: OpenSSL can fail only when
 * it cannot allocate a digest context, and we abort then rather than store or sign a wrong hash.
 */
#include "ledger/merkle.h"
#include "ledger/keys.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define HLEN CL_MERKLE_HASH_LEN

void cl_merkle_leaf_hash(cl_bytes entry, uint8_t out[HLEN])
{
	static const uint8_t prefix = 0x00;
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestInit_ex(c, cl_sha256_md(), NULL) == 1 &&
		 EVP_DigestUpdate(c, &prefix, 1) == 1 &&
		 (entry.len == 0 || EVP_DigestUpdate(c, entry.ptr, entry.len) == 1) &&
		 EVP_DigestFinal_ex(c, out, &n) == 1 && n == HLEN;
	EVP_MD_CTX_free(c);
	if (!ok)
		abort(); /* see the top of the file */
}

void cl_merkle_node_hash(const uint8_t l[HLEN], const uint8_t r[HLEN], uint8_t out[HLEN])
{
	uint8_t buf[1 + 2 * HLEN];
	buf[0] = 0x01;
	memcpy(buf + 1, l, HLEN);
	memcpy(buf + 1 + HLEN, r, HLEN);
	cl_sha256(buf, sizeof(buf), out); /* aborts on failure, see the top of the file */
}

void cl_merkle_empty_root(uint8_t out[HLEN])
{
	if (SHA256((const unsigned char *)"", 0, out) == NULL)
		abort();
}

/* The largest power of two strictly below n; n >= 2. */
static uint64_t split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* Right fold of hashes[0..n): node(h0, node(h1, ... node(h[n-2], h[n-1]))). n >= 1. */
static void fold_right(uint8_t hashes[][HLEN], unsigned n, uint8_t out[HLEN])
{
	uint8_t acc[HLEN];
	memcpy(acc, hashes[n - 1], HLEN);
	for (unsigned i = n - 1; i > 0; i--)
		cl_merkle_node_hash(hashes[i - 1], acc, acc);
	memcpy(out, acc, HLEN);
}

/* MTH of the len >= 1 leaves [start, start+len), start + len <= UINT64_MAX, from one stored
 * perfect node per set bit of len. Every piece must be aligned to its own size, which holds
 * for the ranges of RFC 9162's recursion; anything else is a bug here (CL_EINTERNAL). */
static cl_err range_hash(cl_merkle_get_fn get, void *ctx, uint64_t start, uint64_t len, uint8_t out[HLEN])
{
	uint8_t pieces[64][HLEN];
	unsigned n = 0;
	uint64_t off = start;
	if (len == 0)
		return CL_EINTERNAL;
	for (int level = 63; level >= 0; level--) {
		uint64_t width = (uint64_t)1 << level;
		if ((len & width) == 0)
			continue;
		if ((off & (width - 1)) != 0)
			return CL_EINTERNAL;
		cl_err rc = get(ctx, (unsigned)level, off >> level, pieces[n]);
		if (rc != CL_OK)
			return rc;
		n++;
		off += width;
	}
	fold_right(pieces, n, out);
	return CL_OK;
}

cl_err cl_merkle_append(cl_merkle_get_fn get, cl_merkle_put_fn put, void *ctx, uint64_t leaf_index,
			const uint8_t leaf_hash[HLEN])
{
	uint8_t h[HLEN], left[HLEN];
	uint64_t idx = leaf_index;
	if (leaf_index == UINT64_MAX)
		return CL_EUSAGE;
	cl_err rc = put(ctx, 0, leaf_index, leaf_hash);
	if (rc != CL_OK)
		return rc;
	memcpy(h, leaf_hash, HLEN);
	/* A node that is a right child completes its parent; leaf_index < UINT64_MAX has at most
	 * 63 trailing one bits, so level + 1 stays <= 63. */
	for (unsigned level = 0; (idx & 1) != 0; level++) {
		rc = get(ctx, level, idx - 1, left);
		if (rc != CL_OK)
			return rc;
		cl_merkle_node_hash(left, h, h);
		idx >>= 1;
		rc = put(ctx, level + 1, idx, h);
		if (rc != CL_OK)
			return rc;
	}
	return CL_OK;
}

cl_err cl_merkle_root(cl_merkle_get_fn get, void *ctx, uint64_t size, uint8_t out[HLEN])
{
	if (size == 0) {
		cl_merkle_empty_root(out);
		return CL_OK;
	}
	return range_hash(get, ctx, 0, size, out);
}

/* Writes hashes to out in proof order: first (if not NULL), then sib[n-1] down to sib[0]
 * (sib was collected root-side first). out was reset by the caller. */
static cl_err emit(cl_buf *out, const uint8_t *first, uint8_t sib[][HLEN], unsigned n)
{
	size_t count = n + (first != NULL);
	cl_err rc = cl_buf_reserve(out, count * HLEN);
	if (rc != CL_OK)
		return rc;
	if (first != NULL)
		rc = cl_buf_append(out, first, HLEN);
	for (unsigned i = n; rc == CL_OK && i > 0; i--)
		rc = cl_buf_append(out, sib[i - 1], HLEN);
	return rc;
}

cl_err cl_merkle_inclusion_proof(cl_merkle_get_fn get, void *ctx, uint64_t index, uint64_t size, cl_buf *out)
{
	uint8_t sib[64][HLEN];
	unsigned n = 0;
	uint64_t start = 0, len = size, m = index;
	cl_err rc = CL_OK;

	cl_buf_reset(out);
	if (index >= size)
		return CL_EUSAGE;
	/* PATH(m, D[len]) for the subtree at start: descend towards leaf m. */
	while (len > 1) {
		uint64_t k = split_point(len);
		if (n >= 64)
			return CL_EINTERNAL;
		if (m < k) {
			rc = range_hash(get, ctx, start + k, len - k, sib[n]);
			len = k;
		} else {
			rc = range_hash(get, ctx, start, k, sib[n]);
			start += k;
			m -= k;
			len -= k;
		}
		if (rc != CL_OK)
			goto out;
		n++;
	}
	rc = emit(out, NULL, sib, n);
out:
	if (rc != CL_OK)
		cl_buf_reset(out);
	return rc;
}

cl_err cl_merkle_consistency_proof(cl_merkle_get_fn get, void *ctx, uint64_t old_size, uint64_t new_size,
				   cl_buf *out)
{
	uint8_t sib[64][HLEN], first[HLEN];
	unsigned n = 0;
	uint64_t start = 0, len = new_size, m = old_size;
	bool whole = true; /* the b flag of SUBPROOF: the old tree is a whole subtree so far */
	cl_err rc = CL_OK;

	cl_buf_reset(out);
	if (old_size == 0 || old_size > new_size)
		return CL_EUSAGE;
	/* SUBPROOF(m, D[len], whole) for the subtree at start. */
	while (m != len) {
		uint64_t k = split_point(len);
		if (n >= 64)
			return CL_EINTERNAL;
		if (m <= k) {
			rc = range_hash(get, ctx, start + k, len - k, sib[n]);
			len = k;
		} else {
			rc = range_hash(get, ctx, start, k, sib[n]);
			start += k;
			m -= k;
			len -= k;
			whole = false;
		}
		if (rc != CL_OK)
			goto out;
		n++;
	}
	if (!whole) {
		rc = range_hash(get, ctx, start, m, first);
		if (rc != CL_OK)
			goto out;
	}
	rc = emit(out, whole ? NULL : first, sib, n);
out:
	if (rc != CL_OK)
		cl_buf_reset(out);
	return rc;
}

bool cl_merkle_verify_inclusion(const uint8_t leaf[HLEN], uint64_t index, uint64_t size, cl_bytes hashes,
				const uint8_t root[HLEN])
{
	uint8_t r[HLEN];
	if (index >= size || hashes.len % HLEN != 0 || hashes.len / HLEN > 64)
		return false;
	size_t count = hashes.len / HLEN;
	uint64_t fn = index, sn = size - 1;
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
	}
	return sn == 0 && memcmp(r, root, HLEN) == 0;
}

bool cl_merkle_verify_consistency(uint64_t old_size, uint64_t new_size, const uint8_t old_root[HLEN],
				  const uint8_t new_root[HLEN], cl_bytes hashes)
{
	uint8_t fr[HLEN], sr[HLEN];
	if (old_size == 0 || old_size > new_size || hashes.len % HLEN != 0)
		return false;
	size_t count = hashes.len / HLEN;
	if (old_size == new_size)
		return count == 0 && memcmp(old_root, new_root, HLEN) == 0;
	if (count == 0 || count > CL_MERKLE_MAX_PROOF)
		return false;

	/* Step 2: when the old tree is a perfect subtree, its root is the implicit first hash. */
	size_t i = 0;
	if ((old_size & (old_size - 1)) == 0) {
		memcpy(fr, old_root, HLEN);
	} else {
		memcpy(fr, hashes.ptr, HLEN);
		i = 1;
	}
	memcpy(sr, fr, HLEN);
	uint64_t fn = old_size - 1, sn = new_size - 1;
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < count; i++) {
		const uint8_t *c = hashes.ptr + i * HLEN;
		if (sn == 0)
			return false;
		if ((fn & 1) != 0 || fn == sn) {
			cl_merkle_node_hash(c, fr, fr);
			cl_merkle_node_hash(c, sr, sr);
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			cl_merkle_node_hash(sr, c, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, old_root, HLEN) == 0 && memcmp(sr, new_root, HLEN) == 0;
}

void cl_merkle_builder_init(cl_merkle_builder *b)
{
	memset(b, 0, sizeof(*b));
}

cl_err cl_merkle_builder_add(cl_merkle_builder *b, const uint8_t leaf_hash[HLEN])
{
	uint8_t h[HLEN];
	if (b->size == UINT64_MAX)
		return CL_ETOOLARGE;
	memcpy(h, leaf_hash, HLEN);
	/* Each trailing one bit of size is a perfect subtree the new leaf completes. */
	for (uint64_t s = b->size; (s & 1) != 0; s >>= 1)
		cl_merkle_node_hash(b->hashes[--b->n], h, h);
	memcpy(b->hashes[b->n++], h, HLEN);
	b->size++;
	return CL_OK;
}

void cl_merkle_builder_root(const cl_merkle_builder *b, uint8_t out[HLEN])
{
	uint8_t acc[HLEN];
	if (b->n == 0) {
		cl_merkle_empty_root(out);
		return;
	}
	memcpy(acc, b->hashes[b->n - 1], HLEN);
	for (unsigned i = b->n - 1; i > 0; i--)
		cl_merkle_node_hash(b->hashes[i - 1], acc, acc);
	memcpy(out, acc, HLEN);
}
