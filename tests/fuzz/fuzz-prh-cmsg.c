/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: the receive path of the pr-helper server's file descriptors
 * (prh_cmsg_fds() in src/prlockd/prh-proto.c): arbitrary control bytes as msg_control of
 * a received message. Every fd returned must come from a SCM_RIGHTS payload inside
 * msg_controllen (ASan sees a read beyond it), and there are never more than fit.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prh-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msghdr msg = {};
	int fds[8];
	unsigned n, m;
	void *control;

	/* an exact-size heap copy, aligned as recvmsg()'s buffer is: ASan sees every overread */
	control = malloc(size ? size : 1);
	if (!control)
		return 0;
	memcpy(control, data, size);
	msg.msg_control = control;
	msg.msg_controllen = size;

	n = prh_cmsg_fds(&msg, fds, 8);
	assert(n <= size / sizeof(int));
	m = prh_cmsg_fds(&msg, fds, 1);
	assert(m == n);
	assert(prh_check_nfds(n) == (n == 1 ? 0 : -EPROTO));
	free(control);
	return 0;
}
