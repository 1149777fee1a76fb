/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: sense data (SPC-4 4.5) and everything built on it: decode into a
 * status, classify, describe. The first input byte is the SAM status.
 */
#include <assert.h>

#include "sgpr-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpr_status st = {.answered = true};
	struct sgpr_sense s;
	char text[128];
	int r;

	r = sgpr_sense_parse(data, size, &s);
	assert(r == 0 || r == -EBADMSG);
	if (r == 0)
		assert(s.key <= 0xf);

	if (size == 0)
		return 0;
	st.status = data[0];
	st.sense_len = (uint16_t)(size - 1 < SGPR_SENSE_MAX ? size - 1 : SGPR_SENSE_MAX);
	memcpy(st.sense, data + 1, st.sense_len);

	/* undecoded, then decoded: the classification must agree */
	r = sgpr_status_to_errno(&st);
	enum sgpr_disposition disp = sgpr_status_disposition(&st);
	assert(sgpr_status_describe(&st, text, sizeof(text)) == text);
	sgpr_status_decode_sense(&st);
	assert(sgpr_status_to_errno(&st) == r);
	assert(sgpr_status_disposition(&st) == disp);
	assert(disp == SGPR_DISP_DONE || r == -EAGAIN);
	assert(sgpr_status_describe(&st, text, sizeof(text)) == text);
	assert(strlen(text) < sizeof(text));
	return 0;
}
