/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The JSON reader prlock uses for prlockd's replies: accepted documents and strict refusals. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "json-read.h"

static void test_reply(void **state)
{
	struct jv v;
	const struct jv *leases, *procs;

	assert_int_equal(
		jv_parse("{\"version\":1,\"ok\":true,\"device\":\"iscsi://h/iqn.x:t/1\","
			 "\"key\":\"0xc8e5000100000003\",\"holder\":null,\"waited_ms\":2011,"
			 "\"leases\":[{\"state\":\"held\",\"protected\":[42,7]}],\"msg\":"
			 "\"a\\\"b\\\\"
			 "\\n\\u00e9\"}\n",
			 &v),
		0);
	assert_true(jv_bool(&v, "ok"));
	assert_false(jv_bool(&v, "version")); /* a number is not true */
	assert_string_equal(jv_str(&v, "device"), "iscsi://h/iqn.x:t/1");
	assert_string_equal(jv_str(&v, "waited_ms"), "2011");
	assert_null(jv_str(&v, "holder"));
	assert_null(jv_str(&v, "missing"));
	assert_string_equal(jv_str(&v, "msg"), "a\"b\\\n\xc3\xa9");
	leases = jv_get(&v, "leases");
	assert_non_null(leases);
	assert_int_equal(leases->t, JV_ARRAY);
	assert_int_equal(leases->n, 1);
	assert_string_equal(jv_str(&leases->items[0], "state"), "held");
	procs = jv_get(&leases->items[0], "protected");
	assert_int_equal(procs->n, 2);
	assert_string_equal(procs->items[1].s, "7");
	jv_clear(&v);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",	      "{",
		"{\"a\":1,}", "{\"a\" 1}",
		"[1,2",	      "{\"a\":tru}",
		"\"abc",      "\"a\x01\"",
		"01",	      "1.",
		"-",	      "{} x",
		"\"\\x\"",    "\"\\u12\"",
		"{1:2}",      "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", /* deeper than 16 */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jv v;

		assert_int_equal(jv_parse(bad[i], &v), -EBADMSG);
	}
}

static void test_scalars(void **state)
{
	struct jv v;

	assert_int_equal(jv_parse(" -12.5e+3 ", &v), 0);
	assert_int_equal(v.t, JV_NUMBER);
	assert_string_equal(v.s, "-12.5e+3");
	jv_clear(&v);
	assert_int_equal(jv_parse("[]", &v), 0);
	assert_int_equal(v.n, 0);
	jv_clear(&v);
	assert_null(jv_get(NULL, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_scalars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
