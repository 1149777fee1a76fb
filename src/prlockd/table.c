/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease table (table.h): entries, their schedule, the jobs and what their results decide
 * (renewal, observation for "acquire --wait", re-adoption after a restart), loss actions and
 * pending SIGKILLs.
 *
 * Each entry has one due time; when it is due and no job of it runs, the entry is handed to
 * ops->submit, whose runner calls the library (table_job_run) and hands it back; the table
 * then applies the result (*_done): logging, loss actions, the state file, replies. A device
 * that stops answering occupies its runner for its command timeout; the table does not wait.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>

#include "errors.h"
#include "table-private.h"

void tlog(const struct table *t, int prio, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!t->ops.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->ops.log(t->userdata, prio, buf);
}

void tlog_owner(const struct table *t, uid_t owner, int prio, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!t->ops.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (owner && t->ops.log_owner)
		t->ops.log_owner(t->userdata, owner, prio, buf);
	else
		t->ops.log(t->userdata, prio, buf);
}

uint64_t table_now(const struct table *t)
{
	return t->cfg.clock->now_ms(t->cfg.clock->userdata);
}

bool table_proc_alive(const struct table *t, const struct protected_proc *p)
{
	return t->ops.proc_alive ? t->ops.proc_alive(t->userdata, p) : true;
}

const char *table_holder_words(const struct table *t, uint64_t holder, char *buf, size_t len)
{
	char k[SGPR_KEY_STRLEN];
	uint16_t ns = t->cfg.ns;

	if (!holder)
		snprintf(buf, len, "reserved by all registrants (no single holder)");
	else if (sgpr_key_is_parking(holder, ns))
		snprintf(buf, len, "parked by a release (no holder)");
	else if (!sgpr_key_in_ns(holder, ns))
		snprintf(buf, len, "held by foreign key %s", sgpr_key_format(holder, k));
	else
		snprintf(buf, len, "held by host %u%s (key %s)", sgpr_key_split(holder).host_id,
			 sgpr_key_split(holder).host_id == t->cfg.host_id ? " (this host)" : "",
			 sgpr_key_format(holder, k));
	return buf;
}

const char *entry_state_name(enum entry_state s)
{
	switch (s) {
	case ENTRY_ADOPTING:
		return "adopting";
	case ENTRY_HELD:
		return "held";
	case ENTRY_WAITING:
		return "waiting";
	case ENTRY_LOST:
		return "lost";
	case ENTRY_ACQUIRING:
		return "acquiring";
	}
	return "?";
}

int table_new(const struct table_config *cfg, const struct table_ops *ops, void *userdata,
	      struct table **ret)
{
	struct table *t;

	if (!cfg->clock || !cfg->clock->now_ms || !ops->submit || !ops->reply || !ops->dev_open)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	t->ops = *ops;
	t->userdata = userdata;
	*ret = t;
	return 0;
}

static void entry_free(struct table_entry *e)
{
	struct table *t = e->t;

	sgpr_lease_free(e->l);
	if (e->d && t->ops.dev_close)
		t->ops.dev_close(t->userdata, e->d);
	else
		sgpr_dev_free(e->d);
	if (e->lock >= 0 && t->ops.lun_unlock)
		t->ops.lun_unlock(t->userdata, e->lock);
	free(e->procs);
	free((gid_t *)e->owner.groups);
	free(e->dev);
	free(e);
}

/* A request list (deferred requests own their dev and groups). */
void request_free(struct table_request *q)
{
	while (q) {
		struct table_request *n = q->next;

		free(q->dev);
		free((gid_t *)q->cred.groups);
		free(q);
		q = n;
	}
}

/* A copy of c's groups (NULL for none; NULL with n_groups > 0: out of memory). */
gid_t *groups_dup(const struct table_cred *c)
{
	gid_t *g;

	if (!c->n_groups || !c->groups)
		return NULL;
	g = malloc(c->n_groups * sizeof(*g));
	if (g)
		memcpy(g, c->groups, c->n_groups * sizeof(*g));
	return g;
}

struct table *table_free(struct table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_entries; i++) {
		request_free(t->entries[i]->deferred);
		entry_free(t->entries[i]);
	}
	free(t->entries);
	request_free(t->ready);
	for (size_t i = 0; i < t->n_kills; i++)
		free(t->kills[i].dev);
	free(t->kills);
	free(t);
	return NULL;
}

/* ---- entries ------------------------------------------------------------- */

struct table_entry *entry_find(struct table *t, const char *dev)
{
	for (size_t i = 0; i < t->n_entries; i++)
		if (strcmp(t->entries[i]->dev, dev) == 0)
			return t->entries[i];
	return NULL;
}

int entry_add(struct table *t, const char *dev, int type, const struct table_cred *owner,
	      struct table_entry **ret)
{
	struct table_entry **n, *e;

	n = realloc(t->entries, (t->n_entries + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	t->entries = n;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->dev = strdup(dev);
	e->owner = *owner;
	e->owner.groups = groups_dup(owner);
	if (!e->dev || (owner->n_groups && owner->groups && !e->owner.groups)) {
		free((gid_t *)e->owner.groups);
		free(e->dev);
		free(e);
		return -ENOMEM;
	}
	if (!e->owner.groups)
		e->owner.n_groups = 0;
	e->t = t;
	e->serial = ++t->serial;
	e->type = type;
	e->hook_pid = -1;
	e->lock = -1;
	t->entries[t->n_entries++] = e;
	*ret = e;
	return 0;
}

void entry_remove(struct table_entry *e)
{
	struct table *t = e->t;

	assert(!e->busy); /* a runner may be using e->d and e->l */
	for (size_t i = 0; i < t->n_entries; i++) {
		if (t->entries[i] != e)
			continue;
		memmove(t->entries + i, t->entries + i + 1,
			(t->n_entries - i - 1) * sizeof(*t->entries));
		t->n_entries--;
		break;
	}
	if (e->waiter)
		waiter_done(e, -ECANCELED, SGPR_LEASE_NONE);
	requests_entry_idle(e);
	entry_free(e);
}

int proc_add(struct table_entry *e, const struct protected_proc *p)
{
	struct protected_proc *n;

	for (size_t i = 0; i < e->n_procs; i++)
		if (e->procs[i].pid == p->pid && e->procs[i].start == p->start)
			return 0;
	n = realloc(e->procs, (e->n_procs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	e->procs = n;
	e->procs[e->n_procs++] = *p;
	return 1;
}

void prune_procs(struct table_entry *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n_procs; i++)
		if (table_proc_alive(e->t, &e->procs[i]))
			e->procs[n++] = e->procs[i];
	e->n_procs = n;
}

/* Runner's side: open the device, take the LUN's lock, create the lease, once each. */
static int entry_open(struct table_entry *e)
{
	const struct table *t = e->t;
	struct sgpr_lease_opts o = {
		.size = sizeof(o),
		.ns = t->cfg.ns,
		.host_id = t->cfg.host_id,
		.type = e->type,
		.period_ms = t->cfg.period_ms,
		.dead_after_ms = t->cfg.dead_after_ms,
		.self_fence_after_ms = t->cfg.self_fence_after_ms,
	};
	int r;

	if (!e->d) {
		r = t->ops.dev_open(t->userdata, e->dev, &e->owner, &e->d);
		if (r < 0)
			return r;
	}
	if (e->lock == -1) {
		r = t->ops.lun_lock ? t->ops.lun_lock(t->userdata, e->d, &e->lock_owner) : -ENOLCK;
		if (r == -EBUSY)
			return r; /* another process of this host holds this LUN */
		/* no lock to take (a --user without access): the engine's key check remains */
		e->lock = r >= 0 ? r : -2;
	}
	if (!e->l) {
		if (e->state == ENTRY_ADOPTING && !e->rec_key)
			return -ESTALE; /* nothing recorded to adopt: adopt_done() reports the loss
					 */
		if (e->state == ENTRY_ADOPTING) {
			/* only the key recorded here is ours; gone for too long means lost */
			o.adopt_key = e->rec_key;
			o.adopt_confirmed_ms = e->rec_confirmed_ms;
		}
		r = sgpr_lease_new(e->d, &o, &e->l);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- pending SIGKILLs ---------------------------------------------------- */

int kill_add(struct table *t, const char *dev, const struct protected_proc *p, uint64_t at)
{
	struct pending_kill *n;
	char *d;

	for (size_t i = 0; i < t->n_kills; i++)
		if (t->kills[i].proc.pid == p->pid && t->kills[i].proc.start == p->start) {
			if (at < t->kills[i].kill_at)
				t->kills[i].kill_at =
					at; /* protected twice: the earlier deadline */
			return 0;
		}
	d = strdup(dev);
	n = d ? realloc(t->kills, (t->n_kills + 1) * sizeof(*n)) : NULL;
	if (!n) {
		free(d);
		return -ENOMEM;
	}
	t->kills = n;
	t->kills[t->n_kills++] = (struct pending_kill){.dev = d, .proc = *p, .kill_at = at};
	return 0;
}

static void signal_proc(struct table *t, const char *dev, const struct protected_proc *p, int sig)
{
	int r = t->ops.proc_signal ? t->ops.proc_signal(t->userdata, p, sig) : -ENOSYS;

	if (r < 0)
		tlog(t, LOG_WARNING, "%s: %s to %d: %s", dev,
		     sig == SIGKILL ? "SIGKILL" : "SIGTERM", (int)p->pid, strerror(-r));
}

/* ---- loss ---------------------------------------------------------------- */

static void run_hook(struct table_entry *e)
{
	struct table *t = e->t;
	pid_t pid;

	if (!t->ops.hook_start) {
		tlog(t, LOG_ERR, "%s: cannot run the loss hook: %s", e->dev, strerror(ENOSYS));
		return;
	}
	pid = t->ops.hook_start(t->userdata, e->dev, e->owner.uid, e->lost_event, e->lost_key,
				e->procs, e->n_procs);
	if (pid < 0)
		return;	   /* ops->hook_start logged why (with the hook's path) */
	e->hook_pid = pid; /* ops->hook_start said what it runs */
	e->hook_deadline = table_now(t) + t->cfg.hook_timeout_ms;
}

static const char *loss_cause(enum sgpr_lease_event ev)
{
	switch (ev) {
	case SGPR_LEASE_LOST_PREEMPTED:
		return "preempted: our key was removed";
	case SGPR_LEASE_LOST_CLEARED:
		return "cleared: our key was removed and nobody holds it";
	case SGPR_LEASE_LOST_TARGET:
		return "the target lost its reservation state and another key holds it now";
	case SGPR_LEASE_LOST_SELF_FENCED:
		return "no renewal for self_fence_after";
	case SGPR_LEASE_LOST_EXPIRED:
		return "our key is gone and no renewal was confirmed within the recovery window";
	default:
		return "held by another key after restart";
	}
}

static void lease_lost(struct table_entry *e, enum sgpr_lease_event ev)
{
	struct table *t = e->t;
	char k[SGPR_KEY_STRLEN], words[128];

	e->state = ENTRY_LOST;
	e->lost_event = ev;
	e->lost_key = e->key;
	e->lost_holder = e->holder;
	e->next_due = UINT64_MAX;
	prune_procs(e);
	tlog(t, LOG_CRIT, "%s: lease LOST (%s): %s; key %s, now %s; %s %zu protected process(es)",
	     e->dev, sgpr_lease_event_name(ev) ?: "lost-at-adoption", loss_cause(ev),
	     sgpr_key_format(e->lost_key, k),
	     e->lost_holder && e->lost_holder != e->lost_key
		     ? table_holder_words(t, e->lost_holder, words, sizeof(words))
		     : "not held by another key",
	     t->cfg.loss_hook ? "running the hook for" : "stopping (SIGTERM)", e->n_procs);
	if (t->cfg.loss_hook) {
		run_hook(e);
	} else if (e->n_procs) {
		/*
		 * kill_grace counts from the start of the renewal (or adoption) that found the
		 * loss, not from its end: a command that took its whole timeout does not lengthen
		 * the time a fenced process runs (docs/TIMING.md).
		 */
		uint64_t at = e->job_start + t->cfg.kill_grace_ms;

		for (size_t i = 0; i < e->n_procs; i++) {
			signal_proc(t, e->dev, &e->procs[i], SIGTERM);
			/* the SIGKILL is the table's from now on: release or acquire keep it */
			if (kill_add(t, e->dev, &e->procs[i], at) < 0) {
				tlog(t, LOG_ERR, "%s: out of memory: SIGKILL to %d now", e->dev,
				     (int)e->procs[i].pid);
				signal_proc(t, e->dev, &e->procs[i], SIGKILL);
			}
		}
	}
	table_state_save(t);
}

static void kills_due(struct table *t, uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_kills; i++) {
		struct pending_kill *k = &t->kills[i];

		if (now < k->kill_at) {
			t->kills[n++] = *k;
			continue;
		}
		if (table_proc_alive(t, &k->proc)) {
			tlog(t, LOG_WARNING,
			     "%s: protected process %d still running when its kill_grace (%u ms) "
			     "ended, SIGKILL",
			     k->dev, (int)k->proc.pid, t->cfg.kill_grace_ms);
			signal_proc(t, k->dev, &k->proc, SIGKILL);
		}
		free(k->dev);
	}
	if (n != t->n_kills) {
		t->n_kills = n;
		table_state_save(t);
	}
}

static void hooks_due(struct table *t, uint64_t now)
{
	for (size_t i = 0; i < t->n_entries; i++) {
		struct table_entry *e = t->entries[i];

		if (e->hook_pid > 0 && now >= e->hook_deadline) {
			tlog(t, LOG_ERR,
			     "%s: loss hook (pid %d) still running after %u ms, SIGKILL", e->dev,
			     (int)e->hook_pid, t->cfg.hook_timeout_ms);
			if (t->ops.hook_kill)
				t->ops.hook_kill(t->userdata, e->hook_pid);
			e->hook_deadline = UINT64_MAX; /* table_hook_exited() when reaped */
		}
	}
}

void table_hook_exited(struct table *t, pid_t pid, int status)
{
	for (size_t i = 0; i < t->n_entries; i++) {
		struct table_entry *e = t->entries[i];

		if (e->hook_pid != pid)
			continue;
		e->hook_pid = -1;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			tlog(t, LOG_NOTICE, "%s: loss hook done", e->dev);
		else if (WIFEXITED(status))
			tlog(t, LOG_ERR, "%s: loss hook exited with status %d", e->dev,
			     WEXITSTATUS(status));
		else
			tlog(t, LOG_ERR, "%s: loss hook killed by signal %d", e->dev,
			     WTERMSIG(status));
	}
}

uint64_t table_next_wakeup(const struct table *t)
{
	uint64_t w = UINT64_MAX;

	for (size_t i = 0; i < t->n_kills; i++)
		if (t->kills[i].kill_at < w)
			w = t->kills[i].kill_at;
	for (size_t i = 0; i < t->n_entries; i++) {
		const struct table_entry *e = t->entries[i];

		/* a busy entry wakes the loop when its job ends */
		if (!e->busy && e->state != ENTRY_LOST && e->state != ENTRY_ACQUIRING &&
		    e->next_due < w)
			w = e->next_due;
		if (e->hook_pid > 0 && e->hook_deadline < w)
			w = e->hook_deadline;
	}
	return w;
}

/* ---- jobs ---------------------------------------------------------------- */

static void schedule(struct table_entry *e, uint64_t now)
{
	unsigned period = e->t->cfg.period_ms;

	e->next_due += period;
	if (e->next_due <= now)
		e->next_due = now + period;
}

void entry_snap(struct table_entry *e)
{
	if (!e->l)
		return;
	e->key = sgpr_lease_key(e->l);
	e->holder = sgpr_lease_last_holder(e->l);
	e->last_renewal_ms = sgpr_lease_last_renewal_ms(e->l);
}

void entry_submit(struct table_entry *e, enum job_kind kind)
{
	struct table *t = e->t;

	assert(!e->busy);
	e->busy = true;
	e->kind = kind;
	e->job_paths = kind == JOB_RENEW && e->paths_dirty;
	if (e->job_paths) {
		e->paths_dirty = false;
		memcpy(e->job_paths_new, e->paths_new, sizeof(e->paths_new));
		e->job_n_paths_new = e->n_paths_new;
		e->n_paths_new = 0;
	}
	e->job_start = table_now(t);
	e->waiter_left = false;
	t->ops.submit(t->userdata, &e->job);
}

static struct table_entry *job_entry(const struct table_job *job)
{
	return (struct table_entry *)((char *)job - offsetof(struct table_entry, job));
}

enum job_kind table_job_kind(const struct table_job *job)
{
	return job_entry(job)->kind;
}

uid_t table_job_owner(const struct table_job *job)
{
	return job_entry(job)->owner.uid;
}

const char *table_job_device(const struct table_job *job)
{
	return job_entry(job)->dev;
}

enum job_kind table_job_result(const struct table_job *job, int *ret_r,
			       enum sgpr_lease_event *ret_ev)
{
	const struct table_entry *e = job_entry(job);

	*ret_r = e->job_r;
	*ret_ev = e->job_ev;
	return e->kind;
}

/*
 * Before a renewal: the map's paths now; a path that joined it gets the lease's key (SPC-4
 * 5.12.7, REGISTER AND IGNORE EXISTING KEY on every path, read back with READ KEYS: once per
 * working path) before the renewal changes it on every path. A path that left is dropped.
 */
static void paths_refresh(struct table_entry *e)
{
	unsigned added = 0, joined = 0, removed = 0;
	int r;

	for (unsigned i = 0; i < e->job_n_paths_new; i++)
		added += sgpr_dev_add_path(e->d, e->job_paths_new[i]) == 0;
	r = sgpr_dev_refresh_paths(e->d, &joined, &removed);
	added += joined;
	if (added) {
		int q = sgpr_adopt_key(e->d, sgpr_lease_key(e->l), NULL);

		r = r < 0 ? r : q;
	}
	e->job_paths_r = r;
	e->job_paths_added = added;
	e->job_paths_removed = removed;
}

/* The runner's side: the only code that touches e->d and e->l while e is busy. */
void table_job_run(struct table_job *job)
{
	struct table_entry *e = job_entry(job);
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;
	struct sgpr_dev_stats before = {}, after = {};
	int r = 0;

	sgpr_dev_get_stats(e->d, &before); /* (no handle yet: zeroes) */
	switch (e->kind) {
	case JOB_RENEW:
		if (e->job_paths)
			paths_refresh(e);
		r = sgpr_lease_renew(e->l, &ev);
		break;
	case JOB_OBSERVE:
		r = sgpr_lease_observe(e->l, &ev);
		break;
	case JOB_ADOPT:
	case JOB_ACQUIRE:
		r = entry_open(e);
		if (r == 0)
			r = sgpr_lease_acquire(e->l, &ev);
		break;
	case JOB_RELEASE:
		r = sgpr_lease_release(e->l);
		break;
	}
	e->job_r = r;
	e->job_ev = ev;
	sgpr_dev_get_stats(e->d, &after);
	e->job_reconnects = after.reconnects - before.reconnects;
	e->job_recoveries = after.recoveries - before.recoveries;
}

static void log_event(struct table_entry *e, enum sgpr_lease_event ev, int prio)
{
	char k[SGPR_KEY_STRLEN];

	tlog_owner(e->t, e->owner.uid, prio, "%s: lease %s (key %s)", e->dev,
		   sgpr_lease_event_name(ev), sgpr_key_format(e->key, k));
}

/*
 * After a renewal that did not get through: since when the target has not confirmed one, and
 * how long until a standby may call this holder dead (it waits at least dead_after, and 3.5
 * periods whatever it is configured with: docs/FENCE.md) or self-fencing stops our processes.
 */
static const char *unconfirmed_words(const struct table_entry *e, char *buf, size_t len)
{
	const struct table *t = e->t;
	uint64_t since = table_now(t) - e->last_renewal_ms;
	unsigned floor = SGPR_LEASE_DEAD_FLOOR_MS(t->cfg.period_ms);
	unsigned dead = t->cfg.dead_after_ms > floor ? t->cfg.dead_after_ms : floor;
	int n;

	n = snprintf(buf, len, "last renewal confirmed %.1f s ago; ", since / 1000.0);
	if (n < 0 || (size_t)n >= len)
		return buf;
	if (since < dead)
		n += snprintf(buf + n, len - n, "a standby may take over in %.1f s",
			      (dead - since) / 1000.0);
	else
		n += snprintf(buf + n, len - n, "a standby may take over now");
	if (t->cfg.self_fence_after_ms && (size_t)n < len)
		snprintf(buf + n, len - n, ", self-fencing in %.1f s",
			 since < t->cfg.self_fence_after_ms
				 ? (t->cfg.self_fence_after_ms - since) / 1000.0
				 : 0.0);
	return buf;
}

/* What paths_refresh() did: one line when the paths changed or could not be followed. */
static void paths_done(struct table_entry *e)
{
	struct table *t = e->t;
	char k[SGPR_KEY_STRLEN];
	int r = e->job_paths_r;

	if (r == -EOPNOTSUPP && !e->job_paths_added) {
		e->paths_none = true; /* not a map: later changes are not its */
		return;
	}
	if (r < 0 && e->job_paths_added)
		tlog(t, LOG_WARNING,
		     "%s: %u new path(s) of the map not registered with key %s: %s; the renewal "
		     "registers them",
		     e->dev, e->job_paths_added, sgpr_key_format(e->key, k), errno_words(r));
	else if (r < 0)
		tlog(t, LOG_WARNING, "%s: cannot re-read the map's paths: %s", e->dev,
		     errno_words(r));
	else if (e->job_paths_added || e->job_paths_removed)
		tlog(t, LOG_NOTICE,
		     "%s: map paths changed: %u joined and registered with key %s (read back), %u "
		     "left; %d path(s) now",
		     e->dev, e->job_paths_added, sgpr_key_format(e->key, k), e->job_paths_removed,
		     sgpr_dev_path_count(e->d));
}

void table_paths_changed(struct table *t, const char *added)
{
	for (size_t i = 0; i < t->n_entries; i++) {
		struct table_entry *e = t->entries[i];

		if (e->state != ENTRY_HELD || e->paths_none)
			continue;
		e->paths_dirty = true;
		if (added && strlen(added) < TABLE_PATH_NAME_MAX &&
		    e->n_paths_new < TABLE_PATHS_NEW_MAX)
			snprintf(e->paths_new[e->n_paths_new++], TABLE_PATH_NAME_MAX, "%s", added);
		if (!e->busy)
			e->next_due = table_now(t); /* busy: table_job_done() makes it due */
	}
}

static void renew_done(struct table_entry *e)
{
	struct table *t = e->t;
	enum sgpr_lease_event ev = e->job_ev;
	int r = e->job_r;
	char words[160];

	if (e->job_paths)
		paths_done(e);
	if (r < 0) {
		tlog_owner(t, e->owner.uid, LOG_WARNING, "%s: renewal failed: %s; %s", e->dev,
			   errno_words(r), unconfirmed_words(e, words, sizeof(words)));
		return;
	}
	if (sgpr_lease_get_state(e->l) == SGPR_LEASE_LOST) {
		lease_lost(e, ev);
		return;
	}
	if (ev == SGPR_LEASE_UNREACHABLE) {
		/* one line per failed renewal (one per period): each is a step toward a takeover */
		tlog_owner(t, e->owner.uid, LOG_WARNING,
			   "%s: the device did not answer, lease not renewed; %s", e->dev,
			   unconfirmed_words(e, words, sizeof(words)));
		e->unreachable = true;
		return;
	}
	if (e->unreachable)
		tlog_owner(t, e->owner.uid, LOG_NOTICE, "%s: device reachable again", e->dev);
	e->unreachable = false;
	/* the recorded key and confirmation time may trail by one period, not more */
	if (table_now(t) - t->state_saved_ms >= t->cfg.period_ms)
		table_state_save(t);
	if (ev == SGPR_LEASE_RENEWED && e->job_reconnects) {
		char k[SGPR_KEY_STRLEN];

		/* not a plain renewal: the session was lost or logged in again (docs/SESSIONS.md)
		 */
		tlog_owner(
			t, e->owner.uid, LOG_NOTICE,
			"%s: lease renewed after a new iSCSI login (%u reconnect(s), registration "
			"re-established %u time(s)) (key %s)",
			e->dev, e->job_reconnects, e->job_recoveries, sgpr_key_format(e->key, k));
		return;
	}
	log_event(e, ev,
		  ev == SGPR_LEASE_RENEWED     ? LOG_DEBUG
		  : ev == SGPR_LEASE_RECOVERED ? LOG_NOTICE
					       : LOG_INFO);
}

static bool held_event(enum sgpr_lease_event ev)
{
	return ev == SGPR_LEASE_TAKEN_OVER || ev == SGPR_LEASE_ACQUIRED || ev == SGPR_LEASE_ADOPTED;
}

static void observe_done(struct table_entry *e)
{
	struct table *t = e->t;
	enum sgpr_lease_event ev = e->job_ev;
	uint64_t now = table_now(t);
	char words[128], k[SGPR_KEY_STRLEN];
	int r = e->job_r;

	if (e->waiter_left && !(r == 0 && held_event(ev))) {
		entry_remove(e); /* the client cancelled the wait while we observed */
		return;
	}
	if (r < 0 && sgpr_err_kind(r) != SGPR_ERR_UNREACHABLE) {
		waiter_done(e, r, SGPR_LEASE_NONE);
		entry_remove(e);
		return;
	}
	if (r < 0) {
		tlog_owner(t, e->owner.uid, LOG_DEBUG, "%s: observing: %s", e->dev, errno_words(r));
		return;
	}
	if (!held_event(ev)) {
		if (ev == SGPR_LEASE_HOLDER_ALIVE)
			tlog_owner(t, e->owner.uid, LOG_INFO,
				   "%s: takeover refused by the target: the holder renewed",
				   e->dev);
		if (!e->mismatch_told && e->l &&
		    sgpr_lease_dead_after_ms(e->l) > t->cfg.dead_after_ms) {
			/* the holder announces a longer period than ours (docs/FENCE.md) */
			e->mismatch_told = true;
			tlog(t, LOG_NOTICE,
			     "%s: the holder's key announces a lease period of %u ms; waiting %u "
			     "ms "
			     "for it to die, not dead_after %u ms",
			     e->dev, sgpr_lease_holder_period_ms(e->l),
			     sgpr_lease_dead_after_ms(e->l), t->cfg.dead_after_ms);
		}
		return;
	}
	e->state = ENTRY_HELD;
	e->next_due = now + t->cfg.period_ms;
	tlog(t, LOG_NOTICE, "%s: lease %s after %llu ms: key %s%s%s%s", e->dev,
	     sgpr_lease_event_name(ev), (unsigned long long)(now - e->wait_start),
	     sgpr_key_format(e->key, k), ev == SGPR_LEASE_TAKEN_OVER ? ", dead holder was " : "",
	     ev == SGPR_LEASE_TAKEN_OVER ? table_holder_words(t, e->holder, words, sizeof(words))
					 : "",
	     ev != SGPR_LEASE_TAKEN_OVER ? ""
	     : sgpr_lease_takeover_aborted(e->l)
		     ? " (PREEMPT AND ABORT)"
		     : " (PREEMPT: the target lacks PREEMPT AND ABORT)");
	if (e->waiter_left)
		tlog(t, LOG_WARNING,
		     "%s: the waiting client left while the lease was taken; holding it (release "
		     "it with prlock release)",
		     e->dev);
	table_state_save(t);
	waiter_done(e, 0, ev);
}

/* A recorded lease re-adopted (start-up, or a retry while the device was unreachable). */
static void adopt_done(struct table_entry *e)
{
	struct table *t = e->t;
	enum sgpr_lease_event ev = e->job_ev;
	char k[SGPR_KEY_STRLEN], words[128];
	int r = e->job_r;

	if (r == -EBADE) {
		tlog(t, LOG_ERR, "%s: recorded lease (key %s) is %s now", e->dev,
		     sgpr_key_format(e->rec_key, k),
		     table_holder_words(t, e->holder, words, sizeof(words)));
		e->key = e->rec_key;
		lease_lost(e, SGPR_LEASE_LOST_PREEMPTED);
		return;
	}
	if (r == -ESTALE) {
		tlog(t, LOG_ERR,
		     "%s: the state file records no key for this lease (written by an older "
		     "prlockd): it cannot be re-adopted safely",
		     e->dev);
		lease_lost(e, SGPR_LEASE_LOST_EXPIRED);
		return;
	}
	if (r == 0 && sgpr_lease_get_state(e->l) == SGPR_LEASE_LOST) {
		tlog(t, LOG_ERR,
		     "%s: recorded lease (key %s) is gone and was last confirmed %llu ms ago, "
		     "longer than the recovery window: another host may have held it",
		     e->dev, sgpr_key_format(e->rec_key, k),
		     (unsigned long long)(table_now(t) - e->rec_confirmed_ms));
		lease_lost(e, ev);
		return;
	}
	if (r < 0) {
		if (!e->unreachable && r == -EPERM && !e->l && e->owner.uid && e->dev[0] == '/')
			tlog(t, LOG_WARNING,
			     "%s: cannot re-adopt the recorded lease: its owner uid %u may not "
			     "read "
			     "and write this device node (any more); retrying every period",
			     e->dev, (unsigned)e->owner.uid);
		else if (!e->unreachable)
			tlog(t, LOG_WARNING,
			     "%s: cannot re-adopt the recorded lease yet: %s; retrying every "
			     "period",
			     e->dev, errno_words(r));
		e->unreachable = true;
		return;
	}
	e->unreachable = false;
	e->state = ENTRY_HELD;
	e->next_due = table_now(t); /* renew at once: the key has not changed for a while */
	if (ev == SGPR_LEASE_ADOPTED)
		tlog(t, LOG_NOTICE, "%s: lease re-adopted with key %s, %zu protected process(es)",
		     e->dev, sgpr_key_format(e->key, k), e->n_procs);
	else
		tlog(t, LOG_WARNING,
		     "%s: recorded lease was free (target state lost or released behind our "
		     "back); reserved again with key %s",
		     e->dev, sgpr_key_format(e->key, k));
	table_state_save(t);
}

void table_job_done(struct table *t, struct table_job *job)
{
	struct table_entry *e = job_entry(job);

	assert(e->t == t && e->busy);
	e->busy = false;
	/* requests deferred behind this job run after it */
	requests_entry_idle(e);
	if (e->kind != JOB_RELEASE)
		entry_snap(e); /* release_done needs the key that was held */
	if (e->paths_dirty && e->state == ENTRY_HELD)
		e->next_due = table_now(t); /* the paths changed while the job ran */
	switch (e->kind) {
	case JOB_RENEW:
		renew_done(e);
		break;
	case JOB_OBSERVE:
		observe_done(e); /* may remove e */
		break;
	case JOB_ADOPT:
		adopt_done(e);
		break;
	case JOB_ACQUIRE:
		acquire_done(e); /* may remove e */
		break;
	case JOB_RELEASE:
		release_done(e); /* may remove e */
		break;
	}
	requests_run_ready(t);
}

static void run_due(struct table *t, uint64_t now)
{
	char words[128];

	for (size_t i = 0; i < t->n_entries;) {
		struct table_entry *e = t->entries[i];

		if (e->busy || e->state == ENTRY_LOST || e->state == ENTRY_ACQUIRING ||
		    e->next_due > now) {
			i++;
			continue;
		}
		if (e->state == ENTRY_WAITING && e->wait_deadline && now >= e->wait_deadline) {
			tlog_owner(t, e->owner.uid, LOG_INFO,
				   "%s: acquire --wait gave up after %llu ms: %s", e->dev,
				   (unsigned long long)(now - e->wait_start),
				   table_holder_words(t, e->holder, words, sizeof(words)));
			waiter_done(e, -EBADE, SGPR_LEASE_NONE);
			entry_remove(e); /* the next entry moved to index i */
			continue;
		}
		schedule(e, now);
		i++;
		entry_submit(e, e->state == ENTRY_HELD	    ? JOB_RENEW
				: e->state == ENTRY_WAITING ? JOB_OBSERVE
							    : JOB_ADOPT);
	}
}

void table_tick(struct table *t)
{
	uint64_t now = table_now(t);

	kills_due(t, now);
	hooks_due(t, now);
	run_due(t, now);
}

void table_adopt_all(struct table *t)
{
	if (t->n_entries)
		tlog(t, LOG_INFO, "re-adopting %zu recorded lease(s)", t->n_entries);
	for (size_t i = 0; i < t->n_entries; i++)
		t->entries[i]->next_due = 0; /* due now: table_tick() submits them */
}

/* ---- reading ------------------------------------------------------------- */

size_t table_count(const struct table *t)
{
	return t->n_entries;
}

void table_info(const struct table *t, size_t i, struct table_info *ret)
{
	const struct table_entry *e = t->entries[i];
	bool lost = e->state == ENTRY_LOST;

	*ret = (struct table_info){
		.dev = e->dev,
		.serial = e->serial,
		.owner = e->owner.uid,
		.state = e->state,
		.type = e->type,
		.key = lost ? e->lost_key : e->key,
		.holder = lost ? e->lost_holder : e->holder,
		.last_renewal_ms = e->last_renewal_ms,
		.unreachable = e->unreachable,
		.busy = e->busy,
		.job_start = e->job_start,
		.next_due = e->next_due,
		.lost_event = e->lost_event,
		.procs = e->procs,
		.n_procs = e->n_procs,
		.d = e->busy ? NULL : e->d,
	};
}

size_t table_count_held(const struct table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_entries; i++)
		n += t->entries[i]->state == ENTRY_HELD || t->entries[i]->state == ENTRY_ADOPTING;
	return n;
}

size_t table_count_kills(const struct table *t)
{
	return t->n_kills;
}
