/* readers.h - the format readers behind cl_cert_file_parse (ingest-internal).
 *
 * Each reader adds what it finds to a cl_cert_file under construction with
 * cl_cert_file__add_cert / __add_key, tries the password forms of pbe.h and charges every KDF
 * to the file's budget. None of them keeps a copy of the password or of key bytes.
 */
#ifndef CL_INGEST_READERS_H
#define CL_INGEST_READERS_H

#include <openssl/types.h>

#include "ingest/cert_file.h"
#include "ingest/pbe.h"

/* A DER PKCS#12 file: MAC, encrypted and plain safes, certificate, key and shrouded key bags. */
cl_err cl_ingest__p12_read(cl_cert_file *f, cl_bytes data, cl_pass_forms *pf, cl_kdf_budget *b,
			   const char *file, cl_error *err) __attribute__((warn_unused_result));

/* A PEM file: every block in order. */
cl_err cl_ingest__pem_read(cl_cert_file *f, cl_bytes data, cl_pass_forms *pf, cl_kdf_budget *b,
			   const char *file, cl_error *err) __attribute__((warn_unused_result));

/* The certificates of a DER PKCS#7/CMS ContentInfo. *consumed (may be NULL) receives how many
 * bytes the structure took. */
cl_err cl_ingest__cms_certs(cl_cert_file *f, const uint8_t *der, size_t len, size_t *consumed,
			    const char *file, cl_error *err) __attribute__((warn_unused_result));

/* A private key from PKCS#8 PrivateKeyInfo, decoded in the ingest library context.
 * CL_EUNSUPPORTED naming the key algorithm when OpenSSL has no implementation for it,
 * CL_EBADINPUT when the key does not decode. */
cl_err cl_ingest__pkey_from_p8(EVP_PKEY **out, const PKCS8_PRIV_KEY_INFO *p8, const char *file,
			       cl_error *err) __attribute__((warn_unused_result));

/* d2i for cl_pbe__decrypt: PrivateKeyInfo. */
void *cl_ingest__d2i_p8(const uint8_t *p, size_t len);

#endif
