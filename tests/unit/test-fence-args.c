/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fence_prlock's parameters (src/fence/fence-args.c): stdin lines, values, lists, host map. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fence-args.h"

static unsigned warnings;
static char last_warning[256];

static void warn(void *userdata, const char *msg)
{
	warnings++;
	snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

static int parse(struct fence_args *a, const char *text, char *err, size_t errlen)
{
	warnings = 0;
	last_warning[0] = '\0';
	return fence_args_parse_text(a, text, strlen(text), warn, NULL, err, errlen);
}

static void test_stdin_lines(void **state)
{
	struct fence_args a = {};
	char err[256];

	assert_int_equal(parse(&a,
			       "# stonithd's parameters\n"
			       "\n"
			       "action=reboot\r\n"
			       "  port = node1  \n"
			       "nodename=node2\n"
			       "devices=iscsi://127.0.0.1:3260/iqn.2026-11.io.sgpr:t/1,/dev/sdb\n"
			       "hosts=node1:1,node2:2\n"
			       "verbose\n"
			       "delay=5\n"
			       "--cluster=prod", /* no final newline, dashes tolerated */
			       err, sizeof(err)),
			 0);
	assert_int_equal(warnings, 0);
	assert_int_equal(a.action, FENCE_ACTION_REBOOT);
	assert_string_equal(a.plug, "node1");
	assert_string_equal(a.nodename, "node2");
	assert_string_equal(a.cluster, "prod");
	assert_true(a.verbose);
	assert_int_equal(a.delay_s, 5);
	assert_int_equal(fence_args_finish(&a, err, sizeof(err)), 0);
	assert_int_equal(a.ndevices, 2);
	assert_string_equal(a.device[0], "iscsi://127.0.0.1:3260/iqn.2026-11.io.sgpr:t/1");
	assert_string_equal(a.device[1], "/dev/sdb");
	assert_int_equal(a.nhosts, 2);
	fence_args_free(&a);
}

static void test_last_value_wins_and_aliases(void **state)
{
	struct fence_args a = {};
	char err[256];

	assert_int_equal(parse(&a, "plug=a\nport=b\noption=enable\nverbose=0\n", err, sizeof(err)),
			 0);
	assert_string_equal(a.plug, "b");
	assert_int_equal(a.action, FENCE_ACTION_ON);
	assert_false(a.verbose);
	assert_int_equal(parse(&a, "action=list_status\ndebug=/tmp/x\n", err, sizeof(err)), 0);
	assert_int_equal(a.action, FENCE_ACTION_LIST_STATUS);
	assert_string_equal(a.debug_file, "/tmp/x");
	fence_args_free(&a);
}

static void test_unknown_and_ignored(void **state)
{
	struct fence_args a = {};
	char err[256];

	assert_int_equal(parse(&a, "frobnicate=1\naction=off\n", err, sizeof(err)), 0);
	assert_int_equal(warnings, 1);
	assert_non_null(strstr(last_warning, "line 1: ignoring unknown parameter 'frobnicate'"));
	assert_int_equal(a.action, FENCE_ACTION_OFF);
	assert_int_equal(parse(&a, "power_timeout=20\nlogin-timeout=5\n", err, sizeof(err)), 0);
	assert_int_equal(warnings, 2);
	assert_non_null(strstr(last_warning, "no use in storage fencing"));
	assert_true(fence_param_known("power-timeout"));
	assert_true(fence_param_known("devices"));
	assert_true(fence_param_known("action"));
	assert_false(fence_param_known("frobnicate"));
	assert_false(fence_param_known(""));
	fence_args_free(&a);
}

static void test_bad_input(void **state)
{
	struct fence_args a = {};
	char err[256], big[FENCE_LINE_MAX + 64];

	assert_int_equal(parse(&a, "action=off\naction=explode\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2: action 'explode': unknown"));
	assert_int_equal(parse(&a, "delay=soon\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "delay 'soon'"));
	assert_int_equal(parse(&a, "delay=3601\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(parse(&a, "devices=\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "devices: needs a value"));
	assert_int_equal(parse(&a, "verbose=maybe\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(fence_args_parse_text(&a, "plug=a\0b\n", 9, warn, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(&a, big, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	/* a line of exactly FENCE_LINE_MAX bytes is fine */
	big[FENCE_LINE_MAX] = '\0';
	memcpy(big, "plug=", 5);
	assert_int_equal(parse(&a, big, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.plug), FENCE_LINE_MAX - 5);
	fence_args_free(&a);
}

static void expect_finish_error(const char *line, const char *words)
{
	struct fence_args a = {};
	char err[256];

	assert_int_equal(parse(&a, line, err, sizeof(err)), 0);
	assert_int_equal(fence_args_finish(&a, err, sizeof(err)), -EINVAL);
	if (!strstr(err, words))
		fail_msg("%s: '%s' lacks '%s'", line, err, words);
	fence_args_free(&a);
}

static void test_lists(void **state)
{
	expect_finish_error("devices=/dev/sda,,/dev/sdb", "empty item");
	expect_finish_error("devices=/dev/sda,", "empty item");
	expect_finish_error("devices=/dev/sda, /dev/sda", "listed twice");
	expect_finish_error("hosts=node1", "expected NODE:HOST-ID");
	expect_finish_error("hosts=node1:0", "host id 1..65535");
	expect_finish_error("hosts=node1:65536", "host id 1..65535");
	expect_finish_error("hosts=node1:1x", "host id 1..65535");
	expect_finish_error("hosts=:1", "bad node name");
	expect_finish_error("hosts=no de:1", "bad node name");
	expect_finish_error("hosts=a:1,b:1", "listed twice");
	expect_finish_error("hosts=a:1,a:2", "listed twice");
	expect_finish_error("hosts=a:1,,b:2", "expected NODE:HOST-ID");
}

static void test_lookup(void **state)
{
	struct fence_args a = {};
	char err[256];
	uint16_t id = 0;

	assert_int_equal(parse(&a, "hosts= alpha:7 , beta:65535,42:3\n", err, sizeof(err)), 0);
	assert_int_equal(fence_args_finish(&a, err, sizeof(err)), 0);
	assert_int_equal(fence_host_lookup(&a, "alpha", &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(fence_host_lookup(&a, "beta", &id), 0);
	assert_int_equal(id, 65535);
	/* a name of hosts= first, even when it looks like a host id */
	assert_int_equal(fence_host_lookup(&a, "42", &id), 0);
	assert_int_equal(id, 3);
	assert_int_equal(fence_host_lookup(&a, "12", &id), 0);
	assert_int_equal(id, 12);
	assert_int_equal(fence_host_lookup(&a, "gamma", &id), -ENOENT);
	assert_int_equal(fence_host_lookup(&a, "0", &id), -ENOENT);
	assert_int_equal(fence_host_lookup(&a, "65536", &id), -ENOENT);
	assert_string_equal(fence_host_name(&a, 7), "alpha");
	assert_null(fence_host_name(&a, 8));
	fence_args_free(&a);
}

static void test_action_names(void **state)
{
	for (int i = FENCE_ACTION_ON; i <= FENCE_ACTION_VALIDATE_ALL; i++)
		assert_int_equal(fence_action_from_name(fence_action_name(i)), i);
	assert_int_equal(fence_action_from_name("disable"), FENCE_ACTION_OFF);
	assert_int_equal(fence_action_from_name(""), FENCE_ACTION_NONE);
	assert_int_equal(fence_action_from_name("OFF"), FENCE_ACTION_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stdin_lines),
		cmocka_unit_test(test_last_value_wins_and_aliases),
		cmocka_unit_test(test_unknown_and_ignored),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_action_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
