/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: READ RESERVATION parameter data (SPC-4 6.15.3). */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpr_reservation res;
	int r;

	r = sgpr_parse_read_reservation(data, size, &res);
	if (r == 0)
		assert(!res.held || size >= 24);
	else
		assert(r == -EBADMSG || r == -ENOBUFS);
	return 0;
}
