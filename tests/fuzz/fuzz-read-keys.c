/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: READ KEYS parameter data (SPC-4 6.15.2). */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpr_keys *k = NULL;
	size_t needed = 0;
	int r;

	r = sgpr_parse_read_keys(data, size, &k, &needed);
	if (r == 0) {
		assert(8 + (size_t)k->count * 8 <= size);
		for (uint32_t i = 0; i < k->count; i++)
			assert(k->keys[i] == sgpr_get_be64(data + 8 + 8 * (size_t)i));
		free(k);
	} else if (r == -ENOBUFS) {
		assert(needed > size);
	} else {
		assert(r == -EBADMSG);
	}
	return 0;
}
