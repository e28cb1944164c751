/* fuzz_upload.c - libFuzzer target for the upload parser: cl_cert_file_parse on arbitrary
 * bytes with the fixed password "foo" (the password of most P12 seeds in tests/data, so the
 * fuzzer gets past the MAC and into the decrypted safes), then cl_cert_meta_from_x509 on every
 * certificate it accepts. Besides ASan/UBSan/LSan findings it aborts when a contract breaks:
 * the password not consumed, an error without a message, a result without certificates, a key
 * without a leaf. The KDF budget is lowered so that a mutated iteration count cannot stall a
 * run (the seeds need at most ~16,000 units; see ingest/pbe.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/cert_file.h"
#include "ingest/cert_info.h"
#include "ingest/ossl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (cl_ingest__libctx() == NULL)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cl_secret pw = CL_SECRET_INIT(16);
	cl_cert_file *f = NULL;
	cl_error err = CL_ERROR_INIT;
	cl_cert_parse_opts opts = CL_CERT_PARSE_OPTS_INIT;
	opts.max_kdf_cost = 50000;
	if (cl_secret_append(&pw, "foo", 3) != CL_OK)
		abort();
	cl_err rc = cl_cert_file_parse(&f, CL_BYTES(data, size), &pw, "fuzz", &opts, &err);
	if (pw.ptr != NULL || pw.len != 0)
		abort(); /* the password must be consumed on every path */
	if (rc != CL_OK) {
		if (f != NULL || err.code != rc || err.msg[0] == '\0' || strstr(err.msg, "foo") != NULL)
			abort();
		return 0;
	}
	if (f->n_certs == 0 || (f->pkey != NULL) != (f->leaf != NULL) ||
	    (f->pkey != NULL && f->n_chain + 1 != f->n_certs))
		abort();
	for (size_t i = 0; i < f->n_certs; i++) {
		cl_cert_meta info;
		if (cl_cert_meta_from_x509(&info, f->certs[i], 0, &err) == CL_OK) {
			if (info.subject == NULL || info.issuer == NULL || info.serial == NULL || info.key_type == NULL ||
			    info.sig_hash == NULL || strlen(info.fingerprint_hex) != 64 || info.der_len == 0)
				abort();
			cl_cert_meta_clear(&info);
		}
	}
	cl_cert_file_free(f);
	return 0;
}
