/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease table's requests (table.h): acquire (with --wait), release and protect, their
 * order behind the jobs of their device, and their answers through ops->reply.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "errors.h"
#include "table-private.h"

/* ---- replies ------------------------------------------------------------- */

static void reply(struct table *t, void *waiter, const struct table_reply *rp)
{
	if (waiter)
		t->ops.reply(t->userdata, waiter, rp);
}

static void reply_error(struct table *t, void *waiter, const char *dev, const char *word,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_error(struct table *t, void *waiter, const char *dev, const char *word,
			const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply(t, waiter,
	      &(struct table_reply){
		      .kind = TABLE_REPLY_ERROR, .dev = dev, .error = word, .message = msg});
}

static void reply_lease(struct table_entry *e, void *waiter, const char *event)
{
	struct table *t = e->t;

	reply(t, waiter,
	      &(struct table_reply){
		      .kind = TABLE_REPLY_LEASE,
		      .dev = e->dev,
		      .event = event,
		      .key = e->key,
		      .type = e->type,
		      .victim = strcmp(event, "taken-over") == 0 ? e->holder : 0,
		      .waited = e->wait_start != 0,
		      .waited_ms = e->wait_start ? table_now(t) - e->wait_start : 0,
	      });
}

static void reply_released(struct table *t, void *waiter, const char *dev, const char *what,
			   uint64_t key)
{
	reply(t, waiter,
	      &(struct table_reply){
		      .kind = TABLE_REPLY_RELEASED, .dev = dev, .event = what, .key = key});
}

void waiter_done(struct table_entry *e, int r, enum sgpr_lease_event ev)
{
	struct table *t = e->t;
	void *c = e->waiter;
	char words[160];

	if (!c)
		return;
	e->waiter = NULL;
	if (r == 0)
		reply_lease(e, c, sgpr_lease_event_name(ev));
	else if (r == -ECANCELED)
		reply_error(t, c, e->dev, "conflict", "%s: acquire --wait cancelled (released)",
			    e->dev);
	else if (r == -EBADE)
		reply_error(t, c, e->dev, "conflict", "%s: %s, still alive after %.1f s of waiting",
			    e->dev, table_holder_words(t, e->holder, words, sizeof(words)),
			    (double)(table_now(t) - e->wait_start) / 1000);
	else
		reply_error(t, c, e->dev, error_word(r), "%s: %s", e->dev, errno_words(r));
}

/* ---- order --------------------------------------------------------------- */

/*
 * A request that needs e while a job runs on it waits for the job to end, then runs again
 * (requests_run_ready): requests on one device are serialized behind its jobs.
 */
static void defer(struct table_entry *e, const struct table_request *q)
{
	struct table_request **p = &e->deferred, *n = calloc(1, sizeof(*n));

	if (n) {
		*n = *q;
		n->next = NULL;
		n->dev = strdup(q->dev);
		n->cred.groups = groups_dup(&q->cred);
	}
	if (!n || !n->dev || (q->cred.n_groups && q->cred.groups && !n->cred.groups)) {
		if (n)
			request_free(n);
		reply_error(e->t, q->waiter, q->dev, "error", "out of memory");
		return;
	}
	while (*p)
		p = &(*p)->next;
	*p = n;
}

void requests_entry_idle(struct table_entry *e)
{
	struct table_request **p = &e->t->ready;

	while (*p)
		p = &(*p)->next;
	*p = e->deferred;
	e->deferred = NULL;
}

static void request_run(struct table *t, const struct table_request *q);

void requests_run_ready(struct table *t)
{
	struct table_request *q;

	/* a request run here answers or waits on a busy entry: it never comes back here */
	while ((q = t->ready)) {
		t->ready = q->next;
		q->next = NULL;
		request_run(t, q);
		request_free(q);
	}
}

static bool drop_request(struct table_request **list, void *waiter)
{
	for (struct table_request **p = list; *p; p = &(*p)->next)
		if ((*p)->waiter == waiter) {
			struct table_request *q = *p;

			*p = q->next;
			q->next = NULL;
			request_free(q);
			return true;
		}
	return false;
}

void table_waiter_gone(struct table *t, void *waiter)
{
	if (drop_request(&t->ready, waiter))
		return;
	for (size_t i = 0; i < t->n_entries; i++) {
		struct table_entry *e = t->entries[i];

		if (drop_request(&e->deferred, waiter))
			return;
		if (e->waiter != waiter)
			continue;
		e->waiter = NULL;
		if (e->busy) {
			/* the job ends first; its result is applied without a reply */
			e->waiter_left = true;
			tlog_owner(t, e->owner.uid, LOG_INFO, "%s: the waiting client left",
				   e->dev);
		} else if (e->state == ENTRY_WAITING) {
			tlog_owner(t, e->owner.uid, LOG_INFO,
				   "%s: the waiting client left, acquire --wait cancelled", e->dev);
			entry_remove(e);
		}
		return;
	}
}

/* The client waits for e's job; e answers it when the job ends. */
static void attach_waiter(struct table_entry *e, void *waiter, uid_t uid)
{
	e->waiter = waiter;
	e->req_uid = uid;
}

/* ---- owners -------------------------------------------------------------- */

/* uid may act on e: root, or the uid whose acquire created it. */
static bool owner_may(const struct table_entry *e, uid_t uid)
{
	return uid == 0 || e->owner.uid == uid;
}

static unsigned count_acquires(const struct table_request *q, uid_t uid)
{
	unsigned n = 0;

	for (; q; q = q->next)
		n += !q->release && q->cred.uid == uid;
	return n;
}

/* The acquires of uid that are pending or running: entries acquiring or waiting, and queued. */
static unsigned acquires_of(const struct table *t, uid_t uid)
{
	unsigned n = count_acquires(t->ready, uid);

	for (size_t i = 0; i < t->n_entries; i++) {
		const struct table_entry *e = t->entries[i];

		n += count_acquires(e->deferred, uid);
		n += (e->state == ENTRY_ACQUIRING || e->state == ENTRY_WAITING) &&
		     e->owner.uid == uid;
	}
	return n;
}

/* ---- acquire ------------------------------------------------------------- */

static void acquire(struct table *t, const struct table_request *q)
{
	struct table_entry *e = entry_find(t, q->dev);
	int r;

	if (e && !owner_may(e, q->cred.uid) && !(e->busy && e->kind == JOB_RELEASE)) {
		/* another uid's lease (or acquire): neither its key nor its state are ours */
		if (e->state != ENTRY_LOST || e->busy || e->deferred)
			return reply_error(
				t, q->waiter, q->dev, "denied",
				"%s: %s by this host for uid %u; only uid %u or root may "
				"use it",
				q->dev,
				e->state == ENTRY_HELD || e->state == ENTRY_ADOPTING
					? "held"
					: "being acquired",
				(unsigned)e->owner.uid, (unsigned)e->owner.uid);
	}
	if (e) {
		/* after a release that runs or waits: requests on one device keep their order */
		if (e->busy && (e->kind == JOB_RELEASE || e->deferred))
			return defer(e, q);
		switch (e->state) {
		case ENTRY_HELD:
			if (e->type != q->type)
				return reply_error(t, q->waiter, q->dev, "conflict",
						   "%s: held by this host as %s; release it first",
						   q->dev, sgpr_type_to_name(e->type));
			return reply_lease(e, q->waiter, "already-held");
		case ENTRY_ADOPTING:
			if (e->busy)
				return defer(e, q); /* the answer depends on this attempt */
			return reply_error(t, q->waiter, q->dev, "unreachable",
					   "%s: recorded lease not re-adopted yet (device "
					   "unreachable); prlockd retries every period",
					   q->dev);
		case ENTRY_ACQUIRING:
			return defer(e, q);
		case ENTRY_WAITING:
			return reply_error(t, q->waiter, q->dev, "busy",
					   "%s: another acquire --wait is pending", q->dev);
		case ENTRY_LOST:
			tlog_owner(t, q->cred.uid, LOG_INFO, "%s: acquiring again after the loss",
				   q->dev);
			entry_remove(e);
			break;
		}
	}
	r = entry_add(t, q->dev, q->type, &q->cred, &e);
	if (r < 0)
		return reply_error(t, q->waiter, q->dev, "error", "%s: %s", q->dev, strerror(-r));
	e->state = ENTRY_ACQUIRING;
	e->acq_wait = q->wait;
	e->acq_wait_ms = q->wait_ms;
	attach_waiter(e, q->waiter, q->cred.uid);
	entry_submit(e, JOB_ACQUIRE);
}

void acquire_done(struct table_entry *e)
{
	struct table *t = e->t;
	enum sgpr_lease_event ev = e->job_ev;
	void *c = e->waiter;
	bool opened = e->l != NULL;
	char words[160], k[SGPR_KEY_STRLEN];
	int r = e->job_r;

	if (r == 0) {
		e->state = ENTRY_HELD;
		e->next_due = table_now(t) + t->cfg.period_ms;
		tlog_owner(t, e->req_uid, LOG_INFO, "%s: lease %s with key %s (%s), for uid %u",
			   e->dev, sgpr_lease_event_name(ev), sgpr_key_format(e->key, k),
			   sgpr_type_to_name(e->type), e->req_uid);
		if (e->waiter_left)
			tlog_owner(t, e->req_uid, LOG_WARNING,
				   "%s: the client left before the lease was acquired; holding it "
				   "(release it with prlock release)",
				   e->dev);
		table_state_save(t);
		waiter_done(e, 0, ev);
		return;
	}
	if (r == -EBADE && e->acq_wait && e->holder && c) {
		e->state = ENTRY_WAITING;
		e->wait_start = table_now(t);
		e->wait_deadline = e->acq_wait_ms ? e->wait_start + e->acq_wait_ms : 0;
		e->next_due = e->wait_start + t->cfg.period_ms;
		tlog_owner(t, e->req_uid, LOG_INFO,
			   "%s: %s; waiting for it to die by the lease rule (%s)", e->dev,
			   table_holder_words(t, e->holder, words, sizeof(words)),
			   e->acq_wait_ms ? "bounded" : "no bound");
		return;
	}
	e->waiter = NULL;
	if (r == -EBADE)
		reply_error(t, c, e->dev, "conflict", "%s: %s", e->dev,
			    table_holder_words(t, e->holder, words, sizeof(words)));
	else if (r == -EBUSY)
		reply_error(t, c, e->dev, "conflict",
			    "%s: another process of this host (pid %d) holds a lease on this LUN",
			    e->dev, (int)e->lock_owner);
	else if (!opened && r == -EPERM && e->owner.uid && e->dev[0] == '/')
		reply_error(t, c, e->dev, "denied",
			    "%s: not found or not permitted for uid %u (a device node it may "
			    "reach, read and write itself)",
			    e->dev, (unsigned)e->owner.uid);
	else if (!opened)
		reply_error(t, c, e->dev, error_word(r), "%s: cannot open: %s", e->dev,
			    open_error_words(e->dev, r));
	else
		reply_error(t, c, e->dev, error_word(r), "%s: acquiring the lease: %s", e->dev,
			    errno_words(r));
	entry_remove(e);
}

void table_acquire(struct table *t, void *waiter, const struct table_cred *cred, const char *dev,
		   int type, bool wait, unsigned wait_ms)
{
	struct table_request q = {.waiter = waiter,
				  .cred = *cred,
				  .dev = (char *)dev,
				  .type = type,
				  .wait = wait,
				  .wait_ms = wait_ms};

	if (cred->uid != 0 && acquires_of(t, cred->uid) >= TABLE_ACQUIRES_PER_UID)
		return reply_error(t, waiter, dev, "busy",
				   "%s: uid %u has %u acquires pending, the limit for a non-root "
				   "uid; retry when one has ended",
				   dev, (unsigned)cred->uid, TABLE_ACQUIRES_PER_UID);
	acquire(t, &q);
}

/* ---- release ------------------------------------------------------------- */

static void release(struct table *t, const struct table_request *q)
{
	struct table_entry *e = entry_find(t, q->dev);
	const char *what;

	if (!e)
		return reply_error(t, q->waiter, q->dev, "not-held", "%s: not held by prlockd",
				   q->dev);
	if (!owner_may(e, q->cred.uid))
		return reply_error(t, q->waiter, q->dev, "denied",
				   "%s: the lease belongs to uid %u; only it or root may release "
				   "it",
				   q->dev, (unsigned)e->owner.uid);
	if (e->busy)
		return defer(e, q); /* after the renewal, observation or acquire that runs */
	switch (e->state) {
	case ENTRY_HELD:
		attach_waiter(e, q->waiter, q->cred.uid);
		entry_submit(e, JOB_RELEASE);
		return;
	case ENTRY_WAITING:
		what = "cancelled";
		break;
	default:
		what = "forgotten";
		break;
	}
	tlog_owner(t, q->cred.uid, LOG_INFO, "%s: lease %s (key none), for uid %u", q->dev, what,
		   (unsigned)q->cred.uid);
	reply_released(t, q->waiter, q->dev, what, 0);
	entry_remove(e);
	table_state_save(t);
}

void release_done(struct table_entry *e)
{
	struct table *t = e->t;
	void *c = e->waiter;
	uint64_t key = e->key; /* the key held before the release */
	char k[SGPR_KEY_STRLEN];
	int r = e->job_r;

	e->waiter = NULL;
	entry_snap(e);
	if (r < 0 && sgpr_lease_get_state(e->l) != SGPR_LEASE_HELD) {
		/* our key left this nexus, only the read-back failed: nothing is held any more */
		tlog_owner(t, e->req_uid, LOG_WARNING,
			   "%s: lease released (key %s), but the park was not confirmed: %s",
			   e->dev, sgpr_key_format(key, k), errno_words(r));
		r = 0;
	}
	if (r < 0) {
		tlog_owner(t, e->req_uid, LOG_WARNING, "%s: releasing the lease: %s", e->dev,
			   errno_words(r));
		reply_error(t, c, e->dev, error_word(r), "%s: releasing the lease: %s", e->dev,
			    errno_words(r));
		return;
	}
	tlog_owner(t, e->req_uid, LOG_INFO, "%s: lease released (key %s), for uid %u", e->dev,
		   sgpr_key_format(key, k), e->req_uid);
	reply_released(t, c, e->dev, "released", key);
	entry_remove(e);
	table_state_save(t);
}

void table_release(struct table *t, void *waiter, uid_t uid, const char *dev)
{
	struct table_request q = {
		.release = true, .waiter = waiter, .cred.uid = uid, .dev = (char *)dev};

	release(t, &q);
}

static void request_run(struct table *t, const struct table_request *q)
{
	if (q->release)
		release(t, q);
	else
		acquire(t, q);
}

/* ---- protect ------------------------------------------------------------- */

static size_t procs_of(const struct table *t, uid_t uid)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_entries; i++)
		if (t->entries[i]->owner.uid == uid)
			n += t->entries[i]->n_procs;
	return n;
}

int table_may_protect(struct table *t, const char *dev, uid_t uid)
{
	struct table_entry *e = entry_find(t, dev);

	if (!e || (e->state != ENTRY_HELD && e->state != ENTRY_ADOPTING))
		return -ENOENT;
	if (!owner_may(e, uid))
		return -EPERM;
	if (uid == 0 || procs_of(t, uid) < TABLE_PROCS_PER_UID)
		return 0;
	/* over the bound: the processes that have ended leave their places first */
	for (size_t i = 0; i < t->n_entries; i++)
		if (t->entries[i]->owner.uid == uid)
			prune_procs(t->entries[i]);
	return procs_of(t, uid) < TABLE_PROCS_PER_UID ? 0 : -EDQUOT;
}

int table_protect(struct table *t, const char *dev, uid_t uid, const struct protected_proc *p)
{
	struct table_entry *e = entry_find(t, dev);
	int r;

	r = table_may_protect(t, dev, uid);
	if (r < 0)
		return r;
	r = proc_add(e, p);
	if (r <= 0)
		return r;
	table_state_save(t);
	tlog_owner(t, uid, LOG_INFO,
		   "%s: protecting process %d (stopped if the lease is lost), for uid %u", dev,
		   (int)p->pid, (unsigned)uid);
	return 0;
}
