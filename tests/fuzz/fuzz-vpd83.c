/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: INQUIRY VPD page 0x83, Device Identification (sgpr/vpd.c), as a device (or a
 * hostile target) returns it: the name of the logical unit that tells two paths apart.
 */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[SGPR_LUN_ID_MAX], small[12];
	int r;

	r = sgpr_vpd83_lun_id(data, size, id, sizeof(id));
	/* SGPR_LUN_ID_MAX holds every name (the callers' buffers): never -ENOBUFS */
	assert(r == -EBADMSG || r == -ENODATA || r > 0);
	if (r > 0) {
		assert((size_t)r == strlen(id) && (size_t)r < sizeof(id));
		for (int i = 0; i < r; i++)
			assert(id[i] >= 0x20 && id[i] <= 0x7e);
		/* too small a buffer: -ENOBUFS, never a cut name */
		r = sgpr_vpd83_lun_id(data, size, small, sizeof(small));
		assert(r == -ENOBUFS || ((size_t)r == strlen(small) && strlen(id) == (size_t)r &&
					 strcmp(id, small) == 0));
	}
	return 0;
}
