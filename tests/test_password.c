/* test_password.c - password sources (ingest/password.h): --password-file (LF, CR-LF, no line
 * ending, empty file, only the first line), --password-env, --password-stdin (only the first
 * line is consumed from the pipe), and the no-echo prompt on a pseudo-terminal (echo off while
 * reading, restored afterwards and when SIGINT interrupts it). The secret buffer is all zeros
 * at the moment it is freed: OpenSSL's allocator is hooked to look (cl_secret allocates from it). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_memwatch.h"

#include "ingest/password.h"

/* Checks s holds want, then frees it and checks the buffer was zero when freed. */
static void expect_and_free(cl_secret *s, const char *want, size_t want_len)
{
	assert_int_equal(s->len, want_len);
	if (want_len > 0)
		assert_memory_equal(s->ptr, want, want_len);
	assert_non_null(s->ptr);
	tu_memwatch_track(s->ptr);
	cl_secret_free(s);
	int tracked = tu_memwatch_tracked();
	tu_memwatch_track(NULL);
	assert_int_equal(tracked, 1);
	assert_null(s->ptr);
	assert_int_equal(s->len, 0);
}

static char *g_dir;

static char *write_tmp(const char *name, const void *data, size_t len)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", g_dir, name) > 0);
	tu_write_file(p, data, len);
	return p;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_file(void **state)
{
	(void)state;
	static const struct {
		const char *content;
		size_t len;
		const char *want;
		size_t want_len;
	} cases[] = {
		{"s3cret\n", 7, "s3cret", 6},
		{"s3cret\r\n", 8, "s3cret", 6},
		{"s3cret", 6, "s3cret", 6},                    /* no line ending */
		{"", 0, "", 0},                                /* empty file: the empty password */
		{"\n", 1, "", 0},
		{"\r\n", 2, "", 0},
		{"first line\nsecond line\n", 23, "first line", 10},
		{"a\rb\r\n", 5, "a\rb", 3},                    /* only a final CR is a line ending */
		{"  spaced  \n", 11, "  spaced  ", 10},        /* no trimming */
		{"p\xc3\xa4ss\n", 6, "p\xc3\xa4ss", 5},         /* bytes as they are */
		{"nul\0byte\n", 9, "nul\0byte", 8},
	};
	tu_memwatch_reset();
	tu_memwatch_set(0, "s3cret", 6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_tmp("pw", cases[i].content, cases[i].len);
		cl_secret s = CL_SECRET_INIT(0);
		cl_error err = CL_ERROR_INIT;
		assert_int_equal(cl_password_from_file(&s, path, &err), CL_OK);
		expect_and_free(&s, cases[i].want, cases[i].want_len);
		free(path);
	}
	int found = tu_memwatch_found();
	tu_memwatch_reset();
	assert_int_equal(found, 0);

	cl_secret s = CL_SECRET_INIT(0);
	cl_error err = CL_ERROR_INIT;
	char missing[4200];
	snprintf(missing, sizeof(missing), "%s/does-not-exist", g_dir);
	assert_int_equal(cl_password_from_file(&s, missing, &err), CL_ENOTFOUND);
	assert_non_null(strstr(err.msg, "does-not-exist"));

	char *big = malloc(CL_PASSWORD_MAX + 2);
	memset(big, 'x', CL_PASSWORD_MAX + 1);
	big[CL_PASSWORD_MAX + 1] = '\n';
	char *path = write_tmp("big", big, CL_PASSWORD_MAX + 2);
	assert_int_equal(cl_password_from_file(&s, path, &err), CL_ETOOLARGE);
	assert_null(s.ptr);
	free(path);
	path = write_tmp("max", big, CL_PASSWORD_MAX); /* exactly the maximum is fine */
	assert_int_equal(cl_password_from_file(&s, path, &err), CL_OK);
	assert_int_equal(s.len, CL_PASSWORD_MAX);
	cl_secret_free(&s);
	free(path);
	free(big);
}

static void test_env(void **state)
{
	(void)state;
	cl_secret s = CL_SECRET_INIT(0);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(setenv("CL_TEST_PW", "env pass\nwith newline", 1), 0);
	assert_int_equal(cl_password_from_env(&s, "CL_TEST_PW", &err), CL_OK);
	expect_and_free(&s, "env pass\nwith newline", 21); /* the whole value */
	assert_int_equal(setenv("CL_TEST_PW", "", 1), 0);
	assert_int_equal(cl_password_from_env(&s, "CL_TEST_PW", &err), CL_OK);
	expect_and_free(&s, "", 0);
	unsetenv("CL_TEST_PW");
	assert_int_equal(cl_password_from_env(&s, "CL_TEST_PW", &err), CL_EUSAGE);
	assert_string_equal(err.msg, "environment variable CL_TEST_PW is not set");
	assert_null(s.ptr);
}

/* --password-stdin: the first line only; what follows stays in the pipe. */
static void test_fd(void **state)
{
	(void)state;
	const char *inputs[] = {"from stdin\r\nthe rest\n", "from stdin\nthe rest\n", "from stdin"};
	for (size_t i = 0; i < 3; i++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		assert_true(write(p[1], inputs[i], strlen(inputs[i])) == (ssize_t)strlen(inputs[i]));
		close(p[1]);
		cl_secret s = CL_SECRET_INIT(0);
		cl_error err = CL_ERROR_INIT;
		assert_int_equal(cl_password_from_fd(&s, p[0], "stdin", &err), CL_OK);
		expect_and_free(&s, "from stdin", 10);
		char rest[64] = {0};
		ssize_t n = read(p[0], rest, sizeof(rest) - 1);
		if (i < 2)
			assert_string_equal(rest, "the rest\n");
		else
			assert_int_equal(n, 0);
		close(p[0]);
	}
	/* empty stdin: the empty password */
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	cl_secret s = CL_SECRET_INIT(0);
	cl_error err = CL_ERROR_INIT;
	assert_int_equal(cl_password_from_fd(&s, p[0], "stdin", &err), CL_OK);
	expect_and_free(&s, "", 0);
	close(p[0]);
	/* a closed descriptor: an I/O error naming the source */
	assert_int_equal(cl_password_from_fd(&s, p[0], "stdin", &err), CL_EIO);
	assert_non_null(strstr(err.msg, "stdin"));
}

/* ---- the prompt, on a pseudo-terminal ------------------------------------------------------ */

static int open_pty(int *slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	*slave = open(ptsname(m), O_RDWR | O_NOCTTY);
	assert_true(*slave >= 0);
	return m;
}

/* Everything the terminal has shown so far (prompt and echo), read from the master side. */
static size_t drain(int m, char *buf, size_t cap)
{
	size_t n = 0;
	int fl = fcntl(m, F_GETFL);
	fcntl(m, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		ssize_t r = read(m, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	fcntl(m, F_SETFL, fl);
	buf[n] = '\0';
	return n;
}

static bool echo_on(int fd)
{
	struct termios t;
	assert_int_equal(tcgetattr(fd, &t), 0);
	return (t.c_lflag & ECHO) != 0;
}

static void test_prompt(void **state)
{
	(void)state;
	cl_secret s = CL_SECRET_INIT(0);
	cl_error err = CL_ERROR_INIT;

	/* Not a terminal: refused, pointing at the other sources. */
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(cl_password_prompt(&s, p[0], p[1], "Password: ", &err), CL_EUSAGE);
	assert_non_null(strstr(err.msg, "--password-file"));
	close(p[0]);
	close(p[1]);

	int slave;
	int m = open_pty(&slave);
	assert_true(echo_on(slave));
	char shown[512];
	int status = 0;

	/* The prompt runs in a child; the "user" types once echo is off (type-ahead is discarded
	 * by TCSAFLUSH, as getpass does). What was typed is never shown. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60); /* a lost keystroke fails the test instead of hanging the suite */
		cl_secret cs = CL_SECRET_INIT(0);
		cl_error ce = CL_ERROR_INIT;
		cl_err rc = cl_password_prompt(&cs, slave, slave, "Password for x.p12: ", &ce);
		bool ok = rc == CL_OK && cs.len == 6 && memcmp(cs.ptr, "sesame", 6) == 0;
		cl_secret_free(&cs);
		_exit(ok ? 0 : 1);
	}
	for (int i = 0; i < 3000 && echo_on(slave); i++)
		usleep(10000);
	assert_false(echo_on(slave));
	assert_int_equal(write(m, "sesame\n", 7), 7);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(echo_on(slave)); /* restored */
	drain(m, shown, sizeof(shown));
	assert_non_null(strstr(shown, "Password for x.p12: "));
	assert_null(strstr(shown, "sesame"));

	/* Ctrl-D on an empty line cancels. */
	struct termios t;
	assert_int_equal(tcgetattr(slave, &t), 0);
	char eof = (char)t.c_cc[VEOF];
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60); /* a lost keystroke fails the test instead of hanging the suite */
		cl_secret cs = CL_SECRET_INIT(0);
		cl_error ce = CL_ERROR_INIT;
		cl_err rc = cl_password_prompt(&cs, slave, slave, "P: ", &ce);
		bool ok = rc == CL_EUSAGE && strcmp(ce.msg, "password entry cancelled") == 0 && cs.ptr == NULL;
		_exit(ok ? 0 : 1);
	}
	for (int i = 0; i < 3000 && echo_on(slave); i++)
		usleep(10000);
	assert_false(echo_on(slave));
	assert_int_equal(write(m, &eof, 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(echo_on(slave));

	/* SIGINT while reading: the terminal gets its echo back and the process still dies of
	 * SIGINT (the previous disposition). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		signal(SIGINT, SIG_DFL);
		cl_secret cs = CL_SECRET_INIT(0);
		cl_error ce = CL_ERROR_INIT;
		cl_err rc = cl_password_prompt(&cs, slave, slave, "Interrupt me: ", &ce);
		cl_secret_free(&cs);
		_exit(rc == CL_OK ? 10 : 11);
	}
	for (int i = 0; i < 3000 && echo_on(slave); i++)
		usleep(10000);
	assert_false(echo_on(slave));
	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGINT);
	assert_true(echo_on(slave));
	close(slave);
	close(m);
}

static int setup(void **state)
{
	(void)state;
	g_dir = tu_mkdtemp("password");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmrf(g_dir);
	free(g_dir);
	return 0;
}

int main(void)
{
	if (tu_memwatch_install() != 0) {
		fprintf(stderr, "cannot hook OpenSSL's allocator\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_prompt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
