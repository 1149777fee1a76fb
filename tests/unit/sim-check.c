/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's invariants, from the target's view: who is registered on which nexus and who
 * holds the reservation (sgpr_sim_lun_registration()), compared with what each host's driver
 * reported. See sim-hosts.h for I1..I5.
 */
#include <stdarg.h>
#include <string.h>

#include "sim-world.h"

const char *simh_inv_name(enum simh_inv inv)
{
	static const char *const names[] = {"ok", "I1", "I2", "I3", "I4", "I5", "error"};

	return (unsigned)inv < sizeof(names) / sizeof(names[0]) ? names[inv] : "?";
}

const char *simh_fault_name(enum simh_fault_kind k)
{
	static const char *const names[] = {
		[SIMH_F_PAUSE] = "pause",
		[SIMH_F_KILL] = "kill",
		[SIMH_F_RESTART] = "restart",
		[SIMH_F_PATH_DOWN] = "path-down",
		[SIMH_F_TARGET_RESTART] = "target-restart",
		[SIMH_F_TIMEOUT] = "timeout",
		[SIMH_F_SUSPEND] = "suspend",
	};

	return (unsigned)k < _SIMH_F_MAX ? names[k] : "?";
}

const char *simh_op_name(enum simh_op op)
{
	static const char *const names[] = {
		[SIMH_OP_NONE] = "none",       [SIMH_OP_ACQUIRE] = "acquire",
		[SIMH_OP_RENEW] = "renew",     [SIMH_OP_OBSERVE] = "observe",
		[SIMH_OP_RELEASE] = "release", [SIMH_OP_RESTART] = "restart+acquire",
	};

	return (unsigned)op < _SIMH_OP_MAX ? names[op] : "?";
}

static int host_of(const struct simh_world *w, const char *name)
{
	size_t n = strlen(SIMH_NAME_PREFIX);
	unsigned idx;

	if (!name || strncmp(name, SIMH_NAME_PREFIX, n) != 0)
		return -1;
	idx = (unsigned)(name[n] - '1');
	return idx < w->nhosts ? (int)idx : -1;
}

void simh_snap_take(struct simh_world *w, struct simh_snap *s)
{
	struct simh_reg *r;

	s->n = 0;
	s->holder_host = -1;
	s->res_type = sgpr_sim_lun_reservation(w->fx.lun, &s->holder_key);
	for (unsigned i = 0; s->n < SIMH_MAX_REGS; i++) {
		r = &s->r[s->n];
		if (sgpr_sim_lun_registration(w->fx.lun, i, &r->key, &r->name, &r->holder) < 0)
			break;
		r->host = host_of(w, r->name);
		if (r->holder && !sgpr_type_is_all_registrants(s->res_type))
			s->holder_host = r->host;
		s->n++;
	}
}

static void print_tr(const struct simh_world *w, const struct simh_tr *t, FILE *out);

void simh_trace(struct simh_world *w, const struct simh_tr *tr)
{
	w->trace[w->ntrace++ % SIMH_TRACE] = *tr;
	if (w->p->verbose)
		print_tr(w, tr, w->p->out ? w->p->out : stderr);
}

void simh_fail(struct simh_world *w, enum simh_inv inv, const char *fmt, ...)
{
	va_list ap;

	if (w->failed)
		return;
	w->failed = true;
	w->res->inv = inv;
	w->res->step = w->step;
	w->res->t_ms = w->now - w->t0;
	va_start(ap, fmt);
	vsnprintf(w->res->what, sizeof(w->res->what), fmt, ap);
	va_end(ap);
}

static bool reg_present(const struct simh_snap *s, const struct simh_reg *r)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->r[i].name == r->name && s->r[i].key == r->key)
			return true;
	return false;
}

/* How many registrations host has, and the keys of the first two. */
static unsigned regs_of(const struct simh_snap *s, int host, uint64_t ret_keys[2])
{
	unsigned n = 0;

	ret_keys[0] = ret_keys[1] = 0;
	for (unsigned i = 0; i < s->n; i++)
		if (s->r[i].host == host) {
			if (n < 2)
				ret_keys[n] = s->r[i].key;
			n++;
		}
	return n;
}

void simh_after_change(struct simh_world *w, int actor)
{
	struct simh_snap now;
	bool removed[SIMH_MAX_HOSTS] = {0}, holder_removed[SIMH_MAX_HOSTS] = {0};
	bool changed[SIMH_MAX_HOSTS] = {0};
	uint64_t keys[2];

	simh_snap_take(w, &now);
	for (unsigned i = 0; i < w->snap.n; i++) {
		const struct simh_reg *r = &w->snap.r[i];

		if (r->host < 0 || reg_present(&now, r))
			continue;
		if (r->host == actor) {
			changed[actor] = true;
			continue;
		}
		removed[r->host] = true;
		holder_removed[r->host] |= r->holder;
	}
	for (unsigned i = 0; i < now.n; i++)
		if (now.r[i].host == actor && !reg_present(&w->snap, &now.r[i]))
			changed[actor] = true; /* a new key of ours took effect */
	if (actor >= 0 && changed[actor]) {
		w->hosts[actor].last_reached = w->now;
		unsigned n = regs_of(&now, actor, keys);

		w->hosts[actor].parked = n && sgpr_key_is_parking(keys[0], w->ns) &&
					 (n == 1 || sgpr_key_is_parking(keys[1], w->ns));

		simh_trace(w, &(struct simh_tr){.t = w->now,
						.host = actor,
						.kind = SIMH_TR_REGS,
						.rc = (int)n,
						.key = keys[0],
						.key2 = keys[1]});
	}

	for (unsigned y = 0; actor >= 0 && y < w->nhosts; y++) {
		struct simh_host *h = &w->hosts[y];

		/* a stale path key of a host that still holds the reservation is no fence */
		if (!removed[y] || now.holder_host == (int)y)
			continue;
		simh_trace(w, &(struct simh_tr){.t = w->now,
						.host = (int)y,
						.kind = SIMH_TR_FENCED,
						.op = (unsigned)actor});
		if (!h->fenced) {
			h->fenced_at = w->now;
			h->fenced_by = actor;
		}
		h->fenced = true;
		h->loss_pending = true;
		if (holder_removed[y] && now.holder_host != (int)y && h->believes_held &&
		    !h->parked && w->now - h->last_conf < h->cfg.lease.period_ms)
			simh_fail(w, SIMH_I3,
				  "h%u taken over by h%d %llu ms after its last confirmed renewal "
				  "(its period L is %u ms)",
				  y + 1, actor + 1, (unsigned long long)(w->now - h->last_conf),
				  h->cfg.lease.period_ms);
	}
	if (now.holder_host != w->snap.holder_host || now.holder_key != w->snap.holder_key)
		simh_trace(w, &(struct simh_tr){.t = w->now,
						.host = now.holder_host,
						.kind = SIMH_TR_HOLDER,
						.key = now.holder_key,
						.op = (unsigned)now.res_type});
	w->snap = now;
}

static bool is_lost(enum sgpr_lease_event ev)
{
	return ev >= SGPR_LEASE_LOST_PREEMPTED;
}

static bool confirms(enum sgpr_lease_event ev)
{
	switch (ev) {
	case SGPR_LEASE_ACQUIRED:
	case SGPR_LEASE_ADOPTED:
	case SGPR_LEASE_RENEWED:
	case SGPR_LEASE_RECOVERED:
	case SGPR_LEASE_TAKEN_OVER:
	case SGPR_LEASE_PEER_REMOVED:
		return true;
	default:
		return false;
	}
}

void simh_check_act(struct simh_world *w, struct simh_host *h, const struct simh_act *act)
{
	unsigned x = h->idx + 1;
	bool ok = act->rc == 0 && confirms(act->ev);

	/* a step without a lease call (a daemon's idle step) learns nothing */
	if (act->op != SIMH_OP_RENEW && act->op != SIMH_OP_NONE)
		h->unsure = act->rc < 0 && !act->held;

	if (act->op == SIMH_OP_RENEW && h->loss_pending) {
		if (is_lost(act->ev) || act->rc == -EBADE)
			h->loss_pending = false;
		else if (ok) /* the renewal reached the target */
			simh_fail(w, SIMH_I4,
				  "h%u's registration was removed by another host, "
				  "its renewal reported %s",
				  x, sgpr_lease_event_name(act->ev));
	}
	if (ok && act->held) {
		if (w->snap.holder_host != (int)h->idx)
			simh_fail(w, SIMH_I4,
				  "h%u reports %s (key 0x%llx) but the target's holder is %s%d", x,
				  sgpr_lease_event_name(act->ev), (unsigned long long)act->key,
				  w->snap.holder_host < 0 ? "none/" : "h",
				  w->snap.holder_host < 0 ? w->snap.res_type
							  : w->snap.holder_host + 1);
		/* an adoption keeps the key: to an observer it is no sign of life (no renewal) */
		if (act->ev != SGPR_LEASE_ADOPTED)
			h->last_conf = w->now;
		if (act->ev == SGPR_LEASE_ACQUIRED || act->ev == SGPR_LEASE_TAKEN_OVER ||
		    act->ev == SGPR_LEASE_ADOPTED) {
			h->fenced = false;
			h->loss_pending = false;
		}
	}
	/* I5: self_fence_after counts real time since a renewal last took effect */
	if (act->op == SIMH_OP_RENEW && !ok && !is_lost(act->ev) && act->rc != -EBADE &&
	    h->cfg.lease.self_fence_after_ms &&
	    w->now - h->last_reached >= h->cfg.lease.self_fence_after_ms)
		simh_fail(w, SIMH_I5,
			  "h%u's renewal reported %s (rc %d) %llu ms after its last renewal took "
			  "effect; self_fence_after is %u ms",
			  x, sgpr_lease_event_name(act->ev), act->rc,
			  (unsigned long long)(w->now - h->last_reached),
			  h->cfg.lease.self_fence_after_ms);
}

void simh_check_write(struct simh_world *w, struct simh_host *h, bool probe)
{
	const struct simh_snap *s = &w->snap;

	if (probe && h->unsure)
		return;
	/*
	 * The target counts it as the holder (its acquisition, or the park of its release,
	 * took effect even if the answer was lost): its nexus may write, and it was not fenced.
	 */
	if (s->res_type && !sgpr_type_is_all_registrants(s->res_type) &&
	    s->holder_host == (int)h->idx)
		return;

	if (s->res_type && !sgpr_type_is_all_registrants(s->res_type) &&
	    s->holder_host != (int)h->idx)
		simh_fail(w, SIMH_I1, "%s write of h%u accepted while %s%d holds the reservation",
			  probe ? "a probe" : "a workload", h->idx + 1,
			  s->holder_host < 0 ? "foreign key/" : "h",
			  s->holder_host < 0 ? 0 : s->holder_host + 1);
	else if (h->fenced && !s->res_type && w->state_lost_at >= h->fenced_at)
		; /* a target without APTPL lost every reservation: no fence is left to hold
		   * until a holder re-establishes it (docs/TIMING.md) */
	else if (h->fenced)
		simh_fail(w, SIMH_I2,
			  "%s write of h%u accepted after another host removed its registration "
			  "(reservation: %s)",
			  probe ? "a probe" : "a workload", h->idx + 1,
			  s->res_type ? (s->holder_host == (int)h->idx ? "its own" : "other")
				      : "none");
}

static void print_key(FILE *out, uint64_t key)
{
	struct sgpr_key_parts k = sgpr_key_split(key);

	if (key)
		fprintf(out, " key h%u/e%u", k.host_id, k.epoch);
}

static void print_tr(const struct simh_world *w, const struct simh_tr *t, FILE *out)
{
	fprintf(out, "  %8llu ms ", (unsigned long long)(t->t - w->t0));
	if (t->host >= 0)
		fprintf(out, "h%d ", t->host + 1);
	switch (t->kind) {
	case SIMH_TR_ACT:
		fprintf(out, "%s -> rc %d %s%s", simh_op_name((enum simh_op)t->op), t->rc,
			sgpr_lease_event_name(t->ev), t->flag ? " (holds)" : "");
		print_key(out, t->key);
		break;
	case SIMH_TR_WRITE:
		fprintf(out, "%s write path %u: %s", t->flag ? "probe" : "workload", t->op,
			t->rc ? "refused" : "ACCEPTED");
		if (t->rc && t->rc != -EBADE)
			fprintf(out, " (rc %d)", t->rc);
		break;
	case SIMH_TR_FAULT:
	case SIMH_TR_FAULT_END:
		fprintf(out, "%s %s", t->kind == SIMH_TR_FAULT ? "fault" : "end of",
			simh_fault_name((enum simh_fault_kind)t->op));
		if (t->key)
			fprintf(out, " for %llu ms", (unsigned long long)t->key);
		if (t->rc)
			fprintf(out, " (%d)", t->rc);
		break;
	case SIMH_TR_HOLDER:
		fprintf(out, "%starget: reservation type %u", t->host < 0 ? "" : "is holder, ",
			t->op);
		print_key(out, t->key);
		break;
	case SIMH_TR_FENCED:
		fprintf(out, "registration removed by h%u", t->op + 1);
		break;
	case SIMH_TR_REGS:
		fprintf(out, "target: %d registration(s) of this host now", t->rc);
		print_key(out, t->key);
		if (t->key2 && t->key2 != t->key)
			print_key(out, t->key2);
		break;
	}
	fputc('\n', out);
}

void simh_print_trace(struct simh_world *w, FILE *out)
{
	unsigned n = w->ntrace < SIMH_TRACE ? w->ntrace : SIMH_TRACE;

	for (unsigned i = w->ntrace - n; i < w->ntrace; i++)
		print_tr(w, &w->trace[i % SIMH_TRACE], out);
}
