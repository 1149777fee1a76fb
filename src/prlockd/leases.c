/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's side of the lease table (table.h): what the table asks prlockd to do for it.
 * Processes are real (/proc, kill), the loss hook is a child process, the state file is
 * STATE_DIR/leases replaced atomically, devices are opened with sgpr_dev_open() and locked
 * with lun_lock(), and messages go to log_msg(). Jobs run on the worker pool (pool.c) and
 * replies go to the control socket's clients (control.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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

static bool op_proc_alive(void *userdata, const struct protected_proc *p)
{
	(void)userdata;
	return proc_alive(p);
}

static int op_proc_signal(void *userdata, const struct protected_proc *p, int sig)
{
	(void)userdata;
	return kill(p->pid, sig) < 0 ? -errno : 0;
}

/* ---- the loss hook ------------------------------------------------------- */

static pid_t op_hook_start(void *userdata, const char *dev, enum sgpr_lease_event ev,
			   uint64_t lost_key, const struct protected_proc *procs, size_t n_procs)
{
	struct daemon *dm = userdata;
	char key[SGPR_KEY_STRLEN], pids[1024] = "";
	size_t off = 0;
	pid_t pid;

	for (size_t i = 0; i < n_procs && off < sizeof(pids) - 16; i++)
		off += (size_t)snprintf(pids + off, sizeof(pids) - off, "%s%d", i ? " " : "",
					(int)procs[i].pid);
	sgpr_key_format(lost_key, key);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		setenv("PRLOCKD_PROTECTED_PIDS", pids, 1);
		execl(dm->hook, dm->hook, dev, sgpr_lease_event_name(ev), key, (char *)NULL);
		fprintf(stderr, "<3>%s: cannot execute loss hook %s: %s\n", dev, dm->hook,
			strerror(errno));
		_exit(127);
	}
	log_msg(LOG_NOTICE, "%s: running loss hook %s %s %s %s (pid %d)", dev, dm->hook, dev,
		sgpr_lease_event_name(ev), key, (int)pid);
	return pid;
}

static void op_hook_kill(void *userdata, pid_t pid)
{
	(void)userdata;
	kill(pid, SIGKILL);
}

void leases_reap_children(struct daemon *dm)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (dm->table)
			table_hook_exited(dm->table, pid, status);
}

/* ---- the state file ------------------------------------------------------ */

/* STATE_DIR/leases (table-state.c): a temporary file, fsync, renamed over the old one. */
static int op_state_write(void *userdata, const char *buf, size_t len)
{
	struct daemon *dm = userdata;
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
	if (fwrite(buf, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) < 0)
		r = -errno ?: -EIO;
	if (fclose(f) != 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to write %s: %s; a restart would not re-adopt the leases",
			path, strerror(-r));
		unlink(tmp);
	}
	return r;
}

static int state_load(struct daemon *dm)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *text = NULL;
	char path[4096];
	size_t len = 0;
	FILE *m;
	char buf[8192];
	size_t n;
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
	m = open_memstream(&text, &len);
	if (!m)
		return -ENOMEM;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	r = ferror(f) ? -EIO : 0;
	if (fclose(m) != 0)
		r = -ENOMEM;
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to read %s: %s", path, strerror(-r));
		return r;
	}
	return table_state_load(dm->table, text, path);
}

/* ---- devices and jobs ---------------------------------------------------- */

/* The groups of uid (a lease re-adopted from the state file records only its owner's uid). */
static int owner_groups(uid_t uid, gid_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	struct passwd pw, *pwp = NULL;
	gid_t *g = NULL, *n;
	int ng = 64, r;

	buf = malloc(16384);
	if (!buf)
		return -ENOMEM;
	r = getpwuid_r(uid, &pw, buf, 16384, &pwp);
	if (r || !pwp)
		return r ? -r : -ENOENT;
	for (;;) {
		int want = ng;

		n = realloc(g, (size_t)ng * sizeof(*g));
		if (!n) {
			free(g);
			return -ENOMEM;
		}
		g = n;
		if (getgrouplist(pw.pw_name, pw.pw_gid, g, &ng) >= 0)
			break;
		if (ng <= want)
			ng = want * 2;
	}
	*ret = g;
	*ret_n = (size_t)ng;
	return 0;
}

/* st grants read and write to the owner of a lease by its mode bits (ACLs are not read). */
static bool may_read_write(const struct stat *st, const struct table_cred *o)
{
	bool member = st->st_gid == o->gid;

	if (st->st_uid == o->uid)
		return (st->st_mode & 0600) == 0600;
	for (size_t i = 0; i < o->n_groups && !member; i++)
		member = o->groups[i] == st->st_gid;
	if (member)
		return (st->st_mode & 0060) == 0060;
	return (st->st_mode & 0006) == 0006;
}

/*
 * A /dev path of a non-root owner is resolved once, here, to an O_PATH descriptor (which opens
 * nothing: no device's open has side effects yet, a FIFO does not block); that inode is what is
 * checked (fstat: a device node the owner may read and write by its mode bits), then opened
 * through /proc/self/fd (the same inode, no path resolution) and used (sgpr_dev_open_fd): the
 * client's path is never resolved again as prlockd between check and use, and prlockd opens
 * only nodes the owner could open itself. iscsi:// URLs need no check: any local user can log
 * in to a portal itself.
 */
static int op_dev_open(void *userdata, const char *dev, const struct table_cred *owner,
		       struct sgpr_dev **ret)
{
	struct daemon *dm = userdata;
	_cleanup_free_ gid_t *groups = NULL;
	struct table_cred o = *owner;
	_cleanup_close_ int pfd = -1, fd = -1;
	struct stat st, st2;
	char self[64];
	int r;

	if (owner->uid == 0 || dev[0] != '/')
		return sgpr_dev_open(dev, &dm->dev_opts, ret);
	if (!o.groups_known) {
		r = owner_groups(o.uid, &groups, &o.n_groups);
		if (r < 0)
			return r == -ENOMEM ? r : -EPERM; /* a uid without an account */
		o.groups = groups;
		o.gid = o.n_groups ? groups[0] : (gid_t)-1;
	}
	pfd = open(dev, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		return -ENOTTY;
	if (!may_read_write(&st, &o))
		return -EPERM; /* the owner's refusal; -EACCES is prlockd's own */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st2) < 0)
		return -errno;
	if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino || st2.st_rdev != st.st_rdev)
		return -ESTALE; /* cannot happen: the same inode */
	return sgpr_dev_open_fd(fd, &dm->dev_opts, ret);
}

static int op_lun_lock(void *userdata, struct sgpr_dev *d, pid_t *ret_owner)
{
	struct daemon *dm = userdata;

	return lun_lock(d, dm->cfg.host_id, "prlockd", ret_owner);
}

static void op_lun_unlock(void *userdata, int lock)
{
	(void)userdata;
	close(lock);
}

static void op_submit(void *userdata, struct table_job *job)
{
	pool_submit(userdata, job);
}

static void op_log(void *userdata, int prio, const char *msg)
{
	(void)userdata;
	log_msg(prio, "%s", msg);
}

static uint64_t clock_now(void *userdata)
{
	(void)userdata;
	return mono_ms();
}

/* The table, with the leases of the state file to re-adopt. */
int leases_open(struct daemon *dm)
{
	static const struct table_ops ops = {
		.submit = op_submit,
		.reply = control_reply,
		.dev_open = op_dev_open,
		.lun_lock = op_lun_lock,
		.lun_unlock = op_lun_unlock,
		.proc_alive = op_proc_alive,
		.proc_signal = op_proc_signal,
		.hook_start = op_hook_start,
		.hook_kill = op_hook_kill,
		.state_write = op_state_write,
		.log = op_log,
	};
	struct table_config cfg = {
		.clock = &dm->clock,
		.ns = dm->ns,
		.host_id = dm->cfg.host_id,
		.period_ms = dm->period_ms,
		.dead_after_ms = dm->dead_after_ms,
		.kill_grace_ms = dm->kill_grace_ms,
		.self_fence_after_ms = dm->cfg.self_fence_after_ms,
		.loss_hook = dm->hook != NULL,
		.hook_timeout_ms = PRLOCKD_HOOK_TIMEOUT_MS,
	};
	int r;

	dm->clock = (struct sgpr_clock){.now_ms = clock_now};
	r = table_new(&cfg, &ops, dm, &dm->table);
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to create the lease table: %s", strerror(-r));
		return r;
	}
	return state_load(dm);
}

void leases_close(struct daemon *dm)
{
	dm->table = table_free(dm->table);
}
