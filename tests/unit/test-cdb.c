/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PR OUT / PR IN CDB and parameter list encoding against golden bytes written
 * out by hand from SPC-4 6.15.1 (table 192), 6.16.1 (table 217), 6.16.3
 * (tables 219, 220), 6.16.4 (table 221) and 7.6.4 (TransportIDs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sgpr-private.h"

#define K_RES 0xa1a2a3a4a5a6a7a8ull
#define K_SA 0x1122334455667788ull

/* iSCSI format 00b, "iqn.2024-01.test:a": 18 chars + NUL -> 19, padded to 20 (= the minimum) */
/* clang-format off */
static const uint8_t tid_iscsi_a[24] = {
	0x05, 0x00, 0x00, 0x14,
	'i', 'q', 'n', '.', '2', '0', '2', '4',
	'-', '0', '1', '.', 't', 'e', 's', 't',
	':', 'a', 0x00, 0x00,
};
/* clang-format on */

/* iSCSI format 01b, "iqn.2024-01.test:b,i,0x400001020304": 35 chars + NUL = 36 */
/* clang-format off */
static const uint8_t tid_iscsi_b_isid[40] = {
	0x45, 0x00, 0x00, 0x24,
	'i', 'q', 'n', '.', '2', '0', '2', '4',
	'-', '0', '1', '.', 't', 'e', 's', 't',
	':', 'b', ',', 'i', ',', '0', 'x', '4',
	'0', '0', '0', '0', '1', '0', '2', '0',
	'3', '0', '4', 0x00,
};
/* clang-format on */

/* FC, N_Port name 21:00:00:24:ff:3b:5a:6c in bytes 8-15 */
/* clang-format off */
static const uint8_t tid_fc[24] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x21, 0x00, 0x00, 0x24, 0xff, 0x3b, 0x5a, 0x6c,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* SAS, address 0x5000c50012345678 in bytes 4-11 */
/* clang-format off */
static const uint8_t tid_sas[24] = {
	0x06, 0x00, 0x00, 0x00,
	0x50, 0x00, 0xc5, 0x00, 0x12, 0x34, 0x56, 0x78,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* Encode p into buffers prefilled with 0xee; compare CDB and list; nothing else written. */
static void check_encode(const struct sgpr_prout_params *p, const uint8_t *want_cdb,
			 const uint8_t *want_param, size_t want_len)
{
	uint8_t cdb[SGPR_PROUT_CDB_LEN];
	uint8_t param[SGPR_PROUT_PARAM_MAX + 16];

	memset(cdb, 0xee, sizeof(cdb));
	memset(param, 0xee, sizeof(param));
	assert_int_equal(sgpr_prout_encode(p, cdb, param, sizeof(param)), (int)want_len);
	assert_memory_equal(cdb, want_cdb, SGPR_PROUT_CDB_LEN);
	assert_memory_equal(param, want_param, want_len);
	for (size_t i = want_len; i < sizeof(param); i++)
		assert_int_equal(param[i], 0xee);
}

static void test_register(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x00, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	/* clang-format off */
	static const uint8_t param[24] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* RESERVATION KEY */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* SERVICE ACTION RESERVATION KEY */
		0x00, 0x00, 0x00, 0x00,                         /* obsolete */
		0x00, 0x00, 0x00, 0x00,                         /* flags, reserved, obsolete */
	};
	/* clang-format on */
	/* type is ignored by REGISTER (SPC-4 6.16.2): byte 2 stays 0 */
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_REGISTER, .sa_key = K_SA, .type = 5};

	check_encode(&p, cdb, param, sizeof(param));
}

static void test_register_change_key_aptpl_all_tg_pt(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x00, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	/* clang-format off */
	static const uint8_t param[24] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0x00, 0x00, 0x00, 0x00,
		0x05, 0x00, 0x00, 0x00, /* ALL_TG_PT (bit 2) | APTPL (bit 0) */
	};
	/* clang-format on */
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_REGISTER,
		.key = K_RES,
		.sa_key = K_SA,
		.all_tg_pt = true,
		.aptpl = true,
	};

	check_encode(&p, cdb, param, sizeof(param));

	/* unregister: SA key 0 */
	/* clang-format off */
	static const uint8_t param_unreg[24] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
	};
	/* clang-format on */
	struct sgpr_prout_params u = {.sa = SGPR_PROUT_REGISTER, .key = K_RES};

	check_encode(&u, cdb, param_unreg, sizeof(param_unreg));
}

static void test_register_spec_i_pt(void **state)
{
	/* 24 + 4 + 24 + 40 = 92 = 0x5c */
	static const uint8_t cdb[10] = {0x5f, 0x00, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x5c, 0x00};
	/* clang-format off */
	static const uint8_t param[92] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0x00, 0x00, 0x00, 0x00,
		0x08, 0x00, 0x00, 0x00, /* SPEC_I_PT (bit 3) */
		0x00, 0x00, 0x00, 0x40, /* TRANSPORTID PARAMETER DATA LENGTH = 64 */
		/* TransportID 1: iSCSI 00b */
		0x05, 0x00, 0x00, 0x14,
		'i', 'q', 'n', '.', '2', '0', '2', '4',
		'-', '0', '1', '.', 't', 'e', 's', 't',
		':', 'a', 0x00, 0x00,
		/* TransportID 2: iSCSI 01b */
		0x45, 0x00, 0x00, 0x24,
		'i', 'q', 'n', '.', '2', '0', '2', '4',
		'-', '0', '1', '.', 't', 'e', 's', 't',
		':', 'b', ',', 'i', ',', '0', 'x', '4',
		'0', '0', '0', '0', '1', '0', '2', '0',
		'3', '0', '4', 0x00,
	};
	/* clang-format on */
	uint8_t tids[64];
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_REGISTER,
		.sa_key = K_SA,
		.spec_i_pt = true,
		.tids = tids,
		.tids_len = sizeof(tids),
	};

	memcpy(tids, tid_iscsi_a, sizeof(tid_iscsi_a));
	memcpy(tids + sizeof(tid_iscsi_a), tid_iscsi_b_isid, sizeof(tid_iscsi_b_isid));
	check_encode(&p, cdb, param, sizeof(param));
}

static void test_register_and_ignore(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x06, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	/* clang-format off */
	static const uint8_t param[24] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0x00, 0x00, 0x00, 0x00,
		0x04, 0x00, 0x00, 0x00, /* ALL_TG_PT */
	};
	/* clang-format on */
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_REGISTER_AND_IGNORE,
		.sa_key = K_SA,
		.all_tg_pt = true,
	};

	check_encode(&p, cdb, param, sizeof(param));
}

/* clang-format off */
static const uint8_t param_res_only[24] = {
	0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
};
/* clang-format on */

static void test_reserve(void **state)
{
	/* byte 2: SCOPE 0 (LU) << 4 | TYPE 5 (WERO) */
	static const uint8_t cdb[10] = {0x5f, 0x01, 0x05, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_RESERVE, .key = K_RES, .type = 5};

	check_encode(&p, cdb, param_res_only, sizeof(param_res_only));
}

static void test_release(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x02, 0x03, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_RELEASE, .key = K_RES, .type = 3};

	check_encode(&p, cdb, param_res_only, sizeof(param_res_only));
}

static void test_clear(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x03, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_CLEAR, .key = K_RES, .type = 1};

	check_encode(&p, cdb, param_res_only, sizeof(param_res_only));
}

static void test_preempt(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x04, 0x01, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	/* clang-format off */
	static const uint8_t param[24] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	};
	/* clang-format on */
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_PREEMPT,
		.key = K_RES,
		.sa_key = K_SA,
		.type = 1,
	};

	check_encode(&p, cdb, param, sizeof(param));
}

static void test_preempt_and_abort(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x05, 0x08, 0, 0, 0x00, 0x00, 0x00, 0x18, 0x00};
	/* SA key 0: allowed, it is how all-registrants reservations are preempted (5.12.11.4.4) */
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_PREEMPT_AND_ABORT, .key = K_RES, .type = 8};

	check_encode(&p, cdb, param_res_only, sizeof(param_res_only));
}

static void test_register_and_move_iscsi(void **state)
{
	/* 24 + 40 = 64 */
	static const uint8_t cdb[10] = {0x5f, 0x07, 0x01, 0, 0, 0x00, 0x00, 0x00, 0x40, 0x00};
	/* clang-format off */
	static const uint8_t param[64] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0x00,                   /* reserved */
		0x02,                   /* UNREG (bit 1) */
		0x00, 0x02,             /* RELATIVE TARGET PORT IDENTIFIER */
		0x00, 0x00, 0x00, 0x28, /* TRANSPORTID PARAMETER DATA LENGTH = 40 */
		0x45, 0x00, 0x00, 0x24,
		'i', 'q', 'n', '.', '2', '0', '2', '4',
		'-', '0', '1', '.', 't', 'e', 's', 't',
		':', 'b', ',', 'i', ',', '0', 'x', '4',
		'0', '0', '0', '0', '1', '0', '2', '0',
		'3', '0', '4', 0x00,
	};
	/* clang-format on */
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_REGISTER_AND_MOVE,
		.key = K_RES,
		.sa_key = K_SA,
		.type = 1,
		.unreg = true,
		.rel_tgt_port = 2,
		.tids = tid_iscsi_b_isid,
		.tids_len = sizeof(tid_iscsi_b_isid),
	};

	check_encode(&p, cdb, param, sizeof(param));
}

static void test_register_and_move_fc(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x07, 0x05, 0, 0, 0x00, 0x00, 0x00, 0x30, 0x00};
	/* clang-format off */
	static const uint8_t param[48] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0x00, 0x01,             /* APTPL (bit 0) */
		0x01, 0x02,             /* RELATIVE TARGET PORT IDENTIFIER 0x0102 */
		0x00, 0x00, 0x00, 0x18, /* 24 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x21, 0x00, 0x00, 0x24, 0xff, 0x3b, 0x5a, 0x6c,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_REGISTER_AND_MOVE,
		.key = K_RES,
		.sa_key = K_SA,
		.type = 5,
		.aptpl = true,
		.rel_tgt_port = 0x0102,
		.tids = tid_fc,
		.tids_len = sizeof(tid_fc),
	};

	check_encode(&p, cdb, param, sizeof(param));
}

static void test_register_and_move_sas(void **state)
{
	static const uint8_t cdb[10] = {0x5f, 0x07, 0x06, 0, 0, 0x00, 0x00, 0x00, 0x30, 0x00};
	/* clang-format off */
	static const uint8_t param[48] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0x00, 0x03,             /* UNREG | APTPL */
		0xff, 0xff,
		0x00, 0x00, 0x00, 0x18,
		0x06, 0x00, 0x00, 0x00,
		0x50, 0x00, 0xc5, 0x00, 0x12, 0x34, 0x56, 0x78,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_REGISTER_AND_MOVE,
		.key = K_RES,
		.sa_key = K_SA,
		.type = 6,
		.unreg = true,
		.aptpl = true,
		.rel_tgt_port = 0xffff,
		.tids = tid_sas,
		.tids_len = sizeof(tid_sas),
	};

	check_encode(&p, cdb, param, sizeof(param));
}

static int enc(const struct sgpr_prout_params *p)
{
	uint8_t cdb[SGPR_PROUT_CDB_LEN];
	static uint8_t param[SGPR_PROUT_PARAM_MAX];

	return sgpr_prout_encode(p, cdb, param, sizeof(param));
}

static void test_reject_inconsistent(void **state)
{
	struct sgpr_prout_params p;

#define REJECT(...)                                                                                \
	do {                                                                                       \
		p = (struct sgpr_prout_params){__VA_ARGS__};                                       \
		assert_int_equal(enc(&p), -EINVAL);                                                \
	} while (0)

	REJECT(.sa = _SGPR_PROUT_SA_MAX, .key = K_RES);
	/* a field of a newer header (the reserved space) this library does not know */
	REJECT(.sa = SGPR_PROUT_REGISTER, .sa_key = K_RES, .reserved = {0, 0, 0, 1});
	REJECT(.sa = 0x1f, .key = K_RES);
	/* invalid or missing type */
	REJECT(.sa = SGPR_PROUT_RESERVE, .key = K_RES, .type = 0);
	REJECT(.sa = SGPR_PROUT_RESERVE, .key = K_RES, .type = 2);
	REJECT(.sa = SGPR_PROUT_RESERVE, .key = K_RES, .type = 4);
	REJECT(.sa = SGPR_PROUT_RELEASE, .key = K_RES, .type = 9);
	REJECT(.sa = SGPR_PROUT_PREEMPT, .key = K_RES, .type = 0x13);
	/* key 0 where SPC-4 requires the caller's registered key */
	REJECT(.sa = SGPR_PROUT_RESERVE, .type = 1);
	REJECT(.sa = SGPR_PROUT_RELEASE, .type = 1);
	REJECT(.sa = SGPR_PROUT_CLEAR);
	REJECT(.sa = SGPR_PROUT_PREEMPT, .sa_key = K_SA, .type = 1);
	REJECT(.sa = SGPR_PROUT_PREEMPT_AND_ABORT, .sa_key = K_SA, .type = 1);
	REJECT(.sa = SGPR_PROUT_REGISTER_AND_MOVE, .sa_key = K_SA, .type = 1, .tids = tid_fc,
	       .tids_len = 24);
	/* REGISTER AND MOVE: SA key 0, no TransportID */
	REJECT(.sa = SGPR_PROUT_REGISTER_AND_MOVE, .key = K_RES, .type = 1, .tids = tid_fc,
	       .tids_len = 24);
	REJECT(.sa = SGPR_PROUT_REGISTER_AND_MOVE, .key = K_RES, .sa_key = K_SA, .type = 1);
	/* SPEC_I_PT only for REGISTER, and only with TransportIDs */
	REJECT(.sa = SGPR_PROUT_REGISTER_AND_IGNORE, .sa_key = K_SA, .spec_i_pt = true,
	       .tids = tid_fc, .tids_len = 24);
	REJECT(.sa = SGPR_PROUT_RESERVE, .key = K_RES, .type = 1, .spec_i_pt = true, .tids = tid_fc,
	       .tids_len = 24);
	REJECT(.sa = SGPR_PROUT_REGISTER, .sa_key = K_SA, .spec_i_pt = true);
	REJECT(.sa = SGPR_PROUT_REGISTER, .sa_key = K_SA, .tids = tid_fc, .tids_len = 24);
	/* TransportID list length not a multiple of 4, or no buffer */
	REJECT(.sa = SGPR_PROUT_REGISTER, .sa_key = K_SA, .spec_i_pt = true, .tids = tid_fc,
	       .tids_len = 22);
	REJECT(.sa = SGPR_PROUT_REGISTER_AND_MOVE, .key = K_RES, .sa_key = K_SA, .type = 1,
	       .tids = tid_fc, .tids_len = 23);
	REJECT(.sa = SGPR_PROUT_REGISTER, .sa_key = K_SA, .spec_i_pt = true, .tids_len = 24);
	/* flags of other service actions */
	REJECT(.sa = SGPR_PROUT_RESERVE, .key = K_RES, .type = 1, .all_tg_pt = true);
	REJECT(.sa = SGPR_PROUT_REGISTER_AND_MOVE, .key = K_RES, .sa_key = K_SA, .type = 1,
	       .all_tg_pt = true, .tids = tid_fc, .tids_len = 24);
	REJECT(.sa = SGPR_PROUT_CLEAR, .key = K_RES, .aptpl = true);
	REJECT(.sa = SGPR_PROUT_REGISTER, .sa_key = K_SA, .unreg = true);
	REJECT(.sa = SGPR_PROUT_PREEMPT, .key = K_RES, .sa_key = K_SA, .type = 1,
	       .rel_tgt_port = 1);
#undef REJECT

	assert_int_equal(sgpr_prout_encode(NULL, (uint8_t[10]){0}, (uint8_t[24]){0}, 24), -EINVAL);
}

static void test_buffers_and_max(void **state)
{
	static uint8_t big[SGPR_PROUT_PARAM_MAX];
	static uint8_t param[SGPR_PROUT_PARAM_MAX];
	uint8_t cdb[SGPR_PROUT_CDB_LEN];
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_RESERVE, .key = K_RES, .type = 1};
	struct sgpr_prout_params s = {
		.sa = SGPR_PROUT_REGISTER,
		.sa_key = K_SA,
		.spec_i_pt = true,
		.tids = tid_iscsi_b_isid,
		.tids_len = sizeof(tid_iscsi_b_isid),
	};
	struct sgpr_prout_params m = {
		.sa = SGPR_PROUT_REGISTER_AND_MOVE,
		.key = K_RES,
		.sa_key = K_SA,
		.type = 1,
		.tids = big,
	};

	assert_int_equal(sgpr_prout_encode(&p, cdb, param, 23), -ENOBUFS);
	assert_int_equal(sgpr_prout_encode(&p, cdb, NULL, 0), -ENOBUFS);
	assert_int_equal(sgpr_prout_encode(&p, cdb, param, 24), 24);
	assert_int_equal(sgpr_prout_encode(&s, cdb, param, 24 + 4 + 40 - 1), -ENOBUFS);
	assert_int_equal(sgpr_prout_encode(&s, cdb, param, 24 + 4 + 40), 68);

	/* SPEC_I_PT list: 24 + 4 + 8164 = 8192 is the maximum */
	s.tids = big;
	s.tids_len = SGPR_PROUT_PARAM_MAX - 28;
	assert_int_equal(sgpr_prout_encode(&s, cdb, param, sizeof(param)), SGPR_PROUT_PARAM_MAX);
	/* CDB bytes 5-8: PARAMETER LIST LENGTH 0x2000 */
	assert_int_equal(cdb[5], 0x00);
	assert_int_equal(cdb[6], 0x00);
	assert_int_equal(cdb[7], 0x20);
	assert_int_equal(cdb[8], 0x00);
	s.tids_len += 4;
	assert_int_equal(sgpr_prout_encode(&s, cdb, param, sizeof(param)), -EINVAL);
	s.tids_len = SIZE_MAX - 3; /* multiple of 4, would overflow 24 + 4 + n */
	assert_int_equal(sgpr_prout_encode(&s, cdb, param, sizeof(param)), -EINVAL);

	m.tids_len = SGPR_PROUT_PARAM_MAX - 24;
	assert_int_equal(sgpr_prout_encode(&m, cdb, param, sizeof(param)), SGPR_PROUT_PARAM_MAX);
	m.tids_len += 4;
	assert_int_equal(sgpr_prout_encode(&m, cdb, param, sizeof(param)), -EINVAL);
}

static void test_prin_cdb(void **state)
{
	static const uint8_t keys[10] = {0x5e, 0x00, 0, 0, 0, 0, 0, 0x12, 0x34, 0x00};
	static const uint8_t resv[10] = {0x5e, 0x01, 0, 0, 0, 0, 0, 0x00, 0x18, 0x00};
	static const uint8_t caps[10] = {0x5e, 0x02, 0, 0, 0, 0, 0, 0x00, 0x08, 0x00};
	static const uint8_t full[10] = {0x5e, 0x03, 0, 0, 0, 0, 0, 0xff, 0xff, 0x00};
	uint8_t cdb[SGPR_PRIN_CDB_LEN];

	memset(cdb, 0xee, sizeof(cdb));
	sgpr_prin_encode(SGPR_PRIN_READ_KEYS, 0x1234, cdb);
	assert_memory_equal(cdb, keys, sizeof(cdb));
	memset(cdb, 0xee, sizeof(cdb));
	sgpr_prin_encode(SGPR_PRIN_READ_RESERVATION, 24, cdb);
	assert_memory_equal(cdb, resv, sizeof(cdb));
	memset(cdb, 0xee, sizeof(cdb));
	sgpr_prin_encode(SGPR_PRIN_REPORT_CAPABILITIES, 8, cdb);
	assert_memory_equal(cdb, caps, sizeof(cdb));
	memset(cdb, 0xee, sizeof(cdb));
	sgpr_prin_encode(SGPR_PRIN_READ_FULL_STATUS, 0xffff, cdb);
	assert_memory_equal(cdb, full, sizeof(cdb));
}

/* The TransportIDs used above, as sgpr_tid_encode() produces them. */
static void test_tids_match_encoder(void **state)
{
	struct sgpr_transport_id a = {.proto = SGPR_PROTO_ISCSI,
				      .iscsi_name = "iqn.2024-01.test:a"};
	struct sgpr_transport_id b = {
		.proto = SGPR_PROTO_ISCSI,
		.iscsi_name = "iqn.2024-01.test:b",
		.has_isid = true,
		.isid = {0x40, 0x00, 0x01, 0x02, 0x03, 0x04},
	};
	struct sgpr_transport_id fc = {.proto = SGPR_PROTO_FC, .port_name = 0x21000024ff3b5a6cull};
	struct sgpr_transport_id sas = {.proto = SGPR_PROTO_SAS,
					.port_name = 0x5000c50012345678ull};
	uint8_t buf[64];

	assert_int_equal(sgpr_tid_encode(&a, buf, sizeof(buf)), 24);
	assert_memory_equal(buf, tid_iscsi_a, 24);
	assert_int_equal(sgpr_tid_encode(&b, buf, sizeof(buf)), 40);
	assert_memory_equal(buf, tid_iscsi_b_isid, 40);
	assert_int_equal(sgpr_tid_encode(&fc, buf, sizeof(buf)), 24);
	assert_memory_equal(buf, tid_fc, 24);
	assert_int_equal(sgpr_tid_encode(&sas, buf, sizeof(buf)), 24);
	assert_memory_equal(buf, tid_sas, 24);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_register_change_key_aptpl_all_tg_pt),
		cmocka_unit_test(test_register_spec_i_pt),
		cmocka_unit_test(test_register_and_ignore),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_preempt),
		cmocka_unit_test(test_preempt_and_abort),
		cmocka_unit_test(test_register_and_move_iscsi),
		cmocka_unit_test(test_register_and_move_fc),
		cmocka_unit_test(test_register_and_move_sas),
		cmocka_unit_test(test_reject_inconsistent),
		cmocka_unit_test(test_buffers_and_max),
		cmocka_unit_test(test_prin_cdb),
		cmocka_unit_test(test_tids_match_encoder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
