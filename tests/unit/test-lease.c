/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lease engine (lease.c) on the sim transport with a fake clock: acquire, renew, takeover
 * of a dead owner, a live owner never stolen from, classification of failed renewals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lease-fixture.h"

/* Observe every period for ms without the holder dying (a watch needs regular looks). */
static void watch(struct fx *f, struct sgpr_lease *l, unsigned ms)
{
	for (unsigned t = 0; t + PERIOD <= ms; t += PERIOD) {
		sim_fx_advance(&f->sim, PERIOD);
		assert_int_equal(observe(l), SGPR_LEASE_NONE);
	}
	if (ms % PERIOD) {
		sim_fx_advance(&f->sim, ms % PERIOD);
		assert_int_equal(observe(l), SGPR_LEASE_NONE);
	}
}

static void a_acquires(struct fx *f)
{
	enum sgpr_lease_event ev;

	assert_int_equal(sgpr_lease_acquire(f->la, &ev), 0);
	assert_int_equal(ev, SGPR_LEASE_ACQUIRED);
}

static void test_acquire_and_conflict(void **state)
{
	struct fx *f = *state;
	enum sgpr_lease_event ev;
	uint64_t key;

	a_acquires(f);
	key = sgpr_lease_key(f->la);
	assert_int_equal(sgpr_key_split(key).host_id, 1);
	assert_int_equal(sgpr_key_period_ms(key, f->ns), PERIOD); /* the key announces L */
	assert_int_equal(sim_fx_holder(&f->sim), key);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_HELD);
	assert_int_equal(sgpr_lease_acquire(f->lb, &ev), -EBADE);
	assert_int_equal(sgpr_lease_get_state(f->lb), SGPR_LEASE_IDLE);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1); /* the loser left nothing */
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
	assert_int_equal(sim_fx_write16(f->b, NULL), -EBADE);
}

static void test_renew_moves_epoch(void **state)
{
	struct fx *f = *state;

	uint32_t first;

	a_acquires(f);
	first = sgpr_key_split(sgpr_lease_key(f->la)).epoch;
	for (unsigned i = 1; i < 5; i++) {
		sim_fx_advance(&f->sim, PERIOD);
		assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
		assert_int_equal(sgpr_key_split(sgpr_lease_key(f->la)).epoch, first + i);
		assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
		assert_int_equal(sgpr_lease_last_renewal_ms(f->la), f->sim.clock.now);
	}
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
}

/* A renewing owner is never taken over, however long the observer watches. */
static void test_live_owner_never_stolen(void **state)
{
	struct fx *f = *state;

	a_acquires(f);
	for (int i = 0; i < 30; i++) {
		sim_fx_advance(&f->sim, PERIOD);
		assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
		assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
		assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	}
	assert_int_equal(sgpr_lease_get_state(f->lb), SGPR_LEASE_IDLE);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
}

/* The owner stops renewing: taken over within dead_after + one period, and fenced. */
static void test_dead_owner_taken_over(void **state)
{
	struct fx *f = *state;
	uint64_t old, start = 0;
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;

	a_acquires(f);
	old = sgpr_lease_key(f->la);
	for (int i = 0; i < 20 && ev != SGPR_LEASE_TAKEN_OVER; i++) {
		ev = observe(f->lb);
		if (!start)
			start = f->sim.clock.now;
		if (ev != SGPR_LEASE_TAKEN_OVER)
			sim_fx_advance(&f->sim, PERIOD);
	}
	assert_int_equal(ev, SGPR_LEASE_TAKEN_OVER);
	assert_true(f->sim.clock.now - start >= DEAD_AFTER);
	assert_true(f->sim.clock.now - start <= DEAD_AFTER + PERIOD);
	assert_int_equal(sgpr_lease_last_holder(f->lb), old);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->lb));
	assert_int_equal(sgpr_key_split(sgpr_lease_key(f->lb)).host_id, 2);
	/* the old owner wakes up: the target refuses it, and its renewal reports the loss */
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
	assert_int_equal(renew(f->la), SGPR_LEASE_LOST_PREEMPTED);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_LOST);
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
	assert_int_equal(sim_fx_write16(f->b, NULL), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
}

/* The holder renews between the observer's look and its PREEMPT: the target says no. */
static void test_takeover_refused_when_holder_renewed(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault rc = {
		.kind = SGPR_SIM_FAULT_STATUS,
		.status = SGPR_STATUS_RESERVATION_CONFLICT,
		.match_opcode = true,
		.opcode = 0x5f,
		.skip = 1, /* the REGISTER passes, the PREEMPT conflicts */
		.count = 1,
	};

	a_acquires(f);
	assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
	watch(f, f->lb, DEAD_AFTER - 1);
	sim_fx_advance(&f->sim, 1);
	assert_int_equal(sgpr_sim_set_fault(f->b, &rc), 0);
	assert_int_equal(observe(f->lb), SGPR_LEASE_HOLDER_ALIVE);
	assert_int_equal(sgpr_lease_get_state(f->lb), SGPR_LEASE_IDLE);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun),
			 1); /* the challenger unregistered */
	assert_int_equal(sim_fx_write16(f->b, NULL), -EBADE);
}

/* A key change seen by the observer restarts its dead_after clock. */
static void test_key_change_resets_observation(void **state)
{
	struct fx *f = *state;

	a_acquires(f);
	watch(f, f->lb, DEAD_AFTER - 1);
	assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
	sim_fx_advance(&f->sim, 2);
	assert_int_equal(observe(f->lb), SGPR_LEASE_NONE); /* new key: watch again */
	watch(f, f->lb, DEAD_AFTER - 1);
	sim_fx_advance(&f->sim, 1);
	assert_int_equal(observe(f->lb), SGPR_LEASE_TAKEN_OVER);
}

/*
 * An acquire refused by a live holder, then observe on the same lease (prlockd's
 * "acquire --wait"): the holder's dead_after clock starts at the acquire, not at 0.
 */
static void test_acquire_then_observe_never_steals(void **state)
{
	struct fx *f = *state;
	enum sgpr_lease_event ev;

	a_acquires(f);
	assert_int_equal(sgpr_lease_acquire(f->lb, &ev), -EBADE);
	assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
	watch(f, f->lb, DEAD_AFTER - 1);
	assert_int_equal(sgpr_lease_get_state(f->lb), SGPR_LEASE_IDLE);
	sim_fx_advance(&f->sim, 1);
	assert_int_equal(observe(f->lb), SGPR_LEASE_TAKEN_OVER);
}

static void test_static_never_dead(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_lease *st;
	enum sgpr_lease_event ev;

	o.static_lease = true;
	assert_int_equal(sgpr_lease_new(f->a, &o, &st), 0);
	assert_int_equal(sgpr_lease_acquire(st, &ev), 0);
	assert_int_equal(sgpr_key_split(sgpr_lease_key(st)).epoch, 0);
	for (int i = 0; i < 10; i++) {
		sim_fx_advance(&f->sim, DEAD_AFTER);
		assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
	}
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(st));
	assert_int_equal(renew(st), SGPR_LEASE_RENEWED); /* checked, key unchanged */
	assert_int_equal(sgpr_key_split(sgpr_lease_key(st)).epoch, 0);
	sgpr_lease_free(st);
}

/* A holder of another namespace (another tool, another install) only with force. */
static void test_foreign_holder_needs_force(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 2);
	struct sgpr_lease *forced;
	uint64_t foreign = 0xfeed000000000001ull;

	assert_int_equal(sgpr_register(f->a, 0, foreign, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->a, foreign, SGPR_TYPE_WERO, NULL), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(observe(f->lb), SGPR_LEASE_NONE);
		sim_fx_advance(&f->sim, PERIOD);
	}
	assert_int_equal(sim_fx_holder(&f->sim), foreign);
	o.force = true;
	assert_int_equal(sgpr_lease_new(f->b, &o, &forced), 0);
	/* force watches the foreign key by the lease rule too: never dead at once */
	assert_int_equal(observe(forced), SGPR_LEASE_NONE);
	watch(f, forced, DEAD_AFTER - 1);
	assert_int_equal(sim_fx_holder(&f->sim), foreign);
	sim_fx_advance(&f->sim, 1);
	assert_int_equal(observe(forced), SGPR_LEASE_TAKEN_OVER);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(forced));
	sgpr_lease_free(forced);
}

/* The target restarts and forgets everything: the owner re-establishes. */
static void test_target_restart_recovered(void **state)
{
	struct fx *f = *state;
	uint64_t before;

	a_acquires(f);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
	before = sgpr_lease_key(f->la);
	sgpr_sim_lun_restart(f->sim.lun, false);
	assert_int_equal(sim_fx_holder(&f->sim), 0);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_RECOVERED);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_HELD);
	assert_int_not_equal(sgpr_lease_key(f->la), before);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
	assert_int_equal(sim_fx_write16(f->b, NULL), -EBADE);
}

/* The target restarts and another host reserves first: lost, and the owner does not linger. */
static void test_target_restart_taken(void **state)
{
	struct fx *f = *state;
	enum sgpr_lease_event ev;

	a_acquires(f);
	for (int i = 0; i < 3; i++) { /* a generation well above what B's acquisition reaches */
		sim_fx_advance(&f->sim, PERIOD);
		assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
	}
	sgpr_sim_lun_restart(f->sim.lun, false);
	assert_int_equal(sgpr_lease_acquire(f->lb, &ev), 0);
	assert_int_equal(ev, SGPR_LEASE_ACQUIRED);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_LOST_TARGET);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_LOST);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->lb));
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
}

static void test_cleared_is_lost(void **state)
{
	struct fx *f = *state;

	a_acquires(f);
	assert_int_equal(sgpr_register(f->b, 0, 0xfeed000000000002ull, false, NULL), 0);
	assert_int_equal(sgpr_clear(f->b, 0xfeed000000000002ull, NULL), 0);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_LOST_CLEARED);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_LOST);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
}

/* The session drops (tgt: the registration stays behind as an orphan): the lease survives. */
static void test_connection_drop_survived(void **state)
{
	struct fx *f = *state;

	a_acquires(f);
	assert_int_equal(sgpr_sim_disconnect(f->a), 0);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
}

/* A renewal times out but the target carries it out later: the lease is kept, not lost. */
static void test_late_renewal_kept(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault late = {
		.kind = SGPR_SIM_FAULT_TIMEOUT,
		.match_opcode = true,
		.opcode = 0x5f,
		.executed = true,
	};

	a_acquires(f);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(sgpr_sim_set_fault(f->a, &late), 0);
	assert_int_equal(renew(f->la), SGPR_LEASE_UNREACHABLE);
	/* it did take effect */
	assert_int_equal(sim_fx_holder(&f->sim) & SGPR_EPOCH_COUNTER_MASK,
			 (sgpr_lease_key(f->la) + 1) & SGPR_EPOCH_COUNTER_MASK);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_not_equal(renew(f->la), SGPR_LEASE_LOST_PREEMPTED);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_HELD);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sim_fx_write16(f->a, NULL), 0);
}

/* Storage unreachable is not a lost lease; self-fencing is an option. */
static void test_unreachable_and_self_fence(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 3);
	struct sgpr_dev *c;
	struct sgpr_lease *lc;
	enum sgpr_lease_event ev;

	o.self_fence_after_ms = 3 * PERIOD;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &f->sim.opts, &c), 0);
	assert_int_equal(sgpr_lease_new(c, &o, &lc), 0);
	assert_int_equal(sgpr_lease_acquire(lc, &ev), 0);
	assert_int_equal(sgpr_sim_disconnect(c), 0);
	assert_int_equal(sgpr_sim_refuse_reconnect(c, 1000), 0);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(lc), SGPR_LEASE_UNREACHABLE);
	assert_int_equal(sgpr_lease_get_state(lc), SGPR_LEASE_HELD);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(lc), SGPR_LEASE_UNREACHABLE);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(lc), SGPR_LEASE_LOST_SELF_FENCED);
	assert_int_equal(sgpr_lease_get_state(lc), SGPR_LEASE_LOST);
	sgpr_lease_free(lc);
	sgpr_dev_free(c);
}

/*
 * A peer that registered and died mid-takeover, and a static registration of another host
 * (both can write under registrants-only types), are removed at the holder's next renewal;
 * foreign keys are not.
 */
static void test_lingering_peer_removed(void **state)
{
	struct fx *f = *state;
	uint64_t peer = sgpr_key_make(f->ns, 7, 1), stat = sgpr_key_make(f->ns, 8, 0);
	uint64_t foreign = 0xfeed000000000003ull;
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;
	int periods = 0;

	a_acquires(f);
	assert_int_equal(sgpr_sim_lun_add_registration(f->sim.lun, NAME_C, peer), 0);
	assert_int_equal(sgpr_sim_lun_add_registration(f->sim.lun, "iqn.2024-01.test:d", stat), 0);
	assert_int_equal(sgpr_sim_lun_add_registration(f->sim.lun, "iqn.2024-01.test:e", foreign),
			 0);
	while (ev != SGPR_LEASE_PEER_REMOVED && periods++ < 10) {
		sim_fx_advance(&f->sim, PERIOD);
		ev = renew(f->la);
	}
	assert_int_equal(ev, SGPR_LEASE_PEER_REMOVED);
	assert_int_equal(periods, 1); /* at the first renewal: every registrant could write */
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2); /* ours, foreign */
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->la));
}

/*
 * A new process of the same host (daemon restart) adopts the held lease when it recorded that
 * key; a process that did not record it never adopts it.
 */
static void test_restart_adopts(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_dev *a2;
	struct sgpr_lease *la2;
	enum sgpr_lease_event ev;
	uint64_t key;

	a_acquires(f);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(f->la), SGPR_LEASE_RENEWED);
	key = sgpr_lease_key(f->la);
	sgpr_lease_free(f->la);
	f->la = NULL;
	sgpr_dev_free(f->a); /* the old process is gone; tgt keeps its registration */
	f->a = NULL;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_A, &f->sim.opts, &a2), 0);
	assert_int_equal(sgpr_lease_new(a2, &o, &la2), 0);
	assert_int_equal(sgpr_lease_acquire(la2, &ev), -EBADE); /* not recorded: not ours */
	sgpr_lease_free(la2);
	o.adopt_key = key;
	o.adopt_confirmed_ms = f->sim.clock.now;
	assert_int_equal(sgpr_lease_new(a2, &o, &la2), 0);
	assert_int_equal(sgpr_lease_acquire(la2, &ev), 0);
	assert_int_equal(ev, SGPR_LEASE_ADOPTED);
	/* renewed at once: a watcher sees the key change again */
	assert_int_equal(sgpr_lease_key(la2), key + 1);
	assert_int_equal(sim_fx_holder(&f->sim), key + 1);
	sim_fx_advance(&f->sim, PERIOD);
	assert_int_equal(renew(la2), SGPR_LEASE_RENEWED);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sim_fx_write16(a2, NULL), 0);
	sgpr_lease_free(la2);
	sgpr_dev_free(a2);
}

static void test_release(void **state)
{
	struct fx *f = *state;
	enum sgpr_lease_event ev;

	a_acquires(f);
	assert_int_equal(sgpr_lease_release(f->la), 0);
	assert_int_equal(sgpr_lease_get_state(f->la), SGPR_LEASE_IDLE);
	assert_int_equal(sim_fx_holder(&f->sim),
			 sgpr_key_parking(f->ns)); /* parked, still fencing */
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sim_fx_write16(f->b, NULL), -EBADE);
	assert_int_equal(sgpr_lease_acquire(f->lb, &ev), 0);
	assert_int_equal(ev, SGPR_LEASE_ACQUIRED);
	assert_int_equal(sim_fx_holder(&f->sim), sgpr_lease_key(f->lb));
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1); /* the parker's is gone */
	assert_int_equal(sim_fx_write16(f->a, NULL), -EBADE);
	assert_int_equal(sim_fx_write16(f->b, NULL), 0);
	assert_int_equal(sgpr_lease_renew(f->la, &ev), -ENOLCK);
}

static void test_bad_options(void **state)
{
	struct fx *f = *state;
	struct sgpr_lease_opts o = lease_opts(f, 1);
	struct sgpr_lease *l;

	o.dead_after_ms = PERIOD;
	assert_int_equal(sgpr_lease_new(f->a, &o, &l), -EINVAL);
	o = lease_opts(f, 0);
	assert_int_equal(sgpr_lease_new(f->a, &o, &l), -EINVAL);
	o = lease_opts(f, 1);
	o.type = 2;
	assert_int_equal(sgpr_lease_new(f->a, &o, &l), -EINVAL);
	assert_string_equal(sgpr_lease_event_name(SGPR_LEASE_TAKEN_OVER), "taken-over");
	assert_null(sgpr_lease_event_name((enum sgpr_lease_event)99));
}

/* struct sgpr_lease_opts grows as struct sgpr_dev_opts (test-dev.c test_opts_size) */
static void test_opts_size(void **state)
{
	struct fx *f = *state;
	struct {
		struct sgpr_lease_opts o;
		uint64_t newer;
	} big;
	struct sgpr_lease *l = NULL;

	/* an older caller without period_ms and what follows: the defaults, not the garbage */
	memset(&big, 0xa5, sizeof(big));
	big.o.size = offsetof(struct sgpr_lease_opts, period_ms);
	big.o.ns = f->ns;
	big.o.host_id = 1;
	big.o.type = 0;
	assert_int_equal(sgpr_lease_new(f->a, &big.o, &l), 0);
	assert_int_equal(sgpr_lease_dead_after_ms(l),
			 SGPR_LEASE_DEAD_FLOOR_MS(SGPR_LEASE_PERIOD_MS_DEFAULT));
	assert_int_equal(sgpr_lease_key(l), 0);
	l = sgpr_lease_free(l);

	memset(&big, 0, sizeof(big));
	big.o = lease_opts(f, 1);
	big.o.size = sizeof(big);
	assert_int_equal(sgpr_lease_new(f->a, &big.o, &l), 0);
	assert_int_equal(sgpr_lease_dead_after_ms(l), DEAD_AFTER);
	l = sgpr_lease_free(l);
	big.newer = 1;
	assert_int_equal(sgpr_lease_new(f->a, &big.o, &l), -E2BIG);
	assert_null(l);
	big.o.size = 0;
	assert_int_equal(sgpr_lease_new(f->a, &big.o, &l), -EINVAL);
	assert_null(l);
}

#define TGT(t) cmocka_unit_test_setup_teardown(t, setup_tgt, teardown)
#define SPC(t) cmocka_unit_test_setup_teardown(t, setup_spc, teardown)
#define SPC_VOLATILE(t) cmocka_unit_test_setup_teardown(t, setup_spc_volatile, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TGT(test_acquire_and_conflict),
		SPC(test_acquire_and_conflict),
		TGT(test_renew_moves_epoch),
		TGT(test_live_owner_never_stolen),
		SPC(test_live_owner_never_stolen),
		TGT(test_dead_owner_taken_over),
		SPC(test_dead_owner_taken_over),
		TGT(test_takeover_refused_when_holder_renewed),
		TGT(test_key_change_resets_observation),
		TGT(test_acquire_then_observe_never_steals),
		TGT(test_static_never_dead),
		TGT(test_foreign_holder_needs_force),
		TGT(test_target_restart_recovered),
		SPC_VOLATILE(test_target_restart_recovered),
		TGT(test_target_restart_taken),
		TGT(test_cleared_is_lost),
		TGT(test_connection_drop_survived),
		SPC(test_connection_drop_survived),
		TGT(test_unreachable_and_self_fence),
		TGT(test_late_renewal_kept),
		SPC(test_late_renewal_kept),
		TGT(test_lingering_peer_removed),
		TGT(test_restart_adopts),
		TGT(test_release),
		TGT(test_bad_options),
		SPC(test_opts_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
