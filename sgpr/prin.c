/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PERSISTENT RESERVE IN parameter data, SPC-4 6.15. Pure, no I/O.
 *
 * Every parser treats buf/len as untrusted bytes actually received: nothing
 * past len is read, and every length from the data is checked before use.
 * READ KEYS and READ FULL STATUS start with PRGENERATION (bytes 0-3) and
 * ADDITIONAL LENGTH (bytes 4-7); when 8 + ADDITIONAL LENGTH exceeds len they
 * return -ENOBUFS and report that total through ret_needed.
 */
#include <stdint.h>

#include "sgpr-private.h"

#define PRIN_HDR_LEN 8
#define PRIN_RESV_DESC_LEN 16	/* SPC-4 6.15.3 table 196: ADDITIONAL LENGTH 10h */
#define PRIN_CAPS_LEN 8		/* SPC-4 6.15.4 table 201: LENGTH 0008h */
#define PRIN_FS_DESC_HDR_LEN 24 /* SPC-4 6.15.5 table 205 */

/*
 * Common header check: fills *addl, returns 0, -EBADMSG (fewer than 8 bytes)
 * or -ENOBUFS with *needed = 8 + ADDITIONAL LENGTH.
 */
static int prin_header(const uint8_t *buf, size_t len, uint32_t *gen, size_t *addl, size_t *needed)
{
	uint32_t a;

	if (!buf || len < PRIN_HDR_LEN)
		return -EBADMSG;
	*gen = sgpr_get_be32(buf);
	a = sgpr_get_be32(buf + 4);
	/* 8 + a cannot overflow a 64-bit size_t; on 32-bit refuse what could never fit */
	if ((uint64_t)a + PRIN_HDR_LEN > SIZE_MAX)
		return -EBADMSG;
	*addl = a;
	*needed = PRIN_HDR_LEN + (size_t)a;
	if (*needed > len)
		return -ENOBUFS;
	return 0;
}

/**
 * sgpr_parse_read_keys() - parse READ KEYS parameter data (SPC-4 6.15.2 table 194)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: on success a malloc()ed list the caller frees
 * @ret_needed: optional; on -ENOBUFS the total length the target wants to send
 *
 * Return: 0, -EBADMSG (fewer than 8 bytes, ADDITIONAL LENGTH not a multiple
 * of 8), -ENOBUFS (truncated), -ENOMEM.
 */
int sgpr_parse_read_keys(const uint8_t *buf, size_t len, struct sgpr_keys **ret, size_t *ret_needed)
{
	struct sgpr_keys *k;
	size_t addl, needed, count;
	uint32_t gen;
	int r;

	if (!ret)
		return -EINVAL;
	if (!buf || len < PRIN_HDR_LEN)
		return -EBADMSG;
	/* each RESERVATION KEY is 8 bytes: anything else is malformed, truncated or not */
	if (sgpr_get_be32(buf + 4) % 8)
		return -EBADMSG;
	r = prin_header(buf, len, &gen, &addl, &needed);
	if (r == -ENOBUFS && ret_needed)
		*ret_needed = needed;
	if (r < 0)
		return r;

	count = addl / 8; /* bounded by len */
	if (count > (SIZE_MAX - sizeof(*k)) / sizeof(k->keys[0]))
		return -ENOMEM;
	k = malloc(sizeof(*k) + count * sizeof(k->keys[0]));
	if (!k)
		return -ENOMEM;
	k->generation = gen;
	k->count = (uint32_t)count;
	for (size_t i = 0; i < count; i++)
		k->keys[i] = sgpr_get_be64(buf + PRIN_HDR_LEN + 8 * i);
	*ret = k;
	return 0;
}

/**
 * sgpr_parse_read_reservation() - parse READ RESERVATION data (SPC-4 6.15.3)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: the reservation; held is false when ADDITIONAL LENGTH is 0 (table 195)
 *
 * Return: 0, -EBADMSG (fewer than 8 bytes, ADDITIONAL LENGTH neither 0 nor
 * 10h), -ENOBUFS (the descriptor was announced but not received).
 */
int sgpr_parse_read_reservation(const uint8_t *buf, size_t len, struct sgpr_reservation *ret)
{
	struct sgpr_reservation res = {};
	uint32_t addl;

	if (!ret)
		return -EINVAL;
	if (!buf || len < PRIN_HDR_LEN)
		return -EBADMSG;
	res.generation = sgpr_get_be32(buf);
	addl = sgpr_get_be32(buf + 4);
	if (addl != 0 && addl != PRIN_RESV_DESC_LEN)
		return -EBADMSG;
	if (addl) {
		if (len < PRIN_HDR_LEN + PRIN_RESV_DESC_LEN)
			return -ENOBUFS;
		/* table 196: key 8-15, obsolete 16-19, reserved 20, SCOPE|TYPE 21 */
		res.held = true;
		res.key = sgpr_get_be64(buf + 8);
		res.scope = buf[21] >> 4;
		res.type = buf[21] & 0x0f;
	}
	*ret = res;
	return 0;
}

/**
 * sgpr_parse_report_caps() - parse REPORT CAPABILITIES data (SPC-4 6.15.4 table 201)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: the capabilities
 *
 * Bytes past the eight SPC-4 defines (a larger LENGTH) are ignored.
 *
 * Return: 0, or -EBADMSG for fewer than 8 bytes or a LENGTH below 8.
 */
int sgpr_parse_report_caps(const uint8_t *buf, size_t len, struct sgpr_caps *ret)
{
	struct sgpr_caps c = {};

	if (!ret)
		return -EINVAL;
	if (!buf || len < PRIN_CAPS_LEN || sgpr_get_be16(buf) < PRIN_CAPS_LEN)
		return -EBADMSG;
	/* byte 2: RLR_C(7) CRH(4) SIP_C(3) ATP_C(2) PTPL_C(0) */
	c.crh = buf[2] & 0x10;
	c.sip_c = buf[2] & 0x08;
	c.atp_c = buf[2] & 0x04;
	c.ptpl_c = buf[2] & 0x01;
	/* byte 3: TMV(7) ALLOW COMMANDS(6:4) PTPL_A(0) */
	c.tmv = buf[3] & 0x80;
	c.allow_commands = (buf[3] >> 4) & 0x07;
	c.ptpl_a = buf[3] & 0x01;
	/* bytes 4-5: PERSISTENT RESERVATION TYPE MASK (table 203) */
	c.type_mask = sgpr_get_be16(buf + 4);
	*ret = c;
	return 0;
}

/**
 * sgpr_caps_type_supported() - is a reservation type in the type mask
 * @caps: parsed capabilities
 * @type: SGPR_TYPE_*
 *
 * Return: false for an invalid type; true when TMV is 0 (the mask carries no
 * information, SPC-4 6.15.4, so the device has to answer for itself); else the
 * bit of table 203.
 */
bool sgpr_caps_type_supported(const struct sgpr_caps *caps, int type)
{
	uint16_t bit;

	switch (type) {
	case SGPR_TYPE_WE:
		bit = SGPR_TYPE_MASK_WE;
		break;
	case SGPR_TYPE_EA:
		bit = SGPR_TYPE_MASK_EA;
		break;
	case SGPR_TYPE_WERO:
		bit = SGPR_TYPE_MASK_WERO;
		break;
	case SGPR_TYPE_EARO:
		bit = SGPR_TYPE_MASK_EARO;
		break;
	case SGPR_TYPE_WEAR:
		bit = SGPR_TYPE_MASK_WEAR;
		break;
	case SGPR_TYPE_EAAR:
		bit = SGPR_TYPE_MASK_EAAR;
		break;
	default:
		return false;
	}
	if (!caps)
		return false;
	if (!caps->tmv)
		return true;
	return caps->type_mask & bit;
}

/*
 * Walk the descriptors of READ FULL STATUS (SPC-4 6.15.5 table 205): 24 fixed
 * bytes, ADDITIONAL DESCRIPTOR LENGTH in bytes 20-23, then the TransportID.
 * Checks every descriptor against the end of the list; with e set, decodes.
 */
static int fs_walk(const uint8_t *p, size_t n, struct sgpr_fs_entry *e, size_t *ret_count)
{
	size_t count = 0;

	while (n > 0) {
		size_t dlen;

		if (n < PRIN_FS_DESC_HDR_LEN)
			return -EBADMSG;
		dlen = sgpr_get_be32(p + 20);
		if (dlen > n - PRIN_FS_DESC_HDR_LEN)
			return -EBADMSG;
		if (e) {
			struct sgpr_fs_entry *x = &e[count];
			int r;

			memset(x, 0, sizeof(*x));
			x->key = sgpr_get_be64(p);
			x->all_tg_pt = p[12] & 0x02;
			x->holder = p[12] & 0x01;
			x->scope = p[13] >> 4;
			x->type = p[13] & 0x0f;
			x->rel_tgt_port = sgpr_get_be16(p + 18);
			r = sgpr_tid_decode(p + PRIN_FS_DESC_HDR_LEN, dlen, &x->tid);
			if (r == -EPROTONOSUPPORT) {
				/* keep the registration; only the protocol id is known */
				memset(&x->tid, 0, sizeof(x->tid));
				x->tid.proto = p[PRIN_FS_DESC_HDR_LEN] & 0x0f;
			} else if (r < 0) {
				return r;
			}
		}
		p += PRIN_FS_DESC_HDR_LEN + dlen;
		n -= PRIN_FS_DESC_HDR_LEN + dlen;
		count++;
	}
	*ret_count = count;
	return 0;
}

/**
 * sgpr_parse_full_status() - parse READ FULL STATUS data (SPC-4 6.15.5)
 * @buf: received bytes
 * @len: number of received bytes
 * @ret: on success a malloc()ed list the caller frees
 * @ret_needed: optional; on -ENOBUFS the total length the target wants to send
 *
 * A TransportID of a protocol sgpr_tid_decode() does not know leaves the
 * entry with only tid.proto set.
 *
 * Return: 0, -EBADMSG (short header, a descriptor crossing the end of the
 * list, a malformed TransportID), -ENOBUFS (truncated), -ENOMEM.
 */
int sgpr_parse_full_status(const uint8_t *buf, size_t len, struct sgpr_full_status **ret,
			   size_t *ret_needed)
{
	struct sgpr_full_status *fs;
	size_t addl, needed, count;
	uint32_t gen;
	int r;

	if (!ret)
		return -EINVAL;
	r = prin_header(buf, len, &gen, &addl, &needed);
	if (r == -ENOBUFS && ret_needed)
		*ret_needed = needed;
	if (r < 0)
		return r;

	r = fs_walk(buf + PRIN_HDR_LEN, addl, NULL, &count);
	if (r < 0)
		return r;
	/* count <= addl / 24, bounded by len */
	if (count > (SIZE_MAX - sizeof(*fs)) / sizeof(fs->entries[0]))
		return -ENOMEM;
	fs = malloc(sizeof(*fs) + count * sizeof(fs->entries[0]));
	if (!fs)
		return -ENOMEM;
	r = fs_walk(buf + PRIN_HDR_LEN, addl, fs->entries, &count);
	if (r < 0) {
		free(fs);
		return r;
	}
	fs->generation = gen;
	fs->count = (uint32_t)count;
	*ret = fs;
	return 0;
}
