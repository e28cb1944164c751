/* tu_master_key.c - master key files for tests (see tu_master_key.h). */
#include "tu_master_key.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

void tu_master_key_from_file(cl_secret *out, const uint8_t *file, size_t len)
{
	assert_int_equal(len, 40);
	assert_int_equal(cl_secret_alloc(out, 32), CL_OK);
	memcpy(out->ptr, file + 8, 32);
}

void tu_master_key_crash_window(const char *path, const uint8_t *old, size_t len)
{
	char *np = NULL;
	assert_true(asprintf(&np, "%s.new", path) > 0);
	assert_int_equal(rename(path, np), 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, old, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	free(np);
}
