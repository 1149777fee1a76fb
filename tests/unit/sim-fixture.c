/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See sim-fixture.h. */
#include "sim-fixture.h"

int sim_fx_init(struct sim_fx *fx, const struct sgpr_sim_config *cfg)
{
	struct sgpr_sim_config spc = sgpr_sim_config_spc();

	*fx = (struct sim_fx){0};
	sgpr_sim_clock_init(&fx->clock);
	fx->opts.size = sizeof(fx->opts);
	fx->opts.clock = &fx->clock.clock;
	fx->lun = sgpr_sim_lun_new(cfg ? cfg : &spc);
	return fx->lun ? 0 : -ENOMEM;
}

int sim_fx_init_tgt(struct sim_fx *fx, bool tgt)
{
	struct sgpr_sim_config cfg = tgt ? sgpr_sim_config_tgt() : sgpr_sim_config_spc();

	return sim_fx_init(fx, &cfg);
}

static int remember(struct sim_fx *fx, struct sgpr_dev **slot)
{
	for (unsigned i = 0; i < fx->nslots; i++)
		if (fx->slots[i] == slot)
			return 0;
	if (fx->nslots == SIM_FX_MAX_DEVS)
		return -E2BIG;
	fx->slots[fx->nslots++] = slot;
	return 0;
}

int sim_fx_open_opts(struct sim_fx *fx, const char *name, const struct sgpr_dev_opts *opts,
		     struct sgpr_dev **slot)
{
	int r = remember(fx, slot);

	return r < 0 ? r : sgpr_sim_open(fx->lun, name, opts ? opts : &fx->opts, slot);
}

int sim_fx_open(struct sim_fx *fx, const char *name, struct sgpr_dev **slot)
{
	return sim_fx_open_opts(fx, name, NULL, slot);
}

int sim_fx_open_paths(struct sim_fx *fx, const char *const names[], unsigned npaths,
		      const struct sgpr_dev_opts *opts, struct sgpr_dev **slot)
{
	int r = remember(fx, slot);

	return r < 0 ? r
		     : sgpr_sim_open_paths(fx->lun, names, npaths, opts ? opts : &fx->opts, slot);
}

void sim_fx_fini(struct sim_fx *fx)
{
	for (unsigned i = 0; i < fx->nslots; i++)
		*fx->slots[i] = sgpr_dev_free(*fx->slots[i]);
	fx->nslots = 0;
	fx->lun = sgpr_sim_lun_free(fx->lun);
}

uint64_t sim_fx_holder(const struct sim_fx *fx)
{
	uint64_t key = 0;

	return sgpr_sim_lun_reservation(fx->lun, &key) ? key : 0;
}

const char *sim_fx_holder_nexus(const struct sim_fx *fx)
{
	const char *name;
	bool holder;

	for (unsigned i = 0; sgpr_sim_lun_registration(fx->lun, i, NULL, &name, &holder) == 0; i++)
		if (holder)
			return name;
	return NULL;
}

int sim_fx_rw16(struct sgpr_dev *d, int path, bool write, uint64_t lba, void *block,
		struct sgpr_status *st)
{
	uint8_t cdb[16] = {write ? 0x8a : 0x88}, zero[SGPR_SIM_BLOCK_SIZE] = {0};
	void *buf = block ? block : zero;
	enum sgpr_dir dir = write ? SGPR_DIR_OUT : SGPR_DIR_IN;

	sgpr_put_be64(cdb + 2, lba);
	cdb[13] = 1;
	if (path < 0)
		return sgpr_dev_execute(d, cdb, sizeof(cdb), dir, buf, SGPR_SIM_BLOCK_SIZE, st);
	return sgpr_dev_execute_path(d, (unsigned)path, cdb, sizeof(cdb), dir, buf,
				     SGPR_SIM_BLOCK_SIZE, st);
}

int sim_fx_key_count(struct sgpr_dev *d, uint64_t key)
{
	struct sgpr_keys *keys = NULL;
	int n = 0, r = sgpr_read_keys(d, &keys, NULL);

	if (r < 0)
		return r;
	for (uint32_t i = 0; i < keys->count; i++)
		n += keys->keys[i] == key;
	free(keys);
	return n;
}
