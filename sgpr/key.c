/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reservation key layout (DESIGN.md "Keys and leases"):
 *   bits 63-48 namespace, 47-32 host id, 31-0 epoch.
 * Pure, no I/O.
 */
#include <inttypes.h>
#include <stdio.h>

#include "sgpr-private.h"

uint64_t sgpr_key_make(uint16_t ns, uint16_t host_id, uint32_t epoch)
{
	return (uint64_t)ns << 48 | (uint64_t)host_id << 32 | epoch;
}

struct sgpr_key_parts sgpr_key_split(uint64_t key)
{
	return (struct sgpr_key_parts){
		.ns = (uint16_t)(key >> 48),
		.host_id = (uint16_t)(key >> 32),
		.epoch = (uint32_t)key,
	};
}

/**
 * sgpr_ns_from_cluster() - namespace of a cluster name
 * @cluster: the configured cluster name; NULL is treated as ""
 *
 * FNV-1a 32-bit (offset basis 0x811c9dc5, prime 0x01000193) over the bytes of
 * the name, folded to 16 bits as (h >> 16) ^ (h & 0xffff); a result of 0 becomes
 * 1. This value is part of the on-storage format: never change it.
 * Examples: "" -> 0x1cd9, "a" -> 0xcd20, "foobar" -> 0x46f4.
 *
 * Return: the namespace, never 0.
 */
uint16_t sgpr_ns_from_cluster(const char *cluster)
{
	uint32_t h = 0x811c9dc5u;
	uint16_t ns;

	for (const unsigned char *p = (const unsigned char *)(cluster ?: ""); *p; p++) {
		h ^= *p;
		h *= 0x01000193u;
	}
	ns = (uint16_t)((h >> 16) ^ (h & 0xffff));
	return ns ? ns : 1;
}

/**
 * sgpr_key_in_ns() - is key one of ours
 * @key: a reservation key
 * @ns: our namespace; 0 is never a namespace and matches nothing
 *
 * Return: true if the key's namespace is @ns and its host id is not 0.
 */
bool sgpr_key_in_ns(uint64_t key, uint16_t ns)
{
	struct sgpr_key_parts k = sgpr_key_split(key);

	return ns != 0 && k.ns == ns && k.host_id != 0;
}

/**
 * sgpr_key_parse() - parse a reservation key
 * @s: "0x" or "0X" followed by hex digits, or decimal digits; nothing else
 *     (no sign, no spaces, no suffix)
 * @ret: the key (written only on success)
 *
 * Return: 0, -EINVAL for malformed text or the value 0 (never a registered
 * key, SPC-4 5.12.7), -ERANGE if the value does not fit in 64 bits.
 */
int sgpr_key_parse(const char *s, uint64_t *ret)
{
	unsigned base = 10;
	uint64_t v = 0;
	bool overflow = false;

	if (!s || !ret)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return -EINVAL;

	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		/* keep scanning after an overflow: junk is -EINVAL even in a huge number */
		if (v > (UINT64_MAX - d) / base)
			overflow = true;
		else
			v = v * base + d;
	}
	if (overflow)
		return -ERANGE;
	if (v == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

/**
 * sgpr_key_format() - "0x%016llx"
 * @key: the key
 * @buf: SGPR_KEY_STRLEN bytes
 *
 * Return: @buf.
 */
char *sgpr_key_format(uint64_t key, char *buf)
{
	snprintf(buf, SGPR_KEY_STRLEN, "0x%016" PRIx64, key);
	return buf;
}

/* Period code of a lease epoch: the top 8 bits, in SGPR_EPOCH_PERIOD_UNIT_MS. */
static unsigned period_code(unsigned period_ms)
{
	unsigned c = (period_ms + SGPR_EPOCH_PERIOD_UNIT_MS - 1) / SGPR_EPOCH_PERIOD_UNIT_MS;

	return c < 1 ? 1 : c > 255 ? 255 : c;
}

/**
 * sgpr_key_make_lease() - a lease key that announces its holder's period
 * @ns: namespace
 * @host_id: host id
 * @period_ms: the holder's renewal period; rounded up to 100 ms, so observers
 *             never wait less than the holder needs
 * @counter: the low 24 bits are used; 0 becomes 1 (epoch 0 is static)
 *
 * Return: the key.
 */
uint64_t sgpr_key_make_lease(uint16_t ns, uint16_t host_id, unsigned period_ms, uint32_t counter)
{
	counter &= SGPR_EPOCH_COUNTER_MASK;
	return sgpr_key_make(ns, host_id, period_code(period_ms) << 24 | (counter ? counter : 1));
}

/**
 * sgpr_key_period_ms() - the renewal period a lease key announces
 * @key: a reservation key
 * @ns: our namespace
 *
 * Return: the period in ms, or 0 for static keys, the parking key and keys
 * of other namespaces (their holders announce nothing we can read).
 */
unsigned sgpr_key_period_ms(uint64_t key, uint16_t ns)
{
	struct sgpr_key_parts k = sgpr_key_split(key);

	if (!sgpr_key_in_ns(key, ns) || !k.epoch)
		return 0;
	return (k.epoch >> 24) * SGPR_EPOCH_PERIOD_UNIT_MS;
}

uint64_t sgpr_key_parking(uint16_t ns)
{
	return sgpr_key_make(ns, 0, SGPR_EPOCH_PARKING);
}

bool sgpr_key_is_parking(uint64_t key, uint16_t ns)
{
	return ns != 0 && key == sgpr_key_parking(ns);
}
