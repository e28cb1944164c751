/* ossl.h - OpenSSL glue shared by the files of ingest/: the library context that opens
 * certificate files, and OpenSSL's error queue turned into a cl_error.
 *
 * Legacy PKCS#12 files (RC2-40 certificate bags, as Windows and old tools write them) need
 * OpenSSL's "legacy" provider. Rather than load it into the process-wide default context, where
 * every other part of the program would start accepting RC2, RC4, MD4 and single DES, ingest
 * keeps its own OSSL_LIB_CTX with the "default" and "legacy" providers, created once
 * (CRYPTO_THREAD_run_once) and never changed afterwards, so any thread may use it.
 * Only password-based decryption and private-key decoding run in it.
 */
#ifndef CL_INGEST_OSSL_H
#define CL_INGEST_OSSL_H

#include <openssl/types.h>
#include <stdbool.h>

#include "certledger/error.h"

/* The ingest library context (default + legacy providers). Lives until the process exits;
 * the pointer is borrowed. NULL only if even the default provider could not be loaded. */
OSSL_LIB_CTX *cl_ingest__libctx(void);

/* Whether the legacy provider loaded (RC2-40, RC4 and DES PKCS#12 files need it). */
bool cl_ingest__legacy_loaded(void);

/* Makes OpenSSL wipe every block before it frees or moves it (CRYPTO_set_mem_functions over
 * malloc/free, sized with malloc_usable_size). OpenSSL 3.0 frees some buffers that held secrets
 * without wiping them: test_ingest_parse found the PKCS#12 KDF's copy of the BMPString password
 * (providers/implementations/kdfs/pkcs12kdf.c, freed with plain OPENSSL_free after every MAC
 * check and every PKCS#12-PBE decryption). A process that opens PKCS#12 files should call this
 * first thing in main(), before anything uses OpenSSL. Returns true when installed (also when
 * it already was), false when that is too late (OpenSSL already allocated) or another custom
 * allocator is in place (left alone). Costs one memset per free. */
bool cl_ingest__wipe_openssl_frees(void);

/* Sets err like cl_error_set and appends ": <OpenSSL reason>" for the oldest error in this
 * thread's OpenSSL queue (reason strings carry no input bytes), then clears the queue.
 * Returns code. */
cl_err cl_ingest__ossl_error(cl_error *err, cl_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
