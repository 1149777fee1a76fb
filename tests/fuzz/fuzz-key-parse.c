/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: reservation keys and type names as typed on a command line or in a config file. */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[SGPR_KEY_STRLEN];
	uint64_t k, k2;
	char *s;
	int r;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	r = sgpr_key_parse(s, &k);
	if (r == 0) {
		assert(k != 0);
		assert(sgpr_key_parse(sgpr_key_format(k, buf), &k2) == 0 && k2 == k);
	} else {
		assert(r == -EINVAL || r == -ERANGE);
	}
	r = sgpr_type_from_name(s);
	assert(r == -EINVAL || sgpr_type_to_name(r));
	free(s);
	return 0;
}
