/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device handles: transport selection, the retry policy shared by every
 * command (UNIT ATTENTION, BUSY, transport loss), the re-establishment of
 * our own registration after a reconnect, and the choice of a path.
 *
 * Paths: a handle may drive several I_T nexuses of one LUN (the /dev/sdX
 * paths of a dm-multipath map). A command that is not a REGISTER goes to the
 * current path; when it fails there at the transport level (the path, not the
 * target: -ENOTCONN, -ENODEV, -ECOMM, ... with no status), the path is marked
 * failed and the command is sent on the next working path. Failed paths are
 * skipped while another path works; when every path has failed, they are all
 * tried again, and one that answers is working again. A timed-out command
 * (-ETIMEDOUT) marks its path failed but is not resent: it may still run on
 * the target, and a PR OUT run twice on two nexuses is not idempotent.
 * REGISTER fan-out to every working path lives in pr.c.
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

void sgpr_log(struct sgpr_dev *d, int priority, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!d || !d->opts.log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->opts.log_fn(d->opts.log_userdata, priority, msg);
}

int sgpr_dev_new(const struct sgpr_transport_ops *ops, const char *target,
		 const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	struct sgpr_dev *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ops = ops;
	if (opts)
		d->opts = *opts;
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

/*
 * A one-nexus handle (iscsi://) is named from VPD page 0x83 (SPC-4 7.8.6), so the same LUN
 * reached by URL and by /dev/sdX has one identity (host-local locks, the pr-helper policy).
 * A LUN without a usable designator stays unnamed: not an error.
 */
static void name_lun(struct sgpr_dev *d)
{
	char id[SGPR_LUN_ID_MAX];
	int r = sgpr_dev_read_lun_id(d, 0, id, sizeof(id));

	if (r < 0) {
		sgpr_log(d, LOG_DEBUG, "%s: no LUN name from VPD page 0x83: %s", d->target,
			 strerror(-r));
		return;
	}
	d->lun_id = strdup(id); /* NULL on ENOMEM: unnamed, as above */
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
	struct sgpr_dev *d;
	int r;

	if (!target || !ret)
		return -EINVAL;
	ops = transport_for(target);
	if (!ops)
		return -EINVAL;
	r = sgpr_dev_new(ops, target, opts, &d);
	if (r < 0)
		return r;
	r = ops->open(d, target);
	if (r < 0) {
		d->ops = NULL; /* open failed: nothing for close() to release */
		sgpr_dev_free(d);
		return r;
	}
	if (!d->lun_id && !d->npaths)
		name_lun(d);
	*ret = d;
	return 0;
}

int sgpr_dev_open_fd(int fd, const struct sgpr_dev_opts *opts, struct sgpr_dev **ret)
{
	const struct sgpr_transport_ops *ops = &sgpr_transport_sgio;
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
	r = sgpr_dev_new(ops, name, opts, &d);
	if (r < 0)
		return r;
	r = ops->open_fd(d, fd, S_ISCHR(st.st_mode), st.st_rdev);
	if (r < 0) {
		d->ops = NULL; /* open failed: nothing for close() to release */
		sgpr_dev_free(d);
		return r;
	}
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

static bool key_listed(const struct sgpr_keys *keys, uint64_t key)
{
	for (uint32_t i = 0; i < keys->count; i++)
		if (keys->keys[i] == key)
			return true;
	return false;
}

/*
 * After a new login the nexus may have lost its registration (tgt ties it to
 * the session; an SPC target keeps it for the same ISID). Re-establish it only
 * if the key is still registered: a key that is gone was preempted or cleared
 * while we were away, and registering it again would give a fenced host write
 * access back (SPC-4 5.12.11.4). The caller's next command then fails on its
 * own merits.
 */
static int recover_registration(struct sgpr_dev *d)
{
	struct sgpr_keys *keys = NULL;
	uint64_t key = d->registered ? d->registered_key : 0;
	int r;

	r = sgpr_read_keys(d, &keys, NULL);
	if (r < 0)
		return r;
	/* A REGISTER in flight may have taken effect before the loss: its key is ours too. */
	if ((!key || !key_listed(keys, key)) && d->pending_key && key_listed(keys, d->pending_key))
		key = d->pending_key;
	/* a parking key (sgpr_park) is listed when anyone parked: it never proves it is ours */
	if (key && sgpr_key_split(key).host_id == 0 &&
	    sgpr_key_split(key).epoch == SGPR_EPOCH_PARKING)
		key = 0;
	if (!key || !key_listed(keys, key)) {
		free(keys);
		if (d->registered)
			sgpr_log(d, LOG_WARNING,
				 "%s: key 0x%llx no longer registered after reconnect, not "
				 "re-registering",
				 d->target, (unsigned long long)d->registered_key);
		d->registered = false;
		return 0;
	}
	free(keys);
	r = sgpr_adopt_key(d, key, NULL);
	if (r < 0)
		return r;
	d->stats.recoveries++;
	sgpr_log(d, LOG_INFO, "%s: registration 0x%llx re-established after reconnect", d->target,
		 (unsigned long long)key);
	return 0;
}

static int reconnect_and_recover(struct sgpr_dev *d)
{
	int r;

	d->in_recovery = true;
	r = d->ops->reconnect(d);
	if (r >= 0) {
		d->stats.reconnects++;
		if (d->registered || d->pending_key)
			r = recover_registration(d);
	}
	d->in_recovery = false;
	return r;
}

/* Backoff before resending after BUSY/TASK SET FULL/NOT READY: 50 ms doubling, at most 1 s. */
static unsigned busy_backoff_ms(unsigned attempt)
{
	unsigned ms = 50u << (attempt < 5 ? attempt : 5);

	return ms > 1000 ? 1000 : ms;
}

/* One command on the current path, with the UA/BUSY retries and the reconnect. */
static int execute_on_path(struct sgpr_dev *d, const struct sgpr_cmd *cmd,
			   struct sgpr_status *reterr)
{
	struct sgpr_status st = {};
	unsigned attempts = 0, uas = 0, busy = 0, reconnects = 0, path = d->path;
	int r;

	for (;;) {
		memset(&st, 0, sizeof(st));
		st.attempts = ++attempts;
		r = d->ops->execute(d, cmd, &st);
		if (r == -ENOTCONN && d->ops->reconnect && !d->in_recovery &&
		    reconnects < SGPR_RECONNECT_ATTEMPTS) {
			reconnects++;
			r = reconnect_and_recover(d);
			/* the recovery re-registers every path: come back to ours */
			if (d->path != path) {
				int s = sgpr_dev_select_path(d, path);

				if (r >= 0 && s < 0)
					r = s;
			}
			if (r < 0)
				break;
			continue;
		}
		if (r < 0)
			break;
		if (st.answered && st.sense_len && !st.sense_valid)
			sgpr_status_decode_sense(&st);

		switch (sgpr_status_disposition(&st)) {
		case SGPR_DISP_RETRY_UA:
			/* SAM-5 5.14: the command was not executed; the UA is now cleared. */
			d->stats.last_ua_asc = st.asc;
			d->stats.last_ua_ascq = st.ascq;
			if (uas++ < d->opts.ua_retries) {
				d->stats.unit_attentions++;
				continue;
			}
			break;
		case SGPR_DISP_RETRY_BUSY:
			if (busy < d->opts.busy_retries) {
				d->opts.clock->sleep_ms(d->opts.clock->userdata,
							busy_backoff_ms(busy));
				busy++;
				continue;
			}
			break;
		case SGPR_DISP_DONE:
			break;
		}
		r = sgpr_status_to_errno(&st);
		break;
	}
	if (reterr)
		*reterr = st;
	return r;
}

/* ---- paths ------------------------------------------------------------ */

int sgpr_dev_add_path(struct sgpr_dev *d, const char *name)
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
	v[d->npaths++] = (struct sgpr_path){.name = copy};
	return 0;
}

int sgpr_dev_select_path(struct sgpr_dev *d, unsigned i)
{
	if (d->npaths <= 1)
		return i == 0 ? 0 : -EINVAL;
	if (i >= d->npaths)
		return -EINVAL;
	d->path = i;
	return d->ops->set_path ? d->ops->set_path(d, i) : 0;
}

void sgpr_dev_mark_path(struct sgpr_dev *d, unsigned i, int error)
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

/* The command on path i; marks the path failed or working. */
static int execute_on(struct sgpr_dev *d, unsigned i, const struct sgpr_cmd *cmd,
		      struct sgpr_status *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	r = sgpr_dev_select_path(d, i);
	if (r < 0) {
		sgpr_dev_mark_path(d, i, r);
		return r;
	}
	r = execute_on_path(d, cmd, st);
	sgpr_dev_mark_path(d, i, sgpr_path_failure(r, st) ? r : 0);
	return r;
}

static int execute_cmd(struct sgpr_dev *d, const struct sgpr_cmd *cmd, struct sgpr_status *reterr)
{
	struct sgpr_status st = {};
	unsigned start = d->path;
	uint64_t tried = 0;
	int r = -ENOTCONN;

	if (!d->npaths)
		return execute_on_path(d, cmd, reterr);
	/* pass 0: the working paths from the current one on; pass 1: the failed ones */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned k = 0; k < d->npaths; k++) {
			unsigned i = (start + k) % d->npaths;

			if ((tried & (1ull << i)) || (pass == 0 && d->paths[i].error))
				continue;
			tried |= 1ull << i;
			r = execute_on(d, i, cmd, &st);
			if (!sgpr_path_failure(r, &st) || r == -ETIMEDOUT)
				goto out;
		}
out:
	if (reterr)
		*reterr = st;
	return r;
}

static int check_execute_args(struct sgpr_dev *d, const uint8_t *cdb, size_t cdb_len,
			      enum sgpr_dir dir, void *data, size_t data_len)
{
	if (!d || !d->ops || !d->ops->execute || !cdb || cdb_len < 6 || cdb_len > 16)
		return -EINVAL;
	if ((dir == SGPR_DIR_NONE) != (data_len == 0) || (data_len && !data))
		return -EINVAL;
	return 0;
}

int sgpr_dev_execute_path(struct sgpr_dev *d, unsigned i, const uint8_t *cdb, size_t cdb_len,
			  enum sgpr_dir dir, void *data, size_t data_len,
			  struct sgpr_status *reterr)
{
	struct sgpr_cmd cmd = {
		.cdb = cdb,
		.cdb_len = cdb_len,
		.dir = dir,
		.data = data,
		.data_len = data_len,
		.timeout_ms = d ? d->opts.timeout_ms : 0,
	};
	struct sgpr_status st;
	int r;

	r = check_execute_args(d, cdb, cdb_len, dir, data, data_len);
	if (r < 0)
		return r;
	if (!d->npaths)
		return i == 0 ? execute_on_path(d, &cmd, reterr) : -EINVAL;
	if (i >= d->npaths)
		return -EINVAL;
	r = execute_on(d, i, &cmd, &st);
	if (reterr)
		*reterr = st;
	return r;
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

int sgpr_dev_execute(struct sgpr_dev *d, const uint8_t *cdb, size_t cdb_len, enum sgpr_dir dir,
		     void *data, size_t data_len, struct sgpr_status *reterr)
{
	struct sgpr_cmd cmd = {
		.cdb = cdb,
		.cdb_len = cdb_len,
		.dir = dir,
		.data = data,
		.data_len = data_len,
		.timeout_ms = d ? d->opts.timeout_ms : 0,
	};

	int r = check_execute_args(d, cdb, cdb_len, dir, data, data_len);

	if (r < 0)
		return r;
	return execute_cmd(d, &cmd, reterr);
}
