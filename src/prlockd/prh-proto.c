/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QEMU pr-manager-helper wire codec (prh-proto.h); pure, no I/O. */
#include <errno.h>
#include <string.h>

#include "prh-proto.h"

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)get_be16(p) << 16 | get_be16(p + 2);
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void prh_features_encode(uint32_t features, uint8_t buf[static PRH_FEATURES_SIZE])
{
	put_be32(buf, features);
}

uint32_t prh_features_decode(const uint8_t buf[static PRH_FEATURES_SIZE])
{
	return get_be32(buf);
}

int prh_features_check(uint32_t supported, uint32_t requested)
{
	return requested & ~supported ? -EPROTO : 0;
}

int prh_request_parse_cdb(const uint8_t cdb[static PRH_CDB_SIZE], struct prh_request *ret)
{
	uint16_t xfer;

	switch (cdb[0]) {
	case PRH_OP_PRIN:
	case PRH_OP_PROUT:
		/* group 2 (10-byte) CDB: transfer length at bytes 7-8, as scsi_cdb_xfer() */
		xfer = get_be16(cdb + 7);
		if (xfer > PRH_DATA_MAX)
			return -EMSGSIZE;
		ret->kind = cdb[0] == PRH_OP_PRIN ? PRH_REQ_PRIN : PRH_REQ_PROUT;
		ret->sa = cdb[1] & 0x1f;
		break;
	case PRH_OP_CLEANUP:
		/* the in-flight series forces the transfer length to 0 */
		xfer = 0;
		ret->kind = PRH_REQ_CLEANUP;
		ret->sa = 0;
		break;
	default:
		return -EPROTO;
	}
	memcpy(ret->cdb, cdb, PRH_CDB_SIZE);
	ret->xfer = xfer;
	ret->params_len = 0;
	return ret->kind == PRH_REQ_PROUT ? xfer : 0;
}

int prh_request_decode(const uint8_t *buf, size_t len, struct prh_request *ret)
{
	int n;

	if (len < PRH_CDB_SIZE)
		return -EAGAIN;
	n = prh_request_parse_cdb(buf, ret);
	if (n < 0)
		return n;
	if (len - PRH_CDB_SIZE < (size_t)n)
		return -EAGAIN;
	memcpy(ret->params, buf + PRH_CDB_SIZE, (size_t)n);
	ret->params_len = (size_t)n;
	return PRH_CDB_SIZE + n;
}

int prh_request_encode(const uint8_t *cdb, size_t cdb_len, const uint8_t *params, size_t params_len,
		       uint8_t *buf, size_t buflen)
{
	size_t framed = 0;

	if (!cdb || cdb_len == 0 || cdb_len > PRH_CDB_SIZE || (params_len && !params))
		return -EINVAL;
	if (params_len > PRH_DATA_MAX)
		return -EMSGSIZE;
	if (cdb[0] == PRH_OP_PROUT)
		framed = cdb_len >= 9 ? get_be16(cdb + 7) : 0;
	if (params_len != framed)
		return -EINVAL;
	if (buflen < PRH_CDB_SIZE + params_len)
		return -ENOBUFS;
	memset(buf, 0, PRH_CDB_SIZE);
	memcpy(buf, cdb, cdb_len);
	if (params_len)
		memcpy(buf + PRH_CDB_SIZE, params, params_len);
	return (int)(PRH_CDB_SIZE + params_len);
}

unsigned prh_cmsg_fds(const struct msghdr *msg, int *fds, unsigned max)
{
	unsigned n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		size_t off = (size_t)((const uint8_t *)c - (const uint8_t *)msg->msg_control);
		size_t payload;

		/* a length past the buffer (the kernel never sends one; fuzz-prh-cmsg did): stop */
		if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_len > msg->msg_controllen - off)
			break;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		payload = c->cmsg_len - CMSG_LEN(0);
		for (size_t i = 0; i + sizeof(int) <= payload; i += sizeof(int)) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i, sizeof(fd));
			if (n < max)
				fds[n] = fd;
			n++;
		}
	}
	return n;
}

int prh_check_nfds(unsigned nfds)
{
	return nfds == 1 ? 0 : -EPROTO;
}

int prh_prout_decode(const struct prh_request *req, struct sgpr_prout_params *ret)
{
	const uint8_t *p = req->params;

	if (req->kind != PRH_REQ_PROUT || req->sa == SGPR_PROUT_REGISTER_AND_MOVE ||
	    req->sa >= _SGPR_PROUT_SA_MAX)
		return -EINVAL;
	if (req->params_len != PRH_PROUT_BASIC_LEN)
		return -EBADMSG;
	*ret = (struct sgpr_prout_params){
		.sa = (enum sgpr_prout_sa)req->sa,
		.type = req->cdb[2] & 0x0f,
		.key = get_be64(p),
		.sa_key = get_be64(p + 8),
		.spec_i_pt = p[20] & PRH_PROUT_SPEC_I_PT,
		.all_tg_pt = p[20] & PRH_PROUT_ALL_TG_PT,
		.aptpl = p[20] & PRH_PROUT_APTPL,
	};
	return 0;
}

void prh_reply_good(struct prh_reply *r)
{
	prh_reply_status(r, SGPR_STATUS_GOOD);
}

void prh_reply_status(struct prh_reply *r, uint8_t status)
{
	r->result = status;
	r->sz = 0;
	memset(r->sense, 0, sizeof(r->sense));
}

void prh_reply_check_condition(struct prh_reply *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
	prh_reply_status(r, SGPR_STATUS_CHECK_CONDITION);
	/* SPC-4 4.5.3 fixed format, current error, as QEMU's scsi_build_sense() */
	r->sense[0] = 0x70;
	r->sense[2] = key & 0x0f;
	r->sense[7] = 10;
	r->sense[12] = asc;
	r->sense[13] = ascq;
}

bool prh_reply_sanitize(struct prh_reply *r, const struct prh_request *req)
{
	uint32_t max = 0;
	bool changed = false;

	if (req->kind == PRH_REQ_PRIN && r->result == SGPR_STATUS_GOOD)
		max = req->xfer;
	if (r->sz > max) {
		r->sz = max;
		changed = true;
	}
	if (r->result != SGPR_STATUS_CHECK_CONDITION) {
		for (size_t i = 0; i < sizeof(r->sense); i++)
			if (r->sense[i]) {
				changed = true;
				break;
			}
		memset(r->sense, 0, sizeof(r->sense));
	}
	return changed;
}

int prh_reply_encode(const struct prh_reply *r, uint8_t *buf, size_t buflen)
{
	if (r->sz > PRH_DATA_MAX)
		return -EINVAL;
	if (buflen < PRH_REPLY_HDR_SIZE + r->sz)
		return -ENOBUFS;
	put_be32(buf, (uint32_t)r->result);
	put_be32(buf + 4, r->sz);
	memcpy(buf + 8, r->sense, PRH_SENSE_SIZE);
	if (r->sz)
		memcpy(buf + PRH_REPLY_HDR_SIZE, r->data, r->sz);
	return (int)(PRH_REPLY_HDR_SIZE + r->sz);
}

int prh_reply_decode_header(const uint8_t hdr[static PRH_REPLY_HDR_SIZE], struct prh_reply *r)
{
	int32_t sz = (int32_t)get_be32(hdr + 4);

	if (sz < 0 || sz > PRH_DATA_MAX)
		return -EBADMSG;
	r->result = (int32_t)get_be32(hdr);
	r->sz = (uint32_t)sz;
	memcpy(r->sense, hdr + 8, PRH_SENSE_SIZE);
	return sz;
}

int prh_reply_check(const struct prh_request *req, const struct prh_reply *r)
{
	if (!r->sz)
		return 0;
	if (req->kind != PRH_REQ_PRIN || r->result != SGPR_STATUS_GOOD || r->sz > req->xfer)
		return -EPROTO;
	return 0;
}
