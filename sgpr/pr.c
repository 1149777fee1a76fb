/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PR layer: persistent reservation commands on a device, above the device
 * layer (dev.c) and below the lease (lease.c). PR OUT with capability memory
 * and our registration bookkeeping (d->pr), REGISTER to every path, APTPL, PR
 * IN with re-reads of truncated lists, the PREEMPT AND ABORT fallback and the
 * adoption of our own key.
 *
 * Every command of a handle goes through run() here, sgpr_dev_execute()'s
 * included: when the device layer reports a new login (SGPR_EXEC_RELOGGED),
 * run() re-establishes our registration (recover_registration()) before the
 * device layer resends the command, so the command finds the nexus as it left
 * it. The recovery's own commands run with d->pr.in_recovery set: no nested
 * new login, no tracking of their REGISTERs.
 */
#include "sgpr-private.h"

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
	uint64_t key = d->pr.registered ? d->pr.registered_key : 0;
	int r;

	r = sgpr_read_keys(d, &keys, NULL);
	if (r < 0)
		return r;
	/* A REGISTER in flight may have taken effect before the loss: its key is ours too. */
	if ((!key || !key_listed(keys, key)) && d->pr.pending_key &&
	    key_listed(keys, d->pr.pending_key))
		key = d->pr.pending_key;
	/* a parking key (sgpr_park) is listed when anyone parked: it never proves it is ours */
	if (key && sgpr_key_split(key).host_id == 0 &&
	    sgpr_key_split(key).epoch == SGPR_EPOCH_PARKING)
		key = 0;
	if (!key || !key_listed(keys, key)) {
		free(keys);
		if (d->pr.registered)
			sgpr_log(d, LOG_WARNING,
				 "%s: key 0x%llx no longer registered after reconnect, not "
				 "re-registering",
				 d->target, (unsigned long long)d->pr.registered_key);
		d->pr.registered = false;
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

/* After a new login: our registration again, if we had one or one was in flight. */
static int relogged(struct sgpr_dev *d)
{
	int r = 0;

	if (d->pr.registered || d->pr.pending_key) {
		d->pr.in_recovery = true;
		r = recover_registration(d);
		d->pr.in_recovery = false;
	}
	return r;
}

/*
 * One command through the device layer, on path (< 0: the handle's choice of
 * path), with our registration re-established after each new login.
 */
static int run(struct sgpr_dev *d, int path, const struct sgpr_cmd *cmd, struct sgpr_status *reterr)
{
	struct sgpr_exec ex = {.no_reconnect = d->pr.in_recovery};
	int r;

	for (;;) {
		if (path < 0)
			r = sgpr_dev_exec(d, cmd, &ex, reterr);
		else
			r = sgpr_dev_exec_path(d, (unsigned)path, cmd, &ex, reterr);
		if (r != SGPR_EXEC_RELOGGED)
			return r;
		ex.after_login = relogged(d);
	}
}

int sgpr_dev_execute(struct sgpr_dev *d, const uint8_t *cdb, size_t cdb_len, enum sgpr_dir dir,
		     void *data, size_t data_len, struct sgpr_status *reterr)
{
	struct sgpr_cmd cmd;
	int r;

	r = sgpr_dev_cmd(d, cdb, cdb_len, dir, data, data_len, &cmd);
	if (r < 0)
		return r;
	return run(d, -1, &cmd, reterr);
}

int sgpr_dev_execute_path(struct sgpr_dev *d, unsigned i, const uint8_t *cdb, size_t cdb_len,
			  enum sgpr_dir dir, void *data, size_t data_len,
			  struct sgpr_status *reterr)
{
	struct sgpr_cmd cmd;
	int r;

	r = sgpr_dev_cmd(d, cdb, cdb_len, dir, data, data_len, &cmd);
	if (r < 0)
		return r;
	return run(d, (int)i, &cmd, reterr);
}

/* SPC-4 6.15.1: the PR IN ALLOCATION LENGTH field is 16 bits. */
#define PRIN_ALLOC_MAX 0xffffu
#define PRIN_ALLOC_FIRST 1024u

bool sgpr_dev_prout_unsupported(const struct sgpr_dev *d, enum sgpr_prout_sa sa)
{
	return d && (unsigned)sa < _SGPR_PROUT_SA_MAX && (d->pr.prout_unsupported & (1u << sa));
}

bool sgpr_dev_prin_unsupported(const struct sgpr_dev *d, enum sgpr_prin_sa sa)
{
	return d && (unsigned)sa < _SGPR_PRIN_SA_MAX && (d->pr.prin_unsupported & (1u << sa));
}

static void note_registration(struct sgpr_dev *d, const struct sgpr_prout_params *p)
{
	switch (p->sa) {
	case SGPR_PROUT_REGISTER:
	case SGPR_PROUT_REGISTER_AND_IGNORE:
		d->pr.registered = p->sa_key != 0;
		d->pr.registered_key = p->sa_key;
		break;
	case SGPR_PROUT_CLEAR:
		d->pr.registered = false; /* SPC-4 5.12.11.6: every registration is removed */
		break;
	case SGPR_PROUT_REGISTER_AND_MOVE:
		if (p->unreg)
			d->pr.registered = false;
		break;
	default:
		break;
	}
}

/* ILLEGAL REQUEST 20/00 or 24/00: the opcode or service action itself is refused (SPC-4 4.5.6). */
static bool service_action_refused(const struct sgpr_status *st)
{
	return st->answered && st->sense_valid && st->sense_key == 0x05 &&
	       (st->asc == 0x20 || st->asc == 0x24) && st->ascq == 0;
}

static bool is_register(enum sgpr_prout_sa sa)
{
	return sa == SGPR_PROUT_REGISTER || sa == SGPR_PROUT_REGISTER_AND_IGNORE;
}

/*
 * One PR OUT on path (or, path < 0, on the working path of the handle). A key
 * change whose answer is lost may be recovered under the new key (dev.c): when
 * a reconnect happened since the caller's snapshot reconnects and the REGISTER
 * is answered with RESERVATION CONFLICT, it ran before the connection was
 * lost, so its resend could only conflict: recovery found the new key and
 * adopted it, or, for an unregister, found the key gone. The change is done.
 */
static int prout_exec(struct sgpr_dev *d, int path, const struct sgpr_prout_params *p, bool track,
		      unsigned reconnects, const uint8_t *cdb, uint8_t *param, int len,
		      struct sgpr_status *st)
{
	enum sgpr_dir dir = len ? SGPR_DIR_OUT : SGPR_DIR_NONE;
	int r;

	if (path < 0)
		r = sgpr_dev_execute(d, cdb, SGPR_PROUT_CDB_LEN, dir, len ? param : NULL,
				     (size_t)len, st);
	else
		r = sgpr_dev_execute_path(d, (unsigned)path, cdb, SGPR_PROUT_CDB_LEN, dir,
					  len ? param : NULL, (size_t)len, st);
	if (track && r == -EBADE && d->stats.reconnects != reconnects &&
	    (p->sa_key ? d->pr.registered && d->pr.registered_key == p->sa_key : !d->pr.registered))
		r = 0;
	return r;
}

/*
 * REGISTER on every path: the working ones, or all of them with all_paths (and
 * when none works). A path that fails at the transport level is marked failed
 * and does not fail the call while another path took the registration; a SCSI
 * error on any path (RESERVATION CONFLICT, ...) is the result. *ret_any: some
 * path took it.
 */
static int prout_every_path(struct sgpr_dev *d, const struct sgpr_prout_params *p, bool all_paths,
			    bool track, const uint8_t *cdb, uint8_t *param, int len,
			    struct sgpr_status *ret_st, bool *ret_any)
{
	struct sgpr_status st, ok_st = {}, err_st = {}, lost_st = {};
	unsigned reconnects = d->stats.reconnects, start = d->path;
	int err = 0, lost = -ENOTCONN;
	bool any = false;

	all_paths = all_paths || !sgpr_dev_working_paths(d);
	for (unsigned i = 0; i < d->npaths; i++) {
		int r;

		if (!all_paths && d->paths[i].error)
			continue;
		r = prout_exec(d, (int)i, p, track, reconnects, cdb, param, len, &st);
		if (r == 0) {
			if (!any)
				ok_st = st;
			any = true;
		} else if (sgpr_path_failure(r, &st)) {
			lost = r;
			lost_st = st;
		} else if (!err) {
			err = r;
			err_st = st;
		}
	}
	/* back to the path single-path commands used, or the first working one */
	if (start < d->npaths && !d->paths[start].error) {
		sgpr_dev_select_path(d, start);
	} else {
		for (unsigned i = 0; i < d->npaths; i++)
			if (!d->paths[i].error) {
				sgpr_dev_select_path(d, i);
				break;
			}
	}
	*ret_any = any;
	if (err) {
		*ret_st = err_st;
		return err;
	}
	*ret_st = any ? ok_st : lost_st;
	return any ? 0 : lost;
}

/*
 * Every REGISTER of ours sets APTPL where the logical unit can persist (PTPL_C,
 * SPC-4 6.15.4): the APTPL bit of the last REGISTER applies to the whole LU
 * (5.12.5), and without it a target restart drops the reservation and with it
 * the fence of a preempted host (its write lands on a LUN nobody reserves).
 * Asked once per handle, before its first REGISTER; a LU that refuses the bit
 * (ILLEGAL REQUEST, 6.16.3) is registered without it from then on.
 */
static bool want_aptpl(struct sgpr_dev *d)
{
	struct sgpr_caps caps;
	int r;

	if (!d->pr.aptpl && !d->pr.in_recovery) {
		r = sgpr_report_caps(d, &caps, NULL);
		if (r == 0)
			d->pr.aptpl = caps.ptpl_c ? 1 : -1;
		else if (r == -EOPNOTSUPP)
			d->pr.aptpl = -1; /* no REPORT CAPABILITIES: nothing says it can persist */
		/* else not answered: asked again before the next REGISTER */
	}
	return d->pr.aptpl > 0;
}

static int prout_once(struct sgpr_dev *d, const struct sgpr_prout_params *p, bool all_paths,
		      struct sgpr_status *reterr);

static int prout_run(struct sgpr_dev *d, const struct sgpr_prout_params *p, bool all_paths,
		     struct sgpr_status *reterr)
{
	struct sgpr_prout_params q;
	struct sgpr_status st = {};
	int r;

	if (!d || !p || !is_register(p->sa) || p->aptpl || !want_aptpl(d))
		return prout_once(d, p, all_paths, reterr);
	q = *p;
	q.aptpl = true;
	r = prout_once(d, &q, all_paths, &st);
	if (r < 0 && st.answered && st.sense_valid && st.sense_key == 0x05) {
		sgpr_log(d, LOG_WARNING,
			 "%s: REGISTER with APTPL refused (%02x/%02x), registering "
			 "without it: a target restart will lose the reservation",
			 d->target, st.asc, st.ascq);
		d->pr.aptpl = -1;
		return prout_once(d, p, all_paths, reterr);
	}
	if (reterr)
		*reterr = st;
	return r;
}

static int prout_once(struct sgpr_dev *d, const struct sgpr_prout_params *p, bool all_paths,
		      struct sgpr_status *reterr)
{
	uint8_t cdb[SGPR_PROUT_CDB_LEN];
	struct sgpr_status st = {};
	uint8_t *param;
	bool track, any;
	int len, r;

	if (!d || !p || (unsigned)p->sa >= _SGPR_PROUT_SA_MAX)
		return -EINVAL;
	if (sgpr_dev_prout_unsupported(d, p->sa))
		return -EOPNOTSUPP;
	param = calloc(1, SGPR_PROUT_PARAM_MAX);
	if (!param)
		return -ENOMEM;
	len = sgpr_prout_encode(p, cdb, param, SGPR_PROUT_PARAM_MAX);
	if (len < 0) {
		free(param);
		return len;
	}
	track = !d->pr.in_recovery && is_register(p->sa);
	if (track)
		d->pr.pending_key = p->sa_key;
	if (is_register(p->sa) && d->npaths > 1) {
		/* a registration belongs to one I_T nexus: every path gets its own */
		r = prout_every_path(d, p, all_paths, track, cdb, param, len, &st, &any);
	} else {
		r = prout_exec(d, -1, p, track, d->stats.reconnects, cdb, param, len, &st);
		any = r == 0;
	}
	free(param);
	if (track)
		d->pr.pending_key = 0;
	if (reterr)
		*reterr = st;
	if (r == -EOPNOTSUPP && !p->spec_i_pt && !p->all_tg_pt && !p->aptpl &&
	    service_action_refused(&st) &&
	    (p->sa == SGPR_PROUT_PREEMPT_AND_ABORT || p->sa == SGPR_PROUT_REGISTER_AND_MOVE))
		/* The service action itself is missing (tgt: 24/00), not one of its fields. */
		d->pr.prout_unsupported |= 1u << p->sa;
	/* a REGISTER that some paths took: the key is ours there, even if another path refused */
	if (any)
		note_registration(d, p);
	return r;
}

int sgpr_prout(struct sgpr_dev *d, const struct sgpr_prout_params *p, struct sgpr_status *reterr)
{
	return prout_run(d, p, false, reterr);
}

/* Read one PR IN service action; returns the bytes received in *ret_buf (caller frees). */
static int prin_read(struct sgpr_dev *d, enum sgpr_prin_sa sa, uint16_t alloc, uint8_t **ret_buf,
		     size_t *ret_len, struct sgpr_status *reterr)
{
	uint8_t cdb[SGPR_PRIN_CDB_LEN];
	struct sgpr_status st;
	uint8_t *buf;
	int r;

	if (sgpr_dev_prin_unsupported(d, sa))
		return -EOPNOTSUPP;
	buf = calloc(1, alloc);
	if (!buf)
		return -ENOMEM;
	sgpr_prin_encode(sa, alloc, cdb);
	r = sgpr_dev_execute(d, cdb, sizeof(cdb), SGPR_DIR_IN, buf, alloc, &st);
	if (reterr)
		*reterr = st;
	if (r < 0) {
		if (r == -EOPNOTSUPP)
			d->pr.prin_unsupported |= 1u << sa;
		free(buf);
		return r;
	}
	*ret_buf = buf;
	*ret_len = st.resid <= alloc ? alloc - st.resid : 0;
	return 0;
}

/*
 * Read a variable-length PR IN list: start with PRIN_ALLOC_FIRST and read
 * again with the announced length when the target had more to say
 * (SPC-4 6.15.2: the list is truncated to the allocation length).
 */
static int prin_read_list(struct sgpr_dev *d, enum sgpr_prin_sa sa, void **ret,
			  struct sgpr_status *reterr)
{
	size_t alloc = PRIN_ALLOC_FIRST;

	for (int pass = 0; pass < 3; pass++) {
		size_t len, needed = 0;
		uint8_t *buf;
		int r;

		r = prin_read(d, sa, (uint16_t)alloc, &buf, &len, reterr);
		if (r < 0)
			return r;
		if (sa == SGPR_PRIN_READ_KEYS)
			r = sgpr_parse_read_keys(buf, len, (struct sgpr_keys **)ret, &needed);
		else
			r = sgpr_parse_full_status(buf, len, (struct sgpr_full_status **)ret,
						   &needed);
		free(buf);
		if (r != -ENOBUFS)
			return r;
		if (needed > PRIN_ALLOC_MAX)
			return -EOVERFLOW; /* more than a 16-bit allocation length can carry */
		if (needed <= alloc && len >= alloc)
			return -EBADMSG; /* asks for what it was already given */
		alloc = needed > alloc ? needed : PRIN_ALLOC_MAX;
	}
	return -EBADMSG; /* the list keeps growing between reads */
}

int sgpr_read_keys(struct sgpr_dev *d, struct sgpr_keys **ret, struct sgpr_status *reterr)
{
	if (!d || !ret)
		return -EINVAL;
	return prin_read_list(d, SGPR_PRIN_READ_KEYS, (void **)ret, reterr);
}

int sgpr_read_full_status(struct sgpr_dev *d, struct sgpr_full_status **ret,
			  struct sgpr_status *reterr)
{
	if (!d || !ret)
		return -EINVAL;
	return prin_read_list(d, SGPR_PRIN_READ_FULL_STATUS, (void **)ret, reterr);
}

int sgpr_read_reservation(struct sgpr_dev *d, struct sgpr_reservation *ret,
			  struct sgpr_status *reterr)
{
	uint8_t *buf;
	size_t len;
	int r;

	if (!d || !ret)
		return -EINVAL;
	/* 8 header + 16 descriptor (SPC-4 6.15.3.2); ask for more to see oversize answers. */
	r = prin_read(d, SGPR_PRIN_READ_RESERVATION, 64, &buf, &len, reterr);
	if (r < 0)
		return r;
	r = sgpr_parse_read_reservation(buf, len, ret);
	free(buf);
	return r;
}

int sgpr_report_caps(struct sgpr_dev *d, struct sgpr_caps *ret, struct sgpr_status *reterr)
{
	uint8_t *buf;
	size_t len;
	int r;

	if (!d || !ret)
		return -EINVAL;
	r = prin_read(d, SGPR_PRIN_REPORT_CAPABILITIES, 64, &buf, &len, reterr);
	if (r < 0)
		return r;
	r = sgpr_parse_report_caps(buf, len, ret);
	free(buf);
	return r;
}

int sgpr_register(struct sgpr_dev *d, uint64_t old_key, uint64_t new_key, bool ignore,
		  struct sgpr_status *reterr)
{
	struct sgpr_prout_params p = {
		.sa = ignore ? SGPR_PROUT_REGISTER_AND_IGNORE : SGPR_PROUT_REGISTER,
		.key = ignore ? 0 : old_key,
		.sa_key = new_key,
	};

	return sgpr_prout(d, &p, reterr);
}

int sgpr_reserve(struct sgpr_dev *d, uint64_t key, int type, struct sgpr_status *reterr)
{
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_RESERVE, .type = type, .key = key};

	return sgpr_prout(d, &p, reterr);
}

int sgpr_release(struct sgpr_dev *d, uint64_t key, int type, struct sgpr_status *reterr)
{
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_RELEASE, .type = type, .key = key};

	return sgpr_prout(d, &p, reterr);
}

int sgpr_clear(struct sgpr_dev *d, uint64_t key, struct sgpr_status *reterr)
{
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_CLEAR, .key = key};

	return sgpr_prout(d, &p, reterr);
}

int sgpr_preempt(struct sgpr_dev *d, uint64_t key, uint64_t victim, int type, bool abort,
		 bool *ret_aborted, struct sgpr_status *reterr)
{
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_PREEMPT_AND_ABORT,
		.type = type,
		.key = key,
		.sa_key = victim,
	};
	int r = -EOPNOTSUPP;

	if (!d)
		return -EINVAL;
	if (abort && !sgpr_dev_prout_unsupported(d, SGPR_PROUT_PREEMPT_AND_ABORT)) {
		r = sgpr_prout(d, &p, reterr);
		if (!sgpr_dev_prout_unsupported(d, SGPR_PROUT_PREEMPT_AND_ABORT)) {
			if (r == 0 && ret_aborted)
				*ret_aborted = true;
			return r;
		}
		/* SPC-4 5.12.11.4.4 is optional; tgt answers 24/00. Plain PREEMPT still fences. */
	}
	p.sa = SGPR_PROUT_PREEMPT;
	r = sgpr_prout(d, &p, reterr);
	if (r == 0 && ret_aborted)
		*ret_aborted = false;
	return r;
}

static int count_registrations(struct sgpr_dev *d, uint64_t key, unsigned *ret,
			       struct sgpr_status *reterr)
{
	struct sgpr_keys *keys = NULL;
	unsigned n = 0;
	int r;

	r = sgpr_read_keys(d, &keys, reterr);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < keys->count; i++)
		n += keys->keys[i] == key;
	free(keys);
	*ret = n;
	return 0;
}

/* REGISTER AND IGNORE EXISTING KEY with key on every path, failed ones included. */
static int register_every_path(struct sgpr_dev *d, uint64_t key, bool all_paths,
			       struct sgpr_status *reterr)
{
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_REGISTER_AND_IGNORE, .sa_key = key};

	return prout_run(d, &p, all_paths, reterr);
}

int sgpr_unregister_every_path(struct sgpr_dev *d, uint64_t key)
{
	struct sgpr_prout_params p = {.sa = SGPR_PROUT_REGISTER, .key = key};
	int r;

	if (!key)
		p.sa = SGPR_PROUT_REGISTER_AND_IGNORE;
	r = prout_run(d, &p, true, NULL);
	if (r == -EBADE && key)
		r = 0; /* paths that did not carry key (SPC-4 5.12.7: RESERVATION CONFLICT) */

	/* strict: a path that did not answer may still carry a key */
	for (unsigned i = 0; r == 0 && i < d->npaths; i++)
		if (d->paths[i].error)
			r = d->paths[i].error < 0 ? d->paths[i].error : -ENOTCONN;
	return r;
}

int sgpr_adopt_key(struct sgpr_dev *d, uint64_t key, struct sgpr_status *reterr)
{
	struct sgpr_reservation res;
	unsigned n, paths;
	int r;

	if (!d || !key)
		return -EINVAL;
	r = count_registrations(d, key, &n, reterr);
	if (r < 0)
		return r;
	if (!n)
		return -ENOKEY;

	/*
	 * SPC-4 5.12.7: register every path with key whatever it had before. Paths
	 * marked failed are tried too: this is how a path that came back rejoins.
	 */
	r = register_every_path(d, key, true, reterr);
	if (r < 0)
		return r;
	paths = sgpr_dev_working_paths(d);
	r = sgpr_read_reservation(d, &res, reterr);
	if (r < 0)
		return r;
	r = count_registrations(d, key, &n, reterr);
	if (r < 0)
		return r;
	if (n > paths) {
		/*
		 * Stale registrations of key on dead sessions. SPC-4 5.12.11.4.3:
		 * PREEMPT naming the holder's key releases the reservation,
		 * removes the other registrations with that key and reserves for
		 * this nexus with the given type; naming a non-holder key only
		 * removes its registrations. The issuing nexus keeps its own
		 * registration on SPC targets, but the other paths of this handle
		 * lose theirs (and a target may drop the issuer's too): the
		 * REGISTER AND IGNORE below puts them back.
		 */
		bool holder = res.held && res.key == key && !sgpr_type_is_all_registrants(res.type);

		r = sgpr_preempt(d, key, key, res.held ? res.type : SGPR_TYPE_WE, false, NULL,
				 reterr);
		if (r < 0)
			return r;
		r = count_registrations(d, key, &n, reterr);
		if (r < 0)
			return r;
		if (n < paths) {
			if (!n && holder)
				return -EIO; /* the reservation went with it: do not guess */
			r = register_every_path(d, key, false, reterr);
			if (r < 0)
				return r;
			paths = sgpr_dev_working_paths(d);
		}
	}
	/* Confirm: key registered exactly once per working path, and still the holder if it was. */
	r = count_registrations(d, key, &n, reterr);
	if (r < 0)
		return r;
	if (res.held && res.key == key) {
		struct sgpr_reservation now;

		r = sgpr_read_reservation(d, &now, reterr);
		if (r < 0)
			return r;
		if (!now.held || now.key != key)
			return -EIO;
	}
	return n == paths ? 0 : -EIO;
}

int sgpr_dev_probe(struct sgpr_dev *d)
{
	struct sgpr_full_status *fs = NULL;
	struct sgpr_prout_params p = {
		.sa = SGPR_PROUT_PREEMPT_AND_ABORT,
		.type = SGPR_TYPE_WE,
		.sa_key = ~0ull,
	};
	int r;

	if (!d)
		return -EINVAL;
	/* A key this nexus is not registered with: never 0, never ours. */
	p.key = d->pr.registered ? ~d->pr.registered_key : 1;
	if (!p.key)
		p.key = 1;
	r = sgpr_read_full_status(d, &fs, NULL);
	free(fs);
	if (r < 0 && r != -EOPNOTSUPP)
		return r;
	r = sgpr_prout(d, &p, NULL);
	if (r == 0)
		return -EIO; /* a PREEMPT with a key not ours must never succeed */
	if (r == -EBADE || r == -EOPNOTSUPP)
		return 0;
	return r;
}
