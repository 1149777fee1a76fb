/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iscsi:// URL parsing (iscsi-url.c): accepted forms field by field, rejected forms, lengths;
 * the errno of a refused login's status. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sgpr-private.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* A struct filled with a pattern: a failed parse must leave every byte of it as it was. */
static void poison(struct sgpr_iscsi_url *u)
{
	memset(u, 0xa5, sizeof(*u));
}

static void assert_untouched(const struct sgpr_iscsi_url *u)
{
	struct sgpr_iscsi_url ref;

	poison(&ref);
	assert_memory_equal(u, &ref, sizeof(ref));
}

static void assert_rejected(const char *url)
{
	struct sgpr_iscsi_url u;
	int r;

	poison(&u);
	r = sgpr_iscsi_url_parse(url, &u);
	if (r != -EINVAL)
		fail_msg("\"%s\": %d, expected -EINVAL", url, r);
	assert_untouched(&u);
}

struct good {
	const char *url;
	const char *host;
	bool v6;
	uint16_t port;
	const char *iqn;
	int lun;
};

static void check_good(const struct good *g)
{
	struct sgpr_iscsi_url u;
	int r;

	poison(&u);
	r = sgpr_iscsi_url_parse(g->url, &u);
	if (r != 0)
		fail_msg("\"%s\": %d, expected 0", g->url, r);
	assert_string_equal(u.host, g->host);
	assert_int_equal(u.host_is_v6, g->v6);
	assert_int_equal(u.port, g->port);
	assert_string_equal(u.target_iqn, g->iqn);
	assert_int_equal(u.lun, g->lun);
	sgpr_iscsi_url_done(&u);
	assert_null(u.host);
	assert_null(u.target_iqn);
}

#define IQN "iqn.2026-11.io.sgpr:target"

static void test_accepted(void **state)
{
	static const struct good cases[] = {
		/* IPv4, default port */
		{"iscsi://127.0.0.1/" IQN "/1", "127.0.0.1", false, 3260, IQN, 1},
		/* IPv4, explicit port, LUN 0 */
		{"iscsi://192.168.10.20:3301/" IQN "/0", "192.168.10.20", false, 3301, IQN, 0},
		/* host names */
		{"iscsi://localhost/" IQN "/2", "localhost", false, 3260, IQN, 2},
		{"iscsi://storage-01.example.com:3261/" IQN "/16383", "storage-01.example.com",
		 false, 3261, IQN, 16383},
		{"iscsi://SAN_B.Example.COM./" IQN "/5", "SAN_B.Example.COM.", false, 3260, IQN, 5},
		/* bracketed IPv6, brackets stripped */
		{"iscsi://[::1]/" IQN "/3", "::1", true, 3260, IQN, 3},
		{"iscsi://[fd00:1:2::a]:3262/" IQN "/16383", "fd00:1:2::a", true, 3262, IQN, 16383},
		{"iscsi://[::ffff:10.0.0.1]:1/" IQN "/0", "::ffff:10.0.0.1", true, 1, IQN, 0},
		/* port limits */
		{"iscsi://h:1/" IQN "/1", "h", false, 1, IQN, 1},
		{"iscsi://h:65535/" IQN "/1", "h", false, 65535, IQN, 1},
		{"iscsi://h:03260/" IQN "/1", "h", false, 3260, IQN, 1},
		/* LUN with leading zeros is still decimal */
		{"iscsi://h/" IQN "/0010", "h", false, 3260, IQN, 10},
		/* %3A escapes, either case of hex digit */
		{"iscsi://h/iqn.2026-11.io.sgpr%3Atarget/1", "h", false, 3260, IQN, 1},
		{"iscsi://h/iqn.2026-11.io.sgpr%3atarget/1", "h", false, 3260, IQN, 1},
		{"iscsi://h/%69qn.x%3A%3a/1", "h", false, 3260, "iqn.x::", 1},
		/* scheme is case-insensitive */
		{"ISCSI://127.0.0.1/" IQN "/1", "127.0.0.1", false, 3260, IQN, 1},
		{"IsCsI://[::1]:3300/" IQN "/4", "::1", true, 3300, IQN, 4},
		/* other RFC 3720 name forms */
		{"iscsi://h/eui.02004567A425678D/0", "h", false, 3260, "eui.02004567A425678D", 0},
		{"iscsi://h/naa.52004567BA64678D/0", "h", false, 3260, "naa.52004567BA64678D", 0},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		check_good(&cases[i]);
}

static void test_rejected_structure(void **state)
{
	static const char *const cases[] = {
		/* scheme */
		"",
		"iscsi:",
		"iscsi:/",
		"iscsi://",
		"iscsi:/h/" IQN "/1",
		"iscsi:h/" IQN "/1",
		"iscs://h/" IQN "/1",
		"http://h/" IQN "/1",
		" iscsi://h/" IQN "/1",
		"iscsi ://h/" IQN "/1",
		/* missing parts */
		"iscsi://h",
		"iscsi://h/",
		"iscsi://h/" IQN,
		"iscsi://h/" IQN "/",
		"iscsi://h//1",
		"iscsi://h/1",
		"iscsi:///" IQN "/1",
		"iscsi://:3260/" IQN "/1",
		"iscsi://[]/" IQN "/1",
		"iscsi://[]:3260/" IQN "/1",
		/* trailing slash, extra path */
		"iscsi://h/" IQN "/1/",
		"iscsi://h/" IQN "/1/2",
		"iscsi://h/a/" IQN "/1",
		/* userinfo */
		"iscsi://user@h/" IQN "/1",
		"iscsi://user:secret@h/" IQN "/1",
		"iscsi://@h/" IQN "/1",
		"iscsi://h@/" IQN "/1",
		"iscsi://[::1]@h/" IQN "/1",
		"iscsi://h/iqn.x@y/1",
		/* query, fragment */
		"iscsi://h/" IQN "/1?x=1",
		"iscsi://h/" IQN "/1#frag",
		"iscsi://h/" IQN "?/1",
		"iscsi://h/" IQN "#/1",
		"iscsi://h?/" IQN "/1",
		"iscsi://h#/" IQN "/1",
		"iscsi://h/" IQN "%3F/1",
		"iscsi://h/" IQN "%23/1",
		"iscsi://h/" IQN "%40/1",
		"iscsi://h/" IQN "%2F/1",
		"iscsi://h/" IQN "%2f/1",
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_rejected(cases[i]);
}

static void test_rejected_lun(void **state)
{
	static const char *const cases[] = {
		"iscsi://h/" IQN "/x",
		"iscsi://h/" IQN "/1x",
		"iscsi://h/" IQN "/0x1",
		"iscsi://h/" IQN "/-1",
		"iscsi://h/" IQN "/+1",
		"iscsi://h/" IQN "/-0",
		"iscsi://h/" IQN "/16384",
		"iscsi://h/" IQN "/65535",
		"iscsi://h/" IQN "/4294967295",
		"iscsi://h/" IQN "/4294967296",
		"iscsi://h/" IQN "/99999999999",
		"iscsi://h/" IQN "/00000000001", /* 11 digits, even if small */
		"iscsi://h/" IQN "/ 1",
		"iscsi://h/" IQN "/1 ",
		"iscsi://h/" IQN "/1.0",
		"iscsi://h/" IQN "/1e3",
		"iscsi://h/" IQN "/%31",
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_rejected(cases[i]);
}

static void test_rejected_portal(void **state)
{
	static const char *const cases[] = {
		/* port */
		"iscsi://h:0/" IQN "/1",
		"iscsi://h:00000/" IQN "/1",
		"iscsi://h:65536/" IQN "/1",
		"iscsi://h:99999999999/" IQN "/1",
		"iscsi://h:/" IQN "/1",
		"iscsi://h:abc/" IQN "/1",
		"iscsi://h:32a/" IQN "/1",
		"iscsi://h:-1/" IQN "/1",
		"iscsi://h:+3260/" IQN "/1",
		"iscsi://h: 3260/" IQN "/1",
		"iscsi://h:3260 /" IQN "/1",
		"iscsi://h:3260:1/" IQN "/1",
		"iscsi://[::1]:/" IQN "/1",
		"iscsi://[::1]:0/" IQN "/1",
		"iscsi://[::1]:65536/" IQN "/1",
		/* host names */
		"iscsi://-h/" IQN "/1",
		"iscsi://.h/" IQN "/1",
		"iscsi://h h/" IQN "/1",
		"iscsi://h%41/" IQN "/1",
		"iscsi://h!/" IQN "/1",
		"iscsi://h*/" IQN "/1",
		"iscsi://h\\x/" IQN "/1",
		/* IPv6 */
		"iscsi://::1/" IQN "/1",
		"iscsi://[::1/" IQN "/1",
		"iscsi://::1]/" IQN "/1",
		"iscsi://[::g]/" IQN "/1",
		"iscsi://[1:2:3:4:5:6:7:8:9]/" IQN "/1",
		"iscsi://[1.2.3.4]/" IQN "/1",
		"iscsi://[h]/" IQN "/1",
		"iscsi://[::1]]/" IQN "/1",
		"iscsi://[::1]x/" IQN "/1",
		"iscsi://[::1]:3260x/" IQN "/1",
		"iscsi://[[::1]]/" IQN "/1",
		"iscsi://[ ::1]/" IQN "/1",
		"iscsi://[fe80::1%eth0]/" IQN "/1",
		"iscsi://[fe80::1%25eth0]/" IQN "/1",
		"iscsi://[::1/64]/" IQN "/1",
		"iscsi://[0000:0000:0000:0000:0000:0000:0000:0000:0001]/" IQN "/1",
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_rejected(cases[i]);
}

static void test_rejected_chars(void **state)
{
	static const char *const cases[] = {
		/* spaces */
		"iscsi://h/iqn.x y/1",
		"iscsi://h/ iqn.x/1",
		"iscsi://h/iqn.x /1",
		"iscsi://h/iqn.x%20y/1",
		/* bad % escapes */
		"iscsi://h/iqn.x%/1",
		"iscsi://h/iqn.x%3/1",
		"iscsi://h/%/1",
		"iscsi://h/%3/1",
		"iscsi://h/iqn.x%G1/1",
		"iscsi://h/iqn.x%1G/1",
		"iscsi://h/iqn.x%%3A/1",
		"iscsi://h/iqn.x%-1/1",
		"iscsi://h/iqn.x% 3A/1",
		"iscsi://h/iqn.x%00/1",
		"iscsi://h/iqn.x%0a/1",
		"iscsi://h/iqn.x%1f/1",
		"iscsi://h/iqn.x%7f/1",
		"iscsi://h/iqn.x%80/1",
		"iscsi://h/iqn.x%ff/1",
		/* control characters and bytes above 0x7e, raw */
		"iscsi://h/iqn.x\t/1",
		"iscsi://h/iqn.x\n/1",
		"iscsi://h/iqn.x\r/1",
		"iscsi://h/iqn.x\x01/1",
		"iscsi://h/iqn.x\x1f/1",
		"iscsi://h/iqn.x\x7f/1",
		"iscsi://h/iqn.x\x80/1",
		"iscsi://h/iqn.\xc3\xa9/1",
		"iscsi://h\t/" IQN "/1",
		"iscsi://h\x01/" IQN "/1",
		"iscsi://h\x7f/" IQN "/1",
		"iscsi://h\xff/" IQN "/1",
		"iscsi://[::1\n]/" IQN "/1",
		"iscsi://h:32\t60/" IQN "/1",
		"iscsi://h/" IQN "/1\n",
		"iscsi://h/" IQN "/\x01",
		"iscsi://h/" IQN "/1\x7f",
		"iscsi://\x01h/" IQN "/1",
		"iscsi:\x7f//h/" IQN "/1",
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_rejected(cases[i]);
}

/* Target names are shorter than SGPR_ISCSI_NAME_MAX (224) after %XX decoding; hosts <= 253. */
static void test_lengths(void **state)
{
	char name[600], url[1024];
	struct sgpr_iscsi_url u;

	assert_int_equal(SGPR_ISCSI_NAME_MAX, 224);

	/* 223 bytes: accepted */
	memset(name, 'a', 223);
	memcpy(name, "iqn.", 4);
	name[223] = '\0';
	snprintf(url, sizeof(url), "iscsi://h/%s/7", name);
	assert_int_equal(sgpr_iscsi_url_parse(url, &u), 0);
	assert_int_equal(strlen(u.target_iqn), 223);
	assert_string_equal(u.target_iqn, name);
	assert_int_equal(u.lun, 7);
	sgpr_iscsi_url_done(&u);

	/* 224 and 500 bytes: rejected */
	name[223] = 'a';
	name[224] = '\0';
	snprintf(url, sizeof(url), "iscsi://h/%s/7", name);
	assert_rejected(url);
	memset(name, 'a', 500);
	name[500] = '\0';
	snprintf(url, sizeof(url), "iscsi://h/%s/7", name);
	assert_rejected(url);

	/* the limit counts decoded bytes: 221 + "%3A" + "b" = 223 decoded, 227 written */
	memset(name, 'a', 221);
	memcpy(name + 221, "%3Ab", 5);
	snprintf(url, sizeof(url), "iscsi://h/%s/0", name);
	assert_int_equal(sgpr_iscsi_url_parse(url, &u), 0);
	assert_int_equal(strlen(u.target_iqn), 223);
	assert_int_equal(u.target_iqn[221], ':');
	sgpr_iscsi_url_done(&u);
	/* 222 + "%3A" + "b" = 224 decoded */
	memset(name, 'a', 222);
	memcpy(name + 222, "%3Ab", 5);
	snprintf(url, sizeof(url), "iscsi://h/%s/0", name);
	assert_rejected(url);

	/* host name: 253 accepted, 254 rejected */
	memset(name, 'h', 253);
	name[253] = '\0';
	snprintf(url, sizeof(url), "iscsi://%s:3300/" IQN "/1", name);
	assert_int_equal(sgpr_iscsi_url_parse(url, &u), 0);
	assert_string_equal(u.host, name);
	assert_int_equal(u.port, 3300);
	sgpr_iscsi_url_done(&u);
	memset(name, 'h', 254);
	name[254] = '\0';
	snprintf(url, sizeof(url), "iscsi://%s:3300/" IQN "/1", name);
	assert_rejected(url);
	snprintf(url, sizeof(url), "iscsi://%s/" IQN "/1", name);
	assert_rejected(url);

	/* an IPv6 literal longer than INET6_ADDRSTRLEN - 1 */
	memset(name, '0', 60);
	memcpy(name + 60, "::1", 4);
	snprintf(url, sizeof(url), "iscsi://[%s]/" IQN "/1", name);
	assert_rejected(url);
}

/* done() accepts a zeroed struct and NULL; a parsed struct can be reused after done(). */
static void test_done(void **state)
{
	struct sgpr_iscsi_url u = {};

	sgpr_iscsi_url_done(NULL);
	sgpr_iscsi_url_done(&u);
	assert_int_equal(sgpr_iscsi_url_parse("iscsi://h/" IQN "/1", &u), 0);
	sgpr_iscsi_url_done(&u);
	sgpr_iscsi_url_done(&u);
	assert_int_equal(sgpr_iscsi_url_parse("iscsi://[::1]/" IQN "/2", &u), 0);
	assert_true(u.host_is_v6);
	sgpr_iscsi_url_done(&u);
	assert_false(u.host_is_v6);
	assert_int_equal(u.port, 0);
}

/* The login status in libiscsi's error text ("Failed to log in to target. Status: %s(%d)") */
static void test_login_errno(void **state)
{
	/* tgtd's answer for a missing target, and 02/04 target removed */
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. Status: Target not "
						"found(515)"),
			 -ENXIO);
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. Status: x(516)"),
			 -ENXIO);
	/* LIO's answer for a missing target: 03/01 service unavailable, its own errno */
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. Status: Service "
						"unavailable(769)"),
			 -EHOSTDOWN);
	/* other class 02: refused (authorization, ...); other class 03 and redirects: -ECOMM */
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. Status: x(514)"),
			 -EACCES);
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. Status: x(768)"),
			 -ECOMM);
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. Status: x(770)"),
			 -ECOMM);
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. Status: x(257)"),
			 -ECOMM);
	/* no status in the text */
	assert_int_equal(sgpr_iscsi_login_errno(NULL), -EACCES);
	assert_int_equal(sgpr_iscsi_login_errno("Failed to log in to target. It did not return "
						"CHAP_N during SECNEG."),
			 -EACCES);
	assert_int_equal(sgpr_iscsi_login_errno("Status: no number()"), -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),       cmocka_unit_test(test_rejected_structure),
		cmocka_unit_test(test_rejected_lun),   cmocka_unit_test(test_rejected_portal),
		cmocka_unit_test(test_rejected_chars), cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_done),	       cmocka_unit_test(test_login_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
