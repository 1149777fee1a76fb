/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PR IN parameter data parsers (SPC-4 6.15): golden data, truncation, hostile lengths. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sgpr-private.h"

/* ---- READ KEYS, SPC-4 6.15.2 table 194 ---------------------------------- */

/* clang-format off */
static const uint8_t keys2[24] = {
	0x00, 0x00, 0x00, 0x07,                         /* PRGENERATION */
	0x00, 0x00, 0x00, 0x10,                         /* ADDITIONAL LENGTH 16 */
	0x1c, 0xd9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, /* key 1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, /* key 2 */
};
/* clang-format on */

static void test_read_keys(void **state)
{
	struct sgpr_keys *k = NULL;
	size_t needed = 12345;

	assert_int_equal(sgpr_parse_read_keys(keys2, sizeof(keys2), &k, &needed), 0);
	assert_int_equal(needed, 12345); /* only set on -ENOBUFS */
	assert_int_equal(k->generation, 7);
	assert_int_equal(k->count, 2);
	assert_true(k->keys[0] == 0x1cd9000100000005ull);
	assert_true(k->keys[1] == 0xb);
	free(k);

	/* bytes past ADDITIONAL LENGTH (e.g. the whole buffer passed) are ignored */
	uint8_t big[64];
	memset(big, 0x5a, sizeof(big));
	memcpy(big, keys2, sizeof(keys2));
	big[7] = 0x08;
	assert_int_equal(sgpr_parse_read_keys(big, sizeof(big), &k, NULL), 0);
	assert_int_equal(k->count, 1);
	free(k);

	static const uint8_t empty[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
	assert_int_equal(sgpr_parse_read_keys(empty, sizeof(empty), &k, NULL), 0);
	assert_int_equal(k->generation, 0xffffffffu);
	assert_int_equal(k->count, 0);
	free(k);
}

static void test_read_keys_truncated(void **state)
{
	struct sgpr_keys *k = (void *)0x1;
	uint8_t b[24];
	size_t needed = 0;

	/* announces 3 keys, 2 received */
	memcpy(b, keys2, sizeof(b));
	b[7] = 0x18;
	assert_int_equal(sgpr_parse_read_keys(b, sizeof(b), &k, &needed), -ENOBUFS);
	assert_int_equal(needed, 32);
	assert_ptr_equal(k, (void *)0x1);
	assert_int_equal(sgpr_parse_read_keys(b, sizeof(b), &k, NULL), -ENOBUFS);

	/* the header alone */
	assert_int_equal(sgpr_parse_read_keys(keys2, 8, &k, &needed), -ENOBUFS);
	assert_int_equal(needed, 24);
	assert_int_equal(sgpr_parse_read_keys(keys2, 23, &k, &needed), -ENOBUFS);
	assert_int_equal(needed, 24);

	/* largest multiple of 8 */
	b[4] = b[5] = b[6] = 0xff;
	b[7] = 0xf8;
	assert_int_equal(sgpr_parse_read_keys(b, sizeof(b), &k, &needed), -ENOBUFS);
#if SIZE_MAX > UINT32_MAX
	assert_true(needed == 8 + (size_t)0xfffffff8u);
#endif
}

static void test_read_keys_malformed(void **state)
{
	struct sgpr_keys *k = (void *)0x1;
	uint8_t b[24];
	size_t needed = 99;

	assert_int_equal(sgpr_parse_read_keys(keys2, 7, &k, &needed), -EBADMSG);
	assert_int_equal(sgpr_parse_read_keys(keys2, 0, &k, &needed), -EBADMSG);
	assert_int_equal(sgpr_parse_read_keys(NULL, 24, &k, &needed), -EBADMSG);
	assert_int_equal(sgpr_parse_read_keys(keys2, 24, NULL, &needed), -EINVAL);

	memcpy(b, keys2, sizeof(b));
	b[7] = 0x0c; /* 12: not a multiple of 8, though it fits */
	assert_int_equal(sgpr_parse_read_keys(b, sizeof(b), &k, &needed), -EBADMSG);
	b[7] = 0x11;
	assert_int_equal(sgpr_parse_read_keys(b, sizeof(b), &k, &needed), -EBADMSG);
	b[4] = b[5] = b[6] = b[7] = 0xff;
	assert_int_equal(sgpr_parse_read_keys(b, sizeof(b), &k, &needed), -EBADMSG);
	assert_ptr_equal(k, (void *)0x1);
	assert_int_equal(needed, 99);
}

/* ---- READ RESERVATION, SPC-4 6.15.3 tables 195/196 ---------------------- */

/* clang-format off */
static const uint8_t resv_held[24] = {
	0x00, 0x00, 0x01, 0x00,                         /* PRGENERATION 256 */
	0x00, 0x00, 0x00, 0x10,                         /* ADDITIONAL LENGTH 16 */
	0x1c, 0xd9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, /* RESERVATION KEY */
	0x00, 0x00, 0x00, 0x00,                         /* obsolete */
	0x00,                                           /* reserved */
	0x05,                                           /* SCOPE 0 | TYPE 5 */
	0x00, 0x00,                                     /* obsolete */
};
/* clang-format on */

static void test_read_reservation(void **state)
{
	struct sgpr_reservation r;
	uint8_t b[32];

	memset(&r, 0xaa, sizeof(r));
	assert_int_equal(sgpr_parse_read_reservation(resv_held, sizeof(resv_held), &r), 0);
	assert_int_equal(r.generation, 256);
	assert_true(r.held);
	assert_true(r.key == 0x1cd9000100000005ull);
	assert_int_equal(r.scope, 0);
	assert_int_equal(r.type, 5);

	/* no reservation: ADDITIONAL LENGTH 0 */
	static const uint8_t none[8] = {0, 0, 0, 5, 0, 0, 0, 0};
	memset(&r, 0xaa, sizeof(r));
	assert_int_equal(sgpr_parse_read_reservation(none, sizeof(none), &r), 0);
	assert_int_equal(r.generation, 5);
	assert_false(r.held);
	assert_true(r.key == 0);
	assert_int_equal(r.type, 0);
	/* ... also when the caller passes its whole 24-byte buffer */
	memset(b, 0, sizeof(b));
	memcpy(b, none, sizeof(none));
	b[10] = 0x77;
	assert_int_equal(sgpr_parse_read_reservation(b, 24, &r), 0);
	assert_false(r.held);
	assert_true(r.key == 0);

	/* all-registrants: key 0, type 7; scope/type nibbles */
	memcpy(b, resv_held, sizeof(resv_held));
	memset(b + 8, 0, 8);
	b[21] = 0x17;
	assert_int_equal(sgpr_parse_read_reservation(b, 24, &r), 0);
	assert_true(r.held);
	assert_true(r.key == 0);
	assert_int_equal(r.scope, 1);
	assert_int_equal(r.type, 7);
}

static void test_read_reservation_bad(void **state)
{
	struct sgpr_reservation r, ref;
	uint8_t b[24];

	memset(&r, 0xaa, sizeof(r));
	memset(&ref, 0xaa, sizeof(ref));
	assert_int_equal(sgpr_parse_read_reservation(resv_held, 23, &r), -ENOBUFS);
	assert_int_equal(sgpr_parse_read_reservation(resv_held, 8, &r), -ENOBUFS);
	assert_int_equal(sgpr_parse_read_reservation(resv_held, 7, &r), -EBADMSG);
	assert_int_equal(sgpr_parse_read_reservation(NULL, 24, &r), -EBADMSG);
	memcpy(b, resv_held, sizeof(b));
	b[7] = 0x08;
	assert_int_equal(sgpr_parse_read_reservation(b, sizeof(b), &r), -EBADMSG);
	b[7] = 0x18;
	assert_int_equal(sgpr_parse_read_reservation(b, sizeof(b), &r), -EBADMSG);
	b[4] = b[5] = b[6] = b[7] = 0xff;
	assert_int_equal(sgpr_parse_read_reservation(b, sizeof(b), &r), -EBADMSG);
	assert_memory_equal(&r, &ref, sizeof(r));
	assert_int_equal(sgpr_parse_read_reservation(resv_held, 24, NULL), -EINVAL);
}

/* ---- REPORT CAPABILITIES, SPC-4 6.15.4 table 201 ------------------------ */

static void test_report_caps_tgt(void **state)
{
	/* tgt 1.0.85, captured (shared/refs/targets-tgt-libiscsi-sgutils.md 1.1) */
	static const uint8_t tgt[8] = {0x00, 0x08, 0x00, 0x80, 0xea, 0x01, 0x00, 0x00};
	static const int types[] = {1, 3, 5, 6, 7, 8};
	struct sgpr_caps c;

	memset(&c, 0xaa, sizeof(c));
	assert_int_equal(sgpr_parse_report_caps(tgt, sizeof(tgt), &c), 0);
	assert_true(c.tmv);
	assert_false(c.crh);
	assert_false(c.sip_c);
	assert_false(c.atp_c);
	assert_false(c.ptpl_c);
	assert_false(c.ptpl_a);
	assert_int_equal(c.allow_commands, 0);
	assert_int_equal(c.type_mask, 0xea01);
	assert_int_equal(c.type_mask, SGPR_TYPE_MASK_WE | SGPR_TYPE_MASK_EA | SGPR_TYPE_MASK_WERO |
					      SGPR_TYPE_MASK_EARO | SGPR_TYPE_MASK_WEAR |
					      SGPR_TYPE_MASK_EAAR);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		assert_true(sgpr_caps_type_supported(&c, types[i]));
	assert_false(sgpr_caps_type_supported(&c, 0));
	assert_false(sgpr_caps_type_supported(&c, 2));
	assert_false(sgpr_caps_type_supported(&c, 4));
	assert_false(sgpr_caps_type_supported(&c, 9));
	assert_false(sgpr_caps_type_supported(&c, -1));
	assert_false(sgpr_caps_type_supported(NULL, 1));
}

static void test_report_caps_bits(void **state)
{
	/* CRH|SIP_C|ATP_C|PTPL_C, TMV|ALLOW COMMANDS 7|PTPL_A, only WE; RLR_C (bit 7) not mapped */
	static const uint8_t all[8] = {0x00, 0x08, 0x9d, 0xf1, 0x02, 0x00, 0x00, 0x00};
	static const uint8_t no_tmv[8] = {0x00, 0x08, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t longer[8] = {0x00, 0x10, 0x01, 0x80, 0x08, 0x00, 0x00, 0x00};
	struct sgpr_caps c;

	assert_int_equal(sgpr_parse_report_caps(all, sizeof(all), &c), 0);
	assert_true(c.crh && c.sip_c && c.atp_c && c.ptpl_c && c.tmv && c.ptpl_a);
	assert_int_equal(c.allow_commands, 7);
	assert_true(sgpr_caps_type_supported(&c, SGPR_TYPE_WE));
	assert_false(sgpr_caps_type_supported(&c, SGPR_TYPE_EA));
	assert_false(sgpr_caps_type_supported(&c, SGPR_TYPE_EAAR));

	/* TMV 0: the mask means nothing, every valid type may be tried */
	assert_int_equal(sgpr_parse_report_caps(no_tmv, sizeof(no_tmv), &c), 0);
	assert_false(c.tmv);
	assert_int_equal(c.allow_commands, 2);
	assert_true(sgpr_caps_type_supported(&c, SGPR_TYPE_EAAR));
	assert_false(sgpr_caps_type_supported(&c, 2));

	/* a larger LENGTH than 8 with 8 bytes received is fine */
	assert_int_equal(sgpr_parse_report_caps(longer, sizeof(longer), &c), 0);
	assert_true(c.ptpl_c);
	assert_true(sgpr_caps_type_supported(&c, SGPR_TYPE_EA));
}

static void test_report_caps_bad(void **state)
{
	static const uint8_t tgt[8] = {0x00, 0x08, 0x00, 0x80, 0xea, 0x01, 0x00, 0x00};
	static const uint8_t shortlen[8] = {0x00, 0x04, 0x00, 0x80, 0xea, 0x01, 0x00, 0x00};
	struct sgpr_caps c, ref;

	memset(&c, 0xaa, sizeof(c));
	memset(&ref, 0xaa, sizeof(ref));
	assert_int_equal(sgpr_parse_report_caps(tgt, 7, &c), -EBADMSG);
	assert_int_equal(sgpr_parse_report_caps(tgt, 0, &c), -EBADMSG);
	assert_int_equal(sgpr_parse_report_caps(NULL, 8, &c), -EBADMSG);
	assert_int_equal(sgpr_parse_report_caps(shortlen, 8, &c), -EBADMSG);
	assert_memory_equal(&c, &ref, sizeof(c));
	assert_int_equal(sgpr_parse_report_caps(tgt, 8, NULL), -EINVAL);
}

/* ---- READ FULL STATUS, SPC-4 6.15.5 tables 204/205 ---------------------- */

#define FS_D1 8	       /* offset of descriptor 1 */
#define FS_D2 (8 + 64) /* offset of descriptor 2 */

/* clang-format off */
static const uint8_t fs2[120] = {
	0x00, 0x00, 0x00, 0x2a, /* PRGENERATION 42 */
	0x00, 0x00, 0x00, 0x70, /* ADDITIONAL LENGTH 112 */
	/* descriptor 1: holder, WERO, port 1, iSCSI 01b TransportID (40 bytes) */
	0x1c, 0xd9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, /* RESERVATION KEY */
	0x00, 0x00, 0x00, 0x00,                         /* reserved */
	0x01,                                           /* R_HOLDER */
	0x05,                                           /* SCOPE | TYPE */
	0x00, 0x00, 0x00, 0x00,                         /* reserved */
	0x00, 0x01,                                     /* RELATIVE TARGET PORT IDENTIFIER */
	0x00, 0x00, 0x00, 0x28,                         /* ADDITIONAL DESCRIPTOR LENGTH 40 */
	0x45, 0x00, 0x00, 0x24,
	'i', 'q', 'n', '.', '2', '0', '2', '4',
	'-', '0', '1', '.', 't', 'e', 's', 't',
	':', 'b', ',', 'i', ',', '0', 'x', '4',
	'0', '0', '0', '0', '1', '0', '2', '0',
	'3', '0', '4', 0x00,
	/* descriptor 2: registrant, ALL_TG_PT, port 2, FC TransportID (24 bytes) */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
	0x00, 0x00, 0x00, 0x00,
	0x02,                                           /* ALL_TG_PT */
	0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x02,
	0x00, 0x00, 0x00, 0x18,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x21, 0x00, 0x00, 0x24, 0xff, 0x3b, 0x5a, 0x6c,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

static void test_full_status(void **state)
{
	static const uint8_t isid[6] = {0x40, 0x00, 0x01, 0x02, 0x03, 0x04};
	struct sgpr_full_status *fs = NULL;
	size_t needed = 7;

	assert_int_equal(sgpr_parse_full_status(fs2, sizeof(fs2), &fs, &needed), 0);
	assert_int_equal(needed, 7);
	assert_int_equal(fs->generation, 42);
	assert_int_equal(fs->count, 2);

	assert_true(fs->entries[0].key == 0x1cd9000100000005ull);
	assert_true(fs->entries[0].holder);
	assert_false(fs->entries[0].all_tg_pt);
	assert_int_equal(fs->entries[0].scope, 0);
	assert_int_equal(fs->entries[0].type, 5);
	assert_int_equal(fs->entries[0].rel_tgt_port, 1);
	assert_int_equal(fs->entries[0].tid.proto, SGPR_PROTO_ISCSI);
	assert_string_equal(fs->entries[0].tid.iscsi_name, "iqn.2024-01.test:b");
	assert_true(fs->entries[0].tid.has_isid);
	assert_memory_equal(fs->entries[0].tid.isid, isid, 6);

	assert_true(fs->entries[1].key == 0xb);
	assert_false(fs->entries[1].holder);
	assert_true(fs->entries[1].all_tg_pt);
	assert_int_equal(fs->entries[1].rel_tgt_port, 2);
	assert_int_equal(fs->entries[1].tid.proto, SGPR_PROTO_FC);
	assert_true(fs->entries[1].tid.port_name == 0x21000024ff3b5a6cull);
	free(fs);

	/* empty list; trailing bytes past ADDITIONAL LENGTH ignored */
	uint8_t b[sizeof(fs2) + 16];
	memset(b, 0x33, sizeof(b));
	memcpy(b, fs2, 8);
	b[7] = 0;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(b), &fs, NULL), 0);
	assert_int_equal(fs->count, 0);
	assert_int_equal(fs->generation, 42);
	free(fs);
	memcpy(b, fs2, sizeof(fs2));
	assert_int_equal(sgpr_parse_full_status(b, sizeof(b), &fs, NULL), 0);
	assert_int_equal(fs->count, 2);
	free(fs);
}

static void test_full_status_unknown_proto(void **state)
{
	struct sgpr_full_status *fs = NULL;
	uint8_t b[sizeof(fs2)];

	/* descriptor 2 carries an SRP TransportID (24 bytes, protocol 4) */
	memcpy(b, fs2, sizeof(b));
	b[FS_D2 + 24] = 0x04;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(b), &fs, NULL), 0);
	assert_int_equal(fs->count, 2);
	assert_true(fs->entries[1].key == 0xb);
	assert_int_equal(fs->entries[1].tid.proto, 4);
	assert_true(fs->entries[1].tid.port_name == 0);
	free(fs);
}

static void test_full_status_truncated(void **state)
{
	struct sgpr_full_status *fs = (void *)0x1;
	size_t needed = 0;
	uint8_t b[8];

	assert_int_equal(sgpr_parse_full_status(fs2, 100, &fs, &needed), -ENOBUFS);
	assert_int_equal(needed, 120);
	assert_int_equal(sgpr_parse_full_status(fs2, 8, &fs, &needed), -ENOBUFS);
	assert_int_equal(needed, 120);
	assert_int_equal(sgpr_parse_full_status(fs2, 119, &fs, NULL), -ENOBUFS);

	memcpy(b, fs2, 8);
	b[4] = b[5] = b[6] = b[7] = 0xff;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(b), &fs, &needed), -ENOBUFS);
#if SIZE_MAX > UINT32_MAX
	assert_true(needed == (size_t)0xffffffffu + 8);
#endif
	assert_ptr_equal(fs, (void *)0x1);
}

static void test_full_status_hostile(void **state)
{
	struct sgpr_full_status *fs = (void *)0x1;
	uint8_t b[sizeof(fs2) + 16];
	size_t needed = 5;

	assert_int_equal(sgpr_parse_full_status(fs2, 7, &fs, &needed), -EBADMSG);
	assert_int_equal(sgpr_parse_full_status(NULL, 120, &fs, &needed), -EBADMSG);
	assert_int_equal(sgpr_parse_full_status(fs2, 120, NULL, &needed), -EINVAL);

	/* ADDITIONAL DESCRIPTOR LENGTH one past the end of the list */
	memcpy(b, fs2, sizeof(fs2));
	b[FS_D2 + 23] = 0x19;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(fs2), &fs, &needed), -EBADMSG);
	/* ... and past the end of the buffer, even with more bytes received */
	assert_int_equal(sgpr_parse_full_status(b, sizeof(b), &fs, &needed), -EBADMSG);
	/* 0xffffffff */
	memcpy(b, fs2, sizeof(fs2));
	b[FS_D1 + 20] = b[FS_D1 + 21] = b[FS_D1 + 22] = b[FS_D1 + 23] = 0xff;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(fs2), &fs, &needed), -EBADMSG);
	/* shorter than the TransportID inside: the iSCSI length then crosses the descriptor */
	memcpy(b, fs2, sizeof(fs2));
	b[FS_D1 + 23] = 0x24;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(fs2), &fs, &needed), -EBADMSG);
	/* no TransportID at all */
	memcpy(b, fs2, sizeof(fs2));
	b[7] = 0x18;
	b[FS_D1 + 23] = 0x00;
	assert_int_equal(sgpr_parse_full_status(b, 32, &fs, &needed), -EBADMSG);

	/* a partial descriptor after the last one */
	memcpy(b, fs2, sizeof(fs2));
	memset(b + sizeof(fs2), 0, 16);
	b[7] = 0x70 + 10;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(fs2) + 10, &fs, &needed), -EBADMSG);
	/* ADDITIONAL LENGTH cutting descriptor 2 */
	memcpy(b, fs2, sizeof(fs2));
	b[7] = 0x70 - 4;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(fs2), &fs, &needed), -EBADMSG);

	/* malformed TransportID */
	memcpy(b, fs2, sizeof(fs2));
	b[FS_D1 + 24] = 0x85;
	assert_int_equal(sgpr_parse_full_status(b, sizeof(fs2), &fs, &needed), -EBADMSG);
	memcpy(b, fs2, sizeof(fs2));
	b[FS_D1 + 24 + 39] = 'x'; /* NUL gone */
	assert_int_equal(sgpr_parse_full_status(b, sizeof(fs2), &fs, &needed), -EBADMSG);

	assert_ptr_equal(fs, (void *)0x1);
	assert_int_equal(needed, 5);
}

static void test_full_status_many(void **state)
{
	enum { N = 500 };
	size_t len = 8 + (size_t)N * 48;
	uint8_t *b = calloc(1, len);
	struct sgpr_full_status *fs = NULL;

	assert_non_null(b);
	sgpr_put_be32(b + 4, (uint32_t)(len - 8));
	for (size_t i = 0; i < N; i++) {
		uint8_t *d = b + 8 + i * 48;

		sgpr_put_be64(d, i + 1);
		sgpr_put_be32(d + 20, 24);
		d[24] = 0x06; /* SAS */
		sgpr_put_be64(d + 28, 0x5000000000000000ull + i);
	}
	assert_int_equal(sgpr_parse_full_status(b, len, &fs, NULL), 0);
	assert_int_equal(fs->count, N);
	assert_true(fs->entries[N - 1].key == N);
	assert_true(fs->entries[N - 1].tid.port_name == 0x5000000000000000ull + N - 1);
	free(fs);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_keys),
		cmocka_unit_test(test_read_keys_truncated),
		cmocka_unit_test(test_read_keys_malformed),
		cmocka_unit_test(test_read_reservation),
		cmocka_unit_test(test_read_reservation_bad),
		cmocka_unit_test(test_report_caps_tgt),
		cmocka_unit_test(test_report_caps_bits),
		cmocka_unit_test(test_report_caps_bad),
		cmocka_unit_test(test_full_status),
		cmocka_unit_test(test_full_status_unknown_proto),
		cmocka_unit_test(test_full_status_truncated),
		cmocka_unit_test(test_full_status_hostile),
		cmocka_unit_test(test_full_status_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
