/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Key layout, cluster namespace hash, key parsing and formatting; type and service action names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sgpr-private.h"

static void test_make_split(void **state)
{
	static const struct sgpr_key_parts cases[] = {
		{0x1cd9, 7, 0x10},
		{0, 0, 0},
		{0xffff, 0xffff, 0xffffffff},
		{0x8000, 0x0001, 0x80000000},
		{0x0001, 0x8000, 1},
	};

	assert_true(sgpr_key_make(0x1cd9, 7, 0x10) == 0x1cd9000700000010ull);
	assert_true(sgpr_key_make(0xffff, 0xffff, 0xffffffff) == UINT64_MAX);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t k = sgpr_key_make(cases[i].ns, cases[i].host_id, cases[i].epoch);
		struct sgpr_key_parts p = sgpr_key_split(k);

		assert_int_equal(p.ns, cases[i].ns);
		assert_int_equal(p.host_id, cases[i].host_id);
		assert_int_equal(p.epoch, cases[i].epoch);
	}
	struct sgpr_key_parts p = sgpr_key_split(0x0123456789abcdefull);
	assert_int_equal(p.ns, 0x0123);
	assert_int_equal(p.host_id, 0x4567);
	assert_int_equal(p.epoch, 0x89abcdef);
}

static void test_ns_from_cluster(void **state)
{
	/* FNV-1a 32 folded: fixed forever, these are on-storage values */
	assert_int_equal(sgpr_ns_from_cluster(""), 0x1cd9);	  /* 0x811c9dc5 */
	assert_int_equal(sgpr_ns_from_cluster("a"), 0xcd20);	  /* 0xe40c292c */
	assert_int_equal(sgpr_ns_from_cluster("foobar"), 0x46f4); /* 0xbf9cf968 */
	assert_int_equal(sgpr_ns_from_cluster("prod"), 0xdc4a);
	assert_int_equal(sgpr_ns_from_cluster(NULL), 0x1cd9);
	/* "c19097" folds to 0, which is never a namespace */
	assert_int_equal(sgpr_ns_from_cluster("c19097"), 1);
	assert_int_not_equal(sgpr_ns_from_cluster("prod"), sgpr_ns_from_cluster("Prod"));
}

static void test_key_in_ns(void **state)
{
	uint16_t ns = sgpr_ns_from_cluster("prod");

	assert_true(sgpr_key_in_ns(sgpr_key_make(ns, 1, 0), ns));
	assert_true(sgpr_key_in_ns(sgpr_key_make(ns, 0xffff, 0xffffffff), ns));
	assert_false(sgpr_key_in_ns(sgpr_key_make(ns, 0, 5), ns)); /* no host id */
	assert_false(sgpr_key_in_ns(sgpr_key_make(ns + 1, 1, 5), ns));
	assert_false(sgpr_key_in_ns(0xa, 0)); /* foreign, ns 0 */
	assert_false(sgpr_key_in_ns(sgpr_key_make(0, 1, 1), 0));
	assert_false(sgpr_key_in_ns(0, ns));
}

static void parse_ok(const char *s, uint64_t want)
{
	uint64_t v = 0;

	assert_int_equal(sgpr_key_parse(s, &v), 0);
	assert_true(v == want);
}

static void parse_bad(const char *s, int err)
{
	uint64_t v = 0x5555;

	assert_int_equal(sgpr_key_parse(s, &v), err);
	assert_true(v == 0x5555);
}

static void test_parse(void **state)
{
	parse_ok("0x1", 1);
	parse_ok("0X1A2b", 0x1a2b);
	parse_ok("0xabcdef0123456789", 0xabcdef0123456789ull);
	parse_ok("0xffffffffffffffff", UINT64_MAX);
	parse_ok("0x0000000000000000001", 1);
	parse_ok("1", 1);
	parse_ok("12345", 12345);
	parse_ok("0010", 10); /* decimal, not octal */
	parse_ok("18446744073709551615", UINT64_MAX);

	parse_bad(NULL, -EINVAL);
	parse_bad("", -EINVAL);
	parse_bad("0x", -EINVAL);
	parse_bad("0X", -EINVAL);
	parse_bad("x1", -EINVAL);
	parse_bad("0", -EINVAL);
	parse_bad("0x0", -EINVAL);
	parse_bad("00000", -EINVAL);
	parse_bad("-1", -EINVAL);
	parse_bad("+1", -EINVAL);
	parse_bad("0x-1", -EINVAL);
	parse_bad(" 1", -EINVAL);
	parse_bad("1 ", -EINVAL);
	parse_bad("1\n", -EINVAL);
	parse_bad("0x1g", -EINVAL);
	parse_bad("12a", -EINVAL);
	parse_bad("1e3", -EINVAL);
	parse_bad("0x1.0", -EINVAL);
	parse_bad("0b101", -EINVAL);
	parse_bad("18446744073709551616", -ERANGE);
	parse_bad("99999999999999999999999", -ERANGE);
	parse_bad("0x10000000000000000", -ERANGE);
	parse_bad("0x1ffffffffffffffffz", -EINVAL); /* junk wins over overflow */
	assert_int_equal(sgpr_key_parse("1", NULL), -EINVAL);
}

static void test_format(void **state)
{
	char buf[SGPR_KEY_STRLEN];

	assert_ptr_equal(sgpr_key_format(1, buf), buf);
	assert_string_equal(buf, "0x0000000000000001");
	assert_string_equal(sgpr_key_format(UINT64_MAX, buf), "0xffffffffffffffff");
	assert_string_equal(sgpr_key_format(0x1cd9000700000010ull, buf), "0x1cd9000700000010");
	assert_int_equal(strlen(buf), SGPR_KEY_STRLEN - 1);

	/* round trip */
	for (uint64_t k = 1; k && k < UINT64_MAX / 3; k = k * 3 + 1) {
		uint64_t v;

		assert_int_equal(sgpr_key_parse(sgpr_key_format(k, buf), &v), 0);
		assert_true(v == k);
	}
}

static void test_type_names(void **state)
{
	static const struct {
		int type;
		const char *name, *short_name, *num;
	} t[] = {
		{1, "write-exclusive", "we", "1"},
		{3, "exclusive-access", "ea", "3"},
		{5, "write-exclusive-reg-only", "wero", "5"},
		{6, "exclusive-access-reg-only", "earo", "6"},
		{7, "write-exclusive-all-regs", "wear", "7"},
		{8, "exclusive-access-all-regs", "eaar", "8"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_string_equal(sgpr_type_to_name(t[i].type), t[i].name);
		assert_int_equal(sgpr_type_from_name(t[i].name), t[i].type);
		assert_int_equal(sgpr_type_from_name(t[i].short_name), t[i].type);
		assert_int_equal(sgpr_type_from_name(t[i].num), t[i].type);
	}
	assert_int_equal(sgpr_type_from_name("WERO"), SGPR_TYPE_WERO);
	assert_int_equal(sgpr_type_from_name("Write-Exclusive"), SGPR_TYPE_WE);
	assert_null(sgpr_type_to_name(0));
	assert_null(sgpr_type_to_name(2));
	assert_null(sgpr_type_to_name(4));
	assert_null(sgpr_type_to_name(9));
	assert_null(sgpr_type_to_name(-1));
	static const char *const bad[] = {
		"",
		"0",
		"2",
		"4",
		"9",
		"10",
		"01",
		" 1",
		"1 ",
		"w",
		"write",
		"we ",
		"write-exclusive-",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sgpr_type_from_name(bad[i]), -EINVAL);
	assert_int_equal(sgpr_type_from_name(NULL), -EINVAL);

	for (int ty = -1; ty < 10; ty++) {
		assert_int_equal(sgpr_type_is_all_registrants(ty), ty == 7 || ty == 8);
		assert_int_equal(sgpr_type_is_registrants_only(ty), ty == 5 || ty == 6);
	}
}

static void test_sa_names(void **state)
{
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_REGISTER), "REGISTER");
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_RESERVE), "RESERVE");
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_RELEASE), "RELEASE");
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_CLEAR), "CLEAR");
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_PREEMPT), "PREEMPT");
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_PREEMPT_AND_ABORT),
			    "PREEMPT AND ABORT");
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_REGISTER_AND_IGNORE),
			    "REGISTER AND IGNORE EXISTING KEY");
	assert_string_equal(sgpr_prout_sa_to_name(SGPR_PROUT_REGISTER_AND_MOVE),
			    "REGISTER AND MOVE");
	assert_null(sgpr_prout_sa_to_name(_SGPR_PROUT_SA_MAX));
	assert_null(sgpr_prout_sa_to_name(-1));
	assert_string_equal(sgpr_prin_sa_to_name(SGPR_PRIN_READ_KEYS), "READ KEYS");
	assert_string_equal(sgpr_prin_sa_to_name(SGPR_PRIN_READ_RESERVATION), "READ RESERVATION");
	assert_string_equal(sgpr_prin_sa_to_name(SGPR_PRIN_REPORT_CAPABILITIES),
			    "REPORT CAPABILITIES");
	assert_string_equal(sgpr_prin_sa_to_name(SGPR_PRIN_READ_FULL_STATUS), "READ FULL STATUS");
	assert_null(sgpr_prin_sa_to_name(_SGPR_PRIN_SA_MAX));
	assert_null(sgpr_prin_sa_to_name(-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_split), cmocka_unit_test(test_ns_from_cluster),
		cmocka_unit_test(test_key_in_ns),  cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format),	   cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_sa_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
