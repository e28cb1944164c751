/* cert_file.h - what an uploaded certificate file holds: certificates, at most one private
 * key, and which certificate is the key's (the leaf) with the others as its chain.
 *
 * Files are recognised by content, never by name: DER PKCS#12 (PFX), PEM (CERTIFICATE,
 * TRUSTED CERTIFICATE, PKCS7/CMS and private-key blocks, other blocks ignored), one DER X.509
 * certificate, DER PKCS#7/CMS (certs-only .p7b, or any SignedData: its certificates).
 * With a private key (PKCS#12 key bag, or a PEM key block) the leaf is the certificate whose
 * public key equals the private key's (EVP_PKEY_eq), never the first one. This file does only
 * parsing and cryptography: no LMDB, no events.
 *
 * Limits: 1 MiB per file (CL_ETOOLARGE), CL_CERT_FILE_MAX_CERTS certificates, the KDF work
 * budget of pbe.h (hostile iteration counts are CL_EREFUSED before anything is derived).
 */
#ifndef CL_INGEST_CERT_FILE_H
#define CL_INGEST_CERT_FILE_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger/bytes.h"

#define CL_CERT_FILE_MAX ((size_t)1024 * 1024)
#define CL_CERT_FILE_MAX_CERTS 1000

typedef enum cl_cert_file_kind {
	CL_CERT_FILE_UNKNOWN = 0,
	CL_CERT_FILE_P12, /* DER PKCS#12 PFX */
	CL_CERT_FILE_PEM, /* text with one or more PEM blocks */
	CL_CERT_FILE_DER, /* one DER X.509 certificate */
	CL_CERT_FILE_P7,  /* DER PKCS#7 / CMS ContentInfo */
	CL_CERT_FILE_KEY  /* a DER private key alone (PKCS#8, encrypted PKCS#8 or traditional) */
} cl_cert_file_kind;

/* "p12", "pem", "der", "p7b", "key" or "unknown". CLI.md's `kind` field is "p12" for
 * CL_CERT_FILE_P12 and "pem" (public upload) for the others. */
const char *cl_cert_file_kind_name(cl_cert_file_kind kind);

/* The format of data judged from its first bytes, without decoding it: lets a CLI decide to
 * ask for a password (CL_CERT_FILE_P12) whatever the file is called. */
cl_cert_file_kind cl_cert_file_sniff(cl_bytes data);

typedef struct cl_cert_parse_opts {
	unsigned int version;
	uint64_t max_kdf_cost; /* KDF work budget; 0 = CL_KDF_MAX_COST (pbe.h) */
} cl_cert_parse_opts;

#define CL_CERT_PARSE_OPTS_VERSION 1
#define CL_CERT_PARSE_OPTS_INIT {CL_CERT_PARSE_OPTS_VERSION, 0}

/* A parsed file. Everything is owned by the struct and freed by cl_cert_file_free. */
typedef struct cl_cert_file {
	cl_cert_file_kind kind;
	X509 **certs;   /* every distinct certificate, in file order (duplicates dropped) */
	size_t n_certs;
	EVP_PKEY *pkey; /* the private key, or NULL when the file holds none */
	X509 *leaf;     /* borrowed from certs: the certificate of pkey; NULL when pkey is NULL */
	X509 **chain;   /* borrowed from certs: every other certificate when pkey is set, the
			 * leaf's issuer first, then its issuer..., then the rest in file order */
	size_t n_chain;
	char *friendly_name; /* UTF-8 friendlyName of the key (or leaf) bag, or NULL */
	bool has_mac;        /* PKCS#12 only: the file has an integrity MAC (verified) */
	const char *password_form; /* static text: which form of the password opened the file
				    * ("as given", "empty", "absent", "latin1 as utf8",
				    * "latin1 bytes"), NULL when no password was needed */
	uint64_t kdf_cost;   /* KDF work spent opening the file (pbe.h units) */
	size_t cap_certs_;   /* internal */
} cl_cert_file;

/* Parses an uploaded file held in memory.
 *  out:      receives the parsed file (free with cl_cert_file_free); NULL on error.
 *  data:     the file's bytes (borrowed for the call; up to CL_CERT_FILE_MAX).
 *  password: PKCS#12 / encrypted-key password, or NULL when none was given. CONSUMED: it is
 *            copied into the forms of pbe.h and wiped and freed (cl_secret_free) before
 *            anything else happens, on every path; those copies are wiped as soon as the last
 *            decryption is done. The empty password and "no password" are both tried.
 *  name:     how messages name the file (e.g. its path); never NULL in messages.
 *  opts:     NULL for defaults.
 * Errors (err gets a one-line message naming the file; never a password):
 *  CL_ETOOLARGE    "file is larger than 1 MiB";
 *  CL_EBADINPUT    unrecognised format, "corrupt or truncated PKCS#12 file", corrupt PEM/DER,
 *                  "the file holds no certificate";
 *  CL_EPASSWORD    "wrong password for <file>" (MAC mismatch with every password form, or, in a
 *                  file without MAC, nothing decrypts); never used for damaged files;
 *  CL_EUNSUPPORTED an algorithm OpenSSL 3.0 cannot use, named (e.g. PBMAC1, an unknown key type);
 *  CL_EREFUSED     "KDF iteration count N is too high (hostile file?)", "the private key does not
 *                  match any certificate in the file", more than one private key;
 *  CL_ENOMEM, CL_ECRYPTO. */
cl_err cl_cert_file_parse(cl_cert_file **out, cl_bytes data, cl_secret *password, const char *name,
			  const cl_cert_parse_opts *opts, cl_error *err) __attribute__((warn_unused_result));

void cl_cert_file_free(cl_cert_file *f);

/* ---- shared by the readers of ingest/ only ------------------------------------------- */

/* Appends x (ownership taken, also on error) unless an equal certificate is already there. */
cl_err cl_cert_file__add_cert(cl_cert_file *f, X509 *x, const char *file, cl_error *err)
	__attribute__((warn_unused_result));
/* Sets the private key (ownership taken, also on error). An equal key again is dropped; a
 * second, different key is CL_EREFUSED. friendly_name (may be NULL) is copied. */
cl_err cl_cert_file__add_key(cl_cert_file *f, EVP_PKEY *pkey, const char *friendly_name, const char *file,
			     cl_error *err) __attribute__((warn_unused_result));

#endif
