/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lease table of prlockd: renewal of every held lease each period, observation for
 * "acquire --wait", re-adoption after a restart, loss actions, and the state file.
 *
 * The main thread schedules: each entry has one due time; when it is due and no job of it is
 * running, the entry is handed to the worker pool (pool.c), which runs the library calls
 * (job_run) and hands it back; the main thread then applies the result (*_done): logging,
 * loss actions, the state file, replies. A device that stops answering occupies one worker
 * for its command timeout; the other devices are renewed on time by the other workers.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "lunlock.h"
#include "prlockd.h"

const char *holder_words(const struct daemon *dm, uint64_t holder, char *buf, size_t len)
{
	char k[SGPR_KEY_STRLEN];

	if (!holder)
		snprintf(buf, len, "reserved by all registrants (no single holder)");
	else if (sgpr_key_is_parking(holder, dm->ns))
		snprintf(buf, len, "parked by a release (no holder)");
	else if (!sgpr_key_in_ns(holder, dm->ns))
		snprintf(buf, len, "held by foreign key %s", sgpr_key_format(holder, k));
	else
		snprintf(buf, len, "held by host %u%s (key %s)", sgpr_key_split(holder).host_id,
			 sgpr_key_split(holder).host_id == dm->cfg.host_id ? " (this host)" : "",
			 sgpr_key_format(holder, k));
	return buf;
}

/* ---- processes ----------------------------------------------------------- */

int proc_starttime(pid_t pid, unsigned long long *ret)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* "PID (comm) S ppid ...": comm may hold spaces and parentheses; field 22 is starttime */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EBADMSG;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return -ESRCH; /* exited, not reaped yet */
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -EBADMSG;
	*ret = strtoull(p, NULL, 10);
	return 0;
}

bool proc_alive(const struct protected_proc *p)
{
	unsigned long long start;

	return proc_starttime(p->pid, &start) == 0 && start == p->start;
}

static void prune_procs(struct entry *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n_procs; i++)
		if (proc_alive(&e->procs[i]))
			e->procs[n++] = e->procs[i];
	e->n_procs = n;
}

/* ---- entries ------------------------------------------------------------- */

struct entry *entry_find(struct daemon *dm, const char *dev)
{
	for (size_t i = 0; i < dm->n_entries; i++)
		if (strcmp(dm->entries[i]->dev, dev) == 0)
			return dm->entries[i];
	return NULL;
}

int entry_add(struct daemon *dm, const char *dev, int type, struct entry **ret)
{
	struct entry **n, *e;

	n = realloc(dm->entries, (dm->n_entries + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	dm->entries = n;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->dev = strdup(dev);
	if (!e->dev) {
		free(e);
		return -ENOMEM;
	}
	e->type = type;
	e->hook_pid = -1;
	e->lock_fd = -1;
	dm->entries[dm->n_entries++] = e;
	*ret = e;
	return 0;
}

void entry_remove(struct daemon *dm, struct entry *e)
{
	assert(!e->busy); /* a worker may be using e->d and e->l */
	for (size_t i = 0; i < dm->n_entries; i++) {
		if (dm->entries[i] != e)
			continue;
		memmove(dm->entries + i, dm->entries + i + 1,
			(dm->n_entries - i - 1) * sizeof(*dm->entries));
		dm->n_entries--;
		break;
	}
	if (e->waiter)
		waiter_done(dm, e, -ECANCELED, SGPR_LEASE_NONE);
	control_entry_idle(dm, e);
	sgpr_lease_free(e->l);
	sgpr_dev_free(e->d);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	free(e->procs);
	free(e->dev);
	free(e->ident_lun_id);
	free(e->ident_rdevs);
	free(e);
}

struct sgpr_lease_opts entry_lease_opts(const struct daemon *dm, int type)
{
	return (struct sgpr_lease_opts){
		.ns = dm->ns,
		.host_id = dm->cfg.host_id,
		.type = type,
		.period_ms = dm->period_ms,
		.dead_after_ms = dm->dead_after_ms,
		.self_fence_after_ms = dm->cfg.self_fence_after_ms,
	};
}

int entry_open(struct daemon *dm, struct entry *e)
{
	struct sgpr_lease_opts o = entry_lease_opts(dm, e->type);
	int r;

	if (!e->d) {
		r = sgpr_dev_open(e->dev, &dm->dev_opts, &e->d);
		if (r < 0)
			return r;
	}
	if (e->lock_fd == -1) {
		r = lun_lock(e->d, dm->cfg.host_id, "prlockd", &e->lock_owner);
		if (r == -EBUSY)
			return r; /* another process of this host holds this LUN */
		/* no lock directory (a --user without access): the engine's key check remains */
		e->lock_fd = r >= 0 ? r : -2;
	}
	if (!e->l) {
		if (e->state == ENTRY_ADOPTING && !e->rec_key)
			return -ESTALE; /* nothing recorded to adopt: adopt_done() reports the loss */
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

int kill_add(struct daemon *dm, const char *dev, const struct protected_proc *p, uint64_t at)
{
	struct pending_kill *n;
	char *d;

	for (size_t i = 0; i < dm->n_kills; i++)
		if (dm->kills[i].proc.pid == p->pid && dm->kills[i].proc.start == p->start) {
			if (at < dm->kills[i].kill_at)
				dm->kills[i].kill_at =
					at; /* protected twice: the earlier deadline */
			return 0;
		}
	d = strdup(dev);
	n = d ? realloc(dm->kills, (dm->n_kills + 1) * sizeof(*n)) : NULL;
	if (!n) {
		free(d);
		return -ENOMEM;
	}
	dm->kills = n;
	dm->kills[dm->n_kills++] = (struct pending_kill){.dev = d, .proc = *p, .kill_at = at};
	return 0;
}

void kills_free(struct daemon *dm)
{
	for (size_t i = 0; i < dm->n_kills; i++)
		free(dm->kills[i].dev);
	free(dm->kills);
	dm->kills = NULL;
	dm->n_kills = 0;
}

/* ---- the state file ------------------------------------------------------ */

/*
 * STATE_DIR/leases: one device per line, "DEV TYPE key=KEY confirmed=MS [PID:STARTTIME]...",
 * for the devices this host holds (or still has to re-adopt) and their protected processes.
 * KEY is the key held, MS the CLOCK_BOOTTIME time its last renewal was confirmed (sent): a
 * restart adopts only that key (or its later renewals), and a recorded lease whose key is
 * gone is lost when MS is older than the recovery window. Then one line
 * "kill DEV DEADLINE PID:STARTTIME" per pending SIGKILL (DEADLINE in CLOCK_BOOTTIME ms, which
 * a restart of prlockd does not reset; DEV never is "kill": it is a URL or a /dev path).
 * Written whole on every change and at most once a period for renewals, to a temporary file
 * renamed over the old one.
 */
int state_save(struct daemon *dm)
{
	char path[4096], tmp[4200];
	FILE *f;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/leases", dm->state_dir);
	snprintf(tmp, sizeof(tmp), "%s/leases.tmp", dm->state_dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		log_msg(LOG_ERR, "Failed to write %s: %s; a restart would not re-adopt the leases",
			tmp, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < dm->n_entries; i++) {
		struct entry *e = dm->entries[i];

		if (e->state != ENTRY_HELD && e->state != ENTRY_ADOPTING)
			continue;
		if (e->state == ENTRY_HELD && e->l) {
			e->rec_key = e->key;
			e->rec_confirmed_ms = e->last_renewal_ms;
		}
		fprintf(f, "%s %s key=0x%016llx confirmed=%llu", e->dev, sgpr_type_to_name(e->type),
			(unsigned long long)e->rec_key, (unsigned long long)e->rec_confirmed_ms);
		for (size_t k = 0; k < e->n_procs; k++)
			fprintf(f, " %d:%llu", (int)e->procs[k].pid, e->procs[k].start);
		fputc('\n', f);
	}
	for (size_t i = 0; i < dm->n_kills; i++)
		fprintf(f, "kill %s %llu %d:%llu\n", dm->kills[i].dev,
			(unsigned long long)dm->kills[i].kill_at, (int)dm->kills[i].proc.pid,
			dm->kills[i].proc.start);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (!r)
		dm->state_saved_ms = mono_ms();
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to write %s: %s; a restart would not re-adopt the leases",
			path, strerror(-r));
		unlink(tmp);
	}
	return r;
}

/* "kill DEV DEADLINE PID:STARTTIME": a SIGKILL still due (see state_save) */
static int parse_kill_line(struct daemon *dm, char *rest, const char *path, unsigned lineno)
{
	char *save = NULL, *dev, *deadline, *proc, *end;
	struct protected_proc p;
	unsigned long long at;
	int pid;

	dev = strtok_r(rest, " \t\n", &save);
	deadline = dev ? strtok_r(NULL, " \t\n", &save) : NULL;
	proc = deadline ? strtok_r(NULL, " \t\n", &save) : NULL;
	if (!proc || sscanf(proc, "%d:%llu", &pid, &p.start) != 2 || pid <= 1) {
		log_msg(LOG_WARNING, "%s:%u: malformed pending kill, ignoring", path, lineno);
		return 0;
	}
	errno = 0;
	at = strtoull(deadline, &end, 10);
	if (errno || *end) {
		log_msg(LOG_WARNING, "%s:%u: malformed pending kill deadline '%s', ignoring", path,
			lineno, deadline);
		return 0;
	}
	p.pid = pid;
	if (!proc_alive(&p))
		return 0; /* gone meanwhile */
	log_msg(LOG_NOTICE, "%s: lost lease's protected process %d still runs; SIGKILL %s", dev,
		pid, at <= mono_ms() ? "now" : "when its kill_grace ends");
	return kill_add(dm, dev, &p, at);
}

static int parse_state_line(struct daemon *dm, char *line, const char *path, unsigned lineno)
{
	char *save = NULL, *dev, *type, *tok;
	struct entry *e;
	int t, r;

	dev = strtok_r(line, " \t\n", &save);
	if (!dev)
		return 0;
	if (strcmp(dev, "kill") == 0)
		return parse_kill_line(dm, save, path, lineno);
	type = strtok_r(NULL, " \t\n", &save);
	t = type ? sgpr_type_from_name(type) : -EINVAL;
	if (t < 0) {
		log_msg(LOG_WARNING, "%s:%u: no reservation type for %s, ignoring", path, lineno,
			dev);
		return 0;
	}
	if (entry_find(dm, dev))
		return 0;
	r = entry_add(dm, dev, t, &e);
	if (r < 0)
		return r;
	e->state = ENTRY_ADOPTING;
	while ((tok = strtok_r(NULL, " \t\n", &save))) {
		struct protected_proc p;
		struct protected_proc *n;
		unsigned long long v;
		int pid;

		if (sscanf(tok, "key=%llx", &v) == 1) {
			e->rec_key = v;
			continue;
		}
		if (sscanf(tok, "confirmed=%llu", &v) == 1) {
			e->rec_confirmed_ms = v;
			continue;
		}
		if (sscanf(tok, "%d:%llu", &pid, &p.start) != 2 || pid <= 1) {
			log_msg(LOG_WARNING, "%s:%u: '%s' is not PID:STARTTIME, ignoring", path,
				lineno, tok);
			continue;
		}
		p.pid = pid;
		if (!proc_alive(&p)) {
			log_msg(LOG_INFO, "%s: protected process %d is gone", dev, pid);
			continue;
		}
		n = realloc(e->procs, (e->n_procs + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		e->procs = n;
		e->procs[e->n_procs++] = p;
	}
	return 0;
}

int state_load(struct daemon *dm)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[4096], line[8192];
	unsigned lineno = 0;
	int r;

	snprintf(path, sizeof(path), "%s/leases", dm->state_dir);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		log_msg(LOG_ERR, "Failed to read %s: %s", path, strerror(-r));
		return r;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		r = parse_state_line(dm, line, path, lineno);
		if (r < 0) {
			log_msg(LOG_ERR, "Failed to load %s: %s", path, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* ---- loss ---------------------------------------------------------------- */

static void run_hook(struct daemon *dm, struct entry *e)
{
	char key[SGPR_KEY_STRLEN], pids[1024] = "";
	size_t off = 0;
	pid_t pid;

	for (size_t i = 0; i < e->n_procs && off < sizeof(pids) - 16; i++)
		off += (size_t)snprintf(pids + off, sizeof(pids) - off, "%s%d", i ? " " : "",
					(int)e->procs[i].pid);
	sgpr_key_format(e->lost_key, key);
	pid = fork();
	if (pid < 0) {
		log_msg(LOG_ERR, "%s: cannot run loss hook %s: %m", e->dev, dm->hook);
		return;
	}
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		setenv("PRLOCKD_PROTECTED_PIDS", pids, 1);
		execl(dm->hook, dm->hook, e->dev, sgpr_lease_event_name(e->lost_event), key,
		      (char *)NULL);
		fprintf(stderr, "<3>%s: cannot execute loss hook %s: %s\n", e->dev, dm->hook,
			strerror(errno));
		_exit(127);
	}
	e->hook_pid = pid;
	e->hook_deadline = mono_ms() + PRLOCKD_HOOK_TIMEOUT_MS;
	log_msg(LOG_NOTICE, "%s: running loss hook %s %s %s %s (pid %d)", e->dev, dm->hook, e->dev,
		sgpr_lease_event_name(e->lost_event), key, (int)pid);
}

static void lease_lost(struct daemon *dm, struct entry *e, enum sgpr_lease_event ev)
{
	char k[SGPR_KEY_STRLEN], words[128];
	const char *cause;

	e->state = ENTRY_LOST;
	e->lost_event = ev;
	e->lost_key = e->key;
	e->lost_holder = e->holder;
	e->next_due = UINT64_MAX;
	switch (ev) {
	case SGPR_LEASE_LOST_PREEMPTED:
		cause = "preempted: our key was removed";
		break;
	case SGPR_LEASE_LOST_CLEARED:
		cause = "cleared: our key was removed and nobody holds it";
		break;
	case SGPR_LEASE_LOST_TARGET:
		cause = "the target lost its reservation state and another key holds it now";
		break;
	case SGPR_LEASE_LOST_SELF_FENCED:
		cause = "no renewal for self_fence_after";
		break;
	case SGPR_LEASE_LOST_EXPIRED:
		cause = "our key is gone and no renewal was confirmed within the recovery window";
		break;
	default:
		cause = "held by another key after restart";
		break;
	}
	prune_procs(e);
	log_msg(LOG_CRIT, "%s: lease LOST (%s): %s; key %s, now %s; %s %zu protected process(es)",
		e->dev, sgpr_lease_event_name(ev) ?: "lost-at-adoption", cause,
		sgpr_key_format(e->lost_key, k),
		e->lost_holder && e->lost_holder != e->lost_key
			? holder_words(dm, e->lost_holder, words, sizeof(words))
			: "not held by another key",
		dm->hook ? "running the hook for" : "stopping (SIGTERM)", e->n_procs);
	if (dm->hook) {
		run_hook(dm, e);
	} else if (e->n_procs) {
		uint64_t at = mono_ms() + dm->kill_grace_ms;

		for (size_t i = 0; i < e->n_procs; i++) {
			if (kill(e->procs[i].pid, SIGTERM) < 0)
				log_msg(LOG_WARNING, "%s: SIGTERM to %d: %m", e->dev,
					(int)e->procs[i].pid);
			/* the SIGKILL is the daemon's from now on: release or acquire keep it */
			if (kill_add(dm, e->dev, &e->procs[i], at) < 0) {
				log_msg(LOG_ERR, "%s: out of memory: SIGKILL to %d now", e->dev,
					(int)e->procs[i].pid);
				kill(e->procs[i].pid, SIGKILL);
			}
		}
	}
	state_save(dm);
}

void leases_timers(struct daemon *dm)
{
	uint64_t now = mono_ms();
	size_t n = 0;

	for (size_t i = 0; i < dm->n_kills; i++) {
		struct pending_kill *k = &dm->kills[i];

		if (now < k->kill_at) {
			dm->kills[n++] = *k;
			continue;
		}
		if (proc_alive(&k->proc)) {
			log_msg(LOG_WARNING,
				"%s: protected process %d still running %u ms after SIGTERM, "
				"SIGKILL",
				k->dev, (int)k->proc.pid, dm->kill_grace_ms);
			if (kill(k->proc.pid, SIGKILL) < 0)
				log_msg(LOG_WARNING, "%s: SIGKILL to %d: %m", k->dev,
					(int)k->proc.pid);
		}
		free(k->dev);
	}
	if (n != dm->n_kills) {
		dm->n_kills = n;
		state_save(dm);
	}
	for (size_t i = 0; i < dm->n_entries; i++) {
		struct entry *e = dm->entries[i];

		if (e->hook_pid > 0 && now >= e->hook_deadline) {
			log_msg(LOG_ERR,
				"%s: loss hook (pid %d) still running after %u ms, SIGKILL", e->dev,
				(int)e->hook_pid, PRLOCKD_HOOK_TIMEOUT_MS);
			kill(e->hook_pid, SIGKILL);
			e->hook_deadline = UINT64_MAX; /* reaped by leases_reap_children() */
		}
	}
}

void leases_reap_children(struct daemon *dm)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < dm->n_entries; i++) {
			struct entry *e = dm->entries[i];

			if (e->hook_pid != pid)
				continue;
			e->hook_pid = -1;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_msg(LOG_NOTICE, "%s: loss hook done", e->dev);
			else if (WIFEXITED(status))
				log_msg(LOG_ERR, "%s: loss hook exited with status %d", e->dev,
					WEXITSTATUS(status));
			else
				log_msg(LOG_ERR, "%s: loss hook killed by signal %d", e->dev,
					WTERMSIG(status));
		}
	}
}

uint64_t leases_next_wakeup(const struct daemon *dm)
{
	uint64_t w = UINT64_MAX;

	for (size_t i = 0; i < dm->n_kills; i++)
		if (dm->kills[i].kill_at < w)
			w = dm->kills[i].kill_at;
	for (size_t i = 0; i < dm->n_entries; i++) {
		const struct entry *e = dm->entries[i];

		/* a busy entry wakes the loop when its job ends (the pool's eventfd) */
		if (!e->busy && e->state != ENTRY_LOST && e->state != ENTRY_ACQUIRING &&
		    e->next_due < w)
			w = e->next_due;
		if (e->hook_pid > 0 && e->hook_deadline < w)
			w = e->hook_deadline;
	}
	return w;
}

/* ---- the engine ---------------------------------------------------------- */

static void schedule(struct daemon *dm, struct entry *e, uint64_t now)
{
	e->next_due += dm->period_ms;
	if (e->next_due <= now)
		e->next_due = now + dm->period_ms;
}

static void log_event(struct entry *e, enum sgpr_lease_event ev, int prio)
{
	char k[SGPR_KEY_STRLEN];

	log_msg(prio, "%s: lease %s (key %s)", e->dev, sgpr_lease_event_name(ev),
		sgpr_key_format(e->key, k));
}

void entry_snap(struct entry *e)
{
	if (!e->l)
		return;
	e->key = sgpr_lease_key(e->l);
	e->holder = sgpr_lease_last_holder(e->l);
	e->last_renewal_ms = sgpr_lease_last_renewal_ms(e->l);
}

void entry_submit(struct daemon *dm, struct entry *e, enum job_kind kind)
{
	assert(!e->busy);
	e->busy = true;
	e->job = kind;
	e->job_start = mono_ms();
	e->waiter_left = false;
	pool_submit(dm, e);
}

/* On a worker: the only code that touches e->d and e->l while e is busy. */
void job_run(struct daemon *dm, struct entry *e)
{
	enum sgpr_lease_event ev = SGPR_LEASE_NONE;
	int r = 0;

	switch (e->job) {
	case JOB_RENEW:
		r = sgpr_lease_renew(e->l, &ev);
		break;
	case JOB_OBSERVE:
		r = sgpr_lease_observe(e->l, &ev);
		break;
	case JOB_ADOPT:
	case JOB_ACQUIRE:
		r = entry_open(dm, e);
		if (r == 0)
			r = sgpr_lease_acquire(e->l, &ev);
		break;
	case JOB_RELEASE:
		r = sgpr_lease_release(e->l);
		break;
	}
	e->job_r = r;
	e->job_ev = ev;
}

static void renew_done(struct daemon *dm, struct entry *e)
{
	enum sgpr_lease_event ev = e->job_ev;
	int r = e->job_r;

	if (r < 0) {
		log_msg(LOG_WARNING, "%s: renewal failed: %s; retrying next period", e->dev,
			errno_words(r));
		return;
	}
	if (sgpr_lease_get_state(e->l) == SGPR_LEASE_LOST) {
		lease_lost(dm, e, ev);
		return;
	}
	if (ev == SGPR_LEASE_UNREACHABLE) {
		if (!e->unreachable)
			log_msg(LOG_WARNING,
				"%s: device unreachable, lease not renewed (not a loss: writes are "
				"impossible too)",
				e->dev);
		e->unreachable = true;
		return;
	}
	if (e->unreachable)
		log_msg(LOG_NOTICE, "%s: device reachable again", e->dev);
	e->unreachable = false;
	/* the recorded key and confirmation time may trail by one period, not more */
	if (mono_ms() - dm->state_saved_ms >= dm->period_ms)
		state_save(dm);
	switch (ev) {
	case SGPR_LEASE_RENEWED:
		log_event(e, ev, LOG_DEBUG);
		break;
	case SGPR_LEASE_RECOVERED:
		log_event(e, ev, LOG_NOTICE);
		break;
	default:
		log_event(e, ev, LOG_INFO);
		break;
	}
}

static bool held_event(enum sgpr_lease_event ev)
{
	return ev == SGPR_LEASE_TAKEN_OVER || ev == SGPR_LEASE_ACQUIRED || ev == SGPR_LEASE_ADOPTED;
}

static void observe_done(struct daemon *dm, struct entry *e)
{
	enum sgpr_lease_event ev = e->job_ev;
	uint64_t now = mono_ms();
	char words[128];
	int r = e->job_r;

	if (e->waiter_left && !(r == 0 && held_event(ev))) {
		entry_remove(dm, e); /* the client cancelled the wait while we observed */
		return;
	}
	if (r < 0 && sgpr_err_kind(r) != SGPR_ERR_UNREACHABLE) {
		waiter_done(dm, e, r, SGPR_LEASE_NONE);
		entry_remove(dm, e);
		return;
	}
	if (r < 0) {
		log_msg(LOG_DEBUG, "%s: observing: %s", e->dev, errno_words(r));
		return;
	}
	if (held_event(ev)) {
		char k[SGPR_KEY_STRLEN];

		e->state = ENTRY_HELD;
		e->next_due = now + dm->period_ms;
		log_msg(LOG_NOTICE, "%s: lease %s after %llu ms: key %s%s%s", e->dev,
			sgpr_lease_event_name(ev), (unsigned long long)(now - e->wait_start),
			sgpr_key_format(e->key, k),
			ev == SGPR_LEASE_TAKEN_OVER ? ", dead holder was " : "",
			ev == SGPR_LEASE_TAKEN_OVER
				? holder_words(dm, e->holder, words, sizeof(words))
				: "");
		if (e->waiter_left)
			log_msg(LOG_WARNING,
				"%s: the waiting client left while the lease was taken; holding it "
				"(release it with prlock release)",
				e->dev);
		state_save(dm);
		waiter_done(dm, e, 0, ev);
		return;
	}
	if (ev == SGPR_LEASE_HOLDER_ALIVE)
		log_msg(LOG_INFO, "%s: takeover refused by the target: the holder renewed", e->dev);
	if (!e->mismatch_told && e->l && sgpr_lease_dead_after_ms(e->l) > dm->dead_after_ms) {
		/* the holder announces a longer period than ours (docs/FENCE.md) */
		e->mismatch_told = true;
		log_msg(LOG_NOTICE,
			"%s: the holder's key announces a lease period of %u ms; waiting %u ms for "
			"it to die, not dead_after %u ms",
			e->dev, sgpr_lease_holder_period_ms(e->l), sgpr_lease_dead_after_ms(e->l),
			dm->dead_after_ms);
	}
}

/* A recorded lease re-adopted (start-up, or a retry while the device was unreachable). */
static void adopt_done(struct daemon *dm, struct entry *e)
{
	enum sgpr_lease_event ev = e->job_ev;
	char k[SGPR_KEY_STRLEN], words[128];
	int r = e->job_r;

	if (r == -EBADE) {
		log_msg(LOG_ERR, "%s: recorded lease (key %s) is %s now", e->dev,
			sgpr_key_format(e->rec_key, k),
			holder_words(dm, e->holder, words, sizeof(words)));
		e->key = e->rec_key;
		lease_lost(dm, e, SGPR_LEASE_LOST_PREEMPTED);
		return;
	}
	if (r == -ESTALE) {
		log_msg(LOG_ERR,
			"%s: the state file records no key for this lease (written by an older "
			"prlockd): it cannot be re-adopted safely",
			e->dev);
		lease_lost(dm, e, SGPR_LEASE_LOST_EXPIRED);
		return;
	}
	if (r == 0 && sgpr_lease_get_state(e->l) == SGPR_LEASE_LOST) {
		log_msg(LOG_ERR,
			"%s: recorded lease (key %s) is gone and was last confirmed %llu ms ago, "
			"longer than the recovery window: another host may have held it",
			e->dev, sgpr_key_format(e->rec_key, k),
			(unsigned long long)(mono_ms() - e->rec_confirmed_ms));
		lease_lost(dm, e, ev);
		return;
	}
	if (r < 0) {
		if (!e->unreachable)
			log_msg(LOG_WARNING,
				"%s: cannot re-adopt the recorded lease yet: %s; retrying every "
				"period",
				e->dev, errno_words(r));
		e->unreachable = true;
		return;
	}
	e->unreachable = false;
	e->state = ENTRY_HELD;
	e->next_due = mono_ms(); /* renew at once: the key has not changed for a while */
	if (ev == SGPR_LEASE_ADOPTED)
		log_msg(LOG_NOTICE, "%s: lease re-adopted with key %s, %zu protected process(es)",
			e->dev, sgpr_key_format(e->key, k), e->n_procs);
	else
		log_msg(LOG_WARNING,
			"%s: recorded lease was free (target state lost or released behind our "
			"back); reserved again with key %s",
			e->dev, sgpr_key_format(e->key, k));
	state_save(dm);
}

void leases_collect(struct daemon *dm)
{
	struct entry *e;

	while ((e = pool_take_done(dm))) {
		e->busy = false;
		/* requests deferred behind this job run after it (control_run_ready) */
		control_entry_idle(dm, e);
		if (e->job != JOB_RELEASE)
			entry_snap(e); /* release_done needs the key that was held */
		switch (e->job) {
		case JOB_RENEW:
			renew_done(dm, e);
			break;
		case JOB_OBSERVE:
			observe_done(dm, e); /* may remove e */
			break;
		case JOB_ADOPT:
			adopt_done(dm, e);
			break;
		case JOB_ACQUIRE:
			acquire_done(dm, e); /* may remove e */
			break;
		case JOB_RELEASE:
			release_done(dm, e); /* may remove e */
			break;
		}
	}
}

void leases_run_due(struct daemon *dm)
{
	uint64_t now = mono_ms();
	char words[128];

	for (size_t i = 0; i < dm->n_entries;) {
		struct entry *e = dm->entries[i];

		if (e->busy || e->state == ENTRY_LOST || e->state == ENTRY_ACQUIRING ||
		    e->next_due > now) {
			i++;
			continue;
		}
		if (e->state == ENTRY_WAITING && e->wait_deadline && now >= e->wait_deadline) {
			log_msg(LOG_INFO, "%s: acquire --wait gave up after %llu ms: %s", e->dev,
				(unsigned long long)(now - e->wait_start),
				holder_words(dm, e->holder, words, sizeof(words)));
			waiter_done(dm, e, -EBADE, SGPR_LEASE_NONE);
			entry_remove(dm, e); /* the next entry moved to index i */
			continue;
		}
		schedule(dm, e, now);
		entry_submit(dm, e,
			     e->state == ENTRY_HELD	 ? JOB_RENEW
			     : e->state == ENTRY_WAITING ? JOB_OBSERVE
							 : JOB_ADOPT);
		i++;
	}
}

void leases_adopt_all(struct daemon *dm)
{
	if (dm->n_entries)
		log_msg(LOG_INFO, "re-adopting %zu recorded lease(s)", dm->n_entries);
	for (size_t i = 0; i < dm->n_entries; i++)
		dm->entries[i]->next_due = 0; /* due now: leases_run_due hands them to the pool */
}
