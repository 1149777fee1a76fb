/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The workers of prlockd: a small fixed pool of threads (workers = N, default 4) runs every
 * device command, so that the main loop never waits for a device. Never a thread per device.
 *
 * The lease table hands a job to the pool (table_ops.submit); one worker takes it from the
 * queue and runs it (table_job_run) on the entry's sgpr_dev and lease, which the table does
 * not touch until the job ends; then it puts the job on the done queue and wakes the main loop
 * through an eventfd. The main thread takes it back (pool_take_done) and gives it to the table
 * (table_job_done), which applies the result: logging, loss actions, the state file, replies. A
 * device stuck in a command holds one worker until the command times out; the other workers go on
 * with the other devices.
 *
 * Two lanes: renewals, releases and re-adoptions of held leases (the urgent lane) always run
 * before clients' new acquires and the observations of acquire --wait (the acquire lane), and
 * acquire-lane jobs occupy at most workers - 1 threads, so that a storm of acquires of
 * unreachable devices (each holding a worker for its login timeout) never makes a held lease
 * late: one worker is always left to the urgent lane. Likewise the jobs of leases of non-root
 * owners (both lanes) occupy at most workers - 1 threads: a member whose devices stop answering
 * (a portal it runs itself) holds workers in renewals too, and root's leases keep one worker.
 * And one non-root uid's jobs occupy at most workers - 2 threads, its acquires at most half of
 * the acquire threads (share.h, at least 1 each): one member's storm leaves threads to the
 * others.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

#include "prlockd.h"
#include "share.h"

struct worker {
	struct daemon *dm;
	pthread_t thread;
	bool started;
	struct table_job *cur; /* the job it runs, under pool.lock */
	uint64_t since;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct table_job *urgent, **urgent_tail; /* renew, release, adopt */
	struct table_job *todo, **todo_tail;	 /* acquire, observe */
	struct share *share;			 /* who may take how many workers */
	struct table_job *done, **done_tail;
	bool stop;
	bool stuck_logged; /* "all workers stuck" said, until they keep up for dead_after */
	uint64_t ok_since; /* not all stuck since then (0: all stuck now) */
	unsigned n;
	struct worker w[];
};

static void wake_main(struct daemon *dm)
{
	uint64_t one = 1;

	/* a full counter (impossible here) still leaves the fd readable */
	(void)!write(dm->pool_fd, &one, sizeof(one));
}

static bool job_urgent(const struct table_job *e)
{
	enum job_kind k = table_job_kind(e);

	return k == JOB_RENEW || k == JOB_RELEASE || k == JOB_ADOPT;
}

/* Under p->lock: the first job of list that may run now (the shares of share.h), unlinked. */
static struct table_job *take(struct pool *p, struct table_job **list, struct table_job ***tail,
			      bool acquire_lane)
{
	for (struct table_job **q = list; *q; q = &(*q)->next) {
		struct table_job *e = *q;

		if (!share_may_start(p->share, table_job_owner(e), acquire_lane))
			continue;
		*q = e->next;
		if (!*q)
			*tail = q;
		return e;
	}
	return NULL;
}

/* Under p->lock: the next job this worker may take (urgent first), NULL if none. */
static struct table_job *job_take(struct pool *p, bool *ret_urgent)
{
	struct table_job *e = take(p, &p->urgent, &p->urgent_tail, false);

	*ret_urgent = e != NULL;
	if (!e)
		e = take(p, &p->todo, &p->todo_tail, true);
	if (e)
		share_start(p->share, table_job_owner(e), !*ret_urgent);
	return e;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *dm = w->dm;
	struct pool *p = dm->pool;
	struct table_job *e = NULL;
	bool urgent = false;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !(e = job_take(p, &urgent)))
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stop)
			break;
		w->cur = e;
		w->since = mono_ms();
		pthread_mutex_unlock(&p->lock);

		table_job_run(e);

		pthread_mutex_lock(&p->lock);
		share_end(p->share, table_job_owner(e), !urgent);
		if (p->urgent || p->todo)
			pthread_cond_broadcast(
				&p->cond); /* a share is free: any may now take one */
		w->cur = NULL;
		e->next = NULL;
		*p->done_tail = e;
		p->done_tail = &e->next;
		wake_main(dm);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int pool_start(struct daemon *dm)
{
	struct pool *p;
	int r;

	p = calloc(1, sizeof(*p) + dm->n_workers * sizeof(p->w[0]));
	if (!p)
		return -ENOMEM;
	p->share = share_new(dm->n_workers);
	if (!p->share) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->urgent_tail = &p->urgent;
	p->todo_tail = &p->todo;
	p->done_tail = &p->done;
	p->n = dm->n_workers;
	dm->pool = p;
	dm->pool_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dm->pool_fd < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to create an eventfd: %m");
		return r;
	}
	for (unsigned i = 0; i < p->n; i++) {
		p->w[i].dm = dm;
		r = pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);
		if (r) {
			log_msg(LOG_ERR, "Failed to start worker thread %u: %s", i, strerror(r));
			return -r;
		}
		p->w[i].started = true;
	}
	return 0;
}

/*
 * Jobs still queued are dropped; jobs running end first (each command is bounded by the
 * command timeout), so that no worker touches an entry the main thread frees after this.
 */
void pool_stop(struct daemon *dm)
{
	struct pool *p = dm->pool;
	unsigned running = 0;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	for (unsigned i = 0; i < p->n; i++)
		running += p->w[i].cur != NULL;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (running)
		log_msg(LOG_INFO, "waiting for %u device command(s) in flight", running);
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].started)
			pthread_join(p->w[i].thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	share_free(p->share);
	free(p);
	dm->pool = NULL;
	if (dm->pool_fd >= 0)
		close(dm->pool_fd);
	dm->pool_fd = -1;
}

void pool_submit(struct daemon *dm, struct table_job *e)
{
	struct pool *p = dm->pool;

	pthread_mutex_lock(&p->lock);
	e->next = NULL;
	if (job_urgent(e)) {
		*p->urgent_tail = e;
		p->urgent_tail = &e->next;
	} else {
		*p->todo_tail = e;
		p->todo_tail = &e->next;
	}
	/* all: a worker woken for an acquire may not be allowed to take it */
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

struct table_job *pool_take_done(struct daemon *dm)
{
	struct pool *p = dm->pool;
	struct table_job *e;
	uint64_t v;

	pthread_mutex_lock(&p->lock);
	e = p->done;
	if (e) {
		p->done = e->next;
		if (!p->done)
			p->done_tail = &p->done;
		e->next = NULL;
	} else {
		/* empty: reset the eventfd; a worker that finishes later writes it again */
		(void)!read(dm->pool_fd, &v, sizeof(v));
	}
	pthread_mutex_unlock(&p->lock);
	return e;
}

uint64_t pool_next_wakeup(struct daemon *dm)
{
	struct pool *p = dm->pool;
	uint64_t now = mono_ms(), w = UINT64_MAX;

	if (p->stuck_logged && p->ok_since && p->ok_since + dm->dead_after_ms > now)
		w = p->ok_since + dm->dead_after_ms;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->n; i++) {
		uint64_t t = p->w[i].since + dm->period_ms;

		if (p->w[i].cur && t > now && t < w)
			w = t;
	}
	pthread_mutex_unlock(&p->lock);
	return w;
}

void pool_check_stuck(struct daemon *dm)
{
	struct pool *p = dm->pool;
	uint64_t now = mono_ms();
	unsigned stuck = 0, queued = 0;
	char list[1024] = "";
	size_t off = 0;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->n; i++) {
		const struct worker *w = &p->w[i];

		if (!w->cur || now - w->since < dm->period_ms)
			continue;
		stuck++;
		if (off < sizeof(list) - 1)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s for %.1f s",
						off ? ", " : "", table_job_device(w->cur),
						(double)(now - w->since) / 1000);
	}
	for (const struct table_job *e = p->urgent; e; e = e->next)
		queued++;
	for (const struct table_job *e = p->todo; e; e = e->next)
		queued++;
	pthread_mutex_unlock(&p->lock);

	if (stuck == p->n)
		p->ok_since = 0;
	else if (!p->ok_since)
		p->ok_since = now;
	if (stuck == p->n && !p->stuck_logged) {
		p->stuck_logged = true;
		log_msg(LOG_ERR,
			"all %u workers are stuck in device commands (%s); %u other device(s) wait "
			"and their renewals run late; raise 'workers' if this is not one dead "
			"target",
			p->n, list, queued);
	} else if (p->stuck_logged && p->ok_since && now - p->ok_since >= dm->dead_after_ms) {
		/* said once per episode: a stuck job that times out and starts again is the same */
		p->stuck_logged = false;
		log_msg(LOG_NOTICE, "workers keep up again (%u of %u stuck)", stuck, p->n);
	}
}
