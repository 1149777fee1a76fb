/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * prlockd's pr-manager-helper socket (issue 5): the socket (a path of ours, or fd 3 from
 * systemd), the server of prh-server.c on it, and the policy that keeps guest PR OUT off the
 * LUNs this host holds a lease on (docs/prlockd.md, "QEMU pr-manager socket").
 *
 * The policy hook runs on the server's connection threads; the lease table belongs to the main
 * thread. The main thread therefore publishes a snapshot of the devices under a lease (their
 * LUN ids and device numbers) after every loop iteration in which it changed, under
 * dm->held_lock; the hook only reads that snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "prh-guard.h"
#include "json.h"
#include "prh-server.h"
#include "prlockd.h"

#define LISTEN_FDS_START 3

struct held_dev {
	char *dev;    /* the lease's device, as the client named it */
	char *lun_id; /* NULL: not known (device not opened yet) */
	dev_t *rdevs; /* the device and, for a multipath map, its paths */
	size_t n_rdevs;
	enum entry_state state;
};

static void held_free(struct held_dev *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].dev);
		free(h[i].lun_id);
		free(h[i].rdevs);
	}
	free(h);
}

static bool held_state(enum entry_state s)
{
	/* the host holds the LUN, or is about to (re-adoption, first acquire) */
	return s == ENTRY_HELD || s == ENTRY_ADOPTING || s == ENTRY_ACQUIRING;
}

static int rdev_add(dev_t **v, size_t *n, dev_t d)
{
	dev_t *p;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == d)
			return 0;
	p = realloc(*v, (*n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	p[(*n)++] = d;
	*v = p;
	return 0;
}

static void rdev_add_path(dev_t **v, size_t *n, const char *path)
{
	struct stat st;

	if (path && path[0] == '/' && stat(path, &st) == 0 &&
	    (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)))
		rdev_add(v, n, st.st_rdev);
}

/* What the main thread learnt of one entry's device; by serial: a re-added entry is new. */
struct prh_ident {
	uint64_t serial;
	char *lun_id;
	dev_t *rdevs;
	size_t n_rdevs;
	bool rdevs_done, lun_done, seen;
};

static struct prh_ident *ident_get(struct daemon *dm, uint64_t serial)
{
	struct prh_ident *n;

	for (size_t i = 0; i < dm->n_idents; i++)
		if (dm->idents[i].serial == serial)
			return &dm->idents[i];
	n = realloc(dm->idents, (dm->n_idents + 1) * sizeof(*n));
	if (!n)
		return NULL;
	dm->idents = n;
	n[dm->n_idents] = (struct prh_ident){.serial = serial};
	return &n[dm->n_idents++];
}

/* Forget the identities of entries the table no longer has. */
static void idents_prune(struct daemon *dm)
{
	size_t n = 0;

	for (size_t i = 0; i < dm->n_idents; i++) {
		struct prh_ident *id = &dm->idents[i];

		if (id->seen) {
			id->seen = false;
			dm->idents[n++] = *id;
			continue;
		}
		free(id->lun_id);
		free(id->rdevs);
	}
	dm->n_idents = n;
}

/*
 * Main thread: learn the identity of an entry (LUN id, device numbers) once its device is open
 * and no worker uses it; the identity of a device does not change while it is open.
 */
static void entry_identify(struct prh_ident *id, const struct table_info *e)
{
	id->seen = true;
	/*
	 * The device string is stat()ed as prlockd only for root's leases: a member's string may
	 * be a link it swaps, which would put another LUN under the policy. A member's lease is
	 * known by the device it opened (names from sysfs, below).
	 */
	if (!id->rdevs_done) {
		if (e->owner == 0)
			rdev_add_path(&id->rdevs, &id->n_rdevs, e->dev);
		id->rdevs_done = true;
	}
	if (!e->d || id->lun_done) /* e->d is NULL while a job runs */
		return;
	if (sgpr_dev_lun_id(e->d) && !id->lun_id)
		id->lun_id = strdup(sgpr_dev_lun_id(e->d));
	rdev_add_path(&id->rdevs, &id->n_rdevs, sgpr_dev_target(e->d));
	for (int i = 0; i < sgpr_dev_path_count(e->d); i++)
		rdev_add_path(&id->rdevs, &id->n_rdevs, sgpr_dev_path_name(e->d, (unsigned)i));
	id->lun_done = true;
}

static bool held_same(const struct held_dev *a, size_t na, const struct held_dev *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i].dev, b[i].dev) != 0 || a[i].state != b[i].state ||
		    a[i].n_rdevs != b[i].n_rdevs || !a[i].lun_id != !b[i].lun_id ||
		    (a[i].lun_id && strcmp(a[i].lun_id, b[i].lun_id) != 0) ||
		    (a[i].n_rdevs &&
		     memcmp(a[i].rdevs, b[i].rdevs, a[i].n_rdevs * sizeof(dev_t)) != 0))
			return false;
	}
	return true;
}

void prh_policy_refresh(struct daemon *dm)
{
	struct held_dev *h = NULL;
	size_t n = 0;

	/* kept without a socket too: the "held" request (prlockd-pr-helper) reads it */
	for (size_t i = 0; i < table_count(dm->table); i++) {
		struct prh_ident *id;
		struct table_info e;

		table_info(dm->table, i, &e);
		id = ident_get(dm, e.serial);
		if (id)
			entry_identify(id, &e);
		if (!held_state(e.state))
			continue;
		struct held_dev *nh = realloc(h, (n + 1) * sizeof(*h));

		if (!nh) {
			held_free(h, n);
			idents_prune(dm);
			return; /* the old snapshot stays */
		}
		h = nh;
		h[n] = (struct held_dev){.dev = strdup(e.dev), .state = e.state};
		if (id && id->lun_id)
			h[n].lun_id = strdup(id->lun_id);
		if (id && id->n_rdevs) {
			h[n].rdevs = malloc(id->n_rdevs * sizeof(dev_t));
			if (h[n].rdevs) {
				memcpy(h[n].rdevs, id->rdevs, id->n_rdevs * sizeof(dev_t));
				h[n].n_rdevs = id->n_rdevs;
			}
		}
		n++;
	}
	idents_prune(dm);
	if (held_same(h, n, dm->held, dm->n_held)) {
		held_free(h, n);
		return;
	}
	pthread_mutex_lock(&dm->held_lock);
	struct held_dev *old = dm->held;
	size_t n_old = dm->n_held;

	dm->held = h;
	dm->n_held = n;
	pthread_mutex_unlock(&dm->held_lock);
	held_free(old, n_old);
}

static const char *state_word(enum entry_state s)
{
	switch (s) {
	case ENTRY_HELD:
		return "held";
	case ENTRY_ADOPTING:
		return "being re-adopted";
	case ENTRY_ACQUIRING:
		return "being acquired";
	default:
		return "?";
	}
}

/*
 * The policy (docs/prlockd.md): PR IN always passes. PR OUT on a LUN under a lease of this
 * prlockd is refused without looking at the device, with CHECK CONDITION ILLEGAL REQUEST /
 * INVALID COMMAND OPERATION CODE (05/20/00), the answer qemu-pr-helper gives to a PR OUT it may
 * not send: the guest shares the host's I_T nexus, its REGISTER would replace the lease key, its
 * RELEASE or CLEAR would drop the host's reservation. The LUN is recognised by device number
 * (the device or one of a multipath map's paths) or by LUN id, never by name. Any other PR OUT
 * goes through the guard of prh-guard.c, which reads the LUN's keys and refuses what would
 * touch another host's sgpr lease.
 */
static int policy(void *userdata, const struct prh_request_info *info, struct prh_verdict *v)
{
	struct daemon *dm = userdata;
	const char *lun = info->dev ? sgpr_dev_lun_id(info->dev) : NULL;
	int r = 0;

	if (info->req->kind != PRH_REQ_PROUT)
		return 0;
	pthread_mutex_lock(&dm->held_lock);
	for (size_t i = 0; i < dm->n_held && !r; i++) {
		const struct held_dev *h = &dm->held[i];
		bool match = lun && h->lun_id && strcmp(lun, h->lun_id) == 0;

		for (size_t k = 0; k < h->n_rdevs && !match; k++)
			match = h->rdevs[k] == info->rdev;
		if (!match)
			continue;
		snprintf(v->reason, sizeof(v->reason),
			 "LUN %s is under this host's lease on %s (%s); guest PR OUT would change "
			 "its registrations",
			 h->lun_id ?: lun ?: "?", h->dev, state_word(h->state));
		r = -EPERM;
	}
	pthread_mutex_unlock(&dm->held_lock);
	if (r < 0 || !info->dev)
		return r;
	/* not ours: the LUN may still be another host's (prh-guard.c) */
	struct prh_guard_ctx g = {.ns = dm->ns, .host_id = dm->cfg.host_id};

	return prh_guard_check(info->dev, &g, info->req, v);
}

static void prh_log(void *userdata, int priority, const char *msg)
{
	(void)userdata;
	log_msg(priority, "%s", msg);
}

/* LISTEN_PID/LISTEN_FDS (sd_listen_fds(3) without libsystemd): 1 and fd 3, or 0 (none). */
static int listen_fds(int *ret_fd)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long p, n;
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);

	if (!pid || !fds)
		return 0;
	p = strtol(pid, &end, 10);
	if (*end || p != (long)getpid())
		return 0;
	n = strtol(fds, &end, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end || n < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (n > 1) {
		log_msg(LOG_ERR,
			"systemd passed %ld sockets; prlockd takes one (fd 3, the "
			"pr-helper socket)",
			n);
		return -EINVAL;
	}
	if (getsockopt(LISTEN_FDS_START, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM ||
	    getsockname(LISTEN_FDS_START, (struct sockaddr *)&sa, &salen) < 0 ||
	    sa.ss_family != AF_UNIX) {
		log_msg(LOG_ERR, "fd 3 from systemd is not a unix stream socket");
		return -ENOTSOCK;
	}
	len = sizeof(listening);
	if (getsockopt(LISTEN_FDS_START, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
	    !listening) {
		log_msg(LOG_ERR, "fd 3 from systemd is not a listening socket");
		return -EINVAL;
	}
	fcntl(LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
	*ret_fd = LISTEN_FDS_START;
	return 1;
}

int prh_open_socket(struct daemon *dm)
{
	int r, fd = -1;

	r = listen_fds(&fd);
	if (r < 0)
		return r;
	if (r > 0) {
		if (dm->pr_socket_given && dm->pr_socket) {
			log_msg(LOG_ERR,
				"--pr-socket %s given, but systemd passed the socket "
				"(fd 3); use one or the other",
				dm->pr_socket);
			close(fd);
			return -EINVAL;
		}
		if (dm->pr_socket_mode_given || dm->pr_socket_has_gid) {
			log_msg(LOG_ERR,
				"--pr-socket-mode/--pr-socket-group given, but systemd "
				"passed the socket (fd 3); set SocketMode=/SocketGroup= there");
			close(fd);
			return -EINVAL;
		}
		dm->prh_fd = fd;
		dm->prh_activated = true;
		return 0;
	}
	if (!dm->pr_socket)
		return 0;
	r = mkdir_parents_of(dm->pr_socket);
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to create the directory of %s: %s", dm->pr_socket,
			strerror(-r));
		return r;
	}
	/* a live socket there belongs to another daemon (prlockd, qemu-pr-helper): keep it */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (strlen(dm->pr_socket) < sizeof(sa.sun_path))
			strcpy(sa.sun_path, dm->pr_socket);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			log_msg(LOG_ERR, "Another daemon listens on %s (--pr-socket)",
				dm->pr_socket);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
	}
	/*
	 * The group through the effective gid at bind() (the inode is created with it), as the
	 * mode through the umask: no chown() of a path someone may have replaced meanwhile.
	 */
	gid_t egid = getegid();

	if (dm->pr_socket_has_gid && setegid(dm->pr_socket_gid) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to create %s with group %u: %s", dm->pr_socket,
			(unsigned)dm->pr_socket_gid, strerror(-r));
		return r;
	}
	r = prh_listen(dm->pr_socket, dm->pr_socket_mode ?: PRLOCKD_PR_SOCKET_MODE, &fd);
	if (dm->pr_socket_has_gid && setegid(egid) < 0) {
		r = -errno;
		log_msg(LOG_ERR, "Failed to restore the group after creating %s: %s", dm->pr_socket,
			strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to listen on %s: %s", dm->pr_socket, strerror(-r));
		return r;
	}
	dm->prh_fd = fd;
	return 0;
}

int prh_start(struct daemon *dm)
{
	struct prh_server_opts o = {
		/* 0 (not in sgpr.conf): the server's defaults */
		.max_connections = dm->cfg.pr_max_connections,
		.max_per_uid = dm->cfg.pr_max_per_uid,
		.max_per_pid = dm->cfg.pr_max_per_pid,
		.handshake_timeout_ms = dm->cfg.pr_deadline_ms,
		.policy = policy,
		.policy_userdata = dm,
		.log_fn = prh_log,
	};
	int r;

	if (dm->prh_fd < 0)
		return 0;
	r = prh_server_start(dm->prh_fd, &o, &dm->prh);
	dm->prh_fd = -1; /* the server owns it, also on failure */
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to start the pr-helper server: %s", strerror(-r));
		return r;
	}
	return 0;
}

void prh_stop(struct daemon *dm)
{
	if (dm->prh) {
		prh_server_stop(dm->prh); /* requests in flight get their replies */
		dm->prh = prh_server_free(dm->prh);
		if (dm->pr_socket && !dm->prh_activated)
			unlink(dm->pr_socket); /* may fail after a --user drop; the next start
						  replaces it */
	}
	held_free(dm->held, dm->n_held);
	dm->held = NULL;
	dm->n_held = 0;
	for (size_t i = 0; i < dm->n_idents; i++)
		dm->idents[i].seen = false;
	idents_prune(dm);
	free(dm->idents);
	dm->idents = NULL;
}

/* The policy itself, for prlockd-pr-helper (pr-helper.c): one copy for both servers. */
int prh_policy_check(void *userdata, const struct prh_request_info *info, struct prh_verdict *v)
{
	return policy(userdata, info, v);
}

/* The "held" control request: the snapshot the policy uses (docs/prlockd.md). */
void prh_held_json(struct daemon *dm, struct json *j)
{
	json_array_begin(j);
	pthread_mutex_lock(&dm->held_lock);
	for (size_t i = 0; i < dm->n_held; i++) {
		const struct held_dev *h = &dm->held[i];
		char num[32];

		json_object_begin(j);
		json_key(j, "device");
		json_string(j, h->dev);
		json_key(j, "state");
		json_string(j, entry_state_name(h->state));
		json_key(j, "lun_id");
		if (h->lun_id)
			json_string(j, h->lun_id);
		else
			json_null(j);
		json_key(j, "devnums");
		json_array_begin(j);
		for (size_t k = 0; k < h->n_rdevs; k++) {
			snprintf(num, sizeof(num), "%u:%u", major(h->rdevs[k]), minor(h->rdevs[k]));
			json_string(j, num);
		}
		json_array_end(j);
		json_object_end(j);
	}
	pthread_mutex_unlock(&dm->held_lock);
	json_array_end(j);
}

int prh_held_publish(struct daemon *dm, const struct prh_held_desc *d, size_t n)
{
	struct held_dev *h = n ? calloc(n, sizeof(*h)) : NULL;
	struct held_dev *old;
	size_t n_old;

	if (n && !h)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		h[i].dev = strdup(d[i].dev);
		h[i].lun_id = d[i].lun_id ? strdup(d[i].lun_id) : NULL;
		h[i].state = d[i].state;
		h[i].rdevs = d[i].n_rdevs ? malloc(d[i].n_rdevs * sizeof(dev_t)) : NULL;
		if (!h[i].dev || (d[i].lun_id && !h[i].lun_id) || (d[i].n_rdevs && !h[i].rdevs)) {
			held_free(h, i + 1);
			return -ENOMEM;
		}
		if (d[i].n_rdevs)
			memcpy(h[i].rdevs, d[i].rdevs, d[i].n_rdevs * sizeof(dev_t));
		h[i].n_rdevs = d[i].n_rdevs;
	}
	pthread_mutex_lock(&dm->held_lock);
	old = dm->held;
	n_old = dm->n_held;
	dm->held = h;
	dm->n_held = n;
	pthread_mutex_unlock(&dm->held_lock);
	held_free(old, n_old);
	return 0;
}
