/* testutil.c - temp dirs, black-box runs of the CLI, LMDB digests and secret scans for tests. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_mkdtemp(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *p = NULL;
	if (asprintf(&p, "%s/cltest-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag) < 0)
		fail_msg("asprintf");
	if (mkdtemp(p) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return p;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmrf(const char *path)
{
	if (path != NULL)
		nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_data_path(const char *name)
{
	const char *d = getenv("CL_TEST_DATA");
	char *p = NULL;
	if (asprintf(&p, "%s/%s", d ? d : "tests/data", name) < 0)
		fail_msg("asprintf");
	return p;
}

const char *tu_bin(void)
{
	const char *b = getenv("CL_BIN");
	return b ? b : "./certledger";
}

static void drain(int fd, char **buf, size_t *len, size_t *cap)
{
	char tmp[8192];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n <= 0)
		return;
	if (*len + (size_t)n + 1 > *cap) {
		*cap = (*len + (size_t)n + 1) * 2;
		*buf = realloc(*buf, *cap);
	}
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
}

void tu_exec(tu_run *r, char *const argv[], const char *stdin_data, size_t stdin_len, char *const env[])
{
	int in[2], out[2], err[2];
	memset(r, 0, sizeof(*r));
	if (pipe(in) || pipe(out) || pipe(err))
		fail_msg("pipe");
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	if (stdin_data && stdin_len) {
		size_t off = 0;
		while (off < stdin_len) {
			ssize_t n = write(in[1], stdin_data + off, stdin_len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
	close(in[1]);
	size_t ocap = 0, ecap = 0;
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	ocap = ecap = 1;
	struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			size_t before = i == 0 ? r->out_len : r->err_len;
			if (i == 0)
				drain(fds[i].fd, &r->out, &r->out_len, &ocap);
			else
				drain(fds[i].fd, &r->err, &r->err_len, &ecap);
			size_t after = i == 0 ? r->out_len : r->err_len;
			if (after == before) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	int status = 0;
	waitpid(pid, &status, 0);
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void cli_va(tu_run *r, const char *ledger_dir, const char *stdin_data, char *const env[], va_list ap)
{
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)tu_bin();
	if (ledger_dir) {
		argv[n++] = "--ledger";
		argv[n++] = (char *)ledger_dir;
	}
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 63)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	tu_exec(r, argv, stdin_data, stdin_data ? strlen(stdin_data) : 0, env);
}

void tu_cli(tu_run *r, const char *ledger_dir, ...)
{
	va_list ap;
	va_start(ap, ledger_dir);
	cli_va(r, ledger_dir, NULL, NULL, ap);
	va_end(ap);
}

void tu_cli_stdin(tu_run *r, const char *ledger_dir, const char *stdin_data, ...)
{
	va_list ap;
	va_start(ap, stdin_data);
	cli_va(r, ledger_dir, stdin_data, NULL, ap);
	va_end(ap);
}

void tu_cli_env(tu_run *r, const char *ledger_dir, char *const env[], ...)
{
	va_list ap;
	va_start(ap, env);
	cli_va(r, ledger_dir, NULL, env, ap);
	va_end(ap);
}

void tu_run_free(tu_run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static void digest_env(const char *ledger_dir, const char *prefix, char out[65])
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/db", ledger_dir);
	MDB_env *env;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 64);
	int rc = mdb_env_open(env, path, MDB_RDONLY, 0600);
	if (rc != 0)
		fail_msg("cannot open LMDB env %s: %s", path, mdb_strerror(rc));
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	MDB_dbi main;
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main), 0);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	MDB_cursor *c;
	assert_int_equal(mdb_cursor_open(txn, main, &c), 0);
	MDB_val k, v;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		char name[256];
		if (k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (prefix && strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		MDB_dbi dbi;
		if (mdb_dbi_open(txn, name, 0, &dbi) != 0)
			continue;
		EVP_DigestUpdate(md, name, k.mv_size + 1);
		MDB_cursor *c2;
		assert_int_equal(mdb_cursor_open(txn, dbi, &c2), 0);
		MDB_val k2, v2;
		for (int r2 = mdb_cursor_get(c2, &k2, &v2, MDB_FIRST); r2 == 0;
		     r2 = mdb_cursor_get(c2, &k2, &v2, MDB_NEXT)) {
			uint64_t lens[2] = {k2.mv_size, v2.mv_size};
			EVP_DigestUpdate(md, lens, sizeof(lens));
			EVP_DigestUpdate(md, k2.mv_data, k2.mv_size);
			EVP_DigestUpdate(md, v2.mv_data, v2.mv_size);
		}
		mdb_cursor_close(c2);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	unsigned char h[32];
	unsigned int hl = 0;
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

void tu_ledger_digest(const char *ledger_dir, char out[65])
{
	digest_env(ledger_dir, NULL, out);
}

void tu_ledger_digest_prefix(const char *ledger_dir, const char *prefix, char out[65])
{
	digest_env(ledger_dir, prefix, out);
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 65536 > cap) {
			cap = (n + 65536) * 2;
			buf = realloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, 65536, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len)
		fail_msg("cannot write %s", path);
	fclose(f);
}

static const void *g_needle;
static size_t g_needle_len;
static int g_found;

static int scan_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	size_t len;
	uint8_t *d = tu_read_file(path, &len);
	if (len >= g_needle_len && memmem(d, len, g_needle, g_needle_len) != NULL)
		g_found = 1;
	free(d);
	return 0;
}

int tu_tree_contains(const char *dir, const void *needle, size_t needle_len)
{
	g_needle = needle;
	g_needle_len = needle_len;
	g_found = 0;
	nftw(dir, scan_cb, 16, FTW_PHYS);
	return g_found;
}
