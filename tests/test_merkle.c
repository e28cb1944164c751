/* test_merkle.c - the RFC 9162 Merkle tree (ledger/merkle.c) against a straightforward recursive
 * reference written from the RFC's definitions (MTH §2.1.1, PATH §2.1.3.1, PROOF §2.1.4.1),
 * known answers computed with Python's hashlib, every tree size up to 70, and rejection of every
 * kind of tampered proof. */
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "ledger/encoding.h"
#include "ledger/merkle.h"

#define H 32
#define MAXN 70
#define MAXLEVEL 8
#define MAXINDEX 128

/* ---- the reference, independent of merkle.c: its own hashing and recursion ---- */

static void ref_leaf(const uint8_t *data, size_t n, uint8_t out[H])
{
	uint8_t buf[64];
	assert_true(n < sizeof(buf));
	buf[0] = 0x00;
	memcpy(buf + 1, data, n);
	SHA256(buf, n + 1, out);
}

static void ref_node(const uint8_t l[H], const uint8_t r[H], uint8_t out[H])
{
	uint8_t buf[1 + 2 * H];
	buf[0] = 0x01;
	memcpy(buf + 1, l, H);
	memcpy(buf + 1 + H, r, H);
	SHA256(buf, sizeof(buf), out);
}

/* The largest power of two smaller than n (n > 1): RFC 9162's k. */
static size_t ref_k(size_t n)
{
	size_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH(D[n]) over leaf hashes d[0..n). */
static void ref_mth(uint8_t (*d)[H], size_t n, uint8_t out[H])
{
	if (n == 0) {
		SHA256((const unsigned char *)"", 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], H);
		return;
	}
	size_t k = ref_k(n);
	uint8_t l[H], r[H];
	ref_mth(d, k, l);
	ref_mth(d + k, n - k, r);
	ref_node(l, r, out);
}

/* A proof under construction: up to 80 hashes. */
typedef struct ref_proof {
	size_t n;
	uint8_t h[80][H];
} ref_proof;

static void ref_push(ref_proof *p, const uint8_t h[H])
{
	assert_true(p->n < 80);
	memcpy(p->h[p->n++], h, H);
}

/* PATH(m, D[n]): PATH(m, D[0:k]) : MTH(D[k:n]) or PATH(m-k, D[k:n]) : MTH(D[0:k]). */
static void ref_path(size_t m, uint8_t (*d)[H], size_t n, ref_proof *p)
{
	uint8_t h[H];
	if (n == 1)
		return;
	size_t k = ref_k(n);
	if (m < k) {
		ref_path(m, d, k, p);
		ref_mth(d + k, n - k, h);
	} else {
		ref_path(m - k, d + k, n - k, p);
		ref_mth(d, k, h);
	}
	ref_push(p, h);
}

/* SUBPROOF(m, D[n], b). */
static void ref_subproof(size_t m, uint8_t (*d)[H], size_t n, bool b, ref_proof *p)
{
	uint8_t h[H];
	if (m == n) {
		if (!b) {
			ref_mth(d, n, h);
			ref_push(p, h);
		}
		return;
	}
	size_t k = ref_k(n);
	if (m <= k) {
		ref_subproof(m, d, k, b, p);
		ref_mth(d + k, n - k, h);
	} else {
		ref_subproof(m - k, d + k, n - k, false, p);
		ref_mth(d, k, h);
	}
	ref_push(p, h);
}

/* ---- a tiny node store behind the callbacks ---- */

typedef struct store {
	bool present[MAXLEVEL][MAXINDEX];
	uint8_t h[MAXLEVEL][MAXINDEX][H];
	unsigned gets, puts;
	cl_err fail_get, fail_put; /* when not 0, every call fails with this */
} store;

static cl_err st_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	store *s = ctx;
	s->gets++;
	if (s->fail_get != 0)
		return s->fail_get;
	if (level >= MAXLEVEL || index >= MAXINDEX || !s->present[level][index])
		return CL_ENOTFOUND;
	memcpy(out, s->h[level][index], H);
	return CL_OK;
}

static cl_err st_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[H])
{
	store *s = ctx;
	s->puts++;
	if (s->fail_put != 0)
		return s->fail_put;
	assert_true(level < MAXLEVEL && index < MAXINDEX);
	/* A perfect node, once written, never changes. */
	if (s->present[level][index])
		assert_memory_equal(s->h[level][index], h, H);
	s->present[level][index] = true;
	memcpy(s->h[level][index], h, H);
	return CL_OK;
}

/* The fixture: MAXN leaves of varying length (the first is empty), their hashes, the reference
 * roots of every size, and a store they were appended to, one by one. */
static uint8_t leaves[MAXN][H];
static uint8_t roots[MAXN + 1][H];
static store *tree;

static int setup(void **state)
{
	(void)state;
	tree = calloc(1, sizeof(*tree));
	assert_non_null(tree);
	for (size_t i = 0; i < MAXN; i++) {
		/* distinct entries: the first is empty, the others 1..37 bytes starting with i*31 */
		uint8_t data[40];
		size_t n = i == 0 ? 0 : 1 + (i * 7) % 37;
		for (size_t j = 0; j < n; j++)
			data[j] = (uint8_t)(i * 31 + j);
		ref_leaf(data, n, leaves[i]);
	}
	for (size_t n = 0; n <= MAXN; n++)
		ref_mth(leaves, n, roots[n]);
	for (size_t i = 0; i < MAXN; i++) {
		uint8_t before[H];
		assert_int_equal(cl_merkle_append(st_get, st_put, tree, i, leaves[i]), CL_OK);
		/* The root of the size just reached, right after appending. */
		assert_int_equal(cl_merkle_root(st_get, tree, i + 1, before), CL_OK);
		assert_memory_equal(before, roots[i + 1], H);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(tree);
	return 0;
}

static void hex_to(const char *hex, uint8_t out[H])
{
	assert_int_equal(cl_hex_decode(out, H, hex, strlen(hex)), CL_OK);
}

/* ---- tests ---- */

static void test_hash_primitives(void **state)
{
	(void)state;
	uint8_t out[H], want[H], l[H], r[H];
	/* SHA-256("") and SHA-256(0x00): printf '' | sha256sum ; printf '\0' | sha256sum */
	cl_merkle_empty_root(out);
	hex_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
	assert_memory_equal(out, want, H);
	cl_merkle_leaf_hash(CL_BYTES("", 0), out);
	hex_to("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want);
	assert_memory_equal(out, want, H);
	/* node hash against the reference, including out aliasing an input */
	memset(l, 0xaa, H);
	memset(r, 0x55, H);
	ref_node(l, r, want);
	cl_merkle_node_hash(l, r, out);
	assert_memory_equal(out, want, H);
	cl_merkle_node_hash(l, r, r);
	assert_memory_equal(r, want, H);
	memset(r, 0x55, H);
	cl_merkle_node_hash(l, r, l);
	assert_memory_equal(l, want, H);
	/* leaf hash of a longer entry against the reference */
	uint8_t data[33];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	ref_leaf(data, sizeof(data), want);
	cl_merkle_leaf_hash(CL_BYTES(data, sizeof(data)), out);
	assert_memory_equal(out, want, H);
}

/* The eight leaves of the RFC 6962 test vectors (as used by certificate-transparency):
 * roots, one inclusion proof and two consistency proofs, computed with this Python one-off:
 *   import hashlib
 *   lh=lambda b: hashlib.sha256(b'\0'+b).digest(); nh=lambda l,r: hashlib.sha256(b'\1'+l+r).digest()
 *   def k(n): x=1
 *             while 2*x<n: x*=2
 *             return x
 *   def mth(d): return lh(d[0]) if len(d)==1 else nh(mth(d[:k(len(d))]), mth(d[k(len(d)):]))
 *   (path and subproof written the same way from RFC 9162 2.1.3.1 and 2.1.4.1) */
static void test_known_answers(void **state)
{
	(void)state;
	static const char *const entries[8] = {"", "\x00", "\x10", "\x20\x21", "\x30\x31", "\x40\x41\x42\x43",
					       "\x50\x51\x52\x53\x54\x55\x56\x57",
					       "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
	static const size_t lens[8] = {0, 1, 1, 2, 2, 4, 8, 16};
	static const char *const want_roots[8] = {
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	};
	static const char *const incl_3_7[3] = {
		"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e",
	};
	static const char *const cons_3_7[4] = {
		"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
		"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e",
	};
	static const char *const cons_4_7 = "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e";

	store *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	cl_merkle_builder b;
	cl_merkle_builder_init(&b);
	uint8_t lh[8][H], got[H], want[H];
	for (size_t i = 0; i < 8; i++) {
		cl_merkle_leaf_hash(CL_BYTES(entries[i], lens[i]), lh[i]);
		assert_int_equal(cl_merkle_append(st_get, st_put, s, i, lh[i]), CL_OK);
		assert_int_equal(cl_merkle_builder_add(&b, lh[i]), CL_OK);
		hex_to(want_roots[i], want);
		assert_int_equal(cl_merkle_root(st_get, s, i + 1, got), CL_OK);
		assert_memory_equal(got, want, H);
		cl_merkle_builder_root(&b, got);
		assert_memory_equal(got, want, H);
	}

	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
	assert_int_equal(cl_merkle_inclusion_proof(st_get, s, 3, 7, &proof), CL_OK);
	assert_int_equal(proof.len, 3 * H);
	for (size_t i = 0; i < 3; i++) {
		hex_to(incl_3_7[i], want);
		assert_memory_equal(proof.ptr + i * H, want, H);
	}
	hex_to(want_roots[6], want);
	assert_true(cl_merkle_verify_inclusion(lh[3], 3, 7, cl_buf_view(&proof), want));

	assert_int_equal(cl_merkle_consistency_proof(st_get, s, 3, 7, &proof), CL_OK);
	assert_int_equal(proof.len, 4 * H);
	for (size_t i = 0; i < 4; i++) {
		hex_to(cons_3_7[i], want);
		assert_memory_equal(proof.ptr + i * H, want, H);
	}
	uint8_t old_root[H];
	hex_to(want_roots[2], old_root);
	hex_to(want_roots[6], want);
	assert_true(cl_merkle_verify_consistency(3, 7, old_root, want, cl_buf_view(&proof)));

	assert_int_equal(cl_merkle_consistency_proof(st_get, s, 4, 7, &proof), CL_OK);
	assert_int_equal(proof.len, H);
	hex_to(cons_4_7, got);
	assert_memory_equal(proof.ptr, got, H);
	hex_to(want_roots[3], old_root);
	assert_true(cl_merkle_verify_consistency(4, 7, old_root, want, cl_buf_view(&proof)));

	cl_buf_free(&proof);
	free(s);
}

static unsigned popcount64(uint64_t v)
{
	unsigned n = 0;
	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

static void test_roots_and_storage(void **state)
{
	(void)state;
	uint8_t got[H], want[H];
	for (uint64_t n = 0; n <= MAXN; n++) {
		tree->gets = 0;
		assert_int_equal(cl_merkle_root(st_get, tree, n, got), CL_OK);
		assert_memory_equal(got, roots[n], H);
		/* one stored node per set bit of the size */
		assert_int_equal(tree->gets, popcount64(n));
	}
	/* Exactly the perfect subtrees are stored, each with its reference hash. */
	for (unsigned level = 0; level < MAXLEVEL; level++) {
		for (uint64_t i = 0; i < MAXINDEX; i++) {
			uint64_t width = (uint64_t)1 << level;
			bool perfect = (i + 1) * width <= MAXN;
			assert_int_equal(tree->present[level][i], perfect);
			if (perfect) {
				ref_mth(leaves + i * width, width, want);
				assert_memory_equal(tree->h[level][i], want, H);
			}
		}
	}
	/* Appending a leaf again rewrites the same values (st_put asserts they are equal). */
	assert_int_equal(cl_merkle_append(st_get, st_put, tree, 63, leaves[63]), CL_OK);
	assert_int_equal(cl_merkle_root(st_get, tree, 64, got), CL_OK);
	assert_memory_equal(got, roots[64], H);
}

static void test_builder(void **state)
{
	(void)state;
	cl_merkle_builder b, snap;
	uint8_t got[H];
	cl_merkle_builder_init(&b);
	cl_merkle_builder_root(&b, got);
	assert_memory_equal(got, roots[0], H);
	for (size_t i = 0; i < MAXN; i++) {
		assert_int_equal(cl_merkle_builder_add(&b, leaves[i]), CL_OK);
		assert_int_equal(b.size, i + 1);
		assert_int_equal(b.n, popcount64(i + 1));
		cl_merkle_builder_root(&b, got);
		assert_memory_equal(got, roots[i + 1], H);
		/* asking for the root does not change the state */
		cl_merkle_builder_root(&b, got);
		assert_memory_equal(got, roots[i + 1], H);
		if (i == 40)
			snap = b;
	}
	/* a copy is an independent snapshot */
	cl_merkle_builder_root(&snap, got);
	assert_memory_equal(got, roots[41], H);
	assert_int_equal(cl_merkle_builder_add(&snap, leaves[41]), CL_OK);
	cl_merkle_builder_root(&snap, got);
	assert_memory_equal(got, roots[42], H);
	cl_merkle_builder_root(&b, got);
	assert_memory_equal(got, roots[MAXN], H);
	/* a full builder refuses more leaves and keeps its state */
	b.size = UINT64_MAX;
	unsigned n = b.n;
	assert_int_equal(cl_merkle_builder_add(&b, leaves[0]), CL_ETOOLARGE);
	assert_int_equal(b.n, n);
	assert_int_equal(b.size, UINT64_MAX);
}

/* memcpy of a view that may be empty with a NULL pointer (an unallocated cl_buf). */
static void copy_bytes(uint8_t *dst, cl_bytes b)
{
	if (b.len > 0)
		memcpy(dst, b.ptr, b.len);
}

static void flip(uint8_t *p, size_t bit)
{
	p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void test_inclusion_all(void **state)
{
	(void)state;
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
	uint8_t bad[(CL_MERKLE_MAX_PROOF + 1) * H];
	unsigned checked = 0;

	for (uint64_t size = 1; size <= MAXN; size++) {
		for (uint64_t index = 0; index < size; index++) {
			ref_proof want = {0};
			ref_path(index, leaves, size, &want);
			assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, index, size, &proof), CL_OK);
			assert_int_equal(proof.len, want.n * H);
			if (want.n > 0)
				assert_memory_equal(proof.ptr, want.h, want.n * H);
			cl_bytes p = cl_buf_view(&proof);
			const uint8_t *leaf = leaves[index];
			assert_true(cl_merkle_verify_inclusion(leaf, index, size, p, roots[size]));
			checked++;

			/* a flipped bit anywhere in any hash (four positions per hash) */
			for (size_t h = 0; h < want.n; h++) {
				static const size_t bits[4] = {0, 89, 170, 255};
				for (size_t j = 0; j < 4; j++) {
					copy_bytes(bad, p);
					flip(bad + h * H, bits[j]);
					assert_false(cl_merkle_verify_inclusion(leaf, index, size, CL_BYTES(bad, p.len),
										roots[size]));
				}
			}
			/* the wrong leaf, a wrong index (with its own leaf too), a wrong size (with that
			 * size's true root), a wrong root */
			if (size > 1)
				assert_false(cl_merkle_verify_inclusion(leaves[(index + 1) % size], index, size, p,
									roots[size]));
			if (index + 1 < size) {
				assert_false(cl_merkle_verify_inclusion(leaf, index + 1, size, p, roots[size]));
				assert_false(cl_merkle_verify_inclusion(leaves[index + 1], index + 1, size, p, roots[size]));
			}
			if (index > 0) {
				assert_false(cl_merkle_verify_inclusion(leaf, index - 1, size, p, roots[size]));
				assert_false(cl_merkle_verify_inclusion(leaves[index - 1], index - 1, size, p, roots[size]));
			}
			assert_false(cl_merkle_verify_inclusion(leaf, size, size, p, roots[size]));
			if (size < MAXN)
				assert_false(cl_merkle_verify_inclusion(leaf, index, size + 1, p, roots[size + 1]));
			if (size - 1 > index)
				assert_false(cl_merkle_verify_inclusion(leaf, index, size - 1, p, roots[size - 1]));
			assert_false(cl_merkle_verify_inclusion(leaf, index, size, p, roots[size - 1]));
			memcpy(bad, roots[size], H);
			flip(bad, 77);
			assert_false(cl_merkle_verify_inclusion(leaf, index, size, p, bad));
			/* truncated at either end, extended at either end, not a multiple of 32 */
			if (p.len > 0) {
				assert_false(cl_merkle_verify_inclusion(leaf, index, size, CL_BYTES(p.ptr, p.len - H),
									roots[size]));
				assert_false(cl_merkle_verify_inclusion(leaf, index, size, CL_BYTES(p.ptr + H, p.len - H),
									roots[size]));
				assert_false(cl_merkle_verify_inclusion(leaf, index, size, CL_BYTES(p.ptr, p.len - 1),
									roots[size]));
			}
			copy_bytes(bad, p);
			memcpy(bad + p.len, roots[size], H);
			assert_false(cl_merkle_verify_inclusion(leaf, index, size, CL_BYTES(bad, p.len + H), roots[size]));
			memcpy(bad, leaf, H);
			copy_bytes(bad + H, p);
			assert_false(cl_merkle_verify_inclusion(leaf, index, size, CL_BYTES(bad, p.len + H), roots[size]));
		}
	}
	assert_int_equal(checked, MAXN * (MAXN + 1) / 2);
	cl_buf_free(&proof);
}

static void test_consistency_all(void **state)
{
	(void)state;
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
	uint8_t bad[(CL_MERKLE_MAX_PROOF + 1) * H];
	unsigned checked = 0;

	for (uint64_t nw = 1; nw <= MAXN; nw++) {
		for (uint64_t old = 1; old <= nw; old++) {
			ref_proof want = {0};
			ref_subproof(old, leaves, nw, true, &want);
			assert_int_equal(cl_merkle_consistency_proof(st_get, tree, old, nw, &proof), CL_OK);
			assert_int_equal(proof.len, want.n * H);
			if (want.n > 0)
				assert_memory_equal(proof.ptr, want.h, want.n * H);
			cl_bytes p = cl_buf_view(&proof);
			assert_true(cl_merkle_verify_consistency(old, nw, roots[old], roots[nw], p));
			checked++;

			for (size_t h = 0; h < want.n; h++) {
				static const size_t bits[4] = {3, 64, 191, 252};
				for (size_t j = 0; j < 4; j++) {
					copy_bytes(bad, p);
					flip(bad + h * H, bits[j]);
					assert_false(cl_merkle_verify_consistency(old, nw, roots[old], roots[nw],
										  CL_BYTES(bad, p.len)));
				}
			}
			/* wrong roots */
			memcpy(bad, roots[old], H);
			flip(bad, 5);
			assert_false(cl_merkle_verify_consistency(old, nw, bad, roots[nw], p));
			memcpy(bad, roots[nw], H);
			flip(bad, 200);
			assert_false(cl_merkle_verify_consistency(old, nw, roots[old], bad, p));
			if (old < nw) {
				assert_false(cl_merkle_verify_consistency(old, nw, roots[nw], roots[nw], p));
				assert_false(cl_merkle_verify_consistency(old, nw, roots[old], roots[old], p));
			}
			/* wrong sizes, each with the true root of that size */
			if (old > 1)
				assert_false(cl_merkle_verify_consistency(old - 1, nw, roots[old - 1], roots[nw], p));
			if (old < nw)
				assert_false(cl_merkle_verify_consistency(old + 1, nw, roots[old + 1], roots[nw], p));
			if (nw < MAXN)
				assert_false(cl_merkle_verify_consistency(old, nw + 1, roots[old], roots[nw + 1], p));
			if (nw > old)
				assert_false(cl_merkle_verify_consistency(old, nw - 1, roots[old], roots[nw - 1], p));
			assert_false(cl_merkle_verify_consistency(nw, old == nw ? nw - 1 : old, roots[nw], roots[old], p));
			assert_false(cl_merkle_verify_consistency(0, nw, roots[0], roots[nw], p));
			/* truncated, extended, not a multiple of 32 */
			if (p.len > 0) {
				assert_false(cl_merkle_verify_consistency(old, nw, roots[old], roots[nw],
									  CL_BYTES(p.ptr, p.len - H)));
				assert_false(cl_merkle_verify_consistency(old, nw, roots[old], roots[nw],
									  CL_BYTES(p.ptr + H, p.len - H)));
				assert_false(cl_merkle_verify_consistency(old, nw, roots[old], roots[nw],
									  CL_BYTES(p.ptr, p.len - 1)));
			}
			copy_bytes(bad, p);
			memcpy(bad + p.len, roots[old], H);
			assert_false(cl_merkle_verify_consistency(old, nw, roots[old], roots[nw], CL_BYTES(bad, p.len + H)));
			memcpy(bad, roots[old], H);
			copy_bytes(bad + H, p);
			assert_false(cl_merkle_verify_consistency(old, nw, roots[old], roots[nw], CL_BYTES(bad, p.len + H)));
		}
	}
	assert_int_equal(checked, MAXN * (MAXN + 1) / 2);
	cl_buf_free(&proof);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);
	uint8_t out[H], zero[H] = {0};

	/* Out-of-range arguments are usage errors, and leave the output empty. */
	assert_int_equal(cl_buf_append(&proof, "junk", 4), CL_OK);
	assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, 5, 5, &proof), CL_EUSAGE);
	assert_int_equal(proof.len, 0);
	assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, 0, 0, &proof), CL_EUSAGE);
	assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, UINT64_MAX, 3, &proof), CL_EUSAGE);
	assert_int_equal(cl_merkle_consistency_proof(st_get, tree, 0, 5, &proof), CL_EUSAGE);
	assert_int_equal(cl_merkle_consistency_proof(st_get, tree, 6, 5, &proof), CL_EUSAGE);
	assert_int_equal(cl_merkle_consistency_proof(st_get, tree, 0, 0, &proof), CL_EUSAGE);
	assert_int_equal(proof.len, 0);
	assert_int_equal(cl_merkle_append(st_get, st_put, tree, UINT64_MAX, zero), CL_EUSAGE);

	/* The tree of one leaf: empty inclusion proof; equal sizes: empty consistency proof. */
	assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, 0, 1, &proof), CL_OK);
	assert_int_equal(proof.len, 0);
	assert_true(cl_merkle_verify_inclusion(leaves[0], 0, 1, cl_buf_view(&proof), roots[1]));
	assert_false(cl_merkle_verify_inclusion(leaves[0], 0, 1, cl_buf_view(&proof), roots[2]));
	assert_int_equal(cl_merkle_consistency_proof(st_get, tree, 9, 9, &proof), CL_OK);
	assert_int_equal(proof.len, 0);
	assert_false(cl_merkle_verify_consistency(9, 9, roots[9], roots[8], cl_buf_view(&proof)));

	/* Verifiers refuse sizes that make no sense and over-long proofs. */
	uint8_t big[(CL_MERKLE_MAX_PROOF + 1) * H] = {0};
	assert_false(cl_merkle_verify_inclusion(leaves[0], 0, 0, CL_BYTES(big, 0), roots[0]));
	assert_false(cl_merkle_verify_inclusion(leaves[0], 3, 2, CL_BYTES(big, H), roots[2]));
	assert_false(cl_merkle_verify_inclusion(leaves[0], 0, UINT64_MAX, CL_BYTES(big, sizeof(big)), zero));
	assert_false(cl_merkle_verify_consistency(0, 0, roots[0], roots[0], CL_BYTES(big, 0)));
	assert_false(cl_merkle_verify_consistency(3, 2, roots[3], roots[2], CL_BYTES(big, H)));
	assert_false(cl_merkle_verify_consistency(1, UINT64_MAX, zero, zero, CL_BYTES(big, sizeof(big))));
	assert_false(cl_merkle_verify_consistency(5, 9, roots[5], roots[9], CL_BYTES(big, 0)));

	/* The size is bound by the proof's shape, not only by the root: a proof that would fold to
	 * the given root under another size is refused (the sn == 0 checks of RFC 9162). */
	uint8_t fake_root[H];
	assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, 0, 2, &proof), CL_OK);
	assert_true(cl_merkle_verify_inclusion(leaves[0], 0, 2, cl_buf_view(&proof), roots[2]));
	assert_false(cl_merkle_verify_inclusion(leaves[0], 0, 3, cl_buf_view(&proof), roots[2]));
	cl_merkle_node_hash(leaves[1], leaves[0], fake_root); /* as if leaf 1 were a sibling in a tree of 1 */
	assert_false(cl_merkle_verify_inclusion(leaves[0], 0, 1, CL_BYTES(leaves[1], H), fake_root));
	assert_int_equal(cl_merkle_consistency_proof(st_get, tree, 1, 2, &proof), CL_OK);
	assert_true(cl_merkle_verify_consistency(1, 2, roots[1], roots[2], cl_buf_view(&proof)));
	assert_false(cl_merkle_verify_consistency(1, 3, roots[1], roots[2], cl_buf_view(&proof)));
	uint8_t two[2 * H];
	memcpy(two, leaves[1], H);
	memcpy(two + H, leaves[2], H);
	cl_merkle_node_hash(roots[2], leaves[2], fake_root);
	cl_merkle_node_hash(leaves[2], fake_root, fake_root);
	assert_false(cl_merkle_verify_consistency(1, 2, roots[1], fake_root, CL_BYTES(two, 2 * H)));

	/* Callback failures come back unchanged, with nothing half-written. */
	store *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	memcpy(s, tree, sizeof(*s));
	s->fail_get = CL_EIO;
	assert_int_equal(cl_merkle_root(st_get, s, 7, out), CL_EIO);
	assert_int_equal(cl_buf_append(&proof, "junk", 4), CL_OK);
	assert_int_equal(cl_merkle_inclusion_proof(st_get, s, 2, 7, &proof), CL_EIO);
	assert_int_equal(proof.len, 0);
	assert_int_equal(cl_merkle_consistency_proof(st_get, s, 3, 7, &proof), CL_EIO);
	assert_int_equal(proof.len, 0);
	/* leaf 71 (odd) needs its left sibling: the get fails */
	assert_int_equal(cl_merkle_append(st_get, st_put, s, 71, zero), CL_EIO);
	s->fail_get = 0;
	s->fail_put = CL_EIO;
	assert_int_equal(cl_merkle_append(st_get, st_put, s, 70, zero), CL_EIO);
	/* A node that is not stored: the store's CL_ENOTFOUND comes back. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(cl_merkle_root(st_get, s, 3, out), CL_ENOTFOUND);
	/* size 0 needs no storage at all */
	s->fail_get = CL_EIO;
	assert_int_equal(cl_merkle_root(st_get, s, 0, out), CL_OK);
	assert_memory_equal(out, roots[0], H);
	free(s);

	/* An output buffer whose maximum is too small. */
	cl_buf small = CL_BUF_INIT(2 * H);
	assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, 0, 64, &small), CL_ETOOLARGE);
	assert_int_equal(small.len, 0);
	assert_int_equal(cl_merkle_inclusion_proof(st_get, tree, 0, 4, &small), CL_OK);
	assert_int_equal(small.len, 2 * H);
	cl_buf_free(&small);
	cl_buf_free(&proof);
}

/* A fake store for astronomically large trees: node (level, index) = SHA-256(level || index).
 * Its nodes are not consistent with each other, so only proofs made of the same nodes as the
 * root (the right edge of the tree) verify, but every shift and bound is exercised at 2^64-1. */
static cl_err fake_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	unsigned *gets = ctx;
	uint8_t buf[9];
	assert_true(level < 64);
	if (level > 0)
		assert_true(index <= (UINT64_MAX >> level));
	(*gets)++;
	buf[0] = (uint8_t)level;
	for (int i = 0; i < 8; i++)
		buf[1 + i] = (uint8_t)(index >> (56 - 8 * i));
	SHA256(buf, sizeof(buf), out);
	return CL_OK;
}

static void test_huge_trees(void **state)
{
	(void)state;
	unsigned gets = 0;
	uint8_t root[H], leaf[H], old_root[H];
	cl_buf proof = CL_BUF_INIT(CL_MERKLE_PROOF_MAX_BYTES);

	assert_int_equal(cl_merkle_root(fake_get, &gets, UINT64_MAX, root), CL_OK);
	assert_int_equal(gets, 64);

	/* The last leaf of the largest tree: 64 left siblings, the same nodes as the root. */
	assert_int_equal(cl_merkle_inclusion_proof(fake_get, &gets, UINT64_MAX - 1, UINT64_MAX, &proof), CL_OK);
	assert_int_equal(proof.len, 63 * H);
	assert_int_equal(fake_get(&gets, 0, UINT64_MAX - 1, leaf), CL_OK);
	assert_true(cl_merkle_verify_inclusion(leaf, UINT64_MAX - 1, UINT64_MAX, cl_buf_view(&proof), root));
	assert_false(cl_merkle_verify_inclusion(leaf, UINT64_MAX - 2, UINT64_MAX, cl_buf_view(&proof), root));
	assert_false(cl_merkle_verify_inclusion(leaf, UINT64_MAX - 1, UINT64_MAX - 1, cl_buf_view(&proof), root));

	/* The first leaf of a perfect tree of 2^63 leaves: 63 siblings. */
	assert_int_equal(cl_merkle_inclusion_proof(fake_get, &gets, 0, (uint64_t)1 << 63, &proof), CL_OK);
	assert_int_equal(proof.len, 63 * H);
	/* 64 levels deep: index 0 of 2^63 + 1 leaves */
	assert_int_equal(cl_merkle_inclusion_proof(fake_get, &gets, 0, ((uint64_t)1 << 63) + 1, &proof), CL_OK);
	assert_int_equal(proof.len, 64 * H);

	/* From the left half (2^63 leaves) to the whole: one hash, the right part. */
	assert_int_equal(cl_merkle_consistency_proof(fake_get, &gets, (uint64_t)1 << 63, UINT64_MAX, &proof), CL_OK);
	assert_int_equal(proof.len, H);
	assert_int_equal(fake_get(&gets, 63, 0, old_root), CL_OK);
	assert_true(cl_merkle_verify_consistency((uint64_t)1 << 63, UINT64_MAX, old_root, root, cl_buf_view(&proof)));
	assert_false(cl_merkle_verify_consistency((uint64_t)1 << 63, UINT64_MAX, root, root, cl_buf_view(&proof)));
	assert_false(cl_merkle_verify_consistency(((uint64_t)1 << 63) + 1, UINT64_MAX, old_root, root,
						  cl_buf_view(&proof)));
	/* The longest consistency proofs are made without overflow. */
	assert_int_equal(cl_merkle_consistency_proof(fake_get, &gets, 1, UINT64_MAX, &proof), CL_OK);
	assert_int_equal(proof.len, 64 * H);
	assert_int_equal(cl_merkle_consistency_proof(fake_get, &gets, UINT64_MAX - 1, UINT64_MAX, &proof), CL_OK);
	assert_true(proof.len > 0 && proof.len <= CL_MERKLE_PROOF_MAX_BYTES);
	assert_int_equal(cl_merkle_consistency_proof(fake_get, &gets, 3, ((uint64_t)1 << 63) + 1, &proof), CL_OK);
	assert_int_equal(proof.len % H, 0);
	assert_true(proof.len / H <= CL_MERKLE_MAX_PROOF);
	cl_buf_free(&proof);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_primitives),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_roots_and_storage),
		cmocka_unit_test(test_builder),
		cmocka_unit_test(test_inclusion_all),
		cmocka_unit_test(test_consistency_all),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_huge_trees),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
