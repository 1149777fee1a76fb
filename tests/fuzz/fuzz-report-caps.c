/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: REPORT CAPABILITIES parameter data (SPC-4 6.15.4). */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpr_caps caps;
	int r;

	r = sgpr_parse_report_caps(data, size, &caps);
	if (r == 0) {
		assert(caps.allow_commands <= 7);
		for (int t = -1; t < 16; t++)
			(void)sgpr_caps_type_supported(&caps, t);
	} else {
		assert(r == -EBADMSG);
	}
	return 0;
}
