/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device layer (dev.c, pr.c) on the sim transport: unit attention and BUSY retries on a
 * fake clock, errno mapping, the PREEMPT AND ABORT fallback, READ KEYS re-reads, reconnects
 * with registration recovery, and sgpr_adopt_key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim-fixture.h"

#define KA 0x1111000100000001ull
#define KB 0x1111000200000001ull
#define KA2 0x1111000100000002ull /* A's key after a key change */

#define NAME_A "iqn.2024-01.test:a,i,0x400000000001"
#define NAME_B "iqn.2024-01.test:b,i,0x400000000002"
#define NAME_C "iqn.2024-01.test:c,i,0x400000000003"

struct fx {
	struct sim_fx sim;
	struct sgpr_dev *a, *b;
};

static int fx_setup(void **state, const struct sgpr_sim_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sim_fx_init(&f->sim, cfg), 0);
	f->sim.opts.ua_retries = 4;
	f->sim.opts.busy_retries = 6;
	assert_int_equal(sim_fx_open(&f->sim, NAME_A, &f->a), 0);
	assert_int_equal(sim_fx_open(&f->sim, NAME_B, &f->b), 0);
	*state = f;
	return 0;
}

static int setup_spc(void **state)
{
	struct sgpr_sim_config cfg = sgpr_sim_config_spc();

	return fx_setup(state, &cfg);
}

static int setup_tgt(void **state)
{
	struct sgpr_sim_config cfg = sgpr_sim_config_tgt();

	return fx_setup(state, &cfg);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sim_fx_fini(&f->sim);
	free(f);
	return 0;
}

static const uint8_t tur[6];

static int do_tur(struct sgpr_dev *d, struct sgpr_status *st)
{
	return sgpr_dev_execute(d, tur, sizeof(tur), SGPR_DIR_NONE, NULL, 0, st);
}

/* Setup shared by several tests: A registered with KA and holding WE, B registered with KB. */
static void a_holds_we(struct fx *f)
{
	assert_int_equal(sgpr_register(f->a, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_register(f->b, 0, KB, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->a, KA, SGPR_TYPE_WE, NULL), 0);
}

/* ---- unit attention --------------------------------------------------- */

static void test_ua_absorbed(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;

	/* 29/00 of the login plus two more: resent each time, then GOOD */
	assert_int_equal(sgpr_sim_queue_ua(f->a, 0x2a, 0x03), 0);
	assert_int_equal(sgpr_sim_queue_ua(f->a, 0x2a, 0x04), 0);
	assert_int_equal(do_tur(f->a, &st), 0);
	assert_int_equal(st.status, SGPR_STATUS_GOOD);
	assert_int_equal(st.attempts, 4);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.unit_attentions, 3);
	assert_int_equal(stats.last_ua_asc, 0x2a);
	assert_int_equal(stats.last_ua_ascq, 0x04);
}

static void test_ua_persistent(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	/* a UA that never clears: -EAGAIN with the UA in reterr, never success or conflict */
	assert_int_equal(do_tur(f->a, NULL), 0);
	assert_int_equal(
		sgpr_sim_fail_next(f->a, UINT_MAX, SGPR_STATUS_CHECK_CONDITION, 0x6, 0x2a, 0x03),
		0);
	assert_int_equal(sgpr_register(f->a, 0, KA, false, &st), -EAGAIN);
	assert_int_equal(st.status, SGPR_STATUS_CHECK_CONDITION);
	assert_true(st.sense_valid);
	assert_int_equal(st.sense_key, 0x6);
	assert_int_equal(st.asc, 0x2a);
	assert_int_equal(st.ascq, 0x03);
	assert_int_equal(st.attempts, 1 + f->sim.opts.ua_retries);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
	assert_int_equal(sgpr_reserve(f->a, KA, SGPR_TYPE_WE, &st), -EAGAIN);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), 0);
	sgpr_sim_set_fault(f->a, NULL);
}

static void test_ua_then_conflict(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	bool aborted;

	a_holds_we(f);
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WE, true, &aborted, NULL), 0);
	/* A's write meets 2A/05 first (not a conflict, not success), then the conflict */
	assert_int_equal(sim_fx_write16(f->a, &st), -EBADE);
	assert_int_equal(st.status, SGPR_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(st.attempts, 2);
}

/* ---- BUSY and friends ------------------------------------------------- */

static void assert_growing_backoff(const struct sgpr_sim_clock *c, unsigned n)
{
	assert_int_equal(c->nsleeps, n);
	for (unsigned i = 1; i < n; i++)
		assert_true(c->sleeps[i] >= c->sleeps[i - 1]);
	if (n > 1)
		assert_true(c->sleeps[n - 1] > c->sleeps[0]);
	assert_true(c->sleeps[0] > 0);
}

static void test_busy_backoff(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	uint64_t t0;

	assert_int_equal(do_tur(f->a, NULL), 0);
	t0 = f->sim.clock.now;
	assert_int_equal(sgpr_sim_fail_next(f->a, 3, SGPR_STATUS_BUSY, 0, 0, 0), 0);
	assert_int_equal(do_tur(f->a, &st), 0);
	assert_int_equal(st.attempts, 4);
	assert_growing_backoff(&f->sim.clock, 3);
	assert_true(f->sim.clock.now == t0 + f->sim.clock.slept_ms);
}

static void test_busy_exhausted(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	assert_int_equal(do_tur(f->a, NULL), 0);
	assert_int_equal(sgpr_sim_fail_next(f->a, UINT_MAX, SGPR_STATUS_BUSY, 0, 0, 0), 0);
	assert_int_equal(do_tur(f->a, &st), -EAGAIN);
	assert_int_equal(st.status, SGPR_STATUS_BUSY);
	assert_int_equal(st.attempts, 1 + f->sim.opts.busy_retries);
	assert_growing_backoff(&f->sim.clock, f->sim.opts.busy_retries);
}

static void test_task_set_full_and_not_ready(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	assert_int_equal(do_tur(f->a, NULL), 0);
	assert_int_equal(sgpr_sim_fail_next(f->a, UINT_MAX, SGPR_STATUS_TASK_SET_FULL, 0, 0, 0), 0);
	assert_int_equal(do_tur(f->a, &st), -EAGAIN);
	assert_int_equal(st.status, SGPR_STATUS_TASK_SET_FULL);
	assert_growing_backoff(&f->sim.clock, f->sim.opts.busy_retries);
	/* NOT READY, becoming ready: retried like BUSY */
	assert_int_equal(sgpr_sim_fail_next(f->a, 2, SGPR_STATUS_CHECK_CONDITION, 0x2, 0x04, 0x01),
			 0);
	assert_int_equal(do_tur(f->a, &st), 0);
	assert_int_equal(st.attempts, 3);
	assert_int_equal(f->sim.clock.nsleeps, f->sim.opts.busy_retries + 2);
}

/* ---- errno mapping ---------------------------------------------------- */

static void test_conflict(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	a_holds_we(f);
	assert_int_equal(sim_fx_write16(f->b, &st), -EBADE);
	assert_true(st.answered);
	assert_int_equal(st.status, 0x18);
	assert_int_equal(sgpr_reserve(f->b, KB, SGPR_TYPE_WE, &st), -EBADE);
	assert_int_equal(st.status, 0x18);
	assert_int_equal(st.attempts, 1);
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
}

static void test_illegal_request(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[10] = {0x5f, SGPR_PROUT_PREEMPT_AND_ABORT, SGPR_TYPE_WE, 0, 0, 0, 0, 0, 24, 0};
	uint8_t p[24] = {0};
	struct sgpr_full_status *fs = NULL;
	struct sgpr_status st;

	/* tgt: 24/00 for a missing service action -> -EOPNOTSUPP */
	assert_int_equal(sgpr_dev_execute(f->a, cdb, 10, SGPR_DIR_OUT, p, 24, &st), -EOPNOTSUPP);
	assert_true(st.status == SGPR_STATUS_CHECK_CONDITION && st.sense_key == 0x5 &&
		    st.asc == 0x24 && st.ascq == 0);
	assert_int_equal(sgpr_read_full_status(f->a, &fs, &st), -EOPNOTSUPP);
	assert_true(sgpr_dev_prin_unsupported(f->a, SGPR_PRIN_READ_FULL_STATUS));
	assert_false(sgpr_dev_prin_unsupported(f->a, SGPR_PRIN_READ_KEYS));
	/* RELEASE of the wrong type: 26/04 is an error of the request */
	a_holds_we(f);
	assert_int_equal(sgpr_release(f->a, KA, SGPR_TYPE_EA, &st), -EINVAL);
	assert_true(st.asc == 0x26 && st.ascq == 0x04);
}

static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault flt = {.kind = SGPR_SIM_FAULT_TIMEOUT};
	struct sgpr_status st;

	assert_int_equal(sgpr_sim_set_fault(f->a, &flt), 0);
	assert_int_equal(do_tur(f->a, &st), -ETIMEDOUT);
	assert_false(st.answered);
	assert_true(f->sim.clock.now >= 1000000 + 10000); /* the default command timeout went by */
	assert_int_equal(do_tur(f->a, &st), 0);
}

/* ---- PREEMPT AND ABORT fallback --------------------------------------- */

static void test_preempt_fallback_tgt(void **state)
{
	struct fx *f = *state;
	struct sgpr_reservation res;
	struct sgpr_status st;
	bool aborted = true;
	const uint8_t *cdb;
	unsigned n0;

	a_holds_we(f);
	assert_false(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT_AND_ABORT));
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WE, true, &aborted, &st), 0);
	assert_false(aborted);
	assert_true(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT_AND_ABORT));
	assert_false(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT));
	cdb = sgpr_sim_last_cdb(f->b, NULL);
	assert_int_equal(cdb[1] & 0x1f, SGPR_PROUT_PREEMPT);
	assert_int_equal(sgpr_read_reservation(f->a, &res, NULL), 0);
	assert_true(res.held && res.key == KB && res.type == SGPR_TYPE_WE);
	assert_int_equal(sim_fx_key_count(f->a, KA), 0);
	assert_int_equal(sim_fx_write16(f->a, &st), -EBADE);
	/* remembered: the next one goes straight to PREEMPT, one command */
	assert_int_equal(sgpr_register(f->a, 0, KA, false, NULL), 0);
	n0 = sgpr_sim_commands(f->b);
	aborted = true;
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WE, true, &aborted, &st), 0);
	assert_false(aborted);
	assert_int_equal(sgpr_sim_commands(f->b), n0 + 1);
	assert_int_equal(sgpr_sim_last_cdb(f->b, NULL)[1] & 0x1f, SGPR_PROUT_PREEMPT);
}

static void test_preempt_abort_spc(void **state)
{
	struct fx *f = *state;
	bool aborted = false;

	a_holds_we(f);
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_EA, true, &aborted, NULL), 0);
	assert_true(aborted);
	assert_false(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT_AND_ABORT));
	assert_int_equal(sgpr_sim_last_cdb(f->b, NULL)[1] & 0x1f, SGPR_PROUT_PREEMPT_AND_ABORT);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_EA);
}

static void test_probe(void **state)
{
	struct fx *f = *state;

	/* tgt: both optional service actions found missing, no state changed */
	a_holds_we(f);
	assert_int_equal(sgpr_dev_probe(f->b), 0);
	assert_true(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT_AND_ABORT));
	assert_true(sgpr_dev_prin_unsupported(f->b, SGPR_PRIN_READ_FULL_STATUS));
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_WE);
}

static void test_probe_spc(void **state)
{
	struct fx *f = *state;
	uint32_t gen;

	a_holds_we(f);
	gen = sgpr_sim_lun_generation(f->sim.lun);
	assert_int_equal(sgpr_dev_probe(f->b), 0);
	assert_false(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT_AND_ABORT));
	assert_false(sgpr_dev_prin_unsupported(f->b, SGPR_PRIN_READ_FULL_STATUS));
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), gen);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2);
}

/* ---- PR IN ------------------------------------------------------------ */

static void test_read_keys_reread(void **state)
{
	struct fx *f = *state;
	struct sgpr_keys *keys = NULL;
	struct sgpr_status st;
	char name[64];
	unsigned n0;

	/* far more keys than the first allocation holds */
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "iqn.2024-01.test:h%u", i);
		assert_int_equal(sgpr_sim_lun_add_registration(f->sim.lun, name, 0x9000 + i), 0);
	}
	assert_int_equal(do_tur(f->a, NULL), 0);
	n0 = sgpr_sim_commands(f->a);
	assert_int_equal(sgpr_read_keys(f->a, &keys, &st), 0);
	assert_true(sgpr_sim_commands(f->a) >= n0 + 2);
	assert_int_equal(keys->count, 1000);
	assert_int_equal(keys->generation, 1000);
	for (unsigned i = 0; i < 1000; i++)
		assert_true(keys->keys[i] == 0x9000 + i);
	free(keys);
}

static void test_read_keys_empty(void **state)
{
	struct fx *f = *state;
	struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res = {.held = true};

	assert_int_equal(sgpr_read_keys(f->a, &keys, NULL), 0);
	assert_int_equal(keys->count, 0);
	free(keys);
	assert_int_equal(sgpr_read_reservation(f->a, &res, NULL), 0);
	assert_false(res.held);
}

/* ---- transport loss --------------------------------------------------- */

static void test_reconnect_retry_tgt(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault flt = {.kind = SGPR_SIM_FAULT_DISCONNECT};
	struct sgpr_reservation res;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;
	unsigned s0;

	a_holds_we(f);
	s0 = sgpr_sim_session(f->a);
	assert_int_equal(sgpr_sim_set_fault(f->a, &flt), 0);
	/* the write is lost with the session, resent on the new one after recovery */
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
	assert_int_not_equal(sgpr_sim_session(f->a), s0);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 1);
	/* tgt orphan removed: KA once, and it is this session's, still the holder */
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	assert_int_equal(sim_fx_key_count(f->b, KB), 1);
	assert_int_equal(sgpr_read_reservation(f->b, &res, NULL), 0);
	assert_true(res.held && res.key == KA && res.type == SGPR_TYPE_WE);
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
	assert_int_equal(sim_fx_write16(f->b, &st), -EBADE);
	assert_int_equal(sgpr_release(f->a, KA, SGPR_TYPE_WE, &st), 0);
	assert_int_equal(sgpr_register(f->a, KA, 0, false, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
}

static void test_reconnect_retry_spc(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;

	a_holds_we(f);
	assert_int_equal(sgpr_sim_disconnect(f->a), 0);
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2);
}

/* Safety: a host preempted while it was away must not get its registration back. */
static void test_no_reregister_after_preempt(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;
	bool aborted;

	a_holds_we(f);
	assert_int_equal(sgpr_sim_disconnect(f->a), 0);
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WE, true, &aborted, NULL), 0);
	assert_int_equal(sim_fx_write16(f->a, &st), -EBADE);
	assert_int_equal(st.status, SGPR_STATUS_RESERVATION_CONFLICT);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	/* and it stays out on the next loss too */
	assert_int_equal(sgpr_sim_disconnect(f->a), 0);
	assert_int_equal(sim_fx_write16(f->a, &st), -EBADE);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
}

static void test_no_reregister_after_preempt_spc(void **state)
{
	test_no_reregister_after_preempt(state);
}

static void test_reconnect_refused(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	int r;

	a_holds_we(f);
	assert_int_equal(sgpr_sim_disconnect(f->a), 0);
	assert_int_equal(sgpr_sim_refuse_reconnect(f->a, 100), 0);
	r = sim_fx_write16(f->a, &st);
	assert_true(r < 0);
	assert_int_not_equal(r, -EBADE);
	assert_false(st.answered);
	/* the target comes back */
	assert_int_equal(sgpr_sim_refuse_reconnect(f->a, 0), 0);
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
}

static void test_target_restart(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;

	a_holds_we(f);
	sgpr_sim_lun_restart(f->sim.lun, true);
	/* state lost: the reconnect must not invent a registration, the write just runs */
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 0);
}

/* ---- sgpr_adopt_key --------------------------------------------------- */

static void test_adopt_key_tgt(void **state)
{
	struct fx *f = *state;
	struct sgpr_reservation res;
	struct sgpr_status st;
	struct sgpr_dev *a2;

	a_holds_we(f);
	/* the process restarts: its session ends, its key stays as an orphan */
	f->a = sgpr_dev_free(f->a);
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_A, &f->sim.opts, &a2), 0);
	assert_int_equal(sim_fx_write16(a2, &st), -EBADE);
	assert_int_equal(sgpr_adopt_key(a2, 0x4242, &st), -ENOKEY);
	assert_int_equal(sgpr_adopt_key(a2, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	assert_int_equal(sgpr_read_reservation(f->b, &res, NULL), 0);
	assert_true(res.held && res.key == KA && res.type == SGPR_TYPE_WE);
	assert_int_equal(sim_fx_write16(a2, &st), 0);
	assert_int_equal(sim_fx_write16(f->b, &st), -EBADE);
	/* adopting again is harmless */
	assert_int_equal(sgpr_adopt_key(a2, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	f->a = a2;
}

static void test_adopt_key_unreserved_tgt(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	struct sgpr_dev *a2;

	assert_int_equal(sgpr_register(f->a, 0, KA, false, NULL), 0);
	f->a = sgpr_dev_free(f->a);
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_A, &f->sim.opts, &a2), 0);
	assert_int_equal(sgpr_adopt_key(a2, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(a2, KA), 1);
	/* the adopted registration is this nexus's: it can unregister it */
	assert_int_equal(sgpr_register(a2, KA, 0, false, &st), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
	f->a = a2;
}

static void test_adopt_key_spc(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	struct sgpr_dev *a2;

	a_holds_we(f);
	f->a = sgpr_dev_free(f->a);
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_A, &f->sim.opts, &a2), 0);
	/* SPC: same initiator port, the registration is already ours */
	assert_int_equal(sim_fx_write16(a2, &st), 0);
	assert_int_equal(sgpr_adopt_key(a2, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(a2, KA), 1);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_WE);
	f->a = a2;
}

/* ---- regressions of "libsgpr: fixes found by the sim tests" ---------- */

/*
 * SPC: a PREEMPT AND ABORT refused for one field (SA key 0 against a WE holder: 26/00) is an
 * error of that request, not a missing service action: no fallback to PREEMPT, nothing
 * remembered, and the next valid one still aborts.
 */
static void test_preempt_abort_invalid_field_spc(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	bool aborted = false;
	uint64_t holder = 0;
	int r;

	a_holds_we(f);
	r = sgpr_preempt(f->b, KB, 0, SGPR_TYPE_WE, true, &aborted, &st);
	assert_true(r < 0);
	assert_int_equal(st.status, SGPR_STATUS_CHECK_CONDITION);
	assert_true(st.sense_valid && st.sense_key == 0x5 && st.asc == 0x26 && st.ascq == 0);
	assert_false(aborted);
	assert_false(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT_AND_ABORT));
	assert_int_equal(sgpr_sim_last_cdb(f->b, NULL)[1] & 0x1f, SGPR_PROUT_PREEMPT_AND_ABORT);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, &holder), SGPR_TYPE_WE);
	assert_true(holder == KA);

	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WE, true, &aborted, &st), 0);
	assert_true(aborted);
	assert_int_equal(sgpr_sim_last_cdb(f->b, NULL)[1] & 0x1f, SGPR_PROUT_PREEMPT_AND_ABORT);
	assert_false(sgpr_dev_prout_unsupported(f->b, SGPR_PROUT_PREEMPT_AND_ABORT));
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, &holder), SGPR_TYPE_WE);
	assert_true(holder == KB);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
}

/* The DISCONNECT fault of the next PR OUT, after the command took effect. */
static void lose_answer_of_next_prout(struct sgpr_dev *d)
{
	struct sgpr_sim_fault flt = {
		.kind = SGPR_SIM_FAULT_DISCONNECT,
		.match_opcode = true,
		.opcode = 0x5f,
		.executed = true,
	};

	assert_int_equal(sgpr_sim_set_fault(d, &flt), 0);
}

/*
 * A key change KA -> KA2 that ran on the target but whose answer was lost: the resend can only
 * conflict, and the change is done. The reconnect must find KA2, keep it (tgt: once, no orphan)
 * with the reservation, and report success.
 */
static void test_key_change_lost(void **state)
{
	struct fx *f = *state;
	struct sgpr_reservation res;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;
	unsigned s0;

	a_holds_we(f);
	s0 = sgpr_sim_session(f->a);
	lose_answer_of_next_prout(f->a);
	assert_int_equal(sgpr_register(f->a, KA, KA2, false, &st), 0);
	assert_int_not_equal(sgpr_sim_session(f->a), s0);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 1);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(sim_fx_key_count(f->b, KB), 1);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2);
	assert_int_equal(sgpr_read_reservation(f->b, &res, NULL), 0);
	assert_true(res.held && res.key == KA2 && res.type == SGPR_TYPE_WE);
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
	assert_int_equal(sim_fx_write16(f->b, &st), -EBADE);
	/* the handle goes on under KA2 */
	assert_int_equal(sgpr_release(f->a, KA2, SGPR_TYPE_WE, &st), 0);
	assert_int_equal(sgpr_register(f->a, KA2, 0, false, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 0);
}

static void test_key_change_lost_spc(void **state)
{
	test_key_change_lost(state);
}

/* An unregister that ran before the answer was lost is a success, and stays done. */
static void test_unregister_lost(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;

	/* no reservation: a release would queue 2A/04 on tgt, and a UA stops the command */
	assert_int_equal(sgpr_register(f->a, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_register(f->b, 0, KB, false, NULL), 0);
	lose_answer_of_next_prout(f->a);
	assert_int_equal(sgpr_register(f->a, KA, 0, false, &st), 0);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(sim_fx_key_count(f->b, KB), 1);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
}

static void test_unregister_lost_spc(void **state)
{
	test_unregister_lost(state);
}

/* A first REGISTER 0 -> KA ran, its answer was lost: KA is adopted once, and the call succeeds. */
static void test_first_register_lost(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;

	assert_int_equal(sgpr_register(f->b, 0, KB, false, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->a, KA), 0); /* takes the login UA out of the way */
	lose_answer_of_next_prout(f->a);
	assert_int_equal(sgpr_register(f->a, 0, KA, false, &st), 0);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 1);
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2);
	/* this nexus really holds KA: it can reserve with it */
	assert_int_equal(sgpr_reserve(f->a, KA, SGPR_TYPE_WE, NULL), 0);
	assert_int_equal(sim_fx_write16(f->a, &st), 0);
}

static void test_first_register_lost_spc(void **state)
{
	test_first_register_lost(state);
}

/*
 * Safety: the session is lost before a key change KA -> KA2 ran, and another host preempts KA
 * before the reconnect. Neither key may come back: the change fails with the conflict.
 */
static void test_key_change_lost_after_preempt(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;
	bool aborted;

	a_holds_we(f);
	assert_int_equal(sgpr_sim_disconnect(f->a), 0);
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WE, true, &aborted, NULL), 0);
	assert_int_equal(sgpr_register(f->a, KA, KA2, false, &st), -EBADE);
	assert_int_equal(st.status, SGPR_STATUS_RESERVATION_CONFLICT);
	sgpr_dev_get_stats(f->a, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sim_fx_write16(f->a, &st), -EBADE);
	assert_int_equal(st.status, SGPR_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 0);
}

static void test_key_change_lost_after_preempt_spc(void **state)
{
	test_key_change_lost_after_preempt(state);
}

/* stats.unit_attentions counts the UAs a retry absorbed, not the final one that was returned. */
static void test_ua_count_only_retries(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_opts opts = f->sim.opts;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;
	struct sgpr_dev *c;

	opts.ua_retries = 3;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &opts, &c), 0);
	assert_int_equal(
		sgpr_sim_fail_next(c, UINT_MAX, SGPR_STATUS_CHECK_CONDITION, 0x6, 0x2a, 0x03), 0);
	assert_int_equal(do_tur(c, &st), -EAGAIN);
	assert_int_equal(st.attempts, 4);
	assert_int_equal(st.sense_key, 0x6);
	sgpr_dev_get_stats(c, &stats);
	assert_int_equal(stats.unit_attentions, 3);
	assert_int_equal(stats.last_ua_asc, 0x2a);
	assert_int_equal(stats.last_ua_ascq, 0x03);
	sgpr_dev_free(c);
}

/*
 * struct sgpr_dev_opts grows through its size field (sgpr_opts_copy()): the smaller struct of
 * an older caller gets the defaults for the fields it lacks, whatever its memory holds past
 * size; the larger struct of a newer caller is taken when the fields this library does not know
 * are zero and refused with -E2BIG otherwise; a size that was never set is -EINVAL.
 */
static void test_opts_size(void **state)
{
	struct fx *f = *state;
	struct {
		struct sgpr_dev_opts o;
		uint64_t newer[2];
	} big;
	struct sgpr_sim_clock ck;
	struct sgpr_dev *c = NULL;

	memset(&big, 0xa5, sizeof(big));
	big.o.size = offsetof(struct sgpr_dev_opts, timeout_ms);
	big.o.initiator = NULL;
	big.o.host_id = 0;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &big.o, &c), 0);
	assert_int_equal(c->opts.size, sizeof(struct sgpr_dev_opts));
	assert_int_equal(c->opts.timeout_ms, SGPR_DEFAULT_TIMEOUT_MS);
	assert_int_equal(c->opts.ua_retries, SGPR_DEFAULT_UA_RETRIES);
	assert_ptr_equal(c->opts.clock, sgpr_clock_default());
	assert_null(c->opts.log_fn);
	assert_false(c->opts.observer_isid);
	c = sgpr_dev_free(c);

	memset(&big, 0, sizeof(big));
	big.o = f->sim.opts;
	big.o.size = sizeof(big);
	big.o.ua_retries = 3;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &big.o, &c), 0);
	assert_int_equal(c->opts.ua_retries, 3);
	assert_int_equal(c->opts.size, sizeof(struct sgpr_dev_opts));
	c = sgpr_dev_free(c);
	big.newer[1] = 1;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &big.o, &c), -E2BIG);
	assert_null(c);
	big.newer[1] = 0;
	big.o.size = 1u << 20;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &big.o, &c), -E2BIG);
	big.o.size = 0;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &big.o, &c), -EINVAL);
	assert_int_equal(sgpr_dev_open("iscsi://127.0.0.1/iqn.x/0", &big.o, &c), -EINVAL);
	assert_null(c);

	/* struct sgpr_clock's reserved hooks must be NULL */
	sgpr_sim_clock_init(&ck);
	ck.clock.reserved[3] = &ck;
	big.o = f->sim.opts;
	big.o.clock = &ck.clock;
	assert_int_equal(sgpr_sim_open(f->sim.lun, NAME_C, &big.o, &c), -EINVAL);
	assert_null(c);
}

#define SPC(t) cmocka_unit_test_setup_teardown(t, setup_spc, teardown)
#define TGT(t) cmocka_unit_test_setup_teardown(t, setup_tgt, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SPC(test_ua_absorbed),
		TGT(test_ua_persistent),
		SPC(test_ua_then_conflict),
		SPC(test_busy_backoff),
		SPC(test_busy_exhausted),
		SPC(test_task_set_full_and_not_ready),
		SPC(test_conflict),
		TGT(test_illegal_request),
		SPC(test_timeout),
		TGT(test_preempt_fallback_tgt),
		SPC(test_preempt_abort_spc),
		TGT(test_probe),
		SPC(test_probe_spc),
		SPC(test_read_keys_reread),
		TGT(test_read_keys_empty),
		TGT(test_reconnect_retry_tgt),
		SPC(test_reconnect_retry_spc),
		TGT(test_no_reregister_after_preempt),
		SPC(test_no_reregister_after_preempt_spc),
		SPC(test_reconnect_refused),
		TGT(test_target_restart),
		TGT(test_adopt_key_tgt),
		TGT(test_adopt_key_unreserved_tgt),
		SPC(test_adopt_key_spc),
		SPC(test_preempt_abort_invalid_field_spc),
		TGT(test_key_change_lost),
		SPC(test_key_change_lost_spc),
		TGT(test_unregister_lost),
		SPC(test_unregister_lost_spc),
		TGT(test_first_register_lost),
		SPC(test_first_register_lost_spc),
		TGT(test_key_change_lost_after_preempt),
		SPC(test_key_change_lost_after_preempt_spc),
		SPC(test_ua_count_only_retries),
		SPC(test_opts_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
