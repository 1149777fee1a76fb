/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device handles: transport selection, the retry policy shared by every
 * command (UNIT ATTENTION, BUSY, transport loss) and the re-establishment of
 * our own registration after a reconnect.
 */
#include <stdio.h>
#include <time.h>

#include "sgpr-private.h"

static uint64_t real_now_ms(void *userdata)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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
	*ret = d;
	return 0;
}

struct sgpr_dev *sgpr_dev_free(struct sgpr_dev *d)
{
	if (!d)
		return NULL;
	if (d->ops && d->ops->close)
		d->ops->close(d);
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

static int execute_cmd(struct sgpr_dev *d, const struct sgpr_cmd *cmd, struct sgpr_status *reterr)
{
	struct sgpr_status st = {};
	unsigned attempts = 0, uas = 0, busy = 0, reconnects = 0;
	int r;

	for (;;) {
		memset(&st, 0, sizeof(st));
		st.attempts = ++attempts;
		r = d->ops->execute(d, cmd, &st);
		if (r == -ENOTCONN && d->ops->reconnect && !d->in_recovery &&
		    reconnects < SGPR_RECONNECT_ATTEMPTS) {
			reconnects++;
			r = reconnect_and_recover(d);
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

	if (!d || !d->ops || !d->ops->execute || !cdb || cdb_len < 6 || cdb_len > 16)
		return -EINVAL;
	if ((dir == SGPR_DIR_NONE) != (data_len == 0) || (data_len && !data))
		return -EINVAL;
	return execute_cmd(d, &cmd, reterr);
}
