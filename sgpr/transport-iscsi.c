/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iscsi:// transport through libiscsi (1.19 API).
 *
 * Sessions. An initiator port is the initiator name plus the ISID (RFC 7143
 * 4.4.2, 10.12.5) and a registration belongs to one I_T nexus (SPC-4
 * 5.12.4). A second login with the same name and ISID is session
 * reinstatement (RFC 7143 6.3.5): a compliant target (LIO) ends the first
 * session. So a process has ONE session per (initiator IQN, ISID, portal,
 * target IQN), shared by every struct sgpr_dev of that target (one per LUN):
 * refcounted, logged in at the first open, logged out at the last close. Its
 * mutex is held across each login and each command round trip, so the LUNs of
 * one target are served one command at a time (a handle is used by one thread
 * at a time, several handles of one target by several threads). A command
 * waits for the mutex at most its own timeout (-ETIMEDOUT, nothing sent),
 * then gets its full timeout on the wire.
 *
 * Every login bumps the session's generation. A handle remembers the
 * generation it last saw; when the session was lost (a connection loss, or a
 * command that timed out on ANY LUN ends the session for all of them) or
 * logged in again by another LUN, execute() answers -ENOTCONN and the dev
 * layer calls reconnect(): it logs in again if nobody has yet (same IQN, same
 * ISID), or adopts the newer login. Either way the PR layer (pr.c) then
 * re-establishes this handle's own registration (tgtd ties registrations to
 * the session), so every LUN of a session recovers, not only the one that
 * noticed the loss. A handle has one nexus: execute() gets path NULL.
 *
 * Between processes of one host: handles opened with opts.observer_isid (the
 * read-only verbs of prlock) log in with a distinct ISID, so they never
 * reinstate the session of the process that registers (prlockd, prlock run).
 * docs/SESSIONS.md.
 *
 * The library's own blocking helpers are not used: every phase (name lookup,
 * TCP connect, login, LUN probe, each command, logout) runs in our own poll
 * loop against a CLOCK_MONOTONIC deadline, calling iscsi_service() at least
 * every ISCSI_SERVICE_MS. libiscsi's automatic reconnect is off: it would log
 * in with a new random ISID and replay in-flight commands on the new nexus.
 * After a lost connection or a timed-out command the context is destroyed and
 * execute() answers -ENOTCONN until reconnect() has logged in again.
 *
 * Errors of open() and reconnect():
 *   -EINVAL        malformed URL, no initiator IQN
 *   -EHOSTUNREACH  the host name does not resolve, or the network/host is
 *                  unreachable (ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ...)
 *   -ECONNREFUSED  nothing listens on the portal
 *   -ECONNRESET    the target closed the connection during login
 *   -ETIMEDOUT     connect_timeout_ms elapsed (lookup, connect, login or probe)
 *   -ENXIO         login status 02/03 "target not found" or 02/04 "target
 *                  removed", or the LUN does not exist (INQUIRY peripheral
 *                  qualifier 011b, or CHECK CONDITION 25/00). tgtd answers
 *                  02/03 for an initiator its ACL refuses as well, so on tgtd
 *                  -ENXIO means "no such target, or not allowed to see it".
 *   -EACCES        any other login status of class 02 (initiator error:
 *                  authentication/authorization failure, ...)
 *   -EHOSTDOWN     login status 03/01 "service unavailable": LIO's answer for
 *                  a target name it does not have (or one being set up or torn
 *                  down, as in a restart of the target service)
 *   -ECOMM         any other login status of class 03 (target error) or a
 *                  redirect, or the login could not be sent
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "sgpr-private.h"

#define ISCSI_SERVICE_MS 250 /* iscsi_service() at least this often */
#define ISCSI_LOGOUT_MS 1000 /* close(): wait this long for the logout response */
#define ISCSI_CDB_MAX 16

/*
 * One iSCSI session (I_T nexus), shared by the handles of its target.
 * refs, next: under sessions_lock. Everything else: under lock (the login
 * and command state is written by the libiscsi callbacks, which run inside
 * iscsi_service() under lock too).
 */
struct iscsi_session {
	struct iscsi_session *next;
	unsigned refs;
	char *initiator;
	struct sgpr_iscsi_url url; /* portal and target; url.lun unused */
	uint32_t isid_rnd;	   /* ISID bytes 1..3, see sgpr_iscsi_isid() */
	uint16_t isid_qual;	   /* ISID bytes 4..5 */

	pthread_mutex_t lock;
	struct iscsi_context *ctx; /* NULL: no session, execute() returns -ENOTCONN */
	uint64_t generation;	   /* successful logins so far */

	/* Login progress, written by the libiscsi callbacks. */
	bool connecting;
	bool login_done;
	int login_error;
	int sock_err;

	/* The one command in flight. */
	bool cmd_done;
	int cmd_status;

	bool logout_done;
};

/* Per handle (LUN). */
struct sgpr_iscsi {
	struct iscsi_session *s;
	struct sgpr_iscsi_url url;
	uint64_t generation; /* of s when this handle last logged in or recovered */
};

/* The sessions of this process. */
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iscsi_session *sessions;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Take s->lock, waiting at most until deadline (CLOCK_MONOTONIC ms): 0 or -ETIMEDOUT. */
static int session_lock(struct iscsi_session *s, uint64_t deadline)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline / 1000),
			      .tv_nsec = (long)(deadline % 1000) * 1000000};
	int r = pthread_mutex_clocklock(&s->lock, CLOCK_MONOTONIC, &ts);

	return r == 0 ? 0 : r == ETIMEDOUT ? -ETIMEDOUT : -r;
}

static void session_unlock(struct iscsi_session *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* ---- event loop --------------------------------------------------------- */

/*
 * libiscsi writes data-out payloads with writev(), which raises SIGPIPE on a
 * closed connection. Keep it away from the process: block it while the
 * context is serviced and swallow one that we caused.
 */
static int service(struct iscsi_context *ctx, int revents)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int r;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);

	r = iscsi_service(ctx, revents);

	if (!was_pending) {
		const struct timespec zero = {};

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
				;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/*
 * Drive the context until *done turns true or the deadline passes.
 * Returns 0, -ETIMEDOUT, or -ENOTCONN when iscsi_service() gave up on the
 * connection (the callbacks may have run and set *done before that).
 */
static int run_until(struct iscsi_session *p, const bool *done, uint64_t deadline)
{
	while (!*done) {
		uint64_t now = mono_ms();
		struct pollfd pfd = {};
		int wait, r;

		if (now >= deadline)
			return -ETIMEDOUT;
		wait = deadline - now > ISCSI_SERVICE_MS ? ISCSI_SERVICE_MS : (int)(deadline - now);

		pfd.fd = iscsi_get_fd(p->ctx);
		pfd.events = (short)iscsi_which_events(p->ctx);
		if (pfd.fd < 0 || pfd.events == 0) {
			/* libiscsi wants us to wait (>= 100 ms) before asking again */
			r = poll(NULL, 0, wait < 100 ? wait : 100);
		} else {
			r = poll(&pfd, 1, wait);
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p->connecting && (pfd.revents & (POLLERR | POLLHUP))) {
			/* libiscsi keeps the errno only in a string; read it first */
			socklen_t len = sizeof(int);
			int err = 0;

			if (getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
				p->sock_err = err;
		}
		if (service(p->ctx, pfd.revents) < 0)
			return -ENOTCONN;
	}
	return 0;
}

static void session_end(struct iscsi_session *p)
{
	if (p->ctx) {
		/* cancels whatever is queued: callbacks run with SCSI_STATUS_CANCELLED */
		iscsi_destroy_context(p->ctx);
		p->ctx = NULL;
	}
}

/* ---- login -------------------------------------------------------------- */

static int connect_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return -ECONNREFUSED;
	case ETIMEDOUT:
		return -ETIMEDOUT;
	case ECONNRESET:
		return -ECONNRESET;
	default:
		/* ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL, EPERM... */
		return -EHOSTUNREACH;
	}
}

/* libiscsi reports the login status only in its error text: sgpr_iscsi_login_errno() */
static int login_errno(struct iscsi_context *ctx)
{
	return sgpr_iscsi_login_errno(iscsi_get_error(ctx));
}

static void login_cb(struct iscsi_context *ctx, int status, void *command_data, void *private_data)
{
	struct iscsi_session *p = private_data;

	p->login_done = true;
	p->login_error = status == SCSI_STATUS_GOOD ? 0 : login_errno(ctx);
}

static void connect_cb(struct iscsi_context *ctx, int status, void *command_data,
		       void *private_data)
{
	struct iscsi_session *p = private_data;

	p->connecting = false;
	if (status != SCSI_STATUS_GOOD) {
		p->login_done = true;
		p->login_error = connect_errno(p->sock_err);
		return;
	}
	if (iscsi_login_async(ctx, login_cb, p) != 0) {
		p->login_done = true;
		p->login_error = -ECOMM;
	}
}

/*
 * Numeric "addr:port" / "[addr]:port" for libiscsi, which resolves with a
 * blocking getaddrinfo(). Host names are looked up here with getaddrinfo_a()
 * under the deadline. If a lookup cannot be cancelled when the deadline
 * passes, its request block is left to the resolver thread (a small leak on
 * that error path only, never a use after free).
 */
struct gai_req {
	struct gaicb cb;
	struct gaicb *list[1];
	struct addrinfo hints;
	char name[];
};

static int resolve_portal(struct iscsi_session *p, uint64_t deadline, char *buf, size_t len)
{
	struct gai_req *req;
	struct in_addr a4;
	char addr[NI_MAXHOST];
	int r;

	if (p->url.host_is_v6) {
		snprintf(buf, len, "[%s]:%u", p->url.host, p->url.port);
		return 0;
	}
	if (inet_pton(AF_INET, p->url.host, &a4) == 1) {
		snprintf(buf, len, "%s:%u", p->url.host, p->url.port);
		return 0;
	}

	/* one block holding everything the resolver thread may still touch */
	req = calloc(1, sizeof(*req) + strlen(p->url.host) + 1);
	if (!req)
		return -ENOMEM;
	strcpy(req->name, p->url.host);
	req->hints.ai_family = AF_UNSPEC;
	req->hints.ai_socktype = SOCK_STREAM;
	req->cb.ar_name = req->name;
	req->cb.ar_request = &req->hints;
	req->list[0] = &req->cb;
	r = getaddrinfo_a(GAI_NOWAIT, req->list, 1, NULL);
	if (r != 0) {
		free(req);
		return r == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH; /* lookup not started */
	}
	for (;;) {
		uint64_t now = mono_ms();
		struct timespec ts;
		const struct gaicb *const *wait_list = (const struct gaicb *const *)req->list;

		r = gai_error(&req->cb);
		if (r != EAI_INPROGRESS)
			break;
		if (now >= deadline) {
			int c = gai_cancel(&req->cb);

			if (c == EAI_ALLDONE)
				continue; /* finished meanwhile: take the answer */
			if (c == EAI_CANCELED)
				free(req);
			return -ETIMEDOUT;
		}
		ts.tv_sec = (time_t)((deadline - now) / 1000);
		ts.tv_nsec = (long)((deadline - now) % 1000) * 1000000;
		gai_suspend(wait_list, 1, &ts);
	}
	if (r == 0) {
		struct addrinfo *ai;

		/* prefer IPv4, as libiscsi does with the first answer of a v4 host */
		for (ai = req->cb.ar_result; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET)
				break;
		if (!ai)
			ai = req->cb.ar_result;
		r = ai ? getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0,
				     NI_NUMERICHOST)
		       : EAI_NONAME;
		if (r == 0)
			snprintf(buf, len, ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
				 p->url.port);
		freeaddrinfo(req->cb.ar_result);
	}
	free(req);
	switch (r) {
	case 0:
		return 0;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -ETIMEDOUT;
	default:
		/* EAI_NONAME, EAI_NODATA, EAI_FAIL...: documented as unreachable */
		return -EHOSTUNREACH;
	}
}

/*
 * Log p in (again), under p->lock; d is the handle that asked (its options
 * and log function). A first login is logged at LOG_DEBUG, a new login of a
 * session that had one at LOG_NOTICE: every handle of the session then
 * re-checks its registration.
 */
static int session_login(struct sgpr_dev *d, struct iscsi_session *p, uint64_t deadline)
{
	char portal[NI_MAXHOST + 16] = "";
	const char *err;
	int r;

	session_end(p);
	r = resolve_portal(p, deadline, portal, sizeof(portal));
	if (r < 0)
		return r;

	p->ctx = iscsi_create_context(d->opts.initiator);
	if (!p->ctx)
		return -ENOMEM;
	/* LIBISCSI_DEBUG in the environment installs a stderr logger: the library stays silent */
	iscsi_set_log_fn(p->ctx, NULL);
	iscsi_set_log_level(p->ctx, 0);
	if (iscsi_set_targetname(p->ctx, p->url.target_iqn) != 0 ||
	    iscsi_set_session_type(p->ctx, ISCSI_SESSION_NORMAL) != 0 ||
	    iscsi_set_header_digest(p->ctx, ISCSI_HEADER_DIGEST_NONE) != 0 ||
	    iscsi_set_isid_random(p->ctx, p->isid_rnd, p->isid_qual) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	iscsi_set_noautoreconnect(p->ctx, 1);
	iscsi_set_timeout(p->ctx, (int)(d->opts.connect_timeout_ms / 1000 + 2));

	p->connecting = true;
	p->login_done = false;
	p->login_error = 0;
	p->sock_err = 0;
	if (iscsi_connect_async(p->ctx, portal, connect_cb, p) != 0) {
		/* connect() failed at once; libiscsi leaves errno alone on that path */
		r = connect_errno(errno);
		goto fail;
	}
	r = run_until(p, &p->login_done, deadline);
	if (p->login_done)
		r = p->login_error;
	else if (r == -ENOTCONN)
		r = p->connecting ? connect_errno(p->sock_err) : -ECONNRESET;
	if (r < 0)
		goto fail;
	p->generation++;
	sgpr_log(d, p->generation > 1 ? LOG_NOTICE : LOG_DEBUG,
		 "iscsi: %s %s at %s, isid 0x80%06x%04x (login %llu of this session)",
		 p->generation > 1 ? "logged in again to" : "logged in to", p->url.target_iqn,
		 portal, (unsigned)p->isid_rnd, (unsigned)p->isid_qual,
		 (unsigned long long)p->generation);
	return 0;
fail:
	err = p->ctx ? iscsi_get_error(p->ctx) : NULL;
	if (!err)
		err = "";
	sgpr_log(d, LOG_DEBUG, "iscsi: login to %s at %s failed: %s (socket error %d; %.*s)",
		 p->url.target_iqn, portal, strerror(-r), p->sock_err, (int)strcspn(err, "\n"),
		 err);
	session_end(p);
	return r;
}

/* ---- commands ----------------------------------------------------------- */

static void cmd_cb(struct iscsi_context *ctx, int status, void *command_data, void *private_data)
{
	struct iscsi_session *p = private_data;

	p->cmd_done = true;
	p->cmd_status = status;
}

static void fill_status(const struct sgpr_cmd *cmd, struct scsi_task *task, int status,
			struct sgpr_status *ret)
{
	size_t got = 0;

	ret->answered = true;
	ret->status = (uint8_t)status;
	ret->sense_valid = false;
	ret->sense_len = 0;
	ret->resid = 0;

	if (status == SCSI_STATUS_CHECK_CONDITION) {
		/* iSCSI response data segment: 2-byte SenseLength, then the sense bytes */
		if (task->datain.data && task->datain.size >= 2) {
			size_t n = sgpr_get_be16(task->datain.data);

			if (n > (size_t)task->datain.size - 2)
				n = (size_t)task->datain.size - 2;
			if (n > SGPR_SENSE_MAX)
				n = SGPR_SENSE_MAX;
			memcpy(ret->sense, task->datain.data + 2, n);
			ret->sense_len = (uint16_t)n;
		}
		return;
	}
	if (cmd->dir == SGPR_DIR_IN && task->datain.data && task->datain.size > 0) {
		got = (size_t)task->datain.size;
		if (got > cmd->data_len)
			got = cmd->data_len;
		memcpy(cmd->data, task->datain.data, got);
	}
	if (task->residual_status == SCSI_RESIDUAL_UNDERFLOW)
		ret->resid = task->residual;
	if (cmd->dir == SGPR_DIR_IN && cmd->data_len - got > ret->resid)
		ret->resid = (uint32_t)(cmd->data_len - got);
	if (ret->resid > cmd->data_len)
		ret->resid = (uint32_t)cmd->data_len;
}

/* One round trip to lun on session p (under p->lock), bounded by deadline. */
static int roundtrip(struct iscsi_session *p, int lun, const struct sgpr_cmd *cmd,
		     uint64_t deadline, struct sgpr_status *ret)
{
	static const int xfer[] = {
		[SGPR_DIR_NONE] = SCSI_XFER_NONE,
		[SGPR_DIR_IN] = SCSI_XFER_READ,
		[SGPR_DIR_OUT] = SCSI_XFER_WRITE,
	};
	struct iscsi_data out = {};
	unsigned char cdb[ISCSI_CDB_MAX];
	struct scsi_task *task;
	uint64_t now = mono_ms();
	int r, status;

	if (!p->ctx)
		return -ENOTCONN;
	if (cmd->cdb_len == 0 || cmd->cdb_len > ISCSI_CDB_MAX || cmd->data_len > INT_MAX ||
	    (unsigned)cmd->dir > SGPR_DIR_OUT || (cmd->data_len && !cmd->data))
		return -EINVAL;
	if (now >= deadline)
		return -ETIMEDOUT;

	memcpy(cdb, cmd->cdb, cmd->cdb_len);
	task = scsi_create_task((int)cmd->cdb_len, cdb, xfer[cmd->dir],
				cmd->dir == SGPR_DIR_NONE ? 0 : (int)cmd->data_len);
	if (!task)
		return -ENOMEM;
	if (cmd->dir == SGPR_DIR_OUT) {
		out.data = cmd->data;
		out.size = cmd->data_len;
	}

	/* libiscsi's own timer (1 s resolution, may fire up to 1 s early) is only a backstop */
	iscsi_set_timeout(p->ctx, (int)((deadline - now + 999) / 1000 + 1));
	p->cmd_done = false;
	p->cmd_status = SCSI_STATUS_ERROR;
	if (iscsi_scsi_command_async(p->ctx, lun, task, cmd_cb,
				     cmd->dir == SGPR_DIR_OUT ? &out : NULL, p) != 0) {
		scsi_free_scsi_task(task);
		session_end(p);
		return -ENOTCONN;
	}

	r = run_until(p, &p->cmd_done, deadline);
	status = p->cmd_status;
	if (!p->cmd_done || (status & ~0xff)) {
		/*
		 * No status from the target: lost connection (CANCELLED, ERROR),
		 * libiscsi's timer, or our deadline. The command may still run on the
		 * target; the session is in an unknown state, so end it. The task
		 * is freed only after the context, which may still reference it.
		 */
		session_end(p);
		scsi_free_scsi_task(task);
		if (r == -ETIMEDOUT || (p->cmd_done && status == SCSI_STATUS_TIMEOUT))
			return -ETIMEDOUT;
		return -ENOTCONN;
	}
	fill_status(cmd, task, status, ret);
	scsi_free_scsi_task(task);
	return 0;
}

/*
 * The LUN must exist: INQUIRY is answered for any LUN (SPC-4 6.6.2) and,
 * unlike TEST UNIT READY, does not consume the unit attentions the dev
 * layer wants to see. Peripheral qualifier 011b, or 25/00 LOGICAL UNIT NOT
 * SUPPORTED, means there is no such LUN.
 */
static int probe_lun(struct iscsi_session *p, int lun, uint64_t deadline)
{
	uint8_t cdb[6] = {0x12, 0, 0, 0, 96, 0};
	uint8_t buf[96] = {};
	struct sgpr_cmd cmd = {
		.cdb = cdb,
		.cdb_len = sizeof(cdb),
		.dir = SGPR_DIR_IN,
		.data = buf,
		.data_len = sizeof(buf),
	};
	struct sgpr_status st = {};
	int r;

	r = roundtrip(p, lun, &cmd, deadline, &st);
	if (r < 0)
		return r == -ENOTCONN ? -ECONNRESET : r;
	if (st.status == SCSI_STATUS_CHECK_CONDITION) {
		struct sgpr_sense s;

		if (sgpr_sense_parse(st.sense, st.sense_len, &s) == 0 && s.asc == 0x25 &&
		    s.ascq == 0x00)
			return -ENXIO;
		return 0; /* some other condition: for the dev layer to handle */
	}
	if (st.status == SCSI_STATUS_GOOD && st.resid < sizeof(buf) && (buf[0] >> 5) == 3)
		return -ENXIO;
	return 0;
}

/* ---- the sessions of this process --------------------------------------- */

static bool session_is(const struct iscsi_session *s, const char *initiator,
		       const struct sgpr_iscsi_url *u, uint32_t rnd, uint16_t qual)
{
	return s->isid_rnd == rnd && s->isid_qual == qual && strcmp(s->initiator, initiator) == 0 &&
	       s->url.port == u->port && s->url.host_is_v6 == u->host_is_v6 &&
	       strcasecmp(s->url.host, u->host) == 0 &&
	       strcmp(s->url.target_iqn, u->target_iqn) == 0;
}

static void session_free(struct iscsi_session *s)
{
	if (!s)
		return;
	session_end(s);
	sgpr_iscsi_url_done(&s->url);
	free(s->initiator);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The session of (initiator, ISID, portal, target) with one more reference; created if none. */
static int session_get(const char *initiator, const char *target, const struct sgpr_iscsi_url *u,
		       uint32_t rnd, uint16_t qual, struct iscsi_session **ret)
{
	struct iscsi_session *s;
	int r = 0;

	pthread_mutex_lock(&sessions_lock);
	for (s = sessions; s; s = s->next)
		if (session_is(s, initiator, u, rnd, qual))
			break;
	if (s) {
		s->refs++;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->initiator = strdup(initiator);
	r = s->initiator ? sgpr_iscsi_url_parse(target, &s->url) : -ENOMEM;
	if (r < 0) {
		session_free(s);
		goto out;
	}
	s->isid_rnd = rnd;
	s->isid_qual = qual;
	s->refs = 1;
	s->next = sessions;
	sessions = s;
out:
	pthread_mutex_unlock(&sessions_lock);
	if (r == 0)
		*ret = s;
	return r;
}

static void logout_cb(struct iscsi_context *ctx, int status, void *command_data, void *private_data)
{
	struct iscsi_session *p = private_data;

	p->logout_done = true;
}

/*
 * Drop a reference; the last one logs out (bounded by ISCSI_LOGOUT_MS) and frees the session.
 * The logout runs under sessions_lock, so that no new login with the same ISID overlaps it
 * (that would be a reinstatement on the target).
 */
static void session_put(struct sgpr_dev *d, struct iscsi_session *s)
{
	struct iscsi_session **pp;

	pthread_mutex_lock(&sessions_lock);
	if (--s->refs) {
		pthread_mutex_unlock(&sessions_lock);
		return;
	}
	for (pp = &sessions; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	if (s->ctx) {
		unsigned ms = d->opts.connect_timeout_ms;

		if (ms > ISCSI_LOGOUT_MS)
			ms = ISCSI_LOGOUT_MS;
		s->logout_done = false;
		if (iscsi_logout_async(s->ctx, logout_cb, s) == 0)
			(void)run_until(s, &s->logout_done, mono_ms() + ms);
	}
	pthread_mutex_unlock(&sessions_lock);
	session_free(s);
}

/* ---- ops ---------------------------------------------------------------- */

static void priv_free(struct sgpr_dev *d)
{
	struct sgpr_iscsi *p = d->priv;

	if (!p)
		return;
	if (p->s)
		session_put(d, p->s);
	sgpr_iscsi_url_done(&p->url);
	free(p);
	d->priv = NULL;
}

static int tr_open(struct sgpr_dev *d, const char *target, const void *arg, struct sgpr_opened *ret)
{
	struct sgpr_iscsi *p;
	uint64_t deadline;
	uint32_t rnd;
	uint16_t qual;
	int r;

	if (!target)
		return -EINVAL;
	if (!d->opts.initiator || !d->opts.initiator[0] ||
	    strlen(d->opts.initiator) >= SGPR_ISCSI_NAME_MAX)
		return -EINVAL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	d->priv = p;
	r = sgpr_iscsi_url_parse(target, &p->url);
	if (r < 0)
		goto fail;
	sgpr_iscsi_isid(d->opts.initiator, d->opts.host_id, d->opts.observer_isid, &rnd, &qual);
	r = session_get(d->opts.initiator, target, &p->url, rnd, qual, &p->s);
	if (r < 0)
		goto fail;

	deadline = mono_ms() + d->opts.connect_timeout_ms;
	r = session_lock(p->s, deadline);
	if (r < 0)
		goto fail;
	/* the first handle of the target logs in; so does any handle that finds it lost */
	if (!p->s->ctx)
		r = session_login(d, p->s, deadline);
	else
		sgpr_log(d, LOG_DEBUG, "iscsi: %s: on the session to %s (login %llu)", target,
			 p->s->url.target_iqn, (unsigned long long)p->s->generation);
	/* the LUN probe is per handle, on the shared session */
	if (r == 0)
		r = probe_lun(p->s, p->url.lun, deadline);
	p->generation = p->s->generation;
	session_unlock(p->s);
	if (r < 0)
		goto fail;
	ret->name_lun = true; /* one nexus, named by dev.c from page 0x83 */
	return 0;
fail:
	priv_free(d);
	return r;
}

static int tr_execute(struct sgpr_dev *d, const struct sgpr_path *path, const struct sgpr_cmd *cmd,
		      struct sgpr_status *ret)
{
	struct sgpr_iscsi *p = d->priv;
	unsigned ms = cmd->timeout_ms ? cmd->timeout_ms : d->opts.timeout_ms;
	int r;

	if (!ms)
		ms = SGPR_DEFAULT_TIMEOUT_MS;
	if (!p || !p->s)
		return -ENOTCONN;
	/* another LUN's command holds the session at most its timeout */
	r = session_lock(p->s, mono_ms() + ms);
	if (r < 0)
		return r;
	if (!p->s->ctx || p->s->generation != p->generation)
		r = -ENOTCONN; /* lost, or logged in again since: reconnect() and recover first */
	else
		r = roundtrip(p->s, p->url.lun, cmd, mono_ms() + ms, ret);
	session_unlock(p->s);
	return r;
}

static int tr_reconnect(struct sgpr_dev *d, const struct sgpr_path *path)
{
	struct sgpr_iscsi *p = d->priv;
	uint64_t deadline = mono_ms() + d->opts.connect_timeout_ms;
	int r;

	if (!p || !p->s)
		return -ENOTCONN;
	r = session_lock(p->s, deadline);
	if (r < 0)
		return r;
	if (p->s->ctx && p->s->generation != p->generation) {
		/* another LUN logged in again: this handle only recovers (pr.c) */
		sgpr_log(d, LOG_DEBUG, "%s: session logged in again by another LUN (login %llu)",
			 d->target, (unsigned long long)p->s->generation);
	} else if (!p->s->ctx) {
		/* a fresh context with the same IQN and ISID; iscsi_reconnect() would pick a new
		 * ISID */
		r = session_login(d, p->s, deadline);
	}
	if (r == 0)
		p->generation = p->s->generation;
	session_unlock(p->s);
	return r;
}

static void tr_close(struct sgpr_dev *d)
{
	priv_free(d);
}

const struct sgpr_transport_ops sgpr_transport_iscsi = {
	.name = "iscsi",
	.open = tr_open,
	.execute = tr_execute,
	.reconnect = tr_reconnect,
	.close = tr_close,
};
