/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pr-manager-helper server (prh-server.h): sockets, threads, device commands.
 *
 * Threads. The protocol is strictly one request at a time per connection, so the unit of work
 * is the connection: one accept thread, one thread per connection that reads a request, runs
 * it on the device itself and sends the reply, and one watchdog thread. No thread is started
 * per request and nothing is handed between threads on the way, so a request costs what its
 * device command costs plus a few system calls (recvmsg, fstat, fcntl for PR OUT, SG_IO,
 * close, send). The watchdog watches the connections that are inside a device call: when one
 * outlives request_timeout_ms it sends that connection's COMMAND TIMEOUT reply itself, leaves
 * the stuck thread behind ("abandoned": it finishes its call, frees what it holds and ends
 * without another word) and gives the socket to a fresh thread, so the client goes on. At most
 * max_abandoned threads may be abandoned at once: beyond that a timed-out connection is closed
 * instead of replaced, and every new request is answered BUSY without touching a device.
 * Threads: 2 + connections + abandoned, all bounded.
 *
 * Hostile clients. A connection must finish the feature handshake, and a request begun must
 * be received whole (CDB and parameter list), within handshake_timeout_ms, else it is closed;
 * between requests a connection may stay idle (QEMU's do). A reply the client does not read
 * within the same time closes it (SO_SNDTIMEO). Connections are limited in total, per uid and
 * per pid (SO_PEERCRED); one over a limit is closed at accept, logged at most once a second.
 *
 * Devices. Each connection keeps the handles it opened (up to CACHE_MAX, least recently used
 * out), keyed by the device number and type of the fd received: sgpr_dev_open_fd() validates a
 * device through sysfs and libudev and may send INQUIRY (VPD page 0x83) to name the LUN the
 * policy looks for; done once, a later request on the same device sends its CDB alone on the
 * handle's duplicate of the first fd. The duplicate pins the device: while it is open the
 * kernel cannot give the same number to another disk, so the identity cannot go stale under
 * the same key. A handle whose command failed without an answer from the device (removed,
 * transport gone) is dropped, and the next request opens the device again. PR OUT needs a
 * handle from a writable fd. dm-multipath maps are opened for every request (their path set
 * changes under multipathd) and CLEANUP drops the connection's handles.
 *
 * Multipath. A registration belongs to one I_T nexus, so on a dm-multipath map (a handle with
 * several paths):
 *   - REGISTER and REGISTER AND IGNORE EXISTING KEY are decoded (24-byte list) and sent to every
 *     path with sgpr_prout(). With SPEC_I_PT or ALL_TG_PT they cannot be repeated per path (the
 *     second path would register the same remote nexuses again, or find itself registered by
 *     ALL_TG_PT and conflict): CHECK CONDITION 05/26/00 INVALID FIELD IN PARAMETER LIST, logged.
 *     A list that is not 24 bytes: 05/1A/00 PARAMETER LIST LENGTH ERROR, as a device answers.
 *   - PREEMPT and PREEMPT AND ABORT of the sender's own key (SA RESERVATION KEY == RESERVATION
 *     KEY, the "move the reservation to this nexus" idiom QEMU's migrate-pr uses) remove that
 *     key from every other nexus, our other paths included (SPC-4 5.12.11.4.3): after GOOD the
 *     key is registered again on every path with REGISTER AND IGNORE EXISTING KEY.
 *   - Everything else (RESERVE, RELEASE, CLEAR, other PREEMPTs, REGISTER AND MOVE, PR IN) goes
 *     to one working path, the first one, so RESERVE and RELEASE of a Write Exclusive or
 *     Exclusive Access reservation (holder = one nexus) use the same path while it works.
 * Single-path devices get the received CDB (10 bytes of it: 0x5E/0x5F are 10-byte CDBs) as is.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "cleanup.h"
#include "prh-server.h"

#define PR_CDB_LEN 10 /* PERSISTENT RESERVE IN/OUT, SPC-4 6.15, 6.16 */
#define FDS_MAX 8     /* fds kept per request; more are closed at once (a violation anyway) */
#define DEVNODE_MAX 128
#define CACHE_MAX 4  /* device handles kept per connection */
#define RLOG_BURST 5 /* lines about single requests a second, whatever the clients send */

struct prh_server {
	struct prh_server_opts opts;
	int listen_fd, stop_fd;
	pthread_t accept_thread, watchdog_thread;
	bool accept_running, watchdog_running;

	pthread_mutex_t lock;
	pthread_cond_t idle;	 /* active or abandoned dropped */
	pthread_cond_t watchdog; /* a deadline was set, or the watchdog is to end (MONOTONIC) */
	bool stopping, stopped, watchdog_stop;
	unsigned refs;	    /* the caller and each abandoned thread */
	struct conn *conns; /* the active ones */
	struct prh_server_stats stats;
	/* rate limits: the last line of each kind, and the lines not logged since */
	struct timespec refusal_logged[3], busy_logged, violation_logged, accept_logged;
	unsigned long refusals_unlogged[3], busy_unlogged, violations_unlogged, accept_unlogged;
	struct timespec request_window; /* request lines: RLOG_BURST a second */
	unsigned request_lines;
	unsigned long requests_unlogged;
};

struct cached_dev {
	struct sgpr_dev *dev; /* NULL: free slot */
	dev_t rdev;
	bool is_char, writable;
	unsigned long used; /* LRU stamp */
	char devnode[DEVNODE_MAX];
};

struct conn {
	struct prh_server *s;
	struct conn *next;
	int fd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool handshaken; /* a replacement after a timeout starts at the next request */

	/* under s->lock: the watchdog's view */
	bool in_device, timed_out, owns_fd;
	struct timespec deadline;

	/* the connection thread's own */
	int fds[FDS_MAX];
	unsigned nfds; /* received with this request, all of them counted */
	unsigned long stamp;
	struct cached_dev cache[CACHE_MAX];
	struct prh_request req;
	struct prh_reply reply;
};

/* One command on an opened handle. */
struct exec {
	struct sgpr_dev *dev;
	struct prh_request *req; /* params handed to libsgpr as is */
	struct prh_reply *rep;
	bool gone;    /* failed without an answer from the device: drop the handle */
	int log_prio; /* 0: nothing to say */
	char note[200];
};

static void slog(struct prh_server *s, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void slog(struct prh_server *s, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!s->opts.log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->opts.log_fn(s->opts.log_userdata, prio, msg);
}

static void rlog(struct prh_server *s, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* slog() for a line about one request: at most RLOG_BURST a second, the rest counted. */
static void rlog(struct prh_server *s, int prio, const char *fmt, ...)
{
	unsigned long suppressed = 0;
	struct timespec now;
	char msg[512];
	size_t len;
	va_list ap;
	bool say;

	if (!s->opts.log_fn)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&s->lock);
	if ((long long)(now.tv_sec - s->request_window.tv_sec) * 1000000000LL +
		    (now.tv_nsec - s->request_window.tv_nsec) >=
	    1000000000LL) {
		s->request_window = now;
		s->request_lines = 0;
	}
	say = s->request_lines < RLOG_BURST;
	if (say) {
		s->request_lines++;
		suppressed = s->requests_unlogged;
		s->requests_unlogged = 0;
	} else {
		s->requests_unlogged++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!say)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	len = strlen(msg);
	if (suppressed)
		snprintf(msg + len, sizeof(msg) - len, " (%lu such lines not logged before)",
			 suppressed);
	s->opts.log_fn(s->opts.log_userdata, prio, msg);
}

static const char *req_name(const struct prh_request *req, char *buf, size_t len)
{
	const char *sa;

	switch (req->kind) {
	case PRH_REQ_PRIN:
		sa = sgpr_prin_sa_to_name(req->sa);
		snprintf(buf, len, "PR IN %s", sa ? sa : "(unknown service action)");
		break;
	case PRH_REQ_PROUT:
		sa = sgpr_prout_sa_to_name(req->sa);
		snprintf(buf, len, "PR OUT %s", sa ? sa : "(unknown service action)");
		break;
	default:
		snprintf(buf, len, "CLEANUP");
		break;
	}
	return buf;
}

/* ---- errors to replies -------------------------------------------------- */

void prh_reply_from_errno(struct prh_reply *reply, int r, const struct sgpr_status *st)
{
	if (st && st->answered && st->status != SGPR_STATUS_GOOD) {
		prh_reply_status(reply, st->status);
		if (st->status == SGPR_STATUS_CHECK_CONDITION)
			memcpy(reply->sense, st->sense,
			       st->sense_len < PRH_SENSE_SIZE ? st->sense_len : PRH_SENSE_SIZE);
		return;
	}
	/* qemu-pr-helper's errno mapping (ref 2.2), plus the open errors of sgpr_dev_open_fd() */
	switch (r) {
	case -EBADE:
		prh_reply_status(reply, SGPR_STATUS_RESERVATION_CONFLICT);
		break;
	case -EDOM:
		prh_reply_status(reply, SGPR_STATUS_TASK_SET_FULL);
		break;
	case -EREMOTEIO:
	case -ENOMEM:
		prh_reply_check_condition(reply, 0x04, 0x44, 0x00); /* INTERNAL TARGET FAILURE */
		break;
	case -ENODATA:
		prh_reply_check_condition(reply, 0x03, 0x11, 0x00); /* UNRECOVERED READ ERROR */
		break;
	case -ENOMEDIUM:
		prh_reply_check_condition(reply, 0x02, 0x3a, 0x00); /* MEDIUM NOT PRESENT */
		break;
	case -EINVAL:
		prh_reply_check_condition(reply, 0x05, 0x24, 0x00); /* INVALID FIELD IN CDB */
		break;
	case -ENOSPC:
		prh_reply_check_condition(reply, 0x07, 0x27, 0x07); /* SPACE ALLOCATION FAILED */
		break;
	case -ETIMEDOUT:
		/* COMMAND TIMEOUT DURING PROCESSING, qemu-pr-helper's answer to DID_TIME_OUT */
		prh_reply_check_condition(reply, 0x0b, 0x2e, 0x02);
		break;
	case -ENOTTY:
	case -ENOTBLK:
	case -ENODEV:
	case -ENOENT:
	case -ENXIO:
		prh_reply_check_condition(reply, 0x05, 0x25, 0x00); /* LOGICAL UNIT NOT SUPPORTED */
		break;
	default:
		prh_reply_check_condition(reply, 0x0b, 0x00, 0x06); /* I/O PROCESS TERMINATED */
		break;
	}
}

/* ---- the device command ----------------------------------------------------- */

static void exec_note(struct exec *j, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void exec_note(struct exec *j, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->note, sizeof(j->note), fmt, ap);
	va_end(ap);
	j->log_prio = prio;
}

static void run_prin(struct exec *j)
{
	struct prh_reply *rep = j->rep;
	struct sgpr_status st = {};
	size_t len = j->req->xfer;
	int r;

	r = sgpr_dev_execute(j->dev, j->req->cdb, PR_CDB_LEN, len ? SGPR_DIR_IN : SGPR_DIR_NONE,
			     len ? rep->data : NULL, len, &st);
	if (r < 0) {
		j->gone = !st.answered;
		prh_reply_from_errno(rep, r, &st);
		return;
	}
	prh_reply_good(rep);
	rep->sz = (uint32_t)(st.resid < len ? len - st.resid : 0);
}

static int run_prout_raw(struct exec *j, struct sgpr_status *st)
{
	size_t len = j->req->params_len;

	return sgpr_dev_execute(j->dev, j->req->cdb, PR_CDB_LEN, len ? SGPR_DIR_OUT : SGPR_DIR_NONE,
				len ? j->req->params : NULL, len, st);
}

static void run_prout_multipath(struct exec *j)
{
	const struct prh_request *req = j->req;
	struct prh_reply *rep = j->rep;
	struct sgpr_prout_params p;
	struct sgpr_status st = {};
	int r, dr;

	dr = prh_prout_decode(req, &p);
	switch (req->sa) {
	case SGPR_PROUT_REGISTER:
	case SGPR_PROUT_REGISTER_AND_IGNORE:
		if (req->params_len > 20 && (req->params[20] & PRH_PROUT_SPEC_I_PT)) {
			exec_note(j, LOG_WARNING,
				  "SPEC_I_PT registration cannot be applied on every path of a "
				  "multipath map, refused");
			prh_reply_check_condition(rep, 0x05, 0x26, 0x00);
			return;
		}
		if (dr < 0) {
			prh_reply_check_condition(rep, 0x05, 0x1a, 0x00);
			return;
		}
		if (p.all_tg_pt) {
			exec_note(j, LOG_WARNING,
				  "ALL_TG_PT registration cannot be applied on every path of a "
				  "multipath map, refused");
			prh_reply_check_condition(rep, 0x05, 0x26, 0x00);
			return;
		}
		r = sgpr_prout(j->dev, &p, &st);
		if (r < 0)
			prh_reply_from_errno(rep, r, &st);
		else
			prh_reply_good(rep);
		return;
	case SGPR_PROUT_PREEMPT:
	case SGPR_PROUT_PREEMPT_AND_ABORT:
		r = run_prout_raw(j, &st);
		if (r < 0) {
			prh_reply_from_errno(rep, r, &st);
			return;
		}
		prh_reply_good(rep);
		if (dr == 0 && p.key && p.key == p.sa_key) {
			/* own key preempted: our other paths lost their registration */
			r = sgpr_register(j->dev, 0, p.key, true, &st);
			if (r < 0)
				exec_note(j, LOG_WARNING,
					  "PREEMPT of the own key succeeded, but registering it "
					  "again on every path failed: %s",
					  strerror(-r));
		}
		return;
	default:
		r = run_prout_raw(j, &st);
		if (r < 0)
			prh_reply_from_errno(rep, r, &st);
		else
			prh_reply_good(rep);
		return;
	}
}

static void run_prout(struct exec *j)
{
	struct sgpr_prout_params p;
	struct sgpr_status st = {};
	int r;

	if (sgpr_dev_path_count(j->dev) > 1) {
		run_prout_multipath(j);
		return;
	}
	/*
	 * A REGISTER goes through sgpr_prout(), as on a multipath map, which sets APTPL where the
	 * LU can persist (PTPL_C), as for sgpr's own REGISTERs: the APTPL bit of the last REGISTER
	 * applies to the whole LU (SPC-4 5.12.5), so a guest's APTPL=0 would make a target restart
	 * drop sgpr's reservation and with it the fence of a preempted host.
	 */
	if ((j->req->sa == SGPR_PROUT_REGISTER || j->req->sa == SGPR_PROUT_REGISTER_AND_IGNORE) &&
	    prh_prout_decode(j->req, &p) == 0 && !p.spec_i_pt)
		r = sgpr_prout(j->dev, &p, &st);
	else
		r = run_prout_raw(j, &st);
	j->gone = r < 0 && !st.answered;
	if (r < 0)
		prh_reply_from_errno(j->rep, r, &st);
	else
		prh_reply_good(j->rep);
}

/*
 * The /dev node of a device number, from sysfs uevent DEVNAME, checked against the number. Only
 * a name for the logs and the policy hook: the device is used through the client's fd.
 */
static int devnode_of(dev_t rdev, bool is_char, char *buf, size_t len)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	struct stat st;
	bool found = false;

	snprintf(path, sizeof(path), "/sys/dev/%s/%u:%u/uevent", is_char ? "char" : "block",
		 major(rdev), minor(rdev));
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENODEV : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8) != 0)
			continue;
		line[strcspn(line, "\n")] = 0;
		if (!line[8] || strstr(line + 8, ".."))
			return -ENODEV;
		if ((size_t)snprintf(buf, len, "/dev/%s", line + 8) >= len)
			return -ENAMETOOLONG;
		found = true;
		break;
	}
	if (!found)
		return -ENODEV;
	if (stat(buf, &st) < 0)
		return -ENODEV;
	if ((is_char ? !S_ISCHR(st.st_mode) : !S_ISBLK(st.st_mode)) || st.st_rdev != rdev)
		return -ENODEV; /* our /dev is not the one the client's fd came from */
	return 0;
}

static struct timespec deadline_in(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static int ms_until(const struct timespec *t)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 86400000 ? 86400000 : (int)ms;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * Rate limit (s->lock held): true if a line may be logged now (at most one a second), with the
 * number of lines suppressed since the last one in *ret_suppressed.
 */
static bool ratelimit(struct timespec *last, unsigned long *suppressed,
		      unsigned long *ret_suppressed)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((last->tv_sec || last->tv_nsec) &&
	    (now.tv_sec - last->tv_sec) * 1000000000L + (now.tv_nsec - last->tv_nsec) <
		    1000000000L) {
		(*suppressed)++;
		return false;
	}
	*last = now;
	*ret_suppressed = *suppressed;
	*suppressed = 0;
	return true;
}

static int start_detached(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	r = pthread_attr_init(&attr);
	if (r)
		return -r;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -r;
}

static void server_destroy(struct prh_server *s)
{
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_cond_destroy(&s->watchdog);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Drop a reference to s, whose lock is held (and released here). */
static void server_unref_unlock(struct prh_server *s)
{
	bool last = --s->refs == 0;

	pthread_mutex_unlock(&s->lock);
	if (last)
		server_destroy(s);
}

/* ---- the handles of a connection -------------------------------------------- */

static void cache_clear(struct conn *c)
{
	for (unsigned i = 0; i < CACHE_MAX; i++)
		c->cache[i].dev = sgpr_dev_free(c->cache[i].dev);
}

static struct cached_dev *cache_find(struct conn *c, dev_t rdev, bool is_char, bool need_write)
{
	for (unsigned i = 0; i < CACHE_MAX; i++) {
		struct cached_dev *e = &c->cache[i];

		if (e->dev && e->rdev == rdev && e->is_char == is_char &&
		    (e->writable || !need_write)) {
			e->used = ++c->stamp;
			return e;
		}
	}
	return NULL;
}

/* A slot for a handle of rdev: its old one, a free one or the least recently used, emptied. */
static struct cached_dev *cache_slot(struct conn *c, dev_t rdev, bool is_char)
{
	struct cached_dev *e = NULL;

	for (unsigned i = 0; i < CACHE_MAX && !e; i++)
		if (c->cache[i].dev && c->cache[i].rdev == rdev && c->cache[i].is_char == is_char)
			e = &c->cache[i];
	for (unsigned i = 0; i < CACHE_MAX && !e; i++)
		if (!c->cache[i].dev)
			e = &c->cache[i];
	for (unsigned i = 0; i < CACHE_MAX; i++)
		if (!e || c->cache[i].used < e->used)
			e = &c->cache[i];
	e->dev = sgpr_dev_free(e->dev);
	return e;
}

static void *conn_main(void *arg);

/* ---- the watchdog ------------------------------------------------------------ */

/* Enter a device call: from now on the watchdog answers for us after deadline. */
static void device_enter(struct conn *c, const struct timespec *deadline)
{
	/*
	 * No wake-up needed: deadlines are request_timeout_ms after their request began, and the
	 * watchdog never sleeps longer than that, so it wakes before this one passes.
	 */
	pthread_mutex_lock(&c->s->lock);
	c->deadline = *deadline;
	c->in_device = true;
	pthread_mutex_unlock(&c->s->lock);
}

/* Leave a device call: true if the watchdog gave up on us meanwhile (we are abandoned). */
static bool device_leave(struct conn *c)
{
	bool abandoned;

	pthread_mutex_lock(&c->s->lock);
	c->in_device = false;
	abandoned = c->timed_out;
	pthread_mutex_unlock(&c->s->lock);
	return abandoned;
}

/*
 * c's request outlived its deadline (s->lock held): answer COMMAND TIMEOUT on its socket,
 * abandon its thread and give the socket to a new thread, or close it at the bound.
 */
static void conn_timeout(struct prh_server *s, struct conn *c)
{
	uint8_t frame[PRH_REPLY_HDR_SIZE];
	struct prh_reply rep;
	char what[64];
	bool sent;
	int n;

	c->timed_out = true;
	c->in_device = false;
	for (struct conn **p = &s->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	s->stats.active--;
	s->stats.timeouts++;
	s->stats.abandoned++;
	s->refs++; /* the abandoned thread's */
	pthread_cond_broadcast(&s->idle);

	memset(&rep, 0, offsetof(struct prh_reply, data));
	prh_reply_check_condition(&rep, 0x0b, 0x2e, 0x02);
	n = prh_reply_encode(&rep, frame, sizeof(frame));
	sent = n > 0 && send(c->fd, frame, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n;
	req_name(&c->req, what, sizeof(what));
	slog(s, LOG_ERR,
	     "pr-helper: %s from pid %d: no answer from the device within %u ms, replied COMMAND "
	     "TIMEOUT (%u abandoned thread(s))",
	     what, (int)c->pid, s->opts.request_timeout_ms, s->stats.abandoned);

	if (sent && !s->stopping && s->stats.abandoned <= s->opts.max_abandoned) {
		struct conn *nc = calloc(1, sizeof(*nc));

		if (nc) {
			*nc = (struct conn){.s = s,
					    .fd = c->fd,
					    .pid = c->pid,
					    .uid = c->uid,
					    .gid = c->gid,
					    .handshaken = true,
					    .owns_fd = true,
					    .next = s->conns};
			s->conns = nc;
			s->stats.active++;
			if (start_detached(conn_main, nc) == 0) {
				c->owns_fd = false;
				return;
			}
			s->conns = nc->next;
			s->stats.active--;
			free(nc);
		}
	}
	/* no thread for it: the client sees EOF, the abandoned thread closes the fd */
	slog(s, LOG_WARNING, "pr-helper: closing the connection of pid %d after the timeout",
	     (int)c->pid);
	shutdown(c->fd, SHUT_RDWR);
}

static void *watchdog_main(void *arg)
{
	struct prh_server *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->watchdog_stop) {
		struct timespec now, wake = deadline_in(s->opts.request_timeout_ms);
		struct conn *next;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (struct conn *c = s->conns; c; c = next) {
			next = c->next;
			if (!c->in_device)
				continue;
			if (!ts_before(&now, &c->deadline))
				conn_timeout(s, c);
			else if (ts_before(&c->deadline, &wake))
				wake = c->deadline;
		}
		pthread_cond_timedwait(&s->watchdog, &s->lock, &wake);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- one request ---------------------------------------------------------- */

static int open_dev(struct conn *c, int fd, struct cached_dev *e)
{
	struct prh_server *s = c->s;
	struct sgpr_dev_opts o = {.size = sizeof(o), .timeout_ms = s->opts.device_timeout_ms};

	/* on the client's fd, as qemu-pr-helper: the handle keeps a duplicate of it */
	if (s->opts.open_fn)
		return s->opts.open_fn(s->opts.open_userdata, fd, e->devnode, &o, &e->dev);
	return sgpr_dev_open_fd(fd, &o, &e->dev);
}

/*
 * The policy's verdict on c->req for the device of e: 0 or refused (reply set). *ret_gone: the
 * hook's own command got no answer from the device (prh-guard.h).
 */
static int check_policy(struct conn *c, const struct cached_dev *e, const char *what,
			bool *ret_gone)
{
	struct prh_server *s = c->s;
	struct sgpr_prout_params prout;
	struct prh_verdict v = {
		.status = SGPR_STATUS_CHECK_CONDITION,
		.key = 0x05,
		.asc = 0x20,
		.ascq = 0x00,
	};
	struct prh_request_info info = {
		.req = &c->req,
		.prout = prh_prout_decode(&c->req, &prout) == 0 ? &prout : NULL,
		.rdev = e->rdev,
		.is_char = e->is_char,
		.devnode = e->devnode,
		.dev = e->dev,
		.pid = c->pid,
		.uid = c->uid,
		.gid = c->gid,
	};
	int r;

	if (!s->opts.policy)
		return 0;
	r = s->opts.policy(s->opts.policy_userdata, &info, &v);
	*ret_gone = v.gone;
	if (r >= 0)
		return 0;
	rlog(s, LOG_WARNING, "pr-helper: refused %s on %s from pid %d: %s", what, e->devnode,
	     (int)c->pid, v.reason[0] ? v.reason : strerror(-r));
	if (v.status == SGPR_STATUS_CHECK_CONDITION)
		prh_reply_check_condition(&c->reply, v.key, v.asc, v.ascq);
	else
		prh_reply_status(&c->reply, v.status);
	pthread_mutex_lock(&s->lock);
	s->stats.refused++;
	pthread_mutex_unlock(&s->lock);
	return -EPERM;
}

/*
 * The reply to c->req in c->reply; fd is the one received with it and is closed here. true:
 * the watchdog answered instead and this thread is abandoned.
 */
static bool handle_request(struct conn *c, int fd)
{
	_cleanup_close_ int dfd = fd;
	struct prh_server *s = c->s;
	struct prh_reply *rep = &c->reply;
	struct cached_dev tmp = {}, *e;
	struct timespec deadline;
	unsigned long suppressed = 0;
	char what[64];
	struct stat st;
	bool is_char, writable = false, busy, say, allowed;
	struct exec x = {.req = &c->req, .rep = rep};
	int fl, r;

	if (c->req.kind == PRH_REQ_CLEANUP) {
		/* we keep no per-device state for QEMU (ref 1.1); the handles can go */
		cache_clear(c);
		prh_reply_good(rep);
		return false;
	}
	req_name(&c->req, what, sizeof(what));
	if (fstat(dfd, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))) {
		rlog(s, LOG_NOTICE, "pr-helper: %s from pid %d on an fd that is not a device", what,
		     (int)c->pid);
		prh_reply_check_condition(rep, 0x05, 0x25, 0x00);
		return false;
	}
	is_char = S_ISCHR(st.st_mode);
	if (c->req.kind == PRH_REQ_PROUT) {
		fl = fcntl(dfd, F_GETFL);
		if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
			/* as qemu-pr-helper: a read-only drive may not change reservations */
			prh_reply_check_condition(rep, 0x05, 0x20, 0x00);
			return false;
		}
		writable = true;
	}

	pthread_mutex_lock(&s->lock);
	busy = s->stats.abandoned >= s->opts.max_abandoned;
	say = busy && ratelimit(&s->busy_logged, &s->busy_unlogged, &suppressed);
	if (busy)
		s->stats.busy++;
	pthread_mutex_unlock(&s->lock);
	if (busy) {
		/* hung devices hold max_abandoned threads: no more, nothing sent to a device */
		if (say)
			slog(s, LOG_ERR,
			     "pr-helper: %u requests abandoned on hung devices, answering BUSY "
			     "(%s from pid %d; %lu more not logged)",
			     s->opts.max_abandoned, what, (int)c->pid, suppressed);
		prh_reply_status(rep, SGPR_STATUS_BUSY);
		return false;
	}

	deadline = deadline_in(s->opts.request_timeout_ms);
	e = cache_find(c, st.st_rdev, is_char, writable);
	if (!e) {
		e = &tmp;
		*e = (struct cached_dev){
			.rdev = st.st_rdev, .is_char = is_char, .writable = writable};
		/* a name for the logs; without one (no such node here) the device number */
		if (devnode_of(st.st_rdev, is_char, e->devnode, sizeof(e->devnode)) < 0)
			snprintf(e->devnode, sizeof(e->devnode), "%s %u:%u",
				 is_char ? "char" : "block", major(st.st_rdev), minor(st.st_rdev));
		device_enter(c, &deadline);
		r = open_dev(c, dfd, e);
		if (device_leave(c)) {
			if (r >= 0)
				sgpr_dev_free(e->dev);
			return true;
		}
		if (r < 0) {
			e->dev = NULL;
			rlog(s, r == -ENOTTY || r == -ENOTBLK ? LOG_NOTICE : LOG_WARNING,
			     "pr-helper: %s from pid %d: cannot use %s: %s", what, (int)c->pid,
			     e->devnode, strerror(-r));
			prh_reply_from_errno(rep, r, NULL);
			return false;
		}
		if (sgpr_dev_path_count(e->dev) == 1) {
			/* a multipath map is opened again each time: its paths change */
			e = cache_slot(c, st.st_rdev, is_char);
			*e = tmp;
			e->used = ++c->stamp;
			tmp.dev = NULL;
		}
	}

	/* the policy may read the LUN's keys (prh-guard.h): under the request's deadline too */
	x.dev = e->dev;
	device_enter(c, &deadline);
	allowed = check_policy(c, e, what, &x.gone) == 0;
	if (allowed) {
		if (c->req.kind == PRH_REQ_PRIN)
			run_prin(&x);
		else
			run_prout(&x);
	}
	if (device_leave(c)) {
		sgpr_dev_free(tmp.dev); /* a cached handle goes with the connection's */
		return true;
	}
	if (allowed && x.log_prio)
		rlog(s, x.log_prio, "pr-helper: %s on %s from pid %d: %s", what, e->devnode,
		     (int)c->pid, x.note);
	if (x.gone && e != &tmp)
		e->dev = sgpr_dev_free(e->dev); /* opened again at the next request */
	/* a map's paths are closed before the reply goes out: the next request finds them free */
	sgpr_dev_free(tmp.dev);
	return false;
}

/* ---- connections ---------------------------------------------------------- */

static void close_fds(struct conn *c)
{
	for (unsigned i = 0; i < c->nfds && i < FDS_MAX; i++)
		close(c->fds[i]);
	c->nfds = 0;
}

/*
 * Read exactly len bytes, collecting SCM_RIGHTS fds into c. A zero *deadline is set when the
 * first byte arrives, handshake_timeout_ms later; once set, the rest must arrive before it.
 * Returns 0, -ENODATA on EOF before the first byte, -ECONNRESET on EOF after it, -ETIMEDOUT
 * past the deadline, or -errno.
 */
static int recv_full(struct conn *c, void *buf, size_t len, struct timespec *deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
		struct cmsghdr align;
	} control;
	size_t got = 0;

	while (got < len) {
		struct iovec iov = {.iov_base = (uint8_t *)buf + got, .iov_len = len - got};
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		bool timed = deadline->tv_sec || deadline->tv_nsec;
		int fds[FDS_MAX];
		unsigned n;
		ssize_t k;

		/* blocks at most SO_RCVTIMEO (handshake_timeout_ms): no poll() per request */
		k = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (timed && ms_until(deadline) <= 100) /* timer granularity */
					return -ETIMEDOUT;
				continue; /* idle between requests, as long as it likes */
			}
			return -errno;
		}
		n = prh_cmsg_fds(&msg, fds, FDS_MAX);
		for (unsigned i = 0; i < n && i < FDS_MAX; i++) {
			if (c->nfds < FDS_MAX)
				c->fds[c->nfds] = fds[i];
			else
				close(fds[i]);
			c->nfds++;
		}
		if (msg.msg_flags & MSG_CTRUNC)
			c->nfds += 2; /* fds the kernel dropped: too many anyway */
		if (k == 0)
			return got ? -ECONNRESET : -ENODATA;
		if (!timed)
			*deadline = deadline_in(c->s->opts.handshake_timeout_ms);
		got += (size_t)k;
		if (got < len && ms_until(deadline) == 0)
			return -ETIMEDOUT; /* trickled in too slowly */
	}
	return 0;
}

static int send_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = send(fd, (const uint8_t *)buf + done, len - done, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno; /* EAGAIN: not read within SO_SNDTIMEO */
		}
		done += (size_t)k;
	}
	return 0;
}

static void violation(struct conn *c, bool stalled, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void violation(struct conn *c, bool stalled, const char *fmt, ...)
{
	unsigned long suppressed = 0;
	char msg[200];
	va_list ap;
	bool say;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->s->lock);
	if (stalled)
		c->s->stats.stalled++;
	else
		c->s->stats.violations++;
	say = ratelimit(&c->s->violation_logged, &c->s->violations_unlogged, &suppressed);
	pthread_mutex_unlock(&c->s->lock);
	if (say)
		slog(c->s, LOG_WARNING,
		     "pr-helper: client pid %d uid %u: %s, closing the connection%s", (int)c->pid,
		     (unsigned)c->uid, msg, suppressed ? " (and more not logged)" : "");
}

/* Serve c until it ends; true if this thread was abandoned on a hung device. */
static bool serve(struct conn *c)
{
	uint8_t feat[PRH_FEATURES_SIZE], cdb[PRH_CDB_SIZE];
	uint8_t frame[PRH_REPLY_HDR_SIZE + PRH_DATA_MAX];
	unsigned to = c->s->opts.handshake_timeout_ms;
	int r, n;

	if (!c->handshaken) {
		struct timespec deadline = deadline_in(to);

		prh_features_encode(PRH_FEATURES_SUPPORTED, feat);
		if (send_full(c->fd, feat, sizeof(feat)) < 0)
			return false;
		r = recv_full(c, feat, sizeof(feat), &deadline);
		if (r < 0 || c->nfds) {
			if (r == -ETIMEDOUT)
				violation(c, true, "no feature handshake within %u ms", to);
			else if (r != -ENODATA)
				violation(c, false, "bad feature handshake");
			close_fds(c);
			return false;
		}
		if (prh_features_check(PRH_FEATURES_SUPPORTED, prh_features_decode(feat)) < 0) {
			violation(c, false, "requested features 0x%08x, offered 0x%08x",
				  prh_features_decode(feat), PRH_FEATURES_SUPPORTED);
			return false;
		}
	}

	for (;;) {
		struct timespec deadline = {0, 0}; /* set by the request's first byte */

		r = recv_full(c, cdb, sizeof(cdb), &deadline);
		if (r == -ENODATA) {
			close_fds(c);
			return false; /* the client went away between requests, or we stop */
		}
		if (r < 0) {
			if (r == -ETIMEDOUT)
				violation(c, true, "request incomplete after %u ms", to);
			else
				violation(c, false, "short request: %s", strerror(-r));
			close_fds(c);
			return false;
		}
		n = prh_request_parse_cdb(cdb, &c->req);
		if (n == -EPROTO) {
			violation(c, false, "invalid CDB opcode 0x%02x", cdb[0]);
			close_fds(c);
			return false;
		}
		if (n < 0) {
			violation(c, false, "transfer length %u above %u", cdb[7] << 8 | cdb[8],
				  PRH_DATA_MAX);
			close_fds(c);
			return false;
		}
		if (n > 0) {
			r = recv_full(c, c->req.params, (size_t)n, &deadline);
			if (r < 0) {
				if (r == -ETIMEDOUT)
					violation(c, true,
						  "PR OUT parameter list incomplete after %u ms",
						  to);
				else
					violation(c, false, "short PR OUT parameter list");
				close_fds(c);
				return false;
			}
			c->req.params_len = (size_t)n;
		}
		if (prh_check_nfds(c->nfds) < 0) {
			violation(c, false, "%u file descriptors with a request, expected 1",
				  c->nfds);
			close_fds(c);
			return false;
		}
		c->nfds = 0;
		memset(&c->reply, 0, offsetof(struct prh_reply, data));
		if (handle_request(c, c->fds[0]))
			return true;
		if (prh_reply_sanitize(&c->reply, &c->req))
			rlog(c->s, LOG_WARNING,
			     "pr-helper: reply to pid %d trimmed to what QEMU accepts",
			     (int)c->pid);
		n = prh_reply_encode(&c->reply, frame, sizeof(frame));
		r = n < 0 ? n : send_full(c->fd, frame, (size_t)n);
		if (r == -EAGAIN)
			violation(c, true, "reply not read within %u ms", to);
		if (r < 0)
			return false;
		pthread_mutex_lock(&c->s->lock);
		c->s->stats.requests++;
		pthread_mutex_unlock(&c->s->lock);
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct prh_server *s = c->s;
	bool abandoned;

	abandoned = serve(c);
	cache_clear(c);

	pthread_mutex_lock(&s->lock);
	if (abandoned) {
		/* the watchdog answered and unlisted c; the socket may be a new thread's now */
		if (c->owns_fd)
			close(c->fd);
		s->stats.abandoned--;
		pthread_cond_broadcast(&s->idle);
		free(c);
		server_unref_unlock(s);
		return NULL;
	}
	for (struct conn **p = &s->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	close(c->fd);
	s->stats.active--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	free(c);
	return NULL;
}

enum limit { LIMIT_ALL, LIMIT_PID, LIMIT_UID, LIMIT_NONE };

/* The limit a peer's next connection is over (s->lock held), or LIMIT_NONE. */
static enum limit over_limit(struct prh_server *s, const struct ucred *cred)
{
	unsigned per_uid = 0, per_pid = 0;

	if (s->stats.active >= s->opts.max_connections)
		return LIMIT_ALL;
	for (struct conn *c = s->conns; c; c = c->next) {
		per_uid += c->uid == cred->uid;
		per_pid += c->pid == cred->pid;
	}
	if (per_pid >= s->opts.max_per_pid)
		return LIMIT_PID;
	if (per_uid >= s->opts.max_per_uid)
		return LIMIT_UID;
	return LIMIT_NONE;
}

static void accept_one(struct prh_server *s)
{
	struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct timeval sndto = {.tv_sec = s->opts.handshake_timeout_ms / 1000,
				.tv_usec = (s->opts.handshake_timeout_ms % 1000) * 1000};
	socklen_t clen = sizeof(cred);
	unsigned long suppressed = 0;
	enum limit lim;
	struct conn *c;
	bool say;
	int fd, r;

	fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			r = errno;
			pthread_mutex_lock(&s->lock);
			say = ratelimit(&s->accept_logged, &s->accept_unlogged, &suppressed);
			pthread_mutex_unlock(&s->lock);
			if (say)
				slog(s, LOG_ERR, "pr-helper: accept: %s (%lu more not logged)",
				     strerror(r), suppressed);
			poll(NULL, 0, 100); /* the backlog waits; other connections go on */
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		close(fd);
		return;
	}
	/* a reply not read in time closes the connection; reads wake up to check deadlines */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sndto, sizeof(sndto));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &sndto, sizeof(sndto));

	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	lim = over_limit(s, &cred);
	if (lim != LIMIT_NONE) {
		static const char *const why[] = {"in all", "by its process", "by its user"};
		const unsigned limit[] = {s->opts.max_connections, s->opts.max_per_pid,
					  s->opts.max_per_uid};

		s->stats.rejected++;
		say = ratelimit(&s->refusal_logged[lim], &s->refusals_unlogged[lim], &suppressed);
		pthread_mutex_unlock(&s->lock);
		close(fd);
		if (say)
			slog(s, LOG_WARNING,
			     "pr-helper: %u connections open %s, closing the new one of pid %d uid "
			     "%u "
			     "(%lu more closed since the last such line)",
			     limit[lim], why[lim], (int)cred.pid, (unsigned)cred.uid, suppressed);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	*c = (struct conn){.s = s,
			   .fd = fd,
			   .pid = cred.pid,
			   .uid = cred.uid,
			   .gid = cred.gid,
			   .owns_fd = true};
	c->next = s->conns;
	s->conns = c;
	s->stats.active++;
	s->stats.connections++;
	r = start_detached(conn_main, c);
	if (r < 0) {
		s->conns = c->next;
		s->stats.active--;
		pthread_mutex_unlock(&s->lock);
		slog(s, LOG_ERR, "pr-helper: cannot start a connection thread: %s", strerror(-r));
		close(fd);
		free(c);
		return;
	}
	pthread_mutex_unlock(&s->lock);
}

static void *accept_main(void *arg)
{
	struct prh_server *s = arg;

	for (;;) {
		struct pollfd p[2] = {
			{.fd = s->listen_fd, .events = POLLIN},
			{.fd = s->stop_fd, .events = POLLIN},
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			slog(s, LOG_ERR, "pr-helper: poll: %s", strerror(errno));
			poll(NULL, 0, 100);
			continue;
		}
		if (p[1].revents)
			break;
		if (p[0].revents)
			accept_one(s);
	}
	return NULL;
}

/* ---- public ----------------------------------------------------------------- */

int prh_listen(const char *path, mode_t mode, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old;
	int r;

	if (!path || !ret_fd || !path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* the mode through the umask at bind(): no chmod() of a path someone may have replaced */
	old = umask(~mode & 0777);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (r < 0)
		return r;
	if (listen(fd, PRH_LISTEN_BACKLOG) < 0) {
		r = -errno;
		unlink(path);
		return r;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int prh_server_start(int listen_fd, const struct prh_server_opts *opts, struct prh_server **ret)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct prh_server *s;
	int r, fl;

	if (listen_fd < 0 || !ret) {
		if (listen_fd >= 0)
			close(listen_fd);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(listen_fd);
		return -ENOMEM;
	}
	if (opts)
		s->opts = *opts;
	if (!s->opts.max_connections)
		s->opts.max_connections = PRH_DEFAULT_MAX_CONNECTIONS;
	if (!s->opts.max_per_uid)
		s->opts.max_per_uid = PRH_DEFAULT_MAX_PER_UID;
	if (!s->opts.max_per_pid)
		s->opts.max_per_pid = PRH_DEFAULT_MAX_PER_PID;
	if (!s->opts.max_abandoned)
		s->opts.max_abandoned = PRH_DEFAULT_MAX_ABANDONED;
	if (!s->opts.handshake_timeout_ms)
		s->opts.handshake_timeout_ms = PRH_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	if (!s->opts.request_timeout_ms)
		s->opts.request_timeout_ms = PRH_DEFAULT_REQUEST_TIMEOUT_MS;
	if (!s->opts.device_timeout_ms)
		s->opts.device_timeout_ms = PRH_DEFAULT_DEVICE_TIMEOUT_MS;
	s->listen_fd = listen_fd;
	s->refs = 1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->watchdog, &ca);
	pthread_condattr_destroy(&ca);
	/* poll says readable, accept() must not block if the client is gone meanwhile */
	fl = fcntl(listen_fd, F_GETFL);
	if (fl >= 0)
		fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	/* every thread of ours (and the ones they start) blocks signals: they are the caller's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->watchdog_thread, NULL, watchdog_main, s);
	if (r == 0) {
		s->watchdog_running = true;
		r = -pthread_create(&s->accept_thread, NULL, accept_main, s);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	s->accept_running = true;
	*ret = s;
	return 0;
fail:
	if (s->watchdog_running) {
		pthread_mutex_lock(&s->lock);
		s->watchdog_stop = true;
		pthread_cond_broadcast(&s->watchdog);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->watchdog_thread, NULL);
	}
	close(listen_fd);
	server_destroy(s);
	return r;
}

void prh_server_stop(struct prh_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->stopped || s->stopping) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->stopping = true;
	pthread_mutex_unlock(&s->lock);

	if (s->accept_running) {
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			slog(s, LOG_ERR, "pr-helper: cannot wake the accept thread: %m");
		pthread_join(s->accept_thread, NULL);
		s->accept_running = false;
	}
	close(s->listen_fd);
	s->listen_fd = -1;

	/*
	 * Idle connections see EOF and end; one with a request in flight finishes it (or the
	 * watchdog answers COMMAND TIMEOUT and closes it), sends the reply (the write side stays
	 * open) and then sees EOF. Abandoned threads are not waited for.
	 */
	pthread_mutex_lock(&s->lock);
	for (struct conn *c = s->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RD);
	while (s->stats.active)
		pthread_cond_wait(&s->idle, &s->lock);
	s->watchdog_stop = true;
	pthread_cond_broadcast(&s->watchdog);
	pthread_mutex_unlock(&s->lock);
	if (s->watchdog_running) {
		pthread_join(s->watchdog_thread, NULL);
		s->watchdog_running = false;
	}
	pthread_mutex_lock(&s->lock);
	s->stopped = true;
	pthread_mutex_unlock(&s->lock);
}

struct prh_server *prh_server_free(struct prh_server *s)
{
	if (!s)
		return NULL;
	prh_server_stop(s);
	pthread_mutex_lock(&s->lock);
	server_unref_unlock(s); /* abandoned threads may still hold it */
	return NULL;
}

void prh_server_get_stats(struct prh_server *s, struct prh_server_stats *ret)
{
	if (!s || !ret)
		return;
	pthread_mutex_lock(&s->lock);
	*ret = s->stats;
	pthread_mutex_unlock(&s->lock);
}
