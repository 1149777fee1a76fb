/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest PR OUT guard of the pr-helper (src/prlockd/prh-guard.c): the decision on the request
 * shapes a guest can send (CLEAR, PREEMPT of a host's lease, registrations, QEMU's migrate-pr
 * sequence) against the keys a LUN carries, and prh_guard_check() on a sim LUN where host A
 * holds an sgpr lease and the guest sits on host B's nexus: what it refuses never reaches the
 * device, and A's registration and reservation stay (read back from the LUN).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim.h"
#include "prh-guard.h"

#define GUEST 0x0123456789abcdefull /* a guest's key: not in the test namespace */
#define GUEST2 0x0fedcba987654321ull

static uint16_t ns;
static uint64_t ka, kb, park; /* host 1's and host 2's lease keys, the parking key */

static int setup_keys(void **state)
{
	(void)state;
	ns = sgpr_ns_from_cluster("guard-test");
	ka = sgpr_key_make_lease(ns, 1, 2000, 7);
	kb = sgpr_key_make_lease(ns, 2, 2000, 9);
	park = sgpr_key_parking(ns);
	return 0;
}

/* A PR OUT request as the server decodes it from a QEMU frame. */
static struct prh_request prout(enum sgpr_prout_sa sa, uint8_t type, uint64_t key, uint64_t sa_key,
				uint8_t flags)
{
	struct sgpr_prout_params p = {.sa = sa, .type = type, .key = key, .sa_key = sa_key};
	uint8_t cdb[SGPR_PROUT_CDB_LEN], params[64], frame[128];
	struct prh_request req;
	int len, n;

	if (sa == SGPR_PROUT_REGISTER_AND_MOVE) {
		/* a TransportID of 24 bytes after the 24-byte header (SPC-4 6.16.4) */
		static const uint8_t tid[24] = {0x05, 0, 0, 20, 'i', 'q', 'n', '.', 'x'};

		p.tids = tid;
		p.tids_len = sizeof(tid);
	}
	len = sgpr_prout_encode(&p, cdb, params, sizeof(params));
	assert_true(len >= 24);
	params[20] |= flags;
	n = prh_request_encode(cdb, sizeof(cdb), params, (size_t)len, frame, sizeof(frame));
	assert_true(n > 0);
	assert_int_equal(prh_request_decode(frame, (size_t)n, &req), n);
	return req;
}

static struct prh_verdict verdict(void)
{
	return (struct prh_verdict){.status = SGPR_STATUS_CHECK_CONDITION, .key = 5, .asc = 0x20};
}

/* decide with the LUN given as keys and an optional holder (type 0: no reservation) */
static int decide_on(uint16_t host_id, const struct prh_request *req, const uint64_t *keys,
		     size_t n, uint8_t type, uint64_t holder, struct prh_verdict *v)
{
	struct prh_guard_ctx ctx = {.ns = ns, .host_id = host_id};
	struct prh_guard_lun lun = {.keys = keys, .n_keys = n};
	int r;

	*v = verdict();
	r = prh_guard_decide(&ctx, req, NULL, v);
	if (r != PRH_GUARD_NEED_LUN)
		return r;
	lun.resv.held = type != 0;
	lun.resv.type = type;
	lun.resv.key = sgpr_type_is_all_registrants(type) ? 0 : holder;
	return prh_guard_decide(&ctx, req, &lun, v);
}

static void assert_refused(int r, const struct prh_verdict *v, const char *rule)
{
	assert_int_equal(r, -EPERM);
	assert_int_equal(v->status, SGPR_STATUS_CHECK_CONDITION);
	assert_int_equal(v->key, 0x05);
	assert_non_null(strstr(v->reason, rule));
}

static void test_key_recognition(void **state)
{
	(void)state;
	assert_true(prh_guard_is_sgpr_key(ka, ns));
	assert_true(prh_guard_is_sgpr_key(kb, ns));
	assert_true(prh_guard_is_sgpr_key(park, ns));
	assert_true(prh_guard_is_sgpr_key(sgpr_key_make(ns, 3, 0), ns)); /* static key */
	assert_false(prh_guard_is_sgpr_key(GUEST, ns));
	assert_false(prh_guard_is_sgpr_key(sgpr_key_make(ns, 0, 5), ns)); /* host 0, not parking */
	/* another cluster's keys are not ours to protect (nor to recognise) */
	assert_false(prh_guard_is_sgpr_key(sgpr_key_make(ns ^ 1, 1, 5), ns));
	assert_false(prh_guard_is_sgpr_key(ka, 0));
}

/* Decided from the request alone: no PR IN is needed to refuse these. */
static void test_static_rules(void **state)
{
	struct prh_guard_ctx ctx = {.ns = ns, .host_id = 2};
	struct prh_verdict v = verdict();
	struct prh_request req;
	int r;

	(void)state;
	/* PR IN always passes */
	req = (struct prh_request){.kind = PRH_REQ_PRIN, .sa = SGPR_PRIN_READ_KEYS};
	assert_int_equal(prh_guard_decide(&ctx, &req, NULL, &v), 0);

	/* CLEAR, even on a LUN without sgpr keys: a host may register between READ and CLEAR */
	req = prout(SGPR_PROUT_CLEAR, 0, GUEST, 0, 0);
	r = prh_guard_decide(&ctx, &req, NULL, &v);
	assert_refused(r, &v, "rule clear");
	assert_int_equal(v.asc, 0x20);

	/* PREEMPT and PREEMPT AND ABORT naming a host's lease key or the parking key */
	const uint64_t victims[] = {ka, kb, park};

	for (size_t i = 0; i < 3; i++) {
		v = verdict();
		req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, victims[i], 0);
		assert_refused(prh_guard_decide(&ctx, &req, NULL, &v), &v, "rule sgpr-key");
		v = verdict();
		req = prout(SGPR_PROUT_PREEMPT_AND_ABORT, SGPR_TYPE_WERO, GUEST, victims[i], 0);
		assert_refused(prh_guard_decide(&ctx, &req, NULL, &v), &v, "rule sgpr-key");
	}
	/* registering an sgpr-shaped key (a forged lease), or acting as the host's key */
	req = prout(SGPR_PROUT_REGISTER, 0, 0, kb, 0);
	assert_refused(prh_guard_decide(&ctx, &req, NULL, &v), &v, "rule sgpr-key");
	req = prout(SGPR_PROUT_REGISTER, 0, kb, GUEST, 0);
	assert_refused(prh_guard_decide(&ctx, &req, NULL, &v), &v, "rule sgpr-key");
	req = prout(SGPR_PROUT_REGISTER_AND_IGNORE, 0, 0, ka, 0);
	assert_refused(prh_guard_decide(&ctx, &req, NULL, &v), &v, "rule sgpr-key");
	req = prout(SGPR_PROUT_RELEASE, SGPR_TYPE_WERO, ka, 0, 0);
	assert_refused(prh_guard_decide(&ctx, &req, NULL, &v), &v, "rule sgpr-key");
	assert_non_null(strstr(v.reason, "host 1"));

	/* a parameter list shorter than the basic 24 bytes: PARAMETER LIST LENGTH ERROR */
	req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST, 0);
	req.params_len = 16;
	v = verdict();
	assert_refused(prh_guard_decide(&ctx, &req, NULL, &v), &v, "rule short-list");
	assert_int_equal(v.asc, 0x1a);

	/* anything else needs the LUN's keys */
	req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST, 0);
	assert_int_equal(prh_guard_decide(&ctx, &req, NULL, &v), PRH_GUARD_NEED_LUN);
	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, GUEST2, 0);
	assert_int_equal(prh_guard_decide(&ctx, &req, NULL, &v), PRH_GUARD_NEED_LUN);
}

/* An sgpr key holds the reservation: no guest PR OUT at all. */
static void test_sgpr_holder(void **state)
{
	const uint64_t held[] = {ka, GUEST};
	const uint64_t parked[] = {park};
	struct prh_verdict v;
	struct prh_request reqs[] = {
		prout(SGPR_PROUT_REGISTER, 0, 0, GUEST2, 0),
		prout(SGPR_PROUT_REGISTER_AND_IGNORE, 0, 0, GUEST2, 0),
		prout(SGPR_PROUT_RESERVE, SGPR_TYPE_WERO, GUEST, 0, 0),
		prout(SGPR_PROUT_RELEASE, SGPR_TYPE_WERO, GUEST, 0, 0),
		prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, GUEST, 0),
		prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, GUEST2, 0),
		prout(SGPR_PROUT_REGISTER_AND_MOVE, SGPR_TYPE_WERO, GUEST, GUEST2, 0),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		/* host 1's live lease (Write Exclusive - Registrants Only) */
		assert_refused(decide_on(2, &reqs[i], held, 2, SGPR_TYPE_WERO, ka, &v), &v,
			       "rule sgpr-holder");
		assert_non_null(strstr(v.reason, "host 1"));
		/* parked after a release: the fence of a preempted host stays up */
		assert_refused(decide_on(2, &reqs[i], parked, 1, SGPR_TYPE_WERO, park, &v), &v,
			       "rule sgpr-holder");
		/* an all-registrants type: every registrant holds, host 1 among them */
		assert_refused(decide_on(2, &reqs[i], held, 2, SGPR_TYPE_WEAR, 0, &v), &v,
			       "rule sgpr-holder");
	}
}

/* QEMU migrate-pr: the destination registers the guest's key and PREEMPTs it by itself. */
static void test_migration_shapes(void **state)
{
	/* host 1 is registered (a challenger, or the other host of a cluster), not holding */
	const uint64_t keys[] = {GUEST, ka, GUEST};
	struct prh_verdict v;
	struct prh_request req;

	(void)state;
	req = prout(SGPR_PROUT_REGISTER_AND_IGNORE, 0, 0, GUEST, 0);
	assert_int_equal(decide_on(2, &req, keys, 3, SGPR_TYPE_WERO, GUEST, &v), 0);
	req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST, 0);
	assert_int_equal(decide_on(2, &req, keys, 3, SGPR_TYPE_WERO, GUEST, &v), 0);
	/* PREEMPT of the own key: moves the reservation to the destination's nexus */
	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, GUEST, 0);
	assert_int_equal(decide_on(2, &req, keys, 3, SGPR_TYPE_WERO, GUEST, &v), 0);
	req = prout(SGPR_PROUT_PREEMPT_AND_ABORT, SGPR_TYPE_WERO, GUEST, GUEST, 0);
	assert_int_equal(decide_on(2, &req, keys, 3, SGPR_TYPE_WERO, GUEST, &v), 0);
	/* PREEMPT of another guest key, RESERVE and RELEASE of the guest's own */
	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST2, GUEST, 0);
	assert_int_equal(decide_on(2, &req, keys, 3, SGPR_TYPE_WERO, GUEST, &v), 0);
	req = prout(SGPR_PROUT_RESERVE, SGPR_TYPE_WERO, GUEST, 0, 0);
	assert_int_equal(decide_on(2, &req, keys, 3, 0, 0, &v), 0);
	req = prout(SGPR_PROUT_RELEASE, SGPR_TYPE_WERO, GUEST, 0, 0);
	assert_int_equal(decide_on(2, &req, keys, 3, SGPR_TYPE_WERO, GUEST, &v), 0);
	/* but the same PREEMPT naming host 1's key is refused */
	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, ka, 0);
	assert_refused(decide_on(2, &req, keys, 3, SGPR_TYPE_WERO, GUEST, &v), &v, "rule sgpr-key");
}

/* What needs care once sgpr keys are registered (no sgpr holder). */
static void test_registered_rules(void **state)
{
	const uint64_t keys[] = {ka, GUEST};
	const uint64_t guests[] = {GUEST, GUEST2};
	struct prh_verdict v;
	struct prh_request req;

	(void)state;
	req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST2, PRH_PROUT_SPEC_I_PT);
	assert_refused(decide_on(2, &req, keys, 2, 0, 0, &v), &v, "rule spec-i-pt");
	assert_int_equal(decide_on(2, &req, guests, 2, 0, 0, &v), 0); /* no sgpr keys: the LU's */
	req = prout(SGPR_PROUT_REGISTER_AND_IGNORE, 0, 0, GUEST2, PRH_PROUT_ALL_TG_PT);
	assert_refused(decide_on(2, &req, keys, 2, 0, 0, &v), &v, "rule spec-i-pt");

	req = prout(SGPR_PROUT_REGISTER_AND_MOVE, SGPR_TYPE_WERO, GUEST, GUEST2, 0);
	assert_refused(decide_on(2, &req, keys, 2, SGPR_TYPE_WERO, GUEST, &v), &v,
		       "rule register-and-move");
	assert_int_equal(decide_on(2, &req, guests, 2, SGPR_TYPE_WERO, GUEST, &v), 0);

	/* REGISTER AND IGNORE EXISTING KEY while this host's own key is registered */
	req = prout(SGPR_PROUT_REGISTER_AND_IGNORE, 0, 0, GUEST2, 0);
	assert_refused(decide_on(1, &req, keys, 2, 0, 0, &v), &v, "rule own-registration");
	assert_refused(decide_on(0, &req, keys, 2, 0, 0, &v), &v, "rule own-registration");
	assert_int_equal(decide_on(2, &req, keys, 2, 0, 0, &v), 0);

	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, 0, 0);
	assert_refused(decide_on(2, &req, keys, 2, SGPR_TYPE_WERO, GUEST, &v), &v,
		       "rule preempt-zero");
	/* a LUN without sgpr keys is the guests' business (CLEAR excepted) */
	assert_int_equal(decide_on(2, &req, guests, 2, SGPR_TYPE_WEAR, 0, &v), 0);
}

/* ---- prh_guard_check() on a sim LUN ------------------------------------------ */

#define NEXUS_A "iqn.2026-01.test:host-a,i,0x400000000001"
#define NEXUS_B "iqn.2026-01.test:host-b,i,0x400000000002" /* the guest's host */
#define NEXUS_C "iqn.2026-01.test:host-c,i,0x400000000003" /* a migration's destination */

struct lunfx {
	struct sgpr_sim_lun *lun;
	struct sgpr_dev *a, *b, *c;
};

static int setup_lun(void **state)
{
	struct lunfx *f = calloc(1, sizeof(*f));
	struct sgpr_sim_config cfg = sgpr_sim_config_spc();
	struct sgpr_dev_opts o = {.size = sizeof(o)};

	setup_keys(NULL);
	f->lun = sgpr_sim_lun_new(&cfg);
	assert_int_equal(sgpr_sim_open(f->lun, NEXUS_A, &o, &f->a), 0);
	assert_int_equal(sgpr_sim_open(f->lun, NEXUS_B, &o, &f->b), 0);
	assert_int_equal(sgpr_sim_open(f->lun, NEXUS_C, &o, &f->c), 0);
	*state = f;
	return 0;
}

static int teardown_lun(void **state)
{
	struct lunfx *f = *state;

	sgpr_dev_free(f->a);
	sgpr_dev_free(f->b);
	sgpr_dev_free(f->c);
	sgpr_sim_lun_free(f->lun);
	free(f);
	return 0;
}

/* The guard's verdict on d, and the request sent as is when it passes; the device's result. */
static int guarded(struct sgpr_dev *d, uint16_t host_id, const struct prh_request *req,
		   struct prh_verdict *v)
{
	struct prh_guard_ctx ctx = {.ns = ns, .host_id = host_id};
	int r;

	*v = verdict();
	r = prh_guard_check(d, &ctx, req, v);
	if (r < 0)
		return r;
	return sgpr_dev_execute(d, req->cdb, SGPR_PROUT_CDB_LEN, SGPR_DIR_OUT, (void *)req->params,
				req->params_len, NULL);
}

/* The attack of issue 11: a guest on B, which does not hold the LUN, takes A's live lease. */
static void test_check_takeover(void **state)
{
	struct lunfx *f = *state;
	struct prh_verdict v;
	struct prh_request req;
	uint64_t holder = 0;
	unsigned cmds;

	assert_int_equal(sgpr_register(f->a, 0, ka, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->a, ka, SGPR_TYPE_WERO, NULL), 0);

	/* the guest registers its key on B's nexus: refused, A holds */
	req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST, 0);
	assert_refused(guarded(f->b, 2, &req, &v), &v, "rule sgpr-holder");
	/* then PREEMPT AND ABORT, PREEMPT of A's key, CLEAR: refused before the device */
	cmds = sgpr_sim_lun_commands(f->lun);
	req = prout(SGPR_PROUT_PREEMPT_AND_ABORT, SGPR_TYPE_WERO, GUEST, ka, 0);
	assert_refused(guarded(f->b, 2, &req, &v), &v, "rule sgpr-key");
	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, ka, 0);
	assert_refused(guarded(f->b, 2, &req, &v), &v, "rule sgpr-key");
	req = prout(SGPR_PROUT_CLEAR, 0, GUEST, 0, 0);
	assert_refused(guarded(f->b, 2, &req, &v), &v, "rule clear");
	assert_int_equal(sgpr_sim_lun_commands(f->lun), cmds); /* not even a PR IN */

	/* A still holds and is the only registrant */
	assert_int_equal(sgpr_sim_lun_reservation(f->lun, &holder), SGPR_TYPE_WERO);
	assert_int_equal(holder, ka);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 1);
}

/* migrate-pr on a LUN where host 1's key is registered but a guest holds the reservation. */
static void test_check_migration(void **state)
{
	struct lunfx *f = *state;
	struct prh_verdict v;
	struct prh_request req;
	uint64_t holder = 0;
	unsigned cmds;

	/* no sgpr key registered: READ KEYS alone decides (a holder is a registrant) */
	req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST2, 0);
	assert_int_equal(guarded(f->b, 2, &req, &v), 0);
	cmds = sgpr_sim_commands(f->b);
	req = prout(SGPR_PROUT_REGISTER, 0, GUEST2, 0, 0);
	assert_int_equal(guarded(f->b, 2, &req, &v), 0);
	assert_int_equal(sgpr_sim_commands(f->b) - cmds, 2); /* READ KEYS, the REGISTER */

	assert_int_equal(sgpr_register(f->a, 0, ka, false, NULL), 0);
	/* source: the guest on B registers and reserves; READ RESERVATION too now */
	cmds = sgpr_sim_commands(f->b);
	req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST, 0);
	assert_int_equal(guarded(f->b, 2, &req, &v), 0);
	assert_int_equal(sgpr_sim_commands(f->b) - cmds, 3);
	req = prout(SGPR_PROUT_RESERVE, SGPR_TYPE_WERO, GUEST, 0, 0);
	assert_int_equal(guarded(f->b, 2, &req, &v), 0);
	/* destination C: REGISTER AND IGNORE EXISTING KEY, then PREEMPT of the own key */
	req = prout(SGPR_PROUT_REGISTER_AND_IGNORE, 0, 0, GUEST, 0);
	assert_int_equal(guarded(f->c, 3, &req, &v), 0);
	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, GUEST, 0);
	assert_int_equal(guarded(f->c, 3, &req, &v), 0);
	assert_int_equal(sgpr_sim_lun_reservation(f->lun, &holder), SGPR_TYPE_WERO);
	assert_int_equal(holder, GUEST);
	/* the guest's key on B went with the PREEMPT (SPC-4 5.12.11.4.3); A's stays */
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 2);
	/* and a migrated guest still may not touch host 1 */
	req = prout(SGPR_PROUT_PREEMPT, SGPR_TYPE_WERO, GUEST, ka, 0);
	assert_refused(guarded(f->c, 3, &req, &v), &v, "rule sgpr-key");
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 2);
}

/* The LUN cannot be read: nothing is sent blind; the device's sense goes back. */
static void test_check_unreadable(void **state)
{
	struct lunfx *f = *state;
	struct prh_verdict v;
	struct prh_request req = prout(SGPR_PROUT_REGISTER, 0, 0, GUEST, 0);

	assert_int_equal(sgpr_sim_fail_next(f->b, 1, SGPR_STATUS_CHECK_CONDITION, 0x04, 0x44, 0x00),
			 0);
	assert_int_equal(guarded(f->b, 2, &req, &v), -EPERM);
	assert_non_null(strstr(v.reason, "rule unreadable"));
	assert_int_equal(v.status, SGPR_STATUS_CHECK_CONDITION);
	assert_int_equal(v.key, 0x04);
	assert_int_equal(v.asc, 0x44);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 0);
	/* the next one goes through */
	assert_int_equal(guarded(f->b, 2, &req, &v), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->lun), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_key_recognition, setup_keys),
		cmocka_unit_test_setup(test_static_rules, setup_keys),
		cmocka_unit_test_setup(test_sgpr_holder, setup_keys),
		cmocka_unit_test_setup(test_migration_shapes, setup_keys),
		cmocka_unit_test_setup(test_registered_rules, setup_keys),
		cmocka_unit_test_setup_teardown(test_check_takeover, setup_lun, teardown_lun),
		cmocka_unit_test_setup_teardown(test_check_migration, setup_lun, teardown_lun),
		cmocka_unit_test_setup_teardown(test_check_unreadable, setup_lun, teardown_lun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
