/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prlockd started as prlockd-pr-helper: a drop-in for qemu-pr-helper where libvirt starts one
 * per domain (qemu.conf pr_helper, <reservations managed='yes'/>; docs/LIBVIRT.md).
 *
 * libvirt runs "PR_HELPER -k SOCKET" after unlinking SOCKET, daemonizes the child itself, writes
 * its pidfile, and waits for SOCKET to appear (or the process to die: then it reports what the
 * helper wrote on stderr). So the helper stays in the foreground, writes no pidfile unless -f
 * asks, and creates SOCKET only when it serves. It takes qemu-pr-helper's options.
 *
 * The same binary as prlockd (one copy of the pr-helper server and of its policy, prh.c): no
 * leases, no state directory, no control socket of its own. The policy's held set is the
 * running prlockd's ("held" control request), asked for before every PR OUT with a bounded
 * wait; no prlockd (no control socket, or nobody listening): this host holds nothing. Any other
 * failure to learn the set refuses the PR OUT: a guest never changes the registrations of a LUN
 * because prlockd was slow to answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "../prlock/json-read.h"
#include "cleanup.h"
#include "config.h"
#include "prh-server.h"
#include "prlockd.h"

#define HELPER_NAME "prlockd-pr-helper"
#define HELPER_SOCKET_DEFAULT "/run/qemu-pr-helper.sock" /* qemu-pr-helper's default */
#define HELPER_HELD_TIMEOUT_MS 2000u			 /* for prlockd's answer to "held" */
#define HELPER_HELD_MAX (1u << 20)			 /* bytes of that answer */
#define HELPER_HELD_DEVNUMS_MAX 64u /* device numbers per held LUN (a map and its paths) */

bool pr_helper_name(const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;

	base = base ? base + 1 : argv0;
	return base && strcmp(base, HELPER_NAME) == 0;
}

struct helper {
	struct daemon dm; /* held set and privileges, as prlockd's */
	const char *control;
	const char *config; /* NULL: SGPR_CONFIG_DEFAULT, may be missing */
	const char *pidfile;
	pthread_mutex_t query_lock; /* one "held" question at a time; its answer, then policy */
};

static void help(void)
{
	printf("Usage: " HELPER_NAME " [OPTIONS]\n\n"
	       "A drop-in for qemu-pr-helper (libvirt's qemu.conf pr_helper): serves QEMU's\n"
	       "pr-manager-helper protocol on SOCKET in the foreground and refuses guest PR OUT "
	       "on\n"
	       "LUNs this host's prlockd holds a lease on.\n\n"
	       "  -k, --socket=PATH      the socket (default " HELPER_SOCKET_DEFAULT ")\n"
	       "  -f, --pidfile=PATH     write the pid there once the socket listens\n"
	       "  -u, --user=USER        run as USER after start (keeps CAP_SYS_RAWIO)\n"
	       "  -g, --group=GROUP      run with GROUP after start\n"
	       "  -q, --quiet            warnings and errors only\n"
	       "  -v, --verbose          debug messages\n"
	       "  --control PATH         prlockd's control socket (default " PRLOCKD_CONTROL_DEFAULT
	       ")\n"
	       "  --config FILE          this host's cluster and host id "
	       "(default " SGPR_CONFIG_DEFAULT ")\n"
	       "  -h, --help             this help\n"
	       "  -V, --version          the version\n\n"
	       "Not supported (refused): -d/--daemon (libvirt and systemd daemonize it),\n"
	       "-T/--trace (QEMU trace events; use -v).\n");
}

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs(HELPER_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

enum { ARG_CONTROL = 0x100, ARG_CONFIG };

/* Returns <0 on a usage error, 0 to exit (help, version), >0 to run. */
static int parse_argv(int argc, char **argv, struct helper *h)
{
	static const struct option options[] = {{"help", no_argument, NULL, 'h'},
						{"version", no_argument, NULL, 'V'},
						{"socket", required_argument, NULL, 'k'},
						{"pidfile", required_argument, NULL, 'f'},
						{"user", required_argument, NULL, 'u'},
						{"group", required_argument, NULL, 'g'},
						{"daemon", no_argument, NULL, 'd'},
						{"trace", required_argument, NULL, 'T'},
						{"quiet", no_argument, NULL, 'q'},
						{"verbose", no_argument, NULL, 'v'},
						{"control", required_argument, NULL, ARG_CONTROL},
						{"config", required_argument, NULL, ARG_CONFIG},
						{}};
	struct daemon *dm = &h->dm;
	const char *user = NULL, *group = NULL;
	char msg[512];
	int o, r;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":hVk:f:u:g:dT:qv", options, NULL)) >= 0) {
		switch (o) {
		case 'h':
			help();
			return 0;
		case 'V':
			printf(HELPER_NAME " (sgpr) " SGPR_VERSION "\n");
			return 0;
		case 'k':
			dm->pr_socket = optarg;
			dm->pr_socket_given = true; /* then fd 3 from systemd is refused */
			break;
		case 'f':
			h->pidfile = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'd':
			return usage("--daemon is not supported: " HELPER_NAME
				     " stays in the foreground (libvirt and systemd daemonize it)");
		case 'T':
			return usage("--trace is not supported (no QEMU trace events here); use "
				     "-v for debug messages");
		case 'q':
			log_max_level = LOG_WARNING;
			break;
		case 'v':
			log_max_level = LOG_DEBUG;
			break;
		case ARG_CONTROL:
			h->control = optarg;
			break;
		case ARG_CONFIG:
			h->config = optarg;
			break;
		case ':':
			return usage("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	/*
	 * The guard (prh-guard.c) tells sgpr keys by this host's cluster namespace and host id, as
	 * prlockd would. libvirt passes neither: they come from the configuration file (a missing
	 * default file is fine) and /etc/machine-id; without a host id the guard's own-registration
	 * rule takes every sgpr key for this host's (prh_guard_decide(): stricter, never looser).
	 */
	strcpy(dm->cfg.cluster, SGPR_CLUSTER_DEFAULT);
	r = config_load(h->config ?: SGPR_CONFIG_DEFAULT, &dm->cfg, msg, sizeof(msg));
	if (r < 0 && !(r == -ENOENT && !h->config)) {
		fprintf(stderr, HELPER_NAME ": config %s\n", msg);
		return -EINVAL;
	}
	dm->ns = sgpr_ns_from_cluster(dm->cfg.cluster);
	if (!dm->cfg.host_id && host_id_from_machine_id(SGPR_MACHINE_ID, &dm->cfg.host_id) < 0)
		log_msg(LOG_WARNING, "no host id (host_id in the configuration, or " SGPR_MACHINE_ID
				     "): the guard takes every sgpr key for this host's own");
	if (dm->pr_socket[0] != '/' || strlen(dm->pr_socket) >= sizeof(dm->cfg.pr_socket))
		return usage("--socket '%s': expected an absolute path of at most 107 bytes",
			     dm->pr_socket);
	if (h->pidfile && h->pidfile[0] != '/')
		return usage("--pidfile '%s': expected an absolute path", h->pidfile);
	if (h->control[0] != '/')
		return usage("--control '%s': expected an absolute path", h->control);
	if (user) {
		gid_t gid;

		r = lookup_user(user, &dm->run_uid, &gid);
		if (r < 0)
			return usage("--user '%s': no such user", user);
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
	return 1;
}

/* ---- the held set, from the running prlockd ---------------------------------- */

/*
 * One "held" request on prlockd's control socket, its reply line in *ret (NUL-terminated).
 * -ENOENT/-ECONNREFUSED: no prlockd listens there. Bounded by HELPER_HELD_TIMEOUT_MS in all.
 */
static int held_request(const char *path, char **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline = mono_ms() + HELPER_HELD_TIMEOUT_MS;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0, sent = 0;
	static const char req[] = "held\n";

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a full backlog answers EAGAIN at once on a unix socket: try again until the deadline */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = sent < sizeof(req) - 1 ? POLLOUT : POLLIN};
		uint64_t now = mono_ms();
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (sent < sizeof(req) - 1) {
			n = send(fd, req + sent, sizeof(req) - 1 - sent, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return -errno;
			if (n > 0)
				sent += (size_t)n;
			continue;
		}
		if (len + 4096 > cap) {
			char *nb;

			if (cap >= HELPER_HELD_MAX)
				return -EMSGSIZE;
			nb = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		len += (size_t)n;
		buf[len] = 0;
		if (memchr(buf, '\n', len)) {
			*strchr(buf, '\n') = 0;
			*ret = TAKE_PTR(buf);
			return 0;
		}
	}
}

static int parse_devnum(const char *s, dev_t *ret)
{
	unsigned maj, min;
	int end = 0;

	if (!s || sscanf(s, "%u:%u%n", &maj, &min, &end) != 2 || s[end] || maj > 0xfffu ||
	    min > 0xfffffu)
		return -EBADMSG;
	*ret = makedev(maj, min);
	return 0;
}

static enum entry_state parse_state(const char *s)
{
	static const enum entry_state states[] = {ENTRY_ADOPTING, ENTRY_ACQUIRING};

	for (size_t i = 0; s && i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, entry_state_name(states[i])) == 0)
			return states[i];
	return ENTRY_HELD; /* the snapshot has only held states */
}

/* The reply's held[] as the policy's held set. */
static int held_apply(struct daemon *dm, const struct jv *v, char *err, size_t errlen)
{
	const struct jv *held = jv_get(v, "held");
	_cleanup_free_ struct prh_held_desc *d = NULL;
	_cleanup_free_ dev_t *nums = NULL;
	size_t n_nums = 0;
	int r;

	if (!jv_bool(v, "ok")) {
		snprintf(err, errlen, "prlockd refused the request: %s",
			 jv_str(v, "message") ?: "no message");
		return -EPROTO;
	}
	if (!held || held->t != JV_ARRAY) {
		snprintf(err, errlen, "prlockd's reply has no held list (an older prlockd?)");
		return -EPROTO;
	}
	d = calloc(held->n + 1, sizeof(*d));
	nums = calloc(held->n * HELPER_HELD_DEVNUMS_MAX + 1, sizeof(*nums));
	if (!d || !nums)
		return -ENOMEM;
	for (size_t i = 0; i < held->n; i++) {
		const struct jv *e = &held->items[i], *dn = jv_get(e, "devnums");
		const struct jv *lun = jv_get(e, "lun_id");

		if (e->t != JV_OBJECT || !jv_str(e, "device") || !dn || dn->t != JV_ARRAY ||
		    dn->n > HELPER_HELD_DEVNUMS_MAX ||
		    (lun && lun->t != JV_STRING && lun->t != JV_NULL)) {
			snprintf(err, errlen, "prlockd's held list: malformed entry %zu", i);
			return -EBADMSG;
		}
		d[i] = (struct prh_held_desc){
			.dev = jv_str(e, "device"),
			.lun_id = lun && lun->t == JV_STRING ? lun->s : NULL,
			.rdevs = nums + n_nums,
			.n_rdevs = dn->n,
			.state = parse_state(jv_str(e, "state")),
		};
		for (size_t k = 0; k < dn->n; k++) {
			r = parse_devnum(dn->items[k].t == JV_STRING ? dn->items[k].s : NULL,
					 &nums[n_nums++]);
			if (r < 0) {
				snprintf(err, errlen,
					 "prlockd's held list: bad device number in %s", d[i].dev);
				return r;
			}
		}
	}
	return prh_held_publish(dm, d, held->n);
}

/* Learn the held set; 0 with it published, or -errno with err set. */
static int held_refresh(struct helper *h, char *err, size_t errlen)
{
	_cleanup_free_ char *line = NULL;
	struct jv v = {};
	int r;

	r = held_request(h->control, &line);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return prh_held_publish(&h->dm, NULL, 0); /* no prlockd: nothing held */
	if (r < 0) {
		snprintf(err, errlen, "no answer from prlockd on %s: %s", h->control,
			 r == -ETIMEDOUT ? "timed out" : strerror(-r));
		return r;
	}
	r = jv_parse(line, &v);
	if (r < 0) {
		snprintf(err, errlen, "prlockd's reply on %s is not JSON", h->control);
		return r;
	}
	r = held_apply(&h->dm, &v, err, errlen);
	jv_clear(&v);
	return r;
}

/*
 * The policy hook: PR OUT asks prlockd first, then prh.c's policy decides (the same function
 * as in prlockd's own pr-helper socket).
 */
static int helper_policy(void *userdata, const struct prh_request_info *info, struct prh_verdict *v)
{
	struct helper *h = userdata;
	char err[sizeof(v->reason) - 40] = ""; /* fits in the reason with its prefix */
	int r = 0;

	pthread_mutex_lock(&h->query_lock);
	if (info->req->kind == PRH_REQ_PROUT)
		r = held_refresh(h, err, sizeof(err));
	if (r < 0) {
		snprintf(v->reason, sizeof(v->reason), "cannot learn this host's leases (%s)", err);
		r = -EPERM;
	} else {
		r = prh_policy_check(&h->dm, info, v);
	}
	pthread_mutex_unlock(&h->query_lock);
	return r;
}

static void helper_log(void *userdata, int priority, const char *msg)
{
	(void)userdata;
	log_msg(priority, "%s", msg);
}

/* ---- the process ---------------------------------------------------------------- */

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd, n, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

/* Remove the pidfile only while it names this process (a restarted helper may own it). */
static void remove_pidfile(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0 && atoi(buf) == (int)getpid())
		unlink(path);
}

int pr_helper_main(int argc, char **argv)
{
	struct helper h = {
		.dm = {.pr_socket = HELPER_SOCKET_DEFAULT,
		       .prh_fd = -1,
		       .listen_fd = -1,
		       .signal_fd = -1,
		       .lock_fd = -1,
		       .state_fd = -1,
		       .pool_fd = -1,
		       .reserve_fd = -1},
		.control = PRLOCKD_CONTROL_DEFAULT,
	};
	struct prh_server_opts o = {
		.policy = helper_policy,
		.policy_userdata = &h,
		.log_fn = helper_log,
	};
	sigset_t mask;
	int r, sig;

	pthread_mutex_init(&h.dm.held_lock, NULL);
	pthread_mutex_init(&h.query_lock, NULL);
	r = parse_argv(argc, argv, &h);
	if (r <= 0)
		return r == 0 ? 0 : 1; /* qemu-pr-helper's exit code for a usage error */
	/* no loss action here: keep CAP_SYS_RAWIO only (privs.c keeps CAP_KILL for "kill") */
	h.dm.hook = "";
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		log_msg(LOG_ERR, "Failed to block signals: %m");
		return 1;
	}
	r = prh_open_socket(&h.dm); /* the path, or fd 3 from systemd */
	if (r < 0)
		return 1;
	r = drop_privileges(&h.dm);
	if (r < 0) {
		if (!h.dm.prh_activated)
			unlink(h.dm.pr_socket);
		return 1;
	}
	r = prh_server_start(h.dm.prh_fd, &o, &h.dm.prh);
	h.dm.prh_fd = -1; /* the server owns it, also on failure */
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to start the pr-helper server: %s", strerror(-r));
		if (!h.dm.prh_activated)
			unlink(h.dm.pr_socket);
		return 1;
	}
	if (h.pidfile) {
		r = write_pidfile(h.pidfile);
		if (r < 0) {
			log_msg(LOG_ERR, "Failed to write the pidfile %s: %s", h.pidfile,
				strerror(-r));
			prh_stop(&h.dm);
			return 1;
		}
	}
	log_msg(LOG_INFO, HELPER_NAME " started: socket %s, leases of prlockd on %s",
		h.dm.prh_activated ? "fd 3 from systemd" : h.dm.pr_socket, h.control);
	do {
		r = sigwait(&mask, &sig);
	} while (r == EINTR);
	log_msg(LOG_INFO, HELPER_NAME " exiting on signal %d", sig);
	prh_stop(&h.dm); /* requests in flight get their replies; removes the socket */
	if (h.pidfile)
		remove_pidfile(h.pidfile);
	return 0;
}
