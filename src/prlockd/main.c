/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prlockd: holds this host's leases. One main loop (poll) serves the control socket and
 * schedules every held lease each period; a small fixed pool of worker threads runs the
 * device commands (pool.c), so a stuck device never stalls the others (docs/prlockd.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "lunlock.h"
#include "prlockd.h"

int log_max_level = LOG_INFO;

void log_msg(int prio, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (prio > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "<%d>%s\n", prio, buf);
}

void log_limited(struct log_limit *ll, int prio, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	log_limit_flush(ll);
	if (ll->n >= (ll->burst ?: PRLOCKD_LOG_BURST)) {
		ll->suppressed++;
		return;
	}
	if (!ll->n++)
		ll->begin = mono_ms();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(prio, "%s", buf);
}

uint64_t log_limit_flush(struct log_limit *ll)
{
	if (ll->n && mono_ms() - ll->begin >= PRLOCKD_LOG_INTERVAL_MS) {
		if (ll->suppressed)
			log_msg(LOG_WARNING, "%s: suppressed %u similar message(s) in %u s",
				ll->what, ll->suppressed, PRLOCKD_LOG_INTERVAL_MS / 1000);
		ll->n = ll->suppressed = 0;
	}
	return ll->suppressed ? ll->begin + PRLOCKD_LOG_INTERVAL_MS : UINT64_MAX;
}

/*
 * A line a member provoked (its requests, its leases' renewals): rate-limited per uid, so one
 * member's flood neither fills the journal nor hides another's lines. Errors and worse, and
 * debug lines (-v), are not limited.
 */
void log_uid(struct daemon *dm, uid_t uid, int prio, const char *fmt, ...)
{
	struct log_limit *ll = NULL;
	char buf[2048];
	va_list ap;

	if (prio > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (uid == 0 || prio <= LOG_ERR || prio >= LOG_DEBUG) {
		log_msg(prio, "%s", buf);
		return;
	}
	for (size_t i = 0; i < dm->n_uid_logs && !ll; i++)
		if (dm->uid_logs[i].uid == uid)
			ll = &dm->uid_logs[i].ll;
	for (size_t i = 0; i < dm->n_uid_logs && !ll; i++) {
		struct uid_log *u = &dm->uid_logs[i];

		log_limit_flush(&u->ll);
		if (!u->ll.n) /* its interval is over: the place is free */
			ll = &u->ll;
	}
	if (!ll && dm->n_uid_logs < PRLOCKD_LOG_UIDS)
		ll = &dm->uid_logs[dm->n_uid_logs++].ll;
	if (ll) {
		struct uid_log *u = (struct uid_log *)((char *)ll - offsetof(struct uid_log, ll));

		if (u->uid != uid || !ll->what) {
			*u = (struct uid_log){.uid = uid};
			snprintf(u->what, sizeof(u->what), "uid %u", (unsigned)uid);
			u->ll = (struct log_limit){.what = u->what, .burst = PRLOCKD_LOG_UID_BURST};
		}
	} else {
		ll = &dm->uid_log_rest;
		ll->what = "members' messages";
		ll->burst = PRLOCKD_LOG_UID_BURST;
	}
	log_limited(ll, prio, "%s", buf);
}

void log_uid_flush(struct daemon *dm)
{
	log_limit_flush(&dm->uid_log_rest);
	for (size_t i = 0; i < dm->n_uid_logs; i++)
		log_limit_flush(&dm->uid_logs[i].ll);
}

uint64_t log_uid_next(const struct daemon *dm)
{
	const struct log_limit *r = &dm->uid_log_rest;
	uint64_t w = r->suppressed ? r->begin + PRLOCKD_LOG_INTERVAL_MS : UINT64_MAX;

	for (size_t i = 0; i < dm->n_uid_logs; i++) {
		const struct log_limit *ll = &dm->uid_logs[i].ll;

		if (ll->suppressed && ll->begin + PRLOCKD_LOG_INTERVAL_MS < w)
			w = ll->begin + PRLOCKD_LOG_INTERVAL_MS;
	}
	return w;
}

/*
 * The soft limit of open files up to the hard one: connections, pidfds and devices share it,
 * and running out of them must not be what a flood of connections can cause.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_msg(LOG_WARNING, "Failed to raise the open files limit: %m");
	}
}

/* libsgpr's messages (from the worker threads): the daemon's log, filtered as its own. */
static void lib_log(void *userdata, int priority, const char *msg)
{
	log_msg(priority, "%s", msg);
}

uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void help(void)
{
	printf("Usage: prlockd [OPTIONS]\n\n"
	       "Holds this host's SCSI persistent reservation leases: renews them every lease\n"
	       "period, stops the protected processes when one is lost, and serves prlock on a\n"
	       "control socket. SIGTERM/SIGINT exit WITHOUT releasing (a restart re-adopts).\n\n"
	       "  --config FILE          configuration file (default " SGPR_CONFIG_DEFAULT ")\n"
	       "  --host-id N            this host's id, 1..65535\n"
	       "  --cluster NAME         key namespace (default \"" SGPR_CLUSTER_DEFAULT "\")\n"
	       "  --initiator IQN        iSCSI initiator name of this host\n"
	       "  --type T               default reservation type (write-exclusive-reg-only)\n"
	       "  --lease-period S       lease period L (default 2)\n"
	       "  --dead-after S         a holder key unchanged this long is dead (default 3.5 L)\n"
	       "  --kill-grace S         SIGTERM to SIGKILL on a lost lease (default 5)\n"
	       "  --command-timeout MS   per-command timeout (default: L, at least 1000)\n"
	       "  --workers N            threads that run device commands (default 4)\n"
	       "  --control PATH         control socket (default " PRLOCKD_CONTROL_DEFAULT ")\n"
	       "  --state-dir DIR        leases file and lock (default " PRLOCKD_STATE_DIR_DEFAULT
	       ")\n"
	       "  --pr-socket PATH|none  QEMU pr-manager-helper socket (default\n"
	       "                         " PRLOCKD_PR_SOCKET_DEFAULT "); 'none': no such socket\n"
	       "  --pr-socket-mode MODE  its mode, octal (default 0660)\n"
	       "  --pr-socket-group GRP  its group (default: prlockd's)\n"
	       "  --control none         no control socket (a pr-helper-only daemon)\n"
	       "  --user USER            run as USER after start (default: config key user)\n"
	       "  --group GROUP          run with this group after start\n"
	       "  --keep-privileges      do not drop capabilities after start\n"
	       "  -v, --verbose          debug messages (every renewal)\n"
	       "  -h, --help             this help\n");
}

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("prlockd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

enum {
	ARG_CONFIG = 0x100,
	ARG_HOST_ID,
	ARG_CLUSTER,
	ARG_INITIATOR,
	ARG_TYPE,
	ARG_LEASE_PERIOD,
	ARG_DEAD_AFTER,
	ARG_KILL_GRACE,
	ARG_TIMEOUT,
	ARG_WORKERS,
	ARG_CONTROL,
	ARG_STATE_DIR,
	ARG_PR_SOCKET,
	ARG_PR_SOCKET_MODE,
	ARG_PR_SOCKET_GROUP,
	ARG_USER,
	ARG_GROUP,
	ARG_KEEP_PRIVILEGES,
};

/*
 * --pr-socket-mode/--pr-socket-group: who may connect to prlockd's own pr-helper socket (a
 * container's private path, docs/CONTAINERS.md); systemd's socket has SocketMode=/SocketGroup=.
 */
static int parse_pr_socket_access(struct daemon *dm, const char *mode, const char *group)
{
	char *end;

	if (mode) {
		unsigned long v = strtoul(mode, &end, 8);

		if (!*mode || *end || v > 0777 || (v & 0600) != 0600)
			return usage("--pr-socket-mode '%s': expected an octal mode 0600..0777 "
				     "(the owner must read and write)",
				     mode);
		dm->pr_socket_mode = (mode_t)v;
		dm->pr_socket_mode_given = true;
	}
	if (group) {
		if (lookup_group(group, &dm->pr_socket_gid) < 0)
			return usage("--pr-socket-group '%s': no such group", group);
		dm->pr_socket_has_gid = true;
	}
	if ((mode || group) && !dm->pr_socket)
		return usage("--pr-socket-mode/--pr-socket-group need a pr-helper socket, not "
			     "'none'");
	return 0;
}

/* Returns <0 on a usage error, 0 to exit (help), >0 to run. */
static int parse_argv(int argc, char **argv, struct daemon *dm)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"verbose", no_argument, NULL, 'v'},
		{"config", required_argument, NULL, ARG_CONFIG},
		{"host-id", required_argument, NULL, ARG_HOST_ID},
		{"cluster", required_argument, NULL, ARG_CLUSTER},
		{"initiator", required_argument, NULL, ARG_INITIATOR},
		{"type", required_argument, NULL, ARG_TYPE},
		{"lease-period", required_argument, NULL, ARG_LEASE_PERIOD},
		{"dead-after", required_argument, NULL, ARG_DEAD_AFTER},
		{"kill-grace", required_argument, NULL, ARG_KILL_GRACE},
		{"command-timeout", required_argument, NULL, ARG_TIMEOUT},
		{"workers", required_argument, NULL, ARG_WORKERS},
		{"control", required_argument, NULL, ARG_CONTROL},
		{"state-dir", required_argument, NULL, ARG_STATE_DIR},
		{"pr-socket", required_argument, NULL, ARG_PR_SOCKET},
		{"pr-socket-mode", required_argument, NULL, ARG_PR_SOCKET_MODE},
		{"pr-socket-group", required_argument, NULL, ARG_PR_SOCKET_GROUP},
		{"user", required_argument, NULL, ARG_USER},
		{"group", required_argument, NULL, ARG_GROUP},
		{"keep-privileges", no_argument, NULL, ARG_KEEP_PRIVILEGES},
		{}};
	struct config_args a = {};
	const char *workers = NULL, *pr_socket = NULL, *user = NULL, *group = NULL;
	const char *pr_mode = NULL, *pr_group = NULL;
	char msg[768];
	int o, r;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":hv", options, NULL)) >= 0) {
		switch (o) {
		case 'h':
			help();
			return 0;
		case 'v':
			log_max_level = LOG_DEBUG;
			break;
		case ARG_CONFIG:
			a.config = optarg;
			break;
		case ARG_HOST_ID:
			a.host_id = optarg;
			break;
		case ARG_CLUSTER:
			a.cluster = optarg;
			break;
		case ARG_INITIATOR:
			a.initiator = optarg;
			break;
		case ARG_TYPE:
			a.type = optarg;
			break;
		case ARG_LEASE_PERIOD:
			a.lease_period = optarg;
			break;
		case ARG_DEAD_AFTER:
			a.dead_after = optarg;
			break;
		case ARG_KILL_GRACE:
			a.kill_grace = optarg;
			break;
		case ARG_TIMEOUT:
			a.timeout = optarg;
			break;
		case ARG_WORKERS:
			workers = optarg;
			break;
		case ARG_CONTROL:
			dm->control_path = optarg;
			break;
		case ARG_STATE_DIR:
			dm->state_dir = optarg;
			break;
		case ARG_PR_SOCKET:
			pr_socket = optarg;
			break;
		case ARG_PR_SOCKET_MODE:
			pr_mode = optarg;
			break;
		case ARG_PR_SOCKET_GROUP:
			pr_group = optarg;
			break;
		case ARG_USER:
			user = optarg;
			break;
		case ARG_GROUP:
			group = optarg;
			break;
		case ARG_KEEP_PRIVILEGES:
			dm->keep_privileges = true;
			break;
		case ':':
			return usage("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);

	r = config_resolve(&a, &dm->cfg, &dm->ns, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "prlockd: %s\n", msg);
		return r; /* -EINVAL: a usage error */
	}
	if (msg[0])
		log_msg(LOG_WARNING, "%s", msg);
	if (workers && parse_uint(workers, 1, PRLOCKD_WORKERS_MAX, &dm->cfg.workers) < 0)
		return usage("--workers '%s': expected 1..%u", workers, PRLOCKD_WORKERS_MAX);
	dm->n_workers = dm->cfg.workers ?: PRLOCKD_DEFAULT_WORKERS;
	if (pr_socket) {
		if (strcmp(pr_socket, "none") != 0 &&
		    (pr_socket[0] != '/' || strlen(pr_socket) >= sizeof(dm->cfg.pr_socket)))
			return usage("--pr-socket '%s': expected an absolute path (at most 107 "
				     "bytes) or 'none'",
				     pr_socket);
		strcpy(dm->cfg.pr_socket, pr_socket);
	}
	dm->pr_socket_given = dm->cfg.pr_socket[0] != 0;
	if (strcmp(dm->cfg.pr_socket, "none") == 0)
		dm->pr_socket = NULL;
	else
		dm->pr_socket =
			dm->cfg.pr_socket[0] ? dm->cfg.pr_socket : PRLOCKD_PR_SOCKET_DEFAULT;
	if (strcmp(dm->control_path, "none") == 0)
		dm->control_path = NULL;
	r = parse_pr_socket_access(dm, pr_mode, pr_group);
	if (r < 0)
		return r;
	/* the command line's --user, else the config's user; --keep-privileges: neither */
	if (!user && dm->cfg.user[0] && !dm->keep_privileges)
		user = dm->cfg.user;
	if (user) {
		gid_t gid;

		r = lookup_user(user, &dm->run_uid, &gid);
		if (r < 0)
			return user == dm->cfg.user
				       ? usage("user '%s' (config): no such user", user)
				       : usage("--user '%s': no such user", user);
		if (r > 0 && !group) { /* a named user brings its primary group */
			dm->run_gid = gid;
			dm->drop_group = true;
		}
		dm->drop_user = true;
	}
	if (group) {
		if (lookup_group(group, &dm->run_gid) < 0)
			return usage("--group '%s': no such group", group);
		dm->drop_group = true;
	}
	if (dm->keep_privileges && (user || group))
		return usage("--keep-privileges and --user/--group exclude each other");

	dm->period_ms = dm->cfg.lease_period_ms;
	dm->dead_after_ms = dm->cfg.dead_after_ms;
	dm->kill_grace_ms = dm->cfg.kill_grace_ms;
	if (dm->cfg.group[0]) {
		struct group *g = getgrnam(dm->cfg.group);

		if (!g)
			return usage("group '%s' (config): no such group", dm->cfg.group);
		dm->group = g->gr_gid;
		dm->has_group = true;
	}
	if (strncmp(dm->cfg.loss_action, "hook:", 5) == 0)
		dm->hook = dm->cfg.loss_action + 5;
	/*
	 * A device that stops answering holds its worker for one command timeout (plus the
	 * library's bounded retries), and its own renewal is late by that much; the other
	 * devices go on on the other workers. Unless configured, the timeout is one lease period
	 * (at least 1 s), which dead_after (3.5 L) absorbs.
	 */
	dm->dev_opts = (struct sgpr_dev_opts){
		.size = sizeof(struct sgpr_dev_opts),
		.initiator = dm->cfg.initiator,
		.host_id = dm->cfg.host_id,
		.timeout_ms = dm->cfg.timeout_ms ?: (dm->period_ms > 1000 ? dm->period_ms : 1000),
		.log_fn = lib_log, /* reconnects, registrations re-established, failed paths */
	};
	dm->dev_opts.connect_timeout_ms =
		dm->dev_opts.timeout_ms < 5000 ? dm->dev_opts.timeout_ms : 5000;
	return 1;
}

static int mkdir_parents(const char *path);

int mkdir_parents_of(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	return mkdir_parents(dir);
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The state directory (docs/prlockd.md, "Files"): DIR belongs to the daemon's starting user
 * (root) and holds the lock and, by default, the sockets; DIR/state belongs to the run user
 * (--user) and holds the state file, which that user rewrites after the privilege drop. Every
 * entry is opened relative to a directory fd without following links, and checked: a run user
 * must not make the next start (as root) open or read another file.
 */
static int open_dir_checked(int at, const char *name, const char *path, int *ret)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		int r = -errno;

		if (r == -ELOOP || r == -ENOTDIR)
			log_msg(LOG_ERR, "%s is not a directory (a symbolic link?); refusing",
				path);
		else
			log_msg(LOG_ERR, "Failed to open %s: %s", path, strerror(-r));
		return r;
	}
	*ret = fd;
	return 0;
}

static int open_state_dir(struct daemon *dm, int dfd)
{
	uid_t owner = dm->drop_user ? dm->run_uid : geteuid();
	gid_t gowner = dm->drop_group ? dm->run_gid : getegid();
	char path[4200];
	struct stat st, old;
	int fd, r;

	snprintf(path, sizeof(path), "%s/state", dm->state_dir);
	if (mkdirat(dfd, "state", 0700) < 0 && errno != EEXIST) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to create %s: %m", path);
		return r;
	}
	r = open_dir_checked(dfd, "state", path, &fd);
	if (r < 0)
		return r;
	/* ours (DIR is): give it to the run user, whoever had it before */
	if (fstat(fd, &st) < 0 ||
	    ((st.st_uid != owner || st.st_gid != gowner) && fchown(fd, owner, gowner) < 0) ||
	    ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to give %s to uid %u: %m", path, (unsigned)owner);
		close(fd);
		return r;
	}
	dm->state_fd = fd;
	dm->state_owner = st.st_uid;
	/* an earlier version kept the state file in DIR itself: move it (its checks follow) */
	if (fstatat(dfd, "leases", &old, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(fd, "leases", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		if (renameat(dfd, "leases", fd, "leases") < 0) {
			r = -errno;
			log_msg(LOG_ERR, "Failed to move %s/leases to %s/leases: %m", dm->state_dir,
				path);
			return r;
		}
		log_msg(LOG_NOTICE, "Moved %s/leases to %s/leases", dm->state_dir, path);
	}
	unlinkat(dfd, "leases.tmp", 0);
	return 0;
}

/* One daemon per state directory: an flock held for the process' life. */
static int lock_state_dir(struct daemon *dm)
{
	_cleanup_close_ int dfd = -1;
	char path[4200];
	struct stat st;
	uid_t me = geteuid();
	int fd, r;

	r = mkdir_parents(dm->state_dir);
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to create state directory %s: %s", dm->state_dir,
			strerror(-r));
		return r;
	}
	r = open_dir_checked(AT_FDCWD, dm->state_dir, dm->state_dir, &dfd);
	if (r < 0)
		return r;
	if (fstat(dfd, &st) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to stat %s: %m", dm->state_dir);
		return r;
	}
	if (st.st_uid != me && dm->drop_user && st.st_uid == dm->run_uid) {
		/* earlier versions gave DIR itself to the run user: take it back */
		if (fchown(dfd, me, getegid()) < 0 || fchmod(dfd, st.st_mode & 0755) < 0) {
			r = -errno;
			log_msg(LOG_ERR, "Failed to take %s back from uid %u: %m", dm->state_dir,
				(unsigned)st.st_uid);
			return r;
		}
		log_msg(LOG_NOTICE,
			"Took %s back from uid %u (the run user owns only %s/state now)",
			dm->state_dir, (unsigned)st.st_uid, dm->state_dir);
	} else if (st.st_uid != me || (st.st_mode & 022)) {
		log_msg(LOG_ERR,
			"State directory %s is owned by uid %u with mode %03o; expected uid %u and "
			"no write access for group or others; refusing",
			dm->state_dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			(unsigned)me);
		return -EPERM;
	}
	snprintf(path, sizeof(path), "%s/lock", dm->state_dir);
	fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			log_msg(LOG_ERR, "%s is a symbolic link; refusing", path);
		else
			log_msg(LOG_ERR, "Failed to open %s: %m", path);
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != me || st.st_nlink != 1) {
		log_msg(LOG_ERR, "%s is not a regular file of uid %u with one link; refusing", path,
			(unsigned)me);
		close(fd);
		return -EPERM;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Another prlockd uses state directory %s (%s is locked)",
			dm->state_dir, path);
		close(fd);
		return r;
	}
	dm->lock_fd = fd;
	return open_state_dir(dm, dfd);
}

/*
 * With --user, the run user takes the LUN locks (lunlock.h) after the drop: it gets the lock
 * directory if root has it (root's `prlock run` still locks there; lun_lock() accepts the
 * directory owner's files).
 */
static int give_lock_dir(struct daemon *dm)
{
	const char *dir = getenv("SGPR_LOCK_DIR") ?: SGPR_LOCK_DIR_DEFAULT;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (!dm->drop_user || dm->run_uid == geteuid())
		return 0;
	r = mkdir_parents_of(dir);
	if (r >= 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
		r = -errno;
	if (r >= 0)
		r = open_dir_checked(AT_FDCWD, dir, dir, &fd);
	if (r >= 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to prepare the LUN lock directory %s: %s", dir,
			strerror(-r));
		return r;
	}
	if (st.st_uid == dm->run_uid)
		return 0;
	if (st.st_uid != 0) {
		log_msg(LOG_ERR, "LUN lock directory %s belongs to uid %u, not to root or uid %u",
			dir, (unsigned)st.st_uid, (unsigned)dm->run_uid);
		return -EPERM;
	}
	if (fchown(fd, dm->run_uid, dm->drop_group ? dm->run_gid : (gid_t)-1) < 0 ||
	    fchmod(fd, 0700) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to give %s to uid %u: %m", dir, (unsigned)dm->run_uid);
		return r;
	}
	log_msg(LOG_NOTICE, "Gave the LUN lock directory %s to uid %u", dir, (unsigned)dm->run_uid);
	return 0;
}

static int setup_signals(struct daemon *dm)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	dm->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (dm->signal_fd < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon dm = {
		.control_path = PRLOCKD_CONTROL_DEFAULT,
		.state_dir = PRLOCKD_STATE_DIR_DEFAULT,
		.listen_fd = -1,
		.signal_fd = -1,
		.lock_fd = -1,
		.state_fd = -1,
		.pool_fd = -1,
		.reserve_fd = -1,
		.paths_fd = -1,
		.refused_log = {.what = "control: refused connections"},
		.busy_log = {.what = "control: connections over a limit"},
		.emfile_log = {.what = "control: accept out of file descriptors"},
		.state_log = {.what = "state file: write failures"},
	};
	int r;

	if (pr_helper_name(argv[0])) /* a qemu-pr-helper drop-in (pr-helper.c) */
		return pr_helper_main(argc, argv);
	pthread_mutex_init(&dm.held_lock, NULL);
	dm.prh_fd = -1;
	r = parse_argv(argc, argv, &dm);
	if (r <= 0) /* an unreadable configuration file is a start-up failure, not usage */
		return r == 0 ? 0 : r == -EINVAL ? 2 : 1;
	raise_nofile();
	r = setup_signals(&dm);
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to set up signals: %s", strerror(-r));
		return 1;
	}
	r = lock_state_dir(&dm);
	if (r < 0)
		return 1;
	r = give_lock_dir(&dm);
	if (r < 0)
		return 1;
	r = leases_open(&dm);
	if (r < 0)
		return 1;
	if (dm.control_path) {
		r = control_listen(&dm);
		if (r < 0) {
			leases_close(&dm);
			return 1;
		}
	}
	r = prh_open_socket(&dm);
	if (r < 0)
		return 1;
	r = paths_open(&dm);
	if (r < 0)
		return 1;
	/* before any thread starts: capset() changes the calling thread only */
	r = drop_privileges(&dm);
	if (r < 0)
		return 1;
	r = pool_start(&dm);
	if (r < 0)
		return 1;
	r = prh_start(&dm);
	if (r < 0)
		return 1;
	log_msg(LOG_INFO,
		"prlockd started: host %u, cluster \"%s\", initiator %s, lease period %u ms, "
		"dead after %u ms, loss action %s, %u workers, control %s, pr-helper %s",
		dm.cfg.host_id, dm.cfg.cluster, dm.cfg.initiator, dm.period_ms, dm.dead_after_ms,
		dm.hook ? dm.cfg.loss_action : "kill", dm.n_workers, dm.control_path ?: "none",
		dm.prh_activated ? "fd 3 from systemd" : dm.pr_socket ?: "none");
	prh_policy_refresh(&dm);
	table_adopt_all(dm.table);

	/*
	 * The main thread never waits for a device: it serves the control socket, applies the
	 * results of finished jobs, runs the deferred requests, and hands due entries to the
	 * workers.
	 */
	while (!dm.quit) {
		uint64_t now = mono_ms(), wake = table_next_wakeup(dm.table);
		uint64_t cw = clients_next_wakeup(&dm), pw = pool_next_wakeup(&dm);
		uint64_t mw = paths_next_wakeup(&dm);
		struct table_job *job;
		int timeout;

		if (cw < wake)
			wake = cw;
		if (pw < wake)
			wake = pw;
		if (mw < wake)
			wake = mw;
		if (wake == UINT64_MAX)
			timeout = -1;
		else
			timeout = wake > now ? (int)(wake - now > 60000 ? 60000 : wake - now) : 0;
		serve(&dm, timeout);
		if (dm.quit)
			break;
		while ((job = pool_take_done(&dm)))
			table_job_done(dm.table, job);
		paths_tick(&dm);
		table_tick(dm.table);
		leases_gc(&dm);
		pool_check_stuck(&dm);
		prh_policy_refresh(&dm);
	}
	/*
	 * Leases are kept on purpose: the storage holds them, the state file names them, and the
	 * next prlockd re-adopts them. "release" is the way to give one up.
	 */
	log_msg(LOG_NOTICE,
		"prlockd exiting without releasing: %zu lease(s) kept; renew them by starting "
		"prlockd again within dead_after (%u ms)",
		table_count_held(dm.table), dm.dead_after_ms);
	prh_stop(&dm); /* requests in flight finish and get their replies */
	control_close(&dm);
	pool_stop(&dm); /* no worker touches an entry after this */
	leases_close(&dm);
	paths_close(&dm);
	return 0;
}
