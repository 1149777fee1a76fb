/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device layer: handles, transport selection, the paths of a handle, and
 * the retry policy shared by every command (UNIT ATTENTION, BUSY, transport
 * loss and a new login). It sits between the PR commands (pr.c, above) and
 * the transports (transport-*.c, below) and calls only downward: it knows
 * nothing of registrations. When a path loses its session and logs in again,
 * sgpr_dev_exec() returns SGPR_EXEC_RELOGGED to its caller, which
 * re-establishes our registration (pr.c) and calls again to resend.
 *
 * Paths: a handle may drive several I_T nexuses of one LUN (the /dev/sdX
 * paths of a dm-multipath map). The transport reports them at open; every
 * command names its path to the transport's execute(). A command that is not
 * a REGISTER goes to the current path; when it fails there at the transport
 * level (the path, not the target: -ENOTCONN, -ENODEV, -ECOMM, ... with no
 * status), the path is marked failed and the command is sent on the next
 * working path. Failed paths are skipped while another path works; when every
 * path has failed, they are all tried again, and one that answers is working
 * again. A timed-out command (-ETIMEDOUT) marks its path failed but is not
 * resent: it may still run on the target, and a PR OUT run twice on two
 * nexuses is not idempotent. REGISTER fan-out to every working path lives in
 * pr.c.
 *
 * Opening also names the LUN (VPD page 0x83, or what the transport knew
 * without a command), on every path of a multipath handle: paths that lead to
 * different LUNs are refused.
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <sys/stat.h>

#include "sgpr-private.h"

static uint64_t real_now_ms(void *userdata)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void real_sleep_ms(void *userdata, unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const struct sgpr_clock real_clock = {
	.now_ms = real_now_ms,
	.sleep_ms = real_sleep_ms,
};

const struct sgpr_clock *sgpr_clock_default(void)
{
	return &real_clock;
}

static int dev_new(const struct sgpr_transport_ops *ops, const char *target,
		   const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	struct sgpr_dev *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ops = ops;
	r = sgpr_opts_copy(&d->opts, sizeof(d->opts), opts);
	if (r == 0 && d->opts.clock)
		r = sgpr_check_zero(d->opts.clock->reserved, sizeof(d->opts.clock->reserved));
	if (r < 0) {
		free(d);
		return r;
	}
	d->target = strdup(target ? target : "");
	d->initiator = d->opts.initiator ? strdup(d->opts.initiator) : NULL;
	if (!d->target || (d->opts.initiator && !d->initiator)) {
		free(d->target);
		free(d->initiator);
		free(d);
		return -ENOMEM;
	}
	d->opts.initiator = d->initiator;
	if (!d->opts.timeout_ms)
		d->opts.timeout_ms = SGPR_DEFAULT_TIMEOUT_MS;
	if (!d->opts.ua_retries)
		d->opts.ua_retries = SGPR_DEFAULT_UA_RETRIES;
	if (!d->opts.busy_retries)
		d->opts.busy_retries = SGPR_DEFAULT_BUSY_RETRIES;
	if (!d->opts.connect_timeout_ms)
		d->opts.connect_timeout_ms = SGPR_DEFAULT_CONNECT_TIMEOUT_MS;
	if (!d->opts.clock)
		d->opts.clock = sgpr_clock_default();
	*ret = d;
	return 0;
}

struct sgpr_dev *sgpr_dev_free(struct sgpr_dev *d)
{
	if (!d)
		return NULL;
	if (d->ops && d->ops->close)
		d->ops->close(d);
	for (unsigned i = 0; i < d->npaths; i++)
		free(d->paths[i].name);
	free(d->paths);
	free(d->lun_id);
	free(d->target);
	free(d->initiator);
	free(d);
	return NULL;
}

const char *sgpr_dev_transport_name(const struct sgpr_dev *d)
{
	return d && d->ops ? d->ops->name : NULL;
}

const char *sgpr_dev_target(const struct sgpr_dev *d)
{
	return d ? d->target : NULL;
}

void sgpr_dev_get_stats(const struct sgpr_dev *d, struct sgpr_dev_stats *ret)
{
	if (d && ret)
		*ret = d->stats;
}

/* ---- paths ------------------------------------------------------------ */

static int add_path(struct sgpr_dev *d, const char *name, void *tp)
{
	struct sgpr_path *v;
	char *copy;

	if (d->npaths >= SGPR_PATHS_MAX)
		return -E2BIG;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	v = realloc(d->paths, (d->npaths + 1) * sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	d->paths = v;
	v[d->npaths++] = (struct sgpr_path){.name = copy, .tp = tp};
	return 0;
}

int sgpr_dev_select_path(struct sgpr_dev *d, unsigned i)
{
	if (d->npaths <= 1)
		return i == 0 ? 0 : -EINVAL;
	if (i >= d->npaths)
		return -EINVAL;
	d->path = i;
	return 0;
}

static void mark_path(struct sgpr_dev *d, unsigned i, int error)
{
	if (i >= d->npaths)
		return;
	if (error && !d->paths[i].error)
		sgpr_log(d, LOG_WARNING, "%s: path %s failed: %s", d->target, d->paths[i].name,
			 strerror(-error));
	else if (!error && d->paths[i].error)
		sgpr_log(d, LOG_INFO, "%s: path %s is working again", d->target, d->paths[i].name);
	d->paths[i].error = error;
}

unsigned sgpr_dev_working_paths(const struct sgpr_dev *d)
{
	unsigned n = 0;

	if (!d->npaths)
		return 1;
	for (unsigned i = 0; i < d->npaths; i++)
		n += !d->paths[i].error;
	return n;
}

bool sgpr_path_failure(int r, const struct sgpr_status *st)
{
	/* no status and unreachable (errclass.c); -EPERM, -ENOMEM, ...: not the path's fault */
	return r < 0 && !st->answered && sgpr_err_kind(r) == SGPR_ERR_UNREACHABLE;
}

/* ---- one command -------------------------------------------------------- */

/* Backoff before resending after BUSY/TASK SET FULL/NOT READY: 50 ms doubling, at most 1 s. */
static unsigned busy_backoff_ms(unsigned attempt)
{
	unsigned ms = 50u << (attempt < 5 ? attempt : 5);

	return ms > 1000 ? 1000 : ms;
}

/*
 * One command on path (NULL: the one nexus), with the UA/BUSY retries and the
 * new login. A new login returns SGPR_EXEC_RELOGGED with the retry counts
 * kept in ex; the caller's next call resumes here, resending unless the
 * caller put an error in ex->after_login.
 */
static int execute_on_path(struct sgpr_dev *d, const struct sgpr_path *path,
			   const struct sgpr_cmd *cmd, struct sgpr_exec *ex,
			   struct sgpr_status *reterr)
{
	struct sgpr_status *st = &ex->st;
	int r;

	if (ex->relogged) {
		ex->relogged = false;
		r = ex->after_login;
		if (r < 0)
			goto out;
	} else {
		ex->attempts = ex->uas = ex->busy = ex->reconnects = 0;
		memset(st, 0, sizeof(*st));
	}
	for (;;) {
		memset(st, 0, sizeof(*st));
		st->attempts = ++ex->attempts;
		r = d->ops->execute(d, path, cmd, st);
		if (r == -ENOTCONN && d->ops->reconnect && !ex->no_reconnect &&
		    ex->reconnects < SGPR_RECONNECT_ATTEMPTS) {
			ex->reconnects++;
			r = d->ops->reconnect(d, path);
			if (r < 0)
				break;
			d->stats.reconnects++;
			/* the caller recovers what the login may have lost, then calls again */
			ex->relogged = true;
			return SGPR_EXEC_RELOGGED;
		}
		if (r < 0)
			break;
		if (st->answered && st->sense_len && !st->sense_valid)
			sgpr_status_decode_sense(st);

		switch (sgpr_status_disposition(st)) {
		case SGPR_DISP_RETRY_UA:
			/* SAM-5 5.14: the command was not executed; the UA is now cleared. */
			d->stats.last_ua_asc = st->asc;
			d->stats.last_ua_ascq = st->ascq;
			if (ex->uas++ < d->opts.ua_retries) {
				d->stats.unit_attentions++;
				continue;
			}
			break;
		case SGPR_DISP_RETRY_BUSY:
			if (ex->busy < d->opts.busy_retries) {
				d->opts.clock->sleep_ms(d->opts.clock->userdata,
							busy_backoff_ms(ex->busy));
				ex->busy++;
				continue;
			}
			break;
		case SGPR_DISP_DONE:
			break;
		}
		r = sgpr_status_to_errno(st);
		break;
	}
out:
	if (reterr)
		*reterr = *st;
	return r;
}

/* The command on path i; marks the path failed or working (not before it completed). */
static int execute_on(struct sgpr_dev *d, unsigned i, const struct sgpr_cmd *cmd,
		      struct sgpr_exec *ex, struct sgpr_status *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	r = sgpr_dev_select_path(d, i);
	if (r < 0) {
		mark_path(d, i, r);
		return r;
	}
	r = execute_on_path(d, &d->paths[i], cmd, ex, st);
	if (r == SGPR_EXEC_RELOGGED)
		return r;
	mark_path(d, i, sgpr_path_failure(r, st) ? r : 0);
	return r;
}

/*
 * Walk the paths: pass 0 the working ones from the current one on, pass 1 the failed ones. The
 * walk lives in ex, so that a call after SGPR_EXEC_RELOGGED resumes it on the same path.
 */
static int execute_cmd(struct sgpr_dev *d, const struct sgpr_cmd *cmd, struct sgpr_exec *ex,
		       struct sgpr_status *reterr)
{
	struct sgpr_status st = {};
	int r = -ENOTCONN;

	if (!d->npaths)
		return execute_on_path(d, NULL, cmd, ex, reterr);
	if (!ex->walking) {
		ex->walking = true;
		ex->start = d->path;
		ex->pass = 0;
		ex->k = 0;
		ex->tried = 0;
	}
	for (; ex->pass < 2; ex->pass++, ex->k = 0)
		for (; ex->k < d->npaths; ex->k++) {
			unsigned i = (ex->start + ex->k) % d->npaths;

			/* a resumed path goes on, even if the recovery marked it failed */
			if (!ex->relogged &&
			    ((ex->tried & (1ull << i)) || (ex->pass == 0 && d->paths[i].error)))
				continue;
			r = execute_on(d, i, cmd, ex, &st);
			if (r == SGPR_EXEC_RELOGGED)
				return r;
			ex->tried |= 1ull << i;
			if (!sgpr_path_failure(r, &st) || r == -ETIMEDOUT)
				goto out;
		}
out:
	if (reterr)
		*reterr = st;
	return r;
}

int sgpr_dev_cmd(const struct sgpr_dev *d, const uint8_t *cdb, size_t cdb_len, enum sgpr_dir dir,
		 void *data, size_t data_len, struct sgpr_cmd *ret)
{
	if (!d || !d->ops || !d->ops->execute || !cdb || cdb_len < 6 || cdb_len > 16)
		return -EINVAL;
	if ((dir == SGPR_DIR_NONE) != (data_len == 0) || (data_len && !data))
		return -EINVAL;
	*ret = (struct sgpr_cmd){
		.cdb = cdb,
		.cdb_len = cdb_len,
		.dir = dir,
		.data = data,
		.data_len = data_len,
		.timeout_ms = d->opts.timeout_ms,
	};
	return 0;
}

int sgpr_dev_exec(struct sgpr_dev *d, const struct sgpr_cmd *cmd, struct sgpr_exec *ex,
		  struct sgpr_status *reterr)
{
	return execute_cmd(d, cmd, ex, reterr);
}

int sgpr_dev_exec_path(struct sgpr_dev *d, unsigned i, const struct sgpr_cmd *cmd,
		       struct sgpr_exec *ex, struct sgpr_status *reterr)
{
	struct sgpr_status st;
	int r;

	if (!d->npaths)
		return i == 0 ? execute_on_path(d, NULL, cmd, ex, reterr) : -EINVAL;
	if (i >= d->npaths)
		return -EINVAL;
	r = execute_on(d, i, cmd, ex, &st);
	if (reterr)
		*reterr = st;
	return r;
}

/* ---- open ------------------------------------------------------------- */

/*
 * A command of the open itself on path i: nothing of ours is registered on a
 * handle being opened, so after a new login it is simply resent.
 */
static int open_exec(struct sgpr_dev *d, unsigned i, const struct sgpr_cmd *cmd,
		     struct sgpr_status *st)
{
	struct sgpr_exec ex = {};
	int r;

	do
		r = sgpr_dev_exec_path(d, i, cmd, &ex, st);
	while (r == SGPR_EXEC_RELOGGED);
	return r;
}

/* Read page 0x83 on path i and name the LUN (vpd.c); -errno of the command otherwise. */
static int read_lun_id(struct sgpr_dev *d, unsigned i, char *buf, size_t buflen)
{
	size_t alloc = SGPR_VPD_ALLOC_FIRST;
	struct sgpr_status st;
	uint8_t *page = NULL;
	int r;

	for (int pass = 0; pass < 2; pass++) {
		/* SPC-4 6.6.1: INQUIRY with EVPD, ALLOCATION LENGTH in bytes 3..4 */
		uint8_t cdb[6] = {0x12, 0x01, 0x83};
		struct sgpr_cmd cmd;
		size_t got, want;

		sgpr_put_be16(cdb + 3, (uint16_t)alloc);
		free(page);
		page = calloc(1, alloc);
		if (!page)
			return -ENOMEM;
		r = sgpr_dev_cmd(d, cdb, sizeof(cdb), SGPR_DIR_IN, page, alloc, &cmd);
		if (r == 0)
			r = open_exec(d, i, &cmd, &st);
		if (r < 0)
			break;
		got = st.resid <= alloc ? alloc - st.resid : 0;
		want = got >= 4 ? 4 + (size_t)sgpr_get_be16(page + 2) : 0;
		if (want > got && got == alloc && pass == 0 && want <= SGPR_VPD_ALLOC_MAX) {
			alloc = want;
			continue;
		}
		r = sgpr_vpd83_lun_id(page, got, buf, buflen);
		break;
	}
	free(page);
	return r;
}

/*
 * A one-nexus handle (iscsi://) is named from VPD page 0x83 (SPC-4 7.8.6), so the same LUN
 * reached by URL and by /dev/sdX has one identity (host-local locks, the pr-helper policy).
 * A LUN without a usable designator stays unnamed: not an error.
 */
static void name_lun(struct sgpr_dev *d)
{
	char id[SGPR_LUN_ID_MAX];
	int r = read_lun_id(d, 0, id, sizeof(id));

	if (r < 0) {
		sgpr_log(d, LOG_DEBUG, "%s: no LUN name from VPD page 0x83: %s", d->target,
			 strerror(-r));
		return;
	}
	d->lun_id = strdup(id); /* NULL on ENOMEM: unnamed, as above */
}

/*
 * Name the LUN on every working path of a handle with paths: what the transport knew without a
 * command, else page 0x83, else the transport's fallback name. Different names: -EXDEV.
 */
static int identify(struct sgpr_dev *d, const struct sgpr_opened *o)
{
	char first[SGPR_LUN_ID_MAX] = "", id[SGPR_LUN_ID_MAX];
	unsigned first_path = 0;

	for (unsigned i = 0; i < o->npaths; i++) {
		const struct sgpr_opened_path *op = &o->paths[i];
		int r;

		if (d->paths[i].error)
			continue;
		if (op->lun_id) {
			snprintf(id, sizeof(id), "%s", op->lun_id);
		} else {
			r = read_lun_id(d, i, id, sizeof(id));
			if (r < 0) {
				sgpr_log(d, LOG_DEBUG,
					 "%s: no LUN name from VPD page 0x83 on %s: %s", d->target,
					 d->paths[i].name, strerror(-r));
				if (d->paths[i].error || !op->lun_serial)
					continue;
				snprintf(id, sizeof(id), "%s", op->lun_serial);
			}
		}
		if (!first[0]) {
			snprintf(first, sizeof(first), "%s", id);
			first_path = i;
		} else if (strcmp(first, id) != 0) {
			sgpr_log(d, LOG_ERR, "%s: paths lead to different LUNs: %s is %s, %s is %s",
				 d->target, d->paths[first_path].name, first, d->paths[i].name, id);
			return -EXDEV;
		}
	}
	if (first[0]) {
		d->lun_id = strdup(first);
		if (!d->lun_id)
			return -ENOMEM;
	}
	return 0;
}

static void opened_done(struct sgpr_opened *o)
{
	for (unsigned i = 0; i < o->npaths; i++) {
		free(o->paths[i].name);
		free(o->paths[i].lun_id);
		free(o->paths[i].lun_serial);
	}
	free(o->paths);
	free(o->target);
	*o = (struct sgpr_opened){};
}

/* Take what the transport's open found: the paths, the LUN's name, the first working path. */
static int take_opened(struct sgpr_dev *d, struct sgpr_opened *o)
{
	int r, first_err = 0;

	if (o->target) {
		free(d->target);
		d->target = o->target;
		o->target = NULL;
	}
	for (unsigned i = 0; i < o->npaths; i++) {
		r = add_path(d, o->paths[i].name, o->paths[i].tp);
		if (r < 0)
			return r;
		if (o->paths[i].error) {
			if (!first_err)
				first_err = o->paths[i].error;
			mark_path(d, i, o->paths[i].error);
		}
	}
	if (o->name_lun && o->npaths) {
		r = identify(d, o);
		if (r < 0)
			return r;
	} else if (o->name_lun) {
		name_lun(d);
	}
	if (o->npaths && !sgpr_dev_working_paths(d)) {
		/* no path could be opened or answered INQUIRY */
		r = first_err;
		for (unsigned i = 0; i < d->npaths && !r; i++)
			r = d->paths[i].error;
		return r ? r : -ECOMM;
	}
	/* start on the first working path */
	for (unsigned i = 0; i < d->npaths; i++)
		if (!d->paths[i].error) {
			sgpr_dev_select_path(d, i);
			break;
		}
	return 0;
}

/* After ops->open or ops->open_fd returned r: take its paths, or undo. */
static int finish_open(struct sgpr_dev *d, int r, struct sgpr_opened *o, struct sgpr_dev **ret)
{
	if (r < 0) {
		opened_done(o);
		d->ops = NULL; /* open failed: nothing for close() to release */
		sgpr_dev_free(d);
		return r;
	}
	r = take_opened(d, o);
	opened_done(o);
	if (r < 0) {
		sgpr_dev_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

int sgpr_dev_open_ops(const struct sgpr_transport_ops *ops, const char *target, const void *arg,
		      const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	struct sgpr_opened o = {};
	struct sgpr_dev *d;
	int r;

	r = dev_new(ops, target, opts, &d);
	if (r < 0)
		return r;
	r = ops->open(d, target, arg, &o);
	return finish_open(d, r, &o, ret);
}

static const struct sgpr_transport_ops *transport_for(const char *target)
{
	if (strncmp(target, "iscsi://", 8) == 0)
		return &sgpr_transport_iscsi;
	if (target[0] == '/')
		return &sgpr_transport_sgio;
	return NULL;
}

int sgpr_dev_open(const char *target, const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	const struct sgpr_transport_ops *ops;

	if (!target || !ret)
		return -EINVAL;
	ops = transport_for(target);
	if (!ops)
		return -EINVAL;
	return sgpr_dev_open_ops(ops, target, NULL, opts, ret);
}

int sgpr_dev_open_fd(int fd, const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	const struct sgpr_transport_ops *ops = &sgpr_transport_sgio;
	struct sgpr_opened o = {};
	char name[32];
	struct sgpr_dev *d;
	struct stat st;
	int r, fl;

	if (!ret)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (fl & O_PATH)
		return -EBADF; /* no ioctl() on it */
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		return -ENOTTY; /* as sgpr_dev_open() says of a regular file */
	if (!ops->open_fd)
		return -EPROTONOSUPPORT;
	/* the transport names the handle after the /dev node when it finds it */
	snprintf(name, sizeof(name), "fd:%d", fd);
	r = dev_new(ops, name, opts, &d);
	if (r < 0)
		return r;
	r = ops->open_fd(d, fd, S_ISCHR(st.st_mode), st.st_rdev, &o);
	return finish_open(d, r, &o, ret);
}

int sgpr_dev_path_count(const struct sgpr_dev *d)
{
	if (!d)
		return -EINVAL;
	return d->npaths ? (int)d->npaths : 1;
}

const char *sgpr_dev_path_name(const struct sgpr_dev *d, unsigned i)
{
	if (!d)
		return NULL;
	if (!d->npaths)
		return i == 0 ? d->target : NULL;
	return i < d->npaths ? d->paths[i].name : NULL;
}

bool sgpr_dev_path_failed(const struct sgpr_dev *d, unsigned i)
{
	return d && i < d->npaths && d->paths[i].error;
}

int sgpr_dev_path_error(const struct sgpr_dev *d, unsigned i)
{
	return d && i < d->npaths ? d->paths[i].error : 0;
}

const char *sgpr_dev_lun_id(const struct sgpr_dev *d)
{
	return d ? d->lun_id : NULL;
}

/* Drop path i: its transport state closed, the later paths moved down, a current path kept. */
static void drop_path(struct sgpr_dev *d, unsigned i)
{
	if (d->ops->drop_path)
		d->ops->drop_path(d, d->paths[i].tp);
	free(d->paths[i].name);
	memmove(&d->paths[i], &d->paths[i + 1], (d->npaths - i - 1) * sizeof(d->paths[0]));
	d->npaths--;
	if (d->path > i || d->path >= d->npaths)
		d->path = d->path > 0 ? d->path - 1 : 0;
}

/* A path new to a map leads to its LUN: page 0x83 (or udev's name) equals the handle's. */
static int check_new_path(struct sgpr_dev *d, unsigned i, const struct sgpr_opened_path *op)
{
	char id[SGPR_LUN_ID_MAX];
	int r;

	if (op->error)
		return 0; /* cannot be opened now: failed, as at open; adopt tries it again */
	if (op->lun_id) {
		snprintf(id, sizeof(id), "%s", op->lun_id);
	} else {
		r = read_lun_id(d, i, id, sizeof(id));
		if (r < 0 && op->lun_serial)
			snprintf(id, sizeof(id), "%s", op->lun_serial);
		else if (r < 0)
			return d->lun_id ? r : 0;
	}
	if (d->lun_id && strcmp(d->lun_id, id) != 0) {
		sgpr_log(d, LOG_ERR, "%s: new path %s leads to another LUN (%s, not %s): not used",
			 d->target, d->paths[i].name, id, d->lun_id);
		return -EXDEV;
	}
	return 0;
}

/* Take the paths a refresh or add_path opened, each checked; how many were added. */
static unsigned take_new_paths(struct sgpr_dev *d, const struct sgpr_opened *o, const char *how)
{
	unsigned old = d->npaths;

	for (unsigned k = 0; k < o->npaths; k++) {
		if (add_path(d, o->paths[k].name, o->paths[k].tp) < 0) {
			if (d->ops->drop_path)
				d->ops->drop_path(d, o->paths[k].tp);
			continue;
		}
		mark_path(d, d->npaths - 1, o->paths[k].error);
		if (check_new_path(d, d->npaths - 1, &o->paths[k]) < 0) {
			drop_path(d, d->npaths - 1);
			continue;
		}
		sgpr_log(d, LOG_INFO, "%s: path %s %s", d->target, d->paths[d->npaths - 1].name,
			 how);
	}
	return d->npaths - old;
}

int sgpr_dev_add_path(struct sgpr_dev *d, const char *node)
{
	struct sgpr_opened o = {};
	unsigned added;
	int r;

	if (!d || !node)
		return -EINVAL;
	if (!d->ops->add_path || !d->npaths)
		return -EOPNOTSUPP;
	r = d->ops->add_path(d, node, &o);
	if (r == 1 && o.npaths == 1) {
		/* a path of ours whose disk was removed and added again: the same path, reopened */
		for (unsigned i = 0; i < d->npaths; i++) {
			if (d->paths[i].tp != o.paths[0].tp)
				continue;
			d->paths[i].error = 0;
			mark_path(d, i, o.paths[0].error);
			r = check_new_path(d, i, &o.paths[0]);
			if (r < 0)
				drop_path(d, i);
			else
				sgpr_log(d, LOG_INFO,
					 "%s: path %s reopened (its disk was added again)",
					 d->target, d->paths[i].name);
			opened_done(&o);
			return r < 0 ? -EXDEV : 0;
		}
		r = -ENOENT; /* a slot without a path: cannot happen */
	}
	if (r < 0) {
		for (unsigned k = 0; k < o.npaths; k++)
			if (d->ops->drop_path)
				d->ops->drop_path(d, o.paths[k].tp);
		opened_done(&o);
		return r;
	}
	added = take_new_paths(d, &o, "added (same LUN, not in the map yet)");
	opened_done(&o);
	return added ? 0 : -EXDEV;
}

int sgpr_dev_refresh_paths(struct sgpr_dev *d, unsigned *ret_added, unsigned *ret_removed)
{
	struct sgpr_opened o = {};
	bool gone[SGPR_PATHS_MAX] = {};
	unsigned added = 0, removed = 0;
	int r;

	if (!d)
		return -EINVAL;
	if (!d->ops->refresh || !d->npaths)
		return -EOPNOTSUPP;
	r = d->ops->refresh(d, gone, &o);
	if (r < 0) {
		for (unsigned k = 0; k < o.npaths; k++)
			if (d->ops->drop_path)
				d->ops->drop_path(d, o.paths[k].tp);
		opened_done(&o);
		return r;
	}
	for (unsigned i = d->npaths; i-- > 0;)
		if (gone[i] && d->npaths == 1 && !o.npaths) {
			mark_path(d, i, -ENODEV); /* a handle keeps one path: failed, not dropped */
		} else if (gone[i]) {
			sgpr_log(d, LOG_INFO, "%s: path %s left the map", d->target,
				 d->paths[i].name);
			drop_path(d, i);
			removed++;
		}
	added = take_new_paths(d, &o, "joined the map");
	opened_done(&o);
	if (ret_added)
		*ret_added = added;
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}
