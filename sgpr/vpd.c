/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The name of a logical unit from INQUIRY VPD page 0x83, Device Identification
 * (SPC-4 7.8.6): what tells whether two paths lead to the same LUN. Pure
 * decoding; dev.c reads the page when it opens a handle.
 */
#include <stdio.h>

#include "sgpr-private.h"

/* SPC-4 7.8.6.1 table 589 designator types, table 588 code sets */
enum {
	DESIG_T10 = 0x1,
	DESIG_EUI64 = 0x2,
	DESIG_NAA = 0x3,
	DESIG_SCSI_NAME = 0x8,
};
enum {
	CODE_BINARY = 0x1,
	CODE_ASCII = 0x2,
	CODE_UTF8 = 0x3,
};

/*
 * Higher is better. NAA first (6 registered extended, 5 registered, 2 extended, 3 locally
 * assigned: the order of udev's scsi_id, so ID_WWN and this agree), then EUI-64 (longest
 * first), a SCSI name string, a T10 vendor ID. 0: not usable.
 */
static int rank(const uint8_t *desc, uint8_t len)
{
	uint8_t code = desc[0] & 0x0f, assoc = (desc[1] >> 4) & 0x3, type = desc[1] & 0x0f;
	const uint8_t *v = desc + 4;

	if (assoc != 0 || !len) /* not the logical unit's own designator */
		return 0;
	switch (type) {
	case DESIG_NAA:
		if (code != CODE_BINARY)
			return 0;
		switch (v[0] >> 4) {
		case 6:
			return len == 16 ? 90 : 0;
		case 5:
			return len == 8 ? 80 : 0;
		case 2:
			return len == 8 ? 70 : 0;
		case 3:
			return len == 8 ? 60 : 0;
		default:
			return 0;
		}
	case DESIG_EUI64:
		if (code != CODE_BINARY || (len != 8 && len != 12 && len != 16))
			return 0;
		return 40 + len;
	case DESIG_SCSI_NAME:
		return code == CODE_UTF8 ? 30 : 0;
	case DESIG_T10:
		return code == CODE_ASCII || code == CODE_BINARY ? 20 : 0;
	default:
		return 0;
	}
}

static int put_hex(char *buf, size_t buflen, const char *prefix, const uint8_t *v, size_t len)
{
	size_t pl = strlen(prefix), need = pl + 2 * len;

	if (need + 1 > buflen)
		return -ENOBUFS;
	memcpy(buf, prefix, pl);
	for (size_t i = 0; i < len; i++)
		snprintf(buf + pl + 2 * i, 3, "%02x", v[i]);
	return (int)need;
}

/* Printable text, trailing blanks and NULs dropped; "" if nothing is left or any byte is odd. */
static int put_text(char *buf, size_t buflen, const char *prefix, const uint8_t *v, size_t len)
{
	size_t pl = strlen(prefix);

	while (len && (v[len - 1] == ' ' || v[len - 1] == 0))
		len--;
	if (!len)
		return -ENODATA;
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return -ENODATA;
	if (pl + len + 1 > buflen)
		return -ENOBUFS;
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, v, len);
	buf[pl + len] = 0;
	return (int)(pl + len);
}

int sgpr_vpd83_lun_id(const uint8_t *page, size_t len, char *buf, size_t buflen)
{
	const uint8_t *best = NULL;
	int best_rank = 0;
	size_t end, off;

	if (!page || !buf || !buflen)
		return -EINVAL;
	if (len < 4 || page[1] != 0x83)
		return -EBADMSG;
	end = 4 + (size_t)sgpr_get_be16(page + 2);
	if (end > len)
		return -EBADMSG; /* truncated: the caller reads it whole */
	for (off = 4; off + 4 <= end;) {
		const uint8_t *desc = page + off;
		uint8_t dlen = desc[3];
		int rk;

		if (off + 4 + dlen > end)
			return -EBADMSG;
		rk = rank(desc, dlen);
		if (rk > best_rank) {
			best_rank = rk;
			best = desc;
		}
		off += 4 + dlen;
	}
	if (off != end)
		return -EBADMSG;
	if (!best)
		return -ENODATA;
	switch (best[1] & 0x0f) {
	case DESIG_NAA:
		return put_hex(buf, buflen, "naa.", best + 4, best[3]);
	case DESIG_EUI64:
		return put_hex(buf, buflen, "eui.", best + 4, best[3]);
	case DESIG_SCSI_NAME:
		return put_text(buf, buflen, "", best + 4, best[3]);
	default:
		if ((best[0] & 0x0f) == CODE_BINARY)
			return put_hex(buf, buflen, "t10.", best + 4, best[3]);
		return put_text(buf, buflen, "t10.", best + 4, best[3]);
	}
}
