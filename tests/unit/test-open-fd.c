/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sgpr_dev_open_fd() on descriptors that are not SCSI devices, which any machine has: the
 * errors, and the caller's descriptor left open and untouched (no descriptor leaked either).
 * Real SCSI disks, sg devices and multipath maps are the VM tier's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "sgpr.h"

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* open_fd(fd) fails with want, creates nothing, and fd is still open with the same flags. */
static void expect_refused(int fd, int want)
{
	struct sgpr_dev *d = NULL;
	int before = count_fds(), fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	assert_true(fl >= 0);
	assert_int_equal(sgpr_dev_open_fd(fd, NULL, &d), want);
	assert_null(d);
	assert_int_equal(count_fds(), before);
	assert_int_equal(fcntl(fd, F_GETFL), fl);
	assert_int_equal(fcntl(fd, F_GETFD), fdfl);
}

static void test_bad_args(void **state)
{
	struct sgpr_dev *d = NULL;
	int fd;

	assert_int_equal(sgpr_dev_open_fd(-1, NULL, &d), -EBADF);
	assert_int_equal(sgpr_dev_open_fd(-42, NULL, &d), -EBADF);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(sgpr_dev_open_fd(fd, NULL, NULL), -EINVAL);
	close(fd);
	/* a closed descriptor */
	assert_int_equal(sgpr_dev_open_fd(fd, NULL, &d), -EBADF);
	assert_null(d);
	/* O_PATH: fstat works, ioctl() does not */
	fd = open("/dev/null", O_PATH | O_CLOEXEC);
	assert_true(fd >= 0);
	expect_refused(fd, -EBADF);
	close(fd);
}

static void test_not_a_device(void **state)
{
	char tmpl[] = "/tmp/test-open-fd-XXXXXX";
	int fd, p[2], sv[2];

	/* a regular file */
	fd = mkostemp(tmpl, O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(tmpl);
	expect_refused(fd, -ENOTTY);
	close(fd);
	/* a memfd, as test-prh-proto sends */
	fd = memfd_create("open-fd", MFD_CLOEXEC);
	assert_true(fd >= 0);
	expect_refused(fd, -ENOTTY);
	close(fd);
	/* a directory, a pipe, a socket */
	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	expect_refused(fd, -ENOTTY);
	close(fd);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	expect_refused(p[0], -ENOTTY);
	expect_refused(p[1], -ENOTTY);
	close(p[0]);
	close(p[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	expect_refused(sv[0], -ENOTTY);
	close(sv[0]);
	close(sv[1]);
}

/* Character devices that are not scsi_generic, in every access mode. */
static void test_other_char_devices(void **state)
{
	static const int modes[] = {O_RDONLY, O_WRONLY, O_RDWR};
	int want = -ENOTTY; /* also without the sg transport: the device is checked first */

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int fd = open("/dev/null", modes[i] | O_NONBLOCK | O_CLOEXEC);

		assert_true(fd >= 0);
		expect_refused(fd, want);
		close(fd);
	}
	/* without O_CLOEXEC too: the flag is the caller's, not ours to change */
	int fd = open("/dev/zero", O_RDONLY);

	assert_true(fd >= 0);
	expect_refused(fd, want);
	close(fd);
}

/* A block device without a SCSI device behind it, if this machine lets us open one. */
static void test_non_scsi_block_device(void **state)
{
	static const char *const nodes[] = {"/dev/loop0", "/dev/zram0", "/dev/vda", "/dev/nvme0n1"};
	int want = -ENOTTY, tried = 0;

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		int fd = open(nodes[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0)
			continue;
		expect_refused(fd, want);
		close(fd);
		tried++;
	}
	if (!tried)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_not_a_device),
		cmocka_unit_test(test_other_char_devices),
		cmocka_unit_test(test_non_scsi_block_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
