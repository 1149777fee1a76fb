/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The promise (DESIGN.md), one regression test per way it broke (issue 8): the fence holds
 * through release and target restarts, keys never repeat, a paused or differently configured
 * observer never takes a live owner over, a host-id clash is never adopted, a failed takeover
 * leaves no writer behind, every path of a victim is fenced, any failed renewal self-fences.
 */
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "lease-fixture.h"

#define NAME_A2 "iqn.2024-01.test:a2,i,0x400000000001"

static enum sgpr_lease_event acquire(struct sgpr_lease *l)
{
	enum sgpr_lease_event ev;

	assert_int_equal(sgpr_lease_acquire(l, &ev), 0);
	return ev;
}

/* B observes every period until it takes over (A hung); returns the ms it took. */
static uint64_t b_takes_over(struct fx *f)
{
	uint64_t start = f->sim.clock.now;

	for (int i = 0; i < 100; i++) {
		if (observe(f->lb) == SGPR_LEASE_TAKEN_OVER)
			return f->sim.clock.now - start;
		sim_fx_advance(&f->sim, PERIOD);
	}
	fail_msg("no takeover within 100 periods");
	return 0;
}

/* Item 1: A hangs, B takes over and releases: A's nexus stays refused. */
static void test_release_keeps_fence(void **state)
{
	struct fx *f = *state;

	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	b_takes_over(f);
	assert_int_equal(sgpr_lease_release(f->lb), 0);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_key_parking(f->ns));
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE); /* A wakes up: refused */
	assert_int_equal(renew(f->la), SGPR_LEASE_LOST_PREEMPTED);
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_key_parking(f->ns));
	/* A acquires again: that is the only way back */
	sgpr_lease_free(f->la);
	{
		struct sgpr_lease_opts o = lease_opts(f, 1);

		assert_int_equal(sgpr_lease_new(f->a, &o, &f->la), 0);
	}
	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
	assert_int_equal(sim_fx_write16(f->b, NULL),
			 -EBADE); /* the parker's registration went with it */
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
}

/* Item 3: A hangs, B takes over, the target forgets everything, A resumes: A lost, B keeps it. */
static void test_target_restart_after_takeover(void **state)
{
	struct fx *f = *state;

	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	b_takes_over(f);
	sgpr_sim_lun_restart(f->sim.lun, false);
	assert_int_equal(renew(f->la), SGPR_LEASE_LOST_EXPIRED);
	assert_int_equal(sim_fx_holder(&f->sim), 0);
	assert_int_equal(renew(f->lb), SGPR_LEASE_RECOVERED); /* within its window */
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->lb));
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
	assert_int_equal(sim_fx_write16(f->b, NULL), 0);
}

/*
 * The attack found on LIO: A hangs, B takes over and releases (parks), the target restarts, A
 * resumes. A LU that can persist keeps everything, because every REGISTER of ours set APTPL
 * (SPC-4 5.12.5): the parking reservation and A's missing registration come back, A is refused.
 */
static void test_restart_after_release_keeps_fence(void **state)
{
	struct fx *f = *state;
	struct sgpr_caps caps;

	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	b_takes_over(f);
	assert_int_equal(sgpr_lease_release(f->lb), 0);
	assert_int_equal(sgpr_report_caps(f->b, &caps, NULL), 0);
	assert_true(caps.ptpl_c && caps.ptpl_a); /* the last REGISTER (the park) set APTPL */
	sgpr_sim_lun_restart(f->sim.lun, false);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_key_parking(f->ns));
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
	assert_int_equal(renew(f->la), SGPR_LEASE_LOST_PREEMPTED);
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_key_parking(f->ns));
}

/* The holder's own renewals keep APTPL set: a restart changes nothing for a live owner. */
static void test_restart_keeps_holder(void **state)
{
	struct fx *f = *state;
	uint64_t key;

	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
	key = sgpr_lease_key(f->la);
	sgpr_sim_lun_restart(f->sim.lun, false);
	assert_int_equal(sim_fx_holder(&f->sim), key);
	assert_int_equal(sim_fx_write16(f->b, NULL), -EBADE);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
}

/*
 * A release whose answers were lost but which parked the LUN; B acquires; the target forgets
 * everything: A's next renewal must not re-establish (B held it in between), it is a loss.
 */
static void test_unanswered_release_never_recovers(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault lost = {
		.kind = SGPR_SIM_FAULT_TIMEOUT,
		.skip = 1,	   /* READ RESERVATION answered, then */
		.count = UINT_MAX, /* the REGISTER and every read after it: carried out, unanswered
				    */
		.executed = true,
	};
	struct sgpr_dev_opts quick = f->sim.opts;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_dev *a;
	struct sgpr_lease *la;

	quick.timeout_ms = 100; /* the release's three lost answers stay within A's window */
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_A, &quick, &a), 0);
	assert_int_equal(sgpr_lease_new(a, &o, &la), 0);
	assert_int_equal(acquire(la), SGPR_LEASE_ACQUIRED);
	assert_int_equal(sgpr_sim_set_fault(a, &lost), 0);
	assert_int_equal(sgpr_lease_release(la), -ETIMEDOUT);
	assert_int_equal(sgpr_sim_set_fault(a, NULL), 0);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_key_parking(f->ns));
	assert_int_equal(acquire(f->lb), SGPR_LEASE_ACQUIRED);
	sgpr_sim_lun_restart(f->sim.lun, false);
	assert_int_equal(renew(la), SGPR_LEASE_LOST_EXPIRED);
	assert_int_equal(sim_fx_holder(&f->sim), 0);
	assert_int_equal(renew(f->lb), SGPR_LEASE_RECOVERED);
	assert_int_equal(sim_fx_write16(a, NULL), -EBADE);
	sgpr_lease_free(la);
	sgpr_dev_free(a);
}

/* Item 2: re-adoption of a recorded key that is gone: lost past the window, else recovered. */
static void test_readopt_expired(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_lease *l;
	uint64_t key;

	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	key = sgpr_lease_key(f->la);
	b_takes_over(f); /* A (prlockd) was stopped; B took over and released */
	assert_int_equal(sgpr_lease_release(f->lb), 0);
	o.adopt_key = key;
	o.adopt_confirmed_ms = f->sim.clock.now - DEAD_AFTER - 1000;
	assert_int_equal(sgpr_lease_new(f->a, &o, &l), 0);
	assert_int_equal(acquire(l), SGPR_LEASE_LOST_EXPIRED);
	assert_int_equal(sgpr_lease_get_state(l), SGPR_LEASE_LOST);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_key_parking(f->ns));
	sgpr_lease_free(l);
	/* confirmed just now (the target lost its state meanwhile): re-established */
	o.adopt_confirmed_ms = f->sim.clock.now - 10;
	assert_int_equal(sgpr_lease_new(f->a, &o, &l), 0);
	assert_int_equal(acquire(l), SGPR_LEASE_RECOVERED);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(l));
	sgpr_lease_free(l);
}

/* Items 4, 5: a key of our host id that this process did not record is never adopted. */
static void test_host_id_clash(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_dev *c;
	struct sgpr_lease *lc;
	enum sgpr_lease_event ev;

	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &f->sim.opts, &c), 0);
	assert_int_equal(sgpr_lease_new(c, &o, &lc), 0); /* host id 1 too: a cloned image */
	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	assert_int_equal(sgpr_lease_acquire(lc, &ev), -EBADE);
	assert_int_equal(sgpr_key_split(sgpr_lease_last_holder(lc)).host_id, 1);
	for (int i = 0; i < 20; i++) {
		sim_fx_advance(&f->sim, PERIOD);
		assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
		assert_int_equal(observe(lc), SGPR_LEASE_NONE);
	}
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
	assert_int_equal(sim_fx_write16(c, NULL), -EBADE);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	sgpr_lease_free(lc);
	sgpr_dev_free(c);
}

/* Item 6: short runs one after another never look like one unchanged key. */
static void test_short_runs_never_taken(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 30; i++) {
		uint64_t k;

		assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
		k = sgpr_lease_key(f->la);
		sim_fx_advance(&f->sim, PERIOD / 2);
		assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
		sim_fx_advance(&f->sim, PERIOD / 2);
		assert_int_equal(sim_fx_holder(&f->sim), k);
		assert_int_equal(sgpr_lease_release(f->la), 0);
	}
}

/* Item 6: a paused observer does not count the time it did not look. */
static void test_paused_watcher_restarts(void **state)
{
	struct fx *f = *state;

	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
	sim_fx_advance(&f->sim, 10 * DEAD_AFTER);	   /* B paused (SIGSTOP, suspend) */
	assert_int_equal(observe(f->lb), SGPR_LEASE_NONE); /* watch starts again */
	assert_true(b_takes_over(f) >= DEAD_AFTER);
}

/* Item 7: a standby with shorter settings waits what the holder's key announces. */
static void test_mismatched_settings(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts oa = lease_opts(f, 1), ob = lease_opts(f, 2);
	uint64_t start = 0;
	int i;

	sgpr_lease_free(f->la);
	sgpr_lease_free(f->lb);
	oa.period_ms = 2000;
	oa.dead_after_ms = 7000;
	ob.period_ms = 500;
	ob.dead_after_ms = 1000;
	assert_int_equal(sgpr_lease_new(f->a, &oa, &f->la), 0);
	assert_int_equal(sgpr_lease_new(f->b, &ob, &f->lb), 0);
	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	for (i = 1; i <= 120; i++) { /* 60 s, B looks every 500 ms, A renews every 2 s */
		sim_fx_advance(&f->sim, 500);
		if (i % 4 == 0)
			assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
		assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
	}
	assert_int_equal(sgpr_lease_holder_period_ms(f->lb), 2000);
	assert_int_equal(sgpr_lease_dead_after_ms(f->lb), 7000);
	/* A dies now: B waits 7 s from the last change it saw, not 1 s */
	for (i = 0; i < 40; i++) {
		sim_fx_advance(&f->sim, 500);
		if (observe(f->lb) == SGPR_LEASE_TAKEN_OVER)
			break;
		start += 500;
	}
	assert_true(start >= 6500 && start <= 7500);
}

/* Item 9: a takeover that fails after registering leaves no registration behind. */
static void test_failed_takeover_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault lost = {
		.kind = SGPR_SIM_FAULT_TIMEOUT,
		.match_opcode = true,
		.opcode = 0x5f,
		.skip = 1, /* REGISTER passes, PREEMPT times out */
		.count = 1,
	};

	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
	for (int i = 0; i < 3; i++) {
		sim_fx_advance(&f->sim, PERIOD);
		assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
	}
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(sgpr_sim_set_fault(f->b, &lost), 0);
	{
		enum sgpr_lease_event ev;

		assert_int_equal(sgpr_lease_observe(f->lb, &ev), -ETIMEDOUT);
	}
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
	assert_int_equal(sim_fx_write16(f->b, NULL), -EBADE);
}

/* Item 10: a path of the victim that missed a renewal (older key) is fenced at takeover. */
static void test_takeover_fences_every_path(void **state)
{
	struct fx *f = *state;
	const char *const names[] = {NAME_A, NAME_A2};
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_dev *mp, *path2;

	sgpr_lease_free(f->la);
	assert_int_equal(sgpr_sim_open_paths(f->sim.lun, names, 2, &f->sim.opts, &mp), 0);
	assert_int_equal(sgpr_lease_new(mp, &o, &f->la), 0);
	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2);
	assert_int_equal(sgpr_sim_path_down(mp, 1, true), 0);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED); /* path 2 keeps the older key */
	assert_int_equal(sgpr_sim_path_down(mp, 1, false), 0);
	b_takes_over(f); /* A dies */
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_A2, &f->sim.opts, &path2), 0);
	assert_int_equal(sim_fx_write16(path2, NULL), -EBADE);
	assert_int_equal(sim_fx_write16(f->b, NULL), 0);
	sgpr_dev_free(path2);
	sgpr_lease_free(f->la);
	f->la = NULL;
	sgpr_dev_free(mp);
}

/* Item 12: renewals that keep failing for any reason self-fence, not only unreachable ones. */
static void test_self_fence_any_failure(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_sim_fault bad = {
		.kind = SGPR_SIM_FAULT_STATUS,
		.status = SGPR_STATUS_CHECK_CONDITION,
		.sense_key = 0x4, /* HARDWARE ERROR */
		.asc = 0x44,
		.count = UINT_MAX,
	};
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;
	int i;

	sgpr_lease_free(f->la);
	o.self_fence_after_ms = 3 * PERIOD;
	assert_int_equal(sgpr_lease_new(f->a, &o, &f->la), 0);
	assert_int_equal(acquire(f->la), SGPR_LEASE_ACQUIRED);
	assert_int_equal(sgpr_sim_set_fault(f->a, &bad), 0);
	for (i = 0; i < 6 && ev != SGPR_LEASE_LOST_SELF_FENCED; i++) {
		sim_fx_advance(&f->sim, PERIOD);
		(void)sgpr_lease_renew(f->la, &ev);
	}
	assert_int_equal(ev, SGPR_LEASE_LOST_SELF_FENCED);
	assert_int_equal(i, 3);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_LOST);
}

/*
 * A guest on this host's nexus holds a foreign reservation (pr-helper): a new lease of this host
 * on the same nexus, with a leftover key of our host id elsewhere, never clears the nexus
 * blindly (that would unregister the guest's holder and release its reservation).
 */
static void test_foreign_holder_on_our_nexus_kept(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	uint64_t guest = 0xfeed000000000077ull;
	struct sgpr_dev *a2;
	struct sgpr_lease *l;

	assert_int_equal(sgpr_register(f->a, 0, guest, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->a, guest, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(
		sgpr_sim_lun_add_registration(f->sim.lun, NAME_C, sgpr_key_make(f->ns, 1, 5)), 0);
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_A, &f->sim.opts, &a2), 0); /* same nexus */
	assert_int_equal(sgpr_lease_new(a2, &o, &l), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(observe(l), SGPR_LEASE_NONE);
		sim_fx_advance(&f->sim, PERIOD);
	}
	assert_int_equal(sim_fx_holder(&f->sim), guest);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0); /* the guest still writes */
	sgpr_lease_free(l);
	sgpr_dev_free(a2);
}

/* Key layout: the period code, a never-0 counter, the parking key is nobody's. */
static void test_key_layout(void **state)
{
	struct fx *f = *state;
	uint64_t k = sgpr_key_make_lease(f->ns, 9, 2050, 0);

	assert_int_equal(sgpr_key_split(k).host_id, 9);
	assert_int_equal(sgpr_key_period_ms(k, f->ns), 2100); /* rounded up */
	assert_int_equal(sgpr_key_split(k).epoch & SGPR_EPOCH_COUNTER_MASK, 1);
	assert_int_equal(sgpr_key_period_ms(sgpr_key_make(f->ns, 9, 0), f->ns), 0);
	assert_false(sgpr_key_in_ns(sgpr_key_parking(f->ns), f->ns));
	assert_true(sgpr_key_is_parking(sgpr_key_parking(f->ns), f->ns));
	assert_false(sgpr_key_is_parking(sgpr_key_parking(f->ns), 7));
}

#define TGT(t) cmocka_unit_test_setup_teardown(t, setup_tgt, teardown)
#define SPC(t) cmocka_unit_test_setup_teardown(t, setup_spc, teardown)
#define SPC_VOLATILE(t) cmocka_unit_test_setup_teardown(t, setup_spc_volatile, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TGT(test_release_keeps_fence),
		SPC(test_release_keeps_fence),
		TGT(test_target_restart_after_takeover),
		SPC_VOLATILE(test_target_restart_after_takeover),
		SPC(test_restart_after_release_keeps_fence),
		SPC(test_restart_keeps_holder),
		TGT(test_readopt_expired),
		TGT(test_unanswered_release_never_recovers),
		SPC_VOLATILE(test_unanswered_release_never_recovers),
		TGT(test_host_id_clash),
		SPC(test_host_id_clash),
		TGT(test_short_runs_never_taken),
		TGT(test_paused_watcher_restarts),
		TGT(test_mismatched_settings),
		TGT(test_failed_takeover_leaves_nothing),
		SPC(test_failed_takeover_leaves_nothing),
		SPC(test_takeover_fences_every_path),
		TGT(test_self_fence_any_failure),
		TGT(test_key_layout),
		SPC(test_foreign_holder_on_our_nexus_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
