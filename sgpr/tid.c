/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TransportIDs, SPC-4 7.6.4. Pure, no I/O.
 *
 * Byte 0 of every TransportID is FORMAT CODE (7:6) | reserved (5:4) | PROTOCOL
 * IDENTIFIER (3:0). FC (7.6.4.2) and SAS (7.6.4.7) use 24 bytes; iSCSI (7.6.4.6)
 * has a 4-byte header with ADDITIONAL LENGTH in bytes 2-3 followed by a
 * NUL-terminated name, padded to a multiple of 4, additional length >= 20.
 *
 * Decoder errors: -EBADMSG for anything malformed or truncated, and
 * -EPROTONOSUPPORT for a well-formed TransportID (format code 00b, at least
 * 24 bytes) of a protocol this library does not decode (SPI, SRP, SOP, ...).
 * The decoder is lenient about what does not affect safety: an iSCSI
 * ADDITIONAL LENGTH below 20 or not a multiple of 4, and non-zero padding.
 */
#include <inttypes.h>
#include <stdio.h>

#include "sgpr-private.h"

#define TID_FIXED_LEN 24
#define TID_FORMAT_00 0x00
#define TID_FORMAT_01 0x40
#define ISCSI_MIN_ADDL 20
#define ISCSI_SEP ",i,0x" /* SPC-4 7.6.4.6 table 395 SEPARATOR */
#define ISCSI_SEP_LEN 5
#define ISID_HEX_LEN 12

static size_t round_up4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* RFC 3720 3.2.6.2: names are printable ASCII; ',' would break the 01b separator. */
static bool iscsi_name_valid(const char *name, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == ',')
			return false;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/**
 * sgpr_tid_encode() - encode one TransportID
 * @tid: FC, SAS or iSCSI (format 00b, or 01b when has_isid)
 * @buf: destination
 * @len: size of @buf
 *
 * Return: bytes written (a multiple of 4), -EINVAL for an unknown protocol or
 * an empty, unterminated or invalid iSCSI name, -ENOBUFS if @buf is too small.
 */
int sgpr_tid_encode(const struct sgpr_transport_id *tid, uint8_t *buf, size_t len)
{
	size_t name_len, body, n;

	if (!tid || (!buf && len))
		return -EINVAL;

	switch (tid->proto) {
	case SGPR_PROTO_FC:
		/* SPC-4 7.6.4.2 table 389: N_PORT_NAME in bytes 8-15 */
		if (len < TID_FIXED_LEN)
			return -ENOBUFS;
		memset(buf, 0, TID_FIXED_LEN);
		buf[0] = TID_FORMAT_00 | SGPR_PROTO_FC;
		sgpr_put_be64(buf + 8, tid->port_name);
		return TID_FIXED_LEN;
	case SGPR_PROTO_SAS:
		/* SPC-4 7.6.4.7 table 397: SAS ADDRESS in bytes 4-11 */
		if (len < TID_FIXED_LEN)
			return -ENOBUFS;
		memset(buf, 0, TID_FIXED_LEN);
		buf[0] = TID_FORMAT_00 | SGPR_PROTO_SAS;
		sgpr_put_be64(buf + 4, tid->port_name);
		return TID_FIXED_LEN;
	case SGPR_PROTO_ISCSI:
		break;
	default:
		return -EINVAL;
	}

	name_len = strnlen(tid->iscsi_name, sizeof(tid->iscsi_name));
	if (name_len == sizeof(tid->iscsi_name) || !iscsi_name_valid(tid->iscsi_name, name_len))
		return -EINVAL;

	/* SPC-4 7.6.4.6 tables 394/395: name [",i,0x" ISID] NUL, padded to 4, at least 20 */
	body = name_len + (tid->has_isid ? ISCSI_SEP_LEN + ISID_HEX_LEN : 0) + 1;
	body = round_up4(body);
	if (body < ISCSI_MIN_ADDL)
		body = ISCSI_MIN_ADDL;
	n = 4 + body;
	if (len < n)
		return -ENOBUFS;

	memset(buf, 0, n);
	buf[0] = (tid->has_isid ? TID_FORMAT_01 : TID_FORMAT_00) | SGPR_PROTO_ISCSI;
	sgpr_put_be16(buf + 2, (uint16_t)body);
	memcpy(buf + 4, tid->iscsi_name, name_len);
	if (tid->has_isid) {
		char *p = (char *)buf + 4 + name_len;

		memcpy(p, ISCSI_SEP, ISCSI_SEP_LEN);
		p += ISCSI_SEP_LEN;
		for (size_t i = 0; i < sizeof(tid->isid); i++) {
			static const char hex[] = "0123456789abcdef";

			*p++ = hex[tid->isid[i] >> 4];
			*p++ = hex[tid->isid[i] & 0xf];
		}
	}
	return (int)n;
}

static int decode_iscsi(const uint8_t *buf, size_t len, struct sgpr_transport_id *t)
{
	const char *s = (const char *)buf + 4;
	size_t addl, str_len, name_len;
	const char *nul;

	if (len < 4)
		return -EBADMSG;
	addl = sgpr_get_be16(buf + 2);
	if (addl > len - 4)
		return -EBADMSG;
	nul = memchr(s, '\0', addl);
	if (!nul)
		return -EBADMSG;
	str_len = (size_t)(nul - s);

	if ((buf[0] & 0xc0) == TID_FORMAT_00) {
		name_len = str_len;
		t->has_isid = false;
	} else {
		/* format 01b: <name> ",i,0x" <12 hex digits ISID> */
		const char *sep = memchr(s, ',', str_len);
		const char *hx;

		if (!sep)
			return -EBADMSG;
		name_len = (size_t)(sep - s);
		if (str_len - name_len != ISCSI_SEP_LEN + ISID_HEX_LEN ||
		    memcmp(sep, ISCSI_SEP, ISCSI_SEP_LEN) != 0)
			return -EBADMSG;
		hx = sep + ISCSI_SEP_LEN;
		for (size_t i = 0; i < sizeof(t->isid); i++) {
			int hi = hexval(hx[2 * i]), lo = hexval(hx[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return -EBADMSG;
			t->isid[i] = (uint8_t)(hi << 4 | lo);
		}
		t->has_isid = true;
	}
	if (name_len >= sizeof(t->iscsi_name) || !iscsi_name_valid(s, name_len))
		return -EBADMSG;
	memcpy(t->iscsi_name, s, name_len);
	t->iscsi_name[name_len] = '\0';
	t->proto = SGPR_PROTO_ISCSI;
	return (int)(4 + addl);
}

/**
 * sgpr_tid_decode() - decode one TransportID from untrusted bytes
 * @buf: the bytes
 * @len: bytes available; nothing past @len is read
 * @ret: receives the TransportID (written only on success)
 *
 * Return: bytes consumed, -EBADMSG for malformed or truncated data,
 * -EPROTONOSUPPORT for a well-formed TransportID of another protocol.
 */
int sgpr_tid_decode(const uint8_t *buf, size_t len, struct sgpr_transport_id *ret)
{
	struct sgpr_transport_id t = {};
	uint8_t format, proto;
	int r;

	if (!buf || !ret || len < 4)
		return -EBADMSG;
	format = buf[0] & 0xc0;
	proto = buf[0] & 0x0f;

	switch (proto) {
	case SGPR_PROTO_FC:
	case SGPR_PROTO_SAS:
		if (format != TID_FORMAT_00 || len < TID_FIXED_LEN)
			return -EBADMSG;
		t.proto = proto;
		t.port_name = sgpr_get_be64(buf + (proto == SGPR_PROTO_FC ? 8 : 4));
		r = TID_FIXED_LEN;
		break;
	case SGPR_PROTO_ISCSI:
		if (format != TID_FORMAT_00 && format != TID_FORMAT_01)
			return -EBADMSG;
		r = decode_iscsi(buf, len, &t);
		if (r < 0)
			return r;
		break;
	default:
		if (format != TID_FORMAT_00 || len < TID_FIXED_LEN)
			return -EBADMSG;
		return -EPROTONOSUPPORT;
	}
	*ret = t;
	return r;
}

/**
 * sgpr_tid_format() - human form of a TransportID
 * @tid: the TransportID
 * @buf: destination
 * @len: size of @buf
 *
 * "iqn.x" or "iqn.x,i,0x400001020304", "fc:0x<16 hex>", "sas:0x<16 hex>",
 * "proto:0x<id>" for other protocols.
 *
 * Return: @buf, or NULL if an argument is invalid or the text does not fit.
 */
char *sgpr_tid_format(const struct sgpr_transport_id *tid, char *buf, size_t len)
{
	int n;

	if (!tid || !buf || len == 0)
		return NULL;

	switch (tid->proto) {
	case SGPR_PROTO_FC:
		n = snprintf(buf, len, "fc:0x%016" PRIx64, tid->port_name);
		break;
	case SGPR_PROTO_SAS:
		n = snprintf(buf, len, "sas:0x%016" PRIx64, tid->port_name);
		break;
	case SGPR_PROTO_ISCSI: {
		int w = (int)strnlen(tid->iscsi_name, sizeof(tid->iscsi_name));

		if (tid->has_isid)
			n = snprintf(buf, len, "%.*s,i,0x%02x%02x%02x%02x%02x%02x", w,
				     tid->iscsi_name, tid->isid[0], tid->isid[1], tid->isid[2],
				     tid->isid[3], tid->isid[4], tid->isid[5]);
		else
			n = snprintf(buf, len, "%.*s", w, tid->iscsi_name);
		break;
	}
	default:
		n = snprintf(buf, len, "proto:0x%x", (unsigned)tid->proto);
		break;
	}
	if (n < 0 || (size_t)n >= len)
		return NULL;
	return buf;
}
