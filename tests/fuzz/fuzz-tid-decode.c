/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: one TransportID (SPC-4 7.6.4); whatever decodes must re-encode and decode equal. */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpr_transport_id t, u;
	uint8_t buf[300];
	char text[300];
	int r, n;

	r = sgpr_tid_decode(data, size, &t);
	if (r < 0) {
		assert(r == -EBADMSG || r == -EPROTONOSUPPORT);
		return 0;
	}
	assert(r >= 4 && (size_t)r <= size);
	assert(sgpr_tid_format(&t, text, sizeof(text)));

	n = sgpr_tid_encode(&t, buf, sizeof(buf));
	assert(n > 0 && n % 4 == 0);
	assert(sgpr_tid_decode(buf, (size_t)n, &u) == n);
	assert(u.proto == t.proto && u.port_name == t.port_name && u.has_isid == t.has_isid);
	assert(strcmp(u.iscsi_name, t.iscsi_name) == 0);
	assert(!t.has_isid || memcmp(u.isid, t.isid, sizeof(t.isid)) == 0);
	return 0;
}
