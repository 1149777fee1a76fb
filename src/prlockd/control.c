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
#include "control-parse.h"
#include "json.h"
#include "prlockd.h"
#include "procs.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

struct client {
	int fd;
	struct ucred cred;
	char in[PRLOCKD_REQUEST_MAX];
	size_t in_len;
	bool answered; /* request read; a reply is queued or pending (pending) */
	bool pending;  /* the lease table answers later (control_reply) */
	char *out;
	size_t out_len, out_off;
	uint64_t idle_deadline; /* to send the request, or to read the reply (not while pending) */
	bool closed;
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
	c->idle_deadline = mono_ms() + PRLOCKD_CLIENT_IDLE_MS;
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

static void reply_released(struct client *c, const struct table_reply *t)
{
	struct reply rp;

	if (reply_begin(&rp, true) == 0) {
		reply_str(&rp, "device", t->dev);
		reply_str(&rp, "event", t->event);
		reply_key(&rp, "key", t->key);
		reply_send(c, &rp);
	}
}

static void reply_lease(struct daemon *dm, struct client *c, const struct table_reply *t)
{
	struct reply rp;

	if (reply_begin(&rp, true) < 0)
		return;
	reply_str(&rp, "device", t->dev);
	reply_str(&rp, "event", t->event);
	reply_key(&rp, "key", t->key);
	reply_str(&rp, "type", sgpr_type_to_name(t->type));
	json_key(&rp.j, "host_id");
	json_uint(&rp.j, dm->cfg.host_id);
	if (strcmp(t->event, "taken-over") == 0)
		reply_key(&rp, "victim", t->victim);
	if (t->waited) {
		json_key(&rp.j, "waited_ms");
		json_uint(&rp.j, t->waited_ms);
	}
	reply_send(c, &rp);
}

void control_reply(void *userdata, void *waiter, const struct table_reply *t)
{
	struct client *c = waiter;

	c->pending = false;
	switch (t->kind) {
	case TABLE_REPLY_LEASE:
		reply_lease(userdata, c, t);
		break;
	case TABLE_REPLY_RELEASED:
		reply_released(c, t);
		break;
	case TABLE_REPLY_ERROR:
		reply_error(c, t->error, "%s", t->message);
		break;
	}
}

/* ---- requests ------------------------------------------------------------ */

/* The request goes to the lease table, which answers through control_reply, now or later. */
static void to_table(struct client *c)
{
	c->answered = true;
	c->pending = true;
}

/* The entry of dev in the lease table; false if none. */
static bool find_entry(struct daemon *dm, const char *dev, struct table_info *ret)
{
	for (size_t i = 0; i < table_count(dm->table); i++) {
		table_info(dm->table, i, ret);
		if (strcmp(ret->dev, dev) == 0)
			return true;
	}
	return false;
}

static int reply_protect_refused(struct client *c, int r, const char *dev, uid_t owner)
{
	if (r == -ENOENT)
		return reply_error(c, "not-held", "%s: not held by prlockd", dev);
	if (r == -EPERM)
		return reply_error(c, "denied",
				   "%s: the lease belongs to uid %u; only it or root may protect "
				   "processes under it",
				   dev, (unsigned)owner);
	if (r == -EDQUOT)
		return reply_error(
			c, "busy",
			"%s: uid %u protects %u live processes, the limit for a non-root "
			"uid",
			dev, (unsigned)c->cred.uid, TABLE_PROCS_PER_UID);
	return reply_error(c, "error", "out of memory");
}

static int req_protect(struct daemon *dm, struct client *c, const char *dev, const char *spid)
{
	unsigned long long start = 0;
	struct protected_proc p;
	struct table_info e;
	unsigned v;
	struct reply rp;
	int r;

	if (!find_entry(dm, dev, &e) || (e.state != ENTRY_HELD && e.state != ENTRY_ADOPTING))
		return reply_error(c, "not-held", "%s: not held by prlockd", dev);
	if (parse_uint(spid, 2, 0x7fffffff, &v) < 0 || (pid_t)v == getpid())
		return reply_error(c, "usage", "protect: '%s' is not a process id", spid);
	p.pid = (pid_t)v;
	/* before prlockd holds the process (a pidfd): a refused peer must not make it hold any */
	r = table_may_protect(dm->table, dev, c->cred.uid);
	if (r < 0)
		return reply_protect_refused(c, r, dev, e.owner);
	r = proc_starttime(p.pid, &start);
	if (proc_classify(r, start, start) == PROC_GONE)
		return reply_error(c, "usage", "protect: no process %s", spid);
	if (r < 0)
		return reply_error(c, "error", "protect: cannot read /proc/%s/stat: %s", spid,
				   strerror(-r));
	p.start = start;
	/*
	 * Only a process the peer may signal itself (not one that merely runs with its effective
	 * uid, as a root daemon does while it serves that user): the pidfd's start time, checked
	 * below, is that of the process read here.
	 */
	r = c->cred.uid ? proc_signallable_by(p.pid, c->cred.uid) : 1;
	if (r == -ENOENT || r == -ESRCH)
		return reply_error(c, "usage", "protect: no process %s", spid);
	if (r < 0)
		return reply_error(c, "error", "protect: cannot read /proc/%s/status: %s", spid,
				   strerror(-r));
	if (r == 0)
		return reply_error(c, "denied",
				   "protect: process %s is not yours (uid %u may not signal it)",
				   spid, (unsigned)c->cred.uid);
	/* the pidfd, checked against the start time read above: PID reuse is caught here */
	r = procs_hold(dm->procs, &p);
	if (r == -ESRCH)
		return reply_error(c, "usage", "protect: no process %s", spid);
	if (r < 0)
		return reply_error(c, "error", "protect: cannot hold process %s (pidfd): %s", spid,
				   strerror(-r));
	r = table_protect(dm->table, dev, c->cred.uid, &p);
	if (r < 0)
		return reply_protect_refused(c, r, dev, e.owner);
	if (reply_begin(&rp, true) < 0)
		return 0;
	reply_str(&rp, "device", dev);
	json_key(&rp.j, "pid");
	json_uint(&rp.j, (unsigned)p.pid);
	reply_send(c, &rp);
	return 0;
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
	for (size_t i = 0; i < table_count(dm->table); i++) {
		struct table_info e;
		uint64_t last;

		table_info(dm->table, i, &e);
		last = e.last_renewal_ms; /* snapshots: a worker may own the lease */
		json_object_begin(&rp.j);
		reply_str(&rp, "device", e.dev);
		reply_str(&rp, "state", entry_state_name(e.state));
		reply_str(&rp, "type", sgpr_type_to_name(e.type));
		json_key(&rp.j, "owner");
		json_uint(&rp.j, (unsigned)e.owner);
		reply_key(&rp, "key", e.key);
		reply_key(&rp, "holder", e.holder);
		json_key(&rp.j, "last_renewal_ms_ago");
		if (last && e.state == ENTRY_HELD)
			json_uint(&rp.j, now - last);
		else
			json_null(&rp.j);
		json_key(&rp.j, "unreachable");
		json_bool(&rp.j, e.unreachable);
		/* a worker runs a command on it now (for busy_ms); late_ms: past its due time */
		json_key(&rp.j, "busy");
		json_bool(&rp.j, e.busy);
		json_key(&rp.j, "busy_ms");
		json_uint(&rp.j, e.busy ? now - e.job_start : 0);
		json_key(&rp.j, "late_ms");
		json_uint(&rp.j,
			  e.state != ENTRY_LOST && e.state != ENTRY_ACQUIRING && e.next_due < now
				  ? now - e.next_due
				  : 0);
		if (e.state == ENTRY_LOST)
			reply_str(&rp, "lost_event", sgpr_lease_event_name(e.lost_event) ?: "lost");
		json_key(&rp.j, "protected");
		json_array_begin(&rp.j);
		for (size_t k = 0; k < e.n_procs; k++)
			if (procs_status(dm->procs, &e.procs[k]) != PROC_GONE)
				json_uint(&rp.j, (unsigned)e.procs[k].pid);
		json_array_end(&rp.j);
		json_object_end(&rp.j);
	}
	json_array_end(&rp.j);
	return reply_send(c, &rp);
}

/* The lease's owner is the peer: its groups decide which device nodes it may name. */
static int req_acquire(struct daemon *dm, struct client *c, const char *dev, int type, bool wait,
		       unsigned wait_ms)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);
	struct table_cred cred = {.uid = c->cred.uid, .gid = c->cred.gid, .groups = groups};

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		cred.n_groups = len / sizeof(gid_t);
		cred.groups_known = true;
	}
	to_table(c);
	table_acquire(dm->table, c, &cred, dev, type, wait, wait_ms);
	return 0;
}

static int dispatch(struct daemon *dm, struct client *c, char **tok, int n);

static int handle_request(struct daemon *dm, struct client *c, char *line)
{
	char *tok[6];
	int n = control_split(line, tok, 6);

	if (n <= 0)
		return reply_error(c, "usage",
				   "malformed request (one line: VERB ARG..., see "
				   "prlockd(8))");
	return dispatch(dm, c, tok, n);
}

static int dispatch(struct daemon *dm, struct client *c, char **tok, int n)
{
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
	if (strcmp(tok[0], "held") == 0 && n == 1) {
		struct reply rp;

		if (reply_begin(&rp, true) < 0)
			return 0;
		json_key(&rp.j, "held"); /* what prlockd-pr-helper refuses guest PR OUT on */
		prh_held_json(dm, &rp.j);
		return reply_send(c, &rp);
	}
	if (strcmp(tok[0], "release") == 0 && n == 2) {
		to_table(c);
		table_release(dm->table, c, c->cred.uid, tok[1]);
		return 0;
	}
	if (strcmp(tok[0], "protect") == 0 && n == 3)
		return req_protect(dm, c, tok[1], tok[2]);
	if (strcmp(tok[0], "acquire") == 0 && n >= 2) {
		int type = dm->cfg.type ?: SGPR_TYPE_WERO;
		unsigned wait_ms;
		char err[PRLOCKD_REQUEST_MAX + 96];
		bool wait;

		if (control_parse_acquire(tok, n, &type, &wait, &wait_ms, err, sizeof(err)) < 0)
			return reply_error(c, "usage", "%s", err);
		return req_acquire(dm, c, tok[1], type, wait, wait_ms);
	}
	return reply_error(
		c, "usage",
		"unknown request '%s' (ping, status, held, acquire DEV [TYPE] [--wait S], release "
		"DEV, protect DEV PID)",
		tok[0]);
}

/* ---- the socket -------------------------------------------------------------- */

/*
 * What sits at the control path: nothing, or a socket nobody answers on (left by a dead
 * prlockd), which is removed. Anything else is not ours to remove.
 */
static int control_path_free(const char *path, const struct sockaddr_un *sa)
{
	_cleanup_close_ int probe = -1;
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_msg(LOG_ERR, "Control socket %s: cannot check it: %m", path);
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_msg(LOG_ERR, "Control socket %s: exists and is not a socket (%s); not removed",
			path,
			S_ISLNK(st.st_mode)   ? "a symbolic link"
			: S_ISDIR(st.st_mode) ? "a directory"
			: S_ISREG(st.st_mode) ? "a regular file"
					      : "another kind of file");
		return -EEXIST;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		log_msg(LOG_ERR, "Another prlockd listens on %s", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		log_msg(LOG_ERR, "Control socket %s: cannot remove the stale socket: %m", path);
		return -errno;
	}
	return 0;
}

int control_listen(struct daemon *dm)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *dir = NULL;
	struct stat st;
	char *slash;
	mode_t mask;
	int r;

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
	r = control_path_free(dm->control_path, &sa);
	if (r < 0)
		return r;
	/*
	 * Everyone may connect (mode 0666, set by the umask at bind, not by a chmod of a path):
	 * access is decided per peer (SO_PEERCRED), so that a refused peer gets a clear error
	 * line rather than EACCES. Single-threaded here: the umask is the process's.
	 */
	mask = umask(0111);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(mask);
	if (r < 0 || listen(fd, 64) < 0 || lstat(dm->control_path, &st) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to listen on %s: %m", dm->control_path);
		return r;
	}
	dm->control_ino = st.st_ino;
	dm->control_dev = st.st_dev;
	/* given up on EMFILE to accept and close one connection with an error line */
	dm->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	dm->listen_fd = TAKE_FD(fd);
	return 0;
}

static void client_free(struct daemon *dm, struct client *c)
{
	if (c->pending && !dm->quit) /* the table must not answer it any more */
		table_waiter_gone(dm->table, c);
	close(c->fd);
	free(c->out);
	free(c);
}

void control_close(struct daemon *dm)
{
	struct stat st;

	for (size_t i = 0; i < dm->n_clients; i++)
		client_free(dm, dm->clients[i]);
	free(dm->clients);
	dm->clients = NULL;
	dm->n_clients = 0;
	if (dm->listen_fd >= 0) {
		close(dm->listen_fd);
		/* only our own socket: whatever replaced it is not ours to remove */
		if (lstat(dm->control_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_ino == dm->control_ino && st.st_dev == dm->control_dev)
			unlink(dm->control_path);
		dm->listen_fd = -1;
	}
	if (dm->reserve_fd >= 0)
		close(dm->reserve_fd);
	dm->reserve_fd = -1;
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

/*
 * Whether a new peer gets a slot; if not, its error line is queued in c, the reason for the log
 * is in why, and ret_busy tells a peer over a limit. Slots: PRLOCKD_CLIENTS_* (prlockd.h).
 */
static bool admit(struct daemon *dm, struct client *c, const char **why, bool *ret_busy)
{
	socklen_t len = sizeof(c->cred);
	size_t mine = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		*why = "no credentials";
		reply_error(c, "error", "prlockd cannot identify the peer (SO_PEERCRED): %s",
			    strerror(errno));
		return false;
	}
	if (!peer_allowed(dm, c->fd, &c->cred)) {
		*why = "not allowed";
		reply_error(c, "denied",
			    "permission denied: uid %u is neither root nor a member of %s%s%s",
			    (unsigned)c->cred.uid, dm->has_group ? "group '" : "",
			    dm->has_group ? dm->cfg.group : "the prlockd group (none configured)",
			    dm->has_group ? "'" : "");
		return false;
	}
	if (c->cred.uid == 0) {
		if (dm->n_clients < PRLOCKD_CLIENTS_MAX)
			return true;
	} else if (dm->n_clients < PRLOCKD_CLIENTS_MAX - PRLOCKD_CLIENTS_ROOT_RESERVE) {
		for (size_t i = 0; i < dm->n_clients; i++)
			mine += dm->clients[i]->cred.uid == c->cred.uid;
		if (mine < PRLOCKD_CLIENTS_PER_UID)
			return true;
		*why = "over the per-uid limit";
		*ret_busy = true;
		reply_error(c, "busy",
			    "too many connections: uid %u has %u open to prlockd (the limit); "
			    "retry when one has ended",
			    (unsigned)c->cred.uid, PRLOCKD_CLIENTS_PER_UID);
		return false;
	}
	*why = "over the global limit";
	*ret_busy = true;
	reply_error(c, "busy",
		    "too many connections to prlockd (%zu open; %u at most, %u of them for root "
		    "only); retry later",
		    dm->n_clients, PRLOCKD_CLIENTS_MAX, PRLOCKD_CLIENTS_ROOT_RESERVE);
	return false;
}

/*
 * A refused peer: its error line at once (best effort, non-blocking; a fresh socket's buffer
 * takes it), what it sent already read so that it sees the line and then EOF, and closed.
 */
static void refuse(struct client *c)
{
	if (c->out)
		(void)send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
	close(c->fd);
	free(c->out);
}

/*
 * accept() failed for want of file descriptors (EMFILE, ENFILE) or memory: pending peers
 * would make poll() return at once, forever. Give up the reserve descriptor to accept and
 * refuse a few, then rest the listener for PRLOCKD_ACCEPT_PAUSE_MS.
 */
static void accept_exhausted(struct daemon *dm, int err)
{
	log_limited(&dm->emfile_log, LOG_ERR,
		    "control: cannot accept a connection: %s; refusing pending connections",
		    strerror(err));
	for (int i = 0; i < 32 && dm->reserve_fd >= 0; i++) {
		struct client c = {};

		close(dm->reserve_fd);
		c.fd = accept4(dm->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c.fd >= 0) {
			reply_error(&c, "busy",
				    "prlockd is out of file descriptors (%s); retry later",
				    strerror(err));
			refuse(&c);
		}
		dm->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (c.fd < 0)
			break;
	}
	dm->accept_paused_until = mono_ms() + PRLOCKD_ACCEPT_PAUSE_MS;
}

/* At most 64 per call: a peer that reconnects at once must not keep the main loop here. */
static void accept_clients(struct daemon *dm)
{
	if (dm->reserve_fd < 0) /* taken by another thread when it was given up last time */
		dm->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < 64; i++) {
		struct client peer = {}, *c, **n;
		const char *why = "";
		bool busy = false;

		peer.fd = accept4(dm->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (peer.fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_exhausted(dm, errno);
			return;
		}
		if (!admit(dm, &peer, &why, &busy)) {
			/* apart: a flood of strangers does not hide a member over its limit */
			if (busy && peer.cred.uid) /* a member's own flood: its own limit */
				log_uid(dm, peer.cred.uid, LOG_WARNING,
					"control: refused uid %u gid %u pid %d: %s",
					(unsigned)peer.cred.uid, (unsigned)peer.cred.gid,
					(int)peer.cred.pid, why);
			else
				log_limited(busy ? &dm->busy_log : &dm->refused_log, LOG_WARNING,
					    "control: refused uid %u gid %u pid %d: %s",
					    (unsigned)peer.cred.uid, (unsigned)peer.cred.gid,
					    (int)peer.cred.pid, why);
			refuse(&peer);
			continue;
		}
		c = malloc(sizeof(*c));
		n = c ? realloc(dm->clients, (dm->n_clients + 1) * sizeof(*n)) : NULL;
		if (!n) {
			free(c);
			reply_error(&peer, "error", "prlockd is out of memory");
			refuse(&peer);
			return;
		}
		dm->clients = n;
		*c = peer;
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
		if (c->pending) {
			c->pending = false;
			table_waiter_gone(dm->table, c);
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
		if (!dm->clients[i]->pending && dm->clients[i]->idle_deadline < w)
			w = dm->clients[i]->idle_deadline;
	if (dm->accept_paused_until && dm->accept_paused_until < w)
		w = dm->accept_paused_until;
	/* the "suppressed" lines of the rate-limited messages */
	if (dm->refused_log.suppressed && dm->refused_log.begin + PRLOCKD_LOG_INTERVAL_MS < w)
		w = dm->refused_log.begin + PRLOCKD_LOG_INTERVAL_MS;
	if (dm->emfile_log.suppressed && dm->emfile_log.begin + PRLOCKD_LOG_INTERVAL_MS < w)
		w = dm->emfile_log.begin + PRLOCKD_LOG_INTERVAL_MS;
	if (dm->busy_log.suppressed && dm->busy_log.begin + PRLOCKD_LOG_INTERVAL_MS < w)
		w = dm->busy_log.begin + PRLOCKD_LOG_INTERVAL_MS;
	if (dm->state_log.suppressed && dm->state_log.begin + PRLOCKD_LOG_INTERVAL_MS < w)
		w = dm->state_log.begin + PRLOCKD_LOG_INTERVAL_MS;
	if (log_uid_next(dm) < w)
		w = log_uid_next(dm);
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

#define NFIXED 4 /* signals, listening socket, pool eventfd, paths; then the clients */

void serve(struct daemon *dm, int timeout_ms)
{
	size_t n = dm->n_clients, i, k;
	struct pollfd *pfd = calloc(n + NFIXED, sizeof(*pfd));
	uint64_t now;

	if (!pfd)
		return;
	pfd[0] = (struct pollfd){.fd = dm->signal_fd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = dm->listen_fd, .events = POLLIN};
	if (dm->accept_paused_until && mono_ms() < dm->accept_paused_until)
		pfd[1].fd = -1; /* out of file descriptors: rest, do not spin on the listener */
	else
		dm->accept_paused_until = 0;
	/* jobs done: the eventfd only wakes poll; leases_collect() takes them */
	pfd[2] = (struct pollfd){.fd = dm->pool_fd, .events = POLLIN};
	pfd[3] = (struct pollfd){.fd = dm->paths_fd, .events = POLLIN};
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
	if (pfd[3].revents)
		paths_event(dm);
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

		if (!c->pending && now >= c->idle_deadline)
			c->closed = true; /* silent, or not reading its reply */
		if (c->closed)
			client_free(dm, c);
		else
			dm->clients[k++] = c;
	}
	dm->n_clients = k;
	if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN))
		accept_clients(dm);
	log_limit_flush(&dm->refused_log);
	log_limit_flush(&dm->emfile_log);
	log_limit_flush(&dm->busy_log);
	log_limit_flush(&dm->state_log);
	log_uid_flush(dm);
	free(pfd);
}
