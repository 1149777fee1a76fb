/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The iSCSI initiator ports of a host (sgpr_iscsi_isid) and the session sharing of
 * transport-iscsi.c where it needs no target: concurrent opens of one target that cannot log
 * in share one session object, fail with the login's error within their bound and leave
 * nothing behind (ASan). Sharing a logged-in session: tests/integration/test-sessions.sh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sgpr-private.h"

static void test_isid_roles(void **state)
{
	uint32_t reg, obs, reg2, other;
	uint16_t qual, qual2;

	sgpr_iscsi_isid("iqn.2026-11.io.sgpr:host1", 7, false, &reg, &qual);
	sgpr_iscsi_isid("iqn.2026-11.io.sgpr:host1", 7, true, &obs, &qual2);
	/* RFC 7143 10.12.5 type 10b: 24 random bits, then the qualifier = host id */
	assert_true(reg <= 0xffffff);
	assert_true(obs <= 0xffffff);
	assert_int_equal(qual, 7);
	assert_int_equal(qual2, 7);
	/* the observer port differs from the registering one in bit 23 only */
	assert_int_equal(reg ^ obs, 0x800000);
	/* fixed: every process and reconnect of the host presents the same port */
	sgpr_iscsi_isid("iqn.2026-11.io.sgpr:host1", 7, false, &reg2, &qual2);
	assert_int_equal(reg, reg2);
	/* another host id with the same IQN: another qualifier */
	sgpr_iscsi_isid("iqn.2026-11.io.sgpr:host1", 8, false, &reg2, &qual2);
	assert_int_equal(reg, reg2);
	assert_int_equal(qual2, 8);
	sgpr_iscsi_isid("iqn.2026-11.io.sgpr:host2", 7, false, &other, &qual2);
	assert_int_not_equal(reg, other);
}

/* FNV-1a 32 folded to 24 bits: the bytes today's deployments already log in with */
static void test_isid_vector(void **state)
{
	uint32_t rnd;
	uint16_t qual;

	sgpr_iscsi_isid("iqn.2026-11.io.sgpr:it-host1", 1, false, &rnd, &qual);
	assert_int_equal(rnd, 0xee959a); /* tgtd logged 0x80ee959a0001 (test-sessions.sh) */
	sgpr_iscsi_isid("iqn.2026-11.io.sgpr:it-host1", 1, true, &rnd, &qual);
	assert_int_equal(rnd, 0x6e959a);
}

#ifdef HAVE_ISCSI_TRANSPORT
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A listening socket on 127.0.0.1 that accepts (in the backlog) and never answers. */
static int silent_listener(unsigned *ret_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

struct opener {
	char url[128];
	unsigned connect_ms;
	bool observer;
	int r;
	uint64_t took;
};

static void *open_thread(void *arg)
{
	struct opener *o = arg;
	struct sgpr_dev_opts opts = {.size = sizeof(opts),
				     .initiator = "iqn.2026-11.io.sgpr:unit",
				     .host_id = 3,
				     .connect_timeout_ms = o->connect_ms,
				     .observer_isid = o->observer};
	struct sgpr_dev *d = NULL;
	uint64_t t0 = now_ms();

	o->r = sgpr_dev_open(o->url, &opts, &d);
	o->took = now_ms() - t0;
	sgpr_dev_free(d);
	return NULL;
}

static void run_openers(struct opener *o, unsigned n)
{
	pthread_t t[8];

	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* Nothing listens: every LUN of the target fails with the login's error, sessions freed. */
static void test_refused_shared(void **state)
{
	unsigned port;
	int fd = silent_listener(&port);
	struct opener o[4] = {};

	close(fd); /* the port is free now: connections are refused */
	for (unsigned i = 0; i < 4; i++) {
		snprintf(o[i].url, sizeof(o[i].url),
			 "iscsi://127.0.0.1:%u/iqn.2026-11.io.sgpr:t/%u", port, i % 2);
		o[i].connect_ms = 2000;
		o[i].observer = i >= 2; /* two sessions: registering and observer ISID */
	}
	run_openers(o, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(o[i].r, -ECONNREFUSED);
}

/*
 * A portal that never answers the login: the first open holds the session's lock for its login,
 * the others wait for it; nobody waits past its own connect timeout (plus scheduling slack).
 */
static void test_silent_bounded(void **state)
{
	unsigned port;
	int fd = silent_listener(&port);
	struct opener o[3] = {};

	for (unsigned i = 0; i < 3; i++) {
		snprintf(o[i].url, sizeof(o[i].url),
			 "iscsi://127.0.0.1:%u/iqn.2026-11.io.sgpr:t/%u", port, i);
		o[i].connect_ms = 600;
	}
	run_openers(o, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(o[i].r, -ETIMEDOUT);
		assert_true(o[i].took >= 500);
		assert_true(o[i].took < 600 + 1500);
	}
	close(fd);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isid_roles),
		cmocka_unit_test(test_isid_vector),
#ifdef HAVE_ISCSI_TRANSPORT
		cmocka_unit_test(test_refused_shared),
		cmocka_unit_test(test_silent_bounded),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
