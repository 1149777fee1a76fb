/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim transport's SPC-4 5.12 model, driven with hand-built CDBs (not the library's
 * encoders) through the raw transport and sgpr_dev_execute(), and through the sgpr_* calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <cmocka.h>

#include "sim-fixture.h"

#define KA 0xaaaa0000000000a1ull
#define KB 0xbbbb0000000000b1ull
#define KC 0xcccc0000000000c1ull

#define NAME_A "iqn.2024-01.test:a,i,0x400000000001"
#define NAME_B "iqn.2024-01.test:b,i,0x400000000002"
#define NAME_C "iqn.2024-01.test:c"

struct fx {
	struct sim_fx sim;
	struct sgpr_dev *a, *b, *c;
};

static int fx_setup(void **state, const struct sgpr_sim_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sim_fx_init(&f->sim, cfg), 0);
	assert_int_equal(sim_fx_open(&f->sim, NAME_A, &f->a), 0);
	assert_int_equal(sim_fx_open(&f->sim, NAME_B, &f->b), 0);
	assert_int_equal(sim_fx_open(&f->sim, NAME_C, &f->c), 0);
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

/* ---- hand-built commands ---------------------------------------------- */

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One round trip on the bare transport: unit attentions are visible. */
static int raw(struct sgpr_dev *d, const uint8_t *cdb, size_t len, enum sgpr_dir dir, void *data,
	       size_t dlen, struct sgpr_status *st)
{
	struct sgpr_cmd cmd = {cdb, len, dir, data, dlen, 1000};

	memset(st, 0, sizeof(*st));
	return sgpr_transport_sim.execute(d, NULL, &cmd, st);
}

/* The next unit attention of d as ASC << 8 | ASCQ, or -1 if TEST UNIT READY gets GOOD. */
static int next_ua(struct sgpr_dev *d)
{
	static const uint8_t tur[6];
	struct sgpr_status st;

	assert_int_equal(raw(d, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	if (st.status == SGPR_STATUS_GOOD)
		return -1;
	assert_int_equal(st.status, SGPR_STATUS_CHECK_CONDITION);
	assert_int_equal(st.sense[0], 0x70);
	assert_int_equal(st.sense[2] & 0x0f, 0x6);
	return st.sense[12] << 8 | st.sense[13];
}

static void drain(struct sgpr_dev *d)
{
	for (int i = 0; i < 20 && next_ua(d) != -1; i++)
		;
}

static void drain_all(struct fx *f)
{
	drain(f->a);
	drain(f->b);
	drain(f->c);
}

/* PERSISTENT RESERVE OUT with the basic 24-byte list, SPC-4 6.16.3. */
static int prout_flags(struct sgpr_dev *d, uint8_t sa, uint8_t type, uint64_t key, uint64_t sa_key,
		       uint8_t flags, struct sgpr_status *st)
{
	uint8_t cdb[10] = {0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0};
	uint8_t p[24] = {0};

	be64(p, key);
	be64(p + 8, sa_key);
	p[20] = flags;
	return sgpr_dev_execute(d, cdb, sizeof(cdb), SGPR_DIR_OUT, p, sizeof(p), st);
}

/* Returns the SAM status of the PR OUT (the dev layer absorbs unit attentions). */
static int prout(struct sgpr_dev *d, uint8_t sa, uint8_t type, uint64_t key, uint64_t sa_key)
{
	struct sgpr_status st;
	int r = prout_flags(d, sa, type, key, sa_key, 0, &st);

	assert_true(st.answered);
	if (r == 0)
		assert_int_equal(st.status, SGPR_STATUS_GOOD);
	return st.status;
}

static int prin(struct sgpr_dev *d, uint8_t sa, uint16_t alloc, uint8_t *buf, size_t len,
		struct sgpr_status *st)
{
	uint8_t cdb[10] = {0x5e, sa, 0, 0, 0, 0, 0, (uint8_t)(alloc >> 8), (uint8_t)alloc, 0};

	return sgpr_dev_execute(d, cdb, sizeof(cdb), SGPR_DIR_IN, buf, len, st);
}

/* READ KEYS into keys[]; returns the count and stores the generation. */
static unsigned read_keys(struct sgpr_dev *d, uint64_t *keys, unsigned max, uint32_t *gen)
{
	uint8_t buf[8 + 8 * 16];
	struct sgpr_status st;
	uint32_t n;

	assert_int_equal(prin(d, 0, sizeof(buf), buf, sizeof(buf), &st), 0);
	n = get32(buf + 4) / 8;
	assert_true(n <= max);
	for (uint32_t i = 0; i < n; i++)
		keys[i] = get64(buf + 8 + 8 * i);
	if (gen)
		*gen = get32(buf);
	return n;
}

/* READ RESERVATION: the type (0: none) and the key. */
static int read_res(struct sgpr_dev *d, uint64_t *key)
{
	uint8_t buf[24];
	struct sgpr_status st;

	assert_int_equal(prin(d, 1, sizeof(buf), buf, sizeof(buf), &st), 0);
	if (get32(buf + 4) == 0)
		return 0;
	assert_int_equal(get32(buf + 4), 16);
	*key = get64(buf + 8);
	assert_int_equal(buf[21] >> 4, 0); /* LU_SCOPE */
	return buf[21] & 0x0f;
}

static int rw16(struct sgpr_dev *d, bool write, uint64_t lba, void *buf)
{
	uint8_t cdb[16] = {write ? 0x8a : 0x88};
	struct sgpr_status st;

	be64(cdb + 2, lba);
	cdb[13] = 1;
	sgpr_dev_execute(d, cdb, sizeof(cdb), write ? SGPR_DIR_OUT : SGPR_DIR_IN, buf,
			 SGPR_SIM_BLOCK_SIZE, &st);
	assert_true(st.answered);
	return st.status;
}

#define G SGPR_STATUS_GOOD
#define RC SGPR_STATUS_RESERVATION_CONFLICT
#define CC SGPR_STATUS_CHECK_CONDITION

/* ---- tests ------------------------------------------------------------ */

static void test_first_command_ua(void **state)
{
	struct fx *f = *state;

	/* 29/00 on the first command of every session, then nothing */
	assert_int_equal(next_ua(f->a), 0x2900);
	assert_int_equal(next_ua(f->a), -1);
	assert_int_equal(sgpr_transport_sim.reconnect(f->a, NULL), 0);
	assert_int_equal(next_ua(f->a), 0x2900);
	assert_int_equal(next_ua(f->a), -1);
}

static void test_register(void **state)
{
	struct fx *f = *state;
	uint64_t keys[16];
	uint32_t gen;

	assert_int_equal(read_keys(f->a, keys, 16, &gen), 0);
	assert_int_equal(gen, 0);
	/* SPC-4 5.12.7: an unregistered nexus must send key 0 */
	assert_int_equal(prout(f->a, 0, 0, KA, KA), RC);
	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(read_keys(f->c, keys, 16, &gen), 2);
	assert_int_equal(gen, 2);
	assert_true(keys[0] == KA && keys[1] == KB);
	/* wrong current key */
	assert_int_equal(prout(f->a, 0, 0, KB, 0x1234), RC);
	/* key change */
	assert_int_equal(prout(f->a, 0, 0, KA, KA + 1), G);
	assert_int_equal(read_keys(f->c, keys, 16, &gen), 2);
	assert_true(keys[0] == KA + 1 && gen == 3);
	/* REGISTER AND IGNORE EXISTING KEY ignores the reservation key field */
	assert_int_equal(prout(f->a, 6, 0, 0x5555, KA), G);
	assert_true(read_keys(f->c, keys, 16, &gen) == 2 && keys[0] == KA && gen == 4);
	/* unregister */
	assert_int_equal(prout(f->a, 0, 0, KA, 0), G);
	assert_true(read_keys(f->c, keys, 16, &gen) == 1 && keys[0] == KB && gen == 5);
	/* SPC: SA key 0 from an unregistered nexus is a no-op that leaves the generation */
	assert_int_equal(prout(f->a, 0, 0, 0, 0), G);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 5);
}

static void test_generation_tgt(void **state)
{
	struct fx *f = *state;

	/* tgt: +1 for every REGISTER, no-ops included, +2 when an unregister drops the reservation
	 */
	assert_int_equal(prout(f->a, 0, 0, 0, 0), G);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 1);
	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->a, 0, 0, KA, KA), G);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 3);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 3); /* RESERVE: unchanged */
	assert_int_equal(prout(f->a, 0, 0, KA, 0), G);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 5);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), 0);
}

static void test_reserve(void **state)
{
	struct fx *f = *state;
	uint64_t key = 0;

	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, 0, 0), RC); /* not registered */
	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KB, 0), RC);	  /* wrong key */
	assert_int_equal(prout(f->a, 1, 2, KA, 0), CC);			  /* type 2 is obsolete */
	assert_int_equal(prout(f->a, 1, 0x10 | SGPR_TYPE_WE, KA, 0), CC); /* scope not LU */
	assert_int_equal(read_res(f->b, &key), 0);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WERO, KA, 0), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WERO, KA, 0), G);  /* holder, same type */
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_EA, KA, 0), RC);   /* holder, other type */
	assert_int_equal(prout(f->b, 1, SGPR_TYPE_WERO, KB, 0), RC); /* not the holder */
	assert_int_equal(read_res(f->c, &key), SGPR_TYPE_WERO);
	assert_true(key == KA);
	/* the holder changing its key keeps the reservation */
	assert_int_equal(prout(f->a, 0, 0, KA, KA + 2), G);
	assert_int_equal(read_res(f->c, &key), SGPR_TYPE_WERO);
	assert_true(key == KA + 2);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 3);
}

/* refs/targets-tgt-libiscsi-sgutils.md 1.2: B holds, A registered, C not */
static void test_access_matrix(void **state)
{
	static const struct {
		uint8_t type;
		int ar, aw, cr, cw;
	} m[] = {
		{SGPR_TYPE_WE, G, RC, G, RC},  {SGPR_TYPE_EA, RC, RC, RC, RC},
		{SGPR_TYPE_WERO, G, G, G, RC}, {SGPR_TYPE_EARO, G, G, RC, RC},
		{SGPR_TYPE_WEAR, G, G, G, RC}, {SGPR_TYPE_EAAR, G, G, RC, RC},
	};
	struct fx *f = *state;
	uint8_t buf[SGPR_SIM_BLOCK_SIZE] = {0};

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		uint64_t key = 0;

		assert_int_equal(prout(f->b, 1, m[i].type, KB, 0), G);
		assert_int_equal(read_res(f->a, &key), m[i].type);
		assert_true(key == (m[i].type >= SGPR_TYPE_WEAR ? 0 : KB));
		assert_int_equal(rw16(f->b, false, 1, buf), G);
		assert_int_equal(rw16(f->b, true, 1, buf), G);
		assert_int_equal(rw16(f->a, false, 1, buf), m[i].ar);
		assert_int_equal(rw16(f->a, true, 1, buf), m[i].aw);
		assert_int_equal(rw16(f->c, false, 1, buf), m[i].cr);
		assert_int_equal(rw16(f->c, true, 1, buf), m[i].cw);
		assert_int_equal(prout(f->b, 2, m[i].type, KB, 0), G);
		drain_all(f);
	}
	/* no reservation: everybody */
	assert_int_equal(rw16(f->c, true, 1, buf), G);
}

static void test_access_matrix_tgt(void **state)
{
	test_access_matrix(state);
}

static void test_block_store(void **state)
{
	struct fx *f = *state;
	uint8_t w[SGPR_SIM_BLOCK_SIZE], r[SGPR_SIM_BLOCK_SIZE] = {0};
	uint8_t cdb[16] = {0x88};
	struct sgpr_status st;

	memset(w, 0x5a, sizeof(w));
	assert_int_equal(rw16(f->a, true, 63, w), G);
	assert_int_equal(rw16(f->b, false, 63, r), G);
	assert_memory_equal(w, r, sizeof(w));
	assert_memory_equal(sgpr_sim_lun_block(f->sim.lun, 63), w, sizeof(w));
	/* LBA OUT OF RANGE */
	be64(cdb + 2, 64);
	cdb[13] = 1;
	assert_int_equal(sgpr_dev_execute(f->a, cdb, 16, SGPR_DIR_IN, r, sizeof(r), &st), -EINVAL);
	assert_true(st.status == CC && st.asc == 0x21 && st.ascq == 0x00);
}

static void test_release(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WERO, KA, 0), G);
	drain_all(f);
	/* SPC-4 5.12.11.2: wrong type 26/04, wrong key RC, non-holder a GOOD no-op */
	prout_flags(f->a, 2, SGPR_TYPE_WE, KA, 0, 0, &st);
	assert_true(st.status == CC && st.sense_key == 5 && st.asc == 0x26 && st.ascq == 0x04);
	assert_int_equal(prout(f->a, 2, SGPR_TYPE_WERO, KB, 0), RC);
	assert_int_equal(prout(f->c, 2, SGPR_TYPE_WERO, 0, 0), RC);
	assert_int_equal(prout(f->b, 2, SGPR_TYPE_WERO, KB, 0), G);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_WERO);
	assert_int_equal(prout(f->a, 2, SGPR_TYPE_WERO, KA, 0), G);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), 0);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 2);
	/* RO release: RESERVATIONS RELEASED to the other registrants only */
	assert_int_equal(next_ua(f->b), 0x2a04);
	assert_int_equal(next_ua(f->a), -1);
	assert_int_equal(next_ua(f->c), -1);
	/* WE release: no UA at all */
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	assert_int_equal(prout(f->a, 2, SGPR_TYPE_WE, KA, 0), G);
	assert_int_equal(next_ua(f->a), -1);
	assert_int_equal(next_ua(f->b), -1);
	/* no reservation: RELEASE is GOOD */
	assert_int_equal(prout(f->a, 2, SGPR_TYPE_WE, KA, 0), G);
}

static void test_release_tgt_uas(void **state)
{
	struct fx *f = *state;

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	drain_all(f);
	assert_int_equal(prout(f->a, 2, SGPR_TYPE_WE, KA, 0), G);
	/* tgt: the releaser and the unregistered nexus get 2A/04, the other registrant nothing */
	assert_int_equal(next_ua(f->a), 0x2a04);
	assert_int_equal(next_ua(f->c), 0x2a04);
	assert_int_equal(next_ua(f->b), -1);
	/* tgt: RO release sends none */
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WERO, KA, 0), G);
	assert_int_equal(prout(f->a, 2, SGPR_TYPE_WERO, KA, 0), G);
	assert_int_equal(next_ua(f->a), -1);
	assert_int_equal(next_ua(f->b), -1);
	assert_int_equal(next_ua(f->c), -1);
}

static void test_preempt(void **state)
{
	struct fx *f = *state;
	uint64_t keys[16], key = 0;
	uint32_t gen;
	uint8_t buf[SGPR_SIM_BLOCK_SIZE] = {0};

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->c, 0, 0, 0, KC), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	drain_all(f);
	/* unregistered SA key: RC; SA key 0 with a WE reservation: 26/00 */
	assert_int_equal(prout(f->b, 4, SGPR_TYPE_WE, KB, 0x777), RC);
	assert_int_equal(prout(f->b, 4, SGPR_TYPE_WE, KB, 0), CC);
	/* a non-holder's key: removed, reservation stays */
	assert_int_equal(prout(f->b, 4, SGPR_TYPE_EA, KB, KC), G);
	assert_int_equal(read_res(f->b, &key), SGPR_TYPE_WE);
	assert_true(key == KA);
	assert_int_equal(next_ua(f->c), 0x2a05);
	/* the holder's key: reservation moves to B with B's type */
	assert_int_equal(prout(f->b, 5, SGPR_TYPE_EA, KB, KA), G);
	assert_int_equal(read_res(f->b, &key), SGPR_TYPE_EA);
	assert_true(key == KB);
	assert_int_equal(read_keys(f->b, keys, 16, &gen), 1);
	assert_true(keys[0] == KB && gen == 5);
	assert_int_equal(next_ua(f->a), 0x2a05);
	assert_int_equal(rw16(f->a, true, 0, buf), RC);
	assert_int_equal(prout(f->a, 0, 0, KA, KA), RC); /* a preempted host stays out */
}

static void test_preempt_tgt(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	drain_all(f);
	/* tgt: SA key 0 without a reservation is a GOOD no-op */
	assert_int_equal(prout(f->b, 4, SGPR_TYPE_WE, KB, 0), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	/* PREEMPT AND ABORT is missing: 24/00 */
	prout_flags(f->b, 5, SGPR_TYPE_WE, KB, KA, 0, &st);
	assert_true(st.status == CC && st.asc == 0x24 && st.ascq == 0);
	/* tgt: SA key 0 with a WE reservation: 24/00 */
	prout_flags(f->b, 4, SGPR_TYPE_WE, KB, 0, 0, &st);
	assert_true(st.status == CC && st.asc == 0x24 && st.ascq == 0);
	assert_int_equal(prout(f->b, 4, SGPR_TYPE_WE, KB, KA), G);
	/* tgt sends RESERVATIONS PREEMPTED where SPC says REGISTRATIONS PREEMPTED */
	assert_int_equal(next_ua(f->a), 0x2a03);
}

static void test_preempt_all_registrants(void **state)
{
	struct fx *f = *state;
	uint64_t keys[16], key = 1;

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->c, 0, 0, 0, KC), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WEAR, KA, 0), G);
	/* every registrant holds an AR reservation: A leaving does not end it */
	assert_int_equal(prout(f->a, 0, 0, KA, 0), G);
	assert_int_equal(read_res(f->b, &key), SGPR_TYPE_WEAR);
	assert_true(key == 0);
	/* a registrant's key: only that one goes */
	assert_int_equal(prout(f->b, 4, SGPR_TYPE_WEAR, KB, KC), G);
	assert_int_equal(prout(f->c, 0, 0, 0, KC), G);
	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	/* SA key 0: everybody else goes, B gets the type of the CDB */
	assert_int_equal(prout(f->b, 4, SGPR_TYPE_EA, KB, 0), G);
	assert_int_equal(read_keys(f->b, keys, 16, NULL), 1);
	assert_true(keys[0] == KB);
	assert_int_equal(read_res(f->b, &key), SGPR_TYPE_EA);
	assert_true(key == KB);
}

/* refs 1.5: tgt orphans a registration on re-login; RIG + PREEMPT of the own key recovers. */
static void test_orphan_recovery_tgt(void **state)
{
	struct fx *f = *state;
	uint64_t keys[16], key = 0;
	uint8_t buf[SGPR_SIM_BLOCK_SIZE] = {0};

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	assert_int_equal(sgpr_transport_sim.reconnect(f->a, NULL), 0);
	drain_all(f);
	assert_int_equal(rw16(f->a, true, 0, buf), RC);
	assert_int_equal(prout(f->a, 2, SGPR_TYPE_WE, KA, 0), RC);
	assert_int_equal(prout(f->a, 0, 0, KA, KA), RC);
	assert_int_equal(rw16(f->b, true, 0, buf), RC); /* the orphan still holds */
	assert_int_equal(prout(f->a, 6, 0, 0, KA), G);
	assert_int_equal(read_keys(f->b, keys, 16, NULL), 3);
	assert_true(keys[0] == KA && keys[1] == KB && keys[2] == KA);
	assert_int_equal(prout(f->a, 4, SGPR_TYPE_WE, KA, KA), G);
	assert_int_equal(read_keys(f->b, keys, 16, NULL), 2);
	assert_true(keys[0] == KB && keys[1] == KA);
	assert_int_equal(read_res(f->b, &key), SGPR_TYPE_WE);
	assert_true(key == KA);
	assert_int_equal(rw16(f->a, true, 0, buf), G);
	assert_int_equal(rw16(f->b, true, 0, buf), RC);
}

static void test_reconnect_keeps_registration_spc(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SGPR_SIM_BLOCK_SIZE] = {0};

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	assert_int_equal(sgpr_transport_sim.reconnect(f->a, NULL), 0);
	/* SPC: the registration belongs to the initiator port, which did not change */
	assert_int_equal(rw16(f->a, true, 0, buf), G);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
}

static void test_clear(void **state)
{
	struct fx *f = *state;

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_EA, KA, 0), G);
	drain_all(f);
	assert_int_equal(prout(f->c, 3, 0, 0, 0), RC);
	assert_int_equal(prout(f->b, 3, 0, KA, 0), RC);
	assert_int_equal(prout(f->b, 3, 0, KB, 0), G);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), 0);
	assert_int_equal(sgpr_sim_lun_generation(f->sim.lun), 3);
	/* SPC-4 5.12.11.6: RESERVATIONS PREEMPTED to the other registered nexuses */
	assert_int_equal(next_ua(f->a), 0x2a03);
	assert_int_equal(next_ua(f->b), -1);
	assert_int_equal(next_ua(f->c), -1);
}

static void test_param_checks(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[10] = {0x5f, 0, 0, 0, 0, 0, 0, 0, 28, 0};
	uint8_t p[28] = {0};
	struct sgpr_status st;

	/* SPC-4 6.16.3: the basic list is 24 bytes */
	be64(p + 8, KA);
	sgpr_dev_execute(f->a, cdb, 10, SGPR_DIR_OUT, p, sizeof(p), &st);
	assert_true(st.status == CC && st.asc == 0x1a && st.ascq == 0);
	/* SIP_C is 0: SPEC_I_PT gets 26/00; ALL_TG_PT and APTPL work */
	prout_flags(f->a, 0, 0, 0, KA, 0x08, &st);
	assert_true(st.status == CC && st.asc == 0x26);
	assert_int_equal(prout_flags(f->a, 0, 0, 0, KA, 0x05, &st), 0);
	/* reserved bits of the CDB */
	cdb[8] = 24;
	cdb[3] = 1;
	sgpr_dev_execute(f->a, cdb, 10, SGPR_DIR_OUT, p, 24, &st);
	assert_true(st.status == CC && st.asc == 0x24);
	/* service action 8 does not exist */
	cdb[3] = 0;
	cdb[1] = 8;
	sgpr_dev_execute(f->a, cdb, 10, SGPR_DIR_OUT, p, 24, &st);
	assert_true(st.status == CC && st.asc == 0x24);
	/* a buffer shorter than the parameter list never reaches the target */
	cdb[1] = 0;
	assert_int_equal(raw(f->a, cdb, 10, SGPR_DIR_OUT, p, 16, &st), -EINVAL);
	/* unknown opcode: 20/00 */
	cdb[0] = 0xc5;
	sgpr_dev_execute(f->a, cdb, 10, SGPR_DIR_NONE, NULL, 0, &st);
	assert_true(st.status == CC && st.asc == 0x20);
}

static void test_tgt_unsupported(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	struct sgpr_status st;

	/* refs 1.1: SPEC_I_PT, ALL_TG_PT and APTPL all get 24/00 and register nothing */
	for (uint8_t bit = 0x01; bit <= 0x08; bit <<= 1) {
		if (bit == 0x02)
			continue;
		assert_int_equal(prout_flags(f->a, 0, 0, 0, KA, bit, &st), -EOPNOTSUPP);
		assert_true(st.status == CC && st.asc == 0x24 && st.ascq == 0);
	}
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
	assert_int_equal(prin(f->a, 3, sizeof(buf), buf, sizeof(buf), &st), -EOPNOTSUPP);
	assert_true(st.status == CC && st.asc == 0x24);
	/* REPORT CAPABILITIES exactly as tgtd 1.0.85 answers it */
	assert_int_equal(prin(f->a, 2, sizeof(buf), buf, sizeof(buf), &st), 0);
	assert_int_equal(st.resid, sizeof(buf) - 8);
	assert_memory_equal(buf, ((uint8_t[]){0x00, 0x08, 0x00, 0x80, 0xea, 0x01, 0x00, 0x00}), 8);
}

static void test_read_keys_alloc(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	struct sgpr_status st;
	char name[64];

	for (unsigned i = 1; i <= 5; i++) {
		snprintf(name, sizeof(name), "iqn.2024-01.test:h%u", i);
		assert_int_equal(sgpr_sim_lun_add_registration(f->sim.lun, name, 0x1000 + i), 0);
	}
	/* SPC-4 6.15.2: the list is truncated to the allocation length, the length is not */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(prin(f->a, 0, 20, buf, sizeof(buf), &st), 0);
	assert_int_equal(st.resid, sizeof(buf) - 20);
	assert_int_equal(get32(buf), 5);
	assert_int_equal(get32(buf + 4), 40);
	assert_true(get64(buf + 8) == 0x1001);
	assert_int_equal(buf[20], 0xee);
	/* allocation length 0: nothing moves */
	assert_int_equal(prin(f->a, 0, 0, buf, sizeof(buf), &st), 0);
	assert_int_equal(st.resid, sizeof(buf));
	/* READ RESERVATION with a short allocation */
	assert_int_equal(prin(f->a, 1, 4, buf, sizeof(buf), &st), 0);
	assert_int_equal(st.resid, sizeof(buf) - 4);
}

static void test_full_status(void **state)
{
	struct fx *f = *state;
	uint8_t buf[512];
	struct sgpr_status st;
	const uint8_t *d;

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout_flags(f->c, 0, 0, 0, KC, 0x04, &st), 0);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_EARO, KA, 0), G);
	assert_int_equal(prin(f->b, 3, sizeof(buf), buf, sizeof(buf), &st), 0);
	assert_int_equal(get32(buf), 2);
	/* SPC-4 6.15.5: A with format 01b (name,i,0x isid), C with 00b */
	d = buf + 8;
	assert_true(get64(d) == KA);
	assert_int_equal(d[12], 0x01);
	assert_int_equal(d[13], SGPR_TYPE_EARO);
	assert_int_equal(d[24], 0x45);
	assert_int_equal(get32(d + 20), 4 + 36);
	assert_string_equal((const char *)d + 28, NAME_A);
	d += 24 + get32(d + 20);
	assert_true(get64(d) == KC);
	assert_int_equal(d[12], 0x02); /* ALL_TG_PT, not the holder */
	assert_int_equal(d[24], 0x05);
	assert_int_equal(get32(d + 20), 24);
	assert_string_equal((const char *)d + 28, NAME_C);
	assert_int_equal(get32(buf + 4), (uint32_t)(d + 24 + 24 - buf - 8));
	/* and what the library's parser makes of it */
	{
		struct sgpr_full_status *fs = NULL;

		assert_int_equal(sgpr_read_full_status(f->b, &fs, &st), 0);
		assert_int_equal(fs->count, 2);
		assert_true(fs->entries[0].holder && fs->entries[0].key == KA);
		assert_true(fs->entries[0].tid.has_isid);
		assert_string_equal(fs->entries[0].tid.iscsi_name, "iqn.2024-01.test:a");
		assert_true(fs->entries[1].all_tg_pt && !fs->entries[1].holder);
		free(fs);
	}
}

static void test_register_and_move(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[10] = {0x5f, 7, SGPR_TYPE_WE, 0, 0, 0, 0, 0, 0, 0};
	uint8_t p[24 + 44] = {0};
	struct sgpr_status st;
	uint64_t key = 0;
	const char *tid = NAME_B;

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	/* SPC-4 6.16.4 list + iSCSI TransportID format 01b, SPC-4 7.6.4.6 */
	be64(p, KA);
	be64(p + 8, KB);
	p[17] = 0x02; /* UNREG */
	p[19] = 1;
	p[23] = 44;
	p[24] = 0x45;
	p[27] = 40;
	memcpy(p + 28, tid, strlen(tid));
	cdb[8] = sizeof(p);
	assert_int_equal(sgpr_dev_execute(f->a, cdb, 10, SGPR_DIR_OUT, p, sizeof(p), &st), 0);
	assert_int_equal(read_res(f->c, &key), SGPR_TYPE_WE);
	assert_true(key == KB);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	/* B holds now, A is gone */
	assert_int_equal(prout(f->b, 2, SGPR_TYPE_WE, KB, 0), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), RC);
}

static void test_ua_queue(void **state)
{
	struct fx *f = *state;
	uint8_t inq[36], rs[18];
	uint8_t inq_cdb[6] = {0x12, 0, 0, 0, 36, 0}, rs_cdb[6] = {0x03, 0, 0, 0, 18, 0};
	struct sgpr_status st;

	assert_int_equal(sgpr_sim_queue_ua(f->a, 0x2a, 0x05), 0);
	assert_int_equal(sgpr_sim_pending_uas(f->a), 2);
	/* SAM-5 5.14: INQUIRY does not report it */
	assert_int_equal(raw(f->a, inq_cdb, 6, SGPR_DIR_IN, inq, sizeof(inq), &st), 0);
	assert_int_equal(st.status, G);
	assert_memory_equal(inq + 8, "SGPRSIM ", 8);
	/* FIFO */
	assert_int_equal(next_ua(f->a), 0x2900);
	/* SPC-4 6.29: REQUEST SENSE returns and clears it */
	assert_int_equal(raw(f->a, rs_cdb, 6, SGPR_DIR_IN, rs, sizeof(rs), &st), 0);
	assert_int_equal(st.status, G);
	assert_true(rs[0] == 0x70 && rs[2] == 6 && rs[12] == 0x2a && rs[13] == 0x05);
	assert_int_equal(next_ua(f->a), -1);
	/* a UA replaces a PR command too, which then did not run */
	assert_int_equal(sgpr_sim_queue_ua(f->b, 0x2a, 0x03), 0);
	drain(f->b);
	assert_int_equal(sgpr_sim_queue_ua(f->b, 0x2a, 0x03), 0);
	{
		uint8_t cdb[10] = {0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0}, p[24] = {0};

		be64(p + 8, KB);
		assert_int_equal(raw(f->b, cdb, 10, SGPR_DIR_OUT, p, 24, &st), 0);
		assert_int_equal(st.status, CC);
		assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
	}
}

static void test_request_sense_tgt(void **state)
{
	struct fx *f = *state;
	uint8_t rs[18], rs_cdb[6] = {0x03, 0, 0, 0, 18, 0};
	struct sgpr_status st;

	/* refs 1.3: tgt answers CHECK CONDITION and keeps the UA */
	assert_int_equal(raw(f->a, rs_cdb, 6, SGPR_DIR_IN, rs, sizeof(rs), &st), 0);
	assert_int_equal(st.status, CC);
	assert_int_equal(next_ua(f->a), 0x2900);
	assert_int_equal(next_ua(f->a), -1);
}

static void test_faults(void **state)
{
	struct fx *f = *state;
	static const uint8_t tur[6];
	struct sgpr_status st;
	struct sgpr_sim_fault flt = {
		.kind = SGPR_SIM_FAULT_TIMEOUT,
		.skip = 1,
		.match_opcode = true,
		.opcode = 0x00,
	};
	unsigned n0;
	uint64_t t0;

	drain_all(f);
	/* fail the next 2 commands with BUSY */
	assert_int_equal(sgpr_sim_fail_next(f->a, 2, SGPR_STATUS_BUSY, 0, 0, 0), 0);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	assert_true(st.answered && st.status == SGPR_STATUS_BUSY && st.sense_len == 0);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	assert_int_equal(st.status, SGPR_STATUS_BUSY);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	assert_int_equal(st.status, G);
	/* NOT READY 04/01 as fixed sense */
	assert_int_equal(sgpr_sim_fail_next(f->a, 1, CC, 2, 0x04, 0x01), 0);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	assert_true(st.status == CC && st.sense[2] == 2 && st.sense[12] == 4 && st.sense[13] == 1);
	/* timeout of the second TUR, the clock moves by the command timeout */
	assert_int_equal(sgpr_sim_set_fault(f->a, &flt), 0);
	t0 = f->sim.clock.now;
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), -ETIMEDOUT);
	assert_true(f->sim.clock.now == t0 + 1000);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	/* transport loss until reconnect */
	n0 = sgpr_sim_commands(f->a);
	assert_int_equal(sgpr_sim_disconnect(f->a), 0);
	assert_int_equal(sgpr_sim_session(f->a), 0);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), -ENOTCONN);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), -ENOTCONN);
	assert_int_equal(sgpr_sim_refuse_reconnect(f->a, 1), 0);
	assert_int_equal(sgpr_transport_sim.reconnect(f->a, NULL), -ECONNREFUSED);
	assert_int_equal(sgpr_transport_sim.reconnect(f->a, NULL), 0);
	assert_int_equal(next_ua(f->a), 0x2900);
	assert_int_equal(sgpr_sim_commands(f->a), n0 + 3);
	assert_non_null(sgpr_sim_last_cdb(f->a, NULL));
}

static void test_disconnect_after_execute(void **state)
{
	struct fx *f = *state;
	struct sgpr_sim_fault flt = {
		.kind = SGPR_SIM_FAULT_DISCONNECT,
		.executed = true,
		.match_opcode = true,
		.opcode = 0x5f,
	};
	uint8_t cdb[10] = {0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0}, p[24] = {0};
	struct sgpr_status st;

	/* the command took effect, the answer was lost with the session (tgt: orphan) */
	drain_all(f);
	be64(p + 8, KA);
	assert_int_equal(sgpr_sim_set_fault(f->a, &flt), 0);
	assert_int_equal(raw(f->a, cdb, 10, SGPR_DIR_OUT, p, 24, &st), -ENOTCONN);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sgpr_transport_sim.reconnect(f->a, NULL), 0);
	assert_int_equal(prout(f->a, 0, 0, KA, KB), RC); /* new session, not registered */
}

static void test_restart(void **state)
{
	struct fx *f = *state;
	static const uint8_t tur[6];
	struct sgpr_status st;
	uint32_t gen = 1;
	uint64_t keys[16];

	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	sgpr_sim_lun_restart(f->sim.lun, true);
	assert_int_equal(raw(f->a, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), -ENOTCONN);
	assert_int_equal(sgpr_transport_sim.reconnect(f->a, NULL), 0);
	assert_int_equal(read_keys(f->a, keys, 16, &gen), 0);
	assert_int_equal(gen, 0);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), 0);
}

static void test_restart_aptpl_spc(void **state)
{
	struct fx *f = *state;
	struct sgpr_status st;
	struct sgpr_caps caps;

	assert_int_equal(prout_flags(f->a, 0, 0, 0, KA, 0x01, &st), 0);
	assert_int_equal(prout(f->a, 1, SGPR_TYPE_WE, KA, 0), G);
	assert_int_equal(sgpr_report_caps(f->a, &caps, &st), 0);
	assert_true(caps.ptpl_c && caps.ptpl_a && caps.atp_c && !caps.sip_c);
	sgpr_sim_lun_restart(f->sim.lun, false);
	assert_int_equal(next_ua(f->a), 0x2901);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 1);
	assert_int_equal(sgpr_sim_lun_reservation(f->sim.lun, NULL), SGPR_TYPE_WE);
}

static void test_library_calls(void **state)
{
	struct fx *f = *state;
	struct sgpr_keys *keys = NULL;
	struct sgpr_reservation res;
	struct sgpr_status st;
	bool aborted = true;

	assert_int_equal(sgpr_register(f->a, 0, KA, false, &st), 0);
	assert_int_equal(sgpr_register(f->b, 0, KB, true, &st), 0);
	assert_int_equal(sgpr_reserve(f->a, KA, SGPR_TYPE_WERO, &st), 0);
	assert_int_equal(sgpr_reserve(f->b, KB, SGPR_TYPE_WERO, &st), -EBADE);
	assert_int_equal(st.status, RC);
	assert_int_equal(sgpr_read_keys(f->c, &keys, &st), 0);
	assert_int_equal(keys->count, 2);
	assert_true(keys->keys[0] == KA && keys->keys[1] == KB && keys->generation == 2);
	free(keys);
	assert_int_equal(sgpr_read_reservation(f->c, &res, &st), 0);
	assert_true(res.held && res.key == KA && res.type == SGPR_TYPE_WERO && res.scope == 0);
	assert_int_equal(sgpr_preempt(f->b, KB, KA, SGPR_TYPE_WE, true, &aborted, &st), 0);
	assert_true(aborted);
	assert_int_equal(sgpr_read_reservation(f->c, &res, &st), 0);
	assert_true(res.held && res.key == KB && res.type == SGPR_TYPE_WE);
	assert_int_equal(sgpr_release(f->b, KB, SGPR_TYPE_WE, &st), 0);
	assert_int_equal(sgpr_clear(f->b, KB, &st), 0);
	assert_int_equal(sgpr_sim_lun_registrations(f->sim.lun), 0);
}

/* The inspection of registrations the multi-host simulator reads its ownership from. */
static void test_registration_inspection(void **state)
{
	struct fx *f = *state;
	const char *name;
	uint64_t key;
	bool holder;

	assert_int_equal(sgpr_sim_lun_registration(f->sim.lun, 0, &key, &name, &holder), -ENOENT);
	assert_null(sim_fx_holder_nexus(&f->sim));
	assert_int_equal(prout(f->a, 0, 0, 0, KA), G);
	assert_int_equal(prout(f->b, 0, 0, 0, KB), G);
	assert_int_equal(prout(f->b, 1, SGPR_TYPE_WERO, KB, 0), G);
	assert_int_equal(sgpr_sim_lun_registration(f->sim.lun, 0, &key, &name, &holder), 0);
	assert_true(key == KA && !holder);
	assert_string_equal(name, NAME_A);
	assert_int_equal(sgpr_sim_lun_registration(f->sim.lun, 1, &key, &name, &holder), 0);
	assert_true(key == KB && holder);
	assert_string_equal(sim_fx_holder_nexus(&f->sim), NAME_B);
	assert_true(sim_fx_holder(&f->sim) == KB);
	assert_int_equal(sgpr_sim_lun_registration(f->sim.lun, 2, NULL, NULL, NULL), -ENOENT);
	/* a tgt orphan keeps the name of the nexus it was made on */
	assert_int_equal(sgpr_transport_sim.reconnect(f->b, NULL), 0);
	assert_string_equal(sim_fx_holder_nexus(&f->sim), NAME_B);
}

static void test_descriptor_sense(void **state)
{
	struct sgpr_sim_config cfg = sgpr_sim_config_spc();
	struct sgpr_sim_lun *lun;
	struct sgpr_dev *d;
	struct sgpr_status st;
	static const uint8_t tur[6];

	cfg.descriptor_sense = true;
	lun = sgpr_sim_lun_new(&cfg);
	assert_non_null(lun);
	assert_int_equal(sgpr_sim_open(lun, NAME_A, NULL, &d), 0);
	assert_int_equal(raw(d, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), 0);
	assert_true(st.sense_len == 8 && st.sense[0] == 0x72 && st.sense[1] == 6 &&
		    st.sense[2] == 0x29);
	/* the LUN can go first; the handle then has no target */
	sgpr_sim_lun_free(lun);
	assert_int_equal(raw(d, tur, 6, SGPR_DIR_NONE, NULL, 0, &st), -ENOTCONN);
	assert_int_equal(sgpr_transport_sim.reconnect(d, NULL), -ENODEV);
	sgpr_dev_free(d);
}

#define SPC(t) cmocka_unit_test_setup_teardown(t, setup_spc, teardown)
#define TGT(t) cmocka_unit_test_setup_teardown(t, setup_tgt, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SPC(test_first_command_ua),
		SPC(test_register),
		TGT(test_generation_tgt),
		SPC(test_reserve),
		SPC(test_access_matrix),
		TGT(test_access_matrix_tgt),
		SPC(test_block_store),
		SPC(test_release),
		TGT(test_release_tgt_uas),
		SPC(test_preempt),
		TGT(test_preempt_tgt),
		SPC(test_preempt_all_registrants),
		TGT(test_orphan_recovery_tgt),
		SPC(test_reconnect_keeps_registration_spc),
		SPC(test_clear),
		SPC(test_param_checks),
		TGT(test_tgt_unsupported),
		SPC(test_read_keys_alloc),
		SPC(test_full_status),
		SPC(test_register_and_move),
		SPC(test_ua_queue),
		TGT(test_request_sense_tgt),
		SPC(test_faults),
		TGT(test_disconnect_after_execute),
		TGT(test_restart),
		SPC(test_restart_aptpl_spc),
		SPC(test_library_calls),
		SPC(test_registration_inspection),
		TGT(test_registration_inspection),
		cmocka_unit_test(test_descriptor_sense),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
