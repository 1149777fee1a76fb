/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim setup every sim-based unit test shares: one LUN (SPC or tgt model), a fake clock,
 * device options on that clock, and handles the fixture frees at the end.
 */
#pragma once

#include "sim.h"

#define SIM_FX_MAX_DEVS 16

struct sim_fx {
	struct sgpr_sim_lun *lun;
	struct sgpr_sim_clock clock; /* starts at 1000000 ms */
	struct sgpr_dev_opts opts;   /* .clock = &clock.clock; change retries before opening */
	struct sgpr_dev **slots[SIM_FX_MAX_DEVS];
	unsigned nslots;
};

/* The LUN of cfg (NULL: the SPC model). The fixture must not move afterwards. */
int sim_fx_init(struct sim_fx *fx, const struct sgpr_sim_config *cfg);
int sim_fx_init_tgt(struct sim_fx *fx, bool tgt);
/*
 * Open nexus name (or a multipath handle of npaths names) into *slot with fx->opts, or with
 * opts when not NULL. sim_fx_fini() frees whatever *slot holds then: a test may free the handle
 * itself if it sets *slot to NULL, or open another one into the same slot.
 */
int sim_fx_open(struct sim_fx *fx, const char *name, struct sgpr_dev **slot);
int sim_fx_open_opts(struct sim_fx *fx, const char *name, const struct sgpr_dev_opts *opts,
		     struct sgpr_dev **slot);
int sim_fx_open_paths(struct sim_fx *fx, const char *const names[], unsigned npaths,
		      const struct sgpr_dev_opts *opts, struct sgpr_dev **slot);
/* Free the handles in the slots, then the LUN. */
void sim_fx_fini(struct sim_fx *fx);

static inline void sim_fx_advance(struct sim_fx *fx, unsigned ms)
{
	fx->clock.now += ms;
}

/* The key holding a non all-registrants reservation, 0 if none. */
uint64_t sim_fx_holder(const struct sim_fx *fx);
/* The nexus name of the registration holding the reservation, NULL if none. */
const char *sim_fx_holder_nexus(const struct sim_fx *fx);

/*
 * READ(16)/WRITE(16) of one block at lba from/to block (zeros if NULL for a write) on path
 * (< 0: the handle's choice). Returns sgpr_dev_execute()'s result.
 */
int sim_fx_rw16(struct sgpr_dev *d, int path, bool write, uint64_t lba, void *block,
		struct sgpr_status *st);
static inline int sim_fx_write16(struct sgpr_dev *d, struct sgpr_status *st)
{
	return sim_fx_rw16(d, -1, true, 0, NULL, st);
}

/* How often key is registered, read by the library through d; -errno if READ KEYS fails. */
int sim_fx_key_count(struct sgpr_dev *d, uint64_t key);
