/* bench_ingest.c - certificate ingest measured against OpenSSL's own parsing, side by side in one
 * run (issue 3, docs/performance.md "Ingest"):
 *   (a) a typical PKCS#12 (modern PBES2/AES-256 + SHA-256 MAC, and a legacy RC2-40/3DES + SHA-1
 *       MAC Windows export): d2i_PKCS12 + PKCS12_parse of the file in memory, against our
 *       upload of the same file
 *         - without the commit: read + parse + describe + the write transaction (duplicate
 *           check, seal, keystore, event built and applied to the read models), then aborted:
 *           everything but the signature and the durable commit;
 *         - with the commit: cl_cert_upload from the file, one durable commit, into a fresh
 *           ledger each time (the same certificate cannot be uploaded twice; the ledgers are
 *           made before the clock starts);
 *   (b) PEM certificates (distinct EC P-256 certificates with an email SAN, one file each):
 *       BIO_new_file + PEM_read_bio_X509 of each file, against cl_cert_upload of each file (a
 *       signed, durable event per upload), and against the bulk path (the files parsed, then
 *       all uploaded in one transaction with cl_ingest__upload_parsed, as import does).
 * Each round measures OpenSSL and certledger back to back; the table shows median rates and the
 * median of the per-round ratios with their range. A program, not a test: nothing here fails
 * on a slow machine. Everything happens in a fresh temporary directory removed at the end.
 *
 * usage: bench_ingest [--data DIR] [--dir DIR] [--rounds R] [--p12 N] [--commits K] [--pem M]
 */
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "bench_report.h"
#include "certledger/certledger.h"
#include "ingest/cert_file.h"
#include "ingest/cert_upload.h"
#include "ingest/seal.h"
#include "ledger/append.h"
#include "ledger/handle.h"

#define BENCH_ABORT (-200)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_ingest: %s: %s\n", what, msg);
	exit(1);
}

/* ---- the results table ---- */






/* ---- files and ledgers ---- */

static char g_dir[512];
static int g_ledgers;

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		die(path, "cannot open");
	uint8_t *buf = malloc(CL_CERT_FILE_MAX + 1);
	*len = fread(buf, 1, CL_CERT_FILE_MAX + 1, f);
	fclose(f);
	return buf;
}

static void write_all(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path, "cannot write");
}

static cl_ledger *fresh_ledger(void)
{
	char path[600];
	cl_ledger *l = NULL;
	cl_error err = CL_ERROR_INIT;
	snprintf(path, sizeof(path), "%s/l%d", g_dir, g_ledgers++);
	if (cl_ledger_init(&l, path, NULL, NULL, &err) != CL_OK)
		die("init", err.msg);
	return l;
}

/* ---- (a) PKCS#12 ---- */

static void openssl_p12(const uint8_t *d, size_t n, const char *pw)
{
	const uint8_t *p = d;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)n);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	if (p12 == NULL || PKCS12_parse(p12, pw, &key, &cert, &ca) != 1 || key == NULL)
		die("PKCS12_parse", "failed");
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
}

typedef struct nocommit_ctx {
	cl_upload_result *res;
	const cl_secret *pkcs8;
} nocommit_ctx;

static cl_err nocommit_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	nocommit_ctx *c = arg;
	cl_err rc = cl_ingest__upload_write(t, c->res, NULL, c->pkcs8, err);
	return rc == CL_OK ? BENCH_ABORT : rc; /* abandon: LMDB discards the transaction */
}

/* Where the time of the no-commit uploads goes (seconds, summed over every call). */
static double g_t_parse, g_t_describe, g_t_write;
static long g_calls;

/* One upload of path as cl_cert_upload does it (ingest/cert_upload.c, cl_ingest__upload_bytes)
 * but without its commit: read, parse, describe, PKCS#8 encoding, write transaction, abort. */
static void ours_p12_nocommit(cl_ledger *l, const char *path, const char *pw)
{
	size_t n;
	double t0 = now();
	uint8_t *d = read_all(path, &n);
	cl_secret s = CL_SECRET_INIT(4096);
	cl_cert_file *f = NULL;
	cl_upload_result res = CL_UPLOAD_RESULT_INIT;
	cl_error err = CL_ERROR_INIT;
	if (cl_secret_append(&s, pw, strlen(pw)) != CL_OK)
		die("secret", "append");
	if (cl_cert_file_parse(&f, CL_BYTES(d, n), &s, path, NULL, &err) != CL_OK)
		die("parse", err.msg);
	double t1 = now();
	if (cl_ingest__upload_describe(&res, f, NULL, cl_ledger__now(l), &err) != CL_OK)
		die("describe", err.msg);
	cl_secret p8 = CL_SECRET_INIT(CL_SEAL_MAX_PKCS8);
	if (cl_seal_pkcs8_from_pkey(&p8, f->pkey, &err) != CL_OK)
		die("pkcs8", err.msg);
	cl_cert_file_free(f);
	double t2 = now();
	nocommit_ctx c = {&res, &p8};
	if (cl_ledger__write(l, nocommit_cb, &c, &err) != BENCH_ABORT)
		die("write", err.msg);
	cl_upload_result_free(&res);
	cl_secret_free(&p8);
	free(d);
	double t3 = now();
	g_t_parse += t1 - t0;
	g_t_describe += t2 - t1;
	g_t_write += t3 - t2;
	g_calls++;
}

static void bench_p12(const char *label_nc, const char *label_c, const char *path, const char *pw, int rounds,
		      int iters, int commits)
{
	size_t n;
	uint8_t *d = read_all(path, &n);
	char pwfile[600];
	snprintf(pwfile, sizeof(pwfile), "%s/pw-%d", g_dir, g_ledgers);
	write_all(pwfile, pw, strlen(pw));
	cl_bench_row *rnc = cl_bench_row_new(label_nc, "files/s", 0.9), *rc = cl_bench_row_new(label_c, "files/s", 0.9);
	cl_ledger *scratch = fresh_ledger();
	openssl_p12(d, n, pw); /* warm up both */
	ours_p12_nocommit(scratch, path, pw);
	for (int r = 0; r < rounds; r++) {
		double t0 = now();
		for (int i = 0; i < iters; i++)
			openssl_p12(d, n, pw);
		double base = iters / (now() - t0);
		t0 = now();
		for (int i = 0; i < iters; i++)
			ours_p12_nocommit(scratch, path, pw);
		cl_bench_add(rnc, base, iters / (now() - t0));

		cl_ledger **ls = calloc((size_t)commits, sizeof(*ls));
		for (int i = 0; i < commits; i++)
			ls[i] = fresh_ledger();
		t0 = now();
		for (int i = 0; i < commits; i++)
			openssl_p12(d, n, pw);
		base = commits / (now() - t0);
		t0 = now();
		for (int i = 0; i < commits; i++)
			if (cl_cert_upload(ls[i], path, CL_PASSWORD_FILE, pwfile, NULL, NULL, NULL) != CL_OK)
				die("cl_cert_upload", cl_ledger_error(ls[i]));
		cl_bench_add(rc, base, commits / (now() - t0));
		for (int i = 0; i < commits; i++)
			cl_ledger_free(ls[i]);
		free(ls);
	}
	cl_ledger_free(scratch);
	free(d);
}

/* ---- (b) PEM ---- */

static EVP_PKEY *g_ca_key;

/* A distinct EC P-256 certificate with an email SAN, as PEM in a file; returns the path. */
static char *make_pem(int i)
{
	char *path = NULL, email[64], cn[64];
	if (asprintf(&path, "%s/c%06d.pem", g_dir, i) < 0)
		die("asprintf", "");
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 100000 + i);
	snprintf(cn, sizeof(cn), "Bench User %d", i);
	snprintf(email, sizeof(email), "email:user%d@bench.example", i);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME *is = X509_NAME_new();
	X509_NAME_add_entry_by_txt(is, "CN", MBSTRING_ASC, (const unsigned char *)"Bench CA", -1, -1, 0);
	X509_set_issuer_name(x, is);
	X509_NAME_free(is);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, k);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, email);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "emailProtection");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (X509_sign(x, g_ca_key, EVP_sha256()) <= 0)
		die("X509_sign", "failed");
	FILE *f = fopen(path, "w");
	if (f == NULL || PEM_write_X509(f, x) != 1 || fclose(f) != 0)
		die(path, "cannot write");
	X509_free(x);
	EVP_PKEY_free(k);
	return path;
}

static void openssl_pem(char **paths, int m)
{
	for (int i = 0; i < m; i++) {
		BIO *b = BIO_new_file(paths[i], "r");
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		if (x == NULL)
			die("PEM_read_bio_X509", paths[i]);
		X509_free(x);
		BIO_free(b);
	}
}

typedef struct bulk_ctx {
	cl_cert_file **files;
	int m;
} bulk_ctx;

static cl_err bulk_cb(cl_wtxn *t, void *arg, cl_error *err)
{
	bulk_ctx *c = arg;
	for (int i = 0; i < c->m; i++) {
		cl_err rc = cl_ingest__upload_parsed(t, c->files[i], NULL, NULL, err);
		if (rc != CL_OK)
			return rc;
	}
	return CL_OK;
}

static void bench_pem(int rounds, int m)
{
	cl_bench_row *rd = cl_bench_row_new("PEM upload, a signed durable event each (cl_cert_upload)", "certs/s", 0.5);
	cl_bench_row *rb = cl_bench_row_new("PEM upload, bulk: parse each, one transaction for all", "certs/s", 0.5);
	cl_ledger *l = fresh_ledger(), *lb = fresh_ledger();
	int total = 2 * m * rounds;
	char **paths = calloc((size_t)total, sizeof(*paths));
	for (int i = 0; i < total; i++)
		paths[i] = make_pem(i);
	for (int r = 0; r < rounds; r++) {
		char **mine = paths + 2 * m * r, **bulk = mine + m;
		double t0 = now();
		openssl_pem(mine, m);
		double base = m / (now() - t0);
		t0 = now();
		for (int i = 0; i < m; i++)
			if (cl_cert_upload(l, mine[i], CL_PASSWORD_NONE, NULL, NULL, NULL, NULL) != CL_OK)
				die("cl_cert_upload", cl_ledger_error(l));
		cl_bench_add(rd, base, m / (now() - t0));

		t0 = now();
		openssl_pem(bulk, m);
		base = m / (now() - t0);
		t0 = now();
		cl_cert_file **files = calloc((size_t)m, sizeof(*files));
		cl_error err = CL_ERROR_INIT;
		for (int i = 0; i < m; i++) {
			size_t n;
			uint8_t *d = read_all(bulk[i], &n);
			if (cl_cert_file_parse(&files[i], CL_BYTES(d, n), NULL, bulk[i], NULL, &err) != CL_OK)
				die("parse", err.msg);
			free(d);
		}
		bulk_ctx c = {files, m};
		if (cl_ledger__write(lb, bulk_cb, &c, &err) != CL_OK)
			die("bulk write", err.msg);
		cl_bench_add(rb, base, m / (now() - t0));
		for (int i = 0; i < m; i++)
			cl_cert_file_free(files[i]);
		free(files);
	}
	for (int i = 0; i < total; i++)
		free(paths[i]);
	free(paths);
	cl_ledger_free(l);
	cl_ledger_free(lb);
}

/* ---- main ---- */

/* Busy CPU time of the whole machine, in seconds, from /proc/stat (all but idle and iowait);
 * -1 when unknown. Against this process's own CPU time it tells how much other processes took
 * during the run: figures taken while they took a noticeable share are not the machine's own. */
static double machine_busy(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[8] = {0};
	int got = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			     &v[6], &v[7])
		    : 0;
	if (f)
		fclose(f);
	long hz = sysconf(_SC_CLK_TCK);
	if (got != 8 || hz <= 0)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
}

static double own_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static void rmrf(const char *dir)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_ingest: could not remove %s\n", dir);
}

static void machine(void)
{
	struct utsname u;
	char model[256] = "?";
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "model name", 10) == 0) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	uname(&u);
	struct statfs sf;
	const char *fs = "?";
	if (statfs(g_dir, &sf) == 0)
		fs = sf.f_type == 0xEF53 ? "ext4" : sf.f_type == 0x01021994 ? "tmpfs" : sf.f_type == 0x794c7630 ? "overlayfs"
		   : sf.f_type == 0x58465342 ? "xfs" : "other";
	printf("machine: %ld CPUs, %s, %s %s, ledgers on %s (%s), %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname,
	       u.release, fs, g_dir, OpenSSL_version(OPENSSL_VERSION));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},   {"dir", required_argument, NULL, 'D'},
		{"rounds", required_argument, NULL, 'r'}, {"p12", required_argument, NULL, 'p'},
		{"commits", required_argument, NULL, 'c'}, {"pem", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	const char *data = getenv("CL_TEST_DATA") ? getenv("CL_TEST_DATA") : "tests/data";
	const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int rounds = 5, iters = 40, commits = 10, pem = 200, opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': data = optarg; break;
		case 'D': base = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		case 'p': iters = atoi(optarg); break;
		case 'c': commits = atoi(optarg); break;
		case 'm': pem = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_ingest [--data DIR] [--dir DIR] [--rounds R] [--p12 N] [--commits K] "
					"[--pem M]\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > CL_BENCH_MAX_ROUNDS || iters < 1 || commits < 1 || pem < 1)
		die("options", "out of range");
	(void)cl_secrets_wipe_on_free(); /* as the CLI runs: OpenSSL wipes what it frees */
	snprintf(g_dir, sizeof(g_dir), "%s/bench_ingest-XXXXXX", base);
	if (mkdtemp(g_dir) == NULL)
		die("mkdtemp", g_dir);
	/* OpenSSL's own PKCS12_parse needs the legacy provider for RC2-40 files, as ingest does. */
	OSSL_PROVIDER *legacy = OSSL_PROVIDER_load(NULL, "legacy"), *dflt = OSSL_PROVIDER_load(NULL, "default");
	if (legacy == NULL || dflt == NULL)
		die("providers", "cannot load legacy + default");
	g_ca_key = EVP_EC_gen("P-256");

	char modern[600], legacy_p12[600];
	snprintf(modern, sizeof(modern), "%s/go-pkcs12-ad_standalone_com_aescbc256.p12", data);
	snprintf(legacy_p12, sizeof(legacy_p12), "%s/boringssl-windows.p12", data);
	machine();
	double busy0 = machine_busy(), own0 = own_cpu(), wall0 = now();
	printf("rounds %d; P12: %d parses per round without commit, %d with; PEM: %d certificates per round\n\n",
	       rounds, iters, commits, pem);
	fflush(stdout);
	bench_p12("P12 modern (PBES2 AES-256, SHA-256 MAC) upload, no commit", "P12 modern upload, durable commit",
		  modern, "password", rounds, iters, commits);
	bench_p12("P12 legacy (RC2-40 + 3DES, SHA-1 MAC) upload, no commit", "P12 legacy upload, durable commit",
		  legacy_p12, "foo", rounds, iters, commits);
	bench_pem(rounds, pem);
	double busy = machine_busy() - busy0, own = own_cpu() - own0, wall = now() - wall0;
	cl_bench_print_table("OpenSSL (raw)");
	if (busy0 >= 0)
		printf("\nother processes took %.0f%% of the machine's %ld CPUs during the run (this one: %.0f%%)\n",
		       100 * (busy - own) / (wall * (double)sysconf(_SC_NPROCESSORS_ONLN)), sysconf(_SC_NPROCESSORS_ONLN),
		       100 * own / (wall * (double)sysconf(_SC_NPROCESSORS_ONLN)));
	printf("P12 uploads without commit, mean per file: read + parse %.0f us, describe + PKCS#8 "
	       "encoding %.0f us, write transaction (aborted) %.0f us\n",
	       1e6 * g_t_parse / (double)g_calls, 1e6 * g_t_describe / (double)g_calls, 1e6 * g_t_write / (double)g_calls);
	EVP_PKEY_free(g_ca_key);
	OSSL_PROVIDER_unload(legacy);
	OSSL_PROVIDER_unload(dflt);
	rmrf(g_dir);
	return 0;
}
