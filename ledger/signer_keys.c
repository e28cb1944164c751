/* signer_keys.c - a small table of parsed Ed25519 keys by signer id (see signer_keys.h). */
#include "ledger/signer_keys.h"

#include <stdlib.h>
#include <string.h>

struct cl_signer_key {
	uint8_t id[CL_SIGNER_ID_LEN];
	EVP_PKEY *pkey;
};

EVP_PKEY *cl_signer_keys_get(const cl_signer_keys *k, const uint8_t id[CL_SIGNER_ID_LEN])
{
	for (size_t i = 0; i < k->n; i++)
		if (memcmp(k->v[i].id, id, CL_SIGNER_ID_LEN) == 0)
			return k->v[i].pkey;
	return NULL;
}

cl_err cl_signer_keys_add(cl_signer_keys *k, const uint8_t pub[CL_ED25519_PUB_LEN])
{
	uint8_t id[CL_SIGNER_ID_LEN];
	cl_sha256(pub, CL_ED25519_PUB_LEN, id);
	if (cl_signer_keys_get(k, id) != NULL)
		return CL_OK;
	struct cl_signer_key *v = realloc(k->v, (k->n + 1) * sizeof(*v));
	if (v == NULL)
		return CL_ENOMEM;
	k->v = v;
	v[k->n].pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, CL_ED25519_PUB_LEN);
	if (v[k->n].pkey == NULL)
		return CL_ECRYPTO;
	memcpy(v[k->n].id, id, CL_SIGNER_ID_LEN);
	k->n++;
	return CL_OK;
}

void cl_signer_keys_free(cl_signer_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		EVP_PKEY_free(k->v[i].pkey);
	free(k->v);
	k->v = NULL;
	k->n = 0;
}
