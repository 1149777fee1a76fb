/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's side of the lease table (table.h): what the table asks prlockd to do for it.
 * Processes are real (pidfds, procs.c), the loss hook is a child process, the state file is
 * STATE_DIR/leases replaced atomically, devices are opened with sgpr_dev_open() and locked
 * with lun_lock(), and messages go to log_msg(). Jobs run on the worker pool (pool.c) and
 * replies go to the control socket's clients (control.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
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
#include "procs.h"

/* ---- processes ----------------------------------------------------------- */

static bool op_proc_alive(void *userdata, const struct protected_proc *p)
{
	struct daemon *dm = userdata;

	/* only ENOENT/ESRCH or another start time mean gone: EMFILE is no reason to spare it */
	return procs_status(dm->procs, p) != PROC_GONE;
}

static int op_proc_signal(void *userdata, const struct protected_proc *p, int sig)
{
	struct daemon *dm = userdata;

	return procs_signal(dm->procs, p, sig);
}

static bool proc_wanted(void *userdata, const struct protected_proc *p)
{
	struct daemon *dm = userdata;

	for (size_t i = 0; i < table_count(dm->table); i++) {
		struct table_info e;

		table_info(dm->table, i, &e);
		for (size_t k = 0; k < e.n_procs; k++)
			if (e.procs[k].pid == p->pid && e.procs[k].start == p->start)
				return true;
	}
	return false;
}

/* Close the pidfds of processes no lease protects any more (main loop, once a second). */
void leases_gc(struct daemon *dm)
{
	static uint64_t last;
	uint64_t now = mono_ms();

	if (now - last < 1000)
		return;
	last = now;
	procs_gc(dm->procs, proc_wanted, dm);
}

/* ---- the loss hook ------------------------------------------------------- */

/*
 * The hook's environment: prlockd's own, without any PRLOCKD_ variable, plus
 * PRLOCKD_PROTECTED_PIDS (the pids, space-separated), PRLOCKD_DEVICE, PRLOCKD_EVENT,
 * PRLOCKD_LOST_KEY (the arguments again) and PRLOCKD_OWNER_UID (whose lease: a member may lose
 * its own lease at will, and it named the device). Built before the child starts, which runs
 * nothing but execve(): prlockd is threaded, and a forked child may not allocate or take a lock.
 */
static char **hook_envp(const char *dev, uid_t owner, const char *event, const char *key,
			const struct protected_proc *procs, size_t n_procs)
{
	size_t n_env = 0, n = 0, off;
	char **envp, *pids;

	while (environ[n_env])
		n_env++;
	envp = calloc(n_env + 6, sizeof(*envp));
	pids = malloc(n_procs * 12 + 32);
	if (!envp || !pids) {
		free(envp);
		free(pids);
		return NULL;
	}
	for (size_t i = 0; i < n_env; i++)
		if (strncmp(environ[i], "PRLOCKD_", 8) != 0)
			envp[n++] = environ[i];
	off = (size_t)sprintf(pids, "PRLOCKD_PROTECTED_PIDS=");
	for (size_t i = 0; i < n_procs; i++)
		off += (size_t)sprintf(pids + off, "%s%d", i ? " " : "", (int)procs[i].pid);
	envp[n++] = pids;
	if (asprintf(&envp[n++], "PRLOCKD_DEVICE=%s", dev) < 0 ||
	    asprintf(&envp[n++], "PRLOCKD_EVENT=%s", event) < 0 ||
	    asprintf(&envp[n++], "PRLOCKD_LOST_KEY=%s", key) < 0 ||
	    asprintf(&envp[n++], "PRLOCKD_OWNER_UID=%u", (unsigned)owner) < 0) {
		envp[--n] = NULL;
		while (n > 0 && strncmp(envp[n - 1], "PRLOCKD_", 8) == 0)
			free(envp[--n]);
		free(envp);
		return NULL;
	}
	return envp;
}

static void hook_envp_free(char **envp)
{
	if (!envp)
		return;
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PRLOCKD_", 8) == 0)
			free(envp[i]);
	free(envp);
}

/*
 * posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) + execve, and an exec failure comes back as
 * its return value) with every fd above 2 closed: libiscsi's sockets are not O_CLOEXEC. The
 * child starts with no blocked signal and SIGPIPE at its default.
 */
static pid_t op_hook_start(void *userdata, const char *dev, uid_t owner, enum sgpr_lease_event ev,
			   uint64_t lost_key, const struct protected_proc *procs, size_t n_procs)
{
	struct daemon *dm = userdata;
	const char *event = sgpr_lease_event_name(ev);
	char key[SGPR_KEY_STRLEN];
	char *const argv[] = {(char *)dm->hook, (char *)dev, (char *)event, key, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	char **envp;
	pid_t pid;
	int r;

	sgpr_key_format(lost_key, key);

	envp = hook_envp(dev, owner, event, key, procs, n_procs);
	if (!envp)
		return -ENOMEM;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGCHLD);
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0) {
		r = posix_spawnattr_init(&attr);
		if (r == 0) {
			r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
			if (r == 0)
				r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
									    POSIX_SPAWN_SETSIGDEF);
			if (r == 0)
				r = posix_spawnattr_setsigmask(&attr, &none);
			if (r == 0)
				r = posix_spawnattr_setsigdefault(&attr, &def);
			if (r == 0)
				r = posix_spawn(&pid, dm->hook, &fa, &attr, argv, envp);
			posix_spawnattr_destroy(&attr);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	hook_envp_free(envp);
	if (r != 0) {
		log_msg(LOG_ERR, "%s: cannot execute loss hook %s: %s", dev, dm->hook, strerror(r));
		return -r;
	}
	log_msg(LOG_NOTICE, "%s: running loss hook %s %s %s %s (pid %d)", dev, dm->hook, dev, event,
		key, (int)pid);
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

/*
 * STATE_DIR/state/leases (table-state.c): written to leases.tmp (a stale one is removed first,
 * the new one is created exclusively, so a planted link is never followed), fsync, renamed over
 * the old one, and the directory fsynced so that the rename itself is durable. Mode 0600: it
 * lists the protected processes.
 */
static int state_tmp_create(struct daemon *dm)
{
	int fd = openat(dm->state_fd, "leases.tmp",
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

/*
 * A flood of connections may have taken every fd: the control socket's reserve fd (main
 * thread, as this) is given up for the state file and taken again after.
 */
static int state_tmp_open(struct daemon *dm)
{
	int fd = state_tmp_create(dm);

	if ((fd == -EMFILE || fd == -ENFILE) && dm->reserve_fd >= 0) {
		close(dm->reserve_fd);
		dm->reserve_fd = -1; /* taken again by op_state_write() once fd is closed */
		fd = state_tmp_create(dm);
	}
	return fd;
}

static int op_state_write(void *userdata, const char *buf, size_t len)
{
	struct daemon *dm = userdata;
	_cleanup_close_ int fd = -1;
	size_t off = 0;
	int r = 0;

	if (unlinkat(dm->state_fd, "leases.tmp", 0) < 0 && errno != ENOENT)
		r = -errno;
	if (!r) {
		fd = state_tmp_open(dm);
		if (fd < 0)
			r = fd;
	}
	while (!r && off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (!r && renameat(dm->state_fd, "leases.tmp", dm->state_fd, "leases") < 0)
		r = -errno;
	if (!r && fsync(dm->state_fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(TAKE_FD(fd));
	if (dm->reserve_fd < 0)
		dm->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (r < 0) {
		log_limited(&dm->state_log, LOG_ERR,
			    "Failed to write %s/state/leases: %s; a restart would not re-adopt the "
			    "leases",
			    dm->state_dir, strerror(-r));
		unlinkat(dm->state_fd, "leases.tmp", 0);
	}
	return r;
}

/*
 * The run user owns the state file's directory, so the file is checked before it is read (as
 * root, at the next start): no link followed, a regular file with one link (O_NONBLOCK: a FIFO
 * must not block the start), owned by the run user or by us, writable by nobody else. Anything
 * else is refused: ignoring it would forget leases the storage still holds.
 */
static int state_load(struct daemon *dm)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *text = NULL;
	char path[4200];
	size_t len = 0;
	struct stat st;
	FILE *m;
	char buf[8192];
	size_t n;
	int fd, r;

	snprintf(path, sizeof(path), "%s/state/leases", dm->state_dir);
	fd = openat(dm->state_fd, "leases", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		if (r == -ELOOP)
			log_msg(LOG_ERR, "%s is a symbolic link; refusing to read it", path);
		else
			log_msg(LOG_ERR, "Failed to read %s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != geteuid() && st.st_uid != dm->state_owner &&
	     !(dm->drop_user && st.st_uid == dm->run_uid)) ||
	    (st.st_mode & 022)) {
		log_msg(LOG_ERR,
			"%s is not a regular file with one link, owned by the run user (or "
			"an earlier one) and writable only by it; refusing to read it",
			path);
		close(fd);
		return -EPERM;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
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

/* st grants the bits want (of 07: r 4, w 2, x 1) to the owner of a lease (no ACLs read). */
static bool may(const struct stat *st, const struct table_cred *o, mode_t want)
{
	bool member = st->st_gid == o->gid;

	if (st->st_uid == o->uid)
		return (st->st_mode & (want << 6)) == want << 6;
	for (size_t i = 0; i < o->n_groups && !member; i++)
		member = o->groups[i] == st->st_gid;
	if (member)
		return (st->st_mode & (want << 3)) == want << 3;
	return (st->st_mode & want) == want;
}

#define WALK_LINKS_MAX 40 /* as the kernel's path walk (ELOOP) */

/*
 * Resolve the absolute path dev as the owner o would: one component at a time with
 * openat(O_PATH | O_NOFOLLOW), each directory searched only if o may search it (x by its mode
 * bits), symbolic links read (readlinkat on the O_PATH fd) and followed, at most
 * WALK_LINKS_MAX. O_PATH opens nothing, so no device or FIFO is touched. Returns the O_PATH fd
 * of the last component, or -EPERM for anything the owner could not reach (a missing name
 * included: one answer, so that a member learns nothing of directories it cannot search).
 */
static int walk_as(const char *dev, const struct table_cred *o)
{
	_cleanup_free_ char *path = strdup(dev);
	_cleanup_close_ int dir = -1;
	unsigned links = 0;
	char *rest;

	if (!path)
		return -ENOMEM;
	rest = path;
	for (;;) {
		_cleanup_close_ int fd = -1;
		struct stat st;
		char *name;
		size_t len;

		if (*rest == '/') {
			if (dir >= 0)
				close(dir);
			dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (dir < 0)
				return -EPERM;
			rest += strspn(rest, "/");
		}
		if (!*rest)
			return -EPERM; /* a path that ends in a directory: not a device node */
		if (fstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !may(&st, o, 01))
			return -EPERM; /* the owner may not look up names in it */
		name = rest;
		len = strcspn(rest, "/");
		rest += len;
		if (*rest)
			*rest++ = '\0';
		rest += strspn(rest, "/");
		fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			return -EPERM;
		if (S_ISLNK(st.st_mode)) {
			_cleanup_free_ char *np = NULL;
			char target[PATH_MAX];
			ssize_t n;

			if (++links > WALK_LINKS_MAX)
				return -EPERM;
			n = readlinkat(fd, "", target, sizeof(target));
			if (n <= 0 || (size_t)n >= sizeof(target))
				return -EPERM;
			target[n] = '\0';
			if (asprintf(&np, "%s%s%s", target, *rest ? "/" : "", rest) < 0)
				return -ENOMEM;
			free(path);
			path = TAKE_PTR(np);
			rest = path;
			continue; /* relative: from dir, as the kernel does */
		}
		if (!*rest)
			return TAKE_FD(fd);
		close(dir);
		dir = TAKE_FD(fd);
	}
}

/*
 * A /dev path of a non-root owner is resolved once, here, to an O_PATH descriptor (which opens
 * nothing: no device's open has side effects yet, a FIFO does not block), as the owner would
 * resolve it (walk_as: search permission on every directory on the way, links included), so a
 * path the owner could not reach and a missing one get the same answer; that inode is what is
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
	pfd = walk_as(dev, &o);
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		return -ENOTTY; /* the owner could see that itself */
	if (!may(&st, &o, 06))
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

static void op_log_owner(void *userdata, uid_t owner, int prio, const char *msg)
{
	log_uid(userdata, owner, prio, "%s", msg);
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
		.log_owner = op_log_owner,
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
	r = procs_new(&dm->procs);
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to create the lease table: %s", strerror(-r));
		return r;
	}
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
	dm->procs = procs_free(dm->procs);
}
