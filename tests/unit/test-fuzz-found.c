/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the fuzzers of tests/fuzz found, one test each, with the input they found (also kept in
 * tests/fuzz/corpus/NAME/ as crash-*), so that a fix stays fixed in an ordinary build.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "prh-proto.h"
#include "sgpr-private.h"

/*
 * fuzz-prh-cmsg: a first header whose cmsg_len (0x818) runs past msg_controllen (24): the
 * fds were read from beyond the buffer (heap-buffer-overflow under ASan). Now the walk stops.
 */
static void test_cmsg_len_past_buffer(void **state)
{
	static const uint8_t found[24] = {0x18, 0x08, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
					  1,	0,    0, 0, 5, 0, 0, 0, 6, 0, 0, 0};
	struct msghdr msg = {.msg_controllen = sizeof(found)};
	struct cmsghdr *c;
	int fds[8];
	void *buf;

	(void)state;
	buf = malloc(sizeof(found)); /* exact size: ASan builds see any overread */
	assert_non_null(buf);
	memcpy(buf, found, sizeof(found));
	msg.msg_control = buf;
	assert_int_equal(prh_cmsg_fds(&msg, fds, 8), 0);
	/* the same header with its true length: 2 fds */
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	assert_int_equal(prh_cmsg_fds(&msg, fds, 8), 2);
	assert_int_equal(fds[0], 5);
	assert_int_equal(fds[1], 6);
	/* one byte short of its length: stops */
	c->cmsg_len = CMSG_LEN(2 * sizeof(int)) + 1;
	assert_int_equal(prh_cmsg_fds(&msg, fds, 8), 0);
	free(buf);
}

/*
 * fuzz-vpd83 (once it asserted that SGPR_LUN_ID_MAX holds every name): a page whose only
 * designator is a 255-byte binary T10 vendor ID named "t10." + 510 hex digits, 515 bytes
 * with the NUL, and SGPR_LUN_ID_MAX was 512: -ENOBUFS, so such a device could not be opened.
 */
static void test_vpd83_longest_name(void **state)
{
	uint8_t page[4 + 4 + 255];
	char id[SGPR_LUN_ID_MAX];

	(void)state;
	memset(page, 0xab, sizeof(page));
	page[0] = 0;
	page[1] = 0x83;
	sgpr_put_be16(page + 2, 4 + 255);
	page[4] = 0x01; /* code set binary */
	page[5] = 0x01; /* logical unit, T10 vendor ID */
	page[6] = 0;
	page[7] = 255;
	assert_int_equal(sgpr_vpd83_lun_id(page, sizeof(page), id, sizeof(id)), 4 + 2 * 255);
	assert_memory_equal(id, "t10.abab", 8);
	assert_int_equal(strlen(id), 4 + 2 * 255);
}

/* config_load() of text as a file: its return value, the message in err */
static int load_text(const char *text, size_t len, char *err, size_t errlen)
{
	char path[] = "/tmp/test-fuzz-found-XXXXXX";
	struct sgpr_config cfg = {};
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	err[0] = 0;
	r = config_load(path, &cfg, err, errlen);
	unlink(path);
	return r;
}

/*
 * fuzz-config (once it checked the cause named): a NUL byte in a line was reported as "line
 * too long" (fgets() then strchr() for the newline). Now it is named as what it is.
 */
static void test_config_nul_byte(void **state)
{
	const char *ok = "# c\nhost_id = 2 # two\n\ncluster=a";
	char err[1024], longline[600];

	(void)state;
	assert_int_equal(load_text("host_id = 1\0x\n", 14, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: NUL byte in line"));
	/* a long line is still one, and 511 bytes are not */
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "cluster=", 8);
	assert_int_equal(load_text(longline, 512, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: line too long"));
	longline[511] = '\n';
	assert_int_equal(load_text(longline, 512, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must be 1..63 characters"));
	assert_null(strstr(err, "line too long"));
	assert_int_equal(load_text(ok, strlen(ok), err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmsg_len_past_buffer),
		cmocka_unit_test(test_vpd83_longest_name),
		cmocka_unit_test(test_config_nul_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
