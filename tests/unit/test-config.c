/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config_resolve(): the one merge of defaults, configuration file and command line that
 * prlock and prlockd share (src/shared/config.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config.h"
#include "sgpr.h"

static char dir[] = "/tmp/test-config.XXXXXX";
static char conf[256], mid[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/sgpr.conf", dir);
	snprintf(mid, sizeof(mid), "%s/machine-id", dir);
	write_file(mid, "0123456789abcdef0123456789abcdef\n");
	return 0;
}

static int teardown(void **state)
{
	unlink(conf);
	unlink(mid);
	rmdir(dir);
	return 0;
}

static int resolve(const struct config_args *a, struct sgpr_config *cfg, uint16_t *ns, char *msg)
{
	*cfg = (struct sgpr_config){};
	return config_resolve(a, cfg, ns, msg, 512);
}

static void test_defaults(void **state)
{
	struct config_args a = {.config = "/dev/null", .host_id = "7", .machine_id = mid};
	struct sgpr_config cfg;
	char msg[512];
	uint16_t ns;

	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_string_equal(msg, "");
	assert_int_equal(cfg.host_id, 7);
	assert_string_equal(cfg.cluster, SGPR_CLUSTER_DEFAULT);
	assert_int_equal(ns, sgpr_ns_from_cluster(SGPR_CLUSTER_DEFAULT));
	assert_string_equal(cfg.initiator, "iqn.2026-11.io.sgpr:host-7");
	assert_int_equal(cfg.lease_period_ms, SGPR_LEASE_PERIOD_MS_DEFAULT);
	assert_int_equal(cfg.lease_period_ms, 2000);
	assert_int_equal(cfg.dead_after_ms, 7000); /* 3.5 L */
	assert_int_equal(cfg.kill_grace_ms, SGPR_KILL_GRACE_MS_DEFAULT);
	assert_int_equal(cfg.kill_grace_ms, 5000);
	assert_int_equal(cfg.type, 0);
	assert_int_equal(cfg.timeout_ms, 0);

	/* dead_after follows a configured period */
	a.lease_period = "0.5";
	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_int_equal(cfg.dead_after_ms, 1750);
}

static void test_file_then_command_line(void **state)
{
	struct config_args a = {.config = conf, .machine_id = mid};
	struct sgpr_config cfg;
	char msg[512];
	uint16_t ns;

	write_file(conf, "host_id = 9\ncluster = prod-a\nlease_period = 1\ndead_after = 4\n"
			 "kill_grace = 2\ntype = write-exclusive\ntimeout_ms = 3000\n");
	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_int_equal(cfg.host_id, 9);
	assert_string_equal(cfg.cluster, "prod-a");
	assert_int_equal(ns, sgpr_ns_from_cluster("prod-a"));
	assert_string_equal(cfg.initiator, "iqn.2026-11.io.sgpr:host-9");
	assert_int_equal(cfg.lease_period_ms, 1000);
	assert_int_equal(cfg.dead_after_ms, 4000);
	assert_int_equal(cfg.kill_grace_ms, 2000);
	assert_int_equal(cfg.type, SGPR_TYPE_WE);
	assert_int_equal(cfg.timeout_ms, 3000);

	a = (struct config_args){.config = conf,
				 .machine_id = mid,
				 .host_id = "11",
				 .cluster = "prod-b",
				 .initiator = "iqn.2026-11.com.example:h11",
				 .lease_period = "2",
				 .dead_after = "9",
				 .kill_grace = "3",
				 .type = "exclusive-access",
				 .timeout = "500"};
	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_int_equal(cfg.host_id, 11);
	assert_string_equal(cfg.cluster, "prod-b");
	assert_int_equal(ns, sgpr_ns_from_cluster("prod-b"));
	assert_string_equal(cfg.initiator, "iqn.2026-11.com.example:h11");
	assert_int_equal(cfg.lease_period_ms, 2000);
	assert_int_equal(cfg.dead_after_ms, 9000);
	assert_int_equal(cfg.kill_grace_ms, 3000);
	assert_int_equal(cfg.type, SGPR_TYPE_EA);
	assert_int_equal(cfg.timeout_ms, 500);
}

static void test_machine_id(void **state)
{
	struct config_args a = {.config = "/dev/null", .machine_id = mid};
	struct sgpr_config cfg;
	char msg[512], init[64];
	uint16_t ns, id;

	assert_int_equal(host_id_from_machine_id(mid, &id), 0);
	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_int_equal(cfg.host_id, id);
	assert_non_null(strstr(msg, "host_id not configured"));
	assert_non_null(strstr(msg, mid));
	snprintf(init, sizeof(init), "iqn.2026-11.io.sgpr:host-%u", id);
	assert_string_equal(cfg.initiator, init);

	a.machine_id = "/nonexistent/machine-id";
	assert_int_equal(resolve(&a, &cfg, &ns, msg), -EINVAL);
	assert_non_null(strstr(msg, "no host id"));
}

static void test_errors(void **state)
{
	struct sgpr_config cfg;
	char msg[512];
	uint16_t ns;
	const struct {
		struct config_args a;
		int r;
		const char *words;
	} cases[] = {
		{{.config = "/nonexistent/sgpr.conf"}, -ENOENT, "/nonexistent/sgpr.conf"},
		{{.config = "/dev/null", .host_id = "0"}, -EINVAL, "--host-id '0'"},
		{{.config = "/dev/null", .host_id = "1", .cluster = ""}, -EINVAL, "--cluster"},
		{{.config = "/dev/null", .host_id = "1", .initiator = "x"},
		 -EINVAL,
		 "not an iSCSI name"},
		{{.config = "/dev/null", .host_id = "1", .type = "bogus"},
		 -EINVAL,
		 "--type 'bogus'"},
		{{.config = "/dev/null", .host_id = "1", .timeout = "5"},
		 -EINVAL,
		 "--command-timeout"},
		{{.config = "/dev/null", .host_id = "1", .lease_period = "x"},
		 -EINVAL,
		 "--lease-period"},
		/* checked against the default period too, not only when both are given */
		{{.config = "/dev/null", .host_id = "1", .dead_after = "1"},
		 -EINVAL,
		 "must be longer than the lease period"},
		{{.config = "/dev/null", .host_id = "1", .lease_period = "10"}, 0, ""},
		{{.config = "/dev/null", .host_id = "1", .lease_period = "2", .dead_after = "2"},
		 -EINVAL,
		 "must be longer"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = resolve(&cases[i].a, &cfg, &ns, msg);

		print_message("%d: %s\n", r, msg);
		assert_int_equal(r, cases[i].r);
		assert_non_null(strstr(msg, cases[i].words));
	}
	/* a default file that does not exist is fine (no --config) */
	write_file(conf, "bogus = 1\n");
	assert_int_equal(
		resolve(&(struct config_args){.config = conf, .host_id = "1"}, &cfg, &ns, msg),
		-EINVAL);
	assert_non_null(strstr(msg, "unknown setting 'bogus'"));
}

/* prlockd's run user (docs/prlockd.md, "Privileges"): a name, resolved by prlockd */
static void test_user(void **state)
{
	struct config_args a = {.config = conf, .host_id = "1"};
	static const char *const bad[] = {"user =\n", "user = -x\n", "user = a/b\n",
					  "user = a b\n"};
	struct sgpr_config cfg;
	char msg[512];
	uint16_t ns;

	write_file(conf, "user = sgpr\n");
	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_string_equal(cfg.user, "sgpr");
	write_file(conf,
		   "user = abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd\n");
	assert_int_equal(resolve(&a, &cfg, &ns, msg), -EINVAL);
	assert_non_null(strstr(msg, "must be a user name"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(conf, bad[i]);
		assert_int_equal(resolve(&a, &cfg, &ns, msg), -EINVAL);
		assert_non_null(strstr(msg, "user"));
	}
}

/* the pr-helper server's limits: unset is 0 (the server's defaults), bad values name the key */
static void test_pr_limits(void **state)
{
	struct config_args a = {.config = conf, .host_id = "1"};
	static const char *const bad[] = {
		"pr_max_connections = 0\n", "pr_max_connections = 65537\n",
		"pr_max_per_uid = x\n",	    "pr_max_per_pid = -1\n",
		"pr_deadline = 0\n",	    "pr_deadline = 601\n",
		"pr_deadline = 5s\n",	    "pr_max_per_pid =\n",
	};
	struct sgpr_config cfg;
	char msg[512];
	uint16_t ns;

	write_file(conf, "host_id = 1\n");
	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_int_equal(cfg.pr_max_connections, 0);
	assert_int_equal(cfg.pr_max_per_uid, 0);
	assert_int_equal(cfg.pr_max_per_pid, 0);
	assert_int_equal(cfg.pr_deadline_ms, 0);
	write_file(conf, "pr_max_connections = 1000\npr_max_per_uid = 500\npr_max_per_pid = 1\n"
			 "pr_deadline = 0.5\n");
	assert_int_equal(resolve(&a, &cfg, &ns, msg), 0);
	assert_int_equal(cfg.pr_max_connections, 1000);
	assert_int_equal(cfg.pr_max_per_uid, 500);
	assert_int_equal(cfg.pr_max_per_pid, 1);
	assert_int_equal(cfg.pr_deadline_ms, 500);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char key[32];

		write_file(conf, bad[i]);
		assert_int_equal(resolve(&a, &cfg, &ns, msg), -EINVAL);
		print_message("%s\n", msg);
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(bad[i], " "), bad[i]);
		assert_non_null(strstr(msg, key));
		assert_non_null(strstr(msg, ":1: "));
		assert_null(strchr(msg, '\n'));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),   cmocka_unit_test(test_file_then_command_line),
		cmocka_unit_test(test_machine_id), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_user),	   cmocka_unit_test(test_pr_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
