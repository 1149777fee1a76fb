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

#include "prh-proto.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmsg_len_past_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
