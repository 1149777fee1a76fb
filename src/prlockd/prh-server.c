/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pr-manager-helper server (prh-server.h): sockets, threads, device commands.
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
#include <stdatomic.h>
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

/* workers still running after their connection gave up on them (process-wide) */
static atomic_uint abandoned_workers;

struct prh_server {
	struct prh_server_opts opts;
	int listen_fd, stop_fd;
	pthread_t accept_thread;
	bool accept_running;

	pthread_mutex_t lock;
	pthread_cond_t idle; /* active dropped */
	bool stopping, stopped;
	struct conn *conns;
	struct prh_server_stats stats;
};

struct conn {
	struct prh_server *s;
	struct conn *next;
	int fd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int fds[FDS_MAX];
	unsigned nfds; /* received with this request, all of them counted */
	struct prh_request req;
	struct prh_reply reply;
};

enum job_state {
	JOB_OPENING,
	JOB_OPENED,
	JOB_RUNNING,
	JOB_DONE,
};

/* One request on the device, shared by the connection thread and its worker. */
struct job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned refs;
	enum job_state state;
	bool go, cancel, abandoned;

	int fd; /* the client's device fd, owned until the worker opened the device; -1 after */
	char devnode[DEVNODE_MAX];
	struct sgpr_dev_opts dev_opts;
	prh_open_fn open_fn;
	void *open_userdata;
	struct prh_request req;

	int open_r;
	struct sgpr_dev *dev;
	struct prh_reply reply;
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

/* ---- the worker: open the device, run the command ------------------------ */

static void job_unref(struct job *j)
{
	bool last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	if (j->fd >= 0)
		close(j->fd);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void job_note(struct job *j, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void job_note(struct job *j, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->note, sizeof(j->note), fmt, ap);
	va_end(ap);
	j->log_prio = prio;
}

static void run_prin(struct job *j)
{
	struct prh_reply *rep = &j->reply;
	struct sgpr_status st = {};
	size_t len = j->req.xfer;
	int r;

	r = sgpr_dev_execute(j->dev, j->req.cdb, PR_CDB_LEN, len ? SGPR_DIR_IN : SGPR_DIR_NONE,
			     len ? rep->data : NULL, len, &st);
	if (r < 0) {
		prh_reply_from_errno(rep, r, &st);
		return;
	}
	prh_reply_good(rep);
	rep->sz = (uint32_t)(st.resid < len ? len - st.resid : 0);
}

static int run_prout_raw(struct job *j, struct sgpr_status *st)
{
	size_t len = j->req.params_len;

	return sgpr_dev_execute(j->dev, j->req.cdb, PR_CDB_LEN, len ? SGPR_DIR_OUT : SGPR_DIR_NONE,
				len ? j->req.params : NULL, len, st);
}

static void run_prout_multipath(struct job *j)
{
	const struct prh_request *req = &j->req;
	struct prh_reply *rep = &j->reply;
	struct sgpr_prout_params p;
	struct sgpr_status st = {};
	int r, dr;

	dr = prh_prout_decode(req, &p);
	switch (req->sa) {
	case SGPR_PROUT_REGISTER:
	case SGPR_PROUT_REGISTER_AND_IGNORE:
		if (req->params_len > 20 && (req->params[20] & PRH_PROUT_SPEC_I_PT)) {
			job_note(j, LOG_WARNING,
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
			job_note(j, LOG_WARNING,
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
				job_note(j, LOG_WARNING,
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

static void run_prout(struct job *j)
{
	struct sgpr_status st = {};
	int r;

	if (sgpr_dev_path_count(j->dev) > 1) {
		run_prout_multipath(j);
		return;
	}
	r = run_prout_raw(j, &st);
	if (r < 0)
		prh_reply_from_errno(&j->reply, r, &st);
	else
		prh_reply_good(&j->reply);
}

static void *worker_main(void *arg)
{
	struct job *j = arg;
	struct sgpr_dev *d = NULL;
	int r;

	/* on the client's fd, as qemu-pr-helper: the handle keeps a duplicate of it */
	if (j->open_fn)
		r = j->open_fn(j->open_userdata, j->fd, j->devnode, &j->dev_opts, &d);
	else
		r = sgpr_dev_open_fd(j->fd, &j->dev_opts, &d);
	close(j->fd);
	j->fd = -1;

	pthread_mutex_lock(&j->lock);
	j->open_r = r;
	j->dev = r < 0 ? NULL : d;
	j->state = JOB_OPENED;
	pthread_cond_broadcast(&j->cond);
	while (!j->go && !j->cancel)
		pthread_cond_wait(&j->cond, &j->lock);
	if (j->go && !j->cancel && j->dev) {
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&j->lock);
		if (j->req.kind == PRH_REQ_PRIN)
			run_prin(j);
		else
			run_prout(j);
		pthread_mutex_lock(&j->lock);
	}
	/* the device is closed before the reply goes out: the next request finds it free */
	d = j->dev;
	j->dev = NULL;
	pthread_mutex_unlock(&j->lock);
	sgpr_dev_free(d);
	pthread_mutex_lock(&j->lock);
	j->state = JOB_DONE;
	pthread_cond_broadcast(&j->cond);
	if (j->abandoned)
		atomic_fetch_sub(&abandoned_workers, 1);
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
	return NULL;
}

/* Wait (j->lock held) until j->state >= state or the deadline; false on timeout. */
static bool job_wait(struct job *j, enum job_state state, const struct timespec *deadline)
{
	while (j->state < state)
		if (pthread_cond_timedwait(&j->cond, &j->lock, deadline) == ETIMEDOUT)
			return j->state >= state;
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

/* ---- one request ---------------------------------------------------------- */

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

/* A job on fd (owned by the job from now on, also on failure). */
static struct job *job_new(struct conn *c, int fd, const char *devnode)
{
	struct prh_server *s = c->s;
	pthread_condattr_t ca;
	struct job *j;

	j = calloc(1, sizeof(*j));
	if (!j) {
		close(fd);
		return NULL;
	}
	j->fd = fd;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	j->refs = 2; /* the connection and the worker */
	snprintf(j->devnode, sizeof(j->devnode), "%s", devnode);
	j->dev_opts.timeout_ms = s->opts.device_timeout_ms;
	j->open_fn = s->opts.open_fn;
	j->open_userdata = s->opts.open_userdata;
	j->req = c->req;
	return j;
}

/* Give up on j (j->lock held): the worker finishes on its own. */
static void job_abandon(struct job *j)
{
	j->cancel = true;
	if (j->state != JOB_DONE) {
		j->abandoned = true;
		atomic_fetch_add(&abandoned_workers, 1);
	}
	pthread_cond_broadcast(&j->cond);
}

/* fd is the client's device fd, closed here (by the job). */
static void run_job(struct conn *c, int fd, const char *devnode, dev_t rdev, bool is_char)
{
	struct prh_server *s = c->s;
	struct timespec deadline = deadline_in(s->opts.request_timeout_ms);
	struct prh_reply *rep = &c->reply;
	struct sgpr_prout_params prout;
	struct prh_verdict v;
	char what[64];
	struct job *j;
	int r;

	req_name(&c->req, what, sizeof(what));
	j = job_new(c, fd, devnode);
	if (!j) {
		prh_reply_from_errno(rep, -ENOMEM, NULL);
		return;
	}
	r = start_detached(worker_main, j);
	if (r < 0) {
		slog(s, LOG_ERR, "pr-helper: cannot start a worker for %s on %s: %s", what, devnode,
		     strerror(-r));
		j->refs = 1;
		job_unref(j);
		prh_reply_check_condition(rep, 0x0b, 0x00, 0x06);
		return;
	}

	pthread_mutex_lock(&j->lock);
	if (!job_wait(j, JOB_OPENED, &deadline))
		goto timeout;
	if (j->open_r < 0) {
		r = j->open_r;
		j->cancel = true;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->lock);
		slog(s, r == -ENOTTY || r == -ENOTBLK ? LOG_NOTICE : LOG_WARNING,
		     "pr-helper: %s from pid %d: cannot use %s: %s", what, (int)c->pid, devnode,
		     strerror(-r));
		prh_reply_from_errno(rep, r, NULL);
		job_unref(j);
		return;
	}
	pthread_mutex_unlock(&j->lock);

	/* the worker waits for go: j->dev is ours to read */
	if (s->opts.policy) {
		struct prh_request_info info = {
			.req = &c->req,
			.prout = prh_prout_decode(&c->req, &prout) == 0 ? &prout : NULL,
			.rdev = rdev,
			.is_char = is_char,
			.devnode = devnode,
			.dev = j->dev,
			.pid = c->pid,
			.uid = c->uid,
			.gid = c->gid,
		};

		v = (struct prh_verdict){
			.status = SGPR_STATUS_CHECK_CONDITION,
			.key = 0x05,
			.asc = 0x20,
			.ascq = 0x00,
		};
		r = s->opts.policy(s->opts.policy_userdata, &info, &v);
		if (r < 0) {
			pthread_mutex_lock(&j->lock);
			j->cancel = true;
			pthread_cond_broadcast(&j->cond);
			pthread_mutex_unlock(&j->lock);
			job_unref(j);
			slog(s, LOG_WARNING, "pr-helper: refused %s on %s from pid %d: %s", what,
			     devnode, (int)c->pid, v.reason[0] ? v.reason : strerror(-r));
			if (v.status == SGPR_STATUS_CHECK_CONDITION)
				prh_reply_check_condition(rep, v.key, v.asc, v.ascq);
			else
				prh_reply_status(rep, v.status);
			pthread_mutex_lock(&s->lock);
			s->stats.refused++;
			pthread_mutex_unlock(&s->lock);
			return;
		}
	}

	pthread_mutex_lock(&j->lock);
	j->go = true;
	pthread_cond_broadcast(&j->cond);
	if (!job_wait(j, JOB_DONE, &deadline))
		goto timeout;
	*rep = j->reply;
	if (j->log_prio)
		slog(s, j->log_prio, "pr-helper: %s on %s from pid %d: %s", what, devnode,
		     (int)c->pid, j->note);
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
	return;

timeout:
	job_abandon(j);
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
	slog(s, LOG_ERR,
	     "pr-helper: %s on %s from pid %d: no answer within %u ms, replying COMMAND TIMEOUT",
	     what, devnode, (int)c->pid, s->opts.request_timeout_ms);
	prh_reply_check_condition(rep, 0x0b, 0x2e, 0x02);
	pthread_mutex_lock(&s->lock);
	s->stats.timeouts++;
	pthread_mutex_unlock(&s->lock);
}

/* The reply to c->req; fd is the one received with it and is closed here. */
static void handle_request(struct conn *c, int fd)
{
	_cleanup_close_ int dfd = fd;
	struct prh_reply *rep = &c->reply;
	char devnode[DEVNODE_MAX], what[64];
	struct stat st;
	int fl;

	if (c->req.kind == PRH_REQ_CLEANUP) {
		/* nothing to drop: we keep no per-device state for QEMU (ref 1.1) */
		prh_reply_good(rep);
		return;
	}
	req_name(&c->req, what, sizeof(what));
	if (fstat(dfd, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))) {
		slog(c->s, LOG_NOTICE, "pr-helper: %s from pid %d on an fd that is not a device",
		     what, (int)c->pid);
		prh_reply_check_condition(rep, 0x05, 0x25, 0x00);
		return;
	}
	if (c->req.kind == PRH_REQ_PROUT) {
		fl = fcntl(dfd, F_GETFL);
		if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
			/* as qemu-pr-helper: a read-only drive may not change reservations */
			prh_reply_check_condition(rep, 0x05, 0x20, 0x00);
			return;
		}
	}
	/* a name for the logs; without one (no such node here) the device number */
	if (devnode_of(st.st_rdev, S_ISCHR(st.st_mode), devnode, sizeof(devnode)) < 0)
		snprintf(devnode, sizeof(devnode), "%s %u:%u",
			 S_ISCHR(st.st_mode) ? "char" : "block", major(st.st_rdev),
			 minor(st.st_rdev));
	run_job(c, TAKE_FD(dfd), devnode, st.st_rdev, S_ISCHR(st.st_mode));
}

/* ---- connections ---------------------------------------------------------- */

static void close_fds(struct conn *c)
{
	for (unsigned i = 0; i < c->nfds && i < FDS_MAX; i++)
		close(c->fds[i]);
	c->nfds = 0;
}

/*
 * Read exactly len bytes, collecting SCM_RIGHTS fds into c. Returns 0, -ENODATA on EOF before
 * the first byte, -ECONNRESET on EOF after it, or -errno.
 */
static int recv_full(struct conn *c, void *buf, size_t len)
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
		int fds[FDS_MAX];
		unsigned n;
		ssize_t k;

		k = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
		if (k < 0) {
			if (errno == EINTR)
				continue;
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
		got += (size_t)k;
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
			return -errno;
		}
		done += (size_t)k;
	}
	return 0;
}

static void violation(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(struct conn *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	slog(c->s, LOG_WARNING, "pr-helper: client pid %d: %s, closing the connection", (int)c->pid,
	     msg);
	pthread_mutex_lock(&c->s->lock);
	c->s->stats.violations++;
	pthread_mutex_unlock(&c->s->lock);
}

static void serve(struct conn *c)
{
	uint8_t feat[PRH_FEATURES_SIZE], cdb[PRH_CDB_SIZE];
	uint8_t frame[PRH_REPLY_HDR_SIZE + PRH_DATA_MAX];
	int r, n;

	prh_features_encode(PRH_FEATURES_SUPPORTED, feat);
	if (send_full(c->fd, feat, sizeof(feat)) < 0)
		return;
	r = recv_full(c, feat, sizeof(feat));
	if (r < 0 || c->nfds) {
		if (r != -ENODATA)
			violation(c, "bad feature handshake");
		close_fds(c);
		return;
	}
	if (prh_features_check(PRH_FEATURES_SUPPORTED, prh_features_decode(feat)) < 0) {
		violation(c, "requested features 0x%08x, offered 0x%08x", prh_features_decode(feat),
			  PRH_FEATURES_SUPPORTED);
		return;
	}

	for (;;) {
		r = recv_full(c, cdb, sizeof(cdb));
		if (r == -ENODATA) {
			close_fds(c);
			return; /* the client went away between requests, or we stop */
		}
		if (r < 0) {
			violation(c, "short request: %s", strerror(-r));
			close_fds(c);
			return;
		}
		n = prh_request_parse_cdb(cdb, &c->req);
		if (n == -EPROTO) {
			violation(c, "invalid CDB opcode 0x%02x", cdb[0]);
			close_fds(c);
			return;
		}
		if (n < 0) {
			violation(c, "transfer length %u above %u", cdb[7] << 8 | cdb[8],
				  PRH_DATA_MAX);
			close_fds(c);
			return;
		}
		if (n > 0) {
			r = recv_full(c, c->req.params, (size_t)n);
			if (r < 0) {
				violation(c, "short PR OUT parameter list");
				close_fds(c);
				return;
			}
			c->req.params_len = (size_t)n;
		}
		if (prh_check_nfds(c->nfds) < 0) {
			violation(c, "%u file descriptors with a request, expected 1", c->nfds);
			close_fds(c);
			return;
		}
		c->nfds = 0;
		memset(&c->reply, 0, offsetof(struct prh_reply, data));
		handle_request(c, c->fds[0]);
		if (prh_reply_sanitize(&c->reply, &c->req))
			slog(c->s, LOG_WARNING,
			     "pr-helper: reply to pid %d trimmed to what QEMU accepts",
			     (int)c->pid);
		n = prh_reply_encode(&c->reply, frame, sizeof(frame));
		if (n < 0 || send_full(c->fd, frame, (size_t)n) < 0)
			return;
		pthread_mutex_lock(&c->s->lock);
		c->s->stats.requests++;
		pthread_mutex_unlock(&c->s->lock);
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct prh_server *s = c->s;

	serve(c);

	pthread_mutex_lock(&s->lock);
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

static void accept_one(struct prh_server *s)
{
	struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t clen = sizeof(cred);
	struct conn *c;
	int fd, r;

	fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			slog(s, LOG_ERR, "pr-helper: accept: %s", strerror(errno));
			poll(NULL, 0, 100);
		}
		return;
	}
	(void)getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen);

	pthread_mutex_lock(&s->lock);
	if (s->stopping || s->stats.active >= s->opts.max_connections) {
		bool full = !s->stopping;

		pthread_mutex_unlock(&s->lock);
		if (full)
			slog(s, LOG_WARNING,
			     "pr-helper: %u connections open, closing the one of pid %d",
			     s->opts.max_connections, (int)cred.pid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	*c = (struct conn){.s = s, .fd = fd, .pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
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
	if (!s->opts.request_timeout_ms)
		s->opts.request_timeout_ms = PRH_DEFAULT_REQUEST_TIMEOUT_MS;
	if (!s->opts.device_timeout_ms)
		s->opts.device_timeout_ms = PRH_DEFAULT_DEVICE_TIMEOUT_MS;
	s->listen_fd = listen_fd;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
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
	r = -pthread_create(&s->accept_thread, NULL, accept_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto fail;
	s->accept_running = true;
	*ret = s;
	return 0;
fail:
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	close(listen_fd);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s);
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
	 * Idle connections see EOF and end; one with a request in flight finishes it, sends the
	 * reply (the write side stays open) and then sees EOF.
	 */
	pthread_mutex_lock(&s->lock);
	for (struct conn *c = s->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RD);
	while (s->stats.active)
		pthread_cond_wait(&s->idle, &s->lock);
	s->stopped = true;
	pthread_mutex_unlock(&s->lock);
}

struct prh_server *prh_server_free(struct prh_server *s)
{
	if (!s)
		return NULL;
	prh_server_stop(s);
	close(s->stop_fd);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

void prh_server_get_stats(struct prh_server *s, struct prh_server_stats *ret)
{
	if (!s || !ret)
		return;
	pthread_mutex_lock(&s->lock);
	*ret = s->stats;
	pthread_mutex_unlock(&s->lock);
	ret->abandoned = atomic_load(&abandoned_workers);
}
