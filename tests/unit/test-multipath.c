/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Several paths (I_T nexuses) in one handle, on the sim: REGISTER on every path, other commands
 * on one working path with failover, failed paths reported, sgpr_adopt_key and reconnect
 * recovery keeping every path registered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <cmocka.h>

#include "sim-fixture.h"

#define KA 0x1111000100000001ull
#define KA2 0x1111000100000002ull
#define KB 0x1111000200000001ull

#define NAME_P0 "iqn.2024-01.test:a,i,0x400000000001"
#define NAME_P1 "iqn.2024-01.test:a,i,0x400000000011"
#define NAME_B "iqn.2024-01.test:b,i,0x400000000002"

static const char *const path_names[] = {NAME_P0, NAME_P1};

struct fx {
	struct sim_fx sim;
	struct sgpr_dev *m, *b; /* m: two paths of host A; b: host B */
};

static int fx_setup(void **state, const struct sgpr_sim_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sim_fx_init(&f->sim, cfg), 0);
	assert_int_equal(sim_fx_open_paths(&f->sim, path_names, 2, NULL, &f->m), 0);
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

/* WRITE(16) of block 0 on path i of d (i < 0: the handle's choice). */
static int write16(struct sgpr_dev *d, int i, struct sgpr_status *st)
{
	return sim_fx_rw16(d, i, true, 0, NULL, st);
}

static void cmds(const struct fx *f, unsigned ret[2])
{
	ret[0] = sgpr_sim_path_commands(f->m, 0);
	ret[1] = sgpr_sim_path_commands(f->m, 1);
}

static void test_path_api(void **state)
{
	struct fx *f = *state;

	assert_int_equal(sgpr_dev_path_count(f->m), 2);
	assert_string_equal(sgpr_dev_path_name(f->m, 0), NAME_P0);
	assert_string_equal(sgpr_dev_path_name(f->m, 1), NAME_P1);
	assert_null(sgpr_dev_path_name(f->m, 2));
	assert_false(sgpr_dev_path_failed(f->m, 0));
	assert_false(sgpr_dev_path_failed(f->m, 1));
	assert_int_equal(sgpr_dev_path_error(f->m, 1), 0);
	assert_null(sgpr_dev_lun_id(f->m));
	/* a single-path handle has one path, named by its target */
	assert_int_equal(sgpr_dev_path_count(f->b), 1);
	assert_string_equal(sgpr_dev_path_name(f->b, 0), sgpr_dev_target(f->b));
	assert_null(sgpr_dev_path_name(f->b, 1));
	assert_false(sgpr_dev_path_failed(f->b, 0));
	assert_int_equal(sgpr_dev_path_count(NULL), -EINVAL);
	assert_null(sgpr_dev_path_name(NULL, 0));
}

static void test_register_every_path(void **state)
{
	struct fx *f = *state;
	struct sgpr_full_status *fs = NULL;
	int r;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 2);
	/* one registration per I_T nexus (tgt has no READ FULL STATUS) */
	r = sgpr_read_full_status(f->b, &fs, NULL);
	if (r != -EOPNOTSUPP) {
		assert_int_equal(r, 0);
		assert_int_equal(fs->count, 2);
		assert_int_equal(
			strcasecmp(fs->entries[0].tid.iscsi_name, fs->entries[1].tid.iscsi_name),
			0);
		assert_memory_not_equal(fs->entries[0].tid.isid, fs->entries[1].tid.isid, 6);
		free(fs);
	}
	/* key change (renewal) and unregister on every path too */
	assert_int_equal(sgpr_register(f->m, KA, KA2, false, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 2);
	assert_int_equal(sgpr_register(f->m, 0, KA, true, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
	assert_int_equal(sgpr_register(f->m, KA, 0, false, NULL), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
}

static void test_other_commands_one_path(void **state)
{
	struct fx *f = *state;
	struct sgpr_reservation res;
	unsigned c0[2], c1[2];

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	cmds(f, c0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(sgpr_read_reservation(f->m, &res, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->m, KA), 2);
	assert_int_equal(write16(f->m, -1, NULL), 0);
	cmds(f, c1);
	/* all on the current path (path 0), nothing on path 1 */
	assert_int_equal(c1[0] - c0[0], 4);
	assert_int_equal(c1[1], c0[1]);
	assert_true(res.held && res.key == KA && res.type == SGPR_TYPE_WERO);
	/* WERO: both registered paths of the holder may write, B may not */
	assert_int_equal(write16(f->m, 0, NULL), 0);
	assert_int_equal(write16(f->m, 1, NULL), 0);
	assert_int_equal(write16(f->b, -1, NULL), -EBADE);
}

static void test_down_path_skipped(void **state)
{
	struct fx *f = *state;
	struct sgpr_keys *keys = NULL;
	unsigned c0[2], c1[2];

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 0, true), 0);
	assert_int_equal(sgpr_read_keys(f->m, &keys, NULL), 0);
	assert_int_equal(keys->count, 2);
	free(keys);
	assert_true(sgpr_dev_path_failed(f->m, 0));
	assert_int_not_equal(sgpr_dev_path_error(f->m, 0), 0);
	assert_false(sgpr_dev_path_failed(f->m, 1));
	/* the failed path is not tried again while path 1 works */
	cmds(f, c0);
	assert_int_equal(sim_fx_key_count(f->m, KA), 2);
	assert_int_equal(write16(f->m, -1, NULL), 0);
	cmds(f, c1);
	assert_int_equal(c1[0], c0[0]);
	assert_int_equal(c1[1] - c0[1], 2);
	/* the renewal goes to the working path only and succeeds */
	assert_int_equal(sgpr_register(f->m, KA, KA2, false, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 1);
	assert_int_equal(sim_fx_key_count(f->b, KA), 1); /* path 0 still holds the old key */
	assert_true(sgpr_dev_path_failed(f->m, 0));
	/* path 0 comes back: sgpr_adopt_key brings it in with the current key */
	assert_int_equal(sgpr_sim_path_down(f->m, 0, false), 0);
	assert_int_equal(sgpr_adopt_key(f->m, KA2, NULL), 0);
	assert_false(sgpr_dev_path_failed(f->m, 0));
	assert_int_equal(sim_fx_key_count(f->b, KA2), 2);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
}

static void test_register_one_path_down(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	assert_int_equal(sgpr_sim_path_down(f->m, 1, true), 0);
	assert_int_equal(sgpr_register(f->m, 0, KA, false, &st), 0);
	assert_true(st.answered);
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	assert_true(sgpr_dev_path_failed(f->m, 1));
	assert_false(sgpr_dev_path_failed(f->m, 0));
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(write16(f->m, -1, NULL), 0);
}

static void test_register_scsi_error_reported(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault flt = {
		.kind = SGPR_SIM_FAULT_STATUS,
		.status = SGPR_STATUS_RESERVATION_CONFLICT,
		.match_opcode = true,
		.opcode = 0x5f,
	};
	struct sgpr_status st;

	assert_int_equal(sim_fx_key_count(f->m, KA), 0);
	assert_int_equal(sgpr_sim_path_fault(f->m, 1, &flt), 0);
	assert_int_equal(sgpr_register(f->m, 0, KA, false, &st), -EBADE);
	assert_int_equal(st.status, SGPR_STATUS_RESERVATION_CONFLICT);
	/* a SCSI answer is not a path failure */
	assert_false(sgpr_dev_path_failed(f->m, 1));
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
}

static void test_all_paths_down(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	int r;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 0, true), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 1, true), 0);
	r = write16(f->m, -1, &st);
	assert_true(r < 0 && r != -EBADE);
	assert_false(st.answered);
	assert_true(sgpr_dev_path_failed(f->m, 0) && sgpr_dev_path_failed(f->m, 1));
	r = sgpr_register(f->m, KA, KA2, false, &st);
	assert_true(r < 0 && r != -EBADE);
	/* path 1 returns: the failed paths are tried again when none works */
	assert_int_equal(sgpr_sim_path_down(f->m, 1, false), 0);
	assert_int_equal(write16(f->m, -1, &st), 0);
	assert_false(sgpr_dev_path_failed(f->m, 1));
	assert_true(sgpr_dev_path_failed(f->m, 0));
}

static void test_timeout_not_resent(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault flt = {.kind = SGPR_SIM_FAULT_TIMEOUT};
	struct sgpr_status st;
	unsigned c0[2], c1[2];

	assert_int_equal(sim_fx_key_count(f->m, KA), 0);
	assert_int_equal(sgpr_sim_path_fault(f->m, 0, &flt), 0);
	cmds(f, c0);
	assert_int_equal(write16(f->m, -1, &st), -ETIMEDOUT);
	cmds(f, c1);
	assert_int_equal(c1[1], c0[1]); /* not resent on path 1 */
	assert_int_equal(sgpr_dev_path_error(f->m, 0), -ETIMEDOUT);
	assert_int_equal(write16(f->m, -1, &st), 0); /* the next command uses path 1 */
	assert_true(sgpr_sim_path_commands(f->m, 1) > c1[1]);
	assert_int_equal(sgpr_sim_path_commands(f->m, 0), c1[0]);
}

/* A restarted process on tgt: every path's old session left an orphan of KA. */
static void test_adopt_key_stale_tgt(void **state)
{
	struct fx *f = *state;
	struct sgpr_reservation res;
	struct sgpr_status st;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_register(f->b, 0, KB, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	f->m = sgpr_dev_free(f->m);
	assert_int_equal(sgpr_sim_open_paths(f->sim.lun, path_names, 2, &f->sim.opts, &f->m), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
	assert_int_equal(write16(f->m, 0, &st), -EBADE); /* the new sessions are not registered */

	assert_int_equal(sgpr_adopt_key(f->m, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 2); /* once per path, the orphans gone */
	assert_int_equal(sim_fx_key_count(f->b, KB), 1);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 3);
	assert_int_equal(sgpr_read_reservation(f->b, &res, NULL), 0);
	assert_true(res.held && res.key == KA && res.type == SGPR_TYPE_WERO);
	assert_int_equal(write16(f->m, 0, &st), 0);
	assert_int_equal(write16(f->m, 1, &st), 0);
	/* again: harmless */
	assert_int_equal(sgpr_adopt_key(f->m, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
	/* the handle unregisters every path */
	assert_int_equal(sgpr_release(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(sgpr_register(f->m, KA, 0, false, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
}

/* SPC: the registrations belong to the nexus names, the restarted process already has them. */
static void test_adopt_key_spc(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	f->m = sgpr_dev_free(f->m);
	assert_int_equal(sgpr_sim_open_paths(f->sim.lun, path_names, 2, &f->sim.opts, &f->m), 0);
	assert_int_equal(sgpr_adopt_key(f->m, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_WERO);
}

/* A stale registration of KA by a third nexus (an old path) is removed, both paths stay. */
static void test_adopt_key_foreign_stale_spc(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	uint64_t holder = 0;

	assert_int_equal(sgpr_sim_lun_add_registration(f->sim.lun,
						       "iqn.2024-01.test:a,i,0x4000000000ff", KA),
			 0);
	assert_int_equal(sgpr_register(f->m, 0, KA, true, NULL), 0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WE, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 3);
	assert_int_equal(sgpr_adopt_key(f->m, KA, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, &holder), SGPR_TYPE_WE);
	assert_true(holder == KA);
}

static void test_adopt_key_path_down(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	f->m = sgpr_dev_free(f->m);
	assert_int_equal(sgpr_sim_open_paths(f->sim.lun, path_names, 2, &f->sim.opts, &f->m), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 1, true), 0);
	/* one working path: one registration of KA is the goal, the orphans go */
	assert_int_equal(sgpr_adopt_key(f->m, KA, &st), 0);
	assert_true(sgpr_dev_path_failed(f->m, 1));
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	assert_int_equal(sgpr_sim_path_down(f->m, 1, false), 0);
	assert_int_equal(sgpr_adopt_key(f->m, KA, &st), 0);
	assert_false(sgpr_dev_path_failed(f->m, 1));
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
}

/* A session lost on one path: reconnect, recover; every path stays registered, once. */
static void test_reconnect_recovery(void **state)
{
	struct fx *f = *state;
	struct sgpr_reservation res;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_register(f->b, 0, KB, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(sgpr_sim_disconnect(f->m), 0); /* the current path, 0 */
	assert_int_equal(write16(f->m, -1, &st), 0);
	sgpr_dev_get_stats(f->m, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 1);
	assert_false(sgpr_dev_path_failed(f->m, 0));
	assert_int_equal(sim_fx_key_count(f->b, KA), 2);
	assert_int_equal(sim_fx_key_count(f->b, KB), 1);
	assert_int_equal(sgpr_read_reservation(f->b, &res, NULL), 0);
	assert_true(res.held && res.key == KA && res.type == SGPR_TYPE_WERO);
	assert_int_equal(write16(f->m, 0, &st), 0);
	assert_int_equal(write16(f->m, 1, &st), 0);
	/* the key change after it still reaches both paths */
	assert_int_equal(sgpr_register(f->m, KA, KA2, false, NULL), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 2);
}

/*
 * A new login in the middle of the walk over the paths: path 0 is down, path 1 lost its
 * session. The command fails over to path 1, which logs in again; the registration is
 * re-established, and the command is resent on path 1, not started over on path 0.
 */
static void test_reconnect_during_failover(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;
	unsigned before[2], after[2];

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 0, true), 0);
	assert_int_equal(sgpr_sim_path_fault(f->m, 1,
					     &(struct sgpr_sim_fault){
						     .kind = SGPR_SIM_FAULT_DISCONNECT,
						     .match_opcode = true,
						     .opcode = 0x8a,
					     }),
			 0);
	cmds(f, before);
	assert_int_equal(write16(f->m, -1, &st), 0);
	cmds(f, after);
	sgpr_dev_get_stats(f->m, &stats);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 1);
	assert_true(sgpr_dev_path_failed(f->m, 0));
	assert_false(sgpr_dev_path_failed(f->m, 1));
	/* as before the layers were split: path 0 gets the write and the recovery's REGISTER
	 * (both refused: down); path 1 the lost write, the recovery (READ KEYS, REGISTER,
	 * confirmation reads, the PREEMPT of path 0's stale registration) and the resent write */
	assert_int_equal(after[0] - before[0], 2);
	assert_int_equal(after[1] - before[1], 12);
	assert_int_equal(sim_fx_key_count(f->b, KA), 1);
	assert_int_equal(sgpr_read_reservation(f->b, &(struct sgpr_reservation){}, NULL), 0);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_WERO);
}

/*
 * The same, but the recovery after the new login on path 1 fails too (its READ KEYS loses the
 * session again, and a recovery never logs in itself): path 1 is marked failed and the walk
 * ends there, as it did when dev.c ran the recovery itself.
 */
static void test_recovery_fails_during_failover(void **state)
{
	struct fx *f = *state;
	struct sgpr_dev_stats stats;
	struct sgpr_status st;
	unsigned before[2], after[2];

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 0, true), 0);
	assert_int_equal(sgpr_sim_path_fault(f->m, 1,
					     &(struct sgpr_sim_fault){
						     .kind = SGPR_SIM_FAULT_DISCONNECT,
						     .count = 2,
					     }),
			 0);
	cmds(f, before);
	assert_int_equal(write16(f->m, -1, &st), -ENOTCONN);
	cmds(f, after);
	sgpr_dev_get_stats(f->m, &stats);
	assert_false(st.answered);
	/* each path: the write, and the recovery's READ KEYS moving from path 1 to path 0 */
	assert_int_equal(after[0] - before[0], 2);
	assert_int_equal(after[1] - before[1], 2);
	assert_int_equal(stats.reconnects, 1);
	assert_int_equal(stats.recoveries, 0);
	assert_true(sgpr_dev_path_failed(f->m, 0));
	assert_true(sgpr_dev_path_failed(f->m, 1));
}

/* A key change whose answer is lost on path 1 after it ran: done on both paths, success. */
static void test_key_change_lost_on_one_path(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault flt = {
		.kind = SGPR_SIM_FAULT_DISCONNECT,
		.match_opcode = true,
		.opcode = 0x5f,
		.executed = true,
	};
	struct sgpr_status st;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(sgpr_sim_path_fault(f->m, 1, &flt), 0);
	assert_int_equal(sgpr_register(f->m, KA, KA2, false, &st), 0);
	assert_int_equal(sim_fx_key_count(f->b, KA2), 2);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_WERO);
	assert_false(sgpr_dev_path_failed(f->m, 0));
	assert_false(sgpr_dev_path_failed(f->m, 1));
}

/* Safety: preempted while a path was down, the path coming back must not get the key back. */
static void test_preempted_path_stays_out(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	bool aborted;

	assert_int_equal(sgpr_register(f->m, 0, KA, false, NULL), 0);
	assert_int_equal(sgpr_register(f->b, 0, KB, false, NULL), 0);
	assert_int_equal(sgpr_reserve(f->m, KA, SGPR_TYPE_WERO, NULL), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 1, true), 0);
	assert_int_equal(write16(f->m, 1, &st) < 0, 1);
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WERO, true, &aborted, NULL), 0);
	assert_int_equal(sgpr_sim_path_down(f->m, 1, false), 0);
	assert_int_equal(sgpr_adopt_key(f->m, KA, &st), -ENOKEY);
	assert_int_equal(sim_fx_key_count(f->b, KA), 0);
	assert_int_equal(write16(f->m, -1, &st), -EBADE);
}

#define SPC(t) cmocka_unit_test_setup_teardown(t, setup_spc, teardown)
#define TGT(t) cmocka_unit_test_setup_teardown(t, setup_tgt, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SPC(test_path_api),
		SPC(test_register_every_path),
		TGT(test_register_every_path),
		SPC(test_other_commands_one_path),
		SPC(test_down_path_skipped),
		TGT(test_down_path_skipped),
		SPC(test_register_one_path_down),
		SPC(test_register_scsi_error_reported),
		SPC(test_all_paths_down),
		SPC(test_timeout_not_resent),
		TGT(test_adopt_key_stale_tgt),
		SPC(test_adopt_key_spc),
		SPC(test_adopt_key_foreign_stale_spc),
		TGT(test_adopt_key_path_down),
		SPC(test_reconnect_recovery),
		TGT(test_reconnect_recovery),
		SPC(test_reconnect_during_failover),
		TGT(test_reconnect_during_failover),
		SPC(test_recovery_fails_during_failover),
		TGT(test_recovery_fails_during_failover),
		SPC(test_key_change_lost_on_one_path),
		TGT(test_key_change_lost_on_one_path),
		SPC(test_preempted_path_stays_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
