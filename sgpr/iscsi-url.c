/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iscsi:// URL parser, ISID and login status: pure string handling, no libiscsi and no I/O, so it
 * is built (and unit-tested, fuzzed) whether or not libiscsi is present.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <strings.h>

#include "sgpr-private.h"

#define ISCSI_HOST_MAX 253 /* RFC 1035 name, or an address literal */

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

/* Strict unsigned decimal: digits only, no sign, no blanks, at most max. */
static int parse_uint(const char *s, size_t len, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static bool valid_hostname(const char *h, size_t len)
{
	if (len == 0 || len > ISCSI_HOST_MAX || h[0] == '-' || h[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

/*
 * Target name: RFC 3720 3.2.6 names (iqn., eui., naa.) use a restricted
 * printable set; we only refuse what cannot be part of one. "%XX" escapes
 * are decoded as libiscsi's own URL parser does ("iqn.x%3Ay" = "iqn.x:y").
 */
static int parse_target_name(const char *s, size_t len, char **ret)
{
	char *out, *o;

	if (len == 0)
		return -EINVAL;
	out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				goto fail;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@' || c == '?' || c == '#')
			goto fail;
		*o++ = (char)c;
	}
	*o = '\0';
	if (o - out >= SGPR_ISCSI_NAME_MAX)
		goto fail;
	*ret = out;
	return 0;
fail:
	free(out);
	return -EINVAL;
}

/*
 * "iscsi://portal[:port]/target-iqn/lun", portal an IPv4 address, a host
 * name or a bracketed IPv6 address. No userinfo (CHAP is not supported), no
 * query, no fragment, no trailing slash, LUN 0..16383 in decimal.
 */
int sgpr_iscsi_url_parse(const char *url, struct sgpr_iscsi_url *ret)
{
	const char *s, *auth_end, *host, *iqn, *iqn_end;
	struct sgpr_iscsi_url u = {.port = SGPR_ISCSI_DEFAULT_PORT};
	size_t host_len;
	unsigned long v;
	int r;

	assert(url);
	assert(ret);

	if (strncasecmp(url, "iscsi://", 8) != 0)
		return -EINVAL;
	s = url + 8;
	auth_end = strchr(s, '/');
	if (!auth_end)
		return -EINVAL;
	if (memchr(s, '@', (size_t)(auth_end - s)))
		return -EINVAL; /* credentials */

	if (*s == '[') {
		const char *close = memchr(s, ']', (size_t)(auth_end - s));
		char buf[INET6_ADDRSTRLEN];
		struct in6_addr a6;

		if (!close)
			return -EINVAL;
		host = s + 1;
		host_len = (size_t)(close - host);
		if (host_len == 0 || host_len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, host, host_len);
		buf[host_len] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return -EINVAL;
		u.host_is_v6 = true;
		s = close + 1;
	} else {
		const char *colon = memchr(s, ':', (size_t)(auth_end - s));

		host = s;
		host_len = (size_t)((colon ? colon : auth_end) - s);
		if (!valid_hostname(host, host_len))
			return -EINVAL;
		s = host + host_len;
	}
	if (*s == ':') {
		s++;
		if (parse_uint(s, (size_t)(auth_end - s), 65535, &v) < 0 || v == 0)
			return -EINVAL;
		u.port = (uint16_t)v;
	} else if (s != auth_end) {
		return -EINVAL;
	}

	iqn = auth_end + 1;
	iqn_end = strchr(iqn, '/');
	if (!iqn_end)
		return -EINVAL; /* no LUN */
	if (parse_uint(iqn_end + 1, strlen(iqn_end + 1), SGPR_ISCSI_LUN_MAX, &v) < 0)
		return -EINVAL;
	u.lun = (int)v;

	r = parse_target_name(iqn, (size_t)(iqn_end - iqn), &u.target_iqn);
	if (r < 0)
		return r;
	u.host = strndup(host, host_len);
	if (!u.host) {
		free(u.target_iqn);
		return -ENOMEM;
	}
	*ret = u;
	return 0;
}

void sgpr_iscsi_url_done(struct sgpr_iscsi_url *u)
{
	if (!u)
		return;
	free(u->host);
	free(u->target_iqn);
	*u = (struct sgpr_iscsi_url){};
}

int sgpr_iscsi_login_errno(const char *error_text)
{
	const char *s = error_text ? strstr(error_text, "Status: ") : NULL;
	unsigned status;

	if (!s || !(s = strrchr(s, '(')) || sscanf(s, "(%u)", &status) != 1)
		return -EACCES;
	switch (status >> 8) {
	case 0x02:
		if (status == 0x0203 || status == 0x0204)
			return -ENXIO;
		return -EACCES;
	case 0x03:
		if (status == 0x0301)
			return -EHOSTDOWN;
		return -ECOMM;
	default:
		return -ECOMM;
	}
}

/*
 * The ISID (RFC 7143 10.12.5, type T = 10b "random": byte 0 = 0x80):
 *   bytes 1..3 FNV-1a 32 of the initiator name, folded to 24 bits (upper 8
 *              bits XORed into the lower 24); an observer's has bit 23 flipped
 *   bytes 4..5 the host id, big-endian (the qualifier)
 * It depends on nothing but the name, the host id and the role, so every
 * process and every reconnect of one host that registers presents the same
 * initiator port (IQN + ISID): on an SPC-4 target its registrations survive a
 * re-login. Observers (read-only one-shot commands) present another port of
 * the same name, and never reinstate the registering session (RFC 7143
 * 6.3.5). Two hosts configured with the same IQN still differ by host id.
 */
void sgpr_iscsi_isid(const char *initiator, uint16_t host_id, bool observer, uint32_t *ret_rnd,
		     uint16_t *ret_qual)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *c = (const unsigned char *)initiator; *c; c++) {
		h ^= *c;
		h *= 16777619u;
	}
	*ret_rnd = ((h >> 24 ^ h) & 0xffffff) ^ (observer ? 0x800000u : 0);
	*ret_qual = host_id;
}
