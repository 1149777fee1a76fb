/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Leases from the command line: "run" holds them while a command runs,
 * "preempt --if-dead" waits for the holder to die by the lease rule.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "lunlock.h"
#include "prlock.h"

#define DEFAULT_KILL_GRACE_MS SGPR_KILL_GRACE_MS_DEFAULT
#define DEFAULT_PERIOD_MS SGPR_LEASE_PERIOD_MS_DEFAULT

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sgpr_dev *, sgpr_dev_free)

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct sgpr_lease_opts lease_opts(const struct prlock *p, bool static_lease)
{
	return (struct sgpr_lease_opts){
		.size = sizeof(struct sgpr_lease_opts),
		.ns = p->ns,
		.host_id = p->cfg.host_id,
		.type = effective_type(p),
		.period_ms = p->cfg.lease_period_ms,
		.dead_after_ms = p->cfg.dead_after_ms,
		.self_fence_after_ms = p->cfg.self_fence_after_ms,
		.static_lease = static_lease,
		.force = p->force,
	};
}

static void log_event(const char *dev, const struct sgpr_lease *l, enum sgpr_lease_event ev)
{
	char k[SGPR_KEY_STRLEN], h[SGPR_KEY_STRLEN];

	fprintf(stderr, "prlock: %s: lease %s (key %s, holder %s)\n", dev,
		sgpr_lease_event_name(ev), sgpr_key_format(sgpr_lease_key(l), k),
		sgpr_key_format(sgpr_lease_last_holder(l), h));
}

/* ---- preempt --if-dead ------------------------------------------------- */

/*
 * One lease period between two observations; on a terminal the progress line is redrawn every
 * quarter second: the holder's key, the changes seen, when it would be dead if its key stays
 * as it is, and the time left of --timeout.
 */
static void if_dead_sleep(struct prlock *p, struct sgpr_lease *l, struct progress *pr,
			  uint64_t period, uint64_t deadline)
{
	uint64_t end = mono_ms() + period, now;
	char label[64], k[SGPR_KEY_STRLEN];

	if (!pr->on) {
		usleep((useconds_t)period * 1000);
		return;
	}
	while ((now = mono_ms()) < end) {
		uint64_t dead_at = pr->changed_ms + sgpr_lease_dead_after_ms(l);

		if (pr->holder)
			progress_show(pr,
				      "holder %s key %s, %u change%s seen; takeover in %.1f s if "
				      "unchanged; %.1f s left",
				      owner_label(p, pr->holder, label, sizeof(label)),
				      sgpr_key_format(pr->holder, k), pr->changes,
				      pr->changes == 1 ? "" : "s",
				      dead_at > now ? (double)(dead_at - now) / 1000 : 0.0,
				      deadline > now ? (double)(deadline - now) / 1000 : 0.0);
		else
			progress_show(pr, "watching for a holder; %.1f s left",
				      deadline > now ? (double)(deadline - now) / 1000 : 0.0);
		usleep((useconds_t)(end - now < 250 ? end - now : 250) * 1000);
	}
}

int preempt_if_dead(struct prlock *p, const char *dev)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	struct sgpr_lease_opts o = lease_opts(p, true); /* nobody renews after we exit */
	struct sgpr_lease *l = NULL;
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;
	uint64_t start, deadline, period;
	char label[64], k[SGPR_KEY_STRLEN];
	bool alive_seen = false, mismatch_told = false;
	struct progress pr;
	unsigned own_dead;
	int r;

	progress_init(&pr, p, dev);
	r = open_dev(p, dev, &d);
	if (r)
		return r;
	r = sgpr_lease_new(d, &o, &l);
	if (r < 0)
		return fail(r, dev, "lease options", NULL);
	period = p->cfg.lease_period_ms ? p->cfg.lease_period_ms : DEFAULT_PERIOD_MS;
	own_dead = p->cfg.dead_after_ms ?: SGPR_LEASE_DEAD_AFTER_MS_DEFAULT(period);
	start = mono_ms();
	/* default: long enough to see a dead holder die (dead_after) and act on it */
	if (p->wait_timeout_set)
		deadline = start + p->wait_timeout_ms;
	else
		deadline = start +
			   (p->cfg.dead_after_ms ?: SGPR_LEASE_DEAD_AFTER_MS_DEFAULT(period)) +
			   2 * period;
	for (;;) {
		r = sgpr_lease_observe(l, &ev);
		if (r < 0 || ev == SGPR_LEASE_TAKEN_OVER || ev == SGPR_LEASE_ACQUIRED ||
		    ev == SGPR_LEASE_ADOPTED)
			break;
		alive_seen |= ev == SGPR_LEASE_HOLDER_ALIVE;
		progress_holder(&pr, sgpr_lease_last_holder(l), mono_ms());
		if (!mismatch_told && sgpr_lease_dead_after_ms(l) > own_dead) {
			/* the holder's key announces a longer period than ours (docs/FENCE.md) */
			mismatch_told = true;
			progress_clear(&pr);
			fprintf(stderr,
				"prlock: %s: the holder's key announces a lease period of %.1f s; "
				"waiting %.1f s for it to die, not dead_after %.1f s\n",
				dev, sgpr_lease_holder_period_ms(l) / 1000.0,
				sgpr_lease_dead_after_ms(l) / 1000.0, own_dead / 1000.0);
			if (!p->wait_timeout_set &&
			    start + sgpr_lease_dead_after_ms(l) + 2 * period > deadline)
				deadline = start + sgpr_lease_dead_after_ms(l) + 2 * period;
		}
		if (mono_ms() + period > deadline)
			break;
		if_dead_sleep(p, l, &pr, period, deadline);
	}
	progress_clear(&pr);
	if (r < 0) {
		sgpr_lease_free(l);
		return fail(r, dev,
			    r == -EBADE ? "reserved by all registrants, no single holder"
					: "watching the holder",
			    NULL);
	}
	if (ev == SGPR_LEASE_NONE || ev == SGPR_LEASE_HOLDER_ALIVE) {
		uint64_t holder = sgpr_lease_last_holder(l);

		fprintf(stderr,
			"prlock: %s: %s (key %s) is alive: %s; nothing taken after %.1f s\n", dev,
			owner_label(p, holder, label, sizeof(label)), sgpr_key_format(holder, k),
			alive_seen ? "it renewed when we tried to take over"
				   : "its key kept changing (or it is static or foreign)",
			(double)(mono_ms() - start) / 1000);
		sgpr_lease_free(l);
		return EXIT_CONFLICT;
	}
	results_begin(p);
	{
		char msg[256], v[SGPR_KEY_STRLEN];
		uint64_t victim = sgpr_lease_last_holder(l);

		bool taken = ev == SGPR_LEASE_TAKEN_OVER, aborted = sgpr_lease_takeover_aborted(l);

		if (taken)
			snprintf(msg, sizeof(msg),
				 "took over from %s (key %s, dead by the lease rule) "
				 "after %.1f s; held with key %s%s",
				 owner_label(p, victim, label, sizeof(label)),
				 sgpr_key_format(victim, v), (double)(mono_ms() - start) / 1000,
				 sgpr_key_format(sgpr_lease_key(l), k),
				 aborted ? ""
					 : "; target lacks PREEMPT AND ABORT, used PREEMPT "
					   "(victim's queued commands not aborted)");
		else
			snprintf(msg, sizeof(msg), "was free; acquired with key %s",
				 sgpr_key_format(sgpr_lease_key(l), k));
		result_device(p, dev, 0,
			      &(struct result){.action = ev == SGPR_LEASE_TAKEN_OVER ? "taken-over"
										     : "acquired",
					       .message = msg,
					       .key = sgpr_lease_key(l),
					       .type = o.type,
					       .victim = taken ? victim : 0,
					       .has_aborted = taken,
					       .aborted = aborted});
	}
	sgpr_lease_free(l);
	return results_end(p, 0);
}

/* ---- run --------------------------------------------------------------- */

/*
 * One thread per device: it opens the device, acquires the lease and renews it on its own
 * deadline, so a hung target delays only its own renewals. The main thread starts the command
 * in a process group of its own, passes signals on to that group, and stops the whole process
 * tree when a lease is lost or when the command exits and leaves processes behind. When the
 * tree is gone, each device thread checks its lease once more (a renewal) and releases it; a
 * lease found lost then makes run exit 3 as well.
 */

static int signal_pipe[2] = {-1, -1};

#define EV_DEVICE 0 /* the byte a device thread writes into signal_pipe: its phase changed */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	(void)!write(signal_pipe[1], &c, 1);
	errno = saved;
}

static const int run_signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};

static int setup_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(run_signals) / sizeof(run_signals[0]); i++)
		if (sigaction(run_signals[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

enum dev_phase {
	PH_STARTING, /* opening, acquiring */
	PH_HELD,
	PH_FAILED, /* could not acquire: rc */
	PH_LOST,
};

struct run_ctx;

struct held {
	struct run_ctx *run;
	const char *dev;
	struct sgpr_dev *d; /* the thread's, until it is joined */
	struct sgpr_lease *l;
	pthread_t thread;
	bool started;
	/* under run->lock */
	enum dev_phase phase;
	int rc;
	enum sgpr_lease_event lost_ev;
	uint64_t lost_key, lost_holder;
	bool lost_at_exit; /* found by the check after the command ended */
	bool reported;	   /* the main thread logged the loss */
};

struct run_ctx {
	struct prlock *p;
	unsigned period;
	int stop_fd; /* read end of the stop pipe: end of file = stop */
	pthread_mutex_t lock;
};

static void notify_main(void)
{
	unsigned char c = EV_DEVICE;

	(void)!write(signal_pipe[1], &c, 1);
}

static void set_phase(struct held *h, enum dev_phase ph, int rc)
{
	pthread_mutex_lock(&h->run->lock);
	h->phase = ph;
	h->rc = rc;
	pthread_mutex_unlock(&h->run->lock);
	notify_main();
}

/* Wait until mono time `until`; true if the stop came first. */
static bool wait_stop(int fd, uint64_t until)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = mono_ms();

		if (now >= until)
			return false;
		if (poll(&pfd, 1, until - now > INT_MAX ? INT_MAX : (int)(until - now)) > 0)
			return true;
	}
}

static int acquire_one(struct prlock *p, struct held *h)
{
	struct sgpr_lease_opts o = lease_opts(p, false);
	enum sgpr_lease_event ev;
	char words[600], label[64], k[SGPR_KEY_STRLEN];
	pid_t owner;
	int r;

	r = open_dev(p, h->dev, &h->d);
	if (r)
		return r;
	/* one holder per host and LUN; the lock lives as long as this process (O_CLOEXEC) */
	r = lun_lock(h->d, p->cfg.host_id, "prlock run", &owner);
	if (r == -EBUSY) {
		fprintf(stderr,
			"prlock: %s: another process of this host (pid %d) holds a lease on this "
			"LUN\n",
			h->dev, (int)owner);
		return EXIT_CONFLICT;
	}
	r = sgpr_lease_new(h->d, &o, &h->l);
	if (r < 0)
		return fail(r, h->dev, "lease options", NULL);
	r = sgpr_lease_acquire(h->l, &ev);
	if (r == -EBADE) {
		uint64_t holder = sgpr_lease_last_holder(h->l);

		char clash[400];

		if (holder)
			snprintf(words, sizeof(words), "held by %s (key %s)%s",
				 owner_label(p, holder, label, sizeof(label)),
				 sgpr_key_format(holder, k),
				 own_id_holder_words(p, h->d, holder, clash, sizeof(clash)));
		else
			snprintf(words, sizeof(words), "reserved by all registrants");
		fprintf(stderr, "prlock: %s: %s\n", h->dev, words);
		return EXIT_CONFLICT;
	}
	if (r < 0)
		return fail(r, h->dev, "acquiring the lease", NULL);
	if (ev != SGPR_LEASE_ACQUIRED)
		log_event(h->dev, h->l, ev);
	return 0;
}

/* A device thread: acquire, renew every period until the stop, check once more, release. */
static void *device_thread(void *arg)
{
	struct held *h = arg;
	struct run_ctx *run = h->run;
	bool unreachable = false, stop = false;
	enum sgpr_lease_event ev;
	uint64_t next;
	int r;

	r = acquire_one(run->p, h);
	if (r) {
		set_phase(h, PH_FAILED, r);
		return NULL;
	}
	set_phase(h, PH_HELD, 0);
	next = mono_ms() + run->period;
	while (!stop) {
		stop = wait_stop(run->stop_fd, next);
		/* at the stop: the check before releasing (a loss meanwhile is still a loss) */
		r = sgpr_lease_renew(h->l, &ev);
		if (r < 0) {
			fail(r, h->dev, stop ? "checking the lease" : "renewing the lease", NULL);
		} else if (ev == SGPR_LEASE_UNREACHABLE) {
			if (!unreachable)
				log_event(h->dev, h->l, ev);
			unreachable = true;
		} else if (ev != SGPR_LEASE_RENEWED) {
			log_event(h->dev, h->l, ev);
		} else if (unreachable) {
			fprintf(stderr, "prlock: %s: device reachable again, lease renewed\n",
				h->dev);
			unreachable = false;
		}
		if (r == 0 && ev == SGPR_LEASE_RENEWED)
			unreachable = false;
		if (sgpr_lease_get_state(h->l) == SGPR_LEASE_LOST) {
			pthread_mutex_lock(&run->lock);
			h->lost_ev = ev;
			h->lost_key = sgpr_lease_key(h->l);
			h->lost_holder = sgpr_lease_last_holder(h->l);
			h->lost_at_exit = stop;
			pthread_mutex_unlock(&run->lock);
			set_phase(h, PH_LOST, EXIT_CONFLICT);
			return NULL; /* the key is gone: nothing to release */
		}
		next += run->period;
		if (next <= mono_ms())
			next = mono_ms(); /* late (a slow renewal): renew at once */
	}
	if (sgpr_lease_get_state(h->l) == SGPR_LEASE_HELD) {
		r = sgpr_lease_release(h->l);
		if (r < 0)
			fail(r, h->dev, "releasing the lease", NULL);
	}
	return NULL;
}

/* ---- the command's process tree ---- */

/*
 * Signal the command's process group and every other descendant of prlock (processes that
 * left the group with setsid/setpgid: as a child subreaper, prlock inherits those whose parent
 * died). sig 0 only counts. Returns how many live processes (not zombies) were found.
 */
static unsigned signal_tree(pid_t pgid, pid_t guard, int sig)
{
	struct proc {
		pid_t pid, ppid, pgrp;
		bool mark;
	} *procs = NULL;
	size_t n = 0, cap = 0;
	pid_t self = getpid();
	unsigned count = 0;
	struct dirent *de;
	bool more = true;
	DIR *dir;

	if (sig)
		kill(-pgid, sig); /* the group at once, then the stragglers outside it */
	dir = opendir("/proc");
	if (!dir)
		return kill(-pgid, 0) == 0;
	while ((de = readdir(dir))) {
		char path[300], buf[512], *q, state;
		int pid, ppid, pgrp, fd;
		ssize_t len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		q = strrchr(buf, ')');
		if (!q || sscanf(q + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 ||
		    sscanf(buf, "%d", &pid) != 1 || state == 'Z' || state == 'X' || pid == guard)
			continue;
		if (n == cap) {
			struct proc *m = realloc(procs, (cap = cap ? 2 * cap : 256) * sizeof(*m));

			if (!m)
				break;
			procs = m;
		}
		procs[n++] = (struct proc){pid, ppid, pgrp, pgrp == pgid || ppid == self};
	}
	closedir(dir);
	/* descendants of marked processes, level by level */
	while (more) {
		more = false;
		for (size_t i = 0; i < n; i++) {
			if (procs[i].mark)
				continue;
			for (size_t k = 0; k < n; k++)
				if (procs[k].mark && procs[k].pid == procs[i].ppid) {
					procs[i].mark = more = true;
					break;
				}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!procs[i].mark)
			continue;
		count++;
		if (sig && procs[i].pgrp != pgid)
			kill(procs[i].pid, sig);
	}
	free(procs);
	return count;
}

/*
 * The guard: a child of prlock, forked before any thread and holding nothing but the read end
 * of a pipe. prlock writes the command's process group into it, then one more byte when it
 * ends normally. End of file without that byte means prlock died (SIGKILL, a crash): the guard
 * SIGKILLs the process group. PR_SET_PDEATHSIG alone would reach only the direct child.
 */
static pid_t start_guard(int *ret_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		static const int ignore[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGPIPE};
		pid_t pgid = 0;
		char byte;
		ssize_t n;

		for (int fd = 0; fd < 1024; fd++)
			if (fd != fds[0])
				close(fd);
		for (size_t i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++)
			signal(ignore[i], SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		do
			n = read(fds[0], &pgid, sizeof(pgid));
		while (n < 0 && errno == EINTR);
		if (n != sizeof(pgid) || pgid <= 1)
			_exit(0);
		do
			n = read(fds[0], &byte, 1);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			kill(-pgid, SIGKILL);
		_exit(0);
	}
	close(fds[0]);
	if (pid < 0) {
		close(fds[1]);
		return -1;
	}
	*ret_fd = fds[1];
	return pid;
}

static void write_str(const char *s)
{
	(void)!write(STDERR_FILENO, s, strlen(s));
}

/* The command, in a process group of its own, SIGKILLed by the kernel if prlock dies. */
static pid_t spawn(char **cmd, pid_t parent)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (size_t i = 0; i < sizeof(run_signals) / sizeof(run_signals[0]); i++)
			signal(run_signals[i], SIG_DFL);
		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127); /* prlock is gone already */
		execvp(cmd[0], cmd);
		write_str("prlock: run: ");
		write_str(cmd[0]);
		write_str(": ");
		write_str(strerror(errno));
		write_str("\n");
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid); /* also here: no signal may reach the group before it exists */
	return pid;
}

static void log_sigkill(unsigned left, const char *cmd, unsigned grace)
{
	if (left)
		fprintf(stderr,
			"prlock: run: %u process(es) of %s still running %u ms after SIGTERM, "
			"SIGKILL\n",
			left, cmd, grace);
}

static void stop_tree(pid_t pgid, pid_t guard, int sig)
{
	signal_tree(pgid, guard, sig);
	if (sig == SIGTERM)
		signal_tree(pgid, guard, SIGCONT); /* a stopped process must see its SIGTERM */
}

/* Log the losses the device threads found and did not report yet. True if there is one. */
static bool report_losses(struct prlock *p, struct run_ctx *run, struct held *h, int n,
			  bool at_exit)
{
	char label[64], words[128], k[SGPR_KEY_STRLEN], hk[SGPR_KEY_STRLEN];
	bool any = false;

	pthread_mutex_lock(&run->lock);
	for (int i = 0; i < n; i++) {
		if (h[i].phase != PH_LOST)
			continue;
		any = true;
		if (h[i].reported)
			continue;
		h[i].reported = true;
		if (h[i].lost_holder && h[i].lost_holder != h[i].lost_key)
			snprintf(words, sizeof(words), "now held by %s (key %s)",
				 owner_label(p, h[i].lost_holder, label, sizeof(label)),
				 sgpr_key_format(h[i].lost_holder, hk));
		else
			snprintf(words, sizeof(words), "not held by another key");
		fprintf(stderr, "prlock: run: %s: lease lost (%s%s): key %s, %s\n", h[i].dev,
			sgpr_lease_event_name(h[i].lost_ev),
			at_exit ? ", found when the command had ended" : "",
			sgpr_key_format(h[i].lost_key, k), words);
	}
	pthread_mutex_unlock(&run->lock);
	return any;
}

static int start_threads(struct run_ctx *run, struct held *h, int n)
{
	sigset_t block, old;
	int r = 0;

	/* signals go to the main thread: the device threads never see EINTR from them */
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(run_signals) / sizeof(run_signals[0]); i++)
		sigaddset(&block, run_signals[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int i = 0; i < n; i++) {
		r = -pthread_create(&h[i].thread, NULL, device_thread, &h[i]);
		if (r < 0)
			break;
		h[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* Stop the device threads (each checks its lease once more, then releases) and join them. */
static void stop_threads(struct held *h, int n, int *stop_wfd)
{
	if (*stop_wfd >= 0) {
		close(*stop_wfd);
		*stop_wfd = -1;
	}
	for (int i = 0; i < n; i++) {
		if (h[i].started)
			pthread_join(h[i].thread, NULL);
		h[i].started = false;
		sgpr_lease_free(h[i].l);
		sgpr_dev_free(h[i].d);
		h[i].l = NULL;
		h[i].d = NULL;
	}
}

static unsigned run_period(const struct prlock *p)
{
	return p->cfg.lease_period_ms ? p->cfg.lease_period_ms : DEFAULT_PERIOD_MS;
}

/*
 * No command may take longer than the lease allows: each device command of run is bounded by
 * one lease period, so a renewal attempt ends (or fails) before the next one is due and long
 * before dead_after; a login by the same bound, at most the library's 5 s.
 */
static void bound_timeouts(struct prlock *p)
{
	unsigned period = run_period(p);
	unsigned t = p->cfg.timeout_ms ? p->cfg.timeout_ms : 10000;

	if (t > period) {
		if (p->cfg.timeout_ms)
			fprintf(stderr,
				"prlock: run: command timeout %u ms is longer than the lease "
				"period; using %u ms\n",
				t, period);
		t = period;
	}
	p->dev_opts.timeout_ms = t;
	p->dev_opts.connect_timeout_ms = t < 5000 ? t : 5000;
}

int verb_run(struct prlock *p, int ndev, char **devs)
{
	struct held *h = calloc((size_t)ndev, sizeof(*h));
	unsigned grace = p->cfg.kill_grace_ms ? p->cfg.kill_grace_ms : DEFAULT_KILL_GRACE_MS;
	struct run_ctx run = {.p = p, .period = run_period(p), .stop_fd = -1};
	int stop_pipe[2] = {-1, -1}, guard_fd = -1, r, status = 0, abort_sig = 0;
	bool lost = false, child_done = false, stopping = false;
	uint64_t kill_at = 0;
	pid_t child = -1, guard;

	if (!h)
		return fail(-ENOMEM, devs[0], "run", NULL);
	bound_timeouts(p);
	r = setup_signals();
	if (r == 0 && pipe2(stop_pipe, O_CLOEXEC) < 0)
		r = -errno;
	if (r == 0 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		r = -errno;
	/* before any thread: the guard's fork copies nothing but this thread */
	guard = r == 0 ? start_guard(&guard_fd) : -1;
	if (r == 0 && guard < 0)
		r = -errno;
	if (r < 0) {
		free(h);
		return fail(r, devs[0], "run: setting up", NULL);
	}
	run.stop_fd = stop_pipe[0];
	pthread_mutex_init(&run.lock, NULL);
	for (int i = 0; i < ndev; i++)
		h[i] = (struct held){.run = &run, .dev = devs[i]};

	/* acquire every lease, all at once; then start the command, or give them all back */
	r = start_threads(&run, h, ndev);
	if (r < 0) {
		fail(r, devs[0], "run: starting the device threads", NULL);
		r = EXIT_RUNTIME;
	}
	for (;;) {
		struct pollfd pfd = {.fd = signal_pipe[0], .events = POLLIN};
		unsigned char sig;
		int starting = 0;

		pthread_mutex_lock(&run.lock);
		for (int i = 0; i < ndev; i++) {
			if (!h[i].started)
				continue;
			starting += h[i].phase == PH_STARTING;
			if (h[i].phase == PH_FAILED && !r)
				r = h[i].rc;
		}
		pthread_mutex_unlock(&run.lock);
		if (!starting)
			break;
		if (poll(&pfd, 1, -1) > 0)
			while (read(signal_pipe[0], &sig, 1) == 1)
				if (sig != EV_DEVICE && sig != SIGCHLD && !abort_sig)
					abort_sig = sig;
	}
	if (r || abort_sig || report_losses(p, &run, h, ndev, false)) {
		stop_threads(h, ndev, &stop_pipe[1]);
		close(guard_fd); /* no pgid written: the guard just exits */
		free(h);
		close(stop_pipe[0]);
		pthread_mutex_destroy(&run.lock);
		if (!r && abort_sig)
			fprintf(stderr,
				"prlock: run: %s before the command started, leases released\n",
				strsignal(abort_sig));
		return r ? r : abort_sig ? 128 + abort_sig : EXIT_CONFLICT;
	}

	child = spawn(p->cmd, getpid());
	if (child < 0) {
		r = fail(-errno, devs[0], "fork", NULL);
		stop_threads(h, ndev, &stop_pipe[1]);
		close(guard_fd);
		free(h);
		close(stop_pipe[0]);
		return r;
	}
	(void)!write(guard_fd, &child, sizeof(child)); /* the process group to kill if we die */

	for (;;) {
		struct pollfd pfd = {.fd = signal_pipe[0], .events = POLLIN};
		uint64_t now = mono_ms();
		int timeout = -1, st;
		unsigned char sig;
		pid_t pid;

		if (kill_at)
			timeout = kill_at > now ? (int)(kill_at - now) : 0;
		if (child_done && (timeout < 0 || timeout > 100))
			timeout = 100; /* waiting for the rest of the tree, not all our children */
		if (poll(&pfd, 1, timeout) > 0) {
			while (read(signal_pipe[0], &sig, 1) == 1) {
				if (sig == EV_DEVICE || sig == SIGCHLD)
					continue;
				/* TERM/INT/HUP: passed on to the command's process group */
				if (!child_done)
					kill(-child, sig);
			}
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			if (pid == child) {
				status = st;
				child_done = true;
			}
		if (!lost && report_losses(p, &run, h, ndev, false)) {
			lost = true;
			if (!stopping) {
				fprintf(stderr,
					"prlock: run: stopping %s and its process tree (SIGTERM)\n",
					p->cmd[0]);
				stop_tree(child, guard, SIGTERM);
				stopping = true;
				kill_at = mono_ms() + grace;
			}
		}
		if (child_done && !stopping && signal_tree(child, guard, 0)) {
			fprintf(stderr,
				"prlock: run: %s exited, stopping the processes it left behind "
				"(SIGTERM)\n",
				p->cmd[0]);
			stop_tree(child, guard, SIGTERM);
			stopping = true;
			kill_at = mono_ms() + grace;
		}
		now = mono_ms();
		if (kill_at && now >= kill_at) {
			log_sigkill(signal_tree(child, guard, 0), p->cmd[0], grace);
			stop_tree(child, guard, SIGKILL);
			kill_at = 0;
		}
		if (child_done && !signal_tree(child, guard, 0))
			break;
	}

	/* the tree is gone: each thread checks its lease once more, then releases it */
	stop_threads(h, ndev, &stop_pipe[1]);
	lost |= report_losses(p, &run, h, ndev, true);
	(void)!write(guard_fd, "", 1); /* disarm: the group is empty, its id may be reused */
	close(guard_fd);
	close(stop_pipe[0]);
	pthread_mutex_destroy(&run.lock);
	free(h);
	if (lost) {
		if (WIFEXITED(status))
			fprintf(stderr,
				"prlock: run: exit 3 (lease lost); %s exited with status %d\n",
				p->cmd[0], WEXITSTATUS(status));
		else
			fprintf(stderr,
				"prlock: run: exit 3 (lease lost); %s was killed by signal %d "
				"(%s)\n",
				p->cmd[0], WTERMSIG(status), strsignal(WTERMSIG(status)));
		return EXIT_CONFLICT;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
