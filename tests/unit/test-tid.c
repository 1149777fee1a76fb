/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TransportIDs (SPC-4 7.6.4): golden encodings, round trips, hostile decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sgpr-private.h"

/* clang-format off */
static const uint8_t fc[24] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x21, 0x00, 0x00, 0x24, 0xff, 0x3b, 0x5a, 0x6c,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* clang-format off */
static const uint8_t sas[24] = {
	0x06, 0x00, 0x00, 0x00,
	0x50, 0x00, 0xc5, 0x00, 0x12, 0x34, 0x56, 0x78,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* "iqn.a": 5 + NUL = 6, padded to 8, raised to the minimum ADDITIONAL LENGTH 20 */
/* clang-format off */
static const uint8_t iscsi_short[24] = {
	0x05, 0x00, 0x00, 0x14,
	'i', 'q', 'n', '.', 'a', 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* 20 chars + NUL = 21 -> 24 */
/* clang-format off */
static const uint8_t iscsi_24[28] = {
	0x05, 0x00, 0x00, 0x18,
	'i', 'q', 'n', '.', '2', '0', '2', '4',
	'-', '0', '1', '.', 't', 'e', 's', 't',
	':', 'a', 'b', 'c', 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* format 01b, ISID 40 00 01 02 03 04 */
/* clang-format off */
static const uint8_t iscsi_isid[40] = {
	0x45, 0x00, 0x00, 0x24,
	'i', 'q', 'n', '.', '2', '0', '2', '4',
	'-', '0', '1', '.', 't', 'e', 's', 't',
	':', 'b', ',', 'i', ',', '0', 'x', '4',
	'0', '0', '0', '0', '1', '0', '2', '0',
	'3', '0', '4', 0x00,
};
/* clang-format on */

static void check_encode(const struct sgpr_transport_id *t, const uint8_t *want, size_t n)
{
	uint8_t buf[300];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(sgpr_tid_encode(t, buf, sizeof(buf)), (int)n);
	assert_memory_equal(buf, want, n);
	assert_int_equal(buf[n], 0xee);
	/* one byte short */
	assert_int_equal(sgpr_tid_encode(t, buf, n - 1), -ENOBUFS);
}

static void test_encode_golden(void **state)
{
	struct sgpr_transport_id t;

	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_FC, .port_name = 0x21000024ff3b5a6cull};
	check_encode(&t, fc, sizeof(fc));
	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_SAS, .port_name = 0x5000c50012345678ull};
	check_encode(&t, sas, sizeof(sas));
	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_ISCSI, .iscsi_name = "iqn.a"};
	check_encode(&t, iscsi_short, sizeof(iscsi_short));
	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_ISCSI,
				       .iscsi_name = "iqn.2024-01.test:abc"};
	check_encode(&t, iscsi_24, sizeof(iscsi_24));
	t = (struct sgpr_transport_id){
		.proto = SGPR_PROTO_ISCSI,
		.iscsi_name = "iqn.2024-01.test:b",
		.has_isid = true,
		.isid = {0x40, 0x00, 0x01, 0x02, 0x03, 0x04},
	};
	check_encode(&t, iscsi_isid, sizeof(iscsi_isid));
}

static void test_encode_lengths(void **state)
{
	struct sgpr_transport_id t = {.proto = SGPR_PROTO_ISCSI};
	uint8_t buf[300];

	/* 19 chars + NUL = 20: exactly the minimum, no padding */
	strcpy(t.iscsi_name, "iqn.2024-01.test:ab");
	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), 24);
	assert_int_equal(sgpr_get_be16(buf + 2), 20);
	assert_int_equal(buf[4 + 19], 0);

	/* longest name: 223 chars; 01b adds 17 + NUL = 241 -> 244 */
	memset(t.iscsi_name, 'a', SGPR_ISCSI_NAME_MAX - 1);
	t.iscsi_name[SGPR_ISCSI_NAME_MAX - 1] = '\0';
	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), 4 + 224);
	t.has_isid = true;
	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), 4 + 244);
	assert_int_equal(sgpr_get_be16(buf + 2), 244);
	assert_int_equal(buf[4 + 240], 0);
}

static void test_encode_reject(void **state)
{
	struct sgpr_transport_id t = {.proto = SGPR_PROTO_ISCSI};
	uint8_t buf[300];

	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), -EINVAL); /* empty name */
	strcpy(t.iscsi_name, "iqn.a,i,0x1234");
	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), -EINVAL); /* ',' */
	strcpy(t.iscsi_name, "iqn a");
	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), -EINVAL); /* space */
	memset(t.iscsi_name, 'a', sizeof(t.iscsi_name));
	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), -EINVAL); /* unterminated */

	t = (struct sgpr_transport_id){.proto = 0x4, .port_name = 1};
	assert_int_equal(sgpr_tid_encode(&t, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(sgpr_tid_encode(NULL, buf, sizeof(buf)), -EINVAL);
	t.proto = SGPR_PROTO_FC;
	assert_int_equal(sgpr_tid_encode(&t, NULL, 0), -ENOBUFS);
}

static void check_decode(const uint8_t *buf, size_t len, int want_r,
			 const struct sgpr_transport_id *want)
{
	struct sgpr_transport_id t;

	memset(&t, 0xaa, sizeof(t));
	assert_int_equal(sgpr_tid_decode(buf, len, &t), want_r);
	assert_int_equal(t.proto, want->proto);
	assert_true(t.port_name == want->port_name);
	assert_string_equal(t.iscsi_name, want->iscsi_name);
	assert_int_equal(t.has_isid, want->has_isid);
	assert_memory_equal(t.isid, want->isid, sizeof(t.isid));
}

static void test_decode_golden(void **state)
{
	struct sgpr_transport_id w;
	uint8_t buf[64];

	w = (struct sgpr_transport_id){.proto = SGPR_PROTO_FC, .port_name = 0x21000024ff3b5a6cull};
	check_decode(fc, sizeof(fc), 24, &w);
	w = (struct sgpr_transport_id){.proto = SGPR_PROTO_SAS, .port_name = 0x5000c50012345678ull};
	check_decode(sas, sizeof(sas), 24, &w);
	w = (struct sgpr_transport_id){.proto = SGPR_PROTO_ISCSI, .iscsi_name = "iqn.a"};
	check_decode(iscsi_short, sizeof(iscsi_short), 24, &w);
	w = (struct sgpr_transport_id){.proto = SGPR_PROTO_ISCSI,
				       .iscsi_name = "iqn.2024-01.test:abc"};
	check_decode(iscsi_24, sizeof(iscsi_24), 28, &w);
	w = (struct sgpr_transport_id){
		.proto = SGPR_PROTO_ISCSI,
		.iscsi_name = "iqn.2024-01.test:b",
		.has_isid = true,
		.isid = {0x40, 0x00, 0x01, 0x02, 0x03, 0x04},
	};
	check_decode(iscsi_isid, sizeof(iscsi_isid), 40, &w);

	/* trailing bytes (the next TransportID) are not consumed */
	memset(buf, 0x77, sizeof(buf));
	memcpy(buf, iscsi_isid, sizeof(iscsi_isid));
	check_decode(buf, sizeof(buf), 40, &w);

	/* upper-case ISID digits */
	memcpy(buf, iscsi_isid, sizeof(iscsi_isid));
	memcpy(buf + 27, "4000010ABCDE", 12);
	w.isid[3] = 0x0a;
	w.isid[4] = 0xbc;
	w.isid[5] = 0xde;
	check_decode(buf, sizeof(iscsi_isid), 40, &w);

	/* lenient: ADDITIONAL LENGTH 8 (< 20) still decodes */
	static const uint8_t short_addl[12] = {0x05, 0, 0, 0x08, 'i', 'q', 'n', '.', 'a', 0, 0, 0};
	w = (struct sgpr_transport_id){.proto = SGPR_PROTO_ISCSI, .iscsi_name = "iqn.a"};
	check_decode(short_addl, sizeof(short_addl), 12, &w);
}

static void test_round_trip(void **state)
{
	struct sgpr_transport_id in =
					 {
						 .proto = SGPR_PROTO_ISCSI,
						 .has_isid = true,
						 .isid = {0x80, 0x12, 0x34, 0x56, 0x78, 0x9a},
					 },
				 out;
	uint8_t buf[300];
	int n;

	for (size_t len = 1; len < SGPR_ISCSI_NAME_MAX; len += 7) {
		memset(in.iscsi_name, 0, sizeof(in.iscsi_name));
		memset(in.iscsi_name, 'q', len);
		for (int isid = 0; isid < 2; isid++) {
			in.has_isid = isid;
			n = sgpr_tid_encode(&in, buf, sizeof(buf));
			assert_true(n >= 24 && n % 4 == 0);
			assert_int_equal(sgpr_tid_decode(buf, (size_t)n, &out), n);
			assert_string_equal(out.iscsi_name, in.iscsi_name);
			assert_int_equal(out.has_isid, in.has_isid);
			if (isid)
				assert_memory_equal(out.isid, in.isid, 6);
			/* any truncation is refused */
			assert_int_equal(sgpr_tid_decode(buf, (size_t)n - 1, &out), -EBADMSG);
		}
	}
}

/* Decode must fail and leave *ret alone. */
static void bad(const uint8_t *buf, size_t len, int want)
{
	struct sgpr_transport_id t, ref;

	memset(&t, 0xaa, sizeof(t));
	memset(&ref, 0xaa, sizeof(ref));
	assert_int_equal(sgpr_tid_decode(buf, len, &t), want);
	assert_memory_equal(&t, &ref, sizeof(t));
}

static void test_decode_hostile(void **state)
{
	uint8_t b[300];

	bad(NULL, 24, -EBADMSG);
	bad(fc, 0, -EBADMSG);
	bad(fc, 3, -EBADMSG);
	bad(fc, 23, -EBADMSG);
	bad(sas, 23, -EBADMSG);

	/* FC/SAS with format code 01b */
	memcpy(b, fc, 24);
	b[0] = 0x40;
	bad(b, 24, -EBADMSG);
	memcpy(b, sas, 24);
	b[0] = 0x46;
	bad(b, 24, -EBADMSG);

	/* iSCSI: format 10b/11b */
	memcpy(b, iscsi_short, 24);
	b[0] = 0x85;
	bad(b, 24, -EBADMSG);
	b[0] = 0xc5;
	bad(b, 24, -EBADMSG);

	/* ADDITIONAL LENGTH past the end, including 0xffff */
	memcpy(b, iscsi_short, 24);
	b[3] = 0x18;
	bad(b, 24, -EBADMSG);
	b[2] = 0xff;
	b[3] = 0xff;
	bad(b, 24, -EBADMSG);
	/* ADDITIONAL LENGTH 0 */
	b[2] = b[3] = 0;
	bad(b, 24, -EBADMSG);

	/* no NUL inside ADDITIONAL LENGTH (the NUL after it does not count) */
	memset(b, 0, sizeof(b));
	b[0] = 0x05;
	b[3] = 0x14;
	memset(b + 4, 'a', 20);
	bad(b, 28, -EBADMSG);

	/* empty name, control character, ',' in a 00b name */
	memcpy(b, iscsi_short, 24);
	b[4] = 0;
	bad(b, 24, -EBADMSG);
	memcpy(b, iscsi_short, 24);
	b[6] = '\n';
	bad(b, 24, -EBADMSG);
	memcpy(b, iscsi_short, 24);
	b[6] = ',';
	bad(b, 24, -EBADMSG);
	memcpy(b, iscsi_short, 24);
	b[6] = (uint8_t)0xc3;
	bad(b, 24, -EBADMSG);

	/* name longer than SGPR_ISCSI_NAME_MAX - 1 */
	memset(b, 0, sizeof(b));
	b[0] = 0x05;
	b[3] = 228;
	memset(b + 4, 'a', 224);
	bad(b, 232, -EBADMSG);
	b[4 + 223] = 0; /* 223 chars fits */
	struct sgpr_transport_id t;
	assert_int_equal(sgpr_tid_decode(b, 232, &t), 232);
	assert_int_equal(strlen(t.iscsi_name), 223);

	/* 01b: no separator, wrong separator, short or bad ISID, empty name */
	memcpy(b, iscsi_isid, 40);
	b[22] = '.';
	bad(b, 40, -EBADMSG);
	memcpy(b, iscsi_isid, 40);
	b[23] = 'I';
	bad(b, 40, -EBADMSG);
	memcpy(b, iscsi_isid, 40);
	b[26] = 'X';
	bad(b, 40, -EBADMSG);
	memcpy(b, iscsi_isid, 40);
	b[38] = 0; /* 11 digits */
	bad(b, 40, -EBADMSG);
	memcpy(b, iscsi_isid, 40);
	b[30] = 'g';
	bad(b, 40, -EBADMSG);
	memcpy(b, iscsi_isid, 40);
	b[39] = '5'; /* 13 digits, no NUL */
	bad(b, 40, -EBADMSG);
	/* clang-format off */
	static const uint8_t noname[24] = {
		0x45, 0, 0, 0x14, ',', 'i', ',', '0', 'x', '4', '0', '0', '0', '0', '1',
		'0', '2', '0', '3', '0', '4', 0, 0, 0,
	};
	/* clang-format on */
	bad(noname, 24, -EBADMSG);
	/* tgt's non-standard form: name NUL ",i,0x" + 6 raw bytes */
	/* clang-format off */
	static const uint8_t tgt_style[24] = {
		0x45, 0, 0, 0x14, 'i', 'q', 'n', '.', 'a', 0, ',', 'i', ',', '0', 'x',
		0x40, 0x00, 0x01, 0x02, 0x03, 0x04, 0, 0, 0,
	};
	/* clang-format on */
	bad(tgt_style, 24, -EBADMSG);
	/* a 00b name followed by garbage after the NUL is fine */
	memcpy(b, iscsi_short, 24);
	b[20] = 'z';
	assert_int_equal(sgpr_tid_decode(b, 24, &t), 24);

	/* other protocols: well-formed -> -EPROTONOSUPPORT, else -EBADMSG */
	memset(b, 0, 24);
	b[0] = 0x04; /* SRP */
	bad(b, 24, -EPROTONOSUPPORT);
	bad(b, 20, -EBADMSG);
	b[0] = 0x44;
	bad(b, 24, -EBADMSG);
	b[0] = 0x0f;
	bad(b, 24, -EPROTONOSUPPORT);
	b[0] = 0x01; /* SPI */
	bad(b, 24, -EPROTONOSUPPORT);
}

static void test_format(void **state)
{
	struct sgpr_transport_id t;
	char buf[300];

	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_FC, .port_name = 0x21000024ff3b5a6cull};
	assert_string_equal(sgpr_tid_format(&t, buf, sizeof(buf)), "fc:0x21000024ff3b5a6c");
	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_SAS, .port_name = 0x5000c50012345678ull};
	assert_string_equal(sgpr_tid_format(&t, buf, sizeof(buf)), "sas:0x5000c50012345678");
	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_ISCSI, .iscsi_name = "iqn.x"};
	assert_string_equal(sgpr_tid_format(&t, buf, sizeof(buf)), "iqn.x");
	t.has_isid = true;
	memcpy(t.isid, (uint8_t[]){0x40, 0x00, 0x01, 0x02, 0x03, 0x04}, 6);
	assert_string_equal(sgpr_tid_format(&t, buf, sizeof(buf)), "iqn.x,i,0x400001020304");
	/* exactly fits: 22 chars + NUL */
	assert_non_null(sgpr_tid_format(&t, buf, 23));
	assert_null(sgpr_tid_format(&t, buf, 22));
	assert_null(sgpr_tid_format(&t, buf, 0));
	assert_null(sgpr_tid_format(NULL, buf, sizeof(buf)));
	t = (struct sgpr_transport_id){.proto = 0x4};
	assert_string_equal(sgpr_tid_format(&t, buf, sizeof(buf)), "proto:0x4");
	/* unterminated name is bounded */
	t = (struct sgpr_transport_id){.proto = SGPR_PROTO_ISCSI};
	memset(t.iscsi_name, 'n', sizeof(t.iscsi_name));
	assert_non_null(sgpr_tid_format(&t, buf, sizeof(buf)));
	assert_int_equal(strlen(buf), SGPR_ISCSI_NAME_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_golden), cmocka_unit_test(test_encode_lengths),
		cmocka_unit_test(test_encode_reject), cmocka_unit_test(test_decode_golden),
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_decode_hostile),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
