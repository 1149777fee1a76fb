/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's driver for prlockd: the daemon's lease table (src/prlockd/table.h) on a sim
 * host, with its jobs run inline (one per step, so that the world checks each), its state file
 * in memory, and "processes" that are records. A client of the daemon runs on the same host:
 *   daemon:      acquire; on success start a process that writes and protect it; release
 *                when it ends (after hold_periods L) or is stopped by a loss; again later;
 *   daemon-wait: the same with acquire --wait (forever, or bounded 2..8 L).
 * A daemon restart (fault "restart") frees the table without releasing and makes a new one
 * from the old one's state file; processes and the client survive it, a request in flight is
 * lost (the client sees an error and asks again).
 *
 * I4 for processes: once the table reported a loss (a LOST_* event, or a recorded lease found
 * taken at re-adoption), every protected process of the lease is stopped within
 * kill_grace + L (later only while the host was paused or its daemon down). A process may
 * ignore SIGTERM (30%); then only the table's pending SIGKILL stops it.
 */
#include <signal.h>
#include <string.h>
#include <syslog.h>

#include "sim-world.h"
#include "table.h"

#define PD_DEV "sim"
#define PD_MAX_PROCS 16
#define PD_QUEUE 8

struct pd_proc {
	struct protected_proc p;
	bool alive, ignores_term, natural;
	uint64_t end_at;     /* host time: the workload ends by itself */
	uint64_t deadline;   /* world time: stopped by then (a loss was reported); 0: none */
	uint64_t stopped_at; /* world time */
};

enum pd_client {
	PD_IDLE,      /* next request at client_at */
	PD_ASKED,     /* acquire sent, no answer yet */
	PD_RUNNING,   /* its process runs (or just ended: release) */
	PD_RELEASING, /* release sent, no answer yet */
};

/* The host: what a restart of the daemon keeps. */
struct pd_keep {
	char *state; /* the state file */
	size_t state_len;
	struct pd_proc procs[PD_MAX_PROCS];
	unsigned nprocs;
	pid_t next_pid;
	int cur; /* the client's process, -1 none */
	enum pd_client cl;
	uint64_t client_at; /* host time */
	bool got_reply;
	enum table_reply_kind reply_kind;
	char reply_event[32];
	uint64_t up_since; /* world time the daemon last started */
	unsigned restarts;
};

/* The daemon: one lease table and its queue of jobs to run inline. */
struct pd_drv {
	struct simh_host *h;
	struct table *t;
	struct table_job *queue[PD_QUEUE];
	unsigned nq;
};

static struct pd_keep *keep_of(struct simh_host *h)
{
	return h->keep;
}

/* ---- the table's side effects -------------------------------------------- */

static void op_submit(void *userdata, struct table_job *job)
{
	struct pd_drv *d = userdata;

	if (d->nq < PD_QUEUE)
		d->queue[d->nq++] = job;
	else
		simh_fail(d->h->w, SIMH_ERR, "h%u: more than %u jobs queued", d->h->idx + 1,
			  PD_QUEUE);
}

static void op_reply(void *userdata, void *waiter, const struct table_reply *rp)
{
	struct pd_drv *d = userdata;
	struct pd_keep *k = keep_of(d->h);

	if (waiter != k)
		return;
	k->got_reply = true;
	k->reply_kind = rp->kind;
	snprintf(k->reply_event, sizeof(k->reply_event), "%s",
		 rp->kind == TABLE_REPLY_ERROR ? rp->error : rp->event);
}

static int op_dev_open(void *userdata, const char *dev, const struct table_cred *owner,
		       struct sgpr_dev **ret)
{
	struct pd_drv *d = userdata;

	*ret = d->h->dev; /* the world's handle: its faults are the daemon's */
	return d->h->dev ? 0 : -ENODEV;
}

static void op_dev_close(void *userdata, struct sgpr_dev *dev)
{
	(void)userdata; /* the world frees it */
	(void)dev;
}

static struct pd_proc *proc_find(struct pd_keep *k, const struct protected_proc *p)
{
	for (unsigned i = 0; i < k->nprocs; i++)
		if (k->procs[i].p.pid == p->pid && k->procs[i].p.start == p->start)
			return &k->procs[i];
	return NULL;
}

static bool op_proc_alive(void *userdata, const struct protected_proc *p)
{
	struct pd_drv *d = userdata;
	struct pd_proc *q = proc_find(keep_of(d->h), p);

	return q && q->alive;
}

static void proc_stop(struct simh_world *w, struct pd_proc *q)
{
	q->alive = false;
	q->stopped_at = w->now;
}

static int op_proc_signal(void *userdata, const struct protected_proc *p, int sig)
{
	struct pd_drv *d = userdata;
	struct simh_world *w = d->h->w;
	struct pd_proc *q = proc_find(keep_of(d->h), p);

	if (!q || !q->alive)
		return -ESRCH;
	if (sig == SIGKILL || !q->ignores_term)
		proc_stop(w, q);
	return 0;
}

static int op_state_write(void *userdata, const char *buf, size_t len)
{
	struct pd_drv *d = userdata;
	struct pd_keep *k = keep_of(d->h);
	char *n = realloc(k->state, len + 1);

	if (!n)
		return -ENOMEM;
	memcpy(n, buf, len);
	n[len] = 0;
	k->state = n;
	k->state_len = len;
	return 0;
}

static void op_log(void *userdata, int prio, const char *msg)
{
	struct pd_drv *d = userdata;
	struct simh_world *w = d->h->w;

	if (w->p->verbose && prio <= LOG_INFO)
		fprintf(w->p->out ? w->p->out : stderr, "  %8llu ms h%u prlockd: <%d>%s\n",
			(unsigned long long)(w->now - w->t0), d->h->idx + 1, prio, msg);
}

/* ---- lifecycle ----------------------------------------------------------- */

static int drv_init(struct simh_host *h)
{
	static const struct table_ops ops = {
		.submit = op_submit,
		.reply = op_reply,
		.dev_open = op_dev_open,
		.dev_close = op_dev_close,
		.proc_alive = op_proc_alive,
		.proc_signal = op_proc_signal,
		.state_write = op_state_write,
		.log = op_log,
	};
	const struct sgpr_lease_opts *lo = &h->cfg.lease;
	struct table_config cfg = {
		.clock = &h->clock.clock,
		.ns = lo->ns,
		.host_id = lo->host_id,
		.period_ms = lo->period_ms,
		.dead_after_ms = lo->dead_after_ms,
		.kill_grace_ms = h->cfg.kill_grace_ms,
		.self_fence_after_ms = lo->self_fence_after_ms,
	};
	struct pd_keep *k = h->keep;
	struct pd_drv *d;
	int r;

	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return -ENOMEM;
		k->cur = -1;
		k->next_pid = 100;
		h->keep = k;
	} else {
		k->restarts++;
		/* the client's connection broke: an answer it waited for never comes */
		if (k->cl == PD_ASKED)
			k->cl = PD_IDLE;
		if (k->cl == PD_RELEASING)
			k->cl = PD_RUNNING; /* asks again */
		k->got_reply = false;
	}
	k->up_since = h->w->now;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->h = h;
	h->drv = d;
	r = table_new(&cfg, &ops, d, &d->t);
	if (r == 0 && k->state)
		r = table_state_load(d->t, k->state, "leases");
	if (r < 0)
		return r;
	table_adopt_all(d->t);
	return 0;
}

static void drv_fini(struct simh_host *h)
{
	struct pd_drv *d = h->drv;

	if (d) {
		/* a restart: jobs queued never ran; the leases stay on the target */
		table_free(d->t);
		free(d);
	}
	h->drv = NULL;
}

static void drv_free_keep(struct simh_host *h)
{
	struct pd_keep *k = h->keep;

	if (k)
		free(k->state);
	free(k);
	h->keep = NULL;
}

/* ---- the client ---------------------------------------------------------- */

static void spawn(struct simh_host *h, struct pd_drv *d, uint64_t now)
{
	struct pd_keep *k = keep_of(h);
	unsigned L = h->cfg.lease.period_ms;
	struct pd_proc *q;
	unsigned i;
	int r;

	for (i = 0; i < k->nprocs && k->procs[i].alive; i++)
		;
	if (i == PD_MAX_PROCS) {
		simh_fail(h->w, SIMH_ERR, "h%u: too many processes", h->idx + 1);
		return;
	}
	if (i == k->nprocs)
		k->nprocs++;
	q = &k->procs[i];
	*q = (struct pd_proc){
		.p = {.pid = k->next_pid++, .start = h->w->now},
		.alive = true,
		.ignores_term = simh_chance(h->w, 30),
		.end_at = now + (uint64_t)L * simh_range(h->w, 1, h->cfg.hold_periods),
	};
	k->cur = (int)i;
	k->cl = PD_RUNNING;
	r = table_protect(d->t, PD_DEV, 0, &q->p);
	if (r < 0)
		simh_fail(h->w, SIMH_ERR, "h%u: protect after an acquired lease: %d", h->idx + 1,
			  r);
}

/* Apply the answer the client got. */
static void client_answer(struct simh_host *h, struct pd_drv *d, uint64_t now)
{
	struct pd_keep *k = keep_of(h);
	unsigned L = h->cfg.lease.period_ms;

	if (!k->got_reply)
		return;
	k->got_reply = false;
	if (k->cl == PD_ASKED && k->reply_kind == TABLE_REPLY_LEASE) {
		spawn(h, d, now);
	} else if (k->cl == PD_ASKED) {
		k->cl = PD_IDLE;
		k->client_at = now + simh_range(h->w, L / 5, 2 * L);
	} else if (k->cl == PD_RELEASING && k->reply_kind == TABLE_REPLY_ERROR &&
		   strcmp(k->reply_event, "not-held") != 0) {
		k->cl = PD_RUNNING; /* the release failed: again */
		k->client_at = now + L / 4;
	} else if (k->cl == PD_RELEASING) {
		k->cl = PD_IDLE;
		k->client_at = now + simh_range(h->w, L / 50, 4 * L);
	}
}

static void client_act(struct simh_host *h, struct pd_drv *d, uint64_t now)
{
	struct pd_keep *k = keep_of(h);
	unsigned L = h->cfg.lease.period_ms;
	struct pd_proc *q = k->cur >= 0 ? &k->procs[k->cur] : NULL;

	if (q && q->alive && now >= q->end_at) {
		q->natural = true; /* the VM stopped */
		proc_stop(h->w, q);
	}
	if (k->cl == PD_IDLE && now >= k->client_at) {
		bool wait = h->cfg.role == SIMH_DAEMON_WAIT;
		unsigned wait_ms = wait && simh_chance(h->w, 50)
					   ? (unsigned)simh_range(h->w, 2 * L, 8 * L)
					   : 0;

		k->cl = PD_ASKED;
		table_acquire(d->t, k, &(struct table_cred){}, PD_DEV, SGPR_TYPE_WERO, wait,
			      wait_ms);
	} else if (k->cl == PD_RUNNING && (!q || !q->alive) && now >= k->client_at) {
		k->cur = -1;
		k->cl = PD_RELEASING;
		table_release(d->t, k, 0, PD_DEV);
	}
	client_answer(h, d, now);
}

/* ---- a step -------------------------------------------------------------- */

static enum simh_op op_of(enum job_kind kind)
{
	switch (kind) {
	case JOB_RENEW:
		return SIMH_OP_RENEW;
	case JOB_OBSERVE:
		return SIMH_OP_OBSERVE;
	case JOB_ACQUIRE:
		return SIMH_OP_ACQUIRE;
	case JOB_ADOPT:
		return SIMH_OP_RESTART;
	case JOB_RELEASE:
		return SIMH_OP_RELEASE;
	}
	return SIMH_OP_NONE;
}

/* A loss the table reported: every protected process must be stopped by the deadline. */
static void loss_deadlines(struct simh_host *h)
{
	struct pd_keep *k = keep_of(h);
	unsigned L = h->cfg.lease.period_ms;

	for (unsigned i = 0; i < k->nprocs; i++)
		if (k->procs[i].alive && !k->procs[i].deadline)
			k->procs[i].deadline = h->w->now + h->cfg.kill_grace_ms + L;
}

static void run_job(struct simh_host *h, struct pd_drv *d, struct simh_act *act)
{
	struct table_job *job = d->queue[0];
	enum sgpr_lease_event ev;
	enum job_kind kind;
	int r;

	memmove(d->queue, d->queue + 1, --d->nq * sizeof(d->queue[0]));
	table_job_run(job);
	kind = table_job_result(job, &r, &ev);
	act->op = op_of(kind);
	act->rc = r;
	act->ev = ev;
	table_job_done(d->t, job);
	if (ev >= SGPR_LEASE_LOST_PREEMPTED && ev != SGPR_LEASE_PARKED)
		loss_deadlines(h);
	else if (kind == JOB_ADOPT && r == -EBADE)
		loss_deadlines(h);
}

static uint64_t drv_step(struct simh_host *h, uint64_t now, bool restarted, struct simh_act *act)
{
	struct pd_drv *d = h->drv;
	struct pd_keep *k = keep_of(h);
	unsigned L = h->cfg.lease.period_ms;
	uint64_t next = now + L / 4, w;
	struct table_info info;

	(void)restarted; /* init() re-adopted what the state file names */
	act->op = SIMH_OP_NONE;
	table_tick(d->t);
	client_act(h, d, now);
	if (d->nq)
		run_job(h, d, act);
	client_answer(h, d, h->clock.now);
	act->held = false;
	act->key = 0;
	for (size_t i = 0; i < table_count(d->t); i++) {
		table_info(d->t, i, &info);
		act->held = info.state == ENTRY_HELD;
		act->key = info.key;
	}
	if (d->nq)
		return h->clock.now;
	w = table_next_wakeup(d->t);
	if (w < next)
		next = w;
	if ((k->cl == PD_IDLE || (k->cl == PD_RUNNING && k->cur < 0)) && k->client_at < next)
		next = k->client_at;
	if (k->cur >= 0 && k->procs[k->cur].alive && k->procs[k->cur].end_at < next)
		next = k->procs[k->cur].end_at;
	return next > h->clock.now ? next : h->clock.now;
}

static bool drv_may_write(const struct simh_host *h, uint64_t now)
{
	const struct pd_keep *k = h->keep;

	(void)now;
	for (unsigned i = 0; k && i < k->nprocs; i++)
		if (k->procs[i].alive)
			return true; /* every live process writes, a stale one too */
	return false;
}

/* I4 for processes, at each turn of the host. */
static void drv_check(struct simh_host *h)
{
	struct simh_world *w = h->w;
	struct pd_keep *k = h->keep;

	for (unsigned i = 0; k && i < k->nprocs; i++) {
		struct pd_proc *q = &k->procs[i];
		uint64_t late = 0;

		if (!q->alive || !q->deadline || w->now <= q->deadline)
			continue;
		/* a hung host, or its daemon down, stops nothing: the time after it counts */
		if (h->paused_until > q->deadline - h->cfg.kill_grace_ms - h->cfg.lease.period_ms)
			late = h->paused_until;
		if (k->up_since > q->deadline - h->cfg.kill_grace_ms - h->cfg.lease.period_ms &&
		    k->up_since > late)
			late = k->up_since;
		if (late && w->now <= late + h->cfg.kill_grace_ms + h->cfg.lease.period_ms)
			continue;
		simh_fail(w, SIMH_I4,
			  "h%u's protected process %d%s still runs %llu ms after the loss was "
			  "reported (kill_grace %u ms, L %u ms)",
			  h->idx + 1, (int)q->p.pid, q->ignores_term ? " (ignores SIGTERM)" : "",
			  (unsigned long long)(w->now - (q->deadline - h->cfg.kill_grace_ms -
							 h->cfg.lease.period_ms)),
			  h->cfg.kill_grace_ms, h->cfg.lease.period_ms);
		return;
	}
}

const struct simh_driver_ops simh_prlockd_driver = {
	.name = "prlockd",
	.init = drv_init,
	.fini = drv_fini,
	.step = drv_step,
	.may_write = drv_may_write,
	.check = drv_check,
	.free_keep = drv_free_keep,
};
