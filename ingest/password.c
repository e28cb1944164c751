/* password.c - reading passwords from a file, the environment, a descriptor or a terminal
 * prompt without echo, into cl_secret buffers (see password.h). */
#include "ingest/password.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Reads the first line of fd into out. *got_any tells whether any byte arrived (for the
 * prompt's Ctrl-D). The one-byte stack buffer is wiped before returning. */
static cl_err read_line(cl_secret *out, int fd, const char *what, bool *got_any, cl_error *err)
{
	unsigned char c = 0;
	cl_err rc = CL_OK;
	*got_any = false;
	cl_secret_free(out);
	out->max = CL_PASSWORD_MAX;
	rc = cl_secret_alloc(out, CL_PASSWORD_MAX);
	if (rc != CL_OK) {
		cl_error_set(err, rc, "out of memory");
		goto out;
	}
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cl_error_set(err, CL_EIO, "cannot read the password from %s: %s", what, strerror(errno));
			goto out;
		}
		if (r == 0 || c == '\n')
			break;
		*got_any = true;
		if (n == CL_PASSWORD_MAX) {
			rc = cl_error_set(err, CL_ETOOLARGE, "the password from %s is longer than %d bytes", what,
					  CL_PASSWORD_MAX);
			goto out;
		}
		out->ptr[n++] = c;
	}
	if (c == '\n')
		*got_any = true;
	if (n > 0 && out->ptr[n - 1] == '\r')
		out->ptr[--n] = 0;
	out->len = n;
out:
	OPENSSL_cleanse(&c, sizeof(c));
	if (rc != CL_OK)
		cl_secret_free(out);
	return rc;
}

cl_err cl_password_from_fd(cl_secret *out, int fd, const char *what, cl_error *err)
{
	bool any = false;
	return read_line(out, fd, what ? what : "stdin", &any, err);
}

cl_err cl_password_from_file(cl_secret *out, const char *path, cl_error *err)
{
	cl_secret_free(out);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cl_error_set(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO, "cannot open password file %s: %s", path,
				    strerror(errno));
	bool any = false;
	cl_err rc = read_line(out, fd, path, &any, err);
	close(fd);
	return rc;
}

cl_err cl_password_from_env(cl_secret *out, const char *var, cl_error *err)
{
	cl_secret_free(out);
	const char *v = var ? getenv(var) : NULL;
	if (v == NULL)
		return cl_error_set(err, CL_EUSAGE, "environment variable %s is not set", var ? var : "(null)");
	size_t n = strlen(v);
	if (n > CL_PASSWORD_MAX)
		return cl_error_set(err, CL_ETOOLARGE, "the password in %s is longer than %d bytes", var, CL_PASSWORD_MAX);
	out->max = CL_PASSWORD_MAX;
	cl_err rc = cl_secret_alloc(out, n);
	if (rc != CL_OK)
		return cl_error_set(err, rc, "out of memory");
	if (n > 0)
		memcpy(out->ptr, v, n);
	return CL_OK;
}

/* ---- the prompt ---------------------------------------------------------------------------- */

/* Only touched between installing and removing the handlers in cl_password_prompt; the handler
 * reads them. Signal handlers are process-wide, hence the static storage. */
static const int g_sigs[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
#define NSIGS (sizeof(g_sigs) / sizeof(g_sigs[0]))
static struct sigaction g_old_act[NSIGS];
static struct termios g_saved_tio;
static volatile sig_atomic_t g_tty_fd = -1;

static void on_signal(int sig)
{
	int saved_errno = errno;
	if (g_tty_fd >= 0)
		tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved_tio); /* async-signal-safe */
	for (size_t i = 0; i < NSIGS; i++)
		if (g_sigs[i] == sig)
			sigaction(sig, &g_old_act[i], NULL);
	errno = saved_errno;
	raise(sig); /* delivered with the old disposition once this handler returns */
}

static void write_all(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

cl_err cl_password_prompt(cl_secret *out, int in_fd, int out_fd, const char *prompt, cl_error *err)
{
	struct termios quiet;
	bool handlers = false, changed = false, any = false;
	cl_err rc = CL_OK;
	cl_secret_free(out);
	if (!isatty(in_fd))
		return cl_error_set(err, CL_EUSAGE,
				    "no password source: stdin is not a terminal (use --password-file, "
				    "--password-env or --password-stdin)");
	if (tcgetattr(in_fd, &g_saved_tio) != 0)
		return cl_error_set(err, CL_EIO, "cannot read the terminal settings: %s", strerror(errno));

	struct sigaction act;
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	sigemptyset(&act.sa_mask);
	g_tty_fd = in_fd;
	for (size_t i = 0; i < NSIGS; i++)
		sigaction(g_sigs[i], &act, &g_old_act[i]);
	handlers = true;

	quiet = g_saved_tio;
	quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL; /* the Enter key still moves to the next line */
	if (tcsetattr(in_fd, TCSAFLUSH, &quiet) != 0) {
		rc = cl_error_set(err, CL_EIO, "cannot turn off echo: %s", strerror(errno));
		goto out;
	}
	changed = true;
	write_all(out_fd, prompt ? prompt : "Password: ");
	rc = read_line(out, in_fd, "the terminal", &any, err);
	if (rc == CL_OK && !any)
		rc = cl_error_set(err, CL_EUSAGE, "password entry cancelled");
out:
	if (changed)
		tcsetattr(in_fd, TCSAFLUSH, &g_saved_tio);
	if (handlers) {
		for (size_t i = 0; i < NSIGS; i++)
			sigaction(g_sigs[i], &g_old_act[i], NULL);
		g_tty_fd = -1;
	}
	if (rc != CL_OK)
		cl_secret_free(out);
	return rc;
}
