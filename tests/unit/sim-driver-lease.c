/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's driver for the lease engine as the CLI uses it: one struct sgpr_lease per
 * host, driven by the public calls of sgpr.h only.
 *   holder:  acquire (acquire --wait: observe until held), renew every L, release after a
 *            while and watch again;
 *   standby: observe every L (preempt --if-dead), then hold as a holder;
 *   runner:  acquire, run 0.3..0.9 L (sometimes 2.5 L, renewing), release, again after a short
 *            gap: "prlock run DEV -- sleep 1.2" in a loop.
 * A lost lease stops the workload at once; the host watches again later with a new lease.
 */
#include "sim-world.h"

struct lease_drv {
	struct sgpr_lease *l;
	enum simh_role role; /* what it does now: a standby that took over holds */
	bool started, running;
	bool release_failed; /* the workload stopped; the target's answer was lost */
	unsigned renewals;
	uint64_t run_until, last_renew; /* host time */
};

static int drv_init(struct simh_host *h)
{
	struct lease_drv *d = calloc(1, sizeof(*d));
	struct sgpr_lease_opts o = h->cfg.lease;
	int r;

	if (!d)
		return -ENOMEM;
	/* a restarted daemon adopts only what its state file recorded (issue 8, item 2) */
	o.adopt_key = h->rec_key;
	o.adopt_confirmed_ms = h->rec_confirmed;
	r = sgpr_lease_new(h->dev, &o, &d->l);
	if (r < 0) {
		free(d);
		return r;
	}
	d->role = h->cfg.role;
	h->drv = d;
	return 0;
}

static void drv_fini(struct simh_host *h)
{
	struct lease_drv *d = h->drv;

	if (d) {
		sgpr_lease_free(d->l);
		free(d);
	}
	h->drv = NULL;
}

static bool held(const struct lease_drv *d)
{
	return sgpr_lease_get_state(d->l) == SGPR_LEASE_HELD;
}

static void call(struct lease_drv *d, enum simh_op op, struct simh_act *act)
{
	act->op = op;
	act->ev = SGPR_LEASE_NONE;
	switch (op) {
	case SIMH_OP_ACQUIRE:
	case SIMH_OP_RESTART:
		act->rc = sgpr_lease_acquire(d->l, &act->ev);
		break;
	case SIMH_OP_RENEW:
		act->rc = sgpr_lease_renew(d->l, &act->ev);
		break;
	case SIMH_OP_OBSERVE:
		act->rc = sgpr_lease_observe(d->l, &act->ev);
		break;
	case SIMH_OP_RELEASE:
		act->rc = sgpr_lease_release(d->l);
		break;
	default:
		act->rc = 0;
		break;
	}
}

static void start_run(struct simh_host *h, struct lease_drv *d, uint64_t now)
{
	unsigned L = h->cfg.lease.period_ms;

	d->running = true;
	d->last_renew = now;
	d->run_until = now + (simh_chance(h->w, 10) ? 5 * L / 2
						    : simh_range(h->w, 3 * L / 10, 9 * L / 10));
}

static uint64_t step_runner(struct simh_host *h, struct lease_drv *d, uint64_t now,
			    struct simh_act *act)
{
	unsigned L = h->cfg.lease.period_ms;

	if (held(d) && d->running && now < d->run_until) {
		if (now - d->last_renew < L)
			return d->run_until < d->last_renew + L ? d->run_until : d->last_renew + L;
		call(d, SIMH_OP_RENEW, act);
		d->last_renew = now;
		return d->run_until < now + L ? d->run_until : now + L;
	}
	if (held(d)) { /* the command exited: release */
		d->running = false;
		call(d, SIMH_OP_RELEASE, act);
		return now + (held(d) ? L / 4 : simh_range(h->w, L / 50, 2 * L / 5));
	}
	d->running = false;
	call(d, SIMH_OP_ACQUIRE, act);
	if (held(d)) {
		start_run(h, d, now);
		return d->run_until < now + L ? d->run_until : now + L;
	}
	return now + simh_range(h->w, L / 5, L);
}

static uint64_t step_holder(struct simh_host *h, struct lease_drv *d, uint64_t now,
			    struct simh_act *act)
{
	unsigned L = h->cfg.lease.period_ms;

	if (held(d)) {
		if (d->role == SIMH_HOLDER && d->renewals >= h->cfg.hold_periods) {
			/* the VM stopped: release, and want the LUN again later */
			call(d, SIMH_OP_RELEASE, act);
			if (!held(d)) {
				d->role = SIMH_STANDBY;
				return now + simh_range(h->w, L, 4 * L);
			}
			return now + L / 4;
		}
		call(d, SIMH_OP_RENEW, act);
		d->renewals++;
		return now + L;
	}
	call(d, !d->started && d->role == SIMH_HOLDER ? SIMH_OP_ACQUIRE : SIMH_OP_OBSERVE, act);
	d->started = true;
	if (held(d)) {
		d->role = SIMH_HOLDER;
		d->renewals = 0;
	}
	return now + L;
}

static uint64_t drv_step(struct simh_host *h, uint64_t now, bool restarted, struct simh_act *act)
{
	struct lease_drv *d = h->drv;
	unsigned L = h->cfg.lease.period_ms;
	uint64_t next;

	if (restarted) {
		/* a new daemon re-adopts what its host held: acquire on a fresh lease */
		call(d, SIMH_OP_RESTART, act);
		d->started = true;
		if (held(d) && h->cfg.role == SIMH_RUNNER)
			start_run(h, d, now);
		next = now + L;
	} else if (sgpr_lease_get_state(d->l) == SGPR_LEASE_LOST) {
		/* the workload was stopped when the loss was reported; watch again later */
		sgpr_lease_free(d->l);
		d->l = NULL;
		act->rc = sgpr_lease_new(h->dev, &h->cfg.lease, &d->l);
		act->op = SIMH_OP_NONE;
		d->role = h->cfg.role == SIMH_RUNNER ? SIMH_RUNNER : SIMH_STANDBY;
		d->running = false;
		next = now + simh_range(h->w, L / 2, 3 * L);
	} else if (d->role == SIMH_RUNNER) {
		next = step_runner(h, d, now, act);
	} else {
		next = step_holder(h, d, now, act);
	}
	if (act->op == SIMH_OP_RELEASE)
		d->release_failed = act->rc < 0;
	else if (act->op != SIMH_OP_NONE && d->l && held(d))
		d->release_failed = false;
	act->held = d->l && held(d) && !d->release_failed;
	act->key = d->l ? sgpr_lease_key(d->l) : 0;
	/* the state file: rewritten on every confirmed change, as prlockd does */
	if (act->held && act->rc == 0) {
		h->rec_key = act->key;
		h->rec_confirmed = sgpr_lease_last_renewal_ms(d->l);
	} else if (!d->l || sgpr_lease_get_state(d->l) != SGPR_LEASE_HELD) {
		h->rec_key = h->rec_confirmed = 0;
	}
	return next;
}

static bool drv_may_write(const struct simh_host *h, uint64_t now)
{
	const struct lease_drv *d = h->drv;

	if (!d || !d->l || !held(d) || d->release_failed)
		return false;
	return d->role != SIMH_RUNNER || (d->running && now < d->run_until);
}

const struct simh_driver_ops simh_lease_driver = {
	.name = "lease",
	.init = drv_init,
	.fini = drv_fini,
	.step = drv_step,
	.may_write = drv_may_write,
};
