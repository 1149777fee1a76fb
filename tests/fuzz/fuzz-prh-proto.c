/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer: the pr-manager-helper codec (src/prlockd/prh-proto.c). The input is a request stream
 * as a client would send it (CDB, PR OUT list, CDB, ...); every request that decodes gets a reply
 * built from the bytes that follow it, which must come out of prh_reply_sanitize() in a shape
 * QEMU accepts and survive encode/decode unchanged. The input is also read as a reply header.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "prh-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct prh_request req;
static struct prh_reply rep, back;
static uint8_t frame[PRH_REPLY_HDR_SIZE + PRH_DATA_MAX];
static const uint8_t zero_sense[PRH_SENSE_SIZE];

static void check_reply(const uint8_t *src, size_t len)
{
	int n;

	memset(&rep, 0, sizeof(rep));
	if (len >= 1)
		rep.result = src[0];
	if (len >= 3)
		rep.sz = (uint32_t)(src[1] << 8 | src[2]) % (PRH_DATA_MAX + 1);
	if (len > 3)
		memcpy(rep.sense, src + 3, len - 3 < PRH_SENSE_SIZE ? len - 3 : PRH_SENSE_SIZE);
	prh_reply_sanitize(&rep, &req);
	assert(prh_reply_check(&req, &rep) == 0);
	assert(!prh_reply_sanitize(&rep, &req)); /* idempotent */
	if (rep.result != 0x02)
		assert(memcmp(rep.sense, zero_sense, PRH_SENSE_SIZE) == 0);
	n = prh_reply_encode(&rep, frame, sizeof(frame));
	assert(n == (int)(PRH_REPLY_HDR_SIZE + rep.sz));
	assert(prh_reply_decode_header(frame, &back) == (int)rep.sz);
	assert(back.result == rep.result && back.sz == rep.sz);
	assert(memcmp(back.sense, rep.sense, PRH_SENSE_SIZE) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct sgpr_prout_params p;
		int r, d;

		r = prh_request_decode(data + off, size - off, &req);
		if (r == -EAGAIN || r == -EPROTO || r == -EMSGSIZE)
			break;
		assert(r >= PRH_CDB_SIZE && r <= PRH_CDB_SIZE + PRH_DATA_MAX);
		assert(off + (size_t)r <= size);
		assert(req.xfer <= PRH_DATA_MAX);
		assert(req.params_len == (req.kind == PRH_REQ_PROUT ? req.xfer : 0u));
		assert(req.kind != PRH_REQ_CLEANUP || req.xfer == 0);
		d = prh_prout_decode(&req, &p);
		assert(d == 0 || d == -EINVAL || d == -EBADMSG);
		if (d == 0)
			assert(req.params_len == PRH_PROUT_BASIC_LEN && p.sa == req.sa);
		off += (size_t)r;
		check_reply(data + off, size - off);
	}
	if (size >= PRH_REPLY_HDR_SIZE) {
		int sz = prh_reply_decode_header(data, &back);

		assert(sz == -EBADMSG || (sz >= 0 && sz <= PRH_DATA_MAX));
	}
	return 0;
}
