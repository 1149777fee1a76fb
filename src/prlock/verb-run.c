/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Leases from the command line: "run" holds them while a command runs,
 * "preempt --if-dead" waits for the holder to die by the lease rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
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

int preempt_if_dead(struct prlock *p, const char *dev)
{
	_cleanup_(sgpr_dev_freep) struct sgpr_dev *d = NULL;
	struct sgpr_lease_opts o = lease_opts(p, true); /* nobody renews after we exit */
	struct sgpr_lease *l = NULL;
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;
	uint64_t start, deadline, period;
	char label[64], k[SGPR_KEY_STRLEN];
	bool alive_seen = false;
	int r;

	r = open_dev(p, dev, &d);
	if (r)
		return r;
	r = sgpr_lease_new(d, &o, &l);
	if (r < 0)
		return fail(r, dev, "lease options", NULL);
	period = p->cfg.lease_period_ms ? p->cfg.lease_period_ms : DEFAULT_PERIOD_MS;
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
		if (mono_ms() + period > deadline)
			break;
		usleep((useconds_t)period * 1000);
	}
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

		if (ev == SGPR_LEASE_TAKEN_OVER)
			snprintf(msg, sizeof(msg),
				 "took over from %s (key %s, dead by the lease rule) "
				 "after %.1f s; held with key %s",
				 owner_label(p, victim, label, sizeof(label)),
				 sgpr_key_format(victim, v), (double)(mono_ms() - start) / 1000,
				 sgpr_key_format(sgpr_lease_key(l), k));
		else
			snprintf(msg, sizeof(msg), "was free; acquired with key %s",
				 sgpr_key_format(sgpr_lease_key(l), k));
		result_device(p, dev, 0,
			      &(struct result){.action = ev == SGPR_LEASE_TAKEN_OVER ? "taken-over"
										     : "acquired",
					       .message = msg,
					       .key = sgpr_lease_key(l),
					       .type = o.type,
					       .victim = ev == SGPR_LEASE_TAKEN_OVER ? victim : 0});
	}
	sgpr_lease_free(l);
	return results_end(p, 0);
}

/* ---- run --------------------------------------------------------------- */

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	(void)!write(signal_pipe[1], &c, 1);
	errno = saved;
}

static int setup_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

struct held {
	const char *dev;
	struct sgpr_dev *d;
	struct sgpr_lease *l;
};

static void release_all(struct held *h, int n)
{
	for (int i = 0; i < n; i++) {
		if (h[i].l && sgpr_lease_get_state(h[i].l) == SGPR_LEASE_HELD) {
			int r = sgpr_lease_release(h[i].l);

			if (r < 0)
				fail(r, h[i].dev, "releasing the lease", NULL);
		}
		sgpr_lease_free(h[i].l);
		sgpr_dev_free(h[i].d);
	}
}

static int acquire_all(struct prlock *p, int ndev, char **devs, struct held *h)
{
	for (int i = 0; i < ndev; i++) {
		struct sgpr_lease_opts o = lease_opts(p, false);
		enum sgpr_lease_event ev;
		char words[160], label[64], k[SGPR_KEY_STRLEN];
		int r;

		h[i].dev = devs[i];
		r = open_dev(p, devs[i], &h[i].d);
		if (r)
			return r;
		r = sgpr_lease_new(h[i].d, &o, &h[i].l);
		if (r < 0)
			return fail(r, devs[i], "lease options", NULL);
		r = sgpr_lease_acquire(h[i].l, &ev);
		if (r == -EBADE) {
			uint64_t holder = sgpr_lease_last_holder(h[i].l);

			if (holder)
				snprintf(words, sizeof(words), "held by %s (key %s)",
					 owner_label(p, holder, label, sizeof(label)),
					 sgpr_key_format(holder, k));
			else
				snprintf(words, sizeof(words), "reserved by all registrants");
			fprintf(stderr, "prlock: %s: %s\n", devs[i], words);
			return EXIT_CONFLICT;
		}
		if (r < 0)
			return fail(r, devs[i], "acquiring the lease", NULL);
		if (ev != SGPR_LEASE_ACQUIRED)
			log_event(devs[i], h[i].l, ev);
	}
	return 0;
}

static pid_t spawn(char **cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "prlock: run: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Renew every lease once. Returns true if one was lost. */
static bool renew_all(struct held *h, int n)
{
	bool lost = false;

	for (int i = 0; i < n; i++) {
		enum sgpr_lease_event ev;
		int r;

		if (sgpr_lease_get_state(h[i].l) != SGPR_LEASE_HELD)
			continue;
		r = sgpr_lease_renew(h[i].l, &ev);
		if (r < 0) {
			fail(r, h[i].dev, "renewing the lease", NULL);
			continue;
		}
		if (ev != SGPR_LEASE_RENEWED)
			log_event(h[i].dev, h[i].l, ev);
		lost |= sgpr_lease_get_state(h[i].l) == SGPR_LEASE_LOST;
	}
	return lost;
}

int verb_run(struct prlock *p, int ndev, char **devs)
{
	struct held *h = calloc((size_t)ndev, sizeof(*h));
	unsigned period = p->cfg.lease_period_ms ? p->cfg.lease_period_ms : DEFAULT_PERIOD_MS;
	unsigned grace = p->cfg.kill_grace_ms ? p->cfg.kill_grace_ms : DEFAULT_KILL_GRACE_MS;
	uint64_t next, kill_at = 0;
	bool lost = false;
	int r, status = 0;
	pid_t child;

	if (!h)
		return fail(-ENOMEM, devs[0], "run", NULL);
	r = setup_signals();
	if (r < 0) {
		free(h);
		return fail(r, devs[0], "signal setup", NULL);
	}
	r = acquire_all(p, ndev, devs, h);
	if (r) {
		release_all(h, ndev);
		free(h);
		return r;
	}
	child = spawn(p->cmd);
	if (child < 0) {
		r = fail(-errno, devs[0], "fork", NULL);
		release_all(h, ndev);
		free(h);
		return r;
	}
	next = mono_ms() + period;
	for (;;) {
		uint64_t now = mono_ms(), wake = kill_at && kill_at < next ? kill_at : next;
		struct pollfd pfd = {.fd = signal_pipe[0], .events = POLLIN};
		unsigned char sig;

		if (poll(&pfd, 1, wake > now ? (int)(wake - now) : 0) > 0) {
			while (read(signal_pipe[0], &sig, 1) == 1)
				if (sig != SIGCHLD)
					kill(child, sig); /* pass TERM/INT/HUP on to the command */
		}
		if (waitpid(child, &status, WNOHANG) == child)
			break;
		now = mono_ms();
		if (kill_at && now >= kill_at) {
			fprintf(stderr,
				"prlock: run: %s still running %u ms after SIGTERM, SIGKILL\n",
				p->cmd[0], grace);
			kill(child, SIGKILL);
			kill_at = 0;
		}
		if (now >= next) {
			next = now + period;
			if (!lost && renew_all(h, ndev)) {
				lost = true;
				fprintf(stderr,
					"prlock: run: a lease was lost, stopping %s (SIGTERM)\n",
					p->cmd[0]);
				kill(child, SIGTERM);
				kill_at = now + grace;
			}
		}
	}
	release_all(h, ndev);
	free(h);
	if (lost)
		return EXIT_CONFLICT;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
