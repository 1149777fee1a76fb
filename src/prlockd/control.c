/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket of prlockd: AF_UNIX SOCK_STREAM, one request line in, one JSON reply
 * line out (docs/prlockd.md). Access: uid 0, or a member of the configured group
 * (SO_PEERCRED, SO_PEERGROUPS); everyone else gets an error line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "json.h"
#include "prlockd.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

struct client {
	int fd;
	struct ucred cred;
	bool allowed;
	char in[PRLOCKD_REQUEST_MAX];
	size_t in_len;
	bool answered; /* request read; a reply is queued or pending (acquire --wait) */
	char *out;
	size_t out_len, out_off;
	struct entry *waiting; /* answered when this entry's job (or acquire --wait) ends */
	uint64_t idle_deadline;
	bool closed;
	/* the request, split into tokens (in place, in "in"); run again after a deferral */
	char *tok[6];
	int ntok;
	struct entry *deferred_on; /* waits in deferred_on->deferred for its job to end */
	bool ready;		   /* waits in daemon.ready to be run again */
	struct client *next;	   /* in one of those two lists */
};

/* ---- replies --------------------------------------------------------------- */

struct reply {
	FILE *f;
	char *buf;
	size_t len;
	struct json j;
};

static int reply_begin(struct reply *rp, bool ok)
{
	*rp = (struct reply){};
	rp->f = open_memstream(&rp->buf, &rp->len);
	if (!rp->f)
		return -ENOMEM;
	json_init(&rp->j, rp->f, false);
	json_object_begin(&rp->j);
	json_key(&rp->j, "version");
	json_uint(&rp->j, 1);
	json_key(&rp->j, "ok");
	json_bool(&rp->j, ok);
	return 0;
}

static void reply_str(struct reply *rp, const char *key, const char *value)
{
	json_key(&rp->j, key);
	json_string(&rp->j, value);
}

static void reply_key(struct reply *rp, const char *name, uint64_t key)
{
	json_key(&rp->j, name);
	if (key)
		json_hex(&rp->j, key);
	else
		json_null(&rp->j);
}

static int reply_send(struct client *c, struct reply *rp)
{
	if (!rp->f)
		return 0;
	json_object_end(&rp->j);
	json_finish(&rp->j);
	fclose(rp->f);
	free(c->out);
	c->out = rp->buf;
	c->out_len = rp->len;
	c->out_off = 0;
	c->answered = true;
	return 0;
}

/* {"ok": false, "error": KIND, "message": ...} */
static int reply_error(struct client *c, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int reply_error(struct client *c, const char *kind, const char *fmt, ...)
{
	struct reply rp;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (reply_begin(&rp, false) == 0) {
		reply_str(&rp, "error", kind);
		reply_str(&rp, "message", msg);
		reply_send(c, &rp);
	}
	return 0;
}

static int reply_lease(struct daemon *dm, struct client *c, struct entry *e, const char *event)
{
	struct reply rp;

	if (reply_begin(&rp, true) < 0)
		return 0;
	reply_str(&rp, "device", e->dev);
	reply_str(&rp, "event", event);
	reply_key(&rp, "key", e->key);
	reply_str(&rp, "type", sgpr_type_to_name(e->type));
	json_key(&rp.j, "host_id");
	json_uint(&rp.j, dm->cfg.host_id);
	if (strcmp(event, "taken-over") == 0)
		reply_key(&rp, "victim", e->holder);
	if (e->wait_start) {
		json_key(&rp.j, "waited_ms");
		json_uint(&rp.j, mono_ms() - e->wait_start);
	}
	reply_send(c, &rp);
	return 0;
}

void waiter_done(struct daemon *dm, struct entry *e, int r, enum sgpr_lease_event ev)
{
	struct client *c = e->waiter;
	char words[160];

	if (!c)
		return;
	e->waiter = NULL;
	c->waiting = NULL;
	if (r == 0)
		reply_lease(dm, c, e, sgpr_lease_event_name(ev));
	else if (r == -ECANCELED)
		reply_error(c, "conflict", "%s: acquire --wait cancelled (released)", e->dev);
	else if (r == -EBADE)
		reply_error(c, "conflict", "%s: %s, still alive after %.1f s of waiting", e->dev,
			    holder_words(dm, e->holder, words, sizeof(words)),
			    (double)(mono_ms() - e->wait_start) / 1000);
	else
		reply_error(c, error_word(r), "%s: %s", e->dev, errno_words(r));
}

/* ---- requests ------------------------------------------------------------ */

/*
 * A request that needs e while a worker runs a job on it waits for the job to end, then runs
 * again (control_run_ready): requests on one device are serialized behind its jobs.
 */
static int defer(struct client *c, struct entry *e)
{
	struct client **p = &e->deferred;

	while (*p)
		p = &(*p)->next;
	c->next = NULL;
	*p = c;
	c->deferred_on = e;
	c->answered = true; /* the reply comes later */
	return 0;
}

void control_entry_idle(struct daemon *dm, struct entry *e)
{
	struct client **p = &dm->ready;

	while (*p)
		p = &(*p)->next;
	*p = e->deferred;
	for (struct client *c = e->deferred; c; c = c->next) {
		c->deferred_on = NULL;
		c->ready = true;
	}
	e->deferred = NULL;
}

static int dispatch(struct daemon *dm, struct client *c);

void control_run_ready(struct daemon *dm)
{
	struct client *c;

	/* a request run here answers or waits on a busy entry: it never comes back here */
	while ((c = dm->ready)) {
		dm->ready = c->next;
		c->next = NULL;
		c->ready = false;
		(void)dispatch(dm, c);
	}
}

/* The client c waits for e's job; e answers it when the job ends. */
static void attach_waiter(struct entry *e, struct client *c)
{
	e->waiter = c;
	c->waiting = e;
	c->answered = true;
	e->req_uid = (unsigned)c->cred.uid;
}

static int req_acquire(struct daemon *dm, struct client *c, const char *dev, int type, bool wait,
		       unsigned wait_ms)
{
	struct entry *e = entry_find(dm, dev);
	int r;

	if (e) {
		/* after a release that runs or waits: requests on one device keep their order */
		if (e->busy && (e->job == JOB_RELEASE || e->deferred))
			return defer(c, e);
		switch (e->state) {
		case ENTRY_HELD:
			if (e->type != type)
				return reply_error(c, "conflict",
						   "%s: held by this host as %s; release it first",
						   dev, sgpr_type_to_name(e->type));
			return reply_lease(dm, c, e, "already-held");
		case ENTRY_ADOPTING:
			if (e->busy)
				return defer(c, e); /* the answer depends on this attempt */
			return reply_error(c, "unreachable",
					   "%s: recorded lease not re-adopted yet (device "
					   "unreachable); prlockd retries every period",
					   dev);
		case ENTRY_ACQUIRING:
			return defer(c, e);
		case ENTRY_WAITING:
			return reply_error(c, "busy", "%s: another acquire --wait is pending", dev);
		case ENTRY_LOST:
			log_msg(LOG_INFO, "%s: acquiring again after the loss", dev);
			entry_remove(dm, e);
			break;
		}
	}
	r = entry_add(dm, dev, type, &e);
	if (r < 0)
		return reply_error(c, "error", "%s: %s", dev, strerror(-r));
	e->state = ENTRY_ACQUIRING;
	e->acq_wait = wait;
	e->acq_wait_ms = wait_ms;
	attach_waiter(e, c);
	entry_submit(dm, e, JOB_ACQUIRE);
	return 0;
}

void acquire_done(struct daemon *dm, struct entry *e)
{
	enum sgpr_lease_event ev = e->job_ev;
	struct client *c = e->waiter;
	bool opened = e->l != NULL;
	char words[160];
	int r = e->job_r;

	if (r == 0) {
		char k[SGPR_KEY_STRLEN];

		e->state = ENTRY_HELD;
		e->next_due = mono_ms() + dm->period_ms;
		log_msg(LOG_INFO, "%s: lease %s with key %s (%s), for uid %u", e->dev,
			sgpr_lease_event_name(ev), sgpr_key_format(e->key, k),
			sgpr_type_to_name(e->type), e->req_uid);
		if (e->waiter_left)
			log_msg(LOG_WARNING,
				"%s: the client left before the lease was acquired; holding it "
				"(release it with prlock release)",
				e->dev);
		state_save(dm);
		waiter_done(dm, e, 0, ev);
		return;
	}
	if (r == -EBADE && e->acq_wait && e->holder && c) {
		e->state = ENTRY_WAITING;
		e->wait_start = mono_ms();
		e->wait_deadline = e->acq_wait_ms ? e->wait_start + e->acq_wait_ms : 0;
		e->next_due = e->wait_start + dm->period_ms;
		log_msg(LOG_INFO, "%s: %s; waiting for it to die by the lease rule (%s)", e->dev,
			holder_words(dm, e->holder, words, sizeof(words)),
			e->acq_wait_ms ? "bounded" : "no bound");
		return;
	}
	if (c) {
		e->waiter = NULL;
		c->waiting = NULL;
		if (r == -EBADE)
			reply_error(c, "conflict", "%s: %s", e->dev,
				    holder_words(dm, e->holder, words, sizeof(words)));
		else if (r == -EBUSY)
			reply_error(
				c, "conflict",
				"%s: another process of this host (pid %d) holds a lease on this "
				"LUN",
				e->dev, (int)e->lock_owner);
		else if (!opened)
			reply_error(c, error_word(r), "%s: cannot open: %s", e->dev,
				    open_error_words(e->dev, r));
		else
			reply_error(c, error_word(r), "%s: acquiring the lease: %s", e->dev,
				    errno_words(r));
	}
	entry_remove(dm, e);
}

static void reply_released(struct client *c, const char *dev, const char *what, uint64_t key)
{
	struct reply rp;

	if (reply_begin(&rp, true) == 0) {
		reply_str(&rp, "device", dev);
		reply_str(&rp, "event", what);
		reply_key(&rp, "key", key);
		reply_send(c, &rp);
	}
}

static int req_release(struct daemon *dm, struct client *c, const char *dev)
{
	struct entry *e = entry_find(dm, dev);
	const char *what;

	if (!e)
		return reply_error(c, "not-held", "%s: not held by prlockd", dev);
	if (e->busy)
		return defer(c, e); /* after the renewal, observation or acquire that runs */
	switch (e->state) {
	case ENTRY_HELD:
		attach_waiter(e, c);
		entry_submit(dm, e, JOB_RELEASE);
		return 0;
	case ENTRY_WAITING:
		what = "cancelled";
		break;
	default:
		what = "forgotten";
		break;
	}
	log_msg(LOG_INFO, "%s: lease %s (key none), for uid %u", dev, what, (unsigned)c->cred.uid);
	reply_released(c, dev, what, 0);
	entry_remove(dm, e);
	state_save(dm);
	return 0;
}

void release_done(struct daemon *dm, struct entry *e)
{
	struct client *c = e->waiter;
	uint64_t key = e->key; /* the key held before the release */
	char k[SGPR_KEY_STRLEN];
	int r = e->job_r;

	if (c) {
		e->waiter = NULL;
		c->waiting = NULL;
	}
	entry_snap(e);
	if (r < 0) {
		log_msg(LOG_WARNING, "%s: releasing the lease: %s", e->dev, errno_words(r));
		if (c)
			reply_error(c, error_word(r), "%s: releasing the lease: %s", e->dev,
				    errno_words(r));
		return;
	}
	log_msg(LOG_INFO, "%s: lease released (key %s), for uid %u", e->dev,
		sgpr_key_format(key, k), e->req_uid);
	if (c)
		reply_released(c, e->dev, "released", key);
	entry_remove(dm, e);
	state_save(dm);
}

static int req_protect(struct daemon *dm, struct client *c, const char *dev, const char *spid)
{
	struct entry *e = entry_find(dm, dev);
	struct protected_proc p, *n;
	char path[64];
	struct stat st;
	unsigned v;
	struct reply rp;

	if (!e || (e->state != ENTRY_HELD && e->state != ENTRY_ADOPTING))
		return reply_error(c, "not-held", "%s: not held by prlockd", dev);
	if (parse_uint(spid, 2, 0x7fffffff, &v) < 0 || (pid_t)v == getpid())
		return reply_error(c, "usage", "protect: '%s' is not a process id", spid);
	p.pid = (pid_t)v;
	if (proc_starttime(p.pid, &p.start) < 0)
		return reply_error(c, "usage", "protect: no process %s", spid);
	snprintf(path, sizeof(path), "/proc/%d", (int)p.pid);
	if (c->cred.uid != 0 && (stat(path, &st) < 0 || st.st_uid != c->cred.uid))
		return reply_error(c, "denied", "protect: process %s is not yours", spid);
	for (size_t i = 0; i < e->n_procs; i++)
		if (e->procs[i].pid == p.pid && e->procs[i].start == p.start)
			goto done;
	n = realloc(e->procs, (e->n_procs + 1) * sizeof(*n));
	if (!n)
		return reply_error(c, "error", "out of memory");
	e->procs = n;
	e->procs[e->n_procs++] = p;
	state_save(dm);
	log_msg(LOG_INFO, "%s: protecting process %d (stopped if the lease is lost)", dev,
		(int)p.pid);
done:
	if (reply_begin(&rp, true) < 0)
		return 0;
	reply_str(&rp, "device", dev);
	json_key(&rp.j, "pid");
	json_uint(&rp.j, (unsigned)p.pid);
	reply_send(c, &rp);
	return 0;
}

static const char *state_name(enum entry_state s)
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

static int req_status(struct daemon *dm, struct client *c)
{
	uint64_t now = mono_ms();
	struct reply rp;

	if (reply_begin(&rp, true) < 0)
		return 0;
	json_key(&rp.j, "host_id");
	json_uint(&rp.j, dm->cfg.host_id);
	reply_str(&rp, "cluster", dm->cfg.cluster);
	json_key(&rp.j, "lease_period_ms");
	json_uint(&rp.j, dm->period_ms);
	json_key(&rp.j, "dead_after_ms");
	json_uint(&rp.j, dm->dead_after_ms);
	json_key(&rp.j, "leases");
	json_array_begin(&rp.j);
	for (size_t i = 0; i < dm->n_entries; i++) {
		struct entry *e = dm->entries[i];
		uint64_t last = e->last_renewal_ms; /* snapshots: a worker may own e->l */

		json_object_begin(&rp.j);
		reply_str(&rp, "device", e->dev);
		reply_str(&rp, "state", state_name(e->state));
		reply_str(&rp, "type", sgpr_type_to_name(e->type));
		reply_key(&rp, "key", e->state == ENTRY_LOST ? e->lost_key : e->key);
		reply_key(&rp, "holder", e->state == ENTRY_LOST ? e->lost_holder : e->holder);
		json_key(&rp.j, "last_renewal_ms_ago");
		if (last && e->state == ENTRY_HELD)
			json_uint(&rp.j, now - last);
		else
			json_null(&rp.j);
		json_key(&rp.j, "unreachable");
		json_bool(&rp.j, e->unreachable);
		/* a worker runs a command on it now (for busy_ms); late_ms: past its due time */
		json_key(&rp.j, "busy");
		json_bool(&rp.j, e->busy);
		json_key(&rp.j, "busy_ms");
		json_uint(&rp.j, e->busy ? now - e->job_start : 0);
		json_key(&rp.j, "late_ms");
		json_uint(&rp.j,
			  e->state != ENTRY_LOST && e->state != ENTRY_ACQUIRING && e->next_due < now
				  ? now - e->next_due
				  : 0);
		if (e->state == ENTRY_LOST) {
			reply_str(&rp, "lost_event",
				  sgpr_lease_event_name(e->lost_event) ?: "lost");
		}
		json_key(&rp.j, "protected");
		json_array_begin(&rp.j);
		for (size_t k = 0; k < e->n_procs; k++)
			if (proc_alive(&e->procs[k]))
				json_uint(&rp.j, (unsigned)e->procs[k].pid);
		json_array_end(&rp.j);
		json_object_end(&rp.j);
	}
	json_array_end(&rp.j);
	return reply_send(c, &rp);
}

/* A token of a request: printable ASCII without spaces. */
static int split(char *line, char **tok, int max)
{
	int n = 0;
	char *p = line;

	for (const char *s = line; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return -EINVAL;
	while (*p) {
		if (*p == ' ')
			return -EINVAL; /* empty token: exactly one space between tokens */
		if (n == max)
			return -E2BIG;
		tok[n++] = p;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = 0;
		if (!*p)
			return -EINVAL; /* trailing space */
	}
	return n;
}

static int handle_request(struct daemon *dm, struct client *c, char *line)
{
	int n = split(line, c->tok, 6);

	if (n <= 0)
		return reply_error(c, "usage",
				   "malformed request (one line: VERB ARG..., see "
				   "prlockd(8))");
	c->ntok = n;
	return dispatch(dm, c);
}

/* Run the request of c (again, after a deferral: see defer()). */
static int dispatch(struct daemon *dm, struct client *c)
{
	char **tok = c->tok;
	int n = c->ntok;

	if (!c->allowed)
		return reply_error(c, "denied",
				   "permission denied: uid %u is neither root nor a member of "
				   "%s%s%s",
				   (unsigned)c->cred.uid, dm->has_group ? "group '" : "",
				   dm->has_group ? dm->cfg.group
						 : "the prlockd group (none configured)",
				   dm->has_group ? "'" : "");
	if (strcmp(tok[0], "ping") == 0 && n == 1) {
		struct reply rp;

		if (reply_begin(&rp, true) < 0)
			return 0;
		json_key(&rp.j, "pid");
		json_uint(&rp.j, (unsigned)getpid());
		json_key(&rp.j, "host_id");
		json_uint(&rp.j, dm->cfg.host_id);
		return reply_send(c, &rp);
	}
	if (strcmp(tok[0], "status") == 0 && n == 1)
		return req_status(dm, c);
	if (strcmp(tok[0], "release") == 0 && n == 2)
		return req_release(dm, c, tok[1]);
	if (strcmp(tok[0], "protect") == 0 && n == 3)
		return req_protect(dm, c, tok[1], tok[2]);
	if (strcmp(tok[0], "acquire") == 0 && n >= 2) {
		int type = dm->cfg.type ?: SGPR_TYPE_WERO, i = 2;
		unsigned wait_ms = 0;
		bool wait = false;

		if (i < n && strcmp(tok[i], "--wait") != 0) {
			type = sgpr_type_from_name(tok[i++]);
			if (type < 0)
				return reply_error(c, "usage", "acquire: unknown type '%s'",
						   tok[i - 1]);
		}
		if (i < n && strcmp(tok[i], "--wait") == 0) {
			if (i + 1 >= n)
				return reply_error(c, "usage",
						   "acquire: --wait needs SECONDS or 'forever'");
			wait = true;
			if (strcmp(tok[i + 1], "forever") != 0 &&
			    parse_seconds(tok[i + 1], 0, 86400000, &wait_ms) < 0)
				return reply_error(c, "usage",
						   "acquire: --wait '%s': expected 0..86400 "
						   "seconds or 'forever'",
						   tok[i + 1]);
			if (strcmp(tok[i + 1], "forever") != 0 && !wait_ms)
				wait = false; /* --wait 0: do not wait */
			i += 2;
		}
		if (i != n)
			return reply_error(c, "usage",
					   "usage: acquire DEV [TYPE] [--wait SECONDS|forever]");
		return req_acquire(dm, c, tok[1], type, wait, wait_ms);
	}
	return reply_error(
		c, "usage",
		"unknown request '%s' (ping, status, acquire DEV [TYPE] [--wait S], release "
		"DEV, protect DEV PID)",
		tok[0]);
}

/* ---- the socket -------------------------------------------------------------- */

int control_listen(struct daemon *dm)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_free_ char *dir = NULL;
	char *slash;
	int fd, r;

	if (strlen(dm->control_path) >= sizeof(sa.sun_path)) {
		log_msg(LOG_ERR, "Control socket path too long: %s", dm->control_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, dm->control_path);
	dir = strdup(dm->control_path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			log_msg(LOG_ERR, "Failed to create %s: %m", dir);
			return r;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a dead prlockd is stale; a live one answers connect(). */
	{
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			log_msg(LOG_ERR, "Another prlockd listens on %s", dm->control_path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(dm->control_path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to listen on %s: %m", dm->control_path);
		close(fd);
		return r;
	}
	/*
	 * Everyone may connect: access is decided per peer (SO_PEERCRED), so that a refused
	 * peer gets a clear error line rather than EACCES.
	 */
	chmod(dm->control_path, 0666);
	dm->listen_fd = fd;
	return 0;
}

static void unlink_client(struct client **list, struct client *c)
{
	for (struct client **p = list; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->next = NULL;
}

static void client_free(struct daemon *dm, struct client *c)
{
	if (c->waiting) {
		c->waiting->waiter = NULL;
		c->waiting->waiter_left = c->waiting->busy;
		c->waiting = NULL;
	}
	if (c->deferred_on)
		unlink_client(&c->deferred_on->deferred, c);
	if (c->ready)
		unlink_client(&dm->ready, c);
	close(c->fd);
	free(c->out);
	free(c);
}

void control_close(struct daemon *dm)
{
	for (size_t i = 0; i < dm->n_clients; i++)
		client_free(dm, dm->clients[i]);
	free(dm->clients);
	dm->clients = NULL;
	dm->n_clients = 0;
	if (dm->listen_fd >= 0) {
		close(dm->listen_fd);
		unlink(dm->control_path);
		dm->listen_fd = -1;
	}
}

static bool peer_allowed(const struct daemon *dm, int fd, const struct ucred *cred)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (cred->uid == 0)
		return true;
	if (!dm->has_group)
		return false;
	if (cred->gid == dm->group)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == dm->group)
			return true;
	return false;
}

static void accept_clients(struct daemon *dm)
{
	for (;;) {
		socklen_t len = sizeof(struct ucred);
		struct client *c, **n;
		int fd;

		fd = accept4(dm->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		n = c ? realloc(dm->clients, (dm->n_clients + 1) * sizeof(*n)) : NULL;
		if (!n) {
			free(c);
			close(fd);
			return;
		}
		dm->clients = n;
		c->fd = fd;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == 0)
			c->allowed = peer_allowed(dm, fd, &c->cred);
		if (!c->allowed)
			log_msg(LOG_WARNING, "control: refused uid %u gid %u pid %d",
				(unsigned)c->cred.uid, (unsigned)c->cred.gid, (int)c->cred.pid);
		c->idle_deadline = mono_ms() + PRLOCKD_CLIENT_IDLE_MS;
		dm->clients[dm->n_clients++] = c;
	}
}

static void client_read(struct daemon *dm, struct client *c)
{
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->closed = true; /* gone before its answer; a pending --wait is dropped */
		if (c->waiting) {
			struct entry *e = c->waiting;

			e->waiter = NULL;
			c->waiting = NULL;
			if (e->busy) {
				/* the job ends first; its result is applied without a reply */
				e->waiter_left = true;
				log_msg(LOG_INFO, "%s: the waiting client left", e->dev);
			} else if (e->state == ENTRY_WAITING) {
				log_msg(LOG_INFO,
					"%s: the waiting client left, acquire --wait cancelled",
					e->dev);
				entry_remove(dm, e);
			}
		}
		return;
	}
	if (c->answered)
		return; /* one request per connection */
	c->in_len += (size_t)n;
	nl = memchr(c->in, '\n', c->in_len);
	if (!nl) {
		if (c->in_len == sizeof(c->in))
			reply_error(c, "usage", "request longer than %d bytes",
				    PRLOCKD_REQUEST_MAX - 1);
		return;
	}
	*nl = 0;
	(void)handle_request(dm, c, c->in);
}

static void client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->closed = true;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out && c->out_off == c->out_len)
		c->closed = true; /* one request, one reply */
}

uint64_t clients_next_wakeup(const struct daemon *dm)
{
	uint64_t w = UINT64_MAX;

	for (size_t i = 0; i < dm->n_clients; i++)
		if (!dm->clients[i]->answered && dm->clients[i]->idle_deadline < w)
			w = dm->clients[i]->idle_deadline;
	return w;
}

static void handle_signals(struct daemon *dm)
{
	struct signalfd_siginfo si;

	while (read(dm->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_msg(LOG_NOTICE, "%s received", strsignal((int)si.ssi_signo));
			dm->quit = true;
			break;
		case SIGCHLD:
			leases_reap_children(dm);
			break;
		default:
			break; /* SIGHUP: nothing to reload yet */
		}
	}
}

#define NFIXED 3 /* signals, listening socket, pool eventfd; then the clients */

void serve(struct daemon *dm, int timeout_ms)
{
	size_t n = dm->n_clients, i, k;
	struct pollfd *pfd = calloc(n + NFIXED, sizeof(*pfd));
	uint64_t now;

	if (!pfd)
		return;
	pfd[0] = (struct pollfd){.fd = dm->signal_fd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = dm->listen_fd, .events = POLLIN};
	/* jobs done: the eventfd only wakes poll; leases_collect() takes them */
	pfd[2] = (struct pollfd){.fd = dm->pool_fd, .events = POLLIN};
	for (i = 0; i < n; i++) {
		struct client *c = dm->clients[i];

		pfd[i + NFIXED].fd = c->fd;
		pfd[i + NFIXED].events = POLLIN;
		if (c->out_off < c->out_len)
			pfd[i + NFIXED].events |= POLLOUT;
	}
	if (poll(pfd, n + NFIXED, timeout_ms) < 0) {
		free(pfd);
		return;
	}
	if (pfd[0].revents)
		handle_signals(dm);
	/* clients first: a request may add or remove entries, never clients */
	for (i = 0; i < n; i++) {
		struct client *c = dm->clients[i];

		if (pfd[i + NFIXED].revents & (POLLIN | POLLHUP | POLLERR))
			client_read(dm, c);
		if (!c->closed && c->out_off < c->out_len)
			client_write(c);
	}
	now = mono_ms();
	for (i = 0, k = 0; i < dm->n_clients; i++) {
		struct client *c = dm->clients[i];

		if (!c->answered && now >= c->idle_deadline)
			c->closed = true;
		if (c->closed)
			client_free(dm, c);
		else
			dm->clients[k++] = c;
	}
	dm->n_clients = k;
	if (pfd[1].revents & POLLIN)
		accept_clients(dm);
	free(pfd);
}
