/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: READ FULL STATUS parameter data (SPC-4 6.15.5), TransportIDs included. */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpr_full_status *fs = NULL;
	size_t needed = 0;
	char text[300];
	int r;

	r = sgpr_parse_full_status(data, size, &fs, &needed);
	if (r == 0) {
		assert(8 + (size_t)fs->count * 24 <= size);
		for (uint32_t i = 0; i < fs->count; i++) {
			const struct sgpr_fs_entry *e = &fs->entries[i];

			if (e->tid.proto == SGPR_PROTO_ISCSI)
				assert(strlen(e->tid.iscsi_name) < SGPR_ISCSI_NAME_MAX);
			assert(sgpr_tid_format(&e->tid, text, sizeof(text)));
		}
		free(fs);
	} else if (r == -ENOBUFS) {
		assert(needed > size);
	} else {
		assert(r == -EBADMSG);
	}
	return 0;
}
