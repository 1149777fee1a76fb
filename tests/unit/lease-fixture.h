/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lease fixture of the lease engine's unit tests (test-lease.c, test-lease-safety.c): the
 * shared sim fixture plus hosts A (host id 1) and B (host id 2), each with a lease, at L = 1 s,
 * dead_after 3.5 s. Include after cmocka.h.
 */
#pragma once

#include "sim-fixture.h"

#define PERIOD 1000u
#define DEAD_AFTER 3500u

#define NAME_A "iqn.2024-01.test:a,i,0x400000000001"
#define NAME_B "iqn.2024-01.test:b,i,0x400000000002"
#define NAME_C "iqn.2024-01.test:c,i,0x400000000003"

struct fx {
	struct sim_fx sim;
	uint16_t ns;
	struct sgpr_dev *a, *b;
	struct sgpr_lease *la, *lb;
};

static inline struct sgpr_lease_opts lease_opts(const struct fx *f, uint16_t host)
{
	return (struct sgpr_lease_opts){
		.size = sizeof(struct sgpr_lease_opts),
		.ns = f->ns,
		.host_id = host,
		.period_ms = PERIOD,
		.dead_after_ms = DEAD_AFTER,
	};
}

static inline int fx_setup(void **state, const struct sgpr_sim_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sgpr_lease_opts o;

	assert_non_null(f);
	assert_int_equal(sim_fx_init(&f->sim, cfg), 0);
	f->ns = sgpr_ns_from_cluster("test");
	assert_int_equal(sim_fx_open(&f->sim, NAME_A, &f->a), 0);
	assert_int_equal(sim_fx_open(&f->sim, NAME_B, &f->b), 0);
	o = lease_opts(f, 1);
	assert_int_equal(sgpr_lease_new(f->a, &o, &f->la), 0);
	o = lease_opts(f, 2);
	assert_int_equal(sgpr_lease_new(f->b, &o, &f->lb), 0);
	*state = f;
	return 0;
}

static inline int setup_tgt(void **state)
{
	struct sgpr_sim_config cfg = sgpr_sim_config_tgt();

	return fx_setup(state, &cfg);
}

static inline int setup_spc(void **state)
{
	struct sgpr_sim_config cfg = sgpr_sim_config_spc();

	return fx_setup(state, &cfg);
}

/* SPC, but the LU cannot persist (PTPL_C 0): a target restart loses every registration */
static inline int setup_spc_volatile(void **state)
{
	struct sgpr_sim_config cfg = sgpr_sim_config_spc();

	cfg.no_ptpl = true;
	return fx_setup(state, &cfg);
}

static inline int teardown(void **state)
{
	struct fx *f = *state;

	sgpr_lease_free(f->la);
	sgpr_lease_free(f->lb);
	sim_fx_fini(&f->sim);
	free(f);
	return 0;
}

static inline enum sgpr_lease_event renew(struct sgpr_lease *l)
{
	enum sgpr_lease_event ev;

	assert_int_equal(sgpr_lease_renew(l, &ev), 0);
	return ev;
}

static inline enum sgpr_lease_event observe(struct sgpr_lease *l)
{
	enum sgpr_lease_event ev;

	assert_int_equal(sgpr_lease_observe(l, &ev), 0);
	return ev;
}
