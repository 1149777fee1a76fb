/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's world: an episode drawn from a seed (model, hosts, settings, roles, faults),
 * the virtual clock and the loop that lets every host act when its schedule says so.
 */
#include <stddef.h>
#include <string.h>

#include "sim-world.h"

#define TICK_MAX_MS 50u	    /* the world clock advances 1..TICK_MAX_MS ms per step */
#define CMD_TIMEOUT_MS 300u /* a timed-out command costs its host this much time */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static unsigned period(const struct simh_host *h)
{
	return h->cfg.lease.period_ms;
}

static void tag(struct simh_world *w, const char *t)
{
	char *tags = w->res->tags;
	size_t n = strlen(tags);

	if (!strstr(tags, t))
		snprintf(tags + n, sizeof(w->res->tags) - n, "%s%s", n ? " " : "", t);
}

static void gen_hosts(struct simh_world *w)
{
	static const char *const roles[] = {"holder", "standby", "runner", "daemon", "daemon-wait"};
	unsigned without = w->p->without;
	bool daemon = !(without & SIMH_NO_DAEMON);
	bool mismatch = simh_chance(w, 25) && !(without & SIMH_NO_MISMATCH);
	bool self_fence = simh_chance(w, 30) && !(without & SIMH_NO_SELF_FENCE);

	w->nhosts = (unsigned)simh_range(w, 2, SIMH_MAX_HOSTS);
	for (unsigned i = 0; i < w->nhosts; i++) {
		struct simh_host *h = &w->hosts[i];
		struct simh_host_cfg *c = &h->cfg;
		unsigned r = (unsigned)simh_range(w, 0, 99);

		h->w = w;
		h->idx = i;
		/* without daemon roles, the partition of r (and the episodes) of before they were
		 */
		if (i == 0)
			c->role = r < 40 ? SIMH_HOLDER : r < 75 ? SIMH_DAEMON : SIMH_RUNNER;
		else
			c->role = r < 10   ? SIMH_HOLDER
				  : r < 20 ? SIMH_DAEMON
				  : r < 45 ? SIMH_STANDBY
				  : r < 70 ? SIMH_DAEMON_WAIT
					   : SIMH_RUNNER;
		if (!daemon && c->role == SIMH_DAEMON)
			c->role = SIMH_HOLDER;
		if (!daemon && c->role == SIMH_DAEMON_WAIT)
			c->role = SIMH_STANDBY;
		h->ops = c->role >= SIMH_DAEMON ? &simh_prlockd_driver : &simh_lease_driver;
		if (c->role == SIMH_RUNNER && (without & SIMH_NO_RUNNER))
			c->role = i == 0 ? SIMH_HOLDER : SIMH_STANDBY;
		c->npaths = simh_chance(w, 30) && !(without & SIMH_NO_MULTIPATH) ? 2 : 1;
		c->lease.size = sizeof(c->lease);
		c->lease.ns = w->ns;
		c->lease.host_id = (uint16_t)(i + 1);
		if (i > 0 && simh_chance(w, 4) && !(without & SIMH_NO_CLONE)) {
			c->lease.host_id = (uint16_t)simh_range(w, 1, i); /* a cloned image */
			tag(w, "clone");
		}
		c->lease.type = SGPR_TYPE_WERO;
		c->lease.period_ms = 1000;
		c->lease.dead_after_ms = 3500;
		if (mismatch) {
			c->lease.period_ms = (unsigned)simh_range(w, 400, 3000);
			c->lease.dead_after_ms =
				c->lease.period_ms * (unsigned)simh_range(w, 13, 40) / 10;
		}
		if (self_fence && simh_chance(w, 60)) {
			c->lease.self_fence_after_ms =
				c->lease.period_ms * (unsigned)simh_range(w, 15, 30) / 10;
			tag(w, "self-fence");
		}
		c->hold_periods = (unsigned)simh_range(w, 2, 25);
		if (c->role >= SIMH_DAEMON)
			c->kill_grace_ms = (unsigned)simh_range(w, c->lease.period_ms / 2,
								3 * c->lease.period_ms);
		if (c->npaths > 1)
			tag(w, "multipath");
		tag(w, roles[c->role]);
	}
	if (mismatch)
		tag(w, "mismatched-L");
}

static void gen_faults(struct simh_world *w, uint64_t span)
{
	/* weights of pause, kill, restart, path-down, target-restart, timeout, suspend */
	static const unsigned weights[_SIMH_F_MAX] = {25, 6, 12, 15, 10, 20, 12};
	unsigned n = (unsigned)simh_range(w, 0, w->p->faults);

	for (unsigned i = 0; i < n && i < SIMH_MAX_FAULTS; i++) {
		struct simh_fault *f = &w->faults[w->nfaults++];
		unsigned pick = (unsigned)simh_range(w, 0, 99), k = 0;
		struct simh_host *h;
		uint64_t L;

		while (k < _SIMH_F_MAX - 1 && pick >= weights[k])
			pick -= weights[k++];
		if (w->p->without & SIMH_NO_FAULT(k)) {
			w->nfaults--;
			continue;
		}
		f->kind = (enum simh_fault_kind)k;
		f->host = (unsigned)simh_range(w, 0, w->nhosts - 1);
		h = &w->hosts[f->host];
		L = period(h);
		f->path = (unsigned)simh_range(w, 0, h->cfg.npaths - 1);
		f->at = w->t0 + simh_range(w, L, span > 3 * L ? span - 2 * L : L);
		f->flag = simh_chance(w, 50);
		switch (f->kind) {
		case SIMH_F_PAUSE:
			f->dur = simh_range(w, L / 2, 12 * L);
			break;
		case SIMH_F_RESTART:
			f->dur = simh_range(w, 0, 5 * L);
			break;
		case SIMH_F_PATH_DOWN:
			f->dur = simh_range(w, L / 5, 6 * L);
			break;
		case SIMH_F_SUSPEND:
			f->dur = simh_range(w, L, 12 * L);
			break;
		case SIMH_F_TIMEOUT:
			pick = (unsigned)simh_range(w, 0, 3);
			f->match = pick < 3;
			f->opcode = pick < 2 ? 0x5f : 0x5e; /* PR OUT twice as often as PR IN */
			f->skip = (unsigned)simh_range(w, 0, 4);
			f->count = (unsigned)simh_range(w, 1, 3);
			break;
		default:
			break;
		}
		tag(w, simh_fault_name(f->kind));
	}
}

static void host_names(struct simh_host *h)
{
	for (unsigned p = 0; p < h->cfg.npaths; p++) {
		if (h->cfg.npaths == 1)
			snprintf(h->names[p], sizeof(h->names[p]), SIMH_NAME_PREFIX "%u",
				 h->idx + 1);
		else
			snprintf(h->names[p], sizeof(h->names[p]),
				 SIMH_NAME_PREFIX "%u,i,0x4000000000%u%u", h->idx + 1, h->idx + 1,
				 p);
	}
}

static int host_open(struct simh_world *w, struct simh_host *h)
{
	const char *names[SIMH_MAX_PATHS] = {h->names[0], h->names[1]};

	if (h->cfg.npaths == 1)
		return sim_fx_open_opts(&w->fx, h->names[0], &h->opts, &h->dev);
	return sim_fx_open_paths(&w->fx, names, h->cfg.npaths, &h->opts, &h->dev);
}

/* Key counters come from the episode's generator, so a seed replays exactly. */
static uint32_t host_random(void *userdata)
{
	struct simh_host *h =
		(struct simh_host *)((char *)userdata - offsetof(struct simh_host, clock));

	return (uint32_t)(simh_rand(h->w) >> 32);
}

/* The host's clock reads world time + its offset while it acts; what its commands cost moves
 * the world on. */
static void clock_in(struct simh_host *h)
{
	h->clock.now = simh_host_now(h);
}

static void clock_out(struct simh_host *h)
{
	uint64_t before = simh_host_now(h);

	if (h->clock.now > before)
		h->w->now += h->clock.now - before;
}

static void do_step(struct simh_world *w, struct simh_host *h, bool restarted)
{
	struct simh_act act = {0};

	clock_in(h);
	h->next_step = h->ops->step(h, h->clock.now, restarted, &act);
	clock_out(h);
	h->believes_held = act.held;
	w->res->actions++;
	simh_trace(w, &(struct simh_tr){.t = w->now,
					.host = (int)h->idx,
					.kind = SIMH_TR_ACT,
					.op = act.op,
					.rc = act.rc,
					.ev = act.ev,
					.flag = act.held,
					.key = act.key});
	simh_after_change(w, (int)h->idx);
	simh_check_act(w, h, &act);
}

static void do_write(struct simh_world *w, struct simh_host *h, bool probe)
{
	uint8_t block[SGPR_SIM_BLOCK_SIZE] = {0};
	int path = h->cfg.npaths > 1 ? (int)simh_range(w, 0, h->cfg.npaths - 1) : -1;
	int r;

	snprintf((char *)block, sizeof(block), "h%u seq %u t %llu%s", h->idx + 1, ++h->write_seq,
		 (unsigned long long)(w->now - w->t0), probe ? " probe" : "");
	clock_in(h);
	r = sim_fx_rw16(h->dev, path, true, h->write_seq % 8, block, NULL);
	clock_out(h);
	w->res->writes++;
	simh_trace(w, &(struct simh_tr){.t = w->now,
					.host = (int)h->idx,
					.kind = SIMH_TR_WRITE,
					.op = path < 0 ? 0 : (unsigned)path,
					.rc = r,
					.flag = probe});
	if (r == 0)
		simh_check_write(w, h, probe);
}

/* A daemon restart: the old process is gone, a new one opens new sessions on the same nexus. */
static void do_restart(struct simh_world *w, struct simh_host *h)
{
	int r;

	h->restart_pending = false;
	h->ops->fini(h);
	h->dev = sgpr_dev_free(h->dev);
	r = host_open(w, h);
	if (r == 0)
		r = h->ops->init(h);
	if (r < 0) {
		simh_fail(w, SIMH_ERR, "h%u: restart failed: %d", h->idx + 1, r);
		return;
	}
	do_step(w, h, true);
}

static void fault_start(struct simh_world *w, struct simh_fault *f)
{
	struct simh_host *h = &w->hosts[f->host];
	struct sgpr_sim_fault sf = {
		.kind = SGPR_SIM_FAULT_TIMEOUT,
		.executed = f->flag,
		.match_opcode = f->match,
		.opcode = f->opcode,
		.skip = f->skip,
		.count = f->count,
	};
	int rc = 0;

	f->started = true;
	if (h->killed && f->kind != SIMH_F_TARGET_RESTART)
		return;
	switch (f->kind) {
	case SIMH_F_PAUSE:
		if (h->paused_until < w->now + f->dur)
			h->paused_until = w->now + f->dur;
		break;
	case SIMH_F_KILL:
		h->killed = true;
		break;
	case SIMH_F_RESTART:
		h->restart_pending = true;
		h->down_until = w->now + f->dur;
		break;
	case SIMH_F_PATH_DOWN:
		sgpr_sim_path_down(h->dev, f->path, true);
		break;
	case SIMH_F_TARGET_RESTART:
		sgpr_sim_lun_restart(w->fx.lun, f->flag);
		w->state_lost_at = w->now;
		rc = f->flag; /* 1: sessions dropped */
		break;
	case SIMH_F_TIMEOUT:
		rc = f->flag ? 1 : 0; /* 1: executed before the answer was lost */
		if (h->cfg.npaths > 1)
			sgpr_sim_path_fault(h->dev, f->path, &sf);
		else
			sgpr_sim_set_fault(h->dev, &sf);
		break;
	case SIMH_F_SUSPEND:
		if (h->paused_until < w->now + f->dur)
			h->paused_until = w->now + f->dur;
		if (f->flag && w->p->monotonic) /* CLOCK_MONOTONIC does not count a suspend */
			h->clock_offset -= (int64_t)f->dur;
		rc = f->flag;
		sgpr_sim_disconnect(h->dev);
		break;
	default:
		break;
	}
	simh_trace(w,
		   &(struct simh_tr){.t = w->now,
				     .host = f->kind == SIMH_F_TARGET_RESTART ? -1 : (int)f->host,
				     .kind = SIMH_TR_FAULT,
				     .op = f->kind,
				     .key = f->dur,
				     .rc = rc});
	if (f->kind == SIMH_F_TARGET_RESTART)
		simh_after_change(w, -1);
}

static void faults(struct simh_world *w)
{
	for (unsigned i = 0; i < w->nfaults; i++) {
		struct simh_fault *f = &w->faults[i];

		if (!f->started && w->now >= f->at)
			fault_start(w, f);
		if (f->started && !f->ended && f->dur && w->now >= f->at + f->dur) {
			f->ended = true;
			if (f->kind == SIMH_F_PATH_DOWN && w->hosts[f->host].dev)
				sgpr_sim_path_down(w->hosts[f->host].dev, f->path, false);
			if (f->kind != SIMH_F_RESTART)
				simh_trace(w, &(struct simh_tr){.t = w->now,
								.host = (int)f->host,
								.kind = SIMH_TR_FAULT_END,
								.op = f->kind});
		}
	}
}

static void host_turn(struct simh_world *w, struct simh_host *h)
{
	unsigned L = period(h);

	if (h->killed || w->now < h->paused_until)
		return;
	if (h->ops->check && !h->restart_pending)
		h->ops->check(h);
	if (w->failed)
		return;
	if (h->restart_pending && w->now >= h->down_until) {
		do_restart(w, h);
		return;
	}
	/* the workload first: a resumed host writes before its watchdog looks */
	if (w->now >= h->next_write) {
		h->next_write = w->now + simh_range(w, L / 5, L / 2);
		if (h->ops->may_write(h, simh_host_now(h)))
			do_write(w, h, false);
	}
	if (w->failed)
		return;
	if (w->now >= h->next_probe) {
		h->next_probe = w->now + simh_range(w, L, 3 * L);
		if (!h->ops->may_write(h, simh_host_now(h)))
			do_write(w, h, true);
	}
	if (!w->failed && !h->restart_pending && simh_host_now(h) >= h->next_step)
		do_step(w, h, false);
}

static void describe(struct simh_world *w, FILE *out)
{
	static const char *const roles[] = {"holder", "standby", "runner", "daemon", "daemon-wait"};

	fprintf(out, "  episode: %s model, %u hosts; tags: %s\n", w->tgt ? "tgt" : "SPC", w->nhosts,
		w->res->tags);
	for (unsigned i = 0; i < w->nhosts; i++) {
		const struct simh_host *h = &w->hosts[i];

		fprintf(out,
			"  h%u: %s, host_id %u, %u path(s), L %u, dead_after %u, self_fence %u, "
			"hold %u, kill_grace %u\n",
			i + 1, roles[h->cfg.role], h->cfg.lease.host_id, h->cfg.npaths,
			h->cfg.lease.period_ms, h->cfg.lease.dead_after_ms,
			h->cfg.lease.self_fence_after_ms, h->cfg.hold_periods,
			h->cfg.kill_grace_ms);
	}
	for (unsigned i = 0; i < w->nhosts && w->failed; i++) {
		const struct simh_host *h = &w->hosts[i];

		fprintf(out, "  h%u at the failure: %s%s, last confirmed %lld ms ago", i + 1,
			h->killed ? "killed, " : "",
			h->believes_held ? "believes it holds" : "idle",
			h->last_conf ? (long long)(w->now - h->last_conf) : -1ll);
		if (h->fenced)
			fprintf(out, ", fenced by h%d at %llu ms", h->fenced_by + 1,
				(unsigned long long)(h->fenced_at - w->t0));
		fputc('\n', out);
	}
	for (unsigned i = 0; i < w->nfaults; i++) {
		const struct simh_fault *f = &w->faults[i];

		fprintf(out, "  fault at %llu ms: %s h%u path %u dur %llu flag %d",
			(unsigned long long)(f->at - w->t0), simh_fault_name(f->kind), f->host + 1,
			f->path, (unsigned long long)f->dur, f->flag);
		if (f->kind == SIMH_F_TIMEOUT)
			fprintf(out, " opcode %s0x%02x skip %u count %u", f->match ? "" : "any/",
				f->opcode, f->skip, f->count);
		fputc('\n', out);
	}
}

static int setup(struct simh_world *w)
{
	uint64_t span = 0;
	int r;

	w->tgt = w->p->force_model >= 0 ? w->p->force_model : simh_chance(w, 50);
	tag(w, w->tgt ? "tgt" : "spc");
	r = sim_fx_init_tgt(&w->fx, w->tgt);
	if (r < 0)
		return r;
	w->ns = sgpr_ns_from_cluster("sim");
	w->now = w->t0 = 1000000;
	gen_hosts(w);
	span = (uint64_t)w->p->steps * (TICK_MAX_MS + 1) / 2;
	gen_faults(w, span);
	for (unsigned i = 0; i < w->nhosts; i++) {
		struct simh_host *h = &w->hosts[i];
		unsigned L = period(h);

		sgpr_sim_clock_init(&h->clock);
		h->clock.clock.random_u32 = host_random;
		h->opts.size = sizeof(h->opts);
		h->opts.clock = &h->clock.clock;
		h->opts.timeout_ms = CMD_TIMEOUT_MS;
		host_names(h);
		r = host_open(w, h);
		if (r == 0)
			r = h->ops->init(h);
		if (r < 0)
			return r;
		h->next_step = simh_host_now(h) + (i == 0 ? 0 : simh_range(w, 0, L));
		h->next_write = w->now + simh_range(w, 0, L / 2);
		h->next_probe = w->now + simh_range(w, L, 3 * L);
	}
	simh_snap_take(w, &w->snap);
	return 0;
}

int simh_run_episode(uint64_t seed, const struct simh_params *p, struct simh_result *res)
{
	struct simh_world *w = calloc(1, sizeof(*w));
	FILE *out = p->out ? p->out : stderr;
	int r;

	*res = (struct simh_result){.seed = seed};
	if (!w)
		return -ENOMEM;
	w->seed = seed;
	w->rng = splitmix64(seed) | 1;
	w->p = p;
	w->res = res;
	r = setup(w);
	if (r < 0)
		simh_fail(w, SIMH_ERR, "setup failed: %d", r);
	if (p->verbose)
		describe(w, out);
	for (w->step = 0; w->step < p->steps && !w->failed; w->step++) {
		unsigned order[SIMH_MAX_HOSTS];

		w->now += simh_range(w, 1, TICK_MAX_MS);
		faults(w);
		for (unsigned i = 0; i < w->nhosts; i++)
			order[i] = i;
		for (unsigned i = w->nhosts - 1; i > 0; i--) {
			unsigned j = (unsigned)simh_range(w, 0, i), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (unsigned i = 0; i < w->nhosts && !w->failed; i++)
			host_turn(w, &w->hosts[order[i]]);
	}
	if (w->failed) {
		fprintf(out, "FAIL seed %llu step %u (%llu ms): %s: %s\n", (unsigned long long)seed,
			res->step, (unsigned long long)res->t_ms, simh_inv_name(res->inv),
			res->what);
		if (!p->verbose)
			describe(w, out);
		fprintf(out, "  last events:\n");
		simh_print_trace(w, out);
	}
	for (unsigned i = 0; i < w->nhosts; i++) {
		if (w->hosts[i].drv)
			w->hosts[i].ops->fini(&w->hosts[i]);
		if (w->hosts[i].ops && w->hosts[i].ops->free_keep)
			w->hosts[i].ops->free_keep(&w->hosts[i]);
	}
	sim_fx_fini(&w->fx);
	r = w->failed ? 1 : 0;
	free(w);
	return r;
}
